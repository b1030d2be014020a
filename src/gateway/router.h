/* Routing and admission: which deployment serves a request, and when it
 * may start.
 *
 * Each deployment has a state: a semaphore of max_concurrency permits with
 * a FIFO queue bounded by queue_length, and a failure record. Picking is
 * weighted among the deployments a request has not tried yet, skipping
 * those cooling down after cooldown_failures consecutive failures (if all
 * are cooling down, the least recently failed is used rather than none).
 *
 * A deployment with the provider's published limits (rpm, tpm) holds them
 * on sliding windows (limits/rate.h): a request takes one request and its
 * token reservation before it queues for a permit (sl_gw_dep_take), so
 * that sluice never sends what the provider would refuse with a 429.
 *
 * Admission: sl_gw_admit() takes a permit at once, or queues the caller's
 * timed waiter (the caller owns it and its timer) when the queue has room;
 * a full queue is refused at once (UV_EBUSY), a queue wait past
 * queue_timeout_ms ends with UV_ETIMEDOUT. The caller releases the permit
 * with sl_gw_release() and reports the outcome with sl_gw_report(). */
#ifndef SL_GW_ROUTER_H
#define SL_GW_ROUTER_H

#include <stdint.h>

#include "core/rng.h"
#include "core/sem.h"
#include "gateway/config.h"
#include "http/request.h"
#include "gateway/shared.h"
#include "limits/rate.h"

struct sl_gw_dep {
    const struct sl_gw_deployment *cfg;
    const struct sl_gw_glue *glue; /* its provider's (provider.h), set by the gateway */
    const struct sl_gw_model *model;
    /* each endpoint's URL (cfg->target.url) resolved by the HTTP client at
     * gateway start: its transport and, for http://, its origin pool */
    const struct sl_http_route *route[SL_OAI__COUNT];
    const struct sl_http_route *responses_route; /* responses: native */
    struct sl_sem sem;
    struct sl_rate rate; /* the provider's rpm and tpm (cfg), when set */
    /* with Redis: the limits shared by every instance, and this instance's
     * requests waiting for a shared permit (sem and rate above are then
     * the fallback's shares: cfg / instances) */
    struct sl_gw_shared_limits shared;
    struct sl_list shared_waiters;
    unsigned shared_waiting;
    unsigned consecutive_failures;
    uint64_t cooldown_until_ms; /* loop time */
    uint64_t requests, failures, cooldowns;
};

struct sl_gw_router {
    const struct sl_gw_config *cfg;
    struct sl_gw_dep *deps; /* all deployments of all models, model by model */
    size_t ndeps;
    size_t *first; /* index in deps of each model's first deployment */
    struct sl_rng rng;
};

int sl_gw_router_init(struct sl_gw_router *r, const struct sl_gw_config *cfg, uint64_t seed);
void sl_gw_router_release_all(struct sl_gw_router *r);

/* The deployments of a model: deps[first .. first + ndeployments). */
struct sl_gw_dep *sl_gw_router_deps(struct sl_gw_router *r, const struct sl_gw_model *m);

/* Picks among the model's deployments whose bit in `tried` is clear.
 * Returns the index within the model, or -1 when all were tried. */
int sl_gw_router_pick(struct sl_gw_router *r, const struct sl_gw_model *m, uint64_t tried,
                      uint64_t now_ms);

/* 0 = permit held now; 1 = queued (cb later: 0 or UV_ETIMEDOUT);
 * UV_EBUSY = the queue is full. */
int sl_gw_admit(struct sl_gw_dep *d, struct sl_sem_timed_waiter *tw, sl_sem_cb cb);
void sl_gw_release(struct sl_gw_dep *d);

/* A finished attempt's outcome: ok resets the failure run, a failure may
 * start a cool-down. Returns 1 when this report started one. */
int sl_gw_report(struct sl_gw_dep *d, int ok, uint64_t now_ms);

#endif
