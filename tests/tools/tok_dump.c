/* Encodes records read from stdin and writes their token ids to stdout,
 * for the reference test (tests/tokenizer/reference.js). Records in: a
 * 4-byte little-endian length, then that many bytes. Out: per record, a
 * 4-byte count, then the ids, all little-endian uint32.
 *
 *   tok_dump ENCODING < records > ids
 *   tok_dump --request ENDPOINT MODEL < bodies > counts
 * The second form counts each record as a request body (request_tokens.c)
 * and writes two uint32 per record: the count and whether it is exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token/request_tokens.h"
#include "token/tokenizer.h"

/* Reads one record into *text; 1, 0 at the end, -1 if short. */
static int read_record(char **text, uint32_t *len)
{
    if (fread(len, 4, 1, stdin) != 1)
        return 0;
    *text = realloc(*text, *len ? *len : 1);
    if (!*text || fread(*text, 1, *len, stdin) != *len) {
        fprintf(stderr, "tok_dump: short record\n");
        return -1;
    }
    return 1;
}

static int count_requests(const char *endpoint, const char *model)
{
    char *text = NULL;
    uint32_t len;
    int got;
    while ((got = read_record(&text, &len)) == 1) {
        int exact;
        uint32_t out[2] = {(uint32_t)sl_tok_count_request(endpoint, model, text, len, &exact),
                           (uint32_t)exact};
        fwrite(out, 4, 2, stdout);
    }
    free(text);
    return got < 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--request") == 0)
        return count_requests(argv[2], argv[3]);
    enum sl_tok_encoding_id id;
    if (argc < 2 || sl_tok_encoding_parse(argv[1], &id) < 0) {
        fprintf(stderr, "usage: tok_dump cl100k_base|o200k_base < records\n");
        return 2;
    }
    const struct sl_tok_encoding *enc = sl_tok_encoding(id);
    if (!enc) {
        fprintf(stderr, "tok_dump: cannot build %s\n", argv[1]);
        return 1;
    }
    size_t cap = 1 << 16;
    uint32_t *ids = malloc(cap * sizeof *ids);
    char *text = NULL;
    uint32_t len;
    int got = 0;
    while (ids && (got = read_record(&text, &len)) == 1) {
        size_t n = sl_tok_encode(enc, text, len, ids, cap);
        if (n > cap) {
            cap = n;
            free(ids);
            ids = malloc(cap * sizeof *ids);
            if (!ids)
                break;
            sl_tok_encode(enc, text, len, ids, cap);
        }
        uint32_t n32 = (uint32_t)n;
        if (sl_tok_count(enc, text, len) != n) {
            fprintf(stderr, "tok_dump: count and encode disagree\n");
            return 1;
        }
        fwrite(&n32, 4, 1, stdout);
        fwrite(ids, 4, n, stdout);
    }
    free(text);
    free(ids);
    return ids && got == 0 ? 0 : 1;
}
