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

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/list.h"
#include "core/buf.h"
#include "http/header.h"
#include "http/resp.h"
#include "http/url.h"

#define READ_BUF_SIZE              (64 * 1024)
#define MAX_REQUEST_HEAD           (64 * 1024)
#define MAX_ADDRS                  8
#define DEFAULT_CONNECT_TIMEOUT_MS 300000

enum conn_state { C_RESOLVING, C_CONNECTING, C_OPEN, C_CLOSING };

struct sl_upstream_origin {
    struct sl_list node; /* in pool->origins */
    struct sl_upstream_pool *pool;
    uv_getaddrinfo_t gai;
    struct sl_list waiting; /* connections waiting for the lookup */
    struct sl_list idle;    /* idle connections, the most recently used last */
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs, good; /* `good`: the address that connected last */
    int numeric, resolving;
    uint64_t expires_ms; /* when the looked-up addresses expire (now_ms) */
    uint16_t port;
    char port_str[8];
    char *host_header; /* "host[:port]", after host in `names` */
    char host[];       /* NUL-terminated, without brackets */
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct sl_upstream_pool *pool;
    struct sl_upstream_origin *origin;
    struct sl_upstream_xfer *x; /* the request on it; NULL while idle */
    struct sl_list node;        /* in origin->idle or origin->waiting */
    struct sl_list lru;         /* in pool->idle_conns while idle */
    uint64_t timer_due;         /* ms (now_ms) the timer is set for; 0: stopped */
    uint64_t idle_since;
    unsigned served; /* responses completed on it */
    int addr;        /* index in origin->addrs */
    uint8_t state, reading, writing, open_handles;
};

struct sl_upstream_pool {
    uv_loop_t *loop;
    uv_idle_t idle; /* runs `deferred` */
    struct sl_list origins;
    struct sl_list xfers;      /* requests in flight */
    struct sl_list deferred;   /* requests with work for the next loop turn */
    struct sl_list idle_conns; /* every idle connection, the oldest first */
    unsigned nidle, nconns, ngai;
    unsigned max_idle;
    uint32_t idle_timeout_ms, dns_ttl_ms;
    size_t max_header_bytes;
    struct sl_upstream_stats stats;
    int closing, freeing;
    void (*close_cb)(void *);
    void *close_arg;
    char rbuf[READ_BUF_SIZE];
};

struct sl_upstream_xfer {
    struct sl_upstream_pool *pool;
    struct sl_http_request *req;
    struct sl_upstream_origin *origin;
    struct conn *conn;       /* NULL only before a connection was found, or failing without one */
    struct sl_list node;     /* in pool->xfers */
    struct sl_list deferred; /* in pool->deferred, or unlinked */
    struct sl_resp resp;
    struct sl_buf head; /* the response head, when it spans reads */
    size_t head_bytes;
    char *held; /* refused body bytes and what followed them in their read */
    size_t held_len, held_cap;
    uint64_t start_ns, first_byte_ns, body_bytes;
    uint64_t connect_due, first_byte_due, total_due; /* now_ms; 0: none */
    enum sl_err err;
    int status, addr_tries;
    uint8_t aborting, headers_done, paused, resume_pending, in_body, retried, connected, reused;
    char message[128];
    size_t out_len;
    char out[]; /* the request head */
};

static void conn_close(struct conn *c);
static void conn_open(struct conn *c);

static void pool_maybe_free(struct sl_upstream_pool *p);
static void on_idle(uv_idle_t *h);

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- requests: the end -------------------------------------------------- */

static void defer(struct sl_upstream_xfer *x)
{
    struct sl_upstream_pool *p = x->pool;
    if (!sl_list_linked(&x->deferred))
        sl_list_push_back(&p->deferred, &x->deferred);
    uv_idle_start(&p->idle, on_idle);
}

/* Calls on_done and frees the request. Its connection is gone or is no
 * longer its own. */
static void finish(struct sl_upstream_xfer *x)
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
        .first_byte_ns = x->first_byte_ns ? x->first_byte_ns - x->start_ns : 0,
        .total_ns = uv_hrtime() - x->start_ns,
        .reused = x->reused,
        .resent = x->retried,
    };
    req->uxfer = NULL;
    req->on_done(req, &res);
    sl_buf_release(&x->head);
    free(x->held);
    free(x);
}

/* Fails the request: its connection is closed now and on_done follows
 * from the close callback (or from the idle handle without a connection).
 * The first failure wins. */
static void xfer_fail(struct sl_upstream_xfer *x, enum sl_err err, const char *fmt, ...)
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
        conn_close(x->conn);
    else
        defer(x);
}

/* ---- connections -------------------------------------------------------- */

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct sl_upstream_pool *p = c->pool;
    struct sl_upstream_xfer *x = c->x;
    p->nconns--;
    free(c);
    if (x) {
        x->conn = NULL;
        finish(x);
    }
    pool_maybe_free(p);
}

static void conn_close(struct conn *c)
{
    if (c->state == C_CLOSING)
        return;
    if (sl_list_linked(&c->lru)) {
        sl_list_remove(&c->lru);
        c->pool->nidle--;
    }
    if (sl_list_linked(&c->node))
        sl_list_remove(&c->node);
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, conn_closed); /* closes the socket now */
    uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void on_conn_timer(uv_timer_t *t);

/* Makes sure the timer fires by `due` (now_ms). A timer already set for
 * earlier stays: it will find nothing due and set itself again. */
static void conn_arm(struct conn *c, uint64_t due)
{
    if (due == 0 || c->state == C_CLOSING || (c->timer_due && c->timer_due <= due))
        return;
    uint64_t now = now_ms();
    c->timer_due = due;
    uv_timer_start(&c->timer, on_conn_timer, due > now ? due - now : 0, 0);
}

/* The earliest deadline of a request still to come, or 0. */
static uint64_t xfer_next_due(const struct sl_upstream_xfer *x)
{
    uint64_t due = x->total_due;
    if (!x->first_byte_ns && x->first_byte_due && (!due || x->first_byte_due < due))
        due = x->first_byte_due;
    if (!x->connected && x->connect_due && (!due || x->connect_due < due))
        due = x->connect_due;
    return due;
}

static void on_conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    struct sl_upstream_pool *p = c->pool;
    struct sl_upstream_xfer *x = c->x;
    uint64_t now = now_ms();
    c->timer_due = 0;
    if (x == NULL) {
        uint64_t due = c->idle_since + p->idle_timeout_ms;
        if (now >= due)
            conn_close(c);
        else
            conn_arm(c, due);
        return;
    }
    const struct sl_http_request *req = x->req;
    if (!x->connected && x->connect_due && now >= x->connect_due)
        xfer_fail(x, SL_E_TIMEOUT, "connect timeout after %u ms",
                  req->connect_timeout_ms ? (unsigned)req->connect_timeout_ms
                                          : DEFAULT_CONNECT_TIMEOUT_MS);
    else if (!x->first_byte_ns && x->first_byte_due && now >= x->first_byte_due)
        xfer_fail(x, SL_E_TIMEOUT, "first byte timeout after %u ms",
                  (unsigned)req->first_byte_timeout_ms);
    else if (x->total_due && now >= x->total_due)
        xfer_fail(x, SL_E_TIMEOUT, "total timeout after %u ms", (unsigned)req->total_timeout_ms);
    else
        conn_arm(c, xfer_next_due(x));
}

static struct conn *conn_new(struct sl_upstream_pool *p, struct sl_upstream_origin *o)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->pool = p;
    c->origin = o;
    c->addr = o->good;
    /* No socket exists before the connect: neither init can fail. */
    uv_tcp_init(p->loop, &c->tcp);
    uv_timer_init(p->loop, &c->timer);
    c->tcp.data = c->timer.data = c->connect_req.data = c;
    c->open_handles = 2;
    p->nconns++;
    return c;
}

/* Puts a connection whose response ended on its origin's stack. */
static void conn_idle(struct conn *c);

static struct conn *idle_take(struct sl_upstream_origin *o)
{
    if (sl_list_empty(&o->idle))
        return NULL;
    struct conn *c = sl_container_of(o->idle.prev, struct conn, node); /* LIFO */
    sl_list_remove(&c->node);
    sl_list_remove(&c->lru);
    o->pool->nidle--;
    return c;
}

/* ---- reading ------------------------------------------------------------ */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->pool->rbuf, sizeof(c->pool->rbuf));
}

static int conn_read_start(struct conn *c)
{
    if (c->reading)
        return 0;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = r == 0;
    return r;
}

static void conn_idle(struct conn *c)
{
    struct sl_upstream_pool *p = c->pool;
    c->x = NULL;
    c->served++;
    c->idle_since = now_ms();
    /* Reading goes on while idle: a server's close is seen at once. */
    if (conn_read_start(c) != 0) {
        conn_close(c);
        return;
    }
    sl_list_push_back(&c->origin->idle, &c->node);
    sl_list_push_back(&p->idle_conns, &c->lru);
    p->nidle++;
    conn_arm(c, c->idle_since + p->idle_timeout_ms);
    if (p->nidle > p->max_idle)
        conn_close(sl_container_of(p->idle_conns.next, struct conn, lru));
}

/* The response ended: the connection goes back to its origin (or is
 * closed), then on_done. */
static void complete(struct sl_upstream_xfer *x, int must_close)
{
    struct conn *c = x->conn;
    x->conn = NULL;
    c->x = NULL;
    if (must_close || !x->resp.keep_alive || c->writing || x->pool->closing)
        conn_close(c);
    else
        conn_idle(c);
    x->err = SL_OK;
    x->message[0] = '\0';
    finish(x);
}

/* Splits a whole head block (status line, header lines, blank line) in
 * place and hands the headers of its final response to on_headers. */
static void deliver_headers(struct sl_upstream_xfer *x, char *block, size_t len)
{
    struct sl_http_request *req = x->req;
    x->headers_done = 1;
    x->status = x->resp.status;
    if (req->on_headers == NULL)
        return;
    size_t max = sl_http_head_lines(block, len);
    struct sl_http_header small[32], *f = small;
    if (max > sizeof(small) / sizeof(small[0]) && (f = malloc(max * sizeof(*f))) == NULL) {
        xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for response headers");
        return;
    }
    size_t n = sl_http_split_head(block, len, f);
    req->on_headers(req, x->status, n ? f : NULL, n); /* NULL for none: gcc -O3 warns */
    if (f != small)
        free(f);
}

/* Takes `len` bytes of the response head; `whole`: the head ends there.
 * Returns 0, or -1 when the request failed or was cancelled. */
static int take_head(struct sl_upstream_xfer *x, char *d, size_t len, int whole)
{
    size_t max = x->pool->max_header_bytes;
    x->head_bytes += len;
    if (x->head_bytes > max) {
        xfer_fail(x, SL_E_BAD_GATEWAY, "response headers over %zu bytes", max);
        return -1;
    }
    if (!whole || x->head.len > 0) {
        /* Split across reads: gathered until whole. */
        if (sl_buf_append(&x->head, d, len) != 0) {
            xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for response headers");
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
            xfer_fail(x, SL_E_BAD_GATEWAY, "out of memory for a paused body");
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
            xfer_fail(x, SL_E_BAD_GATEWAY, "malformed response: %s", x->resp.error);
            return ENDED;
        }
    }
}

/* The request goes again, from the start, on a fresh connection to
 * address `addr`. The old connection is closed. */
static void xfer_reconnect(struct sl_upstream_xfer *x, int addr)
{
    struct conn *old = x->conn;
    old->x = NULL;
    conn_close(old);
    x->conn = NULL;
    struct conn *c = conn_new(x->pool, x->origin);
    if (c == NULL) {
        xfer_fail(x, SL_E_CONN_REFUSED, "out of memory for a connection");
        return;
    }
    c->addr = addr;
    c->x = x;
    x->conn = c;
    x->connected = 0;
    x->reused = 0;
    conn_arm(c, xfer_next_due(x));
    conn_open(c);
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
    xfer_reconnect(x, x->origin->good);
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
        conn_close(c);
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
        xfer_fail(x, SL_E_CONN_RESET, "%s", x->resp.error);
    else
        xfer_fail(x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(err));
}

/* ---- writing ------------------------------------------------------------ */

static void send_failed(struct conn *c, int err)
{
    struct sl_upstream_xfer *x = c->x;
    if (retryable(c, x, err))
        retry(x);
    else
        xfer_fail(x, SL_E_CONN_RESET, "send failed: %s", uv_strerror(err));
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
static void conn_send(struct conn *c)
{
    struct sl_upstream_xfer *x = c->x;
    const struct sl_http_request *req = x->req;
    uv_buf_t b[2] = {uv_buf_init(x->out, (unsigned)x->out_len),
                     uv_buf_init((char *)req->body, (unsigned)req->body_len)};
    unsigned nb = req->body_len ? 2 : 1, i = 0;
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

/* ---- connecting --------------------------------------------------------- */

static void connect_failed(struct conn *c, int err)
{
    struct sl_upstream_xfer *x = c->x;
    struct sl_upstream_origin *o = c->origin;
    if (++x->addr_tries < o->naddrs) {
        xfer_reconnect(x, (c->addr + 1) % o->naddrs); /* the name's next address */
        return;
    }
    xfer_fail(x, SL_E_CONN_REFUSED, "connect to %s failed: %s", o->host_header, uv_strerror(err));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state != C_CONNECTING)
        return; /* closed meanwhile: status is UV_ECANCELED */
    if (status < 0) {
        connect_failed(c, status);
        return;
    }
    c->state = C_OPEN;
    c->origin->good = c->addr;
    c->x->connected = 1;
    int r = conn_read_start(c);
    if (r != 0) {
        xfer_fail(c->x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(r));
        return;
    }
    conn_send(c);
}

static void conn_connect(struct conn *c)
{
    struct sl_upstream_origin *o = c->origin;
    c->state = C_CONNECTING;
    c->pool->stats.connects++;
    uv_tcp_nodelay(&c->tcp, 1); /* applied when connect creates the socket */
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&o->addrs[c->addr],
                           on_connect);
    if (r < 0)
        connect_failed(c, r);
}

static void resolve_failed(struct sl_upstream_origin *o, int err)
{
    struct sl_list *n;
    while ((n = sl_list_pop_front(&o->waiting)) != NULL) {
        struct conn *c = sl_container_of(n, struct conn, node);
        xfer_fail(c->x, SL_E_CONN_REFUSED, "cannot resolve %s: %s", o->host, uv_strerror(err));
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sl_upstream_origin *o = sl_container_of(req, struct sl_upstream_origin, gai);
    struct sl_upstream_pool *p = o->pool;
    o->resolving = 0;
    p->ngai--;
    if (status == 0) {
        o->naddrs = 0;
        for (struct addrinfo *ai = res; ai && o->naddrs < MAX_ADDRS; ai = ai->ai_next)
            if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                ai->ai_addrlen <= sizeof(o->addrs[0]))
                memcpy(&o->addrs[o->naddrs++], ai->ai_addr, ai->ai_addrlen);
        o->good = 0;
        o->expires_ms = now_ms() + p->dns_ttl_ms;
    }
    uv_freeaddrinfo(res);
    if (status != 0 || o->naddrs == 0) {
        resolve_failed(o, status ? status : UV_EAI_NODATA);
    } else {
        struct sl_list *n;
        while ((n = sl_list_pop_front(&o->waiting)) != NULL) {
            struct conn *c = sl_container_of(n, struct conn, node);
            c->addr = 0;
            conn_connect(c);
        }
    }
    pool_maybe_free(p);
}

static void conn_open(struct conn *c)
{
    struct sl_upstream_origin *o = c->origin;
    struct sl_upstream_pool *p = c->pool;
    if (o->naddrs > 0 && (o->numeric || now_ms() < o->expires_ms)) {
        conn_connect(c);
        return;
    }
    c->state = C_RESOLVING;
    sl_list_push_back(&o->waiting, &c->node);
    if (o->resolving)
        return;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int r = uv_getaddrinfo(p->loop, &o->gai, on_resolved, o->host, o->port_str, &hints);
    if (r != 0) {
        resolve_failed(o, r);
        return;
    }
    o->resolving = 1;
    p->ngai++;
    p->stats.lookups++;
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
    int r = conn_read_start(c);
    if (r != 0)
        xfer_fail(x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(r));
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
                finish(x); /* else its connection's close callback does */
        } else if (x->resume_pending) {
            resume_now(x);
        }
    }
    if (sl_list_empty(&p->deferred))
        uv_idle_stop(h);
    pool_maybe_free(p);
}

/* ---- origins and URLs --------------------------------------------------- */

/* The lean client's URLs: http:// only (client.c sends https:// to
 * libcurl). Returns NULL or why not. */
static const char *parse_url(const char *s, struct sl_url *u)
{
    if (strncasecmp(s, "http://", 7) != 0)
        return "not an http:// URL";
    return sl_url_parse(s, u);
}

static struct sl_upstream_origin *origin_get(struct sl_upstream_pool *p, const struct sl_url *u)
{
    for (struct sl_list *n = p->origins.next; n != &p->origins; n = n->next) {
        struct sl_upstream_origin *o = sl_container_of(n, struct sl_upstream_origin, node);
        if (o->port == u->port && strncasecmp(o->host, u->host, u->host_len) == 0 &&
            o->host[u->host_len] == '\0')
            return o;
    }
    /* host, then "[host]:port" at most */
    struct sl_upstream_origin *o = calloc(1, sizeof(*o) + 2 * u->host_len + 12);
    if (o == NULL)
        return NULL;
    o->pool = p;
    o->port = (uint16_t)u->port;
    sl_list_init(&o->waiting);
    sl_list_init(&o->idle);
    memcpy(o->host, u->host, u->host_len);
    o->host_header = o->host + u->host_len + 1;
    snprintf(o->port_str, sizeof(o->port_str), "%u", u->port);
    if (u->port == 80)
        sprintf(o->host_header, u->ipv6 ? "[%s]" : "%s", o->host);
    else
        sprintf(o->host_header, u->ipv6 ? "[%s]:%u" : "%s:%u", o->host, u->port);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&o->addrs[0];
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addrs[0];
    if (uv_ip4_addr(o->host, u->port, in4) == 0 || uv_ip6_addr(o->host, u->port, in6) == 0) {
        o->numeric = 1; /* no lookup, ever */
        o->naddrs = 1;
    }
    sl_list_push_back(&p->origins, &o->node);
    return o;
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
        char cl[48];
        int k = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", req->body ? req->body_len : 0);
        at = put(out, at, cl, (size_t)k);
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

int sl_upstream_new(uv_loop_t *loop, const struct sl_upstream_opts *opts,
                    struct sl_upstream_pool **out)
{
    struct sl_upstream_opts o = opts ? *opts : (struct sl_upstream_opts){0};
    struct sl_upstream_pool *p = malloc(sizeof(*p));
    if (p == NULL)
        return UV_ENOMEM;
    memset(p, 0, offsetof(struct sl_upstream_pool, rbuf));
    p->loop = loop;
    p->max_idle = o.max_idle_connections ? o.max_idle_connections : 64;
    p->idle_timeout_ms = o.idle_timeout_ms ? o.idle_timeout_ms : 60000;
    p->dns_ttl_ms = o.dns_ttl_ms ? o.dns_ttl_ms : 60000;
    p->max_header_bytes = o.max_header_bytes ? o.max_header_bytes : 64 * 1024;
    sl_list_init(&p->origins);
    sl_list_init(&p->xfers);
    sl_list_init(&p->deferred);
    sl_list_init(&p->idle_conns);
    uv_idle_init(loop, &p->idle); /* cannot fail on a live loop */
    p->idle.data = p;
    *out = p;
    return 0;
}

static void pool_closed(uv_handle_t *h)
{
    struct sl_upstream_pool *p = h->data;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&p->origins)) != NULL)
        free(sl_container_of(n, struct sl_upstream_origin, node));
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p);
    if (cb)
        cb(arg);
}

static void pool_maybe_free(struct sl_upstream_pool *p)
{
    if (!p->closing || p->freeing || !sl_list_empty(&p->xfers) || p->nconns || p->ngai)
        return;
    p->freeing = 1;
    uv_close((uv_handle_t *)&p->idle, pool_closed);
}

void sl_upstream_close(struct sl_upstream_pool *p, void (*cb)(void *arg), void *arg)
{
    if (p->closing)
        return;
    p->closing = 1;
    p->close_cb = cb;
    p->close_arg = arg;
    for (struct sl_list *n = p->xfers.next; n != &p->xfers; n = n->next)
        xfer_fail(sl_container_of(n, struct sl_upstream_xfer, node), SL_E_CANCELLED,
                  "client closed");
    while (!sl_list_empty(&p->idle_conns))
        conn_close(sl_container_of(p->idle_conns.next, struct conn, lru));
    for (struct sl_list *n = p->origins.next; n != &p->origins; n = n->next) {
        struct sl_upstream_origin *o = sl_container_of(n, struct sl_upstream_origin, node);
        if (o->resolving)
            uv_cancel((uv_req_t *)&o->gai); /* else its callback comes when it is done */
    }
    pool_maybe_free(p);
}

int sl_upstream_route(struct sl_upstream_pool *p, struct sl_http_route *r)
{
    struct sl_url u;
    if (parse_url(r->url, &u) != NULL)
        return UV_EINVAL;
    r->lean = 1;
    r->origin = origin_get(p, &u);
    r->target = (struct sl_str){u.target, u.target_len};
    return r->origin ? 0 : UV_ENOMEM;
}

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
    } else if ((bad = parse_url(req->url, &u)) == NULL) {
        target = (struct sl_str){u.target, u.target_len};
    }
    if (bad == NULL)
        bad = check_request(req, method);
    if (bad == NULL && o == NULL && (o = origin_get(p, &u)) == NULL)
        return UV_ENOMEM;
    size_t out_len = bad ? 0 : format_head(NULL, req, method, target, o);
    if (out_len > MAX_REQUEST_HEAD) {
        bad = "request head too large";
        out_len = 0;
    }
    struct sl_upstream_xfer *x = malloc(sizeof(*x) + out_len);
    if (x == NULL)
        return UV_ENOMEM;
    memset(x, 0, sizeof(*x));
    x->pool = p;
    x->req = req;
    x->origin = o;
    x->start_ns = uv_hrtime();
    sl_buf_init(&x->head, p->max_header_bytes);
    sl_list_push_back(&p->xfers, &x->node);
    req->uxfer = x;
    p->stats.requests++;
    if (bad) {
        xfer_fail(x, SL_E_BAD_REQUEST, "%s", bad); /* on_done from the loop */
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

    struct conn *c = idle_take(o);
    if (c) {
        c->x = x;
        x->conn = c;
        x->connected = x->reused = 1;
        p->stats.reused++;
        conn_arm(c, xfer_next_due(x));
        conn_send(c);
        return 0;
    }
    c = conn_new(p, o);
    if (c == NULL) {
        sl_list_remove(&x->node);
        req->uxfer = NULL;
        free(x);
        return UV_ENOMEM;
    }
    c->x = x;
    x->conn = c;
    conn_arm(c, xfer_next_due(x));
    conn_open(c);
    return 0;
}

void sl_upstream_cancel(struct sl_http_request *req)
{
    if (req->uxfer)
        xfer_fail(req->uxfer, SL_E_CANCELLED, "cancelled");
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

void sl_upstream_stats(const struct sl_upstream_pool *p, struct sl_upstream_stats *out)
{
    *out = p->stats;
    out->open = p->nconns;
    out->idle = p->nidle;
}
