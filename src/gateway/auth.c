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

static int equal_ct(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

int sl_gw_auth(const struct sl_gw_config *cfg, const struct sl_str *authorization)
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
    unsigned char digest[32];
    sl_sha256(token, len, digest);
    int found = -2;
    /* every key is compared, so timing says nothing about which matched */
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (equal_ct(digest, cfg->keys[i].sha256, 32) && found < 0)
            found = (int)i;
    return found;
}

int sl_gw_needs_key(const struct sl_gw_config *cfg, enum sl_gw_route route)
{
    if (cfg->nkeys == 0)
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

int sl_gw_may_cancel(const struct sl_gw_config *cfg, int owner, int caller)
{
    if (cfg->nkeys == 0)
        return 1;
    return owner >= 0 && caller == owner;
}
