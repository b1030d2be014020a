/* Spans of a trace record (trace.h) in OTLP JSON. A request gives:
 *   "{operation} {model}"  SERVER   the whole request, the client's span its
 *                                   parent when it sent a traceparent
 *   "sluice.queue"         INTERNAL the wait for a permit (when it waited)
 *   "{operation} {model}"  CLIENT   one per upstream attempt
 *   "sluice.backoff"       INTERNAL the wait before a retry on the same
 *                                   deployment (when there was one)
 * Every child's parent is the request's span. */
#include "otel/otlp_json.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

enum { KIND_INTERNAL = 1, KIND_SERVER = 2, KIND_CLIENT = 3 };
enum { STATUS_UNSET = 0, STATUS_ERROR = 2 };

/* The output, written in as few appends as the format allows (keys and
 * punctuation are constants, so they go as literals; only values are
 * escaped): a span is thousands of bytes, and a general JSON writer's
 * call per token costed more than the gateway's whole request. Errors are
 * sticky, checked once at the end. `more` says a list element was
 * written (the next needs a comma). */
struct enc {
    struct sl_buf *out;
    int err, more;
};

static void put(struct enc *e, const char *s, size_t n)
{
    if (e->err == 0)
        e->err = sl_buf_append(e->out, s, n);
}

#define LIT(e, s) put((e), (s), sizeof(s) - 1)

/* A JSON string: quoted, escaped (runs without escapes in one append). */
static void esc(struct enc *e, const char *s)
{
    put(e, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(e, run, (size_t)(s - run));
        char u[8];
        int n = c == '"' || c == '\\' ? snprintf(u, sizeof(u), "\\%c", c)
                                      : snprintf(u, sizeof(u), "\\u%04x", c);
        put(e, u, (size_t)n);
        run = s + 1;
    }
    put(e, run, (size_t)(s - run));
    put(e, "\"", 1);
}

static void comma(struct enc *e)
{
    if (e->more)
        put(e, ",", 1);
    e->more = 1;
}

static void hex_id(struct enc *e, const char *key, const uint8_t *id, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char s[80];
    size_t k = (size_t)snprintf(s, sizeof(s), ",\"%s\":\"", key);
    for (size_t i = 0; i < n; i++) {
        s[k++] = digits[id[i] >> 4];
        s[k++] = digits[id[i] & 15];
    }
    s[k++] = '"';
    put(e, s, k);
}

/* "key":"<decimal>" (64-bit integers are strings in OTLP's JSON). */
static void dec_str(struct enc *e, const char *key, long long v)
{
    char s[80];
    int n = snprintf(s, sizeof(s), ",\"%s\":\"%lld\"", key, v);
    put(e, s, (size_t)n);
}

static void attr_str(struct enc *e, const char *key, const char *v)
{
    if (v == NULL || *v == '\0')
        return; /* an empty value says nothing: left out */
    comma(e);
    char s[128];
    int n = snprintf(s, sizeof(s), "{\"key\":\"%s\",\"value\":{\"stringValue\":", key);
    put(e, s, (size_t)n);
    esc(e, v);
    LIT(e, "}}");
}

static void attr_int(struct enc *e, const char *key, long long v)
{
    comma(e);
    char s[160];
    int n = snprintf(s, sizeof(s), "{\"key\":\"%s\",\"value\":{\"intValue\":\"%lld\"}}", key, v);
    put(e, s, (size_t)n);
}

static void attr_bool(struct enc *e, const char *key, int v)
{
    comma(e);
    char s[160];
    int n = snprintf(s, sizeof(s), "{\"key\":\"%s\",\"value\":{\"boolValue\":%s}}", key,
                     v ? "true" : "false");
    put(e, s, (size_t)n);
}

static void attr_double(struct enc *e, const char *key, double v)
{
    comma(e);
    char s[160];
    int n = snprintf(s, sizeof(s), "{\"key\":\"%s\",\"value\":{\"doubleValue\":%.3f}}", key, v);
    put(e, s, (size_t)n);
}

/* A span's envelope up to its attributes' array (left open). */
static void span_open(struct enc *e, const struct sl_otel_trace *t, const uint8_t *span_id,
                      const uint8_t *parent, const char *name, int kind, int64_t start, int64_t end)
{
    comma(e);
    LIT(e, "{\"name\":");
    esc(e, name);
    hex_id(e, "traceId", t->trace_id, 16);
    hex_id(e, "spanId", span_id, 8);
    if (parent)
        hex_id(e, "parentSpanId", parent, 8);
    char s[32];
    int n = snprintf(s, sizeof(s), ",\"kind\":%d", kind);
    put(e, s, (size_t)n);
    dec_str(e, "startTimeUnixNano", start < 0 ? 0 : start);
    dec_str(e, "endTimeUnixNano", end < start ? (start < 0 ? 0 : start) : end);
    LIT(e, ",\"attributes\":[");
    e->more = 0;
}

static void span_close(struct enc *e, int status, const char *message)
{
    if (status == STATUS_UNSET) {
        LIT(e, "],\"status\":{}}");
    } else {
        char s[40];
        int n = snprintf(s, sizeof(s), "],\"status\":{\"code\":%d", status);
        put(e, s, (size_t)n);
        if (message && *message) {
            LIT(e, ",\"message\":");
            esc(e, message);
        }
        LIT(e, "}}");
    }
    e->more = 1; /* the next span needs a comma */
}

/* A wait span's id: the request's id mixed with its number (splitmix64),
 * so that it looks as random as the ids the gateway draws. */
static void child_id(const struct sl_otel_trace *t, unsigned n, uint8_t out[8])
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | t->span_id[i];
    x += 0x9e3779b97f4a7c15ull * (n + 1);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    for (int i = 7; i >= 0; i--, x >>= 8)
        out[i] = (uint8_t)x;
}

static void request_span(struct enc *w, const struct sl_otel_trace *t, const char *name)
{
    span_open(w, t, t->span_id, t->has_parent ? t->parent_id : NULL, name, KIND_SERVER, t->start_ns,
              t->end_ns);
    attr_str(w, "gen_ai.operation.name", t->operation);
    attr_str(w, "gen_ai.request.model", t->model);
    attr_str(w, "gen_ai.provider.name", t->provider);
    attr_str(w, "gen_ai.system", t->provider);
    if (t->max_tokens >= 0)
        attr_int(w, "gen_ai.request.max_tokens", t->max_tokens);
    if (t->input_tokens || t->output_tokens) {
        attr_int(w, "gen_ai.usage.input_tokens", t->input_tokens);
        attr_int(w, "gen_ai.usage.output_tokens", t->output_tokens);
    }
    attr_str(w, "http.request.method", "POST");
    attr_str(w, "http.route", t->route);
    attr_int(w, "http.response.status_code", t->status);
    attr_str(w, "error.type", t->error);
    attr_str(w, "sluice.request.id", t->request_id);
    attr_str(w, "sluice.key", t->key);
    attr_str(w, "sluice.deployment", t->deployment);
    attr_int(w, "sluice.attempts", t->attempts);
    attr_int(w, "sluice.fallbacks", t->fallbacks);
    attr_bool(w, "sluice.stream", t->stream);
    if (t->cancelled)
        attr_bool(w, "sluice.cancelled", 1);
    if (t->ttfb_ms > 0)
        attr_double(w, "sluice.ttfb_ms", t->ttfb_ms);
    /* a server span fails on a 5xx; a 4xx is the client's (OpenTelemetry's
     * HTTP conventions), a cancel is nobody's failure */
    span_close(w, t->status >= 500 ? STATUS_ERROR : STATUS_UNSET, t->error);
}

static void attempt_span(struct enc *w, const struct sl_otel_trace *t, unsigned i, const char *name)
{
    const struct sl_otel_attempt *a = &t->attempt[i];
    span_open(w, t, a->span_id, t->span_id, name, KIND_CLIENT, a->start_ns, a->end_ns);
    attr_str(w, "gen_ai.operation.name", t->operation);
    attr_str(w, "gen_ai.request.model", t->model);
    attr_str(w, "gen_ai.provider.name", a->provider);
    attr_str(w, "gen_ai.system", a->provider);
    attr_str(w, "server.address", a->server);
    if (a->port > 0)
        attr_int(w, "server.port", a->port);
    if (a->status)
        attr_int(w, "http.response.status_code", a->status);
    attr_str(w, "error.type", a->error);
    attr_str(w, "sluice.deployment", a->deployment);
    attr_int(w, "sluice.attempt", i + 1);
    if (i > 0 && strcmp(a->deployment, t->attempt[i - 1].deployment) != 0)
        attr_bool(w, "sluice.fallback", 1);
    span_close(w, a->error[0] ? STATUS_ERROR : STATUS_UNSET, a->error);
}

size_t sl_otlp_span_count(const struct sl_otel_trace *t)
{
    size_t n = 1 + (t->queue_ns > 0) + t->nattempts;
    for (unsigned i = 1; i < t->nattempts; i++)
        if (t->attempt[i].start_ns > t->attempt[i - 1].end_ns &&
            strcmp(t->attempt[i].deployment, t->attempt[i - 1].deployment) == 0)
            n++;
    return n;
}

static void spans_of(struct enc *w, const struct sl_otel_trace *t)
{
    char name[160];
    snprintf(name, sizeof(name), "%s %s", t->operation, t->model);
    request_span(w, t, name);
    unsigned child = 0;
    uint8_t id[8];
    if (t->queue_ns > 0) {
        int64_t start = t->nattempts ? t->attempt[0].start_ns - t->queue_ns : t->start_ns;
        child_id(t, child++, id);
        span_open(w, t, id, t->span_id, "sluice.queue", KIND_INTERNAL, start, start + t->queue_ns);
        attr_str(w, "sluice.deployment", t->nattempts ? t->attempt[0].deployment : t->deployment);
        span_close(w, STATUS_UNSET, NULL);
    }
    for (unsigned i = 0; i < t->nattempts; i++) {
        const struct sl_otel_attempt *a = &t->attempt[i], *prev = i ? a - 1 : NULL;
        if (prev && a->start_ns > prev->end_ns && strcmp(a->deployment, prev->deployment) == 0) {
            child_id(t, child++, id);
            span_open(w, t, id, t->span_id, "sluice.backoff", KIND_INTERNAL, prev->end_ns,
                      a->start_ns);
            attr_str(w, "sluice.deployment", a->deployment);
            attr_str(w, "error.type", prev->error);
            span_close(w, STATUS_UNSET, NULL);
        }
        attempt_span(w, t, i, name);
    }
}

int sl_otlp_json(const struct sl_otel_trace *traces, size_t n, const char *service,
                 struct sl_buf *out)
{
    struct enc e = {.out = out};
    LIT(&e, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    attr_str(&e, "service.name", service && *service ? service : "sluice");
    attr_str(&e, "telemetry.sdk.name", "sluice");
    attr_str(&e, "telemetry.sdk.language", "c");
    LIT(&e, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"sluice.gateway\"},\"spans\":[");
    e.more = 0;
    for (size_t i = 0; i < n; i++)
        spans_of(&e, &traces[i]);
    LIT(&e, "]}]}]}");
    return e.err;
}
