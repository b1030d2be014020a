/* Shared by the Anthropic adapter's modules (not for other callers); the
 * JSON steps every adapter takes are providers/xlat_json.h's. */
#ifndef SL_PROVIDERS_ANTHROPIC_INT_H
#define SL_PROVIDERS_ANTHROPIC_INT_H

#include "providers/anthropic.h"
#include "providers/xlat_json.h"

/* Updates t with the counts a "usage" object (its text) has. */
void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t);
struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t);

#endif
