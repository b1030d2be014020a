#include "token/pretok.h"

#include "token/unicode_class.h"

/* Classes of the expressions: U and W are o200k's two letter groups. */
#define CLS_U (SL_UC_UPPER | SL_UC_OTHER_LETTER | SL_UC_MARK)
#define CLS_W (SL_UC_LOWER | SL_UC_OTHER_LETTER | SL_UC_MARK)

struct text {
    const uint8_t *s;
    size_t len;
};

/* The code point at i (valid UTF-8) and its length. */
static uint32_t decode(const struct text *t, size_t i, size_t *n)
{
    const uint8_t *p = t->s + i;
    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if (p[0] < 0xe0) {
        *n = 2;
        return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    }
    if (p[0] < 0xf0) {
        *n = 3;
        return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    }
    *n = 4;
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
           (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* Class bits of the code point at i, its length in *n (0 bits past the end). */
static unsigned class_at(const struct text *t, size_t i, size_t *n)
{
    if (i >= t->len) {
        *n = 0;
        return 0;
    }
    return sl_uc_class(decode(t, i, n));
}

/* [^\r\n\p{L}\p{N}] */
static int is_prefix(const struct text *t, size_t i, unsigned cls)
{
    return !(cls & (SL_UC_LETTER | SL_UC_NUMBER)) && t->s[i] != '\r' && t->s[i] != '\n';
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its length, or 0. Case-insensitive as
 * Unicode simple case folding has it, so "'ſ" (U+017F) counts as "'s". */
static size_t contraction(const struct text *t, size_t i)
{
    if (i + 1 >= t->len || t->s[i] != '\'')
        return 0;
    uint8_t a = t->s[i + 1] | 0x20;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (t->s[i + 1] == 0xc5 && i + 2 < t->len && t->s[i + 2] == 0xbf)
        return 3;
    if (i + 2 < t->len) {
        uint8_t b = t->s[i + 2] | 0x20;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return 3;
    }
    return 0;
}

/* The end of the longest run of code points in `mask` from i. */
static size_t run(const struct text *t, size_t i, unsigned mask)
{
    size_t n;
    while (class_at(t, i, &n) & mask)
        i += n;
    return i;
}

/* \p{N}{1,3} */
static size_t numbers(const struct text *t, size_t i)
{
    size_t n;
    for (int k = 0; k < 3 && (class_at(t, i, &n) & SL_UC_NUMBER); k++)
        i += n;
    return i;
}

/* " ?[^\s\p{L}\p{N}]+" then any of `tail` (ASCII): the end, or 0. */
static size_t punctuation(const struct text *t, size_t i, const char *tail)
{
    size_t n, j = i;
    if (t->s[j] == ' ')
        j++;
    size_t k = j;
    unsigned cls;
    while (k < t->len &&
           !((cls = class_at(t, k, &n)) & (SL_UC_SPACE | SL_UC_LETTER | SL_UC_NUMBER)))
        k += n;
    if (k == j)
        return 0;
    while (k < t->len) {
        const char *c = tail;
        while (*c && (uint8_t)*c != t->s[k])
            c++;
        if (!*c)
            break;
        k++;
    }
    return k;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+, at a White_Space code point. */
static size_t spaces(const struct text *t, size_t i)
{
    size_t n, end = i, last_start = i, after_newline = 0;
    while (class_at(t, end, &n) & SL_UC_SPACE) {
        if (t->s[end] == '\r' || t->s[end] == '\n')
            after_newline = end + 1;
        last_start = end;
        end += n;
    }
    if (after_newline)
        return after_newline; /* \s* backs off to the last line break */
    if (end == t->len || last_start == i)
        return end;    /* at the end, or a single code point: \s+ */
    return last_start; /* \s+(?!\S) leaves the last one to the next piece */
}

/* cl100k: [^\r\n\p{L}\p{N}]?\p{L}+ */
static size_t cl100k_word(const struct text *t, size_t i, unsigned cls, size_t n)
{
    if (cls & SL_UC_LETTER)
        return run(t, i, SL_UC_LETTER);
    size_t m;
    if (is_prefix(t, i, cls) && (class_at(t, i + n, &m) & SL_UC_LETTER))
        return run(t, i + n, SL_UC_LETTER);
    return 0;
}

/* o200k, first alternative from k (after the optional prefix):
 * U* W+ contraction?. U* gives back code points until W+ can match. */
static size_t o200k_lower_word(const struct text *t, size_t k)
{
    size_t n, u_end = k, last_w = SIZE_MAX;
    unsigned cls;
    while ((cls = class_at(t, u_end, &n)) & CLS_U) {
        if (cls & CLS_W)
            last_w = u_end;
        u_end += n;
    }
    size_t end;
    if (class_at(t, u_end, &n) & SL_UC_LOWER)
        end = run(t, u_end, CLS_W);
    else if (last_w != SIZE_MAX) {
        class_at(t, last_w, &n);
        end = last_w + n; /* the code points after it are Lu/Lt, not W */
    } else
        return 0;
    return end + contraction(t, end);
}

/* o200k, second alternative from k: U+ W* contraction?. */
static size_t o200k_upper_word(const struct text *t, size_t k)
{
    size_t end = run(t, k, CLS_U);
    if (end == k)
        return 0;
    end = run(t, end, CLS_W);
    return end + contraction(t, end);
}

static size_t o200k_word(const struct text *t, size_t i, unsigned cls, size_t n)
{
    int prefix = is_prefix(t, i, cls);
    size_t end;
    if ((prefix && (end = o200k_lower_word(t, i + n))) || (end = o200k_lower_word(t, i)))
        return end;
    if ((prefix && (end = o200k_upper_word(t, i + n))) || (end = o200k_upper_word(t, i)))
        return end;
    return 0;
}

size_t sl_pretok_next(enum sl_pretok_rules rules, const uint8_t *s, size_t len, size_t at)
{
    struct text t = {s, len};
    size_t n, end;
    unsigned cls = class_at(&t, at, &n);
    if (rules == SL_PRETOK_CL100K) {
        if ((end = contraction(&t, at)))
            return at + end;
        if ((end = cl100k_word(&t, at, cls, n)))
            return end;
    } else if ((end = o200k_word(&t, at, cls, n)))
        return end;
    if (cls & SL_UC_NUMBER)
        return numbers(&t, at);
    if ((end = punctuation(&t, at, rules == SL_PRETOK_CL100K ? "\r\n" : "\r\n/")))
        return end;
    if (cls & SL_UC_SPACE)
        return spaces(&t, at);
    return at + n; /* not reached: every code point matches some alternative */
}
