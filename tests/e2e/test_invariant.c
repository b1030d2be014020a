/* The request-log invariant, across every path of a request.
 *
 * A mixed workload goes through `sluice serve` to a mock upstream with
 * faults (429 with Retry-After, 500, 503, resets, stalls, cut streams):
 * JSON and streamed requests, clients that disconnect mid-stream and
 * clients whose stream is cancelled by id. Afterwards, from the database:
 *  - exactly one row per x-request-id any client saw, and no other rows
 *    (early disconnects aside, below);
 *  - each row agrees with its client: the HTTP status it saw, succeeded for
 *    a 200 JSON body or a stream that reached [DONE], failed with the
 *    error code of the error body or event, cancelled for a client that
 *    went away or was cancelled by id, and the attempt count that the error
 *    message reports;
 *  - the attempts of all rows add up to the requests the upstream saw.
 * Run on SQLite, on PostgreSQL, and once with SIGTERM in the middle. */
#include <errno.h>
#include <pthread.h>

#include "pg_support.h"
#include "serve_support.h"

static void setup(void)
{
    e2e_tmpdir();
}

TestSuite(invariant, .init = setup, .fini = e2e_rmdir, .timeout = 240);

enum kind { K_JSON, K_STREAM, K_DISCONNECT, K_CANCEL, K_KINDS };

#define THREADS            6
#define CALLS_PER_THREAD   10
#define CLIENTS            (THREADS * CALLS_PER_THREAD)
#define LONG_STREAM_TOKENS 2000

struct client {
    enum kind kind;
    int port;
    char id[40];
    int status;        /* HTTP status seen; -1: no response (not accepted) */
    int done;          /* the stream reached [DONE] */
    int error_event;   /* the stream ended with an error event */
    int went_away;     /* this client closed before the end */
    int cancel_status; /* the cancel endpoint's answer */
    char code[48];     /* the error code of an error body or event */
    int upstream;      /* the gateway's own words on an upstream failure */
    int attempts;      /* from "after N attempt(s)", else -1 */
};

/* A connection with a generous read timeout (requests may queue behind
 * stalled attempts); -1 when refused (the gateway stopped listening). */
static int dial(int port)
{
    return e2e_dial_timeout(port, 30000);
}

static void copy_json_string(const char *text, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    out[0] = '\0';
    if (p)
        snprintf(out, size, "%.*s", (int)strcspn(p + strlen(pat), "\""), p + strlen(pat));
}

/* What an error body or event says: its code and attempt count. */
static void read_error(struct client *c, const char *text)
{
    copy_json_string(text, "code", c->code, sizeof(c->code));
    /* the gateway's failure messages say what the upstream did; its type
     * is an OpenAI one (server_error, requests), its code the row's class */
    c->upstream = strstr(text, "\"message\":\"the upstream") != NULL ||
                  strstr(text, "\"message\":\"an event of the upstream") != NULL;
    const char *after = strstr(text, "failed after ");
    c->attempts = after ? atoi(after + strlen("failed after ")) : -1;
}

/* Reads until the response head is complete; returns its length, 0 when
 * the connection ended first. */
static size_t read_head(int fd, char *buf, size_t size, size_t *len)
{
    for (;;) {
        buf[*len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end)
            return (size_t)(end + 4 - buf);
        ssize_t got = recv(fd, buf + *len, size - *len - 1, 0);
        if (got <= 0)
            return 0;
        *len += (size_t)got;
    }
}

/* Reads the rest of a response: Content-Length, or chunked to its last
 * chunk, or to the end of the connection. */
static void read_rest(int fd, char *buf, size_t size, size_t *len, size_t head)
{
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t want = cl && (size_t)(cl - buf) < head ? head + strtoul(cl + 17, NULL, 10) : 0;
    for (;;) {
        buf[*len] = '\0';
        if (want ? *len >= want
                 : strstr(buf + head, "\r\n0\r\n\r\n") != NULL ||
                       strncmp(buf + head, "0\r\n\r\n", 5) == 0)
            return;
        if (*len + 1 >= size)
            return;
        ssize_t got = recv(fd, buf + *len, size - *len - 1, 0);
        if (got <= 0)
            return;
        *len += (size_t)got;
    }
}

static void cancel_by_id(struct client *c)
{
    char path[128], local[4096];
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", c->id);
    int fd = dial(c->port);
    if (fd < 0) {
        c->cancel_status = -1;
        return;
    }
    char req[512];
    snprintf(req, sizeof(req),
             "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", path);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    c->cancel_status = bh_read_response(fd, local, sizeof(local));
    close(fd);
}

static void run_client(struct client *c, int seq)
{
    static __thread char buf[512 * 1024];
    int stream = c->kind != K_JSON;
    int tokens = c->kind == K_DISCONNECT || c->kind == K_CANCEL ? LONG_STREAM_TOKENS : 8;
    char body[256], req[1024];
    int bn = snprintf(body, sizeof(body),
                      "{\"model\":\"gpt-4o-mini\",\"stream\":%s,\"max_tokens\":%d,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"client %d\"}]}",
                      stream ? "true" : "false", tokens, seq);
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n%s",
             bn, body);
    c->status = -1;
    c->attempts = -1;
    int fd = dial(c->port);
    if (fd < 0)
        return;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return;
    }
    size_t len = 0, head = read_head(fd, buf, sizeof(buf), &len);
    if (head == 0) {
        close(fd);
        return;
    }
    c->status = atoi(buf + 9);
    const char *id = strcasestr(buf, "\r\nx-request-id: ");
    if (id && (size_t)(id - buf) < head)
        snprintf(c->id, sizeof(c->id), "%.*s", (int)strcspn(id + 16, "\r"), id + 16);
    int is_stream = c->status == 200 && strcasestr(buf, "text/event-stream") != NULL;
    if (is_stream && c->kind == K_DISCONNECT) {
        c->went_away = 1; /* the user closed the tab */
        close(fd);
        return;
    }
    if (is_stream && c->kind == K_CANCEL)
        cancel_by_id(c);
    read_rest(fd, buf, sizeof(buf), &len, head);
    close(fd);
    if (is_stream) {
        c->done = strstr(buf + head, "data: [DONE]") != NULL;
        const char *ev = strstr(buf + head, "data: {\"error\"");
        c->error_event = ev != NULL;
        if (ev)
            read_error(c, ev);
        cr_assert(!(c->done && c->error_event), "an error event and [DONE] in one stream: %s", buf);
    } else if (c->status != 200) {
        read_error(c, buf + head);
    }
}

struct worker {
    struct client *clients;
    int first, n;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = w->first; i < w->first + w->n; i++)
        run_client(&w->clients[i], i);
    return NULL;
}

/* ---- reading the rows back ----------------------------------------------- */

struct row {
    char id[40], status[16], error[48];
    int attempts, http;
};

static const char rows_sql[] = "SELECT metadata->>'id', status, coalesce(error, ''), attempts, "
                               "metadata->>'status' FROM requests";

static int load_rows_sqlite(const char *path, struct row *rows, int max)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, rows_sql, -1, &st, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cr_assert_lt(n, max, "more rows than requests");
        struct row *r = &rows[n++];
        snprintf(r->id, sizeof(r->id), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(r->status, sizeof(r->status), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(r->error, sizeof(r->error), "%s", (const char *)sqlite3_column_text(st, 2));
        r->attempts = sqlite3_column_int(st, 3);
        r->http = sqlite3_column_int(st, 4);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int load_rows_pg(const char *url, struct row *rows, int max)
{
    PGconn *c = pgt_connect(url);
    PGresult *res = PQexec(c, rows_sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    int n = PQntuples(res);
    cr_assert_leq(n, max, "more rows than requests");
    for (int i = 0; i < n; i++) {
        struct row *r = &rows[i];
        snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, i, 0));
        snprintf(r->status, sizeof(r->status), "%s", PQgetvalue(res, i, 1));
        snprintf(r->error, sizeof(r->error), "%s", PQgetvalue(res, i, 2));
        r->attempts = atoi(PQgetvalue(res, i, 3));
        r->http = atoi(PQgetvalue(res, i, 4));
    }
    PQclear(res);
    PQfinish(c);
    return n;
}

/* ---- the scenario ---------------------------------------------------------- */

/* What the row must say, given what its client saw. */
static void check_row(const struct client *c, const struct row *r)
{
    cr_assert_eq(r->http, c->status, "%s: the client saw HTTP %d, the row says %d", c->id,
                 c->status, r->http);
    const char *want;
    if (c->went_away || (c->kind == K_CANCEL && c->cancel_status == 200))
        want = "cancelled";
    else if (c->status == 200 && !c->error_event)
        want = "succeeded";
    else if (!strcmp(c->code, "request_cancelled"))
        want = "cancelled";
    else
        want = "failed";
    cr_assert_str_eq(r->status, want, "%s (kind %d, HTTP %d, code '%s', done %d): row says %s/%s",
                     c->id, c->kind, c->status, c->code, c->done, r->status, r->error);
    if (!strcmp(want, "succeeded")) {
        cr_assert_str_empty(r->error, "%s succeeded with error %s", c->id, r->error);
        if (c->kind != K_JSON)
            cr_assert(c->done || c->went_away, "%s: a 200 stream without [DONE]", c->id);
    }
    if (!strcmp(want, "cancelled"))
        cr_assert_str_eq(r->error, "cancelled", "%s (kind %d, HTTP %d): cancelled with error '%s'",
                         c->id, c->kind, c->status, r->error);
    /* an upstream failure names the row's error class (refusals keep the
     * OpenAI codes: invalid_api_key, model_not_found, shutting_down...) */
    if (!strcmp(want, "failed") && c->upstream &&
        strcmp(c->code, r->error) != 0)
        cr_assert_fail("%s: the client saw error %s, the row says %s", c->id, c->code, r->error);
    if (c->attempts >= 0)
        cr_assert_eq(r->attempts, c->attempts, "%s: the client was told %d attempts, row %d", c->id,
                     c->attempts, r->attempts);
}

struct scenario {
    const char *db; /* --db */
    int pg;         /* read rows with libpq */
    int sigterm;    /* SIGTERM once the upstream has seen this many requests (0: never) */
};

static void run_scenario(const struct scenario *scenario)
{
    struct scenario copy = *scenario, *s = &copy;
    char db[512]; /* e2e_path's buffers are reused */
    snprintf(db, sizeof(db), "%s", s->db);
    s->db = db;
    const char *margs[] = {"--fail-rate",
                           "0.3",
                           "--error-mix",
                           "429:3,503:3,500:1,reset:1,stall:1,cut:1",
                           "--retry-after",
                           "1",
                           "--latency-ms",
                           "0-10",
                           "--token-ms",
                           "2",
                           "--seed",
                           "7",
                           NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    char cfg[1024];
    snprintf(cfg, sizeof(cfg),
             "models:\n"
             "  - name: gpt-4o-mini\n"
             "    total_timeout_ms: 60000\n"
             "    deployments:\n"
             "      - {name: flaky, url: 'http://127.0.0.1:%d', max_concurrency: 4,\n"
             "         queue_length: 200, queue_timeout_ms: 50000, attempt_timeout_ms: 400,\n"
             "         cooldown_failures: 1000000,\n"
             "         retry: {max_attempts: 3, backoff: fixed, base_ms: 5,\n"
             "                 retry_after_cap_ms: 20}}\n",
             mp);
    int sp = e2e_start_serve_with("--config", e2e_write_file("invariant.yaml", cfg), s->db, NULL,
                                  &serve);

    static struct client clients[CLIENTS];
    memset(clients, 0, sizeof(clients));
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = (struct client){.kind = (enum kind)(i % K_KINDS), .port = sp};
    if (s->sigterm) /* a cancel would race the listener's close: no cancels here */
        for (int i = 0; i < CLIENTS; i++)
            if (clients[i].kind == K_CANCEL)
                clients[i].kind = K_JSON;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){clients, i * CALLS_PER_THREAD, CALLS_PER_THREAD};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    if (s->sigterm) {
        e2e_wait_mock_stat(mp, "requests", s->sigterm, 30000);
        kill(serve, SIGTERM);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double upstream_requests = e2e_mock_stat(mp, "requests");
    /* requests the http:// client sent again on a fresh connection: the
     * upstream saw them, no attempt counts them (SIGTERM: serve is gone) */
    double resent = s->sigterm ? -1 : e2e_metric_sum(sp, "sluice_upstream_resent_total{");
    e2e_stop(serve);
    e2e_stop(mock);

    static struct row rows[CLIENTS + 1];
    int nrows = s->pg ? load_rows_pg(s->db, rows, CLIENTS) : load_rows_sqlite(s->db, rows, CLIENTS);
    int accepted = 0, attempts = 0, kinds_seen[K_KINDS] = {0};
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        if (c->status < 0) {
            cr_assert(s->sigterm, "client %d got no response at all", i);
            continue; /* refused after the listener closed: not accepted */
        }
        cr_assert(c->id[0], "client %d: HTTP %d without x-request-id", i, c->status);
        accepted++;
        kinds_seen[c->kind] += c->status == 200;
        int found = 0;
        for (int k = 0; k < nrows; k++)
            if (!strcmp(rows[k].id, c->id)) {
                found++;
                check_row(c, &rows[k]);
            }
        cr_assert_eq(found, 1, "%s has %d rows", c->id, found);
    }
    cr_assert_eq(nrows, accepted, "%d rows for %d accepted requests", nrows, accepted);
    for (int k = 0; k < nrows; k++)
        attempts += rows[k].attempts;
    if (resent >= 0)
        cr_assert_eq(attempts + (int)resent, (int)upstream_requests,
                     "the rows count %d attempts (+%.0f resent), the upstream saw %.0f requests",
                     attempts, resent, upstream_requests);
    else
        cr_assert_leq(attempts, (int)upstream_requests,
                      "the rows count %d attempts, the upstream saw %.0f requests", attempts,
                      upstream_requests);
    if (!s->sigterm) /* the workload did reach every path */
        for (int k = 0; k < K_KINDS; k++)
            cr_assert_gt(kinds_seen[k], 0, "no client of kind %d got a 200", k);
}

Test(invariant, every_request_one_row_that_agrees_sqlite)
{
    run_scenario(&(struct scenario){.db = e2e_path("serve.db")});
}

Test(invariant, every_request_one_row_that_agrees_postgresql)
{
    pgt_new_db();
    run_scenario(&(struct scenario){.db = pgt_url, .pg = 1});
    pgt_drop_db();
}

Test(invariant, every_request_one_row_that_agrees_through_sigterm)
{
    run_scenario(&(struct scenario){.db = e2e_path("serve.db"), .sigterm = 15});
}
