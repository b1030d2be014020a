/* A serve run's page figures (see report_data.c): the run's fields and
 * stats, the timeline by deployment and HTTP status, the latency and
 * TTFT percentiles over time, the model / deployment / key tables, all
 * from the one pass over its rows (serve_pass.h). */
#include <stdlib.h>
#include <string.h>

#include "report/report_impl.h"

/* A percentile series: per bucket t (seconds from t0), n, p50, p95, p99. */
struct pct_cols {
    double *v[5];
    size_t n;
    int64_t pw;
};

static void pct_row(void *arg, int64_t b, uint64_t n, double p50, double p95, double p99)
{
    struct pct_cols *c = arg;
    double row[5] = {(double)(b * c->pw) / 1e6, (double)n, p50, p95, p99};
    for (unsigned k = 0; k < 5; k++)
        c->v[k][c->n] = row[k];
    c->n++;
}

static int write_pcts(struct report *r, const char *key, int ttft)
{
    struct sl_jw *w = &r->w_json;
    size_t cap = (size_t)((r->t1 - r->t0) / r->pw) + 2; /* buckets of the run's span */
    struct pct_cols c = {.pw = r->pw};
    double *mem = malloc(5 * cap * sizeof(double));
    if (mem == NULL)
        return UV_ENOMEM;
    for (unsigned k = 0; k < 5; k++)
        c.v[k] = mem + k * cap;
    sl_serve_pass_pcts(r->pass, ttft, pct_row, &c);
    sl_jw_key(w, key);
    sl_jw_object(w);
    sl__report_kv_num(w, "bucket_s", (double)r->pw / 1e6);
    static const char *cols[5] = {"t", "n", "p50", "p95", "p99"};
    for (unsigned k = 0; k < 5; k++)
        sl__report_array_of(w, cols[k], c.v[k], (int64_t)c.n);
    sl_jw_end(w);
    free(mem);
    return 0;
}

/* A (model, deployment, key) group of the pass, for sorting by one of
 * its three names. */
#define GROUP_VALUES SL_SERVE_PASS_GROUP_VALUES
struct group_ref {
    const char *name[3];
    const double *v;
    unsigned by;
};

struct group_refs {
    struct group_ref *ref;
    size_t n;
};

static void collect_group(void *arg, const char *model, const char *dep, const char *key,
                          const double *v)
{
    struct group_refs *g = arg;
    g->ref[g->n++] = (struct group_ref){{model, dep, key}, v, 0};
}

static int ref_by_name(const void *a, const void *b)
{
    const struct group_ref *x = a, *y = b;
    return strcmp(x->name[x->by], y->name[y->by]);
}

struct group_sum {
    const char *name;
    double v[GROUP_VALUES]; /* v[0]: requests */
};

static int sum_by_requests(const void *a, const void *b)
{
    const struct group_sum *x = a, *y = b;
    if (x->v[0] != y->v[0])
        return x->v[0] > y->v[0] ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The tables per model, deployment and key: the (model, deployment, key)
 * groups summed by one name, most requests first. */
static int write_groups(struct report *r, size_t n_groups)
{
    struct sl_jw *w = &r->w_json;
    static const char *grp[3] = {"model", "deployment", "key"};
    static const char *cols[GROUP_VALUES] = {
        "requests",      "succeeded",         "failed",   "cancelled",     "retries", "fallbacks",
        "prompt_tokens", "completion_tokens", "cost_usd", "rows_with_cost"};
    struct group_refs g = {malloc((n_groups + 1) * sizeof(*g.ref)), 0};
    struct group_sum *sums = malloc((n_groups + 1) * sizeof(*sums));
    if (g.ref == NULL || sums == NULL) {
        free(g.ref);
        free(sums);
        return UV_ENOMEM;
    }
    sl_serve_pass_groups(r->pass, collect_group, &g);
    sl_jw_key(w, "groups"); /* {grp: [{name, ...}]} */
    sl_jw_object(w);
    for (unsigned k = 0; k < 3; k++) {
        for (size_t i = 0; i < g.n; i++)
            g.ref[i].by = k;
        qsort(g.ref, g.n, sizeof(*g.ref), ref_by_name);
        size_t m = 0;
        for (size_t i = 0; i < g.n; i++) {
            if (m == 0 || strcmp(sums[m - 1].name, g.ref[i].name[k]) != 0)
                sums[m++] = (struct group_sum){.name = g.ref[i].name[k]};
            for (unsigned c = 0; c < GROUP_VALUES; c++)
                sums[m - 1].v[c] += g.ref[i].v[c];
        }
        qsort(sums, m, sizeof(*sums), sum_by_requests);
        sl_jw_key(w, grp[k]);
        sl_jw_array(w);
        for (size_t i = 0; i < m; i++) {
            sl_jw_object(w);
            sl_jw_kv_string(w, "name", sums[i].name);
            for (unsigned c = 0; c < GROUP_VALUES; c++)
                sl__report_kv_num(w, cols[c], sums[i].v[c]);
            sl_jw_end(w);
        }
        sl_jw_end(w);
    }
    sl_jw_end(w);
    free(g.ref);
    free(sums);
    return 0;
}

static void count_groups(void *arg, const char *model, const char *dep, const char *key,
                         const double *v)
{
    (void)model, (void)dep, (void)key, (void)v;
    (*(unsigned *)arg)++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* serve, after the last chunk: the run's fields and stats, the timeline
 * (lanes in name order, as lane_get numbers them), percentiles, tables. */
int sl__report_serve_figures(struct report *r)
{
    struct sl_serve_pass *p = r->pass;
    int rc = sl_serve_pass_finish(p);
    if (rc != 0)
        return rc;
    sl_serve_pass_stats(p, &r->stats);
    sl__report_run_fields(r, r->params);

    unsigned n = sl_serve_pass_lanes(p), n_groups = 0;
    const char **names = malloc((n + 1) * sizeof(*names));
    const char ***refs = malloc((n + 1) * sizeof(*refs));
    if (names == NULL || refs == NULL) {
        free(names), free(refs);
        return UV_ENOMEM;
    }
    const int64_t *sc, *ss, *fc, *fs;
    for (unsigned i = 0; i < n; i++) {
        names[i] = sl_serve_pass_lane(p, i, &sc, &ss, &fc, &fs);
        refs[i] = &names[i];
    }
    qsort(refs, n, sizeof(*refs), by_name);
    for (unsigned i = 0; i < n && rc == 0; i++) {
        unsigned k = (unsigned)(refs[i] - names);
        struct lane *l = sl__report_lane_get(r, sl_serve_pass_lane(p, k, &sc, &ss, &fc, &fs));
        if (l == NULL) {
            rc = UV_ENOMEM;
            break;
        }
        sl__report_lane_add(r, l, sc, ss, fc, fs);
        sl__report_lane_add(r, &r->lanes[0], sc, ss, fc, fs);
    }
    free(names), free(refs);
    for (unsigned i = 0; i < sl_serve_pass_rates(p) && rc == 0; i++) {
        const double *cnt;
        struct rate *t = sl__report_rate_get(r, sl_serve_pass_rate(p, i, &cnt));
        if (t == NULL)
            return UV_ENOMEM;
        for (int64_t b = 0; b < r->nb; b++)
            t->n[b] += cnt[b];
    }
    sl_serve_pass_groups(p, count_groups, &n_groups);
    rc = rc ? rc : sl__report_write_timeline(r);
    rc = rc ? rc : write_pcts(r, "latency", 0);
    rc = rc ? rc : write_pcts(r, "ttft", 1);
    return rc ? rc : write_groups(r, n_groups);
}
