/* The gateway's request pipeline.
 *
 * Design
 *  - One struct gw_req per proxied request, from the moment its body is
 *    validated to the moment its log row is handed over. It owns: a copy of
 *    the body (the upstream may still read it after the client is gone),
 *    the upstream request, a timed admission waiter and a retrier (one timer
 *    each), a bounded buffer for non-streamed responses and an SSE parser
 *    that watches a relayed stream for its usage and its [DONE].
 *  - The way through: pick a deployment (router) -> admit (semaphore with a
 *    bounded queue) -> attempts under the retrier (backoff, Retry-After,
 *    total deadline) -> on exhaustion, the next deployment -> respond ->
 *    finish (log row, on the thread pool for token counting, then the
 *    recorder).
 *  - The commit point: a streamed response is relayed from its first byte,
 *    and from then on nothing is retried; an upstream failure after it ends
 *    the stream with an error event. A non-streamed response is buffered
 *    whole, so any failure before its end can still be retried.
 *  - Cancellation has one path, cancel(): stop waiting in the queue, or
 *    cancel the attempt in flight (its on_done reports SL_E_CANCELLED, which
 *    is never retried), or stop the backoff sleep. Whatever it stops, the
 *    retrier's on_done (or the queue path) releases the permit and calls
 *    finish() exactly once.
 *  - `down` is the client's request; it becomes NULL once the response to
 *    the client ended or the client went away, and is never touched after.
 *    Only the down_* functions write to the client (see "the client side").
 *  - A stream is relayed event by event: bytes go to the client only up to
 *    the end of the last whole event, the rest waits (at most one event,
 *    bounded by SL_SSE_DEFAULT_MAX_EVENT). So the client never gets half an
 *    event, nothing of an event over the limit, and nothing after [DONE]:
 *    the client's stream ends at [DONE], whatever the upstream does next.
 *  - What a request's row says (docs/serve.md): `error` is the final one
 *    (SL_OK for a stream that succeeded after retries); a cancelled request
 *    has error SL_E_CANCELLED, streamed or not; `final_status` is what the
 *    client saw (499 when nothing reached it).
 *  - Teardown of a gw_req: finish() unlinks it and closes both timers; the
 *    struct is freed when both close callbacks ran and the token-counting
 *    job (if any) came back.
 */
#include "gateway/gateway.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/list.h"
#include "core/offload.h"
#include "core/rng.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "core/buf.h"
#include "http/client.h"
#include "http/json_scan.h"
#include "http/openai.h"
#include "http/server.h"
#include "http/sse.h"
#include "retry/retrier.h"

#define MAX_RESPONSE_BYTES (16u * 1024 * 1024)
#define MAX_EVENT_BYTES    SL_SSE_DEFAULT_MAX_EVENT
/* Token counting goes to the thread pool in batches of up to COUNT_BATCH
 * requests, or after COUNT_DELAY_MS: one thread wake-up per batch, not per
 * request (a wake-up per request cost more than the counting). */
#define COUNT_BATCH       256
#define COUNT_DELAY_MS    10
#define STREAM_HIGH_WATER (256u * 1024)

enum req_state { R_ADMITTING, R_RUNNING, R_FINISHED };

struct dep_metrics {
    uint64_t status[600];
    uint64_t retries, attempts, resent;
    struct sl_prom_hist queue_wait, upstream_latency;
};

struct model_metrics {
    struct sl_prom_hist ttft;
    uint64_t fallbacks;
};

struct sl_gateway {
    uv_loop_t *loop;
    struct sl_gateway_options opts;
    const struct sl_gw_config *cfg;
    struct sl_gw_router router;
    struct sl_http_server *server;
    struct sl_http_client *client;
    struct sl_list reqs;
    uint64_t in_flight, max_in_flight;
    struct sl_rng rng;
    struct dep_metrics *dm;
    struct model_metrics *mm;
    uint64_t status_unrouted[600];
    uint64_t cancelled, client_gone;
    /* finished requests waiting for their prompt tokens to be counted; one
     * batch at a time goes to the thread pool (one wake-up per batch) */
    struct sl_list count_queue, count_batch;
    size_t count_queued;
    int count_job_active;
    uv_timer_t count_timer; /* sends a partial batch after COUNT_DELAY_MS */
    int draining, closing, pending_closes, started;
    uint64_t drain_deadline_ms;
    uv_timer_t drain_timer;
    void (*shutdown_cb)(void *);
    void *shutdown_arg;
};

struct gw_req {
    struct sl_list node;
    struct sl_gateway *gw;
    struct sl_http_exchange *down;
    char id[40];
    enum sl_openai_endpoint ep;
    enum req_state state;
    const struct sl_gw_model *model;
    char model_name[128];
    const char *key_name;
    int key; /* index of the gateway key that started it, or -1 */
    int stream;

    char *body; /* the client's body, owned */
    size_t body_len;
    size_t model_at, model_len; /* the "model" value inside body */
    char *up_body;              /* with the deployment's model name, when it has one */
    size_t up_body_len;

    struct sl_gw_dep *dep;
    uint64_t tried;
    int holds_permit, admit_queued;
    struct sl_sem_timed_waiter admit;
    struct sl_retrier retrier;
    struct sl_retry_policy policy;
    struct sl_rng rng;

    struct sl_http_request up;
    struct sl_http_header up_headers[4];
    int up_active, up_status;
    double retry_after_ms;
    struct sl_buf resp;
    struct sl_sse_parser sse;
    struct sl_buf held; /* a stream's bytes after its last whole event */
    size_t done_at;     /* where [DONE] ended, in the chunk that held it */
    int saw_done, paused;
    int stream_ok; /* the client's stream ended with [DONE]: the request succeeded */
    int too_large; /* the response, or one event, passed the limit */
    unsigned usage_prompt, usage_completion;

    int committed, cancelled, client_gone;
    int shut_down; /* cancelled by the gateway's own shutdown, not by the client */
    unsigned attempts;
    enum sl_err error;
    int final_status;
    uint64_t t0_ns, admit_start_ns, queue_ns, first_byte_ns;
    int64_t started_us;
    int handles_open, offload_pending;
    struct sl_gw_log_row row;
};

const char *sl_gw_outcome_name(enum sl_gw_outcome outcome)
{
    return outcome == SL_GW_OK ? "ok" : outcome == SL_GW_CANCELLED ? "cancelled" : "error";
}

static void finish(struct gw_req *r);
static void pick_and_admit(struct gw_req *r);
static void maybe_closed(struct sl_gateway *gw);
static void close_parts_soon(struct sl_gateway *gw);

/* ---- small helpers ------------------------------------------------------- */

static double ms_since(uint64_t t_ns)
{
    return (double)(uv_hrtime() - t_ns) / 1e6;
}

static void new_id(struct sl_gateway *gw, char *out, size_t size)
{
    snprintf(out, size, "req_%016" PRIx64, sl_rng_next(&gw->rng));
}

static void count_status(struct gw_req *r, int status)
{
    if (status < 0 || status >= 600)
        return;
    if (r->dep)
        r->gw->dm[r->dep - r->gw->router.deps].status[status]++;
    else
        r->gw->status_unrouted[status]++;
}

/* Sends a JSON response with x-request-id (and Retry-After when > 0). */
static void respond(struct sl_http_exchange *down, const char *id, int status, const char *body,
                    size_t len, int retry_after_s)
{
    char ra[16];
    struct sl_http_header h[2] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    size_t n = 1;
    if (retry_after_s > 0) {
        int k = snprintf(ra, sizeof(ra), "%d", retry_after_s);
        h[n++] = (struct sl_http_header){{"Retry-After", 11}, {ra, (size_t)k}};
    }
    sl_http_respond(down, status, h, n, "application/json", body, len);
}

/* Sends an OpenAI-shaped error with x-request-id (and Retry-After when > 0). */
static void respond_error(struct sl_http_exchange *down, const char *id, int status,
                          const char *type, const char *code, const char *message,
                          int retry_after_s)
{
    char body[1536];
    size_t n = sl_http_error_body(body, sizeof(body), type, code, message);
    respond(down, id, status, body, n, retry_after_s);
}

/* ---- the client side ------------------------------------------------------
 *
 * r->down is the one place that knows whether the client can still be
 * written to, and the functions below are the only ones that write to it.
 * It is cleared by a terminal write (a whole response, a stream's end),
 * which first detaches on_abort, so that whatever the socket does inside the
 * write the request is not called back; and by on_client_gone, which can run
 * inside a stream start or write: the kernel refuses the bytes because the
 * client had reset the connection before the server read that reset (it had
 * stopped reading, for example because the client pipelined more bytes).
 * So every write checks r->down, and no code may assume the client is still
 * there after a stream start or write. */

static struct sl_http_exchange *down_take(struct gw_req *r)
{
    struct sl_http_exchange *d = r->down;
    if (d != NULL) {
        r->down = NULL;
        sl_http_exchange_on_abort(d, NULL, NULL);
    }
    return d;
}

/* A whole JSON response (when the client is still there), counted and
 * recorded as the status the client saw. */
static void down_respond(struct gw_req *r, int status, const char *body, size_t len,
                         int retry_after_s)
{
    struct sl_http_exchange *d = down_take(r);
    if (d == NULL)
        return;
    count_status(r, status);
    r->final_status = status;
    respond(d, r->id, status, body, len, retry_after_s);
}

static void down_respond_error(struct gw_req *r, int status, const char *type, const char *code,
                               const char *message, int retry_after_s)
{
    char body[1536];
    size_t n = sl_http_error_body(body, sizeof(body), type, code, message);
    down_respond(r, status, body, n, retry_after_s);
}

/* Part of a stream. The client may turn out to be gone: then
 * on_client_gone ran inside this call and r->down is NULL. */
static void down_stream_write(struct gw_req *r, const char *data, size_t len)
{
    if (r->down != NULL && len > 0)
        sl_http_stream_write(r->down, data, len);
}

/* Ends a committed stream: cleanly when type is NULL, else with one error
 * event. Nothing is written to the client after. */
static void down_stream_end(struct gw_req *r, const char *type, const char *code,
                            const char *message)
{
    struct sl_http_exchange *d = down_take(r);
    if (d == NULL)
        return;
    if (type != NULL) {
        char body[1024], event[1200];
        sl_http_error_body(body, sizeof(body), type, code, message);
        int n = snprintf(event, sizeof(event), "data: %s\n\n", body);
        sl_http_stream_write(d, event, (size_t)n);
    }
    sl_http_stream_end(d); /* safe on a connection that failed in the write */
}

/* ---- finishing ----------------------------------------------------------- */

static void maybe_free(struct gw_req *r)
{
    if (r->handles_open > 0 || r->offload_pending)
        return;
    struct sl_gateway *gw = r->gw;
    free(r->body);
    free(r);
    gw->pending_closes--;
    maybe_closed(gw);
}

static void on_admit_timer_closed(uv_handle_t *handle)
{
    struct gw_req *r = handle->data;
    r->handles_open--;
    maybe_free(r);
}

static void on_retry_timer_closed(uv_handle_t *handle)
{
    struct gw_req *r = sl_container_of(handle, struct gw_req, retrier.timer);
    r->handles_open--;
    maybe_free(r);
}

/* Prompt tokens, counted on the thread pool: a rough count (one token per
 * four bytes of the body's text), but the work is where it belongs. */
static void count_tokens(struct gw_req *r)
{
    size_t text = 0;
    int in_string = 0;
    for (size_t i = 0; i < r->body_len; i++) {
        char c = r->body[i];
        if (c == '"' && (i == 0 || r->body[i - 1] != '\\'))
            in_string = !in_string;
        else if (in_string)
            text++;
    }
    r->row.prompt_tokens_counted = (unsigned)((text + 3) / 4);
}

/* Runs on a pool thread: the batch list belongs to the job until done. */
static void count_batch(void *arg)
{
    struct sl_gateway *gw = arg;
    for (struct sl_list *n = gw->count_batch.next; n != &gw->count_batch; n = n->next)
        count_tokens(sl_container_of(n, struct gw_req, node));
}

static void start_count_job(struct sl_gateway *gw);

static void on_count_timer(uv_timer_t *t)
{
    start_count_job(t->data);
}

static void on_batch_counted(void *arg, int status)
{
    struct sl_gateway *gw = arg;
    (void)status;
    gw->count_job_active = 0;
    /* hold the gateway: freeing the last request may otherwise free it
     * while this loop still walks its batch */
    gw->pending_closes++;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&gw->count_batch)) != NULL) {
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        if (gw->opts.record)
            gw->opts.record(&r->row, gw->opts.record_arg);
        r->offload_pending = 0;
        maybe_free(r);
    }
    start_count_job(gw);
    gw->pending_closes--;
    maybe_closed(gw);
}

static void start_count_job(struct sl_gateway *gw)
{
    if (gw->count_job_active || sl_list_empty(&gw->count_queue))
        return;
    gw->count_queued = 0;
    uv_timer_stop(&gw->count_timer);
    /* move the whole queue into the batch */
    gw->count_batch.next = gw->count_queue.next;
    gw->count_batch.prev = gw->count_queue.prev;
    gw->count_batch.next->prev = &gw->count_batch;
    gw->count_batch.prev->next = &gw->count_batch;
    sl_list_init(&gw->count_queue);
    gw->count_job_active = 1;
    if (sl_offload(gw->loop, count_batch, on_batch_counted, gw, NULL) != 0)
        on_batch_counted(gw, UV_ENOMEM); /* count nothing, but record */
}

/* One line per request on stderr, text or JSON (every line JSON: the
 * refused ones too). A success has no error field. */
static void log_row(const struct sl_gateway *gw, const struct sl_gw_log_row *w)
{
    if (gw->opts.quiet)
        return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *dep = w->deployment && w->deployment[0] ? w->deployment : "";
    if (gw->opts.log_json) {
        char model[800], deployment[400], error[64] = "";
        sl_json_escape(model, sizeof(model), w->model ? w->model : "");
        sl_json_escape(deployment, sizeof(deployment), dep);
        if (w->error != SL_OK)
            snprintf(error, sizeof(error), ",\"error\":\"%s\"", sl_err_name(w->error));
        fprintf(stderr,
                "{\"ts\":\"%s\",\"event\":\"request\",\"id\":\"%s\",\"model\":\"%s\","
                "\"deployment\":\"%s\",\"endpoint\":\"%s\",\"stream\":%s,\"status\":%d,"
                "\"outcome\":\"%s\"%s,\"attempts\":%u,\"queue_ms\":%.3f,"
                "\"ttfb_ms\":%.3f,\"total_ms\":%.3f,\"prompt_tokens\":%u,"
                "\"completion_tokens\":%u}\n",
                ts, w->id, model, deployment, w->endpoint, w->stream ? "true" : "false", w->status,
                sl_gw_outcome_name(w->outcome), error, w->attempts, w->queue_ms, w->ttfb_ms,
                w->total_ms, w->prompt_tokens, w->completion_tokens);
    } else {
        fprintf(stderr,
                "%s request id=%s model=%s deployment=%s status=%d outcome=%s%s%s attempts=%u "
                "queue_ms=%.1f ttfb_ms=%.1f total_ms=%.1f\n",
                ts, w->id, w->model && w->model[0] ? w->model : "-", dep[0] ? dep : "-", w->status,
                sl_gw_outcome_name(w->outcome), w->error != SL_OK ? " error=" : "",
                w->error != SL_OK ? sl_err_name(w->error) : "", w->attempts, w->queue_ms,
                w->ttfb_ms, w->total_ms);
    }
}

static void log_line(struct gw_req *r)
{
    log_row(r->gw, &r->row);
}

/* The request is over for the client and the upstream: record and tear
 * down. Runs exactly once. */
static void finish(struct gw_req *r)
{
    if (r->state == R_FINISHED)
        return;
    struct sl_gateway *gw = r->gw;
    r->state = R_FINISHED;
    /* nobody answered yet: should not happen, but never leave a client hanging */
    down_respond_error(r, 500, "server_error", "internal", "internal error", 0);
    if (r->cancelled && r->shut_down) {
        r->cancelled = 0; /* stopped by the gateway's shutdown: a failure, not a cancel */
        r->error = SL_E_UNAVAILABLE;
    } else if (r->cancelled) {
        r->error = SL_E_CANCELLED; /* streamed or not, whatever the attempt said */
    }
    sl_list_remove(&r->node);
    if (--gw->in_flight == 0 && gw->closing)
        close_parts_soon(gw); /* the last request cancelled by close_all */
    struct sl_gw_log_row *w = &r->row;
    snprintf(w->id, sizeof(w->id), "%s", r->id);
    w->key = r->key_name ? r->key_name : "";
    w->model = r->model_name;
    w->deployment = r->dep ? r->dep->cfg->name : "";
    w->endpoint = sl_openai_name(r->ep);
    w->started_us = r->started_us;
    w->attempts = r->attempts;
    w->fallbacks = r->tried ? (unsigned)__builtin_popcountll(r->tried) - 1 : 0;
    w->queue_ms = (double)r->queue_ns / 1e6;
    w->ttfb_ms = r->first_byte_ns ? (double)(r->first_byte_ns - r->t0_ns) / 1e6 : 0;
    w->total_ms = ms_since(r->t0_ns);
    w->status = r->final_status;
    w->error = r->error;
    w->outcome = r->error == SL_OK            ? SL_GW_OK
                 : r->error == SL_E_CANCELLED ? SL_GW_CANCELLED
                                              : SL_GW_ERROR;
    w->stream = r->stream;
    w->prompt_tokens = r->usage_prompt;
    w->completion_tokens = r->usage_completion;
    log_line(r);
    r->offload_pending = 1;
    sl_list_push_back(&gw->count_queue, &r->node);
    if (++gw->count_queued >= COUNT_BATCH || gw->closing || !gw->started)
        start_count_job(gw);
    else if (!uv_is_active((uv_handle_t *)&gw->count_timer))
        uv_timer_start(&gw->count_timer, on_count_timer, COUNT_DELAY_MS, 0);
    /* what waits for token counting keeps only the row and the client's body */
    sl_buf_release(&r->resp);
    sl_buf_release(&r->held);
    sl_sse_parser_release(&r->sse);
    free(r->up_body);
    r->up_body = NULL;
    sl_sem_timed_close(&r->admit, on_admit_timer_closed);
    sl_retrier_close(&r->retrier, on_retry_timer_closed);
}

/* ---- errors after retries ------------------------------------------------ */

static int status_for(enum sl_err e)
{
    switch (e) {
    case SL_E_RATE_LIMITED:
    case SL_E_UNAVAILABLE:
        return 503;
    case SL_E_TIMEOUT:
    case SL_E_DEADLINE:
        return 504;
    default:
        return 502;
    }
}

/* Answers the client for a request that is over without a success. */
static void respond_failure(struct gw_req *r)
{
    if (r->down == NULL)
        return;
    char msg[160];
    if (r->cancelled && r->shut_down) {
        down_respond_error(r, 503, "server_error", "shutting_down",
                           "the gateway shut down before the request finished", 1);
        return;
    }
    if (r->cancelled) {
        snprintf(msg, sizeof(msg), "request %s was cancelled", r->id);
        down_respond_error(r, 499, "cancelled", "request_cancelled", msg, 0);
        return;
    }
    if ((r->error == SL_E_BAD_REQUEST || r->error == SL_E_UNAUTHORIZED) && r->up_status &&
        r->resp.len > 0) {
        /* a permanent upstream error is the client's to see, as it was */
        down_respond(r, r->up_status, r->resp.ptr, r->resp.len, 0);
        return;
    }
    char upstream[32] = "";
    if (r->up_status)
        snprintf(upstream, sizeof(upstream), ", HTTP %d", r->up_status);
    if (r->error == SL_E_TOO_LARGE)
        snprintf(msg, sizeof(msg), "the upstream's response is larger than %u MiB%s",
                 MAX_RESPONSE_BYTES >> 20, upstream);
    else
        snprintf(msg, sizeof(msg), "the upstream failed after %u attempt%s: %s%s", r->attempts,
                 r->attempts == 1 ? "" : "s", sl_err_name(r->error), upstream);
    down_respond_error(r, status_for(r->error), "upstream_error", sl_err_name(r->error), msg, 0);
}

/* ---- upstream attempts --------------------------------------------------- */

static enum sl_err classify(const struct sl_http_result *res, int status)
{
    if (res->err != SL_OK)
        return res->err;
    if (status >= 200 && status < 300)
        return SL_OK;
    switch (status) {
    case 429:
        return SL_E_RATE_LIMITED;
    case 500:
        return SL_E_SERVER_ERROR;
    case 502:
        return SL_E_BAD_GATEWAY;
    case 503:
        return SL_E_UNAVAILABLE;
    case 504:
    case 408:
        return SL_E_TIMEOUT;
    case 401:
    case 403:
        return SL_E_UNAUTHORIZED;
    default:
        return status >= 500 ? SL_E_SERVER_ERROR : SL_E_BAD_REQUEST;
    }
}

static void on_stream_drain(struct sl_http_exchange *down, void *data)
{
    struct gw_req *r = data;
    sl_http_stream_on_drain(down, NULL, NULL);
    if (r->paused) {
        r->paused = 0;
        sl_http_request_resume(&r->up);
    }
}

/* The end of the JSON object that starts at p ('{'), or NULL. Strings are
 * skipped with their escapes, so braces inside them do not count. */
static const char *object_end(const char *p, const char *end)
{
    int depth = 0, in_string = 0;
    for (; p < end; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

/* Token usage from a response or a final stream chunk: the last "usage"
 * key's object. Only that object is parsed, not the whole body (this runs
 * for every request, and the body is the client's, passed through as is). */
static void read_usage(struct gw_req *r, const char *text, size_t len)
{
    const char *end = text + len, *at = NULL;
    for (const char *p = text; (p = memmem(p, (size_t)(end - p), "\"usage\"", 7)) != NULL; p += 7)
        at = p;
    if (at == NULL)
        return;
    const char *p = at + 7;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':'))
        p++;
    const char *obj_end = p < end && *p == '{' ? object_end(p, end) : NULL;
    struct sl_json_doc u;
    struct sl_json_pick pk[2] = {{.key = "prompt_tokens"}, {.key = "completion_tokens"}};
    if (obj_end == NULL || sl_json_scan_pick(p, (size_t)(obj_end - p), &u, pk, 2) != 0)
        return;
    if (pk[0].found && pk[0].m.type == SL_JSON_NUMBER)
        r->usage_prompt = (unsigned)strtoul(pk[0].m.value.ptr, NULL, 10);
    if (pk[1].found && pk[1].m.type == SL_JSON_NUMBER)
        r->usage_completion = (unsigned)strtoul(pk[1].m.value.ptr, NULL, 10);
}

static void on_sse_event(void *arg, const struct sl_sse_event *ev)
{
    struct gw_req *r = arg;
    if (r->saw_done)
        return; /* events after [DONE] are not the client's */
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        r->saw_done = 1;
        r->done_at = r->sse.boundary;
        return;
    }
    /* the final chunk carries usage (OpenAI, stream_options.include_usage) */
    read_usage(r, ev->data, ev->data_len);
}

static void on_up_headers(struct sl_http_request *up, int status,
                          const struct sl_http_header *headers, size_t n)
{
    struct gw_req *r = up->data;
    r->up_status = status;
    r->retry_after_ms = -1;
    const struct sl_str *rav = sl_http_header_get(headers, n, "retry-after");
    const char *ra = rav ? rav->ptr : NULL; /* NUL-terminated in on_headers */
    if (ra) {
        char *end;
        double s = strtod(ra, &end);
        if (end != ra && s >= 0)
            r->retry_after_ms = s * 1000;
    }
    if (r->stream && status >= 200 && status < 300 && r->down) {
        /* the commit point: from here on the client sees this attempt */
        static const struct sl_http_header cache = {{"Cache-Control", 13}, {"no-cache", 8}};
        struct sl_http_header h[2] = {{{"x-request-id", 12}, {r->id, strlen(r->id)}}, cache};
        r->committed = 1;
        r->first_byte_ns = uv_hrtime();
        sl_prom_observe(&r->gw->mm[r->model - r->gw->cfg->models].ttft,
                        (double)(r->first_byte_ns - r->t0_ns) / 1e9);
        /* the client may turn out to be gone: then on_client_gone ran and
         * the row keeps the 499 it set (the client saw nothing) */
        sl_http_stream_start(r->down, status, h, 2, "text/event-stream");
        if (r->down) {
            r->final_status = status;
            count_status(r, status);
        }
    }
}

/* Relays a piece of a committed stream, whole events only (see the design
 * notes): up to the end of the last whole event, or of [DONE]; the rest is
 * held for the next piece. [DONE] ends the client's stream; an event over
 * the limit ends it with one error event. Either way the upstream is
 * dropped if it has more to say. */
static void relay(struct gw_req *r, const char *data, size_t len)
{
    int rc = sl_sse_parser_feed(&r->sse, data, len);
    size_t upto = r->saw_done ? r->done_at : r->sse.boundary;
    if (upto > 0) {
        down_stream_write(r, r->held.ptr, r->held.len);
        sl_buf_reset(&r->held);
        down_stream_write(r, data, upto);
    }
    if (r->down == NULL)
        return; /* the client is gone: on_client_gone cancelled the upstream */
    if (r->saw_done) {
        r->stream_ok = 1;
        down_stream_end(r, NULL, NULL, NULL);
        if (upto < len)
            sl_http_request_cancel(&r->up); /* bytes after [DONE]: not worth reusing */
        return;
    }
    if (rc == 0 && sl_buf_append(&r->held, data + upto, len - upto) == 0)
        return;
    r->too_large = 1;
    char msg[128];
    snprintf(msg, sizeof(msg), "an event of the upstream's stream is larger than %u KiB",
             (unsigned)(MAX_EVENT_BYTES >> 10));
    down_stream_end(r, "upstream_error", "response_too_large", msg);
    sl_http_request_cancel(&r->up);
}

static int on_up_body(struct sl_http_request *up, const char *data, size_t len)
{
    struct gw_req *r = up->data;
    if (r->committed) {
        if (r->down == NULL) {
            /* the client is gone (the cancel is on its way), or its stream
             * is over: bytes after [DONE] or past the limit go nowhere */
            if (r->stream_ok && len > 0)
                sl_http_request_cancel(up);
            return 0;
        }
        if (sl_http_stream_pending(r->down) > STREAM_HIGH_WATER) {
            r->paused = 1;
            sl_http_stream_on_drain(r->down, on_stream_drain, r);
            return SL_HTTP_PAUSE; /* a slow client slows the upstream read */
        }
        relay(r, data, len);
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
    r->up_active = 0;
    struct dep_metrics *dm = &gw->dm[r->dep - gw->router.deps];
    dm->attempts++;
    dm->resent += (uint64_t)res->resent;
    sl_prom_observe(&dm->upstream_latency, (double)res->total_ns / 1e9);
    if (r->committed) {
        /* a relayed stream: its end is the request's end, never a retry;
         * its outcome is this attempt's, whatever the earlier ones were */
        if (r->stream_ok) {
            r->error = SL_OK; /* [DONE] reached the client; what followed is not its concern */
        } else if (r->cancelled && r->shut_down) {
            down_stream_end(r, "server_error", "shutting_down",
                            "the gateway shut down before the stream ended");
        } else if (r->cancelled) {
            r->error = SL_E_CANCELLED;
            down_stream_end(r, "cancelled", "request_cancelled", "the request was cancelled");
        } else if (r->too_large) {
            r->error = SL_E_TOO_LARGE; /* the stream was ended in relay() */
        } else {
            r->error = res->err != SL_OK ? res->err : SL_E_CONN_RESET;
            /* the event's code is the row's error class: what the client
             * saw is what the log says */
            down_stream_end(r, "upstream_error", sl_err_name(r->error),
                            "the upstream stream ended before its end marker");
        }
        if (!r->cancelled)
            sl_gw_report(r->dep, r->stream_ok, uv_now(gw->loop));
        sl_retrier_report(&r->retrier, r->cancelled ? SL_E_CANCELLED : SL_OK, -1);
        return;
    }
    enum sl_err err = r->cancelled   ? SL_E_CANCELLED
                      : r->too_large ? SL_E_TOO_LARGE
                                     : classify(res, r->up_status);
    if (err != SL_E_CANCELLED)
        sl_gw_report(r->dep, err == SL_OK || err == SL_E_BAD_REQUEST, uv_now(gw->loop));
    r->error = err;
    sl_retrier_report(&r->retrier, err, err == SL_E_RATE_LIMITED ? r->retry_after_ms : -1);
}

static void start_attempt(struct sl_retrier *rt)
{
    struct gw_req *r = rt->data;
    struct sl_gateway *gw = r->gw;
    const struct sl_gw_deployment *d = r->dep->cfg;
    r->attempts++;
    sl_buf_reset(&r->resp);
    sl_buf_reset(&r->held);
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
    if (d->target.authorization)
        r->up_headers[nh++] = d->target.auth_header;
    double left_ms = r->model->total_timeout_ms - ms_since(r->t0_ns);
    if (left_ms < 1)
        left_ms = 1;
    r->up = (struct sl_http_request){
        .method = "POST",
        .url = d->target.url[r->ep],
        .route = r->dep->route[r->ep],
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
    r->up_active = 1;
    if (sl_http_request_start(gw->client, &r->up) != 0) {
        r->up_active = 0;
        r->error = SL_E_CONN_REFUSED;
        sl_retrier_report(&r->retrier, SL_E_UNAVAILABLE, -1);
    }
}

static void before_sleep(struct sl_retrier *rt, enum sl_err error,
                         const struct sl_retry_decision *d)
{
    struct gw_req *r = rt->data;
    struct sl_gateway *gw = r->gw;
    gw->dm[r->dep - gw->router.deps].retries++;
    if (gw->opts.quiet)
        return;
    if (gw->opts.log_json) {
        char ts[32], dep[400];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        sl_json_escape(dep, sizeof(dep), r->dep->cfg->name);
        fprintf(stderr,
                "{\"ts\":\"%s\",\"event\":\"retry\",\"id\":\"%s\",\"deployment\":\"%s\","
                "\"attempt\":%u,\"max_attempts\":%u,\"error\":\"%s\",\"wait_ms\":%.0f}\n",
                ts, r->id, dep, rt->state.attempt, rt->policy->max_attempts, sl_err_name(error),
                d->wait_ms);
    } else
        fprintf(stderr, "retry id=%s deployment=%s attempt=%u/%u error=%s wait_ms=%.0f\n", r->id,
                r->dep->cfg->name, rt->state.attempt, rt->policy->max_attempts, sl_err_name(error),
                d->wait_ms);
}

static void release_permit(struct gw_req *r)
{
    if (r->holds_permit) {
        r->holds_permit = 0;
        sl_gw_release(r->dep);
    }
}

static void on_attempts_done(struct sl_retrier *rt)
{
    struct gw_req *r = rt->data;
    const struct sl_retry_outcome *o = &rt->outcome;
    release_permit(r);
    if (r->committed) {
        finish(r); /* on_up_done ended the stream and set r->error */
        return;
    }
    if (r->cancelled || o->last_error == SL_E_CANCELLED) {
        r->cancelled = 1;
        respond_failure(r);
        finish(r);
        return;
    }
    if (o->last_error == SL_OK) {
        r->error = SL_OK;
        r->first_byte_ns = uv_hrtime(); /* a JSON response goes out whole, now */
        if (r->resp.len)
            read_usage(r, r->resp.ptr, r->resp.len);
        down_respond(r, r->up_status, r->resp.ptr ? r->resp.ptr : "", r->resp.len, 0);
        finish(r);
        return;
    }
    r->error = o->last_error;
    if (o->reason == SL_RETRY_MAX_ATTEMPTS ||
        (o->reason == SL_RETRY_NOT_RETRYABLE &&
         (o->last_error == SL_E_CONN_REFUSED || o->last_error == SL_E_UNAUTHORIZED))) {
        /* this deployment is exhausted: the model's next one, if any (when
         * none is left, pick_and_admit answers the failure) */
        pick_and_admit(r);
        return;
    }
    respond_failure(r);
    finish(r);
}

static void start_attempts(struct gw_req *r)
{
    r->holds_permit = 1;
    r->state = R_RUNNING;
    r->policy = r->dep->cfg->retry;
    double left_ms = r->model->total_timeout_ms - ms_since(r->t0_ns);
    r->policy.max_delay_ms = left_ms > 1 ? left_ms : 1;
    r->retrier.data = r;
    sl_retrier_run(&r->retrier, &r->policy, &r->rng, start_attempt, before_sleep, on_attempts_done);
}

static void note_queue_time(struct gw_req *r)
{
    uint64_t waited = uv_hrtime() - r->admit_start_ns;
    r->queue_ns += waited;
    sl_prom_observe(&r->gw->dm[r->dep - r->gw->router.deps].queue_wait, (double)waited / 1e9);
}

static void on_admitted(struct sl_sem_waiter *w, int status)
{
    struct gw_req *r = sl_container_of(w, struct gw_req, admit.base);
    r->admit_queued = 0;
    note_queue_time(r);
    if (status == 0) {
        start_attempts(r);
        return;
    }
    /* queue timeout */
    r->error = SL_E_RATE_LIMITED;
    down_respond_error(r, 429, "rate_limit_error", "queue_timeout",
                       "timed out waiting for a free upstream slot", 1);
    finish(r);
}

/* Builds the upstream body: the client's, with "model" replaced when the
 * deployment names its own model. */
static int build_body(struct gw_req *r)
{
    free(r->up_body);
    r->up_body = NULL;
    const char *um = r->dep->cfg->upstream_model;
    if (um[0] == '\0')
        return 0;
    size_t before = r->model_at, after_at = before + r->model_len;
    size_t ulen = strlen(um);
    r->up_body_len = before + ulen + (r->body_len - after_at);
    r->up_body = malloc(r->up_body_len);
    if (r->up_body == NULL)
        return -1;
    memcpy(r->up_body, r->body, before);
    memcpy(r->up_body + before, um, ulen);
    memcpy(r->up_body + before + ulen, r->body + after_at, r->body_len - after_at);
    return 0;
}

static void pick_and_admit(struct gw_req *r)
{
    struct sl_gateway *gw = r->gw;
    struct sl_gw_dep *deps = sl_gw_router_deps(&gw->router, r->model);
    int full = 0;
    for (;;) {
        int k = sl_gw_router_pick(&gw->router, r->model, r->tried, uv_now(gw->loop));
        if (k < 0)
            break;
        if (r->tried)
            gw->mm[r->model - gw->cfg->models].fallbacks++;
        r->tried |= UINT64_C(1) << k;
        r->dep = &deps[k];
        if (build_body(r) != 0)
            continue; /* out of memory for this deployment's body: try the next */
        r->state = R_ADMITTING;
        r->admit_start_ns = uv_hrtime();
        int rc = sl_gw_admit(r->dep, &r->admit, on_admitted);
        if (rc == 0) {
            note_queue_time(r);
            start_attempts(r);
            return;
        }
        if (rc == 1) {
            r->admit_queued = 1;
            return;
        }
        full = 1; /* this one's queue is full: another deployment may have room */
    }
    if (full && r->attempts == 0) {
        r->error = SL_E_RATE_LIMITED;
        down_respond_error(r, 429, "rate_limit_error", "queue_full",
                           "every upstream queue for this model is full", 1);
        finish(r);
        return;
    }
    respond_failure(r);
    finish(r);
}

/* ---- cancellation ------------------------------------------------------- */

/* Returns 1 when the request is (now or already) cancelled, 0 when it was
 * answered already and there is nothing to cancel. */
static int cancel(struct gw_req *r)
{
    if (r->cancelled)
        return 1;
    /* a stream that reached [DONE] is answered: nothing left to cancel for
     * the client (its upstream still goes, on close, with the client) */
    if (r->state == R_FINISHED || r->stream_ok)
        return 0;
    r->cancelled = 1;
    if (!r->shut_down)
        r->gw->cancelled++;
    if (r->state == R_ADMITTING) {
        if (r->admit_queued && sl_sem_cancel(&r->admit.base) == 0) {
            r->admit_queued = 0;
            note_queue_time(r);
            respond_failure(r);
            finish(r);
        }
        return 1;
    }
    if (r->up_active)
        sl_http_request_cancel(&r->up); /* on_done reports SL_E_CANCELLED */
    else
        sl_retrier_cancel(&r->retrier); /* sleeping: ends now */
    return 1;
}

static void on_client_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    struct gw_req *r = data;
    r->down = NULL;
    r->client_gone = 1;
    r->gw->client_gone++;
    if (r->final_status == 0)
        r->final_status = 499;
    cancel(r);
}

/* ---- the front ----------------------------------------------------------- */

/* A request refused before it reached any deployment: answered, counted,
 * and recorded like any other (one log row per request). */
static void refuse(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                   enum sl_openai_endpoint ep, struct sl_str model, const char *key, int status,
                   enum sl_err err, const char *type, const char *code, const char *message,
                   int retry_after_s)
{
    gw->status_unrouted[status]++;
    /* model points into the request: copied before the answer ends it */
    char model_name[128];
    snprintf(model_name, sizeof(model_name), "%.*s", (int)model.len, model.ptr ? model.ptr : "");
    respond_error(down, id, status, type, code, message, retry_after_s);
    struct sl_gw_log_row row = {
        .key = key ? key : "",
        .model = model_name,
        .deployment = "",
        .endpoint = sl_openai_name(ep),
        .started_us = sl_wall_us(),
        .status = status,
        .error = err,
        .outcome = SL_GW_ERROR,
    };
    snprintf(row.id, sizeof(row.id), "%s", id);
    log_row(gw, &row);
    if (gw->opts.record)
        gw->opts.record(&row, gw->opts.record_arg);
}

static void handle_proxy(struct sl_gateway *gw, struct sl_http_exchange *down,
                         enum sl_openai_endpoint ep, const char *id)
{
    const struct sl_http_head *h = sl_http_exchange_head(down);
    const struct sl_gw_config *cfg = gw->cfg;
    const char *key_name = NULL;
    int key = -1;
    struct sl_str no_model = {NULL, 0};
    if (gw->draining) {
        refuse(gw, down, id, ep, no_model, NULL, 503, SL_E_UNAVAILABLE, "server_error",
               "shutting_down", "the gateway is shutting down", 1);
        return;
    }
    if (gw->opts.log_backlogged && gw->opts.log_backlogged(gw->opts.record_arg)) {
        gw->status_unrouted[503]++;
        respond_error(down, id, 503, "server_error", "log_backlogged",
                      "the request log cannot keep up; retry shortly", 1);
        return;
    }
    if (sl_gw_needs_key(cfg, SL_GW_ROUTE_API)) {
        int k = sl_gw_auth(cfg, sl_http_head_get(h, "authorization"));
        if (k < 0) {
            refuse(gw, down, id, ep, no_model, NULL, 401, SL_E_UNAUTHORIZED,
                   "invalid_request_error", "invalid_api_key",
                   k == -1 ? "missing API key: send Authorization: Bearer KEY"
                           : "incorrect API key",
                   0);
            return;
        }
        key_name = cfg->keys[k].name;
        key = k;
    }
    struct sl_str body = sl_http_exchange_body(down);
    struct sl_openai_req oai;
    const char *code;
    char msg[200];
    if (sl_openai_parse(body.ptr, body.len, ep, &oai, &code, msg, sizeof(msg)) != 0) {
        refuse(gw, down, id, ep, no_model, key_name, 400, SL_E_BAD_REQUEST, "invalid_request_error",
               code, msg, 0);
        return;
    }
    struct sl_str model_name = oai.model;
    const struct sl_gw_model *m = sl_gw_config_model(cfg, model_name.ptr, model_name.len);
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "the model '%.*s' does not exist", (int)model_name.len,
                 model_name.ptr);
        refuse(gw, down, id, ep, model_name, key_name, 404, SL_E_BAD_REQUEST,
               "invalid_request_error", "model_not_found", msg, 0);
        return;
    }
    struct gw_req *r = calloc(1, sizeof(*r));
    char *copy = malloc(body.len ? body.len : 1);
    if (r == NULL || copy == NULL) {
        free(r);
        free(copy);
        refuse(gw, down, id, ep, model_name, key_name, 503, SL_E_UNAVAILABLE, "server_error",
               "out_of_memory", "out of memory", 1);
        return;
    }
    memcpy(copy, body.ptr, body.len);
    size_t model_at = (size_t)(model_name.ptr - body.ptr);
    r->gw = gw;
    r->down = down;
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->ep = ep;
    r->model = m;
    memcpy(r->model_name, model_name.ptr, model_name.len);
    r->key_name = key_name;
    r->key = key;
    r->stream = oai.stream;
    r->body = copy;
    r->body_len = body.len;
    r->model_at = model_at;
    r->model_len = model_name.len;
    r->t0_ns = uv_hrtime();
    r->started_us = sl_wall_us();
    sl_rng_seed(&r->rng, sl_rng_next(&gw->rng), 0);
    sl_buf_init(&r->resp, MAX_RESPONSE_BYTES);
    sl_buf_init(&r->held, MAX_EVENT_BYTES);
    sl_sse_parser_init(&r->sse, 0, on_sse_event, r);
    sl_sem_timed_init(gw->loop, &r->admit);
    sl_retrier_init(gw->loop, &r->retrier);
    r->admit.timer.data = r; /* the retrier's timer keeps its own data */
    r->retrier.data = r;
    r->handles_open = 2;
    gw->pending_closes++;
    sl_list_push_back(&gw->reqs, &r->node);
    if (++gw->in_flight > gw->max_in_flight)
        gw->max_in_flight = gw->in_flight;
    sl_http_exchange_on_abort(down, on_client_gone, r);
    pick_and_admit(r);
}

/* Cancels a request in flight, but only for the key that started it: for
 * any other key, or none, the answer is the same 404 as for an unknown id,
 * so that ids cannot be probed. `key` is the caller's key index (-1 when
 * none was sent, -2 when it matched no key); without authentication
 * every request's key is -1 and anyone may cancel. */
static void handle_cancel(struct sl_gateway *gw, struct sl_http_exchange *down,
                          struct sl_str target, const char *id, int key)
{
    for (struct sl_list *n = gw->reqs.next; n != &gw->reqs; n = n->next) {
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        if (strlen(r->id) == target.len && memcmp(r->id, target.ptr, target.len) == 0 &&
            sl_gw_may_cancel(gw->cfg, r->key, key)) {
            if (!cancel(r)) {
                respond_error(down, id, 409, "invalid_request_error", "already_answered",
                              "the request was answered already: nothing to cancel", 0);
                return;
            }
            char body[128];
            int k = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"cancelled\":true}", r->id);
            respond(down, id, 200, body, (size_t)k, 0);
            return;
        }
    }
    respond_error(down, id, 404, "invalid_request_error", "request_not_found",
                  "no request in flight with that id", 0);
}

static void respond_models(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    sl_buf_append(&out, "{\"object\":\"list\",\"data\":[", 25);
    int first = 1;
    for (size_t i = 0; i < gw->cfg->nmodels; i++) {
        const char *name = gw->cfg->models[i].name;
        if (!strcmp(name, "*"))
            continue;
        char item[256];
        int n = snprintf(item, sizeof(item),
                         "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":0,"
                         "\"owned_by\":\"sluice\"}",
                         first ? "" : ",", name);
        sl_buf_append(&out, item, (size_t)n);
        first = 0;
    }
    sl_buf_append(&out, "]}", 2);
    respond(down, id, 200, out.ptr, out.len, 0);
    sl_buf_release(&out);
}

static void respond_metrics(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    struct sl_buf out;
    sl_buf_init(&out, 64u << 20);
    char labels[512], model[260], dep[140];
    sl_prom_help(&out, "sluice_requests_total", "counter",
                 "Requests answered, by model, deployment and HTTP status.");
    for (int st = 0; st < 600; st++)
        if (gw->status_unrouted[st]) {
            snprintf(labels, sizeof(labels), "model=\"\",deployment=\"\",status=\"%d\"", st);
            sl_prom_value(&out, "sluice_requests_total", labels, (double)gw->status_unrouted[st]);
        }
    for (size_t i = 0; i < gw->router.ndeps; i++) {
        struct sl_gw_dep *d = &gw->router.deps[i];
        sl_prom_escape(model, sizeof(model), d->model->name);
        sl_prom_escape(dep, sizeof(dep), d->cfg->name);
        for (int st = 0; st < 600; st++)
            if (gw->dm[i].status[st]) {
                snprintf(labels, sizeof(labels), "model=\"%s\",deployment=\"%s\",status=\"%d\"",
                         model, dep, st);
                sl_prom_value(&out, "sluice_requests_total", labels, (double)gw->dm[i].status[st]);
            }
    }
    static const struct {
        const char *name, *type, *help;
    } per_dep[] = {
        {"sluice_upstream_attempts_total", "counter", "Upstream attempts."},
        {"sluice_retries_total", "counter", "Retries after a transient upstream failure."},
        {"sluice_upstream_resent_total", "counter",
         "Requests sent again on a fresh connection after a kept-alive one failed them before "
         "any response byte (not an attempt of the retry policy)."},
        {"sluice_cooldowns_total", "counter", "Times a deployment was cooled down."},
        {"sluice_queue_length", "gauge", "Requests waiting for a permit."},
        {"sluice_in_flight", "gauge", "Upstream requests holding a permit."},
        {"sluice_max_concurrency", "gauge", "The deployment's concurrency limit."},
    };
    for (size_t k = 0; k < sizeof(per_dep) / sizeof(*per_dep); k++) {
        sl_prom_help(&out, per_dep[k].name, per_dep[k].type, per_dep[k].help);
        for (size_t i = 0; i < gw->router.ndeps; i++) {
            struct sl_gw_dep *d = &gw->router.deps[i];
            double v[] = {(double)gw->dm[i].attempts, (double)gw->dm[i].retries,
                          (double)gw->dm[i].resent,   (double)d->cooldowns,
                          (double)d->sem.queued,      (double)sl_sem_held(&d->sem),
                          (double)d->sem.capacity};
            sl_prom_escape(dep, sizeof(dep), d->cfg->name);
            snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
            sl_prom_value(&out, per_dep[k].name, labels, v[k]);
        }
    }
    sl_prom_help(&out, "sluice_queue_wait_seconds", "histogram", "Time waiting for a permit.");
    for (size_t i = 0; i < gw->router.ndeps; i++) {
        sl_prom_escape(dep, sizeof(dep), gw->router.deps[i].cfg->name);
        snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
        sl_prom_hist_write(&out, "sluice_queue_wait_seconds", labels, &gw->dm[i].queue_wait);
    }
    sl_prom_help(&out, "sluice_upstream_latency_seconds", "histogram",
                 "Upstream attempt duration, to the end of the response.");
    for (size_t i = 0; i < gw->router.ndeps; i++) {
        sl_prom_escape(dep, sizeof(dep), gw->router.deps[i].cfg->name);
        snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
        sl_prom_hist_write(&out, "sluice_upstream_latency_seconds", labels,
                           &gw->dm[i].upstream_latency);
    }
    /* each family whole, its HELP/TYPE first, before the next one starts:
     * a parser takes a family that reappears for an untyped duplicate */
    sl_prom_help(&out, "sluice_time_to_first_token_seconds", "histogram",
                 "Time to the first streamed byte sent to the client.");
    for (size_t i = 0; i < gw->cfg->nmodels; i++) {
        sl_prom_escape(model, sizeof(model), gw->cfg->models[i].name);
        snprintf(labels, sizeof(labels), "model=\"%s\"", model);
        sl_prom_hist_write(&out, "sluice_time_to_first_token_seconds", labels, &gw->mm[i].ttft);
    }
    sl_prom_help(&out, "sluice_fallbacks_total", "counter",
                 "Requests moved to the model's next deployment.");
    for (size_t i = 0; i < gw->cfg->nmodels; i++) {
        sl_prom_escape(model, sizeof(model), gw->cfg->models[i].name);
        snprintf(labels, sizeof(labels), "model=\"%s\"", model);
        sl_prom_value(&out, "sluice_fallbacks_total", labels, (double)gw->mm[i].fallbacks);
    }
    sl_prom_help(&out, "sluice_cancelled_total", "counter",
                 "Requests cancelled (client gone or cancel endpoint).");
    sl_prom_value(&out, "sluice_cancelled_total", "", (double)gw->cancelled);
    sl_prom_help(&out, "sluice_client_gone_total", "counter",
                 "Requests whose client disconnected before the end.");
    sl_prom_value(&out, "sluice_client_gone_total", "", (double)gw->client_gone);
    if (gw->opts.log_spooled) {
        sl_prom_help(&out, "sluice_log_rows_spooled_total", "counter",
                     "Request log rows written to a spool file (store behind or away).");
        sl_prom_value(&out, "sluice_log_rows_spooled_total", "",
                      (double)gw->opts.log_spooled(gw->opts.record_arg));
    }
    sl_prom_help(&out, "sluice_requests_in_flight", "gauge", "Requests being handled.");
    sl_prom_value(&out, "sluice_requests_in_flight", "", (double)gw->in_flight);
    struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    sl_http_respond(down, 200, h, 1, "text/plain; version=0.0.4", out.ptr ? out.ptr : "", out.len);
    sl_buf_release(&out);
}

/* 405 with the Allow header the status requires (RFC 9110 15.5.6). */
static void respond_405(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                        const char *allow)
{
    struct sl_http_header h[2] = {{{"x-request-id", 12}, {id, strlen(id)}},
                                  {{"Allow", 5}, {allow, strlen(allow)}}};
    char msg[64];
    snprintf(msg, sizeof(msg), "method not allowed; use %s", allow);
    gw->status_unrouted[405]++;
    sl_http_respond_error_with(down, 405, h, 2, "invalid_request_error", "method_not_allowed", msg);
}

/* The caller's key: its index, -1 when none was sent, -2 when it matched
 * none. */
static int caller_key(const struct sl_gateway *gw, const struct sl_http_head *h)
{
    return sl_gw_auth(gw->cfg, sl_http_head_get(h, "authorization"));
}

/* For a route that needs a key (sl_gw_needs_key): answers 401 and returns
 * 0 when the caller has none that matches. */
static int authorized(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                      enum sl_gw_route route)
{
    if (!sl_gw_needs_key(gw->cfg, route))
        return 1;
    int k = caller_key(gw, sl_http_exchange_head(down));
    if (k >= 0)
        return 1;
    gw->status_unrouted[401]++;
    respond_error(down, id, 401, "invalid_request_error", "invalid_api_key",
                  k == -1 ? "missing API key: send Authorization: Bearer KEY" : "incorrect API key",
                  0);
    return 0;
}

/* Routing. The API endpoints (POST) and GET /v1/models need a key when
 * keys are configured, and so does /metrics unless metrics.public; the
 * cancel endpoint answers only the key that started the request; /health
 * and /ready are always open. HEAD is accepted wherever GET is (the server
 * sends the head without the body). A known path with another method is
 * 405 with Allow. */
static void handle(struct sl_http_exchange *down, void *data)
{
    struct sl_gateway *gw = data;
    const struct sl_http_head *h = sl_http_exchange_head(down);
    char id[40];
    new_id(gw, id, sizeof(id));
    int get = sl_str_eq(h->method, "GET") || sl_str_eq(h->method, "HEAD");
    int post = sl_str_eq(h->method, "POST");
    struct sl_str path = h->path;
    int ep = sl_openai_endpoint(path);
    if (ep >= 0) {
        if (!post) {
            respond_405(gw, down, id, "POST");
            return;
        }
        handle_proxy(gw, down, (enum sl_openai_endpoint)ep, id);
        return;
    }
    static const char prefix[] = "/v1/requests/", suffix[] = "/cancel";
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
    if (path.len > pl + sl && memcmp(path.ptr, prefix, pl) == 0 &&
        memcmp(path.ptr + path.len - sl, suffix, sl) == 0) {
        if (!post)
            respond_405(gw, down, id, "POST");
        else
            handle_cancel(gw, down, (struct sl_str){path.ptr + pl, path.len - pl - sl}, id,
                          caller_key(gw, h));
        return;
    }
    int health = sl_str_eq(path, "/health"), ready = sl_str_eq(path, "/ready");
    int metrics = sl_str_eq(path, "/metrics"), models = sl_str_eq(path, "/v1/models");
    if ((health || ready || metrics || models) && !get) {
        respond_405(gw, down, id, "GET, HEAD");
    } else if (health) {
        respond(down, id, 200, "{\"status\":\"ok\"}", 15, 0);
    } else if (ready) {
        if (gw->draining)
            respond(down, id, 503, "{\"status\":\"draining\"}", 21, 0);
        else
            respond(down, id, 200, "{\"status\":\"ready\"}", 18, 0);
    } else if (metrics) {
        if (authorized(gw, down, id, SL_GW_ROUTE_METRICS))
            respond_metrics(gw, down, id);
    } else if (models) {
        if (authorized(gw, down, id, SL_GW_ROUTE_MODELS))
            respond_models(gw, down, id);
    } else {
        gw->status_unrouted[404]++;
        respond_error(down, id, 404, "invalid_request_error", "unknown_url",
                      "unknown URL; the gateway serves /v1/chat/completions, /v1/completions, "
                      "/v1/embeddings, /v1/models, /health, /ready, /metrics",
                      0);
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

int sl_gateway_new(uv_loop_t *loop, const struct sl_gateway_options *opts, struct sl_gateway **out,
                   char *err, size_t err_size)
{
    struct sl_gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        snprintf(err, err_size, "out of memory");
        return UV_ENOMEM;
    }
    gw->loop = loop;
    gw->opts = *opts;
    gw->cfg = opts->cfg;
    sl_list_init(&gw->reqs);
    sl_list_init(&gw->count_queue);
    sl_list_init(&gw->count_batch);
    sl_rng_seed(&gw->rng, opts->seed ? opts->seed : uv_hrtime(), 1);
    int rc = sl_gw_router_init(&gw->router, gw->cfg, sl_rng_next(&gw->rng));
    gw->dm = calloc(gw->router.ndeps ? gw->router.ndeps : 1, sizeof(*gw->dm));
    gw->mm = calloc(gw->cfg->nmodels ? gw->cfg->nmodels : 1, sizeof(*gw->mm));
    if (rc != 0 || gw->dm == NULL || gw->mm == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    struct sl_http_server_config scfg;
    sl_http_server_config_default(&scfg);
    scfg.max_body_bytes = gw->cfg->max_body_bytes;
    /* Keep as many idle upstream connections as the deployments may use at
     * once: fewer would close and reopen connections under steady load. */
    size_t limit = 0;
    for (size_t i = 0; i < gw->router.ndeps; i++)
        limit += gw->router.deps[i].cfg->max_concurrency;
    struct sl_http_client_opts copts = {.max_idle_connections =
                                            (unsigned)(limit < 64      ? 64
                                                       : limit > 16384 ? 16384
                                                                       : limit)};
    rc = sl_http_client_new(loop, &copts, &gw->client);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the HTTP client: %s", uv_strerror(rc));
        goto fail;
    }
    /* each deployment's transport and origin, once (http/client.h) */
    for (size_t i = 0; i < gw->router.ndeps && rc == 0; i++) {
        struct sl_gw_dep *dep = &gw->router.deps[i];
        for (int ep = 0; ep < SL_OAI__COUNT && rc == 0; ep++)
            rc = sl_http_client_route(gw->client, dep->cfg->target.url[ep], &dep->route[ep]);
    }
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve the deployments' URLs: %s", uv_strerror(rc));
        sl_http_client_close(gw->client, NULL, NULL);
        goto fail;
    }
    rc = sl_http_server_new(loop, &scfg, handle, gw, &gw->server);
    if (rc != 0) {
        snprintf(err, err_size, "out of memory");
        sl_http_client_close(gw->client, NULL, NULL);
        goto fail;
    }
    rc = sl_http_server_listen(gw->server, gw->cfg->listen_host, gw->cfg->listen_port, err,
                               err_size);
    if (rc != 0) {
        gw->draining = 1;
        sl_gateway_shutdown(gw, 0, NULL, NULL);
        return rc;
    }
    uv_timer_init(loop, &gw->drain_timer);
    gw->drain_timer.data = gw;
    uv_timer_init(loop, &gw->count_timer);
    gw->count_timer.data = gw;
    gw->started = 1;
    gw->pending_closes += 2; /* both timers, closed in close_all */
    *out = gw;
    return 0;
fail:
    sl_gw_router_release_all(&gw->router);
    free(gw->dm);
    free(gw->mm);
    free(gw);
    return rc ? rc : UV_ENOMEM;
}

int sl_gateway_port(const struct sl_gateway *gw)
{
    return sl_http_server_port(gw->server);
}

uint64_t sl_gateway_in_flight(const struct sl_gateway *gw)
{
    return gw->in_flight;
}

uint64_t sl_gateway_max_in_flight(const struct sl_gateway *gw)
{
    return gw->max_in_flight;
}

/* Everything is closed once the server, the client, the drain timer and
 * every request are gone. */
static void maybe_closed(struct sl_gateway *gw)
{
    if (!gw->closing || gw->pending_closes > 0)
        return;
    void (*cb)(void *) = gw->shutdown_cb;
    void *arg = gw->shutdown_arg;
    sl_gw_router_release_all(&gw->router);
    free(gw->dm);
    free(gw->mm);
    free(gw);
    if (cb)
        cb(arg);
}

static void on_part_closed(void *arg)
{
    struct sl_gateway *gw = arg;
    gw->pending_closes--;
    maybe_closed(gw);
}

static void on_timer_closed(uv_handle_t *handle)
{
    on_part_closed(handle->data);
}

static void on_close_parts(uv_timer_t *t)
{
    struct sl_gateway *gw = t->data;
    uv_close((uv_handle_t *)&gw->drain_timer, on_timer_closed);
    sl_http_server_close(gw->server, on_part_closed, gw);
    sl_http_client_close(gw->client, on_part_closed, gw);
}

/* From the loop, not from inside the callback of the last request (an
 * upstream or server callback must not close its own client or server). */
static void close_parts_soon(struct sl_gateway *gw)
{
    uv_timer_stop(&gw->drain_timer);
    uv_timer_start(&gw->drain_timer, on_close_parts, 0, 0);
}

/* Drained (or out of patience): cancel what is left and close, the
 * listener included (it stayed open during the drain so that /ready could
 * answer 503 and new API requests a 503 with Retry-After). */
static void close_all(struct sl_gateway *gw)
{
    if (gw->closing)
        return;
    gw->closing = 1;
    struct sl_list *n, *next;
    for (n = gw->reqs.next; n != &gw->reqs; n = next) {
        next = n->next;
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        r->shut_down = 1; /* the client cancelled nothing: 503, failed */
        cancel(r);
    }
    start_count_job(gw); /* what waited for the batch timer goes now */
    uv_close((uv_handle_t *)&gw->count_timer, on_timer_closed);
    /* the server and the client close once the cancelled requests have
     * answered (cancelling an attempt completes on the loop): closing the
     * server now would drop their connections instead of the 503 */
    gw->pending_closes += 2;
    if (gw->in_flight == 0)
        close_parts_soon(gw);
}

static void on_drain_tick(uv_timer_t *t)
{
    struct sl_gateway *gw = t->data;
    if (gw->in_flight == 0 || uv_now(gw->loop) >= gw->drain_deadline_ms) {
        uv_timer_stop(t);
        close_all(gw);
    }
}

void sl_gateway_shutdown(struct sl_gateway *gw, unsigned drain_ms, void (*cb)(void *), void *arg)
{
    if (gw->closing)
        return;
    gw->shutdown_cb = cb;
    gw->shutdown_arg = arg;
    gw->draining = 1;
    if (!gw->started) {
        /* never started (listen failed) */
        gw->closing = 1;
        gw->pending_closes += 2;
        sl_http_server_close(gw->server, on_part_closed, gw);
        sl_http_client_close(gw->client, on_part_closed, gw);
        return;
    }
    if (gw->in_flight == 0 || drain_ms == 0) {
        close_all(gw);
        return;
    }
    gw->drain_deadline_ms = uv_now(gw->loop) + drain_ms;
    uv_timer_start(&gw->drain_timer, on_drain_tick, 10, 10);
}
