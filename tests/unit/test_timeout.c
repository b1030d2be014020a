/* wait_for: a task under a deadline, on a real loop. */
#include "../sleep_task.h"
#include "../support.h"
#include "core/timeout.h"

/* The outer side: records how the wait_for ended. */
struct outcome {
    int calls;
    int status;
    void *result;
    uint64_t t0;
    double elapsed_ms;
};

static struct outcome out;

static void wf_done(struct sl_task *task)
{
    out.calls++;
    out.status = task->status;
    out.result = task->result;
    out.elapsed_ms = sl_test_ms_since(out.t0);
}

static void start_wf(struct sl_wait_for *wf)
{
    out = (struct outcome){.t0 = uv_hrtime()};
    sl_task_start(&wf->task, wf_done);
}

/* Runs the loop until the wait_for finished, then asserts that nothing is
 * left to wait for: no deadline timer, no inner timer still armed. This is
 * the proof that nothing waited out its full time, where a ceiling on the
 * elapsed time would break on a loaded machine. */
static void run_until_done(uv_loop_t *loop)
{
    while (out.calls == 0)
        uv_run(loop, UV_RUN_ONCE);
    cr_assert_not(uv_loop_alive(loop), "a timer still holds the loop after the wait_for ended");
    uv_run(loop, UV_RUN_DEFAULT);
}

Test(timeout, slow_operation_times_out_and_is_cancelled)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 60000, 0);
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 100), 0);

    uv_update_time(&loop);
    start_wf(&wf);
    cr_assert_eq(out.calls, 0);
    run_until_done(&loop);

    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT, "status %s", uv_err_name(out.status));
    cr_assert(wf.timed_out);
    cr_assert(wf.task.finished);
    cr_assert_eq(op.cancel_calls, 1, "the inner task must be cancelled");
    cr_assert(op.task.finished);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    /* Not before the deadline; the order (deadline, then the inner cancel)
     * is proved by the statuses above, not by a ceiling a loaded machine
     * can break. */
    cr_assert_geq(out.elapsed_ms, 90.0, "gave up after %.1f ms", out.elapsed_ms);

    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}

static int the_result = 42;

Test(timeout, fast_operation_passes_status_and_result_through)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 10, 0);
    op.end_result = &the_result;
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 500), 0);

    uv_update_time(&loop);
    start_wf(&wf);
    run_until_done(&loop); /* the 500 ms deadline timer was stopped */

    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, 0, "status %s", uv_err_name(out.status));
    cr_assert_eq(out.result, &the_result);
    cr_assert_eq(*(int *)wf.task.result, 42);
    cr_assert_not(wf.timed_out);
    cr_assert_eq(op.cancel_calls, 0);
    cr_assert_eq(op.task.status, 0);
    cr_assert_geq(out.elapsed_ms, 7.0); /* 10 ms, on libuv's whole-ms clock */

    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}

Test(timeout, inner_error_passes_through)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 5, 0);
    op.end_status = UV_ECONNREFUSED;
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 500), 0);
    start_wf(&wf);
    run_until_done(&loop);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ECONNREFUSED);
    cr_assert_not(wf.timed_out);
    cr_assert_eq(op.cancel_calls, 0);
    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}

Test(timeout, inner_finishing_inside_start)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 0, 0);
    op.sync = 1;
    op.end_result = &the_result;
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 60000), 0);
    start_wf(&wf);
    cr_assert_eq(out.calls, 1, "finished within sl_task_start");
    cr_assert_eq(out.status, 0);
    cr_assert_eq(out.result, &the_result);
    cr_assert_not(uv_is_active((uv_handle_t *)&wf.timer), "deadline timer must be stopped");
    run_until_done(&loop);
    cr_assert_eq(out.calls, 1);
    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}

Test(timeout, waits_for_the_inner_cancel_to_be_acknowledged)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 60000, 0);
    op.cancel_delay_ms = 40;
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 30), 0);
    uv_update_time(&loop);
    start_wf(&wf);
    run_until_done(&loop);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_eq(op.cancel_calls, 1);
    /* Finished only after the clean-up: deadline (30) + clean-up (40). */
    cr_assert_geq(out.elapsed_ms, 65.0, "finished after %.1f ms", out.elapsed_ms);
    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}

static uv_timer_t canceller;

static void cancel_wf_cb(uv_timer_t *timer)
{
    sl_task_cancel(timer->data);
}

Test(timeout, cancelling_the_wait_for_cancels_the_inner_task)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 60000, 0);
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 50000), 0);
    cr_assert_eq(uv_timer_init(&loop, &canceller), 0);
    canceller.data = &wf.task;
    uv_update_time(&loop);
    start_wf(&wf);
    uv_timer_start(&canceller, cancel_wf_cb, 20, 0);
    run_until_done(&loop);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ECANCELED, "status %s", uv_err_name(out.status));
    cr_assert_not(wf.timed_out);
    cr_assert_eq(op.cancel_calls, 1);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_not(uv_is_active((uv_handle_t *)&wf.timer));
    sl_wait_for_close(&wf, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    uv_close((uv_handle_t *)&canceller, NULL);
    sl_test_close_loop(&loop);
}

Test(timeout, nested_wait_for_composes)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 60000, 0);
    struct sl_wait_for inner, outer;
    cr_assert_eq(sl_wait_for_init(&loop, &inner, &op.task, 50000), 0);
    cr_assert_eq(sl_wait_for_init(&loop, &outer, &inner.task, 50), 0);
    uv_update_time(&loop);
    start_wf(&outer);
    run_until_done(&loop);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT);
    cr_assert(outer.timed_out);
    cr_assert_not(inner.timed_out);
    cr_assert_eq(inner.task.status, UV_ECANCELED);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_geq(out.elapsed_ms, 45.0);
    sl_wait_for_close(&outer, NULL);
    sl_wait_for_close(&inner, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}
