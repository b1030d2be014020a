/* OpenAI chat.completions request -> Gemini generateContent request.
 *
 * One pass per section writes the output in order (systemInstruction,
 * contents here; tools, toolConfig, generationConfig in gemini_options.c)
 * with the JSON writer;
 * values that mean the same in both APIs (texts, names, numbers) are copied
 * as raw spans of the input. Decoded are only: data URLs (split into MIME
 * type and base64 data), tool-call arguments and tool results (JSON held in
 * a string that becomes a JSON object), image URLs (for a MIME type) and
 * the numbers that are checked. Gemini wants roles to alternate, so a
 * message that maps to the role of the turn before continues its parts
 * (`open_role`): a run of tool results becomes one user turn.
 *
 * Gemini's functionResponse names the function, OpenAI's tool message only
 * the call's id: the calls written so far are kept in `calls` (views into
 * the input, so the table costs two views per call) and looked up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"
#include "providers/xlat_request.h"

enum role { R_NONE, R_USER, R_MODEL };

struct call {
    struct sl_str id, name; /* raw JSON strings, quotes included */
};

struct req {
    struct sl_jw w;
    struct sl_xlat_refusal *refusal;
    struct sl_buf scratch; /* decoded text: tool call arguments, image URLs, tool results */
    enum role open_role;   /* the turn whose parts array is open */
    size_t turns;          /* written */
    struct call *calls;
    size_t ncalls, cap;
};

#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

/* Opens a part of `role`: continues the open turn when it has that role,
 * else closes it and opens one. The caller writes the part. */
static void part(struct req *r, enum role role)
{
    if (r->open_role == role)
        return;
    if (r->open_role != R_NONE) {
        sl_jw_end(&r->w); /* parts */
        sl_jw_end(&r->w); /* turn */
    }
    sl_jw_object(&r->w);
    sl_jw_kv_string(&r->w, "role", role == R_USER ? "user" : "model");
    sl_jw_key(&r->w, "parts");
    sl_jw_array(&r->w);
    r->open_role = role;
    r->turns++;
}

static void text_part(struct req *r, struct sl_str raw_text)
{
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "text", raw_text.ptr, raw_text.len);
    sl_jw_end(&r->w);
}

static int message_text(void *arg, enum sl__xlat_role role, struct sl_str raw)
{
    part(arg, role == SL_XR_USER ? R_USER : R_MODEL);
    text_part(arg, raw);
    return 0;
}

/* The MIME type of an image URL from its extension (query and fragment
 * left out); image/jpeg when it has none Gemini knows. */
static const char *image_mime(const char *url, size_t len)
{
    static const char *const map[][2] = {
        {".png", "image/png"},   {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
        {".webp", "image/webp"}, {".gif", "image/gif"},  {".heic", "image/heic"},
        {".heif", "image/heif"},
    };
    size_t end = strcspn(url, "?#");
    if (end > len)
        end = len;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t n = strlen(map[i][0]);
        if (end >= n && strncasecmp(url + end - n, map[i][0], n) == 0)
            return map[i][1];
    }
    return "image/jpeg";
}

/* image_url -> inlineData {mimeType, data} for a data URL, else fileData
 * {mimeType, fileUri} ("detail" has no equivalent). */
static int image_part(void *arg, struct sl_str image_url, const char *param)
{
    struct req *r = arg;
    struct sl__xlat_image img;
    int rc = sl__xlat_image_url(image_url, &r->scratch, r->refusal, param, &img);
    if (rc)
        return rc;
    if (!img.is_data && img.url.len <= 2)
        return refuse(r, param, "an image needs a url");
    part(r, R_USER);
    sl_jw_object(&r->w);
    if (img.is_data) {
        sl_jw_key(&r->w, "inlineData");
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, "mimeType");
        sl_jw_string_n(&r->w, img.media_type.ptr, img.media_type.len);
        sl_jw_key(&r->w, "data");
        sl_jw_string_n(&r->w, img.data.ptr, img.data.len);
    } else {
        sl_jw_key(&r->w, "fileData");
        sl_jw_object(&r->w);
        /* the decoded URL, which sl__xlat_image_url left in scratch */
        const char *url = r->scratch.ptr ? r->scratch.ptr : "";
        sl_jw_kv_string(&r->w, "mimeType", image_mime(url, r->scratch.len));
        sl_jw_kv_raw(&r->w, "fileUri", img.url.ptr, img.url.len);
    }
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return 0;
}

static int remember_call(struct req *r, struct sl_str id, struct sl_str name)
{
    if (r->ncalls == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct call *c = realloc(r->calls, cap * sizeof(*c));
        if (c == NULL)
            return UV_ENOMEM;
        r->calls = c;
        r->cap = cap;
    }
    r->calls[r->ncalls++] = (struct call){id, name};
    return 0;
}

/* The name of the latest call with this id (a raw JSON string), or NULL. */
static const struct sl_str *call_name(const struct req *r, struct sl_str id)
{
    for (size_t k = r->ncalls; k-- > 0;)
        if (r->calls[k].id.len == id.len && memcmp(r->calls[k].id.ptr, id.ptr, id.len) == 0)
            return &r->calls[k].name;
    return NULL;
}

/* A tool call -> a model part functionCall {name, args}; the call's id is
 * remembered for the tool message that answers it. */
static int function_call_part(void *arg, const struct sl__xlat_call *call)
{
    struct req *r = arg;
    struct sl_str name = call->name, args = call->input;
    int rc = remember_call(r, call->id, name);
    if (rc)
        return rc;
    part(r, R_MODEL);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "functionCall");
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "name", name.ptr, name.len);
    sl_jw_kv_raw(&r->w, "args", args.ptr, args.len);
    sl_jw_end(&r->w);
    if (call->signature.ptr) /* Gemini 3 wants its signature back with the call */
        sl_jw_kv_raw(&r->w, "thoughtSignature", call->signature.ptr, call->signature.len);
    sl_jw_end(&r->w);
    return 0;
}

/* The text parts of a tool message's content joined into one string. */
static int joined_texts(struct req *r, const struct sl_json_member *content, size_t i)
{
    char param[64];
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(content);
    sl_json_enter(&wk, &arr);
    sl_jw_string_open(&r->w);
    for (size_t j = 0; sl_json_next_item(&wk, &item); j++) {
        struct sl_json_pick t[2] = {{.key = "type"}, {.key = "text"}};
        if (sl_xlat_pick(sl_xlat_span(item), t, 2) != 0 || !sl_xlat_is(&t[0], "text") ||
            !t[1].found || t[1].m.type != SL_JSON_STRING) {
            snprintf(param, sizeof(param), "messages[%zu].content[%zu]", i, j);
            return refuse(r, param, "a tool message takes text parts only");
        }
        sl_jw_string_piece(&r->w, t[1].m.value.ptr, t[1].m.value.len);
    }
    sl_jw_string_close(&r->w);
    return 0;
}

/* role tool {tool_call_id, content} -> a user functionResponse part {name,
 * response}: the content itself when it is a JSON object, else
 * {"content": text}. */
static int function_response_part(void *arg, const struct sl_json_pick *id,
                                  const struct sl_json_pick *content, size_t i)
{
    struct req *r = arg;
    char param[64];
    snprintf(param, sizeof(param), "messages[%zu].tool_call_id", i);
    if (!id->found || id->m.type != SL_JSON_STRING)
        return refuse(r, param, "a tool message needs a tool_call_id");
    const struct sl_str *name = call_name(r, sl_xlat_raw(&id->m));
    if (name == NULL)
        return refuse(r, param, "no earlier assistant tool call has this id");
    part(r, R_USER);
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "functionResponse");
    sl_jw_object(&r->w);
    sl_jw_kv_raw(&r->w, "name", name->ptr, name->len);
    sl_jw_key(&r->w, "response");
    int rc = 0;
    if (content->found && content->m.type == SL_JSON_STRING) {
        struct sl_json_value v = sl_xlat_value(&content->m);
        struct sl_json_doc d;
        struct sl_buf *b = &r->scratch;
        sl_buf_reset(b);
        if (sl_json_string(&v, b) != 0)
            return UV_ENOMEM;
        if (b->len > 0 && sl_json_scan(b->ptr, b->len, &d) == 0 && d.type == SL_JSON_OBJECT) {
            sl_jw_raw(&r->w, b->ptr, b->len);
        } else {
            sl_jw_object(&r->w);
            sl_jw_kv_raw(&r->w, "content", v.start, (size_t)(v.end - v.start));
            sl_jw_end(&r->w);
        }
    } else if (content->found && content->m.type == SL_JSON_ARRAY) {
        sl_jw_object(&r->w);
        sl_jw_key(&r->w, "content");
        rc = joined_texts(r, &content->m, i);
        sl_jw_end(&r->w);
    } else if (!content->found || content->m.type == SL_JSON_NULL) {
        sl_jw_raw(&r->w, "{\"content\":\"\"}", 14);
    } else {
        snprintf(param, sizeof(param), "messages[%zu].content", i);
        return refuse(r, param, "a tool message's content must be a string or text parts");
    }
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return rc;
}

static void system_part(void *arg, struct sl_str raw)
{
    text_part(arg, raw);
}

/* system and developer messages -> systemInstruction {parts: [{text}]},
 * hoisted wherever they stand. */
static int system_member(struct req *r, struct sl_str messages)
{
    size_t n;
    int rc = sl__xlat_system_texts(messages, r->refusal, NULL, NULL, &n);
    if (rc || n == 0)
        return rc;
    sl_jw_key(&r->w, "systemInstruction");
    sl_jw_object(&r->w);
    sl_jw_key(&r->w, "parts");
    sl_jw_array(&r->w);
    rc = sl__xlat_system_texts(messages, r->refusal, system_part, r, &n);
    sl_jw_end(&r->w);
    sl_jw_end(&r->w);
    return rc;
}

static int contents_member(struct req *r, struct sl_str messages)
{
    const struct sl__xlat_conversation conv = {
        .provider = "gemini",
        .arg = r,
        .refusal = r->refusal,
        .scratch = &r->scratch,
        .text = message_text,
        .image = image_part,
        .tool_call = function_call_part,
        .tool_result = function_response_part,
    };
    sl_jw_key(&r->w, "contents");
    sl_jw_array(&r->w);
    int rc = sl__xlat_messages(&conv, messages);
    if (rc)
        return rc;
    if (r->open_role != R_NONE) {
        sl_jw_end(&r->w);
        sl_jw_end(&r->w);
    }
    sl_jw_end(&r->w);
    if (r->turns == 0)
        return refuse(r, "messages", "gemini needs at least one user or assistant message");
    return 0;
}

int sl_gemini_request(const char *body, size_t len, struct sl_buf *out,
                      struct sl_gemini_req_info *info, struct sl_xlat_refusal *refusal)
{
    struct sl_json_pick p[GM__N] = {
        [GM_MODEL] = {.key = "model"},
        [GM_MESSAGES] = {.key = "messages"},
        [GM_MAX_TOKENS] = {.key = "max_tokens"},
        [GM_MAX_COMPLETION] = {.key = "max_completion_tokens"},
        [GM_TEMPERATURE] = {.key = "temperature"},
        [GM_TOP_P] = {.key = "top_p"},
        [GM_PRESENCE] = {.key = "presence_penalty"},
        [GM_FREQUENCY] = {.key = "frequency_penalty"},
        [GM_SEED] = {.key = "seed"},
        [GM_STOP] = {.key = "stop"},
        [GM_STREAM] = {.key = "stream"},
        [GM_STREAM_OPTIONS] = {.key = "stream_options"},
        [GM_TOOLS] = {.key = "tools"},
        [GM_TOOL_CHOICE] = {.key = "tool_choice"},
        [GM_RESPONSE_FORMAT] = {.key = "response_format"},
        [GM_N] = {.key = "n"},
        [GM_LOGPROBS] = {.key = "logprobs"},
        [GM_TOP_LOGPROBS] = {.key = "top_logprobs"},
        [GM_AUDIO] = {.key = "audio"},
        [GM_FUNCTIONS] = {.key = "functions"},
        [GM_FUNCTION_CALL] = {.key = "function_call"},
    };
    struct req r = {.refusal = refusal};
    *info = (struct sl_gemini_req_info){0};
    *refusal = (struct sl_xlat_refusal){{0}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, GM__N) != 0)
        return refuse(&r, "", "the body is not a JSON object");
    if (!p[GM_MODEL].found || p[GM_MODEL].m.type != SL_JSON_STRING)
        return refuse(&r, "model", "you must provide a model parameter");
    if (!p[GM_MESSAGES].found || p[GM_MESSAGES].m.type != SL_JSON_ARRAY)
        return refuse(&r, "messages", "'messages' is a required property");
    struct sl__gemini_out o = {&r.w, refusal};
    int rc = sl__gemini_refusals(&o, p);
    if (rc)
        return rc;
    if (p[GM_STREAM].found && p[GM_STREAM].m.type == SL_JSON_TRUE) {
        info->stream = 1;
        struct sl_json_pick u[1] = {{.key = "include_usage"}};
        info->include_usage = p[GM_STREAM_OPTIONS].found &&
                              sl_xlat_pick(sl_xlat_raw(&p[GM_STREAM_OPTIONS].m), u, 1) == 0 &&
                              u[0].found && u[0].m.type == SL_JSON_TRUE;
    }

    sl_buf_init(&r.scratch, len + 1);
    sl_jw_init(&r.w, out);
    sl_jw_object(&r.w);
    struct sl_str messages = p[GM_MESSAGES].m.value;
    if ((rc = system_member(&r, messages)) || (rc = contents_member(&r, messages)) ||
        (rc = sl__gemini_tools(&o, p)) || (rc = sl__gemini_generation_config(&o, p)))
        goto out;
    sl_jw_end(&r.w);
    rc = sl_jw_finish(&r.w);
out:
    free(r.calls);
    sl_buf_release(&r.scratch);
    return rc;
}
