/* The mock's Gemini wire: POST /v1beta/models/{model}:generateContent,
 * :streamGenerateContent?alt=sse and :batchEmbedContents (also under
 * /v1/), the key in x-goog-api-key or ?key= (none: Google's 403
 * PERMISSION_DENIED), Gemini's bodies (GenerateContentResponse with
 * usageMetadata; one SSE event per token, CRLF-framed, no end marker, the
 * last with finishReason and the full usage) and google.rpc.Status errors
 * {"error": {code, message, status}}: 429 RESOURCE_EXHAUSTED with a
 * RetryInfo detail, 500 INTERNAL, 503 UNAVAILABLE, 400 INVALID_ARGUMENT,
 * and the mock's 401 fault as Gemini answers a bad key (400
 * INVALID_ARGUMENT, reason API_KEY_INVALID).
 *
 * Strict as Gemini is: contents required, each {role: user|model, parts:
 * [...]} with parts; an unknown top-level member (a stray "model" or
 * "stream" from an OpenAI body) is a 400 "Invalid JSON payload received". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "mock/wire.h"

static void gemini_error(struct mock_req *mr, int status, const char *code, const char *message)
{
    (void)code;
    int key_invalid = status == 401; /* Gemini says 400 for a bad key */
    int shown = key_invalid ? 400 : status;
    const char *st = shown == 429   ? "RESOURCE_EXHAUSTED"
                     : shown == 503 ? "UNAVAILABLE"
                     : shown == 504 ? "DEADLINE_EXCEEDED"
                     : shown == 403 ? "PERMISSION_DENIED"
                     : shown == 404 ? "NOT_FOUND"
                     : shown == 401 ? "UNAUTHENTICATED"
                     : shown >= 500 ? "INTERNAL"
                                    : "INVALID_ARGUMENT";
    struct sl_buf b;
    struct sl_jw w;
    sl_buf_init(&b, 4096);
    sl_jw_init(&w, &b);
    sl_jw_object(&w);
    sl_jw_key(&w, "error");
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "code", shown);
    sl_jw_kv_string(&w, "message", message);
    sl_jw_kv_string(&w, "status", st);
    if (key_invalid || shown == 429) {
        char delay[32];
        snprintf(delay, sizeof(delay), "%us", mr->m->cfg.retry_after_s);
        sl_jw_key(&w, "details");
        sl_jw_array(&w);
        sl_jw_object(&w);
        if (key_invalid) {
            sl_jw_kv_string(&w, "@type", "type.googleapis.com/google.rpc.ErrorInfo");
            sl_jw_kv_string(&w, "reason", "API_KEY_INVALID");
            sl_jw_kv_string(&w, "domain", "googleapis.com");
        } else {
            sl_jw_kv_string(&w, "@type", "type.googleapis.com/google.rpc.RetryInfo");
            sl_jw_kv_string(&w, "retryDelay", delay);
        }
        sl_jw_end(&w);
        sl_jw_end(&w);
    }
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl__mock_reply(mr, shown, NULL, 0, b.ptr, sl_jw_finish(&w) == 0 ? b.len : 0);
    sl_buf_release(&b);
}

/* /v1beta/models/{model}:{method} (or /v1/...): the model and the method. */
static int gemini_route(struct mock_req *mr, const struct sl_http_head *h)
{
    struct sl_str p = h->path;
    static const char *const prefixes[] = {"/v1beta/models/", "/v1/models/"};
    size_t skip = 0;
    for (size_t i = 0; i < 2 && !skip; i++)
        if (p.len > strlen(prefixes[i]) && memcmp(p.ptr, prefixes[i], strlen(prefixes[i])) == 0)
            skip = strlen(prefixes[i]);
    const char *colon = skip ? memchr(p.ptr + skip, ':', p.len - skip) : NULL;
    if (colon == NULL || colon == p.ptr + skip ||
        (size_t)(colon - p.ptr - skip) >= sizeof(mr->model))
        return -1;
    struct sl_str method = {colon + 1, p.len - (size_t)(colon + 1 - p.ptr)};
    if (sl_str_eq(method, "generateContent")) {
        mr->ep = SL_OAI_CHAT;
    } else if (sl_str_eq(method, "streamGenerateContent")) {
        mr->ep = SL_OAI_CHAT;
        mr->stream = 1;
    } else if (sl_str_eq(method, "batchEmbedContents")) {
        mr->ep = SL_OAI_EMBEDDINGS;
    } else {
        return -1;
    }
    size_t n = (size_t)(colon - p.ptr - skip);
    memcpy(mr->model, p.ptr + skip, n);
    mr->model[n] = '\0';
    return 0;
}

/* Whether the query has name=... */
static int query_has(struct sl_str q, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n < q.len + 1; i++)
        if ((i == 0 || q.ptr[i - 1] == '&') && i + n <= q.len && memcmp(q.ptr + i, name, n) == 0)
            return 1;
    return 0;
}

static int is_member(const struct sl_json_value *key, const char *const *names)
{
    for (; *names; names++)
        if (sl_json_key_is(key, *names))
            return 1;
    return 0;
}

/* contents: [{role: user|model, parts: [...non-empty]}, ...non-empty] */
static int check_contents(struct sl_json_value contents, char *why, size_t why_size)
{
    struct sl_json_walk wk;
    struct sl_json_value item;
    size_t i = 0;
    if (*contents.start != '[' || sl_json_enter(&wk, &contents) != 0)
        goto bad;
    for (; sl_json_next_item(&wk, &item); i++) {
        struct sl_json_pick p[2] = {{.key = "role"}, {.key = "parts"}};
        struct sl_json_doc d;
        if (sl_json_scan_pick(item.start, (size_t)(item.end - item.start), &d, p, 2) != 0 ||
            d.type != SL_JSON_OBJECT)
            goto bad;
        if (p[0].found && !(p[0].m.type == SL_JSON_STRING && (sl_str_eq(p[0].m.value, "user") ||
                                                              sl_str_eq(p[0].m.value, "model")))) {
            snprintf(why, why_size, "Please use a valid role: user, model. (contents[%zu].role)",
                     i);
            return 400;
        }
        if (!p[1].found || p[1].m.type != SL_JSON_ARRAY || p[1].m.items == 0) {
            snprintf(why, why_size,
                     "* GenerateContentRequest.contents[%zu].parts: contents.parts "
                     "must not be empty.",
                     i);
            return 400;
        }
    }
    if (i > 0)
        return 0;
bad:
    snprintf(why, why_size, "* GenerateContentRequest.contents: contents is not specified");
    return 400;
}

static int gemini_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                        const char **code, char *why, size_t why_size)
{
    static const char *const known[] = {"contents",           "systemInstruction",
                                        "system_instruction", "generationConfig",
                                        "generation_config",  "tools",
                                        "toolConfig",         "tool_config",
                                        "safetySettings",     "safety_settings",
                                        "cachedContent",      "cached_content",
                                        "requests",           NULL};
    (void)code;
    if (!sl_http_header_get(h->headers, h->nheaders, "x-goog-api-key") &&
        !query_has(h->query, "key=")) {
        snprintf(why, why_size,
                 "Method doesn't allow unregistered callers (callers without "
                 "established identity). Please use API Key or other form of API "
                 "consumer identity to call this API.");
        return 403;
    }
    if (mr->stream && !query_has(h->query, "alt=sse")) {
        snprintf(why, why_size, "the mock streams only as SSE: add ?alt=sse");
        return 400;
    }
    struct sl_json_doc d;
    struct sl_json_value top = sl_json_value_of(body.ptr, body.len), key, val;
    struct sl_json_walk wk;
    if (sl_json_scan(body.ptr, body.len, &d) != 0 || d.type != SL_JSON_OBJECT) {
        snprintf(why, why_size, "Invalid JSON payload received.");
        return 400;
    }
    struct sl_json_value contents = {NULL, NULL}, requests = {NULL, NULL}, gen = {NULL, NULL};
    sl_json_enter(&wk, &top);
    while (sl_json_next_member(&wk, &key, &val)) {
        if (!is_member(&key, known)) {
            snprintf(why, why_size,
                     "Invalid JSON payload received. Unknown name %.*s: Cannot find "
                     "field.",
                     (int)(key.end - key.start < 64 ? key.end - key.start : 64), key.start);
            return 400;
        }
        if (sl_json_key_is(&key, "contents"))
            contents = val;
        else if (sl_json_key_is(&key, "requests"))
            requests = val;
        else if (sl_json_key_is(&key, "generationConfig"))
            gen = val;
    }
    mr->prompt_tokens = (unsigned)(body.len / 4) + 1;
    if (mr->ep == SL_OAI_EMBEDDINGS) {
        struct sl_json_walk rw;
        struct sl_json_value item;
        unsigned n = 0;
        if (requests.start && *requests.start == '[' && sl_json_enter(&rw, &requests) == 0)
            while (sl_json_next_item(&rw, &item))
                n++;
        if (n == 0) {
            snprintf(why, why_size, "* BatchEmbedContentsRequest.requests: requests is empty");
            return 400;
        }
        mr->tokens_total = n; /* the number of embeddings to answer */
        return 0;
    }
    int rc = contents.start ? check_contents(contents, why, why_size) : 0;
    if (contents.start == NULL) {
        snprintf(why, why_size, "* GenerateContentRequest.contents: contents is not specified");
        rc = 400;
    }
    if (rc)
        return rc;
    if (gen.start) {
        struct sl_json_pick m[1] = {{.key = "maxOutputTokens"}};
        if (sl_json_scan_pick(gen.start, (size_t)(gen.end - gen.start), &d, m, 1) == 0 &&
            m[0].found && m[0].m.type == SL_JSON_NUMBER) {
            long v = strtol(m[0].m.value.ptr, NULL, 10);
            mr->tokens_total = v < 1 ? 1 : (unsigned)(v > 4096 ? 4096 : v);
        }
    }
    return 0;
}

static size_t usage(struct mock_req *mr, unsigned completion, char *out, size_t size)
{
    int n = completion ? snprintf(out, size,
                                  "\"usageMetadata\":{\"promptTokenCount\":%u,"
                                  "\"candidatesTokenCount\":%u,\"totalTokenCount\":%u}",
                                  mr->prompt_tokens, completion, mr->prompt_tokens + completion)
                       : snprintf(out, size,
                                  "\"usageMetadata\":{\"promptTokenCount\":%u,"
                                  "\"totalTokenCount\":%u}",
                                  mr->prompt_tokens, mr->prompt_tokens);
    return sl__mock_fitted(n, size);
}

static size_t gemini_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
    int n;
    if (mr->ep == SL_OAI_EMBEDDINGS) {
        n = snprintf(out, size, "{\"embeddings\":[");
        for (unsigned e = 0; e < mr->tokens_total && n > 0 && (size_t)n < size; e++) {
            n += snprintf(out + n, size - (size_t)n, "%s{\"values\":[", e ? "," : "");
            for (int i = 0; i < 8 && (size_t)n < size; i++)
                n += snprintf(out + n, size - (size_t)n, "%s%.6f", i ? "," : "",
                              sl_rng_uniform(&mr->rng) * 2 - 1);
            if ((size_t)n < size)
                n += snprintf(out + n, size - (size_t)n, "]}");
        }
        if (n > 0 && (size_t)n < size)
            n += snprintf(out + n, size - (size_t)n, "]}");
        return sl__mock_fitted(n, size);
    }
    char u[160];
    usage(mr, mr->tokens_total, u, sizeof(u));
    n = snprintf(out, size,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],\"role\":\"model\"},"
                 "\"finishReason\":\"STOP\",\"index\":0}],%s,\"modelVersion\":\"%s\","
                 "\"responseId\":\"mock-%" PRIu64 "\"}",
                 text, u, mr->model, mr->seq);
    return sl__mock_fitted(n, size);
}

static size_t gemini_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                           size_t size)
{
    (void)i;
    char u[160];
    usage(mr, 0, u, sizeof(u));
    int n = snprintf(out, size,
                     "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],"
                     "\"role\":\"model\"},\"index\":0}],%s,\"modelVersion\":\"%s\","
                     "\"responseId\":\"mock-%" PRIu64 "\"}\r\n\r\n",
                     text, u, mr->model, mr->seq);
    return sl__mock_fitted(n, size);
}

static size_t gemini_tail(struct mock_req *mr, char *out, size_t size)
{
    char u[160];
    usage(mr, mr->tokens_total, u, sizeof(u));
    int n = snprintf(out, size,
                     "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],"
                     "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],%s,"
                     "\"modelVersion\":\"%s\",\"responseId\":\"mock-%" PRIu64 "\"}\r\n\r\n",
                     u, mr->model, mr->seq);
    return sl__mock_fitted(n, size);
}

const struct sl_mock_wire sl_mock_wire_gemini = {
    .name = "gemini",
    .route = gemini_route,
    .parse = gemini_parse,
    .error = gemini_error,
    .body = gemini_body,
    .stream_type = "text/event-stream",
    .stream_token = gemini_token,
    .stream_tail = gemini_tail,
};
