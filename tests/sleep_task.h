/* A "sleep task" for the task tests: an operation that takes `ms` on a
 * uv_timer and then ends with `end_status` (and `end_result`). Cancel stops
 * the timer and finishes with UV_ECANCELED, at once or, with
 * cancel_delay_ms, after a simulated clean-up. With `sync` set it finishes
 * inside start. */
#ifndef SL_TEST_SLEEP_TASK_H
#define SL_TEST_SLEEP_TASK_H

#include "core/task.h"
#include "support.h"

struct sleep_task {
    struct sl_task task;
    uv_timer_t timer;
    uint64_t ms;
    uint64_t cancel_delay_ms;
    int end_status;
    void *end_result;
    int sync;
    int start_calls, cancel_calls, done_calls, cleaning;
    uint64_t started_ns;
    double ran_ms;
};

static void sleep_timer_cb(uv_timer_t *timer)
{
    struct sleep_task *st = timer->data;
    st->ran_ms = sl_test_ms_since(st->started_ns);
    if (st->cleaning)
        sl_task_finish(&st->task, UV_ECANCELED, NULL);
    else
        sl_task_finish(&st->task, st->end_status, st->end_result);
}

static void sleep_start(struct sl_task *task)
{
    struct sleep_task *st = task->data;
    st->start_calls++;
    st->started_ns = uv_hrtime();
    if (st->sync) {
        sl_task_finish(task, st->end_status, st->end_result);
        return;
    }
    uv_timer_start(&st->timer, sleep_timer_cb, st->ms, 0);
}

static void sleep_cancel(struct sl_task *task)
{
    struct sleep_task *st = task->data;
    st->cancel_calls++;
    uv_timer_stop(&st->timer);
    if (st->cancel_delay_ms) {
        st->cleaning = 1;
        uv_timer_start(&st->timer, sleep_timer_cb, st->cancel_delay_ms, 0);
        return;
    }
    st->ran_ms = sl_test_ms_since(st->started_ns);
    sl_task_finish(task, UV_ECANCELED, NULL);
}

static const struct sl_task_ops sleep_ops = {sleep_start, sleep_cancel};

static inline void sleep_init(uv_loop_t *loop, struct sleep_task *st, uint64_t ms, int end_status)
{
    *st = (struct sleep_task){.ms = ms, .end_status = end_status};
    sl_task_init(&st->task, &sleep_ops, st);
    cr_assert_eq(uv_timer_init(loop, &st->timer), 0);
    st->timer.data = st;
}

#endif
