/* The admin API: virtual keys managed at run time, on the gateway's own
 * listener, for callers with the master key (SLUICE_MASTER_KEY).
 *
 *   POST   /admin/keys                 create; the answer holds the secret, once
 *   GET    /admin/keys                 list
 *   GET    /admin/keys/{id|name}       get
 *   PATCH  /admin/keys/{id|name}       update (POST also)
 *   POST   /admin/keys/{id|name}/rotate  a new secret, once; the old one stops
 *   POST   /admin/keys/{id|name}/revoke  for good (DELETE /admin/keys/{id} also)
 *   GET    /admin/keys/{id|name}/usage   the period's spend, and this instance's live state
 *
 * Each operation is a keysync request (the database on the thread pool);
 * the exchange may go away meanwhile: the call then finishes unanswered. A
 * call owns itself and is freed when keysync answered it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "gateway/admin.h"
#include "gateway/auth.h"
#include "gateway/gateway_impl.h"
#include "store/key_record.h"

struct admin_call {
    struct sl_gw_key_request req;
    struct sl_gateway *gw;
    struct sl_http_exchange *down; /* NULL once the client is gone */
    char id[40];
};

static void on_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    struct admin_call *c = data;
    c->down = NULL;
}

static void error(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id, int status,
                  const char *code, const char *message)
{
    sl_gw_metrics_status(gw->metrics, NULL, status);
    sl__gw_respond_error(down, id, status, status >= 500 ? "server_error" : "invalid_request_error",
                         code, message, status == 503 ? 1 : 0);
}

/* A store/keys.h error as an HTTP answer. */
static void store_error(struct admin_call *c)
{
    int rc = c->req.rc, status = 500;
    const char *code = "database_error";
    if (rc == UV_ENOENT)
        status = 404, code = "key_not_found";
    else if (rc == UV_EEXIST)
        status = 409, code = "key_exists";
    else if (rc == UV_EINVAL)
        status = 400, code = "invalid_request";
    else if (rc == UV_EPERM)
        status = 409, code = "key_revoked";
    else if (rc == UV_ECANCELED)
        status = 503, code = "shutting_down";
    else if (rc == UV_EIO)
        status = 503;
    error(c->gw, c->down, c->id, status, code, c->req.err[0] ? c->req.err : "the operation failed");
}

/* The record's JSON, with the secret when there is one. */
static int record_json(const struct sl_gw_key_request *q, struct sl_buf *out)
{
    if (sl_key_record_json(&q->rec, out) != 0)
        return -1;
    if (q->secret[0] == '\0')
        return 0;
    out->len--; /* the closing brace */
    char tail[SL_KEY_SECRET_LEN + 16];
    int n = snprintf(tail, sizeof tail, ",\"secret\":\"%s\"}", q->secret);
    return sl_buf_append(out, tail, (size_t)n);
}

static int usage_json(struct admin_call *c, struct sl_buf *out)
{
    const struct sl_key_record *r = &c->req.rec;
    const struct sl_key_usage *u = &c->req.usage;
    char start[21], end[21], body[1024];
    sl_key_time_iso(u->period_start_us, start);
    if (u->period_end_us != INT64_MAX)
        sl_key_time_iso(u->period_end_us, end);
    struct sl_gw_key_entry *k = sl_gw_keyring_get(c->gw->keys, r->id);
    uint64_t now = (uint64_t)sl_mono_us();
    /* the database's, and what this instance charged since its last flush
     * (no flush runs while an admin operation does: keysync runs one job
     * at a time) */
    double spent = u->usd + (k ? sl_gw_key_unwritten(k, sl_wall_us()) : 0);
    int n = snprintf(
        body, sizeof body,
        "{\"id\":\"%s\",\"object\":\"gateway.key.usage\",\"budget_period\":\"%s\","
        "\"period_start\":\"%s\",\"period_end\":%s%s%s,\"spend_usd\":%.9g,\"budget_usd\":",
        r->id, sl_key_period_name(r->period), start, u->period_end_us == INT64_MAX ? "" : "\"",
        u->period_end_us == INT64_MAX ? "null" : end, u->period_end_us == INT64_MAX ? "" : "\"",
        spent);
    if (r->budget_usd > 0)
        n += snprintf(body + n, sizeof body - (size_t)n, "%.17g,\"remaining_usd\":%.9g",
                      r->budget_usd, r->budget_usd > spent ? r->budget_usd - spent : 0.0);
    else
        n += snprintf(body + n, sizeof body - (size_t)n, "null,\"remaining_usd\":null");
    n += snprintf(body + n, sizeof body - (size_t)n,
                  ",\"requests\":%llu,\"prompt_tokens\":%llu,\"completion_tokens\":%llu",
                  (unsigned long long)u->requests, (unsigned long long)u->prompt_tokens,
                  (unsigned long long)u->completion_tokens);
    if (k)
        n += snprintf(
            body + n, sizeof body - (size_t)n,
            ",\"this_instance\":{\"in_flight\":%u,\"rpm_used\":%llu,\"tpm_used\":%llu,"
            "\"spend_usd\":%.9g}",
            k->in_flight,
            (unsigned long long)(k->rate.rpm.limit ? sl_window_used(&k->rate.rpm, now) : 0),
            (unsigned long long)(k->rate.tpm.limit ? sl_window_used(&k->rate.tpm, now) : 0),
            sl_gw_key_spent(k, sl_wall_us()));
    n += snprintf(body + n, sizeof body - (size_t)n, "}");
    return sl_buf_append(out, body, (size_t)n);
}

static void on_done(struct sl_gw_key_request *q)
{
    struct admin_call *c = sl_container_of(q, struct admin_call, req);
    if (c->down) {
        sl_http_exchange_on_abort(c->down, NULL, NULL);
        if (q->rc != 0) {
            store_error(c);
        } else {
            struct sl_buf out;
            sl_buf_init(&out, 80u << 20);
            int rc;
            if (q->op == SL_GW_KEY_LIST) {
                rc = sl_buf_append(&out, "{\"object\":\"list\",\"data\":[", 25);
                rc = rc ? rc : sl_buf_append(&out, q->list.ptr ? q->list.ptr : "", q->list.len);
                rc = rc ? rc : sl_buf_append(&out, "]}", 2);
            } else if (q->op == SL_GW_KEY_USAGE) {
                rc = usage_json(c, &out);
            } else {
                rc = record_json(q, &out);
            }
            int status = q->op == SL_GW_KEY_CREATE ? 201 : 200;
            if (rc != 0) {
                error(c->gw, c->down, c->id, 500, "out_of_memory", "out of memory");
            } else {
                sl_gw_metrics_status(c->gw->metrics, NULL, status);
                sl__gw_respond(c->down, c->id, status, out.ptr, out.len, 0);
            }
            sl_buf_release(&out);
        }
    }
    if (q->op == SL_GW_KEY_LIST)
        sl_buf_release(&q->list);
    /* the secret is not left in freed memory */
    memset(q->secret, 0, sizeof q->secret);
    free(c);
}

static int master_key_ok(const struct sl_gateway *gw, const struct sl_str *auth)
{
    unsigned char digest[32];
    return sl_gw_bearer_digest(auth, digest) == 0 && sl_ct_equal(digest, gw->master_sha256, 32);
}

void sl__gw_admin(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    const struct sl_http_head *h = sl_http_exchange_head(down);
    if (!gw->admin_on) {
        error(gw, down, id, 403, "admin_disabled",
              "the admin API is off: start sluice serve with SLUICE_MASTER_KEY set");
        return;
    }
    if (!master_key_ok(gw, sl_http_head_get(h, "authorization"))) {
        error(gw, down, id, 401, "invalid_api_key",
              "the admin API needs Authorization: Bearer MASTER_KEY");
        return;
    }
    if (gw->keysync == NULL) {
        error(gw, down, id, 409, "virtual_keys_off",
              "virtual keys are off: set virtual_keys: true in the config");
        return;
    }
    /* /admin/keys[/NAME[/ACTION]] */
    static const char base[] = "/admin/keys";
    struct sl_str path = h->path;
    size_t bl = sizeof(base) - 1;
    if (path.len < bl || memcmp(path.ptr, base, bl) != 0 ||
        (path.len > bl && path.ptr[bl] != '/')) {
        error(gw, down, id, 404, "unknown_url", "unknown admin URL; see /admin/keys");
        return;
    }
    const char *name = path.ptr + bl + (path.len > bl), *end = path.ptr + path.len;
    const char *slash = memchr(name, '/', (size_t)(end - name));
    size_t name_len = (size_t)((slash ? slash : end) - name);
    struct sl_str action =
        slash ? (struct sl_str){slash + 1, (size_t)(end - slash - 1)} : (struct sl_str){"", 0};
    int get = sl_str_eq(h->method, "GET") || sl_str_eq(h->method, "HEAD");
    int post = sl_str_eq(h->method, "POST");
    int patch = sl_str_eq(h->method, "PATCH"), del = sl_str_eq(h->method, "DELETE");
    enum sl_gw_key_op op;
    if (name_len == 0 && action.len == 0 && (get || post))
        op = post ? SL_GW_KEY_CREATE : SL_GW_KEY_LIST;
    else if (name_len && action.len == 0 && (get || post || patch || del))
        op = get ? SL_GW_KEY_GET : del ? SL_GW_KEY_REVOKE : SL_GW_KEY_UPDATE;
    else if (name_len && sl_str_eq(action, "rotate") && post)
        op = SL_GW_KEY_ROTATE;
    else if (name_len && sl_str_eq(action, "revoke") && post)
        op = SL_GW_KEY_REVOKE;
    else if (name_len && sl_str_eq(action, "usage") && get)
        op = SL_GW_KEY_USAGE;
    else {
        error(gw, down, id, 404, "unknown_url",
              "unknown admin URL or method; see docs/keys.md for the admin API");
        return;
    }
    if (name_len > SL_KEY_NAME_MAX) {
        error(gw, down, id, 404, "key_not_found", "no such key");
        return;
    }
    struct admin_call *c = calloc(1, sizeof *c);
    if (!c) {
        error(gw, down, id, 503, "out_of_memory", "out of memory");
        return;
    }
    c->gw = gw;
    c->down = down;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->req.op = op;
    c->req.done = on_done;
    memcpy(c->req.id, name, name_len);
    if (op == SL_GW_KEY_CREATE || op == SL_GW_KEY_UPDATE) {
        struct sl_str body = sl_http_exchange_body(down);
        if (op == SL_GW_KEY_CREATE)
            sl_key_record_init(&c->req.fields);
        if (sl_key_update_parse_json(body.ptr, body.len, &c->req.fields, &c->req.mask, c->req.err,
                                     sizeof c->req.err) != 0 ||
            (op == SL_GW_KEY_CREATE && !(c->req.mask & SL_KEY_F_NAME) &&
             snprintf(c->req.err, sizeof c->req.err, "a key needs a name") > 0)) {
            error(gw, down, id, 400, "invalid_request", c->req.err);
            free(c);
            return;
        }
    }
    /* before the submit: keysync may answer at once (shutting down) */
    sl_http_exchange_on_abort(down, on_gone, c);
    if (sl_gw_keysync_submit(gw->keysync, &c->req) != 0) {
        sl_http_exchange_on_abort(down, NULL, NULL);
        error(gw, down, id, 503, "admin_busy",
              "too many admin operations are waiting for the database; retry shortly");
        free(c);
    }
}
