/* Gateway API keys: clients send "Authorization: Bearer KEY"; the config
 * and the database hold only SHA-256 digests (gateway/keyring.h finds a
 * key). Here: the digest, and who may call what. */
#ifndef SL_GW_AUTH_H
#define SL_GW_AUTH_H

#include <stddef.h>

#include "core/str.h"
#include "gateway/config.h"

void sl_sha256(const void *data, size_t len, unsigned char out[32]);
void sl_sha256_hex(const void *data, size_t len, char out[65]);

/* The SHA-256 of the token of an "Authorization: Bearer TOKEN" header
 * (the scheme in any case, blanks before the token skipped): 0, or -1 when
 * the header is missing or holds no Bearer token. The one parser of API
 * keys and the admin API's master key. */
int sl_gw_bearer_digest(const struct sl_str *authorization, unsigned char out[32]);
/* n bytes compared in constant time: 1 if equal. */
int sl_ct_equal(const void *a, const void *b, size_t n);

/* Authentication is on: static keys are listed, or virtual_keys is set. */
int sl_gw_auth_on(const struct sl_gw_config *cfg);

/* Who may call what, when keys are configured (without keys, anyone may
 * call anything):
 *  - the API endpoints and GET /v1/models need a key;
 *  - /metrics needs a key unless the config says metrics: {public: true};
 *  - /health and /ready are always open (probes carry no keys);
 *  - a request may be cancelled only with the key that started it. */
enum sl_gw_route {
    SL_GW_ROUTE_API,
    SL_GW_ROUTE_MODELS,
    SL_GW_ROUTE_METRICS,
    SL_GW_ROUTE_HEALTH,
    SL_GW_ROUTE_READY,
};

int sl_gw_needs_key(const struct sl_gw_config *cfg, enum sl_gw_route route);

/* owner: the key that started the request (NULL: none); caller: the
 * cancelling request's key (NULL: none or unknown). */
int sl_gw_may_cancel(const struct sl_gw_config *cfg, const void *owner, const void *caller);

#endif
