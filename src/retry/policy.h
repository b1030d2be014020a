/* Retry policy engine: the pure decision "retry after how long, or stop".
 *
 * At parity with Python's tenacity:
 *   stop:  after N attempts (stop_after_attempt), after a total delay
 *          (stop_after_delay, here: never sleep past it), or either;
 *   wait:  none, fixed, random(min, max), exponential(multiplier, base,
 *          min, max), exponential with full jitter (wait_random_exponential),
 *          decorrelated jitter;
 *   retry: only on chosen error classes (a bit set of enum sl_err);
 *   retry-after: a server-given wait overrides the computed one, capped.
 *
 * sl_retry_decide() is a pure function of (policy, state, error,
 * retry_after, rng): no clock, no I/O, so every schedule is testable. The
 * driver (retrier.h) owns the clock and the timer. */
#ifndef SL_RETRY_POLICY_H
#define SL_RETRY_POLICY_H

#include <stdint.h>

#include "core/errclass.h"
#include "core/rng.h"

enum sl_wait_kind {
    SL_WAIT_NONE,
    SL_WAIT_FIXED,
    SL_WAIT_RANDOM,
    SL_WAIT_EXPONENTIAL,
    SL_WAIT_FULL_JITTER,
    SL_WAIT_DECORRELATED,
};

struct sl_retry_policy {
    unsigned max_attempts; /* stop after this many attempts; 0 = no limit */
    double max_delay_ms;   /* stop when the next attempt would start later; 0 = no limit */
    enum sl_wait_kind wait;
    double fixed_ms;           /* FIXED */
    double min_ms, max_ms;     /* bounds: RANDOM range, clamp for the others */
    double multiplier_ms;      /* EXPONENTIAL, FULL_JITTER, DECORRELATED base */
    double exp_base;           /* usually 2 */
    uint32_t retry_on;         /* SL_ERR_BIT set of retryable classes */
    double retry_after_cap_ms; /* a server's Retry-After is capped to this */
};

/* Where a request stands after an attempt failed. */
struct sl_retry_state {
    unsigned attempt;    /* attempts made so far, >= 1 */
    double elapsed_ms;   /* since the first attempt started */
    double prev_wait_ms; /* the last wait chosen (decorrelated jitter), 0 at first */
};

enum sl_retry_verdict {
    SL_RETRY_AGAIN,         /* wait wait_ms, then attempt again */
    SL_RETRY_NOT_RETRYABLE, /* the error is not in retry_on: give up now */
    SL_RETRY_MAX_ATTEMPTS,  /* attempts used up */
    SL_RETRY_DEADLINE,      /* the next attempt would start past max_delay_ms */
};

struct sl_retry_decision {
    enum sl_retry_verdict verdict;
    double wait_ms;
};

/* Tenacity-like defaults: 5 attempts, full jitter from 100 ms doubling to
 * at most 10 s, transient errors only, Retry-After capped at 30 s. */
void sl_retry_policy_default(struct sl_retry_policy *policy);

/* The wait before attempt (state->attempt + 1), ignoring stop conditions. */
double sl_retry_wait(const struct sl_retry_policy *policy, const struct sl_retry_state *state,
                     struct sl_rng *rng);

/* retry_after_ms < 0 means the server gave none. */
struct sl_retry_decision sl_retry_decide(const struct sl_retry_policy *policy,
                                         const struct sl_retry_state *state, enum sl_err error,
                                         double retry_after_ms, struct sl_rng *rng);

const char *sl_retry_verdict_name(enum sl_retry_verdict verdict);
const char *sl_wait_kind_name(enum sl_wait_kind kind);
/* Parses "none", "fixed", "random", "exponential", "full-jitter",
 * "decorrelated"; returns the kind or -1. */
int sl_wait_kind_parse(const char *text);

#endif
