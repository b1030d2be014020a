/* A BPE rank table: token bytes <-> rank (the rank is the token id), built
 * from the compact text form tiktoken's npm packages ship: lines of
 * "! FIRST_RANK TOKEN TOKEN ...", each token base64, ranks consecutive.
 * Read-only once built. */
#ifndef SL_RANKS_H
#define SL_RANKS_H

#include <stddef.h>
#include <stdint.h>

#define SL_RANK_NONE UINT32_MAX

struct sl_ranks {
    uint8_t *bytes;   /* every token's bytes, by rank */
    uint32_t *offset; /* token r is bytes[offset[r], offset[r + 1]) */
    uint32_t count;
    uint32_t *slots; /* open addressing: rank + 1, 0 = empty */
    uint32_t mask;
};

/* 0, or -1 (out of memory, or the text is malformed). */
int sl_ranks_build(struct sl_ranks *r, const char *text, size_t len);
void sl_ranks_free(struct sl_ranks *r);

static inline uint64_t sl_ranks_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    __builtin_memcpy(&v, p, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* The rank of bytes p[0, n), or SL_RANK_NONE. */
static inline uint32_t sl_ranks_get(const struct sl_ranks *r, const uint8_t *p, size_t n)
{
    for (uint32_t i = (uint32_t)sl_ranks_hash(p, n) & r->mask;; i = (i + 1) & r->mask) {
        uint32_t s = r->slots[i];
        if (!s)
            return SL_RANK_NONE;
        uint32_t a = r->offset[s - 1], b = r->offset[s];
        if (b - a == n && __builtin_memcmp(r->bytes + a, p, n) == 0)
            return s - 1;
    }
}

#endif
