#include "http/openai.h"

#include <stdio.h>
#include <stdlib.h>

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
    enum { P_MODEL, P_INPUT, P_STREAM, P_MAX_TOKENS, P__COUNT };
    struct sl_json_pick picks[P__COUNT] = {
        [P_MODEL] = {.key = "model"},
        [P_INPUT] = {.key = endpoints[ep].input},
        [P_STREAM] = {.key = "stream"},
        [P_MAX_TOKENS] = {.key = "max_tokens"},
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
    const struct sl_json_pick *stream = &picks[P_STREAM], *max_tokens = &picks[P_MAX_TOKENS];
    out->stream = ep != SL_OAI_EMBEDDINGS && stream->found && stream->m.type == SL_JSON_TRUE;
    out->max_tokens = max_tokens->found && max_tokens->m.type == SL_JSON_NUMBER
                          ? strtol(max_tokens->m.value.ptr, NULL, 10)
                          : -1;
    return 0;
}
