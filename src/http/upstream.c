/* Lean HTTP/1.1 client for http:// upstreams: raw libuv, no libcurl.
 *
 * Why: through libcurl a proxied request cost ~50 µs of CPU here, mostly
 * system calls (a poll handle and epoll_ctl churn per request, timers
 * moved on every call). Here a request on a kept-alive connection costs
 * one writev (uv_try_write of head and body) and one read per response
 * piece; the socket stays in the epoll set while idle (reading, so that a
 * server's close is seen at once) and no timer moves per request.
 *
 * Objects and ownership
 *  - The pool (one per loop) owns the origins, the connections and a
 *    uv_idle that runs deferred work. It shares one read buffer between all
 *    connections: every read is parsed before the next read happens, and
 *    bytes that must outlive a read (a paused body) are copied out.
 *  - An origin is a host:port: its resolved addresses (numeric hosts
 *    directly, names through uv_getaddrinfo, cached for dns_ttl_ms), its
 *    idle connections (a stack: the most recently used is reused first,
 *    so that rarely used ones age out) and the connections waiting for a
 *    name lookup. Origins live as long as the pool (a gateway has a fixed
 *    set of upstreams).
 *  - A connection (struct conn) owns a uv_tcp_t and one uv_timer_t, which
 *    carries every deadline of the request on it (connect, first byte,
 *    total) or, while idle, its idle timeout. The timer is lazy: it is only
 *    moved when a deadline comes earlier than the one it is set for; when
 *    it fires it acts on what is due and sets itself for what is next.
 *    Deadlines are in real monotonic time (ms of uv_hrtime), not the loop's
 *    cached time, which lags behind after a long callback: a timer that
 *    fires early for that reason just sets itself again.
 *  - A request (struct sl_upstream_xfer, the caller's req->uxfer) owns its
 *    formatted request head, its response parser (http/resp.h in relay
 *    mode) and any body bytes refused with SL_HTTP_PAUSE. It is on one
 *    connection from start to end (a new one, or an idle one taken off its
 *    origin's stack), except when it moves to a fresh connection: the next
 *    address of a name after a failed connect, or the retry below.
 *
 * Invariants
 *  - on_done runs exactly once per started request and only from a loop
 *    callback: a read (the response ended), the close callback of the
 *    request's connection (every failure, timeout and cancel closes the
 *    connection first, so the upstream sees the disconnect at once), or
 *    the uv_idle (a request that never got a connection). After on_done
 *    nothing touches the request.
 *  - `aborting` is set once a request has failed or been cancelled: no
 *    header or body callback runs after it, and nothing else can fail it.
 *  - Handles are freed only in their close callbacks: a connection when
 *    both its handles are closed, the pool when its idle handle is closed,
 *    which happens once no request, connection or name lookup is left.
 *  - Buffers are bounded: the response head by max_header_bytes, held
 *    (paused) body bytes by one read (64 KiB), the request head by 64 KiB. */
#include "http/upstream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/header.h"
#include "http/upstream_int.h"

static void on_idle(uv_idle_t *h);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- requests: the end -------------------------------------------------- */

static void defer(struct sl_upstream_xfer *x)
{
    struct sl_upstream_pool *p = x->pool;
    if (!sl_list_linked(&x->deferred))
        sl_list_push_back(&p->deferred, &x->deferred);
    uv_idle_start(&p->idle, on_idle);
}

/* ---- spare xfers --------------------------------------------------------- */

/* A finished xfer whose head fit SPARE_OUT bytes is kept (at most
 * SPARE_XFERS) for the next request: steady traffic allocates none. */
#define SPARE_XFERS 1024
#define SPARE_OUT   2048

static struct sl_upstream_xfer *xfer_get(struct sl_upstream_pool *p, size_t out_len)
{
    struct sl_list *n = out_len <= SPARE_OUT ? sl_list_pop_front(&p->spare) : NULL;
    struct sl_upstream_xfer *x;
    size_t cap = out_len <= SPARE_OUT ? SPARE_OUT : out_len;
    if (n) {
        p->nspare--;
        x = sl_container_of(n, struct sl_upstream_xfer, node);
    } else if ((x = malloc(sizeof(*x) + cap)) == NULL) {
        return NULL;
    }
    memset(x, 0, sizeof(*x));
    x->out_cap = cap;
    return x;
}

static void xfer_put(struct sl_upstream_pool *p, struct sl_upstream_xfer *x)
{
    if (x->out_cap != SPARE_OUT || p->nspare >= SPARE_XFERS || p->closing) {
        free(x);
        return;
    }
    sl_list_push_back(&p->spare, &x->node);
    p->nspare++;
}

/* Calls on_done and frees the request. Its connection is gone or is no
 * longer its own. */
void sl__up_finish(struct sl_upstream_xfer *x)
{
    struct sl_http_request *req = x->req;
    sl_list_remove(&x->node);
    if (sl_list_linked(&x->deferred))
        sl_list_remove(&x->deferred);
    struct sl_http_result res = {
        .err = x->err,
        .status = x->headers_done ? x->status : 0,
        .message = x->message,
        .body_bytes = x->body_bytes,
        .sent_ns = x->sent_ns ? x->sent_ns - x->start_ns : 0,
        .first_byte_ns = x->first_byte_ns ? x->first_byte_ns - x->start_ns : 0,
        .total_ns = uv_hrtime() - x->start_ns,
        .reused = x->reused,
        .resent = x->retried,
    };
    req->uxfer = NULL;
    req->on_done(req, &res);
    sl_buf_release(&x->head);
    free(x->held);
    xfer_put(x->pool, x);
}

/* Fails the request: its connection is closed now and on_done follows
 * from the close callback (or from the idle handle without a connection).
 * The first failure wins. */
void sl__up_xfer_fail(struct sl_upstream_xfer *x, enum sl_err err, const char *fmt, ...)
{
    if (x->aborting)
        return;
    x->aborting = 1;
    x->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->message, sizeof(x->message), fmt, ap);
    va_end(ap);
    if (x->conn)
        sl__up_conn_close(x->conn);
    else
        defer(x);
}

/* ---- reading ------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->pool->rbuf, sizeof(c->pool->rbuf));
}

int sl__up_conn_read_start(struct conn *c)
{
    if (c->reading)
        return 0;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = r == 0;
    return r;
}

/* The response ended: the connection goes back to its origin (or is
 * closed), then on_done. */
static void complete(struct sl_upstream_xfer *x, int must_close)
{
    struct conn *c = x->conn;
    x->conn = NULL;
    c->x = NULL;
    if (must_close || !x->resp.keep_alive || c->writing || x->pool->closing)
        sl__up_conn_close(c);
    else
        sl__up_conn_idle(c);
    x->err = SL_OK;
    x->message[0] = '\0';
    sl__up_finish(x);
}

static void call_on_headers(void *arg, const struct sl_http_header *fields, size_t n)
{
    struct sl_upstream_xfer *x = arg;
    x->req->on_headers(x->req, x->status, fields, n);
}

/* Splits a whole head block (status line, header lines, blank line) in
 * place and hands the headers of its final response to on_headers. */
static void deliver_headers(struct sl_upstream_xfer *x, char *block, size_t len)
{
    x->headers_done = 1;
    x->status = x->resp.status;
    if (x->req->on_headers && sl_http_head_fields(block, len, call_on_headers, x) < 0)
        sl__up_xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for response headers");
}

/* Takes `len` bytes of the response head; `whole`: the head ends there.
 * Returns 0, or -1 when the request failed or was cancelled. */
static int take_head(struct sl_upstream_xfer *x, char *d, size_t len, int whole)
{
    size_t max = x->pool->max_header_bytes;
    x->head_bytes += len;
    if (x->head_bytes > max) {
        sl__up_xfer_fail(x, SL_E_BAD_GATEWAY, "response headers over %zu bytes", max);
        return -1;
    }
    if (!whole || x->head.len > 0) {
        /* Split across reads: gathered until whole. */
        if (sl_buf_append(&x->head, d, len) != 0) {
            sl__up_xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for response headers");
            return -1;
        }
        if (!whole)
            return 0;
        d = x->head.ptr;
        len = x->head.len;
    }
    deliver_headers(x, d, len); /* in place: the read buffer is ours */
    sl_buf_release(&x->head);
    return x->aborting ? -1 : 0;
}

/* http/resp.h relay callback: a run of decoded body bytes. */
static int relay_body(void *arg, const char *data, size_t len)
{
    struct sl_upstream_xfer *x = arg;
    struct sl_http_request *req = x->req;
    if (x->aborting)
        return 1; /* stops the parser; nothing more is delivered */
    if (req->on_body) {
        x->in_body = 1;
        int rc = req->on_body(req, data, len);
        x->in_body = 0;
        if (x->aborting || rc == SL_HTTP_PAUSE)
            return 1;
        x->resume_pending = 0; /* a resume without a pause means nothing */
    }
    x->body_bytes += len;
    return 0;
}

enum { FED, PAUSED, ENDED };

/* Keeps d[0..len) (the refused run and what followed it) for after the
 * resume, and stops reading. d may point into the held buffer itself. */
static int hold(struct sl_upstream_xfer *x, char *d, size_t len)
{
    if (len > x->held_cap) {
        char *n = malloc(len);
        if (n == NULL) {
            sl__up_xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for a paused body");
            return ENDED;
        }
        free(x->held);
        x->held = n;
        x->held_cap = len;
    }
    memmove(x->held, d, len);
    x->held_len = len;
    x->paused = 1;
    if (x->conn->reading) {
        uv_read_stop((uv_stream_t *)&x->conn->tcp);
        x->conn->reading = 0;
    }
    if (x->resume_pending)
        defer(x); /* resumed from inside on_body, before it said pause */
    return PAUSED;
}

/* Parses response bytes. Returns FED (all taken, more expected), PAUSED,
 * or ENDED: the request is finished (and may be freed) or failing. */
static int feed(struct sl_upstream_xfer *x, char *d, size_t len)
{
    for (;;) {
        size_t used = 0;
        int rc = sl_resp_feed(&x->resp, d, len, &used);
        if (!x->headers_done && rc != SL_RESP_ERROR &&
            take_head(x, d, used, rc != SL_RESP_MORE) != 0)
            return ENDED;
        d += used;
        len -= used;
        switch (rc) {
        case SL_RESP_MORE:
            return FED;
        case SL_RESP_HEAD:
            if (len == 0)
                return FED;
            continue;
        case SL_RESP_PAUSE:
            return x->aborting ? ENDED : hold(x, d, len);
        case SL_RESP_DONE:
            complete(x, len > 0); /* bytes nobody asked for: not reused */
            return ENDED;
        default:
            sl__up_xfer_fail(x, SL_E_BAD_GATEWAY, "malformed response: %s", x->resp.error);
            return ENDED;
        }
    }
}

/* The request goes again, from the start, on a fresh connection to
 * address `addr`. The old connection is closed. */
void sl__up_xfer_reconnect(struct sl_upstream_xfer *x, int addr)
{
    struct conn *old = x->conn;
    old->x = NULL;
    sl__up_conn_close(old);
    x->conn = NULL;
    struct conn *c = sl__up_conn_new(x->pool, x->origin);
    if (c == NULL) {
        sl__up_xfer_fail(x, SL_E_CONN_REFUSED, "out of memory for a connection");
        return;
    }
    c->addr = addr;
    c->x = x;
    x->conn = c;
    x->connected = 0;
    x->reused = 0;
    sl__up_conn_arm(c, sl__up_xfer_next_due(x));
    sl__up_conn_open(c);
}

/* A kept-alive connection can be closed by the server at any moment (its
 * keep-alive timeout) and we may send on it before we see the close. Such
 * a request, if not one byte of the response arrived, goes again ONCE on a
 * fresh connection. This is transport-level, not a retry policy (that is
 * retry/, which decides on the error class): nothing else is ever sent
 * twice here. */
static int retryable(const struct conn *c, const struct sl_upstream_xfer *x, int err)
{
    return c->served > 0 && !x->first_byte_ns && !x->retried &&
           (err == UV_EOF || err == UV_ECONNRESET || err == UV_EPIPE);
}

static void retry(struct sl_upstream_xfer *x)
{
    x->retried = 1;
    x->pool->stats.retries++;
    sl__up_xfer_reconnect(x, x->origin->good);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct sl_upstream_xfer *x = c->x;
    if (nread == 0 || c->state != C_OPEN)
        return;
    if (x == NULL) {
        /* Idle: the server closed it (keep-alive timeout) or sent bytes
         * nobody asked for. Either way it is done. */
        sl__up_conn_close(c);
        return;
    }
    if (nread > 0) {
        if (!x->first_byte_ns)
            x->first_byte_ns = uv_hrtime();
        feed(x, buf->base, (size_t)nread);
        return;
    }
    int err = (int)nread;
    if (err == UV_EOF && sl_resp_eof(&x->resp) == SL_RESP_DONE) {
        complete(x, 1); /* a body delimited by the close */
        return;
    }
    if (retryable(c, x, err)) {
        retry(x);
        return;
    }
    if (err == UV_EOF)
        sl__up_xfer_fail(x, SL_E_CONN_RESET, "%s", x->resp.error);
    else
        sl__up_xfer_fail(x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(err));
}

/* ---- writing ------------------------------------------------------------ */

static void send_failed(struct conn *c, int err)
{
    struct sl_upstream_xfer *x = c->x;
    if (retryable(c, x, err))
        retry(x);
    else
        sl__up_xfer_fail(x, SL_E_CONN_RESET, "send failed: %s", uv_strerror(err));
}

static void on_write(uv_write_t *w, int status)
{
    struct conn *c = w->handle->data;
    c->writing = 0;
    if (status < 0 && c->state != C_CLOSING && c->x)
        send_failed(c, status);
}

/* Head and body in one writev; what the socket does not take now goes
 * through uv_write (the body stays the caller's until on_done). */
void sl__up_conn_send(struct conn *c)
{
    struct sl_upstream_xfer *x = c->x;
    const struct sl_http_request *req = x->req;
    uv_buf_t b[2] = {uv_buf_init(x->out, (unsigned)x->out_len),
                     uv_buf_init((char *)req->body, (unsigned)req->body_len)};
    unsigned nb = req->body_len ? 2 : 1, i = 0;
    x->sent_ns = uv_hrtime();
    int n = uv_try_write((uv_stream_t *)&c->tcp, b, nb);
    if (n < 0 && n != UV_EAGAIN) {
        send_failed(c, n);
        return;
    }
    size_t sent = n > 0 ? (size_t)n : 0;
    while (i < nb && sent >= b[i].len)
        sent -= b[i++].len;
    if (i == nb)
        return;
    b[i].base += sent;
    b[i].len -= sent;
    int r = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, b + i, nb - i, on_write);
    if (r < 0) {
        send_failed(c, r);
        return;
    }
    c->writing = 1;
}

/* ---- deferred work ------------------------------------------------------ */

static void resume_now(struct sl_upstream_xfer *x)
{
    struct conn *c = x->conn;
    size_t n = x->held_len;
    x->resume_pending = 0;
    if (!x->paused)
        return;
    x->paused = 0;
    x->held_len = 0;
    if (feed(x, x->held, n) != FED)
        return;
    int r = sl__up_conn_read_start(c);
    if (r != 0)
        sl__up_xfer_fail(x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(r));
}

static void on_idle(uv_idle_t *h)
{
    struct sl_upstream_pool *p = h->data;
    /* Only what is queued now: work queued meanwhile waits a turn. */
    struct sl_list todo, *n;
    sl_list_init(&todo);
    while ((n = sl_list_pop_front(&p->deferred)) != NULL)
        sl_list_push_back(&todo, n);
    while ((n = sl_list_pop_front(&todo)) != NULL) {
        struct sl_upstream_xfer *x = sl_container_of(n, struct sl_upstream_xfer, deferred);
        if (x->aborting) {
            if (x->conn == NULL)
                sl__up_finish(x); /* else its connection's close callback does */
        } else if (x->resume_pending) {
            resume_now(x);
        }
    }
    if (sl_list_empty(&p->deferred))
        uv_idle_stop(h);
    sl__up_pool_maybe_free(p);
}

/* ---- the request head --------------------------------------------------- */

/* A field value we can send: no CR or LF (no header injection). */
static int is_value(struct sl_str v)
{
    return memchr(v.ptr, '\r', v.len) == NULL && memchr(v.ptr, '\n', v.len) == NULL;
}

static size_t put(char *out, size_t at, const char *s, size_t n)
{
    if (out)
        memcpy(out + at, s, n);
    return at + n;
}

/* Formats the request head into out (when not NULL); returns its length.
 * Content-Length and Transfer-Encoding are ours: the caller's are dropped;
 * a caller's Host replaces ours. */
static size_t format_head(char *out, const struct sl_http_request *req, const char *method,
                          struct sl_str target, const struct sl_upstream_origin *o)
{
    size_t at = 0;
    int own_host = 1;
    at = put(out, at, method, strlen(method));
    at = put(out, at, " ", 1);
    if (target.len == 0 || target.ptr[0] != '/')
        at = put(out, at, "/", 1);
    at = put(out, at, target.ptr, target.len);
    at = put(out, at, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sl_http_header *h = &req->headers[i];
        if (sl_str_ieq(h->name, "content-length") || sl_str_ieq(h->name, "transfer-encoding"))
            continue;
        if (sl_str_ieq(h->name, "host"))
            own_host = 0;
        at = put(out, at, h->name.ptr, h->name.len);
        at = put(out, at, ": ", 2);
        at = put(out, at, h->value.ptr, h->value.len);
        at = put(out, at, "\r\n", 2);
    }
    if (own_host) {
        at = put(out, at, "Host: ", 6);
        at = put(out, at, o->host_header, strlen(o->host_header));
        at = put(out, at, "\r\n", 2);
    }
    if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        char digits[20];
        at = put(out, at, "Content-Length: ", 16);
        at = put(out, at, digits, sl_fmt_uint(digits, req->body ? req->body_len : 0));
        at = put(out, at, "\r\n", 2);
    }
    return put(out, at, "\r\n", 2);
}

/* Why the request cannot be sent as given, or NULL. */
static const char *check_request(const struct sl_http_request *req, const char *method)
{
    if (!sl_http_is_token((struct sl_str){method, strlen(method)}))
        return "malformed method";
    if (req->body_len > UINT32_MAX)
        return "request body too large"; /* uv_buf_t lengths are unsigned */
    for (size_t i = 0; i < req->n_headers; i++)
        if (!sl_http_is_token(req->headers[i].name) || !is_value(req->headers[i].value))
            return "malformed request header";
    return NULL;
}

/* ---- public ------------------------------------------------------------- */

int sl_upstream_start(struct sl_upstream_pool *p, struct sl_http_request *req)
{
    if ((req->url == NULL && req->route == NULL) || req->on_done == NULL)
        return UV_EINVAL;
    if (req->uxfer || req->xfer)
        return UV_EBUSY;
    if (p->closing)
        return UV_ESHUTDOWN;
    const char *method = req->method ? req->method : req->body ? "POST" : "GET";
    struct sl_upstream_origin *o = NULL;
    struct sl_str target = {NULL, 0};
    const char *bad = NULL;
    struct sl_url u;
    if (req->route) {
        o = req->route->origin; /* resolved at start-up */
        target = req->route->target;
    } else if ((bad = sl__up_parse_url(req->url, &u)) == NULL) {
        target = (struct sl_str){u.target, u.target_len};
    }
    if (bad == NULL)
        bad = check_request(req, method);
    if (bad == NULL && o == NULL && (o = sl__up_origin_get(p, &u)) == NULL)
        return UV_ENOMEM;
    size_t out_len = bad ? 0 : format_head(NULL, req, method, target, o);
    if (out_len > MAX_REQUEST_HEAD) {
        bad = "request head too large";
        out_len = 0;
    }
    struct sl_upstream_xfer *x = xfer_get(p, out_len);
    if (x == NULL)
        return UV_ENOMEM;
    x->pool = p;
    x->req = req;
    x->origin = o;
    x->start_ns = uv_hrtime();
    sl_buf_init(&x->head, p->max_header_bytes);
    sl_list_push_back(&p->xfers, &x->node);
    req->uxfer = x;
    p->stats.requests++;
    if (bad) {
        sl__up_xfer_fail(x, SL_E_BAD_REQUEST, "%s", bad); /* on_done from the loop */
        return 0;
    }
    x->out_len = format_head(x->out, req, method, target, o);
    sl_resp_init(&x->resp, strcmp(method, "HEAD") == 0, 0);
    sl_resp_relay(&x->resp, relay_body, x);
    uint64_t now = x->start_ns / 1000000;
    x->connect_due =
        now + (req->connect_timeout_ms ? req->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
    x->first_byte_due = req->first_byte_timeout_ms ? now + req->first_byte_timeout_ms : 0;
    x->total_due = req->total_timeout_ms ? now + req->total_timeout_ms : 0;

    struct conn *c = sl__up_idle_take(o);
    if (c) {
        c->x = x;
        x->conn = c;
        x->connected = x->reused = 1;
        p->stats.reused++;
        sl__up_conn_arm(c, sl__up_xfer_next_due(x));
        sl__up_conn_send(c);
        return 0;
    }
    c = sl__up_conn_new(p, o);
    if (c == NULL) {
        sl_list_remove(&x->node);
        req->uxfer = NULL;
        xfer_put(p, x);
        return UV_ENOMEM;
    }
    c->x = x;
    x->conn = c;
    sl__up_conn_arm(c, sl__up_xfer_next_due(x));
    sl__up_conn_open(c);
    return 0;
}

void sl_upstream_cancel(struct sl_http_request *req)
{
    if (req->uxfer)
        sl__up_xfer_fail(req->uxfer, SL_E_CANCELLED, "cancelled");
}

void sl_upstream_resume(struct sl_http_request *req)
{
    struct sl_upstream_xfer *x = req->uxfer;
    if (x == NULL || x->aborting || x->resume_pending || !(x->paused || x->in_body))
        return;
    x->resume_pending = 1;
    if (x->paused)
        defer(x); /* else hold() defers it once on_body said pause */
}
