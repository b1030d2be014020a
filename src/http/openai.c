#include "http/openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *path, *name, *input;
} endpoints[SL_OAI__COUNT] = {
    [SL_OAI_CHAT] = {"/v1/chat/completions", "chat/completions", "messages"},
    [SL_OAI_COMPLETIONS] = {"/v1/completions", "completions", "prompt"},
    [SL_OAI_EMBEDDINGS] = {"/v1/embeddings", "embeddings", "input"},
};

int sl_openai_endpoint(struct sl_str path)
{
    for (int i = 0; i < SL_OAI__COUNT; i++)
        if (sl_str_eq(path, endpoints[i].path))
            return i;
    return -1;
}

const char *sl_openai_path(enum sl_openai_endpoint ep)
{
    return endpoints[ep].path;
}

const char *sl_openai_name(enum sl_openai_endpoint ep)
{
    return endpoints[ep].name;
}

const char *sl_openai_input(enum sl_openai_endpoint ep)
{
    return endpoints[ep].input;
}

int sl_openai_parse(const char *body, size_t len, enum sl_openai_endpoint ep,
                    struct sl_openai_req *out, const char **code, char *msg, size_t msg_size)
{
    /* one pass over the body finds every member this needs, wherever it is */
    enum { P_MODEL, P_INPUT, P_STREAM, P_MAX_TOKENS, P_MAX_COMPLETION, P_OPTIONS, P__COUNT };
    struct sl_json_pick picks[P__COUNT] = {
        [P_MODEL] = {.key = "model"},
        [P_INPUT] = {.key = endpoints[ep].input},
        [P_STREAM] = {.key = "stream"},
        [P_MAX_TOKENS] = {.key = "max_tokens"},
        [P_MAX_COMPLETION] = {.key = "max_completion_tokens"}, /* what newer models take */
        [P_OPTIONS] = {.key = "stream_options"},
    };
    if (sl_json_scan_pick(body, len, &out->doc, picks, P__COUNT) != 0) {
        *code = "invalid_json";
        snprintf(msg, msg_size, "the body is not valid JSON: %s at byte %zu", out->doc.error,
                 out->doc.error_at);
        return -1;
    }
    if (out->doc.type != SL_JSON_OBJECT) {
        *code = "invalid_json";
        snprintf(msg, msg_size, "the body is not a JSON object");
        return -1;
    }
    const struct sl_json_member *model = picks[P_MODEL].found ? &picks[P_MODEL].m : NULL;
    if (model == NULL || model->type != SL_JSON_STRING || model->value.len == 0 ||
        model->value.len >= 128) {
        *code = "missing_model";
        snprintf(msg, msg_size, "you must provide a model parameter");
        return -1;
    }
    out->model = model->value;
    out->input = picks[P_INPUT].m;
    if (!picks[P_INPUT].found ||
        (ep == SL_OAI_CHAT && (out->input.type != SL_JSON_ARRAY || out->input.items == 0))) {
        *code = "missing_field";
        snprintf(msg, msg_size, "'%s' is a required property", endpoints[ep].input);
        return -1;
    }
    const struct sl_json_pick *stream = &picks[P_STREAM];
    out->stream = ep != SL_OAI_EMBEDDINGS && stream->found && stream->m.type == SL_JSON_TRUE;
    out->stream_options = picks[P_OPTIONS].found;
    out->include_usage = 0;
    if (out->stream_options && picks[P_OPTIONS].m.type == SL_JSON_OBJECT) {
        struct sl_json_pick iu = {.key = "include_usage"};
        struct sl_json_doc d;
        const struct sl_str *o = &picks[P_OPTIONS].m.value;
        out->include_usage = sl_json_scan_pick(o->ptr, o->len, &d, &iu, 1) == 0 && iu.found &&
                             iu.m.type == SL_JSON_TRUE;
    }
    out->max_tokens = -1;
    for (int p = P_MAX_TOKENS; p <= P_MAX_COMPLETION; p++) {
        const struct sl_json_pick *mt = &picks[p];
        long v = mt->found && mt->m.type == SL_JSON_NUMBER ? strtol(mt->m.value.ptr, NULL, 10) : -1;
        if (v > out->max_tokens)
            out->max_tokens = v;
    }
    return 0;
}

int sl_openai_with_model(const char *body, size_t len, struct sl_str model, const char *name,
                         char **out, size_t *out_len)
{
    size_t before = (size_t)(model.ptr - body), after_at = before + model.len;
    size_t nlen = strlen(name);
    *out_len = before + nlen + (len - after_at);
    *out = malloc(*out_len);
    if (*out == NULL)
        return -1;
    memcpy(*out, body, before);
    memcpy(*out + before, name, nlen);
    memcpy(*out + before + nlen, body + after_at, len - after_at);
    return 0;
}

int sl_openai_with_usage(const char *body, size_t len, struct sl_str model, const char *name,
                         char **out, size_t *out_len)
{
    static const char opt[] = "\"stream_options\":{\"include_usage\":true},";
    const char *brace = memchr(body, '{', len);
    size_t at = brace ? (size_t)(brace - body) + 1 : 0; /* parse checked it is an object */
    size_t mlen = name ? strlen(name) : model.len;
    size_t before = (size_t)(model.ptr - body), after = before + model.len;
    *out_len = len + sizeof(opt) - 1 - model.len + mlen;
    if ((*out = malloc(*out_len)) == NULL)
        return -1;
    char *p = *out;
    memcpy(p, body, at);
    p += at;
    memcpy(p, opt, sizeof(opt) - 1);
    p += sizeof(opt) - 1;
    memcpy(p, body + at, before - at);
    p += before - at;
    memcpy(p, name ? name : model.ptr, mlen);
    p += mlen;
    memcpy(p, body + after, len - after);
    return 0;
}

int sl_openai_is_usage_chunk(const char *data, size_t len)
{
    if (len < 8 || memmem(data, len, "usage", 5) == NULL)
        return 0; /* most chunks: no scan */
    struct sl_json_pick pk[2] = {{.key = "choices"}, {.key = "usage"}};
    struct sl_json_doc d;
    return sl_json_scan_pick(data, len, &d, pk, 2) == 0 && pk[0].found &&
           pk[0].m.type == SL_JSON_ARRAY && pk[0].m.items == 0 && pk[1].found &&
           pk[1].m.type == SL_JSON_OBJECT;
}

/* The end of the JSON object that starts at p ('{'), or NULL. Strings are
 * skipped with their escapes, so braces inside them do not count. */
static const char *object_end(const char *p, const char *end)
{
    int depth = 0, in_string = 0;
    for (; p < end; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

/* This runs for every response and final stream chunk, and the body is the
 * client's, passed through as is: so only the usage object is parsed. */
void sl_openai_usage(const char *text, size_t len, unsigned *prompt, unsigned *completion)
{
    const char *end = text + len, *at = NULL;
    for (const char *p = text; (p = memmem(p, (size_t)(end - p), "\"usage\"", 7)) != NULL; p += 7)
        at = p;
    if (at == NULL)
        return;
    const char *p = at + 7;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':'))
        p++;
    const char *obj_end = p < end && *p == '{' ? object_end(p, end) : NULL;
    struct sl_json_doc u;
    /* chat and completions name them prompt/completion_tokens, the
     * Responses API input/output_tokens */
    struct sl_json_pick pk[4] = {{.key = "prompt_tokens"},
                                 {.key = "completion_tokens"},
                                 {.key = "input_tokens"},
                                 {.key = "output_tokens"}};
    if (obj_end == NULL || sl_json_scan_pick(p, (size_t)(obj_end - p), &u, pk, 4) != 0)
        return;
    for (int i = 0; i < 4; i++)
        if (pk[i].found && pk[i].m.type == SL_JSON_NUMBER)
            *(i % 2 ? completion : prompt) = (unsigned)strtoul(pk[i].m.value.ptr, NULL, 10);
}

int sl_openai_is_done(const char *data, size_t len)
{
    return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

size_t sl_openai_error_body(char *out, size_t size, const char *type, const char *code,
                            const char *message)
{
    char msg[1024];
    sl_json_escape(msg, sizeof(msg), message);
    int n =
        snprintf(out, size,
                 "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":%s%s%s}}",
                 msg, type, code ? "\"" : "", code ? code : "null", code ? "\"" : "");
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}

size_t sl_openai_error_event(char *out, size_t size, const char *type, const char *code,
                             const char *message)
{
    char body[1024];
    sl_openai_error_body(body, sizeof(body), type, code, message);
    int n = snprintf(out, size, "data: %s\n\n", body);
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}
