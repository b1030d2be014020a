/* A task: one asynchronous operation with a uniform start / cancel / done
 * contract, so that timeouts (sl_wait_for) and task groups can compose any
 * operation without knowing what it is.
 *
 * Contract
 *  - The implementer provides ops->start and ops->cancel. start begins the
 *    work; the work ends by calling sl_task_finish() exactly once, with 0 or
 *    a negative uv error (UV_ECANCELED when it was cancelled).
 *  - cancel asks the work to stop. It may finish synchronously (calling
 *    sl_task_finish inside cancel) or later; either way, finish is called
 *    exactly once. Cancelling a finished task does nothing.
 *  - Whoever started the task set `on_done`; it runs from sl_task_finish and
 *    may free the task.
 *  - The task's memory belongs to its creator; composition never frees it. */
#ifndef SL_TASK_H
#define SL_TASK_H

#include "core/list.h"

struct sl_task;

struct sl_task_ops {
    void (*start)(struct sl_task *task);
    void (*cancel)(struct sl_task *task);
};

struct sl_task {
    const struct sl_task_ops *ops;
    void (*on_done)(struct sl_task *task);
    void *owner;  /* the party waiting for it (a group, a wait_for) */
    void *data;   /* the implementer's */
    void *result; /* the implementer's result, valid when status == 0 */
    int status;   /* 0 or a negative uv error, valid once finished */
    int started, finished, cancel_requested;
    struct sl_list group_node;
};

static inline void sl_task_init(struct sl_task *task, const struct sl_task_ops *ops, void *data)
{
    *task = (struct sl_task){.ops = ops, .data = data};
}

static inline void sl_task_start(struct sl_task *task, void (*on_done)(struct sl_task *))
{
    task->on_done = on_done;
    task->started = 1;
    task->ops->start(task);
}

static inline void sl_task_cancel(struct sl_task *task)
{
    if (task->finished || task->cancel_requested)
        return;
    task->cancel_requested = 1;
    task->ops->cancel(task);
}

static inline void sl_task_finish(struct sl_task *task, int status, void *result)
{
    if (task->finished)
        return;
    task->finished = 1;
    task->status = status;
    task->result = result;
    if (task->on_done)
        task->on_done(task);
}

#endif
