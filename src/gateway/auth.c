#include "gateway/auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <strings.h>

void sl_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void sl_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    sl_sha256(data, len, d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int sl_gw_bearer_digest(const struct sl_str *authorization, unsigned char out[32])
{
    if (authorization == NULL || authorization->len < 8 ||
        strncasecmp(authorization->ptr, "Bearer ", 7) != 0)
        return -1;
    const char *token = authorization->ptr + 7;
    size_t len = authorization->len - 7;
    while (len && *token == ' ')
        token++, len--;
    if (len == 0)
        return -1;
    sl_sha256(token, len, out);
    return 0;
}

int sl_ct_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int sl_gw_needs_key(const struct sl_gw_config *cfg, enum sl_gw_route route)
{
    if (!sl_gw_auth_on(cfg))
        return 0;
    switch (route) {
    case SL_GW_ROUTE_API:
    case SL_GW_ROUTE_MODELS:
        return 1;
    case SL_GW_ROUTE_METRICS:
        return !cfg->metrics_public;
    case SL_GW_ROUTE_HEALTH:
    case SL_GW_ROUTE_READY:
        return 0;
    }
    return 1;
}

int sl_gw_auth_on(const struct sl_gw_config *cfg)
{
    return cfg->nkeys > 0 || cfg->virtual_keys;
}

int sl_gw_may_cancel(const struct sl_gw_config *cfg, const void *owner, const void *caller)
{
    if (!sl_gw_auth_on(cfg))
        return 1;
    return owner != NULL && caller == owner;
}
