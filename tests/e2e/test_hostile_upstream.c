/* sluice serve in front of a hostile upstream (hostile_upstream.h): bad
 * status lines, endless headers, conflicting lengths, bad chunk sizes,
 * bodies longer or shorter than declared, huge bodies, SSE garbage,
 * endless lines, oversized events, events after [DONE], odd Retry-After
 * values, resets mid-stream, unsolicited bytes on an idle connection. A
 * client calls normally, once per case, and for every reply asserts:
 *  - the reply is well framed HTTP (complete per its Content-Length or
 *    chunked coding, nothing after it);
 *  - a stream ends with exactly one terminator, [DONE] or one error event,
 *    nothing after it, and no half event;
 *  - its row agrees: one row per x-request-id, the HTTP status the client
 *    saw, succeeded exactly when the client got a whole answer, else failed
 *    with the error class the error body named;
 * and at the end that serve still answers and exits cleanly (the ASan
 * build: nothing leaked). */
#include "hostile_upstream.h"
#include "serve_support.h"
#include "stream_client.h"

TestSuite(hostile, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 240);

#define JSON_200(extra) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" extra
#define CHUNKED_SSE                                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
#define RA_429(value)                                                                              \
    "HTTP/1.1 429 Too Many\r\nRetry-After: " value "\r\nContent-Length: 2\r\n\r\n{}"

/* What the client should get: an HTTP status (0: any that the row agrees
 * with), and for a stream that started, how it ends. */
enum end { ANY, DONE, ERROR_EVENT };

struct hostile_case {
    struct hu_script script;
    int stream, status;
    enum end end;
    const char *code; /* the error code the client sees, or NULL */
};

static const struct hostile_case cases[] = {
    {{"bad status line", {HU_S("HTTP/1.1 abc OK\r\n\r\n"), HU_CLOSE_CONN}}, 0, 502, ANY, NULL},
    {{"not HTTP", {HU_S("SSH-2.0-OpenSSH_9.6\r\n"), HU_CLOSE_CONN}}, 0, 502, ANY, NULL},
    {{"status 2000", {HU_S("HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}"), HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"endless headers",
      {HU_S("HTTP/1.1 200 OK\r\n"), HU_REP("X-Junk: aaaaaaaaaaaaaaaa\r\n", 1ul << 20),
       HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"header line without a colon",
      {HU_S(JSON_200("no colon here\r\nContent-Length: 2\r\n\r\n{}")), HU_CLOSE_CONN}},
     0,
     0,
     ANY,
     NULL},
    {{"conflicting lengths",
      {HU_S(JSON_200("Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x")), HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"length and chunked",
      {HU_S(
           JSON_200("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")),
       HU_CLOSE_CONN}},
     0,
     0,
     ANY,
     NULL},
    {{"bad chunk size",
      {HU_S(JSON_200("Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")), HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"chunk size past 2^64",
      {HU_S(JSON_200("Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n{}")), HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"body shorter than declared",
      {HU_S(JSON_200("Content-Length: 100\r\n\r\n{}")), HU_CLOSE_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"body longer than declared",
      {HU_S(JSON_200("Content-Length: 2\r\n\r\n{}garbage after the body")), HU_KEEP_OPEN}},
     0,
     200,
     ANY,
     NULL},
    {{"huge JSON",
      {HU_S(JSON_200("Content-Length: 20000000\r\n\r\n{\"a\":\"")), HU_REP("y", 20000000 - 8),
       HU_S("\"}"), HU_KEEP_OPEN}},
     0,
     502,
     ANY,
     "response_too_large"},
    {{"endless close-delimited body", {HU_S(JSON_200("\r\n")), HU_REP("a", 1ul << 40)}},
     0,
     502,
     ANY,
     "response_too_large"},
    {{"Retry-After nan", {HU_S(RA_429("nan")), HU_KEEP_OPEN}}, 0, 429, ANY, "rate_limited"},
    {{"Retry-After huge", {HU_S(RA_429("99999999999999999999999")), HU_KEEP_OPEN}},
     0,
     429,
     ANY,
     "rate_limited"},
    {{"Retry-After inf", {HU_S(RA_429("inf")), HU_KEEP_OPEN}}, 0, 429, ANY, "rate_limited"},
    {{"Retry-After negative", {HU_S(RA_429("-5")), HU_KEEP_OPEN}}, 0, 429, ANY, "rate_limited"},
    {{"Retry-After date", {HU_S(RA_429("Wed, 21 Oct 2015 07:28:00 GMT")), HU_KEEP_OPEN}},
     0,
     429,
     ANY,
     "rate_limited"},
    {{"reset mid-body", {HU_S(JSON_200("Content-Length: 100\r\n\r\n{\"a\":")), HU_RESET_CONN}},
     0,
     502,
     ANY,
     NULL},
    {{"unsolicited bytes on an idle connection",
      {HU_S(JSON_200("Content-Length: 2\r\n\r\n{}")), HU_GO(1),
       HU_S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nbogus"), HU_KEEP_OPEN}},
     0,
     200,
     ANY,
     NULL},
    {{"SSE with garbage lines",
      {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT "not a field\n\x01\x7f\n\n"), HU_S(HU_DONE),
       HU_CLOSE_CONN}},
     1,
     200,
     DONE,
     NULL},
    {{"SSE endless line", {HU_S(HU_SSE_HEAD), HU_S("data: "), HU_REP("q", 1ul << 40)}},
     1,
     200,
     ERROR_EVENT,
     "response_too_large"},
    {{"SSE oversized event",
      {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT "data: "), HU_REP("b", 1100000), HU_S("\n\n" HU_DONE),
       HU_CLOSE_CONN}},
     1,
     200,
     ERROR_EVENT,
     "response_too_large"},
    {{"SSE endless comments", {HU_S(HU_SSE_HEAD), HU_REP(": keep going\n", 1ul << 30)}},
     1,
     200,
     ERROR_EVENT,
     "response_too_large"},
    {{"SSE events after [DONE]",
      {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT HU_DONE HU_EVENT), HU_S(HU_EVENT), HU_CLOSE_CONN}},
     1,
     200,
     DONE,
     NULL},
    {{"SSE reset mid-stream", {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT "data: {\"a"), HU_RESET_CONN}},
     1,
     200,
     ERROR_EVENT,
     NULL},
    {{"SSE cut without [DONE]", {HU_S(HU_SSE_HEAD), HU_S(HU_EVENT), HU_CLOSE_CONN}},
     1,
     200,
     ERROR_EVENT,
     NULL},
    {{"SSE bad chunk size mid-stream",
      {HU_S(CHUNKED_SSE "a\r\ndata: {}\n\n\r\n"), HU_S("zz\r\n"), HU_CLOSE_CONN}},
     1,
     200,
     ERROR_EVENT,
     NULL},
    {{"SSE that is JSON", {HU_S(JSON_200("Content-Length: 2\r\n\r\n{}")), HU_KEEP_OPEN}},
     1,
     200,
     ERROR_EVENT,
     NULL},
    {{"SSE CRLF split across writes",
      {HU_S(HU_SSE_HEAD), HU_S("data: {}\r"), HU_S("\n\r\n"), HU_S("data: [DONE]\r\n\r\n"),
       HU_CLOSE_CONN}},
     1,
     200,
     DONE,
     NULL},
    {{"SSE bad status line", {HU_S("HTTP/1.1 20 OK\r\n\r\n"), HU_CLOSE_CONN}}, 1, 502, ANY, NULL},
};

#define NCASES ((int)(sizeof(cases) / sizeof(*cases)))

/* The value of "code" in a JSON error body, or "". */
static void error_code(const char *body, char *out, size_t size)
{
    out[0] = '\0';
    const char *c = strstr(body, "\"code\":\"");
    if (c)
        snprintf(out, size, "%.*s", (int)strcspn(c + 8, "\""), c + 8);
}

static void check_reply(const struct hostile_case *c, const struct reply *r, const char *db)
{
    const char *name = c->script.name;
    cr_assert_gt(r->status, 0, "%s: no HTTP reply: %.300s", name, r->raw);
    cr_assert(r->framed, "%s: broken framing: %.500s", name, r->raw);
    cr_assert_neq(r->id[0], '\0', "%s: no x-request-id", name);
    if (c->status)
        cr_assert_eq(r->status, c->status, "%s: HTTP %d: %.300s", name, r->status, r->body);
    int whole;
    char code[64] = "";
    if (c->stream && r->status == 200) {
        struct sse_summary s;
        sc_sse(r, &s);
        cr_assert(s.complete, "%s: half an event: %.300s", name, r->body);
        cr_assert_eq(s.done + s.errors, 1, "%s: %d [DONE], %d error events", name, s.done,
                     s.errors);
        cr_assert_eq(s.after_done + s.after_error, 0, "%s: events after the end", name);
        if (c->end != ANY)
            cr_assert_eq(s.done == 1, c->end == DONE, "%s: %.300s", name, r->body);
        whole = s.done == 1;
        snprintf(code, sizeof(code), "%s", s.error_code);
    } else {
        whole = r->status == 200;
        if (!whole)
            error_code(r->body, code, sizeof(code));
    }
    if (c->code)
        cr_assert_str_eq(code, c->code, "%s: %.300s", name, r->body);
    /* the row agrees with what the client saw */
    char *st = sc_row(db, r->id, "status"), *err = sc_row(db, r->id, "error");
    char *http = sc_row(db, r->id, "metadata ->> 'status'");
    cr_assert_eq(atoi(http), r->status, "%s: row HTTP %s, the client saw %d", name, http,
                 r->status);
    if (whole) {
        cr_assert_str_eq(st, "succeeded", "%s", name);
        cr_assert_str_eq(err, "NULL", "%s", name);
    } else {
        cr_assert_str_eq(st, "failed", "%s: row %s/%s", name, st, err);
        cr_assert_str_neq(err, "NULL", "%s", name);
        cr_assert_str_neq(err, "cancelled", "%s", name);
        /* a gateway error body or a stream's error event names the row's
         * error class */
        if (strstr(r->body, "\"message\":\"the upstream") ||
            strstr(r->body, "\"message\":\"an event of the upstream"))
            cr_assert_str_eq(err, code, "%s: row %s, body %s", name, err, r->body);
    }
    free(st);
    free(err);
    free(http);
}

Test(hostile, every_reply_is_well_framed_and_its_row_agrees)
{
    struct hu_script scripts[NCASES];
    for (int i = 0; i < NCASES; i++)
        scripts[i] = cases[i].script;
    struct hu h = hu_start(scripts, NCASES);
    e2e_live_upstream = h.pid;
    pid_t serve;
    int sp = e2e_start_serve_in_front(h.port, 2, 10, 100000, &serve);
    static struct reply replies[NCASES];
    for (int i = 0; i < NCASES; i++) {
        double t0 = e2e_now_ms();
        sc_read(sc_send(sp, sc_chat_body(i, cases[i].stream), 0), &replies[i]);
        cr_assert_lt(e2e_now_ms() - t0, 15000, "%s took %.0f ms", cases[i].script.name,
                     e2e_now_ms() - t0);
        if (cases[i].script.steps[1].op == HU_WAIT_GO) {
            /* the unsolicited bytes go now, on the idle connection: the
             * gateway must drop it, not read them as the next response */
            double eof = hu_stat(&h, "eof");
            hu_go(&h);
            while (hu_stat(&h, "eof") <= eof && e2e_now_ms() - t0 < 5000)
                usleep(5000);
            cr_assert_gt(hu_stat(&h, "eof"), eof, "the gateway kept a connection with junk");
        }
    }
    char out[4096];
    cr_assert_eq(bh_request(sp, "GET", "/health", NULL, out, sizeof(out)), 200);
    e2e_stop(serve);
    hu_stop(&h);
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), NCASES);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(DISTINCT metadata ->> 'id') FROM requests"), NCASES);
    for (int i = 0; i < NCASES; i++) {
        check_reply(&cases[i], &replies[i], db);
        sc_free(&replies[i]);
    }
}
