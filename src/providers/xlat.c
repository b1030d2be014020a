/* What the provider adapters write the same way (providers/xlat_json.h). */
#include <string.h>

#include "providers/xlat_json.h"

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

void sl__xlat_chunk_open(struct sl_jw *w, struct sl_buf *out, const char *id, const char *model,
                         long long created)
{
    sl_jw_init(w, out);
    w->err = sl_buf_append(out, "data: ", 6);
    sl_jw_object(w);
    sl_jw_key(w, "id");
    sl_jw_string_open(w);
    sl_jw_string_piece(w, id, strlen(id));
    sl_jw_string_close(w);
    sl_jw_kv_string(w, "object", "chat.completion.chunk");
    sl_jw_kv_int(w, "created", created);
    sl_jw_key(w, "model");
    sl_jw_string_open(w);
    sl_jw_string_piece(w, model, strlen(model));
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
