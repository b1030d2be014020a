/* Shared by the Responses front's modules (not for other callers): the
 * Response object's pieces that the JSON answer and the stream's final
 * events both write, so that the two shapes cannot drift apart. Every text
 * argument is escaped JSON string content (copied, never decoded). */
#ifndef SL_PROVIDERS_RESPONSES_INT_H
#define SL_PROVIDERS_RESPONSES_INT_H

#include "providers/responses_front.h"
#include "providers/xlat_json.h"

/* How the chat side finished, in the Responses API's terms. */
enum sl__resp_finish { SL__RESP_COMPLETED, SL__RESP_MAX_TOKENS, SL__RESP_FILTERED };

/* A chat finish_reason (a view, no quotes): length -> max tokens,
 * content_filter -> filtered, anything else -> completed. */
enum sl__resp_finish sl__resp_finish_of(struct sl_str finish_reason);

/* An escaped span. */
struct sl__resp_text {
    const char *ptr;
    size_t len;
};

/* The Response object up to "output": {"id", "object", "created_at",
 * "status", "error", "incomplete_details", "model", the echo members, ...
 * `status` "in_progress" / "completed" / "incomplete" / "failed"; finish
 * gives incomplete_details; error_message (escaped, may be NULL) gives
 * error {code: "server_error", message}. The caller writes "output" and
 * ends with sl__resp_close. */
void sl__resp_open(struct sl_jw *w, const char *id, long long created_at, const char *status,
                   enum sl__resp_finish finish, const char *error_message, const char *model,
                   const char *echo, size_t echo_len);

/* "usage" (or null when usage is NULL), then the closing brace. */
void sl__resp_close(struct sl_jw *w, const struct sl_xlat_usage *usage,
                    unsigned long reasoning_tokens);

/* An item id: prefix "_" suffix "_" index ("msg_abc_0"), escaped. */
void sl__resp_item_id(char *out, size_t size, const char *prefix, const char *suffix, size_t index);

/* A message item {id, type: message, status, role: assistant, content:
 * [output_text (when text.ptr), refusal (when refusal.ptr)]}. */
void sl__resp_message_item(struct sl_jw *w, const char *id, const char *status,
                           struct sl__resp_text text, struct sl__resp_text refusal);

/* A function_call item {id, type, status, arguments, call_id, name}. */
void sl__resp_call_item(struct sl_jw *w, const char *id, const char *status,
                        struct sl__resp_text call_id, struct sl__resp_text name,
                        struct sl__resp_text arguments);

/* Reads a chat usage object (its text) into *u and the reasoning tokens. */
void sl__resp_usage_read(struct sl_str usage, struct sl_xlat_usage *u, unsigned long *reasoning);

/* The part of a chat completion id that names the response: its
 * [A-Za-z0-9_-] characters after a "chatcmpl-" prefix, at most size - 1
 * ("gen" when none is left). */
void sl__resp_suffix(struct sl_str chat_id, char *out, size_t size);

#endif
