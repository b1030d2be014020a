#include "token/ranks.h"

#include <stdlib.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 text[0, n) to out; the byte count, or -1. */
static long b64_decode(const char *text, size_t n, uint8_t *out)
{
    while (n && text[n - 1] == '=')
        n--;
    uint32_t acc = 0;
    int bits = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    return len;
}

/* Walks the tokens of the text: calls add(rank, base64, n) for each. */
static int walk(const char *text, size_t len, int (*add)(void *, uint32_t, const char *, size_t),
                void *arg)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol > p) {
            if (*p != '!' || p + 1 >= eol || p[1] != ' ')
                return -1;
            char *q;
            unsigned long rank = strtoul(p + 2, &q, 10);
            if (q == p + 2 || q > eol)
                return -1;
            while (q < eol) {
                while (q < eol && *q == ' ')
                    q++;
                const char *tok = q;
                while (q < eol && *q != ' ')
                    q++;
                if (q > tok && add(arg, (uint32_t)rank++, tok, (size_t)(q - tok)) < 0)
                    return -1;
            }
        }
        p = eol + 1;
    }
    return 0;
}

struct sizing {
    uint32_t count;
    size_t bytes;
};

static int size_one(void *arg, uint32_t rank, const char *b64, size_t n)
{
    struct sizing *s = arg;
    (void)b64;
    if (rank >= UINT32_MAX - 1)
        return -1;
    if (rank + 1 > s->count)
        s->count = rank + 1;
    s->bytes += n; /* decoded is shorter */
    return 0;
}

struct filling {
    struct sl_ranks *r;
    uint8_t *scratch;
    uint32_t *len;
    size_t used;
};

static int fill_one(void *arg, uint32_t rank, const char *b64, size_t n)
{
    struct filling *f = arg;
    long got = b64_decode(b64, n, f->scratch + f->used);
    if (got <= 0 || f->len[rank] != UINT32_MAX)
        return -1;                          /* undecodable, empty, or a rank given twice */
    f->r->offset[rank] = (uint32_t)f->used; /* where it is in scratch, for now */
    f->len[rank] = (uint32_t)got;
    f->used += (size_t)got;
    return 0;
}

int sl_ranks_build(struct sl_ranks *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    struct sizing s = {0, 0};
    if (walk(text, len, size_one, &s) < 0 || s.count == 0 || s.bytes >= UINT32_MAX)
        return -1;
    struct filling f = {r, malloc(s.bytes), malloc(sizeof(uint32_t) * s.count), 0};
    r->count = s.count;
    r->offset = malloc(sizeof(uint32_t) * ((size_t)s.count + 1));
    uint32_t slots = 1;
    while (slots < s.count * 2)
        slots <<= 1;
    r->slots = calloc(slots, sizeof(uint32_t));
    r->mask = slots - 1;
    if (!f.scratch || !f.len || !r->offset || !r->slots)
        goto fail;
    memset(f.len, 0xff, sizeof(uint32_t) * s.count);
    if (walk(text, len, fill_one, &f) < 0)
        goto fail;
    /* Lay the tokens out by rank so that token r ends where r + 1 starts. */
    r->bytes = malloc(f.used ? f.used : 1);
    if (!r->bytes)
        goto fail;
    size_t at = 0;
    for (uint32_t k = 0; k < s.count; k++) {
        if (f.len[k] == UINT32_MAX)
            goto fail; /* a gap in the ranks */
        memcpy(r->bytes + at, f.scratch + r->offset[k], f.len[k]);
        r->offset[k] = (uint32_t)at;
        at += f.len[k];
    }
    r->offset[s.count] = (uint32_t)at;
    for (uint32_t k = 0; k < s.count; k++) {
        const uint8_t *p = r->bytes + r->offset[k];
        size_t n = r->offset[k + 1] - r->offset[k];
        if (sl_ranks_get(r, p, n) != SL_RANK_NONE)
            goto fail; /* the same bytes twice */
        uint32_t i = (uint32_t)sl_ranks_hash(p, n) & r->mask;
        while (r->slots[i])
            i = (i + 1) & r->mask;
        r->slots[i] = k + 1;
    }
    free(f.scratch);
    free(f.len);
    return 0;
fail:
    free(f.scratch);
    free(f.len);
    sl_ranks_free(r);
    return -1;
}

void sl_ranks_free(struct sl_ranks *r)
{
    free(r->bytes);
    free(r->offset);
    free(r->slots);
    memset(r, 0, sizeof *r);
}
