/* OpenAI chat.completion -> Anthropic message, OpenAI errors -> Anthropic
 * errors, and the usage of an Anthropic message for the native
 * pass-through. Texts, ids and names are copied as escaped spans; the only
 * value decoded is a tool call's arguments string, whose JSON becomes the
 * tool_use block's input object. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "providers/anthropic_int.h"
#include "providers/messages_front.h"

void sl__msg_usage_read(struct sl_str usage, struct sl_xlat_usage *u)
{
    struct sl_json_pick p[3] = {
        {.key = "prompt_tokens"}, {.key = "completion_tokens"}, {.key = "prompt_tokens_details"}};
    struct sl_json_pick d[1] = {{.key = "cached_tokens"}};
    if (sl__anth_pick(usage, p, 3) != 0)
        return;
    u->prompt = sl__anth_count(&p[0], u->prompt);
    u->completion = sl__anth_count(&p[1], u->completion);
    if (p[2].found && sl__anth_pick(sl__anth_raw(&p[2].m), d, 1) == 0)
        u->cached = sl__anth_count(&d[0], u->cached);
    if (u->cached > u->prompt)
        u->cached = u->prompt;
}

void sl__msg_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u)
{
    sl_jw_object(w);
    sl_jw_kv_int(w, "input_tokens", (long long)(u->prompt - u->cached));
    /* OpenAI does not say what it wrote to its cache */
    sl_jw_kv_int(w, "cache_creation_input_tokens", 0);
    sl_jw_kv_int(w, "cache_read_input_tokens", (long long)u->cached);
    sl_jw_kv_int(w, "output_tokens", (long long)u->completion);
    sl_jw_end(w);
}

/* ---- response ---- */

/* The text block: a string content, or the texts of a content array
 * joined, or (neither) the model's refusal. */
static void text_block(struct sl_jw *w, const struct sl_json_pick *content,
                       const struct sl_json_pick *refusal)
{
    const struct sl_json_member *c = &content->m;
    if (content->found && c->type == SL_JSON_STRING && c->value.len > 0) {
        struct sl_str raw = sl__anth_raw(c);
        sl_jw_object(w);
        sl_jw_kv_string(w, "type", "text");
        sl_jw_kv_raw(w, "text", raw.ptr, raw.len);
        sl_jw_end(w);
        return;
    }
    size_t n = 0;
    if (content->found && c->type == SL_JSON_ARRAY) {
        struct sl_json_walk wk;
        struct sl_json_value part, arr = sl__anth_value(c);
        sl_json_enter(&wk, &arr);
        while (sl_json_next_item(&wk, &part)) {
            struct sl_json_pick t[2] = {{.key = "type"}, {.key = "text"}};
            struct sl_str s = {part.start, (size_t)(part.end - part.start)};
            if (sl__anth_pick(s, t, 2) != 0 || !sl__anth_is(&t[0], "text") || !t[1].found ||
                t[1].m.type != SL_JSON_STRING || t[1].m.value.len == 0)
                continue;
            if (n++ == 0) {
                sl_jw_object(w);
                sl_jw_kv_string(w, "type", "text");
                sl_jw_key(w, "text");
                sl_jw_string_open(w);
            }
            sl_jw_string_piece(w, t[1].m.value.ptr, t[1].m.value.len);
        }
        if (n) {
            sl_jw_string_close(w);
            sl_jw_end(w);
        }
    }
    if (n == 0 && refusal->found && refusal->m.type == SL_JSON_STRING && refusal->m.value.len > 0) {
        struct sl_str raw = sl__anth_raw(&refusal->m);
        sl_jw_object(w);
        sl_jw_kv_string(w, "type", "text");
        sl_jw_kv_raw(w, "text", raw.ptr, raw.len);
        sl_jw_end(w);
    }
}

/* tool_calls [{id, function: {name, arguments}}] -> tool_use blocks {id,
 * name, input}. Arguments that are not a JSON object (a model's broken
 * JSON, a call cut by max_tokens) become {}: Anthropic's input is always
 * an object, and the turn's other blocks are still worth having. */
static int tool_use_blocks(struct sl_jw *w, const struct sl_json_member *calls,
                           struct sl_buf *scratch)
{
    struct sl_json_walk wk;
    struct sl_json_value call, arr = sl__anth_value(calls);
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &call)) {
        struct sl_json_pick c[2] = {{.key = "id"}, {.key = "function"}};
        struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
        struct sl_str s = {call.start, (size_t)(call.end - call.start)};
        if (sl__anth_pick(s, c, 2) != 0 || !c[0].found || c[0].m.type != SL_JSON_STRING ||
            !c[1].found || sl__anth_pick(sl__anth_raw(&c[1].m), f, 2) != 0 || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return UV_EINVAL; /* not a tool call OpenAI documents */
        struct sl_str input = {"{}", 2};
        if (f[1].found && f[1].m.type == SL_JSON_STRING) {
            struct sl_json_value av = sl__anth_value(&f[1].m);
            struct sl_json_doc d;
            sl_buf_reset(scratch);
            if (sl_json_string(&av, scratch) != 0)
                return UV_ENOMEM;
            if (scratch->ptr && sl_json_scan(scratch->ptr, scratch->len, &d) == 0 &&
                d.type == SL_JSON_OBJECT)
                input = (struct sl_str){scratch->ptr, scratch->len};
        }
        struct sl_str id = sl__anth_raw(&c[0].m), name = sl__anth_raw(&f[0].m);
        sl_jw_object(w);
        sl_jw_kv_string(w, "type", "tool_use");
        sl_jw_kv_raw(w, "id", id.ptr, id.len);
        sl_jw_kv_raw(w, "name", name.ptr, name.len);
        sl_jw_kv_raw(w, "input", input.ptr, input.len);
        sl_jw_end(w);
    }
    return 0;
}

int sl_messages_response(const char *body, size_t len, const char *id, const char *model,
                         struct sl_buf *out, struct sl_xlat_usage *usage)
{
    enum { T_OBJECT, T_ID, T_MODEL, T_CHOICES, T_USAGE, T__N };
    struct sl_json_pick p[T__N] = {
        {.key = "object"}, {.key = "id"}, {.key = "model"}, {.key = "choices"}, {.key = "usage"}};
    enum { C_MESSAGE, C_FINISH, C_STOP, C__N };
    struct sl_json_pick c[C__N] = {
        {.key = "message"}, {.key = "finish_reason"}, {.key = "stop_reason"}};
    enum { M_CONTENT, M_TOOL_CALLS, M_REFUSAL, M__N };
    struct sl_json_pick m[M__N] = {{.key = "content"}, {.key = "tool_calls"}, {.key = "refusal"}};
    struct sl_json_walk wk;
    struct sl_json_value choice;
    if (usage)
        *usage = (struct sl_xlat_usage){0};
    if (sl__anth_pick((struct sl_str){body, len}, p, T__N) != 0 ||
        (p[T_OBJECT].found && !sl__anth_is(&p[T_OBJECT], "chat.completion")) ||
        !p[T_CHOICES].found || p[T_CHOICES].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    struct sl_json_value choices = sl__anth_value(&p[T_CHOICES].m);
    sl_json_enter(&wk, &choices);
    if (!sl_json_next_item(&wk, &choice) ||
        sl__anth_pick((struct sl_str){choice.start, (size_t)(choice.end - choice.start)}, c,
                      C__N) != 0 ||
        !c[C_MESSAGE].found || sl__anth_pick(sl__anth_raw(&c[C_MESSAGE].m), m, M__N) != 0)
        return UV_EINVAL;
    struct sl_xlat_usage u = {0};
    if (p[T_USAGE].found)
        sl__msg_usage_read(sl__anth_raw(&p[T_USAGE].m), &u);
    if (usage)
        *usage = u;

    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_key(&w, "id");
    if (id) {
        sl_jw_string(&w, id);
    } else {
        sl_jw_string_open(&w);
        sl_jw_string_piece(&w, "msg_", 4);
        if (p[T_ID].found && p[T_ID].m.type == SL_JSON_STRING)
            sl_jw_string_piece(&w, p[T_ID].m.value.ptr, p[T_ID].m.value.len);
        sl_jw_string_close(&w);
    }
    sl_jw_kv_string(&w, "type", "message");
    sl_jw_kv_string(&w, "role", "assistant");
    if (model) {
        sl_jw_kv_string(&w, "model", model);
    } else if (p[T_MODEL].found && p[T_MODEL].m.type == SL_JSON_STRING) {
        struct sl_str raw = sl__anth_raw(&p[T_MODEL].m);
        sl_jw_kv_raw(&w, "model", raw.ptr, raw.len);
    } else {
        sl_jw_kv_string(&w, "model", "");
    }
    sl_jw_key(&w, "content");
    sl_jw_array(&w);
    text_block(&w, &m[M_CONTENT], &m[M_REFUSAL]);
    int rc = 0;
    if (m[M_TOOL_CALLS].found && m[M_TOOL_CALLS].m.type == SL_JSON_ARRAY) {
        struct sl_buf scratch;
        sl_buf_init(&scratch, len + 1);
        rc = tool_use_blocks(&w, &m[M_TOOL_CALLS].m, &scratch);
        sl_buf_release(&scratch);
        if (rc)
            return rc;
    }
    sl_jw_end(&w);
    /* vLLM says which stop string ended the text in choices[].stop_reason */
    const struct sl_json_member *f = &c[C_FINISH].m, *seq = &c[C_STOP].m;
    int finished = c[C_FINISH].found && f->type == SL_JSON_STRING;
    int by_seq =
        finished && sl_str_eq(f->value, "stop") && c[C_STOP].found && seq->type == SL_JSON_STRING;
    const char *stop = "end_turn";
    if (by_seq)
        stop = "stop_sequence";
    else if (finished)
        stop = sl_anthropic_stop_reason(f->value.ptr, f->value.len);
    else if (m[M_REFUSAL].found && m[M_REFUSAL].m.type == SL_JSON_STRING)
        stop = "refusal";
    sl_jw_kv_string(&w, "stop_reason", stop);
    if (by_seq) {
        struct sl_str raw = sl__anth_raw(seq);
        sl_jw_kv_raw(&w, "stop_sequence", raw.ptr, raw.len);
    } else {
        sl_jw_kv_raw(&w, "stop_sequence", "null", 4);
    }
    sl_jw_key(&w, "usage");
    sl__msg_usage_write(&w, &u);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}

/* ---- errors ---- */

/* By status: Anthropic documents one type per status. 503 (an upstream's
 * or the gateway's "no capacity now") is overloaded_error, which is what
 * Anthropic itself says when it has none; the status stays 503, which
 * every HTTP client and proxy knows (Anthropic's SDKs retry any 5xx, 529
 * and 503 alike). */
static const struct sl_messages_error by_status[] = {
    {400, "invalid_request_error"},
    {401, "authentication_error"},
    {402, "billing_error"},
    {403, "permission_error"},
    {404, "not_found_error"},
    {413, "request_too_large"},
    {429, "rate_limit_error"},
    {500, "api_error"},
    {502, "api_error"},
    {503, "overloaded_error"},
    {504, "timeout_error"},
    {529, "overloaded_error"},
};

/* By OpenAI's error type or code, when there is no status (a stream). */
static const struct {
    const char *openai;
    int status;
} by_type[] = {
    {"invalid_request_error", 400},
    {"authentication_error", 401},
    {"invalid_api_key", 401},
    {"insufficient_quota", 402},
    {"permission_error", 403},
    {"not_found", 404},
    {"model_not_found", 404},
    {"request_too_large", 413},
    {"rate_limit_exceeded", 429},
    {"requests", 429},
    {"tokens", 429},
    {"rate_limit_error", 429},
    {"server_error", 500},
    {"bad_gateway", 502},
    {"overloaded", 503},
    {"unavailable", 503},
    {"timeout", 504},
};

/* The status OpenAI's type or code stands for, or 0. */
static int status_of(const char *openai, size_t len)
{
    for (size_t i = 0; openai && i < sizeof(by_type) / sizeof(by_type[0]); i++)
        if (sl_str_eq((struct sl_str){openai, len}, by_type[i].openai))
            return by_type[i].status;
    return 0;
}

struct sl_messages_error sl_messages_error_class(int status, const char *openai_type, size_t len)
{
    if (status < 400 || status > 599)
        status = status_of(openai_type, len);
    for (size_t i = 0; i < sizeof(by_status) / sizeof(by_status[0]); i++)
        if (by_status[i].status == status)
            return by_status[i];
    if (status >= 400 && status < 500)
        return (struct sl_messages_error){status, "invalid_request_error"};
    if (status >= 500 && status < 600)
        return (struct sl_messages_error){status, "api_error"};
    return (struct sl_messages_error){500, "api_error"};
}

/* {"type":"error","error":{"type":T,"message": (the caller writes the
 * message and closes both objects) */
static void error_open(struct sl_jw *w, const struct sl_messages_error *cls)
{
    sl_jw_object(w);
    sl_jw_kv_string(w, "type", "error");
    sl_jw_key(w, "error");
    sl_jw_object(w);
    sl_jw_kv_string(w, "type", cls->type);
    sl_jw_key(w, "message");
}

void sl__msg_error_write(struct sl_jw *w, int status, const char *body, size_t len,
                         struct sl_messages_error *cls)
{
    /* {"error":{"message","type","code"}} (OpenAI), {"error":"..."} and
     * {"message":"..."} (some compatible servers) */
    struct sl_json_pick top[2] = {{.key = "error"}, {.key = "message"}};
    struct sl_json_pick in[3] = {{.key = "message"}, {.key = "type"}, {.key = "code"}};
    const struct sl_json_member *msg = NULL, *type = NULL;
    if (sl__anth_pick((struct sl_str){body, len}, top, 2) == 0) {
        if (top[0].found && top[0].m.type == SL_JSON_STRING)
            msg = &top[0].m;
        else if (top[0].found && sl__anth_pick(sl__anth_raw(&top[0].m), in, 3) == 0)
            msg = in[0].found && in[0].m.type == SL_JSON_STRING ? &in[0].m : NULL;
        else if (top[1].found && top[1].m.type == SL_JSON_STRING)
            msg = &top[1].m;
    }
    if (status < 400 || status > 599) {
        /* no status (a stream): the code is the more precise
         * ("rate_limit_exceeded"), the type the fallback */
        if (in[1].found && in[1].m.type == SL_JSON_STRING)
            type = &in[1].m;
        if (in[2].found && in[2].m.type == SL_JSON_STRING &&
            status_of(in[2].m.value.ptr, in[2].m.value.len))
            type = &in[2].m;
    }
    *cls =
        sl_messages_error_class(status, type ? type->value.ptr : NULL, type ? type->value.len : 0);
    error_open(w, cls);
    if (msg) {
        struct sl_str raw = sl__anth_raw(msg);
        sl_jw_raw(w, raw.ptr, raw.len);
    } else {
        char text[96];
        if (status)
            snprintf(text, sizeof(text), "the upstream answered HTTP %d without an error message",
                     status);
        else
            snprintf(text, sizeof(text), "the upstream stream failed without an error message");
        sl_jw_string(w, text);
    }
    sl_jw_end(w);
    sl_jw_end(w);
}

int sl_messages_error(int status, const char *body, size_t len, struct sl_buf *out,
                      struct sl_messages_error *cls)
{
    struct sl_jw w;
    sl_jw_init(&w, out);
    sl__msg_error_write(&w, status, body, len, cls);
    return sl_jw_finish(&w);
}

int sl_messages_error_body(int status, const char *message, struct sl_buf *out,
                           struct sl_messages_error *cls)
{
    struct sl_messages_error e = sl_messages_error_class(status, NULL, 0);
    if (cls)
        *cls = e;
    struct sl_jw w;
    sl_jw_init(&w, out);
    error_open(&w, &e);
    sl_jw_string(&w, message ? message : "");
    sl_jw_end(&w);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}

int sl_messages_refusal_body(const struct sl_xlat_refusal *refusal, struct sl_buf *out)
{
    char text[sizeof(refusal->param) + sizeof(refusal->message) + 2];
    size_t n = strnlen(refusal->param, sizeof(refusal->param));
    if (n > 0 && strncmp(refusal->message, refusal->param, n) != 0)
        snprintf(text, sizeof(text), "%.*s: %.*s", (int)n, refusal->param,
                 (int)sizeof(refusal->message), refusal->message);
    else
        snprintf(text, sizeof(text), "%.*s", (int)sizeof(refusal->message), refusal->message);
    return sl_messages_error_body(400, text, out, NULL);
}

int sl_messages_error_event(int status, const char *message, struct sl_buf *out)
{
    size_t before = out->len;
    int rc = sl_buf_append(out, "event: error\ndata: ", 19);
    if (rc == 0)
        rc = sl_messages_error_body(status, message, out, NULL);
    if (rc == 0)
        rc = sl_buf_append(out, "\n\n", 2);
    if (rc) { /* whole events only */
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
    }
    return rc;
}

/* ---- native pass-through ---- */

int sl_anthropic_usage_scan(const char *body, size_t len, struct sl_xlat_usage *usage)
{
    struct sl_json_pick p[2] = {{.key = "type"}, {.key = "usage"}};
    struct sl_anthropic_tokens t = {0};
    *usage = (struct sl_xlat_usage){0};
    if (sl__anth_pick((struct sl_str){body, len}, p, 2) != 0 ||
        (p[0].found && !sl__anth_is(&p[0], "message")))
        return UV_EINVAL;
    if (p[1].found)
        sl__anth_tokens_read(sl__anth_raw(&p[1].m), &t);
    *usage = sl__anth_usage_of(&t);
    return 0;
}
