/* The rules are the OpenAI cookbook's ("How to count tokens with
 * tiktoken", num_tokens_from_messages and num_tokens_for_tools), which
 * match what the API reports as prompt_tokens for the gpt-4o / gpt-4 /
 * gpt-3.5 families:
 *   - each message costs 3 tokens, plus the tokens of each of its string
 *     values (role, content, name, ...), plus 1 more for a name;
 *   - the reply is primed with 3 more;
 *   - tools: per function 7 (gpt-4o and newer; 10 for gpt-4 and gpt-3.5),
 *     then "name:description" (a final "." dropped); if it has properties,
 *     3, then per property 3 + "key:type:description"; an enum adds -3 +
 *     3 per item + the item's tokens; then 12 once for all tools.
 * Beyond the cookbook (estimates, *exact = 0): content given as parts
 * counts each text part's text, an image part 85 tokens at detail "low"
 * and 765 otherwise (a 1024x1024 image at high detail; the real size is
 * not known here); an assistant message's tool_calls count their function
 * names and arguments. */
#include "token/request_tokens.h"

#include <string.h>

#include "http/json_walk.h"

#define TEXT_MAX (64u << 20) /* a body is smaller than this */

struct counter {
    const struct sl_tok_encoding *enc;
    struct sl_buf text; /* scratch for decoded strings */
    size_t tokens;
    int exact;
    int tools_gpt4o; /* per-function cost 7 (else 10) */
};

static size_t string_tokens(struct counter *c, const struct sl_json_value *v)
{
    sl_buf_reset(&c->text);
    if (sl_json_string(v, &c->text) < 0)
        return 0;
    return sl_tok_count(c->enc, c->text.ptr, c->text.len);
}

/* The tokens of text built from pieces (the tools' "name:description"). */
static size_t joined_tokens(struct counter *c, const struct sl_json_value *const *parts, size_t n)
{
    sl_buf_reset(&c->text);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_append(&c->text, ":", 1);
        if (parts[i] && *parts[i]->start == '"') {
            size_t before = c->text.len;
            sl_json_string(parts[i], &c->text);
            if (c->text.len > before && c->text.ptr[c->text.len - 1] == '.' && i == n - 1)
                c->text.len--; /* the description's final period */
        }
    }
    return sl_tok_count(c->enc, c->text.ptr ? c->text.ptr : "", c->text.len);
}

/* Finds a member of an object value; 1 if found. */
static int member(const struct sl_json_value *obj, const char *name, struct sl_json_value *out)
{
    struct sl_json_walk w;
    struct sl_json_value k, v;
    if (sl_json_enter(&w, obj) < 0 || *obj->start != '{')
        return 0;
    while (sl_json_next_member(&w, &k, &v))
        if (sl_json_key_is(&k, name)) {
            *out = v;
            return 1;
        }
    return 0;
}

static void content_parts(struct counter *c, const struct sl_json_value *parts)
{
    struct sl_json_walk w;
    struct sl_json_value part, v;
    if (sl_json_enter(&w, parts) < 0)
        return;
    while (sl_json_next_item(&w, &part)) {
        if (member(&part, "text", &v) && *v.start == '"')
            c->tokens += string_tokens(c, &v);
        else if (member(&part, "image_url", &v)) {
            struct sl_json_value detail;
            int low = member(&v, "detail", &detail) && detail.end - detail.start == 5 &&
                      memcmp(detail.start, "\"low\"", 5) == 0;
            c->tokens += low ? 85 : 765;
            c->exact = 0;
        }
    }
}

static void tool_calls(struct counter *c, const struct sl_json_value *calls)
{
    struct sl_json_walk w;
    struct sl_json_value call, fn, v;
    if (sl_json_enter(&w, calls) < 0)
        return;
    while (sl_json_next_item(&w, &call))
        if (member(&call, "function", &fn)) {
            if (member(&fn, "name", &v))
                c->tokens += string_tokens(c, &v);
            if (member(&fn, "arguments", &v))
                c->tokens += string_tokens(c, &v);
        }
    c->exact = 0;
}

static void messages(struct counter *c, const struct sl_json_value *list)
{
    struct sl_json_walk w, m;
    struct sl_json_value msg, k, v;
    if (sl_json_enter(&w, list) < 0)
        return;
    while (sl_json_next_item(&w, &msg)) {
        c->tokens += 3;
        if (sl_json_enter(&m, &msg) < 0)
            continue;
        while (sl_json_next_member(&m, &k, &v)) {
            if (*v.start == '"') {
                c->tokens += string_tokens(c, &v);
                if (sl_json_key_is(&k, "name"))
                    c->tokens += 1;
            } else if (sl_json_key_is(&k, "content") && *v.start == '[')
                content_parts(c, &v);
            else if (sl_json_key_is(&k, "tool_calls") && *v.start == '[')
                tool_calls(c, &v);
        }
    }
    c->tokens += 3;
}

static void tools(struct counter *c, const struct sl_json_value *list)
{
    struct sl_json_walk w, props;
    struct sl_json_value tool, fn, name, desc, params, properties, k, prop;
    if (sl_json_enter(&w, list) < 0)
        return;
    size_t functions = 0;
    while (sl_json_next_item(&w, &tool)) {
        if (!member(&tool, "function", &fn))
            continue;
        functions++;
        c->tokens += c->tools_gpt4o ? 7 : 10;
        int has_name = member(&fn, "name", &name), has_desc = member(&fn, "description", &desc);
        const struct sl_json_value *line[2] = {has_name ? &name : NULL, has_desc ? &desc : NULL};
        c->tokens += joined_tokens(c, line, 2);
        if (!member(&fn, "parameters", &params) || !member(&params, "properties", &properties) ||
            sl_json_enter(&props, &properties) < 0)
            continue;
        int first = 1;
        while (sl_json_next_member(&props, &k, &prop)) {
            if (first)
                c->tokens += 3;
            first = 0;
            c->tokens += 3;
            struct sl_json_value type, pdesc, values, item;
            int has_type = member(&prop, "type", &type),
                has_pdesc = member(&prop, "description", &pdesc);
            struct sl_json_walk e;
            if (member(&prop, "enum", &values) && sl_json_enter(&e, &values) == 0) {
                c->tokens -= 3;
                while (sl_json_next_item(&e, &item)) {
                    c->tokens += 3;
                    if (*item.start == '"')
                        c->tokens += string_tokens(c, &item);
                }
            }
            const struct sl_json_value *pline[3] = {&k, has_type ? &type : NULL,
                                                    has_pdesc ? &pdesc : NULL};
            c->tokens += joined_tokens(c, pline, 3);
        }
    }
    if (functions)
        c->tokens += 12;
}

/* A string, or an array of strings (or of token arrays, which count their
 * length): completions' prompt and embeddings' input. */
static void text_or_list(struct counter *c, const struct sl_json_value *v)
{
    struct sl_json_walk w;
    struct sl_json_value item;
    if (*v->start == '"') {
        c->tokens += string_tokens(c, v);
        return;
    }
    if (sl_json_enter(&w, v) < 0)
        return;
    while (sl_json_next_item(&w, &item)) {
        if (*item.start == '"')
            c->tokens += string_tokens(c, &item);
        else if (*item.start == '[') {
            struct sl_json_walk t;
            struct sl_json_value id;
            sl_json_enter(&t, &item);
            while (sl_json_next_item(&t, &id))
                c->tokens++;
        } else
            c->tokens++; /* a token id */
    }
}

int sl_tok_encoding_for_model(const char *model, enum sl_tok_encoding_id *out)
{
    const char *slash = strrchr(model, '/');
    if (slash)
        model = slash + 1;
    if (strncmp(model, "ft:", 3) == 0)
        model += 3;
    static const char *const o200k[] = {"gpt-5", "gpt-4.5", "gpt-4.1", "gpt-4o", "chatgpt-4o",
                                        "o1",    "o3",      "o4",      "gpt-oss"};
    static const char *const cl100k[] = {
        "gpt-4",       "gpt-3.5",    "gpt-35", "text-embedding-3", "text-embedding-ada-002",
        "davinci-002", "babbage-002"};
    for (size_t i = 0; i < sizeof o200k / sizeof o200k[0]; i++)
        if (strncmp(model, o200k[i], strlen(o200k[i])) == 0) {
            *out = SL_TOK_O200K_BASE;
            return 1;
        }
    for (size_t i = 0; i < sizeof cl100k / sizeof cl100k[0]; i++)
        if (strncmp(model, cl100k[i], strlen(cl100k[i])) == 0) {
            *out = SL_TOK_CL100K_BASE;
            return 1;
        }
    *out = SL_TOK_O200K_BASE;
    return 0;
}

size_t sl_tok_count_request(const char *endpoint, const char *model, const char *body, size_t len,
                            int *exact)
{
    enum sl_tok_encoding_id id;
    struct counter c = {NULL, {0}, 0, sl_tok_encoding_for_model(model, &id), 1};
    c.enc = sl_tok_encoding(id);
    c.tools_gpt4o = id == SL_TOK_O200K_BASE;
    if (!c.enc) { /* out of memory: the old estimate */
        if (exact)
            *exact = 0;
        return len / 4;
    }
    sl_buf_init(&c.text, TEXT_MAX);
    struct sl_json_value doc = sl_json_value_of(body, len), v;
    if (strcmp(endpoint, "chat/completions") == 0) {
        if (member(&doc, "messages", &v))
            messages(&c, &v);
        if (member(&doc, "tools", &v))
            tools(&c, &v);
    } else if (strcmp(endpoint, "completions") == 0) {
        if (member(&doc, "prompt", &v))
            text_or_list(&c, &v);
    } else if (strcmp(endpoint, "embeddings") == 0) {
        if (member(&doc, "input", &v))
            text_or_list(&c, &v);
    }
    sl_buf_release(&c.text);
    if (exact)
        *exact = c.exact;
    return c.tokens;
}
