/* Inside the run report (report_data.c, report_serve.c): its state and
 * the helpers both kinds' figures use. See report_data.c's design note. */
#ifndef SL_REPORT_IMPL_H
#define SL_REPORT_IMPL_H

#include <stdint.h>

#include "core/buf.h"
#include "http/json_write.h"
#include "report/run_report.h"
#include "report/serve_pass.h"
#include "report/sim_pass.h"
#include "store/store.h"

#define MAX_LANES 16 /* deployments and statuses shown apart; the rest is "other" */

enum step {
    S_RUN,
    S_BOUNDS,
    S_SCAN, /* chunk after chunk until one is short */
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
    int64_t want_run;           /* 0: the latest */
    char *params;               /* the run's, until the page's run fields */
    struct sl_serve_pass *pass; /* serve */
    struct sl_sim_pass *sim;    /* simulate */
    int64_t scan_after;         /* the last request id read */
    int scan_status;            /* the first failure of the scan */
    int trace;        /* SLUICE_REPORT_TRACE set: each query's time on stderr (bench/report.sh) */
    uint64_t sent_ns; /* when the step's query went out */
};

/* JSON: a number (null when not finite) under key; an array of them */
void sl__report_kv_num(struct sl_jw *w, const char *key, double v);
void sl__report_array_of(struct sl_jw *w, const char *key, const double *v, int64_t n);
/* A deployment's lane (index 0: the total), a status's rate: created on
 * first use, the last one "other" past MAX_LANES; NULL out of memory. */
struct lane *sl__report_lane_get(struct report *r, const char *name);
void sl__report_lane_add(const struct report *r, struct lane *l, const int64_t *sc,
                         const int64_t *ss, const int64_t *fc, const int64_t *fs);
struct rate *sl__report_rate_get(struct report *r, const char *name);
/* The page's run fields and its stats block; the timeline. */
void sl__report_run_fields(struct report *r, const char *params);
int sl__report_write_timeline(struct report *r);

/* report_serve.c: a serve run's figures, after its last chunk. */
int sl__report_serve_figures(struct report *r);

#endif
