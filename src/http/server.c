/* HTTP/1.1 server.
 *
 * Design
 *  - One struct conn per TCP connection: its socket, one deadline (idle or
 *    request timeout, whichever applies, or the flush and linger bounds; a
 *    deadline in the server's one set, core/deadlines.h: moving it per
 *    request is a list move, not a timer restart), a read buffer, and the
 *    request in progress. Connections sit on the server's list so close can
 *    reach all.
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
 *    loop (a deadline of 0 ms), so a handler is never re-entered by its own
 *    answer.
 *  - Teardown: sl__http_conn_close() stops the deadline and closes the
 *    socket; the conn is freed from its close callback. on_abort runs
 *    before that if a response was still open. The server's deadlines'
 *    timer closes last (maybe_free_server).
 */
#include "http/server.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

/* FLUSH_AT_CLOSE_MS: how long a closing server lets a client read the
 * last answer it was given (the end of a drain). */
enum { INITIAL_BUF = 4096, LINGER_MS = 2000, FLUSH_AT_CLOSE_MS = 5000 };

static void process(struct conn *c);
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

/* ---- writing ------------------------------------------------------------- */

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void on_timer(struct sl_deadline *d);

static void set_deadline(struct conn *c, uint64_t ms)
{
    sl_deadline_start(&c->srv->deadlines, &c->deadline, ms, on_timer);
}

/* FLUSHING: no write progress may last flush_bound_ms. */
static void flush_bound(struct conn *c, unsigned ms)
{
    c->state = C_FLUSHING;
    c->flush_bound_ms = ms;
    set_deadline(c, ms);
}

void sl__http_flush_progress(struct conn *c)
{
    assert(c->state == C_FLUSHING);
    if (sl_deadline_armed(&c->deadline))
        set_deadline(c, c->flush_bound_ms);
}

/* FLUSHING: once the last byte is written, close; or, when the client may
 * still be sending bytes we will not read, shut down our side and linger. */
void sl__http_maybe_close_after_write(struct conn *c)
{
    if (c->state != C_FLUSHING || c->pending > 0)
        return;
    if (!c->linger || c->peer_eof ||
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_linger_shutdown) != 0) {
        sl__http_conn_close(c, 0);
        return;
    }
    c->state = C_LINGERING;
    set_deadline(c, LINGER_MS);
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
    flush_bound(c, ms);
    sl__http_maybe_close_after_write(c);
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
void sl__http_finish_request(struct conn *c)
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
        flush_bound(c, flush_ms(c));
        sl__http_maybe_close_after_write(c);
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
        set_deadline(c, 0);
    } else {
        arm_timer(c);
        if (!c->reading && !c->peer_eof)
            conn_resume(c);
    }
}

/* ---- connections --------------------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    struct sl_http_server *srv = c->srv;
    free(c->buf);
    free(c->hbuf);
    free(c);
    srv->stats.open_connections--;
    maybe_free_server(srv);
}

static void on_deadlines_closed(uv_handle_t *handle)
{
    struct sl_http_server *srv = handle->data;
    void (*cb)(void *) = srv->close_cb;
    srv->close_cb = NULL;
    cb(srv->close_arg);
    free(srv);
}

/* The server goes once closing was asked, the listener is closed, the
 * last connection's socket is closed (no deadline is armed then), and
 * then the deadlines' timer. */
static void maybe_free_server(struct sl_http_server *srv)
{
    if (!srv->closing || srv->listening || srv->stats.open_connections > 0 || !srv->close_cb ||
        srv->deadlines_closing)
        return;
    srv->deadlines_closing = 1;
    sl_deadlines_close(&srv->deadlines, srv, on_deadlines_closed);
}

void sl__http_conn_close(struct conn *c, int reset)
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
    sl_deadline_stop(&c->deadline);
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
    sl_deadline_stop(&c->deadline);
    c->req.head.keep_alive = 0;
    c->req.on_abort = NULL;
    c->req.head_only = sl_str_eq(c->req.head.method, "HEAD");
    c->linger = 1;
    char id[64];
    make_request_id(c->srv, id, sizeof(id));
    struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    sl_http_respond_error_with(&c->req, status, h, 1, "invalid_request_error", code, message);
}

static void on_timer(struct sl_deadline *d)
{
    struct conn *c = sl_container_of(d, struct conn, deadline);
    if (c->state == C_READING)
        reject(c, 408, "request_timeout", "the request did not arrive in time");
    else if (c->state == C_IDLE && c->len > 0)
        process(c); /* a pipelined request deferred by finish_request */
    else if (c->state == C_IDLE && c->pending > 0)
        flush_then_close(c, flush_ms(c)); /* idle, but its last answer is not out yet */
    else if (c->state == C_IDLE || c->state == C_LINGERING || c->state == C_FLUSHING)
        sl__http_conn_close(c, 0); /* FLUSHING: no progress within the bound */
}

static void arm_timer(struct conn *c)
{
    unsigned ms =
        c->state == C_READING ? c->srv->cfg.request_timeout_ms : c->srv->cfg.idle_timeout_ms;
    if (c->state == C_HANDLING || ms == 0)
        sl_deadline_stop(&c->deadline);
    else
        set_deadline(c, ms);
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
    sl_deadline_stop(&c->deadline);
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
    sl__http_write(c, &buf, 1);
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
            c->req.started_ns = uv_hrtime(); /* the gateway's parse stage starts */
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
        sl__http_conn_close(c, 0); /* EOF or error: the client went away */
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
    sl_deadline_init(&c->deadline);
    c->tcp.data = c;
    c->state = C_IDLE;
    sl_list_push_back(&srv->conns, &c->node);
    srv->stats.open_connections++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        sl__http_conn_close(c, 0);
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
    int rc = sl_deadlines_init(loop, &srv->deadlines, 1);
    if (rc != 0) {
        free(srv);
        return rc;
    }
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
            sl__http_conn_close(c, 0);
    }
    if (srv->listening)
        sl_http_server_stop_accepting(srv);
    else
        maybe_free_server(srv);
}
