/* The dashboard (/ui, docs/ui.md): a page served by the gateway itself,
 * its live feed and its request browser.
 *
 *   GET /ui                     the page (its script, style and uPlot
 *                               compiled in: nothing fetched elsewhere)
 *   GET /ui/live                SSE, one event a second: requests by status,
 *                               latency and TTFT percentiles, retries, and
 *                               each deployment's in-flight, limit, queue
 *                               and cool-down, from in-memory counters
 *   GET /ui/api/requests        the request log, newest first, filtered, a
 *                               page at a time by keyset (?before=ID)
 *   GET /ui/api/requests/ID     one request by its id (req_... or yours)
 *
 * Access: the master key (SLUICE_MASTER_KEY) as a Bearer token, or as the
 * password of HTTP Basic authentication (what a browser asks for on a 401
 * with WWW-Authenticate), or nobody's with `ui: {public: true}` (local
 * use). Without either the dashboard is off (404 saying how to turn it on).
 *
 * Ownership: the gateway owns one sl_gw_ui (when the dashboard is on); it
 * owns its one-second timer and its live clients (each a committed SSE
 * exchange, dropped when it has more than LIVE_MAX_PENDING unsent bytes or
 * goes away). The counters are fed by each finished request only while a
 * live client is connected, and read by the timer: nothing is computed per
 * request otherwise. Queries of the log run on the store's reader (off the
 * loop); their job outlives a client that went away (only `down` is
 * cleared). Close ends every live stream and closes the timer. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "gateway/auth.h"
#include "gateway/gateway_impl.h"
#include "http/json_write.h"
#include "store/store.h"

extern const char sl_report_uplot_js[], sl_report_uplot_css[], sl_ui_js[], sl_ui_css[];

enum {
    UI_BUCKETS = 112,              /* 4 per octave: 1 us to about 4.6 hours */
    LIVE_MAX_CLIENTS = 32,         /* live pages at once */
    LIVE_MAX_PENDING = 256 * 1024, /* unsent bytes before a slow page is dropped */
    PAGE_MAX_ROWS = 200,           /* rows per page of the browser */
    FILTER_MAX = 128               /* bytes of a filter value */
};

struct ui_client {
    struct sl_list node;
    struct sl_gw_ui *ui;
    struct sl_http_exchange *down;
};

struct sl_gw_ui {
    struct sl_gateway *gw;
    uv_timer_t timer;
    struct sl_list clients;
    unsigned nclients;
    void (*closed_cb)(void *);
    void *closed_arg;
    /* this second's finished requests */
    uint64_t by_status[4]; /* 2xx, 4xx, 5xx, cancelled */
    uint64_t retries;
    uint32_t latency[UI_BUCKETS], ttft[UI_BUCKETS];
};

/* ---- access ---------------------------------------------------------------- */

static int b64_value(char c)
{
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
           : c == '/'             ? 63
                                  : -1;
}

/* Basic credentials: the password of "user:password" (base64) in out. */
static int basic_password(struct sl_str v, char *out, size_t size)
{
    char plain[512];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < v.len && v.ptr[i] != '='; i++) {
        int x = b64_value(v.ptr[i]);
        if (x < 0 || n + 1 >= sizeof(plain))
            return -1;
        acc = acc << 6 | (unsigned)x;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            plain[n++] = (char)(acc >> bits & 0xff);
        }
    }
    plain[n] = '\0';
    char *colon = memchr(plain, ':', n);
    if (colon == NULL || strlen(colon + 1) >= size)
        return -1;
    snprintf(out, size, "%s", colon + 1);
    return 0;
}

static int master_key_sent(const struct sl_gateway *gw, const struct sl_http_head *h)
{
    const struct sl_str *auth = sl_http_head_get(h, "authorization");
    if (auth == NULL || !gw->admin_on)
        return 0;
    unsigned char digest[32];
    if (auth->len > 6 && strncasecmp(auth->ptr, "Basic ", 6) == 0) {
        char password[400];
        if (basic_password((struct sl_str){auth->ptr + 6, auth->len - 6}, password,
                           sizeof(password)) != 0)
            return 0;
        sl_sha256(password, strlen(password), digest);
        memset(password, 0, sizeof(password));
    } else if (sl_gw_bearer_digest(auth, digest) != 0) {
        return 0;
    }
    return sl_ct_equal(digest, gw->master_sha256, 32);
}

/* 1 when the caller may see the dashboard; else answered (401 or 404). */
static int allowed(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    if (gw->cfg->ui_public || master_key_sent(gw, sl_http_exchange_head(down)))
        return 1;
    struct sl_http_header h[2] = {
        {{"x-request-id", 12}, {id, strlen(id)}},
        {{"WWW-Authenticate", 16}, {"Basic realm=\"sluice dashboard\", charset=\"UTF-8\"", 47}}};
    if (!gw->admin_on)
        sl_http_respond_error_with(down, 404, h, 1, "invalid_request_error", "ui_off",
                                   "the dashboard is off: start serve with SLUICE_MASTER_KEY set "
                                   "(then sign in with it), or set ui: {public: true}");
    else
        sl_http_respond_error_with(down, 401, h, 2, "invalid_request_error", "invalid_api_key",
                                   "the dashboard needs the master key: as the password of "
                                   "Basic authentication, or Authorization: Bearer KEY");
    return 0;
}

/* ---- the page ---------------------------------------------------------------- */

static void respond_page(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    struct sl_buf page;
    sl_buf_init(&page, 4u << 20);
    char models[64];
    snprintf(models, sizeof(models), "%zu", gw->cfg->nmodels);
    static const char *const parts[] = {
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>sluice dashboard</title>\n<style>\n",
        NULL, /* uPlot's css */
        "\n",
        NULL, /* ours */
        "</style>\n</head>\n<body>\n<main id=\"ui\"><noscript>The dashboard draws with "
        "JavaScript.</noscript></main>\n<script>\n",
        NULL, /* uPlot */
        "\n</script>\n<script>\n",
        NULL, /* ours */
        "</script>\n</body>\n</html>\n",
    };
    const char *fill[] = {sl_report_uplot_css, sl_ui_css, sl_report_uplot_js, sl_ui_js};
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(*parts) && rc == 0; i++) {
        const char *s = parts[i] ? parts[i] : fill[k++];
        rc = sl_buf_append(&page, s, strlen(s));
    }
    struct sl_http_header h[3] = {{{"x-request-id", 12}, {id, strlen(id)}},
                                  {{"Cache-Control", 13}, {"no-store", 8}},
                                  {{"Content-Security-Policy", 23},
                                   {"default-src 'self'; script-src 'unsafe-inline'; style-src "
                                    "'unsafe-inline'; img-src data:",
                                    86}}};
    if (rc == 0)
        sl_http_respond(down, 200, h, 3, "text/html; charset=utf-8", page.ptr, page.len);
    else
        sl_http_respond_error(down, 503, "server_error", "out_of_memory", "out of memory");
    sl_buf_release(&page);
}

/* ---- the live feed ------------------------------------------------------------ */

static unsigned bucket_of(double us)
{
    if (us < 1)
        return 0;
    double b = floor(log2(us) * 4);
    return b >= UI_BUCKETS ? UI_BUCKETS - 1 : (unsigned)b;
}

void sl__gw_ui_note(struct sl_gw_ui *ui, const struct sl_gw_log_row *row)
{
    if (ui == NULL || ui->nclients == 0)
        return;
    int s = row->outcome == SL_GW_CANCELLED ? 3
            : row->status >= 500            ? 2
            : row->status >= 400            ? 1
                                            : 0;
    ui->by_status[s]++;
    ui->retries += row->attempts > 1 ? row->attempts - 1 : 0;
    ui->latency[bucket_of(row->total_ms * 1000)]++;
    if (row->stream && row->ttfb_ms > 0)
        ui->ttft[bucket_of(row->ttfb_ms * 1000)]++;
}

/* The q-quantile (nearest rank) of a bucket histogram, in ms (the
 * bucket's geometric middle), and its count; -1 when empty. */
static double quantile(const uint32_t *h, double q, uint64_t *count)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < UI_BUCKETS; i++)
        n += h[i];
    *count = n;
    if (n == 0)
        return -1;
    uint64_t rank = (uint64_t)ceil(q * (double)n), seen = 0;
    for (unsigned i = 0; i < UI_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank && h[i])
            return exp2(((double)i + 0.5) / 4) / 1000;
    }
    return -1;
}

static void percentiles(struct sl_jw *w, const char *key, const uint32_t *h)
{
    uint64_t n;
    double p50 = quantile(h, 0.50, &n), p99 = quantile(h, 0.99, &n);
    char v[128];
    int len =
        n ? snprintf(v, sizeof(v), "{\"p50\":%.3f,\"p99\":%.3f,\"n\":%" PRIu64 "}", p50, p99, n)
          : snprintf(v, sizeof(v), "{\"p50\":null,\"p99\":null,\"n\":0}");
    sl_jw_kv_raw(w, key, v, (size_t)len);
}

/* This second's event: "data: {...}\n\n" into out, the counters reset. */
static int live_event(struct sl_gw_ui *ui, struct sl_buf *out)
{
    struct sl_gateway *gw = ui->gw;
    struct sl_jw w;
    sl_buf_append(out, "data: ", 6);
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "t", (long long)(sl_wall_us() / 1000));
    sl_jw_kv_int(&w, "in_flight", (long long)gw->in_flight);
    sl_jw_key(&w, "status");
    sl_jw_object(&w);
    static const char *const names[] = {"2xx", "4xx", "5xx", "cancelled"};
    for (int i = 0; i < 4; i++)
        sl_jw_kv_int(&w, names[i], (long long)ui->by_status[i]);
    sl_jw_end(&w);
    sl_jw_kv_int(&w, "retries", (long long)ui->retries);
    percentiles(&w, "latency_ms", ui->latency);
    percentiles(&w, "ttft_ms", ui->ttft);
    sl_jw_key(&w, "deployments");
    sl_jw_array(&w);
    uint64_t now = uv_now(gw->loop);
    for (size_t i = 0; i < gw->router.ndeps; i++) {
        const struct sl_gw_dep *d = &gw->router.deps[i];
        sl_jw_object(&w);
        sl_jw_kv_string(&w, "name", d->cfg->name);
        sl_jw_kv_string(&w, "model", d->model->name);
        sl_jw_kv_int(&w, "in_flight", (long long)(d->sem.capacity - d->sem.available));
        sl_jw_kv_int(&w, "limit", (long long)d->cfg->max_concurrency);
        sl_jw_kv_int(&w, "queued", (long long)(d->sem.queued + d->shared_waiting));
        sl_jw_key(&w, "cooling");
        sl_jw_bool(&w, d->cooldown_until_ms > now);
        sl_jw_end(&w);
    }
    sl_jw_end(&w);
    sl_jw_end(&w);
    int rc = sl_jw_finish(&w);
    memset(ui->by_status, 0, sizeof(ui->by_status));
    ui->retries = 0;
    memset(ui->latency, 0, sizeof(ui->latency));
    memset(ui->ttft, 0, sizeof(ui->ttft));
    return rc ? rc : sl_buf_append(out, "\n\n", 2);
}

static void drop_client(struct ui_client *c)
{
    sl_list_remove(&c->node);
    c->ui->nclients--;
    if (c->ui->nclients == 0)
        uv_timer_stop(&c->ui->timer);
    free(c);
}

static void on_live_gone(struct sl_http_exchange *down, void *data)
{
    (void)down;
    drop_client(data); /* the exchange is the server's to finish */
}

static void on_tick(uv_timer_t *t)
{
    struct sl_gw_ui *ui = t->data;
    struct sl_buf ev;
    sl_buf_init(&ev, 1u << 20);
    if (live_event(ui, &ev) != 0) {
        sl_buf_release(&ev);
        return;
    }
    struct sl_list *n, *next;
    for (n = ui->clients.next; n != &ui->clients; n = next) {
        next = n->next;
        struct ui_client *c = sl_container_of(n, struct ui_client, node);
        if (sl_http_stream_pending(c->down) > LIVE_MAX_PENDING) {
            /* a page that does not read: end it (it may reconnect) */
            struct sl_http_exchange *d = c->down;
            sl_http_exchange_on_abort(d, NULL, NULL);
            drop_client(c);
            sl_http_stream_end(d);
            continue;
        }
        sl_http_stream_write(c->down, ev.ptr, ev.len); /* may call on_live_gone */
    }
    sl_buf_release(&ev);
}

static void live(struct sl_gw_ui *ui, struct sl_http_exchange *down, const char *id)
{
    if (ui->nclients >= LIVE_MAX_CLIENTS || ui->gw->draining) {
        sl_http_respond_error(down, 503, "server_error", "too_many_live_pages",
                              "too many live dashboards are open; close one");
        return;
    }
    struct ui_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sl_http_respond_error(down, 503, "server_error", "out_of_memory", "out of memory");
        return;
    }
    c->ui = ui;
    c->down = down;
    sl_list_push_back(&ui->clients, &c->node);
    if (ui->nclients++ == 0) {
        memset(ui->by_status, 0, sizeof(ui->by_status));
        ui->retries = 0;
        memset(ui->latency, 0, sizeof(ui->latency));
        memset(ui->ttft, 0, sizeof(ui->ttft));
        uv_timer_start(&ui->timer, on_tick, 1000, 1000);
    }
    sl_http_exchange_on_abort(down, on_live_gone, c);
    struct sl_http_header h[2] = {{{"x-request-id", 12}, {id, strlen(id)}},
                                  {{"Cache-Control", 13}, {"no-cache", 8}}};
    sl_http_stream_start(down, 200, h, 2, "text/event-stream");
    /* a comment at once, so the page knows it is connected */
    sl_http_stream_write(down, ": sluice live\n\n", 15);
}

/* ---- the request browser ------------------------------------------------------ */

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

/* ---- routing, life ------------------------------------------------------------- */

int sl__gw_ui_handle(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id)
{
    const struct sl_http_head *h = sl_http_exchange_head(down);
    struct sl_str path = h->path;
    if (!(path.len >= 3 && memcmp(path.ptr, "/ui", 3) == 0 &&
          (path.len == 3 || path.ptr[3] == '/')))
        return 0;
    if (!(sl_str_eq(h->method, "GET") || sl_str_eq(h->method, "HEAD"))) {
        struct sl_http_header hh[2] = {{{"x-request-id", 12}, {id, strlen(id)}},
                                       {{"Allow", 5}, {"GET, HEAD", 9}}};
        sl_http_respond_error_with(down, 405, hh, 2, "invalid_request_error", "method_not_allowed",
                                   "method not allowed; use GET");
        return 1;
    }
    if (!allowed(gw, down, id))
        return 1;
    static const char api[] = "/ui/api/requests";
    if (sl_str_eq(path, "/ui") || sl_str_eq(path, "/ui/")) {
        respond_page(gw, down, id);
    } else if (sl_str_eq(path, "/ui/live") && gw->ui) {
        live(gw->ui, down, id);
    } else if (sl_str_eq(path, api) && gw->opts.read_store) {
        list_requests(gw, down, id, h->query);
    } else if (path.len > sizeof(api) + 13 && memcmp(path.ptr, api, sizeof(api) - 1) == 0 &&
               memcmp(path.ptr + path.len - 13, "/conversation", 13) == 0 && gw->opts.read_store) {
        conversation(gw, down, id,
                     (struct sl_str){path.ptr + sizeof(api), path.len - sizeof(api) - 13});
    } else if (sl_str_eq(path, "/ui/api/conversations") && gw->opts.read_store) {
        conversations(gw, down, id, h->query);
    } else if (path.len > sizeof(api) && memcmp(path.ptr, api, sizeof(api) - 1) == 0 &&
               path.ptr[sizeof(api) - 1] == '/' && gw->opts.read_store) {
        /* one request by its id: the browser's filter on metadata's id */
        char q[2 * FILTER_MAX + 16];
        struct sl_str rid = {path.ptr + sizeof(api), path.len - sizeof(api)};
        int n = snprintf(q, sizeof(q), "limit=1&id=%.*s",
                         (int)(rid.len < 2 * FILTER_MAX ? rid.len : 2 * FILTER_MAX), rid.ptr);
        list_requests(gw, down, id, (struct sl_str){q, (size_t)n});
    } else {
        struct sl_http_header hh[1] = {{{"x-request-id", 12}, {id, strlen(id)}}};
        sl_http_respond_error_with(down, 404, hh, 1, "invalid_request_error", "unknown_url",
                                   gw->opts.read_store ? "unknown dashboard URL"
                                                       : "unknown dashboard URL (no request log: "
                                                         "serve runs without a database)");
    }
    return 1;
}

int sl__gw_ui_new(struct sl_gateway *gw, struct sl_gw_ui **out)
{
    struct sl_gw_ui *ui = calloc(1, sizeof(*ui));
    if (ui == NULL)
        return UV_ENOMEM;
    ui->gw = gw;
    sl_list_init(&ui->clients);
    uv_timer_init(gw->loop, &ui->timer);
    ui->timer.data = ui;
    *out = ui;
    return 0;
}

static void on_ui_timer_closed(uv_handle_t *h)
{
    struct sl_gw_ui *ui = h->data;
    void (*cb)(void *) = ui->closed_cb;
    void *arg = ui->closed_arg;
    free(ui);
    cb(arg);
}

void sl__gw_ui_close(struct sl_gw_ui *ui, void (*cb)(void *), void *arg)
{
    while (!sl_list_empty(&ui->clients)) {
        struct ui_client *c = sl_container_of(ui->clients.next, struct ui_client, node);
        struct sl_http_exchange *d = c->down;
        sl_http_exchange_on_abort(d, NULL, NULL);
        drop_client(c);
        sl_http_stream_end(d);
    }
    ui->closed_cb = cb;
    ui->closed_arg = arg;
    uv_close((uv_handle_t *)&ui->timer, on_ui_timer_closed);
}
