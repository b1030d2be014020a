#include "store/pg_migrate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrate.h"

static void finish(struct sl_pg_migration *m, int status)
{
    m->cb(m, status);
}

static void on_version_value(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl_pg_migration *m = arg;
    if (status == 0 && res && PQntuples(res) == 1)
        m->version = m->current = atoi(PQgetvalue(res, 0, 0));
    else if (status == 0)
        status = UV_EIO;
    if (status != 0)
        snprintf(m->err, sizeof(m->err), "cannot read the schema version of %s: %s", m->db_name,
                 sl_pg_conn_error(c));
    finish(m, status);
}

static void on_version_table(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl_pg_migration *m = arg;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        snprintf(m->err, sizeof(m->err), "cannot read the schema version of %s: %s", m->db_name,
                 sl_pg_conn_error(c));
        finish(m, status ? status : UV_EIO);
        return;
    }
    m->public_tables =
        strcmp(PQgetvalue(res, 0, 1), "t") == 0 && strcmp(m->conn->params->schema, "public") != 0;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        m->version = m->current = 0; /* an empty database */
        finish(m, 0);
        return;
    }
    sl_pg_conn_query(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL,
                     on_version_value, m);
}

void sl_pg_version_read(struct sl_pg_migration *m, struct sl_pg_conn *conn, const char *db_name,
                        sl_pg_migration_cb cb)
{
    m->conn = conn;
    m->db_name = db_name;
    m->cb = cb;
    m->err[0] = '\0';
    m->public_tables = 0;
    /* sluice kept its tables in public before it had a schema of its own */
    sl_pg_conn_query(conn,
                     "SELECT to_regclass('schema_version') IS NOT NULL,"
                     " to_regclass('public.schema_version') IS NOT NULL",
                     0, NULL, on_version_table, m);
}

static void step(struct sl_pg_migration *m);

static void on_rolled_back(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl_pg_migration *m = arg;
    finish(m, status == UV_ECONNRESET ? UV_ECONNRESET : UV_EIO);
}

static void fail_step(struct sl_pg_migration *m, int status, const char *what)
{
    char reason[400];
    snprintf(reason, sizeof(reason), "%s", sl_pg_conn_error(m->conn));
    const char *hint = strcmp(sl_pg_conn_sqlstate(m->conn), "42501") == 0
                           ? " (the user may not create sluice's schema or its tables: run "
                             "'sluice migrate up' as the database owner, or create the schema "
                             "for this user: CREATE SCHEMA name AUTHORIZATION user)"
                           : "";
    snprintf(m->err, sizeof(m->err), "cannot migrate %s: %s: %s%s", m->db_name, what, reason, hint);
    if (status == UV_ECONNRESET) {
        finish(m, status);
        return;
    }
    sl_pg_conn_script(m->conn, "ROLLBACK", on_rolled_back, m);
}

static void on_step_done(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl_pg_migration *m = arg;
    if (status != 0) {
        char what[128];
        int count;
        const struct sl_migration *all = sl_migrations(&count);
        snprintf(what, sizeof(what), "migration %d (%s) %s failed", m->step_version,
                 all[m->step_version - 1].name, m->step_up ? "up" : "down");
        fail_step(m, status, what);
        return;
    }
    m->applied++;
    m->current = m->step_up ? m->step_version : m->step_version - 1;
    step(m);
}

static void on_committed(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl_pg_migration *m = arg;
    if (status != 0) {
        fail_step(m, status, "commit failed");
        return;
    }
    finish(m, 0);
}

static void on_locked(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl_pg_migration *m = arg;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        fail_step(m, status ? status : UV_EIO, "cannot start a migration");
        return;
    }
    int current = atoi(PQgetvalue(res, 0, 0));
    int latest = sl_migrations_latest();
    if (m->applied == 0)
        m->version = current;
    m->current = current;
    if (current > latest) {
        snprintf(m->err, sizeof(m->err),
                 "database %s has schema version %d, newer than this sluice knows (%d); "
                 "upgrade sluice",
                 m->db_name, current, latest);
        sl_pg_conn_script(c, "ROLLBACK", on_rolled_back, m);
        return;
    }
    if (current == m->target) {
        sl_pg_conn_script(c, "COMMIT", on_committed, m);
        return;
    }
    int count;
    const struct sl_migration *all = sl_migrations(&count);
    int up = current < m->target;
    /* versions are 1..count in order, so version v is all[v - 1] */
    const struct sl_migration *mig = up ? &all[current] : &all[current - 1];
    m->step_version = mig->version;
    m->step_up = up;
    const char *body = up ? mig->up_pg : mig->down_pg;
    size_t size = strlen(body) + 512;
    char *sql = malloc(size);
    if (sql == NULL) {
        fail_step(m, UV_ENOMEM, "out of memory");
        return;
    }
    if (up)
        snprintf(sql, size,
                 "%s; INSERT INTO schema_version (version, name) VALUES (%d, '%s'); "
                 "COMMIT",
                 body, mig->version, mig->name);
    else
        snprintf(sql, size, "%s; DELETE FROM schema_version WHERE version = %d; COMMIT", body,
                 mig->version);
    /* libpq copies the query into its output buffer: free it at once */
    sl_pg_conn_script(c, sql, on_step_done, m);
    free(sql);
}

static int32_t schema_lock_key(const char *schema)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *schema; schema++) {
        h ^= (unsigned char)*schema;
        h *= 16777619u;
    }
    return (int32_t)h;
}

/* One step's transaction: the lock of this schema (instances migrating
 * other schemas of the database do not wait), the schema itself when it is
 * missing (CREATE SCHEMA IF NOT EXISTS would need the right to create
 * schemas even when it exists), the version table, the version. The
 * schema name needs no quoting: sl_pg_url_split() allows [a-z0-9_] only. */
static void step(struct sl_pg_migration *m)
{
    const char *schema = m->conn->params->schema;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT pg_advisory_xact_lock(%d, %d); "
             "DO $sluice$BEGIN IF to_regnamespace('%s') IS NULL THEN CREATE SCHEMA %s; END IF; "
             "END$sluice$; %s; SELECT coalesce(max(version), 0) FROM schema_version",
             SL_MIGRATE_PG_LOCK, schema_lock_key(schema), schema, schema,
             sl_migrate_pg_version_table);
    sl_pg_conn_script(m->conn, sql, on_locked, m);
}

void sl_pg_migrate_to(struct sl_pg_migration *m, struct sl_pg_conn *conn, const char *db_name,
                      int target, sl_pg_migration_cb cb)
{
    m->conn = conn;
    m->db_name = db_name;
    m->cb = cb;
    m->target = target;
    m->applied = 0;
    m->err[0] = '\0';
    int latest = sl_migrations_latest();
    if (target < 0 || target > latest) {
        snprintf(m->err, sizeof(m->err), "no migration version %d (known: 0 to %d)", target,
                 latest);
        finish(m, UV_EINVAL);
        return;
    }
    step(m);
}
