/* Shared by the libFuzzer targets in this directory (built by
 * scripts/fuzz.sh with clang, -fsanitize=fuzzer,address,undefined).
 *
 * Every target checks properties, not only "does not crash": an input fed
 * whole and the same input fed in pieces must give the same result, and
 * what a parser reports must stay inside what it was given. A failed check
 * aborts (FUZZ_CHECK), which libFuzzer records as a crash with its input. */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Deterministic split points drawn from the input itself, so that a
 * crashing input reproduces exactly. */
struct fuzz_rng {
    uint64_t s;
};

static inline void fuzz_rng_init(struct fuzz_rng *r, const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    r->s = h | 1;
}

static inline uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* A piece length in [1, max]: mostly small, sometimes large. */
static inline size_t fuzz_piece(struct fuzz_rng *r, size_t max)
{
    if (max <= 1)
        return max;
    uint64_t x = fuzz_rng_next(r);
    size_t n = (x & 3) == 0 ? (size_t)(x >> 8) % max + 1 : (size_t)(x >> 8) % 8 + 1;
    return n < max ? n : max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
