/* Interned byte strings for the report's one-pass readers: a name (any
 * bytes) -> a dense index, so that per-name sums live in plain arrays.
 * Open addressing on FNV-1a, at most half full. The table owns copies of
 * its names (NUL-terminated after their len bytes); a zeroed table is
 * empty. Per-name arrays are the caller's: sl_names_grow_items keeps one
 * as long as the table's capacity. */
#ifndef SL_REPORT_NAMES_H
#define SL_REPORT_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct sl_names {
    char **name;
    size_t *len;
    uint32_t *slot; /* index + 1, 0 empty */
    size_t n_slots;
    unsigned n, cap;
    unsigned items_cap; /* of the caller's per-name arrays */
};

/* The index of the name, added when new (*added set). -1: out of memory
 * or a new name past max (*rc UV_ENOMEM or UV_E2BIG). */
long sl_names_get(struct sl_names *t, const char *s, size_t len, unsigned max, int *added, int *rc);
/* Grows a per-name array of item-sized entries from items_cap to cap,
 * zeroing the new part (the caller sets items_cap after its last one). */
int sl_names_grow_items(const struct sl_names *t, void **arr, size_t item);
void sl_names_free(struct sl_names *t);

#endif
