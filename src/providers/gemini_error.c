/* Gemini errors -> OpenAI errors and the gateway's error classes.
 * Google's errors are google.rpc.Status objects: {"error": {"code": 429,
 * "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}
 * (some endpoints wrap the object in a one-element array). The table below
 * is the one place that says what each status becomes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"

#define E(c, s, t, k)                                                                              \
    {                                                                                              \
        .err = (c), .status = (s), .type = (t), .code = (k)                                        \
    }

static const struct {
    const char *gemini;
    struct sl_gemini_error e;
} table[] = {
    {"INVALID_ARGUMENT", E(SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL)},
    {"FAILED_PRECONDITION", E(SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL)},
    {"OUT_OF_RANGE", E(SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL)},
    {"UNAUTHENTICATED", E(SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key")},
    {"PERMISSION_DENIED", E(SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied")},
    {"NOT_FOUND", E(SL_E_BAD_REQUEST, 404, "invalid_request_error", "not_found")},
    {"RESOURCE_EXHAUSTED", E(SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded")},
    {"INTERNAL", E(SL_E_SERVER_ERROR, 500, "server_error", NULL)},
    {"UNKNOWN", E(SL_E_SERVER_ERROR, 500, "server_error", NULL)},
    {"UNAVAILABLE", E(SL_E_UNAVAILABLE, 503, "server_error", NULL)},
    {"DEADLINE_EXCEEDED", E(SL_E_TIMEOUT, 504, "server_error", "timeout")},
};

/* A bad API key: Gemini says 400 INVALID_ARGUMENT, the client should hear 401. */
static const struct sl_gemini_error key_invalid_error =
    E(SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key");

struct sl_gemini_error sl_gemini_error_class(const char *status, size_t len, int code,
                                             int key_invalid)
{
    if (key_invalid)
        return key_invalid_error;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (status && strlen(table[i].gemini) == len && memcmp(table[i].gemini, status, len) == 0)
            return table[i].e;
    struct sl_gemini_error e = E(SL_E_SERVER_ERROR, 502, "server_error", NULL);
    if (code >= 400 && code < 600) {
        e.err = sl_err_from_http_status(code);
        e.status = code;
        if (code < 500)
            e.type = code == 429 ? "requests" : "invalid_request_error";
    }
    return e;
}

/* What the details array says: an ErrorInfo with reason API_KEY_INVALID
 * (returns 1) and a RetryInfo's retryDelay ("57s", "0.5s": *retry_s,
 * rounded up). */
static int read_details(const struct sl_json_pick *details, long *retry_s)
{
    int key_invalid = 0;
    if (!details->found || details->m.type != SL_JSON_ARRAY)
        return 0;
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(&details->m);
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &item)) {
        struct sl_json_pick r[2] = {{.key = "reason"}, {.key = "retryDelay"}};
        if (sl_xlat_pick(sl_xlat_span(item), r, 2) != 0)
            continue;
        if (sl_xlat_is(&r[0], "API_KEY_INVALID"))
            key_invalid = 1;
        if (r[1].found && r[1].m.type == SL_JSON_STRING && r[1].m.value.len > 1 &&
            r[1].m.value.len < 24 && r[1].m.value.ptr[r[1].m.value.len - 1] == 's') {
            char num[24];
            memcpy(num, r[1].m.value.ptr, r[1].m.value.len - 1);
            num[r[1].m.value.len - 1] = '\0';
            char *end;
            double v = strtod(num, &end);
            if (*end == '\0' && v >= 0 && v < 86400)
                *retry_s = (long)v + ((double)(long)v < v);
        }
    }
    return key_invalid;
}

/* The error object of a body: {"error": {...}} or [{"error": {...}}]. */
static int error_object(const char *body, size_t len, struct sl_str *obj)
{
    struct sl_json_pick top[1] = {{.key = "error"}};
    struct sl_json_doc d;
    struct sl_json_value first, v = sl_json_value_of(body, len);
    if (sl_json_scan(body, len, &d) == 0 && d.type == SL_JSON_ARRAY) {
        struct sl_json_walk wk;
        sl_json_enter(&wk, &v);
        if (!sl_json_next_item(&wk, &first))
            return -1;
        body = first.start;
        len = (size_t)(first.end - first.start);
    }
    if (sl_xlat_pick((struct sl_str){body, len}, top, 1) != 0 || !top[0].found ||
        top[0].m.type != SL_JSON_OBJECT)
        return -1;
    *obj = top[0].m.value;
    return 0;
}

/* The OpenAI error object for a Gemini error body, written as a value. A
 * body without that shape keeps the class of its status and a message
 * that says so. */
static void write_error(struct sl_jw *w, int status, const char *body, size_t len,
                        struct sl_gemini_error *cls)
{
    enum { E_CODE, E_MESSAGE, E_STATUS, E_DETAILS, E__N };
    struct sl_json_pick in[E__N] = {
        {.key = "code"}, {.key = "message"}, {.key = "status"}, {.key = "details"}};
    struct sl_str obj;
    int shaped = error_object(body, len, &obj) == 0 && sl_xlat_pick(obj, in, E__N) == 0;
    const struct sl_json_member *st =
        shaped && in[E_STATUS].found && in[E_STATUS].m.type == SL_JSON_STRING ? &in[E_STATUS].m
                                                                              : NULL;
    int code = status;
    if (shaped && in[E_CODE].found && in[E_CODE].m.type == SL_JSON_NUMBER)
        code = (int)strtol(in[E_CODE].m.value.ptr, NULL, 10);
    long retry_s = 0;
    int key_invalid = shaped && read_details(&in[E_DETAILS], &retry_s);
    *cls =
        sl_gemini_error_class(st ? st->value.ptr : NULL, st ? st->value.len : 0, code, key_invalid);
    cls->retry_after_s = retry_s;
    struct sl_str message = {NULL, 0};
    if (shaped && in[E_MESSAGE].found && in[E_MESSAGE].m.type == SL_JSON_STRING)
        message = sl_xlat_raw(&in[E_MESSAGE].m);
    char fallback[96];
    if (status)
        snprintf(fallback, sizeof(fallback), "gemini answered HTTP %d without an error body",
                 status);
    else
        snprintf(fallback, sizeof(fallback), "gemini sent an error event without a message");
    sl__xlat_error_object(w, message.ptr ? &message : NULL, fallback, cls->type, cls->code);
}

int sl_gemini_error(int status, const char *body, size_t len, struct sl_buf *out,
                    struct sl_gemini_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    write_error(&w, status, body, len, cls);
    return sl_jw_finish(&w);
}

int sl_gemini_error_event(const char *data, size_t len, struct sl_buf *out,
                          struct sl_gemini_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    w.err = sl_buf_append(out, "data: ", 6); /* a failure here still classifies */
    write_error(&w, 0, data, len, cls);
    int rc = sl_jw_finish(&w);
    return rc ? rc : sl_buf_append(out, "\n\n", 2);
}
