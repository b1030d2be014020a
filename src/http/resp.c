#include "http/resp.h"

#include <string.h>

#include "http/chunked.h"
#include "http/header.h"

enum {
    S_STATUS,
    S_HEADERS,
    S_BODY_LEN,
    S_BODY_EOF,
    S_CHUNKED,
    S_DONE,
};

void sl_resp_init(struct sl_resp *p, int head_only, int sse)
{
    /* Everything but the line buffers, which are only read after a write;
     * relay mode is off until sl_resp_relay. */
    memset(p, 0, offsetof(struct sl_resp, sse_prefix));
    p->state = S_STATUS;
    p->head_only = (uint8_t)head_only;
    p->sse = (uint8_t)sse;
}

void sl_resp_relay(struct sl_resp *p, sl_resp_body_cb on_body, void *arg)
{
    p->on_body = on_body;
    p->arg = arg;
}

static int fail(struct sl_resp *p, const char *why)
{
    p->error = why;
    return SL_RESP_ERROR;
}

/* Takes the next line from d[*pos..len). Returns 1 with the line (CR LF
 * stripped) in *line / *n, 0 when the data ended first (the start of the
 * line is kept), -1 when the line exceeds SL_RESP_HEAD_MAX. */
static int next_line(struct sl_resp *p, const char *d, size_t len, size_t *pos, const char **line,
                     size_t *n)
{
    const char *start = d + *pos;
    size_t avail = len - *pos;
    const char *nl = memchr(start, '\n', avail);
    size_t take = nl ? (size_t)(nl - start) : avail;
    p->line_total += (uint32_t)(take < SL_RESP_HEAD_MAX ? take : SL_RESP_HEAD_MAX);
    if (p->line_total >= SL_RESP_HEAD_MAX)
        return -1;
    if (nl && p->line_len == 0) {
        /* A whole line longer than the buffer is read as a split one
         * would be: its first SL_RESP_LINE_MAX bytes, marked truncated, so
         * that the result never depends on where the reads split. */
        *line = start;
        *n = take < sizeof(p->line) ? take : sizeof(p->line);
        if (take > sizeof(p->line))
            p->trunc = 1;
    } else {
        size_t room = sizeof(p->line) - p->line_len;
        size_t c = take < room ? take : room;
        memcpy(p->line + p->line_len, start, c);
        p->line_len = (uint16_t)(p->line_len + c);
        if (c < take)
            p->trunc = 1;
        if (!nl) {
            *pos = len;
            return 0;
        }
        *line = p->line;
        *n = p->line_len;
    }
    *pos += take + 1;
    p->over = p->trunc;
    p->trunc = 0;
    p->line_len = 0;
    p->line_total = 0;
    if (*n > 0 && (*line)[*n - 1] == '\r')
        (*n)--;
    return 1;
}

static int parse_status(struct sl_resp *p, const char *s, size_t n)
{
    /* HTTP/1.x SSS[ reason] */
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
        return fail(p, "malformed status line");
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, "malformed status code");
        code = code * 10 + (s[i] - '0');
    }
    if (n > 12 && s[12] != ' ')
        return fail(p, "malformed status code");
    if (code < 100)
        return fail(p, "malformed status code");
    p->status = code;
    p->keep_alive = s[7] != '0';
    return SL_RESP_MORE;
}

static int parse_header(struct sl_resp *p, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || colon == s)
        return fail(p, "malformed header line");
    size_t name_len = (size_t)(colon - s);
    struct sl_str name = {s, name_len}, value = sl_http_trim(colon + 1, n - name_len - 1);
    const char *v = value.ptr;
    size_t vn = value.len;
    if (sl_str_ieq(name, "content-length")) {
        if (vn == 0 || vn > 18 || p->over)
            return fail(p, "bad Content-Length");
        uint64_t x = 0;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9')
                return fail(p, "bad Content-Length");
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (p->has_length && p->remaining != x)
            return fail(p, "conflicting Content-Length");
        p->has_length = 1;
        p->remaining = x;
    } else if (sl_str_ieq(name, "transfer-encoding")) {
        if (p->over) /* the framing depends on its last coding: unknown */
            return fail(p, "Transfer-Encoding too long");
        if (sl_http_list_has(value, "chunked"))
            p->chunked = 1;
    } else if (sl_str_ieq(name, "connection")) {
        if (p->over) /* unread tokens might say close: closing is always safe */
            p->keep_alive = 0;
        else if (sl_http_list_has(value, "close"))
            p->keep_alive = 0;
        else if (sl_http_list_has(value, "keep-alive"))
            p->keep_alive = 1;
    }
    return SL_RESP_MORE;
}

static int end_of_headers(struct sl_resp *p)
{
    if (p->status < 200 && p->status != 101) {
        /* 100 Continue and friends: the real response follows. */
        int keep = p->keep_alive;
        sl_resp_body_cb on_body = p->on_body;
        void *arg = p->arg;
        sl_resp_init(p, p->head_only, p->sse);
        sl_resp_relay(p, on_body, arg);
        p->keep_alive = keep;
        return SL_RESP_MORE;
    }
    if (p->status == 101)
        return fail(p, "unexpected protocol switch (101)");
    if (p->head_only || p->status == 204 || p->status == 304) {
        p->state = S_DONE;
        return SL_RESP_DONE;
    }
    if (p->chunked) {
        p->state = S_CHUNKED;
    } else if (p->has_length) {
        p->state = p->remaining ? S_BODY_LEN : S_DONE;
        if (p->state == S_DONE)
            return SL_RESP_DONE;
    } else {
        p->state = S_BODY_EOF;
        p->keep_alive = 0;
    }
    return p->on_body ? SL_RESP_HEAD : SL_RESP_MORE;
}

/* ---- SSE: `data:` lines of the body ------------------------------------- */

static void sse_line_end(struct sl_resp *p)
{
    uint32_t n = p->sse_len;
    if (n > 0 && p->sse_last == '\r')
        n--;
    const char *s = p->sse_prefix;
    if (n == 0) {
        p->sse_has_data = 0;
    } else if (n >= 5 && memcmp(s, "data:", 5) == 0 && !p->sse_has_data) {
        uint32_t off = (n > 5 && s[5] == ' ') ? 6 : 5;
        p->sse_has_data = 1;
        if (n - off == 6 && memcmp(s + off, "[DONE]", 6) == 0)
            p->done_events++;
        else
            p->events++;
    }
    p->sse_len = 0;
}

static void sse_scan(struct sl_resp *p, const char *d, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) : n;
        if (take > 0) {
            if (p->sse_len < sizeof(p->sse_prefix)) {
                size_t room = sizeof(p->sse_prefix) - p->sse_len;
                memcpy(p->sse_prefix + p->sse_len, d, take < room ? take : room);
            }
            p->sse_len =
                p->sse_len + take > UINT32_MAX / 2 ? UINT32_MAX / 2 : p->sse_len + (uint32_t)take;
            p->sse_last = (uint8_t)d[take - 1];
        }
        if (nl == NULL)
            return;
        sse_line_end(p);
        d += take + 1;
        n -= take + 1;
    }
}

/* Returns 0 when the bytes were taken, 1 when on_body refused them. */
static int body(struct sl_resp *p, const char *d, size_t n)
{
    if (p->on_body && p->on_body(p->arg, d, n) != 0)
        return 1;
    p->body_bytes += n;
    if (p->sse)
        sse_scan(p, d, n);
    return 0;
}

/* ---- the state machine ---------------------------------------------------- */

/* Chunked body bytes: the framing goes to the decoder, the data to body().
 * The framing between two runs of data (a size line, the trailer) is held
 * to the head's bound, as a line of the head is. */
static int chunked(struct sl_resp *p, const char *d, size_t len, size_t *pos)
{
    size_t used, avail;
    int rc = sl_chunked_step(&p->chunk, d + *pos, len - *pos, &used, &avail, SIZE_MAX);
    *pos += used;
    p->frame_bytes += (uint32_t)(used < SL_RESP_HEAD_MAX ? used : SL_RESP_HEAD_MAX);
    if (p->frame_bytes >= SL_RESP_HEAD_MAX)
        return fail(p, "chunk framing too long");
    switch (rc) {
    case SL_CHUNKED_DATA:
        if (body(p, d + *pos, avail))
            return SL_RESP_PAUSE;
        *pos += avail;
        sl_chunked_took(&p->chunk, avail);
        p->frame_bytes = 0;
        return SL_RESP_MORE;
    case SL_CHUNKED_MORE:
        return SL_RESP_MORE;
    case SL_CHUNKED_DONE:
        p->state = S_DONE;
        return SL_RESP_DONE;
    case SL_CHUNKED_TOO_BIG:
        return fail(p, "chunk size too large");
    default:
        return fail(p, "malformed chunked body");
    }
}

int sl_resp_feed(struct sl_resp *p, const char *d, size_t len, size_t *used)
{
    size_t pos = 0;
    const char *line;
    size_t n;
    int rc = SL_RESP_MORE, got;
    while (pos < len && rc == SL_RESP_MORE) {
        switch (p->state) {
        case S_STATUS:
        case S_HEADERS: {
            size_t before = pos;
            got = next_line(p, d, len, &pos, &line, &n);
            p->head_bytes += (uint32_t)(pos - before);
            if (p->head_bytes > SL_RESP_HEAD_MAX)
                got = -1;
            if (got < 0) {
                rc = fail(p, "header block too large");
                break;
            }
            if (got == 0)
                break;
            if (p->state == S_STATUS) {
                rc = parse_status(p, line, n);
                p->state = S_HEADERS;
            } else {
                rc = n == 0 ? end_of_headers(p) : parse_header(p, line, n);
            }
            break;
        }
        case S_CHUNKED:
            rc = chunked(p, d, len, &pos);
            break;
        case S_BODY_LEN: {
            size_t take = len - pos;
            if (take > p->remaining)
                take = (size_t)p->remaining;
            if (body(p, d + pos, take)) {
                rc = SL_RESP_PAUSE;
                break;
            }
            pos += take;
            p->remaining -= take;
            if (p->remaining == 0) {
                p->state = S_DONE;
                rc = SL_RESP_DONE;
            }
            break;
        }
        case S_BODY_EOF:
            if (body(p, d + pos, len - pos)) {
                rc = SL_RESP_PAUSE;
                break;
            }
            pos = len;
            break;
        default:
            rc = fail(p, "data after the end of the response");
            break;
        }
    }
    *used = pos;
    return rc;
}

int sl_resp_eof(struct sl_resp *p)
{
    if (p->state == S_BODY_EOF) {
        p->state = S_DONE;
        return SL_RESP_DONE;
    }
    if (p->state == S_DONE)
        return SL_RESP_DONE;
    return fail(p, p->state == S_STATUS && p->line_len == 0 ? "connection closed before a response"
                                                            : "connection closed mid-response");
}
