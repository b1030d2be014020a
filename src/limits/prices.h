/* Model prices: what a finished request cost, from its token usage. The
 * table ships in the binary (data/prices.tsv, generated from the providers'
 * pricing pages by tools/prices/gen.js); a config may override entries. */
#ifndef SL_PRICES_H
#define SL_PRICES_H

#include <stddef.h>
#include <stdint.h>

/* USD per million tokens. cached_input < 0: the provider has no cached
 * price (cached tokens cost the input price). */
struct sl_price {
    double input, cached_input, output;
};

struct sl_price_table;

/* Parses a table in the format of data/prices.tsv: lines of
 * PROVIDER<TAB>equals|starts_with<TAB>MODEL<TAB>INPUT<TAB>CACHED|-<TAB>OUTPUT<TAB>SOURCE,
 * '#' comments. 0, or -1 with "line N: reason" in err. */
int sl_price_table_parse(const char *text, size_t len, struct sl_price_table **out, char *err,
                         size_t err_size);
void sl_price_table_free(struct sl_price_table *t);
/* The table compiled in, parsed once (thread-safe); NULL if memory ran out. */
const struct sl_price_table *sl_price_table_builtin(void);

/* The price of `model` (a provider prefix such as "openai/" is ignored): an
 * exact name first, else the longest matching prefix. 1, or 0 if unknown. */
int sl_price_find(const struct sl_price_table *t, const char *model, struct sl_price *out);

/* A config's own price: `model` is a name, or a prefix ending in '*'. */
struct sl_price_rule {
    char model[128];
    struct sl_price price;
};

/* The price of `model` from the config's rules first (an exact name, else
 * the longest prefix), then from the table (may be NULL). 1, or 0. */
int sl_price_find_with(const struct sl_price_rule *rules, size_t n,
                       const struct sl_price_table *t, const char *model, struct sl_price *out);

/* USD for a request: prompt tokens of which `cached` were read from the
 * provider's cache, and completion tokens. */
double sl_price_cost(const struct sl_price *p, uint64_t prompt, uint64_t cached,
                     uint64_t completion);

#endif
