#include "gateway/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double sl_prom_bounds[SL_PROM_NBUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void sl_prom_observe(struct sl_prom_hist *h, double seconds)
{
    int i = 0;
    while (i < SL_PROM_NBUCKETS - 1 && seconds > sl_prom_bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}

static void appendf(struct sl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(struct sl_buf *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        sl_buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void sl_prom_help(struct sl_buf *out, const char *name, const char *type, const char *help)
{
    appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sl_prom_value(struct sl_buf *out, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        appendf(out, "%s{%s} %.17g\n", name, labels, value);
    else
        appendf(out, "%s %.17g\n", name, value);
}

void sl_prom_buckets_write(struct sl_buf *out, const char *name, const char *labels,
                           const double *bounds, size_t nbounds, const uint64_t *buckets,
                           uint64_t count, double sum)
{
    const char *sep = labels && *labels ? "," : "";
    uint64_t acc = 0;
    for (size_t i = 0; i <= nbounds; i++) {
        acc += buckets[i];
        if (i < nbounds)
            appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels ? labels : "", sep,
                    bounds[i], (unsigned long long)acc);
        else
            appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels ? labels : "", sep,
                    (unsigned long long)acc);
    }
    if (labels && *labels) {
        appendf(out, "%s_sum{%s} %.9g\n", name, labels, sum);
        appendf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
    } else {
        appendf(out, "%s_sum %.9g\n", name, sum);
        appendf(out, "%s_count %llu\n", name, (unsigned long long)count);
    }
}

void sl_prom_hist_write(struct sl_buf *out, const char *name, const char *labels,
                        const struct sl_prom_hist *h)
{
    sl_prom_buckets_write(out, name, labels, sl_prom_bounds, SL_PROM_NBUCKETS - 1, h->buckets,
                          h->count, h->sum);
}

void sl_prom_escape(char *dst, size_t size, const char *value)
{
    size_t n = 0;
    for (; *value && n + 3 < size; value++) {
        if (*value == '\\' || *value == '"') {
            dst[n++] = '\\';
            dst[n++] = *value;
        } else if (*value == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else {
            dst[n++] = *value;
        }
    }
    dst[n] = '\0';
}

/* ---- the gateway's counters ---------------------------------------------- */

struct dep_metrics {
    uint64_t status[600];
    uint64_t retries, attempts, resent;
    struct sl_prom_hist queue_wait, upstream_latency;
};

struct model_metrics {
    struct sl_prom_hist ttft;
    uint64_t fallbacks;
};

/* A stage's histogram: 1 µs to 1 s in 1-2-5 steps, then +Inf. */
#define STAGE_NBOUNDS 19
static const uint64_t stage_bounds_ns[STAGE_NBOUNDS] = {
    1000,     2000,      5000,      10000,     20000,     50000,    100000,
    200000,   500000,    1000000,   2000000,   5000000,   10000000, 20000000,
    50000000, 100000000, 200000000, 500000000, 1000000000};
static const char *const stage_names[SL_GW_STAGE__COUNT] = {
    [SL_GW_STAGE_PARSE] = "parse",       [SL_GW_STAGE_ADMISSION] = "admission",
    [SL_GW_STAGE_UPSTREAM] = "upstream", [SL_GW_STAGE_FIRST_BYTE] = "first_byte",
    [SL_GW_STAGE_RELAY] = "relay",       [SL_GW_STAGE_RESPOND] = "respond",
    [SL_GW_STAGE_ROW] = "row",
};

struct stage_hist {
    uint64_t buckets[STAGE_NBOUNDS + 1];
    uint64_t count, sum_ns;
};

struct sl_gw_metrics {
    const struct sl_gw_config *cfg;
    const struct sl_gw_router *router;
    struct dep_metrics *dm;   /* one per router deployment, in its order */
    struct model_metrics *mm; /* one per model, in the config's order */
    uint64_t status_unrouted[600];
    uint64_t cancelled, client_gone;
    struct stage_hist stage[SL_GW_STAGE__COUNT];
};

int sl_gw_metrics_new(const struct sl_gw_config *cfg, const struct sl_gw_router *router,
                      struct sl_gw_metrics **out)
{
    struct sl_gw_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    m->cfg = cfg;
    m->router = router;
    m->dm = calloc(router->ndeps ? router->ndeps : 1, sizeof(*m->dm));
    m->mm = calloc(cfg->nmodels ? cfg->nmodels : 1, sizeof(*m->mm));
    if (m->dm == NULL || m->mm == NULL) {
        sl_gw_metrics_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void sl_gw_metrics_free(struct sl_gw_metrics *m)
{
    if (m == NULL)
        return;
    free(m->dm);
    free(m->mm);
    free(m);
}

static struct dep_metrics *dep_of(struct sl_gw_metrics *m, const struct sl_gw_dep *dep)
{
    return &m->dm[dep - m->router->deps];
}

static struct model_metrics *model_of(struct sl_gw_metrics *m, const struct sl_gw_model *model)
{
    return &m->mm[model - m->cfg->models];
}

void sl_gw_metrics_status(struct sl_gw_metrics *m, const struct sl_gw_dep *dep, int status)
{
    if (status < 0 || status >= 600)
        return;
    if (dep)
        dep_of(m, dep)->status[status]++;
    else
        m->status_unrouted[status]++;
}

void sl_gw_metrics_stage(struct sl_gw_metrics *m, enum sl_gw_stage stage, uint64_t from_ns,
                         uint64_t to_ns)
{
    if (from_ns == 0 || to_ns < from_ns)
        return;
    uint64_t ns = to_ns - from_ns;
    struct stage_hist *h = &m->stage[stage];
    int i = 0;
    while (i < STAGE_NBOUNDS && ns > stage_bounds_ns[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum_ns += ns;
}

void sl_gw_metrics_attempt(struct sl_gw_metrics *m, const struct sl_gw_dep *dep,
                           const struct sl_http_result *res)
{
    struct dep_metrics *dm = dep_of(m, dep);
    dm->attempts++;
    dm->resent += (unsigned)res->resent;
    sl_prom_observe(&dm->upstream_latency, (double)res->total_ns / 1e9);
    /* relative to the attempt's start: observed as spans from 1 ns */
    if (res->sent_ns)
        sl_gw_metrics_stage(m, SL_GW_STAGE_UPSTREAM, 1, 1 + res->sent_ns);
    if (res->sent_ns && res->first_byte_ns)
        sl_gw_metrics_stage(m, SL_GW_STAGE_FIRST_BYTE, 1 + res->sent_ns, 1 + res->first_byte_ns);
    if (res->first_byte_ns)
        sl_gw_metrics_stage(m, SL_GW_STAGE_RELAY, 1 + res->first_byte_ns, 1 + res->total_ns);
}

void sl_gw_metrics_retry(struct sl_gw_metrics *m, const struct sl_gw_dep *dep)
{
    dep_of(m, dep)->retries++;
}

void sl_gw_metrics_queue_wait(struct sl_gw_metrics *m, const struct sl_gw_dep *dep, double seconds)
{
    sl_prom_observe(&dep_of(m, dep)->queue_wait, seconds);
}

void sl_gw_metrics_ttft(struct sl_gw_metrics *m, const struct sl_gw_model *model, double seconds)
{
    sl_prom_observe(&model_of(m, model)->ttft, seconds);
}

void sl_gw_metrics_fallback(struct sl_gw_metrics *m, const struct sl_gw_model *model)
{
    model_of(m, model)->fallbacks++;
}

void sl_gw_metrics_cancelled(struct sl_gw_metrics *m)
{
    m->cancelled++;
}

void sl_gw_metrics_client_gone(struct sl_gw_metrics *m)
{
    m->client_gone++;
}

void sl_gw_metrics_render(const struct sl_gw_metrics *m, struct sl_gw_keyring *keys,
                          struct sl_buf *out, uint64_t in_flight, const uint64_t *spooled)
{
    char labels[512], model[260], dep[140];
    sl_prom_help(out, "sluice_requests_total", "counter",
                 "Requests answered, by model, deployment and HTTP status.");
    for (int st = 0; st < 600; st++)
        if (m->status_unrouted[st]) {
            snprintf(labels, sizeof(labels), "model=\"\",deployment=\"\",status=\"%d\"", st);
            sl_prom_value(out, "sluice_requests_total", labels, (double)m->status_unrouted[st]);
        }
    for (size_t i = 0; i < m->router->ndeps; i++) {
        const struct sl_gw_dep *d = &m->router->deps[i];
        sl_prom_escape(model, sizeof(model), d->model->name);
        sl_prom_escape(dep, sizeof(dep), d->cfg->name);
        for (int st = 0; st < 600; st++)
            if (m->dm[i].status[st]) {
                snprintf(labels, sizeof(labels), "model=\"%s\",deployment=\"%s\",status=\"%d\"",
                         model, dep, st);
                sl_prom_value(out, "sluice_requests_total", labels, (double)m->dm[i].status[st]);
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
        sl_prom_help(out, per_dep[k].name, per_dep[k].type, per_dep[k].help);
        for (size_t i = 0; i < m->router->ndeps; i++) {
            const struct sl_gw_dep *d = &m->router->deps[i];
            double v[] = {(double)m->dm[i].attempts, (double)m->dm[i].retries,
                          (double)m->dm[i].resent,   (double)d->cooldowns,
                          (double)d->sem.queued,     (double)sl_sem_held(&d->sem),
                          (double)d->sem.capacity};
            sl_prom_escape(dep, sizeof(dep), d->cfg->name);
            snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
            sl_prom_value(out, per_dep[k].name, labels, v[k]);
        }
    }
    sl_prom_help(out, "sluice_queue_wait_seconds", "histogram", "Time waiting for a permit.");
    for (size_t i = 0; i < m->router->ndeps; i++) {
        sl_prom_escape(dep, sizeof(dep), m->router->deps[i].cfg->name);
        snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
        sl_prom_hist_write(out, "sluice_queue_wait_seconds", labels, &m->dm[i].queue_wait);
    }
    sl_prom_help(out, "sluice_upstream_latency_seconds", "histogram",
                 "Upstream attempt duration, to the end of the response.");
    for (size_t i = 0; i < m->router->ndeps; i++) {
        sl_prom_escape(dep, sizeof(dep), m->router->deps[i].cfg->name);
        snprintf(labels, sizeof(labels), "deployment=\"%s\"", dep);
        sl_prom_hist_write(out, "sluice_upstream_latency_seconds", labels,
                           &m->dm[i].upstream_latency);
    }
    /* each family whole, its HELP/TYPE first, before the next one starts:
     * a parser takes a family that reappears for an untyped duplicate */
    sl_prom_help(out, "sluice_time_to_first_token_seconds", "histogram",
                 "Time to the first streamed byte sent to the client.");
    for (size_t i = 0; i < m->cfg->nmodels; i++) {
        sl_prom_escape(model, sizeof(model), m->cfg->models[i].name);
        snprintf(labels, sizeof(labels), "model=\"%s\"", model);
        sl_prom_hist_write(out, "sluice_time_to_first_token_seconds", labels, &m->mm[i].ttft);
    }
    sl_prom_help(out, "sluice_fallbacks_total", "counter",
                 "Requests moved to the model's next deployment.");
    for (size_t i = 0; i < m->cfg->nmodels; i++) {
        sl_prom_escape(model, sizeof(model), m->cfg->models[i].name);
        snprintf(labels, sizeof(labels), "model=\"%s\"", model);
        sl_prom_value(out, "sluice_fallbacks_total", labels, (double)m->mm[i].fallbacks);
    }
    sl_prom_help(out, "sluice_cancelled_total", "counter",
                 "Requests cancelled (client gone or cancel endpoint).");
    sl_prom_value(out, "sluice_cancelled_total", "", (double)m->cancelled);
    sl_prom_help(out, "sluice_client_gone_total", "counter",
                 "Requests whose client disconnected before the end.");
    sl_prom_value(out, "sluice_client_gone_total", "", (double)m->client_gone);
    if (spooled) {
        sl_prom_help(out, "sluice_log_rows_spooled_total", "counter",
                     "Request log rows written to a spool file (store behind or away).");
        sl_prom_value(out, "sluice_log_rows_spooled_total", "", (double)*spooled);
    }
    if (keys)
        sl_gw_keyring_render_metrics(keys, out);
    double bounds[STAGE_NBOUNDS];
    for (int i = 0; i < STAGE_NBOUNDS; i++)
        bounds[i] = (double)stage_bounds_ns[i] / 1e9;
    sl_prom_help(out, "sluice_stage_seconds", "histogram",
                 "Time in each stage of a request in the gateway, the upstream's wait "
                 "(first_byte) included (gateway/metrics.h).");
    for (int s = 0; s < SL_GW_STAGE__COUNT; s++) {
        const struct stage_hist *h = &m->stage[s];
        snprintf(labels, sizeof(labels), "stage=\"%s\"", stage_names[s]);
        sl_prom_buckets_write(out, "sluice_stage_seconds", labels, bounds, STAGE_NBOUNDS,
                              h->buckets, h->count, (double)h->sum_ns / 1e9);
    }
    sl_prom_help(out, "sluice_requests_in_flight", "gauge", "Requests being handled.");
    sl_prom_value(out, "sluice_requests_in_flight", "", (double)in_flight);
}
