/* The YAML walker of the gateway's config (config.c and its sections in
 * config_limits.c): the document, where it came from, and the first error
 * as "FILE:LINE: reason" (later ones are dropped: one line per file). The
 * getters check a value's type and range and report through
 * sl__cfg_fail; a mapping is walked member by member, and an unknown
 * member is an error that names the known ones. Internal to the config. */
#ifndef SL_GW_CONFIG_WALK_H
#define SL_GW_CONFIG_WALK_H

#include <stddef.h>
#include <yaml.h>

#include "gateway/config.h"

struct walker {
    yaml_document_t doc;
    const char *file;
    char *err;
    size_t err_size;
    int failed;
};

/* Calls fn for each (key, value) of a mapping; fn returns 0 if it knew
 * the key, 1 if not (an error naming the key and `known`). */
typedef int (*sl__cfg_member_fn)(struct walker *w, const char *key, yaml_node_t *value, void *ctx);

void sl__cfg_fail(struct walker *w, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
yaml_node_t *sl__cfg_node_at(struct walker *w, int index);
const char *sl__cfg_scalar(const yaml_node_t *n);
int sl__cfg_get_string(struct walker *w, yaml_node_t *n, const char *key, char *out, size_t size);
int sl__cfg_get_unsigned(struct walker *w, yaml_node_t *n, const char *key, unsigned min,
                         unsigned max, unsigned *out);
int sl__cfg_get_double(struct walker *w, yaml_node_t *n, const char *key, double min, double max,
                       double *out);
int sl__cfg_get_bool(struct walker *w, yaml_node_t *n, const char *key, int *out);
void sl__cfg_get_patterns(struct walker *w, yaml_node_t *n, char *out, size_t size);
/* A string or a list of strings (none empty or holding a comma) joined
 * with commas into out; `what` says what the items are in the message. */
void sl__cfg_get_list(struct walker *w, yaml_node_t *n, const char *key, const char *what,
                      char *out, size_t size);
int sl__cfg_walk_mapping(struct walker *w, yaml_node_t *map, const char *what, sl__cfg_member_fn fn,
                         void *ctx, const char *known);
void sl__cfg_load_list(struct walker *w, yaml_node_t *list, const char *what, size_t elem,
                       void **out, size_t *count);

/* The config's sections in config_limits.c: keys, prices, redis. */
void sl__cfg_load_keys(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list);
void sl__cfg_load_prices(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list);
void sl__cfg_load_redis(struct walker *w, struct sl_gw_redis *r, yaml_node_t *v);
/* config_otel.c: `otel:`. */
void sl__cfg_load_otel(struct walker *w, struct sl_otel_config *o, yaml_node_t *v);

#endif
