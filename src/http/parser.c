#include "http/parser.h"

#include <string.h>
#include <strings.h>

/* Finds the end of the current line: returns the index of '\n' or -1. */
static long line_end(const char *buf, size_t from, size_t len)
{
    const char *nl = memchr(buf + from, '\n', len - from);
    return nl ? (long)(nl - buf) : -1;
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

/* The path and the query of the target. */
static void split_target(struct sl_http_head *h)
{
    const char *q = memchr(h->target.ptr, '?', h->target.len);
    if (q) {
        h->path = (struct sl_str){h->target.ptr, (size_t)(q - h->target.ptr)};
        h->query = (struct sl_str){q + 1, h->target.len - h->path.len - 1};
    } else {
        h->path = h->target;
        h->query = (struct sl_str){q, 0};
    }
}

/* `checked`: an earlier call found this line good; it is only split. */
static int parse_request_line(const char *p, size_t n, struct sl_http_head *h, int checked)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (checked) {
        const char *sp = memchr(p, ' ', n);
        const char *sp2 = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p));
        h->method = (struct sl_str){p, (size_t)(sp - p)};
        h->target = (struct sl_str){sp + 1, (size_t)(sp2 - sp - 1)};
        h->minor_version = p[n - 1] - '0';
        split_target(h);
        return 0;
    }
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
    split_target(h);
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
            if (sl_http_list_has(value, "close"))
                h->keep_alive = 0;
            else if (sl_http_list_has(value, "keep-alive"))
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
    size_t checked = 0;
    return sl_http_parse_request_more(buf, len, h, &checked);
}

int sl_http_parse_request_more(const char *buf, size_t len, struct sl_http_head *h, size_t *checked)
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
    int rc = parse_request_line(buf + pos, (size_t)eol - pos, h, (size_t)eol < *checked);
    if (rc != 0)
        return rc;
    pos = (size_t)eol + 1;
    for (;;) {
        eol = line_end(buf, pos, len);
        if (eol < 0) {
            *checked = pos; /* the lines before are good: not checked again */
            return SL_HTTP_INCOMPLETE;
        }
        size_t n = (size_t)eol - pos;
        const char *p = buf + pos;
        if (n && p[n - 1] == '\r')
            n--;
        pos = (size_t)eol + 1;
        if (n == 0)
            break;
        const char *colon = memchr(p, ':', n);
        if (pos > *checked) {
            if (*p == ' ' || *p == '\t')
                return SL_HTTP_E_BAD; /* obsolete line folding */
            if (colon == NULL || colon == p)
                return SL_HTTP_E_BAD;
            for (const char *c = p; c < colon; c++)
                if (!sl_http_is_tchar((unsigned char)*c))
                    return SL_HTTP_E_BAD;
            if (!valid_field_value(colon + 1, n - (size_t)(colon - p) - 1))
                return SL_HTTP_E_BAD;
        }
        if (h->nheaders == SL_HTTP_MAX_HEADERS)
            return SL_HTTP_E_TOO_MANY_HEADERS;
        struct sl_http_header *hd = &h->headers[h->nheaders++];
        hd->name = (struct sl_str){p, (size_t)(colon - p)};
        hd->value = sl_http_trim(colon + 1, n - (size_t)(colon - p) - 1);
    }
    rc = interpret_headers(h);
    return rc != 0 ? rc : (int)pos;
}

const struct sl_str *sl_http_head_get(const struct sl_http_head *h, const char *name)
{
    return sl_http_header_get(h->headers, h->nheaders, name);
}
