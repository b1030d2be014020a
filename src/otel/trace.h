/* What the gateway hands the trace exporter for one sampled request: the
 * request's facts and its attempts, copied (no pointer into the gateway's
 * state, so the exporter's thread may read it after the request is gone).
 * otlp_json.c turns it into spans: the request (SERVER), its queue wait,
 * one CLIENT span per upstream attempt and the waits between them, named
 * and attributed after OpenTelemetry's GenAI semantic conventions. */
#ifndef SL_OTEL_TRACE_H
#define SL_OTEL_TRACE_H

#include <stdint.h>

/* Attempts of one request kept for its trace; later ones are counted in
 * sl_otel_trace.attempts only. */
#define SL_OTEL_MAX_ATTEMPTS 8

struct sl_otel_attempt {
    uint8_t span_id[8];
    int64_t start_ns, end_ns; /* Unix time */
    int status;               /* the upstream's HTTP status, 0: none (no answer) */
    char error[32];           /* the attempt's error class, "" when it succeeded */
    char deployment[64];
    char provider[16]; /* gen_ai.provider.name: "openai", "anthropic", ... */
    char server[64];   /* server.address */
    int port;          /* server.port */
};

struct sl_otel_trace {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    int has_parent;           /* the client's traceparent named a parent span */
    int64_t start_ns, end_ns; /* the request, Unix time */
    int64_t queue_ns;         /* waited for a permit before the first attempt */
    char request_id[40];
    char operation[24]; /* gen_ai.operation.name: "chat", "embeddings", "text_completion" */
    char route[32];     /* http.route: "/v1/chat/completions", "/v1/messages", ... */
    char model[128];    /* gen_ai.request.model */
    char key[64];       /* the gateway key's name, "" */
    char deployment[64];
    char provider[16];
    char error[32]; /* error.type when it failed, "" */
    int status;     /* the HTTP status the client saw */
    int stream, cancelled;
    long max_tokens; /* gen_ai.request.max_tokens, -1: not sent */
    unsigned input_tokens, output_tokens;
    unsigned attempts, fallbacks;
    double ttfb_ms;
    unsigned nattempts; /* kept in attempt[] */
    struct sl_otel_attempt attempt[SL_OTEL_MAX_ATTEMPTS];
};

#endif
