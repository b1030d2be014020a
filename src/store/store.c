/* The backend-neutral store: URL parsing, batching, the bound, the order of
 * operations and the counters. See store_impl.h for the contract with the
 * backends and store.h for the one with callers.
 *
 * Ownership: the store owns its batches (a free list reuses them), its
 * calls until they complete, and its flush timer; it is freed in the
 * timer's close callback, after the backend reported it closed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_url.h"
#include "store/store_impl.h"

const char *sl_req_status_name(enum sl_req_status status)
{
    switch (status) {
    case SL_REQ_SUCCEEDED:
        return "succeeded";
    case SL_REQ_FAILED:
        return "failed";
    case SL_REQ_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

void sl_store_options_default(struct sl_store_options *opts)
{
    *opts = (struct sl_store_options){
        .batch_rows = 4096,
        .max_batches = 32,
        .flush_ms = 100,
        .sync = SL_SYNC_FULL,
        .create = 1,
        .migrate = 1,
        .pool_size = 2,
        .max_overflow = 2,
        .pool_wait_ms = 5000,
        .connect_timeout_ms = 5000,
        .write_timeout_ms = 30000,
        .spool = 1,
        .overflow_spool_max_bytes = UINT64_C(1) << 30,
    };
}

void sl_store_options_reader(struct sl_store_options *opts)
{
    sl_store_options_default(opts);
    opts->create = 0;
    opts->migrate = 0;
    opts->spool = 0;
    opts->read_only = 1;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum sl_store_kind sl_store_url_kind(const char *url)
{
    return has_prefix(url, "postgresql://") || has_prefix(url, "postgres://") ? SL_STORE_POSTGRES
                                                                              : SL_STORE_SQLITE;
}

int sl_store_parse_url(const char *url, char *path, size_t path_size, char *err, size_t err_size)
{
    if (sl_store_url_kind(url) == SL_STORE_POSTGRES) {
        if (sl_pg_url_check(url, err, err_size) != 0)
            return UV_EINVAL;
        sl_pg_url_mask(url, path, path_size);
        return 0;
    }
    const char *p = url;
    if (has_prefix(p, "sqlite://"))
        p += strlen("sqlite://");
    else if (has_prefix(p, "sqlite:"))
        p += strlen("sqlite:");
    else if (strstr(p, "://") != NULL) {
        char masked[512];
        sl_pg_url_mask(url, masked, sizeof(masked));
        snprintf(err, err_size,
                 "unsupported database URL scheme in '%s' (use sqlite:PATH or postgresql://...)",
                 masked);
        return UV_EINVAL;
    }
    if (*p == '\0') {
        snprintf(err, err_size, "empty database path in '%s'", url);
        return UV_EINVAL;
    }
    if (strlen(p) >= path_size) {
        snprintf(err, err_size, "database path too long");
        return UV_EINVAL;
    }
    strcpy(path, p);
    return 0;
}

/* {"model":"...","prompt_tokens":N}, written by hand: this runs once per
 * row on a hot path, where snprintf was a visible cost. Model names are
 * the simulator's static ASCII names, no escaping needed. */
int sl__format_metadata(char *buf, size_t size, const struct sl_record *r)
{
    if (r->metadata) {
        size_t n = r->metadata_len < size ? r->metadata_len : size;
        memcpy(buf, r->metadata, n);
        return (int)n;
    }
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

void sl__oom(void)
{
    fprintf(stderr, "sluice: out of memory\n");
    abort();
}

uint64_t sl__path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sl__store_log(struct sl_store *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->opts.log)
        s->opts.log(line, s->opts.log_arg);
    else
        fprintf(stderr, "sluice: %s\n", line);
}

void *sl__xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        sl__oom();
    return p;
}

/* ---- the order of operations --------------------------------------------- */

static void dispatch(struct sl_store *s);

static void enqueue(struct sl_store *s, struct sl__op *op)
{
    op->next = NULL;
    *s->ops_tail = op;
    s->ops_tail = &op->next;
    dispatch(s);
}

static struct sl__op *pop(struct sl_store *s)
{
    struct sl__op *op = s->ops_head;
    s->ops_head = op->next;
    if (s->ops_head == NULL)
        s->ops_tail = &s->ops_head;
    op->next = NULL;
    return op;
}

static void close_backend(struct sl_store *s)
{
    s->be->close(s);
}

static void maybe_close_backend(struct sl_store *s)
{
    if (s->closing == 1 && s->open_call == NULL && s->ops_head == NULL &&
        s->batches_in_backend == 0 && !s->call_in_backend && sl__overflow_idle(s)) {
        s->closing = 2;
        sl__overflow_close(s, close_backend);
    }
}

static void dispatch(struct sl_store *s)
{
    if (s->open_call)
        return; /* the backend is still opening */
    while (s->ops_head && !s->call_in_backend) {
        if (s->ops_head->is_call) {
            /* a barrier: rows on their way to the overflow spool too */
            if (s->batches_in_backend > 0 || s->ov.appends > 0)
                break;
            struct sl__call *c = (struct sl__call *)pop(s);
            if (s->open_failed) {
                c->status = UV_EBADF;
                snprintf(c->err, sizeof(c->err), "database is not open");
                s->call_in_backend = 1;
                sl__store_called(s, c);
                return;
            }
            s->call_in_backend = 1;
            s->be->call(s, c);
        } else {
            struct sl__batch *b = (struct sl__batch *)pop(s);
            s->batches_in_backend++;
            if (s->open_failed)
                sl__store_written(s, b, UV_EBADF, "database is not open");
            else
                s->be->write(s, b);
        }
    }
    if (s->be->drain && s->batches_in_backend > 0 && !s->open_failed &&
        (s->closing || (s->ops_head && s->ops_head->is_call)))
        s->be->drain(s);
    if (s->closing < 2)
        sl__overflow_kick(s);
    maybe_close_backend(s);
}

void sl__store_dispatch(struct sl_store *s)
{
    dispatch(s);
}

struct sl__batch *sl__store_take_batch(struct sl_store *s)
{
    struct sl__batch *b = s->free_batches;
    if (b) {
        s->free_batches = (struct sl__batch *)b->op.next;
    } else {
        b = malloc(sizeof(*b) + (size_t)s->opts.batch_rows * sizeof(struct sl_record));
        if (b == NULL)
            sl__oom();
        b->arena = NULL;
        b->arena_cap = 0;
    }
    b->n = 0;
    b->run_id = 0;
    b->replay = 0;
    b->arena_len = 0;
    b->op.next = NULL;
    b->op.is_call = 0;
    return b;
}

void sl__store_free_batch(struct sl_store *s, struct sl__batch *b)
{
    b->op.next = (struct sl__op *)s->free_batches; /* op is the first member */
    s->free_batches = b;
}

void sl__store_push_batch(struct sl_store *s, struct sl__batch *b)
{
    s->batches_alive++;
    enqueue(s, &b->op);
}

static void push_current(struct sl_store *s)
{
    struct sl__batch *b = s->cur;
    s->cur = NULL;
    sl__store_push_batch(s, b);
}

static void push_partial(struct sl_store *s)
{
    if (s->cur && s->cur->n > 0)
        push_current(s);
}

static struct sl__call *new_call(enum sl__call_kind kind, sl_store_cb cb, void *arg)
{
    struct sl__call *c = sl__xcalloc(1, sizeof(*c));
    c->op.is_call = 1;
    c->kind = kind;
    c->cb = cb;
    c->arg = arg;
    return c;
}

/* ---- completions from the backend ---------------------------------------- */

void sl__store_notify_writable(struct sl_store *s)
{
    if (s->want_writable && !s->closing) {
        s->want_writable = 0;
        if (s->on_writable)
            s->on_writable(s, s->writable_arg);
    }
}

void sl__store_written(struct sl_store *s, struct sl__batch *b, int status, const char *err)
{
    s->batches_in_backend--;
    s->batches_alive--;
    if (b->replay) {
        /* its rows were done when they reached the overflow spool */
        sl__overflow_replayed(s, b, status, err);
    } else if ((s->rows_done += b->n, status == 0)) {
        s->rows_written += b->n;
    } else if (status == SL__SPOOLED) {
        s->rows_spooled += b->n;
        s->rows_spooled_total += b->n;
    } else {
        s->rows_failed += b->n;
        if (s->close_status == 0)
            s->close_status = status;
        snprintf(s->err, sizeof(s->err), "%s", err ? err : "write failed");
    }
    sl__store_free_batch(s, b);
    sl__store_notify_writable(s);
    dispatch(s);
}

void sl__store_called(struct sl_store *s, struct sl__call *c)
{
    if (c == s->open_call) {
        s->open_call = NULL;
    } else {
        s->call_in_backend = 0;
    }
    if (c->status != 0)
        snprintf(s->err, sizeof(s->err), "%s", c->err);
    if (c->cb)
        c->cb(s, c->status, c->arg);
    free(c);
    dispatch(s);
}

void sl__store_opened(struct sl_store *s, int status, const char *err)
{
    struct sl__call *c = s->open_call;
    c->status = status;
    if (status != 0) {
        s->open_failed = 1;
        if (err != c->err) /* the deferred parse error is already there */
            snprintf(c->err, sizeof(c->err), "%s", err ? err : "cannot open the database");
    }
    sl__store_called(s, c);
}

static void free_store(uv_handle_t *handle)
{
    struct sl_store *s = handle->data;
    sl_store_cb cb = s->close_cb;
    void *arg = s->close_arg;
    int status = s->close_status;
    while (s->free_batches) {
        struct sl__batch *b = s->free_batches;
        s->free_batches = (struct sl__batch *)b->op.next;
        free(b->arena);
        free(b);
    }
    if (s->cur)
        free(s->cur->arena);
    free(s->cur);
    s->cur = NULL;
    if (cb)
        cb(s, status, arg); /* the counters are final; s is freed next */
    free(s);
}

void sl__store_backend_closed(struct sl_store *s)
{
    uv_close((uv_handle_t *)&s->flush_timer, free_store);
}

/* ---- the public calls ---------------------------------------------------- */

static void on_flush_timer(uv_timer_t *timer)
{
    struct sl_store *s = timer->data;
    if (s->cur && s->cur->n > 0 && s->batches_alive < s->opts.max_batches)
        push_current(s);
}

static void on_open_error_timer(uv_timer_t *timer)
{
    struct sl_store *s = timer->data;
    struct sl__call *c = s->open_call;
    uv_timer_stop(timer);
    sl__store_opened(s, c->status, c->err);
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
    if (s->opts.pool_size == 0)
        s->opts.pool_size = 1;
    s->ops_tail = &s->ops_head;
    uv_timer_init(loop, &s->flush_timer);
    s->flush_timer.data = s;
    uv_unref((uv_handle_t *)&s->flush_timer);
    s->be = sl_store_url_kind(url) == SL_STORE_POSTGRES ? &sl__pg_backend : &sl__sqlite_backend;
    s->open_call = new_call(SL__CALL_BARRIER, cb, arg);

    struct sl__call *c = s->open_call;
    int rc = sl_store_parse_url(url, s->path, sizeof(s->path), c->err, sizeof(c->err));
    if (rc == 0)
        rc = s->be->open(s, url, c->err, sizeof(c->err));
    if (rc != 0) {
        /* Report on the loop, like any other outcome: one error path. */
        c->status = rc;
        s->open_failed = 1;
        uv_ref((uv_handle_t *)&s->flush_timer);
        uv_timer_start(&s->flush_timer, on_open_error_timer, 0, 0);
        return 0;
    }
    if (s->opts.flush_ms > 0)
        uv_timer_start(&s->flush_timer, on_flush_timer, s->opts.flush_ms, s->opts.flush_ms);
    if (s->opts.overflow_spool)
        sl__overflow_start(s);
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

enum sl_store_kind sl_store_kind(const struct sl_store *s)
{
    return s->be == &sl__pg_backend ? SL_STORE_POSTGRES : SL_STORE_SQLITE;
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
    return s->rows_appended - s->rows_done;
}

uint64_t sl_store_rows_spooled(const struct sl_store *s)
{
    return s->rows_spooled;
}

uint64_t sl_store_rows_spooled_total(const struct sl_store *s)
{
    return s->rows_spooled_total;
}

const char *sl_store_overflow_path(const struct sl_store *s)
{
    return s->ov.state != SL__OV_OFF ? s->ov.spool.path : NULL;
}

const char *sl_store_spool_path(const struct sl_store *s)
{
    return s->spool_path[0] ? s->spool_path : NULL;
}

uint64_t sl_store_queries(const struct sl_store *s)
{
    return s->queries;
}

void sl_store_on_writable(struct sl_store *s, void (*cb)(struct sl_store *, void *), void *arg)
{
    s->on_writable = cb;
    s->writable_arg = arg;
}

/* Copies a row's metadata into its batch's arena. The arena may move when
 * it grows: the rows already in it are re-pointed. */
static int copy_metadata(struct sl__batch *b, struct sl_record *row)
{
    if (b->arena_len + row->metadata_len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap * 2 : 64 * 1024;
        while (cap < b->arena_len + row->metadata_len)
            cap *= 2;
        char *arena = malloc(cap);
        if (arena == NULL)
            return -1;
        if (b->arena_len)
            memcpy(arena, b->arena, b->arena_len);
        for (unsigned i = 0; i < b->n; i++)
            if (b->rows[i].metadata)
                b->rows[i].metadata = arena + (b->rows[i].metadata - b->arena);
        free(b->arena);
        b->arena = arena;
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->arena_len, row->metadata, row->metadata_len);
    row->metadata = b->arena + b->arena_len;
    b->arena_len += row->metadata_len;
    return 0;
}

int sl__batch_add(struct sl__batch *b, const struct sl_record *rec)
{
    struct sl_record *row = &b->rows[b->n];
    *row = *rec;
    if (rec->metadata && copy_metadata(b, row) != 0)
        return -1;
    b->n++;
    return 0;
}

/* A full current batch goes to the backend if the bound allows, else to
 * the overflow spool if there is one; else it stays (0: it went). */
static int move_full_batch(struct sl_store *s)
{
    if (s->batches_alive < s->opts.max_batches) {
        push_current(s);
        return 0;
    }
    if (s->opts.overflow_spool && sl__overflow_spill(s, s->cur) == 0) {
        s->cur = NULL;
        return 0;
    }
    return UV_EAGAIN;
}

int sl_store_append(struct sl_store *s, const struct sl_record *rec)
{
    if (s->cur && s->cur->n == s->opts.batch_rows && move_full_batch(s) != 0) {
        s->want_writable = 1;
        return UV_EAGAIN;
    }
    if (rec->metadata && rec->metadata_len > SL_STORE_METADATA_MAX)
        return UV_EINVAL;
    if (s->cur == NULL)
        s->cur = sl__store_take_batch(s);
    if (sl__batch_add(s->cur, rec) != 0)
        return UV_ENOMEM;
    s->rows_appended++;
    if (s->cur->n == s->opts.batch_rows)
        move_full_batch(s);
    return 0;
}

static void submit_call(struct sl_store *s, struct sl__call *c)
{
    enqueue(s, &c->op);
}

void sl_store_flush(struct sl_store *s, sl_store_cb cb, void *arg)
{
    push_partial(s);
    submit_call(s, new_call(SL__CALL_BARRIER, cb, arg));
}

void sl_store_begin_run(struct sl_store *s, const struct sl_run_info *info, sl_store_cb cb,
                        void *arg)
{
    struct sl__call *c = new_call(SL__CALL_BEGIN_RUN, cb, arg);
    c->in = info;
    submit_call(s, c);
}

void sl_store_end_run(struct sl_store *s, const char *status, unsigned max_in_flight,
                      sl_store_cb cb, void *arg)
{
    push_partial(s);
    struct sl__call *c = new_call(SL__CALL_END_RUN, cb, arg);
    c->in = status;
    c->value = (int)max_in_flight;
    submit_call(s, c);
}

void sl_store_query_stats(struct sl_store *s, int64_t run_id, struct sl_stats *out, sl_store_cb cb,
                          void *arg)
{
    struct sl__call *c = new_call(SL__CALL_STATS, cb, arg);
    c->out = out;
    c->id = run_id;
    submit_call(s, c);
}

void sl_store_schema_version(struct sl_store *s, int *version, sl_store_cb cb, void *arg)
{
    struct sl__call *c = new_call(SL__CALL_VERSION, cb, arg);
    c->out = version;
    submit_call(s, c);
}

void sl_store_migrate(struct sl_store *s, int target, int *applied, sl_store_cb cb, void *arg)
{
    struct sl__call *c = new_call(SL__CALL_MIGRATE, cb, arg);
    c->out = applied;
    c->value = target;
    submit_call(s, c);
}

void sl_store_load_conversations(struct sl_store *s, int64_t after_id, unsigned limit,
                                 struct sl_conv_page **out, sl_store_cb cb, void *arg)
{
    struct sl__call *c = new_call(SL__CALL_CONVERSATIONS, cb, arg);
    c->out = out;
    c->id = after_id;
    c->value = (int)(limit > SL_CONV_PAGE_MAX ? SL_CONV_PAGE_MAX : limit);
    submit_call(s, c);
}

void sl_store_query_rows(struct sl_store *s, const char *sql, struct sl_rows **out, sl_store_cb cb,
                         void *arg)
{
    struct sl__call *c = new_call(SL__CALL_ROWS, cb, arg);
    c->in = sql;
    c->out = out;
    submit_call(s, c);
}

void sl_store_add_conversations(struct sl_store *s, const struct sl_conv_in *convs, unsigned n,
                                const char *json, sl_store_cb cb, void *arg)
{
    struct sl__call *c = new_call(SL__CALL_ADD_CONVERSATIONS, cb, arg);
    c->in = convs;
    c->out = (void *)json; /* read only */
    c->value = (int)n;
    submit_call(s, c);
}

void sl_conv_page_free(struct sl_conv_page *page)
{
    free(page);
}

void sl_store_close(struct sl_store *s, sl_store_cb cb, void *arg)
{
    s->close_cb = cb;
    s->close_arg = arg;
    uv_timer_stop(&s->flush_timer);
    s->closing = 1;
    push_partial(s);
    dispatch(s);
}
