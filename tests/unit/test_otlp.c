/* The OTLP JSON of trace records (otel/otlp_json.h), read back with
 * jansson: the span tree a request gives, ids in hex, times as decimal
 * strings, attributes by type, waits only where there were some, and the
 * bound of the output buffer. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <uv.h>

#include "otel/otlp_json.h"

static void record(struct sl_otel_trace *t, unsigned attempts, int fallback)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < 16; i++)
        t->trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 8; i++) {
        t->span_id[i] = (uint8_t)(0x10 + i);
        t->parent_id[i] = (uint8_t)(0xf0 + i);
    }
    t->has_parent = 1;
    t->start_ns = 1764600000000000000LL;
    t->end_ns = t->start_ns + 90000000;
    t->queue_ns = 2000000;
    strcpy(t->request_id, "req_1");
    strcpy(t->operation, "chat");
    strcpy(t->route, "/v1/chat/completions");
    strcpy(t->model, "gpt \"4o\"");
    strcpy(t->deployment, "d2");
    strcpy(t->key, "team\\a\n\x01");
    strcpy(t->provider, "openai");
    t->status = 200;
    t->max_tokens = -1;
    t->input_tokens = 12;
    t->output_tokens = 5;
    t->attempts = attempts;
    t->nattempts = attempts;
    for (unsigned i = 0; i < attempts; i++) {
        struct sl_otel_attempt *a = &t->attempt[i];
        memset(a->span_id, (int)(0x30 + i), 8);
        a->start_ns = t->start_ns + 3000000 + (int64_t)i * 20000000;
        a->end_ns = a->start_ns + 10000000;
        a->status = i + 1 < attempts ? 503 : 200;
        strcpy(a->error, i + 1 < attempts ? "unavailable" : "");
        strcpy(a->deployment, fallback && i + 1 == attempts ? "d2" : "d1");
        strcpy(a->provider, "openai");
        strcpy(a->server, "127.0.0.1");
        a->port = 8081;
    }
}

static json_t *encode(const struct sl_otel_trace *t, size_t n)
{
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    cr_assert_eq(sl_otlp_json(t, n, "svc", &out), 0);
    json_error_t err;
    json_t *doc = json_loads(out.ptr, 0, &err);
    cr_assert_not_null(doc, "%s: %s", err.text, out.ptr);
    sl_buf_release(&out);
    return doc;
}

static json_t *spans(json_t *doc)
{
    return json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(doc, "resourceSpans"), 0), "scopeSpans"),
            0),
        "spans");
}

static const char *s(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *attr(json_t *span, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i,
                       a) if (strcmp(s(a, "key"), key) == 0) return json_object_get(a, "value");
    return NULL;
}

Test(otlp, a_retried_request_is_its_span_its_waits_and_its_attempts)
{
    struct sl_otel_trace t;
    record(&t, 3, 0);
    cr_assert_eq(sl_otlp_span_count(&t), 1 + 1 + 3 + 2);
    json_t *doc = encode(&t, 1);
    json_t *sp = spans(doc);
    cr_assert_eq(json_array_size(sp), 7);
    json_t *root = json_array_get(sp, 0);
    cr_assert_str_eq(s(root, "traceId"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    cr_assert_str_eq(s(root, "spanId"), "1011121314151617");
    cr_assert_str_eq(s(root, "parentSpanId"), "f0f1f2f3f4f5f6f7");
    cr_assert_str_eq(s(root, "name"), "chat gpt \"4o\"");
    cr_assert_str_eq(s(root, "startTimeUnixNano"), "1764600000000000000");
    cr_assert_str_eq(s(root, "endTimeUnixNano"), "1764600000090000000");
    cr_assert_str_eq(s(attr(root, "gen_ai.usage.input_tokens"), "intValue"), "12");
    cr_assert_null(attr(root, "gen_ai.request.max_tokens"), "not sent: left out");
    cr_assert_str_eq(s(attr(root, "sluice.key"), "stringValue"), "team\\a\n\x01", "escaped");
    cr_assert_null(attr(root, "error.type"));
    cr_assert(json_is_false(json_object_get(attr(root, "sluice.stream"), "boolValue")));
    cr_assert_null(json_object_get(json_object_get(root, "status"), "code"));
    static const char *const names[] = {"sluice.queue",    "chat gpt \"4o\"", "sluice.backoff",
                                        "chat gpt \"4o\"", "sluice.backoff",  "chat gpt \"4o\""};
    for (size_t i = 1; i < 7; i++) {
        json_t *c = json_array_get(sp, i);
        cr_assert_str_eq(s(c, "name"), names[i - 1], "%zu", i);
        cr_assert_str_eq(s(c, "parentSpanId"), "1011121314151617");
        cr_assert_eq(strlen(s(c, "spanId")), 16);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(s(c, "spanId"), s(json_array_get(sp, j), "spanId"));
    }
    json_t *failed = json_array_get(sp, 2), *wait = json_array_get(sp, 3);
    cr_assert_str_eq(s(failed, "spanId"), "3030303030303030");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(failed, "status"), "code")), 2);
    cr_assert_str_eq(s(attr(failed, "error.type"), "stringValue"), "unavailable");
    cr_assert_str_eq(s(attr(failed, "server.port"), "intValue"), "8081");
    /* the wait: from the failed attempt's end to the retry's start */
    cr_assert_str_eq(s(wait, "startTimeUnixNano"), "1764600000013000000");
    cr_assert_str_eq(s(wait, "endTimeUnixNano"), "1764600000023000000");
    cr_assert_str_eq(s(json_array_get(sp, 1), "endTimeUnixNano"), "1764600000003000000",
                     "the queue wait ends when the first attempt starts");
    json_decref(doc);
}

Test(otlp, a_fallback_is_marked_and_has_no_backoff)
{
    struct sl_otel_trace t[2];
    record(&t[0], 2, 1);
    record(&t[1], 1, 0);
    t[1].has_parent = 0;
    t[1].status = 502;
    strcpy(t[1].error, "bad_gateway");
    t[1].queue_ns = 0;
    cr_assert_eq(sl_otlp_span_count(&t[0]), 1 + 1 + 2);
    cr_assert_eq(sl_otlp_span_count(&t[1]), 1 + 1);
    json_t *doc = encode(t, 2);
    json_t *sp = spans(doc);
    cr_assert_eq(json_array_size(sp), 6);
    json_t *second = json_array_get(sp, 3);
    cr_assert(json_is_true(json_object_get(attr(second, "sluice.fallback"), "boolValue")));
    cr_assert_str_eq(s(attr(second, "sluice.deployment"), "stringValue"), "d2");
    json_t *other = json_array_get(sp, 4);
    cr_assert_null(json_object_get(other, "parentSpanId"), "a new trace has no parent");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(other, "status"), "code")), 2,
                 "a 5xx fails the server span");
    json_decref(doc);
}

Test(otlp, the_output_is_bounded)
{
    struct sl_otel_trace t;
    record(&t, 8, 0);
    struct sl_buf out;
    sl_buf_init(&out, 512);
    cr_assert_eq(sl_otlp_json(&t, 1, "svc", &out), UV_ENOBUFS);
    cr_assert_leq(out.len, 512);
    sl_buf_release(&out);
}
