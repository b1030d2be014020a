/* Lean HTTP/1.1 client for http:// upstreams, on raw libuv.
 *
 * The same requests, callbacks and results as http/client.h (struct
 * sl_http_request, in http/request.h: this lower layer never includes the
 * client above it), without libcurl: sl_http_client sends http:// URLs
 * here and keeps libcurl for https://. It can also be used on its own: one
 * pool per loop, requests started, cancelled and resumed with the
 * functions below, the same contract as their sl_http_request_*
 * counterparts (exactly one on_done per started request, never from
 * inside start or cancel; no header or body callback after a cancel;
 * SL_HTTP_PAUSE holds the refused bytes until resume).
 *
 * Per origin (host:port) it keeps idle keep-alive connections and reuses
 * the most recently used first; the pool caps idle connections and closes
 * them after an idle timeout or as soon as the server closes them. */
#ifndef SL_HTTP_UPSTREAM_H
#define SL_HTTP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/request.h"

struct sl_upstream_pool;

struct sl_upstream_opts {
    unsigned max_idle_connections; /* idle kept-alive connections, all origins; 0: 64 */
    uint32_t idle_timeout_ms;      /* an idle connection is closed after; 0: 60 s */
    uint32_t dns_ttl_ms;           /* a resolved host name is reused for; 0: 60 s */
    size_t max_header_bytes;       /* a larger response head fails the request; 0: 64 KiB,
                                      also the most (http/resp.h's own bound) */
};

/* Counters since the pool was created, and what is open now. */
struct sl_upstream_stats {
    uint64_t requests; /* started */
    uint64_t connects; /* connections opened (connect started) */
    uint64_t reused;   /* requests sent on a kept-alive connection */
    uint64_t retries;  /* requests sent again after a kept-alive connection failed them */
    uint64_t lookups;  /* host name lookups started */
    unsigned open;     /* connections open or closing */
    unsigned idle;     /* of which idle */
};

/* opts may be NULL. Returns 0 or UV_ENOMEM. */
int sl_upstream_new(uv_loop_t *loop, const struct sl_upstream_opts *opts,
                    struct sl_upstream_pool **out);

/* Cancels every request in flight (each gets on_done with SL_E_CANCELLED
 * and the message "client closed"), closes every connection, waits for
 * name lookups in flight, frees the pool, then calls cb (may be NULL) from
 * the loop. The pool must not be used after this call. */
void sl_upstream_close(struct sl_upstream_pool *pool, void (*cb)(void *arg), void *arg);

/* Resolves r->url (an http:// URL, which must outlive r) into r: its
 * origin in this pool and its request target, for requests started with
 * req->route = r. Returns 0, UV_EINVAL (not an http:// URL sluice can
 * use) or UV_ENOMEM. r is valid as long as the pool. */
int sl_upstream_route(struct sl_upstream_pool *pool, struct sl_http_route *r);

/* Starts a request to an http:// URL (req->url, or req->route resolved
 * by sl_upstream_route on this pool). Returns 0, after which on_done is
 * called exactly once and never from inside this call (a URL or header
 * that cannot be sent ends in on_done with SL_E_BAD_REQUEST); or
 * UV_EINVAL (no url nor route, or no on_done), UV_EBUSY (in flight), UV_ESHUTDOWN
 * (pool closing), UV_ENOMEM, after which no callback is called. */
int sl_upstream_start(struct sl_upstream_pool *pool, struct sl_http_request *req);

/* As sl_http_request_cancel: the connection is closed at once (the
 * upstream sees the disconnect) and on_done follows from the loop with
 * SL_E_CANCELLED. Does nothing when the request is not in flight. */
void sl_upstream_cancel(struct sl_http_request *req);

/* As sl_http_request_resume: the refused bytes are delivered again from
 * the loop, never from inside this call. */
void sl_upstream_resume(struct sl_http_request *req);

void sl_upstream_stats(const struct sl_upstream_pool *pool, struct sl_upstream_stats *out);

#endif
