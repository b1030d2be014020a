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

#endif
