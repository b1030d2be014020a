/* The price table: the shipped one parses and finds models by name and by
 * dated name, costs add up, and a bad table is refused with its line. */
#include <criterion/criterion.h>
#include <string.h>

#include "limits/prices.h"

static struct sl_price find(const char *model)
{
    struct sl_price p;
    cr_assert_eq(sl_price_find(sl_price_table_builtin(), model, &p), 1, "%s not found", model);
    return p;
}

Test(prices, the_shipped_table_finds_models)
{
    cr_assert_not_null(sl_price_table_builtin());
    struct sl_price p = find("gpt-4o-mini");
    cr_assert_float_eq(p.input, 0.15, 1e-9);
    cr_assert_float_eq(p.cached_input, 0.075, 1e-9);
    cr_assert_float_eq(p.output, 0.6, 1e-9);
    p = find("openai/gpt-4o-mini-2024-07-18"); /* a provider prefix and a dated name */
    cr_assert_float_eq(p.input, 0.15, 1e-9);
    p = find("claude-sonnet-4-20250514"); /* by the longest prefix */
    cr_assert_float_eq(p.input, 3, 1e-9);
    cr_assert_float_eq(p.output, 15, 1e-9);
    struct sl_price none;
    cr_assert_eq(sl_price_find(sl_price_table_builtin(), "my-own-llama", &none), 0);
}

Test(prices, cost_of_a_request)
{
    struct sl_price p = {.input = 0.15, .cached_input = 0.075, .output = 0.6};
    /* 1M prompt tokens, 200k of them cached, 100k completion */
    cr_assert_float_eq(sl_price_cost(&p, 1000000, 200000, 100000), 0.12 + 0.015 + 0.06, 1e-12);
    struct sl_price no_cache = {.input = 2, .cached_input = -1, .output = 8};
    cr_assert_float_eq(sl_price_cost(&no_cache, 1000, 1000, 0), 0.002, 1e-12);
    cr_assert_float_eq(sl_price_cost(&p, 10, 50, 0), 10 * 0.075 / 1e6, 1e-15, "cached <= prompt");
}

Test(prices, a_table_of_our_own)
{
    const char text[] = "# comment\n"
                        "x\tequals\tm1\t1\t-\t2\thttps://example\n"
                        "x\tstarts_with\tm\t5\t0.5\t6\t\n"
                        "x\tstarts_with\tm1-\t7\t0.7\t8\n";
    struct sl_price_table *t;
    char err[128];
    cr_assert_eq(sl_price_table_parse(text, strlen(text), &t, err, sizeof err), 0, "%s", err);
    struct sl_price p;
    cr_assert_eq(sl_price_find(t, "m1", &p), 1);
    cr_assert_float_eq(p.input, 1, 1e-9, "an exact name beats every prefix");
    cr_assert(p.cached_input < 0);
    cr_assert_eq(sl_price_find(t, "m1-2025", &p), 1);
    cr_assert_float_eq(p.input, 7, 1e-9, "the longest prefix wins");
    cr_assert_eq(sl_price_find(t, "mx", &p), 1);
    cr_assert_float_eq(p.input, 5, 1e-9);
    sl_price_table_free(t);
}

Test(prices, a_bad_table_is_refused_with_its_line)
{
    const char *bad[] = {"x\tequals\tm\t1\t-\n", "x\tlike\tm\t1\t-\t2\n",
                         "x\tequals\tm\tcheap\t-\t2\n", "x\tequals\t\t1\t-\t2\n",
                         "x\tequals\tm\t-1\t-\t2\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_price_table *t;
        char err[128] = "";
        cr_assert_eq(sl_price_table_parse(bad[i], strlen(bad[i]), &t, err, sizeof err), -1, "%s",
                     bad[i]);
        cr_assert(strncmp(err, "line 1: ", 8) == 0, "%s", err);
    }
}

/* The config's prices come first: an exact name, else the longest prefix
 * ending in '*'; anything else from the table. */
Test(prices, config_rules_before_the_table)
{
    struct sl_price_rule rules[] = {
        {"gpt-4o", {1, 0.5, 2}},
        {"my-*", {3, -1, 4}},
        {"my-big-*", {5, -1, 6}},
    };
    struct sl_price p;
    cr_assert(sl_price_find_with(rules, 3, NULL, "gpt-4o", &p));
    cr_assert_float_eq(p.input, 1, 1e-12);
    cr_assert(sl_price_find_with(rules, 3, NULL, "my-model", &p));
    cr_assert_float_eq(p.output, 4, 1e-12);
    cr_assert(sl_price_find_with(rules, 3, NULL, "my-big-model", &p));
    cr_assert_float_eq(p.output, 6, 1e-12);
    cr_assert_not(sl_price_find_with(rules, 3, NULL, "gpt-4o-mini", &p));
    const struct sl_price_table *t = sl_price_table_builtin();
    cr_assert(sl_price_find_with(rules, 3, t, "gpt-4o-mini", &p), "from the built-in table");
    cr_assert(p.input > 0);
}
