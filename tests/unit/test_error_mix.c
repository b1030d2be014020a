#include <criterion/criterion.h>
#include <string.h>

#include "sim/error_mix.h"

Test(error_mix, default_is_transient_only_and_even)
{
    struct sl_error_mix mix;
    char err[256];
    cr_assert_eq(sl_error_mix_parse(&mix, SL_ERROR_MIX_DEFAULT, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(mix.w.count, 3);
    struct sl_rng rng;
    sl_rng_seed(&rng, 1, 1);
    int counts[SL_E__COUNT] = {0};
    for (int i = 0; i < 30000; i++)
        counts[sl_error_mix_draw(&mix, &rng)]++;
    cr_assert_eq(counts[SL_E_RATE_LIMITED] + counts[SL_E_UNAVAILABLE] + counts[SL_E_TIMEOUT],
                 30000);
    for (int e = SL_E_RATE_LIMITED; e <= SL_E_TIMEOUT; e++)
        cr_assert(counts[e] > 9000 && counts[e] < 11000, "class %d drawn %d times", e, counts[e]);
}

Test(error_mix, weights_codes_and_names)
{
    struct sl_error_mix mix;
    char err[256];
    cr_assert_eq(sl_error_mix_parse(&mix, "429:3,bad_request:1", err, sizeof(err)), 0, "%s", err);
    struct sl_rng rng;
    sl_rng_seed(&rng, 7, 7);
    int rl = 0, br = 0;
    for (int i = 0; i < 40000; i++) {
        enum sl_err e = sl_error_mix_draw(&mix, &rng);
        rl += e == SL_E_RATE_LIMITED;
        br += e == SL_E_BAD_REQUEST;
    }
    cr_assert_eq(rl + br, 40000);
    cr_assert(rl > 29000 && rl < 31000, "rate_limited %d of 40000 for weight 3:1", rl);
    char json[256];
    cr_assert_eq(sl_error_mix_json(&mix, json, sizeof(json)), 0);
    cr_assert_str_eq(json, "{\"rate_limited\":0.75,\"bad_request\":0.25}");
}

Test(error_mix, zero_weight_class_never_drawn)
{
    struct sl_error_mix mix;
    char err[256];
    cr_assert_eq(sl_error_mix_parse(&mix, "503:0,timeout", err, sizeof(err)), 0);
    cr_assert_eq(mix.w.count, 1);
    struct sl_rng rng;
    sl_rng_seed(&rng, 3, 3);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(sl_error_mix_draw(&mix, &rng), SL_E_TIMEOUT);
}

Test(error_mix, bad_specs_are_refused_with_a_reason)
{
    static const char *const bad[] = {"",       "teapot",    "429:",
                                      "429:-1", "429:x",     "429,",
                                      "503:0",  "cancelled", "deadline_exceeded",
                                      "429:inf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct sl_error_mix mix;
        char err[256] = "";
        cr_assert_eq(sl_error_mix_parse(&mix, bad[i], err, sizeof(err)), -1, "'%s' accepted",
                     bad[i]);
        cr_assert_neq(err[0], '\0', "no reason for '%s'", bad[i]);
    }
}
