/* Offload: CPU-heavy work on the loop stalls it; on the thread pool it does
 * not. A 10 ms heartbeat timer is the witness. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../support.h"
#include "core/offload.h"

#define HEARTBEAT_MS 10
#define MAX_TICKS    4096

/* --- the CPU-heavy function ------------------------------------------------ */

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

static volatile uint64_t fib_sink; /* keeps the timed calls from being optimised away */

static double time_fib(unsigned n)
{
    uint64_t t = uv_hrtime();
    fib_sink = fib(n);
    return sl_test_ms_since(t);
}

/* Picks n so that fib(n) takes roughly 250-400 ms here (sanitizers
 * included): grow n until a run is measurable, extrapolate with the golden
 * ratio, then step until the target is reached. The target leaves room for
 * a calibration slowed down by other tests running at the same time: the
 * assertions use the duration measured in the scenario itself. */
static unsigned calibrate_fib(double *ms_out)
{
    const double target_ms = 250.0;
    unsigned n = 20;
    double ms = time_fib(n);
    while (ms < 5.0 && n < 50)
        ms = time_fib(++n);
    if (ms < target_ms) {
        double steps = log(target_ms / (ms > 0.01 ? ms : 0.01)) / log(1.618);
        n += (unsigned)steps;
        ms = time_fib(n);
    }
    while (ms < target_ms && n < 50)
        ms = time_fib(++n);
    cr_assert_geq(ms, 200.0, "could not calibrate fib (n=%u, %.1f ms)", n, ms);
    *ms_out = ms;
    return n;
}

/* --- heartbeat ------------------------------------------------------------ */

struct heartbeat {
    uv_timer_t timer;
    uint64_t ticks[MAX_TICKS];
    int nticks;
};

static void heartbeat_cb(uv_timer_t *timer)
{
    struct heartbeat *hb = timer->data;
    if (hb->nticks < MAX_TICKS)
        hb->ticks[hb->nticks++] = uv_hrtime();
}

static void heartbeat_start(uv_loop_t *loop, struct heartbeat *hb)
{
    hb->nticks = 0;
    cr_assert_eq(uv_timer_init(loop, &hb->timer), 0);
    hb->timer.data = hb;
    hb->ticks[hb->nticks++] = uv_hrtime(); /* tick 0: the start */
    uv_timer_start(&hb->timer, heartbeat_cb, HEARTBEAT_MS, HEARTBEAT_MS);
}

/* Largest gap between consecutive ticks whose later tick is in [from, to]. */
static double max_gap_ms(const struct heartbeat *hb, uint64_t from, uint64_t to)
{
    double gap = 0;
    for (int i = 1; i < hb->nticks; i++) {
        if (hb->ticks[i] < from || hb->ticks[i] > to)
            continue;
        double g = (double)(hb->ticks[i] - hb->ticks[i - 1]) / 1e6;
        if (g > gap)
            gap = g;
    }
    return gap;
}

static int ticks_between(const struct heartbeat *hb, uint64_t from, uint64_t to)
{
    int n = 0;
    for (int i = 1; i < hb->nticks; i++)
        if (hb->ticks[i] >= from && hb->ticks[i] <= to)
            n++;
    return n;
}

/* --- blocking on the loop ----------------------------------------------- */

struct fib_job {
    unsigned n;
    uint64_t result;
    uint64_t start_ns, end_ns;
    pthread_t thread;
    int done_calls;
    int done_status;
    pthread_t done_thread;
    struct heartbeat *hb;
    uv_timer_t *aux; /* blocking: the one-shot timer that runs fib */
};

static void stop_heartbeat_cb(uv_timer_t *timer)
{
    struct fib_job *job = timer->data;
    uv_timer_stop(&job->hb->timer);
}

static void blocking_fib_cb(uv_timer_t *timer)
{
    struct fib_job *job = timer->data;
    job->start_ns = uv_hrtime();
    job->result = fib(job->n);
    job->end_ns = uv_hrtime();
    /* A few more beats after the stall, then stop. */
    uv_timer_start(timer, stop_heartbeat_cb, 5 * HEARTBEAT_MS, 0);
}

Test(offload, cpu_work_on_the_loop_stalls_the_heartbeat, .timeout = 60)
{
    double cal_ms;
    struct fib_job job = {.n = calibrate_fib(&cal_ms)};

    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct heartbeat *hb = calloc(1, sizeof(*hb));
    cr_assert_not_null(hb);
    job.hb = hb;
    uv_timer_t runner;
    cr_assert_eq(uv_timer_init(&loop, &runner), 0);
    runner.data = &job;
    heartbeat_start(&loop, hb);
    uv_timer_start(&runner, blocking_fib_cb, 3 * HEARTBEAT_MS, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    double fib_ms = (double)(job.end_ns - job.start_ns) / 1e6;
    cr_assert_eq(job.result, fib_iter(job.n));
    cr_assert_geq(fib_ms, 100.0, "fib(%u) took only %.1f ms (calibrated %.1f)", job.n, fib_ms,
                  cal_ms);
    double gap = max_gap_ms(hb, job.start_ns, UINT64_MAX);
    cr_assert_geq(gap, 0.8 * fib_ms, "max heartbeat gap %.1f ms while fib ran %.1f ms on the loop",
                  gap, fib_ms);
    cr_assert_eq(ticks_between(hb, job.start_ns, job.end_ns), 0,
                 "no heartbeat can run while the loop thread computes");
    cr_assert_geq(hb->nticks, 3, "the heartbeat did run before and after");

    uv_close((uv_handle_t *)&hb->timer, NULL);
    uv_close((uv_handle_t *)&runner, NULL);
    sl_test_close_loop(&loop);
    free(hb);
}

/* --- offloaded -------------------------------------------------------------- */

static void fib_work(void *data)
{
    struct fib_job *job = data;
    job->thread = pthread_self();
    job->start_ns = uv_hrtime();
    job->result = fib(job->n);
    job->end_ns = uv_hrtime();
}

static void fib_done(void *data, int status)
{
    struct fib_job *job = data;
    job->done_calls++;
    job->done_status = status;
    job->done_thread = pthread_self();
    uv_timer_stop(&job->hb->timer);
}

/* One offloaded run: checks what must hold every time (status, threads,
 * result) and returns the timing measurements. */
struct offload_timing {
    double fib_ms;
    double gap_ms; /* largest heartbeat gap between queueing and done */
    int during;    /* heartbeats while the work ran */
};

static struct offload_timing run_offloaded(unsigned n)
{
    struct fib_job job = {.n = n};
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct heartbeat *hb = calloc(1, sizeof(*hb));
    cr_assert_not_null(hb);
    job.hb = hb;
    heartbeat_start(&loop, hb);
    struct sl_offload *handle = NULL;
    uint64_t queued_ns = uv_hrtime();
    cr_assert_eq(sl_offload(&loop, fib_work, fib_done, &job, &handle), 0);
    cr_assert_not_null(handle);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t done_ns = uv_hrtime();

    pthread_t me = pthread_self();
    cr_assert_eq(job.done_calls, 1);
    cr_assert_eq(job.done_status, 0);
    cr_assert(pthread_equal(job.done_thread, me), "done must run on the loop thread");
    cr_assert_not(pthread_equal(job.thread, me), "work must run on a pool thread");
    cr_assert_eq(job.result, fib_iter(job.n));

    struct offload_timing t = {
        .fib_ms = (double)(job.end_ns - job.start_ns) / 1e6,
        .gap_ms = max_gap_ms(hb, queued_ns, done_ns),
        .during = ticks_between(hb, job.start_ns, job.end_ns),
    };
    uv_close((uv_handle_t *)&hb->timer, NULL);
    sl_test_close_loop(&loop);
    free(hb);
    return t;
}

static int offload_timing_ok(const struct offload_timing *t)
{
    return t->gap_ms < 60.0 && t->during >= t->fib_ms / HEARTBEAT_MS / 3;
}

Test(offload, offloaded_cpu_work_keeps_the_heartbeat, .timeout = 60)
{
    double cal_ms;
    unsigned n = calibrate_fib(&cal_ms);
    /* A loop thread starved by other processes (a loaded CI box) can miss
     * beats too, so one rerun is allowed; work that blocks the loop misses
     * every beat for the whole computation and fails both runs. */
    struct offload_timing t = run_offloaded(n);
    if (!offload_timing_ok(&t)) {
        cr_log_warn("offloaded run: gap %.1f ms, %d ticks in %.1f ms; retrying once", t.gap_ms,
                    t.during, t.fib_ms);
        t = run_offloaded(n);
    }
    cr_assert_geq(t.fib_ms, 100.0, "fib(%u) took only %.1f ms (calibrated %.1f)", n, t.fib_ms,
                  cal_ms);
    cr_assert_lt(t.gap_ms, 60.0, "heartbeat stalled %.1f ms while fib ran %.1f ms off the loop",
                 t.gap_ms, t.fib_ms);
    double expected = t.fib_ms / HEARTBEAT_MS;
    cr_assert_geq(t.during, expected / 3, "only %d ticks during %.1f ms of work (expected ~%.0f)",
                  t.during, t.fib_ms, expected);
}

/* --- cancel ----------------------------------------------------------------- */

static atomic_int gate_open;
static atomic_int blockers_started;

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

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

Test(offload, done_runs_on_loop_thread_with_result)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct heartbeat *hb = calloc(1, sizeof(*hb));
    cr_assert_not_null(hb);
    cr_assert_eq(uv_timer_init(&loop, &hb->timer), 0);
    struct fib_job job = {.n = 20, .hb = hb};
    cr_assert_eq(sl_offload(&loop, fib_work, fib_done, &job, NULL), 0);
    cr_assert_eq(job.done_calls, 0, "done never runs synchronously");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(job.done_calls, 1);
    cr_assert_eq(job.done_status, 0);
    cr_assert_eq(job.result, 6765);
    cr_assert(pthread_equal(job.done_thread, pthread_self()));
    uv_close((uv_handle_t *)&hb->timer, NULL);
    sl_test_close_loop(&loop);
    free(hb);
}
