/* Gateway configuration: which models exist, which upstream deployments
 * serve each, their limits and retry policies, and the gateway's own API
 * keys. Loaded from YAML (sluice serve --config FILE) or made up from one
 * URL (sluice serve --upstream URL). A bad file is refused as a whole with
 * "FILE:LINE: reason". Upstream API keys come from environment variables
 * named in the file; their values are kept here and never printed. */
#ifndef SL_GW_CONFIG_H
#define SL_GW_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/provider.h"
#include "gateway/target.h"
#include "limits/prices.h"
#include "otel/exporter.h"
#include "providers/sigv4.h"
#include "retry/policy.h"

struct sl_gw_deployment {
    char name[64];
    char url[SL_GW_BASE_URL_SIZE];         /* base URL: http(s)://host[:port][/path] */
    char api_key_env[128];                 /* the variable's name, for messages */
    char *api_key;                         /* its value at start-up, or NULL */
    char upstream_model[128];              /* sent upstream; empty = the client's model */
    const struct sl_gw_provider *provider; /* `provider:` (provider.h); openai by default */
    char anthropic_version[32];            /* anthropic: `anthropic-version` */
    char api_version[32];                  /* azure: "v1" (default) or a dated version */
    int stream_usage;            /* openai, azure: ask streams for their usage chunk (default on) */
    int client_key;              /* `api_key: client`: the client's own key goes upstream */
    int responses_native;        /* openai, azure: `responses: native`, /v1/responses as sent */
    char forward_headers[256];   /* the client's headers passed upstream, comma-separated */
    unsigned default_max_tokens; /* anthropic, bedrock: max_tokens when the client sent none */
    char region[32];             /* bedrock: `region:`, else AWS_REGION */
    struct sl_sigv4_env aws;     /* bedrock: the AWS credentials read at load */
    double weight;
    unsigned max_concurrency;
    unsigned rpm, tpm; /* the provider's published limits; 0: none */
    unsigned queue_length;
    unsigned queue_timeout_ms;
    unsigned connect_timeout_ms;
    unsigned attempt_timeout_ms;
    unsigned cooldown_failures; /* consecutive failures that start a cool-down */
    unsigned cooldown_ms;
    struct sl_retry_policy retry;
    struct sl_gw_target target; /* url and api_key resolved at load */
};

/* A request remembers the deployments it tried in one 64-bit mask. */
#define SL_GW_MAX_DEPLOYMENTS 64

struct sl_gw_model {
    char name[128]; /* "*" matches any model */
    unsigned total_timeout_ms;
    struct sl_gw_deployment *deployments;
    size_t ndeployments;
};

struct sl_gw_key {
    char name[64];
    unsigned char sha256[32];
    unsigned rpm;          /* requests per minute, 0: no limit */
    unsigned tpm;          /* tokens per minute (prompt + completion), 0: no limit */
    unsigned max_parallel; /* requests in flight at once, 0: no limit */
    char models[512];      /* comma-separated patterns it may call; "": any */
};

/* Limits shared by every instance through Redis (`redis:`); url "" = none. */
struct sl_gw_redis {
    char url[512];
    int fail_closed;     /* Redis unavailable: 503 (else local limits / instances) */
    unsigned instances;  /* the gateway instances sharing the limits */
    unsigned lease_ms;   /* a permit not renewed within returns */
    unsigned timeout_ms; /* a Redis call's longest wait */
};

struct sl_gw_config {
    char listen_host[256];
    int listen_port;
    char db[1024];
    int log_json;
    size_t max_body_bytes;
    unsigned drain_timeout_ms;
    struct sl_gw_model *models;
    size_t nmodels;
    /* Authentication is on exactly when nkeys > 0 or virtual_keys: the
     * loader refuses `auth: true` without either, `keys: []`, and
     * `auth: false` with keys. */
    struct sl_gw_key *keys;
    size_t nkeys;
    int virtual_keys;            /* keys managed in the database too */
    unsigned default_max_tokens; /* a TPM reservation's completion part when the client sent none */
    int metrics_public;          /* metrics: {public: true}: /metrics needs no key */
    int ui_public;               /* ui: {public: true}: /ui needs no master key (local use) */
    struct {
        int on;             /* `log_bodies:` (bodies.c): off by default */
        unsigned max_bytes; /* a request's texts at most (default 16384) */
        size_t nredact;
        regex_t redact[16]; /* POSIX extended; every match becomes [redacted] */
    } bodies;
    struct sl_gw_redis redis;
    int otel_on; /* `otel:` given: traces exported (docs/otel.md) */
    struct sl_otel_config otel;
    struct sl_price_rule *prices; /* `prices:`, looked up before the built-in table */
    size_t nprices;
};

void sl_gw_config_init(struct sl_gw_config *cfg);

/* Returns 0, or -1 with "FILE:LINE: reason" in err. */
int sl_gw_config_load(const char *path, struct sl_gw_config *cfg, char *err, size_t err_size);

/* The quick start: every model goes to one upstream with default limits. */
int sl_gw_config_single(const char *upstream_url, struct sl_gw_config *cfg, char *err,
                        size_t err_size);

/* The model entry for a requested name: exact match first, then "*". */
const struct sl_gw_model *sl_gw_config_model(const struct sl_gw_config *cfg, const char *name,
                                             size_t len);

void sl_gw_config_free(struct sl_gw_config *cfg);

#endif
