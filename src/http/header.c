#include "http/header.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct sl_str *sl_http_header_get(const struct sl_http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (sl_str_ieq(h[i].name, name))
            return &h[i].value;
    return NULL;
}

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

int sl_http_is_token(struct sl_str s)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!sl_http_is_tchar((unsigned char)s.ptr[i]))
            return 0;
    return 1;
}

struct sl_str sl_http_trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct sl_str){p, n};
}

int sl_http_list_has(struct sl_str v, const char *token)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (sl_str_ieq(sl_http_trim(p, (size_t)(stop - p)), token))
            return 1;
        p = stop + 1;
    }
    return 0;
}

size_t sl_http_head_lines(const char *block, size_t len)
{
    size_t n = 1;
    if (len == 0)
        return n;
    for (const char *q = block; (q = memchr(q, '\n', (size_t)(block + len - q))) != NULL; q++)
        n++;
    return n;
}

size_t sl_http_split_head(char *block, size_t len, struct sl_http_header *out)
{
    size_t n = 0;
    char *p = block, *end = block + len;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *stop = eol ? eol : end;
        while (stop > p && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        char *colon = memchr(p, ':', (size_t)(stop - p));
        if (stop - p >= 5 && memcmp(p, "HTTP/", 5) == 0) {
            n = 0; /* a status line starts a block: an interim 1xx one, or the final */
        } else if (colon) {
            char *value = colon + 1;
            while (value < stop && (*value == ' ' || *value == '\t'))
                value++;
            out[n].name = (struct sl_str){p, (size_t)(colon - p)};
            out[n].value = (struct sl_str){value, (size_t)(stop - value)};
            n++;
            *colon = '\0';
        }
        if (stop < end)
            *stop = '\0';
        p = eol ? eol + 1 : end;
    }
    return n;
}

int sl_http_head_fields(char *block, size_t len,
                        void (*fn)(void *arg, const struct sl_http_header *fields, size_t n),
                        void *arg)
{
    size_t max = sl_http_head_lines(block, len);
    struct sl_http_header small[32], *f = small;
    if (max > sizeof(small) / sizeof(small[0]) && (f = malloc(max * sizeof(*f))) == NULL)
        return -1;
    size_t n = len ? sl_http_split_head(block, len, f) : 0;
    fn(arg, n ? f : NULL, n); /* NULL for none: gcc -O3 warns */
    if (f != small)
        free(f);
    return 0;
}
