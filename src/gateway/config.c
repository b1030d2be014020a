/* YAML config loading: libyaml builds the document; this file walks it
 * against the schema below, so that every error names its line. Unknown
 * keys are errors: a typo must not silently become a default. */
#include "gateway/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/str.h"
#include "gateway/config_walk.h"
#include "http/url.h"
#include "providers/anthropic.h"

/* ---- retry ---------------------------------------------------------------- */

static int retry_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_retry_policy *p = ctx;
    unsigned u;
    if (!strcmp(key, "max_attempts")) {
        if (sl__cfg_get_unsigned(w, v, "retry.max_attempts", 1, 100, &u) == 0)
            p->max_attempts = u;
    } else if (!strcmp(key, "backoff")) {
        int kind = sl_wait_kind_parse(sl__cfg_scalar(v) ? sl__cfg_scalar(v) : "");
        if (kind < 0)
            sl__cfg_fail(w, v,
                         "retry.backoff must be full-jitter, exponential, decorrelated, random, "
                         "fixed or none");
        else
            p->wait = (enum sl_wait_kind)kind;
    } else if (!strcmp(key, "base_ms")) {
        sl__cfg_get_double(w, v, "retry.base_ms", 0, 3600000, &p->multiplier_ms);
        p->fixed_ms = p->multiplier_ms;
    } else if (!strcmp(key, "max_ms")) {
        sl__cfg_get_double(w, v, "retry.max_ms", 0, 3600000, &p->max_ms);
    } else if (!strcmp(key, "retry_after_cap_ms")) {
        sl__cfg_get_double(w, v, "retry.retry_after_cap_ms", 0, 3600000, &p->retry_after_cap_ms);
    } else if (!strcmp(key, "retry_on")) {
        if (v->type != YAML_SEQUENCE_NODE) {
            sl__cfg_fail(w, v, "retry.retry_on must be a list of error classes");
            return 0;
        }
        p->retry_on = 0;
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++) {
            yaml_node_t *item = sl__cfg_node_at(w, *i);
            const char *name = sl__cfg_scalar(item);
            int cls = name ? sl_err_parse(name, (int)strlen(name)) : -1;
            if (cls < 0) {
                sl__cfg_fail(w, item, "unknown error class '%s' in retry.retry_on",
                             name ? name : "");
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

/* The first of a comma-separated list of header names that may not be
 * forwarded (the gateway's own, hop-by-hop or framing headers, the key),
 * or a malformed one, as a static string; or NULL. */
static const char *forward_refused(const char *list)
{
    static const char *const own[] = {"host",          "content-length",
                                      "content-type",  "transfer-encoding",
                                      "connection",    "keep-alive",
                                      "upgrade",       "te",
                                      "trailer",       "expect",
                                      "authorization", "x-api-key",
                                      "api-key",       "x-goog-api-key",
                                      "accept",        "traceparent",
                                      "tracestate",    "anthropic-version",
                                      "x-request-id"};
    static char bad[64];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
            if (strlen(own[i]) == n && strncasecmp(own[i], p, n) == 0)
                return own[i];
        for (size_t i = 0; i < n; i++)
            if (!(isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_')) {
                snprintf(bad, sizeof(bad), "%.*s", (int)(n < 60 ? n : 60), p);
                return bad;
            }
        p += n + (p[n] == ',');
    }
    return NULL;
}

static int deployment_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_deployment *d = ctx;
    if (!strcmp(key, "name"))
        sl__cfg_get_string(w, v, "name", d->name, sizeof(d->name));
    else if (!strcmp(key, "url")) {
        if (sl__cfg_get_string(w, v, "url", d->url, sizeof(d->url)) == 0) {
            const char *why = sl_gw_target_check_url(d->url);
            if (why == sl_url_err_scheme)
                sl__cfg_fail(w, v, "url must start with http:// or https://, got '%s'", d->url);
            else if (why)
                sl__cfg_fail(w, v, "url '%s': %s", d->url, why);
        }
        size_t n = strlen(d->url);
        while (n > 0 && d->url[n - 1] == '/')
            d->url[--n] = '\0';
    } else if (!strcmp(key, "api_key_env"))
        sl__cfg_get_string(w, v, "api_key_env", d->api_key_env, sizeof(d->api_key_env));
    else if (!strcmp(key, "model"))
        sl__cfg_get_string(w, v, "model", d->upstream_model, sizeof(d->upstream_model));
    else if (!strcmp(key, "provider")) {
        char p[32] = "";
        if (sl__cfg_get_string(w, v, "provider", p, sizeof(p)) == 0 &&
            (d->provider = sl_gw_provider_find(p)) == NULL)
            sl__cfg_fail(w, v, "unknown provider '%s' (known: %s)", p, sl_gw_providers_known());
    } else if (!strcmp(key, "api_key")) {
        char v2[16] = "";
        if (sl__cfg_get_string(w, v, "api_key", v2, sizeof(v2)) == 0 && strcmp(v2, "client") != 0)
            sl__cfg_fail(w, v,
                         "api_key may only be 'client' (the client's own key); a key of the "
                         "gateway's goes in an environment variable named by api_key_env");
        d->client_key = 1;
    } else if (!strcmp(key, "forward_headers")) {
        sl__cfg_get_list(w, v, "forward_headers", "header names", d->forward_headers,
                         sizeof(d->forward_headers));
        if (!w->failed && forward_refused(d->forward_headers))
            sl__cfg_fail(w, v, "forward_headers: '%s' cannot be forwarded (the gateway sets it)",
                         forward_refused(d->forward_headers));
    } else if (!strcmp(key, "responses")) {
        char m[16] = "";
        if (sl__cfg_get_string(w, v, "responses", m, sizeof(m)) == 0 && strcmp(m, "native") != 0 &&
            strcmp(m, "chat") != 0)
            sl__cfg_fail(w, v,
                         "responses must be 'chat' (the Responses API through chat completions, "
                         "the default) or 'native' (the upstream serves /v1/responses itself)");
        d->responses_native = strcmp(m, "native") == 0;
    } else if (!strcmp(key, "stream_usage"))
        sl__cfg_get_bool(w, v, "stream_usage", &d->stream_usage);
    else if (!strcmp(key, "api_version"))
        sl__cfg_get_string(w, v, "api_version", d->api_version, sizeof(d->api_version));
    else if (!strcmp(key, "anthropic_version"))
        sl__cfg_get_string(w, v, "anthropic_version", d->anthropic_version,
                           sizeof(d->anthropic_version));
    else if (!strcmp(key, "default_max_tokens"))
        sl__cfg_get_unsigned(w, v, "default_max_tokens", 1, 10000000, &d->default_max_tokens);
    else if (!strcmp(key, "region"))
        sl__cfg_get_string(w, v, "region", d->region, sizeof(d->region));
    else if (!strcmp(key, "weight"))
        sl__cfg_get_double(w, v, "weight", 0.000001, 1e6, &d->weight);
    else if (!strcmp(key, "max_concurrency"))
        sl__cfg_get_unsigned(w, v, "max_concurrency", 1, 1000000, &d->max_concurrency);
    else if (!strcmp(key, "rpm"))
        sl__cfg_get_unsigned(w, v, "rpm", 1, 100000000, &d->rpm);
    else if (!strcmp(key, "tpm"))
        sl__cfg_get_unsigned(w, v, "tpm", 1, 4000000000u, &d->tpm);
    else if (!strcmp(key, "queue_length"))
        sl__cfg_get_unsigned(w, v, "queue_length", 0, 10000000, &d->queue_length);
    else if (!strcmp(key, "queue_timeout_ms"))
        sl__cfg_get_unsigned(w, v, "queue_timeout_ms", 1, 3600000, &d->queue_timeout_ms);
    else if (!strcmp(key, "connect_timeout_ms"))
        sl__cfg_get_unsigned(w, v, "connect_timeout_ms", 1, 600000, &d->connect_timeout_ms);
    else if (!strcmp(key, "attempt_timeout_ms"))
        sl__cfg_get_unsigned(w, v, "attempt_timeout_ms", 1, 3600000, &d->attempt_timeout_ms);
    else if (!strcmp(key, "cooldown_failures"))
        sl__cfg_get_unsigned(w, v, "cooldown_failures", 1, 1000000, &d->cooldown_failures);
    else if (!strcmp(key, "cooldown_ms"))
        sl__cfg_get_unsigned(w, v, "cooldown_ms", 0, 3600000, &d->cooldown_ms);
    else if (!strcmp(key, "retry"))
        sl__cfg_walk_mapping(
            w, v, "retry", retry_member, &d->retry,
            "max_attempts, backoff, base_ms, max_ms, retry_after_cap_ms, retry_on");
    else
        return 1;
    return 0;
}

static void deployment_defaults(struct sl_gw_deployment *d)
{
    memset(d, 0, sizeof(*d));
    d->provider = &sl_gw_provider_openai;
    d->stream_usage = 1;
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
    if (d->client_key && d->api_key_env[0]) {
        sl__cfg_fail(w, at, "deployment '%s': api_key: client and api_key_env exclude each other",
                     d->name);
        return -1;
    }
    if (d->api_key_env[0] == '\0')
        return 0;
    const char *value = getenv(d->api_key_env);
    if (value == NULL || *value == '\0') {
        sl__cfg_fail(w, at, "deployment '%s': environment variable %s (api_key_env) is not set",
                     d->name, d->api_key_env);
        return -1;
    }
    if (has_control_byte(value)) {
        sl__cfg_fail(
            w, at,
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
 * which has defaults for both; region to provider: bedrock, which may also
 * take default_max_tokens. */
static int provider_options(struct walker *w, yaml_node_t *at, struct sl_gw_deployment *d)
{
    if (d->api_version[0] && d->provider != &sl_gw_provider_azure) {
        sl__cfg_fail(w, at, "deployment '%s': api_version needs provider: azure", d->name);
        return -1;
    }
    if (d->responses_native && d->provider != &sl_gw_provider_openai &&
        d->provider != &sl_gw_provider_azure) {
        sl__cfg_fail(w, at,
                     "deployment '%s': responses: native needs provider: openai or azure (the "
                     "Responses API is OpenAI's)",
                     d->name);
        return -1;
    }
    if (d->region[0] && d->provider != &sl_gw_provider_bedrock) {
        sl__cfg_fail(w, at, "deployment '%s': region needs provider: bedrock", d->name);
        return -1;
    }
    if (d->provider == &sl_gw_provider_bedrock) { /* default_max_tokens: none by default */
        if (d->anthropic_version[0] || d->api_key_env[0])
            sl__cfg_fail(w, at,
                         "deployment '%s': provider: bedrock takes no %s (its credentials are "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                         d->name, d->api_key_env[0] ? "api_key_env" : "anthropic_version");
        return w->failed ? -1 : 0;
    }
    if (d->provider != &sl_gw_provider_anthropic) {
        if (d->anthropic_version[0] || d->default_max_tokens)
            sl__cfg_fail(w, at,
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
        sl__cfg_get_string(w, v, "model name", mc->m->name, sizeof(mc->m->name));
    else if (!strcmp(key, "total_timeout_ms"))
        sl__cfg_get_unsigned(w, v, "total_timeout_ms", 1, 3600000, &mc->m->total_timeout_ms);
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
    if (sl__cfg_walk_mapping(w, node, "a model", model_member, &mc,
                             "name, total_timeout_ms, deployments") != 0)
        return;
    if (m->name[0] == '\0') {
        sl__cfg_fail(w, node, "a model needs a name");
        return;
    }
    yaml_node_t *list = mc.deployments;
    if (list == NULL || list->type != YAML_SEQUENCE_NODE ||
        list->data.sequence.items.top == list->data.sequence.items.start) {
        sl__cfg_fail(w, list ? list : node, "model '%s' needs a non-empty list of deployments",
                     m->name);
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > SL_GW_MAX_DEPLOYMENTS) {
        sl__cfg_fail(w, list, "model '%s' lists %zu deployments; at most %d", m->name, n,
                     SL_GW_MAX_DEPLOYMENTS);
        return;
    }
    m->deployments = calloc(n, sizeof(*m->deployments));
    if (m->deployments == NULL) {
        sl__cfg_fail(w, list, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && !w->failed; i++) {
        yaml_node_t *dn = sl__cfg_node_at(w, list->data.sequence.items.start[i]);
        struct sl_gw_deployment *d = &m->deployments[i];
        deployment_defaults(d);
        m->ndeployments = i + 1;
        if (sl__cfg_walk_mapping(
                w, dn, "a deployment", deployment_member, d,
                "name, url, api_key_env, api_key, forward_headers, model, provider, "
                "api_version, anthropic_version, stream_usage, responses, "
                "default_max_tokens, region, weight, max_concurrency, rpm, tpm, queue_length, "
                "queue_timeout_ms, connect_timeout_ms, attempt_timeout_ms, "
                "cooldown_failures, cooldown_ms, retry") != 0)
            return;
        if (d->url[0] == '\0' && d->provider->default_url)
            snprintf(d->url, sizeof(d->url), "%s", d->provider->default_url);
        if (d->url[0] == '\0' && d->provider != &sl_gw_provider_bedrock) { /* from its region */
            sl__cfg_fail(w, dn, "deployment %zu of model '%s' needs a url", i + 1, m->name);
            return;
        }
        if (d->name[0] == '\0')
            snprintf(d->name, sizeof(d->name), "%s#%zu", m->name, i + 1);
        if (resolve_key(w, dn, d) != 0 || provider_options(w, dn, d) != 0)
            return;
        char why[256];
        if (d->provider->target(d, why, sizeof(why)) != 0) {
            sl__cfg_fail(w, dn, "deployment '%s': %s", d->name, why);
            return;
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
                        sl__cfg_fail(w, sl__cfg_node_at(w, models->data.sequence.items.start[i]),
                                     "deployment name '%s' is used twice (models '%s' and '%s'); "
                                     "names label the metrics and the request log",
                                     name, m2->name, m->name);
                        break;
                    }
            }
        }
    }
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
        sl__cfg_get_bool(w, v, "metrics.public", &cfg->metrics_public);
    else
        return 1;
    return 0;
}

static int ui_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_config *cfg = ctx;
    if (!strcmp(key, "public"))
        sl__cfg_get_bool(w, v, "ui.public", &cfg->ui_public);
    else
        return 1;
    return 0;
}

static int bodies_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_gw_config *cfg = ctx;
    if (!strcmp(key, "max_bytes")) {
        sl__cfg_get_unsigned(w, v, "log_bodies.max_bytes", 256, 1u << 20, &cfg->bodies.max_bytes);
    } else if (!strcmp(key, "redact")) {
        if (v->type != YAML_SEQUENCE_NODE) {
            sl__cfg_fail(w, v, "log_bodies.redact must be a list of regular expressions");
            return 0;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top && !w->failed; it++) {
            yaml_node_t *n = sl__cfg_node_at(w, *it);
            char re[512];
            if (sl__cfg_get_string(w, n, "log_bodies.redact item", re, sizeof(re)) != 0)
                return 0;
            if (cfg->bodies.nredact == sizeof(cfg->bodies.redact) / sizeof(*cfg->bodies.redact)) {
                sl__cfg_fail(w, n, "log_bodies.redact: at most 16 patterns");
                return 0;
            }
            int rc = regcomp(&cfg->bodies.redact[cfg->bodies.nredact], re, REG_EXTENDED);
            if (rc != 0) {
                char why[160];
                regerror(rc, &cfg->bodies.redact[cfg->bodies.nredact], why, sizeof(why));
                sl__cfg_fail(w, n, "log_bodies.redact: '%s' is not a regular expression: %s", re,
                             why);
                return 0;
            }
            cfg->bodies.nredact++;
        }
    } else {
        return 1;
    }
    return 0;
}

static int top_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct top_ctx *t = ctx;
    struct sl_gw_config *cfg = t->cfg;
    unsigned u;
    if (!strcmp(key, "listen")) {
        char text[300];
        if (sl__cfg_get_string(w, v, "listen", text, sizeof(text)) != 0)
            return 0;
        char *colon = strrchr(text, ':');
        unsigned port;
        if (colon == NULL || colon == text) {
            sl__cfg_fail(w, v, "listen must be HOST:PORT, got '%s'", text);
            return 0;
        }
        *colon = '\0';
        char *end;
        errno = 0;
        port = (unsigned)strtoul(colon + 1, &end, 10);
        if (*end != '\0' || errno || port > 65535 || colon[1] == '\0') {
            sl__cfg_fail(w, v, "listen port must be 0 to 65535");
            return 0;
        }
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", text);
        cfg->listen_port = (int)port;
    } else if (!strcmp(key, "db")) {
        sl__cfg_get_string(w, v, "db", cfg->db, sizeof(cfg->db));
    } else if (!strcmp(key, "log_format")) {
        const char *s = sl__cfg_scalar(v);
        if (s && !strcmp(s, "json"))
            cfg->log_json = 1;
        else if (s && !strcmp(s, "text"))
            cfg->log_json = 0;
        else
            sl__cfg_fail(w, v, "log_format must be text or json");
    } else if (!strcmp(key, "max_body_bytes")) {
        if (sl__cfg_get_unsigned(w, v, "max_body_bytes", 1024, 1u << 30, &u) == 0)
            cfg->max_body_bytes = u;
    } else if (!strcmp(key, "drain_timeout_ms")) {
        sl__cfg_get_unsigned(w, v, "drain_timeout_ms", 0, 3600000, &cfg->drain_timeout_ms);
    } else if (!strcmp(key, "models")) {
        t->models = v;
    } else if (!strcmp(key, "keys")) {
        t->keys = v;
    } else if (!strcmp(key, "prices")) {
        t->prices = v;
    } else if (!strcmp(key, "redis")) {
        sl__cfg_load_redis(w, &cfg->redis, v);
    } else if (!strcmp(key, "virtual_keys")) {
        sl__cfg_get_bool(w, v, "virtual_keys", &cfg->virtual_keys);
    } else if (!strcmp(key, "default_max_tokens")) {
        sl__cfg_get_unsigned(w, v, "default_max_tokens", 1, 10000000, &cfg->default_max_tokens);
    } else if (!strcmp(key, "auth")) {
        t->auth = v;
        sl__cfg_get_bool(w, v, "auth", &t->auth_on);
    } else if (!strcmp(key, "metrics")) {
        sl__cfg_walk_mapping(w, v, "metrics", metrics_member, cfg, "public");
    } else if (!strcmp(key, "log_bodies")) {
        cfg->bodies.on = 1;
        cfg->bodies.max_bytes = 16384;
        if (v->type == YAML_SCALAR_NODE)
            sl__cfg_get_bool(w, v, "log_bodies", &cfg->bodies.on);
        else
            sl__cfg_walk_mapping(w, v, "log_bodies", bodies_member, cfg, "max_bytes, redact");
    } else if (!strcmp(key, "ui")) {
        sl__cfg_walk_mapping(w, v, "ui", ui_member, cfg, "public");
    } else if (!strcmp(key, "otel")) {
        cfg->otel_on = 1;
        sl__cfg_load_otel(w, &cfg->otel, v);
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
        sl__cfg_fail(
            w, t->keys,
            "keys is an empty list: list at least one key (sluice serve --hash-key KEY), or "
            "remove keys to run without authentication");
    else if (t->auth && t->auth_on && cfg->nkeys == 0 && !cfg->virtual_keys)
        sl__cfg_fail(w, t->auth,
                     "auth: true needs at least one key under keys (sluice serve --hash-key "
                     "KEY prints its sha256) or virtual_keys: true");
    else if (t->auth && !t->auth_on && (cfg->nkeys > 0 || cfg->virtual_keys))
        sl__cfg_fail(w, t->auth, "auth: false but %s: remove one or the other",
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
        sl__cfg_fail(&w, NULL, "the config file is empty");
    } else {
        sl__cfg_walk_mapping(
            &w, root, "the config file", top_member, &t,
            "listen, db, log_format, max_body_bytes, drain_timeout_ms, auth, keys, "
            "virtual_keys, default_max_tokens, prices, redis, metrics, ui, otel, log_bodies, "
            "models");
    }
    if (!w.failed && t.models == NULL)
        sl__cfg_fail(&w, root, "the config lists no models");
    if (!w.failed) {
        sl__cfg_load_list(&w, t.models, "models", sizeof(*cfg->models), (void **)&cfg->models,
                          &cfg->nmodels);
        if (!w.failed && cfg->nmodels == 0)
            sl__cfg_fail(&w, t.models, "models is an empty list: the gateway would serve nothing");
        for (size_t i = 0; i < cfg->nmodels && !w.failed; i++) {
            load_model(&w, sl__cfg_node_at(&w, t.models->data.sequence.items.start[i]),
                       &cfg->models[i]);
            for (size_t j = 0; j < i && !w.failed; j++)
                if (!strcmp(cfg->models[j].name, cfg->models[i].name))
                    sl__cfg_fail(&w, sl__cfg_node_at(&w, t.models->data.sequence.items.start[i]),
                                 "model '%s' is listed twice", cfg->models[i].name);
        }
        check_deployment_names(&w, cfg, t.models);
    }
    if (!w.failed && t.keys)
        sl__cfg_load_keys(&w, cfg, t.keys);
    if (!w.failed && t.prices)
        sl__cfg_load_prices(&w, cfg, t.prices);
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
    for (size_t i = 0; i < cfg->bodies.nredact; i++)
        regfree(&cfg->bodies.redact[i]);
    cfg->bodies.nredact = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        for (size_t j = 0; j < cfg->models[i].ndeployments; j++) {
            sl_gw_target_release(&cfg->models[i].deployments[j].target);
            struct sl_sigv4_env *aws = &cfg->models[i].deployments[j].aws;
            if (aws->secret_access_key) /* as the api key below */
                memset(aws->secret_access_key, 0, strlen(aws->secret_access_key));
            sl_sigv4_env_release(aws);
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
