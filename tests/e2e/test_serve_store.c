/* serve and its store, end to end: rows are never dropped when the store
 * falls behind, and `sluice stats` reads a serve run as a serve run. */
#include "../blocking_http.h"
#include "e2e.h"

TestSuite(serve_store, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 90);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";

static char buf[256 * 1024];

static int start_serve_upstream(int mock_port, pid_t *pid)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", mock_port);
    const char *args[] = {"serve", "--upstream",         url, "--listen", "127.0.0.1:0",
                          "--db",  e2e_path("serve.db"), NULL};
    return e2e_start_server("serve", args, pid);
}

/* The value of an unlabelled sample in /metrics, or -1 when absent. */
static double metric(int port, const char *name)
{
    cr_assert_eq(bh_request(port, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
    char pat[128];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    const char *p = strstr(buf, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* The store's queue holds one batch of two rows (a test knob), and the test
 * holds SQLite's write lock, so the writer is stuck on its first batch
 * while 60 requests finish: their rows must go to the overflow spool, and
 * all 60 be in the database once serve has stopped. */
Test(serve_store, a_store_that_falls_behind_spools_and_drops_nothing)
{
    enum { N = 60 };
    setenv("SLUICE_TEST_STORE_QUEUE", "2,1", 1);
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    int sp = start_serve_upstream(mp, &serve);
    unsetenv("SLUICE_TEST_STORE_QUEUE");
    const char *db_path = e2e_path("serve.db");
    sqlite3 *blocker;
    cr_assert_eq(sqlite3_open(db_path, &blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < N; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200,
                     "request %d: %s", i, buf);
    /* every row but the stuck batch's (and at most one partial batch) is
     * on disk in the spool while the writer is still held */
    double spooled = 0;
    for (int i = 0; i < 500 && (spooled = metric(sp, "sluice_log_rows_spooled_total")) < N - 4; i++)
        usleep(10000);
    cr_assert_geq(spooled, N - 4, "spooled %g: %s", spooled, buf);
    cr_assert(e2e_exists(e2e_path("serve.db.spool")));
    cr_assert_null(strstr(buf, "dropped"), "%s", buf);
    cr_assert_eq(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests"), N);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(DISTINCT metadata ->> 'id') FROM requests"), N);
    cr_assert_eq(e2e_sql_int(db_path, "SELECT count(*) FROM requests WHERE status = 'succeeded'"),
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
