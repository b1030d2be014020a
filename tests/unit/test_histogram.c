/* The load generator's log-linear histogram: bucket arithmetic,
 * percentiles against a sorted reference, merge, bounds. */
#include <math.h>
#include <stdlib.h>

#include "../support.h"
#include "core/rng.h"
#include "load/histogram.h"

static struct sl_hist *new_hist(void)
{
    struct sl_hist *h = malloc(sizeof(*h));
    cr_assert_not_null(h);
    sl_hist_init(h);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A value known to within 1/SUB of itself: the histogram's promise. */
#define SUB   ((double)(1u << SL_HIST_SUB_BITS))
#define EXACT (2u << SL_HIST_SUB_BITS)
static void assert_close(uint64_t got, uint64_t want, const char *what)
{
    double tol = (double)want / SUB + 1;
    cr_assert(fabs((double)got - (double)want) <= tol, "%s: got %llu, want %llu (+-%.1f)", what,
              (unsigned long long)got, (unsigned long long)want, tol);
}

Test(histogram, small_values_are_exact)
{
    for (uint64_t v = 0; v < EXACT; v++) {
        cr_assert_eq(sl_hist_index(v), v);
        cr_assert_eq(sl_hist_bucket_high((unsigned)v), v);
    }
}

Test(histogram, buckets_are_contiguous_and_within_precision)
{
    unsigned prev = 0;
    for (uint64_t v = 1; v <= SL_HIST_MAX; v += v / 97 + 1) {
        unsigned i = sl_hist_index(v);
        cr_assert(i < SL_HIST_BUCKETS, "index %u out of range for %llu", i, (unsigned long long)v);
        cr_assert(i >= prev, "not monotonic at %llu", (unsigned long long)v);
        uint64_t hi = sl_hist_bucket_high(i);
        cr_assert(hi >= v, "bucket high %llu below %llu", (unsigned long long)hi,
                  (unsigned long long)v);
        cr_assert((double)(hi - v) <= (double)v / SUB, "bucket of %llu too wide (high %llu)",
                  (unsigned long long)v, (unsigned long long)hi);
        /* The next bucket starts right after this one's high value. */
        cr_assert_eq(sl_hist_index(hi + 1), i + 1 > SL_HIST_BUCKETS - 1 ? i : i + 1);
        prev = i;
    }
    cr_assert_eq(sl_hist_index(SL_HIST_MAX), SL_HIST_BUCKETS - 1);
    cr_assert_eq(sl_hist_bucket_high(SL_HIST_BUCKETS - 1), SL_HIST_MAX);
}

Test(histogram, percentiles_match_a_sorted_reference)
{
    enum { N = 200000 };
    uint64_t *ref = malloc(N * sizeof(*ref));
    struct sl_hist *h = new_hist();
    struct sl_rng rng;
    sl_rng_seed(&rng, 42, 1);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        /* Log-uniform from 1 us to one hour: every bucket range is used. */
        double e = sl_rng_uniform(&rng) * log(3600e6);
        uint64_t v = (uint64_t)exp(e);
        ref[i] = v;
        sum += (double)v;
        sl_hist_record(h, v);
    }
    qsort(ref, N, sizeof(*ref), cmp_u64);
    static const double ps[] = {0.001, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999};
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        size_t rank = (size_t)ceil(ps[k] / 100.0 * N);
        char what[32];
        snprintf(what, sizeof(what), "p%g", ps[k]);
        assert_close(sl_hist_percentile(h, ps[k]), ref[rank - 1], what);
    }
    cr_assert_eq(sl_hist_count(h), N);
    cr_assert_eq(sl_hist_max(h), ref[N - 1]);
    cr_assert_eq(sl_hist_min(h), ref[0]);
    cr_assert_eq(sl_hist_percentile(h, 100), ref[N - 1]);
    cr_assert_eq(sl_hist_percentile(h, 0), ref[0]);
    cr_assert(fabs(sl_hist_mean(h) - sum / N) < 1e-6 * sum / N);
    free(ref);
    free(h);
}

Test(histogram, narrow_distribution)
{
    /* Loopback latencies: 150-900 us, where 1% matters. */
    enum { N = 50000 };
    uint64_t ref[N];
    struct sl_hist *h = new_hist();
    struct sl_rng rng;
    sl_rng_seed(&rng, 7, 3);
    for (int i = 0; i < N; i++) {
        ref[i] = 150 + sl_rng_next(&rng) % 750;
        sl_hist_record(h, ref[i]);
    }
    qsort(ref, N, sizeof(*ref), cmp_u64);
    assert_close(sl_hist_percentile(h, 50), ref[N / 2 - 1], "p50");
    assert_close(sl_hist_percentile(h, 99), ref[(size_t)ceil(0.99 * N) - 1], "p99");
    free(h);
}

Test(histogram, single_value_and_empty)
{
    struct sl_hist *h = new_hist();
    cr_assert_eq(sl_hist_percentile(h, 50), 0);
    cr_assert_eq(sl_hist_max(h), 0);
    cr_assert_eq(sl_hist_min(h), 0);
    cr_assert_eq(sl_hist_mean(h), 0);
    sl_hist_record(h, 123456);
    /* Clamped to the exact max: one value reads back exactly. */
    cr_assert_eq(sl_hist_percentile(h, 50), 123456);
    cr_assert_eq(sl_hist_percentile(h, 99.9), 123456);
    cr_assert_eq(sl_hist_min(h), 123456);
    free(h);
}

Test(histogram, merge_equals_recording_everything_in_one)
{
    struct sl_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
    struct sl_rng rng;
    sl_rng_seed(&rng, 9, 9);
    for (int i = 0; i < 30000; i++) {
        uint64_t v = sl_rng_next(&rng) % 5000000;
        sl_hist_record(i % 3 ? a : b, v);
        sl_hist_record(all, v);
    }
    sl_hist_merge(a, b);
    cr_assert_eq(sl_hist_count(a), sl_hist_count(all));
    cr_assert_eq(sl_hist_max(a), sl_hist_max(all));
    cr_assert_eq(sl_hist_min(a), sl_hist_min(all));
    cr_assert(fabs(sl_hist_mean(a) - sl_hist_mean(all)) < 1e-6);
    for (double p = 1; p < 100; p += 7.5)
        cr_assert_eq(sl_hist_percentile(a, p), sl_hist_percentile(all, p), "p%g", p);
    cr_assert_eq(memcmp(a->counts, all->counts, sizeof(a->counts)), 0);
    /* Merging an empty histogram changes nothing; into an empty one copies. */
    struct sl_hist *empty = new_hist();
    sl_hist_merge(a, empty);
    cr_assert_eq(sl_hist_min(a), sl_hist_min(all));
    sl_hist_merge(empty, all);
    cr_assert_eq(sl_hist_min(empty), sl_hist_min(all));
    cr_assert_eq(sl_hist_percentile(empty, 50), sl_hist_percentile(all, 50));
    free(a);
    free(b);
    free(all);
    free(empty);
}

Test(histogram, bounds_one_hour_and_beyond)
{
    struct sl_hist *h = new_hist();
    uint64_t hour = 3600ull * 1000000;
    sl_hist_record(h, hour);
    assert_close(sl_hist_percentile(h, 50), hour, "one hour");
    cr_assert_eq(h->clamped, 0);
    sl_hist_record(h, UINT64_MAX);
    cr_assert_eq(h->clamped, 1);
    cr_assert_eq(sl_hist_max(h), SL_HIST_MAX);
    cr_assert_eq(sl_hist_percentile(h, 100), SL_HIST_MAX);
    sl_hist_record(h, 0);
    cr_assert_eq(sl_hist_min(h), 0);
    cr_assert_eq(sl_hist_percentile(h, 1), 0);
    /* Memory is fixed, whatever is recorded. */
    cr_assert(sizeof(struct sl_hist) < 512 * 1024);
    free(h);
}
