/* Prometheus text exposition for the gateway: counters, gauges and
 * fixed-bucket histograms, written into a bounded buffer on scrape. The
 * gateway owns the numbers (plain integers on the loop thread, no locks);
 * this module only knows how to observe and how to print them. */
#ifndef SL_GW_METRICS_H
#define SL_GW_METRICS_H

#include <stdint.h>

#include "core/buf.h"

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

#endif
