/* `sluice mock`: the flaky OpenAI-compatible upstream, as a server. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/listen.h"
#include "mock/mock.h"

static const char usage[] =
    "usage: sluice mock [options]\n"
    "\n"
    "An OpenAI-compatible upstream that misbehaves on purpose and reproducibly:\n"
    "POST /v1/chat/completions (JSON, or SSE with \"stream\": true), POST /v1/completions,\n"
    "POST /v1/embeddings, POST /v1/responses, GET /v1/models; GET /mock/stats gives its\n"
    "counters as JSON\n"
    "and POST /mock/reset zeroes them.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT     where to listen (default 127.0.0.1:8081; port 0 picks one)\n"
    "  --latency-ms MIN-MAX   wait before the first byte, uniform (default 0)\n"
    "  --token-ms MS          wait between stream chunks (default 0)\n"
    "  --tokens N             completion length when the request has no max_tokens\n"
    "                         (default 16)\n"
    "  --fail-rate P          probability that a request fails, 0..1 (default 0)\n"
    "  --error-mix SPEC       which failures, NAME[:WEIGHT],... (default 429,500,502,503);\n"
    "                         names: 429 (with Retry-After), 500, 502, 503, 400, 401,\n"
    "                         reset (TCP reset), stall (never answers), cut (stops half way)\n"
    "  --sequence LIST        faults for the first requests in arrival order, e.g.\n"
    "                         429,ok,cut (then the random ones)\n"
    "  --max-concurrency N    answer 429 above N requests in flight (default: no cap)\n"
    "  --retry-after S        Retry-After seconds on 429 (default 1)\n"
    "  --max-connections N    open connections before new ones get 503 (default 20000)\n"
    "  --seed S               the same seed and request order replay the same faults\n"
    "                         (default 1)\n"
    "  --api NAME             the API it speaks: openai (default), azure (Azure\n"
    "                         OpenAI's paths and api-key), anthropic (the Messages\n"
    "                         API, POST /v1/messages), bedrock (Converse and\n"
    "                         ConverseStream, SigV4 checked with the mock's own\n"
    "                         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set),\n"
    "                         gemini (POST /v1beta/models/M:generateContent,\n"
    "                         x-goog-api-key)\n"
    "  --quiet                no start and stop lines\n"
    "  -h, --help             this help\n";

enum {
    F_LISTEN = 1,
    F_LATENCY,
    F_TOKEN_MS,
    F_TOKENS,
    F_FAIL_RATE,
    F_ERROR_MIX,
    F_MAX_CONC,
    F_RETRY_AFTER,
    F_MAX_CONN,
    F_SEED,
    F_SEQUENCE,
    F_QUIET,
    F_API,
    F_HELP
};

static const struct sl_flag flags[] = {
    {"--listen", 1, F_LISTEN},
    {"--latency-ms", 1, F_LATENCY},
    {"--token-ms", 1, F_TOKEN_MS},
    {"--tokens", 1, F_TOKENS},
    {"--fail-rate", 1, F_FAIL_RATE},
    {"--error-mix", 1, F_ERROR_MIX},
    {"--max-concurrency", 1, F_MAX_CONC},
    {"--retry-after", 1, F_RETRY_AFTER},
    {"--max-connections", 1, F_MAX_CONN},
    {"--seed", 1, F_SEED},
    {"--sequence", 1, F_SEQUENCE},
    {"--quiet", 0, F_QUIET},
    {"--api", 1, F_API},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    struct sl_http_server *server;
    struct sl_mock *mock;
    int quiet;
};

static void on_server_closed(void *arg)
{
    struct ctx *c = arg;
    sl_mock_free(c->mock);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    struct ctx *c = handle->data;
    if (!c->quiet) {
        struct sl_mock_stats s;
        sl_mock_stats(c->mock, &s);
        fprintf(stderr, "mock: stopping after %" PRIu64 " requests\n", s.requests);
    }
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    sl_http_server_close(c->server, on_server_closed, c);
}

static int parse(int argc, char **argv, struct sl_mock_config *cfg,
                 struct sl_http_server_config *scfg, char *host, size_t host_size, int *port,
                 int *quiet)
{
    const char *cmd = "mock", *v;
    int id, i = 0;
    char err[256];
    uint64_t u;
    while ((id = sl_args_next(argc, argv, &i, flags, cmd, 0, &v)) > 0) {
        switch (id) {
        case F_LISTEN:
            if (sl_parse_listen(cmd, v, host, host_size, port))
                return -1;
            break;
        case F_LATENCY:
            if (sl_parse_range_ms(cmd, "--latency-ms", v, 3600000, &cfg->latency_min_ms,
                                  &cfg->latency_max_ms))
                return -1;
            break;
        case F_TOKEN_MS:
            if (sl_parse_unsigned(cmd, "--token-ms", v, 0, 60000, &cfg->token_ms))
                return -1;
            break;
        case F_TOKENS:
            if (sl_parse_unsigned(cmd, "--tokens", v, 1, 4096, &cfg->completion_tokens))
                return -1;
            break;
        case F_FAIL_RATE:
            if (sl_parse_double(cmd, "--fail-rate", v, 0, 1, &cfg->fail_rate))
                return -1;
            break;
        case F_ERROR_MIX:
            if (sl_mock_faults_parse(&cfg->faults, v, err, sizeof(err)) != 0) {
                sl_usage_error(cmd, "--error-mix: %s", err);
                return -1;
            }
            break;
        case F_MAX_CONC:
            if (sl_parse_unsigned(cmd, "--max-concurrency", v, 1, 10000000, &cfg->max_concurrency))
                return -1;
            break;
        case F_RETRY_AFTER:
            if (sl_parse_unsigned(cmd, "--retry-after", v, 0, 86400, &cfg->retry_after_s))
                return -1;
            break;
        case F_MAX_CONN:
            if (sl_parse_unsigned(cmd, "--max-connections", v, 1, 1000000, &scfg->max_connections))
                return -1;
            break;
        case F_SEED:
            if (sl_parse_u64(cmd, "--seed", v, 0, UINT64_MAX, &u))
                return -1;
            cfg->seed = u;
            break;
        case F_SEQUENCE:
            if (sl_mock_sequence_parse(cfg, v, err, sizeof(err)) != 0) {
                sl_usage_error(cmd, "--sequence: %s", err);
                return -1;
            }
            break;
        case F_QUIET:
            *quiet = 1;
            break;
        case F_API:
            if (sl_mock_api_parse(v, &cfg->api, err, sizeof(err)) != 0) {
                sl_usage_error(cmd, "--api: %s", err);
                return -1;
            }
            break;
        case F_HELP:
            fputs(usage, stdout);
            return 1;
        }
    }
    return id < 0 ? -1 : 0;
}

int sl_cmd_mock(int argc, char **argv)
{
    struct ctx c = {0};
    struct sl_mock_config cfg;
    struct sl_http_server_config scfg;
    sl_mock_config_default(&cfg);
    sl_http_server_config_default(&scfg);
    char host[256] = "127.0.0.1";
    int port = 8081;
    int rc = parse(argc, argv, &cfg, &scfg, host, sizeof(host), &port, &c.quiet);
    if (rc != 0)
        return rc > 0 ? SL_EXIT_OK : SL_EXIT_USAGE;

    uv_loop_init(&c.loop);
    char err[256];
    if (sl_mock_new(&c.loop, &cfg, &c.mock) != 0 ||
        sl_http_server_new(&c.loop, &scfg, sl_mock_handle, c.mock, &c.server) != 0) {
        fprintf(stderr, "sluice mock: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    if (sl_http_server_listen(c.server, host, port, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluice mock: %s\n", err);
        sl_http_server_close(c.server, on_server_closed, &c);
        uv_run(&c.loop, UV_RUN_DEFAULT);
        uv_loop_close(&c.loop);
        return SL_EXIT_RUNTIME;
    }
    uv_signal_init(&c.loop, &c.sigint);
    uv_signal_init(&c.loop, &c.sigterm);
    c.sigint.data = c.sigterm.data = &c;
    uv_signal_start(&c.sigint, on_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_signal, SIGTERM);
    if (!c.quiet) {
        printf("mock: listening on http://%s:%d (seed %" PRIu64 ", fail rate %g)\n", host,
               sl_http_server_port(c.server), cfg.seed, cfg.fail_rate);
        fflush(stdout);
    }
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    return SL_EXIT_OK;
}
