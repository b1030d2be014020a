/* The dashboard of `sluice serve` (/ui), as a client sees it: who may
 * open it (the master key as a Bearer token or Basic password, or nobody
 * with ui: {public: true}; off without either), the page itself, the live
 * feed's events counting what finished, and the request browser: pages by
 * keyset, filters, a request by its id with its attempts. The browser test
 * (tests/browser/ui.sh) opens the same in Chromium. */
#include "../pg_support.h"
#include "raw_peer.h"
#include "serve_support.h"

TestSuite(ui, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

static char buf[1 << 20];
static const char chat[] = "{\"model\":\"gpt\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hi\"}]}";
static const char bearer[] = "Authorization: Bearer mk-ui-test\r\n";
/* Basic base64("me:mk-ui-test") */
static const char basic[] = "Authorization: Basic bWU6bWstdWktdGVzdA==\r\n";

static const char *serve_db; /* --db for serve; NULL: serve.db in the test's directory */

static int start(const char *const *mock_args, const char *extra_yaml, int master, pid_t *mock,
                 pid_t *serve)
{
    const char *db_args[] = {"--db", serve_db, NULL};
    int mp = e2e_start_mock_as("mock", mock_args, mock);
    e2e_live_upstream = *mock;
    if (master)
        setenv("SLUICE_MASTER_KEY", "mk-ui-test", 1);
    else
        unsetenv("SLUICE_MASTER_KEY");
    int port =
        e2e_start_serve_yaml("serve.yaml", serve_db ? db_args : NULL, serve,
                             "%s"
                             "models:\n"
                             "  - name: gpt\n"
                             "    deployments:\n"
                             "      - {name: d1, url: 'http://127.0.0.1:%d',\n"
                             "         retry: {max_attempts: 3, backoff: fixed, base_ms: 5}}\n",
                             extra_yaml ? extra_yaml : "", mp);
    unsetenv("SLUICE_MASTER_KEY");
    e2e_live_serve = *serve;
    return port;
}

/* PostgreSQL gives jsonb back spaced ({"a": 1, "b": [2, 3]}): the same
 * JSON written compact, so that one assertion fits both stores (no value
 * here holds ": " or ", " inside a string). */
static void compact(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        *w++ = *r;
        if ((*r == ':' || *r == ',') && r[1] == ' ')
            r++;
    }
    *w = '\0';
}

static int get(int port, const char *path, const char *auth)
{
    int status = bh_request_with(port, "GET", path, auth, NULL, buf, sizeof(buf));
    char *body = strstr(buf, "\r\n\r\n");
    if (body)
        compact(body);
    return status;
}

Test(ui, who_may_open_it)
{
    pid_t mock, serve;
    int sp = start(NULL, NULL, 1, &mock, &serve);
    cr_assert_eq(get(sp, "/ui", NULL), 401, "%s", buf);
    cr_assert_not_null(strcasestr(buf, "\r\nWWW-Authenticate: Basic realm=\"sluice dashboard\""),
                       "a browser asks for the key: %s", buf);
    cr_assert_eq(get(sp, "/ui", "Authorization: Bearer wrong\r\n"), 401);
    cr_assert_eq(get(sp, "/ui", "Authorization: Basic bWU6d3Jvbmc=\r\n"), 401);
    /* malformed credentials: refused, never a crash */
    static const char *const bad[] = {
        "Authorization: Basic !!!!\r\n", "Authorization: Basic bm9jb2xvbg==\r\n",
        "Authorization: Basic \r\n",     "Authorization: Basic ====\r\n",
        "Authorization: basic bWU6\r\n", "Authorization: Bearer\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_eq(get(sp, "/ui", bad[i]), 401, "%s", bad[i]);
    char longauth[2048] = "Authorization: Basic ";
    memset(longauth + strlen(longauth), 'Q', 1500);
    strcat(longauth, "\r\n");
    cr_assert_eq(get(sp, "/ui", longauth), 401);
    cr_assert_eq(get(sp, "/ui", bearer), 200);
    cr_assert_eq(get(sp, "/ui", basic), 200);
    cr_assert_not_null(strstr(buf, "\r\nContent-Type: text/html; charset=utf-8\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "<title>sluice dashboard</title>"));
    cr_assert_not_null(strstr(buf, "uPlot"), "the chart library is in the page");
    cr_assert_null(strstr(buf, "src=\"http"), "nothing is fetched from elsewhere");
    cr_assert_eq(get(sp, "/ui/api/requests", NULL), 401);
    cr_assert_eq(bh_request_with(sp, "POST", "/ui", bearer, "{}", buf, sizeof(buf)), 405);
    cr_assert_eq(get(sp, "/ui/nope", bearer), 404);
    e2e_stop(serve);
    e2e_stop(mock);

    /* neither a master key nor ui.public: off, and it says how to turn it on */
    sp = start(NULL, NULL, 0, &mock, &serve);
    cr_assert_eq(get(sp, "/ui", NULL), 404, "%s", buf);
    cr_assert_not_null(strstr(buf, "SLUICE_MASTER_KEY"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);

    /* local use: open to anyone */
    sp = start(NULL, "ui: {public: true}\n", 0, &mock, &serve);
    cr_assert_eq(get(sp, "/ui", NULL), 200);
    cr_assert_eq(get(sp, "/ui/api/requests", NULL), 200, "%s", buf);
}

static void browse(void)
{
    /* request 1 is retried once (500, then 200); 2..7 succeed */
    const char *seq[] = {"--sequence", "500", NULL};
    pid_t mock, serve;
    int sp = start(seq, NULL, 1, &mock, &serve);
    char ids[7][64];
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
        const char *h = strcasestr(buf, "\r\nx-request-id: ");
        cr_assert_not_null(h);
        snprintf(ids[i], sizeof(ids[i]), "%.*s", (int)strcspn(h + 16, "\r"), h + 16);
    }
    cr_assert_eq(
        bh_request(sp, "POST", "/v1/chat/completions",
                   "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", buf,
                   sizeof(buf)),
        404);
    /* the rows reach the log within its batch interval */
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(get(sp, "/ui/api/requests?limit=200", bearer), 200, "%s", buf);
        int n = 0;
        for (const char *p = buf; (p = strstr(p, "\"row\":")) != NULL; p++)
            n++;
        if (n == 8)
            break;
        usleep(20000);
    }
    /* pages of 3, newest first, by keyset: 3 + 3 + 2, the cursor the last row shown */
    char next[32] = "";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        char path[128];
        snprintf(path, sizeof(path), "/ui/api/requests?limit=3%s%s", next[0] ? "&before=" : "",
                 next);
        cr_assert_eq(get(sp, path, bearer), 200, "%s", buf);
        int n = 0;
        for (const char *p = buf; (p = strstr(p, "\"row\":")) != NULL; p++)
            n++;
        cr_assert_eq(n, page < 2 ? 3 : 2, "page %d: %s", page, buf);
        seen += n;
        const char *nx = strstr(buf, "\"next\":");
        cr_assert_not_null(nx);
        if (page < 2) {
            cr_assert_eq(sscanf(nx, "\"next\":\"%31[0-9]\"", next), 1, "%s", nx);
        } else {
            cr_assert_eq(strncmp(nx, "\"next\":null", 11), 0, "the last page: %s", nx);
        }
    }
    cr_assert_eq(seen, 8);
    /* filters */
    cr_assert_eq(get(sp, "/ui/api/requests?status=failed", bearer), 200);
    cr_assert_not_null(strstr(buf, "\"model\":\"nope\""), "%s", buf);
    cr_assert_null(strstr(buf, "\"model\":\"gpt\""), "%s", buf);
    cr_assert_eq(get(sp, "/ui/api/requests?model=gpt&http=200&limit=50", bearer), 200);
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "\"row\":")) != NULL; p++)
        n++;
    cr_assert_eq(n, 7);
    /* a time window: all of them since an hour ago, none from an hour on */
    char window[128];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the rows' clock: Unix time */
    long long now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    snprintf(window, sizeof(window), "/ui/api/requests?limit=50&since=%lld", now_us - 3600000000LL);
    cr_assert_eq(get(sp, window, bearer), 200, "%s", buf);
    n = 0;
    for (const char *p = buf; (p = strstr(p, "\"row\":")) != NULL; p++)
        n++;
    cr_assert_eq(n, 8, "%s", buf);
    snprintf(window, sizeof(window), "/ui/api/requests?since=%lld", now_us + 3600000000LL);
    cr_assert_eq(get(sp, window, bearer), 200);
    cr_assert_not_null(strstr(buf, "\"rows\":[]"), "%s", buf);
    snprintf(window, sizeof(window), "/ui/api/requests?until=%lld", now_us - 3600000000LL);
    cr_assert_eq(get(sp, window, bearer), 200);
    cr_assert_not_null(strstr(buf, "\"rows\":[]"), "%s", buf);
    cr_assert_eq(get(sp, "/ui/api/requests?model=x%27%20OR%20%271%27%3D%271", bearer), 200);
    cr_assert_not_null(strstr(buf, "\"rows\":[]"), "a quote is data, not SQL: %s", buf);
    cr_assert_eq(get(sp, "/ui/api/requests?model=%0a", bearer), 400, "%s", buf);
    /* one request by its id: the retried one, with its attempts */
    char path[128];
    snprintf(path, sizeof(path), "/ui/api/requests/%s", ids[0]);
    cr_assert_eq(get(sp, path, bearer), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, ids[0]), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"attempts\":2"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"tries\":[[\"d1\",500,\"server_error\","), "%s", buf);
    cr_assert_not_null(strstr(buf, "],[\"d1\",200,\"\","), "%s", buf);
    snprintf(path, sizeof(path), "/ui/api/requests/%s", ids[3]);
    cr_assert_eq(get(sp, path, bearer), 200);
    cr_assert_null(strstr(buf, "\"tries\""), "one attempt: no list: %s", buf);
    cr_assert_eq(get(sp, "/ui/api/requests/req_nothing", bearer), 200);
    cr_assert_not_null(strstr(buf, "\"rows\":[]"), "%s", buf);
}

Test(ui, the_browser_pages_filters_and_finds_a_request_with_its_attempts)
{
    browse();
}

/* The body log: each request a conversation (its messages as the model got
 * them, and the answer, streamed or not), redacted and bounded, read back
 * by request id and a page at a time with the fixed-query loader. */
static void bodies(void)
{
    pid_t mock, serve;
    int sp = start(NULL,
                   "log_bodies: {max_bytes: 300, redact: ['sk-[A-Za-z0-9]{16,}', "
                   "'[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}']}\n",
                   1, &mock, &serve);
    char ids[3][64];
    static const char *const bodies[] = {
        "{\"model\":\"gpt\",\"max_tokens\":4,\"messages\":[{\"role\":\"system\",\"content\":"
        "\"be brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"key "
        "sk-ABCDEFGHIJKLMNOPQRST and card 1234-5678-9012-3456\"}]}]}",
        "{\"model\":\"gpt\",\"max_tokens\":3,\"stream\":true,\"messages\":[{\"role\":\"user\","
        "\"content\":\"stream \\\"quoted\\\" please\"}]}",
        NULL, /* a long one: cut at max_bytes */
    };
    char longbody[2048];
    snprintf(longbody, sizeof(longbody),
             "{\"model\":\"gpt\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"%0600d\"}]}",
             7);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                                bodies[i] ? bodies[i] : longbody, buf, sizeof(buf)),
                     200, "%s", buf);
        const char *h = strcasestr(buf, "\r\nx-request-id: ");
        cr_assert_not_null(h);
        snprintf(ids[i], sizeof(ids[i]), "%.*s", (int)strcspn(h + 16, "\r"), h + 16);
    }
    char path[160];
    snprintf(path, sizeof(path), "/ui/api/requests/%s/conversation", ids[2]);
    for (int i = 0; i < 200; i++) { /* the body log's batch goes within 200 ms */
        cr_assert_eq(get(sp, path, bearer), 200, "%s", buf);
        if (strstr(buf, "\"role\":\"assistant\""))
            break;
        usleep(20000);
    }
    cr_assert_not_null(strstr(buf, "[truncated]"), "cut at max_bytes: %s", buf);
    cr_assert_null(strstr(buf, "000000000000000000000000000000000000000000000000000000000000000000"
                               "00000000000000000000000000000000000000000000000000000000000000000"
                               "00000000000000000000000000000000000000000000000000000000000000000"
                               "00000000000000000000000000000000000000000000000000000000000000000"
                               "000000000000000000000000000000000000000000000000000000"),
                   "no more than max_bytes: %s", buf);
    snprintf(path, sizeof(path), "/ui/api/requests/%s/conversation", ids[0]);
    cr_assert_eq(get(sp, path, bearer), 200);
    cr_assert_not_null(strstr(buf, "{\"seq\":1,\"role\":\"system\",\"content\":\"be brief\"}"),
                       "%s", buf);
    cr_assert_not_null(strstr(buf,
                              "{\"seq\":2,\"role\":\"user\",\"content\":\"key [redacted] and card "
                              "[redacted]\"}"),
                       "%s", buf);
    cr_assert_null(strstr(buf, "sk-ABC"), "the secret is not stored: %s", buf);
    cr_assert_not_null(strstr(buf, "{\"seq\":3,\"role\":\"assistant\",\"content\":\"Hello from "
                                   "the sluice\"}"),
                       "%s", buf);
    snprintf(path, sizeof(path), "/ui/api/requests/%s/conversation", ids[1]);
    cr_assert_eq(get(sp, path, bearer), 200);
    cr_assert_not_null(strstr(buf, "\"content\":\"stream \\\"quoted\\\" please\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "{\"seq\":2,\"role\":\"assistant\",\"content\":\"Hello from "
                                   "the\"}"),
                       "the stream's answer as the client got it: %s", buf);
    /* the loader: pages of 2 by id */
    cr_assert_eq(get(sp, "/ui/api/conversations?limit=2", bearer), 200);
    cr_assert_not_null(strstr(buf, ids[0]), "%s", buf);
    cr_assert_not_null(strstr(buf, ids[1]), "%s", buf);
    const char *nx = strstr(buf, "\"next\":");
    cr_assert_not_null(nx);
    long next = strtol(nx + 7, NULL, 10);
    cr_assert_gt(next, 0, "%s", nx);
    snprintf(path, sizeof(path), "/ui/api/conversations?limit=2&after=%ld", next);
    cr_assert_eq(get(sp, path, bearer), 200);
    cr_assert_not_null(strstr(buf, ids[2]), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"next\":null"), "%s", buf);
    cr_assert_eq(e2e_metric(sp, "sluice_bodies_stored_total"), 3);
}

Test(ui, the_body_log_keeps_each_request_as_a_redacted_conversation)
{
    bodies();
}

/* Conversations still in the body log's worker or batch when serve stops
 * are stored before it exits: one per request that reached the model. */
Test(ui, the_body_log_keeps_what_waited_when_serve_stops)
{
    pid_t mock, serve;
    int sp = start(NULL, "log_bodies: {redact: ['[0-9]{6,}']}\n", 1, &mock, &serve);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", sp);
    const char *load[] = {"load", url, "-n", "150", "-c", "8", "--model", "gpt", "--quiet", NULL};
    struct e2e_run r = e2e_run(load);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    e2e_free(&r);
    e2e_stop(serve); /* at once: a batch of 64 went, the rest waits */
    e2e_live_serve = 0;
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM conversations"), 150, "stderr: %s",
                 e2e_all_stderr());
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 150);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM messages WHERE role = 'assistant'"), 150);
}

/* The same on PostgreSQL: the same queries in its dialect. */
static void pg_setup(void)
{
    e2e_tmpdir();
    pgt_new_db();
    serve_db = pgt_url;
}

static void pg_teardown(void)
{
    e2e_kill_live();
    serve_db = NULL;
    pgt_drop_db();
}

TestSuite(ui_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 90);

Test(ui_pg, the_browser_reads_a_postgresql_log)
{
    browse();
}

Test(ui_pg, the_body_log_writes_postgresql)
{
    bodies();
}

Test(ui, the_live_feed_counts_what_finished_each_second)
{
    pid_t mock, serve;
    int sp = start(NULL, NULL, 1, &mock, &serve);
    int fd = bh_dial(sp);
    char req[512];
    snprintf(req, sizeof(req), "GET /ui/live HTTP/1.1\r\nHost: t\r\n%s\r\n", basic);
    bh_send(fd, req);
    /* the head and the comment that says it is connected */
    char got[65536];
    size_t len = 0;
    double t0 = e2e_now_ms();
    while (strstr(got, ": sluice live") == NULL && e2e_now_ms() - t0 < 5000) {
        ssize_t k = recv(fd, got + len, sizeof(got) - len - 1, 0);
        cr_assert_gt(k, 0);
        len += (size_t)k;
        got[len] = '\0';
    }
    cr_assert_not_null(strstr(got, "Content-Type: text/event-stream"), "%s", got);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200);
    /* the events until the five show (one second's event, or two) */
    long ok = 0;
    t0 = e2e_now_ms();
    while (ok < 5 && e2e_now_ms() - t0 < 5000) {
        ssize_t k = recv(fd, got + len, sizeof(got) - len - 1, 0);
        cr_assert_gt(k, 0);
        len += (size_t)k;
        got[len] = '\0';
        ok = 0;
        for (const char *p = got; (p = strstr(p, "\"2xx\":")) != NULL; p++)
            ok += strtol(p + 6, NULL, 10);
    }
    cr_assert_eq(ok, 5, "%s", got);
    cr_assert_not_null(strstr(got, "\"deployments\":[{\"name\":\"d1\",\"model\":\"gpt\","), "%s",
                       got);
    cr_assert_not_null(strstr(got, "\"limit\":100"), "%s", got);
    const char *lat = strstr(got, "\"latency_ms\":{\"p50\":");
    cr_assert_not_null(lat, "%s", got);
    close(fd);
    /* the gateway shuts down cleanly with a live page open */
    fd = bh_dial(sp);
    bh_send(fd, req);
    usleep(100000);
    e2e_stop(serve);
    e2e_live_serve = 0;
    close(fd);
}
