/* OpenAI chat.completions request -> Anthropic Messages request.
 *
 * One pass writes the output in order (model, max_tokens, system,
 * messages, sampling, tools) with the JSON writer; values that mean the
 * same in both APIs (strings, numbers, JSON schemas) are copied as raw
 * spans of the input, never decoded and re-encoded. Only three things are
 * decoded: data URLs (split into media type and base64 data), tool-call
 * arguments (a JSON string holding JSON that becomes a JSON value) and the
 * numbers that are checked. Anthropic wants roles to alternate, so a
 * message that maps to the role of the one before continues its content
 * array (`turns`, providers/xlat_json.h): a run of tool results becomes one user message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"
#include "providers/xlat_request.h"

enum role { R_NONE, R_USER, R_ASSISTANT };

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
    struct sl__xlat_turns turns; /* the message whose content array is open */
    struct sl_buf scratch;
    const struct sl__xlat_conversation *conv; /* the walker's, for a tool result's parts */
};

/* refuse(r, param, fmt, ...): fills r->refusal, returns UV_EINVAL */
#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

/* Opens a content block of `role`: continues the open message when it has
 * that role, else closes it and opens one. The caller writes the block. */
static void block(struct req *r, enum role role)
{
    sl__xlat_block(&r->w, &r->turns, role, role == R_USER ? "user" : "assistant");
}

static void text_block(struct req *r, struct sl_str raw_text)
{
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "text");
    sl_jw_kv_raw(&r->w, "text", raw_text.ptr, raw_text.len);
    sl_jw_end(&r->w);
}

/* image_url {"url": "https://..." | "data:<media type>;base64,<data>"} ->
 * an image block with a url or base64 source ("detail" has no equivalent).
 * The bare string form some clients send is taken too. */
static int image_block(struct req *r, struct sl_str image_url, const char *param)
{
    struct sl__xlat_image img;
    int rc = sl__xlat_image_url(image_url, &r->scratch, r->refusal, param, &img);
    if (rc)
        return rc;
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "image");
    sl_jw_key(&r->w, "source");
    sl_jw_object(&r->w);
    if (img.is_data) {
        sl_jw_kv_string(&r->w, "type", "base64");
        sl_jw_key(&r->w, "media_type");
        sl_jw_string_n(&r->w, img.media_type.ptr, img.media_type.len);
        sl_jw_key(&r->w, "data");
        sl_jw_string_n(&r->w, img.data.ptr, img.data.len);
    } else {
        sl_jw_kv_string(&r->w, "type", "url");
        sl_jw_kv_raw(&r->w, "url", img.url.ptr, img.url.len);
    }
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

/* tool_calls -> tool_use blocks {id, name, input}, the arguments (a string
 * of JSON) as the input object. */
static int on_tool_call(void *arg, const struct sl__xlat_call *c)
{
    struct req *r = arg;
    block(r, R_ASSISTANT);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "tool_use");
    sl_jw_kv_raw(&r->w, "id", c->id.ptr, c->id.len);
    sl_jw_kv_raw(&r->w, "name", c->name.ptr, c->name.len);
    sl_jw_kv_raw(&r->w, "input", c->input.ptr, c->input.len);
    sl_jw_end(&r->w);
    return 0;
}

/* role tool {tool_call_id, content} -> a user tool_result block. */
static int on_tool_result(void *arg, const struct sl_json_pick *id,
                          const struct sl_json_pick *content, size_t i)
{
    struct req *r = arg;
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_call_id", i);
    if (!id->found || id->m.type != SL_JSON_STRING)
        return refuse(r, param, "a tool message needs a tool_call_id");
    block(r, R_USER);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "tool_result");
    struct sl_str raw = sl__anth_raw(&id->m);
    sl_jw_kv_raw(&r->w, "tool_use_id", raw.ptr, raw.len);
    if (content->found && content->m.type == SL_JSON_STRING) {
        raw = sl__anth_raw(&content->m);
        sl_jw_kv_raw(&r->w, "content", raw.ptr, raw.len);
    } else if (content->found && content->m.type == SL_JSON_ARRAY) {
        /* text parts become the result's own blocks: the user message is
         * open, so on_text writes them straight into this array */
        sl_jw_key(&r->w, "content");
        sl_jw_array(&r->w);
        int rc = sl__xlat_content(r->conv, &content->m, i, SL_XR_USER, 0);
        if (rc)
            return rc;
        sl_jw_end(&r->w);
    } else if (content->found && content->m.type != SL_JSON_NULL) {
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        return refuse(r, param, "a tool message's content must be a string or text parts");
    }
    sl_jw_end(&r->w);
    return 0;
}

static void system_block(void *arg, struct sl_str raw)
{
    text_block(arg, raw);
}

static void system_string(void *arg, struct sl_str raw)
{
    struct req *r = arg;
    sl_jw_raw(&r->w, raw.ptr, raw.len);
}

/* "system": Anthropic has no system role, only this top-level field: one
 * text as a string, several as text blocks. */
static int system_member(struct req *r, struct sl_str messages)
{
    size_t n;
    int rc = sl__xlat_system_texts(messages, r->refusal, NULL, NULL, &n);
    if (rc || n == 0)
        return rc;
    sl_jw_key(&r->w, "system");
    if (n == 1)
        return sl__xlat_system_texts(messages, r->refusal, system_string, r, &n);
    sl_jw_array(&r->w);
    rc = sl__xlat_system_texts(messages, r->refusal, system_block, r, &n);
    sl_jw_end(&r->w);
    return rc;
}

static int messages_member(struct req *r, struct sl_str messages)
{
    const struct sl__xlat_conversation conv = {
        .provider = "anthropic",
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
        return refuse(r, "messages", "anthropic needs at least one user or assistant message");
    return 0;
}

/* tools [{type: function, function: {name, description, parameters}}] ->
 * [{name, description, input_schema}] ("strict" has no equivalent). */
static int tools_member(struct req *r, const struct sl_json_member *tools, int *ntools)
{
    *ntools = 0;
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
        struct sl__xlat_tool t;
        int rc = sl__xlat_tool_def(tool, i, r->refusal, "anthropic", &t);
        if (rc)
            return rc;
        sl_jw_object(&r->w);
        sl_jw_kv_raw(&r->w, "name", t.name.ptr, t.name.len);
        if (t.description.ptr)
            sl_jw_kv_raw(&r->w, "description", t.description.ptr, t.description.len);
        if (t.parameters.ptr)
            sl_jw_kv_raw(&r->w, "input_schema", t.parameters.ptr, t.parameters.len);
        else /* Anthropic requires a schema; OpenAI's default is "no arguments" */
            sl_jw_kv_raw(&r->w, "input_schema", "{\"type\":\"object\",\"properties\":{}}", 33);
        sl_jw_end(&r->w);
        ++*ntools;
    }
    sl_jw_end(&r->w);
    return 0;
}

/* tool_choice auto / none / required / {type: function, function: {name}}
 * -> {type: auto / none / any / tool (with name)}; parallel_tool_calls:
 * false -> disable_parallel_tool_use: true. */
static int tool_choice_member(struct req *r, const struct sl_json_pick *choice,
                              const struct sl_json_pick *parallel, int ntools)
{
    int serial = parallel->found && parallel->m.type == SL_JSON_FALSE;
    enum sl__xlat_choice kind;
    struct sl_str name;
    int rc = sl__xlat_tool_choice(r->refusal, choice, &kind, &name);
    if (rc || (kind == SL_XC_ABSENT && !(serial && ntools)))
        return rc;
    /* absent: auto, only to say "one call at a time" */
    const char *type = kind == SL_XC_NONE       ? "none"
                       : kind == SL_XC_REQUIRED ? "any"
                       : kind == SL_XC_FUNCTION ? "tool"
                                                : "auto";
    if (ntools == 0 && strcmp(type, "none") != 0)
        return refuse(r, "tool_choice", "tool_choice needs tools");
    sl_jw_key(&r->w, "tool_choice");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", type);
    if (name.ptr)
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    if (serial && strcmp(type, "none") != 0)
        sl_jw_kv_raw(&r->w, "disable_parallel_tool_use", "true", 4);
    sl_jw_end(&r->w);
    return 0;
}

int sl_anthropic_request(const char *body, size_t len, const struct sl_anthropic_req_opts *opts,
                         struct sl_buf *out, struct sl_anthropic_req_info *info,
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
        P_PARALLEL,
        P_USER,
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
        [P_PARALLEL] = {.key = "parallel_tool_calls"},
        [P_USER] = {.key = "user"},
        [P_N] = {.key = "n"},
        [P_LOGPROBS] = {.key = "logprobs"},
        [P_TOP_LOGPROBS] = {.key = "top_logprobs"},
        [P_RESPONSE_FORMAT] = {.key = "response_format"},
        [P_AUDIO] = {.key = "audio"},
        [P_FUNCTIONS] = {.key = "functions"},
        [P_FUNCTION_CALL] = {.key = "function_call"},
    };
    struct req r = {.refusal = refusal};
    *info = (struct sl_anthropic_req_info){0};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl__anth_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "you must provide a model parameter");
    if (!p[P_MESSAGES].found || p[P_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "'messages' is a required property");
    /* the fields Anthropic has no equivalent for that would change the
     * answer the client expects: refused rather than silently dropped */
    int rc = sl__xlat_refusals(refusal, &p[P_N], P__N - P_N, "anthropic");
    long max_tokens; /* the larger of the two names, as sl_openai_parse reads it */
    if (rc || (rc = sl__xlat_max_tokens(refusal, &p[P_MAX_TOKENS], &max_tokens)))
        return rc;
    if (max_tokens < 0)
        max_tokens = opts->default_max_tokens;

    sl_buf_init(&r.scratch, len + 1);
    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    if (opts->model) {
        sl_jw_kv_string(&r.w, "model", opts->model);
    } else {
        struct sl_str raw = sl__anth_raw(&p[P_MODEL].m);
        sl_jw_kv_raw(&r.w, "model", raw.ptr, raw.len);
    }
    sl_jw_kv_int(&r.w, "max_tokens", max_tokens);
    struct sl_str messages = p[P_MESSAGES].m.value;
    if ((rc = system_member(&r, messages)) || (rc = messages_member(&r, messages)))
        goto out;

    double v;
    if (sl__xlat_number(&p[P_TEMPERATURE], &v) == 0) {
        /* OpenAI's range is 0..2, Anthropic's 0..1: a fallback from an
         * OpenAI deployment should not fail on it */
        if (v > 1)
            sl_jw_kv_raw(&r.w, "temperature", "1", 1);
        else
            sl_jw_kv_raw(&r.w, "temperature", p[P_TEMPERATURE].m.value.ptr,
                         p[P_TEMPERATURE].m.value.len);
    } else if (p[P_TEMPERATURE].found && p[P_TEMPERATURE].m.type != SL_JSON_NULL) {
        rc = refuse(&r, "temperature", "temperature must be a number");
        goto out;
    }
    if (sl__xlat_number(&p[P_TOP_P], &v) == 0) {
        sl_jw_kv_raw(&r.w, "top_p", p[P_TOP_P].m.value.ptr, p[P_TOP_P].m.value.len);
    } else if (p[P_TOP_P].found && p[P_TOP_P].m.type != SL_JSON_NULL) {
        rc = refuse(&r, "top_p", "top_p must be a number");
        goto out;
    }
    if (p[P_STOP].found && (rc = sl__xlat_stop(&r.w, "stop_sequences", &p[P_STOP].m, refusal)))
        goto out;
    if (p[P_STREAM].found && p[P_STREAM].m.type == SL_JSON_TRUE) {
        info->stream = 1;
        sl_jw_kv_raw(&r.w, "stream", "true", 4);
        struct sl_json_pick u[1] = {{.key = "include_usage"}};
        info->include_usage = p[P_STREAM_OPTIONS].found &&
                              sl__anth_pick(sl__anth_raw(&p[P_STREAM_OPTIONS].m), u, 1) == 0 &&
                              u[0].found && u[0].m.type == SL_JSON_TRUE;
    }
    int ntools = 0;
    if (p[P_TOOLS].found && (rc = tools_member(&r, &p[P_TOOLS].m, &ntools)))
        goto out;
    if ((rc = tool_choice_member(&r, &p[P_TOOL_CHOICE], &p[P_PARALLEL], ntools)))
        goto out;
    if (p[P_USER].found && p[P_USER].m.type == SL_JSON_STRING && p[P_USER].m.value.len > 0) {
        struct sl_str raw = sl__anth_raw(&p[P_USER].m);
        sl_jw_key(&r.w, "metadata");
        sl_jw_object(&r.w);
        sl_jw_kv_raw(&r.w, "user_id", raw.ptr, raw.len);
        sl_jw_end(&r.w);
    }
    sl_jw_end(&r.w);
    rc = sl_jw_finish(&r.w);
out:
    sl_buf_release(&r.scratch);
    return rc;
}
