/* The gateway's front: the routes of its HTTP server. Each exchange gets an
 * id; the API endpoints are validated here (drain, log backlog, key, body,
 * model) and either refused, with a log row like any request, or handed to
 * the request state machine (gateway.c) as a gw_req; the other endpoints
 * (/health, /ready, /metrics, /v1/models, the cancel endpoint) are answered
 * here. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "gateway/admin.h"
#include "gateway/auth.h"
#include "gateway/gateway_impl.h"
#include "gateway/log_line.h"
#include "http/json_scan.h"

/* "req_" and 16 hex digits (out: room for 21). */
static void new_id(struct sl_gateway *gw, char *out, size_t size)
{
    assert(size >= 21);
    (void)size;
    memcpy(out, "req_", 4);
    sl_fmt_hex64(out + 4, sl_rng_next(&gw->rng));
    out[20] = '\0';
}

/* Sends a JSON response with x-request-id (and Retry-After when > 0). */
void sl__gw_respond(struct sl_http_exchange *down, const char *id, int status, const char *body,
                    size_t len, int retry_after_s)
{
    sl__gw_respond_with(down, id, status, NULL, 0, body, len, retry_after_s);
}

void sl__gw_respond_with(struct sl_http_exchange *down, const char *id, int status,
                         const struct sl_http_header *extra, size_t n_extra, const char *body,
                         size_t len, int retry_after_s)
{
    char ra[16];
    struct sl_http_header h[2 + SL_GW_FWD_HEADERS] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    size_t n = 1;
    if (retry_after_s > 0) {
        int k = snprintf(ra, sizeof(ra), "%d", retry_after_s);
        h[n++] = (struct sl_http_header){{"Retry-After", 11}, {ra, (size_t)k}};
    }
    for (size_t i = 0; i < n_extra && i < SL_GW_FWD_HEADERS; i++)
        h[n++] = extra[i];
    sl_http_respond(down, status, h, n, "application/json", body, len);
}

/* Sends an OpenAI-shaped error with x-request-id (and Retry-After when > 0). */
void sl__gw_respond_error(struct sl_http_exchange *down, const char *id, int status,
                          const char *type, const char *code, const char *message,
                          int retry_after_s)
{
    char body[1536];
    size_t n = sl_openai_error_body(body, sizeof(body), type, code, message);
    sl__gw_respond(down, id, status, body, n, retry_after_s);
}

/* The row of a request refused before it reached any deployment (one log
 * row per request), once it was answered; counted in the metrics. */
static void record_refused(struct sl_gateway *gw, const char *id, enum gw_front front,
                           enum sl_openai_endpoint ep, const char *model_name, const char *key,
                           int status, enum sl_err err)
{
    sl_gw_metrics_status(gw->metrics, NULL, status);
    struct sl_gw_log_row row = {
        .key = key ? key : "",
        .model = model_name,
        .deployment = "",
        .endpoint = front == GW_FRONT_MESSAGES    ? "messages"
                    : front == GW_FRONT_RESPONSES ? "responses"
                                                  : sl_openai_name(ep),
        .started_us = sl_wall_us(),
        .status = status,
        .error = err,
        .outcome = SL_GW_ERROR,
    };
    snprintf(row.id, sizeof(row.id), "%s", id);
    if (!gw->opts.quiet)
        sl_gw_log_request(gw->opts.log_json, &row);
    if (gw->opts.recorder)
        sl_recorder_add(gw->opts.recorder, &row);
}

/* A request refused before it reached any deployment: answered in the
 * client's API and recorded. */
static void refuse(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                   enum gw_front front, enum sl_openai_endpoint ep, struct sl_str model,
                   const char *key, int status, enum sl_err err, const char *type, const char *code,
                   const char *message, int retry_after_s)
{
    /* model points into the request: copied before the answer ends it */
    char model_name[128];
    snprintf(model_name, sizeof(model_name), "%.*s", (int)model.len, model.ptr ? model.ptr : "");
    sl__gw_front_error(down, id, front, status, type, code, message, retry_after_s);
    record_refused(gw, id, front, ep, model_name, key, status, err);
}

/* The caller's gateway key header: Authorization, or for a Messages
 * client (Anthropic's SDKs send their key so) x-api-key as a Bearer token
 * in scratch. */
static const struct sl_str *key_header(const struct sl_http_head *h, enum gw_front front,
                                       char *scratch, size_t size, struct sl_str *out)
{
    const struct sl_str *auth = sl_http_head_get(h, "authorization");
    const struct sl_str *x = front == GW_FRONT_MESSAGES ? sl_http_head_get(h, "x-api-key") : NULL;
    if (auth || x == NULL || x->len + 8 > size)
        return auth;
    int n = snprintf(scratch, size, "Bearer %.*s", (int)x->len, x->ptr);
    *out = (struct sl_str){scratch, (size_t)n};
    return out;
}

/* Whether a deployment of m serves the Responses API itself. */
static int responses_native(const struct sl_gw_model *m)
{
    for (size_t i = 0; m && i < m->ndeployments; i++)
        if (m->deployments[i].responses_native)
            return 1;
    return 0;
}

/* A client's body in another API than OpenAI's (fronts.c): made a chat
 * completions body in chat, the fields a Response echoes in echo, and the
 * client's body as sent in raw when a deployment may take it as it is
 * (Messages: always, for an Anthropic deployment; Responses: when the
 * model has a `responses: native` deployment), its model in *model. A
 * Responses request that cannot be translated (stateful) but has a native
 * deployment leaves chat empty and the refusal in *stateful for the
 * others. 0, or -1 after answering the client's 400/413. */
static int front_request(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                         enum gw_front front, const char *key_name, struct sl_str body,
                         struct sl_buf *chat, struct sl_buf *echo, struct sl_buf *raw,
                         struct sl_str *model, struct sl_xlat_refusal *stateful, int *only_native)
{
    struct sl_xlat_refusal no = {{0}, {0}};
    struct sl_str raw_model = {NULL, 0};
    int rc;
    *only_native = 0;
    if (front == GW_FRONT_MESSAGES) {
        struct sl_messages_req_info info;
        rc = sl_messages_request(body.ptr, body.len, 0, chat, &info, &no);
        raw_model = info.model;
    } else {
        struct sl_responses_req_info info;
        struct sl_responses_req_opts opts = {NULL};
        struct sl_responses_peek peek;
        rc = sl_responses_request(body.ptr, body.len, &opts, chat, echo, &info, &no);
        if ((rc == 0 || rc == UV_EINVAL) &&
            sl_responses_peek(body.ptr, body.len, &peek, stateful) == 0 &&
            responses_native(sl_gw_config_model(gw->cfg, peek.model.ptr, peek.model.len))) {
            raw_model = peek.model;
            if (rc == UV_EINVAL) { /* a native deployment may serve what chat cannot */
                *stateful = no;
                *only_native = 1;
                rc = 0;
            }
        }
    }
    if (rc == 0 && raw_model.ptr) {
        if (sl_buf_append(raw, body.ptr, body.len) != 0)
            rc = UV_ENOMEM;
        else
            *model = (struct sl_str){raw->ptr + (raw_model.ptr - body.ptr), raw_model.len};
    }
    if (rc == 0)
        return 0;
    if (rc == UV_EINVAL) { /* the translator's refusal: its field and its words */
        struct sl_buf out;
        sl_buf_init(&out, 8192);
        if (front == GW_FRONT_MESSAGES)
            sl_messages_refusal_body(&no, &out);
        else
            sl__gw_refusal_body(&no, &out);
        sl__gw_respond(down, id, 400, out.ptr ? out.ptr : "{}", out.ptr ? out.len : 2, 0);
        sl_buf_release(&out);
        record_refused(gw, id, front, SL_OAI_CHAT, "", key_name, 400, SL_E_BAD_REQUEST);
        return -1;
    }
    int too_large = rc == UV_ENOBUFS;
    refuse(gw, down, id, front, SL_OAI_CHAT, (struct sl_str){NULL, 0}, key_name,
           too_large ? 413 : 503, too_large ? SL_E_TOO_LARGE : SL_E_UNAVAILABLE,
           too_large ? "invalid_request_error" : "server_error",
           too_large ? "request_too_large" : "out_of_memory",
           too_large ? "the request is too large once translated" : "out of memory", 0);
    return -1;
}

/* A Responses request only a native deployment serves: what the gateway
 * reads of it, as sl_openai_parse would of a chat body. */
static void peek_request(struct sl_str body, struct sl_openai_req *oai)
{
    struct sl_responses_peek peek;
    struct sl_xlat_refusal no;
    sl_responses_peek(body.ptr, body.len, &peek, &no); /* front_request checked it */
    *oai = (struct sl_openai_req){.model = peek.model,
                                  .stream = peek.stream,
                                  .max_tokens = peek.max_output_tokens,
                                  .stream_options = 1 /* nothing to ask: the usage comes anyway */};
}

/* Whether a deployment of m sends the client's own key. */
static int needs_client_key(const struct sl_gw_model *m)
{
    for (size_t i = 0; i < m->ndeployments; i++)
        if (m->deployments[i].client_key)
            return 1;
    return 0;
}

static void handle_proxy(struct sl_gateway *gw, struct sl_http_exchange *down,
                         enum sl_openai_endpoint ep, const char *id, enum gw_front front)
{
    const struct sl_http_head *h = sl_http_exchange_head(down);
    const struct sl_gw_config *cfg = gw->cfg;
    const char *key_name = NULL;
    struct sl_gw_key_entry *key = NULL;
    struct sl_gw_refusal no;
    struct sl_str no_model = {NULL, 0};
    if (gw->draining) {
        refuse(gw, down, id, front, ep, no_model, NULL, 503, SL_E_UNAVAILABLE, "server_error",
               "shutting_down", "the gateway is shutting down", 1);
        return;
    }
    if (gw->opts.recorder && sl_recorder_backlogged(gw->opts.recorder)) {
        sl_gw_metrics_status(gw->metrics, NULL, 503);
        sl__gw_front_error(down, id, front, 503, "server_error", "log_backlogged",
                           "the request log cannot keep up; retry shortly", 1);
        return;
    }
    if (sl_gw_needs_key(cfg, SL_GW_ROUTE_API)) {
        int why;
        char scratch[512];
        struct sl_str bearer;
        key = sl_gw_keyring_find(gw->keys, key_header(h, front, scratch, sizeof(scratch), &bearer),
                                 &why);
        if (key == NULL) {
            refuse(gw, down, id, front, ep, no_model, NULL, 401, SL_E_UNAUTHORIZED,
                   "invalid_request_error", "invalid_api_key",
                   why == -1 ? front == GW_FRONT_MESSAGES
                                   ? "missing API key: send x-api-key: KEY or Authorization: "
                                     "Bearer KEY"
                                   : "missing API key: send Authorization: Bearer KEY"
                             : "incorrect API key",
                   0);
            return;
        }
        key_name = key->s.name;
        if (sl_gw_key_usable(key, sl_wall_us(), &no) != 0) {
            refuse(gw, down, id, front, ep, no_model, key_name, no.status, SL_E_UNAUTHORIZED,
                   no.type, no.code, no.message, 0);
            return;
        }
    }
    struct sl_str body = sl_http_exchange_body(down);
    struct sl_buf chat, echo, raw;
    struct sl_str front_model = {NULL, 0};
    struct sl_xlat_refusal stateful;
    int only_native = 0;
    sl_buf_init(&chat, 2 * cfg->max_body_bytes + 64 * 1024);
    sl_buf_init(&echo, cfg->max_body_bytes + 64 * 1024);
    sl_buf_init(&raw, cfg->max_body_bytes + 1);
    if (front != GW_FRONT_OPENAI) {
        if (front_request(gw, down, id, front, key_name, body, &chat, &echo, &raw, &front_model,
                          &stateful, &only_native) != 0)
            goto out;
        if (!only_native)
            body = (struct sl_str){chat.ptr, chat.len};
    }
    struct sl_openai_req oai;
    const char *code;
    char msg[200];
    if (only_native) {
        peek_request(body, &oai);
    } else if (sl_openai_parse(body.ptr, body.len, ep, &oai, &code, msg, sizeof(msg)) != 0) {
        refuse(gw, down, id, front, ep, no_model, key_name, 400, SL_E_BAD_REQUEST,
               "invalid_request_error", code, msg, 0);
        goto out;
    }
    struct sl_str model_name = oai.model;
    const struct sl_gw_model *m = sl_gw_config_model(cfg, model_name.ptr, model_name.len);
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "the model '%.*s' does not exist", (int)model_name.len,
                 model_name.ptr);
        refuse(gw, down, id, front, ep, model_name, key_name, 404, SL_E_BAD_REQUEST,
               "invalid_request_error", "model_not_found", msg, 0);
        goto out;
    }
    if (key && sl_gw_key_allows(key, model_name, &no) != 0) {
        refuse(gw, down, id, front, ep, model_name, key_name, no.status, SL_E_UNAUTHORIZED, no.type,
               no.code, no.message, 0);
        goto out;
    }
    char client_key[512];
    if (needs_client_key(m) && sl__gw_client_key(h, sl_gw_needs_key(cfg, SL_GW_ROUTE_API),
                                                 client_key, sizeof(client_key)) != 0) {
        refuse(gw, down, id, front, ep, model_name, key_name, 401, SL_E_UNAUTHORIZED,
               "invalid_request_error", "missing_upstream_key",
               "this model's deployments take your own provider key (api_key: client): send it "
               "in x-upstream-api-key",
               0);
        goto out;
    }
    struct sl__gw_start start = {
        .id = id,
        .front = front,
        .front_body = front != GW_FRONT_OPENAI ? &echo : NULL,
        .front_raw = &raw,
        .front_model = front_model,
        .stateful = only_native ? &stateful : NULL,
        .ep = ep,
        .model = m,
        .model_name = model_name,
        .key = key,
        .stream = oai.stream,
        .stream_options = oai.stream_options,
        .max_tokens = oai.max_tokens,
        .body = body,
    };
    if (sl__gw_proxy(gw, down, &start) != 0) {
        refuse(gw, down, id, front, ep, model_name, key_name, 503, SL_E_UNAVAILABLE, "server_error",
               "out_of_memory", "out of memory", 1);
    }
out:
    sl_buf_release(&chat);
    sl_buf_release(&echo); /* unless the request took their bytes */
    sl_buf_release(&raw);
}

/* Cancels a request in flight, but only for the key that started it: for
 * any other key, or none, the answer is the same 404 as for an unknown id,
 * so that ids cannot be probed. `key` is the caller's key (NULL when none
 * was sent or it matched no key); without authentication anyone may
 * cancel. */
static void handle_cancel(struct sl_gateway *gw, struct sl_http_exchange *down,
                          struct sl_str target, const char *id, const struct sl_gw_key_entry *key)
{
    int rc = sl__gw_cancel_id(gw, target, key);
    if (rc == 0) {
        sl__gw_respond_error(down, id, 409, "invalid_request_error", "already_answered",
                             "the request was answered already: nothing to cancel", 0);
    } else if (rc > 0) {
        char body[128];
        int k = snprintf(body, sizeof(body), "{\"id\":\"%.*s\",\"cancelled\":true}",
                         (int)target.len, target.ptr);
        sl__gw_respond(down, id, 200, body, (size_t)k, 0);
    } else {
        sl__gw_respond_error(down, id, 404, "invalid_request_error", "request_not_found",
                             "no request in flight with that id", 0);
    }
}

static void respond_metrics(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    struct sl_buf out;
    sl_buf_init(&out, 64u << 20);
    uint64_t spooled = gw->opts.recorder ? sl_recorder_spooled(gw->opts.recorder) : 0;
    sl_gw_metrics_render(gw->metrics, gw->keys, &out, gw->in_flight,
                         gw->opts.recorder ? &spooled : NULL);
    if (gw->shared)
        sl_gw_shared_render_metrics(gw->shared, &out);
    if (gw->otel)
        sl__gw_trace_render_metrics(gw, &out);
    if (gw->bodies) {
        uint64_t v[3];
        sl__gw_bodies_counters(gw->bodies, &v[0], &v[1], &v[2]);
        static const char *const names[] = {"sluice_bodies_stored_total",
                                            "sluice_bodies_dropped_total",
                                            "sluice_bodies_failed_total"};
        static const char *const helps[] = {
            "Conversations the body log stored.",
            "Conversations the body log dropped: its queue was full.",
            "Conversations the store refused."};
        for (int i = 0; i < 3; i++) {
            sl_prom_help(&out, names[i], "counter", helps[i]);
            sl_prom_value(&out, names[i], "", (double)v[i]);
        }
    }
    struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    sl_http_respond(down, 200, h, 1, "text/plain; version=0.0.4", out.ptr ? out.ptr : "", out.len);
    sl_buf_release(&out);
}

/* 405 with the Allow header the status requires (RFC 9110 15.5.6). */
static void respond_405(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                        const char *allow)
{
    struct sl_http_header h[2] = {{{"x-request-id", 12}, {id, strlen(id)}},
                                  {{"Allow", 5}, {allow, strlen(allow)}}};
    char msg[64];
    snprintf(msg, sizeof(msg), "method not allowed; use %s", allow);
    sl_gw_metrics_status(gw->metrics, NULL, 405);
    sl_http_respond_error_with(down, 405, h, 2, "invalid_request_error", "method_not_allowed", msg);
}

/* The caller's usable key, or NULL; *why as sl_gw_keyring_find's, and -3
 * for a key that is revoked, disabled or expired. */
static struct sl_gw_key_entry *caller_key(const struct sl_gateway *gw, const struct sl_http_head *h,
                                          enum gw_front front, int *why)
{
    char scratch[512];
    struct sl_str bearer;
    struct sl_gw_key_entry *k =
        sl_gw_keyring_find(gw->keys, key_header(h, front, scratch, sizeof(scratch), &bearer), why);
    struct sl_gw_refusal no;
    if (k && sl_gw_key_usable(k, sl_wall_us(), &no) != 0) {
        *why = -3;
        return NULL;
    }
    return k;
}

/* For a route that needs a key (sl_gw_needs_key): answers 401 and returns
 * 0 when the caller has none that matches. */
static int authorized_as(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                         enum sl_gw_route route, enum gw_front front)
{
    if (!sl_gw_needs_key(gw->cfg, route))
        return 1;
    int why;
    if (caller_key(gw, sl_http_exchange_head(down), front, &why))
        return 1;
    sl_gw_metrics_status(gw->metrics, NULL, 401);
    sl__gw_front_error(down, id, front, 401, "invalid_request_error", "invalid_api_key",
                       why == -1   ? "missing API key: send Authorization: Bearer KEY"
                       : why == -3 ? "the API key is revoked, disabled or expired"
                                   : "incorrect API key",
                       0);
    return 0;
}

static int authorized(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                      enum sl_gw_route route)
{
    return authorized_as(gw, down, id, route, GW_FRONT_OPENAI);
}

/* Routing. The API endpoints (POST) and GET /v1/models need a key when
 * keys are configured, and so does /metrics unless metrics.public; the
 * cancel endpoint answers only the key that started the request; /health
 * and /ready are always open. HEAD is accepted wherever GET is (the server
 * sends the head without the body). A known path with another method is
 * 405 with Allow. */
void sl__gw_handle(struct sl_http_exchange *down, void *data)
{
    struct sl_gateway *gw = data;
    const struct sl_http_head *h = sl_http_exchange_head(down);
    char id[40];
    new_id(gw, id, sizeof(id));
    int get = sl_str_eq(h->method, "GET") || sl_str_eq(h->method, "HEAD");
    int post = sl_str_eq(h->method, "POST");
    struct sl_str path = h->path;
    int ep = sl_openai_endpoint(path);
    enum gw_front front = GW_FRONT_OPENAI;
    if (ep < 0 && sl_str_eq(path, SL_ANTHROPIC_PATH)) {
        ep = SL_OAI_CHAT; /* Anthropic's Messages API, through chat completions */
        front = GW_FRONT_MESSAGES;
    } else if (ep < 0 && sl_str_eq(path, SL_RESPONSES_PATH)) {
        ep = SL_OAI_CHAT; /* OpenAI's Responses API, through chat completions */
        front = GW_FRONT_RESPONSES;
    }
    if (ep >= 0) {
        if (!post) {
            respond_405(gw, down, id, "POST");
            return;
        }
        const char *why = NULL;
        int own = sl__gw_client_id(gw, h, id, sizeof(id), &why);
        if (own < 0) { /* answered with an id of the gateway's, and recorded */
            refuse(gw, down, id, front, (enum sl_openai_endpoint)ep, (struct sl_str){NULL, 0}, NULL,
                   own == -2 ? 409 : 400, SL_E_BAD_REQUEST, "invalid_request_error",
                   own == -2 ? "duplicate_request_id" : "invalid_request_id", why, 0);
            return;
        }
        handle_proxy(gw, down, (enum sl_openai_endpoint)ep, id, front);
        return;
    }
    if (sl__gw_ui_handle(gw, down, id))
        return; /* the dashboard (ui.c) */
    if (path.len >= 6 && memcmp(path.ptr, "/admin", 6) == 0 &&
        (path.len == 6 || path.ptr[6] == '/')) {
        sl__gw_admin(gw, down, id);
        return;
    }
    static const char prefix[] = "/v1/requests/", suffix[] = "/cancel";
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
    if (path.len > pl + sl && memcmp(path.ptr, prefix, pl) == 0 &&
        memcmp(path.ptr + path.len - sl, suffix, sl) == 0) {
        if (!post)
            respond_405(gw, down, id, "POST");
        else {
            int why;
            handle_cancel(gw, down, (struct sl_str){path.ptr + pl, path.len - pl - sl}, id,
                          caller_key(gw, h, GW_FRONT_OPENAI, &why));
        }
        return;
    }
    if (sl_str_eq(path, "/v1/messages/count_tokens")) {
        if (!post)
            respond_405(gw, down, id, "POST");
        else if (authorized_as(gw, down, id, SL_GW_ROUTE_API, GW_FRONT_MESSAGES))
            sl__gw_count_tokens(gw, down, id);
        return;
    }
    int health = sl_str_eq(path, "/health"), ready = sl_str_eq(path, "/ready");
    int metrics = sl_str_eq(path, "/metrics"), models = sl_str_eq(path, "/v1/models");
    static const char model_prefix[] = "/v1/models/";
    int one_model = path.len > sizeof(model_prefix) - 1 &&
                    memcmp(path.ptr, model_prefix, sizeof(model_prefix) - 1) == 0;
    if ((health || ready || metrics || models || one_model) && !get) {
        respond_405(gw, down, id, "GET, HEAD");
    } else if (health) {
        sl__gw_respond(down, id, 200, "{\"status\":\"ok\"}", 15, 0);
    } else if (ready) {
        if (gw->draining)
            sl__gw_respond(down, id, 503, "{\"status\":\"draining\"}", 21, 0);
        else
            sl__gw_respond(down, id, 200, "{\"status\":\"ready\"}", 18, 0);
    } else if (metrics) {
        if (authorized(gw, down, id, SL_GW_ROUTE_METRICS))
            respond_metrics(gw, down, id);
    } else if (models) {
        if (authorized(gw, down, id, SL_GW_ROUTE_MODELS))
            sl__gw_respond_models(gw, down, id);
    } else if (one_model) {
        if (authorized(gw, down, id, SL_GW_ROUTE_MODELS))
            sl__gw_respond_model(gw, down, id,
                                 (struct sl_str){path.ptr + sizeof(model_prefix) - 1,
                                                 path.len - (sizeof(model_prefix) - 1)});
    } else {
        sl_gw_metrics_status(gw->metrics, NULL, 404);
        sl__gw_respond_error(
            down, id, 404, "invalid_request_error", "unknown_url",
            "unknown URL; the gateway serves /v1/chat/completions, /v1/completions, "
            "/v1/embeddings, /v1/responses, /v1/messages, /v1/models, /health, /ready, /metrics, "
            "/ui",
            0);
    }
}
