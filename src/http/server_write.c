/* The HTTP/1.1 server's responses: the status line and headers, whole
 * bodies, chunked streams (or close-delimited ones to HTTP/1.0 clients),
 * and the write path under them: uv_try_write first, what the kernel did
 * not take copied once into a write request; `pending` counts those bytes
 * and is the stream's backpressure signal. The connection side (states,
 * reading, closing) is server.c, whose design note covers both. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/json_scan.h"
#include "http/openai.h"
#include "http/server_int.h"

struct write_req {
    uv_write_t req;
    struct conn *conn;
    size_t len;
    char data[];
};

const char *sl_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct conn *c = w->conn;
    c->pending -= w->len;
    free(w);
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        sl__http_conn_close(c, 0);
        return;
    }
    if (c->state == C_FLUSHING)
        sl__http_flush_progress(c);
    if (c->pending == 0) {
        if (c->req.on_drain && c->state == C_HANDLING)
            c->req.on_drain(&c->req, c->req.drain_data);
        sl__http_maybe_close_after_write(c);
    }
}

/* Writes the buffers in order; never blocks, never fails silently: a
 * socket error closes the connection (and aborts the request). */
void sl__http_write(struct conn *c, uv_buf_t *bufs, unsigned n)
{
    if (c->state == C_CLOSING || c->state == C_LINGERING)
        return;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    size_t done = 0;
    if (c->pending == 0) {
        int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (rc >= 0)
            done = (size_t)rc;
        else if (rc != UV_EAGAIN) {
            sl__http_conn_close(c, 0);
            return;
        }
    }
    if (done == total)
        return;
    struct write_req *w = malloc(sizeof(*w) + total - done);
    if (w == NULL) {
        sl__http_conn_close(c, 0);
        return;
    }
    size_t off = 0, skip = done;
    for (unsigned i = 0; i < n; i++) {
        size_t blen = bufs[i].len;
        if (skip >= blen) {
            skip -= blen;
            continue;
        }
        memcpy(w->data + off, bufs[i].base + skip, blen - skip);
        off += blen - skip;
        skip = 0;
    }
    w->conn = c;
    w->len = off;
    c->pending += off;
    uv_buf_t one = uv_buf_init(w->data, (unsigned)off);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &one, 1, on_written);
    if (rc < 0) {
        c->pending -= off;
        free(w);
        sl__http_conn_close(c, 0);
    }
}

static const char *http_date(struct sl_http_server *srv)
{
    time_t now = time(NULL);
    if (now != srv->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_at = now;
    }
    return srv->date;
}

/* A bounded writer for the response head: memcpy, no printf, because this
 * runs once per response. Past the end it stops writing and marks
 * overflow; the caller's buffer (2 KiB) holds any sane head. */
struct head_writer {
    char *out;
    size_t size, n;
};

static void put(struct head_writer *w, const char *s, size_t len)
{
    if (w->n + len > w->size) {
        w->n = w->size;
        return;
    }
    memcpy(w->out + w->n, s, len);
    w->n += len;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_str(struct head_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_uint(struct head_writer *w, unsigned long long v)
{
    char digits[20];
    put(w, digits, sl_fmt_uint(digits, v));
}

enum { LENGTH_CHUNKED = -1, LENGTH_BY_CLOSE = -2 };

/* Formats the status line and headers into out (bounded). content_length
 * is a length, LENGTH_CHUNKED or LENGTH_BY_CLOSE (a stream to an HTTP/1.0
 * client). Extra headers that would not fit are left out rather than
 * sending a cut head. */
static size_t format_head(struct conn *c, char *out, size_t size, int status,
                          const struct sl_http_header *headers, size_t nheaders,
                          const char *content_type, long long content_length, int keep_alive)
{
    struct head_writer w = {out, size, 0};
    PUT_LIT(&w, "HTTP/1.1 ");
    put_uint(&w, (unsigned long long)status);
    PUT_LIT(&w, " ");
    put_str(&w, sl_http_status_text(status));
    PUT_LIT(&w, "\r\nServer: sluice\r\nDate: ");
    put_str(&w, http_date(c->srv));
    PUT_LIT(&w, "\r\n");
    if (content_type) {
        PUT_LIT(&w, "Content-Type: ");
        put_str(&w, content_type);
        PUT_LIT(&w, "\r\n");
    }
    if (content_length >= 0) {
        PUT_LIT(&w, "Content-Length: ");
        put_uint(&w, (unsigned long long)content_length);
        PUT_LIT(&w, "\r\n");
    } else if (content_length == LENGTH_CHUNKED) {
        PUT_LIT(&w, "Transfer-Encoding: chunked\r\n");
    }
    if (!keep_alive)
        PUT_LIT(&w, "Connection: close\r\n");
    else if (c->req.head.minor_version == 0)
        PUT_LIT(&w, "Connection: keep-alive\r\n");
    size_t base = w.n;
    for (size_t i = 0; i < nheaders; i++) {
        put(&w, headers[i].name.ptr, headers[i].name.len);
        PUT_LIT(&w, ": ");
        put(&w, headers[i].value.ptr, headers[i].value.len);
        PUT_LIT(&w, "\r\n");
    }
    PUT_LIT(&w, "\r\n");
    if (w.n == w.size && base + 2 <= w.size) { /* overflowed: drop the extras */
        w.n = base;
        PUT_LIT(&w, "\r\n");
    }
    return w.n;
}

static int wants_keep_alive(struct sl_http_exchange *req)
{
    return req->head.keep_alive && !req->conn->srv->closing;
}

void sl_http_respond(struct sl_http_exchange *req, int status, const struct sl_http_header *headers,
                     size_t nheaders, const char *content_type, const char *body, size_t len)
{
    struct conn *c = req->conn;
    assert(c->state == C_HANDLING && !req->streaming);
    /* The answer is whole: a write error from here is not the handler's
     * to hear about (it would be re-entered from inside this call). */
    req->on_abort = NULL;
    int keep_alive = wants_keep_alive(req);
    if (!keep_alive)
        c->close_after_write = 1;
    char head[2048];
    size_t hn = format_head(c, head, sizeof(head), status, headers, nheaders, content_type,
                            (long long)len, keep_alive);
    uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)hn), uv_buf_init((char *)body, (unsigned)len)};
    sl__http_write(c, bufs, req->head_only || len == 0 ? 1 : 2);
    if (c->state == C_CLOSING)
        return;
    sl__http_finish_request(c);
}

void sl_http_respond_error(struct sl_http_exchange *req, int status, const char *type,
                           const char *code, const char *message)
{
    sl_http_respond_error_with(req, status, NULL, 0, type, code, message);
}

void sl_http_respond_error_with(struct sl_http_exchange *req, int status,
                                const struct sl_http_header *headers, size_t nheaders,
                                const char *type, const char *code, const char *message)
{
    char body[1536];
    size_t n = sl_openai_error_body(body, sizeof(body), type, code, message);
    sl_http_respond(req, status, headers, nheaders, "application/json", body, n);
}

void sl_http_stream_start(struct sl_http_exchange *req, int status,
                          const struct sl_http_header *headers, size_t nheaders,
                          const char *content_type)
{
    struct conn *c = req->conn;
    assert(c->state == C_HANDLING && !req->streaming);
    /* HTTP/1.0 has no chunked coding: the close delimits the body. */
    req->raw = req->head.minor_version == 0;
    int keep_alive = wants_keep_alive(req) && !req->raw;
    if (!keep_alive)
        c->close_after_write = 1;
    char head[2048];
    size_t hn = format_head(c, head, sizeof(head), status, headers, nheaders, content_type,
                            req->raw ? LENGTH_BY_CLOSE : LENGTH_CHUNKED, keep_alive);
    uv_buf_t buf = uv_buf_init(head, (unsigned)hn);
    req->streaming = 1;
    sl__http_write(c, &buf, 1);
}

void sl_http_stream_write(struct sl_http_exchange *req, const char *data, size_t len)
{
    assert(req->streaming);
    if (len == 0 || req->head_only)
        return;
    if (req->raw) {
        uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
        sl__http_write(req->conn, &buf, 1);
        return;
    }
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    uv_buf_t bufs[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                        uv_buf_init("\r\n", 2)};
    sl__http_write(req->conn, bufs, 3);
}

size_t sl_http_stream_pending(const struct sl_http_exchange *req)
{
    return req->conn->pending;
}

void sl_http_stream_on_drain(struct sl_http_exchange *req,
                             void (*cb)(struct sl_http_exchange *, void *), void *data)
{
    req->on_drain = cb;
    req->drain_data = data;
}

void sl_http_stream_end(struct sl_http_exchange *req)
{
    struct conn *c = req->conn;
    /* CLOSING: a write of this response failed just now, with on_abort
     * detached; the request lives until the close callbacks run */
    assert(req->streaming && (c->state == C_HANDLING || c->state == C_CLOSING));
    req->on_abort = NULL;
    if (!req->head_only && !req->raw) {
        uv_buf_t buf = uv_buf_init("0\r\n\r\n", 5);
        sl__http_write(c, &buf, 1);
    }
    if (c->state == C_CLOSING)
        return;
    sl__http_finish_request(c);
}

void sl_http_exchange_drop(struct sl_http_exchange *req, int reset)
{
    struct conn *c = req->conn;
    req->on_abort = NULL;
    sl__http_conn_close(c, reset);
}

uint64_t sl_http_exchange_started_ns(const struct sl_http_exchange *req)
{
    return req->started_ns;
}

const struct sl_http_head *sl_http_exchange_head(const struct sl_http_exchange *req)
{
    return &req->head;
}

struct sl_str sl_http_exchange_body(const struct sl_http_exchange *req)
{
    return req->body;
}

uv_loop_t *sl_http_exchange_loop(const struct sl_http_exchange *req)
{
    return req->conn->srv->loop;
}

void sl_http_exchange_on_abort(struct sl_http_exchange *req,
                               void (*cb)(struct sl_http_exchange *, void *), void *data)
{
    req->on_abort = cb;
    req->abort_data = data;
}
