/* SQLite store: one writer thread owns the connection.
 *
 * Design
 *  - The loop thread owns `cur` (the batch being filled), the free list and
 *    every counter. The writer thread owns the sqlite3 connection and the
 *    prepared statements. They meet in two mutex-protected FIFOs of jobs:
 *    `todo` (loop -> writer, with a condition variable) and `done` (writer ->
 *    loop, with a uv_async wake-up).
 *  - A job is: open the database, write one batch in one transaction, run
 *    a function against the connection (begin/end run, analytics, a flush
 *    barrier), or close. Jobs run strictly in order, so a barrier completes
 *    only after every batch queued before it.
 *  - Bound: at most max_batches batches are queued or being written; past
 *    that, append says UV_EAGAIN and on_writable fires when one completes.
 *    A flush may queue one batch beyond the bound, never more.
 *  - A batch that fails is retried (the transaction rolled back each time);
 *    if it still fails its rows are counted as failed, with the reason kept
 *    for the caller. Nothing is dropped silently.
 *  - Teardown: the close job finalises and closes the connection, the
 *    thread exits, the loop joins it and closes the async handle; the store
 *    is freed in that close callback, after the user's callback.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "store/analytics.h"
#include "store/migrate.h"
#include "store/store.h"

enum job_kind { JOB_OPEN, JOB_BATCH, JOB_CALL, JOB_CLOSE };

struct batch {
    struct batch *next;
    unsigned n;
    struct sl_record rows[];
};

struct job;
typedef int (*job_fn)(struct sl_store *store, struct job *job);

struct job {
    struct job *next;
    enum job_kind kind;
    struct batch *batch;
    job_fn fn;
    sl_store_cb cb;
    void *arg;
    void *out;
    const void *in;
    int64_t id;
    unsigned value;
    int status;
    char err[256];
};

struct sl_store {
    uv_loop_t *loop;
    struct sl_store_options opts;
    char path[4096];
    char err[512];
    int64_t run_id;

    /* loop thread only */
    uv_async_t wake;
    uv_timer_t flush_timer;
    struct batch *cur;
    struct batch *free_batches;
    unsigned batches_in_flight;
    uint64_t rows_written, rows_failed, rows_appended;
    int want_writable, closing, handles_open;
    void (*on_writable)(struct sl_store *, void *);
    void *writable_arg;
    sl_store_cb close_cb;
    void *close_arg;
    int close_status;

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *todo_head, **todo_tail;
    struct job *done_head, **done_tail;
    uv_thread_t thread;
    int thread_started;

    /* writer thread only */
    sqlite3 *db;
    sqlite3_stmt *insert;
    int created_file;
};

/* ---- the writer thread --------------------------------------------------- */

static void remove_created_files(struct sl_store *s)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char name[4200];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
        snprintf(name, sizeof(name), "%s%s", s->path, suffixes[i]);
        unlink(name);
    }
}

static int exec_sql(sqlite3 *db, const char *sql, struct job *job)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

static const char insert_sql[] =
    "INSERT INTO requests (id, created_us, started_us, finished_us, attempts, status, error, "
    "metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

static int do_open(struct sl_store *s, struct job *job)
{
    int existed = access(s->path, F_OK) == 0;
    if (!existed && !s->opts.create) {
        snprintf(job->err, sizeof(job->err), "no database at %s", s->path);
        return UV_ENOENT;
    }
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (s->opts.create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    s->created_file = !existed;
    if (rc != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot open database %s: %s", s->path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-32768;",
             s->opts.sync == SL_SYNC_FULL ? "FULL" : "NORMAL");
    if (exec_sql(s->db, pragmas, job) != SQLITE_OK) {
        char reason[256];
        snprintf(reason, sizeof(reason), "%s", job->err);
        snprintf(job->err, sizeof(job->err), "cannot use database %s: %s", s->path, reason);
        goto fail;
    }
    int version;
    char reason[256] = "";
    if (sl_migrate_sqlite_version(s->db, &version, reason, sizeof(reason)) != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot use database %s: %s", s->path, reason);
        goto fail;
    }
    int latest = sl_migrations_latest();
    if (version > latest) {
        snprintf(job->err, sizeof(job->err),
                 "database %s has schema version %d, newer than this sluice knows (%d); "
                 "upgrade sluice",
                 s->path, version, latest);
        goto fail;
    }
    if (version < latest) {
        if (!s->opts.migrate) {
            snprintf(job->err, sizeof(job->err),
                     "database %s has schema version %d, older than this sluice needs (%d); "
                     "run: sluice migrate up --db %s",
                     s->path, version, latest, s->path);
            goto fail;
        }
        int applied;
        if (sl_migrate_sqlite_to(s->db, latest, &applied, reason, sizeof(reason)) != SQLITE_OK) {
            snprintf(job->err, sizeof(job->err), "database %s: %s", s->path, reason);
            goto fail;
        }
    }
    rc = sqlite3_prepare_v3(s->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &s->insert, NULL);
    if (rc != SQLITE_OK) {
        snprintf(job->err, sizeof(job->err), "cannot prepare insert: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    return 0;
fail:
    sqlite3_close(s->db);
    s->db = NULL;
    if (s->created_file)
        remove_created_files(s);
    return UV_EIO;
}

/* {"model":"...","prompt_tokens":N}, written by hand: this runs once per
 * row on the writer's hot path, where snprintf was a visible cost. Model
 * names are the simulator's static ASCII names, no escaping needed. */
static int format_metadata(char *buf, size_t size, const struct sl_record *r)
{
    static const char head[] = "{\"model\":\"", mid[] = "\",\"prompt_tokens\":";
    const char *model = r->model ? r->model : "";
    size_t mlen = strlen(model);
    if (mlen > size - 48)
        mlen = size - 48;
    char *p = buf;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    memcpy(p, model, mlen);
    p += mlen;
    memcpy(p, mid, sizeof(mid) - 1);
    p += sizeof(mid) - 1;
    char digits[12];
    int n = 0;
    uint32_t v = r->prompt_tokens;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    *p++ = '}';
    return (int)(p - buf);
}

static int insert_rows(struct sl_store *s, const struct batch *b, struct job *job)
{
    sqlite3_stmt *st = s->insert;
    char meta[160];
    for (unsigned i = 0; i < b->n; i++) {
        const struct sl_record *r = &b->rows[i];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(((uint64_t)s->run_id << 32) | r->request_id));
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
        int len = format_metadata(meta, sizeof(meta), r);
        sqlite3_bind_text(st, 8, meta, len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            snprintf(job->err, sizeof(job->err), "insert failed: %s", sqlite3_errmsg(s->db));
            return rc;
        }
    }
    return SQLITE_OK;
}

static int do_batch(struct sl_store *s, struct job *job)
{
    /* A failed transaction is rolled back whole, so retrying cannot
     * duplicate rows. The waits are on this thread, never the loop's. */
    static const unsigned backoff_ms[] = {0, 50, 200, 1000};
    int rc = SQLITE_ERROR;
    for (size_t i = 0; i < sizeof(backoff_ms) / sizeof(*backoff_ms); i++) {
        if (backoff_ms[i])
            usleep(backoff_ms[i] * 1000);
        rc = exec_sql(s->db, "BEGIN", job);
        if (rc == SQLITE_OK)
            rc = insert_rows(s, job->batch, job);
        if (rc == SQLITE_OK)
            rc = exec_sql(s->db, "COMMIT", job);
        if (rc == SQLITE_OK)
            return 0;
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == SQLITE_CONSTRAINT)
            break; /* the same rows would fail the same way */
    }
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", job->err);
    snprintf(job->err, sizeof(job->err), "cannot write %u rows to %s: %s", job->batch->n, s->path,
             reason);
    return UV_EIO;
}

static void do_close(struct sl_store *s)
{
    sqlite3_finalize(s->insert);
    s->insert = NULL;
    if (s->db) {
        /* The last connection's close checkpoints and removes the -wal. */
        sqlite3_close(s->db);
        s->db = NULL;
    }
}

static void writer_main(void *arg)
{
    struct sl_store *s = arg;
    pthread_setname_np(pthread_self(), "sluice-sqlite");
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->todo_head == NULL)
            pthread_cond_wait(&s->cv, &s->mu);
        struct job *job = s->todo_head;
        s->todo_head = job->next;
        if (s->todo_head == NULL)
            s->todo_tail = &s->todo_head;
        pthread_mutex_unlock(&s->mu);

        switch (job->kind) {
        case JOB_OPEN:
            job->status = do_open(s, job);
            break;
        case JOB_BATCH:
            job->status = s->db ? do_batch(s, job) : UV_EBADF;
            if (!s->db)
                snprintf(job->err, sizeof(job->err), "database is not open");
            break;
        case JOB_CALL:
            if (s->db) {
                job->status = job->fn(s, job);
            } else {
                job->status = UV_EBADF;
                snprintf(job->err, sizeof(job->err), "database is not open");
            }
            break;
        case JOB_CLOSE:
            do_close(s);
            break;
        }

        pthread_mutex_lock(&s->mu);
        job->next = NULL;
        *s->done_tail = job;
        s->done_tail = &job->next;
        pthread_mutex_unlock(&s->mu);
        uv_async_send(&s->wake);
        if (job->kind == JOB_CLOSE)
            return;
    }
}

/* ---- the loop thread ----------------------------------------------------- */

static void submit(struct sl_store *s, struct job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&s->mu);
    *s->todo_tail = job;
    s->todo_tail = &job->next;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static struct job *new_job(enum job_kind kind, sl_store_cb cb, void *arg)
{
    struct job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        fprintf(stderr, "sluice: out of memory\n");
        abort();
    }
    job->kind = kind;
    job->cb = cb;
    job->arg = arg;
    return job;
}

static struct batch *take_batch(struct sl_store *s)
{
    struct batch *b = s->free_batches;
    if (b) {
        s->free_batches = b->next;
    } else {
        b = malloc(sizeof(*b) + (size_t)s->opts.batch_rows * sizeof(struct sl_record));
        if (b == NULL) {
            fprintf(stderr, "sluice: out of memory\n");
            abort();
        }
    }
    b->n = 0;
    b->next = NULL;
    return b;
}

static void push_current(struct sl_store *s)
{
    struct job *job = new_job(JOB_BATCH, NULL, NULL);
    job->batch = s->cur;
    s->cur = NULL;
    s->batches_in_flight++;
    submit(s, job);
}

static void free_store(uv_handle_t *handle)
{
    struct sl_store *s = handle->data;
    if (--s->handles_open > 0)
        return;
    sl_store_cb cb = s->close_cb;
    void *arg = s->close_arg;
    int status = s->close_status;
    while (s->free_batches) {
        struct batch *b = s->free_batches;
        s->free_batches = b->next;
        free(b);
    }
    free(s->cur);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    if (cb)
        cb(NULL, status, arg);
    free(s);
}

static void complete(struct sl_store *s, struct job *job)
{
    switch (job->kind) {
    case JOB_BATCH:
        s->batches_in_flight--;
        if (job->status == 0) {
            s->rows_written += job->batch->n;
        } else {
            s->rows_failed += job->batch->n;
            if (s->close_status == 0)
                s->close_status = job->status;
            snprintf(s->err, sizeof(s->err), "%s", job->err);
        }
        job->batch->next = s->free_batches;
        s->free_batches = job->batch;
        if (s->want_writable) {
            s->want_writable = 0;
            if (s->on_writable)
                s->on_writable(s, s->writable_arg);
        }
        break;
    case JOB_OPEN:
    case JOB_CALL:
        if (job->status != 0)
            snprintf(s->err, sizeof(s->err), "%s", job->err);
        if (job->cb)
            job->cb(s, job->status, job->arg);
        break;
    case JOB_CLOSE:
        uv_thread_join(&s->thread);
        s->thread_started = 0;
        uv_close((uv_handle_t *)&s->wake, free_store);
        uv_close((uv_handle_t *)&s->flush_timer, free_store);
        break;
    }
    free(job);
}

static void on_wake(uv_async_t *async)
{
    struct sl_store *s = async->data;
    pthread_mutex_lock(&s->mu);
    struct job *list = s->done_head;
    s->done_head = NULL;
    s->done_tail = &s->done_head;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        struct job *next = list->next;
        complete(s, list);
        list = next;
    }
}

static void on_flush_timer(uv_timer_t *timer)
{
    struct sl_store *s = timer->data;
    if (s->cur && s->cur->n > 0 && s->batches_in_flight < s->opts.max_batches)
        push_current(s);
}

int sl_store_open(uv_loop_t *loop, const char *url, const struct sl_store_options *opts,
                  struct sl_store **out, sl_store_cb cb, void *arg)
{
    struct sl_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return UV_ENOMEM;
    *out = s;
    s->loop = loop;
    s->opts = *opts;
    if (s->opts.batch_rows == 0)
        s->opts.batch_rows = 1;
    if (s->opts.max_batches == 0)
        s->opts.max_batches = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->todo_tail = &s->todo_head;
    s->done_tail = &s->done_head;
    uv_async_init(loop, &s->wake, on_wake);
    uv_timer_init(loop, &s->flush_timer);
    s->wake.data = s->flush_timer.data = s;
    s->handles_open = 2;
    uv_unref((uv_handle_t *)&s->flush_timer);

    struct job *job = new_job(JOB_OPEN, cb, arg);
    int rc = sl_store_parse_url(url, s->path, sizeof(s->path), job->err, sizeof(job->err));
    if (rc == 0)
        rc = uv_thread_create(&s->thread, writer_main, s);
    if (rc != 0) {
        /* Report through the normal path so callers have one error flow. */
        job->kind = JOB_CALL;
        job->status = rc;
        pthread_mutex_lock(&s->mu);
        *s->done_tail = job;
        s->done_tail = &job->next;
        pthread_mutex_unlock(&s->mu);
        uv_async_send(&s->wake);
        return 0;
    }
    s->thread_started = 1;
    uv_timer_start(&s->flush_timer, on_flush_timer, s->opts.flush_ms, s->opts.flush_ms);
    submit(s, job);
    return 0;
}

const char *sl_store_error(const struct sl_store *s)
{
    return s->err;
}

const char *sl_store_path(const struct sl_store *s)
{
    return s->path;
}

int64_t sl_store_run_id(const struct sl_store *s)
{
    return s->run_id;
}

uint64_t sl_store_rows_written(const struct sl_store *s)
{
    return s->rows_written;
}

uint64_t sl_store_rows_failed(const struct sl_store *s)
{
    return s->rows_failed;
}

uint64_t sl_store_rows_pending(const struct sl_store *s)
{
    return s->rows_appended - s->rows_written - s->rows_failed;
}

void sl_store_on_writable(struct sl_store *s, void (*cb)(struct sl_store *, void *), void *arg)
{
    s->on_writable = cb;
    s->writable_arg = arg;
}

int sl_store_append(struct sl_store *s, const struct sl_record *rec)
{
    if (s->cur && s->cur->n == s->opts.batch_rows) {
        if (s->batches_in_flight >= s->opts.max_batches) {
            s->want_writable = 1;
            return UV_EAGAIN;
        }
        push_current(s);
    }
    if (s->cur == NULL)
        s->cur = take_batch(s);
    s->cur->rows[s->cur->n++] = *rec;
    s->rows_appended++;
    if (s->cur->n == s->opts.batch_rows && s->batches_in_flight < s->opts.max_batches)
        push_current(s);
    return 0;
}

static void call(struct sl_store *s, job_fn fn, const void *in, void *out, int64_t id,
                 unsigned value, sl_store_cb cb, void *arg)
{
    struct job *job = new_job(JOB_CALL, cb, arg);
    job->fn = fn;
    job->in = in;
    job->out = out;
    job->id = id;
    job->value = value;
    submit(s, job);
}

static int noop(struct sl_store *s, struct job *job)
{
    (void)s;
    (void)job;
    return 0;
}

void sl_store_flush(struct sl_store *s, sl_store_cb cb, void *arg)
{
    if (s->cur && s->cur->n > 0)
        push_current(s);
    call(s, noop, NULL, NULL, 0, 0, cb, arg);
}

static int do_begin_run(struct sl_store *s, struct job *job)
{
    const struct sl_run_info *info = job->in;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
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
    if (rc != SQLITE_DONE) {
        snprintf(job->err, sizeof(job->err), "cannot record the run in %s: %s", s->path,
                 sqlite3_errmsg(s->db));
        return UV_EIO;
    }
    s->run_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

void sl_store_begin_run(struct sl_store *s, const struct sl_run_info *info, sl_store_cb cb,
                        void *arg)
{
    call(s, do_begin_run, info, NULL, 0, 0, cb, arg);
}

static int do_end_run(struct sl_store *s, struct job *job)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "UPDATE runs SET finished_us = ?1, status = ?2, max_in_flight = ?3 "
                                "WHERE id = ?4",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, sl_wall_us());
        sqlite3_bind_text(st, 2, job->in, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)job->value);
        sqlite3_bind_int64(st, 4, s->run_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(job->err, sizeof(job->err), "cannot finish the run in %s: %s", s->path,
                 sqlite3_errmsg(s->db));
        return UV_EIO;
    }
    return 0;
}

void sl_store_end_run(struct sl_store *s, const char *status, unsigned max_in_flight,
                      sl_store_cb cb, void *arg)
{
    if (s->cur && s->cur->n > 0)
        push_current(s);
    call(s, do_end_run, status, NULL, 0, max_in_flight, cb, arg);
}

static int do_query_stats(struct sl_store *s, struct job *job)
{
    int rc = sl_stats_query_sqlite(s->db, job->id, job->out, job->err, sizeof(job->err));
    return rc == SQLITE_OK ? 0 : (rc == SQLITE_NOTFOUND ? UV_ENOENT : UV_EIO);
}

void sl_store_query_stats(struct sl_store *s, int64_t run_id, struct sl_stats *out, sl_store_cb cb,
                          void *arg)
{
    call(s, do_query_stats, NULL, out, run_id, 0, cb, arg);
}

void sl_store_close(struct sl_store *s, sl_store_cb cb, void *arg)
{
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    uv_timer_stop(&s->flush_timer);
    if (s->cur && s->cur->n > 0 && s->thread_started)
        push_current(s);
    if (!s->thread_started) {
        uv_close((uv_handle_t *)&s->wake, free_store);
        uv_close((uv_handle_t *)&s->flush_timer, free_store);
        return;
    }
    submit(s, new_job(JOB_CLOSE, NULL, NULL));
}
