#include "core/taskgroup.h"

void sl_group_init(struct sl_task_group *group, enum sl_group_policy policy, void *data)
{
    *group = (struct sl_task_group){.policy = policy, .data = data};
    sl_list_init(&group->tasks);
}

static void maybe_done(struct sl_task_group *group)
{
    if (!group->waiting || group->pending > 0 || group->cancelling || group->done_called)
        return;
    group->done_called = 1;
    group->on_done(group);
}

void sl_group_cancel(struct sl_task_group *group)
{
    group->cancelling++;
    struct sl_list *node;
    for (node = group->tasks.next; node != &group->tasks; node = node->next) {
        struct sl_task *task = sl_container_of(node, struct sl_task, group_node);
        if (!task->finished)
            sl_task_cancel(task);
    }
    group->cancelling--;
    maybe_done(group);
}

static void on_member_done(struct sl_task *task)
{
    struct sl_task_group *group = task->owner;
    group->pending--;
    if (task->status != 0) {
        group->failed++;
        if (group->first_failed == NULL) {
            group->first_failed = task;
            group->status = task->status;
            if (group->policy == SL_GROUP_FAIL_FAST) {
                sl_group_cancel(group);
                return;
            }
        }
    }
    maybe_done(group);
}

void sl_group_spawn(struct sl_task_group *group, struct sl_task *task)
{
    task->owner = group;
    sl_list_push_back(&group->tasks, &task->group_node);
    group->spawned++;
    group->pending++;
    group->cancelling++; /* a task that finishes inside start must not end the group early */
    sl_task_start(task, on_member_done);
    if (group->policy == SL_GROUP_FAIL_FAST && group->first_failed && !task->finished)
        sl_task_cancel(task);
    group->cancelling--;
}

void sl_group_wait(struct sl_task_group *group, void (*on_done)(struct sl_task_group *))
{
    group->on_done = on_done;
    group->waiting = 1;
    maybe_done(group);
}
