/* Fuzz target: the JSON scanner (src/http/json_scan.c) and the OpenAI
 * request validator built on it (src/http/openai.c), which see every
 * request body a client sends.
 *
 * Checked: the scanner stays inside the text; the members it reports lie
 * in the text and have the type their first byte says; the validator
 * answers every endpoint with 0 or a known code and a one-line message;
 * and sl_json_escape of any text, in quotes, is a JSON string that the
 * scanner accepts. The decision itself is compared with jansson by the
 * differential test tests/unit/test_diff_json.c over this corpus. */
#include <string.h>

#include "fuzz.h"
#include "http/openai.h"

static int inside(struct sl_str s, const char *buf, size_t len)
{
    return s.len == 0 || (s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static void check_member(const struct sl_json_member *m, const char *buf, size_t len)
{
    FUZZ_CHECK(inside(m->key, buf, len) && inside(m->value, buf, len));
    if (m->type == SL_JSON_STRING) {
        FUZZ_CHECK(m->value.ptr > buf && m->value.ptr[-1] == '"');
        FUZZ_CHECK(m->value.ptr[m->value.len] == '"');
        return;
    }
    FUZZ_CHECK(m->value.len > 0);
    char c = m->value.ptr[0];
    switch (m->type) {
    case SL_JSON_OBJECT:
        FUZZ_CHECK(c == '{' && m->value.ptr[m->value.len - 1] == '}');
        break;
    case SL_JSON_ARRAY:
        FUZZ_CHECK(c == '[' && m->value.ptr[m->value.len - 1] == ']');
        if (m->items == 0) /* empty: only whitespace between the brackets */
            for (size_t i = 1; i + 1 < m->value.len; i++)
                FUZZ_CHECK(strchr(" \t\r\n", m->value.ptr[i]) != NULL);
        break;
    case SL_JSON_NUMBER:
        FUZZ_CHECK(c == '-' || (c >= '0' && c <= '9'));
        break;
    case SL_JSON_TRUE:
        FUZZ_CHECK(m->value.len == 4 && !memcmp(m->value.ptr, "true", 4));
        break;
    case SL_JSON_FALSE:
        FUZZ_CHECK(m->value.len == 5 && !memcmp(m->value.ptr, "false", 5));
        break;
    case SL_JSON_NULL:
        FUZZ_CHECK(m->value.len == 4 && !memcmp(m->value.ptr, "null", 4));
        break;
    default:
        FUZZ_CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);

    struct sl_json_doc doc;
    struct sl_json_pick picks[] = {
        {.key = "model"}, {.key = "messages"}, {.key = "stream"}, {.key = "a"}, {.key = ""}};
    size_t npicks = sizeof(picks) / sizeof(*picks);
    int rc = sl_json_scan_pick(text, size, &doc, picks, npicks);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(doc.error_at <= size);
    if (rc == 0) {
        FUZZ_CHECK(doc.type == SL_JSON_OBJECT || doc.nmembers == 0);
        for (size_t i = 0; i < npicks; i++) {
            struct sl_json_member again;
            int found = sl_json_get(&doc, picks[i].key, &again);
            /* a pick made during the scan and a later walk agree */
            FUZZ_CHECK(found == picks[i].found);
            if (found) {
                check_member(&picks[i].m, text, size);
                FUZZ_CHECK(again.value.ptr == picks[i].m.value.ptr &&
                           again.value.len == picks[i].m.value.len);
            }
        }
    }

    for (int ep = 0; ep < SL_OAI__COUNT; ep++) {
        struct sl_openai_req req;
        const char *code = NULL;
        char msg[160];
        int r =
            sl_openai_parse(text, size, (enum sl_openai_endpoint)ep, &req, &code, msg, sizeof(msg));
        if (r == 0) {
            FUZZ_CHECK(rc == 0 && doc.type == SL_JSON_OBJECT);
            FUZZ_CHECK(inside(req.model, text, size) && req.model.len > 0 && req.model.len < 128);
            FUZZ_CHECK(inside(req.input.value, text, size));
            FUZZ_CHECK(ep != SL_OAI_EMBEDDINGS || req.stream == 0);
        } else {
            FUZZ_CHECK(r == -1 && code != NULL);
            FUZZ_CHECK(!strcmp(code, "invalid_json") || !strcmp(code, "missing_model") ||
                       !strcmp(code, "missing_field"));
            FUZZ_CHECK(strchr(msg, '\n') == NULL);
            FUZZ_CHECK(rc == 0 || !strcmp(code, "invalid_json"));
        }
    }

    /* escape the text (up to its first NUL) and scan it as a string */
    char *z = malloc(size + 1);
    memcpy(z, data, size);
    z[size] = '\0';
    size_t cap = 6 * size + 16;
    char *q = malloc(cap + 2);
    q[0] = '"';
    size_t n = sl_json_escape(q + 1, cap, z);
    FUZZ_CHECK(n == strlen(q + 1) && n < cap);
    q[n + 1] = '"';
    struct sl_json_doc sdoc;
    FUZZ_CHECK(sl_json_scan(q, n + 2, &sdoc) == 0 && sdoc.type == SL_JSON_STRING);
    free(q);
    free(z);
    free(text);
    return 0;
}
