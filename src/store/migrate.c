#include "store/migrate.h"

#include <stdio.h>

#include "core/clock.h"

/* Timestamps are integer microseconds since the Unix epoch (UTC); the
 * request_log view shows them as ISO-8601 text. metadata is JSON text:
 * SQLite 3.40 has no JSONB, json_extract() and ->> query it. */
static const char up_1[] =
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  command TEXT NOT NULL,"
    "  started_us INTEGER NOT NULL,"
    "  finished_us INTEGER,"
    "  requests INTEGER NOT NULL,"
    "  concurrency INTEGER NOT NULL,"
    "  max_in_flight INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'running',"
    "  params TEXT NOT NULL DEFAULT '{}'"
    ");"
    /* The status CHECK is spelled with OR: SQLite 3.40 evaluates an IN list
     * check several times slower, which halved the insert rate. */
    /* id packs (run_id << 32 | request_id): the rowid itself, so rows go
     * into one b-tree and a run is a contiguous key range. Derived values
     * are VIRTUAL columns: computed when read, never stored or bound. */
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER GENERATED ALWAYS AS (id >> 32) VIRTUAL,"
    "  request_id INTEGER GENERATED ALWAYS AS (id & 4294967295) VIRTUAL,"
    "  created_us INTEGER NOT NULL,"
    "  started_us INTEGER,"
    "  finished_us INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  retries INTEGER GENERATED ALWAYS AS (max(attempts - 1, 0)) VIRTUAL,"
    "  queue_ms REAL GENERATED ALWAYS AS ((started_us - created_us) / 1000.0) VIRTUAL,"
    "  processing_ms REAL GENERATED ALWAYS AS ((finished_us - started_us) / 1000.0) VIRTUAL,"
    "  status TEXT NOT NULL "
    "  CHECK (status = 'succeeded' OR status = 'failed' OR status = 'cancelled'),"
    "  error TEXT,"
    "  metadata TEXT NOT NULL"
    ");"
    "CREATE VIEW request_log AS SELECT run_id, request_id,"
    "  strftime('%Y-%m-%dT%H:%M:%fZ', created_us / 1e6, 'unixepoch') AS created_at,"
    "  strftime('%Y-%m-%dT%H:%M:%fZ', started_us / 1e6, 'unixepoch') AS started_at,"
    "  strftime('%Y-%m-%dT%H:%M:%fZ', finished_us / 1e6, 'unixepoch') AS finished_at,"
    "  attempts, retries, queue_ms, processing_ms, status, error, metadata"
    "  FROM requests;";

static const char down_1[] = "DROP VIEW request_log; DROP TABLE requests; DROP TABLE runs;";

/* PostgreSQL: native timestamps and JSONB. The key (run_id, request_id)
 * makes a replayed batch harmless: ON CONFLICT DO NOTHING skips it. */
static const char up_1_pg[] =
    "CREATE TABLE runs ("
    "  id bigserial PRIMARY KEY,"
    "  command text NOT NULL,"
    "  started_at timestamptz NOT NULL,"
    "  finished_at timestamptz,"
    "  requests bigint NOT NULL,"
    "  concurrency integer NOT NULL,"
    "  max_in_flight integer,"
    "  status text NOT NULL DEFAULT 'running',"
    "  params jsonb NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE requests ("
    "  run_id bigint NOT NULL,"
    "  request_id bigint NOT NULL,"
    "  created_at timestamptz NOT NULL,"
    "  started_at timestamptz,"
    "  finished_at timestamptz NOT NULL,"
    "  attempts integer NOT NULL,"
    "  status text NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled')),"
    "  error text,"
    "  metadata jsonb NOT NULL,"
    "  PRIMARY KEY (run_id, request_id)"
    ");"
    "CREATE VIEW request_log AS SELECT run_id, request_id, created_at, started_at, finished_at,"
    "  attempts, greatest(attempts - 1, 0) AS retries,"
    "  extract(epoch FROM started_at - created_at) * 1000 AS queue_ms,"
    "  extract(epoch FROM finished_at - started_at) * 1000 AS processing_ms,"
    "  status, error, metadata"
    "  FROM requests;";

/* An index that serves "requests whose prompt used more than N tokens" on
 * PostgreSQL (an expression index on the JSONB field). On SQLite the same
 * index (on json_extract) cut the insert rate from ~450,000 to ~70,000
 * rows/s, measured with bench/simulate.sh, so there the step only records
 * the version: a scan of the JSON text answers such queries, and the
 * embedded store is the one that must keep up with the loop. */
static const char up_2_sqlite[] = "";
static const char down_2_sqlite[] = "";
static const char up_2_pg[] = "CREATE INDEX requests_prompt_tokens ON requests "
                              "(((metadata ->> 'prompt_tokens')::integer));";
static const char down_2_pg[] = "DROP INDEX requests_prompt_tokens;";

/* Chat history: a conversation has many messages, numbered by seq. */
static const char up_3[] =
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  created_us INTEGER NOT NULL"
    ");"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  content TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  UNIQUE (conversation_id, seq)"
    ");";
static const char up_3_pg[] =
    "CREATE TABLE conversations ("
    "  id bigserial PRIMARY KEY,"
    "  title text NOT NULL DEFAULT '',"
    "  created_at timestamptz NOT NULL DEFAULT now()"
    ");"
    "CREATE TABLE messages ("
    "  id bigserial PRIMARY KEY,"
    "  conversation_id bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  seq integer NOT NULL,"
    "  role text NOT NULL,"
    "  content text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  UNIQUE (conversation_id, seq)"
    ");";
static const char down_3[] = "DROP TABLE messages; DROP TABLE conversations;";

/* Virtual keys (keys.c): the secret is never stored, only its SHA-256
 * (hex) and its first characters for display. Times are microseconds since
 * the epoch in both dialects (the gateway polls these rows twice a second
 * and compares them with its own clock); NULL expires/revoked = never.
 * Spend is kept per key and budget period (the period's start), added by
 * upsert. metadata is json, not jsonb, on PostgreSQL: kept byte for byte
 * as given (jsonb would respace it past its size bound). No foreign key
 * from spend to keys: keys are revoked, never deleted, and one unknown id
 * must not fail a whole batch of spend. */
static const char up_4[] =
    "CREATE TABLE gateway_keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  team TEXT NOT NULL DEFAULT '',"
    "  secret_sha256 TEXT NOT NULL UNIQUE,"
    "  prefix TEXT NOT NULL,"
    "  models TEXT NOT NULL DEFAULT '',"
    "  rpm INTEGER NOT NULL DEFAULT 0,"
    "  tpm INTEGER NOT NULL DEFAULT 0,"
    "  max_parallel INTEGER NOT NULL DEFAULT 0,"
    "  budget_usd REAL,"
    "  budget_period TEXT NOT NULL DEFAULT 'total' CHECK (budget_period = 'total' OR "
    "  budget_period = 'daily' OR budget_period = 'weekly' OR budget_period = 'monthly'),"
    "  expires_us INTEGER,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  revoked_us INTEGER,"
    "  created_us INTEGER NOT NULL,"
    "  updated_us INTEGER NOT NULL"
    ");"
    "CREATE TABLE gateway_key_spend ("
    "  key_id TEXT NOT NULL,"
    "  period_start_us INTEGER NOT NULL,"
    "  usd REAL NOT NULL DEFAULT 0,"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (key_id, period_start_us)"
    ") WITHOUT ROWID;";
static const char up_4_pg[] = "CREATE TABLE gateway_keys ("
                              "  id text PRIMARY KEY,"
                              "  name text NOT NULL UNIQUE,"
                              "  team text NOT NULL DEFAULT '',"
                              "  secret_sha256 text NOT NULL UNIQUE,"
                              "  prefix text NOT NULL,"
                              "  models text NOT NULL DEFAULT '',"
                              "  rpm bigint NOT NULL DEFAULT 0,"
                              "  tpm bigint NOT NULL DEFAULT 0,"
                              "  max_parallel bigint NOT NULL DEFAULT 0,"
                              "  budget_usd double precision,"
                              "  budget_period text NOT NULL DEFAULT 'total'"
                              "  CHECK (budget_period IN ('total', 'daily', 'weekly', 'monthly')),"
                              "  expires_us bigint,"
                              "  metadata json NOT NULL DEFAULT '{}',"
                              "  enabled boolean NOT NULL DEFAULT true,"
                              "  revoked_us bigint,"
                              "  created_us bigint NOT NULL,"
                              "  updated_us bigint NOT NULL"
                              ");"
                              "CREATE TABLE gateway_key_spend ("
                              "  key_id text NOT NULL,"
                              "  period_start_us bigint NOT NULL,"
                              "  usd double precision NOT NULL DEFAULT 0,"
                              "  requests bigint NOT NULL DEFAULT 0,"
                              "  prompt_tokens bigint NOT NULL DEFAULT 0,"
                              "  completion_tokens bigint NOT NULL DEFAULT 0,"
                              "  PRIMARY KEY (key_id, period_start_us)"
                              ");";
static const char down_4[] = "DROP TABLE gateway_key_spend; DROP TABLE gateway_keys;";

static const struct sl_migration migrations[] = {
    {1, "runs and requests", up_1, down_1, up_1_pg, down_1},
    {2, "index on metadata prompt_tokens", up_2_sqlite, down_2_sqlite, up_2_pg, down_2_pg},
    {3, "chat history", up_3, down_3, up_3_pg, down_3},
    {SL_MIGRATION_KEYS, "virtual keys", up_4, down_4, up_4_pg, down_4},
};

const char sl_migrate_pg_version_table[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                           "  version integer PRIMARY KEY,"
                                           "  name text NOT NULL,"
                                           "  applied_at timestamptz NOT NULL DEFAULT now())";

const struct sl_migration *sl_migrations(int *count)
{
    *count = (int)(sizeof(migrations) / sizeof(*migrations));
    return migrations;
}

int sl_migrations_latest(void)
{
    int n;
    const struct sl_migration *m = sl_migrations(&n);
    return m[n - 1].version;
}

static const char version_table[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                    "  version INTEGER PRIMARY KEY,"
                                    "  name TEXT NOT NULL,"
                                    "  applied_us INTEGER NOT NULL)";

int sl_migrate_sqlite_version(sqlite3 *db, int *version, char *err, size_t err_size)
{
    sqlite3_stmt *stmt = NULL;
    *version = 0;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                "name='schema_version'",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc == SQLITE_DONE)
        return SQLITE_OK; /* no table: an empty (or foreign) database */
    if (rc != SQLITE_ROW)
        goto fail;
    rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
        goto fail;
    *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return SQLITE_OK;
fail:
    snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK || rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t err_size)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

/* Applies one step inside the caller's transaction: the schema change and
 * its version row. */
static int apply(sqlite3 *db, const struct sl_migration *m, int up, char *err, size_t err_size)
{
    char what[128], sql[256];
    snprintf(what, sizeof(what), "migration %d (%s) %s failed", m->version, m->name,
             up ? "up" : "down");
    int rc = exec(db, up ? m->up_sqlite : m->down_sqlite, what, err, err_size);
    if (rc != SQLITE_OK)
        return rc;
    if (up)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_version(version, name, applied_us) VALUES (%d, '%s', %lld)",
                 m->version, m->name, (long long)sl_wall_us());
    else
        snprintf(sql, sizeof(sql), "DELETE FROM schema_version WHERE version = %d", m->version);
    return exec(db, sql, what, err, err_size);
}

/* Each step re-reads the version inside its own BEGIN IMMEDIATE
 * transaction, so two instances migrating at once take turns and the
 * second one finds the work done instead of failing on it. */
int sl_migrate_sqlite_to(sqlite3 *db, int target, int *applied, char *err, size_t err_size)
{
    int count;
    const struct sl_migration *m = sl_migrations(&count);
    int latest = sl_migrations_latest();
    *applied = 0;
    if (target < 0 || target > latest) {
        snprintf(err, err_size, "no migration version %d (known: 0 to %d)", target, latest);
        return SQLITE_RANGE;
    }
    for (;;) {
        int current;
        int rc = exec(db, "BEGIN IMMEDIATE", "cannot start a migration", err, err_size);
        if (rc != SQLITE_OK)
            return rc;
        rc = sl_migrate_sqlite_version(db, &current, err, err_size);
        if (rc == SQLITE_OK && current > latest) {
            snprintf(err, err_size,
                     "database schema version %d is newer than this sluice knows (%d); "
                     "upgrade sluice",
                     current, latest);
            rc = SQLITE_MISMATCH;
        }
        if (rc == SQLITE_OK && current == target)
            return exec(db, "COMMIT", "cannot commit a migration", err, err_size);
        if (rc == SQLITE_OK)
            rc = exec(db, version_table, "cannot create schema_version", err, err_size);
        if (rc == SQLITE_OK) {
            /* versions are 1..count in order, so version v is m[v - 1] */
            int up = current < target;
            rc = apply(db, up ? &m[current] : &m[current - 1], up, err, err_size);
        }
        if (rc == SQLITE_OK)
            rc = exec(db, "COMMIT", "cannot commit a migration", err, err_size);
        if (rc != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        (*applied)++;
    }
}

enum sl_schema_verdict sl_migrate_open_verdict(int version, int migrate, const char *path,
                                               const char *db_arg, const char *note, char *err,
                                               size_t err_size)
{
    int latest = sl_migrations_latest();
    if (version > latest) {
        snprintf(err, err_size,
                 "database %s has schema version %d, newer than this sluice knows (%d); "
                 "upgrade sluice",
                 path, version, latest);
        return SL_SCHEMA_REFUSE;
    }
    if (version == latest)
        return SL_SCHEMA_CURRENT;
    if (migrate)
        return SL_SCHEMA_MIGRATE;
    if (version == 0)
        snprintf(err, err_size,
                 "database %s has no sluice tables yet (schema version 0)%s; run a simulate "
                 "on it, or: sluice migrate up --db %s",
                 path, note, db_arg);
    else
        snprintf(err, err_size,
                 "database %s has schema version %d, older than this sluice needs (%d); "
                 "run: sluice migrate up --db %s",
                 path, version, latest, db_arg);
    return SL_SCHEMA_REFUSE;
}
