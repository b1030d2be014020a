/* OpenAI chat.completions request -> Converse request, and the path.
 *
 * One pass writes the output in order (system, messages, inferenceConfig,
 * toolConfig) with the JSON writer; values that mean the same in both APIs
 * (strings, numbers, JSON schemas) are copied as raw spans of the input,
 * never decoded and re-encoded. Only three things are decoded: data URLs
 * (split into an image format and base64 bytes), tool-call arguments (a
 * JSON string holding JSON that becomes a JSON value) and the numbers that
 * are checked. Converse wants roles to alternate, so a message that maps
 * to the role of the one before continues its content array (`open_role`):
 * a run of tool results becomes one user message. A Converse content block
 * is an object with one member naming its kind: {"text": ...},
 * {"image": ...}, {"toolUse": ...}, {"toolResult": ...}. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/bedrock.h"
#include "providers/sigv4.h"
#include "providers/xlat_json.h"

enum role { R_NONE, R_USER, R_ASSISTANT };

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
    enum role open_role; /* the message whose content array is open */
    size_t messages;     /* written */
    struct sl_buf scratch;
};

static int refuse(struct req *r, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct req *r, const char *param, const char *fmt, ...)
{
    snprintf(r->refusal->param, sizeof(r->refusal->param), "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->refusal->message, sizeof(r->refusal->message), fmt, ap);
    va_end(ap);
    return UV_EINVAL;
}

static struct sl_str span(const struct sl_json_value *v)
{
    return (struct sl_str){v->start, (size_t)(v->end - v->start)};
}

/* Opens a content block of `role`: continues the open message when it has
 * that role, else closes it and opens one. The caller writes the block. */
static void block(struct req *r, enum role role)
{
    if (r->open_role == role)
        return;
    if (r->open_role != R_NONE) {
        sl_jw_end(&r->w); /* content */
        sl_jw_end(&r->w); /* message */
    }
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", role == R_USER ? "user" : "assistant");
    sl_jw_key(&r->w, "content");
    sl_jw_array(&r->w);
    r->open_role = role;
    r->messages++;
}

/* {"text": "..."} */
static void text_block(struct req *r, struct sl_str raw_text)
{
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "text", raw_text.ptr, raw_text.len);
    sl_jw_end(&r->w);
}

/* A data URL's media type as Converse's image format, or NULL. */
static const char *image_format(const char *type, size_t len)
{
    struct sl_str t = {type, len};
    if (sl_str_ieq(t, "image/png"))
        return "png";
    if (sl_str_ieq(t, "image/jpeg") || sl_str_ieq(t, "image/jpg"))
        return "jpeg";
    if (sl_str_ieq(t, "image/gif"))
        return "gif";
    if (sl_str_ieq(t, "image/webp"))
        return "webp";
    return NULL;
}

/* image_url {"url": "data:<media type>;base64,<data>"} -> {"image":
 * {"format", "source": {"bytes": <data>}}} ("detail" has no equivalent).
 * Converse takes the image's bytes (or an S3 location), never a URL it
 * would fetch, so an http(s) URL is refused. The bare string form some
 * clients send is taken too. */
static int image_block(struct req *r, struct sl_str image_url, const char *param)
{
    struct sl_json_pick p[1] = {{.key = "url"}};
    struct sl_json_value v = {image_url.ptr, image_url.ptr + image_url.len};
    if (*image_url.ptr != '"') {
        if (sl__xlat_pick(image_url, p, 1) != 0 || !p[0].found || p[0].m.type != SL_JSON_STRING)
            return refuse(r, param, "image_url must be an object with a string url");
        v = sl__xlat_value(&p[0].m);
    }
    sl_buf_reset(&r->scratch);
    if (sl_json_string(&v, &r->scratch) != 0)
        return UV_ENOMEM;
    const char *url = r->scratch.ptr ? r->scratch.ptr : "";
    size_t len = r->scratch.len;
    if (len < 5 || strncmp(url, "data:", 5) != 0)
        return refuse(r, param,
                      "bedrock takes images as data URLs only "
                      "(data:image/png;base64,...): it does not fetch image URLs");
    const char *comma = memchr(url, ',', len);
    const char *semi = comma ? memchr(url, ';', (size_t)(comma - url)) : NULL;
    if (semi == NULL || (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0 ||
        comma + 1 == url + len)
        return refuse(r, param, "an image data URL must be data:<media type>;base64,<data>");
    const char *format = image_format(url + 5, (size_t)(semi - (url + 5)));
    if (format == NULL)
        return refuse(r, param, "bedrock takes png, jpeg, gif and webp images, not '%.*s'",
                      (int)((size_t)(semi - (url + 5)) < 40 ? semi - (url + 5) : 40), url + 5);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "image");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "format", format);
    sl_jw_key(&r->w, "source");
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "bytes");
    sl_jw_string_n(&r->w, comma + 1, len - (size_t)(comma + 1 - url));
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

enum parts { TEXT_ONLY, TEXT_AND_IMAGES };

/* A message's content (string, null or an array of parts) as blocks of
 * `role`. Empty texts are left out (Converse refuses blank text blocks). */
static int content_blocks(struct req *r, const struct sl_json_member *content, size_t i,
                          enum role role, enum parts allowed)
{
    char param[64];
    if (content->type == SL_JSON_NULL)
        return 0;
    if (content->type == SL_JSON_STRING) {
        if (content->value.len > 0) {
            block(r, role);
            text_block(r, sl__xlat_raw(content));
        }
        return 0;
    }
    if (content->type != SL_JSON_ARRAY) {
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        return refuse(r, param, "content must be a string or an array of content parts");
    }
    struct sl_json_walk wk;
    struct sl_json_value part;
    struct sl_json_value arr = sl__xlat_value(content);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &part); j++) {
        enum { P_TYPE, P_TEXT, P_IMAGE, P__N };
        struct sl_json_pick p[P__N] = {{.key = "type"}, {.key = "text"}, {.key = "image_url"}};
        snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
        if (sl__xlat_pick(span(&part), p, P__N) != 0 || !p[P_TYPE].found ||
            p[P_TYPE].m.type != SL_JSON_STRING)
            return refuse(r, param, "a content part must be an object with a type");
        if (sl__xlat_is(&p[P_TYPE], "refusal")) {
            continue; /* the model's own refusal, in an assistant message: no block for it */
        } else if (sl__xlat_is(&p[P_TYPE], "text")) {
            if (!p[P_TEXT].found || p[P_TEXT].m.type != SL_JSON_STRING)
                return refuse(r, param, "a text part needs a string text");
            if (p[P_TEXT].m.value.len > 0) {
                block(r, role);
                text_block(r, sl__xlat_raw(&p[P_TEXT].m));
            }
        } else if (sl__xlat_is(&p[P_TYPE], "image_url") && allowed == TEXT_AND_IMAGES) {
            if (!p[P_IMAGE].found)
                return refuse(r, param, "an image_url part needs an image_url");
            block(r, role);
            int rc = image_block(r, sl__xlat_raw(&p[P_IMAGE].m), param);
            if (rc)
                return rc;
        } else {
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", i, j);
            return refuse(r, param, "content parts of type '%.*s' are not supported by bedrock",
                          (int)(p[P_TYPE].m.value.len < 40 ? p[P_TYPE].m.value.len : 40),
                          p[P_TYPE].m.value.ptr);
        }
    }
    return 0;
}

/* tool_calls [{id, type: function, function: {name, arguments}}] ->
 * {"toolUse": {toolUseId, name, input}} blocks; arguments, a string of
 * JSON, become the input object ("" becomes {}). */
static int tool_use_blocks(struct req *r, const struct sl_json_member *calls, size_t i)
{
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_calls", i);
    if (calls->type == SL_JSON_NULL)
        return 0;
    if (calls->type != SL_JSON_ARRAY)
        return refuse(r, param, "tool_calls must be an array");
    struct sl_json_walk wk;
    struct sl_json_value call, arr = sl__xlat_value(calls);
    sl_json_enter(&wk, &arr);
    for (size_t j = 0; sl_json_next_item(&wk, &call); j++) {
        snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu]", i, j);
        struct sl_json_pick c[3] = {{.key = "id"}, {.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
        if (sl__xlat_pick(span(&call), c, 3) || !c[0].found || c[0].m.type != SL_JSON_STRING ||
            !c[2].found || (c[1].found && !sl__xlat_is(&c[1], "function")) ||
            sl__xlat_pick(sl__xlat_raw(&c[2].m), f, 2) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(r, param, "a tool call needs an id and a function with a name");
        struct sl_str input = {"{}", 2};
        if (f[1].found && f[1].m.type != SL_JSON_NULL) {
            struct sl_json_value av = sl__xlat_value(&f[1].m);
            struct sl_json_doc d;
            sl_buf_reset(&r->scratch);
            if (f[1].m.type != SL_JSON_STRING)
                return refuse(r, param, "function.arguments must be a string");
            if (sl_json_string(&av, &r->scratch) != 0)
                return UV_ENOMEM;
            const char *a = r->scratch.ptr ? r->scratch.ptr : "";
            size_t alen = strspn(a, " \t\r\n") == r->scratch.len ? 0 : r->scratch.len;
            if (alen > 0) {
                if (sl_json_scan(a, alen, &d) != 0 || d.type != SL_JSON_OBJECT)
                    return refuse(r, param, "function.arguments must be a JSON object");
                input = (struct sl_str){a, alen};
            }
        }
        block(r, R_ASSISTANT);
        struct sl_str id = sl__xlat_raw(&c[0].m), name = sl__xlat_raw(&f[0].m);
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, "toolUse");
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "toolUseId", id.ptr, id.len);
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
        sl_jw_kv_raw(&r->w, "input", input.ptr, input.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    return 0;
}

/* role tool {tool_call_id, content} -> a user {"toolResult": {toolUseId,
 * content: [{text}...]}} block. A result with no text at all gets
 * [{"json": {}}]: Converse refuses an empty content list and blank text. */
static int tool_result_block(struct req *r, const struct sl_json_pick *id,
                             const struct sl_json_pick *content, size_t i)
{
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_call_id", i);
    if (!id->found || id->m.type != SL_JSON_STRING)
        return refuse(r, param, "a tool message needs a tool_call_id");
    snprintf(param, sizeof(param), "messages[%zu].content", i);
    if (content->found && content->m.type != SL_JSON_NULL && content->m.type != SL_JSON_STRING &&
        content->m.type != SL_JSON_ARRAY)
        return refuse(r, param, "a tool message's content must be a string or text parts");
    block(r, R_USER);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "toolResult");
    sl_jw_object(&r->w);
    struct sl_str raw = sl__xlat_raw(&id->m);
    sl_jw_kv_raw(&r->w, "toolUseId", raw.ptr, raw.len);
    sl_jw_key(&r->w, "content");
    sl_jw_array(&r->w);
    size_t before = r->w.out->len;
    if (content->found) {
        /* text parts become the result's own blocks: the user message is
         * open, so content_blocks writes them straight into this array */
        int rc = content_blocks(r, &content->m, i, R_USER, TEXT_ONLY);
        if (rc)
            return rc;
    }
    if (r->w.out->len == before)
        sl_jw_raw(&r->w, "{\"json\":{}}", 11);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* "system": [{"text"}...], the non-empty texts of the system and
 * developer messages, wherever they are. Written only when there is one. */
static int system_member(struct req *r, struct sl_str messages)
{
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = {messages.ptr, messages.ptr + messages.len};
    sl_json_enter(&wk, &arr);
    int open = 0;
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        struct sl_json_pick p[2] = {{.key = "role"}, {.key = "content"}};
        if (sl__xlat_pick(span(&msg), p, 2) != 0 ||
            !(sl__xlat_is(&p[0], "system") || sl__xlat_is(&p[0], "developer")) || !p[1].found)
            continue;
        const struct sl_json_member *c = &p[1].m;
        char param[64];
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        struct sl_json_member one = *c;
        struct sl_json_walk pw = {NULL, NULL};
        struct sl_json_value part, parts = sl__xlat_value(c);
        if (c->type == SL_JSON_ARRAY)
            sl_json_enter(&pw, &parts);
        else if (c->type != SL_JSON_STRING)
            return refuse(r, param, "a system message's content must be a string or text parts");
        /* a string is one text; an array, one per part */
        for (int first = 1; c->type == SL_JSON_STRING ? first : sl_json_next_item(&pw, &part);
             first = 0) {
            if (c->type == SL_JSON_ARRAY) {
                struct sl_json_pick t[2] = {{.key = "type"}, {.key = "text"}};
                if (sl__xlat_pick(span(&part), t, 2) != 0 || !sl__xlat_is(&t[0], "text") ||
                    !t[1].found || t[1].m.type != SL_JSON_STRING)
                    return refuse(r, param, "a system message takes text parts only");
                one = t[1].m;
            }
            if (one.value.len == 0)
                continue;
            if (!open) {
                sl_jw_key(&r->w, "system");
                sl_jw_array(&r->w);
                open = 1;
            }
            text_block(r, sl__xlat_raw(&one));
        }
    }
    if (open)
        sl_jw_end(&r->w);
    return 0;
}

static int messages_member(struct req *r, struct sl_str messages)
{
    struct sl_json_walk wk;
    struct sl_json_value msg, arr = {messages.ptr, messages.ptr + messages.len};
    char param[64];
    sl_json_enter(&wk, &arr);
    sl_jw_key(&r->w, "messages");
    sl_jw_array(&r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &msg); i++) {
        enum { M_ROLE, M_CONTENT, M_TOOL_CALLS, M_TOOL_CALL_ID, M_FUNCTION_CALL, M__N };
        struct sl_json_pick p[M__N] = {{.key = "role"},
                                       {.key = "content"},
                                       {.key = "tool_calls"},
                                       {.key = "tool_call_id"},
                                       {.key = "function_call"}};
        snprintf(param, sizeof(param), "messages[%zu].role", i);
        if (sl__xlat_pick(span(&msg), p, M__N) || !p[M_ROLE].found ||
            p[M_ROLE].m.type != SL_JSON_STRING)
            return refuse(r, param, "a message must be an object with a role");
        static const struct sl_json_member none = {.type = SL_JSON_NULL};
        const struct sl_json_member *content = p[M_CONTENT].found ? &p[M_CONTENT].m : &none;
        int rc = 0;
        if (sl__xlat_is(&p[M_ROLE], "system") || sl__xlat_is(&p[M_ROLE], "developer")) {
            continue; /* in "system" */
        } else if (sl__xlat_is(&p[M_ROLE], "user")) {
            rc = content_blocks(r, content, i, R_USER, TEXT_AND_IMAGES);
        } else if (sl__xlat_is(&p[M_ROLE], "assistant")) {
            if (p[M_FUNCTION_CALL].found && p[M_FUNCTION_CALL].m.type != SL_JSON_NULL) {
                snprintf(param, sizeof(param), "messages[%zu].function_call", i);
                return refuse(r, param, "function_call is deprecated: use tool_calls");
            }
            rc = content_blocks(r, content, i, R_ASSISTANT, TEXT_ONLY);
            if (rc == 0 && p[M_TOOL_CALLS].found)
                rc = tool_use_blocks(r, &p[M_TOOL_CALLS].m, i);
        } else if (sl__xlat_is(&p[M_ROLE], "tool")) {
            rc = tool_result_block(r, &p[M_TOOL_CALL_ID], &p[M_CONTENT], i);
        } else {
            return refuse(r, param, "messages with role '%.*s' are not supported by bedrock",
                          (int)(p[M_ROLE].m.value.len < 40 ? p[M_ROLE].m.value.len : 40),
                          p[M_ROLE].m.value.ptr);
        }
        if (rc)
            return rc;
    }
    if (r->open_role != R_NONE) {
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    if (r->messages == 0)
        return refuse(r, "messages", "bedrock needs at least one user or assistant message");
    return 0;
}

/* stop: a string or an array of strings -> stopSequences (empty ones are
 * left out). Written inside the open inferenceConfig. */
static int stop_member(struct req *r, const struct sl_json_member *stop)
{
    if (stop->type == SL_JSON_NULL)
        return 0;
    if (stop->type == SL_JSON_STRING) {
        if (stop->value.len == 0)
            return 0;
        struct sl_str raw = sl__xlat_raw(stop);
        sl_jw_key(&r->w, "stopSequences");
        sl_jw_array(&r->w);
        sl_jw_raw(&r->w, raw.ptr, raw.len);
        sl_jw_end(&r->w);
        return 0;
    }
    if (stop->type != SL_JSON_ARRAY)
        return refuse(r, "stop", "stop must be a string or an array of strings");
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl__xlat_value(stop);
    sl_json_enter(&wk, &arr);
    int any = 0;
    while (sl_json_next_item(&wk, &item)) {
        if (*item.start != '"')
            return refuse(r, "stop", "stop must be a string or an array of strings");
        if (item.end - item.start <= 2)
            continue;
        if (!any) {
            sl_jw_key(&r->w, "stopSequences");
            sl_jw_array(&r->w);
            any = 1;
        }
        sl_jw_raw(&r->w, item.start, (size_t)(item.end - item.start));
    }
    if (any)
        sl_jw_end(&r->w);
    return 0;
}

/* A number member as a double; 0 when it is one. */
static int number(const struct sl_json_pick *p, double *out)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER)
        return -1;
    *out = strtod(p->m.value.ptr, NULL);
    return 0;
}

/* "inferenceConfig": {maxTokens, temperature, topP, stopSequences}, the
 * members the request has; left out when it has none. */
static int inference_config(struct req *r, long max_tokens, const struct sl_json_pick *temperature,
                            const struct sl_json_pick *top_p, const struct sl_json_pick *stop)
{
    double t, p;
    int has_t = number(temperature, &t) == 0, has_p = number(top_p, &p) == 0;
    if (!has_t && temperature->found && temperature->m.type != SL_JSON_NULL)
        return refuse(r, "temperature", "temperature must be a number");
    if (!has_p && top_p->found && top_p->m.type != SL_JSON_NULL)
        return refuse(r, "top_p", "top_p must be a number");
    int has_stop = stop->found && stop->m.type != SL_JSON_NULL;
    if (max_tokens <= 0 && !has_t && !has_p && !has_stop)
        return 0;
    sl_jw_key(&r->w, "inferenceConfig");
    sl_jw_object(&r->w);
    if (max_tokens > 0)
        sl_jw_kv_int(&r->w, "maxTokens", max_tokens);
    /* OpenAI's range is 0..2, Converse's 0..1: a fallback from an OpenAI
     * deployment should not fail on it */
    if (has_t && t > 1)
        sl_jw_kv_raw(&r->w, "temperature", "1", 1);
    else if (has_t)
        sl_jw_kv_raw(&r->w, "temperature", temperature->m.value.ptr, temperature->m.value.len);
    if (has_p)
        sl_jw_kv_raw(&r->w, "topP", top_p->m.value.ptr, top_p->m.value.len);
    int rc = has_stop ? stop_member(r, &stop->m) : 0;
    sl_jw_end(&r->w);
    return rc;
}

/* tools [{type: function, function: {name, description, parameters}}] ->
 * [{toolSpec: {name, description, inputSchema: {json}}}] ("strict" has no
 * equivalent). Written inside the open toolConfig. */
static int tools_member(struct req *r, const struct sl_json_member *tools)
{
    char param[64];
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl__xlat_value(tools);
    sl_json_enter(&wk, &arr);
    sl_jw_key(&r->w, "tools");
    sl_jw_array(&r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        snprintf(param, sizeof(param), "tools[%zu]", i);
        struct sl_json_pick t[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[3] = {{.key = "name"}, {.key = "description"}, {.key = "parameters"}};
        if (sl__xlat_pick(span(&tool), t, 2))
            return refuse(r, param, "a tool must be an object");
        if (!sl__xlat_is(&t[0], "function")) {
            snprintf(param, sizeof(param), "tools[%zu].type", i);
            return refuse(r, param, "only function tools are supported by bedrock");
        }
        if (!t[1].found || sl__xlat_pick(sl__xlat_raw(&t[1].m), f, 3) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(r, param, "a function tool needs a function with a name");
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, "toolSpec");
        sl_jw_object(&r->w);
        struct sl_str raw = sl__xlat_raw(&f[0].m);
        sl_jw_kv_raw(&r->w, "name", raw.ptr, raw.len);
        if (f[1].found && f[1].m.type == SL_JSON_STRING && f[1].m.value.len > 0) {
            raw = sl__xlat_raw(&f[1].m);
            sl_jw_kv_raw(&r->w, "description", raw.ptr, raw.len);
        }
        sl_jw_key(&r->w, "inputSchema");
        sl_jw_object(&r->w);
        if (f[2].found && f[2].m.type == SL_JSON_OBJECT)
            sl_jw_kv_raw(&r->w, "json", f[2].m.value.ptr, f[2].m.value.len);
        else /* Converse requires a schema; OpenAI's default is "no arguments" */
            sl_jw_kv_raw(&r->w, "json", "{\"type\":\"object\",\"properties\":{}}", 33);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tools and tool_choice -> "toolConfig": {tools, toolChoice}. tool_choice
 * auto / required / {type: function, function: {name}} -> {auto: {}} /
 * {any: {}} / {tool: {name}}; none leaves the tools out altogether
 * (Converse has no "none"). parallel_tool_calls has no equivalent. */
static int tool_config(struct req *r, const struct sl_json_pick *tools,
                       const struct sl_json_pick *choice)
{
    if (tools->found && tools->m.type != SL_JSON_NULL && tools->m.type != SL_JSON_ARRAY)
        return refuse(r, "tools", "tools must be an array");
    size_t ntools = tools->found && tools->m.type == SL_JSON_ARRAY ? tools->m.items : 0;
    const char *kind = "auto";
    struct sl_str name = {NULL, 0};
    if (!choice->found || choice->m.type == SL_JSON_NULL) {
        kind = NULL; /* Converse's default is auto */
    } else if (choice->m.type == SL_JSON_STRING) {
        if (sl_str_eq(choice->m.value, "none"))
            return 0;
        if (sl_str_eq(choice->m.value, "required"))
            kind = "any";
        else if (!sl_str_eq(choice->m.value, "auto"))
            return refuse(r, "tool_choice",
                          "tool_choice must be auto, none, required or a function");
    } else {
        struct sl_json_pick c[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[1] = {{.key = "name"}};
        if (sl__xlat_pick(sl__xlat_raw(&choice->m), c, 2) || !sl__xlat_is(&c[0], "function") ||
            !c[1].found || sl__xlat_pick(sl__xlat_raw(&c[1].m), f, 1) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(r, "tool_choice",
                          "tool_choice must be auto, none, required or a function");
        kind = "tool";
        name = sl__xlat_raw(&f[0].m);
    }
    if (ntools == 0) {
        if (kind)
            return refuse(r, "tool_choice", "tool_choice needs tools");
        return 0;
    }
    sl_jw_key(&r->w, "toolConfig");
    sl_jw_object(&r->w);
    int rc = tools_member(r, &tools->m);
    if (kind) {
        sl_jw_key(&r->w, "toolChoice");
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, kind);
        sl_jw_object(&r->w);
        if (name.ptr)
            sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    return rc;
}

/* The request fields Converse has no equivalent for that would change the
 * answer the client expects: refused rather than silently dropped. */
static int refusals(struct req *r, const struct sl_json_pick *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_json_member *m = &p[i].m;
        if (!p[i].found || m->type == SL_JSON_NULL)
            continue;
        const char *key = p[i].key;
        double v;
        if (strcmp(key, "n") == 0) {
            if (number(&p[i], &v) != 0 || v != 1)
                return refuse(r, key, "n must be 1: bedrock returns one choice");
        } else if (strcmp(key, "logprobs") == 0 || strcmp(key, "top_logprobs") == 0) {
            if (m->type != SL_JSON_FALSE &&
                !(m->type == SL_JSON_NUMBER && strtod(m->value.ptr, NULL) == 0))
                return refuse(r, key, "%s is not supported by bedrock", key);
        } else if (strcmp(key, "response_format") == 0) {
            struct sl_json_pick t[1] = {{.key = "type"}};
            if (sl__xlat_pick(sl__xlat_raw(m), t, 1) || !sl__xlat_is(&t[0], "text"))
                return refuse(r, key,
                              "response_format other than text is not supported by bedrock");
        } else { /* audio, functions, function_call */
            return refuse(r, key, "%s is not supported by bedrock", key);
        }
    }
    return 0;
}

int sl_bedrock_request(const char *body, size_t len, const struct sl_bedrock_req_opts *opts,
                       struct sl_buf *out, struct sl_bedrock_req_info *info,
                       struct sl_xlat_refusal *refusal)
{
    enum {
        P_MODEL,
        P_MESSAGES,
        P_MAX_TOKENS,
        P_MAX_COMPLETION,
        P_TEMPERATURE,
        P_TOP_P,
        P_STOP,
        P_STREAM,
        P_STREAM_OPTIONS,
        P_TOOLS,
        P_TOOL_CHOICE,
        P_N,
        P_LOGPROBS,
        P_TOP_LOGPROBS,
        P_RESPONSE_FORMAT,
        P_AUDIO,
        P_FUNCTIONS,
        P_FUNCTION_CALL,
        P__N
    };
    struct sl_json_pick p[P__N] = {
        [P_MODEL] = {.key = "model"},
        [P_MESSAGES] = {.key = "messages"},
        [P_MAX_TOKENS] = {.key = "max_tokens"},
        [P_MAX_COMPLETION] = {.key = "max_completion_tokens"},
        [P_TEMPERATURE] = {.key = "temperature"},
        [P_TOP_P] = {.key = "top_p"},
        [P_STOP] = {.key = "stop"},
        [P_STREAM] = {.key = "stream"},
        [P_STREAM_OPTIONS] = {.key = "stream_options"},
        [P_TOOLS] = {.key = "tools"},
        [P_TOOL_CHOICE] = {.key = "tool_choice"},
        [P_N] = {.key = "n"},
        [P_LOGPROBS] = {.key = "logprobs"},
        [P_TOP_LOGPROBS] = {.key = "top_logprobs"},
        [P_RESPONSE_FORMAT] = {.key = "response_format"},
        [P_AUDIO] = {.key = "audio"},
        [P_FUNCTIONS] = {.key = "functions"},
        [P_FUNCTION_CALL] = {.key = "function_call"},
    };
    struct req r = {.refusal = refusal};
    *info = (struct sl_bedrock_req_info){0};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl__xlat_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "you must provide a model parameter");
    if (!p[P_MESSAGES].found || p[P_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "'messages' is a required property");
    int rc = refusals(&r, &p[P_N], P__N - P_N);
    if (rc)
        return rc;

    /* max_tokens: the larger of the two names, as sl_openai_parse reads it */
    long max_tokens = -1;
    for (int i = P_MAX_TOKENS; i <= P_MAX_COMPLETION; i++) {
        double v;
        if (!p[i].found || p[i].m.type == SL_JSON_NULL)
            continue;
        if (number(&p[i], &v) != 0 || v < 1 || v > 1e9 || v != (double)(long)v)
            return refuse(&r, p[i].key, "%s must be a positive integer", p[i].key);
        if ((long)v > max_tokens)
            max_tokens = (long)v;
    }
    if (max_tokens < 0)
        max_tokens = opts && opts->default_max_tokens > 0 ? opts->default_max_tokens : 0;

    sl_buf_init(&r.scratch, len + 1);
    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    struct sl_str messages = p[P_MESSAGES].m.value;
    if ((rc = system_member(&r, messages)) || (rc = messages_member(&r, messages)) ||
        (rc = inference_config(&r, max_tokens, &p[P_TEMPERATURE], &p[P_TOP_P], &p[P_STOP])) ||
        (rc = tool_config(&r, &p[P_TOOLS], &p[P_TOOL_CHOICE])))
        goto out;
    if (p[P_STREAM].found && p[P_STREAM].m.type == SL_JSON_TRUE) {
        info->stream = 1;
        struct sl_json_pick u[1] = {{.key = "include_usage"}};
        info->include_usage = p[P_STREAM_OPTIONS].found &&
                              sl__xlat_pick(sl__xlat_raw(&p[P_STREAM_OPTIONS].m), u, 1) == 0 &&
                              u[0].found && u[0].m.type == SL_JSON_TRUE;
    }
    sl_jw_end(&r.w);
    rc = sl_jw_finish(&r.w);
out:
    sl_buf_release(&r.scratch);
    return rc;
}

int sl_bedrock_path(struct sl_buf *out, const char *model_id, size_t len, int stream)
{
    if (len == 0)
        return UV_EINVAL;
    int rc = sl_buf_append(out, "/model/", 7);
    if (rc == 0)
        rc = sl_sigv4_uri_encode(out, model_id, len, 0);
    if (rc == 0)
        rc = stream ? sl_buf_append(out, "/converse-stream", 16)
                    : sl_buf_append(out, "/converse", 9);
    return rc;
}
