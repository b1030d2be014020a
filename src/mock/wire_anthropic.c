/* The mock's Anthropic wire: POST /v1/messages with x-api-key,
 * anthropic-version and max_tokens required (else a 400
 * invalid_request_error), a message or its SSE events (message_start,
 * content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop), and Anthropic's error shape
 * {"type":"error","error":{type, message}} with 503 shown as 529
 * overloaded_error. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/json_write.h"
#include "mock/wire.h"

static void anthropic_error(struct mock_req *mr, int status, const char *code, const char *message)
{
    (void)code;
    const char *type = status == 429   ? "rate_limit_error"
                       : status == 503 ? "overloaded_error"
                       : status == 401 ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 404 ? "not_found_error"
                       : status >= 500 ? "api_error"
                                       : "invalid_request_error";
    struct sl_buf b;
    struct sl_jw w;
    sl_buf_init(&b, 4096);
    sl_jw_init(&w, &b);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "type", "error");
    sl_jw_key(&w, "error");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "type", type);
    sl_jw_kv_string(&w, "message", message);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl__mock_reply(mr, status == 503 ? 529 : status, NULL, 0, b.ptr,
                   sl_jw_finish(&w) == 0 ? b.len : 0);
    sl_buf_release(&b);
}

/* Anthropic's request-id and anthropic-ratelimit-* headers (resets as
 * RFC 3339 times). */
static size_t anthropic_headers(struct mock_req *mr, const struct sl_mock_limits *lim,
                                struct sl_http_header *out, size_t room, char *buf, size_t size)
{
    size_t n = 0, used = 0;
    char reset[32];
    time_t at = (time_t)(lim->reset_at_ms / 1000);
    struct tm tm;
    if (gmtime_r(&at, &tm) == NULL ||
        strftime(reset, sizeof(reset), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        reset[0] = '\0';
    sl__mock_header(out, room, &n, buf, size, &used, "request-id", "req_mock%" PRIu64, mr->seq);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-requests-limit",
                    "%" PRIu64, lim->requests_limit);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-requests-remaining",
                    "%" PRIu64, lim->requests_remaining);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-requests-reset", "%s",
                    reset);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-tokens-limit", "%" PRIu64,
                    lim->tokens_limit);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-tokens-remaining",
                    "%" PRIu64, lim->tokens_remaining);
    sl__mock_header(out, room, &n, buf, size, &used, "anthropic-ratelimit-tokens-reset", "%s",
                    reset);
    return n;
}

static int anthropic_route(struct mock_req *mr, const struct sl_http_head *h)
{
    if (!sl_str_eq(h->path, "/v1/messages"))
        return -1;
    mr->ep = SL_OAI_CHAT;
    return 0;
}

static int anthropic_parse(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                           const char **code, char *why, size_t why_size)
{
    struct sl_openai_req oai;
    if (!sl_http_header_get(h->headers, h->nheaders, "x-api-key")) {
        snprintf(why, why_size, "x-api-key header is required");
        return 401;
    }
    if (!sl_http_header_get(h->headers, h->nheaders, "anthropic-version")) {
        snprintf(why, why_size, "anthropic-version header is required");
        return 400;
    }
    if (sl_openai_parse(body.ptr, body.len, SL_OAI_CHAT, &oai, code, why, why_size) != 0)
        return 400;
    if (oai.max_tokens < 0) {
        snprintf(why, why_size, "max_tokens: Field required");
        return 400;
    }
    memcpy(mr->model, oai.model.ptr, oai.model.len);
    mr->model[oai.model.len] = '\0';
    mr->prompt_tokens = (unsigned)(oai.input.value.len / 4) + 1;
    mr->tokens_total = oai.max_tokens < 1 ? 1 : (unsigned)oai.max_tokens;
    mr->stream = oai.stream;
    return 0;
}

static size_t anthropic_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
    int n = snprintf(out, size,
                     "{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":"
                     "\"assistant\",\"model\":\"%s\",\"content\":[{\"type\":\"text\","
                     "\"text\":\"%s\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                     "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u}}",
                     mr->seq, mr->model, text, mr->prompt_tokens, mr->tokens_total);
    return sl__mock_fitted(n, size);
}

static size_t anthropic_head(struct mock_req *mr, char *out, size_t size)
{
    int n =
        snprintf(out, size,
                 "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
                 "\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                 "\"%s\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
                 "{\"input_tokens\":%u,\"output_tokens\":1}}}\n\nevent: content_block_start\n"
                 "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                 "{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
                 mr->seq, mr->model, mr->prompt_tokens);
    return sl__mock_fitted(n, size);
}

static size_t anthropic_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                              size_t size)
{
    (void)mr;
    (void)i;
    int n = snprintf(out, size,
                     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                     "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                     text);
    return sl__mock_fitted(n, size);
}

static size_t anthropic_tail(struct mock_req *mr, char *out, size_t size)
{
    int n = snprintf(out, size,
                     "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                     "\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\","
                     "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                     "\"usage\":{\"output_tokens\":%u}}\n\nevent: message_stop\ndata: "
                     "{\"type\":\"message_stop\"}\n\n",
                     mr->tokens_total);
    return sl__mock_fitted(n, size);
}

const struct sl_mock_wire sl_mock_wire_anthropic = {
    .name = "anthropic",
    .route = anthropic_route,
    .parse = anthropic_parse,
    .error = anthropic_error,
    .body = anthropic_body,
    .stream_type = "text/event-stream",
    .stream_head = anthropic_head,
    .stream_token = anthropic_token,
    .stream_tail = anthropic_tail,
    .headers = anthropic_headers,
};
