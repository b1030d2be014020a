/* HTTP/1.1 server.
 *
 * Design
 *  - One struct conn per TCP connection: its socket, one timer (idle or
 *    request timeout, whichever applies), a read buffer, and the request in
 *    progress. Connections sit on the server's list so close can reach all.
 *  - The read buffer holds raw bytes from `pos` (start of the current
 *    request) to `len`. It grows (bounded by header limit + body limit)
 *    while a request is being read, so it MOVES while a body arrives. It
 *    never moves while a request is handled (HANDLING): the body handed to
 *    the handler points into it.
 *  - The head buffer: once a head is parsed, its bytes are copied once into
 *    the connection's head buffer `hbuf` and every sl_str of the parsed head
 *    is rebased there. hbuf is grow-only (bounded by max_header_bytes) and
 *    reused by the connection's next requests, so the copy costs one small
 *    memcpy and no allocation per keep-alive request. Invariant: a parsed
 *    head never points into the read buffer; reject() (400/408/413 while a
 *    body arrives) and the handler may read it whatever the read buffer did.
 *  - States: IDLE (no bytes of a request yet: idle timer), READING (part of
 *    a request: request timer), HANDLING (handler owns the request; reading
 *    goes on only to notice the client leaving, and stops when the buffer is
 *    full), FLUSHING (the response ended and the connection closes once it
 *    is written; bounded: no write progress for the idle timeout closes
 *    it, so a client that never reads cannot hold it), LINGERING (written, write side shut down,
 * reading and discarding until the client closes or a short timer: so a client still sending a body
 * we refused reads our answer instead of a reset), CLOSING.
 *  - The end of the client's input (EOF) while a response is in progress
 *    aborts it, Connection: close or not (as nginx does): a half-close
 *    cannot be told from a client that left, and for a gateway an answer
 *    nobody reads is upstream work to stop. Once the response has ended,
 *    an EOF (or the idle timer, or the server closing) only waits for the
 *    last bytes to be written (FLUSHING): an answer that was given is not
 *    cut.
 *  - Writes: uv_try_write first; what the kernel did not take is copied
 *    into one heap write request. `pending` counts those bytes: it is the
 *    stream's backpressure signal.
 *  - A handler may answer inside the callback; `in_process` keeps that from
 *    recursing into the parse loop, which simply continues with the next
 *    pipelined request. A response that ends later (from a timer, an
 *    upstream callback, on_drain) never starts the next pipelined request
 *    inside sl_http_respond/sl_http_stream_end: that is deferred to the
 *    loop (a zero timer), so a handler is never re-entered by its own
 *    answer.
 *  - Teardown: conn_close() closes the socket and the timer; the conn is
 *    freed when both close callbacks ran. on_abort runs before that if a
 *    response was still open.
 */
#include "http/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <assert.h>
#include <inttypes.h>

#include "core/list.h"
#include "core/rng.h"
#include "http/json_scan.h"

enum conn_state { C_IDLE, C_READING, C_HANDLING, C_FLUSHING, C_LINGERING, C_CLOSING };

struct sl_http_exchange {
    struct conn *conn;
    struct sl_http_head head;
    struct sl_str body;
    void (*on_abort)(struct sl_http_exchange *, void *);
    void *abort_data;
    void (*on_drain)(struct sl_http_exchange *, void *);
    void *drain_data;
    int streaming;
    int head_only; /* HEAD: headers as for GET, not a byte of body */
    int raw;       /* a stream to an HTTP/1.0 client: no chunk framing */
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct sl_http_server *srv;
    struct sl_list node;
    char *buf;
    size_t len, cap, pos;
    size_t head_len;
    size_t head_checked; /* of a head still incomplete: bytes found good (parser.h) */
    char *hbuf;          /* the parsed head's bytes: never moves while a request is open */
    size_t hcap;
    struct sl_chunked chunked;
    enum conn_state state;
    struct sl_http_exchange req;
    size_t pending;
    uv_shutdown_t shutdown;
    int handles_open, reading, in_process, close_after_write, continue_sent;
    int linger;   /* unread request bytes may follow: linger before closing */
    int peer_eof; /* the client shut down its side (half-close) */
};

struct sl_http_server {
    uv_loop_t *loop;
    struct sl_http_server_config cfg;
    sl_http_handler handler;
    void *data;
    uv_tcp_t listener;
    int listening, port, closing;
    struct sl_list conns;
    struct sl_http_server_stats stats;
    void (*close_cb)(void *);
    void *close_arg;
    char date[40];
    time_t date_at;
    struct sl_rng rng; /* request ids of the server's own answers */
};

struct write_req {
    uv_write_t req;
    struct conn *conn;
    size_t len;
    char data[];
};

/* FLUSH_AT_CLOSE_MS: how long a closing server lets a client read the
 * last answer it was given (the end of a drain). */
enum { INITIAL_BUF = 4096, LINGER_MS = 2000, FLUSH_AT_CLOSE_MS = 5000 };

static void process(struct conn *c);
static void conn_close(struct conn *c, int reset);
static void conn_resume(struct conn *c);
static void maybe_free_server(struct sl_http_server *srv);

void sl_http_server_config_default(struct sl_http_server_config *cfg)
{
    *cfg = (struct sl_http_server_config){
        .max_header_bytes = 16 * 1024,
        .max_body_bytes = 4 * 1024 * 1024,
        .idle_timeout_ms = 60000,
        .request_timeout_ms = 30000,
        .max_connections = 20000,
    };
}

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

/* ---- writing ------------------------------------------------------------- */

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void on_timer(uv_timer_t *timer);

/* FLUSHING: once the last byte is written, close; or, when the client may
 * still be sending bytes we will not read, shut down our side and linger. */
static void maybe_close_after_write(struct conn *c)
{
    if (c->state != C_FLUSHING || c->pending > 0)
        return;
    if (!c->linger || c->peer_eof ||
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_linger_shutdown) != 0) {
        conn_close(c, 0);
        return;
    }
    c->state = C_LINGERING;
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    if (!c->reading)
        conn_resume(c);
}

/* How long a connection may take to write its last answer without
 * progress: a client that never reads must not hold it (and its queued
 * bytes) forever. */
static unsigned flush_ms(const struct conn *c)
{
    unsigned ms = c->srv->cfg.idle_timeout_ms;
    return ms ? ms : 60000;
}

/* No request is open, but an answer is still being written (pending > 0)
 * and the connection must end: stop reading, finish writing, then close
 * (FLUSHING), giving up after ms without progress. Closing at once would
 * cut the answer, while its row says it was given. */
static void flush_then_close(struct conn *c, unsigned ms)
{
    assert(c->state == C_IDLE || c->state == C_READING || c->state == C_FLUSHING);
    c->close_after_write = 1;
    c->linger = 0; /* nothing more will be read */
    c->len = c->pos = 0;
    c->head_len = 0;
    c->head_checked = 0;
    memset(&c->req.head, 0, sizeof(c->req.head));
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    c->state = C_FLUSHING;
    uv_timer_start(&c->timer, on_timer, ms, 0);
    maybe_close_after_write(c);
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
        conn_close(c, 0);
        return;
    }
    if (c->state == C_FLUSHING && uv_is_active((uv_handle_t *)&c->timer))
        uv_timer_again(&c->timer); /* progress: the flush bound starts again */
    if (c->pending == 0) {
        if (c->req.on_drain && c->state == C_HANDLING)
            c->req.on_drain(&c->req, c->req.drain_data);
        maybe_close_after_write(c);
    }
}

/* Writes the buffers in order; never blocks, never fails silently: a
 * socket error closes the connection (and aborts the request). */
static void write_bufs(struct conn *c, uv_buf_t *bufs, unsigned n)
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
            conn_close(c, 0);
            return;
        }
    }
    if (done == total)
        return;
    struct write_req *w = malloc(sizeof(*w) + total - done);
    if (w == NULL) {
        conn_close(c, 0);
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
        conn_close(c, 0);
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
    char digits[24];
    int k = 0;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char rev[24];
    for (int i = 0; i < k; i++)
        rev[i] = digits[k - 1 - i];
    put(w, rev, (size_t)k);
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

/* ---- request lifecycle --------------------------------------------------- */

static void arm_timer(struct conn *c);

/* Keeps only the bytes of the next request(s), at the start of a buffer
 * shrunk back to its first size when they fit. Only while no request is
 * open (IDLE, or READING a head that is not yet dispatched): a handled
 * request's body points into the buffer. */
static void compact(struct conn *c)
{
    assert(c->state == C_IDLE || c->state == C_READING);
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->cap > INITIAL_BUF && c->len <= INITIAL_BUF) {
        char *smaller = realloc(c->buf, INITIAL_BUF);
        if (smaller) {
            c->buf = smaller;
            c->cap = INITIAL_BUF;
        }
    }
}

/* The response ended: move to the next request (or close). The request
 * struct is reset here: the handler's pointer to it is invalid after. */
static void finish_request(struct conn *c)
{
    assert(c->state == C_HANDLING);
    size_t used = c->head_len + (c->req.head.chunked ? c->chunked.raw : c->req.body.len);
    c->pos += used;
    memset(&c->req, 0, sizeof(c->req));
    c->req.conn = c;
    c->head_len = 0;
    c->head_checked = 0;
    memset(&c->chunked, 0, sizeof(c->chunked));
    c->continue_sent = 0;
    if (c->close_after_write) {
        /* Bytes after this request (or a body never read) may still come:
         * linger so the client reads the answer rather than a reset. */
        c->linger = c->linger || c->len > c->pos;
        c->len = c->pos = 0; /* from here on, what arrives is discarded */
        c->state = C_FLUSHING;
        uv_timer_start(&c->timer, on_timer, flush_ms(c), 0);
        maybe_close_after_write(c);
        return;
    }
    c->state = C_IDLE;
    if (c->in_process) {
        /* The handler answered inside dispatch and may still read its
         * request (the body is in the read buffer): the parse loop goes on
         * from pos and compacts once the handler has returned. */
        arm_timer(c);
        return;
    }
    compact(c);
    if (c->len > 0) {
        /* A pipelined request waits: start it from the loop, not from
         * inside the caller of sl_http_respond (see the design note). */
        uv_timer_start(&c->timer, on_timer, 0, 0);
    } else {
        arm_timer(c);
        if (!c->reading && !c->peer_eof)
            conn_resume(c);
    }
}

size_t sl_http_error_body(char *out, size_t size, const char *type, const char *code,
                          const char *message)
{
    char msg[1024];
    sl_json_escape(msg, sizeof(msg), message);
    int n =
        snprintf(out, size,
                 "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":%s%s%s}}",
                 msg, type, code ? "\"" : "", code ? code : "null", code ? "\"" : "");
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
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
    write_bufs(c, bufs, req->head_only || len == 0 ? 1 : 2);
    if (c->state == C_CLOSING)
        return;
    finish_request(c);
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
    size_t n = sl_http_error_body(body, sizeof(body), type, code, message);
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
    write_bufs(c, &buf, 1);
}

void sl_http_stream_write(struct sl_http_exchange *req, const char *data, size_t len)
{
    assert(req->streaming);
    if (len == 0 || req->head_only)
        return;
    if (req->raw) {
        uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
        write_bufs(req->conn, &buf, 1);
        return;
    }
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    uv_buf_t bufs[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                        uv_buf_init("\r\n", 2)};
    write_bufs(req->conn, bufs, 3);
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
        write_bufs(c, &buf, 1);
    }
    if (c->state == C_CLOSING)
        return;
    finish_request(c);
}

void sl_http_exchange_drop(struct sl_http_exchange *req, int reset)
{
    struct conn *c = req->conn;
    req->on_abort = NULL;
    conn_close(c, reset);
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

/* ---- connections --------------------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    if (--c->handles_open > 0)
        return;
    struct sl_http_server *srv = c->srv;
    free(c->buf);
    free(c->hbuf);
    free(c);
    srv->stats.open_connections--;
    maybe_free_server(srv);
}

/* The server goes once closing was asked, the listener is closed and the
 * last connection's handles are closed. */
static void maybe_free_server(struct sl_http_server *srv)
{
    if (!srv->closing || srv->listening || srv->stats.open_connections > 0 || !srv->close_cb)
        return;
    void (*cb)(void *) = srv->close_cb;
    srv->close_cb = NULL;
    cb(srv->close_arg);
    free(srv);
}

static void conn_close(struct conn *c, int reset)
{
    if (c->state == C_CLOSING)
        return;
    int aborting = c->state == C_HANDLING && c->req.on_abort;
    c->state = C_CLOSING;
    sl_list_remove(&c->node);
    if (aborting) {
        void (*cb)(struct sl_http_exchange *, void *) = c->req.on_abort;
        c->req.on_abort = NULL;
        cb(&c->req, c->req.abort_data);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    if (reset && uv_tcp_close_reset(&c->tcp, on_conn_handle_closed) == 0)
        return;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void make_request_id(struct sl_http_server *srv, char *out, size_t size)
{
    if (srv->cfg.make_request_id)
        srv->cfg.make_request_id(srv->cfg.request_id_arg, out, size);
    else
        snprintf(out, size, "req_%016" PRIx64, sl_rng_next(&srv->rng));
}

/* The server's own error answers: always close the connection after (and
 * linger: the rest of the request may still be on its way). They carry an
 * x-request-id like every answer of the gateway. The head is either whole
 * (in hbuf) or cleared, never pointing into the read buffer. */
static void reject(struct conn *c, int status, const char *code, const char *message)
{
    c->srv->stats.status_4xx_limits++;
    if (c->head_len == 0)
        memset(&c->req.head, 0, sizeof(c->req.head));
    c->state = C_HANDLING;
    uv_timer_stop(&c->timer);
    c->req.head.keep_alive = 0;
    c->req.on_abort = NULL;
    c->req.head_only = sl_str_eq(c->req.head.method, "HEAD");
    c->linger = 1;
    char id[64];
    make_request_id(c->srv, id, sizeof(id));
    struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    sl_http_respond_error_with(&c->req, status, h, 1, "invalid_request_error", code, message);
}

static void on_timer(uv_timer_t *timer)
{
    struct conn *c = timer->data;
    if (c->state == C_READING)
        reject(c, 408, "request_timeout", "the request did not arrive in time");
    else if (c->state == C_IDLE && c->len > 0)
        process(c); /* a pipelined request deferred by finish_request */
    else if (c->state == C_IDLE && c->pending > 0)
        flush_then_close(c, flush_ms(c)); /* idle, but its last answer is not out yet */
    else if (c->state == C_IDLE || c->state == C_LINGERING || c->state == C_FLUSHING)
        conn_close(c, 0); /* FLUSHING: no progress within the bound */
}

static void arm_timer(struct conn *c)
{
    unsigned ms =
        c->state == C_READING ? c->srv->cfg.request_timeout_ms : c->srv->cfg.idle_timeout_ms;
    if (c->state == C_HANDLING || ms == 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Copies the head's bytes into hbuf and rebases every pointer of the parsed
 * head there (see the design note). Returns 0 or UV_ENOMEM. */
static int pin_head(struct conn *c, const char *raw, size_t len)
{
    if (len > c->hcap) {
        size_t ncap = c->hcap ? c->hcap : 512;
        while (ncap < len)
            ncap *= 2;
        char *nbuf = realloc(c->hbuf, ncap);
        if (nbuf == NULL)
            return UV_ENOMEM;
        c->hbuf = nbuf;
        c->hcap = ncap;
    }
    memcpy(c->hbuf, raw, len);
    struct sl_http_head *h = &c->req.head;
    /* offsets into raw, applied to hbuf (never a difference between two
     * objects, which C leaves undefined) */
#define REBASE(s) ((s).ptr = (s).ptr ? c->hbuf + ((s).ptr - raw) : NULL)
    REBASE(h->method);
    REBASE(h->target);
    REBASE(h->path);
    REBASE(h->query);
    for (size_t i = 0; i < h->nheaders; i++) {
        REBASE(h->headers[i].name);
        REBASE(h->headers[i].value);
    }
#undef REBASE
    return 0;
}

static void dispatch(struct conn *c)
{
    c->state = C_HANDLING;
    uv_timer_stop(&c->timer);
    c->req.conn = c;
    c->req.head_only = sl_str_eq(c->req.head.method, "HEAD");
    c->srv->stats.requests++;
    c->srv->handler(&c->req, c->srv->data);
}

static void send_continue(struct conn *c)
{
    if (c->continue_sent)
        return;
    c->continue_sent = 1;
    uv_buf_t buf = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
    write_bufs(c, &buf, 1);
}

/* Parses what is buffered: heads, bodies, and dispatches whole requests. */
static void process(struct conn *c)
{
    const struct sl_http_server_config *cfg = &c->srv->cfg;
    c->in_process = 1;
    while (c->state == C_IDLE || c->state == C_READING) {
        char *start = c->buf + c->pos;
        size_t avail = c->len - c->pos;
        if (avail == 0)
            break;
        if (c->state == C_IDLE) {
            c->state = C_READING;
            arm_timer(c);
        }
        if (c->head_len == 0) {
            int rc = sl_http_parse_request_more(start, avail, &c->req.head, &c->head_checked);
            if (rc == SL_HTTP_INCOMPLETE) {
                if (avail > cfg->max_header_bytes)
                    reject(c, 431, "header_too_large", "request headers are too large");
                break;
            }
            if (rc < 0) {
                if (rc == SL_HTTP_E_TOO_MANY_HEADERS)
                    reject(c, 431, "too_many_headers", "too many request headers");
                else if (rc == SL_HTTP_E_VERSION)
                    reject(c, 505, "http_version", "only HTTP/1.0 and HTTP/1.1 are served");
                else if (rc == SL_HTTP_E_TRANSFER_CODING)
                    reject(c, 501, "transfer_coding",
                           "only the chunked transfer coding is "
                           "understood");
                else
                    reject(c, 400, "bad_request", "malformed HTTP request");
                break;
            }
            if ((size_t)rc > cfg->max_header_bytes) {
                reject(c, 431, "header_too_large", "request headers are too large");
                break;
            }
            if (pin_head(c, start, (size_t)rc) != 0) {
                reject(c, 503, "out_of_memory", "the server is out of memory");
                break;
            }
            c->head_len = (size_t)rc;
            if (c->req.head.content_length > (int64_t)cfg->max_body_bytes) {
                reject(c, 413, "body_too_large", "request body is too large");
                break;
            }
        }
        char *body = start + c->head_len;
        size_t have = avail - c->head_len;
        struct sl_http_head *h = &c->req.head;
        if (h->chunked) {
            int rc = sl_chunked_decode(&c->chunked, body, have, cfg->max_body_bytes);
            if (rc == SL_CHUNKED_TOO_BIG) {
                reject(c, 413, "body_too_large", "request body is too large");
                break;
            }
            if (rc == SL_CHUNKED_BAD) {
                reject(c, 400, "bad_request", "malformed chunked request body");
                break;
            }
            if (rc == SL_CHUNKED_MORE) {
                if (h->expect_continue)
                    send_continue(c);
                break;
            }
            c->req.body = (struct sl_str){body, c->chunked.decoded};
        } else {
            size_t need = h->content_length > 0 ? (size_t)h->content_length : 0;
            if (have < need) {
                if (h->expect_continue)
                    send_continue(c);
                break;
            }
            c->req.body = (struct sl_str){body, need};
        }
        dispatch(c);
    }
    c->in_process = 0;
    if (c->state == C_IDLE || c->state == C_READING)
        compact(c); /* no handler holds the buffer now */
    /* Paused while handling with a full buffer: resume once it's done. */
    if (!c->reading && !c->peer_eof && (c->state == C_IDLE || c->state == C_READING))
        conn_resume(c);
}

static size_t buffer_limit(const struct conn *c)
{
    return c->srv->cfg.max_header_bytes + c->srv->cfg.max_body_bytes + 4096;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = handle->data;
    /* The buffer never moves while a request is handled: its body points
     * into it. Past a response (FLUSHING, LINGERING) bytes are discarded. */
    if (c->cap - c->len < 1024 && (c->state == C_IDLE || c->state == C_READING) &&
        c->cap < buffer_limit(c)) {
        size_t ncap = c->cap * 2;
        if (ncap > buffer_limit(c))
            ncap = buffer_limit(c);
        char *nbuf = realloc(c->buf, ncap);
        if (nbuf) {
            c->buf = nbuf;
            c->cap = ncap;
        }
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = stream->data;
    if (nread == UV_ENOBUFS) {
        /* Full while a request is being handled: stop reading until the
         * response ends (the bytes wait in the kernel, the client waits). */
        uv_read_stop(stream);
        c->reading = 0;
        return;
    }
    if (nread == UV_EOF && (c->state == C_IDLE || c->state == C_READING) && c->pending > 0) {
        flush_then_close(c, flush_ms(c)); /* a half-close: the last answer still goes out */
        return;
    }
    if (nread == UV_EOF && c->state == C_FLUSHING && c->pending > 0) {
        c->peer_eof = 1; /* finish writing the answer, then close */
        c->reading = 0;
        uv_read_stop(stream);
        return;
    }
    if (nread < 0) {
        conn_close(c, 0); /* EOF or error: the client went away */
        return;
    }
    if (nread == 0)
        return;
    if (c->state == C_FLUSHING || c->state == C_LINGERING)
        return; /* after the last answer: discarded */
    c->len += (size_t)nread;
    if (c->state == C_IDLE || c->state == C_READING)
        process(c);
}

static void conn_resume(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct sl_http_server *srv = listener->data;
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    char *buf = malloc(INITIAL_BUF);
    if (c == NULL || buf == NULL) {
        free(c);
        free(buf);
        return;
    }
    c->srv = srv;
    c->buf = buf;
    c->cap = INITIAL_BUF;
    c->req.conn = c;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->state = C_IDLE;
    sl_list_push_back(&srv->conns, &c->node);
    srv->stats.open_connections++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, 0);
        return;
    }
    srv->stats.accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->stats.open_connections > srv->cfg.max_connections) {
        srv->stats.rejected++;
        c->state = C_HANDLING;
        c->req.head.keep_alive = 0;
        c->linger = 1;
        char id[64];
        make_request_id(srv, id, sizeof(id));
        struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
        sl_http_respond_error_with(&c->req, 503, h, 1, "server_error", "too_many_connections",
                                   "the server has too many open connections");
        return;
    }
    conn_resume(c);
    arm_timer(c);
}

/* ---- the server ---------------------------------------------------------- */

int sl_http_server_new(uv_loop_t *loop, const struct sl_http_server_config *cfg,
                       sl_http_handler handler, void *data, struct sl_http_server **out)
{
    struct sl_http_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return UV_ENOMEM;
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->handler = handler;
    srv->data = data;
    sl_rng_seed(&srv->rng, uv_hrtime() ^ (uint64_t)(uintptr_t)srv, 2);
    sl_list_init(&srv->conns);
    *out = srv;
    return 0;
}

int sl_http_server_listen(struct sl_http_server *srv, const char *host, int port, char *err,
                          size_t err_size)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        snprintf(err, err_size, "'%s' is not an IP address", host);
        return rc;
    }
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listening = 1;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc != 0) {
        snprintf(err, err_size, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int sl_http_server_port(const struct sl_http_server *srv)
{
    return srv->port;
}

void sl_http_server_stats(const struct sl_http_server *srv, struct sl_http_server_stats *out)
{
    *out = srv->stats;
}

static void on_listener_closed(uv_handle_t *handle)
{
    struct sl_http_server *srv = handle->data;
    srv->listening = 0;
    maybe_free_server(srv);
}

void sl_http_server_stop_accepting(struct sl_http_server *srv)
{
    if (srv->listening && !uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

static void noop_close(void *arg)
{
    (void)arg;
}

void sl_http_server_close(struct sl_http_server *srv, void (*cb)(void *), void *arg)
{
    srv->closing = 1;
    srv->close_cb = cb ? cb : noop_close;
    srv->close_arg = arg;
    /* A connection still writing an answer that has ended (no request
     * open) finishes it, briefly; every other one closes now, aborting a
     * request in progress. */
    struct sl_list *node = srv->conns.next;
    while (node != &srv->conns) {
        struct conn *c = sl_container_of(node, struct conn, node);
        node = node->next; /* conn_close unlinks c */
        int idle = c->state == C_IDLE || c->state == C_READING || c->state == C_FLUSHING;
        if (idle && c->pending > 0)
            flush_then_close(c, FLUSH_AT_CLOSE_MS);
        else
            conn_close(c, 0);
    }
    if (srv->listening)
        sl_http_server_stop_accepting(srv);
    else
        maybe_free_server(srv);
}
