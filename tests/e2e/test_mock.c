/* sluice mock as a process: API shapes, failure modes at their rates,
 * reproducibility, the concurrency cap, and its counters. */
#include <pthread.h>

#include "../blocking_http.h"
#include "e2e.h"

TestSuite(mock, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";
static const char chat_stream[] = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"max_tokens\":5,"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static char buf[256 * 1024];

/* Waits (at most 10 s) until the counter `key` of /mock/stats equals want:
 * what the mock did is read from its state, not guessed from a sleep. */
static void wait_stat(int port, const char *key, double want)
{
    char stats[16384];
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(bh_request(port, "GET", "/mock/stats", NULL, stats, sizeof(stats)), 200);
        if (e2e_json_num(strstr(stats, "\r\n\r\n"), key) == want)
            return;
        usleep(10000);
    }
    cr_assert_fail("/mock/stats %s never reached %g: %s", key, want, stats);
}

Test(mock, openai_shapes)
{
    pid_t pid;
    int port = e2e_start_mock(NULL, &pid);
    cr_assert_eq(bh_request(port, "GET", "/v1/models", NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "\"object\":\"list\""));
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    static const char *const keys[] = {"\"id\":\"chatcmpl-",
                                       "\"object\":\"chat.completion\"",
                                       "\"created\":",
                                       "\"model\":\"gpt-4o-mini\"",
                                       "\"choices\":[",
                                       "\"role\":\"assistant\"",
                                       "\"usage\":{\"prompt_tokens\":"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        cr_assert_not_null(strstr(buf, keys[i]), "%s missing: %s", keys[i], buf);
    cr_assert_eq(bh_request(port, "POST", "/v1/embeddings",
                            "{\"model\":\"e\",\"input\":\"some text\"}", buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "\"embedding\":["));
    cr_assert_eq(bh_request(port, "POST", "/v1/completions",
                            "{\"model\":\"m\",\"prompt\":\"once\"}", buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "\"text_completion\""));

    /* stream: 5 content events, a final one with usage, then [DONE] */
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "text/event-stream"));
    int events = 0;
    for (const char *p = buf; (p = strstr(p, "data: {")) != NULL; p++)
        events++;
    cr_assert_eq(events, 6, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""));
    cr_assert_not_null(strstr(buf, "data: [DONE]\n\n"));

    /* errors in the OpenAI shape */
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", "{\"model\":", buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "{\"error\":{\"message\":"));
    cr_assert_eq(
        bh_request(port, "POST", "/v1/chat/completions", "{\"messages\":[{}]}", buf, sizeof(buf)),
        400);
    cr_assert_eq(
        bh_request(port, "POST", "/v1/chat/completions", "{\"model\":\"m\"}", buf, sizeof(buf)),
        400);
    cr_assert_eq(bh_request(port, "GET", "/nope", NULL, buf, sizeof(buf)), 404);
    cr_assert_eq(bh_request(port, "GET", "/v1/chat/completions", NULL, buf, sizeof(buf)), 405);

    cr_assert_eq(bh_request(port, "GET", "/mock/stats", NULL, buf, sizeof(buf)), 200);
    char *body = strstr(buf, "\r\n\r\n") + 4;
    cr_assert_eq(e2e_json_num(body, "requests"), 8, "%s", body); /* API calls only */
    cr_assert_not_null(strstr(body, "\"status\":{\"200\":4,\"400\":3,\"405\":1}"), "%s", body);
    cr_assert_eq(e2e_json_num(body, "streams"), 1);
    e2e_stop(pid);
}

/* Sends n sequential chat requests and records each status. */
static void statuses(int port, int n, int *out, int *retry_after_missing)
{
    for (int i = 0; i < n; i++) {
        out[i] = bh_request(port, "POST", "/v1/chat/completions", chat, buf, sizeof(buf));
        if (out[i] == 429 && !strcasestr(buf, "\r\nRetry-After: 2\r\n"))
            (*retry_after_missing)++;
    }
}

Test(mock, failures_at_their_rate_and_reproducible)
{
    const char *args[] = {"--fail-rate",   "0.5", "--error-mix", "429:2,500,503,400", "--seed", "7",
                          "--retry-after", "2",   NULL};
    pid_t pid;
    int port = e2e_start_mock(args, &pid);
    enum { N = 400 };
    static int first[N], second[N];
    int missing = 0;
    statuses(port, N, first, &missing);
    int count[600] = {0};
    for (int i = 0; i < N; i++)
        count[first[i] > 0 ? first[i] : 0]++;
    cr_assert_eq(count[200] + count[429] + count[500] + count[503] + count[400], N);
    /* 0.5 * 400 = 200 failures; 429 has 2/5 of them (80), the rest 1/5 (40) */
    cr_assert(count[200] > 160 && count[200] < 240, "200: %d", count[200]);
    cr_assert(count[429] > 50 && count[429] < 110, "429: %d", count[429]);
    cr_assert(count[500] > 20 && count[500] < 65, "500: %d", count[500]);
    cr_assert(count[503] > 20 && count[503] < 65, "503: %d", count[503]);
    cr_assert(count[400] > 20 && count[400] < 65, "400: %d", count[400]);
    cr_assert_eq(missing, 0, "429 without Retry-After");

    /* the same seed replays the same sequence */
    cr_assert_eq(bh_request(port, "POST", "/mock/reset", "", buf, sizeof(buf)), 200);
    statuses(port, N, second, &missing);
    cr_assert_eq(memcmp(first, second, sizeof(first)), 0, "the sequence changed");
    e2e_stop(pid);

    /* and another seed gives another one */
    const char *other[] = {"--fail-rate", "0.5", "--error-mix", "429:2,500,503,400",
                           "--seed",      "8",   NULL};
    port = e2e_start_mock(other, &pid);
    statuses(port, N, second, &missing);
    cr_assert_neq(memcmp(first, second, sizeof(first)), 0);
    e2e_stop(pid);
}

Test(mock, concurrency_cap_holds)
{
    /* Two requests take the two places; once the mock says both are in
     * flight, four more are refused. The latency only has to outlast the
     * poll and four requests answered at once, and stay within the
     * clients' 3 s read timeout (blocking_http.h). */
    const char *args[] = {"--max-concurrency", "2", "--latency-ms", "1500", NULL};
    pid_t pid;
    int port = e2e_start_mock(args, &pid);
    enum { N = 6 };
    pthread_t threads[N];
    struct bh_call c[N];
    for (int i = 0; i < N; i++) {
        if (i == 2)
            wait_stat(port, "in_flight", 2);
        c[i] = (struct bh_call){.port = port, .body = chat};
        pthread_create(&threads[i], NULL, bh_call_thread, &c[i]);
    }
    int ok = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ok += c[i].status == 200;
        limited += c[i].status == 429 && c[i].retry_after;
    }
    cr_assert_eq(ok, 2);
    cr_assert_eq(limited, 4);
    cr_assert_eq(bh_request(port, "GET", "/mock/stats", NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(e2e_json_num(strstr(buf, "\r\n\r\n"), "max_in_flight"), 2);
    e2e_stop(pid);
}

Test(mock, reset_stall_and_cut)
{
    const char *reset[] = {"--fail-rate", "1", "--error-mix", "reset", NULL};
    pid_t pid;
    int port = e2e_start_mock(reset, &pid);
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), -1);
    cr_assert_eq(bh_request(port, "GET", "/mock/stats", NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(e2e_json_num(strstr(buf, "\r\n\r\n"), "resets"), 1);
    e2e_stop(pid);

    const char *stall[] = {"--fail-rate", "1", "--error-mix", "stall", NULL};
    port = e2e_start_mock(stall, &pid);
    int fd = bh_dial(port);
    char req[512];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", strlen(chat),
             chat);
    bh_send(fd, req);
    wait_stat(port, "stalls", 1); /* the request arrived and stalls */
    cr_assert_lt(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0, "a stall answered");
    close(fd); /* the client gives up */
    wait_stat(port, "client_gone", 1);
    cr_assert_eq(bh_request(port, "GET", "/mock/stats", NULL, buf, sizeof(buf)), 200);
    char *body = strstr(buf, "\r\n\r\n");
    cr_assert_eq(e2e_json_num(body, "client_gone"), 1, "%s", body);
    cr_assert_eq(e2e_json_num(body, "in_flight"), 0);
    cr_assert_eq(e2e_json_num(body, "stalls"), 1);
    e2e_stop(pid);

    const char *cut[] = {"--fail-rate", "1", "--error-mix", "cut", "--tokens", "10", NULL};
    port = e2e_start_mock(cut, &pid);
    fd = bh_dial(port);
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(chat_stream), chat_stream);
    bh_send(fd, req);
    size_t len = 0;
    ssize_t got;
    while ((got = recv(fd, buf + len, sizeof(buf) - len - 1, 0)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    close(fd);
    cr_assert_eq(got, 0, "the cut stream was not closed");
    cr_assert_not_null(strstr(buf, "data: {"), "%s", buf);
    cr_assert_null(strstr(buf, "[DONE]"), "a cut stream ended cleanly");
    cr_assert_null(strstr(buf, "\r\n0\r\n\r\n"));
    e2e_stop(pid);
}

/* Each wire's own headers on every answer (a 200, a stream, an error): the
 * request id, and the rate-limit headers where the provider sends them,
 * counting this minute's requests down from the nominal limit. */
Test(mock, each_api_sends_its_request_id_and_rate_limit_headers)
{
    pid_t pid;
    int port = e2e_start_mock(NULL, &pid);
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "\r\nx-request-id: req_mock0\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nx-ratelimit-limit-requests: 30000\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nx-ratelimit-remaining-requests: 29999\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nx-ratelimit-reset-tokens: "), "%s", buf);
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "\r\nx-ratelimit-remaining-requests: 29998\r\n"), "%s", buf);
    cr_assert_eq(bh_request(port, "POST", "/v1/chat/completions", "{\"model\":", buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "\r\nx-request-id: req_mock2\r\n"), "%s", buf);
    e2e_stop(pid);

    const char *ant[] = {"--api", "anthropic", NULL};
    port = e2e_start_mock(ant, &pid);
    cr_assert_eq(bh_request_with(port, "POST", "/v1/messages",
                                 "x-api-key: k\r\nanthropic-version: 2023-06-01\r\n",
                                 "{\"model\":\"c\",\"max_tokens\":3,\"messages\":[{\"role\":"
                                 "\"user\",\"content\":\"hi\"}]}",
                                 buf, sizeof(buf)),
                 200);
    cr_assert_not_null(strstr(buf, "\r\nrequest-id: req_mock0\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nanthropic-ratelimit-requests-remaining: 29999\r\n"), "%s",
                       buf);
    static const char name[] = "\r\nanthropic-ratelimit-tokens-reset: ";
    const char *reset = strstr(buf, name);
    cr_assert_not_null(reset, "%s", buf);
    reset += sizeof(name) - 1; /* an RFC 3339 time: 2026-12-01T17:19:24Z */
    cr_assert(reset[4] == '-' && reset[10] == 'T' && reset[19] == 'Z', "%s", reset);
    e2e_stop(pid);
}
