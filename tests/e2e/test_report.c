/* sluice report and simulate --report end to end: the page's embedded
 * numbers against SQL on the same database, and bad input. */
#include "report_support.h"
#include "serve_support.h"
#include "../pg_support.h"

TestSuite(report, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 120);

static void simulate_n(const char *db, const char *report, const char *seed, const char *requests,
                       const char *latency_ms)
{
    const char *args[] = {"simulate",
                          "--requests",
                          requests,
                          "--concurrency",
                          "8",
                          "--latency-ms",
                          latency_ms,
                          "--fail-rate",
                          "0.3",
                          "--backoff-base-ms",
                          "2",
                          "--error-mix",
                          "timeout:1,unavailable:1,bad_request:1",
                          "--seed",
                          seed,
                          "--quiet",
                          "--json",
                          "--db",
                          db,
                          report ? "--report" : NULL,
                          report,
                          NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    e2e_free(&r);
}

static void simulate(const char *db, const char *report, const char *seed)
{
    simulate_n(db, report, seed, "400", "1-6");
}

/* The numbers of a simulate page, each against the SQL that defines it. */
static void check_simulate(const char *db, json_t *d, int run)
{
    char sql[600], where[200];
    snprintf(where, sizeof(where), "WHERE run_id = %d", run);
    cr_assert_str_eq(json_string_value(json_object_get(d, "kind")), "simulate");
    cr_assert_eq(jnum(d, "run.id"), run);
    cr_assert_eq(jnum(d, "stats.run_id"), run);

    /* throughput: completions per second x bucket width = rows by status */
    double w = jnum(d, "timeline.bucket_s");
    size_t nb = json_array_size(jget(d, "timeline.t"));
    cr_assert_gt(nb, 1);
    static const char *const st[3] = {"succeeded", "failed", "cancelled"};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof(key), "timeline.rate.%s", st[i]);
        cr_assert_eq(json_array_size(jget(d, key)), nb);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests %s AND status = '%s'", where,
                 st[i]);
        double want = (double)e2e_sql_int(db, sql), got = jsum(jget(d, key)) * w;
        cr_assert(fabs(got - want) < 1e-6 * (want + 1), "%s: %.6f in the page, %.0f in SQL", st[i],
                  got, want);
    }
    /* in flight: its integral over the run is the total busy time, and it
     * never passes the limit */
    snprintf(sql, sizeof(sql),
             "SELECT sum(finished_us - started_us) FROM requests %s AND started_us IS NOT NULL",
             where);
    double busy = (double)e2e_sql_int(db, sql) / 1e6,
           integral = jsum(jget(d, "timeline.in_flight.total")) * w;
    cr_assert(fabs(integral - busy) < 1e-6 * busy + 1e-9, "in flight integral %.6f s, busy %.6f s",
              integral, busy);
    size_t i;
    const json_t *v;
    json_array_foreach(jget(d, "timeline.in_flight.total"), i, v)
    {
        cr_assert_leq(json_number_value(v), 8 + 1e-9, "bucket %zu: %.3f in flight", i,
                      json_number_value(v));
        cr_assert_geq(json_number_value(v), -1e-9);
    }

    /* histograms: every bin against SQL's count of the same range */
    static const char *const hist[2][2] = {{"processing", "finished_us - started_us"},
                                           {"queue", "started_us - created_us"}};
    for (int h = 0; h < 2; h++) {
        char key[64];
        snprintf(key, sizeof(key), "%s.bin_ms", hist[h][0]);
        long long bw = llround(jnum(d, key) * 1000);
        snprintf(key, sizeof(key), "%s.counts", hist[h][0]);
        const json_t *counts = jget(d, key);
        size_t n = json_array_size(counts);
        json_array_foreach(counts, i, v)
        {
            snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM requests %s AND started_us IS NOT NULL AND (%s) >= "
                     "%lld AND (%s) < %lld",
                     where, hist[h][1], (long long)i * bw, hist[h][1], (long long)(i + 1) * bw);
            cr_assert_eq((long long)json_number_value(v), e2e_sql_int(db, sql), "%s bin %zu",
                         hist[h][0], i);
        }
        snprintf(key, sizeof(key), "%s.overflow", hist[h][0]);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM requests %s AND started_us IS NOT NULL AND (%s) >= %lld",
                 where, hist[h][1], (long long)n * bw);
        cr_assert_eq((long long)jnum(d, key), e2e_sql_int(db, sql), "%s overflow", hist[h][0]);
    }
    cr_assert_gt(json_number_value(json_array_get(jget(d, "queue.counts"), 1)) +
                     jnum(d, "queue.overflow") +
                     json_number_value(json_array_get(jget(d, "queue.counts"), 2)),
                 0, "400 requests through 8 slots must wait");

    /* attempts, status and error class: the whole table */
    snprintf(sql, sizeof(sql),
             "SELECT attempts, status, coalesce(error, ''), count(*) FROM requests %s"
             " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
             where);
    char *want = e2e_sql_text(db, sql), got[65536] = "";
    size_t len = 0;
    json_array_foreach(jget(d, "attempts"), i, v) len += (size_t)snprintf(
        got + len, sizeof(got) - len, "%lld|%s|%s|%lld\n",
        (long long)json_integer_value(json_array_get(v, 0)),
        json_string_value(json_array_get(v, 1)), json_string_value(json_array_get(v, 2)),
        (long long)json_integer_value(json_array_get(v, 3)));
    cr_assert_str_eq(got, want);
    cr_assert_not_null(strstr(got, "|failed|bad_request|"), "a permanent error is listed");
    free(want);
}

/* `sluice report [--run RUN]` into page, then its numbers against SQL */
static void report_and_check(const char *db, const char *run, const char *page, int want_run)
{
    const char *args[] = {"report", "--db", db, "-o", page, run ? "--run" : NULL, run, NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    e2e_free(&r);
    json_t *d = report_data(page);
    check_simulate(db, d, want_run);
    json_decref(d);
}

Test(report, simulate_report_matches_sql_and_stats)
{
    const char *db = e2e_path("sim.db"), *page = e2e_path("sim.html"),
               *page2 = e2e_path("again.html");
    simulate(db, page, "21");
    json_t *d = report_data(page);
    check_simulate(db, d, 1);

    /* the page's summary is what `sluice stats` prints */
    const char *sargs[] = {"stats", "--json", "--db", db, NULL};
    struct e2e_run st = e2e_run(sargs);
    cr_assert_eq(st.status, 0, "stderr: %s", st.err);
    static const char *const keys[] = {
        "requests", "succeeded",    "failed",     "retries",          "p50_ms",        "p95_ms",
        "p99_ms",   "avg_queue_ms", "makespan_s", "ideal_makespan_s", "max_in_flight", "db_rows"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        char path[64];
        snprintf(path, sizeof(path), "stats.%s", keys[i]);
        cr_assert_eq(jnum(d, path), e2e_json_num(st.out, keys[i]), "%s", keys[i]);
    }
    e2e_free(&st);

    /* `sluice report` afterwards writes the same page */
    const char *rargs[] = {"report", "--db", db, "-o", page2, NULL};
    struct e2e_run r = e2e_run(rargs);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    char *a = e2e_slurp(page), *b = e2e_slurp(page2);
    cr_assert_str_eq(a, b, "simulate --report and sluice report differ");
    free(a);
    free(b);
    e2e_free(&r);
    json_decref(d);

    /* a second run; --run picks the first one again, the default the latest */
    simulate(db, NULL, "22");
    report_and_check(db, "1", page2, 1);
    report_and_check(db, NULL, page2, 2);
}

/* A run of more rows than one of the report's chunks (10,000): read in
 * two, every figure still SQL's. */
Test(report, a_run_read_in_several_chunks)
{
    const char *db = e2e_path("big.db");
    simulate_n(db, NULL, "23", "12000", "0-1");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 12000);
    report_and_check(db, NULL, e2e_path("big.html"), 1);
}

static void expect_error(const char *const *args, int status, const char *needle)
{
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, status, "exit %d, stderr: %s", r.status, r.err);
    cr_assert_not_null(strstr(r.err, needle), "stderr: %s", r.err);
    char *nl = strchr(r.err, '\n');
    cr_assert(nl != NULL && nl[1] == '\0', "one line expected: %s", r.err);
    e2e_free(&r);
}

Test(report, bad_input_one_line_and_non_zero)
{
    const char *db = e2e_path("bad.db"), *page = e2e_path("bad.html");
    const char *missing[] = {"report", "--db", e2e_path("nope.db"), "-o", page, NULL};
    expect_error(missing, 1, "no database");
    cr_assert(!e2e_exists(e2e_path("nope.db")), "a reader must not create the database");

    simulate(db, NULL, "5");
    const char *unknown[] = {"report", "--db", db, "--run", "7", "-o", page, NULL};
    expect_error(unknown, 1, "no run 7");
    const char *zero[] = {"report", "--db", db, "--run", "0", NULL};
    expect_error(zero, 2, "--run");
    const char *unwritable[] = {"report", "--db", db, "-o", e2e_path("no/such/dir/x.html"), NULL};
    expect_error(unwritable, 1, "cannot write");
    const char *flag[] = {"report", "--db", db, "--bogus", NULL};
    expect_error(flag, 2, "--bogus");
    const char *url[] = {"report", "--db", "mysql://x", NULL};
    expect_error(url, 2, "--db");
    cr_assert(!e2e_exists(page));

    /* simulate --report to a place it cannot write: the run is recorded,
     * the report fails loudly */
    const char *args[] = {
        "simulate", "--requests", "20", "--latency-ms", "0",
        "--quiet",  "--db",       db,   "--report",     e2e_path("no/such/dir/r.html"),
        NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 1, "exit %d, stderr: %s", r.status, r.err);
    cr_assert_not_null(strstr(r.err, "cannot write"), "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE run_id = 2"), 20);
    e2e_free(&r);

    /* no temporary file is left behind */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp-", e2e_dir);
    cr_assert_neq(system(cmd), 0, "a temporary file was left");
}

/* A serve run recorded in db (a path or a PostgreSQL URL): two upstreams
 * (one flaky), three deployments with limits, streamed and unstreamed
 * requests and refusals: 245 rows. */
static void serve_run(const char *db)
{
    pid_t m1, m2, serve;
    const char *flaky[] = {"--fail-rate", "0.3",    "--error-mix", "500", "--latency-ms",
                           "1-4",         "--seed", "5",           NULL};
    const char *steady[] = {"--latency-ms", "1-4", "--token-ms", "1", NULL};
    int p1 = e2e_start_mock_as("mock1", flaky, &m1), p2 = e2e_start_mock_as("mock2", steady, &m2);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "models:\n"
             "  - name: gpt-4o-mini\n"
             "    deployments:\n"
             "      - {name: east, url: 'http://127.0.0.1:%d', max_concurrency: 4,\n"
             "         retry: {max_attempts: 2, backoff: fixed, base_ms: 1}}\n"
             "      - {name: west, url: 'http://127.0.0.1:%d', max_concurrency: 3}\n"
             "  - name: gpt-4o\n"
             "    deployments:\n"
             "      - {name: big, url: 'http://127.0.0.1:%d', max_concurrency: 2}\n",
             p1, p2, p2);
    int sp =
        e2e_start_serve_with("--config", e2e_write_file("report.yaml", yaml), db, NULL, &serve);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", sp);
    const char *l1[] = {"load", url, "-n", "200", "-c", "6", "--quiet", NULL};
    const char *l2[] = {"load",     url,       "-n",     "40",      "-c", "2",
                        "--stream", "--model", "gpt-4o", "--quiet", NULL};
    const char *l3[] = {"load", url, "-n", "5", "-c", "1", "--model", "nope", "--quiet", NULL};
    const char *const *loads[] = {l1, l2, l3};
    for (int i = 0; i < 3; i++) {
        struct e2e_run r = e2e_run(loads[i]);
        cr_assert_eq(r.status, 0, "load: %s\nservers: %s", r.err, e2e_all_stderr());
        e2e_free(&r);
    }
    e2e_stop(serve);
    e2e_stop(m1);
    e2e_stop(m2);
}

/* The page's stats block is what `sluice stats --json` prints: the
 * report reads a serve run in one pass of its own (report/serve_pass.c),
 * `sluice stats` in SQL. */
static void expect_stats_as_sluice_stats(const json_t *d, const char *db)
{
    const char *args[] = {"stats", "--db", db, "--json", NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "stats: %s", r.err);
    json_error_t err;
    json_t *want = json_loads(r.out, 0, &err);
    cr_assert_not_null(want, "stats --json: %s", err.text);
    char *a = json_dumps(json_object_get(d, "stats"), JSON_SORT_KEYS | JSON_COMPACT),
         *b = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    json_decref(want);
    e2e_free(&r);
}

/* serve_run into db, then its page's data: a serve page of 245 requests
 * whose summary is `sluice stats --json`'s. */
static json_t *serve_report(const char *db, const char *page)
{
    serve_run(db);
    const char *args[] = {"report", "--db", db, "-o", page, NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    e2e_free(&r);
    json_t *d = report_data(page);
    cr_assert_str_eq(json_string_value(json_object_get(d, "kind")), "serve");
    cr_assert_eq(jnum(d, "stats.requests"), 245);
    expect_stats_as_sluice_stats(d, db);
    return d;
}

/* The page against SQL on the same database. */
Test(report, serve_report_matches_sql)
{
    const char *db = e2e_path("serve.db");
    json_t *d = serve_report(db, e2e_path("serve.html"));
    cr_assert_eq(jnum(d, "run.params.deployments.east"), 4);
    cr_assert_eq(jnum(d, "run.params.deployments.west"), 3);
    cr_assert_eq(jnum(d, "run.params.deployments.big"), 2);

    /* requests per second by status x bucket width = rows by status */
    double w = jnum(d, "timeline.bucket_s");
    char *want = e2e_sql_text(db, "SELECT metadata ->> 'status', count(*) FROM requests"
                                  " GROUP BY 1 ORDER BY 1");
    char got[4096] = "";
    size_t len = 0, i;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)jget(d, "timeline.rate"), key, v) len +=
        (size_t)snprintf(got + len, sizeof(got) - len, "%s|%.0f\n", key, jsum(v) * w);
    cr_assert_str_eq(got, want);
    cr_assert_not_null(strstr(got, "404|5\n"), "%s", got);
    free(want);

    /* in flight per deployment: its integral is the deployment's busy time */
    want = e2e_sql_text(db, "SELECT metadata ->> 'deployment', sum(finished_us - started_us)"
                            " FROM requests WHERE started_us IS NOT NULL GROUP BY 1 ORDER BY 1");
    got[0] = '\0';
    len = 0;
    json_object_foreach((json_t *)jget(d, "timeline.in_flight"), key, v)
    {
        if (strcmp(key, "total") != 0)
            len +=
                (size_t)snprintf(got + len, sizeof(got) - len, "%s|%.0f\n", key, jsum(v) * w * 1e6);
        json_t *x;
        json_array_foreach(v, i, x) cr_assert_geq(json_number_value(x), -1e-9);
    }
    cr_assert_str_eq(got, want);
    free(want);

    /* the model table, whole */
    want = e2e_sql_text(db, "SELECT metadata ->> 'model', count(*), sum(status = 'succeeded'),"
                            " sum(status = 'failed'), sum(retries), sum(metadata ->> 'fallbacks'),"
                            " sum(metadata ->> 'completion_tokens') FROM requests GROUP BY 1"
                            " ORDER BY 2 DESC, 1");
    got[0] = '\0';
    len = 0;
    json_array_foreach(jget(d, "groups.model"), i, v) len += (size_t)snprintf(
        got + len, sizeof(got) - len, "%s|%.0f|%.0f|%.0f|%.0f|%.0f|%.0f\n",
        json_string_value(json_object_get(v, "name")), jnum(v, "requests"), jnum(v, "succeeded"),
        jnum(v, "failed"), jnum(v, "retries"), jnum(v, "fallbacks"), jnum(v, "completion_tokens"));
    cr_assert_str_eq(got, want);
    free(want);
    cr_assert_gt(e2e_sql_int(db, "SELECT sum(retries) FROM requests"), 0, "the flaky one retries");

    /* percentiles: every row in one latency bucket, every first byte in a
     * TTFT bucket; the fullest bucket's p50 is SQL's nearest rank */
    cr_assert_eq(jsum(jget(d, "latency.n")), 245);
    cr_assert_eq(jsum(jget(d, "ttft.n")),
                 e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'ttfb_ms' > 0"));
    size_t best = 0;
    const json_t *ns = jget(d, "latency.n");
    json_array_foreach(ns, i, v) if (json_number_value(v) >
                                     json_number_value(json_array_get(ns, best))) best = i;
    double n = json_number_value(json_array_get(ns, best));
    long long b = llround(json_number_value(json_array_get(jget(d, "latency.t"), best)) * 1e6 /
                          (jnum(d, "latency.bucket_s") * 1e6));
    char sql[600];
    snprintf(sql, sizeof(sql),
             "SELECT finished_us - created_us FROM requests WHERE"
             " (finished_us - %lld) / %lld = %lld ORDER BY 1 LIMIT 1 OFFSET %lld",
             (long long)jnum(d, "run.t0_us"), llround(jnum(d, "latency.bucket_s") * 1e6), b,
             (long long)ceil(0.5 * n) - 1);
    double p50 = json_number_value(json_array_get(jget(d, "latency.p50"), best));
    cr_assert_float_eq(p50 * 1000, (double)e2e_sql_int(db, sql), 1e-3, "bucket %lld p50", b);
    json_decref(d);
}

/* PostgreSQL: the same seeded simulate into SQLite and PostgreSQL gives
 * the same outcome tables, and the PostgreSQL page's in flight integrates
 * to its busy time. */
static void pg_setup(void)
{
    e2e_tmpdir();
    pgt_new_db();
}

static void pg_teardown(void)
{
    pgt_drop_db();
    e2e_rmdir();
}

TestSuite(report_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 120);

Test(report_pg, a_postgresql_run_reads_like_the_sqlite_one)
{
    const char *lite = e2e_path("lite.db"), *lp = e2e_path("lite.html"), *pp = e2e_path("pg.html");
    simulate(lite, lp, "31");
    simulate(pgt_url, pp, "31");
    json_t *a = report_data(lp), *b = report_data(pp);
    char *ja = json_dumps(json_object_get(a, "attempts"), JSON_COMPACT),
         *jb = json_dumps(json_object_get(b, "attempts"), JSON_COMPACT);
    cr_assert_str_eq(ja, jb);
    free(ja);
    free(jb);
    static const char *const keys[] = {"stats.requests", "stats.succeeded", "stats.failed",
                                       "stats.retries", "stats.db_rows"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        cr_assert_eq(jnum(a, keys[i]), jnum(b, keys[i]), "%s", keys[i]);
    double busy_us = (double)pgt_int(pgt_url, "SELECT CAST(sum(extract(epoch FROM finished_at -"
                                              " started_at) * 1000000) AS bigint) FROM requests");
    double integral =
        jsum(jget(b, "timeline.in_flight.total")) * jnum(b, "timeline.bucket_s") * 1e6;
    cr_assert(fabs(integral - busy_us) < 1, "in flight %.1f us, busy %.1f us", integral, busy_us);
    double rows = jsum(jget(b, "processing.counts")) + jnum(b, "processing.overflow");
    cr_assert_eq(rows,
                 pgt_int(pgt_url, "SELECT count(*) FROM requests WHERE started_at IS NOT NULL"));
    json_decref(a);
    json_decref(b);
}

/* A serve run recorded in PostgreSQL: its page against SQL there. */
Test(report_pg, a_serve_run_in_postgresql)
{
    json_t *d = serve_report(pgt_url, e2e_path("pg-serve.html"));

    double w = jnum(d, "timeline.bucket_s");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)jget(d, "timeline.rate"), key, v)
    {
        char sql[200];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM requests WHERE coalesce(metadata ->> 'status', '0') = '%s'",
                 key);
        cr_assert_eq(llround(jsum(v) * w), pgt_int(pgt_url, sql), "status %s", key);
    }
    json_object_foreach((json_t *)jget(d, "timeline.in_flight"), key, v)
    {
        if (strcmp(key, "total") == 0)
            continue;
        char sql[300];
        snprintf(sql, sizeof(sql),
                 "SELECT CAST(sum(extract(epoch FROM finished_at - started_at) * 1000000) AS"
                 " bigint) FROM requests WHERE started_at IS NOT NULL AND"
                 " metadata ->> 'deployment' = '%s'",
                 key);
        cr_assert(fabs(jsum(v) * w * 1e6 - (double)pgt_int(pgt_url, sql)) < 1, "%s", key);
    }
    long long tokens = pgt_int(pgt_url, "SELECT sum((metadata ->> 'completion_tokens')::bigint)"
                                        " FROM requests");
    double got = 0;
    size_t i;
    json_array_foreach(jget(d, "groups.key"), i, v) got += jnum(v, "completion_tokens");
    cr_assert_eq(llround(got), tokens);
    json_decref(d);
}
