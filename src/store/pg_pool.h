/* A pool of PostgreSQL connections, with SQLAlchemy's knobs.
 *
 * Design
 *  - pool_size connections are kept open once made; under load up to
 *    max_overflow more are opened and closed again when they come back
 *    idle. A caller that finds none free waits in a FIFO, at most wait_ms;
 *    then its callback gets UV_ETIMEDOUT.
 *  - Health: a connection that is returned with had_error is checked with
 *    an empty query before it is handed out again (pre-ping); one that
 *    fails the check, or that lost its server, is closed and replaced by a
 *    new one, never reused.
 *  - A failed connect fails the waiter that caused it; when nothing else
 *    could serve the other waiters (no connection busy or connecting),
 *    they fail too, at once, with the same reason: an unreachable database
 *    answers quickly instead of at the wait timeout.
 *
 * Ownership: the pool owns idle, connecting and checking connections; a
 * caller owns an acquired one until it releases it. Waiters are the
 * caller's memory (intrusive). sl_pg_pool_close() fails the waiters,
 * closes every connection (busy ones when released) and frees the pool
 * after the last handle closed. */
#ifndef SL_PG_POOL_H
#define SL_PG_POOL_H

#include <stdint.h>
#include <uv.h>

#include "core/list.h"
#include "store/pg_conn.h"

struct sl_pg_pool_options {
    unsigned size, max_overflow, wait_ms;
};

struct sl_pg_waiter;
/* conn is NULL unless status is 0. */
typedef void (*sl_pg_acquire_cb)(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status);

struct sl_pg_waiter {
    struct sl_list node;
    sl_pg_acquire_cb cb;
    uint64_t deadline_ms; /* uv_now() based */
    int connect_failed;   /* set with a failure: a connect failed (else: the wait timed out) */
    void *data;
};

struct sl_pg_pool_stats {
    unsigned idle, busy, connecting, checking;
    uint64_t opened, replaced, timeouts, waited;
};

struct sl_pg_pool;

/* params and queries (may be NULL) must outlive the pool. */
struct sl_pg_pool *sl_pg_pool_new(uv_loop_t *loop, const struct sl_pg_params *params,
                                  const struct sl_pg_pool_options *opts, uint64_t *queries);

/* cb runs once: with a connection, UV_ETIMEDOUT, UV_ECANCELED (pool
 * closing), or a connect error (sl_pg_pool_error says why). It may run
 * before this returns. */
void sl_pg_pool_acquire(struct sl_pg_pool *pool, struct sl_pg_waiter *w, sl_pg_acquire_cb cb);
/* Removes a waiter that is still queued; its callback will not run. */
void sl_pg_pool_cancel(struct sl_pg_pool *pool, struct sl_pg_waiter *w);
/* Gives a connection back. had_error: an operation on it failed. */
void sl_pg_pool_release(struct sl_pg_pool *pool, struct sl_pg_conn *conn, int had_error);

/* The last connect (or wait) failure, one line, password masked. */
const char *sl_pg_pool_error(const struct sl_pg_pool *pool);
void sl_pg_pool_stats(const struct sl_pg_pool *pool, struct sl_pg_pool_stats *out);

void sl_pg_pool_close(struct sl_pg_pool *pool, void (*cb)(void *arg), void *arg);

#endif
