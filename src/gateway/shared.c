#include "gateway/shared.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "gateway/metrics.h"

#define MINUTE_US 60000000ull

struct sl_gw_shared {
    uv_loop_t *loop;
    struct sl_redis_link *link;
    struct sl_gw_redis cfg;
    char instance[20]; /* this process's part of every lease id */
    uint64_t next_lease;
    struct sl_list with_holders; /* sl_gw_shared_limits that hold leases */
    uv_timer_t renew_timer;
    uint64_t fallbacks;
    int closing;
    void (*close_cb)(void *);
    void *close_arg;
};

void sl_gw_shared_limits_init(struct sl_gw_shared_limits *l, const char *kind, const char *name)
{
    snprintf(l->prefix, sizeof l->prefix, "sl:%s:%s", kind, name);
    sl_list_init(&l->holders);
    l->linked = 0;
}

static void key_of(char *out, size_t size, const struct sl_gw_shared_limits *l, const char *what)
{
    snprintf(out, size, "%s:%s", l->prefix, what);
}

static void spend_key(char *out, size_t size, const struct sl_gw_shared_limits *l, int64_t period)
{
    snprintf(out, size, "%s:spend:%" PRId64, l->prefix, period);
}

/* ---- leases ---------------------------------------------------------------- */

static void hold(struct sl_gw_shared *s, struct sl_gw_shared_ticket *t)
{
    struct sl_gw_shared_limits *l = t->limits;
    sl_list_push_back(&l->holders, &t->holder);
    if (!l->linked) {
        sl_list_push_back(&s->with_holders, &l->node);
        l->linked = 1;
    }
}

static void unhold(struct sl_gw_shared_ticket *t)
{
    struct sl_gw_shared_limits *l = t->limits;
    sl_list_remove(&t->holder);
    if (sl_list_empty(&l->holders) && l->linked) {
        sl_list_remove(&l->node);
        l->linked = 0;
    }
}

/* Every lease held is renewed, one call per semaphore (a lease expires
 * lease_ms after its last renewal: three renewals fit in that time). */
static void on_renew(uv_timer_t *timer)
{
    struct sl_gw_shared *s = timer->data;
    char key[sizeof(((struct sl_gw_shared_limits *)0)->prefix) + 8];
    const char *leases[SL_REDIS_RENEW_MAX];
    for (struct sl_list *i = s->with_holders.next; i != &s->with_holders; i = i->next) {
        struct sl_gw_shared_limits *l = sl_container_of(i, struct sl_gw_shared_limits, node);
        key_of(key, sizeof key, l, "sem");
        size_t n = 0;
        for (struct sl_list *h = l->holders.next; h != &l->holders; h = h->next) {
            leases[n++] = sl_container_of(h, struct sl_gw_shared_ticket, holder)->lease;
            if (n == SL_REDIS_RENEW_MAX || h->next == &l->holders) {
                sl_redis_renew(s->link, key, leases, n, s->cfg.lease_ms, NULL, NULL);
                n = 0;
            }
        }
    }
}

/* ---- admit, settle, give back ------------------------------------------------ */

int sl_gw_shared_any(const struct sl_gw_shared_ask *ask)
{
    return ask->rpm || (ask->tpm && ask->tokens) || ask->parallel || ask->budget > 0;
}

static void on_admitted(void *arg, enum sl_redis_result result, size_t refused,
                        uint64_t retry_after_us, const int64_t *cells)
{
    struct sl_gw_shared_call *c = arg;
    size_t part = 0;
    enum sl_gw_shared_refused which = SL_GW_SHARED_RPM;
    for (size_t p = 0; p < c->nparts; p++) {
        struct sl_gw_shared_ticket *t = c->parts[p].ticket;
        if (result == SL_REDIS_TAKEN) {
            t->taken = 1;
            memcpy(t->cells, cells, sizeof t->cells);
            if (t->ops[SL_GW_SHARED_PARALLEL] >= 0)
                hold(c->shared, t); /* renewed until settled */
        } else if (result == SL_REDIS_REFUSED) {
            for (int k = 0; k < 4; k++)
                if (t->ops[k] == (int)refused) {
                    part = p;
                    which = (enum sl_gw_shared_refused)k;
                }
        }
    }
    c->cb(c, result, part, which, retry_after_us);
}

/* The ops of one part, appended to ops[*n..]; keys in keys[*n..]. */
static void add_part(struct sl_gw_shared *s, struct sl_gw_shared_limits *l,
                     const struct sl_gw_shared_ask *ask, struct sl_gw_shared_ticket *t,
                     struct sl_redis_op *ops, char (*keys)[sizeof l->prefix + 32], size_t *n)
{
    t->taken = 0;
    t->shared = s;
    t->limits = l;
    t->tokens = 0;
    t->lease[0] = '\0';
    t->holder.next = t->holder.prev = NULL;
    for (int k = 0; k < 4; k++)
        t->ops[k] = -1;
    /* the budget first: a key out of money is told so, not that it is busy */
    if (ask->budget > 0) {
        spend_key(keys[*n], sizeof keys[*n], l, ask->period_start);
        ops[*n] =
            (struct sl_redis_op){.kind = SL_REDIS_BUDGET, .key = keys[*n], .budget = ask->budget};
        t->ops[SL_GW_SHARED_BUDGET] = (int)(*n)++;
    }
    if (ask->rpm) {
        key_of(keys[*n], sizeof keys[*n], l, "rpm");
        ops[*n] = (struct sl_redis_op){.kind = SL_REDIS_WINDOW,
                                       .key = keys[*n],
                                       .limit = ask->rpm,
                                       .window_us = MINUTE_US,
                                       .units = 1};
        t->ops[SL_GW_SHARED_RPM] = (int)(*n)++;
    }
    if (ask->tpm && ask->tokens) {
        key_of(keys[*n], sizeof keys[*n], l, "tpm");
        ops[*n] = (struct sl_redis_op){.kind = SL_REDIS_WINDOW,
                                       .key = keys[*n],
                                       .limit = ask->tpm,
                                       .window_us = MINUTE_US,
                                       .units = ask->tokens};
        t->tokens = ask->tokens;
        t->ops[SL_GW_SHARED_TPM] = (int)(*n)++;
    }
    if (ask->parallel) {
        key_of(keys[*n], sizeof keys[*n], l, "sem");
        snprintf(t->lease, sizeof t->lease, "%s:%" PRIu64, s->instance, s->next_lease++);
        ops[*n] = (struct sl_redis_op){.kind = SL_REDIS_SEMAPHORE,
                                       .key = keys[*n],
                                       .limit = ask->parallel,
                                       .lease = t->lease,
                                       .lease_ms = s->cfg.lease_ms};
        t->ops[SL_GW_SHARED_PARALLEL] = (int)(*n)++;
    }
}

void sl_gw_shared_admit(struct sl_gw_shared *s, struct sl_gw_shared_call *call)
{
    char keys[4 * SL_GW_SHARED_PARTS][sizeof(((struct sl_gw_shared_limits *)0)->prefix) + 32];
    struct sl_redis_op ops[4 * SL_GW_SHARED_PARTS];
    size_t n = 0;
    call->shared = s;
    for (size_t p = 0; p < call->nparts; p++)
        add_part(s, call->parts[p].limits, &call->parts[p].ask, call->parts[p].ticket, ops, keys,
                 &n);
    sl_redis_admit(s->link, ops, n, on_admitted, call);
}

/* What the tickets give back, in one call: a settle (tokens: the usage
 * the TPM reservations become) or a give-back (everything taken). */
struct give {
    struct sl_redis_settle_op ops[SL_REDIS_SETTLE_MAX];
    char keys[SL_REDIS_SETTLE_MAX][sizeof(((struct sl_gw_shared_limits *)0)->prefix) + 8];
    size_t n;
};

static void give_adjust(struct give *g, struct sl_gw_shared_ticket *t, int which, int64_t delta)
{
    if (t->ops[which] < 0 || delta == 0 || g->n == SL_REDIS_SETTLE_MAX)
        return;
    key_of(g->keys[g->n], sizeof g->keys[g->n], t->limits,
           which == SL_GW_SHARED_RPM ? "rpm" : "tpm");
    g->ops[g->n] = (struct sl_redis_settle_op){.key = g->keys[g->n],
                                               .cell = t->cells[t->ops[which]],
                                               .delta = delta,
                                               .window_us = MINUTE_US};
    g->n++;
}

static void give_lease(struct give *g, struct sl_gw_shared_ticket *t)
{
    if (t->ops[SL_GW_SHARED_PARALLEL] < 0 || g->n == SL_REDIS_SETTLE_MAX)
        return;
    key_of(g->keys[g->n], sizeof g->keys[g->n], t->limits, "sem");
    g->ops[g->n] = (struct sl_redis_settle_op){.key = g->keys[g->n], .lease = t->lease};
    g->n++;
    if (t->holder.next) {
        unhold(t);
        t->holder.next = t->holder.prev = NULL;
    }
}

static void give(struct sl_gw_shared *s, struct sl_gw_shared_ticket *const *tickets, size_t n,
                 int settle, uint64_t tokens)
{
    struct give g = {.n = 0};
    for (size_t i = 0; i < n; i++) {
        struct sl_gw_shared_ticket *t = tickets[i];
        if (!t->taken)
            continue;
        if (settle) {
            give_adjust(&g, t, SL_GW_SHARED_TPM, (int64_t)tokens - (int64_t)t->tokens);
        } else {
            give_adjust(&g, t, SL_GW_SHARED_RPM, -1);
            give_adjust(&g, t, SL_GW_SHARED_TPM, -(int64_t)t->tokens);
        }
        give_lease(&g, t);
        t->taken = 0;
    }
    if (g.n)
        sl_redis_settle(s->link, g.ops, g.n);
}

void sl_gw_shared_settle(struct sl_gw_shared *s, struct sl_gw_shared_ticket *const *tickets,
                         size_t n, uint64_t tokens)
{
    give(s, tickets, n, 1, tokens);
}

void sl_gw_shared_give_back(struct sl_gw_shared *s, struct sl_gw_shared_ticket *const *tickets,
                            size_t n)
{
    give(s, tickets, n, 0, 0);
}

/* ---- spend -------------------------------------------------------------------- */

struct charge {
    struct sl_gw_shared *s;
    char key[sizeof(((struct sl_gw_shared_limits *)0)->prefix) + 32];
    double usd, known;
    uint64_t ttl_ms;
};

static void on_seeded(void *arg, enum sl_redis_result result, double value)
{
    struct charge *c = arg;
    (void)value;
    if (result == SL_REDIS_REFUSED) /* another instance seeded it first: add to that */
        sl_redis_spend_add(c->s->link, c->key, c->usd, c->ttl_ms, NULL, NULL);
    free(c);
}

static void on_added(void *arg, enum sl_redis_result result, double value)
{
    struct charge *c = arg;
    (void)value;
    if (result == SL_REDIS_REFUSED) { /* no counter: seed it with what the database knows */
        sl_redis_spend_seed(c->s->link, c->key, c->known, c->ttl_ms, on_seeded, c);
        return;
    }
    free(c);
}

void sl_gw_shared_charge(struct sl_gw_shared *s, struct sl_gw_shared_limits *l,
                         int64_t period_start, double usd, double known, uint64_t ttl_ms)
{
    if (usd <= 0)
        return;
    struct charge *c = malloc(sizeof *c);
    if (!c)
        return; /* the database still gets it (keysync) */
    c->s = s;
    spend_key(c->key, sizeof c->key, l, period_start);
    c->usd = usd;
    c->known = known;
    c->ttl_ms = ttl_ms;
    sl_redis_spend_add(s->link, c->key, usd, ttl_ms, on_added, c);
}

/* ---- lifecycle ------------------------------------------------------------------- */

static void on_change(void *arg, int up, const char *why)
{
    struct sl_gw_shared *s = arg;
    if (s->closing)
        return; /* the gateway closes the link itself */
    if (up)
        fprintf(stderr, "sluice serve: redis is up: the limits are shared through it\n");
    else
        fprintf(stderr, "sluice serve: redis is unavailable (%s): %s\n", why,
                s->cfg.fail_closed ? "limited requests are refused with 503 (fail_closed)"
                                   : "limits are local, divided by the instances (fail_open)");
}

int sl_gw_shared_new(uv_loop_t *loop, const struct sl_gw_redis *cfg, struct sl_gw_shared **out,
                     char *err, size_t err_size)
{
    struct sl_gw_shared *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->cfg = *cfg;
    sl_list_init(&s->with_holders);
    struct sl_rng rng;
    sl_rng_seed(&rng, uv_hrtime() ^ (uint64_t)uv_os_getpid() << 32, 7);
    snprintf(s->instance, sizeof s->instance, "%016" PRIx64, sl_rng_next(&rng));
    struct sl_redis_link_options lo = {
        .url = cfg->url, .timeout_ms = cfg->timeout_ms, .on_change = on_change, .arg = s};
    char why[256];
    if (sl_redis_link_new(loop, &lo, &s->link, why, sizeof why) != 0) {
        snprintf(err, err_size, "redis: %s", why);
        free(s);
        return -1;
    }
    uv_timer_init(loop, &s->renew_timer);
    s->renew_timer.data = s;
    unsigned every = cfg->lease_ms / 3 ? cfg->lease_ms / 3 : 1;
    uv_timer_start(&s->renew_timer, on_renew, every, every);
    *out = s;
    return 0;
}

int sl_gw_shared_fail_closed(const struct sl_gw_shared *s)
{
    return s->cfg.fail_closed;
}

void sl_gw_shared_fell_back(struct sl_gw_shared *s)
{
    s->fallbacks++;
}

void sl_gw_shared_render_metrics(const struct sl_gw_shared *s, struct sl_buf *out)
{
    sl_prom_help(out, "sluice_redis_up", "gauge",
                 "1 while the limits shared through Redis can be reached.");
    sl_prom_value(out, "sluice_redis_up", "", sl_redis_link_up(s->link) ? 1 : 0);
    sl_prom_help(out, "sluice_limit_fallbacks_total", "counter",
                 "Requests admitted on local limits (divided by the instances) because Redis "
                 "was unavailable.");
    sl_prom_value(out, "sluice_limit_fallbacks_total", "", (double)s->fallbacks);
}

static void on_link_closed(void *arg)
{
    struct sl_gw_shared *s = arg;
    void (*cb)(void *) = s->close_cb;
    void *cb_arg = s->close_arg;
    free(s);
    if (cb)
        cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct sl_gw_shared *s = h->data;
    sl_redis_link_close(s->link, on_link_closed, s);
}

void sl_gw_shared_close(struct sl_gw_shared *s, void (*cb)(void *arg), void *arg)
{
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    uv_close((uv_handle_t *)&s->renew_timer, on_timer_closed);
}
