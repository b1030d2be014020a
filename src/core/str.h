/* A string view: a pointer and a length, not NUL-terminated, owned by
 * whoever owns the bytes it points into. The one string view of the
 * program: parsed HTTP heads, JSON members, config values. */
#ifndef SL_STR_H
#define SL_STR_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct sl_str {
    const char *ptr;
    size_t len;
};

/* Equal to a NUL-terminated literal, byte for byte / ignoring ASCII case. */
static inline int sl_str_eq(struct sl_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static inline int sl_str_ieq(struct sl_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

/* The value of a hex digit, or -1: chunk sizes, JSON \u escapes, digests. */
static inline int sl_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
