/* The SQLite store: bounded queue with backpressure, no lost rows,
 * analytics from SQL, clean refusal of bad databases. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/pg_url.h"
#include "store/store.h"
#include "store_records.h"
#include "support.h"

static char dir[64];

static void setup(void)
{
    sl_test_mkdtemp(dir, sizeof(dir), "store");
}

static void teardown(void)
{
    sl_test_rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 30);

struct fixture {
    uv_loop_t loop;
    struct sl_store *store;
    struct sl_stats stats;
    int opened, status, closed, eagain, writable_calls;
    uint64_t next, total;
    char err[512];
};

static void on_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    struct fixture *f = arg;
    f->closed = 1;
    f->status = f->status ? f->status : status;
}

static void on_stats(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    f->status = status;
    if (status)
        snprintf(f->err, sizeof(f->err), "%s", sl_store_error(store));
    sl_store_close(store, on_closed, f);
}

static void on_ended(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    cr_assert_eq(sl_store_rows_written(store), f->total);
    cr_assert_eq(sl_store_rows_pending(store), 0);
    sl_store_query_stats(store, 0, &f->stats, on_stats, f);
}

static void pump(struct fixture *f)
{
    while (f->next < f->total) {
        struct sl_record rec;
        record_for(f->next, &rec);
        if (sl_store_append(f->store, &rec) != 0) {
            f->eagain++;
            return; /* keep the record; on_writable resumes */
        }
        f->next++;
    }
    sl_store_end_run(f->store, "completed", 7, on_ended, f);
}

static void on_writable(struct sl_store *store, void *arg)
{
    (void)store;
    struct fixture *f = arg;
    f->writable_calls++;
    pump(f);
}

static void on_begun(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    cr_assert_gt(sl_store_run_id(store), 0);
    sl_store_on_writable(store, on_writable, f);
    pump(f);
}

static const struct sl_run_info run_info = {"test", 10000, 4, "{}"};

static void on_open_then_run(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    f->opened = 1;
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    sl_store_begin_run(store, &run_info, on_begun, f);
}

Test(store, backpressure_loses_nothing_and_analytics_come_from_sql)
{
    struct fixture f = {.total = 10000};
    char url[128];
    snprintf(url, sizeof(url), "sqlite:%s/s.db", dir);
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.batch_rows = 100;
    opts.max_batches = 2; /* tiny, so the queue fills up */
    opts.sync = SL_SYNC_NORMAL;
    uv_loop_init(&f.loop);
    cr_assert_eq(sl_store_open(&f.loop, url, &opts, &f.store, on_open_then_run, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    cr_assert(f.closed);
    cr_assert_eq(f.status, 0, "%s", f.err);
    cr_assert_gt(f.eagain, 0, "the bound was never reached");
    cr_assert_gt(f.writable_calls, 0);
    cr_assert_eq(f.stats.db_rows, 10000);
    cr_assert_eq(f.stats.requests, 10000);
    cr_assert_eq(f.stats.failed, 1000);
    cr_assert_eq(f.stats.succeeded, 9000);
    /* attempts cycle 1,2,3: retries 0,1,2 */
    cr_assert_eq(f.stats.retries, 3333 * 1 + 3333 * 2);
    cr_assert_eq(f.stats.max_in_flight, 7);
    /* processing times are 1..100 ms, 100 of each */
    cr_assert_float_eq(f.stats.p50_ms, 50, 1e-6);
    cr_assert_float_eq(f.stats.p95_ms, 95, 1e-6);
    cr_assert_float_eq(f.stats.p99_ms, 99, 1e-6);
    cr_assert_float_eq(f.stats.avg_processing_ms, 50.5, 1e-6);
    /* ideal = 10000 * 50.5 ms / 4 slots */
    cr_assert_float_eq(f.stats.ideal_makespan_s, 10000 * 0.0505 / 4, 1e-6);
    cr_assert_float_eq(f.stats.makespan_s, 0.101, 1e-9);
    sl_test_close_loop(&f.loop);
}

static void on_open_expect_failure(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    f->opened = 1;
    f->status = status;
    snprintf(f->err, sizeof(f->err), "%s", sl_store_error(store));
    sl_store_close(store, on_closed, f);
}

static void open_expect_failure(const char *url, int create, struct fixture *f)
{
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.create = create;
    uv_loop_init(&f->loop);
    cr_assert_eq(sl_store_open(&f->loop, url, &opts, &f->store, on_open_expect_failure, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cr_assert(f->opened);
    cr_assert_neq(f->status, 0, "open of %s succeeded", url);
    sl_test_close_loop(&f->loop);
}

Test(store, missing_database_is_not_created_when_reading)
{
    struct fixture f = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    open_expect_failure(path, 0, &f);
    cr_assert_not_null(strstr(f.err, "no database at"), "%s", f.err);
    cr_assert_neq(access(path, F_OK), 0);
}

Test(store, unwritable_path_leaves_nothing)
{
    struct fixture f = {0};
    open_expect_failure("/proc/sluice-cannot-write/x.db", 1, &f);
    cr_assert_not_null(strstr(f.err, "cannot open database"), "%s", f.err);
}

Test(store, not_a_database_is_refused_and_kept)
{
    struct fixture f = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/text.db", dir);
    FILE *fp = fopen(path, "w");
    fputs("this is not a database, but somebody's file that must survive\n", fp);
    fclose(fp);
    open_expect_failure(path, 1, &f);
    cr_assert_eq(access(path, F_OK), 0, "the user's file was deleted");
}

Test(store, newer_schema_is_refused)
{
    struct fixture f = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/new.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name "
                              "TEXT NOT NULL, applied_us INTEGER NOT NULL);"
                              "INSERT INTO schema_version VALUES (42, 'from the future', 0);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    open_expect_failure(path, 1, &f);
    cr_assert_not_null(strstr(f.err, "schema version 42, newer"), "%s", f.err);
}

Test(store, a_refused_url_reports_through_the_callback_and_closes_clean)
{
    struct fixture f = {0};
    open_expect_failure("postgresql://u:pw-x1@h/db?bogus=1", 1, &f);
    cr_assert_not_null(strstr(f.err, "malformed PostgreSQL URL"), "%s", f.err);
    cr_assert_null(strstr(f.err, "pw-x1"), "%s", f.err);
    cr_assert(f.closed);
}

Test(store, libpq_messages_become_one_line_with_the_password_masked)
{
    char msg[256] = "connection to server failed: Connection refused\n\tIs the server "
                    "running?\nsecond try with pw-Hunter2 failed\n";
    sl_pg_mask_secret(msg, sizeof(msg), "pw-Hunter2");
    cr_assert_str_eq(msg, "connection to server failed: Connection refused; Is the server "
                          "running?; second try with *** failed");
    char mask[64] = "a *** b";
    sl_pg_mask_secret(mask, sizeof(mask), "***"); /* must not loop */
    cr_assert_str_eq(mask, "a *** b");
}

Test(store, url_parsing)
{
    char path[64], err[256];
    cr_assert_eq(sl_store_parse_url("sqlite:a.db", path, sizeof(path), err, sizeof(err)), 0);
    cr_assert_str_eq(path, "a.db");
    cr_assert_eq(sl_store_parse_url("sqlite:///tmp/a.db", path, sizeof(path), err, sizeof(err)), 0);
    cr_assert_str_eq(path, "/tmp/a.db");
    cr_assert_eq(sl_store_parse_url("x/y.db", path, sizeof(path), err, sizeof(err)), 0);
    cr_assert_str_eq(path, "x/y.db");
    char masked[128];
    cr_assert_eq(
        sl_store_parse_url("postgresql://u:pw@h/db", masked, sizeof(masked), err, sizeof(err)), 0);
    cr_assert_str_eq(masked, "postgresql://u:***@h/db");
    cr_assert_eq(sl_store_parse_url("postgres://u:secret1@h:5/db?sslmode=disable&password=x2",
                                    masked, sizeof(masked), err, sizeof(err)),
                 0);
    cr_assert_str_eq(masked, "postgres://u:***@h:5/db?sslmode=disable&password=***");
    cr_assert_eq(sl_store_parse_url("postgresql://u:secret1@h:notaport/db?bogus=1", masked,
                                    sizeof(masked), err, sizeof(err)),
                 UV_EINVAL);
    cr_assert_not_null(strstr(err, "malformed PostgreSQL URL"), "%s", err);
    cr_assert_null(strstr(err, "secret1"), "%s", err);
    cr_assert_eq(sl_store_url_kind("postgres://h/db"), SL_STORE_POSTGRES);
    cr_assert_eq(sl_store_url_kind("x.db"), SL_STORE_SQLITE);
    cr_assert_eq(sl_store_parse_url("mysql://h/db", path, sizeof(path), err, sizeof(err)),
                 UV_EINVAL);
    cr_assert_eq(sl_store_parse_url("sqlite:", path, sizeof(path), err, sizeof(err)), UV_EINVAL);
}

Test(store, records_keep_their_own_metadata)
{
    struct fixture f = {.total = 10000};
    custom_metadata = 1;
    char url[128], path[128];
    snprintf(path, sizeof(path), "%s/m.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.batch_rows = 1000;
    opts.sync = SL_SYNC_NORMAL;
    uv_loop_init(&f.loop);
    cr_assert_eq(sl_store_open(&f.loop, url, &opts, &f.store, on_open_then_run, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    cr_assert_eq(f.status, 0, "%s", f.err);
    sl_test_close_loop(&f.loop);
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM requests WHERE metadata ->> 'i' = "
                                    "request_id AND length(metadata ->> 'pad') = 200",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 10000, "a row lost or mixed up its metadata");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
