/* The idempotent COPY write; see pg_write.h. */
#include "store/pg_write.h"

#include <stdio.h>
#include <string.h>

#include "store/pg_rows.h"

static const char copy_requests[] =
    "COPY requests " SL_PG_COPY_COLUMNS " FROM STDIN (FORMAT binary)";
static const char copy_stage[] =
    "COPY sluice_stage " SL_PG_COPY_COLUMNS " FROM STDIN (FORMAT binary)";
static const char stage_begin[] =
    "BEGIN; CREATE TEMP TABLE IF NOT EXISTS sluice_stage (LIKE requests) ON COMMIT DELETE ROWS";
static const char stage_insert[] =
    "INSERT INTO requests " SL_PG_COPY_COLUMNS " SELECT " SL_PG_COPY_COLUMNS_BARE
    " FROM sluice_stage ON CONFLICT DO NOTHING; COMMIT";

static void write_finish(struct sl_pg_write *wr, int status)
{
    if (wr->conn) {
        sl_pg_pool_release(wr->pool, wr->conn, status != 0);
        wr->conn = NULL;
    }
    wr->busy = 0;
    wr->done(wr, status);
}

static void write_fail(struct sl_pg_write *wr, int status, const char *what)
{
    snprintf(wr->err, sizeof(wr->err), "%s: %s", what,
             wr->conn ? sl_pg_conn_error(wr->conn) : "no connection");
    write_finish(wr, status);
}

static void on_stage_rolled_back(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    (void)status;
    struct sl_pg_write *wr = arg;
    write_finish(wr, wr->error_status);
}

static void stage_fail(struct sl_pg_write *wr, int status, const char *what)
{
    snprintf(wr->err, sizeof(wr->err), "%s: %s", what, sl_pg_conn_error(wr->conn));
    wr->error_status = status;
    if (status == UV_ECONNRESET)
        write_finish(wr, status);
    else
        sl_pg_conn_script(wr->conn, "ROLLBACK", on_stage_rolled_back, wr);
}

static void on_stage_inserted(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl_pg_write *wr = arg;
    if (status != 0)
        stage_fail(wr, status, "cannot merge the staged rows");
    else
        write_finish(wr, 0);
}

static void on_stage_copied(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct sl_pg_write *wr = arg;
    if (status != 0) {
        stage_fail(wr, status, "cannot stage the rows");
        return;
    }
    sl_pg_conn_script(c, stage_insert, on_stage_inserted, wr);
}

static void on_stage_begun(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct sl_pg_write *wr = arg;
    if (status != 0) {
        stage_fail(wr, status, "cannot create the staging table");
        return;
    }
    sl_pg_conn_copy(c, copy_stage, wr->data, wr->len, on_stage_copied, wr);
}

static void on_copied(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct sl_pg_write *wr = arg;
    if (status == UV_EIO && strcmp(sl_pg_conn_sqlstate(c), "23505") == 0) {
        /* some rows are there already: merge instead */
        sl_pg_conn_script(c, stage_begin, on_stage_begun, wr);
        return;
    }
    if (status != 0) {
        write_fail(wr, status, "COPY failed");
        return;
    }
    write_finish(wr, 0);
}

static void on_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct sl_pg_write *wr = w->data;
    if (status != 0) {
        /* a connect that failed (timed out included) means the database is
         * away; a wait that timed out only that every connection was busy */
        snprintf(wr->err, sizeof(wr->err), "%s", sl_pg_pool_error(wr->pool));
        write_finish(wr, w->connect_failed ? UV_ECONNREFUSED : UV_ETIMEDOUT);
        return;
    }
    wr->conn = conn;
    /* a write that gets no answer counts as a lost connection: its rows are
     * kept and written again (or spooled), never waited for forever */
    sl_pg_conn_set_op_timeout(conn, wr->timeout_ms);
    sl_pg_conn_copy(conn, copy_requests, wr->data, wr->len, on_copied, wr);
}

void sl_pg_write_start(struct sl_pg_write *wr)
{
    wr->busy = 1;
    wr->err[0] = '\0';
    wr->waiter.data = wr;
    sl_pg_pool_acquire(wr->pool, &wr->waiter, on_conn);
}
