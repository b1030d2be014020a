/* Deadlines: many timeouts of one owner on one libuv timer.
 *
 * Design
 *  - An owner (the HTTP server for its connections, the gateway for its
 *    requests' queue waits and retry backoffs) keeps one struct
 *    sl_deadlines; each object that may time out embeds a struct
 *    sl_deadline (intrusive: arming one costs no allocation and no
 *    handle). Setting, moving and stopping a deadline are O(1) list moves;
 *    the uv_timer_t is started only when the earliest deadline of the set
 *    comes earlier than the one it is armed for (rare in steady state: a
 *    new deadline is usually later than the set's earliest) and when it
 *    fires. A request no longer initialises and closes timer handles, and
 *    a keep-alive connection no longer restarts one per request.
 *  - Time is counted in ticks of `granularity_ms` on the loop's clock
 *    (uv_now). A deadline of ms fires once uv_now >= its due tick, which is
 *    rounded UP: never earlier than asked, and late by at most one
 *    granularity plus however late the loop turns (the same tolerance as a
 *    uv timer at granularity 1 ms, what both owners use).
 *  - A timing wheel of SL_DEADLINE_SLOTS slots holds the deadlines due in
 *    the next SLOTS ticks (slot = due % SLOTS; a bitmap of the slots that
 *    are not empty finds the earliest one); a deadline further away waits
 *    on `later` and moves into the wheel when the wheel comes within reach
 *    of it (later_min: a lower bound of the dues on `later`).
 *  - Invariants: every deadline in slot i has due % SLOTS == i and
 *    now_tick <= due < now_tick + SLOTS; every deadline on `later` has due
 *    >= later_min. `count` is the number armed; the uv timer is active iff
 *    count > 0 (armed for the earliest tick that has work).
 *  - Callbacks run from the sweep, one at a time; a callback may start or
 *    stop any deadline of the set (its own included). A deadline started
 *    from inside the sweep fires no sooner than the next tick.
 *  - Ownership: the owner owns the set and closes it with
 *    sl_deadlines_close() once no deadline is armed (asserted); the set's
 *    memory goes only from the close callback. Objects own their
 *    sl_deadline and must stop it before they are freed. */
#ifndef SL_DEADLINES_H
#define SL_DEADLINES_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"

#define SL_DEADLINE_SLOTS 256

struct sl_deadline;
typedef void (*sl_deadline_cb)(struct sl_deadline *d);

struct sl_deadline {
    struct sl_list node; /* in a slot or on `later`; unlinked when not armed */
    struct sl_deadlines *set;
    uint64_t due; /* in ticks */
    sl_deadline_cb cb;
    int in_wheel;
};

struct sl_deadlines_stats {
    uint64_t started; /* deadlines set (started or moved) */
    uint64_t fired;
    uint64_t timer_starts; /* uv_timer_start calls of the set's one timer */
};

struct sl_deadlines {
    uv_timer_t timer;
    unsigned granularity_ms;
    uint64_t now_tick;   /* ticks before it are swept */
    uint64_t armed_tick; /* what the timer is armed for; UINT64_MAX: stopped */
    int sweeping;
    size_t count;
    uint64_t bits[SL_DEADLINE_SLOTS / 64];
    struct sl_list slot[SL_DEADLINE_SLOTS];
    struct sl_list later;
    uint64_t later_min;
    struct sl_deadlines_stats stats;
};

int sl_deadlines_init(uv_loop_t *loop, struct sl_deadlines *set, unsigned granularity_ms);

/* Closes the set's timer; no deadline may be armed. Free the set (or what
 * embeds it) only from close_cb, whose handle's data is `data`. */
void sl_deadlines_close(struct sl_deadlines *set, void *data, uv_close_cb close_cb);

static inline void sl_deadline_init(struct sl_deadline *d)
{
    d->node.next = d->node.prev = NULL;
    d->set = NULL;
}

/* Arms d to call cb once, ms from the loop's current time (moves it if it
 * was armed). */
void sl_deadline_start(struct sl_deadlines *set, struct sl_deadline *d, uint64_t ms,
                       sl_deadline_cb cb);

/* Disarms d; nothing when it is not armed. */
void sl_deadline_stop(struct sl_deadline *d);

static inline int sl_deadline_armed(const struct sl_deadline *d)
{
    return sl_list_linked(&d->node);
}

#endif
