/* The client's API at the edge of the gateway. Every provider's glue
 * speaks OpenAI chat completions (the pivot); a client may speak another
 * API, translated here on the way in (front.c calls the request
 * translation) and on the way out:
 *
 *  - a JSON answer (2xx or error) goes through sl__gw_front_json, the one
 *    place respond.c hands every whole answer to;
 *  - a committed stream's whole chat chunk events go through
 *    sl__gw_front_stream: a parser of their own (front_sse) feeds the
 *    front's stream translator, whose events are what the client gets; the
 *    gateway's own error event at a cut goes the same way, so a Messages
 *    client gets Anthropic's error event and a Responses client its
 *    error/response.failed events;
 *  - a Messages request on an Anthropic deployment is native: its body goes
 *    upstream as the client sent it (model renamed), and what comes back
 *    goes to the client untouched (anthropic_attempt.c reads the usage and
 *    the end from it): nothing is translated twice.
 *
 * Ownership: r->front_body (the client's Anthropic body, or the Responses
 * echo), r->front_sse, r->front_out and the Responses stream translator are
 * the request's, released in sl__gw_front_release at finish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/offload.h"
#include "gateway/gateway_impl.h"
#include "http/json_write.h"
#include "token/request_tokens.h"

/* A client's body on a deployment that speaks the client's API (native):
 * its own bytes, with the deployment's model name when it has one. */
int sl__gw_native_body(struct gw_req *r)
{
    const char *um = r->dep->cfg->upstream_model;
    if (um[0]) {
        struct sl_str model = {r->front_raw + r->front_model_at, r->front_model_len};
        return sl_openai_with_model(r->front_raw, r->front_raw_len, model, um, &r->up_body,
                                    &r->up_body_len)
                   ? UV_ENOMEM
                   : 0;
    }
    if ((r->up_body = malloc(r->front_raw_len ? r->front_raw_len : 1)) == NULL)
        return UV_ENOMEM;
    memcpy(r->up_body, r->front_raw, r->front_raw_len);
    r->up_body_len = r->front_raw_len;
    return 0;
}

/* A native Responses stream's event (relayed as it came): its type, from
 * the event line or else from the data's "type". The last event of a
 * Response ends the client's stream and carries the usage; an error event
 * ends it too, its class for the row. */
void sl__gw_responses_native_event(struct gw_req *r, const struct sl_sse_event *ev)
{
    r->native_events++;
    struct sl_str type = {ev->event, ev->event_len};
    struct sl_json_doc doc;
    struct sl_json_pick t[2] = {{.key = "type"}, {.key = "code"}};
    int picked = 0;
    if (type.len == 0 || sl_str_eq(type, "error")) {
        picked = sl_json_scan_pick(ev->data, ev->data_len, &doc, t, 2) == 0;
        if (type.len == 0 && picked && t[0].found && t[0].m.type == SL_JSON_STRING)
            type = t[0].m.value;
    }
    int failed = sl_str_eq(type, "error") || sl_str_eq(type, "response.failed");
    if (!failed && !sl_str_eq(type, "response.completed") &&
        !sl_str_eq(type, "response.incomplete"))
        return;
    sl_openai_usage(ev->data, ev->data_len, &r->usage_prompt, &r->usage_completion);
    if (failed) {
        int limited = picked && t[1].found && sl_str_eq(t[1].m.value, "rate_limit_exceeded");
        r->stream_err = limited ? SL_E_RATE_LIMITED : SL_E_SERVER_ERROR;
    }
    r->saw_done = 1;
    r->done_at = r->sse.boundary;
}

int sl__gw_native_error_event(struct gw_req *r, const char *type, const char *code,
                              const char *message, struct sl_buf *out)
{
    if (r->front == GW_FRONT_MESSAGES)
        return sl_messages_error_event(sl__gw_status_of_type(type), message, out);
    /* the Responses API's error event, numbered after the upstream's */
    struct sl_jw w;
    if (sl_buf_append(out, "event: error\ndata: ", 19) != 0)
        return UV_ENOBUFS;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "type", "error");
    sl_jw_kv_string(&w, "code", code ? code : type);
    sl_jw_kv_string(&w, "message", message);
    sl_jw_key(&w, "param");
    sl_jw_null(&w);
    sl_jw_kv_int(&w, "sequence_number", (long long)r->native_events);
    sl_jw_end(&w);
    int rc = sl_jw_finish(&w);
    return rc ? rc : sl_buf_append(out, "\n\n", 2);
}

/* Translates the client-bound events of one stream piece. */
static void on_front_event(void *arg, const struct sl_sse_event *ev)
{
    struct gw_req *r = arg;
    if (r->front == GW_FRONT_MESSAGES)
        sl_messages_stream_event(&r->fs.messages, ev->data, ev->data_len, &r->front_out);
    else
        sl_responses_stream_event(&r->fs.responses, ev->data, ev->data_len, &r->front_out);
}

const char *sl__gw_front_endpoint(const struct gw_req *r)
{
    return r->front == GW_FRONT_MESSAGES    ? "messages"
           : r->front == GW_FRONT_RESPONSES ? "responses"
                                            : sl_openai_name(r->ep);
}

/* A Response's id: the request's, so that a client can find its row. */
static void response_id(const struct gw_req *r, char *out, size_t size)
{
    snprintf(out, size, "resp_%s", r->id);
}

int sl__gw_front_json(struct gw_req *r, int status, const char *body, size_t len, int own,
                      struct sl_buf *out)
{
    sl_buf_reset(out);
    /* a native deployment's answers are the client's API already; the
     * gateway's own errors (own) are OpenAI's, whoever answered before */
    if (r->front == GW_FRONT_OPENAI || (r->native && !own))
        return status;
    int ok = status >= 200 && status < 300;
    if (r->front == GW_FRONT_RESPONSES) {
        if (!ok)
            return status; /* the Responses API's errors are OpenAI's */
        char id[48];
        response_id(r, id, sizeof(id));
        struct sl_responses_ctx ctx = {.id = id,
                                       .model = r->model_name,
                                       .created_at = (long long)time(NULL),
                                       .echo = r->front_body,
                                       .echo_len = r->front_body_len};
        if (sl_responses_response(body, len, &ctx, out, NULL) == 0)
            return status;
        char err[512];
        size_t n = sl_openai_error_body(err, sizeof(err), "server_error", "bad_gateway",
                                        "the upstream's answer is not a chat completion");
        sl_buf_reset(out);
        sl_buf_append(out, err, n);
        return 502;
    }
    struct sl_messages_error cls;
    if (ok) {
        char id[48];
        snprintf(id, sizeof(id), "msg_%s", r->id);
        if (sl_messages_response(body, len, id, r->model_name, out, NULL) == 0)
            return status;
        sl_buf_reset(out);
        sl_messages_error_body(502, "the upstream's answer is not a chat completion", out, &cls);
        return cls.status;
    }
    if (sl_messages_error(status, body, len, out, &cls) != 0) {
        sl_buf_reset(out);
        return status;
    }
    return cls.status;
}

void sl__gw_front_stream_start(struct gw_req *r)
{
    if (r->front == GW_FRONT_OPENAI || r->native)
        return;
    r->front_streaming = 1;
    sl_sse_parser_init(&r->front_sse, 0, on_front_event, r);
    sl_buf_init(&r->front_out, 4 * MAX_EVENT_BYTES + MAX_RESPONSE_BYTES);
    if (r->front == GW_FRONT_MESSAGES) {
        char id[48];
        snprintf(id, sizeof(id), "msg_%s", r->id);
        sl_messages_stream_init(&r->fs.messages, id, r->model_name);
    } else {
        char id[48];
        response_id(r, id, sizeof(id));
        sl_responses_stream_init(&r->fs.responses, id, r->model_name, (long long)time(NULL),
                                 r->front_body, r->front_body_len, MAX_RESPONSE_BYTES);
    }
}

void sl__gw_front_stream(struct gw_req *r, const char *data, size_t len, struct sl_buf **out)
{
    *out = NULL;
    if (!r->front_streaming)
        return;
    sl_buf_reset(&r->front_out);
    sl_sse_parser_feed(&r->front_sse, data, len); /* whole events: each one dispatched */
    *out = &r->front_out;
}

void sl__gw_front_release(struct gw_req *r)
{
    free(r->front_body);
    r->front_body = NULL;
    free(r->front_raw);
    r->front_raw = NULL;
    if (!r->front_streaming)
        return;
    r->front_streaming = 0;
    sl_sse_parser_release(&r->front_sse);
    sl_buf_release(&r->front_out);
    if (r->front == GW_FRONT_RESPONSES)
        sl_responses_stream_release(&r->fs.responses);
}

void sl__gw_front_error(struct sl_http_exchange *down, const char *id, enum gw_front front,
                        int status, const char *type, const char *code, const char *message,
                        int retry_after_s)
{
    if (front != GW_FRONT_MESSAGES) {
        sl__gw_respond_error(down, id, status, type, code, message, retry_after_s);
        return;
    }
    struct sl_buf body;
    struct sl_messages_error cls;
    sl_buf_init(&body, 8192);
    if (sl_messages_error_body(status, message, &body, &cls) == 0)
        sl__gw_respond(down, id, status, body.ptr, body.len, retry_after_s);
    else
        sl__gw_respond_error(down, id, status, type, code, message, retry_after_s);
    sl_buf_release(&body);
}

/* ---- POST /v1/messages/count_tokens ---------------------------------------
 *
 * Anthropic's token counter: the request (no max_tokens needed) made a
 * chat request and counted on the thread pool as the TPM limits count
 * (src/token: tiktoken's encodings; for a Claude model an estimate, as
 * Anthropic's own tokenizer is not public). The job owns a copy of what it
 * counts; a client that goes away only clears `down`. No row: nothing
 * reached a model. */

struct count_job {
    struct sl_http_exchange *down;
    char id[40];
    char model[128];
    struct sl_buf chat;
    size_t tokens;
};

static void on_count_client_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    ((struct count_job *)data)->down = NULL;
}

static void count_work(void *data)
{
    struct count_job *j = data;
    j->tokens = sl_tok_count_request("chat/completions", j->model, j->chat.ptr, j->chat.len, NULL);
}

static void count_done(void *data, int status)
{
    struct count_job *j = data;
    if (j->down) {
        sl_http_exchange_on_abort(j->down, NULL, NULL);
        if (status == 0) {
            char body[64];
            int n = snprintf(body, sizeof(body), "{\"input_tokens\":%zu}", j->tokens);
            sl__gw_respond(j->down, j->id, 200, body, (size_t)n, 0);
        } else {
            sl__gw_front_error(j->down, j->id, GW_FRONT_MESSAGES, 503, "server_error",
                               "unavailable", "the token count was cancelled", 1);
        }
    }
    sl_buf_release(&j->chat);
    free(j);
}

void sl__gw_count_tokens(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    struct sl_str body = sl_http_exchange_body(down);
    struct count_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        sl__gw_front_error(down, id, GW_FRONT_MESSAGES, 503, "server_error", "out_of_memory",
                           "out of memory", 1);
        return;
    }
    struct sl_messages_req_info info;
    struct sl_xlat_refusal no = {{0}, {0}};
    sl_buf_init(&j->chat, 2 * gw->cfg->max_body_bytes + 64 * 1024);
    int rc =
        sl_messages_request(body.ptr, body.len, SL_MESSAGES_NO_MAX_TOKENS, &j->chat, &info, &no);
    if (rc != 0) {
        struct sl_buf out;
        sl_buf_init(&out, 8192);
        if (rc == UV_EINVAL && sl_messages_refusal_body(&no, &out) == 0)
            sl__gw_respond(down, id, 400, out.ptr, out.len, 0);
        else
            sl__gw_front_error(down, id, GW_FRONT_MESSAGES, rc == UV_ENOBUFS ? 413 : 503,
                               "invalid_request_error", "invalid_request",
                               rc == UV_ENOBUFS ? "the request is too large" : "out of memory", 0);
        sl_buf_release(&out);
        sl_buf_release(&j->chat);
        free(j);
        return;
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->model, sizeof(j->model), "%.*s", (int)info.model.len, info.model.ptr);
    j->down = down;
    sl_http_exchange_on_abort(down, on_count_client_gone, j);
    if (sl_offload(gw->loop, count_work, count_done, j, NULL) != 0) {
        j->down = NULL;
        sl_http_exchange_on_abort(down, NULL, NULL);
        sl__gw_front_error(down, id, GW_FRONT_MESSAGES, 503, "server_error", "unavailable",
                           "cannot count now", 1);
        sl_buf_release(&j->chat);
        free(j);
    }
}
