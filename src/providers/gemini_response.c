/* GenerateContentResponse -> OpenAI chat.completion, and the pieces the
 * stream translator shares with it (usage, finish_reason, tool calls).
 * Only the first candidate is read (the request asks for one). Text parts
 * are joined as escaped spans (never decoded); a functionCall's args object
 * becomes the arguments string by escaping its text. Gemini gives function
 * calls no id (or, on some versions, one of its own, kept): one is made up
 * from a hash of the response id (or body) and the call's index, so a
 * client can match its tool message to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"

unsigned long long sl__gemini_hash(const char *p, size_t len)
{
    unsigned long long h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void sl__gemini_tokens_read(struct sl_str usage, struct sl_gemini_tokens *t)
{
    struct sl_json_pick p[4] = {{.key = "promptTokenCount"},
                                {.key = "candidatesTokenCount"},
                                {.key = "thoughtsTokenCount"},
                                {.key = "cachedContentTokenCount"}};
    if (sl_xlat_pick(usage, p, 4) != 0)
        return;
    t->prompt = sl__xlat_count(&p[0], t->prompt);
    t->candidates = sl__xlat_count(&p[1], t->candidates);
    t->thoughts = sl__xlat_count(&p[2], t->thoughts);
    t->cached = sl__xlat_count(&p[3], t->cached);
}

struct sl_xlat_usage sl__gemini_usage_of(const struct sl_gemini_tokens *t)
{
    return (struct sl_xlat_usage){
        .prompt = t->prompt,
        .completion = t->candidates + t->thoughts,
        .cached = t->cached < t->prompt ? t->cached : t->prompt,
    };
}

const char *sl_gemini_finish_reason(const char *reason, size_t len)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"};
    struct sl_str s = {reason, len};
    if (sl_str_eq(s, "MAX_TOKENS"))
        return "length";
    for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
        if (sl_str_eq(s, filtered[i]))
            return "content_filter";
    return "stop"; /* STOP, LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, ... */
}

int sl__gemini_tool_call(struct sl_jw *w, struct sl_str call, struct sl_str signature,
                         unsigned long long hash, int index, int with_index)
{
    struct sl_json_pick p[3] = {{.key = "name"}, {.key = "args"}, {.key = "id"}};
    if (sl_xlat_pick(call, p, 3) != 0 || !p[0].found || p[0].m.type != SL_JSON_STRING)
        return -1;
    sl_jw_object(w);
    if (with_index)
        sl_jw_kv_int(w, "index", index);
    if (p[2].found && p[2].m.type == SL_JSON_STRING && p[2].m.value.len > 0) {
        struct sl_str id = sl_xlat_raw(&p[2].m);
        sl_jw_kv_raw(w, "id", id.ptr, id.len);
    } else {
        char id[48];
        snprintf(id, sizeof(id), "call_%016llx_%d", hash, index);
        sl_jw_kv_string(w, "id", id);
    }
    sl_jw_kv_string(w, "type", "function");
    sl_jw_key(w, "function");
    sl_jw_object(w);
    struct sl_str name = sl_xlat_raw(&p[0].m);
    sl_jw_kv_raw(w, "name", name.ptr, name.len);
    sl_jw_key(w, "arguments");
    if (p[1].found && p[1].m.type == SL_JSON_OBJECT)
        sl_jw_string_n(w, p[1].m.value.ptr, p[1].m.value.len);
    else
        sl_jw_string(w, "{}");
    sl_jw_end(w);
    if (signature.ptr) {
        sl_jw_key(w, "extra_content");
        sl_jw_object(w);
        sl_jw_key(w, "google");
        sl_jw_object(w);
        sl_jw_kv_raw(w, "thought_signature", signature.ptr, signature.len);
        sl_jw_end(w);
        sl_jw_end(w);
    }
    sl_jw_end(w);
    return 0;
}

/* Whether a part is a functionCall with a name (the only ones relayed). */
static int is_call(const struct sl_json_pick *call)
{
    struct sl_json_pick n[1] = {{.key = "name"}};
    return call->found && call->m.type == SL_JSON_OBJECT &&
           sl_xlat_pick(call->m.value, n, 1) == 0 && n[0].found && n[0].m.type == SL_JSON_STRING;
}

/* The text parts joined into one string (thought summaries left out), or
 * with `calls` the functionCall parts as the tool_calls array, written
 * when w is not NULL. Returns how many there are. */
static size_t parts(struct sl_jw *w, struct sl_str arr_text, int calls, unsigned long long hash)
{
    struct sl_json_walk wk;
    struct sl_json_value item, arr = {arr_text.ptr, arr_text.ptr + arr_text.len};
    size_t n = 0;
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &item)) {
        enum { P_TEXT, P_THOUGHT, P_CALL, P_SIGNATURE, P__N };
        struct sl_json_pick p[P__N] = {{.key = "text"},
                                       {.key = "thought"},
                                       {.key = "functionCall"},
                                       {.key = "thoughtSignature"}};
        if (sl_xlat_pick(sl_xlat_span(item), p, P__N) != 0)
            continue;
        if (!calls && p[P_TEXT].found && p[P_TEXT].m.type == SL_JSON_STRING &&
            !(p[P_THOUGHT].found && p[P_THOUGHT].m.type == SL_JSON_TRUE)) {
            if (w && n == 0)
                sl_jw_string_open(w);
            if (w)
                sl_jw_string_piece(w, p[P_TEXT].m.value.ptr, p[P_TEXT].m.value.len);
            n++;
        } else if (calls && is_call(&p[P_CALL])) {
            if (w && n == 0)
                sl_jw_array(w);
            if (w)
                sl__gemini_tool_call(w, p[P_CALL].m.value, sl__gemini_signature(&p[P_SIGNATURE]),
                                     hash, (int)n, 0);
            n++;
        }
        /* inlineData, executableCode, codeExecutionResult: no OpenAI field */
    }
    if (w && n)
        calls ? sl_jw_end(w) : sl_jw_string_close(w);
    return n;
}

int sl_gemini_response(const char *body, size_t len, const char *model, long long created,
                       struct sl_buf *out, struct sl_xlat_usage *usage)
{
    enum { M_CANDIDATES, M_USAGE, M_MODEL, M_ID, M_FEEDBACK, M__N };
    struct sl_json_pick p[M__N] = {{.key = "candidates"},
                                   {.key = "usageMetadata"},
                                   {.key = "modelVersion"},
                                   {.key = "responseId"},
                                   {.key = "promptFeedback"}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, M__N) != 0)
        return UV_EINVAL;
    int has_candidates = p[M_CANDIDATES].found && p[M_CANDIDATES].m.type == SL_JSON_ARRAY &&
                         p[M_CANDIDATES].m.items > 0;
    if (p[M_CANDIDATES].found && p[M_CANDIDATES].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    if (!has_candidates && !p[M_FEEDBACK].found)
        return UV_EINVAL; /* neither an answer nor a reason for none */

    /* candidates[0]: its content.parts and finishReason */
    enum { C_CONTENT, C_FINISH, C__N };
    struct sl_json_pick c[C__N] = {{.key = "content"}, {.key = "finishReason"}};
    struct sl_json_pick ct[1] = {{.key = "parts"}};
    struct sl_str parts_text = {NULL, 0};
    if (has_candidates) {
        struct sl_json_walk wk;
        struct sl_json_value first, arr = sl_xlat_value(&p[M_CANDIDATES].m);
        sl_json_enter(&wk, &arr);
        if (!sl_json_next_item(&wk, &first) || sl_xlat_pick(sl_xlat_span(first), c, C__N) != 0)
            return UV_EINVAL;
        if (c[C_CONTENT].found && sl_xlat_pick(c[C_CONTENT].m.value, ct, 1) == 0 && ct[0].found &&
            ct[0].m.type == SL_JSON_ARRAY)
            parts_text = ct[0].m.value;
    }

    struct sl_gemini_tokens t = {0};
    if (p[M_USAGE].found)
        sl__gemini_tokens_read(p[M_USAGE].m.value, &t);
    struct sl_xlat_usage u = sl__gemini_usage_of(&t);
    if (usage)
        *usage = u;
    int has_id = p[M_ID].found && p[M_ID].m.type == SL_JSON_STRING && p[M_ID].m.value.len > 0;
    unsigned long long hash = has_id ? sl__gemini_hash(p[M_ID].m.value.ptr, p[M_ID].m.value.len)
                                     : sl__gemini_hash(body, len);

    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    if (has_id) {
        struct sl_str id = sl_xlat_raw(&p[M_ID].m);
        sl_jw_kv_raw(&w, "id", id.ptr, id.len);
    } else {
        char id[40];
        snprintf(id, sizeof(id), "chatcmpl-%016llx", hash);
        sl_jw_kv_string(&w, "id", id);
    }
    sl_jw_kv_string(&w, "object", "chat.completion");
    sl_jw_kv_int(&w, "created", created);
    if (model) {
        sl_jw_kv_string(&w, "model", model);
    } else if (p[M_MODEL].found && p[M_MODEL].m.type == SL_JSON_STRING) {
        struct sl_str m = sl_xlat_raw(&p[M_MODEL].m);
        sl_jw_kv_raw(&w, "model", m.ptr, m.len);
    } else {
        sl_jw_kv_string(&w, "model", "");
    }
    sl_jw_key(&w, "choices");
    sl_jw_array(&w);
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "index", 0);
    sl_jw_key(&w, "message");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "role", "assistant");
    sl_jw_key(&w, "content");
    if (!has_candidates)
        sl_jw_string(&w, ""); /* the prompt was blocked */
    else if (parts_text.ptr == NULL || parts(&w, parts_text, 0, hash) == 0)
        sl_jw_null(&w);
    sl_jw_kv_raw(&w, "refusal", "null", 4);
    /* tool_calls only when there is one: OpenAI never sends an empty array */
    size_t ncalls = parts_text.ptr ? parts(NULL, parts_text, 1, hash) : 0;
    if (ncalls) {
        sl_jw_key(&w, "tool_calls");
        parts(&w, parts_text, 1, hash);
    }
    sl_jw_end(&w);
    sl_jw_kv_raw(&w, "logprobs", "null", 4);
    sl_jw_key(&w, "finish_reason");
    if (!has_candidates)
        sl_jw_string(&w, "content_filter");
    else if (ncalls)
        sl_jw_string(&w, "tool_calls");
    else if (c[C_FINISH].found && c[C_FINISH].m.type == SL_JSON_STRING)
        sl_jw_string(&w, sl_gemini_finish_reason(c[C_FINISH].m.value.ptr, c[C_FINISH].m.value.len));
    else
        sl_jw_null(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl_jw_key(&w, "usage");
    sl__xlat_usage_write(&w, &u);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}
