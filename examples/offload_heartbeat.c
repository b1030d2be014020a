/* CPU-heavy work on the loop thread stalls the loop; the same work handed to
 * the thread pool with sl_offload() does not. A 10 ms heartbeat timer is the
 * witness: the program prints its largest gap both ways. A demonstration,
 * not a test (its figures depend on the machine; sl_offload's contract is
 * tested in tests/unit/test_offload.c).
 *
 *   build/examples/offload_heartbeat [N]    (fib(N), default 36) */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "core/offload.h"

#define HEARTBEAT_MS 10

__attribute__((noinline)) static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

struct demo {
    uv_timer_t heartbeat, runner;
    unsigned n;
    uint64_t result;
    uint64_t last_tick_ns;
    double max_gap_ms;
    double fib_ms;
};

static void heartbeat_cb(uv_timer_t *timer)
{
    struct demo *d = timer->data;
    uint64_t now = uv_hrtime();
    double gap = (double)(now - d->last_tick_ns) / 1e6;
    if (gap > d->max_gap_ms)
        d->max_gap_ms = gap;
    d->last_tick_ns = now;
}

static void compute(struct demo *d)
{
    uint64_t t0 = uv_hrtime();
    d->result = fib(d->n);
    d->fib_ms = (double)(uv_hrtime() - t0) / 1e6;
}

/* On the loop: the runner timer computes, then a few more beats. */
static void stop_cb(uv_timer_t *timer)
{
    struct demo *d = timer->data;
    uv_timer_stop(&d->heartbeat);
}

static void on_loop_cb(uv_timer_t *timer)
{
    struct demo *d = timer->data;
    compute(d);
    uv_timer_start(timer, stop_cb, 5 * HEARTBEAT_MS, 0);
}

/* On the pool: the runner timer offloads; done stops the heartbeat. */
static void work(void *data)
{
    compute(data);
}

static void done(void *data, int status)
{
    struct demo *d = data;
    if (status != 0)
        fprintf(stderr, "offload: %s\n", uv_strerror(status));
    uv_timer_stop(&d->heartbeat);
}

static void offload_cb(uv_timer_t *timer)
{
    struct demo *d = timer->data;
    if (sl_offload(timer->loop, work, done, d, NULL) != 0)
        uv_timer_stop(&d->heartbeat);
}

static struct demo run(unsigned n, uv_timer_cb runner_cb)
{
    uv_loop_t loop;
    struct demo d = {.n = n};
    uv_loop_init(&loop);
    uv_timer_init(&loop, &d.heartbeat);
    uv_timer_init(&loop, &d.runner);
    d.heartbeat.data = d.runner.data = &d;
    d.last_tick_ns = uv_hrtime();
    uv_timer_start(&d.heartbeat, heartbeat_cb, HEARTBEAT_MS, HEARTBEAT_MS);
    uv_timer_start(&d.runner, runner_cb, 3 * HEARTBEAT_MS, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&d.heartbeat, NULL);
    uv_close((uv_handle_t *)&d.runner, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return d;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 36;
    if (n < 1 || n > 50) {
        fprintf(stderr, "usage: offload_heartbeat [N], N in 1..50\n");
        return 2;
    }
    struct demo on_loop = run(n, on_loop_cb);
    struct demo pooled = run(n, offload_cb);
    printf("fib(%u) on the loop thread: %7.1f ms, largest heartbeat gap %7.1f ms\n", n,
           on_loop.fib_ms, on_loop.max_gap_ms);
    printf("fib(%u) with sl_offload:    %7.1f ms, largest heartbeat gap %7.1f ms\n", n,
           pooled.fib_ms, pooled.max_gap_ms);
    return on_loop.result != pooled.result;
}
