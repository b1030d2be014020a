/* The mock's OpenAI wire: /v1/chat/completions, /v1/completions and
 * /v1/embeddings, OpenAI's bodies, its SSE chunks ending with the usage and
 * [DONE], and its error shape {"error": {message, type, param, code}}. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/json_write.h"
#include "mock/mock_int.h"

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

static int openai_route(struct mock_req *mr, const struct sl_http_head *h)
{
    int ep = sl_openai_endpoint(h->path);
    if (ep < 0)
        return -1;
    mr->ep = (enum sl_openai_endpoint)ep;
    return 0;
}

static int openai_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                        const char **code, char *why, size_t why_size)
{
    (void)h;
    struct sl_openai_req oai;
    if (sl_openai_parse(body.ptr, body.len, mr->ep, &oai, code, why, why_size) != 0)
        return 400;
    memcpy(mr->model, oai.model.ptr, oai.model.len);
    mr->model[oai.model.len] = '\0';
    mr->prompt_tokens = (unsigned)(oai.input.value.len / 4) + 1;
    if (oai.max_tokens >= 0)
        mr->tokens_total = oai.max_tokens < 1 ? 1 : (unsigned)oai.max_tokens;
    mr->stream = oai.stream;
    return 0;
}

static size_t openai_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
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
    if (mr->ep == SL_OAI_CHAT)
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
    int n;
    if (mr->ep == SL_OAI_CHAT) {
        char delta[160] = "";
        if (!last)
            snprintf(delta, sizeof(delta), "%s\"content\":\"%s\"",
                     i == 0 ? "\"role\":\"assistant\"," : "", text);
        n = snprintf(out, size,
                     "data: {\"id\":\"chatcmpl-mock-%" PRIu64 "\",\"object\":"
                     "\"chat.completion.chunk\",\"created\":%lld,\"model\":\"%s\",\"choices\":"
                     "[{\"index\":0,\"delta\":{%s},\"finish_reason\":%s}]",
                     mr->seq, (long long)mr->created, mr->model, delta, last ? "\"stop\"" : "null");
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
    if (last)
        n += snprintf(out + n, size - (size_t)n,
                      ",\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                      "\"total_tokens\":%u}",
                      mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    if (n < 0 || (size_t)n >= size)
        return 0;
    n += snprintf(out + n, size - (size_t)n, "}\n\n%s", last ? "data: [DONE]\n\n" : "");
    return sl__mock_fitted(n, size);
}

static size_t openai_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                           size_t size)
{
    return chunk(mr, i, text, 0, out, size);
}

static size_t openai_tail(struct mock_req *mr, char *out, size_t size)
{
    return chunk(mr, mr->tokens_total, "", 1, out, size);
}

const struct sl_mock_wire sl_mock_wire_openai = {
    .name = "openai",
    .route = openai_route,
    .parse = openai_parse,
    .error = openai_error,
    .body = openai_body,
    .stream_type = "text/event-stream",
    .stream_token = openai_token,
    .stream_tail = openai_tail,
};
