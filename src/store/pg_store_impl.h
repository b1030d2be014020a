/* The inside of the PostgreSQL backend, shared by pg_store.c (writes,
 * spool, reconnects, open and close) and pg_calls.c (the calls: run rows,
 * analytics, migrations, chat history). Everything here runs on the loop
 * thread; see pg_store.c for the design. */
#ifndef SL_PG_STORE_IMPL_H
#define SL_PG_STORE_IMPL_H

#include "core/rng.h"
#include "retry/retrier.h"
#include "store/conv_page.h"
#include "store/pg_conn.h"
#include "store/pg_migrate.h"
#include "store/pg_pool.h"
#include "store/spool.h"
#include "store/store_impl.h"

struct pgs;

/* Client-side bounds of the statements other than batch writes (those
 * have write_timeout_ms): a server that stops answering fails the call
 * instead of hanging it. Migrations may build an index on a large table,
 * or wait for another instance's migration: a generous bound. */
#define SL__PG_CALL_TIMEOUT_MS    120000u
#define SL__PG_MIGRATE_TIMEOUT_MS 600000u

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
    struct sl_pg_waiter cw;
    struct sl_pg_conn *call_conn;
    uv_timer_t call_timer;
    int call_step;
    struct sl_pg_migration mig;
    struct sl__conv_builder conv;
    char call_param_buf[4][32];
};

/* pg_store.c */
void sl__pg_pump(struct pgs *g);
void sl__pg_replay_pump(struct pgs *g);
int sl__pg_replay_needed(const struct pgs *g);
void sl__pg_go_down(struct pgs *g, const char *reason);
void sl__pg_log(struct pgs *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pg_calls.c */
void sl__pg_call(struct sl_store *s, struct sl__call *c);
/* Runs the waiting call once the database is up and the spool replayed. */
void sl__pg_run_call(struct pgs *g);
/* The call timer: a call waiting for the database gives up. */
void sl__pg_call_timeout(uv_timer_t *t);

#endif
