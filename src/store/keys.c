/* Virtual keys on SQLite or PostgreSQL, blocking (see keys.h).
 *
 * Both dialects run the same SQL text: written with $N placeholders
 * (PostgreSQL's), which become ?N for SQLite, and with explicit casts
 * where PostgreSQL cannot infer a parameter's type. Times are bigint
 * microseconds in both. A small query layer (run, next row, columns as
 * text or numbers) hides which library answers. */
#include "store/keys.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "core/clock.h"
#include "core/str.h"
#include "store/migrate.h"
#include "store/pg_conn.h"
#include "store/pg_migrate.h"
#include "store/pg_url.h"
#include "store/store.h"

struct sl_keydb {
    sqlite3 *lite;
    PGconn *pg;
    struct sl_pg_params params; /* PostgreSQL: for masking and migrating */
    char path[4096];
};

static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- the query layer ------------------------------------------------------- */

enum { P_NULL, P_TEXT, P_INT, P_REAL };
struct param {
    int kind;
    const char *s;
    int64_t i;
    double d;
};
#define TEXT(v)    ((struct param){P_TEXT, (v), 0, 0})
#define INT(v)     ((struct param){P_INT, NULL, (int64_t)(v), 0})
#define REAL(v)    ((struct param){P_REAL, NULL, 0, (v)})
#define NUL        ((struct param){P_NULL, NULL, 0, 0})
#define MAX_PARAMS 20

struct query {
    struct sl_keydb *db;
    sqlite3_stmt *st;
    PGresult *res;
    int row, rows;
};

static const char *db_error(struct sl_keydb *db, char *buf, size_t size)
{
    snprintf(buf, size, "%s", db->lite ? sqlite3_errmsg(db->lite) : PQerrorMessage(db->pg));
    if (db->pg)
        sl_pg_mask_secret(buf, size, db->params.password);
    return buf;
}

/* The error of a failed statement: UV_EEXIST for a unique violation. */
static int q_fail(struct sl_keydb *db, PGresult *res, const char *what, char *err, size_t err_size)
{
    char msg[400];
    int unique = 0;
    if (db->lite) {
        unique = sqlite3_extended_errcode(db->lite) == SQLITE_CONSTRAINT_UNIQUE ||
                 sqlite3_extended_errcode(db->lite) == SQLITE_CONSTRAINT_PRIMARYKEY;
        db_error(db, msg, sizeof(msg));
    } else {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        unique = state && strcmp(state, "23505") == 0;
        snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
        sl_pg_mask_secret(msg, sizeof(msg), db->params.password);
    }
    return fail(err, err_size, unique ? UV_EEXIST : UV_EIO, "%s %s: %s", what, db->path, msg);
}

/* Runs sql with its parameters; rows then come from q_next. */
static int q_run(struct sl_keydb *db, struct query *q, const char *sql, const struct param *p,
                 int n, char *err, size_t err_size)
{
    *q = (struct query){.db = db};
    if (db->lite) {
        char lite_sql[2048];
        size_t len = strlen(sql);
        if (len >= sizeof(lite_sql))
            return fail(err, err_size, UV_EINVAL, "statement too long");
        for (size_t i = 0; i <= len; i++) /* $N -> ?N */
            lite_sql[i] = sql[i] == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9' ? '?' : sql[i];
        if (sqlite3_prepare_v2(db->lite, lite_sql, -1, &q->st, NULL) != SQLITE_OK)
            return q_fail(db, NULL, "cannot query", err, err_size);
        for (int i = 0; i < n; i++) {
            if (p[i].kind == P_TEXT)
                sqlite3_bind_text(q->st, i + 1, p[i].s, -1, SQLITE_STATIC);
            else if (p[i].kind == P_INT)
                sqlite3_bind_int64(q->st, i + 1, p[i].i);
            else if (p[i].kind == P_REAL)
                sqlite3_bind_double(q->st, i + 1, p[i].d);
        }
        return 0;
    }
    char nums[MAX_PARAMS][32];
    const char *values[MAX_PARAMS] = {0};
    for (int i = 0; i < n; i++) {
        values[i] = p[i].kind == P_TEXT ? p[i].s : p[i].kind == P_NULL ? NULL : nums[i];
        if (p[i].kind == P_INT)
            snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)p[i].i);
        else if (p[i].kind == P_REAL)
            snprintf(nums[i], sizeof(nums[i]), "%.17g", p[i].d);
    }
    q->res = PQexecParams(db->pg, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int rc = q_fail(db, q->res, "cannot query", err, err_size);
        PQclear(q->res);
        q->res = NULL;
        return rc;
    }
    q->rows = PQntuples(q->res);
    q->row = -1;
    return 0;
}

/* 1 with a row to read, 0 at the end, or an error. */
static int q_next(struct query *q, char *err, size_t err_size)
{
    if (q->res)
        return ++q->row < q->rows;
    int rc = sqlite3_step(q->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return q_fail(q->db, NULL, "cannot query", err, err_size);
}

static void q_end(struct query *q)
{
    sqlite3_finalize(q->st);
    PQclear(q->res);
    *q = (struct query){0};
}

static int q_null(struct query *q, int col)
{
    return q->res ? PQgetisnull(q->res, q->row, col)
                  : sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

static const char *q_text(struct query *q, int col)
{
    const char *v =
        q->res ? PQgetvalue(q->res, q->row, col) : (const char *)sqlite3_column_text(q->st, col);
    return v ? v : "";
}

static int64_t q_int(struct query *q, int col)
{
    return q->res ? strtoll(q_text(q, col), NULL, 10) : sqlite3_column_int64(q->st, col);
}

static double q_real(struct query *q, int col)
{
    return q->res ? strtod(q_text(q, col), NULL) : sqlite3_column_double(q->st, col);
}

/* A statement whose rows (if any) are not wanted. */
static int q_exec(struct sl_keydb *db, const char *sql, const struct param *p, int n, char *err,
                  size_t err_size)
{
    struct query q;
    int rc = q_run(db, &q, sql, p, n, err, err_size);
    while (rc == 0 && (rc = q_next(&q, err, err_size)) == 1)
        rc = 0;
    q_end(&q);
    return rc < 0 ? rc : 0;
}

static int begin(struct sl_keydb *db, char *err, size_t err_size)
{
    /* IMMEDIATE: a read-then-write transaction takes the write lock first */
    return q_exec(db, db->lite ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, err, err_size);
}

static int end(struct sl_keydb *db, int rc, char *err, size_t err_size)
{
    char ignored[8];
    if (rc == 0)
        return q_exec(db, "COMMIT", NULL, 0, err, err_size);
    q_exec(db, "ROLLBACK", NULL, 0, ignored, sizeof(ignored));
    return rc;
}

/* ---- opening --------------------------------------------------------------- */

static int read_version(struct sl_keydb *db, int *version, char *err, size_t err_size)
{
    if (db->lite) {
        char reason[300];
        if (sl_migrate_sqlite_version(db->lite, version, reason, sizeof(reason)) != SQLITE_OK)
            return fail(err, err_size, UV_EIO, "database %s: %s", db->path, reason);
        return 0;
    }
    struct query q;
    *version = 0;
    int rc =
        q_run(db, &q, "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 ELSE -1 END",
              NULL, 0, err, err_size);
    if (rc == 0 && (rc = q_next(&q, err, err_size)) == 1)
        rc = q_int(&q, 0) == 0 ? 0 : 1;
    q_end(&q);
    if (rc != 1)
        return rc < 0 ? rc : 0; /* no table: an empty database */
    rc = q_run(db, &q, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, 0, err,
               err_size);
    if (rc == 0 && (rc = q_next(&q, err, err_size)) == 1)
        *version = (int)q_int(&q, 0), rc = 0;
    q_end(&q);
    return rc;
}

struct pg_run {
    struct sl_pg_migration m;
    int status, done;
};

static void on_pg_closed(struct sl_pg_conn *c, void *arg)
{
    (void)c;
    (void)arg;
}

static void on_pg_migrated(struct sl_pg_migration *m, int status)
{
    struct pg_run *r = m->data;
    r->status = status;
    r->done = 1;
    sl_pg_conn_close(m->conn, on_pg_closed, NULL);
}

static void on_pg_connected(struct sl_pg_conn *c, int status, void *arg)
{
    struct pg_run *r = arg;
    if (status != 0) {
        snprintf(r->m.err, sizeof(r->m.err), "cannot connect to %s: %s", r->m.db_name,
                 sl_pg_conn_error(c));
        r->status = status;
        sl_pg_conn_close(c, on_pg_closed, NULL);
        return;
    }
    sl_pg_migrate_to(&r->m, c, r->m.db_name, sl_migrations_latest(), on_pg_migrated);
}

/* PostgreSQL migrations run through the store's runner (asynchronous) on a
 * private loop, so that both dialects migrate with the same code as serve. */
static int pg_migrate(struct sl_keydb *db, char *err, size_t err_size)
{
    uv_loop_t loop;
    struct pg_run r = {.status = UV_EIO};
    if (uv_loop_init(&loop) != 0)
        return fail(err, err_size, UV_ENOMEM, "cannot start a loop");
    struct sl_pg_conn *c = sl_pg_conn_new(&loop, &db->params, NULL);
    if (c == NULL) {
        uv_loop_close(&loop);
        return fail(err, err_size, UV_ENOMEM, "out of memory");
    }
    r.m.data = &r;
    r.m.db_name = db->path;
    sl_pg_conn_connect(c, on_pg_connected, &r);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (r.status != 0)
        return fail(err, err_size, UV_EIO, "%s", r.m.err);
    return 0;
}

static int open_sqlite(struct sl_keydb *db, unsigned flags, char *err, size_t err_size)
{
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                 ((flags & SL_KEYDB_CREATE) && (flags & SL_KEYDB_MIGRATE) ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(db->path, &db->lite, oflags, NULL) != SQLITE_OK) {
        char msg[300];
        return fail(err, err_size, UV_EIO, "cannot open database %s: %s", db->path,
                    db->lite ? db_error(db, msg, sizeof(msg)) : "out of memory");
    }
    sqlite3_busy_timeout(db->lite, 10000);
    return 0;
}

static int open_pg(struct sl_keydb *db, const char *url, char *err, size_t err_size)
{
    if (sl_pg_params_init(&db->params, url, 10000) != 0)
        return fail(err, err_size, UV_EINVAL, "bad PostgreSQL URL %s", db->path);
    const char *keys[] = {"dbname", "options", "connect_timeout", NULL};
    const char *values[] = {db->params.conninfo, db->params.options, "10", NULL};
    db->pg = PQconnectdbParams(keys, values, 1);
    if (db->pg == NULL)
        return fail(err, err_size, UV_ENOMEM, "out of memory");
    if (PQstatus(db->pg) != CONNECTION_OK) {
        char msg[400];
        return fail(err, err_size, UV_EIO, "cannot connect to %s: %s", db->path,
                    db_error(db, msg, sizeof(msg)));
    }
    return 0;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int sl_keydb_open(const char *url, unsigned flags, struct sl_keydb **out, char *err,
                  size_t err_size)
{
    *out = NULL;
    struct sl_keydb *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return fail(err, err_size, UV_ENOMEM, "out of memory");
    int rc = sl_store_parse_url(url, db->path, sizeof(db->path), err, err_size);
    int pg = sl_store_url_kind(url) == SL_STORE_POSTGRES;
    if (rc == 0)
        rc = pg ? open_pg(db, url, err, err_size) : open_sqlite(db, flags, err, err_size);
    if (db->pg)
        PQsetNoticeProcessor(db->pg, quiet, NULL);
    int version = 0, latest = sl_migrations_latest();
    if (rc == 0)
        rc = read_version(db, &version, err, err_size);
    if (rc == 0 && (flags & SL_KEYDB_MIGRATE) && version < latest) {
        if (db->lite) {
            char reason[400];
            int applied;
            sqlite3_exec(db->lite, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
            if (sl_migrate_sqlite_to(db->lite, latest, &applied, reason, sizeof(reason)) !=
                SQLITE_OK)
                rc = fail(err, err_size, UV_EIO, "database %s: %s", db->path, reason);
        } else {
            rc = pg_migrate(db, err, err_size);
        }
        if (rc == 0)
            rc = read_version(db, &version, err, err_size);
    }
    if (rc == 0 && version > latest)
        rc = fail(err, err_size, UV_EIO,
                  "database %s has schema version %d, newer than this sluice knows (%d); "
                  "upgrade sluice",
                  db->path, version, latest);
    else if (rc == 0 && version < SL_MIGRATION_KEYS)
        rc = fail(err, err_size, UV_EIO,
                  "database %s has schema version %d, older than sluice keys need (%d); "
                  "run: sluice migrate up --db %s",
                  db->path, version, SL_MIGRATION_KEYS, pg ? "URL" : db->path);
    if (rc != 0) {
        sl_keydb_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int sl_keydb_reconnect(struct sl_keydb *db)
{
    if (db->pg == NULL || PQstatus(db->pg) == CONNECTION_OK)
        return 0;
    PQreset(db->pg); /* blocking, bounded by connect_timeout */
    return PQstatus(db->pg) == CONNECTION_OK ? 0 : UV_EIO;
}

void sl_keydb_close(struct sl_keydb *db)
{
    if (db == NULL)
        return;
    sqlite3_close(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    if (db->params.url)
        sl_pg_params_release(&db->params);
    free(db);
}

const char *sl_keydb_path(const struct sl_keydb *db)
{
    return db->path;
}

/* ---- reading keys ---------------------------------------------------------- */

/* The columns every read takes, the spend of the key's current period
 * last ($1 $2 $3: the starts of the current day, week and month). */
#define SELECT_KEYS                                                                                \
    "SELECT k.id, k.name, k.team, k.prefix, k.models, k.rpm, k.tpm, k.max_parallel,"               \
    " k.budget_usd, k.budget_period, k.expires_us, k.metadata, k.enabled, k.revoked_us,"           \
    " k.created_us, k.updated_us, k.secret_sha256, coalesce(s.usd, 0),"                            \
    " coalesce(s.requests, 0), coalesce(s.prompt_tokens, 0), coalesce(s.completion_tokens, 0)"     \
    " FROM gateway_keys k LEFT JOIN gateway_key_spend s ON s.key_id = k.id AND"                    \
    " s.period_start_us = CASE k.budget_period WHEN 'daily' THEN CAST($1 AS bigint)"               \
    " WHEN 'weekly' THEN CAST($2 AS bigint) WHEN 'monthly' THEN CAST($3 AS bigint) ELSE 0 END"

static void copy_col(struct query *q, int col, char *dst, size_t size)
{
    snprintf(dst, size, "%s", q_text(q, col));
}

static void decode(struct query *q, int64_t now_us, struct sl_key_record *r, struct sl_key_usage *u)
{
    memset(r, 0, sizeof(*r));
    copy_col(q, 0, r->id, sizeof(r->id));
    copy_col(q, 1, r->name, sizeof(r->name));
    copy_col(q, 2, r->team, sizeof(r->team));
    copy_col(q, 3, r->prefix, sizeof(r->prefix));
    copy_col(q, 4, r->models, sizeof(r->models));
    r->rpm = (unsigned)q_int(q, 5);
    r->tpm = (unsigned)q_int(q, 6);
    r->max_parallel = (unsigned)q_int(q, 7);
    r->budget_usd = q_null(q, 8) ? 0 : q_real(q, 8);
    const char *period = q_text(q, 9);
    if (sl_key_period_parse(period, strlen(period), &r->period) != 0)
        r->period = SL_KEY_TOTAL;
    r->expires_us = q_null(q, 10) ? 0 : q_int(q, 10);
    if (strlen(q_text(q, 11)) > SL_KEY_META_MAX) /* cut, it would not be JSON */
        strcpy(r->metadata, "{}");
    else
        copy_col(q, 11, r->metadata, sizeof(r->metadata));
    const char *en = q_text(q, 12);
    r->enabled = en[0] == 't' || en[0] == '1';
    r->revoked_us = q_null(q, 13) ? 0 : q_int(q, 13);
    r->created_us = q_int(q, 14);
    r->updated_us = q_int(q, 15);
    const char *hex = q_text(q, 16);
    for (int i = 0; i < 32 && strlen(hex) == 64; i++)
        r->sha256[i] =
            (unsigned char)(sl_hex_digit(hex[2 * i]) << 4 | sl_hex_digit(hex[2 * i + 1]));
    if (u) {
        u->period_start_us = sl_key_period_start(r->period, now_us);
        u->period_end_us = sl_key_period_end(r->period, now_us);
        u->usd = q_real(q, 17);
        u->requests = (uint64_t)q_int(q, 18);
        u->prompt_tokens = (uint64_t)q_int(q, 19);
        u->completion_tokens = (uint64_t)q_int(q, 20);
    }
}

static void period_params(int64_t now_us, struct param *p)
{
    p[0] = INT(sl_key_period_start(SL_KEY_DAILY, now_us));
    p[1] = INT(sl_key_period_start(SL_KEY_WEEKLY, now_us));
    p[2] = INT(sl_key_period_start(SL_KEY_MONTHLY, now_us));
}

static int find(struct sl_keydb *db, const char *id_or_name, int64_t now_us,
                struct sl_key_record *rec, struct sl_key_usage *usage, char *err, size_t err_size)
{
    struct param p[4];
    period_params(now_us, p);
    p[3] = TEXT(id_or_name);
    struct query q;
    int rc = q_run(db, &q, SELECT_KEYS " WHERE k.id = $4 OR k.name = $4 ORDER BY k.id = $4 DESC", p,
                   4, err, err_size);
    if (rc == 0 && (rc = q_next(&q, err, err_size)) == 1) {
        decode(&q, now_us, rec, usage);
        rc = 0;
    } else if (rc == 0) {
        rc = fail(err, err_size, UV_ENOENT, "no key '%s'", id_or_name);
    }
    q_end(&q);
    return rc;
}

int sl_key_get(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out, char *err,
               size_t err_size)
{
    return find(db, id_or_name, sl_wall_us(), out, NULL, err, err_size);
}

int sl_key_usage(struct sl_keydb *db, const char *id_or_name, int64_t now_us,
                 struct sl_key_record *rec, struct sl_key_usage *usage, char *err, size_t err_size)
{
    return find(db, id_or_name, now_us, rec, usage, err, err_size);
}

int sl_key_load_all(struct sl_keydb *db, int64_t now_us, sl_key_each_cb cb, void *arg, char *err,
                    size_t err_size)
{
    struct param p[3];
    period_params(now_us, p);
    struct query q;
    struct sl_key_record rec;
    struct sl_key_usage usage;
    int rc = q_run(db, &q, SELECT_KEYS " ORDER BY k.created_us, k.id", p, 3, err, err_size);
    while (rc == 0 && (rc = q_next(&q, err, err_size)) == 1) {
        decode(&q, now_us, &rec, &usage);
        rc = cb(&rec, &usage, arg);
    }
    q_end(&q);
    return rc;
}

/* ---- writing keys ---------------------------------------------------------- */

/* n random bytes from the kernel's CSPRNG. */
static int random_bytes(unsigned char *out, size_t n, char *err, size_t err_size)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0)
            return fail(err, err_size, UV_EIO, "getrandom failed");
        got += (size_t)r;
    }
    return 0;
}

/* A fresh secret (and its digest in hex); 30 random bytes are exactly 40
 * base64url characters. */
static int new_secret(char *secret, char hex[65], char *err, size_t err_size)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[30], digest[32];
    unsigned int dlen = 32;
    if (random_bytes(raw, sizeof(raw), err, err_size) != 0)
        return UV_EIO;
    char *o = secret + strlen(SL_KEY_SECRET_HEAD);
    memcpy(secret, SL_KEY_SECRET_HEAD, strlen(SL_KEY_SECRET_HEAD));
    for (int i = 0; i < 30; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0; k--)
            *o++ = b64[v >> (6 * k) & 63];
    }
    *o = '\0';
    EVP_Digest(secret, SL_KEY_SECRET_LEN, digest, &dlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

static const unsigned all_fields = SL_KEY_F_NAME | SL_KEY_F_TEAM | SL_KEY_F_MODELS | SL_KEY_F_RPM |
                                   SL_KEY_F_TPM | SL_KEY_F_MAX_PARALLEL | SL_KEY_F_BUDGET |
                                   SL_KEY_F_PERIOD | SL_KEY_F_EXPIRES | SL_KEY_F_METADATA |
                                   SL_KEY_F_ENABLED;

static int check(const struct sl_key_record *rec, unsigned mask, char *err, size_t err_size)
{
    return sl_key_record_check(rec, mask, err, err_size) == 0 ? 0 : UV_EINVAL;
}

static int name_taken(int rc, const char *name, char *err, size_t err_size)
{
    return rc == UV_EEXIST ? fail(err, err_size, rc, "a key named '%s' already exists", name) : rc;
}

int sl_key_create(struct sl_keydb *db, struct sl_key_record *rec, char *secret, char *err,
                  size_t err_size)
{
    char hex[65], prefix[SL_KEY_PREFIX_LEN + 1], id[SL_KEY_ID_LEN + 1];
    unsigned char raw[8];
    int rc = check(rec, all_fields, err, err_size);
    if (rc == 0)
        rc = random_bytes(raw, sizeof(raw), err, err_size);
    if (rc == 0)
        rc = new_secret(secret, hex, err, err_size);
    if (rc != 0)
        return rc;
    snprintf(id, sizeof(id), "key_%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3],
             raw[4], raw[5], raw[6], raw[7]);
    snprintf(prefix, sizeof(prefix), "%.*s", SL_KEY_PREFIX_LEN, secret);
    int64_t now = sl_wall_us();
    struct param p[] = {
        TEXT(id),
        TEXT(rec->name),
        TEXT(rec->team),
        TEXT(hex),
        TEXT(prefix),
        TEXT(rec->models),
        INT(rec->rpm),
        INT(rec->tpm),
        INT(rec->max_parallel),
        rec->budget_usd > 0 ? REAL(rec->budget_usd) : NUL,
        TEXT(sl_key_period_name(rec->period)),
        rec->expires_us ? INT(rec->expires_us) : NUL,
        TEXT(rec->metadata[0] ? rec->metadata : "{}"),
        INT(rec->enabled ? 1 : 0),
        INT(now),
    };
    rc = q_exec(db,
                "INSERT INTO gateway_keys (id, name, team, secret_sha256, prefix, models, rpm,"
                " tpm, max_parallel, budget_usd, budget_period, expires_us, metadata, enabled,"
                " created_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                " $12, $13, CAST($14 AS boolean), $15, $15)",
                p, 15, err, err_size);
    if (rc == 0)
        rc = sl_key_get(db, id, rec, err, err_size);
    if (rc != 0)
        memset(secret, 0, SL_KEY_SECRET_LEN + 1);
    return name_taken(rc, rec->name, err, err_size);
}

/* Reads the key inside the caller's transaction and refuses a revoked one. */
static int find_live(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *cur,
                     char *err, size_t err_size)
{
    int rc = find(db, id_or_name, sl_wall_us(), cur, NULL, err, err_size);
    if (rc == 0 && cur->revoked_us)
        rc = fail(err, err_size, UV_EPERM, "key '%s' is revoked", id_or_name);
    return rc;
}

int sl_key_update(struct sl_keydb *db, const char *id_or_name, const struct sl_key_record *f,
                  unsigned mask, struct sl_key_record *out, char *err, size_t err_size)
{
    struct sl_key_record cur;
    int rc = check(f, mask, err, err_size);
    if (rc == 0)
        rc = begin(db, err, err_size);
    if (rc != 0)
        return rc;
    rc = find_live(db, id_or_name, &cur, err, err_size);
    if (rc == 0) {
        if (mask & SL_KEY_F_NAME)
            memcpy(cur.name, f->name, sizeof(cur.name));
        if (mask & SL_KEY_F_TEAM)
            memcpy(cur.team, f->team, sizeof(cur.team));
        if (mask & SL_KEY_F_MODELS)
            memcpy(cur.models, f->models, sizeof(cur.models));
        if (mask & SL_KEY_F_RPM)
            cur.rpm = f->rpm;
        if (mask & SL_KEY_F_TPM)
            cur.tpm = f->tpm;
        if (mask & SL_KEY_F_MAX_PARALLEL)
            cur.max_parallel = f->max_parallel;
        if (mask & SL_KEY_F_BUDGET)
            cur.budget_usd = f->budget_usd;
        if (mask & SL_KEY_F_PERIOD)
            cur.period = f->period;
        if (mask & SL_KEY_F_EXPIRES)
            cur.expires_us = f->expires_us;
        if (mask & SL_KEY_F_METADATA)
            memcpy(cur.metadata, f->metadata, sizeof(cur.metadata));
        if (mask & SL_KEY_F_ENABLED)
            cur.enabled = f->enabled;
        struct param p[] = {
            TEXT(cur.id),
            TEXT(cur.name),
            TEXT(cur.team),
            TEXT(cur.models),
            INT(cur.rpm),
            INT(cur.tpm),
            INT(cur.max_parallel),
            cur.budget_usd > 0 ? REAL(cur.budget_usd) : NUL,
            TEXT(sl_key_period_name(cur.period)),
            cur.expires_us ? INT(cur.expires_us) : NUL,
            TEXT(cur.metadata),
            INT(cur.enabled ? 1 : 0),
            INT(sl_wall_us()),
        };
        rc = q_exec(db,
                    "UPDATE gateway_keys SET name = $2, team = $3, models = $4, rpm = $5,"
                    " tpm = $6, max_parallel = $7, budget_usd = $8, budget_period = $9,"
                    " expires_us = $10, metadata = $11, enabled = CAST($12 AS boolean),"
                    " updated_us = $13 WHERE id = $1",
                    p, 13, err, err_size);
        rc = name_taken(rc, cur.name, err, err_size);
    }
    rc = end(db, rc, err, err_size);
    if (rc == 0 && out)
        rc = sl_key_get(db, cur.id, out, err, err_size);
    return rc;
}

int sl_key_rotate(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out,
                  char *secret, char *err, size_t err_size)
{
    struct sl_key_record cur;
    char hex[65], prefix[SL_KEY_PREFIX_LEN + 1];
    int rc = new_secret(secret, hex, err, err_size);
    if (rc == 0)
        rc = begin(db, err, err_size);
    if (rc != 0)
        return rc;
    rc = find_live(db, id_or_name, &cur, err, err_size);
    snprintf(prefix, sizeof(prefix), "%.*s", SL_KEY_PREFIX_LEN, secret);
    struct param p[] = {TEXT(cur.id), TEXT(hex), TEXT(prefix), INT(sl_wall_us())};
    if (rc == 0)
        rc = q_exec(db,
                    "UPDATE gateway_keys SET secret_sha256 = $2, prefix = $3, updated_us = $4"
                    " WHERE id = $1",
                    p, 4, err, err_size);
    rc = end(db, rc, err, err_size);
    if (rc == 0 && out)
        rc = sl_key_get(db, cur.id, out, err, err_size);
    if (rc != 0)
        memset(secret, 0, SL_KEY_SECRET_LEN + 1);
    return rc;
}

int sl_key_revoke(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out, char *err,
                  size_t err_size)
{
    struct sl_key_record cur;
    int rc = find(db, id_or_name, sl_wall_us(), &cur, NULL, err, err_size);
    int64_t now = sl_wall_us();
    struct param p[] = {TEXT(cur.id), INT(now)};
    if (rc == 0)
        rc = q_exec(db,
                    "UPDATE gateway_keys SET revoked_us = $2, updated_us = $2"
                    " WHERE id = $1 AND revoked_us IS NULL",
                    p, 2, err, err_size);
    if (rc == 0 && out)
        rc = sl_key_get(db, cur.id, out, err, err_size);
    return rc;
}

int sl_key_add_spend(struct sl_keydb *db, const struct sl_key_spend *s, size_t n, char *err,
                     size_t err_size)
{
    int rc = begin(db, err, err_size);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct param p[] = {TEXT(s[i].key_id),       INT(s[i].period_start_us),
                            REAL(s[i].usd),          INT(s[i].requests),
                            INT(s[i].prompt_tokens), INT(s[i].completion_tokens)};
        rc = q_exec(db,
                    "INSERT INTO gateway_key_spend (key_id, period_start_us, usd, requests,"
                    " prompt_tokens, completion_tokens) VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (key_id, period_start_us) DO UPDATE SET"
                    " usd = gateway_key_spend.usd + excluded.usd,"
                    " requests = gateway_key_spend.requests + excluded.requests,"
                    " prompt_tokens = gateway_key_spend.prompt_tokens + excluded.prompt_tokens,"
                    " completion_tokens = gateway_key_spend.completion_tokens +"
                    " excluded.completion_tokens",
                    p, 6, err, err_size);
    }
    return end(db, rc, err, err_size);
}
