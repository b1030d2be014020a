/* sluice simulate end to end, scaled down: real process, real SQLite file. */
#include "e2e.h"

TestSuite(simulate, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

Test(simulate, rows_retries_and_concurrency_add_up)
{
    const char *db = e2e_path("sim.db");
    const char *args[] = {"simulate", "--requests",
                          "200",      "--concurrency",
                          "10",       "--latency-ms",
                          "5-20",     "--fail-rate",
                          "0.3",      "--backoff-base-ms",
                          "2",        "--seed",
                          "11",       "--no-progress",
                          "--json",   "--db",
                          db,         NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);

    /* rows in the database equal the finished requests */
    cr_assert_eq(e2e_json_num(r.out, "requests"), 200);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 200);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 200);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(DISTINCT request_id) FROM requests"), 200);
    cr_assert_eq(e2e_json_num(r.out, "succeeded") + e2e_json_num(r.out, "failed"), 200);

    /* the sum of retry counts equals the retries logged as they happened */
    int logged = e2e_count_lines(r.err, "retry: ");
    cr_assert_gt(logged, 0, "a 0.3 fail rate over 200 requests must retry");
    cr_assert_eq(e2e_sql_int(db, "SELECT sum(retries) FROM requests"), logged);
    cr_assert_eq(e2e_json_num(r.out, "retries"), logged);

    /* the limit was reached and never exceeded */
    cr_assert_eq(e2e_json_num(r.out, "max_in_flight"), 10);
    cr_assert_eq(e2e_sql_int(db, "SELECT max_in_flight FROM runs"), 10);

    /* concurrency pays: makespan well under N x the average latency */
    double makespan = e2e_json_num(r.out, "makespan_s");
    double avg_ms = e2e_json_num(r.out, "avg_processing_ms");
    cr_assert_gt(makespan, 0);
    cr_assert_lt(makespan, 200 * avg_ms / 1000.0 / 3, "makespan %.3f s, avg %.1f ms", makespan,
                 avg_ms);
    cr_assert_gt(e2e_json_num(r.out, "efficiency"), 0.3);

    /* every row has its timestamps in order and its metadata as JSON */
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE NOT (created_us <= "
                                 "started_us AND started_us <= finished_us)"),
                 0);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE json_valid(metadata) AND "
                                 "metadata ->> 'model' IS NOT NULL"),
                 200);
    long long over = e2e_sql_int(db, "SELECT count(*) FROM requests WHERE "
                                     "json_extract(metadata, '$.prompt_tokens') > 100");
    cr_assert_gt(over, 0);
    cr_assert_lt(over, 200);
    e2e_free(&r);
}

Test(simulate, same_seed_same_run)
{
    const char *a = e2e_path("a.db"), *b = e2e_path("b.db");
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"simulate",
                              "--requests",
                              "80",
                              "--concurrency",
                              "8",
                              "--latency-ms",
                              "1-5",
                              "--fail-rate",
                              "0.5",
                              "--error-mix",
                              "429:2,503:1,400:1",
                              "--backoff-base-ms",
                              "1",
                              "--seed",
                              "1234",
                              "--quiet",
                              "--db",
                              i ? b : a,
                              NULL};
        struct e2e_run r = e2e_run(args);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        e2e_free(&r);
    }
    /* Same per-request outcome (attempts, status, error, metadata) in both. */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM (SELECT request_id, attempts, status, coalesce(error, ''), "
             "metadata FROM requests EXCEPT SELECT request_id, attempts, status, "
             "coalesce(error, ''), metadata FROM other.requests)");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(a, &db), SQLITE_OK);
    char attach[600];
    snprintf(attach, sizeof(attach), "ATTACH '%s' AS other", b);
    cr_assert_eq(sqlite3_exec(db, attach, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 0, "the two runs differ");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* and the seed is not ignored: the runs have failures to compare */
    cr_assert_gt(e2e_sql_int(a, "SELECT sum(retries) FROM requests"), 0);
}

Test(simulate, permanent_errors_are_not_retried)
{
    const char *db = e2e_path("perm.db");
    const char *args[] = {"simulate",
                          "--requests",
                          "100",
                          "--concurrency",
                          "10",
                          "--latency-ms",
                          "0-2",
                          "--fail-rate",
                          "0.5",
                          "--error-mix",
                          "bad_request:1,unauthorized:1",
                          "--seed",
                          "3",
                          "--quiet",
                          "--db",
                          db,
                          NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_gt(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'failed'"), 10);
    cr_assert_eq(e2e_sql_int(db, "SELECT max(attempts) FROM requests"), 1);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'failed' AND "
                                 "error NOT IN ('bad_request', 'unauthorized')"),
                 0);
    e2e_free(&r);
}

Test(simulate, max_attempts_and_deadline_bound_retries)
{
    const char *db = e2e_path("bound.db");
    const char *args[] = {"simulate", "--requests",        "50",   "--concurrency",
                          "50",       "--latency-ms",      "0",    "--fail-rate",
                          "1",        "--max-attempts",    "3",    "--backoff",
                          "fixed",    "--backoff-base-ms", "1",    "--seed",
                          "5",        "--quiet",           "--db", db,
                          NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE attempts = 3 AND "
                                 "status = 'failed'"),
                 50);
    e2e_free(&r);

    const char *db2 = e2e_path("deadline.db");
    const char *args2[] = {"simulate", "--requests",
                           "20",       "--concurrency",
                           "20",       "--latency-ms",
                           "30",       "--fail-rate",
                           "1",        "--max-attempts",
                           "100",      "--backoff",
                           "fixed",    "--backoff-base-ms",
                           "10",       "--deadline-ms",
                           "120",      "--seed",
                           "5",        "--quiet",
                           "--db",     db2,
                           NULL};
    r = e2e_run(args2);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db2, "SELECT count(*) FROM requests WHERE status = 'failed'"), 20);
    /* 30 ms attempts + 10 ms waits within 120 ms: a few attempts, never
     * 100. The attempt count is the proof; a ceiling on processing_ms would
     * measure how late a loaded machine ran the timers. */
    cr_assert_leq(e2e_sql_int(db2, "SELECT max(attempts) FROM requests"), 4);
    e2e_free(&r);
}

Test(simulate, stats_reads_the_same_numbers_back)
{
    const char *db = e2e_path("stats.db");
    const char *args[] = {"simulate", "--requests", "60", "--concurrency", "6",      "--latency-ms",
                          "1-3",      "--seed",     "9",  "--quiet",       "--json", "--db",
                          db,         NULL};
    struct e2e_run sim = e2e_run(args);
    cr_assert_eq(sim.status, 0, "stderr: %s", sim.err);
    const char *sargs[] = {"stats", "--json", "--db", db, NULL};
    struct e2e_run st = e2e_run(sargs);
    cr_assert_eq(st.status, 0, "stderr: %s", st.err);
    static const char *const keys[] = {
        "requests",   "succeeded",        "failed",        "retries",
        "p50_ms",     "p95_ms",           "p99_ms",        "avg_processing_ms",
        "makespan_s", "ideal_makespan_s", "max_in_flight", "db_rows"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        cr_assert_eq(e2e_json_num(sim.out, keys[i]), e2e_json_num(st.out, keys[i]), "%s", keys[i]);
    e2e_free(&sim);
    e2e_free(&st);

    /* a second run goes into the same database as run 2 */
    struct e2e_run again = e2e_run(args);
    cr_assert_eq(again.status, 0);
    cr_assert_eq(e2e_json_num(again.out, "run_id"), 2);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 120);
    e2e_free(&again);
}

/* One integer from a database another process is writing: -1 while it
 * cannot be read yet (no file, no table, busy). */
static long long sql_try(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(simulate, ctrl_c_cancels_the_queue_and_keeps_every_row)
{
    const char *db = e2e_path("int.db");
    const char *args[] = {"simulate", "--requests", "3000", "--concurrency", "10",   "--latency-ms",
                          "40-80",    "--seed",     "2",    "--json",        "--db", db,
                          NULL};
    pid_t pid = e2e_spawn(args);
    /* wait until the run is under way (its first rows are in the
     * database, at most 10 s), then interrupt: not a guessed sleep */
    for (int i = 0; i < 500 && sql_try(db, "SELECT count(*) FROM requests") < 1; i++)
        usleep(20000);
    cr_assert_eq(kill(pid, SIGINT), 0);
    struct e2e_run r = e2e_wait(pid);
    cr_assert_eq(r.status, 130, "exit %d, stderr: %s", r.status, r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 3000, "stdout: %s", r.out);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 3000);
    long long cancelled = e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = "
                                          "'cancelled'");
    cr_assert_gt(cancelled, 2000, "most of the queue was cancelled, got %lld", cancelled);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'cancelled' AND "
                                 "started_us IS NULL AND attempts = 0"),
                 e2e_sql_int(db, "SELECT count(*) FROM requests WHERE started_us IS NULL"));
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
    cr_assert_not_null(strstr(r.err, "interrupted"));
    e2e_free(&r);
}

Test(simulate, migrate_down_and_up_again)
{
    const char *db = e2e_path("mig.db");
    const char *up[] = {"migrate", "up", "--db", db, NULL};
    struct e2e_run r = e2e_run(up);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT max(version) FROM schema_version"), 4);
    e2e_free(&r);
    const char *down1[] = {"migrate", "down", "2", "--db", db, NULL};
    r = e2e_run(down1);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT max(version) FROM schema_version"), 2);
    cr_assert_eq(e2e_sql_int(db,
                             "SELECT count(*) FROM sqlite_master WHERE name IN "
                             "('conversations', 'messages', 'gateway_keys', 'gateway_key_spend')"),
                 0);
    e2e_free(&r);
    const char *down[] = {"migrate", "down", "2", "--db", db, NULL};
    r = e2e_run(down);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('runs', 'requests', 'request_log')"),
                 0);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM schema_version"), 0);
    e2e_free(&r);
    const char *status[] = {"migrate", "status", "--db", db, NULL};
    r = e2e_run(status);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "schema version 0"), "%s", r.out);
    e2e_free(&r);
    r = e2e_run(up);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('runs', 'requests', 'request_log')"),
                 3);
    e2e_free(&r);
}
