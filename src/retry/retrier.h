/* Retry driver: runs attempts of an async operation until the policy says
 * stop, sleeping between them on a libuv timer or a deadline (never a
 * blocking sleep).
 *
 * Flow: sl_retrier_run() calls attempt(); the operation reports each outcome
 * with sl_retrier_report(). On failure the pure policy decides; on a retry
 * before_sleep() runs first (the place to log "attempt n of max, waiting w,
 * because e"), then the timer waits, then attempt() runs again. on_done()
 * runs exactly once, with r->outcome describing how it ended.
 *
 * Ownership: the caller owns the struct and the operation. The retrier
 * sleeps either on a timer of its own: init with sl_retrier_init(), close
 * with sl_retrier_close() and free only from the close callback; or on a
 * deadline in its owner's set (core/deadlines.h; the gateway's requests,
 * no handle each): init with sl_retrier_init_on(), and free once it is
 * not sleeping (cancel it first). A retrier can run many times in turn
 * (the simulate slots reuse theirs). */
#ifndef SL_RETRIER_H
#define SL_RETRIER_H

#include <stdint.h>
#include <uv.h>

#include "core/deadlines.h"
#include "retry/policy.h"

/* The final error: how many attempts, the last error, and why it stopped. */
struct sl_retry_outcome {
    unsigned attempts;
    enum sl_err last_error; /* SL_OK when the last attempt succeeded */
    enum sl_retry_verdict reason;
    double total_wait_ms; /* time spent sleeping between attempts */
};

struct sl_retrier;
typedef void (*sl_retrier_attempt_fn)(struct sl_retrier *r);
typedef void (*sl_retrier_sleep_fn)(struct sl_retrier *r, enum sl_err error,
                                    const struct sl_retry_decision *decision);
typedef void (*sl_retrier_done_fn)(struct sl_retrier *r);

struct sl_retrier {
    const struct sl_retry_policy *policy;
    struct sl_rng *rng;
    uv_timer_t timer;         /* sl_retrier_init */
    struct sl_deadlines *set; /* sl_retrier_init_on: wake is in it */
    struct sl_deadline wake;
    uint64_t first_start_ns;
    struct sl_retry_state state;
    struct sl_retry_outcome outcome;
    sl_retrier_attempt_fn attempt;
    sl_retrier_sleep_fn before_sleep; /* may be NULL */
    sl_retrier_done_fn on_done;
    void *data;
    int running, sleeping;
};

int sl_retrier_init(uv_loop_t *loop, struct sl_retrier *r);
void sl_retrier_close(struct sl_retrier *r, uv_close_cb close_cb);
void sl_retrier_init_on(struct sl_deadlines *set, struct sl_retrier *r);

/* Starts attempt 1 now (synchronously). */
void sl_retrier_run(struct sl_retrier *r, const struct sl_retry_policy *policy, struct sl_rng *rng,
                    sl_retrier_attempt_fn attempt, sl_retrier_sleep_fn before_sleep,
                    sl_retrier_done_fn on_done);

/* The outcome of the current attempt. retry_after_ms < 0: none given. */
void sl_retrier_report(struct sl_retrier *r, enum sl_err error, double retry_after_ms);

/* Stops a retrier that is sleeping between attempts: on_done runs now with
 * last_error SL_E_CANCELLED. Returns 0, or UV_EBUSY when an attempt is in
 * progress (cancel the operation; it reports SL_E_CANCELLED, which is never
 * retried). */
int sl_retrier_cancel(struct sl_retrier *r);

#endif
