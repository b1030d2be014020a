/* The Anthropic provider's glue (provider.h): a deployment with provider: anthropic. The client's
 * OpenAI chat body translated once per deployment, and what comes back
 * translated before the client sees it, so that the rest of the gateway
 * (retries, limits, the commit point, the row) works as for OpenAI.
 *
 *  - the body: sl_anthropic_request at pick time (like the model rename of
 *    an OpenAI deployment); a refusal is the client's 400, never retried;
 *  - a 2xx JSON body: sl_anthropic_response, usage from the translation;
 *  - an error body: sl_anthropic_error gives the class the retrier decides
 *    on (429 and 529 transient) and the OpenAI body a client may see;
 *  - a stream: respond.c feeds the SSE parser, whose events come here and
 *    leave translated in r->xlat (whole chunks only); the translator writes
 *    its own [DONE] at message_stop.
 * The translations are pure (src/providers/anthropic.h); this file only
 * moves bytes between them and the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_impl.h"

static int anthropic_body(struct gw_req *r)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    struct sl_xlat_refusal *why = &r->refusal;
    r->native = r->front == GW_FRONT_MESSAGES;
    if (r->native)
        return sl__gw_native_body(r);
    struct sl_anthropic_req_opts opts = {
        .model = d->upstream_model[0] ? d->upstream_model : NULL,
        .default_max_tokens = (long)d->default_max_tokens,
    };
    struct sl_anthropic_req_info info;
    struct sl_buf out;
    sl_buf_init(&out, r->gw->cfg->max_body_bytes + 64 * 1024);
    int rc = sl_anthropic_request(r->body, r->body_len, &opts, &out, &info, why);
    if (rc != 0) {
        sl_buf_release(&out);
        return rc == UV_EINVAL ? UV_EINVAL : UV_ENOMEM;
    }
    r->up_body = out.ptr; /* the buffer's bytes, owned by r from here */
    r->up_body_len = out.len;
    r->xlat_usage = info.include_usage;
    return 0;
}

static int anthropic_response(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_xlat_usage usage = {0};
    if (r->native) { /* the client's own API: only its usage is read */
        if (sl_anthropic_usage_scan(r->resp.ptr ? r->resp.ptr : "", r->resp.len, &usage) != 0)
            return UV_EINVAL;
        r->usage_prompt = (unsigned)usage.prompt;
        r->usage_completion = (unsigned)usage.completion;
        return 0;
    }
    sl_buf_init(&out, MAX_RESPONSE_BYTES);
    int rc = sl_anthropic_response(r->resp.ptr ? r->resp.ptr : "", r->resp.len, r->model_name,
                                   (long long)time(NULL), &out, &usage);
    if (rc != 0) {
        sl_buf_release(&out);
        return rc;
    }
    sl__gw_swap_resp(r, &out);
    r->usage_prompt = (unsigned)usage.prompt;
    r->usage_completion = (unsigned)usage.completion;
    return 0;
}

static enum sl_err anthropic_error(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_anthropic_error cls;
    sl_buf_init(&out, 64 * 1024);
    if (sl_anthropic_error(r->up_status, r->resp.ptr ? r->resp.ptr : "", r->resp.len, &out, &cls) !=
        0) {
        sl_buf_release(&out);
        return sl_err_from_http_status(r->up_status);
    }
    if (r->native) { /* the class only: the client reads Anthropic's own error */
        sl_buf_release(&out);
        return cls.err;
    }
    sl__gw_swap_resp(r, &out);
    r->up_status = cls.status; /* what a client shown this error sees */
    return cls.err;
}

static int anthropic_attempt(struct gw_req *r)
{
    if (r->native) {
        sl_anthropic_scan_init(&r->xs.anthropic_native);
        r->stream_err = SL_OK;
        return 0;
    }
    sl_anthropic_stream_init(&r->xs.anthropic, r->model_name, (long long)time(NULL), r->xlat_usage);
    sl_buf_reset(&r->xlat);
    r->stream_err = SL_OK;
    return 0;
}

static void anthropic_event(struct gw_req *r, const struct sl_sse_event *ev)
{
    struct sl_anthropic_stream *as = &r->xs.anthropic;
    int was_failed = as->state == SL_AS_FAILED;
    sl_anthropic_stream_event(as, ev->event, ev->event_len, ev->data, ev->data_len, &r->xlat);
    r->usage_prompt = (unsigned)as->usage.prompt;
    r->usage_completion = (unsigned)as->usage.completion;
    if (as->state == SL_AS_DONE)
        r->saw_done = 1;
    else if (as->state == SL_AS_FAILED && !was_failed)
        r->stream_err = as->err != SL_OK ? as->err : SL_E_BAD_GATEWAY;
}

void sl__gw_anthropic_native_event(struct gw_req *r, const struct sl_sse_event *ev)
{
    struct sl_anthropic_scan *s = &r->xs.anthropic_native;
    sl_anthropic_scan_event(s, ev->event, ev->event_len, ev->data, ev->data_len);
    r->usage_prompt = (unsigned)s->usage.prompt;
    r->usage_completion = (unsigned)s->usage.completion;
    if (s->state == SL_ASCAN_RUNNING)
        return;
    /* message_stop, or an error event (relayed as it came: the client
     * reads Anthropic's own error, the row its class): the client's end */
    if (s->state == SL_ASCAN_FAILED)
        r->stream_err = s->err != SL_OK ? s->err : SL_E_BAD_GATEWAY;
    r->saw_done = 1;
    r->done_at = r->sse.boundary;
}

const struct sl_gw_glue sl__gw_anthropic_glue = {
    .body = anthropic_body,
    .attempt = anthropic_attempt,
    .response = anthropic_response,
    .error = anthropic_error,
    .event = anthropic_event,
};
