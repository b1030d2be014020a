/* The report's data (see run_report.h): the run's analytics, then a chain
 * of aggregate queries, each one an sl_store_query_rows() call whose
 * answer is folded into the data JSON before the next one is sent.
 *
 * Design
 *  - The database does the scans: every query is a GROUP BY over the
 *    run's rows that returns at most a few thousand rows (buckets, bins,
 *    groups), so a run of a million rows costs a handful of passes in the
 *    database and almost nothing here.
 *  - Time buckets: the run's span (first created to last finished) is cut
 *    into at most MAX_BUCKETS buckets of a round width. In flight is the
 *    time average over each bucket, exact: the integral of the number of
 *    requests in flight is sum over started rows of (min(f, T) - min(s, T)),
 *    which the per-bucket counts and sums of start and finish offsets give
 *    with prefix sums (integrate()). Requests in flight are the ones
 *    between started (admitted: the semaphore taken) and finished.
 *  - Order: stats -> bounds -> the kind's queries -> the page. The first
 *    failure ends the chain; cb gets it.
 * Ownership: the report owns its state and frees it after cb. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/report.h"
#include "core/buf.h"
#include "http/json_scan.h"
#include "http/json_write.h"
#include "report/report_sql.h"
#include "report/run_report.h"

#define MAX_BUCKETS     240 /* time buckets of the timelines */
#define MAX_PCT_BUCKETS 120 /* buckets of the percentile series (sorts per bucket) */
#define HIST_BINS       60
#define MAX_LANES       16 /* deployments and statuses shown apart; the rest is "other" */
#define DATA_MAX        (64u << 20)

enum step {
    S_STATS,
    S_BOUNDS,
    S_TIMELINE, /* simulate */
    S_HISTS,
    S_FIN, /* serve */
    S_START,
    S_PCT_LAT,
    S_PCT_TTFT,
    S_GROUPS,
    S_DONE
};

/* Sums per time bucket for one deployment (or the whole run). */
struct lane {
    char name[64];
    int64_t *sc, *ss; /* starts: count, sum of (s - t0) */
    int64_t *fc, *fs; /* finishes of rows that ran: count, sum of (f - t0) */
};

struct rate {
    char name[64]; /* a status: "succeeded"... or an HTTP status */
    double *n;
};

struct report {
    struct sl_store *store;
    enum sl_store_kind kind;
    int serve;
    char *path;
    sl_run_report_cb cb;
    void *arg;
    struct sl_stats stats;
    struct sl_rows *rows;
    enum step step;
    char sql[8192];
    char err[700];

    int64_t t0, t1, max_proc, max_queue; /* microseconds */
    int64_t w, nb;                       /* bucket width, buckets */
    int64_t pw;                          /* width of the percentile buckets */
    struct lane lanes[MAX_LANES + 1];    /* [0] the total */
    unsigned n_lanes;
    struct rate rates[MAX_LANES + 1];
    unsigned n_rates;

    struct sl_buf json;
    struct sl_jw w_json;
    int trace;        /* SLUICE_REPORT_TRACE set: each query's time on stderr (bench/report.sh) */
    uint64_t sent_ns; /* when the step's query went out */
};

static void next(struct report *r);
static int write_timeline(struct report *r);

/* round_up: the smallest of 1, 2, 5 x 10^k that is >= x (x >= 1) */
static int64_t round_up(double x)
{
    int64_t p = 1;
    for (;;) {
        if (x <= (double)p)
            return p;
        if (x <= 2.0 * (double)p)
            return 2 * p;
        if (x <= 5.0 * (double)p)
            return 5 * p;
        p *= 10;
    }
}

static void finish(struct report *r, int status)
{
    for (unsigned i = 0; i < r->n_lanes; i++) {
        free(r->lanes[i].sc);
    }
    for (unsigned i = 0; i < r->n_rates; i++)
        free(r->rates[i].n);
    sl_rows_free(r->rows);
    r->cb(status, r->err, r->arg);
    sl_buf_release(&r->json);
    free(r->path);
    free(r);
}

static void fail(struct report *r, int status, const char *fmt, const char *what)
{
    snprintf(r->err, sizeof(r->err), fmt, what);
    finish(r, status ? status : UV_EIO);
}

/* ---- JSON helpers ------------------------------------------------------- */

static void jnum(struct sl_jw *w, double v)
{
    char num[40];
    int n =
        isfinite(v) ? snprintf(num, sizeof(num), "%.10g", v) : snprintf(num, sizeof(num), "null");
    sl_jw_raw(w, num, (size_t)n);
}

static void kv_num(struct sl_jw *w, const char *key, double v)
{
    sl_jw_key(w, key);
    jnum(w, v);
}

static void array_of(struct sl_jw *w, const char *key, const double *v, int64_t n)
{
    sl_jw_key(w, key);
    sl_jw_array(w);
    for (int64_t i = 0; i < n; i++)
        jnum(w, v[i]);
    sl_jw_end(w);
}

/* ---- lanes (in flight) and rates ---------------------------------------- */

static struct lane *lane_get(struct report *r, const char *name)
{
    for (unsigned i = 1; i < r->n_lanes; i++)
        if (strcmp(r->lanes[i].name, name) == 0)
            return &r->lanes[i];
    unsigned i = r->n_lanes;
    if (i == MAX_LANES) /* the last one becomes "other" */
        return &r->lanes[MAX_LANES - 1];
    struct lane *l = &r->lanes[i];
    int64_t *mem = calloc((size_t)r->nb * 4, sizeof(int64_t));
    if (mem == NULL)
        return NULL;
    l->sc = mem;
    l->ss = mem + r->nb;
    l->fc = mem + 2 * r->nb;
    l->fs = mem + 3 * r->nb;
    snprintf(l->name, sizeof(l->name), "%s", i == MAX_LANES - 1 ? "(other)" : name);
    r->n_lanes++;
    return l;
}

static struct rate *rate_get(struct report *r, const char *name)
{
    for (unsigned i = 0; i < r->n_rates; i++)
        if (strcmp(r->rates[i].name, name) == 0)
            return &r->rates[i];
    unsigned i = r->n_rates;
    if (i == MAX_LANES)
        return &r->rates[MAX_LANES - 1];
    struct rate *t = &r->rates[i];
    t->n = calloc((size_t)r->nb, sizeof(double));
    if (t->n == NULL)
        return NULL;
    snprintf(t->name, sizeof(t->name), "%s", i == MAX_LANES - 1 ? "other" : name);
    r->n_rates++;
    return t;
}

static int rate_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rate *)a)->name, ((const struct rate *)b)->name);
}

static int64_t bucket(struct report *r, int64_t b)
{
    return b < 0 ? 0 : b >= r->nb ? r->nb - 1 : b;
}

/* The time-average in flight over each bucket (see the design note). */
static void integrate(const struct report *r, const struct lane *l, double *out)
{
    int64_t sc = 0, ss = 0, fc = 0, fs = 0;
    long double prev = 0;
    for (int64_t k = 0; k < r->nb; k++) {
        sc += l->sc[k];
        ss += l->ss[k];
        fc += l->fc[k];
        fs += l->fs[k];
        long double end = (long double)(k + 1) * (long double)r->w;
        long double integral = end * (long double)(sc - fc) - (long double)ss + (long double)fs;
        out[k] = (double)((integral - prev) / (long double)r->w);
        prev = integral;
    }
}

/* ---- steps -------------------------------------------------------------- */

static void run_fields(struct report *r, const char *params)
{
    struct sl_jw *w = &r->w_json;
    const struct sl_stats *s = &r->stats;
    sl_jw_kv_string(w, "kind", r->serve ? "serve" : "simulate");
    sl_jw_key(w, "run");
    sl_jw_object(w);
    sl_jw_kv_int(w, "id", (long long)s->run_id);
    sl_jw_kv_string(w, "command", s->command);
    sl_jw_kv_string(w, "status", s->run_status);
    sl_jw_kv_string(w, "database", sl_store_path(r->store));
    sl_jw_kv_int(w, "concurrency", s->concurrency);
    sl_jw_kv_int(w, "max_in_flight", s->max_in_flight);
    sl_jw_kv_int(w, "t0_us", (long long)r->t0);
    kv_num(w, "span_s", (double)(r->t1 - r->t0) / 1e6);
    struct sl_json_doc doc;
    if (params && sl_json_scan(params, strlen(params), &doc) == 0 && doc.type == SL_JSON_OBJECT)
        sl_jw_kv_raw(w, "params", params, strlen(params));
    else
        sl_jw_kv_raw(w, "params", "{}", 2);
    sl_jw_end(w);
    /* the same object `sluice stats --json` prints */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        sl_report_json(mem, s, sl_store_path(r->store), NULL);
        fclose(mem);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            len--;
        sl_jw_kv_raw(w, "stats", text, len);
    }
    free(text);
}

static int on_bounds(struct report *r)
{
    struct sl_rows *rows = r->rows;
    if (rows->n_rows != 1 || sl_rows_cell(rows, 0, 1) == NULL) {
        snprintf(r->err, sizeof(r->err), "run %" PRId64 " has no recorded requests",
                 r->stats.run_id);
        return UV_ENOENT;
    }
    r->t0 = sl_rows_i64(rows, 0, 1);
    r->t1 = sl_rows_i64(rows, 0, 2);
    r->max_proc = sl_rows_i64(rows, 0, 3);
    r->max_queue = sl_rows_i64(rows, 0, 4);
    int64_t span = r->t1 - r->t0 + 1;
    r->w = round_up(ceil((double)span / MAX_BUCKETS));
    if (r->w < 1000)
        r->w = 1000; /* a millisecond at least */
    r->nb = (span + r->w - 1) / r->w;
    r->pw = round_up(ceil((double)span / MAX_PCT_BUCKETS));
    if (r->pw < r->w)
        r->pw = r->w;
    run_fields(r, sl_rows_cell(rows, 0, 0));
    if (lane_get(r, "") == NULL) /* lanes[0]: the total */
        return UV_ENOMEM;
    return 0;
}

/* simulate: one row per (finish bucket, start bucket) */
static int on_timeline(struct report *r)
{
    struct sl_rows *rows = r->rows;
    static const char *names[3] = {"succeeded", "failed", "cancelled"};
    struct lane *l = &r->lanes[0];
    for (unsigned i = 0; i < rows->n_rows; i++) {
        int64_t fb = bucket(r, sl_rows_i64(rows, i, 0)), sb = sl_rows_i64(rows, i, 1);
        for (unsigned k = 0; k < 3; k++) {
            struct rate *t = rate_get(r, names[k]);
            if (t == NULL)
                return UV_ENOMEM;
            t->n[fb] += sl_rows_num(rows, i, 3 + k);
        }
        int64_t ran = sl_rows_i64(rows, i, 6);
        l->fc[fb] += ran;
        l->fs[fb] += sl_rows_i64(rows, i, 7);
        if (sb >= 0) {
            l->sc[bucket(r, sb)] += ran;
            l->ss[bucket(r, sb)] += sl_rows_i64(rows, i, 8);
        }
    }
    return write_timeline(r);
}

/* serve: by deployment, finish bucket and HTTP status */
static int on_finishes(struct report *r)
{
    struct sl_rows *rows = r->rows;
    for (unsigned i = 0; i < rows->n_rows; i++) {
        int64_t b = bucket(r, sl_rows_i64(rows, i, 1));
        struct rate *t = rate_get(r, sl_rows_cell(rows, i, 2));
        int64_t fc = sl_rows_i64(rows, i, 4), fs = sl_rows_i64(rows, i, 5);
        if (t == NULL)
            return UV_ENOMEM;
        t->n[b] += sl_rows_num(rows, i, 3);
        if (fc == 0) /* refused before admission: in no deployment */
            continue;
        struct lane *l = lane_get(r, sl_rows_cell(rows, i, 0));
        if (l == NULL)
            return UV_ENOMEM;
        l->fc[b] += fc;
        l->fs[b] += fs;
        r->lanes[0].fc[b] += fc;
        r->lanes[0].fs[b] += fs;
    }
    return 0;
}

/* serve: by deployment and start bucket; then the timeline is complete */
static int on_starts(struct report *r)
{
    struct sl_rows *rows = r->rows;
    for (unsigned i = 0; i < rows->n_rows; i++) {
        int64_t b = bucket(r, sl_rows_i64(rows, i, 1));
        int64_t sc = sl_rows_i64(rows, i, 2), ss = sl_rows_i64(rows, i, 3);
        struct lane *l = lane_get(r, sl_rows_cell(rows, i, 0));
        if (l == NULL)
            return UV_ENOMEM;
        l->sc[b] += sc;
        l->ss[b] += ss;
        r->lanes[0].sc[b] += sc;
        r->lanes[0].ss[b] += ss;
    }
    return write_timeline(r);
}

/* The timeline: in flight per lane, completions per second per status. */
static int write_timeline(struct report *r)
{
    struct sl_jw *w = &r->w_json;
    double *v = malloc((size_t)r->nb * sizeof(double));
    if (v == NULL)
        return UV_ENOMEM;
    sl_jw_key(w, "timeline");
    sl_jw_object(w);
    kv_num(w, "bucket_s", (double)r->w / 1e6);
    for (int64_t k = 0; k < r->nb; k++)
        v[k] = (double)(k * r->w) / 1e6;
    array_of(w, "t", v, r->nb);
    sl_jw_key(w, "in_flight");
    sl_jw_object(w);
    for (unsigned i = 0; i < r->n_lanes; i++) {
        integrate(r, &r->lanes[i], v);
        array_of(w, i == 0 ? "total" : r->lanes[i].name, v, r->nb);
    }
    sl_jw_end(w);
    sl_jw_key(w, "rate"); /* completions per second, by status name */
    sl_jw_object(w);
    qsort(r->rates, r->n_rates, sizeof(*r->rates), rate_cmp);
    for (unsigned i = 0; i < r->n_rates; i++) {
        for (int64_t k = 0; k < r->nb; k++)
            v[k] = r->rates[i].n[k] / ((double)r->w / 1e6);
        array_of(w, r->rates[i].name, v, r->nb);
    }
    sl_jw_end(w);
    sl_jw_end(w);
    free(v);
    return 0;
}

/* The histogram's range: everything, unless a long tail would squeeze
 * the bulk into a few bins; then up to 2 x p99 and a last bin for the rest. */
static void hist_range(int64_t max_us, double p99_ms, int64_t *w, int64_t *nb)
{
    int64_t hi = max_us + 1;
    if (p99_ms > 0 && (double)hi > 2 * p99_ms * 1000)
        hi = (int64_t)(2 * p99_ms * 1000) + 1;
    *w = round_up(ceil((double)hi / HIST_BINS));
    *nb = (hi + *w - 1) / *w;
}

static void write_hist(struct report *r, const char *key, int64_t bin_w, int64_t nb,
                       const double *counts)
{
    struct sl_jw *w = &r->w_json;
    sl_jw_key(w, key);
    sl_jw_object(w);
    kv_num(w, "bin_ms", (double)bin_w / 1000);
    array_of(w, "counts", counts, nb); /* bins [k w, (k + 1) w) */
    kv_num(w, "overflow_from_ms", (double)(nb * bin_w) / 1000);
    kv_num(w, "overflow", counts[nb]);
    sl_jw_end(w);
}

/* One (attempts, status, error) row of the attempts table. */
struct outcome {
    int64_t attempts, n;
    const char *status, *error; /* in the rows */
};

static int outcome_cmp(const void *a, const void *b)
{
    const struct outcome *x = a, *y = b;
    int c = x->attempts < y->attempts ? -1 : x->attempts > y->attempts;
    if (c == 0)
        c = strcmp(x->status, y->status);
    return c ? c : strcmp(x->error, y->error);
}

/* The attempts table: [attempts, status, error, n], ordered by them. */
static int write_attempts(struct report *r)
{
    struct sl_rows *rows = r->rows;
    struct outcome *o = calloc((size_t)rows->n_rows + 1, sizeof(*o));
    size_t n = 0;
    if (o == NULL)
        return UV_ENOMEM;
    for (unsigned i = 0; i < rows->n_rows; i++) {
        struct outcome key = {sl_rows_i64(rows, i, 2), sl_rows_i64(rows, i, 5),
                              sl_rows_cell(rows, i, 3), sl_rows_cell(rows, i, 4)};
        size_t k = 0;
        while (k < n && outcome_cmp(&o[k], &key) != 0)
            k++;
        if (k == n)
            o[n++] = (struct outcome){key.attempts, 0, key.status, key.error};
        o[k].n += key.n;
    }
    qsort(o, n, sizeof(*o), outcome_cmp);
    struct sl_jw *w = &r->w_json;
    sl_jw_key(w, "attempts");
    sl_jw_array(w);
    for (size_t k = 0; k < n; k++) {
        sl_jw_array(w);
        sl_jw_int(w, (long long)o[k].attempts);
        sl_jw_string(w, o[k].status);
        sl_jw_string(w, o[k].error);
        sl_jw_int(w, (long long)o[k].n);
        sl_jw_end(w);
    }
    sl_jw_end(w);
    free(o);
    return 0;
}

static int on_hists(struct report *r)
{
    struct sl_rows *rows = r->rows;
    int64_t pw, pnb, qw, qnb;
    hist_range(r->max_proc, r->stats.p99_ms, &pw, &pnb);
    hist_range(r->max_queue, 0, &qw, &qnb);
    double *p = calloc((size_t)(pnb + qnb + 2), sizeof(double)), *q = p + pnb + 1;
    if (p == NULL)
        return UV_ENOMEM;
    for (unsigned i = 0; i < rows->n_rows; i++) {
        int64_t pb = sl_rows_i64(rows, i, 0), qb = sl_rows_i64(rows, i, 1);
        double n = sl_rows_num(rows, i, 5);
        if (pb < 0) /* never ran */
            continue;
        p[pb > pnb ? pnb : pb] += n;
        q[qb < 0 ? 0 : qb > qnb ? qnb : qb] += n;
    }
    write_hist(r, "processing", pw, pnb, p);
    write_hist(r, "queue", qw, qnb, q);
    free(p);
    return write_attempts(r);
}

static int on_pcts(struct report *r, const char *key)
{
    struct sl_rows *rows = r->rows;
    struct sl_jw *w = &r->w_json;
    double *v = malloc(((size_t)rows->n_rows + 1) * sizeof(double));
    if (v == NULL)
        return UV_ENOMEM;
    sl_jw_key(w, key);
    sl_jw_object(w);
    kv_num(w, "bucket_s", (double)r->pw / 1e6);
    static const char *cols[5] = {"t", "n", "p50", "p95", "p99"};
    for (unsigned c = 0; c < 5; c++) {
        for (unsigned i = 0; i < rows->n_rows; i++)
            v[i] =
                c == 0 ? (double)(sl_rows_i64(rows, i, 0) * r->pw) / 1e6 : sl_rows_num(rows, i, c);
        array_of(w, cols[c], v, rows->n_rows);
    }
    sl_jw_end(w);
    free(v);
    return 0;
}

/* A group's row of the (model, deployment, key) answer, for sorting by
 * one of the three names. */
struct group_ref {
    const char *name;
    unsigned row;
};

static int ref_by_name(const void *a, const void *b)
{
    return strcmp(((const struct group_ref *)a)->name, ((const struct group_ref *)b)->name);
}

#define GROUP_VALUES 10
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
static int on_groups(struct report *r)
{
    struct sl_rows *rows = r->rows;
    struct sl_jw *w = &r->w_json;
    static const char *grp[3] = {"model", "deployment", "key"};
    static const char *cols[GROUP_VALUES] = {
        "requests",      "succeeded",         "failed",   "cancelled",     "retries", "fallbacks",
        "prompt_tokens", "completion_tokens", "cost_usd", "rows_with_cost"};
    size_t n = rows->n_rows;
    struct group_ref *refs = malloc((n + 1) * sizeof(*refs));
    struct group_sum *sums = malloc((n + 1) * sizeof(*sums));
    if (refs == NULL || sums == NULL) {
        free(refs);
        free(sums);
        return UV_ENOMEM;
    }
    sl_jw_key(w, "groups"); /* {grp: [{name, ...}]} */
    sl_jw_object(w);
    for (unsigned g = 0; g < 3; g++) {
        for (unsigned i = 0; i < n; i++)
            refs[i] = (struct group_ref){sl_rows_cell(rows, i, g), i};
        qsort(refs, n, sizeof(*refs), ref_by_name);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (m == 0 || strcmp(sums[m - 1].name, refs[i].name) != 0)
                sums[m++] = (struct group_sum){.name = refs[i].name};
            for (unsigned c = 0; c < GROUP_VALUES; c++)
                sums[m - 1].v[c] += sl_rows_num(rows, refs[i].row, 3 + c);
        }
        qsort(sums, m, sizeof(*sums), sum_by_requests);
        sl_jw_key(w, grp[g]);
        sl_jw_array(w);
        for (size_t i = 0; i < m; i++) {
            sl_jw_object(w);
            sl_jw_kv_string(w, "name", sums[i].name);
            for (unsigned c = 0; c < GROUP_VALUES; c++)
                kv_num(w, cols[c], sums[i].v[c]);
            sl_jw_end(w);
        }
        sl_jw_end(w);
    }
    sl_jw_end(w);
    free(refs);
    free(sums);
    return 0;
}

/* Folds the answer of the step that just ran into the data. */
static int absorb(struct report *r)
{
    switch (r->step) {
    case S_BOUNDS:
        return on_bounds(r);
    case S_TIMELINE:
        return on_timeline(r);
    case S_HISTS:
        return on_hists(r);
    case S_FIN:
        return on_finishes(r);
    case S_START:
        return on_starts(r);
    case S_PCT_LAT:
        return on_pcts(r, "latency");
    case S_PCT_TTFT:
        return on_pcts(r, "ttft");
    case S_GROUPS:
        return on_groups(r);
    default:
        return 0;
    }
}

/* The SQL of a step; -1 when the step does not apply to this kind. */
static int step_sql(struct report *r, enum step s)
{
    char *b = r->sql;
    size_t n = sizeof(r->sql);
    int64_t id = r->stats.run_id, pw, pnb, qw, qnb;
    switch (s) {
    case S_BOUNDS:
        return sl__rsql_bounds(b, n, r->kind, id);
    case S_TIMELINE:
        return r->serve ? -1 : sl__rsql_timeline(b, n, r->kind, id, r->t0, r->w);
    case S_HISTS:
        if (r->serve)
            return -1;
        hist_range(r->max_proc, r->stats.p99_ms, &pw, &pnb);
        hist_range(r->max_queue, 0, &qw, &qnb);
        return sl__rsql_hists(b, n, r->kind, id, pw, pnb, qw, qnb);
    case S_FIN:
        return r->serve ? sl__rsql_serve_finishes(b, n, r->kind, id, r->t0, r->w) : -1;
    case S_START:
        return r->serve ? sl__rsql_serve_starts(b, n, r->kind, id, r->t0, r->w) : -1;
    case S_PCT_LAT:
    case S_PCT_TTFT:
        return r->serve ? sl__rsql_serve_pcts(b, n, r->kind, id, s == S_PCT_TTFT, r->t0, r->pw)
                        : -1;
    case S_GROUPS:
        return r->serve ? sl__rsql_serve_groups(b, n, r->kind, id) : -1;
    default:
        return -1;
    }
}

static int write_page(struct report *r)
{
    char tmp[4200], title[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", r->path, (int)getpid());
    snprintf(title, sizeof(title), "sluice %s run %" PRId64, r->stats.command, r->stats.run_id);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(r->err, sizeof(r->err), "cannot write %s: %s", r->path, strerror(errno));
        return UV_EIO;
    }
    int rc = sl__report_page_write(f, title, r->json.ptr, r->json.len);
    if (fclose(f) != 0 || rc != 0 || rename(tmp, r->path) != 0) {
        snprintf(r->err, sizeof(r->err), "cannot write %s: %s", r->path, strerror(errno));
        unlink(tmp);
        return UV_EIO;
    }
    return 0;
}

static void trace(struct report *r)
{
    static const char *names[] = {"stats",  "bounds",  "timeline", "histograms", "finishes",
                                  "starts", "latency", "ttft",     "groups"};
    if (r->trace)
        fprintf(stderr, "report: %-10s %8.1f ms\n", r->step < S_DONE ? names[r->step] : "page",
                (double)(uv_hrtime() - r->sent_ns) / 1e6);
    r->sent_ns = uv_hrtime();
}

static void on_rows(struct sl_store *store, int status, void *arg)
{
    struct report *r = arg;
    trace(r);
    if (status != 0) {
        fail(r, status, "%s", sl_store_error(store));
        return;
    }
    status = absorb(r);
    sl_rows_free(r->rows);
    r->rows = NULL;
    if (status != 0) {
        if (r->err[0] == '\0')
            snprintf(r->err, sizeof(r->err), "report: %s", uv_strerror(status));
        finish(r, status);
        return;
    }
    r->step++;
    next(r);
}

static void next(struct report *r)
{
    while (r->step < S_DONE && step_sql(r, r->step) != 0)
        r->step++;
    if (r->step < S_DONE) {
        sl_store_query_rows(r->store, r->sql, &r->rows, on_rows, r);
        return;
    }
    sl_jw_end(&r->w_json);
    int status = sl_jw_finish(&r->w_json);
    if (status != 0) {
        snprintf(r->err, sizeof(r->err), "report data too large (%s)", uv_strerror(status));
        finish(r, status);
        return;
    }
    status = write_page(r);
    trace(r);
    finish(r, status);
}

static void on_stats(struct sl_store *store, int status, void *arg)
{
    struct report *r = arg;
    trace(r);
    if (status != 0) {
        fail(r, status, "%s", sl_store_error(store));
        return;
    }
    r->serve = strcmp(r->stats.command, "serve") == 0;
    sl_jw_object(&r->w_json);
    sl_jw_kv_int(&r->w_json, "version", 1);
    r->step = S_BOUNDS;
    next(r);
}

int sl_run_report(struct sl_store *store, int64_t run_id, const char *path, sl_run_report_cb cb,
                  void *arg)
{
    struct report *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return UV_ENOMEM;
    }
    r->store = store;
    r->kind = sl_store_kind(store);
    r->cb = cb;
    r->arg = arg;
    sl_buf_init(&r->json, DATA_MAX);
    sl_jw_init(&r->w_json, &r->json);
    r->step = S_STATS;
    r->trace = getenv("SLUICE_REPORT_TRACE") != NULL;
    r->sent_ns = uv_hrtime();
    sl_store_query_stats(store, run_id, &r->stats, on_stats, r);
    return 0;
}
