/* core/str.h: the formatters that replace snprintf on the loop's
 * per-request path, against snprintf itself. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>

#include "core/str.h"

Test(str, fmt_uint_matches_printf)
{
    const uint64_t values[] = {
        0, 1, 9, 10, 99, 100, 12345, 4294967295u, 4294967296u, UINT64_MAX / 10, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
        char got[21], want[32];
        size_t n = sl_fmt_uint(got, values[i]);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%" PRIu64, values[i]);
        cr_assert_str_eq(got, want);
    }
}

Test(str, fmt_hex64_matches_printf)
{
    const uint64_t values[] = {0, 1, 0xabcdef, 0x0123456789abcdefu, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
        char got[17], want[32];
        sl_fmt_hex64(got, values[i]);
        got[16] = '\0';
        snprintf(want, sizeof(want), "%016" PRIx64, values[i]);
        cr_assert_str_eq(got, want);
    }
}

Test(str, copy_cuts_to_fit_and_terminates)
{
    char dst[6];
    memset(dst, 'x', sizeof(dst));
    sl_str_copy(dst, sizeof(dst), "hello world");
    cr_assert_str_eq(dst, "hello");
    sl_str_copy(dst, sizeof(dst), "hi");
    cr_assert_str_eq(dst, "hi");
    sl_str_copy(dst, 1, "abc");
    cr_assert_str_eq(dst, "");
}
