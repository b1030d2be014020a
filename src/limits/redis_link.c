#include "limits/redis_link.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/list.h"
#include "limits/redis_uv.h"

extern const char sl_redis_limits_lua[];

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   2000
/* Answered commands kept for the next ones, so a steady stream of calls
 * allocates none. */
#define SPARE_MAX 256

enum link_state { L_RESOLVING, L_CONNECTING, L_UP, L_WAITING, L_CLOSING };

/* A command in flight (or an answer deferred to the next loop turn). */
struct pending {
    struct sl_list node;
    struct sl_redis_link *link;
    int64_t sent_us;
    sl__redis_parse_fn parse;
    sl__redis_cb cb;
    void *arg;
};

struct sl_redis_link {
    uv_loop_t *loop;
    struct sl_redis_link_options opts;
    char host[256], user[128], password[256];
    int port, db;
    enum link_state state;
    redisAsyncContext *ac;
    uv_getaddrinfo_t resolve;
    int resolving;
    uv_timer_t timer;    /* connect timeout, reply sweep, or backoff */
    uv_timer_t deferred; /* answers for commands issued while down */
    struct sl_list in_flight, answers;
    struct sl_list spare; /* answered pendings, for reuse */
    unsigned spares;
    unsigned backoff_ms;
    char sha[41];
    char why[200];    /* the last failure */
    int setup_failed; /* this connection's AUTH or SELECT was refused */
    int handles_open;
    void (*close_cb)(void *);
    void *close_arg;
};

static void connect_now(struct sl_redis_link *link);

/* One of the link's handles (its two timers, a pending resolve) is done
 * after sl_redis_link_close: the last one frees the link. */
static void release(struct sl_redis_link *link)
{
    if (--link->handles_open > 0)
        return;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&link->spare)) != NULL)
        free(sl_container_of(n, struct pending, node));
    if (link->close_cb)
        link->close_cb(link->close_arg);
    free(link);
}

/* ---- URL ----------------------------------------------------------------- */

static int parse_url(struct sl_redis_link *link, const char *url, char *err, size_t size)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(err, size, "redis URL must start with redis:// (got '%.60s')", url);
        return -1;
    }
    p += 8;
    const char *at = strrchr(p, '@'), *slash;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : 0;
        const char *pw = colon ? colon + 1 : p;
        if (ulen >= sizeof link->user || (size_t)(at - pw) >= sizeof link->password) {
            snprintf(err, size, "redis URL: user or password too long");
            return -1;
        }
        memcpy(link->user, p, ulen);
        memcpy(link->password, pw, (size_t)(at - pw));
        p = at + 1;
    }
    slash = strchr(p, '/');
    size_t hlen = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hlen);
    size_t name = colon ? (size_t)(colon - p) : hlen;
    if (name == 0 || name >= sizeof link->host) {
        snprintf(err, size, "redis URL: missing or overlong host in '%.60s'", url);
        return -1;
    }
    memcpy(link->host, p, name);
    link->port = 6379;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hlen || port < 1 || port > 65535) {
            snprintf(err, size, "redis URL: bad port in '%.60s'", url);
            return -1;
        }
        link->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000000) {
            snprintf(err, size, "redis URL: bad database number in '%.60s'", url);
            return -1;
        }
        link->db = (int)db;
    }
    return 0;
}

/* ---- answers --------------------------------------------------------------- */

/* Unlinks p, keeps it for reuse, then gives the reply (NULL: unavailable)
 * to its parser, which may issue the next command. */
static void answer(struct pending *p, const redisReply *reply)
{
    struct sl_redis_link *link = p->link;
    sl__redis_parse_fn parse = p->parse;
    sl__redis_cb cb = p->cb;
    void *arg = p->arg;
    sl_list_remove(&p->node);
    if (link->spares < SPARE_MAX && link->state != L_CLOSING) {
        sl_list_push_back(&link->spare, &p->node);
        link->spares++;
    } else {
        free(p);
    }
    parse(reply, cb, arg);
}

static void on_deferred(uv_timer_t *t)
{
    struct sl_redis_link *link = t->data;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&link->answers)) != NULL) {
        sl_list_init(n); /* answer() unlinks it again */
        answer(sl_container_of(n, struct pending, node), NULL);
    }
}

/* ---- up and down ------------------------------------------------------------ */

static void changed(struct sl_redis_link *link, int up, const char *why)
{
    if (link->opts.on_change)
        link->opts.on_change(link->opts.arg, up, why);
}

static void on_backoff(uv_timer_t *t)
{
    connect_now(t->data);
}

/* The connection is gone (or never came): answer what was in flight, then
 * try again after the backoff. */
static void went_down(struct sl_redis_link *link, const char *why)
{
    int was_up = link->state == L_UP;
    if (why != link->why)
        snprintf(link->why, sizeof link->why, "%s", why);
    link->ac = NULL;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&link->in_flight)) != NULL) {
        sl_list_init(n);
        answer(sl_container_of(n, struct pending, node), NULL);
    }
    if (link->state == L_CLOSING)
        return;
    link->state = L_WAITING;
    if (was_up)
        changed(link, 0, why);
    uv_timer_start(&link->timer, on_backoff, link->backoff_ms, 0);
    link->backoff_ms =
        link->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : link->backoff_ms * 2;
}

/* hiredis frees the context after this returns. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct sl_redis_link *link = ac->data;
    (void)status;
    if (link && link->ac == ac)
        went_down(link, link->why[0] && status == REDIS_OK ? link->why
                        : ac->errstr[0]                    ? ac->errstr
                                                           : "connection closed");
}

/* Drops the connection from outside hiredis's callbacks: freeing the
 * context answers its commands (their callbacks get no reply), then the
 * link goes down. */
static void drop(struct sl_redis_link *link, const char *why)
{
    redisAsyncContext *ac = link->ac;
    if (!ac)
        return;
    snprintf(link->why, sizeof link->why, "%s", why);
    link->ac = NULL;
    ac->data = NULL; /* on_disconnect must not act twice */
    redisAsyncFree(ac);
    went_down(link, link->why);
}

static void on_sweep(uv_timer_t *t)
{
    struct sl_redis_link *link = t->data;
    int64_t timeout_us = (int64_t)link->opts.timeout_ms * 1000;
    if (link->state == L_CONNECTING) {
        drop(link, "connect timed out");
        return;
    }
    if (!sl_list_empty(&link->in_flight)) {
        struct pending *oldest = sl_container_of(link->in_flight.next, struct pending, node);
        if (sl_mono_us() - oldest->sent_us >= timeout_us) {
            drop(link, "a reply timed out");
            return;
        }
    }
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
    struct sl_redis_link *link = privdata;
    redisReply *reply = r;
    if (!reply || link->ac != ac)
        return;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        if (link->setup_failed)
            return; /* the refusal before it says why */
        snprintf(link->why, sizeof link->why, "cannot load the limit script: %.150s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        redisAsyncDisconnect(ac); /* then on_disconnect, with link->why */
        return;
    }
    memcpy(link->sha, reply->str, 40);
    link->sha[40] = '\0';
    link->state = L_UP;
    link->backoff_ms = BACKOFF_FIRST_MS;
    uv_timer_start(&link->timer, on_sweep, link->opts.timeout_ms / 2 + 1,
                   link->opts.timeout_ms / 2 + 1);
    changed(link, 1, NULL);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    (void)privdata;
    struct sl_redis_link *link = ac->data;
    if (reply && reply->type == REDIS_REPLY_ERROR && link && !link->setup_failed) {
        link->setup_failed = 1;
        snprintf(link->why, sizeof link->why, "redis refused the connection setup: %.150s",
                 reply->str);
        redisAsyncDisconnect(ac); /* then on_disconnect, with link->why */
    }
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct sl_redis_link *link = ac->data;
    if (!link || link->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this */
        went_down(link, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    link->setup_failed = 0;
    if (link->password[0]) {
        if (link->user[0])
            redisAsyncCommand(ac, on_setup_reply, link, "AUTH %s %s", link->user, link->password);
        else
            redisAsyncCommand(ac, on_setup_reply, link, "AUTH %s", link->password);
    }
    if (link->db)
        redisAsyncCommand(ac, on_setup_reply, link, "SELECT %d", link->db);
    redisAsyncCommand(ac, on_script_loaded, link, "SCRIPT LOAD %s", sl_redis_limits_lua);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sl_redis_link *link = req->data;
    link->resolving = 0;
    if (link->state == L_CLOSING) {
        uv_freeaddrinfo(res);
        release(link);
        return;
    }
    link->handles_open--; /* the timers keep it above zero */
    char ip[64] = "";
    if (status == 0 && res)
        uv_ip_name(res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", link->host,
                 status ? uv_strerror(status) : "no address");
        went_down(link, why);
        return;
    }
    redisAsyncContext *ac = redisAsyncConnect(ip, link->port);
    if (!ac || ac->err) {
        char why[200];
        snprintf(why, sizeof why, "cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        went_down(link, why);
        return;
    }
    if (sl__redis_uv_attach(ac, link->loop) < 0) {
        redisAsyncFree(ac);
        went_down(link, "cannot watch the connection");
        return;
    }
    ac->data = link;
    link->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    link->state = L_CONNECTING;
    uv_timer_start(&link->timer, on_sweep, link->opts.timeout_ms, 0);
}

static void connect_now(struct sl_redis_link *link)
{
    link->state = L_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    link->resolve.data = link;
    if (uv_getaddrinfo(link->loop, &link->resolve, on_resolved, link->host, NULL, &hints) != 0) {
        went_down(link, "cannot start resolving the host");
        return;
    }
    link->resolving = 1;
    link->handles_open++;
}

/* ---- the link --------------------------------------------------------------- */

int sl_redis_link_new(uv_loop_t *loop, const struct sl_redis_link_options *opts,
                      struct sl_redis_link **out, char *err, size_t err_size)
{
    struct sl_redis_link *link = calloc(1, sizeof *link);
    if (!link) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    link->loop = loop;
    link->opts = *opts;
    if (!link->opts.timeout_ms)
        link->opts.timeout_ms = 250;
    if (parse_url(link, opts->url, err, err_size) < 0) {
        free(link);
        return -1;
    }
    link->opts.url = NULL; /* not kept: it may hold the password */
    sl_list_init(&link->in_flight);
    sl_list_init(&link->answers);
    sl_list_init(&link->spare);
    link->backoff_ms = BACKOFF_FIRST_MS;
    uv_timer_init(loop, &link->timer);
    uv_timer_init(loop, &link->deferred);
    link->timer.data = link->deferred.data = link;
    link->handles_open = 2;
    connect_now(link);
    *out = link;
    return 0;
}

int sl_redis_link_up(const struct sl_redis_link *link)
{
    return link->state == L_UP;
}

const char *sl_redis_link_why(const struct sl_redis_link *link)
{
    return link->why;
}

static void on_handle_closed(uv_handle_t *h)
{
    release(h->data);
}

void sl_redis_link_close(struct sl_redis_link *link, void (*cb)(void *arg), void *arg)
{
    link->close_cb = cb;
    link->close_arg = arg;
    if (link->ac)
        drop(link, "closing");
    link->state = L_CLOSING;
    went_down(link, "closing");
    on_deferred(&link->deferred);
    if (link->resolving)
        uv_cancel((uv_req_t *)&link->resolve);
    uv_close((uv_handle_t *)&link->timer, on_handle_closed);
    uv_close((uv_handle_t *)&link->deferred, on_handle_closed);
}

/* ---- commands ---------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct pending *p = privdata;
    struct sl_redis_link *link = p->link;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        snprintf(link->why, sizeof link->why, "%.150s", reply->str);
        /* the script is gone (a SCRIPT FLUSH, a failover): reconnecting
         * loads it again */
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0 && link->ac == ac && link->state == L_UP)
            redisAsyncDisconnect(ac);
        reply = NULL;
    }
    answer(p, reply);
}

static struct pending *pending_get(struct sl_redis_link *link)
{
    struct sl_list *n = sl_list_pop_front(&link->spare);
    if (n) {
        link->spares--;
        return sl_container_of(n, struct pending, node);
    }
    return malloc(sizeof(struct pending));
}

void sl__redis_link_eval(struct sl_redis_link *link, int nkeys, int argc, const char **argv,
                         sl__redis_parse_fn parse, sl__redis_cb cb, void *arg)
{
    struct pending *p = pending_get(link);
    if (!p) {
        /* nothing to defer the answer with: the one answer given at once */
        parse(NULL, cb, arg);
        return;
    }
    *p = (struct pending){
        .link = link, .sent_us = sl_mono_us(), .parse = parse, .cb = cb, .arg = arg};
    sl_list_init(&p->node);
    char nk[12];
    if (argv) {
        snprintf(nk, sizeof nk, "%d", nkeys);
        argv[0] = "EVALSHA";
        argv[1] = link->sha;
        argv[2] = nk;
    }
    if (!argv || link->state != L_UP || !link->ac ||
        redisAsyncCommandArgv(link->ac, on_reply, p, argc, argv, NULL) != REDIS_OK) {
        sl_list_push_back(&link->answers, &p->node);
        uv_timer_start(&link->deferred, on_deferred, 0, 0);
        return;
    }
    sl_list_push_back(&link->in_flight, &p->node);
}
