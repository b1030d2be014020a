#include "limits/window.h"

#include <stdlib.h>

void sl_window_init(struct sl_window *w, uint64_t limit, uint64_t window_us)
{
    *w = (struct sl_window){
        .limit = limit, .window_us = window_us, .cell_us = window_us / SL_WINDOW_CELLS};
}

void sl_window_release(struct sl_window *w)
{
    free(w->cells);
    w->cells = NULL;
    w->head = w->count = w->cap = 0;
    w->total = 0;
}

static struct sl_window_cell *at(struct sl_window *w, unsigned i)
{
    return &w->cells[(w->head + i) % w->cap];
}

/* Drops the cells wholly out of the window (now - window_us, now]. */
static void expire(struct sl_window *w, uint64_t now_us)
{
    while (w->count) {
        struct sl_window_cell *c = at(w, 0);
        uint64_t cell_end = (uint64_t)(c->index + 1) * w->cell_us;
        if (cell_end + w->window_us > now_us)
            break;
        w->total -= c->units;
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    if (!w->count)
        w->head = 0;
}

static int grow(struct sl_window *w)
{
    /* the cells that can be in a window at once: the window's own, one
     * partly out at its start, and the rounding of cell_us */
    unsigned most = (unsigned)(w->window_us / w->cell_us) + 2;
    unsigned cap = w->cap ? w->cap * 2 : 8;
    if (cap > most)
        cap = most;
    if (cap <= w->count)
        return -1;
    struct sl_window_cell *cells = malloc(cap * sizeof *cells);
    if (!cells)
        return -1;
    for (unsigned i = 0; i < w->count; i++)
        cells[i] = *at(w, i);
    free(w->cells);
    w->cells = cells;
    w->cap = cap;
    w->head = 0;
    return 0;
}

int sl_window_take(struct sl_window *w, uint64_t now_us, uint64_t units, int64_t *cell,
                   uint64_t *retry_after_us)
{
    expire(w, now_us);
    if (units > w->limit) {
        *retry_after_us = UINT64_MAX;
        return -1;
    }
    if (w->total + units > w->limit) {
        /* wait until the oldest cells free enough */
        uint64_t need = w->total + units - w->limit, freed = 0;
        for (unsigned i = 0; i < w->count; i++) {
            struct sl_window_cell *c = at(w, i);
            freed += c->units;
            if (freed >= need) {
                uint64_t leaves = (uint64_t)(c->index + 1) * w->cell_us + w->window_us;
                *retry_after_us = leaves - now_us;
                return -1;
            }
        }
        *retry_after_us = w->window_us; /* not reached: total is the cells' sum */
        return -1;
    }
    return sl_window_add(w, now_us, units, cell);
}

int sl_window_add(struct sl_window *w, uint64_t now_us, uint64_t units, int64_t *cell)
{
    expire(w, now_us);
    int64_t index = (int64_t)(now_us / w->cell_us);
    struct sl_window_cell *last = w->count ? at(w, w->count - 1) : NULL;
    if (!last || last->index != index) {
        if (w->count == w->cap && grow(w) < 0)
            return -2;
        last = at(w, w->count++);
        last->index = index;
        last->units = 0;
    }
    last->units += units;
    w->total += units;
    *cell = index;
    return 0;
}

void sl_window_adjust(struct sl_window *w, uint64_t now_us, int64_t cell, int64_t delta)
{
    expire(w, now_us);
    for (unsigned i = w->count; i-- > 0;) {
        struct sl_window_cell *c = at(w, i);
        if (c->index < cell)
            return;
        if (c->index == cell) {
            if (delta < 0 && (uint64_t)-delta > c->units)
                delta = -(int64_t)c->units;
            c->units += (uint64_t)delta;
            w->total += (uint64_t)delta;
            return;
        }
    }
}

uint64_t sl_window_used(struct sl_window *w, uint64_t now_us)
{
    expire(w, now_us);
    return w->total;
}
