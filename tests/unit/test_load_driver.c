/* The load driver (load/load.h) in-process, against the stub server in a
 * forked child: counts, queue expiry, stop, unreachable, and that every
 * handle is closed after sl_load_close (the loop closes cleanly). */
#include "../e2e/stub_server.h"
#include "../support.h"
#include "load/load.h"

struct run {
    uv_loop_t loop;
    struct sl_load *load;
    int completed, closed;
    uv_timer_t stop_timer;
    uint64_t stop_after; /* stop once this many requests finished (0: never) */
};

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static void on_closed(struct sl_load *load, void *data)
{
    struct run *r = data;
    (void)load;
    r->closed++;
}

static void on_complete(struct sl_load *load, void *data)
{
    struct run *r = data;
    r->completed++;
    uv_close((uv_handle_t *)&r->stop_timer, NULL);
    sl_load_close(load, on_closed);
}

static struct sl_load_config config(int port)
{
    struct sl_load_config cfg = {0};
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    memcpy(&cfg.target.addr, &addr, sizeof(addr));
    cfg.target.request = request;
    cfg.target.request_len = sizeof(request) - 1;
    cfg.concurrency = 4;
    cfg.timeout_ms = 5000;
    return cfg;
}

/* Polls the driver's progress: stops it once stop_after requests have
 * finished (a point in the run, whatever the machine's speed). */
static void on_stop_timer(uv_timer_t *t)
{
    struct run *r = t->data;
    struct sl_load_progress p;
    sl_load_progress(r->load, &p);
    if (p.finished >= r->stop_after) {
        uv_timer_stop(t);
        sl_load_stop(r->load);
    }
}

/* Runs cfg to completion (or until stop_after requests finished) and
 * returns the result, copied before the driver is freed. */
static struct sl_load_result *run_load(const struct sl_load_config *cfg, uint64_t stop_after)
{
    struct run r = {.stop_after = stop_after};
    cr_assert_eq(uv_loop_init(&r.loop), 0);
    uv_timer_init(&r.loop, &r.stop_timer);
    r.stop_timer.data = &r;
    if (stop_after)
        uv_timer_start(&r.stop_timer, on_stop_timer, 1, 1);
    cr_assert_eq(sl_load_new(&r.loop, cfg, on_complete, &r, &r.load), 0);
    sl_load_start(r.load);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.completed, 1);
    cr_assert_eq(r.closed, 1, "on_closed after the last handle");
    sl_test_close_loop(&r.loop);
    struct sl_load_result *res = malloc(sizeof(*res));
    memcpy(res, sl_load_result(r.load), sizeof(*res));
    sl_load_free(r.load);
    return res;
}

static void assert_adds_up(const struct sl_load_result *r)
{
    uint64_t sum = r->status_other, errs = 0;
    for (int s = 0; s < SL_LOAD_STATUS_MAX; s++)
        sum += r->status[s];
    for (int e = 0; e < SL_LOAD_E__COUNT; e++)
        errs += r->errors_by[e];
    cr_assert_eq(errs, r->errors);
    cr_assert_eq(sum, r->responses);
    cr_assert_eq(r->requests, r->responses + r->errors);
    cr_assert_eq(sl_hist_count(&r->latency), r->responses);
}

Test(load_driver, closed_loop_counts)
{
    struct stub s = stub_start((struct stub_opts){.every_nth = 4, .nth_status = 500});
    struct sl_load_config cfg = config(s.port);
    cfg.requests = 200;
    struct sl_load_result *r = run_load(&cfg, 0);
    stub_stop(&s);
    assert_adds_up(r);
    cr_assert_eq(r->requests, 200);
    cr_assert_eq(r->status[200], 150);
    cr_assert_eq(r->status[500], 50);
    cr_assert_eq(r->connects, 4);
    cr_assert(!r->unreachable && !r->stopped);
    free(r);
}

Test(load_driver, open_loop_expires_queued_requests)
{
    /* A server that never answers, one connection, 1000/s for 0.2 s with a
     * 100 ms timeout. Dispatch is in due order, so a queued request is
     * never older than the one in flight; but between the timeout sweeps
     * (every 5 ms here) the requests due meanwhile pass their deadline in
     * the queue and are expired there, never sent. Nothing outlives its
     * deadline by more than a sweep. */
    struct stub s = stub_start((struct stub_opts){.never = 1});
    struct sl_load_config cfg = config(s.port);
    cfg.concurrency = 1;
    cfg.rate = 1000;
    cfg.duration_ms = 200;
    cfg.timeout_ms = 100;
    uint64_t t0 = uv_hrtime();
    struct sl_load_result *r = run_load(&cfg, 0);
    double ms = sl_test_ms_since(t0);
    stub_stop(&s);
    assert_adds_up(r);
    cr_assert_eq(r->requests, 200);
    cr_assert_eq(r->responses, 0);
    uint64_t wire = r->errors_by[SL_LOAD_E_TIMEOUT], queued = r->errors_by[SL_LOAD_E_QUEUE_TIMEOUT];
    cr_assert_eq(wire + queued, 200);
    cr_assert_geq(wire, 1);
    cr_assert_geq(queued, 100, "%llu expired in the queue", (unsigned long long)queued);
    /* The last request is due at 199 ms, its deadline is 299 ms: not
     * before. (No ceiling: the counts above show every request ended by a
     * timeout, and a loaded machine only runs the sweeps later.) */
    cr_assert_geq(ms, 290, "took %.0f ms", ms);
    free(r);
}

Test(load_driver, stop_cancels_what_is_in_flight)
{
    struct stub s = stub_start((struct stub_opts){.delay_ms = 30});
    struct sl_load_config cfg = config(s.port);
    cfg.duration_ms = 10000;
    /* Stopped after 8 responses (it was 'after 100 ms', which a slow
     * machine could reach before a single response). */
    struct sl_load_result *r = run_load(&cfg, 8);
    stub_stop(&s);
    assert_adds_up(r);
    cr_assert(r->stopped);
    cr_assert_eq(r->cancelled, 4, "%llu", (unsigned long long)r->cancelled);
    cr_assert_geq(r->responses, 8);
    free(r);
}

Test(load_driver, refused_is_unreachable)
{
    struct sl_load_config cfg = config(stub_closed_port());
    cfg.requests = 1000;
    struct sl_load_result *r = run_load(&cfg, 0);
    assert_adds_up(r);
    cr_assert(r->unreachable);
    cr_assert_leq(r->requests, 4, "stops at once: %llu", (unsigned long long)r->requests);
    cr_assert_eq(r->errors_by[SL_LOAD_E_CONNECT], r->requests);
    cr_assert_eq(r->first_error_uv, UV_ECONNREFUSED);
    free(r);
}

Test(load_driver, open_loop_sends_on_time)
{
    struct stub s = stub_start((struct stub_opts){0});
    struct sl_load_config cfg = config(s.port);
    cfg.rate = 1000;
    cfg.requests = 300;
    struct sl_load_result *r = run_load(&cfg, 0);
    stub_stop(&s);
    assert_adds_up(r);
    cr_assert_eq(r->status[200], 300);
    double secs = (double)(r->end_ns - r->start_ns) / 1e9;
    /* The last request is due at 0.299 s: none is sent early. How close to
     * its due time each one went is a speed figure (bench/load.sh), which
     * a loaded machine cannot promise. */
    cr_assert_geq(secs, 0.299, "%.3f s", secs);
    free(r);
}

Test(load_driver, unbounded_runs_are_refused)
{
    uv_loop_t loop;
    struct sl_load *load = NULL;
    uv_loop_init(&loop);
    struct sl_load_config cfg = config(80);
    cr_assert_eq(sl_load_new(&loop, &cfg, on_complete, NULL, &load), UV_EINVAL, "no bound");
    cfg.rate = 10;
    cr_assert_eq(sl_load_new(&loop, &cfg, on_complete, NULL, &load), UV_EINVAL, "open, no bound");
    cfg.duration_ms = 100;
    cfg.timeout_ms = 0;
    cr_assert_eq(sl_load_new(&loop, &cfg, on_complete, NULL, &load), UV_EINVAL, "no timeout");
    cfg.timeout_ms = 100;
    cfg.concurrency = 0;
    cr_assert_eq(sl_load_new(&loop, &cfg, on_complete, NULL, &load), UV_EINVAL, "no connection");
    cr_assert_null(load);
    sl_test_close_loop(&loop);
}
