/* Anthropic message -> OpenAI chat.completion, and the pieces the stream
 * translator shares with it (usage, finish_reason). Text blocks are joined
 * as escaped spans (never decoded); a tool_use block's input object
 * becomes the arguments string by escaping its text. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"

void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t)
{
    static const char *const keys[4] = {"input_tokens", "output_tokens",
                                        "cache_creation_input_tokens", "cache_read_input_tokens"};
    sl__xlat_tokens_read(usage, keys, &t->input, &t->output, &t->cache_write, &t->cache_read);
}

struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t)
{
    return sl__xlat_usage(t->input, t->output, t->cache_write, t->cache_read);
}

/* Anthropic's stop_reason and OpenAI's finish_reason, both ways: the first
 * row with a finish_reason is the stop_reason it maps back to. */
static const struct {
    const char *stop_reason, *finish_reason;
} reasons[] = {
    {"end_turn", "stop"},
    {"max_tokens", "length"},
    {"tool_use", "tool_calls"},
    {"refusal", "content_filter"},
    {"stop_sequence", "stop"},
    {"pause_turn", "stop"},
    {"model_context_window_exceeded", "length"},
    {"tool_use", "function_call"}, /* OpenAI's deprecated name */
};

const char *sl_anthropic_finish_reason(const char *stop_reason, size_t len)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (sl_str_eq((struct sl_str){stop_reason, len}, reasons[i].stop_reason))
            return reasons[i].finish_reason;
    return "stop";
}

const char *sl_anthropic_stop_reason(const char *finish_reason, size_t len)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (sl_str_eq((struct sl_str){finish_reason, len}, reasons[i].finish_reason))
            return reasons[i].stop_reason;
    return "end_turn";
}

/* The content blocks of one type: text (joined into one string) or tool_use
 * (the tool_calls array). Returns how many there were. */
static size_t blocks(struct sl_jw *w, struct sl_str content, int tools)
{
    struct sl_json_walk wk;
    struct sl_json_value b, arr = {content.ptr, content.ptr + content.len};
    size_t n = 0;
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &b)) {
        enum { B_TYPE, B_TEXT, B_ID, B_NAME, B_INPUT, B__N };
        struct sl_json_pick p[B__N] = {
            {.key = "type"}, {.key = "text"}, {.key = "id"}, {.key = "name"}, {.key = "input"}};
        if (sl__anth_pick((struct sl_str){b.start, (size_t)(b.end - b.start)}, p, B__N) != 0)
            continue;
        if (!tools && sl__anth_is(&p[B_TYPE], "text") && p[B_TEXT].found &&
            p[B_TEXT].m.type == SL_JSON_STRING) {
            if (n++ == 0)
                sl_jw_string_open(w);
            sl_jw_string_piece(w, p[B_TEXT].m.value.ptr, p[B_TEXT].m.value.len);
        } else if (tools && sl__anth_is(&p[B_TYPE], "tool_use") && p[B_ID].found &&
                   p[B_ID].m.type == SL_JSON_STRING && p[B_NAME].found &&
                   p[B_NAME].m.type == SL_JSON_STRING) {
            if (n++ == 0)
                sl_jw_array(w);
            struct sl_str id = sl__anth_raw(&p[B_ID].m), name = sl__anth_raw(&p[B_NAME].m);
            struct sl_str input =
                p[B_INPUT].found ? sl__anth_raw(&p[B_INPUT].m) : (struct sl_str){"{}", 2};
            sl__xlat_tool_call_write(w, id, name, input);
        }
        /* thinking, redacted_thinking, server tool blocks: no OpenAI field */
    }
    if (n)
        tools ? sl_jw_end(w) : sl_jw_string_close(w);
    return n;
}

/* Whether the content array has a block of the type. */
static int has_block(struct sl_str content, const char *type)
{
    struct sl_json_walk wk;
    struct sl_json_value b, arr = {content.ptr, content.ptr + content.len};
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &b)) {
        struct sl_json_pick t[1] = {{.key = "type"}};
        if (sl__anth_pick((struct sl_str){b.start, (size_t)(b.end - b.start)}, t, 1) == 0 &&
            sl__anth_is(&t[0], type))
            return 1;
    }
    return 0;
}

int sl_anthropic_response(const char *body, size_t len, const char *model, long long created,
                          struct sl_buf *out, struct sl_xlat_usage *usage)
{
    enum { M_TYPE, M_ID, M_MODEL, M_CONTENT, M_STOP, M_USAGE, M__N };
    struct sl_json_pick p[M__N] = {{.key = "type"},    {.key = "id"},          {.key = "model"},
                                   {.key = "content"}, {.key = "stop_reason"}, {.key = "usage"}};
    if (sl__anth_pick((struct sl_str){body, len}, p, M__N) != 0 ||
        (p[M_TYPE].found && !sl__anth_is(&p[M_TYPE], "message")) || !p[M_CONTENT].found ||
        p[M_CONTENT].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    struct sl_anthropic_tokens t = {0};
    if (p[M_USAGE].found)
        sl__anth_tokens_read(p[M_USAGE].m.value, &t);
    struct sl_xlat_usage u = sl__anth_usage_of(&t);
    if (usage)
        *usage = u;
    struct sl_str content = p[M_CONTENT].m.value;

    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    if (p[M_ID].found && p[M_ID].m.type == SL_JSON_STRING)
        sl_jw_kv_raw(&w, "id", p[M_ID].m.value.ptr - 1, p[M_ID].m.value.len + 2);
    else
        sl_jw_kv_string(&w, "id", "chatcmpl-anthropic");
    sl_jw_kv_string(&w, "object", "chat.completion");
    sl_jw_kv_int(&w, "created", created);
    if (model)
        sl_jw_kv_string(&w, "model", model);
    else if (p[M_MODEL].found && p[M_MODEL].m.type == SL_JSON_STRING)
        sl_jw_kv_raw(&w, "model", p[M_MODEL].m.value.ptr - 1, p[M_MODEL].m.value.len + 2);
    else
        sl_jw_kv_string(&w, "model", "");
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
    if (has_block(content, "tool_use")) {
        sl_jw_key(&w, "tool_calls");
        if (blocks(&w, content, 1) == 0)
            sl_jw_raw(&w, "[]", 2); /* tool_use blocks without id or name */
    }
    sl_jw_end(&w);
    sl_jw_kv_raw(&w, "logprobs", "null", 4);
    sl_jw_key(&w, "finish_reason");
    if (p[M_STOP].found && p[M_STOP].m.type == SL_JSON_STRING)
        sl_jw_string(&w, sl_anthropic_finish_reason(p[M_STOP].m.value.ptr, p[M_STOP].m.value.len));
    else
        sl_jw_null(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl_jw_key(&w, "usage");
    sl__anth_usage_write(&w, &u);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}
