#include "report/report_sql.h"

#include <inttypes.h>
#include <stdio.h>

/* date_part is double precision: exact to the microsecond for any date
 * this century (2^53 us is 285 years), and faster than extract's numeric;
 * of an interval, seconds (rounded back to whole microseconds by the cast) */
#define US(col) "CAST(date_part('epoch', " col ") * 1000000 AS bigint)"

/* min and max over the rows, converted once (not per row: PostgreSQL's
 * date_part per row was most of this query's time) */
int sl__rsql_bounds(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id)
{
    int n;
    if (kind == SL_STORE_POSTGRES)
        n = snprintf(
            buf, size,
            "SELECT (SELECT CAST(params AS text) FROM runs WHERE id = %" PRId64
            "), " US("min(created_at)") ", " US("max(finished_at)") ", " US(
                "max(finished_at - "
                "started_at)") ", " US("max(started_at - created_at)") " FROM requests WHERE "
                                                                       "run_id = %" PRId64,
            run_id, run_id);
    else /* a run's rows are the id range [run << 32, run << 32 | 0xffffffff] */
        n = snprintf(buf, size,
                     "SELECT (SELECT params FROM runs WHERE id = %" PRId64 "), min(created_us),"
                     " max(finished_us), max(finished_us - started_us),"
                     " max(started_us - created_us) FROM requests WHERE id BETWEEN %" PRId64
                     " AND %" PRId64,
                     run_id, (int64_t)((uint64_t)run_id << 32),
                     (int64_t)(((uint64_t)run_id << 32) | 0xffffffffu));
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int sl__rsql_run(char *buf, size_t size, int64_t run_id)
{
    int n = snprintf(buf, size,
                     "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status, command"
                     " FROM runs WHERE id = %" PRId64,
                     run_id);
    if (run_id <= 0)
        n = snprintf(buf, size,
                     "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status,"
                     " command FROM runs WHERE id = (SELECT max(id) FROM runs)");
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int sl__rsql_chunk(char *buf, size_t size, enum sl_store_kind kind, int64_t run_id, int serve,
                   int64_t after, int limit)
{
    int n;
    if (kind == SL_STORE_POSTGRES)
        n = snprintf(
            buf, size,
            "SELECT request_id, " US("created_at") ", " US("started_at") ", " US(
                "finished_at") ", attempts, status, %s FROM requests WHERE run_id = %" PRId64
                               " AND request_id > %" PRId64 " ORDER BY request_id LIMIT %d",
            serve ? "CAST(metadata AS text)" : "error", run_id, after, limit);
    else /* the rowid's range from the request after `after` to the run's end */
        n = snprintf(buf, size,
                     "SELECT id & 4294967295, created_us, started_us, finished_us, attempts,"
                     " status, %s FROM requests WHERE id > %" PRId64 " AND id <= %" PRId64
                     " ORDER BY id LIMIT %d",
                     serve ? "metadata" : "error", (int64_t)((uint64_t)run_id << 32) + after,
                     (int64_t)(((uint64_t)run_id << 32) | 0xffffffffu), limit);
    return n > 0 && (size_t)n < size ? 0 : -1;
}
