/* The mock's Bedrock wire: the Bedrock Runtime's Converse API,
 * POST /model/{modelId}/converse (a Converse response) and
 * /model/{modelId}/converse-stream (the binary event stream:
 * messageStart, contentBlockDelta..., contentBlockStop, messageStop,
 * metadata, each an application/vnd.amazon.eventstream frame), AWS's error
 * shape (the x-amzn-ErrorType header, {"message": ...}) for the faults
 * (429 ThrottlingException, 503 ServiceUnavailableException, 500
 * InternalServerException, 502 as 424 ModelErrorException, 400
 * ValidationException, 401 as 403 UnrecognizedClientException).
 *
 * Checks as Bedrock makes them: an Authorization header (else 403
 * MissingAuthenticationTokenException); a body with messages and no member
 * Converse does not know (a leaked "model" or "stream": 400
 * ValidationException). Strict signing: when the mock's own environment
 * has AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, every request's SigV4
 * signature is computed again with them (providers/sigv4.h) and compared: an
 * unknown access key or session token is 403 UnrecognizedClientException,
 * a signature that differs (a wrong secret, a changed body) 403
 * InvalidSignatureException, a signing time more than 15 minutes off 403
 * InvalidSignatureException "Signature expired".
 *
 * A request whose toolConfig.toolChoice is {"tool": {name}} or {"any": {}}
 * is answered with a call of that tool (the first tool for any), its input
 * {"text": <the words>}, streamed in pieces. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "mock/wire.h"
#include "providers/eventstream.h"
#include "providers/sigv4.h"

#define ERROR_TYPE_NS ":http://internal.amazon.com/coral/com.amazon.bedrock/"

/* The mock's fault statuses as Bedrock shows them. */
static const char *aws_type(int status, int *shown)
{
    *shown = status;
    switch (status) {
    case 429:
        return "ThrottlingException";
    case 503:
        return "ServiceUnavailableException";
    case 500:
        return "InternalServerException";
    case 502:
        *shown = 424;
        return "ModelErrorException";
    case 401:
        *shown = 403;
        return "UnrecognizedClientException";
    case 403:
        return "AccessDeniedException";
    case 404:
        return "ResourceNotFoundException";
    default:
        return status >= 500 ? "InternalServerException" : "ValidationException";
    }
}

static void bedrock_error(struct mock_req *mr, int status, const char *code, const char *message)
{
    int shown;
    const char *type = aws_type(status, &shown);
    if (code && strlen(code) > 9 && strcmp(code + strlen(code) - 9, "Exception") == 0)
        type = code; /* parse named the exception itself */
    char error_type[160];
    snprintf(error_type, sizeof(error_type), "%s%s", type, ERROR_TYPE_NS);
    struct sl_http_header h[1] = {
        {{"x-amzn-ErrorType", 16}, {error_type, strlen(error_type)}},
    };
    struct sl_buf b;
    struct sl_jw w;
    sl_buf_init(&b, 4096);
    sl_jw_init(&w, &b);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "message", message);
    sl_jw_end(&w);
    sl__mock_reply(mr, shown, h, 1, b.ptr, sl_jw_finish(&w) == 0 ? b.len : 0);
    sl_buf_release(&b);
}

/* Bedrock's request id on every answer (no rate-limit headers: AWS sends
 * none; its quotas show as ThrottlingException). */
static size_t bedrock_headers(struct mock_req *mr, const struct sl_mock_limits *lim,
                              struct sl_http_header *out, size_t room, char *buf, size_t size)
{
    (void)lim;
    size_t n = 0, used = 0;
    sl__mock_header(out, room, &n, buf, size, &used, "x-amzn-RequestId",
                    "00000000-0000-4000-8000-%012" PRIu64, mr->seq);
    return n;
}

/* /model/{modelId}/converse[-stream]: the model id percent-decoded. */
static int bedrock_route(struct mock_req *mr, const struct sl_http_head *h)
{
    struct sl_str p = h->path;
    if (p.len < 8 || memcmp(p.ptr, "/model/", 7) != 0)
        return -1;
    const char *id = p.ptr + 7, *end = p.ptr + p.len;
    const char *slash = memchr(id, '/', (size_t)(end - id));
    if (slash == NULL || slash == id)
        return -1;
    struct sl_str op = {slash + 1, (size_t)(end - slash - 1)};
    if (sl_str_eq(op, "converse"))
        mr->stream = 0;
    else if (sl_str_eq(op, "converse-stream"))
        mr->stream = 1;
    else
        return -1;
    size_t n = 0;
    for (const char *c = id; c < slash && n + 1 < sizeof(mr->model); c++) {
        int hi, lo;
        if (*c == '%' && slash - c > 2 && (hi = sl_hex_digit(c[1])) >= 0 &&
            (lo = sl_hex_digit(c[2])) >= 0) {
            mr->model[n++] = (char)(hi << 4 | lo);
            c += 2;
        } else {
            mr->model[n++] = *c;
        }
    }
    mr->model[n] = '\0';
    mr->ep = SL_OAI_CHAT;
    return 0;
}

/* ---- SigV4, checked again ---- */

static const char sig_mismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char bad_token[] = "The security token included in the request is invalid.";

static const char *header(const struct sl_http_head *h, const char *name, char *out, size_t size)
{
    const struct sl_str *v = sl_http_header_get(h->headers, h->nheaders, name);
    if (v == NULL || v->len >= size)
        return NULL;
    memcpy(out, v->ptr, v->len);
    out[v->len] = '\0';
    return out;
}

/* The value of `key=` in the Authorization header, up to ',' or the end. */
static struct sl_str auth_field(const char *auth, const char *key)
{
    const char *p = strstr(auth, key);
    if (p == NULL)
        return (struct sl_str){NULL, 0};
    p += strlen(key);
    return (struct sl_str){p, strcspn(p, ", ")};
}

static time_t amz_time(const char *s)
{
    struct tm tm = {0};
    if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' ||
        sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return (time_t)-1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/* Returns 0 or 403 with the exception in *code. Without credentials in the
 * mock's environment, only the header's presence is checked. */
static int check_signature(const struct sl_http_head *h, struct sl_str body, const char **code,
                           char *why, size_t why_size)
{
    char auth[1024], date[32], host[300], token[2048];
    if (header(h, "authorization", auth, sizeof(auth)) == NULL) {
        *code = "MissingAuthenticationTokenException";
        snprintf(why, why_size, "Missing Authentication Token");
        return 403;
    }
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0')
        return 0;
    struct sl_str cred = auth_field(auth, "Credential="),
                  names = auth_field(auth, "SignedHeaders="), sig = auth_field(auth, "Signature=");
    char scope[5][128] = {{0}};
    int parts = 0;
    for (size_t i = 0, at = 0; cred.ptr && i <= cred.len && parts < 5; i++)
        if (i == cred.len || cred.ptr[i] == '/') {
            snprintf(scope[parts++], sizeof(scope[0]), "%.*s", (int)(i - at), cred.ptr + at);
            at = i + 1;
        }
    *code = "IncompleteSignatureException";
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || parts != 5 || names.ptr == NULL ||
        sig.ptr == NULL || header(h, "x-amz-date", date, sizeof(date)) == NULL ||
        header(h, "host", host, sizeof(host)) == NULL) {
        snprintf(why, why_size,
                 "Authorization header requires Credential, SignedHeaders and "
                 "Signature, and X-Amz-Date and Host headers");
        return 403;
    }
    const char *env_token = getenv("AWS_SESSION_TOKEN");
    const char *req_token = header(h, "x-amz-security-token", token, sizeof(token));
    *code = "UnrecognizedClientException";
    if (strcmp(scope[0], id) != 0 || ((env_token && *env_token) != (req_token != NULL)) ||
        (req_token && strcmp(req_token, env_token) != 0)) {
        snprintf(why, why_size, "%s", bad_token);
        return 403;
    }
    *code = "InvalidSignatureException";
    time_t t = amz_time(date), now = time(NULL);
    if (t == (time_t)-1 || t < now - 900 || t > now + 900) {
        snprintf(why, why_size,
                 "Signature expired: %s is not within 15 minutes of the server's "
                 "time",
                 date);
        return 403;
    }
    /* the headers it signed, as sl_sigv4_sign takes them (host, x-amz-date,
     * the token and the payload hash it adds itself) */
    struct sl_sigv4_header signed_h[16];
    char values[16][512], name_buf[16][64];
    size_t n = 0;
    int content_sha = 0;
    for (size_t i = 0, at = 0; i <= names.len; i++) {
        if (i < names.len && names.ptr[i] != ';')
            continue;
        snprintf(name_buf[n], sizeof(name_buf[n]), "%.*s", (int)(i - at), names.ptr + at);
        at = i + 1;
        const char *nm = name_buf[n];
        if (!strcmp(nm, "x-amz-content-sha256"))
            content_sha = 1;
        if (!strcmp(nm, "host") || !strcmp(nm, "x-amz-date") ||
            !strcmp(nm, "x-amz-security-token") || !strcmp(nm, "x-amz-content-sha256"))
            continue;
        if (n == 16 || header(h, nm, values[n], sizeof(values[n])) == NULL) {
            snprintf(why, why_size, "%s", sig_mismatch);
            return 403;
        }
        signed_h[n] = (struct sl_sigv4_header){name_buf[n], values[n]};
        n++;
    }
    char path[2048], query[2048];
    snprintf(path, sizeof(path), "%.*s", (int)h->path.len, h->path.ptr);
    snprintf(query, sizeof(query), "%.*s", (int)h->query.len, h->query.ptr ? h->query.ptr : "");
    struct sl_sigv4_request req = {
        .method = "POST",
        .host = host,
        .path = path,
        .query = query[0] ? query : NULL,
        .headers = signed_h,
        .n_headers = n,
        .payload = body.ptr,
        .payload_len = body.len,
        .region = scope[2],
        .service = scope[3],
        .time = t,
        .sign_content_sha256 = content_sha,
    };
    struct sl_sigv4_creds creds = {id, secret, req_token};
    struct sl_sigv4_signed out;
    const char *err;
    int rc = sl_sigv4_sign(&req, &creds, NULL, &out, NULL, NULL, &err);
    int same =
        rc == 0 && sig.len == strlen(out.signature) && memcmp(sig.ptr, out.signature, sig.len) == 0;
    sl_sigv4_signed_release(&out);
    if (!same) {
        snprintf(why, why_size, "%s", sig_mismatch);
        return 403;
    }
    return 0;
}

/* ---- the body ---- */

static int known_member(struct sl_str key)
{
    static const char *const known[] = {"messages",
                                        "system",
                                        "inferenceConfig",
                                        "toolConfig",
                                        "guardrailConfig",
                                        "additionalModelRequestFields",
                                        "additionalModelResponseFieldPaths",
                                        "promptVariables",
                                        "requestMetadata",
                                        "performanceConfig"};
    for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
        if (sl_str_eq(key, known[i]))
            return 1;
    return 0;
}

/* The tool the answer calls: toolChoice {tool: {name}}, or the first
 * tool's name for {any: {}}; "" otherwise. */
static void chosen_tool(struct sl_str tool_config, char *out, size_t size)
{
    struct sl_json_doc d;
    struct sl_json_pick c[2] = {{.key = "tools"}, {.key = "toolChoice"}};
    out[0] = '\0';
    if (sl_json_scan_pick(tool_config.ptr, tool_config.len, &d, c, 2) != 0 || !c[1].found)
        return;
    struct sl_json_pick k[2] = {{.key = "tool"}, {.key = "any"}};
    struct sl_json_pick name[1] = {{.key = "name"}};
    if (sl_json_scan_pick(c[1].m.value.ptr, c[1].m.value.len, &d, k, 2) != 0)
        return;
    struct sl_str from = {NULL, 0};
    if (k[0].found) {
        from = k[0].m.value;
    } else if (k[1].found && c[0].found && c[0].m.type == SL_JSON_ARRAY) {
        struct sl_json_walk w;
        struct sl_json_value first, arr = {c[0].m.value.ptr, c[0].m.value.ptr + c[0].m.value.len};
        struct sl_json_pick spec[1] = {{.key = "toolSpec"}};
        if (sl_json_enter(&w, &arr) == 0 && sl_json_next_item(&w, &first) &&
            sl_json_scan_pick(first.start, (size_t)(first.end - first.start), &d, spec, 1) == 0 &&
            spec[0].found)
            from = spec[0].m.value;
    }
    if (from.ptr && sl_json_scan_pick(from.ptr, from.len, &d, name, 1) == 0 && name[0].found &&
        name[0].m.type == SL_JSON_STRING && name[0].m.value.len < size) {
        memcpy(out, name[0].m.value.ptr, name[0].m.value.len);
        out[name[0].m.value.len] = '\0';
    }
}

static int bedrock_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                         const char **code, char *why, size_t why_size)
{
    int status = check_signature(h, body, code, why, why_size);
    if (status)
        return status;
    *code = "ValidationException";
    struct sl_json_doc d;
    struct sl_json_pick p[3] = {
        {.key = "messages"}, {.key = "inferenceConfig"}, {.key = "toolConfig"}};
    if (sl_json_scan_pick(body.ptr, body.len, &d, p, 3) != 0 || d.type != SL_JSON_OBJECT) {
        snprintf(why, why_size,
                 "Malformed input request, please reformat your input and try again.");
        return 400;
    }
    struct sl_json_walk w;
    struct sl_json_value k, v, all = {body.ptr, body.ptr + body.len};
    sl_json_enter(&w, &all);
    while (sl_json_next_member(&w, &k, &v)) {
        struct sl_str key = {k.start + 1, (size_t)(k.end - k.start - 2)};
        if (!known_member(key)) {
            snprintf(why, why_size,
                     "Malformed input request: extraneous key [%.*s] is not permitted, please "
                     "reformat your input and try again.",
                     (int)(key.len < 64 ? key.len : 64), key.ptr);
            return 400;
        }
    }
    if (!p[0].found || p[0].m.type != SL_JSON_ARRAY || p[0].m.items == 0) {
        snprintf(why, why_size, "A conversation must start with a user message.");
        return 400;
    }
    struct sl_json_pick max[1] = {{.key = "maxTokens"}};
    if (p[1].found && sl_json_scan_pick(p[1].m.value.ptr, p[1].m.value.len, &d, max, 1) == 0 &&
        max[0].found && max[0].m.type == SL_JSON_NUMBER) {
        long n = strtol(max[0].m.value.ptr, NULL, 10);
        mr->tokens_total = n < 1 ? 1 : (unsigned)(n > 4096 ? 4096 : n);
    }
    if (p[2].found)
        chosen_tool(p[2].m.value, mr->tool, sizeof(mr->tool));
    else
        mr->tool[0] = '\0';
    mr->prompt_tokens = (unsigned)(body.len / 4) + 1;
    return 0;
}

static size_t bedrock_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
    int n;
    if (mr->tool[0])
        n = snprintf(out, size,
                     "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"toolUse\":"
                     "{\"toolUseId\":\"tooluse_mock%" PRIu64 "\",\"name\":\"%s\",\"input\":{"
                     "\"text\":\"%s\"}}}]}},\"stopReason\":\"tool_use\",\"usage\":{"
                     "\"inputTokens\":%u,\"outputTokens\":%u,\"totalTokens\":%u},\"metrics\":{"
                     "\"latencyMs\":1}}",
                     mr->seq, mr->tool, text, mr->prompt_tokens, mr->tokens_total,
                     mr->prompt_tokens + mr->tokens_total);
    else
        n = snprintf(out, size,
                     "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"
                     "\"%s\"}]}},\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":%u,"
                     "\"outputTokens\":%u,\"totalTokens\":%u},\"metrics\":{\"latencyMs\":1}}",
                     text, mr->prompt_tokens, mr->tokens_total,
                     mr->prompt_tokens + mr->tokens_total);
    return sl__mock_fitted(n, size);
}

/* ---- the stream: event-stream frames ---- */

/* Appends one event frame (payload a printf format) to out at *at. */
static void frame(char *out, size_t size, size_t *at, const char *event_type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void frame(char *out, size_t size, size_t *at, const char *event_type, const char *fmt, ...)
{
    char payload[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(payload, sizeof(payload), fmt, ap);
    va_end(ap);
    struct sl_es_header h[3] = {
        {.name = {":event-type", 11},
         .type = SL_ES_STRING,
         .str = {event_type, strlen(event_type)}},
        {.name = {":content-type", 13}, .type = SL_ES_STRING, .str = {"application/json", 16}},
        {.name = {":message-type", 13}, .type = SL_ES_STRING, .str = {"event", 5}},
    };
    if (*at == (size_t)-1)
        return;
    struct sl_buf b;
    sl_buf_init(&b, size - *at);
    if (n > 0 && (size_t)n < sizeof(payload) &&
        sl_eventstream_encode(&b, h, 3, payload, (size_t)n) == 0) {
        memcpy(out + *at, b.ptr, b.len);
        *at += b.len;
    } else {
        *at = (size_t)-1; /* did not fit: the hook returns 0 */
    }
    sl_buf_release(&b);
}

static size_t done(size_t at)
{
    return at == (size_t)-1 ? 0 : at;
}

static size_t bedrock_head(struct mock_req *mr, char *out, size_t size)
{
    size_t at = 0;
    frame(out, size, &at, "messageStart", "{\"p\":\"abcdefgh\",\"role\":\"assistant\"}");
    if (mr->tool[0])
        frame(out, size, &at, "contentBlockStart",
              "{\"contentBlockIndex\":0,\"p\":\"ab\",\"start\":{\"toolUse\":{\"name\":\"%s\","
              "\"toolUseId\":\"tooluse_mock%" PRIu64 "\"}}}",
              mr->tool, mr->seq);
    return done(at);
}

static size_t bedrock_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                            size_t size)
{
    size_t at = 0;
    if (mr->tool[0])
        frame(
            out, size, &at, "contentBlockDelta",
            "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"%s%s\"}},\"p\":\"abc\"}",
            i == 0 ? "{\\\"text\\\":\\\"" : "", text);
    else
        frame(out, size, &at, "contentBlockDelta",
              "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"%s\"},\"p\":\"abcdef\"}", text);
    return done(at);
}

static size_t bedrock_tail(struct mock_req *mr, char *out, size_t size)
{
    size_t at = 0;
    if (mr->tool[0])
        frame(out, size, &at, "contentBlockDelta",
              "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"%s\\\"}\"}}}",
              mr->tokens_sent == 0 ? "{\\\"text\\\":\\\"" : "");
    frame(out, size, &at, "contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"abcd\"}");
    frame(out, size, &at, "messageStop", "{\"p\":\"abcdefghijklm\",\"stopReason\":\"%s\"}",
          mr->tool[0] ? "tool_use" : "end_turn");
    frame(out, size, &at, "metadata",
          "{\"metrics\":{\"latencyMs\":1},\"p\":\"abc\",\"usage\":{\"inputTokens\":%u,"
          "\"outputTokens\":%u,\"totalTokens\":%u}}",
          mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    return done(at);
}

const struct sl_mock_wire sl_mock_wire_bedrock = {
    .name = "bedrock",
    .route = bedrock_route,
    .parse = bedrock_parse,
    .error = bedrock_error,
    .body = bedrock_body,
    .stream_type = "application/vnd.amazon.eventstream",
    .stream_head = bedrock_head,
    .stream_token = bedrock_token,
    .stream_tail = bedrock_tail,
    .headers = bedrock_headers,
};
