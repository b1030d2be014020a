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
/* An upstream attempt's end: how long it took, and how often it was sent
 * again on a fresh connection. */
void sl_gw_metrics_attempt(struct sl_gw_metrics *m, const struct sl_gw_dep *dep, unsigned resent,
                           double seconds);
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
