#include "http/parser.h"

#include <string.h>
#include <strings.h>

int sl_http_is_tchar(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return 1;
    if (c >= 'A' && c <= 'Z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Finds the end of the current line: returns the index of '\n' or -1. */
static long line_end(const char *buf, size_t from, size_t len)
{
    const char *nl = memchr(buf + from, '\n', len - from);
    return nl ? (long)(nl - buf) : -1;
}

static struct sl_str trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct sl_str){p, n};
}

/* RFC 9110 field-value bytes: visible ASCII, SP, HTAB, obs-text. NUL, a bare
 * CR and the other controls are refused (RFC 9110 5.5: a recipient must
 * reject or replace CR, LF and NUL; replacing would hide what was sent). */
static int valid_field_value(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int parse_request_line(const char *p, size_t n, struct sl_http_head *h)
{
    if (n && p[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && sl_http_is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return SL_HTTP_E_BAD;
    h->method = (struct sl_str){p, i};
    size_t t = ++i;
    while (i < n && p[i] != ' ') {
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return SL_HTTP_E_BAD;
        i++;
    }
    if (i == t || i >= n)
        return SL_HTTP_E_BAD;
    h->target = (struct sl_str){p + t, i - t};
    i++;
    if (!valid_field_value(p + i, n - i) || memchr(p + i, '\t', n - i))
        return SL_HTTP_E_BAD; /* a bare CR, NUL or other control */
    if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0)
        return n - i >= 5 && memcmp(p + i, "HTTP/", 5) == 0 ? SL_HTTP_E_VERSION : SL_HTTP_E_BAD;
    char minor = p[i + 7];
    if (minor != '0' && minor != '1')
        return SL_HTTP_E_VERSION;
    h->minor_version = minor - '0';
    const char *q = memchr(h->target.ptr, '?', h->target.len);
    if (q) {
        h->path = (struct sl_str){h->target.ptr, (size_t)(q - h->target.ptr)};
        h->query = (struct sl_str){q + 1, h->target.len - h->path.len - 1};
    } else {
        h->path = h->target;
        h->query = (struct sl_str){q, 0};
    }
    return 0;
}

static int parse_content_length(struct sl_str v, int64_t *out)
{
    if (v.len == 0 || v.len > 15)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return 0;
}

/* Does a comma-separated header value contain this token? */
static int has_token(struct sl_str v, const char *token)
{
    size_t tl = strlen(token);
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        struct sl_str item = trim(p, (size_t)(stop - p));
        if (item.len == tl && strncasecmp(item.ptr, token, tl) == 0)
            return 1;
        p = stop + 1;
    }
    return 0;
}

static int interpret_headers(struct sl_http_head *h)
{
    int seen_length = 0, seen_te = 0;
    h->content_length = -1;
    h->keep_alive = h->minor_version >= 1;
    for (size_t i = 0; i < h->nheaders; i++) {
        struct sl_str name = h->headers[i].name, value = h->headers[i].value;
        if (sl_str_ieq(name, "content-length")) {
            int64_t n;
            if (parse_content_length(value, &n) != 0 || (seen_length && n != h->content_length))
                return SL_HTTP_E_BAD;
            h->content_length = n;
            seen_length = 1;
        } else if (sl_str_ieq(name, "transfer-encoding")) {
            /* only "chunked" alone is understood */
            if (!sl_str_ieq(value, "chunked"))
                return SL_HTTP_E_TRANSFER_CODING;
            h->chunked = 1;
            seen_te = 1;
        } else if (sl_str_ieq(name, "connection")) {
            if (has_token(value, "close"))
                h->keep_alive = 0;
            else if (has_token(value, "keep-alive"))
                h->keep_alive = 1;
        } else if (sl_str_ieq(name, "expect")) {
            /* an HTTP/1.0 request's expectation is ignored (RFC 9110 10.1.1) */
            if (sl_str_ieq(value, "100-continue") && h->minor_version >= 1)
                h->expect_continue = 1;
        }
    }
    /* Both framings at once is how request smuggling starts: refuse. */
    if (seen_length && seen_te)
        return SL_HTTP_E_BAD;
    return 0;
}

int sl_http_parse_request(const char *buf, size_t len, struct sl_http_head *h)
{
    size_t pos = 0;
    /* Tolerate empty lines before a request (RFC 9112 2.2), CRLF or LF;
     * a CR not followed by LF is a bare CR and bad. */
    while (pos < len && (buf[pos] == '\n' || buf[pos] == '\r')) {
        if (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] != '\n')
            return SL_HTTP_E_BAD;
        pos++;
    }
    long eol = line_end(buf, pos, len);
    if (eol < 0)
        return SL_HTTP_INCOMPLETE;
    memset(h, 0, sizeof(*h));
    int rc = parse_request_line(buf + pos, (size_t)eol - pos, h);
    if (rc != 0)
        return rc;
    pos = (size_t)eol + 1;
    for (;;) {
        eol = line_end(buf, pos, len);
        if (eol < 0)
            return SL_HTTP_INCOMPLETE;
        size_t n = (size_t)eol - pos;
        const char *p = buf + pos;
        if (n && p[n - 1] == '\r')
            n--;
        pos = (size_t)eol + 1;
        if (n == 0)
            break;
        if (*p == ' ' || *p == '\t')
            return SL_HTTP_E_BAD; /* obsolete line folding */
        const char *colon = memchr(p, ':', n);
        if (colon == NULL || colon == p)
            return SL_HTTP_E_BAD;
        for (const char *c = p; c < colon; c++)
            if (!sl_http_is_tchar((unsigned char)*c))
                return SL_HTTP_E_BAD;
        if (!valid_field_value(colon + 1, n - (size_t)(colon - p) - 1))
            return SL_HTTP_E_BAD;
        if (h->nheaders == SL_HTTP_MAX_HEADERS)
            return SL_HTTP_E_TOO_MANY_HEADERS;
        struct sl_http_header *hd = &h->headers[h->nheaders++];
        hd->name = (struct sl_str){p, (size_t)(colon - p)};
        hd->value = trim(colon + 1, n - (size_t)(colon - p) - 1);
    }
    rc = interpret_headers(h);
    return rc != 0 ? rc : (int)pos;
}

const struct sl_str *sl_http_head_get(const struct sl_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (sl_str_ieq(h->headers[i].name, name))
            return &h->headers[i].value;
    return NULL;
}

/* ---- chunked ------------------------------------------------------------- */

/* CH_SIZE_FIRST is 0, so a zeroed decoder starts there: a size line must
 * begin with a hex digit (an empty one is not the last chunk). */
enum {
    CH_SIZE_FIRST,
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE
};

static int is_ctl(char c)
{
    return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The size line ended: data follows, or (size 0) the trailer. */
static int after_size(struct sl_chunked *d, size_t limit)
{
    if (d->remaining == 0) {
        d->state = CH_TRAILER;
        return SL_CHUNKED_MORE;
    }
    /* decoded <= limit holds (every chunk was checked), so this cannot wrap
     * the way decoded + remaining would for a size near 2^64 */
    if (d->decoded > limit || d->remaining > limit - d->decoded)
        return SL_CHUNKED_TOO_BIG;
    d->state = CH_DATA;
    return SL_CHUNKED_MORE;
}

int sl_chunked_decode(struct sl_chunked *d, char *body, size_t len, size_t limit)
{
    if (d->state == CH_DONE)
        return SL_CHUNKED_DONE;
    while (d->raw < len) {
        int rc;
        char c = body[d->raw];
        switch (d->state) {
        case CH_SIZE_FIRST: {
            int v = hexval(c);
            if (v < 0)
                return SL_CHUNKED_BAD;
            d->remaining = (uint64_t)v;
            d->raw++;
            d->state = CH_SIZE;
            break;
        }
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (d->remaining > (UINT64_MAX >> 4))
                    return SL_CHUNKED_TOO_BIG; /* over 2^64: over any limit */
                d->remaining = d->remaining * 16 + (uint64_t)v;
                d->raw++;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
                d->raw++;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
                d->raw++;
            } else if (c == '\n') {
                d->raw++;
                if ((rc = after_size(d, limit)) != SL_CHUNKED_MORE)
                    return rc;
            } else {
                return SL_CHUNKED_BAD;
            }
            break;
        }
        case CH_EXT:
            if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == '\n') {
                d->raw++;
                if ((rc = after_size(d, limit)) != SL_CHUNKED_MORE)
                    return rc;
                break;
            } else if (is_ctl(c)) {
                return SL_CHUNKED_BAD;
            }
            d->raw++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return SL_CHUNKED_BAD;
            d->raw++;
            if ((rc = after_size(d, limit)) != SL_CHUNKED_MORE)
                return rc;
            break;
        case CH_DATA: {
            size_t avail = len - d->raw;
            size_t take = d->remaining < avail ? (size_t)d->remaining : avail;
            memmove(body + d->decoded, body + d->raw, take);
            d->decoded += take;
            d->raw += take;
            d->remaining -= take;
            if (d->remaining == 0)
                d->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            d->raw++;
            if (c == '\n')
                d->state = CH_SIZE_FIRST;
            else if (c == '\r')
                d->state = CH_DATA_LF;
            else
                return SL_CHUNKED_BAD;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return SL_CHUNKED_BAD;
            d->raw++;
            d->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER: /* at the start of a trailer line */
            d->raw++;
            if (c == '\n') {
                d->state = CH_DONE;
                return SL_CHUNKED_DONE;
            }
            if (c == '\r')
                d->state = CH_END_LF;
            else if (is_ctl(c))
                return SL_CHUNKED_BAD;
            else
                d->state = CH_TRAILER_LINE;
            break;
        case CH_TRAILER_LINE:
            d->raw++;
            if (c == '\n')
                d->state = CH_TRAILER;
            else if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (is_ctl(c))
                return SL_CHUNKED_BAD;
            break;
        case CH_TRAILER_LF:
        case CH_END_LF:
            if (c != '\n')
                return SL_CHUNKED_BAD;
            d->raw++;
            if (d->state == CH_END_LF) {
                d->state = CH_DONE;
                return SL_CHUNKED_DONE;
            }
            d->state = CH_TRAILER;
            break;
        case CH_DONE:
            return SL_CHUNKED_DONE;
        }
    }
    return SL_CHUNKED_MORE;
}
