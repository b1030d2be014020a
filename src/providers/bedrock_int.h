/* Shared by the Bedrock adapter's modules (not for other callers). */
#ifndef SL_PROVIDERS_BEDROCK_INT_H
#define SL_PROVIDERS_BEDROCK_INT_H

#include "providers/bedrock.h"
#include "providers/xlat_json.h"

/* Updates t with the counts a "usage" object (its text) has. */
void sl__bedrock_tokens_read(struct sl_str usage, struct sl_bedrock_tokens *t);
struct sl_xlat_usage sl__bedrock_usage_of(const struct sl_bedrock_tokens *t);

/* An exception message of a stream (its :exception-type and payload) as
 * one OpenAI error event ("data: {...}\n\n"). Sets *cls. */
int sl__bedrock_error_event(struct sl_str type, const char *payload, size_t len, struct sl_buf *out,
                            struct sl_bedrock_error *cls);

#endif
