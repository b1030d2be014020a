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

#endif
