/* The dashboard (/ui, docs/ui.md): a page served by the gateway itself,
 * its live feed and its request browser.
 *
 *   GET /ui                     the page (its script, style and uPlot
 *                               compiled in: nothing fetched elsewhere)
 *   GET /ui/live                SSE, one event a second: requests by status,
 *                               latency and TTFT percentiles, retries, and
 *                               each deployment's in-flight, limit, queue
 *                               and cool-down, from in-memory counters
 *   GET /ui/api/...             the request log and the body log's
 *                               conversations (ui_log.c)
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
    if (sl_str_eq(path, "/ui") || sl_str_eq(path, "/ui/")) {
        respond_page(gw, down, id);
    } else if (sl_str_eq(path, "/ui/live") && gw->ui) {
        live(gw->ui, down, id);
    } else if (gw->opts.read_store && sl__gw_ui_log(gw, down, id, path, h->query)) {
        /* the request log's API (ui_log.c) */
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
