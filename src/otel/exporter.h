/* The trace exporter: sampled requests' trace records (trace.h) go into a
 * bounded queue on the loop's thread (a copy, never a wait), and one
 * thread of its own sends them in batches over OTLP/HTTP (JSON) with
 * libcurl. A slow or absent collector only slows that thread: when the
 * queue is full, records are dropped and counted, never the request.
 *
 * Owner and lifetime: the gateway makes one at start and closes it at the
 * end; close flushes what is queued (within a deadline) and joins the
 * thread. Submit is only ever called from one thread (the loop's). */
#ifndef SL_OTEL_EXPORTER_H
#define SL_OTEL_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "otel/trace.h"

#define SL_OTEL_MAX_HEADERS 8

struct sl_otel_config {
    char endpoint[512]; /* the traces URL: http(s)://host:4318/v1/traces */
    struct {
        char name[64], value[512];
    } headers[SL_OTEL_MAX_HEADERS];
    size_t nheaders;
    double sample;        /* the share of requests traced when the client did not say */
    char service[64];     /* service.name */
    unsigned queue;       /* traces waiting at most (default 2048) */
    unsigned batch;       /* traces per export at most (default 256) */
    unsigned interval_ms; /* an export at least this often when there is any (1000) */
    unsigned timeout_ms;  /* one export's time limit (2000) */
};

struct sl_otel_stats {
    uint64_t traces, spans; /* exported (the collector said 2xx) */
    uint64_t dropped;       /* the queue was full */
    uint64_t failed;        /* traces in exports that failed (no 2xx, or no answer) */
};

struct sl_otel_exporter;

/* Starts the exporter's thread. Returns 0, or -1 with a one-line reason. */
int sl_otel_exporter_new(const struct sl_otel_config *cfg, struct sl_otel_exporter **out, char *err,
                         size_t err_size);
/* Queues a copy of t. 0, or -1 when the queue is full (dropped, counted). */
int sl_otel_submit(struct sl_otel_exporter *e, const struct sl_otel_trace *t);
void sl_otel_stats(struct sl_otel_exporter *e, struct sl_otel_stats *out);
/* Sends what is queued (for at most flush_ms), stops the thread, frees. */
void sl_otel_exporter_close(struct sl_otel_exporter *e, unsigned flush_ms);

#endif
