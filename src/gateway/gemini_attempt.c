/* The Gemini provider's glue (provider.h): a deployment with provider: gemini,
 * Google's Gemini API. The model is in the URL, not the body:
 * BASE/models/{model}:generateContent, :streamGenerateContent?alt=sse for
 * a stream, :batchEmbedContents for embeddings, where BASE is the
 * deployment's url (https://generativelanguage.googleapis.com/v1beta by
 * default; a url without a path gets /v1beta) and the model the
 * deployment's `model:`, else the client's model name.
 *
 *  - the target (at load, provider.c): the key in x-goog-api-key; with a
 *    `model:`, the JSON and embeddings URLs are made once; otherwise (and
 *    for a stream) attempt makes the attempt's URL (r->up_url);
 *  - the body: sl_gemini_request / sl_gemini_embed_request at pick time; a
 *    refusal (or a client model name that cannot go in a URL) is the
 *    client's 400, never retried;
 *  - a 2xx JSON body: sl_gemini_response (or the embeddings list), usage
 *    from the translation;
 *  - an error body: sl_gemini_error gives the class (429 RESOURCE_EXHAUSTED
 *    rate limited; 500, 503, 504 transient) and the OpenAI body; a
 *    RetryInfo delay stands in for the Retry-After Gemini does not send;
 *  - a stream: each SSE event through the translator into r->xlat; Gemini
 *    has no end marker, so stream_end writes the usage chunk and [DONE]
 *    when the body ended after a finishReason (else it was cut).
 * The translations are pure (src/providers/gemini.h); this file only moves
 * bytes between them and the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_impl.h"

/* The model in the URL: the deployment's, else the client's. */
static const char *upstream_model(const struct gw_req *r)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    return d->upstream_model[0] ? d->upstream_model : r->model_name;
}

static int gemini_body(struct gw_req *r)
{
    const char *model = upstream_model(r);
    char path[256];
    if (sl_gemini_path(path, sizeof(path), model, SL_GEMINI_GENERATE) < 0) {
        snprintf(r->refusal.param, sizeof(r->refusal.param), "model");
        snprintf(r->refusal.message, sizeof(r->refusal.message),
                 "'%.64s' cannot be a Gemini model name (letters, digits, '.', '_', '-')", model);
        return UV_EINVAL;
    }
    struct sl_buf out;
    sl_buf_init(&out, r->gw->cfg->max_body_bytes + 64 * 1024);
    int rc;
    if (r->ep == SL_OAI_EMBEDDINGS) {
        size_t n;
        rc = sl_gemini_embed_request(r->body, r->body_len, model, &out, &n, &r->refusal);
    } else {
        struct sl_gemini_req_info info;
        rc = sl_gemini_request(r->body, r->body_len, &out, &info, &r->refusal);
        r->xlat_usage = info.include_usage;
    }
    if (rc != 0) {
        sl_buf_release(&out);
        return rc == UV_EINVAL ? UV_EINVAL : UV_ENOMEM;
    }
    r->up_body = out.ptr; /* the buffer's bytes, owned by r from here */
    r->up_body_len = out.len;
    return 0;
}

static int gemini_attempt(struct gw_req *r)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    sl_gemini_stream_init(&r->xs.gemini, r->model_name, (long long)time(NULL), r->xlat_usage);
    sl_buf_reset(&r->xlat);
    r->stream_err = SL_OK;
    if (!r->stream && d->upstream_model[0])
        return 0; /* the target's URL, made at load */
    char url[SL_GW_BASE_URL_SIZE + 256];
    enum sl_gemini_method m = r->ep == SL_OAI_EMBEDDINGS ? SL_GEMINI_EMBED_BATCH
                              : r->stream                ? SL_GEMINI_STREAM
                                                         : SL_GEMINI_GENERATE;
    if (sl_gemini_url(url, sizeof(url), d->url, upstream_model(r), m) != 0 ||
        (r->up_url = strdup(url)) == NULL)
        return SL_E_UNAVAILABLE; /* the name was checked in body: out of memory */
    return 0;
}

static int gemini_response(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_xlat_usage usage = {0};
    sl_buf_init(&out, MAX_RESPONSE_BYTES);
    const char *body = r->resp.ptr ? r->resp.ptr : "";
    int rc = r->ep == SL_OAI_EMBEDDINGS
                 ? sl_gemini_embed_response(body, r->resp.len, r->model_name, &out)
                 : sl_gemini_response(body, r->resp.len, r->model_name, (long long)time(NULL), &out,
                                      &usage);
    if (rc != 0) {
        sl_buf_release(&out);
        return rc;
    }
    sl__gw_swap_resp(r, &out);
    r->usage_prompt = (unsigned)usage.prompt;
    r->usage_completion = (unsigned)usage.completion;
    return 0;
}

static enum sl_err gemini_error(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_gemini_error cls;
    sl_buf_init(&out, 64 * 1024);
    if (sl_gemini_error(r->up_status, r->resp.ptr ? r->resp.ptr : "", r->resp.len, &out, &cls) !=
        0) {
        sl_buf_release(&out);
        return sl_err_from_http_status(r->up_status);
    }
    sl__gw_swap_resp(r, &out);
    r->up_status = cls.status; /* what a client shown this error sees */
    if (r->retry_after_ms < 0 && cls.retry_after_s > 0)
        r->retry_after_ms = (double)cls.retry_after_s * 1000;
    return cls.err;
}

/* What the translator's state means to the request, after an event or the end. */
static void follow(struct gw_req *r, int was_failed)
{
    struct sl_gemini_stream *gs = &r->xs.gemini;
    r->usage_prompt = (unsigned)gs->usage.prompt;
    r->usage_completion = (unsigned)gs->usage.completion;
    if (gs->state == SL_GS_DONE)
        r->saw_done = 1;
    else if (gs->state == SL_GS_FAILED && !was_failed)
        r->stream_err = gs->err != SL_OK ? gs->err : SL_E_BAD_GATEWAY;
}

static void gemini_event(struct gw_req *r, const struct sl_sse_event *ev)
{
    int was_failed = r->xs.gemini.state == SL_GS_FAILED;
    sl_gemini_stream_event(&r->xs.gemini, ev->data, ev->data_len, &r->xlat);
    follow(r, was_failed);
}

static int gemini_stream_end(struct gw_req *r)
{
    int was_failed = r->xs.gemini.state == SL_GS_FAILED;
    int rc = sl_gemini_stream_end(&r->xs.gemini, &r->xlat);
    follow(r, was_failed);
    return rc;
}

const struct sl_gw_glue sl__gw_gemini_glue = {
    .body = gemini_body,
    .attempt = gemini_attempt,
    .response = gemini_response,
    .error = gemini_error,
    .event = gemini_event,
    .stream_end = gemini_stream_end,
};
