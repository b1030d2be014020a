/* The SQL of the PostgreSQL backend's calls: begin and end of a run,
 * analytics, migrations, chat history.
 *
 * One entry point runs the statements of one call on a connection it is
 * given and reports once. It decides nothing about when a call runs or
 * what a failure means for the backend: pg_store.c acquires the
 * connection, bounds the wait for the database, releases the connection
 * and marks the database down. Everything runs on the loop thread. */
#ifndef SL_PG_CALLS_H
#define SL_PG_CALLS_H

#include "store/conv_page.h"
#include "store/pg_conn.h"
#include "store/pg_migrate.h"
#include "store/store_impl.h"

/* Client-side bounds of the statements other than batch writes (those
 * have write_timeout_ms): a server that stops answering fails the call
 * instead of hanging it. Migrations may build an index on a large table,
 * or wait for another instance's migration: a generous bound. */
#define SL__PG_CALL_TIMEOUT_MS    120000u
#define SL__PG_MIGRATE_TIMEOUT_MS 600000u

struct sl__pg_call_run {
    /* set by the caller */
    struct sl_store *s; /* its path names the database in errors; run_id */
    /* status 0, or the failure with the call's err set; the connection
     * is still the caller's (status != 0: an operation on it failed) */
    void (*done)(struct sl__pg_call_run *r, int status);
    void *data;

    /* the call's own state */
    struct sl__call *call;
    struct sl_pg_conn *conn;
    struct sl_pg_migration mig;
    struct sl__conv_builder conv;
    char param_buf[4][32];
};

/* Runs c on conn (sets the statements' timeout); done runs once, maybe
 * before this returns. BEGIN_RUN sets s->run_id; END_RUN reads it. */
void sl__pg_call_exec(struct sl__pg_call_run *r, struct sl_pg_conn *conn, struct sl__call *c);

#endif
