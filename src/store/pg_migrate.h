/* The PostgreSQL migration runner: asynchronous, on one pooled connection.
 *
 * Each step is its own transaction: BEGIN, pg_advisory_xact_lock of the
 * schema (so concurrent instances migrating it take turns), create the
 * schema (the connection's search_path) and schema_version if missing, read
 * the version, apply one up or down step with its version row, COMMIT.
 * The version is re-read in every step, so an instance that waited on the
 * lock finds the work done instead of failing on it. A database newer than
 * this binary is refused. Reading the version changes nothing. */
#ifndef SL_PG_MIGRATE_H
#define SL_PG_MIGRATE_H

#include "store/pg_conn.h"

struct sl_pg_migration;
typedef void (*sl_pg_migration_cb)(struct sl_pg_migration *m, int status);

struct sl_pg_migration {
    struct sl_pg_conn *conn;
    const char *db_name; /* masked, for messages */
    int target;          /* wanted version */
    int version;         /* the version read (before any step) */
    int current;         /* as the steps go */
    int applied;
    int step_version, step_up;
    int public_tables; /* version read: an earlier sluice's tables are in public */
    sl_pg_migration_cb cb;
    void *data;
    char err[512];
};

/* Reads the version into m->version; cb(m, 0 or UV_EIO/UV_ECONNRESET). */
void sl_pg_version_read(struct sl_pg_migration *m, struct sl_pg_conn *conn, const char *db_name,
                        sl_pg_migration_cb cb);
/* Moves the schema to target; m->applied counts the steps. */
void sl_pg_migrate_to(struct sl_pg_migration *m, struct sl_pg_conn *conn, const char *db_name,
                      int target, sl_pg_migration_cb cb);

#endif
