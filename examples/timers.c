/* Concurrency on one thread, shown with plain libuv: ten 100 ms timers
 * overlap and end after about one wait; ten 100 ms blocking sleeps on the
 * loop thread cannot overlap and take about ten. A demonstration, not a
 * test: it prints the figures (sluice's own task groups are tested for
 * overlap in tests/unit/test_taskgroup.c).
 *
 *   build/examples/timers */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <uv.h>

#define N       10
#define WAIT_MS 100

struct timers {
    uv_timer_t timer[N];
    int nfired;
    uint64_t last_ns;
};

static void timer_cb(uv_timer_t *timer)
{
    struct timers *ts = timer->loop->data;
    ts->nfired++;
    ts->last_ns = uv_hrtime();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Each "task" blocks the loop thread for WAIT_MS: they run one after the
 * other. */
static void blocking_cb(uv_timer_t *timer)
{
    sleep_ms(WAIT_MS);
    timer_cb(timer);
}

/* Starts N timers of timeout ms running cb, runs the loop, returns the ms
 * until the last one ended. */
static double run(uv_timer_cb cb, uint64_t timeout)
{
    uv_loop_t loop;
    struct timers ts = {0};
    if (uv_loop_init(&loop) != 0)
        return -1;
    loop.data = &ts;
    uv_update_time(&loop);
    uint64_t start = uv_hrtime();
    for (int i = 0; i < N; i++) {
        uv_timer_init(&loop, &ts.timer[i]);
        uv_timer_start(&ts.timer[i], cb, timeout, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++)
        uv_close((uv_handle_t *)&ts.timer[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ts.nfired == N ? (double)(ts.last_ns - start) / 1e6 : -1;
}

int main(void)
{
    double timers = run(timer_cb, WAIT_MS);
    double blocking = run(blocking_cb, 0);
    printf("%d timers of %d ms on one loop:          %7.1f ms (about one wait)\n", N, WAIT_MS,
           timers);
    printf("%d blocking sleeps of %d ms on the loop: %7.1f ms (about %d waits)\n", N, WAIT_MS,
           blocking, N);
    return timers < 0 || blocking < 0;
}
