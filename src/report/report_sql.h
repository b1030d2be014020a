/* The report's queries, as text for either dialect.
 *
 * Every query reads the run's rows through one common head, `r`, whose
 * columns are the same on both databases: c, s, f (created, started,
 * finished: integer microseconds since the epoch; s NULL when the request
 * never ran), a (attempts), st (status), e (error class), md (metadata
 * JSON). Only that head differs between SQLite (a rowid range) and
 * PostgreSQL (run_id, timestamptz); the bodies are shared SQL: integer
 * division for buckets, CASE for clamping, ->> for metadata, so that both
 * give the same numbers. The numbers written into the text (run id,
 * origin, bucket widths) are integers the report computed, never input. */
#ifndef SL_REPORT_SQL_H
#define SL_REPORT_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Each writes one query into buf (0, or -1 when it does not fit). */

/* One row: the run's params JSON, min(c), max(f), max(f - s), max(s - c). */
int sl__rsql_bounds(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id);

/* simulate, by bucket of finish time fb = (f - t0) / w and of start time
 * sb (-1: never started), one sort for both: fb, sb, rows, succeeded,
 * failed, cancelled, rows that ran, sum of (f - t0) over the rows that
 * ran, sum of (s - t0). */
int sl__rsql_timeline(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id, int64_t t0,
                      int64_t w);
/* Both histograms and the attempts table in one pass (one sort): bin pb
 * of f - s in microseconds (width pw, the last bin pnb holding everything
 * from pnb * pw up) and bin qb of s - c (qw, qnb), both -1 for a request
 * that never ran; attempts, status, error class (''), n. The groups are
 * few: the bins are bounded, and error classes are set only on failures. */
int sl__rsql_hists(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id, int64_t pw,
                   int64_t pnb, int64_t qw, int64_t qnb);

/* The run's row: id, requests, concurrency, max in flight, status,
 * command; of run run_id, or the latest when run_id <= 0 (no row: none). */
int sl__rsql_run(char *buf, size_t size, int64_t run_id);

/* serve: the run's rows after request id `after` (-1: from the first), in
 * request id order, at most `limit`: request id, c, s, f, a, st, md (the
 * report reads them in one pass: report/serve_pass.h). */
int sl__rsql_serve_chunk(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id,
                         int64_t after, int limit);

#endif
