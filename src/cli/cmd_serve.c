/* `sluice serve`: the OpenAI-compatible gateway. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/json_scan.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/listen.h"
#include "core/thread_prio.h"
#include "gateway/auth.h"
#include "gateway/gateway.h"
#include "store/store.h"

static const char usage[] =
    "usage: sluice serve (--config FILE | --upstream URL) [options]\n"
    "\n"
    "An OpenAI-compatible LLM gateway: POST /v1/chat/completions (JSON or SSE),\n"
    "/v1/completions, /v1/embeddings, /v1/responses, /v1/messages (Anthropic's API);\n"
    "GET /v1/models, /health, /ready, /metrics, /ui (the dashboard, docs/ui.md);\n"
    "POST /v1/requests/{id}/cancel stops a running generation. Each deployment is held\n"
    "to its concurrency limit with a bounded queue; transient upstream failures are\n"
    "retried with backoff and then moved to the model's next deployment. Providers:\n"
    "openai, azure, anthropic, gemini, bedrock (docs/providers.md); traces over\n"
    "OpenTelemetry with otel: in the config (docs/otel.md).\n"
    "\n"
    "options:\n"
    "  --config FILE          the YAML configuration (see docs/serve.md)\n"
    "  --upstream URL         quick start: every model goes to this upstream, with\n"
    "                         OPENAI_API_KEY (if set) as its key\n"
    "  --listen HOST:PORT     where to listen (default 127.0.0.1:8080, or the config's)\n"
    "  --db URL               where to record requests (default sluice.db, or the config's)\n"
    "  --spool PATH           this instance's spool files: PATH (rows kept while PostgreSQL\n"
    "                         is away) and PATH.overflow (rows the store could not take yet);\n"
    "                         default: named after the database, in the working directory.\n"
    "                         Several instances on one database need one each\n"
    "  --log-format text|json one line per event (default text)\n"
    "  --quiet                no per-request log lines\n"
    "  --drain-timeout-ms MS  on SIGTERM/SIGINT, how long in-flight requests may finish\n"
    "                         (default 30000)\n"
    "  --hash-key KEY         print the sha256 of an API key for the config, and exit\n"
    "  -h, --help             this help\n"
    "\n"
    "environment:\n"
    "  SLUICE_MASTER_KEY      turns on the admin API (/admin/keys, docs/keys.md): callers\n"
    "                         with this key manage the virtual keys (virtual_keys: true),\n"
    "                         and open the dashboard /ui (Bearer, or Basic's password)\n";

enum {
    F_CONFIG = 1,
    F_UPSTREAM,
    F_LISTEN,
    F_DB,
    F_LOG_FORMAT,
    F_QUIET,
    F_DRAIN,
    F_HASH_KEY,
    F_SPOOL,
    F_HELP
};

static const struct sl_flag flags[] = {
    {"--config", 1, F_CONFIG},
    {"--upstream", 1, F_UPSTREAM},
    {"--listen", 1, F_LISTEN},
    {"--db", 1, F_DB},
    {"--log-format", 1, F_LOG_FORMAT},
    {"--quiet", 0, F_QUIET},
    {"--drain-timeout-ms", 1, F_DRAIN},
    {"--hash-key", 1, F_HASH_KEY},
    {"--spool", 1, F_SPOOL},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    struct sl_gateway *gw;
    struct sl_recorder *recorder;
    struct sl_gw_config cfg;
    struct sl_store *store;
    struct sl_store *reader; /* the dashboard's reads, beside the writer; or NULL */
    struct sl_run_info run;
    char params[4096];
    unsigned drain_ms;
    uint64_t rows, max_in_flight, spooled_total;
    int quiet, stopping, exit_code;
    char error[600];
};

static void end_run(struct ctx *c);
static void start_gateway(struct ctx *c);
static void on_reader_open(struct sl_store *reader, int status, void *arg);

/* ---- log lines: text, or with --log-format json every line JSON ---------- */

static void timestamp(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An event with a message: text "serve: MESSAGE" (or "sluice serve: MESSAGE"
 * for an error), or one JSON object {"ts","event","message"}. */
static void log_message(int json, const char *event, const char *message)
{
    if (json) {
        char ts[32], esc[4096];
        timestamp(ts);
        sl_json_escape(esc, sizeof(esc), message);
        fprintf(stderr, "{\"ts\":\"%s\",\"event\":\"%s\",\"message\":\"%s\"}\n", ts, event, esc);
    } else if (!strcmp(event, "error")) {
        fprintf(stderr, "sluice serve: %s\n", message);
    } else {
        fprintf(stderr, "serve: %s\n", message);
    }
}

/* The store's own lines (a PostgreSQL outage, the spool) in the same format. */
static void store_log(const char *line, void *arg)
{
    const struct ctx *c = arg;
    log_message(c->cfg.log_json, "store", line);
}

static void fail(struct ctx *c, const char *msg)
{
    if (c->exit_code == 0)
        c->exit_code = SL_EXIT_RUNTIME;
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "%s", msg);
}

static void on_store_closed(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    (void)status;
    c->spooled_total = sl_store_rows_spooled_total(store);
    if (sl_store_rows_spooled(store) > 0) {
        char msg[600];
        snprintf(msg, sizeof(msg),
                 "%" PRIu64 " request log rows are kept in a spool file (see above); the next "
                 "serve on this database replays them",
                 sl_store_rows_spooled(store));
        fail(c, msg);
    }
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void on_run_ended(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0)
        fail(c, sl_store_error(store));
    else if (sl_store_rows_failed(store) > 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%llu request log rows could not be written: %s",
                 (unsigned long long)sl_store_rows_failed(store), sl_store_error(store));
        fail(c, msg);
    }
    sl_store_close(store, on_store_closed, c);
}

static void on_recorder_closed(uint64_t rows, void *arg)
{
    struct ctx *c = arg;
    c->recorder = NULL;
    c->rows = rows;
    sl_store_end_run(c->store, c->exit_code ? "interrupted" : "completed",
                     (unsigned)c->max_in_flight, on_run_ended, c);
}

/* After the gateway drained: the recorder puts every row it holds into
 * the store, then the run row is closed (which also writes the last
 * batch), then the store. */
static void on_reader_closed(struct sl_store *store, int status, void *arg)
{
    (void)store;
    (void)status;
    struct ctx *c = arg;
    c->reader = NULL;
    end_run(c);
}

static void end_run(struct ctx *c)
{
    if (c->reader) { /* the dashboard's reader first: nothing reads any more */
        sl_store_close(c->reader, on_reader_closed, c);
        return;
    }
    if (c->recorder)
        sl_recorder_close(c->recorder, on_recorder_closed, c);
    else
        on_recorder_closed(0, c);
}

static void on_gateway_closed(void *arg)
{
    struct ctx *c = arg;
    c->gw = NULL;
    end_run(c);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct ctx *c = handle->data;
    if (c->stopping++)
        return;
    if (c->gw == NULL)
        return; /* still opening the store: on_ready stops */
    if (!c->quiet) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: draining %" PRIu64 " request(s), up to %u ms",
                 signum == SIGINT ? "interrupted" : "terminated", sl_gateway_in_flight(c->gw),
                 c->drain_ms);
        log_message(c->cfg.log_json, "draining", msg);
    }
    /* no request is accepted from here on: the run's peak is known */
    c->max_in_flight = sl_gateway_max_in_flight(c->gw);
    sl_gateway_shutdown(c->gw, c->drain_ms, on_gateway_closed, c);
}

static void on_run_begun(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail(c, sl_store_error(store));
        sl_store_close(store, on_store_closed, c);
        return;
    }
    if (c->stopping) {
        end_run(c);
        return;
    }
    if (sl_recorder_new(&c->loop, store, &c->recorder) != 0) {
        fail(c, "out of memory");
        end_run(c);
        return;
    }
    sl_recorder_set_prices(c->recorder, c->cfg.prices, c->cfg.nprices);
    const char *master = getenv("SLUICE_MASTER_KEY");
    if ((c->cfg.ui_public || (master && *master)) && c->reader == NULL) {
        /* the dashboard reads the log through a store of its own, so that
         * its queries never hold up the writer's batches */
        struct sl_store_options ropts;
        sl_store_options_reader(&ropts);
        ropts.log = store_log;
        ropts.log_arg = c;
        if (sl_store_open(&c->loop, c->cfg.db, &ropts, &c->reader, on_reader_open, c) == 0)
            return;
        c->reader = NULL; /* out of memory: the writer's store serves the reads */
    }
    start_gateway(c);
}

static void on_reader_open(struct sl_store *reader, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "the dashboard reads through the writer's store: %s",
                 sl_store_error(reader));
        log_message(c->cfg.log_json, "warning", msg);
        sl_store_close(reader, NULL, NULL);
        c->reader = NULL;
    }
    if (c->stopping) {
        end_run(c);
        return;
    }
    start_gateway(c);
}

static void start_gateway(struct ctx *c)
{
    struct sl_store *store = c->store;
    char err[1024];
    struct sl_gateway_options opts = {
        .cfg = &c->cfg,
        .recorder = c->recorder,
        .log_json = c->cfg.log_json,
        .quiet = c->quiet,
        .master_key = getenv("SLUICE_MASTER_KEY"),
        .store = store,
        .read_store = c->reader ? c->reader : store,
    };
    if (sl_gateway_new(&c->loop, &opts, &c->gw, err, sizeof(err)) != 0) {
        c->gw = NULL;
        fail(c, err);
        end_run(c);
        return;
    }
    /* one line, on stdout (scripts read the port from it), even when quiet */
    char host[600], db[2100];
    sl_json_escape(host, sizeof(host), c->cfg.listen_host);
    sl_json_escape(db, sizeof(db), sl_store_path(store));
    if (c->cfg.log_json) {
        char ts[32];
        timestamp(ts);
        printf("{\"ts\":\"%s\",\"event\":\"listening\",\"url\":\"http://%s:%d\",\"models\":%zu,"
               "\"db\":\"%s\"}\n",
               ts, host, sl_gateway_port(c->gw), c->cfg.nmodels, db);
    } else {
        printf("serve: listening on http://%s:%d (%zu model%s), recording to %s\n",
               c->cfg.listen_host, sl_gateway_port(c->gw), c->cfg.nmodels,
               c->cfg.nmodels == 1 ? "" : "s", sl_store_path(store));
    }
    fflush(stdout);
}

/* The run's params: where it listened, and each deployment's
 * max_concurrency (summed over deployments of the same name), which the
 * report draws in flight against. Deployments that do not fit are left
 * out (the report then draws no limit for them). */
static void serve_params(struct ctx *c)
{
    size_t cap = sizeof(c->params), n;
    n = (size_t)snprintf(c->params, cap, "{\"listen\":\"%s:%d\",\"models\":%zu,\"deployments\":{",
                         c->cfg.listen_host, c->cfg.listen_port, c->cfg.nmodels);
    const char *sep = "";
    for (size_t i = 0; i < c->cfg.nmodels; i++)
        for (size_t j = 0; j < c->cfg.models[i].ndeployments; j++) {
            const struct sl_gw_deployment *d = &c->cfg.models[i].deployments[j];
            int seen = 0; /* counted with an earlier deployment of its name */
            unsigned sum = 0;
            for (size_t k = 0; k < c->cfg.nmodels; k++)
                for (size_t l = 0; l < c->cfg.models[k].ndeployments; l++) {
                    const struct sl_gw_deployment *e = &c->cfg.models[k].deployments[l];
                    if (strcmp(e->name, d->name) != 0)
                        continue;
                    if (k < i || (k == i && l < j))
                        seen = 1;
                    sum += e->max_concurrency;
                }
            char name[140];
            sl_json_escape(name, sizeof(name), d->name);
            if (seen || n + strlen(name) + 32 > cap)
                continue;
            n += (size_t)snprintf(c->params + n, cap - n, "%s\"%s\":%u", sep, name, sum);
            sep = ",";
        }
    snprintf(c->params + n, cap - n, "}}");
}

static void on_store_open(struct sl_store *store, int status, void *arg)
{
    struct ctx *c = arg;
    if (status != 0) {
        fail(c, sl_store_error(store));
        sl_store_close(store, on_store_closed, c);
        return;
    }
    unsigned limit = 0;
    for (size_t i = 0; i < c->cfg.nmodels; i++)
        for (size_t j = 0; j < c->cfg.models[i].ndeployments; j++)
            limit += c->cfg.models[i].deployments[j].max_concurrency;
    serve_params(c);
    c->run = (struct sl_run_info){"serve", 0, limit, c->params};
    sl_store_begin_run(store, &c->run, on_run_begun, c);
}

/* For tests only: SLUICE_TEST_STORE_QUEUE=ROWS,BATCHES makes the store's
 * queue tiny, so that a test can overflow it with a few requests. */
static void serve_test_knobs(struct sl_store_options *o)
{
    const char *v = getenv("SLUICE_TEST_STORE_QUEUE");
    unsigned rows, batches;
    if (v && sscanf(v, "%u,%u", &rows, &batches) == 2 && rows > 0 && batches > 0) {
        o->batch_rows = rows;
        o->max_batches = batches;
    }
}

int sl_cmd_serve(int argc, char **argv)
{
    const char *cmd = "serve", *v, *config = NULL, *upstream = NULL, *db = NULL;
    const char *listen = NULL, *spool = NULL;
    int id, i = 0, log_json = -1;
    struct ctx c = {0};
    int drain_given = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, cmd, 0, &v)) > 0) {
        switch (id) {
        case F_CONFIG:
            config = v;
            break;
        case F_UPSTREAM:
            upstream = v;
            break;
        case F_LISTEN:
            listen = v;
            break;
        case F_SPOOL:
            spool = v;
            break;
        case F_DB:
            db = v;
            break;
        case F_LOG_FORMAT:
            if (strcmp(v, "json") && strcmp(v, "text")) {
                sl_usage_error(cmd, "--log-format must be text or json, got '%s'", v);
                return SL_EXIT_USAGE;
            }
            log_json = !strcmp(v, "json");
            break;
        case F_QUIET:
            c.quiet = 1;
            break;
        case F_DRAIN:
            if (sl_parse_unsigned(cmd, "--drain-timeout-ms", v, 0, 3600000, &c.drain_ms))
                return SL_EXIT_USAGE;
            drain_given = 1;
            break;
        case F_HASH_KEY: {
            char hex[65];
            sl_sha256_hex(v, strlen(v), hex);
            printf("%s\n", hex);
            return SL_EXIT_OK;
        }
        case F_HELP:
            fputs(usage, stdout);
            return SL_EXIT_OK;
        }
    }
    if (id < 0)
        return SL_EXIT_USAGE;
    if ((config == NULL) == (upstream == NULL)) {
        sl_usage_error(cmd, "give exactly one of --config FILE or --upstream URL");
        return SL_EXIT_USAGE;
    }
    char err[1024];
    int rc = config ? sl_gw_config_load(config, &c.cfg, err, sizeof(err))
                    : sl_gw_config_single(upstream, &c.cfg, err, sizeof(err));
    if (rc != 0) {
        log_message(log_json == 1, "error", err);
        return config ? SL_EXIT_RUNTIME : SL_EXIT_USAGE;
    }
    if (listen && sl_parse_listen(cmd, listen, c.cfg.listen_host, sizeof(c.cfg.listen_host),
                                  &c.cfg.listen_port) != 0) {
        sl_gw_config_free(&c.cfg);
        return SL_EXIT_USAGE;
    }
    if (db)
        snprintf(c.cfg.db, sizeof(c.cfg.db), "%s", db);
    if (log_json >= 0)
        c.cfg.log_json = log_json;
    if (!drain_given) /* the config's drain_timeout_ms (30000 by default) */
        c.drain_ms = c.cfg.drain_timeout_ms;

    sl_thread_short_slice(); /* before any thread: they all inherit it */
    uv_loop_init(&c.loop);
    uv_signal_init(&c.loop, &c.sigint);
    uv_signal_init(&c.loop, &c.sigterm);
    c.sigint.data = c.sigterm.data = &c;
    uv_signal_start(&c.sigint, on_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_signal, SIGTERM);
    struct sl_store_options sopts;
    sl_store_options_default(&sopts);
    sopts.batch_rows = 512; /* rows carry ~300 bytes of metadata: smaller batches */
    sopts.max_batches = 64;
    sopts.flush_ms = 100;
    sopts.log = store_log;
    sopts.log_arg = &c;
    sopts.overflow_spool = 1; /* a store that falls behind spools, never drops */
    char overflow[4200];
    if (spool) {
        snprintf(overflow, sizeof(overflow), "%s.overflow", spool);
        sopts.spool_path = spool;
        sopts.overflow_spool_path = overflow;
    }
    serve_test_knobs(&sopts);
    if (sl_store_open(&c.loop, c.cfg.db, &sopts, &c.store, on_store_open, &c) != 0) {
        fprintf(stderr, "sluice serve: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    if (c.exit_code) {
        log_message(c.cfg.log_json, "error", c.error);
    } else if (!c.quiet) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "stopped; %" PRIu64 " request(s) recorded (%" PRIu64 " through the spool)", c.rows,
                 c.spooled_total);
        log_message(c.cfg.log_json, "stopped", msg);
    }
    sl_gw_config_free(&c.cfg);
    return c.exit_code;
}
