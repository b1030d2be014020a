/* The lean client's pool: origins (host:port, resolved once and cached
 * for dns_ttl_ms), the connections to them (connect, the next address of
 * a name on failure, one lazy timer per connection for its deadlines or
 * its idle timeout), the idle stack of each origin and the pool's idle
 * cap, and the pool's own life (new, close, freed when empty). The
 * exchange on a connection is http/upstream.c; its design note covers
 * both. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/upstream_int.h"

static void on_conn_timer(uv_timer_t *t);

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
        sl__up_finish(x);
    }
    sl__up_pool_maybe_free(p);
}

void sl__up_conn_close(struct conn *c)
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

/* Makes sure the timer fires by `due` (now_ms). A timer already set for
 * earlier stays: it will find nothing due and set itself again. */
void sl__up_conn_arm(struct conn *c, uint64_t due)
{
    if (due == 0 || c->state == C_CLOSING || (c->timer_due && c->timer_due <= due))
        return;
    uint64_t now = sl__up_now_ms();
    c->timer_due = due;
    uv_timer_start(&c->timer, on_conn_timer, due > now ? due - now : 0, 0);
}

/* The earliest deadline of a request still to come, or 0. */
uint64_t sl__up_xfer_next_due(const struct sl_upstream_xfer *x)
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
    uint64_t now = sl__up_now_ms();
    c->timer_due = 0;
    if (x == NULL) {
        uint64_t due = c->idle_since + p->idle_timeout_ms;
        if (now >= due)
            sl__up_conn_close(c);
        else
            sl__up_conn_arm(c, due);
        return;
    }
    const struct sl_http_request *req = x->req;
    if (!x->connected && x->connect_due && now >= x->connect_due)
        sl__up_xfer_fail(x, SL_E_TIMEOUT, "connect timeout after %u ms",
                         req->connect_timeout_ms ? (unsigned)req->connect_timeout_ms
                                                 : DEFAULT_CONNECT_TIMEOUT_MS);
    else if (!x->first_byte_ns && x->first_byte_due && now >= x->first_byte_due)
        sl__up_xfer_fail(x, SL_E_TIMEOUT, "first byte timeout after %u ms",
                         (unsigned)req->first_byte_timeout_ms);
    else if (x->total_due && now >= x->total_due)
        sl__up_xfer_fail(x, SL_E_TIMEOUT, "total timeout after %u ms",
                         (unsigned)req->total_timeout_ms);
    else
        sl__up_conn_arm(c, sl__up_xfer_next_due(x));
}

struct conn *sl__up_conn_new(struct sl_upstream_pool *p, struct sl_upstream_origin *o)
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

struct conn *sl__up_idle_take(struct sl_upstream_origin *o)
{
    if (sl_list_empty(&o->idle))
        return NULL;
    struct conn *c = sl_container_of(o->idle.prev, struct conn, node); /* LIFO */
    sl_list_remove(&c->node);
    sl_list_remove(&c->lru);
    o->pool->nidle--;
    return c;
}

void sl__up_conn_idle(struct conn *c)
{
    struct sl_upstream_pool *p = c->pool;
    c->x = NULL;
    c->served++;
    c->idle_since = sl__up_now_ms();
    /* Reading goes on while idle: a server's close is seen at once. */
    if (sl__up_conn_read_start(c) != 0) {
        sl__up_conn_close(c);
        return;
    }
    sl_list_push_back(&c->origin->idle, &c->node);
    sl_list_push_back(&p->idle_conns, &c->lru);
    p->nidle++;
    sl__up_conn_arm(c, c->idle_since + p->idle_timeout_ms);
    if (p->nidle > p->max_idle)
        sl__up_conn_close(sl_container_of(p->idle_conns.next, struct conn, lru));
}

static void connect_failed(struct conn *c, int err)
{
    struct sl_upstream_xfer *x = c->x;
    struct sl_upstream_origin *o = c->origin;
    if (++x->addr_tries < o->naddrs) {
        sl__up_xfer_reconnect(x, (c->addr + 1) % o->naddrs); /* the name's next address */
        return;
    }
    sl__up_xfer_fail(x, SL_E_CONN_REFUSED, "connect to %s failed: %s", o->host_header,
                     uv_strerror(err));
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
    int r = sl__up_conn_read_start(c);
    if (r != 0) {
        sl__up_xfer_fail(c->x, SL_E_CONN_RESET, "receive failed: %s", uv_strerror(r));
        return;
    }
    sl__up_conn_send(c);
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
        sl__up_xfer_fail(c->x, SL_E_CONN_REFUSED, "cannot resolve %s: %s", o->host,
                         uv_strerror(err));
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
        o->expires_ms = sl__up_now_ms() + p->dns_ttl_ms;
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
    sl__up_pool_maybe_free(p);
}

void sl__up_conn_open(struct conn *c)
{
    struct sl_upstream_origin *o = c->origin;
    struct sl_upstream_pool *p = c->pool;
    if (o->naddrs > 0 && (o->numeric || sl__up_now_ms() < o->expires_ms)) {
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

/* The lean client's URLs: http:// only (client.c sends https:// to
 * libcurl). Returns NULL or why not. */
const char *sl__up_parse_url(const char *s, struct sl_url *u)
{
    if (strncasecmp(s, "http://", 7) != 0)
        return "not an http:// URL";
    return sl_url_parse(s, u);
}

struct sl_upstream_origin *sl__up_origin_get(struct sl_upstream_pool *p, const struct sl_url *u)
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
    sl_list_init(&p->spare);
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
    while ((n = sl_list_pop_front(&p->spare)) != NULL)
        free(sl_container_of(n, struct sl_upstream_xfer, node));
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p);
    if (cb)
        cb(arg);
}

void sl__up_pool_maybe_free(struct sl_upstream_pool *p)
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
        sl__up_xfer_fail(sl_container_of(n, struct sl_upstream_xfer, node), SL_E_CANCELLED,
                         "client closed");
    while (!sl_list_empty(&p->idle_conns))
        sl__up_conn_close(sl_container_of(p->idle_conns.next, struct conn, lru));
    for (struct sl_list *n = p->origins.next; n != &p->origins; n = n->next) {
        struct sl_upstream_origin *o = sl_container_of(n, struct sl_upstream_origin, node);
        if (o->resolving)
            uv_cancel((uv_req_t *)&o->gai); /* else its callback comes when it is done */
    }
    sl__up_pool_maybe_free(p);
}

int sl_upstream_route(struct sl_upstream_pool *p, struct sl_http_route *r)
{
    struct sl_url u;
    if (sl__up_parse_url(r->url, &u) != NULL)
        return UV_EINVAL;
    r->lean = 1;
    r->origin = sl__up_origin_get(p, &u);
    r->target = (struct sl_str){u.target, u.target_len};
    return r->origin ? 0 : UV_ENOMEM;
}

void sl_upstream_stats(const struct sl_upstream_pool *p, struct sl_upstream_stats *out)
{
    *out = p->stats;
    out->open = p->nconns;
    out->idle = p->nidle;
}