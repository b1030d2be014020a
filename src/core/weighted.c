#include "core/weighted.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_weighted_parse(struct sl_weighted *w, const char *spec, sl_weighted_lookup lookup,
                      const char *known, char *err, size_t err_size)
{
    double weights[SL_WEIGHTED_MAX] = {0};
    double total = 0;
    memset(w, 0, sizeof(*w));
    const char *p = spec;
    if (*p == '\0') {
        snprintf(err, err_size, "empty mix");
        return -1;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *name_end = colon ? colon : end;
        int nlen = (int)(name_end - p);
        int id = lookup(p, nlen);
        if (id < 0 || id >= SL_WEIGHTED_MAX) {
            snprintf(err, err_size, "unknown name '%.*s' in mix (use %s)", nlen, p, known);
            return -1;
        }
        double weight = 1;
        if (colon) {
            char num[64];
            size_t len = (size_t)(end - colon - 1);
            if (len == 0 || len >= sizeof(num)) {
                snprintf(err, err_size, "bad weight for '%.*s' in mix", nlen, p);
                return -1;
            }
            memcpy(num, colon + 1, len);
            num[len] = '\0';
            char *stop;
            errno = 0;
            weight = strtod(num, &stop);
            if (*stop != '\0' || errno || !isfinite(weight) || weight < 0) {
                snprintf(err, err_size, "bad weight '%s' for '%.*s' in mix", num, nlen, p);
                return -1;
            }
        }
        if (weights[id] == 0 && weight > 0)
            w->ids[w->count++] = id;
        weights[id] += weight;
        total += weight;
        p = *end ? end + 1 : end;
        if (*end && *p == '\0') {
            snprintf(err, err_size, "trailing comma in mix");
            return -1;
        }
    }
    if (total <= 0) {
        snprintf(err, err_size, "mix has no positive weight");
        return -1;
    }
    double acc = 0;
    for (int i = 0; i < w->count; i++) {
        acc += weights[w->ids[i]] / total;
        w->cumulative[i] = acc;
    }
    w->cumulative[w->count - 1] = 1.0;
    return 0;
}

int sl_weighted_draw(const struct sl_weighted *w, struct sl_rng *rng)
{
    double u = sl_rng_uniform(rng);
    for (int i = 0; i < w->count; i++)
        if (u < w->cumulative[i])
            return w->ids[i];
    return w->ids[w->count - 1];
}

int sl_weighted_json(const struct sl_weighted *w, const char *(*name)(int id), char *buf,
                     size_t size)
{
    size_t off = 0;
    double prev = 0;
    off += (size_t)snprintf(buf + off, size - off, "{");
    for (int i = 0; i < w->count && off < size; i++) {
        off += (size_t)snprintf(buf + off, size - off, "%s\"%s\":%.4g", i ? "," : "",
                                name(w->ids[i]), w->cumulative[i] - prev);
        prev = w->cumulative[i];
    }
    if (off < size)
        off += (size_t)snprintf(buf + off, size - off, "}");
    return off < size ? 0 : -1;
}
