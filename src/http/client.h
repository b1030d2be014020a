/* HTTP client to upstreams, on the libuv loop.
 *
 * One sl_http_client per loop; it keeps the connections to upstreams alive
 * and reuses them. A request is a caller-owned struct sl_http_request: fill
 * it in, start it, and get exactly one on_done, with the status and an
 * error class (core/errclass.h) the retry engine decides on. The body is
 * streamed to on_body as it arrives; on_body may pause delivery
 * (backpressure) until sl_http_request_resume(). A request in flight can be
 * cancelled: its upstream connection is closed at once, so the upstream
 * sees the client go away.
 *
 * HTTP/1.1 and HTTPS (over HTTP/1.1, so that a cancel is a disconnect, not
 * a stream reset on a shared connection). Nothing outside src/http/ sees
 * the libraries underneath: http:// URLs go to a lean client on raw libuv
 * (http/upstream.h, a fraction of libcurl's CPU per request), https:// ones
 * to libcurl. */
#ifndef SL_HTTP_CLIENT_H
#define SL_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/request.h"

struct sl_http_client;
struct sl_http_client_opts {
    unsigned max_idle_connections; /* kept-alive connections cached; 0: 64 */
    unsigned max_host_connections; /* open at once per host (more wait); 0: unlimited */
    size_t max_header_bytes;       /* a larger response header block fails; 0: 64 KiB */
    /* 1: http:// through libcurl too, not the lean client. Also the case
     * when max_host_connections is set: only libcurl honours it. */
    int http_via_libcurl;
};

/* opts may be NULL. Returns 0 or UV_ENOMEM / UV_EIO (libcurl failed). */
int sl_http_client_new(uv_loop_t *loop, const struct sl_http_client_opts *opts,
                       struct sl_http_client **out);

typedef void (*sl_http_client_close_cb)(void *arg);

/* Cancels every request in flight (each gets on_done with SL_E_CANCELLED),
 * closes all connections and handles, frees the client, then calls cb (may
 * be NULL). The client must not be used after this call. */
void sl_http_client_close(struct sl_http_client *client, sl_http_client_close_cb cb, void *arg);

/* Resolves url once, for requests started with req->route set to *out:
 * the client that runs it (the lean one for http://, unless told
 * otherwise) and, for the lean one, its origin and connection pool. The
 * route is the client's, valid until the client is closed. Returns 0, or
 * UV_EINVAL (a URL the lean client cannot use), UV_ENOMEM, UV_ESHUTDOWN. */
int sl_http_client_route(struct sl_http_client *client, const char *url,
                         const struct sl_http_route **out);

/* Starts a request. Returns 0, after which on_done is called exactly once
 * and never from inside this call; or UV_EINVAL (no url nor route, or no on_done),
 * UV_EBUSY (already in flight), UV_ESHUTDOWN (client closing), UV_ENOMEM,
 * after which no callback is called. */
int sl_http_request_start(struct sl_http_client *client, struct sl_http_request *req);

/* Aborts a request in flight: no header or body callback runs after this
 * returns, the upstream connection is closed (at once, or when called from
 * one of this client's callbacks, as soon as that returns), and on_done
 * follows from the loop with SL_E_CANCELLED. Does nothing when the request
 * is not in flight or already cancelled. */
void sl_http_request_cancel(struct sl_http_request *req);

/* Resumes body delivery paused by SL_HTTP_PAUSE. The chunk that was refused
 * is delivered again from the loop, never from inside this call. */
void sl_http_request_resume(struct sl_http_request *req);

#endif
