/* What the provider adapters write the same way (providers/xlat_json.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "providers/xlat_json.h"

void sl__xlat_block(struct sl_jw *w, struct sl__xlat_turns *t, int role, const char *name)
{
    if (t->open_role == role)
        return;
    sl__xlat_turns_end(w, t);
    sl_jw_object(w);
    sl_jw_kv_string(w, "role", name);
    sl_jw_key(w, "content");
    sl_jw_array(w);
    t->open_role = role;
    t->messages++;
}

void sl__xlat_turns_end(struct sl_jw *w, struct sl__xlat_turns *t)
{
    if (t->open_role == 0)
        return;
    sl_jw_end(w); /* content */
    sl_jw_end(w); /* message */
    t->open_role = 0;
}

unsigned long sl__xlat_count(const struct sl_json_pick *p, unsigned long dflt)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER || p->m.value.ptr[0] == '-')
        return dflt;
    unsigned long n = strtoul(p->m.value.ptr, NULL, 10);
    return n < ULONG_MAX / 4 ? n : ULONG_MAX / 4;
}

void sl__xlat_tokens_read(struct sl_str usage, const char *const keys[4], unsigned long *input,
                          unsigned long *output, unsigned long *cache_write,
                          unsigned long *cache_read)
{
    struct sl_json_pick p[4] = {
        {.key = keys[0]}, {.key = keys[1]}, {.key = keys[2]}, {.key = keys[3]}};
    if (sl_xlat_pick(usage, p, 4) != 0)
        return;
    *input = sl__xlat_count(&p[0], *input);
    *output = sl__xlat_count(&p[1], *output);
    *cache_write = sl__xlat_count(&p[2], *cache_write);
    *cache_read = sl__xlat_count(&p[3], *cache_read);
}

struct sl_xlat_usage sl__xlat_usage(unsigned long input, unsigned long output,
                                    unsigned long cache_write, unsigned long cache_read)
{
    return (struct sl_xlat_usage){
        .prompt = input + cache_write + cache_read,
        .completion = output,
        .cached = cache_read,
    };
}

void sl__xlat_tool_call_write(struct sl_jw *w, struct sl_str id, struct sl_str name,
                              struct sl_str input)
{
    sl_jw_object(w);
    sl_jw_kv_raw(w, "id", id.ptr, id.len);
    sl_jw_kv_string(w, "type", "function");
    sl_jw_key(w, "function");
    sl_jw_object(w);
    sl_jw_kv_raw(w, "name", name.ptr, name.len);
    sl_jw_key(w, "arguments");
    sl_jw_string_n(w, input.ptr, input.len);
    sl_jw_end(w);
    sl_jw_end(w);
}

void sl__xlat_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u)
{
    sl_jw_object(w);
    sl_jw_kv_int(w, "prompt_tokens", (long long)u->prompt);
    sl_jw_kv_int(w, "completion_tokens", (long long)u->completion);
    sl_jw_kv_int(w, "total_tokens", (long long)(u->prompt + u->completion));
    sl_jw_key(w, "prompt_tokens_details");
    sl_jw_object(w);
    sl_jw_kv_int(w, "cached_tokens", (long long)u->cached);
    sl_jw_end(w);
    sl_jw_end(w);
}

void sl__xlat_chunk_open(const struct sl__xlat_chunk *c, struct sl_jw *w, struct sl_buf *out)
{
    sl_jw_init(w, out);
    w->err = sl_buf_append(out, "data: ", 6);
    sl_jw_object(w);
    sl_jw_key(w, "id");
    sl_jw_string_open(w);
    sl_jw_string_piece(w, c->id, strlen(c->id));
    sl_jw_string_close(w);
    sl_jw_kv_string(w, "object", "chat.completion.chunk");
    sl_jw_kv_int(w, "created", c->created);
    sl_jw_key(w, "model");
    sl_jw_string_open(w);
    sl_jw_string_piece(w, c->model, strlen(c->model));
    sl_jw_string_close(w);
    sl_jw_key(w, "choices");
    sl_jw_array(w);
}

int sl__xlat_chunk_close(struct sl_jw *w, const struct sl_xlat_usage *usage)
{
    sl_jw_end(w);
    if (usage) {
        sl_jw_key(w, "usage");
        sl__xlat_usage_write(w, usage);
    }
    sl_jw_end(w);
    int rc = sl_jw_finish(w);
    return rc ? rc : sl_buf_append(w->out, "\n\n", 2);
}

void sl__xlat_delta_open(struct sl_jw *w)
{
    sl_jw_object(w);
    sl_jw_kv_int(w, "index", 0);
    sl_jw_key(w, "delta");
    sl_jw_object(w);
}

void sl__xlat_delta_close(struct sl_jw *w, const char *finish_reason)
{
    sl_jw_end(w);
    sl_jw_kv_raw(w, "logprobs", "null", 4);
    sl_jw_key(w, "finish_reason");
    if (finish_reason)
        sl_jw_string(w, finish_reason);
    else
        sl_jw_null(w);
    sl_jw_end(w);
}

int sl__xlat_delta_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out, const char *key,
                         struct sl_str raw)
{
    struct sl_jw w;
    sl__xlat_chunk_open(c, &w, out);
    sl__xlat_delta_open(&w);
    sl_jw_kv_raw(&w, key, raw.ptr, raw.len);
    sl__xlat_delta_close(&w, NULL);
    return sl__xlat_chunk_close(&w, NULL);
}

int sl__xlat_role_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out)
{
    struct sl_jw w;
    sl__xlat_chunk_open(c, &w, out);
    sl__xlat_delta_open(&w);
    sl_jw_kv_string(&w, "role", "assistant");
    sl_jw_kv_string(&w, "content", "");
    sl__xlat_delta_close(&w, NULL);
    return sl__xlat_chunk_close(&w, NULL);
}

int sl__xlat_tool_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out, int index,
                        struct sl_str id, struct sl_str name, struct sl_str arguments)
{
    struct sl_jw w;
    sl__xlat_chunk_open(c, &w, out);
    sl__xlat_delta_open(&w);
    sl_jw_key(&w, "tool_calls");
    sl_jw_array(&w);
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "index", index);
    if (id.ptr) {
        sl_jw_kv_raw(&w, "id", id.ptr, id.len);
        sl_jw_kv_string(&w, "type", "function");
    }
    sl_jw_key(&w, "function");
    sl_jw_object(&w);
    if (name.ptr)
        sl_jw_kv_raw(&w, "name", name.ptr, name.len);
    sl_jw_kv_raw(&w, "arguments", arguments.ptr, arguments.len);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl__xlat_delta_close(&w, NULL);
    return sl__xlat_chunk_close(&w, NULL);
}

int sl__xlat_finish_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out,
                          const char *finish_reason)
{
    struct sl_jw w;
    sl__xlat_chunk_open(c, &w, out);
    sl__xlat_delta_open(&w);
    sl__xlat_delta_close(&w, finish_reason);
    return sl__xlat_chunk_close(&w, NULL);
}

int sl__xlat_usage_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out,
                         const struct sl_xlat_usage *usage)
{
    struct sl_jw w;
    sl__xlat_chunk_open(c, &w, out);
    return sl__xlat_chunk_close(&w, usage);
}

void sl__xlat_keep_escaped(char *dst, size_t size, const struct sl_json_pick *p)
{
    if (p->found && p->m.type == SL_JSON_STRING && p->m.value.len < size) {
        memcpy(dst, p->m.value.ptr, p->m.value.len);
        dst[p->m.value.len] = '\0';
    }
}

int sl__xlat_broken_event(struct sl_buf *out, const char *provider, const char *why)
{
    char msg[160], event[512];
    snprintf(msg, sizeof(msg), "the %s stream broke off: %s", provider, why);
    size_t n =
        sl_openai_error_event(event, sizeof(event), "server_error", "bad_upstream_stream", msg);
    int rc = sl_buf_append(out, event, n);
    return rc ? rc : UV_EPROTO;
}

void sl__xlat_error_object(struct sl_jw *w, const struct sl_str *raw_message, const char *fallback,
                           const char *type, const char *code)
{
    sl_jw_object(w);
    sl_jw_key(w, "error");
    sl_jw_object(w);
    sl_jw_key(w, "message");
    if (raw_message)
        sl_jw_raw(w, raw_message->ptr, raw_message->len);
    else
        sl_jw_string(w, fallback);
    sl_jw_kv_string(w, "type", type);
    sl_jw_kv_raw(w, "param", "null", 4);
    sl_jw_key(w, "code");
    if (code)
        sl_jw_string(w, code);
    else
        sl_jw_null(w);
    sl_jw_end(w);
    sl_jw_end(w);
}
