/* Concurrency on one thread: ten 100 ms timers overlap, ten 100 ms blocking
 * sleeps do not. Generous bounds: this is about ordering, not speed. */
#include <errno.h>
#include <time.h>

#include "../support.h"

#define N       10
#define WAIT_MS 100

struct timers {
    uv_timer_t timer[N];
    int fired[N];
    int nfired;
    uint64_t last_ns;
};

static void timer_cb(uv_timer_t *timer)
{
    struct timers *ts = timer->loop->data;
    int i = (int)(timer - ts->timer);
    ts->fired[i]++;
    ts->nfired++;
    ts->last_ns = uv_hrtime();
}

Test(timers, ten_concurrent_timers_take_about_one_wait)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct timers ts = {0};
    loop.data = &ts;
    for (int i = 0; i < N; i++)
        cr_assert_eq(uv_timer_init(&loop, &ts.timer[i]), 0);

    uv_update_time(&loop);
    uint64_t start = uv_hrtime();
    for (int i = 0; i < N; i++)
        cr_assert_eq(uv_timer_start(&ts.timer[i], timer_cb, WAIT_MS, 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    double elapsed = (double)(ts.last_ns - start) / 1e6;

    cr_assert_eq(ts.nfired, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ts.fired[i], 1, "timer %d fired %d times", i, ts.fired[i]);
    cr_assert_geq(elapsed, 95.0, "all timers done after %.1f ms", elapsed);
    cr_assert_lt(elapsed, 250.0, "all timers done after %.1f ms: not concurrent?", elapsed);

    for (int i = 0; i < N; i++)
        uv_close((uv_handle_t *)&ts.timer[i], NULL);
    sl_test_close_loop(&loop);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The same ten "tasks", each started by a 0 ms timer, but each one blocks
 * the loop thread for 100 ms: they cannot overlap. */
static void blocking_cb(uv_timer_t *timer)
{
    struct timers *ts = timer->loop->data;
    sleep_ms(WAIT_MS);
    int i = (int)(timer - ts->timer);
    ts->fired[i]++;
    ts->nfired++;
    ts->last_ns = uv_hrtime();
}

Test(timers, ten_blocking_sleeps_run_in_sequence)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct timers ts = {0};
    loop.data = &ts;
    for (int i = 0; i < N; i++)
        cr_assert_eq(uv_timer_init(&loop, &ts.timer[i]), 0);

    uint64_t start = uv_hrtime();
    for (int i = 0; i < N; i++)
        cr_assert_eq(uv_timer_start(&ts.timer[i], blocking_cb, 0, 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    double elapsed = (double)(ts.last_ns - start) / 1e6;

    cr_assert_eq(ts.nfired, N);
    cr_assert_geq(elapsed, 1000.0, "ten blocking sleeps took %.1f ms", elapsed);
    cr_assert_lt(elapsed, 1500.0, "ten blocking sleeps took %.1f ms", elapsed);

    for (int i = 0; i < N; i++)
        uv_close((uv_handle_t *)&ts.timer[i], NULL);
    sl_test_close_loop(&loop);
}
