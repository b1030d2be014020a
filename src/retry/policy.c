#include "retry/policy.h"

#include <math.h>
#include <string.h>

void sl_retry_policy_default(struct sl_retry_policy *policy)
{
    *policy = (struct sl_retry_policy){
        .max_attempts = 5,
        .max_delay_ms = 0,
        .wait = SL_WAIT_FULL_JITTER,
        .fixed_ms = 100,
        .min_ms = 0,
        .max_ms = 10000,
        .multiplier_ms = 100,
        .exp_base = 2,
        .retry_on = SL_ERR_TRANSIENT,
        .retry_after_cap_ms = 30000,
    };
}

static double clamp(double v, double lo, double hi)
{
    if (v > hi)
        v = hi;
    if (v < lo)
        v = lo;
    return v;
}

/* multiplier * base^(attempt-1), without overflowing to inf for big n. */
static double exponential(const struct sl_retry_policy *p, unsigned attempt)
{
    double exp = attempt > 0 ? (double)(attempt - 1) : 0;
    double v = p->multiplier_ms * pow(p->exp_base, exp);
    if (!isfinite(v))
        v = p->max_ms;
    return v;
}

double sl_retry_wait(const struct sl_retry_policy *p, const struct sl_retry_state *s,
                     struct sl_rng *rng)
{
    switch (p->wait) {
    case SL_WAIT_NONE:
        return 0;
    case SL_WAIT_FIXED:
        return p->fixed_ms;
    case SL_WAIT_RANDOM:
        return sl_rng_range(rng, p->min_ms, p->max_ms);
    case SL_WAIT_EXPONENTIAL:
        return clamp(exponential(p, s->attempt), p->min_ms, p->max_ms);
    case SL_WAIT_FULL_JITTER: {
        /* AWS "full jitter": uniform over [0, the capped exponential]. */
        double cap = clamp(exponential(p, s->attempt), p->min_ms, p->max_ms);
        return sl_rng_range(rng, 0, cap);
    }
    case SL_WAIT_DECORRELATED: {
        /* AWS "decorrelated jitter": uniform over [base, 3 * previous]. */
        double base = p->multiplier_ms;
        double prev = s->prev_wait_ms > 0 ? s->prev_wait_ms : base;
        return clamp(sl_rng_range(rng, base, prev * 3), p->min_ms, p->max_ms);
    }
    }
    return 0;
}

struct sl_retry_decision sl_retry_decide(const struct sl_retry_policy *p,
                                         const struct sl_retry_state *s, enum sl_err error,
                                         double retry_after_ms, struct sl_rng *rng)
{
    struct sl_retry_decision d = {SL_RETRY_AGAIN, 0};
    if ((unsigned)error >= 32 || !(p->retry_on & SL_ERR_BIT(error))) {
        d.verdict = SL_RETRY_NOT_RETRYABLE;
        return d;
    }
    if (p->max_attempts > 0 && s->attempt >= p->max_attempts) {
        d.verdict = SL_RETRY_MAX_ATTEMPTS;
        return d;
    }
    /* Draw the wait even when Retry-After overrides it, so that the random
     * sequence (and so a seeded run) does not depend on the server. */
    d.wait_ms = sl_retry_wait(p, s, rng);
    if (retry_after_ms >= 0)
        d.wait_ms = retry_after_ms < p->retry_after_cap_ms ? retry_after_ms : p->retry_after_cap_ms;
    if (p->max_delay_ms > 0 && s->elapsed_ms + d.wait_ms >= p->max_delay_ms) {
        d.verdict = SL_RETRY_DEADLINE;
        d.wait_ms = 0;
    }
    return d;
}

const char *sl_retry_verdict_name(enum sl_retry_verdict v)
{
    switch (v) {
    case SL_RETRY_AGAIN:
        return "retry";
    case SL_RETRY_NOT_RETRYABLE:
        return "not_retryable";
    case SL_RETRY_MAX_ATTEMPTS:
        return "max_attempts";
    case SL_RETRY_DEADLINE:
        return "deadline";
    }
    return "unknown";
}

static const char *const wait_names[] = {"none",        "fixed",       "random",
                                         "exponential", "full-jitter", "decorrelated"};

const char *sl_wait_kind_name(enum sl_wait_kind kind)
{
    return (unsigned)kind < sizeof(wait_names) / sizeof(*wait_names) ? wait_names[kind] : "?";
}

int sl_wait_kind_parse(const char *text)
{
    for (unsigned i = 0; i < sizeof(wait_names) / sizeof(*wait_names); i++)
        if (strcmp(text, wait_names[i]) == 0)
            return (int)i;
    return -1;
}
