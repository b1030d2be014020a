/* ConverseStream messages -> OpenAI chat.completion.chunk events.
 *
 * Design: the translator is a small state machine (START -> MESSAGE ->
 * STOPPED -> DONE, or FAILED from anywhere) that holds only fixed-size
 * state: the id and model for the chunks' envelope (Converse sends
 * neither: the caller gives them) and the toolUse block open now with its
 * OpenAI tool_calls index (Converse numbers all content blocks, OpenAI
 * numbers tool calls from 0). Text and JSON pieces go from the payload
 * straight into the caller's buffer as raw spans: both APIs carry them as
 * JSON strings, so nothing is decoded.
 *
 * Bedrock ends a stream with messageStop (the stop reason) and then
 * metadata (the usage), so the finish chunk is written at messageStop and
 * the usage chunk and [DONE] at metadata (STOPPED in between). A stream
 * that ends after messageStop without metadata is complete all the same:
 * sl_bedrock_stream_end() writes the end. Text blocks need no
 * contentBlockStart (Bedrock sends none for them): a text delta is relayed
 * whatever block it is in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "http/sse.h"
#include "providers/bedrock_int.h"

void sl_bedrock_stream_init(struct sl_bedrock_stream *s, const char *id, const char *model,
                            long long created, int include_usage)
{
    *s = (struct sl_bedrock_stream){.state = SL_BS_START,
                                    .include_usage = include_usage,
                                    .created = created,
                                    .tool_block = -1,
                                    .err = SL_OK};
    sl_json_escape(s->id, sizeof(s->id), id ? id : "chatcmpl-bedrock");
    sl_json_escape(s->model, sizeof(s->model), model ? model : "");
}

/* The envelope of every chunk: the stream's id, model and time. */
#define ENV(s) (&(struct sl__xlat_chunk){(s)->id, (s)->model, (s)->created})

/* The message broke the protocol: an OpenAI error event, and the end. */
static int broken(struct sl_bedrock_stream *s, struct sl_buf *out, const char *why)
{
    s->state = SL_BS_FAILED;
    s->err = SL_E_BAD_GATEWAY;
    return sl__xlat_broken_event(out, "bedrock", why);
}

/* The usage chunk when asked, then [DONE]. */
static int finish(struct sl_bedrock_stream *s, struct sl_buf *out)
{
    int rc = 0;
    s->usage = sl__bedrock_usage_of(&s->tokens);
    if (s->include_usage)
        rc = sl__xlat_usage_chunk(ENV(s), out, &s->usage);
    s->state = SL_BS_DONE;
    return rc ? rc : sl_sse_append_done(out);
}

static int message_start(struct sl_bedrock_stream *s, struct sl_buf *out)
{
    if (s->state != SL_BS_START)
        return broken(s, out, "a second messageStart");
    s->state = SL_BS_MESSAGE;
    return sl__xlat_role_chunk(ENV(s), out);
}

/* contentBlockStart {contentBlockIndex, start: {toolUse: {toolUseId, name}}} */
static int block_start(struct sl_bedrock_stream *s, const struct sl_json_pick *index,
                       const struct sl_json_pick *start, struct sl_buf *out)
{
    struct sl_json_pick st[1] = {{.key = "toolUse"}};
    struct sl_json_pick u[2] = {{.key = "toolUseId"}, {.key = "name"}};
    if (!index->found || index->m.type != SL_JSON_NUMBER || !start->found ||
        sl_xlat_pick(sl_xlat_raw(&start->m), st, 1) != 0)
        return broken(s, out, "contentBlockStart without a contentBlockIndex and a start");
    if (!st[0].found)
        return 0; /* a start Bedrock may add for other blocks: nothing to relay */
    if (sl_xlat_pick(sl_xlat_raw(&st[0].m), u, 2) != 0 || !u[0].found ||
        u[0].m.type != SL_JSON_STRING || !u[1].found || u[1].m.type != SL_JSON_STRING)
        return broken(s, out, "a toolUse start without a toolUseId and a name");
    s->tool_block = strtol(index->m.value.ptr, NULL, 10);
    s->tool_index = s->tools++;
    return sl__xlat_tool_chunk(ENV(s), out, s->tool_index, sl_xlat_raw(&u[0].m),
                               sl_xlat_raw(&u[1].m), (struct sl_str){"\"\"", 2});
}

/* contentBlockDelta {contentBlockIndex, delta: {text} | {toolUse: {input}}
 * | {reasoningContent} | ...} */
static int block_delta(struct sl_bedrock_stream *s, const struct sl_json_pick *index,
                       const struct sl_json_pick *delta, struct sl_buf *out)
{
    enum { D_TEXT, D_TOOL, D__N };
    struct sl_json_pick d[D__N] = {{.key = "text"}, {.key = "toolUse"}};
    if (!index->found || index->m.type != SL_JSON_NUMBER || !delta->found ||
        sl_xlat_pick(sl_xlat_raw(&delta->m), d, D__N) != 0)
        return broken(s, out, "contentBlockDelta without a contentBlockIndex and a delta");
    long block = strtol(index->m.value.ptr, NULL, 10);
    if (d[D_TEXT].found) {
        if (d[D_TEXT].m.type != SL_JSON_STRING || block == s->tool_block)
            return broken(s, out, "a text delta that is not a string, or in a toolUse block");
        if (d[D_TEXT].m.value.len == 0)
            return 0;
        return sl__xlat_delta_chunk(ENV(s), out, "content", sl_xlat_raw(&d[D_TEXT].m));
    }
    if (d[D_TOOL].found) {
        struct sl_json_pick in[1] = {{.key = "input"}};
        if (block != s->tool_block || sl_xlat_pick(sl_xlat_raw(&d[D_TOOL].m), in, 1) != 0 ||
            !in[0].found || in[0].m.type != SL_JSON_STRING)
            return broken(s, out, "a toolUse delta outside an open toolUse block");
        if (in[0].m.value.len == 0)
            return 0;
        struct sl_str none = {NULL, 0};
        return sl__xlat_tool_chunk(ENV(s), out, s->tool_index, none, none, sl_xlat_raw(&in[0].m));
    }
    return 0; /* reasoningContent, citation: no OpenAI field */
}

static int message_stop(struct sl_bedrock_stream *s, const struct sl_json_pick *stop,
                        struct sl_buf *out)
{
    s->finish_reason = "stop";
    if (stop->found && stop->m.type == SL_JSON_STRING)
        s->finish_reason = sl_bedrock_finish_reason(stop->m.value.ptr, stop->m.value.len);
    s->state = SL_BS_STOPPED;
    int rc = sl__xlat_finish_chunk(ENV(s), out, s->finish_reason);
    if (rc == 0 && s->metadata) /* the usage came first: the stream is over */
        rc = finish(s, out);
    return rc;
}

static int metadata(struct sl_bedrock_stream *s, const struct sl_json_pick *usage,
                    struct sl_buf *out)
{
    if (usage->found)
        sl__bedrock_tokens_read(usage->m.value, &s->tokens);
    s->usage = sl__bedrock_usage_of(&s->tokens);
    s->metadata = 1;
    return s->state == SL_BS_STOPPED ? finish(s, out) : 0;
}

static int exception(struct sl_bedrock_stream *s, struct sl_str type, const char *payload,
                     size_t len, struct sl_buf *out)
{
    struct sl_bedrock_error cls;
    int rc = sl__bedrock_error_event(type, payload, len, out, &cls);
    s->state = SL_BS_FAILED;
    s->err = cls.err;
    return rc;
}

static int translate(struct sl_bedrock_stream *s, struct sl_str message_type, struct sl_str type,
                     const char *payload, size_t len, struct sl_buf *out)
{
    if (sl_str_eq(message_type, "exception") || sl_str_eq(message_type, "error"))
        return exception(s, type, payload, len, out);
    if (!sl_str_eq(message_type, "event"))
        return broken(s, out, "a message that is neither an event nor an exception");
    enum { E_INDEX, E_START, E_DELTA, E_STOP, E_USAGE, E__N };
    struct sl_json_pick p[E__N] = {{.key = "contentBlockIndex"},
                                   {.key = "start"},
                                   {.key = "delta"},
                                   {.key = "stopReason"},
                                   {.key = "usage"}};
    if (sl_xlat_pick((struct sl_str){payload, len}, p, E__N) != 0)
        return broken(s, out, "an event whose payload is not a JSON object");
    if (sl_str_eq(type, "messageStart"))
        return message_start(s, out);
    int known = sl_str_eq(type, "contentBlockStart") || sl_str_eq(type, "contentBlockDelta") ||
                sl_str_eq(type, "contentBlockStop") || sl_str_eq(type, "messageStop") ||
                sl_str_eq(type, "metadata");
    if (!known)
        return 0; /* Bedrock may add event types; they are skipped */
    if (s->state == SL_BS_START)
        return broken(s, out, "an event before messageStart");
    if (sl_str_eq(type, "metadata"))
        return metadata(s, &p[E_USAGE], out);
    if (s->state == SL_BS_STOPPED)
        return broken(s, out, "a content event after messageStop");
    if (sl_str_eq(type, "contentBlockStart"))
        return block_start(s, &p[E_INDEX], &p[E_START], out);
    if (sl_str_eq(type, "contentBlockDelta"))
        return block_delta(s, &p[E_INDEX], &p[E_DELTA], out);
    if (sl_str_eq(type, "contentBlockStop")) {
        if (p[E_INDEX].found && p[E_INDEX].m.type == SL_JSON_NUMBER &&
            strtol(p[E_INDEX].m.value.ptr, NULL, 10) == s->tool_block)
            s->tool_block = -1;
        return 0;
    }
    return message_stop(s, &p[E_STOP], out);
}

int sl_bedrock_stream_event(struct sl_bedrock_stream *s, struct sl_str message_type,
                            struct sl_str type, const char *payload, size_t len, struct sl_buf *out)
{
    if (s->state == SL_BS_DONE || s->state == SL_BS_FAILED)
        return 0;
    size_t before = out->len;
    int rc = translate(s, message_type, type, payload ? payload : "", payload ? len : 0, out);
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM) {
        /* out keeps whole events only; the client's stream cannot go on */
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_BS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}

int sl_bedrock_stream_message(struct sl_bedrock_stream *s, const struct sl_es_message *m,
                              struct sl_buf *out)
{
    struct sl_str type = m->event_type;
    if (sl_str_eq(m->message_type, "exception")) {
        type = m->exception_type;
    } else if (sl_str_eq(m->message_type, "error")) {
        /* the framing's own error: :error-code and :error-message headers */
        struct sl_str msg = {"", 0};
        type = (struct sl_str){"", 0};
        for (size_t i = 0; i < m->n_headers; i++) {
            const struct sl_es_header *h = &m->headers[i];
            if (h->type == SL_ES_STRING && sl_str_eq(h->name, ":error-code"))
                type = h->str;
            else if (h->type == SL_ES_STRING && sl_str_eq(h->name, ":error-message"))
                msg = h->str;
        }
        if (s->state == SL_BS_DONE || s->state == SL_BS_FAILED)
            return 0;
        char text[320], event[1024];
        snprintf(text, sizeof(text), "bedrock's stream failed: %.*s: %.*s",
                 (int)(type.len < 64 ? type.len : 64), type.ptr,
                 (int)(msg.len < 200 ? msg.len : 200), msg.ptr);
        struct sl_bedrock_error cls = sl_bedrock_error_class(type.ptr, type.len, 0);
        size_t n = sl_openai_error_event(event, sizeof(event), cls.type, cls.code, text);
        int rc = sl_buf_append(out, event, n);
        s->state = SL_BS_FAILED;
        s->err = rc ? SL_E_TOO_LARGE : cls.err;
        return rc;
    }
    return sl_bedrock_stream_event(s, m->message_type, type, (const char *)m->payload,
                                   m->payload_len, out);
}

int sl_bedrock_stream_end(struct sl_bedrock_stream *s, struct sl_buf *out)
{
    if (s->state == SL_BS_DONE || s->state == SL_BS_FAILED)
        return 0;
    if (s->state != SL_BS_STOPPED)
        return UV_EOF;
    size_t before = out->len;
    int rc = finish(s, out); /* messageStop but no metadata: the usage is unknown */
    if (rc) {
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_BS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}
