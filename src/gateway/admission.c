/* Admission: a request's way from the front to its first attempt, and what
 * it gives back at the end.
 *
 *  1. Its key's limits (state ADMITTING). When a TPM limit applies (the
 *     key's, or a deployment's of its model), the prompt is first counted
 *     on the thread pool (`counting`), and the request reserves its prompt
 *     plus its max_tokens (default_max_tokens when it sent none); the
 *     reservation is set right to the usage the upstream reported when the
 *     request finishes.
 *  2. A deployment (PICKING), then that deployment's limits: its provider
 *     rpm/tpm, and a permit of its max_concurrency (QUEUED while it waits
 *     for one; a full queue, or a deployment at its rpm/tpm, moves on to
 *     the model's next deployment).
 *
 * Each limit is local (gateway/keyring.c, router.c: one process) or, with
 * `redis:`, shared by every instance (gateway/shared.c): then the key's
 * limits are taken together with the first deployment's, in one script
 * call answered later on the loop (one round trip before the upstream;
 * `key_pending` until then). While a call is out the request waits for its
 * answer (`shared_call`), whatever
 * happens meanwhile: a cancel is noted and acted on in the answer (what
 * was taken is given back). A shared permit that is not free is asked for
 * again after a short wait (`shared_wait`, the admit deadline), and at once
 * when a request of this instance gives one of that deployment back. When
 * Redis cannot answer, fail_open admits on the local limits (each a share:
 * the limit divided by the instances) and fail_closed answers 503.
 *
 * What a request holds is in its tickets: key_ticket / key_shared for the
 * key, dep_ticket / dep_shared (and a local permit or a shared lease) for
 * the deployment. The permit goes back when the attempts are over
 * (sl__gw_release_permit); the rest when the request finishes
 * (sl__gw_settle_limits). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/offload.h"
#include "gateway/gateway_impl.h"
#include "token/request_tokens.h"

#define SHARED_RETRY_MAX_US 50000 /* a shared permit is asked for again within */

static uint64_t mono_us(void)
{
    return (uint64_t)sl_mono_us();
}

/* Redis could not answer: fail_open counts a fallback and returns 1 (use
 * the local limits), fail_closed answers 503 and returns 0. */
static int fall_back(struct gw_req *r)
{
    struct sl_gw_shared *sh = r->gw->shared;
    if (!sl_gw_shared_fail_closed(sh)) {
        sl_gw_shared_fell_back(sh);
        return 1;
    }
    sl__gw_set_state(r, GW_RESPONDING);
    r->error = SL_E_UNAVAILABLE;
    sl__gw_down_respond_error(r, 503, "server_error", "limits_unavailable",
                              "the shared limits (Redis) cannot be reached; retry shortly", 1);
    sl__gw_finish(r);
    return 0;
}

/* A cancel that came while a shared call was out: what it took goes back,
 * and the request ends as cancelled. */
static void end_cancelled(struct gw_req *r)
{
    sl__gw_set_state(r, GW_RESPONDING);
    sl__gw_respond_failure(r);
    sl__gw_finish(r);
}

/* ---- the key ---------------------------------------------------------------- */

/* The prompt must be counted before admission when a TPM limit applies:
 * the key's, or one of the model's deployments'. */
static int needs_count(const struct gw_req *r)
{
    if (sl_gw_key_needs_tokens(r->key))
        return 1;
    struct sl_gw_dep *deps = sl_gw_router_deps(&r->gw->router, r->model);
    for (size_t i = 0; i < r->model->ndeployments; i++)
        if (deps[i].cfg->tpm)
            return 1;
    return 0;
}

/* On a pool thread: CPU work on the request's own copy of the body. */
static void count_prompt(void *arg)
{
    struct gw_req *r = arg;
    r->prompt_counted = (unsigned)sl_tok_count_request(sl_openai_name(r->ep), r->model_name,
                                                       r->body, r->body_len, NULL);
}

static void key_refused(struct gw_req *r, const struct sl_gw_refusal *no)
{
    sl__gw_set_state(r, GW_RESPONDING);
    r->error = SL_E_RATE_LIMITED;
    sl__gw_down_respond_error(r, no->status, no->type, no->code, no->message,
                              (int)no->retry_after_s);
    sl__gw_finish(r);
}

static void key_admitted(struct gw_req *r)
{
    r->key_admitted = r->key != NULL;
    sl__gw_set_state(r, GW_PICKING);
    sl__gw_pick(r);
}

static void admit_key_local(struct gw_req *r)
{
    struct sl_gw_refusal no;
    if (r->key && sl_gw_key_admit(r->key, mono_us(), sl_wall_us(), r->reserved_tokens,
                                  &r->key_ticket, &no) != 0) {
        key_refused(r, &no);
        return;
    }
    key_admitted(r);
}

/* The 429 for a key limit that Redis refused. */
static void key_refused_shared(struct gw_req *r, enum sl_gw_shared_refused refused,
                               uint64_t retry_after_us)
{
    struct sl_gw_refusal no;
    if (refused == SL_GW_SHARED_BUDGET) {
        /* over budget as the shared counter says (every instance's charges) */
        sl_gw_key_budget_refusal(r->key, sl_wall_us(), &no);
    } else {
        static const enum sl_gw_limit limit[] = {SL_GW_LIMIT_RPM, SL_GW_LIMIT_TPM,
                                                 SL_GW_LIMIT_PARALLEL};
        sl_gw_key_refusal(r->key, limit[refused], retry_after_us, r->reserved_tokens, &no);
    }
    key_refused(r, &no);
}

/* The key's limits: its budget as this instance knows it (the database's
 * spend and its own charges), then max_parallel, RPM and TPM, locally or
 * in Redis. */
static void admit_key(struct gw_req *r)
{
    /* the reservation: the prompt, and the completion it may ask for */
    uint64_t completion = 0;
    if (r->ep != SL_OAI_EMBEDDINGS)
        completion = r->max_tokens >= 0 ? (uint64_t)r->max_tokens : r->gw->cfg->default_max_tokens;
    r->reserved_tokens = (uint64_t)r->prompt_counted + completion;
    struct sl_gw_key_entry *k = r->key;
    struct sl_gw_shared *sh = r->gw->shared;
    if (k && sh) {
        struct sl_gw_refusal no;
        if (sl_gw_key_over_budget(k, sl_wall_us(), &no) != 0) {
            key_refused(r, &no);
            return;
        }
        int64_t now = sl_wall_us();
        struct sl_gw_shared_ask ask = {
            .rpm = k->s.rpm,
            .tpm = k->s.tpm,
            .parallel = k->s.max_parallel,
            .tokens = r->reserved_tokens,
            .budget = k->s.budget_usd,
            .period_start = sl_key_period_start(k->s.period, now),
        };
        if (sl_gw_shared_any(&ask)) {
            /* taken with the first deployment's limits, in one call */
            r->key_ask = ask;
            r->key_pending = 1;
            sl__gw_set_state(r, GW_PICKING);
            sl__gw_pick(r);
            return;
        }
    }
    admit_key_local(r);
}

static void on_prompt_counted(void *arg, int status)
{
    struct gw_req *r = arg;
    (void)status;
    r->counting = 0;
    r->counted = 1;
    if (r->cancelled) {
        end_cancelled(r);
        return;
    }
    admit_key(r);
}

void sl__gw_admit(struct gw_req *r)
{
    if (needs_count(r)) {
        r->counting = 1;
        if (sl_offload(r->gw->loop, count_prompt, on_prompt_counted, r, NULL) == 0)
            return;
        r->counting = 0; /* cannot count: admitted on the prompt's bytes / 4 */
        r->prompt_counted = (unsigned)(r->body_len / 4);
    }
    admit_key(r);
}

/* ---- the deployment ---------------------------------------------------------- */

static void note_queue_time(struct gw_req *r)
{
    uint64_t waited = uv_hrtime() - r->admit_start_ns;
    r->queue_ns += waited;
    sl_gw_metrics_queue_wait(r->gw->metrics, r->dep, (double)waited / 1e9);
}

static void queue_timeout(struct gw_req *r)
{
    sl__gw_set_state(r, GW_RESPONDING);
    r->error = SL_E_RATE_LIMITED;
    sl__gw_down_respond_error(r, 429, "requests", "queue_timeout",
                              "timed out waiting for a free upstream slot", 1);
    sl__gw_finish(r);
}

static void on_local_permit(struct sl_sem_waiter *w, int status)
{
    struct gw_req *r = sl_container_of(w, struct gw_req, admit.base);
    assert(r->state == GW_QUEUED);
    note_queue_time(r);
    if (status == 0) {
        sl__gw_start_attempts(r);
        return;
    }
    sl_rate_give_back(&r->dep->rate, mono_us(), &r->dep_ticket); /* nothing was sent */
    queue_timeout(r);
}

/* The upstream body: the client's, or a copy with the deployment's own
 * model name. */
static int build_body(struct gw_req *r)
{
    free(r->up_body);
    r->up_body = NULL;
    const struct sl_gw_deployment *d = r->dep->cfg;
    if (d->provider->serves && !d->provider->serves(r->ep)) {
        snprintf(r->refusal.param, sizeof(r->refusal.param), "%s", "");
        snprintf(r->refusal.message, sizeof(r->refusal.message),
                 "deployment '%s' (provider: %s) does not serve /v1/%s", d->name, d->provider->name,
                 sl_openai_name(r->ep));
        return UV_EINVAL;
    }
    r->strip_usage = 0;
    r->native = 0;
    if (r->front == GW_FRONT_RESPONSES && d->responses_native && r->front_raw) {
        r->native = 1; /* the Responses API as the client sent it */
        return sl__gw_native_body(r);
    }
    if (r->front_stateful)
        return UV_EINVAL; /* only a native deployment serves it: r->refusal says why */
    if (r->dep->glue->body)
        return r->dep->glue->body(r);
    const char *um = d->upstream_model[0] ? d->upstream_model : NULL;
    struct sl_str model = {r->body + r->model_at, r->model_len};
    if (r->stream && d->stream_usage && !r->stream_options && r->ep != SL_OAI_EMBEDDINGS) {
        /* the row needs the usage: asked for, and kept from the client */
        r->strip_usage = 1;
        return sl_openai_with_usage(r->body, r->body_len, model, um, &r->up_body, &r->up_body_len);
    }
    if (um == NULL)
        return 0;
    return sl_openai_with_model(r->body, r->body_len, model, um, &r->up_body, &r->up_body_len);
}

/* The tokens used, for the TPM limits: what the upstream reported, or the
 * reservation when it reported nothing. */
static uint64_t tokens_used(const struct gw_req *r)
{
    uint64_t used = (uint64_t)r->usage_prompt + r->usage_completion;
    return used ? used : r->reserved_tokens;
}

static void on_shared_retry(struct sl_deadline *d);

/* A shared permit of d went back: this instance's first waiter asks now
 * (its call goes after the release on the one connection). */
static void wake_shared_waiter(struct sl_gw_dep *d)
{
    if (!sl_list_empty(&d->shared_waiters)) {
        struct gw_req *w = sl_container_of(d->shared_waiters.next, struct gw_req, shared_waiter);
        sl_deadline_start(&w->gw->deadlines, &w->admit.deadline, 0, on_shared_retry);
    }
}

/* What the request holds of r->dep, and of its key when `key` (a shared
 * lease, TPM reservations), given back and set right: locally, and in one
 * Redis call for both. The previous deployment's, before the next one's
 * are taken; everything, when the request finishes. */
static void settle(struct gw_req *r, int key)
{
    uint64_t used = tokens_used(r);
    struct sl_gw_shared_ticket *shared[2];
    size_t n = 0;
    if (r->dep) {
        sl_rate_settle(&r->dep->rate, mono_us(), &r->dep_ticket, used);
        shared[n++] = &r->dep_shared;
    }
    if (key && r->key_shared.taken) {
        r->key->in_flight--;
        shared[n++] = &r->key_shared;
    } else if (key) {
        sl_gw_key_settle(r->key, mono_us(), &r->key_ticket, used);
    }
    if (r->gw->shared && n) {
        int lease = r->dep_permit_shared;
        r->dep_permit_shared = 0;
        sl_gw_shared_settle(r->gw->shared, shared, n, used);
        if (lease)
            wake_shared_waiter(r->dep);
    }
}

enum { DEP_STARTED, DEP_QUEUED, DEP_FULL, DEP_LIMITED };

/* This instance's limits of r->dep: rate, then a permit or a place in the
 * queue. */
static int admit_dep_local(struct gw_req *r, uint64_t *retry_us)
{
    if (sl_rate_take(&r->dep->rate, mono_us(), r->reserved_tokens, &r->dep_ticket, retry_us) !=
        SL_RATE_OK)
        return DEP_LIMITED; /* at the provider's published limit: another may have room */
    r->admit_start_ns = uv_hrtime();
    int rc = sl_gw_admit(r->dep, &r->admit, on_local_permit);
    if (rc == 0) {
        note_queue_time(r);
        sl__gw_start_attempts(r);
        return DEP_STARTED;
    }
    if (rc == 1) {
        sl__gw_set_state(r, GW_QUEUED);
        return DEP_QUEUED;
    }
    sl_rate_give_back(&r->dep->rate, mono_us(), &r->dep_ticket);
    return DEP_FULL;
}

/* After a local admission attempt from a shared one's fallback, or a pick. */
static void dep_local_result(struct gw_req *r, int rc, uint64_t retry_us)
{
    if (rc == DEP_STARTED || rc == DEP_QUEUED)
        return;
    if (r->state == GW_QUEUED)
        sl__gw_set_state(r, GW_PICKING);
    if (rc == DEP_LIMITED) {
        r->pick_limited = 1;
        if (retry_us < r->pick_retry_us)
            r->pick_retry_us = retry_us;
    } else {
        r->pick_full = 1;
    }
    sl__gw_pick(r);
}

static void admit_dep_shared(struct gw_req *r);

/* The request no longer counts in its deployment's queue on this instance. */
static void shared_unqueue(struct gw_req *r)
{
    if (r->shared_queued) {
        r->shared_queued = 0;
        r->dep->shared_waiting--;
    }
}

static void on_shared_retry(struct sl_deadline *d)
{
    struct gw_req *r = sl_container_of(d, struct gw_req, admit.deadline);
    r->shared_wait = 0;
    sl_list_remove(&r->shared_waiter);
    admit_dep_shared(r);
}

/* Waits for a shared permit of r->dep: asked for again within 50 ms, or
 * at once when this instance gives one back. */
static void wait_shared(struct gw_req *r, uint64_t retry_us)
{
    if (retry_us > SHARED_RETRY_MAX_US)
        retry_us = SHARED_RETRY_MAX_US;
    r->shared_wait = 1;
    sl_list_push_back(&r->dep->shared_waiters, &r->shared_waiter);
    sl_deadline_start(&r->gw->deadlines, &r->admit.deadline, (retry_us + 999) / 1000,
                      on_shared_retry);
}

static void on_dep_shared(struct sl_gw_shared_call *call, enum sl_redis_result result, size_t part,
                          enum sl_gw_shared_refused refused, uint64_t retry_after_us)
{
    struct gw_req *r = call->data;
    struct sl_gateway *gw = r->gw;
    int by_key = result == SL_REDIS_REFUSED && call->parts[part].ticket == &r->key_shared;
    r->shared_call = 0;
    if (result != SL_REDIS_REFUSED || by_key || refused != SL_GW_SHARED_PARALLEL)
        shared_unqueue(r); /* answered: no longer waiting for a permit */
    if (r->cancelled) {
        struct sl_gw_shared_ticket *t[2] = {&r->dep_shared, &r->key_shared};
        int permit = result == SL_REDIS_TAKEN;
        sl_gw_shared_give_back(gw->shared, t, r->key_pending ? 2 : 1);
        if (permit) /* a permit this instance's waiters may take */
            wake_shared_waiter(r->dep);
        note_queue_time(r);
        end_cancelled(r);
        return;
    }
    if (result == SL_REDIS_TAKEN) {
        note_queue_time(r);
        if (r->key_pending) {
            r->key_pending = 0;
            r->key_admitted = 1;
            r->key->in_flight++; /* shown by the usage endpoint; the limit was Redis's */
        }
        r->dep_permit_shared = 1;
        sl__gw_start_attempts(r);
        return;
    }
    if (result == SL_REDIS_UNAVAILABLE) {
        if (!fall_back(r))
            return;
        struct sl_gw_refusal no;
        if (r->key_pending) { /* the key's local share first */
            r->key_pending = 0;
            if (sl_gw_key_admit(r->key, mono_us(), sl_wall_us(), r->reserved_tokens, &r->key_ticket,
                                &no) != 0) {
                key_refused(r, &no);
                return;
            }
            r->key_admitted = 1;
        }
        uint64_t retry_us = UINT64_MAX;
        sl__gw_set_state(r, GW_PICKING); /* admit_dep_local queues from PICKING */
        dep_local_result(r, admit_dep_local(r, &retry_us), retry_us);
        return;
    }
    if (by_key) {
        note_queue_time(r);
        key_refused_shared(r, refused, retry_after_us);
        return;
    }
    if (refused == SL_GW_SHARED_PARALLEL) {
        /* no permit free: wait in this instance's queue for the deployment
         * (bounded by its queue_length, as the local queue is; 0: none) */
        if (!r->shared_queued) {
            if (r->dep->shared_waiting >= r->dep->cfg->queue_length) {
                note_queue_time(r);
                dep_local_result(r, DEP_FULL, retry_after_us);
                return;
            }
            r->shared_queued = 1;
            r->dep->shared_waiting++;
        }
        double waited_ms = (double)(uv_hrtime() - r->admit_start_ns) / 1e6;
        if (waited_ms < r->dep->cfg->queue_timeout_ms) {
            wait_shared(r, retry_after_us);
            return;
        }
        shared_unqueue(r);
        note_queue_time(r);
        queue_timeout(r);
        return;
    }
    /* the deployment's rpm or tpm, across the instances */
    note_queue_time(r);
    dep_local_result(r, DEP_LIMITED, retry_after_us);
}

/* The deployment's limits, and the key's while it is not admitted yet:
 * one call. */
static void admit_dep_shared(struct gw_req *r)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    struct sl_gw_shared_call *c = &r->shared_admit;
    c->nparts = 0;
    if (r->key_pending) { /* first: a key over its limits is told so, whatever the deployment */
        c->parts[0].limits = &r->key->shared;
        c->parts[0].ask = r->key_ask;
        c->parts[0].ticket = &r->key_shared;
        c->nparts = 1;
    }
    c->parts[c->nparts].limits = &r->dep->shared;
    c->parts[c->nparts].ask = (struct sl_gw_shared_ask){
        .rpm = d->rpm, .tpm = d->tpm, .parallel = d->max_concurrency, .tokens = r->reserved_tokens};
    c->parts[c->nparts].ticket = &r->dep_shared;
    c->nparts++;
    c->cb = on_dep_shared;
    c->data = r;
    r->shared_call = 1;
    sl_gw_shared_admit(r->gw->shared, c);
}

void sl__gw_pick(struct gw_req *r)
{
    struct sl_gateway *gw = r->gw;
    struct sl_gw_dep *deps = sl_gw_router_deps(&gw->router, r->model);
    settle(r, 0);
    for (;;) {
        int k = sl_gw_router_pick(&gw->router, r->model, r->tried, uv_now(gw->loop));
        if (k < 0)
            break;
        if (r->front_stateful && !deps[k].cfg->responses_native) {
            r->tried |= UINT64_C(1) << k; /* cannot serve it: not a fallback */
            r->skipped |= UINT64_C(1) << k;
            continue;
        }
        if (r->tried & ~r->skipped)
            sl_gw_metrics_fallback(gw->metrics, r->model);
        r->tried |= UINT64_C(1) << k;
        r->dep = &deps[k];
        r->dep_permit_shared = 0;
        int body = build_body(r);
        if (body == UV_EINVAL) { /* this deployment cannot serve the request: the client's 400 */
            sl__gw_set_state(r, GW_RESPONDING);
            sl__gw_respond_refusal(r);
            sl__gw_finish(r);
            return;
        }
        if (body != 0)
            continue; /* out of memory for this deployment's body: try the next */
        if (gw->shared) {
            r->admit_start_ns = uv_hrtime();
            sl__gw_set_state(r, GW_QUEUED);
            admit_dep_shared(r);
            return;
        }
        uint64_t retry_us = UINT64_MAX;
        int rc = admit_dep_local(r, &retry_us);
        if (rc == DEP_STARTED || rc == DEP_QUEUED)
            return;
        if (rc == DEP_LIMITED) {
            r->pick_limited = 1;
            if (retry_us < r->pick_retry_us)
                r->pick_retry_us = retry_us;
        } else {
            r->pick_full = 1; /* this one's queue is full: another may have room */
        }
    }
    sl__gw_set_state(r, GW_RESPONDING);
    if (r->pick_limited && !r->pick_full && r->attempts == 0) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "every deployment of model '%s' is at its provider's rate limit (rpm or tpm)",
                 r->model->name);
        r->error = SL_E_RATE_LIMITED;
        sl__gw_down_respond_error(r, 429, "requests", "rate_limit_exceeded", msg,
                                  (int)sl_rate_retry_seconds(r->pick_retry_us));
        sl__gw_finish(r);
        return;
    }
    if ((r->pick_full || r->pick_limited) && r->attempts == 0) {
        r->error = SL_E_RATE_LIMITED;
        sl__gw_down_respond_error(r, 429, "requests", "queue_full",
                                  "every upstream queue for this model is full", 1);
        sl__gw_finish(r);
        return;
    }
    if (r->error == SL_OK)
        r->error = SL_E_UNAVAILABLE; /* no deployment could be tried (out of memory) */
    sl__gw_respond_failure(r);
    sl__gw_finish(r);
}

/* ---- the end ------------------------------------------------------------------ */

void sl__gw_release_permit(struct gw_req *r)
{
    /* a shared lease goes back with the rest in settle(), which follows
     * at once: the next deployment's pick, or finish */
    if (!r->dep_permit_shared)
        sl_gw_release(r->dep);
}

void sl__gw_settle_limits(struct gw_req *r)
{
    settle(r, 1);
}

void sl__gw_charge(struct gw_req *r, const struct sl_gw_log_row *row)
{
    struct sl_gw_key_entry *k = r->key;
    if (!r->key_admitted)
        return;
    int64_t now = sl_wall_us();
    sl_gw_key_charge(k, now, row->cost_usd, row->prompt_tokens, row->completion_tokens);
    if (r->gw->shared && k->s.budget_usd > 0) {
        /* the shared counter lives until a day after its period ends */
        int64_t end = sl_key_period_end(k->s.period, now);
        uint64_t ttl_ms = end == INT64_MAX ? 400ull * 86400 * 1000
                                           : (uint64_t)(end - now) / 1000 + 86400ull * 1000;
        sl_gw_shared_charge(r->gw->shared, &k->shared, sl_key_period_start(k->s.period, now),
                            row->cost_usd, sl_gw_key_spent(k, now), ttl_ms);
    }
}

int sl__gw_cancel_admission(struct gw_req *r)
{
    if (r->counting || r->shared_call)
        return 1; /* the count's or the call's end answers */
    if (r->state != GW_QUEUED)
        return 0;
    if (r->shared_wait) {
        sl_deadline_stop(&r->admit.deadline);
        r->shared_wait = 0;
        sl_list_remove(&r->shared_waiter);
        shared_unqueue(r);
        note_queue_time(r);
        end_cancelled(r);
        return 1;
    }
    if (sl_sem_cancel(&r->admit.base) == 0) {
        sl_rate_give_back(&r->dep->rate, mono_us(), &r->dep_ticket);
        note_queue_time(r);
        end_cancelled(r);
    }
    return 1;
}
