/* Responses API request -> chat.completions request.
 *
 * One pass over the request writes the chat body in order (model,
 * messages, sampling, tools, format, stream) with the JSON writer, and a
 * second writer puts the fields a Response repeats into the caller's echo
 * object. Values that mean the same in both APIs (texts, ids, names,
 * schemas, numbers) are copied as raw spans, never decoded.
 *
 * The input's items are not one-to-one with chat messages: a run of
 * function_call items (and the assistant message before them, when there
 * is one) is one assistant message with tool_calls, so the assistant
 * message stays open (`open`) until an item of another kind comes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/responses_int.h"

#define STATEFUL "needs a deployment that serves the Responses API itself"

enum open_msg {
    OPEN_NONE,
    OPEN_ASSISTANT, /* an assistant message without tool_calls yet: "{...,"content":...}" */
    OPEN_CALLS      /* its tool_calls array is open */
};

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
    enum open_msg open;
    size_t messages; /* written */
};

#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

static struct sl_str span_of(const struct sl_json_value *v)
{
    return (struct sl_str){v->start, (size_t)(v->end - v->start)};
}

/* At most 40 bytes of a string member, for a message. */
static int shown(const struct sl_json_member *m)
{
    return (int)(m->value.len < 40 ? m->value.len : 40);
}

static void close_open(struct req *r)
{
    if (r->open == OPEN_CALLS)
        sl_jw_end(&r->w);
    if (r->open != OPEN_NONE)
        sl_jw_end(&r->w);
    r->open = OPEN_NONE;
}

/* {"role": role, "content": (the caller writes it)... left open */
static void message_open(struct req *r, const char *role)
{
    close_open(r);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", role);
    sl_jw_key(&r->w, "content");
    r->messages++;
}

enum role { ROLE_USER, ROLE_ASSISTANT, ROLE_SYSTEM, ROLE_TOOL };

/* input_image {image_url, detail} -> {"type":"image_url","image_url":{url, detail}}. */
static int image_part(struct req *r, struct sl_str part, const char *param)
{
    struct sl_json_pick p[3] = {{.key = "image_url"}, {.key = "file_id"}, {.key = "detail"}};
    sl_xlat_pick(part, p, 3);
    if (p[1].found && p[1].m.type != SL_JSON_NULL)
        return refuse(r, param, "input_image with a file_id " STATEFUL " (send image_url)");
    if (!p[0].found || p[0].m.type != SL_JSON_STRING)
        return refuse(r, param, "input_image needs an image_url");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "image_url");
    sl_jw_key(&r->w, "image_url");
    sl_jw_object(&r->w);
    struct sl_str raw = sl_xlat_raw(&p[0].m);
    sl_jw_kv_raw(&r->w, "url", raw.ptr, raw.len);
    if (p[2].found && p[2].m.type == SL_JSON_STRING) {
        raw = sl_xlat_raw(&p[2].m);
        sl_jw_kv_raw(&r->w, "detail", raw.ptr, raw.len);
    }
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* Content parts -> chat content parts: input_text / output_text -> text,
 * input_image -> image_url (user messages), refusal -> refusal (assistant
 * messages). The array is written as the value of the open "content". */
static int parts(struct req *r, const struct sl_json_member *content, const char *where,
                 enum role role)
{
    char param[64];
    struct sl_json_walk wk;
    struct sl_json_value part, arr = sl_xlat_value(content);
    sl_json_enter(&wk, &arr);
    sl_jw_array(&r->w);
    for (size_t j = 0; sl_json_next_item(&wk, &part); j++) {
        enum { P_TYPE, P_TEXT, P_REFUSAL, P__N };
        struct sl_json_pick p[P__N] = {{.key = "type"}, {.key = "text"}, {.key = "refusal"}};
        snprintf(param, sizeof(param), "%s[%zu]", where, j);
        if (sl_xlat_pick(span_of(&part), p, P__N) != 0 || !p[P_TYPE].found ||
            p[P_TYPE].m.type != SL_JSON_STRING)
            return refuse(r, param, "a content part must be an object with a type");
        if (sl_xlat_is(&p[P_TYPE], "input_text") || sl_xlat_is(&p[P_TYPE], "output_text")) {
            if (!p[P_TEXT].found || p[P_TEXT].m.type != SL_JSON_STRING)
                return refuse(r, param, "a text part needs a string text");
            struct sl_str raw = sl_xlat_raw(&p[P_TEXT].m);
            sl_jw_object(&r->w);
            sl_jw_kv_string(&r->w, "type", "text");
            sl_jw_kv_raw(&r->w, "text", raw.ptr, raw.len);
            sl_jw_end(&r->w);
        } else if (sl_xlat_is(&p[P_TYPE], "input_image") && role == ROLE_USER) {
            int rc = image_part(r, span_of(&part), param);
            if (rc)
                return rc;
        } else if (sl_xlat_is(&p[P_TYPE], "refusal") && role == ROLE_ASSISTANT &&
                   p[P_REFUSAL].found && p[P_REFUSAL].m.type == SL_JSON_STRING) {
            struct sl_str raw = sl_xlat_raw(&p[P_REFUSAL].m);
            sl_jw_object(&r->w);
            sl_jw_kv_string(&r->w, "type", "refusal");
            sl_jw_kv_raw(&r->w, "refusal", raw.ptr, raw.len);
            sl_jw_end(&r->w);
        } else {
            snprintf(param, sizeof(param), "%s[%zu].type", where, j);
            return refuse(r, param,
                          "content parts of type '%.*s' are not served here through chat "
                          "completions",
                          shown(&p[P_TYPE].m), p[P_TYPE].m.value.ptr);
        }
    }
    sl_jw_end(&r->w);
    return 0;
}

/* A message item {role, content: string | parts}, "type": "message" or none. */
static int message_item(struct req *r, const struct sl_json_pick *role_p,
                        const struct sl_json_pick *content, size_t i)
{
    char param[64];
    enum role role;
    snprintf(param, sizeof(param), "input[%zu].role", i);
    if (sl_xlat_is(role_p, "user"))
        role = ROLE_USER;
    else if (sl_xlat_is(role_p, "assistant"))
        role = ROLE_ASSISTANT;
    else if (sl_xlat_is(role_p, "system") || sl_xlat_is(role_p, "developer"))
        role = ROLE_SYSTEM;
    else if (role_p->found && role_p->m.type == SL_JSON_STRING)
        return refuse(r, param, "messages with role '%.*s' are not supported", shown(&role_p->m),
                      role_p->m.value.ptr);
    else
        return refuse(r, param, "a message item needs a role");
    snprintf(param, sizeof(param), "input[%zu].content", i);
    if (!content->found || (content->m.type != SL_JSON_STRING && content->m.type != SL_JSON_ARRAY))
        return refuse(r, param, "content must be a string or an array of content parts");
    message_open(r, role == ROLE_USER ? "user" : role == ROLE_ASSISTANT ? "assistant" : "system");
    if (content->m.type == SL_JSON_STRING) {
        struct sl_str raw = sl_xlat_raw(&content->m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
    } else {
        int rc = parts(r, &content->m, param, role);
        if (rc)
            return rc;
    }
    if (role == ROLE_ASSISTANT)
        r->open = OPEN_ASSISTANT; /* function_call items may follow */
    else
        sl_jw_end(&r->w);
    return 0;
}

/* A function_call item {call_id, name, arguments} -> one tool_calls entry of
 * the open assistant message (opened when there is none). */
static int call_item(struct req *r, struct sl_str item, size_t i)
{
    char param[64];
    struct sl_json_pick p[3] = {{.key = "call_id"}, {.key = "name"}, {.key = "arguments"}};
    snprintf(param, sizeof(param), "input[%zu]", i);
    sl_xlat_pick(item, p, 3);
    if (!p[0].found || p[0].m.type != SL_JSON_STRING || !p[1].found ||
        p[1].m.type != SL_JSON_STRING || !p[2].found || p[2].m.type != SL_JSON_STRING)
        return refuse(r, param, "a function_call item needs a call_id, a name and arguments");
    if (r->open == OPEN_NONE) {
        message_open(r, "assistant");
        sl_jw_null(&r->w);
        r->open = OPEN_ASSISTANT;
    }
    if (r->open == OPEN_ASSISTANT) {
        sl_jw_key(&r->w, "tool_calls");
        sl_jw_array(&r->w);
        r->open = OPEN_CALLS;
    }
    struct sl_str id = sl_xlat_raw(&p[0].m), name = sl_xlat_raw(&p[1].m),
                  args = sl_xlat_raw(&p[2].m);
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "id", id.ptr, id.len);
    sl_jw_kv_string(&r->w, "type", "function");
    sl_jw_key(&r->w, "function");
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    sl_jw_kv_raw(&r->w, "arguments", args.ptr, args.len);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* A function_call_output item {call_id, output: string | text parts} -> a
 * tool message. */
static int output_item(struct req *r, struct sl_str item, size_t i)
{
    char param[64];
    struct sl_json_pick p[2] = {{.key = "call_id"}, {.key = "output"}};
    snprintf(param, sizeof(param), "input[%zu]", i);
    sl_xlat_pick(item, p, 2);
    if (!p[0].found || p[0].m.type != SL_JSON_STRING || !p[1].found ||
        (p[1].m.type != SL_JSON_STRING && p[1].m.type != SL_JSON_ARRAY))
        return refuse(r, param, "a function_call_output item needs a call_id and an output");
    close_open(r);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", "tool");
    struct sl_str raw = sl_xlat_raw(&p[0].m);
    sl_jw_kv_raw(&r->w, "tool_call_id", raw.ptr, raw.len);
    sl_jw_key(&r->w, "content");
    r->messages++;
    if (p[1].m.type == SL_JSON_STRING) {
        raw = sl_xlat_raw(&p[1].m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
    } else {
        snprintf(param, sizeof(param), "input[%zu].output", i);
        int rc = parts(r, &p[1].m, param, ROLE_TOOL);
        if (rc)
            return rc;
    }
    sl_jw_end(&r->w);
    return 0;
}

static int input_items(struct req *r, const struct sl_json_member *input)
{
    char param[64];
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(input);
    sl_json_enter(&wk, &arr);
    for (size_t i = 0; sl_json_next_item(&wk, &item); i++) {
        enum { I_TYPE, I_ROLE, I_CONTENT, I__N };
        struct sl_json_pick p[I__N] = {{.key = "type"}, {.key = "role"}, {.key = "content"}};
        snprintf(param, sizeof(param), "input[%zu]", i);
        if (sl_xlat_pick(span_of(&item), p, I__N) != 0)
            return refuse(r, param, "an input item must be an object");
        int rc;
        if (!p[I_TYPE].found || sl_xlat_is(&p[I_TYPE], "message")) {
            rc = message_item(r, &p[I_ROLE], &p[I_CONTENT], i);
        } else if (sl_xlat_is(&p[I_TYPE], "function_call")) {
            rc = call_item(r, span_of(&item), i);
        } else if (sl_xlat_is(&p[I_TYPE], "function_call_output")) {
            rc = output_item(r, span_of(&item), i);
        } else {
            snprintf(param, sizeof(param), "input[%zu].type", i);
            if (p[I_TYPE].m.type != SL_JSON_STRING)
                return refuse(r, param, "an input item's type must be a string");
            if (sl_xlat_is(&p[I_TYPE], "reasoning") || sl_xlat_is(&p[I_TYPE], "item_reference"))
                return refuse(r, param, "input items of type '%.*s': that " STATEFUL,
                              shown(&p[I_TYPE].m), p[I_TYPE].m.value.ptr);
            return refuse(r, param,
                          "input items of type '%.*s' are not served through chat "
                          "completions: that " STATEFUL,
                          shown(&p[I_TYPE].m), p[I_TYPE].m.value.ptr);
        }
        if (rc)
            return rc;
    }
    close_open(r);
    return 0;
}

/* "messages": instructions as a leading system message, then input. */
static int messages_member(struct req *r, const struct sl_json_pick *instructions,
                           const struct sl_json_pick *input)
{
    sl_jw_key(&r->w, "messages");
    sl_jw_array(&r->w);
    if (instructions->found && instructions->m.type == SL_JSON_STRING &&
        instructions->m.value.len > 0) {
        message_open(r, "system");
        struct sl_str raw = sl_xlat_raw(&instructions->m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
        sl_jw_end(&r->w);
    } else if (instructions->found && instructions->m.type != SL_JSON_NULL &&
               instructions->m.type != SL_JSON_STRING) {
        return refuse(r, "instructions", "instructions must be a string");
    }
    size_t before = r->messages;
    if (input->found && input->m.type == SL_JSON_STRING) {
        message_open(r, "user");
        struct sl_str raw = sl_xlat_raw(&input->m);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
        sl_jw_end(&r->w);
    } else if (input->found && input->m.type == SL_JSON_ARRAY) {
        int rc = input_items(r, &input->m);
        if (rc)
            return rc;
    } else if (input->found && input->m.type != SL_JSON_NULL) {
        return refuse(r, "input", "input must be a string or an array of items");
    }
    sl_jw_end(&r->w);
    if (r->messages == before)
        return refuse(r, "input", "input is required: a string or an array of items");
    return 0;
}

/* tools [{type: function, name, description, parameters, strict}] (flat) ->
 * chat's [{type: function, function: {name, description, parameters,
 * strict}}]. Built-in tools run on OpenAI's side: refused. */
static int tools_member(struct req *r, const struct sl_json_member *tools, int *ntools)
{
    char param[64];
    *ntools = 0;
    if (tools->type == SL_JSON_NULL)
        return 0;
    if (tools->type != SL_JSON_ARRAY)
        return refuse(r, "tools", "tools must be an array");
    if (tools->items == 0)
        return 0;
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl_xlat_value(tools);
    sl_json_enter(&wk, &arr);
    sl_jw_key(&r->w, "tools");
    sl_jw_array(&r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        enum { T_TYPE, T_NAME, T_DESCRIPTION, T_PARAMETERS, T_STRICT, T__N };
        struct sl_json_pick t[T__N] = {{.key = "type"},
                                       {.key = "name"},
                                       {.key = "description"},
                                       {.key = "parameters"},
                                       {.key = "strict"}};
        snprintf(param, sizeof(param), "tools[%zu]", i);
        if (sl_xlat_pick(span_of(&tool), t, T__N) != 0 || !t[T_TYPE].found ||
            t[T_TYPE].m.type != SL_JSON_STRING)
            return refuse(r, param, "a tool must be an object with a type");
        if (!sl_xlat_is(&t[T_TYPE], "function")) {
            snprintf(param, sizeof(param), "tools[%zu].type", i);
            return refuse(r, param,
                          "the built-in tool '%.*s' " STATEFUL " (only function tools "
                          "are served through chat completions)",
                          shown(&t[T_TYPE].m), t[T_TYPE].m.value.ptr);
        }
        if (!t[T_NAME].found || t[T_NAME].m.type != SL_JSON_STRING)
            return refuse(r, param, "a function tool needs a name");
        sl_jw_object(&r->w);
        sl_jw_kv_string(&r->w, "type", "function");
        sl_jw_key(&r->w, "function");
        sl_jw_object(&r->w);
        struct sl_str raw = sl_xlat_raw(&t[T_NAME].m);
        sl_jw_kv_raw(&r->w, "name", raw.ptr, raw.len);
        if (t[T_DESCRIPTION].found && t[T_DESCRIPTION].m.type == SL_JSON_STRING) {
            raw = sl_xlat_raw(&t[T_DESCRIPTION].m);
            sl_jw_kv_raw(&r->w, "description", raw.ptr, raw.len);
        }
        if (t[T_PARAMETERS].found && t[T_PARAMETERS].m.type == SL_JSON_OBJECT)
            sl_jw_kv_raw(&r->w, "parameters", t[T_PARAMETERS].m.value.ptr,
                         t[T_PARAMETERS].m.value.len);
        if (t[T_STRICT].found &&
            (t[T_STRICT].m.type == SL_JSON_TRUE || t[T_STRICT].m.type == SL_JSON_FALSE))
            sl_jw_kv_raw(&r->w, "strict", t[T_STRICT].m.value.ptr, t[T_STRICT].m.value.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
        ++*ntools;
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tool_choice auto / none / required / {type: function, name} -> chat's
 * auto / none / required / {type: function, function: {name}};
 * parallel_tool_calls as it is. Both only with tools (chat refuses them
 * without). */
static int tool_choice_member(struct req *r, const struct sl_json_pick *choice,
                              const struct sl_json_pick *parallel, int ntools)
{
    static const char *const msg = "tool_choice must be auto, none, required or a function";
    if (choice->found && choice->m.type == SL_JSON_STRING) {
        struct sl_str c = choice->m.value;
        if (!sl_str_eq(c, "auto") && !sl_str_eq(c, "none") && !sl_str_eq(c, "required"))
            return refuse(r, "tool_choice", "%s", msg);
        if (sl_str_eq(c, "required") && ntools == 0)
            return refuse(r, "tool_choice", "tool_choice required needs tools");
        if (ntools)
            sl_jw_kv_raw(&r->w, "tool_choice", c.ptr - 1, c.len + 2);
    } else if (choice->found && choice->m.type == SL_JSON_OBJECT) {
        struct sl_json_pick c[2] = {{.key = "type"}, {.key = "name"}};
        sl_xlat_pick(choice->m.value, c, 2);
        if (!sl_xlat_is(&c[0], "function") || !c[1].found || c[1].m.type != SL_JSON_STRING) {
            if (c[0].found && c[0].m.type == SL_JSON_STRING && !sl_xlat_is(&c[0], "function"))
                return refuse(r, "tool_choice", "tool_choice of type '%.*s' " STATEFUL,
                              shown(&c[0].m), c[0].m.value.ptr);
            return refuse(r, "tool_choice", "%s", msg);
        }
        if (ntools == 0)
            return refuse(r, "tool_choice", "tool_choice names a function but there are no tools");
        struct sl_str name = sl_xlat_raw(&c[1].m);
        sl_jw_key(&r->w, "tool_choice");
        sl_jw_object(&r->w);
        sl_jw_kv_string(&r->w, "type", "function");
        sl_jw_key(&r->w, "function");
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    } else if (choice->found && choice->m.type != SL_JSON_NULL) {
        return refuse(r, "tool_choice", "%s", msg);
    }
    if (parallel->found && parallel->m.type != SL_JSON_NULL) {
        if (parallel->m.type != SL_JSON_TRUE && parallel->m.type != SL_JSON_FALSE)
            return refuse(r, "parallel_tool_calls", "parallel_tool_calls must be a boolean");
        if (ntools)
            sl_jw_kv_raw(&r->w, "parallel_tool_calls", parallel->m.value.ptr,
                         parallel->m.value.len);
    }
    return 0;
}

/* text {format: text | json_object | json_schema {name, schema, strict,
 * description}, verbosity} -> response_format and verbosity. */
static int text_member(struct req *r, const struct sl_json_member *text)
{
    if (text->type == SL_JSON_NULL)
        return 0;
    struct sl_json_pick t[2] = {{.key = "format"}, {.key = "verbosity"}};
    if (text->type != SL_JSON_OBJECT || sl_xlat_pick(text->value, t, 2) != 0)
        return refuse(r, "text", "text must be an object");
    if (t[1].found && t[1].m.type == SL_JSON_STRING) {
        struct sl_str raw = sl_xlat_raw(&t[1].m);
        sl_jw_kv_raw(&r->w, "verbosity", raw.ptr, raw.len);
    }
    if (!t[0].found || t[0].m.type == SL_JSON_NULL)
        return 0;
    enum { F_TYPE, F_NAME, F_SCHEMA, F_STRICT, F_DESCRIPTION, F__N };
    struct sl_json_pick f[F__N] = {{.key = "type"},
                                   {.key = "name"},
                                   {.key = "schema"},
                                   {.key = "strict"},
                                   {.key = "description"}};
    if (sl_xlat_pick(sl_xlat_raw(&t[0].m), f, F__N) != 0)
        return refuse(r, "text.format", "text.format must be an object with a type");
    if (sl_xlat_is(&f[F_TYPE], "text"))
        return 0;
    if (sl_xlat_is(&f[F_TYPE], "json_object")) {
        sl_jw_key(&r->w, "response_format");
        sl_jw_raw(&r->w, "{\"type\":\"json_object\"}", 22);
        return 0;
    }
    if (!sl_xlat_is(&f[F_TYPE], "json_schema"))
        return refuse(r, "text.format.type",
                      "text.format.type must be text, json_object or "
                      "json_schema");
    if (!f[F_NAME].found || f[F_NAME].m.type != SL_JSON_STRING || !f[F_SCHEMA].found ||
        f[F_SCHEMA].m.type != SL_JSON_OBJECT)
        return refuse(r, "text.format", "a json_schema format needs a name and a schema");
    sl_jw_key(&r->w, "response_format");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "json_schema");
    sl_jw_key(&r->w, "json_schema");
    sl_jw_object(&r->w);
    struct sl_str raw = sl_xlat_raw(&f[F_NAME].m);
    sl_jw_kv_raw(&r->w, "name", raw.ptr, raw.len);
    if (f[F_DESCRIPTION].found && f[F_DESCRIPTION].m.type == SL_JSON_STRING) {
        raw = sl_xlat_raw(&f[F_DESCRIPTION].m);
        sl_jw_kv_raw(&r->w, "description", raw.ptr, raw.len);
    }
    sl_jw_kv_raw(&r->w, "schema", f[F_SCHEMA].m.value.ptr, f[F_SCHEMA].m.value.len);
    if (f[F_STRICT].found &&
        (f[F_STRICT].m.type == SL_JSON_TRUE || f[F_STRICT].m.type == SL_JSON_FALSE))
        sl_jw_kv_raw(&r->w, "strict", f[F_STRICT].m.value.ptr, f[F_STRICT].m.value.len);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* The fields that need state the gateway does not keep, or work it does
 * not do: refused, with the field named. */
static int stateful(struct req *r, const struct sl_json_pick *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_json_member *m = &p[i].m;
        if (!p[i].found || m->type == SL_JSON_NULL || m->type == SL_JSON_FALSE)
            continue;
        if (strcmp(p[i].key, "include") == 0 && m->type == SL_JSON_ARRAY && m->items == 0)
            continue;
        return refuse(r, p[i].key, "%s " STATEFUL, p[i].key);
    }
    return 0;
}

/* A number member: 0 when absent or null, 1 when a number, else refused. */
static int number(struct req *r, const struct sl_json_pick *p)
{
    if (!p->found || p->m.type == SL_JSON_NULL)
        return 0;
    if (p->m.type != SL_JSON_NUMBER)
        return refuse(r, p->key, "%s must be a number", p->key);
    return 1;
}

/* The echo: the request fields a Response object repeats, with the API's
 * defaults for those not sent. */
static void echo_write(struct sl_jw *e, const struct sl_json_pick *instructions,
                       const struct sl_json_pick *max_output, const struct sl_json_pick *metadata,
                       const struct sl_json_pick *parallel, const struct sl_json_pick *reasoning,
                       const struct sl_json_pick *temperature, const struct sl_json_pick *text,
                       const struct sl_json_pick *tool_choice, const struct sl_json_pick *tools,
                       const struct sl_json_pick *top_p, const struct sl_json_pick *truncation,
                       const struct sl_json_pick *user)
{
    struct {
        const char *key;
        const struct sl_json_pick *p;
        enum sl_json_type type; /* echoed when of this type */
        const char *dflt;
    } f[] = {
        {"instructions", instructions, SL_JSON_STRING, "null"},
        {"max_output_tokens", max_output, SL_JSON_NUMBER, "null"},
        {"metadata", metadata, SL_JSON_OBJECT, "{}"},
        {"parallel_tool_calls", parallel, SL_JSON_FALSE, "true"},
        {"previous_response_id", NULL, SL_JSON_NULL, "null"},
        {"reasoning", reasoning, SL_JSON_OBJECT, "{\"effort\":null,\"summary\":null}"},
        {"store", NULL, SL_JSON_NULL, "false"},
        {"temperature", temperature, SL_JSON_NUMBER, "null"},
        {"text", text, SL_JSON_OBJECT, "{\"format\":{\"type\":\"text\"}}"},
        {"tool_choice", tool_choice, SL_JSON_STRING, "\"auto\""},
        {"tools", tools, SL_JSON_ARRAY, "[]"},
        {"top_p", top_p, SL_JSON_NUMBER, "null"},
        {"truncation", truncation, SL_JSON_STRING, "\"disabled\""},
        {"user", user, SL_JSON_STRING, NULL},
    };
    sl_jw_object(e);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        const struct sl_json_pick *p = f[i].p;
        int take =
            p && p->found &&
            (p->m.type == f[i].type || (f[i].type == SL_JSON_FALSE && p->m.type == SL_JSON_TRUE) ||
             (f[i].type == SL_JSON_STRING && p->m.type == SL_JSON_OBJECT && p == tool_choice));
        if (take) {
            struct sl_str raw = sl_xlat_raw(&p->m);
            sl_jw_kv_raw(e, f[i].key, raw.ptr, raw.len);
        } else if (f[i].dflt) {
            sl_jw_kv_raw(e, f[i].key, f[i].dflt, strlen(f[i].dflt));
        }
    }
    sl_jw_end(e);
}

int sl_responses_request(const char *body, size_t len, const struct sl_responses_req_opts *opts,
                         struct sl_buf *out, struct sl_buf *echo,
                         struct sl_responses_req_info *info, struct sl_xlat_refusal *refusal)
{
    enum {
        P_MODEL,
        P_INPUT,
        P_INSTRUCTIONS,
        P_TOOLS,
        P_TOOL_CHOICE,
        P_PARALLEL,
        P_MAX_OUTPUT,
        P_TEMPERATURE,
        P_TOP_P,
        P_TEXT,
        P_REASONING,
        P_STREAM,
        P_USER,
        P_SAFETY_ID,
        P_METADATA,
        P_TRUNCATION,
        /* refused when set */
        P_PREVIOUS,
        P_CONVERSATION,
        P_BACKGROUND,
        P_INCLUDE,
        P_PROMPT,
        P_MAX_TOOL_CALLS,
        P__N
    };
    struct sl_json_pick p[P__N] = {
        [P_MODEL] = {.key = "model"},
        [P_INPUT] = {.key = "input"},
        [P_INSTRUCTIONS] = {.key = "instructions"},
        [P_TOOLS] = {.key = "tools"},
        [P_TOOL_CHOICE] = {.key = "tool_choice"},
        [P_PARALLEL] = {.key = "parallel_tool_calls"},
        [P_MAX_OUTPUT] = {.key = "max_output_tokens"},
        [P_TEMPERATURE] = {.key = "temperature"},
        [P_TOP_P] = {.key = "top_p"},
        [P_TEXT] = {.key = "text"},
        [P_REASONING] = {.key = "reasoning"},
        [P_STREAM] = {.key = "stream"},
        [P_USER] = {.key = "user"},
        [P_SAFETY_ID] = {.key = "safety_identifier"},
        [P_METADATA] = {.key = "metadata"},
        [P_TRUNCATION] = {.key = "truncation"},
        [P_PREVIOUS] = {.key = "previous_response_id"},
        [P_CONVERSATION] = {.key = "conversation"},
        [P_BACKGROUND] = {.key = "background"},
        [P_INCLUDE] = {.key = "include"},
        [P_PROMPT] = {.key = "prompt"},
        [P_MAX_TOOL_CALLS] = {.key = "max_tool_calls"},
    };
    struct req r = {.refusal = refusal};
    *info = (struct sl_responses_req_info){0};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING || p[P_MODEL].m.value.len == 0)
        return refuse(&r, "model", "you must provide a model parameter");
    int rc = stateful(&r, &p[P_PREVIOUS], P__N - P_PREVIOUS);
    if (rc)
        return rc;
    info->model = p[P_MODEL].m.value;

    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    if (opts && opts->model) {
        sl_jw_kv_string(&r.w, "model", opts->model);
    } else {
        struct sl_str raw = sl_xlat_raw(&p[P_MODEL].m);
        sl_jw_kv_raw(&r.w, "model", raw.ptr, raw.len);
    }
    if ((rc = messages_member(&r, &p[P_INSTRUCTIONS], &p[P_INPUT])))
        return rc;

    int ntools = 0;
    if (p[P_TOOLS].found && (rc = tools_member(&r, &p[P_TOOLS].m, &ntools)))
        return rc;
    if ((rc = tool_choice_member(&r, &p[P_TOOL_CHOICE], &p[P_PARALLEL], ntools)))
        return rc;
    if ((rc = number(&r, &p[P_MAX_OUTPUT])) < 0)
        return rc;
    if (rc) {
        double v = strtod(p[P_MAX_OUTPUT].m.value.ptr, NULL);
        if (v < 1 || v > 1e9 || v != (double)(long)v)
            return refuse(&r, "max_output_tokens", "max_output_tokens must be a positive integer");
        sl_jw_kv_raw(&r.w, "max_completion_tokens", p[P_MAX_OUTPUT].m.value.ptr,
                     p[P_MAX_OUTPUT].m.value.len);
    }
    for (int i = P_TEMPERATURE; i <= P_TOP_P; i++) {
        if ((rc = number(&r, &p[i])) < 0)
            return rc;
        if (rc)
            sl_jw_kv_raw(&r.w, p[i].key, p[i].m.value.ptr, p[i].m.value.len);
    }
    if (p[P_TEXT].found && (rc = text_member(&r, &p[P_TEXT].m)))
        return rc;
    if (p[P_REASONING].found && p[P_REASONING].m.type == SL_JSON_OBJECT) {
        struct sl_json_pick e[1] = {{.key = "effort"}};
        if (sl_xlat_pick(p[P_REASONING].m.value, e, 1) == 0 && e[0].found &&
            e[0].m.type == SL_JSON_STRING) {
            struct sl_str raw = sl_xlat_raw(&e[0].m);
            sl_jw_kv_raw(&r.w, "reasoning_effort", raw.ptr, raw.len);
        }
    } else if (p[P_REASONING].found && p[P_REASONING].m.type != SL_JSON_NULL) {
        return refuse(&r, "reasoning", "reasoning must be an object");
    }
    if (p[P_STREAM].found && p[P_STREAM].m.type == SL_JSON_TRUE) {
        info->stream = 1;
        sl_jw_kv_raw(&r.w, "stream", "true", 4);
        sl_jw_kv_raw(&r.w, "stream_options", "{\"include_usage\":true}", 22);
    }
    const struct sl_json_pick *user = &p[P_USER];
    if (!(user->found && user->m.type == SL_JSON_STRING))
        user = &p[P_SAFETY_ID];
    if (user->found && user->m.type == SL_JSON_STRING) {
        struct sl_str raw = sl_xlat_raw(&user->m);
        sl_jw_kv_raw(&r.w, "user", raw.ptr, raw.len);
    }
    sl_jw_end(&r.w);
    if ((rc = sl_jw_finish(&r.w)))
        return rc;

    struct sl_jw e;
    sl_jw_init(&e, echo);
    echo_write(&e, &p[P_INSTRUCTIONS], &p[P_MAX_OUTPUT], &p[P_METADATA], &p[P_PARALLEL],
               &p[P_REASONING], &p[P_TEMPERATURE], &p[P_TEXT], &p[P_TOOL_CHOICE], &p[P_TOOLS],
               &p[P_TOP_P], &p[P_TRUNCATION], &p[P_USER]);
    return sl_jw_finish(&e);
}

int sl_responses_peek(const char *body, size_t len, struct sl_responses_peek *out,
                      struct sl_xlat_refusal *refusal)
{
    struct sl_json_pick p[3] = {{.key = "model"}, {.key = "stream"}, {.key = "max_output_tokens"}};
    struct req r = {.refusal = refusal};
    *out = (struct sl_responses_peek){.max_output_tokens = -1};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, 3) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[0].found || p[0].m.type != SL_JSON_STRING || p[0].m.value.len == 0 ||
        p[0].m.value.len >= 128)
        return refuse(&r, "model", "you must provide a model parameter");
    out->model = p[0].m.value;
    out->stream = p[1].found && p[1].m.type == SL_JSON_TRUE;
    if (p[2].found && p[2].m.type == SL_JSON_NUMBER)
        out->max_output_tokens = strtol(p[2].m.value.ptr, NULL, 10);
    return 0;
}
