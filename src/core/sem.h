/* Async counting semaphore with a FIFO wait queue.
 *
 * Design
 *  - A permit is either available (counted in `available`) or held. When a
 *    permit is released and someone waits, it is handed straight to the head
 *    of the queue, so waiters are served strictly in arrival order and a
 *    late try_acquire can never barge past them.
 *  - Waiters are intrusive: the caller owns the sl_sem_waiter and must keep
 *    it alive until its callback ran or sl_sem_cancel() returned 0.
 *  - A waiter's callback runs exactly once, or never if it was cancelled
 *    while still queued. Status 0 means the permit is now held by the
 *    waiter and must be released with sl_sem_release(); any other status
 *    (UV_ETIMEDOUT) means no permit was granted.
 *  - Callbacks run synchronously from sl_sem_release() (the hand-over) or
 *    from the waiter's timer (or deadline). A callback must not release synchronously in
 *    a way that recurses without bound; starting async work is the norm.
 */
#ifndef SL_SEM_H
#define SL_SEM_H

#include <stddef.h>
#include <uv.h>

#include "core/deadlines.h"
#include "core/list.h"

struct sl_sem_waiter;
typedef void (*sl_sem_cb)(struct sl_sem_waiter *waiter, int status);

struct sl_sem {
    unsigned capacity;
    unsigned available;
    unsigned max_held; /* high-water mark of permits held at once */
    size_t queued;
    struct sl_list waiters;
};

struct sl_sem_timed_waiter;

struct sl_sem_waiter {
    struct sl_list node;
    sl_sem_cb cb;
    struct sl_sem *sem;
    struct sl_sem_timed_waiter *timed; /* non-NULL for a timed wait */
};

/* A waiter with a timeout, for acquire-with-timeout. Either with a timer of
 * its own: initialise it once with sl_sem_timed_init(), close it with
 * sl_sem_timed_close() and free it only from the close callback; or with a
 * deadline in its owner's set (core/deadlines.h, no handle):
 * sl_sem_timed_init_on(), and sl_sem_timed_release() before it is freed.
 * Either way it can be reused for many acquisitions. */
struct sl_sem_timed_waiter {
    struct sl_sem_waiter base;
    uv_timer_t timer;         /* sl_sem_timed_init */
    struct sl_deadlines *set; /* sl_sem_timed_init_on: deadline is in it */
    struct sl_deadline deadline;
};

void sl_sem_init(struct sl_sem *sem, unsigned permits);

static inline unsigned sl_sem_held(const struct sl_sem *sem)
{
    return sem->capacity - sem->available;
}

/* Returns 0 and holds a permit, or UV_EAGAIN when none is free (or others
 * are already queued for one). Never queues. */
int sl_sem_try_acquire(struct sl_sem *sem);

/* Returns 0 when a permit was taken at once (cb is NOT called), or 1 when the
 * waiter was queued and cb will be called later. */
int sl_sem_acquire(struct sl_sem *sem, struct sl_sem_waiter *waiter, sl_sem_cb cb);

int sl_sem_timed_init(uv_loop_t *loop, struct sl_sem_timed_waiter *tw);
void sl_sem_timed_close(struct sl_sem_timed_waiter *tw, uv_close_cb close_cb);
void sl_sem_timed_init_on(struct sl_deadlines *set, struct sl_sem_timed_waiter *tw);
/* Of a waiter made with sl_sem_timed_init_on: leaves the queue if it is in
 * it; the waiter may then be freed. */
void sl_sem_timed_release(struct sl_sem_timed_waiter *tw);

/* Like sl_sem_acquire(), but a queued waiter that got no permit within
 * timeout_ms is removed and its cb receives UV_ETIMEDOUT. */
int sl_sem_acquire_timeout(struct sl_sem *sem, struct sl_sem_timed_waiter *tw, uint64_t timeout_ms,
                           sl_sem_cb cb);

/* Removes a queued waiter. Returns 0 when it was queued (its cb will never
 * run and it holds nothing), UV_ENOENT when it was not queued (its cb already
 * ran: if that granted a permit, the caller still holds it). */
int sl_sem_cancel(struct sl_sem_waiter *waiter);

/* Removes every queued waiter, oldest first, calling cb(waiter,
 * UV_ECANCELED) for each instead of its own callback. Returns how many. */
size_t sl_sem_drain(struct sl_sem *sem, sl_sem_cb cb);

/* Releases one held permit: to the head waiter if any, else to the pool. */
void sl_sem_release(struct sl_sem *sem);

#endif
