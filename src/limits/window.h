/* A sliding-window limit: at most `limit` units (requests, or tokens) in
 * any window of `window_us`, for RPM and TPM. Pure: the caller passes the
 * time, so the math is tested without clocks, and the same rules run in
 * Redis (one script per check) when instances share the limit.
 *
 * Why a sliding window and not GCRA or a token bucket: those let a full
 * burst through and then refill, so a client that hammers gets up to twice
 * the limit in the first window, and more than the limit in any window
 * that starts just before a burst. "120 requests per minute" here means no
 * window of a minute ever holds more than 120, while a burst of 120 at
 * once still goes through.
 *
 * The window is kept as cells of window_us / SL_WINDOW_CELLS (100 ms for a
 * minute), each holding the units taken in it, and a running total. A cell
 * counts in full until all of it has left the window, so the limit is
 * never exceeded; the price is that units may come back up to one cell
 * late (0.17% of the window). A check is O(1) amortised (expired cells are
 * dropped from the front), and memory is at most SL_WINDOW_CELLS cells per
 * limit, grown on demand (an idle key holds none). */
#ifndef SL_WINDOW_H
#define SL_WINDOW_H

#include <stdint.h>

#define SL_WINDOW_CELLS 600

struct sl_window_cell {
    int64_t index; /* covers [index * cell_us, (index + 1) * cell_us) */
    uint64_t units;
};

struct sl_window {
    uint64_t limit, window_us, cell_us;
    uint64_t total;               /* units in the cells */
    struct sl_window_cell *cells; /* a ring, oldest first */
    unsigned head, count, cap;
};

/* limit >= 1; window_us >= SL_WINDOW_CELLS. */
void sl_window_init(struct sl_window *w, uint64_t limit, uint64_t window_us);
void sl_window_release(struct sl_window *w);

/* Takes `units` at now_us if the window has room: 0, with *cell set (for a
 * later sl_window_adjust). Otherwise -1 and *retry_after_us, the time until
 * enough units leave the window (UINT64_MAX if units > limit: never). -2 if
 * memory ran out. */
int sl_window_take(struct sl_window *w, uint64_t now_us, uint64_t units, int64_t *cell,
                   uint64_t *retry_after_us);

/* Takes `units` whether or not the window has room (work already done,
 * such as a retry sent to a provider, still counts): 0, or -2 if memory
 * ran out. */
int sl_window_add(struct sl_window *w, uint64_t now_us, uint64_t units, int64_t *cell);

/* Corrects units taken in `cell` by delta (a reservation set right once the
 * real usage is known; never below zero). Nothing if the cell has left the
 * window: what it held no longer counts anyway. */
void sl_window_adjust(struct sl_window *w, uint64_t now_us, int64_t cell, int64_t delta);

/* Units in the window at now_us. */
uint64_t sl_window_used(struct sl_window *w, uint64_t now_us);

#endif
