/* HTTP client against a small HTTP/1.1 server on raw libuv, both on the
 * test's loop: connection reuse, each timeout, streaming in pieces,
 * cancellation that the server sees as a disconnect, refused and reset as
 * distinct error classes, pause/resume, and a clean close.
 *
 * Built twice (tests/meson.build): as suite http_client, where http:// URLs
 * take the lean client (http/upstream.h), and with SL_TEST_LIBCURL as suite
 * http_client_curl, where libcurl runs them too. Same contract, same tests. */
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../http_test_server.h"
#include "../support.h"
#include "core/list.h"
#include "http/client.h"
#include "http/sse.h"

#ifdef SL_TEST_LIBCURL
#define SUITE       http_client_curl
#define VIA_LIBCURL 1
#else
#define SUITE       http_client
#define VIA_LIBCURL 0
#endif

/* The fixture: one loop, one server, one client. */
static uv_loop_t loop;
static uv_timer_t guard; /* keeps run_until from blocking forever */

#define WAIT_MS 10000.0
static struct srv srv;
static struct sl_http_client *client;
static int client_closed;

static void start_all(const struct sl_http_client_opts *opts)
{
    struct sl_http_client_opts o = opts ? *opts : (struct sl_http_client_opts){0};
    o.http_via_libcurl = VIA_LIBCURL;
    signal(SIGPIPE, SIG_IGN); /* the server writes to peers that went away */
    cr_assert_eq(uv_loop_init(&loop), 0);
    srv_start(&srv, &loop);
    uv_timer_init(&loop, &guard);
    cr_assert_eq(sl_http_client_new(&loop, &o, &client), 0);
    client_closed = 0;
}

static void on_client_closed(void *arg)
{
    *(int *)arg = 1;
}

static void close_all(void)
{
    sl_http_client_close(client, on_client_closed, &client_closed);
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    sl_test_close_loop(&loop);
    cr_assert_eq(client_closed, 1);
}

/* Runs the loop until *counter reaches n or ms pass; the guard timer keeps
 * UV_RUN_ONCE from blocking forever. Returns the elapsed ms. Waits for
 * something that must happen use WAIT_MS: they return as soon as it did,
 * so the bound only has to be generous enough for a loaded machine. */
static void tick(uv_timer_t *t)
{
    (void)t;
}

static double run_until_n(const int *counter, int n, double ms)
{
    uv_timer_start(&guard, tick, 5, 5);
    uint64_t t0 = uv_hrtime();
    while (*counter < n && sl_test_ms_since(t0) < ms)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    return sl_test_ms_since(t0);
}

static double run_until(const int *flag, double ms)
{
    return run_until_n(flag, 1, ms);
}

/* A request and everything that happened to it. */
struct call {
    struct sl_http_request req;
    char url[128];
    int header_calls, status, nheaders;
    char x_test[32];
    struct sl_buf body;
    int body_calls;
    uint64_t start_ns, first_chunk_ns, last_chunk_ns;
    int done, err, done_status;
    struct sl_http_result res;
    char message[128];
    int cancel_at_chunk; /* cancel from inside on_body at this chunk (1-based) */
    int cancel_in_headers;
    int pause_at_chunk; /* refuse this chunk with SL_HTTP_PAUSE */
    int close_at_chunk; /* close the whole client from inside on_body */
    int paused;
    uint64_t cancel_ns;
    void (*then)(struct call *); /* runs from on_done */
    int then_restarted;
};

static void on_headers(struct sl_http_request *req, int status, const struct sl_http_header *h,
                       size_t n)
{
    struct call *c = req->data;
    c->header_calls++;
    c->status = status;
    c->nheaders = (int)n;
    const struct sl_str *sv = sl_http_header_get(h, n, "x-test");
    const char *v = sv ? sv->ptr : NULL;
    if (v)
        snprintf(c->x_test, sizeof(c->x_test), "%s", v);
    if (c->cancel_in_headers) {
        c->cancel_ns = uv_hrtime();
        sl_http_request_cancel(req);
    }
}

static int on_body(struct sl_http_request *req, const char *data, size_t len)
{
    struct call *c = req->data;
    cr_assert_eq(c->done, c->then_restarted, "no body after done");
    cr_assert_eq(c->cancel_ns, 0, "no body after cancel");
    c->body_calls++;
    if (c->pause_at_chunk && c->body_calls == c->pause_at_chunk) {
        c->paused = 1;
        return SL_HTTP_PAUSE;
    }
    uint64_t now = uv_hrtime();
    if (c->first_chunk_ns == 0)
        c->first_chunk_ns = now;
    c->last_chunk_ns = now;
    sl_buf_append(&c->body, data, len);
    if (c->close_at_chunk && c->body_calls == c->close_at_chunk) {
        c->cancel_ns = uv_hrtime();
        sl_http_client_close(client, on_client_closed, &client_closed);
    }
    if (c->cancel_at_chunk && c->body_calls == c->cancel_at_chunk) {
        c->cancel_ns = uv_hrtime();
        sl_http_request_cancel(req);
    }
    return 0;
}

static void on_done(struct sl_http_request *req, const struct sl_http_result *res)
{
    struct call *c = req->data;
    cr_assert_eq(req->xfer, NULL);
    cr_assert_eq(req->uxfer, NULL);
    c->done++;
    c->res = *res;
    c->err = res->err;
    c->done_status = res->status;
    snprintf(c->message, sizeof(c->message), "%s", res->message);
    c->res.message = c->message;
    if (c->then)
        c->then(c);
}

static void call_init(struct call *c, const char *path)
{
    *c = (struct call){0};
    snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d%s", srv.port, path);
    c->req = (struct sl_http_request){
        .url = c->url, .on_headers = on_headers, .on_body = on_body, .on_done = on_done, .data = c};
    sl_buf_init(&c->body, 1 << 20);
    sl_buf_append(&c->body, "", 0);
}

static void call_start(struct call *c)
{
    /* The request's timers count from the loop's clock: bring it up to
     * date first, or a loop idle since start_all (slow on a loaded machine)
     * would make a timeout look early against start_ns. */
    uv_update_time(&loop);
    c->start_ns = uv_hrtime();
    cr_assert_eq(sl_http_request_start(client, &c->req), 0);
}

static void call_release(struct call *c)
{
    sl_buf_release(&c->body);
}

static double ms_between(uint64_t a, uint64_t b)
{
    return (double)(b - a) / 1e6;
}

Test(SUITE, get_delivers_status_headers_and_body)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/ok");
    call_start(&c);
    cr_assert_eq(c.req.uxfer != NULL, !VIA_LIBCURL, "http:// takes the lean client by default");
    cr_assert_eq(c.req.xfer != NULL, VIA_LIBCURL);
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(c.err, SL_OK);
    cr_assert(strncmp(srv.last.ptr, "PUT /ok ", 8) == 0);
    cr_assert(strcmp(srv.last.ptr + srv.last.len - 4, "\r\n{}") == 0);
    call_release(&c);
    close_all();
}

Test(SUITE, http_error_status_is_a_status_not_a_transport_error)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/status/503");
    call_start(&c);
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
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

Test(SUITE, connect_timeout_on_a_full_backlog)
{
    start_all(NULL);
    /* A listener with a full accept queue drops SYNs: connect() hangs. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&addr, alen), 0);
    cr_assert_eq(listen(lfd, 0), 0);
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    int fill[2];
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&addr, alen);
    }
    /* The first filler's handshake completes into the accept queue (the
     * socket turns writable): from then on the queue is full. */
    struct pollfd pfd = {.fd = fill[0], .events = POLLOUT};
    cr_assert_eq(poll(&pfd, 1, (int)WAIT_MS), 1, "the first filler never connected");
    struct call c;
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    c.req.connect_timeout_ms = 200;
    c.req.total_timeout_ms = 2000;
    call_start(&c);
    run_until(&c.done, WAIT_MS);
    double ms = sl_test_ms_since(c.start_ns); /* from before the start */
    cr_assert_eq(c.err, SL_E_TIMEOUT, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_str_eq(c.message, "connect timeout after 200 ms", "not the 2 s total timeout");
    cr_assert_geq(ms, 190, "%.1f ms", ms);
    for (int i = 0; i < 2; i++)
        close(fill[i]);
    close(lfd);
    call_release(&c);
    close_all();
}

Test(SUITE, body_streams_in_pieces_as_it_arrives)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/stream/5/60");
    call_start(&c);
    run_until(&c.done, WAIT_MS);
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
    call_release(&c);
    close_all();
}

static struct call *to_cancel;

static void cancel_now(uv_timer_t *t)
{
    to_cancel->cancel_ns = uv_hrtime();
    sl_http_request_cancel(&to_cancel->req);
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
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_eq(c.body_calls, 2, "nothing delivered after the cancel");
    /* The client still works: a new request gets a new connection. */
    call_release(&c);
    call_init(&c, "/ok");
    call_start(&c);
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
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
    sl_http_request_cancel(&c.req);
    sl_http_request_cancel(&c.req); /* twice is harmless */
    cr_assert_eq(c.done, 0);
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(c.done, 1);
    cr_assert_eq(c.err, SL_E_CANCELLED);
    cr_assert_str_eq(c.message, "cancelled");
    run_until(&c.done + 1, 50); /* on_done only once */
    cr_assert_eq(c.done, 1);
    sl_http_request_cancel(&c.req); /* after on_done: nothing */
    call_release(&c);
    close_all();
}

Test(SUITE, refused_and_reset_are_distinct_classes)
{
    start_all(NULL);
    /* A port that nobody listens on: bound, then closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    bind(fd, (struct sockaddr *)&addr, alen);
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    close(fd);
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
    sl_http_request_resume(&to_resume->req);
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
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_geq(ms_between(c.start_ns, c.first_chunk_ns), 150, "held until resumed");
    cr_assert_str_eq(c.body.ptr, "data: chunk 0\n\ndata: chunk 1\n\ndata: chunk 2\n\n");
    call_release(&c);
    close_all();
}

Test(SUITE, oversize_response_headers_fail)
{
    struct sl_http_client_opts opts = {.max_header_bytes = 1024};
    start_all(&opts);
    struct call c;
    call_init(&c, "/bigheader");
    call_start(&c);
    run_until(&c.done, WAIT_MS);
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
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(c.err, SL_E_CONN_RESET, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_eq(c.done_status, 200);
    cr_assert_str_eq(c.body.ptr, "data: chunk 0\n\ndata: chunk 1\n\n", "what came is delivered");
    call_release(&c);
    close_all();
}

Test(SUITE, https_urls_take_the_tls_path)
{
    start_all(NULL);
    /* Our server speaks plain HTTP: the client must try TLS (the server
     * sees a ClientHello) and fail the handshake, not refuse the scheme. */
    struct call c;
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "https://127.0.0.1:%d/ok", srv.port);
    call_start(&c);
    run_until(&c.done, WAIT_MS);
    cr_assert_eq(srv.tls_hellos, 1, "a TLS handshake reached the server");
    cr_assert_eq(c.err, SL_E_BAD_GATEWAY, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert(strcasestr(c.message, "ssl") || strcasestr(c.message, "tls"), "%s", c.message);
    call_release(&c);
    close_all();
}

Test(SUITE, bad_input)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "");
    c.req.url = NULL;
    cr_assert_eq(sl_http_request_start(client, &c.req), UV_EINVAL);
    snprintf(c.url, sizeof(c.url), "gopher2://127.0.0.1/");
    c.req.url = c.url;
    call_start(&c);
    cr_assert_eq(sl_http_request_start(client, &c.req), UV_EBUSY);
    cr_assert_eq(c.done, 0, "never from inside start");
    run_until(&c.done, WAIT_MS);
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
    sl_http_client_close(client, on_client_closed, &client_closed);
    cr_assert_eq(c[0].done, 0, "on_done comes from the loop");
    call_init(&c[3], "/ok");
    cr_assert_eq(sl_http_request_start(client, &c[3].req), UV_ESHUTDOWN);
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
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    sl_test_close_loop(&loop);
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
    sl_http_request_cancel(&stress[t - stress_timers].req);
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
        cr_assert_eq(sl_http_request_start(client, &c->req), 0);
    }
}

Test(SUITE, random_cancels_and_close_keep_every_contract)
{
    start_all(&(struct sl_http_client_opts){.max_idle_connections = 8});
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
    sl_http_client_close(client, on_client_closed, &client_closed);
    run_until(&client_closed, WAIT_MS);
    cr_assert_eq(client_closed, 1);
    for (int i = 0; i < STRESS_N; i++) {
        cr_assert_eq(stress[i].done, 1 + stress[i].then_restarted, "request %d", i);
        uv_close((uv_handle_t *)&stress_timers[i], NULL);
        call_release(&stress[i]);
    }
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    sl_test_close_loop(&loop);
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
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    sl_test_close_loop(&loop);
}
