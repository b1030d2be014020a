/* `sluice load` end to end: the binary against a stub HTTP server on
 * 127.0.0.1 (tests/e2e/stub_server.h), checking that the counts add up and
 * that what it measures is what the server did. Every run is bounded by a
 * request count or a short duration. */
#include "e2e.h"
#include "stub_server.h"

TestSuite(load, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

static char url_buf[128];

static double ms_since(uint64_t start_ns)
{
    return (double)(uv_hrtime() - start_ns) / 1e6;
}

static const char *url(const struct stub *s, const char *path)
{
    snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%d%s", s->port, path);
    return url_buf;
}

static long num(const char *json, const char *key)
{
    return (long)e2e_json_num(json, key);
}

/* The loop closed with nothing left open, and no sanitizer report. */
static void assert_clean_exit(const struct e2e_run *r)
{
    cr_assert_null(strstr(r->err, "internal error"), "%s", r->err);
    cr_assert_null(strstr(r->err, "Sanitizer"), "%s", r->err);
}

/* requests == sum of the status counts + errors, from the JSON. */
static void assert_counts_add_up(const char *json)
{
    cr_assert(json[0] == '{', "no JSON: '%s'", json);
    const char *st = strstr(json, "\"status\":{");
    cr_assert_not_null(st, "%s", json);
    long sum = 0;
    for (const char *p = st + 10; *p && *p != '}';) {
        const char *colon = strchr(p, ':');
        sum += strtol(colon + 1, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    long errors = num(json, "errors");
    long by_kind = num(json, "connect") + num(json, "reset") + num(json, "timeout") +
                   num(json, "protocol") + num(json, "queue_timeout");
    cr_assert_eq(errors, by_kind, "errors %ld != sum by kind %ld: %s", errors, by_kind, json);
    cr_assert_eq(num(json, "requests"), sum + errors, "requests != statuses %ld + errors %ld: %s",
                 sum, errors, json);
    cr_assert_eq(num(json, "responses"), sum, "%s", json);
}

Test(load, counts_add_up_and_statuses_match_the_server)
{
    struct stub s = stub_start((struct stub_opts){.every_nth = 3, .nth_status = 429});
    const char *args[] = {
        "load", url(&s, "/v1/chat/completions"), "-n", "300", "-c", "4", "--json", "--quiet", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(e2e_lines(r.out), 1, "one JSON line: %s", r.out);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "requests"), 300);
    cr_assert_eq(num(r.out, "200"), 200, "%s", r.out);
    cr_assert_eq(num(r.out, "429"), 100, "%s", r.out);
    cr_assert_eq(num(r.out, "errors"), 0);
    cr_assert_eq(num(r.out, "connections"), 4, "keep-alive: one connection each: %s", r.out);
    cr_assert(e2e_json_num(r.out, "p50_ms") > 0);
    cr_assert(e2e_json_num(r.out, "p50_ms") <= e2e_json_num(r.out, "p99_ms"));
    cr_assert(e2e_json_num(r.out, "p99_ms") <= e2e_json_num(r.out, "p999_ms"));
    cr_assert(e2e_json_num(r.out, "p999_ms") <= e2e_json_num(r.out, "max_ms"));
    cr_assert(e2e_json_num(r.out, "rps") > 0);
    cr_assert_eq(r.err[0], '\0', "--quiet --json prints nothing on stderr: %s", r.err);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, duration_bounds_a_closed_loop)
{
    struct stub s = stub_start((struct stub_opts){.delay_ms = 5});
    const char *args[] = {"load", url(&s, "/"), "-d", "500ms", "-c", "2", "--json", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    double secs = e2e_json_num(r.out, "duration_s");
    /* Not before the duration; the wide ceiling only catches a bound read
     * in the wrong unit (a loaded machine stretches the last responses, not
     * seconds into tens of them). */
    cr_assert(secs >= 0.5 && secs < 10, "duration %.3f s", secs);
    /* Two connections, >= 5 ms each: at most ~200 requests in 0.5 s. How
     * many it managed is a speed figure, so the floor is only 'some'. */
    long n = num(r.out, "requests");
    cr_assert(n >= 2 && n <= 400, "%ld requests", n);
    cr_assert(e2e_json_num(r.out, "p50_ms") >= 4, "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, open_loop_latency_includes_the_queueing_time)
{
    /* The server takes 50 ms per request, one connection: it can do 20/s.
     * At 100/s for 0.5 s, 50 requests are due; most wait in the queue, and
     * that wait must be in their latency: the last is due at 0.49 s and
     * answered at ~2.5 s. A closed loop against the same server would
     * report ~50 ms. */
    struct stub s = stub_start((struct stub_opts){.delay_ms = 50});
    const char *open[] = {"load", url(&s, "/"), "--rate", "100",     "-d", "500ms",
                          "-c",   "1",          "--json", "--quiet", NULL};
    struct e2e_run r = e2e_run(open);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "requests"), 50, "%s", r.out);
    cr_assert_eq(num(r.out, "200"), 50, "%s", r.out);
    double p99 = e2e_json_num(r.out, "p99_ms"), p50 = e2e_json_num(r.out, "p50_ms");
    cr_assert(p99 > 1500, "p99 %.1f ms does not include the queueing: %s", p99, r.out);
    cr_assert(p50 > 500, "p50 %.1f ms: %s", p50, r.out);
    cr_assert(num(r.out, "max_queue") >= 20, "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);

    const char *closed[] = {"load", url(&s, "/"), "-n", "10", "-c", "1", "--json", "--quiet", NULL};
    r = e2e_run(closed);
    stub_stop(&s);
    cr_assert_eq(r.status, 0);
    /* The contrast, as an order: the closed loop's worst is a request's
     * own 50 ms, below the open loop's p99 that includes the queue. */
    double cp99 = e2e_json_num(r.out, "p99_ms");
    cr_assert(cp99 >= 50 && cp99 < p99, "closed loop p99 %.1f ms, open loop p99 %.1f ms", cp99,
              p99);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, open_loop_keeps_its_rate_against_a_fast_server)
{
    struct stub s = stub_start((struct stub_opts){0});
    const char *args[] = {"load", url(&s, "/"), "--rate", "400",     "-d", "1s",
                          "-c",   "8",          "--json", "--quiet", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "200"), 400, "%s", r.out);
    /* Never faster than the rate. How close it stays to it on this machine
     * (and the latency a fast server gives) are speed figures for
     * bench/load.sh, not something a loaded test machine can promise. */
    double secs = e2e_json_num(r.out, "duration_s");
    cr_assert_geq(secs, 0.99, "400 requests at 400/s took %.3f s", secs);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, streaming_measures_time_to_first_token)
{
    /* First event with the headers after 20 ms, then 4 more 15 ms apart. */
    struct stub s = stub_start((struct stub_opts){.delay_ms = 20, .sse_events = 5, .event_ms = 15});
    const char *args[] = {"load",     url(&s, "/v1/chat/completions"),
                          "--stream", "-n",
                          "6",        "-c",
                          "3",        "--json",
                          "--quiet",  NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "200"), 6);
    cr_assert_eq(num(r.out, "streams"), 6, "%s", r.out);
    cr_assert_eq(num(r.out, "tokens"), 30, "[DONE] is not a token: %s", r.out);
    double ttft50 = e2e_json_num(r.out, "ttft_p50_ms"), ttft99 = e2e_json_num(r.out, "ttft_p99_ms");
    double p50 = e2e_json_num(r.out, "p50_ms");
    /* libuv timers may fire up to 1 ms early against the monotonic clock. */
    cr_assert(ttft50 >= 19 && ttft99 < p50, "ttft p50 %.1f p99 %.1f vs total p50 %.1f", ttft50,
              ttft99, p50);
    cr_assert(p50 >= 19 + 4 * 14, "total %.1f ms", p50);
    double gap50 = e2e_json_num(r.out, "gap_p50_ms");
    cr_assert(gap50 >= 10 && gap50 < p50, "token gap p50 %.1f ms, total p50 %.1f", gap50, p50);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, refused_connection_is_a_clear_error)
{
    int port = stub_closed_port();
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/v1/chat/completions", port);
    const char *args[] = {"load", u, "-n", "100", "-c", "4", "--json", NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    long errors = num(r.out, "errors");
    cr_assert(errors >= 1 && errors <= 4, "stops at once, errors %ld: %s", errors, r.out);
    cr_assert_eq(num(r.out, "connect"), errors);
    cr_assert_not_null(strstr(r.out, "\"unreachable\":true"), "%s", r.out);
    char want[96];
    snprintf(want, sizeof(want), "sluice load: cannot connect to 127.0.0.1:%d: connection refused",
             port);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, silent_server_times_out)
{
    struct stub s = stub_start((struct stub_opts){.never = 1});
    const char *args[] = {"load",         url(&s, "/"), "-n",     "4",       "-c", "2",
                          "--timeout-ms", "200",        "--json", "--quiet", NULL};
    uint64_t t0 = uv_hrtime();
    struct e2e_run r = e2e_run(args);
    double ms = ms_since(t0);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "timeout"), 4, "%s", r.out);
    cr_assert_eq(num(r.out, "responses"), 0);
    cr_assert_geq(ms, 400, "two rounds of 200 ms took %.0f ms", ms);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, resets_are_counted_and_the_run_goes_on)
{
    struct stub s = stub_start((struct stub_opts){.reset_every = 5});
    const char *args[] = {"load", url(&s, "/"), "-n", "50", "-c", "1", "--json", "--quiet", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "reset"), 10, "%s", r.out);
    cr_assert_eq(num(r.out, "200"), 40, "%s", r.out);
    /* The 50th request is the 10th reset: nothing follows it. */
    cr_assert_eq(num(r.out, "connections"), 10, "a new connection after each reset: %s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, connection_close_and_chunked_bodies)
{
    struct stub s = stub_start((struct stub_opts){.close_each = 1, .chunked = 1});
    const char *args[] = {"load", url(&s, "/"), "-n", "60", "-c", "5", "--json", "--quiet", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert_eq(num(r.out, "200"), 60, "%s", r.out);
    cr_assert_eq(num(r.out, "connections"), 60, "%s", r.out);
    cr_assert_eq(num(r.out, "body_bytes"), 60 * (long)strlen(stub_body), "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, get_method_header_and_body_file)
{
    struct stub s = stub_start((struct stub_opts){0});
    const char *get[] = {"load",   url(&s, "/v1/models"),
                         "-m",     "GET",
                         "-H",     "Authorization: Bearer x",
                         "-n",     "5",
                         "--json", "--quiet",
                         NULL};
    struct e2e_run r = e2e_run(get);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(num(r.out, "200"), 5, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\"method\":\"GET\""));
    assert_clean_exit(&r);
    e2e_free(&r);

    const char *body = e2e_path("body.json");
    FILE *f = fopen(body, "w");
    fputs("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", f);
    fclose(f);
    const char *post[] = {
        "load", url(&s, "/v1/chat/completions"), "--body", body, "-n", "5", "--json", "--quiet",
        NULL};
    r = e2e_run(post);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(num(r.out, "200"), 5, "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, text_report_and_progress_lines)
{
    struct stub s =
        stub_start((struct stub_opts){.delay_ms = 2, .every_nth = 2, .nth_status = 503});
    const char *args[] = {"load", url(&s, "/"), "-d", "1200ms", "-c", "2", NULL};
    struct e2e_run r = e2e_run(args);
    stub_stop(&s);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_not_null(strstr(r.err, "load: POST http://127.0.0.1:"), "%s", r.err);
    cr_assert(e2e_count_lines(r.err, "progress: ") >= 1, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "  requests "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, " 200: "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, " 503: "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "  latency       p50 "), "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

/* A progress line on stderr (one a second off a terminal) that counts at
 * least one finished request. */
static int progress_shows_work(void)
{
    char *err = e2e_slurp(e2e_path("cmd.err"));
    int seen = 0;
    for (const char *p = strstr(err, "progress: "); p && !seen; p = strstr(p + 1, "progress: "))
        seen = strtoull(p + strlen("progress: "), NULL, 10) > 0;
    free(err);
    return seen;
}

Test(load, ctrl_c_reports_what_finished)
{
    struct stub s = stub_start((struct stub_opts){.delay_ms = 10});
    const char *args[] = {"load", url(&s, "/"), "-d", "20s", "-c", "4", "--json", NULL};
    pid_t pid = e2e_spawn(args);
    /* SIGINT once the run has finished some requests (its progress line
     * says so), not after a guessed sleep; well before the 20 s. */
    for (int i = 0; i < 1000 && !progress_shows_work(); i++)
        usleep(10000);
    kill(pid, SIGINT);
    struct e2e_run r = e2e_wait(pid);
    stub_stop(&s);
    cr_assert_eq(r.status, 130, "exit %d: %s", r.status, r.err);
    assert_counts_add_up(r.out);
    cr_assert(num(r.out, "requests") > 0, "%s", r.out);
    /* The signal ended it, not the 20 s: no ceiling on how fast it stopped. */
    cr_assert_not_null(strstr(r.out, "\"interrupted\":true"), "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

static void expect_usage_error(const char *const *args, const char *needle)
{
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 2, "%s: exit %d: %s", args[1] ? args[1] : "", r.status, r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "one line expected, got: %s", r.err);
    cr_assert_not_null(strstr(r.err, needle), "'%s' not in: %s", needle, r.err);
    cr_assert_eq(r.out[0], '\0', "%s", r.out);
    assert_clean_exit(&r);
    e2e_free(&r);
}

Test(load, bad_arguments_are_usage_errors)
{
    const char *u = "http://127.0.0.1:9/";
    expect_usage_error((const char *[]){"load", NULL}, "a URL is required");
    expect_usage_error((const char *[]){"load", "https://127.0.0.1:9/", NULL}, "https URLs");
    expect_usage_error((const char *[]){"load", "ftp://x/", NULL}, "must start with http://");
    expect_usage_error((const char *[]){"load", "http://127.0.0.1:99999/", NULL}, "bad URL");
    expect_usage_error((const char *[]){"load", "http:///x", NULL}, "bad URL");
    expect_usage_error((const char *[]){"load", u, u, NULL}, "one URL only");
    expect_usage_error((const char *[]){"load", u, "-c", "0", NULL}, "--concurrency");
    expect_usage_error((const char *[]){"load", u, "-n", "0", NULL}, "--requests");
    expect_usage_error((const char *[]){"load", u, "-d", "10x", NULL}, "--duration");
    expect_usage_error((const char *[]){"load", u, "-d", "0s", NULL}, "--duration");
    expect_usage_error((const char *[]){"load", u, "--rate", "0", NULL}, "--rate");
    expect_usage_error((const char *[]){"load", u, "--timeout-ms", "abc", NULL}, "--timeout-ms");
    expect_usage_error((const char *[]){"load", u, "-H", "NoColon", NULL}, "--header");
    expect_usage_error((const char *[]){"load", u, "-H", "Content-Length: 5", NULL},
                       "set by sluice load");
    expect_usage_error((const char *[]){"load", u, "-m", "GE T", NULL}, "--method");
    expect_usage_error((const char *[]){"load", u, "--body", "/nonexistent/body.json", NULL},
                       "cannot read --body");
    expect_usage_error((const char *[]){"load", u, "--body", "/etc/hostname", "--model", "x", NULL},
                       "--model has no effect with --body");
    expect_usage_error((const char *[]){"load", u, "--bogus", NULL}, "unknown option '--bogus'");
}

Test(load, help_exits_0)
{
    const char *args[] = {"load", "--help", NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "usage: sluice load URL"));
    assert_clean_exit(&r);
    e2e_free(&r);
}
