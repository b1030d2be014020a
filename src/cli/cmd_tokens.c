/* `sluice tokens`: counts tokens as OpenAI's tiktoken does, or the prompt
 * tokens of a request body as OpenAI bills them (docs/tokens.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "http/json_scan.h"
#include "token/request_tokens.h"
#include "token/tokenizer.h"

static const char usage[] =
    "usage: sluice tokens [--model NAME | --encoding NAME] [--request ENDPOINT] [--ids] [FILE]\n"
    "\n"
    "Counts the tokens of FILE (or stdin) exactly as OpenAI's tiktoken does and\n"
    "prints the number. See docs/tokens.md.\n"
    "\n"
    "options:\n"
    "  --model NAME        whose tokenizer (default gpt-4o); for a model sluice has\n"
    "                      no tokenizer for, o200k_base stands in as an estimate\n"
    "  --encoding NAME     o200k_base or cl100k_base, instead of --model\n"
    "  --request ENDPOINT  the input is a request body for ENDPOINT\n"
    "                      (chat/completions, completions or embeddings): print the\n"
    "                      prompt tokens OpenAI bills for it\n"
    "  --ids               print the token ids, one per line, instead of the count\n"
    "  -h, --help          this help\n";

enum { F_MODEL = 1, F_ENCODING, F_REQUEST, F_IDS, F_HELP };
static const struct sl_flag flags[] = {
    {"--model", 1, F_MODEL},
    {"--encoding", 1, F_ENCODING},
    {"--request", 1, F_REQUEST},
    {"--ids", 0, F_IDS},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

#define INPUT_MAX (256u << 20)

/* The whole of `path` ("-" or NULL: stdin); NULL after printing why. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = path && strcmp(path, "-") != 0 ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "sluice tokens: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "sluice tokens: out of memory\n");
            break;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap >= INPUT_MAX) {
            fprintf(stderr, "sluice tokens: the input is over %u MiB\n", INPUT_MAX >> 20);
            free(buf);
            buf = NULL;
            break;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "sluice tokens: cannot read %s: %s\n", path ? path : "stdin",
                strerror(errno));
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static int print_ids(const struct sl_tok_encoding *enc, const char *text, size_t len)
{
    size_t n = sl_tok_count(enc, text, len);
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "sluice tokens: out of memory\n");
        return SL_EXIT_RUNTIME;
    }
    sl_tok_encode(enc, text, len, ids, n);
    for (size_t i = 0; i < n; i++)
        printf("%u\n", ids[i]);
    free(ids);
    return SL_EXIT_OK;
}

int sl_cmd_tokens(int argc, char **argv)
{
    const char *model = NULL, *encoding = NULL, *endpoint = NULL, *path = NULL, *v;
    int ids = 0, id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, "tokens", 1, &v)) != 0) {
        switch (id) {
        case -1:
            return SL_EXIT_USAGE;
        case F_MODEL:
            model = v;
            break;
        case F_ENCODING:
            encoding = v;
            break;
        case F_REQUEST:
            endpoint = v;
            break;
        case F_IDS:
            ids = 1;
            break;
        case F_HELP:
            fputs(usage, stdout);
            return SL_EXIT_OK;
        case 'P':
            if (path) {
                sl_usage_error("tokens", "one FILE at most ('%s' and '%s')", path, v);
                return SL_EXIT_USAGE;
            }
            path = v;
            break;
        }
    }
    enum sl_tok_encoding_id enc_id = SL_TOK_O200K_BASE;
    if (model && encoding) {
        sl_usage_error("tokens", "--model and --encoding exclude each other");
        return SL_EXIT_USAGE;
    }
    if (encoding && sl_tok_encoding_parse(encoding, &enc_id) < 0) {
        sl_usage_error("tokens", "--encoding: unknown encoding '%s' (o200k_base, cl100k_base)",
                       encoding);
        return SL_EXIT_USAGE;
    }
    if (endpoint && strcmp(endpoint, "chat/completions") != 0 &&
        strcmp(endpoint, "completions") != 0 && strcmp(endpoint, "embeddings") != 0) {
        sl_usage_error("tokens",
                       "--request: unknown endpoint '%s' (chat/completions, completions, "
                       "embeddings)",
                       endpoint);
        return SL_EXIT_USAGE;
    }
    if (endpoint && (ids || encoding)) {
        sl_usage_error("tokens",
                       "--request counts for a --model; --ids and --encoding do not apply");
        return SL_EXIT_USAGE;
    }
    if (!model)
        model = "gpt-4o";
    if (!encoding && !sl_tok_encoding_for_model(model, &enc_id))
        fprintf(stderr, "sluice tokens: no tokenizer for '%s': o200k_base as an estimate\n", model);

    size_t len;
    char *text = read_all(path, &len);
    if (!text)
        return SL_EXIT_RUNTIME;
    int rc = SL_EXIT_OK;
    if (endpoint) {
        struct sl_json_doc doc;
        if (sl_json_scan(text, len, &doc) < 0) {
            fprintf(stderr, "sluice tokens: the request is not valid JSON (%s at byte %zu)\n",
                    doc.error, doc.error_at);
            rc = SL_EXIT_RUNTIME;
        } else if (doc.type != SL_JSON_OBJECT) {
            fprintf(stderr, "sluice tokens: the request is not a JSON object\n");
            rc = SL_EXIT_RUNTIME;
        } else
            printf("%zu\n", sl_tok_count_request(endpoint, model, text, len, NULL));
    } else {
        const struct sl_tok_encoding *enc = sl_tok_encoding(enc_id);
        if (!enc) {
            fprintf(stderr, "sluice tokens: out of memory\n");
            rc = SL_EXIT_RUNTIME;
        } else if (ids)
            rc = print_ids(enc, text, len);
        else
            printf("%zu\n", sl_tok_count(enc, text, len));
    }
    free(text);
    return rc;
}
