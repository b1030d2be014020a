/* The client side of a gateway request: every write to the client, the
 * answers for a request that failed, and the relay of a committed stream.
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
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_impl.h"
#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"

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
static void down_respond(struct gw_req *r, int status, const char *body, size_t len, int own,
                         int retry_after_s);

void sl__gw_down_respond(struct gw_req *r, int status, const char *body, size_t len,
                         int retry_after_s)
{
    down_respond(r, status, body, len, 0, retry_after_s);
}

/* own: the body is the gateway's own OpenAI error, not an upstream's. */
static void down_respond(struct gw_req *r, int status, const char *body, size_t len, int own,
                         int retry_after_s)
{
    struct sl_http_exchange *d = down_take(r);
    if (d == NULL)
        return;
    struct sl_buf client;
    sl_buf_init(&client, MAX_RESPONSE_BYTES + 64 * 1024);
    status = sl__gw_front_json(r, status, body, len, own, &client); /* the client's API */
    if (client.len) {
        body = client.ptr;
        len = client.len;
    }
    sl_gw_metrics_status(r->gw->metrics, r->dep, status);
    r->final_status = status;
    sl__gw_respond_with(d, r->id, status, r->up_hdr, r->n_up_hdr, body, len, retry_after_s);
    sl_buf_release(&client);
}

void sl__gw_down_respond_error(struct gw_req *r, int status, const char *type, const char *code,
                               const char *message, int retry_after_s)
{
    if (r->down == NULL)
        return; /* answered already (finish() asks on every request), or the client left */
    char body[1536];
    size_t n = sl_openai_error_body(body, sizeof(body), type, code, message);
    down_respond(r, status, body, n, 1, retry_after_s);
}

/* Part of a stream to exchange d, in the client's API. */
static void stream_write_to(struct gw_req *r, struct sl_http_exchange *d, const char *data,
                            size_t len)
{
    sl__gw_bodies_stream(r, data, len); /* the body log's answer, when it is on */
    struct sl_buf *client;
    sl__gw_front_stream(r, data, len, &client);
    if (client == NULL)
        sl_http_stream_write(d, data, len);
    else if (client->len > 0)
        sl_http_stream_write(d, client->ptr, client->len);
}

/* Part of a stream. The client may turn out to be gone: then
 * on_client_gone ran inside this call and r->down is NULL. */
static void down_stream_write(struct gw_req *r, const char *data, size_t len)
{
    if (r->down != NULL && len > 0)
        stream_write_to(r, r->down, data, len);
}

/* Ends a committed stream: cleanly when type is NULL, else with one error
 * event. Nothing is written to the client after. The exchange is taken
 * first: a client found gone by this last write is not a cancel. */
void sl__gw_down_stream_end(struct gw_req *r, const char *type, const char *code,
                            const char *message)
{
    struct sl_http_exchange *d = down_take(r);
    if (d == NULL)
        return;
    if (type != NULL && r->native) { /* a native stream: the error event of the client's API */
        struct sl_buf event;
        sl_buf_init(&event, 4096);
        if (sl__gw_native_error_event(r, type, code, message, &event) == 0)
            sl_http_stream_write(d, event.ptr, event.len);
        sl_buf_release(&event);
    } else if (type != NULL) {
        char event[1200];
        size_t n = sl_openai_error_event(event, sizeof(event), type, code, message);
        stream_write_to(r, d, event, n); /* in the client's API */
    }
    sl_http_stream_end(d); /* safe on a connection that failed in the write */
}

/* ---- errors after retries ------------------------------------------------ */

static int status_for(enum sl_err e)
{
    switch (e) {
    case SL_E_RATE_LIMITED:
        return 429; /* what the client should back off on, as from the provider itself */
    case SL_E_UNAVAILABLE:
        return 503;
    case SL_E_TIMEOUT:
    case SL_E_DEADLINE:
        return 504;
    default:
        return 502;
    }
}

/* The status an error event of OpenAI type `type` stands for. */
int sl__gw_status_of_type(const char *type)
{
    return !strcmp(type, "requests") ? 429 : !strcmp(type, "server_error") ? 500 : 400;
}

/* OpenAI's error type for a status the gateway answers: clients (and the
 * official SDKs) know these; the class is in the code. */
const char *sl__gw_error_type(int status)
{
    return status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
}

/* The upstream's own words from its error body (OpenAI's shape, which the
 * other providers' error hooks made of theirs): error.message, decoded and
 * cut to fit, or "" when the body has none. */
static void upstream_message(const struct gw_req *r, char *out, size_t size)
{
    out[0] = '\0';
    struct sl_json_doc doc;
    if (r->resp.len == 0 || sl_json_scan(r->resp.ptr, r->resp.len, &doc) != 0)
        return;
    struct sl_json_value top = sl_json_value_of(r->resp.ptr, r->resp.len), k, v, err = {0};
    struct sl_json_walk w;
    if (sl_json_enter(&w, &top) != 0)
        return;
    while (sl_json_next_member(&w, &k, &v))
        if (sl_json_key_is(&k, "error"))
            err = v;
    if (err.start == NULL || sl_json_enter(&w, &err) != 0)
        return;
    while (sl_json_next_member(&w, &k, &v)) {
        if (!sl_json_key_is(&k, "message") || *v.start != '"')
            continue;
        struct sl_buf text;
        sl_buf_init(&text, 4096);
        if (sl_json_string(&v, &text) == 0 && text.len > 0)
            snprintf(out, size, "%.*s", (int)text.len, text.ptr);
        sl_buf_release(&text);
        return;
    }
}

/* Answers the client for a request that is over without a success. */
void sl__gw_respond_failure(struct gw_req *r)
{
    if (r->down == NULL)
        return;
    char msg[512];
    if (r->cancelled && r->shut_down) {
        sl__gw_down_respond_error(r, 503, "server_error", "shutting_down",
                                  "the gateway shut down before the request finished", 1);
        return;
    }
    if (r->cancelled) {
        snprintf(msg, sizeof(msg), "request %s was cancelled", r->id);
        sl__gw_down_respond_error(r, 499, "invalid_request_error", "request_cancelled", msg, 0);
        return;
    }
    if ((r->error == SL_E_BAD_REQUEST || r->error == SL_E_UNAUTHORIZED) && r->up_status &&
        r->resp.len > 0) {
        /* a permanent upstream error is the client's to see, as it was */
        sl__gw_down_respond(r, r->up_status, r->resp.ptr, r->resp.len, 0);
        return;
    }
    char upstream[300] = "", said[256];
    upstream_message(r, said, sizeof(said));
    if (r->up_status)
        snprintf(upstream, sizeof(upstream), ", HTTP %d%s%s", r->up_status, said[0] ? ": " : "",
                 said);
    if (r->error == SL_E_TOO_LARGE)
        snprintf(msg, sizeof(msg), "the upstream's response is larger than %u MiB%s",
                 MAX_RESPONSE_BYTES >> 20, upstream);
    else
        snprintf(msg, sizeof(msg), "the upstream failed after %u attempt%s: %s%s", r->attempts,
                 r->attempts == 1 ? "" : "s", sl_err_name(r->error), upstream);
    /* rate limited to the end: the last upstream Retry-After (bounded), or 1 s */
    int retry_after_s = 0;
    if (r->error == SL_E_RATE_LIMITED) {
        double s = r->retry_after_ms / 1000;
        retry_after_s = isfinite(s) && s >= 1 ? (s < 3600 ? (int)ceil(s) : 3600) : 1;
    }
    int status = status_for(r->error);
    sl__gw_down_respond_error(r, status, sl__gw_error_type(status), sl_err_name(r->error), msg,
                              retry_after_s);
}

void sl__gw_on_stream_drain(struct sl_http_exchange *down, void *data)
{
    struct gw_req *r = data;
    sl_http_stream_on_drain(down, NULL, NULL);
    if (r->paused) {
        r->paused = 0;
        sl_http_request_resume(&r->up);
    }
}

void sl__gw_on_sse_event(void *arg, const struct sl_sse_event *ev)
{
    struct gw_req *r = arg;
    if (r->saw_done)
        return;      /* events after [DONE] are not the client's */
    if (r->native) { /* relayed as it is, read for its usage and its end */
        if (r->front == GW_FRONT_MESSAGES)
            sl__gw_anthropic_native_event(r, ev);
        else
            sl__gw_responses_native_event(r, ev);
        return;
    }
    if (r->dep->glue->event) {
        r->dep->glue->event(r, ev); /* translated into r->xlat */
        return;
    }
    if (sl_openai_is_done(ev->data, ev->data_len)) {
        r->saw_done = 1;
        r->done_at = r->sse.boundary;
        if (r->strip_usage)
            sl_buf_append(&r->xlat, "data: [DONE]\n\n", 14);
        return;
    }
    /* the final chunk carries usage (OpenAI, stream_options.include_usage) */
    sl_openai_usage(ev->data, ev->data_len, &r->usage_prompt, &r->usage_completion);
    if (!r->strip_usage || sl_openai_is_usage_chunk(ev->data, ev->data_len))
        return;
    /* every other event goes to the client as it came (its data lines) */
    if (sl_buf_append(&r->xlat, "data: ", 6) != 0 ||
        sl_buf_append(&r->xlat, ev->data, ev->data_len) != 0 ||
        sl_buf_append(&r->xlat, "\n\n", 2) != 0)
        r->stream_err = SL_E_TOO_LARGE;
}

/* Relays a piece of a committed stream, whole events only (see the design
 * notes): up to the end of the last whole event, or of [DONE]; the rest is
 * held for the next piece. [DONE] ends the client's stream; an event over
 * the limit ends it with one error event. Either way the upstream is
 * dropped if it has more to say. */
static void relay_translated(struct gw_req *r, const char *data, size_t len);

void sl__gw_relay(struct gw_req *r, const char *data, size_t len)
{
    const struct sl_gw_glue *p = r->dep->glue;
    if (!r->native && (p->event || p->feed || r->strip_usage)) {
        relay_translated(r, data, len);
        return;
    }
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
        sl__gw_set_state(r, GW_STREAM_DONE);
        sl__gw_down_stream_end(r, NULL, NULL, NULL);
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
    sl__gw_down_stream_end(r, "server_error", "response_too_large", msg);
    sl_http_request_cancel(&r->up);
}

/* What a translated stream's last piece left: the client's stream ended at
 * the translator's [DONE], or after its error event, or on a piece it could
 * not take (rc: its parser's or its feed's); the upstream is dropped then.
 * Else nothing: the stream goes on. */
static void after_translated(struct gw_req *r, int rc)
{
    down_stream_write(r, r->xlat.ptr, r->xlat.len);
    sl_buf_reset(&r->xlat);
    if (r->down == NULL)
        return; /* the client is gone: on_client_gone cancelled the upstream */
    if (r->saw_done) {
        sl__gw_set_state(r, GW_STREAM_DONE);
        sl__gw_down_stream_end(r, NULL, NULL, NULL);
        return; /* on_up_body drops the upstream if it has more to say */
    }
    if (r->stream_err == SL_OK && rc > 0) { /* the feed's class: a framing error */
        r->stream_err = (enum sl_err)rc;
        sl__gw_down_stream_end(r, "server_error", sl_err_name(r->stream_err),
                               "the upstream's stream could not be decoded");
    } else if (r->stream_err == SL_E_TOO_LARGE || (r->stream_err == SL_OK && rc != 0)) {
        r->too_large = 1;
        r->stream_err = SL_E_TOO_LARGE;
        sl__gw_down_stream_end(r, "server_error", "response_too_large",
                               "an event of the upstream's stream is too large to relay");
    } else if (r->stream_err != SL_OK) {
        sl__gw_down_stream_end(r, NULL, NULL, NULL); /* after the translator's error event */
    } else {
        return;
    }
    sl_http_request_cancel(&r->up);
}

/* The same for a stream translated by its provider (provider.h): SSE
 * events through the parser to `event`, or raw bytes to `feed`; either
 * leaves whole chunks in r->xlat, written out as they come. */
static void relay_translated(struct gw_req *r, const char *data, size_t len)
{
    const struct sl_gw_glue *p = r->dep->glue;
    if (p->feed) {
        after_translated(r, p->feed(r, data, len));
        return;
    }
    int rc = sl_sse_parser_feed(&r->sse, data, len);
    /* what the parser does not keep (comments) still may not go on forever
     * without an event: the same bound as an event's */
    r->since_event = r->sse.boundary ? len - r->sse.boundary : r->since_event + len;
    if (rc == 0 && r->since_event > MAX_EVENT_BYTES)
        rc = UV_E2BIG;
    after_translated(r, rc);
}

void sl__gw_relay_end(struct gw_req *r)
{
    const struct sl_gw_glue *p = r->dep->glue;
    if (r->saw_done || r->down == NULL || p->stream_end == NULL || r->stream_err != SL_OK)
        return;
    p->stream_end(r);
    after_translated(r, 0);
}

int sl__gw_refusal_body(const struct sl_xlat_refusal *no, struct sl_buf *out)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_key(&w, "error");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "message", no->message);
    sl_jw_kv_string(&w, "type", "invalid_request_error");
    sl_jw_key(&w, "param");
    if (no->param[0])
        sl_jw_string(&w, no->param);
    else
        sl_jw_null(&w);
    sl_jw_key(&w, "code");
    sl_jw_null(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}

void sl__gw_respond_refusal(struct gw_req *r)
{
    struct sl_buf body;
    sl_buf_init(&body, 4096);
    r->error = SL_E_BAD_REQUEST;
    if (sl__gw_refusal_body(&r->refusal, &body) == 0)
        sl__gw_down_respond(r, 400, body.ptr, body.len, 0);
    else
        sl__gw_down_respond_error(r, 400, "invalid_request_error", NULL, r->refusal.message, 0);
    sl_buf_release(&body);
}

void sl__gw_swap_resp(struct gw_req *r, struct sl_buf *out)
{
    sl_buf_release(&r->resp);
    r->resp = *out;
}
