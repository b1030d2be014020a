/* A string view: a pointer and a length, not NUL-terminated, owned by
 * whoever owns the bytes it points into. The one string view of the
 * program: parsed HTTP heads, JSON members, config values. */
#ifndef SL_STR_H
#define SL_STR_H

#include <stddef.h>
#include <stdint.h>
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

/* Without the printf family (a parser of its format on every call): on
 * the loop's per-request path, ids and lengths are written by these. */

/* v in decimal into dst (room for 20), not NUL-terminated; returns the
 * length. */
static inline size_t sl_fmt_uint(char *dst, uint64_t v)
{
    char rev[20];
    size_t k = 0;
    do {
        rev[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < k; i++)
        dst[i] = rev[k - 1 - i];
    return k;
}

/* v as 16 lowercase hex digits, zero-padded, into dst (not NUL-terminated). */
static inline void sl_fmt_hex64(char *dst, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        dst[i] = "0123456789abcdef"[v & 15];
}

/* src into dst (size > 0), cut to fit, NUL-terminated. */
static inline void sl_str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#endif
