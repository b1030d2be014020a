/* OpenAI chat.completion.chunk events -> Anthropic SSE events, and a
 * scanner of Anthropic events for the native pass-through.
 *
 * Design: the translator is a state machine (START -> MESSAGE ->
 * FINISHING -> DONE, or FAILED from anywhere) holding fixed-size state
 * only: the message id and model for message_start, the content block open
 * now (its kind, and for a tool_use block the OpenAI tool_calls index it
 * belongs to), the stop_reason and the usage. Anthropic's blocks are
 * sequential and numbered from 0; OpenAI's deltas carry text and tool call
 * pieces by tool index. So a text piece opens a text block unless one is
 * open, a new tool index opens a tool_use block, and opening a block closes
 * the one before. OpenAI says finish_reason in one chunk and the usage in a
 * later one (include_usage), so message_delta (which carries both) waits
 * for the usage chunk or [DONE]. Pieces go from the chunk into out as
 * escaped spans: both APIs carry them as JSON strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "providers/anthropic_int.h"
#include "providers/messages_front.h"

void sl_messages_stream_init(struct sl_messages_stream *s, const char *id, const char *model)
{
    *s = (struct sl_messages_stream){.state = SL_MS_START,
                                     .block_kind = SL_MS_BLOCK_NONE,
                                     .tool = -1,
                                     .last_tool = -1,
                                     .err = SL_OK};
    if (id)
        sl_json_escape(s->id, sizeof(s->id), id);
    if (model)
        sl_json_escape(s->model, sizeof(s->model), model);
}

/* "event: NAME\ndata: {"type":"NAME"" */
static void event_open(struct sl_jw *w, struct sl_buf *out, const char *name)
{
    char head[64];
    int n = snprintf(head, sizeof(head), "event: %s\ndata: ", name);
    sl_jw_init(w, out);
    w->err = sl_buf_append(out, head, (size_t)n);
    sl_jw_object(w);
    sl_jw_kv_string(w, "type", name);
}

/* "}\n\n" */
static int event_close(struct sl_jw *w)
{
    sl_jw_end(w);
    int rc = sl_jw_finish(w);
    return rc ? rc : sl_buf_append(w->out, "\n\n", 2);
}

static int message_start(struct sl_messages_stream *s, struct sl_buf *out)
{
    struct sl_jw w;
    event_open(&w, out, "message_start");
    sl_jw_key(&w, "message");
    sl_jw_object(&w);
    sl_jw_key(&w, "id");
    sl_jw_string_open(&w);
    sl_jw_string_piece(&w, s->id, strlen(s->id));
    sl_jw_string_close(&w);
    sl_jw_kv_string(&w, "type", "message");
    sl_jw_kv_string(&w, "role", "assistant");
    sl_jw_key(&w, "model");
    sl_jw_string_open(&w);
    sl_jw_string_piece(&w, s->model, strlen(s->model));
    sl_jw_string_close(&w);
    sl_jw_kv_raw(&w, "content", "[]", 2);
    sl_jw_kv_raw(&w, "stop_reason", "null", 4);
    sl_jw_kv_raw(&w, "stop_sequence", "null", 4);
    sl_jw_key(&w, "usage");
    sl__msg_usage_write(&w, &s->usage);
    sl_jw_end(&w);
    s->state = SL_MS_MESSAGE;
    return event_close(&w);
}

static int block_stop(struct sl_messages_stream *s, struct sl_buf *out)
{
    if (s->block_kind == SL_MS_BLOCK_NONE)
        return 0;
    struct sl_jw w;
    event_open(&w, out, "content_block_stop");
    sl_jw_kv_int(&w, "index", s->blocks - 1);
    s->block_kind = SL_MS_BLOCK_NONE;
    return event_close(&w);
}

/* content_block_start of a text block, or of a tool_use block (id, name). */
static int block_start(struct sl_messages_stream *s, struct sl_buf *out, struct sl_str id,
                       struct sl_str name)
{
    int rc = block_stop(s, out);
    if (rc)
        return rc;
    struct sl_jw w;
    event_open(&w, out, "content_block_start");
    sl_jw_kv_int(&w, "index", s->blocks++);
    sl_jw_key(&w, "content_block");
    sl_jw_object(&w);
    if (name.ptr) {
        sl_jw_kv_string(&w, "type", "tool_use");
        sl_jw_kv_raw(&w, "id", id.ptr, id.len);
        sl_jw_kv_raw(&w, "name", name.ptr, name.len);
        sl_jw_kv_raw(&w, "input", "{}", 2);
        s->block_kind = SL_MS_BLOCK_TOOL;
    } else {
        sl_jw_kv_string(&w, "type", "text");
        sl_jw_kv_string(&w, "text", "");
        s->block_kind = SL_MS_BLOCK_TEXT;
    }
    sl_jw_end(&w);
    return event_close(&w);
}

/* content_block_delta: text_delta {text} or input_json_delta {partial_json}. */
static int block_delta(struct sl_messages_stream *s, struct sl_buf *out, const char *type,
                       const char *key, struct sl_str raw)
{
    struct sl_jw w;
    event_open(&w, out, "content_block_delta");
    sl_jw_kv_int(&w, "index", s->blocks - 1);
    sl_jw_key(&w, "delta");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "type", type);
    sl_jw_kv_raw(&w, key, raw.ptr, raw.len);
    sl_jw_end(&w);
    return event_close(&w);
}

/* The data broke the protocol: an Anthropic error event, and the end. */
static int broken(struct sl_messages_stream *s, struct sl_buf *out, const char *why)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "the upstream stream broke off: %s", why);
    s->state = SL_MS_FAILED;
    s->err = SL_E_BAD_GATEWAY;
    int rc = sl_messages_error_event(502, msg, out);
    return rc ? rc : UV_EPROTO;
}

/* message_delta {stop_reason, stop_sequence} with the usage, then
 * message_stop. The open block is closed first. */
static int message_end(struct sl_messages_stream *s, struct sl_buf *out)
{
    int rc = s->state == SL_MS_START ? message_start(s, out) : 0;
    if (rc == 0)
        rc = block_stop(s, out);
    if (rc)
        return rc;
    struct sl_jw w;
    event_open(&w, out, "message_delta");
    sl_jw_key(&w, "delta");
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "stop_reason", s->stop_reason ? s->stop_reason : "end_turn");
    sl_jw_key(&w, "stop_sequence");
    if (s->stop_seq[0]) {
        sl_jw_string_open(&w);
        sl_jw_string_piece(&w, s->stop_seq, strlen(s->stop_seq));
        sl_jw_string_close(&w);
    } else {
        sl_jw_null(&w);
    }
    sl_jw_end(&w);
    sl_jw_key(&w, "usage");
    if (s->have_usage) {
        sl__msg_usage_write(&w, &s->usage);
    } else {
        sl_jw_object(&w);
        sl_jw_kv_int(&w, "output_tokens", 0);
        sl_jw_end(&w);
    }
    if ((rc = event_close(&w)) != 0)
        return rc;
    event_open(&w, out, "message_stop");
    s->state = SL_MS_DONE;
    return event_close(&w);
}

/* Copies an escaped string's inside when it fits whole after `prefix` (a
 * cut could split an escape); else leaves dst as it is. */
static void keep_escaped(char *dst, size_t size, const char *prefix, const struct sl_json_pick *p)
{
    size_t n = strlen(prefix);
    if (p->found && p->m.type == SL_JSON_STRING && n + p->m.value.len < size) {
        memcpy(dst, prefix, n);
        memcpy(dst + n, p->m.value.ptr, p->m.value.len);
        dst[n + p->m.value.len] = '\0';
    }
}

/* One delta.tool_calls[] item {index, id, function: {name, arguments}}. */
static int tool_delta(struct sl_messages_stream *s, struct sl_json_value item, struct sl_buf *out)
{
    struct sl_json_pick t[3] = {{.key = "index"}, {.key = "id"}, {.key = "function"}};
    struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
    if (sl__anth_pick((struct sl_str){item.start, (size_t)(item.end - item.start)}, t, 3) != 0 ||
        (t[2].found && t[2].m.type != SL_JSON_NULL &&
         sl__anth_pick(sl__anth_raw(&t[2].m), f, 2) != 0))
        return broken(s, out, "a tool call delta that is not an object");
    long index = s->tool < 0 ? 0 : s->tool; /* no index: the call going on */
    if (t[0].found && t[0].m.type == SL_JSON_NUMBER)
        index = strtol(t[0].m.value.ptr, NULL, 10);
    /* a server that numbers every call 0 (or none) still gives each its id */
    const struct sl_json_member *idm = &t[1].m;
    int has_id = t[1].found && idm->type == SL_JSON_STRING;
    int other_id = has_id && s->block_kind == SL_MS_BLOCK_TOOL && s->tool_id[0] &&
                   !sl_str_eq(idm->value, s->tool_id);
    int rc;
    if (s->block_kind != SL_MS_BLOCK_TOOL || index != s->tool || other_id) {
        if (index < s->last_tool || (index == s->last_tool && !other_id))
            return broken(s, out, "a tool call delta for a call already ended");
        if (!f[0].found || f[0].m.type != SL_JSON_STRING)
            return broken(s, out, "a tool call without a name");
        char made[48];
        struct sl_str id = sl__anth_raw(idm);
        if (!has_id) { /* Anthropic requires one */
            int n = snprintf(made, sizeof(made), "\"toolu_%ld\"", index);
            id = (struct sl_str){made, (size_t)n};
        }
        if ((rc = block_start(s, out, id, sl__anth_raw(&f[0].m))) != 0)
            return rc;
        s->tool = s->last_tool = index;
        s->tool_id[0] = '\0';
        keep_escaped(s->tool_id, sizeof(s->tool_id), "", &t[1]);
    }
    if (f[1].found && f[1].m.type == SL_JSON_STRING && f[1].m.value.len > 0)
        return block_delta(s, out, "input_json_delta", "partial_json", sl__anth_raw(&f[1].m));
    return 0;
}

/* The first choice's delta and finish_reason. */
static int choice(struct sl_messages_stream *s, struct sl_json_value ch, struct sl_buf *out)
{
    enum { C_DELTA, C_FINISH, C_STOP, C__N };
    struct sl_json_pick c[C__N] = {
        {.key = "delta"}, {.key = "finish_reason"}, {.key = "stop_reason"}};
    struct sl_json_pick d[3] = {{.key = "content"}, {.key = "refusal"}, {.key = "tool_calls"}};
    if (sl__anth_pick((struct sl_str){ch.start, (size_t)(ch.end - ch.start)}, c, C__N) != 0)
        return broken(s, out, "a choice that is not an object");
    int rc = 0;
    if (s->state == SL_MS_MESSAGE && c[C_DELTA].found &&
        sl__anth_pick(sl__anth_raw(&c[C_DELTA].m), d, 3) == 0) {
        /* the content, and the model's refusal (OpenAI streams it apart) as text */
        for (int i = 0; i < 2; i++) {
            if (!d[i].found || d[i].m.type != SL_JSON_STRING || d[i].m.value.len == 0)
                continue;
            struct sl_str none = {NULL, 0};
            if (s->block_kind != SL_MS_BLOCK_TEXT && (rc = block_start(s, out, none, none)))
                return rc;
            if ((rc = block_delta(s, out, "text_delta", "text", sl__anth_raw(&d[i].m))))
                return rc;
        }
        if (d[2].found && d[2].m.type == SL_JSON_ARRAY) {
            struct sl_json_walk wk;
            struct sl_json_value item, arr = sl__anth_value(&d[2].m);
            sl_json_enter(&wk, &arr);
            while (rc == 0 && sl_json_next_item(&wk, &item))
                rc = tool_delta(s, item, out);
            if (rc)
                return rc;
        }
    }
    const struct sl_json_member *f = &c[C_FINISH].m;
    if (s->state == SL_MS_MESSAGE && c[C_FINISH].found && f->type == SL_JSON_STRING) {
        s->stop_reason = sl_anthropic_stop_reason(f->value.ptr, f->value.len);
        if (sl_str_eq(f->value, "stop") && c[C_STOP].found && c[C_STOP].m.type == SL_JSON_STRING) {
            /* vLLM names the stop string that ended the text */
            keep_escaped(s->stop_seq, sizeof(s->stop_seq), "", &c[C_STOP]);
            if (s->stop_seq[0])
                s->stop_reason = "stop_sequence";
        }
        s->state = SL_MS_FINISHING;
        rc = block_stop(s, out);
    }
    return rc;
}

static int translate(struct sl_messages_stream *s, const char *data, size_t len, struct sl_buf *out)
{
    if (sl_openai_is_done(data, len))
        return message_end(s, out);
    enum { K_ID, K_MODEL, K_CHOICES, K_USAGE, K_ERROR, K__N };
    struct sl_json_pick p[K__N] = {
        {.key = "id"}, {.key = "model"}, {.key = "choices"}, {.key = "usage"}, {.key = "error"}};
    if (sl__anth_pick((struct sl_str){data, len}, p, K__N) != 0)
        return broken(s, out, "an event whose data is not a JSON object");
    if (p[K_ERROR].found && p[K_ERROR].m.type != SL_JSON_NULL) {
        struct sl_jw w;
        struct sl_messages_error cls;
        sl_jw_init(&w, out);
        w.err = sl_buf_append(out, "event: error\ndata: ", 19);
        sl__msg_error_write(&w, 0, data, len, &cls);
        int rc = sl_jw_finish(&w);
        s->state = SL_MS_FAILED;
        s->err = sl_anthropic_error_class(cls.type, strlen(cls.type), cls.status).err;
        return rc ? rc : sl_buf_append(out, "\n\n", 2);
    }
    int rc = 0;
    if (p[K_USAGE].found && p[K_USAGE].m.type == SL_JSON_OBJECT) {
        sl__msg_usage_read(p[K_USAGE].m.value, &s->usage);
        s->have_usage = 1;
    }
    if (s->state == SL_MS_START) {
        if (s->id[0] == '\0')
            keep_escaped(s->id, sizeof(s->id), "msg_", &p[K_ID]);
        if (s->id[0] == '\0') /* as sl_messages_response names a completion without id */
            memcpy(s->id, "msg_", 5);
        if (s->model[0] == '\0')
            keep_escaped(s->model, sizeof(s->model), "", &p[K_MODEL]);
        if ((rc = message_start(s, out)) != 0)
            return rc;
    }
    if (p[K_CHOICES].found && p[K_CHOICES].m.type == SL_JSON_ARRAY) {
        struct sl_json_walk wk;
        struct sl_json_value ch, arr = sl__anth_value(&p[K_CHOICES].m);
        sl_json_enter(&wk, &arr);
        if (sl_json_next_item(&wk, &ch) && (rc = choice(s, ch, out)) != 0)
            return rc;
    }
    if (s->state == SL_MS_FINISHING && s->have_usage)
        return message_end(s, out);
    return 0;
}

int sl_messages_stream_event(struct sl_messages_stream *s, const char *data, size_t len,
                             struct sl_buf *out)
{
    if (s->state == SL_MS_DONE || s->state == SL_MS_FAILED)
        return 0;
    size_t before = out->len;
    int rc = translate(s, data, len, out);
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM) {
        /* out keeps whole events only; the client's stream cannot go on */
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_MS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}

int sl_messages_stream_end(const struct sl_messages_stream *s)
{
    return s->state == SL_MS_DONE || s->state == SL_MS_FAILED ? 0 : UV_EOF;
}

/* ---- native pass-through: Anthropic events, read only ---- */

void sl_anthropic_scan_init(struct sl_anthropic_scan *s)
{
    *s = (struct sl_anthropic_scan){.state = SL_ASCAN_RUNNING, .err = SL_OK};
}

void sl_anthropic_scan_event(struct sl_anthropic_scan *s, const char *event, size_t event_len,
                             const char *data, size_t data_len)
{
    struct sl_str name = {event ? event : "", event ? event_len : 0};
    if (s->state != SL_ASCAN_RUNNING || sl_str_eq(name, "content_block_delta") ||
        sl_str_eq(name, "content_block_start") || sl_str_eq(name, "content_block_stop") ||
        sl_str_eq(name, "ping"))
        return; /* the bulk of a stream: nothing to read in them */
    enum { E_TYPE, E_MESSAGE, E_USAGE, E_ERROR, E__N };
    struct sl_json_pick p[E__N] = {
        {.key = "type"}, {.key = "message"}, {.key = "usage"}, {.key = "error"}};
    struct sl_json_pick m[1] = {{.key = "usage"}};
    if (sl__anth_pick((struct sl_str){data, data_len}, p, E__N) != 0)
        return;
    struct sl_str type =
        p[E_TYPE].found && p[E_TYPE].m.type == SL_JSON_STRING ? p[E_TYPE].m.value : name;
    if (sl_str_eq(type, "message_start") && p[E_MESSAGE].found &&
        sl__anth_pick(sl__anth_raw(&p[E_MESSAGE].m), m, 1) == 0 && m[0].found) {
        sl__anth_tokens_read(sl__anth_raw(&m[0].m), &s->tokens);
    } else if (sl_str_eq(type, "message_delta") && p[E_USAGE].found) {
        sl__anth_tokens_read(sl__anth_raw(&p[E_USAGE].m), &s->tokens);
    } else if (sl_str_eq(type, "message_stop")) {
        s->state = SL_ASCAN_DONE;
    } else if (sl_str_eq(type, "error")) {
        struct sl_json_pick e[1] = {{.key = "type"}};
        int typed = p[E_ERROR].found && sl__anth_pick(sl__anth_raw(&p[E_ERROR].m), e, 1) == 0 &&
                    e[0].found && e[0].m.type == SL_JSON_STRING;
        s->state = SL_ASCAN_FAILED;
        s->err = sl_anthropic_error_class(typed ? e[0].m.value.ptr : NULL,
                                          typed ? e[0].m.value.len : 0, 0)
                     .err;
    }
    s->usage = sl__anth_usage_of(&s->tokens);
}

int sl_anthropic_scan_end(const struct sl_anthropic_scan *s)
{
    return s->state == SL_ASCAN_RUNNING ? UV_EOF : 0;
}
