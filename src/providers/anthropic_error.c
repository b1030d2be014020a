/* Anthropic errors -> OpenAI errors and the gateway's error classes.
 * Anthropic documents its error types with their statuses; the table below
 * is the one place that says what each becomes. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"

static const struct {
    const char *anthropic;
    struct sl_anthropic_error e;
} table[] = {
    {"invalid_request_error", {SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL}},
    {"authentication_error", {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    {"billing_error", {SL_E_BAD_REQUEST, 402, "insufficient_quota", "insufficient_quota"}},
    {"permission_error", {SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied"}},
    {"not_found_error", {SL_E_BAD_REQUEST, 404, "invalid_request_error", "not_found"}},
    {"request_too_large", {SL_E_BAD_REQUEST, 413, "invalid_request_error", "request_too_large"}},
    {"rate_limit_error", {SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded"}},
    {"api_error", {SL_E_SERVER_ERROR, 500, "server_error", NULL}},
    {"timeout_error", {SL_E_TIMEOUT, 504, "server_error", "timeout"}},
    /* 529 is Anthropic's own: the client gets 503, which it knows */
    {"overloaded_error", {SL_E_UNAVAILABLE, 503, "server_error", "overloaded"}},
};

struct sl_anthropic_error sl_anthropic_error_class(const char *type, size_t len, int status)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (type && strlen(table[i].anthropic) == len && memcmp(table[i].anthropic, type, len) == 0)
            return table[i].e;
    if (status == 529)
        return table[sizeof(table) / sizeof(table[0]) - 1].e;
    struct sl_anthropic_error e = {SL_E_SERVER_ERROR, 502, "server_error", NULL};
    if (status >= 400 && status < 600) {
        e.err = sl_err_from_http_status(status);
        e.status = status;
        if (status < 500)
            e.type = status == 429 ? "requests" : "invalid_request_error";
    }
    return e;
}

/* {"type":"error","error":{"type":..,"message":..}} -> the OpenAI error
 * object, written as a value. A body without that shape keeps the class
 * of its status and a message that says so. */
static void write_error(struct sl_jw *w, int status, const char *body, size_t len,
                        struct sl_anthropic_error *cls)
{
    struct sl_json_pick top[1] = {{.key = "error"}};
    struct sl_json_pick in[2] = {{.key = "type"}, {.key = "message"}};
    int shaped = sl__anth_pick((struct sl_str){body, len}, top, 1) == 0 && top[0].found &&
                 sl__anth_pick(sl__anth_raw(&top[0].m), in, 2) == 0;
    const struct sl_json_member *type =
        shaped && in[0].found && in[0].m.type == SL_JSON_STRING ? &in[0].m : NULL;
    *cls =
        sl_anthropic_error_class(type ? type->value.ptr : NULL, type ? type->value.len : 0, status);
    char msg[96] = "";
    struct sl_str raw = {NULL, 0};
    if (shaped && in[1].found && in[1].m.type == SL_JSON_STRING)
        raw = sl__anth_raw(&in[1].m);
    else if (status)
        snprintf(msg, sizeof(msg), "anthropic answered HTTP %d without an error body", status);
    else
        snprintf(msg, sizeof(msg), "anthropic sent an error event without an error");
    sl__xlat_error_object(w, raw.ptr ? &raw : NULL, msg, cls->type, cls->code);
}

int sl_anthropic_error(int status, const char *body, size_t len, struct sl_buf *out,
                       struct sl_anthropic_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    write_error(&w, status, body, len, cls);
    return sl_jw_finish(&w);
}

int sl_anthropic_error_event(const char *data, size_t len, struct sl_buf *out,
                             struct sl_anthropic_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    w.err = sl_buf_append(out, "data: ", 6); /* a failure here still classifies */
    write_error(&w, 0, data, len, cls);
    int rc = sl_jw_finish(&w);
    return rc ? rc : sl_buf_append(out, "\n\n", 2);
}
