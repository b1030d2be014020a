/* OpenAI chat.completions request -> Anthropic Messages request.
 *
 * One pass writes the output in order (model, max_tokens, system,
 * messages, sampling, tools) with the JSON writer; values that mean the
 * same in both APIs (strings, numbers, JSON schemas) are copied as raw
 * spans of the input, never decoded and re-encoded. Only three things are
 * decoded: data URLs (split into media type and base64 data), tool-call
 * arguments (a JSON string holding JSON that becomes a JSON value) and the
 * numbers that are checked. The request is read (and what is malformed
 * refused) by providers/xlat_chat.h; this file writes Anthropic's shapes. Anthropic wants roles to
 * alternate, so a message that maps to the role of the one before continues its content array
 * (`open_role`): a run of tool results becomes one user message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"
#include "providers/xlat_chat.h"

enum role { R_NONE, R_USER, R_ASSISTANT };

struct req {
    struct sl_jw w;
    struct sl__xlat_chat c;
    enum role open_role; /* the message whose content array is open */
    size_t messages;     /* written */
};

#define refuse(r, ...) sl_xlat_refuse((r)->c.refusal, __VA_ARGS__)

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

static void text_block(struct req *r, struct sl_str raw_text)
{
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "text");
    sl_jw_kv_raw(&r->w, "text", raw_text.ptr, raw_text.len);
    sl_jw_end(&r->w);
}

static int user_text(void *arg, struct sl_str raw)
{
    block(arg, R_USER);
    text_block(arg, raw);
    return 0;
}

static int assistant_text(void *arg, struct sl_str raw)
{
    block(arg, R_ASSISTANT);
    text_block(arg, raw);
    return 0;
}

/* image_url -> an image block with a url or base64 source ("detail" has
 * no equivalent). */
static int image_block(void *arg, struct sl_str image_url, const char *param)
{
    struct req *r = arg;
    struct sl__xlat_image img;
    int rc = sl__xlat_image(&r->c, image_url, param, &img);
    if (rc)
        return rc;
    block(r, R_USER);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "image");
    sl_jw_key(&r->w, "source");
    sl_jw_object(&r->w);
    if (img.inline_data) {
        sl_jw_kv_string(&r->w, "type", "base64");
        sl_jw_key(&r->w, "media_type");
        sl_jw_string_n(&r->w, img.mime.ptr, img.mime.len);
        sl_jw_key(&r->w, "data");
        sl_jw_string_n(&r->w, img.data.ptr, img.data.len);
    } else {
        sl_jw_kv_string(&r->w, "type", "url");
        sl_jw_kv_raw(&r->w, "url", img.raw.ptr, img.raw.len);
    }
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

/* A tool call -> a tool_use block {id, name, input}. */
static int tool_use_block(void *arg, struct sl_str id, struct sl_str name, struct sl_str args)
{
    struct req *r = arg;
    block(r, R_ASSISTANT);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "tool_use");
    sl_jw_kv_raw(&r->w, "id", id.ptr, id.len);
    sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    sl_jw_kv_raw(&r->w, "input", args.ptr, args.len);
    sl_jw_end(&r->w);
    return 0;
}

/* role tool {tool_call_id, content} -> a user tool_result block. */
static int tool_result_block(void *arg, struct sl_str id, const struct sl_json_pick *content,
                             size_t i)
{
    struct req *r = arg;
    char param[64];
    block(r, R_USER);
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", "tool_result");
    sl_jw_kv_raw(&r->w, "tool_use_id", id.ptr, id.len);
    struct sl_str raw;
    if (content->found && content->m.type == SL_JSON_STRING) {
        raw = sl_xlat_raw(&content->m);
        sl_jw_kv_raw(&r->w, "content", raw.ptr, raw.len);
    } else if (content->found && content->m.type == SL_JSON_ARRAY) {
        /* text parts become the result's own blocks: the user message is
         * open, so user_text writes them straight into this array */
        sl_jw_key(&r->w, "content");
        sl_jw_array(&r->w);
        int rc = sl__xlat_content(&r->c, &content->m, i, user_text, NULL);
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
 * text is a string, several an array of text blocks. */
static int system_member(struct req *r, struct sl_str messages)
{
    size_t n;
    int rc = sl__xlat_system_texts(&r->c, messages, NULL, &n);
    if (rc || n == 0)
        return rc;
    sl_jw_key(&r->w, "system");
    if (n == 1)
        return sl__xlat_system_texts(&r->c, messages, system_string, &n);
    sl_jw_array(&r->w);
    rc = sl__xlat_system_texts(&r->c, messages, system_block, &n);
    sl_jw_end(&r->w);
    return rc;
}

static int messages_member(struct req *r, struct sl_str messages)
{
    static const struct sl__xlat_roles roles = {
        .user_text = user_text,
        .image = image_block,
        .assistant_text = assistant_text,
        .tool_call = tool_use_block,
        .tool_result = tool_result_block,
    };
    sl_jw_key(&r->w, "messages");
    sl_jw_array(&r->w);
    int rc = sl__xlat_messages(&r->c, messages, &roles);
    if (rc)
        return rc;
    if (r->open_role != R_NONE) {
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    if (r->messages == 0)
        return refuse(r, "messages", "anthropic needs at least one user or assistant message");
    return 0;
}

/* stop -> stop_sequences (an array). */
static void stop_sequence(void *arg, struct sl_str raw, size_t index)
{
    struct req *r = arg;
    if (index == 0) {
        sl_jw_key(&r->w, "stop_sequences");
        sl_jw_array(&r->w);
    }
    sl_jw_raw(&r->w, raw.ptr, raw.len);
}

/* tools -> [{name, description, input_schema}] ("strict" has no
 * equivalent). */
static int tool(void *arg, size_t i, struct sl_str name, struct sl_str description,
                const struct sl_json_member *parameters)
{
    struct req *r = arg;
    if (i == 0) {
        sl_jw_key(&r->w, "tools");
        sl_jw_array(&r->w);
    }
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    if (description.ptr)
        sl_jw_kv_raw(&r->w, "description", description.ptr, description.len);
    if (parameters)
        sl_jw_kv_raw(&r->w, "input_schema", parameters->value.ptr, parameters->value.len);
    else /* Anthropic requires a schema; OpenAI's default is "no arguments" */
        sl_jw_kv_raw(&r->w, "input_schema", "{\"type\":\"object\",\"properties\":{}}", 33);
    sl_jw_end(&r->w);
    return 0;
}

/* tool_choice auto / none / required / a function -> {type: auto / none /
 * any / tool (with name)}; parallel_tool_calls: false ->
 * disable_parallel_tool_use: true. */
static int tool_choice_member(struct req *r, const struct sl_json_pick *choice,
                              const struct sl_json_pick *parallel, size_t ntools)
{
    int serial = parallel->found && parallel->m.type == SL_JSON_FALSE;
    enum sl__xlat_choice kind;
    struct sl_str name;
    int rc = sl__xlat_tool_choice(&r->c, choice, &kind, &name);
    if (rc || (kind == SL__XC_ABSENT && !(serial && ntools)))
        return rc;
    static const char *const types[] = {[SL__XC_ABSENT] = "auto", /* only to say "serial" */
                                        [SL__XC_AUTO] = "auto",
                                        [SL__XC_NONE] = "none",
                                        [SL__XC_REQUIRED] = "any",
                                        [SL__XC_FUNCTION] = "tool"};
    if (ntools == 0 && kind != SL__XC_NONE)
        return refuse(r, "tool_choice", "tool_choice needs tools");
    sl_jw_key(&r->w, "tool_choice");
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "type", types[kind]);
    if (name.ptr)
        sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    if (serial && kind != SL__XC_NONE)
        sl_jw_kv_raw(&r->w, "disable_parallel_tool_use", "true", 4);
    sl_jw_end(&r->w);
    return 0;
}

/* A number copied as it was sent; null is absent. */
static int copy_number(struct req *r, const struct sl_json_pick *p, const char *key)
{
    double v;
    if (sl__xlat_number(p, &v) == 0)
        sl_jw_kv_raw(&r->w, key, p->m.value.ptr, p->m.value.len);
    else if (p->found && p->m.type != SL_JSON_NULL)
        return refuse(r, p->key, "%s must be a number", p->key);
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
        P_RESPONSE_FORMAT,
        P_N,
        P_LOGPROBS,
        P_TOP_LOGPROBS,
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
        [P_RESPONSE_FORMAT] = {.key = "response_format"},
        [P_N] = {.key = "n"},
        [P_LOGPROBS] = {.key = "logprobs"},
        [P_TOP_LOGPROBS] = {.key = "top_logprobs"},
        [P_AUDIO] = {.key = "audio"},
        [P_FUNCTIONS] = {.key = "functions"},
        [P_FUNCTION_CALL] = {.key = "function_call"},
    };
    struct req r = {.c = {.refusal = refusal, .provider = "anthropic"}};
    r.c.arg = &r;
    *info = (struct sl_anthropic_req_info){0};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, P__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[P_MODEL].found || p[P_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "you must provide a model parameter");
    if (!p[P_MESSAGES].found || p[P_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "'messages' is a required property");
    if (p[P_RESPONSE_FORMAT].found && p[P_RESPONSE_FORMAT].m.type != SL_JSON_NULL) {
        struct sl_json_pick t[1] = {{.key = "type"}};
        if (sl_xlat_pick(sl_xlat_raw(&p[P_RESPONSE_FORMAT].m), t, 1) || !sl_xlat_is(&t[0], "text"))
            return refuse(&r, "response_format",
                          "response_format other than text is not supported by anthropic");
    }
    long max_tokens;
    int rc = sl__xlat_refuse_unserved(&r.c, &p[P_N], P__N - P_N);
    if (rc == 0)
        rc = sl__xlat_max_tokens(&r.c, &p[P_MAX_TOKENS], &p[P_MAX_COMPLETION], &max_tokens);
    if (rc)
        return rc;
    if (max_tokens < 0)
        max_tokens = opts->default_max_tokens;

    sl_buf_init(&r.c.scratch, len + 1);
    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    if (opts->model) {
        sl_jw_kv_string(&r.w, "model", opts->model);
    } else {
        struct sl_str raw = sl_xlat_raw(&p[P_MODEL].m);
        sl_jw_kv_raw(&r.w, "model", raw.ptr, raw.len);
    }
    sl_jw_kv_int(&r.w, "max_tokens", max_tokens);
    struct sl_str messages = p[P_MESSAGES].m.value;
    if ((rc = system_member(&r, messages)) || (rc = messages_member(&r, messages)))
        goto out;

    double v;
    if (sl__xlat_number(&p[P_TEMPERATURE], &v) == 0 && v > 1) {
        /* OpenAI's range is 0..2, Anthropic's 0..1: a fallback from an
         * OpenAI deployment should not fail on it */
        sl_jw_kv_raw(&r.w, "temperature", "1", 1);
    } else if ((rc = copy_number(&r, &p[P_TEMPERATURE], "temperature")) != 0) {
        goto out;
    }
    size_t n;
    if ((rc = copy_number(&r, &p[P_TOP_P], "top_p")) != 0 ||
        (p[P_STOP].found && (rc = sl__xlat_stops(&r.c, &p[P_STOP].m, stop_sequence, &n)) != 0))
        goto out;
    if (p[P_STOP].found && n > 0)
        sl_jw_end(&r.w);
    if (p[P_STREAM].found && p[P_STREAM].m.type == SL_JSON_TRUE) {
        info->stream = 1;
        sl_jw_kv_raw(&r.w, "stream", "true", 4);
        struct sl_json_pick u[1] = {{.key = "include_usage"}};
        info->include_usage = p[P_STREAM_OPTIONS].found &&
                              sl_xlat_pick(sl_xlat_raw(&p[P_STREAM_OPTIONS].m), u, 1) == 0 &&
                              u[0].found && u[0].m.type == SL_JSON_TRUE;
    }
    size_t ntools = 0;
    if (p[P_TOOLS].found && (rc = sl__xlat_tools(&r.c, &p[P_TOOLS].m, tool, &ntools)))
        goto out;
    if (ntools > 0)
        sl_jw_end(&r.w);
    if ((rc = tool_choice_member(&r, &p[P_TOOL_CHOICE], &p[P_PARALLEL], ntools)))
        goto out;
    if (p[P_USER].found && p[P_USER].m.type == SL_JSON_STRING && p[P_USER].m.value.len > 0) {
        struct sl_str raw = sl_xlat_raw(&p[P_USER].m);
        sl_jw_key(&r.w, "metadata");
        sl_jw_object(&r.w);
        sl_jw_kv_raw(&r.w, "user_id", raw.ptr, raw.len);
        sl_jw_end(&r.w);
    }
    sl_jw_end(&r.w);
    rc = sl_jw_finish(&r.w);
out:
    sl_buf_release(&r.c.scratch);
    return rc;
}
