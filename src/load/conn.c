#include "load/conn.h"

#include <string.h>

enum { H_NONE, H_CONNECTING, H_OPEN, H_CLOSING };

static const char *const err_names[SL_CONN_E__COUNT] = {
    "ok", "connect", "reset", "timeout", "protocol",
};

const char *sl_conn_err_name(enum sl_conn_err err)
{
    return (unsigned)err < SL_CONN_E__COUNT ? err_names[err] : "unknown";
}

void sl_conn_init(struct sl_conn *c, uv_loop_t *loop, const struct sl_conn_target *target,
                  char *rbuf, size_t rbuf_size, sl_conn_done_cb on_done, sl_conn_event_cb on_event,
                  sl_conn_closed_cb on_closed, void *data)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->target = target;
    c->rbuf = rbuf;
    c->rbuf_size = rbuf_size;
    c->on_done = on_done;
    c->on_event = on_event;
    c->on_closed = on_closed;
    c->data = data;
    c->hstate = H_NONE;
}

static void on_tcp_close(uv_handle_t *h);

static void close_handle(struct sl_conn *c)
{
    if (c->hstate == H_CONNECTING || c->hstate == H_OPEN) {
        c->hstate = H_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_tcp_close);
    }
}

/* Records the failure of the request in flight and closes the connection;
 * on_tcp_close reports it. */
static void fail(struct sl_conn *c, enum sl_conn_err err, int uv_err, const char *detail)
{
    if (!c->busy || c->pending)
        return;
    c->pending = err;
    c->pending_uv = uv_err;
    c->pending_detail = detail;
    c->pending_ns = uv_hrtime();
    close_handle(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct sl_conn *c = req->handle->data;
    c->writing = 0;
    if (status < 0 && status != UV_ECANCELED)
        fail(c, SL_CONN_E_RESET, status, NULL);
}

static void write_request(struct sl_conn *c)
{
    const struct sl_conn_target *t = c->target;
    uv_buf_t b = uv_buf_init((char *)t->request, (unsigned)t->request_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)t->request_len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        fail(c, SL_CONN_E_RESET, n, NULL);
        return;
    }
    if (n < 0)
        n = 0;
    b = uv_buf_init((char *)t->request + n, (unsigned)(t->request_len - (size_t)n));
    int r = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        fail(c, SL_CONN_E_RESET, r, NULL);
        return;
    }
    c->writing = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct sl_conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->rbuf, (unsigned)c->rbuf_size);
}

/* The response is whole: report it. `close`: the connection cannot carry
 * another request. Nothing may touch c after on_done. */
static void finish(struct sl_conn *c, int close)
{
    struct sl_conn_result r = {SL_CONN_OK,  c->resp.status,    0, NULL, c->start_ns,
                               uv_hrtime(), c->resp.body_bytes};
    if (close || c->writing)
        close_handle(c);
    c->busy = 0;
    c->on_done(c, &r);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sl_conn *c = s->data;
    if (nread == 0 || c->hstate != H_OPEN)
        return;
    if (!c->busy) {
        /* Closed by the server while idle (keep-alive timeout), or bytes
         * nobody asked for: either way this connection is done. */
        close_handle(c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && sl_resp_eof(&c->resp) == SL_RESP_DONE)
            finish(c, 1);
        else
            fail(c, SL_CONN_E_RESET, (int)nread, c->resp.error);
        return;
    }
    uint32_t events = c->resp.events;
    size_t used;
    int rc = sl_resp_feed(&c->resp, buf->base, (size_t)nread, &used);
    if (c->resp.events != events && c->on_event)
        c->on_event(c, uv_hrtime(), c->resp.events - events);
    if (rc == SL_RESP_MORE)
        return;
    if (rc == SL_RESP_ERROR) {
        fail(c, SL_CONN_E_PROTOCOL, 0, c->resp.error);
        return;
    }
    /* Bytes after the response were not asked for: the connection is out
     * of step with us, so it is not reused. */
    finish(c, used < (size_t)nread || !c->resp.keep_alive);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sl_conn *c = req->data;
    if (c->hstate != H_CONNECTING)
        return; /* closed meanwhile (timeout, shutdown): status is UV_ECANCELED */
    if (status < 0) {
        fail(c, SL_CONN_E_CONNECT, status, NULL);
        return;
    }
    c->hstate = H_OPEN;
    c->connects++;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        fail(c, SL_CONN_E_RESET, r, NULL);
        return;
    }
    if (c->busy)
        write_request(c);
}

static void start_connect(struct sl_conn *c)
{
    /* uv_tcp_init cannot fail: AF_UNSPEC creates no socket yet. */
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->connect_req.data = c;
    c->hstate = H_CONNECTING;
    uv_tcp_nodelay(&c->tcp, 1); /* applied when connect creates the socket */
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&c->target->addr,
                           on_connect);
    if (r < 0)
        fail(c, SL_CONN_E_CONNECT, r, NULL);
}

static void on_tcp_close(uv_handle_t *h)
{
    struct sl_conn *c = h->data;
    c->hstate = H_NONE;
    c->writing = 0;
    if (c->shutdown) {
        c->busy = 0;
        c->pending = SL_CONN_OK;
        if (c->on_closed)
            c->on_closed(c);
        return;
    }
    if (c->pending != SL_CONN_OK) {
        struct sl_conn_result r = {c->pending,        0,           c->pending_uv,
                                   c->pending_detail, c->start_ns, c->pending_ns,
                                   c->resp.body_bytes};
        c->pending = SL_CONN_OK;
        c->busy = 0;
        c->on_done(c, &r);
        return;
    }
    if (c->busy)
        start_connect(c); /* a request is waiting for a fresh connection */
}

void sl_conn_send(struct sl_conn *c, uint64_t start_ns)
{
    c->busy = 1;
    c->start_ns = start_ns;
    sl_resp_init(&c->resp, c->target->head_only, c->target->sse);
    switch (c->hstate) {
    case H_OPEN:
        write_request(c);
        break;
    case H_NONE:
        start_connect(c);
        break;
    default:
        /* H_CLOSING: on_tcp_close reconnects. H_CONNECTING cannot happen:
         * a connection is only opened for a request. */
        break;
    }
}

void sl_conn_abort(struct sl_conn *c, enum sl_conn_err err)
{
    fail(c, err, err == SL_CONN_E_TIMEOUT ? UV_ETIMEDOUT : UV_ECANCELED, NULL);
}

int sl_conn_shutdown(struct sl_conn *c)
{
    c->shutdown = 1;
    if (c->hstate == H_NONE)
        return 0;
    close_handle(c);
    return 1;
}
