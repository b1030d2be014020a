/* Shared by the Anthropic adapter's modules and the Messages API front's
 * (not for other callers): the usage counts every translation reads and
 * writes. */
#ifndef SL_PROVIDERS_ANTHROPIC_INT_H
#define SL_PROVIDERS_ANTHROPIC_INT_H

#include "providers/xlat_json.h"
#include "providers/anthropic.h"

/* The shared reading steps and counts (providers/xlat_json.h) under the
 * names this adapter's modules use. */
#define sl__anth_pick        sl_xlat_pick
#define sl__anth_raw         sl_xlat_raw
#define sl__anth_value       sl_xlat_value
#define sl__anth_is          sl_xlat_is
#define sl__anth_count       sl__xlat_count
#define sl__anth_usage_write sl__xlat_usage_write

/* Updates t with the counts a "usage" object (its text) has. */
void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t);
struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t);

/* The Messages front (messages_*.c): an OpenAI usage object (its text)
 * read into u (the members present; cached capped to prompt), and u
 * written as Anthropic's usage object (input_tokens without the cached
 * ones, which are cache_read_input_tokens). */
void sl__msg_usage_read(struct sl_str usage, struct sl_xlat_usage *u);
void sl__msg_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);
/* Anthropic's error object {"type":"error","error":{type, message}} for an
 * OpenAI error (status and body, or the data of a stream's error event
 * with status 0), as a value. Sets *cls. */
struct sl_messages_error;
void sl__msg_error_write(struct sl_jw *w, int status, const char *body, size_t len,
                         struct sl_messages_error *cls);

#endif
