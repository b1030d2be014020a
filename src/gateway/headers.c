/* Headers that pass through the gateway besides its own (gateway_impl.h):
 *
 *  - back to the client: the upstream's x-ratelimit-* headers (OpenAI's,
 *    Azure's, Groq's... Anthropic's anthropic-ratelimit-* too) and its
 *    request id as x-upstream-request-id, from the attempt that answered,
 *    so a client sees its provider's budget and can quote the provider's
 *    id in a support ticket. Bounded: SL_GW_FWD_HEADERS headers in a fixed
 *    buffer; what does not fit is dropped, never truncated.
 *  - to the upstream: the client's W3C trace context (traceparent, checked
 *    against the spec's format, and tracestate, bounded and free of
 *    control bytes), so a provider's traces join the client's.
 *  - a deployment with `api_key: client` sends the client's own key in its
 *    provider's key header; `forward_headers` copies the named headers of
 *    the client's request (the gateway's own and the framing ones are
 *    refused at load).
 *  - the client's x-request-id, if it sends one, becomes the request's id
 *    (the row's, the log's, the cancel endpoint's): it must be 1 to 39
 *    bytes of [A-Za-z0-9._:-] and not the id of a request in flight. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/gateway_impl.h"

/* The upstream's request id headers, by provider: OpenAI and Azure,
 * Anthropic, Bedrock, Google. */
static const char *const request_id_names[] = {"x-request-id", "request-id", "x-amzn-requestid",
                                               "x-goog-request-id"};

static int starts_with_ci(struct sl_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len > n && strncasecmp(s.ptr, prefix, n) == 0;
}

/* Copies name and value into r->up_hdr_buf and adds the header. */
static void keep(struct gw_req *r, size_t *used, const char *name, size_t name_len,
                 struct sl_str value)
{
    if (r->n_up_hdr == SL_GW_FWD_HEADERS || *used + name_len + value.len > sizeof(r->up_hdr_buf))
        return;
    char *p = r->up_hdr_buf + *used;
    memcpy(p, name, name_len);
    memcpy(p + name_len, value.ptr, value.len);
    r->up_hdr[r->n_up_hdr++] = (struct sl_http_header){{p, name_len}, {p + name_len, value.len}};
    *used += name_len + value.len;
}

void sl__gw_keep_upstream_headers(struct gw_req *r, const struct sl_http_header *h, size_t n)
{
    size_t used = 0;
    int have_id = 0;
    r->n_up_hdr = 0;
    for (size_t i = 0; i < n; i++) {
        if (starts_with_ci(h[i].name, "x-ratelimit-") ||
            starts_with_ci(h[i].name, "anthropic-ratelimit-")) {
            keep(r, &used, h[i].name.ptr, h[i].name.len, h[i].value);
            continue;
        }
        for (size_t k = 0; k < sizeof(request_id_names) / sizeof(*request_id_names); k++)
            if (!have_id && sl_str_ieq(h[i].name, request_id_names[k])) {
                keep(r, &used, "x-upstream-request-id", 21, h[i].value);
                have_id = 1;
            }
    }
}

/* traceparent: version "00" (or a later one, which has the same first four
 * fields), 32 hex trace id, 16 hex parent id, 2 hex flags, not all zero. */
static int traceparent_ok(struct sl_str v)
{
    static const char form[] = "xx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx-xx";
    if (v.len != sizeof(form) - 1 || (v.ptr[0] == 'f' && v.ptr[1] == 'f'))
        return 0;
    for (size_t i = 0; i < v.len; i++) {
        int c = (unsigned char)v.ptr[i];
        if (form[i] == '-' ? c != '-' : !(isdigit(c) || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return strspn(v.ptr + 3, "0") < 32 && strspn(v.ptr + 36, "0") < 16;
}

void sl__gw_keep_trace(struct gw_req *r, const struct sl_http_head *h)
{
    r->traceparent[0] = r->tracestate[0] = '\0';
    const struct sl_str *tp = sl_http_header_get(h->headers, h->nheaders, "traceparent");
    if (tp == NULL || !traceparent_ok(*tp))
        return; /* a malformed one is dropped, as the spec says */
    snprintf(r->traceparent, sizeof(r->traceparent), "%.*s", (int)tp->len, tp->ptr);
    const struct sl_str *ts = sl_http_header_get(h->headers, h->nheaders, "tracestate");
    if (ts == NULL || ts->len >= sizeof(r->tracestate))
        return;
    for (size_t i = 0; i < ts->len; i++)
        if ((unsigned char)ts->ptr[i] < 0x20 || ts->ptr[i] == 0x7f)
            return;
    snprintf(r->tracestate, sizeof(r->tracestate), "%.*s", (int)ts->len, ts->ptr);
}

size_t sl__gw_add_trace(const struct gw_req *r, struct sl_http_header *out, size_t room)
{
    size_t n = 0;
    if (r->traceparent[0] && n < room)
        out[n++] =
            (struct sl_http_header){{"traceparent", 11}, {r->traceparent, strlen(r->traceparent)}};
    if (r->traceparent[0] && r->tracestate[0] && n < room)
        out[n++] =
            (struct sl_http_header){{"tracestate", 10}, {r->tracestate, strlen(r->tracestate)}};
    return n;
}

int sl__gw_client_id(struct sl_gateway *gw, const struct sl_http_head *h, char *id, size_t size,
                     const char **why)
{
    const struct sl_str *v = sl_http_header_get(h->headers, h->nheaders, "x-request-id");
    if (v == NULL)
        return 0;
    if (v->len == 0 || v->len >= size || v->len > 39) {
        *why = "x-request-id must be 1 to 39 characters";
        return -1;
    }
    for (size_t i = 0; i < v->len; i++) {
        int c = (unsigned char)v->ptr[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-')) {
            *why = "x-request-id may hold only letters, digits and . _ : -";
            return -1;
        }
    }
    for (struct sl_list *n = gw->reqs.next; n != &gw->reqs; n = n->next) {
        const struct gw_req *r = sl_container_of(n, struct gw_req, node);
        if (strlen(r->id) == v->len && memcmp(r->id, v->ptr, v->len) == 0) {
            *why = "a request with this x-request-id is in flight";
            return -2;
        }
    }
    memcpy(id, v->ptr, v->len);
    id[v->len] = '\0';
    return 1;
}

int sl__gw_client_key(const struct sl_http_head *h, int gateway_auth, char *out, size_t size)
{
    out[0] = '\0';
    const struct sl_str *v = sl_http_header_get(h->headers, h->nheaders, "x-upstream-api-key");
    struct sl_str key = v ? *v : (struct sl_str){NULL, 0};
    if (v == NULL && !gateway_auth) {
        const struct sl_str *a = sl_http_header_get(h->headers, h->nheaders, "authorization");
        const struct sl_str *x = sl_http_header_get(h->headers, h->nheaders, "x-api-key");
        if (a && a->len > 7 && strncasecmp(a->ptr, "Bearer ", 7) == 0)
            key = (struct sl_str){a->ptr + 7, a->len - 7};
        else if (x)
            key = *x;
    }
    while (key.len && key.ptr[0] == ' ')
        key = (struct sl_str){key.ptr + 1, key.len - 1};
    if (key.len == 0 || key.len >= size)
        return -1;
    for (size_t i = 0; i < key.len; i++)
        if ((unsigned char)key.ptr[i] < 0x21 || key.ptr[i] == 0x7f)
            return -1; /* it goes into a header */
    memcpy(out, key.ptr, key.len);
    out[key.len] = '\0';
    return 0;
}

size_t sl__gw_add_client_headers(struct gw_req *r, struct sl_http_header *out, size_t room)
{
    const struct sl_gw_deployment *d = r->dep->cfg;
    size_t n = 0;
    if (d->client_key && r->client_key[0] && d->target.key_name && n < room) {
        int k = snprintf(r->client_key_hdr, sizeof(r->client_key_hdr), "%s%s", d->target.key_prefix,
                         r->client_key);
        out[n++] = (struct sl_http_header){{d->target.key_name, strlen(d->target.key_name)},
                                           {r->client_key_hdr, (size_t)k}};
    }
    if (d->forward_headers[0] == '\0' || r->down == NULL)
        return n;
    const struct sl_http_head *h = sl_http_exchange_head(r->down);
    for (const char *p = d->forward_headers; *p && n < room;) {
        size_t len = strcspn(p, ",");
        for (size_t i = 0; i < h->nheaders; i++)
            if (h->headers[i].name.len == len && strncasecmp(h->headers[i].name.ptr, p, len) == 0 &&
                n < room)
                out[n++] = h->headers[i];
        p += len + (p[len] == ',');
    }
    return n;
}
