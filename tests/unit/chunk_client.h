/* Test helper: what an OpenAI client makes of a translated stream (a
 * provider adapter's chat.completion.chunk events): every chunk checked to
 * be JSON with the envelope OpenAI documents (created 1700000000, as the
 * adapters' table tests set it), the texts and each tool call's arguments
 * joined, the finish reason, usage chunks, errors and [DONE] counted.
 */
#ifndef SL_TESTS_CHUNK_CLIENT_H
#define SL_TESTS_CHUNK_CLIENT_H

#include "http/sse.h"
#include "json_at.h"

/* What a client makes of the translated stream: the chunks' data, each
 * checked to be JSON, with the text and each tool call's arguments joined. */
struct client {
    const char *id; /* every chunk's, when set */
    int chunks, done, after_done, errors, usage_chunks, finishes;
    char text[1024], args[4][256], ids[4][64], names[4][32], finish[32], last[2048];
};

static inline void on_client_event(void *arg, const struct sl_sse_event *ev)
{
    struct client *c = arg;
    cr_assert_str_eq(ev->event, "message");
    if (c->done)
        c->after_done++;
    if (sl_str_eq((struct sl_str){ev->data, ev->data_len}, "[DONE]")) {
        c->done = 1;
        return;
    }
    assert_json(ev->data, ev->data_len);
    snprintf(c->last, sizeof(c->last), "%s", ev->data);
    if (strcmp(raw(ev->data, "error"), "(none)") != 0) {
        c->errors++;
        return;
    }
    c->chunks++;
    cr_assert_str_eq(str(ev->data, "object"), "chat.completion.chunk");
    if (c->id)
        cr_assert_str_eq(str(ev->data, "id"), c->id);
    cr_assert_str_eq(raw(ev->data, "created"), "1700000000");
    if (strcmp(raw(ev->data, "usage"), "(none)") != 0) {
        c->usage_chunks++;
        cr_assert_str_eq(raw(ev->data, "choices"), "[]");
        return;
    }
    cr_assert_str_eq(raw(ev->data, "choices.0.index"), "0");
    if (strcmp(raw(ev->data, "choices.0.delta.content"), "(none)") != 0)
        strcat(c->text, str(ev->data, "choices.0.delta.content"));
    if (strcmp(raw(ev->data, "choices.0.finish_reason"), "null") != 0) {
        c->finishes++;
        snprintf(c->finish, sizeof(c->finish), "%s", str(ev->data, "choices.0.finish_reason"));
    }
    if (strcmp(raw(ev->data, "choices.0.delta.tool_calls"), "(none)") != 0) {
        long k = strtol(raw(ev->data, "choices.0.delta.tool_calls.0.index"), NULL, 10);
        cr_assert(k >= 0 && k < 4);
        if (strcmp(raw(ev->data, "choices.0.delta.tool_calls.0.id"), "(none)") != 0) {
            cr_assert_str_eq(str(ev->data, "choices.0.delta.tool_calls.0.type"), "function");
            snprintf(c->ids[k], sizeof(c->ids[k]), "%s",
                     str(ev->data, "choices.0.delta.tool_calls.0.id"));
            snprintf(c->names[k], sizeof(c->names[k]), "%s",
                     str(ev->data, "choices.0.delta.tool_calls.0.function.name"));
        }
        strcat(c->args[k], str(ev->data, "choices.0.delta.tool_calls.0.function.arguments"));
    }
}

static inline void read_client(struct client *c, const struct sl_buf *out, const char *id)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 0, on_client_event, c);
    cr_assert_eq(sl_sse_parser_feed(&p, out->ptr ? out->ptr : "", out->len), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 0, "the translated stream ends mid-event");
    sl_sse_parser_release(&p);
}

#endif
