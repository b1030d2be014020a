/* The model endpoints. GET /v1/models lists the configured model names;
 * in the quick start (`sluice serve --upstream URL`: one "*" model, so no
 * names of its own) it asks the upstream for its list (GET BASE/models with
 * the upstream's key) and passes the answer on, so an OpenAI client sees
 * the models it can call. GET /v1/models/{id} answers one configured model
 * (any name with a "*" model, as the gateway would route it) or 404.
 *
 * A quick-start listing is a small job of its own: it owns its upstream
 * request and its buffer, answers the client when the upstream is done
 * (unless the client went away: on_abort only clears `down`), and frees
 * itself in on_done, the one end of every upstream request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_impl.h"
#include "gateway/target.h"
#include "http/json_scan.h"

#define MODELS_MAX_BYTES (4u << 20)

struct models_job {
    struct sl_http_exchange *down;
    char id[40];
    char url[SL_GW_BASE_URL_SIZE + 16];
    struct sl_http_header headers[2];
    struct sl_http_request up;
    struct sl_buf body;
};

static void on_models_client_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    struct models_job *j = data;
    j->down = NULL;
    sl_http_request_cancel(&j->up);
}

static int on_models_body(struct sl_http_request *up, const char *data, size_t len)
{
    struct models_job *j = up->data;
    if (sl_buf_append(&j->body, data, len) != 0)
        sl_http_request_cancel(up); /* larger than any real list: a failure */
    return 0;
}

static void on_models_done(struct sl_http_request *up, const struct sl_http_result *res)
{
    struct models_job *j = up->data;
    if (j->down) {
        sl_http_exchange_on_abort(j->down, NULL, NULL);
        struct sl_json_doc doc;
        if (res->err == SL_OK && res->status == 200 && j->body.len &&
            sl_json_scan(j->body.ptr, j->body.len, &doc) == 0 && doc.type == SL_JSON_OBJECT) {
            sl__gw_respond(j->down, j->id, 200, j->body.ptr, j->body.len, 0);
        } else {
            char msg[256];
            snprintf(msg, sizeof(msg), "the upstream did not list its models: %s",
                     res->err != SL_OK    ? sl_err_name(res->err)
                     : res->status == 200 ? "not a JSON object"
                                          : "it answered an error status");
            sl__gw_respond_error(j->down, j->id, 502, "server_error", "bad_gateway", msg, 0);
        }
    }
    sl_buf_release(&j->body);
    free(j);
}

/* The quick start's listing: 0, or -1 when it could not start (the caller
 * answers the configured list instead). */
static int list_upstream(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                         const struct sl_gw_deployment *d)
{
    struct models_job *j = calloc(1, sizeof(*j));
    if (j == NULL || sl_gw_target_url_under(d->url, "models", j->url, sizeof(j->url)) != 0) {
        free(j);
        return -1;
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    size_t nh = 0;
    if (d->target.authorization)
        j->headers[nh++] = d->target.auth_header;
    if (d->target.extra_value)
        j->headers[nh++] = d->target.extra_header;
    sl_buf_init(&j->body, MODELS_MAX_BYTES);
    j->up = (struct sl_http_request){
        .method = "GET",
        .url = j->url,
        .headers = j->headers,
        .n_headers = nh,
        .connect_timeout_ms = d->connect_timeout_ms,
        .total_timeout_ms = d->attempt_timeout_ms,
        .on_body = on_models_body,
        .on_done = on_models_done,
        .data = j,
    };
    j->down = down;
    sl_http_exchange_on_abort(down, on_models_client_gone, j);
    if (sl_http_request_start(gw->client, &j->up) != 0) {
        sl_http_exchange_on_abort(down, NULL, NULL);
        sl_buf_release(&j->body);
        free(j);
        return -1;
    }
    return 0;
}

void sl__gw_respond_models(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    const struct sl_gw_config *cfg = gw->cfg;
    if (cfg->nmodels == 1 && !strcmp(cfg->models[0].name, "*") &&
        cfg->models[0].ndeployments == 1 &&
        cfg->models[0].deployments[0].provider == &sl_gw_provider_openai &&
        list_upstream(gw, down, id, &cfg->models[0].deployments[0]) == 0)
        return;
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    sl_buf_append(&out, "{\"object\":\"list\",\"data\":[", 25);
    int first = 1;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const char *name = cfg->models[i].name;
        if (!strcmp(name, "*"))
            continue;
        char item[256];
        int n = snprintf(item, sizeof(item),
                         "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":0,"
                         "\"owned_by\":\"sluice\"}",
                         first ? "" : ",", name);
        sl_buf_append(&out, item, (size_t)n);
        first = 0;
    }
    sl_buf_append(&out, "]}", 2);
    sl__gw_respond(down, id, 200, out.ptr, out.len, 0);
    sl_buf_release(&out);
}

void sl__gw_respond_model(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                          struct sl_str name)
{
    const struct sl_gw_model *m = sl_gw_config_model(gw->cfg, name.ptr, name.len);
    char esc[300], body[512];
    char raw[128];
    snprintf(raw, sizeof(raw), "%.*s", (int)(name.len < sizeof(raw) ? name.len : 0), name.ptr);
    sl_json_escape(esc, sizeof(esc), raw);
    if (m == NULL || raw[0] == '\0') {
        char msg[400];
        snprintf(msg, sizeof(msg), "the model '%s' does not exist", esc);
        sl_gw_metrics_status(gw->metrics, NULL, 404);
        sl__gw_respond_error(down, id, 404, "invalid_request_error", "model_not_found", msg, 0);
        return;
    }
    int n =
        snprintf(body, sizeof(body),
                 "{\"id\":\"%s\",\"object\":\"model\",\"created\":0,\"owned_by\":\"sluice\"}", esc);
    sl__gw_respond(down, id, 200, body, (size_t)n, 0);
}
