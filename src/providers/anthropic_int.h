/* Shared by the Anthropic adapter's modules (not for other callers): the
 * usage counts every translation reads and writes. */
#ifndef SL_PROVIDERS_ANTHROPIC_INT_H
#define SL_PROVIDERS_ANTHROPIC_INT_H

#include "providers/xlat_json.h"
#include "providers/anthropic.h"

/* The shared reading steps (providers/xlat_json.h) under the names this
 * adapter's modules use. */
#define sl__anth_pick  sl_xlat_pick
#define sl__anth_raw   sl_xlat_raw
#define sl__anth_value sl_xlat_value
#define sl__anth_is    sl_xlat_is

/* Updates t with the counts a "usage" object (its text) has. */
void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t);
struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t);
/* The OpenAI usage object, as a value. */
void sl__anth_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);

#endif
