/* Offload: work handed to sl_offload() runs on a pool thread while the loop
 * keeps running, and its completion comes back on the loop thread; a job
 * still queued can be cancelled. (The contrast with CPU work run on the
 * loop itself, which calls no sluice code, is a demonstration:
 * examples/offload_heartbeat.c.) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../support.h"
#include "core/offload.h"

#define HEARTBEAT_MS 10
#define BEATS        5     /* heartbeats the work waits for */
#define WAIT_MAX_MS  20000 /* how long it waits for them at most */

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

__attribute__((noinline)) static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint64_t fib_iter(unsigned n)
{
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

/* --- the loop keeps running while the work runs ---------------------------- */

/* The work does not finish until the loop thread has beaten BEATS times
 * after the work began. Work that blocked the loop thread (run on it, or
 * holding it) could never see a beat and would give up after WAIT_MAX_MS:
 * the test asserts an order of events, not a duration, so a loaded machine
 * makes it slower but never makes it fail. */
struct beat_job {
    uv_timer_t heartbeat;
    unsigned n;
    uint64_t result;
    atomic_int started; /* the work began (set on the pool thread) */
    atomic_int beats;   /* heartbeats the loop ran since then */
    int beats_seen;     /* what the work saw before it went on */
    pthread_t thread;
    int done_calls;
    int done_status;
    pthread_t done_thread;
};

static void heartbeat_cb(uv_timer_t *timer)
{
    struct beat_job *job = timer->data;
    if (atomic_load(&job->started))
        atomic_fetch_add(&job->beats, 1);
}

static void beat_work(void *data)
{
    struct beat_job *job = data;
    job->thread = pthread_self();
    atomic_store(&job->started, 1);
    uint64_t t0 = uv_hrtime();
    while (atomic_load(&job->beats) < BEATS && sl_test_ms_since(t0) < WAIT_MAX_MS)
        sleep_ms(1);
    job->beats_seen = atomic_load(&job->beats);
    job->result = fib(job->n);
}

static void beat_done(void *data, int status)
{
    struct beat_job *job = data;
    job->done_calls++;
    job->done_status = status;
    job->done_thread = pthread_self();
    uv_timer_stop(&job->heartbeat);
}

Test(offload, offloaded_work_leaves_the_loop_running, .timeout = 60)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct beat_job job = {.n = 25};
    cr_assert_eq(uv_timer_init(&loop, &job.heartbeat), 0);
    job.heartbeat.data = &job;
    uv_timer_start(&job.heartbeat, heartbeat_cb, HEARTBEAT_MS, HEARTBEAT_MS);
    struct sl_offload *handle = NULL;
    cr_assert_eq(sl_offload(&loop, beat_work, beat_done, &job, &handle), 0);
    cr_assert_not_null(handle);
    uv_run(&loop, UV_RUN_DEFAULT);

    pthread_t me = pthread_self();
    cr_assert_eq(job.done_calls, 1);
    cr_assert_eq(job.done_status, 0);
    cr_assert(pthread_equal(job.done_thread, me), "done must run on the loop thread");
    cr_assert_not(pthread_equal(job.thread, me), "work must run on a pool thread");
    cr_assert_geq(job.beats_seen, BEATS,
                  "the loop beat %d times in %d ms while the work ran: it was blocked",
                  job.beats_seen, WAIT_MAX_MS);
    cr_assert_eq(job.result, fib_iter(job.n));

    uv_close((uv_handle_t *)&job.heartbeat, NULL);
    sl_test_close_loop(&loop);
}

/* --- cancel ----------------------------------------------------------------- */

static atomic_int gate_open;
static atomic_int blockers_started;

struct gate_job {
    atomic_int ran;
    int done_calls;
    int done_status;
};

static void gate_work(void *data)
{
    struct gate_job *job = data;
    atomic_store(&job->ran, 1);
    atomic_fetch_add(&blockers_started, 1);
    while (!atomic_load(&gate_open))
        sleep_ms(1);
}

static void plain_work(void *data)
{
    struct gate_job *job = data;
    atomic_store(&job->ran, 1);
}

static void gate_done(void *data, int status)
{
    struct gate_job *job = data;
    job->done_calls++;
    job->done_status = status;
}

static int pool_size(void)
{
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int n = env ? atoi(env) : 4;
    return n < 1 ? 1 : n;
}

Test(offload, cancel_a_job_queued_behind_busy_threads)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    atomic_store(&gate_open, 0);
    atomic_store(&blockers_started, 0);

    enum { NBLOCK = 4 };
    struct gate_job blockers[NBLOCK] = {0};
    for (int i = 0; i < NBLOCK; i++)
        cr_assert_eq(sl_offload(&loop, gate_work, gate_done, &blockers[i], NULL), 0);
    struct gate_job target = {0};
    struct sl_offload *handle = NULL;
    cr_assert_eq(sl_offload(&loop, plain_work, gate_done, &target, &handle), 0);

    int rc = sl_offload_cancel(handle);
    atomic_store(&gate_open, 1);
    cr_assert(rc == 0 || rc == UV_EBUSY, "cancel returned %s", uv_err_name(rc));
    if (pool_size() <= NBLOCK)
        cr_assert_eq(rc, 0, "every pool thread is held by a blocker: the job must be queued");
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(target.done_calls, 1);
    if (rc == 0) {
        cr_assert_eq(target.done_status, UV_ECANCELED);
        cr_assert_eq(atomic_load(&target.ran), 0, "a cancelled job must not run");
    } else {
        cr_assert_eq(target.done_status, 0);
        cr_assert_eq(atomic_load(&target.ran), 1);
    }
    for (int i = 0; i < NBLOCK; i++) {
        cr_assert_eq(blockers[i].done_calls, 1);
        cr_assert_eq(blockers[i].done_status, 0);
        cr_assert_eq(atomic_load(&blockers[i].ran), 1);
    }
    sl_test_close_loop(&loop);
}

Test(offload, cancel_a_running_job_is_busy)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    atomic_store(&gate_open, 0);
    atomic_store(&blockers_started, 0);

    struct gate_job job = {0};
    struct sl_offload *handle = NULL;
    cr_assert_eq(sl_offload(&loop, gate_work, gate_done, &job, &handle), 0);
    uint64_t t0 = uv_hrtime();
    while (atomic_load(&blockers_started) == 0) {
        if (sl_test_ms_since(t0) > 5000) {
            atomic_store(&gate_open, 1);
            cr_assert_fail("the job never started");
        }
        sleep_ms(1);
    }
    int rc = sl_offload_cancel(handle);
    atomic_store(&gate_open, 1);
    cr_assert_eq(rc, UV_EBUSY, "cancel of a running job returned %s", uv_err_name(rc));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(job.done_calls, 1);
    cr_assert_eq(job.done_status, 0);
    sl_test_close_loop(&loop);
}

static void fib_work(void *data)
{
    struct beat_job *job = data;
    job->thread = pthread_self();
    job->result = fib(job->n);
}

Test(offload, done_runs_on_loop_thread_with_result)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct beat_job job = {.n = 20};
    cr_assert_eq(uv_timer_init(&loop, &job.heartbeat), 0); /* never started */
    cr_assert_eq(sl_offload(&loop, fib_work, beat_done, &job, NULL), 0);
    cr_assert_eq(job.done_calls, 0, "done never runs synchronously");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(job.done_calls, 1);
    cr_assert_eq(job.done_status, 0);
    cr_assert_eq(job.result, 6765);
    cr_assert(pthread_equal(job.done_thread, pthread_self()));
    cr_assert_not(pthread_equal(job.thread, pthread_self()));
    uv_close((uv_handle_t *)&job.heartbeat, NULL);
    sl_test_close_loop(&loop);
}
