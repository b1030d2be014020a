/* YAML config loading: libyaml builds the document; this file walks it
 * against the schema below, so that every error names its line. Unknown
 * keys are errors: a typo must not silently become a default. */
#include "gateway/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/str.h"
#include "http/url.h"
#include "providers/anthropic.h"

struct walker {
    yaml_document_t doc;
    const char *file;
    char *err;
    size_t err_size;
    int failed;
};

static void fail(struct walker *w, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct walker *w, const yaml_node_t *node, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = 1;
    int n = snprintf(w->err, w->err_size, "%s:%zu: ", w->file,
                     node ? node->start_mark.line + 1 : (size_t)1);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < w->err_size)
        vsnprintf(w->err + n, w->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    /* One line, whatever the quoted value holds (a multi-line scalar, a
     * terminal escape): control characters become spaces. */
    for (char *c = w->err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

static yaml_node_t *node_at(struct walker *w, int index)
{
    return yaml_document_get_node(&w->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_string(struct walker *w, yaml_node_t *n, const char *key, char *out, size_t size)
{
    const char *s = scalar(n);
    if (s == NULL) {
        fail(w, n, "%s must be a string", key);
        return -1;
    }
    if (strlen(s) >= size) {
        fail(w, n, "%s is too long (at most %zu characters)", key, size - 1);
        return -1;
    }
    strcpy(out, s);
    return 0;
}

static int get_unsigned(struct walker *w, yaml_node_t *n, const char *key, unsigned min,
                        unsigned max, unsigned *out)
{
    const char *s = scalar(n);
    char *end;
    errno = 0;
    unsigned long long v = s && *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *s == '-' || *end != '\0' || errno || v < min || v > max) {
        fail(w, n, "%s must be a whole number from %u to %u, got '%s'", key, min, max,
             s ? s : "(not a scalar)");
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int get_double(struct walker *w, yaml_node_t *n, const char *key, double min, double max,
                      double *out)
{
    const char *s = scalar(n);
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || errno || !isfinite(v) || v < min || v > max) {
        fail(w, n, "%s must be a number from %g to %g, got '%s'", key, min, max,
             s ? s : "(not a scalar)");
        return -1;
    }
    *out = v;
    return 0;
}

static int get_bool(struct walker *w, yaml_node_t *n, const char *key, int *out)
{
    const char *s = scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
        *out = 1;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
        *out = 0;
    else {
        fail(w, n, "%s must be true or false", key);
        return -1;
    }
    return 0;
}

/* Model patterns: a list of strings (or one string), kept comma-separated. */
static void get_patterns(struct walker *w, yaml_node_t *n, char *out, size_t size)
{
    size_t len = 0, count = 1;
    yaml_node_item_t *items = NULL;
    if (n && n->type == YAML_SEQUENCE_NODE) {
        items = n->data.sequence.items.start;
        count = (size_t)(n->data.sequence.items.top - items);
    }
    out[0] = '\0';
    for (size_t i = 0; i < count && !w->failed; i++) {
        yaml_node_t *item = items ? node_at(w, items[i]) : n;
        const char *s = scalar(item);
        if (s == NULL || *s == '\0' || strchr(s, ',')) {
            fail(w, item, "models must be a list of model names or patterns such as gpt-4o*");
            return;
        }
        int k = snprintf(out + len, size - len, "%s%s", len ? "," : "", s);
        if (k < 0 || (size_t)k >= size - len) {
            fail(w, item, "models is too long (at most %zu characters in all)", size - 1);
            return;
        }
        len += (size_t)k;
    }
}

/* Iterates a mapping: calls fn for each (key, value); fn returns 0 if it
 * knew the key, 1 if not (an error naming the key and where it may go). */
typedef int (*member_fn)(struct walker *w, const char *key, yaml_node_t *value, void *ctx);

static int walk_mapping(struct walker *w, yaml_node_t *map, const char *what, member_fn fn,
                        void *ctx, const char *known)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        fail(w, map, "%s must be a mapping (key: value lines)", what);
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(w, p->key), *v = node_at(w, p->value);
        const char *key = scalar(k);
        if (key == NULL) {
            fail(w, k, "keys in %s must be plain names", what);
            return -1;
        }
        /* libyaml keeps both of a repeated key; which one wins would be an
         * accident of the walk, so a repeat is an error */
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = node_at(w, q->key);
            const char *earlier = scalar(qk);
            if (earlier && !strcmp(earlier, key)) {
                fail(w, k, "duplicate key '%s' in %s (first at line %zu)", key, what,
                     qk->start_mark.line + 1);
                return -1;
            }
        }
        int rc = fn(w, key, v, ctx);
        if (rc > 0)
            fail(w, k, "unknown key '%s' in %s (known: %s)", key, what, known);
        if (w->failed)
            return -1;
    }
    return 0;
}

/* ---- retry ---------------------------------------------------------------- */

static int retry_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_retry_policy *p = ctx;
    unsigned u;
    if (!strcmp(key, "max_attempts")) {
        if (get_unsigned(w, v, "retry.max_attempts", 1, 100, &u) == 0)
            p->max_attempts = u;
    } else if (!strcmp(key, "backoff")) {
        int kind = sl_wait_kind_parse(scalar(v) ? scalar(v) : "");
        if (kind < 0)
            fail(w, v,
                 "retry.backoff must be full-jitter, exponential, decorrelated, random, "
                 "fixed or none");
        else
            p->wait = (enum sl_wait_kind)kind;
    } else if (!strcmp(key, "base_ms")) {
        get_double(w, v, "retry.base_ms", 0, 3600000, &p->multiplier_ms);
        p->fixed_ms = p->multiplier_ms;
    } else if (!strcmp(key, "max_ms")) {
        get_double(w, v, "retry.max_ms", 0, 3600000, &p->max_ms);
    } else if (!strcmp(key, "retry_after_cap_ms")) {
        get_double(w, v, "retry.retry_after_cap_ms", 0, 3600000, &p->retry_after_cap_ms);
    } else if (!strcmp(key, "retry_on")) {
        if (v->type != YAML_SEQUENCE_NODE) {
            fail(w, v, "retry.retry_on must be a list of error classes");
            return 0;
        }
        p->retry_on = 0;
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++) {
            yaml_node_t *item = node_at(w, *i);
            const char *name = scalar(item);
            int cls = name ? sl_err_parse(name, (int)strlen(name)) : -1;
            if (cls < 0) {
                fail(w, item, "unknown error class '%s' in retry.retry_on", name ? name : "");
                return 0;
            }
            p->retry_on |= SL_ERR_BIT(cls);
        }
    } else {
        return 1;
    }
    return 0;
}

/* ---- deployments ---------------------------------------------------------- */

static int deployment_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_deployment *d = ctx;
    if (!strcmp(key, "name"))
        get_string(w, v, "name", d->name, sizeof(d->name));
    else if (!strcmp(key, "url")) {
        if (get_string(w, v, "url", d->url, sizeof(d->url)) == 0) {
            const char *why = sl_gw_target_check_url(d->url);
            if (why == sl_url_err_scheme)
                fail(w, v, "url must start with http:// or https://, got '%s'", d->url);
            else if (why)
                fail(w, v, "url '%s': %s", d->url, why);
        }
        size_t n = strlen(d->url);
        while (n > 0 && d->url[n - 1] == '/')
            d->url[--n] = '\0';
    } else if (!strcmp(key, "api_key_env"))
        get_string(w, v, "api_key_env", d->api_key_env, sizeof(d->api_key_env));
    else if (!strcmp(key, "model"))
        get_string(w, v, "model", d->upstream_model, sizeof(d->upstream_model));
    else if (!strcmp(key, "provider")) {
        char p[32] = "";
        if (get_string(w, v, "provider", p, sizeof(p)) == 0 && strcmp(p, "openai") != 0) {
            if (strcmp(p, "anthropic") == 0)
                d->provider = SL_GW_ANTHROPIC;
            else
                fail(w, v, "unknown provider '%s' (known: openai, anthropic)", p);
        }
    } else if (!strcmp(key, "anthropic_version"))
        get_string(w, v, "anthropic_version", d->anthropic_version, sizeof(d->anthropic_version));
    else if (!strcmp(key, "default_max_tokens"))
        get_unsigned(w, v, "default_max_tokens", 1, 10000000, &d->default_max_tokens);
    else if (!strcmp(key, "weight"))
        get_double(w, v, "weight", 0.000001, 1e6, &d->weight);
    else if (!strcmp(key, "max_concurrency"))
        get_unsigned(w, v, "max_concurrency", 1, 1000000, &d->max_concurrency);
    else if (!strcmp(key, "rpm"))
        get_unsigned(w, v, "rpm", 1, 100000000, &d->rpm);
    else if (!strcmp(key, "tpm"))
        get_unsigned(w, v, "tpm", 1, 4000000000u, &d->tpm);
    else if (!strcmp(key, "queue_length"))
        get_unsigned(w, v, "queue_length", 0, 10000000, &d->queue_length);
    else if (!strcmp(key, "queue_timeout_ms"))
        get_unsigned(w, v, "queue_timeout_ms", 1, 3600000, &d->queue_timeout_ms);
    else if (!strcmp(key, "connect_timeout_ms"))
        get_unsigned(w, v, "connect_timeout_ms", 1, 600000, &d->connect_timeout_ms);
    else if (!strcmp(key, "attempt_timeout_ms"))
        get_unsigned(w, v, "attempt_timeout_ms", 1, 3600000, &d->attempt_timeout_ms);
    else if (!strcmp(key, "cooldown_failures"))
        get_unsigned(w, v, "cooldown_failures", 1, 1000000, &d->cooldown_failures);
    else if (!strcmp(key, "cooldown_ms"))
        get_unsigned(w, v, "cooldown_ms", 0, 3600000, &d->cooldown_ms);
    else if (!strcmp(key, "retry"))
        walk_mapping(w, v, "retry", retry_member, &d->retry,
                     "max_attempts, backoff, base_ms, max_ms, retry_after_cap_ms, retry_on");
    else
        return 1;
    return 0;
}

static void deployment_defaults(struct sl_gw_deployment *d)
{
    memset(d, 0, sizeof(*d));
    d->weight = 1;
    d->max_concurrency = 100;
    d->queue_length = 1000;
    d->queue_timeout_ms = 10000;
    d->connect_timeout_ms = 5000;
    d->attempt_timeout_ms = 60000;
    d->cooldown_failures = 5;
    d->cooldown_ms = 10000;
    sl_retry_policy_default(&d->retry);
    d->retry.max_attempts = 3;
    d->retry.max_ms = 5000;
}

/* An API key goes into a request header as it is: a CR, LF or other
 * control byte (a key file read with its line break) would break every
 * request, so it is refused at start-up. */
static int has_control_byte(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int resolve_key(struct walker *w, yaml_node_t *at, struct sl_gw_deployment *d)
{
    if (d->api_key_env[0] == '\0')
        return 0;
    const char *value = getenv(d->api_key_env);
    if (value == NULL || *value == '\0') {
        fail(w, at, "deployment '%s': environment variable %s (api_key_env) is not set", d->name,
             d->api_key_env);
        return -1;
    }
    if (has_control_byte(value)) {
        fail(w, at,
             "deployment '%s': %s (api_key_env) holds a control character (a line break?): it "
             "cannot be sent in a header",
             d->name, d->api_key_env);
        return -1;
    }
    d->api_key = strdup(value);
    return d->api_key ? 0 : -1;
}

/* ---- models --------------------------------------------------------------- */

/* anthropic_version and default_max_tokens belong to provider: anthropic,
 * which has defaults for both. */
static int provider_options(struct walker *w, yaml_node_t *at, struct sl_gw_deployment *d)
{
    if (d->provider != SL_GW_ANTHROPIC) {
        if (d->anthropic_version[0] || d->default_max_tokens)
            fail(w, at,
                 "deployment '%s': anthropic_version and default_max_tokens need provider: "
                 "anthropic",
                 d->name);
        return w->failed ? -1 : 0;
    }
    if (d->anthropic_version[0] == '\0')
        snprintf(d->anthropic_version, sizeof(d->anthropic_version), "%s", SL_ANTHROPIC_VERSION);
    if (d->default_max_tokens == 0)
        d->default_max_tokens = 4096;
    return 0;
}

struct model_ctx {
    struct sl_gw_model *m;
    yaml_node_t *deployments;
};

static int model_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct model_ctx *mc = ctx;
    if (!strcmp(key, "name"))
        get_string(w, v, "model name", mc->m->name, sizeof(mc->m->name));
    else if (!strcmp(key, "total_timeout_ms"))
        get_unsigned(w, v, "total_timeout_ms", 1, 3600000, &mc->m->total_timeout_ms);
    else if (!strcmp(key, "deployments"))
        mc->deployments = v;
    else
        return 1;
    return 0;
}

static void load_model(struct walker *w, yaml_node_t *node, struct sl_gw_model *m)
{
    struct model_ctx mc = {m, NULL};
    m->total_timeout_ms = 120000;
    if (walk_mapping(w, node, "a model", model_member, &mc,
                     "name, total_timeout_ms, deployments") != 0)
        return;
    if (m->name[0] == '\0') {
        fail(w, node, "a model needs a name");
        return;
    }
    yaml_node_t *list = mc.deployments;
    if (list == NULL || list->type != YAML_SEQUENCE_NODE ||
        list->data.sequence.items.top == list->data.sequence.items.start) {
        fail(w, list ? list : node, "model '%s' needs a non-empty list of deployments", m->name);
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > SL_GW_MAX_DEPLOYMENTS) {
        fail(w, list, "model '%s' lists %zu deployments; at most %d", m->name, n,
             SL_GW_MAX_DEPLOYMENTS);
        return;
    }
    m->deployments = calloc(n, sizeof(*m->deployments));
    if (m->deployments == NULL) {
        fail(w, list, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && !w->failed; i++) {
        yaml_node_t *dn = node_at(w, list->data.sequence.items.start[i]);
        struct sl_gw_deployment *d = &m->deployments[i];
        deployment_defaults(d);
        m->ndeployments = i + 1;
        if (walk_mapping(w, dn, "a deployment", deployment_member, d,
                         "name, url, api_key_env, model, provider, anthropic_version, "
                         "default_max_tokens, weight, max_concurrency, rpm, tpm, queue_length, "
                         "queue_timeout_ms, connect_timeout_ms, attempt_timeout_ms, "
                         "cooldown_failures, cooldown_ms, retry") != 0)
            return;
        if (d->url[0] == '\0') {
            fail(w, dn, "deployment %zu of model '%s' needs a url", i + 1, m->name);
            return;
        }
        if (d->name[0] == '\0')
            snprintf(d->name, sizeof(d->name), "%s#%zu", m->name, i + 1);
        if (resolve_key(w, dn, d) != 0 || provider_options(w, dn, d) != 0)
            return;
        if ((d->provider == SL_GW_ANTHROPIC
                 ? sl_gw_target_init_anthropic(&d->target, d->url, d->api_key, d->anthropic_version)
                 : sl_gw_target_init(&d->target, d->url, d->api_key)) != 0) {
            fail(w, dn, "deployment '%s': cannot resolve its url", d->name);
            return;
        }
    }
}

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
        get_string(w, v, "key name", k->name, sizeof(k->name));
    } else if (!strcmp(key, "sha256")) {
        const char *s = scalar(v);
        if (s == NULL || strlen(s) != 64) {
            fail(w, v, "sha256 must be 64 hex digits (make one with: sluice serve --hash-key KEY)");
            return 0;
        }
        for (int i = 0; i < 32; i++) {
            int b = hexbyte(s + 2 * i);
            if (b < 0) {
                fail(w, v, "sha256 must be 64 hex digits");
                return 0;
            }
            k->sha256[i] = (unsigned char)b;
        }
    } else if (!strcmp(key, "rpm")) {
        get_unsigned(w, v, "rpm", 1, 100000000, &k->rpm);
    } else if (!strcmp(key, "tpm")) {
        get_unsigned(w, v, "tpm", 1, 4000000000u, &k->tpm);
    } else if (!strcmp(key, "max_parallel")) {
        get_unsigned(w, v, "max_parallel", 1, 1000000, &k->max_parallel);
    } else if (!strcmp(key, "models")) {
        get_patterns(w, v, k->models, sizeof(k->models));
    } else {
        return 1;
    }
    return 0;
}

static void load_list(struct walker *w, yaml_node_t *list, const char *what, size_t elem,
                      void **out, size_t *count)
{
    if (list->type != YAML_SEQUENCE_NODE) {
        fail(w, list, "%s must be a list", what);
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    *out = calloc(n ? n : 1, elem);
    *count = n;
    if (*out == NULL)
        fail(w, list, "out of memory");
}

/* Every key has a name (the log rows and the cancel endpoint know a
 * client by it) and its own digest. */
static void load_keys(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list)
{
    load_list(w, list, "keys", sizeof(*cfg->keys), (void **)&cfg->keys, &cfg->nkeys);
    for (size_t i = 0; i < cfg->nkeys && !w->failed; i++) {
        yaml_node_t *kn = node_at(w, list->data.sequence.items.start[i]);
        struct sl_gw_key *k = &cfg->keys[i];
        walk_mapping(w, kn, "a key", key_member, k, "name, sha256, rpm, tpm, max_parallel, models");
        if (w->failed)
            return;
        if (k->sha256[0] == 0 && !memcmp(k->sha256, k->sha256 + 1, 31))
            fail(w, kn, "a key needs its sha256");
        else if (k->name[0] == '\0')
            fail(w, kn, "a key needs a name (it is what the request log records)");
        for (size_t j = 0; j < i && !w->failed; j++) {
            if (!strcmp(cfg->keys[j].name, k->name))
                fail(w, kn, "key name '%s' is listed twice", k->name);
            else if (!memcmp(cfg->keys[j].sha256, k->sha256, 32))
                fail(w, kn, "key '%s' has the same sha256 as key '%s'", k->name, cfg->keys[j].name);
        }
    }
}

/* Deployment names label the metrics and the request log: two deployments
 * with one name would be one series and indistinguishable rows. */
static void check_deployment_names(struct walker *w, const struct sl_gw_config *cfg,
                                   yaml_node_t *models)
{
    for (size_t i = 0; i < cfg->nmodels && !w->failed; i++) {
        const struct sl_gw_model *m = &cfg->models[i];
        for (size_t j = 0; j < m->ndeployments && !w->failed; j++) {
            const char *name = m->deployments[j].name;
            for (size_t i2 = 0; i2 <= i && !w->failed; i2++) {
                const struct sl_gw_model *m2 = &cfg->models[i2];
                size_t end = i2 == i ? j : m2->ndeployments;
                for (size_t j2 = 0; j2 < end; j2++)
                    if (!strcmp(m2->deployments[j2].name, name)) {
                        fail(w, node_at(w, models->data.sequence.items.start[i]),
                             "deployment name '%s' is used twice (models '%s' and '%s'); "
                             "names label the metrics and the request log",
                             name, m2->name, m->name);
                        break;
                    }
            }
        }
    }
}

/* ---- prices ------------------------------------------------------------------ */

static int price_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_price_rule *p = ctx;
    if (!strcmp(key, "model"))
        get_string(w, v, "model", p->model, sizeof(p->model));
    else if (!strcmp(key, "input"))
        get_double(w, v, "input", 0, 1e6, &p->price.input);
    else if (!strcmp(key, "cached_input"))
        get_double(w, v, "cached_input", 0, 1e6, &p->price.cached_input);
    else if (!strcmp(key, "output"))
        get_double(w, v, "output", 0, 1e6, &p->price.output);
    else
        return 1;
    return 0;
}

/* USD per million tokens; a model name or a prefix ending in '*'. */
static void load_prices(struct walker *w, struct sl_gw_config *cfg, yaml_node_t *list)
{
    load_list(w, list, "prices", sizeof(*cfg->prices), (void **)&cfg->prices, &cfg->nprices);
    for (size_t i = 0; i < cfg->nprices && !w->failed; i++) {
        yaml_node_t *pn = node_at(w, list->data.sequence.items.start[i]);
        struct sl_price_rule *p = &cfg->prices[i];
        p->price = (struct sl_price){-1, -1, -1};
        walk_mapping(w, pn, "a price", price_member, p,
                     "model, input, cached_input, output (USD per million tokens)");
        if (w->failed)
            return;
        if (p->model[0] == '\0' || p->price.input < 0 || p->price.output < 0)
            fail(w, pn, "a price needs model, input and output (USD per million tokens)");
    }
}

/* ---- redis ------------------------------------------------------------------- */

static int redis_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_redis *r = ctx;
    if (!strcmp(key, "url")) {
        get_string(w, v, "redis url", r->url, sizeof(r->url));
    } else if (!strcmp(key, "on_failure")) {
        const char *s = scalar(v);
        if (s && !strcmp(s, "fail_open"))
            r->fail_closed = 0;
        else if (s && !strcmp(s, "fail_closed"))
            r->fail_closed = 1;
        else
            fail(w, v, "on_failure must be fail_open or fail_closed");
    } else if (!strcmp(key, "instances")) {
        get_unsigned(w, v, "instances", 1, 10000, &r->instances);
    } else if (!strcmp(key, "lease_ms")) {
        get_unsigned(w, v, "lease_ms", 100, 3600000, &r->lease_ms);
    } else if (!strcmp(key, "timeout_ms")) {
        get_unsigned(w, v, "timeout_ms", 1, 60000, &r->timeout_ms);
    } else {
        return 1;
    }
    return 0;
}

/* `redis: URL`, or a mapping with url and the policy. */
static void load_redis(struct walker *w, struct sl_gw_redis *r, yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE)
        get_string(w, v, "redis", r->url, sizeof(r->url));
    else
        walk_mapping(w, v, "redis", redis_member, r,
                     "url, on_failure, instances, lease_ms, timeout_ms");
    if (!w->failed && strncmp(r->url, "redis://", 8) != 0)
        fail(w, v, "redis needs a url redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
}

/* ---- top level ------------------------------------------------------------- */

struct top_ctx {
    struct sl_gw_config *cfg;
    yaml_node_t *models, *keys, *auth, *prices;
    int auth_on;
};

static int metrics_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_config *cfg = ctx;
    if (!strcmp(key, "public"))
        get_bool(w, v, "metrics.public", &cfg->metrics_public);
    else
        return 1;
    return 0;
}

static int top_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct top_ctx *t = ctx;
    struct sl_gw_config *cfg = t->cfg;
    unsigned u;
    if (!strcmp(key, "listen")) {
        char text[300];
        if (get_string(w, v, "listen", text, sizeof(text)) != 0)
            return 0;
        char *colon = strrchr(text, ':');
        unsigned port;
        if (colon == NULL || colon == text) {
            fail(w, v, "listen must be HOST:PORT, got '%s'", text);
            return 0;
        }
        *colon = '\0';
        char *end;
        errno = 0;
        port = (unsigned)strtoul(colon + 1, &end, 10);
        if (*end != '\0' || errno || port > 65535 || colon[1] == '\0') {
            fail(w, v, "listen port must be 0 to 65535");
            return 0;
        }
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", text);
        cfg->listen_port = (int)port;
    } else if (!strcmp(key, "db")) {
        get_string(w, v, "db", cfg->db, sizeof(cfg->db));
    } else if (!strcmp(key, "log_format")) {
        const char *s = scalar(v);
        if (s && !strcmp(s, "json"))
            cfg->log_json = 1;
        else if (s && !strcmp(s, "text"))
            cfg->log_json = 0;
        else
            fail(w, v, "log_format must be text or json");
    } else if (!strcmp(key, "max_body_bytes")) {
        if (get_unsigned(w, v, "max_body_bytes", 1024, 1u << 30, &u) == 0)
            cfg->max_body_bytes = u;
    } else if (!strcmp(key, "drain_timeout_ms")) {
        get_unsigned(w, v, "drain_timeout_ms", 0, 3600000, &cfg->drain_timeout_ms);
    } else if (!strcmp(key, "models")) {
        t->models = v;
    } else if (!strcmp(key, "keys")) {
        t->keys = v;
    } else if (!strcmp(key, "prices")) {
        t->prices = v;
    } else if (!strcmp(key, "redis")) {
        load_redis(w, &cfg->redis, v);
    } else if (!strcmp(key, "virtual_keys")) {
        get_bool(w, v, "virtual_keys", &cfg->virtual_keys);
    } else if (!strcmp(key, "default_max_tokens")) {
        get_unsigned(w, v, "default_max_tokens", 1, 10000000, &cfg->default_max_tokens);
    } else if (!strcmp(key, "auth")) {
        t->auth = v;
        get_bool(w, v, "auth", &t->auth_on);
    } else if (!strcmp(key, "metrics")) {
        walk_mapping(w, v, "metrics", metrics_member, cfg, "public");
    } else {
        return 1;
    }
    return 0;
}

/* The authentication rule, explicit: auth is on exactly when keys are
 * listed. `auth: true` without keys, an empty `keys: []`, or `auth: false`
 * next to keys would each leave the gateway open (or look protected while
 * it is not), so each is refused. */
static void check_auth(struct walker *w, const struct top_ctx *t)
{
    const struct sl_gw_config *cfg = t->cfg;
    if (t->keys && cfg->nkeys == 0)
        fail(w, t->keys,
             "keys is an empty list: list at least one key (sluice serve --hash-key KEY), or "
             "remove keys to run without authentication");
    else if (t->auth && t->auth_on && cfg->nkeys == 0 && !cfg->virtual_keys)
        fail(w, t->auth,
             "auth: true needs at least one key under keys (sluice serve --hash-key "
             "KEY prints its sha256) or virtual_keys: true");
    else if (t->auth && !t->auth_on && (cfg->nkeys > 0 || cfg->virtual_keys))
        fail(w, t->auth, "auth: false but %s: remove one or the other",
             cfg->nkeys ? "keys are listed" : "virtual_keys: true");
}

void sl_gw_config_init(struct sl_gw_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    strcpy(cfg->db, "sluice.db");
    cfg->max_body_bytes = 4 * 1024 * 1024;
    cfg->drain_timeout_ms = 30000;
    cfg->default_max_tokens = 4096;
    cfg->redis.instances = 1;
    cfg->redis.lease_ms = 10000;
    cfg->redis.timeout_ms = 250;
}

int sl_gw_config_load(const char *path, struct sl_gw_config *cfg, char *err, size_t err_size)
{
    struct walker w = {.file = path, .err = err, .err_size = err_size};
    sl_gw_config_init(cfg);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_size, "%s: cannot read the config file: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &w.doc)) {
        snprintf(err, err_size, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    /* one document only: a second one ("---") would otherwise be ignored */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        snprintf(err, err_size, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        w.failed = 1;
    } else {
        if (yaml_document_get_root_node(&extra) != NULL) {
            snprintf(err, err_size,
                     "%s:%zu: a second YAML document: the config is one document (remove the "
                     "'---')",
                     path, extra.start_mark.line + 1);
            w.failed = 1;
        }
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&parser);
    fclose(f);

    yaml_node_t *root = yaml_document_get_root_node(&w.doc);
    struct top_ctx t = {.cfg = cfg};
    if (w.failed) {
        /* reported above */
    } else if (root == NULL) {
        fail(&w, NULL, "the config file is empty");
    } else {
        walk_mapping(&w, root, "the config file", top_member, &t,
                     "listen, db, log_format, max_body_bytes, drain_timeout_ms, auth, keys, "
                     "virtual_keys, default_max_tokens, prices, redis, metrics, models");
    }
    if (!w.failed && t.models == NULL)
        fail(&w, root, "the config lists no models");
    if (!w.failed) {
        load_list(&w, t.models, "models", sizeof(*cfg->models), (void **)&cfg->models,
                  &cfg->nmodels);
        if (!w.failed && cfg->nmodels == 0)
            fail(&w, t.models, "models is an empty list: the gateway would serve nothing");
        for (size_t i = 0; i < cfg->nmodels && !w.failed; i++) {
            load_model(&w, node_at(&w, t.models->data.sequence.items.start[i]), &cfg->models[i]);
            for (size_t j = 0; j < i && !w.failed; j++)
                if (!strcmp(cfg->models[j].name, cfg->models[i].name))
                    fail(&w, node_at(&w, t.models->data.sequence.items.start[i]),
                         "model '%s' is listed twice", cfg->models[i].name);
        }
        check_deployment_names(&w, cfg, t.models);
    }
    if (!w.failed && t.keys)
        load_keys(&w, cfg, t.keys);
    if (!w.failed && t.prices)
        load_prices(&w, cfg, t.prices);
    if (!w.failed)
        check_auth(&w, &t);
    yaml_document_delete(&w.doc);
    if (w.failed) {
        sl_gw_config_free(cfg);
        return -1;
    }
    return 0;
}

int sl_gw_config_single(const char *url, struct sl_gw_config *cfg, char *err, size_t err_size)
{
    sl_gw_config_init(cfg);
    const char *why = sl_gw_target_check_url(url);
    if (why == sl_url_err_scheme) {
        snprintf(err, err_size, "--upstream must start with http:// or https://, got '%s'", url);
        return -1;
    }
    if (why) {
        snprintf(err, err_size, "--upstream URL '%s': %s", url, why);
        return -1;
    }
    if (strlen(url) >= sizeof(cfg->models->deployments->url)) {
        snprintf(err, err_size, "--upstream URL is too long");
        return -1;
    }
    cfg->models = calloc(1, sizeof(*cfg->models));
    struct sl_gw_deployment *d = calloc(1, sizeof(*d));
    if (cfg->models == NULL || d == NULL) {
        free(cfg->models);
        free(d);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    cfg->nmodels = 1;
    strcpy(cfg->models->name, "*");
    cfg->models->total_timeout_ms = 120000;
    cfg->models->deployments = d;
    cfg->models->ndeployments = 1;
    deployment_defaults(d);
    strcpy(d->name, "upstream");
    strcpy(d->url, url);
    size_t n = strlen(d->url);
    while (n > 0 && d->url[n - 1] == '/')
        d->url[--n] = '\0';
    const char *key = getenv("OPENAI_API_KEY");
    if (key && *key && has_control_byte(key)) {
        sl_gw_config_free(cfg);
        snprintf(err, err_size,
                 "OPENAI_API_KEY holds a control character (a line break?): it cannot be sent "
                 "in a header");
        return -1;
    }
    if (key && *key) {
        strcpy(d->api_key_env, "OPENAI_API_KEY");
        d->api_key = strdup(key);
    }
    if (sl_gw_target_init(&d->target, d->url, d->api_key) != 0 || (key && *key && !d->api_key)) {
        sl_gw_config_free(cfg);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

const struct sl_gw_model *sl_gw_config_model(const struct sl_gw_config *cfg, const char *name,
                                             size_t len)
{
    const struct sl_gw_model *wildcard = NULL;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct sl_gw_model *m = &cfg->models[i];
        if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
            return m;
        if (!strcmp(m->name, "*"))
            wildcard = m;
    }
    return wildcard;
}

void sl_gw_config_free(struct sl_gw_config *cfg)
{
    for (size_t i = 0; i < cfg->nmodels; i++) {
        for (size_t j = 0; j < cfg->models[i].ndeployments; j++) {
            sl_gw_target_release(&cfg->models[i].deployments[j].target);
            char *key = cfg->models[i].deployments[j].api_key;
            if (key) {
                /* do not leave the secret lying around in freed memory */
                memset(key, 0, strlen(key));
                free(key);
            }
        }
        free(cfg->models[i].deployments);
    }
    free(cfg->models);
    free(cfg->keys);
    free(cfg->prices);
    cfg->prices = NULL;
    cfg->nprices = 0;
    cfg->models = NULL;
    cfg->keys = NULL;
    cfg->nmodels = cfg->nkeys = 0;
}
