#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gateway/auth.h"
#include "gateway/keyring.h"

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
    struct sl_gw_keyring *ring = sl_gw_keyring_new(&cfg);
    cr_assert_not_null(ring);
    int why = 0;
    struct sl_gw_key_entry *k = sl_gw_keyring_find(ring, &ok, &why);
    cr_assert(k && !strcmp(k->s.name, "b"));
    k = sl_gw_keyring_find(ring, &lower, &why);
    cr_assert(k && !strcmp(k->s.name, "a"));
    cr_assert_null(sl_gw_keyring_find(ring, &wrong, &why));
    cr_assert_eq(why, -2);
    cr_assert_null(sl_gw_keyring_find(ring, &basic, &why));
    cr_assert_eq(why, -1);
    cr_assert_null(sl_gw_keyring_find(ring, &empty, &why));
    cr_assert_eq(why, -1);
    cr_assert_null(sl_gw_keyring_find(ring, NULL, &why));
    cr_assert_eq(why, -1);
    sl_gw_keyring_free(ring);
}

/* A database key changes in place (its limits' state stays) and a rotated
 * secret stops working at once; revoked, disabled and expired keys are
 * found but not usable; model patterns. */
Test(gw_auth, keyring_updates_in_place)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    struct sl_gw_keyring *ring = sl_gw_keyring_new(&cfg);
    struct sl_gw_key_settings s = {
        .id = "key_1", .name = "v", .enabled = 1, .rpm = 5, .models = "gpt-4o*,o3"};
    sl_sha256("sk-old", 6, s.sha256);
    struct sl_gw_key_entry *k = sl_gw_keyring_put(ring, &s);
    struct sl_str old = {"Bearer sk-old", 13}, fresh = {"Bearer sk-new", 13};
    int why;
    cr_assert_eq(sl_gw_keyring_find(ring, &old, &why), k);
    struct sl_gw_refusal no;
    cr_assert_eq(sl_gw_key_allows(k, (struct sl_str){"gpt-4o-mini", 11}, &no), 0);
    cr_assert_eq(sl_gw_key_allows(k, (struct sl_str){"o3", 2}, &no), 0);
    cr_assert_eq(sl_gw_key_allows(k, (struct sl_str){"o3-mini", 7}, &no), -1);
    cr_assert_eq(no.status, 403);
    k->in_flight = 2;
    sl_sha256("sk-new", 6, s.sha256);
    s.rpm = 7;
    cr_assert_eq(sl_gw_keyring_put(ring, &s), k, "the same entry");
    cr_assert_eq(k->in_flight, 2u, "its state stays");
    cr_assert_eq(k->rate.rpm.limit, 7u);
    cr_assert_null(sl_gw_keyring_find(ring, &old, &why), "the old secret is gone");
    cr_assert_eq(sl_gw_keyring_find(ring, &fresh, &why), k);
    cr_assert_eq(sl_gw_key_usable(k, 1000, &no), 0);
    s.expires_us = 1000;
    sl_gw_keyring_put(ring, &s);
    cr_assert_eq(sl_gw_key_usable(k, 999, &no), 0);
    cr_assert_eq(sl_gw_key_usable(k, 1000, &no), -1);
    cr_assert_eq(no.status, 401);
    s.expires_us = 0;
    s.revoked = 1;
    sl_gw_keyring_put(ring, &s);
    cr_assert_eq(sl_gw_key_usable(k, 1000, &no), -1);
    cr_assert_eq(sl_gw_keyring_count(ring), 1u);
    /* many keys: found through the hash, growing */
    for (int i = 0; i < 300; i++) {
        struct sl_gw_key_settings t = {.enabled = 1};
        snprintf(t.id, sizeof t.id, "key_x%d", i);
        snprintf(t.name, sizeof t.name, "x%d", i);
        sl_sha256(t.id, strlen(t.id), t.sha256);
        cr_assert_not_null(sl_gw_keyring_put(ring, &t));
    }
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "Bearer key_x%d", 123);
    struct sl_gw_key_entry *f = sl_gw_keyring_find(ring, &(struct sl_str){hdr, (size_t)n}, &why);
    cr_assert(f && !strcmp(f->s.name, "x123"));
    sl_gw_keyring_free(ring);
}

/* max_parallel, then RPM and TPM all or nothing; settle sets the
 * reservation right and frees the slot. */
Test(gw_auth, key_admission)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    struct sl_gw_keyring *ring = sl_gw_keyring_new(&cfg);
    struct sl_gw_key_settings s = {.name = "k", .enabled = 1, .max_parallel = 2, .tpm = 1000};
    struct sl_gw_key_entry *k = sl_gw_keyring_put(ring, &s);
    struct sl_gw_key_ticket a, b, c;
    struct sl_gw_refusal no;
    cr_assert_eq(sl_gw_key_admit(k, 1000000, 0, 600, &a, &no), 0);
    cr_assert_eq(sl_gw_key_admit(k, 1000000, 0, 600, &b, &no), -1, "tpm: 1200 > 1000");
    cr_assert_eq(no.limit, SL_GW_LIMIT_TPM);
    cr_assert_eq(no.status, 429);
    cr_assert_str_eq(no.code, "rate_limit_exceeded");
    cr_assert_geq(no.retry_after_s, 59u);
    cr_assert_eq(k->refusals[SL_GW_LIMIT_TPM], 1u);
    sl_gw_key_settle(k, 2000000, &a, 100); /* used 100 of the 600 reserved */
    cr_assert_eq(k->in_flight, 0u);
    cr_assert_eq(sl_gw_key_admit(k, 2000000, 0, 600, &b, &no), 0);
    cr_assert_eq(sl_gw_key_admit(k, 2000000, 0, 200, &c, &no), 0);
    struct sl_gw_key_ticket d;
    cr_assert_eq(sl_gw_key_admit(k, 2000000, 0, 1, &d, &no), -1);
    cr_assert_eq(no.limit, SL_GW_LIMIT_PARALLEL);
    cr_assert_eq(sl_gw_key_admit(k, 2000000, 0, 5000, &d, &no), -1);
    sl_gw_key_settle(k, 3000000, &b, 600);
    sl_gw_key_settle(k, 3000000, &c, 200);
    cr_assert_eq(sl_gw_key_admit(k, 3000000, 0, 5000, &d, &no), -1, "more than a minute's worth");
    cr_assert_eq(no.limit, SL_GW_LIMIT_TPM);

    /* a daily budget: refused once spent, until the next UTC midnight */
    s = (struct sl_gw_key_settings){
        .name = "b", .enabled = 1, .budget_usd = 1.0, .period = SL_KEY_DAILY};
    struct sl_gw_key_entry *bk = sl_gw_keyring_put(ring, &s);
    int64_t noon = (int64_t)1796126400 * 1000000; /* 2026-12-01T12:00:00Z */
    sl_gw_key_charge(bk, noon, 0.6, 10, 20);
    cr_assert_eq(sl_gw_key_admit(bk, 4000000, noon, 1, &d, &no), 0);
    sl_gw_key_settle(bk, 4000000, &d, 1);
    sl_gw_key_charge(bk, noon, 0.5, 10, 20);
    bk->spend.period_start_us = noon - 12 * 3600 * 1000000ll; /* the last sync's: today */
    bk->spend.db_usd = 0.25;
    cr_assert_float_eq(sl_gw_key_spent(bk, noon), 1.35, 1e-9);
    int64_t tomorrow = noon + 24 * 3600 * 1000000ll;
    cr_assert_float_eq(sl_gw_key_spent(bk, tomorrow), 0, 1e-9,
                       "yesterday's spend does not count tomorrow");
    /* charged just before and just after midnight: each in its own day */
    int64_t midnight = noon + 12 * 3600 * 1000000ll;
    sl_gw_key_charge(bk, midnight - 1, 0.25, 1, 1);
    sl_gw_key_charge(bk, midnight + 1, 0.125, 1, 1);
    cr_assert_float_eq(sl_gw_key_spent(bk, midnight - 1), 1.6, 1e-9, "today: 0.25 + 1.1 + 0.25");
    cr_assert_float_eq(sl_gw_key_spent(bk, midnight + 1), 0.125, 1e-9, "tomorrow");
    cr_assert_float_eq(bk->spend.prev.usd, 1.35, 1e-9, "today's charges wait to be written");
    cr_assert_eq(bk->spend.prev.requests, 3u);
    cr_assert_float_eq(bk->spend.now.usd, 0.125, 1e-9);
    bk->spend.db_usd = 0;
    cr_assert_eq(sl_gw_key_admit(bk, 4000000, noon, 1, &d, &no), -1);
    cr_assert_eq(no.limit, SL_GW_LIMIT_BUDGET);
    cr_assert_str_eq(no.code, "insufficient_quota");
    cr_assert_eq(no.retry_after_s, 12u * 3600, "until midnight: %u", no.retry_after_s);
    sl_gw_keyring_free(ring);
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
 * key, a wrong one or none (NULL). */
Test(gw_auth, only_the_owner_may_cancel)
{
    struct sl_gw_config cfg;
    sl_gw_config_init(&cfg);
    cr_assert(sl_gw_may_cancel(&cfg, NULL, NULL), "without keys anyone may cancel");
    struct sl_gw_key keys[2] = {{"a", {1}}, {"b", {2}}};
    cfg.keys = keys;
    cfg.nkeys = 2;
    int a, b;
    cr_assert(sl_gw_may_cancel(&cfg, &a, &a));
    cr_assert(sl_gw_may_cancel(&cfg, &b, &b));
    cr_assert_not(sl_gw_may_cancel(&cfg, &a, &b));
    cr_assert_not(sl_gw_may_cancel(&cfg, &a, NULL));
    cr_assert_not(sl_gw_may_cancel(&cfg, NULL, NULL), "a request without a key under auth");
}
