#include <criterion/criterion.h>
#include <string.h>

#include "http/json_scan.h"

static int scan(const char *s, struct sl_json_doc *doc)
{
    return sl_json_scan(s, strlen(s), doc);
}

Test(json_scan, top_level_members)
{
    struct sl_json_doc doc;
    const char *body = " {\"model\":\"gpt-4o\", \"stream\": true, \"max_tokens\": 12,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"},{}],"
                       "\"temperature\":-1.5e-3, \"n\":null, \"stop\":false} ";
    cr_assert_eq(scan(body, &doc), 0);
    cr_assert_eq(doc.type, SL_JSON_OBJECT);
    const struct sl_json_member *m = sl_json_get(&doc, "model");
    cr_assert_not_null(m);
    cr_assert_eq(m->type, SL_JSON_STRING);
    cr_assert(sl_str_eq(m->value, "gpt-4o"));
    cr_assert_eq(sl_json_get(&doc, "stream")->type, SL_JSON_TRUE);
    cr_assert(sl_str_eq(sl_json_get(&doc, "max_tokens")->value, "12"));
    cr_assert_eq(sl_json_get(&doc, "messages")->type, SL_JSON_ARRAY);
    cr_assert_eq(sl_json_get(&doc, "messages")->items, 2);
    cr_assert_eq(sl_json_get(&doc, "temperature")->type, SL_JSON_NUMBER);
    cr_assert_eq(sl_json_get(&doc, "n")->type, SL_JSON_NULL);
    cr_assert_eq(sl_json_get(&doc, "stop")->type, SL_JSON_FALSE);
    /* nested members are not top-level */
    cr_assert_null(sl_json_get(&doc, "role"));
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
    cr_assert_eq(sl_json_scan(deep + 100, 100, &doc), 0); /* 50 deep is fine */
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
