/* A small, fast, seedable random number generator (splitmix64).
 *
 * Every simulated request owns its own 8-byte stream derived from the run
 * seed and its id, so a run is reproducible whatever order the event loop
 * happens to complete things in. */
#ifndef SL_RNG_H
#define SL_RNG_H

#include <stdint.h>

struct sl_rng {
    uint64_t state;
};

static inline uint64_t sl_rng_next(struct sl_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double sl_rng_uniform(struct sl_rng *rng)
{
    return (double)(sl_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi]. */
static inline double sl_rng_range(struct sl_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * sl_rng_uniform(rng);
}

static inline void sl_rng_seed(struct sl_rng *rng, uint64_t seed, uint64_t stream)
{
    rng->state = seed ^ (stream * 0xd1342543de82ef95ULL);
    (void)sl_rng_next(rng);
}

#endif
