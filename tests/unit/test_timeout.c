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

Test(timeout, slow_operation_times_out_and_is_cancelled)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sleep_task op;
    sleep_init(&loop, &op, 1000, 0);
    struct sl_wait_for wf;
    cr_assert_eq(sl_wait_for_init(&loop, &wf, &op.task, 100), 0);

    uv_update_time(&loop);
    start_wf(&wf);
    cr_assert_eq(out.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT, "status %s", uv_err_name(out.status));
    cr_assert(wf.timed_out);
    cr_assert(wf.task.finished);
    cr_assert_eq(op.cancel_calls, 1, "the inner task must be cancelled");
    cr_assert(op.task.finished);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_geq(out.elapsed_ms, 90.0, "gave up after %.1f ms", out.elapsed_ms);
    cr_assert_lt(out.elapsed_ms, 600.0, "gave up after %.1f ms", out.elapsed_ms);
    cr_assert_lt(op.ran_ms, 600.0, "inner ran %.1f ms", op.ran_ms);

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
    uv_run(&loop, UV_RUN_DEFAULT);
    double run_ms = sl_test_ms_since(out.t0);

    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, 0, "status %s", uv_err_name(out.status));
    cr_assert_eq(out.result, &the_result);
    cr_assert_eq(*(int *)wf.task.result, 42);
    cr_assert_not(wf.timed_out);
    cr_assert_eq(op.cancel_calls, 0);
    cr_assert_eq(op.task.status, 0);
    cr_assert_geq(out.elapsed_ms, 7.0); /* 10 ms, on libuv's whole-ms clock */
    /* The deadline timer was stopped: the loop did not wait the 500 ms. */
    cr_assert_not(uv_is_active((uv_handle_t *)&wf.timer));
    cr_assert_lt(run_ms, out.elapsed_ms + 250.0, "loop ran %.1f ms after the op's %.1f ms", run_ms,
                 out.elapsed_ms);

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
    uv_run(&loop, UV_RUN_DEFAULT);
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
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_lt(sl_test_ms_since(t0), 5000.0);
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
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_eq(op.cancel_calls, 1);
    /* Finished only after the clean-up: deadline (30) + clean-up (40). */
    cr_assert_geq(out.elapsed_ms, 65.0, "finished after %.1f ms", out.elapsed_ms);
    cr_assert_lt(out.elapsed_ms, 5000.0);
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
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ECANCELED, "status %s", uv_err_name(out.status));
    cr_assert_not(wf.timed_out);
    cr_assert_eq(op.cancel_calls, 1);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_lt(out.elapsed_ms, 5000.0, "took %.1f ms", out.elapsed_ms);
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
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.status, UV_ETIMEDOUT);
    cr_assert(outer.timed_out);
    cr_assert_not(inner.timed_out);
    cr_assert_eq(inner.task.status, UV_ECANCELED);
    cr_assert_eq(op.task.status, UV_ECANCELED);
    cr_assert_geq(out.elapsed_ms, 45.0);
    cr_assert_lt(out.elapsed_ms, 5000.0);
    sl_wait_for_close(&outer, NULL);
    sl_wait_for_close(&inner, NULL);
    uv_close((uv_handle_t *)&op.timer, NULL);
    sl_test_close_loop(&loop);
}
