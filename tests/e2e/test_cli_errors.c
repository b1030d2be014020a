/* Bad input: one clear line, the right exit status, and no partial
 * database left behind. */
#include "e2e.h"

TestSuite(cli, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 30);

static void expect_usage_error(const char *flag, const char *value, const char *needle)
{
    const char *db = e2e_path("never.db");
    const char *args[] = {"simulate", "--db", db, flag, value, NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 2, "%s %s: exit %d", flag, value ? value : "", r.status);
    cr_assert_eq(e2e_lines(r.err), 1, "one line expected, got: %s", r.err);
    cr_assert_not_null(strstr(r.err, needle), "'%s' not in: %s", needle, r.err);
    cr_assert_eq(r.out[0], '\0');
    cr_assert(!e2e_exists(db), "a database was created for bad input");
    e2e_free(&r);
}

Test(cli, bad_arguments_are_usage_errors)
{
    expect_usage_error("--bogus", NULL, "unknown option '--bogus'");
    expect_usage_error("--latency-ms", "100-", "--latency-ms");
    expect_usage_error("--latency-ms", "500-100", "minimum is above its maximum");
    expect_usage_error("--requests", "-5", "--requests must be a whole number");
    expect_usage_error("--concurrency", "0", "--concurrency");
    expect_usage_error("--fail-rate", "1.5", "--fail-rate must be a number from 0 to 1");
    expect_usage_error("--fail-rate", "abc", "--fail-rate");
    expect_usage_error("--error-mix", "429:x", "bad weight");
    expect_usage_error("--error-mix", "teapot", "unknown name 'teapot'");
    expect_usage_error("--backoff", "linear", "--backoff must be");
    expect_usage_error("--sync", "maybe", "--sync");
}

Test(cli, malformed_postgres_url_is_a_usage_error_with_the_password_masked)
{
    const char *cmds[][2] = {
        {"simulate", NULL}, {"stats", NULL}, {"migrate", "up"}, {"keys", "list"}};
    for (int i = 0; i < 4; i++) {
        const char *args[] = {cmds[i][0], "--db", "postgresql://u:secret@localhost:port/x?foo=1",
                              cmds[i][1], NULL};
        struct e2e_run r = e2e_run(args);
        cr_assert_eq(r.status, 2, "%s: exit %d: %s", cmds[i][0], r.status, r.err);
        cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
        cr_assert_not_null(strstr(r.err, "malformed PostgreSQL URL"), "%s", r.err);
        cr_assert_null(strstr(r.err, "secret"), "the password was printed: %s", r.err);
        e2e_free(&r);
    }
}

Test(cli, unwritable_database_path_is_a_runtime_error)
{
    const char *args[] = {
        "simulate", "--requests", "5", "--quiet", "--db", "/nonexistent-dir/sub/x.db", NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "/nonexistent-dir/sub/x.db"), "%s", r.err);
    e2e_free(&r);
}

Test(cli, newer_schema_is_refused_and_left_alone)
{
    const char *db = e2e_path("new.db");
    const char *up[] = {"migrate", "up", "--db", db, NULL};
    struct e2e_run r = e2e_run(up);
    cr_assert_eq(r.status, 0);
    e2e_free(&r);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(h, "INSERT INTO schema_version VALUES (99, 'future', 0)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);
    const char *args[] = {"simulate", "--requests", "5", "--quiet", "--db", db, NULL};
    r = e2e_run(args);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "newer than this sluice"), "%s", r.err);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM runs"), 0);
    e2e_free(&r);
}

Test(cli, stats_on_a_missing_database_creates_nothing)
{
    const char *db = e2e_path("missing.db");
    const char *args[] = {"stats", "--db", db, NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "no database at"), "%s", r.err);
    cr_assert(!e2e_exists(db));
    e2e_free(&r);
}

Test(cli, unknown_command_and_help)
{
    const char *bad[] = {"frobnicate", NULL};
    struct e2e_run r = e2e_run(bad);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "unknown command"));
    e2e_free(&r);
    const char *help[] = {"simulate", "--help", NULL};
    r = e2e_run(help);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "--concurrency"));
    e2e_free(&r);
}

Test(cli, tokens_counts_and_refuses_bad_input)
{
    const char *text = e2e_write_file("text.txt", "Hello world");
    const char *body = e2e_write_file(
        "body.json",
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello world\"}]}");
    const char *count[] = {"tokens", text, NULL};
    struct e2e_run r = e2e_run(count);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "2\n");
    e2e_free(&r);
    const char *ids[] = {"tokens", "--encoding", "cl100k_base", "--ids", text, NULL};
    r = e2e_run(ids);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "9906\n1917\n"); /* "Hello", " world" */
    e2e_free(&r);
    const char *request[] = {"tokens", "--request", "chat/completions", body, NULL};
    r = e2e_run(request);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "9\n");
    e2e_free(&r);

    const char *not_json[] = {"tokens", "--request", "embeddings", text, NULL};
    r = e2e_run(not_json);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "not valid JSON"), "%s", r.err);
    e2e_free(&r);
    const char *bad_encoding[] = {"tokens", "--encoding", "p50k_base", text, NULL};
    r = e2e_run(bad_encoding);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "unknown encoding 'p50k_base'"), "%s", r.err);
    e2e_free(&r);
    const char *bad_endpoint[] = {"tokens", "--request", "images", text, NULL};
    r = e2e_run(bad_endpoint);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "unknown endpoint 'images'"), "%s", r.err);
    e2e_free(&r);
    const char *missing[] = {"tokens", e2e_path("nope.txt"), NULL};
    r = e2e_run(missing);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "cannot open"), "%s", r.err);
    e2e_free(&r);
}
