/* The dashboard's API over the request log (ui.c routes here, after its
 * access check): the request browser and the body log's conversations.
 *
 *   GET /ui/api/requests                    newest first, filtered, a page
 *                                           at a time by keyset (?before=ID)
 *   GET /ui/api/requests/ID                 one request by its id
 *   GET /ui/api/requests/ID/conversation    its conversation (log_bodies:)
 *   GET /ui/api/conversations               the conversations, a page at a
 *                                           time (the fixed-query loader)
 *
 * Every query runs through the gateway's read store (off the loop, a
 * reader beside the writer); a query's job outlives a client that went
 * away (only `down` is cleared). Filter values go into the SQL text as
 * string literals (quotes doubled; control bytes and long values
 * refused), numbers as numbers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_impl.h"
#include "http/json_scan.h"
#include "http/json_write.h"
#include "store/store.h"

enum {
    PAGE_MAX_ROWS = 200, /* rows per page of the browser */
    FILTER_MAX = 128     /* bytes of a filter value */
};

struct query_job {
    struct sl_http_exchange *down;
    char id[40];
    struct sl_rows *rows;
    struct sl_conv_page *page; /* the conversations' page (the fixed-query loader) */
    int64_t run;
    unsigned limit;   /* rows asked for; one more was queried to know of a next page */
    int conversation; /* the rows are a request's conversation: seq, role, content */
    char sql[4096];
};

static void on_query_client_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    ((struct query_job *)data)->down = NULL;
}

/* A query parameter's value (raw, not decoded), or an empty view. */
static struct sl_str param(struct sl_str query, const char *name)
{
    size_t n = strlen(name);
    const char *p = query.ptr, *end = query.ptr + query.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > n && memcmp(p, name, n) == 0 && p[n] == '=')
            return (struct sl_str){p + n + 1, (size_t)(stop - p - n - 1)};
        p = amp ? amp + 1 : NULL;
    }
    return (struct sl_str){NULL, 0};
}

/* Percent-decodes a filter value into out as an SQL string literal
 * ('...' with quotes doubled). -1 when it is too long or holds a control
 * byte (nothing a model, deployment, key or error name holds). */
static int literal(struct sl_str v, char *out, size_t size)
{
    char plain[FILTER_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < v.len) {
            char hex[3] = {v.ptr[i + 1], v.ptr[i + 2], 0};
            char *end;
            long x = strtol(hex, &end, 16);
            if (*end != '\0')
                return -1;
            c = (char)x;
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || n >= FILTER_MAX)
            return -1;
        plain[n++] = c;
    }
    size_t k = 0;
    if (size < 3)
        return -1;
    out[k++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (k + 3 >= size)
            return -1;
        if (plain[i] == '\'')
            out[k++] = '\'';
        out[k++] = plain[i];
    }
    out[k++] = '\'';
    out[k] = '\0';
    return 0;
}

static void on_rows(struct sl_store *store, int status, void *arg);

static void run_query(struct sl_gateway *gw, struct query_job *j)
{
    sl_http_exchange_on_abort(j->down, on_query_client_gone, j);
    sl_store_query_rows(gw->opts.read_store, j->sql, &j->rows, on_rows, j);
}

/* The columns every query returns, the same on both databases: id (the
 * row's id as one integer: run << 32 | request), created, started,
 * finished (microseconds), attempts, status, error, metadata. */
static int select_head(char *buf, size_t size, enum sl_store_kind kind)
{
    if (kind == SL_STORE_SQLITE)
        return snprintf(buf, size,
                        "SELECT id, created_us, started_us, finished_us, attempts, status, "
                        "error, metadata FROM requests WHERE 1 = 1");
    return snprintf(buf, size,
                    "SELECT (run_id << 32) | request_id, "
                    "(extract(epoch FROM created_at) * 1000000)::bigint, "
                    "(extract(epoch FROM started_at) * 1000000)::bigint, "
                    "(extract(epoch FROM finished_at) * 1000000)::bigint, attempts, status, error, "
                    "metadata::text FROM requests WHERE true");
}

/* Appends " AND ..." to the query; -1 when it does not fit. */
static int add(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size - len ? -1 : 0;
}

static void bad_query(struct sl_http_exchange *down, const char *id, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s", what);
    struct sl_http_header h[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
    sl_http_respond_error_with(down, 400, h, 1, "invalid_request_error", "invalid_query", msg);
}

static void list_requests(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                          struct sl_str query)
{
    enum sl_store_kind kind = sl_store_kind(gw->opts.read_store);
    struct query_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        sl_http_respond_error(down, 503, "server_error", "out_of_memory", "out of memory");
        return;
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->run = sl_store_run_id(gw->opts.store);
    j->limit = 50;
    struct sl_str v = param(query, "limit");
    if (v.len) {
        long n = strtol(v.ptr, NULL, 10);
        j->limit = n < 1 ? 1 : n > PAGE_MAX_ROWS ? PAGE_MAX_ROWS : (unsigned)n;
    }
    v = param(query, "run");
    if (v.len)
        j->run = strtoll(v.ptr, NULL, 10);
    int rc = select_head(j->sql, sizeof(j->sql), kind) < 0;
    int64_t lo = (int64_t)((uint64_t)j->run << 32), hi = lo | 0xffffffff;
    rc |= kind == SL_STORE_SQLITE
              ? add(j->sql, sizeof(j->sql), " AND id BETWEEN %" PRId64 " AND %" PRId64, lo, hi)
              : add(j->sql, sizeof(j->sql), " AND run_id = %" PRId64, j->run);
    v = param(query, "before");
    if (v.len) {
        int64_t before = strtoll(v.ptr, NULL, 10);
        rc |= kind == SL_STORE_SQLITE ? add(j->sql, sizeof(j->sql), " AND id < %" PRId64, before)
                                      : add(j->sql, sizeof(j->sql), " AND request_id < %" PRId64,
                                            (int64_t)((uint64_t)before & 0xffffffffu));
    }
    static const struct {
        const char *param, *column;
    } filters[] = {
        {"status", "status"},
        {"error", "error"},
        {"model", "metadata ->> 'model'"},
        {"deployment", "metadata ->> 'deployment'"},
        {"key", "metadata ->> 'key'"},
        {"id", "metadata ->> 'id'"},
    };
    for (size_t i = 0; i < sizeof(filters) / sizeof(*filters); i++) {
        v = param(query, filters[i].param);
        if (v.len == 0)
            continue;
        char lit[2 * FILTER_MAX + 8];
        if (literal(v, lit, sizeof(lit)) != 0) {
            free(j);
            bad_query(down, id, "a filter is too long or holds a control character");
            return;
        }
        rc |= add(j->sql, sizeof(j->sql), " AND %s = %s", filters[i].column, lit);
    }
    /* a time window: created at or after since, before until (Unix
     * microseconds, as the rows' created_us) */
    static const char *const window[] = {"since", "until"};
    for (int i = 0; i < 2; i++) {
        v = param(query, window[i]);
        if (v.len == 0)
            continue;
        long long t = strtoll(v.ptr, NULL, 10);
        const char *op = i ? "<" : ">=";
        rc |=
            kind == SL_STORE_SQLITE
                ? add(j->sql, sizeof(j->sql), " AND created_us %s %lld", op, t)
                : add(j->sql, sizeof(j->sql), " AND created_at %s to_timestamp(%lld / 1e6)", op, t);
    }
    v = param(query, "http");
    if (v.len) {
        long st = strtol(v.ptr, NULL, 10);
        rc |= kind == SL_STORE_SQLITE
                  ? add(j->sql, sizeof(j->sql), " AND metadata ->> 'status' = %ld", st)
                  : add(j->sql, sizeof(j->sql), " AND (metadata ->> 'status')::int = %ld", st);
    }
    rc |= kind == SL_STORE_SQLITE
              ? add(j->sql, sizeof(j->sql), " ORDER BY id DESC LIMIT %u", j->limit + 1)
              : add(j->sql, sizeof(j->sql), " ORDER BY request_id DESC LIMIT %u", j->limit + 1);
    if (rc) {
        free(j);
        bad_query(down, id, "the query is too long");
        return;
    }
    j->down = down;
    run_query(gw, j);
}

static void write_conversation(struct sl_jw *w, const struct query_job *j)
{
    sl_jw_object(w);
    sl_jw_key(w, "messages");
    sl_jw_array(w);
    for (unsigned i = 0; i < j->rows->n_rows; i++) {
        sl_jw_object(w);
        sl_jw_kv_int(w, "seq", sl_rows_i64(j->rows, i, 0));
        const char *role = sl_rows_cell(j->rows, i, 1), *content = sl_rows_cell(j->rows, i, 2);
        sl_jw_kv_string(w, "role", role ? role : "");
        sl_jw_kv_string(w, "content", content ? content : "");
        sl_jw_end(w);
    }
    sl_jw_end(w);
    sl_jw_end(w);
}

static void on_rows(struct sl_store *store, int status, void *arg)
{
    (void)store;
    struct query_job *j = arg;
    if (j->down && j->conversation && status == 0 && j->rows) {
        struct sl_http_exchange *down = j->down;
        sl_http_exchange_on_abort(down, NULL, NULL);
        struct sl_buf out;
        struct sl_jw w;
        sl_buf_init(&out, 64u << 20);
        sl_jw_init(&w, &out);
        write_conversation(&w, j);
        struct sl_http_header h[1] = {{{"x-request-id", 12}, {j->id, strlen(j->id)}}};
        if (sl_jw_finish(&w) == 0)
            sl_http_respond(down, 200, h, 1, "application/json", out.ptr, out.len);
        else
            sl_http_respond_error_with(down, 503, h, 1, "server_error", "too_large",
                                       "the conversation is too large");
        sl_buf_release(&out);
        j->down = NULL;
    }
    if (j->down) {
        struct sl_http_exchange *down = j->down;
        sl_http_exchange_on_abort(down, NULL, NULL);
        struct sl_http_header h[2] = {{{"x-request-id", 12}, {j->id, strlen(j->id)}},
                                      {{"Cache-Control", 13}, {"no-store", 8}}};
        if (status != 0 || j->rows == NULL) {
            sl_http_respond_error_with(down, 503, h, 1, "server_error", "log_unavailable",
                                       "the request log cannot be read now");
        } else {
            struct sl_buf out;
            struct sl_jw w;
            sl_buf_init(&out, 64u << 20);
            sl_jw_init(&w, &out);
            sl_jw_object(&w);
            sl_jw_kv_int(&w, "run", (long long)j->run);
            sl_jw_key(&w, "rows");
            sl_jw_array(&w);
            unsigned n = j->rows->n_rows < j->limit ? j->rows->n_rows : j->limit;
            for (unsigned i = 0; i < n; i++) {
                static const char *const cols[] = {"row", "created_us", "started_us", "finished_us",
                                                   "attempts"};
                sl_jw_object(&w);
                for (unsigned c = 0; c < 5; c++) {
                    const char *cell = sl_rows_cell(j->rows, i, c);
                    sl_jw_key(&w, cols[c]);
                    if (cell == NULL)
                        sl_jw_null(&w);
                    else if (c == 0)
                        sl_jw_string(&w, cell); /* 64-bit: a string for JavaScript */
                    else
                        sl_jw_int(&w, sl_rows_i64(j->rows, i, c));
                }
                const char *st = sl_rows_cell(j->rows, i, 5), *err = sl_rows_cell(j->rows, i, 6),
                           *md = sl_rows_cell(j->rows, i, 7);
                sl_jw_kv_string(&w, "status", st ? st : "");
                sl_jw_key(&w, "error");
                err ? sl_jw_string(&w, err) : sl_jw_null(&w);
                sl_jw_key(&w, "metadata");
                struct sl_json_doc d;
                if (md && sl_json_scan(md, strlen(md), &d) == 0)
                    sl_jw_raw(&w, md, strlen(md)); /* the recorder's own JSON */
                else
                    sl_jw_null(&w);
                sl_jw_end(&w);
            }
            sl_jw_end(&w);
            sl_jw_key(&w, "next");
            if (j->rows->n_rows > j->limit)
                sl_jw_string(&w, sl_rows_cell(j->rows, j->limit - 1, 0));
            else
                sl_jw_null(&w);
            sl_jw_end(&w);
            if (sl_jw_finish(&w) == 0)
                sl_http_respond(down, 200, h, 2, "application/json", out.ptr, out.len);
            else
                sl_http_respond_error_with(down, 503, h, 1, "server_error", "too_large",
                                           "the page is too large");
            sl_buf_release(&out);
        }
    }
    if (j->rows)
        sl_rows_free(j->rows);
    free(j);
}

/* ---- the body log's conversations ----------------------------------------------- */

/* A request's conversation (log_bodies:), by its id: one query. */
static void conversation(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                         struct sl_str rid)
{
    char lit[2 * FILTER_MAX + 8];
    if (literal(rid, lit, sizeof(lit)) != 0) {
        bad_query(down, id, "the request id is too long or holds a control character");
        return;
    }
    struct query_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        sl_http_respond_error(down, 503, "server_error", "out_of_memory", "out of memory");
        return;
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->conversation = 1;
    snprintf(j->sql, sizeof(j->sql),
             "SELECT m.seq, m.role, m.content FROM messages m WHERE m.conversation_id = "
             "(SELECT max(id) FROM conversations WHERE title = %s) ORDER BY m.seq",
             lit);
    j->down = down;
    run_query(gw, j);
}

static void on_conv_page(struct sl_store *store, int status, void *arg)
{
    (void)store;
    struct query_job *j = arg;
    if (j->down) {
        struct sl_http_exchange *down = j->down;
        sl_http_exchange_on_abort(down, NULL, NULL);
        struct sl_http_header h[1] = {{{"x-request-id", 12}, {j->id, strlen(j->id)}}};
        struct sl_buf out;
        struct sl_jw w;
        sl_buf_init(&out, 64u << 20);
        sl_jw_init(&w, &out);
        sl_jw_object(&w);
        sl_jw_key(&w, "conversations");
        sl_jw_array(&w);
        for (unsigned i = 0; status == 0 && i < j->page->n; i++) {
            const struct sl_conversation *c = &j->page->convs[i];
            sl_jw_object(&w);
            sl_jw_kv_int(&w, "id", c->id);
            sl_jw_kv_string(&w, "title", c->title ? c->title : "");
            sl_jw_kv_int(&w, "created_us", c->created_us);
            sl_jw_key(&w, "messages");
            sl_jw_array(&w);
            for (unsigned k = 0; k < c->n_messages; k++) {
                sl_jw_object(&w);
                sl_jw_kv_int(&w, "seq", c->messages[k].seq);
                sl_jw_kv_string(&w, "role", c->messages[k].role);
                sl_jw_kv_string(&w, "content", c->messages[k].content);
                sl_jw_end(&w);
            }
            sl_jw_end(&w);
            sl_jw_end(&w);
        }
        sl_jw_end(&w);
        sl_jw_key(&w, "next");
        if (status == 0 && j->page->n == j->limit)
            sl_jw_int(&w, j->page->convs[j->page->n - 1].id);
        else
            sl_jw_null(&w);
        sl_jw_end(&w);
        if (status != 0)
            sl_http_respond_error_with(down, 503, h, 1, "server_error", "log_unavailable",
                                       "the conversations cannot be read now");
        else if (sl_jw_finish(&w) == 0)
            sl_http_respond(down, 200, h, 1, "application/json", out.ptr, out.len);
        else
            sl_http_respond_error_with(down, 503, h, 1, "server_error", "too_large",
                                       "the page is too large");
        sl_buf_release(&out);
    }
    if (j->page)
        sl_conv_page_free(j->page);
    free(j);
}

/* The body log's conversations, a page at a time, each with its messages:
 * the store's fixed-query loader (two queries whatever the page). */
static void conversations(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                          struct sl_str query)
{
    struct query_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        sl_http_respond_error(down, 503, "server_error", "out_of_memory", "out of memory");
        return;
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    struct sl_str v = param(query, "limit");
    long n = v.len ? strtol(v.ptr, NULL, 10) : 20;
    j->limit = n < 1 ? 1 : n > 100 ? 100 : (unsigned)n;
    v = param(query, "after");
    int64_t after = v.len ? strtoll(v.ptr, NULL, 10) : 0;
    j->down = down;
    sl_http_exchange_on_abort(down, on_query_client_gone, j);
    sl_store_load_conversations(gw->opts.read_store, after, j->limit, &j->page, on_conv_page, j);
}

int sl__gw_ui_log(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id,
                  struct sl_str path, struct sl_str query)
{
    static const char api[] = "/ui/api/requests";
    if (sl_str_eq(path, api)) {
        list_requests(gw, down, id, query);
    } else if (path.len > sizeof(api) + 13 && memcmp(path.ptr, api, sizeof(api) - 1) == 0 &&
               memcmp(path.ptr + path.len - 13, "/conversation", 13) == 0) {
        conversation(gw, down, id,
                     (struct sl_str){path.ptr + sizeof(api), path.len - sizeof(api) - 13});
    } else if (sl_str_eq(path, "/ui/api/conversations")) {
        conversations(gw, down, id, query);
    } else if (path.len > sizeof(api) && memcmp(path.ptr, api, sizeof(api) - 1) == 0 &&
               path.ptr[sizeof(api) - 1] == '/') {
        /* one request by its id: the browser's filter on metadata's id */
        char q[2 * FILTER_MAX + 16];
        struct sl_str rid = {path.ptr + sizeof(api), path.len - sizeof(api)};
        int n = snprintf(q, sizeof(q), "limit=1&id=%.*s",
                         (int)(rid.len < 2 * FILTER_MAX ? rid.len : 2 * FILTER_MAX), rid.ptr);
        list_requests(gw, down, id, (struct sl_str){q, (size_t)n});
    } else {
        return 0;
    }
    return 1;
}
