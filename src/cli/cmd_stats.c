/* `sluice stats`: the analytics of a recorded run, read from the database
 * through the same store (and the same SQL) as the end of `simulate`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "store/store.h"

static const char usage[] = "usage: sluice stats [--db URL] [--run ID] [--json]\n"
                            "\n"
                            "Prints the analytics of a recorded run, computed in the database.\n"
                            "\n"
                            "options:\n"
                            "  --db URL    sqlite:PATH, PATH (default sluice.db) or\n"
                            "              postgresql://USER:PASSWORD@HOST:PORT/DB\n"
                            "  --run ID    which run (default: the latest)\n"
                            "  --json      one JSON object on stdout\n"
                            "  -h, --help  this help\n";

enum { F_DB = 1, F_RUN, F_JSON, F_HELP };
static const struct sl_flag flags[] = {
    {"--db", 1, F_DB},     {"--run", 1, F_RUN}, {"--json", 0, F_JSON},
    {"--help", 0, F_HELP}, {"-h", 0, F_HELP},   {NULL, 0, 0},
};

struct ctx {
    struct sl_stats stats;
    int json, exit_code;
    uint64_t run_id;
    char error[600];
};

static void on_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    (void)status;
    (void)arg;
}

static void on_stats(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        snprintf(c->error, sizeof(c->error), "%s", sl_store_error(store));
        c->exit_code = SL_EXIT_RUNTIME;
    } else if (c->json) {
        sl_report_json(stdout, &c->stats, sl_store_path(store), NULL);
    } else {
        sl_report_text(stdout, &c->stats, sl_store_path(store));
    }
    sl_store_close(store, on_closed, c);
}

static void on_open(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        snprintf(c->error, sizeof(c->error), "%s", sl_store_error(store));
        c->exit_code = SL_EXIT_RUNTIME;
        sl_store_close(store, on_closed, c);
        return;
    }
    sl_store_query_stats(store, (int64_t)c->run_id, &c->stats, on_stats, c);
}

int sl_cmd_stats(int argc, char **argv)
{
    struct ctx c = {0};
    const char *db = SL_DEFAULT_DB, *v;
    int id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, "stats", 0, &v)) > 0) {
        if (id == F_DB)
            db = v;
        else if (id == F_RUN && sl_parse_u64("stats", "--run", v, 1, INT64_MAX, &c.run_id))
            return SL_EXIT_USAGE;
        else if (id == F_JSON)
            c.json = 1;
        else if (id == F_HELP) {
            fputs(usage, stdout);
            return SL_EXIT_OK;
        }
    }
    if (id < 0)
        return SL_EXIT_USAGE;
    char path[4096], err[256];
    if (sl_store_parse_url(db, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error("stats", "--db: %s", err);
        return SL_EXIT_USAGE;
    }
    struct sl_store_options opts;
    sl_store_options_reader(&opts); /* reading: never create, change or replay */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_store *store;
    if (sl_store_open(&loop, db, &opts, &store, on_open, &c) != 0) {
        fprintf(stderr, "sluice stats: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (c.exit_code != 0)
        fprintf(stderr, "sluice stats: %s\n", c.error);
    return c.exit_code;
}
