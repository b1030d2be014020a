#include "store/analytics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

static void stats_derive(struct sl_stats *out, double busy_ms)
{
    /* The ideal: all busy time (attempts and backoff waits) packed
     * perfectly onto the concurrency slots. */
    out->ideal_makespan_s = out->concurrency ? busy_ms / 1000.0 / out->concurrency : 0;
    out->efficiency = out->makespan_s > 0 ? out->ideal_makespan_s / out->makespan_s : 0;
}

void sl_stats_totals(struct sl_stats *out, const double v[SL_STATS_TOTALS])
{
    out->db_rows = (uint64_t)v[0];
    out->succeeded = (uint64_t)v[1];
    out->failed = (uint64_t)v[2];
    out->cancelled = (uint64_t)v[3];
    out->retries = (uint64_t)v[4];
    out->avg_processing_ms = v[5];
    out->avg_queue_ms = v[6];
    out->makespan_s = v[8] / 1e6;
    stats_derive(out, v[7]);
}

/* ---- serve runs ----------------------------------------------------------
 * serve's rows keep what the gateway saw in their metadata JSON (model,
 * deployment, HTTP status, ttfb_ms, tokens, fallbacks, stream): ->> reads
 * it on both databases (SQLite: JSON text; PostgreSQL: jsonb). Percentiles
 * are nearest rank, from row_number() over the ordered values: the row
 * whose rank is the smallest integer >= q * n, in integer arithmetic. */

#define DBL(x) "CAST(" x " AS double precision)"
#define ZERO   DBL("0")
#define SUMS                                                                                                              \
    DBL("coalesce(sum(ok), 0)")                                                                                           \
    ", " DBL("coalesce(sum(bad), 0)") ", " DBL("coalesce(sum(cxl), 0)") ", " DBL(                                         \
        "coalesce(sum("                                                                                                   \
        "retries), 0)") ", " DBL("coalesce(sum(fallbacks), 0)") ", " DBL("coalesce(sum(pt), 0)") ", " DBL("coalesce(sum(" \
                                                                                                          "ct), 0)")
#define RANK(q) "max(CASE WHEN 100 * rn >= " q " * c AND 100 * (rn - 1) < " q " * c THEN v END)"
#define DIST(grp, expr, where)                                                                     \
    "SELECT '" grp "', '', count(*), " RANK("50") ", " RANK("95") ", " RANK(                       \
        "99") ", "                                                                                 \
              "avg(v), max(v), " ZERO ", " ZERO ", " ZERO ", " ZERO " FROM (SELECT " expr          \
              " AS v, "                                                                            \
              "row_number() OVER (ORDER BY " expr ") AS rn, count(*) OVER () AS c FROM m" where    \
              ") x "
#define GROUP(grp, col)                                                                            \
    "SELECT '" grp "', " col ", count(*), " SUMS ", " ZERO ", " ZERO " FROM m GROUP BY " col " "

static const char serve_sql_common[] =
    "m AS (SELECT lat_ms, t0, t1,"
    " CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END AS ok,"
    " CASE WHEN status = 'failed' THEN 1 ELSE 0 END AS bad,"
    " CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END AS cxl,"
    " CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END AS retries,"
    " CAST(coalesce(metadata ->> 'fallbacks', '0') AS bigint) AS fallbacks,"
    " CAST(coalesce(metadata ->> 'prompt_tokens', '0') AS bigint) AS pt,"
    " CAST(coalesce(metadata ->> 'completion_tokens', '0') AS bigint) AS ct,"
    " " DBL(
        "coalesce(metadata ->> 'ttfb_ms', '0')") " AS ttfb,"
                                                 " CASE WHEN CAST(metadata ->> 'stream' AS text) "
                                                 "IN ('true', '1') THEN 1 ELSE 0 END"
                                                 " AS streamed,"
                                                 " CAST(coalesce(metadata ->> 'status', '') AS "
                                                 "text) AS http,"
                                                 " CAST(coalesce(metadata ->> 'model', '') AS "
                                                 "text) AS model,"
                                                 " CAST(coalesce(metadata ->> 'deployment', '') AS "
                                                 "text) AS dep FROM r) "
                                                 "SELECT 'total' AS grp, '' AS name, count(*) AS "
                                                 "n, " SUMS
                                                 ", " DBL("coalesce(sum(streamed), 0)") ", " DBL(
                                                     "coalesce(max(t1) - min(t0), 0)") " FROM m "
                                                                                       "UNION "
                                                                                       "ALL " GROUP("status", "http") "UNION ALL " GROUP("model", "model") "UNION ALL " GROUP(
                                                                                           "deploym"
                                                                                           "ent",
                                                                                           "dep") "UNION ALL " DIST("latency",
                                                                                                                    "lat_ms",
                                                                                                                    "") "UNION ALL " DIST("ttfb",
                                                                                                                                          "ttfb",
                                                                                                                                          " WHERE ttfb > 0") "ORDER BY grp, n DESC, name";

static const char serve_sql_sqlite[] = "WITH r AS (SELECT " DBL(
    "(finished_us - created_us) / 1000.0") " AS lat_ms,"
                                           " created_us / 1e6 AS t0, finished_us / 1e6 AS t1, "
                                           "status, attempts, metadata"
                                           " FROM requests WHERE id BETWEEN $1 AND $2), ";

static const char serve_sql_pg[] = "WITH r AS (SELECT " DBL(
    "extract(epoch FROM finished_at - created_at) * 1000") " AS lat_ms,"
                                                           " " DBL(
                                                               "extract(epoch FROM "
                                                               "created_at)") " AS t0,"
                                                                              " " DBL(
                                                                                  "extract("
                                                                                  "epoch "
                                                                                  "FROM "
                                                                                  "finished"
                                                                                  "_at)") " AS t1, "
                                                                                          "status, "
                                                                                          "attempts"
                                                                                          ", "
                                                                                          "metadata"
                                                                                          " FROM "
                                                                                          "requests"
                                                                                          " WHERE "
                                                                                          "run_id "
                                                                                          "= $1), ";

const char *sl_stats_serve_sql(enum sl_store_kind kind)
{
    /* built once: the two heads and the common body */
    static char sqlite_sql[sizeof(serve_sql_sqlite) + sizeof(serve_sql_common)];
    static char pg_sql[sizeof(serve_sql_pg) + sizeof(serve_sql_common)];
    char *buf = kind == SL_STORE_POSTGRES ? pg_sql : sqlite_sql;
    if (buf[0] == '\0')
        snprintf(buf, kind == SL_STORE_POSTGRES ? sizeof(pg_sql) : sizeof(sqlite_sql), "%s%s",
                 kind == SL_STORE_POSTGRES ? serve_sql_pg : serve_sql_sqlite, serve_sql_common);
    return buf;
}

static void fill_group(struct sl_serve_group *g, const char *name, uint64_t n, const double *v)
{
    snprintf(g->key, sizeof(g->key), "%s", name ? name : "");
    g->requests = n;
    uint64_t *dst[7] = {&g->succeeded, &g->failed,        &g->cancelled,        &g->retries,
                        &g->fallbacks, &g->prompt_tokens, &g->completion_tokens};
    for (int i = 0; i < 7; i++)
        *dst[i] = v[i] > 0 ? (uint64_t)llround(v[i]) : 0;
}

static void add_group(struct sl_serve_group *arr, unsigned *n_arr, unsigned *more, const char *name,
                      uint64_t n, const double *v)
{
    if (*n_arr < SL_SERVE_GROUPS_MAX)
        fill_group(&arr[(*n_arr)++], name, n, v);
    else
        (*more)++;
}

void sl_stats_serve_row(struct sl_stats *out, const char *grp, const char *name, uint64_t n,
                        const double v[SL_SERVE_VALUES])
{
    struct sl_serve_stats *s = &out->serve;
    if (strcmp(grp, "total") == 0) {
        fill_group(&s->total, "", n, v);
        s->streamed = v[7] > 0 ? (uint64_t)llround(v[7]) : 0;
        s->span_s = v[8];
        out->db_rows = n;
    } else if (strcmp(grp, "status") == 0) {
        add_group(s->status, &s->n_status, &s->status_more, name, n, v);
    } else if (strcmp(grp, "model") == 0) {
        add_group(s->model, &s->n_model, &s->model_more, name, n, v);
    } else if (strcmp(grp, "deployment") == 0) {
        add_group(s->deployment, &s->n_deployment, &s->deployment_more, name, n, v);
    } else if (strcmp(grp, "latency") == 0 || strcmp(grp, "ttfb") == 0) {
        struct sl_serve_dist *d = grp[0] == 'l' ? &s->latency : &s->ttfb;
        *d = (struct sl_serve_dist){n, v[0], v[1], v[2], v[3], v[4]};
    }
}

static int serve_query_sqlite(sqlite3 *db, struct sl_stats *out, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sl_stats_serve_sql(SL_STORE_SQLITE), -1, &st, NULL) != SQLITE_OK)
        return fail(db, st, err, err_size);
    bind_run_range(st, out->run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double v[SL_SERVE_VALUES];
        for (int i = 0; i < SL_SERVE_VALUES; i++)
            v[i] = sqlite3_column_double(st, 3 + i);
        sl_stats_serve_row(out, (const char *)sqlite3_column_text(st, 0),
                           (const char *)sqlite3_column_text(st, 1),
                           (uint64_t)sqlite3_column_int64(st, 2), v);
    }
    if (rc != SQLITE_DONE)
        return fail(db, st, err, err_size);
    sqlite3_finalize(st);
    return SQLITE_OK;
}

int sl_stats_query_sqlite(sqlite3 *db, int64_t run_id, struct sl_stats *out, char *err,
                          size_t err_size)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db,
                           "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status,"
                           " command FROM runs WHERE id = CASE WHEN ?1 > 0 THEN ?1 ELSE "
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
    snprintf(out->command, sizeof(out->command), "%s", sqlite3_column_text(st, 5));
    sqlite3_finalize(st);
    st = NULL;
    if (strcmp(out->command, "serve") == 0)
        return serve_query_sqlite(db, out, err, err_size);

    if (sqlite3_prepare_v2(db,
                           "SELECT count(*),"
                           " coalesce(sum(status = 'succeeded'), 0),"
                           " coalesce(sum(status = 'failed'), 0),"
                           " coalesce(sum(status = 'cancelled'), 0),"
                           " coalesce(sum(retries), 0),"
                           " coalesce(avg(processing_ms), 0),"
                           " coalesce(avg(queue_ms), 0),"
                           " coalesce(sum(processing_ms), 0),"
                           " coalesce(max(finished_us) - min(created_us), 0),"
                           " count(processing_ms) "
                           "FROM requests WHERE id BETWEEN ?1 AND ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(db, st, err, err_size);
    bind_run_range(st, out->run_id);
    if (sqlite3_step(st) != SQLITE_ROW)
        return fail(db, st, err, err_size);
    double v[SL_STATS_TOTALS];
    for (int k = 0; k < SL_STATS_TOTALS; k++)
        v[k] = sqlite3_column_double(st, k);
    uint64_t started = (uint64_t)sqlite3_column_int64(st, SL_STATS_TOTALS);
    sqlite3_finalize(st);

    sl_stats_totals(out, v);
    return percentiles(db, out, started, err, err_size);
}
