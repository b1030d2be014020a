/* Gateway API keys: clients send "Authorization: Bearer KEY"; the config
 * holds only SHA-256 digests, compared in constant time. */
#ifndef SL_GW_AUTH_H
#define SL_GW_AUTH_H

#include <stddef.h>

#include "gateway/config.h"
#include "http/parser.h"

void sl_sha256(const void *data, size_t len, unsigned char out[32]);
void sl_sha256_hex(const void *data, size_t len, char out[65]);

/* Returns the index of the matching key, -1 when the header is missing or
 * not a Bearer token, -2 when the token matches no key. */
int sl_gw_auth(const struct sl_gw_config *cfg, const struct sl_str *authorization);

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

/* owner: the key index that started the request (-1: none); caller: what
 * sl_gw_auth() said about the cancelling request. */
int sl_gw_may_cancel(const struct sl_gw_config *cfg, int owner, int caller);

#endif
