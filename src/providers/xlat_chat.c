/* Reading an OpenAI chat.completions request for a provider adapter
 * (xlat_chat.h): the members' checks and their pieces, the same for every
 * provider; what each piece becomes is the adapter's callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/xlat_chat.h"

#define refuse(c, ...) sl_xlat_refuse((c)->refusal, __VA_ARGS__)

/* The length of a view for a %.*s, at most 40. */
#define SHORT(s) (int)((s).len < 40 ? (s).len : 40)

int sl__xchat_image(struct sl__xchat *c, struct sl_str image_url, const char *param,
                    struct sl__xchat_image *img)
{
    struct sl_json_pick p[1] = {{.key = "url"}};
    struct sl_json_value v = {image_url.ptr, image_url.ptr + image_url.len};
    if (*image_url.ptr != '"') {
        if (sl_xlat_pick(image_url, p, 1) != 0 || !p[0].found || p[0].m.type != SL_JSON_STRING)
            return refuse(c, param, "image_url must be an object with a string url");
        v = sl_xlat_value(&p[0].m);
    }
    sl_buf_reset(&c->scratch);
    if (sl_json_string(&v, &c->scratch) != 0)
        return UV_ENOMEM;
    const char *url = c->scratch.ptr ? c->scratch.ptr : "";
    size_t len = c->scratch.len;
    *img = (struct sl__xchat_image){.url = {url, len}, .raw = sl_xlat_span(v)};
    if (len >= 5 && strncmp(url, "data:", 5) == 0) {
        const char *comma = memchr(url, ',', len);
        const char *semi = comma ? memchr(url, ';', (size_t)(comma - url)) : NULL;
        if (semi == NULL || (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0 ||
            semi == url + 5)
            return refuse(c, param, "an image data URL must be data:<media type>;base64,<data>");
        img->inline_data = 1;
        img->mime = (struct sl_str){url + 5, (size_t)(semi - (url + 5))};
        img->data = (struct sl_str){comma + 1, len - (size_t)(comma + 1 - url)};
    } else if (len == 0) {
        return refuse(c, param, "an image needs a url");
    }
    return 0;
}

int sl__xchat_content(struct sl__xchat *c, const struct sl_json_member *content, size_t i,
                      int (*text)(void *arg, struct sl_str raw),
                      int (*image)(void *arg, struct sl_str image_url, const char *param))
{
    char param[64];
    if (content->type == SL_JSON_NULL)
        return 0;
    if (content->type == SL_JSON_STRING)
        return content->value.len > 0 ? text(c->arg, sl_xlat_raw(content)) : 0;
    if (content->type != SL_JSON_ARRAY) {
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        return refuse(c, param, "content must be a string or an array of content parts");
    }
    struct sl_json_walk wk;
    struct sl_json_value part, arr = sl_xlat_value(content);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &part); j++) {
        enum { P_TYPE, P_TEXT, P_IMAGE, P__N };
        struct sl_json_pick p[P__N] = {{.key = "type"}, {.key = "text"}, {.key = "image_url"}};
        snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
        if (sl_xlat_pick(sl_xlat_span(part), p, P__N) != 0 || !p[P_TYPE].found ||
            p[P_TYPE].m.type != SL_JSON_STRING)
            return refuse(c, param, "a content part must be an object with a type");
        int rc = 0;
        if (sl_xlat_is(&p[P_TYPE], "refusal")) {
            continue; /* the model's own refusal, in an assistant message: not sent */
        } else if (sl_xlat_is(&p[P_TYPE], "text")) {
            if (!p[P_TEXT].found || p[P_TEXT].m.type != SL_JSON_STRING)
                return refuse(c, param, "a text part needs a string text");
            if (p[P_TEXT].m.value.len > 0)
                rc = text(c->arg, sl_xlat_raw(&p[P_TEXT].m));
        } else if (sl_xlat_is(&p[P_TYPE], "image_url") && image) {
            if (!p[P_IMAGE].found)
                return refuse(c, param, "an image_url part needs an image_url");
            rc = image(c->arg, sl_xlat_raw(&p[P_IMAGE].m), param);
        } else {
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", i, j);
            return refuse(c, param, "content parts of type '%.*s' are not supported by %s",
                          SHORT(p[P_TYPE].m.value), p[P_TYPE].m.value.ptr, c->provider);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* A tool call's arguments (a JSON string holding a JSON object) as the
 * object's text: "{}" for none, null or only blanks. */
static int call_args(struct sl__xchat *c, const struct sl_json_pick *f, const char *param,
                     struct sl_str *args)
{
    *args = (struct sl_str){"{}", 2};
    if (!f->found || f->m.type == SL_JSON_NULL)
        return 0;
    if (f->m.type != SL_JSON_STRING)
        return refuse(c, param, "function.arguments must be a string");
    struct sl_json_value av = sl_xlat_value(&f->m);
    sl_buf_reset(&c->scratch);
    if (sl_json_string(&av, &c->scratch) != 0)
        return UV_ENOMEM;
    const char *a = c->scratch.ptr ? c->scratch.ptr : "";
    if (strspn(a, " \t\r\n") == c->scratch.len)
        return 0;
    struct sl_json_doc d;
    if (sl_json_scan(a, c->scratch.len, &d) != 0 || d.type != SL_JSON_OBJECT)
        return refuse(c, param, "function.arguments must be a JSON object");
    *args = (struct sl_str){a, c->scratch.len};
    return 0;
}

int sl__xchat_tool_calls(struct sl__xchat *c, const struct sl_json_member *calls, size_t i,
                         int (*each)(void *arg, struct sl_str id, struct sl_str name,
                                     struct sl_str args))
{
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_calls", i);
    if (calls->type == SL_JSON_NULL)
        return 0;
    if (calls->type != SL_JSON_ARRAY)
        return refuse(c, param, "tool_calls must be an array");
    struct sl_json_walk wk;
    struct sl_json_value call, arr = sl_xlat_value(calls);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &call); j++) {
        snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu]", i, j);
        struct sl_json_pick k[3] = {{.key = "id"}, {.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
        if (sl_xlat_pick(sl_xlat_span(call), k, 3) || !k[0].found ||
            k[0].m.type != SL_JSON_STRING || !k[2].found ||
            (k[1].found && !sl_xlat_is(&k[1], "function")) ||
            sl_xlat_pick(sl_xlat_raw(&k[2].m), f, 2) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(c, param, "a tool call needs an id and a function with a name");
        struct sl_str args;
        int rc = call_args(c, &f[1], param, &args);
        if (rc == 0)
            rc = each(c->arg, sl_xlat_raw(&k[0].m), sl_xlat_raw(&f[0].m), args);
        if (rc)
            return rc;
    }
    return 0;
}

int sl__xchat_messages(struct sl__xchat *c, struct sl_str messages,
                       const struct sl__xchat_roles *roles)
{
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = {messages.ptr, messages.ptr + messages.len};
    char param[64];
    sl_json_enter(&wk, &arr);
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        enum { M_ROLE, M_CONTENT, M_TOOL_CALLS, M_TOOL_CALL_ID, M_FUNCTION_CALL, M__N };
        struct sl_json_pick p[M__N] = {{.key = "role"},
                                       {.key = "content"},
                                       {.key = "tool_calls"},
                                       {.key = "tool_call_id"},
                                       {.key = "function_call"}};
        snprintf(param, sizeof(param), "messages[%zu].role", i);
        if (sl_xlat_pick(sl_xlat_span(msg), p, M__N) || !p[M_ROLE].found ||
            p[M_ROLE].m.type != SL_JSON_STRING)
            return refuse(c, param, "a message must be an object with a role");
        static const struct sl_json_member none = {.type = SL_JSON_NULL};
        const struct sl_json_member *content = p[M_CONTENT].found ? &p[M_CONTENT].m : &none;
        int rc = 0;
        if (sl_xlat_is(&p[M_ROLE], "system") || sl_xlat_is(&p[M_ROLE], "developer")) {
            continue;
        } else if (sl_xlat_is(&p[M_ROLE], "user")) {
            rc = sl__xchat_content(c, content, i, roles->user_text, roles->image);
        } else if (sl_xlat_is(&p[M_ROLE], "assistant")) {
            if (p[M_FUNCTION_CALL].found && p[M_FUNCTION_CALL].m.type != SL_JSON_NULL) {
                snprintf(param, sizeof(param), "messages[%zu].function_call", i);
                return refuse(c, param, "function_call is deprecated: use tool_calls");
            }
            rc = sl__xchat_content(c, content, i, roles->assistant_text, NULL);
            if (rc == 0 && p[M_TOOL_CALLS].found)
                rc = sl__xchat_tool_calls(c, &p[M_TOOL_CALLS].m, i, roles->tool_call);
        } else if (sl_xlat_is(&p[M_ROLE], "tool")) {
            snprintf(param, sizeof(param), "messages[%zu].tool_call_id", i);
            if (!p[M_TOOL_CALL_ID].found || p[M_TOOL_CALL_ID].m.type != SL_JSON_STRING)
                return refuse(c, param, "a tool message needs a tool_call_id");
            rc = roles->tool_result(c->arg, sl_xlat_raw(&p[M_TOOL_CALL_ID].m), &p[M_CONTENT], i);
        } else {
            return refuse(c, param, "messages with role '%.*s' are not supported by %s",
                          SHORT(p[M_ROLE].m.value), p[M_ROLE].m.value.ptr, c->provider);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int sl__xchat_system_texts(struct sl__xchat *c, struct sl_str messages,
                           void (*each)(void *arg, struct sl_str raw), size_t *n)
{
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = {messages.ptr, messages.ptr + messages.len};
    sl_json_enter(&wk, &arr);
    *n = 0;
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        struct sl_json_pick p[2] = {{.key = "role"}, {.key = "content"}};
        if (sl_xlat_pick(sl_xlat_span(msg), p, 2) != 0 ||
            !(sl_xlat_is(&p[0], "system") || sl_xlat_is(&p[0], "developer")) || !p[1].found)
            continue;
        const struct sl_json_member *m = &p[1].m;
        char param[64];
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        struct sl_json_member one = *m;
        struct sl_json_walk pw = {NULL, NULL};
        struct sl_json_value part, parts = sl_xlat_value(m);
        if (m->type == SL_JSON_ARRAY)
            sl_json_enter(&pw, &parts);
        else if (m->type != SL_JSON_STRING)
            return refuse(c, param, "a system message's content must be a string or text parts");
        /* a string is one text; an array, one per part */
        for (int first = 1; m->type == SL_JSON_STRING ? first : sl_json_next_item(&pw, &part);
             first = 0) {
            if (m->type == SL_JSON_ARRAY) {
                struct sl_json_pick t[2] = {{.key = "type"}, {.key = "text"}};
                if (sl_xlat_pick(sl_xlat_span(part), t, 2) != 0 || !sl_xlat_is(&t[0], "text") ||
                    !t[1].found || t[1].m.type != SL_JSON_STRING)
                    return refuse(c, param, "a system message takes text parts only");
                one = t[1].m;
            }
            if (one.value.len == 0)
                continue;
            ++*n;
            if (each)
                each(c->arg, sl_xlat_raw(&one));
        }
    }
    return 0;
}

int sl__xchat_stops(struct sl__xchat *c, const struct sl_json_member *stop,
                    void (*each)(void *arg, struct sl_str raw, size_t index), size_t *n)
{
    *n = 0;
    if (stop->type == SL_JSON_NULL)
        return 0;
    if (stop->type == SL_JSON_STRING) {
        if (stop->value.len > 0)
            each(c->arg, sl_xlat_raw(stop), (*n)++);
        return 0;
    }
    if (stop->type != SL_JSON_ARRAY)
        return refuse(c, "stop", "stop must be a string or an array of strings");
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(stop);
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &item)) {
        if (*item.start != '"')
            return refuse(c, "stop", "stop must be a string or an array of strings");
        if (item.end - item.start > 2) /* empty ones left out: providers refuse them */
            each(c->arg, sl_xlat_span(item), (*n)++);
    }
    return 0;
}

int sl__xchat_tools(struct sl__xchat *c, const struct sl_json_member *tools,
                    int (*each)(void *arg, size_t i, struct sl_str name, struct sl_str description,
                                const struct sl_json_member *parameters),
                    size_t *n)
{
    char param[64];
    *n = 0;
    if (tools->type == SL_JSON_NULL)
        return 0;
    if (tools->type != SL_JSON_ARRAY)
        return refuse(c, "tools", "tools must be an array");
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl_xlat_value(tools);
    sl_json_enter(&wk, &arr);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        snprintf(param, sizeof(param), "tools[%zu]", i);
        struct sl_json_pick t[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[3] = {{.key = "name"}, {.key = "description"}, {.key = "parameters"}};
        if (sl_xlat_pick(sl_xlat_span(tool), t, 2))
            return refuse(c, param, "a tool must be an object");
        if (!sl_xlat_is(&t[0], "function")) {
            snprintf(param, sizeof(param), "tools[%zu].type", i);
            return refuse(c, param, "only function tools are supported by %s", c->provider);
        }
        if (!t[1].found || sl_xlat_pick(sl_xlat_raw(&t[1].m), f, 3) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(c, param, "a function tool needs a function with a name");
        struct sl_str description = {NULL, 0};
        if (f[1].found && f[1].m.type == SL_JSON_STRING)
            description = sl_xlat_raw(&f[1].m);
        int has_params = f[2].found && f[2].m.type != SL_JSON_NULL;
        if (has_params && f[2].m.type != SL_JSON_OBJECT) {
            snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
            return refuse(c, param, "parameters must be a JSON schema object");
        }
        int rc = each(c->arg, i, sl_xlat_raw(&f[0].m), description, has_params ? &f[2].m : NULL);
        if (rc)
            return rc;
        ++*n;
    }
    return 0;
}

int sl__xchat_tool_choice(struct sl__xchat *c, const struct sl_json_pick *choice,
                          enum sl__xchat_choice *kind, struct sl_str *name)
{
    *kind = SL__XC_ABSENT;
    *name = (struct sl_str){NULL, 0};
    if (!choice->found || choice->m.type == SL_JSON_NULL)
        return 0;
    if (choice->m.type == SL_JSON_STRING) {
        struct sl_str v = choice->m.value;
        *kind = sl_str_eq(v, "none")       ? SL__XC_NONE
                : sl_str_eq(v, "required") ? SL__XC_REQUIRED
                : sl_str_eq(v, "auto")     ? SL__XC_AUTO
                                           : SL__XC_ABSENT;
        if (*kind != SL__XC_ABSENT)
            return 0;
    } else {
        struct sl_json_pick k[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[1] = {{.key = "name"}};
        if (sl_xlat_pick(sl_xlat_raw(&choice->m), k, 2) == 0 && sl_xlat_is(&k[0], "function") &&
            k[1].found && sl_xlat_pick(sl_xlat_raw(&k[1].m), f, 1) == 0 && f[0].found &&
            f[0].m.type == SL_JSON_STRING) {
            *kind = SL__XC_FUNCTION;
            *name = sl_xlat_raw(&f[0].m);
            return 0;
        }
    }
    return refuse(c, "tool_choice", "tool_choice must be auto, none, required or a function");
}

int sl__xchat_number(const struct sl_json_pick *p, double *out)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER)
        return -1;
    *out = strtod(p->m.value.ptr, NULL);
    return 0;
}

int sl__xchat_max_tokens(struct sl__xchat *c, const struct sl_json_pick *max_tokens,
                         const struct sl_json_pick *max_completion, long *out)
{
    const struct sl_json_pick *p[2] = {max_tokens, max_completion};
    *out = -1;
    for (int i = 0; i < 2; i++) {
        double v;
        if (!p[i]->found || p[i]->m.type == SL_JSON_NULL)
            continue;
        if (sl__xchat_number(p[i], &v) != 0 || v < 1 || v > 1e9 || v != (double)(long)v)
            return refuse(c, p[i]->key, "%s must be a positive integer", p[i]->key);
        if ((long)v > *out)
            *out = (long)v;
    }
    return 0;
}

int sl__xchat_refuse_unserved(struct sl__xchat *c, const struct sl_json_pick *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_json_member *m = &p[i].m;
        if (!p[i].found || m->type == SL_JSON_NULL)
            continue;
        const char *key = p[i].key;
        double v;
        if (strcmp(key, "n") == 0) {
            if (sl__xchat_number(&p[i], &v) != 0 || v != 1)
                return refuse(c, key, "n must be 1: %s returns one choice", c->provider);
        } else if (strcmp(key, "logprobs") == 0 || strcmp(key, "top_logprobs") == 0) {
            if (m->type != SL_JSON_FALSE &&
                !(m->type == SL_JSON_NUMBER && strtod(m->value.ptr, NULL) == 0))
                return refuse(c, key, "%s is not supported by %s", key, c->provider);
        } else { /* audio, functions, function_call */
            return refuse(c, key, "%s is not supported by %s", key, c->provider);
        }
    }
    return 0;
}
