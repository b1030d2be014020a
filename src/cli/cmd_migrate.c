/* `sluice migrate up [N] | down [N] | status`: moves the schema explicitly.
 *
 * This command has no event loop and nothing else to do while it waits, so
 * it talks to SQLite directly; the runner is the one the store uses. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "store/migrate.h"
#include "store/store.h"

static const char usage[] =
    "usage: sluice migrate up [N] | down [N] | status [--db URL]\n"
    "\n"
    "  up [N]     apply N pending migrations (default: all)\n"
    "  down [N]   revert the N latest migrations (default: 1)\n"
    "  status     show the database's schema version and the known migrations\n"
    "  --db URL   sqlite:PATH or PATH (default sluice.db)\n"
    "\n"
    "Each step runs in its own transaction and is recorded in schema_version.\n";

enum { F_DB = 1, F_HELP };
static const struct sl_flag flags[] = {
    {"--db", 1, F_DB},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

int sl_cmd_migrate(int argc, char **argv)
{
    const char *db_url = SL_DEFAULT_DB, *action = NULL, *count_text = NULL, *v;
    int id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, "migrate", 1, &v)) > 0) {
        if (id == F_DB) {
            db_url = v;
        } else if (id == F_HELP) {
            fputs(usage, stdout);
            return SL_EXIT_OK;
        } else if (action == NULL) {
            action = v;
        } else if (count_text == NULL) {
            count_text = v;
        } else {
            sl_usage_error("migrate", "unexpected argument '%s'", v);
            return SL_EXIT_USAGE;
        }
    }
    if (id < 0)
        return SL_EXIT_USAGE;
    if (action == NULL ||
        (strcmp(action, "up") && strcmp(action, "down") && strcmp(action, "status"))) {
        sl_usage_error("migrate", "expected up, down or status%s%s%s", action ? ", got '" : "",
                       action ? action : "", action ? "'" : "");
        return SL_EXIT_USAGE;
    }
    int latest = sl_migrations_latest();
    uint64_t steps = strcmp(action, "down") == 0 ? 1 : (uint64_t)latest;
    if (count_text) {
        if (strcmp(action, "status") == 0) {
            sl_usage_error("migrate", "status takes no count");
            return SL_EXIT_USAGE;
        }
        if (sl_parse_u64("migrate", action, count_text, 0, 1000000, &steps))
            return SL_EXIT_USAGE;
    }
    char path[4096], err[512];
    if (sl_store_parse_url(db_url, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error("migrate", "--db: %s", err);
        return SL_EXIT_USAGE;
    }
    int is_up = strcmp(action, "up") == 0;
    if (!is_up && access(path, F_OK) != 0) {
        fprintf(stderr, "sluice migrate: no database at %s\n", path);
        return SL_EXIT_RUNTIME;
    }
    sqlite3 *db = NULL;
    int flags_open = SQLITE_OPEN_READWRITE | (is_up ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags_open, NULL);
    int current = 0, status = SL_EXIT_OK;
    if (rc != SQLITE_OK) {
        fprintf(stderr, "sluice migrate: cannot open database %s: %s\n", path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return SL_EXIT_RUNTIME;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (sl_migrate_sqlite_version(db, &current, err, sizeof(err)) != SQLITE_OK) {
        fprintf(stderr, "sluice migrate: %s: %s\n", path, err);
        sqlite3_close(db);
        return SL_EXIT_RUNTIME;
    }
    if (strcmp(action, "status") == 0) {
        int n;
        const struct sl_migration *m = sl_migrations(&n);
        printf("database %s: schema version %d (this sluice knows up to %d)\n", path, current,
               latest);
        for (int k = 0; k < n; k++)
            printf("  %s %4d  %s\n", m[k].version <= current ? "applied" : "pending", m[k].version,
                   m[k].name);
        if (current > latest)
            printf("  the database is newer than this sluice: upgrade sluice\n");
        sqlite3_close(db);
        return SL_EXIT_OK;
    }
    int target = is_up ? current + (int)(steps > (uint64_t)latest ? (uint64_t)latest : steps)
                       : current - (int)(steps > (uint64_t)current ? (uint64_t)current : steps);
    if (target > latest)
        target = latest;
    if (current > latest)
        target = current; /* let the runner refuse it with its message */
    int applied = 0;
    if (sl_migrate_sqlite_to(db, target, &applied, err, sizeof(err)) != SQLITE_OK) {
        fprintf(stderr, "sluice migrate: %s: %s\n", path, err);
        status = SL_EXIT_RUNTIME;
    } else {
        printf("database %s: schema version %d -> %d (%d step%s)\n", path, current, target, applied,
               applied == 1 ? "" : "s");
    }
    sqlite3_close(db);
    return status;
}
