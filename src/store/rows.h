/* The result of an ad-hoc read query (sl_store_query_rows): rows of text
 * cells, built by either backend from what its driver returns.
 *
 * Bounds: at most SL__ROWS_MAX_CELLS cells and SL__ROWS_MAX_BYTES of text;
 * past them the build fails with UV_E2BIG, so a query that returns more
 * than an aggregate should fails instead of growing without limit. */
#ifndef SL_ROWS_H
#define SL_ROWS_H

#include <stddef.h>

#include "store/store.h"

#define SL__ROWS_MAX_CELLS (4u << 20)
#define SL__ROWS_MAX_BYTES (64u << 20)

struct sl__rows_builder {
    unsigned n_cols;
    size_t n_cells, cap_cells;
    size_t *offs; /* into text; SIZE_MAX: NULL */
    char *text;
    size_t text_len, text_cap;
};

void sl__rows_builder_init(struct sl__rows_builder *b, unsigned n_cols);
void sl__rows_builder_release(struct sl__rows_builder *b);
/* One cell, in row order; text NULL for SQL NULL. 0 or UV_E2BIG/UV_ENOMEM. */
int sl__rows_add(struct sl__rows_builder *b, const char *text, size_t len);
/* Room for `cells` cells and `text` bytes of text, when known (the adds
 * grow as they go otherwise). */
void sl__rows_builder_reserve(struct sl__rows_builder *b, size_t cells, size_t text);
/* The result, holding the builder's text; releases the builder. */
int sl__rows_finish(struct sl__rows_builder *b, struct sl_rows **out);

#endif
