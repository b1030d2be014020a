/* A small HTTP/1.1 server for end-to-end tests of `sluice load`: raw libuv
 * on 127.0.0.1, port 0, in a forked child process so that the client under
 * test (another process) and the server never share a loop. It answers
 * fixed responses, optionally slowly, as SSE streams, with a chosen status
 * every Nth request, by resetting the connection, or never.
 *
 * Requests are counted across all connections in arrival order, so "every
 * Nth" is exact whatever the client's concurrency. One request at a time
 * per connection (the client does not pipeline). */
#ifndef SL_STUB_SERVER_H
#define SL_STUB_SERVER_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "uv_child.h"

struct stub_opts {
    int every_nth; /* answer every Nth request with nth_status (0: never) */
    int nth_status;
    int delay_ms;    /* wait before each response */
    int sse_events;  /* > 0: an SSE stream of this many events, then [DONE] */
    int event_ms;    /* gap between SSE events */
    int close_each;  /* Connection: close after every response */
    int chunked;     /* chunked body for plain responses */
    int never;       /* read requests, never answer */
    int reset_every; /* reset the connection instead of answering every Nth */
};

struct stub {
    pid_t pid;
    int port;
};

struct stub_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    char buf[65536];
    size_t len;
    int busy, events_left, closing, status;
};

static struct stub_opts stub_o;
static unsigned long stub_count;

static const char stub_body[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"stub\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Hi.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}";

static void stub_free_conn(uv_handle_t *h)
{
    struct stub_conn *c = h->data;
    if (--c->closing == 0)
        free(c);
}

static void stub_close(struct stub_conn *c)
{
    if (c->closing)
        return;
    c->closing = 2;
    uv_close((uv_handle_t *)&c->tcp, stub_free_conn);
    uv_close((uv_handle_t *)&c->timer, stub_free_conn);
}

struct stub_write {
    uv_write_t req;
    struct stub_conn *conn;
    int close_after;
    char data[];
};

static void stub_written(uv_write_t *req, int status)
{
    struct stub_write *w = (struct stub_write *)req;
    if ((status < 0 || w->close_after) && !w->conn->closing)
        stub_close(w->conn);
    free(w);
}

static void stub_send(struct stub_conn *c, const char *data, size_t len, int close_after)
{
    if (c->closing)
        return;
    struct stub_write *w = malloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    w->conn = c;
    w->close_after = close_after;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, stub_written) != 0)
        free(w);
}

static void stub_process(struct stub_conn *c);

static void stub_next_event(uv_timer_t *t)
{
    struct stub_conn *c = t->data;
    char ev[256], chunk[300];
    if (c->events_left > 0) {
        int n =
            snprintf(ev, sizeof(ev),
                     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok%d\"}}]}\n\n",
                     c->events_left);
        int m = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n", n, ev);
        stub_send(c, chunk, (size_t)m, 0);
        c->events_left--;
        uv_timer_start(&c->timer, stub_next_event, (uint64_t)stub_o.event_ms, 0);
        return;
    }
    const char *end = "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";
    stub_send(c, end, strlen(end), stub_o.close_each);
    c->busy = 0;
    stub_process(c);
}

static void stub_respond(uv_timer_t *t)
{
    struct stub_conn *c = t->data;
    char head[512];
    const char *conn_hdr = stub_o.close_each ? "Connection: close\r\n" : "";
    if (c->status == 200 && stub_o.sse_events > 0) {
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n%s"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         conn_hdr);
        stub_send(c, head, (size_t)n, 0);
        c->events_left = stub_o.sse_events;
        stub_next_event(&c->timer);
        return;
    }
    char resp[1024];
    int n;
    if (stub_o.chunked)
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
                     c->status, conn_hdr, strlen(stub_body), stub_body);
    else
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     c->status, conn_hdr, strlen(stub_body), stub_body);
    stub_send(c, resp, (size_t)n, stub_o.close_each);
    c->busy = 0;
    if (!stub_o.close_each)
        stub_process(c);
}

/* Takes the next whole request out of the buffer, if there is one. */
static void stub_process(struct stub_conn *c)
{
    if (c->busy || c->closing)
        return;
    size_t head, size = uvc_request_size(c->buf, c->len, &head);
    if (size == 0)
        return;
    memmove(c->buf, c->buf + size, c->len - size);
    c->len -= size;
    unsigned long n = ++stub_count;
    c->busy = 1;
    if (stub_o.never)
        return;
    if (stub_o.reset_every && n % (unsigned long)stub_o.reset_every == 0) {
        c->closing = 2;
        uv_tcp_close_reset(&c->tcp, stub_free_conn);
        uv_close((uv_handle_t *)&c->timer, stub_free_conn);
        return;
    }
    c->status =
        stub_o.every_nth && n % (unsigned long)stub_o.every_nth == 0 ? stub_o.nth_status : 200;
    if (stub_o.delay_ms)
        uv_timer_start(&c->timer, stub_respond, (uint64_t)stub_o.delay_ms, 0);
    else
        stub_respond(&c->timer);
}

static void stub_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct stub_conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void stub_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct stub_conn *c = s->data;
    (void)buf;
    if (nread < 0) {
        stub_close(c);
        return;
    }
    c->len += (size_t)nread;
    if (c->len == sizeof(c->buf)) {
        stub_close(c);
        return;
    }
    stub_process(c);
}

static void stub_accept(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct stub_conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        stub_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1); /* each SSE event leaves at once, as from a real server */
    uv_read_start((uv_stream_t *)&c->tcp, stub_alloc, stub_read);
}

/* Starts the server in a child process; returns once it listens. */
static inline struct stub stub_start(struct stub_opts opts)
{
    stub_o = opts; /* inherited by the child */
    struct stub s;
    s.pid = uvc_start(stub_accept, &s.port, "the stub server");
    return s;
}

static inline void stub_stop(struct stub *s)
{
    uvc_stop(s->pid);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static inline int stub_closed_port(void)
{
    uv_loop_t loop;
    uv_tcp_t t;
    struct sockaddr_in addr, bound;
    int len = sizeof(bound);
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &t);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    cr_assert_eq(uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0), 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&bound, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ntohs(bound.sin_port);
}

#endif
