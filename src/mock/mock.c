/* The mock upstream.
 *
 * Ownership: a request that is answered at once (no latency, no delayed
 * stream) is handled on the stack and costs no allocation. Anything that
 * waits gets a heap struct mock_req owning one uv_timer; it ends exactly
 * once, by finishing its response or by its client going away (on_abort),
 * and is freed in the timer's close callback. The mock counts live
 * mock_reqs so that sl_mock_free() can wait for the last close. */
#include "mock/mock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "http/json_scan.h"
#include "http/openai.h"

struct sl_mock {
    uv_loop_t *loop;
    struct sl_mock_config cfg;
    struct sl_mock_stats stats;
    uint64_t seq;
    size_t live;
    int freeing;
    char scratch[96 * 1024]; /* response bodies are formatted here */
};

struct mock_req {
    uv_timer_t timer;
    struct sl_mock *m;
    struct sl_http_exchange *req;
    struct sl_rng rng;
    enum sl_mock_fault fault;
    enum sl_openai_endpoint ep;
    int stream, heap, finished, streaming;
    int anthropic; /* Anthropic's Messages API shapes */
    unsigned prompt_tokens, tokens_total, tokens_sent;
    uint64_t seq;
    int64_t created;
    char model[128];
};

static const char *const fault_names[SL_MOCK__COUNT] = {"ok",  "429", "500",   "502",   "503",
                                                        "400", "401", "reset", "stall", "cut"};

const char *sl_mock_fault_name(int fault)
{
    return fault >= 0 && fault < SL_MOCK__COUNT ? fault_names[fault] : "?";
}

static int fault_lookup(const char *name, int len)
{
    static const struct {
        const char *alias;
        int fault;
    } aliases[] = {{"rate_limited", SL_MOCK_429}, {"server_error", SL_MOCK_500},
                   {"bad_gateway", SL_MOCK_502},  {"unavailable", SL_MOCK_503},
                   {"bad_request", SL_MOCK_400},  {"unauthorized", SL_MOCK_401}};
    for (int i = 1; i < SL_MOCK__COUNT; i++)
        if ((int)strlen(fault_names[i]) == len && memcmp(fault_names[i], name, (size_t)len) == 0)
            return i;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(*aliases); i++)
        if ((int)strlen(aliases[i].alias) == len &&
            memcmp(aliases[i].alias, name, (size_t)len) == 0)
            return aliases[i].fault;
    return -1;
}

int sl_mock_faults_parse(struct sl_weighted *w, const char *spec, char *err, size_t err_size)
{
    return sl_weighted_parse(w, spec, fault_lookup,
                             "429, 500, 502, 503, 400, 401, reset, stall, cut", err, err_size);
}

int sl_mock_sequence_parse(struct sl_mock_config *cfg, const char *spec, char *err, size_t err_size)
{
    cfg->sequence_len = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int fault = len == 2 && !memcmp(p, "ok", 2) ? SL_MOCK_OK : fault_lookup(p, (int)len);
        if (fault < 0) {
            snprintf(err, err_size,
                     "unknown fault '%.*s' in sequence (use ok, 429, 500, 502, "
                     "503, 400, 401, reset, stall, cut)",
                     (int)len, p);
            return -1;
        }
        if (cfg->sequence_len == sizeof(cfg->sequence) / sizeof(*cfg->sequence)) {
            snprintf(err, err_size, "a sequence holds at most 64 faults");
            return -1;
        }
        cfg->sequence[cfg->sequence_len++] = fault;
        p = end ? end + 1 : p + len;
    }
    return 0;
}

void sl_mock_config_default(struct sl_mock_config *cfg)
{
    char err[128];
    *cfg = (struct sl_mock_config){
        .latency_min_ms = 0,
        .latency_max_ms = 0,
        .token_ms = 0,
        .completion_tokens = 16,
        .fail_rate = 0,
        .max_concurrency = 0,
        .retry_after_s = 1,
        .seed = 1,
    };
    sl_mock_faults_parse(&cfg->faults, SL_MOCK_FAULTS_DEFAULT, err, sizeof(err));
}

int sl_mock_new(uv_loop_t *loop, const struct sl_mock_config *cfg, struct sl_mock **out)
{
    struct sl_mock *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return UV_ENOMEM;
    m->loop = loop;
    m->cfg = *cfg;
    *out = m;
    return 0;
}

void sl_mock_stats(const struct sl_mock *m, struct sl_mock_stats *out)
{
    *out = m->stats;
}

void sl_mock_free(struct sl_mock *m)
{
    if (m->live == 0)
        free(m);
    else
        m->freeing = 1;
}

/* ---- responses ----------------------------------------------------------- */

static const char *const words[] = {
    "Hello", " from",  " the", " sluice", " mock",   ".",    " It", " answers", " like",    " a",
    " real", " model", ",",    " only",   " faster", " and", " on", " purpose", " flakier", "."};
#define NWORDS (sizeof(words) / sizeof(*words))

static void count_status(struct sl_mock *m, int status)
{
    if (status >= 0 && status < 600)
        m->stats.status[status]++;
}

/* The request is over (answered, dropped or abandoned). */
static void on_mock_req_closed(uv_handle_t *handle)
{
    struct mock_req *mr = handle->data;
    struct sl_mock *m = mr->m;
    free(mr);
    if (--m->live == 0 && m->freeing)
        free(m);
}

static void finish(struct mock_req *mr)
{
    if (mr->finished)
        return;
    mr->finished = 1;
    mr->m->stats.in_flight--;
    if (mr->heap) {
        uv_timer_stop(&mr->timer);
        uv_close((uv_handle_t *)&mr->timer, on_mock_req_closed);
    }
}

static void respond_json(struct mock_req *mr, int status, const struct sl_http_header *headers,
                         size_t n, const char *body, size_t len)
{
    count_status(mr->m, status);
    sl_http_respond(mr->req, status, headers, n, "application/json", body, len);
    finish(mr);
}

static void respond_fault(struct mock_req *mr)
{
    static const struct {
        int status;
        const char *type, *code, *message;
    } errors[] = {
        [SL_MOCK_429] = {429, "rate_limit_error", "rate_limit_exceeded",
                         "Rate limit reached (sluice mock)"},
        [SL_MOCK_500] = {500, "server_error", "internal_error", "The server had an error (mock)"},
        [SL_MOCK_502] = {502, "server_error", "bad_gateway", "Bad gateway (mock)"},
        [SL_MOCK_503] = {503, "server_error", "overloaded", "The engine is overloaded (mock)"},
        [SL_MOCK_400] = {400, "invalid_request_error", "invalid_request",
                         "Invalid request (mock fault)"},
        [SL_MOCK_401] = {401, "invalid_request_error", "invalid_api_key",
                         "Incorrect API key provided (mock fault)"},
    };
    static const struct {
        int status;
        const char *type;
    } anthropic[] = {
        [SL_MOCK_429] = {429, "rate_limit_error"},
        [SL_MOCK_500] = {500, "api_error"},
        [SL_MOCK_502] = {502, "api_error"},
        [SL_MOCK_503] = {529, "overloaded_error"},
        [SL_MOCK_400] = {400, "invalid_request_error"},
        [SL_MOCK_401] = {401, "authentication_error"},
    };
    int status = mr->anthropic ? anthropic[mr->fault].status : errors[mr->fault].status;
    char retry_after[16];
    struct sl_http_header h[1];
    size_t nh = 0;
    if (status == 429) {
        int n = snprintf(retry_after, sizeof(retry_after), "%u", mr->m->cfg.retry_after_s);
        h[nh++] = (struct sl_http_header){{"Retry-After", 11}, {retry_after, (size_t)n}};
    }
    count_status(mr->m, status);
    if (mr->anthropic) {
        char body[256];
        int n = snprintf(body, sizeof(body),
                         "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}",
                         anthropic[mr->fault].type, errors[mr->fault].message);
        sl_http_respond(mr->req, status, h, nh, "application/json", body, (size_t)n);
    } else {
        sl_http_respond_error_with(mr->req, status, h, nh, errors[mr->fault].type,
                                   errors[mr->fault].code, errors[mr->fault].message);
    }
    finish(mr);
}

static void respond_client_error(struct sl_mock *m, struct sl_http_exchange *req, int status,
                                 const char *code, const char *message)
{
    count_status(m, status);
    sl_http_respond_error(req, status, "invalid_request_error", code, message);
}

/* Anthropic's 400 (and 405) shape. */
static void respond_anthropic_error(struct sl_mock *m, struct sl_http_exchange *req, int status,
                                    const char *message)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                     "\"message\":\"%s\"}}",
                     message);
    count_status(m, status);
    sl_http_respond(req, status, NULL, 0, "application/json", body,
                    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0);
}

static size_t append_words(char *out, size_t size, unsigned from, unsigned count)
{
    size_t n = 0;
    for (unsigned i = from; i < from + count; i++) {
        const char *w = words[i % NWORDS];
        size_t len = strlen(w);
        if (n + len + 1 >= size)
            break;
        memcpy(out + n, w, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

static void respond_body(struct mock_req *mr)
{
    struct sl_mock *m = mr->m;
    char *out = m->scratch;
    size_t size = sizeof(m->scratch);
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
    } else {
        char text[64 * 1024];
        append_words(text, sizeof(text), 0, mr->tokens_total);
        if (mr->anthropic) {
            n = snprintf(out, size,
                         "{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":"
                         "\"assistant\",\"model\":\"%s\",\"content\":[{\"type\":\"text\","
                         "\"text\":\"%s\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                         "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u}}",
                         mr->seq, mr->model, text, mr->prompt_tokens, mr->tokens_total);
            if (n < 0 || (size_t)n >= size)
                n = (int)size - 1;
            respond_json(mr, 200, NULL, 0, out, (size_t)n);
            return;
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
        n += snprintf(out + n, size - (size_t)n,
                      "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                      "\"total_tokens\":%u}}",
                      mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    }
    if (n < 0 || (size_t)n >= size)
        n = (int)size - 1;
    respond_json(mr, 200, NULL, 0, out, (size_t)n);
}

/* One SSE event for token i, or the final event (i == tokens_total). */
static size_t format_event(struct mock_req *mr, unsigned i, char *out, size_t size)
{
    int last = i >= mr->tokens_total;
    char text[64];
    if (!last)
        append_words(text, sizeof(text), i, 1);
    int n;
    if (mr->anthropic && !last)
        n = snprintf(out, size,
                     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                     "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                     text);
    else if (mr->anthropic)
        n = snprintf(out, size,
                     "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                     "\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\","
                     "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                     "\"usage\":{\"output_tokens\":%u}}\n\nevent: message_stop\ndata: "
                     "{\"type\":\"message_stop\"}\n\n",
                     mr->tokens_total);
    if (mr->anthropic)
        return n > 0 && (size_t)n < size ? (size_t)n : 0;
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
    if (last)
        n += snprintf(out + n, size - (size_t)n,
                      ",\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                      "\"total_tokens\":%u}",
                      mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    n += snprintf(out + n, size - (size_t)n, "}\n\n");
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* ---- streaming ----------------------------------------------------------- */

enum { STREAM_HIGH_WATER = 256 * 1024 };

static void stream_begin(struct mock_req *mr)
{
    static const struct sl_http_header h[] = {{{"Cache-Control", 13}, {"no-cache", 8}}};
    mr->streaming = 1;
    mr->m->stats.streams++;
    count_status(mr->m, 200);
    sl_http_stream_start(mr->req, 200, h, 1, "text/event-stream");
    if (mr->anthropic) {
        char event[1024];
        int n = snprintf(
            event, sizeof(event),
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
            "\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
            "\"%s\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
            "{\"input_tokens\":%u,\"output_tokens\":1}}}\n\nevent: content_block_start\n"
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
            "{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
            mr->seq, mr->model, mr->prompt_tokens);
        if (n > 0 && (size_t)n < sizeof(event))
            sl_http_stream_write(mr->req, event, (size_t)n);
    }
}

/* Writes events until `upto` (exclusive) or until the client is slow. */
static void stream_some(struct mock_req *mr, unsigned upto)
{
    char event[1024];
    while (mr->tokens_sent < upto && sl_http_stream_pending(mr->req) < STREAM_HIGH_WATER) {
        size_t n = format_event(mr, mr->tokens_sent, event, sizeof(event));
        sl_http_stream_write(mr->req, event, n);
        mr->tokens_sent++;
    }
}

/* Everything sent: the final event, [DONE], the end. */
static void stream_finish(struct mock_req *mr)
{
    char event[1024];
    size_t n = format_event(mr, mr->tokens_total, event, sizeof(event));
    sl_http_stream_write(mr->req, event, n);
    if (!mr->anthropic)
        sl_http_stream_write(mr->req, "data: [DONE]\n\n", 14);
    sl_http_stream_end(mr->req);
    finish(mr);
}

static void on_drain(struct sl_http_exchange *req, void *data);

static void stream_continue(struct mock_req *mr)
{
    unsigned target = mr->fault == SL_MOCK_CUT ? (mr->tokens_total + 1) / 2 : mr->tokens_total;
    if (mr->m->cfg.token_ms > 0 && mr->tokens_sent < target)
        stream_some(mr, mr->tokens_sent + 1);
    else
        stream_some(mr, target);
    if (mr->tokens_sent < target) {
        if (mr->m->cfg.token_ms == 0)
            sl_http_stream_on_drain(mr->req, on_drain, mr); /* slow client: wait */
        return;
    }
    if (mr->fault == SL_MOCK_CUT) {
        mr->m->stats.cuts++;
        sl_http_exchange_drop(mr->req, 0);
        finish(mr);
        return;
    }
    stream_finish(mr);
}

static void on_drain(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct mock_req *mr = data;
    sl_http_stream_on_drain(mr->req, NULL, NULL);
    stream_continue(mr);
}

static void on_token_timer(uv_timer_t *timer)
{
    struct mock_req *mr = timer->data;
    if (sl_http_stream_pending(mr->req) >= STREAM_HIGH_WATER)
        return; /* the client is behind: skip a beat rather than queue */
    stream_continue(mr);
}

/* ---- acting on a request ------------------------------------------------- */

static void act(struct mock_req *mr)
{
    struct sl_mock *m = mr->m;
    switch (mr->fault) {
    case SL_MOCK_OK:
    case SL_MOCK_CUT:
        if (mr->stream) {
            stream_begin(mr);
            if (m->cfg.token_ms > 0 && mr->heap) {
                uv_timer_start(&mr->timer, on_token_timer, m->cfg.token_ms, m->cfg.token_ms);
                return;
            }
            stream_continue(mr);
        } else if (mr->fault == SL_MOCK_CUT) {
            /* a body that stops half way: chunked, never terminated */
            m->stats.cuts++;
            count_status(m, 200);
            sl_http_stream_start(mr->req, 200, NULL, 0, "application/json");
            sl_http_stream_write(mr->req, "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.", 37);
            sl_http_exchange_drop(mr->req, 0);
            finish(mr);
        } else {
            respond_body(mr);
        }
        return;
    case SL_MOCK_RESET:
        m->stats.resets++;
        sl_http_exchange_drop(mr->req, 1);
        finish(mr);
        return;
    case SL_MOCK_STALL:
        m->stats.stalls++;
        return; /* until the client goes away (on_abort) */
    default:
        respond_fault(mr);
        return;
    }
}

static void on_latency(uv_timer_t *timer)
{
    act(timer->data);
}

static void on_client_gone(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct mock_req *mr = data;
    if (mr->finished)
        return;
    mr->m->stats.client_gone++;
    finish(mr);
}

/* Validates the body and fills model, tokens, stream. Returns 0 or answers
 * the 400 itself and returns -1. */
static int parse_body(struct sl_mock *m, struct sl_http_exchange *req, struct mock_req *mr)
{
    struct sl_str body = sl_http_exchange_body(req);
    struct sl_openai_req oai;
    const char *code;
    char msg[160];
    const struct sl_http_head *h = sl_http_exchange_head(req);
    if (mr->anthropic) {
        const char *why = NULL;
        if (!sl_http_header_get(h->headers, h->nheaders, "x-api-key"))
            why = "x-api-key header is required";
        else if (!sl_http_header_get(h->headers, h->nheaders, "anthropic-version"))
            why = "anthropic-version header is required";
        else if (sl_openai_parse(body.ptr, body.len, mr->ep, &oai, &code, msg, sizeof(msg)) != 0)
            why = msg;
        else if (oai.max_tokens < 0)
            why = "max_tokens: Field required";
        if (why) {
            respond_anthropic_error(m, req, 400, why);
            return -1;
        }
    } else if (sl_openai_parse(body.ptr, body.len, mr->ep, &oai, &code, msg, sizeof(msg)) != 0) {
        respond_client_error(m, req, 400, code, msg);
        return -1;
    }
    memcpy(mr->model, oai.model.ptr, oai.model.len);
    mr->model[oai.model.len] = '\0';
    mr->prompt_tokens = (unsigned)(oai.input.value.len / 4) + 1;
    mr->tokens_total = m->cfg.completion_tokens;
    if (oai.max_tokens >= 0)
        mr->tokens_total = oai.max_tokens < 1      ? 1
                           : oai.max_tokens > 4096 ? 4096
                                                   : (unsigned)oai.max_tokens;
    mr->stream = oai.stream;
    return 0;
}

static void respond_stats(struct sl_mock *m, struct sl_http_exchange *req)
{
    char *out = m->scratch;
    size_t size = sizeof(m->scratch);
    const struct sl_mock_stats *s = &m->stats;
    int n = snprintf(out, size, "{\"requests\":%" PRIu64 ",\"status\":{", s->requests);
    int first = 1;
    for (int code = 0; code < 600; code++) {
        if (s->status[code] == 0)
            continue;
        n += snprintf(out + n, size - (size_t)n, "%s\"%d\":%" PRIu64, first ? "" : ",", code,
                      s->status[code]);
        first = 0;
    }
    n += snprintf(out + n, size - (size_t)n,
                  "},\"in_flight\":%" PRIu64 ",\"max_in_flight\":%" PRIu64
                  ",\"client_gone\":%" PRIu64 ",\"resets\":%" PRIu64 ",\"stalls\":%" PRIu64
                  ",\"cuts\":%" PRIu64 ",\"streams\":%" PRIu64 "}",
                  s->in_flight, s->max_in_flight, s->client_gone, s->resets, s->stalls, s->cuts,
                  s->streams);
    sl_http_respond(req, 200, NULL, 0, "application/json", out, (size_t)n);
}

static void respond_models(struct sl_http_exchange *req)
{
    static const char body[] =
        "{\"object\":\"list\",\"data\":["
        "{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"}"
        ","
        "{\"id\":\"gpt-4o\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"},"
        "{\"id\":\"text-embedding-3-small\",\"object\":\"model\",\"created\":1700000000,"
        "\"owned_by\":\"mock\"}]}";
    sl_http_respond(req, 200, NULL, 0, "application/json", body, sizeof(body) - 1);
}

/* The mock's own endpoints (not the OpenAI API). */
static void handle_other(struct sl_mock *m, struct sl_http_exchange *req, int is_get, int is_post)
{
    const struct sl_http_head *h = sl_http_exchange_head(req);
    if (sl_str_eq(h->path, "/v1/models") && is_get) {
        respond_models(req);
    } else if (sl_str_eq(h->path, "/mock/stats") && is_get) {
        respond_stats(m, req);
    } else if (sl_str_eq(h->path, "/mock/reset") && is_post) {
        uint64_t in_flight = m->stats.in_flight;
        memset(&m->stats, 0, sizeof(m->stats));
        m->stats.in_flight = m->stats.max_in_flight = in_flight;
        m->seq = 0;
        sl_http_respond(req, 200, NULL, 0, "application/json", "{}", 2);
    } else {
        sl_http_respond_error(req, 404, "invalid_request_error", "unknown_url",
                              "unknown URL (the mock serves /v1/chat/completions, "
                              "/v1/completions, /v1/embeddings, /v1/models, /mock/stats)");
    }
}

void sl_mock_handle(struct sl_http_exchange *req, void *data)
{
    struct sl_mock *m = data;
    const struct sl_http_head *h = sl_http_exchange_head(req);
    int is_get = sl_str_eq(h->method, "GET"), is_post = sl_str_eq(h->method, "POST");
    int anthropic = m->cfg.api == SL_MOCK_API_ANTHROPIC;
    int ep = anthropic ? (sl_str_eq(h->path, "/v1/messages") ? SL_OAI_CHAT : -1)
                       : sl_openai_endpoint(h->path);
    if (ep < 0) {
        handle_other(m, req, is_get, is_post);
        return;
    }
    m->stats.requests++;
    if (!is_post) {
        respond_client_error(m, req, 405, "method_not_allowed", "use POST");
        return;
    }
    struct mock_req local = {.m = m,
                             .req = req,
                             .ep = (enum sl_openai_endpoint)ep,
                             .seq = m->seq++,
                             .anthropic = anthropic};
    sl_rng_seed(&local.rng, m->cfg.seed, local.seq + 1);
    /* Over the cap: refused before it counts as in flight, so
     * max_in_flight shows that the cap held. */
    if (m->cfg.max_concurrency && m->stats.in_flight >= m->cfg.max_concurrency) {
        local.fault = SL_MOCK_429;
        local.finished = 1;
        respond_fault(&local);
        return;
    }
    m->stats.in_flight++;
    if (m->stats.in_flight > m->stats.max_in_flight)
        m->stats.max_in_flight = m->stats.in_flight;
    if (parse_body(m, req, &local) != 0) {
        m->stats.in_flight--;
        return;
    }
    local.created = (int64_t)time(NULL);
    uint64_t latency = m->cfg.latency_min_ms;
    if (m->cfg.latency_max_ms > m->cfg.latency_min_ms)
        latency += sl_rng_next(&local.rng) % (m->cfg.latency_max_ms - m->cfg.latency_min_ms + 1);
    local.fault = SL_MOCK_OK;
    if (sl_rng_uniform(&local.rng) < m->cfg.fail_rate)
        local.fault = (enum sl_mock_fault)sl_weighted_draw(&m->cfg.faults, &local.rng);
    if (local.seq < m->cfg.sequence_len)
        local.fault = (enum sl_mock_fault)m->cfg.sequence[local.seq];

    int needs_time = latency > 0 || local.fault == SL_MOCK_STALL ||
                     (local.stream && m->cfg.token_ms > 0) ||
                     (local.stream && local.tokens_total > 64);
    if (!needs_time) {
        act(&local); /* answered now, nothing allocated */
        return;
    }
    struct mock_req *mr = malloc(sizeof(*mr));
    if (mr == NULL) {
        m->stats.in_flight--;
        respond_client_error(m, req, 503, "out_of_memory", "the mock is out of memory");
        return;
    }
    *mr = local;
    mr->heap = 1;
    uv_timer_init(m->loop, &mr->timer);
    mr->timer.data = mr;
    m->live++;
    sl_http_exchange_on_abort(req, on_client_gone, mr);
    uv_timer_start(&mr->timer, on_latency, latency, 0);
}
