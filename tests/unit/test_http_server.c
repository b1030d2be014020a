/* The HTTP server in-process: the server runs on a loop in the test's main
 * thread, a client thread talks to it with plain blocking sockets. */
#include <pthread.h>
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
    struct sl_http_req *slow_req;
    int stream_chunks;
};

/* ---- the handler --------------------------------------------------------- */

static void on_slow_abort(struct sl_http_req *req, void *data)
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

static void handler(struct sl_http_req *req, void *data)
{
    struct fixture *f = data;
    const struct sl_http_head *h = sl_http_req_head(req);
    f->handled++;
    if (sl_str_eq(h->path, "/slow") || sl_str_eq(h->path, "/stream")) {
        f->slow_req = req;
        sl_http_req_on_abort(req, on_slow_abort, f);
        if (sl_str_eq(h->path, "/stream")) {
            f->stream_chunks = 50;
            sl_http_stream_start(req, 200, NULL, 0, "text/plain");
        }
        uv_timer_start(&f->slow_timer, on_slow_timer, sl_str_eq(h->path, "/slow") ? 150 : 20, 0);
        return;
    }
    char body[256];
    struct sl_str b = sl_http_req_body(req);
    int n = snprintf(body, sizeof(body), "%.*s %.*s %zu:%.*s", (int)h->method.len, h->method.ptr,
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

static void on_done(uv_async_t *a)
{
    struct fixture *f = a->data;
    uv_close((uv_handle_t *)&f->done, NULL);
    uv_close((uv_handle_t *)&f->slow_timer, NULL);
    sl_http_server_close(f->srv, on_closed, NULL);
}

static void run(struct fixture *f, struct sl_http_server_config *cfg,
                void (*scenario)(struct fixture *))
{
    char err[128];
    uv_loop_init(&f->loop);
    uv_async_init(&f->loop, &f->done, on_done);
    f->done.data = f;
    uv_timer_init(&f->loop, &f->slow_timer);
    f->slow_timer.data = f;
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
    usleep(30000);
    close(fd);
    usleep(50000);
    /* gone in the middle of a streamed response: on_abort */
    fd = bh_dial(f->port);
    bh_send(fd, "GET /stream HTTP/1.1\r\n\r\n");
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    cr_assert_gt(got, 0);
    close(fd);
    usleep(100000);
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
