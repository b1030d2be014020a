/* The HTTP client's libcurl adapter: libcurl's multi interface driven by
 * the libuv loop, for https:// (and http:// when the client is told so;
 * the wrapper, http/client.c, decides).
 *
 * Design
 *  - One CURLM per client. libcurl tells us which sockets to watch
 *    (CURLMOPT_SOCKETFUNCTION: they go into a private epoll set that one
 *    uv_poll watches, see "Sockets" below) and when to wake it up
 *    (CURLMOPT_TIMERFUNCTION: one uv_timer). Every socket and timer event
 *    calls curl_multi_socket_action, then reaps finished transfers with
 *    curl_multi_info_read. The multi handle owns the connection cache, so
 *    a request reuses an idle kept-alive connection to the same host.
 *  - One `struct sl_http_xfer` per request in flight: the easy handle, the
 *    request's header list, the response header block, an optional
 *    first-byte uv_timer. The caller owns the sl_http_request; the client
 *    owns the xfer, from start until its last handle is closed.
 *
 * Invariants
 *  - curl_multi_remove_handle and curl_multi_cleanup never run inside a
 *    libcurl callback. `in_curl` counts the calls into libcurl that can call
 *    back into us (socket_action, easy_pause). A cancel that arrives while
 *    in_curl makes the transfer's next write or header callback return 0,
 *    which fails it inside libcurl (a failed HTTP/1.1 transfer closes its
 *    connection); anything else waits on the `deferred` list, which a
 *    uv_idle drains on the next loop turn. Outside libcurl, a cancel sets
 *    CURLOPT_FORBID_REUSE and removes the handle at once: libcurl closes the
 *    socket before returning, and the upstream sees EOF.
 *  - on_done runs exactly once per started request, always from a loop
 *    event (poll, timer, idle), never from inside a call the user made.
 *    After it no callback touches the request.
 *  - An xfer leaves `xfers` when its on_done runs and is freed when its
 *    timer (if it had one) is closed. The client is freed when the last of
 *    its handles (timer, idle, epoll poll, xfer timers) is closed;
 *    `handles` counts them. The epoll fd is closed after its poll.
 *  - Only HTTP/1.1 is spoken, also over TLS: with HTTP/2 a cancel would
 *    reset one stream on a shared connection instead of disconnecting.
 *  - The client's handles also count the lean client's pool (the
 *    wrapper's), so that the client is freed after both. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/list.h"
#include "http/client_int.h"

struct sl_http_xfer {
    struct sl_http_client *client;
    struct sl_http_request *req;
    CURL *easy;
    struct curl_slist *req_headers;
    struct sl_list node;     /* in client->xfers */
    struct sl_list deferred; /* in client->deferred, or unlinked */
    uv_timer_t first_byte_timer;
    struct sl_buf hdr; /* response header lines of the current block */
    uint64_t start_ns, first_byte_ns;
    uint64_t body_bytes;
    enum sl_err err; /* set by an abort */
    int status;
    unsigned in_multi : 1, has_timer : 1, connected : 1, headers_done : 1, aborting : 1,
        resume_pending : 1;
    char message[128];
    char errbuf[CURL_ERROR_SIZE];
};

void sl__http_client_maybe_free(struct sl_http_client *c)
{
    if (c->handles != 0 || !c->torn_down)
        return;
    sl_http_client_close_cb cb = c->close_cb;
    void *arg = c->close_arg;
    while (c->routes) {
        struct sl_http_route *r = c->routes;
        c->routes = r->next;
        free((char *)r->url);
        free(r);
    }
    free(c->fd_events);
    free(c);
    if (cb)
        cb(arg);
}

static void handle_closed(uv_handle_t *h)
{
    struct sl_http_client *c = h->data;
    c->handles--;
    sl__http_client_maybe_free(c);
}

/* Sockets
 *
 * The sockets libcurl asks us to watch go into a private epoll set, and one
 * uv_poll watches that set. A uv_poll per socket works too, but libcurl
 * stops watching a kept-alive connection after each response
 * (CURL_POLL_REMOVE) and watches it again for the next one, and each time
 * that cost a handle allocated and closed, an ioctl and 6 epoll_ctl calls
 * (libuv checks the fd on init, and re-adds it on every start). Keeping the
 * uv_poll across REMOVE is not safe: libcurl 7.88 may close a connecting
 * socket before its REMOVE, and a registration still pending for it makes
 * libuv abort. Here the kernel simply drops a closed fd from the set, our
 * record of it may be stale, and epoll_ctl errors are handled instead:
 * about one epoll_ctl per request remains (see unwatch_lazily).
 * Linux-only, as sluice is. */

static int fd_events_grow(struct sl_http_client *c, curl_socket_t fd)
{
    size_t n = c->nfd ? c->nfd : 64;
    while (n <= (size_t)fd)
        n *= 2;
    unsigned char *ev = realloc(c->fd_events, n);
    if (ev == NULL)
        return UV_ENOMEM;
    memset(ev + c->nfd, 0, n - c->nfd);
    c->fd_events = ev;
    c->nfd = n;
    return 0;
}

#define WANTED 0x80 /* in fd_events: libcurl watches it (else it is left over) */

/* Asks epoll for `events` (EPOLLIN | EPOLLOUT) on fd. What we recorded as
 * registered can be stale after libcurl closed the fd (the kernel drops it
 * silently and the number may be reused), so ADD and MOD fall back on each
 * other. */
static int watch(struct sl_http_client *c, curl_socket_t fd, unsigned events)
{
    if (fd < 0 || ((size_t)fd >= c->nfd && fd_events_grow(c, fd) != 0))
        return -1;
    if (c->fd_events[fd] == (events | WANTED))
        return 0; /* no change while libcurl watches it */
    struct epoll_event e = {.events = events, .data.fd = fd};
    int op = c->fd_events[fd] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(c->epfd, op, fd, &e);
    if (rc != 0)
        rc = epoll_ctl(c->epfd, op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &e);
    c->fd_events[fd] = rc == 0 ? (unsigned char)(events | WANTED) : 0;
    return rc;
}

/* libcurl said REMOVE. Most often that is a kept-alive connection between
 * two requests, watched again a moment later: so it stays registered, and
 * is removed only if it fires while unwanted (the upstream closed it). */
static void unwatch_lazily(struct sl_http_client *c, curl_socket_t fd)
{
    if (fd >= 0 && (size_t)fd < c->nfd)
        c->fd_events[fd] &= (unsigned char)~WANTED;
}

static void unwatch_now(struct sl_http_client *c, int fd)
{
    struct epoll_event e = {0};
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, &e); /* fails if closed already: fine */
    if ((size_t)fd < c->nfd)
        c->fd_events[fd] = 0;
}

static void check_multi_info(struct sl_http_client *c);

static void socket_action(struct sl_http_client *c, curl_socket_t fd, int ev_bitmask)
{
    int running;
    c->in_curl++;
    curl_multi_socket_action(c->multi, fd, ev_bitmask, &running);
    c->in_curl--;
    check_multi_info(c);
}

static void on_epoll(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    struct sl_http_client *c = h->data;
    struct epoll_event ev[64];
    int n = epoll_wait(c->epfd, ev, 64, 0);
    for (int i = 0; i < n && !c->torn_down; i++) {
        int fd = ev[i].data.fd;
        uint32_t e = ev[i].events;
        if ((size_t)fd >= c->nfd || !(c->fd_events[fd] & WANTED)) {
            unwatch_now(c, fd);
            continue;
        }
        /* A bare error or hang-up is reported as what was asked for, so
         * that libcurl reads or writes and finds out (libuv does the same). */
        if (e & (EPOLLERR | EPOLLHUP))
            e |= c->fd_events[fd] & (EPOLLIN | EPOLLOUT);
        int flags = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (e & EPOLLERR ? CURL_CSELECT_ERR : 0);
        /* An fd removed while handling an earlier event of this batch is
         * unknown to libcurl by now, and it ignores it. */
        socket_action(c, fd, flags);
    }
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    unsigned events = 0;
    if (what & CURL_POLL_IN)
        events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        events |= EPOLLOUT;
    if (what == CURL_POLL_REMOVE) {
        unwatch_lazily(userp, fd);
        return 0;
    }
    return watch(userp, fd, events);
}

static void on_timeout(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct sl_http_client *c = userp;
    if (c->torn_down)
        return 0;
    /* A 0 ms timer still fires from the loop, never inside this call: that
     * is what libcurl asks for. */
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Transfers */

static void on_idle(uv_idle_t *h);

static void defer(struct sl_http_xfer *x)
{
    struct sl_http_client *c = x->client;
    if (!sl_list_linked(&x->deferred))
        sl_list_push_back(&c->deferred, &x->deferred);
    uv_idle_start(&c->idle, on_idle);
}

static void xfer_timer_closed(uv_handle_t *h)
{
    struct sl_http_xfer *x =
        sl_container_of((uv_timer_t *)h, struct sl_http_xfer, first_byte_timer);
    struct sl_http_client *c = x->client;
    free(x);
    c->handles--;
    sl__http_client_maybe_free(c);
}

/* Takes the transfer out of libcurl. Outside libcurl only. A transfer still
 * running is closed with its connection: FORBID_REUSE makes sure of it even
 * when the response happened to be complete. */
static void detach(struct sl_http_xfer *x)
{
    if (!x->in_multi)
        return;
    if (x->aborting)
        curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
    curl_multi_remove_handle(x->client->multi, x->easy);
    x->in_multi = 0;
}

static CURL *easy_get(struct sl_http_client *c)
{
    return c->nspare ? c->spare[--c->nspare] : curl_easy_init();
}

static void easy_put(struct sl_http_client *c, CURL *easy)
{
    if (c->nspare < (int)(sizeof(c->spare) / sizeof(c->spare[0])) && !c->closing) {
        curl_easy_reset(easy);
        c->spare[c->nspare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* Calls on_done and releases the xfer. The handle is out of the multi. */
static void finish(struct sl_http_xfer *x, const struct sl_http_result *res)
{
    struct sl_http_client *c = x->client;
    struct sl_http_request *req = x->req;
    sl_list_remove(&x->node);
    if (sl_list_empty(&c->xfers))
        uv_unref((uv_handle_t *)&c->epoll);
    if (sl_list_linked(&x->deferred))
        sl_list_remove(&x->deferred);
    req->xfer = NULL;
    x->req = NULL;
    req->on_done(req, res);

    easy_put(c, x->easy);
    curl_slist_free_all(x->req_headers);
    sl_buf_release(&x->hdr);
    if (x->has_timer) {
        uv_close((uv_handle_t *)&x->first_byte_timer, xfer_timer_closed);
        return;
    }
    free(x);
    sl__http_client_maybe_free(c);
}

static void result_init(struct sl_http_xfer *x, struct sl_http_result *res)
{
    uint64_t now = uv_hrtime();
    *res = (struct sl_http_result){
        .err = x->err,
        .status = x->headers_done ? x->status : 0,
        .message = x->message,
        .body_bytes = x->body_bytes,
        .first_byte_ns = x->first_byte_ns ? x->first_byte_ns - x->start_ns : 0,
        .total_ns = now - x->start_ns,
    };
}

/* Maps how libcurl ended a transfer to the error classes the retry engine
 * knows. Connection-level failures keep refused (never reached the
 * upstream: safe to retry anywhere) apart from reset (the upstream may have
 * seen the request). */
static enum sl_err classify(struct sl_http_xfer *x, CURLcode code)
{
    const struct sl_http_request *req = x->req;
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
    switch (code) {
    case CURLE_OK:
        x->message[0] = '\0';
        return SL_OK;
    case CURLE_OPERATION_TIMEDOUT:
        /* One code for both libcurl timeouts: a transfer that never got
         * connected hit the connect timeout, unless the total one is
         * shorter. */
        if (!x->connected && req->connect_timeout_ms &&
            (!req->total_timeout_ms || req->connect_timeout_ms <= req->total_timeout_ms))
            snprintf(x->message, sizeof(x->message), "connect timeout after %u ms",
                     (unsigned)req->connect_timeout_ms);
        else if (req->total_timeout_ms)
            snprintf(x->message, sizeof(x->message), "total timeout after %u ms",
                     (unsigned)req->total_timeout_ms);
        else
            snprintf(x->message, sizeof(x->message), "connect timeout: %s", why);
        return SL_E_TIMEOUT;
    default:
        break;
    }
    snprintf(x->message, sizeof(x->message), "%s", why);
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return SL_E_CONN_REFUSED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return SL_E_CONN_RESET;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return SL_E_BAD_REQUEST;
    default:
        break;
    }
    /* A reset in the middle of a TLS handshake is still a reset. */
    long os_errno = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno == ECONNRESET || os_errno == EPIPE)
        return SL_E_CONN_RESET;
    /* TLS failures, malformed responses: the upstream misbehaved. */
    return SL_E_BAD_GATEWAY;
}

static void check_multi_info(struct sl_http_client *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct sl_http_xfer *x;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = msg->data.result; /* msg dies with the remove */
        curl_multi_remove_handle(c->multi, x->easy);
        x->in_multi = 0;
        if (x->aborting)
            continue; /* on the deferred list: finished there */
        if (x->has_timer)
            uv_timer_stop(&x->first_byte_timer);
        x->err = classify(x, code);
        struct sl_http_result res;
        result_init(x, &res);
        long connects = 0;
        curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
        res.reused = x->connected && connects == 0;
        finish(x, &res);
    }
}

/* Stops a request from our side (cancel, first-byte timeout, close). */
static void xfer_abort(struct sl_http_xfer *x, enum sl_err err, const char *message)
{
    if (x->aborting)
        return;
    x->aborting = 1;
    x->err = err;
    snprintf(x->message, sizeof(x->message), "%s", message);
    if (x->has_timer)
        uv_timer_stop(&x->first_byte_timer);
    if (!x->client->in_curl)
        detach(x);
    defer(x);
}

static void on_first_byte_timeout(uv_timer_t *t)
{
    struct sl_http_xfer *x = t->data;
    char msg[64];
    snprintf(msg, sizeof(msg), "first byte timeout after %u ms",
             (unsigned)x->req->first_byte_timeout_ms);
    xfer_abort(x, SL_E_TIMEOUT, msg);
}

static void epoll_closed(uv_handle_t *h)
{
    struct sl_http_client *c = h->data;
    close(c->epfd); /* only now: libuv watched it until the close */
    handle_closed(h);
}

static void teardown(struct sl_http_client *c)
{
    c->torn_down = 1;
    while (c->nspare)
        curl_easy_cleanup(c->spare[--c->nspare]);
    curl_multi_cleanup(c->multi); /* closes the cached connections */
    c->multi = NULL;
    curl_global_cleanup();
    uv_close((uv_handle_t *)&c->epoll, epoll_closed);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    uv_close((uv_handle_t *)&c->idle, handle_closed);
}

static void on_idle(uv_idle_t *h)
{
    struct sl_http_client *c = h->data;
    struct sl_list *node;
    while ((node = sl_list_pop_front(&c->deferred)) != NULL) {
        struct sl_http_xfer *x = sl_container_of(node, struct sl_http_xfer, deferred);
        if (x->aborting) {
            detach(x);
            struct sl_http_result res;
            result_init(x, &res);
            finish(x, &res);
        } else if (x->resume_pending) {
            x->resume_pending = 0;
            c->in_curl++;
            curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver the held chunk */
            c->in_curl--;
            check_multi_info(c);
        }
    }
    uv_idle_stop(h);
    if (c->closing && !c->torn_down && sl_list_empty(&c->xfers))
        teardown(c);
}

/* libcurl callbacks for one transfer */

static int on_prereq(void *clientp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    struct sl_http_xfer *x = clientp;
    x->connected = 1; /* connected (or reused), about to send */
    return CURL_PREREQFUNC_OK;
}

static void call_on_headers(void *arg, const struct sl_http_header *fields, size_t n)
{
    struct sl_http_xfer *x = arg;
    x->req->on_headers(x->req, x->status, fields, n);
}

/* Splits the header block (lines "Name: value\r\n") in place and hands it
 * to on_headers. */
static void deliver_headers(struct sl_http_xfer *x)
{
    x->headers_done = 1;
    if (x->req->on_headers && sl_http_head_fields(x->hdr.ptr, x->hdr.len, call_on_headers, x) < 0)
        xfer_abort(x, SL_E_BAD_GATEWAY, "out of memory for response headers");
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sl_http_xfer *x = userdata;
    size_t len = size * nmemb;
    if (x->aborting)
        return 0; /* fails the transfer, which closes its connection */
    if (x->first_byte_ns == 0) {
        x->first_byte_ns = uv_hrtime();
        if (x->has_timer)
            uv_timer_stop(&x->first_byte_timer);
    }
    if (x->headers_done)
        return len; /* trailers */
    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        /* A status line starts a block: an interim 1xx one, or the final. */
        const char *sp = memchr(ptr, ' ', len);
        x->status = sp ? atoi(sp + 1) : 0;
        sl_buf_reset(&x->hdr);
        return len;
    }
    if (len <= 2 && (ptr[0] == '\r' || ptr[0] == '\n')) {
        if (x->status >= 200)
            deliver_headers(x);
        return x->aborting ? 0 : len;
    }
    if (sl_buf_append(&x->hdr, ptr, len) != 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "response headers over %zu bytes", x->hdr.max);
        xfer_abort(x, SL_E_BAD_GATEWAY, msg);
        return 0;
    }
    return len;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sl_http_xfer *x = userdata;
    struct sl_http_request *req = x->req;
    size_t len = size * nmemb;
    if (x->aborting)
        return 0;
    if (!x->headers_done)
        deliver_headers(x); /* a response without a blank line (HTTP/0.9) */
    if (req->on_body && !x->aborting) {
        if (req->on_body(req, ptr, len) == SL_HTTP_PAUSE && !x->aborting)
            return CURL_WRITEFUNC_PAUSE;
    }
    if (x->aborting)
        return 0;
    x->body_bytes += len;
    return len;
}

/* "Name: value" for curl_slist_append, which copies it. */
static int add_header(struct curl_slist **list, const struct sl_http_header *f)
{
    size_t nl = f->name.len, vl = f->value.len;
    char small[256], *line = nl + vl + 3 <= sizeof(small) ? small : malloc(nl + vl + 3);
    if (line == NULL)
        return UV_ENOMEM;
    memcpy(line, f->name.ptr, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, f->value.ptr, vl);
    line[nl + 2 + vl] = '\0';
    struct curl_slist *l = curl_slist_append(*list, line);
    if (line != small)
        free(line);
    if (l == NULL)
        return UV_ENOMEM;
    *list = l;
    return 0;
}

static int setup_easy(struct sl_http_xfer *x, const struct sl_http_request *req)
{
    CURL *e = x->easy;
    const char *method = req->method ? req->method : req->body ? "POST" : "GET";
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_URL, req->route ? req->route->url : req->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* upstreams are reached directly, whatever the env */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    if (req->connect_timeout_ms)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
    if (req->total_timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->total_timeout_ms);
    int is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
    if (req->body || is_post) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (!is_post && !(is_get && req->body == NULL))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method); /* also a GET with a body */
    int rc = 0;
    for (size_t i = 0; i < req->n_headers && rc == 0; i++)
        rc = add_header(&x->req_headers, &req->headers[i]);
    /* No "Expect: 100-continue" round trip before a large body. */
    struct curl_slist *l = rc == 0 ? curl_slist_append(x->req_headers, "Expect:") : NULL;
    if (l)
        x->req_headers = l;
    else if (rc == 0)
        rc = UV_ENOMEM;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    return rc;
}

/* Sets up libcurl's side of a new client: the multi handle, the epoll
 * set and its poll, the timer and the idle handle. Returns 0, or UV_EIO
 * (libcurl failed) / a uv error, with nothing of it left. */
int sl__curl_init(struct sl_http_client *c, const struct sl_http_client_opts *opts)
{
    const struct sl_http_client_opts o = *opts;
    uv_loop_t *loop = c->loop;
    int rc = UV_EIO;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return rc;
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        goto fail_global;
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd < 0)
        goto fail_multi;
    if ((rc = uv_poll_init(loop, &c->epoll, c->epfd)) != 0)
        goto fail_epfd;
    sl_list_init(&c->xfers);
    sl_list_init(&c->deferred);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      (long)(o.max_idle_connections ? o.max_idle_connections : 64));
    if (o.max_host_connections)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.max_host_connections);
    /* The handles live as long as the client; timer and idle cannot fail to
     * init on a live loop. The poll is referenced only while requests are
     * in flight: idle kept-alive connections do not keep the loop alive. */
    uv_timer_init(loop, &c->timer);
    uv_idle_init(loop, &c->idle);
    c->timer.data = c->idle.data = c->epoll.data = c;
    uv_poll_start(&c->epoll, UV_READABLE, on_epoll);
    uv_unref((uv_handle_t *)&c->epoll);
    c->handles = 3;
    return 0;

fail_epfd:
    close(c->epfd);
fail_multi:
    curl_multi_cleanup(c->multi);
fail_global:
    curl_global_cleanup();
    return rc;
}

/* Starts a request on libcurl (the wrapper checked it). */
int sl__curl_start(struct sl_http_client *c, struct sl_http_request *req)
{
    int rc = UV_ENOMEM;
    struct sl_http_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL)
        goto fail;
    x->client = c;
    x->req = req;
    x->start_ns = uv_hrtime();
    sl_buf_init(&x->hdr, c->max_header_bytes);
    x->easy = easy_get(c);
    if (x->easy == NULL)
        goto fail_free;
    if ((rc = setup_easy(x, req)) != 0)
        goto fail_easy;
    rc = UV_EIO;
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
        goto fail_easy;
    x->in_multi = 1;
    if (req->first_byte_timeout_ms) {
        uv_timer_init(c->loop, &x->first_byte_timer);
        x->first_byte_timer.data = x;
        x->has_timer = 1;
        c->handles++;
        /* the loop's cached time lags after a long callback: a timer set
         * from it would fire early */
        uv_update_time(c->loop);
        uv_timer_start(&x->first_byte_timer, on_first_byte_timeout, req->first_byte_timeout_ms, 0);
    }
    if (sl_list_empty(&c->xfers))
        uv_ref((uv_handle_t *)&c->epoll);
    sl_list_push_back(&c->xfers, &x->node);
    req->xfer = x;
    return 0;

fail_easy:
    easy_put(c, x->easy);
    curl_slist_free_all(x->req_headers);
fail_free:
    sl_buf_release(&x->hdr);
    free(x);
fail:
    return rc;
}

void sl__curl_cancel(struct sl_http_request *req)
{
    xfer_abort(req->xfer, SL_E_CANCELLED, "cancelled");
}

void sl__curl_resume(struct sl_http_request *req)
{
    struct sl_http_xfer *x = req->xfer;
    if (x->aborting)
        return;
    x->resume_pending = 1;
    defer(x);
}

void sl__curl_close(struct sl_http_client *c)
{
    for (struct sl_list *n = c->xfers.next; n != &c->xfers; n = n->next)
        xfer_abort(sl_container_of(n, struct sl_http_xfer, node), SL_E_CANCELLED, "client closed");
    /* The rest from the idle callback: never inside libcurl, and after the
     * aborted requests got their on_done. */
    uv_idle_start(&c->idle, on_idle);
}
