/* See serve_pass.h. Who owns what: the pass owns its tables and value
 * arrays; names are copied in (the caller's chunk is freed after each
 * call). Invariants: every table index < its count; the per-bucket arrays
 * have nb (timeline) entries; values[] hold one entry per row that has
 * the value, in row order until sl_serve_pass_finish sorts them. */
#include "report/serve_pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/json_scan.h"
#include "report/names.h"
#include "report/pass_span.h"
#include "store/analytics.h"

#define NAME_MAX_LEN 256

/* Sums of a group or an HTTP status: SL_SERVE_PASS_GROUP_VALUES values. */
struct sums {
    double v[SL_SERVE_PASS_GROUP_VALUES];
};

struct lane {
    int64_t *sc, *ss, *fc, *fs; /* one allocation of 4 nb */
};

struct value {
    double v;
    uint32_t b; /* percentile bucket */
};

struct series {
    struct value *val;
    size_t n, cap;
    double *sorted; /* the values alone, ordered: the whole run's percentiles */
    double sum;     /* in row order, as SQL's avg() adds them */
};

struct sl_serve_pass {
    int64_t t0, w, nb, pw;
    char err[200];
    struct sl_pass_span span;
    uint64_t streamed;

    struct sl_names groups; /* "model\0deployment\0key" */
    struct sums *group_sums;
    struct sl_names http; /* the status as recorded ("" when none) */
    struct sums *http_sums;
    double **http_n;      /* per timeline bucket */
    struct sl_names deps; /* deployments of rows that ran */
    struct lane *lanes;

    struct series lat, ttft;
};

/* ---- one row ------------------------------------------------------------ */

/* A metadata string as SQL's ->> gives it: the common escapes decoded
 * (the gateway writes names with sl_json_escape); not a string: its text. */
static size_t text_of(const struct sl_json_pick *pk, char *out, size_t size)
{
    out[0] = '\0';
    if (!pk->found || pk->m.type == SL_JSON_NULL)
        return 0;
    const char *s = pk->m.value.ptr;
    size_t n = pk->m.value.len, o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        char c = s[i];
        if (pk->m.type == SL_JSON_STRING && c == '\\' && i + 1 < n) {
            char e = s[++i];
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            const char *m = strchr(from, e);
            if (e == 'u' && i + 4 < n) {
                unsigned v = (unsigned)strtoul((char[5]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0},
                                               NULL, 16);
                if (v < 0x80) {
                    c = (char)v;
                    i += 4;
                } else {
                    c = '\\', i--; /* kept as written */
                }
            } else {
                c = m && e ? to[m - from] : e;
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

static double num_of(const struct sl_json_pick *pk)
{
    if (!pk->found)
        return 0;
    if (pk->m.type == SL_JSON_TRUE)
        return 1;
    if (pk->m.type != SL_JSON_NUMBER)
        return 0;
    char tmp[64];
    size_t n = pk->m.value.len < sizeof(tmp) - 1 ? pk->m.value.len : sizeof(tmp) - 1;
    memcpy(tmp, pk->m.value.ptr, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

static int push_value(struct series *s, double v, int64_t b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        struct value *p = realloc(s->val, cap * sizeof(*p));
        if (p == NULL)
            return UV_ENOMEM;
        s->val = p;
        s->cap = cap;
    }
    s->val[s->n++] = (struct value){v, (uint32_t)b};
    s->sum += v;
    return 0;
}

static int64_t clamp(const struct sl_serve_pass *p, int64_t b)
{
    return b < 0 ? 0 : b >= p->nb ? p->nb - 1 : b;
}

static int fail(struct sl_serve_pass *p, int rc, const char *what)
{
    if (rc == UV_E2BIG)
        snprintf(p->err, sizeof(p->err), "the run has more than %u %s", SL_SERVE_PASS_MAX_NAMES,
                 what);
    else
        snprintf(p->err, sizeof(p->err), "report: %s", uv_strerror(rc));
    return rc;
}

enum { P_MODEL, P_DEP, P_KEY, P_STATUS, P_TTFB, P_PT, P_CT, P_FB, P_COST, P_STREAM, P_N };

/* The sums of a group (or status) for a row. */
static void sums_add(struct sums *g, const double *row)
{
    for (unsigned k = 0; k < SL_SERVE_PASS_GROUP_VALUES; k++)
        g->v[k] += row[k];
}

int sl_serve_pass_add(struct sl_serve_pass *p, int64_t c, int64_t s, int64_t f, int64_t attempts,
                      const char *status, const char *md, size_t md_len)
{
    int rc = sl_pass_span_add(&p->span, c, f, SL_SERVE_PASS_MAX_ROWS, p->err, sizeof(p->err));
    if (rc != 0)
        return rc;
    struct sl_json_pick pk[P_N] = {
        {"model"},         {"deployment"},        {"key"},       {"status"},   {"ttfb_ms"},
        {"prompt_tokens"}, {"completion_tokens"}, {"fallbacks"}, {"cost_usd"}, {"stream"}};
    struct sl_json_doc doc;
    if (md == NULL || sl_json_scan_pick(md, md_len, &doc, pk, P_N) != 0 ||
        doc.type != SL_JSON_OBJECT)
        memset(pk, 0, sizeof(pk)); /* as SQL: no fields */
    char key[3 * NAME_MAX_LEN + 3], http[40];
    size_t ml = text_of(&pk[P_MODEL], key, NAME_MAX_LEN);
    size_t dl = text_of(&pk[P_DEP], key + ml + 1, NAME_MAX_LEN);
    size_t kl = text_of(&pk[P_KEY], key + ml + dl + 2, NAME_MAX_LEN);
    size_t hl = text_of(&pk[P_STATUS], http, sizeof(http));

    int ok = strcmp(status, "succeeded") == 0, bad = strcmp(status, "failed") == 0;
    int has_cost = pk[P_COST].found && pk[P_COST].m.type == SL_JSON_NUMBER;
    double row[SL_SERVE_PASS_GROUP_VALUES] = {1,
                                              ok,
                                              bad,
                                              !ok && !bad && strcmp(status, "cancelled") == 0,
                                              attempts > 1 ? (double)(attempts - 1) : 0,
                                              trunc(num_of(&pk[P_FB])),
                                              trunc(num_of(&pk[P_PT])),
                                              trunc(num_of(&pk[P_CT])),
                                              has_cost ? num_of(&pk[P_COST]) : 0,
                                              has_cost};

    int added;
    long g = sl_names_get(&p->groups, key, ml + dl + kl + 2, SL_SERVE_PASS_MAX_NAMES, &added, &rc);
    if (g < 0)
        return fail(p, rc, "(model, deployment, key) groups");
    if (added) {
        if ((rc = sl_names_grow_items(&p->groups, (void **)&p->group_sums,
                                      sizeof(*p->group_sums))) != 0)
            return fail(p, rc, "");
        p->groups.items_cap = p->groups.cap;
    }
    sums_add(&p->group_sums[g], row);

    long h = sl_names_get(&p->http, http, hl, SL_SERVE_PASS_MAX_NAMES, &added, &rc);
    if (h < 0)
        return fail(p, rc, "HTTP statuses");
    if (added) {
        if ((rc = sl_names_grow_items(&p->http, (void **)&p->http_sums, sizeof(*p->http_sums))) ||
            (rc = sl_names_grow_items(&p->http, (void **)&p->http_n, sizeof(*p->http_n))))
            return fail(p, rc, "");
        p->http.items_cap = p->http.cap;
        if ((p->http_n[h] = calloc((size_t)p->nb, sizeof(double))) == NULL)
            return fail(p, UV_ENOMEM, "");
    }
    sums_add(&p->http_sums[h], row);
    p->http_n[h][clamp(p, (f - p->t0) / p->w)] += 1;

    if (s >= 0) { /* ran: in its deployment's lane */
        long d = sl_names_get(&p->deps, key + ml + 1, dl, SL_SERVE_PASS_MAX_NAMES, &added, &rc);
        if (d < 0)
            return fail(p, rc, "deployments");
        if (added) {
            if ((rc = sl_names_grow_items(&p->deps, (void **)&p->lanes, sizeof(*p->lanes))) != 0)
                return fail(p, rc, "");
            p->deps.items_cap = p->deps.cap;
            int64_t *mem = calloc((size_t)p->nb * 4, sizeof(int64_t));
            if (mem == NULL)
                return fail(p, UV_ENOMEM, "");
            p->lanes[d] = (struct lane){mem, mem + p->nb, mem + 2 * p->nb, mem + 3 * p->nb};
        }
        struct lane *l = &p->lanes[d];
        int64_t sb = clamp(p, (s - p->t0) / p->w), fb = clamp(p, (f - p->t0) / p->w);
        l->sc[sb]++;
        l->ss[sb] += s - p->t0;
        l->fc[fb]++;
        l->fs[fb] += f - p->t0;
    }

    int64_t pb = (f - p->t0) / p->pw;
    if ((rc = push_value(&p->lat, (double)(f - c) / 1000.0, pb)) != 0)
        return fail(p, rc, "");
    double ttfb = num_of(&pk[P_TTFB]);
    if (ttfb > 0 && (rc = push_value(&p->ttft, ttfb, pb)) != 0)
        return fail(p, rc, "");

    if (pk[P_STREAM].found &&
        (pk[P_STREAM].m.type == SL_JSON_TRUE ||
         (pk[P_STREAM].m.type == SL_JSON_NUMBER && num_of(&pk[P_STREAM]) == 1)))
        p->streamed++;
    return 0;
}

/* ---- after the last row ------------------------------------------------- */

static int by_bucket_value(const void *a, const void *b)
{
    const struct value *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int series_finish(struct series *s)
{
    if (s->n > 1) /* (an empty series has no array) */
        qsort(s->val, s->n, sizeof(*s->val), by_bucket_value);
    s->sorted = malloc((s->n + 1) * sizeof(double));
    if (s->sorted == NULL)
        return UV_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        s->sorted[i] = s->val[i].v;
    qsort(s->sorted, s->n, sizeof(double), by_value);
    return 0;
}

int sl_serve_pass_finish(struct sl_serve_pass *p)
{
    int rc = series_finish(&p->lat);
    return rc ? rc : series_finish(&p->ttft);
}

/* nearest rank: the smallest rank r with 100 r >= q n (q in percent) */
static double rank(const double *sorted, size_t n, unsigned q)
{
    size_t r = (q * n + 99) / 100;
    return n ? sorted[(r ? r : 1) - 1] : 0;
}

void sl_serve_pass_pcts(const struct sl_serve_pass *p, int ttft, sl_serve_pass_pct_fn fn, void *arg)
{
    const struct series *s = ttft ? &p->ttft : &p->lat;
    double *v = malloc((s->n + 1) * sizeof(double));
    if (v == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        v[i] = s->val[i].v;
    for (size_t i = 0, j; i < s->n; i = j) {
        for (j = i; j < s->n && s->val[j].b == s->val[i].b; j++)
            ;
        fn(arg, s->val[i].b, j - i, rank(v + i, j - i, 50), rank(v + i, j - i, 95),
           rank(v + i, j - i, 99));
    }
    free(v);
}

/* ---- the stats block ---------------------------------------------------- */

struct named_sums {
    const char *name;
    const struct sums *s;
};

static int by_requests(const void *a, const void *b)
{
    const struct named_sums *x = a, *y = b;
    if (x->s->v[0] != y->s->v[0])
        return x->s->v[0] > y->s->v[0] ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* sl_stats_serve_row of a group: n, then the seven sums */
static void stats_group(struct sl_stats *out, const char *grp, struct named_sums *g, size_t n)
{
    qsort(g, n, sizeof(*g), by_requests);
    for (size_t i = 0; i < n; i++) {
        double v[SL_SERVE_VALUES] = {0};
        memcpy(v, &g[i].s->v[1], 7 * sizeof(double));
        sl_stats_serve_row(out, grp, g[i].name, (uint64_t)g[i].s->v[0], v);
    }
}

/* The sums of the groups by one of their three names (0 model, 1
 * deployment), into sums[] with their names. */
static size_t sum_by(const struct sl_serve_pass *p, unsigned which, struct sums *sums,
                     struct named_sums *out)
{
    size_t m = 0;
    for (unsigned i = 0; i < p->groups.n; i++) {
        const char *name = p->groups.name[i];
        if (which)
            name += strlen(name) + 1;
        size_t k = 0;
        while (k < m && strcmp(out[k].name, name) != 0)
            k++;
        if (k == m) {
            memset(&sums[m], 0, sizeof(sums[m]));
            out[m] = (struct named_sums){name, &sums[m]};
            m++;
        }
        sums_add(&sums[k], p->group_sums[i].v);
    }
    return m;
}

static void stats_dist(struct sl_stats *out, const char *grp, const struct series *s)
{
    double v[SL_SERVE_VALUES] = {0};
    if (s->n) {
        v[0] = rank(s->sorted, s->n, 50);
        v[1] = rank(s->sorted, s->n, 95);
        v[2] = rank(s->sorted, s->n, 99);
        v[3] = s->sum / (double)s->n;
        v[4] = s->sorted[s->n - 1];
    }
    sl_stats_serve_row(out, grp, "", s->n, v);
}

void sl_serve_pass_stats(const struct sl_serve_pass *p, struct sl_stats *out)
{
    struct sums total = {{0}};
    for (unsigned i = 0; i < p->groups.n; i++)
        sums_add(&total, p->group_sums[i].v);
    double v[SL_SERVE_VALUES] = {0};
    memcpy(v, &total.v[1], 7 * sizeof(double));
    v[7] = (double)p->streamed;
    v[8] = p->span.rows ? (double)(p->span.max_f - p->span.min_c) / 1e6 : 0;
    sl_stats_serve_row(out, "total", "", p->span.rows, v);

    size_t n = p->groups.n > p->http.n ? p->groups.n : p->http.n;
    struct named_sums *g = malloc((n + 1) * sizeof(*g));
    struct sums *sums = malloc((n + 1) * sizeof(*sums));
    if (g && sums) {
        for (unsigned i = 0; i < p->http.n; i++)
            g[i] = (struct named_sums){p->http.name[i], &p->http_sums[i]};
        stats_group(out, "status", g, p->http.n);
        stats_group(out, "model", g, sum_by(p, 0, sums, g));
        stats_group(out, "deployment", g, sum_by(p, 1, sums, g));
    }
    free(g);
    free(sums);
    stats_dist(out, "latency", &p->lat);
    stats_dist(out, "ttfb", &p->ttft);
}

/* ---- the rest ----------------------------------------------------------- */

unsigned sl_serve_pass_lanes(const struct sl_serve_pass *p)
{
    return p->deps.n;
}

const char *sl_serve_pass_lane(const struct sl_serve_pass *p, unsigned i, const int64_t **sc,
                               const int64_t **ss, const int64_t **fc, const int64_t **fs)
{
    *sc = p->lanes[i].sc;
    *ss = p->lanes[i].ss;
    *fc = p->lanes[i].fc;
    *fs = p->lanes[i].fs;
    return p->deps.name[i];
}

unsigned sl_serve_pass_rates(const struct sl_serve_pass *p)
{
    return p->http.n;
}

const char *sl_serve_pass_rate(const struct sl_serve_pass *p, unsigned i, const double **n)
{
    *n = p->http_n[i];
    return p->http.len[i] ? p->http.name[i] : "0";
}

void sl_serve_pass_groups(const struct sl_serve_pass *p, sl_serve_pass_group_fn fn, void *arg)
{
    for (unsigned i = 0; i < p->groups.n; i++) {
        const char *model = p->groups.name[i], *dep = model + strlen(model) + 1;
        fn(arg, model, dep, dep + strlen(dep) + 1, p->group_sums[i].v);
    }
}

const char *sl_serve_pass_error(const struct sl_serve_pass *p)
{
    return p->err;
}

struct sl_serve_pass *sl_serve_pass_new(int64_t t0, int64_t w, int64_t nb, int64_t pw)
{
    struct sl_serve_pass *p = calloc(1, sizeof(*p));
    if (p) {
        p->t0 = t0;
        p->w = w;
        p->nb = nb;
        p->pw = pw;
    }
    return p;
}

void sl_serve_pass_free(struct sl_serve_pass *p)
{
    if (p == NULL)
        return;
    /* a name added when its arrays could not grow has no items */
    for (unsigned i = 0; i < p->http.n && i < p->http.items_cap; i++)
        free(p->http_n[i]);
    for (unsigned i = 0; i < p->deps.n && i < p->deps.items_cap; i++)
        free(p->lanes[i].sc);
    free(p->http_n);
    free(p->http_sums);
    free(p->group_sums);
    free(p->lanes);
    sl_names_free(&p->groups);
    sl_names_free(&p->http);
    sl_names_free(&p->deps);
    free(p->lat.val);
    free(p->lat.sorted);
    free(p->ttft.val);
    free(p->ttft.sorted);
    free(p);
}
