/* Byte-level BPE token counts that match OpenAI's tiktoken exactly, for
 * cl100k_base (GPT-4, GPT-3.5) and o200k_base (GPT-4o, o1, o3, GPT-4.1...).
 *
 * The rank tables are compiled into the binary (data/tokenizer/, from the
 * npm tiktoken package) and built into hash tables on first use, once per
 * process, from whichever thread asks first: the gateway counts on the
 * thread pool, never on the loop. After that an encoding is read-only and
 * shared by every thread.
 *
 * Text is encoded as tiktoken's encode_ordinary: special-token strings such
 * as "<|endoftext|>" are ordinary text. Invalid UTF-8 is first replaced by
 * U+FFFD, one per maximal invalid subpart (as a JavaScript TextDecoder does,
 * and so as the reference sees bytes that reach it through a JS string). */
#ifndef SL_TOKENIZER_H
#define SL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum sl_tok_encoding_id { SL_TOK_CL100K_BASE, SL_TOK_O200K_BASE };

struct sl_tok_encoding;

/* The encoding, built on first use (tens of milliseconds); NULL only if
 * memory ran out. Thread-safe. */
const struct sl_tok_encoding *sl_tok_encoding(enum sl_tok_encoding_id id);
const char *sl_tok_encoding_name(enum sl_tok_encoding_id id);
/* "cl100k_base" or "o200k_base" to its id: 0, or -1 if unknown. */
int sl_tok_encoding_parse(const char *name, enum sl_tok_encoding_id *out);

/* The number of tokens of `text`. */
size_t sl_tok_count(const struct sl_tok_encoding *enc, const char *text, size_t len);

/* Encodes `text`: writes up to `cap` token ids to `out` and returns how
 * many the text has (more than cap means out holds only the first cap). */
size_t sl_tok_encode(const struct sl_tok_encoding *enc, const char *text, size_t len, uint32_t *out,
                     size_t cap);

/* The bytes of token `id` (NULL if out of range). */
const uint8_t *sl_tok_token_bytes(const struct sl_tok_encoding *enc, uint32_t id, size_t *len);

#endif
