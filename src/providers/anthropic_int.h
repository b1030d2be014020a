/* Shared by the Anthropic adapter's modules (not for other callers): the
 * small JSON reading steps every translation takes. */
#ifndef SL_PROVIDERS_ANTHROPIC_INT_H
#define SL_PROVIDERS_ANTHROPIC_INT_H

#include "providers/anthropic.h"
#include "providers/xlat_json.h"

/* The shared helpers under their old names (providers/xlat_json.h). */
#define sl__anth_pick  sl__xlat_pick
#define sl__anth_raw   sl__xlat_raw
#define sl__anth_value sl__xlat_value
#define sl__anth_is    sl__xlat_is

/* Updates t with the counts a "usage" object (its text) has. */
void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t);
struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t);
#define sl__anth_usage_write sl__xlat_usage_write

#endif
