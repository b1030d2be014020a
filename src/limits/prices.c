#include "limits/prices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char sl_prices_tsv[];

struct entry {
    char *model;
    int prefix; /* starts_with, else equals */
    size_t len;
    struct sl_price price;
};

struct sl_price_table {
    struct entry *entries;
    size_t count;
};

void sl_price_table_free(struct sl_price_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->entries[i].model);
    free(t->entries);
    free(t);
}

/* Splits line[0, len) at tabs into up to max fields (not NUL-terminated). */
static size_t fields(const char *line, size_t len, const char **f, size_t *flen, size_t max)
{
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (n < max) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        f[n] = p;
        flen[n] = (size_t)((tab ? tab : end) - p);
        n++;
        if (!tab)
            break;
        p = tab + 1;
    }
    return n;
}

static int number(const char *s, size_t n, double *out)
{
    char buf[32];
    if (n == 1 && s[0] == '-') {
        *out = -1;
        return 0;
    }
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end || *out < 0 ? -1 : 0;
}

int sl_price_table_parse(const char *text, size_t len, struct sl_price_table **out, char *err,
                         size_t err_size)
{
    struct sl_price_table *t = calloc(1, sizeof *t);
    size_t cap = 0, lineno = 0;
    if (!t)
        goto oom;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        const char *line = p;
        p = eol ? eol + 1 : end;
        lineno++;
        if (n == 0 || line[0] == '#')
            continue;
        const char *f[7];
        size_t fl[7];
        struct entry e = {0};
        if (fields(line, n, f, fl, 7) < 6) {
            snprintf(err, err_size,
                     "line %zu: expected provider, match, model, input, cached, "
                     "output (tab-separated)",
                     lineno);
            goto fail;
        }
        if (fl[1] == 6 && memcmp(f[1], "equals", 6) == 0)
            e.prefix = 0;
        else if (fl[1] == 11 && memcmp(f[1], "starts_with", 11) == 0)
            e.prefix = 1;
        else {
            snprintf(err, err_size, "line %zu: match must be equals or starts_with", lineno);
            goto fail;
        }
        if (fl[2] == 0 || number(f[3], fl[3], &e.price.input) || e.price.input < 0 ||
            number(f[4], fl[4], &e.price.cached_input) || number(f[5], fl[5], &e.price.output) ||
            e.price.output < 0) {
            snprintf(err, err_size,
                     "line %zu: a model name and prices (numbers, or - for no "
                     "cached price) are required",
                     lineno);
            goto fail;
        }
        if (t->count == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *grown = realloc(t->entries, cap * sizeof *grown);
            if (!grown)
                goto oom;
            t->entries = grown;
        }
        e.model = strndup(f[2], fl[2]);
        if (!e.model)
            goto oom;
        e.len = fl[2];
        t->entries[t->count++] = e;
    }
    *out = t;
    return 0;
oom:
    snprintf(err, err_size, "out of memory");
fail:
    sl_price_table_free(t);
    return -1;
}

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static struct sl_price_table *builtin;

static void parse_builtin(void)
{
    char err[128];
    if (sl_price_table_parse(sl_prices_tsv, strlen(sl_prices_tsv), &builtin, err, sizeof err) < 0)
        builtin = NULL;
}

const struct sl_price_table *sl_price_table_builtin(void)
{
    pthread_once(&builtin_once, parse_builtin);
    return builtin;
}

int sl_price_find(const struct sl_price_table *t, const char *model, struct sl_price *out)
{
    const char *slash = strrchr(model, '/');
    if (slash)
        model = slash + 1;
    size_t len = strlen(model);
    const struct entry *best = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const struct entry *e = &t->entries[i];
        if (!e->prefix && e->len == len && memcmp(e->model, model, len) == 0) {
            best = e;
            break;
        }
        if (e->prefix && e->len <= len && memcmp(e->model, model, e->len) == 0 &&
            (!best || e->len > best->len))
            best = e;
    }
    if (!best)
        return 0;
    *out = best->price;
    return 1;
}

int sl_price_find_with(const struct sl_price_rule *rules, size_t n,
                       const struct sl_price_table *t, const char *model, struct sl_price *out)
{
    size_t len = strlen(model), best_len = 0;
    const struct sl_price_rule *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *m = rules[i].model;
        size_t ml = strlen(m);
        if (ml && m[ml - 1] == '*') {
            if (ml - 1 <= len && memcmp(m, model, ml - 1) == 0 && (!best || ml - 1 > best_len)) {
                best = &rules[i];
                best_len = ml - 1;
            }
        } else if (!strcmp(m, model)) {
            *out = rules[i].price;
            return 1;
        }
    }
    if (best) {
        *out = best->price;
        return 1;
    }
    return t ? sl_price_find(t, model, out) : 0;
}

double sl_price_cost(const struct sl_price *p, uint64_t prompt, uint64_t cached,
                     uint64_t completion)
{
    if (cached > prompt)
        cached = prompt;
    double cached_price = p->cached_input < 0 ? p->input : p->cached_input;
    return ((double)(prompt - cached) * p->input + (double)cached * cached_price +
            (double)completion * p->output) /
           1e6;
}
