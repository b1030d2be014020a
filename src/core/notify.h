/* A wake-up of the loop from another thread.
 *
 * Why not uv_async_t: in libuv 1.44 (Debian 12) uv_async_send() writes
 * the loop's eventfd and only then marks the send finished; when the
 * sender shares a core with the loop, the write wakes the loop, the loop
 * preempts the sender inside that window, finds the send unfinished and
 * spins (997 pauses, then sched_yield, again) until the sender runs. With a
 * background thread at low priority that spin repeats many times: measured
 * 0.37 sched_yield calls per proxied request (docs/benchmarks.md, issue 12).
 * Here the sender writes an eventfd of its own as its last step, so there
 * is no window to wait for.
 *
 * Sends are coalesced: a send while one is still unseen writes nothing.
 * Anything published (under the caller's own lock) before sl_notify_send()
 * is seen by the callback that follows it. */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <stdatomic.h>
#include <uv.h>

struct sl_notify {
    uv_poll_t poll;
    int fd;
    atomic_int armed; /* a write is on its way: later sends skip theirs */
    void (*cb)(struct sl_notify *n);
    void (*close_cb)(struct sl_notify *n);
    void *data;
};

/* Returns 0 or a negative uv error. cb runs on the loop thread. */
int sl_notify_init(uv_loop_t *loop, struct sl_notify *n, void (*cb)(struct sl_notify *n));
/* Any thread. Never blocks. */
void sl_notify_send(struct sl_notify *n);
/* Loop thread; close_cb runs once the handle and the eventfd are closed
 * (n may be freed there). */
void sl_notify_close(struct sl_notify *n, void (*close_cb)(struct sl_notify *n));

#endif
