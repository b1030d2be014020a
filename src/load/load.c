#include "load/load.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define READ_BUF_SIZE (64 * 1024)

/* Streaming state of the request in flight on one connection. */
struct stream_state {
    uint64_t last_event_ns;
    uint32_t events;
};

struct sl_load {
    uv_loop_t *loop;
    struct sl_load_config cfg;
    struct sl_conn_target target;
    struct sl_conn *conns;
    struct stream_state *streams;
    unsigned *idle; /* stack of idle connection indexes */
    unsigned n_idle;
    char *rbuf;

    uv_timer_t sweep; /* timeouts (and queue expiry in the open loop) */
    uv_poll_t pace;   /* open loop: the timerfd of the next send */
    int tfd, pace_init;
    uint64_t armed_ns; /* what the timerfd is armed for, 0: disarmed */

    uint64_t t0, deadline_ns, timeout_ns;
    uint64_t total; /* open loop: requests to schedule */
    uint64_t next;  /* open loop: index of the next request to send */
    uint64_t started, in_flight;
    int ever_connected, sending_done, done, closing;
    unsigned open_handles;

    sl_load_cb on_complete, on_closed;
    void *data;
    struct sl_load_result res;
};

static const char *const err_names[SL_LOAD_E__COUNT] = {
    "connect", "reset", "timeout", "protocol", "queue_timeout",
};

const char *sl_load_err_name(enum sl_load_err err)
{
    return (unsigned)err < SL_LOAD_E__COUNT ? err_names[err] : "unknown";
}

static void count_error(struct sl_load *l, enum sl_load_err e, int uv_err)
{
    if (l->res.errors == 0)
        l->res.first_error_uv = uv_err;
    l->res.errors++;
    l->res.errors_by[e]++;
    l->res.requests++;
}

static int open_loop(const struct sl_load *l)
{
    return l->cfg.rate > 0;
}

static uint64_t intended_ns(const struct sl_load *l, uint64_t i)
{
    return l->t0 + (uint64_t)((double)i * 1e9 / l->cfg.rate);
}

static void complete(struct sl_load *l, uint64_t now)
{
    if (l->done)
        return;
    l->done = 1;
    l->res.end_ns = now;
    for (unsigned i = 0; i < l->cfg.concurrency; i++)
        l->res.connects += l->conns[i].connects;
    /* Nothing ever connected (refused, or every connect timed out). */
    if (l->res.connects == 0 && l->res.requests > 0 && !l->res.stopped)
        l->res.unreachable = 1;
    uv_timer_stop(&l->sweep);
    if (l->pace_init)
        uv_poll_stop(&l->pace);
    l->on_complete(l, l->data);
}

static void maybe_complete(struct sl_load *l, uint64_t now)
{
    if (l->sending_done && l->in_flight == 0)
        complete(l, now);
}

static void dispatch(struct sl_load *l, unsigned idx, uint64_t start_ns)
{
    l->streams[idx].events = 0;
    l->started++;
    l->in_flight++;
    sl_conn_send(&l->conns[idx], start_ns);
}

/* ---- closed loop ---------------------------------------------------------- */

static int closed_may_send(struct sl_load *l, uint64_t now)
{
    if (l->sending_done)
        return 0;
    if ((l->cfg.requests && l->started >= l->cfg.requests) ||
        (l->deadline_ns && now >= l->deadline_ns)) {
        l->sending_done = 1;
        return 0;
    }
    return 1;
}

/* ---- open loop ------------------------------------------------------------ */

static void arm(struct sl_load *l, uint64_t at_ns)
{
    if (l->armed_ns == at_ns)
        return;
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
    its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
    timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    l->armed_ns = at_ns;
}

/* Sends every due request that has an idle connection, expires those that
 * waited past the timeout, and arms the timerfd for the next one. */
static void pump(struct sl_load *l, uint64_t now)
{
    if (l->sending_done) {
        maybe_complete(l, now);
        return;
    }
    uint64_t due = now < l->t0 ? 0 : (uint64_t)((double)(now - l->t0) * l->cfg.rate / 1e9) + 1;
    if (due > l->total)
        due = l->total;
    while (l->next < due && now - intended_ns(l, l->next) >= l->timeout_ns) {
        count_error(l, SL_LOAD_E_QUEUE_TIMEOUT, UV_ETIMEDOUT);
        l->next++;
    }
    while (l->next < due && l->n_idle > 0) {
        unsigned idx = l->idle[--l->n_idle];
        dispatch(l, idx, intended_ns(l, l->next));
        l->next++;
    }
    if (due - l->next > l->res.max_queue)
        l->res.max_queue = due - l->next;
    if (l->next >= l->total) {
        l->sending_done = 1;
        maybe_complete(l, now);
    } else if (l->next >= due) {
        arm(l, intended_ns(l, l->next));
    }
}

static void on_pace(uv_poll_t *p, int status, int events)
{
    struct sl_load *l = p->data;
    uint64_t expirations;
    (void)status;
    (void)events;
    if (read(l->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    l->armed_ns = 0;
    pump(l, uv_hrtime());
}

/* ---- completions ---------------------------------------------------------- */

static void check_unreachable(struct sl_load *l, const struct sl_conn_result *r)
{
    if (l->ever_connected)
        return;
    for (unsigned i = 0; i < l->cfg.concurrency; i++)
        if (l->conns[i].connects > 0) {
            l->ever_connected = 1;
            return;
        }
    if (r->err == SL_CONN_E_CONNECT && !l->res.unreachable) {
        /* Nothing ever connected: stop instead of spinning on refusals. */
        l->res.unreachable = 1;
        l->sending_done = 1;
    }
}

static void on_conn_done(struct sl_conn *c, const struct sl_conn_result *r)
{
    struct sl_load *l = c->data;
    if (l->done)
        return;
    unsigned idx = (unsigned)(c - l->conns);
    l->in_flight--;
    if (r->err == SL_CONN_OK) {
        l->ever_connected = 1;
        l->res.requests++;
        l->res.responses++;
        if (r->status < SL_LOAD_STATUS_MAX)
            l->res.status[r->status]++;
        else
            l->res.status_other++;
        l->res.body_bytes += r->body_bytes;
        sl_hist_record(&l->res.latency, (r->end_ns - r->start_ns) / 1000);
    } else {
        static const enum sl_load_err map[SL_CONN_E__COUNT] = {
            SL_LOAD_E_PROTOCOL, SL_LOAD_E_CONNECT,  SL_LOAD_E_RESET,
            SL_LOAD_E_TIMEOUT,  SL_LOAD_E_PROTOCOL,
        };
        count_error(l, map[r->err], r->uv_err);
        check_unreachable(l, r);
    }
    if (open_loop(l)) {
        l->idle[l->n_idle++] = idx;
        pump(l, uv_hrtime());
        return;
    }
    uint64_t now = uv_hrtime();
    if (closed_may_send(l, now))
        dispatch(l, idx, now);
    else
        maybe_complete(l, now);
}

static void on_conn_event(struct sl_conn *c, uint64_t now, uint32_t n)
{
    struct sl_load *l = c->data;
    struct stream_state *s = &l->streams[c - l->conns];
    if (s->events == 0)
        sl_hist_record(&l->res.ttft, (now - c->start_ns) / 1000);
    else
        sl_hist_record(&l->res.gap, (now - s->last_event_ns) / 1000);
    /* Events that arrived in the same read are 0 us apart, as observed. */
    for (uint32_t i = 1; i < n; i++)
        sl_hist_record(&l->res.gap, 0);
    s->events += n;
    s->last_event_ns = now;
    l->res.tokens += n;
}

static void on_sweep(uv_timer_t *t)
{
    struct sl_load *l = t->data;
    uint64_t now = uv_hrtime();
    for (unsigned i = 0; i < l->cfg.concurrency; i++) {
        struct sl_conn *c = &l->conns[i];
        if (sl_conn_abortable(c) && now - c->start_ns >= l->timeout_ns)
            sl_conn_abort(c, SL_CONN_E_TIMEOUT);
    }
    if (open_loop(l))
        pump(l, now);
}

/* ---- lifecycle ------------------------------------------------------------ */

int sl_load_new(uv_loop_t *loop, const struct sl_load_config *cfg, sl_load_cb on_complete,
                void *data, struct sl_load **out)
{
    /* Every run is bounded: by a count or a duration, and each request by
     * its timeout. */
    if (cfg->concurrency == 0 || cfg->concurrency > SL_LOAD_MAX_CONCURRENCY ||
        (cfg->requests == 0 && cfg->duration_ms == 0) || cfg->timeout_ms == 0 || cfg->rate < 0)
        return UV_EINVAL;
    struct sl_load *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return UV_ENOMEM;
    l->loop = loop;
    l->cfg = *cfg;
    l->target = cfg->target;
    l->on_complete = on_complete;
    l->data = data;
    l->tfd = -1;
    unsigned n = cfg->concurrency;
    l->conns = calloc(n, sizeof(*l->conns));
    l->streams = calloc(n, sizeof(*l->streams));
    l->idle = calloc(n, sizeof(*l->idle));
    l->rbuf = malloc(READ_BUF_SIZE);
    if (!l->conns || !l->streams || !l->idle || !l->rbuf) {
        sl_load_free(l);
        return UV_ENOMEM;
    }
    if (open_loop(l)) {
        l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        int r = l->tfd < 0 ? -errno : uv_poll_init(loop, &l->pace, l->tfd);
        if (r < 0) {
            /* uv_poll_init fails before it registers the handle. */
            sl_load_free(l);
            return r;
        }
        l->pace.data = l;
        l->pace_init = 1;
    }
    for (unsigned i = 0; i < n; i++)
        sl_conn_init(&l->conns[i], loop, &l->target, l->rbuf, READ_BUF_SIZE, on_conn_done,
                     cfg->target.sse ? on_conn_event : NULL, NULL, l);
    sl_hist_init(&l->res.latency);
    sl_hist_init(&l->res.ttft);
    sl_hist_init(&l->res.gap);
    uv_timer_init(loop, &l->sweep);
    l->sweep.data = l;
    *out = l;
    return 0;
}

void sl_load_start(struct sl_load *l)
{
    uint64_t now = uv_hrtime();
    l->t0 = l->res.start_ns = now;
    l->timeout_ns = l->cfg.timeout_ms * 1000000u;
    uint64_t sweep_ms = l->cfg.timeout_ms / 20;
    sweep_ms = sweep_ms < 1 ? 1 : sweep_ms > 100 ? 100 : sweep_ms;
    uv_timer_start(&l->sweep, on_sweep, sweep_ms, sweep_ms);
    if (open_loop(l)) {
        uint64_t total = UINT64_MAX;
        if (l->cfg.duration_ms)
            total = (uint64_t)ceil(l->cfg.rate * (double)l->cfg.duration_ms / 1000.0);
        if (l->cfg.requests && l->cfg.requests < total)
            total = l->cfg.requests;
        l->total = total;
        for (unsigned i = l->cfg.concurrency; i > 0; i--)
            l->idle[l->n_idle++] = i - 1;
        uv_poll_start(&l->pace, UV_READABLE, on_pace);
        pump(l, now);
        return;
    }
    /* No timer for the end: every connection is busy until sending stops,
     * and each completion checks the deadline on the monotonic clock. */
    if (l->cfg.duration_ms)
        l->deadline_ns = now + l->cfg.duration_ms * 1000000u;
    for (unsigned i = 0; i < l->cfg.concurrency && closed_may_send(l, now); i++)
        dispatch(l, i, uv_hrtime());
    maybe_complete(l, now);
}

void sl_load_stop(struct sl_load *l)
{
    if (l->done)
        return;
    l->res.stopped = 1;
    l->res.cancelled = l->in_flight;
    l->in_flight = 0;
    l->sending_done = 1;
    complete(l, uv_hrtime());
}

const struct sl_load_result *sl_load_result(const struct sl_load *l)
{
    return &l->res;
}

void sl_load_progress(const struct sl_load *l, struct sl_load_progress *out)
{
    out->finished = l->res.requests;
    out->total = open_loop(l) ? (l->total == UINT64_MAX ? 0 : l->total) : l->cfg.requests;
    out->in_flight = l->in_flight;
    out->errors = l->res.errors;
}

static void handle_closed(struct sl_load *l)
{
    if (--l->open_handles == 0 && l->on_closed)
        l->on_closed(l, l->data);
}

static void on_conn_closed(struct sl_conn *c)
{
    handle_closed(c->data);
}

static void on_handle_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_pace_close(uv_handle_t *h)
{
    struct sl_load *l = h->data;
    close(l->tfd);
    l->tfd = -1;
    handle_closed(l);
}

void sl_load_close(struct sl_load *l, sl_load_cb on_closed)
{
    if (l->closing)
        return;
    l->closing = 1;
    l->done = 1;
    l->on_closed = on_closed;
    l->open_handles = 1; /* held until every close is issued */
    for (unsigned i = 0; i < l->cfg.concurrency; i++) {
        l->conns[i].on_closed = on_conn_closed;
        if (sl_conn_shutdown(&l->conns[i]))
            l->open_handles++;
    }
    l->open_handles++;
    uv_close((uv_handle_t *)&l->sweep, on_handle_close);
    if (l->pace_init) {
        l->open_handles++;
        uv_close((uv_handle_t *)&l->pace, on_pace_close);
    }
    handle_closed(l);
}

void sl_load_free(struct sl_load *l)
{
    if (l == NULL)
        return;
    if (l->tfd >= 0)
        close(l->tfd);
    free(l->conns);
    free(l->streams);
    free(l->idle);
    free(l->rbuf);
    free(l);
}
