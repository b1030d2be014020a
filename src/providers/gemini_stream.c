/* Gemini SSE events -> OpenAI chat.completion.chunk events.
 *
 * Design: each event of :streamGenerateContent?alt=sse is a whole
 * GenerateContentResponse holding the next piece of the first candidate:
 * text parts, whole functionCall parts, and at the end a finishReason; the
 * usageMetadata grows as it goes. So the translator is a small state
 * machine (START -> MESSAGE -> FINISHED -> DONE, or FAILED from anywhere)
 * with fixed-size state: the id and model for the chunks' envelope, the
 * number of tool calls so far (OpenAI indexes them) and the latest counts.
 * Text goes from the event's data straight into the caller's buffer as
 * raw spans; a call's args object is escaped into its arguments string.
 * Gemini has no end marker, so [DONE] and the usage chunk wait for
 * sl_gemini_stream_end(): a body that ends without a finishReason was cut. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "http/sse.h"
#include "providers/gemini_int.h"

void sl_gemini_stream_init(struct sl_gemini_stream *s, const char *model, long long created,
                           int include_usage)
{
    *s = (struct sl_gemini_stream){
        .state = SL_GS_START, .include_usage = include_usage, .created = created, .err = SL_OK};
    if (model)
        sl_json_escape(s->model, sizeof(s->model), model);
}

static void open_chunk(const struct sl_gemini_stream *s, struct sl_jw *w, struct sl_buf *out)
{
    struct sl__xlat_chunk c = {s->id, s->model, s->created};
    sl__xlat_chunk_open(&c, w, out);
    sl__xlat_delta_open(w);
}

static int close_chunk(struct sl_jw *w, const char *finish_reason)
{
    sl__xlat_delta_close(w, finish_reason);
    return sl__xlat_chunk_close(w, NULL);
}

/* The event broke the protocol: an OpenAI error event, and the end. */
static int broken(struct sl_gemini_stream *s, struct sl_buf *out, const char *why)
{
    s->state = SL_GS_FAILED;
    s->err = SL_E_BAD_GATEWAY;
    return sl__xlat_broken_event(out, "gemini", why);
}

/* The first event: the envelope's id and model, and the role chunk. */
static int start(struct sl_gemini_stream *s, const struct sl_json_pick *id,
                 const struct sl_json_pick *model, const char *data, size_t len, struct sl_buf *out)
{
    int has_id = id->found && id->m.type == SL_JSON_STRING && id->m.value.len > 0;
    s->call_hash =
        has_id ? sl__gemini_hash(id->m.value.ptr, id->m.value.len) : sl__gemini_hash(data, len);
    snprintf(s->id, sizeof(s->id), "chatcmpl-%016llx", s->call_hash);
    if (has_id)
        sl__xlat_keep_escaped(s->id, sizeof(s->id), id);
    if (s->model[0] == '\0')
        sl__xlat_keep_escaped(s->model, sizeof(s->model), model);
    s->state = SL_GS_MESSAGE;
    struct sl_jw w;
    open_chunk(s, &w, out);
    sl_jw_kv_string(&w, "role", "assistant");
    sl_jw_kv_string(&w, "content", "");
    return close_chunk(&w, NULL);
}

/* The first candidate's parts: a content delta per text, a tool_calls
 * delta per functionCall. */
static int relay_parts(struct sl_gemini_stream *s, struct sl_str arr_text, struct sl_buf *out)
{
    struct sl_json_walk wk;
    struct sl_json_value item, arr = {arr_text.ptr, arr_text.ptr + arr_text.len};
    sl_json_enter(&wk, &arr);
    while (sl_json_next_item(&wk, &item)) {
        enum { P_TEXT, P_THOUGHT, P_CALL, P_SIGNATURE, P__N };
        struct sl_json_pick p[P__N] = {{.key = "text"},
                                       {.key = "thought"},
                                       {.key = "functionCall"},
                                       {.key = "thoughtSignature"}};
        if (sl_xlat_pick(sl_xlat_span(item), p, P__N) != 0)
            return broken(s, out, "a part that is not an object");
        struct sl_jw w;
        int rc = 0;
        if (p[P_TEXT].found && p[P_TEXT].m.type == SL_JSON_STRING && p[P_TEXT].m.value.len > 0 &&
            !(p[P_THOUGHT].found && p[P_THOUGHT].m.type == SL_JSON_TRUE)) {
            open_chunk(s, &w, out);
            struct sl_str raw = sl_xlat_raw(&p[P_TEXT].m);
            sl_jw_kv_raw(&w, "content", raw.ptr, raw.len);
            rc = close_chunk(&w, NULL);
        } else if (p[P_CALL].found && p[P_CALL].m.type == SL_JSON_OBJECT) {
            size_t at = out->len;
            open_chunk(s, &w, out);
            sl_jw_key(&w, "tool_calls");
            sl_jw_array(&w);
            if (sl__gemini_tool_call(&w, p[P_CALL].m.value, sl__gemini_signature(&p[P_SIGNATURE]),
                                     s->call_hash, s->tools, 1) != 0) {
                out->len = at; /* the chunk begun is taken back */
                if (out->ptr)
                    out->ptr[at] = '\0';
                return broken(s, out, "a functionCall without a name");
            }
            s->tools++;
            sl_jw_end(&w);
            rc = close_chunk(&w, NULL);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int finish(struct sl_gemini_stream *s, const char *reason, struct sl_buf *out)
{
    s->finish_reason = s->tools ? "tool_calls" : reason;
    s->state = SL_GS_FINISHED;
    struct sl_jw w;
    open_chunk(s, &w, out);
    return close_chunk(&w, s->finish_reason);
}

static int translate(struct sl_gemini_stream *s, const char *data, size_t len, struct sl_buf *out)
{
    enum { E_CANDIDATES, E_USAGE, E_MODEL, E_ID, E_FEEDBACK, E_ERROR, E__N };
    struct sl_json_pick p[E__N] = {{.key = "candidates"},     {.key = "usageMetadata"},
                                   {.key = "modelVersion"},   {.key = "responseId"},
                                   {.key = "promptFeedback"}, {.key = "error"}};
    if (sl_xlat_pick((struct sl_str){data, len}, p, E__N) != 0)
        return broken(s, out, "an event whose data is not a JSON object");
    if (p[E_ERROR].found) {
        struct sl_gemini_error cls;
        int rc = sl_gemini_error_event(data, len, out, &cls);
        s->state = SL_GS_FAILED;
        s->err = cls.err;
        return rc;
    }
    if (p[E_USAGE].found) {
        sl__gemini_tokens_read(p[E_USAGE].m.value, &s->tokens);
        s->usage = sl__gemini_usage_of(&s->tokens);
    }
    if (s->state == SL_GS_FINISHED)
        return 0; /* a late usageMetadata is all that is read */
    if (p[E_CANDIDATES].found && p[E_CANDIDATES].m.type != SL_JSON_ARRAY)
        return broken(s, out, "candidates that are not an array");
    int rc;
    if (s->state == SL_GS_START && (rc = start(s, &p[E_ID], &p[E_MODEL], data, len, out)) != 0)
        return rc;
    if (!p[E_CANDIDATES].found || p[E_CANDIDATES].m.items == 0) {
        struct sl_json_pick f[1] = {{.key = "blockReason"}};
        if (p[E_FEEDBACK].found && sl_xlat_pick(p[E_FEEDBACK].m.value, f, 1) == 0 && f[0].found)
            return finish(s, "content_filter", out); /* the prompt was blocked */
        return 0;
    }
    enum { C_CONTENT, C_FINISH, C__N };
    struct sl_json_pick c[C__N] = {{.key = "content"}, {.key = "finishReason"}};
    struct sl_json_pick ct[1] = {{.key = "parts"}};
    struct sl_json_walk wk;
    struct sl_json_value first, arr = sl_xlat_value(&p[E_CANDIDATES].m);
    sl_json_enter(&wk, &arr);
    if (!sl_json_next_item(&wk, &first) || sl_xlat_pick(sl_xlat_span(first), c, C__N) != 0)
        return broken(s, out, "a candidate that is not an object");
    if (c[C_CONTENT].found && sl_xlat_pick(c[C_CONTENT].m.value, ct, 1) == 0 && ct[0].found &&
        ct[0].m.type == SL_JSON_ARRAY && (rc = relay_parts(s, ct[0].m.value, out)) != 0)
        return rc;
    if (c[C_FINISH].found && c[C_FINISH].m.type == SL_JSON_STRING)
        return finish(s, sl_gemini_finish_reason(c[C_FINISH].m.value.ptr, c[C_FINISH].m.value.len),
                      out);
    return 0;
}

/* out keeps whole events only: a translation that did not fit is undone. */
static int undo_if_full(struct sl_gemini_stream *s, struct sl_buf *out, size_t before, int rc)
{
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM) {
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_GS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}

int sl_gemini_stream_event(struct sl_gemini_stream *s, const char *data, size_t data_len,
                           struct sl_buf *out)
{
    if (s->state == SL_GS_DONE || s->state == SL_GS_FAILED)
        return 0;
    size_t before = out->len;
    return undo_if_full(s, out, before, translate(s, data, data_len, out));
}

int sl_gemini_stream_end(struct sl_gemini_stream *s, struct sl_buf *out)
{
    if (s->state == SL_GS_DONE || s->state == SL_GS_FAILED)
        return 0;
    if (s->state != SL_GS_FINISHED)
        return UV_EOF;
    size_t before = out->len;
    int rc = 0;
    s->usage = sl__gemini_usage_of(&s->tokens);
    if (s->include_usage) {
        struct sl__xlat_chunk c = {s->id, s->model, s->created};
        rc = sl__xlat_usage_chunk(&c, out, &s->usage);
    }
    if (rc == 0)
        rc = sl_sse_append_done(out);
    if (rc == 0)
        s->state = SL_GS_DONE;
    return undo_if_full(s, out, before, rc);
}
