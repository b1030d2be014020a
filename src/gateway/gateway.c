/* The gateway's request state machine.
 *
 * Where a request goes: the server hands an exchange to the front
 * (front.c: routes, validation, refusals), which starts a gw_req here; the
 * gw_req picks a deployment (router), is admitted (semaphore with a bounded
 * queue), makes attempts under the retrier (backoff, Retry-After, total
 * deadline) through the HTTP client, moves to the model's next deployment
 * when one is exhausted, answers the client (respond.c), and hands its row
 * to the recorder (recorder.c: token count, store). Nothing calls back up
 * but to hand back what a layer owns (the recorder's on_recorded).
 *
 * States (enum gw_state; set only by sl__gw_set_state, which asserts that
 * the move is one of these):
 *
 *   ADMITTING    -> PICKING, RESPONDING
 *   PICKING      -> QUEUED, ATTEMPTING, RESPONDING
 *   QUEUED       -> ATTEMPTING, RESPONDING
 *   ATTEMPTING   -> STREAMING, DECIDING
 *   DECIDING     -> BACKING_OFF, PICKING, RESPONDING
 *   BACKING_OFF  -> ATTEMPTING, RESPONDING
 *   STREAMING    -> STREAM_DONE, RESPONDING
 *   STREAM_DONE  -> RESPONDING
 *   RESPONDING   -> FINISHED
 *
 *  - ADMITTING: the key's limits, after the prompt is counted when a TPM
 *    limit needs it; with PICKING and QUEUED, the work of admission.c
 *    (its design note: local and shared limits, what a request holds).
 *  - PICKING: choosing a deployment the request has not tried; the first,
 *    or the next after DECIDING gave this one up. QUEUED: in its admission
 *    queue, r->admit linked. From ATTEMPTING to the end of the attempts the
 *    request holds one permit of r->dep, released in on_attempts_done.
 *  - ATTEMPTING: r->up is out; DECIDING: it came back (or did not start)
 *    and the retrier decides: BACKING_OFF (its timer; then the next
 *    attempt), PICKING (the next deployment), or RESPONDING.
 *  - The commit point: a streamed 2xx is relayed from its first byte
 *    (STREAMING), and from then on nothing is retried; an upstream failure
 *    after it ends the stream with an error event. STREAM_DONE: the
 *    client's stream ended at [DONE] and the request succeeded, whatever
 *    the upstream does next. A non-streamed response is buffered whole, so
 *    any failure before its end can still be retried.
 *  - RESPONDING: the attempts are over and the answer goes out; finish()
 *    is the only way to FINISHED, and runs exactly once (a second call
 *    asserts).
 *
 * Flags that are not states: `cancelled` (with `shut_down`, the reason) is
 * a cancel on its way through whatever state the request is in; `paused`
 * is the relay's backpressure; `too_large` is the attempt's result.
 *
 * Ownership: a gw_req owns a copy of the client's body (the upstream may
 * still read it after the client is gone), the upstream request, a timed
 * admission waiter and a retrier (each a deadline in the gateway's one
 * set, core/deadlines.h: no timer handle per request), a bounded buffer for a
 * non-streamed response and an SSE parser that watches a relayed stream
 * for its usage and its [DONE]. `down` is the client's exchange; it becomes
 * NULL once the answer ended or the client went away, and only respond.c
 * writes to it.
 *
 * Cancellation has one path, sl__gw_cancel(): it stops the queue wait, or the
 * attempt in flight (its on_done reports SL_E_CANCELLED, never retried), or
 * the backoff sleep. Whatever it stops, the request goes on to RESPONDING
 * and finish() by the ordinary way.
 *
 * What a request's row says (docs/serve.md): `error` is the final one
 * (SL_OK for a stream that succeeded after retries); a cancelled request
 * has error SL_E_CANCELLED, streamed or not; `final_status` is what the
 * client saw (499 when nothing reached it).
 *
 * Teardown of a gw_req: finish() unlinks it from gw->reqs, releases the
 * buffers, stops its deadlines, hands the row to the recorder and puts it
 * on gw->finished; the struct (and the body the recorder counts) goes
 * (req_pool.c) once the loop turned (the reaper: nothing up the stack
 * still holds it) and the recorder called on_recorded: to the gateway's
 * spares, or freed. The gateway's own start and end: lifecycle.c.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "gateway/auth.h"
#include "gateway/gateway_impl.h"
#include "gateway/log_line.h"
#include "http/sse.h"
#include "retry/retrier.h"

/* ---- states -------------------------------------------------------------- */

#define S(x) (1u << (x))

/* Every transition goes through here; one that the design does not allow
 * (a second finish(), an attempt after the answer) is a bug that stops the
 * program, as libuv asserts its handle flags. */
void sl__gw_set_state(struct gw_req *r, enum gw_state to)
{
    static const unsigned entered_from[] = {
        [GW_ADMITTING] = 0, /* the first state */
        /* from QUEUED: a shared limit sent it to the next deployment */
        [GW_PICKING] = S(GW_ADMITTING) | S(GW_QUEUED) | S(GW_DECIDING),
        [GW_QUEUED] = S(GW_PICKING),
        [GW_ATTEMPTING] = S(GW_PICKING) | S(GW_QUEUED) | S(GW_BACKING_OFF),
        [GW_DECIDING] = S(GW_ATTEMPTING),
        [GW_BACKING_OFF] = S(GW_DECIDING),
        [GW_STREAMING] = S(GW_ATTEMPTING),
        [GW_STREAM_DONE] = S(GW_STREAMING),
        [GW_RESPONDING] = S(GW_ADMITTING) | S(GW_PICKING) | S(GW_QUEUED) | S(GW_DECIDING) |
                          S(GW_BACKING_OFF) | S(GW_STREAMING) | S(GW_STREAM_DONE),
        [GW_FINISHED] = S(GW_RESPONDING),
    };
    assert(entered_from[to] & S(r->state));
    (void)entered_from;
    r->state = to;
}

/* An upstream request is out (its on_done is still to come). */
static int upstream_out(const struct gw_req *r)
{
    return r->state == GW_ATTEMPTING || r->state == GW_STREAMING || r->state == GW_STREAM_DONE;
}

/* The stream was committed: the client saw this attempt's status. */
static int committed(const struct gw_req *r)
{
    return r->state == GW_STREAMING || r->state == GW_STREAM_DONE;
}

static double ms_since(uint64_t t_ns)
{
    return (double)(uv_hrtime() - t_ns) / 1e6;
}

/* ---- finishing ----------------------------------------------------------- */

/* req_pool.c: a request's memory went back (pending_closes counted it). */
void sl__gw_req_gone(struct sl_gateway *gw)
{
    gw->pending_closes--;
    sl__gw_maybe_closed(gw);
}

static void on_recorded(struct sl_recorder_item *item)
{
    struct gw_req *r = sl_container_of(item, struct gw_req, item);
    assert(r->offload_pending);
    /* priced on the pool with the row: now charged to its key */
    sl__gw_charge(r, &item->row);
    r->offload_pending = 0;
    sl__gw_req_maybe_free(r);
}

/* The request is over for the client and the upstream: record and tear
 * down. Runs exactly once, from GW_RESPONDING. */
void sl__gw_finish(struct gw_req *r)
{
    struct sl_gateway *gw = r->gw;
    uint64_t finish_ns = uv_hrtime();
    sl__gw_set_state(r, GW_FINISHED);
    /* nobody answered yet: should not happen, but never leave a client hanging */
    sl__gw_down_respond_error(r, 500, "server_error", "internal", "internal error", 0);
    if (r->cancelled && r->shut_down) {
        r->cancelled = 0; /* stopped by the gateway's shutdown: a failure, not a cancel */
        r->error = SL_E_UNAVAILABLE;
    } else if (r->cancelled) {
        r->error = SL_E_CANCELLED; /* streamed or not, whatever the attempt said */
    }
    sl__gw_settle_limits(r);
    sl_list_remove(&r->node);
    if (--gw->in_flight == 0 && gw->closing)
        sl__gw_close_parts_soon(gw); /* the last request cancelled by close_all */
    struct sl_gw_log_row *w = &r->item.row;
    sl_str_copy(w->id, sizeof(w->id), r->id);
    w->key = r->key_name;
    w->model = r->model_name;
    w->deployment = r->dep ? r->dep->cfg->name : "";
    w->endpoint = sl__gw_front_endpoint(r);
    w->started_us = r->started_us;
    w->attempts = r->attempts;
    uint64_t served = r->tried & ~r->skipped; /* deployments it went to */
    w->fallbacks = served ? (unsigned)__builtin_popcountll(served) - 1 : 0;
    w->queue_ms = (double)r->queue_ns / 1e6;
    w->ttfb_ms = r->first_byte_ns ? (double)(r->first_byte_ns - r->t0_ns) / 1e6 : 0;
    w->total_ms = (double)(finish_ns - r->t0_ns) / 1e6;
    w->status = r->final_status;
    w->error = r->error;
    w->outcome = r->error == SL_OK            ? SL_GW_OK
                 : r->error == SL_E_CANCELLED ? SL_GW_CANCELLED
                                              : SL_GW_ERROR;
    w->stream = r->stream;
    w->prompt_tokens = r->usage_prompt;
    w->completion_tokens = r->usage_completion;
    w->prompt_tokens_counted = r->prompt_counted;
    w->tries = sl__gw_tries_json(r, r->tries, sizeof(r->tries));
    if (!gw->opts.quiet)
        sl_gw_log_request(gw->opts.log_json, w);
    sl__gw_trace_finish(r, w);
    sl__gw_ui_note(gw->ui, w);
    sl__gw_bodies_finish(r);
    sl_buf_release(&r->answer);
    if (gw->opts.recorder) {
        r->offload_pending = 1;
        r->item.body = r->body;
        r->item.body_len = r->body_len;
        r->item.done = on_recorded;
        r->item.counted = r->counted;
        sl_recorder_count_and_add(gw->opts.recorder, &r->item);
    }
    sl_gw_metrics_stage(gw->metrics, SL_GW_STAGE_RESPOND, r->up_done_ns, finish_ns);
    sl_gw_metrics_stage(gw->metrics, SL_GW_STAGE_ROW, finish_ns, uv_hrtime());
    /* what waits for token counting keeps only the row and the client's
     * body (and a small response buffer, for the next request) */
    if (r->resp.cap > SL_GW_SPARE_RESP_MAX)
        sl_buf_release(&r->resp);
    sl_buf_release(&r->held);
    sl_buf_release(&r->xlat);
    sl_sse_parser_release(&r->sse);
    free(r->up_body);
    r->up_body = NULL;
    free(r->up_url);
    r->up_url = NULL;
    sl__gw_front_release(r);
    if (r->dep && r->dep->glue->release)
        r->dep->glue->release(r);
    sl__gw_req_finished(r);
}

/* ---- upstream attempts --------------------------------------------------- */

static void on_up_headers(struct sl_http_request *up, int status,
                          const struct sl_http_header *headers, size_t n)
{
    struct gw_req *r = up->data;
    r->up_status = status;
    r->retry_after_ms = -1;
    sl__gw_keep_upstream_headers(r, headers, n);
    const struct sl_str *rav = sl_http_header_get(headers, n, "retry-after");
    const char *ra = rav ? rav->ptr : NULL; /* NUL-terminated in on_headers */
    if (ra) {
        char *end;
        double s = strtod(ra, &end);
        if (end != ra && s >= 0)
            r->retry_after_ms = s * 1000;
    }
    r->up_error_type[0] = '\0';
    const struct sl_str *et =
        status >= 300 ? sl_http_header_get(headers, n, "x-amzn-errortype") : NULL;
    if (et)
        snprintf(r->up_error_type, sizeof(r->up_error_type), "%.*s", (int)et->len, et->ptr);
    if (r->stream && status >= 200 && status < 300 && r->down) {
        /* the commit point: from here on the client sees this attempt */
        static const struct sl_http_header cache = {{"Cache-Control", 13}, {"no-cache", 8}};
        struct sl_http_header h[2 + SL_GW_FWD_HEADERS] = {
            {{"x-request-id", 12}, {r->id, strlen(r->id)}}, cache};
        memcpy(h + 2, r->up_hdr, r->n_up_hdr * sizeof(*h));
        sl__gw_set_state(r, GW_STREAMING);
        sl__gw_front_stream_start(r);
        r->first_byte_ns = uv_hrtime();
        sl_gw_metrics_ttft(r->gw->metrics, r->model, (double)(r->first_byte_ns - r->t0_ns) / 1e9);
        /* the client may turn out to be gone: then on_client_gone ran and
         * the row keeps the 499 it set (the client saw nothing) */
        sl_http_stream_start(r->down, status, h, 2 + r->n_up_hdr, "text/event-stream");
        if (r->down) {
            r->final_status = status;
            sl_gw_metrics_status(r->gw->metrics, r->dep, status);
        }
    }
}

static int on_up_body(struct sl_http_request *up, const char *data, size_t len)
{
    struct gw_req *r = up->data;
    if (committed(r)) {
        if (r->down == NULL) {
            /* the client is gone (the cancel is on its way), or its stream
             * is over: bytes after [DONE] or past the limit go nowhere */
            if (r->state == GW_STREAM_DONE && len > 0)
                sl_http_request_cancel(up);
            return 0;
        }
        if (sl_http_stream_pending(r->down) > STREAM_HIGH_WATER) {
            r->paused = 1;
            sl_http_stream_on_drain(r->down, sl__gw_on_stream_drain, r);
            return SL_HTTP_PAUSE; /* a slow client slows the upstream read */
        }
        sl__gw_relay(r, data, len);
        return 0;
    }
    if (!r->too_large && sl_buf_append(&r->resp, data, len) != 0) {
        /* larger than we will hold: fail the attempt (a 502, not a cancel) */
        r->too_large = 1;
        sl_http_request_cancel(up);
    }
    return 0;
}

static void on_up_done(struct sl_http_request *up, const struct sl_http_result *res)
{
    struct gw_req *r = up->data;
    struct sl_gateway *gw = r->gw;
    sl_gw_metrics_attempt(gw->metrics, r->dep, res);
    r->up_done_ns = r->attempt_ns + res->total_ns;
    if (committed(r)) {
        /* a relayed stream: its end is the request's end, never a retry;
         * its outcome is this attempt's, whatever the earlier ones were */
        if (res->err == SL_OK && !r->cancelled && r->state == GW_STREAMING)
            sl__gw_relay_end(r); /* an API whose body's end is the stream's */
        int stream_ok = r->state == GW_STREAM_DONE && r->stream_err == SL_OK;
        sl__gw_set_state(r, GW_RESPONDING);
        if (stream_ok) {
            r->error = SL_OK; /* [DONE] reached the client; what followed is not its concern */
        } else if (r->cancelled && r->shut_down) {
            sl__gw_down_stream_end(r, "server_error", "shutting_down",
                                   "the gateway shut down before the stream ended");
        } else if (r->cancelled) {
            r->error = SL_E_CANCELLED;
            sl__gw_down_stream_end(r, "invalid_request_error", "request_cancelled",
                                   "the request was cancelled");
        } else if (r->stream_err || r->too_large) {
            /* the stream was ended in sl__gw_relay() */
            r->error = r->stream_err ? r->stream_err : SL_E_TOO_LARGE;
        } else {
            r->error = res->err != SL_OK ? res->err : SL_E_CONN_RESET;
            /* the event's code is the row's error class: what the client
             * saw is what the log says */
            sl__gw_down_stream_end(r, "server_error", sl_err_name(r->error),
                                   "the upstream stream ended before its end marker");
        }
        if (!r->cancelled)
            sl_gw_report(r->dep, stream_ok, uv_now(gw->loop));
        sl__gw_trace_attempt_end(r, stream_ok ? SL_OK : r->error);
        sl_retrier_report(&r->retrier, r->cancelled ? SL_E_CANCELLED : SL_OK, -1);
        return;
    }
    sl__gw_set_state(r, GW_DECIDING);
    enum sl_err err = r->cancelled        ? SL_E_CANCELLED
                      : r->too_large      ? SL_E_TOO_LARGE
                      : res->err != SL_OK ? res->err
                                          : sl_err_from_http_status(r->up_status);
    if (err != SL_OK && err != SL_E_CANCELLED && !r->too_large && res->err == SL_OK &&
        r->dep->glue->error)
        err = r->dep->glue->error(r); /* the provider's classes and body */
    if (err != SL_E_CANCELLED)
        sl_gw_report(r->dep, err == SL_OK || err == SL_E_BAD_REQUEST, uv_now(gw->loop));
    r->error = err;
    sl__gw_trace_attempt_end(r, err);
    sl_retrier_report(&r->retrier, err, err == SL_E_RATE_LIMITED ? r->retry_after_ms : -1);
}

static void start_attempt(struct sl_retrier *rt)
{
    struct gw_req *r = rt->data;
    struct sl_gateway *gw = r->gw;
    const struct sl_gw_deployment *d = r->dep->cfg;
    if (rt->state.attempt > 1) /* the provider counts a retry like any request */
        sl_rate_charge_retry(&r->dep->rate, (uint64_t)sl_mono_us(), &r->dep_ticket);
    sl__gw_set_state(r, GW_ATTEMPTING);
    r->attempts++;
    r->attempt_ns = uv_hrtime();
    if (r->attempts == 1)
        sl_gw_metrics_stage(gw->metrics, SL_GW_STAGE_ADMISSION, r->t0_ns, r->attempt_ns);
    sl__gw_trace_attempt(r); /* before the headers: its traceparent */
    sl_buf_reset(&r->resp);
    sl_buf_reset(&r->held);
    r->since_event = 0;
    sl_sse_parser_reset(&r->sse);
    r->up_status = 0;
    r->saw_done = 0;
    r->done_at = 0;
    r->too_large = 0;
    r->paused = 0;
    size_t nh = 0;
    static const struct sl_http_header json =
        SL_HTTP_HEADER_LIT("Content-Type", "application/json");
    static const struct sl_http_header sse = SL_HTTP_HEADER_LIT("Accept", "text/event-stream");
    r->up_headers[nh++] = json;
    if (r->stream)
        r->up_headers[nh++] = sse;
    if (d->target.authorization && !d->client_key)
        r->up_headers[nh++] = d->target.auth_header;
    nh += sl__gw_add_client_headers(r, r->up_headers + nh, SL_GW_UP_HEADERS - nh);
    if (d->target.extra_value)
        r->up_headers[nh++] = d->target.extra_header;
    nh += sl__gw_add_trace(r, r->up_headers + nh, SL_GW_UP_HEADERS - nh);
    r->n_up_headers = nh;
    free(r->up_url);
    r->up_url = NULL;
    int failed = r->dep->glue->attempt ? r->dep->glue->attempt(r) : 0;
    if (failed) { /* nothing was sent: a class for the retrier */
        sl__gw_set_state(r, GW_DECIDING);
        r->error = (enum sl_err)failed;
        sl__gw_trace_attempt_end(r, r->error);
        sl_retrier_report(&r->retrier, (enum sl_err)failed, -1);
        return;
    }
    nh = r->n_up_headers;
    int native_responses = r->native && r->front == GW_FRONT_RESPONSES;
    double left_ms = r->model->total_timeout_ms - (double)(r->attempt_ns - r->t0_ns) / 1e6;
    if (left_ms < 1)
        left_ms = 1;
    r->up = (struct sl_http_request){
        .method = "POST",
        .url = r->up_url          ? r->up_url
               : native_responses ? d->target.responses_url
                                  : d->target.url[r->ep],
        .route = r->up_url          ? NULL
                 : native_responses ? r->dep->responses_route
                                    : r->dep->route[r->ep],
        .headers = r->up_headers,
        .n_headers = nh,
        .body = r->up_body ? r->up_body : r->body,
        .body_len = r->up_body ? r->up_body_len : r->body_len,
        .connect_timeout_ms = d->connect_timeout_ms,
        .first_byte_timeout_ms = d->attempt_timeout_ms,
        .total_timeout_ms =
            r->stream
                ? (uint32_t)left_ms
                : (uint32_t)(left_ms < d->attempt_timeout_ms ? left_ms : d->attempt_timeout_ms),
        .on_headers = on_up_headers,
        .on_body = on_up_body,
        .on_done = on_up_done,
        .data = r,
    };
    if (sl_http_request_start(gw->client, &r->up) != 0) {
        sl__gw_set_state(r, GW_DECIDING);
        r->error = SL_E_CONN_REFUSED;
        sl__gw_trace_attempt_end(r, r->error);
        sl_retrier_report(&r->retrier, SL_E_UNAVAILABLE, -1);
    }
}

static void before_sleep(struct sl_retrier *rt, enum sl_err error,
                         const struct sl_retry_decision *d)
{
    struct gw_req *r = rt->data;
    struct sl_gateway *gw = r->gw;
    sl__gw_set_state(r, GW_BACKING_OFF);
    sl_gw_metrics_retry(gw->metrics, r->dep);
    if (!gw->opts.quiet)
        sl_gw_log_retry(gw->opts.log_json, r->id, r->dep->cfg->name, rt->state.attempt,
                        rt->policy->max_attempts, error, d->wait_ms);
}

static void on_attempts_done(struct sl_retrier *rt)
{
    struct gw_req *r = rt->data;
    const struct sl_retry_outcome *o = &rt->outcome;
    sl__gw_release_permit(r); /* the permit the attempts held */
    if (r->state == GW_RESPONDING) {
        sl__gw_finish(r); /* a committed stream: on_up_done ended it and set r->error */
        return;
    }
    int cancelled = r->cancelled || o->last_error == SL_E_CANCELLED;
    if (!cancelled && o->last_error != SL_OK &&
        (o->reason == SL_RETRY_MAX_ATTEMPTS ||
         (o->reason == SL_RETRY_NOT_RETRYABLE &&
          (o->last_error == SL_E_CONN_REFUSED || o->last_error == SL_E_UNAUTHORIZED)))) {
        /* this deployment is exhausted: the model's next one, if any (when
         * none is left, pick_and_admit answers the failure) */
        r->error = o->last_error;
        sl__gw_set_state(r, GW_PICKING);
        sl__gw_pick(r);
        return;
    }
    sl__gw_set_state(r, GW_RESPONDING);
    if (cancelled) {
        r->cancelled = 1;
        sl__gw_respond_failure(r);
        sl__gw_finish(r);
        return;
    }
    if (o->last_error == SL_OK) {
        r->error = SL_OK;
        r->first_byte_ns = uv_hrtime(); /* a JSON response goes out whole, now */
        const struct sl_gw_glue *p = r->dep->glue;
        if (p->response && p->response(r) != 0) {
            r->error = SL_E_BAD_GATEWAY; /* a 2xx that is not what its API answers */
            sl__gw_respond_failure(r);
            sl__gw_finish(r);
            return;
        }
        if (p->response == NULL && r->resp.len)
            sl_openai_usage(r->resp.ptr, r->resp.len, &r->usage_prompt, &r->usage_completion);
        sl__gw_down_respond(r, r->up_status, r->resp.ptr ? r->resp.ptr : "", r->resp.len, 0);
        sl__gw_finish(r);
        return;
    }
    r->error = o->last_error;
    sl__gw_respond_failure(r);
    sl__gw_finish(r);
}

void sl__gw_start_attempts(struct gw_req *r)
{
    r->policy = r->dep->cfg->retry;
    double left_ms = r->model->total_timeout_ms - ms_since(r->t0_ns);
    r->policy.max_delay_ms = left_ms > 1 ? left_ms : 1;
    r->retrier.data = r;
    sl_retrier_run(&r->retrier, &r->policy, &r->rng, start_attempt, before_sleep, on_attempts_done);
}

/* ---- cancellation ------------------------------------------------------- */

int sl__gw_cancel(struct gw_req *r)
{
    assert(r->state != GW_FINISHED); /* a finished request is off gw->reqs */
    if (r->cancelled)
        return 1;
    /* a stream that reached [DONE] is answered: nothing left to cancel for
     * the client (its upstream still goes, on close, with the client) */
    if (r->state == GW_STREAM_DONE)
        return 0;
    r->cancelled = 1;
    if (!r->shut_down)
        sl_gw_metrics_cancelled(r->gw->metrics);
    if (sl__gw_cancel_admission(r)) {
        /* counting, or waiting for a limit: admission.c ends it */
    } else if (upstream_out(r)) {
        sl_http_request_cancel(&r->up); /* on_done reports SL_E_CANCELLED */
    } else if (r->state != GW_PICKING) {
        sl_retrier_cancel(&r->retrier); /* sleeping: ends now */
    }
    return 1;
}

static void on_client_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    struct gw_req *r = data;
    r->down = NULL;
    sl_gw_metrics_client_gone(r->gw->metrics);
    if (r->final_status == 0)
        r->final_status = 499;
    sl__gw_cancel(r);
}

/* ---- the start and the cancel endpoint ------------------------------------ */

int sl__gw_proxy(struct sl_gateway *gw, struct sl_http_exchange *down, const struct sl__gw_start *s)
{
    struct gw_req *r = sl__gw_req_get(gw, s->body.len);
    if (r == NULL)
        return UV_ENOMEM;
    memcpy(r->body, s->body.ptr, s->body.len);
    r->gw = gw;
    r->state = GW_ADMITTING;
    r->down = down;
    sl_str_copy(r->id, sizeof(r->id), s->id);
    r->ep = s->ep;
    r->model = s->model;
    memcpy(r->model_name, s->model_name.ptr, s->model_name.len);
    r->key = s->key;
    if (s->key)
        sl_str_copy(r->key_name, sizeof(r->key_name), s->key->s.name);
    r->front = s->front;
    if (s->front_body) /* its bytes are the request's from here */
        r->front_body = sl_buf_take(s->front_body, &r->front_body_len);
    if (s->front_raw && s->front_raw->len) {
        r->front_raw = sl_buf_take(s->front_raw, &r->front_raw_len);
        r->front_model_at = s->front_model.ptr ? (size_t)(s->front_model.ptr - r->front_raw) : 0;
        r->front_model_len = s->front_model.len;
    }
    if (s->stateful) {
        r->front_stateful = 1;
        r->refusal = *s->stateful;
    }
    r->stream = s->stream;
    r->stream_options = s->stream_options;
    r->max_tokens = s->max_tokens;
    r->pick_retry_us = UINT64_MAX;
    r->body_len = s->body.len;
    r->model_at = (size_t)(s->model_name.ptr - s->body.ptr);
    r->model_len = s->model_name.len;
    r->t0_ns = uv_hrtime();
    sl_gw_metrics_stage(gw->metrics, SL_GW_STAGE_PARSE, sl_http_exchange_started_ns(down),
                        r->t0_ns);
    r->started_us = sl_wall_us();
    sl_rng_seed(&r->rng, sl_rng_next(&gw->rng), 0);
    sl_buf_init(&r->held, MAX_EVENT_BYTES);
    sl_buf_init(&r->xlat, 4 * MAX_EVENT_BYTES);
    sl_buf_init(&r->answer, 4 * (size_t)gw->cfg->bodies.max_bytes); /* allocates on first use */
    sl_sse_parser_init(&r->sse, 0, sl__gw_on_sse_event, r);
    sl_sem_timed_init_on(&gw->deadlines, &r->admit);
    sl_retrier_init_on(&gw->deadlines, &r->retrier);
    r->retrier.data = r;
    gw->pending_closes++;
    sl_list_push_back(&gw->reqs, &r->node);
    if (++gw->in_flight > gw->max_in_flight)
        gw->max_in_flight = gw->in_flight;
    sl__gw_keep_trace(r, sl_http_exchange_head(down));
    sl__gw_trace_begin(r);
    sl__gw_client_key(sl_http_exchange_head(down), sl_gw_needs_key(gw->cfg, SL_GW_ROUTE_API),
                      r->client_key, sizeof(r->client_key));
    sl_http_exchange_on_abort(down, on_client_gone, r);
    sl__gw_admit(r);
    return 0;
}

int sl__gw_cancel_id(struct sl_gateway *gw, struct sl_str id, const struct sl_gw_key_entry *key)
{
    for (struct sl_list *n = gw->reqs.next; n != &gw->reqs; n = n->next) {
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        if (strlen(r->id) == id.len && memcmp(r->id, id.ptr, id.len) == 0 &&
            sl_gw_may_cancel(gw->cfg, r->key, key))
            return sl__gw_cancel(r);
    }
    return -1;
}
