/* A simulate run's report figures in one pass over its rows (the serve
 * run's counterpart is serve_pass.h, which says why a pass and not SQL).
 *
 * Per row: created c, started s (-1: never ran), finished f
 * (microseconds), attempts, status, error class. Summed: completions per
 * status and time bucket, the in-flight integral's starts and finishes,
 * the (attempts, status, error) outcomes; kept: each started row's
 * processing (f - s) and queue (s - c) times, 16 bytes a row, for the
 * exact percentiles and the histograms, whose ranges are known only at
 * the end. The stats block follows store/analytics.c's SQL (`sluice
 * stats`), against which the report's tests check it.
 *
 * Bounds: SL_SIM_PASS_MAX_ROWS rows and SL_SIM_PASS_MAX_OUTCOMES distinct
 * outcomes; past them sl_sim_pass_add fails with UV_E2BIG and a reason. */
#ifndef SL_SIM_PASS_H
#define SL_SIM_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SL_SIM_PASS_MAX_ROWS     (32u << 20)
#define SL_SIM_PASS_MAX_OUTCOMES 4096u

struct sl_sim_pass;

/* Timeline buckets: origin t0, width w, nb of them (microseconds). */
struct sl_sim_pass *sl_sim_pass_new(int64_t t0, int64_t w, int64_t nb);
void sl_sim_pass_free(struct sl_sim_pass *p);

int sl_sim_pass_add(struct sl_sim_pass *p, int64_t c, int64_t s, int64_t f, int64_t attempts,
                    const char *status, const char *error);
const char *sl_sim_pass_error(const struct sl_sim_pass *p);

/* After the last row: sorts the kept times. 0 or UV_ENOMEM. */
int sl_sim_pass_finish(struct sl_sim_pass *p);

/* The stats block's figures (out's run fields stay the caller's). */
void sl_sim_pass_stats(const struct sl_sim_pass *p, struct sl_stats *out);

/* Per timeline bucket: rows finished by status (0 succeeded, 1 failed, 2
 * cancelled); of the rows that ran, starts (count, sum of s - t0) and
 * finishes (count, sum of f - t0). */
const double *sl_sim_pass_rate(const struct sl_sim_pass *p, unsigned status);
void sl_sim_pass_lane(const struct sl_sim_pass *p, const int64_t **sc, const int64_t **ss,
                      const int64_t **fc, const int64_t **fs);

/* Histogram of the processing (queue = 0) or queue (queue = 1) times of
 * the rows that ran: counts[k] for [k w, (k + 1) w) microseconds, k < nb,
 * counts[nb] everything from nb w up. */
void sl_sim_pass_hist(const struct sl_sim_pass *p, int queue, int64_t w, int64_t nb,
                      double *counts);

/* The outcomes, ordered by attempts, status, error. */
typedef void (*sl_sim_pass_outcome_fn)(void *arg, int64_t attempts, const char *status,
                                       const char *error, uint64_t n);
void sl_sim_pass_outcomes(struct sl_sim_pass *p, sl_sim_pass_outcome_fn fn, void *arg);

#endif
