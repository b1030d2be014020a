/* The tokenizer's own invariants (exactness against the reference is
 * tests/tokenizer/reference.js): known ids, count == encode, decoding the
 * ids gives back the text (with invalid UTF-8 replaced by U+FFFD), and a
 * megabyte piece takes the heap merge and still round-trips. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "token/request_tokens.h"
#include "token/tokenizer.h"

static const struct sl_tok_encoding *enc(enum sl_tok_encoding_id id)
{
    const struct sl_tok_encoding *e = sl_tok_encoding(id);
    cr_assert_not_null(e);
    return e;
}

static void expect_ids(enum sl_tok_encoding_id id, const char *text, const uint32_t *want, size_t n)
{
    uint32_t got[64];
    size_t count = sl_tok_encode(enc(id), text, strlen(text), got, 64);
    cr_assert_eq(count, n, "%s: %zu tokens, want %zu", text, count, n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(got[i], want[i], "%s: token %zu is %u, want %u", text, i, got[i], want[i]);
    cr_assert_eq(sl_tok_count(enc(id), text, strlen(text)), n);
}

/* Ids from the reference (npm tiktoken 1.0.22, encode_ordinary). */
Test(tokenizer, known_ids)
{
    expect_ids(SL_TOK_O200K_BASE, "Hello world", (uint32_t[]){13225, 2375}, 2);
    expect_ids(SL_TOK_CL100K_BASE, "hello world", (uint32_t[]){15339, 1917}, 2);
    /* special tokens are ordinary text */
    expect_ids(SL_TOK_O200K_BASE, "<|endoftext|>", (uint32_t[]){27, 91, 419, 1440, 919, 91, 29}, 7);
    expect_ids(SL_TOK_CL100K_BASE, "", NULL, 0);
}

Test(tokenizer, names)
{
    enum sl_tok_encoding_id id;
    cr_assert_eq(sl_tok_encoding_parse("o200k_base", &id), 0);
    cr_assert_eq(id, SL_TOK_O200K_BASE);
    cr_assert_str_eq(sl_tok_encoding_name(SL_TOK_CL100K_BASE), "cl100k_base");
    cr_assert_eq(sl_tok_encoding_parse("p50k_base", &id), -1);
}

/* Decodes ids back to bytes and compares with `want`. */
static void expect_round_trip(const struct sl_tok_encoding *e, const char *text, size_t len,
                              const char *want, size_t want_len)
{
    size_t n = sl_tok_count(e, text, len);
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    cr_assert_eq(sl_tok_encode(e, text, len, ids, n), n);
    char *back = malloc(want_len + 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const uint8_t *b = sl_tok_token_bytes(e, ids[i], &k);
        cr_assert_not_null(b);
        cr_assert_leq(at + k, want_len, "decoded past the text");
        memcpy(back + at, b, k);
        at += k;
    }
    cr_assert_eq(at, want_len);
    cr_assert_eq(memcmp(back, want, want_len), 0);
    free(back);
    free(ids);
}

Test(tokenizer, invalid_utf8_becomes_replacement_characters)
{
    /* one U+FFFD per maximal invalid subpart: a truncated 3-byte sequence
     * is one, a stray continuation byte another, a surrogate three */
    const char in[] = "a\xe4\xb8 b\x80 \xed\xa0\x80!";
    const char out[] = "a\xef\xbf\xbd b\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!";
    for (int id = 0; id < 2; id++) {
        expect_round_trip(enc(id), in, sizeof in - 1, out, sizeof out - 1);
        cr_assert_eq(sl_tok_count(enc(id), in, sizeof in - 1),
                     sl_tok_count(enc(id), out, sizeof out - 1));
    }
}

Test(tokenizer, random_text_round_trips)
{
    struct sl_rng rng;
    sl_rng_seed(&rng, 42, 0);
    static const char *alphabet[] = {"a",
                                     "Z",
                                     " ",
                                     "  ",
                                     "\n",
                                     "\r\n",
                                     "'s",
                                     "1",
                                     "23",
                                     "!",
                                     "/",
                                     "\xc3\xa9",
                                     "\xe4\xb8\xad",
                                     "\xf0\x9f\x98\x80",
                                     "\xcc\x81",
                                     "\t",
                                     "\xe3\x80\x80",
                                     "\xc5\xbf"};
    char text[512];
    for (int i = 0; i < 3000; i++) {
        size_t len = 0, parts = sl_rng_next(&rng) % 60;
        for (size_t k = 0; k < parts; k++) {
            const char *a = alphabet[sl_rng_next(&rng) % (sizeof alphabet / sizeof alphabet[0])];
            memcpy(text + len, a, strlen(a));
            len += strlen(a);
        }
        for (int id = 0; id < 2; id++)
            expect_round_trip(enc(id), text, len, text, len);
    }
}

Test(tokenizer, a_megabyte_piece_round_trips)
{
    /* one piece of 1 MiB (no pre-token boundary inside) takes the heap merge */
    size_t len = 1 << 20;
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = "abcab"[i % 5];
    for (int id = 0; id < 2; id++)
        expect_round_trip(enc(id), text, len, text, len);
    memset(text, ' ', len);
    size_t n = sl_tok_count(enc(SL_TOK_O200K_BASE), text, len);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, len / 8, "a space run merges into long tokens");
    free(text);
}

Test(request_tokens, model_encodings)
{
    enum sl_tok_encoding_id id;
    cr_assert_eq(sl_tok_encoding_for_model("gpt-4o-mini", &id), 1);
    cr_assert_eq(id, SL_TOK_O200K_BASE);
    cr_assert_eq(sl_tok_encoding_for_model("openai/gpt-4.1", &id), 1);
    cr_assert_eq(id, SL_TOK_O200K_BASE);
    cr_assert_eq(sl_tok_encoding_for_model("ft:gpt-3.5-turbo:org::abc", &id), 1);
    cr_assert_eq(id, SL_TOK_CL100K_BASE);
    cr_assert_eq(sl_tok_encoding_for_model("gpt-4-turbo", &id), 1);
    cr_assert_eq(id, SL_TOK_CL100K_BASE);
    cr_assert_eq(sl_tok_encoding_for_model("text-embedding-3-small", &id), 1);
    cr_assert_eq(id, SL_TOK_CL100K_BASE);
    cr_assert_eq(sl_tok_encoding_for_model("claude-sonnet-4", &id), 0, "an estimate");
    cr_assert_eq(id, SL_TOK_O200K_BASE);
}

static size_t count(const char *endpoint, const char *model, const char *body, int *exact)
{
    return sl_tok_count_request(endpoint, model, body, strlen(body), exact);
}

Test(request_tokens, endpoints)
{
    int exact;
    /* "Hello world" is 2 tokens in o200k_base: 3 + 1 ("user") + 2, + 3 */
    cr_assert_eq(count("chat/completions", "gpt-4o",
                       "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Hello world\"}]}",
                       &exact),
                 9);
    cr_assert_eq(exact, 1);
    /* a name costs one more; escapes are decoded before counting */
    cr_assert_eq(count("chat/completions", "gpt-4o",
                       "{\"messages\":[{\"role\":\"user\",\"name\":\"a\","
                       "\"content\":\"Hello\\u0020world\"}]}",
                       &exact),
                 9 + 1 + 1);
    cr_assert_eq(count("completions", "gpt-4o", "{\"prompt\":\"Hello world\"}", &exact), 2);
    cr_assert_eq(count("embeddings", "gpt-4o",
                       "{\"input\":[\"Hello world\",\"Hello world\",[1,2,3]]}", &exact),
                 2 + 2 + 3);
    /* an image part is an estimate */
    cr_assert_eq(count("chat/completions", "gpt-4o",
                       "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                       "\"image_url\":{\"url\":\"x\",\"detail\":\"low\"}}]}]}",
                       &exact),
                 3 + 1 + 85 + 3);
    cr_assert_eq(exact, 0);
    count("chat/completions", "llama-3", "{\"messages\":[]}", &exact);
    cr_assert_eq(exact, 0);
    cr_assert_eq(count("chat/completions", "gpt-4o", "{\"messages\":[]}", &exact), 3);
    cr_assert_eq(count("chat/completions", "gpt-4o", "{}", &exact), 0);
}
