/* Limits shared by every gateway instance through Redis (config `redis:`):
 * a key's RPM, TPM, max_parallel and budget, and a deployment's RPM, TPM
 * and max_concurrency, each checked and taken in one atomic script call
 * (limits/redis_limits.h; docs/limits.md has the data model).
 *
 * What a request took is its ticket: the window cells (to set a TPM
 * reservation right, or give back what was never sent) and, for a
 * parallel limit, a lease: a permit that returns by itself lease_ms after
 * its last renewal, so a crashed instance's permits come back. While a
 * ticket holds a lease it is linked in its limits' holders; a timer renews
 * every held lease every lease_ms / 3, one call per semaphore.
 *
 * When Redis cannot answer, an admit says UNAVAILABLE and the caller
 * applies the policy (fail_open: its local limits, divided by the
 * instances; fail_closed: 503). Owner: the gateway; sl_gw_shared_close
 * closes the link and calls back. Loop thread only. */
#ifndef SL_GW_SHARED_H
#define SL_GW_SHARED_H

#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/list.h"
#include "gateway/config.h"
#include "limits/redis_limits.h"

struct sl_gw_shared;

/* The shared limits of one key or one deployment: its Redis key prefix
 * and the tickets that hold one of its leases. */
struct sl_gw_shared_limits {
    char prefix[96]; /* "sl:k:ID", "sl:d:NAME" */
    struct sl_list holders;
    struct sl_list node; /* in the gateway's list of limits with holders */
    int linked;
};

void sl_gw_shared_limits_init(struct sl_gw_shared_limits *l, const char *kind, const char *name);

/* What a request asks of one key's or deployment's limits (0: none). */
struct sl_gw_shared_ask {
    unsigned rpm, tpm, parallel;
    uint64_t tokens;      /* the TPM reservation */
    double budget;        /* a key's budget, USD (0: none) */
    int64_t period_start; /* the budget period's start (names its counter) */
};

enum sl_gw_shared_refused {
    SL_GW_SHARED_RPM,
    SL_GW_SHARED_TPM,
    SL_GW_SHARED_PARALLEL,
    SL_GW_SHARED_BUDGET
};

struct sl_gw_shared_ticket {
    int taken;
    int ops[4]; /* op index of rpm, tpm, parallel, budget in the admit; -1: none */
    int64_t cells[SL_REDIS_ADMIT_MAX];
    uint64_t tokens;
    char lease[48];
    struct sl_gw_shared *shared;
    struct sl_gw_shared_limits *limits;
    struct sl_list holder; /* in limits->holders while the lease is held */
};

/* One admit: the limits of up to two parts (a deployment, and the key of
 * a request not yet admitted) checked and taken together, all or nothing,
 * in one round trip. result: TAKEN (every part's ticket holds what it
 * took), REFUSED (nothing taken: which part and limit refused, and when to
 * try again; UINT64_MAX: not in this window), UNAVAILABLE. */
#define SL_GW_SHARED_PARTS 2
struct sl_gw_shared_call;
typedef void (*sl_gw_shared_cb)(struct sl_gw_shared_call *call, enum sl_redis_result result,
                                size_t part, enum sl_gw_shared_refused refused,
                                uint64_t retry_after_us);
struct sl_gw_shared_call {
    struct {
        struct sl_gw_shared_limits *limits;
        struct sl_gw_shared_ask ask;
        struct sl_gw_shared_ticket *ticket;
    } parts[SL_GW_SHARED_PARTS];
    size_t nparts;
    struct sl_gw_shared *shared;
    sl_gw_shared_cb cb;
    void *data;
};

int sl_gw_shared_new(uv_loop_t *loop, const struct sl_gw_redis *cfg, struct sl_gw_shared **out,
                     char *err, size_t err_size);
void sl_gw_shared_close(struct sl_gw_shared *s, void (*cb)(void *arg), void *arg);
int sl_gw_shared_fail_closed(const struct sl_gw_shared *s);

/* Whether the ask needs Redis at all. */
int sl_gw_shared_any(const struct sl_gw_shared_ask *ask);

/* Checks and takes every limit of the call's parts at once; call->cb
 * later, never before this returns. The call (owned by the caller) must
 * live until then. */
void sl_gw_shared_admit(struct sl_gw_shared *s, struct sl_gw_shared_call *call);
/* The request is over and used `tokens`: the leases return, the TPM
 * reservations become the usage; one call for all the tickets (those
 * that hold nothing are skipped). */
void sl_gw_shared_settle(struct sl_gw_shared *s, struct sl_gw_shared_ticket *const *tickets,
                         size_t n, uint64_t tokens);
/* Nothing was sent: everything the tickets took comes back, in one call. */
void sl_gw_shared_give_back(struct sl_gw_shared *s, struct sl_gw_shared_ticket *const *tickets,
                            size_t n);

/* Adds a finished request's cost to its key's spend counter in Redis (for
 * period_start, kept until ttl_ms from now). When Redis has no counter (a
 * restart, a new period) it is first seeded with `known`, the spend this
 * instance knows from the database and its own charges. */
void sl_gw_shared_charge(struct sl_gw_shared *s, struct sl_gw_shared_limits *l,
                         int64_t period_start, double usd, double known, uint64_t ttl_ms);

/* A request admitted on local limits because Redis was unavailable. */
void sl_gw_shared_fell_back(struct sl_gw_shared *s);

/* sluice_redis_up and sluice_limit_fallbacks_total. */
void sl_gw_shared_render_metrics(const struct sl_gw_shared *s, struct sl_buf *out);

#endif
