/* SSE codec: the parser gives the same events however the stream is split,
 * follows the line-ending, comment, field and BOM rules, bounds its memory;
 * the writer's output parses back to the event it was given. */
#include <stdio.h>
#include <string.h>

#include "../support.h"
#include "http/sse.h"

/* Records every event as one line of text, so two runs compare with
 * strcmp: "event|id|data" with the data's newlines shown as '~'. */
struct rec {
    struct sl_buf log;
    int events;
};

static void rec_cb(void *arg, const struct sl_sse_event *ev)
{
    struct rec *r = arg;
    cr_assert_eq(strlen(ev->data), ev->data_len, "data is NUL-terminated at data_len");
    cr_assert_eq(strlen(ev->event), ev->event_len);
    cr_assert_eq(strlen(ev->id), ev->id_len);
    sl_buf_append(&r->log, ev->event, ev->event_len);
    sl_buf_append(&r->log, "|", 1);
    sl_buf_append(&r->log, ev->id, ev->id_len);
    sl_buf_append(&r->log, "|", 1);
    for (size_t i = 0; i < ev->data_len; i++)
        sl_buf_append(&r->log, ev->data[i] == '\n' ? "~" : &ev->data[i], 1);
    sl_buf_append(&r->log, "\n", 1);
    r->events++;
}

static void rec_init(struct rec *r)
{
    *r = (struct rec){0};
    sl_buf_init(&r->log, 1 << 20);
    sl_buf_append(&r->log, "", 0);
}

/* Parses `pieces` consecutive slices of `in` (cut at the given offsets) and
 * returns the event log; the caller releases r. */
static int parse_split(struct rec *r, const char *in, size_t len, const size_t *cuts, int ncuts)
{
    struct sl_sse_parser p;
    rec_init(r);
    sl_sse_parser_init(&p, 0, rec_cb, r);
    size_t from = 0;
    int rc = 0;
    for (int i = 0; i <= ncuts && rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        rc = sl_sse_parser_feed(&p, in + from, to - from);
        from = to;
    }
    sl_sse_parser_release(&p);
    return rc;
}

#define FEED(p, str) sl_sse_parser_feed((p), (str), strlen(str))

static const char *parse_whole(struct rec *r, const char *in)
{
    cr_assert_eq(parse_split(r, in, strlen(in), NULL, 0), 0);
    return r->log.ptr;
}

/* A stream with every feature: BOM, all three line endings, comments,
 * multi-line data, named events, ids, retry, an empty data line, a field
 * without a colon, an unknown field, and an event with no data (dropped). */
static const char mixed[] = "\xEF\xBB\xBF"
                            ": hello comment\r\n"
                            "data: first\r\n"
                            "\r\n"
                            "event: update\n"
                            "id: 7\n"
                            "data: line one\n"
                            "data:line two\n"
                            "data:  two spaces\n"
                            "\n"
                            "retry: 1500\r"
                            "data\r"
                            "\r"
                            "event: nodata\n"
                            "\n"
                            "unknown: x\n"
                            ":another comment\n"
                            "data: {\"a\":1}\r\n"
                            "data: \r\n"
                            "\r\n";

static const char mixed_expect[] = "message||first\n"
                                   "update|7|line one~line two~ two spaces\n"
                                   "message|7|\n"
                                   "message|7|{\"a\":1}~\n";

Test(sse, mixed_stream_whole)
{
    struct rec r;
    cr_assert_str_eq(parse_whole(&r, mixed), mixed_expect);
    cr_assert_eq(r.events, 4);
    sl_buf_release(&r.log);
}

Test(sse, every_single_split_gives_the_same_events)
{
    size_t len = strlen(mixed);
    for (size_t i = 0; i <= len; i++) {
        struct rec r;
        cr_assert_eq(parse_split(&r, mixed, len, &i, 1), 0);
        cr_assert_str_eq(r.log.ptr, mixed_expect, "split at %zu", i);
        sl_buf_release(&r.log);
    }
}

Test(sse, every_pair_of_splits_gives_the_same_events)
{
    size_t len = strlen(mixed);
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            struct rec r;
            cr_assert_eq(parse_split(&r, mixed, len, cuts, 2), 0);
            cr_assert_str_eq(r.log.ptr, mixed_expect, "split at %zu and %zu", i, j);
            sl_buf_release(&r.log);
        }
    }
}

Test(sse, single_bytes_give_the_same_events)
{
    size_t len = strlen(mixed);
    size_t cuts[sizeof(mixed)];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct rec r;
    cr_assert_eq(parse_split(&r, mixed, len, cuts, (int)len - 1), 0);
    cr_assert_str_eq(r.log.ptr, mixed_expect);
    sl_buf_release(&r.log);
}

Test(sse, crlf_split_between_chunks_is_one_line_end)
{
    /* "data: a\r" | "\n\r" | "\ndata: b\r\nd" | ...: a CRLF split across
     * chunks is one line end; counted as two it would be a blank line. */
    const char *in = "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n";
    size_t len = strlen(in);
    size_t cuts[] = {8, 10, 21};
    struct rec r;
    cr_assert_eq(parse_split(&r, in, len, cuts, 3), 0);
    cr_assert_str_eq(r.log.ptr, "message||a\nmessage||b~c\n");
    sl_buf_release(&r.log);
}

Test(sse, cr_alone_ends_lines)
{
    struct rec r;
    cr_assert_str_eq(parse_whole(&r, "data: x\rdata: y\r\rdata: z\r\r"),
                     "message||x~y\nmessage||z\n");
    sl_buf_release(&r.log);
}

Test(sse, lf_then_cr_is_two_line_ends)
{
    /* "\n\r" is LF followed by CR, not one CRLF: the CR is a blank line. */
    struct rec r;
    cr_assert_str_eq(parse_whole(&r, "data: x\n\rdata: y\n\n"), "message||x\nmessage||y\n");
    sl_buf_release(&r.log);
}

Test(sse, comments_only_dispatch_nothing)
{
    struct rec r;
    cr_assert_str_eq(parse_whole(&r, ": ping\n\n:\n\n: a long comment line\r\n\r\n"), "");
    cr_assert_eq(r.events, 0);
    sl_buf_release(&r.log);
}

Test(sse, long_comment_is_not_buffered)
{
    /* A comment far longer than the event limit streams through. */
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 64, rec_cb, &r);
    cr_assert_eq(sl_sse_parser_feed(&p, ":", 1), 0);
    char filler[1000];
    memset(filler, 'x', sizeof(filler));
    for (int i = 0; i < 10; i++)
        cr_assert_eq(sl_sse_parser_feed(&p, filler, sizeof(filler)), 0);
    cr_assert_eq(FEED(&p, "\ndata: ok\n\n"), 0);
    cr_assert_str_eq(r.log.ptr, "message||ok\n");
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

Test(sse, id_persists_and_empty_id_resets)
{
    struct rec r;
    cr_assert_str_eq(parse_whole(&r, "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"),
                     "message|1|a\nmessage|1|b\nmessage||c\n");
    sl_buf_release(&r.log);
}

Test(sse, id_with_nul_is_ignored)
{
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 0, rec_cb, &r);
    const char in[] = "id: 5\n\nid: a\0b\ndata: x\n\n";
    cr_assert_eq(sl_sse_parser_feed(&p, in, sizeof(in) - 1), 0);
    cr_assert_str_eq(r.log.ptr, "message|5|x\n");
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

Test(sse, retry_field_needs_digits_only)
{
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 0, rec_cb, &r);
    cr_assert_eq(p.retry_ms, -1);
    const char *in = "retry: 250\n\nretry: 12a\n\nretry:\n\n";
    cr_assert_eq(FEED(&p, in), 0);
    cr_assert_eq(p.retry_ms, 250);
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

Test(sse, bom_only_at_start_and_partial_bom_is_text)
{
    struct rec r;
    /* A BOM later in the stream is text, not skipped. */
    cr_assert_str_eq(parse_whole(&r, "\xEF\xBB\xBF"
                                     "data: a\n\n\xEF\xBB\xBF"
                                     "data: b\n\n"),
                     "message||a\n");
    sl_buf_release(&r.log);
    /* Bytes that start like a BOM but are not one stay in the field name:
     * "\xEF\xBB" "data" is an unknown field, so nothing is dispatched. */
    cr_assert_str_eq(parse_whole(&r, "\xEF\xBB"
                                     "data: a\n\ndata: b\n\n"),
                     "message||b\n");
    sl_buf_release(&r.log);
}

Test(sse, openai_stream_chunks_end_with_done)
{
    const char *in =
        "data: "
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        "data: "
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        "data: "
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n";
    size_t len = strlen(in);
    struct rec whole;
    parse_whole(&whole, in);
    cr_assert_eq(whole.events, 4);
    const char *last = strstr(whole.log.ptr, "message||[DONE]\n");
    cr_assert_not_null(last);
    cr_assert_eq(last[16], '\0', "[DONE] is the last event");
    cr_assert_not_null(strstr(whole.log.ptr, "\"content\":\"Hel\""));
    /* libcurl's way: each data line and each blank line in its own chunk. */
    size_t cuts[16];
    int ncuts = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (in[i] == '\n')
            cuts[ncuts++] = i + 1;
    struct rec r;
    cr_assert_eq(parse_split(&r, in, len, cuts, ncuts), 0);
    cr_assert_str_eq(r.log.ptr, whole.log.ptr);
    sl_buf_release(&r.log);
    for (size_t i = 0; i <= len; i++) {
        cr_assert_eq(parse_split(&r, in, len, &i, 1), 0);
        cr_assert_str_eq(r.log.ptr, whole.log.ptr, "split at %zu", i);
        sl_buf_release(&r.log);
    }
    sl_buf_release(&whole.log);
}

Test(sse, oversize_event_is_an_error_and_sticks)
{
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 32, rec_cb, &r);
    cr_assert_eq(FEED(&p, "data: 0123456789\n\n"), 0);
    cr_assert_eq(r.events, 1);
    /* Many short data lines: each fits, the event does not. */
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = FEED(&p, "data: 0123456789\n");
    cr_assert_eq(rc, UV_E2BIG);
    cr_assert_eq(sl_sse_parser_feed(&p, "\n", 1), UV_E2BIG, "the error is sticky");
    cr_assert_eq(r.events, 1, "the oversize event is never dispatched");
    sl_sse_parser_reset(&p);
    cr_assert_eq(FEED(&p, "data: again\n\n"), 0);
    cr_assert_eq(r.events, 2);
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

Test(sse, oversize_partial_line_is_an_error)
{
    /* One line that never ends, fed in small pieces. */
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 100, rec_cb, &r);
    int rc = sl_sse_parser_feed(&p, "data: ", 6);
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = sl_sse_parser_feed(&p, "xxxxxxxxxx", 10);
    cr_assert_eq(rc, UV_E2BIG);
    cr_assert_eq(r.events, 0);
    /* At the limit exactly is still fine. */
    sl_sse_parser_reset(&p);
    char line[100 + 2];
    memcpy(line, "data:", 5);
    memset(line + 5, 'y', 95);
    memcpy(line + 100, "\n\n", 2);
    cr_assert_eq(sl_sse_parser_feed(&p, line, 50), 0); /* 50 bytes buffered */
    cr_assert_eq(sl_sse_parser_feed(&p, line + 50, 52), 0);
    cr_assert_eq(r.events, 1);
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

Test(sse, finish_reports_a_cut_stream)
{
    struct sl_sse_parser p;
    struct rec r;
    rec_init(&r);
    sl_sse_parser_init(&p, 0, rec_cb, &r);
    cr_assert_eq(FEED(&p, "data: a\n\n: keepalive\n"), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 0, "a trailing comment is not a cut");
    cr_assert_eq(FEED(&p, "data: b\n"), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 1, "an event without its blank line was cut");
    cr_assert_eq(FEED(&p, "data: c"), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 1, "a partial line was cut");
    cr_assert_eq(r.events, 1, "unfinished events are discarded");
    sl_sse_parser_release(&p);
    sl_buf_release(&r.log);
}

/* Writer */

Test(sse, format_event_with_name_id_and_lines)
{
    struct sl_sse_event ev = {.event = "delta",
                              .event_len = 5,
                              .id = "42",
                              .id_len = 2,
                              .data = "a\nb\r\nc\rd",
                              .data_len = 8};
    char out[128];
    long n = sl_sse_format(out, sizeof(out), &ev);
    const char *want = "event: delta\nid: 42\ndata: a\ndata: b\ndata: c\ndata: d\n\n";
    cr_assert_eq(n, (long)strlen(want));
    cr_assert_str_eq(out, want);
}

Test(sse, format_reports_size_when_too_small)
{
    struct sl_sse_event ev = {.data = "hello", .data_len = 5};
    char out[8];
    long n = sl_sse_format(out, sizeof(out), &ev);
    cr_assert_eq(n, (long)strlen("data: hello\n\n"));
    cr_assert_eq(strlen(out), 7, "truncated and NUL-terminated");
    cr_assert_eq(sl_sse_format(NULL, 0, &ev), n);
}

Test(sse, format_rejects_line_breaks_in_name_or_id)
{
    struct sl_sse_event ev = {.event = "a\nb", .event_len = 3, .data = "x", .data_len = 1};
    cr_assert_eq(sl_sse_format(NULL, 0, &ev), UV_EINVAL);
    ev = (struct sl_sse_event){.id = "1\r", .id_len = 2};
    cr_assert_eq(sl_sse_format(NULL, 0, &ev), UV_EINVAL);
}

Test(sse, written_events_parse_back)
{
    static const char *datas[] = {
        "",       "plain",       "two\nlines",     "trailing\n", "\n\nleading",
        " space", "crlf\r\nend", "{\"json\":true}"};
    struct sl_buf buf;
    sl_buf_init(&buf, 4096);
    struct sl_buf want;
    sl_buf_init(&want, 4096);
    sl_buf_append(&want, "", 0);
    for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
        struct sl_sse_event ev = {.data = datas[i], .data_len = strlen(datas[i])};
        if (i % 2) {
            ev.event = "tick";
            ev.event_len = 4;
        }
        cr_assert_eq(sl_sse_append(&buf, &ev), 0);
        char line[64];
        /* what the parser must give back: CRLF inside data becomes LF */
        snprintf(line, sizeof(line), "%s||", i % 2 ? "tick" : "message");
        sl_buf_append(&want, line, strlen(line));
        for (const char *s = datas[i]; *s; s++) {
            if (*s == '\r')
                continue;
            sl_buf_append(&want, *s == '\n' ? "~" : s, 1);
        }
        sl_buf_append(&want, "\n", 1);
    }
    cr_assert_eq(sl_sse_append_comment(&buf, "keep-alive"), 0);
    cr_assert_eq(sl_sse_append_done(&buf), 0);
    sl_buf_append(&want, "message||[DONE]\n", 16);
    struct rec r;
    cr_assert_eq(parse_split(&r, buf.ptr, buf.len, NULL, 0), 0);
    cr_assert_str_eq(r.log.ptr, want.ptr);
    sl_buf_release(&r.log);
    sl_buf_release(&buf);
    sl_buf_release(&want);
}

Test(sse, append_is_bounded_and_atomic)
{
    struct sl_buf buf;
    sl_buf_init(&buf, 20);
    struct sl_sse_event ev = {.data = "0123456789", .data_len = 10};
    cr_assert_eq(sl_sse_append(&buf, &ev), 0); /* 18 bytes */
    cr_assert_eq(buf.len, 18);
    cr_assert_eq(sl_sse_append(&buf, &ev), UV_ENOBUFS);
    cr_assert_eq(buf.len, 18, "a failed append leaves the buffer unchanged");
    cr_assert_str_eq(buf.ptr, "data: 0123456789\n\n");
    cr_assert_eq(sl_sse_append_done(&buf), UV_ENOBUFS);
    sl_buf_reset(&buf);
    cr_assert_eq(sl_sse_append_done(&buf), 0);
    cr_assert_str_eq(buf.ptr, SL_SSE_DONE);
    sl_buf_release(&buf);
}

/* The boundary is what a relay may forward: the bytes up to the end of the
 * last blank line of the piece just fed (CRLF's LF included when it is in
 * the piece), or 0 when the piece ended no event. */
static void boundary_cb(void *arg, const struct sl_sse_event *ev)
{
    struct sl_sse_parser *p = arg;
    (void)ev;
    cr_assert_gt(p->boundary, 0, "the event's end is known in its callback");
}

Test(sse, boundary_marks_the_end_of_the_last_whole_event)
{
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 0, boundary_cb, &p);
    p.arg = &p;
    cr_assert_eq(FEED(&p, "data: a\n\ndata: b"), 0);
    cr_assert_eq(p.boundary, 9);
    cr_assert_eq(FEED(&p, "cd"), 0);
    cr_assert_eq(p.boundary, 0, "no event ended in this piece");
    cr_assert_eq(FEED(&p, "\r\n\r\n: ping\r\n\r\nda"), 0);
    cr_assert_eq(p.boundary, 14, "after the comment's blank line, its LF included");
    cr_assert_eq(FEED(&p, "ta: x\n\r"), 0);
    cr_assert_eq(p.boundary, 7, "a split CRLF: up to the CR");
    sl_sse_parser_release(&p);
}
