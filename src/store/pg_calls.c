/* The SQL of the PostgreSQL backend's calls; see pg_calls.h. When a call
 * runs is pg_store.c's business. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/analytics.h"
#include "store/pg_calls.h"
#include "store/rows.h"

static void call_finish(struct sl__pg_call_run *r, int status)
{
    r->call = NULL;
    r->conn = NULL;
    r->done(r, status);
}

static void call_fail(struct sl__pg_call_run *r, int status, const char *what)
{
    snprintf(r->call->err, sizeof(r->call->err), "%s in %s: %s", what, r->s->path,
             sl_pg_conn_error(r->conn));
    call_finish(r, status ? status : UV_EIO);
}

static const char *i64(struct sl__pg_call_run *r, int slot, int64_t v)
{
    snprintf(r->param_buf[slot], sizeof(r->param_buf[slot]), "%" PRId64, v);
    return r->param_buf[slot];
}

static void on_begun(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct sl__pg_call_run *r = arg;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        call_fail(r, status, "cannot record the run");
        return;
    }
    r->s->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    call_finish(r, 0);
}

static void on_ended(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl__pg_call_run *r = arg;
    if (status != 0)
        call_fail(r, status, "cannot finish the run");
    else
        call_finish(r, 0);
}

static void on_added_conversations(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    (void)res;
    struct sl__pg_call_run *r = arg;
    if (status != 0)
        call_fail(r, status, "cannot record the conversations");
    else
        call_finish(r, 0);
}

static double num(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? 0 : strtod(PQgetvalue(res, 0, col), NULL);
}

static void on_stats_rows(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct sl__pg_call_run *r = arg;
    struct sl_stats *out = r->call->out;
    if (status != 0 || res == NULL || PQntuples(res) != 1) {
        call_fail(r, status, "analytics query failed");
        return;
    }
    double v[SL_STATS_TOTALS];
    for (int k = 0; k < SL_STATS_TOTALS; k++)
        v[k] = num(res, k);
    sl_stats_totals(out, v);
    out->p50_ms = num(res, 9);
    out->p95_ms = num(res, 10);
    out->p99_ms = num(res, 11);
    call_finish(r, 0);
}

static void on_serve_rows(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct sl__pg_call_run *r = arg;
    if (status != 0 || res == NULL) {
        call_fail(r, status, "analytics query failed");
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        double v[SL_SERVE_VALUES];
        for (int k = 0; k < SL_SERVE_VALUES; k++)
            v[k] = PQgetisnull(res, i, 3 + k) ? 0 : strtod(PQgetvalue(res, i, 3 + k), NULL);
        sl_stats_serve_row(r->call->out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                           strtoull(PQgetvalue(res, i, 2), NULL, 10), v);
    }
    call_finish(r, 0);
}

static void on_stats_run(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl__pg_call_run *r = arg;
    struct sl_stats *out = r->call->out;
    if (status != 0 || res == NULL) {
        call_fail(r, status, "analytics query failed");
        return;
    }
    if (PQntuples(res) == 0) {
        if (r->call->id > 0)
            snprintf(r->call->err, sizeof(r->call->err), "no run %" PRId64 " in this database",
                     r->call->id);
        else
            snprintf(r->call->err, sizeof(r->call->err), "no runs in this database yet");
        call_finish(r, UV_ENOENT);
        return;
    }
    out->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->requests = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    out->concurrency = (unsigned)atoi(PQgetvalue(res, 0, 2));
    out->max_in_flight = (unsigned)atoi(PQgetvalue(res, 0, 3));
    snprintf(out->run_status, sizeof(out->run_status), "%s", PQgetvalue(res, 0, 4));
    snprintf(out->command, sizeof(out->command), "%s", PQgetvalue(res, 0, 5));
    const char *params[1] = {i64(r, 0, out->run_id)};
    if (strcmp(out->command, "serve") == 0) {
        sl_pg_conn_query(c, sl_stats_serve_sql(SL_STORE_POSTGRES), 1, params, on_serve_rows, r);
        return;
    }
    /* percentile_disc is the nearest rank, like the SQLite store's */
    sl_pg_conn_query(c,
                     "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'),"
                     " count(*) FILTER (WHERE status = 'failed'),"
                     " count(*) FILTER (WHERE status = 'cancelled'),"
                     " coalesce(sum(greatest(attempts - 1, 0)), 0),"
                     " coalesce(avg(p), 0), coalesce(avg(q), 0), coalesce(sum(p), 0),"
                     " coalesce(extract(epoch FROM max(finished_at) - min(created_at)) * 1e6, 0),"
                     " percentile_disc(0.5) WITHIN GROUP (ORDER BY p),"
                     " percentile_disc(0.95) WITHIN GROUP (ORDER BY p),"
                     " percentile_disc(0.99) WITHIN GROUP (ORDER BY p) "
                     "FROM (SELECT status, attempts, created_at, finished_at,"
                     " extract(epoch FROM finished_at - started_at) * 1000 AS p,"
                     " extract(epoch FROM started_at - created_at) * 1000 AS q"
                     " FROM requests WHERE run_id = $1) r",
                     1, params, on_stats_rows, r);
}

static int64_t us_at(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void on_messages(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)c;
    struct sl__pg_call_run *r = arg;
    if (status != 0 || res == NULL) {
        sl__conv_builder_release(&r->conv);
        call_fail(r, status, "cannot load messages");
        return;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        rc = sl__conv_add_message(&r->conv, us_at(res, i, 0), atoi(PQgetvalue(res, i, 1)),
                                  PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2),
                                  PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3),
                                  us_at(res, i, 4));
    if (rc == 0)
        rc = sl__conv_finish(&r->conv, r->call->out);
    else
        sl__conv_builder_release(&r->conv);
    if (rc != 0) {
        snprintf(r->call->err, sizeof(r->call->err), "chat history page too large (%s)",
                 uv_strerror(rc));
        call_finish(r, rc);
        return;
    }
    call_finish(r, 0);
}

static void on_conversations(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl__pg_call_run *r = arg;
    if (status != 0 || res == NULL) {
        call_fail(r, status, "cannot load conversations");
        return;
    }
    sl__conv_builder_init(&r->conv);
    int rc = 0, n = PQntuples(res);
    for (int i = 0; i < n && rc == 0; i++)
        rc = sl__conv_add(&r->conv, us_at(res, i, 0), PQgetvalue(res, i, 1),
                          (size_t)PQgetlength(res, i, 1), us_at(res, i, 2));
    if (rc != 0 || n == 0) {
        if (rc == 0)
            rc = sl__conv_finish(&r->conv, r->call->out);
        else
            sl__conv_builder_release(&r->conv);
        call_finish(r, rc);
        return;
    }
    /* the page is every id in [first, last]: one range finds the messages */
    const char *params[2] = {i64(r, 0, r->conv.convs[0].id), i64(r, 1, r->conv.convs[n - 1].id)};
    sl_pg_conn_query(c,
                     "SELECT conversation_id, seq, role, content,"
                     " (extract(epoch FROM created_at) * 1e6)::bigint FROM messages"
                     " WHERE conversation_id BETWEEN $1 AND $2 ORDER BY conversation_id, seq"
                     " LIMIT " SL__CONV_LIMIT_TEXT, /* one past the bound: "too large" */
                     2, params, on_messages, r);
}

static void on_rows(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct sl__pg_call_run *r = arg;
    if (status != 0 || res == NULL) {
        call_fail(r, status, "query failed");
        return;
    }
    struct sl__rows_builder b;
    int n_rows = PQntuples(res), n_cols = PQnfields(res), rc = 0;
    sl__rows_builder_init(&b, (unsigned)n_cols);
    size_t text = 0;
    for (int i = 0; i < n_rows; i++)
        for (int k = 0; k < n_cols; k++)
            text += (size_t)PQgetlength(res, i, k) + 1;
    sl__rows_builder_reserve(&b, (size_t)n_rows * (size_t)n_cols, text);
    for (int i = 0; i < n_rows && rc == 0; i++)
        for (int k = 0; k < n_cols && rc == 0; k++)
            rc = sl__rows_add(&b, PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k),
                              (size_t)PQgetlength(res, i, k));
    (void)c;
    if (rc == 0)
        rc = sl__rows_finish(&b, r->call->out);
    else
        sl__rows_builder_release(&b);
    if (rc != 0)
        snprintf(r->call->err, sizeof(r->call->err), "query result too large (%s)",
                 uv_strerror(rc));
    call_finish(r, rc);
}

static void on_migration(struct sl_pg_migration *m, int status)
{
    struct sl__pg_call_run *r = m->data;
    struct sl__call *c = r->call;
    if (status != 0) {
        snprintf(c->err, sizeof(c->err), "%s", m->err);
        call_finish(r, status);
        return;
    }
    *(int *)c->out = c->kind == SL__CALL_VERSION ? m->version : m->applied;
    call_finish(r, 0);
}

void sl__pg_call_exec(struct sl__pg_call_run *r, struct sl_pg_conn *conn, struct sl__call *c)
{
    r->call = c;
    r->conn = conn;
    r->mig.data = r;
    sl_pg_conn_set_op_timeout(conn, c->kind == SL__CALL_MIGRATE || c->kind == SL__CALL_VERSION
                                        ? SL__PG_MIGRATE_TIMEOUT_MS
                                        : SL__PG_CALL_TIMEOUT_MS);
    const char *p[4];
    switch (c->kind) {
    case SL__CALL_BARRIER:
        call_finish(r, 0);
        break;
    case SL__CALL_BEGIN_RUN: {
        const struct sl_run_info *info = c->in;
        p[0] = info->command;
        p[1] = i64(r, 1, (int64_t)info->requests);
        p[2] = i64(r, 2, info->concurrency);
        p[3] = info->params_json ? info->params_json : "{}";
        sl_pg_conn_query(conn,
                         "INSERT INTO runs (command, started_at, requests, concurrency, params)"
                         " VALUES ($1, now(), $2, $3, $4) RETURNING id",
                         4, p, on_begun, r);
        break;
    }
    case SL__CALL_END_RUN:
        p[0] = c->in;
        p[1] = i64(r, 1, c->value);
        p[2] = i64(r, 2, r->s->run_id);
        sl_pg_conn_query(conn,
                         "UPDATE runs SET finished_at = now(), status = $1, max_in_flight = $2"
                         " WHERE id = $3",
                         3, p, on_ended, r);
        break;
    case SL__CALL_STATS:
        memset(c->out, 0, sizeof(struct sl_stats));
        p[0] = i64(r, 0, c->id);
        sl_pg_conn_query(conn,
                         "SELECT id, requests, concurrency, coalesce(max_in_flight, 0), status,"
                         " command FROM runs WHERE id = CASE WHEN $1::bigint > 0 THEN $1::bigint"
                         " ELSE (SELECT max(id) FROM runs) END",
                         1, p, on_stats_run, r);
        break;
    case SL__CALL_VERSION:
        sl_pg_version_read(&r->mig, conn, r->s->path, on_migration);
        break;
    case SL__CALL_MIGRATE:
        sl_pg_migrate_to(&r->mig, conn, r->s->path, c->value, on_migration);
        break;
    case SL__CALL_CONVERSATIONS:
        p[0] = i64(r, 0, c->id);
        p[1] = i64(r, 1, c->value);
        sl_pg_conn_query(conn,
                         "SELECT id, title, (extract(epoch FROM created_at) * 1e6)::bigint"
                         " FROM conversations WHERE id > $1 ORDER BY id LIMIT $2",
                         2, p, on_conversations, r);
        break;
    case SL__CALL_ROWS:
        sl_pg_conn_query(conn, c->in, 0, NULL, on_rows, r);
        break;
    case SL__CALL_ADD_CONVERSATIONS:
        /* one statement: the conversations, then their messages joined on
         * the title (a request id: unique in a batch) */
        p[0] = c->out;
        sl_pg_conn_query(
            conn,
            "WITH src AS (SELECT x->>'t' AS t, (x->>'c')::bigint AS c, x->'m' AS m"
            "  FROM json_array_elements($1::json) AS a(x)),"
            " ins AS (INSERT INTO conversations (title, created_at)"
            "  SELECT t, to_timestamp(c / 1e6) FROM src RETURNING id, title)"
            " INSERT INTO messages (conversation_id, seq, role, content, created_at)"
            " SELECT ins.id, (e->>0)::int, e->>1, e->>2, to_timestamp((e->>3)::bigint / 1e6)"
            " FROM src JOIN ins ON ins.title = src.t, json_array_elements(src.m) AS e",
            1, p, on_added_conversations, r);
        break;
    }
}
