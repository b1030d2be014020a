/* PostgreSQL backend: batches as binary COPY over a pool, on the loop, with
 * a spool file for outages.
 *
 * Design
 *  - Writers: pool_size writers, each with its own encode buffer, take
 *    batches from the backend's FIFO. A batch is encoded once into a binary
 *    COPY stream and sent with COPY requests FROM STDIN on a pooled
 *    connection: one round trip, atomic. If the server refuses it because
 *    some of its rows are already there (unique_violation: a replay, or a
 *    retry after a lost acknowledgement), the same stream goes into a
 *    per-session temporary table and from there with INSERT ... ON
 *    CONFLICT DO NOTHING, in one transaction: a batch written twice is
 *    written once.
 *  - Up and down: a lost connection, a failed connect, or a write without
 *    an answer for write_timeout_ms (its connection is dropped) marks the
 *    database down. Batches then stay in the FIFO, which store.c bounds;
 *    once half the bound is held (or a flush, end of run or close waits)
 *    the oldest are appended to the spool file (spool.c) and count as
 *    spooled. Meanwhile the retry engine (sl_retrier, full jitter, capped
 *    at 2 s, no attempt limit) tries to connect again, logging each failure
 *    once with the wait to the next try. When a connect succeeds the
 *    database is up: writers resume and the spool is replayed frame by
 *    frame through the same idempotent write, then removed.
 *  - Calls (begin/end run, analytics, migrations, chat history) run one at
 *    a time on a pooled connection, after the spool has been replayed;
 *    while the database is down a call waits for it at most pool_wait_ms.
 *  - Close: store.c closes the backend once every batch completed (written,
 *    spooled or failed); if the database is up a remaining spool is
 *    replayed first. Then the retrier, the pool and the spool are closed,
 *    and the state freed after the last of their callbacks.
 *
 * Ownership: the backend owns batches from write() until it reports them
 * with sl__store_written(); a writer owns the connection it acquired until
 * it releases it. Everything runs on the loop thread. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "retry/retrier.h"
#include "store/analytics.h"
#include "store/conv_page.h"
#include "store/migrate.h"
#include "store/pg_conn.h"
#include "store/pg_migrate.h"
#include "store/pg_pool.h"
#include "store/pg_rows.h"
#include "store/pg_url.h"
#include "store/spool.h"
#include "store/store_impl.h"

#define RECONNECT_CAP_MS 2000

static const char copy_requests[] =
    "COPY requests " SL_PG_COPY_COLUMNS " FROM STDIN (FORMAT binary)";
static const char copy_stage[] =
    "COPY sluice_stage " SL_PG_COPY_COLUMNS " FROM STDIN (FORMAT binary)";
static const char stage_begin[] =
    "BEGIN; CREATE TEMP TABLE IF NOT EXISTS sluice_stage (LIKE requests) ON COMMIT DELETE ROWS";
static const char stage_insert[] =
    "INSERT INTO requests " SL_PG_COPY_COLUMNS " SELECT " SL_PG_COPY_COLUMNS_BARE
    " FROM sluice_stage ON CONFLICT DO NOTHING; COMMIT";

struct pgs;

/* One idempotent write of a COPY stream, for a batch or a spool frame. */
struct writer {
    struct pgs *g;
    struct sl_pg_waiter w;
    struct sl_pg_conn *conn;
    struct sl__batch *batch; /* NULL: a spool frame */
    const char *data;
    size_t len;
    uint32_t rows;
    char *buf;
    size_t cap;
    int busy, error_status;
    char err[512];
    void (*done)(struct writer *wr, int status);
};

struct pgs {
    struct sl_store *s;
    struct sl_pg_params params;
    struct sl_pg_pool *pool;
    struct sl_spool spool;
    int up, opening, closing, close_parts;

    /* batches handed over by store.c and not being written */
    struct sl__batch *q_head, **q_tail;
    unsigned q_len;
    struct writer *writers;
    unsigned n_writers;

    /* spilling: one spool append at a time */
    struct sl__batch *spilling;
    char *spill_buf;

    /* replay of the spool */
    struct writer replay;
    int replaying;
    uint64_t replayed_rows;

    /* reconnecting */
    struct sl_retrier retrier;
    struct sl_retry_policy policy;
    struct sl_rng rng;
    struct sl_pg_waiter probe;
    struct sl_pg_conn *probe_conn; /* the probe's check is running on it */
    int reconnecting;
    char down_reason[512];

    /* the call in progress (one at a time) */
    struct sl__call *call;
    struct sl_pg_waiter cw;
    struct sl_pg_conn *call_conn;
    uv_timer_t call_timer;
    int call_step;
    struct sl_pg_migration mig;
    struct sl__conv_builder conv;
    char call_param_buf[4][32];
};

static void pump(struct pgs *g);
static void replay_pump(struct pgs *g);
static void on_call_timeout(uv_timer_t *t);
static void run_call(struct pgs *g);
static void go_down(struct pgs *g, const char *reason);
static void maybe_finish_close(struct pgs *g);

static void log_line(struct pgs *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct pgs *g, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sl_pg_mask_secret(line, sizeof(line), g->params.password);
    if (g->s->opts.log)
        g->s->opts.log(line, g->s->opts.log_arg);
    else
        fprintf(stderr, "sluice: %s\n", line);
}

/* ---- the idempotent write ------------------------------------------------ */

static void writer_finish(struct writer *wr, int status)
{
    struct pgs *g = wr->g;
    if (wr->conn) {
        sl_pg_pool_release(g->pool, wr->conn, status != 0);
        wr->conn = NULL;
    }
    wr->busy = 0;
    wr->done(wr, status);
}

static void writer_fail(struct writer *wr, int status, const char *what)
{
    snprintf(wr->err, sizeof(wr->err), "%s: %s", what,
             wr->conn ? sl_pg_conn_error(wr->conn) : "no connection");
    writer_finish(wr, status);
}

static void on_stage_rolled_back(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    (void)status;
    struct writer *wr = arg;
    writer_finish(wr, wr->error_status);
}

static void stage_fail(struct writer *wr, int status, const char *what)
{
    snprintf(wr->err, sizeof(wr->err), "%s: %s", what, sl_pg_conn_error(wr->conn));
    wr->error_status = status;
    if (status == UV_ECONNRESET)
        writer_finish(wr, status);
    else
        sl_pg_conn_script(wr->conn, "ROLLBACK", on_stage_rolled_back, wr);
}

static void on_stage_inserted(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct writer *wr = arg;
    if (status != 0)
        stage_fail(wr, status, "cannot merge the staged rows");
    else
        writer_finish(wr, 0);
}

static void on_stage_copied(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct writer *wr = arg;
    if (status != 0) {
        stage_fail(wr, status, "cannot stage the rows");
        return;
    }
    sl_pg_conn_script(c, stage_insert, on_stage_inserted, wr);
}

static void on_stage_begun(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct writer *wr = arg;
    if (status != 0) {
        stage_fail(wr, status, "cannot create the staging table");
        return;
    }
    sl_pg_conn_copy(c, copy_stage, wr->data, wr->len, on_stage_copied, wr);
}

static void on_copied(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct writer *wr = arg;
    if (status == UV_EIO && strcmp(sl_pg_conn_sqlstate(c), "23505") == 0) {
        /* some rows are there already: merge instead */
        sl_pg_conn_script(c, stage_begin, on_stage_begun, wr);
        return;
    }
    if (status != 0) {
        writer_fail(wr, status, "COPY failed");
        return;
    }
    writer_finish(wr, 0);
}

static void on_writer_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct writer *wr = w->data;
    if (status != 0) {
        /* a connect that failed (timed out included) means the database is
         * away; a wait that timed out only that every connection was busy */
        snprintf(wr->err, sizeof(wr->err), "%s", sl_pg_pool_error(wr->g->pool));
        writer_finish(wr, w->connect_failed ? UV_ECONNREFUSED : UV_ETIMEDOUT);
        return;
    }
    wr->conn = conn;
    /* a write that gets no answer counts as a lost connection: its batch is
     * kept and written again (or spooled), never waited for forever */
    sl_pg_conn_set_op_timeout(conn, wr->g->s->opts.write_timeout_ms);
    sl_pg_conn_copy(conn, copy_requests, wr->data, wr->len, on_copied, wr);
}

static void writer_start(struct writer *wr)
{
    wr->busy = 1;
    wr->err[0] = '\0';
    wr->w.data = wr;
    sl_pg_pool_acquire(wr->g->pool, &wr->w, on_writer_conn);
}

/* ---- batches ------------------------------------------------------------- */

static void q_push_front(struct pgs *g, struct sl__batch *b)
{
    b->op.next = (struct sl__op *)g->q_head; /* op is the first member */
    g->q_head = b;
    if (g->q_tail == &g->q_head)
        g->q_tail = (struct sl__batch **)&b->op.next;
    g->q_len++;
}

static void q_push_back(struct pgs *g, struct sl__batch *b)
{
    b->op.next = NULL;
    *g->q_tail = b;
    g->q_tail = (struct sl__batch **)&b->op.next;
    g->q_len++;
}

static struct sl__batch *q_pop(struct pgs *g)
{
    struct sl__batch *b = g->q_head;
    if (b == NULL)
        return NULL;
    g->q_head = (struct sl__batch *)b->op.next;
    if (g->q_head == NULL)
        g->q_tail = &g->q_head;
    b->op.next = NULL;
    g->q_len--;
    return b;
}

static void on_batch_written(struct writer *wr, int status)
{
    struct pgs *g = wr->g;
    struct sl__batch *b = wr->batch;
    wr->batch = NULL;
    if (status == 0) {
        sl__store_written(g->s, b, 0, NULL);
    } else if (status == UV_EIO) {
        char msg[700];
        snprintf(msg, sizeof(msg), "cannot write %u rows to %s: %s", b->n, g->s->path, wr->err);
        sl__store_written(g->s, b, UV_EIO, msg);
    } else {
        /* the database is away (or every connection busy too long): keep
         * the batch, first in line */
        q_push_front(g, b);
        if (status != UV_ETIMEDOUT)
            go_down(g, wr->err);
    }
    pump(g);
}

static void on_spilled(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    struct pgs *g = arg;
    struct sl__batch *b = g->spilling;
    g->spilling = NULL;
    if (status != 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "cannot write %u rows to %s, nor to the spool: %s", b->n,
                 g->s->path, sl_spool_error(&g->spool));
        sl__store_written(g->s, b, UV_EIO, msg);
    } else {
        sl__store_written(g->s, b, SL__SPOOLED, NULL);
    }
    pump(g);
}

static int draining(const struct pgs *g)
{
    const struct sl_store *s = g->s;
    return s->closing || (s->ops_head && s->ops_head->is_call) || g->call != NULL;
}

static void pump(struct pgs *g)
{
    if (g->opening)
        return;
    if (g->up) {
        for (unsigned i = 0; i < g->n_writers && g->q_head; i++) {
            struct writer *wr = &g->writers[i];
            if (wr->busy)
                continue;
            wr->batch = q_pop(g);
            wr->len = sl_pg_rows_encode(wr->buf, g->s->run_id, wr->batch->rows, wr->batch->n);
            wr->data = wr->buf;
            wr->rows = wr->batch->n;
            writer_start(wr);
            if (!g->up)
                return; /* the start failed at once and spilled or requeued */
        }
    } else if (!g->s->opts.spool && draining(g)) {
        /* no spool (stats, migrate): what cannot be written fails, loudly */
        struct sl__batch *b;
        while ((b = q_pop(g)) != NULL) {
            char msg[800];
            snprintf(msg, sizeof(msg), "cannot write %u rows: %s is unreachable (%s)", b->n,
                     g->s->path, g->down_reason);
            sl__store_written(g->s, b, UV_EIO, msg);
        }
    } else if (g->spilling == NULL && g->q_head &&
               (g->q_len * 2 >= g->s->opts.max_batches || draining(g))) {
        struct sl__batch *b = q_pop(g);
        g->spilling = b;
        size_t len = sl_pg_rows_encode(g->spill_buf, g->s->run_id, b->rows, b->n);
        sl_spool_append(&g->spool, g->spill_buf, len, b->n, on_spilled, g);
    }
    if (g->call && g->call_step == 0)
        run_call(g);
    maybe_finish_close(g);
}

/* ---- the spool replay ---------------------------------------------------- */

static void on_spool_removed(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    struct pgs *g = arg;
    g->replaying = 0;
    if (status != 0) {
        log_line(g, "store: cannot remove the spool %s: %s", g->spool.path,
                 sl_spool_error(&g->spool));
        g->replay.error_status = status; /* its rows are in: do not replay it again now */
    }
    g->s->rows_spooled = 0;
    if (g->replayed_rows)
        log_line(g, "store: replayed %" PRIu64 " rows from the spool %s into %s", g->replayed_rows,
                 g->spool.path, g->s->path);
    g->replayed_rows = 0;
    pump(g);
}

static void on_frame_written(struct writer *wr, int status)
{
    struct pgs *g = wr->g;
    if (status == 0) {
        sl_spool_consumed(&g->spool);
        g->s->rows_written += wr->rows;
        g->s->rows_spooled -= wr->rows < g->s->rows_spooled ? wr->rows : g->s->rows_spooled;
        g->replayed_rows += wr->rows;
        g->replaying = 0;
        replay_pump(g);
        return;
    }
    sl_spool_rewind(&g->spool);
    g->replaying = 0;
    if (status == UV_EIO) {
        /* the server refuses these rows: they stay in the spool */
        log_line(g, "store: cannot replay the spool %s into %s: %s; it is kept", g->spool.path,
                 g->s->path, wr->err);
        g->replay.error_status = UV_EIO;
    } else if (status != UV_ETIMEDOUT) {
        go_down(g, wr->err);
    }
    pump(g);
}

static void on_frame_read(struct sl_spool *sp, int status, const char *payload, size_t len,
                          uint32_t rows, void *arg)
{
    (void)sp;
    struct pgs *g = arg;
    if (status == UV_EOF) {
        sl_spool_remove(&g->spool, on_spool_removed, g);
        return;
    }
    if (status != 0 || !g->up) {
        g->replaying = 0;
        sl_spool_rewind(&g->spool);
        if (status != 0) {
            log_line(g, "store: cannot read the spool %s: %s; it is kept", g->spool.path,
                     sl_spool_error(&g->spool));
            g->replay.error_status = status;
        }
        pump(g);
        return;
    }
    struct writer *wr = &g->replay;
    wr->data = payload; /* valid until the next spool read: ours */
    wr->len = len;
    wr->rows = rows;
    writer_start(wr);
}

/* A spool file exists (unless its replay failed: then it is kept). */
static int replay_needed(const struct pgs *g)
{
    return g->replay.error_status == 0 && g->spool.size > 0;
}

static void replay_pump(struct pgs *g)
{
    if (!g->up || g->replaying || g->opening || !replay_needed(g)) {
        if (!g->replaying)
            pump(g);
        return;
    }
    g->replaying = 1;
    if (sl_spool_pending(&g->spool))
        sl_spool_read(&g->spool, on_frame_read, g);
    else
        sl_spool_remove(&g->spool, on_spool_removed, g); /* all of it is in */
}

/* ---- down and up ---------------------------------------------------------- */

static void on_probe_checked(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct pgs *g = arg;
    g->probe_conn = NULL;
    if (status != 0)
        snprintf(g->down_reason, sizeof(g->down_reason), "%s", sl_pg_conn_error(c));
    sl_pg_pool_release(g->pool, c, status != 0);
    if (g->closing)
        sl_retrier_report(&g->retrier, SL_E_CANCELLED, -1);
    else
        sl_retrier_report(&g->retrier, status == 0 ? SL_OK : SL_E_CONN_REFUSED, -1);
}

/* A reconnect attempt: a connection from the pool that answers a query (an
 * idle one may not have noticed yet that its server restarted). */
static void on_probe_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct pgs *g = w->data;
    if (status == 0 && g->closing) {
        sl_pg_pool_release(g->pool, conn, 0);
        status = UV_ECANCELED;
    }
    if (status == 0) {
        g->probe_conn = conn;
        sl_pg_conn_query(conn, "", 0, NULL, on_probe_checked, g);
        return;
    }
    if (status != UV_ECANCELED)
        snprintf(g->down_reason, sizeof(g->down_reason), "%s", sl_pg_pool_error(g->pool));
    sl_retrier_report(&g->retrier, status == UV_ECANCELED ? SL_E_CANCELLED : SL_E_CONN_REFUSED, -1);
}

static void reconnect_attempt(struct sl_retrier *r)
{
    struct pgs *g = r->data;
    g->probe.data = g;
    sl_pg_pool_acquire(g->pool, &g->probe, on_probe_conn);
}

static void reconnect_sleep(struct sl_retrier *r, enum sl_err error,
                            const struct sl_retry_decision *d)
{
    (void)error;
    struct pgs *g = r->data;
    log_line(g, "store: cannot reach %s (%s); next try in %.0f ms (attempt %u)", g->s->path,
             g->down_reason, d->wait_ms, r->state.attempt);
}

static void reconnect_done(struct sl_retrier *r)
{
    struct pgs *g = r->data;
    g->reconnecting = 0;
    if (r->outcome.last_error != SL_OK) {
        maybe_finish_close(g);
        return;
    }
    g->up = 1;
    g->replay.error_status = 0;
    log_line(g, "store: %s is back after %u attempt(s); writing %u queued batch(es)%s", g->s->path,
             r->outcome.attempts, g->q_len, replay_needed(g) ? " and replaying the spool" : "");
    replay_pump(g);
    pump(g);
}

static void go_down(struct pgs *g, const char *reason)
{
    if (!g->up || g->opening)
        return;
    g->up = 0;
    snprintf(g->down_reason, sizeof(g->down_reason), "%s", reason);
    log_line(g, "store: lost %s (%s); keeping rows in memory, then in the spool %s", g->s->path,
             reason, g->spool.path);
    if (g->call && g->call_step == 0 && !uv_is_active((uv_handle_t *)&g->call_timer))
        uv_timer_start(&g->call_timer, on_call_timeout, g->s->opts.pool_wait_ms, 0);
    if (g->closing)
        return;
    g->reconnecting = 1;
    sl_retrier_run(&g->retrier, &g->policy, &g->rng, reconnect_attempt, reconnect_sleep,
                   reconnect_done);
}

/* ---- calls ---------------------------------------------------------------- */

static void call_finish(struct pgs *g, int status)
{
    struct sl__call *c = g->call;
    uv_timer_stop(&g->call_timer);
    if (g->call_conn) {
        sl_pg_pool_release(g->pool, g->call_conn, status != 0);
        g->call_conn = NULL;
    }
    g->call = NULL;
    g->call_step = 0;
    c->status = status;
    if (status == UV_ECONNRESET || status == UV_ECONNREFUSED)
        go_down(g, c->err);
    sl__store_called(g->s, c);
}

static void call_fail(struct pgs *g, int status, const char *what)
{
    snprintf(g->call->err, sizeof(g->call->err), "%s in %s: %s", what, g->s->path,
             g->call_conn ? sl_pg_conn_error(g->call_conn) : "no connection");
    call_finish(g, status ? status : UV_EIO);
}

static const char *i64(struct pgs *g, int slot, int64_t v)
{
    snprintf(g->call_param_buf[slot], sizeof(g->call_param_buf[slot]), "%" PRId64, v);
    return g->call_param_buf[slot];
}

static void on_begun(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct pgs *g = arg;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        call_fail(g, status, "cannot record the run");
        return;
    }
    g->s->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    call_finish(g, 0);
}

static void on_ended(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct pgs *g = arg;
    if (status != 0)
        call_fail(g, status, "cannot finish the run");
    else
        call_finish(g, 0);
}

static double num(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? 0 : strtod(PQgetvalue(res, 0, col), NULL);
}

static void on_stats_rows(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct pgs *g = arg;
    struct sl_stats *out = g->call->out;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        call_fail(g, status, "analytics query failed");
        return;
    }
    out->db_rows = (uint64_t)num(res, 0);
    out->succeeded = (uint64_t)num(res, 1);
    out->failed = (uint64_t)num(res, 2);
    out->cancelled = (uint64_t)num(res, 3);
    out->retries = (uint64_t)num(res, 4);
    out->avg_processing_ms = num(res, 5);
    out->avg_queue_ms = num(res, 6);
    double busy_ms = num(res, 7);
    out->makespan_s = num(res, 8) / 1e6;
    out->p50_ms = num(res, 9);
    out->p95_ms = num(res, 10);
    out->p99_ms = num(res, 11);
    sl_stats_derive(out, busy_ms);
    call_finish(g, 0);
}

static void on_stats_run(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct pgs *g = arg;
    struct sl_stats *out = g->call->out;
    if (status != 0 || res == NULL) {
        call_fail(g, status, "analytics query failed");
        return;
    }
    if (PQntuples(res) == 0) {
        if (g->call->id > 0)
            snprintf(g->call->err, sizeof(g->call->err), "no run %" PRId64 " in this database",
                     g->call->id);
        else
            snprintf(g->call->err, sizeof(g->call->err), "no runs in this database yet");
        call_finish(g, UV_ENOENT);
        return;
    }
    out->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->requests = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    out->concurrency = (unsigned)atoi(PQgetvalue(res, 0, 2));
    out->max_in_flight = (unsigned)atoi(PQgetvalue(res, 0, 3));
    snprintf(out->run_status, sizeof(out->run_status), "%s", PQgetvalue(res, 0, 4));
    const char *params[1] = {i64(g, 0, out->run_id)};
    /* percentile_disc is the nearest rank, like the SQLite store's */
    sl_pg_conn_query(c,
                     "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'),"
                     " count(*) FILTER (WHERE status = 'failed'),"
                     " count(*) FILTER (WHERE status = 'cancelled'),"
                     " coalesce(sum(greatest(attempts - 1, 0)), 0),"
                     " coalesce(avg(p), 0), coalesce(avg(q), 0), coalesce(sum(p), 0),"
                     " coalesce(extract(epoch FROM max(finished_at) - min(created_at)) * 1e6, 0),"
                     " percentile_disc(0.5) WITHIN GROUP (ORDER BY p),"
                     " percentile_disc(0.95) WITHIN GROUP (ORDER BY p),"
                     " percentile_disc(0.99) WITHIN GROUP (ORDER BY p) "
                     "FROM (SELECT status, attempts, created_at, finished_at,"
                     " extract(epoch FROM finished_at - started_at) * 1000 AS p,"
                     " extract(epoch FROM started_at - created_at) * 1000 AS q"
                     " FROM requests WHERE run_id = $1) r",
                     1, params, on_stats_rows, g);
}

static int64_t us_at(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void on_messages(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct pgs *g = arg;
    if (status != 0 || res == NULL) {
        sl__conv_builder_release(&g->conv);
        call_fail(g, status, "cannot load messages");
        return;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        rc = sl__conv_add_message(&g->conv, us_at(res, i, 0), atoi(PQgetvalue(res, i, 1)),
                                  PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2),
                                  PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3),
                                  us_at(res, i, 4));
    if (rc == 0)
        rc = sl__conv_finish(&g->conv, g->call->out);
    else
        sl__conv_builder_release(&g->conv);
    if (rc != 0) {
        snprintf(g->call->err, sizeof(g->call->err), "chat history page too large (%s)",
                 uv_strerror(rc));
        call_finish(g, rc);
        return;
    }
    call_finish(g, 0);
}

static void on_conversations(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct pgs *g = arg;
    if (status != 0 || res == NULL) {
        call_fail(g, status, "cannot load conversations");
        return;
    }
    sl__conv_builder_init(&g->conv);
    int rc = 0, n = PQntuples(res);
    for (int i = 0; i < n && rc == 0; i++)
        rc = sl__conv_add(&g->conv, us_at(res, i, 0), PQgetvalue(res, i, 1),
                          (size_t)PQgetlength(res, i, 1), us_at(res, i, 2));
    if (rc != 0 || n == 0) {
        if (rc == 0)
            rc = sl__conv_finish(&g->conv, g->call->out);
        else
            sl__conv_builder_release(&g->conv);
        call_finish(g, rc);
        return;
    }
    /* the page is every id in [first, last]: one range finds the messages */
    const char *params[2] = {i64(g, 0, g->conv.convs[0].id), i64(g, 1, g->conv.convs[n - 1].id)};
    sl_pg_conn_query(c,
                     "SELECT conversation_id, seq, role, content,"
                     " (extract(epoch FROM created_at) * 1e6)::bigint FROM messages"
                     " WHERE conversation_id BETWEEN $1 AND $2 ORDER BY conversation_id, seq"
                     " LIMIT " SL__CONV_LIMIT_TEXT, /* one past the bound: "too large" */
                     2, params, on_messages, g);
}

static void on_migration(struct sl_pg_migration *m, int status)
{
    struct pgs *g = m->data;
    struct sl__call *c = g->call;
    if (status != 0) {
        snprintf(c->err, sizeof(c->err), "%s", m->err);
        call_finish(g, status);
        return;
    }
    *(int *)c->out = c->kind == SL__CALL_VERSION ? m->version : m->applied;
    call_finish(g, 0);
}

static void on_call_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct pgs *g = w->data;
    struct sl__call *c = g->call;
    if (status != 0) {
        snprintf(c->err, sizeof(c->err), "cannot reach %s: %s", g->s->path,
                 sl_pg_pool_error(g->pool));
        call_finish(g, w->connect_failed ? UV_ECONNREFUSED : UV_ETIMEDOUT);
        return;
    }
    g->call_conn = conn;
    g->call_step = 2;
    g->mig.data = g;
    const char *p[4];
    switch (c->kind) {
    case SL__CALL_BARRIER:
        call_finish(g, 0);
        break;
    case SL__CALL_BEGIN_RUN: {
        const struct sl_run_info *info = c->in;
        p[0] = info->command;
        p[1] = i64(g, 1, (int64_t)info->requests);
        p[2] = i64(g, 2, info->concurrency);
        p[3] = info->params_json ? info->params_json : "{}";
        sl_pg_conn_query(conn,
                         "INSERT INTO runs (command, started_at, requests, concurrency, params)"
                         " VALUES ($1, now(), $2, $3, $4) RETURNING id",
                         4, p, on_begun, g);
        break;
    }
    case SL__CALL_END_RUN:
        p[0] = c->in;
        p[1] = i64(g, 1, c->value);
        p[2] = i64(g, 2, g->s->run_id);
        sl_pg_conn_query(conn,
                         "UPDATE runs SET finished_at = now(), status = $1, max_in_flight = $2"
                         " WHERE id = $3",
                         3, p, on_ended, g);
        break;
    case SL__CALL_STATS:
        memset(c->out, 0, sizeof(struct sl_stats));
        p[0] = i64(g, 0, c->id);
        sl_pg_conn_query(conn,
                         "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status"
                         " FROM runs WHERE id = CASE WHEN $1::bigint > 0 THEN $1::bigint"
                         " ELSE (SELECT max(id) FROM runs) END",
                         1, p, on_stats_run, g);
        break;
    case SL__CALL_VERSION:
        sl_pg_version_read(&g->mig, conn, g->s->path, on_migration);
        break;
    case SL__CALL_MIGRATE:
        sl_pg_migrate_to(&g->mig, conn, g->s->path, c->value, on_migration);
        break;
    case SL__CALL_CONVERSATIONS:
        p[0] = i64(g, 0, c->id);
        p[1] = i64(g, 1, c->value);
        sl_pg_conn_query(conn,
                         "SELECT id, title, (extract(epoch FROM created_at) * 1e6)::bigint"
                         " FROM conversations WHERE id > $1 ORDER BY id LIMIT $2",
                         2, p, on_conversations, g);
        break;
    }
}

static void on_call_timeout(uv_timer_t *t)
{
    struct pgs *g = t->data;
    if (g->call == NULL || g->call_step != 0 || g->up)
        return; /* running, or the database is back and the call waits for the replay */
    snprintf(g->call->err, sizeof(g->call->err), "cannot reach %s (%s); waited %u ms", g->s->path,
             g->down_reason, g->s->opts.pool_wait_ms);
    call_finish(g, UV_ECONNREFUSED);
}

/* Runs the call once the database is up and the spool replayed. */
static void run_call(struct pgs *g)
{
    if (g->call_step != 0)
        return;
    if (!g->up || g->replaying || replay_needed(g) || g->spilling) {
        if (g->up && !g->replaying && replay_needed(g))
            replay_pump(g);
        return; /* pump() calls again; the timer bounds the wait */
    }
    g->call_step = 1;
    g->cw.data = g;
    sl_pg_pool_acquire(g->pool, &g->cw, on_call_conn);
}

static void pg_call(struct sl_store *s, struct sl__call *c)
{
    struct pgs *g = s->impl;
    g->call = c;
    g->call_step = 0;
    if (!g->up)
        uv_timer_start(&g->call_timer, on_call_timeout, s->opts.pool_wait_ms, 0);
    pump(g);
}

/* ---- open ----------------------------------------------------------------- */

static void open_done(struct pgs *g, int status, const char *err)
{
    g->opening = 0;
    g->up = status == 0;
    sl__store_opened(g->s, status, err);
    if (status == 0) {
        replay_pump(g);
        pump(g);
    }
}

static void on_open_migrated(struct sl_pg_migration *m, int status)
{
    struct pgs *g = m->data;
    sl_pg_pool_release(g->pool, m->conn, status != 0);
    open_done(g, status, m->err);
}

static void on_open_version(struct sl_pg_migration *m, int status)
{
    struct pgs *g = m->data;
    const struct sl_store_options *o = &g->s->opts;
    char err[600];
    int latest = sl_migrations_latest();
    if (status != 0 || o->any_schema) {
        sl_pg_pool_release(g->pool, m->conn, status != 0);
        open_done(g, status, m->err);
        return;
    }
    if (m->version > latest) {
        snprintf(err, sizeof(err),
                 "database %s has schema version %d, newer than this sluice knows (%d); "
                 "upgrade sluice",
                 g->s->path, m->version, latest);
        sl_pg_pool_release(g->pool, m->conn, 0);
        open_done(g, UV_EIO, err);
        return;
    }
    if (m->version < latest && !o->migrate) {
        if (m->version == 0)
            snprintf(err, sizeof(err),
                     "database %s has no sluice tables yet (schema version 0); run a simulate "
                     "on it, or: sluice migrate up --db URL",
                     g->s->path);
        else
            snprintf(err, sizeof(err),
                     "database %s has schema version %d, older than this sluice needs (%d); "
                     "run: sluice migrate up --db URL",
                     g->s->path, m->version, latest);
        sl_pg_pool_release(g->pool, m->conn, 0);
        open_done(g, UV_EIO, err);
        return;
    }
    if (m->version < latest) {
        sl_pg_migrate_to(m, m->conn, g->s->path, latest, on_open_migrated);
        return;
    }
    sl_pg_pool_release(g->pool, m->conn, 0);
    open_done(g, 0, NULL);
}

static void on_open_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct pgs *g = w->data;
    if (status != 0) {
        char err[700];
        snprintf(err, sizeof(err), "cannot connect to %s: %s", g->s->path,
                 sl_pg_pool_error(g->pool));
        open_done(g, status, err);
        return;
    }
    g->mig.data = g;
    sl_pg_version_read(&g->mig, conn, g->s->path, on_open_version);
}

static void on_spool_started(struct sl_spool *sp, int status, void *arg)
{
    struct pgs *g = arg;
    if (status != 0) {
        char err[700];
        snprintf(err, sizeof(err), "cannot use the spool %s: %s", sp->path, sl_spool_error(sp));
        open_done(g, status, err);
        return;
    }
    if (sp->size > 0)
        log_line(g,
                 "store: found the spool %s (%" PRIu64 " bytes) of an earlier run; it will "
                 "be replayed into %s",
                 sp->path, sp->size, g->s->path);
    g->cw.data = g;
    sl_pg_pool_acquire(g->pool, &g->cw, on_open_conn);
}

static uint64_t fnv64(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void oom(void)
{
    fprintf(stderr, "sluice: out of memory\n");
    abort();
}

static void *xmalloc(size_t size)
{
    void *p = calloc(1, size);
    if (p == NULL)
        oom();
    return p;
}

static int pg_open(struct sl_store *s, const char *url, char *err, size_t err_size)
{
    (void)err;
    (void)err_size;
    struct pgs *g = xmalloc(sizeof(*g));
    s->impl = g;
    g->s = s;
    g->opening = 1;
    g->q_tail = &g->q_head;
    if (sl_pg_params_init(&g->params, url, s->opts.connect_timeout_ms) != 0)
        oom();
    struct sl_pg_pool_options po = {s->opts.pool_size, s->opts.max_overflow, s->opts.pool_wait_ms};
    g->pool = sl_pg_pool_new(s->loop, &g->params, &po, &s->queries);
    if (g->pool == NULL)
        oom();
    g->n_writers = s->opts.pool_size;
    g->writers = xmalloc(g->n_writers * sizeof(*g->writers));
    g->spill_buf = xmalloc(sl_pg_rows_max_size(s->opts.batch_rows));
    for (unsigned i = 0; i < g->n_writers; i++) {
        struct writer *wr = &g->writers[i];
        wr->g = g;
        wr->done = on_batch_written;
        wr->cap = sl_pg_rows_max_size(s->opts.batch_rows);
        wr->buf = xmalloc(wr->cap);
    }
    g->replay.g = g;
    g->replay.done = on_frame_written;

    char spool_path[4096];
    if (s->opts.spool_path)
        snprintf(spool_path, sizeof(spool_path), "%s", s->opts.spool_path);
    else /* one spool per database; the masked URL names it without its secret */
        snprintf(spool_path, sizeof(spool_path), "sluice-spool-%016" PRIx64 ".bin", fnv64(s->path));
    sl_spool_init(&g->spool, s->loop, spool_path);
    if (s->opts.spool)
        snprintf(s->spool_path, sizeof(s->spool_path), "%s", spool_path);

    sl_retry_policy_default(&g->policy);
    g->policy.max_attempts = 0;
    g->policy.max_delay_ms = 0;
    g->policy.wait = SL_WAIT_FULL_JITTER;
    g->policy.multiplier_ms = 100;
    g->policy.max_ms = RECONNECT_CAP_MS;
    g->policy.retry_on = SL_ERR_BIT(SL_E_CONN_REFUSED);
    sl_rng_seed(&g->rng, uv_hrtime(), (uint64_t)(uintptr_t)g);
    sl_retrier_init(s->loop, &g->retrier);
    g->retrier.data = g;
    uv_timer_init(s->loop, &g->call_timer);
    g->call_timer.data = g;

    if (s->opts.spool) {
        sl_spool_start(&g->spool, on_spool_started, g);
    } else {
        g->cw.data = g;
        sl_pg_pool_acquire(g->pool, &g->cw, on_open_conn);
    }
    return 0;
}

/* ---- store.c's entry points ---------------------------------------------- */

static void pg_write(struct sl_store *s, struct sl__batch *b)
{
    struct pgs *g = s->impl;
    q_push_back(g, b);
    pump(g);
}

static void pg_drain(struct sl_store *s)
{
    pump(s->impl);
}

static void free_pgs(struct pgs *g)
{
    struct sl_store *s = g->s;
    for (unsigned i = 0; g->writers && i < g->n_writers; i++)
        free(g->writers[i].buf);
    free(g->writers);
    free(g->spill_buf);
    sl_pg_params_release(&g->params);
    free(g);
    s->impl = NULL;
    sl__store_backend_closed(s);
}

static void part_closed(struct pgs *g)
{
    if (--g->close_parts == 0)
        free_pgs(g);
}

static void on_handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void on_retrier_closed(uv_handle_t *h)
{
    struct sl_retrier *r = h->data; /* the retrier's timer points at it */
    part_closed(r->data);
}

static void on_pool_closed(void *arg)
{
    part_closed(arg);
}

static void on_spool_closed(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    (void)status;
    part_closed(arg);
}

/* Once nothing runs any more: close the retrier, the pool and the spool. */
static void maybe_finish_close(struct pgs *g)
{
    if (g->closing != 1 || g->spilling || g->replaying || g->reconnecting || g->q_head)
        return;
    if (g->up && replay_needed(g)) {
        replay_pump(g);
        return;
    }
    for (unsigned i = 0; i < g->n_writers; i++)
        if (g->writers[i].busy)
            return;
    g->closing = 2;
    if (g->s->rows_spooled > 0)
        log_line(g,
                 "store: %s is unreachable; %" PRIu64 " row(s) are kept in the spool %s and "
                 "will be replayed by the next run",
                 g->s->path, g->s->rows_spooled, g->spool.path);
    g->close_parts = 4;
    sl_retrier_close(&g->retrier, on_retrier_closed);
    uv_close((uv_handle_t *)&g->call_timer, on_handle_closed);
    sl_pg_pool_close(g->pool, on_pool_closed, g);
    sl_spool_close(&g->spool, on_spool_closed, g);
}

static void pg_close(struct sl_store *s)
{
    struct pgs *g = s->impl;
    if (g == NULL) { /* the URL was refused before anything started */
        sl__store_backend_closed(s);
        return;
    }
    g->closing = 1;
    /* Stop reconnecting: a sleeping retrier ends now; a probe waiting for
     * a connection is withdrawn; a probe's check in flight ends on its own
     * (its callback sees closing). */
    if (g->reconnecting && sl_retrier_cancel(&g->retrier) != 0 && g->probe_conn == NULL) {
        sl_pg_pool_cancel(g->pool, &g->probe);
        sl_retrier_report(&g->retrier, SL_E_CANCELLED, -1);
    }
    maybe_finish_close(g);
}

const struct sl__store_backend sl__pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .write = pg_write,
    .call = pg_call,
    .close = pg_close,
    .drain = pg_drain,
};
