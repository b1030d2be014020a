/* PostgreSQL backend: batches as binary COPY over a pool, on the loop, with
 * a spool file for outages.
 *
 * Design
 *  - Writers: pool_size writers, each with its own encode buffer, take
 *    batches from the backend's FIFO. A batch is encoded once into a binary
 *    COPY stream and written idempotently (pg_write.h).
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
 *  - Open: the first connect is tried at most OPEN_ATTEMPTS times, with
 *    exponential backoff, by the same retrier; then the open fails with
 *    the last reason (one line).
 *  - Calls (begin/end run, analytics, migrations, chat history) run one at
 *    a time (store.c sends a call only when no batch is in the backend) on
 *    a pooled connection, after the spool has been replayed; while the
 *    database is down a call waits for it at most pool_wait_ms. This file
 *    decides when a call runs and what its failure means; pg_calls.c runs
 *    its SQL. Every statement has a client-side bound: writes
 *    write_timeout_ms, calls and checks their own (pg_calls.h, connect_timeout_ms).
 *  - Schema: every connection's search_path is the URL's schema (default
 *    sluice; pg_conn.h), so no statement names a schema and two schemas
 *    of one database are two independent stores.
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

#include "core/rng.h"
#include "retry/retrier.h"
#include "store/migrate.h"
#include "store/pg_calls.h"
#include "store/pg_pool.h"
#include "store/pg_rows.h"
#include "store/pg_url.h"
#include "store/pg_write.h"
#include "store/spool.h"

#define RECONNECT_CAP_MS 2000
/* Opening: a refused connect (the server may be starting) is tried again
 * after 250 ms, then 500 ms; a third refusal, a timeout or an unknown host
 * ends the open. Each attempt is bounded by connect_timeout_ms. */
#define OPEN_ATTEMPTS   3
#define OPEN_BACKOFF_MS 250

/* A writer of batches, or the replay of spool frames. */
struct writer {
    struct sl_pg_write io;
    struct pgs *g;
    struct sl__batch *batch; /* NULL: a spool frame */
    char *buf;               /* the batch's encoding */
};

struct pgs {
    struct sl_store *s;
    struct sl_pg_params params;
    struct sl_pg_pool *pool;
    struct sl_spool spool;
    int up, opening, closing, close_parts;

    /* opening: the first connect, tried a few times (the retrier) */
    struct sl_retry_policy open_policy;
    struct sl_pg_conn *open_conn;
    int open_status;

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
    struct sl_pg_waiter cw; /* also the open's connect */
    struct sl_pg_conn *call_conn;
    uv_timer_t call_timer;
    int call_step; /* 0 waiting for the database, 1 for a connection, 2 running */
    struct sl__pg_call_run run;
    struct sl_pg_migration open_mig;
};

static void pump(struct pgs *g);
static void replay_pump(struct pgs *g);
static void go_down(struct pgs *g, const char *reason);
static void run_call(struct pgs *g);
static void on_call_timeout(uv_timer_t *t);
static void maybe_finish_close(struct pgs *g);

static void pg_log(struct pgs *g, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sl_pg_mask_secret(line, sizeof(line), g->params.password);
    sl__store_log(g->s, "%s", line);
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

static void on_batch_written(struct sl_pg_write *io, int status)
{
    struct writer *wr = io->arg;
    struct pgs *g = wr->g;
    struct sl__batch *b = wr->batch;
    wr->batch = NULL;
    if (status == 0) {
        sl__store_written(g->s, b, 0, NULL);
    } else if (status == UV_EIO) {
        char msg[700];
        snprintf(msg, sizeof(msg), "cannot write %u rows to %s: %s", b->n, g->s->path, io->err);
        sl__store_written(g->s, b, UV_EIO, msg);
    } else {
        /* the database is away (or every connection busy too long): keep
         * the batch, first in line */
        q_push_front(g, b);
        if (status != UV_ETIMEDOUT)
            go_down(g, io->err);
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
            if (wr->io.busy)
                continue;
            wr->batch = q_pop(g);
            wr->io.len =
                sl_pg_rows_encode(wr->buf, wr->batch->run_id ? wr->batch->run_id : g->s->run_id,
                                  wr->batch->rows, wr->batch->n);
            wr->io.data = wr->buf;
            wr->io.rows = wr->batch->n;
            sl_pg_write_start(&wr->io);
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
        size_t len =
            sl_pg_rows_encode(g->spill_buf, b->run_id ? b->run_id : g->s->run_id, b->rows, b->n);
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
        pg_log(g, "store: cannot remove the spool %s: %s", g->spool.path,
               sl_spool_error(&g->spool));
        g->replay.io.error_status = status; /* its rows are in: do not replay it again now */
    }
    g->s->rows_spooled = 0;
    if (g->replayed_rows)
        pg_log(g, "store: replayed %" PRIu64 " rows from the spool %s into %s", g->replayed_rows,
               g->spool.path, g->s->path);
    g->replayed_rows = 0;
    pump(g);
}

static void on_frame_written(struct sl_pg_write *io, int status)
{
    struct pgs *g = ((struct writer *)io->arg)->g;
    if (status == 0) {
        sl_spool_consumed(&g->spool);
        g->s->rows_written += io->rows;
        g->s->rows_spooled -= io->rows < g->s->rows_spooled ? io->rows : g->s->rows_spooled;
        g->replayed_rows += io->rows;
        g->replaying = 0;
        replay_pump(g);
        return;
    }
    sl_spool_rewind(&g->spool);
    g->replaying = 0;
    if (status == UV_EIO) {
        /* the server refuses these rows: they stay in the spool */
        pg_log(g, "store: cannot replay the spool %s into %s: %s; it is kept", g->spool.path,
               g->s->path, io->err);
        g->replay.io.error_status = UV_EIO;
    } else if (status != UV_ETIMEDOUT) {
        go_down(g, io->err);
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
            pg_log(g, "store: cannot read the spool %s: %s; it is kept", g->spool.path,
                   sl_spool_error(&g->spool));
            g->replay.io.error_status = status;
        }
        pump(g);
        return;
    }
    struct sl_pg_write *io = &g->replay.io;
    io->data = payload; /* valid until the next spool read: ours */
    io->len = len;
    io->rows = rows;
    sl_pg_write_start(io);
}

/* A spool file exists (unless its replay failed: then it is kept). */
static int replay_needed(const struct pgs *g)
{
    return g->replay.io.error_status == 0 && g->spool.size > 0;
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
        sl_pg_conn_set_op_timeout(conn, g->params.connect_timeout_ms);
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
    pg_log(g, "store: cannot reach %s (%s); next try in %.0f ms (attempt %u)", g->s->path,
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
    g->replay.io.error_status = 0;
    pg_log(g, "store: %s is back after %u attempt(s); writing %u queued batch(es)%s", g->s->path,
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
    pg_log(g, "store: lost %s (%s); keeping rows in memory, then in the spool %s", g->s->path,
           reason, g->spool.path);
    if (g->call && g->call_step == 0 && !uv_is_active((uv_handle_t *)&g->call_timer))
        uv_timer_start(&g->call_timer, on_call_timeout, g->s->opts.pool_wait_ms, 0);
    if (g->closing)
        return;
    g->reconnecting = 1;
    sl_retrier_run(&g->retrier, &g->policy, &g->rng, reconnect_attempt, reconnect_sleep,
                   reconnect_done);
}

/* ---- calls: when one runs (its SQL is pg_calls.c's) ----------------------- */

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

static void on_call_ran(struct sl__pg_call_run *r, int status)
{
    call_finish(r->data, status);
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
    sl__pg_call_exec(&g->run, conn, c);
}

/* The call timer: a call waiting for the database gives up. */
static void on_call_timeout(uv_timer_t *t)
{
    struct pgs *g = t->data;
    if (g->call == NULL || g->call_step != 0 || g->up)
        return; /* running, or the database is back and the call waits for the replay */
    snprintf(g->call->err, sizeof(g->call->err), "cannot reach %s (%s); waited %u ms", g->s->path,
             g->down_reason, g->s->opts.pool_wait_ms);
    call_finish(g, UV_ECONNREFUSED);
}

/* Runs the waiting call once the database is up and the spool replayed. */
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
    if (status != 0 || o->any_schema) {
        sl_pg_pool_release(g->pool, m->conn, status != 0);
        open_done(g, status, m->err);
        return;
    }
    const char *legacy = m->version == 0 && m->public_tables
                             ? "; the tables of an earlier sluice are in schema public: add "
                               "?schema=public to the URL to keep using them"
                             : "";
    switch (sl_migrate_open_verdict(m->version, o->migrate, g->s->path, "URL", legacy, err,
                                    sizeof(err))) {
    case SL_SCHEMA_REFUSE:
        sl_pg_pool_release(g->pool, m->conn, 0);
        open_done(g, UV_EIO, err);
        return;
    case SL_SCHEMA_MIGRATE:
        if (*legacy)
            pg_log(g, "store: creating sluice's tables in schema %s of %s%s", g->params.schema,
                   g->s->path, legacy);
        sl_pg_migrate_to(m, m->conn, g->s->path, sl_migrations_latest(), on_open_migrated);
        return;
    case SL_SCHEMA_CURRENT:
        break;
    }
    sl_pg_pool_release(g->pool, m->conn, 0);
    open_done(g, 0, NULL);
}

static void on_open_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct pgs *g = w->data;
    if (status != 0) {
        snprintf(g->down_reason, sizeof(g->down_reason), "%s", sl_pg_pool_error(g->pool));
        g->open_status = status;
        /* a refusal may pass (a server starting up); a timeout already
         * waited its whole budget, and an unknown name stays unknown */
        sl_retrier_report(
            &g->retrier,
            status == UV_ECONNREFUSED && w->connect_failed ? SL_E_CONN_REFUSED : SL_E_TIMEOUT, -1);
        return;
    }
    g->open_conn = conn;
    sl_retrier_report(&g->retrier, SL_OK, -1);
}

static void open_attempt(struct sl_retrier *r)
{
    struct pgs *g = r->data;
    g->cw.data = g;
    sl_pg_pool_acquire(g->pool, &g->cw, on_open_conn);
}

static void open_attempts_done(struct sl_retrier *r)
{
    struct pgs *g = r->data;
    if (r->outcome.last_error != SL_OK) {
        char err[700];
        if (r->outcome.attempts > 1)
            snprintf(err, sizeof(err), "cannot connect to %s (%u attempts): %s", g->s->path,
                     r->outcome.attempts, g->down_reason);
        else
            snprintf(err, sizeof(err), "cannot connect to %s: %s", g->s->path, g->down_reason);
        open_done(g, g->open_status ? g->open_status : UV_ECONNREFUSED, err);
        return;
    }
    struct sl_pg_conn *conn = g->open_conn;
    g->open_conn = NULL;
    /* reading the version and migrating: bounded like any call */
    sl_pg_conn_set_op_timeout(conn, SL__PG_MIGRATE_TIMEOUT_MS);
    g->open_mig.data = g;
    sl_pg_version_read(&g->open_mig, conn, g->s->path, on_open_version);
}

static void open_start(struct pgs *g)
{
    sl_retry_policy_default(&g->open_policy);
    g->open_policy.max_attempts = OPEN_ATTEMPTS;
    g->open_policy.wait = SL_WAIT_EXPONENTIAL;
    g->open_policy.multiplier_ms = OPEN_BACKOFF_MS;
    g->open_policy.max_ms = RECONNECT_CAP_MS;
    g->open_policy.retry_on = SL_ERR_BIT(SL_E_CONN_REFUSED);
    sl_retrier_run(&g->retrier, &g->open_policy, &g->rng, open_attempt, NULL, open_attempts_done);
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
        pg_log(g,
               "store: found the spool %s (%" PRIu64 " bytes) of an earlier run; it will "
               "be replayed into %s",
               sp->path, sp->size, g->s->path);
    open_start(g);
}

static void writer_init(struct pgs *g, struct writer *wr,
                        void (*done)(struct sl_pg_write *io, int status))
{
    wr->g = g;
    wr->io = (struct sl_pg_write){
        .pool = g->pool, .timeout_ms = g->s->opts.write_timeout_ms, .done = done, .arg = wr};
}

static int pg_open(struct sl_store *s, const char *url, char *err, size_t err_size)
{
    (void)err;
    (void)err_size;
    struct pgs *g = sl__xcalloc(1, sizeof(*g));
    s->impl = g;
    g->s = s;
    g->opening = 1;
    g->q_tail = &g->q_head;
    if (sl_pg_params_init(&g->params, url, s->opts.connect_timeout_ms) != 0)
        sl__oom();
    struct sl_pg_pool_options po = {s->opts.pool_size, s->opts.max_overflow, s->opts.pool_wait_ms};
    g->pool = sl_pg_pool_new(s->loop, &g->params, &po, &s->queries);
    if (g->pool == NULL)
        sl__oom();
    g->n_writers = s->opts.pool_size;
    g->writers = sl__xcalloc(1, g->n_writers * sizeof(*g->writers));
    g->spill_buf = sl__xcalloc(1, sl_pg_rows_max_size(s->opts.batch_rows));
    for (unsigned i = 0; i < g->n_writers; i++) {
        writer_init(g, &g->writers[i], on_batch_written);
        g->writers[i].buf = sl__xcalloc(1, sl_pg_rows_max_size(s->opts.batch_rows));
    }
    writer_init(g, &g->replay, on_frame_written);

    char spool_path[4096];
    if (s->opts.spool_path)
        snprintf(spool_path, sizeof(spool_path), "%s", s->opts.spool_path);
    else /* one spool per database; the masked URL names it without its secret */
        snprintf(spool_path, sizeof(spool_path), "sluice-spool-%016" PRIx64 ".bin",
                 sl__path_hash(s->path));
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
    g->run.s = s;
    g->run.done = on_call_ran;
    g->run.data = g;

    if (s->opts.spool)
        sl_spool_start(&g->spool, on_spool_started, g);
    else
        open_start(g);
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
        if (g->writers[i].io.busy)
            return;
    g->closing = 2;
    if (g->s->rows_spooled > 0)
        pg_log(g,
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
