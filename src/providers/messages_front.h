/* Anthropic's Messages API in front: a client speaks Anthropic (POST
 * /v1/messages) and the gateway's pivot format is OpenAI chat.completions
 * (every upstream adapter takes an OpenAI chat request and gives back OpenAI
 * responses and chunks). These are the pure translations between the two,
 * bytes to bytes, the mirror image of anthropic.h:
 *   messages_request.c   Anthropic request -> OpenAI request
 *   messages_response.c  OpenAI chat.completion -> Anthropic message;
 *                        OpenAI errors -> Anthropic errors; the usage of an
 *                        Anthropic message (native pass-through)
 *   messages_stream.c    OpenAI chunks -> Anthropic SSE events; a scanner of
 *                        Anthropic events for usage and the end (native
 *                        pass-through)
 * No I/O, no clock, no config. Every output goes into a caller's bounded
 * sl_buf through the JSON writer (UV_ENOBUFS past its max); inputs are read
 * with the repository's scanner; bad input is refused, never a crash. What
 * maps, what is dropped and what is refused: docs/providers.md ("The
 * Anthropic Messages API in front"). */
#ifndef SL_PROVIDERS_MESSAGES_FRONT_H
#define SL_PROVIDERS_MESSAGES_FRONT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/errclass.h"
#include "core/str.h"
#include "providers/anthropic.h"
#include "providers/xlat.h"

/* ---- request ---- */

/* Flags of sl_messages_request. */
#define SL_MESSAGES_NO_MAX_TOKENS 1u /* /v1/messages/count_tokens: max_tokens optional */

/* What the caller needs from the request it translated. */
struct sl_messages_req_info {
    int stream;          /* "stream": true */
    struct sl_str model; /* a view into the body: the model as sent (escaped
                            JSON string content, without the quotes) */
    long max_tokens;     /* -1 when absent (count_tokens only) */
};

/* Translates an Anthropic Messages request body into an OpenAI
 * chat.completions request body, appended to out. A streamed request always
 * asks for stream_options.include_usage (the gateway records usage; the
 * Anthropic client gets it in message_delta anyway). Returns 0; UV_EINVAL
 * when the request is refused (*refusal says why and which field: the
 * client's 400 invalid_request_error, in Anthropic's shape); UV_ENOBUFS;
 * UV_ENOMEM. On failure out may hold a partial body. */
int sl_messages_request(const char *body, size_t len, unsigned flags, struct sl_buf *out,
                        struct sl_messages_req_info *info, struct sl_xlat_refusal *refusal);

/* ---- response ---- */

/* Translates an OpenAI chat.completion (a 2xx body) into an Anthropic
 * message, appended to out. `id`: the message id (NULL: "msg_" and the
 * completion's id); `model`: the name the client sees (NULL: the
 * completion's). Sets *usage when not NULL. Returns 0; UV_EINVAL when the
 * body is not a chat.completion (the caller answers 502); UV_ENOBUFS;
 * UV_ENOMEM. */
int sl_messages_response(const char *body, size_t len, const char *id, const char *model,
                         struct sl_buf *out, struct sl_xlat_usage *usage);

/* ---- errors ---- */

/* An Anthropic error: its type and the status the client gets. */
struct sl_messages_error {
    int status;
    const char *type; /* "invalid_request_error", "overloaded_error", ... */
};

/* The Anthropic error for an HTTP status (400..599), or, when status is 0
 * (a stream's error event) or not an error status, for OpenAI's error type
 * or code (a view; may be NULL). Never fails: the default is 500 api_error. */
struct sl_messages_error sl_messages_error_class(int status, const char *openai_type, size_t len);

/* Translates an OpenAI error response (status and body, which may be
 * anything: a proxy's HTML too) into Anthropic's error body
 * {"type":"error","error":{"type":..,"message":..}} appended to out, the
 * upstream's message carried through. Sets *cls (the status to answer).
 * Returns 0, UV_ENOBUFS or UV_ENOMEM. */
int sl_messages_error(int status, const char *body, size_t len, struct sl_buf *out,
                      struct sl_messages_error *cls);

/* The gateway's own error (status, a one-line message) as Anthropic's error
 * body; *cls may be NULL. Returns 0, UV_ENOBUFS or UV_ENOMEM. */
int sl_messages_error_body(int status, const char *message, struct sl_buf *out,
                           struct sl_messages_error *cls);

/* A translation's refusal as the client's 400 body: invalid_request_error
 * with the message "PARAM: MESSAGE" (Anthropic names the field that way;
 * the message alone when there is no param or it already starts with it). */
int sl_messages_refusal_body(const struct sl_xlat_refusal *refusal, struct sl_buf *out);

/* The same as one stream event: "event: error\ndata: {...}\n\n". The
 * caller ends a client's stream with it (a cut upstream, a gateway error). */
int sl_messages_error_event(int status, const char *message, struct sl_buf *out);

/* ---- stream: OpenAI chunks -> Anthropic events ----
 *
 * A stateful translator fed the data of one OpenAI SSE event at a time (a
 * chat.completion.chunk, an {"error":...} object or "[DONE]") that appends
 * the Anthropic events it makes ("event: NAME\ndata: {...}\n\n"):
 *   the first chunk      message_start (id, model, usage zero: OpenAI tells
 *                        the prompt's tokens only at the end)
 *   delta.content        content_block_start text (when no text block is
 *                        open), content_block_delta text_delta
 *   delta.tool_calls[i]  a new index (or id): content_block_start tool_use {id,
 *                        name, input: {}}; arguments pieces:
 *                        content_block_delta input_json_delta
 *   finish_reason        content_block_stop of the open block; the
 *                        stop_reason is kept until the usage chunk
 *   the usage chunk      (after finish_reason) message_delta {stop_reason,
 *   or [DONE]            stop_sequence, usage}, message_stop
 *   {"error": ...}       an Anthropic error event; the stream is over
 * Opening a block closes the one open before (content_block_stop), so
 * blocks never overlap and their indexes count from 0 in order. Memory is
 * the struct: text and argument pieces go from the chunk straight into out
 * as escaped spans, nothing is buffered across events. */

enum sl_messages_stream_state {
    SL_MS_START,     /* no chunk yet */
    SL_MS_MESSAGE,   /* message_start written */
    SL_MS_FINISHING, /* finish_reason seen: waiting for the usage chunk or [DONE] */
    SL_MS_DONE,      /* message_stop written */
    SL_MS_FAILED     /* an error event written */
};

struct sl_messages_stream {
    enum sl_messages_stream_state state;
    char id[128];      /* escaped JSON string content; "" until known */
    char model[128];   /* escaped JSON string content; "" until known */
    char stop_seq[64]; /* escaped: the stop sequence matched, when the upstream says (vLLM) */
    enum { SL_MS_BLOCK_NONE, SL_MS_BLOCK_TEXT, SL_MS_BLOCK_TOOL } block_kind;
    long blocks;      /* blocks opened so far: the next block's index */
    long tool;        /* the OpenAI tool_calls index of the open tool_use block */
    char tool_id[64]; /* its id, escaped, when it fits ("" else) */
    long last_tool;   /* the highest tool_calls index seen, or -1 */
    const char *stop_reason;
    struct sl_xlat_usage usage; /* from the usage chunk */
    int have_usage;
    enum sl_err err; /* SL_MS_FAILED: the class (SL_E_TOO_LARGE when out was full) */
};

/* `id`: the message id (NULL: "msg_" and the first chunk's id); `model`:
 * the name the client sees (NULL: the first chunk's). */
void sl_messages_stream_init(struct sl_messages_stream *s, const char *id, const char *model);

/* One OpenAI event's data. Appends what it makes to out. Returns 0;
 * UV_EPROTO when the data breaks the protocol (not JSON, a tool call
 * without a name, a tool call index going back): an Anthropic error event
 * was appended and the state is SL_MS_FAILED; UV_ENOBUFS / UV_ENOMEM: out
 * is left as it was before the call (whole events only), the state is
 * SL_MS_FAILED, s->err SL_E_TOO_LARGE. An error object returns 0 with the
 * state SL_MS_FAILED. Events after the end are ignored. */
int sl_messages_stream_event(struct sl_messages_stream *s, const char *data, size_t len,
                             struct sl_buf *out);

/* The upstream body ended: 0 when the message was complete (or failed with
 * an error event already written), UV_EOF when it was cut (the caller ends
 * the client's stream with sl_messages_error_event). */
int sl_messages_stream_end(const struct sl_messages_stream *s);

/* ---- native pass-through: an Anthropic deployment behind the front ----
 *
 * The client's body goes to an Anthropic deployment unchanged but for the
 * model (sl_openai_with_model does that for any JSON body), and the answer
 * comes back unchanged; the gateway still needs the usage and, for a
 * stream, whether it ended. These read without writing anything. */

/* The usage of an Anthropic message body, in OpenAI's terms (prompt =
 * input + cache writes + cache reads). 0, or UV_EINVAL when the body is not
 * an Anthropic message (*usage zero). */
int sl_anthropic_usage_scan(const char *body, size_t len, struct sl_xlat_usage *usage);

/* A scanner of Anthropic SSE events (fed as sl_anthropic_stream is): the
 * usage from message_start and message_delta, the end at message_stop or an
 * error event. The events that carry neither (content_block_*, ping) are
 * skipped by their name without parsing their data. */
struct sl_anthropic_scan {
    enum { SL_ASCAN_RUNNING, SL_ASCAN_DONE, SL_ASCAN_FAILED } state;
    struct sl_anthropic_tokens tokens;
    struct sl_xlat_usage usage; /* so far */
    enum sl_err err;            /* SL_ASCAN_FAILED: the error event's class */
};

void sl_anthropic_scan_init(struct sl_anthropic_scan *s);
void sl_anthropic_scan_event(struct sl_anthropic_scan *s, const char *event, size_t event_len,
                             const char *data, size_t data_len);
/* 0 when the stream ended with message_stop or an error event, UV_EOF. */
int sl_anthropic_scan_end(const struct sl_anthropic_scan *s);

#endif
