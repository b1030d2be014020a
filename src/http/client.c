/* The HTTP client's public face: one sl_http_client per loop that runs
 * each request on the lean client (http/upstream.h: http:// URLs, unless
 * opts.http_via_libcurl or max_host_connections) or on libcurl (the
 * adapter, http/curl.c: https://, and http:// when told). The lean pool is
 * created by the first http:// route or request, and counts as one of the
 * client's handles until it is closed. A request is the lean client's
 * exactly while req->uxfer is set, libcurl's while req->xfer is: start,
 * cancel and resume dispatch on that, so callers see one client. Routes
 * (sl_http_client_route) make that choice once, at start-up. */
#include "http/client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/client_int.h"

int sl_http_client_new(uv_loop_t *loop, const struct sl_http_client_opts *opts,
                       struct sl_http_client **out)
{
    struct sl_http_client_opts o = opts ? *opts : (struct sl_http_client_opts){0};
    struct sl_http_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return UV_ENOMEM;
    c->loop = loop;
    c->max_header_bytes = o.max_header_bytes ? o.max_header_bytes : 64 * 1024;
    c->lean_opts = (struct sl_upstream_opts){.max_idle_connections = o.max_idle_connections,
                                             .max_header_bytes = c->max_header_bytes};
    c->http_via_libcurl = o.http_via_libcurl || o.max_host_connections;
    int rc = sl__curl_init(c, &o);
    if (rc != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void lean_closed(void *arg)
{
    struct sl_http_client *c = arg;
    c->lean = NULL;
    c->handles--;
    sl__http_client_maybe_free(c);
}

void sl_http_client_close(struct sl_http_client *c, sl_http_client_close_cb cb, void *arg)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    if (c->lean)
        sl_upstream_close(c->lean, lean_closed, c);
    sl__curl_close(c);
}

static int lean_pool(struct sl_http_client *c)
{
    if (c->lean == NULL) {
        int rc = sl_upstream_new(c->loop, &c->lean_opts, &c->lean);
        if (rc != 0)
            return rc;
        c->handles++; /* until lean_closed */
    }
    return 0;
}

static int start_lean(struct sl_http_client *c, struct sl_http_request *req)
{
    int rc = lean_pool(c);
    return rc != 0 ? rc : sl_upstream_start(c->lean, req);
}

/* Whether a URL is the lean client's: http:// unless told otherwise. */
static int is_lean(const struct sl_http_client *c, const char *url)
{
    return !c->http_via_libcurl && strncasecmp(url, "http://", 7) == 0;
}

int sl_http_client_route(struct sl_http_client *c, const char *url,
                         const struct sl_http_route **out)
{
    if (c->closing)
        return UV_ESHUTDOWN;
    struct sl_http_route *r = calloc(1, sizeof(*r));
    char *copy = strdup(url);
    int rc = UV_ENOMEM;
    if (r == NULL || copy == NULL)
        goto fail;
    r->url = copy;
    r->lean = is_lean(c, url);
    if (r->lean && ((rc = lean_pool(c)) != 0 || (rc = sl_upstream_route(c->lean, r)) != 0))
        goto fail;
    r->next = c->routes;
    c->routes = r;
    *out = r;
    return 0;

fail:
    free(copy);
    free(r);
    return rc;
}

int sl_http_request_start(struct sl_http_client *c, struct sl_http_request *req)
{
    if ((req->url == NULL && req->route == NULL) || req->on_done == NULL)
        return UV_EINVAL;
    if (req->xfer || req->uxfer)
        return UV_EBUSY;
    if (c->closing)
        return UV_ESHUTDOWN;
    if (req->route ? req->route->lean : is_lean(c, req->url))
        return start_lean(c, req);
    return sl__curl_start(c, req);
}

void sl_http_request_cancel(struct sl_http_request *req)
{
    if (req->uxfer)
        sl_upstream_cancel(req);
    else if (req->xfer)
        sl__curl_cancel(req);
}

void sl_http_request_resume(struct sl_http_request *req)
{
    if (req->uxfer)
        sl_upstream_resume(req);
    else if (req->xfer)
        sl__curl_resume(req);
}
