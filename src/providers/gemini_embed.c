/* OpenAI /v1/embeddings <-> Gemini models/{model}:batchEmbedContents.
 * One Gemini request per OpenAI input, in order, so the response's
 * embeddings[i] is OpenAI's data[i]; the vectors are copied as raw spans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"

/* One {model, content: {parts: [{text}]}, outputDimensionality} request. */
static void embed_one(struct sl_jw *w, const char *model, struct sl_json_value text,
                      const struct sl_json_pick *dims)
{
    sl_jw_object(w);
    sl_jw_kv_string(w, "model", model);
    sl_jw_key(w, "content");
    sl_jw_object(w);
    sl_jw_key(w, "parts");
    sl_jw_array(w);
    sl_jw_object(w);
    sl_jw_kv_raw(w, "text", text.start, (size_t)(text.end - text.start));
    sl_jw_end(w);
    sl_jw_end(w);
    sl_jw_end(w);
    if (dims->found && dims->m.type == SL_JSON_NUMBER)
        sl_jw_kv_raw(w, "outputDimensionality", dims->m.value.ptr, dims->m.value.len);
    sl_jw_end(w);
}

int sl_gemini_embed_request(const char *body, size_t len, const char *model, struct sl_buf *out,
                            size_t *count, struct sl_xlat_refusal *refusal)
{
    enum { P_INPUT, P_DIMS, P_FORMAT, P__N };
    struct sl_json_pick p[P__N] = {
        {.key = "input"}, {.key = "dimensions"}, {.key = "encoding_format"}};
    *count = 0;
    *refusal = (struct sl_xlat_refusal){{0}};
    char name[256]; /* Google's resource name: models/M */
    int n =
        snprintf(name, sizeof(name), "models/%s", strncmp(model, "models/", 7) ? model : model + 7);
    if (n < 0 || (size_t)n >= sizeof(name))
        return sl_xlat_refuse(refusal, "model", "the model name is too long");
    if (sl_xlat_pick((struct sl_str){body, len}, p, P__N) != 0)
        return sl_xlat_refuse(refusal, "", "the body is not a JSON object");
    if (!p[P_INPUT].found ||
        (p[P_INPUT].m.type != SL_JSON_STRING && p[P_INPUT].m.type != SL_JSON_ARRAY))
        return sl_xlat_refuse(refusal, "input", "input must be a string or an array of strings");
    if (p[P_FORMAT].found && p[P_FORMAT].m.type != SL_JSON_NULL &&
        !sl_xlat_is(&p[P_FORMAT], "float"))
        return sl_xlat_refuse(refusal, "encoding_format",
                              "encoding_format other than float is not supported by gemini");
    if (p[P_DIMS].found && p[P_DIMS].m.type != SL_JSON_NULL) {
        double v = p[P_DIMS].m.type == SL_JSON_NUMBER ? strtod(p[P_DIMS].m.value.ptr, NULL) : 0;
        if (v < 1 || v > 1e6 || v != (double)(long)v)
            return sl_xlat_refuse(refusal, "dimensions", "dimensions must be a positive integer");
    }
    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_key(&w, "requests");
    sl_jw_array(&w);
    struct sl_json_value v = sl_xlat_value(&p[P_INPUT].m);
    if (p[P_INPUT].m.type == SL_JSON_STRING) {
        embed_one(&w, name, v, &p[P_DIMS]);
        *count = 1;
    } else {
        struct sl_json_walk wk;
        struct sl_json_value item;
        sl_json_enter(&wk, &v);
        while (sl_json_next_item(&wk, &item)) {
            if (*item.start != '"')
                return sl_xlat_refuse(refusal, "input",
                                      "token arrays are not supported by gemini: send text");
            embed_one(&w, name, item, &p[P_DIMS]);
            ++*count;
        }
        if (*count == 0)
            return sl_xlat_refuse(refusal, "input", "input must not be empty");
    }
    sl_jw_end(&w);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}

int sl_gemini_embed_response(const char *body, size_t len, const char *model, struct sl_buf *out)
{
    struct sl_json_pick p[1] = {{.key = "embeddings"}};
    if (sl_xlat_pick((struct sl_str){body, len}, p, 1) != 0 || !p[0].found ||
        p[0].m.type != SL_JSON_ARRAY)
        return UV_EINVAL;
    struct sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "object", "list");
    sl_jw_key(&w, "data");
    sl_jw_array(&w);
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl_xlat_value(&p[0].m);
    sl_json_enter(&wk, &arr);
    for (long i = 0; sl_json_next_item(&wk, &item); i++) {
        struct sl_json_pick e[1] = {{.key = "values"}};
        if (sl_xlat_pick(sl_xlat_span(item), e, 1) != 0 || !e[0].found ||
            e[0].m.type != SL_JSON_ARRAY)
            return UV_EINVAL;
        sl_jw_object(&w);
        sl_jw_kv_string(&w, "object", "embedding");
        sl_jw_kv_int(&w, "index", i);
        sl_jw_kv_raw(&w, "embedding", e[0].m.value.ptr, e[0].m.value.len);
        sl_jw_end(&w);
    }
    sl_jw_end(&w);
    sl_jw_kv_string(&w, "model", model);
    sl_jw_key(&w, "usage");
    sl_jw_object(&w);
    sl_jw_kv_int(&w, "prompt_tokens", 0);
    sl_jw_kv_int(&w, "total_tokens", 0);
    sl_jw_end(&w);
    sl_jw_end(&w);
    return sl_jw_finish(&w);
}
