/* `sluice simulate`: the whole gateway data path on synthetic traffic.
 *
 * Sequence, all callbacks on one loop: open the store (writer thread) ->
 * record the run -> start the simulator -> on_complete: close the run row
 * (which also pushes the last batch) -> query the analytics from the
 * database -> print -> close everything -> the loop runs dry and we exit.
 * A signal stops the simulator; the same sequence then reports what ran. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "report/run_report.h"
#include "sim/simulate.h"
#include "store/store.h"

static const char usage[] =
    "usage: sluice simulate [options]\n"
    "\n"
    "Simulates a high-traffic LLM gateway: N mock requests created at once, at most C\n"
    "processed at a time, a flaky processor whose failures are retried with backoff,\n"
    "every finished request written to the database, and analytics read back from it.\n"
    "\n"
    "options:\n"
    "  --requests N          requests to create (default 500)\n"
    "  --concurrency C       requests processed at once (default 10)\n"
    "  --latency-ms MIN-MAX  latency of one attempt, uniform (default 100-500; 0 for none)\n"
    "  --fail-rate P         probability that an attempt fails, 0..1 (default 0.3)\n"
    "  --error-mix SPEC      classes of failures, CLASS[:WEIGHT],... (default\n"
    "                        rate_limited:1,unavailable:1,timeout:1). Classes: rate_limited|429,\n"
    "                        unavailable|503, timeout, server_error|500, bad_gateway|502\n"
    "                        (transient, retried), bad_request|400, unauthorized|401\n"
    "                        (permanent, never retried)\n"
    "  --max-attempts K      attempts per request, first one included (default 5)\n"
    "  --deadline-ms D       total time per request, attempts and waits (default 30000;\n"
    "                        0 for none)\n"
    "  --backoff KIND        full-jitter (default), exponential, decorrelated, random,\n"
    "                        fixed or none\n"
    "  --backoff-base-ms B   first backoff step (default 100)\n"
    "  --backoff-max-ms M    largest backoff wait (default 10000)\n"
    "  --seed S              random seed: the same seed replays the same latencies,\n"
    "                        failures and jitter (default: random, printed)\n"
    "  --db URL              sqlite:PATH, PATH (default sluice.db) or\n"
    "                        postgresql://USER:PASSWORD@HOST:PORT/DB (PG* variables work too)\n"
    "  --no-migrate          refuse a database with an older schema instead of migrating it\n"
    "  --sync full|normal    SQLite durability: full survives a power cut (default),\n"
    "                        normal is faster and survives a crash of sluice\n"
    "  --batch-rows N        rows per write (transaction or COPY) (default 4096)\n"
    "  --flush-ms T          a partial batch is written after T ms (default 100)\n"
    "  --max-batches B       batches held in memory before admission waits or, with\n"
    "                        PostgreSQL away, batches spill to the spool (default 32)\n"
    "  --pool-size N         PostgreSQL connections kept open, one batch writer each (default 2)\n"
    "  --max-overflow N      extra PostgreSQL connections under load (default 2)\n"
    "  --pool-timeout-ms T   longest wait for a free connection (default 5000)\n"
    "  --connect-timeout-ms T  one PostgreSQL connection attempt (default 5000)\n"
    "  --write-timeout-ms T  a PostgreSQL batch write unanswered this long counts as a lost\n"
    "                        connection: written again or spooled (default 30000; 0 none)\n"
    "  --spool PATH          where rows wait while PostgreSQL is away (default\n"
    "                        sluice-spool-<hash of the URL>.bin here)\n"
    "  --report FILE         at the end, write the run's HTML report (charts; see\n"
    "                        'sluice report --help') to FILE\n"
    "  --json                print the analytics as one JSON object on stdout\n"
    "  --quiet               no retry log lines and no progress\n"
    "  --no-progress         keep the retry log, drop the progress bar / lines\n"
    "  -h, --help            this help\n"
    "\n"
    "Ctrl-C stops: queued requests are cancelled, running attempts finish (Ctrl-C again\n"
    "cancels them), every row is written, the analytics of what ran are printed, and\n"
    "the exit status is 130. With PostgreSQL away, rows that could not be written stay\n"
    "in the spool and the last line says how many (exit status 1). Exit status 1:\n"
    "runtime error, 2: bad arguments.\n";

enum {
    F_REQUESTS = 1,
    F_CONCURRENCY,
    F_LATENCY,
    F_FAIL_RATE,
    F_ERROR_MIX,
    F_MAX_ATTEMPTS,
    F_DEADLINE,
    F_BACKOFF,
    F_BACKOFF_BASE,
    F_BACKOFF_MAX,
    F_SEED,
    F_DB,
    F_SYNC,
    F_NO_MIGRATE,
    F_BATCH_ROWS,
    F_FLUSH_MS,
    F_MAX_BATCHES,
    F_POOL_SIZE,
    F_MAX_OVERFLOW,
    F_POOL_TIMEOUT,
    F_CONNECT_TIMEOUT,
    F_WRITE_TIMEOUT,
    F_SPOOL,
    F_REPORT,
    F_JSON,
    F_QUIET,
    F_NO_PROGRESS,
    F_HELP,
};

static const struct sl_flag flags[] = {
    {"--requests", 1, F_REQUESTS},
    {"--concurrency", 1, F_CONCURRENCY},
    {"--latency-ms", 1, F_LATENCY},
    {"--fail-rate", 1, F_FAIL_RATE},
    {"--error-mix", 1, F_ERROR_MIX},
    {"--max-attempts", 1, F_MAX_ATTEMPTS},
    {"--deadline-ms", 1, F_DEADLINE},
    {"--backoff", 1, F_BACKOFF},
    {"--backoff-base-ms", 1, F_BACKOFF_BASE},
    {"--backoff-max-ms", 1, F_BACKOFF_MAX},
    {"--seed", 1, F_SEED},
    {"--db", 1, F_DB},
    {"--sync", 1, F_SYNC},
    {"--no-migrate", 0, F_NO_MIGRATE},
    {"--batch-rows", 1, F_BATCH_ROWS},
    {"--flush-ms", 1, F_FLUSH_MS},
    {"--max-batches", 1, F_MAX_BATCHES},
    {"--pool-size", 1, F_POOL_SIZE},
    {"--max-overflow", 1, F_MAX_OVERFLOW},
    {"--pool-timeout-ms", 1, F_POOL_TIMEOUT},
    {"--connect-timeout-ms", 1, F_CONNECT_TIMEOUT},
    {"--write-timeout-ms", 1, F_WRITE_TIMEOUT},
    {"--spool", 1, F_SPOOL},
    {"--report", 1, F_REPORT},
    {"--json", 0, F_JSON},
    {"--quiet", 0, F_QUIET},
    {"--no-progress", 0, F_NO_PROGRESS},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    uv_loop_t loop;
    struct sl_sim_config cfg;
    struct sl_store_options store_opts;
    const char *db_url;
    const char *report_path; /* --report */
    int json, quiet, progress_on, seed_given;
    char params_json[1024];
    struct sl_run_info run;
    struct sl_store *store;
    struct sl_sim *sim;
    struct sl_progress progress;
    uv_signal_t sigint, sigterm;
    struct sl_stats stats;
    uint64_t start_ns, handed_ns, persisted_ns;
    int interrupted, exit_code, signals_seen;
    char error[600];
    /* the store's final counters, from its close callback */
    uint64_t rows_written, rows_spooled;
    char db_name[600], spool_path[4200];
};

static int parse(struct ctx *c, int argc, char **argv)
{
    const char *cmd = "simulate";
    const char *v;
    int id, i = 0;
    char err[256];
    unsigned u;
    double d;
    while ((id = sl_args_next(argc, argv, &i, flags, cmd, 0, &v)) > 0) {
        switch (id) {
        case F_REQUESTS:
            if (sl_parse_u64(cmd, "--requests", v, 0, 100000000, &c->cfg.requests))
                return -1;
            break;
        case F_CONCURRENCY:
            if (sl_parse_unsigned(cmd, "--concurrency", v, 1, 1000000, &c->cfg.concurrency))
                return -1;
            break;
        case F_LATENCY:
            if (sl_parse_range_ms(cmd, "--latency-ms", v, 3600000, &c->cfg.latency_min_ms,
                                  &c->cfg.latency_max_ms))
                return -1;
            break;
        case F_FAIL_RATE:
            if (sl_parse_double(cmd, "--fail-rate", v, 0, 1, &c->cfg.fail_rate))
                return -1;
            break;
        case F_ERROR_MIX:
            if (sl_error_mix_parse(&c->cfg.mix, v, err, sizeof(err)) != 0) {
                sl_usage_error(cmd, "--error-mix: %s", err);
                return -1;
            }
            break;
        case F_MAX_ATTEMPTS:
            if (sl_parse_unsigned(cmd, "--max-attempts", v, 1, 255, &u))
                return -1;
            c->cfg.policy.max_attempts = u;
            break;
        case F_DEADLINE:
            if (sl_parse_double(cmd, "--deadline-ms", v, 0, 86400000, &d))
                return -1;
            c->cfg.policy.max_delay_ms = d;
            break;
        case F_BACKOFF: {
            int kind = sl_wait_kind_parse(v);
            if (kind < 0) {
                sl_usage_error(cmd,
                               "--backoff must be full-jitter, exponential, decorrelated, "
                               "random, fixed or none, got '%s'",
                               v);
                return -1;
            }
            c->cfg.policy.wait = (enum sl_wait_kind)kind;
            break;
        }
        case F_BACKOFF_BASE:
            if (sl_parse_double(cmd, "--backoff-base-ms", v, 0, 3600000, &d))
                return -1;
            c->cfg.policy.multiplier_ms = c->cfg.policy.fixed_ms = d;
            break;
        case F_BACKOFF_MAX:
            if (sl_parse_double(cmd, "--backoff-max-ms", v, 0, 3600000, &d))
                return -1;
            c->cfg.policy.max_ms = d;
            break;
        case F_SEED:
            if (sl_parse_u64(cmd, "--seed", v, 0, UINT64_MAX, &c->cfg.seed))
                return -1;
            c->seed_given = 1;
            break;
        case F_DB:
            c->db_url = v;
            break;
        case F_SYNC:
            if (strcmp(v, "full") == 0)
                c->store_opts.sync = SL_SYNC_FULL;
            else if (strcmp(v, "normal") == 0)
                c->store_opts.sync = SL_SYNC_NORMAL;
            else {
                sl_usage_error(cmd, "--sync must be full or normal, got '%s'", v);
                return -1;
            }
            break;
        case F_NO_MIGRATE:
            c->store_opts.migrate = 0;
            break;
        case F_BATCH_ROWS:
            if (sl_parse_unsigned(cmd, "--batch-rows", v, 1, 1000000, &c->store_opts.batch_rows))
                return -1;
            break;
        case F_FLUSH_MS:
            if (sl_parse_unsigned(cmd, "--flush-ms", v, 1, 3600000, &c->store_opts.flush_ms))
                return -1;
            break;
        case F_MAX_BATCHES:
            if (sl_parse_unsigned(cmd, "--max-batches", v, 1, 100000, &c->store_opts.max_batches))
                return -1;
            break;
        case F_POOL_SIZE:
            if (sl_parse_unsigned(cmd, "--pool-size", v, 1, 100, &c->store_opts.pool_size))
                return -1;
            break;
        case F_MAX_OVERFLOW:
            if (sl_parse_unsigned(cmd, "--max-overflow", v, 0, 100, &c->store_opts.max_overflow))
                return -1;
            break;
        case F_POOL_TIMEOUT:
            if (sl_parse_unsigned(cmd, "--pool-timeout-ms", v, 1, 3600000,
                                  &c->store_opts.pool_wait_ms))
                return -1;
            break;
        case F_CONNECT_TIMEOUT:
            if (sl_parse_unsigned(cmd, "--connect-timeout-ms", v, 1, 3600000,
                                  &c->store_opts.connect_timeout_ms))
                return -1;
            break;
        case F_WRITE_TIMEOUT:
            if (sl_parse_unsigned(cmd, "--write-timeout-ms", v, 0, 3600000,
                                  &c->store_opts.write_timeout_ms))
                return -1;
            break;
        case F_SPOOL:
            c->store_opts.spool_path = v;
            break;
        case F_REPORT:
            if (*v == '\0') {
                sl_usage_error(cmd, "--report needs a file name");
                return -1;
            }
            c->report_path = v;
            break;
        case F_JSON:
            c->json = 1;
            break;
        case F_QUIET:
            c->quiet = 1;
            break;
        case F_NO_PROGRESS:
            c->progress_on = 0;
            break;
        case F_HELP:
            fputs(usage, stdout);
            return 1;
        }
    }
    if (id < 0)
        return -1;
    /* The random range of a backoff: [min, max] for --backoff random. */
    c->cfg.policy.min_ms = c->cfg.policy.wait == SL_WAIT_RANDOM ? 0 : c->cfg.policy.min_ms;
    if (c->cfg.policy.max_ms < c->cfg.policy.min_ms) {
        sl_usage_error(cmd, "--backoff-max-ms is below the minimum wait");
        return -1;
    }
    char path[4096];
    if (sl_store_parse_url(c->db_url, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error(cmd, "--db: %s", err);
        return -1;
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------- */

static void close_all(struct ctx *c);

static void fail_runtime(struct ctx *c, const char *msg)
{
    if (c->exit_code == 0 || c->exit_code == SL_EXIT_INTERRUPTED)
        c->exit_code = SL_EXIT_RUNTIME;
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "%s", msg);
}

static void on_store_closed(struct sl_store *store, int status, void *arg)
{
    (void)status;
    struct ctx *c = arg;
    c->rows_written = sl_store_rows_written(store);
    c->rows_spooled = sl_store_rows_spooled(store);
    snprintf(c->db_name, sizeof(c->db_name), "%s", sl_store_path(store));
    const char *spool = sl_store_spool_path(store);
    snprintf(c->spool_path, sizeof(c->spool_path), "%s", spool ? spool : "");
}

static void store_log(const char *line, void *arg)
{
    struct ctx *c = arg;
    sl_progress_log(&c->progress, "%s", line);
}

static void close_all(struct ctx *c)
{
    sl_progress_finish(&c->progress);
    sl_progress_close(&c->progress);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    if (c->sim)
        sl_sim_free(c->sim);
    c->sim = NULL;
    if (c->store)
        sl_store_close(c->store, on_store_closed, c);
    c->store = NULL;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void on_report(int status, const char *err, void *arg)
{
    struct ctx *c = arg;
    if (status != 0)
        fail_runtime(c, err);
    else if (!c->quiet && !c->json)
        fprintf(stderr, "simulate: report written to %s\n", c->report_path);
    close_all(c);
}

static void on_stats(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail_runtime(c, sl_store_error(store));
    } else {
        double wall = (double)(c->persisted_ns - c->start_ns) / 1e9;
        double handed = (double)(c->handed_ns - c->start_ns) / 1e9;
        double analytics = (double)(uv_hrtime() - c->persisted_ns) / 1e9;
        char extra[512];
        snprintf(extra, sizeof(extra),
                 ",\"seed\":%" PRIu64 ",\"wall_s\":%.6f,\"processed_s\":%.6f,"
                 "\"analytics_s\":%.6f,\"throughput_rps\":%.1f,"
                 "\"rows_failed\":%llu,\"peak_rss_kb\":%ld,\"interrupted\":%s",
                 c->cfg.seed, wall, handed, analytics,
                 wall > 0 ? (double)c->stats.db_rows / wall : 0,
                 (unsigned long long)sl_store_rows_failed(store), peak_rss_kb(),
                 c->interrupted ? "true" : "false");
        if (c->json) {
            sl_report_json(stdout, &c->stats, sl_store_path(store), extra);
        } else {
            sl_report_text(stdout, &c->stats, sl_store_path(store));
            printf("  seed            %" PRIu64 " (replay with --seed %" PRIu64 ")\n", c->cfg.seed,
                   c->cfg.seed);
            printf("  throughput      %.0f requests/s end to end (%.3f s to the last row)\n",
                   wall > 0 ? (double)c->stats.db_rows / wall : 0, wall);
        }
        fflush(stdout);
        if (c->report_path &&
            sl_run_report(store, c->stats.run_id, c->report_path, on_report, c) == 0)
            return;
        if (c->report_path)
            fail_runtime(c, "out of memory for the report");
    }
    close_all(c);
}

static void on_run_ended(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    c->persisted_ns = uv_hrtime();
    if (status != 0) {
        fail_runtime(c, sl_store_error(store));
        close_all(c);
        return;
    }
    if (sl_store_rows_failed(store) > 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%llu rows could not be written: %s",
                 (unsigned long long)sl_store_rows_failed(store), sl_store_error(store));
        fail_runtime(c, msg);
    }
    sl_store_query_stats(store, sl_store_run_id(store), &c->stats, on_stats, c);
}

static void on_sim_complete(struct sl_sim *sim)
{
    struct ctx *c = sl_sim_data(sim);
    struct sl_sim_counters n;
    sl_sim_counters(sim, &n);
    c->handed_ns = uv_hrtime();
    sl_progress_finish(&c->progress);
    sl_store_end_run(c->store, c->interrupted ? "interrupted" : "completed", n.max_in_flight,
                     on_run_ended, c);
}

static void on_retry(struct sl_sim *sim, uint64_t request_id, unsigned attempt,
                     unsigned max_attempts, double wait_ms, enum sl_err error)
{
    struct ctx *c = sl_sim_data(sim);
    if (c->quiet)
        return;
    int status = sl_err_http_status(error);
    char code[16] = "";
    if (status)
        snprintf(code, sizeof(code), " (%d)", status);
    sl_progress_log(&c->progress, "retry: request %llu attempt %u/%u failed: %s%s; waiting %.0f ms",
                    (unsigned long long)request_id, attempt, max_attempts, sl_err_name(error), code,
                    wait_ms);
}

static void sample(struct sl_progress *p, struct sl_progress_sample *out)
{
    struct ctx *c = p->data;
    struct sl_sim_counters n = {0};
    if (c->sim)
        sl_sim_counters(c->sim, &n);
    out->done = n.recorded;
    out->total = c->cfg.requests;
    out->in_flight = n.in_flight;
    out->retries = n.retries;
}

static void on_run_begun(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail_runtime(c, sl_store_error(store));
        close_all(c);
        return;
    }
    struct sl_sim_events events = {on_retry, on_sim_complete, c};
    if (sl_sim_new(&c->loop, &c->cfg, store, &events, &c->sim) != 0) {
        fail_runtime(c, "out of memory for the simulated requests");
        close_all(c);
        return;
    }
    if (!c->quiet && !c->json)
        fprintf(stderr,
                "simulate: run %lld: %llu requests, concurrency %u, seed %" PRIu64
                ", database %s\n",
                (long long)sl_store_run_id(store), (unsigned long long)c->cfg.requests,
                c->cfg.concurrency, c->cfg.seed, sl_store_path(store));
    c->start_ns = uv_hrtime();
    sl_progress_start(&c->progress);
    sl_sim_start(c->sim);
    if (c->interrupted && c->sim)
        sl_sim_stop(c->sim, 1);
}

static void on_open(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail_runtime(c, sl_store_error(store));
        close_all(c);
        return;
    }
    if (c->interrupted) {
        close_all(c);
        return;
    }
    sl_store_begin_run(store, &c->run, on_run_begun, c);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct ctx *c = handle->data;
    c->interrupted = 1;
    c->signals_seen++;
    if (c->exit_code == 0)
        c->exit_code = SL_EXIT_INTERRUPTED;
    if (c->sim == NULL)
        return;
    struct sl_sim_counters n;
    sl_sim_counters(c->sim, &n);
    if (c->signals_seen == 1) {
        sl_progress_log(&c->progress,
                        "simulate: %s: cancelling queued requests, letting %u running "
                        "attempt(s) finish (press Ctrl-C again to cancel them)",
                        signum == SIGINT ? "interrupted" : "terminated", n.in_flight);
        sl_sim_stop(c->sim, 0);
    } else {
        sl_progress_log(&c->progress, "simulate: cancelling %u running attempt(s)", n.in_flight);
        sl_sim_stop(c->sim, 1);
    }
}

static void params_to_json(struct ctx *c)
{
    char mix[512];
    sl_error_mix_json(&c->cfg.mix, mix, sizeof(mix));
    const struct sl_retry_policy *p = &c->cfg.policy;
    snprintf(c->params_json, sizeof(c->params_json),
             "{\"requests\":%llu,\"concurrency\":%u,\"latency_ms\":[%u,%u],\"fail_rate\":%g,"
             "\"error_mix\":%s,\"max_attempts\":%u,\"deadline_ms\":%g,\"backoff\":\"%s\","
             "\"backoff_base_ms\":%g,\"backoff_max_ms\":%g,\"seed\":%" PRIu64 "}",
             (unsigned long long)c->cfg.requests, c->cfg.concurrency, c->cfg.latency_min_ms,
             c->cfg.latency_max_ms, c->cfg.fail_rate, mix, p->max_attempts, p->max_delay_ms,
             sl_wait_kind_name(p->wait), p->multiplier_ms, p->max_ms, c->cfg.seed);
}

int sl_cmd_simulate(int argc, char **argv)
{
    struct ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SL_EXIT_RUNTIME;
    sl_sim_config_default(&c->cfg);
    sl_store_options_default(&c->store_opts);
    c->store_opts.log = store_log;
    c->store_opts.log_arg = c;
    c->db_url = SL_DEFAULT_DB;
    c->progress_on = 1;
    int rc = parse(c, argc, argv);
    if (rc != 0) {
        free(c);
        return rc > 0 ? SL_EXIT_OK : SL_EXIT_USAGE;
    }
    if (!c->seed_given)
        c->cfg.seed = (uv_hrtime() ^ ((uint64_t)getpid() << 32)) % 1000000000ULL;
    params_to_json(c);
    c->run = (struct sl_run_info){"simulate", c->cfg.requests, c->cfg.concurrency, c->params_json};

    uv_loop_init(&c->loop);
    sl_progress_init(&c->loop, &c->progress, c->progress_on && !c->quiet, sample, c);
    uv_signal_init(&c->loop, &c->sigint);
    uv_signal_init(&c->loop, &c->sigterm);
    c->sigint.data = c->sigterm.data = c;
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);

    if (sl_store_open(&c->loop, c->db_url, &c->store_opts, &c->store, on_open, c) != 0) {
        fail_runtime(c, "out of memory");
        close_all(c);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0)
        fprintf(stderr, "sluice simulate: internal error: handles left open at exit\n");
    if (c->exit_code == SL_EXIT_RUNTIME)
        fprintf(stderr, "sluice simulate: %s\n", c->error);
    if (c->rows_spooled > 0) {
        /* the database went away: say where every row is */
        if (c->exit_code == 0 || c->exit_code == SL_EXIT_INTERRUPTED)
            c->exit_code = SL_EXIT_RUNTIME;
        fprintf(stderr,
                "sluice simulate: %s is unreachable: %llu rows written to it, %llu rows kept in "
                "the spool %s (replayed by the next run)\n",
                c->db_name, (unsigned long long)c->rows_written,
                (unsigned long long)c->rows_spooled, c->spool_path);
    } else if (c->exit_code == SL_EXIT_INTERRUPTED) {
        fprintf(stderr,
                "sluice simulate: interrupted; every finished and cancelled request was "
                "written (%llu rows)\n",
                (unsigned long long)c->rows_written);
    }
    fflush(stderr);
    rc = c->exit_code;
    free(c);
    return rc;
}
