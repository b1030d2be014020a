#include "gateway/key_limits.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "limits/window.h"

#define MINUTE_US 60000000ull

struct key_state {
    struct sl_window rpm; /* limit 0: none */
    unsigned in_flight;
};

struct sl_gw_key_limits {
    const struct sl_gw_config *cfg;
    struct key_state *keys;
};

const char *sl_gw_limit_name(enum sl_gw_limit limit)
{
    return limit == SL_GW_LIMIT_RPM ? "rpm" : "max_parallel";
}

struct sl_gw_key_limits *sl_gw_key_limits_new(const struct sl_gw_config *cfg)
{
    struct sl_gw_key_limits *kl = calloc(1, sizeof *kl);
    if (!kl)
        return NULL;
    kl->cfg = cfg;
    kl->keys = calloc(cfg->nkeys ? cfg->nkeys : 1, sizeof *kl->keys);
    if (!kl->keys) {
        free(kl);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (cfg->keys[i].rpm)
            sl_window_init(&kl->keys[i].rpm, cfg->keys[i].rpm, MINUTE_US);
    return kl;
}

void sl_gw_key_limits_free(struct sl_gw_key_limits *kl)
{
    if (!kl)
        return;
    for (size_t i = 0; i < kl->cfg->nkeys; i++)
        sl_window_release(&kl->keys[i].rpm);
    free(kl->keys);
    free(kl);
}

int sl_gw_key_admit(struct sl_gw_key_limits *kl, int key, uint64_t now_us, enum sl_gw_limit *limit,
                    unsigned *retry_after_s, char *msg, size_t size)
{
    if (key < 0)
        return 0;
    const struct sl_gw_key *k = &kl->cfg->keys[key];
    struct key_state *s = &kl->keys[key];
    if (k->max_parallel && s->in_flight >= k->max_parallel) {
        *limit = SL_GW_LIMIT_PARALLEL;
        *retry_after_s = 1;
        snprintf(msg, size, "key '%s' has %u requests in flight, its max_parallel", k->name,
                 s->in_flight);
        return -1;
    }
    if (k->rpm) {
        int64_t cell;
        uint64_t retry_us;
        int rc = sl_window_take(&s->rpm, now_us, 1, &cell, &retry_us);
        if (rc == -1) {
            *limit = SL_GW_LIMIT_RPM;
            *retry_after_s = (unsigned)((retry_us + 999999) / 1000000);
            snprintf(msg, size, "key '%s' is over its rate limit of %u requests per minute",
                     k->name, k->rpm);
            return -1;
        }
        /* rc == -2 (out of memory): the request goes through uncounted */
    }
    s->in_flight++;
    return 0;
}

void sl_gw_key_release(struct sl_gw_key_limits *kl, int key)
{
    if (key < 0)
        return;
    assert(kl->keys[key].in_flight > 0); /* released once per admitted request */
    kl->keys[key].in_flight--;
}
