/* Helpers shared by the unit tests. */
#ifndef SL_TEST_SUPPORT_H
#define SL_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A fresh directory for one test: "/tmp/sluice-NAME-XXXXXX", made in dir
 * (at least 64 bytes). */
static inline void sl_test_mkdtemp(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/sluice-%s-XXXXXX", name);
    cr_assert_not_null(mkdtemp(dir));
}

/* Removes a directory made by sl_test_mkdtemp, with everything in it. */
static inline void sl_test_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static inline double sl_test_ms_since(uint64_t start_ns)
{
    return (double)(uv_hrtime() - start_ns) / 1e6;
}

#endif
