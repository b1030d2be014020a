/* The store on PostgreSQL: batched COPY writes with backpressure and the
 * analytics from SQL, an idempotent replay, migrations (up from empty,
 * down to empty, up again, concurrently), the JSONB index, the chat
 * history page in a fixed number of queries (both backends), a broken
 * connection replaced mid-run, and a database that refuses to be changed.
 *
 * The tests drive the loop step by step (run until a callback has come),
 * which keeps each scenario readable top to bottom. */
#include <sqlite3.h>

#include "pg_support.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store_records.h"
#include "support.h"

static void setup(void)
{
    pgt_new_db();
}

static void teardown(void)
{
    pgt_drop_db();
}

TestSuite(pg_store, .init = setup, .fini = teardown, .timeout = 60);

struct waiter {
    int done, status;
};

static void on_cb(struct sl_store *s, int status, void *arg)
{
    (void)s;
    struct waiter *w = arg;
    w->done = 1;
    w->status = status;
}

static int wait_for(uv_loop_t *loop, struct waiter *w)
{
    while (!w->done)
        uv_run(loop, UV_RUN_ONCE);
    return w->status;
}

static char log_text[8192];

static void capture_log(const char *line, void *arg)
{
    (void)arg;
    strncat(log_text, line, sizeof(log_text) - strlen(log_text) - 2);
    strcat(log_text, "\n");
}

static struct sl_store *open_store(uv_loop_t *loop, const char *url, struct sl_store_options *o,
                                   int expect_ok)
{
    struct sl_store *s;
    struct waiter w = {0};
    o->log = capture_log;
    cr_assert_eq(sl_store_open(loop, url, o, &s, on_cb, &w), 0);
    int status = wait_for(loop, &w);
    if (expect_ok)
        cr_assert_eq(status, 0, "%s", sl_store_error(s));
    else
        cr_assert_neq(status, 0, "open of %s succeeded", url);
    return s;
}

static void close_store(uv_loop_t *loop, struct sl_store *s)
{
    struct waiter w = {0};
    sl_store_close(s, on_cb, &w);
    wait_for(loop, &w);
}

static void on_writable(struct sl_store *s, void *arg)
{
    (void)s;
    (void)arg;
}

/* Appends records [from, to), running the loop whenever the store is full. */
static unsigned append_range(uv_loop_t *loop, struct sl_store *s, uint64_t from, uint64_t to)
{
    unsigned eagain = 0;
    sl_store_on_writable(s, on_writable, NULL);
    for (uint64_t i = from; i < to;) {
        struct sl_record rec;
        record_for(i, &rec);
        if (sl_store_append(s, &rec) == UV_EAGAIN) {
            eagain++;
            uv_run(loop, UV_RUN_ONCE);
            continue;
        }
        i++;
    }
    return eagain;
}

static const struct sl_run_info run_info = {"test", 10000, 4, "{\"k\":1}"};

static void begin_run(uv_loop_t *loop, struct sl_store *s)
{
    struct waiter w = {0};
    sl_store_begin_run(s, &run_info, on_cb, &w);
    cr_assert_eq(wait_for(loop, &w), 0, "%s", sl_store_error(s));
}

static void flush(uv_loop_t *loop, struct sl_store *s)
{
    struct waiter w = {0};
    sl_store_flush(s, on_cb, &w);
    cr_assert_eq(wait_for(loop, &w), 0, "%s", sl_store_error(s));
}

Test(pg_store, batched_copy_with_backpressure_and_analytics_from_sql)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.batch_rows = 100;
    o.max_batches = 2; /* tiny, so the queue fills up */
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    cr_assert_eq(sl_store_kind(s), SL_STORE_POSTGRES);
    begin_run(&loop, s);
    uint64_t q0 = sl_store_queries(s);
    unsigned eagain = append_range(&loop, s, 0, 10000);
    cr_assert_gt(eagain, 0, "the bound was never reached");
    struct waiter w = {0};
    sl_store_end_run(s, "completed", 7, on_cb, &w);
    cr_assert_eq(wait_for(&loop, &w), 0, "%s", sl_store_error(s));
    cr_assert_eq(sl_store_rows_written(s), 10000);
    cr_assert_eq(sl_store_rows_pending(s), 0);
    cr_assert_eq(sl_store_rows_failed(s), 0);
    /* batched: one COPY per 100 rows (and the end of the run), not one per row */
    uint64_t statements = sl_store_queries(s) - q0;
    cr_assert_leq(statements, 10000 / 100 + 5, "%llu statements for 10000 rows",
                  (unsigned long long)statements);

    struct sl_stats st;
    w = (struct waiter){0};
    sl_store_query_stats(s, 0, &st, on_cb, &w);
    cr_assert_eq(wait_for(&loop, &w), 0, "%s", sl_store_error(s));
    cr_assert_eq(st.db_rows, 10000);
    cr_assert_eq(st.requests, 10000);
    cr_assert_eq(st.failed, 1000);
    cr_assert_eq(st.succeeded, 9000);
    cr_assert_eq(st.retries, 3333 * 1 + 3333 * 2);
    cr_assert_eq(st.max_in_flight, 7);
    cr_assert_str_eq(st.run_status, "completed");
    cr_assert_float_eq(st.p50_ms, 50, 1e-6);
    cr_assert_float_eq(st.p95_ms, 95, 1e-6);
    cr_assert_float_eq(st.p99_ms, 99, 1e-6);
    cr_assert_float_eq(st.avg_processing_ms, 50.5, 1e-6);
    cr_assert_float_eq(st.ideal_makespan_s, 10000 * 0.0505 / 4, 1e-6);
    cr_assert_float_eq(st.makespan_s, 0.101, 1e-9);
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests WHERE metadata ->> 'model' = "
                                  "'gpt-4o-mini' AND created_at = to_timestamp(1700000000)"),
                 10000);
    sl_test_close_loop(&loop);
}

Test(pg_store, a_replayed_batch_never_duplicates)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.batch_rows = 64;
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    begin_run(&loop, s);
    append_range(&loop, s, 0, 300);
    flush(&loop, s);
    /* the same requests again (a replay), then some new ones in the same batches */
    append_range(&loop, s, 0, 300);
    append_range(&loop, s, 300, 400);
    flush(&loop, s);
    cr_assert_eq(sl_store_rows_failed(s), 0, "%s", sl_store_error(s));
    cr_assert_eq(sl_store_rows_written(s), 700);
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), 400);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT request_id) FROM requests"), 400);
    sl_test_close_loop(&loop);
}

static int version_of(uv_loop_t *loop, struct sl_store *s)
{
    int v = -1;
    struct waiter w = {0};
    sl_store_schema_version(s, &v, on_cb, &w);
    cr_assert_eq(wait_for(loop, &w), 0, "%s", sl_store_error(s));
    return v;
}

static int migrate(uv_loop_t *loop, struct sl_store *s, int target)
{
    int applied = -1;
    struct waiter w = {0};
    sl_store_migrate(s, target, &applied, on_cb, &w);
    cr_assert_eq(wait_for(loop, &w), 0, "%s", sl_store_error(s));
    return applied;
}

static long long user_tables(void)
{
    return pgt_int(pgt_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'sluice' AND "
                            "tablename <> 'schema_version'");
}

Test(pg_store, migrations_up_from_empty_down_to_empty_and_up_again)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.migrate = 0;
    o.any_schema = 1;
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    int latest = sl_migrations_latest();
    cr_assert_eq(version_of(&loop, s), 0);
    cr_assert_eq(user_tables(), 0);
    cr_assert_eq(migrate(&loop, s, latest), latest);
    cr_assert_eq(version_of(&loop, s), latest);
    cr_assert_eq(user_tables(),
                 6); /* runs, requests, conversations, messages, gateway_keys, gateway_key_spend */
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM schema_version"), latest);
    cr_assert_eq(migrate(&loop, s, 1), latest - 1);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM pg_indexes WHERE indexname = "
                                  "'requests_prompt_tokens'"),
                 0);
    cr_assert_eq(migrate(&loop, s, 0), 1);
    cr_assert_eq(version_of(&loop, s), 0);
    cr_assert_eq(user_tables(), 0);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM pg_views WHERE schemaname = 'sluice'"), 0);
    cr_assert_eq(migrate(&loop, s, latest), latest);
    cr_assert_eq(user_tables(), 6);
    close_store(&loop, s);
    sl_test_close_loop(&loop);
}

Test(pg_store, concurrent_instances_migrate_in_turn)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.migrate = 0;
    o.any_schema = 1;
    o.spool = 0; /* two stores on one database in one directory: no spool, like migrate */
    struct sl_store *a = open_store(&loop, pgt_url, &o, 1);
    struct sl_store *b = open_store(&loop, pgt_url, &o, 1);
    int applied_a = -1, applied_b = -1;
    struct waiter wa = {0}, wb = {0};
    sl_store_migrate(a, sl_migrations_latest(), &applied_a, on_cb, &wa);
    sl_store_migrate(b, sl_migrations_latest(), &applied_b, on_cb, &wb);
    cr_assert_eq(wait_for(&loop, &wa), 0, "%s", sl_store_error(a));
    cr_assert_eq(wait_for(&loop, &wb), 0, "%s", sl_store_error(b));
    /* every step applied once, whoever got the lock first */
    cr_assert_eq(applied_a + applied_b, sl_migrations_latest());
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM schema_version"), sl_migrations_latest());
    close_store(&loop, a);
    close_store(&loop, b);
    sl_test_close_loop(&loop);
}

Test(pg_store, an_older_schema_is_migrated_or_refused_and_a_newer_one_refused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.any_schema = 1;
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    migrate(&loop, s, 1);
    close_store(&loop, s);

    sl_store_options_default(&o);
    o.migrate = 0;
    s = open_store(&loop, pgt_url, &o, 0);
    cr_assert_not_null(strstr(sl_store_error(s), "schema version 1, older than"), "%s",
                       sl_store_error(s));
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT max(version) FROM schema_version"), 1);

    sl_store_options_default(&o);
    s = open_store(&loop, pgt_url, &o, 1);
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT max(version) FROM schema_version"),
                 sl_migrations_latest());

    pgt_exec(pgt_url, "INSERT INTO schema_version (version, name) VALUES (99, 'future')");
    s = open_store(&loop, pgt_url, &o, 0);
    cr_assert_not_null(strstr(sl_store_error(s), "schema version 99, newer than this sluice"), "%s",
                       sl_store_error(s));
    close_store(&loop, s);
    sl_test_close_loop(&loop);
}

Test(pg_store, the_prompt_tokens_index_serves_a_jsonb_range_query)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    begin_run(&loop, s);
    append_range(&loop, s, 0, 5000);
    flush(&loop, s);
    close_store(&loop, s);
    /* tokens are i % 200: 99 of each 200 exceed 100 */
    const char *q =
        "SELECT count(*) FROM requests WHERE (metadata ->> 'prompt_tokens')::integer > 100";
    cr_assert_eq(pgt_int(pgt_url, q), 5000 / 200 * 99);
    char plan[4096];
    pgt_exec(pgt_url, "ANALYZE requests");
    /* EXPLAIN with sequential scans priced out: the index must be usable */
    PGconn *c = pgt_connect(pgt_url);
    PQclear(PQexec(c, "SET enable_seqscan = off"));
    PGresult *r = PQexec(c, "EXPLAIN SELECT count(*) FROM requests WHERE "
                            "(metadata ->> 'prompt_tokens')::integer > 190");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    plan[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++)
        strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 1);
    PQclear(r);
    PQfinish(c);
    cr_assert_not_null(strstr(plan, "requests_prompt_tokens"), "plan: %s", plan);
    sl_test_close_loop(&loop);
}

/* ---- chat history --------------------------------------------------------- */

/* 30 conversations; conversation k has k % 4 messages, seq 1.. */
static void fill_chat_sqlite(const char *path)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (int k = 1; k <= 30; k++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO conversations (id, title, created_us) VALUES (%d, 'chat %d', %d)", k,
                 k, k);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        for (int m = 1; m <= k % 4; m++) {
            snprintf(sql, sizeof(sql),
                     "INSERT INTO messages (conversation_id, seq, role, content, created_us) "
                     "VALUES (%d, %d, '%s', 'message %d of chat %d', 0)",
                     k, m, m % 2 ? "user" : "assistant", m, k);
            cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        }
    }
    sqlite3_close(db);
}

static void fill_chat_pg(void)
{
    pgt_exec(pgt_url, "INSERT INTO conversations (id, title) SELECT k, 'chat ' || k FROM "
                      "generate_series(1, 30) k;"
                      "INSERT INTO messages (conversation_id, seq, role, content) "
                      "SELECT k, m, CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,"
                      " 'message ' || m || ' of chat ' || k "
                      "FROM generate_series(1, 30) k, generate_series(1, 3) m WHERE m <= k % 4");
}

static void check_page(uv_loop_t *loop, struct sl_store *s, int64_t after, unsigned limit)
{
    struct sl_conv_page *page = NULL;
    struct waiter w = {0};
    uint64_t q0 = sl_store_queries(s);
    sl_store_load_conversations(s, after, limit, &page, on_cb, &w);
    cr_assert_eq(wait_for(loop, &w), 0, "%s", sl_store_error(s));
    cr_assert_eq(sl_store_queries(s) - q0, 2, "a page of %u took %llu queries", limit,
                 (unsigned long long)(sl_store_queries(s) - q0));
    unsigned want = 30 - (unsigned)after < limit ? 30 - (unsigned)after : limit;
    cr_assert_eq(page->n, want);
    for (unsigned i = 0; i < page->n; i++) {
        const struct sl_conversation *c = &page->convs[i];
        int k = (int)after + 1 + (int)i;
        char title[32];
        snprintf(title, sizeof(title), "chat %d", k);
        cr_assert_eq(c->id, k);
        cr_assert_str_eq(c->title, title);
        cr_assert_eq(c->n_messages, (unsigned)(k % 4), "chat %d", k);
        for (unsigned m = 0; m < c->n_messages; m++) {
            char text[64];
            snprintf(text, sizeof(text), "message %u of chat %d", m + 1, k);
            cr_assert_eq(c->messages[m].seq, (int)m + 1);
            cr_assert_str_eq(c->messages[m].content, text);
            cr_assert_str_eq(c->messages[m].role, m % 2 ? "assistant" : "user");
        }
    }
    sl_conv_page_free(page);
}

Test(pg_store, a_page_of_conversations_loads_in_two_queries_on_postgres)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    fill_chat_pg();
    check_page(&loop, s, 0, 5);
    check_page(&loop, s, 0, 25);
    check_page(&loop, s, 20, 25); /* the last, short page */
    close_store(&loop, s);
    sl_test_close_loop(&loop);
}

Test(pg_store, a_page_of_conversations_loads_in_two_queries_on_sqlite)
{
    char dir[64], path[96];
    sl_test_mkdtemp(dir, sizeof(dir), "chat");
    snprintf(path, sizeof(path), "%s/c.db", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    struct sl_store *s = open_store(&loop, path, &o, 1);
    fill_chat_sqlite(path);
    check_page(&loop, s, 0, 5);
    check_page(&loop, s, 0, 25);
    check_page(&loop, s, 20, 25);
    close_store(&loop, s);
    sl_test_close_loop(&loop);
    sl_test_rmdir(dir);
}

/* ---- faults --------------------------------------------------------------- */

Test(pg_store, a_connection_killed_mid_run_is_replaced_and_nothing_is_lost)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.batch_rows = 200;
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    begin_run(&loop, s);
    append_range(&loop, s, 0, 2000);
    flush(&loop, s);
    cr_assert_geq(pgt_terminate_backends(), 1);
    append_range(&loop, s, 2000, 4000);
    flush(&loop, s);
    cr_assert_eq(sl_store_rows_failed(s), 0, "%s", sl_store_error(s));
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT request_id) FROM requests"), 4000);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), 4000);
    sl_test_close_loop(&loop);
}

Test(pg_store, no_permission_to_create_tables_is_one_clear_line)
{
    char role[64], url[512];
    pgt_new_role(role, "sluice_ro", "ro-Secret-9", url);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    struct sl_store *s = open_store(&loop, url, &o, 0);
    const char *err = sl_store_error(s);
    cr_assert_not_null(strstr(err, "permission denied"), "%s", err);
    cr_assert_not_null(strstr(err, "sluice migrate up"), "%s", err);
    cr_assert_null(strstr(err, "ro-Secret-9"), "%s", err);
    cr_assert_null(strchr(err, '\n'), "%s", err);
    close_store(&loop, s);
    sl_test_close_loop(&loop);
    pgt_drop_db_and_role(role);
}

Test(pg_store, a_write_stuck_on_the_server_is_dropped_and_done_again_once)
{
    char spool[128];
    snprintf(spool, sizeof(spool), "/tmp/sluice-stuck-%d.spool", (int)getpid());
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store_options o;
    sl_store_options_default(&o);
    o.batch_rows = 100;
    o.write_timeout_ms = 300;
    o.spool_path = spool;
    log_text[0] = '\0';
    struct sl_store *s = open_store(&loop, pgt_url, &o, 1);
    begin_run(&loop, s);
    append_range(&loop, s, 0, 500);
    flush(&loop, s);

    /* another session holds the table: every COPY now waits without an answer */
    PGconn *locker = pgt_connect(pgt_url);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *r = PQexec(locker, "LOCK TABLE requests IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    append_range(&loop, s, 500, 1000);
    uint64_t t0 = uv_hrtime();
    while (!strstr(log_text, "no answer from the server in 300 ms") &&
           sl_test_ms_since(t0) < 20000) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
    cr_assert_not_null(strstr(log_text, "no answer from the server in 300 ms"), "%s", log_text);
    PQclear(PQexec(locker, "COMMIT"));
    PQfinish(locker);

    flush(&loop, s);
    cr_assert_eq(sl_store_rows_failed(s), 0, "%s", sl_store_error(s));
    close_store(&loop, s);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM requests"), 1000);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(DISTINCT request_id) FROM requests"), 1000);
    cr_assert_neq(access(spool, F_OK), 0, "the spool was left behind");
    sl_test_close_loop(&loop);
}
