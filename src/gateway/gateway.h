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

#include "gateway/config.h"
#include "gateway/recorder.h"

struct sl_gateway;

struct sl_gateway_options {
    const struct sl_gw_config *cfg;
    /* where each request's row goes (it must outlive the gateway), or NULL.
     * While it is backlogged, new API requests get 503 with Retry-After
     * and no row (not accepted). */
    struct sl_recorder *recorder;
    int log_json;
    int quiet; /* no per-request log lines */
    uint64_t seed;
    /* the admin API's key (SLUICE_MASTER_KEY); NULL or "": the API is off */
    const char *master_key;
    /* the request log's store (the body log writes there), or NULL; and the
     * store the dashboard reads through (a reader beside the writer, or the
     * same) */
    struct sl_store *store, *read_store;
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
