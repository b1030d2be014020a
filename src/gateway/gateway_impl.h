/* Internal to the gateway: what gateway.c (the request state machine),
 * lifecycle.c (the gateway's start and end), respond.c (a request's client
 * side) and front.c (the routes) share. The design note is in gateway.c. */
#ifndef SL_GATEWAY_IMPL_H
#define SL_GATEWAY_IMPL_H

#include "core/list.h"
#include "core/rng.h"
#include "gateway/gateway.h"
#include "gateway/keyring.h"
#include "gateway/keysync.h"
#include "gateway/shared.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "http/client.h"
#include "http/openai.h"
#include "http/server.h"
#include "http/sse.h"
#include "gateway/provider.h"
#include "otel/exporter.h"
#include "providers/anthropic.h"
#include "providers/messages_front.h"
#include "providers/responses_front.h"
#include "providers/bedrock.h"
#include "providers/gemini.h"
#include "retry/retrier.h"
#include "core/buf.h"
#include "core/deadlines.h"
#include "core/sem.h"

struct sl_gateway {
    uv_loop_t *loop;
    struct sl_gateway_options opts;
    const struct sl_gw_config *cfg;
    struct sl_gw_router router;
    struct sl_http_server *server;
    struct sl_http_client *client;
    struct sl_list reqs;
    struct sl_list spare; /* finished gw_reqs kept for the next ones (gateway.c) */
    size_t n_spare;
    uint64_t in_flight, max_in_flight;
    struct sl_rng rng;
    struct sl_gw_metrics *metrics;
    struct sl_gw_keyring *keys;      /* every API key and its limits' state */
    struct sl_gw_keysync *keysync;   /* virtual keys: the database side, or NULL */
    struct sl_gw_shared *shared;     /* limits shared through Redis, or NULL */
    int admin_on;                    /* a master key was given (SLUICE_MASTER_KEY) */
    unsigned char master_sha256[32]; /* its digest: the secret itself is not kept */
    int draining, closing, pending_closes, started, keysync_closing, shared_closing;
    uint64_t drain_deadline_ms;
    uv_timer_t drain_timer;
    struct sl_deadlines deadlines; /* the requests' queue waits and backoffs */
    uv_check_t reaper;             /* frees finished requests at the end of a loop turn */
    struct sl_list finished;       /* finished requests, until the reaper runs */
    void (*shutdown_cb)(void *);
    void *shutdown_arg;
    struct sl_otel_exporter *otel; /* `otel:` given: the trace exporter, else NULL */
    struct sl_gw_ui *ui;           /* the dashboard (ui.c), when it is on */
    struct sl_gw_bodies *bodies;   /* the body log (bodies.c), when log_bodies: is on */
};

#define MAX_RESPONSE_BYTES (16u * 1024 * 1024)
#define SL_GW_FWD_HEADERS  10 /* upstream headers a client may see */
#define MAX_EVENT_BYTES    SL_SSE_DEFAULT_MAX_EVENT
#define STREAM_HIGH_WATER  (256u * 1024)

/* ---- a request (gateway.c; its client side in respond.c) ---------------- */

/* The API a client speaks to the gateway (fronts.c): OpenAI's (the pivot
 * every provider's glue speaks), Anthropic's Messages API, or OpenAI's
 * Responses API, translated to and from chat completions at the edge. */
enum gw_front { GW_FRONT_OPENAI, GW_FRONT_MESSAGES, GW_FRONT_RESPONSES };

/* A traced request's ids and attempts (tracing.c). */
struct gw_trace_attempt {
    uint8_t id[8];
    uint64_t start_ns, end_ns; /* monotonic */
    int status;
    enum sl_err err;
    const struct sl_gw_dep *dep;
};
struct gw_trace {
    int sampled, has_parent;
    uint8_t trace_id[16], span_id[8], parent_id[8];
    unsigned n;
    struct gw_trace_attempt a[SL_OTEL_MAX_ATTEMPTS];
};

/* A request's state (see the design note). Only set_state() changes it. */
enum gw_state {
    GW_ADMITTING,   /* the key's limits; first the prompt is counted when a TPM limit needs it */
    GW_PICKING,     /* choosing a deployment: the first, or the next one */
    GW_QUEUED,      /* waiting in the deployment's admission queue (r->admit) */
    GW_ATTEMPTING,  /* holds a permit; an upstream request is out, the client has nothing yet */
    GW_DECIDING,    /* holds a permit; the attempt is over, the retrier decides what next */
    GW_BACKING_OFF, /* holds a permit; the retrier sleeps before the next attempt */
    GW_STREAMING,   /* holds a permit; committed: the upstream's stream goes to the client */
    GW_STREAM_DONE, /* the client's stream ended at [DONE]; the upstream may still be open */
    GW_RESPONDING,  /* the attempts are over: the answer goes out, then finish() */
    GW_FINISHED,    /* finish() ran: the row is with the recorder, the handles close */
};

struct gw_req {
    struct sl_list node;
    struct sl_gateway *gw;
    struct sl_http_exchange *down;
    char id[40];
    enum sl_openai_endpoint ep;
    /* the client's API (fronts.c): its body as sent (front_raw, kept when a
     * deployment may take it as it is: Messages for Anthropic, Responses for
     * `responses: native`), the fields a Response echoes (front_body),
     * whether this deployment takes the client's body as it is (native),
     * whether only such a deployment can serve it (front_stateful: r->refusal
     * is the others' 400), and its stream's translation to the client */
    enum gw_front front;
    char *front_body, *front_raw;
    size_t front_body_len, front_raw_len;
    size_t front_model_at, front_model_len; /* "model" in front_raw */
    int native, front_streaming, front_stateful;
    unsigned long native_events; /* a native Responses stream's events relayed */
    struct sl_sse_parser front_sse;
    struct sl_buf front_out;
    union {
        struct sl_messages_stream messages;
        struct sl_responses_stream responses;
    } fs;
    enum gw_state state;
    const struct sl_gw_model *model;
    char model_name[128];
    struct sl_gw_key_entry *key; /* the gateway key that started it, or NULL */
    char key_name[64];
    int stream;
    int stream_options; /* the client's body has stream_options */
    int strip_usage;    /* the usage chunk was asked for the row, not by the client */
    long max_tokens;    /* the client's, -1 when absent */

    /* limits: the prompt counted before admission (when a TPM limit needs
     * it), the tokens reserved, and what the key and the deployment took */
    int counting, counted, key_admitted;
    unsigned prompt_counted;
    uint64_t reserved_tokens;
    struct sl_gw_key_ticket key_ticket;    /* the key's local limits */
    struct sl_rate_ticket dep_ticket;      /* r->dep's local rate */
    struct sl_gw_shared_ticket key_shared; /* with Redis: the key's shared limits */
    struct sl_gw_shared_ticket dep_shared; /* and r->dep's */
    struct sl_gw_shared_call shared_admit; /* the one shared admit out at a time */
    struct sl_gw_shared_ask key_ask;       /* the key's, taken with the first deployment's */
    int key_pending;                       /* the key's shared limits are still to take */
    int shared_call;                       /* a shared admit is out: its answer goes on */
    int shared_wait;                       /* waiting to ask for a shared permit again */
    int shared_queued;                     /* counted in r->dep->shared_waiting */
    int dep_permit_shared;                 /* the permit held is a shared lease */
    struct sl_list shared_waiter;          /* in r->dep->shared_waiters while shared_wait */
    int pick_full, pick_limited;           /* what the deployments tried said */
    uint64_t pick_retry_us;

    char *body; /* the client's body, owned */
    size_t body_len, body_cap;
    size_t model_at, model_len; /* the "model" value inside body */
    char *up_body;              /* with the deployment's model name, when it has one */
    size_t up_body_len;

    struct sl_gw_dep *dep;
    uint64_t tried;
    uint64_t skipped; /* of tried: deployments that could not serve it at all */
    struct sl_sem_timed_waiter admit;
    struct sl_retrier retrier;
    struct sl_retry_policy policy;
    struct sl_rng rng;

    /* the client's own upstream key (a deployment with api_key: client),
     * with its provider's prefix made when the attempt starts */
    char client_key[512];
    char client_key_hdr[560];
    /* the client's trace context, passed to the upstream (W3C) */
    char traceparent[56], tracestate[512];
    struct gw_trace trace;
    char tries[320];      /* the row's attempts (sl__gw_tries_json), when several */
    struct sl_buf answer; /* with the body log: a stream's content as the client got it */
    /* the last attempt's x-ratelimit-* headers and request id (as
     * x-upstream-request-id), for the client: views into up_hdr_buf */
    struct sl_http_header up_hdr[SL_GW_FWD_HEADERS];
    size_t n_up_hdr;
    char up_hdr_buf[1024];

    struct sl_http_request up;
    struct sl_http_header up_headers[SL_GW_UP_HEADERS];
    size_t n_up_headers;
    char *up_url; /* this attempt's own URL (the provider's attempt hook), or NULL */
    int up_status;
    double retry_after_ms;
    struct sl_buf resp;
    struct sl_sse_parser sse;
    struct sl_buf held; /* a stream's bytes after its last whole event */
    size_t since_event; /* a translated stream's bytes since its last whole event */
    size_t done_at;     /* where [DONE] ended, in the chunk that held it */
    int saw_done, paused;
    int too_large; /* the response, or one event, passed the limit */
    unsigned usage_prompt, usage_completion;

    /* a deployment of another API (provider.h): the refusal of its body,
     * its stream translator and the chunks it made for the client */
    struct sl_xlat_refusal refusal;
    union {
        struct sl_anthropic_stream anthropic;
        struct sl_anthropic_scan anthropic_native; /* a native Messages stream */
        struct {
            struct sl_bedrock_stream s;
            struct sl_es_decoder dec; /* fed whole frames only: it never allocates */
            char host[300];           /* the signed headers' values, for the attempt */
            char amz_date[17];
            char payload_sha256[65];
            char authorization[640];
        } bedrock;
        struct sl_gemini_stream gemini;
    } xs;
    char up_error_type[96]; /* a non-2xx answer's x-amzn-ErrorType (Bedrock's error class) */
    struct sl_buf xlat;
    int xlat_usage;         /* the client asked for the usage chunk */
    enum sl_err stream_err; /* the translated stream ended with an error event */

    int cancelled;
    int shut_down; /* cancelled by the gateway's own shutdown, not by the client */
    unsigned attempts;
    enum sl_err error;
    int final_status;
    uint64_t t0_ns, admit_start_ns, queue_ns, first_byte_ns;
    uint64_t attempt_ns, up_done_ns; /* the last attempt's start and end (metrics.h stages) */
    int64_t started_us;
    int reaped; /* the loop turned since finish(): nothing up the stack holds it */
    int offload_pending;
    struct sl_recorder_item item; /* the row, while the recorder holds it */
};

/* req_pool.c: a zeroed gw_req with room for a body of body_len bytes (a
 * spare's when there is one, its buffers kept), or NULL; put takes back a
 * finished one; spares_free at the gateway's end. */
#define SL_GW_SPARE_RESP_MAX (4u * 1024) /* a response buffer kept, also while counted */
struct gw_req *sl__gw_req_get(struct sl_gateway *gw, size_t body_len);
void sl__gw_req_put(struct sl_gateway *gw, struct gw_req *r);
void sl__gw_req_spares_free(struct sl_gateway *gw);
/* req_pool.c: a finished request's deadlines stop (finished), and it goes
 * once the loop turned and the recorder is done with it (reap: at the end
 * of the turn, or now, when the gateway closes). */
void sl__gw_req_finished(struct gw_req *r);
void sl__gw_req_maybe_free(struct gw_req *r);
void sl__gw_req_reap(struct sl_gateway *gw);
/* gateway.c: a request's memory went back (it counted in pending_closes). */
void sl__gw_req_gone(struct sl_gateway *gw);

/* gateway.c: the one way a request's state changes; asserts the move. */
void sl__gw_set_state(struct gw_req *r, enum gw_state to);
/* gateway.c: the attempts on r->dep (a permit held), and the one end of
 * every request (from RESPONDING: the row, the teardown). */
void sl__gw_start_attempts(struct gw_req *r);
void sl__gw_finish(struct gw_req *r);
/* gateway.c: the one way to cancel a request (its queue wait, attempt or
 * backoff); 1 when it is (now or already) cancelled, 0 when it was
 * answered already and there is nothing to cancel. */
int sl__gw_cancel(struct gw_req *r);
/* lifecycle.c: the gateway freed when closing and nothing is left open;
 * its parts closed from the loop, once the last request is over. */
void sl__gw_maybe_closed(struct sl_gateway *gw);
void sl__gw_close_parts_soon(struct sl_gateway *gw);

/* admission.c (its design note): from the front to the first attempt. */
void sl__gw_admit(struct gw_req *r);          /* ADMITTING: count, the key's limits, then pick */
void sl__gw_pick(struct gw_req *r);           /* PICKING: the next deployment and its limits */
void sl__gw_release_permit(struct gw_req *r); /* the attempts on r->dep are over */
void sl__gw_settle_limits(struct gw_req *r);  /* at finish: reservations set right */
/* A recorded row's cost, charged to the request's key. */
void sl__gw_charge(struct gw_req *r, const struct sl_gw_log_row *row);
/* A cancel while counting or waiting for a limit: 1 if admission handles it. */
int sl__gw_cancel_admission(struct gw_req *r);

/* respond.c: the client side (its design note). The down_* functions and
 * respond_failure answer at most once; the client may be gone. */
void sl__gw_down_respond(struct gw_req *r, int status, const char *body, size_t len,
                         int retry_after_s);
void sl__gw_down_respond_error(struct gw_req *r, int status, const char *type, const char *code,
                               const char *message, int retry_after_s);
void sl__gw_down_stream_end(struct gw_req *r, const char *type, const char *code,
                            const char *message);
/* OpenAI's error type for a status: requests (429), server_error (5xx),
 * invalid_request_error (the rest). */
const char *sl__gw_error_type(int status);
int sl__gw_status_of_type(const char *type); /* and back, roughly: 429, 500 or 400 */
/* Answers the client for a request that is over without a success. */
void sl__gw_respond_failure(struct gw_req *r);
/* A committed stream: a piece of the upstream's bytes, whole events only. */
void sl__gw_relay(struct gw_req *r, const char *data, size_t len);
void sl__gw_on_sse_event(void *arg, const struct sl_sse_event *ev);
void sl__gw_on_stream_drain(struct sl_http_exchange *down, void *data);

/* models.c: GET /v1/models (the configured names; in the quick start, the
 * upstream's own list) and GET /v1/models/{id}. */
void sl__gw_respond_models(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id);
void sl__gw_respond_model(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                          struct sl_str name);

/* fronts.c: the client's API at the edge (its design note). */
const char *sl__gw_front_endpoint(const struct gw_req *r); /* the row's endpoint */
/* A JSON answer in the client's API: its status, with out holding the
 * translated body (out left empty: send body as it is). */
int sl__gw_front_json(struct gw_req *r, int status, const char *body, size_t len, int own,
                      struct sl_buf *out);
void sl__gw_front_stream_start(struct gw_req *r);
/* Whole chat chunk events on their way to the client: *out the client's
 * events to write instead, or NULL (the client speaks OpenAI, or the
 * deployment is native: send them as they are). */
void sl__gw_front_stream(struct gw_req *r, const char *data, size_t len, struct sl_buf **out);
void sl__gw_front_release(struct gw_req *r);
/* POST /v1/messages/count_tokens (the caller checked method and key). */
void sl__gw_count_tokens(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id);
/* An error refused before a request exists, in the front's shape. */
void sl__gw_front_error(struct sl_http_exchange *down, const char *id, enum gw_front front,
                        int status, const char *type, const char *code, const char *message,
                        int retry_after_s);
/* tracing.c: a request's trace (docs/otel.md): decided when it starts,
 * each attempt's span (its traceparent upstream), the record at the end. */
void sl__gw_trace_begin(struct gw_req *r);
void sl__gw_trace_attempt(struct gw_req *r);
void sl__gw_trace_attempt_end(struct gw_req *r, enum sl_err err);
void sl__gw_trace_finish(struct gw_req *r, const struct sl_gw_log_row *row);
/* A retried request's attempts for its row (recorder.h: tries), written
 * in out; NULL when it had one. */
const char *sl__gw_tries_json(struct gw_req *r, char *out, size_t size);
/* The exporter's counters, in Prometheus' text format. */
void sl__gw_trace_render_metrics(struct sl_gateway *gw, struct sl_buf *out);

/* bodies.c: the body log (log_bodies:): a stream's client-bound chunks,
 * a finished request's conversation, its life and its counters. */
struct sl_gw_bodies;
void sl__gw_bodies_stream(struct gw_req *r, const char *data, size_t len);
void sl__gw_bodies_finish(struct gw_req *r);
int sl__gw_bodies_new(struct sl_gateway *gw, struct sl_gw_bodies **out);
void sl__gw_bodies_close(struct sl_gw_bodies *b, void (*cb)(void *), void *arg);
void sl__gw_bodies_counters(const struct sl_gw_bodies *b, uint64_t *stored, uint64_t *dropped,
                            uint64_t *failed);

/* ui.c: the dashboard (/ui ...): 1 when the path was its (answered),
 * else 0; a finished request's row for the live feed; its life. */
struct sl_gw_ui;
int sl__gw_ui_handle(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id);
/* ui_log.c: the dashboard's API over the log (/ui/api/...): 1 when the
 * path was its (answered), else 0. */
int sl__gw_ui_log(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                  struct sl_str path, struct sl_str query);
void sl__gw_ui_note(struct sl_gw_ui *ui, const struct sl_gw_log_row *row);
int sl__gw_ui_new(struct sl_gateway *gw, struct sl_gw_ui **out);
void sl__gw_ui_close(struct sl_gw_ui *ui, void (*cb)(void *), void *arg);

/* A client's body as it was sent, for a native deployment (r->up_body). */
int sl__gw_native_body(struct gw_req *r);
/* A native Responses stream's event (usage, its end). */
void sl__gw_responses_native_event(struct gw_req *r, const struct sl_sse_event *ev);
/* The gateway's own error event at the cut of a native stream, in the
 * client's API (Anthropic's, or the Responses API's), appended to out. */
int sl__gw_native_error_event(struct gw_req *r, const char *type, const char *code,
                              const char *message, struct sl_buf *out);
/* anthropic_attempt.c: a native Messages stream's event (usage, its end). */
void sl__gw_anthropic_native_event(struct gw_req *r, const struct sl_sse_event *ev);

/* respond.c: the client's 400 for a body a deployment cannot serve
 * (r->refusal, from its provider's body hook). */
void sl__gw_respond_refusal(struct gw_req *r);
/* A translation's refusal as OpenAI's 400 body (its param, or null):
 * appended to out; 0, or the JSON writer's error. */
int sl__gw_refusal_body(const struct sl_xlat_refusal *no, struct sl_buf *out);
/* respond.c: replaces r->resp with what a translation made of it. */
void sl__gw_swap_resp(struct gw_req *r, struct sl_buf *out);
/* respond.c: the upstream's stream ended cleanly: the provider's end of it
 * (stream_end), and the client's stream ended when that was its end. */
void sl__gw_relay_end(struct gw_req *r);

/* ---- the front (front.c) -------------------------------------------------- */

/* front.c: the server's handler (data: the gateway). */
void sl__gw_handle(struct sl_http_exchange *down, void *data);

/* front.c: a JSON response with x-request-id (and Retry-After when > 0),
 * and an OpenAI-shaped error the same way. */
void sl__gw_respond(struct sl_http_exchange *down, const char *id, int status, const char *body,
                    size_t len, int retry_after_s);
/* The same with more headers (at most SL_GW_FWD_HEADERS). */
void sl__gw_respond_with(struct sl_http_exchange *down, const char *id, int status,
                         const struct sl_http_header *extra, size_t n, const char *body, size_t len,
                         int retry_after_s);
/* headers.c: what passes between the client and the upstream besides the
 * body: the upstream's rate-limit headers and request id kept for the
 * client (from each attempt's response head), the client's trace context
 * kept for the upstream, and the client's own x-request-id. */
void sl__gw_keep_upstream_headers(struct gw_req *r, const struct sl_http_header *h, size_t n);
void sl__gw_keep_trace(struct gw_req *r, const struct sl_http_head *h);
size_t sl__gw_add_trace(const struct gw_req *r, struct sl_http_header *out, size_t room);
/* The client's own key for deployments with api_key: client: its
 * x-upstream-api-key, or without gateway keys its Authorization Bearer (or
 * x-api-key) token; 0 and copied into out, or -1: none (or unusable). */
int sl__gw_client_key(const struct sl_http_head *h, int gateway_auth, char *out, size_t size);
/* The headers a deployment adds for the client: its own key (api_key:
 * client) and its forward_headers, appended to out (room left). */
size_t sl__gw_add_client_headers(struct gw_req *r, struct sl_http_header *out, size_t room);
/* The client's x-request-id for an API request: 1 and copied into id
 * (size bytes) when it sent a usable one, 0 when it sent none, -1 when it
 * is malformed (why says so) and -2 when a live request has it. */
int sl__gw_client_id(struct sl_gateway *gw, const struct sl_http_head *h, char *id, size_t size,
                     const char **why);
void sl__gw_respond_error(struct sl_http_exchange *down, const char *id, int status,
                          const char *type, const char *code, const char *message,
                          int retry_after_s);

/* A validated API request. model_name and body point into the exchange. */
struct sl__gw_start {
    const char *id;
    enum gw_front front;
    struct sl_buf *front_body; /* taken (its bytes owned by the request) when not NULL */
    struct sl_buf *front_raw;  /* the same; the client's body as sent */
    struct sl_str front_model; /* "model" inside front_raw */
    /* not NULL: the body could not be translated (a stateful Responses
     * request): only a `responses: native` deployment serves it, the others
     * answer this refusal */
    const struct sl_xlat_refusal *stateful;
    enum sl_openai_endpoint ep;
    const struct sl_gw_model *model;
    struct sl_str model_name;    /* inside body */
    struct sl_gw_key_entry *key; /* the gateway key, or NULL */
    int stream;
    int stream_options; /* the body has stream_options */
    long max_tokens;    /* -1 when absent */
    struct sl_str body;
};

/* gateway.c: starts a request's way (pick, admit, attempt ...); from here
 * the request answers the exchange and records its row. Returns 0, or
 * UV_ENOMEM when nothing started (the caller answers). */
int sl__gw_proxy(struct sl_gateway *gw, struct sl_http_exchange *down,
                 const struct sl__gw_start *s);

/* gateway.c: cancels the request in flight with that id, if the caller's
 * key (NULL: none, or unknown) may: 1 cancelled (now or before), 0
 * answered already, -1 no such request for this caller. */
int sl__gw_cancel_id(struct sl_gateway *gw, struct sl_str id, const struct sl_gw_key_entry *key);

#endif
