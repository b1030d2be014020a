/* `sluice serve`: the OpenAI-compatible gateway. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/listen.h"
#include "gateway/auth.h"
#include "gateway/gateway.h"

static const char usage[] =
    "usage: sluice serve (--config FILE | --upstream URL) [options]\n"
    "\n"
    "An OpenAI-compatible LLM gateway: POST /v1/chat/completions (JSON or SSE),\n"
    "/v1/completions, /v1/embeddings; GET /v1/models, /health, /ready, /metrics;\n"
    "POST /v1/requests/{id}/cancel stops a running generation. Each deployment is held\n"
    "to its concurrency limit with a bounded queue; transient upstream failures are\n"
    "retried with backoff and then moved to the model's next deployment.\n"
    "\n"
    "options:\n"
    "  --config FILE          the YAML configuration (see docs/serve.md)\n"
    "  --upstream URL         quick start: every model goes to this upstream, with\n"
    "                         OPENAI_API_KEY (if set) as its key\n"
    "  --listen HOST:PORT     where to listen (default 127.0.0.1:8080, or the config's)\n"
    "  --db URL               where to record requests (default sluice.db, or the config's)\n"
    "  --log-format text|json one line per event (default text)\n"
    "  --quiet                no per-request log lines\n"
    "  --drain-timeout-ms MS  on SIGTERM/SIGINT, how long in-flight requests may finish\n"
    "                         (default 30000)\n"
    "  --hash-key KEY         print the sha256 of an API key for the config, and exit\n"
    "  -h, --help             this help\n";

enum {
    F_CONFIG = 1,
    F_UPSTREAM,
    F_LISTEN,
    F_DB,
    F_LOG_FORMAT,
    F_QUIET,
    F_DRAIN,
    F_HASH_KEY,
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
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    struct sl_gateway *gw;
    struct sl_gw_config cfg;
    unsigned drain_ms;
    uint64_t rows;
    int quiet, stopping;
};

static void record(const struct sl_gw_log_row *row, void *arg)
{
    struct ctx *c = arg;
    (void)row;
    c->rows++;
}

static void on_gateway_closed(void *arg)
{
    struct ctx *c = arg;
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct ctx *c = handle->data;
    if (c->stopping++)
        return;
    if (!c->quiet)
        fprintf(stderr, "serve: %s: draining %" PRIu64 " request(s), up to %u ms\n",
                signum == SIGINT ? "interrupted" : "terminated", sl_gateway_in_flight(c->gw),
                c->drain_ms);
    sl_gateway_shutdown(c->gw, c->drain_ms, on_gateway_closed, c);
}

int sl_cmd_serve(int argc, char **argv)
{
    const char *cmd = "serve", *v, *config = NULL, *upstream = NULL, *db = NULL;
    const char *listen = NULL;
    int id, i = 0, log_json = -1;
    struct ctx c = {.drain_ms = 30000};
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
        fprintf(stderr, "sluice serve: %s\n", err);
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

    uv_loop_init(&c.loop);
    struct sl_gateway_options opts = {
        .cfg = &c.cfg,
        .record = record,
        .record_arg = &c,
        .log_json = c.cfg.log_json,
        .quiet = c.quiet,
    };
    if (sl_gateway_new(&c.loop, &opts, &c.gw, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluice serve: %s\n", err);
        uv_run(&c.loop, UV_RUN_DEFAULT);
        uv_loop_close(&c.loop);
        sl_gw_config_free(&c.cfg);
        return SL_EXIT_RUNTIME;
    }
    uv_signal_init(&c.loop, &c.sigint);
    uv_signal_init(&c.loop, &c.sigterm);
    c.sigint.data = c.sigterm.data = &c;
    uv_signal_start(&c.sigint, on_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_signal, SIGTERM);
    if (!c.quiet)
        fprintf(stderr, "serve: listening on http://%s:%d (%zu model%s)\n", c.cfg.listen_host,
                sl_gateway_port(c.gw), c.cfg.nmodels, c.cfg.nmodels == 1 ? "" : "s");
    printf("serve: listening on http://%s:%d\n", c.cfg.listen_host, sl_gateway_port(c.gw));
    fflush(stdout);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    if (!c.quiet)
        fprintf(stderr, "serve: stopped after %" PRIu64 " request(s)\n", c.rows);
    sl_gw_config_free(&c.cfg);
    return SL_EXIT_OK;
}
