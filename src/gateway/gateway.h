/* The gateway: an OpenAI-compatible HTTP front that routes each request to
 * an upstream deployment under that deployment's concurrency limit,
 * retries what is transient, falls back to the model's next deployment,
 * streams SSE through without buffering, cancels the upstream the moment
 * the client goes away (or POST /v1/requests/{id}/cancel is called), and
 * hands one log row per request to a recorder.
 *
 * Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings;
 * GET /v1/models, /health, /ready, /metrics; POST /v1/requests/{id}/cancel.
 * Every response carries x-request-id. */
#ifndef SL_GATEWAY_H
#define SL_GATEWAY_H

#include <stdint.h>
#include <uv.h>

#include "core/errclass.h"
#include "gateway/config.h"

enum sl_gw_outcome { SL_GW_OK, SL_GW_ERROR, SL_GW_CANCELLED };
const char *sl_gw_outcome_name(enum sl_gw_outcome outcome); /* "ok", "error", "cancelled" */

/* One row per request, handed to the recorder when the request is over. */
struct sl_gw_log_row {
    char id[40];
    const char *key;        /* the gateway key's name, or "" */
    const char *model;      /* as the client asked */
    const char *deployment; /* the last one tried, or "" */
    const char *endpoint;   /* "chat/completions", ... */
    int64_t started_us;     /* wall clock */
    unsigned attempts;
    unsigned fallbacks;                 /* deployments tried after the first */
    double queue_ms, ttfb_ms, total_ms; /* ttfb: to the first byte sent to the client */
    int status;                         /* HTTP status sent to the client */
    enum sl_err error;                  /* SL_OK, or why it failed */
    enum sl_gw_outcome outcome;
    int stream;
    unsigned prompt_tokens, completion_tokens; /* from the upstream's usage */
    unsigned prompt_tokens_counted;            /* counted by the gateway (thread pool) */
};

typedef void (*sl_gw_recorder)(const struct sl_gw_log_row *row, void *arg);

struct sl_gateway;

struct sl_gateway_options {
    const struct sl_gw_config *cfg;
    sl_gw_recorder record;
    void *record_arg;
    int log_json;
    int quiet; /* no per-request log lines */
    uint64_t seed;
    /* The recorder's state (called with record_arg): rows it sent to a
     * spool file so far (/metrics), and whether it holds rows the store
     * cannot take yet: then new API requests get 503 with Retry-After and
     * no row (not accepted), so its backlog stays bounded by the requests
     * already in flight. Either may be NULL. */
    uint64_t (*log_spooled)(void *record_arg);
    int (*log_backlogged)(void *record_arg);
};

int sl_gateway_new(uv_loop_t *loop, const struct sl_gateway_options *opts, struct sl_gateway **out,
                   char *err, size_t err_size);
int sl_gateway_port(const struct sl_gateway *gw);

/* Drains: while requests in flight finish (for up to drain_ms) the
 * listener stays open, /health answers 200, /ready 503, and new API
 * requests 503 with Retry-After; then what is left is cancelled, the
 * listener and every connection are closed, and cb is called. */
void sl_gateway_shutdown(struct sl_gateway *gw, unsigned drain_ms, void (*cb)(void *), void *arg);

uint64_t sl_gateway_in_flight(const struct sl_gateway *gw);
uint64_t sl_gateway_max_in_flight(const struct sl_gateway *gw);

#endif
