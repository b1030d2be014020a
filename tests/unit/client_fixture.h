/* The fixture of the HTTP client tests, written once: one loop, the test
 * server (tests/http_test_server.h) on it, a client under test, and struct
 * call, a request with everything that happened to it.
 *
 * The file that includes this picks the client by defining, after the
 * include, the driver functions declared below (the lean client's pool on
 * its own, or sl_http_client with lean or libcurl for http://): the same
 * calls then run against each (test_http_contract.c), and each client's
 * own tests use the same fixture (test_upstream.c). */
#ifndef SL_TEST_CLIENT_FIXTURE_H
#define SL_TEST_CLIENT_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../http_test_server.h"
#include "../support.h"
#include "core/buf.h"
#include "http/request.h"

/* The driver: the client under test. */
static int client_start(struct sl_http_request *req);
static void client_cancel(struct sl_http_request *req);
static void client_resume(struct sl_http_request *req);
static void client_close(void); /* sets client_closed from its close callback */
/* Resolves url once for requests started with req.route (url must outlive it). */
static int client_route(const char *url, const struct sl_http_route **out);

static uv_loop_t loop;
static uv_timer_t guard;       /* keeps run_until from blocking forever */
static uv_timer_t pause_timer; /* run_for's */
static struct srv srv;
static int client_closed;

/* The bound on a wait for something that must happen: generous, since the
 * wait returns as soon as it happened. */
#define WAIT_MS 10000.0

static inline void on_client_closed(void *arg)
{
    *(int *)arg = 1;
}

/* The loop, the server and the timers; the caller then makes its client. */
static inline void fixture_open(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server writes to peers that went away */
    cr_assert_eq(uv_loop_init(&loop), 0);
    srv_start(&srv, &loop);
    uv_timer_init(&loop, &guard);
    uv_timer_init(&loop, &pause_timer);
    client_closed = 0;
}

/* After the client was closed: the server, the timers, and a loop that
 * closes with nothing left open. */
static inline void fixture_close(void)
{
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&pause_timer, NULL);
    sl_test_close_loop(&loop);
}

/* Closes the client (its close callback comes from the loop), then the
 * rest of the fixture. */
static inline void close_all(void)
{
    client_close();
    cr_assert_eq(client_closed, 0, "the close callback comes from the loop");
    fixture_close();
    cr_assert_eq(client_closed, 1);
}

static inline void tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *counter reaches n or ms pass; the guard timer keeps
 * UV_RUN_ONCE from blocking forever. Returns the elapsed ms. Waits for
 * something that must happen use WAIT_MS: they return as soon as it did,
 * so the bound only has to be generous enough for a loaded machine. */
static inline double run_until_n(const int *counter, int n, double ms)
{
    uv_timer_start(&guard, tick, 5, 5);
    uint64_t t0 = uv_hrtime();
    while (*counter < n && sl_test_ms_since(t0) < ms)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    return sl_test_ms_since(t0);
}

static inline double run_until(const int *flag, double ms)
{
    return run_until_n(flag, 1, ms);
}

static inline void set_flag(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Lets ms pass on the loop: runs it until a timer of ms, started now, has
 * fired. libuv fires timers in the order they are due, so every timer due
 * before it (a request's deadline, say) has run too, however late a loaded
 * machine ran the loop; a wall-clock wait could end before the loop ran. */
static inline void run_for(double ms)
{
    int fired = 0;
    pause_timer.data = &fired;
    uv_timer_start(&pause_timer, set_flag, (uint64_t)ms, 0);
    run_until(&fired, ms + WAIT_MS);
    cr_assert(fired, "the loop did not run for %.0f ms", ms);
}

/* A loopback address nobody listens on: a port bound, then closed. */
static inline struct sockaddr_in closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    bind(fd, (struct sockaddr *)&addr, alen);
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    close(fd);
    return addr;
}

/* A request and everything that happened to it. */
struct call {
    struct sl_http_request req;
    char url[160];
    int header_calls, status, nheaders;
    char x_test[32], x_split[16], x_h39[16]; /* those response headers */
    struct sl_buf body;
    int body_calls;
    uint64_t start_ns, first_chunk_ns, last_chunk_ns;
    int done, err, done_status;
    struct sl_http_result res;
    char message[128];
    int cancel_at_chunk; /* cancel from inside on_body at this chunk (1-based) */
    int cancel_in_headers;
    int pause_at_chunk; /* refuse this chunk with SL_HTTP_PAUSE */
    int pause_every;    /* refuse every n-th chunk */
    int pauses;
    int close_at_chunk; /* close the whole client from inside on_body */
    int paused;         /* a chunk was refused; cleared by whoever resumes */
    uint64_t cancel_ns;
    void (*then)(struct call *); /* runs from on_done */
    int then_restarted;
};

static inline void header_value(const struct sl_http_header *h, size_t n, const char *name,
                                char *out, size_t size)
{
    const struct sl_str *v = sl_http_header_get(h, n, name);
    snprintf(out, size, "%s", v ? v->ptr : ""); /* NUL-terminated in on_headers */
}

static inline void on_headers(struct sl_http_request *req, int status,
                              const struct sl_http_header *h, size_t n)
{
    struct call *c = req->data;
    c->header_calls++;
    c->status = status;
    c->nheaders = (int)n;
    header_value(h, n, "x-test", c->x_test, sizeof(c->x_test));
    header_value(h, n, "x-split", c->x_split, sizeof(c->x_split));
    header_value(h, n, "x-h39", c->x_h39, sizeof(c->x_h39));
    if (c->cancel_in_headers) {
        c->cancel_ns = uv_hrtime();
        client_cancel(req);
    }
}

static inline int on_body(struct sl_http_request *req, const char *data, size_t len)
{
    struct call *c = req->data;
    cr_assert_eq(c->done, c->then_restarted, "no body after done");
    cr_assert_eq(c->cancel_ns, 0, "no body after cancel");
    cr_assert_eq(c->paused, 0, "nothing delivered while paused");
    c->body_calls++;
    if ((c->pause_at_chunk && c->body_calls == c->pause_at_chunk) ||
        (c->pause_every && c->body_calls % c->pause_every == 0)) {
        c->paused = 1;
        c->pauses++;
        return SL_HTTP_PAUSE;
    }
    uint64_t now = uv_hrtime();
    if (c->first_chunk_ns == 0)
        c->first_chunk_ns = now;
    c->last_chunk_ns = now;
    cr_assert_eq(sl_buf_append(&c->body, data, len), 0);
    if (c->close_at_chunk && c->body_calls == c->close_at_chunk) {
        c->cancel_ns = uv_hrtime();
        client_close();
    }
    if (c->cancel_at_chunk && c->body_calls == c->cancel_at_chunk) {
        c->cancel_ns = uv_hrtime();
        client_cancel(req);
    }
    return 0;
}

static inline void on_done(struct sl_http_request *req, const struct sl_http_result *res)
{
    struct call *c = req->data;
    cr_assert_null(req->xfer);
    cr_assert_null(req->uxfer);
    c->done++;
    c->res = *res;
    c->err = res->err;
    c->done_status = res->status;
    snprintf(c->message, sizeof(c->message), "%s", res->message);
    c->res.message = c->message;
    if (c->then)
        c->then(c);
}

static inline void call_init(struct call *c, const char *path)
{
    *c = (struct call){0};
    snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d%s", srv.port, path);
    c->req = (struct sl_http_request){
        .url = c->url, .on_headers = on_headers, .on_body = on_body, .on_done = on_done, .data = c};
    sl_buf_init(&c->body, 16 << 20);
    sl_buf_append(&c->body, "", 0);
}

static inline void call_start(struct call *c)
{
    /* The request's timers count from the loop's clock: bring it up to
     * date first, or a loop idle since start_all (slow on a loaded machine)
     * would make a timeout look early against start_ns. */
    uv_update_time(&loop);
    c->start_ns = uv_hrtime();
    cr_assert_eq(client_start(&c->req), 0);
    cr_assert_eq(c->done, 0, "never from inside start");
}

static inline void call_release(struct call *c)
{
    sl_buf_release(&c->body);
}

/* One request, run to its end. */
/* Runs the loop until the call finished, which it must. */
static inline void call_wait(struct call *c)
{
    run_until(&c->done, WAIT_MS);
    cr_assert_eq(c->done, 1, "the call did not finish");
}

static inline void call_run(struct call *c, const char *path)
{
    call_init(c, path);
    call_start(c);
    call_wait(c);
}

static inline double ms_between(uint64_t a, uint64_t b)
{
    return (double)(b - a) / 1e6;
}

#endif
