#include "gateway/router.h"

#include <stdlib.h>

#include "gateway/keyring.h"

int sl_gw_router_init(struct sl_gw_router *r, const struct sl_gw_config *cfg, uint64_t seed)
{
    r->cfg = cfg;
    r->ndeps = 0;
    for (size_t i = 0; i < cfg->nmodels; i++)
        r->ndeps += cfg->models[i].ndeployments;
    r->deps = calloc(r->ndeps ? r->ndeps : 1, sizeof(*r->deps));
    r->first = calloc(cfg->nmodels ? cfg->nmodels : 1, sizeof(*r->first));
    if (r->deps == NULL || r->first == NULL) {
        free(r->deps);
        free(r->first);
        return UV_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        r->first[i] = k;
        for (size_t j = 0; j < cfg->models[i].ndeployments; j++, k++) {
            struct sl_gw_dep *d = &r->deps[k];
            d->cfg = &cfg->models[i].deployments[j];
            d->model = &cfg->models[i];
            unsigned div = cfg->redis.url[0] ? cfg->redis.instances : 1;
            sl_sem_init(&d->sem, sl_gw_share(d->cfg->max_concurrency, div));
            sl_rate_init(&d->rate, sl_gw_share(d->cfg->rpm, div), sl_gw_share(d->cfg->tpm, div));
            sl_gw_shared_limits_init(&d->shared, "d", d->cfg->name);
            sl_list_init(&d->shared_waiters);
        }
    }
    sl_rng_seed(&r->rng, seed, 0);
    return 0;
}

void sl_gw_router_release_all(struct sl_gw_router *r)
{
    for (size_t i = 0; r->deps && i < r->ndeps; i++)
        sl_rate_release(&r->deps[i].rate);
    free(r->deps);
    free(r->first);
    r->deps = NULL;
    r->first = NULL;
}

struct sl_gw_dep *sl_gw_router_deps(struct sl_gw_router *r, const struct sl_gw_model *m)
{
    return &r->deps[r->first[m - r->cfg->models]];
}

int sl_gw_router_pick(struct sl_gw_router *r, const struct sl_gw_model *m, uint64_t tried,
                      uint64_t now_ms)
{
    struct sl_gw_dep *deps = sl_gw_router_deps(r, m);
    size_t n = m->ndeployments < 64 ? m->ndeployments : 64;
    double total = 0;
    int fallback = -1;
    for (size_t i = 0; i < n; i++) {
        if (tried & (UINT64_C(1) << i))
            continue;
        if (deps[i].cooldown_until_ms > now_ms) {
            if (fallback < 0 || deps[i].cooldown_until_ms < deps[fallback].cooldown_until_ms)
                fallback = (int)i;
            continue;
        }
        total += deps[i].cfg->weight;
    }
    if (total <= 0)
        return fallback; /* everything left is cooling down: the soonest back */
    double pick = sl_rng_uniform(&r->rng) * total;
    int last = -1;
    for (size_t i = 0; i < n; i++) {
        if ((tried & (UINT64_C(1) << i)) || deps[i].cooldown_until_ms > now_ms)
            continue;
        last = (int)i;
        pick -= deps[i].cfg->weight;
        if (pick < 0)
            return (int)i;
    }
    return last;
}

int sl_gw_admit(struct sl_gw_dep *d, struct sl_sem_timed_waiter *tw, sl_sem_cb cb)
{
    if (sl_sem_try_acquire(&d->sem) == 0)
        return 0;
    if (d->sem.queued >= d->cfg->queue_length)
        return UV_EBUSY;
    return sl_sem_acquire_timeout(&d->sem, tw, d->cfg->queue_timeout_ms, cb);
}

void sl_gw_release(struct sl_gw_dep *d)
{
    sl_sem_release(&d->sem);
}

int sl_gw_report(struct sl_gw_dep *d, int ok, uint64_t now_ms)
{
    d->requests++;
    if (ok) {
        d->consecutive_failures = 0;
        return 0;
    }
    d->failures++;
    if (++d->consecutive_failures >= d->cfg->cooldown_failures && d->cfg->cooldown_ms > 0) {
        d->consecutive_failures = 0;
        d->cooldown_until_ms = now_ms + d->cfg->cooldown_ms;
        d->cooldowns++;
        return 1;
    }
    return 0;
}
