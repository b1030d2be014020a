/* `sluice report`: one self-contained HTML page of a recorded run (see
 * src/report/run_report.h). Opens the database read-only, builds the page,
 * closes. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "report/run_report.h"
#include "store/store.h"

static const char usage[] =
    "usage: sluice report [--db URL] [--run ID] [-o FILE]\n"
    "\n"
    "Writes one HTML file with the charts and tables of a recorded run, computed from\n"
    "its rows in the database (one pass). It is self-contained (scripts, styles and\n"
    "data inline): open it in any browser, offline, or send it along.\n"
    "  simulate run: in flight over time against the limit, throughput, the\n"
    "    processing-time histogram with p50/p95/p99, queue wait, attempts per request,\n"
    "    error classes, makespan against ideal.\n"
    "  serve run: requests per second by status, latency and time-to-first-token\n"
    "    percentiles over time, in flight by deployment against its limit, and\n"
    "    per model / deployment / key tables (requests, errors, retries, fallbacks,\n"
    "    cancelled, tokens, cost where known).\n"
    "docs/report.md says how each figure is computed.\n"
    "\n"
    "options:\n"
    "  --db URL           sqlite:PATH, PATH (default sluice.db) or\n"
    "                     postgresql://USER:PASSWORD@HOST:PORT/DB\n"
    "  --run ID           which run (default: the latest)\n"
    "  -o, --output FILE  where to write the page (default sluice-report.html, or\n"
    "                     sluice-report-run-ID.html with --run)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status 1: no such run, database or file error; 2: bad arguments.\n";

enum { F_DB = 1, F_RUN, F_OUT, F_HELP };
static const struct sl_flag flags[] = {
    {"--db", 1, F_DB},     {"--run", 1, F_RUN}, {"-o", 1, F_OUT}, {"--output", 1, F_OUT},
    {"--help", 0, F_HELP}, {"-h", 0, F_HELP},   {NULL, 0, 0},
};

struct ctx {
    const char *out;
    uint64_t run_id;
    int exit_code;
    char error[800];
};

static void on_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    (void)status;
    (void)arg;
}

struct job {
    struct ctx *c;
    struct sl_store *store;
};

static void on_written(int status, const char *err, void *arg)
{
    struct job *j = arg;
    if (status != 0) {
        snprintf(j->c->error, sizeof(j->c->error), "%s", err);
        j->c->exit_code = SL_EXIT_RUNTIME;
    }
    sl_store_close(j->store, on_closed, NULL);
}

static void on_open(struct sl_store *store, int status, void *arg)
{
    struct job *j = arg;
    j->store = store;
    if (status == 0 && sl_run_report(store, (int64_t)j->c->run_id, j->c->out, on_written, j) == 0)
        return;
    snprintf(j->c->error, sizeof(j->c->error), "%s",
             status ? sl_store_error(store) : "out of memory");
    j->c->exit_code = SL_EXIT_RUNTIME;
    sl_store_close(store, on_closed, NULL);
}

int sl_cmd_report(int argc, char **argv)
{
    struct ctx c = {0};
    const char *db = SL_DEFAULT_DB, *v;
    int id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, "report", 0, &v)) > 0) {
        if (id == F_DB)
            db = v;
        else if (id == F_RUN && sl_parse_u64("report", "--run", v, 1, INT64_MAX, &c.run_id))
            return SL_EXIT_USAGE;
        else if (id == F_OUT)
            c.out = v;
        else if (id == F_HELP) {
            fputs(usage, stdout);
            return SL_EXIT_OK;
        }
    }
    if (id < 0)
        return SL_EXIT_USAGE;
    if (c.out != NULL && c.out[0] == '\0') {
        sl_usage_error("report", "-o needs a file name");
        return SL_EXIT_USAGE;
    }
    char path[4096], err[256], def_out[64];
    if (sl_store_parse_url(db, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error("report", "--db: %s", err);
        return SL_EXIT_USAGE;
    }
    if (c.out == NULL) {
        if (c.run_id)
            snprintf(def_out, sizeof(def_out), "sluice-report-run-%llu.html",
                     (unsigned long long)c.run_id);
        else
            snprintf(def_out, sizeof(def_out), "sluice-report.html");
        c.out = def_out;
    }
    struct sl_store_options opts;
    sl_store_options_reader(&opts); /* reading: never create, change or replay */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct job j = {&c, NULL};
    struct sl_store *store;
    if (sl_store_open(&loop, db, &opts, &store, on_open, &j) != 0) {
        fprintf(stderr, "sluice report: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (c.exit_code != 0)
        fprintf(stderr, "sluice report: %s\n", c.error);
    else
        fprintf(stderr, "sluice report: wrote %s\n", c.out);
    return c.exit_code;
}
