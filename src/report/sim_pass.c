/* See sim_pass.h. Who owns what: the pass owns its arrays and the
 * outcomes' names (copied in). Invariants: times[] holds one entry per
 * row that ran, in row order until sl_sim_pass_finish sorts it; the
 * per-bucket arrays have nb entries. */
#include "report/sim_pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "report/names.h"
#include "report/pass_span.h"
#include "store/analytics.h"

static const char *const status_names[3] = {"succeeded", "failed", "cancelled"};

struct ran {
    int64_t proc, queue; /* f - s, s - c */
};

struct sl_sim_pass {
    int64_t t0, w, nb;
    char err[160];
    struct sl_pass_span span;
    uint64_t by_status[3], retries;
    double proc_ms_sum, queue_ms_sum; /* in row order, as SQL's sum() and avg() add them */

    double *rate[3];            /* finished per bucket, by status */
    int64_t *sc, *ss, *fc, *fs; /* one allocation of 4 nb */

    struct ran *ran;
    size_t n_ran, cap_ran;
    int64_t *sorted_proc, *sorted_queue; /* after finish */

    struct sl_names outcomes; /* "attempts status error" */
    uint64_t *outcome_n;
};

static int64_t clamp(const struct sl_sim_pass *p, int64_t b)
{
    return b < 0 ? 0 : b >= p->nb ? p->nb - 1 : b;
}

static unsigned status_index(const char *status)
{
    for (unsigned k = 0; k < 3; k++)
        if (strcmp(status, status_names[k]) == 0)
            return k;
    return 3;
}

static int outcome(struct sl_sim_pass *p, int64_t attempts, unsigned st, const char *error)
{
    char key[300];
    int len = snprintf(key, sizeof(key), "%lld%c%s%c%s", (long long)attempts, 0,
                       st < 3 ? status_names[st] : "", 0, error ? error : "");
    if (len < 0 || (size_t)len >= sizeof(key))
        len = (int)sizeof(key) - 1;
    int added, rc = 0;
    long i = sl_names_get(&p->outcomes, key, (size_t)len, SL_SIM_PASS_MAX_OUTCOMES, &added, &rc);
    if (i < 0) {
        if (rc == UV_E2BIG)
            snprintf(p->err, sizeof(p->err),
                     "the run has more than %u (attempts, status, error) outcomes",
                     SL_SIM_PASS_MAX_OUTCOMES);
        return rc;
    }
    if (added) {
        if ((rc = sl_names_grow_items(&p->outcomes, (void **)&p->outcome_n,
                                      sizeof(*p->outcome_n))) != 0)
            return rc;
        p->outcomes.items_cap = p->outcomes.cap;
    }
    p->outcome_n[i]++;
    return 0;
}

int sl_sim_pass_add(struct sl_sim_pass *p, int64_t c, int64_t s, int64_t f, int64_t attempts,
                    const char *status, const char *error)
{
    int rc = sl_pass_span_add(&p->span, c, f, SL_SIM_PASS_MAX_ROWS, p->err, sizeof(p->err));
    if (rc != 0)
        return rc;
    unsigned st = status_index(status);
    rc = outcome(p, attempts, st, error);
    if (rc != 0) {
        if (p->err[0] == '\0')
            snprintf(p->err, sizeof(p->err), "report: %s", uv_strerror(rc));
        return rc;
    }
    int64_t fb = clamp(p, (f - p->t0) / p->w);
    if (st < 3) {
        p->by_status[st]++;
        p->rate[st][fb] += 1;
    }
    p->retries += attempts > 1 ? (uint64_t)(attempts - 1) : 0;
    if (s >= 0) {
        if (p->n_ran == p->cap_ran) {
            size_t cap = p->cap_ran ? p->cap_ran * 2 : 4096;
            struct ran *r = realloc(p->ran, cap * sizeof(*r));
            if (r == NULL) {
                snprintf(p->err, sizeof(p->err), "report: %s", uv_strerror(UV_ENOMEM));
                return UV_ENOMEM;
            }
            p->ran = r;
            p->cap_ran = cap;
        }
        p->ran[p->n_ran++] = (struct ran){f - s, s - c};
        p->proc_ms_sum += (double)(f - s) / 1000.0;
        p->queue_ms_sum += (double)(s - c) / 1000.0;
        int64_t sb = clamp(p, (s - p->t0) / p->w);
        p->sc[sb]++;
        p->ss[sb] += s - p->t0;
        p->fc[fb]++;
        p->fs[fb] += f - p->t0;
    }
    return 0;
}

static int by_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int sl_sim_pass_finish(struct sl_sim_pass *p)
{
    p->sorted_proc = malloc((2 * p->n_ran + 1) * sizeof(int64_t));
    if (p->sorted_proc == NULL)
        return UV_ENOMEM;
    p->sorted_queue = p->sorted_proc + p->n_ran;
    for (size_t i = 0; i < p->n_ran; i++) {
        p->sorted_proc[i] = p->ran[i].proc;
        p->sorted_queue[i] = p->ran[i].queue;
    }
    if (p->n_ran > 1) {
        qsort(p->sorted_proc, p->n_ran, sizeof(int64_t), by_i64);
        qsort(p->sorted_queue, p->n_ran, sizeof(int64_t), by_i64);
    }
    return 0;
}

void sl_sim_pass_stats(const struct sl_sim_pass *p, struct sl_stats *out)
{
    double n = (double)p->n_ran;
    double v[SL_STATS_TOTALS] = {(double)p->span.rows,
                                 (double)p->by_status[0],
                                 (double)p->by_status[1],
                                 (double)p->by_status[2],
                                 (double)p->retries,
                                 p->n_ran ? p->proc_ms_sum / n : 0,
                                 p->n_ran ? p->queue_ms_sum / n : 0,
                                 p->proc_ms_sum,
                                 p->span.rows ? (double)(p->span.max_f - p->span.min_c) : 0};
    sl_stats_totals(out, v);
    /* nearest rank as store/analytics.c takes it (SQLite: ceil(q n) in
     * double; PostgreSQL's percentile_disc the same) */
    static const double q[3] = {0.50, 0.95, 0.99};
    double *dst[3] = {&out->p50_ms, &out->p95_ms, &out->p99_ms};
    for (int i = 0; i < 3; i++) {
        uint64_t rank = (uint64_t)ceil(q[i] * n);
        *dst[i] = p->n_ran ? (double)p->sorted_proc[(rank < 1 ? 1 : rank) - 1] / 1000.0 : 0;
    }
}

const double *sl_sim_pass_rate(const struct sl_sim_pass *p, unsigned status)
{
    return p->rate[status];
}

void sl_sim_pass_lane(const struct sl_sim_pass *p, const int64_t **sc, const int64_t **ss,
                      const int64_t **fc, const int64_t **fs)
{
    *sc = p->sc, *ss = p->ss, *fc = p->fc, *fs = p->fs;
}

void sl_sim_pass_hist(const struct sl_sim_pass *p, int queue, int64_t w, int64_t nb, double *counts)
{
    const int64_t *v = queue ? p->sorted_queue : p->sorted_proc;
    memset(counts, 0, (size_t)(nb + 1) * sizeof(double));
    for (size_t i = 0; i < p->n_ran; i++) {
        int64_t b = v[i] < 0 ? 0 : v[i] / w;
        counts[b > nb ? nb : b] += 1;
    }
}

struct ordered {
    int64_t attempts;
    const char *status, *error;
    uint64_t n;
};

static int by_outcome(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    int c = x->attempts < y->attempts ? -1 : x->attempts > y->attempts;
    if (c == 0)
        c = strcmp(x->status, y->status);
    return c ? c : strcmp(x->error, y->error);
}

void sl_sim_pass_outcomes(struct sl_sim_pass *p, sl_sim_pass_outcome_fn fn, void *arg)
{
    unsigned n = p->outcomes.n;
    struct ordered *o = malloc((n + 1) * sizeof(*o));
    if (o == NULL)
        return;
    for (unsigned i = 0; i < n; i++) {
        const char *key = p->outcomes.name[i], *st = key + strlen(key) + 1;
        o[i] = (struct ordered){strtoll(key, NULL, 10), st, st + strlen(st) + 1, p->outcome_n[i]};
    }
    qsort(o, n, sizeof(*o), by_outcome);
    for (unsigned i = 0; i < n; i++)
        fn(arg, o[i].attempts, o[i].status, o[i].error, o[i].n);
    free(o);
}

const char *sl_sim_pass_error(const struct sl_sim_pass *p)
{
    return p->err;
}

struct sl_sim_pass *sl_sim_pass_new(int64_t t0, int64_t w, int64_t nb)
{
    struct sl_sim_pass *p = calloc(1, sizeof(*p));
    double *rates = calloc((size_t)nb * 3, sizeof(double));
    int64_t *lane = calloc((size_t)nb * 4, sizeof(int64_t));
    if (p == NULL || rates == NULL || lane == NULL) {
        free(p), free(rates), free(lane);
        return NULL;
    }
    p->t0 = t0, p->w = w, p->nb = nb;
    for (unsigned k = 0; k < 3; k++)
        p->rate[k] = rates + k * nb;
    p->sc = lane, p->ss = lane + nb, p->fc = lane + 2 * nb, p->fs = lane + 3 * nb;
    return p;
}

void sl_sim_pass_free(struct sl_sim_pass *p)
{
    if (p == NULL)
        return;
    free(p->rate[0]);
    free(p->sc);
    free(p->ran);
    free(p->sorted_proc);
    sl_names_free(&p->outcomes);
    free(p->outcome_n);
    free(p);
}
