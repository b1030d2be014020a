/* The gateway's start and end (gateway.h: sl_gateway_new, _shutdown).
 *
 * Start: the router, metrics and keys from the config; the HTTP client
 * with one route per deployment and endpoint; the server; the keys'
 * sync, the shared limits, the trace exporter, then the listener; the
 * drain timer, the deadlines' timer, the reaper, the dashboard and the
 * body log. A failure before the listener opens shuts down what started.
 *
 * End: shutdown drains (the listener stays open, /ready says 503, new API
 * requests get a 503) until no request is in flight or the drain time is
 * up; close_all then cancels what is left (503, failed) and, once the
 * cancelled requests have answered, closes the parts: the drain timer,
 * the deadlines' timer, the reaper, the dashboard, the body log, the
 * server and the client (each counted in pending_closes). The gateway is
 * freed once every part and every gw_req is gone (sl__gw_maybe_closed),
 * after the shared limits and the keys' sync had their last word.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/offload.h"
#include "gateway/auth.h"
#include "gateway/gateway_impl.h"
#include "token/tokenizer.h"

/* The tokenizer's tables take ~0.1 s to build: built at start-up on the
 * pool, not by the first request that needs a count. */
static void warm_tokenizer(void *arg)
{
    (void)arg;
    sl_tok_encoding(SL_TOK_O200K_BASE);
    sl_tok_encoding(SL_TOK_CL100K_BASE);
}

static void warmed(void *arg, int status)
{
    (void)arg;
    (void)status;
}

int sl_gateway_new(uv_loop_t *loop, const struct sl_gateway_options *opts, struct sl_gateway **out,
                   char *err, size_t err_size)
{
    struct sl_gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        snprintf(err, err_size, "out of memory");
        return UV_ENOMEM;
    }
    gw->loop = loop;
    gw->opts = *opts;
    gw->cfg = opts->cfg;
    sl_list_init(&gw->reqs);
    sl_list_init(&gw->spare);
    sl_list_init(&gw->finished);
    sl_rng_seed(&gw->rng, opts->seed ? opts->seed : uv_hrtime(), 1);
    int rc = sl_gw_router_init(&gw->router, gw->cfg, sl_rng_next(&gw->rng));
    if (rc != 0 || sl_gw_metrics_new(gw->cfg, &gw->router, &gw->metrics) != 0 ||
        (gw->keys = sl_gw_keyring_new(gw->cfg)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (opts->master_key && opts->master_key[0]) {
        gw->admin_on = 1;
        sl_sha256(opts->master_key, strlen(opts->master_key), gw->master_sha256);
    }
    struct sl_http_server_config scfg;
    sl_http_server_config_default(&scfg);
    scfg.max_body_bytes = gw->cfg->max_body_bytes;
    /* Keep as many idle upstream connections as the deployments may use at
     * once: fewer would close and reopen connections under steady load. */
    size_t limit = 0;
    for (size_t i = 0; i < gw->router.ndeps; i++)
        limit += gw->router.deps[i].cfg->max_concurrency;
    struct sl_http_client_opts copts = {.max_idle_connections =
                                            (unsigned)(limit < 64      ? 64
                                                       : limit > 16384 ? 16384
                                                                       : limit)};
    rc = sl_http_client_new(loop, &copts, &gw->client);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the HTTP client: %s", uv_strerror(rc));
        goto fail;
    }
    /* each deployment's transport and origin, once (http/client.h) */
    for (size_t i = 0; i < gw->router.ndeps && rc == 0; i++) {
        struct sl_gw_dep *dep = &gw->router.deps[i];
        dep->glue = sl__gw_glue(dep->cfg->provider);
        for (int ep = 0; ep < SL_OAI__COUNT && rc == 0; ep++)
            rc = sl_http_client_route(gw->client, dep->cfg->target.url[ep], &dep->route[ep]);
        if (rc == 0 && dep->cfg->responses_native)
            rc = sl_http_client_route(gw->client, dep->cfg->target.responses_url,
                                      &dep->responses_route);
    }
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve the deployments' URLs: %s", uv_strerror(rc));
        sl_http_client_close(gw->client, NULL, NULL);
        goto fail;
    }
    rc = sl_http_server_new(loop, &scfg, sl__gw_handle, gw, &gw->server);
    if (rc != 0) {
        snprintf(err, err_size, "out of memory");
        sl_http_client_close(gw->client, NULL, NULL);
        goto fail;
    }
    /* the keys in the database, loaded before the listener opens */
    if (gw->cfg->virtual_keys &&
        sl_gw_keysync_new(loop, gw->cfg->db, gw->keys, 500, &gw->keysync, err, err_size) != 0)
        rc = UV_EINVAL;
    else if (gw->cfg->redis.url[0] &&
             sl_gw_shared_new(loop, &gw->cfg->redis, &gw->shared, err, err_size) != 0)
        rc = UV_EINVAL;
    else if (gw->cfg->otel_on && sl_otel_exporter_new(&gw->cfg->otel, &gw->otel, err, err_size))
        rc = UV_EINVAL;
    else
        rc = sl_http_server_listen(gw->server, gw->cfg->listen_host, gw->cfg->listen_port, err,
                                   err_size);
    if (rc != 0) {
        gw->draining = 1;
        sl_gateway_shutdown(gw, 0, NULL, NULL);
        return rc;
    }
    uv_timer_init(loop, &gw->drain_timer);
    gw->drain_timer.data = gw;
    sl_deadlines_init(loop, &gw->deadlines, 1);
    uv_check_init(loop, &gw->reaper);
    gw->reaper.data = gw;
    gw->pending_closes += 2; /* the deadlines' timer and the reaper: on_close_parts */
    if ((gw->admin_on || gw->cfg->ui_public) && sl__gw_ui_new(gw, &gw->ui) == 0)
        gw->pending_closes++; /* its timer, closed in on_close_parts */
    if (gw->cfg->bodies.on && gw->opts.store && sl__gw_bodies_new(gw, &gw->bodies) == 0)
        gw->pending_closes++; /* the same */
    gw->started = 1;
    sl_offload(loop, warm_tokenizer, warmed, NULL, NULL);
    gw->pending_closes++; /* the drain timer, closed in on_close_parts */
    *out = gw;
    return 0;
fail:
    sl_gw_router_release_all(&gw->router);
    sl_gw_metrics_free(gw->metrics);
    sl_gw_keyring_free(gw->keys);
    free(gw);
    return rc ? rc : UV_ENOMEM;
}

int sl_gateway_port(const struct sl_gateway *gw)
{
    return sl_http_server_port(gw->server);
}

uint64_t sl_gateway_in_flight(const struct sl_gateway *gw)
{
    return gw->in_flight;
}

uint64_t sl_gateway_max_in_flight(const struct sl_gateway *gw)
{
    return gw->max_in_flight;
}

/* Everything is closed once the server, the client, the drain timer and
 * every request are gone. */
static void on_keysync_closed(void *arg)
{
    struct sl_gateway *gw = arg;
    gw->keysync = NULL;
    sl__gw_maybe_closed(gw);
}

static void on_shared_closed(void *arg)
{
    struct sl_gateway *gw = arg;
    gw->shared = NULL;
    sl__gw_maybe_closed(gw);
}

void sl__gw_maybe_closed(struct sl_gateway *gw)
{
    if (!gw->closing || gw->pending_closes > 0)
        return;
    if (gw->shared) {
        /* every request gave back what it held */
        if (!gw->shared_closing) {
            gw->shared_closing = 1;
            sl_gw_shared_close(gw->shared, on_shared_closed, gw);
        }
        return;
    }
    if (gw->keysync) {
        /* every request's spend is charged: the last flush, then free */
        if (!gw->keysync_closing) {
            gw->keysync_closing = 1;
            sl_gw_keysync_close(gw->keysync, on_keysync_closed, gw);
        }
        return;
    }
    void (*cb)(void *) = gw->shutdown_cb;
    void *arg = gw->shutdown_arg;
    if (gw->otel) /* every request is over: what is queued goes now (bounded) */
        sl_otel_exporter_close(gw->otel, 1000);
    sl__gw_req_spares_free(gw);
    sl_gw_router_release_all(&gw->router);
    sl_gw_metrics_free(gw->metrics);
    sl_gw_keyring_free(gw->keys);
    free(gw);
    if (cb)
        cb(arg);
}

static void on_part_closed(void *arg)
{
    struct sl_gateway *gw = arg;
    gw->pending_closes--;
    sl__gw_maybe_closed(gw);
}

static void on_timer_closed(uv_handle_t *handle)
{
    on_part_closed(handle->data);
}

static void on_close_parts(uv_timer_t *t)
{
    struct sl_gateway *gw = t->data;
    uv_close((uv_handle_t *)&gw->drain_timer, on_timer_closed);
    sl_deadlines_close(&gw->deadlines, gw, on_timer_closed);
    sl__gw_req_reap(gw);
    uv_close((uv_handle_t *)&gw->reaper, on_timer_closed);
    if (gw->ui) { /* its live pages end before the server closes their connections */
        sl__gw_ui_close(gw->ui, on_part_closed, gw);
        gw->ui = NULL;
    }
    if (gw->bodies) { /* every request is over: what is pending goes to the store */
        sl__gw_bodies_close(gw->bodies, on_part_closed, gw);
        gw->bodies = NULL;
    }
    sl_http_server_close(gw->server, on_part_closed, gw);
    sl_http_client_close(gw->client, on_part_closed, gw);
}

/* From the loop, not from inside the callback of the last request (an
 * upstream or server callback must not close its own client or server). */
void sl__gw_close_parts_soon(struct sl_gateway *gw)
{
    uv_timer_stop(&gw->drain_timer);
    uv_timer_start(&gw->drain_timer, on_close_parts, 0, 0);
}

/* Drained (or out of patience): cancel what is left and close, the
 * listener included (it stayed open during the drain so that /ready could
 * answer 503 and new API requests a 503 with Retry-After). */
static void close_all(struct sl_gateway *gw)
{
    if (gw->closing)
        return;
    gw->closing = 1;
    struct sl_list *n, *next;
    for (n = gw->reqs.next; n != &gw->reqs; n = next) {
        next = n->next;
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        if (!r->cancelled)
            r->shut_down = 1; /* the client cancelled nothing: 503, failed */
        sl__gw_cancel(r);     /* a cancel already on its way stays a cancel */
    }
    if (gw->opts.recorder)
        sl_recorder_flush(gw->opts.recorder); /* what waited for the batch timer goes now */
    /* the server and the client close once the cancelled requests have
     * answered (cancelling an attempt completes on the loop): closing the
     * server now would drop their connections instead of the 503 */
    gw->pending_closes += 2;
    if (gw->in_flight == 0)
        sl__gw_close_parts_soon(gw);
}

static void on_drain_tick(uv_timer_t *t)
{
    struct sl_gateway *gw = t->data;
    if (gw->in_flight == 0 || uv_now(gw->loop) >= gw->drain_deadline_ms) {
        uv_timer_stop(t);
        close_all(gw);
    }
}

void sl_gateway_shutdown(struct sl_gateway *gw, unsigned drain_ms, void (*cb)(void *), void *arg)
{
    if (gw->closing)
        return;
    gw->shutdown_cb = cb;
    gw->shutdown_arg = arg;
    gw->draining = 1;
    if (!gw->started) {
        /* never started (listen failed) */
        gw->closing = 1;
        gw->pending_closes += 2;
        sl_http_server_close(gw->server, on_part_closed, gw);
        sl_http_client_close(gw->client, on_part_closed, gw);
        return;
    }
    if (gw->in_flight == 0 || drain_ms == 0) {
        close_all(gw);
        return;
    }
    gw->drain_deadline_ms = uv_now(gw->loop) + drain_ms;
    uv_timer_start(&gw->drain_timer, on_drain_tick, 10, 10);
}
