/* The Anthropic provider adapter: Anthropic's Messages API (POST
 * /v1/messages) behind an OpenAI chat.completions front, as pure
 * translations of bytes to bytes. No I/O, no clock, no config: the caller
 * (the gateway's upstream attempt) supplies the time, the default
 * max_tokens and the model name, sends the request with `x-api-key` and
 * `anthropic-version`, and feeds the response or its SSE events back here.
 *
 * Every output is written with the JSON writer (http/json_write.h) into a
 * caller's bounded sl_buf; a translation that would pass the buffer's max
 * fails with UV_ENOBUFS and never grows memory past it. Inputs are read with
 * the repository's scanner (http/json_scan.h, json_walk.h): an input that is
 * not what Anthropic documents is refused, never a crash.
 *
 * What maps to what, what is dropped and what is refused with a 400 is the
 * table in docs/providers.md ("Anthropic"). Modules:
 *   anthropic_request.c   OpenAI request -> Anthropic request
 *   anthropic_response.c  Anthropic message -> OpenAI chat.completion
 *   anthropic_stream.c    Anthropic SSE events -> chat.completion.chunk events
 *   anthropic_error.c     Anthropic errors -> OpenAI errors and error classes */
#ifndef SL_PROVIDERS_ANTHROPIC_H
#define SL_PROVIDERS_ANTHROPIC_H

#include <stddef.h>

#include "core/buf.h"
#include "core/errclass.h"
#include "providers/xlat.h"

/* The API version sent as `anthropic-version`: the shapes below are its. */
#define SL_ANTHROPIC_VERSION "2023-06-01"
#define SL_ANTHROPIC_PATH    "/v1/messages"

/* ---- request ---- */

struct sl_anthropic_req_opts {
    const char *model;       /* the upstream model name; NULL: the request's "model" */
    long default_max_tokens; /* when the request has neither max_tokens nor
                                max_completion_tokens (Anthropic requires one) */
};

/* What the caller needs later from the request it translated. */
struct sl_anthropic_req_info {
    int stream;        /* "stream": true */
    int include_usage; /* "stream_options": {"include_usage": true} */
};

/* Translates an OpenAI chat.completions request body into an Anthropic
 * Messages request body, appended to out. Returns 0; UV_EINVAL when the
 * request cannot be served by Anthropic (a 400 "invalid_request_error":
 * *refusal says why and which field); UV_ENOBUFS when out would pass its
 * max; UV_ENOMEM. On failure out may hold a partial body. */
int sl_anthropic_request(const char *body, size_t len, const struct sl_anthropic_req_opts *opts,
                         struct sl_buf *out, struct sl_anthropic_req_info *info,
                         struct sl_xlat_refusal *refusal);

/* ---- response ---- */

/* Anthropic's own counts (input_tokens excludes the cached ones). */
struct sl_anthropic_tokens {
    unsigned long input, output, cache_write, cache_read;
};

/* Translates an Anthropic message (a 200 body) into an OpenAI
 * chat.completion, appended to out. `model`: the name the client sees (NULL:
 * the message's own); `created`: the Unix time to report. Sets *usage when
 * not NULL. Returns 0; UV_EINVAL when the body is not an Anthropic message
 * (the caller answers 502); UV_ENOBUFS; UV_ENOMEM. */
int sl_anthropic_response(const char *body, size_t len, const char *model, long long created,
                          struct sl_buf *out, struct sl_xlat_usage *usage);

/* OpenAI's finish_reason for an Anthropic stop_reason (a view, no quotes):
 * end_turn, stop_sequence, pause_turn -> "stop", max_tokens and
 * model_context_window_exceeded -> "length", tool_use -> "tool_calls",
 * refusal -> "content_filter", anything else -> "stop". */
const char *sl_anthropic_finish_reason(const char *stop_reason, size_t len);

/* The other way (for the Messages API in front): stop -> end_turn, length
 * -> max_tokens, tool_calls and function_call -> tool_use, content_filter
 * -> refusal, anything else -> end_turn. */
const char *sl_anthropic_stop_reason(const char *finish_reason, size_t len);

/* ---- stream ----
 *
 * A stateful translator fed one Anthropic SSE event at a time (as
 * src/http/sse.c's parser dispatches them) that appends the OpenAI
 * chat.completion.chunk events ("data: {...}\n\n") each one makes:
 *   message_start         the role chunk ({"role":"assistant","content":""})
 *   content_block_start   text: its text if not empty; tool_use: a tool_calls
 *                         delta with the call's index, id, type and name
 *   content_block_delta   text_delta: a content delta; input_json_delta: a
 *                         tool_calls delta with an arguments piece
 *   message_delta         the chunk with finish_reason (from stop_reason)
 *   message_stop          the usage chunk when asked, then "data: [DONE]"
 *   error                 an OpenAI error event; the stream is over
 *   ping, content_block_stop, thinking and other blocks: nothing
 * Memory is the struct itself: nothing is buffered across events (a text
 * or JSON piece is copied straight from the event into out), so a long
 * stream costs no more than a short one. */

enum sl_anthropic_stream_state {
    SL_AS_START,   /* waiting for message_start */
    SL_AS_MESSAGE, /* inside the message */
    SL_AS_DONE,    /* message_stop seen: [DONE] written */
    SL_AS_FAILED   /* an error event, or an event that broke the protocol */
};

struct sl_anthropic_stream {
    enum sl_anthropic_stream_state state;
    int include_usage;
    long long created;
    char id[128];    /* the message id, echoed in every chunk */
    char model[128]; /* escaped JSON string content */
    /* the content block open now: its Anthropic index and what it is */
    long block;
    enum { SL_AS_BLOCK_NONE, SL_AS_BLOCK_TEXT, SL_AS_BLOCK_TOOL, SL_AS_BLOCK_OTHER } block_kind;
    int tool_index; /* the OpenAI tool_calls index of the open tool_use block */
    int tools;      /* tool_use blocks seen */
    const char *finish_reason;
    struct sl_anthropic_tokens tokens;
    struct sl_xlat_usage usage; /* so far (from tokens): final after message_stop */
    enum sl_err err;            /* SL_AS_FAILED: the class of the error */
};

/* `model`: the name the client sees (NULL: message_start's); `created`: the
 * Unix time in every chunk; include_usage: the client asked for the usage
 * chunk. */
void sl_anthropic_stream_init(struct sl_anthropic_stream *s, const char *model, long long created,
                              int include_usage);

/* One event: its name (may be NULL or "message": the data's "type" decides
 * anyway) and data. Appends what it makes to out. Returns 0; UV_EPROTO when
 * the event breaks the protocol (not JSON, a delta before message_start):
 * an OpenAI error event was appended and the state is SL_AS_FAILED;
 * UV_ENOBUFS / UV_ENOMEM when out is full: out is left as it was before
 * the event (whole events only), the state is SL_AS_FAILED and s->err
 * SL_E_TOO_LARGE. An error event
 * returns 0 with the state SL_AS_FAILED and s->err set. Events after the
 * end are ignored. */
int sl_anthropic_stream_event(struct sl_anthropic_stream *s, const char *event, size_t event_len,
                              const char *data, size_t data_len, struct sl_buf *out);

/* The upstream body ended: 0 when the message was complete (or failed
 * with an error event already relayed), UV_EOF when it was cut before
 * message_stop (the caller ends the client's stream as for any cut). */
int sl_anthropic_stream_end(const struct sl_anthropic_stream *s);

/* ---- errors ---- */

/* What an Anthropic error means to the gateway and to an OpenAI client. */
struct sl_anthropic_error {
    enum sl_err err;  /* the class the retry engine decides on */
    int status;       /* the HTTP status for the client */
    const char *type; /* OpenAI's error type */
    const char *code; /* OpenAI's error code, or NULL */
};

/* Classifies an Anthropic error type (a view: "rate_limit_error", ...) with
 * the upstream's HTTP status as the fallback for an unknown type (0 when
 * there is none, as in a stream's error event): 429 rate_limit_error is
 * SL_E_RATE_LIMITED and 529 overloaded_error SL_E_UNAVAILABLE, both
 * transient; the caller honours the response's Retry-After. */
struct sl_anthropic_error sl_anthropic_error_class(const char *type, size_t len, int status);

/* Translates an Anthropic error response (status and body, which may be
 * anything: a proxy's HTML too) into an OpenAI error body appended to out,
 * the upstream's message carried through (a generic one when the body has
 * none). Sets *cls. Returns 0, UV_ENOBUFS or UV_ENOMEM. */
int sl_anthropic_error(int status, const char *body, size_t len, struct sl_buf *out,
                       struct sl_anthropic_error *cls);

/* The same as one stream event ("data: {...}\n\n"), for an `error` event's
 * data (status 0: the class comes from the type alone). */
int sl_anthropic_error_event(const char *data, size_t len, struct sl_buf *out,
                             struct sl_anthropic_error *cls);

#endif
