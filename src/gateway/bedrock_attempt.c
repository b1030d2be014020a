/* The Bedrock provider's glue (provider.h): a deployment with provider: bedrock,
 * the AWS Bedrock Runtime's Converse API. The client's OpenAI chat body is
 * translated once per deployment; each attempt is signed (AWS Signature
 * Version 4) and goes to /model/{modelId}/converse, or /converse-stream
 * for a stream; what comes back is translated before the client sees it.
 *
 *  - at load (provider.c, the config's part): the credentials from
 *    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
 *    (d->aws), the region from `region:` or AWS_REGION, the URL from `url:`
 *    or the region;
 *  - the body: sl_bedrock_request at pick time; a refusal is the client's
 *    400, never retried;
 *  - an attempt: the URL (the model id, encoded once, in the path), then
 *    Host, X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token (with a
 *    session token) and Authorization, signed over the translated body at
 *    the attempt's time (a retry is signed again);
 *  - a 2xx JSON body: sl_bedrock_response; an error: sl_bedrock_error with
 *    the x-amzn-ErrorType header the gateway kept (r->up_error_type);
 *  - a stream: Bedrock's binary event stream, not SSE: `feed` takes the raw
 *    bytes, cuts them into whole frames (a frame split across reads waits
 *    in r->held, bounded by MAX_EVENT_BYTES) and hands each frame to the
 *    event-stream decoder, whose verified messages go to the stream
 *    translator. Fed whole frames only, the decoder never buffers, so the
 *    per-request state in r->xs owns no memory and needs no release (r->xs
 *    is a union: after a fallback it holds another provider's state).
 * The translations are pure (src/providers/bedrock.h); this file only
 * moves bytes between them and the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_impl.h"
#include "http/url.h"
#include "providers/sigv4.h"

static int bedrock_body(struct gw_req *r)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    struct sl_bedrock_req_opts opts = {.default_max_tokens = (long)d->default_max_tokens};
    struct sl_bedrock_req_info info;
    struct sl_buf out;
    sl_buf_init(&out, r->gw->cfg->max_body_bytes + 64 * 1024);
    int rc = sl_bedrock_request(r->body, r->body_len, &opts, &out, &info, &r->refusal);
    if (rc != 0) {
        sl_buf_release(&out);
        return rc == UV_EINVAL ? UV_EINVAL : UV_ENOMEM;
    }
    r->up_body = out.ptr; /* the buffer's bytes, owned by r from here */
    r->up_body_len = out.len;
    r->xlat_usage = info.include_usage;
    return 0;
}

/* The id the client sees: Converse has none of its own. */
static void completion_id(const struct gw_req *r, char *out, size_t size)
{
    snprintf(out, size, "chatcmpl-%s", r->id);
}

/* One verified event-stream message: translated into r->xlat. */
static int on_message(void *arg, const struct sl_es_message *m)
{
    struct gw_req *r = arg;
    struct sl_bedrock_stream *s = &r->xs.bedrock.s;
    int was_failed = s->state == SL_BS_FAILED;
    sl_bedrock_stream_message(s, m, &r->xlat);
    r->usage_prompt = (unsigned)s->usage.prompt;
    r->usage_completion = (unsigned)s->usage.completion;
    if (s->state == SL_BS_DONE)
        r->saw_done = 1;
    else if (s->state == SL_BS_FAILED && !was_failed)
        r->stream_err = s->err != SL_OK ? s->err : SL_E_BAD_GATEWAY;
    return 0;
}

/* The Host header as the base URL names it (the port when not the
 * scheme's). */
static int host_of(const char *base, char *out, size_t size)
{
    struct sl_url u;
    if (sl_url_parse(base, &u) != NULL)
        return -1;
    unsigned dflt = u.scheme == SL_URL_HTTPS ? 443 : 80;
    int n = u.port_given && u.port != dflt
                ? snprintf(out, size, "%s%.*s%s:%u", u.ipv6 ? "[" : "", (int)u.host_len, u.host,
                           u.ipv6 ? "]" : "", u.port)
                : snprintf(out, size, "%s%.*s%s", u.ipv6 ? "[" : "", (int)u.host_len, u.host,
                           u.ipv6 ? "]" : "");
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static void add_header(struct gw_req *r, const char *name, const char *value)
{
    r->up_headers[r->n_up_headers++] =
        (struct sl_http_header){{name, strlen(name)}, {value, strlen(value)}};
}

/* Signs this attempt: the URL, then the headers SigV4 wants. */
static int sign(struct gw_req *r)
{
    static _Thread_local struct sl_sigv4_key_cache cache; /* one signing key a day */
    const struct sl_gw_deployment *d = r->dep->cfg;
    const char *model = d->upstream_model[0] ? d->upstream_model : r->model_name;
    struct sl_buf url;
    size_t path_at;
    sl_buf_init(&url, 4096);
    if (sl_gw_target_url_bedrock(d->url, model, r->stream, &url, &path_at) != 0 ||
        host_of(d->url, r->xs.bedrock.host, sizeof(r->xs.bedrock.host)) != 0) {
        sl_buf_release(&url);
        return -1;
    }
    struct sl_sigv4_header ct = {"content-type", "application/json"};
    struct sl_sigv4_creds creds = sl_sigv4_env_creds(&d->aws);
    struct sl_sigv4_request req = {
        .method = "POST",
        .host = r->xs.bedrock.host,
        .path = url.ptr + path_at,
        .headers = &ct,
        .n_headers = 1,
        .payload = r->up_body,
        .payload_len = r->up_body_len,
        .region = d->region,
        .service = SL_BEDROCK_SERVICE,
        .time = time(NULL),
        .sign_content_sha256 = 1,
    };
    struct sl_sigv4_signed out;
    const char *why;
    int rc = sl_sigv4_sign(&req, &creds, &cache, &out, NULL, NULL, &why);
    if (rc == 0 && out.authorization.len < sizeof(r->xs.bedrock.authorization)) {
        memcpy(r->xs.bedrock.amz_date, out.amz_date, sizeof(out.amz_date));
        memcpy(r->xs.bedrock.payload_sha256, out.payload_sha256, sizeof(out.payload_sha256));
        memcpy(r->xs.bedrock.authorization, out.authorization.ptr, out.authorization.len + 1);
    } else {
        rc = -1;
    }
    sl_sigv4_signed_release(&out);
    if (rc == 0 && (r->up_url = strdup(url.ptr)) == NULL)
        rc = -1;
    sl_buf_release(&url);
    return rc;
}

static int bedrock_attempt(struct gw_req *r)
{
    char id[64];
    completion_id(r, id, sizeof(id));
    sl_bedrock_stream_init(&r->xs.bedrock.s, id, r->model_name, (long long)time(NULL),
                           r->xlat_usage);
    sl_es_decoder_init(&r->xs.bedrock.dec, MAX_EVENT_BYTES, on_message, r);
    sl_buf_reset(&r->xlat);
    r->stream_err = SL_OK;
    if (r->n_up_headers + 5 > SL_GW_UP_HEADERS || sign(r) != 0)
        return SL_E_UNAUTHORIZED; /* cannot be signed: not worth a retry here */
    static const char es[] = "application/vnd.amazon.eventstream";
    for (size_t i = 0; i < r->n_up_headers; i++) /* the stream is not SSE */
        if (sl_str_ieq(r->up_headers[i].name, "accept"))
            r->up_headers[i].value = (struct sl_str){es, sizeof(es) - 1};
    add_header(r, "Host", r->xs.bedrock.host);
    add_header(r, "X-Amz-Date", r->xs.bedrock.amz_date);
    add_header(r, "X-Amz-Content-Sha256", r->xs.bedrock.payload_sha256);
    if (r->dep->cfg->aws.session_token)
        add_header(r, "X-Amz-Security-Token", r->dep->cfg->aws.session_token);
    add_header(r, "Authorization", r->xs.bedrock.authorization);
    return 0;
}

static int bedrock_response(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_xlat_usage usage = {0};
    char id[64];
    completion_id(r, id, sizeof(id));
    sl_buf_init(&out, MAX_RESPONSE_BYTES);
    int rc = sl_bedrock_response(r->resp.ptr ? r->resp.ptr : "", r->resp.len, id, r->model_name,
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

static enum sl_err bedrock_error(struct gw_req *r)
{
    struct sl_buf out;
    struct sl_bedrock_error cls;
    sl_buf_init(&out, 64 * 1024);
    const char *type = r->up_error_type[0] ? r->up_error_type : NULL;
    if (sl_bedrock_error(r->up_status, type, type ? strlen(type) : 0,
                         r->resp.ptr ? r->resp.ptr : "", r->resp.len, &out, &cls) != 0) {
        sl_buf_release(&out);
        return sl_err_from_http_status(r->up_status);
    }
    sl__gw_swap_resp(r, &out);
    r->up_status = cls.status; /* what a client shown this error sees */
    return cls.err;
}

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Decodes the whole frames at the start of p: returns the bytes used
 * (*rc 0), or sets *rc to a class (a frame the decoder refuses, a length
 * that cannot be). */
static size_t whole_frames(struct gw_req *r, const char *p, size_t len, int *rc)
{
    size_t at = 0;
    *rc = 0;
    while (len - at >= SL_ES_PRELUDE_LEN && !r->saw_done && r->stream_err == SL_OK) {
        uint32_t total = be32(p + at);
        if (total < SL_ES_MIN_FRAME || total > MAX_EVENT_BYTES) {
            *rc = total > MAX_EVENT_BYTES ? SL_E_TOO_LARGE : SL_E_BAD_GATEWAY;
            return at;
        }
        if (len - at < total)
            break;
        if (sl_es_decoder_feed(&r->xs.bedrock.dec, p + at, total) != 0) {
            *rc = SL_E_BAD_GATEWAY; /* a CRC or a header that does not check */
            return at;
        }
        at += total;
    }
    return at;
}

static int bedrock_feed(struct gw_req *r, const char *data, size_t len)
{
    int rc;
    if (r->saw_done || r->stream_err != SL_OK)
        return 0;          /* the client's stream is over: the rest is not read */
    if (r->held.len > 0) { /* the rest of a frame begun in an earlier read */
        size_t need = SL_ES_PRELUDE_LEN;
        if (r->held.len >= SL_ES_PRELUDE_LEN)
            need = be32(r->held.ptr);
        size_t take = need > r->held.len ? need - r->held.len : 0;
        if (take > len)
            take = len;
        if (sl_buf_append(&r->held, data, take) != 0)
            return SL_E_TOO_LARGE;
        data += take;
        len -= take;
        size_t used = whole_frames(r, r->held.ptr, r->held.len, &rc);
        if (rc)
            return rc;
        if (used == 0 && len == 0)
            return 0;  /* still a part of a frame */
        if (used == 0) /* only its prelude was here: once more with its length */
            return bedrock_feed(r, data, len);
        sl_buf_reset(&r->held);
    }
    size_t used = whole_frames(r, data, len, &rc);
    if (rc)
        return rc;
    if (used < len && !r->saw_done && r->stream_err == SL_OK &&
        sl_buf_append(&r->held, data + used, len - used) != 0)
        return SL_E_TOO_LARGE;
    return 0;
}

static int bedrock_stream_end(struct gw_req *r)
{
    if (r->held.len > 0)
        return 0; /* ended inside a frame: a cut stream */
    struct sl_bedrock_stream *s = &r->xs.bedrock.s;
    int rc = sl_bedrock_stream_end(s, &r->xlat);
    if (s->state == SL_BS_DONE)
        r->saw_done = 1; /* messageStop came, its metadata did not */
    else if (rc == UV_ENOBUFS || rc == UV_ENOMEM)
        r->stream_err = SL_E_TOO_LARGE;
    return 0;
}

const struct sl_gw_glue sl__gw_bedrock_glue = {
    .body = bedrock_body,
    .attempt = bedrock_attempt,
    .response = bedrock_response,
    .error = bedrock_error,
    .feed = bedrock_feed,
    .stream_end = bedrock_stream_end,
};
