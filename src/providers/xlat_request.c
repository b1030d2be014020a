/* The checks every chat.completions request translation shares
 * (providers/xlat_request.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/xlat_request.h"

static struct sl_str span(const struct sl_json_value *v)
{
    return (struct sl_str){v->start, (size_t)(v->end - v->start)};
}

int sl__xlat_number(const struct sl_json_pick *p, double *out)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER)
        return -1;
    *out = strtod(p->m.value.ptr, NULL);
    return 0;
}

int sl__xlat_refusals(struct sl_xlat_refusal *r, const struct sl_json_pick *p, size_t n,
                      const char *provider)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_json_member *m = &p[i].m;
        if (!p[i].found || m->type == SL_JSON_NULL)
            continue;
        const char *key = p[i].key;
        double v;
        if (strcmp(key, "n") == 0) {
            if (sl__xlat_number(&p[i], &v) != 0 || v != 1)
                return sl_xlat_refuse(r, key, "n must be 1: %s returns one choice", provider);
        } else if (strcmp(key, "logprobs") == 0 || strcmp(key, "top_logprobs") == 0) {
            if (m->type != SL_JSON_FALSE &&
                !(m->type == SL_JSON_NUMBER && strtod(m->value.ptr, NULL) == 0))
                return sl_xlat_refuse(r, key, "%s is not supported by %s", key, provider);
        } else if (strcmp(key, "response_format") == 0) {
            struct sl_json_pick t[1] = {{.key = "type"}};
            if (sl_xlat_pick(sl_xlat_raw(m), t, 1) || !sl_xlat_is(&t[0], "text"))
                return sl_xlat_refuse(
                    r, key, "response_format other than text is not supported by %s", provider);
        } else if (strcmp(key, "audio") == 0 || strcmp(key, "functions") == 0 ||
                   strcmp(key, "function_call") == 0) {
            return sl_xlat_refuse(r, key, "%s is not supported by %s", key, provider);
        }
    }
    return 0;
}

int sl__xlat_max_tokens(struct sl_xlat_refusal *r, const struct sl_json_pick p[2], long *out)
{
    *out = -1;
    for (int i = 0; i < 2; i++) {
        double v;
        if (!p[i].found || p[i].m.type == SL_JSON_NULL)
            continue;
        if (sl__xlat_number(&p[i], &v) != 0 || v < 1 || v > 1e9 || v != (double)(long)v)
            return sl_xlat_refuse(r, p[i].key, "%s must be a positive integer", p[i].key);
        if ((long)v > *out)
            *out = (long)v;
    }
    return 0;
}

int sl__xlat_tool_call(struct sl_json_value call, struct sl_buf *scratch, struct sl_xlat_refusal *r,
                       const char *param, struct sl__xlat_call *out)
{
    struct sl_json_pick c[4] = {
        {.key = "id"}, {.key = "type"}, {.key = "function"}, {.key = "extra_content"}};
    struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
    if (sl_xlat_pick(span(&call), c, 4) || !c[0].found || c[0].m.type != SL_JSON_STRING ||
        !c[2].found || (c[1].found && !sl_xlat_is(&c[1], "function")) ||
        sl_xlat_pick(sl_xlat_raw(&c[2].m), f, 2) || !f[0].found || f[0].m.type != SL_JSON_STRING)
        return sl_xlat_refuse(r, param, "a tool call needs an id and a function with a name");
    out->id = sl_xlat_raw(&c[0].m);
    out->name = sl_xlat_raw(&f[0].m);
    out->input = (struct sl_str){"{}", 2};
    out->signature = (struct sl_str){NULL, 0};
    struct sl_json_pick g[1] = {{.key = "google"}}, s[1] = {{.key = "thought_signature"}};
    if (c[3].found && c[3].m.type == SL_JSON_OBJECT && sl_xlat_pick(c[3].m.value, g, 1) == 0 &&
        g[0].found && g[0].m.type == SL_JSON_OBJECT && sl_xlat_pick(g[0].m.value, s, 1) == 0 &&
        s[0].found && s[0].m.type == SL_JSON_STRING)
        out->signature = sl_xlat_raw(&s[0].m);
    if (!f[1].found || f[1].m.type == SL_JSON_NULL)
        return 0;
    if (f[1].m.type != SL_JSON_STRING)
        return sl_xlat_refuse(r, param, "function.arguments must be a string");
    struct sl_json_value av = sl_xlat_value(&f[1].m);
    sl_buf_reset(scratch);
    if (sl_json_string(&av, scratch) != 0)
        return UV_ENOMEM;
    const char *a = scratch->ptr ? scratch->ptr : "";
    size_t alen = strspn(a, " \t\r\n") == scratch->len ? 0 : scratch->len;
    if (alen > 0) {
        struct sl_json_doc d;
        if (sl_json_scan(a, alen, &d) != 0 || d.type != SL_JSON_OBJECT)
            return sl_xlat_refuse(r, param, "function.arguments must be a JSON object");
        out->input = (struct sl_str){a, alen};
    }
    return 0;
}

int sl__xlat_tool_def(struct sl_json_value tool, size_t i, struct sl_xlat_refusal *r,
                      const char *provider, struct sl__xlat_tool *out)
{
    char param[64];
    snprintf(param, sizeof(param), "tools[%zu]", i);
    struct sl_json_pick t[2] = {{.key = "type"}, {.key = "function"}};
    struct sl_json_pick f[3] = {{.key = "name"}, {.key = "description"}, {.key = "parameters"}};
    if (sl_xlat_pick(span(&tool), t, 2))
        return sl_xlat_refuse(r, param, "a tool must be an object");
    if (!sl_xlat_is(&t[0], "function")) {
        snprintf(param, sizeof(param), "tools[%zu].type", i);
        return sl_xlat_refuse(r, param, "only function tools are supported by %s", provider);
    }
    if (!t[1].found || sl_xlat_pick(sl_xlat_raw(&t[1].m), f, 3) || !f[0].found ||
        f[0].m.type != SL_JSON_STRING)
        return sl_xlat_refuse(r, param, "a function tool needs a function with a name");
    *out = (struct sl__xlat_tool){.name = sl_xlat_raw(&f[0].m)};
    if (f[1].found && f[1].m.type == SL_JSON_STRING)
        out->description = sl_xlat_raw(&f[1].m);
    if (f[2].found && f[2].m.type == SL_JSON_OBJECT)
        out->parameters = f[2].m.value;
    else if (f[2].found && f[2].m.type != SL_JSON_NULL)
        out->not_object = 1;
    return 0;
}

int sl__xlat_tool_choice(struct sl_xlat_refusal *r, const struct sl_json_pick *choice,
                         enum sl__xlat_choice *kind, struct sl_str *name)
{
    *name = (struct sl_str){NULL, 0};
    *kind = SL_XC_ABSENT;
    if (!choice->found || choice->m.type == SL_JSON_NULL)
        return 0;
    if (choice->m.type == SL_JSON_STRING) {
        *kind = sl_str_eq(choice->m.value, "none")       ? SL_XC_NONE
                : sl_str_eq(choice->m.value, "required") ? SL_XC_REQUIRED
                : sl_str_eq(choice->m.value, "auto")     ? SL_XC_AUTO
                                                         : SL_XC_ABSENT;
        if (*kind != SL_XC_ABSENT)
            return 0;
    } else {
        struct sl_json_pick c[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[1] = {{.key = "name"}};
        if (sl_xlat_pick(sl_xlat_raw(&choice->m), c, 2) == 0 && sl_xlat_is(&c[0], "function") &&
            c[1].found && sl_xlat_pick(sl_xlat_raw(&c[1].m), f, 1) == 0 && f[0].found &&
            f[0].m.type == SL_JSON_STRING) {
            *kind = SL_XC_FUNCTION;
            *name = sl_xlat_raw(&f[0].m);
            return 0;
        }
    }
    return sl_xlat_refuse(r, "tool_choice",
                          "tool_choice must be auto, none, required or a function");
}

int sl__xlat_stop(struct sl_jw *w, const char *key, const struct sl_json_member *stop,
                  struct sl_xlat_refusal *r)
{
    if (stop->type == SL_JSON_NULL)
        return 0;
    if (stop->type == SL_JSON_STRING) {
        if (stop->value.len == 0)
            return 0;
        struct sl_str raw = sl_xlat_raw(stop);
        sl_jw_key(w, key);
        sl_jw_array(w);
        sl_jw_raw(w, raw.ptr, raw.len);
        sl_jw_end(w);
        return 0;
    }
    if (stop->type != SL_JSON_ARRAY)
        return sl_xlat_refuse(r, "stop", "stop must be a string or an array of strings");
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(stop);
    sl_json_enter(&wk, &arr);
    int any = 0;
    while (sl_json_next_item(&wk, &item)) {
        if (*item.start != '"')
            return sl_xlat_refuse(r, "stop", "stop must be a string or an array of strings");
        if (item.end - item.start <= 2)
            continue;
        if (!any) {
            sl_jw_key(w, key);
            sl_jw_array(w);
            any = 1;
        }
        sl_jw_raw(w, item.start, (size_t)(item.end - item.start));
    }
    if (any)
        sl_jw_end(w);
    return 0;
}

int sl__xlat_image_url(struct sl_str image_url, struct sl_buf *scratch, struct sl_xlat_refusal *r,
                       const char *param, struct sl__xlat_image *out)
{
    struct sl_json_pick p[1] = {{.key = "url"}};
    struct sl_json_value v = {image_url.ptr, image_url.ptr + image_url.len};
    if (*image_url.ptr != '"') {
        if (sl_xlat_pick(image_url, p, 1) != 0 || !p[0].found || p[0].m.type != SL_JSON_STRING)
            return sl_xlat_refuse(r, param, "image_url must be an object with a string url");
        v = sl_xlat_value(&p[0].m);
    }
    *out = (struct sl__xlat_image){.url = span(&v)};
    sl_buf_reset(scratch);
    if (sl_json_string(&v, scratch) != 0)
        return UV_ENOMEM;
    const char *url = scratch->ptr ? scratch->ptr : "";
    size_t len = scratch->len;
    if (len < 5 || strncmp(url, "data:", 5) != 0)
        return 0;
    const char *comma = memchr(url, ',', len);
    const char *semi = comma ? memchr(url, ';', (size_t)(comma - url)) : NULL;
    if (semi == NULL || (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0 ||
        semi == url + 5)
        return sl_xlat_refuse(r, param,
                              "an image data URL must be data:<media type>;base64,<data>");
    out->is_data = 1;
    out->media_type = (struct sl_str){url + 5, (size_t)(semi - (url + 5))};
    out->data = (struct sl_str){comma + 1, len - (size_t)(comma + 1 - url)};
    return 0;
}

int sl__xlat_system_texts(struct sl_str messages, struct sl_xlat_refusal *r,
                          void (*fn)(void *arg, struct sl_str raw), void *arg, size_t *count)
{
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = {messages.ptr, messages.ptr + messages.len};
    sl_json_enter(&wk, &arr);
    *count = 0;
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        struct sl_json_pick p[2] = {{.key = "role"}, {.key = "content"}};
        if (sl_xlat_pick(span(&msg), p, 2) != 0 ||
            !(sl_xlat_is(&p[0], "system") || sl_xlat_is(&p[0], "developer")) || !p[1].found)
            continue;
        const struct sl_json_member *c = &p[1].m;
        char param[64];
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        struct sl_json_member one = *c;
        struct sl_json_walk pw = {NULL, NULL};
        struct sl_json_value part, parts = sl_xlat_value(c);
        if (c->type == SL_JSON_ARRAY)
            sl_json_enter(&pw, &parts);
        else if (c->type != SL_JSON_STRING)
            return sl_xlat_refuse(r, param,
                                  "a system message's content must be a string or text parts");
        /* a string is one text; an array, one per part */
        for (int first = 1; c->type == SL_JSON_STRING ? first : sl_json_next_item(&pw, &part);
             first = 0) {
            if (c->type == SL_JSON_ARRAY) {
                struct sl_json_pick t[2] = {{.key = "type"}, {.key = "text"}};
                if (sl_xlat_pick(span(&part), t, 2) != 0 || !sl_xlat_is(&t[0], "text") ||
                    !t[1].found || t[1].m.type != SL_JSON_STRING)
                    return sl_xlat_refuse(r, param, "a system message takes text parts only");
                one = t[1].m;
            }
            if (one.value.len == 0)
                continue;
            ++*count;
            if (fn)
                fn(arg, sl_xlat_raw(&one));
        }
    }
    return 0;
}

int sl__xlat_content(const struct sl__xlat_conversation *c, const struct sl_json_member *content,
                     size_t i, enum sl__xlat_role role, int images)
{
    char param[64];
    if (content->type == SL_JSON_NULL)
        return 0;
    if (content->type == SL_JSON_STRING)
        return content->value.len > 0 ? c->text(c->arg, role, sl_xlat_raw(content)) : 0;
    if (content->type != SL_JSON_ARRAY) {
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        return sl_xlat_refuse(c->refusal, param,
                              "content must be a string or an array of content parts");
    }
    struct sl_json_walk wk;
    struct sl_json_value part, arr = sl_xlat_value(content);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &part); j++) {
        enum { P_TYPE, P_TEXT, P_IMAGE, P__N };
        struct sl_json_pick p[P__N] = {{.key = "type"}, {.key = "text"}, {.key = "image_url"}};
        snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
        if (sl_xlat_pick(span(&part), p, P__N) != 0 || !p[P_TYPE].found ||
            p[P_TYPE].m.type != SL_JSON_STRING)
            return sl_xlat_refuse(c->refusal, param,
                                  "a content part must be an object with a type");
        int rc = 0;
        if (sl_xlat_is(&p[P_TYPE], "refusal")) {
            continue; /* the model's own refusal, in an assistant message: no block for it */
        } else if (sl_xlat_is(&p[P_TYPE], "text")) {
            if (!p[P_TEXT].found || p[P_TEXT].m.type != SL_JSON_STRING)
                return sl_xlat_refuse(c->refusal, param, "a text part needs a string text");
            if (p[P_TEXT].m.value.len > 0)
                rc = c->text(c->arg, role, sl_xlat_raw(&p[P_TEXT].m));
        } else if (sl_xlat_is(&p[P_TYPE], "image_url") && images) {
            if (!p[P_IMAGE].found)
                return sl_xlat_refuse(c->refusal, param, "an image_url part needs an image_url");
            rc = c->image(c->arg, sl_xlat_raw(&p[P_IMAGE].m), param);
        } else {
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", i, j);
            return sl_xlat_refuse(c->refusal, param,
                                  "content parts of type '%.*s' are not supported by %s",
                                  (int)(p[P_TYPE].m.value.len < 40 ? p[P_TYPE].m.value.len : 40),
                                  p[P_TYPE].m.value.ptr, c->provider);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* tool_calls [{id, type: function, function: {name, arguments}}]. */
static int tool_calls(const struct sl__xlat_conversation *c, const struct sl_json_member *calls,
                      size_t i)
{
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_calls", i);
    if (calls->type == SL_JSON_NULL)
        return 0;
    if (calls->type != SL_JSON_ARRAY)
        return sl_xlat_refuse(c->refusal, param, "tool_calls must be an array");
    struct sl_json_walk wk;
    struct sl_json_value call, arr = sl_xlat_value(calls);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &call); j++) {
        snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu]", i, j);
        struct sl__xlat_call one;
        int rc = sl__xlat_tool_call(call, c->scratch, c->refusal, param, &one);
        if (rc == 0)
            rc = c->tool_call(c->arg, &one);
        if (rc)
            return rc;
    }
    return 0;
}

int sl__xlat_messages(const struct sl__xlat_conversation *c, struct sl_str messages)
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
        if (sl_xlat_pick(span(&msg), p, M__N) || !p[M_ROLE].found ||
            p[M_ROLE].m.type != SL_JSON_STRING)
            return sl_xlat_refuse(c->refusal, param, "a message must be an object with a role");
        static const struct sl_json_member none = {.type = SL_JSON_NULL};
        const struct sl_json_member *content = p[M_CONTENT].found ? &p[M_CONTENT].m : &none;
        int rc = 0;
        if (sl_xlat_is(&p[M_ROLE], "system") || sl_xlat_is(&p[M_ROLE], "developer")) {
            continue; /* sl__xlat_system_texts' */
        } else if (sl_xlat_is(&p[M_ROLE], "user")) {
            rc = sl__xlat_content(c, content, i, SL_XR_USER, 1);
        } else if (sl_xlat_is(&p[M_ROLE], "assistant")) {
            if (p[M_FUNCTION_CALL].found && p[M_FUNCTION_CALL].m.type != SL_JSON_NULL) {
                snprintf(param, sizeof(param), "messages[%zu].function_call", i);
                return sl_xlat_refuse(c->refusal, param,
                                      "function_call is deprecated: use tool_calls");
            }
            rc = sl__xlat_content(c, content, i, SL_XR_ASSISTANT, 0);
            if (rc == 0 && p[M_TOOL_CALLS].found)
                rc = tool_calls(c, &p[M_TOOL_CALLS].m, i);
        } else if (sl_xlat_is(&p[M_ROLE], "tool")) {
            rc = c->tool_result(c->arg, &p[M_TOOL_CALL_ID], &p[M_CONTENT], i);
        } else {
            return sl_xlat_refuse(c->refusal, param,
                                  "messages with role '%.*s' are not supported by %s",
                                  (int)(p[M_ROLE].m.value.len < 40 ? p[M_ROLE].m.value.len : 40),
                                  p[M_ROLE].m.value.ptr, c->provider);
        }
        if (rc)
            return rc;
    }
    return 0;
}
