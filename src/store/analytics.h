/* Analytics of a run, computed by SQL from the recorded rows (never from
 * the simulator's memory), so `sluice stats` on an old database and the
 * end-of-run report are the same numbers. */
#ifndef SL_ANALYTICS_H
#define SL_ANALYTICS_H

#include <sqlite3.h>
#include <stddef.h>

#include "store/store.h"

/* run_id 0 = the latest run. Returns SQLITE_OK, SQLITE_NOTFOUND (no such
 * run) or an error, with a one-line reason in err. */
int sl_stats_query_sqlite(sqlite3 *db, int64_t run_id, struct sl_stats *out, char *err,
                          size_t err_size);

/* The totals of a run's rows, as both dialects' queries select them, in
 * this order: rows, succeeded, failed, cancelled, retries, mean processing
 * ms, mean queue ms, busy ms, makespan in microseconds. Sets them in out,
 * then the derived figures (ideal makespan, efficiency) from them and the
 * run's concurrency. */
#define SL_STATS_TOTALS 9
void sl_stats_totals(struct sl_stats *out, const double v[SL_STATS_TOTALS]);

/* serve runs: one query, the same SQL on SQLite and PostgreSQL but for its
 * first line, which selects the run's rows ($1, $2: the SQLite id range;
 * $1: the PostgreSQL run id). Each result row is (grp, name, n, v1..v9),
 * handed to sl_stats_serve_row in order. */
const char *sl_stats_serve_sql(enum sl_store_kind kind);
#define SL_SERVE_VALUES 9
void sl_stats_serve_row(struct sl_stats *out, const char *grp, const char *name, uint64_t n,
                        const double v[SL_SERVE_VALUES]);

#endif
