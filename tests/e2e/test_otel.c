/* Traces over OpenTelemetry, end to end: `sluice serve` with `otel:`
 * exports one span per request and a child per upstream attempt (and its
 * queue and retry waits) to a collector, here the test itself on a raw
 * socket, which decodes what it gets (jansson) and checks the span tree,
 * the GenAI attributes, the client's trace continued, the upstream's
 * traceparent naming the attempt's span, sampling, and that a dead
 * collector costs the requests nothing. */
#include <jansson.h>
#include <pthread.h>

#include "raw_peer.h"
#include "serve_support.h"

TestSuite(otel, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

static char buf[256 * 1024];
static const char chat[] = "{\"model\":\"gpt\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hi\"}]}";
#define CLIENT_TRACE "0af7651916cd43dd8448eb211c80319c"
#define CLIENT_SPAN  "b7ad6b7169203331"

/* serve with one model "gpt" on UPSTREAM_PORT (3 attempts, 20 ms apart),
 * exporting to COLLECTOR_PORT with SAMPLE. */
static int start_serve(int upstream_port, int collector_port, const char *sample, pid_t *serve)
{
    int port = e2e_start_serve_yaml(
        "serve.yaml", NULL, serve,
        "otel: {endpoint: 'http://127.0.0.1:%d', sample: %s, service_name: gw-test,\n"
        "       headers: {x-collector-token: t0k}}\n"
        "models:\n"
        "  - name: gpt\n"
        "    deployments:\n"
        "      - {name: d1, url: 'http://127.0.0.1:%d',\n"
        "         retry: {max_attempts: 3, backoff: fixed, base_ms: 20}}\n",
        collector_port, sample, upstream_port);
    e2e_live_serve = *serve;
    return port;
}

/* The collector takes one export within timeout_ms: its JSON (NULL when
 * none came), the request's head in head. */
static json_t *collect(int lfd, int timeout_ms, char *head, size_t size)
{
    static char req[1 << 20];
    int fd = up_accept(lfd, req, sizeof(req), timeout_ms);
    if (fd < 0)
        return NULL;
    up_answer(fd, "200 OK\r\nContent-Type: application/json", "{}");
    char *body = strstr(req, "\r\n\r\n");
    cr_assert_not_null(body);
    snprintf(head, size, "%.*s", (int)(body - req), req);
    json_error_t err;
    json_t *doc = json_loads(body + 4, 0, &err);
    cr_assert_not_null(doc, "not JSON (%s): %s", err.text, body + 4);
    return doc;
}

static json_t *spans_of(json_t *doc)
{
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    json_t *spans = json_object_get(ss, "spans");
    cr_assert(json_is_array(spans));
    return spans;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* An attribute's value as text ("" when absent). */
static const char *attr(json_t *span, const char *key)
{
    static char out[256];
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
    {
        if (strcmp(str(a, "key"), key) != 0)
            continue;
        json_t *v = json_object_get(a, "value");
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (json_is_string(x))
                snprintf(out, sizeof(out), "%s", json_string_value(x));
            else if (json_is_true(x) || json_is_false(x))
                snprintf(out, sizeof(out), "%s", json_is_true(x) ? "true" : "false");
            else
                snprintf(out, sizeof(out), "%g", json_number_value(x));
            return out;
        }
    }
    return "";
}

static long long num(json_t *o, const char *key)
{
    return strtoll(str(o, key), NULL, 10);
}

Test(otel, a_retried_request_is_one_trace_with_its_attempts_and_waits)
{
    const char *seq[] = {"--sequence", "500,ok", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock_as("mock", seq, &mock);
    e2e_live_upstream = mock;
    int cp, lfd = up_listen(&cp);
    int sp = start_serve(mp, cp, "0.0", &serve); /* sampled by the client's flag */
    cr_assert_eq(bh_request_with(sp, "POST", "/v1/chat/completions",
                                 "Content-Type: application/json\r\n"
                                 "traceparent: 00-" CLIENT_TRACE "-" CLIENT_SPAN "-01\r\n",
                                 chat, buf, sizeof(buf)),
                 200, "%s", buf);
    char head[4096];
    json_t *doc = collect(lfd, 10000, head, sizeof(head));
    cr_assert_not_null(doc, "no export reached the collector");
    cr_assert_not_null(strcasestr(head, "\r\nx-collector-token: t0k"), "%s", head);
    cr_assert_not_null(strcasestr(head, "POST /v1/traces HTTP/1.1"), "%s", head);
    json_t *res =
        json_object_get(json_array_get(json_object_get(doc, "resourceSpans"), 0), "resource");
    cr_assert_str_eq(attr(res, "service.name"), "gw-test");
    json_t *spans = spans_of(doc);
    /* the request, its queue wait (however short), the failed attempt,
     * the backoff, the retry */
    size_t n = json_array_size(spans);
    cr_assert(n == 5 || n == 4, "%s", json_dumps(spans, 0));
    json_t *root = json_array_get(spans, 0);
    cr_assert_str_eq(str(root, "traceId"), CLIENT_TRACE);
    cr_assert_str_eq(str(root, "parentSpanId"), CLIENT_SPAN, "the client's trace goes on");
    cr_assert_eq(json_integer_value(json_object_get(root, "kind")), 2);
    cr_assert_str_eq(str(root, "name"), "chat gpt");
    cr_assert_str_eq(attr(root, "gen_ai.operation.name"), "chat");
    cr_assert_str_eq(attr(root, "gen_ai.request.model"), "gpt");
    cr_assert_str_eq(attr(root, "gen_ai.provider.name"), "openai");
    cr_assert_str_eq(attr(root, "gen_ai.request.max_tokens"), "3");
    cr_assert_str_eq(attr(root, "gen_ai.usage.output_tokens"), "3");
    cr_assert_str_eq(attr(root, "http.response.status_code"), "200");
    cr_assert_str_eq(attr(root, "sluice.attempts"), "2");
    cr_assert_str_eq(attr(root, "http.route"), "/v1/chat/completions");
    const char *root_id = str(root, "spanId");
    cr_assert_eq(strlen(root_id), 16);
    long long t0 = num(root, "startTimeUnixNano"), t1 = num(root, "endTimeUnixNano");
    cr_assert(t0 > 1700000000000000000LL && t1 >= t0);
    static const char *const names[] = {"chat gpt", "sluice.backoff", "chat gpt"};
    static const int kinds[] = {3, 1, 3};
    json_t *kids[3];
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        json_t *s = json_array_get(spans, i);
        cr_assert_str_eq(str(s, "traceId"), CLIENT_TRACE);
        cr_assert_str_eq(str(s, "parentSpanId"), root_id, "span %zu is the request's child", i);
        cr_assert_str_neq(str(s, "spanId"), root_id);
        cr_assert(num(s, "startTimeUnixNano") >= t0 && num(s, "endTimeUnixNano") <= t1,
                  "span %zu inside the request", i);
        if (strcmp(str(s, "name"), "sluice.queue") == 0) {
            cr_assert_eq(i, 1, "the queue wait comes first");
            continue;
        }
        cr_assert_lt(k, 3);
        cr_assert_str_eq(str(s, "name"), names[k], "span %zu", i);
        cr_assert_eq(json_integer_value(json_object_get(s, "kind")), kinds[k], "span %zu", i);
        kids[k++] = s;
    }
    cr_assert_eq(k, 3);
    json_t *first = kids[0], *wait = kids[1], *second = kids[2];
    cr_assert_str_eq(attr(first, "http.response.status_code"), "500");
    cr_assert_str_eq(attr(first, "error.type"), "server_error");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(first, "status"), "code")), 2);
    cr_assert_str_eq(attr(first, "server.address"), "127.0.0.1");
    cr_assert_str_eq(attr(first, "sluice.attempt"), "1");
    cr_assert_str_eq(attr(second, "http.response.status_code"), "200");
    cr_assert_str_eq(attr(second, "sluice.attempt"), "2");
    cr_assert_str_eq(attr(second, "error.type"), "");
    cr_assert(num(wait, "endTimeUnixNano") - num(wait, "startTimeUnixNano") >= 15000000,
              "the backoff span covers the 20 ms wait");
    json_decref(doc);
    cr_assert_eq(e2e_metric(sp, "sluice_otel_spans_exported_total"), (double)n);
    close(lfd);
}

Test(otel, sampling_follows_the_client_then_the_ratio)
{
    pid_t mock, serve;
    int mp = e2e_start_mock_as("mock", NULL, &mock);
    e2e_live_upstream = mock;
    int cp, lfd = up_listen(&cp);
    int sp = start_serve(mp, cp, "0.0", &serve);
    /* sample 0: no traceparent, or the client's says "not sampled" */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_eq(bh_request_with(sp, "POST", "/v1/chat/completions",
                                 "Content-Type: application/json\r\n"
                                 "traceparent: 00-" CLIENT_TRACE "-" CLIENT_SPAN "-00\r\n",
                                 chat, buf, sizeof(buf)),
                 200);
    /* the client's sampled flag wins over the ratio */
    cr_assert_eq(bh_request_with(sp, "POST", "/v1/chat/completions",
                                 "Content-Type: application/json\r\n"
                                 "traceparent: 00-" CLIENT_TRACE "-" CLIENT_SPAN "-01\r\n",
                                 chat, buf, sizeof(buf)),
                 200);
    char head[4096];
    json_t *doc = collect(lfd, 10000, head, sizeof(head));
    cr_assert_not_null(doc);
    json_t *spans = spans_of(doc);
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s) cr_assert_str_eq(str(s, "traceId"), CLIENT_TRACE);
    json_decref(doc);
    e2e_stop(serve);

    /* sample 1: every request, each its own trace */
    sp = start_serve(mp, cp, "1.0", &serve);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    size_t roots = 0;
    char traces[3][33] = {{0}};
    while (roots < 3 && (doc = collect(lfd, 10000, head, sizeof(head))) != NULL) {
        json_array_foreach(spans_of(doc), i, s) if (json_object_get(s, "parentSpanId") == NULL)
        {
            cr_assert_lt(roots, 3);
            snprintf(traces[roots++], 33, "%s", str(s, "traceId"));
        }
        json_decref(doc);
    }
    cr_assert_eq(roots, 3);
    cr_assert(strcmp(traces[0], traces[1]) && strcmp(traces[1], traces[2]) &&
              strcmp(traces[0], traces[2]));
    close(lfd);
}

struct call {
    int port, status;
    char out[65536];
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    c->status = bh_request(c->port, "POST", "/v1/chat/completions", chat, c->out, sizeof(c->out));
    return NULL;
}

Test(otel, the_upstream_sees_the_attempt_span_as_its_parent)
{
    int up, ufd = up_listen(&up);
    int cp, lfd = up_listen(&cp);
    pid_t serve;
    int sp = start_serve(up, cp, "1.0", &serve);
    struct call c = {.port = sp};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &c);
    char req[65536];
    int fd = up_accept(ufd, req, sizeof(req), 10000);
    cr_assert_geq(fd, 0);
    const char *tp = strcasestr(req, "\r\ntraceparent: 00-");
    cr_assert_not_null(tp, "%s", req);
    char trace[33], parent[17];
    snprintf(trace, sizeof(trace), "%.32s", tp + 18);
    snprintf(parent, sizeof(parent), "%.16s", tp + 51);
    cr_assert_eq(strncmp(tp + 67, "-01\r\n", 5), 0, "%s", tp);
    up_answer(fd, "200 OK\r\nContent-Type: application/json",
              "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt\","
              "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"yo\"},"
              "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
              "\"total_tokens\":7}}");
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 200, "%s", c.out);
    char head[4096];
    json_t *doc = collect(lfd, 10000, head, sizeof(head));
    cr_assert_not_null(doc);
    size_t i;
    json_t *s;
    int found = 0;
    json_array_foreach(spans_of(doc), i, s)
    {
        cr_assert_str_eq(str(s, "traceId"), trace);
        if (json_integer_value(json_object_get(s, "kind")) == 3) {
            cr_assert_str_eq(str(s, "spanId"), parent, "the upstream's parent is the attempt");
            found = 1;
        }
    }
    cr_assert(found);
    json_decref(doc);
    close(lfd);
    close(ufd);
}

Test(otel, a_dead_collector_costs_the_requests_nothing)
{
    pid_t mock, serve;
    int mp = e2e_start_mock_as("mock", NULL, &mock);
    e2e_live_upstream = mock;
    int cp, lfd = up_listen(&cp);
    close(lfd); /* nothing listens there: every export is refused */
    int sp = start_serve(mp, cp, "1.0", &serve);
    for (int k = 0; k < 40; k++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    double failed = 0;
    for (int k = 0; k < 100 && failed < 40; k++) {
        failed = e2e_metric(sp, "sluice_otel_traces_failed_total");
        usleep(50000);
    }
    cr_assert_eq(failed, 40, "every trace's export failed, and was counted");
    cr_assert_eq(e2e_metric(sp, "sluice_otel_traces_exported_total"), 0);
    e2e_stop(serve);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE status = 'succeeded'"),
                 40);
}
