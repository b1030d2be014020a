#include "sim/simulate.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/sem.h"
#include "retry/retrier.h"

static const char *const model_names[] = {"gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet",
                                          "llama-3.1-70b"};
#define MODEL_COUNT (sizeof(model_names) / sizeof(*model_names))

enum { REQ_HOLDS_PERMIT = 1 };

struct sim_request {
    struct sl_sem_waiter wait; /* the admission queue, later the parked list */
    int64_t started_us, finished_us;
    struct sl_rng rng;
    uint16_t prompt_tokens;
    uint8_t model, status, error, attempts, flags;
};

struct sim_slot {
    struct sl_retrier retrier; /* owns the backoff timer */
    uv_timer_t attempt_timer;
    struct sl_sim *sim;
    struct sim_request *req;
    struct sim_slot *next_free;
    int64_t deadline_us; /* monotonic; 0 = none */
    enum sl_err attempt_error;
    int in_attempt;
};

struct sl_sim {
    uv_loop_t *loop;
    struct sl_sim_config cfg;
    struct sl_sim_events events;
    struct sl_store *store;
    struct sl_sem sem;
    struct sim_request *reqs;
    struct sim_slot *slots;
    struct sim_slot *free_slots;
    struct sl_list parked; /* finished, waiting for room in the store */
    int64_t created_us;
    struct sl_sim_counters n;
    int stopping, hard_stop, complete_called, handles_open;
};

void sl_sim_config_default(struct sl_sim_config *cfg)
{
    char err[64];
    *cfg = (struct sl_sim_config){
        .requests = 500,
        .concurrency = 10,
        .latency_min_ms = 100,
        .latency_max_ms = 500,
        .fail_rate = 0.3,
        .seed = 0,
    };
    sl_error_mix_parse(&cfg->mix, SL_ERROR_MIX_DEFAULT, err, sizeof(err));
    sl_retry_policy_default(&cfg->policy);
    cfg->policy.max_delay_ms = 30000;
}

static uint64_t request_id(const struct sl_sim *sim, const struct sim_request *req)
{
    return (uint64_t)(req - sim->reqs) + 1;
}

static void record(struct sl_sim *sim, struct sim_request *req);

static void check_complete(struct sl_sim *sim)
{
    if (sim->n.recorded == sim->n.requests && !sim->complete_called) {
        sim->complete_called = 1;
        if (sim->events.on_complete)
            sim->events.on_complete(sim);
    }
}

/* Hands the request to the store and gives back its permit; or, when the
 * store is full, parks it (still holding the permit, which throttles
 * admission to the speed of the disk). Returns 0 when parked. */
static int try_record(struct sl_sim *sim, struct sim_request *req)
{
    struct sl_record rec = {
        .request_id = request_id(sim, req),
        .created_us = sim->created_us,
        .started_us = req->started_us,
        .finished_us = req->finished_us,
        .model = model_names[req->model],
        .prompt_tokens = req->prompt_tokens,
        .attempts = req->attempts,
        .status = req->status,
        .error = req->error,
    };
    if (sl_store_append(sim->store, &rec) != 0)
        return 0;
    sim->n.recorded++;
    switch (req->status) {
    case SL_REQ_SUCCEEDED:
        sim->n.succeeded++;
        break;
    case SL_REQ_FAILED:
        sim->n.failed++;
        break;
    default:
        sim->n.cancelled++;
        break;
    }
    if (req->flags & REQ_HOLDS_PERMIT) {
        req->flags &= (uint8_t)~REQ_HOLDS_PERMIT;
        sl_sem_release(&sim->sem); /* may start the next queued request */
    }
    return 1;
}

static void record(struct sl_sim *sim, struct sim_request *req)
{
    if (!sl_list_empty(&sim->parked) || !try_record(sim, req))
        sl_list_push_back(&sim->parked, &req->wait.node);
    check_complete(sim);
}

static void on_store_writable(struct sl_store *store, void *arg)
{
    (void)store;
    struct sl_sim *sim = arg;
    struct sl_list *node;
    while ((node = sim->parked.next) != &sim->parked) {
        struct sim_request *req = sl_container_of(node, struct sim_request, wait.node);
        sl_list_remove(node);
        if (!try_record(sim, req)) {
            /* still full: back to the head, wait for the next signal */
            node->next = sim->parked.next;
            node->prev = &sim->parked;
            sim->parked.next->prev = node;
            sim->parked.next = node;
            break;
        }
    }
    check_complete(sim);
}

/* ---- attempts ------------------------------------------------------------ */

static void on_attempt_timer(uv_timer_t *timer)
{
    struct sim_slot *slot = timer->data;
    struct sl_sim *sim = slot->sim;
    enum sl_err err = slot->attempt_error;
    slot->in_attempt = 0;
    /* Stopping: a failed attempt is not retried; the request is cancelled. */
    if (sim->stopping && err != SL_OK)
        err = SL_E_CANCELLED;
    sl_retrier_report(&slot->retrier, err, -1);
}

static void start_attempt(struct sl_retrier *r)
{
    struct sim_slot *slot = r->data;
    struct sl_sim *sim = slot->sim;
    struct sim_request *req = slot->req;
    const struct sl_sim_config *cfg = &sim->cfg;
    uint64_t latency = cfg->latency_min_ms;
    if (cfg->latency_max_ms > cfg->latency_min_ms)
        latency += sl_rng_next(&req->rng) % (cfg->latency_max_ms - cfg->latency_min_ms + 1);
    enum sl_err err = SL_OK;
    if (sl_rng_uniform(&req->rng) < cfg->fail_rate)
        err = sl_error_mix_draw(&cfg->mix, &req->rng);
    if (slot->deadline_us) {
        int64_t left_us = slot->deadline_us - sl_mono_us();
        if (left_us < 0)
            left_us = 0;
        if ((int64_t)latency * 1000 >= left_us) {
            /* wait_for: the attempt would outlive the request's deadline */
            latency = (uint64_t)(left_us / 1000);
            err = SL_E_DEADLINE;
        }
    }
    slot->attempt_error = err;
    slot->in_attempt = 1;
    uv_timer_start(&slot->attempt_timer, on_attempt_timer, latency, 0);
}

static void before_sleep(struct sl_retrier *r, enum sl_err error, const struct sl_retry_decision *d)
{
    struct sim_slot *slot = r->data;
    struct sl_sim *sim = slot->sim;
    sim->n.retries++;
    if (sim->events.on_retry)
        sim->events.on_retry(sim, request_id(sim, slot->req), r->state.attempt,
                             r->policy->max_attempts, d->wait_ms, error);
}

static void on_request_done(struct sl_retrier *r)
{
    struct sim_slot *slot = r->data;
    struct sl_sim *sim = slot->sim;
    struct sim_request *req = slot->req;
    req->finished_us = sl_wall_us();
    req->attempts = (uint8_t)(r->outcome.attempts > 255 ? 255 : r->outcome.attempts);
    req->error = (uint8_t)r->outcome.last_error;
    req->status = r->outcome.last_error == SL_OK            ? SL_REQ_SUCCEEDED
                  : r->outcome.last_error == SL_E_CANCELLED ? SL_REQ_CANCELLED
                                                            : SL_REQ_FAILED;
    slot->req = NULL;
    slot->next_free = sim->free_slots;
    sim->free_slots = slot;
    sim->n.in_flight--;
    record(sim, req);
}

static void start_request(struct sl_sim *sim, struct sim_request *req)
{
    struct sim_slot *slot = sim->free_slots;
    sim->free_slots = slot->next_free;
    slot->req = req;
    req->flags |= REQ_HOLDS_PERMIT;
    req->started_us = sl_wall_us();
    sim->n.in_flight++;
    if (sim->n.in_flight > sim->n.max_in_flight)
        sim->n.max_in_flight = sim->n.in_flight;
    slot->deadline_us = sim->cfg.policy.max_delay_ms > 0
                            ? sl_mono_us() + (int64_t)(sim->cfg.policy.max_delay_ms * 1000)
                            : 0;
    sl_retrier_run(&slot->retrier, &sim->cfg.policy, &req->rng, start_attempt, before_sleep,
                   on_request_done);
}

static void on_admitted(struct sl_sem_waiter *w, int status)
{
    struct sim_request *req = sl_container_of(w, struct sim_request, wait);
    struct sl_sim *sim = sl_container_of(w->sem, struct sl_sim, sem);
    if (status == 0)
        start_request(sim, req);
}

/* ---- lifecycle ----------------------------------------------------------- */

int sl_sim_new(uv_loop_t *loop, const struct sl_sim_config *cfg, struct sl_store *store,
               const struct sl_sim_events *events, struct sl_sim **out)
{
    struct sl_sim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return UV_ENOMEM;
    sim->loop = loop;
    sim->cfg = *cfg;
    sim->store = store;
    if (events)
        sim->events = *events;
    sim->reqs = calloc(cfg->requests ? cfg->requests : 1, sizeof(*sim->reqs));
    sim->slots = calloc(cfg->concurrency, sizeof(*sim->slots));
    if (sim->reqs == NULL || sim->slots == NULL) {
        free(sim->reqs);
        free(sim->slots);
        free(sim);
        return UV_ENOMEM;
    }
    sl_sem_init(&sim->sem, cfg->concurrency);
    sl_list_init(&sim->parked);
    for (unsigned i = 0; i < cfg->concurrency; i++) {
        struct sim_slot *slot = &sim->slots[i];
        sl_retrier_init(loop, &slot->retrier);
        slot->retrier.data = slot;
        uv_timer_init(loop, &slot->attempt_timer);
        slot->attempt_timer.data = slot;
        slot->sim = sim;
        slot->next_free = sim->free_slots;
        sim->free_slots = slot;
    }
    sim->handles_open = 2 * (int)cfg->concurrency;
    sim->n.requests = cfg->requests;
    sim->n.concurrency = cfg->concurrency;
    sl_store_on_writable(store, on_store_writable, sim);
    *out = sim;
    return 0;
}

void sl_sim_start(struct sl_sim *sim)
{
    sim->created_us = sl_wall_us();
    for (uint64_t i = 0; i < sim->cfg.requests; i++) {
        struct sim_request *req = &sim->reqs[i];
        sl_rng_seed(&req->rng, sim->cfg.seed, i + 1);
        req->model = (uint8_t)(sl_rng_next(&req->rng) % MODEL_COUNT);
        req->prompt_tokens = (uint16_t)(16 + sl_rng_next(&req->rng) % 2033);
    }
    for (uint64_t i = 0; i < sim->cfg.requests && !sim->stopping; i++) {
        struct sim_request *req = &sim->reqs[i];
        if (sl_sem_acquire(&sim->sem, &req->wait, on_admitted) == 0)
            start_request(sim, req);
    }
    check_complete(sim); /* zero requests */
}

static void cancel_queued(struct sl_sem_waiter *w, int status)
{
    (void)status;
    struct sim_request *req = sl_container_of(w, struct sim_request, wait);
    struct sl_sim *sim = sl_container_of(w->sem, struct sl_sim, sem);
    req->finished_us = sl_wall_us();
    req->status = SL_REQ_CANCELLED;
    req->error = SL_E_CANCELLED;
    req->attempts = 0;
    record(sim, req);
}

void sl_sim_stop(struct sl_sim *sim, int hard)
{
    if (sim->stopping)
        hard = 1;
    sim->stopping = 1;
    sim->hard_stop |= hard;
    sl_sem_drain(&sim->sem, cancel_queued);
    for (unsigned i = 0; i < sim->cfg.concurrency; i++) {
        struct sim_slot *slot = &sim->slots[i];
        if (slot->req == NULL)
            continue;
        if (slot->in_attempt && hard) {
            uv_timer_stop(&slot->attempt_timer);
            slot->in_attempt = 0;
            sl_retrier_report(&slot->retrier, SL_E_CANCELLED, -1);
        } else if (!slot->in_attempt) {
            sl_retrier_cancel(&slot->retrier);
        }
    }
}

int sl_sim_stopping(const struct sl_sim *sim)
{
    return sim->stopping;
}

void sl_sim_counters(const struct sl_sim *sim, struct sl_sim_counters *out)
{
    *out = sim->n;
}

void *sl_sim_data(const struct sl_sim *sim)
{
    return sim->events.data;
}

static void on_slot_closed(uv_handle_t *handle)
{
    struct sim_slot *slot = handle->data;
    struct sl_sim *sim = slot->sim;
    if (--sim->handles_open > 0)
        return;
    free(sim->reqs);
    free(sim->slots);
    free(sim);
}

void sl_sim_free(struct sl_sim *sim)
{
    sl_store_on_writable(sim->store, NULL, NULL);
    if (sim->cfg.concurrency == 0) {
        free(sim->reqs);
        free(sim->slots);
        free(sim);
        return;
    }
    for (unsigned i = 0; i < sim->cfg.concurrency; i++) {
        sl_retrier_close(&sim->slots[i].retrier, on_slot_closed);
        uv_close((uv_handle_t *)&sim->slots[i].attempt_timer, on_slot_closed);
    }
}
