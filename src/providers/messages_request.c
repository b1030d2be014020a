/* Anthropic Messages request -> OpenAI chat.completions request.
 *
 * One pass writes the output in order (model, messages, max_tokens,
 * sampling, stream, tools, user) with the JSON writer. Nothing is decoded:
 * texts, ids, names, schemas and numbers are copied as raw spans of the
 * input, and the two values that change shape (an image's base64 source
 * becoming a data URL, a tool_use input object becoming the arguments
 * string) are written from escaped pieces. An Anthropic turn may become
 * several OpenAI messages: a user turn's tool_result blocks become `tool`
 * messages placed before the rest of that turn (OpenAI wants the results
 * right after the assistant's tool calls). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"
#include "providers/messages_front.h"

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
};

/* refuse(r, param, fmt, ...): fills r->refusal, returns UV_EINVAL */
#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

static struct sl_str span(struct sl_json_value v)
{
    return (struct sl_str){v.start, (size_t)(v.end - v.start)};
}

/* A content block: its type (a string) and the members the callers read. */
enum {
    B_TYPE,
    B_TEXT,
    B_SOURCE,
    B_ID,
    B_NAME,
    B_INPUT,
    B_TOOL_USE_ID,
    B_CONTENT,
    B_IS_ERROR,
    B__N
};

static int pick_block(struct sl_json_value b, struct sl_json_pick *p)
{
    static const char *const keys[B__N] = {"type",  "text",        "source",  "id",      "name",
                                           "input", "tool_use_id", "content", "is_error"};
    for (int i = 0; i < B__N; i++)
        p[i] = (struct sl_json_pick){.key = keys[i]};
    if (sl__anth_pick(span(b), p, B__N) != 0 || !p[B_TYPE].found ||
        p[B_TYPE].m.type != SL_JSON_STRING)
        return -1;
    return 0;
}

static int unsupported(struct req *r, const char *param, const struct sl_json_pick *type)
{
    size_t n = type->m.value.len < 40 ? type->m.value.len : 40;
    return refuse(r, param, "content blocks of type '%.*s' are not supported here", (int)n,
                  type->m.value.ptr);
}

static void text_part(struct req *r, const struct sl_json_pick *text)
{
    struct sl_str raw = sl__anth_raw(&text->m);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "text");
    sl_jw_kv_raw(&r->w, "text", raw.ptr, raw.len);
    sl_jw_end(&r->w);
}

/* image {source: {type: base64, media_type, data} | {type: url, url}} ->
 * {type: image_url, image_url: {url: data URL | the URL}}. */
static int image_part(struct req *r, const struct sl_json_pick *source, const char *param)
{
    enum { S_TYPE, S_MEDIA, S_DATA, S_URL, S__N };
    struct sl_json_pick s[S__N] = {
        {.key = "type"}, {.key = "media_type"}, {.key = "data"}, {.key = "url"}};
    if (!source->found || sl__anth_pick(sl__anth_raw(&source->m), s, S__N) != 0)
        return refuse(r, param, "an image block needs a source object");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "image_url");
    sl_jw_key(&r->w, "image_url");
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "url");
    if (sl__anth_is(&s[S_TYPE], "base64") && s[S_MEDIA].found &&
        s[S_MEDIA].m.type == SL_JSON_STRING && s[S_DATA].found &&
        s[S_DATA].m.type == SL_JSON_STRING) {
        /* escaped pieces: the data URL is written without decoding either */
        sl_jw_string_open(&r->w);
        sl_jw_string_piece(&r->w, "data:", 5);
        sl_jw_string_piece(&r->w, s[S_MEDIA].m.value.ptr, s[S_MEDIA].m.value.len);
        sl_jw_string_piece(&r->w, ";base64,", 8);
        sl_jw_string_piece(&r->w, s[S_DATA].m.value.ptr, s[S_DATA].m.value.len);
        sl_jw_string_close(&r->w);
    } else if (sl__anth_is(&s[S_TYPE], "url") && s[S_URL].found &&
               s[S_URL].m.type == SL_JSON_STRING) {
        struct sl_str raw = sl__anth_raw(&s[S_URL].m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
    } else {
        return refuse(r, param,
                      "an image source must be base64 (media_type, data) or a url; file "
                      "sources are not supported here");
    }
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* A user content block other than tool_result, as an OpenAI content part. */
static int user_part(struct req *r, struct sl_json_value b, size_t i, size_t j)
{
    char param[64];
    struct sl_json_pick p[B__N];
    snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
    if (pick_block(b, p) != 0)
        return refuse(r, param, "a content block must be an object with a type");
    if (sl__anth_is(&p[B_TYPE], "text")) {
        if (!p[B_TEXT].found || p[B_TEXT].m.type != SL_JSON_STRING)
            return refuse(r, param, "a text block needs a string text");
        text_part(r, &p[B_TEXT]);
        return 0;
    }
    if (sl__anth_is(&p[B_TYPE], "image"))
        return image_part(r, &p[B_SOURCE], param);
    snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", i, j);
    return unsupported(r, param, &p[B_TYPE]);
}

/* tool_result {tool_use_id, content, is_error} -> {role: tool, tool_call_id,
 * content}: a string content as it is, text blocks joined with "\n";
 * is_error: true prefixes "Error: " (OpenAI has no such flag, and the model
 * should still know the call failed). */
static int tool_message(struct req *r, const struct sl_json_pick *p, size_t i, size_t j)
{
    char param[80];
    snprintf(param, sizeof(param), "messages[%zu].content[%zu].tool_use_id", i, j);
    if (!p[B_TOOL_USE_ID].found || p[B_TOOL_USE_ID].m.type != SL_JSON_STRING)
        return refuse(r, param, "a tool_result block needs a tool_use_id");
    const struct sl_json_member *c = &p[B_CONTENT].m;
    int has = p[B_CONTENT].found && c->type != SL_JSON_NULL;
    snprintf(param, sizeof(param), "messages[%zu].content[%zu].content", i, j);
    if (has && c->type != SL_JSON_STRING && c->type != SL_JSON_ARRAY)
        return refuse(r, param, "a tool_result's content must be a string or text blocks");
    struct sl_str id = sl__anth_raw(&p[B_TOOL_USE_ID].m);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", "tool");
    sl_jw_kv_raw(&r->w, "tool_call_id", id.ptr, id.len);
    sl_jw_key(&r->w, "content");
    sl_jw_string_open(&r->w);
    if (p[B_IS_ERROR].found && p[B_IS_ERROR].m.type == SL_JSON_TRUE)
        sl_jw_string_piece(&r->w, "Error: ", 7);
    if (has && c->type == SL_JSON_STRING) {
        sl_jw_string_piece(&r->w, c->value.ptr, c->value.len);
    } else if (has) {
        struct sl_json_walk wk;
        struct sl_json_value item, arr = sl__anth_value(c);
        sl_json_enter(&wk, &arr);
        for (size_t k = 0; sl_json_next_item(&wk, &item); k++) {
            struct sl_json_pick t[B__N];
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].content[%zu]", i, j, k);
            if (pick_block(item, t) != 0 || !sl__anth_is(&t[B_TYPE], "text") || !t[B_TEXT].found ||
                t[B_TEXT].m.type != SL_JSON_STRING)
                return refuse(r, param, "a tool_result's content may hold text blocks only");
            if (k > 0)
                sl_jw_string_piece(&r->w, "\\n", 2);
            sl_jw_string_piece(&r->w, t[B_TEXT].m.value.ptr, t[B_TEXT].m.value.len);
        }
    }
    sl_jw_string_close(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* A user turn's blocks: the tool messages first, then one user message
 * with the rest (a lone text as a string content), if there is a rest. */
static int user_turn(struct req *r, const struct sl_json_member *content, size_t i)
{
    struct sl_json_walk wk;
    struct sl_json_value b, arr = sl__anth_value(content);
    size_t rest = 0, results = 0;
    struct sl_json_pick lone[B__N];
    int lone_text = 0;
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &b); j++) {
        struct sl_json_pick p[B__N];
        int picked = pick_block(b, p) == 0;
        if (picked && sl__anth_is(&p[B_TYPE], "tool_result")) {
            int rc = tool_message(r, p, i, j);
            if (rc)
                return rc;
            results++;
            continue;
        }
        if (rest++ == 0 && picked) {
            memcpy(lone, p, sizeof(lone));
            lone_text = sl__anth_is(&p[B_TYPE], "text") && p[B_TEXT].found &&
                        p[B_TEXT].m.type == SL_JSON_STRING;
        }
    }
    if (rest == 0 && results > 0)
        return 0;
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", "user");
    sl_jw_key(&r->w, "content");
    if (rest == 0) {
        sl_jw_string(&r->w, ""); /* []: Anthropic's to refuse, as it would */
    } else if (rest == 1 && lone_text) {
        struct sl_str raw = sl__anth_raw(&lone[B_TEXT].m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
    } else {
        sl_jw_array(&r->w);
        sl_json_enter(&wk, &arr);
        for (size_t j = 0; sl_json_next_item(&wk, &b); j++) {
            struct sl_json_pick p[B__N];
            if (pick_block(b, p) == 0 && sl__anth_is(&p[B_TYPE], "tool_result"))
                continue;
            int rc = user_part(r, b, i, j);
            if (rc)
                return rc;
        }
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tool_use {id, name, input} -> {id, type: function, function: {name,
 * arguments}}: the input object's text, escaped, is the arguments string. */
static void tool_call(struct req *r, const struct sl_json_pick *p)
{
    struct sl_str id = sl__anth_raw(&p[B_ID].m), name = sl__anth_raw(&p[B_NAME].m);
    struct sl_str input = p[B_INPUT].found ? p[B_INPUT].m.value : (struct sl_str){"{}", 2};
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "id", id.ptr, id.len);
    sl_jw_kv_string(&r->w, "type", "function");
    sl_jw_key(&r->w, "function");
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    sl_jw_key(&r->w, "arguments");
    sl_jw_string_n(&r->w, input.ptr, input.len);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
}

/* An assistant turn: text blocks as the content (a lone text as a string,
 * none as null), tool_use blocks as tool_calls; thinking blocks (the
 * model's own, meaningful to Anthropic only) are left out. */
static int assistant_turn(struct req *r, const struct sl_json_member *content, size_t i)
{
    char param[64];
    struct sl_json_walk wk;
    struct sl_json_value b, arr = sl__anth_value(content);
    size_t texts = 0, calls = 0;
    struct sl_json_pick lone[B__N];
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &b); j++) {
        struct sl_json_pick p[B__N];
        snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
        if (pick_block(b, p) != 0)
            return refuse(r, param, "a content block must be an object with a type");
        if (sl__anth_is(&p[B_TYPE], "text")) {
            if (!p[B_TEXT].found || p[B_TEXT].m.type != SL_JSON_STRING)
                return refuse(r, param, "a text block needs a string text");
            if (texts++ == 0)
                memcpy(lone, p, sizeof(lone));
        } else if (sl__anth_is(&p[B_TYPE], "tool_use")) {
            if (!p[B_ID].found || p[B_ID].m.type != SL_JSON_STRING || !p[B_NAME].found ||
                p[B_NAME].m.type != SL_JSON_STRING ||
                (p[B_INPUT].found && p[B_INPUT].m.type != SL_JSON_OBJECT))
                return refuse(r, param, "a tool_use block needs an id, a name and an input object");
            calls++;
        } else if (!sl__anth_is(&p[B_TYPE], "thinking") &&
                   !sl__anth_is(&p[B_TYPE], "redacted_thinking")) {
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", i, j);
            return unsupported(r, param, &p[B_TYPE]);
        }
    }
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", "assistant");
    sl_jw_key(&r->w, "content");
    if (texts == 0) {
        sl_jw_null(&r->w);
    } else if (texts == 1) {
        struct sl_str raw = sl__anth_raw(&lone[B_TEXT].m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
    } else {
        sl_jw_array(&r->w);
        sl_json_enter(&wk, &arr);
        while (sl_json_next_item(&wk, &b)) {
            struct sl_json_pick p[B__N];
            if (pick_block(b, p) == 0 && sl__anth_is(&p[B_TYPE], "text"))
                text_part(r, &p[B_TEXT]);
        }
        sl_jw_end(&r->w);
    }
    if (calls > 0) {
        sl_jw_key(&r->w, "tool_calls");
        sl_jw_array(&r->w);
        sl_json_enter(&wk, &arr);
        while (sl_json_next_item(&wk, &b)) {
            struct sl_json_pick p[B__N];
            if (pick_block(b, p) == 0 && sl__anth_is(&p[B_TYPE], "tool_use"))
                tool_call(r, p);
        }
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    return 0;
}

/* system: a string, or text blocks (one: a string; several: text parts),
 * -> the leading system message. cache_control and citations dropped. */
static int system_message(struct req *r, const struct sl_json_member *sys)
{
    if (sys->type == SL_JSON_NULL || (sys->type == SL_JSON_STRING && sys->value.len == 0))
        return 0;
    if (sys->type == SL_JSON_STRING) {
        struct sl_str raw = sl__anth_raw(sys);
        sl_jw_object(&r->w);
        sl_jw_kv_string(&r->w, "role", "system");
        sl_jw_kv_raw(&r->w, "content", raw.ptr, raw.len);
        sl_jw_end(&r->w);
        return 0;
    }
    if (sys->type != SL_JSON_ARRAY)
        return refuse(r, "system", "system must be a string or an array of text blocks");
    if (sys->items == 0)
        return 0;
    struct sl_json_walk wk;
    struct sl_json_value b, arr = sl__anth_value(sys);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", "system");
    sl_jw_key(&r->w, "content");
    if (sys->items > 1)
        sl_jw_array(&r->w);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &b); j++) {
        char param[32];
        struct sl_json_pick p[B__N];
        snprintf(param, sizeof(param), "system[%zu]", j);
        if (pick_block(b, p) != 0 || !sl__anth_is(&p[B_TYPE], "text") || !p[B_TEXT].found ||
            p[B_TEXT].m.type != SL_JSON_STRING)
            return refuse(r, param, "system takes text blocks only");
        if (sys->items > 1) {
            text_part(r, &p[B_TEXT]);
        } else {
            struct sl_str raw = sl__anth_raw(&p[B_TEXT].m);
            sl_jw_raw(&r->w, raw.ptr, raw.len);
        }
    }
    if (sys->items > 1)
        sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

static int messages_member(struct req *r, const struct sl_json_member *sys,
                           const struct sl_json_member *messages)
{
    sl_jw_key(&r->w, "messages");
    sl_jw_array(&r->w);
    int rc = system_message(r, sys);
    if (rc)
        return rc;
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = sl__anth_value(messages);
    sl_json_enter(&wk, &arr);
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        char param[64];
        struct sl_json_pick p[2] = {{.key = "role"}, {.key = "content"}};
        snprintf(param, sizeof(param), "messages[%zu]", i);
        if (sl__anth_pick(span(msg), p, 2) != 0)
            return refuse(r, param, "a message must be an object with a role and a content");
        int user = sl__anth_is(&p[0], "user");
        if (!user && !sl__anth_is(&p[0], "assistant")) {
            snprintf(param, sizeof(param), "messages[%zu].role", i);
            return refuse(r, param, "a message's role must be user or assistant");
        }
        const struct sl_json_member *c = &p[1].m;
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        if (!p[1].found || (c->type != SL_JSON_STRING && c->type != SL_JSON_ARRAY))
            return refuse(r, param, "content must be a string or an array of content blocks");
        if (c->type == SL_JSON_STRING) {
            struct sl_str raw = sl__anth_raw(c);
            sl_jw_object(&r->w);
            sl_jw_kv_string(&r->w, "role", user ? "user" : "assistant");
            sl_jw_kv_raw(&r->w, "content", raw.ptr, raw.len);
            sl_jw_end(&r->w);
        } else if ((rc = user ? user_turn(r, c, i) : assistant_turn(r, c, i)) != 0) {
            return rc;
        }
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tools [{name, description, input_schema}] -> function tools. A tool with
 * a type other than custom is one of Anthropic's server tools (web search,
 * code execution, computer use...), which no OpenAI upstream runs. */
static int tools_member(struct req *r, const struct sl_json_member *tools)
{
    if (tools->type == SL_JSON_NULL)
        return 0;
    if (tools->type != SL_JSON_ARRAY)
        return refuse(r, "tools", "tools must be an array");
    if (tools->items == 0)
        return 0;
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl__anth_value(tools);
    sl_json_enter(&wk, &arr);
    sl_jw_key(&r->w, "tools");
    sl_jw_array(&r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        char param[64];
        enum { T_TYPE, T_NAME, T_DESC, T_SCHEMA, T__N };
        struct sl_json_pick t[T__N] = {
            {.key = "type"}, {.key = "name"}, {.key = "description"}, {.key = "input_schema"}};
        snprintf(param, sizeof(param), "tools[%zu]", i);
        if (sl__anth_pick(span(tool), t, T__N) != 0)
            return refuse(r, param, "a tool must be an object");
        if (t[T_TYPE].found && t[T_TYPE].m.type != SL_JSON_NULL &&
            !sl__anth_is(&t[T_TYPE], "custom")) {
            size_t n = t[T_TYPE].m.value.len < 40 ? t[T_TYPE].m.value.len : 40;
            snprintf(param, sizeof(param), "tools[%zu].type", i);
            return refuse(r, param, "server tools ('%.*s') are not supported here", (int)n,
                          t[T_TYPE].m.value.ptr);
        }
        if (!t[T_NAME].found || t[T_NAME].m.type != SL_JSON_STRING)
            return refuse(r, param, "a tool needs a name");
        if (!t[T_SCHEMA].found || t[T_SCHEMA].m.type != SL_JSON_OBJECT) {
            snprintf(param, sizeof(param), "tools[%zu].input_schema", i);
            return refuse(r, param, "a tool needs an input_schema object");
        }
        struct sl_str name = sl__anth_raw(&t[T_NAME].m);
        sl_jw_object(&r->w);
        sl_jw_kv_string(&r->w, "type", "function");
        sl_jw_key(&r->w, "function");
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
        if (t[T_DESC].found && t[T_DESC].m.type == SL_JSON_STRING) {
            struct sl_str raw = sl__anth_raw(&t[T_DESC].m);
            sl_jw_kv_raw(&r->w, "description", raw.ptr, raw.len);
        }
        sl_jw_kv_raw(&r->w, "parameters", t[T_SCHEMA].m.value.ptr, t[T_SCHEMA].m.value.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tool_choice {type: auto | any | tool (name) | none,
 * disable_parallel_tool_use} -> tool_choice auto | required | {type:
 * function, function: {name}} | none, and parallel_tool_calls: false. */
static int tool_choice_member(struct req *r, const struct sl_json_member *choice)
{
    enum { C_TYPE, C_NAME, C_SERIAL, C__N };
    struct sl_json_pick c[C__N] = {
        {.key = "type"}, {.key = "name"}, {.key = "disable_parallel_tool_use"}};
    if (choice->type == SL_JSON_NULL)
        return 0;
    if (sl__anth_pick(sl__anth_raw(choice), c, C__N) != 0)
        return refuse(r, "tool_choice", "tool_choice must be an object with a type");
    sl_jw_key(&r->w, "tool_choice");
    if (sl__anth_is(&c[C_TYPE], "auto")) {
        sl_jw_string(&r->w, "auto");
    } else if (sl__anth_is(&c[C_TYPE], "any")) {
        sl_jw_string(&r->w, "required");
    } else if (sl__anth_is(&c[C_TYPE], "none")) {
        sl_jw_string(&r->w, "none");
        return 0;
    } else if (sl__anth_is(&c[C_TYPE], "tool") && c[C_NAME].found &&
               c[C_NAME].m.type == SL_JSON_STRING) {
        struct sl_str name = sl__anth_raw(&c[C_NAME].m);
        sl_jw_object(&r->w);
        sl_jw_kv_string(&r->w, "type", "function");
        sl_jw_key(&r->w, "function");
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    } else {
        return refuse(r, "tool_choice.type",
                      "tool_choice must be auto, any, tool (with a name) "
                      "or none");
    }
    if (c[C_SERIAL].found && c[C_SERIAL].m.type == SL_JSON_TRUE)
        sl_jw_kv_raw(&r->w, "parallel_tool_calls", "false", 5);
    return 0;
}

/* A number member copied as it is; refused when it is not a number. */
static int number_member(struct req *r, const struct sl_json_pick *p)
{
    if (!p->found || p->m.type == SL_JSON_NULL)
        return 0;
    if (p->m.type != SL_JSON_NUMBER)
        return refuse(r, p->key, "%s must be a number", p->key);
    sl_jw_kv_raw(&r->w, p->key, p->m.value.ptr, p->m.value.len);
    return 0;
}

static int stop_member(struct req *r, const struct sl_json_member *stop)
{
    if (stop->type == SL_JSON_NULL)
        return 0;
    if (stop->type != SL_JSON_ARRAY)
        return refuse(r, "stop_sequences", "stop_sequences must be an array of strings");
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl__anth_value(stop);
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &item))
        if (*item.start != '"')
            return refuse(r, "stop_sequences", "stop_sequences must be an array of strings");
    if (stop->items > 0)
        sl_jw_kv_raw(&r->w, "stop", stop->value.ptr, stop->value.len);
    return 0;
}

int sl_messages_request(const char *body, size_t len, unsigned flags, struct sl_buf *out,
                        struct sl_messages_req_info *info, struct sl_xlat_refusal *refusal)
{
    enum {
        P_MODEL,
        P_MAX_TOKENS,
        P_MESSAGES,
        P_SYSTEM,
        P_TEMPERATURE,
        P_TOP_P,
        P_STOP,
        P_STREAM,
        P_TOOLS,
        P_TOOL_CHOICE,
        P_METADATA,
        P_MCP_SERVERS,
        P_CONTAINER,
        P__N
    };
    struct sl_json_pick p[P__N] = {
        [P_MODEL] = {.key = "model"},
        [P_MAX_TOKENS] = {.key = "max_tokens"},
        [P_MESSAGES] = {.key = "messages"},
        [P_SYSTEM] = {.key = "system"},
        [P_TEMPERATURE] = {.key = "temperature"},
        [P_TOP_P] = {.key = "top_p"},
        [P_STOP] = {.key = "stop_sequences"},
        [P_STREAM] = {.key = "stream"},
        [P_TOOLS] = {.key = "tools"},
        [P_TOOL_CHOICE] = {.key = "tool_choice"},
        [P_METADATA] = {.key = "metadata"},
        [P_MCP_SERVERS] = {.key = "mcp_servers"},
        [P_CONTAINER] = {.key = "container"},
    };
    struct req r = {.refusal = refusal};
    *info = (struct sl_messages_req_info){.max_tokens = -1};
    *refusal = (struct sl_xlat_refusal){{0}, {0}};
    if (sl__anth_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "model: field required");
    if (!p[P_MESSAGES].found || p[P_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "messages: field required (an array)");
    const struct sl_json_member *max = &p[P_MAX_TOKENS].m;
    if (p[P_MAX_TOKENS].found) {
        double v = max->type == SL_JSON_NUMBER ? strtod(max->value.ptr, NULL) : 0;
        if (v < 1 || v > 1e9 || v != (double)(long)v)
            return refuse(&r, "max_tokens", "max_tokens must be a positive integer");
        info->max_tokens = (long)v;
    } else if (!(flags & SL_MESSAGES_NO_MAX_TOKENS)) {
        return refuse(&r, "max_tokens", "max_tokens: field required");
    }
    if (p[P_MCP_SERVERS].found && p[P_MCP_SERVERS].m.type != SL_JSON_NULL &&
        !(p[P_MCP_SERVERS].m.type == SL_JSON_ARRAY && p[P_MCP_SERVERS].m.items == 0))
        return refuse(&r, "mcp_servers", "mcp_servers are not supported here");
    if (p[P_CONTAINER].found && p[P_CONTAINER].m.type != SL_JSON_NULL)
        return refuse(&r, "container", "container is not supported here");
    info->model = p[P_MODEL].m.value;
    info->stream = p[P_STREAM].found && p[P_STREAM].m.type == SL_JSON_TRUE;

    static const struct sl_json_member none = {.type = SL_JSON_NULL};
    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    struct sl_str raw = sl__anth_raw(&p[P_MODEL].m);
    sl_jw_kv_raw(&r.w, "model", raw.ptr, raw.len);
    int rc = messages_member(&r, p[P_SYSTEM].found ? &p[P_SYSTEM].m : &none, &p[P_MESSAGES].m);
    if (rc)
        return rc;
    if (info->max_tokens > 0)
        sl_jw_kv_int(&r.w, "max_tokens", info->max_tokens);
    if ((rc = number_member(&r, &p[P_TEMPERATURE])) || (rc = number_member(&r, &p[P_TOP_P])))
        return rc;
    if (p[P_STOP].found && (rc = stop_member(&r, &p[P_STOP].m)))
        return rc;
    if (info->stream) {
        sl_jw_kv_raw(&r.w, "stream", "true", 4);
        sl_jw_kv_raw(&r.w, "stream_options", "{\"include_usage\":true}", 22);
    }
    if (p[P_TOOLS].found && (rc = tools_member(&r, &p[P_TOOLS].m)))
        return rc;
    if (p[P_TOOL_CHOICE].found && (rc = tool_choice_member(&r, &p[P_TOOL_CHOICE].m)))
        return rc;
    struct sl_json_pick u[1] = {{.key = "user_id"}};
    if (p[P_METADATA].found && sl__anth_pick(sl__anth_raw(&p[P_METADATA].m), u, 1) == 0 &&
        u[0].found && u[0].m.type == SL_JSON_STRING && u[0].m.value.len > 0) {
        raw = sl__anth_raw(&u[0].m);
        sl_jw_kv_raw(&r.w, "user", raw.ptr, raw.len);
    }
    sl_jw_end(&r.w);
    return sl_jw_finish(&r.w);
}
