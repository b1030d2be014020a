#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/json_scan.h"

static int scan(const char *s, struct sl_json_doc *doc)
{
    return sl_json_scan(s, strlen(s), doc);
}

static struct sl_json_member get(const struct sl_json_doc *doc, const char *key)
{
    struct sl_json_member m;
    cr_assert_eq(sl_json_get(doc, key, &m), 1, "no member %s", key);
    return m;
}

Test(json_scan, top_level_members)
{
    struct sl_json_doc doc;
    const char *body = " {\"model\":\"gpt-4o\", \"stream\": true, \"max_tokens\": 12,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"},{}],"
                       "\"temperature\":-1.5e-3, \"n\":null, \"stop\":false} ";
    cr_assert_eq(scan(body, &doc), 0);
    cr_assert_eq(doc.type, SL_JSON_OBJECT);
    cr_assert_eq(doc.nmembers, 7);
    struct sl_json_member m = get(&doc, "model");
    cr_assert_eq(m.type, SL_JSON_STRING);
    cr_assert(sl_str_eq(m.value, "gpt-4o"));
    cr_assert_eq(get(&doc, "stream").type, SL_JSON_TRUE);
    cr_assert(sl_str_eq(get(&doc, "max_tokens").value, "12"));
    cr_assert_eq(get(&doc, "messages").type, SL_JSON_ARRAY);
    cr_assert_eq(get(&doc, "messages").items, 2);
    cr_assert_eq(get(&doc, "temperature").type, SL_JSON_NUMBER);
    cr_assert_eq(get(&doc, "n").type, SL_JSON_NULL);
    cr_assert_eq(get(&doc, "stop").type, SL_JSON_FALSE);
    /* nested members are not top-level */
    cr_assert_eq(sl_json_get(&doc, "role", &m), 0);
}

/* Before, only the first 32 members were kept and a later "model" was
 * silently missing: a valid request answered 400. There is no cap now. */
Test(json_scan, no_member_is_dropped_however_many_come_first)
{
    static char body[1 << 20];
    for (int before = 0; before <= 5000; before += before < 40 ? 1 : 997) {
        size_t n = (size_t)snprintf(body, sizeof(body), "{");
        for (int i = 0; i < before; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "\"k%d\":%d,", i, i);
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\"model\":\"m%d\",\"last\":[1,2]}",
                              before);
        struct sl_json_doc doc;
        struct sl_json_pick picks[3] = {{.key = "last"}, {.key = "model"}, {.key = "absent"}};
        cr_assert_eq(sl_json_scan_pick(body, n, &doc, picks, 3), 0);
        cr_assert_eq(doc.nmembers, (size_t)before + 2);
        cr_assert(picks[0].found && picks[0].m.items == 2, "before=%d", before);
        cr_assert(picks[1].found, "model after %d members was not found", before);
        char want[16];
        snprintf(want, sizeof(want), "m%d", before);
        cr_assert(sl_str_eq(picks[1].m.value, want));
        cr_assert_not(picks[2].found);
        cr_assert(sl_str_eq(get(&doc, "model").value, want));
    }
}

Test(json_scan, the_first_of_duplicate_members_is_picked)
{
    struct sl_json_doc doc;
    struct sl_json_pick pick = {.key = "model"};
    const char *body = "{\"model\":\"a\",\"model\":\"b\"}";
    cr_assert_eq(sl_json_scan_pick(body, strlen(body), &doc, &pick, 1), 0);
    cr_assert(pick.found && sl_str_eq(pick.m.value, "a"));
    /* a failed scan finds nothing */
    cr_assert_eq(sl_json_scan_pick("{\"model\":\"a\",", 12, &doc, &pick, 1), -1);
    cr_assert_not(pick.found);
    cr_assert_str_eq(doc.error, "invalid JSON");
}

Test(json_scan, invalid_documents)
{
    static const char *const bad[] = {
        "",      "{",       "{\"a\":}",    "{\"a\" 1}", "[1,]",    "{\"a\":1,}",
        "01",    "1.",      "-",           "tru",       "\"\\x\"", "\"abc",
        "{} {}", "{'a':1}", "\"\\u12g4\"", "[1 2]",     "\"a\tb\""};
    struct sl_json_doc doc;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_eq(scan(bad[i], &doc), -1, "accepted: %s", bad[i]);
}

Test(json_scan, depth_is_bounded)
{
    char deep[300];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    struct sl_json_doc doc;
    cr_assert_eq(sl_json_scan(deep, 300, &doc), -1);
    cr_assert_str_eq(doc.error, "nested deeper than 64 levels"); /* said, not silent */
    cr_assert_eq(sl_json_scan(deep + 100, 100, &doc), 0);        /* 50 deep is fine */
}

Test(json_scan, scalars_and_arrays_at_top)
{
    struct sl_json_doc doc;
    cr_assert_eq(scan("[1, 2.5, \"x\", [true]]", &doc), 0);
    cr_assert_eq(doc.type, SL_JSON_ARRAY);
    cr_assert_eq(doc.nmembers, 0);
    cr_assert_eq(scan("  -0.0e+10 ", &doc), 0);
    cr_assert_eq(doc.type, SL_JSON_NUMBER);
}
