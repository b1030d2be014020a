/* Bedrock errors -> OpenAI errors and the gateway's error classes.
 *
 * A failed Bedrock call says what went wrong in the x-amzn-ErrorType
 * header ("ThrottlingException:http://internal.amazon.com/coral/..."), its
 * body is {"message": "..."} (or "Message"); a stream's exception message
 * carries the same names in :exception-type with a lower-case first letter
 * ("throttlingException"). The table below is the one place that says what
 * each becomes; the statuses in its comments are AWS's. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "providers/bedrock_int.h"

static const struct {
    const char *aws;
    struct sl_bedrock_error e;
} table[] = {
    /* 400 */
    {"ValidationException", {SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL}},
    {"ConflictException", {SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL}},
    /* 403: the gateway's credentials or their rights, not the client's */
    {"AccessDeniedException",
     {SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied"}},
    {"UnrecognizedClientException",
     {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    {"InvalidSignatureException",
     {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    {"IncompleteSignatureException",
     {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    {"MissingAuthenticationTokenException",
     {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    {"ExpiredTokenException", {SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key"}},
    /* 404: the model id (or inference profile) in the path */
    {"ResourceNotFoundException",
     {SL_E_BAD_REQUEST, 404, "invalid_request_error", "model_not_found"}},
    /* 429 */
    {"ThrottlingException", {SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded"}},
    /* 400 at AWS: a quota of the account, worth a fallback elsewhere */
    {"ServiceQuotaExceededException", {SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded"}},
    /* 429 at AWS: the model is being loaded, the SDKs retry it */
    {"ModelNotReadyException", {SL_E_UNAVAILABLE, 503, "server_error", "model_not_ready"}},
    /* 408 */
    {"ModelTimeoutException", {SL_E_TIMEOUT, 504, "server_error", "timeout"}},
    /* 424: the model failed while answering */
    {"ModelErrorException", {SL_E_BAD_GATEWAY, 502, "server_error", NULL}},
    {"ModelStreamErrorException", {SL_E_BAD_GATEWAY, 502, "server_error", NULL}},
    /* 500, 503 */
    {"InternalServerException", {SL_E_SERVER_ERROR, 500, "server_error", NULL}},
    {"ServiceUnavailableException", {SL_E_UNAVAILABLE, 503, "server_error", "overloaded"}},
};

struct sl_bedrock_error sl_bedrock_error_class(const char *type, size_t len, int status)
{
    /* "Name:http://..." -> "Name" */
    const char *colon = type ? memchr(type, ':', len) : NULL;
    if (colon)
        len = (size_t)(colon - type);
    for (size_t i = 0; type && len > 0 && i < sizeof(table) / sizeof(table[0]); i++) {
        const char *name = table[i].aws;
        if (strlen(name) == len && toupper((unsigned char)type[0]) == name[0] &&
            memcmp(name + 1, type + 1, len - 1) == 0)
            return table[i].e;
    }
    struct sl_bedrock_error e = {SL_E_BAD_GATEWAY, 502, "server_error", NULL};
    if (status >= 400 && status < 600) {
        e.err = sl_err_from_http_status(status);
        e.status = status;
        if (status == 429) {
            e.type = "requests";
            e.code = "rate_limit_exceeded";
        } else if (status < 500) {
            e.type = "invalid_request_error";
        }
    }
    return e;
}

/* {"message": ...} (or "Message") -> the OpenAI error object, written as a
 * value. A body without a message gets one that names the status and the
 * type. */
static void write_error(struct sl_jw *w, int status, struct sl_str type, const char *body,
                        size_t len, struct sl_bedrock_error *cls)
{
    struct sl_json_pick p[2] = {{.key = "message"}, {.key = "Message"}};
    *cls = sl_bedrock_error_class(type.ptr, type.len, status);
    const struct sl_json_member *msg = NULL;
    if (sl_xlat_pick((struct sl_str){body, len}, p, 2) == 0) {
        if (p[0].found && p[0].m.type == SL_JSON_STRING)
            msg = &p[0].m;
        else if (p[1].found && p[1].m.type == SL_JSON_STRING)
            msg = &p[1].m;
    }
    char text[160] = "";
    struct sl_str raw = msg ? sl_xlat_raw(msg) : (struct sl_str){NULL, 0};
    if (msg == NULL) {
        const char *colon = type.ptr ? memchr(type.ptr, ':', type.len) : NULL;
        int tlen = (int)(colon ? (size_t)(colon - type.ptr) : type.len);
        if (tlen > 64)
            tlen = 64;
        if (status)
            snprintf(text, sizeof(text), "bedrock answered HTTP %d%s%.*s without a message", status,
                     tlen ? " " : "", tlen, tlen ? type.ptr : "");
        else if (tlen)
            snprintf(text, sizeof(text), "bedrock's stream failed with %.*s", tlen, type.ptr);
        else
            snprintf(text, sizeof(text), "bedrock's stream failed with an error");
    }
    sl__xlat_error_object(w, msg ? &raw : NULL, text, cls->type, cls->code);
}

int sl_bedrock_error(int status, const char *error_type, size_t type_len, const char *body,
                     size_t len, struct sl_buf *out, struct sl_bedrock_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    write_error(&w, status, (struct sl_str){error_type, error_type ? type_len : 0}, body, len, cls);
    return sl_jw_finish(&w);
}

int sl__bedrock_error_event(struct sl_str type, const char *payload, size_t len, struct sl_buf *out,
                            struct sl_bedrock_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    w.err = sl_buf_append(out, "data: ", 6); /* a failure here still classifies */
    write_error(&w, 0, type, payload, len, cls);
    int rc = sl_jw_finish(&w);
    return rc ? rc : sl_buf_append(out, "\n\n", 2);
}
