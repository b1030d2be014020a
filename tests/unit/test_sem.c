/* Async counting semaphore: FIFO hand-over, no barging, timeouts, cancel,
 * and a bounded-concurrency scenario on a real loop. */
#include <stdlib.h>

#include "../support.h"
#include "core/sem.h"

/* A waiter that records the order and status of its callback. */
struct rec_waiter {
    struct sl_sem_waiter w;
    int id;
    int calls;
    int status;
};

static int order[16];
static int norder;

static void rec_cb(struct sl_sem_waiter *waiter, int status)
{
    struct rec_waiter *rw = sl_container_of(waiter, struct rec_waiter, w);
    rw->calls++;
    rw->status = status;
    order[norder++] = rw->id;
}

static void never_cb(struct sl_sem_waiter *waiter, int status)
{
    (void)waiter;
    (void)status;
    cr_assert_fail("callback must not run");
}

Test(sem, init_state)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 3);
    cr_assert_eq(sem.capacity, 3);
    cr_assert_eq(sem.available, 3);
    cr_assert_eq(sem.max_held, 0);
    cr_assert_eq(sem.queued, 0);
    cr_assert_eq(sl_sem_held(&sem), 0);
}

Test(sem, acquire_when_free_returns_0_without_cb)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 2);
    struct sl_sem_waiter a, b;
    cr_assert_eq(sl_sem_acquire(&sem, &a, never_cb), 0);
    cr_assert_eq(sl_sem_acquire(&sem, &b, never_cb), 0);
    cr_assert_eq(sem.available, 0);
    cr_assert_eq(sl_sem_held(&sem), 2);
    cr_assert_eq(sem.max_held, 2);
    cr_assert_eq(sem.queued, 0);
    /* An immediate grant is not queued: cancelling it finds nothing. */
    cr_assert_eq(sl_sem_cancel(&a), UV_ENOENT);
    sl_sem_release(&sem);
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 2);
    cr_assert_eq(sem.max_held, 2);
}

Test(sem, try_acquire_fails_when_empty)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    cr_assert_eq(sem.available, 0);
    cr_assert_eq(sl_sem_try_acquire(&sem), UV_EAGAIN);
    cr_assert_eq(sem.available, 0, "a failed try_acquire must not take anything");
    cr_assert_eq(sem.queued, 0, "try_acquire never queues");
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    sl_sem_release(&sem);
}

Test(sem, zero_permits_never_grants_at_once)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 0);
    cr_assert_eq(sl_sem_try_acquire(&sem), UV_EAGAIN);
    struct rec_waiter a = {.id = 1};
    cr_assert_eq(sl_sem_acquire(&sem, &a.w, rec_cb), 1);
    cr_assert_eq(sl_sem_cancel(&a.w), 0);
    cr_assert_eq(a.calls, 0);
    cr_assert_eq(sem.queued, 0);
}

Test(sem, waiters_are_served_in_fifo_order)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    norder = 0;
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);

    struct rec_waiter w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (struct rec_waiter){.id = i};
        cr_assert_eq(sl_sem_acquire(&sem, &w[i].w, rec_cb), 1, "waiter %d should queue", i);
    }
    cr_assert_eq(sem.queued, 5);
    cr_assert_eq(norder, 0, "no callback before a release");

    for (int i = 0; i < 5; i++) {
        sl_sem_release(&sem); /* hands the permit to the head waiter */
        cr_assert_eq(norder, i + 1);
        cr_assert_eq(order[i], i, "grant %d went to waiter %d", i, order[i]);
        cr_assert_eq(w[i].calls, 1);
        cr_assert_eq(w[i].status, 0);
        cr_assert_eq(sem.available, 0, "hand-over keeps the permit held");
        cr_assert_eq(sem.queued, (size_t)(4 - i));
    }
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    cr_assert_eq(sem.max_held, 1);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(w[i].calls, 1, "waiter %d called %d times", i, w[i].calls);
}

Test(sem, try_acquire_does_not_barge_past_waiters)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 2);
    norder = 0;
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct rec_waiter a = {.id = 1}, b = {.id = 2};
    cr_assert_eq(sl_sem_acquire(&sem, &a.w, rec_cb), 1);
    cr_assert_eq(sl_sem_acquire(&sem, &b.w, rec_cb), 1);

    sl_sem_release(&sem); /* to a */
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 0);
    /* b still waits: a newcomer must not take a permit ahead of it, even
     * with one freshly released. */
    sl_sem_release(&sem); /* to b */
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(sem.available, 0);

    struct rec_waiter c = {.id = 3};
    cr_assert_eq(sl_sem_acquire(&sem, &c.w, rec_cb), 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), UV_EAGAIN);
    sl_sem_release(&sem); /* to c, not to the pool */
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(sem.available, 0);
    cr_assert_eq(sl_sem_try_acquire(&sem), UV_EAGAIN);
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    /* With nobody queued and a permit free, try_acquire succeeds again. */
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    sl_sem_release(&sem);
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 2);
}

Test(sem, cancelled_waiter_does_not_block_later_acquires)
{
    /* After the only waiter was cancelled the queue is empty again, so a
     * released permit goes to the pool and the next acquire is immediate. */
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct rec_waiter a = {.id = 1};
    cr_assert_eq(sl_sem_acquire(&sem, &a.w, rec_cb), 1);
    cr_assert_eq(sl_sem_cancel(&a.w), 0);
    sl_sem_release(&sem);
    cr_assert_eq(a.calls, 0);
    cr_assert_eq(sem.available, 1);
    struct sl_sem_waiter b;
    cr_assert_eq(sl_sem_acquire(&sem, &b, never_cb), 0);
    sl_sem_release(&sem);
}

/* --- timeouts ------------------------------------------------------------ */

struct timed_ctx {
    struct sl_sem_timed_waiter tw;
    int calls;
    int status;
    uint64_t t0;
    double elapsed_ms;
};

static void timed_cb(struct sl_sem_waiter *waiter, int status)
{
    struct timed_ctx *ctx = sl_container_of(
        sl_container_of(waiter, struct sl_sem_timed_waiter, base), struct timed_ctx, tw);
    ctx->calls++;
    ctx->status = status;
    ctx->elapsed_ms = sl_test_ms_since(ctx->t0);
}

Test(sem, acquire_timeout_expires_without_permit)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);

    struct timed_ctx ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &ctx.tw), 0);
    uv_update_time(&loop);
    ctx.t0 = uv_hrtime();
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &ctx.tw, 20, timed_cb), 1);
    cr_assert_eq(sem.queued, 1);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(ctx.calls, 1);
    cr_assert_eq(ctx.status, UV_ETIMEDOUT);
    cr_assert_geq(ctx.elapsed_ms, 15.0, "timed out after %.1f ms", ctx.elapsed_ms);
    cr_assert_eq(sem.queued, 0, "a timed-out waiter leaves the queue");
    cr_assert_eq(sem.available, 0, "timing out must not grant or return a permit");
    cr_assert_eq(sl_sem_cancel(&ctx.tw.base), UV_ENOENT);

    /* The permit release now goes back to the pool, not to the dead waiter. */
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    cr_assert_eq(ctx.calls, 1);

    sl_sem_timed_close(&ctx.tw, NULL);
    sl_test_close_loop(&loop);
}

Test(sem, acquire_timeout_granted_before_expiry_stops_timer)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sl_sem sem;
    sl_sem_init(&sem, 1);

    struct timed_ctx free_ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &free_ctx.tw), 0);
    /* Free permit: immediate, no callback, no timer. */
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &free_ctx.tw, 10, timed_cb), 0);
    cr_assert_eq(free_ctx.calls, 0);
    cr_assert_not(uv_is_active((uv_handle_t *)&free_ctx.tw.timer));

    struct timed_ctx ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &ctx.tw), 0);
    ctx.t0 = uv_hrtime();
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &ctx.tw, 10000, timed_cb), 1);
    cr_assert(uv_is_active((uv_handle_t *)&ctx.tw.timer));
    sl_sem_release(&sem); /* hand-over */
    cr_assert_eq(ctx.calls, 1);
    cr_assert_eq(ctx.status, 0);
    cr_assert_not(uv_is_active((uv_handle_t *)&ctx.tw.timer), "grant must stop the timer");

    /* The loop has nothing to wait for: the 10 s timer is gone (asserted
     * on the loop's state, not with a ceiling on the run's duration). */
    cr_assert_not(uv_loop_alive(&loop), "a timer still holds the loop");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ctx.calls, 1);

    /* Reuse the same timed waiter for a second acquisition. */
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &free_ctx.tw, 5, timed_cb), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(free_ctx.calls, 1);
    cr_assert_eq(free_ctx.status, UV_ETIMEDOUT);

    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    sl_sem_timed_close(&ctx.tw, NULL);
    sl_sem_timed_close(&free_ctx.tw, NULL);
    sl_test_close_loop(&loop);
}

Test(sem, timed_close_while_queued_unlinks)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct timed_ctx ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &ctx.tw), 0);
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &ctx.tw, 50, timed_cb), 1);
    sl_sem_timed_close(&ctx.tw, NULL);
    cr_assert_eq(sem.queued, 0);
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    sl_test_close_loop(&loop);
    cr_assert_eq(ctx.calls, 0);
}

/* --- cancel --------------------------------------------------------------- */

Test(sem, cancel_queued_waiter)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    norder = 0;
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct rec_waiter a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    cr_assert_eq(sl_sem_acquire(&sem, &a.w, rec_cb), 1);
    cr_assert_eq(sl_sem_acquire(&sem, &b.w, rec_cb), 1);
    cr_assert_eq(sl_sem_acquire(&sem, &c.w, rec_cb), 1);

    unsigned avail = sem.available;
    cr_assert_eq(sl_sem_cancel(&b.w), 0);
    cr_assert_eq(sem.available, avail, "cancel must not change the permit count");
    cr_assert_eq(sem.queued, 2);
    cr_assert_eq(sl_sem_cancel(&b.w), UV_ENOENT, "cancel twice");
    cr_assert_eq(sem.queued, 2);

    sl_sem_release(&sem); /* to a */
    sl_sem_release(&sem); /* to c: b was skipped */
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 3);
    cr_assert_eq(b.calls, 0, "a cancelled waiter's callback never runs");
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    cr_assert_eq(b.calls, 0);
}

Test(sem, cancel_timed_waiter_stops_its_timer)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct timed_ctx ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &ctx.tw), 0);
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &ctx.tw, 5, timed_cb), 1);
    cr_assert_eq(sl_sem_cancel(&ctx.tw.base), 0);
    cr_assert_not(uv_is_active((uv_handle_t *)&ctx.tw.timer));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ctx.calls, 0, "a cancelled timed waiter must not time out later");
    cr_assert_eq(sem.available, 0);
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1);
    sl_sem_timed_close(&ctx.tw, NULL);
    sl_test_close_loop(&loop);
}

Test(sem, cancel_after_grant_keeps_permit)
{
    struct sl_sem sem;
    sl_sem_init(&sem, 2);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct rec_waiter a = {.id = 1};
    norder = 0;
    cr_assert_eq(sl_sem_acquire(&sem, &a.w, rec_cb), 1);
    sl_sem_release(&sem); /* granted to a */
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.status, 0);

    cr_assert_eq(sl_sem_cancel(&a.w), UV_ENOENT);
    cr_assert_eq(sl_sem_held(&sem), 2, "a's permit is still held after the failed cancel");
    cr_assert_eq(sem.available, 0);

    sl_sem_release(&sem); /* a's permit */
    cr_assert_eq(sem.available, 1);
    sl_sem_release(&sem); /* the remaining try_acquire permit */
    cr_assert_eq(sem.available, sem.capacity, "no leak, no double return");
    cr_assert_eq(sl_sem_held(&sem), 0);
    cr_assert_eq(a.calls, 1);
}

/* --- drain ------------------------------------------------------------------ */

static struct sl_sem_waiter *drained[8];
static int drained_status[8];
static int ndrained;

static void drain_cb(struct sl_sem_waiter *waiter, int status)
{
    drained[ndrained] = waiter;
    drained_status[ndrained++] = status;
}

Test(sem, drain_cancels_every_queued_waiter_oldest_first)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sl_sem sem;
    sl_sem_init(&sem, 1);
    ndrained = 0;
    cr_assert_eq(sl_sem_try_acquire(&sem), 0);
    struct sl_sem_waiter w[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sl_sem_acquire(&sem, &w[i], never_cb), 1);
    struct timed_ctx ctx = {0};
    cr_assert_eq(sl_sem_timed_init(&loop, &ctx.tw), 0);
    cr_assert_eq(sl_sem_acquire_timeout(&sem, &ctx.tw, 5, timed_cb), 1);

    /* Each waiter is reported through the drain callback, not its own. */
    cr_assert_eq(sl_sem_drain(&sem, drain_cb), 4);
    cr_assert_eq(ndrained, 4);
    cr_assert_eq(sem.queued, 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(drained[i], &w[i], "drain order: slot %d", i);
        cr_assert_eq(sl_sem_cancel(&w[i]), UV_ENOENT);
    }
    cr_assert_eq(drained[3], &ctx.tw.base);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(drained_status[i], UV_ECANCELED);
    cr_assert_not(uv_is_active((uv_handle_t *)&ctx.tw.timer), "drain stops a waiter's timer");
    cr_assert_eq(sem.available, 0, "drain grants and returns nothing");
    cr_assert_eq(sl_sem_drain(&sem, drain_cb), 0);

    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ctx.calls, 0, "a drained timed waiter must not time out later");
    sl_sem_release(&sem);
    cr_assert_eq(sem.available, 1, "the held permit goes back to the pool");
    sl_sem_timed_close(&ctx.tw, NULL);
    sl_test_close_loop(&loop);
}

/* --- scenario: 100 tasks under a semaphore of 5 ---------------------------- */

#define NTASKS   100
#define NPERMITS 5

struct bounded;

struct btask {
    struct sl_sem_waiter w;
    uv_timer_t timer;
    struct bounded *b;
    int id;
    int started, finished;
};

struct bounded {
    struct sl_sem sem;
    struct btask tasks[NTASKS];
    int in_flight, max_in_flight, finished;
    int start_order[NTASKS];
    int nstarted;
};

static void btask_timer_done(uv_timer_t *timer)
{
    struct btask *t = timer->data;
    struct bounded *b = t->b;
    cr_assert_eq(t->started, 1);
    cr_assert_eq(t->finished, 0);
    t->finished = 1;
    b->in_flight--;
    b->finished++;
    sl_sem_release(&b->sem); /* may hand over and start the next task at once */
}

static void btask_run(struct btask *t)
{
    struct bounded *b = t->b;
    cr_assert_eq(t->started, 0, "task %d started twice", t->id);
    t->started = 1;
    b->start_order[b->nstarted++] = t->id;
    b->in_flight++;
    if (b->in_flight > b->max_in_flight)
        b->max_in_flight = b->in_flight;
    cr_assert_leq(b->in_flight, NPERMITS);
    cr_assert_eq((unsigned)b->in_flight, sl_sem_held(&b->sem));
    uv_timer_start(&t->timer, btask_timer_done, 1 + (uint64_t)(t->id % 5), 0);
}

static void btask_granted(struct sl_sem_waiter *waiter, int status)
{
    cr_assert_eq(status, 0);
    btask_run(sl_container_of(waiter, struct btask, w));
}

Test(sem, hundred_tasks_five_permits)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct bounded *b = calloc(1, sizeof(*b));
    cr_assert_not_null(b);
    sl_sem_init(&b->sem, NPERMITS);

    for (int i = 0; i < NTASKS; i++) {
        struct btask *t = &b->tasks[i];
        t->b = b;
        t->id = i;
        cr_assert_eq(uv_timer_init(&loop, &t->timer), 0);
        t->timer.data = t;
        int rc = sl_sem_acquire(&b->sem, &t->w, btask_granted);
        if (i < NPERMITS) {
            cr_assert_eq(rc, 0, "task %d should get a permit at once", i);
            btask_run(t);
        } else {
            cr_assert_eq(rc, 1, "task %d should queue", i);
        }
    }
    cr_assert_eq(b->sem.queued, (size_t)(NTASKS - NPERMITS));
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(b->finished, NTASKS);
    cr_assert_eq(b->in_flight, 0);
    cr_assert_eq(b->max_in_flight, NPERMITS, "observed max in flight %d", b->max_in_flight);
    cr_assert_eq(b->sem.max_held, NPERMITS);
    cr_assert_eq(b->sem.available, NPERMITS);
    cr_assert_eq(b->sem.queued, 0);
    for (int i = 0; i < NTASKS; i++) {
        cr_assert(b->tasks[i].finished, "task %d did not finish", i);
        /* FIFO: tasks start in the order they asked. */
        cr_assert_eq(b->start_order[i], i);
    }

    for (int i = 0; i < NTASKS; i++)
        uv_close((uv_handle_t *)&b->tasks[i].timer, NULL);
    sl_test_close_loop(&loop);
    free(b);
}
