/* Differential test: the JSON scanner (http/json_scan) against jansson.
 *
 * Every input of the JSON conformance set (tests/data/json, in the style
 * of JSONTestSuite: y_ must be accepted, n_ refused, i_ either) and of the
 * fuzz seed corpus (tests/fuzz/corpus/json) must get the same accept or
 * refuse decision from both, except in these classes, where RFC 8259
 * leaves the choice to the implementation or sluice limits on purpose:
 *
 *  - utf8:   a string that is not valid UTF-8, or a \u escape that is an
 *            unpaired surrogate. sluice checks JSON syntax and passes the
 *            bytes on to the upstream; jansson decodes them (RFC 8259 8.1,
 *            8.2; JSONTestSuite files these under i_).
 *  - range:  a number too large for a double or an integer. sluice checks
 *            the syntax only (RFC 8259 6 lets implementations set limits).
 *  - depth:  nesting deeper than SL_JSON_MAX_DEPTH (64): sluice refuses on
 *            purpose, to bound its recursion; jansson allows 2048.
 *  - nul:    a raw NUL byte after a value: jansson's reader stops there
 *            and accepts what came before; it is not JSON whitespace, and
 *            sluice refuses it (jansson's quirk, sluice is right).
 *
 * jansson runs with JSON_DECODE_ANY (a top-level scalar is JSON) and
 * JSON_ALLOW_NUL (\u0000 is a valid escape), so that it judges the text by
 * RFC 8259 alone. A valid object's top-level members must all be found,
 * however many there are (issue 8: a cap of 32 silently dropped the rest). */
#include <jansson.h>
#include <stdint.h>

#include "diff_support.h"
#include "http/openai.h"
#include "support.h"

TestSuite(diff_json, .timeout = 60);

static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += len;
    }
    return 1;
}

/* The deepest nesting of brackets outside strings. */
static int max_depth(const char *s, size_t n)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = 0;
        } else if (s[i] == '"') {
            in_str = 1;
        } else if (s[i] == '[' || s[i] == '{') {
            if (++depth > max)
                max = depth;
        } else if (s[i] == ']' || s[i] == '}') {
            depth--;
        }
    }
    return max;
}

struct verdict {
    int sluice, jansson; /* 1 accepted */
    char why[160];       /* jansson's reason when it refused */
};

static struct verdict judge(const char *text, size_t len)
{
    struct verdict v;
    struct sl_json_doc doc;
    v.sluice = sl_json_scan(text, len, &doc) == 0;
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    v.jansson = j != NULL;
    snprintf(v.why, sizeof(v.why), "%s", j ? "" : err.text);
    json_decref(j);
    return v;
}

/* The allowed class of a disagreement, or NULL. */
static const char *allowed(const struct verdict *v, const char *text, size_t len)
{
    if (v->sluice && !v->jansson &&
        (!valid_utf8((const unsigned char *)text, len) || strstr(v->why, "Unicode")))
        return "utf8";
    if (v->sluice && !v->jansson && (strstr(v->why, "overflow") || strstr(v->why, "too big")))
        return "range";
    if (!v->sluice && v->jansson && max_depth(text, len) > SL_JSON_MAX_DEPTH)
        return "depth";
    if (!v->sluice && v->jansson && memchr(text, '\0', len))
        return "nul";
    return NULL;
}

Test(diff_json, conformance_set)
{
    struct diff_file *files;
    size_t n = diff_read_dir("tests/data/json", &files);
    cr_assert_gt(n, 80, "the conformance set is missing (%zu files)", n);
    size_t y = 0, no = 0, i = 0;
    for (size_t k = 0; k < n; k++) {
        struct diff_file *f = &files[k];
        struct verdict v = judge(f->data, f->len);
        if (f->name[0] == 'y') {
            y++;
            cr_expect(v.sluice, "%s: sluice refuses a valid document", f->name);
            cr_expect(v.jansson, "%s: jansson refuses it too (%s): not a y_ case", f->name, v.why);
        } else if (f->name[0] == 'n') {
            no++;
            cr_expect(!v.sluice, "%s: sluice accepts an invalid document", f->name);
            cr_expect(!v.jansson || max_depth(f->data, f->len) > SL_JSON_MAX_DEPTH,
                      "%s: jansson accepts it: not an n_ case", f->name);
        } else {
            i++;
            const char *cls = v.sluice == v.jansson ? "same" : allowed(&v, f->data, f->len);
            cr_expect(cls != NULL, "%s: sluice %s, jansson %s (%s), in no allowed class", f->name,
                      v.sluice ? "accepts" : "refuses", v.jansson ? "accepts" : "refuses", v.why);
        }
    }
    cr_log_info("conformance: %zu y_, %zu n_, %zu i_", y, no, i);
    diff_free_files(files, n);
}

Test(diff_json, fuzz_corpus)
{
    struct diff_file *files;
    size_t n = diff_read_dir("tests/fuzz/corpus/json", &files);
    cr_assert_gt(n, 5, "the JSON fuzz corpus is missing");
    size_t same = 0, utf8 = 0, range = 0, depth = 0, nul = 0;
    for (size_t k = 0; k < n; k++) {
        struct diff_file *f = &files[k];
        struct verdict v = judge(f->data, f->len);
        if (v.sluice == v.jansson) {
            same++;
            continue;
        }
        const char *cls = allowed(&v, f->data, f->len);
        cr_expect(cls != NULL, "corpus/json/%s: sluice %s, jansson %s (%s)", f->name,
                  v.sluice ? "accepts" : "refuses", v.jansson ? "accepts" : "refuses", v.why);
        if (cls)
            (*(cls[0] == 'u' ? &utf8 : cls[0] == 'r' ? &range : cls[0] == 'n' ? &nul : &depth))++;
    }
    cr_log_info("fuzz corpus: %zu inputs, %zu same, allowed: %zu utf8, %zu range, %zu depth, "
                "%zu nul",
                n, same, utf8, range, depth, nul);
    diff_free_files(files, n);
}

/* Generated documents: random values, and the same with one byte changed. */
static void gen_value(char *out, size_t *len, size_t cap, uint64_t *rng, int depth)
{
    static const char *atoms[] = {"0",    "-1",   "3.5e2", "1E-7",    "true",        "false",
                                  "null", "\"\"", "\"a\"", "\"\\n\"", "\"\\u00e9\"", "12345"};
    uint64_t r = diff_rand(rng);
    if (*len + 64 > cap)
        return;
    if (depth > 4 || r % 3 == 0) {
        const char *a = atoms[(r >> 8) % (sizeof(atoms) / sizeof(atoms[0]))];
        *len += (size_t)snprintf(out + *len, cap - *len, "%s", a);
        return;
    }
    int obj = (r >> 8) & 1;
    out[(*len)++] = obj ? '{' : '[';
    int n = (int)((r >> 16) % 5);
    for (int i = 0; i < n && *len + 64 < cap; i++) {
        if (i)
            out[(*len)++] = ',';
        if ((r >> (20 + i)) & 1)
            out[(*len)++] = ' ';
        if (obj)
            *len += (size_t)snprintf(out + *len, cap - *len, "\"k%d\":", i);
        gen_value(out, len, cap, rng, depth + 1);
    }
    out[(*len)++] = obj ? '}' : ']';
}

Test(diff_json, generated_and_mutated)
{
    uint64_t rng = 0x5eed1234abcdull;
    static const char bytes[] = "{}[],:\"\\0123456789.eE+-tfn \t\n\x01\x7f\xc3\xa9\xff";
    size_t checked = 0, disagreed = 0;
    for (int iter = 0; iter < 4000; iter++) {
        char text[2048];
        size_t len = 0;
        gen_value(text, &len, sizeof(text) - 1, &rng, 0);
        if (iter % 2) { /* mutate one byte: replace, insert or delete */
            uint64_t r = diff_rand(&rng);
            size_t at = (size_t)(r % (len + 1));
            char c = bytes[(r >> 16) % (sizeof(bytes) - 1)];
            int op = (int)((r >> 8) % 3);
            if (op == 0 && at < len) {
                text[at] = c;
            } else if (op == 1) {
                memmove(text + at + 1, text + at, len - at);
                text[at] = c;
                len++;
            } else if (at < len) {
                memmove(text + at, text + at + 1, len - at - 1);
                len--;
            }
        }
        struct verdict v = judge(text, len);
        checked++;
        if (v.sluice != v.jansson) {
            disagreed++;
            cr_expect(allowed(&v, text, len) != NULL, "'%.*s': sluice %s, jansson %s (%s)",
                      (int)len, text, v.sluice ? "accepts" : "refuses",
                      v.jansson ? "accepts" : "refuses", v.why);
        }
    }
    cr_log_info("generated: %zu documents, %zu disagreements in allowed classes", checked,
                disagreed);
}

Test(diff_json, every_top_level_member_is_found)
{
    for (int members = 1; members <= 100; members++) {
        char text[4096];
        size_t len = 0;
        text[len++] = '{';
        for (int i = 0; i < members; i++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"k%d\":[%d]", i ? "," : "",
                                    i, i);
        text[len++] = '}';
        struct sl_json_doc doc;
        cr_assert_eq(sl_json_scan(text, len, &doc), 0);
        json_t *j = json_loadb(text, len, 0, NULL);
        cr_assert_not_null(j);
        cr_assert_eq(json_object_size(j), (size_t)members);
        const char *key;
        json_t *val;
        size_t missing = 0;
        const char *first = NULL;
        json_object_foreach(j, key, val)
        {
            struct sl_json_member m;
            int found = sl_json_get(&doc, key, &m);
            if (!found && missing++ == 0)
                first = key;
            if (found)
                cr_expect_eq(m.type, SL_JSON_ARRAY);
        }
        cr_expect_eq(missing, 0, "%d members: %zu not found, the first '%s'", members, missing,
                     first ? first : "");
        json_decref(j);
        if (missing)
            break; /* one failure says it */
    }
}

Test(diff_json, model_as_the_34th_key_is_read)
{
    char body[1024];
    size_t len = 0;
    body[len++] = '{';
    for (int i = 0; i < 33; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "\"x%d\":%d,", i, i);
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "\"model\":\"m34\",\"messages\":[{\"role\":\"user\"}]}");
    struct sl_openai_req req;
    const char *code = NULL;
    char msg[128];
    int rc = sl_openai_parse(body, len, SL_OAI_CHAT, &req, &code, msg, sizeof(msg));
    cr_assert_eq(rc, 0, "refused: %s (%s)", code ? code : "", msg);
    cr_assert_eq(req.model.len, 3);
    cr_assert(memcmp(req.model.ptr, "m34", 3) == 0);
}

/* A TPM reservation reads max_tokens or max_completion_tokens (what newer
 * models take), the larger when both are sent; -1 when neither is. */
Test(diff_json, openai_max_tokens_either_name)
{
    static const struct {
        const char *body;
        long want;
    } cases[] = {
        {"{\"model\":\"m\",\"messages\":[{}],\"max_tokens\":12}", 12},
        {"{\"model\":\"m\",\"messages\":[{}],\"max_completion_tokens\":40}", 40},
        {"{\"model\":\"m\",\"max_completion_tokens\":7,\"messages\":[{}],\"max_tokens\":9}", 9},
        {"{\"model\":\"m\",\"messages\":[{}],\"max_tokens\":\"12\"}", -1},
        {"{\"model\":\"m\",\"messages\":[{}]}", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_openai_req req;
        const char *code = NULL;
        char msg[128];
        cr_assert_eq(sl_openai_parse(cases[i].body, strlen(cases[i].body), SL_OAI_CHAT, &req, &code,
                                     msg, sizeof(msg)),
                     0, "%s", msg);
        cr_assert_eq(req.max_tokens, cases[i].want, "%s: %ld", cases[i].body, req.max_tokens);
    }
}

/* The row's usage: chat's names, and the Responses API's (a JSON Response
 * or its response.completed event), from the last "usage" object. */
Test(diff_json, openai_usage_in_either_api)
{
    static const struct {
        const char *text;
        unsigned prompt, completion;
    } cases[] = {
        {"{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}", 5, 7},
        {"{\"output\":[],\"usage\":{\"input_tokens\":9,\"input_tokens_details\":"
         "{\"cached_tokens\":0},\"output_tokens\":3,\"output_tokens_details\":"
         "{\"reasoning_tokens\":1},\"total_tokens\":12},\"user\":null}",
         9, 3},
        {"{\"type\":\"response.completed\",\"response\":{\"usage\":null,\"x\":1,\"usage\":"
         "{\"input_tokens\":2,\"output_tokens\":4}},\"sequence_number\":9}",
         2, 4},
        {"{\"usage\":null}", 0, 0},
        {"{\"choices\":[]}", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned p = 0, c = 0;
        sl_openai_usage(cases[i].text, strlen(cases[i].text), &p, &c);
        cr_assert_eq(p, cases[i].prompt, "%s: %u", cases[i].text, p);
        cr_assert_eq(c, cases[i].completion, "%s: %u", cases[i].text, c);
    }
}
