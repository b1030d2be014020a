/* The load generator: drives C keep-alive connections (load/conn.h) in a
 * closed loop or an open loop and measures what the server does.
 *
 * Closed loop (rate == 0): each connection sends its next request as soon
 * as the previous one is answered, until `requests` have been sent or
 * `duration_ms` has passed. Latency runs from the actual send.
 *
 * Open loop (rate > 0): request i is due at t0 + i / rate, whatever the
 * server does. A due request goes out on an idle connection; when all are
 * busy it waits in the queue, and its latency still runs from its intended
 * send time, so a slow server cannot hide its queueing behind the client's
 * own waiting (no coordinated omission). The queue is a counter, not a
 * list: request i is fully described by i, so it costs no memory; it is
 * bounded by the timeout: a request still queued `timeout_ms` after its
 * intended time is counted as a queue timeout and never sent. Send times
 * come from a timerfd (nanosecond resolution) watched by a uv_poll, since
 * libuv timers have millisecond resolution and a late send would count as
 * latency.
 *
 * Either way the run is bounded: a count or a duration (and every request
 * by the timeout, which runs from the (intended) send). Requests in flight
 * when sending stops are allowed to finish. Accounting: every request that
 * was sent (or expired in the queue) ends exactly once, with an HTTP status
 * or a connection-level error, so requests == sum of statuses + errors.
 * Requests dropped by sl_load_stop are counted apart, as cancelled.
 *
 * Ownership: sl_load_new allocates everything (connections, one shared
 * read buffer, histograms); sl_load_close closes every handle and calls
 * back when the last one is closed; sl_load_free releases the memory. */
#ifndef SL_LOAD_H
#define SL_LOAD_H

#include <stdint.h>
#include <uv.h>

#include "load/conn.h"
#include "load/histogram.h"

#define SL_LOAD_MAX_CONCURRENCY 50000
#define SL_LOAD_STATUS_MAX      600

struct sl_load_config {
    struct sl_conn_target target;
    unsigned concurrency;
    uint64_t requests;    /* stop after this many (0: no limit) */
    uint64_t duration_ms; /* stop sending after this long (0: no limit) */
    double rate;          /* open loop: requests per second; 0: closed loop */
    uint64_t timeout_ms;  /* per request, from its (intended) send time; > 0 */
};

enum sl_load_err {
    SL_LOAD_E_CONNECT,
    SL_LOAD_E_RESET,
    SL_LOAD_E_TIMEOUT,
    SL_LOAD_E_PROTOCOL,
    SL_LOAD_E_QUEUE_TIMEOUT, /* open loop: expired in the queue, never sent */
    SL_LOAD_E__COUNT
};

struct sl_load_result {
    uint64_t requests;  /* finished: with an HTTP status or an error */
    uint64_t responses; /* with an HTTP status */
    uint64_t status[SL_LOAD_STATUS_MAX];
    uint64_t status_other; /* a status code of 600 or more */
    uint64_t errors;       /* connection-level, the sum of errors_by[] */
    uint64_t errors_by[SL_LOAD_E__COUNT];
    int first_error_uv; /* libuv error of the first error, for the message */
    uint64_t cancelled; /* in flight when sl_load_stop ended the run */
    uint64_t connects;  /* connections opened */
    uint64_t body_bytes;
    uint64_t tokens;        /* streaming: `data:` events */
    uint64_t max_queue;     /* open loop: the largest backlog of due, unsent requests */
    struct sl_hist latency; /* requests with an HTTP status, microseconds */
    struct sl_hist ttft;    /* streaming: to the first `data:` event */
    struct sl_hist gap;     /* streaming: between consecutive events */
    uint64_t start_ns, end_ns;
    int unreachable; /* no connection could ever be opened (refused: the run stops at once) */
    int stopped;     /* ended by sl_load_stop */
};

struct sl_load_progress {
    uint64_t finished, total, in_flight, errors;
};

struct sl_load;
typedef void (*sl_load_cb)(struct sl_load *load, void *data);

/* Returns 0, UV_EINVAL for an unbounded or empty configuration (no
 * requests and no duration, no timeout, no connections), UV_ENOMEM, or the
 * error from creating the open loop's timerfd. */
int sl_load_new(uv_loop_t *loop, const struct sl_load_config *cfg, sl_load_cb on_complete,
                void *data, struct sl_load **out);
void sl_load_start(struct sl_load *load);
/* Ends the run now: queued requests are dropped, requests in flight are
 * counted as cancelled; on_complete is called before this returns. */
void sl_load_stop(struct sl_load *load);
const struct sl_load_result *sl_load_result(const struct sl_load *load);
void sl_load_progress(const struct sl_load *load, struct sl_load_progress *out);
/* Closes every handle; on_closed runs once all are closed. */
void sl_load_close(struct sl_load *load, sl_load_cb on_closed);
void sl_load_free(struct sl_load *load);

const char *sl_load_err_name(enum sl_load_err err);

#endif
