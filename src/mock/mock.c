/* The mock upstream.
 *
 * Ownership: a request that is answered at once (no latency, no delayed
 * stream) is handled on the stack and costs no allocation. Anything that
 * waits gets a heap struct mock_req owning one uv_timer; it ends exactly
 * once, by finishing its response or by its client going away (on_abort),
 * and is freed in the timer's close callback. The mock counts live
 * mock_reqs so that sl_mock_free() can wait for the last close. */
#include "mock/mock.h"

#include "mock/wire.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "http/json_scan.h"
#include "http/openai.h"

/* Every API the mock speaks, by enum sl_mock_api. */
static const struct sl_mock_wire *const wires[SL_MOCK_API__COUNT] = {
    [SL_MOCK_API_OPENAI] = &sl_mock_wire_openai, [SL_MOCK_API_ANTHROPIC] = &sl_mock_wire_anthropic,
    [SL_MOCK_API_AZURE] = &sl_mock_wire_azure,   [SL_MOCK_API_BEDROCK] = &sl_mock_wire_bedrock,
    [SL_MOCK_API_GEMINI] = &sl_mock_wire_gemini,
};

int sl_mock_api_parse(const char *name, enum sl_mock_api *out, char *err, size_t err_size)
{
    char known[128] = "";
    for (int i = 0; i < SL_MOCK_API__COUNT; i++) {
        if (strcmp(name, wires[i]->name) == 0) {
            *out = (enum sl_mock_api)i;
            return 0;
        }
        snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                 wires[i]->name);
    }
    snprintf(err, err_size, "unknown API '%s' (use %s)", name, known);
    return -1;
}

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
    m->wire = wires[cfg->api];
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

void sl__mock_header(struct sl_http_header *out, size_t room, size_t *n, char *buf, size_t size,
                     size_t *used, const char *name, const char *fmt, ...)
{
    if (*n >= room || *used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= size - *used)
        return;
    out[(*n)++] = (struct sl_http_header){{name, strlen(name)}, {buf + *used, (size_t)k}};
    *used += (size_t)k + 1;
}

size_t sl__mock_fitted(int n, size_t size)
{
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
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

/* The rate-limit headers' minute, started again when it is over. */
static uint64_t window_roll(struct sl_mock *m)
{
    uint64_t now = uv_now(m->loop);
    if (m->window_start_ms == 0 || now - m->window_start_ms >= 60000) {
        m->window_start_ms = now ? now : 1;
        m->window_requests = m->window_tokens = 0;
    }
    return now;
}

/* This minute's use, counted for the request being answered. */
static void limits_of(struct mock_req *mr, struct sl_mock_limits *lim)
{
    struct sl_mock *m = mr->m;
    uint64_t now = window_roll(m);
    uint64_t left = 60000 - (now - m->window_start_ms);
    *lim = (struct sl_mock_limits){
        .requests_limit = SL_MOCK_RPM,
        .requests_remaining =
            m->window_requests < SL_MOCK_RPM ? SL_MOCK_RPM - m->window_requests : 0,
        .tokens_limit = SL_MOCK_TPM,
        .tokens_remaining = m->window_tokens < SL_MOCK_TPM ? SL_MOCK_TPM - m->window_tokens : 0,
        .reset_ms = left,
        .reset_at_ms = (int64_t)time(NULL) * 1000 + (int64_t)left,
    };
}

/* The wire's own headers (request id, rate limits) into h from nh, room
 * for `room` in all; their values in buf. */
static size_t wire_headers(struct mock_req *mr, struct sl_http_header *h, size_t nh, size_t room,
                           char *buf, size_t size)
{
    if (mr->m->wire->headers == NULL || nh >= room)
        return nh;
    struct sl_mock_limits lim;
    limits_of(mr, &lim);
    return nh + mr->m->wire->headers(mr, &lim, h + nh, room - nh, buf, size);
}

void sl__mock_reply(struct mock_req *mr, int status, const struct sl_http_header *headers, size_t n,
                    const char *body, size_t len)
{
    struct sl_http_header h[20];
    char values[1024];
    size_t nh = 0;
    char retry_after[16];
    for (size_t i = 0; i < n && nh < 7; i++)
        h[nh++] = headers[i];
    nh = wire_headers(mr, h, nh, sizeof(h) / sizeof(*h) - 1, values, sizeof(values));
    if (status == 429) {
        int k = snprintf(retry_after, sizeof(retry_after), "%u", mr->m->cfg.retry_after_s);
        h[nh++] = (struct sl_http_header){{"Retry-After", 11}, {retry_after, (size_t)k}};
    }
    count_status(mr->m, status);
    sl_http_respond(mr->req, status, h, nh, "application/json", body, len);
    finish(mr);
}

static void respond_fault(struct mock_req *mr)
{
    static const struct {
        int status;
        const char *message;
    } faults[] = {
        [SL_MOCK_429] = {429, "Rate limit reached (sluice mock)"},
        [SL_MOCK_500] = {500, "The server had an error (mock)"},
        [SL_MOCK_502] = {502, "Bad gateway (mock)"},
        [SL_MOCK_503] = {503, "The engine is overloaded (mock)"},
        [SL_MOCK_400] = {400, "Invalid request (mock fault)"},
        [SL_MOCK_401] = {401, "Incorrect API key provided (mock fault)"},
    };
    mr->m->wire->error(mr, faults[mr->fault].status, NULL, faults[mr->fault].message);
}

size_t sl__mock_words(char *out, size_t size, unsigned from, unsigned count)
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
    char text[64 * 1024];
    sl__mock_words(text, sizeof(text), 0, mr->tokens_total);
    size_t n = m->wire->body(mr, text, m->scratch, sizeof(m->scratch));
    sl__mock_reply(mr, 200, NULL, 0, m->scratch, n);
}

/* ---- streaming ----------------------------------------------------------- */

enum { STREAM_HIGH_WATER = 256 * 1024 };

static void stream_begin(struct mock_req *mr)
{
    struct sl_http_header h[16] = {{{"Cache-Control", 13}, {"no-cache", 8}}};
    char values[1024];
    size_t nh = wire_headers(mr, h, 1, sizeof(h) / sizeof(*h), values, sizeof(values));
    const struct sl_mock_wire *wire = mr->m->wire;
    mr->streaming = 1;
    mr->m->stats.streams++;
    count_status(mr->m, 200);
    sl_http_stream_start(mr->req, 200, h, nh, wire->stream_type);
    char *event = mr->m->scratch;
    size_t n = wire->stream_head ? wire->stream_head(mr, event, sizeof(mr->m->scratch)) : 0;
    if (n > 0)
        sl_http_stream_write(mr->req, event, n);
}

/* Writes events until `upto` (exclusive) or until the client is slow. */
static void stream_some(struct mock_req *mr, unsigned upto)
{
    char event[2048], text[64];
    while (mr->tokens_sent < upto && sl_http_stream_pending(mr->req) < STREAM_HIGH_WATER) {
        sl__mock_words(text, sizeof(text), mr->tokens_sent, 1);
        size_t n = mr->m->wire->stream_token(mr, mr->tokens_sent, text, event, sizeof(event));
        sl_http_stream_write(mr->req, event, n);
        mr->tokens_sent++;
    }
}

/* Everything sent: the closing events, the end. */
static void stream_finish(struct mock_req *mr)
{
    /* the tail may repeat the whole text (the Responses API's .done events) */
    char *event = mr->m->scratch;
    size_t n = mr->m->wire->stream_tail(mr, event, sizeof(mr->m->scratch));
    sl_http_stream_write(mr->req, event, n);
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

/* Checks the request with the wire and fills model, tokens, stream.
 * Returns 0 or answers the refusal itself and returns -1. */
static int parse_request(struct mock_req *mr)
{
    struct sl_mock *m = mr->m;
    const char *code = NULL;
    char why[256] = "";
    mr->tokens_total = 0;
    int status = m->wire->parse(mr, sl_http_exchange_head(mr->req), sl_http_exchange_body(mr->req),
                                &code, why, sizeof(why));
    if (status != 0) {
        m->wire->error(mr, status, code, why);
        return -1;
    }
    if (mr->tokens_total == 0)
        mr->tokens_total = m->cfg.completion_tokens;
    if (mr->tokens_total > 4096)
        mr->tokens_total = 4096;
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

/* The mock's own endpoints (not the API). */
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
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "unknown URL (the mock speaks the %s API; also /v1/models, "
                 "/mock/stats, /mock/reset)",
                 m->wire->name);
        sl_http_respond_error(req, 404, "invalid_request_error", "unknown_url", msg);
    }
}

void sl_mock_handle(struct sl_http_exchange *req, void *data)
{
    struct sl_mock *m = data;
    const struct sl_http_head *h = sl_http_exchange_head(req);
    int is_get = sl_str_eq(h->method, "GET"), is_post = sl_str_eq(h->method, "POST");
    struct mock_req local = {.m = m, .req = req};
    if (m->wire->route(&local, h) != 0) {
        handle_other(m, req, is_get, is_post);
        return;
    }
    m->stats.requests++;
    local.seq = m->seq++;
    local.finished = 1; /* answered before it counts as in flight */
    if (!is_post) {
        m->wire->error(&local, 405, "method_not_allowed", "use POST");
        return;
    }
    sl_rng_seed(&local.rng, m->cfg.seed, local.seq + 1);
    /* Over the cap: refused before it counts as in flight, so
     * max_in_flight shows that the cap held. */
    if (m->cfg.max_concurrency && m->stats.in_flight >= m->cfg.max_concurrency) {
        local.fault = SL_MOCK_429;
        respond_fault(&local);
        return;
    }
    if (parse_request(&local) != 0)
        return;
    window_roll(m);
    m->window_requests++; /* what the rate-limit headers count */
    m->window_tokens += local.prompt_tokens + local.tokens_total;
    local.finished = 0;
    m->stats.in_flight++;
    if (m->stats.in_flight > m->stats.max_in_flight)
        m->stats.max_in_flight = m->stats.in_flight;
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
        local.finished = 1;
        m->stats.in_flight--;
        m->wire->error(&local, 503, "out_of_memory", "the mock is out of memory");
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
