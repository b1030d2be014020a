/* Fuzz target: the tokenizer (src/token/) and the request counter over
 * any bytes.
 *
 * The first byte picks the encoding and the mode. Text mode checks: the
 * count equals the number of ids encode gives; every id is a token; the
 * ids decode to valid UTF-8 that is the input itself when the input is
 * valid UTF-8 (pieces cover the text exactly once, merges lose nothing).
 * Request mode counts the rest as a request body for each endpoint: the
 * JSON cursor must stay inside the input whatever it is given (the gateway
 * hands it scanned JSON, but a cursor that trusts its input is one bug
 * away from an over-read). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "token/request_tokens.h"
#include "token/tokenizer.h"

static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        size_t need = b < 0x80                 ? 0
                      : b >= 0xc2 && b <= 0xdf ? 1
                      : b >= 0xe0 && b <= 0xef ? 2
                      : b >= 0xf0 && b <= 0xf4 ? 3
                                               : 9;
        if (need == 9 || i + need >= n)
            return 0;
        uint8_t lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
        uint8_t hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
        if (need && (s[i + 1] < lo || s[i + 1] > hi))
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum sl_tok_encoding_id id = data[0] & 1 ? SL_TOK_O200K_BASE : SL_TOK_CL100K_BASE;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 2) {
        static const char *const endpoints[] = {"chat/completions", "completions", "embeddings"};
        for (int e = 0; e < 3; e++)
            sl_tok_count_request(endpoints[e], id == SL_TOK_O200K_BASE ? "gpt-4o" : "gpt-4", text,
                                 len, NULL);
        return 0;
    }
    const struct sl_tok_encoding *enc = sl_tok_encoding(id);
    FUZZ_CHECK(enc != NULL);
    size_t n = sl_tok_count(enc, text, len);
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    FUZZ_CHECK(sl_tok_encode(enc, text, len, ids, n) == n);
    /* at most 3 bytes per input byte (U+FFFD for each invalid one) */
    uint8_t *back = malloc(3 * len + 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const uint8_t *b = sl_tok_token_bytes(enc, ids[i], &k);
        FUZZ_CHECK(b != NULL && k > 0 && at + k <= 3 * len);
        memcpy(back + at, b, k);
        at += k;
    }
    FUZZ_CHECK(valid_utf8(back, at));
    if (valid_utf8(data + 1, len))
        FUZZ_CHECK(at == len && memcmp(back, text, len) == 0);
    free(back);
    free(ids);
    return 0;
}
