#include "http/sse.h"

#include <string.h>
#include <uv.h>

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

void sl_sse_parser_init(struct sl_sse_parser *p, size_t max_event, sl_sse_event_cb cb, void *arg)
{
    *p = (struct sl_sse_parser){.cb = cb, .arg = arg, .retry_ms = -1};
    p->max_event = max_event ? max_event : SL_SSE_DEFAULT_MAX_EVENT;
    sl_buf_init(&p->line, p->max_event);
    sl_buf_init(&p->data, p->max_event);
    sl_buf_init(&p->event, p->max_event);
    sl_buf_init(&p->id, p->max_event);
}

void sl_sse_parser_release(struct sl_sse_parser *p)
{
    sl_buf_release(&p->line);
    sl_buf_release(&p->data);
    sl_buf_release(&p->event);
    sl_buf_release(&p->id);
}

void sl_sse_parser_reset(struct sl_sse_parser *p)
{
    sl_buf_reset(&p->line);
    sl_buf_reset(&p->data);
    sl_buf_reset(&p->event);
    sl_buf_reset(&p->id);
    p->retry_ms = -1;
    p->events = 0;
    p->error = 0;
    p->bom_seen = 0;
    p->started = p->has_data = p->pending = p->skip_lf = p->in_comment = 0;
}

/* The limit covers everything one event makes us hold: the partial line
 * and the event's data and name (the id has its own buffer, same bound). */
static int fits(const struct sl_sse_parser *p, size_t extra)
{
    size_t held = p->line.len + p->data.len + p->event.len;
    return held <= p->max_event && extra <= p->max_event - held;
}

/* Appends to one of the event buffers, enforcing the event bound. */
static int put(struct sl_sse_parser *p, struct sl_buf *buf, const char *s, size_t n)
{
    if (!fits(p, n))
        return UV_E2BIG;
    int rc = sl_buf_append(buf, s, n);
    return rc == UV_ENOBUFS ? UV_E2BIG : rc;
}

static void dispatch(struct sl_sse_parser *p)
{
    if (p->has_data) {
        struct sl_sse_event ev = {
            .event = p->event.len ? p->event.ptr : "message",
            .event_len = p->event.len ? p->event.len : 7,
            .data = p->data.ptr ? p->data.ptr : "",
            .data_len = p->data.len,
            .id = p->id.ptr ? p->id.ptr : "",
            .id_len = p->id.len,
        };
        p->events++;
        p->cb(p->arg, &ev);
    }
    /* The spec resets name and data even when nothing was dispatched; the
     * last event id deliberately survives. */
    sl_buf_reset(&p->data);
    sl_buf_reset(&p->event);
    p->has_data = p->pending = 0;
}

static int field_is(const char *f, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(f, name, n) == 0;
}

/* One complete line without its terminator (not NUL-terminated). Comment
 * lines never get here: they are skipped while scanning. */
static int process_line(struct sl_sse_parser *p, const char *line, size_t n)
{
    if (n == 0) {
        dispatch(p);
        return 0;
    }
    p->pending = 1;
    const char *colon = memchr(line, ':', n);
    size_t flen = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t vlen = n - (size_t)(value - line);
    if (vlen && *value == ' ') {
        value++;
        vlen--;
    }
    int rc = 0;
    if (field_is(line, flen, "data")) {
        if (p->has_data && (rc = put(p, &p->data, "\n", 1)) != 0)
            return rc;
        rc = put(p, &p->data, value, vlen);
        p->has_data = 1;
    } else if (field_is(line, flen, "event")) {
        sl_buf_reset(&p->event);
        rc = put(p, &p->event, value, vlen);
    } else if (field_is(line, flen, "id")) {
        if (memchr(value, '\0', vlen) == NULL) {
            sl_buf_reset(&p->id);
            rc = sl_buf_append(&p->id, value, vlen);
            rc = rc == UV_ENOBUFS ? UV_E2BIG : rc;
        }
    } else if (field_is(line, flen, "retry")) {
        long ms = 0;
        size_t i = 0;
        for (; i < vlen && value[i] >= '0' && value[i] <= '9'; i++)
            ms = ms < 100000000 ? ms * 10 + (value[i] - '0') : ms; /* saturate, no overflow */
        if (vlen && i == vlen)
            p->retry_ms = ms;
    }
    return rc; /* unknown fields are ignored, as the spec says */
}

/* The first line terminator (CR or LF) in [s, end), or NULL. */
static const char *find_eol(const char *s, const char *end)
{
    const char *lf = memchr(s, '\n', (size_t)(end - s));
    const char *cr = memchr(s, '\r', (size_t)((lf ? lf : end) - s));
    return cr ? cr : lf;
}

int sl_sse_parser_feed(struct sl_sse_parser *p, const char *data, size_t len)
{
    const char *s = data, *end = data + len;
    int rc = p->error;
    p->boundary = 0;
    if (rc != 0)
        goto out;
    /* A BOM may itself arrive split; bytes that only looked like one are
     * ordinary text. */
    while (!p->started && s < end) {
        if ((unsigned char)*s == bom[p->bom_seen]) {
            s++;
            p->started = ++p->bom_seen == sizeof(bom);
            continue;
        }
        p->started = 1;
        if (p->bom_seen && (rc = put(p, &p->line, (const char *)bom, p->bom_seen)) != 0)
            goto out;
    }
    while (s < end) {
        if (p->skip_lf) { /* the LF of a CRLF split across chunks */
            p->skip_lf = 0;
            if (*s == '\n') {
                s++;
                continue;
            }
        }
        if (p->line.len == 0 && !p->in_comment && *s == ':')
            p->in_comment = 1; /* skipped as it streams: never buffered */
        const char *eol = find_eol(s, end);
        if (eol == NULL) {
            if (!p->in_comment)
                rc = put(p, &p->line, s, (size_t)(end - s));
            goto out;
        }
        if (p->in_comment) {
            p->in_comment = 0;
        } else if (p->line.len == 0) { /* whole line in this chunk: no copy */
            if (eol == s) /* a blank line: the event ends after it (and its CRLF's LF) */
                p->boundary =
                    (size_t)(eol - data) + 1 + (*eol == '\r' && eol + 1 < end && eol[1] == '\n');
            rc = process_line(p, s, (size_t)(eol - s));
        } else {
            rc = put(p, &p->line, s, (size_t)(eol - s));
            if (rc == 0) {
                size_t n = p->line.len;
                p->line.len = 0; /* before processing, so `fits` does not count it twice */
                rc = process_line(p, p->line.ptr, n);
                sl_buf_reset(&p->line);
            }
        }
        if (rc != 0)
            goto out;
        p->skip_lf = *eol == '\r';
        s = eol + 1;
    }
out:
    if (rc != 0)
        p->error = rc;
    return rc;
}

int sl_sse_parser_finish(struct sl_sse_parser *p)
{
    int cut = p->line.len > 0 || p->pending;
    sl_buf_reset(&p->line);
    sl_buf_reset(&p->data);
    sl_buf_reset(&p->event);
    p->has_data = p->pending = p->in_comment = p->skip_lf = 0;
    return cut;
}

/* Writer: copies what fits and counts everything, like snprintf. */
struct out {
    char *dst;
    size_t cap;
    size_t len;
};

static void emit(struct out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->dst + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static int has_break(const char *s, size_t n)
{
    return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL;
}

long sl_sse_format(char *dst, size_t cap, const struct sl_sse_event *ev)
{
    struct out o = {dst, cap ? cap - 1 : 0, 0};
    if ((ev->event && has_break(ev->event, ev->event_len)) ||
        (ev->id && has_break(ev->id, ev->id_len)))
        return UV_EINVAL;
    if (ev->event && ev->event_len) {
        emit(&o, "event: ", 7);
        emit(&o, ev->event, ev->event_len);
        emit(&o, "\n", 1);
    }
    if (ev->id) {
        emit(&o, "id: ", 4);
        emit(&o, ev->id, ev->id_len);
        emit(&o, "\n", 1);
    }
    /* One data line per line of data, whatever the line ending, so that a
     * parser joins them back with '\n'. Always at least one: an event
     * without data is never dispatched. */
    const char *s = ev->data ? ev->data : "", *end = s + (ev->data ? ev->data_len : 0);
    for (;;) {
        const char *eol = find_eol(s, end);
        const char *stop = eol ? eol : end;
        if (stop > s) {
            emit(&o, "data: ", 6);
            emit(&o, s, (size_t)(stop - s));
        } else {
            emit(&o, "data:", 5);
        }
        emit(&o, "\n", 1);
        if (eol == NULL)
            break;
        s = eol + 1;
        if (*eol == '\r' && s < end && *s == '\n')
            s++;
    }
    emit(&o, "\n", 1);
    if (cap)
        dst[o.len < o.cap ? o.len : o.cap] = '\0';
    return (long)o.len;
}

int sl_sse_append(struct sl_buf *buf, const struct sl_sse_event *ev)
{
    long n = sl_sse_format(NULL, 0, ev);
    if (n < 0)
        return (int)n;
    int rc = sl_buf_reserve(buf, (size_t)n);
    if (rc != 0)
        return rc;
    sl_sse_format(buf->ptr + buf->len, (size_t)n + 1, ev);
    sl_buf_commit(buf, (size_t)n);
    return 0;
}

int sl_sse_append_done(struct sl_buf *buf)
{
    return sl_buf_append(buf, SL_SSE_DONE, SL_SSE_DONE_LEN);
}

int sl_sse_append_comment(struct sl_buf *buf, const char *text)
{
    size_t n = strlen(text);
    if (has_break(text, n))
        return UV_EINVAL;
    int rc = sl_buf_reserve(buf, n + 3);
    if (rc != 0)
        return rc;
    sl_buf_append(buf, ": ", 2);
    sl_buf_append(buf, text, n);
    sl_buf_append(buf, "\n", 1);
    return 0;
}
