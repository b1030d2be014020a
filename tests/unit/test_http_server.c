/* The HTTP server in-process: the server runs on a loop in the test's main
 * thread, a client thread talks to it with plain blocking sockets. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "http/server.h"
#include "blocking_http.h"
#include "support.h"

struct fixture {
    uv_loop_t loop;
    uv_async_t done;
    struct sl_http_server *srv;
    int port;
    pthread_t thread;
    void (*scenario)(struct fixture *);
    int aborts, handled;
    uv_timer_t slow_timer;
    struct sl_http_exchange *slow_req;
    int stream_chunks;
    /* /big: a long stream written with backpressure */
    struct sl_http_exchange *big_req;
    uv_timer_t big_timer;
    size_t big_total, big_sent;
    int big_ended;
    atomic_int big_backpressure; /* the server had bytes the kernel did not take */
    /* /later: answered from a timer, one at a time */
    uv_timer_t later_timer;
    struct sl_http_exchange *later_req;
    int later_n;
    struct sl_http_server_stats stats; /* taken when the scenario ends */
    uv_async_t close_now;              /* a scenario closes the server itself */
    atomic_int closed_early;
};

/* ---- the handler --------------------------------------------------------- */

static void on_slow_abort(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct fixture *f = data;
    f->aborts++;
    f->slow_req = NULL;
    uv_timer_stop(&f->slow_timer);
}

static void on_slow_timer(uv_timer_t *t)
{
    struct fixture *f = t->data;
    if (f->slow_req == NULL)
        return;
    if (f->stream_chunks > 0) {
        sl_http_stream_write(f->slow_req, "chunk\n", 6);
        if (--f->stream_chunks == 0) {
            sl_http_stream_end(f->slow_req);
            f->slow_req = NULL;
            return;
        }
        uv_timer_start(&f->slow_timer, on_slow_timer, 20, 0);
        return;
    }
    sl_http_respond(f->slow_req, 200, NULL, 0, "text/plain", "slow", 4);
    f->slow_req = NULL;
}

static void on_big_timer(uv_timer_t *t);

/* A streaming handler the way the gateway relays an upstream: events come
 * in bursts from the loop (a zero timer stands for the upstream socket),
 * and when the client is slow, the relay pauses until on_drain, which only
 * resumes the source; the next write comes from a later callback. */
static void big_pump(struct fixture *f)
{
    struct sl_http_exchange *req = f->big_req;
    char event[200];
    memset(event, 'e', sizeof(event));
    event[sizeof(event) - 1] = '\n';
    for (int burst = 0; burst < 64 && f->big_req && f->big_sent < f->big_total; burst++) {
        size_t n =
            f->big_total - f->big_sent < sizeof(event) ? f->big_total - f->big_sent : sizeof(event);
        f->big_sent += n;
        sl_http_stream_write(req, event, n);
    }
    if (f->big_req && sl_http_stream_pending(req) > 0)
        atomic_store(&f->big_backpressure, 1);
    if (f->big_req && f->big_sent == f->big_total) {
        f->big_req = NULL;
        f->big_ended = 1;
        sl_http_stream_end(req);
        return;
    }
    if (f->big_req && sl_http_stream_pending(req) < 65536)
        uv_timer_start(&f->big_timer, on_big_timer, 0, 0);
}

static void on_big_timer(uv_timer_t *t)
{
    struct fixture *f = t->data;
    if (f->big_req)
        big_pump(f);
}

static void on_big_drain(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct fixture *f = data;
    uv_timer_start(&f->big_timer, on_big_timer, 0, 0);
}

static void on_big_abort(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct fixture *f = data;
    f->aborts++;
    f->big_req = NULL;
    uv_timer_stop(&f->big_timer);
}

static void on_later_abort(struct sl_http_exchange *req, void *data)
{
    (void)req;
    struct fixture *f = data;
    f->aborts++;
    f->later_req = NULL;
}

/* Answers the request held in later_req, then forgets it: if the server
 * started the next pipelined request inside sl_http_respond, the handler
 * would have stored it in later_req and this would lose it. */
static void on_later_timer(uv_timer_t *t)
{
    struct fixture *f = t->data;
    struct sl_http_exchange *req = f->later_req;
    if (req == NULL)
        return;
    char body[32];
    int n = snprintf(body, sizeof(body), "later %d", ++f->later_n);
    sl_http_respond(req, 200, NULL, 0, "text/plain", body, (size_t)n);
    f->later_req = NULL;
}

static void handler(struct sl_http_exchange *req, void *data)
{
    struct fixture *f = data;
    const struct sl_http_head *h = sl_http_exchange_head(req);
    f->handled++;
    if (sl_str_eq(h->path, "/big")) {
        f->big_req = req;
        f->big_total = 10u << 20;
        sl_http_exchange_on_abort(req, on_big_abort, f);
        sl_http_stream_on_drain(req, on_big_drain, f);
        sl_http_stream_start(req, 200, NULL, 0, "text/event-stream");
        uv_timer_start(&f->big_timer, on_big_timer, 0, 0);
        return;
    }
    if (sl_str_eq(h->path, "/bigbody")) { /* 12 MiB in one response */
        static char big[12u << 20];       /* more than a loopback send buffer holds */
        memset(big, 'b', sizeof(big));
        sl_http_respond(req, 200, NULL, 0, "text/plain", big, sizeof(big));
        return;
    }
    if (sl_str_eq(h->path, "/later")) {
        cr_assert_null(f->later_req, "a second request started while the first was open");
        f->later_req = req;
        sl_http_exchange_on_abort(req, on_later_abort, f);
        uv_timer_start(&f->later_timer, on_later_timer, 30, 0);
        return;
    }
    if (sl_str_eq(h->path, "/burst")) {
        sl_http_stream_start(req, 200, NULL, 0, "text/plain");
        sl_http_stream_write(req, "one\n", 4);
        sl_http_stream_write(req, "two\n", 4);
        sl_http_stream_end(req);
        return;
    }
    if (sl_str_eq(h->path, "/post-only") && !sl_str_eq(h->method, "POST")) {
        struct sl_http_header allow[1] = {{{"Allow", 5}, {"POST", 4}}};
        sl_http_respond_error_with(req, 405, allow, 1, "invalid_request_error",
                                   "method_not_allowed", "use POST");
        return;
    }
    if (sl_str_eq(h->path, "/slow") || sl_str_eq(h->path, "/stream")) {
        f->slow_req = req;
        sl_http_exchange_on_abort(req, on_slow_abort, f);
        if (sl_str_eq(h->path, "/stream")) {
            f->stream_chunks = 50;
            sl_http_stream_start(req, 200, NULL, 0, "text/plain");
        }
        uv_timer_start(&f->slow_timer, on_slow_timer, sl_str_eq(h->path, "/slow") ? 150 : 20, 0);
        return;
    }
    /* HEAD gets the response GET would get (the server drops the body) */
    struct sl_str method = sl_str_eq(h->method, "HEAD") ? (struct sl_str){"GET", 3} : h->method;
    char body[256];
    struct sl_str b = sl_http_exchange_body(req);
    int n = snprintf(body, sizeof(body), "%.*s %.*s %zu:%.*s", (int)method.len, method.ptr,
                     (int)h->path.len, h->path.ptr, b.len, (int)(b.len > 64 ? 64 : b.len), b.ptr);
    sl_http_respond(req, 200, NULL, 0, "text/plain", body, (size_t)n);
}

/* ---- the client side (blocking sockets in the client thread) ------------- */

static void *client_main(void *arg)
{
    struct fixture *f = arg;
    f->scenario(f);
    uv_async_send(&f->done);
    return NULL;
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void on_close_now(uv_async_t *a)
{
    struct fixture *f = a->data;
    sl_http_server_stats(f->srv, &f->stats);
    sl_http_server_close(f->srv, on_closed, NULL);
}

static void on_done(uv_async_t *a)
{
    struct fixture *f = a->data;
    uv_close((uv_handle_t *)&f->done, NULL);
    uv_close((uv_handle_t *)&f->close_now, NULL);
    uv_close((uv_handle_t *)&f->slow_timer, NULL);
    uv_close((uv_handle_t *)&f->later_timer, NULL);
    uv_close((uv_handle_t *)&f->big_timer, NULL);
    if (atomic_load(&f->closed_early))
        return;
    sl_http_server_stats(f->srv, &f->stats);
    sl_http_server_close(f->srv, on_closed, NULL);
}

static void run(struct fixture *f, struct sl_http_server_config *cfg,
                void (*scenario)(struct fixture *))
{
    char err[128];
    uv_loop_init(&f->loop);
    uv_async_init(&f->loop, &f->done, on_done);
    f->done.data = f;
    uv_async_init(&f->loop, &f->close_now, on_close_now);
    f->close_now.data = f;
    uv_timer_init(&f->loop, &f->slow_timer);
    f->slow_timer.data = f;
    uv_timer_init(&f->loop, &f->later_timer);
    f->later_timer.data = f;
    uv_timer_init(&f->loop, &f->big_timer);
    f->big_timer.data = f;
    cr_assert_eq(sl_http_server_new(&f->loop, cfg, handler, f, &f->srv), 0);
    cr_assert_eq(sl_http_server_listen(f->srv, "127.0.0.1", 0, err, sizeof(err)), 0, "%s", err);
    f->port = sl_http_server_port(f->srv);
    f->scenario = scenario;
    pthread_create(&f->thread, NULL, client_main, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->thread, NULL);
    sl_test_close_loop(&f->loop);
}

static struct sl_http_server_config small_limits(void)
{
    struct sl_http_server_config cfg;
    sl_http_server_config_default(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = 4096;
    cfg.request_timeout_ms = 200;
    cfg.idle_timeout_ms = 5000;
    return cfg;
}

/* ---- scenarios ----------------------------------------------------------- */

static void keep_alive(struct fixture *f)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    bh_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "GET /a 0:"));
    bh_send(fd, "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "POST /b 5:hello"), "%s", buf);
    close(fd);
}

Test(http_server, keep_alive_reuses_the_connection)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, keep_alive);
    cr_assert_eq(f.handled, 2);
}

static void pipelined(struct fixture *f)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    bh_send(fd, "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                "GET /3 HTTP/1.1\r\n\r\n");
    const char *expect[] = {"GET /1 0:", "POST /2 3:abc", "GET /3 0:"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
        cr_assert_not_null(strstr(buf, expect[i]), "response %d: %s", i, buf);
        /* the next response may already be in buf: shift it out */
        char *next = strstr(strstr(buf, "\r\n\r\n") + 4, "HTTP/1.1");
        if (next) {
            /* more than one response arrived in one read: handled below */
            cr_assert_not_null(strstr(next, expect[i + 1]));
            i++;
            if (i < 2) {
                char *third = strstr(next + 8, "HTTP/1.1");
                if (third) {
                    cr_assert_not_null(strstr(third, expect[i + 1]));
                    i++;
                }
            }
        }
    }
    close(fd);
}

Test(http_server, pipelined_requests_answer_in_order)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, pipelined);
    cr_assert_eq(f.handled, 3);
}

static void partial(struct fixture *f)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    const char *req = "POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
    for (const char *p = req; *p; p++) {
        cr_assert_eq(send(fd, p, 1, MSG_NOSIGNAL), 1);
        usleep(500);
    }
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "POST /p 4:abcd"));
    /* chunked request body with Expect: 100-continue */
    bh_send(fd, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    cr_assert_gt(got, 0);
    buf[got] = '\0';
    cr_assert_not_null(strstr(buf, "100 Continue"), "%s", buf);
    bh_send(fd, "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "POST /c 5:abcde"), "%s", buf);
    close(fd);
}

Test(http_server, partial_and_chunked_requests)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, partial);
}

static void expect_status(struct fixture *f, const char *req, int status, const char *code)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    bh_send(fd, req);
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), status, "%s -> %s", req, buf);
    cr_assert_not_null(strstr(buf, "Connection: close"));
    cr_assert_not_null(strstr(buf, "{\"error\":{\"message\":"), "%s", buf);
    if (code)
        cr_assert_not_null(strstr(buf, code), "%s", buf);
    /* and the server closes the connection after an error */
    cr_assert_leq(recv(fd, buf, sizeof(buf), 0), 0);
    close(fd);
}

static void limits(struct fixture *f)
{
    char big[2048];
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 7);
    expect_status(f, big, 431, "header_too_large");
    expect_status(f, "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413, "body_too_large");
    expect_status(f, "BAD REQUEST\r\n\r\n", 400, "bad_request");
    expect_status(f, "GET / HTTP/3.0\r\n\r\n", 505, NULL);
    expect_status(f, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, NULL);
    /* a request that never completes: 408 after the request timeout */
    expect_status(f, "GET / HTTP/1.1\r\nHost: slow", 408, "request_timeout");
    /* a chunked body over the limit */
    char chunk[6000];
    int n = snprintf(chunk, sizeof(chunk),
                     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "1388\r\n");
    memset(chunk + n, 'x', 100);
    chunk[n + 100] = '\0';
    expect_status(f, chunk, 413, "body_too_large");
}

Test(http_server, limits_answer_with_their_status)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, limits);
    cr_assert_eq(f.handled, 0);
}

static void too_many(struct fixture *f)
{
    int fds[3];
    char buf[4096];
    for (int i = 0; i < 3; i++)
        fds[i] = bh_dial(f->port);
    /* make sure the three are accepted before the fourth arrives */
    bh_send(fds[2], "GET /x HTTP/1.1\r\n\r\n");
    cr_assert_eq(bh_read_response(fds[2], buf, sizeof(buf)), 200);
    int extra = bh_dial(f->port);
    cr_assert_eq(bh_read_response(extra, buf, sizeof(buf)), 503, "%s", buf);
    cr_assert_not_null(strstr(buf, "too_many_connections"));
    close(extra);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

Test(http_server, connections_over_the_limit_get_503)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    cfg.max_connections = 3;
    run(&f, &cfg, too_many);
}

/* Waits (bounded) until a counter the loop thread updates reaches n. */
static void wait_for_count(const int *counter, int n)
{
    uint64_t t0 = uv_hrtime();
    while (*(const volatile int *)counter < n && sl_test_ms_since(t0) < 10000)
        usleep(1000);
}

static void disconnects(struct fixture *f)
{
    char buf[4096];
    /* gone in the middle of a request body: never handled */
    int fd = bh_dial(f->port);
    bh_send(fd, "POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten..");
    close(fd);
    /* gone while the handler works on it: on_abort */
    fd = bh_dial(f->port);
    bh_send(fd, "GET /slow HTTP/1.1\r\n\r\n");
    wait_for_count(&f->handled, 1); /* the handler has it */
    close(fd);
    wait_for_count(&f->aborts, 1);
    /* gone in the middle of a streamed response: on_abort */
    fd = bh_dial(f->port);
    bh_send(fd, "GET /stream HTTP/1.1\r\n\r\n");
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    cr_assert_gt(got, 0);
    close(fd);
    wait_for_count(&f->aborts, 2);
    /* and the server keeps serving */
    fd = bh_dial(f->port);
    bh_send(fd, "GET /after HTTP/1.1\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    close(fd);
}

Test(http_server, client_disconnects_abort_the_request)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, disconnects);
    cr_assert_eq(f.aborts, 2);
    cr_assert_eq(f.handled, 3); /* /slow, /stream, /after; not the cut body */
}

static void streamed(struct fixture *f)
{
    char buf[8192];
    int fd = bh_dial(f->port);
    bh_send(fd, "GET /stream HTTP/1.1\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "Transfer-Encoding: chunked"));
    cr_assert_not_null(strstr(buf, "6\r\nchunk\n\r\n"));
    close(fd);
}

Test(http_server, streamed_response_is_chunked)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, streamed);
    cr_assert_eq(f.aborts, 0);
}

static void many(struct fixture *f)
{
    enum { N = 200 };
    static int fds[N];
    char buf[4096];
    for (int i = 0; i < N; i++)
        fds[i] = bh_dial(f->port);
    for (int i = 0; i < N; i++)
        bh_send(fds[i], "GET /many HTTP/1.1\r\n\r\n");
    for (int i = 0; i < N; i++) {
        cr_assert_eq(bh_read_response(fds[i], buf, sizeof(buf)), 200);
        close(fds[i]);
    }
}

Test(http_server, many_concurrent_connections)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, many);
    cr_assert_eq(f.handled, 200);
}

/* ---- client helpers for the scenarios below ------------------------------ */

/* Sends len bytes; returns how many went out before an error (the server may
 * answer and close before a long body is sent). */
static size_t send_all(int fd, const char *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* Reads until the server closes (or 3 s pass without a byte); returns the
 * bytes, NUL-terminated, in a heap buffer of at most `max` bytes. */
static char *read_to_eof(int fd, size_t max, size_t *len)
{
    char *out = malloc(max + 1);
    cr_assert_not_null(out);
    size_t n = 0;
    while (n < max) {
        ssize_t got = recv(fd, out + n, max - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Decodes a chunked body in place; returns its length, or -1 when the
 * framing is broken or the last chunk is missing. */
static long dechunk(char *p, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= len)
            return -1;
        unsigned long size = strtoul(p + in, &end, 16);
        if (end == p + in || (size_t)(end - p) + 2 > len || memcmp(end, "\r\n", 2) != 0)
            return -1;
        in = (size_t)(end - p) + 2;
        if (size == 0)
            return in + 2 == len && memcmp(p + in, "\r\n", 2) == 0 ? (long)out : -1;
        if (in + size + 2 > len || memcmp(p + in + size, "\r\n", 2) != 0)
            return -1;
        memmove(p + out, p + in, size);
        out += size;
        in += size + 2;
    }
}

static int has_request_id(const char *response)
{
    const char *at = strcasestr(response, "\r\nx-request-id: req_");
    if (at == NULL)
        return 0;
    at += 20;
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", at[i]))
            return 0;
    return at[16] == '\r';
}

/* ---- issue 8.1: a parsed head never points into memory that moved ------- */

static struct sl_http_server_config body_limits(void)
{
    struct sl_http_server_config cfg = small_limits();
    cfg.max_body_bytes = 64 * 1024;
    return cfg;
}

/* Runs SCENARIO against a server with CFG: no request reaches the handler.
 * Returns what the server counted. */
static struct sl_http_server_stats run_refused(struct sl_http_server_config *cfg,
                                               void (*scenario)(struct fixture *))
{
    struct fixture f = {0};
    run(&f, cfg, scenario);
    cr_assert_eq(f.handled, 0);
    return f.stats;
}

static void chunk_grows_then_breaks(struct fixture *f)
{
    /* 8000 bytes of chunk data grow the 4 KiB read buffer; then a size line
     * that is not hex: 400, answered from the head parsed before the growth */
    static char req[9000];
    int n = snprintf(req, sizeof(req),
                     "POST /grow HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f40\r\n");
    memset(req + n, 'x', 8000);
    n += 8000;
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\nzz\r\n\r\n");
    expect_status(f, req, 400, "bad_request");
}

Test(http_server, malformed_chunk_after_the_buffer_grew_is_400)
{
    struct sl_http_server_config cfg = body_limits();
    cr_assert_eq(run_refused(&cfg, chunk_grows_then_breaks).status_4xx_limits, 1);
}

/* Sends the head of POST /chunks and five chunks of 1 MiB; returns 1 when
 * every byte went, 0 when a send failed (the server stopped reading). */
static int send_five_mib_chunks(int fd)
{
    size_t mib = 1u << 20;
    char *chunk = malloc(mib);
    memset(chunk, 'c', mib);
    bh_send(fd, "POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    int ok = 1;
    for (int i = 0; i < 5 && ok; i++)
        ok = send_all(fd, "100000\r\n", 8) == 8 && send_all(fd, chunk, mib) == mib &&
             send_all(fd, "\r\n", 2) == 2;
    free(chunk);
    return ok;
}

static void five_big_chunks(struct fixture *f)
{
    int fd = bh_dial(f->port);
    /* the server answers after the fourth size line and stops reading:
     * sends may fail from there on */
    if (send_five_mib_chunks(fd))
        send_all(fd, "0\r\n\r\n", 5);
    char buf[4096];
    int status = bh_read_response(fd, buf, sizeof(buf));
    cr_assert_eq(status, 413, "%s", buf);
    cr_assert_not_null(strstr(buf, "body_too_large"), "%s", buf);
    close(fd);
}

Test(http_server, five_one_mib_chunks_over_the_limit_are_413)
{
    struct sl_http_server_config cfg = small_limits();
    cfg.max_body_bytes = 3u << 20;
    cfg.request_timeout_ms = 10000;
    cr_assert_eq(run_refused(&cfg, five_big_chunks).status_4xx_limits, 1);
}

static void five_big_chunks_accepted(struct fixture *f)
{
    int fd = bh_dial(f->port);
    cr_assert(send_five_mib_chunks(fd), "a send failed");
    bh_send(fd, "0\r\n\r\n");
    char buf[4096];
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "POST /chunks 5242880:cccc"), "%s", buf);
    close(fd);
}

Test(http_server, five_one_mib_chunks_under_the_limit_are_accepted)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    cfg.max_body_bytes = 8u << 20;
    cfg.request_timeout_ms = 10000;
    run(&f, &cfg, five_big_chunks_accepted);
    cr_assert_eq(f.handled, 1);
}

static void body_stalls_halfway(struct fixture *f)
{
    static char req[7000];
    int n = snprintf(req, sizeof(req), "POST /stall HTTP/1.1\r\nContent-Length: 12000\r\n\r\n");
    memset(req + n, 'b', 6000);
    req[n + 6000] = '\0';
    expect_status(f, req, 408, "request_timeout");
}

Test(http_server, a_body_that_stalls_after_the_buffer_grew_is_408)
{
    struct sl_http_server_config cfg = body_limits();
    cr_assert_eq(run_refused(&cfg, body_stalls_halfway).status_4xx_limits, 1);
}

/* ---- issue 8.2: a chunk size near 2^64 is 413 at once ------------------- */

static void huge_chunk_size(struct fixture *f)
{
    uint64_t t0 = uv_hrtime();
    expect_status(f,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "1\r\na\r\nffffffffffffffff\r\n",
                  413, "body_too_large");
    expect_status(f,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "ffffffffffffffff\r\n",
                  413, "body_too_large");
    /* at once, not after the request timeout */
    cr_assert_lt(sl_test_ms_since(t0), 5000);
}

Test(http_server, a_chunk_size_near_two_to_the_64_is_413)
{
    struct sl_http_server_config cfg = small_limits();
    cfg.request_timeout_ms = 10000;
    run_refused(&cfg, huge_chunk_size);
}

/* ---- issue 8.11: conformance -------------------------------------------- */

static void expect_status_n(struct fixture *f, const char *req, size_t len, int status)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    cr_assert_eq(send_all(fd, req, len), len);
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), status, "%s", buf);
    close(fd);
}

static void malformed_heads(struct fixture *f)
{
    /* an empty chunk-size line is not the last chunk */
    expect_status(f, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n", 400,
                  "bad_request");
    /* bare CR and NUL in header values, in the target */
    expect_status(f, "GET / HTTP/1.1\r\nX-A: one\rtwo\r\n\r\n", 400, "bad_request");
    expect_status(f, "GET / HTTP/1.1\r\nX-A: one\r\r\n\r\n", 400, "bad_request");
    static const char nul[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
    expect_status_n(f, nul, sizeof(nul) - 1, 400);
    static const char nul_target[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    expect_status_n(f, nul_target, sizeof(nul_target) - 1, 400);
    expect_status(f, "GET /a\rb HTTP/1.1\r\n\r\n", 400, "bad_request");
}

Test(http_server, empty_chunk_size_bare_cr_and_nul_are_400)
{
    struct sl_http_server_config cfg = small_limits();
    run_refused(&cfg, malformed_heads);
}

static void rejections_carry_a_request_id(struct fixture *f)
{
    const char *reqs[] = {
        "BAD REQUEST\r\n\r\n",          "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
        "GET / HTTP/3.0\r\n\r\n",       "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: slow",
    };
    char buf[4096];
    for (size_t i = 0; i < sizeof(reqs) / sizeof(*reqs); i++) {
        int fd = bh_dial(f->port);
        bh_send(fd, reqs[i]);
        cr_assert_gt(bh_read_response(fd, buf, sizeof(buf)), 399);
        cr_assert(has_request_id(buf), "%s", buf);
        close(fd);
    }
    char big[2048];
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 7);
    int fd = bh_dial(f->port);
    bh_send(fd, big);
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 431);
    cr_assert(has_request_id(buf), "%s", buf);
    close(fd);
}

Test(http_server, the_servers_own_rejections_carry_x_request_id)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, rejections_carry_a_request_id);
}

static void own_id(void *arg, char *out, size_t size)
{
    int *n = arg;
    snprintf(out, size, "mine-%d", ++*n);
}

static void rejection_with_owner_id(struct fixture *f)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    bh_send(fd, "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 413);
    cr_assert_not_null(strstr(buf, "\r\nx-request-id: mine-1\r\n"), "%s", buf);
    close(fd);
}

Test(http_server, the_owner_can_make_the_request_id)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    int made = 0;
    cfg.make_request_id = own_id;
    cfg.request_id_arg = &made;
    run(&f, &cfg, rejection_with_owner_id);
    cr_assert_eq(made, 1);
}

/* Waits up to ms for the socket to become readable. */
static int readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void http10_expect(struct fixture *f)
{
    int fd = bh_dial(f->port);
    bh_send(fd, "POST /c HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    /* an HTTP/1.0 client gets no 100 Continue: nothing to read until the body */
    cr_assert_not(readable_within(fd, 300), "the server answered an HTTP/1.0 expectation");
    bh_send(fd, "abc");
    size_t len;
    char *all = read_to_eof(fd, 4096, &len);
    cr_assert_eq(strncmp(all, "HTTP/1.1 200 ", 13), 0, "%s", all);
    cr_assert_not_null(strstr(all, "POST /c 3:abc"), "%s", all);
    free(all);
    close(fd);
    /* and a stream to an HTTP/1.0 client has no chunked framing: the close
     * delimits the body */
    fd = bh_dial(f->port);
    bh_send(fd, "GET /burst HTTP/1.0\r\n\r\n");
    all = read_to_eof(fd, 4096, &len);
    cr_assert_null(strcasestr(all, "transfer-encoding"), "%s", all);
    char *body = strstr(all, "\r\n\r\n");
    cr_assert_not_null(body, "%s", all);
    cr_assert_str_eq(body + 4, "one\ntwo\n");
    free(all);
    close(fd);
}

Test(http_server, http10_clients_get_no_100_continue_and_no_chunks)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    cfg.request_timeout_ms = 3000; /* longer than the wait for no answer */
    run(&f, &cfg, http10_expect);
}

static void head_requests(struct fixture *f)
{
    int fd = bh_dial(f->port);
    /* HEAD then GET of the same resources, pipelined: the HEAD responses
     * carry the GET's framing headers and not a byte of body */
    bh_send(fd, "HEAD /h HTTP/1.1\r\n\r\nGET /h HTTP/1.1\r\n\r\n"
                "HEAD /burst HTTP/1.1\r\n\r\nGET /burst HTTP/1.1\r\nConnection: close\r\n\r\n");
    size_t len;
    char *all = read_to_eof(fd, 16384, &len);
    close(fd);
    char *r[4] = {all};
    for (int i = 1; i < 4; i++) {
        r[i] = strstr(r[i - 1] + 1, "HTTP/1.1 ");
        cr_assert_not_null(r[i], "response %d missing: %s", i, all);
    }
    /* the HEAD response ends at its blank line */
    char *end0 = strstr(r[0], "\r\n\r\n");
    cr_assert_eq(end0 + 4, r[1], "a body after HEAD: %s", all);
    cr_assert_not_null(strstr(r[0], "Content-Length: 9\r\n"), "%s", all);
    cr_assert_not_null(strstr(r[1], "Content-Length: 9\r\n\r\nGET /h 0:"), "%s", all);
    char *end2 = strstr(r[2], "\r\n\r\n");
    cr_assert_eq(end2 + 4, r[3], "a body or chunk framing after a streamed HEAD: %s", all);
    cr_assert_not_null(strstr(r[2], "Transfer-Encoding: chunked\r\n"), "%s", all);
    cr_assert_not_null(strstr(r[3], "\r\n\r\n4\r\none\n\r\n4\r\ntwo\n\r\n0\r\n\r\n"), "%s", all);
    free(all);
}

Test(http_server, head_answers_like_get_without_a_body)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, head_requests);
    cr_assert_eq(f.handled, 4);
}

static void method_not_allowed(struct fixture *f)
{
    char buf[4096];
    int fd = bh_dial(f->port);
    bh_send(fd, "GET /post-only HTTP/1.1\r\n\r\n");
    cr_assert_eq(bh_read_response(fd, buf, sizeof(buf)), 405, "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nAllow: POST\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "method_not_allowed"), "%s", buf);
    close(fd);
}

Test(http_server, a_405_carries_the_allow_header_it_was_given)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, method_not_allowed);
}

/* ---- issue 8.16: a long stream to a Connection: close client ------------ */

static int dial_small_rcvbuf(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rcv = 16 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void big_stream_close(struct fixture *f)
{
    /* a small receive buffer makes the server's writes queue and drain
     * many times over the 10 MiB */
    int fd = dial_small_rcvbuf(f->port);
    bh_send(fd, "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");
    /* read nothing until the server's writes queue: then every drain of
     * that queue is a moment the connection could wrongly be closed */
    uint64_t t0 = uv_hrtime();
    while (!atomic_load(&f->big_backpressure) && sl_test_ms_since(t0) < 5000)
        usleep(1000);
    cr_assert(atomic_load(&f->big_backpressure), "no backpressure");
    size_t len;
    char *all = read_to_eof(fd, 12u << 20, &len);
    close(fd);
    char *body = strstr(all, "\r\n\r\n");
    cr_assert_not_null(body);
    cr_assert_not_null(strstr(all, "Transfer-Encoding: chunked"));
    body += 4;
    long n = dechunk(body, len - (size_t)(body - all));
    cr_assert_eq(n, 10l << 20, "the stream was cut: %ld bytes (raw %zu), last bytes %.20s", n, len,
                 all + (len > 20 ? len - 20 : 0));
    free(all);
}

/* The end of the client's input while its response is in progress means
 * the client is gone, Connection: close or not (as nginx decides): for a
 * gateway, that is what stops upstream work nobody will read. */
static void big_stream_half_close(struct fixture *f)
{
    int fd = dial_small_rcvbuf(f->port);
    bh_send(fd, "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");
    shutdown(fd, SHUT_WR);
    wait_for_count(&f->aborts, 1);
    close(fd);
}

Test(http_server, a_long_stream_to_a_connection_close_client_ends_whole)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, big_stream_close);
    cr_assert_eq(f.aborts, 0);
    cr_assert(f.big_ended);
}

Test(http_server, a_client_that_closes_its_side_mid_response_is_gone)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, big_stream_half_close);
    cr_assert_eq(f.aborts, 1);
    cr_assert(!f.big_ended);
}

/* ---- the last answer of a connection that ends ------------------------- */

/* The server's count of open connections, read from the client thread
 * (a plain read of a counter the loop updates: enough for a poll). */
static uint64_t open_connections(struct fixture *f)
{
    struct sl_http_server_stats st;
    sl_http_server_stats(f->srv, &st);
    return *(volatile uint64_t *)&st.open_connections;
}

/* Reads /bigbody's answer to the end of the connection (then closes fd):
 * all 12 MiB of it, or the answer was cut. */
static void read_whole_bigbody(int fd)
{
    size_t len;
    char *all = read_to_eof(fd, 13u << 20, &len);
    close(fd);
    char *body = strstr(all, "\r\n\r\n");
    cr_assert_not_null(body);
    body += 4;
    cr_assert_eq(len - (size_t)(body - all), (size_t)12 << 20, "the answer was cut: %zu bytes",
                 len - (size_t)(body - all));
    free(all);
}

/* A keep-alive client that half-closes after its request: the answer was
 * given (its row would say so), so it goes out whole before the close. */
static void half_close_after_request(struct fixture *f)
{
    int fd = dial_small_rcvbuf(f->port);
    bh_send(fd, "GET /bigbody HTTP/1.1\r\n\r\n");
    shutdown(fd, SHUT_WR);
    /* let the server see the FIN while the 12 MiB wait for this reader
     * (seen later, the case is merely easier: it cannot fail wrongly) */
    usleep(100000);
    read_whole_bigbody(fd);
}

Test(http_server, a_half_close_after_a_request_still_gets_the_whole_answer)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, half_close_after_request);
}

/* A client that never reads its answer does not hold the connection and
 * its queued bytes forever: without progress for the idle timeout, the
 * server closes it. */
static void never_reads(struct fixture *f)
{
    int fd = dial_small_rcvbuf(f->port);
    bh_send(fd, "GET /bigbody HTTP/1.1\r\nConnection: close\r\n\r\n");
    uint64_t t0 = uv_hrtime();
    while (f->handled == 0 && sl_test_ms_since(t0) < 10000)
        usleep(1000);
    while (open_connections(f) > 0 && sl_test_ms_since(t0) < 10000)
        usleep(5000);
    cr_assert_eq(open_connections(f), 0, "a client that never reads kept its connection");
    close(fd);
}

Test(http_server, a_client_that_never_reads_is_closed_after_the_idle_timeout)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    cfg.idle_timeout_ms = 300;
    run(&f, &cfg, never_reads);
}

/* The server closes (the end of a drain) while a slow client is still
 * reading an answer it was given: the answer goes out whole. */
static void close_while_reading(struct fixture *f)
{
    int fd = dial_small_rcvbuf(f->port);
    bh_send(fd, "GET /bigbody HTTP/1.1\r\n\r\n");
    uint64_t t0 = uv_hrtime();
    while (*(volatile int *)&f->handled == 0 && sl_test_ms_since(t0) < 10000)
        usleep(1000);
    atomic_store(&f->closed_early, 1);
    uv_async_send(&f->close_now);
    read_whole_bigbody(fd);
}

Test(http_server, closing_the_server_lets_a_given_answer_finish)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, close_while_reading);
}

/* ---- pipelining on the asynchronous path -------------------------------- */

static void pipelined_async(struct fixture *f)
{
    int fd = bh_dial(f->port);
    /* the first two are answered from a timer; while the first waits, the
     * second and third are buffered; /big ends inside on_drain while a
     * fourth request waits behind it */
    bh_send(fd, "GET /later HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\n"
                "POST /3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                "GET /big HTTP/1.1\r\n\r\nGET /5 HTTP/1.1\r\nConnection: close\r\n\r\n");
    size_t len;
    char *all = read_to_eof(fd, 12u << 20, &len);
    close(fd);
    const char *expect[] = {"\r\n\r\nlater 1", "\r\n\r\nlater 2", "\r\n\r\nPOST /3 2:hi",
                            "Transfer-Encoding: chunked"};
    const char *at = all;
    for (int i = 0; i < 4; i++) {
        at = strstr(at, expect[i]);
        cr_assert_not_null(at, "response %d missing or out of order", i + 1);
    }
    cr_assert_not_null(strstr(at, "\r\n0\r\n\r\nHTTP/1.1 200 OK"), "the stream did not end");
    cr_assert_not_null(strstr(at, "\r\n\r\nGET /5 0:"), "the request after the stream");
    free(all);
}

Test(http_server, pipelined_requests_behind_a_slow_one_answer_in_order)
{
    struct fixture f = {0};
    struct sl_http_server_config cfg = small_limits();
    run(&f, &cfg, pipelined_async);
    cr_assert_eq(f.handled, 5);
    cr_assert_eq(f.aborts, 0);
}
