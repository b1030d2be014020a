/* The gateway's metrics: its counters and their Prometheus text
 * exposition (counters, gauges and fixed-bucket histograms, written into a
 * bounded buffer on scrape). The counters are plain integers on the loop
 * thread, no locks: the gateway calls the observe functions as a request
 * goes, and one render function for GET /metrics. The per-deployment
 * gauges (queue, permits, cool-downs) are read from the router at scrape. */
#ifndef SL_GW_METRICS_H
#define SL_GW_METRICS_H

#include <stdint.h>

#include "core/buf.h"
#include "http/request.h"
#include "gateway/keyring.h"
#include "gateway/router.h"

#define SL_PROM_NBUCKETS 17

/* Latency buckets in seconds, 0.5 ms to 60 s; the last is +Inf. */
extern const double sl_prom_bounds[SL_PROM_NBUCKETS - 1];

struct sl_prom_hist {
    uint64_t buckets[SL_PROM_NBUCKETS]; /* not cumulative; printed cumulative */
    uint64_t count;
    double sum;
};

void sl_prom_observe(struct sl_prom_hist *h, double seconds);

/* Writers. `labels` is the inside of {...} without braces, or "". */
void sl_prom_help(struct sl_buf *out, const char *name, const char *type, const char *help);
void sl_prom_value(struct sl_buf *out, const char *name, const char *labels, double value);
void sl_prom_hist_write(struct sl_buf *out, const char *name, const char *labels,
                        const struct sl_prom_hist *h);
/* The same for any bounds (seconds, ascending; buckets has nbounds + 1,
 * the last +Inf, not cumulative). */
void sl_prom_buckets_write(struct sl_buf *out, const char *name, const char *labels,
                           const double *bounds, size_t nbounds, const uint64_t *buckets,
                           uint64_t count, double sum);

/* Escapes a label value (backslash, quote, newline) into dst. */
void sl_prom_escape(char *dst, size_t size, const char *value);

struct sl_gw_metrics;

/* Counters for every deployment of `router` and every model of `cfg`; both
 * must outlive the metrics. */
int sl_gw_metrics_new(const struct sl_gw_config *cfg, const struct sl_gw_router *router,
                      struct sl_gw_metrics **out);
void sl_gw_metrics_free(struct sl_gw_metrics *m);

/* A response's status, by the deployment that served it (NULL: none). */
void sl_gw_metrics_status(struct sl_gw_metrics *m, const struct sl_gw_dep *dep, int status);
/* An upstream attempt's end: how long it took, how often it was sent
 * again on a fresh connection, and its stages (upstream, relay). */
void sl_gw_metrics_attempt(struct sl_gw_metrics *m, const struct sl_gw_dep *dep,
                           const struct sl_http_result *res);

/* Where a request's time goes inside the gateway, from its own monotonic
 * timestamps (uv_hrtime), one histogram per stage
 * (sluice_stage_seconds{stage=...}, 1 µs to 1 s):
 *   parse      its first byte read -> the gateway's request made (HTTP head
 *              and body read and parsed, the JSON scanned, routes, keys)
 *   admission  -> its first upstream attempt starts (limits, the
 *              deployment's permit, a queue wait)
 *   upstream   an attempt's start -> the request handed to a connected
 *              socket (a kept connection, or a new one's connect; the lean
 *              client's attempts only)
 *   first_byte -> the attempt's first response byte read (the upstream's
 *              time, and the loop's to read it: a wait, not the gateway's
 *              work; lean client only)
 *   relay      an attempt's first response byte -> its end (read and relayed)
 *   respond    the last attempt's end -> finish() (the answer written)
 *   row        finish() -> the row handed to the recorder
 * Plain counters on the loop: no allocation, no lock. */
enum sl_gw_stage {
    SL_GW_STAGE_PARSE,
    SL_GW_STAGE_ADMISSION,
    SL_GW_STAGE_UPSTREAM,
    SL_GW_STAGE_FIRST_BYTE,
    SL_GW_STAGE_RELAY,
    SL_GW_STAGE_RESPOND,
    SL_GW_STAGE_ROW,
    SL_GW_STAGE__COUNT
};
/* Observes to_ns - from_ns; nothing when from_ns is 0 or after to_ns. */
void sl_gw_metrics_stage(struct sl_gw_metrics *m, enum sl_gw_stage stage, uint64_t from_ns,
                         uint64_t to_ns);
void sl_gw_metrics_retry(struct sl_gw_metrics *m, const struct sl_gw_dep *dep);
void sl_gw_metrics_queue_wait(struct sl_gw_metrics *m, const struct sl_gw_dep *dep, double seconds);
void sl_gw_metrics_ttft(struct sl_gw_metrics *m, const struct sl_gw_model *model, double seconds);
void sl_gw_metrics_fallback(struct sl_gw_metrics *m, const struct sl_gw_model *model);
void sl_gw_metrics_cancelled(struct sl_gw_metrics *m);
void sl_gw_metrics_client_gone(struct sl_gw_metrics *m);

/* The exposition, with the keys' refusals (keys may be NULL). `spooled` (the recorder's rows sent
 * to a spool file) is left out when NULL. */
void sl_gw_metrics_render(const struct sl_gw_metrics *m, struct sl_gw_keyring *keys,
                          struct sl_buf *out, uint64_t in_flight, const uint64_t *spooled);

#endif
