#include "store/pg_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_pg_pool {
    uv_loop_t *loop;
    const struct sl_pg_params *params;
    struct sl_pg_pool_options opts;
    uint64_t *queries;
    struct sl_list idle;    /* ready connections */
    struct sl_list pending; /* connecting or being checked */
    struct sl_list waiters;
    unsigned busy, connecting, checking, closing_conns;
    uint64_t opened, replaced, timeouts, waited;
    uv_timer_t timer;
    int closing, timer_closed;
    void (*close_cb)(void *);
    void *close_arg;
    char err[512];
};

static void serve(struct sl_pg_pool *p);

static unsigned count(const struct sl_list *l)
{
    unsigned n = 0;
    for (const struct sl_list *i = l->next; i != l; i = i->next)
        n++;
    return n;
}

static unsigned total(const struct sl_pg_pool *p)
{
    return count(&p->idle) + p->busy + p->connecting + p->checking;
}

static void maybe_free(struct sl_pg_pool *p)
{
    if (!p->closing || !p->timer_closed || p->closing_conns || p->busy || p->connecting ||
        p->checking || !sl_list_empty(&p->idle))
        return;
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p);
    if (cb)
        cb(arg);
}

static void on_conn_closed(struct sl_pg_conn *c, void *arg)
{
    (void)c;
    struct sl_pg_pool *p = arg;
    p->closing_conns--;
    maybe_free(p);
}

static void discard(struct sl_pg_pool *p, struct sl_pg_conn *c)
{
    p->closing_conns++;
    sl_pg_conn_close(c, on_conn_closed, p);
}

static void give(struct sl_pg_pool *p, struct sl_pg_conn *c)
{
    sl_pg_conn_set_op_timeout(c, 0); /* each user sets its own */
    struct sl_list *node = sl_list_pop_front(&p->waiters);
    struct sl_pg_waiter *w = sl_container_of(node, struct sl_pg_waiter, node);
    p->busy++;
    w->cb(w, c, 0);
}

static void fail_waiter(struct sl_pg_pool *p, struct sl_pg_waiter *w, int status,
                        int connect_failed)
{
    (void)p;
    sl_list_remove(&w->node);
    w->connect_failed = connect_failed;
    w->cb(w, NULL, status);
}

static void on_checked(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    (void)arg;
    struct sl_pg_pool *p = c->data;
    p->checking--;
    sl_list_remove(&c->node);
    if (status != 0) {
        p->replaced++;
        discard(p, c);
    } else {
        c->needs_ping = 0;
        sl_list_push_back(&p->idle, &c->node);
    }
    serve(p);
}

static void on_connected(struct sl_pg_conn *c, int status, void *arg)
{
    struct sl_pg_pool *p = arg;
    p->connecting--;
    sl_list_remove(&c->node);
    if (status == 0) {
        p->opened++;
        sl_list_push_back(&p->idle, &c->node);
        serve(p);
        return;
    }
    snprintf(p->err, sizeof(p->err), "%s", sl_pg_conn_error(c));
    discard(p, c);
    if (!sl_list_empty(&p->waiters)) {
        struct sl_pg_waiter *w = sl_container_of(p->waiters.next, struct sl_pg_waiter, node);
        fail_waiter(p, w, status, 1);
    }
    /* nothing else in prospect: the others would only wait for the timeout */
    while (!sl_list_empty(&p->waiters) && p->busy == 0 && p->connecting == 0 && p->checking == 0 &&
           sl_list_empty(&p->idle)) {
        struct sl_pg_waiter *w = sl_container_of(p->waiters.next, struct sl_pg_waiter, node);
        fail_waiter(p, w, status, 1);
    }
    serve(p);
}

static void on_timer(uv_timer_t *t);

static void arm_timer(struct sl_pg_pool *p)
{
    if (p->closing)
        return;
    if (sl_list_empty(&p->waiters)) {
        uv_timer_stop(&p->timer);
        return;
    }
    /* FIFO with one wait time: the head has the earliest deadline */
    struct sl_pg_waiter *w = sl_container_of(p->waiters.next, struct sl_pg_waiter, node);
    uint64_t now = uv_now(p->loop);
    uv_timer_start(&p->timer, on_timer, w->deadline_ms > now ? w->deadline_ms - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct sl_pg_pool *p = t->data;
    uint64_t now = uv_now(p->loop);
    while (!sl_list_empty(&p->waiters)) {
        struct sl_pg_waiter *w = sl_container_of(p->waiters.next, struct sl_pg_waiter, node);
        if (w->deadline_ms > now)
            break;
        p->timeouts++;
        snprintf(p->err, sizeof(p->err),
                 "timed out after %u ms waiting for a free connection to %s (pool_size %u, "
                 "max_overflow %u, all in use)",
                 p->opts.wait_ms, p->params->masked, p->opts.size, p->opts.max_overflow);
        fail_waiter(p, w, UV_ETIMEDOUT, 0);
    }
    arm_timer(p);
}

static void serve(struct sl_pg_pool *p)
{
    if (p->closing)
        return;
    while (!sl_list_empty(&p->waiters) && !sl_list_empty(&p->idle)) {
        struct sl_pg_conn *c =
            sl_container_of(sl_list_pop_front(&p->idle), struct sl_pg_conn, node);
        if (!sl_pg_conn_ok(c)) {
            p->replaced++;
            discard(p, c);
            continue;
        }
        if (c->needs_ping) {
            p->checking++;
            sl_list_push_back(&p->pending, &c->node);
            /* a server that accepts and never answers must not hold it */
            sl_pg_conn_set_op_timeout(c, p->params->connect_timeout_ms);
            sl_pg_conn_query(c, "", 0, NULL, on_checked, NULL);
            continue;
        }
        give(p, c);
    }
    /* counted afresh each time: a connect that fails fails a waiter */
    unsigned max = p->opts.size + p->opts.max_overflow;
    while (count(&p->waiters) > p->connecting + p->checking && total(p) < max) {
        struct sl_pg_conn *c = sl_pg_conn_new(p->loop, p->params, p->queries);
        if (c == NULL)
            break;
        c->data = p;
        p->connecting++;
        sl_list_push_back(&p->pending, &c->node);
        sl_pg_conn_connect(c, on_connected, p);
    }
    arm_timer(p);
}

struct sl_pg_pool *sl_pg_pool_new(uv_loop_t *loop, const struct sl_pg_params *params,
                                  const struct sl_pg_pool_options *opts, uint64_t *queries)
{
    struct sl_pg_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->params = params;
    p->opts = *opts;
    if (p->opts.size == 0)
        p->opts.size = 1;
    p->queries = queries;
    sl_list_init(&p->idle);
    sl_list_init(&p->pending);
    sl_list_init(&p->waiters);
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

void sl_pg_pool_acquire(struct sl_pg_pool *p, struct sl_pg_waiter *w, sl_pg_acquire_cb cb)
{
    w->cb = cb;
    w->connect_failed = 0;
    if (p->closing) {
        cb(w, NULL, UV_ECANCELED);
        return;
    }
    uv_update_time(p->loop); /* a stale loop time would cut the wait short */
    w->deadline_ms = uv_now(p->loop) + p->opts.wait_ms;
    if (sl_list_empty(&p->idle))
        p->waited++;
    sl_list_push_back(&p->waiters, &w->node);
    serve(p);
}

void sl_pg_pool_cancel(struct sl_pg_pool *p, struct sl_pg_waiter *w)
{
    if (sl_list_linked(&w->node)) {
        sl_list_remove(&w->node);
        arm_timer(p);
    }
}

void sl_pg_pool_release(struct sl_pg_pool *p, struct sl_pg_conn *c, int had_error)
{
    p->busy--;
    if (p->closing) {
        discard(p, c); /* the pool is freed once it closed */
        return;
    }
    if (!sl_pg_conn_ok(c)) {
        p->replaced++;
        discard(p, c);
        serve(p);
        return;
    }
    if (had_error)
        c->needs_ping = 1;
    if (sl_list_empty(&p->waiters) && total(p) + 1 > p->opts.size) {
        discard(p, c); /* an overflow connection (c is not counted any more): not kept */
        return;
    }
    c->idle_since_us = 0;
    sl_list_push_back(&p->idle, &c->node);
    serve(p);
}

const char *sl_pg_pool_error(const struct sl_pg_pool *p)
{
    return p->err;
}

void sl_pg_pool_stats(const struct sl_pg_pool *p, struct sl_pg_pool_stats *out)
{
    *out = (struct sl_pg_pool_stats){
        .idle = count(&p->idle),
        .busy = p->busy,
        .connecting = p->connecting,
        .checking = p->checking,
        .opened = p->opened,
        .replaced = p->replaced,
        .timeouts = p->timeouts,
        .waited = p->waited,
    };
}

static void on_timer_closed(uv_handle_t *h)
{
    struct sl_pg_pool *p = h->data;
    p->timer_closed = 1;
    maybe_free(p);
}

void sl_pg_pool_close(struct sl_pg_pool *p, void (*cb)(void *arg), void *arg)
{
    p->closing = 1;
    p->close_cb = cb;
    p->close_arg = arg;
    while (!sl_list_empty(&p->waiters)) {
        struct sl_pg_waiter *w = sl_container_of(p->waiters.next, struct sl_pg_waiter, node);
        fail_waiter(p, w, UV_ECANCELED, 0);
    }
    struct sl_list *node;
    while ((node = sl_list_pop_front(&p->idle)) != NULL)
        discard(p, sl_container_of(node, struct sl_pg_conn, node));
    while ((node = sl_list_pop_front(&p->pending)) != NULL) {
        discard(p, sl_container_of(node, struct sl_pg_conn, node));
    }
    p->connecting = p->checking = 0;
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}
