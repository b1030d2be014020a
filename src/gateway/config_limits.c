/* The config's governance sections: the static keys and their limits,
 * the prices that come before the built-in table, and the Redis that
 * shares the limits (docs/serve.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "gateway/config_walk.h"

/* ---- keys ------------------------------------------------------------------ */

static int hexbyte(const char *s)
{
    int hi = sl_hex_digit(s[0]), lo = sl_hex_digit(s[1]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

static int key_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_key *k = ctx;
    if (!strcmp(key, "name")) {
        sl__cfg_get_string(w, v, "key name", k->name, sizeof(k->name));
    } else if (!strcmp(key, "sha256")) {
        const char *s = sl__cfg_scalar(v);
        if (s == NULL || strlen(s) != 64) {
            sl__cfg_fail(
                w, v, "sha256 must be 64 hex digits (make one with: sluice serve --hash-key KEY)");
            return 0;
        }
        for (int i = 0; i < 32; i++) {
            int b = hexbyte(s + 2 * i);
            if (b < 0) {
                sl__cfg_fail(w, v, "sha256 must be 64 hex digits");
                return 0;
            }
            k->sha256[i] = (unsigned char)b;
        }
    } else if (!strcmp(key, "rpm")) {
        sl__cfg_get_unsigned(w, v, "rpm", 1, 100000000, &k->rpm);
    } else if (!strcmp(key, "tpm")) {
        sl__cfg_get_unsigned(w, v, "tpm", 1, 4000000000u, &k->tpm);
    } else if (!strcmp(key, "max_parallel")) {
        sl__cfg_get_unsigned(w, v, "max_parallel", 1, 1000000, &k->max_parallel);
    } else if (!strcmp(key, "models")) {
        sl__cfg_get_patterns(w, v, k->models, sizeof(k->models));
    } else {
        return 1;
    }
    return 0;
}

/* Every key has a name (the log rows and the cancel endpoint know a
 * client by it) and its own digest. */
void sl__cfg_load_keys(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list)
{
    sl__cfg_load_list(w, list, "keys", sizeof(*cfg->keys), (void **)&cfg->keys, &cfg->nkeys);
    for (size_t i = 0; i < cfg->nkeys && !w->failed; i++) {
        yaml_node_t *kn = sl__cfg_node_at(w, list->data.sequence.items.start[i]);
        struct sl_gw_key *k = &cfg->keys[i];
        sl__cfg_walk_mapping(w, kn, "a key", key_member, k,
                             "name, sha256, rpm, tpm, max_parallel, models");
        if (w->failed)
            return;
        if (k->sha256[0] == 0 && !memcmp(k->sha256, k->sha256 + 1, 31))
            sl__cfg_fail(w, kn, "a key needs its sha256");
        else if (k->name[0] == '\0')
            sl__cfg_fail(w, kn, "a key needs a name (it is what the request log records)");
        for (size_t j = 0; j < i && !w->failed; j++) {
            if (!strcmp(cfg->keys[j].name, k->name))
                sl__cfg_fail(w, kn, "key name '%s' is listed twice", k->name);
            else if (!memcmp(cfg->keys[j].sha256, k->sha256, 32))
                sl__cfg_fail(w, kn, "key '%s' has the same sha256 as key '%s'", k->name,
                             cfg->keys[j].name);
        }
    }
}

/* ---- prices ------------------------------------------------------------------ */

static int price_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_price_rule *p = ctx;
    if (!strcmp(key, "model"))
        sl__cfg_get_string(w, v, "model", p->model, sizeof(p->model));
    else if (!strcmp(key, "input"))
        sl__cfg_get_double(w, v, "input", 0, 1e6, &p->price.input);
    else if (!strcmp(key, "cached_input"))
        sl__cfg_get_double(w, v, "cached_input", 0, 1e6, &p->price.cached_input);
    else if (!strcmp(key, "output"))
        sl__cfg_get_double(w, v, "output", 0, 1e6, &p->price.output);
    else
        return 1;
    return 0;
}

/* USD per million tokens; a model name or a prefix ending in '*'. */
void sl__cfg_load_prices(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list)
{
    sl__cfg_load_list(w, list, "prices", sizeof(*cfg->prices), (void **)&cfg->prices,
                      &cfg->nprices);
    for (size_t i = 0; i < cfg->nprices && !w->failed; i++) {
        yaml_node_t *pn = sl__cfg_node_at(w, list->data.sequence.items.start[i]);
        struct sl_price_rule *p = &cfg->prices[i];
        p->price = (struct sl_price){-1, -1, -1};
        sl__cfg_walk_mapping(w, pn, "a price", price_member, p,
                             "model, input, cached_input, output (USD per million tokens)");
        if (w->failed)
            return;
        if (p->model[0] == '\0' || p->price.input < 0 || p->price.output < 0)
            sl__cfg_fail(w, pn, "a price needs model, input and output (USD per million tokens)");
    }
}

/* ---- redis ------------------------------------------------------------------- */

static int redis_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_redis *r = ctx;
    if (!strcmp(key, "url")) {
        sl__cfg_get_string(w, v, "redis url", r->url, sizeof(r->url));
    } else if (!strcmp(key, "on_failure")) {
        const char *s = sl__cfg_scalar(v);
        if (s && !strcmp(s, "fail_open"))
            r->fail_closed = 0;
        else if (s && !strcmp(s, "fail_closed"))
            r->fail_closed = 1;
        else
            sl__cfg_fail(w, v, "on_failure must be fail_open or fail_closed");
    } else if (!strcmp(key, "instances")) {
        sl__cfg_get_unsigned(w, v, "instances", 1, 10000, &r->instances);
    } else if (!strcmp(key, "lease_ms")) {
        sl__cfg_get_unsigned(w, v, "lease_ms", 100, 3600000, &r->lease_ms);
    } else if (!strcmp(key, "timeout_ms")) {
        sl__cfg_get_unsigned(w, v, "timeout_ms", 1, 60000, &r->timeout_ms);
    } else {
        return 1;
    }
    return 0;
}

/* `redis: URL`, or a mapping with url and the policy. */
void sl__cfg_load_redis(struct walker *w, struct sl_gw_redis *r, yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE)
        sl__cfg_get_string(w, v, "redis", r->url, sizeof(r->url));
    else
        sl__cfg_walk_mapping(w, v, "redis", redis_member, r,
                             "url, on_failure, instances, lease_ms, timeout_ms");
    if (!w->failed && strncmp(r->url, "redis://", 8) != 0)
        sl__cfg_fail(w, v, "redis needs a url redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
}
