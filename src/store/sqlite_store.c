/* SQLite backend: one writer thread owns the connection.
 *
 * Design
 *  - store.c (on the loop) batches and orders the operations; this backend
 *    receives batches and calls and hands them to the writer thread, which
 *    owns the sqlite3 connection and the prepared statements. The thread
 *    is a core/worker: jobs go in order, their completions come back to
 *    the loop, and the thread runs as background work (the loop first).
 *  - A job is: open the database, write one batch in one transaction, run
 *    a call against the connection (begin/end run, analytics, migrations,
 *    chat history, a flush barrier), or close. Jobs run strictly in order.
 *  - A batch that fails is retried (the transaction rolled back each time);
 *    if it still fails its rows are counted as failed, with the reason kept
 *    for the caller. Nothing is dropped silently.
 *  - Teardown: the close job finalises and closes the connection; its
 *    completion closes the worker (the thread joined), whose callback frees
 *    the backend state, then store.c frees the store.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/worker.h"
#include "store/rows.h"
#include "store/analytics.h"
#include "store/conv_page.h"
#include "store/migrate.h"
#include "store/store_impl.h"

enum job_kind { JOB_OPEN, JOB_BATCH, JOB_CALL, JOB_CLOSE };

struct job {
    struct sl_worker_job w; /* first: the worker hands it back */
    struct lite *lite;
    enum job_kind kind;
    struct sl__batch *batch;
    struct sl__call *call;
    int status;
    uint64_t queries; /* the writer's count when the job finished */
    char err[512];
};

struct lite {
    struct sl_store *store;
    char path[4096];
    struct sl_worker *writer; /* the thread that owns the connection */

    /* writer thread only */
    sqlite3 *db;
    sqlite3_stmt *insert, *replay;
    int created_file;
    int64_t run_id;   /* the writer's copy, set by begin_run */
    uint64_t queries; /* statements run; the loop sees copies in jobs */
};

/* ---- the writer thread --------------------------------------------------- */

static void remove_created_files(struct lite *l)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char name[4200];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
        snprintf(name, sizeof(name), "%s%s", l->path, suffixes[i]);
        unlink(name);
    }
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

/* Replayed rows (the overflow spool) may already be there if a crash came
 * between their write and the spool's emptying: those are skipped. */
static const char insert_sql[] = "INSERT INTO requests (id, created_us, started_us, finished_us, "
                                 "attempts, status, error, metadata) VALUES (?1, ?2, ?3, ?4, ?5, "
                                 "?6, ?7, ?8)";
static const char replay_sql[] = "INSERT OR IGNORE INTO requests (id, created_us, started_us, "
                                 "finished_us, attempts, status, error, "
                                 "metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/* How a reader (stats) opens the file without leaving side files.
 *
 * A WAL-mode database gets its -wal and -shm when a connection opens it;
 * the last connection to close removes them, but only if it could write:
 * a read-only connection leaves both behind (in a directory where it may
 * create files), or cannot open at all (where it may not). So:
 *  - file and directory writable: read-write (the close cleans up), with
 *    query_only set: the reader still writes nothing;
 *  - else, no -wal (no writer has it open, nothing waits to be checkpointed):
 *    immutable=1, which reads the file alone, no side files, no locks;
 *  - else a writer is at work and its -wal/-shm exist already: read-only. */
static int reader_flags(const char *path, char *uri, size_t size, const char **name)
{
    char dir[4096], wal[4200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(path, W_OK) == 0 && access(dir, W_OK | X_OK) == 0)
        return SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    if (access(wal, F_OK) == 0)
        return SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    /* file:PATH?immutable=1, with the characters a URI gives meaning to
     * escaped; an absolute path gets an empty authority */
    size_t n = (size_t)snprintf(uri, size, "file:%s", path[0] == '/' ? "//" : "");
    for (const char *p = path; *p && n + 4 < size; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            n += (size_t)snprintf(uri + n, size - n, "%%%02x", (unsigned char)*p);
        else
            uri[n++] = *p;
    }
    snprintf(uri + n, size - n, "?immutable=1");
    *name = uri;
    return SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
}

static int do_open(struct lite *l, const struct sl_store_options *opts, struct job *job)
{
    int existed = access(l->path, F_OK) == 0;
    if (!existed && !opts->create) {
        snprintf(job->err, sizeof(job->err), "no database at %s", l->path);
        return UV_ENOENT;
    }
    char uri[4096 * 3 + 64];
    const char *name = l->path;
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (opts->create ? SQLITE_OPEN_CREATE : 0);
    if (opts->read_only)
        flags = reader_flags(l->path, uri, sizeof(uri), &name);
    int rc = sqlite3_open_v2(name, &l->db, flags, NULL);
    l->created_file = !existed;
    char reason[400] = "";
    if (rc != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot open database %s: %s", l->path,
                 l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(l->db, 10000);
    char pragmas[256];
    if (opts->read_only) /* a reader does not change the journal mode */
        snprintf(pragmas, sizeof(pragmas), "PRAGMA query_only=1; PRAGMA cache_size=-32768;");
    else
        snprintf(pragmas, sizeof(pragmas),
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-32768;",
                 opts->sync == SL_SYNC_FULL ? "FULL" : "NORMAL");
    if (exec_sql(l->db, pragmas, reason, sizeof(reason)) != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot use database %s: %s", l->path, reason);
        goto fail;
    }
    int version;
    if (sl_migrate_sqlite_version(l->db, &version, reason, sizeof(reason)) != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot use database %s: %s", l->path, reason);
        goto fail;
    }
    if (opts->any_schema)
        return 0;
    switch (sl_migrate_open_verdict(version, opts->migrate, l->path, l->path, "", job->err,
                                    sizeof(job->err))) {
    case SL_SCHEMA_REFUSE:
        goto fail;
    case SL_SCHEMA_MIGRATE: {
        int applied;
        if (sl_migrate_sqlite_to(l->db, sl_migrations_latest(), &applied, reason, sizeof(reason)) !=
            SQLITE_OK) {
            snprintf(job->err, sizeof(job->err), "database %s: %s", l->path, reason);
            goto fail;
        }
        break;
    }
    case SL_SCHEMA_CURRENT:
        break;
    }
    return 0;
fail:
    sqlite3_close(l->db);
    l->db = NULL;
    if (l->created_file)
        remove_created_files(l);
    return UV_EIO;
}

static int insert_rows(struct lite *l, const struct sl__batch *b, struct job *job)
{
    sqlite3_stmt **stp = b->replay ? &l->replay : &l->insert;
    if (*stp == NULL && sqlite3_prepare_v3(l->db, b->replay ? replay_sql : insert_sql, -1,
                                           SQLITE_PREPARE_PERSISTENT, stp, NULL) != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot prepare insert: %s", sqlite3_errmsg(l->db));
        return SQLITE_ERROR;
    }
    sqlite3_stmt *st = *stp;
    uint64_t run_id = (uint64_t)(b->run_id ? b->run_id : l->run_id);
    char meta[SL_STORE_METADATA_MAX];
    for (unsigned i = 0; i < b->n; i++) {
        const struct sl_record *r = &b->rows[i];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)((run_id << 32) | r->request_id));
        sqlite3_bind_int64(st, 2, r->created_us);
        if (r->started_us)
            sqlite3_bind_int64(st, 3, r->started_us);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_int64(st, 4, r->finished_us);
        sqlite3_bind_int(st, 5, r->attempts);
        sqlite3_bind_text(st, 6, sl_req_status_name(r->status), -1, SQLITE_STATIC);
        if (r->error != SL_OK)
            sqlite3_bind_text(st, 7, sl_err_name(r->error), -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 7);
        int len = sl__format_metadata(meta, sizeof(meta), r);
        sqlite3_bind_text(st, 8, meta, len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            snprintf(job->err, sizeof(job->err), "insert failed: %s", sqlite3_errmsg(l->db));
            return rc;
        }
    }
    l->queries += b->n;
    return SQLITE_OK;
}

static int do_batch(struct lite *l, struct job *job)
{
    /* A failed transaction is rolled back whole, so retrying cannot
     * duplicate rows. The waits are on this thread, never the loop's. */
    static const unsigned backoff_ms[] = {0, 50, 200, 1000};
    int rc = SQLITE_ERROR;
    for (size_t i = 0; i < sizeof(backoff_ms) / sizeof(*backoff_ms); i++) {
        if (backoff_ms[i])
            usleep(backoff_ms[i] * 1000);
        rc = exec_sql(l->db, "BEGIN", job->err, sizeof(job->err));
        if (rc == SQLITE_OK)
            rc = insert_rows(l, job->batch, job);
        if (rc == SQLITE_OK)
            rc = exec_sql(l->db, "COMMIT", job->err, sizeof(job->err));
        if (rc == SQLITE_OK)
            return 0;
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == SQLITE_CONSTRAINT)
            break; /* the same rows would fail the same way */
    }
    char reason[400];
    snprintf(reason, sizeof(reason), "%s", job->err);
    snprintf(job->err, sizeof(job->err), "cannot write %u rows to %s: %s", job->batch->n, l->path,
             reason);
    return UV_EIO;
}

static int do_begin_run(struct lite *l, struct sl__call *c)
{
    const struct sl_run_info *info = c->in;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db,
                                "INSERT INTO runs (command, started_us, requests, concurrency, "
                                "params) VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, info->command, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, sl_wall_us());
        sqlite3_bind_int64(st, 3, (sqlite3_int64)info->requests);
        sqlite3_bind_int(st, 4, (int)info->concurrency);
        sqlite3_bind_text(st, 5, info->params_json ? info->params_json : "{}", -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    l->queries++;
    if (rc != SQLITE_DONE) {
        snprintf(c->err, sizeof(c->err), "cannot record the run in %s: %s", l->path,
                 sqlite3_errmsg(l->db));
        return UV_EIO;
    }
    l->run_id = sqlite3_last_insert_rowid(l->db);
    return 0;
}

static int do_end_run(struct lite *l, struct sl__call *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db,
                                "UPDATE runs SET finished_us = ?1, status = ?2, max_in_flight = ?3 "
                                "WHERE id = ?4",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, sl_wall_us());
        sqlite3_bind_text(st, 2, c->in, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, c->value);
        sqlite3_bind_int64(st, 4, l->run_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    l->queries++;
    if (rc != SQLITE_DONE) {
        snprintf(c->err, sizeof(c->err), "cannot finish the run in %s: %s", l->path,
                 sqlite3_errmsg(l->db));
        return UV_EIO;
    }
    return 0;
}

/* Two queries whatever the page size: the conversations, then all their
 * messages (the page is every id in [first, last], so a range finds them). */
static int do_conversations(struct lite *l, struct sl__call *c)
{
    struct sl__conv_builder b;
    sl__conv_builder_init(&b);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db,
                                "SELECT id, title, created_us FROM conversations WHERE id > ?1 "
                                "ORDER BY id LIMIT ?2",
                                -1, &st, NULL);
    int status = 0;
    if (rc != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_int(st, 2, c->value);
    l->queries++;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && status == 0)
        status =
            sl__conv_add(&b, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                         (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_int64(st, 2));
    if (rc != SQLITE_DONE && status == 0)
        goto sql_fail;
    sqlite3_finalize(st);
    st = NULL;
    if (status == 0 && b.n_convs > 0) {
        rc = sqlite3_prepare_v2(l->db,
                                "SELECT conversation_id, seq, role, content, created_us FROM "
                                "messages WHERE conversation_id BETWEEN ?1 AND ?2 "
                                "ORDER BY conversation_id, seq",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
            goto sql_fail;
        sqlite3_bind_int64(st, 1, b.convs[0].id);
        sqlite3_bind_int64(st, 2, b.convs[b.n_convs - 1].id);
        l->queries++;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && status == 0)
            status = sl__conv_add_message(
                &b, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                (const char *)sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                (const char *)sqlite3_column_text(st, 3), (size_t)sqlite3_column_bytes(st, 3),
                sqlite3_column_int64(st, 4));
        if (rc != SQLITE_DONE && status == 0)
            goto sql_fail;
        sqlite3_finalize(st);
    }
    if (status == 0)
        return sl__conv_finish(&b, c->out);
    snprintf(c->err, sizeof(c->err), "chat history page too large (%s)", uv_strerror(status));
    sl__conv_builder_release(&b);
    return status;
sql_fail:
    snprintf(c->err, sizeof(c->err), "cannot load conversations from %s: %s", l->path,
             sqlite3_errmsg(l->db));
    sqlite3_finalize(st);
    sl__conv_builder_release(&b);
    return UV_EIO;
}

static int do_rows(struct lite *l, struct sl__call *c)
{
    sqlite3_stmt *st = NULL;
    struct sl__rows_builder b;
    l->queries++;
    if (sqlite3_prepare_v2(l->db, c->in, -1, &st, NULL) != SQLITE_OK) {
        snprintf(c->err, sizeof(c->err), "query failed in %s: %s", l->path, sqlite3_errmsg(l->db));
        return UV_EIO;
    }
    unsigned n_cols = (unsigned)sqlite3_column_count(st);
    sl__rows_builder_init(&b, n_cols);
    int rc, status = 0;
    while (status == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        for (unsigned i = 0; i < n_cols && status == 0; i++) {
            const char *t = (const char *)sqlite3_column_text(st, (int)i);
            status = sl__rows_add(&b, t, t ? (size_t)sqlite3_column_bytes(st, (int)i) : 0);
        }
    if (status == 0 && rc != SQLITE_DONE) {
        snprintf(c->err, sizeof(c->err), "query failed in %s: %s", l->path, sqlite3_errmsg(l->db));
        status = UV_EIO;
    } else if (status != 0) {
        snprintf(c->err, sizeof(c->err), "query result too large (%s)", uv_strerror(status));
    }
    sqlite3_finalize(st);
    if (status != 0) {
        sl__rows_builder_release(&b);
        return status;
    }
    return sl__rows_finish(&b, c->out);
}

/* The body log's conversations: one transaction, a row each and its
 * messages after it. */
static int do_add_conversations(struct lite *l, struct sl__call *c)
{
    const struct sl_conv_in *convs = c->in;
    sqlite3_stmt *conv = NULL, *msg = NULL;
    int rc = sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(l->db,
                                "INSERT INTO conversations (title, created_us) VALUES (?1, ?2)", -1,
                                &conv, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(l->db,
                                "INSERT INTO messages (conversation_id, seq, role, content, "
                                "created_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &msg, NULL);
    for (int i = 0; rc == SQLITE_OK && i < c->value; i++) {
        sqlite3_bind_text(conv, 1, convs[i].title, -1, SQLITE_STATIC);
        sqlite3_bind_int64(conv, 2, convs[i].created_us);
        rc = sqlite3_step(conv) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(conv);
        int64_t id = sqlite3_last_insert_rowid(l->db);
        for (unsigned k = 0; rc == SQLITE_OK && k < convs[i].n_messages; k++) {
            const struct sl_message *m = &convs[i].messages[k];
            sqlite3_bind_int64(msg, 1, id);
            sqlite3_bind_int(msg, 2, m->seq);
            sqlite3_bind_text(msg, 3, m->role, -1, SQLITE_STATIC);
            sqlite3_bind_text(msg, 4, m->content, -1, SQLITE_STATIC);
            sqlite3_bind_int64(msg, 5, m->created_us);
            rc = sqlite3_step(msg) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(msg);
        }
    }
    l->queries++;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        snprintf(c->err, sizeof(c->err), "cannot record the conversations in %s: %s", l->path,
                 sqlite3_errmsg(l->db));
    sqlite3_finalize(conv);
    sqlite3_finalize(msg);
    if (rc != SQLITE_OK)
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : UV_EIO;
}

static int do_call(struct lite *l, struct sl__call *c)
{
    char reason[400] = "";
    int rc;
    switch (c->kind) {
    case SL__CALL_BARRIER:
        return 0;
    case SL__CALL_BEGIN_RUN:
        return do_begin_run(l, c);
    case SL__CALL_END_RUN:
        return do_end_run(l, c);
    case SL__CALL_STATS:
        rc = sl_stats_query_sqlite(l->db, c->id, c->out, c->err, sizeof(c->err));
        l->queries += 3;
        return rc == SQLITE_OK ? 0 : (rc == SQLITE_NOTFOUND ? UV_ENOENT : UV_EIO);
    case SL__CALL_VERSION:
        l->queries++;
        if (sl_migrate_sqlite_version(l->db, c->out, reason, sizeof(reason)) == SQLITE_OK)
            return 0;
        snprintf(c->err, sizeof(c->err), "%s: %s", l->path, reason);
        return UV_EIO;
    case SL__CALL_MIGRATE:
        if (sl_migrate_sqlite_to(l->db, c->value, c->out, reason, sizeof(reason)) == SQLITE_OK)
            return 0;
        snprintf(c->err, sizeof(c->err), "%s: %s", l->path, reason);
        return UV_EIO;
    case SL__CALL_CONVERSATIONS:
        return do_conversations(l, c);
    case SL__CALL_ROWS:
        return do_rows(l, c);
    case SL__CALL_ADD_CONVERSATIONS:
        return do_add_conversations(l, c);
    }
    return UV_EINVAL;
}

static void do_close(struct lite *l)
{
    sqlite3_finalize(l->insert);
    sqlite3_finalize(l->replay);
    l->insert = l->replay = NULL;
    if (l->db) {
        /* The last connection's close checkpoints and removes the -wal. */
        sqlite3_close(l->db);
        l->db = NULL;
    }
}

/* The writer thread: one job, in submission order (core/worker). */
static void run_job(struct sl_worker_job *wj)
{
    struct job *job = (struct job *)wj;
    struct lite *l = job->lite;
    if (job->kind == JOB_OPEN) {
        job->status = do_open(l, &l->store->opts, job);
    } else if (job->kind == JOB_CLOSE) {
        do_close(l);
    } else if (l->db == NULL) {
        job->status = UV_EBADF;
        snprintf(job->call ? job->call->err : job->err, sizeof(job->err), "database is not open");
    } else if (job->kind == JOB_BATCH) {
        job->status = do_batch(l, job);
    } else {
        job->status = job->call->status = do_call(l, job->call);
    }
    job->queries = l->queries;
}

/* ---- the loop thread ----------------------------------------------------- */

static void complete(struct sl_worker_job *wj);

static void submit(struct lite *l, enum job_kind kind, struct sl__batch *b, struct sl__call *c)
{
    struct job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        fprintf(stderr, "sluice: out of memory\n");
        abort();
    }
    job->w.work = run_job;
    job->w.done = complete;
    job->lite = l;
    job->kind = kind;
    job->batch = b;
    job->call = c;
    sl_worker_submit(l->writer, &job->w);
}

static void free_lite(void *arg)
{
    struct lite *l = arg;
    struct sl_store *s = l->store;
    free(l);
    sl__store_backend_closed(s);
}

static void complete(struct sl_worker_job *wj)
{
    struct job *job = (struct job *)wj;
    struct lite *l = job->lite;
    struct sl_store *s = l->store;
    if (job->kind != JOB_CLOSE)
        s->queries = job->queries;
    switch (job->kind) {
    case JOB_BATCH:
        sl__store_written(s, job->batch, job->status, job->err);
        break;
    case JOB_OPEN:
        sl__store_opened(s, job->status, job->err);
        break;
    case JOB_CALL:
        if (job->call->kind == SL__CALL_BEGIN_RUN && job->status == 0)
            s->run_id = l->run_id;
        sl__store_called(s, job->call);
        break;
    case JOB_CLOSE:
        sl_worker_close(l->writer, free_lite, l);
        break;
    }
    free(job);
}

static int lite_open(struct sl_store *s, const char *url, char *err, size_t err_size)
{
    (void)url;
    struct lite *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, err_size, "out of memory");
        return UV_ENOMEM;
    }
    l->store = s;
    snprintf(l->path, sizeof(l->path), "%s", s->path);
    /* a writer beside a busy loop lets the loop go first; a reader (stats,
     * report, the dashboard) is what someone is waiting for */
    int rc = sl_worker_new(s->loop, "sluice-sqlite",
                           s->opts.read_only ? SL_THREAD_NORMAL : SL_THREAD_BACKGROUND, &l->writer);
    if (rc != 0) {
        free(l);
        snprintf(err, err_size, "cannot start the SQLite writer thread: %s", uv_strerror(rc));
        return rc;
    }
    s->impl = l;
    submit(l, JOB_OPEN, NULL, NULL);
    return 0;
}

static void lite_write(struct sl_store *s, struct sl__batch *b)
{
    submit(s->impl, JOB_BATCH, b, NULL);
}

static void lite_call(struct sl_store *s, struct sl__call *c)
{
    submit(s->impl, JOB_CALL, NULL, c);
}

static void lite_close(struct sl_store *s)
{
    if (s->impl == NULL) {
        sl__store_backend_closed(s);
        return;
    }
    submit(s->impl, JOB_CLOSE, NULL, NULL);
}

const struct sl__store_backend sl__sqlite_backend = {
    .name = "sqlite",
    .open = lite_open,
    .write = lite_write,
    .call = lite_call,
    .close = lite_close,
};
