#include <criterion/criterion.h>
#include <string.h>

#include "gateway/auth.h"

Test(gw_auth, sha256_known_answer)
{
    char hex[65];
    sl_sha256_hex("hello", 5, hex);
    cr_assert_str_eq(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

Test(gw_auth, bearer_tokens_match_by_digest)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    struct sl_gw_key keys[2] = {{"a", {0}}, {"b", {0}}};
    sl_sha256("sk-a", 4, keys[0].sha256);
    sl_sha256("sk-b", 4, keys[1].sha256);
    cfg.keys = keys;
    cfg.nkeys = 2;
    struct sl_str ok = {"Bearer sk-b", 11}, lower = {"bearer sk-a", 11};
    struct sl_str wrong = {"Bearer sk-c", 11}, basic = {"Basic abc", 9}, empty = {"Bearer ", 7};
    cr_assert_eq(sl_gw_auth(&cfg, &ok), 1);
    cr_assert_eq(sl_gw_auth(&cfg, &lower), 0);
    cr_assert_eq(sl_gw_auth(&cfg, &wrong), -2);
    cr_assert_eq(sl_gw_auth(&cfg, &basic), -1);
    cr_assert_eq(sl_gw_auth(&cfg, &empty), -1);
    cr_assert_eq(sl_gw_auth(&cfg, NULL), -1);
}

/* With keys, only /health and /ready are open (and /metrics when the
 * config says so); before, /metrics and /v1/models answered anyone. */
Test(gw_auth, which_routes_need_a_key)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    for (int r = SL_GW_ROUTE_API; r <= SL_GW_ROUTE_READY; r++)
        cr_assert_not(sl_gw_needs_key(&cfg, (enum sl_gw_route)r), "no keys, route %d", r);
    struct sl_gw_key key = {"a", {1}};
    cfg.keys = &key;
    cfg.nkeys = 1;
    cr_assert(sl_gw_needs_key(&cfg, SL_GW_ROUTE_API));
    cr_assert(sl_gw_needs_key(&cfg, SL_GW_ROUTE_MODELS));
    cr_assert(sl_gw_needs_key(&cfg, SL_GW_ROUTE_METRICS));
    cr_assert_not(sl_gw_needs_key(&cfg, SL_GW_ROUTE_HEALTH));
    cr_assert_not(sl_gw_needs_key(&cfg, SL_GW_ROUTE_READY));
    cfg.metrics_public = 1;
    cr_assert_not(sl_gw_needs_key(&cfg, SL_GW_ROUTE_METRICS));
}

/* A request is cancelled only by the key that started it: not by another
 * key, a wrong one (-2) or none (-1). */
Test(gw_auth, only_the_owner_may_cancel)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    cr_assert(sl_gw_may_cancel(&cfg, -1, -1), "without keys anyone may cancel");
    struct sl_gw_key keys[2] = {{"a", {1}}, {"b", {2}}};
    cfg.keys = keys;
    cfg.nkeys = 2;
    cr_assert(sl_gw_may_cancel(&cfg, 0, 0));
    cr_assert(sl_gw_may_cancel(&cfg, 1, 1));
    cr_assert_not(sl_gw_may_cancel(&cfg, 0, 1));
    cr_assert_not(sl_gw_may_cancel(&cfg, 0, -1));
    cr_assert_not(sl_gw_may_cancel(&cfg, 0, -2));
    cr_assert_not(sl_gw_may_cancel(&cfg, -1, -1), "a request without a key under auth");
}
