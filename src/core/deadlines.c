/* Deadlines on one timer: a timing wheel (the design note is in
 * core/deadlines.h). */
#include "core/deadlines.h"

#include <assert.h>

#define SLOTS SL_DEADLINE_SLOTS

static uint64_t now_ms(const struct sl_deadlines *set)
{
    return uv_now(set->timer.loop);
}

static void set_bit(struct sl_deadlines *set, unsigned i)
{
    set->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static void clear_bit(struct sl_deadlines *set, unsigned i)
{
    set->bits[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* How many ticks from now_tick to the first slot that is not empty, or -1.
 * SLOTS is a multiple of 64, so a word's bits from k on are consecutive
 * ticks; the last word visited may wrap past now_tick, but its bits from
 * now_tick on were seen in the first word. */
static int first_slot(const struct sl_deadlines *set)
{
    for (unsigned j = 0; j < SLOTS;) {
        unsigned k = (unsigned)((set->now_tick + j) % SLOTS);
        uint64_t w = set->bits[k / 64] >> (k % 64);
        if (w)
            return (int)(j + (unsigned)__builtin_ctzll(w));
        j += 64 - k % 64;
    }
    return -1;
}

/* The tick at which the deadlines on `later` must move into the wheel. */
static uint64_t cascade_tick(const struct sl_deadlines *set)
{
    uint64_t t = set->later_min >= SLOTS ? set->later_min - SLOTS + 1 : 0;
    return t > set->now_tick ? t : set->now_tick;
}

/* The earliest tick that has work (a due slot, or a cascade). */
static uint64_t next_tick(const struct sl_deadlines *set)
{
    uint64_t next = UINT64_MAX;
    int j = first_slot(set);
    if (j >= 0)
        next = set->now_tick + (uint64_t)j;
    if (!sl_list_empty(&set->later)) {
        uint64_t c = cascade_tick(set);
        if (c < next)
            next = c;
    }
    return next;
}

static void on_timer(uv_timer_t *timer);

static void arm(struct sl_deadlines *set, uint64_t tick)
{
    uint64_t at = tick * set->granularity_ms, now = now_ms(set);
    uv_timer_start(&set->timer, on_timer, at > now ? at - now : 0, 0);
    set->armed_tick = tick;
    set->stats.timer_starts++;
}

/* After a sweep, or once the set is empty: the timer for the earliest work,
 * or stopped (an empty set keeps no loop alive). */
static void rearm(struct sl_deadlines *set)
{
    if (set->count == 0) {
        if (set->armed_tick != UINT64_MAX) {
            uv_timer_stop(&set->timer);
            set->armed_tick = UINT64_MAX;
        }
        return;
    }
    uint64_t next = next_tick(set);
    if (next != set->armed_tick || !uv_is_active((uv_handle_t *)&set->timer))
        arm(set, next);
}

/* Puts an unlinked deadline where its due tick says. */
static void place(struct sl_deadlines *set, struct sl_deadline *d)
{
    if (d->due < set->now_tick)
        d->due = set->now_tick;
    if (d->due < set->now_tick + SLOTS) {
        unsigned i = (unsigned)(d->due % SLOTS);
        sl_list_push_back(&set->slot[i], &d->node);
        set_bit(set, i);
        d->in_wheel = 1;
    } else {
        if (sl_list_empty(&set->later) || d->due < set->later_min)
            set->later_min = d->due;
        sl_list_push_back(&set->later, &d->node);
        d->in_wheel = 0;
    }
}

static void unlink_deadline(struct sl_deadline *d)
{
    struct sl_deadlines *set = d->set;
    sl_list_remove(&d->node);
    if (d->in_wheel) {
        unsigned i = (unsigned)(d->due % SLOTS);
        if (sl_list_empty(&set->slot[i]))
            clear_bit(set, i);
    }
    set->count--;
}

/* Moves the deadlines of `later` that the wheel now reaches into it; the
 * others stay, and later_min becomes their exact minimum. */
static void cascade(struct sl_deadlines *set)
{
    struct sl_list keep;
    sl_list_init(&keep);
    uint64_t min = UINT64_MAX;
    struct sl_list *n;
    while ((n = sl_list_pop_front(&set->later)) != NULL) {
        struct sl_deadline *d = sl_container_of(n, struct sl_deadline, node);
        if (d->due < set->now_tick + SLOTS) {
            place(set, d);
        } else {
            sl_list_push_back(&keep, n);
            if (d->due < min)
                min = d->due;
        }
    }
    while ((n = sl_list_pop_front(&keep)) != NULL)
        sl_list_push_back(&set->later, n);
    set->later_min = min;
}

/* Fires every deadline of slot k (all due at k), after the wheel moved
 * past it: one started by a callback lands on a later tick. */
static void fire_slot(struct sl_deadlines *set, uint64_t k)
{
    unsigned i = (unsigned)(k % SLOTS);
    struct sl_list due;
    sl_list_init(&due);
    struct sl_list *n;
    while ((n = sl_list_pop_front(&set->slot[i])) != NULL)
        sl_list_push_back(&due, n);
    clear_bit(set, i);
    set->now_tick = k + 1;
    /* a callback may stop a deadline still on `due`: it unlinks itself */
    while ((n = sl_list_pop_front(&due)) != NULL) {
        struct sl_deadline *d = sl_container_of(n, struct sl_deadline, node);
        assert(d->due == k);
        set->count--;
        set->stats.fired++;
        d->cb(d);
    }
}

static void on_timer(uv_timer_t *timer)
{
    struct sl_deadlines *set = timer->data;
    uint64_t current = now_ms(set) / set->granularity_ms;
    set->armed_tick = UINT64_MAX;
    set->sweeping = 1;
    while (set->now_tick <= current) {
        if (!sl_list_empty(&set->later) && set->later_min < set->now_tick + SLOTS)
            cascade(set);
        uint64_t k = next_tick(set);
        if (k > current) {
            set->now_tick = current + 1; /* nothing is due before */
            break;
        }
        set->now_tick = k;
        if (first_slot(set) == 0)
            fire_slot(set, k);
        /* else: k was the cascade tick; cascaded at the top */
    }
    set->sweeping = 0;
    rearm(set);
}

int sl_deadlines_init(uv_loop_t *loop, struct sl_deadlines *set, unsigned granularity_ms)
{
    *set = (struct sl_deadlines){.granularity_ms = granularity_ms ? granularity_ms : 1,
                                 .armed_tick = UINT64_MAX};
    for (unsigned i = 0; i < SLOTS; i++)
        sl_list_init(&set->slot[i]);
    sl_list_init(&set->later);
    int rc = uv_timer_init(loop, &set->timer);
    set->timer.data = set;
    set->now_tick = uv_now(loop) / set->granularity_ms;
    return rc;
}

void sl_deadlines_close(struct sl_deadlines *set, void *data, uv_close_cb close_cb)
{
    assert(set->count == 0);
    uv_timer_stop(&set->timer);
    set->timer.data = data;
    uv_close((uv_handle_t *)&set->timer, close_cb);
}

void sl_deadline_start(struct sl_deadlines *set, struct sl_deadline *d, uint64_t ms,
                       sl_deadline_cb cb)
{
    if (sl_deadline_armed(d))
        unlink_deadline(d);
    uint64_t g = set->granularity_ms, now = now_ms(set);
    if (!set->sweeping && set->now_tick < now / g) {
        /* the wheel turns only when the timer fires: catch up to now, but
         * not past work that is still to do (a due slot, a cascade) */
        uint64_t next = set->count ? next_tick(set) : UINT64_MAX;
        set->now_tick = next < now / g ? next : now / g;
    }
    d->set = set;
    d->cb = cb;
    d->due = (now + ms + g - 1) / g; /* rounded up: never early */
    place(set, d);
    set->count++;
    set->stats.started++;
    if (set->sweeping)
        return; /* the sweep re-arms when it ends */
    uint64_t t = d->in_wheel ? d->due : cascade_tick(set);
    if (t < set->armed_tick)
        arm(set, t);
}

void sl_deadline_stop(struct sl_deadline *d)
{
    if (!sl_deadline_armed(d))
        return;
    struct sl_deadlines *set = d->set;
    unlink_deadline(d);
    if (set->count == 0 && !set->sweeping)
        rearm(set); /* stops the timer: nothing left to keep the loop alive */
}
