/* The HTTP clients' contract, one suite run against each client (built
 * three times, tests/meson.build): sl_http_client with the lean client for
 * http:// (suite http_client), sl_http_client with libcurl for http://
 * too (http_client_curl, -DSL_TEST_LIBCURL), and the lean client on its
 * own (upstream_contract, -DSL_TEST_LEAN). What they all promise: status,
 * headers and body delivered; connection reuse; each timeout, named;
 * streaming in pieces; cancellation that the server sees as a disconnect,
 * from anywhere, with exactly one on_done from the loop; refused and reset
 * as distinct error classes; pause/resume; a clean close with requests in
 * flight. The fixture is tests/unit/client_fixture.h; what only the lean
 * client promises (its pool, lookups, the request head it writes) is in
 * test_upstream.c. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_fixture.h"

/* ---- the client under test ------------------------------------------------ */

struct client_opts {
    unsigned max_idle_connections;
    size_t max_header_bytes;
};

#ifdef SL_TEST_LEAN
#include "lean_driver.h"
#define SUITE       upstream_contract
#define VIA_LIBCURL 0
#define LEAN_ALONE  1

static void start_all(const struct client_opts *o)
{
    struct sl_upstream_opts uo = {0};
    if (o)
        uo = (struct sl_upstream_opts){.max_idle_connections = o->max_idle_connections,
                                       .max_header_bytes = o->max_header_bytes};
    lean_open(&uo);
}
#else
#include "http/client.h"
#ifdef SL_TEST_LIBCURL
#define SUITE       http_client_curl
#define VIA_LIBCURL 1
#else
#define SUITE       http_client
#define VIA_LIBCURL 0
#endif
#define LEAN_ALONE 0

static struct sl_http_client *client;

static void start_all(const struct client_opts *o)
{
    fixture_open();
    struct sl_http_client_opts co = {.http_via_libcurl = VIA_LIBCURL};
    if (o) {
        co.max_idle_connections = o->max_idle_connections;
        co.max_header_bytes = o->max_header_bytes;
    }
    cr_assert_eq(sl_http_client_new(&loop, &co, &client), 0);
}

static int client_start(struct sl_http_request *req)
{
    return sl_http_request_start(client, req);
}

static void client_cancel(struct sl_http_request *req)
{
    sl_http_request_cancel(req);
}

static void client_resume(struct sl_http_request *req)
{
    sl_http_request_resume(req);
}

static void client_close(void)
{
    sl_http_client_close(client, on_client_closed, &client_closed);
}

static int client_route(const char *url, const struct sl_http_route **out)
{
    return sl_http_client_route(client, url, out);
}
#endif

/* ---- the contract ---------------------------------------------------------- */

Test(SUITE, get_delivers_status_headers_and_body)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/ok");
    call_start(&c);
    cr_assert_eq(c.req.uxfer != NULL, !VIA_LIBCURL, "http:// takes the lean client by default");
    cr_assert_eq(c.req.xfer != NULL, VIA_LIBCURL);
    call_wait(&c);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_eq(c.done_status, 200);
    cr_assert_eq(c.header_calls, 1);
    cr_assert_eq(c.status, 200);
    cr_assert_str_eq(c.x_test, "yes", "header values are trimmed");
    cr_assert_geq(c.nheaders, 3);
    cr_assert_str_eq(c.body.ptr, "hello world");
    cr_assert_eq(c.res.body_bytes, 11);
    cr_assert_gt(c.res.first_byte_ns, 0);
    cr_assert_geq(c.res.total_ns, c.res.first_byte_ns);
    cr_assert_str_eq(c.message, "");
    call_release(&c);
    close_all();
}

Test(SUITE, post_sends_method_headers_and_body_without_expect)
{
    start_all(NULL);
    static char body[3000];
    memset(body, 'p', sizeof(body) - 1);
    struct sl_http_header hdrs[] = {SL_HTTP_HEADER_LIT("Content-Type", "application/json"),
                                    SL_HTTP_HEADER_LIT("X-Custom", "42")};
    struct call c;
    call_init(&c, "/ok");
    c.req.body = body;
    c.req.body_len = sizeof(body) - 1;
    c.req.headers = hdrs;
    c.req.n_headers = 2;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    const char *got = srv.last.ptr;
    cr_assert(strncmp(got, "POST /ok HTTP/1.1\r\n", 19) == 0, "%.40s", got);
    cr_assert_not_null(strstr(got, "\r\nX-Custom: 42\r\n"));
    cr_assert_not_null(strstr(got, "\r\nContent-Type: application/json\r\n"));
    cr_assert_not_null(strstr(got, "\r\nContent-Length: 2999\r\n"));
    cr_assert_null(strcasestr(got, "Expect:"), "no 100-continue round trip");
    cr_assert_eq(srv.last.len - (size_t)(strstr(got, "\r\n\r\n") + 4 - got), 2999);
    call_release(&c);

    /* Another method with a body. */
    call_init(&c, "/ok");
    c.req.method = "PUT";
    c.req.body = "{}";
    c.req.body_len = 2;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    cr_assert(strncmp(srv.last.ptr, "PUT /ok ", 8) == 0);
    cr_assert(strcmp(srv.last.ptr + srv.last.len - 4, "\r\n{}") == 0);
    call_release(&c);
    close_all();
}

/* A URL resolved once (a deployment's, at gateway start): requests that
 * carry the route and no URL go where it says, on the same transport. */
Test(SUITE, requests_on_a_route_resolved_once)
{
    start_all(NULL);
    static char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", srv.port);
    const struct sl_http_route *route = NULL;
    cr_assert_eq(client_route(url, &route), 0);
    cr_assert_eq(route->lean, !VIA_LIBCURL);
    for (int i = 0; i < 2; i++) {
        struct call c;
        call_init(&c, "");
        c.req.url = NULL;
        c.req.route = route;
        call_start(&c);
        cr_assert_eq(c.req.uxfer != NULL, !VIA_LIBCURL);
        call_wait(&c);
        cr_assert_eq(c.err, SL_OK, "%s", c.message);
        cr_assert_str_eq(c.body.ptr, "hello world");
        cr_assert_eq(c.res.reused, i > 0, "request %d", i);
        call_release(&c);
    }
    cr_assert(strncmp(srv.last.ptr, "GET /ok HTTP/1.1\r\n", 18) == 0, "%.40s", srv.last.ptr);
    cr_assert_eq(srv.accepts, 1);
    close_all();
}

Test(SUITE, http_error_status_is_a_status_not_a_transport_error)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/status/503");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    cr_assert_eq(c.done_status, 503);
    cr_assert_str_eq(c.body.ptr, "status");
    call_release(&c);
    close_all();
}

static struct call seq[3];

static void start_next(struct call *c)
{
    if (c < &seq[2])
        call_start(c + 1);
}

Test(SUITE, sequential_requests_reuse_one_connection)
{
    start_all(NULL);
    for (int i = 0; i < 3; i++) {
        call_init(&seq[i], i == 1 ? "/status/404" : "/ok");
        seq[i].then = start_next; /* the next one starts from on_done */
    }
    call_start(&seq[0]);
    run_until(&seq[2].done, WAIT_MS);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(seq[i].err, SL_OK, "request %d: %s", i, seq[i].message);
        cr_assert_eq(seq[i].res.reused, i > 0, "request %d", i);
    }
    cr_assert_eq(srv.requests, 3);
    cr_assert_eq(srv.accepts, 1, "one TCP connection for three requests");
    for (int i = 0; i < 3; i++)
        call_release(&seq[i]);
    close_all();
}

Test(SUITE, concurrent_requests_then_reuse_of_the_pool)
{
    start_all(NULL);
    enum { N = 20 };
    static struct call calls[N];
    int done = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            call_init(&calls[i], "/delay/20");
            call_start(&calls[i]);
        }
        for (int i = 0; i < N; i++) {
            run_until(&calls[i].done, WAIT_MS);
            cr_assert_eq(calls[i].err, SL_OK, "%s", calls[i].message);
            cr_assert_str_eq(calls[i].body.ptr, "late");
            done++;
            call_release(&calls[i]);
        }
        cr_assert_eq(srv.accepts, N, "round %d: one connection per concurrent request", round);
    }
    cr_assert_eq(done, 2 * N);
    cr_assert_eq(srv.requests, 2 * N);
    close_all();
}

Test(SUITE, first_byte_timeout)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/hang");
    c.req.first_byte_timeout_ms = 150;
    call_start(&c);
    call_wait(&c);
    double ms = sl_test_ms_since(c.start_ns); /* from before the start */
    cr_assert_eq(c.err, SL_E_TIMEOUT);
    cr_assert_str_eq(c.message, "first byte timeout after 150 ms");
    cr_assert_eq(c.done_status, 0);
    cr_assert_geq(ms, 140, "%.1f ms", ms); /* /hang never answers: no ceiling needed */
    /* The timed-out connection is closed, not left to the pool. */
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1);
    call_release(&c);
    close_all();
}

Test(SUITE, first_byte_timeout_does_not_cut_a_slow_body)
{
    start_all(NULL);
    struct call c;
    /* The body (3 x 400 ms) outlasts the first-byte timeout by far; the
     * first byte itself comes at once, with room for a stalled loop. */
    call_init(&c, "/stream/4/400");
    c.req.first_byte_timeout_ms = 500;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_not_null(strstr(c.body.ptr, "chunk 3"));
    call_release(&c);
    close_all();
}

Test(SUITE, total_timeout_after_first_byte)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/50/50");
    c.req.first_byte_timeout_ms = 1000;
    c.req.total_timeout_ms = 300;
    call_start(&c);
    call_wait(&c);
    double ms = sl_test_ms_since(c.start_ns); /* from before the start */
    cr_assert_eq(c.err, SL_E_TIMEOUT);
    cr_assert_str_eq(c.message, "total timeout after 300 ms");
    cr_assert_eq(c.header_calls, 1);
    cr_assert_eq(c.done_status, 200, "the status that arrived is kept");
    cr_assert_geq(c.body_calls, 2);
    /* The message says which timer fired; the stream lasts 2.5 s, so a
     * ceiling would only measure the machine. */
    cr_assert_geq(ms, 290, "%.1f ms", ms);
    call_release(&c);
    close_all();
}

/* A listener with a full accept queue: it drops SYNs, so that a connect()
 * to it hangs. */
struct backlog {
    int lfd, fill[2], port;
};

static void backlog_open(struct backlog *b)
{
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    cr_assert_eq(bind(b->lfd, (struct sockaddr *)&addr, alen), 0);
    cr_assert_eq(listen(b->lfd, 0), 0);
    getsockname(b->lfd, (struct sockaddr *)&addr, &alen);
    for (int i = 0; i < 2; i++) {
        b->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(b->fill[i], (struct sockaddr *)&addr, alen);
    }
    /* The first filler's handshake completes into the accept queue (the
     * socket turns writable): from then on the queue is full. */
    struct pollfd pfd = {.fd = b->fill[0], .events = POLLOUT};
    cr_assert_eq(poll(&pfd, 1, (int)WAIT_MS), 1, "the first filler never connected");
    b->port = ntohs(addr.sin_port);
}

static void backlog_close(struct backlog *b)
{
    for (int i = 0; i < 2; i++)
        close(b->fill[i]);
    close(b->lfd);
}

/* The connect timeout fires first, and says so, whether the later timer is
 * the total one or the first-byte one. */
Test(SUITE, connect_timeout_on_a_full_backlog)
{
    static const struct {
        uint32_t connect_ms, first_byte_ms, total_ms;
        const char *message, *not ;
    } cases[] = {
        {200, 0, 2000, "connect timeout after 200 ms", "not the 2 s total timeout"},
        {150, 1000, 0, "connect timeout after 150 ms", "not the first-byte timeout"},
    };
    start_all(NULL);
    struct backlog b;
    backlog_open(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call c;
        call_init(&c, "");
        snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/", b.port);
        c.req.connect_timeout_ms = cases[i].connect_ms;
        c.req.first_byte_timeout_ms = cases[i].first_byte_ms;
        c.req.total_timeout_ms = cases[i].total_ms;
        call_start(&c);
        call_wait(&c);
        double ms = sl_test_ms_since(c.start_ns); /* from before the start */
        cr_assert_eq(c.err, SL_E_TIMEOUT, "%s: %s", sl_err_name(c.err), c.message);
        cr_assert_str_eq(c.message, cases[i].message, "%s", cases[i].not );
        cr_assert_geq(ms, cases[i].connect_ms - 10, "%.1f ms", ms);
        call_release(&c);
    }
    backlog_close(&b);
    close_all();
}

Test(SUITE, body_streams_in_pieces_as_it_arrives)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/5/60");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_geq(c.body_calls, 5, "one callback per chunk at least");
    double first = ms_between(c.start_ns, c.first_chunk_ns);
    double last = ms_between(c.start_ns, c.last_chunk_ns);
    /* Not held back until the end: the first piece came at least the 4
     * intervals (240 ms) before the last. A loaded machine only widens it. */
    cr_assert_geq(last - first, 200, "the last one 4 intervals later (%.1f ms)", last - first);
    /* What arrived is the SSE stream, whole and in order. */
    cr_assert_str_eq(c.body.ptr, "data: chunk 0\n\ndata: chunk 1\n\ndata: chunk 2\n\n"
                                 "data: chunk 3\n\ndata: chunk 4\n\n");
    cr_assert_eq(c.res.body_bytes, strlen(c.body.ptr));
    call_release(&c);
    close_all();
}

static struct call *to_cancel;

static void cancel_now(uv_timer_t *t)
{
    to_cancel->cancel_ns = uv_hrtime();
    client_cancel(&to_cancel->req);
    cr_assert_eq(to_cancel->done, 0, "on_done is not called from inside cancel");
    uv_close((uv_handle_t *)t, NULL);
}

/* "At once" is asserted as an order: the server sees the disconnect while
 * its 50 s stream is far from done (WAIT_MS < 50 s), where a connection
 * kept for the pool or read to its end would stay open. */
Test(SUITE, cancel_closes_the_upstream_connection_at_once)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/1000/50");
    call_start(&c);
    run_until(&c.body_calls, WAIT_MS);
    cr_assert_gt(c.body_calls, 0);
    to_cancel = &c;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, cancel_now, 10, 0);
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1, "the server saw the disconnect");
    cr_assert_geq(srv.last_eof_ns, c.cancel_ns, "the disconnect came from the cancel");
    call_wait(&c);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_eq(c.done_status, 200);
    call_release(&c);
    close_all();
}

Test(SUITE, cancel_from_inside_on_body)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/1000/30"); /* 30 s: the disconnect comes long before its end */
    c.cancel_at_chunk = 2;
    call_start(&c);
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1);
    cr_assert_geq(srv.last_eof_ns, c.cancel_ns);
    call_wait(&c);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_eq(c.body_calls, 2, "nothing delivered after the cancel");
    /* The client still works: a new request gets a new connection. */
    call_release(&c);
    call_init(&c, "/ok");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    cr_assert_eq(c.res.reused, 0);
    cr_assert_eq(srv.accepts, 2);
    call_release(&c);
    close_all();
}

Test(SUITE, cancel_from_inside_on_headers)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/100/30");
    c.cancel_in_headers = 1;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_eq(c.body_calls, 0);
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1);
    call_release(&c);
    close_all();
}

Test(SUITE, cancel_right_after_start)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/ok");
    call_start(&c);
    client_cancel(&c.req);
    client_cancel(&c.req); /* twice is harmless */
    cr_assert_eq(c.done, 0);
    call_wait(&c);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_str_eq(c.message, "cancelled");
    run_until(&c.done + 1, 50); /* on_done only once */
    cr_assert_eq(c.done, 1);
    client_cancel(&c.req); /* after on_done: nothing */
    call_release(&c);
    close_all();
}

Test(SUITE, refused_and_reset_are_distinct_classes)
{
    start_all(NULL);
    /* A port that nobody listens on: bound, then closed. */
    struct sockaddr_in addr = closed_port();
    struct call refused, reset;
    call_init(&refused, "");
    snprintf(refused.url, sizeof(refused.url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    call_init(&reset, "/reset");
    call_start(&refused);
    call_start(&reset);
    run_until(&refused.done, WAIT_MS);
    run_until(&reset.done, WAIT_MS);
    cr_assert_eq(refused.err, SL_E_CONN_REFUSED, "%s: %s", sl_err_name(refused.err),
                 refused.message);
    if (!VIA_LIBCURL) /* the lean client's words; libcurl has its own */
        cr_assert_not_null(strstr(refused.message, "connection refused"), "%s", refused.message);
    cr_assert_eq(reset.err, SL_E_CONN_RESET, "%s: %s", sl_err_name(reset.err), reset.message);
    cr_assert_neq(refused.err, reset.err);
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(refused.err), "the retry engine retries it");
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(reset.err));
    cr_assert_eq(reset.header_calls, 0);
    call_release(&refused);
    call_release(&reset);
    close_all();
}

static struct call *to_resume;

static void resume_now(uv_timer_t *t)
{
    cr_assert_eq(to_resume->body_calls, 1, "nothing delivered while paused");
    to_resume->paused = 0;
    client_resume(&to_resume->req);
    cr_assert_eq(to_resume->body_calls, 1, "not redelivered from inside resume");
    uv_close((uv_handle_t *)t, NULL);
}

Test(SUITE, pause_then_resume_redelivers_and_completes)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/3/20");
    c.pause_at_chunk = 1;
    call_start(&c);
    int never = 0;
    run_until(&c.paused, WAIT_MS);
    cr_assert_eq(c.paused, 1);
    run_until(&never, 150); /* the whole stream has been sent meanwhile */
    to_resume = &c;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, resume_now, 0, 0);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_geq(ms_between(c.start_ns, c.first_chunk_ns), 150, "held until resumed");
    cr_assert_str_eq(c.body.ptr, "data: chunk 0\n\ndata: chunk 1\n\ndata: chunk 2\n\n");
    call_release(&c);
    close_all();
}

Test(SUITE, oversize_response_headers_fail)
{
    struct client_opts opts = {.max_header_bytes = 1024};
    start_all(&opts);
    struct call c;
    call_init(&c, "/bigheader");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_BAD_GATEWAY);
    cr_assert_str_eq(c.message, "response headers over 1024 bytes");
    cr_assert_eq(c.header_calls, 0);
    call_release(&c);
    close_all();
}

Test(SUITE, stream_cut_in_the_middle_is_a_reset)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/cut/2");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_CONN_RESET, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_eq(c.done_status, 200);
    cr_assert_str_eq(c.body.ptr, "data: chunk 0\n\ndata: chunk 1\n\n", "what came is delivered");
    call_release(&c);
    close_all();
}

/* The lean client on its own takes http:// only (see bad_input). */
#if !LEAN_ALONE
Test(SUITE, https_urls_take_the_tls_path)
{
    start_all(NULL);
    /* Our server speaks plain HTTP: the client must try TLS (the server
     * sees a ClientHello) and fail the handshake, not refuse the scheme. */
    struct call c;
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "https://127.0.0.1:%d/ok", srv.port);
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(srv.tls_hellos, 1, "a TLS handshake reached the server");
    cr_assert_eq(c.err, SL_E_BAD_GATEWAY, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert(strcasestr(c.message, "ssl") || strcasestr(c.message, "tls"), "%s", c.message);
    call_release(&c);
    close_all();
}
#endif

Test(SUITE, bad_input)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "");
    c.req.url = NULL;
    cr_assert_eq(client_start(&c.req), UV_EINVAL);
    snprintf(c.url, sizeof(c.url), "gopher2://127.0.0.1/");
    c.req.url = c.url;
    call_start(&c);
    cr_assert_eq(client_start(&c.req), UV_EBUSY);
    cr_assert_eq(c.done, 0, "never from inside start");
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_BAD_REQUEST, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(c.err) ? 0 : 1, "not retried");
    call_release(&c);
    close_all();
}

Test(SUITE, close_cancels_requests_in_flight)
{
    start_all(NULL);
    struct call c[4];
    for (int i = 0; i < 3; i++) {
        call_init(&c[i], "/hang");
        call_start(&c[i]);
    }
    run_until_n(&srv.requests, 3, WAIT_MS);
    cr_assert_eq(srv.requests, 3);
    client_close();
    cr_assert_eq(c[0].done, 0, "on_done comes from the loop");
    call_init(&c[3], "/ok");
    cr_assert_eq(client_start(&c[3].req), UV_ESHUTDOWN);
    call_release(&c[3]);
    run_until(&client_closed, WAIT_MS);
    cr_assert_eq(client_closed, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(c[i].done, 1);
        cr_assert_eq(c[i].err, SL_E_CANCELLED);
        call_release(&c[i]);
    }
    run_until_n(&srv.eofs, 3, WAIT_MS);
    cr_assert_eq(srv.eofs, 3, "every upstream connection was closed");
    fixture_close();
}

/* Many requests of every kind, cancelled at random moments from timers and
 * from inside callbacks, then the client closed with some still in flight:
 * each request gets exactly one on_done and nothing is left open. */
enum { STRESS_N = 120 };
static struct call stress[STRESS_N];
static uv_timer_t stress_timers[STRESS_N];
static int stress_done;

static void stress_cancel(uv_timer_t *t)
{
    client_cancel(&stress[t - stress_timers].req);
}

static void stress_then(struct call *c)
{
    stress_done++;
    /* on_done may start more work: restart a few finished ones. */
    if (c->err == SL_OK && (c - stress) % 7 == 0 && !c->then_restarted) {
        c->then_restarted = 1;
        sl_buf_reset(&c->body);
        c->body_calls = 0;
        c->first_chunk_ns = 0;
        c->cancel_at_chunk = 0;
        c->cancel_ns = 0;
        cr_assert_eq(client_start(&c->req), 0);
    }
}

Test(SUITE, random_cancels_and_close_keep_every_contract)
{
    start_all(&(struct client_opts){.max_idle_connections = 8});
    static const char *paths[] = {"/ok",      "/stream/5/5", "/hang",       "/reset",
                                  "/delay/5", "/status/429", "/stream/50/2"};
    srand(4);
    for (int i = 0; i < STRESS_N; i++) {
        call_init(&stress[i], paths[rand() % 7]);
        stress[i].then = stress_then;
        if (rand() % 3 == 0)
            stress[i].cancel_at_chunk = 1 + rand() % 3;
        if (rand() % 5 == 0)
            stress[i].req.first_byte_timeout_ms = 1 + (unsigned)(rand() % 20);
        call_start(&stress[i]);
        uv_timer_init(&loop, &stress_timers[i]);
        if (rand() % 2)
            uv_timer_start(&stress_timers[i], stress_cancel, (uint64_t)(rand() % 30), 0);
    }
    run_until_n(&stress_done, STRESS_N - 10, 3000);
    client_close();
    run_until(&client_closed, WAIT_MS);
    cr_assert_eq(client_closed, 1);
    for (int i = 0; i < STRESS_N; i++) {
        cr_assert_eq(stress[i].done, 1 + stress[i].then_restarted, "request %d", i);
        uv_close((uv_handle_t *)&stress_timers[i], NULL);
        call_release(&stress[i]);
    }
    fixture_close();
}

Test(SUITE, close_from_inside_a_body_callback)
{
    start_all(NULL);
    struct call c[3];
    call_init(&c[0], "/stream/100/20");
    c[0].close_at_chunk = 2;
    call_init(&c[1], "/hang");
    call_init(&c[2], "/stream/100/20");
    for (int i = 0; i < 3; i++)
        call_start(&c[i]);
    run_until(&client_closed, WAIT_MS);
    cr_assert_eq(client_closed, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(c[i].done, 1);
        cr_assert_eq(c[i].err, SL_E_CANCELLED, "%d: %s", i, sl_err_name(c[i].err));
        call_release(&c[i]);
    }
    cr_assert_eq(c[0].body_calls, 2);
    run_until_n(&srv.eofs, 3, WAIT_MS);
    cr_assert_eq(srv.eofs, 3);
    fixture_close();
}

/* ---- from the lean client's suite: the same contract ---------------------- */

Test(SUITE, first_byte_timeout_on_a_kept_alive_connection)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/ok");
    call_release(&c);
    call_init(&c, "/hang");
    c.req.first_byte_timeout_ms = 100;
    call_start(&c);
    call_wait(&c);
    double ms = sl_test_ms_since(c.start_ns); /* from before the start */
    cr_assert_eq(c.err, SL_E_TIMEOUT);
    cr_assert_str_eq(c.message, "first byte timeout after 100 ms"); /* /hang never answers */
    cr_assert_geq(ms, 90, "%.1f ms", ms);
    cr_assert_eq(c.res.status, 0);
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1, "the connection was closed, not kept");
    call_release(&c);
    close_all();
}

Test(SUITE, a_paused_request_can_be_cancelled)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/100/10");
    c.pause_every = 2;
    call_start(&c);
    run_until(&c.paused, WAIT_MS);
    cr_assert_eq(c.paused, 1);
    client_cancel(&c.req);
    cr_assert_eq(c.done, 0);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    run_until(&srv.eofs, WAIT_MS);
    cr_assert_eq(srv.eofs, 1);
    call_release(&c);
    close_all();
}

Test(SUITE, cancel_closes_the_connection_and_on_done_follows_from_the_loop)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/hang");
    call_start(&c);
    run_until(&srv.requests, WAIT_MS);
    cr_assert_eq(srv.requests, 1);
    uint64_t t0 = uv_hrtime();
    client_cancel(&c.req);
    client_cancel(&c.req);
    cr_assert_eq(c.done, 0, "not from inside cancel");
    run_until(&srv.eofs, WAIT_MS);
    /* /hang never ends: a disconnect at all is the cancel's doing. */
    cr_assert_eq(srv.eofs, 1, "the server saw the disconnect");
    cr_assert_geq(srv.last_eof_ns, t0);
    call_wait(&c);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_str_eq(c.message, "cancelled");
    run_for(20);
    cr_assert_eq(c.done, 1, "once");
    call_release(&c);
    close_all();
}
