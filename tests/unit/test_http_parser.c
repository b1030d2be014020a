#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

static const char get_req[] =
    "GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  spaced  \r\n\r\n";

Test(http_parser, request_line_and_headers)
{
    struct sl_http_head h;
    int rc = sl_http_parse_request(get_req, strlen(get_req), &h);
    cr_assert_eq(rc, (int)strlen(get_req));
    cr_assert(sl_str_eq(h.method, "GET"));
    cr_assert(sl_str_eq(h.path, "/v1/models"));
    cr_assert(sl_str_eq(h.query, "x=1"));
    cr_assert_eq(h.minor_version, 1);
    cr_assert(h.keep_alive);
    cr_assert_eq(h.content_length, -1);
    const struct sl_str *v = sl_http_head_get(&h, "x-thing");
    cr_assert_not_null(v);
    cr_assert(sl_str_eq(*v, "spaced"));
    cr_assert_null(sl_http_head_get(&h, "missing"));
}

Test(http_parser, every_prefix_is_incomplete_then_complete)
{
    struct sl_http_head h;
    size_t n = strlen(get_req);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sl_http_parse_request(get_req, i, &h), SL_HTTP_INCOMPLETE, "prefix %zu", i);
    cr_assert_eq(sl_http_parse_request(get_req, n, &h), (int)n);
}

Test(http_parser, framing_and_connection_semantics)
{
    struct sl_http_head h;
    const char *post = "POST /x HTTP/1.1\r\nContent-Length: 12\r\nConnection: close\r\n\r\n";
    cr_assert_gt(sl_http_parse_request(post, strlen(post), &h), 0);
    cr_assert_eq(h.content_length, 12);
    cr_assert_not(h.keep_alive);
    const char *old = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_gt(sl_http_parse_request(old, strlen(old), &h), 0);
    cr_assert_not(h.keep_alive);
    const char *old_ka = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    cr_assert_gt(sl_http_parse_request(old_ka, strlen(old_ka), &h), 0);
    cr_assert(h.keep_alive);
    const char *chunked =
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
    cr_assert_gt(sl_http_parse_request(chunked, strlen(chunked), &h), 0);
    cr_assert(h.chunked);
    cr_assert(h.expect_continue);
    const char *bare_lf = "GET / HTTP/1.1\nHost: a\n\n";
    cr_assert_eq(sl_http_parse_request(bare_lf, strlen(bare_lf), &h), (int)strlen(bare_lf));
}

Test(http_parser, bad_requests)
{
    static const char *const bad[] = {
        "GET\r\n\r\n",
        "GET / \r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET / XTTP/1.1\r\n\r\n",
    };
    struct sl_http_head h;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_eq(sl_http_parse_request(bad[i], strlen(bad[i]), &h), SL_HTTP_E_BAD, "%s",
                     bad[i]);
    const char *v2 = "GET / HTTP/2.0\r\n\r\n";
    cr_assert_eq(sl_http_parse_request(v2, strlen(v2), &h), SL_HTTP_E_VERSION);
    const char *gzip = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    cr_assert_eq(sl_http_parse_request(gzip, strlen(gzip), &h), SL_HTTP_E_TRANSFER_CODING);
}

Test(http_parser, too_many_headers)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < SL_HTTP_MAX_HEADERS + 1; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "H%d: v\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    struct sl_http_head h;
    cr_assert_eq(sl_http_parse_request(buf, n, &h), SL_HTTP_E_TOO_MANY_HEADERS);
}

static const char chunked_body[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";

Test(http_parser, chunked_whole_and_split_at_every_offset)
{
    size_t n = strlen(chunked_body);
    for (size_t split = 0; split <= n; split++) {
        char buf[128];
        memcpy(buf, chunked_body, n);
        struct sl_chunked d = {0};
        int rc = sl_chunked_decode(&d, buf, split, 1024);
        cr_assert_neq(rc, SL_CHUNKED_BAD);
        if (split < n)
            cr_assert_eq(rc, SL_CHUNKED_MORE, "split %zu", split);
        rc = sl_chunked_decode(&d, buf, n, 1024);
        cr_assert_eq(rc, SL_CHUNKED_DONE, "split %zu", split);
        cr_assert_eq(d.raw, n);
        cr_assert_eq(d.decoded, 12);
        cr_assert_eq(memcmp(buf, "hello, world", 12), 0);
    }
    /* byte by byte */
    char buf[128];
    memcpy(buf, chunked_body, n);
    struct sl_chunked d = {0};
    int rc = SL_CHUNKED_MORE;
    for (size_t i = 1; i <= n; i++)
        rc = sl_chunked_decode(&d, buf, i, 1024);
    cr_assert_eq(rc, SL_CHUNKED_DONE);
    cr_assert_eq(memcmp(buf, "hello, world", 12), 0);
}

Test(http_parser, chunked_errors_and_limit)
{
    char bad[] = "zz\r\n";
    struct sl_chunked d = {0};
    cr_assert_eq(sl_chunked_decode(&d, bad, strlen(bad), 100), SL_CHUNKED_BAD);
    char nocrlf[] = "3\r\nabcX";
    struct sl_chunked d2 = {0};
    cr_assert_eq(sl_chunked_decode(&d2, nocrlf, strlen(nocrlf), 100), SL_CHUNKED_BAD);
    char big[] = "ff\r\n";
    struct sl_chunked d3 = {0};
    cr_assert_eq(sl_chunked_decode(&d3, big, strlen(big), 100), SL_CHUNKED_TOO_BIG);
}

Test(http_parser, chunk_size_overflow_is_too_big)
{
    /* decoded + size wraps around 2^64: must still be over the limit */
    char wrap[] = "1\r\na\r\nffffffffffffffff\r\n";
    struct sl_chunked d = {0};
    cr_assert_eq(sl_chunked_decode(&d, wrap, strlen(wrap), 100), SL_CHUNKED_TOO_BIG);
    char max[] = "ffffffffffffffff\r\n";
    struct sl_chunked d2 = {0};
    cr_assert_eq(sl_chunked_decode(&d2, max, strlen(max), 1u << 30), SL_CHUNKED_TOO_BIG);
    char over[] = "10000000000000000\r\n"; /* 2^64 */
    struct sl_chunked d5 = {0};
    cr_assert_eq(sl_chunked_decode(&d5, over, strlen(over), 1u << 30), SL_CHUNKED_TOO_BIG);
    char near[] = "5\r\nhello\r\nfffffffffffffffb\r\n";
    struct sl_chunked d3 = {0};
    cr_assert_eq(sl_chunked_decode(&d3, near, strlen(near), 1u << 20), SL_CHUNKED_TOO_BIG);
    /* exactly at the limit is fine */
    char exact[] = "5\r\nhello\r\n0\r\n\r\n";
    struct sl_chunked d4 = {0};
    cr_assert_eq(sl_chunked_decode(&d4, exact, strlen(exact), 5), SL_CHUNKED_DONE);
}

Test(http_parser, chunk_size_lines_need_a_hex_digit)
{
    static const char *const bad[] = {
        "\r\n\r\n",             /* an empty size line is not the last chunk */
        "\n",                   /* nor with a bare LF */
        ";ext\r\n\r\n",         /* an extension without a size */
        " 5\r\nhello\r\n",      /* whitespace before the size */
        "3\r\nabc\r\n\r\n\r\n", /* an empty size line after a chunk */
        "3;a\rb\r\nabc\r\n",    /* a bare CR in an extension */
        "0\r\nX: a\rb\r\n\r\n", /* a bare CR in a trailer */
        "0\r\n\r\r\n",          /* a bare CR at the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char buf[64];
        size_t n = strlen(bad[i]);
        memcpy(buf, bad[i], n);
        struct sl_chunked d = {0};
        cr_assert_eq(sl_chunked_decode(&d, buf, n, 1024), SL_CHUNKED_BAD, "case %zu", i);
    }
}

Test(http_parser, nul_and_bare_cr_in_the_head_are_bad)
{
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
#define CASE(lit) {lit, sizeof(lit) - 1}
        CASE("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"),
        CASE("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"),
        CASE("GET / HTTP/1.1\r\nX-A: ab\r\r\n\r\n"),
        CASE("GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n"),
        CASE("GET / HTTP/1.1\r\nX-A: \x7f\r\n\r\n"),
        CASE("GET /a\0 HTTP/1.1\r\n\r\n"),
        CASE("GET /a\r HTTP/1.1\r\n\r\n"),
        CASE("GET / HTTP/1.1\r\r\n\r\n"),
        CASE("\rGET / HTTP/1.1\r\n\r\n"),
#undef CASE
    };
    struct sl_http_head h;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_eq(sl_http_parse_request(bad[i].s, bad[i].len, &h), SL_HTTP_E_BAD, "case %zu", i);
    /* tabs and bytes past ASCII are allowed in values; leading CRLFs too */
    static const char ok[] = "\r\nGET / HTTP/1.1\r\nX-A: a\tb \xc3\xa9\r\n\r\n";
    cr_assert_eq(sl_http_parse_request(ok, sizeof(ok) - 1, &h), (int)sizeof(ok) - 1);
    cr_assert_eq(sl_http_head_get(&h, "x-a")->len, 6);
}

Test(http_parser, http10_expectations_are_ignored)
{
    struct sl_http_head h;
    const char *v10 = "POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n";
    cr_assert_gt(sl_http_parse_request(v10, strlen(v10), &h), 0);
    cr_assert_not(h.expect_continue);
}

/* ---- the rest of the HTTP/1 layer: fields, lists, response heads -------- */

Test(http_layer, header_lists_are_rfc9110_lists)
{
    struct {
        const char *list, *token;
        int has;
    } cases[] = {
        {"close", "close", 1},
        {"Keep-Alive, Close", "close", 1},
        {" \tclose\t ", "close", 1},
        {"x, x, , close", "close", 1},
        {"gzip, chunked", "chunked", 1},
        {"closed", "close", 0},
        {"xclose", "close", 0},
        /* not list elements of their own: a space is not a separator, and
         * a transfer coding's parameters make another element */
        {"keep-alive close", "close", 0},
        {"chunked;q=1", "chunked", 0},
        {"", "close", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_str l = {cases[i].list, strlen(cases[i].list)};
        cr_assert_eq(sl_http_list_has(l, cases[i].token), cases[i].has, "'%s' has '%s'",
                     cases[i].list, cases[i].token);
    }
}

Test(http_layer, tokens)
{
    cr_assert(sl_http_is_token((struct sl_str){"X-Custom", 8}));
    cr_assert_not(sl_http_is_token((struct sl_str){"X Custom", 8}));
    cr_assert_not(sl_http_is_token((struct sl_str){"", 0}));
    cr_assert_not(sl_http_is_tchar('\0'));
    cr_assert_not(sl_http_is_tchar(':'));
}

Test(http_layer, a_response_head_splits_into_trimmed_nul_terminated_fields)
{
    char block[] = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\n"
                   "X-Empty:\r\n folded continuation\r\nRetry-After:\t2\n\r\n";
    size_t max = sl_http_head_lines(block, strlen(block));
    struct sl_http_header f[16];
    cr_assert_leq(max, 16);
    size_t n = sl_http_split_head(block, strlen(block), f);
    cr_assert_eq(n, 3, "the interim block's fields and the folded line are dropped");
    cr_assert(sl_str_eq(f[0].name, "Content-Type") && sl_str_eq(f[0].value, "text/plain"));
    cr_assert_str_eq(f[0].value.ptr, "text/plain");
    cr_assert_str_eq(f[0].name.ptr, "Content-Type");
    cr_assert(sl_str_eq(f[1].name, "X-Empty") && f[1].value.len == 0);
    cr_assert_str_eq(f[1].value.ptr, "");
    const struct sl_str *ra = sl_http_header_get(f, n, "retry-after");
    cr_assert_not_null(ra);
    cr_assert_str_eq(ra->ptr, "2");
    cr_assert_null(sl_http_header_get(f, n, "x-interim"));
}

Test(http_layer, a_header_block_without_a_last_lf_is_split_too)
{
    /* libcurl's block: header lines only, in a NUL-terminated buffer */
    char block[] = "A: 1\r\nB: 2";
    struct sl_http_header f[4];
    cr_assert_eq(sl_http_head_lines(block, strlen(block)), 2);
    cr_assert_eq(sl_http_split_head(block, strlen(block), f), 2);
    cr_assert_str_eq(f[1].value.ptr, "2");
    cr_assert_eq(sl_http_head_lines(NULL, 0), 1);
}

/* The streaming decoder gives what the in-place one gives, taking data a
 * few bytes at a time (a client that pauses) and fed in any pieces. */
Test(http_layer, chunked_step_streams_what_decode_compacts)
{
    size_t n = strlen(chunked_body);
    for (size_t piece = 1; piece <= n; piece++) {
        struct sl_chunked d = {0};
        char out[64];
        size_t got = 0, at = 0;
        int rc = SL_CHUNKED_MORE;
        while (at < n && rc != SL_CHUNKED_DONE) {
            size_t end = at + piece < n ? at + piece : n;
            size_t used, avail;
            rc = sl_chunked_step(&d, chunked_body + at, end - at, &used, &avail, 1024);
            at += used;
            if (rc == SL_CHUNKED_DATA) {
                size_t take = avail > 3 ? 3 : avail;
                memcpy(out + got, chunked_body + at, take);
                got += take;
                at += take;
                sl_chunked_took(&d, take);
            } else {
                cr_assert(rc == SL_CHUNKED_MORE || rc == SL_CHUNKED_DONE, "piece %zu", piece);
            }
        }
        cr_assert_eq(rc, SL_CHUNKED_DONE, "piece %zu", piece);
        cr_assert_eq(at, n);
        cr_assert_eq(got, 12);
        cr_assert_eq(d.decoded, 12);
        cr_assert_eq(memcmp(out, "hello, world", 12), 0);
    }
}

/* The server's way: the same request from its first byte, more of it each
 * time, in a buffer that moves; the lines found good are not checked
 * again, and the result is the whole parse's. */
Test(http_parser, a_head_in_pieces_parses_as_it_does_whole)
{
    size_t n = strlen(get_req);
    for (size_t step = 1; step <= n; step++) {
        struct sl_http_head h;
        size_t checked = 0;
        int rc = SL_HTTP_INCOMPLETE;
        for (size_t have = step; rc == SL_HTTP_INCOMPLETE; have += step) {
            if (have > n)
                have = n;
            char *moved = malloc(have); /* a fresh place each time */
            memcpy(moved, get_req, have);
            rc = sl_http_parse_request_more(moved, have, &h, &checked);
            cr_assert_leq(checked, have);
            if (rc > 0) {
                cr_assert(sl_str_eq(h.method, "GET") && sl_str_eq(h.path, "/v1/models"));
                cr_assert(sl_str_eq(h.query, "x=1") && h.minor_version == 1);
                cr_assert_eq(h.nheaders, 2);
                cr_assert(sl_str_eq(*sl_http_head_get(&h, "x-thing"), "spaced"));
            }
            free(moved);
        }
        cr_assert_eq(rc, (int)n, "step %zu", step);
    }
    /* a bad line is found as soon as it is whole, as whole */
    const char bad[] = "GET / HTTP/1.1\r\nBad Name: x\r\nHost: a";
    size_t checked = 0;
    struct sl_http_head h;
    cr_assert_eq(sl_http_parse_request_more(bad, 16, &h, &checked), SL_HTTP_INCOMPLETE);
    cr_assert_eq(checked, 16);
    cr_assert_eq(sl_http_parse_request_more(bad, sizeof(bad) - 1, &h, &checked), SL_HTTP_E_BAD);
}
