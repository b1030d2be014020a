/* Nothing lost when PostgreSQL goes away: a cluster of the test's own is
 * stopped in the middle of a `simulate` run. Restarted, every finished
 * request ends up in the database exactly once (rows kept in memory and in
 * the spool are written and replayed). Left down, the run ends saying how
 * many rows are in the spool, and the next run replays them.
 *
 * The clusters come from scripts/pg-cluster.sh (SLUICE_TEST_PG_CLUSTER),
 * on ports of their own (from 26000 up: below the ephemeral range, so an
 * outgoing connection cannot take them), so the shared test cluster is
 * never touched. */
#include "e2e.h"
#include "pg_support.h"

static char cluster[512], cluster_url[512];

/* start: the first time on the first free port from a base spread by the
 * process id over 26000-26899 (so that a test suite running side by side
 * on the machine does not probe the port of this one's stopped cluster),
 * then again on the same port (pg-cluster.sh remembers it). */
static void cluster_cmd(const char *verb, int slot)
{
    const char *script = getenv("SLUICE_TEST_PG_CLUSTER");
    cr_assert(script && *script, "SLUICE_TEST_PG_CLUSTER is not set: run the tests with "
                                 "scripts/test.sh");
    char cmd[2048], log[600];
    snprintf(log, sizeof(log), "%s.log", cluster);
    if (strcmp(verb, "start") == 0)
        snprintf(cmd, sizeof(cmd),
                 "PG_CLUSTER_FAST=1 PG_CLUSTER_PORT=%d bash '%s' start '%s' > '%s.url' 2>'%s'",
                 26000 + ((int)getpid() * 3 + slot * 300) % 900, script, cluster, cluster, log);
    else
        snprintf(cmd, sizeof(cmd), "bash '%s' stop '%s' 2>'%s'", script, cluster, log);
    if (system(cmd) != 0) {
        char *why = e2e_slurp(log);
        cr_assert_fail("%s failed: %s", cmd, why);
    }
    if (strcmp(verb, "start") == 0) {
        char path[600];
        snprintf(path, sizeof(path), "%s.url", cluster);
        char *url = e2e_slurp(path);
        url[strcspn(url, "\n")] = '\0';
        snprintf(cluster_url, sizeof(cluster_url), "%s", url);
        free(url);
    }
}

static void setup(void)
{
    e2e_tmpdir();
    chmod(e2e_dir, 0755); /* the server runs as the postgres user */
    snprintf(cluster, sizeof(cluster), "%s/cluster", e2e_dir);
}

static void teardown(void)
{
    cluster_cmd("stop", 0);
    e2e_rmdir();
}

TestSuite(pg_outage, .init = setup, .fini = teardown, .timeout = 120);

/* Waits (at most 20 s) until rows were appended to the spool file (it is
 * created empty when the store opens): the store saw the outage. */
static void wait_for_spooled_rows(const char *spool)
{
    struct stat st;
    for (int i = 0; i < 1000; i++) {
        if (stat(spool, &st) == 0 && st.st_size > 0)
            return;
        usleep(20000);
    }
    cr_assert_fail("no row reached the spool %s: %s", spool, e2e_all_stderr());
}

/* Waits until the run has written its first rows: it is under way. */
static void wait_for_rows(void)
{
    pgt_wait_for_count(cluster_url, "SELECT count(*) FROM requests", 1, "no row was written");
}

Test(pg_outage, postgres_restarted_mid_run_loses_and_duplicates_nothing)
{
    cluster_cmd("start", 0);
    const char *spool = e2e_path("run.spool");
    const char *args[] = {"simulate", "--requests",    "6000",      "--concurrency",
                          "60",       "--latency-ms",  "10-30",     "--seed",
                          "9",        "--no-progress", "--json",    "--batch-rows",
                          "200",      "--max-batches", "4",         "--spool",
                          spool,      "--db",          cluster_url, NULL};
    pid_t pid = e2e_spawn(args);
    /* Each step waits for what the next needs, not for a guessed time:
     * rows being written, then the outage seen (rows in the spool). */
    pgt_wait_for_run(cluster_url);
    wait_for_rows();
    cluster_cmd("stop", 0); /* the database goes away mid-run */
    wait_for_spooled_rows(spool);
    cluster_cmd("start", 0);
    struct e2e_run r = e2e_wait(pid);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_not_null(strstr(r.err, "store: lost"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "next try in"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "is back"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "replayed"), "the spool was not used: %s", r.err);
    cr_assert(!e2e_exists(spool), "the spool was not removed");
    /* rows in the database == finished requests, no duplicates */
    cr_assert_eq(e2e_json_num(r.out, "requests"), 6000);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 6000);
    cr_assert_eq(pgt_int(cluster_url, "SELECT count(*) FROM requests"), 6000);
    cr_assert_eq(pgt_int(cluster_url, "SELECT count(DISTINCT request_id) FROM requests"), 6000);
    cr_assert_null(strstr(r.err, pgt_password()));
    e2e_free(&r);
}

Test(pg_outage, postgres_down_at_the_end_leaves_the_rows_in_the_spool_for_the_next_run)
{
    cluster_cmd("start", 1);
    const char *spool = e2e_path("left.spool");
    const char *args[] = {"simulate",  "--requests",
                          "3000",      "--concurrency",
                          "50",        "--latency-ms",
                          "10-30",     "--seed",
                          "4",         "--no-progress",
                          "--quiet",   "--batch-rows",
                          "200",       "--max-batches",
                          "4",         "--spool",
                          spool,       "--pool-timeout-ms",
                          "500",       "--db",
                          cluster_url, NULL};
    pid_t pid = e2e_spawn(args);
    pgt_wait_for_run(cluster_url);
    wait_for_rows(); /* under way, with most of its 3000 requests to go */
    cluster_cmd("stop", 0);
    struct e2e_run r = e2e_wait(pid);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    const char *msg = strstr(r.err, "rows kept in the spool");
    cr_assert_not_null(msg, "%s", r.err);
    cr_assert(e2e_exists(spool));
    /* "... N rows written to it, M rows kept in the spool" */
    const char *w = strstr(r.err, "unreachable: ");
    cr_assert_not_null(w, "%s", r.err);
    long long written = strtoll(w + strlen("unreachable: "), NULL, 10);
    long long kept = strtoll(strstr(w, "written to it, ") + strlen("written to it, "), NULL, 10);
    cr_assert_gt(kept, 0);
    cr_assert_eq(written + kept, 3000, "written %lld + kept %lld: %s", written, kept, r.err);
    e2e_free(&r);

    /* the next run (of nothing) finds the spool and replays it */
    cluster_cmd("start", 1);
    const char *next[] = {"simulate", "--requests", "0",         "--spool",
                          spool,      "--db",       cluster_url, NULL};
    r = e2e_run(next);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "replayed"), "%s", r.err);
    cr_assert(!e2e_exists(spool));
    cr_assert_eq(pgt_int(cluster_url, "SELECT count(*) FROM requests WHERE run_id = 1"), 3000);
    cr_assert_eq(pgt_int(cluster_url, "SELECT count(DISTINCT request_id) FROM requests"), 3000);
    e2e_free(&r);
}

Test(pg_outage, sigterm_while_postgres_is_down_keeps_every_row_in_the_spool)
{
    cluster_cmd("start", 2);
    const char *spool = e2e_path("term.spool");
    const char *args[] = {"simulate",  "--requests",
                          "3000",      "--concurrency",
                          "20",        "--latency-ms",
                          "20-40",     "--seed",
                          "6",         "--no-progress",
                          "--quiet",   "--batch-rows",
                          "100",       "--max-batches",
                          "2",         "--spool",
                          spool,       "--pool-timeout-ms",
                          "500",       "--db",
                          cluster_url, NULL};
    pid_t pid = e2e_spawn(args);
    /* Under way, then down, then the store has seen it (with a bound of 2
     * batches, the first batch held goes to the spool): then SIGTERM. */
    pgt_wait_for_run(cluster_url);
    wait_for_rows();
    cluster_cmd("stop", 0);
    wait_for_spooled_rows(spool);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    struct e2e_run r = e2e_wait(pid);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    const char *w = strstr(r.err, "unreachable: ");
    cr_assert_not_null(w, "%s", r.err);
    long long written = strtoll(w + strlen("unreachable: "), NULL, 10);
    const char *k = strstr(w, "written to it, ");
    cr_assert_not_null(k, "%s", r.err);
    long long kept = strtoll(k + strlen("written to it, "), NULL, 10);
    /* every request was recorded: finished, or cancelled by the signal */
    cr_assert_eq(written + kept, 3000, "written %lld + kept %lld: %s", written, kept, r.err);
    cr_assert_gt(kept, 0);
    e2e_free(&r);

    cluster_cmd("start", 2);
    const char *next[] = {"simulate", "--requests", "0",         "--quiet", "--spool",
                          spool,      "--db",       cluster_url, NULL};
    r = e2e_run(next);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(!e2e_exists(spool));
    cr_assert_eq(pgt_int(cluster_url, "SELECT count(*) FROM requests WHERE run_id = 1"), 3000);
    cr_assert_gt(pgt_int(cluster_url, "SELECT count(*) FROM requests WHERE status = 'cancelled'"),
                 0);
    e2e_free(&r);
}
