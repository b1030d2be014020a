#include "retry/retrier.h"

#include <assert.h>

int sl_retrier_init(uv_loop_t *loop, struct sl_retrier *r)
{
    *r = (struct sl_retrier){0};
    int rc = uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    return rc;
}

void sl_retrier_close(struct sl_retrier *r, uv_close_cb close_cb)
{
    assert(r->set == NULL);
    uv_close((uv_handle_t *)&r->timer, close_cb);
}

void sl_retrier_init_on(struct sl_deadlines *set, struct sl_retrier *r)
{
    *r = (struct sl_retrier){.set = set};
    sl_deadline_init(&r->wake);
}

void sl_retrier_run(struct sl_retrier *r, const struct sl_retry_policy *policy, struct sl_rng *rng,
                    sl_retrier_attempt_fn attempt, sl_retrier_sleep_fn before_sleep,
                    sl_retrier_done_fn on_done)
{
    r->policy = policy;
    r->rng = rng;
    r->attempt = attempt;
    r->before_sleep = before_sleep;
    r->on_done = on_done;
    r->state = (struct sl_retry_state){.attempt = 0};
    r->outcome = (struct sl_retry_outcome){0};
    r->first_start_ns = uv_hrtime();
    r->running = 1;
    r->sleeping = 0;
    r->state.attempt = 1;
    r->attempt(r);
}

static void finish(struct sl_retrier *r, enum sl_err error, enum sl_retry_verdict reason)
{
    r->running = 0;
    r->outcome.attempts = r->state.attempt;
    r->outcome.last_error = error;
    r->outcome.reason = reason;
    r->on_done(r);
}

static void wake(struct sl_retrier *r)
{
    r->sleeping = 0;
    r->state.attempt++;
    r->attempt(r);
}

static void on_wake(uv_timer_t *timer)
{
    wake(timer->data);
}

static void on_wake_deadline(struct sl_deadline *d)
{
    wake(sl_container_of(d, struct sl_retrier, wake));
}

void sl_retrier_report(struct sl_retrier *r, enum sl_err error, double retry_after_ms)
{
    if (error == SL_OK) {
        finish(r, SL_OK, SL_RETRY_AGAIN);
        return;
    }
    r->state.elapsed_ms = (double)(uv_hrtime() - r->first_start_ns) / 1e6;
    struct sl_retry_decision d =
        sl_retry_decide(r->policy, &r->state, error, retry_after_ms, r->rng);
    if (d.verdict != SL_RETRY_AGAIN) {
        finish(r, error, d.verdict);
        return;
    }
    if (r->before_sleep)
        r->before_sleep(r, error, &d);
    r->state.prev_wait_ms = d.wait_ms;
    r->outcome.total_wait_ms += d.wait_ms;
    r->sleeping = 1;
    /* libuv timers (and deadlines) have millisecond resolution: round to
     * nearest. */
    uint64_t ms = (uint64_t)(d.wait_ms + 0.5);
    if (r->set)
        sl_deadline_start(r->set, &r->wake, ms, on_wake_deadline);
    else
        uv_timer_start(&r->timer, on_wake, ms, 0);
}

int sl_retrier_cancel(struct sl_retrier *r)
{
    if (!r->running)
        return 0;
    if (!r->sleeping)
        return UV_EBUSY;
    if (r->set)
        sl_deadline_stop(&r->wake);
    else
        uv_timer_stop(&r->timer);
    r->sleeping = 0;
    finish(r, SL_E_CANCELLED, SL_RETRY_NOT_RETRYABLE);
    return 0;
}
