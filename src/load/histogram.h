/* HDR-style log-linear histogram of durations in microseconds.
 *
 * Values below 4096 are counted exactly; above, each power of two is split
 * into 2048 equal sub-buckets, so a recorded value is known to within
 * 1/2048 (0.05%) of itself: a 50 ms latency to 25 us, fine enough to see
 * what a proxy adds to it. Values up to 2^36 us (19 hours) are tracked;
 * larger ones are clamped to that and counted in `clamped`. Memory is fixed
 * (~416 KiB): recording never allocates, so a run can record billions of
 * values. The exact minimum, maximum and sum are kept on the side. */
#ifndef SL_HISTOGRAM_H
#define SL_HISTOGRAM_H

#include <stdint.h>

#define SL_HIST_SUB_BITS 11 /* 2048 sub-buckets per power of two */
#define SL_HIST_MAX_BITS 36 /* largest trackable value: 2^36 - 1 us */
#define SL_HIST_MAX      ((UINT64_C(1) << SL_HIST_MAX_BITS) - 1)
#define SL_HIST_BUCKETS                                                                            \
    ((2 << SL_HIST_SUB_BITS) + (SL_HIST_MAX_BITS - SL_HIST_SUB_BITS - 1) * (1 << SL_HIST_SUB_BITS))

/* Embedded by its owner; the fields are read-only outside histogram.c. */
struct sl_hist {
    uint64_t total, clamped;
    uint64_t min, max;
    double sum;
    uint64_t counts[SL_HIST_BUCKETS];
};

void sl_hist_init(struct sl_hist *h);
void sl_hist_record(struct sl_hist *h, uint64_t value_us);
/* Adds every value of src to dst. */
void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src);
/* The smallest recorded value v such that at least p% of the values are
 * <= v (to the histogram's precision; never above the exact maximum).
 * p in [0, 100]; 0 for an empty histogram. */
uint64_t sl_hist_percentile(const struct sl_hist *h, double p);
double sl_hist_mean(const struct sl_hist *h);
static inline uint64_t sl_hist_count(const struct sl_hist *h)
{
    return h->total;
}
static inline uint64_t sl_hist_max(const struct sl_hist *h)
{
    return h->max;
}
static inline uint64_t sl_hist_min(const struct sl_hist *h)
{
    return h->total ? h->min : 0;
}

/* Bucket arithmetic, exposed for the tests. */
unsigned sl_hist_index(uint64_t value);
/* The largest value that falls in bucket `index`. */
uint64_t sl_hist_bucket_high(unsigned index);

#endif
