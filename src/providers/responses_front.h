/* OpenAI's Responses API (POST /v1/responses) in front of the gateway's
 * pivot format, OpenAI chat.completions: a Responses request becomes a chat
 * request that any upstream adapter takes, and the chat.completion or the
 * chat.completion.chunk events that come back become a Response object or
 * the Responses API's typed SSE events. Pure translations of bytes to
 * bytes: no I/O, no clock, no config; the caller (the gateway's
 * /v1/responses route) supplies the time and the ids, and passes a request
 * through untranslated to a deployment that serves the Responses API itself.
 *
 * Statelessness is the line: a request that needs state the gateway does
 * not keep (previous_response_id, conversation, background, stored items,
 * reasoning items, include[]) or a built-in tool (web_search, file_search,
 * ...) is refused with a 400 naming the field; the rest maps.
 *
 * Every output goes into a caller's bounded sl_buf through the JSON writer
 * (UV_ENOBUFS past its max, never more memory); inputs are read with the
 * repository's scanner, and anything that is not what OpenAI documents is
 * refused or answered with an error event, never a crash.
 *
 * The table of what maps, what is dropped and what is refused is in
 * docs/providers.md ("The Responses API"). Modules:
 *   responses_request.c   Responses request -> chat.completions request
 *   responses_response.c  chat.completion -> Response object
 *   responses_stream.c    chat.completion.chunk events -> Responses events */
#ifndef SL_PROVIDERS_RESPONSES_FRONT_H
#define SL_PROVIDERS_RESPONSES_FRONT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/errclass.h"
#include "core/str.h"
#include "providers/xlat.h"

#define SL_RESPONSES_PATH "/v1/responses"

/* ---- request ---- */

struct sl_responses_req_opts {
    const char *model; /* the upstream model name; NULL: the request's "model" */
};

struct sl_responses_req_info {
    int stream;          /* "stream": true */
    struct sl_str model; /* the request's model: escaped string content, a view into body */
};

/* Translates a Responses API request body into a chat.completions request
 * body, appended to out, and writes to echo the JSON object of the request
 * fields a Response object repeats (instructions, max_output_tokens,
 * metadata, parallel_tool_calls, temperature, text, tool_choice, tools,
 * top_p, truncation, user, ...): the caller keeps those bytes for
 * sl_responses_response() or sl_responses_stream_init(), and the body may
 * go. A streamed request asks for the usage chunk (stream_options.
 * include_usage) always: response.completed carries the usage.
 *
 * Returns 0; UV_EINVAL when the request cannot be served through chat
 * completions (a 400 "invalid_request_error": *refusal says why and which
 * field); UV_ENOBUFS when out or echo would pass its max; UV_ENOMEM. On
 * failure out and echo may hold partial text. */
int sl_responses_request(const char *body, size_t len, const struct sl_responses_req_opts *opts,
                         struct sl_buf *out, struct sl_buf *echo,
                         struct sl_responses_req_info *info, struct sl_xlat_refusal *refusal);

/* What the gateway needs of a Responses request that goes upstream as it
 * was sent (a deployment that serves the Responses API itself): its model
 * (escaped string content, a view into body), whether it streams, and
 * max_output_tokens (-1 when absent). Nothing else is checked: the
 * upstream judges the rest. Returns 0, or UV_EINVAL with *refusal (not a
 * JSON object; no model). */
struct sl_responses_peek {
    struct sl_str model;
    int stream;
    long max_output_tokens;
};
int sl_responses_peek(const char *body, size_t len, struct sl_responses_peek *out,
                      struct sl_xlat_refusal *refusal);

/* ---- response ---- */

/* The envelope of the Response object: what the chat side does not say. */
struct sl_responses_ctx {
    const char *id;       /* "resp_..."; NULL: "resp_" + the completion's id */
    const char *model;    /* the model the client sees; NULL: the completion's */
    long long created_at; /* Unix time */
    const char *echo;     /* sl_responses_request()'s echo object (NULL: none) */
    size_t echo_len;
};

/* Translates a chat.completion (a 200 body) into a Response object,
 * appended to out: status "completed", or "incomplete" with
 * incomplete_details.reason "max_output_tokens" (finish_reason length) or
 * "content_filter"; output a message item when there is text (or a
 * refusal) and one function_call item per tool call; usage in the
 * Responses API's names. Sets *usage when not NULL. Returns 0; UV_EINVAL
 * when the body is not a chat.completion (the caller answers 502);
 * UV_ENOBUFS; UV_ENOMEM. Error bodies need no translation: the Responses
 * API's errors are chat completions' ({"error": {message, type, param,
 * code}}). */
int sl_responses_response(const char *body, size_t len, const struct sl_responses_ctx *ctx,
                          struct sl_buf *out, struct sl_xlat_usage *usage);

/* ---- stream ----
 *
 * A stateful translator fed one chat SSE event's data at a time (a
 * chat.completion.chunk, an error event's {"error": ...} or "[DONE]") that
 * appends the Responses API's events ("event: TYPE\ndata: {"type": TYPE,
 * ..., "sequence_number": N}\n\n", N from 0):
 *   the first chunk        response.created, response.in_progress
 *   content deltas         (first) response.output_item.added (a message
 *                          item), response.content_part.added; then
 *                          response.output_text.delta
 *   a new tool call        closes the item open (its .done events), then
 *                          response.output_item.added (a function_call item)
 *   arguments pieces       response.function_call_arguments.delta
 *   finish_reason          the open item's .done events (output_text.done,
 *                          content_part.done, output_item.done, or
 *                          function_call_arguments.done, output_item.done)
 *   the usage chunk after the finish, or "[DONE]"
 *                          response.completed or response.incomplete, with
 *                          the whole Response (output and usage); the end
 *   an error event         "error" (code, message, param), then
 *                          response.failed once response.created was sent
 * The Responses API has no [DONE]: the stream ends after the last event.
 *
 * Memory: the .done events and the final Response repeat every text and
 * every arguments string whole, so the translator keeps them (escaped, as
 * they came) in a buffer bounded by `max_text`; a stream whose texts pass
 * it fails with an error event (code "response_too_large"). A tool call's
 * pieces must come in order: a piece for a call already closed (a later
 * call was started) breaks the protocol. Release with
 * sl_responses_stream_release(). */

enum sl_responses_stream_state {
    SL_RS_START,  /* no chunk yet: nothing written */
    SL_RS_OPEN,   /* response.created written */
    SL_RS_FINISH, /* finish_reason seen: waiting for the usage chunk or [DONE] */
    SL_RS_DONE,   /* response.completed / incomplete written */
    SL_RS_FAILED  /* an error event written (or out was full) */
};

struct sl_responses_item; /* an output item so far (responses_stream.c) */

struct sl_responses_stream {
    enum sl_responses_stream_state state;
    long long created_at;
    unsigned long seq; /* the next sequence_number */
    char id[80];       /* the response id ("resp_..."), escaped */
    char suffix[64];   /* what the item ids share with it */
    char model[128];   /* escaped JSON string content */
    const char *echo;  /* the caller's, alive for the stream */
    size_t echo_len;
    struct sl_buf acc; /* texts, call ids, names and arguments, escaped */
    struct sl_responses_item *items;
    size_t nitems, cap_items;
    int open;   /* the item being written, or -1 */
    int tools;  /* tool calls seen */
    int reason; /* how the chat side finished (0: completed; responses_int.h) */
    struct sl_xlat_usage usage;
    unsigned long reasoning_tokens;
    enum sl_err err; /* SL_RS_FAILED: the class of the failure */
};

/* `id`: the response id (NULL: "resp_" + the first chunk's id); `model`:
 * the model the client sees (NULL: the chunks'); `created_at`: Unix time;
 * echo: sl_responses_request()'s echo (the caller keeps it alive until the
 * stream is released); max_text: the bound of the kept texts (e.g. the
 * gateway's response size limit). */
void sl_responses_stream_init(struct sl_responses_stream *s, const char *id, const char *model,
                              long long created_at, const char *echo, size_t echo_len,
                              size_t max_text);
void sl_responses_stream_release(struct sl_responses_stream *s);

/* One chat event's data. Appends the events it makes to out. Returns 0;
 * UV_EPROTO when the data breaks the protocol (not JSON, a piece of a
 * closed tool call): error events were appended and the state is
 * SL_RS_FAILED (err SL_E_BAD_GATEWAY); UV_E2BIG when the kept texts would
 * pass max_text: error events appended, SL_RS_FAILED, err SL_E_TOO_LARGE;
 * UV_ENOBUFS / UV_ENOMEM when out is full: out is left as it was before
 * the call (whole events only), SL_RS_FAILED, err SL_E_TOO_LARGE (size out
 * above max_text: response.completed repeats every text). An upstream
 * error event returns 0 with the state SL_RS_FAILED and err
 * SL_E_SERVER_ERROR (SL_E_RATE_LIMITED for a rate limit). Data after the
 * end is ignored. */
int sl_responses_stream_event(struct sl_responses_stream *s, const char *data, size_t len,
                              struct sl_buf *out);

/* The upstream body ended: 0 when the response was complete (or failed
 * with an error event already written), UV_EOF when it was cut before (the
 * caller ends the client's stream as for any cut). */
int sl_responses_stream_end(const struct sl_responses_stream *s);

#endif
