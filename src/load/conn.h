/* One keep-alive HTTP/1.1 client connection of the load generator.
 *
 * A connection carries one request at a time. The request bytes are
 * formatted once by the caller (struct sl_conn_target) and written as is
 * on every request, with uv_try_write first (no request object, no copy);
 * only a partial write falls back to uv_write. Responses are read into a
 * buffer shared by all connections of the loop (each read is parsed
 * before the next one starts) and parsed incrementally (http/resp.h).
 *
 * Lifecycle: a connection is opened lazily by the first request, reused
 * while the server keeps it alive, closed when the server closes it, says
 * `Connection: close`, sends bytes we did not ask for, or the request
 * fails; the next request on it reconnects (connect time then counts in
 * that request's latency, as it would for a real client).
 *
 * Invariants and ownership:
 * - The caller owns the struct (usually an array of them) and must keep it
 *   until on_closed after sl_conn_shutdown (or until the loop is done).
 * - on_done runs exactly once per sl_conn_send, never from inside
 *   sl_conn_send; the callee may call sl_conn_send again from on_done.
 * - Every failure closes the handle first and is reported from the close
 *   callback, so a failed connection is fully closed before the caller
 *   can reuse it, and no failure recurses into the caller.
 * - The uv_tcp_t is re-initialised only after its close callback. */
#ifndef SL_CONN_H
#define SL_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "http/resp.h"

enum sl_conn_err {
    SL_CONN_OK = 0,
    SL_CONN_E_CONNECT,  /* could not connect: refused, unreachable, no route */
    SL_CONN_E_RESET,    /* the connection failed or closed before the response was whole */
    SL_CONN_E_TIMEOUT,  /* no whole response within the timeout (sl_conn_abort) */
    SL_CONN_E_PROTOCOL, /* the response was not valid HTTP/1.x */
    SL_CONN_E__COUNT
};

/* Shared by every connection; must outlive them. */
struct sl_conn_target {
    struct sockaddr_storage addr;
    const char *request;
    size_t request_len;
    int head_only; /* HEAD request: responses have no body */
    int sse;       /* count `data:` events in response bodies */
};

struct sl_conn_result {
    enum sl_conn_err err;
    int status;         /* HTTP status when err == SL_CONN_OK */
    int uv_err;         /* the libuv error behind err, or 0 */
    const char *detail; /* the parser's reason for SL_CONN_E_PROTOCOL */
    uint64_t start_ns;  /* as given to sl_conn_send */
    uint64_t end_ns;    /* uv_hrtime() when the response completed or the error happened */
    uint64_t body_bytes;
};

struct sl_conn;
typedef void (*sl_conn_done_cb)(struct sl_conn *c, const struct sl_conn_result *r);
/* new_events `data:` events completed in one read, at now_ns. */
typedef void (*sl_conn_event_cb)(struct sl_conn *c, uint64_t now_ns, uint32_t new_events);
typedef void (*sl_conn_closed_cb)(struct sl_conn *c);

/* Fields are private; `data` is the caller's. */
struct sl_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_loop_t *loop;
    const struct sl_conn_target *target;
    sl_conn_done_cb on_done;
    sl_conn_event_cb on_event;
    sl_conn_closed_cb on_closed;
    char *rbuf;
    size_t rbuf_size;
    void *data;
    uint64_t start_ns;
    uint64_t connects; /* successful connects so far */
    uint8_t hstate, busy, writing, shutdown;
    enum sl_conn_err pending;
    int pending_uv;
    uint64_t pending_ns;
    const char *pending_detail;
    struct sl_resp resp;
};

void sl_conn_init(struct sl_conn *c, uv_loop_t *loop, const struct sl_conn_target *target,
                  char *rbuf, size_t rbuf_size, sl_conn_done_cb on_done, sl_conn_event_cb on_event,
                  sl_conn_closed_cb on_closed, void *data);

/* Sends the request (connecting first if needed). Precondition: not busy.
 * start_ns is the origin of the latency that on_done reports. */
void sl_conn_send(struct sl_conn *c, uint64_t start_ns);

static inline int sl_conn_busy(const struct sl_conn *c)
{
    return c->busy;
}

/* Whether the request in flight can still be aborted (busy and not
 * already failing). */
static inline int sl_conn_abortable(const struct sl_conn *c)
{
    return c->busy && !c->pending;
}

/* Fails the request in flight with err (closing the connection); its
 * on_done follows from a callback. No-op when not abortable. */
void sl_conn_abort(struct sl_conn *c, enum sl_conn_err err);

/* Closes for good; a request in flight is dropped without on_done.
 * Returns 1 if on_closed will be called, 0 if nothing was open (then it
 * is not called and the struct may be freed at once). */
int sl_conn_shutdown(struct sl_conn *c);

const char *sl_conn_err_name(enum sl_conn_err err);

#endif
