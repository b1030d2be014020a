/* The mock's OpenAI wire: /v1/chat/completions, /v1/completions and
 * /v1/embeddings, OpenAI's bodies, its SSE chunks ending with the usage and
 * [DONE], and its error shape {"error": {message, type, param, code}}.
 *
 * And Azure OpenAI's, the same API under its own paths and key: the
 * deployment form /openai/deployments/NAME/chat/completions?api-version=V
 * (a missing api-version is Azure's 404) and the v1 form
 * /openai/v1/chat/completions; the key in `api-key` (else a 401).
 * Both serve the Responses API too (wire_responses.c): /v1/responses, and
 * Azure's /openai/v1/responses and /openai/responses?api-version=V. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "mock/wire.h"

/* What the mock's fault statuses look like from OpenAI. */
static void error_kind(int status, const char **type, const char **code)
{
    *type = status >= 500 ? "server_error" : "invalid_request_error";
    *code = status == 429   ? "rate_limit_exceeded"
            : status == 500 ? "internal_error"
            : status == 502 ? "bad_gateway"
            : status == 503 ? "overloaded"
            : status == 401 ? "invalid_api_key"
            : status == 405 ? "method_not_allowed"
                            : "invalid_request";
    if (status == 429)
        *type = "rate_limit_error";
}

static void openai_error(struct mock_req *mr, int status, const char *code, const char *message)
{
    const char *type, *dflt;
    error_kind(status, &type, &dflt);
    struct sl_buf b;
    struct sl_jw w;
    sl_buf_init(&b, 4096);
    sl_jw_init(&w, &b);
    sl_jw_object(&w);
    sl_jw_key(&w, "error");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "message", message);
    sl_jw_kv_string(&w, "type", type);
    sl_jw_key(&w, "param");
    sl_jw_null(&w);
    sl_jw_kv_string(&w, "code", code ? code : dflt);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl__mock_reply(mr, status, NULL, 0, b.ptr, sl_jw_finish(&w) == 0 ? b.len : 0);
    sl_buf_release(&b);
}

/* A duration as OpenAI writes its resets: "120ms", "7.66s". */
static void duration(char *out, size_t size, uint64_t ms)
{
    if (ms < 1000)
        snprintf(out, size, "%" PRIu64 "ms", ms);
    else
        snprintf(out, size, "%.3gs", (double)ms / 1000);
}

/* OpenAI's (and Azure's) request id and x-ratelimit-* headers. */
static size_t openai_headers(struct mock_req *mr, const struct sl_mock_limits *lim,
                             struct sl_http_header *out, size_t room, char *buf, size_t size)
{
    size_t n = 0, used = 0;
    char reset[32];
    duration(reset, sizeof(reset), lim->reset_ms);
    sl__mock_header(out, room, &n, buf, size, &used, "x-request-id", "req_mock%" PRIu64, mr->seq);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-limit-requests", "%" PRIu64,
                    lim->requests_limit);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-limit-tokens", "%" PRIu64,
                    lim->tokens_limit);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-remaining-requests", "%" PRIu64,
                    lim->requests_remaining);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-remaining-tokens", "%" PRIu64,
                    lim->tokens_remaining);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-reset-requests", "%s", reset);
    sl__mock_header(out, room, &n, buf, size, &used, "x-ratelimit-reset-tokens", "%s", reset);
    return n;
}

static int openai_route(struct mock_req *mr, const struct sl_http_head *h)
{
    int ep = sl_openai_endpoint(h->path);
    if (ep < 0 && sl_str_eq(h->path, "/v1/responses")) {
        mr->responses = 1;
        ep = SL_OAI_CHAT;
    }
    if (ep < 0)
        return -1;
    mr->ep = (enum sl_openai_endpoint)ep;
    return 0;
}

/* The tool a chat answer calls: tool_choice {"type":"function",
 * "function":{"name"}}, or the first tool's for "required"; "" otherwise
 * (a text answer). */
static void chosen_tool(struct sl_str body, char *out, size_t size)
{
    struct sl_json_doc d;
    struct sl_json_pick c[2] = {{.key = "tools"}, {.key = "tool_choice"}};
    out[0] = '\0';
    if (sl_json_scan_pick(body.ptr, body.len, &d, c, 2) != 0 || !c[1].found || !c[0].found ||
        c[0].m.type != SL_JSON_ARRAY)
        return;
    struct sl_str fn = {NULL, 0};
    struct sl_json_pick f[1] = {{.key = "function"}};
    if (c[1].m.type == SL_JSON_OBJECT) {
        if (sl_json_scan_pick(c[1].m.value.ptr, c[1].m.value.len, &d, f, 1) == 0 && f[0].found)
            fn = f[0].m.value;
    } else if (c[1].m.type == SL_JSON_STRING && sl_str_eq(c[1].m.value, "required")) {
        struct sl_json_walk w;
        struct sl_json_value first, arr = {c[0].m.value.ptr, c[0].m.value.ptr + c[0].m.value.len};
        if (sl_json_enter(&w, &arr) == 0 && sl_json_next_item(&w, &first) &&
            sl_json_scan_pick(first.start, (size_t)(first.end - first.start), &d, f, 1) == 0 &&
            f[0].found)
            fn = f[0].m.value;
    }
    struct sl_json_pick name[1] = {{.key = "name"}};
    if (fn.ptr && sl_json_scan_pick(fn.ptr, fn.len, &d, name, 1) == 0 && name[0].found &&
        name[0].m.type == SL_JSON_STRING && name[0].m.value.len < size) {
        memcpy(out, name[0].m.value.ptr, name[0].m.value.len);
        out[name[0].m.value.len] = '\0';
    }
}

static int openai_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                        const char **code, char *why, size_t why_size)
{
    (void)h;
    if (mr->responses)
        return sl__mock_responses_parse(mr, body, code, why, why_size);
    struct sl_openai_req oai;
    if (sl_openai_parse(body.ptr, body.len, mr->ep, &oai, code, why, why_size) != 0)
        return 400;
    memcpy(mr->model, oai.model.ptr, oai.model.len);
    mr->model[oai.model.len] = '\0';
    mr->prompt_tokens = (unsigned)(oai.input.value.len / 4) + 1;
    if (oai.max_tokens >= 0)
        mr->tokens_total = oai.max_tokens < 1 ? 1 : (unsigned)oai.max_tokens;
    mr->stream = oai.stream;
    mr->include_usage = oai.include_usage;
    if (mr->ep == SL_OAI_CHAT)
        chosen_tool(body, mr->tool, sizeof(mr->tool));
    return 0;
}

static size_t openai_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
    if (mr->responses)
        return sl__mock_responses_body(mr, text, out, size);
    int n;
    if (mr->ep == SL_OAI_EMBEDDINGS) {
        n = snprintf(out, size,
                     "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                     "\"index\":0,\"embedding\":[");
        for (int i = 0; i < 8; i++)
            n += snprintf(out + n, size - (size_t)n, "%s%.6f", i ? "," : "",
                          sl_rng_uniform(&mr->rng) * 2 - 1);
        n += snprintf(out + n, size - (size_t)n,
                      "]}],\"model\":\"%s\",\"usage\":{\"prompt_tokens\":%u,\"total_tokens\":%u}}",
                      mr->model, mr->prompt_tokens, mr->prompt_tokens);
        return sl__mock_fitted(n, size);
    }
    if (mr->ep == SL_OAI_CHAT && mr->tool[0]) /* the call's arguments: the text */
        n = snprintf(out, size,
                     "{\"id\":\"chatcmpl-mock-%" PRIu64 "\",\"object\":\"chat.completion\","
                     "\"created\":%lld,\"model\":\"%s\",\"choices\":[{\"index\":0,"
                     "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
                     "\"id\":\"call_mock%" PRIu64 "\",\"type\":\"function\",\"function\":{"
                     "\"name\":\"%s\",\"arguments\":\"{\\\"text\\\":\\\"%s\\\"}\"}}]},"
                     "\"finish_reason\":\"tool_calls\"}],",
                     mr->seq, (long long)mr->created, mr->model, mr->seq, mr->tool, text);
    else if (mr->ep == SL_OAI_CHAT)
        n = snprintf(out, size,
                     "{\"id\":\"chatcmpl-mock-%" PRIu64 "\",\"object\":\"chat.completion\","
                     "\"created\":%lld,\"model\":\"%s\",\"choices\":[{\"index\":0,"
                     "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                     "\"finish_reason\":\"stop\"}],",
                     mr->seq, (long long)mr->created, mr->model, text);
    else
        n = snprintf(out, size,
                     "{\"id\":\"cmpl-mock-%" PRIu64 "\",\"object\":\"text_completion\","
                     "\"created\":%lld,\"model\":\"%s\",\"choices\":[{\"index\":0,"
                     "\"text\":\"%s\",\"finish_reason\":\"stop\"}],",
                     mr->seq, (long long)mr->created, mr->model, text);
    if (n < 0 || (size_t)n >= size)
        return 0;
    n += snprintf(out + n, size - (size_t)n,
                  "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                  "\"total_tokens\":%u}}",
                  mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    return sl__mock_fitted(n, size);
}

/* One chunk: token i's text, or (last) the finish with the usage. */
static size_t chunk(struct mock_req *mr, unsigned i, const char *text, int last, char *out,
                    size_t size)
{
    int n = 0;
    if (mr->ep == SL_OAI_CHAT && mr->tool[0]) {
        /* a tool call: its arguments {"text": the words} in pieces, one per
         * token, closed before the finish chunk */
        char delta[512];
        if (i == 0 && !last)
            snprintf(
                delta, sizeof(delta),
                "\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_mock%" PRIu64
                "\",\"type\":\"function\",\"function\":{\"name\":\"%s\",\"arguments\":"
                "\"{\\\"text\\\":\\\"%s\"}}]",
                mr->seq, mr->tool, text);
        else
            snprintf(delta, sizeof(delta),
                     "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"%s\"}}]",
                     last ? "\\\"}" : text);
        n = snprintf(out, size,
                     "data: {\"id\":\"chatcmpl-mock-%" PRIu64 "\",\"object\":"
                     "\"chat.completion.chunk\",\"created\":%lld,\"model\":\"%s\",\"choices\":"
                     "[{\"index\":0,\"delta\":{%s},\"finish_reason\":null}]}\n\n",
                     mr->seq, (long long)mr->created, mr->model, delta);
        if (n < 0 || (size_t)n >= size)
            return 0;
        if (!last)
            return (size_t)n; /* the last one: the finish chunk follows */
    }
    if (mr->ep == SL_OAI_CHAT) {
        char delta[160] = "";
        if (!last)
            snprintf(delta, sizeof(delta), "%s\"content\":\"%s\"",
                     i == 0 ? "\"role\":\"assistant\"," : "", text);
        n += snprintf(out + n, size - (size_t)n,
                      "data: {\"id\":\"chatcmpl-mock-%" PRIu64 "\",\"object\":"
                      "\"chat.completion.chunk\",\"created\":%lld,\"model\":\"%s\",\"choices\":"
                      "[{\"index\":0,\"delta\":{%s},\"finish_reason\":%s}]",
                      mr->seq, (long long)mr->created, mr->model, delta,
                      !last         ? "null"
                      : mr->tool[0] ? "\"tool_calls\""
                                    : "\"stop\"");
    } else {
        n = snprintf(out, size,
                     "data: {\"id\":\"cmpl-mock-%" PRIu64 "\",\"object\":\"text_completion\","
                     "\"created\":%lld,\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":"
                     "\"%s\",\"finish_reason\":%s}]",
                     mr->seq, (long long)mr->created, mr->model, last ? "" : text,
                     last ? "\"stop\"" : "null");
    }
    if (n < 0 || (size_t)n >= size)
        return 0;
    n += snprintf(out + n, size - (size_t)n, "}\n\n");
    if (last && mr->include_usage && n > 0 && (size_t)n < size) /* OpenAI's: only when asked */
        n += snprintf(out + n, size - (size_t)n,
                      "data: {\"id\":\"%s-mock-%" PRIu64 "\",\"object\":\"%s\",\"created\":%lld,"
                      "\"model\":\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":%u,"
                      "\"completion_tokens\":%u,\"total_tokens\":%u}}\n\n",
                      mr->ep == SL_OAI_CHAT ? "chatcmpl" : "cmpl", mr->seq,
                      mr->ep == SL_OAI_CHAT ? "chat.completion.chunk" : "text_completion",
                      (long long)mr->created, mr->model, mr->prompt_tokens, mr->tokens_total,
                      mr->prompt_tokens + mr->tokens_total);
    if (last && n > 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "data: [DONE]\n\n");
    return sl__mock_fitted(n, size);
}

static size_t openai_head(struct mock_req *mr, char *out, size_t size)
{
    return mr->responses ? sl__mock_responses_head(mr, out, size) : 0;
}

static size_t openai_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                           size_t size)
{
    if (mr->responses)
        return sl__mock_responses_token(mr, i, text, out, size);
    return chunk(mr, i, text, 0, out, size);
}

static size_t openai_tail(struct mock_req *mr, char *out, size_t size)
{
    if (mr->responses)
        return sl__mock_responses_tail(mr, out, size);
    return chunk(mr, mr->tokens_total, "", 1, out, size);
}

/* The endpoint named by the path's tail after prefix, or -1. */
static int endpoint_after(struct sl_str path, size_t prefix)
{
    char p[64];
    if (path.len - prefix + 4 > sizeof(p))
        return -1;
    int n = snprintf(p, sizeof(p), "/v1/%.*s", (int)(path.len - prefix), path.ptr + prefix);
    return sl_openai_endpoint((struct sl_str){p, (size_t)n});
}

static int azure_route(struct mock_req *mr, const struct sl_http_head *h)
{
    static const char dep[] = "/openai/deployments/", v1[] = "/openai/v1/";
    struct sl_str path = h->path;
    int ep = -1;
    if (sl_str_eq(path, "/openai/v1/responses") || sl_str_eq(path, "/openai/responses")) {
        mr->responses = 1; /* the deployment is the body's model, in both forms */
        ep = SL_OAI_CHAT;
    } else if (path.len > sizeof(v1) - 1 && memcmp(path.ptr, v1, sizeof(v1) - 1) == 0) {
        ep = endpoint_after(path, sizeof(v1) - 1);
    } else if (path.len > sizeof(dep) - 1 && memcmp(path.ptr, dep, sizeof(dep) - 1) == 0) {
        const char *name = path.ptr + sizeof(dep) - 1;
        const char *slash = memchr(name, '/', path.len - (sizeof(dep) - 1));
        if (slash && slash > name)
            ep = endpoint_after(path, (size_t)(slash + 1 - path.ptr));
    }
    if (ep < 0)
        return -1;
    mr->ep = (enum sl_openai_endpoint)ep;
    return 0;
}

static int azure_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                       const char **code, char *why, size_t why_size)
{
    static const char dep[] = "/openai/deployments/";
    if (!sl_http_header_get(h->headers, h->nheaders, "api-key")) {
        *code = "401";
        snprintf(why, why_size,
                 "Access denied due to invalid subscription key or wrong API "
                 "endpoint (no api-key header)");
        return 401;
    }
    int deployment_form =
        (h->path.len > sizeof(dep) - 1 && memcmp(h->path.ptr, dep, sizeof(dep) - 1) == 0) ||
        sl_str_eq(h->path, "/openai/responses");
    const char *q = h->query.ptr;
    if (deployment_form &&
        (q == NULL ||
         !(sl_str_eq((struct sl_str){q, h->query.len < 12 ? h->query.len : 12}, "api-version=") ||
           memmem(q, h->query.len, "&api-version=", 13)))) {
        *code = "404";
        snprintf(why, why_size, "Resource not found (the api-version query parameter is missing)");
        return 404;
    }
    return openai_parse(mr, h, body, code, why, why_size);
}

const struct sl_mock_wire sl_mock_wire_azure = {
    .name = "azure",
    .route = azure_route,
    .parse = azure_parse,
    .error = openai_error,
    .body = openai_body,
    .stream_type = "text/event-stream",
    .stream_head = openai_head,
    .stream_token = openai_token,
    .stream_tail = openai_tail,
    .headers = openai_headers,
};

const struct sl_mock_wire sl_mock_wire_openai = {
    .name = "openai",
    .route = openai_route,
    .parse = openai_parse,
    .error = openai_error,
    .body = openai_body,
    .stream_type = "text/event-stream",
    .stream_head = openai_head,
    .stream_token = openai_token,
    .stream_tail = openai_tail,
    .headers = openai_headers,
};
