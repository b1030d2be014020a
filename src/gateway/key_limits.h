/* Per-key limits of the gateway's own API keys (config `keys:`): requests
 * per minute (a sliding window, limits/window.h: never more than `rpm` in
 * any minute, a burst allowed) and requests in parallel. Checked at the
 * front, before a request reaches any deployment; the state lives on the
 * loop thread, one entry per configured key, owned by the gateway. */
#ifndef SL_GW_KEY_LIMITS_H
#define SL_GW_KEY_LIMITS_H

#include <stdint.h>

#include "gateway/config.h"

enum sl_gw_limit { SL_GW_LIMIT_RPM, SL_GW_LIMIT_PARALLEL, SL_GW_LIMIT__COUNT };
const char *sl_gw_limit_name(enum sl_gw_limit limit); /* "rpm", "max_parallel" */

struct sl_gw_key_limits;

/* NULL only if memory ran out. */
struct sl_gw_key_limits *sl_gw_key_limits_new(const struct sl_gw_config *cfg);
void sl_gw_key_limits_free(struct sl_gw_key_limits *kl);

/* Admits one request of key `key` at now_us: 0 (and the request counts as
 * in flight until sl_gw_key_release), or -1 with the limit that refused it
 * in *limit, the seconds after which to retry in *retry_after_s, and a
 * one-line reason in msg. */
int sl_gw_key_admit(struct sl_gw_key_limits *kl, int key, uint64_t now_us, enum sl_gw_limit *limit,
                    unsigned *retry_after_s, char *msg, size_t size);
void sl_gw_key_release(struct sl_gw_key_limits *kl, int key);

#endif
