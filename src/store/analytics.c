#include "store/analytics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int fail(sqlite3 *db, sqlite3_stmt *st, char *err, size_t err_size)
{
    snprintf(err, err_size, "analytics query failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return SQLITE_ERROR;
}

/* A run's rows are the id range [run << 32, (run << 32) | 0xffffffff]. */
static void bind_run_range(sqlite3_stmt *st, int64_t run_id)
{
    sqlite3_bind_int64(st, 1, (sqlite3_int64)((uint64_t)run_id << 32));
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(((uint64_t)run_id << 32) | 0xffffffffu));
}

/* Percentiles by nearest rank, read from one ordered scan. */
static int percentiles(sqlite3 *db, struct sl_stats *out, uint64_t n, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    out->p50_ms = out->p95_ms = out->p99_ms = 0;
    if (n == 0)
        return SQLITE_OK;
    static const double q[3] = {0.50, 0.95, 0.99};
    double *dst[3] = {&out->p50_ms, &out->p95_ms, &out->p99_ms};
    uint64_t rank[3];
    for (int i = 0; i < 3; i++) {
        rank[i] = (uint64_t)ceil(q[i] * (double)n);
        if (rank[i] < 1)
            rank[i] = 1;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT processing_ms FROM requests WHERE id BETWEEN ?1 AND ?2 AND "
                           "started_us IS NOT NULL ORDER BY processing_ms",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(db, st, err, err_size);
    bind_run_range(st, out->run_id);
    uint64_t row = 0;
    int next = 0, rc;
    while (next < 3 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row++;
        double v = sqlite3_column_double(st, 0);
        while (next < 3 && rank[next] == row)
            *dst[next++] = v;
    }
    if (next < 3 && rc != SQLITE_DONE)
        return fail(db, st, err, err_size);
    sqlite3_finalize(st);
    return SQLITE_OK;
}

void sl_stats_derive(struct sl_stats *out, double busy_ms)
{
    /* The ideal: all busy time (attempts and backoff waits) packed
     * perfectly onto the concurrency slots. */
    out->ideal_makespan_s = out->concurrency ? busy_ms / 1000.0 / out->concurrency : 0;
    out->efficiency = out->makespan_s > 0 ? out->ideal_makespan_s / out->makespan_s : 0;
}

int sl_stats_query_sqlite(sqlite3 *db, int64_t run_id, struct sl_stats *out, char *err,
                          size_t err_size)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db,
                           "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status "
                           "FROM runs WHERE id = CASE WHEN ?1 > 0 THEN ?1 ELSE "
                           "(SELECT max(id) FROM runs) END",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(db, st, err, err_size);
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        if (run_id > 0)
            snprintf(err, err_size, "no run %lld in this database", (long long)run_id);
        else
            snprintf(err, err_size, "no runs in this database yet");
        return SQLITE_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return fail(db, st, err, err_size);
    out->run_id = sqlite3_column_int64(st, 0);
    out->requests = (uint64_t)sqlite3_column_int64(st, 1);
    out->concurrency = (unsigned)sqlite3_column_int(st, 2);
    out->max_in_flight = (unsigned)sqlite3_column_int(st, 3);
    snprintf(out->run_status, sizeof(out->run_status), "%s", sqlite3_column_text(st, 4));
    sqlite3_finalize(st);
    st = NULL;

    if (sqlite3_prepare_v2(db,
                           "SELECT count(*),"
                           " coalesce(sum(status = 'succeeded'), 0),"
                           " coalesce(sum(status = 'failed'), 0),"
                           " coalesce(sum(status = 'cancelled'), 0),"
                           " coalesce(sum(retries), 0),"
                           " coalesce(avg(processing_ms), 0),"
                           " coalesce(avg(queue_ms), 0),"
                           " coalesce(sum(processing_ms), 0),"
                           " count(processing_ms),"
                           " coalesce(max(finished_us) - min(created_us), 0) "
                           "FROM requests WHERE id BETWEEN ?1 AND ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(db, st, err, err_size);
    bind_run_range(st, out->run_id);
    if (sqlite3_step(st) != SQLITE_ROW)
        return fail(db, st, err, err_size);
    out->db_rows = (uint64_t)sqlite3_column_int64(st, 0);
    out->succeeded = (uint64_t)sqlite3_column_int64(st, 1);
    out->failed = (uint64_t)sqlite3_column_int64(st, 2);
    out->cancelled = (uint64_t)sqlite3_column_int64(st, 3);
    out->retries = (uint64_t)sqlite3_column_int64(st, 4);
    out->avg_processing_ms = sqlite3_column_double(st, 5);
    out->avg_queue_ms = sqlite3_column_double(st, 6);
    double busy_ms = sqlite3_column_double(st, 7);
    uint64_t started = (uint64_t)sqlite3_column_int64(st, 8);
    out->makespan_s = (double)sqlite3_column_int64(st, 9) / 1e6;
    sqlite3_finalize(st);

    sl_stats_derive(out, busy_ms);
    return percentiles(db, out, started, err, err_size);
}
