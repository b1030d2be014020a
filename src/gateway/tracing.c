/* The gateway's side of tracing (otel/exporter.h, docs/otel.md): whether
 * a request is traced, the ids of its spans, its attempts' times, and at
 * its end one trace record for the exporter.
 *
 * Sampling is parent-based: a client's traceparent decides (its sampled
 * flag), and its trace goes on (the request's span is the child of the
 * client's); without one, `otel.sample` is the share traced, in a new
 * trace. A traced request's upstream attempts each carry a traceparent
 * naming their own span, so a provider's trace joins under the attempt
 * that called it; an untraced one passes the client's traceparent as it
 * came (headers.c). Everything here runs on the loop and allocates
 * nothing: the record is built in place and copied into the exporter's
 * queue. */
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_impl.h"
#include "http/url.h"

static void random_id(struct gw_req *r, uint8_t *out, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t x = sl_rng_next(&r->rng);
            for (size_t k = 0; k < 8 && i + k < n; k++, x >>= 8)
                out[i + k] = (uint8_t)x;
        }
    } while (out[0] == 0 && out[n - 1] == 0); /* an all-zero id is invalid; close enough */
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void from_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hex_val(s[2 * i]) << 4 | hex_val(s[2 * i + 1]));
}

static void to_hex(const uint8_t *id, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
}

void sl__gw_trace_begin(struct gw_req *r)
{
    struct gw_trace *t = &r->trace;
    t->sampled = 0;
    t->n = 0;
    if (r->gw->otel == NULL)
        return;
    /* headers.c kept only a well-formed traceparent: VV-TRACE32-PARENT16-FF */
    const char *tp = r->traceparent;
    if (tp[0]) {
        t->sampled = hex_val(tp[54]) & 1;
        if (t->sampled) {
            from_hex(tp + 3, t->trace_id, 16);
            from_hex(tp + 36, t->parent_id, 8);
            t->has_parent = 1;
        }
    } else {
        t->sampled = sl_rng_uniform(&r->rng) < r->gw->cfg->otel.sample;
        if (t->sampled) {
            random_id(r, t->trace_id, 16);
            t->has_parent = 0;
        }
    }
    if (t->sampled)
        random_id(r, t->span_id, 8);
}

void sl__gw_trace_attempt(struct gw_req *r)
{
    /* every request keeps its first attempts (the row's "tries" when
     * there were several); only a traced one names them */
    struct gw_trace *t = &r->trace;
    if (t->n == SL_OTEL_MAX_ATTEMPTS)
        return;
    struct gw_trace_attempt *a = &t->a[t->n++];
    a->start_ns = uv_hrtime();
    a->end_ns = 0;
    a->status = 0;
    a->err = SL_OK;
    a->dep = r->dep;
    if (!t->sampled)
        return;
    random_id(r, a->id, 8);
    /* the upstream's parent: this attempt's span */
    char *p = r->traceparent;
    memcpy(p, "00-", 3);
    to_hex(t->trace_id, 16, p + 3);
    p[35] = '-';
    to_hex(a->id, 8, p + 36);
    memcpy(p + 52, "-01", 4);
}

void sl__gw_trace_attempt_end(struct gw_req *r, enum sl_err err)
{
    struct gw_trace *t = &r->trace;
    if (t->n == 0 || t->a[t->n - 1].end_ns)
        return;
    struct gw_trace_attempt *a = &t->a[t->n - 1];
    a->end_ns = uv_hrtime();
    a->status = r->up_status;
    a->err = err;
}

static const char *provider_name(const struct sl_gw_provider *p)
{
    /* OpenTelemetry's gen_ai.provider.name values */
    return p == &sl_gw_provider_azure       ? "azure.ai.openai"
           : p == &sl_gw_provider_anthropic ? "anthropic"
           : p == &sl_gw_provider_gemini    ? "gcp.gemini"
           : p == &sl_gw_provider_bedrock   ? "aws.bedrock"
                                            : "openai";
}

static void server_of(const struct sl_gw_deployment *d, char *host, size_t size, int *port)
{
    struct sl_url u;
    const char *url = d->target.url[SL_OAI_CHAT][0] ? d->target.url[SL_OAI_CHAT] : d->url;
    host[0] = '\0';
    *port = 0;
    if (sl_url_parse(url, &u) == NULL) {
        snprintf(host, size, "%.*s", (int)u.host_len, u.host);
        *port = (int)u.port;
    }
}

void sl__gw_trace_finish(struct gw_req *r, const struct sl_gw_log_row *row)
{
    struct gw_trace *t = &r->trace;
    if (!t->sampled)
        return;
    static _Thread_local struct sl_otel_trace rec; /* copied into the queue */
    memset(&rec, 0, offsetof(struct sl_otel_trace, attempt));
    int64_t wall0 = r->started_us * 1000;
#define WALL(mono) (wall0 + (int64_t)((mono)-r->t0_ns))
    memcpy(rec.trace_id, t->trace_id, 16);
    memcpy(rec.span_id, t->span_id, 8);
    memcpy(rec.parent_id, t->parent_id, 8);
    rec.has_parent = t->has_parent;
    rec.start_ns = wall0;
    rec.end_ns = WALL(uv_hrtime());
    rec.queue_ns = (int64_t)r->queue_ns;
    snprintf(rec.request_id, sizeof(rec.request_id), "%s", r->id);
    snprintf(rec.operation, sizeof(rec.operation), "%s",
             r->ep == SL_OAI_EMBEDDINGS    ? "embeddings"
             : r->ep == SL_OAI_COMPLETIONS ? "text_completion"
                                           : "chat");
    snprintf(rec.route, sizeof(rec.route), "%s",
             r->front == GW_FRONT_MESSAGES    ? "/v1/messages"
             : r->front == GW_FRONT_RESPONSES ? "/v1/responses"
                                              : sl_openai_path(r->ep));
    snprintf(rec.model, sizeof(rec.model), "%s", row->model);
    snprintf(rec.key, sizeof(rec.key), "%s", row->key);
    snprintf(rec.deployment, sizeof(rec.deployment), "%s", row->deployment);
    if (r->dep)
        snprintf(rec.provider, sizeof(rec.provider), "%s", provider_name(r->dep->cfg->provider));
    if (row->error != SL_OK && row->error != SL_E_CANCELLED)
        snprintf(rec.error, sizeof(rec.error), "%s", sl_err_name(row->error));
    rec.status = row->status;
    rec.stream = row->stream;
    rec.cancelled = row->outcome == SL_GW_CANCELLED;
    rec.max_tokens = r->max_tokens;
    rec.input_tokens = row->prompt_tokens;
    rec.output_tokens = row->completion_tokens;
    rec.attempts = row->attempts;
    rec.fallbacks = row->fallbacks;
    rec.ttfb_ms = row->ttfb_ms;
    rec.nattempts = t->n;
    for (unsigned i = 0; i < t->n; i++) {
        const struct gw_trace_attempt *a = &t->a[i];
        struct sl_otel_attempt *o = &rec.attempt[i];
        memcpy(o->span_id, a->id, 8);
        o->start_ns = WALL(a->start_ns);
        o->end_ns = WALL(a->end_ns ? a->end_ns : uv_hrtime());
        o->status = a->status;
        o->error[0] = '\0';
        if (a->err != SL_OK)
            snprintf(o->error, sizeof(o->error), "%s", sl_err_name(a->err));
        snprintf(o->deployment, sizeof(o->deployment), "%s", a->dep->cfg->name);
        snprintf(o->provider, sizeof(o->provider), "%s", provider_name(a->dep->cfg->provider));
        server_of(a->dep->cfg, o->server, sizeof(o->server), &o->port);
    }
#undef WALL
    sl_otel_submit(r->gw->otel, &rec);
}

void sl__gw_trace_render_metrics(struct sl_gateway *gw, struct sl_buf *out)
{
    struct sl_otel_stats st;
    sl_otel_stats(gw->otel, &st);
    static const struct {
        const char *name, *help;
    } m[] = {
        {"sluice_otel_traces_exported_total", "Traced requests the collector took."},
        {"sluice_otel_spans_exported_total", "Spans the collector took."},
        {"sluice_otel_traces_dropped_total", "Traced requests dropped: the export queue was full."},
        {"sluice_otel_traces_failed_total",
         "Traced requests in exports the collector refused or never answered."},
    };
    const uint64_t v[] = {st.traces, st.spans, st.dropped, st.failed};
    for (size_t i = 0; i < sizeof(m) / sizeof(*m); i++) {
        sl_prom_help(out, m[i].name, "counter", m[i].help);
        sl_prom_value(out, m[i].name, "", (double)v[i]);
    }
}

const char *sl__gw_tries_json(struct gw_req *r, char *out, size_t size)
{
    const struct gw_trace *t = &r->trace;
    if (t->n < 2 || size < 8)
        return NULL; /* one attempt: the row's own fields say it all */
    size_t k = 0;
    out[k++] = '[';
    for (unsigned i = 0; i < t->n; i++) {
        const struct gw_trace_attempt *a = &t->a[i];
        char dep[140];
        sl_json_escape(dep, sizeof(dep), a->dep->cfg->name);
        uint64_t end = a->end_ns ? a->end_ns : uv_hrtime();
        int n =
            snprintf(out + k, size - k, "%s[\"%s\",%d,\"%s\",%.3f]", i ? "," : "", dep, a->status,
                     a->err == SL_OK ? "" : sl_err_name(a->err), (double)(end - a->start_ns) / 1e6);
        if (n < 0 || (size_t)n >= size - k - 1)
            break; /* the attempts that fit */
        k += (size_t)n;
    }
    out[k++] = ']';
    out[k] = '\0';
    return out;
}
