/* The error mix of the flaky processor: which class a failed attempt has.
 *
 * A spec is a comma-separated list of CLASS[:WEIGHT], where CLASS is a name
 * ("rate_limited") or an HTTP status ("429"), and WEIGHT a non-negative
 * number (default 1). Weights are relative: "429:3,503:1" makes three
 * failures in four rate limits. */
#ifndef SL_ERROR_MIX_H
#define SL_ERROR_MIX_H

#include <stddef.h>

#include "core/errclass.h"
#include "core/weighted.h"

#define SL_ERROR_MIX_DEFAULT "rate_limited:1,unavailable:1,timeout:1"

struct sl_error_mix {
    struct sl_weighted w; /* ids are enum sl_err */
};

/* Returns 0, or -1 with a one-line reason in err. */
int sl_error_mix_parse(struct sl_error_mix *mix, const char *spec, char *err, size_t err_size);

enum sl_err sl_error_mix_draw(const struct sl_error_mix *mix, struct sl_rng *rng);

/* Writes the normalised mix as a JSON object ({"rate_limited":0.5,...}). */
int sl_error_mix_json(const struct sl_error_mix *mix, char *buf, size_t size);

#endif
