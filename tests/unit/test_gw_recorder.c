/* The recorder: rows the store cannot take yet wait in order and make the
 * recorder backlogged until the store drains them; counted rows get their
 * prompt tokens and hand their item back; closing waits for every row.
 *
 * The full store is real: the queue holds two batches of ten rows and a
 * second connection holds SQLite's write lock (BEGIN IMMEDIATE), so the
 * writer waits and sl_store_append says UV_EAGAIN until the lock goes. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/recorder.h"
#include "store/store.h"
#include "support.h"

#define ROWS  100
#define ITEMS 3

static char dir[64];

static void setup(void)
{
    sl_test_mkdtemp(dir, sizeof(dir), "recorder");
}

static void teardown(void)
{
    sl_test_rmdir(dir);
}

TestSuite(gw_recorder, .init = setup, .fini = teardown, .timeout = 60);

struct fixture {
    uv_loop_t loop;
    uv_timer_t release;
    struct sl_store *store;
    struct sl_recorder *rec;
    sqlite3 *blocker;
    char path[128];
    struct sl_recorder_item items[ITEMS];
    char ids[ROWS][40];
    int backlogged_while_held, closed;
    uint64_t rows;
};

static int dones;
static const char body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello world\"}]}";

static void on_store_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    cr_assert_eq(status, 0);
    ((struct fixture *)arg)->closed = 1;
}

static void on_ended(struct sl_store *store, int status, void *arg)
{
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    sl_store_close(store, on_store_closed, arg);
}

static void on_recorder_closed(uint64_t rows, void *arg)
{
    struct fixture *f = arg;
    f->rec = NULL;
    f->rows = rows;
    cr_assert_eq(dones, ITEMS, "closed before every item was recorded");
    sl_store_end_run(f->store, "completed", 1, on_ended, f);
}

static void on_release(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->backlogged_while_held = sl_recorder_backlogged(f->rec);
    cr_assert_eq(sqlite3_exec(f->blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(f->blocker);
    f->blocker = NULL;
    uv_close((uv_handle_t *)t, NULL);
    sl_recorder_close(f->rec, on_recorder_closed, f);
}

static struct sl_gw_log_row row_for(const char *id)
{
    struct sl_gw_log_row row = {
        .key = "",
        .model = "m",
        .deployment = "d",
        .endpoint = "chat/completions",
        .started_us = 1,
        .attempts = 1,
        .status = 200,
        .outcome = SL_GW_OK,
    };
    snprintf(row.id, sizeof(row.id), "%s", id);
    return row;
}

static void count_done(struct sl_recorder_item *item)
{
    /* the prompt was counted before the row was recorded, as OpenAI bills
     * it (docs/tokens.md): 3 per message + "user" (1) + "Hello world" (2)
     * + 3 for the reply's priming */
    cr_assert_eq(item->row.prompt_tokens_counted, 9);
    dones++;
}

static void on_begun(struct sl_store *store, int status, void *arg)
{
    struct fixture *f = arg;
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    cr_assert_eq(sqlite3_open(f->path, &f->blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(f->blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sl_recorder_new(&f->loop, store, &f->rec), 0);
    cr_assert_not(sl_recorder_backlogged(f->rec));
    for (int i = 0; i < ROWS; i++) {
        snprintf(f->ids[i], sizeof(f->ids[i]), "r%03d", i);
        struct sl_gw_log_row row = row_for(f->ids[i]);
        sl_recorder_add(f->rec, &row);
    }
    cr_assert(sl_recorder_backlogged(f->rec), "the full store left nothing waiting");
    for (int i = 0; i < ITEMS; i++) {
        struct sl_recorder_item *item = &f->items[i];
        char id[16];
        snprintf(id, sizeof(id), "item%d", i);
        item->row = row_for(id);
        item->body = body;
        item->body_len = sizeof(body) - 1;
        item->done = count_done;
        sl_recorder_count_and_add(f->rec, item);
    }
    uv_timer_start(&f->release, on_release, 50, 0);
}

static const struct sl_run_info run_info = {"serve", 0, 1, "{}"};

static void on_open(struct sl_store *store, int status, void *arg)
{
    cr_assert_eq(status, 0, "%s", sl_store_error(store));
    sl_store_begin_run(store, &run_info, on_begun, arg);
}

Test(gw_recorder, rows_wait_in_order_while_the_store_is_full_and_close_waits_for_all)
{
    struct fixture f = {0};
    dones = 0;
    snprintf(f.path, sizeof(f.path), "%s/r.db", dir);
    char url[160];
    snprintf(url, sizeof(url), "sqlite:%s", f.path);
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.batch_rows = 10;
    opts.max_batches = 2;
    opts.sync = SL_SYNC_NORMAL;
    uv_loop_init(&f.loop);
    uv_timer_init(&f.loop, &f.release);
    f.release.data = &f;
    cr_assert_eq(sl_store_open(&f.loop, url, &opts, &f.store, on_open, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    sl_test_close_loop(&f.loop);
    cr_assert(f.closed);
    cr_assert(f.backlogged_while_held);
    cr_assert_eq(dones, ITEMS);
    cr_assert_eq(f.rows, ROWS + ITEMS);

    /* every row once, in the order handed over (request_id is the order) */
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT request_id, json_extract(metadata, '$.id'),"
                                    " json_extract(metadata, '$.prompt_tokens_counted')"
                                    " FROM requests ORDER BY request_id",
                                    -1, &st, NULL),
                 SQLITE_OK);
    for (int i = 0; i < ROWS + ITEMS; i++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "row %d missing", i);
        cr_assert_eq(sqlite3_column_int64(st, 0), i + 1);
        char want[16];
        if (i < ROWS)
            snprintf(want, sizeof(want), "r%03d", i);
        else
            snprintf(want, sizeof(want), "item%d", i - ROWS);
        cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), want);
        cr_assert_eq(sqlite3_column_int(st, 2), i < ROWS ? 0 : 9);
    }
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
