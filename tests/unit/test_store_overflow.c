/* The overflow spool: a store whose writer cannot keep up spools the rows
 * it has no room for and replays them, so every row appended ends up in
 * the database exactly once, and the counters say how many were spooled.
 *
 * The slow writer is real: a second connection holds SQLite's write lock
 * (BEGIN IMMEDIATE), so the writer thread waits in its busy handler while
 * the test appends far more rows than the queue holds. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store_records.h"
#include "support.h"

#define BATCH_ROWS  10
#define MAX_BATCHES 2
#define TOTAL       1000

static char dir[64];

static void setup(void)
{
    sl_test_mkdtemp(dir, sizeof(dir), "overflow");
}

static void teardown(void)
{
    sl_test_rmdir(dir);
}

TestSuite(overflow, .init = setup, .fini = teardown, .timeout = 60);

struct fixture {
    uv_loop_t loop;
    uv_timer_t poll;
    struct sl_store *store;
    sqlite3 *blocker;
    char path[128];
    uint64_t next, total, expect_spooled;
    int eagain, writable_calls, closed, status, released;
    uint64_t written, spooled, spooled_total, failed;
    char spool_path[256];
};

static void on_closed(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    f->closed = 1;
    f->status = status;
    f->written = sl_store_rows_written(store);
    f->spooled = sl_store_rows_spooled(store);
    f->spooled_total = sl_store_rows_spooled_total(store);
    f->failed = sl_store_rows_failed(store);
}

static void on_ended(struct sl_store *store, int status, void *arg)
{
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    sl_store_close(store, on_closed, arg);
}

static void release_writer(struct fixture *f)
{
    if (f->released++)
        return;
    cr_assert_eq(sqlite3_exec(f->blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(f->blocker);
    f->blocker = NULL;
}

static void pump(struct fixture *f)
{
    while (f->next < f->total) {
        struct sl_record rec;
        record_for(f->next, &rec);
        int rc = sl_store_append(f->store, &rec);
        if (rc == UV_EAGAIN) {
            /* backpressure (the spool is at its cap): let the writer go */
            f->eagain++;
            release_writer(f);
            return;
        }
        cr_assert_eq(rc, 0);
        f->next++;
    }
    uv_timer_stop(&f->poll);
    release_writer(f);
    sl_store_end_run(f->store, "completed", 1, on_ended, f);
}

static void on_writable(struct sl_store *store, void *arg)
{
    (void)store;
    struct fixture *f = arg;
    f->writable_calls++;
    pump(f);
}

/* Waits until the spilled rows are on disk while the writer is still held,
 * so the test sees the spool used, then finishes the run. */
static void on_poll(uv_timer_t *t)
{
    struct fixture *f = t->data;
    if (sl_store_rows_spooled(f->store) < f->expect_spooled)
        return;
    cr_assert_eq(access(f->spool_path, F_OK), 0, "no spool file at %s", f->spool_path);
    uv_timer_stop(t);
    pump(f);
}

static void on_begun(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    cr_assert_eq(sqlite3_open(f->path, &f->blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(f->blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sl_store_on_writable(store, on_writable, f);
    if (f->expect_spooled) {
        /* every append is taken: the queue's rows wait for the writer, the
         * rest go to the spool */
        f->total = TOTAL;
        for (; f->next < TOTAL; f->next++) {
            struct sl_record rec;
            record_for(f->next, &rec);
            cr_assert_eq(sl_store_append(store, &rec), 0, "row %llu refused",
                         (unsigned long long)f->next);
        }
        uv_timer_start(&f->poll, on_poll, 5, 5);
        return;
    }
    pump(f);
}

static const struct sl_run_info run_info = {"test", TOTAL, 1, "{}"};

static void on_open(struct sl_store *store, int status, void *arg)
{
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    sl_store_begin_run(store, &run_info, on_begun, arg);
}

static void run(struct fixture *f, uint64_t cap)
{
    snprintf(f->path, sizeof(f->path), "%s/o.db", dir);
    snprintf(f->spool_path, sizeof(f->spool_path), "%s.spool", f->path);
    char url[160];
    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.batch_rows = BATCH_ROWS;
    opts.max_batches = MAX_BATCHES;
    opts.sync = SL_SYNC_NORMAL;
    opts.overflow_spool = 1;
    if (cap)
        opts.overflow_spool_max_bytes = cap;
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->poll);
    f->poll.data = f;
    cr_assert_eq(sl_store_open(&f->loop, url, &opts, &f->store, on_open, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&f->poll, NULL);
    sl_test_close_loop(&f->loop);
    cr_assert(f->closed);
    cr_assert_eq(f->status, 0);
}

/* Every request id 1..TOTAL is in the database once, under run 1. */
static void assert_every_row_once(const struct fixture *f)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*), count(DISTINCT request_id), min(request_id),"
                                    " max(request_id), min(run_id), max(run_id) FROM requests",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(st, 0), TOTAL);
    cr_assert_eq(sqlite3_column_int64(st, 1), TOTAL);
    cr_assert_eq(sqlite3_column_int64(st, 2), 1);
    cr_assert_eq(sqlite3_column_int64(st, 3), TOTAL);
    cr_assert_eq(sqlite3_column_int64(st, 4), 1);
    cr_assert_eq(sqlite3_column_int64(st, 5), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(overflow, a_slow_writer_spools_and_every_row_lands_once)
{
    struct fixture f = {.expect_spooled = TOTAL - BATCH_ROWS * MAX_BATCHES};
    run(&f, 0);
    assert_every_row_once(&f);
    cr_assert_eq(f.failed, 0);
    cr_assert_eq(f.written, TOTAL);
    cr_assert_eq(f.spooled, 0, "rows left in the spool");
    cr_assert_eq(f.spooled_total, TOTAL - BATCH_ROWS * MAX_BATCHES);
    cr_assert_neq(access(f.spool_path, F_OK), 0, "the spool file was left behind");
}

Test(overflow, a_spool_at_its_cap_applies_backpressure_and_loses_nothing)
{
    /* room for about three frames of ten rows */
    struct fixture f = {0};
    f.total = TOTAL;
    run(&f, 3 * (16 + BATCH_ROWS * (42 + SL_STORE_METADATA_MAX)));
    assert_every_row_once(&f);
    cr_assert_gt(f.eagain, 0, "the cap never applied");
    cr_assert_gt(f.writable_calls, 0);
    cr_assert_gt(f.spooled_total, 0, "nothing was spooled");
    cr_assert_eq(f.failed, 0);
    cr_assert_eq(f.written, TOTAL);
    cr_assert_eq(f.spooled, 0);
    cr_assert_neq(access(f.spool_path, F_OK), 0, "the spool file was left behind");
}
