#include "core/timeout.h"

static void on_inner_done(struct sl_task *inner)
{
    struct sl_wait_for *wf = inner->owner;
    uv_timer_stop(&wf->timer);
    int status = wf->timed_out ? UV_ETIMEDOUT : inner->status;
    sl_task_finish(&wf->task, status, inner->result);
}

static void on_expire(uv_timer_t *timer)
{
    struct sl_wait_for *wf = timer->data;
    if (wf->inner->finished)
        return;
    wf->timed_out = 1;
    sl_task_cancel(wf->inner);
}

static void wait_for_start(struct sl_task *task)
{
    struct sl_wait_for *wf = task->data;
    wf->timed_out = 0;
    wf->inner->owner = wf;
    uv_timer_start(&wf->timer, on_expire, wf->timeout_ms, 0);
    sl_task_start(wf->inner, on_inner_done);
}

static void wait_for_cancel(struct sl_task *task)
{
    struct sl_wait_for *wf = task->data;
    sl_task_cancel(wf->inner);
}

static const struct sl_task_ops wait_for_ops = {wait_for_start, wait_for_cancel};

int sl_wait_for_init(uv_loop_t *loop, struct sl_wait_for *wf, struct sl_task *inner,
                     uint64_t timeout_ms)
{
    sl_task_init(&wf->task, &wait_for_ops, wf);
    wf->inner = inner;
    wf->timeout_ms = timeout_ms;
    wf->timed_out = 0;
    wf->timer.data = wf;
    int rc = uv_timer_init(loop, &wf->timer);
    wf->timer.data = wf;
    return rc;
}

void sl_wait_for_close(struct sl_wait_for *wf, uv_close_cb close_cb)
{
    uv_close((uv_handle_t *)&wf->timer, close_cb);
}
