#include "load/histogram.h"

#include <math.h>
#include <string.h>

#define SUB   (1u << SL_HIST_SUB_BITS) /* 2048 */
#define EXACT (2u * SUB)               /* values below 4096 have a bucket each */

void sl_hist_init(struct sl_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned sl_hist_index(uint64_t v)
{
    if (v > SL_HIST_MAX)
        v = SL_HIST_MAX;
    if (v < EXACT)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SL_HIST_SUB_BITS; /* >= 1: v >> shift is in [SUB, 2 * SUB) */
    return EXACT + (shift - 1) * SUB + (unsigned)((v >> shift) - SUB);
}

uint64_t sl_hist_bucket_high(unsigned index)
{
    if (index < EXACT)
        return index;
    unsigned shift = (index - EXACT) / SUB + 1;
    uint64_t sub = (index - EXACT) % SUB + SUB;
    return ((sub + 1) << shift) - 1;
}

void sl_hist_record(struct sl_hist *h, uint64_t v)
{
    if (v > SL_HIST_MAX) {
        h->clamped++;
        v = SL_HIST_MAX;
    }
    h->counts[sl_hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src)
{
    if (src->total == 0)
        return;
    for (unsigned i = 0; i < SL_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t sl_hist_percentile(const struct sl_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < SL_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = sl_hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double sl_hist_mean(const struct sl_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0;
}
