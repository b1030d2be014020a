/* core/worker and core/notify: jobs run in submission order on the
 * worker's own thread, their done() comes back on the loop thread in the
 * same order, a close waits for every job submitted before it, and the
 * loop closes with nothing left open. A notify sent many times from
 * another thread is seen at least once after the last send. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../support.h"
#include "core/notify.h"
#include "core/worker.h"

#define JOBS 200

struct job {
    struct sl_worker_job w;
    int i;
    pthread_t ran_on;
};

struct run {
    struct job jobs[JOBS];
    int next_work; /* worker thread only */
    int work_in_order;
    int done_next;
    int done_in_order, done_on_loop;
    pthread_t loop_thread;
    int closed;
};

static struct run *the_run;

static void work(struct sl_worker_job *wj)
{
    struct job *j = (struct job *)wj;
    j->ran_on = pthread_self();
    if (j->i != the_run->next_work++)
        the_run->work_in_order = 0;
}

static void done(struct sl_worker_job *wj)
{
    struct job *j = (struct job *)wj;
    if (j->i != the_run->done_next++)
        the_run->done_in_order = 0;
    if (!pthread_equal(pthread_self(), the_run->loop_thread) ||
        pthread_equal(j->ran_on, the_run->loop_thread))
        the_run->done_on_loop = 0;
}

static void on_closed(void *arg)
{
    struct run *r = arg;
    r->closed = 1;
}

Test(worker, jobs_run_in_order_off_the_loop_and_close_waits_for_them)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct run *r = calloc(1, sizeof(*r));
    the_run = r;
    r->work_in_order = r->done_in_order = r->done_on_loop = 1;
    r->loop_thread = pthread_self();
    struct sl_worker *w;
    cr_assert_eq(sl_worker_new(&loop, "test-worker", SL_THREAD_BACKGROUND, &w), 0);
    for (int i = 0; i < JOBS; i++) {
        r->jobs[i] = (struct job){.w = {.work = work, .done = done}, .i = i};
        sl_worker_submit(w, &r->jobs[i].w);
        if (i == JOBS / 2)
            uv_run(&loop, UV_RUN_NOWAIT); /* some complete while others are submitted */
    }
    sl_worker_close(w, on_closed, r);
    cr_assert_eq(r->closed, 0, "the close waits for the jobs");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r->closed, 1);
    cr_assert_eq(r->done_next, JOBS, "every done() ran: %d", r->done_next);
    cr_assert(r->work_in_order, "jobs ran in submission order");
    cr_assert(r->done_in_order, "done() in submission order");
    cr_assert(r->done_on_loop, "work on the worker's thread, done() on the loop's");
    cr_assert_eq(uv_loop_close(&loop), 0, "nothing left open");
    free(r);
}

Test(worker, a_worker_closed_with_no_jobs_closes)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_worker *w;
    struct run r = {0};
    cr_assert_eq(sl_worker_new(&loop, "test-worker", SL_THREAD_NORMAL, &w), 0);
    sl_worker_close(w, on_closed, &r);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.closed, 1);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* --- notify ---------------------------------------------------------------- */

#define SENDS 10000

struct notified {
    struct sl_notify n;
    atomic_int sent; /* the sender's count, published before each send */
    int seen;        /* the last count a callback saw */
    int calls;
};

static void *sender(void *arg)
{
    struct notified *x = arg;
    for (int i = 1; i <= SENDS; i++) {
        atomic_store(&x->sent, i);
        sl_notify_send(&x->n);
    }
    return NULL;
}

static void on_notified(struct sl_notify *n)
{
    struct notified *x = n->data;
    x->calls++;
    x->seen = atomic_load(&x->sent);
    if (x->seen == SENDS)
        uv_stop(n->poll.loop);
}

Test(notify, the_last_send_is_always_seen_and_sends_coalesce)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct notified x = {0};
    cr_assert_eq(sl_notify_init(&loop, &x.n, on_notified), 0);
    x.n.data = &x;
    pthread_t t;
    pthread_create(&t, NULL, sender, &x);
    /* the loop runs until a callback saw the last send: a lost wake-up
     * would hang here (the test's timeout) */
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL); /* no send may come after the close */
    sl_notify_close(&x.n, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(x.seen, SENDS);
    cr_assert(x.calls >= 1 && x.calls <= SENDS, "%d callbacks", x.calls);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
