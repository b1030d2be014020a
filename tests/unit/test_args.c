#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdint.h>

#include "cli/args.h"

TestSuite(args, .init = cr_redirect_stderr);

Test(args, numbers_within_bounds)
{
    uint64_t v;
    unsigned u;
    double d;
    cr_assert_eq(sl_parse_u64("t", "--n", "42", 0, 100, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sl_parse_u64("t", "--n", "101", 0, 100, &v), -1);
    cr_assert_eq(sl_parse_u64("t", "--n", "-5", 0, 100, &v), -1);
    cr_assert_eq(sl_parse_u64("t", "--n", "+5", 0, 100, &v), -1);
    cr_assert_eq(sl_parse_u64("t", "--n", "5x", 0, 100, &v), -1);
    cr_assert_eq(sl_parse_u64("t", "--n", "", 0, 100, &v), -1);
    cr_assert_eq(sl_parse_u64("t", "--n", "99999999999999999999999", 0, UINT64_MAX, &v), -1);
    cr_assert_eq(sl_parse_unsigned("t", "--c", "0", 1, 10, &u), -1);
    cr_assert_eq(sl_parse_double("t", "--p", "0.25", 0, 1, &d), 0);
    cr_assert_float_eq(d, 0.25, 1e-12);
    cr_assert_eq(sl_parse_double("t", "--p", "1.0001", 0, 1, &d), -1);
    cr_assert_eq(sl_parse_double("t", "--p", "nan", 0, 1, &d), -1);
    cr_assert_eq(sl_parse_double("t", "--p", "0.5.", 0, 1, &d), -1);
}

Test(args, ranges)
{
    unsigned lo, hi;
    cr_assert_eq(sl_parse_range_ms("t", "--l", "100-500", 10000, &lo, &hi), 0);
    cr_assert_eq(lo, 100);
    cr_assert_eq(hi, 500);
    cr_assert_eq(sl_parse_range_ms("t", "--l", "7", 10000, &lo, &hi), 0);
    cr_assert(lo == 7 && hi == 7);
    cr_assert_eq(sl_parse_range_ms("t", "--l", "0-0", 10000, &lo, &hi), 0);
    static const char *const bad[] = {"",    "-",     "100-",  "-100", "a-b",
                                      "5-3", "1-2-3", "1 - 2", "20000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_eq(sl_parse_range_ms("t", "--l", bad[i], 10000, &lo, &hi), -1, "'%s'", bad[i]);
}

Test(args, flags_with_and_without_equals)
{
    static const struct sl_flag flags[] = {{"--a", 1, 1}, {"--b", 0, 2}, {NULL, 0, 0}};
    char *argv[] = {"--a", "x", "--b", "--a=y", "pos", "--zzz"};
    int i = 0;
    const char *v;
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), 1);
    cr_assert_str_eq(v, "x");
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), 2);
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), 1);
    cr_assert_str_eq(v, "y");
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), 'P');
    cr_assert_str_eq(v, "pos");
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), -1);
    cr_assert_eq(sl_args_next(6, argv, &i, flags, "t", 1, &v), 0);

    char *missing[] = {"--a"};
    i = 0;
    cr_assert_eq(sl_args_next(1, missing, &i, flags, "t", 0, &v), -1);
    char *valued[] = {"--b=1"};
    i = 0;
    cr_assert_eq(sl_args_next(1, valued, &i, flags, "t", 0, &v), -1);
}
