/* The report's data (see run_report.h): the run's row, the bounds of its
 * times, then one pass over its rows, folded into the data JSON.
 *
 * Design
 *  - One pass (report/sim_pass.h, report/serve_pass.h): the run's rows
 *    come in keyset chunks of CHUNK_ROWS (by request id: a range of the
 *    primary key on both databases), and every figure of the page is
 *    summed from them as they come; the next chunk is asked for before
 *    the current one is folded, so that the database reads while the
 *    loop sums. SQL aggregates were this module's first form: five to
 *    seven scans and sorts of the rows, and for serve a parse of every
 *    row's metadata JSON in each (20-30 s for a million rows).
 *  - Time buckets: the run's span (first created to last finished) is cut
 *    into at most MAX_BUCKETS buckets of a round width. In flight is the
 *    time average over each bucket, exact: the integral of the number of
 *    requests in flight is sum over started rows of (min(f, T) - min(s, T)),
 *    which the per-bucket counts and sums of start and finish offsets give
 *    with prefix sums (integrate()). Requests in flight are the ones
 *    between started (admitted: the semaphore taken) and finished.
 *  - Order: the run -> bounds -> the chunks -> the page. The first failure
 *    ends the chain; cb gets it.
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
#include "report/report_impl.h"
#include "report/report_sql.h"
#include "report/run_report.h"
#include "report/serve_pass.h"
#include "report/sim_pass.h"

#define MAX_BUCKETS     240 /* time buckets of the timelines */
#define MAX_PCT_BUCKETS 120 /* buckets of the percentile series (sorts per bucket) */
#define HIST_BINS       60
#define DATA_MAX        (64u << 20)
/* rows per query: small enough that PostgreSQL computes the next chunk
 * while the loop sums this one (an answer of a few MB fits in the
 * socket's buffers; 40,000 was slower), 10 MB at a serve row's bound */
#define CHUNK_ROWS 10000

static void next(struct report *r);
static void on_chunk(struct sl_store *store, int status, void *arg);
int sl__report_write_timeline(struct report *r);

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
    sl_serve_pass_free(r->pass);
    sl_sim_pass_free(r->sim);
    free(r->params);
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

void sl__report_kv_num(struct sl_jw *w, const char *key, double v)
{
    sl_jw_key(w, key);
    jnum(w, v);
}

void sl__report_array_of(struct sl_jw *w, const char *key, const double *v, int64_t n)
{
    sl_jw_key(w, key);
    sl_jw_array(w);
    for (int64_t i = 0; i < n; i++)
        jnum(w, v[i]);
    sl_jw_end(w);
}

/* ---- lanes (in flight) and rates ---------------------------------------- */

struct lane *sl__report_lane_get(struct report *r, const char *name)
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

/* A pass's per-bucket starts and finishes added to a lane. */
void sl__report_lane_add(const struct report *r, struct lane *l, const int64_t *sc,
                         const int64_t *ss, const int64_t *fc, const int64_t *fs)
{
    for (int64_t b = 0; b < r->nb; b++) {
        l->sc[b] += sc[b];
        l->ss[b] += ss[b];
        l->fc[b] += fc[b];
        l->fs[b] += fs[b];
    }
}

struct rate *sl__report_rate_get(struct report *r, const char *name)
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

void sl__report_run_fields(struct report *r, const char *params)
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
    sl__report_kv_num(w, "span_s", (double)(r->t1 - r->t0) / 1e6);
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
    if (sl__report_lane_get(r, "") == NULL) /* lanes[0]: the total */
        return UV_ENOMEM;
    /* the run's fields once its rows have given the stats */
    const char *params = sl_rows_cell(rows, 0, 0);
    r->params = strdup(params ? params : "{}");
    if (r->serve)
        r->pass = sl_serve_pass_new(r->t0, r->w, r->nb, r->pw);
    else
        r->sim = sl_sim_pass_new(r->t0, r->w, r->nb);
    return r->params && (r->pass || r->sim) ? 0 : UV_ENOMEM;
}

/* A chunk of the run's rows into the pass (columns: sl__rsql_chunk). */
static int fold_chunk(struct report *r, const struct sl_rows *rows)
{
    for (unsigned i = 0; i < rows->n_rows; i++) {
        const char *st = sl_rows_cell(rows, i, 5), *x = sl_rows_cell(rows, i, 6);
        int64_t c = sl_rows_i64(rows, i, 1), f = sl_rows_i64(rows, i, 3);
        int64_t s = sl_rows_cell(rows, i, 2) ? sl_rows_i64(rows, i, 2) : -1;
        int rc = r->serve
                     ? sl_serve_pass_add(r->pass, c, s, f, sl_rows_i64(rows, i, 4), st ? st : "", x,
                                         x ? strlen(x) : 0)
                     : sl_sim_pass_add(r->sim, c, s, f, sl_rows_i64(rows, i, 4), st ? st : "", x);
        if (rc != 0) {
            snprintf(r->err, sizeof(r->err), "%s",
                     r->serve ? sl_serve_pass_error(r->pass) : sl_sim_pass_error(r->sim));
            return rc;
        }
    }
    return 0;
}

/* The timeline: in flight per lane, completions per second per status. */
int sl__report_write_timeline(struct report *r)
{
    struct sl_jw *w = &r->w_json;
    double *v = malloc((size_t)r->nb * sizeof(double));
    if (v == NULL)
        return UV_ENOMEM;
    sl_jw_key(w, "timeline");
    sl_jw_object(w);
    sl__report_kv_num(w, "bucket_s", (double)r->w / 1e6);
    for (int64_t k = 0; k < r->nb; k++)
        v[k] = (double)(k * r->w) / 1e6;
    sl__report_array_of(w, "t", v, r->nb);
    sl_jw_key(w, "in_flight");
    sl_jw_object(w);
    for (unsigned i = 0; i < r->n_lanes; i++) {
        integrate(r, &r->lanes[i], v);
        sl__report_array_of(w, i == 0 ? "total" : r->lanes[i].name, v, r->nb);
    }
    sl_jw_end(w);
    sl_jw_key(w, "rate"); /* completions per second, by status name */
    sl_jw_object(w);
    qsort(r->rates, r->n_rates, sizeof(*r->rates), rate_cmp);
    for (unsigned i = 0; i < r->n_rates; i++) {
        for (int64_t k = 0; k < r->nb; k++)
            v[k] = r->rates[i].n[k] / ((double)r->w / 1e6);
        sl__report_array_of(w, r->rates[i].name, v, r->nb);
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
    sl__report_kv_num(w, "bin_ms", (double)bin_w / 1000);
    sl__report_array_of(w, "counts", counts, nb); /* bins [k w, (k + 1) w) */
    sl__report_kv_num(w, "overflow_from_ms", (double)(nb * bin_w) / 1000);
    sl__report_kv_num(w, "overflow", counts[nb]);
    sl_jw_end(w);
}

/* The attempts table: [attempts, status, error, n], ordered by them. */
static void attempts_row(void *arg, int64_t attempts, const char *status, const char *error,
                         uint64_t n)
{
    struct sl_jw *w = arg;
    sl_jw_array(w);
    sl_jw_int(w, (long long)attempts);
    sl_jw_string(w, status);
    sl_jw_string(w, error);
    sl_jw_int(w, (long long)n);
    sl_jw_end(w);
}

/* simulate, after the last chunk: the run's fields and stats, the
 * timeline, both histograms, the attempts table. */
static int sim_figures(struct report *r)
{
    struct sl_sim_pass *p = r->sim;
    int rc = sl_sim_pass_finish(p);
    if (rc != 0)
        return rc;
    sl_sim_pass_stats(p, &r->stats);
    sl__report_run_fields(r, r->params);
    static const char *names[3] = {"succeeded", "failed", "cancelled"};
    for (unsigned k = 0; k < 3; k++) {
        struct rate *t = sl__report_rate_get(r, names[k]);
        if (t == NULL)
            return UV_ENOMEM;
        const double *n = sl_sim_pass_rate(p, k);
        for (int64_t b = 0; b < r->nb; b++)
            t->n[b] += n[b];
    }
    const int64_t *sc, *ss, *fc, *fs;
    sl_sim_pass_lane(p, &sc, &ss, &fc, &fs);
    sl__report_lane_add(r, &r->lanes[0], sc, ss, fc, fs);
    if ((rc = sl__report_write_timeline(r)) != 0)
        return rc;

    int64_t pw, pnb, qw, qnb;
    hist_range(r->max_proc, r->stats.p99_ms, &pw, &pnb);
    hist_range(r->max_queue, 0, &qw, &qnb);
    double *h = malloc((size_t)(pnb + qnb + 2) * sizeof(double));
    if (h == NULL)
        return UV_ENOMEM;
    sl_sim_pass_hist(p, 0, pw, pnb, h);
    write_hist(r, "processing", pw, pnb, h);
    sl_sim_pass_hist(p, 1, qw, qnb, h);
    write_hist(r, "queue", qw, qnb, h);
    free(h);
    sl_jw_key(&r->w_json, "attempts");
    sl_jw_array(&r->w_json);
    sl_sim_pass_outcomes(p, attempts_row, &r->w_json);
    sl_jw_end(&r->w_json);
    return 0;
}

static int on_run(struct report *r);

/* Folds the answer of the step that just ran into the data. */
static int absorb(struct report *r)
{
    switch (r->step) {
    case S_RUN:
        return on_run(r);
    case S_BOUNDS:
        return on_bounds(r);
    default:
        return 0;
    }
}

/* The SQL of a step; -1 when the step does not apply to this kind. */
static int step_sql(struct report *r, enum step s)
{
    char *b = r->sql;
    size_t n = sizeof(r->sql);
    int64_t id = r->stats.run_id;
    switch (s) {
    case S_RUN:
        return sl__rsql_run(b, n, r->want_run);
    case S_BOUNDS:
        return sl__rsql_bounds(b, n, r->kind, id);
    case S_SCAN:
        return sl__rsql_chunk(b, n, r->kind, id, r->serve, r->scan_after, CHUNK_ROWS);
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

/* A step's time, from its query's sending to its answer's folding (a
 * serve run's chunks counted as one step). */
static void trace(struct report *r)
{
    static const char *names[] = {"run", "bounds", "scan"};
    if (r->trace)
        fprintf(stderr, "report: %-10s %8.1f ms\n", r->step < S_DONE ? names[r->step] : "page",
                (double)(uv_hrtime() - r->sent_ns) / 1e6);
    r->sent_ns = uv_hrtime();
}

static void on_rows(struct sl_store *store, int status, void *arg)
{
    struct report *r = arg;
    if (status != 0) {
        fail(r, status, "%s", sl_store_error(store));
        return;
    }
    status = absorb(r);
    trace(r);
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

/* A chunk came. The next one is asked for before this one is
 * folded, so that the database (SQLite's thread, PostgreSQL's server)
 * reads it while the loop folds; a failure waits for the chunk in flight,
 * then ends the report. */
static void on_chunk(struct sl_store *store, int status, void *arg)
{
    struct report *r = arg;
    struct sl_rows *rows = r->rows;
    r->rows = NULL;
    if (status != 0 && r->scan_status == 0) {
        snprintf(r->err, sizeof(r->err), "%s", sl_store_error(store));
        r->scan_status = status;
    }
    int more = r->scan_status == 0 && rows->n_rows == CHUNK_ROWS;
    if (more) {
        r->scan_after = sl_rows_i64(rows, rows->n_rows - 1, 0);
        step_sql(r, S_SCAN);
        sl_store_query_rows(r->store, r->sql, &r->rows, on_chunk, r);
    }
    if (r->scan_status == 0)
        r->scan_status = fold_chunk(r, rows);
    sl_rows_free(rows);
    if (more)
        return;
    if (r->scan_status == 0)
        r->scan_status = r->serve ? sl__report_serve_figures(r) : sim_figures(r);
    trace(r);
    if (r->scan_status != 0) {
        if (r->err[0] == '\0')
            snprintf(r->err, sizeof(r->err), "report: %s", uv_strerror(r->scan_status));
        finish(r, r->scan_status);
        return;
    }
    r->step = S_DONE;
    next(r);
}

static void next(struct report *r)
{
    while (r->step < S_DONE && step_sql(r, r->step) != 0)
        r->step++;
    if (r->step < S_DONE) {
        sl_store_query_rows(r->store, r->sql, &r->rows, r->step == S_SCAN ? on_chunk : on_rows, r);
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

/* The run's row: id, requests, concurrency, max in flight, status,
 * command (see sl__rsql_run). */
static int on_run(struct report *r)
{
    struct sl_rows *rows = r->rows;
    if (rows->n_rows != 1) {
        if (r->want_run > 0)
            snprintf(r->err, sizeof(r->err), "no run %" PRId64 " in this database", r->want_run);
        else
            snprintf(r->err, sizeof(r->err), "no runs in this database yet");
        return UV_ENOENT;
    }
    struct sl_stats *s = &r->stats;
    memset(s, 0, sizeof(*s));
    s->run_id = sl_rows_i64(rows, 0, 0);
    s->requests = (uint64_t)sl_rows_i64(rows, 0, 1);
    s->concurrency = (unsigned)sl_rows_i64(rows, 0, 2);
    s->max_in_flight = (unsigned)sl_rows_i64(rows, 0, 3);
    const char *st = sl_rows_cell(rows, 0, 4), *cmd = sl_rows_cell(rows, 0, 5);
    snprintf(s->run_status, sizeof(s->run_status), "%s", st ? st : "");
    snprintf(s->command, sizeof(s->command), "%s", cmd ? cmd : "");
    r->serve = strcmp(s->command, "serve") == 0;
    sl_jw_object(&r->w_json);
    sl_jw_kv_int(&r->w_json, "version", 1);
    return 0;
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
    r->want_run = run_id;
    r->scan_after = -1;
    sl_buf_init(&r->json, DATA_MAX);
    sl_jw_init(&r->w_json, &r->json);
    r->step = S_RUN;
    r->trace = getenv("SLUICE_REPORT_TRACE") != NULL;
    r->sent_ns = uv_hrtime();
    next(r);
    return 0;
}
