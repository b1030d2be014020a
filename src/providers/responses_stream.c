/* chat.completion.chunk events -> the Responses API's typed events.
 *
 * Design: a state machine (START -> OPEN -> FINISH -> DONE, or FAILED from
 * anywhere) over a list of output items. Chat streams one choice whose
 * text and tool calls come as pieces; the Responses API wants each output
 * item opened (output_item.added), fed (deltas) and closed (the .done
 * events, which repeat the whole text or arguments), one item at a time,
 * and a final Response that lists every item whole. So every piece is
 * written out at once as a delta and also appended to `acc` (escaped, as
 * it came: nothing is decoded), and an item is a set of offsets into acc.
 * Only the open item grows and it is always the last one in acc, so the
 * offsets stay valid. acc is bounded by max_text; items by MAX_ITEMS.
 *
 * Invariants: sequence numbers count every event written, from 0; at most
 * one item is open (`open`); an item closed is never written to again (a
 * piece for it breaks the protocol); after DONE or FAILED nothing more is
 * written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/openai.h"
#include "providers/responses_int.h"

#define MAX_ITEMS 1024

/* A message item holds one content part: output_text, or refusal. */
enum kind { ITEM_MESSAGE, ITEM_REFUSAL, ITEM_CALL };

struct sl_responses_item {
    enum kind kind;
    long tool_index; /* ITEM_CALL: chat's tool_calls index */
    int closed;
    const char *status;        /* once closed */
    size_t text_off, text_len; /* the text, or the arguments */
    size_t id_off, id_len;     /* ITEM_CALL: call_id */
    size_t name_off, name_len; /* ITEM_CALL: name */
};

void sl_responses_stream_init(struct sl_responses_stream *s, const char *id, const char *model,
                              long long created_at, const char *echo, size_t echo_len,
                              size_t max_text)
{
    *s = (struct sl_responses_stream){.state = SL_RS_START,
                                      .created_at = created_at,
                                      .echo = echo,
                                      .echo_len = echo_len,
                                      .open = -1,
                                      .err = SL_OK};
    sl_buf_init(&s->acc, max_text);
    if (id) {
        sl_json_escape(s->id, sizeof(s->id), id);
        size_t skip = strncmp(id, "resp_", 5) == 0 ? 5 : 0;
        sl__resp_suffix((struct sl_str){id + skip, strlen(id + skip)}, s->suffix,
                        sizeof(s->suffix));
    }
    if (model)
        sl_json_escape(s->model, sizeof(s->model), model);
}

void sl_responses_stream_release(struct sl_responses_stream *s)
{
    sl_buf_release(&s->acc);
    free(s->items);
    s->items = NULL;
    s->nitems = s->cap_items = 0;
}

/* ---- writing events ---- */

/* "event: TYPE\ndata: {"type": TYPE, */
static void event_open(struct sl_jw *w, struct sl_buf *out, const char *type)
{
    sl_jw_init(w, out);
    w->err = sl_buf_append(out, "event: ", 7);
    if (w->err == 0)
        w->err = sl_buf_append(out, type, strlen(type));
    if (w->err == 0)
        w->err = sl_buf_append(out, "\ndata: ", 7);
    sl_jw_object(w);
    sl_jw_kv_string(w, "type", type);
}

/* , "sequence_number": N}\n\n */
static int event_close(struct sl_responses_stream *s, struct sl_jw *w)
{
    sl_jw_kv_int(w, "sequence_number", (long long)s->seq++);
    sl_jw_end(w);
    int rc = sl_jw_finish(w);
    return rc ? rc : sl_buf_append(w->out, "\n\n", 2);
}

static struct sl__resp_text acc_text(const struct sl_responses_stream *s, size_t off, size_t len)
{
    return (struct sl__resp_text){s->acc.ptr ? s->acc.ptr + off : "", len};
}

static void item_id(const struct sl_responses_stream *s, size_t i, char *out, size_t size)
{
    sl__resp_item_id(out, size, s->items[i].kind == ITEM_CALL ? "fc" : "msg", s->suffix, i);
}

/* "key": an escaped text */
static void escaped_kv(struct sl_jw *w, const char *key, struct sl__resp_text t)
{
    sl_jw_key(w, key);
    sl_jw_string_open(w);
    sl_jw_string_piece(w, t.ptr, t.len);
    sl_jw_string_close(w);
}

/* An item as it stands, with `status`. */
static void item_write(const struct sl_responses_stream *s, struct sl_jw *w, size_t i,
                       const char *status)
{
    const struct sl_responses_item *it = &s->items[i];
    char id[128];
    item_id(s, i, id, sizeof(id));
    struct sl__resp_text text = acc_text(s, it->text_off, it->text_len);
    struct sl__resp_text none = {NULL, 0};
    if (it->kind != ITEM_CALL) {
        /* an item just added has no parts yet: content_part.added brings one */
        if (strcmp(status, "in_progress") == 0)
            text.ptr = NULL;
        sl__resp_message_item(w, id, status, it->kind == ITEM_MESSAGE ? text : none,
                              it->kind == ITEM_REFUSAL ? text : none);
    } else {
        sl__resp_call_item(w, id, status, acc_text(s, it->id_off, it->id_len),
                           acc_text(s, it->name_off, it->name_len), text);
    }
}

/* The whole Response: every item (output empty when failed). */
static void response_write(const struct sl_responses_stream *s, struct sl_jw *w, const char *status,
                           const char *error_message)
{
    enum sl__resp_finish finish = (enum sl__resp_finish)s->reason;
    sl_jw_key(w, "response");
    sl__resp_open(w, s->id, s->created_at, status, finish, error_message, s->model, s->echo,
                  s->echo_len);
    sl_jw_key(w, "output");
    sl_jw_array(w);
    int full = strcmp(status, "completed") == 0 || strcmp(status, "incomplete") == 0;
    for (size_t i = 0; full && i < s->nitems; i++)
        item_write(s, w, i, s->items[i].status ? s->items[i].status : "incomplete");
    sl_jw_end(w);
    sl__resp_close(w, full ? &s->usage : NULL, s->reasoning_tokens);
}

static int response_event(struct sl_responses_stream *s, struct sl_buf *out, const char *type,
                          const char *status, const char *error_message)
{
    struct sl_jw w;
    event_open(&w, out, type);
    response_write(s, &w, status, error_message);
    return event_close(s, &w);
}

/* {"type", "item_id", "output_index", [content_index], then the caller's
 * members */
static void item_event_open(const struct sl_responses_stream *s, struct sl_jw *w,
                            struct sl_buf *out, const char *type, size_t i, int content)
{
    char id[128];
    item_id(s, i, id, sizeof(id));
    event_open(w, out, type);
    sl_jw_kv_string(w, "item_id", id);
    sl_jw_kv_int(w, "output_index", (long long)i);
    if (content)
        sl_jw_kv_int(w, "content_index", 0);
}

static int output_item_event(struct sl_responses_stream *s, struct sl_buf *out, const char *type,
                             size_t i, const char *status)
{
    struct sl_jw w;
    event_open(&w, out, type);
    sl_jw_kv_int(&w, "output_index", (long long)i);
    sl_jw_key(&w, "item");
    item_write(s, &w, i, status);
    return event_close(s, &w);
}

/* content_part.added / .done: {"part": {"type": "output_text", ..., "text"}}
 * or {"part": {"type": "refusal", "refusal"}} */
static int part_event(struct sl_responses_stream *s, struct sl_buf *out, const char *type, size_t i)
{
    struct sl_jw w;
    const struct sl_responses_item *it = &s->items[i];
    struct sl__resp_text t = acc_text(s, it->text_off, it->text_len);
    item_event_open(s, &w, out, type, i, 1);
    sl_jw_key(&w, "part");
    sl_jw_object(&w);
    if (it->kind == ITEM_REFUSAL) {
        sl_jw_kv_string(&w, "type", "refusal");
        escaped_kv(&w, "refusal", t);
    } else {
        sl_jw_kv_string(&w, "type", "output_text");
        sl_jw_kv_raw(&w, "annotations", "[]", 2);
        sl_jw_kv_raw(&w, "logprobs", "[]", 2);
        escaped_kv(&w, "text", t);
    }
    sl_jw_end(&w);
    return event_close(s, &w);
}

/* output_text.delta / refusal.delta / function_call_arguments.delta with
 * an escaped piece */
static int delta_event(struct sl_responses_stream *s, struct sl_buf *out, size_t i,
                       struct sl_str piece)
{
    static const char *const types[] = {[ITEM_MESSAGE] = "response.output_text.delta",
                                        [ITEM_REFUSAL] = "response.refusal.delta",
                                        [ITEM_CALL] = "response.function_call_arguments.delta"};
    struct sl_jw w;
    enum kind kind = s->items[i].kind;
    item_event_open(s, &w, out, types[kind], i, kind != ITEM_CALL);
    escaped_kv(&w, "delta", (struct sl__resp_text){piece.ptr, piece.len});
    if (kind == ITEM_MESSAGE)
        sl_jw_kv_raw(&w, "logprobs", "[]", 2);
    return event_close(s, &w);
}

/* ---- failing ---- */

/* "error" (and response.failed once the response was announced); the end. */
static int fail(struct sl_responses_stream *s, struct sl_buf *out, const char *code_escaped,
                const char *message_escaped, struct sl_str param_raw)
{
    struct sl_jw w;
    event_open(&w, out, "error");
    sl_jw_key(&w, "code");
    if (code_escaped) {
        sl_jw_string_open(&w);
        sl_jw_string_piece(&w, code_escaped, strlen(code_escaped));
        sl_jw_string_close(&w);
    } else {
        sl_jw_null(&w);
    }
    sl_jw_key(&w, "message");
    sl_jw_string_open(&w);
    sl_jw_string_piece(&w, message_escaped, strlen(message_escaped));
    sl_jw_string_close(&w);
    sl_jw_key(&w, "param");
    if (param_raw.ptr)
        sl_jw_raw(&w, param_raw.ptr, param_raw.len);
    else
        sl_jw_null(&w);
    int rc = event_close(s, &w);
    if (rc == 0 && s->state != SL_RS_START)
        rc = response_event(s, out, "response.failed", "failed", message_escaped);
    s->state = SL_RS_FAILED;
    return rc;
}

static int broken(struct sl_responses_stream *s, struct sl_buf *out, const char *why)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "the upstream stream broke off: %s", why);
    int rc = fail(s, out, "bad_upstream_stream", msg, (struct sl_str){NULL, 0});
    s->err = SL_E_BAD_GATEWAY;
    return rc ? rc : UV_EPROTO;
}

static int too_large(struct sl_responses_stream *s, struct sl_buf *out)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "the response passed the gateway's limit of %zu bytes of text",
             s->acc.max);
    int rc = fail(s, out, "response_too_large", msg, (struct sl_str){NULL, 0});
    s->err = SL_E_TOO_LARGE;
    return rc ? rc : UV_E2BIG;
}

/* An upstream error event {"error": {message, type, param, code}}. */
static int upstream_error(struct sl_responses_stream *s, struct sl_buf *out,
                          const struct sl_json_member *error)
{
    enum { E_MESSAGE, E_TYPE, E_PARAM, E_CODE, E__N };
    struct sl_json_pick e[E__N] = {
        {.key = "message"}, {.key = "type"}, {.key = "param"}, {.key = "code"}};
    char code[64] = "", message[512] = "the upstream failed";
    struct sl_str param = {NULL, 0};
    if (sl_xlat_pick(sl_xlat_raw(error), e, E__N) == 0) {
        const struct sl_json_pick *c =
            e[E_CODE].found && e[E_CODE].m.type == SL_JSON_STRING ? &e[E_CODE] : &e[E_TYPE];
        /* copied only when whole: a cut could split an escape */
        if (c->found && c->m.type == SL_JSON_STRING && c->m.value.len < sizeof(code))
            snprintf(code, sizeof(code), "%.*s", (int)c->m.value.len, c->m.value.ptr);
        if (e[E_MESSAGE].found && e[E_MESSAGE].m.type == SL_JSON_STRING &&
            e[E_MESSAGE].m.value.len < sizeof(message))
            snprintf(message, sizeof(message), "%.*s", (int)e[E_MESSAGE].m.value.len,
                     e[E_MESSAGE].m.value.ptr);
        if (e[E_PARAM].found && e[E_PARAM].m.type == SL_JSON_STRING)
            param = sl_xlat_raw(&e[E_PARAM].m);
    }
    s->err = strstr(code, "rate_limit") ? SL_E_RATE_LIMITED : SL_E_SERVER_ERROR;
    return fail(s, out, code[0] ? code : NULL, message, param);
}

/* ---- items ---- */

/* UV_E2BIG when acc would pass max_text (out's own ENOBUFS means out is full). */
static int acc_append(struct sl_responses_stream *s, struct sl_str piece)
{
    int rc = piece.len ? sl_buf_append(&s->acc, piece.ptr, piece.len) : 0;
    return rc == UV_ENOBUFS ? UV_E2BIG : rc;
}

static int item_new(struct sl_responses_stream *s, enum kind kind, size_t *index)
{
    if (s->nitems == s->cap_items) {
        if (s->cap_items >= MAX_ITEMS)
            return UV_E2BIG;
        size_t cap = s->cap_items ? s->cap_items * 2 : 4;
        struct sl_responses_item *items = realloc(s->items, cap * sizeof(*items));
        if (items == NULL)
            return UV_ENOMEM;
        s->items = items;
        s->cap_items = cap;
    }
    *index = s->nitems++;
    s->items[*index] = (struct sl_responses_item){.kind = kind, .text_off = s->acc.len};
    s->open = (int)*index;
    return 0;
}

/* Closes the open item with its .done events. */
static int item_close(struct sl_responses_stream *s, struct sl_buf *out, const char *status)
{
    if (s->open < 0)
        return 0;
    size_t i = (size_t)s->open;
    struct sl_responses_item *it = &s->items[i];
    struct sl__resp_text t = acc_text(s, it->text_off, it->text_len);
    struct sl_jw w;
    int rc;
    s->open = -1;
    it->closed = 1;
    it->status = status;
    if (it->kind == ITEM_MESSAGE) {
        item_event_open(s, &w, out, "response.output_text.done", i, 1);
        escaped_kv(&w, "text", t);
        sl_jw_kv_raw(&w, "logprobs", "[]", 2);
    } else if (it->kind == ITEM_REFUSAL) {
        item_event_open(s, &w, out, "response.refusal.done", i, 1);
        escaped_kv(&w, "refusal", t);
    } else {
        item_event_open(s, &w, out, "response.function_call_arguments.done", i, 0);
        escaped_kv(&w, "name", acc_text(s, it->name_off, it->name_len));
        escaped_kv(&w, "arguments", t);
    }
    if ((rc = event_close(s, &w)))
        return rc;
    if (it->kind != ITEM_CALL && (rc = part_event(s, out, "response.content_part.done", i)))
        return rc;
    return output_item_event(s, out, "response.output_item.done", i, status);
}

/* A content or refusal piece: to the message item of that kind open, or a
 * new one. */
static int text_piece(struct sl_responses_stream *s, struct sl_buf *out, enum kind kind,
                      struct sl_str piece)
{
    int rc;
    size_t i;
    if (s->open < 0 || s->items[s->open].kind != kind) {
        if ((rc = item_close(s, out, "completed")) || (rc = item_new(s, kind, &i)))
            return rc;
        if ((rc = output_item_event(s, out, "response.output_item.added", i, "in_progress")) ||
            (rc = part_event(s, out, "response.content_part.added", i)))
            return rc;
    }
    i = (size_t)s->open;
    if ((rc = acc_append(s, piece)))
        return rc;
    s->items[i].text_len += piece.len;
    return delta_event(s, out, i, piece);
}

/* One tool_calls entry {index, id, function: {name, arguments}}. */
static int call_piece(struct sl_responses_stream *s, struct sl_buf *out, struct sl_str entry)
{
    struct sl_json_pick c[3] = {{.key = "index"}, {.key = "id"}, {.key = "function"}};
    struct sl_json_pick f[2] = {{.key = "name"}, {.key = "arguments"}};
    if (sl_xlat_pick(entry, c, 3) != 0)
        return broken(s, out, "a tool call that is not an object");
    if (c[2].found && c[2].m.type == SL_JSON_OBJECT)
        sl_xlat_pick(c[2].m.value, f, 2);
    /* no index (a server that leaves it out): a piece without an id goes
     * on with the call open, one with an id begins a call */
    long index = (long)s->tools;
    if (c[0].found && c[0].m.type == SL_JSON_NUMBER)
        index = strtol(c[0].m.value.ptr, NULL, 10);
    else if (!c[1].found && s->open >= 0 && s->items[s->open].kind == ITEM_CALL)
        index = s->items[s->open].tool_index;
    struct sl_str args = {NULL, 0};
    if (f[1].found && f[1].m.type == SL_JSON_STRING)
        args = f[1].m.value;
    size_t i = s->nitems;
    for (size_t k = 0; k < s->nitems; k++)
        if (s->items[k].kind == ITEM_CALL && s->items[k].tool_index == index)
            i = k;
    int rc;
    if (i == s->nitems) { /* a new call: its id and name come first */
        if ((rc = item_close(s, out, "completed")) || (rc = item_new(s, ITEM_CALL, &i)))
            return rc;
        struct sl_responses_item *it = &s->items[i];
        char gen[32];
        struct sl_str id = {gen, 0}, name = {"", 0};
        if (c[1].found && c[1].m.type == SL_JSON_STRING)
            id = c[1].m.value;
        else
            id.len = (size_t)snprintf(gen, sizeof(gen), "call_%d", s->tools);
        if (f[0].found && f[0].m.type == SL_JSON_STRING)
            name = f[0].m.value;
        it->tool_index = index;
        it->id_off = s->acc.len;
        it->id_len = id.len;
        it->name_off = s->acc.len + id.len;
        it->name_len = name.len;
        if ((rc = acc_append(s, id)) || (rc = acc_append(s, name)))
            return rc;
        it->text_off = s->acc.len;
        s->tools++;
        if ((rc = output_item_event(s, out, "response.output_item.added", i, "in_progress")))
            return rc;
    } else if ((int)i != s->open) {
        return broken(s, out, "a piece of a tool call after a later one began");
    }
    if (args.len == 0)
        return 0;
    if ((rc = acc_append(s, args)))
        return rc;
    s->items[i].text_len += args.len;
    return delta_event(s, out, i, args);
}

/* ---- the end ---- */

static int complete(struct sl_responses_stream *s, struct sl_buf *out)
{
    int incomplete = s->reason != SL__RESP_COMPLETED;
    int rc = item_close(s, out, incomplete ? "incomplete" : "completed");
    if (rc == 0)
        rc = response_event(s, out, incomplete ? "response.incomplete" : "response.completed",
                            incomplete ? "incomplete" : "completed", NULL);
    s->state = SL_RS_DONE;
    return rc;
}

static int start(struct sl_responses_stream *s, struct sl_buf *out, const struct sl_json_pick *id,
                 const struct sl_json_pick *model)
{
    if (s->id[0] == '\0') {
        struct sl_str chat_id = {"", 0};
        if (id && id->found && id->m.type == SL_JSON_STRING)
            chat_id = id->m.value;
        sl__resp_suffix(chat_id, s->suffix, sizeof(s->suffix));
        snprintf(s->id, sizeof(s->id), "resp_%s", s->suffix);
    }
    if (s->model[0] == '\0' && model && model->found && model->m.type == SL_JSON_STRING &&
        model->m.value.len < sizeof(s->model)) {
        memcpy(s->model, model->m.value.ptr, model->m.value.len);
        s->model[model->m.value.len] = '\0';
    }
    s->state = SL_RS_OPEN;
    int rc = response_event(s, out, "response.created", "in_progress", NULL);
    return rc ? rc : response_event(s, out, "response.in_progress", "in_progress", NULL);
}

static int translate(struct sl_responses_stream *s, const char *data, size_t len,
                     struct sl_buf *out)
{
    int rc;
    if (sl_openai_is_done(data, len)) {
        if (s->state == SL_RS_START && (rc = start(s, out, NULL, NULL)))
            return rc;
        return complete(s, out);
    }
    enum { K_ID, K_MODEL, K_CHOICES, K_USAGE, K_ERROR, K__N };
    struct sl_json_pick p[K__N] = {
        {.key = "id"}, {.key = "model"}, {.key = "choices"}, {.key = "usage"}, {.key = "error"}};
    if (sl_xlat_pick((struct sl_str){data, len}, p, K__N) != 0)
        return broken(s, out, "an event whose data is not a JSON object");
    if (p[K_ERROR].found && p[K_ERROR].m.type != SL_JSON_NULL)
        return upstream_error(s, out, &p[K_ERROR].m);
    if (s->state == SL_RS_START && (rc = start(s, out, &p[K_ID], &p[K_MODEL])))
        return rc;
    struct sl_json_walk wk;
    struct sl_json_value choice, arr;
    if (p[K_CHOICES].found && p[K_CHOICES].m.type == SL_JSON_ARRAY) {
        arr = sl_xlat_value(&p[K_CHOICES].m);
        sl_json_enter(&wk, &arr);
    } else {
        wk = (struct sl_json_walk){NULL, NULL};
    }
    if (wk.p && sl_json_next_item(&wk, &choice)) { /* one choice: n is 1 */
        enum { D_CONTENT, D_REFUSAL, D_TOOL_CALLS, D__N };
        struct sl_json_pick c[2] = {{.key = "delta"}, {.key = "finish_reason"}};
        struct sl_json_pick d[D__N] = {
            {.key = "content"}, {.key = "refusal"}, {.key = "tool_calls"}};
        if (sl_xlat_pick((struct sl_str){choice.start, (size_t)(choice.end - choice.start)}, c,
                         2) != 0)
            return broken(s, out, "a choice that is not an object");
        if (c[0].found && c[0].m.type == SL_JSON_OBJECT &&
            sl_xlat_pick(c[0].m.value, d, D__N) == 0) {
            for (int k = D_CONTENT; k <= D_REFUSAL; k++)
                if (d[k].found && d[k].m.type == SL_JSON_STRING && d[k].m.value.len > 0 &&
                    (rc = text_piece(s, out, k == D_CONTENT ? ITEM_MESSAGE : ITEM_REFUSAL,
                                     d[k].m.value)))
                    return rc;
            if (d[D_TOOL_CALLS].found && d[D_TOOL_CALLS].m.type == SL_JSON_ARRAY) {
                struct sl_json_walk tw;
                struct sl_json_value call, calls = sl_xlat_value(&d[D_TOOL_CALLS].m);
                sl_json_enter(&tw, &calls);
                while (sl_json_next_item(&tw, &call))
                    if ((rc = call_piece(
                             s, out, (struct sl_str){call.start, (size_t)(call.end - call.start)})))
                        return rc;
            }
        }
        if (c[1].found && c[1].m.type == SL_JSON_STRING && s->state == SL_RS_OPEN) {
            s->reason = (int)sl__resp_finish_of(c[1].m.value);
            s->state = SL_RS_FINISH;
            if ((rc = item_close(s, out,
                                 s->reason == SL__RESP_COMPLETED ? "completed" : "incomplete")))
                return rc;
        }
    }
    if (p[K_USAGE].found && p[K_USAGE].m.type == SL_JSON_OBJECT) {
        sl__resp_usage_read(p[K_USAGE].m.value, &s->usage, &s->reasoning_tokens);
        if (s->state == SL_RS_FINISH)
            return complete(s, out);
    }
    return 0;
}

int sl_responses_stream_event(struct sl_responses_stream *s, const char *data, size_t len,
                              struct sl_buf *out)
{
    if (s->state == SL_RS_DONE || s->state == SL_RS_FAILED)
        return 0;
    size_t before = out->len;
    int rc = translate(s, data, len, out);
    if (rc == UV_E2BIG && s->state != SL_RS_FAILED) /* the kept texts are full: say so */
        rc = too_large(s, out);
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM) {
        /* out keeps whole events only; the client's stream cannot go on */
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        s->state = SL_RS_FAILED;
        s->err = SL_E_TOO_LARGE;
    }
    return rc;
}

int sl_responses_stream_end(const struct sl_responses_stream *s)
{
    return s->state == SL_RS_DONE || s->state == SL_RS_FAILED ? 0 : UV_EOF;
}
