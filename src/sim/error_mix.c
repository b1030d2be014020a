#include "sim/error_mix.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_error_mix_parse(struct sl_error_mix *mix, const char *spec, char *err, size_t err_size)
{
    double weights[SL_E__COUNT] = {0};
    double total = 0;
    memset(mix, 0, sizeof(*mix));
    const char *p = spec;
    if (*p == '\0') {
        snprintf(err, err_size, "empty error mix");
        return -1;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *name_end = colon ? colon : end;
        int cls = sl_err_parse(p, (int)(name_end - p));
        if (cls < 0 || cls == SL_E_DEADLINE || cls == SL_E_CANCELLED) {
            snprintf(err, err_size,
                     "unknown error class '%.*s' in error mix (use rate_limited|429, "
                     "unavailable|503, timeout, server_error|500, bad_gateway|502, "
                     "bad_request|400, unauthorized|401)",
                     (int)(name_end - p), p);
            return -1;
        }
        double w = 1;
        if (colon) {
            char num[64];
            size_t len = (size_t)(end - colon - 1);
            if (len == 0 || len >= sizeof(num)) {
                snprintf(err, err_size, "bad weight for '%.*s' in error mix", (int)(name_end - p),
                         p);
                return -1;
            }
            memcpy(num, colon + 1, len);
            num[len] = '\0';
            char *stop;
            errno = 0;
            w = strtod(num, &stop);
            if (*stop != '\0' || errno || !isfinite(w) || w < 0) {
                snprintf(err, err_size, "bad weight '%s' for '%.*s' in error mix", num,
                         (int)(name_end - p), p);
                return -1;
            }
        }
        if (weights[cls] == 0 && w > 0)
            mix->classes[mix->count++] = (enum sl_err)cls;
        weights[cls] += w;
        total += w;
        p = *end ? end + 1 : end;
        if (*end && *p == '\0') {
            snprintf(err, err_size, "trailing comma in error mix");
            return -1;
        }
    }
    if (total <= 0) {
        snprintf(err, err_size, "error mix has no positive weight");
        return -1;
    }
    double acc = 0;
    for (int i = 0; i < mix->count; i++) {
        acc += weights[mix->classes[i]] / total;
        mix->cumulative[i] = acc;
    }
    mix->cumulative[mix->count - 1] = 1.0;
    return 0;
}

enum sl_err sl_error_mix_draw(const struct sl_error_mix *mix, struct sl_rng *rng)
{
    double u = sl_rng_uniform(rng);
    for (int i = 0; i < mix->count; i++)
        if (u < mix->cumulative[i])
            return mix->classes[i];
    return mix->classes[mix->count - 1];
}

int sl_error_mix_json(const struct sl_error_mix *mix, char *buf, size_t size)
{
    size_t off = 0;
    double prev = 0;
    off += (size_t)snprintf(buf + off, size - off, "{");
    for (int i = 0; i < mix->count && off < size; i++) {
        off += (size_t)snprintf(buf + off, size - off, "%s\"%s\":%.4g", i ? "," : "",
                                sl_err_name(mix->classes[i]), mix->cumulative[i] - prev);
        prev = mix->cumulative[i];
    }
    if (off < size)
        off += (size_t)snprintf(buf + off, size - off, "}");
    return off < size ? 0 : -1;
}
