/* API fidelity, end to end: what passes between a client and its upstream
 * through sluice serve besides the body. The upstream here is the test
 * itself on a raw socket, so that it can see every byte serve sends and
 * answer exactly what a real provider does:
 *  - the upstream's x-ratelimit-* headers and request id reach the client
 *    (as x-upstream-request-id); the client's traceparent/tracestate reach
 *    the upstream (a malformed traceparent does not);
 *  - a client's own x-request-id is the request's id (malformed: 400; one
 *    in flight: 409);
 *  - a stream whose client did not ask for the usage chunk is asked for it
 *    (the row gets its tokens) and the client does not see it;
 *  - an upstream failure's own message reaches the client, with an OpenAI
 *    error type. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "raw_peer.h"
#include "serve_support.h"

TestSuite(fidelity, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

struct call {
    int port;
    const char *headers, *body;
    int status;
    char out[65536];
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    c->status = bh_request_with(c->port, "POST", "/v1/chat/completions", c->headers, c->body,
                                c->out, sizeof(c->out));
    return NULL;
}

static void *get_models_thread(void *arg)
{
    struct call *c = arg;
    c->status = bh_request(c->port, "GET", "/v1/models", NULL, c->out, sizeof(c->out));
    return NULL;
}

/* Accepts one bodiless request (a GET) within timeout_ms, or -1. */
static int up_accept_get(int lfd, char *req, size_t size, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    int fd = accept(lfd, NULL, NULL);
    size_t len = 0;
    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL) {
        ssize_t got = recv(fd, req + len, size - len - 1, 0);
        cr_assert_gt(got, 0);
        len += (size_t)got;
        req[len] = '\0';
    }
    return fd;
}

static const char chat[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char completion[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"yo\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
    "\"total_tokens\":7}}";

static long long rows(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE %s", where);
    return e2e_sql_int(e2e_path("serve.db"), sql);
}

Test(fidelity, headers_pass_both_ways_and_the_client_names_its_request)
{
    int up_port, lfd = up_listen(&up_port);
    pid_t serve;
    int sp = e2e_start_serve_upstream(up_port, NULL, &serve);
    e2e_live_serve = serve;
    struct call c = {.port = sp,
                     .body = chat,
                     .headers =
                         "Content-Type: application/json\r\n"
                         "x-request-id: client-7.a:b_c\r\n"
                         "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                         "\r\ntracestate: congo=t61rcWkgMzE\r\n"};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &c);
    char req[65536];
    int fd = up_accept(lfd, req, sizeof(req), 10000);
    cr_assert_geq(fd, 0, "no request reached the upstream");
    cr_assert_not_null(strcasestr(req,
                                  "\r\ntraceparent: "
                                  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"),
                       "%s", req);
    cr_assert_not_null(strcasestr(req, "\r\ntracestate: congo=t61rcWkgMzE\r\n"), "%s", req);
    cr_assert_null(strcasestr(req, "x-request-id"), "the client's id is not the upstream's: %s",
                   req);
    /* while it is in flight, its id is taken */
    char out[8192];
    cr_assert_eq(
        bh_request_with(sp, "POST", "/v1/chat/completions",
                        "Content-Type: application/json\r\nx-request-id: client-7.a:b_c\r\n", chat,
                        out, sizeof(out)),
        409, "%s", out);
    cr_assert_not_null(strstr(out, "duplicate_request_id"), "%s", out);
    up_answer(fd,
              "200 OK\r\nContent-Type: application/json\r\nx-request-id: req_up_123\r\n"
              "x-ratelimit-limit-requests: 500\r\nx-ratelimit-remaining-requests: 499\r\n"
              "x-ratelimit-reset-requests: 120ms\r\nopenai-processing-ms: 9",
              completion);
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 200, "%s", c.out);
    cr_assert_not_null(strcasestr(c.out, "\r\nx-request-id: client-7.a:b_c\r\n"), "%s", c.out);
    cr_assert_not_null(strcasestr(c.out, "\r\nx-upstream-request-id: req_up_123\r\n"), "%s", c.out);
    cr_assert_not_null(strcasestr(c.out, "\r\nx-ratelimit-remaining-requests: 499\r\n"), "%s",
                       c.out);
    cr_assert_not_null(strcasestr(c.out, "\r\nx-ratelimit-reset-requests: 120ms\r\n"), "%s", c.out);
    cr_assert_null(strcasestr(c.out, "openai-processing-ms"), "%s", c.out);

    /* a malformed traceparent is not passed on; a malformed id is refused */
    c = (struct call){.port = sp,
                      .body = chat,
                      .headers = "Content-Type: application/json\r\n"
                                 "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b71\r\n"};
    pthread_create(&t, NULL, call_thread, &c);
    fd = up_accept(lfd, req, sizeof(req), 10000);
    cr_assert_geq(fd, 0);
    cr_assert_null(strcasestr(req, "traceparent"), "%s", req);
    up_answer(fd, "200 OK\r\nContent-Type: application/json", completion);
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 200, "%s", c.out);
    cr_assert_eq(bh_request_with(sp, "POST", "/v1/chat/completions",
                                 "Content-Type: application/json\r\nx-request-id: a b\r\n", chat,
                                 out, sizeof(out)),
                 400, "%s", out);
    cr_assert_not_null(strstr(out, "invalid_request_id"), "%s", out);
    e2e_stop(serve);
    e2e_live_serve = 0;
    cr_assert_eq(rows("metadata ->> 'id' = 'client-7.a:b_c' AND status = 'succeeded'"), 1);
    close(lfd);
}

/* An OpenAI stream as the real API sends it: the usage chunk (choices [])
 * only when asked, after the finish chunk. */
static void answer_stream(int fd, int with_usage)
{
    char body[4096];
    snprintf(body, sizeof(body),
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
             "\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
             "\"yo\"},\"finish_reason\":null}]}\n\n"
             "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
             "\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
             "%s"
             "data: [DONE]\n\n",
             with_usage ? "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                          "\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
                          "\"completion_tokens\":3,\"total_tokens\":14}}\n\n"
                        : "");
    up_answer(fd, "200 OK\r\nContent-Type: text/event-stream", body);
}

Test(fidelity, the_usage_chunk_is_asked_for_and_kept_from_a_client_that_did_not)
{
    int up_port, lfd = up_listen(&up_port);
    pid_t serve;
    int sp = e2e_start_serve_upstream(up_port, NULL, &serve);
    e2e_live_serve = serve;
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"};
    for (int asked = 0; asked < 2; asked++) {
        struct call c = {.port = sp, .body = bodies[asked]};
        char id[32];
        snprintf(id, sizeof(id), "u-%d", asked);
        char headers[128];
        snprintf(headers, sizeof(headers), "Content-Type: application/json\r\nx-request-id: %s\r\n",
                 id);
        c.headers = headers;
        pthread_t t;
        pthread_create(&t, NULL, call_thread, &c);
        char req[65536];
        int fd = up_accept(lfd, req, sizeof(req), 10000);
        cr_assert_geq(fd, 0);
        cr_assert_not_null(strstr(req, "\"include_usage\":true"), "%s", req);
        answer_stream(fd, 1);
        pthread_join(t, NULL);
        cr_assert_eq(c.status, 200, "%s", c.out);
        cr_assert_not_null(strstr(c.out, "\"content\":\"yo\""), "%s", c.out);
        cr_assert_not_null(strstr(c.out, "\"finish_reason\":\"stop\""), "%s", c.out);
        cr_assert_not_null(strstr(c.out, "data: [DONE]"), "%s", c.out);
        if (asked)
            cr_assert_not_null(strstr(c.out, "\"completion_tokens\":3"), "%s", c.out);
        else
            cr_assert_null(strstr(c.out, "usage"), "the client did not ask: %s", c.out);
    }
    e2e_stop(serve);
    e2e_live_serve = 0;
    cr_assert_eq(rows("metadata ->> 'id' IN ('u-0', 'u-1') AND status = 'succeeded' AND "
                      "metadata ->> 'completion_tokens' = 3"),
                 2);
    close(lfd);
}

Test(fidelity, an_upstream_failure_says_what_the_upstream_said)
{
    int up_port, lfd = up_listen(&up_port);
    pid_t serve;
    int sp = e2e_start_serve_upstream(up_port, NULL, &serve);
    e2e_live_serve = serve;
    struct call c = {.port = sp, .body = chat, .headers = "Content-Type: application/json\r\n"};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &c);
    char req[65536];
    int attempts = 0, fd;
    while ((fd = up_accept(lfd, req, sizeof(req), 3000)) >= 0) {
        attempts++;
        up_answer(fd, "503 Service Unavailable\r\nContent-Type: application/json",
                  "{\"error\":{\"message\":\"The engine is \\\"overloaded\\\"; try again\","
                  "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    }
    pthread_join(t, NULL);
    cr_assert_gt(attempts, 0);
    cr_assert_eq(c.status, 503, "%s", c.out);
    cr_assert_not_null(strstr(c.out, "HTTP 503: The engine is \\\"overloaded\\\"; try again"), "%s",
                       c.out);
    cr_assert_not_null(strstr(c.out, "\"type\":\"server_error\""), "%s", c.out);
    cr_assert_not_null(strstr(c.out, "\"code\":\"unavailable\""), "%s", c.out);
    e2e_stop(serve);
    e2e_live_serve = 0;
    close(lfd);
}

Test(fidelity, a_deployment_may_send_the_clients_own_key_and_headers)
{
    int up_port, lfd = up_listen(&up_port);
    pid_t serve;
    int sp = e2e_start_serve_yaml("serve.yaml", NULL, &serve,
                                  "models:\n"
                                  "  - name: m\n"
                                  "    deployments:\n"
                                  "      - {url: 'http://127.0.0.1:%d', api_key: client,\n"
                                  "         forward_headers: [OpenAI-Organization, x-team]}\n",
                                  up_port);
    e2e_live_serve = serve;
    /* no key of the client's: refused before any upstream */
    char out[8192];
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, out, sizeof(out)), 401, "%s",
                 out);
    cr_assert_not_null(strstr(out, "x-upstream-api-key"), "%s", out);
    struct call c = {.port = sp,
                     .body = chat,
                     .headers = "Content-Type: application/json\r\n"
                                "Authorization: Bearer sk-client-own\r\n"
                                "OpenAI-Organization: org-7\r\nx-team: blue\r\nx-other: no\r\n"};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &c);
    char req[65536];
    int fd = up_accept(lfd, req, sizeof(req), 10000);
    cr_assert_geq(fd, 0);
    cr_assert_not_null(strcasestr(req, "\r\nAuthorization: Bearer sk-client-own\r\n"), "%s", req);
    cr_assert_not_null(strcasestr(req, "\r\nOpenAI-Organization: org-7\r\n"), "%s", req);
    cr_assert_not_null(strcasestr(req, "\r\nx-team: blue\r\n"), "%s", req);
    cr_assert_null(strcasestr(req, "x-other"), "%s", req);
    up_answer(fd, "200 OK\r\nContent-Type: application/json", completion);
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 200, "%s", c.out);
    e2e_stop(serve);
    e2e_live_serve = 0;
    close(lfd);
}

/* The quick start has no model names of its own: /v1/models is the
 * upstream's list (here the mock's), and an upstream that cannot list is a
 * 502 that says so. */
Test(fidelity, the_quick_start_lists_the_upstreams_models)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    e2e_live_upstream = mock;
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    e2e_live_serve = serve;
    char out[16384];
    cr_assert_eq(bh_request(sp, "GET", "/v1/models", NULL, out, sizeof(out)), 200, "%s", out);
    cr_assert_not_null(strstr(out, "\"id\":\"gpt-4o-mini\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"object\":\"list\""), "%s", out);
    e2e_stop(serve);
    e2e_live_serve = 0;
    e2e_stop(mock);
    e2e_live_upstream = 0;

    int up_port, lfd = up_listen(&up_port);
    sp = e2e_start_serve_upstream(up_port, NULL, &serve);
    e2e_live_serve = serve;
    struct call c = {.port = sp};
    pthread_t t;
    pthread_create(&t, NULL, get_models_thread, &c);
    char req[65536];
    int fd = up_accept_get(lfd, req, sizeof(req), 10000);
    cr_assert_geq(fd, 0);
    cr_assert_not_null(strstr(req, "GET /v1/models HTTP/1.1\r\n"), "%s", req);
    up_answer(fd, "500 Internal Server Error\r\nContent-Type: text/html", "<h1>down</h1>");
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 502, "%s", c.out);
    cr_assert_not_null(strstr(c.out, "did not list its models"), "%s", c.out);
    e2e_stop(serve);
    e2e_live_serve = 0;
    close(lfd);
}
