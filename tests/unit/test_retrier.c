/* Retry driver on a real loop, with a scripted operation. */
#include "../support.h"
#include "retry/retrier.h"

#define MAX_SCRIPT 16

/* A fake operation: attempt n reports script[n-1] (SL_OK ends it), after
 * op_ms on a uv timer (async) or at once (sync). */
struct op {
    uv_timer_t timer;
    int async;
    uint64_t op_ms;
    enum sl_err script[MAX_SCRIPT];
    double retry_after[MAX_SCRIPT]; /* < 0: none */
    int nscript;                    /* attempts past the script repeat the last entry */
    int attempts;                   /* attempt() calls */
    unsigned seen_attempt[MAX_SCRIPT];
    int value; /* the result, set on success */
    /* before_sleep records */
    int hooks;
    double hook_wait[MAX_SCRIPT];
    enum sl_err hook_error[MAX_SCRIPT];
    unsigned hook_attempt[MAX_SCRIPT];
    int hook_verdict_bad;
    /* on_done records */
    int done_calls;
    uint64_t t0;
    double done_ms;
    struct sl_retry_outcome outcome;
    struct sl_retrier *r;
};

static void op_report(struct op *op)
{
    int i = op->attempts - 1;
    if (i >= op->nscript)
        i = op->nscript - 1;
    enum sl_err e = op->script[i];
    if (e == SL_OK)
        op->value = 42;
    sl_retrier_report(op->r, e, op->retry_after[i]);
}

static void op_timer_cb(uv_timer_t *timer)
{
    op_report(timer->data);
}

static void attempt_fn(struct sl_retrier *r)
{
    struct op *op = r->data;
    cr_assert_eq(r->sleeping, 0, "attempt while sleeping");
    cr_assert(r->running);
    if (op->attempts < MAX_SCRIPT)
        op->seen_attempt[op->attempts] = r->state.attempt;
    op->attempts++;
    if (op->async)
        uv_timer_start(&op->timer, op_timer_cb, op->op_ms, 0);
    else
        op_report(op);
}

static void before_sleep_fn(struct sl_retrier *r, enum sl_err error,
                            const struct sl_retry_decision *d)
{
    struct op *op = r->data;
    if (d->verdict != SL_RETRY_AGAIN)
        op->hook_verdict_bad++;
    if (op->hooks < MAX_SCRIPT) {
        op->hook_wait[op->hooks] = d->wait_ms;
        op->hook_error[op->hooks] = error;
        op->hook_attempt[op->hooks] = r->state.attempt;
    }
    op->hooks++;
}

static void done_fn(struct sl_retrier *r)
{
    struct op *op = r->data;
    op->done_calls++;
    op->done_ms = sl_test_ms_since(op->t0);
    op->outcome = r->outcome;
    cr_assert_eq(r->running, 0);
}

static void op_init(uv_loop_t *loop, struct op *op, struct sl_retrier *r)
{
    *op = (struct op){.async = 1, .op_ms = 1, .r = r};
    for (int i = 0; i < MAX_SCRIPT; i++)
        op->retry_after[i] = -1;
    cr_assert_eq(uv_timer_init(loop, &op->timer), 0);
    op->timer.data = op;
    cr_assert_eq(sl_retrier_init(loop, r), 0);
    r->data = op;
}

static void run(struct sl_retrier *r, struct op *op, const struct sl_retry_policy *p,
                struct sl_rng *rng)
{
    uv_update_time(r->timer.loop); /* timers count from now, not from loop init */
    op->t0 = uv_hrtime();
    sl_retrier_run(r, p, rng, attempt_fn, before_sleep_fn, done_fn);
}

static void close_all(uv_loop_t *loop, struct sl_retrier *r, struct op *op)
{
    sl_retrier_close(r, NULL);
    uv_close((uv_handle_t *)&op->timer, NULL);
    sl_test_close_loop(loop);
}

static struct sl_retry_policy fixed_policy(double ms, unsigned max_attempts)
{
    struct sl_retry_policy p;
    sl_retry_policy_default(&p);
    p.wait = SL_WAIT_FIXED;
    p.fixed_ms = ms;
    p.max_attempts = max_attempts;
    return p;
}

/* Every test's fixture: a loop, a retrier and its scripted operation, and
 * an rng seeded (1, 1); the test closes them with close_all. */
static struct {
    uv_loop_t loop;
    struct sl_retrier r;
    struct op op;
    struct sl_rng rng;
} fx;

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&fx.loop), 0);
    op_init(&fx.loop, &fx.op, &fx.r);
    sl_rng_seed(&fx.rng, 1, 1);
}

TestSuite(retrier, .init = setup);

Test(retrier, always_failing_stops_after_three_attempts)
{
    fx.op.script[0] = SL_E_TIMEOUT;
    fx.op.script[1] = SL_E_RATE_LIMITED;
    fx.op.script[2] = SL_E_UNAVAILABLE;
    fx.op.nscript = 3;
    struct sl_retry_policy p = fixed_policy(5, 3);

    run(&fx.r, &fx.op, &p, &fx.rng);
    cr_assert_eq(fx.op.done_calls, 0, "async attempts: not done yet");
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.attempts, 3);
    cr_assert_eq(fx.op.outcome.attempts, 3);
    cr_assert_eq(fx.op.outcome.last_error, SL_E_UNAVAILABLE, "last error %s",
                 sl_err_name(fx.op.outcome.last_error));
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_MAX_ATTEMPTS, "reason %s",
                 sl_retry_verdict_name(fx.op.outcome.reason));
    cr_assert_float_eq(fx.op.outcome.total_wait_ms, 10, 1e-9);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fx.op.seen_attempt[i], (unsigned)i + 1);
    /* 3 attempts of 1 ms and 2 sleeps of 5 ms, each timer on libuv's
     * whole-ms clock (up to ~1 ms early). */
    cr_assert_geq(fx.op.done_ms, 7.0, "done after %.2f ms", fx.op.done_ms);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, succeeds_on_second_try)
{
    fx.op.script[0] = SL_E_CONN_RESET;
    fx.op.script[1] = SL_OK;
    fx.op.nscript = 2;
    struct sl_retry_policy p = fixed_policy(1, 5);

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.attempts, 2);
    cr_assert_eq(fx.op.outcome.attempts, 2);
    cr_assert_eq(fx.op.outcome.last_error, SL_OK);
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_AGAIN);
    cr_assert_eq(((struct op *)fx.r.data)->value, 42, "the result comes back through r->data");
    cr_assert_eq(fx.op.hooks, 1);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, permanent_error_is_attempted_once)
{
    fx.op.script[0] = SL_E_BAD_REQUEST;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(1, 5);

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.attempts, 1);
    cr_assert_eq(fx.op.outcome.attempts, 1);
    cr_assert_eq(fx.op.outcome.last_error, SL_E_BAD_REQUEST);
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_NOT_RETRYABLE);
    cr_assert_eq(fx.op.hooks, 0, "no sleep, no before_sleep");
    cr_assert_eq(fx.op.outcome.total_wait_ms, 0);
    cr_assert_eq(fx.op.value, 0);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, before_sleep_fires_once_per_retry_with_the_wait)
{
    const enum sl_err script[] = {SL_E_TIMEOUT, SL_E_RATE_LIMITED, SL_E_SERVER_ERROR,
                                  SL_E_BAD_GATEWAY, SL_OK};
    for (int i = 0; i < 5; i++)
        fx.op.script[i] = script[i];
    fx.op.nscript = 5;
    fx.op.retry_after[1] = 1; /* the rate-limited reply says: retry after 1 ms */
    struct sl_retry_policy p = fixed_policy(3, 10);

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.outcome.attempts, 5);
    cr_assert_eq(fx.op.outcome.last_error, SL_OK);
    cr_assert_eq(fx.op.hooks, 4, "before_sleep ran %d times for 5 attempts", fx.op.hooks);
    cr_assert_eq(fx.op.hook_verdict_bad, 0);
    const double waits[] = {3, 1, 3, 3};
    double total = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(fx.op.hook_wait[i], waits[i], 1e-9, "hook %d wait %g", i,
                           fx.op.hook_wait[i]);
        cr_assert_eq(fx.op.hook_error[i], script[i], "hook %d error %s", i,
                     sl_err_name(fx.op.hook_error[i]));
        cr_assert_eq(fx.op.hook_attempt[i], (unsigned)i + 1, "hook %d after attempt %u", i,
                     fx.op.hook_attempt[i]);
        total += fx.op.hook_wait[i];
    }
    cr_assert_float_eq(fx.op.outcome.total_wait_ms, total, 1e-9);
    cr_assert_float_eq(fx.r.state.prev_wait_ms, 3, 1e-9);
    close_all(&fx.loop, &fx.r, &fx.op);
}

/* Hook waits under a random policy are exactly the policy's decisions:
 * replay them with the same seed. */
Test(retrier, hook_gets_the_seeded_decisions)
{
    fx.op.script[0] = SL_E_UNAVAILABLE;
    fx.op.nscript = 1;
    struct sl_retry_policy p;
    sl_retry_policy_default(&p);
    p.wait = SL_WAIT_RANDOM;
    p.min_ms = 0;
    p.max_ms = 3;
    p.max_attempts = 6;
    struct sl_rng replay;
    sl_rng_seed(&fx.rng, 77, 3);
    replay = fx.rng;

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.outcome.attempts, 6);
    cr_assert_eq(fx.op.hooks, 5);
    double total = 0;
    for (int i = 0; i < 5; i++) {
        double w = sl_rng_range(&replay, 0, 3);
        cr_assert_float_eq(fx.op.hook_wait[i], w, 1e-12, "hook %d: %g, replay %g", i,
                           fx.op.hook_wait[i], w);
        total += w;
    }
    cr_assert_float_eq(fx.op.outcome.total_wait_ms, total, 1e-9);
    close_all(&fx.loop, &fx.r, &fx.op);
}

/* --- cancel ---------------------------------------------------------------- */

struct cancel_ctx {
    struct sl_retrier *r;
    struct op *op;
    int rc;
    int calls;
    int done_before;
    int done_after; /* on_done calls once the cancel returned */
    int abort_op;   /* also stop the op and report it cancelled */
};

static void canceller_cb(uv_timer_t *timer)
{
    struct cancel_ctx *c = timer->data;
    c->calls++;
    c->done_before = c->op->done_calls;
    c->rc = sl_retrier_cancel(c->r);
    if (c->abort_op && c->rc == UV_EBUSY) {
        uv_timer_stop(&c->op->timer);
        sl_retrier_report(c->r, SL_E_CANCELLED, -1);
    }
    c->done_after = c->op->done_calls;
}

Test(retrier, cancel_while_sleeping)
{
    fx.op.script[0] = SL_E_UNAVAILABLE;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(60000, 5); /* a long sleep */
    uv_timer_t canceller;
    cr_assert_eq(uv_timer_init(&fx.loop, &canceller), 0);
    struct cancel_ctx c = {.r = &fx.r, .op = &fx.op};
    canceller.data = &c;

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_timer_start(&canceller, canceller_cb, 20, 0);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.done_before, 0);
    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.attempts, 1);
    cr_assert_eq(fx.op.outcome.attempts, 1);
    cr_assert_eq(fx.op.outcome.last_error, SL_E_CANCELLED, "last error %s",
                 sl_err_name(fx.op.outcome.last_error));
    /* Cut short: on_done ran inside the cancel, not at the end of the 60 s
     * sleep (state, where a ceiling on done_ms would break under load). */
    cr_assert_eq(c.done_after, 1, "the 60 s sleep was not cut short");
    cr_assert_not(uv_is_active((uv_handle_t *)&fx.r.timer));
    cr_assert_eq(fx.r.sleeping, 0);

    /* Cancelling a finished retrier does nothing. */
    cr_assert_eq(sl_retrier_cancel(&fx.r), 0);
    cr_assert_eq(fx.op.done_calls, 1);

    uv_close((uv_handle_t *)&canceller, NULL);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, cancel_during_an_attempt_is_busy)
{
    fx.op.script[0] = SL_E_UNAVAILABLE;
    fx.op.nscript = 1;
    fx.op.op_ms = 60000; /* a slow attempt */
    struct sl_retry_policy p = fixed_policy(1, 5);
    uv_timer_t canceller;
    cr_assert_eq(uv_timer_init(&fx.loop, &canceller), 0);
    struct cancel_ctx c = {.r = &fx.r, .op = &fx.op, .abort_op = 1};
    canceller.data = &c;

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_timer_start(&canceller, canceller_cb, 10, 0);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(c.rc, UV_EBUSY, "cancel during an attempt returned %s", uv_err_name(c.rc));
    cr_assert_eq(c.done_before, 0);
    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.attempts, 1, "a cancelled attempt is never retried");
    cr_assert_eq(fx.op.outcome.last_error, SL_E_CANCELLED);
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_NOT_RETRYABLE);
    cr_assert_eq(c.done_after, 1, "the cancelled attempt's report did not end the retrier");

    uv_close((uv_handle_t *)&canceller, NULL);
    close_all(&fx.loop, &fx.r, &fx.op);
}

/* --- more flows --------------------------------------------------------------- */

Test(retrier, stop_after_delay_never_sleeps_past_it)
{
    fx.op.script[0] = SL_E_UNAVAILABLE;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(10, 0);
    p.max_delay_ms = 30;

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);

    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_DEADLINE, "reason %s",
                 sl_retry_verdict_name(fx.op.outcome.reason));
    cr_assert_eq(fx.op.outcome.last_error, SL_E_UNAVAILABLE);
    cr_assert_geq(fx.op.outcome.attempts, 1);
    cr_assert_leq(fx.op.outcome.attempts, 3, "%u attempts: slept past 30 ms",
                  fx.op.outcome.attempts);
    cr_assert_eq(fx.op.hooks, (int)fx.op.outcome.attempts - 1);
    cr_assert_lt(fx.op.outcome.total_wait_ms, 30.0);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, synchronous_success_finishes_inside_run)
{
    fx.op.async = 0;
    fx.op.script[0] = SL_OK;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(1, 5);

    run(&fx.r, &fx.op, &p, &fx.rng);
    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.outcome.attempts, 1);
    cr_assert_eq(fx.op.outcome.last_error, SL_OK);
    cr_assert_eq(fx.op.value, 42);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, synchronous_failures_with_no_wait)
{
    fx.op.async = 0;
    fx.op.script[0] = SL_E_CONN_REFUSED;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(0, 4);
    p.wait = SL_WAIT_NONE;

    run(&fx.r, &fx.op, &p, &fx.rng);
    cr_assert_eq(fx.op.done_calls, 0, "even a 0 ms wait goes through the loop");
    cr_assert(fx.r.sleeping);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.outcome.attempts, 4);
    cr_assert_eq(fx.op.outcome.reason, SL_RETRY_MAX_ATTEMPTS);
    cr_assert_eq(fx.op.hooks, 3);
    cr_assert_eq(fx.op.outcome.total_wait_ms, 0);
    close_all(&fx.loop, &fx.r, &fx.op);
}

Test(retrier, can_run_again)
{
    fx.op.script[0] = SL_E_TIMEOUT;
    fx.op.nscript = 1;
    struct sl_retry_policy p = fixed_policy(1, 3);

    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    cr_assert_eq(fx.op.done_calls, 1);
    cr_assert_eq(fx.op.outcome.attempts, 3);
    cr_assert_float_eq(fx.op.outcome.total_wait_ms, 2, 1e-9);

    /* Second run on the same retrier: counters start afresh. */
    fx.op.attempts = 0;
    fx.op.hooks = 0;
    fx.op.script[0] = SL_E_TIMEOUT;
    fx.op.script[1] = SL_OK;
    fx.op.nscript = 2;
    run(&fx.r, &fx.op, &p, &fx.rng);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    cr_assert_eq(fx.op.done_calls, 2);
    cr_assert_eq(fx.op.outcome.attempts, 2);
    cr_assert_eq(fx.op.outcome.last_error, SL_OK);
    cr_assert_float_eq(fx.op.outcome.total_wait_ms, 1, 1e-9);
    cr_assert_eq(fx.op.hooks, 1);
    close_all(&fx.loop, &fx.r, &fx.op);
}
