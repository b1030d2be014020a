/* Helpers shared by the unit tests. */
#ifndef SL_TEST_SUPPORT_H
#define SL_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <uv.h>

static void sl_test_count_handle(uv_handle_t *handle, void *arg)
{
    if (!uv_is_closing(handle))
        (*(int *)arg)++;
}

/* Asserts that every handle was closed, then closes the loop: the test's
 * proof that nothing was left open (libuv's MAKE_VALGRIND_HAPPY). */
static inline void sl_test_close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(loop, sl_test_count_handle, &open);
    cr_assert_eq(open, 0, "%d handle(s) left open", open);
    cr_assert_eq(uv_loop_close(loop), 0, "uv_loop_close failed: handles or requests still alive");
}

static inline double sl_test_ms_since(uint64_t start_ns)
{
    return (double)(uv_hrtime() - start_ns) / 1e6;
}

#endif
