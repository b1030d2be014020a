/* A serve run's report figures in one pass over its rows.
 *
 * Why: serve's rows keep what the gateway saw (model, deployment, key,
 * HTTP status, first byte, tokens, cost) in their metadata JSON. Asked in
 * SQL, every figure reparses that JSON in the database and every
 * percentile is a window sort: a million rows took 20-30 s. Here each
 * row's metadata is scanned once (http/json_scan) and every figure of
 * the page is summed in the same pass; the rows come in keyset chunks
 * (report_sql.h), so memory holds one chunk plus the values the exact
 * percentiles need (16 bytes a row and series).
 *
 * The figures follow the SQL they replace (store/analytics.c for the
 * stats block, which `sluice stats --json` prints the same way; the
 * timeline, percentiles and tables of docs/report.md), and the report's
 * tests check them against SQL on the same database.
 *
 * Bounds: SL_SERVE_PASS_MAX_ROWS rows, SL_SERVE_PASS_MAX_NAMES distinct
 * (model, deployment, key) and (deployment) and (HTTP status) names; past
 * them sl_serve_pass_add fails with UV_E2BIG and a reason. */
#ifndef SL_SERVE_PASS_H
#define SL_SERVE_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SL_SERVE_PASS_MAX_ROWS  (32u << 20)
#define SL_SERVE_PASS_MAX_NAMES 65536u

struct sl_serve_pass;

/* Time buckets of the timeline: t0 the origin, w the width and nb the
 * number of buckets (microseconds); pw the width of the percentile
 * buckets. NULL when out of memory. */
struct sl_serve_pass *sl_serve_pass_new(int64_t t0, int64_t w, int64_t nb, int64_t pw);
void sl_serve_pass_free(struct sl_serve_pass *p);

/* One row: created, started (-1: never ran), finished (microseconds),
 * attempts, status ("succeeded"...), metadata JSON. 0, or UV_E2BIG /
 * UV_ENOMEM with a reason in sl_serve_pass_error. */
int sl_serve_pass_add(struct sl_serve_pass *p, int64_t c, int64_t s, int64_t f, int64_t attempts,
                      const char *status, const char *md, size_t md_len);
const char *sl_serve_pass_error(const struct sl_serve_pass *p);

/* After the last row. 0 or UV_ENOMEM (the percentiles' sorts). */
int sl_serve_pass_finish(struct sl_serve_pass *p);

/* The stats block's serve figures, as store/analytics.c's SQL gives them. */
void sl_serve_pass_stats(const struct sl_serve_pass *p, struct sl_stats *out);

/* Deployments that ran requests: per timeline bucket, starts (count, sum
 * of s - t0) and finishes of rows that ran (count, sum of f - t0). */
unsigned sl_serve_pass_lanes(const struct sl_serve_pass *p);
const char *sl_serve_pass_lane(const struct sl_serve_pass *p, unsigned i, const int64_t **sc,
                               const int64_t **ss, const int64_t **fc, const int64_t **fs);
/* HTTP statuses ("0": none recorded): rows finished per timeline bucket. */
unsigned sl_serve_pass_rates(const struct sl_serve_pass *p);
const char *sl_serve_pass_rate(const struct sl_serve_pass *p, unsigned i, const double **n);

/* Nearest-rank percentiles per percentile bucket (by finish time) of the
 * latency (ttft 0: f - c, every row) or the first byte (ttft 1: rows with
 * ttfb_ms > 0), in milliseconds; only buckets with rows, in order. */
typedef void (*sl_serve_pass_pct_fn)(void *arg, int64_t bucket, uint64_t n, double p50, double p95,
                                     double p99);
void sl_serve_pass_pcts(const struct sl_serve_pass *p, int ttft, sl_serve_pass_pct_fn fn,
                        void *arg);

/* The (model, deployment, key) groups: v[0] requests, succeeded, failed,
 * cancelled, retries, fallbacks, prompt tokens, completion tokens, cost,
 * rows with a cost. */
#define SL_SERVE_PASS_GROUP_VALUES 10
typedef void (*sl_serve_pass_group_fn)(void *arg, const char *model, const char *deployment,
                                       const char *key, const double *v);
void sl_serve_pass_groups(const struct sl_serve_pass *p, sl_serve_pass_group_fn fn, void *arg);

#endif
