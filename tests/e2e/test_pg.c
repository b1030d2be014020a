/* sluice on PostgreSQL end to end: simulate, stats and migrate on a
 * postgresql:// URL, the schema checks, and bad input (wrong password,
 * unknown host, a refused port, a server that never answers, no
 * permission): each one clear line, exit 1, the password masked, never a
 * hang past the connect timeout. */
#include "e2e.h"
#include "pg_support.h"
#include <uv.h>

static void setup(void)
{
    e2e_tmpdir();
    pgt_new_db();
}

static void teardown(void)
{
    pgt_drop_db();
    e2e_rmdir();
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 90);

Test(pg, simulate_writes_each_request_once_and_stats_reads_it_back)
{
    const char *args[] = {"simulate", "--requests",   "600",   "--concurrency",
                          "20",       "--latency-ms", "1-5",   "--backoff-base-ms",
                          "2",        "--seed",       "5",     "--no-progress",
                          "--json",   "--db",         pgt_url, NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 600);
    cr_assert_eq(e2e_json_num(r.out, "max_in_flight"), 20);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), 600);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT request_id) FROM requests"), 600);
    int logged = e2e_count_lines(r.err, "retry: ");
    cr_assert_gt(logged, 0);
    cr_assert_eq(pgt_int(pgt_url, "SELECT sum(retries) FROM request_log"), logged);
    cr_assert_eq(e2e_json_num(r.out, "retries"), logged);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests WHERE NOT (created_at <= "
                                  "started_at AND started_at <= finished_at)"),
                 0);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
                                  "max_in_flight = 20 AND params ->> 'seed' = '5'"),
                 1);
    cr_assert_null(strstr(r.err, pgt_password()), "the password was printed");
    double rows = e2e_json_num(r.out, "db_rows"), p95 = e2e_json_num(r.out, "p95_ms");
    e2e_free(&r);

    const char *stats[] = {"stats", "--json", "--db", pgt_url, NULL};
    r = e2e_run(stats);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), rows);
    cr_assert_float_eq(e2e_json_num(r.out, "p95_ms"), p95, 1e-3);
    cr_assert_not_null(strstr(r.out, "postgresql://postgres:***@"), "%s", r.out);
    e2e_free(&r);

    const char *status[] = {"migrate", "status", "--db", pgt_url, NULL};
    r = e2e_run(status);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "schema version 4"), "%s", r.out);
    e2e_free(&r);
}

Test(pg, ctrl_c_writes_every_row_and_exits_130)
{
    const char *args[] = {"simulate", "--requests", "3000", "--concurrency", "10",   "--latency-ms",
                          "40-80",    "--seed",     "2",    "--json",        "--db", pgt_url,
                          NULL};
    pid_t pid = e2e_spawn(args);
    pgt_wait_for_count(pgt_url, "SELECT count(*) FROM requests", 1, "no row was written");
    cr_assert_eq(kill(pid, SIGINT), 0);
    struct e2e_run r = e2e_wait(pid);
    cr_assert_eq(r.status, 130, "exit %d: %s", r.status, r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 3000, "%s", r.out);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT request_id) FROM requests"), 3000);
    cr_assert_gt(pgt_int(pgt_url, "SELECT count(*) FROM requests WHERE status = 'cancelled'"),
                 2000);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
    cr_assert_not_null(strstr(r.err, "interrupted"), "%s", r.err);
    e2e_free(&r);
}

Test(pg, a_spool_in_use_by_another_process_is_refused_clearly)
{
    const char *spool = e2e_path("shared.spool");
    const char *a_args[] = {"simulate",     "--requests", "2000",    "--concurrency", "5",
                            "--latency-ms", "20-40",      "--quiet", "--spool",       spool,
                            "--db",         pgt_url,      NULL};
    pid_t a = e2e_spawn(a_args);
    pgt_wait_for_run(pgt_url);
    /* e2e_spawn's output files are per test: B's are read before A ends */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' simulate --requests 5 --quiet --spool '%s' --db '%s' 2>'%s'",
             e2e_bin(), spool, pgt_url, e2e_path("b.err"));
    int status = system(cmd);
    char *err = e2e_slurp(e2e_path("b.err"));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit %d: %s", status, err);
    cr_assert_eq(e2e_lines(err), 1, "%s", err);
    cr_assert_not_null(strstr(err, "in use by another sluice process"), "%s", err);
    free(err);
    cr_assert_eq(kill(a, SIGINT), 0);
    struct e2e_run r = e2e_wait(a);
    cr_assert_eq(r.status, 130, "%s", r.err);
    cr_assert(!e2e_exists(spool), "the first process left its (empty) spool");
    e2e_free(&r);
}

Test(pg, migrate_up_down_and_up_again)
{
    const char *up[] = {"migrate", "up", "--db", pgt_url, NULL};
    const char *down_all[] = {"migrate", "down", "4", "--db", pgt_url, NULL};
    struct e2e_run r = e2e_run(up);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "schema version 0 -> 4 (4 steps)"), "%s", r.out);
    e2e_free(&r);
    r = e2e_run(down_all);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'sluice' "
                                  "AND tablename <> 'schema_version'"),
                 0);
    e2e_free(&r);
    r = e2e_run(up);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM schema_version"), 4);
    e2e_free(&r);
}

Test(pg, an_older_schema_is_migrated_unless_refused_and_a_newer_one_is_refused)
{
    const char *up1[] = {"migrate", "up", "1", "--db", pgt_url, NULL};
    struct e2e_run r = e2e_run(up1);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    const char *refuse[] = {"simulate",     "--requests", "5",     "--quiet",
                            "--no-migrate", "--db",       pgt_url, NULL};
    r = e2e_run(refuse);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "schema version 1, older than this sluice needs"), "%s",
                       r.err);
    e2e_free(&r);
    const char *sim[] = {"simulate", "--requests", "5",     "--quiet", "--latency-ms",
                         "0",        "--db",       pgt_url, NULL};
    r = e2e_run(sim);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(pgt_int(pgt_url, "SELECT max(version) FROM schema_version"), 4);
    e2e_free(&r);
    pgt_exec(pgt_url, "INSERT INTO schema_version (version, name) VALUES (7, 'future')");
    r = e2e_run(sim);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "newer than this sluice"), "%s", r.err);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM runs"), 1);
    e2e_free(&r);
}

static void expect_one_line(const char *url, const char *needle, const char *secret, double max_s,
                            const char *timeout_ms)
{
    const char *args[] = {"simulate", "--requests", "5", "--quiet", "--connect-timeout-ms",
                          timeout_ms, "--db",       url, NULL};
    uint64_t t0 = uv_hrtime();
    struct e2e_run r = e2e_run(args);
    double s = (double)(uv_hrtime() - t0) / 1e9;
    cr_assert_eq(r.status, 1, "%s: exit %d: %s", needle, r.status, r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, needle), "'%s' not in: %s", needle, r.err);
    cr_assert_null(strstr(r.err, secret), "the password was printed: %s", r.err);
    cr_assert_lt(s, max_s, "took %.1f s", s);
    e2e_free(&r);
}

Test(pg, bad_connections_are_one_clear_line_each)
{
    char url[512];
    pgt_url_for(url, sizeof(url), pgt_db_name, "postgres:Wr0ng-Pw");
    expect_one_line(url, "password authentication failed", "Wr0ng-Pw", 10, "5000");
    expect_one_line("postgresql://postgres:Sec-ret1@no-such-host.invalid/db",
                    "unknown host no-such-host.invalid", "Sec-ret1", 10, "5000");
    expect_one_line("postgresql://postgres:Sec-ret2@127.0.0.1:1/db", "Connection refused",
                    "Sec-ret2", 10, "5000");
    /* a server that accepts the connection and never answers */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &len);
    snprintf(url, sizeof(url), "postgresql://postgres:Sec-ret3@127.0.0.1:%d/db", ntohs(a.sin_port));
    expect_one_line(url, "timed out after 500 ms", "Sec-ret3", 5, "500");
    close(s);
}

Test(pg, a_user_who_may_not_create_tables_gets_one_clear_line)
{
    char role[64], url[512];
    pgt_new_role(role, "sluice_e2e_ro", "N0-Create", url);
    expect_one_line(url, "permission denied for database", "N0-Create", 10, "5000");
    pgt_drop_db_and_role(role);
}

/* ---- a database that cannot be reached: bounded, one line, exit 1 --------- */

/* Runs sluice with args and waits for it at most max_s, polling: a run that
 * does not end is killed and fails the test (instead of hanging it). */
static struct e2e_run run_bounded(const char *const *args, double max_s, double *took_s)
{
    uint64_t t0 = uv_hrtime();
    pid_t pid = e2e_spawn(args);
    int ws = 0;
    for (;;) {
        pid_t w = waitpid(pid, &ws, WNOHANG);
        cr_assert_neq(w, -1);
        if (w == pid)
            break;
        if ((double)(uv_hrtime() - t0) / 1e9 > max_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            cr_assert_fail("sluice %s %s still running after %.0f s: %.300s", args[0],
                           args[1] ? args[1] : "", max_s, e2e_slurp(e2e_path("cmd.err")));
        }
        usleep(20000);
    }
    *took_s = (double)(uv_hrtime() - t0) / 1e9;
    struct e2e_run r = {0};
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = e2e_slurp(e2e_path("cmd.out"));
    r.err = e2e_slurp(e2e_path("cmd.err"));
    return r;
}

static void expect_unreachable(const char *url, const char *needle)
{
    const char *simulate[] = {"simulate", "--requests", "10", "--quiet", "--db", url, NULL};
    const char *migrate[] = {"migrate", "up", "--db", url, NULL};
    const char *stats[] = {"stats", "--db", url, NULL};
    const char *serve[] = {
        "serve", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--db", url, NULL};
    const char *const *cmds[] = {simulate, migrate, stats, serve};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
        double took;
        struct e2e_run r = run_bounded(cmds[i], 30, &took);
        cr_assert_eq(r.status, 1, "%s %s: exit %d: %s", cmds[i][0], url, r.status, r.err);
        cr_assert_eq(e2e_lines(r.err), 1, "%s %s: %s", cmds[i][0], url, r.err);
        cr_assert_not_null(strstr(r.err, "cannot connect to"), "%s: %s", cmds[i][0], r.err);
        cr_assert_not_null(strstr(r.err, needle), "%s: '%s' not in %s", cmds[i][0], needle, r.err);
        e2e_free(&r);
    }
}

Test(pg, a_database_that_cannot_be_reached_ends_each_command_with_one_line)
{
    expect_unreachable("postgresql://127.0.0.1:1/x", "Connection refused");
    /* Unix sockets: a directory that does not exist, as ?host= and as
     * PGHOST under a URL without a host (these once retried connect()
     * in a loop without end while the memory grew) */
    char url[600];
    snprintf(url, sizeof(url), "postgresql:///x?host=%s", e2e_path("no-such-dir"));
    expect_unreachable(url, "no-such-dir/.s.PGSQL.5432");
    setenv("PGHOST", e2e_path("no-such-dir-2"), 1);
    expect_unreachable("postgresql://", "no-such-dir-2/.s.PGSQL.5432");
    expect_unreachable("postgresql:///nope", "no-such-dir-2/.s.PGSQL.5432");
    unsetenv("PGHOST");
}

Test(pg, a_unix_socket_url_works)
{
    char dir[400], port[16], url[700];
    pgt_socket(dir, sizeof(dir), port, sizeof(port));
    snprintf(url, sizeof(url), "postgresql:///%s?host=%s&port=%s&user=postgres", pgt_db_name, dir,
             port);
    const char *args[] = {"simulate", "--requests", "50", "--latency-ms", "0", "--quiet",
                          "--db",     url,          NULL};
    double took;
    struct e2e_run r = run_bounded(args, 60, &took);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), 50);
}

/* ---- sluice's own schema ----------------------------------------------------- */

static void other_app_checksum(char *out, size_t size)
{
    pgt_text(
        pgt_url,
        "SELECT (SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM public.request_log)"
        " || '|' || (SELECT string_agg(id || ':' || body, ',' ORDER BY id) FROM "
        "public.requests) || '|' || (SELECT string_agg(table_name || '.' || column_name, ',' "
        "ORDER BY table_name, column_name) FROM information_schema.columns WHERE "
        "table_schema = 'public')",
        out, size);
}

Test(pg, sluice_lives_in_its_own_schema_beside_another_apps_tables)
{
    /* another application's tables, with sluice's names, in public */
    pgt_exec(pgt_url, "CREATE TABLE public.request_log (id int PRIMARY KEY, note text);"
                      "CREATE TABLE public.requests (id int PRIMARY KEY, body text);"
                      "INSERT INTO public.request_log VALUES (1, 'theirs'), (2, 'also theirs');"
                      "INSERT INTO public.requests VALUES (7, 'not a sluice row')");
    char before[2048], after[2048];
    other_app_checksum(before, sizeof(before));

    const char *sim[] = {"simulate", "--requests", "40",   "--latency-ms", "0",
                         "--quiet",  "--json",     "--db", pgt_url,        NULL};
    struct e2e_run r = e2e_run(sim);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 40);
    e2e_free(&r);
    const char *stats[] = {"stats", "--json", "--db", pgt_url, NULL};
    r = e2e_run(stats);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 40);
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM sluice.requests"), 40);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM sluice.request_log"), 40);
    other_app_checksum(after, sizeof(after));
    cr_assert_str_eq(after, before, "the other application's tables changed");
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                                  "n.oid = c.relnamespace WHERE n.nspname = 'public'"),
                 4, "sluice created something in public"); /* 2 tables, 2 primary keys */

    /* two schemas of one database are two independent stores */
    char url_a[600], url_b[600];
    snprintf(url_a, sizeof(url_a), "%s?schema=team_a", pgt_url);
    snprintf(url_b, sizeof(url_b), "%s?schema=team_b", pgt_url);
    const char *sim_a[] = {"simulate", "--requests", "30", "--latency-ms", "0", "--quiet",
                           "--db",     url_a,        NULL};
    const char *sim_b[] = {"simulate", "--requests", "70", "--latency-ms", "0", "--quiet",
                           "--db",     url_b,        NULL};
    r = e2e_run(sim_a);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    r = e2e_run(sim_b);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM team_a.requests"), 30);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM team_b.requests"), 70);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM sluice.requests"), 40);
    const char *down_a[] = {"migrate", "down", "4", "--db", url_a, NULL};
    r = e2e_run(down_a);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'team_a' "
                                  "AND tablename <> 'schema_version'"),
                 0);
    const char *stats_b[] = {"stats", "--json", "--db", url_b, NULL};
    r = e2e_run(stats_b);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 70);
    e2e_free(&r);
    other_app_checksum(after, sizeof(after));
    cr_assert_str_eq(after, before, "the other application's tables changed");
}

/* A user who may not create schemas in the database, for whom the owner
 * made sluice's schema: sluice migrates into it. */
Test(pg, a_schema_made_for_a_user_without_create_rights_is_used)
{
    char role[64], sql[512], url[512];
    pgt_new_role(role, "sluice_e2e_own", "Own-Schema1", url);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA sluice AUTHORIZATION %s", role);
    pgt_exec(pgt_url, sql);
    const char *sim[] = {"simulate", "--requests", "20", "--latency-ms", "0", "--quiet",
                         "--db",     url,          NULL};
    struct e2e_run r = e2e_run(sim);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM sluice.requests"), 20);
    pgt_drop_db_and_role(role);
}

/* The tables of a sluice from before its own schema are in public: the
 * new default schema is empty, and the messages say how to keep them. */
Test(pg, tables_of_an_earlier_sluice_in_public_are_pointed_out)
{
    char url_public[600];
    snprintf(url_public, sizeof(url_public), "%s?schema=public", pgt_url);
    const char *old[] = {"simulate", "--requests", "10", "--latency-ms", "0", "--quiet",
                         "--db",     url_public,   NULL};
    struct e2e_run r = e2e_run(old);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    const char *stats[] = {"stats", "--db", pgt_url, NULL};
    r = e2e_run(stats);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "add ?schema=public"), "%s", r.err);
    e2e_free(&r);
    const char *stats_public[] = {"stats", "--json", "--db", url_public, NULL};
    r = e2e_run(stats_public);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(e2e_json_num(r.out, "db_rows"), 10);
    e2e_free(&r);
}
