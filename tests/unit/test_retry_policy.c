/* Retry policy engine: pure functions, no loop, a seeded rng. */
#include <math.h>
#include <string.h>

#include "../support.h"
#include "retry/policy.h"

static struct sl_retry_policy policy_of(enum sl_wait_kind kind)
{
    struct sl_retry_policy p;
    sl_retry_policy_default(&p);
    p.wait = kind;
    return p;
}

static struct sl_retry_state at(unsigned attempt)
{
    return (struct sl_retry_state){.attempt = attempt};
}

static struct sl_rng seeded(uint64_t seed)
{
    struct sl_rng rng;
    sl_rng_seed(&rng, seed, 1);
    return rng;
}

Test(retry_policy, defaults)
{
    struct sl_retry_policy p;
    sl_retry_policy_default(&p);
    cr_assert_eq(p.max_attempts, 5);
    cr_assert_eq(p.max_delay_ms, 0);
    cr_assert_eq(p.wait, SL_WAIT_FULL_JITTER);
    cr_assert_eq(p.multiplier_ms, 100);
    cr_assert_eq(p.exp_base, 2);
    cr_assert_eq(p.max_ms, 10000);
    cr_assert_eq(p.retry_on, SL_ERR_TRANSIENT);
    cr_assert_eq(p.retry_after_cap_ms, 30000);
}

Test(retry_policy, exponential_schedule)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_EXPONENTIAL);
    p.multiplier_ms = 1;
    p.exp_base = 2;
    p.min_ms = 0;
    p.max_ms = 1e9;
    struct sl_rng rng = seeded(1);
    const double expected[] = {1, 2, 4, 8, 16};
    for (unsigned a = 1; a <= 5; a++) {
        struct sl_retry_state s = at(a);
        double w = sl_retry_wait(&p, &s, &rng);
        cr_assert_float_eq(w, expected[a - 1], 1e-9, "attempt %u: wait %g", a, w);
    }
    /* Another multiplier and base: 100 * 3^(n-1). */
    p.multiplier_ms = 100;
    p.exp_base = 3;
    struct sl_retry_state s3 = at(3);
    cr_assert_float_eq(sl_retry_wait(&p, &s3, &rng), 900, 1e-9);
}

Test(retry_policy, exponential_clamps_at_max_and_min)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_EXPONENTIAL);
    p.multiplier_ms = 1;
    p.exp_base = 2;
    p.min_ms = 0;
    p.max_ms = 5;
    struct sl_rng rng = seeded(1);
    const double expected[] = {1, 2, 4, 5, 5, 5};
    for (unsigned a = 1; a <= 6; a++) {
        struct sl_retry_state s = at(a);
        cr_assert_float_eq(sl_retry_wait(&p, &s, &rng), expected[a - 1], 1e-9, "attempt %u", a);
    }
    /* Huge attempt numbers overflow pow() to inf: still clamped, finite. */
    struct sl_retry_state big = at(5000);
    double w = sl_retry_wait(&p, &big, &rng);
    cr_assert(isfinite(w));
    cr_assert_float_eq(w, 5, 1e-9);

    p.min_ms = 3;
    struct sl_retry_state s1 = at(1);
    cr_assert_float_eq(sl_retry_wait(&p, &s1, &rng), 3, 1e-9, "clamped up to min_ms");
}

Test(retry_policy, exponential_via_decide)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_EXPONENTIAL);
    p.multiplier_ms = 1;
    p.max_attempts = 0;
    struct sl_rng rng = seeded(1);
    for (unsigned a = 1; a <= 4; a++) {
        struct sl_retry_state s = at(a);
        struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
        cr_assert_float_eq(d.wait_ms, (double)(1u << (a - 1)), 1e-9);
    }
}

Test(retry_policy, full_jitter_within_cap)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FULL_JITTER);
    p.multiplier_ms = 100;
    p.exp_base = 2;
    p.max_ms = 10000;
    struct sl_rng rng = seeded(12345);
    struct sl_retry_state s = at(3); /* cap = 100 * 2^2 = 400 */
    const double cap = 400;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    const int draws = 10000;
    for (int i = 0; i < draws; i++) {
        double w = sl_retry_wait(&p, &s, &rng);
        cr_assert(w >= 0 && w <= cap, "draw %d: %g outside [0, %g]", i, w, cap);
        lo = fmin(lo, w);
        hi = fmax(hi, w);
        sum += w;
    }
    double mean = sum / draws;
    cr_assert(hi > lo, "full jitter must not be constant");
    cr_assert_lt(lo, 0.05 * cap, "min draw %g", lo);
    cr_assert_gt(hi, 0.95 * cap, "max draw %g", hi);
    cr_assert(fabs(mean - cap / 2) < 0.05 * cap, "mean %g, expected about %g", mean, cap / 2);
}

Test(retry_policy, full_jitter_cap_is_clamped_to_max)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FULL_JITTER);
    p.multiplier_ms = 100;
    p.max_ms = 1000;
    struct sl_rng rng = seeded(99);
    struct sl_retry_state s = at(30); /* 100 * 2^29, capped to 1000 */
    double hi = 0, sum = 0;
    for (int i = 0; i < 10000; i++) {
        double w = sl_retry_wait(&p, &s, &rng);
        cr_assert(w >= 0 && w <= 1000, "draw %g above max_ms", w);
        hi = fmax(hi, w);
        sum += w;
    }
    cr_assert_gt(hi, 900);
    cr_assert(fabs(sum / 10000 - 500) < 50, "mean %g", sum / 10000);
}

Test(retry_policy, decorrelated_jitter_bounds)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_DECORRELATED);
    p.multiplier_ms = 100; /* base */
    p.min_ms = 0;
    p.max_ms = 5000;
    struct sl_rng rng = seeded(777);
    struct sl_retry_state s = at(1);
    int hit_cap = 0, varied = 0;
    double first = -1;
    for (int i = 0; i < 10000; i++) {
        double prev = s.prev_wait_ms > 0 ? s.prev_wait_ms : p.multiplier_ms;
        double upper = fmin(p.max_ms, 3 * prev);
        double w = sl_retry_wait(&p, &s, &rng);
        cr_assert(w >= p.multiplier_ms - 1e-9 && w <= upper + 1e-9,
                  "step %d: %g outside [%g, %g] (prev %g)", i, w, p.multiplier_ms, upper,
                  s.prev_wait_ms);
        if (w >= p.max_ms - 1e-9)
            hit_cap++;
        if (first < 0)
            first = w;
        else if (w != first)
            varied = 1;
        s.prev_wait_ms = w;
        s.attempt++;
    }
    cr_assert(varied);
    cr_assert_gt(hit_cap, 0, "the walk should reach max_ms in 10,000 steps");
    /* The very first wait (no previous) is within [base, 3 * base]. */
    struct sl_retry_state s0 = at(1);
    for (int i = 0; i < 1000; i++) {
        double w = sl_retry_wait(&p, &s0, &rng);
        cr_assert(w >= 100 && w <= 300, "first wait %g", w);
    }
}

Test(retry_policy, random_within_range)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_RANDOM);
    p.min_ms = 50;
    p.max_ms = 150;
    struct sl_rng rng = seeded(5);
    struct sl_retry_state s = at(2);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (int i = 0; i < 10000; i++) {
        double w = sl_retry_wait(&p, &s, &rng);
        cr_assert(w >= 50 && w <= 150, "%g outside [50, 150]", w);
        lo = fmin(lo, w);
        hi = fmax(hi, w);
        sum += w;
    }
    cr_assert_lt(lo, 55);
    cr_assert_gt(hi, 145);
    cr_assert(fabs(sum / 10000 - 100) < 5, "mean %g", sum / 10000);
}

Test(retry_policy, fixed_and_none)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FIXED);
    p.fixed_ms = 250;
    p.max_attempts = 0;
    struct sl_rng rng = seeded(5);
    for (unsigned a = 1; a <= 10; a++) {
        struct sl_retry_state s = at(a);
        cr_assert_float_eq(sl_retry_wait(&p, &s, &rng), 250, 1e-9);
        struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_TIMEOUT, -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
        cr_assert_float_eq(d.wait_ms, 250, 1e-9);
    }
    p.wait = SL_WAIT_NONE;
    for (unsigned a = 1; a <= 10; a++) {
        struct sl_retry_state s = at(a);
        cr_assert_eq(sl_retry_wait(&p, &s, &rng), 0);
        struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_TIMEOUT, -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
        cr_assert_eq(d.wait_ms, 0);
    }
}

Test(retry_policy, stop_after_attempts)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FIXED);
    p.fixed_ms = 10;
    p.max_attempts = 4;
    struct sl_rng rng = seeded(5);
    for (unsigned a = 1; a < 4; a++) {
        struct sl_retry_state s = at(a);
        struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_AGAIN, "attempt %u: %s", a,
                     sl_retry_verdict_name(d.verdict));
    }
    struct sl_retry_state s4 = at(4);
    struct sl_retry_decision d = sl_retry_decide(&p, &s4, SL_E_RATE_LIMITED, -1, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_MAX_ATTEMPTS, "%s", sl_retry_verdict_name(d.verdict));
    cr_assert_eq(d.wait_ms, 0);

    /* max_attempts 1: never retry. 0: no limit. */
    p.max_attempts = 1;
    struct sl_retry_state s1 = at(1);
    cr_assert_eq(sl_retry_decide(&p, &s1, SL_E_RATE_LIMITED, -1, &rng).verdict,
                 SL_RETRY_MAX_ATTEMPTS);
    p.max_attempts = 0;
    struct sl_retry_state many = at(100000);
    cr_assert_eq(sl_retry_decide(&p, &many, SL_E_RATE_LIMITED, -1, &rng).verdict, SL_RETRY_AGAIN);
}

Test(retry_policy, stop_after_delay)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FIXED);
    p.fixed_ms = 100;
    p.max_attempts = 0;
    p.max_delay_ms = 1000;
    struct sl_rng rng = seeded(5);

    struct sl_retry_state s = {.attempt = 3, .elapsed_ms = 850};
    struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, -1, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_AGAIN, "850 + 100 < 1000");
    cr_assert_float_eq(d.wait_ms, 100, 1e-9);

    s.elapsed_ms = 899.5;
    cr_assert_eq(sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, -1, &rng).verdict, SL_RETRY_AGAIN);

    s.elapsed_ms = 900;
    d = sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, -1, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_DEADLINE, "900 + 100 >= 1000: %s",
                 sl_retry_verdict_name(d.verdict));
    cr_assert_eq(d.wait_ms, 0);

    s.elapsed_ms = 5000;
    cr_assert_eq(sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, -1, &rng).verdict, SL_RETRY_DEADLINE);

    /* A Retry-After that would sleep past the deadline stops too. */
    s.elapsed_ms = 100;
    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 950, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_DEADLINE);
    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 850, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
    cr_assert_float_eq(d.wait_ms, 850, 1e-9);

    /* Both limits: whichever comes first. */
    p.max_attempts = 2;
    struct sl_retry_state s2 = {.attempt = 2, .elapsed_ms = 0};
    cr_assert_eq(sl_retry_decide(&p, &s2, SL_E_UNAVAILABLE, -1, &rng).verdict,
                 SL_RETRY_MAX_ATTEMPTS);
}

Test(retry_policy, permanent_errors_are_not_retried)
{
    struct sl_retry_policy p;
    sl_retry_policy_default(&p);
    struct sl_rng rng = seeded(5);
    struct sl_retry_state s = at(1);
    const enum sl_err permanent[] = {SL_E_BAD_REQUEST, SL_E_UNAUTHORIZED, SL_E_DEADLINE,
                                     SL_E_CANCELLED, SL_OK};
    for (size_t i = 0; i < sizeof(permanent) / sizeof(*permanent); i++) {
        struct sl_retry_decision d = sl_retry_decide(&p, &s, permanent[i], -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_NOT_RETRYABLE, "%s: %s", sl_err_name(permanent[i]),
                     sl_retry_verdict_name(d.verdict));
        cr_assert_eq(d.wait_ms, 0);
    }
    for (int e = 1; e < SL_E__COUNT; e++) {
        if (!(SL_ERR_TRANSIENT & SL_ERR_BIT(e)))
            continue;
        cr_assert_eq(sl_retry_decide(&p, &s, (enum sl_err)e, -1, &rng).verdict, SL_RETRY_AGAIN,
                     "%s should be retried", sl_err_name((enum sl_err)e));
    }
    /* Not retryable wins over attempts used up. */
    struct sl_retry_state last = at(p.max_attempts);
    cr_assert_eq(sl_retry_decide(&p, &last, SL_E_BAD_REQUEST, -1, &rng).verdict,
                 SL_RETRY_NOT_RETRYABLE);
    /* retry_on decides: make bad_request retryable, rate_limited not. */
    p.retry_on = SL_ERR_BIT(SL_E_BAD_REQUEST);
    cr_assert_eq(sl_retry_decide(&p, &s, SL_E_BAD_REQUEST, -1, &rng).verdict, SL_RETRY_AGAIN);
    cr_assert_eq(sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, -1, &rng).verdict,
                 SL_RETRY_NOT_RETRYABLE);
    /* An out-of-range class is never retried. */
    p.retry_on = UINT32_MAX;
    cr_assert_eq(sl_retry_decide(&p, &s, (enum sl_err)40, -1, &rng).verdict,
                 SL_RETRY_NOT_RETRYABLE);
}

Test(retry_policy, retry_after_overrides_and_is_capped)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FIXED);
    p.fixed_ms = 100;
    p.retry_after_cap_ms = 30000;
    struct sl_rng rng = seeded(5);
    struct sl_retry_state s = at(1);

    struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 2500, &rng);
    cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
    cr_assert_float_eq(d.wait_ms, 2500, 1e-9);

    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 60000, &rng);
    cr_assert_float_eq(d.wait_ms, 30000, 1e-9, "capped at retry_after_cap_ms, got %g", d.wait_ms);

    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 0, &rng);
    cr_assert_eq(d.wait_ms, 0, "Retry-After: 0 means now");

    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, 10, &rng);
    cr_assert_float_eq(d.wait_ms, 10, 1e-9, "a shorter Retry-After also overrides");

    d = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, -1, &rng);
    cr_assert_float_eq(d.wait_ms, 100, 1e-9, "no Retry-After: the computed wait");

    p.retry_after_cap_ms = 500;
    d = sl_retry_decide(&p, &s, SL_E_UNAVAILABLE, 501, &rng);
    cr_assert_float_eq(d.wait_ms, 500, 1e-9);
}

Test(retry_policy, retry_after_does_not_shift_the_random_sequence)
{
    struct sl_retry_policy p = policy_of(SL_WAIT_FULL_JITTER);
    p.max_attempts = 0;
    struct sl_rng a = seeded(2024), b = seeded(2024);
    for (unsigned i = 1; i <= 50; i++) {
        struct sl_retry_state s = at(i % 6 + 1);
        struct sl_retry_decision da = sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, -1, &a);
        /* b gets a Retry-After every other time. */
        struct sl_retry_decision db =
            sl_retry_decide(&p, &s, SL_E_RATE_LIMITED, i % 2 ? 1234 : -1, &b);
        if (i % 2 == 0)
            cr_assert_eq(da.wait_ms, db.wait_ms, "sequence diverged at %u", i);
        else
            cr_assert_float_eq(db.wait_ms, 1234, 1e-9);
    }
    cr_assert_eq(a.state, b.state);
}

static void draw_sequence(uint64_t seed, enum sl_wait_kind kind, double *out, int n)
{
    struct sl_retry_policy p = policy_of(kind);
    p.max_attempts = 0;
    p.min_ms = 0;
    struct sl_rng rng = seeded(seed);
    struct sl_retry_state s = at(1);
    for (int i = 0; i < n; i++) {
        struct sl_retry_decision d = sl_retry_decide(&p, &s, SL_E_TIMEOUT, -1, &rng);
        cr_assert_eq(d.verdict, SL_RETRY_AGAIN);
        out[i] = d.wait_ms;
        s.prev_wait_ms = d.wait_ms;
        s.attempt = s.attempt % 8 + 1;
    }
}

Test(retry_policy, same_seed_same_waits)
{
    const enum sl_wait_kind kinds[] = {SL_WAIT_RANDOM, SL_WAIT_FULL_JITTER, SL_WAIT_DECORRELATED};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
        double x[200], y[200], z[200];
        draw_sequence(42, kinds[k], x, 200);
        draw_sequence(42, kinds[k], y, 200);
        draw_sequence(43, kinds[k], z, 200);
        cr_assert_arr_eq(x, y, sizeof(x), "%s: same seed, different waits",
                         sl_wait_kind_name(kinds[k]));
        cr_assert(memcmp(x, z, sizeof(x)) != 0, "%s: a different seed gave the same waits",
                  sl_wait_kind_name(kinds[k]));
    }
}

Test(retry_policy, wait_kind_names_round_trip)
{
    const char *names[] = {"none", "fixed", "random", "exponential", "full-jitter", "decorrelated"};
    for (int k = SL_WAIT_NONE; k <= SL_WAIT_DECORRELATED; k++) {
        cr_assert_str_eq(sl_wait_kind_name((enum sl_wait_kind)k), names[k]);
        cr_assert_eq(sl_wait_kind_parse(names[k]), k);
    }
    cr_assert_eq(sl_wait_kind_parse("full_jitter"), -1);
    cr_assert_eq(sl_wait_kind_parse("Fixed"), -1);
    cr_assert_eq(sl_wait_kind_parse(""), -1);
    cr_assert_eq(sl_wait_kind_parse("exponentialx"), -1);
    cr_assert_str_eq(sl_wait_kind_name((enum sl_wait_kind)99), "?");
}

Test(retry_policy, verdict_names)
{
    cr_assert_str_eq(sl_retry_verdict_name(SL_RETRY_AGAIN), "retry");
    cr_assert_str_eq(sl_retry_verdict_name(SL_RETRY_NOT_RETRYABLE), "not_retryable");
    cr_assert_str_eq(sl_retry_verdict_name(SL_RETRY_MAX_ATTEMPTS), "max_attempts");
    cr_assert_str_eq(sl_retry_verdict_name(SL_RETRY_DEADLINE), "deadline");
    cr_assert_str_eq(sl_retry_verdict_name((enum sl_retry_verdict)17), "unknown");
}
