#include "store/rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void sl__rows_builder_init(struct sl__rows_builder *b, unsigned n_cols)
{
    memset(b, 0, sizeof(*b));
    b->n_cols = n_cols;
}

void sl__rows_builder_release(struct sl__rows_builder *b)
{
    free(b->offs);
    free(b->text);
    memset(b, 0, sizeof(*b));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return UV_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int sl__rows_add(struct sl__rows_builder *b, const char *text, size_t len)
{
    if (b->n_cells >= SL__ROWS_MAX_CELLS || b->text_len + len + 1 > SL__ROWS_MAX_BYTES)
        return UV_E2BIG;
    if (grow((void **)&b->offs, &b->cap_cells, b->n_cells + 1, sizeof(size_t)) != 0)
        return UV_ENOMEM;
    if (text == NULL) {
        b->offs[b->n_cells++] = SIZE_MAX;
        return 0;
    }
    if (grow((void **)&b->text, &b->text_cap, b->text_len + len + 1, 1) != 0)
        return UV_ENOMEM;
    memcpy(b->text + b->text_len, text, len);
    b->text[b->text_len + len] = '\0';
    b->offs[b->n_cells++] = b->text_len;
    b->text_len += len + 1;
    return 0;
}

void sl__rows_builder_reserve(struct sl__rows_builder *b, size_t cells, size_t text)
{
    /* a hint: on failure the adds grow as they go */
    if (cells > SL__ROWS_MAX_CELLS || text > SL__ROWS_MAX_BYTES)
        return;
    grow((void **)&b->offs, &b->cap_cells, cells, sizeof(size_t));
    grow((void **)&b->text, &b->text_cap, text, 1);
}

/* The text stays where the builder wrote it (a chunk of the report is
 * tens of megabytes: not copied again). */
int sl__rows_finish(struct sl__rows_builder *b, struct sl_rows **out)
{
    struct sl_rows *r = malloc(sizeof(*r) + b->n_cells * sizeof(const char *));
    if (r == NULL) {
        sl__rows_builder_release(b);
        return UV_ENOMEM;
    }
    r->n_cols = b->n_cols;
    r->n_rows = b->n_cols ? (unsigned)(b->n_cells / b->n_cols) : 0;
    r->cells = (const char **)(r + 1);
    r->text = b->text;
    for (size_t i = 0; i < b->n_cells; i++)
        r->cells[i] = b->offs[i] == SIZE_MAX ? NULL : r->text + b->offs[i];
    b->text = NULL;
    sl__rows_builder_release(b);
    *out = r;
    return 0;
}

void sl_rows_free(struct sl_rows *rows)
{
    if (rows)
        free(rows->text);
    free(rows);
}

const char *sl_rows_cell(const struct sl_rows *rows, unsigned row, unsigned col)
{
    return rows->cells[(size_t)row * rows->n_cols + col];
}

double sl_rows_num(const struct sl_rows *rows, unsigned row, unsigned col)
{
    const char *s = sl_rows_cell(rows, row, col);
    return s ? strtod(s, NULL) : 0;
}

int64_t sl_rows_i64(const struct sl_rows *rows, unsigned row, unsigned col)
{
    const char *s = sl_rows_cell(rows, row, col);
    if (s == NULL)
        return 0;
    /* PostgreSQL's sum(bigint) is numeric and may print a fraction */
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end == '.' || *end == 'e' || *end == 'E' ? (int64_t)strtod(s, NULL) : (int64_t)v;
}
