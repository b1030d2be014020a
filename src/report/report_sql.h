/* The report's queries, as text for either dialect: the run's row, the
 * bounds of its times, and its rows in keyset chunks (the figures are
 * summed from those in C: report/sim_pass.h, report/serve_pass.h).
 * Times are integer microseconds since the epoch on both databases:
 * c, s, f (created, started, finished; s NULL when the request never
 * ran). The numbers written into the text (run id, the last request id
 * read) are integers the report has, never input. */
#ifndef SL_REPORT_SQL_H
#define SL_REPORT_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Each writes one query into buf (0, or -1 when it does not fit). */

/* One row: the run's params JSON, min(c), max(f), max(f - s), max(s - c). */
int sl__rsql_bounds(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id);

/* The run's row: id, requests, concurrency, max in flight, status,
 * command; of run run_id, or the latest when run_id <= 0 (no row: none). */
int sl__rsql_run(char *buf, size_t size, int64_t run_id);

/* The run's rows after request id `after` (-1: from the first), in
 * request id order, at most `limit`: request id, c, s, f, a, st, and md
 * (serve) or e (simulate). */
int sl__rsql_chunk(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id, int serve,
                   int64_t after, int limit);

#endif
