/* Converse response -> OpenAI chat.completion, and the pieces the stream
 * translator shares with it (token counts, finish_reason). Text blocks are
 * joined as escaped spans (never decoded); a toolUse block's input object
 * becomes the arguments string by escaping its text. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/bedrock_int.h"

void sl__bedrock_tokens_read(struct sl_str usage, struct sl_bedrock_tokens *t)
{
    static const char *const keys[4] = {"inputTokens", "outputTokens", "cacheWriteInputTokens",
                                        "cacheReadInputTokens"};
    sl__xlat_tokens_read(usage, keys, &t->input, &t->output, &t->cache_write, &t->cache_read);
}

struct sl_xlat_usage sl__bedrock_usage_of(const struct sl_bedrock_tokens *t)
{
    return sl__xlat_usage(t->input, t->output, t->cache_write, t->cache_read);
}

const char *sl_bedrock_finish_reason(const char *stop_reason, size_t len)
{
    struct sl_str s = {stop_reason, len};
    if (sl_str_eq(s, "max_tokens") || sl_str_eq(s, "model_context_window_exceeded"))
        return "length";
    if (sl_str_eq(s, "tool_use"))
        return "tool_calls";
    if (sl_str_eq(s, "guardrail_intervened") || sl_str_eq(s, "content_filtered"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, malformed_model_output, ... */
}

/* The content blocks of one kind: text (joined into one string) or
 * toolUse (the tool_calls array). Returns how many there were; with w NULL
 * only counts them. */
static size_t blocks(struct sl_jw *w, struct sl_str content, int tools)
{
    struct sl_json_walk wk;
    struct sl_json_value b, arr = {content.ptr, content.ptr + content.len};
    size_t n = 0;
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &b)) {
        struct sl_json_pick p[2] = {{.key = "text"}, {.key = "toolUse"}};
        if (sl_xlat_pick((struct sl_str){b.start, (size_t)(b.end - b.start)}, p, 2) != 0)
            continue;
        if (!tools && p[0].found && p[0].m.type == SL_JSON_STRING) {
            if (w == NULL)
                n++;
            else if (n++ == 0)
                sl_jw_string_open(w);
            if (w)
                sl_jw_string_piece(w, p[0].m.value.ptr, p[0].m.value.len);
            continue;
        }
        struct sl_json_pick u[3] = {{.key = "toolUseId"}, {.key = "name"}, {.key = "input"}};
        if (!tools || !p[1].found || sl_xlat_pick(sl_xlat_raw(&p[1].m), u, 3) != 0 || !u[0].found ||
            u[0].m.type != SL_JSON_STRING || !u[1].found || u[1].m.type != SL_JSON_STRING)
            continue; /* reasoningContent, citations, images: no OpenAI field */
        if (w == NULL) {
            n++;
            continue;
        }
        if (n++ == 0)
            sl_jw_array(w);
        struct sl_str id = sl_xlat_raw(&u[0].m), name = sl_xlat_raw(&u[1].m);
        struct sl_str input = u[2].found ? sl_xlat_raw(&u[2].m) : (struct sl_str){"{}", 2};
        sl__xlat_tool_call_write(w, id, name, input);
    }
    if (n && w)
        tools ? sl_jw_end(w) : sl_jw_string_close(w);
    return n;
}

int sl_bedrock_response(const char *body, size_t len, const char *id, const char *model,
                        long long created, struct sl_buf *out, struct sl_xlat_usage *usage)
{
    enum { R_OUTPUT, R_STOP, R_USAGE, R__N };
    struct sl_json_pick p[R__N] = {{.key = "output"}, {.key = "stopReason"}, {.key = "usage"}};
    struct sl_json_pick o[1] = {{.key = "message"}};
    struct sl_json_pick m[1] = {{.key = "content"}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, R__N) != 0 || !p[R_OUTPUT].found ||
        sl_xlat_pick(sl_xlat_raw(&p[R_OUTPUT].m), o, 1) != 0 || !o[0].found ||
        sl_xlat_pick(sl_xlat_raw(&o[0].m), m, 1) != 0 || !m[0].found ||
        m[0].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    struct sl_bedrock_tokens t = {0};
    if (p[R_USAGE].found)
        sl__bedrock_tokens_read(p[R_USAGE].m.value, &t);
    struct sl_xlat_usage u = sl__bedrock_usage_of(&t);
    if (usage)
        *usage = u;
    struct sl_str content = m[0].m.value;

    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "id", id ? id : "chatcmpl-bedrock");
    sl_jw_kv_string(&w, "object", "chat.completion");
    sl_jw_kv_int(&w, "created", created);
    sl_jw_kv_string(&w, "model", model ? model : "");
    sl_jw_key(&w, "choices");
    sl_jw_array(&w);
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "index", 0);
    sl_jw_key(&w, "message");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "role", "assistant");
    sl_jw_key(&w, "content");
    if (blocks(&w, content, 0) == 0)
        sl_jw_null(&w);
    sl_jw_kv_raw(&w, "refusal", "null", 4);
    if (blocks(NULL, content, 1) > 0) {
        sl_jw_key(&w, "tool_calls");
        blocks(&w, content, 1);
    }
    sl_jw_end(&w);
    sl_jw_kv_raw(&w, "logprobs", "null", 4);
    sl_jw_key(&w, "finish_reason");
    if (p[R_STOP].found && p[R_STOP].m.type == SL_JSON_STRING)
        sl_jw_string(&w, sl_bedrock_finish_reason(p[R_STOP].m.value.ptr, p[R_STOP].m.value.len));
    else
        sl_jw_null(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl_jw_key(&w, "usage");
    sl__xlat_usage_write(&w, &u);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}
