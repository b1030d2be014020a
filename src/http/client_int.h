/* The HTTP client's private parts, shared by the wrapper (http/client.c:
 * the public API, which sends each request to the lean client or to
 * libcurl) and the libcurl adapter (http/curl.c). Not for use outside them. */
#ifndef SL_HTTP_CLIENT_INT_H
#define SL_HTTP_CLIENT_INT_H

#include <curl/curl.h>
#include <uv.h>

#include "core/list.h"
#include "http/client.h"
#include "http/upstream.h"

struct sl_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;         /* libcurl's wake-up */
    uv_idle_t idle;           /* drains `deferred`, then finishes a close */
    struct sl_list xfers;     /* requests in flight */
    struct sl_list deferred;  /* xfers with work to do outside libcurl */
    int epfd;                 /* the sockets libcurl asked us to watch */
    uv_poll_t epoll;          /* watches epfd */
    unsigned char *fd_events; /* by fd: the epoll events registered */
    size_t nfd;
    size_t max_header_bytes;
    CURL *spare[32]; /* reset easy handles, reused: init and cleanup cost more */
    int nspare;
    int in_curl;
    unsigned handles; /* open uv handles, ours and the xfers' */
    int closing;
    int torn_down; /* the multi handle is gone */
    sl_http_client_close_cb close_cb;
    void *close_arg;
    struct sl_upstream_pool *lean; /* http:// requests; NULL until the first */
    struct sl_http_route *routes;  /* made by sl_http_client_route, freed with the client */
    struct sl_upstream_opts lean_opts;
    int http_via_libcurl;
};

/* curl.c: libcurl's side of a new client (c->loop set). Returns 0, or
 * UV_EIO / a uv error with nothing of it left. */
int sl__curl_init(struct sl_http_client *c, const struct sl_http_client_opts *opts);
/* curl.c: cancels every libcurl request (on_done with SL_E_CANCELLED) and
 * tears libcurl down from the loop; the client is freed once every handle
 * is closed (sl__http_client_maybe_free). */
void sl__curl_close(struct sl_http_client *c);
/* curl.c: as sl_http_request_start, for a request libcurl runs. */
int sl__curl_start(struct sl_http_client *c, struct sl_http_request *req);
/* curl.c: as sl_http_request_cancel / _resume, for req->xfer set. */
void sl__curl_cancel(struct sl_http_request *req);
void sl__curl_resume(struct sl_http_request *req);
/* curl.c: frees a closed client once its last handle is closed. */
void sl__http_client_maybe_free(struct sl_http_client *c);

#endif
