/* Task groups: gather and fail-fast policies on a real loop. */
#include <stdlib.h>

#include "../sleep_task.h"
#include "../support.h"
#include "core/taskgroup.h"

static void close_tasks(struct sleep_task *t, int n)
{
    for (int i = 0; i < n; i++)
        uv_close((uv_handle_t *)&t[i].timer, NULL);
}

/* Group completion bookkeeping. */
static int done_calls;
static double done_ms;
static uint64_t t0;
static struct sleep_task *watched;
static int nwatched;
static int alive_at_done; /* a timer was still armed when on_done ran */

static void group_done(struct sl_task_group *group)
{
    done_calls++;
    done_ms = sl_test_ms_since(t0);
    alive_at_done = nwatched > 0 && uv_loop_alive(watched[0].timer.loop);
    cr_assert_eq(group->pending, 0, "on_done with %zu task(s) pending", group->pending);
    for (int i = 0; i < nwatched; i++)
        cr_assert(watched[i].task.finished, "task %d unfinished at on_done", i);
}

static void reset(struct sleep_task *t, int n)
{
    done_calls = 0;
    done_ms = 0;
    watched = t;
    nwatched = n;
    t0 = uv_hrtime();
}

Test(taskgroup, gather_runs_every_task_to_its_end)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[5];
    const int fail[5] = {0, UV_EIO, 0, UV_ECONNRESET, 0};
    for (int i = 0; i < 5; i++)
        sleep_init(&loop, &t[i], 10 * (uint64_t)(i + 1), fail[i]);

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    uv_update_time(&loop);
    reset(t, 5);
    for (int i = 0; i < 5; i++)
        sl_group_spawn(&g, &t[i].task);
    cr_assert_eq(g.spawned, 5);
    cr_assert_eq(g.pending, 5);
    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.failed, 2);
    cr_assert_eq(g.pending, 0);
    cr_assert_eq(g.status, UV_EIO, "GATHER reports the first error seen");
    cr_assert_eq(g.first_failed, &t[1].task);
    for (int i = 0; i < 5; i++) {
        cr_assert(t[i].task.finished);
        cr_assert_eq(t[i].task.status, fail[i], "task %d status %s", i,
                     uv_err_name(t[i].task.status));
        cr_assert_eq(t[i].cancel_calls, 0, "GATHER must not cancel task %d", i);
        /* libuv's clock is in whole ms: allow a timer to fire a little early. */
        cr_assert_geq(t[i].ran_ms, (double)t[i].ms - 3, "task %d ran %.1f ms", i, t[i].ran_ms);
    }
    cr_assert_geq(done_ms, 45.0, "on_done after %.1f ms, before the slowest task", done_ms);

    close_tasks(t, 5);
    sl_test_close_loop(&loop);
}

/* Ten 100 ms tasks in one group overlap on one thread (this replaces the
 * plain-libuv timer demonstration, now examples/timers.c). Overlap is
 * asserted by order, not by a ceiling on the total: every task started
 * before the first one ended. */
Test(taskgroup, gather_overlaps_its_tasks)
{
    enum { NTASKS = 10, TASK_MS = 100 };
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[NTASKS];
    for (int i = 0; i < NTASKS; i++)
        sleep_init(&loop, &t[i], TASK_MS, 0);

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    uv_update_time(&loop);
    reset(t, NTASKS);
    for (int i = 0; i < NTASKS; i++)
        sl_group_spawn(&g, &t[i].task);
    sl_group_wait(&g, group_done);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.failed, 0);
    uint64_t last_start = 0, first_end = UINT64_MAX;
    for (int i = 0; i < NTASKS; i++) {
        cr_assert_eq(t[i].task.status, 0);
        cr_assert_geq(t[i].ran_ms, TASK_MS - 3.0, "task %d ran %.1f ms", i, t[i].ran_ms);
        uint64_t end = t[i].started_ns + (uint64_t)(t[i].ran_ms * 1e6);
        if (t[i].started_ns > last_start)
            last_start = t[i].started_ns;
        if (end < first_end)
            first_end = end;
    }
    cr_assert_lt(last_start, first_end, "a task started only after another had ended");
    cr_assert_geq(done_ms, TASK_MS - 3.0, "on_done after %.1f ms", done_ms);

    close_tasks(t, NTASKS);
    sl_test_close_loop(&loop);
}

Test(taskgroup, fail_fast_cancels_unfinished_siblings)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[5];
    sleep_init(&loop, &t[0], 10, 0);
    sleep_init(&loop, &t[1], 20, UV_EIO);
    sleep_init(&loop, &t[2], 60000, 0);
    sleep_init(&loop, &t[3], 61000, UV_EPIPE);
    sleep_init(&loop, &t[4], 62000, 0);

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_FAIL_FAST, NULL);
    uv_update_time(&loop);
    reset(t, 5);
    for (int i = 0; i < 5; i++)
        sl_group_spawn(&g, &t[i].task);
    sl_group_wait(&g, group_done);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.status, UV_EIO, "group status %s", uv_err_name(g.status));
    cr_assert_eq(g.first_failed, &t[1].task);
    cr_assert_eq(t[0].task.status, 0, "finished before the failure: untouched");
    cr_assert_eq(t[0].cancel_calls, 0);
    cr_assert_eq(t[1].task.status, UV_EIO);
    cr_assert_eq(t[1].cancel_calls, 0);
    for (int i = 2; i < 5; i++) {
        cr_assert_eq(t[i].cancel_calls, 1, "task %d cancelled %d times", i, t[i].cancel_calls);
        cr_assert_eq(t[i].task.status, UV_ECANCELED, "task %d status %s", i,
                     uv_err_name(t[i].task.status));
        cr_assert_lt(t[i].ran_ms, (double)t[i].ms, "task %d ran its full time", i);
    }
    /* Not before the failing task's 20 ms. That it did not wait for the
     * siblings' minute is proved by state, not by a ceiling on done_ms: when
     * on_done ran, no sibling's timer was armed any more. */
    cr_assert_geq(done_ms, 15.0);
    cr_assert_not(alive_at_done, "a cancelled sibling's timer was still armed at on_done");

    close_tasks(t, 5);
    sl_test_close_loop(&loop);
}

Test(taskgroup, fail_fast_waits_for_cancelled_tasks_to_finish)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    sleep_init(&loop, &t[0], 10, UV_ETIMEDOUT);
    sleep_init(&loop, &t[1], 60000, 0);
    sleep_init(&loop, &t[2], 60000, 0);
    t[1].cancel_delay_ms = 30; /* cancel is acknowledged later */

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_FAIL_FAST, NULL);
    uv_update_time(&loop);
    reset(t, 3);
    for (int i = 0; i < 3; i++)
        sl_group_spawn(&g, &t[i].task);
    sl_group_wait(&g, group_done);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.status, UV_ETIMEDOUT);
    cr_assert_eq(t[1].task.status, UV_ECANCELED);
    cr_assert_eq(t[2].task.status, UV_ECANCELED);
    cr_assert_geq(done_ms, 35.0, "on_done ran before the slow cancel finished (%.1f ms)", done_ms);
    cr_assert_not(alive_at_done, "a cancelled task's timer was still armed at on_done");

    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

Test(taskgroup, wait_after_everything_finished_calls_on_done_at_once)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    for (int i = 0; i < 3; i++)
        sleep_init(&loop, &t[i], 2 + (uint64_t)i, i == 1 ? UV_EIO : 0);

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    reset(t, 3);
    for (int i = 0; i < 3; i++)
        sl_group_spawn(&g, &t[i].task);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(g.pending, 0);
    cr_assert_eq(done_calls, 0, "on_done must wait for sl_group_wait");

    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 1, "on_done runs from sl_group_wait");
    cr_assert_eq(g.failed, 1);
    cr_assert_eq(g.status, UV_EIO);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(done_calls, 1);

    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

Test(taskgroup, empty_group_is_done_at_wait)
{
    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_FAIL_FAST, NULL);
    reset(NULL, 0);
    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.status, 0);
    cr_assert_eq(g.failed, 0);
    cr_assert_null(g.first_failed);
}

Test(taskgroup, task_finishing_inside_start)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    sleep_init(&loop, &t[0], 0, 0);
    t[0].sync = 1;
    sleep_init(&loop, &t[1], 0, UV_EINVAL);
    t[1].sync = 1;
    sleep_init(&loop, &t[2], 15, 0);

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    reset(t, 3);
    sl_group_spawn(&g, &t[0].task);
    cr_assert(t[0].task.finished);
    cr_assert_eq(g.pending, 0);
    sl_group_spawn(&g, &t[1].task);
    sl_group_spawn(&g, &t[2].task);
    cr_assert_eq(g.pending, 1);
    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 0, "one task still pending");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.spawned, 3);
    cr_assert_eq(g.failed, 1);
    cr_assert_eq(g.status, UV_EINVAL);
    cr_assert_eq(t[0].task.status, 0);
    cr_assert_eq(t[2].task.status, 0);

    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

Test(taskgroup, all_tasks_synchronous)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[4];
    for (int i = 0; i < 4; i++) {
        sleep_init(&loop, &t[i], 0, 0);
        t[i].sync = 1;
    }
    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    reset(t, 4);
    for (int i = 0; i < 4; i++)
        sl_group_spawn(&g, &t[i].task);
    cr_assert_eq(done_calls, 0, "no on_done before sl_group_wait");
    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.failed, 0);
    cr_assert_eq(g.status, 0);
    close_tasks(t, 4);
    sl_test_close_loop(&loop);
}

Test(taskgroup, fail_fast_sync_failure_cancels_running_and_later_tasks)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    sleep_init(&loop, &t[0], 60000, 0);  /* running when t[1] fails */
    sleep_init(&loop, &t[1], 0, UV_EIO); /* fails inside start */
    t[1].sync = 1;
    sleep_init(&loop, &t[2], 60000, 0); /* spawned into a failed group */

    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_FAIL_FAST, NULL);
    reset(t, 3);
    sl_group_spawn(&g, &t[0].task);
    sl_group_spawn(&g, &t[1].task);
    cr_assert(t[0].task.finished, "the running sibling is cancelled synchronously");
    cr_assert_eq(t[0].task.status, UV_ECANCELED);
    sl_group_spawn(&g, &t[2].task);
    cr_assert_eq(t[2].start_calls, 1);
    cr_assert_eq(t[2].cancel_calls, 1, "a task spawned after the failure is cancelled at once");
    cr_assert(t[2].task.finished);
    cr_assert_eq(t[2].task.status, UV_ECANCELED);
    cr_assert_eq(g.pending, 0);
    cr_assert_eq(done_calls, 0);

    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(g.status, UV_EIO);
    cr_assert_eq(g.first_failed, &t[1].task);

    cr_assert_not(uv_loop_alive(&loop), "a cancelled task's timer was left running");
    uv_run(&loop, UV_RUN_DEFAULT);
    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

Test(taskgroup, explicit_cancel)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    sleep_init(&loop, &t[0], 1, 0);
    sleep_init(&loop, &t[1], 60000, 0);
    sleep_init(&loop, &t[2], 60000, 0);
    struct sl_task_group g;
    sl_group_init(&g, SL_GROUP_GATHER, NULL);
    uv_update_time(&loop);
    reset(t, 3);
    for (int i = 0; i < 3; i++)
        sl_group_spawn(&g, &t[i].task);
    sl_group_wait(&g, group_done);
    /* Let the quick one finish, then cancel the group. The loop is turned
     * without blocking: a blocking turn once waited for the 60 s timers
     * (CI, a loaded machine), and then every task had finished. */
    while (!t[0].task.finished)
        uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(done_calls, 0);
    sl_group_cancel(&g);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(t[0].cancel_calls, 0, "finished tasks are not cancelled");
    cr_assert_eq(t[0].task.status, 0);
    cr_assert_eq(t[1].task.status, UV_ECANCELED);
    cr_assert_eq(t[2].task.status, UV_ECANCELED);
    cr_assert_eq(g.status, UV_ECANCELED);
    /* on_done runs once: neither a second cancel nor a second wait repeats it. */
    sl_group_cancel(&g);
    sl_group_wait(&g, group_done);
    cr_assert_eq(done_calls, 1);
    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

/* on_done may free the group. */
static int freed;

static void free_group(struct sl_task_group *group)
{
    freed++;
    free(group);
}

static void run_freeing_group(enum sl_group_policy policy, const int *status)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task t[3];
    for (int i = 0; i < 3; i++)
        sleep_init(&loop, &t[i], 5 * (uint64_t)(i + 1), status[i]);
    struct sl_task_group *g = malloc(sizeof(*g));
    cr_assert_not_null(g);
    sl_group_init(g, policy, NULL);
    freed = 0;
    for (int i = 0; i < 3; i++)
        sl_group_spawn(g, &t[i].task);
    sl_group_wait(g, free_group);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(freed, 1);
    for (int i = 0; i < 3; i++)
        cr_assert(t[i].task.finished);
    close_tasks(t, 3);
    sl_test_close_loop(&loop);
}

Test(taskgroup, on_done_may_free_the_group_gather)
{
    const int status[3] = {0, UV_EIO, 0};
    run_freeing_group(SL_GROUP_GATHER, status);
}

Test(taskgroup, on_done_may_free_the_group_fail_fast)
{
    const int status[3] = {0, UV_EIO, 0};
    run_freeing_group(SL_GROUP_FAIL_FAST, status);
}
