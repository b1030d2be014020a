/* Versioned schema migrations, shared by both backends.
 *
 * Each migration has a version (1, 2, ...), a name, and an up and a down
 * step in each dialect (SQLite and PostgreSQL): the same logical schema,
 * with native types where PostgreSQL has them (timestamptz, jsonb). The applied versions are rows
 * of schema_version; the database's version is the highest one. Every step runs in its own
 * transaction (BEGIN IMMEDIATE, which also serialises concurrent instances on SQLite) together with
 * its schema_version row, so a failed step leaves nothing half-applied. A database whose version is
 * newer than this binary knows is refused: its layout may mean things we would misread.
 *
 * The SQLite runner works on an open sqlite3 connection and is called on
 * the store's writer thread, never on the loop. The PostgreSQL runner is
 * in pg_migrate.c (asynchronous, on the loop): it takes
 * pg_advisory_xact_lock(SL_MIGRATE_PG_LOCK, hash of the schema) in each
 * step's transaction, which serialises concurrent instances migrating the
 * same schema the way BEGIN IMMEDIATE does here. All of sluice's objects
 * live in that schema (search_path), so the PostgreSQL steps name no
 * schema. */
#ifndef SL_MIGRATE_H
#define SL_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

struct sl_migration {
    int version;
    const char *name;
    const char *up_sqlite;
    const char *down_sqlite;
    const char *up_pg;
    const char *down_pg;
};

/* The first advisory lock key of PostgreSQL migrations ("sluc" in ASCII);
 * the second is a hash of the schema name. */
#define SL_MIGRATE_PG_LOCK 0x736c7563

/* The migration that creates the virtual keys' tables (keys.c needs at
 * least this version). */
#define SL_MIGRATION_KEYS 4

/* The version table, in each dialect. */
extern const char sl_migrate_pg_version_table[];

/* The migrations this binary knows, in order; *count receives how many. */
const struct sl_migration *sl_migrations(int *count);
int sl_migrations_latest(void);

/* What opening a store does with the schema version it found. */
enum sl_schema_verdict {
    SL_SCHEMA_CURRENT, /* go on */
    SL_SCHEMA_MIGRATE, /* older, and migrating was asked for: migrate up to the latest */
    SL_SCHEMA_REFUSE,  /* newer than this binary, or older and not to be migrated: err says why */
};

/* The same rule for both backends. path names the database in err; db_arg
 * is what to suggest after `sluice migrate up --db`; note is appended to
 * the reason for an empty database ("" for none). */
enum sl_schema_verdict sl_migrate_open_verdict(int version, int migrate, const char *path,
                                               const char *db_arg, const char *note, char *err,
                                               size_t err_size);

/* Reads the current version (0 for an empty database). Returns SQLITE_OK or
 * an error, with a one-line reason in err. */
int sl_migrate_sqlite_version(sqlite3 *db, int *version, char *err, size_t err_size);

/* Moves the schema up or down to `target` (0 = empty), one transaction per
 * step. Refuses a database newer than sl_migrations_latest(). *applied
 * receives the number of steps taken. */
int sl_migrate_sqlite_to(sqlite3 *db, int target, int *applied, char *err, size_t err_size);

#endif
