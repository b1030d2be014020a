/* Prompt tokens of an OpenAI-format request body, counted the way OpenAI
 * bills them, before the request is sent. CPU work: call it on the thread
 * pool. See docs/tokens.md for the rules and what is an estimate. */
#ifndef SL_REQUEST_TOKENS_H
#define SL_REQUEST_TOKENS_H

#include <stddef.h>

#include "token/tokenizer.h"

/* The encoding of `model` (a provider prefix such as "openai/" is
 * ignored): 1 when the model is known to use it, 0 when it is not an
 * OpenAI model and o200k_base stands in as an estimate. */
int sl_tok_encoding_for_model(const char *model, enum sl_tok_encoding_id *out);

/* Prompt tokens of `body` (valid JSON, already scanned) sent to endpoint
 * "chat/completions", "completions" or "embeddings" for `model`. *exact
 * (may be NULL) is 1 when the count is what OpenAI bills for this model,
 * 0 when some of it is an estimate (another provider's model, image parts,
 * tool calls in the history). */
size_t sl_tok_count_request(const char *endpoint, const char *model, const char *body, size_t len,
                            int *exact);

#endif
