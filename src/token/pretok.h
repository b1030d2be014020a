/* Pre-tokenization: splits text into the pieces BPE then encodes one by
 * one, exactly as tiktoken's regular expressions do for cl100k_base and
 * o200k_base. The expressions are matched by hand (leftmost alternative
 * first, each greedy with the backtracking the regex engine would do), which
 * is both faster than a regex engine and free of one.
 *
 * cl100k_base:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * o200k_base:
 *   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
 *   | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
 *   | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+ */
#ifndef SL_PRETOK_H
#define SL_PRETOK_H

#include <stddef.h>
#include <stdint.h>

enum sl_pretok_rules { SL_PRETOK_CL100K, SL_PRETOK_O200K };

/* The end of the piece that starts at `at` (< len); the text must be valid
 * UTF-8. Every position starts a piece of at least one code point. */
size_t sl_pretok_next(enum sl_pretok_rules rules, const uint8_t *s, size_t len, size_t at);

#endif
