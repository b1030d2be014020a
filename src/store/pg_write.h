/* One idempotent write of a binary COPY stream of request rows (a batch,
 * or a spool frame) on a pooled connection.
 *
 * The stream goes with COPY requests FROM STDIN: one round trip, atomic.
 * If the server refuses it because some of its rows are already there
 * (unique_violation: a replay, or a retry after a lost acknowledgement),
 * the same stream goes into a per-session temporary table and from there
 * with INSERT ... ON CONFLICT DO NOTHING, in one transaction: a stream
 * written twice is written once. A write without an answer for timeout_ms
 * drops its connection (UV_ECONNRESET): the caller keeps the rows.
 *
 * Ownership: the caller owns the struct and the bytes until done runs;
 * the write owns the connection it acquired and releases it before done. */
#ifndef SL_PG_WRITE_H
#define SL_PG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "store/pg_pool.h"

struct sl_pg_write {
    /* set by the caller */
    struct sl_pg_pool *pool;
    unsigned timeout_ms;
    const char *data;
    size_t len;
    uint32_t rows;
    void (*done)(struct sl_pg_write *w, int status);
    void *arg;

    /* set by the write */
    int busy;
    /* The status of the last failed staging; it stays until the caller
     * clears it (the spool replay reads it as "do not replay now"). */
    int error_status;
    char err[512]; /* why, when done gets a status */

    struct sl_pg_waiter waiter;
    struct sl_pg_conn *conn;
};

/* done runs once: 0, UV_EIO (the server refused the rows), UV_ETIMEDOUT
 * (every connection stayed busy), or a lost or refused connection. */
void sl_pg_write_start(struct sl_pg_write *w);

#endif
