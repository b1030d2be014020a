/* The simulated gateway: producer -> admit -> attempt -> retry -> record.
 *
 * Design
 *  - The producer creates every request at once, in one array owned by the
 *    sl_sim (about 80 bytes each: no timer, no string). Each asks the
 *    admission semaphore for a permit; at most `concurrency` hold one.
 *  - A request that holds a permit borrows one of `concurrency` slots; a
 *    slot owns the timers (the attempt's latency and the retrier's backoff),
 *    so timers cost per slot, not per request.
 *  - An attempt waits a random latency on a libuv timer, then succeeds or
 *    fails with a class drawn from the error mix. The retrier decides (pure
 *    policy) and waits on the slot's timer. The request's total deadline
 *    caps both an attempt (which then ends as deadline_exceeded) and the
 *    backoff (never sleep past it).
 *  - Every request draws from its own random stream, seeded from the run
 *    seed and its id, so a seed reproduces the same latencies, failures and
 *    jitter for each request whatever the order of completion.
 *  - A finished request goes to the store. When the store is full the
 *    request keeps its permit and waits on a parked list (intrusive, no
 *    allocation) until the store has room: backpressure, never loss.
 *  - Stop (Ctrl-C): queued requests are cancelled at once and recorded as
 *    cancelled; requests in a backoff wait are cancelled; an attempt in
 *    progress is let finish (and not retried), or with `hard` cancelled too.
 *  - on_complete runs once, when every request has been handed to the
 *    store. The sim never closes the store: its owner does.
 */
#ifndef SL_SIMULATE_H
#define SL_SIMULATE_H

#include <stdint.h>
#include <uv.h>

#include "retry/policy.h"
#include "sim/error_mix.h"
#include "store/store.h"

struct sl_sim_config {
    uint64_t requests;
    unsigned concurrency;
    unsigned latency_min_ms, latency_max_ms;
    double fail_rate;
    struct sl_error_mix mix;
    struct sl_retry_policy policy; /* max_delay_ms is the per-request deadline */
    uint64_t seed;
};

void sl_sim_config_default(struct sl_sim_config *cfg);

struct sl_sim;

struct sl_sim_events {
    /* Before a backoff wait: attempt n of max failed with error, the next
     * starts after wait_ms. */
    void (*on_retry)(struct sl_sim *sim, uint64_t request_id, unsigned attempt,
                     unsigned max_attempts, double wait_ms, enum sl_err error);
    /* Every request has been handed to the store. */
    void (*on_complete)(struct sl_sim *sim);
    void *data;
};

struct sl_sim_counters {
    uint64_t requests, recorded, succeeded, failed, cancelled, retries;
    unsigned in_flight, max_in_flight, concurrency;
};

/* Allocates the run (requests array and slots). Returns 0 or UV_ENOMEM. */
int sl_sim_new(uv_loop_t *loop, const struct sl_sim_config *cfg, struct sl_store *store,
               const struct sl_sim_events *events, struct sl_sim **out);

/* Creates every request and admits the first ones. */
void sl_sim_start(struct sl_sim *sim);

/* First call: cancel the queue and the backoff waits, let attempts finish.
 * hard (or a second call): cancel the attempts in progress as well. */
void sl_sim_stop(struct sl_sim *sim, int hard);
int sl_sim_stopping(const struct sl_sim *sim);

void sl_sim_counters(const struct sl_sim *sim, struct sl_sim_counters *out);
void *sl_sim_data(const struct sl_sim *sim);

/* Closes the slots' timers; the sim frees itself once they are closed. Call
 * after on_complete (or instead of start). */
void sl_sim_free(struct sl_sim *sim);

#endif
