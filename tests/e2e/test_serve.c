/* sluice serve end to end, against sluice mock upstreams on loopback. */
#include <pthread.h>

#include "serve_support.h"

TestSuite(serve, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";
static const char chat_stream[] = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"max_tokens\":8,"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static char buf[256 * 1024];

Test(serve, success_json_and_stream_with_request_ids)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "x-request-id: req_"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""));
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "text/event-stream"));
    cr_assert_not_null(strstr(buf, "x-request-id: req_"));
    cr_assert_not_null(strstr(buf, "data: [DONE]"));
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings", "{\"model\":\"e\",\"input\":\"x\"}", buf,
                            sizeof(buf)),
                 200);
    cr_assert_eq(bh_request(sp, "GET", "/health", NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(bh_request(sp, "GET", "/ready", NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(bh_request(sp, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_requests_total{model=\"*\",deployment=\"upstream\","
                                   "status=\"200\"} 3"),
                       "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
    /* one row per proxied request (health, metrics... are not requests) */
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 3);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'succeeded' AND "
                                 "metadata ->> 'status' = 200 AND attempts = 1"),
                 3);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'stream' AND "
                                 "metadata ->> 'completion_tokens' = 8"),
                 1, "the usage of the final stream chunk is recorded");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE NOT metadata ->> 'stream' "
                                 "AND metadata ->> 'completion_tokens' = 16 AND "
                                 "metadata ->> 'prompt_tokens' > 0"),
                 1, "the usage of a JSON response is recorded");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM runs WHERE command = 'serve' AND "
                                 "status = 'completed'"),
                 1);
}

Test(serve, a_429_then_success_costs_one_retry_and_honours_retry_after)
{
    const char *margs[] = {"--sequence", "429,ok", "--retry-after", "1", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    double t0 = e2e_now_ms();
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    double took = e2e_now_ms() - t0;
    cr_assert_geq(took, 990, "Retry-After: 1 was not honoured (%.0f ms)", took);
    cr_assert_lt(took, 20000, "a retry after 1 s took %.0f ms", took); /* bounded, generously */
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 2);
    cr_assert_eq(bh_request(sp, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_retries_total{deployment=\"upstream\"} 1\n"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* Still rate limited after every retry: the client gets 429 (not 503)
 * with the upstream's last Retry-After, so that it backs off as it would
 * from the provider itself. */
Test(serve, rate_limited_to_the_end_answers_429_with_retry_after)
{
    const char *margs[] = {"--sequence", "429,429,429", "--retry-after", "0", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 429, "%s",
                 buf);
    cr_assert_not_null(strcasestr(buf, "\r\nRetry-After: 1\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"code\":\"rate_limited\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 3, "every attempt was made");
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve, a_permanent_400_is_not_retried)
{
    const char *margs[] = {"--sequence", "400", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 400);
    cr_assert_not_null(strstr(buf, "{\"error\":"));
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve, exhaustion_falls_back_to_the_next_deployment)
{
    pid_t m1, m2, serve;
    int p1, p2;
    e2e_start_fallback_mocks(&p1, &m1, &p2, &m2);
    char model[512];
    int sp = e2e_start_serve_yaml(
        "fallback.yaml", NULL, &serve, "models:\n%s",
        e2e_fallback_model(model, sizeof(model), "first", "second", 5, p1, p2));
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_eq(e2e_mock_stat(p1, "requests"), 2, "the first deployment gets max_attempts");
    cr_assert_eq(e2e_mock_stat(p2, "requests"), 1);
    cr_assert_eq(bh_request(sp, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_fallbacks_total{model=\"gpt-4o-mini\"} 1\n"));
    e2e_stop(serve);
    e2e_stop(m1);
    e2e_stop(m2);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE attempts = 3 AND status = "
                             "'succeeded' AND metadata ->> 'deployment' = 'second'"),
                 1);
}

static void call_many(int port, int n, struct bh_call *calls)
{
    pthread_t t[64];
    for (int i = 0; i < n; i++) {
        calls[i] = (struct bh_call){.port = port, .body = chat};
        pthread_create(&t[i], NULL, bh_call_thread, &calls[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

Test(serve, the_upstream_never_sees_more_than_the_limit)
{
    const char *margs[] = {"--latency-ms", "40-60", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "limit.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments:\n"
        "      - {url: 'http://127.0.0.1:%d', max_concurrency: 3, queue_length: 100}\n",
        mp);
    struct bh_call calls[30];
    call_many(sp, 30, calls);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(calls[i].status, 200, "call %d: %d", i, calls[i].status);
    cr_assert_eq(e2e_mock_stat(mp, "max_in_flight"), 3);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 30);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve, a_full_queue_answers_429_with_retry_after)
{
    const char *margs[] = {"--latency-ms", "400", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "queue.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments:\n"
        "      - {url: 'http://127.0.0.1:%d', max_concurrency: 1, queue_length: 1}\n",
        mp);
    struct bh_call calls[5];
    call_many(sp, 5, calls);
    int ok = 0, limited = 0;
    for (int i = 0; i < 5; i++) {
        ok += calls[i].status == 200;
        if (calls[i].status == 429) {
            limited++;
            cr_assert(calls[i].retry_after, "429 without Retry-After");
        }
    }
    cr_assert_eq(ok, 2, "one running and one queued succeed");
    cr_assert_eq(limited, 3);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* Reads a streamed response as it arrives; returns the times (ms since
 * the request) of the first and the last data event. */
static void read_stream(int fd, double t0, double *first, double *last, char *out, size_t size)
{
    size_t len = 0;
    *first = *last = -1;
    int events = 0;
    for (;;) {
        ssize_t got = recv(fd, out + len, size - len - 1, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        out[len] = '\0';
        int now_events = 0;
        for (const char *p = out; (p = strstr(p, "data: ")) != NULL; p++)
            now_events++;
        if (now_events > events) {
            if (*first < 0)
                *first = e2e_now_ms() - t0;
            *last = e2e_now_ms() - t0;
            events = now_events;
        }
        if (strstr(out, "\r\n0\r\n\r\n"))
            break;
    }
    out[len] = '\0';
}

static int send_stream_request(int port)
{
    int fd = bh_dial(port);
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(chat_stream), chat_stream);
    bh_send(fd, req);
    return fd;
}

Test(serve, a_stream_arrives_incrementally)
{
    const char *margs[] = {"--token-ms", "60", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    double t0 = e2e_now_ms(), first, last;
    int fd = send_stream_request(sp);
    read_stream(fd, t0, &first, &last, buf, sizeof(buf));
    close(fd);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    /* 8 tokens 60 ms apart: the first well before the last */
    cr_assert_lt(first, last - 300, "first %.0f ms, last %.0f ms", first, last);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve, a_stream_cut_by_the_upstream_ends_with_an_error_event)
{
    const char *margs[] = {"--sequence", "cut", "--token-ms", "10", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    double first, last;
    int fd = send_stream_request(sp);
    read_stream(fd, e2e_now_ms(), &first, &last, buf, sizeof(buf));
    close(fd);
    cr_assert_not_null(strstr(buf, "data: {\"id\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: {\"error\":{"), "no error event: %s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"));
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve, a_client_disconnect_reaches_the_upstream)
{
    const char *margs[] = {"--token-ms", "100", "--tokens", "50", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    int fd = send_stream_request(sp);
    cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
    close(fd); /* the user closed the tab */
    e2e_wait_mock_stat(mp, "client_gone", 1, 10000);
    cr_assert_eq(e2e_mock_stat(mp, "client_gone"), 1);
    cr_assert_eq(e2e_mock_stat(mp, "in_flight"), 0);
    cr_assert_eq(bh_request(sp, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_cancelled_total 1\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "sluice_in_flight{deployment=\"upstream\"} 0\n"));
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE status = 'cancelled'"),
                 1);
}

Test(serve, the_cancel_endpoint_reaches_the_upstream)
{
    const char *margs[] = {"--token-ms", "100", "--tokens", "50", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    int fd = send_stream_request(sp);
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    cr_assert_gt(got, 0);
    buf[got] = '\0';
    const char *at = strstr(buf, "x-request-id: ");
    cr_assert_not_null(at, "%s", buf);
    char id[40] = {0}, path[128];
    sscanf(at + 14, "%39[^\r]", id);
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
    char local[4096];
    cr_assert_eq(bh_request(sp, "POST", path, "", local, sizeof(local)), 200, "%s", local);
    cr_assert_not_null(strstr(local, "\"cancelled\":true"));
    /* the stream ends, with a cancelled error event */
    double first, last;
    read_stream(fd, e2e_now_ms(), &first, &last, buf, sizeof(buf));
    close(fd);
    cr_assert_not_null(strstr(buf, "request_cancelled"), "%s", buf);
    e2e_wait_mock_stat(mp, "client_gone", 1, 10000);
    cr_assert_eq(e2e_mock_stat(mp, "client_gone"), 1);
    cr_assert_eq(bh_request(sp, "POST", "/v1/requests/req_nope/cancel", "", local, sizeof(local)),
                 404);
    e2e_stop(serve);
    e2e_stop(mock);
}

static int serve_in_flight_is(int port, int n)
{
    char local[65536], want[64];
    if (bh_request(port, "GET", "/metrics", NULL, local, sizeof(local)) != 200)
        return 0;
    snprintf(want, sizeof(want), "\nsluice_requests_in_flight %d\n", n);
    return strstr(local, want) != NULL;
}

Test(serve, sigterm_under_load_loses_no_accepted_request)
{
    const char *margs[] = {"--latency-ms", "1500", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    pthread_t t[20];
    struct bh_call calls[20];
    for (int i = 0; i < 20; i++) {
        calls[i] = (struct bh_call){.port = sp, .body = chat};
        pthread_create(&t[i], NULL, bh_call_thread, &calls[i]);
    }
    /* all 20 accepted and waiting on the upstream (or in its queue); the
     * mock answers after 1.5 s, within the clients' 3 s read timeout */
    double t0 = e2e_now_ms();
    while (!serve_in_flight_is(sp, 20) && e2e_now_ms() - t0 < 20000)
        usleep(5000);
    cr_assert(serve_in_flight_is(sp, 20), "the 20 requests never were in flight together");
    kill(serve, SIGTERM);
    for (int i = 0; i < 20; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(calls[i].status, 200, "call %d: %d", i, calls[i].status);
    }
    e2e_wait_clean(serve); /* after SIGTERM */
    e2e_stop(mock);
    /* every accepted request answered and recorded */
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE status = 'succeeded'"),
                 20);
}

Test(serve, bad_requests_get_their_status_and_the_server_keeps_serving)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    int sp = e2e_start_serve_yaml(
        "bad.yaml", NULL, &serve,
        "max_body_bytes: 2048\n"
        "keys:\n  - {name: team, sha256: "
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n"
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        mp);
    /* no key, then a wrong key */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 401);
    int fd = bh_dial(sp);
    char req[4096];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer nope\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(chat), chat);
    bh_send(fd, req);
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 401);
    /* the right key ("hello"): malformed JSON, missing fields, unknown model, OK */
    static const struct {
        const char *body;
        int status;
    } cases[] = {
        {"{\"model\":", 400},
        {"{\"messages\":[{}]}", 400},
        {"{\"model\":\"gpt-4o-mini\"}", 400},
        {"{\"model\":\"nope\",\"messages\":[{}]}", 404},
        {chat, 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        snprintf(req, sizeof(req),
                 "POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer hello\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(cases[i].body), cases[i].body);
        bh_send(fd, req);
        cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), cases[i].status, "%s: %s",
                     cases[i].body, buf);
        cr_assert_not_null(strstr(buf, "x-request-id: "));
        if (cases[i].status != 200)
            cr_assert_not_null(strstr(buf, "{\"error\":{\"message\":"), "%s", buf);
    }
    close(fd);
    /* oversized: 413, and the gateway goes on */
    static char big[4096];
    memset(big, 'x', sizeof(big) - 1);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", big, buf, sizeof(buf)), 413);
    cr_assert_eq(bh_request(sp, "GET", "/health", NULL, buf, sizeof(buf)), 200);
    e2e_stop(serve);
    e2e_stop(mock);
    /* refused requests are recorded too: 2 x 401, 3 x 400, 404, 200 (the
     * 413 was refused by the HTTP layer before it was a request) */
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 7);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE error = 'unauthorized'"), 2);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'key' = "
                                 "'team'"),
                 5);
}

Test(serve, upstream_keys_never_reach_logs_or_rows)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    setenv("SLUICE_E2E_UPSTREAM_KEY", "sk-very-secret-4242", 1);
    int sp = e2e_start_serve_yaml(
        "secret.yaml", NULL, &serve,
        "log_format: json\n"
        "models:\n  - name: gpt-4o-mini\n    deployments:\n"
        "      - {url: 'http://127.0.0.1:%d', api_key_env: SLUICE_E2E_UPSTREAM_KEY}\n",
        mp);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", "{\"model\":", buf, sizeof(buf)),
                 400);
    e2e_stop(serve);
    e2e_stop(mock);
    char *log = e2e_slurp(e2e_path("serve.err"));
    cr_assert_not_null(strstr(log, "\"event\":\"request\""), "no JSON log lines: %s", log);
    cr_assert_null(strstr(log, "sk-very-secret"), "the key is in the log");
    free(log);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"), "SELECT count(*) FROM requests WHERE "
                                                   "metadata LIKE '%sk-very-secret%'"),
                 0);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"), "SELECT count(*) FROM requests"), 2);
}

/* Pipelining on the gateway's asynchronous path: a slow stream, then a
 * JSON request and a GET buffered behind it on the same connection. They
 * are answered in order, each whole, and the stream's end (an upstream
 * callback) starts the next pipelined request without re-entering it. */
Test(serve, pipelined_requests_behind_a_slow_stream_answer_in_order)
{
    const char *margs[] = {"--token-ms", "25", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_upstream(mp, NULL, &serve);
    char req[4096];
    int n =
        snprintf(req, sizeof(req),
                 "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s"
                 "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s"
                 "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 strlen(chat_stream), chat_stream, strlen(chat), chat);
    cr_assert_lt(n, (int)sizeof(req));
    int fd = bh_dial(sp);
    bh_send(fd, req);
    size_t len = 0;
    for (;;) { /* to the end: the last request closes the connection */
        ssize_t got = recv(fd, buf + len, sizeof(buf) - len - 1, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(fd);
    const char *first = strstr(buf, "HTTP/1.1 200");
    cr_assert_not_null(first, "%s", buf);
    const char *second = strstr(first + 1, "HTTP/1.1 200");
    cr_assert_not_null(second, "%s", buf);
    const char *third = strstr(second + 1, "HTTP/1.1 200");
    cr_assert_not_null(third, "%s", buf);
    cr_assert_null(strstr(third + 1, "HTTP/1.1 "), "a fourth response: %s", buf);
    /* the stream first, whole; then the JSON; then /health */
    const char *done = strstr(first, "data: [DONE]\n\n\r\n0\r\n\r\n");
    cr_assert(done && done < second, "the stream did not end whole before the next: %s", buf);
    cr_assert_not_null(strstr(first, "text/event-stream"));
    const char *json = strstr(second, "\"object\":\"chat.completion\"");
    cr_assert(json && json < third, "%s", buf);
    cr_assert_not_null(strstr(third, "Connection: close"), "%s", buf);
    cr_assert_eq(bh_request(sp, "GET", "/health", NULL, buf, sizeof(buf)), 200);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE status = 'succeeded'"),
                 2);
}

/* A refused request's row is built from its body: the body must still be
 * there after the answer. A keep-alive connection compacts its buffer once
 * a response ends; it did so under the handler, so the row of the first of
 * two pipelined requests took its model from the second one's bytes (or,
 * with a buffer that shrank, from freed memory). */
Test(serve, a_refused_pipelined_request_is_recorded_with_its_own_model)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    int sp = e2e_start_serve_yaml(
        "one.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    /* the second request's bytes land where the first one's model was */
    static const char req[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n\r\n"
        "{\"messages\":[{}],\"model\":\"aaaa\"}"
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nX-Pad: 0123456789\r\n"
        "Content-Length: 32\r\n\r\n{\"messages\":[{}],\"model\":\"bbbb\"}";
    int fd = bh_dial(sp);
    bh_send(fd, req);
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 404, "%s", buf);
    close(fd);
    e2e_stop(serve);
    e2e_stop(mock);
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'model' = "
                                 "'aaaa'"),
                 1);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'model' = "
                                 "'bbbb'"),
                 1);
}

/* A deployment URL's path takes the place of /v1 (docs/serve.md): a base
 * ending in /v1, the way SDK base URLs are written, reaches
 * /v1/chat/completions and not /v1/v1/chat/completions, which the mock
 * answers with 404 unknown_url; any other path is a prefix. */
Test(serve, a_base_url_path_takes_the_place_of_v1)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    int sp = e2e_start_serve_yaml(
        "base.yaml", NULL, &serve,
        "models:\n"
        "  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d/v1/'}]\n"
        "  - name: prefixed\n    deployments: [{url: 'http://127.0.0.1:%d/openai'}]\n",
        mp, mp);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings",
                            "{\"model\":\"gpt-4o-mini\",\"input\":\"x\"}", buf, sizeof(buf)),
                 200, "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 2);
    /* the prefix went in front of chat/completions: /openai/chat/completions,
     * a path the mock does not serve */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"prefixed\",\"messages\":[{}]}", buf, sizeof(buf)),
                 404, "%s", buf);
    cr_assert_not_null(strstr(buf, "unknown_url"), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 2);
    e2e_stop(serve);
    e2e_stop(mock);
}
