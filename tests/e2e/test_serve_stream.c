/* sluice serve: how a request ends and what its row says, for streams and
 * not, against sluice mock and a scripted upstream (hostile_upstream.h)
 * whose steps the test orders. */
#include <sys/socket.h>

#include "hostile_upstream.h"
#include "serve_support.h"
#include "stream_client.h"

TestSuite(serve_stream, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 120);

/* serve in front of one scripted upstream. */
static int start_serve_hostile(const struct hu *h, int max_attempts, int base_ms, pid_t *pid)
{
    e2e_live_upstream = h->pid;
    return e2e_start_serve_in_front(h->port, max_attempts, base_ms, 1000, pid);
}

static void assert_serving(int port)
{
    char out[4096];
    cr_assert_eq(bh_request(port, "GET", "/health", NULL, out, sizeof(out)), 200,
                 "serve stopped answering: %s", e2e_all_stderr());
}

static void wait_stat(const struct hu *h, const char *key, double want)
{
    double t0 = e2e_now_ms();
    while (hu_stat(h, key) < want && e2e_now_ms() - t0 < 5000)
        usleep(5000);
    cr_assert_geq(hu_stat(h, key), want, "upstream %s never reached %.0f", key, want);
}

/* Waits until serve has no request in flight (it answers, so it lives). */
static void wait_idle(int port)
{
    static char out[65536];
    double t0 = e2e_now_ms();
    for (;;) {
        cr_assert_eq(bh_request(port, "GET", "/metrics", NULL, out, sizeof(out)), 200,
                     "serve stopped answering: %s", e2e_all_stderr());
        if (strstr(out, "\nsluice_requests_in_flight 0\n"))
            return;
        cr_assert_lt(e2e_now_ms() - t0, 5000, "requests still in flight: %s", out);
        usleep(5000);
    }
}

/* ---- 6: a stream that succeeded after a retry ----------------------------- */

Test(serve_stream, a_stream_that_succeeds_after_a_503_is_recorded_as_succeeded)
{
    const char *margs[] = {"--sequence", "503,ok", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, &serve,
        "models:\n  - name: '*'\n    deployments:\n"
        "      - {url: 'http://127.0.0.1:%d', retry: {max_attempts: 3, backoff: fixed, "
        "base_ms: 10}}\n",
        mp);
    e2e_live_serve = serve;
    struct reply r;
    sc_read(sc_send(sp, sc_chat_body(0, 1), 0), &r);
    struct sse_summary s;
    sc_sse(&r, &s);
    cr_assert_eq(r.status, 200);
    cr_assert(r.framed && s.done == 1 && s.errors == 0 && s.after_done == 0, "%s", r.raw);
    e2e_stop(serve);
    e2e_stop(mock);
    sc_assert_row(e2e_path("serve.db"), r.id, "succeeded", "NULL", 200);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"), "SELECT attempts FROM requests"), 2);
    char *log = e2e_slurp(e2e_path("serve.err"));
    cr_assert_not_null(strstr(log, "outcome=ok"), "%s", log);
    cr_assert_null(strstr(log, "outcome=error"), "%s", log);
    free(log);
    sc_free(&r);
}

/* ---- 13: a stream whose client is already gone ---------------------------- */

/* A streaming client that pipelines 64 KiB after its request, so the
 * server fills its buffer and stops reading the socket; it reads the head
 * and the first event, then resets the connection. The server learns of
 * the reset only when it next writes. Returns the request id. */
static void stuffed_client_resets(int port, int hu_case, char *id)
{
    int fd = sc_send(port, sc_chat_body(hu_case, 1), 1);
    static char junk[65536];
    memset(junk, 'x', sizeof(junk));
    for (size_t sent = 0; sent < sizeof(junk);) {
        ssize_t n = send(fd, junk + sent, sizeof(junk) - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break; /* the kernel buffers are full: enough */
        sent += (size_t)n;
    }
    char in[8192];
    size_t len = 0;
    while (len < sizeof(in) - 1) {
        ssize_t got = recv(fd, in + len, sizeof(in) - 1 - len, 0);
        cr_assert_gt(got, 0, "no first event");
        len += (size_t)got;
        in[len] = '\0';
        if (strstr(in, "data: {"))
            break;
    }
    const char *at = strcasestr(in, "x-request-id: ");
    cr_assert_not_null(at, "%s", in);
    sscanf(at + 14, "%39[^\r]", id);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd); /* RST */
}

/* The upstream sends one event, waits for the test's go, then does `then`. */
#define ONE_EVENT_THEN(...)                                                                        \
    {                                                                                              \
        "gone",                                                                                    \
        {                                                                                          \
            HU_S(HU_SSE_HEAD), HU_S(HU_EVENT), HU_GO(1), __VA_ARGS__                               \
        }                                                                                          \
    }

static void gone_client_case(const struct hu_script *script, int cancel_by_id,
                             const char *row_status, const char *row_error)
{
    struct hu h = hu_start(script, 1);
    pid_t serve;
    int sp = start_serve_hostile(&h, 1, 10, &serve);
    char id[40] = "";
    stuffed_client_resets(sp, 0, id);
    if (cancel_by_id) {
        char path[128], out[4096];
        snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
        cr_assert_eq(bh_request(sp, "POST", path, "", out, sizeof(out)), 200, "%s", out);
        wait_stat(&h, "gone", 1);
    }
    hu_go(&h);
    wait_idle(sp);
    assert_serving(sp);
    e2e_stop(serve); /* exits 0: no crash */
    hu_stop(&h);
    sc_assert_row(e2e_path("serve.db"), id, row_status, row_error, 200);
}

Test(serve_stream, client_reset_unseen_then_the_upstream_ends_without_done)
{
    static const struct hu_script s[] = {ONE_EVENT_THEN(HU_CLOSE_CONN)};
    /* the gateway cannot know the client left: the upstream's failure is
     * what it saw */
    gone_client_case(s, 0, "failed", "connection_reset");
}

Test(serve_stream, client_reset_unseen_then_cancel_by_id)
{
    static const struct hu_script s[] = {ONE_EVENT_THEN(HU_GO(99))};
    gone_client_case(s, 1, "cancelled", "cancelled");
}

Test(serve_stream, client_reset_unseen_then_another_event)
{
    static const struct hu_script s[] = {ONE_EVENT_THEN(HU_S(HU_EVENT), HU_GO(99))};
    gone_client_case(s, 0, "cancelled", "cancelled");
}

Test(serve_stream, client_reset_unseen_then_done)
{
    static const struct hu_script s[] = {ONE_EVENT_THEN(HU_S(HU_DONE), HU_CLOSE_CONN)};
    gone_client_case(s, 0, "cancelled", "cancelled");
}

Test(serve_stream, client_reset_unseen_then_the_upstream_resets)
{
    static const struct hu_script s[] = {ONE_EVENT_THEN(HU_RESET_CONN)};
    gone_client_case(s, 0, "failed", "connection_reset");
}

/* ---- 14: an SSE event over the limit -------------------------------------- */

Test(serve_stream, an_event_over_1_mib_ends_the_stream_with_one_error_event)
{
    static const struct hu_script s[] = {
        {"big event",
         {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT), HU_S("data: {\"big\":\""), HU_REP("x", 1100000),
          HU_S("\"}\n\n"), HU_S(HU_EVENT), HU_S(HU_DONE), HU_CLOSE_CONN}},
    };
    struct hu h = hu_start(s, 1);
    pid_t serve;
    int sp = start_serve_hostile(&h, 1, 10, &serve);
    struct reply r;
    sc_read(sc_send(sp, sc_chat_body(0, 1), 0), &r);
    struct sse_summary e;
    sc_sse(&r, &e);
    cr_assert_eq(r.status, 200);
    cr_assert(r.framed, "broken framing");
    cr_assert_eq(e.done, 0, "[DONE] after an event over the limit");
    cr_assert_eq(e.errors, 1);
    cr_assert_eq(e.after_error, 0);
    cr_assert_eq(e.events, 2, "the first event, then the error event");
    cr_assert_str_eq(e.error_code, "response_too_large");
    cr_assert_null(memmem(r.body, r.body_len, "xxxxxxxx", 8), "part of the big event relayed");
    assert_serving(sp);
    e2e_stop(serve);
    hu_stop(&h);
    sc_assert_row(e2e_path("serve.db"), r.id, "failed", "response_too_large", 200);
    sc_free(&r);
}

Test(serve_stream, nothing_follows_done)
{
    static const struct hu_script s[] = {
        {"after done",
         {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT), HU_S(HU_DONE HU_EVENT), HU_S(HU_EVENT), HU_GO(99)}},
    };
    struct hu h = hu_start(s, 1);
    pid_t serve;
    int sp = start_serve_hostile(&h, 1, 10, &serve);
    struct reply r;
    sc_read(sc_send(sp, sc_chat_body(0, 1), 0), &r); /* ends at [DONE], not at the upstream's end */
    struct sse_summary e;
    sc_sse(&r, &e);
    cr_assert(r.framed && r.status == 200, "%s", r.raw);
    cr_assert_eq(e.done, 1);
    cr_assert_eq(e.after_done, 0, "%s", r.body);
    cr_assert_eq(e.errors, 0);
    e2e_stop(serve);
    hu_stop(&h);
    sc_assert_row(e2e_path("serve.db"), r.id, "succeeded", "NULL", 200);
    sc_free(&r);
}

/* ---- 15: a response over the limit ---------------------------------------- */

Test(serve_stream, a_response_over_16_mib_is_a_502_not_a_cancel)
{
    static const struct hu_script s[] = {
        {"huge json",
         {HU_S("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n"
               "\r\n{\"a\":\""),
          HU_REP("y", 20000000 - 8), HU_S("\"}"), HU_KEEP_OPEN}},
        {"endless line",
         {HU_S(HU_SSE_HEAD), HU_S("data: "), HU_REP("z", 1ul << 40), HU_CLOSE_CONN}},
    };
    struct hu h = hu_start(s, 2);
    pid_t serve;
    int sp = start_serve_hostile(&h, 3, 10, &serve);
    struct reply r[2];
    for (int i = 0; i < 2; i++) {
        sc_read(sc_send(sp, sc_chat_body(i, 0), 0), &r[i]);
        cr_assert_eq(r[i].status, 502, "case %d: %.300s", i, r[i].raw);
        cr_assert(r[i].framed);
        cr_assert_not_null(strstr(r[i].body, "\"code\":\"response_too_large\""), "%s", r[i].body);
    }
    cr_assert_eq(hu_stat(&h, "requests"), 2, "a response over the limit is not retried");
    assert_serving(sp);
    e2e_stop(serve);
    hu_stop(&h);
    for (int i = 0; i < 2; i++) {
        sc_assert_row(e2e_path("serve.db"), r[i].id, "failed", "response_too_large", 502);
        sc_free(&r[i]);
    }
}

/* ---- 11: cancelled, streamed or not, recorded the same way ---------------- */

Test(serve_stream, a_cancelled_stream_and_non_stream_are_recorded_alike)
{
    static const struct hu_script s[] = {
        {"stream", {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT), HU_GO(99)}},
        {"json", {HU_GO(99)}},
    };
    struct hu h = hu_start(s, 2);
    pid_t serve;
    int sp = start_serve_hostile(&h, 1, 10, &serve);
    /* a stream, cancelled by id: an error event */
    char id_stream[40] = "", path[128], out[8192], head[8192];
    int fd = sc_send(sp, sc_chat_body(0, 1), 0);
    ssize_t got = recv(fd, head, sizeof(head) - 1, 0);
    cr_assert_gt(got, 0);
    head[got] = '\0';
    sscanf(strcasestr(head, "x-request-id: ") + 14, "%39[^\r]", id_stream);
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id_stream);
    cr_assert_eq(bh_request(sp, "POST", path, "", out, sizeof(out)), 200, "%s", out);
    struct reply r;
    sc_read_rest(fd, head, (size_t)got, &r);
    struct sse_summary e;
    sc_sse(&r, &e);
    cr_assert(r.framed && e.errors == 1 && !strcmp(e.error_code, "request_cancelled"), "%s",
              r.body);
    /* a stream and a non-stream whose clients go away */
    int fd1 = sc_send(sp, sc_chat_body(0, 1), 0);
    cr_assert_gt(recv(fd1, out, sizeof(out) - 1, 0), 0);
    close(fd1);
    int fd2 = sc_send(sp, sc_chat_body(1, 0), 0);
    wait_stat(&h, "requests", 3);
    close(fd2);
    wait_stat(&h, "gone", 3);
    assert_serving(sp);
    e2e_stop(serve);
    hu_stop(&h);
    const char *db = e2e_path("serve.db");
    sc_assert_row(db, id_stream, "cancelled", "cancelled", 200);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 3);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'cancelled' AND "
                                 "error = 'cancelled' AND metadata ->> 'status' = "
                                 "iif(metadata ->> 'stream', 200, 499)"),
                 3);
    sc_free(&r);
}

Test(serve_stream, a_non_stream_cancelled_in_its_backoff_is_recorded_as_cancelled)
{
    static const struct hu_script s[] = {
        {"503", {HU_S("HTTP/1.1 503 X\r\nContent-Length: 2\r\n\r\n{}"), HU_KEEP_OPEN}},
    };
    struct hu h = hu_start(s, 1);
    pid_t serve;
    int sp = start_serve_hostile(&h, 2, 3000, &serve);
    int fd = sc_send(sp, sc_chat_body(0, 0), 0);
    /* the retry line names the request */
    char id[40] = "";
    double t0 = e2e_now_ms();
    while (id[0] == '\0' && e2e_now_ms() - t0 < 5000) {
        char *log = e2e_slurp(e2e_path("serve.err"));
        const char *at = strstr(log, "retry id=");
        if (at)
            sscanf(at + 9, "%39[^ ]", id);
        free(log);
        usleep(5000);
    }
    cr_assert_neq(id[0], '\0', "no retry line");
    char path[128], out[4096];
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
    cr_assert_eq(bh_request(sp, "POST", path, "", out, sizeof(out)), 200, "%s", out);
    struct reply r;
    sc_read(fd, &r);
    cr_assert_eq(r.status, 499, "%s", r.raw);
    e2e_stop(serve);
    hu_stop(&h);
    sc_assert_row(e2e_path("serve.db"), id, "cancelled", "cancelled", 499);
    sc_free(&r);
}
