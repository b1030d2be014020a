/* OpenAI's wire format, in one place (the next provider's format gets a
 * module of its own beside it):
 *  - the request shapes that both the gateway and the mock accept: which
 *    endpoint a path is, and the validation of a request body (a JSON
 *    object with a model and the endpoint's input), so that both answer a
 *    bad request with the same status, code and message;
 *  - what the gateway reads from a response: token usage, from a JSON body
 *    or a stream's events, and the stream's end marker;
 *  - error bodies, whole or as one stream event. */
#ifndef SL_OPENAI_H
#define SL_OPENAI_H

#include <stddef.h>

#include "http/json_scan.h"

enum sl_openai_endpoint { SL_OAI_CHAT, SL_OAI_COMPLETIONS, SL_OAI_EMBEDDINGS, SL_OAI__COUNT };

/* "/v1/chat/completions" -> SL_OAI_CHAT, ...; -1 for other paths. */
int sl_openai_endpoint(struct sl_str path);
const char *sl_openai_path(enum sl_openai_endpoint ep);  /* "/v1/chat/completions" */
const char *sl_openai_name(enum sl_openai_endpoint ep);  /* "chat/completions" */
const char *sl_openai_input(enum sl_openai_endpoint ep); /* "messages", "prompt", "input" */

struct sl_openai_req {
    struct sl_json_doc doc;
    struct sl_str model;
    struct sl_json_member input; /* the endpoint's input member */
    int stream;                  /* "stream": true (never for embeddings) */
    long max_tokens;             /* max_tokens or max_completion_tokens (the larger); -1: absent */
    int stream_options;          /* "stream_options" is there */
    int include_usage;           /* and holds "include_usage": true */
};

/* Validates a body. Returns 0, or -1 with a stable error code
 * ("invalid_json", "missing_model", "missing_field") and a one-line message
 * for a 400 answer. */
int sl_openai_parse(const char *body, size_t len, enum sl_openai_endpoint ep,
                    struct sl_openai_req *out, const char **code, char *msg, size_t msg_size);

/* A streamed chat request's body with "stream_options":{"include_usage":
 * true} added (the caller checked it has no stream_options) and, when name
 * is not NULL, its model renamed as sl_openai_with_model does: in a new
 * allocation. Returns 0, or -1 when out of memory. */
int sl_openai_with_usage(const char *body, size_t len, struct sl_str model, const char *name,
                         char **out, size_t *out_len);

/* Whether a chunk is the usage-only chunk of an include_usage stream
 * ("choices": [] and a usage object). */
int sl_openai_is_usage_chunk(const char *data, size_t len);

/* The request body with its "model" value (`model`, a view into body)
 * replaced by `name`, in a new allocation (*out, the caller frees it).
 * Returns 0, or -1 when out of memory. */
int sl_openai_with_model(const char *body, size_t len, struct sl_str model, const char *name,
                         char **out, size_t *out_len);

/* Token usage from a response body or one stream event's data: the last
 * "usage" key's object (chat's prompt/completion_tokens, or the Responses
 * API's input/output_tokens). Only that object is parsed, not the whole text.
 * Sets *prompt / *completion for the members present, leaves them else. */
void sl_openai_usage(const char *text, size_t len, unsigned *prompt, unsigned *completion);

/* A stream event's data is the end marker "[DONE]". */
int sl_openai_is_done(const char *data, size_t len);

/* An error: {"error":{"message","type","param","code"}} (code NULL: null),
 * truncated to `size` (at most size - 1 bytes and a NUL). Returns its length.
 * sl_openai_error_event writes it as one stream event ("data: ...\n\n"). */
size_t sl_openai_error_body(char *out, size_t size, const char *type, const char *code,
                            const char *message);
size_t sl_openai_error_event(char *out, size_t size, const char *type, const char *code,
                             const char *message);

#endif
