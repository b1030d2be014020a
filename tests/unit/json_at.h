/* Reading test outputs: a value by its dotted path ("choices.0.message"),
 * raw or decoded, and the check that a text is one JSON value. Shared by
 * the provider translation tests (test_anthropic.c, test_messages_front.c). */
#ifndef SL_TEST_JSON_AT_H
#define SL_TEST_JSON_AT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_scan.h"
#include "http/json_walk.h"

static inline void assert_json(const char *text, size_t len)
{
    struct sl_json_doc doc;
    cr_assert_eq(sl_json_scan(text, len, &doc), 0, "not JSON (%s at %zu): %.*s", doc.error,
                 doc.error_at, (int)len, text);
}

/* The value at a dotted path ("choices.0.message.content"), or an empty
 * value when there is none. */
static inline struct sl_json_value at(const char *json, const char *path)
{
    struct sl_json_value v = sl_json_value_of(json, strlen(json));
    char seg[64];
    while (*path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof(seg), "%.*s", (int)n, path);
        path += n + (path[n] == '.');
        struct sl_json_walk w;
        if (sl_json_enter(&w, &v) != 0)
            return (struct sl_json_value){NULL, NULL};
        struct sl_json_value k, item;
        int found = 0;
        if (*v.start == '[') {
            for (long i = strtol(seg, NULL, 10); sl_json_next_item(&w, &item); i--)
                if (i == 0) {
                    found = 1;
                    break;
                }
        } else {
            while (sl_json_next_member(&w, &k, &item))
                if (sl_json_key_is(&k, seg)) {
                    found = 1;
                    break;
                }
        }
        if (!found)
            return (struct sl_json_value){NULL, NULL};
        v = item;
    }
    return v;
}

/* The raw text at path (strings with their quotes), in a static buffer. */
static inline const char *raw(const char *json, const char *path)
{
    static char out[4096];
    struct sl_json_value v = at(json, path);
    if (v.start == NULL)
        return "(none)";
    snprintf(out, sizeof(out), "%.*s", (int)(v.end - v.start), v.start);
    return out;
}

/* The decoded string at path. */
static inline const char *str(const char *json, const char *path)
{
    static char out[4096];
    struct sl_json_value v = at(json, path);
    struct sl_buf b;
    sl_buf_init(&b, sizeof(out) - 1);
    if (v.start == NULL || sl_json_string(&v, &b) != 0) {
        sl_buf_release(&b);
        return "(none)";
    }
    snprintf(out, sizeof(out), "%s", b.ptr ? b.ptr : "");
    sl_buf_release(&b);
    return out;
}

#endif
