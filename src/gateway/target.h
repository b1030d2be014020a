/* A deployment resolved once, at config load, for the hot path: the full
 * URL of each endpoint and the prebuilt Authorization header value, so
 * that an attempt formats nothing and a bad URL fails at start-up.
 *
 * The endpoint URL rule: a base URL with an empty path gets the OpenAI
 * path, "/v1/chat/completions" and so on; a base URL with a path P gets
 * P (without trailing slashes) followed by "/chat/completions" and so on,
 * i.e. the base path takes the place of "/v1". So https://host and
 * https://host/v1 both reach https://host/v1/chat/completions, and
 * https://host/v1beta/openai reaches https://host/v1beta/openai/chat/completions.
 *
 * Each provider (provider.h) builds its deployments' targets with these:
 * an Anthropic deployment has one endpoint, the Messages API, under the
 * same rule (https://host -> https://host/v1/messages, https://host/p ->
 * https://host/p/messages), its key in `x-api-key` and its version in
 * `anthropic-version`; an Azure one its own paths (sl_gw_target_init_azure). */
#ifndef SL_GW_TARGET_H
#define SL_GW_TARGET_H

#include <stddef.h>

#include "core/buf.h"
#include "http/header.h"
#include "http/openai.h"

/* The longest deployment base URL, NUL included. */
#define SL_GW_BASE_URL_SIZE 512

struct sl_gw_target {
    /* one per endpoint: the base and the longest endpoint path fit */
    char url[SL_OAI__COUNT][SL_GW_BASE_URL_SIZE + 32];
    /* OpenAI's Responses API (BASE/v1/responses; Azure's own forms), for a
     * deployment with `responses: native`; "" for the other providers */
    char responses_url[SL_GW_BASE_URL_SIZE + 64];
    const char *key_name, *key_prefix;  /* the key's header and prefix, key or not */
    char *authorization;                /* "Bearer KEY", or NULL when there is no key */
    struct sl_http_header auth_header;  /* "Authorization: Bearer KEY", when there is a key */
    char *extra_value;                  /* a second fixed header's value, or NULL */
    struct sl_http_header extra_header; /* e.g. "anthropic-version: V" when extra_value */
};

/* Why url cannot be a deployment's base URL (not http:// or https://, no
 * host, a bad port, a query, a fragment...), as one line, or NULL.
 * sl_url_err_scheme (http/url.h) for a scheme other than http and https. */
const char *sl_gw_target_check_url(const char *url);

/* Writes the URL of endpoint ep under base (which sl_gw_target_check_url
 * accepts) into out. Returns 0, or -1 when base is not usable or the URL
 * does not fit in size bytes. */
int sl_gw_endpoint_url(const char *base, enum sl_openai_endpoint ep, char *out, size_t size);

/* Resolves base and api_key (NULL: none) into t. Returns 0, or -1 (a bad
 * or too long base URL, or out of memory); t needs sl_gw_target_release
 * either way. */
int sl_gw_target_init(struct sl_gw_target *t, const char *base, const char *api_key);

/* The same for an Anthropic deployment: the Messages URL, `x-api-key`
 * and `anthropic-version: version`. */
int sl_gw_target_init_anthropic(struct sl_gw_target *t, const char *base, const char *api_key,
                                const char *version);

/* The same for an Azure OpenAI deployment, its key in `api-key`. With
 * api_version "v1" (or NULL) the v1 form: BASE/openai/v1/chat/completions
 * and so on; with a dated version the deployment form:
 * BASE/openai/deployments/DEPLOYMENT/chat/completions?api-version=V (a
 * deployment name needed). BASE is the resource's endpoint
 * (https://NAME.openai.azure.com), trailing slashes dropped. */
int sl_gw_target_init_azure(struct sl_gw_target *t, const char *base, const char *api_key,
                            const char *deployment, const char *api_version);

/* For providers' own targets: the URL of `tail` under base by the rule
 * above ("messages" -> BASE/v1/messages or BASE/PATH/messages); the key in
 * header `name` after `prefix` ("Bearer "; NULL key: no header); a second
 * fixed header. Each returns 0 or -1. */
int sl_gw_target_url_under(const char *base, const char *tail, char *out, size_t size);
int sl_gw_target_key(struct sl_gw_target *t, const char *name, const char *prefix,
                     const char *api_key);
int sl_gw_target_extra(struct sl_gw_target *t, const char *name, const char *value);

/* A Bedrock deployment's Converse URL: base (its path kept as a prefix)
 * + /model/{modelId}/converse, or /converse-stream, appended to out
 * (NUL-terminated, not counted); *path_at is where the wire path starts
 * in out (what SigV4 signs). Returns 0 or -1. */
int sl_gw_target_url_bedrock(const char *base, const char *model_id, int stream, struct sl_buf *out,
                             size_t *path_at);

/* Frees what t holds, wiping the key from memory first. */
void sl_gw_target_release(struct sl_gw_target *t);

#endif
