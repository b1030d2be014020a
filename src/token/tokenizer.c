/* Encoding = pre-tokenization (token/pretok.c) + byte pair merges over each
 * piece with the encoding's ranks (token/ranks.c).
 *
 * The merge is tiktoken's: repeatedly join the adjacent pair whose joined
 * bytes have the lowest rank (the leftmost on a tie) until no joined pair
 * is a token. Short pieces use tiktoken's array scan (quadratic, fastest
 * when small); long ones (whitespace runs, base64 blobs, minified code) a
 * heap with the same (rank, position) order, so that a hostile megabyte is
 * O(n log n), not O(n^2). */
#include "token/tokenizer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "token/pretok.h"
#include "token/ranks.h"

/* Longest piece merged with the array scan; the heap takes longer ones. */
#define SMALL_PIECE 128

extern const char sl_ranks_cl100k_base[], sl_ranks_cl100k_base_end[];
extern const char sl_ranks_o200k_base[], sl_ranks_o200k_base_end[];

struct sl_tok_encoding {
    enum sl_pretok_rules rules;
    struct sl_ranks ranks;
};

struct token_sink {
    uint32_t *out;
    size_t cap, n;
};

static inline void emit(struct token_sink *sink, uint32_t token)
{
    if (sink->n < sink->cap)
        sink->out[sink->n] = token;
    sink->n++;
}

static void merge_small(const struct sl_ranks *r, const uint8_t *p, size_t m,
                        struct token_sink *sink)
{
    uint32_t start[SMALL_PIECE + 1], rank[SMALL_PIECE + 1];
    size_t parts = m + 1;
    for (size_t i = 0; i + 1 < m; i++) {
        start[i] = (uint32_t)i;
        rank[i] = sl_ranks_get(r, p + i, 2);
    }
    start[m - 1] = (uint32_t)(m - 1);
    rank[m - 1] = SL_RANK_NONE;
    start[m] = (uint32_t)m;
    rank[m] = SL_RANK_NONE;
    for (;;) {
        uint32_t best = SL_RANK_NONE;
        size_t at = 0;
        for (size_t i = 0; i + 1 < parts; i++)
            if (rank[i] < best) {
                best = rank[i];
                at = i;
            }
        if (best == SL_RANK_NONE)
            break;
        /* Parts at and at + 1 join: the pairs that change are (at - 1, at)
         * and (at, at + 2), each spanning three old parts. */
        if (at > 0)
            rank[at - 1] = at + 2 < parts
                               ? sl_ranks_get(r, p + start[at - 1], start[at + 2] - start[at - 1])
                               : SL_RANK_NONE;
        rank[at] = at + 3 < parts ? sl_ranks_get(r, p + start[at], start[at + 3] - start[at])
                                  : SL_RANK_NONE;
        memmove(start + at + 1, start + at + 2, (parts - at - 2) * sizeof start[0]);
        memmove(rank + at + 1, rank + at + 2, (parts - at - 2) * sizeof rank[0]);
        parts--;
    }
    for (size_t i = 0; i + 1 < parts; i++)
        emit(sink, sl_ranks_get(r, p + start[i], start[i + 1] - start[i]));
}

/* The heap merge: parts are linked byte positions; a part is named by its
 * first byte, which never changes when it absorbs its right neighbour. */
struct heap {
    uint64_t *v; /* rank << 32 | position */
    size_t n;
};

static void heap_push(struct heap *h, uint64_t x)
{
    size_t i = h->n++;
    while (i && h->v[(i - 1) / 2] > x) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
}

static uint64_t heap_pop(struct heap *h)
{
    uint64_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c])
            c++;
        if (h->v[c] >= x)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = x;
    return top;
}

#define NONE UINT32_MAX

static int merge_large(const struct sl_ranks *r, const uint8_t *p, size_t m,
                       struct token_sink *sink)
{
    uint32_t *next = malloc(m * sizeof *next), *prev = malloc(m * sizeof *prev);
    uint32_t *rank = malloc(m * sizeof *rank);
    /* Each join pushes at most two entries. */
    struct heap h = {malloc(3 * m * sizeof(uint64_t)), 0};
    if (!next || !prev || !rank || !h.v) {
        free(next), free(prev), free(rank), free(h.v);
        return -1;
    }
#define END_OF(i) (next[i] == NONE ? (uint32_t)m : next[i])
#define PAIR_RANK(i)                                                                               \
    (next[i] == NONE ? SL_RANK_NONE : sl_ranks_get(r, p + (i), END_OF(next[i]) - (i)))
    for (uint32_t i = 0; i < m; i++) {
        next[i] = i + 1 < m ? i + 1 : NONE;
        prev[i] = i ? i - 1 : NONE;
    }
    for (uint32_t i = 0; i < m; i++) {
        rank[i] = PAIR_RANK(i);
        if (rank[i] != SL_RANK_NONE)
            heap_push(&h, (uint64_t)rank[i] << 32 | i);
    }
    while (h.n) {
        uint64_t top = heap_pop(&h);
        uint32_t i = (uint32_t)top, got = (uint32_t)(top >> 32);
        if (rank[i] != got)
            continue; /* stale: the part changed (or was absorbed) since */
        uint32_t j = next[i];
        next[i] = next[j];
        if (next[j] != NONE)
            prev[next[j]] = i;
        rank[j] = SL_RANK_NONE;
        rank[i] = PAIR_RANK(i);
        if (rank[i] != SL_RANK_NONE)
            heap_push(&h, (uint64_t)rank[i] << 32 | i);
        uint32_t q = prev[i];
        if (q != NONE) {
            rank[q] = PAIR_RANK(q);
            if (rank[q] != SL_RANK_NONE)
                heap_push(&h, (uint64_t)rank[q] << 32 | q);
        }
    }
    for (uint32_t i = 0; i != NONE; i = next[i])
        emit(sink, sl_ranks_get(r, p + i, END_OF(i) - i));
#undef PAIR_RANK
#undef END_OF
    free(next), free(prev), free(rank), free(h.v);
    return 0;
}

static int encode_piece(const struct sl_ranks *r, const uint8_t *p, size_t m,
                        struct token_sink *sink)
{
    uint32_t whole = sl_ranks_get(r, p, m);
    if (whole != SL_RANK_NONE) {
        emit(sink, whole);
        return 0;
    }
    if (m <= SMALL_PIECE) {
        merge_small(r, p, m, sink);
        return 0;
    }
    return merge_large(r, p, m, sink);
}

/* For a byte >= 0x80: how many continuation bytes follow it (0: it cannot
 * start a sequence), and the range the first of them must be in (which
 * rules out overlong forms, surrogates and code points past U+10FFFF). */
static size_t lead_byte(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf)
        return 1;
    if (b >= 0xe0 && b <= 0xef) {
        *lo = b == 0xe0 ? 0xa0 : 0x80;
        *hi = b == 0xed ? 0x9f : 0xbf;
        return 2;
    }
    if (b >= 0xf0 && b <= 0xf4) {
        *lo = b == 0xf0 ? 0x90 : 0x80;
        *hi = b == 0xf4 ? 0x8f : 0xbf;
        return 3;
    }
    return 0;
}

/* The length of the valid UTF-8 prefix of s. */
static size_t valid_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint8_t lo, hi;
        size_t need = lead_byte(s[i], &lo, &hi);
        if (!need || i + need >= len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += need + 1;
    }
    return len;
}

/* A copy of s with each maximal invalid subpart replaced by U+FFFD (the
 * WHATWG UTF-8 decoder's rule); its length in *out_len. */
static uint8_t *replace_invalid(const uint8_t *s, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len * 3 + 1); /* each bad byte may become 3 */
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t ok = valid_prefix(s + i, len - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i == len)
            break;
        /* The maximal subpart: the lead byte and the continuation bytes
         * that still fit its sequence. */
        uint8_t lo, hi;
        size_t need = lead_byte(s[i], &lo, &hi);
        size_t k = 1;
        while (k <= need && i + k < len && s[i + k] >= lo && s[i + k] <= hi) {
            k++;
            lo = 0x80;
            hi = 0xbf;
        }
        i += k;
        out[o++] = 0xef;
        out[o++] = 0xbf;
        out[o++] = 0xbd;
    }
    *out_len = o;
    return out;
}

static size_t encode(const struct sl_tok_encoding *enc, const char *text, size_t len,
                     struct token_sink *sink)
{
    const uint8_t *s = (const uint8_t *)text;
    uint8_t *copy = NULL;
    if (valid_prefix(s, len) != len) {
        copy = replace_invalid(s, len, &len);
        if (!copy)
            return len / 4; /* out of memory: an estimate beats nothing */
        s = copy;
    }
    for (size_t at = 0; at < len;) {
        size_t end = sl_pretok_next(enc->rules, s, len, at);
        if (encode_piece(&enc->ranks, s + at, end - at, sink) < 0)
            sink->n += (end - at) / 4; /* out of memory, as above */
        at = end;
    }
    free(copy);
    return sink->n;
}

size_t sl_tok_count(const struct sl_tok_encoding *enc, const char *text, size_t len)
{
    struct token_sink sink = {NULL, 0, 0};
    return encode(enc, text, len, &sink);
}

size_t sl_tok_encode(const struct sl_tok_encoding *enc, const char *text, size_t len, uint32_t *out,
                     size_t cap)
{
    struct token_sink sink = {out, cap, 0};
    return encode(enc, text, len, &sink);
}

const uint8_t *sl_tok_token_bytes(const struct sl_tok_encoding *enc, uint32_t id, size_t *len)
{
    if (id >= enc->ranks.count)
        return NULL;
    *len = enc->ranks.offset[id + 1] - enc->ranks.offset[id];
    return enc->ranks.bytes + enc->ranks.offset[id];
}

/* The encodings, built once. */
static struct encoding_slot {
    const char *name;
    enum sl_pretok_rules rules;
    const char *data, *data_end;
    pthread_once_t once;
    struct sl_tok_encoding enc;
    int ok;
} slots[] = {
    [SL_TOK_CL100K_BASE] = {"cl100k_base",
                            SL_PRETOK_CL100K,
                            sl_ranks_cl100k_base,
                            sl_ranks_cl100k_base_end,
                            PTHREAD_ONCE_INIT,
                            {0},
                            0},
    [SL_TOK_O200K_BASE] = {"o200k_base",
                           SL_PRETOK_O200K,
                           sl_ranks_o200k_base,
                           sl_ranks_o200k_base_end,
                           PTHREAD_ONCE_INIT,
                           {0},
                           0},
};

static void build(struct encoding_slot *s)
{
    s->enc.rules = s->rules;
    s->ok = sl_ranks_build(&s->enc.ranks, s->data, (size_t)(s->data_end - s->data)) == 0;
}
static void build_cl100k(void)
{
    build(&slots[SL_TOK_CL100K_BASE]);
}
static void build_o200k(void)
{
    build(&slots[SL_TOK_O200K_BASE]);
}

const struct sl_tok_encoding *sl_tok_encoding(enum sl_tok_encoding_id id)
{
    struct encoding_slot *s = &slots[id];
    pthread_once(&s->once, id == SL_TOK_CL100K_BASE ? build_cl100k : build_o200k);
    return s->ok ? &s->enc : NULL;
}

const char *sl_tok_encoding_name(enum sl_tok_encoding_id id)
{
    return slots[id].name;
}

int sl_tok_encoding_parse(const char *name, enum sl_tok_encoding_id *out)
{
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (strcmp(name, slots[i].name) == 0) {
            *out = (enum sl_tok_encoding_id)i;
            return 0;
        }
    return -1;
}
