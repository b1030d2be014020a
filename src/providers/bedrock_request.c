/* OpenAI chat.completions request -> Converse request, and the path.
 *
 * One pass writes the output in order (system, messages, inferenceConfig,
 * toolConfig) with the JSON writer; values that mean the same in both APIs
 * (strings, numbers, JSON schemas) are copied as raw spans of the input,
 * never decoded and re-encoded. Only three things are decoded: data URLs
 * (split into an image format and base64 bytes), tool-call arguments (a
 * JSON string holding JSON that becomes a JSON value) and the numbers that
 * are checked. Converse wants roles to alternate, so a message that maps
 * to the role of the one before continues its content array (`turns`, providers/xlat_json.h):
 * a run of tool results becomes one user message. A Converse content block
 * is an object with one member naming its kind: {"text": ...},
 * {"image": ...}, {"toolUse": ...}, {"toolResult": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/bedrock.h"
#include "providers/xlat_request.h"

enum role { R_NONE, R_USER, R_ASSISTANT };

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
    struct sl__xlat_turns turns; /* the message whose content array is open */
    struct sl_buf scratch;
    const struct sl__xlat_conversation *conv; /* the walker's, for a tool result's parts */
};

#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

/* Opens a content block of `role`: continues the open message when it has
 * that role, else closes it and opens one. The caller writes the block. */
static void block(struct req *r, enum role role)
{
    sl__xlat_block(&r->w, &r->turns, role, role == R_USER ? "user" : "assistant");
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
 * would fetch, so an http(s) URL is refused. */
static int image_block(struct req *r, struct sl_str image_url, const char *param)
{
    struct sl__xlat_image img;
    int rc = sl__xlat_image_url(image_url, &r->scratch, r->refusal, param, &img);
    if (rc)
        return rc;
    if (!img.is_data)
        return refuse(r, param,
                      "bedrock takes images as data URLs only "
                      "(data:image/png;base64,...): it does not fetch image URLs");
    if (img.data.len == 0)
        return refuse(r, param, "an image data URL must be data:<media type>;base64,<data>");
    const char *format = image_format(img.media_type.ptr, img.media_type.len);
    if (format == NULL)
        return refuse(r, param, "bedrock takes png, jpeg, gif and webp images, not '%.*s'",
                      (int)(img.media_type.len < 40 ? img.media_type.len : 40), img.media_type.ptr);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "image");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "format", format);
    sl_jw_key(&r->w, "source");
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "bytes");
    sl_jw_string_n(&r->w, img.data.ptr, img.data.len);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* The walker's callbacks (xlat_request.h): each piece of the conversation
 * as a block of the message of its role. */
static int on_text(void *arg, enum sl__xlat_role role, struct sl_str raw)
{
    struct req *r = arg;
    block(r, role == SL_XR_USER ? R_USER : R_ASSISTANT);
    text_block(r, raw);
    return 0;
}

static int on_image(void *arg, struct sl_str image_url, const char *param)
{
    struct req *r = arg;
    block(r, R_USER);
    return image_block(r, image_url, param);
}

/* tool_calls -> {"toolUse": {toolUseId, name, input}} blocks, the
 * arguments (a string of JSON) as the input object. */
static int on_tool_call(void *arg, const struct sl__xlat_call *c)
{
    struct req *r = arg;
    block(r, R_ASSISTANT);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "toolUse");
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "toolUseId", c->id.ptr, c->id.len);
    sl_jw_kv_raw(&r->w, "name", c->name.ptr, c->name.len);
    sl_jw_kv_raw(&r->w, "input", c->input.ptr, c->input.len);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* role tool {tool_call_id, content} -> a user {"toolResult": {toolUseId,
 * content: [{text}...]}} block. A result with no text at all gets
 * [{"json": {}}]: Converse refuses an empty content list and blank text. */
static int on_tool_result(void *arg, const struct sl_json_pick *id,
                          const struct sl_json_pick *content, size_t i)
{
    struct req *r = arg;
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
    struct sl_str raw = sl_xlat_raw(&id->m);
    sl_jw_kv_raw(&r->w, "toolUseId", raw.ptr, raw.len);
    sl_jw_key(&r->w, "content");
    sl_jw_array(&r->w);
    size_t before = r->w.out->len;
    if (content->found) {
        /* text parts become the result's own blocks: the user message is
         * open, so on_text writes them straight into this array */
        int rc = sl__xlat_content(r->conv, &content->m, i, SL_XR_USER, 0);
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

static void system_text(void *arg, struct sl_str raw)
{
    text_block(arg, raw);
}

/* "system": [{"text"}...], the non-empty texts of the system and
 * developer messages, wherever they are. Written only when there is one. */
static int system_member(struct req *r, struct sl_str messages)
{
    size_t n;
    int rc = sl__xlat_system_texts(messages, r->refusal, NULL, NULL, &n);
    if (rc || n == 0)
        return rc;
    sl_jw_key(&r->w, "system");
    sl_jw_array(&r->w);
    rc = sl__xlat_system_texts(messages, r->refusal, system_text, r, &n);
    sl_jw_end(&r->w);
    return rc;
}

static int messages_member(struct req *r, struct sl_str messages)
{
    const struct sl__xlat_conversation conv = {
        .provider = "bedrock",
        .arg = r,
        .refusal = r->refusal,
        .scratch = &r->scratch,
        .text = on_text,
        .image = on_image,
        .tool_call = on_tool_call,
        .tool_result = on_tool_result,
    };
    r->conv = &conv;
    sl_jw_key(&r->w, "messages");
    sl_jw_array(&r->w);
    int rc = sl__xlat_messages(&conv, messages);
    r->conv = NULL;
    if (rc)
        return rc;
    sl__xlat_turns_end(&r->w, &r->turns);
    sl_jw_end(&r->w);
    if (r->turns.messages == 0)
        return refuse(r, "messages", "bedrock needs at least one user or assistant message");
    return 0;
}

/* "inferenceConfig": {maxTokens, temperature, topP, stopSequences}, the
 * members the request has; left out when it has none. */
static int inference_config(struct req *r, long max_tokens, const struct sl_json_pick *temperature,
                            const struct sl_json_pick *top_p, const struct sl_json_pick *stop)
{
    double t, p;
    int has_t = sl__xlat_number(temperature, &t) == 0, has_p = sl__xlat_number(top_p, &p) == 0;
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
    int rc = has_stop ? sl__xlat_stop(&r->w, "stopSequences", &stop->m, r->refusal) : 0;
    sl_jw_end(&r->w);
    return rc;
}

/* tools [{type: function, function: {name, description, parameters}}] ->
 * [{toolSpec: {name, description, inputSchema: {json}}}] ("strict" has no
 * equivalent). Written inside the open toolConfig. */
static int tools_member(struct req *r, const struct sl_json_member *tools)
{
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl_xlat_value(tools);
    sl_json_enter(&wk, &arr);
    sl_jw_key(&r->w, "tools");
    sl_jw_array(&r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        struct sl__xlat_tool t;
        int rc = sl__xlat_tool_def(tool, i, r->refusal, "bedrock", &t);
        if (rc)
            return rc;
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, "toolSpec");
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "name", t.name.ptr, t.name.len);
        if (t.description.len > 2) /* not "" */
            sl_jw_kv_raw(&r->w, "description", t.description.ptr, t.description.len);
        sl_jw_key(&r->w, "inputSchema");
        sl_jw_object(&r->w);
        if (t.parameters.ptr)
            sl_jw_kv_raw(&r->w, "json", t.parameters.ptr, t.parameters.len);
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
    enum sl__xlat_choice choice_kind;
    struct sl_str name;
    int rc = sl__xlat_tool_choice(r->refusal, choice, &choice_kind, &name);
    if (rc || choice_kind == SL_XC_NONE)
        return rc; /* none: no tools at all */
    const char *kind = choice_kind == SL_XC_REQUIRED   ? "any"
                       : choice_kind == SL_XC_FUNCTION ? "tool"
                       : choice_kind == SL_XC_AUTO     ? "auto"
                                                       : NULL; /* Converse's default is auto */
    if (ntools == 0) {
        if (kind)
            return refuse(r, "tool_choice", "tool_choice needs tools");
        return 0;
    }
    sl_jw_key(&r->w, "toolConfig");
    sl_jw_object(&r->w);
    rc = tools_member(r, &tools->m);
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
    if (sl_xlat_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "you must provide a model parameter");
    if (!p[P_MESSAGES].found || p[P_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "'messages' is a required property");
    /* the fields Converse has no equivalent for that would change the
     * answer the client expects: refused rather than silently dropped */
    int rc = sl__xlat_refusals(refusal, &p[P_N], P__N - P_N, "bedrock");
    long max_tokens; /* the larger of the two names, as sl_openai_parse reads it */
    if (rc || (rc = sl__xlat_max_tokens(refusal, &p[P_MAX_TOKENS], &max_tokens)))
        return rc;
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
                              sl_xlat_pick(sl_xlat_raw(&p[P_STREAM_OPTIONS].m), u, 1) == 0 &&
                              u[0].found && u[0].m.type == SL_JSON_TRUE;
    }
    sl_jw_end(&r.w);
    rc = sl_jw_finish(&r.w);
out:
    sl_buf_release(&r.scratch);
    return rc;
}
