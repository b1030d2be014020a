/* Task groups: start many tasks, learn when all have finished.
 *
 * Two policies, as in Python:
 *  - SL_GROUP_GATHER: every task runs to its end; afterwards each task's
 *    status and result are read from the tasks themselves (asyncio.gather
 *    with return_exceptions=True).
 *  - SL_GROUP_FAIL_FAST: the first task that fails (status != 0) cancels all
 *    unfinished siblings; the group reports that first error (TaskGroup).
 *
 * The group never owns or frees the tasks; it links them through their
 * group_node. on_done runs once, after sl_group_wait() was called and every
 * spawned task has finished (at once, from sl_group_wait, if none is
 * pending). It may free the group and the tasks. */
#ifndef SL_TASKGROUP_H
#define SL_TASKGROUP_H

#include <stddef.h>

#include "core/task.h"

enum sl_group_policy { SL_GROUP_GATHER, SL_GROUP_FAIL_FAST };

struct sl_task_group {
    enum sl_group_policy policy;
    struct sl_list tasks;
    size_t spawned, pending, failed;
    int status;                   /* FAIL_FAST: first error; GATHER: 0 or the first error seen */
    struct sl_task *first_failed; /* NULL if none failed */
    int waiting, cancelling, done_called;
    void (*on_done)(struct sl_task_group *group);
    void *data;
};

void sl_group_init(struct sl_task_group *group, enum sl_group_policy policy, void *data);

/* Starts the task now as a member of the group. Spawning into a fail-fast
 * group that has already failed cancels the new task at once. */
void sl_group_spawn(struct sl_task_group *group, struct sl_task *task);

/* Cancels every unfinished task of the group. */
void sl_group_cancel(struct sl_task_group *group);

/* Arms on_done; call after the last spawn. */
void sl_group_wait(struct sl_task_group *group, void (*on_done)(struct sl_task_group *));

#endif
