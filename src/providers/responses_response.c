/* chat.completion -> Response object, and the Response pieces the stream
 * translator shares with it (responses_int.h). Texts, ids, names and
 * arguments are copied as the escaped spans they were; nothing is decoded.
 * The request fields a Response repeats come from the caller's echo object
 * (written by the request translation) and are spliced in member by
 * member. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/responses_int.h"

enum sl__resp_finish sl__resp_finish_of(struct sl_str finish_reason)
{
    if (sl_str_eq(finish_reason, "length"))
        return SL__RESP_MAX_TOKENS;
    if (sl_str_eq(finish_reason, "content_filter"))
        return SL__RESP_FILTERED;
    return SL__RESP_COMPLETED; /* stop, tool_calls, function_call */
}

static void escaped_string(struct sl_jw *w, const char *s, size_t len)
{
    sl_jw_string_open(w);
    sl_jw_string_piece(w, s, len);
    sl_jw_string_close(w);
}

void sl__resp_open(struct sl_jw *w, const char *id, long long created_at, const char *status,
                   enum sl__resp_finish finish, const char *error_message, const char *model,
                   const char *echo, size_t echo_len)
{
    sl_jw_object(w);
    sl_jw_key(w, "id");
    escaped_string(w, id, strlen(id));
    sl_jw_kv_string(w, "object", "response");
    sl_jw_kv_int(w, "created_at", created_at);
    sl_jw_kv_string(w, "status", status);
    sl_jw_kv_raw(w, "background", "false", 5);
    sl_jw_key(w, "error");
    if (error_message) {
        sl_jw_object(w);
        sl_jw_kv_string(w, "code", "server_error");
        sl_jw_key(w, "message");
        escaped_string(w, error_message, strlen(error_message));
        sl_jw_end(w);
    } else {
        sl_jw_null(w);
    }
    sl_jw_key(w, "incomplete_details");
    if (strcmp(status, "incomplete") == 0) {
        sl_jw_object(w);
        sl_jw_kv_string(w, "reason",
                        finish == SL__RESP_FILTERED ? "content_filter" : "max_output_tokens");
        sl_jw_end(w);
    } else {
        sl_jw_null(w);
    }
    sl_jw_key(w, "model");
    escaped_string(w, model, strlen(model));
    if (echo) {
        struct sl_json_walk wk;
        struct sl_json_value k, v, obj = sl_json_value_of(echo, echo_len);
        if (sl_json_enter(&wk, &obj) == 0)
            while (sl_json_next_member(&wk, &k, &v)) {
                /* the echo's keys are plain names of our own */
                sl_jw_key_n(w, k.start + 1, (size_t)(k.end - k.start) - 2);
                sl_jw_raw(w, v.start, (size_t)(v.end - v.start));
            }
    }
}

void sl__resp_close(struct sl_jw *w, const struct sl_xlat_usage *u, unsigned long reasoning_tokens)
{
    sl_jw_key(w, "usage");
    if (u == NULL) {
        sl_jw_null(w);
    } else {
        sl_jw_object(w);
        sl_jw_kv_int(w, "input_tokens", (long long)u->prompt);
        sl_jw_key(w, "input_tokens_details");
        sl_jw_object(w);
        sl_jw_kv_int(w, "cached_tokens", (long long)u->cached);
        sl_jw_end(w);
        sl_jw_kv_int(w, "output_tokens", (long long)u->completion);
        sl_jw_key(w, "output_tokens_details");
        sl_jw_object(w);
        sl_jw_kv_int(w, "reasoning_tokens", (long long)reasoning_tokens);
        sl_jw_end(w);
        sl_jw_kv_int(w, "total_tokens", (long long)(u->prompt + u->completion));
        sl_jw_end(w);
    }
    sl_jw_end(w);
}

void sl__resp_item_id(char *out, size_t size, const char *prefix, const char *suffix, size_t index)
{
    snprintf(out, size, "%s_%s_%zu", prefix, suffix, index);
}

void sl__resp_message_item(struct sl_jw *w, const char *id, const char *status,
                           struct sl__resp_text text, struct sl__resp_text refusal)
{
    sl_jw_object(w);
    sl_jw_kv_string(w, "id", id);
    sl_jw_kv_string(w, "type", "message");
    sl_jw_kv_string(w, "status", status);
    sl_jw_kv_string(w, "role", "assistant");
    sl_jw_key(w, "content");
    sl_jw_array(w);
    if (text.ptr) {
        sl_jw_object(w);
        sl_jw_kv_string(w, "type", "output_text");
        sl_jw_kv_raw(w, "annotations", "[]", 2);
        sl_jw_kv_raw(w, "logprobs", "[]", 2);
        sl_jw_key(w, "text");
        escaped_string(w, text.ptr, text.len);
        sl_jw_end(w);
    }
    if (refusal.ptr) {
        sl_jw_object(w);
        sl_jw_kv_string(w, "type", "refusal");
        sl_jw_key(w, "refusal");
        escaped_string(w, refusal.ptr, refusal.len);
        sl_jw_end(w);
    }
    sl_jw_end(w);
    sl_jw_end(w);
}

void sl__resp_call_item(struct sl_jw *w, const char *id, const char *status,
                        struct sl__resp_text call_id, struct sl__resp_text name,
                        struct sl__resp_text arguments)
{
    sl_jw_object(w);
    sl_jw_kv_string(w, "id", id);
    sl_jw_kv_string(w, "type", "function_call");
    sl_jw_kv_string(w, "status", status);
    sl_jw_key(w, "arguments");
    escaped_string(w, arguments.ptr, arguments.len);
    sl_jw_key(w, "call_id");
    escaped_string(w, call_id.ptr, call_id.len);
    sl_jw_key(w, "name");
    escaped_string(w, name.ptr, name.len);
    sl_jw_end(w);
}

/* A token count; capped so that the sum cannot wrap. */
static unsigned long count(const struct sl_json_pick *p)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER || p->m.value.ptr[0] == '-')
        return 0;
    unsigned long n = strtoul(p->m.value.ptr, NULL, 10);
    return n < ULONG_MAX / 4 ? n : ULONG_MAX / 4;
}

void sl__resp_usage_read(struct sl_str usage, struct sl_xlat_usage *u, unsigned long *reasoning)
{
    enum { U_PROMPT, U_COMPLETION, U_PROMPT_DETAILS, U_COMPLETION_DETAILS, U__N };
    struct sl_json_pick p[U__N] = {{.key = "prompt_tokens"},
                                   {.key = "completion_tokens"},
                                   {.key = "prompt_tokens_details"},
                                   {.key = "completion_tokens_details"}};
    struct sl_json_pick cached[1] = {{.key = "cached_tokens"}};
    struct sl_json_pick rsn[1] = {{.key = "reasoning_tokens"}};
    *u = (struct sl_xlat_usage){0};
    *reasoning = 0;
    if (sl_xlat_pick(usage, p, U__N) != 0)
        return;
    u->prompt = count(&p[U_PROMPT]);
    u->completion = count(&p[U_COMPLETION]);
    if (p[U_PROMPT_DETAILS].found && sl_xlat_pick(p[U_PROMPT_DETAILS].m.value, cached, 1) == 0)
        u->cached = count(&cached[0]);
    if (p[U_COMPLETION_DETAILS].found && sl_xlat_pick(p[U_COMPLETION_DETAILS].m.value, rsn, 1) == 0)
        *reasoning = count(&rsn[0]);
}

void sl__resp_suffix(struct sl_str chat_id, char *out, size_t size)
{
    size_t n = 0;
    if (chat_id.len >= 9 && memcmp(chat_id.ptr, "chatcmpl-", 9) == 0) {
        chat_id.ptr += 9;
        chat_id.len -= 9;
    }
    for (size_t i = 0; i < chat_id.len && n + 1 < size; i++) {
        char c = chat_id.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')
            out[n++] = c;
    }
    if (n == 0)
        n = (size_t)snprintf(out, size, "gen");
    out[n < size ? n : size - 1] = '\0';
}

static struct sl__resp_text text_of(const struct sl_json_pick *p)
{
    if (p->found && p->m.type == SL_JSON_STRING)
        return (struct sl__resp_text){p->m.value.ptr, p->m.value.len};
    return (struct sl__resp_text){NULL, 0};
}

/* message.tool_calls -> function_call items from output index `first`. */
static size_t call_items(struct sl_jw *w, const struct sl_json_member *calls, const char *suffix,
                         size_t first, const char *last_status)
{
    struct sl_json_walk wk;
    struct sl_json_value call, arr = sl_xlat_value(calls);
    size_t n = 0, total = calls->items;
    char id[128];
    if (calls->type != SL_JSON_ARRAY)
        return 0;
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &call)) {
        struct sl_json_pick c[2] = {{.key = "id"}, {.key = "function"}};
        struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
        if (sl_xlat_pick((struct sl_str){call.start, (size_t)(call.end - call.start)}, c, 2) ||
            !c[1].found || sl_xlat_pick(c[1].m.value, f, 2)) {
            total--;
            continue;
        }
        struct sl__resp_text call_id = text_of(&c[0]), name = text_of(&f[0]);
        struct sl__resp_text args = text_of(&f[1]);
        char gen[32];
        if (call_id.ptr == NULL) { /* a call id the client can answer to */
            snprintf(gen, sizeof(gen), "call_%zu", first + n);
            call_id = (struct sl__resp_text){gen, strlen(gen)};
        }
        if (name.ptr == NULL)
            name = (struct sl__resp_text){"", 0};
        if (args.ptr == NULL)
            args = (struct sl__resp_text){"", 0};
        sl__resp_item_id(id, sizeof(id), "fc", suffix, first + n);
        n++;
        sl__resp_call_item(w, id, n == total ? last_status : "completed", call_id, name, args);
    }
    return n;
}

int sl_responses_response(const char *body, size_t len, const struct sl_responses_ctx *ctx,
                          struct sl_buf *out, struct sl_xlat_usage *usage)
{
    enum { C_ID, C_MODEL, C_CHOICES, C_USAGE, C__N };
    struct sl_json_pick p[C__N] = {
        {.key = "id"}, {.key = "model"}, {.key = "choices"}, {.key = "usage"}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, C__N) != 0 || !p[C_CHOICES].found ||
        p[C_CHOICES].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    /* the first choice: {message: {content, refusal, tool_calls}, finish_reason} */
    enum { M_CONTENT, M_REFUSAL, M_TOOL_CALLS, M__N };
    struct sl_json_pick ch[2] = {{.key = "message"}, {.key = "finish_reason"}};
    struct sl_json_pick m[M__N] = {{.key = "content"}, {.key = "refusal"}, {.key = "tool_calls"}};
    struct sl_json_walk wk;
    struct sl_json_value choice, arr = sl_xlat_value(&p[C_CHOICES].m);
    sl_json_enter(&wk, &arr);
    if (!sl_json_next_item(&wk, &choice) ||
        sl_xlat_pick((struct sl_str){choice.start, (size_t)(choice.end - choice.start)}, ch, 2) ||
        !ch[0].found || sl_xlat_pick(ch[0].m.value, m, M__N))
        return UV_EINVAL;

    struct sl_xlat_usage u = {0};
    unsigned long reasoning = 0;
    if (p[C_USAGE].found)
        sl__resp_usage_read(p[C_USAGE].m.value, &u, &reasoning);
    if (usage)
        *usage = u;
    enum sl__resp_finish finish = SL__RESP_COMPLETED;
    if (ch[1].found && ch[1].m.type == SL_JSON_STRING)
        finish = sl__resp_finish_of(ch[1].m.value);
    const char *status = finish == SL__RESP_COMPLETED ? "completed" : "incomplete";

    char suffix[64], id[80], model[256], item[128];
    struct sl_str chat_id = {"", 0};
    if (p[C_ID].found && p[C_ID].m.type == SL_JSON_STRING)
        chat_id = p[C_ID].m.value;
    sl__resp_suffix(chat_id, suffix, sizeof(suffix));
    if (ctx->id)
        sl_json_escape(id, sizeof(id), ctx->id);
    else
        snprintf(id, sizeof(id), "resp_%s", suffix);
    if (ctx->model)
        sl_json_escape(model, sizeof(model), ctx->model);
    else if (p[C_MODEL].found && p[C_MODEL].m.type == SL_JSON_STRING &&
             p[C_MODEL].m.value.len < sizeof(model))
        snprintf(model, sizeof(model), "%.*s", (int)p[C_MODEL].m.value.len, p[C_MODEL].m.value.ptr);
    else
        model[0] = '\0';

    struct sl__resp_text text = text_of(&m[M_CONTENT]), refusal = text_of(&m[M_REFUSAL]);
    if (text.ptr && text.len == 0 && refusal.ptr == NULL && m[M_TOOL_CALLS].found &&
        m[M_TOOL_CALLS].m.type == SL_JSON_ARRAY && m[M_TOOL_CALLS].m.items > 0)
        text.ptr = NULL; /* "" beside tool calls: no message item */
    int calls = m[M_TOOL_CALLS].found && m[M_TOOL_CALLS].m.type == SL_JSON_ARRAY &&
                m[M_TOOL_CALLS].m.items > 0;

    struct sl_jw w;
    sl_jw_init(&w, out);
    sl__resp_open(&w, id, ctx->created_at, status, finish, NULL, model, ctx->echo, ctx->echo_len);
    sl_jw_key(&w, "output");
    sl_jw_array(&w);
    size_t n = 0;
    if (text.ptr || refusal.ptr) {
        sl__resp_item_id(item, sizeof(item), "msg", suffix, n++);
        sl__resp_message_item(&w, item, calls ? "completed" : status, text, refusal);
    }
    if (calls)
        call_items(&w, &m[M_TOOL_CALLS].m, suffix, n, status);
    sl_jw_end(&w);
    sl__resp_close(&w, &u, reasoning);
    return sl_jw_finish(&w);
}
