/* The Bedrock provider adapter: the AWS Bedrock Runtime's Converse API
 * (POST /model/{modelId}/converse, and /converse-stream for a stream)
 * behind an OpenAI chat.completions front, as pure translations of bytes
 * to bytes. No I/O, no clock, no config, no signing: the caller (the
 * gateway's upstream attempt) chooses the model id (it goes in the path,
 * not the body), signs the request (providers/sigv4.h), decodes the
 * stream's binary framing (providers/eventstream.h) and feeds the
 * responses, messages and errors back here with the time, the id and the
 * model name the client should see.
 *
 * Every output is written with the JSON writer (http/json_write.h) into a
 * caller's bounded sl_buf; a translation that would pass the buffer's max
 * fails with UV_ENOBUFS and never grows memory past it. Inputs are read
 * with the repository's scanner (http/json_scan.h, json_walk.h): an input
 * that is not what AWS documents is refused, never a crash.
 *
 * What maps to what, what is dropped and what is refused with a 400 is the
 * table in docs/bedrock.md ("The Converse adapter"). Modules:
 *   bedrock_request.c   OpenAI request -> Converse request
 *   bedrock_response.c  Converse response -> OpenAI chat.completion
 *   bedrock_stream.c    ConverseStream messages -> chat.completion.chunk events
 *   bedrock_error.c     Bedrock errors and exceptions -> OpenAI errors and classes */
#ifndef SL_PROVIDERS_BEDROCK_H
#define SL_PROVIDERS_BEDROCK_H

#include <stddef.h>
#include <uv.h>

#include "core/buf.h"
#include "core/errclass.h"
#include "core/str.h"
#include "providers/eventstream.h"
#include "providers/sigv4.h"
#include "providers/xlat.h"

/* SigV4's service name for the Bedrock Runtime. */
#define SL_BEDROCK_SERVICE "bedrock"

/* ---- request ---- */

struct sl_bedrock_req_opts {
    long default_max_tokens; /* inferenceConfig.maxTokens when the request has
                                neither max_tokens nor max_completion_tokens;
                                0: leave it out (the model's default) */
};

/* What the caller needs later from the request it translated. */
struct sl_bedrock_req_info {
    int stream;        /* "stream": true: POST .../converse-stream */
    int include_usage; /* "stream_options": {"include_usage": true} */
};

/* Translates an OpenAI chat.completions request body into a Converse
 * request body, appended to out (the request's "model" is not in it: the
 * caller puts its model id in the path). Returns 0; UV_EINVAL when the
 * request cannot be served by Converse (a 400 "invalid_request_error":
 * *refusal says why and which field); UV_ENOBUFS when out would pass its
 * max; UV_ENOMEM. On failure out may hold a partial body. */
int sl_bedrock_request(const char *body, size_t len, const struct sl_bedrock_req_opts *opts,
                       struct sl_buf *out, struct sl_bedrock_req_info *info,
                       struct sl_xlat_refusal *refusal);

/* Appends the wire path "/model/{modelId}/converse" (or "/converse-stream"),
 * the model id percent-encoded once (its ':' as %3A: SigV4 encodes the path
 * again when signing). Returns 0, UV_EINVAL for an empty id, UV_ENOBUFS or
 * UV_ENOMEM. (Inline: the config's pure part builds the URLs with it.) */
static inline int sl_bedrock_path(struct sl_buf *out, const char *model_id, size_t len, int stream)
{
    if (len == 0)
        return UV_EINVAL;
    int rc = sl_buf_append(out, "/model/", 7);
    if (rc == 0)
        rc = sl_sigv4_uri_encode(out, model_id, len, 0);
    if (rc == 0)
        rc = stream ? sl_buf_append(out, "/converse-stream", 16)
                    : sl_buf_append(out, "/converse", 9);
    return rc;
}

/* ---- response ---- */

/* Converse's own counts (inputTokens excludes the cached ones). */
struct sl_bedrock_tokens {
    unsigned long input, output, cache_write, cache_read;
};

/* Translates a Converse response (a 200 body) into an OpenAI
 * chat.completion, appended to out. `id`: the completion's id (Converse has
 * none: the caller makes one, e.g. from x-amzn-RequestId; NULL:
 * "chatcmpl-bedrock"); `model`: the name the client sees (NULL: ""),
 * `created`: the Unix time to report. Sets *usage when not NULL. Returns 0;
 * UV_EINVAL when the body is not a Converse response (the caller answers
 * 502); UV_ENOBUFS; UV_ENOMEM. */
int sl_bedrock_response(const char *body, size_t len, const char *id, const char *model,
                        long long created, struct sl_buf *out, struct sl_xlat_usage *usage);

/* OpenAI's finish_reason for a Converse stopReason (a view, no quotes):
 * end_turn, stop_sequence -> "stop"; max_tokens,
 * model_context_window_exceeded -> "length"; tool_use -> "tool_calls";
 * guardrail_intervened, content_filtered -> "content_filter"; anything
 * else (malformed_model_output, ...) -> "stop". */
const char *sl_bedrock_finish_reason(const char *stop_reason, size_t len);

/* ---- stream ----
 *
 * A stateful translator fed one decoded event-stream message at a time
 * (its :message-type, its :event-type or :exception-type, its JSON
 * payload) that appends the OpenAI chat.completion.chunk events
 * ("data: {...}\n\n") each one makes:
 *   messageStart        the role chunk ({"role":"assistant","content":""})
 *   contentBlockStart   start.toolUse: a tool_calls delta with the call's
 *                       index, id, type and name
 *   contentBlockDelta   delta.text: a content delta; delta.toolUse.input: a
 *                       tool_calls delta with an arguments piece;
 *                       reasoningContent and others: nothing
 *   contentBlockStop    nothing (the block is closed)
 *   messageStop         the chunk with finish_reason (from stopReason)
 *   metadata            the usage chunk when asked, then "data: [DONE]"
 *                       (Bedrock sends the usage after messageStop)
 *   exception / error   an OpenAI error event; the stream is over
 * Memory is the struct itself: nothing is buffered across messages (a text
 * or JSON piece is copied straight from the payload into out). */

enum sl_bedrock_stream_state {
    SL_BS_START,   /* waiting for messageStart */
    SL_BS_MESSAGE, /* inside the message */
    SL_BS_STOPPED, /* messageStop seen (finish chunk written): waiting for metadata */
    SL_BS_DONE,    /* messageStop and metadata seen: [DONE] written */
    SL_BS_FAILED   /* an exception, or a message that broke the protocol */
};

struct sl_bedrock_stream {
    enum sl_bedrock_stream_state state;
    int include_usage;
    long long created;
    char id[128];    /* escaped JSON string content, in every chunk */
    char model[128]; /* escaped JSON string content */
    long tool_block; /* contentBlockIndex of the open toolUse block, or -1 */
    int tool_index;  /* its OpenAI tool_calls index */
    int tools;       /* toolUse blocks seen */
    int metadata;    /* a metadata message was seen */
    const char *finish_reason;
    struct sl_bedrock_tokens tokens;
    struct sl_xlat_usage usage; /* from the metadata message */
    enum sl_err err;            /* SL_BS_FAILED: the class of the error */
};

/* `id`: the chunks' id (NULL: "chatcmpl-bedrock"); `model`: the name the
 * client sees (NULL: ""); `created`: the Unix time in every chunk;
 * include_usage: the client asked for the usage chunk. */
void sl_bedrock_stream_init(struct sl_bedrock_stream *s, const char *id, const char *model,
                            long long created, int include_usage);

/* One message: its :message-type ("event", "exception" or "error"), its
 * :event-type or :exception-type (or :error-code), and its payload.
 * Appends what it makes to out. Returns 0; UV_EPROTO when the message
 * breaks the protocol (a payload that is not JSON, a delta before
 * messageStart): an OpenAI error event was appended and the state is
 * SL_BS_FAILED; UV_ENOBUFS / UV_ENOMEM when out is full: out is left as it
 * was before the message (whole events only), the state is SL_BS_FAILED
 * and s->err SL_E_TOO_LARGE. An exception returns 0 with the state
 * SL_BS_FAILED and s->err its class. Messages after the end are ignored. */
int sl_bedrock_stream_event(struct sl_bedrock_stream *s, struct sl_str message_type,
                            struct sl_str type, const char *payload, size_t len,
                            struct sl_buf *out);

/* The same for a message as the event-stream decoder delivers it (the
 * type is :event-type, :exception-type or the :error-code header). */
int sl_bedrock_stream_message(struct sl_bedrock_stream *s, const struct sl_es_message *m,
                              struct sl_buf *out);

/* The upstream body ended. 0 when the message was complete, or failed with
 * an exception already relayed; when messageStop was seen but no metadata,
 * the usage chunk (if asked) and "data: [DONE]" are appended first and 0
 * returned (the stream is complete, its usage unknown); UV_EOF when it was
 * cut before messageStop (the caller ends the client's stream as for any
 * cut); UV_ENOBUFS / UV_ENOMEM when out is full. */
int sl_bedrock_stream_end(struct sl_bedrock_stream *s, struct sl_buf *out);

/* ---- errors ---- */

/* What a Bedrock error means to the gateway and to an OpenAI client. */
struct sl_bedrock_error {
    enum sl_err err;  /* the class the retry engine decides on */
    int status;       /* the HTTP status for the client */
    const char *type; /* OpenAI's error type */
    const char *code; /* OpenAI's error code, or NULL */
};

/* Classifies a Bedrock error type: the x-amzn-ErrorType header's value
 * ("ThrottlingException:http://internal.amazon.com/coral/...": the part
 * before ':' counts) or a stream's :exception-type ("throttlingException":
 * the first letter's case does not matter), with the upstream's HTTP status
 * as the fallback for a missing or unknown type (0 when there is none).
 * ThrottlingException is SL_E_RATE_LIMITED; ServiceUnavailableException,
 * ModelNotReadyException, InternalServerException, ModelTimeoutException,
 * ModelErrorException and ModelStreamErrorException are transient too. */
struct sl_bedrock_error sl_bedrock_error_class(const char *type, size_t len, int status);

/* Translates a Bedrock error response (status, the x-amzn-ErrorType
 * header's value or NULL, and the body, which may be anything: a proxy's
 * HTML too) into an OpenAI error body appended to out, the upstream's
 * "message" (or "Message") carried through. Sets *cls. Returns 0,
 * UV_ENOBUFS or UV_ENOMEM. */
int sl_bedrock_error(int status, const char *error_type, size_t type_len, const char *body,
                     size_t len, struct sl_buf *out, struct sl_bedrock_error *cls);

#endif
