/* wait_for: run a task under a deadline.
 *
 * The sl_wait_for is itself a task, so it composes (a task group of
 * timed operations). When the deadline passes first, the inner task is
 * cancelled and the wait_for finishes with UV_ETIMEDOUT once the inner task
 * has acknowledged the cancel; otherwise it finishes with the inner status.
 * It owns one uv_timer: sl_wait_for_init() creates it, sl_wait_for_close()
 * closes it; free the struct only from the close callback. */
#ifndef SL_TIMEOUT_H
#define SL_TIMEOUT_H

#include <stdint.h>
#include <uv.h>

#include "core/task.h"

struct sl_wait_for {
    struct sl_task task; /* the composite: start it with sl_task_start */
    struct sl_task *inner;
    uv_timer_t timer;
    uint64_t timeout_ms;
    int timed_out;
};

int sl_wait_for_init(uv_loop_t *loop, struct sl_wait_for *wf, struct sl_task *inner,
                     uint64_t timeout_ms);
void sl_wait_for_close(struct sl_wait_for *wf, uv_close_cb close_cb);

#endif
