/* `sluice migrate up [N] | down [N] | status`: moves the schema explicitly,
 * on SQLite or PostgreSQL, through the store (the same runner `simulate`
 * uses): read the version, then one transaction per step. */
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
    "  --db URL   sqlite:PATH, PATH (default sluice.db) or\n"
    "             postgresql://USER:PASSWORD@HOST:PORT/DB\n"
    "\n"
    "Each step runs in its own transaction and is recorded in schema_version;\n"
    "on PostgreSQL an advisory lock makes concurrent instances take turns.\n";

enum { F_DB = 1, F_HELP };
static const struct sl_flag flags[] = {
    {"--db", 1, F_DB},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    const char *action;
    uint64_t steps;
    int current, target, applied, exit_code;
    char error[700];
};

static void on_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    (void)status;
    (void)arg;
}

static void fail(struct ctx *c, struct sl_store *store)
{
    snprintf(c->error, sizeof(c->error), "%s", sl_store_error(store));
    c->exit_code = SL_EXIT_RUNTIME;
    sl_store_close(store, on_closed, c);
}

static void on_migrated(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail(c, store);
        return;
    }
    printf("database %s: schema version %d -> %d (%d step%s)\n", sl_store_path(store), c->current,
           c->target, c->applied, c->applied == 1 ? "" : "s");
    sl_store_close(store, on_closed, c);
}

static void on_version(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail(c, store);
        return;
    }
    int latest = sl_migrations_latest();
    if (strcmp(c->action, "status") == 0) {
        int n;
        const struct sl_migration *m = sl_migrations(&n);
        printf("database %s: schema version %d (this sluice knows up to %d)\n",
               sl_store_path(store), c->current, latest);
        for (int k = 0; k < n; k++)
            printf("  %s %4d  %s\n", m[k].version <= c->current ? "applied" : "pending",
                   m[k].version, m[k].name);
        if (c->current > latest)
            printf("  the database is newer than this sluice: upgrade sluice\n");
        sl_store_close(store, on_closed, c);
        return;
    }
    int cur = c->current;
    if (strcmp(c->action, "up") == 0)
        c->target = cur + (int)(c->steps > (uint64_t)latest ? (uint64_t)latest : c->steps);
    else
        c->target = cur - (int)(c->steps > (uint64_t)cur ? (uint64_t)cur : c->steps);
    if (c->target > latest)
        c->target = latest;
    if (cur > latest)
        c->target = cur; /* let the runner refuse it with its message */
    sl_store_migrate(store, c->target, &c->applied, on_migrated, c);
}

static void on_open(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail(c, store);
        return;
    }
    sl_store_schema_version(store, &c->current, on_version, c);
}

int sl_cmd_migrate(int argc, char **argv)
{
    struct ctx c = {0};
    const char *db_url = SL_DEFAULT_DB, *count_text = NULL, *v;
    int id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, "migrate", 1, &v)) > 0) {
        if (id == F_DB) {
            db_url = v;
        } else if (id == F_HELP) {
            fputs(usage, stdout);
            return SL_EXIT_OK;
        } else if (c.action == NULL) {
            c.action = v;
        } else if (count_text == NULL) {
            count_text = v;
        } else {
            sl_usage_error("migrate", "unexpected argument '%s'", v);
            return SL_EXIT_USAGE;
        }
    }
    if (id < 0)
        return SL_EXIT_USAGE;
    const char *action = c.action;
    if (action == NULL ||
        (strcmp(action, "up") && strcmp(action, "down") && strcmp(action, "status"))) {
        sl_usage_error("migrate", "expected up, down or status%s%s%s", action ? ", got '" : "",
                       action ? action : "", action ? "'" : "");
        return SL_EXIT_USAGE;
    }
    c.steps = strcmp(action, "down") == 0 ? 1 : (uint64_t)sl_migrations_latest();
    if (count_text) {
        if (strcmp(action, "status") == 0) {
            sl_usage_error("migrate", "status takes no count");
            return SL_EXIT_USAGE;
        }
        if (sl_parse_u64("migrate", action, count_text, 0, 1000000, &c.steps))
            return SL_EXIT_USAGE;
    }
    char path[4096], err[512];
    if (sl_store_parse_url(db_url, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error("migrate", "--db: %s", err);
        return SL_EXIT_USAGE;
    }
    struct sl_store_options opts;
    sl_store_options_default(&opts);
    opts.create = strcmp(action, "up") == 0; /* only up may create a SQLite file */
    opts.migrate = 0;
    opts.any_schema = 1;
    opts.spool = 0; /* rows in a spool are for simulate to replay */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store *store;
    if (sl_store_open(&loop, db_url, &opts, &store, on_open, &c) != 0) {
        fprintf(stderr, "sluice migrate: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (c.exit_code != 0)
        fprintf(stderr, "sluice migrate: %s\n", c.error);
    return c.exit_code;
}
