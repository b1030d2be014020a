/* serve and its store, end to end: rows are never dropped when the store
 * falls behind, and `sluice stats` reads a serve run as a serve run. */
#include "serve_support.h"
#include "pg_support.h"

TestSuite(serve_store, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 90);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";

static char buf[256 * 1024];

/* serve in front of a mock, its store's queue one batch of two rows (a test
 * knob), and SQLite's write lock taken by the returned connection: the
 * store's writer is stuck on its first batch until the test commits. */
static sqlite3 *start_with_a_stuck_store(int *mp, pid_t *mock, int *sp, pid_t *serve)
{
    setenv("SLUICE_TEST_STORE_QUEUE", "2,1", 1);
    *mp = e2e_start_mock(NULL, mock);
    *sp = e2e_start_serve_upstream(*mp, NULL, serve);
    unsetenv("SLUICE_TEST_STORE_QUEUE");
    sqlite3 *blocker;
    cr_assert_eq(sqlite3_open(e2e_path("serve.db"), &blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return blocker;
}

/* Waits (at most about 5 s) until at least MIN rows went to the overflow
 * spool; returns how many did. The /metrics text stays in
 * e2e_metrics_text(). */
static double wait_spooled(int port, double min)
{
    double spooled = 0;
    for (int i = 0; i < 500 && (spooled = e2e_metric(port, "sluice_log_rows_spooled_total")) < min;
         i++)
        usleep(10000);
    return spooled;
}

/* The store's queue holds one batch of two rows (a test knob), and the test
 * holds SQLite's write lock, so the writer is stuck on its first batch
 * while 60 requests finish: their rows must go to the overflow spool, and
 * all 60 be in the database once serve has stopped. */
Test(serve_store, a_store_that_falls_behind_spools_and_drops_nothing)
{
    enum { N = 60 };
    pid_t mock, serve;
    int mp, sp;
    sqlite3 *blocker = start_with_a_stuck_store(&mp, &mock, &sp, &serve);
    const char *db_path = e2e_path("serve.db");
    for (int i = 0; i < N; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200,
                     "request %d: %s", i, buf);
    /* every row but the stuck batch's (and at most one partial batch) is
     * on disk in the spool while the writer is still held */
    double spooled = wait_spooled(sp, N - 4);
    cr_assert_geq(spooled, N - 4, "spooled %g: %s", spooled, e2e_metrics_text());
    cr_assert(e2e_exists(e2e_path("serve.db.spool")));
    cr_assert_null(strstr(e2e_metrics_text(), "dropped"), "%s", e2e_metrics_text());
    cr_assert_eq(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests"), N);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(DISTINCT metadata ->> 'id') FROM requests"), N);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests WHERE status = 'succeeded'"),
                 N);
    /* prompt tokens counted as OpenAI bills them: 3 + "user" + "hello" + 3 */
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests"
                                      " WHERE metadata ->> 'prompt_tokens_counted' = 8"),
                 N);
    /* the cost of the mock's reported usage at gpt-4o-mini's price (USD 0.15
     * and 0.60 per million input and output tokens, data/prices.tsv) */
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests"
                                      " WHERE metadata ->> 'completion_tokens' > 0 AND"
                                      " abs((metadata ->> 'cost_usd') -"
                                      " ((metadata ->> 'prompt_tokens') * 0.15 +"
                                      " (metadata ->> 'completion_tokens') * 0.6) / 1e6) < 1e-12"),
                 N);
    cr_assert(!e2e_exists(e2e_path("serve.db.spool")), "the spool was left behind");
    char *err = e2e_slurp(e2e_path("serve.err"));
    char expect[64];
    snprintf(expect, sizeof(expect), "%d request(s) recorded (", N);
    const char *at = strstr(err, expect);
    cr_assert_not_null(at, "%s", err);
    int through = atoi(at + strlen(expect));
    cr_assert(through >= spooled && through <= N, "%d through the spool, %g seen", through,
              spooled);
    free(err);
}

/* serve killed while rows wait in the overflow spool: the next serve on the
 * database replays them (under the killed run's id) and removes the file. */
Test(serve_store, a_spool_left_by_a_killed_serve_is_replayed_by_the_next)
{
    enum { N = 40 };
    pid_t mock, serve;
    int mp, sp;
    sqlite3 *blocker = start_with_a_stuck_store(&mp, &mock, &sp, &serve);
    const char *db_path = e2e_path("serve.db");
    for (int i = 0; i < N; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    double spooled = wait_spooled(sp, N - 4);
    cr_assert_geq(spooled, N - 4);
    kill(serve, SIGKILL);
    int ws;
    cr_assert_eq(waitpid(serve, &ws, 0), serve);
    cr_assert_eq(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    cr_assert(e2e_exists(e2e_path("serve.db.spool")));

    sp = e2e_start_serve_upstream(mp, NULL, &serve);
    for (int i = 0; i < 500; i++) {
        char *text = e2e_slurp(e2e_path("serve.err"));
        int done = strstr(text, "replayed") != NULL;
        free(text);
        if (done)
            break;
        usleep(10000);
    }
    e2e_stop(serve);
    e2e_stop(mock);
    char *err = e2e_slurp(e2e_path("serve.err"));
    cr_assert_not_null(strstr(err, "found the overflow spool"), "%s", err);
    cr_assert_not_null(strstr(err, "replayed"), "%s", err);
    free(err);
    cr_assert(!e2e_exists(e2e_path("serve.db.spool")), "the spool was left behind");
    /* every spooled row of the killed run (run 1) is there, once */
    long long rows = e2e_sql_int(db_path, "SELECT count(*) FROM requests WHERE run_id = 1");
    cr_assert_geq(rows, (long long)spooled);
    cr_assert_leq(rows, N);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(DISTINCT metadata ->> 'id') FROM requests"),
                 e2e_sql_int(db_path, "SELECT count(*) FROM requests"));
}

static const char chat_stream_other[] = "{\"model\":\"other\",\"stream\":true,\"max_tokens\":8,"
                                        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/* `sluice stats` on a serve run shows what the gateway did: requests by
 * status, model and deployment, latency and TTFB, retries, fallbacks,
 * tokens; not the simulator's makespan. */
Test(serve_store, stats_of_a_serve_run_are_the_gateways_figures)
{
    pid_t m1, m2, serve;
    int p1, p2;
    e2e_start_fallback_mocks(&p1, &m1, &p2, &m2);
    char model[512];
    int sp = e2e_start_serve_yaml(
        "stats.yaml", NULL, &serve,
        "models:\n%s"
        "  - name: other\n"
        "    deployments:\n"
        "      - {name: solo, url: 'http://127.0.0.1:%d'}\n",
        e2e_fallback_model(model, sizeof(model), "first", "second", 5, p1, p2), p2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_eq(
        bh_request(sp, "POST", "/v1/chat/completions", chat_stream_other, buf, sizeof(buf)), 200);
    cr_assert_eq(
        bh_request(sp, "POST", "/v1/chat/completions",
                   "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", buf,
                   sizeof(buf)),
        404);
    e2e_stop(serve);
    e2e_stop(m1);
    e2e_stop(m2);

    char db[300];
    snprintf(db, sizeof(db), "sqlite:%s", e2e_path("serve.db"));
    const char *json_args[] = {"stats", "--db", db, "--json", NULL};
    struct e2e_run r = e2e_run(json_args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *expect[] = {
        "\"command\":\"serve\",\"status\":\"completed\"",
        "\"requests\":4,\"succeeded\":3,\"failed\":1,\"cancelled\":0,\"retries\":4,"
        "\"fallbacks\":2,",
        "\"completion_tokens\":40,\"streamed\":1,",
        "\"by_status\":[{\"status\":\"200\",\"requests\":3,",
        "{\"status\":\"404\",\"requests\":1,\"succeeded\":0,\"failed\":1,",
        "\"by_model\":[{\"model\":\"gpt-4o-mini\",\"requests\":2,\"succeeded\":2,\"failed\":0,"
        "\"cancelled\":0,\"retries\":4,\"fallbacks\":2,",
        "{\"model\":\"nope\",\"requests\":1,",
        "{\"model\":\"other\",\"requests\":1,",
        "\"by_deployment\":[{\"deployment\":\"second\",\"requests\":2,",
        "{\"deployment\":\"solo\",\"requests\":1,",
        "\"latency_ms\":{\"n\":4,",
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++)
        cr_assert_not_null(strstr(r.out, expect[i]), "missing %s in %s", expect[i], r.out);
    /* three requests sent a first byte; latency percentiles are ordered */
    const char *ttfb = strstr(r.out, "\"ttfb_ms\":");
    cr_assert_not_null(ttfb);
    cr_assert_eq(e2e_json_num(ttfb, "n"), 3, "%s", r.out);
    const char *lat = strstr(r.out, "\"latency_ms\":");
    double p50 = e2e_json_num(lat, "p50"), p99 = e2e_json_num(lat, "p99");
    cr_assert(p50 > 0 && p50 <= p99, "%s", r.out);
    cr_assert_null(strstr(r.out, "makespan"), "simulator figures in %s", r.out);
    e2e_free(&r);

    const char *text_args[] = {"stats", "--db", db, NULL};
    r = e2e_run(text_args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *lines[] = {"run 1 (serve, completed)",
                           "  requests        4 (streamed 1)",
                           "  fallbacks       2\n",
                           "  retries         4\n",
                           "  by model\n",
                           "    gpt-4o-mini              2  retries 4  fallbacks 2\n",
                           "  ttfb            p50 "};
    for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
        cr_assert_not_null(strstr(r.out, lines[i]), "missing '%s' in %s", lines[i], r.out);
    cr_assert_null(strstr(r.out, "makespan"), "%s", r.out);
    e2e_free(&r);
}

/* PostgreSQL: the same two properties. The test holds an exclusive lock on
 * the requests table, so the writers wait while 30 requests finish; then
 * every row is there once, and stats reads the run with the same SQL. */
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

TestSuite(serve_store_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 90);

Test(serve_store_pg, spools_when_behind_and_stats_read_the_serve_run)
{
    enum { N = 30 };
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    setenv("SLUICE_TEST_STORE_QUEUE", "2,1", 1);
    int sp = e2e_start_serve_upstream(mp, pgt_url, &serve);
    unsetenv("SLUICE_TEST_STORE_QUEUE");
    PGconn *blocker = pgt_connect(pgt_url);
    PGresult *res = PQexec(blocker, "BEGIN; LOCK TABLE requests IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    for (int i = 0; i < N; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200,
                     "request %d: %s", i, buf);
    double spooled = wait_spooled(sp, N - 4);
    cr_assert_geq(spooled, N - 4, "spooled %g: %s", spooled, e2e_metrics_text());
    res = PQexec(blocker, "COMMIT");
    PQclear(res);
    PQfinish(blocker);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), N);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT metadata ->> 'id') FROM requests"), N);

    const char *stats[] = {"stats", "--json", "--db", pgt_url, NULL};
    struct e2e_run r = e2e_run(stats);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char expect[200];
    snprintf(expect, sizeof(expect), "\"command\":\"serve\",\"status\":\"completed\"");
    cr_assert_not_null(strstr(r.out, expect), "%s", r.out);
    snprintf(expect, sizeof(expect),
             "\"requests\":%d,\"succeeded\":%d,\"failed\":0,\"cancelled\":0,\"retries\":0,"
             "\"fallbacks\":0,",
             N, N);
    cr_assert_not_null(strstr(r.out, expect), "%s", r.out);
    snprintf(expect, sizeof(expect), "\"by_status\":[{\"status\":\"200\",\"requests\":%d,", N);
    cr_assert_not_null(strstr(r.out, expect), "%s", r.out);
    snprintf(expect, sizeof(expect), "\"by_model\":[{\"model\":\"gpt-4o-mini\",\"requests\":%d,",
             N);
    cr_assert_not_null(strstr(r.out, expect), "%s", r.out);
    const char *lat = strstr(r.out, "\"latency_ms\":");
    cr_assert_not_null(lat, "%s", r.out);
    cr_assert_eq(e2e_json_num(lat, "n"), N);
    cr_assert_eq(e2e_json_num(strstr(r.out, "\"ttfb_ms\":"), "n"), N);
    cr_assert_leq(e2e_json_num(lat, "p50"), e2e_json_num(lat, "p99"));
    e2e_free(&r);
}

/* Runs `sluice ARGS` as a user who may read the database but not write it:
 * nobody when the tests run as root, else the same user with the file made
 * read-only. Returns the exit status; stderr goes to ro.err. */
static int run_as_reader(const char *const *args)
{
    const char *argv[16] = {e2e_bin()};
    int n = 1;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int err = open(e2e_path("ro.err"), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int out = open("/dev/null", O_WRONLY);
        dup2(out, 1);
        dup2(err, 2);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* `sluice stats` on a database it may only read leaves no -wal or -shm
 * behind, whether its directory is writable or not, and still answers. */
Test(serve_store, stats_on_a_database_it_may_only_read_leaves_no_wal_or_shm)
{
    char dir[300], db[320], url[330], wal[330], shm[330];
    snprintf(dir, sizeof(dir), "%s", e2e_path("ro"));
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(db, sizeof(db), "%s/r.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", db);
    snprintf(wal, sizeof(wal), "%s-wal", db);
    snprintf(shm, sizeof(shm), "%s-shm", db);
    const char *sim[] = {"simulate", "--requests", "50", "--no-progress", "--db", url, NULL};
    struct e2e_run r = e2e_run(sim);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    /* (not e2e_sql_int here: its read-only connection leaves a -wal) */
    cr_assert(!e2e_exists(wal) && !e2e_exists(shm));
    /* everyone may read; the directory's permissions vary below */
    cr_assert_eq(chmod(e2e_dir, 0755), 0);
    cr_assert_eq(chmod(db, 0444), 0);
    const char *stats[] = {"stats", "--db", url, NULL};
    for (int writable_dir = 1; writable_dir >= 0; writable_dir--) {
        cr_assert_eq(chmod(dir, writable_dir ? 0777 : 0555), 0);
        int status = run_as_reader(stats);
        char *err = e2e_slurp(e2e_path("ro.err"));
        cr_assert_eq(status, 0, "stats (directory %s): %s", writable_dir ? "writable" : "read-only",
                     err);
        free(err);
        cr_assert(!e2e_exists(wal), "%s left behind (directory %s)", wal,
                  writable_dir ? "writable" : "read-only");
        cr_assert(!e2e_exists(shm), "%s left behind (directory %s)", shm,
                  writable_dir ? "writable" : "read-only");
    }
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(e2e_dir, 0700), 0);
}
