/* A small HTTP/1.1 server on raw libuv for the HTTP client tests, on the
 * test's own loop (tests/unit/test_http_client.c, test_upstream.c). The
 * path chooses the behaviour:
 *   /ok               200 "hello world" with X-Test: yes
 *   /status/N         status N
 *   /delay/MS         200 "late" after MS
 *   /id/MS            200 after MS, the body is this connection's number
 *                     (1 for the first accepted, and so on)
 *   /stream/N/MS      chunked text/event-stream: N events, MS apart
 *   /hang             never answers
 *   /reset            resets the connection (RST)
 *   /drop             closes the connection without a byte of answer
 *   /cut/N            a chunked stream closed after N events, unfinished
 *   /eof/N            N bytes of body without a length, delimited by the close
 *   /big/N            N bytes of body (a repeating alphabet), Content-Length
 *   /split/MS         the head in three writes MS apart, split mid-line
 *   /manyheaders      40 header lines
 *   /extra            a whole response followed by bytes nobody asked for
 *   /garbage          a line that is not HTTP, then nothing
 *   /bigheader        a 4000-byte header
 * A connection that starts with a TLS handshake gets a plain-text 400 and
 * is closed, as nginx does on a plain port. */
#ifndef SL_TEST_HTTP_SERVER_H
#define SL_TEST_HTTP_SERVER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "core/list.h"
#include "core/buf.h"

struct srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    int accepts, requests, eofs, tls_hellos;
    uint64_t last_eof_ns;
    struct sl_buf last; /* the last request, head and body (when it fits) */
    size_t last_body_len;
    struct sl_list conns;
};

struct srv_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct srv *srv;
    struct sl_list node;
    struct sl_buf in;
    int id; /* 1 for the first connection accepted */
    int open_handles;
    int closing;
    int stream_left, stream_ms, stream_seq, split_step;
};

static void srv_conn_free(uv_handle_t *h)
{
    struct srv_conn *cn = h->data;
    if (--cn->open_handles == 0) {
        sl_buf_release(&cn->in);
        free(cn);
    }
}

static void srv_conn_close(struct srv_conn *cn, int reset)
{
    if (cn->closing)
        return;
    cn->closing = 1;
    sl_list_remove(&cn->node);
    uv_close((uv_handle_t *)&cn->timer, srv_conn_free);
    /* A reset fails when the peer has already gone (EINVAL from
     * SO_LINGER on a dead socket): then a plain close will do. */
    if (!reset || uv_tcp_close_reset(&cn->tcp, srv_conn_free) != 0)
        uv_close((uv_handle_t *)&cn->tcp, srv_conn_free);
}

struct wreq {
    uv_write_t w;
    char data[];
};

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    free(sl_container_of(w, struct wreq, w));
}

static void srv_write(struct srv_conn *cn, const char *s, size_t n)
{
    if (cn->closing)
        return;
    struct wreq *r = malloc(sizeof(*r) + n);
    memcpy(r->data, s, n);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)n);
    if (uv_write(&r->w, (uv_stream_t *)&cn->tcp, &b, 1, write_done) != 0)
        free(r);
}

static void respond(struct srv_conn *cn, int status, const char *extra_headers, const char *body)
{
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, strlen(body), extra_headers);
    cr_assert_lt((size_t)n, sizeof(head));
    srv_write(cn, head, (size_t)n);
    srv_write(cn, body, strlen(body));
}

static void stream_tick(uv_timer_t *t)
{
    struct srv_conn *cn = t->data;
    char chunk[128], event[64];
    int en = snprintf(event, sizeof(event), "data: chunk %d\n\n", cn->stream_seq++);
    int n = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n", en, event);
    srv_write(cn, chunk, (size_t)n);
    if (--cn->stream_left == 0) {
        srv_write(cn, "0\r\n\r\n", 5);
        uv_timer_stop(t);
    }
}

static void delay_done(uv_timer_t *t)
{
    respond(t->data, 200, "", "late");
}

static void id_done(uv_timer_t *t)
{
    struct srv_conn *cn = t->data;
    char body[16];
    snprintf(body, sizeof(body), "%d", cn->id);
    respond(cn, 200, "", body);
}

static void split_tick(uv_timer_t *t)
{
    static const char *const piece[] = {"HTTP/1.1 200 OK\r\nX-Sp", "lit: yes\r\nContent-Len",
                                        "gth: 5\r\n\r\nhello"};
    struct srv_conn *cn = t->data;
    srv_write(cn, piece[cn->split_step], strlen(piece[cn->split_step]));
    if (++cn->split_step == 3)
        uv_timer_stop(t);
}

/* The byte at offset i of a /big body. */
static inline char big_byte(size_t i)
{
    return (char)('a' + i % 26);
}

static void serve(struct srv_conn *cn, const char *path)
{
    int a, b;
    if (strcmp(path, "/ok") == 0) {
        respond(cn, 200, "X-Test:  yes \r\n", "hello world");
    } else if (sscanf(path, "/status/%d", &a) == 1) {
        respond(cn, a, "", "status");
    } else if (sscanf(path, "/delay/%d", &a) == 1) {
        uv_timer_start(&cn->timer, delay_done, (uint64_t)a, 0);
    } else if (sscanf(path, "/id/%d", &a) == 1) {
        uv_timer_start(&cn->timer, id_done, (uint64_t)a, 0);
    } else if (sscanf(path, "/stream/%d/%d", &a, &b) == 2) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
        srv_write(cn, h, strlen(h));
        cn->stream_left = a;
        cn->stream_seq = 0;
        uv_timer_start(&cn->timer, stream_tick, 0, (uint64_t)b);
    } else if (sscanf(path, "/cut/%d", &a) == 1) {
        const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        srv_write(cn, h, strlen(h));
        cn->stream_left = -1; /* never the last chunk */
        for (int i = 0; i < a; i++)
            stream_tick(&cn->timer);
        srv_conn_close(cn, 0);
    } else if (sscanf(path, "/eof/%d", &a) == 1) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        srv_write(cn, h, strlen(h));
        char *body = malloc((size_t)a + 1);
        memset(body, 'e', (size_t)a);
        srv_write(cn, body, (size_t)a);
        free(body);
        srv_conn_close(cn, 0); /* small writes went out at once */
    } else if (sscanf(path, "/big/%d", &a) == 1) {
        char head[128];
        int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", a);
        srv_write(cn, head, (size_t)n);
        char *body = malloc((size_t)a + 1);
        for (size_t i = 0; i < (size_t)a; i++)
            body[i] = big_byte(i);
        srv_write(cn, body, (size_t)a);
        free(body);
    } else if (sscanf(path, "/split/%d", &a) == 1) {
        cn->split_step = 0;
        uv_timer_start(&cn->timer, split_tick, 0, (uint64_t)a);
    } else if (strcmp(path, "/manyheaders") == 0) {
        char extra[2048] = "";
        for (int i = 0; i < 40; i++)
            snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "X-H%d: v%d\r\n", i, i);
        respond(cn, 200, extra, "many");
    } else if (strcmp(path, "/extra") == 0) {
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK";
        srv_write(cn, r, strlen(r));
    } else if (strcmp(path, "/garbage") == 0) {
        srv_write(cn, "SSH-2.0-OpenSSH_9.2\r\n", 21);
    } else if (strcmp(path, "/hang") == 0) {
        /* nothing */
    } else if (strcmp(path, "/reset") == 0) {
        srv_conn_close(cn, 1);
    } else if (strcmp(path, "/drop") == 0) {
        srv_conn_close(cn, 0);
    } else if (strcmp(path, "/bigheader") == 0) {
        char big[4100] = "X-Big: ";
        memset(big + 7, 'b', 4000);
        strcpy(big + 4007, "\r\n");
        char head[4200];
        int n =
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n%s\r\nok", big);
        srv_write(cn, head, (size_t)n);
    } else {
        respond(cn, 404, "", "not found");
    }
}

/* Handles every complete request in the buffer (keep-alive, pipelining). */
static void parse_requests(struct srv_conn *cn)
{
    while (!cn->closing && cn->in.len) {
        char *end = strstr(cn->in.ptr, "\r\n\r\n");
        if (end == NULL)
            return;
        size_t head = (size_t)(end + 4 - cn->in.ptr), body = 0;
        for (char *p = cn->in.ptr; p < end; p = strstr(p, "\r\n") + 2)
            if (strncasecmp(p, "Content-Length:", 15) == 0)
                body = strtoul(p + 15, NULL, 10);
        if (cn->in.len < head + body)
            return;
        struct srv *s = cn->srv;
        s->requests++;
        s->last_body_len = body;
        sl_buf_reset(&s->last);
        sl_buf_append(&s->last, cn->in.ptr, head + body);
        char path[256] = "";
        sscanf(cn->in.ptr, "%*s %255s", path);
        memmove(cn->in.ptr, cn->in.ptr + head + body, cn->in.len - head - body + 1);
        cn->in.len -= head + body;
        serve(cn, path);
    }
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = size;
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_conn *cn = stream->data;
    struct srv *s = cn->srv;
    if (nread < 0) {
        s->eofs++;
        s->last_eof_ns = uv_hrtime();
        srv_conn_close(cn, 0);
    } else if (nread > 0 && cn->in.len == 0 && (unsigned char)buf->base[0] == 0x16) {
        s->tls_hellos++;
        respond(cn, 400, "Connection: close\r\n", "plain HTTP on this port");
        srv_conn_close(cn, 0);
    } else if (nread > 0) {
        sl_buf_append(&cn->in, buf->base, (size_t)nread);
        parse_requests(cn);
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct srv *s = listener->data;
    cr_assert_eq(status, 0);
    struct srv_conn *cn = calloc(1, sizeof(*cn));
    cn->srv = s;
    sl_buf_init(&cn->in, 32 << 20);
    uv_tcp_init(s->loop, &cn->tcp);
    uv_timer_init(s->loop, &cn->timer);
    cn->tcp.data = cn->timer.data = cn;
    cn->open_handles = 2;
    sl_list_push_back(&s->conns, &cn->node);
    cr_assert_eq(uv_accept(listener, (uv_stream_t *)&cn->tcp), 0);
    cn->id = ++s->accepts;
    uv_read_start((uv_stream_t *)&cn->tcp, alloc_cb, read_cb);
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
    *s = (struct srv){.loop = loop};
    sl_list_init(&s->conns);
    sl_buf_init(&s->last, 1 << 20);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    cr_assert_eq(uv_tcp_init(loop, &s->listener), 0);
    s->listener.data = s;
    cr_assert_eq(uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&s->listener, 128, on_connection), 0);
    int len = sizeof(addr);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
}

/* Closes every connection, as a server whose keep-alive timeout passed. */
static void srv_close_conns(struct srv *s)
{
    while (!sl_list_empty(&s->conns))
        srv_conn_close(sl_container_of(s->conns.next, struct srv_conn, node), 0);
}

static void srv_close(struct srv *s)
{
    srv_close_conns(s);
    uv_close((uv_handle_t *)&s->listener, NULL);
    sl_buf_release(&s->last);
}

#endif
