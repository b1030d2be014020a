/* The response parser (http/resp.h) of the load generator and the
 * upstream client, protocol cases as data: each canned response is fed
 * whole, split in two at every offset, split in three at every pair of
 * offsets, and one byte at a time, and must give the same result every
 * way; in relay mode too, with every body run refused once. */
#include <string.h>

#include "../support.h"
#include "http/resp.h"

struct pcase {
    const char *name;
    const char *bytes;
    int head_only, sse;
    int rc; /* the last feed's result (SL_RESP_MORE: then sl_resp_eof's) */
    int status, keep_alive;
    uint64_t body_bytes;
    uint32_t events, done_events;
};

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"

static const struct pcase cases[] = {
    {"content_length",
     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
     "{\"ok\":true}\r\n",
     0, 0, SL_RESP_DONE, 200, 1, 13, 0, 0},
    {"zero_length_429",
     "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\ncontent-length: 0\r\n\r\n", 0, 0,
     SL_RESP_DONE, 429, 1, 0, 0, 0},
    {"no_reason_phrase", "HTTP/1.1 503\r\nContent-Length: 2\r\n\r\nno", 0, 0, SL_RESP_DONE, 503, 1,
     2, 0, 0},
    {"connection_close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc", 0,
     0, SL_RESP_DONE, 200, 0, 3, 0, 0},
    {"http10_default_close", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, 0, SL_RESP_DONE,
     200, 0, 3, 0, 0},
    {"http10_keep_alive",
     "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc", 0, 0,
     SL_RESP_DONE, 200, 1, 3, 0, 0},
    {"bare_lf_lines", "HTTP/1.1 200 OK\nContent-Length: 4\n\nbody", 0, 0, SL_RESP_DONE, 200, 1, 4,
     0, 0},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n",
     0, 0, SL_RESP_DONE, 200, 1, 16, 0, 0},
    {"chunked_trailers",
     "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
     0, 0, SL_RESP_DONE, 200, 1, 3, 0, 0},
    {"chunked_wins_over_length",
     "HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\nok\r\n0\r\n\r\n",
     0, 0, SL_RESP_DONE, 200, 1, 2, 0, 0},
    {"continue_then_ok",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi", 0, 0,
     SL_RESP_DONE, 201, 1, 2, 0, 0},
    {"head_ignores_length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 1, 0, SL_RESP_DONE,
     200, 1, 0, 0, 0},
    {"no_content", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, SL_RESP_DONE, 204, 1, 0, 0, 0},
    {"body_until_close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 0, 0,
     SL_RESP_MORE, 200, 0, 9, 0, 0},
    {"long_header_line",
     "HTTP/1.1 200 OK\r\nX-Long: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\r\nContent-Length: 1\r\n\r\nx",
     0, 0, SL_RESP_DONE, 200, 1, 1, 0, 0},
    {"sse_chunked",
     SSE_HEAD "Transfer-Encoding: chunked\r\n\r\n"
              "20\r\ndata: {\"choices\":[{\"x\":\"He\"}]}\n\n\r\n"
              "20\r\ndata: {\"choices\":[{\"x\":\"ll\"}]}\n\n\r\n"
              "1F\r\ndata: {\"choices\":[{\"x\":\"o\"}]}\n\n\r\n"
              "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
     0, 1, SL_RESP_DONE, 200, 1, 32 + 32 + 31 + 14, 3, 1},
    {"sse_crlf_comments_multiline",
     SSE_HEAD "Content-Length: 98\r\n\r\n"
              ": keep-alive comment\r\n\r\n"
              "event: delta\r\ndata: one\r\ndata: more of one\r\n\r\n"
              "data:two\r\n\r\n"
              "data: [DONE]\r\n\r\n",
     0, 1, SL_RESP_DONE, 200, 1, 98, 2, 1},
    {"sse_until_close",
     SSE_HEAD "\r\ndata: a\n\ndata: b\n\n"
              "data: [DONE]x\n\n",
     0, 1, SL_RESP_MORE, 200, 0, 33, 3, 0},
    {"sse_off_counts_nothing", SSE_HEAD "Content-Length: 18\r\n\r\ndata: a\n\ndata: b\n\n", 0, 0,
     SL_RESP_DONE, 200, 1, 18, 0, 0},
    /* Errors. */
    {"bad_status_line", "HTTP/2 200 OK\r\n\r\n", 0, 0, SL_RESP_ERROR, 0, 0, 0, 0, 0},
    {"bad_status_code", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, SL_RESP_ERROR, 0, 0, 0, 0, 0},
    {"not_http", "SSH-2.0-OpenSSH_9.2\r\n", 0, 0, SL_RESP_ERROR, 0, 0, 0, 0, 0},
    {"bad_content_length", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", 0, 0, SL_RESP_ERROR,
     200, 1, 0, 0, 0},
    {"conflicting_length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
     0, SL_RESP_ERROR, 200, 1, 0, 0, 0},
    {"bad_chunk_size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0,
     SL_RESP_ERROR, 200, 1, 0, 0, 0},
    {"missing_chunk_crlf",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX\r\n0\r\n\r\n", 0, 0,
     SL_RESP_ERROR, 200, 1, 2, 0, 0},
    {"header_without_colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 0, 0, SL_RESP_ERROR, 200, 1, 0, 0,
     0},
    /* Lines longer than SL_RESP_LINE_MAX give the same result whole and
     * split (found by tests/fuzz/fuzz_http_response.c): a header name that
     * does not end within the line buffer is malformed, a Transfer-Encoding
     * too long to read is refused, an unreadable Connection closes. */
    {"long_header_name",
     "HTTP/1.1 200 OK\r\nX-"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ": v\r\nContent-Length: 1\r\n\r\nx",
     0, 0, SL_RESP_ERROR, 200, 1, 0, 0, 0},
    {"long_transfer_encoding",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "chunked\r\n\r\n0\r\n\r\n",
     0, 0, SL_RESP_ERROR, 200, 1, 0, 0, 0},
    {"long_connection",
     "HTTP/1.1 200 OK\r\nConnection: "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, "
     "close\r\nContent-Length: 2\r\n\r\nok",
     0, 0, SL_RESP_DONE, 200, 0, 2, 0, 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct outcome {
    int rc;
    size_t used_total;
    struct sl_resp p;
};

/* Feeds `bytes` cut at the offsets in cuts[0..ncuts) (ascending). */
static struct outcome feed_cut(const struct pcase *c, const size_t *cuts, int ncuts)
{
    struct outcome o = {0};
    size_t len = strlen(c->bytes), from = 0;
    sl_resp_init(&o.p, c->head_only, c->sse);
    uint32_t events = 0;
    for (int k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        size_t used = 0;
        o.rc = sl_resp_feed(&o.p, c->bytes + from, to - from, &used);
        /* Events only ever grow, one piece at a time. */
        cr_assert_geq(o.p.events, events);
        events = o.p.events;
        o.used_total += used;
        if (o.rc != SL_RESP_MORE) {
            cr_assert(k == ncuts || o.rc == SL_RESP_ERROR || used == to - from,
                      "%s: done before the end", c->name);
            return o;
        }
        cr_assert_eq(used, to - from, "%s: MORE must consume everything", c->name);
        from = to;
    }
    return o;
}

static void check(const struct pcase *c, struct outcome o, const char *how)
{
    int rc = o.rc;
    if (rc == SL_RESP_MORE && c->rc != SL_RESP_MORE)
        cr_assert_fail("%s (%s): incomplete", c->name, how);
    if (c->rc == SL_RESP_MORE) {
        cr_assert_eq(rc, SL_RESP_MORE, "%s (%s): rc %d", c->name, how, rc);
        rc = sl_resp_eof(&o.p);
        cr_assert_eq(rc, SL_RESP_DONE, "%s (%s): eof did not complete", c->name, how);
    } else {
        cr_assert_eq(rc, c->rc, "%s (%s): rc %d, want %d (%s)", c->name, how, rc, c->rc,
                     o.p.error ? o.p.error : "");
    }
    if (c->rc == SL_RESP_ERROR) {
        cr_assert_not_null(o.p.error, "%s: no reason given", c->name);
        return;
    }
    cr_assert_eq(o.p.status, c->status, "%s (%s): status %d", c->name, how, o.p.status);
    cr_assert_eq(o.p.keep_alive, c->keep_alive, "%s (%s): keep_alive", c->name, how);
    cr_assert_eq(o.p.body_bytes, c->body_bytes, "%s (%s): body %llu, want %llu", c->name, how,
                 (unsigned long long)o.p.body_bytes, (unsigned long long)c->body_bytes);
    cr_assert_eq(o.p.events, c->events, "%s (%s): events %u, want %u", c->name, how, o.p.events,
                 c->events);
    cr_assert_eq(o.p.done_events, c->done_events, "%s (%s): [DONE] %u", c->name, how,
                 o.p.done_events);
    if (c->rc == SL_RESP_DONE)
        cr_assert_eq(o.used_total, strlen(c->bytes), "%s (%s): used %zu of %zu", c->name, how,
                     o.used_total, strlen(c->bytes));
}

Test(load_parser, whole)
{
    for (size_t i = 0; i < NCASES; i++)
        check(&cases[i], feed_cut(&cases[i], NULL, 0), "whole");
}

Test(load_parser, split_at_every_offset)
{
    for (size_t i = 0; i < NCASES; i++) {
        size_t len = strlen(cases[i].bytes);
        for (size_t cut = 0; cut <= len; cut++) {
            char how[32];
            snprintf(how, sizeof(how), "cut at %zu", cut);
            check(&cases[i], feed_cut(&cases[i], &cut, 1), how);
        }
    }
}

Test(load_parser, split_in_three_everywhere)
{
    for (size_t i = 0; i < NCASES; i++) {
        size_t len = strlen(cases[i].bytes);
        for (size_t a = 1; a < len; a++)
            for (size_t b = a; b < len; b++) {
                size_t cuts[2] = {a, b};
                char how[48];
                snprintf(how, sizeof(how), "cuts at %zu, %zu", a, b);
                check(&cases[i], feed_cut(&cases[i], cuts, 2), how);
            }
    }
}

Test(load_parser, one_byte_at_a_time)
{
    for (size_t i = 0; i < NCASES; i++) {
        size_t len = strlen(cases[i].bytes);
        size_t cuts[1024];
        cr_assert(len < 1024);
        for (size_t k = 1; k < len; k++)
            cuts[k - 1] = k;
        check(&cases[i], feed_cut(&cases[i], cuts, (int)len - 1), "bytewise");
    }
}

Test(load_parser, sse_events_are_counted_as_each_data_line_completes)
{
    static const char *head = SSE_HEAD "Transfer-Encoding: chunked\r\n\r\n";
    static const char *piece[] = {"8\r\ndata: a\n", "\r\n",        "1\r\n\n\r\n", "4\r\ndata\r\n",
                                  "4\r\n: b\n\r\n", "1\r\n\n\r\n", "0\r\n\r\n"};
    static const uint32_t after[] = {1, 1, 1, 1, 2, 2, 2};
    struct sl_resp p;
    size_t used;
    sl_resp_init(&p, 0, 1);
    cr_assert_eq(sl_resp_feed(&p, head, strlen(head), &used), SL_RESP_MORE);
    for (int i = 0; i < 7; i++) {
        int rc = sl_resp_feed(&p, piece[i], strlen(piece[i]), &used);
        cr_assert_eq(p.events, after[i], "after piece %d: %u events", i, p.events);
        cr_assert_eq(rc, i == 6 ? SL_RESP_DONE : SL_RESP_MORE, "piece %d", i);
    }
}

Test(load_parser, bytes_after_the_response_are_left)
{
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    struct sl_resp p;
    size_t used;
    sl_resp_init(&p, 0, 0);
    cr_assert_eq(sl_resp_feed(&p, two, strlen(two), &used), SL_RESP_DONE);
    cr_assert_eq(used, strlen(two) - strlen("HTTP/1.1 200 OK\r\n"));
}

Test(load_parser, eof_before_the_end_is_an_error)
{
    const char *partial[] = {"", "HTTP/1.1 200", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"};
    for (int i = 0; i < 4; i++) {
        struct sl_resp p;
        size_t used;
        sl_resp_init(&p, 0, 0);
        sl_resp_feed(&p, partial[i], strlen(partial[i]), &used);
        cr_assert_eq(sl_resp_eof(&p), SL_RESP_ERROR, "case %d", i);
        cr_assert_not_null(p.error);
    }
}

Test(load_parser, header_block_is_bounded)
{
    struct sl_resp p;
    size_t used;
    char line[1024];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Pad: ", 7);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\n';
    sl_resp_init(&p, 0, 0);
    cr_assert_eq(sl_resp_feed(&p, "HTTP/1.1 200 OK\r\n", 17, &used), SL_RESP_MORE);
    int rc = SL_RESP_MORE;
    for (int i = 0; i < 100 && rc == SL_RESP_MORE; i++)
        rc = sl_resp_feed(&p, line, sizeof(line), &used);
    cr_assert_eq(rc, SL_RESP_ERROR);
    /* A line that never ends is bounded too. */
    sl_resp_init(&p, 0, 0);
    rc = SL_RESP_MORE;
    for (int i = 0; i < 100 && rc == SL_RESP_MORE; i++)
        rc = sl_resp_feed(&p, line, sizeof(line) - 2, &used);
    cr_assert_eq(rc, SL_RESP_ERROR);
}

/* Relay mode: the head ends at the same byte and the decoded body is the
 * same whatever the splits, and a refused run comes back from its first
 * byte when the rest is fed again. */
struct relay {
    struct sl_resp p;
    int rc;
    size_t head_len; /* bytes up to the end of the final header block */
    size_t used_total;
    char body[1024];
    size_t body_len;
    const char *refused; /* the run refused last, to be offered again */
    int refusals;
};

static int relay_body(void *arg, const char *d, size_t n)
{
    struct relay *r = arg;
    if (r->refused == NULL) {
        r->refused = d;
        r->refusals++;
        return 1;
    }
    cr_assert_eq(d, r->refused, "a refused run is offered again from its start");
    r->refused = NULL;
    cr_assert_leq(r->body_len + n, sizeof(r->body));
    memcpy(r->body + r->body_len, d, n);
    r->body_len += n;
    return 0;
}

static void feed_relay(struct relay *r, const struct pcase *c, const size_t *cuts, int ncuts)
{
    memset(r, 0, sizeof(*r));
    r->head_len = (size_t)-1;
    sl_resp_init(&r->p, c->head_only, c->sse);
    sl_resp_relay(&r->p, relay_body, r);
    size_t len = strlen(c->bytes), from = 0;
    r->rc = SL_RESP_MORE;
    for (int k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        while (from < to) {
            size_t used = 0;
            r->rc = sl_resp_feed(&r->p, c->bytes + from, to - from, &used);
            if (r->head_len == (size_t)-1 && (r->rc == SL_RESP_HEAD || r->rc == SL_RESP_DONE))
                r->head_len = from + used;
            from += used;
            r->used_total = from;
            if (r->rc == SL_RESP_DONE || r->rc == SL_RESP_ERROR)
                return;
            if (r->rc == SL_RESP_MORE)
                cr_assert_eq(from, to, "%s: MORE must consume everything", c->name);
        }
    }
}

static void check_relay(const struct pcase *c, const struct relay *whole, const size_t *cuts,
                        int ncuts, const char *how)
{
    struct relay r;
    feed_relay(&r, c, cuts, ncuts);
    int rc = r.rc;
    if (rc == SL_RESP_HEAD || rc == SL_RESP_PAUSE)
        rc = SL_RESP_MORE; /* ended there: the body runs until the close */
    if (c->rc == SL_RESP_MORE && rc == SL_RESP_MORE)
        rc = sl_resp_eof(&r.p) == SL_RESP_DONE ? SL_RESP_MORE : SL_RESP_ERROR;
    cr_assert_eq(rc, c->rc, "%s (relay, %s): rc %d (%s)", c->name, how, r.rc,
                 r.p.error ? r.p.error : "");
    if (c->rc == SL_RESP_ERROR)
        return;
    cr_assert_eq(r.head_len, whole->head_len, "%s (relay, %s): head ends at %zu, not %zu", c->name,
                 how, r.head_len, whole->head_len);
    cr_assert_eq(r.body_len, c->body_bytes, "%s (relay, %s): body %zu", c->name, how, r.body_len);
    cr_assert_eq(r.p.body_bytes, c->body_bytes, "%s (relay, %s): counted", c->name, how);
    cr_assert(memcmp(r.body, whole->body, r.body_len) == 0, "%s (relay, %s): body", c->name, how);
    cr_assert_eq(r.p.events, c->events, "%s (relay, %s): events", c->name, how);
    if (c->body_bytes)
        cr_assert_gt(r.refusals, 0);
}

Test(load_parser, relay_mode_at_every_split)
{
    for (size_t i = 0; i < NCASES; i++) {
        const struct pcase *c = &cases[i];
        struct relay whole;
        feed_relay(&whole, c, NULL, 0);
        check_relay(c, &whole, NULL, 0, "whole");
        size_t len = strlen(c->bytes);
        for (size_t cut = 0; cut <= len; cut++) {
            char how[32];
            snprintf(how, sizeof(how), "cut at %zu", cut);
            check_relay(c, &whole, &cut, 1, how);
        }
        size_t cuts[1024];
        for (size_t k = 1; k < len; k++)
            cuts[k - 1] = k;
        check_relay(c, &whole, cuts, (int)len - 1, "bytewise");
    }
}

Test(load_parser, relay_mode_stops_at_the_head_and_decodes_chunks)
{
    const char *resp = "HTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n";
    const struct pcase c = {"chunks", resp, 0, 0, SL_RESP_DONE, 200, 1, 16, 0, 0};
    struct relay r;
    feed_relay(&r, &c, NULL, 0);
    cr_assert_eq(r.rc, SL_RESP_DONE);
    cr_assert_eq(r.head_len, (size_t)(strstr(resp, "5\r\nhello") - resp),
                 "the head includes the interim block, up to the final blank line");
    cr_assert_eq(r.body_len, 16);
    cr_assert(memcmp(r.body, "hello 0123456789", 16) == 0);
    cr_assert_eq(r.used_total, strlen(resp));
    /* Without a body the response ends with its head: DONE, not HEAD. */
    struct sl_resp p;
    size_t used;
    sl_resp_init(&p, 0, 0);
    sl_resp_relay(&p, relay_body, &r);
    const char *empty = "HTTP/1.1 204 No Content\r\n\r\n";
    cr_assert_eq(sl_resp_feed(&p, empty, strlen(empty), &used), SL_RESP_DONE);
    cr_assert_eq(used, strlen(empty));
}
