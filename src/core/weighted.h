/* A weighted choice among named outcomes, parsed from a spec such as
 * "429:3,503:1,timeout" (NAME[:WEIGHT], weight 1 by default, relative). The
 * simulator's error mix and the mock's fault mix are both this. */
#ifndef SL_WEIGHTED_H
#define SL_WEIGHTED_H

#include <stddef.h>

#include "core/rng.h"

#define SL_WEIGHTED_MAX 32

struct sl_weighted {
    int count;
    int ids[SL_WEIGHTED_MAX];
    double cumulative[SL_WEIGHTED_MAX]; /* normalised, the last is 1 */
};

/* Maps a name (not NUL-terminated) to an id in [0, SL_WEIGHTED_MAX), or -1. */
typedef int (*sl_weighted_lookup)(const char *name, int len);

/* Returns 0, or -1 with a one-line reason in err; `known` lists the valid
 * names for that message. */
int sl_weighted_parse(struct sl_weighted *w, const char *spec, sl_weighted_lookup lookup,
                      const char *known, char *err, size_t err_size);

int sl_weighted_draw(const struct sl_weighted *w, struct sl_rng *rng);

/* {"name":share,...} */
int sl_weighted_json(const struct sl_weighted *w, const char *(*name)(int id), char *buf,
                     size_t size);

#endif
