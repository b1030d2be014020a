/* One PostgreSQL connection on the loop: an asynchronous connect that
 * leaves the loop running, queries, COPY, and bad input (unknown host,
 * wrong password, a server that never answers) as one clear line with the
 * password masked, never past the connect timeout. */
#include "pg_support.h"
#include "store/pg_conn.h"
#include "store/pg_rows.h"
#include "store/pg_url.h"
#include "support.h"

TestSuite(pg_conn, .timeout = 30);

struct fx {
    uv_loop_t loop;
    struct sl_pg_params params;
    struct sl_pg_conn *conn;
    uv_idle_t idle;
    uint64_t ticks, ticks_at_connect, queries;
    int connect_status, query_status, closed;
    char value[64], err[512], sqlstate[8];
};

static void on_closed(struct sl_pg_conn *c, void *arg)
{
    (void)c;
    struct fx *f = arg;
    f->closed = 1;
}

static void on_tick(uv_idle_t *h)
{
    struct fx *f = h->data;
    f->ticks++;
}

static void finish(struct fx *f)
{
    uv_idle_stop(&f->idle);
    uv_close((uv_handle_t *)&f->idle, NULL);
    sl_pg_conn_close(f->conn, on_closed, f);
}

static void on_query(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct fx *f = arg;
    f->query_status = status;
    if (status == 0 && res && PQntuples(res) > 0)
        snprintf(f->value, sizeof(f->value), "%s", PQgetvalue(res, 0, 0));
    snprintf(f->err, sizeof(f->err), "%s", sl_pg_conn_error(c));
    snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", sl_pg_conn_sqlstate(c));
    finish(f);
}

static const char *query_sql;

static void on_connect(struct sl_pg_conn *c, int status, void *arg)
{
    struct fx *f = arg;
    f->connect_status = status;
    f->ticks_at_connect = f->ticks;
    snprintf(f->err, sizeof(f->err), "%s", sl_pg_conn_error(c));
    if (status != 0 || query_sql == NULL) {
        finish(f);
        return;
    }
    sl_pg_conn_query(c, query_sql, 0, NULL, on_query, f);
}

static void run(struct fx *f, const char *url, unsigned timeout_ms)
{
    uv_loop_init(&f->loop);
    cr_assert_eq(sl_pg_params_init(&f->params, url, timeout_ms), 0);
    uv_idle_init(&f->loop, &f->idle);
    f->idle.data = f;
    uv_idle_start(&f->idle, on_tick);
    f->conn = sl_pg_conn_new(&f->loop, &f->params, &f->queries);
    f->connect_status = 1;
    sl_pg_conn_connect(f->conn, on_connect, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cr_assert(f->closed);
    sl_pg_params_release(&f->params);
    sl_test_close_loop(&f->loop);
}

Test(pg_conn, connect_is_asynchronous_and_queries_work)
{
    struct fx f = {0};
    query_sql = "SELECT 6 * 7";
    run(&f, pgt_admin_url(), 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    /* the loop kept turning while libpq negotiated (lookup, TCP, auth) */
    cr_assert_gt(f.ticks_at_connect, 2, "the loop ran only %llu times during the connect",
                 (unsigned long long)f.ticks_at_connect);
    cr_assert_eq(f.query_status, 0, "%s", f.err);
    cr_assert_str_eq(f.value, "42");
    cr_assert_eq(f.queries, 1);
}

Test(pg_conn, settings_come_from_the_libpq_environment_too)
{
    /* the admin URL taken apart into PG* variables, and a URL with none */
    char host[64], port[16], pw[128];
    const char *admin = pgt_admin_url();
    const char *at = strchr(admin, '@');
    sscanf(at + 1, "%63[^:]:%15[^/]", host, port);
    snprintf(pw, sizeof(pw), "%s", pgt_password());
    setenv("PGHOST", host, 1);
    setenv("PGPORT", port, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGPASSWORD", pw, 1);
    struct fx f = {0};
    query_sql = "SELECT current_user || '@' || current_database()";
    run(&f, "postgresql:///postgres", 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    cr_assert_str_eq(f.value, "postgres@postgres");
}

/* URL parses, and its parameters' FIELD is the string WANT. */
#define PARAM_IS(url, field, want)                                                                 \
    do {                                                                                           \
        struct sl_pg_params p_;                                                                    \
        cr_assert_eq(sl_pg_params_init(&p_, url, 5000), 0, "%s", url);                             \
        cr_assert_str_eq(p_.field, want, "%s", url);                                               \
        sl_pg_params_release(&p_);                                                                 \
    } while (0)

Test(pg_conn, a_password_from_the_environment_is_masked_too)
{
    setenv("PGPASSWORD", "env-Secret-77", 1);
    struct sl_pg_params p;
    cr_assert_eq(sl_pg_params_init(&p, "postgresql://u@db.example/x", 5000), 0);
    cr_assert_str_eq(p.password, "env-Secret-77");
    cr_assert_str_eq(p.host, "db.example");
    char msg[128] = "FATAL: no such user for env-Secret-77\n";
    sl_pg_mask_secret(msg, sizeof(msg), p.password);
    cr_assert_str_eq(msg, "FATAL: no such user for ***");
    sl_pg_params_release(&p);
    /* and a password in the URL wins, as in libpq */
    PARAM_IS("postgresql://u:url-pw@db.example/x", password, "url-pw");
}

/* Found by tests/fuzz/fuzz_pg_url.c: an '@' before the first "://" made the
 * password search read far past the end of the URL, and an '@' after the
 * authority hid the password from the mask. */
Test(pg_conn, a_malformed_url_with_an_at_sign_before_the_scheme_is_refused_cleanly)
{
    char err[512];
    cr_assert_eq(sl_pg_url_check("bad=1 user@host postgresql://h", err, sizeof(err)), UV_EINVAL);
    cr_assert(strstr(err, "malformed PostgreSQL URL") != NULL, "%s", err);
    cr_assert_eq(sl_pg_url_check("postgresql://u:Secret-42@h/db?bogus=1", err, sizeof(err)),
                 UV_EINVAL);
    cr_assert(strstr(err, "Secret-42") == NULL, "%s", err);
    /* an '@' in the query is not the end of the user info: libpq quotes
     * the bad percent-encoded password back, and it must be masked */
    cr_assert_eq(
        sl_pg_url_check("postgresql://u:s3cret%zz@h/db?application_name=a@b", err, sizeof(err)),
        UV_EINVAL);
    cr_assert(strstr(err, "s3cret") == NULL, "%s", err);
}

Test(pg_conn, a_host_name_is_looked_up_off_the_loop_and_each_address_tried)
{
    /* "localhost" may give ::1 before 127.0.0.1; the server listens on the
     * latter only, so this connects only if every address is tried */
    char url[512];
    snprintf(url, sizeof(url), "%s", pgt_admin_url());
    char *ip = strstr(url, "127.0.0.1");
    cr_assert_not_null(ip);
    memcpy(ip, "localhost", 9); /* the same length as "127.0.0.1" */
    struct fx f = {0};
    query_sql = "SELECT inet_server_addr()::text";
    run(&f, url, 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    cr_assert_str_eq(f.value, "127.0.0.1/32");
}

Test(pg_conn, each_host_of_a_list_is_looked_up_off_the_loop)
{
    /* the first host does not exist, the second is the server (by name) */
    char host[64], port[16], url[512];
    const char *at = strchr(pgt_admin_url(), '@');
    sscanf(at + 1, "%63[^:]:%15[^/]", host, port);
    snprintf(url, sizeof(url),
             "postgresql://postgres:%s@no-such-host.invalid:%s,localhost:%s/postgres",
             pgt_password(), port, port);
    struct fx f = {0};
    query_sql = "SELECT 'via ' || inet_server_addr()::text";
    run(&f, url, 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    cr_assert_str_eq(f.value, "via 127.0.0.1/32");

    /* none of them exists: the first one is named */
    struct fx g = {0};
    query_sql = NULL;
    run(&g, "postgresql://u:pw@no-such-1.invalid,no-such-2.invalid/db", 5000);
    cr_assert_eq(g.connect_status, UV_EAI_NONAME, "%s", g.err);
    cr_assert_not_null(strstr(g.err, "unknown host no-such-1.invalid"), "%s", g.err);
}

/* ---- the URL: Unix sockets, no host, the schema ---------------------------- */

Test(pg_conn, url_without_a_host_means_libpqs_socket_directory)
{
    unsetenv("PGHOST");
    unsetenv("PGHOSTADDR");
    unsetenv("PGPORT");
    unsetenv("PGOPTIONS");
    struct sl_pg_params p;
    const char *urls[] = {"postgresql://", "postgresql:///db", "postgres:///"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(*urls); i++) {
        char err[256] = "";
        cr_assert_eq(sl_pg_url_check(urls[i], err, sizeof(err)), 0, "%s: %s", urls[i], err);
        cr_assert_eq(sl_pg_params_init(&p, urls[i], 5000), 0);
        cr_assert_null(p.host, "%s: host %s", urls[i], p.host); /* nothing to look up */
        cr_assert_str_eq(p.port, "5432");
        cr_assert_str_eq(p.schema, "sluice");
        cr_assert_str_eq(p.conninfo, urls[i]);
        cr_assert_str_eq(p.options, "-c search_path=sluice");
        sl_pg_params_release(&p);
    }
}

Test(pg_conn, url_socket_directory_from_the_query_the_host_or_pghost)
{
    unsetenv("PGHOST");
    unsetenv("PGOPTIONS");
    struct sl_pg_params p;
    cr_assert_eq(sl_pg_params_init(&p, "postgresql:///db?host=/run/postgresql&port=5433", 5000), 0);
    cr_assert_str_eq(p.host, "/run/postgresql");
    cr_assert_str_eq(p.port, "5433");
    sl_pg_params_release(&p);
    PARAM_IS("postgresql://%2Frun%2Fpg/db", host, "/run/pg");
    setenv("PGHOST", "/tmp/pgsock", 1);
    PARAM_IS("postgresql:///db", host, "/tmp/pgsock");
    /* the URL's host wins over PGHOST, as in libpq */
    PARAM_IS("postgresql:///db?host=/elsewhere", host, "/elsewhere");
    unsetenv("PGHOST");
}

Test(pg_conn, url_schema_is_taken_off_before_libpq_and_set_as_search_path)
{
    unsetenv("PGOPTIONS");
    struct sl_pg_params p;
    char err[512] = "";
    const char *url = "postgresql://u:pw@h/db?sslmode=disable&schema=app_1&connect_timeout=3";
    cr_assert_eq(sl_pg_url_check(url, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sl_pg_params_init(&p, url, 5000), 0);
    cr_assert_str_eq(p.schema, "app_1");
    cr_assert_str_eq(p.conninfo, "postgresql://u:pw@h/db?sslmode=disable&connect_timeout=3");
    cr_assert_str_eq(p.options, "-c search_path=app_1");
    cr_assert_eq(p.connect_timeout_ms, 3000);
    sl_pg_params_release(&p);
    /* the only parameter: no '?' left */
    PARAM_IS("postgresql:///db?schema=x", conninfo, "postgresql:///db");
    /* the user's own options are kept, ours come last (and win) */
    PARAM_IS("postgresql:///db?options=-c%20work_mem%3D8MB&schema=s2", options,
             "-c work_mem=8MB -c search_path=s2");
    setenv("PGOPTIONS", "-c statement_timeout=0", 1);
    PARAM_IS("postgresql:///db", options, "-c statement_timeout=0 -c search_path=sluice");
    unsetenv("PGOPTIONS");
    /* names that would need quoting, or that PostgreSQL reserves */
    const char *bad[] = {"postgresql:///db?schema=",        "postgresql:///db?schema",
                         "postgresql:///db?schema=Sluice",  "postgresql:///db?schema=a-b",
                         "postgresql:///db?schema=pg_mine", "postgresql:///db?schema=1st",
                         "postgresql:///db?schema=a%20b",   "postgresql:///db?schema=x;drop"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err[0] = '\0';
        cr_assert_eq(sl_pg_url_check(bad[i], err, sizeof(err)), UV_EINVAL, "%s", bad[i]);
        cr_assert_not_null(strstr(err, "schema name"), "%s: %s", bad[i], err);
        cr_assert_null(strchr(err, '\n'), "%s", err);
        cr_assert_eq(sl_pg_params_init(&p, bad[i], 5000), UV_EINVAL, "%s", bad[i]);
    }
    char longname[128];
    snprintf(longname, sizeof(longname), "postgresql:///db?schema=%064d", 0);
    longname[strlen("postgresql:///db?schema=")] = 'a';
    cr_assert_eq(sl_pg_url_check(longname, err, sizeof(err)), UV_EINVAL);
    /* and the password is masked in the message */
    cr_assert_eq(sl_pg_url_check("postgresql://u:Hid-den9@h/db?schema=A", err, sizeof(err)),
                 UV_EINVAL);
    cr_assert_null(strstr(err, "Hid-den9"), "%s", err);
}

static int connect_cb_ran;

static void on_connect_count(struct sl_pg_conn *c, int status, void *arg)
{
    connect_cb_ran++;
    on_connect(c, status, arg);
}

/* A socket directory that does not exist fails inside libpq before the
 * connect call returns; the callback still runs later, on the loop. */
Test(pg_conn, a_connect_that_fails_at_once_reports_on_the_loop)
{
    struct fx f = {0};
    query_sql = NULL;
    uv_loop_init(&f.loop);
    cr_assert_eq(
        sl_pg_params_init(&f.params, "postgresql:///db?host=/nonexistent-sluice-dir", 5000), 0);
    uv_idle_init(&f.loop, &f.idle);
    f.idle.data = &f;
    uv_idle_start(&f.idle, on_tick);
    f.conn = sl_pg_conn_new(&f.loop, &f.params, &f.queries);
    connect_cb_ran = 0;
    sl_pg_conn_connect(f.conn, on_connect_count, &f);
    cr_assert_eq(connect_cb_ran, 0, "the callback ran before sl_pg_conn_connect returned");
    uv_run(&f.loop, UV_RUN_DEFAULT);
    cr_assert_eq(connect_cb_ran, 1);
    cr_assert(f.closed);
    cr_assert_eq(f.connect_status, UV_ECONNREFUSED, "%s", f.err);
    cr_assert_not_null(strstr(f.err, "/nonexistent-sluice-dir/.s.PGSQL.5432"), "%s", f.err);
    cr_assert_null(strchr(f.err, '\n'), "%s", f.err);
    sl_pg_params_release(&f.params);
    sl_test_close_loop(&f.loop);
}

/* The test cluster's socket, as ?host= and as PGHOST; the schema of the
 * URL is the connection's search_path. */
Test(pg_conn, a_unix_socket_url_works_and_sets_the_search_path)
{
    char dir[400], port[16], url[600];
    pgt_socket(dir, sizeof(dir), port, sizeof(port));
    snprintf(url, sizeof(url), "postgresql:///postgres?host=%s&port=%s&user=postgres&schema=app_2",
             dir, port);
    struct fx f = {0};
    query_sql = "SELECT current_setting('search_path') || ' ' || "
                "coalesce(inet_server_addr()::text, 'socket')";
    run(&f, url, 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    cr_assert_str_eq(f.value, "app_2 socket");

    setenv("PGHOST", dir, 1);
    setenv("PGPORT", port, 1);
    setenv("PGUSER", "postgres", 1);
    unsetenv("PGOPTIONS");
    struct fx g = {0};
    run(&g, "postgresql:///postgres", 5000);
    cr_assert_eq(g.connect_status, 0, "%s", g.err);
    cr_assert_str_eq(g.value, "sluice socket");
}

Test(pg_conn, a_refused_statement_keeps_the_connection_and_names_its_sqlstate)
{
    struct fx f = {0};
    query_sql = "SELECT * FROM no_such_table";
    run(&f, pgt_admin_url(), 5000);
    cr_assert_eq(f.connect_status, 0, "%s", f.err);
    cr_assert_eq(f.query_status, UV_EIO);
    cr_assert_str_eq(f.sqlstate, "42P01");
    cr_assert_not_null(strstr(f.err, "no_such_table"), "%s", f.err);
}

Test(pg_conn, unknown_host_is_one_clear_line_without_the_password)
{
    struct fx f = {0};
    query_sql = NULL;
    run(&f, "postgresql://u:hunter2secret@no-such-host.invalid:5432/db", 5000);
    cr_assert_eq(f.connect_status, UV_EAI_NONAME, "%d: %s", f.connect_status, f.err);
    cr_assert_not_null(strstr(f.err, "unknown host no-such-host.invalid"), "%s", f.err);
    cr_assert_null(strstr(f.err, "hunter2secret"), "%s", f.err);
    cr_assert_null(strchr(f.err, '\n'), "%s", f.err);
}

Test(pg_conn, wrong_password_is_refused_with_the_password_masked)
{
    struct fx f = {0};
    char url[512];
    pgt_url_for(url, sizeof(url), "postgres", "postgres:wrong-pw-123");
    query_sql = NULL;
    run(&f, url, 5000);
    cr_assert_eq(f.connect_status, UV_ECONNREFUSED, "%d: %s", f.connect_status, f.err);
    cr_assert_not_null(strstr(f.err, "password authentication failed"), "%s", f.err);
    cr_assert_null(strstr(f.err, "wrong-pw-123"), "%s", f.err);
    cr_assert_null(strchr(f.err, '\n'), "%s", f.err);
}

Test(pg_conn, a_server_that_never_answers_times_out_on_time)
{
    int port, s = pgt_silent_server(&port);
    char url[256];
    snprintf(url, sizeof(url), "postgresql://u:pw-never@127.0.0.1:%d/db", port);
    struct fx f = {0};
    query_sql = NULL;
    uint64_t t0 = uv_hrtime();
    run(&f, url, 300);
    double ms = sl_test_ms_since(t0);
    close(s);
    cr_assert_eq(f.connect_status, UV_ETIMEDOUT, "%d: %s", f.connect_status, f.err);
    cr_assert_geq(ms, 250, "timed out after only %.0f ms", ms);
    cr_assert_lt(ms, 10000, "took %.0f ms for a 300 ms timeout", ms); /* never answers: bounded */
    cr_assert_not_null(strstr(f.err, "timed out after 300 ms"), "%s", f.err);
}

static void on_slow_connect(struct sl_pg_conn *c, int status, void *arg)
{
    struct fx *f = arg;
    f->connect_status = status;
    cr_assert_eq(status, 0, "%s", sl_pg_conn_error(c));
    sl_pg_conn_set_op_timeout(c, 200);
    sl_pg_conn_query(c, "SELECT pg_sleep(10)", 0, NULL, on_query, f);
}

Test(pg_conn, a_statement_without_an_answer_in_time_drops_the_connection)
{
    struct fx f = {0};
    uv_loop_init(&f.loop);
    cr_assert_eq(sl_pg_params_init(&f.params, pgt_admin_url(), 5000), 0);
    uv_idle_init(&f.loop, &f.idle);
    f.idle.data = &f;
    f.conn = sl_pg_conn_new(&f.loop, &f.params, NULL);
    uint64_t t0 = uv_hrtime();
    sl_pg_conn_connect(f.conn, on_slow_connect, &f);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    double ms = sl_test_ms_since(t0);
    cr_assert_eq(f.query_status, UV_ECONNRESET, "%d: %s", f.query_status, f.err);
    cr_assert_not_null(strstr(f.err, "no answer from the server in 200 ms"), "%s", f.err);
    cr_assert_lt(ms, 8000, "took %.0f ms: the 10 s statement was waited for", ms);
    sl_pg_params_release(&f.params);
    sl_test_close_loop(&f.loop);
}

/* ---- COPY ----------------------------------------------------------------- */

struct copy_fx {
    struct fx f;
    char *data;
    size_t len;
    int step;
};

static void on_copy_step(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct copy_fx *x = arg;
    cr_assert_eq(status, 0, "step %d: %s", x->step, sl_pg_conn_error(c));
    x->step++;
    if (x->step == 1) {
        sl_pg_conn_copy(c, "COPY t " SL_PG_COPY_COLUMNS " FROM STDIN (FORMAT binary)", x->data,
                        x->len, on_copy_step, x);
    } else if (x->step == 2) {
        sl_pg_conn_query(c,
                         "SELECT count(*) || ' ' || sum((metadata ->> 'prompt_tokens')::int) || "
                         "' ' || count(started_at) FROM t",
                         0, NULL, on_copy_step, x);
    } else {
        snprintf(x->f.value, sizeof(x->f.value), "%s", PQgetvalue(res, 0, 0));
        finish(&x->f);
    }
}

static void on_copy_connect(struct sl_pg_conn *c, int status, void *arg)
{
    struct copy_fx *x = arg;
    cr_assert_eq(status, 0, "%s", sl_pg_conn_error(c));
    sl_pg_conn_script(c,
                      "CREATE TEMP TABLE t (run_id bigint, request_id bigint, created_at "
                      "timestamptz, started_at timestamptz, finished_at timestamptz, attempts "
                      "int, status text, error text, metadata jsonb)",
                      on_copy_step, x);
}

Test(pg_conn, binary_copy_of_many_rows)
{
    enum { N = 20000 }; /* several times libpq's buffer: exercises the writable waits */
    static struct sl_record rows[N];
    long long tokens = 0;
    for (unsigned i = 0; i < N; i++) {
        rows[i] = (struct sl_record){.request_id = i + 1,
                                     .created_us = 1700000000000000,
                                     .started_us = i % 2 ? 1700000000001000 : 0,
                                     .finished_us = 1700000000002000,
                                     .model = "gpt-4o",
                                     .prompt_tokens = i % 300,
                                     .attempts = 1,
                                     .status = SL_REQ_SUCCEEDED};
        tokens += i % 300;
    }
    struct copy_fx x = {0};
    x.data = malloc(sl_pg_rows_max_size(N));
    x.len = sl_pg_rows_encode(x.data, 7, rows, N);
    uv_loop_init(&x.f.loop);
    cr_assert_eq(sl_pg_params_init(&x.f.params, pgt_admin_url(), 5000), 0);
    uv_idle_init(&x.f.loop, &x.f.idle);
    x.f.conn = sl_pg_conn_new(&x.f.loop, &x.f.params, NULL);
    sl_pg_conn_connect(x.f.conn, on_copy_connect, &x);
    uv_run(&x.f.loop, UV_RUN_DEFAULT);
    char want[64];
    snprintf(want, sizeof(want), "%d %lld %d", N, tokens, N / 2);
    cr_assert_str_eq(x.f.value, want);
    free(x.data);
    sl_pg_params_release(&x.f.params);
    sl_test_close_loop(&x.f.loop);
}
