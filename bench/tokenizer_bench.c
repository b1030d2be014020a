/* Token counting throughput of sluice's tokenizer on one thread: the
 * corpus file is cut into chunks (about CHUNK bytes, ended at a newline,
 * the size of a chat message), each counted with sl_tok_count; best of
 * ROUNDS. bench/tokenizer.sh runs it next to the npm tiktoken reference
 * (bench/tokenizer_bench.js) on the same corpus and the same core.
 *
 *   tokenizer_bench ENCODING FILE [CHUNK] [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token/tokenizer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    enum sl_tok_encoding_id id;
    if (argc < 3 || sl_tok_encoding_parse(argv[1], &id) < 0) {
        fprintf(stderr, "usage: tokenizer_bench cl100k_base|o200k_base FILE [CHUNK] [ROUNDS]\n");
        return 2;
    }
    size_t chunk = argc > 3 ? strtoul(argv[3], NULL, 10) : 4096;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(len ? len : 1);
    if (!text || fread(text, 1, len, f) != len) {
        fprintf(stderr, "tokenizer_bench: cannot read %s\n", argv[2]);
        return 1;
    }
    fclose(f);
    double t0 = now_s();
    const struct sl_tok_encoding *enc = sl_tok_encoding(id);
    double build_s = now_s() - t0;
    if (!enc)
        return 1;
    double best = 1e9;
    size_t tokens = 0, chunks = 0;
    for (int r = 0; r < rounds; r++) {
        tokens = chunks = 0;
        t0 = now_s();
        for (size_t at = 0; at < len; chunks++) {
            size_t end = at + chunk < len ? at + chunk : len;
            while (end < len && text[end - 1] != '\n')
                end++;
            tokens += sl_tok_count(enc, text + at, end - at);
            at = end;
        }
        double s = now_s() - t0;
        if (s < best)
            best = s;
    }
    printf("sluice   %-11s %8.1f MB/s %10.0f tokens/s  (%zu tokens, %zu chunks, "
           "tables built in %.0f ms)\n",
           argv[1], (double)len / best / 1e6, (double)tokens / best, tokens, chunks, build_s * 1e3);
    free(text);
    return 0;
}
