/* The exporter's queue and thread (exporter.h). The queue is a ring of
 * trace records under one mutex; the loop's thread copies a record in and
 * signals when a batch is full; the exporter's thread takes up to a batch
 * out (a copy, so the lock is never held over I/O), encodes it
 * (otlp_json.c) and POSTs it with a libcurl easy handle of its own. */
#include "otel/exporter.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "otel/otlp_json.h"

struct sl_otel_exporter {
    struct sl_otel_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    struct sl_otel_trace *ring; /* cfg.queue records */
    size_t head, count;
    int closing;
    int64_t flush_deadline_ns; /* when closing: stop sending after this */
    struct sl_otel_stats stats;
    CURL *curl;
    struct curl_slist *headers;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t discard(char *p, size_t size, size_t n, void *data)
{
    (void)p;
    (void)data;
    return size * n; /* the collector's answer body is not needed */
}

/* One export: 0 when the collector answered 2xx. */
static int post(struct sl_otel_exporter *e, const struct sl_buf *body)
{
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body->ptr);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    if (curl_easy_perform(e->curl) != CURLE_OK)
        return -1;
    long code = 0;
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300 ? 0 : -1;
}

static void *run(void *arg)
{
    struct sl_otel_exporter *e = arg;
    pthread_setname_np(pthread_self(), "sluice-otel"); /* in top and perf */
    struct sl_otel_trace *batch = malloc(sizeof(*batch) * e->cfg.batch);
    struct sl_buf body;
    sl_buf_init(&body, 64u << 20);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->closing && e->count < e->cfg.batch) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += e->cfg.interval_ms / 1000;
            until.tv_nsec += (long)(e->cfg.interval_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait(&e->wake, &e->mu, &until) != 0 && e->count > 0)
                break; /* the interval is over: send what there is */
        }
        if (e->closing && (e->count == 0 || now_ns() > e->flush_deadline_ns))
            break;
        size_t n = 0;
        while (batch && n < e->cfg.batch && e->count > 0) {
            batch[n++] = e->ring[e->head];
            e->head = (e->head + 1) % e->cfg.queue;
            e->count--;
        }
        pthread_mutex_unlock(&e->mu);
        size_t spans = 0;
        int ok = -1;
        if (n > 0) {
            for (size_t i = 0; i < n; i++)
                spans += sl_otlp_span_count(&batch[i]);
            sl_buf_reset(&body);
            if (sl_otlp_json(batch, n, e->cfg.service, &body) == 0)
                ok = post(e, &body);
        }
        pthread_mutex_lock(&e->mu);
        if (ok == 0) {
            e->stats.traces += n;
            e->stats.spans += spans;
        } else {
            e->stats.failed += n;
        }
        if (batch == NULL) { /* no memory for a batch: nothing can be sent */
            e->stats.dropped += e->count;
            e->count = 0;
        }
    }
    e->stats.dropped += e->count; /* still queued at the flush deadline */
    e->count = 0;
    pthread_mutex_unlock(&e->mu);
    sl_buf_release(&body);
    free(batch);
    return NULL;
}

int sl_otel_exporter_new(const struct sl_otel_config *cfg, struct sl_otel_exporter **out, char *err,
                         size_t err_size)
{
    struct sl_otel_exporter *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    e->cfg = *cfg;
    if (e->cfg.queue == 0)
        e->cfg.queue = 2048;
    if (e->cfg.batch == 0 || e->cfg.batch > e->cfg.queue)
        e->cfg.batch = e->cfg.queue < 256 ? e->cfg.queue : 256;
    if (e->cfg.interval_ms == 0)
        e->cfg.interval_ms = 1000;
    if (e->cfg.timeout_ms == 0)
        e->cfg.timeout_ms = 2000;
    e->ring = calloc(e->cfg.queue, sizeof(*e->ring));
    if (e->ring == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        (e->curl = curl_easy_init()) == NULL) {
        snprintf(err, err_size, "cannot start the trace exporter: out of memory");
        goto fail;
    }
    e->headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; i < cfg->nheaders && e->headers; i++) {
        char line[600];
        snprintf(line, sizeof(line), "%s: %s", cfg->headers[i].name, cfg->headers[i].value);
        struct curl_slist *more = curl_slist_append(e->headers, line);
        if (more == NULL) {
            curl_slist_free_all(e->headers);
            e->headers = NULL;
        }
        e->headers = more;
    }
    if (e->headers == NULL) {
        snprintf(err, err_size, "cannot start the trace exporter: out of memory");
        goto fail;
    }
    curl_easy_setopt(e->curl, CURLOPT_URL, e->cfg.endpoint);
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->cfg.timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)e->cfg.timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, discard);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->wake, NULL);
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->wake);
        snprintf(err, err_size, "cannot start the trace exporter's thread");
        goto fail;
    }
    *out = e;
    return 0;
fail:
    if (e->headers)
        curl_slist_free_all(e->headers);
    if (e->curl)
        curl_easy_cleanup(e->curl);
    free(e->ring);
    free(e);
    return -1;
}

int sl_otel_submit(struct sl_otel_exporter *e, const struct sl_otel_trace *t)
{
    pthread_mutex_lock(&e->mu);
    if (e->count == e->cfg.queue) {
        e->stats.dropped++;
        pthread_mutex_unlock(&e->mu);
        return -1;
    }
    e->ring[(e->head + e->count) % e->cfg.queue] = *t;
    if (++e->count == e->cfg.batch)
        pthread_cond_signal(&e->wake); /* a whole batch: no need to wait for the interval */
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void sl_otel_stats(struct sl_otel_exporter *e, struct sl_otel_stats *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    pthread_mutex_unlock(&e->mu);
}

void sl_otel_exporter_close(struct sl_otel_exporter *e, unsigned flush_ms)
{
    pthread_mutex_lock(&e->mu);
    e->closing = 1;
    e->flush_deadline_ns = now_ns() + (int64_t)flush_ms * 1000000;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->mu);
    /* an export in flight is bounded by timeout_ms; flush_ms bounds the rest */
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->wake);
    curl_slist_free_all(e->headers);
    curl_easy_cleanup(e->curl);
    free(e->ring);
    free(e);
}
