/* Anthropic SSE events -> OpenAI chat.completion.chunk events.
 *
 * Design: the translator is a small state machine (START -> MESSAGE ->
 * DONE, or FAILED from anywhere) that holds only fixed-size state: the
 * message id and model for the chunks' envelope, the content block open
 * now and, for a tool_use block, its OpenAI tool_calls index (Anthropic
 * numbers all blocks, OpenAI numbers tool calls from 0). Text and JSON
 * pieces go from the event's data straight into the caller's buffer as
 * raw spans: both APIs carry them as JSON strings, so nothing is decoded.
 * Anthropic sends one block at a time (start, deltas, stop), so one open
 * block is all the state a delta needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "http/sse.h"
#include "providers/anthropic_int.h"

void sl_anthropic_stream_init(struct sl_anthropic_stream *s, const char *model, long long created,
                              int include_usage)
{
    *s = (struct sl_anthropic_stream){.state = SL_AS_START,
                                      .include_usage = include_usage,
                                      .created = created,
                                      .block = -1,
                                      .block_kind = SL_AS_BLOCK_NONE,
                                      .err = SL_OK};
    if (model)
        sl_json_escape(s->model, sizeof(s->model), model);
}

/* Copies an escaped string's inside when it fits whole (a cut could split
 * an escape); else leaves dst as it is. */
static void keep_escaped(char *dst, size_t size, const struct sl_json_pick *p)
{
    if (p->found && p->m.type == SL_JSON_STRING && p->m.value.len < size) {
        memcpy(dst, p->m.value.ptr, p->m.value.len);
        dst[p->m.value.len] = '\0';
    }
}

/* The envelope of every chunk: the stream's id, model and time. */
#define ENV(s) (&(struct sl__xlat_chunk){(s)->id, (s)->model, (s)->created})

/* The event broke the protocol: an OpenAI error event, and the end. */
static int broken(struct sl_anthropic_stream *s, struct sl_buf *out, const char *why)
{
    s->state = SL_AS_FAILED;
    s->err = SL_E_BAD_GATEWAY;
    return sl__xlat_broken_event(out, "anthropic", why);
}

static int message_start(struct sl_anthropic_stream *s, const struct sl_json_pick *message,
                         struct sl_buf *out)
{
    struct sl_json_pick m[3] = {{.key = "id"}, {.key = "model"}, {.key = "usage"}};
    if (!message->found || sl__anth_pick(sl__anth_raw(&message->m), m, 3) != 0)
        return broken(s, out, "message_start without a message");
    keep_escaped(s->id, sizeof(s->id), &m[0]);
    if (s->model[0] == '\0')
        keep_escaped(s->model, sizeof(s->model), &m[1]);
    if (m[2].found)
        sl__anth_tokens_read(m[2].m.value, &s->tokens);
    s->state = SL_AS_MESSAGE;
    return sl__xlat_role_chunk(ENV(s), out);
}

static int block_start(struct sl_anthropic_stream *s, const struct sl_json_pick *index,
                       const struct sl_json_pick *block, struct sl_buf *out)
{
    enum { B_TYPE, B_TEXT, B_ID, B_NAME, B__N };
    struct sl_json_pick b[B__N] = {
        {.key = "type"}, {.key = "text"}, {.key = "id"}, {.key = "name"}};
    if (!index->found || index->m.type != SL_JSON_NUMBER || !block->found ||
        sl__anth_pick(sl__anth_raw(&block->m), b, B__N) != 0)
        return broken(s, out, "content_block_start without an index and a block");
    s->block = strtol(index->m.value.ptr, NULL, 10);
    if (sl__anth_is(&b[B_TYPE], "text")) {
        s->block_kind = SL_AS_BLOCK_TEXT;
        if (b[B_TEXT].found && b[B_TEXT].m.type == SL_JSON_STRING && b[B_TEXT].m.value.len > 0)
            return sl__xlat_delta_chunk(ENV(s), out, "content", sl__anth_raw(&b[B_TEXT].m));
        return 0;
    }
    if (sl__anth_is(&b[B_TYPE], "tool_use")) {
        if (!b[B_ID].found || b[B_ID].m.type != SL_JSON_STRING || !b[B_NAME].found ||
            b[B_NAME].m.type != SL_JSON_STRING)
            return broken(s, out, "a tool_use block without an id and a name");
        s->block_kind = SL_AS_BLOCK_TOOL;
        s->tool_index = s->tools++;
        return sl__xlat_tool_chunk(ENV(s), out, s->tool_index, sl__anth_raw(&b[B_ID].m),
                                   sl__anth_raw(&b[B_NAME].m), (struct sl_str){"\"\"", 2});
    }
    s->block_kind = SL_AS_BLOCK_OTHER; /* thinking and the like: not relayed */
    return 0;
}

static int block_delta(struct sl_anthropic_stream *s, const struct sl_json_pick *index,
                       const struct sl_json_pick *delta, struct sl_buf *out)
{
    enum { D_TYPE, D_TEXT, D_JSON, D__N };
    struct sl_json_pick d[D__N] = {{.key = "type"}, {.key = "text"}, {.key = "partial_json"}};
    if (!index->found || index->m.type != SL_JSON_NUMBER || !delta->found ||
        sl__anth_pick(sl__anth_raw(&delta->m), d, D__N) != 0)
        return broken(s, out, "content_block_delta without an index and a delta");
    if (strtol(index->m.value.ptr, NULL, 10) != s->block || s->block_kind == SL_AS_BLOCK_NONE)
        return broken(s, out, "a delta for a content block that is not open");
    if (sl__anth_is(&d[D_TYPE], "text_delta")) {
        if (s->block_kind != SL_AS_BLOCK_TEXT || !d[D_TEXT].found ||
            d[D_TEXT].m.type != SL_JSON_STRING)
            return broken(s, out, "a text_delta outside a text block");
        if (d[D_TEXT].m.value.len == 0)
            return 0;
        return sl__xlat_delta_chunk(ENV(s), out, "content", sl__anth_raw(&d[D_TEXT].m));
    }
    if (sl__anth_is(&d[D_TYPE], "input_json_delta")) {
        if (s->block_kind != SL_AS_BLOCK_TOOL || !d[D_JSON].found ||
            d[D_JSON].m.type != SL_JSON_STRING)
            return broken(s, out, "an input_json_delta outside a tool_use block");
        if (d[D_JSON].m.value.len == 0)
            return 0;
        struct sl_str none = {NULL, 0};
        return sl__xlat_tool_chunk(ENV(s), out, s->tool_index, none, none,
                                   sl__anth_raw(&d[D_JSON].m));
    }
    return 0; /* thinking_delta, signature_delta, citations_delta */
}

static int message_delta(struct sl_anthropic_stream *s, const struct sl_json_pick *delta,
                         const struct sl_json_pick *usage, struct sl_buf *out)
{
    struct sl_json_pick d[1] = {{.key = "stop_reason"}};
    if (usage->found)
        sl__anth_tokens_read(usage->m.value, &s->tokens);
    s->usage = sl__anth_usage_of(&s->tokens);
    if (s->finish_reason) /* one finish chunk, even if Anthropic repeats itself */
        return 0;
    s->finish_reason = "stop";
    if (delta->found && sl__anth_pick(sl__anth_raw(&delta->m), d, 1) == 0 && d[0].found &&
        d[0].m.type == SL_JSON_STRING)
        s->finish_reason = sl_anthropic_finish_reason(d[0].m.value.ptr, d[0].m.value.len);
    return sl__xlat_finish_chunk(ENV(s), out, s->finish_reason);
}

static int message_stop(struct sl_anthropic_stream *s, struct sl_buf *out)
{
    int rc = 0;
    if (s->finish_reason == NULL) { /* no message_delta: end the choice anyway */
        s->finish_reason = "stop";
        rc = sl__xlat_finish_chunk(ENV(s), out, s->finish_reason);
    }
    s->usage = sl__anth_usage_of(&s->tokens);
    if (rc == 0 && s->include_usage)
        rc = sl__xlat_usage_chunk(ENV(s), out, &s->usage);
    s->state = SL_AS_DONE;
    return rc ? rc : sl_sse_append_done(out);
}

static int translate(struct sl_anthropic_stream *s, const char *event, size_t event_len,
                     const char *data, size_t data_len, struct sl_buf *out)
{
    enum { E_TYPE, E_INDEX, E_BLOCK, E_DELTA, E_MESSAGE, E_USAGE, E__N };
    struct sl_json_pick p[E__N] = {{.key = "type"},  {.key = "index"},   {.key = "content_block"},
                                   {.key = "delta"}, {.key = "message"}, {.key = "usage"}};
    struct sl_str name = {event ? event : "", event ? event_len : 0};
    if (sl__anth_pick((struct sl_str){data, data_len}, p, E__N) != 0) {
        if (sl_str_eq(name, "ping")) /* nothing in it is read */
            return 0;
        return broken(s, out, "an event whose data is not a JSON object");
    }
    struct sl_str type =
        p[E_TYPE].found && p[E_TYPE].m.type == SL_JSON_STRING ? p[E_TYPE].m.value : name;
    if (sl_str_eq(type, "ping"))
        return 0;
    if (sl_str_eq(type, "error")) {
        struct sl_anthropic_error cls;
        int rc = sl_anthropic_error_event(data, data_len, out, &cls);
        s->state = SL_AS_FAILED;
        s->err = cls.err;
        return rc;
    }
    if (sl_str_eq(type, "message_start")) {
        if (s->state != SL_AS_START)
            return broken(s, out, "a second message_start");
        return message_start(s, &p[E_MESSAGE], out);
    }
    int known = sl_str_eq(type, "content_block_start") || sl_str_eq(type, "content_block_delta") ||
                sl_str_eq(type, "content_block_stop") || sl_str_eq(type, "message_delta") ||
                sl_str_eq(type, "message_stop");
    if (!known)
        return 0; /* Anthropic may add event types; they are skipped */
    if (s->state != SL_AS_MESSAGE)
        return broken(s, out, "an event before message_start");
    if (sl_str_eq(type, "content_block_start"))
        return block_start(s, &p[E_INDEX], &p[E_BLOCK], out);
    if (sl_str_eq(type, "content_block_delta"))
        return block_delta(s, &p[E_INDEX], &p[E_DELTA], out);
    if (sl_str_eq(type, "content_block_stop")) {
        s->block = -1;
        s->block_kind = SL_AS_BLOCK_NONE;
        return 0;
    }
    if (sl_str_eq(type, "message_delta"))
        return message_delta(s, &p[E_DELTA], &p[E_USAGE], out);
    return message_stop(s, out);
}

int sl_anthropic_stream_event(struct sl_anthropic_stream *s, const char *event, size_t event_len,
                              const char *data, size_t data_len, struct sl_buf *out)
{
    if (s->state == SL_AS_DONE || s->state == SL_AS_FAILED)
        return 0;
    size_t before = out->len;
    int rc = translate(s, event, event_len, data, data_len, out);
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM) {
        /* out keeps whole events only; the client's stream cannot go on */
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_AS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}

int sl_anthropic_stream_end(const struct sl_anthropic_stream *s)
{
    return s->state == SL_AS_DONE || s->state == SL_AS_FAILED ? 0 : UV_EOF;
}
