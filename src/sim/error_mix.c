#include "sim/error_mix.h"

/* Every class an attempt can fail with; deadline, cancellation and a
 * response over the gateway's limit are outcomes of the run, not of the
 * processor. */
static int lookup(const char *name, int len)
{
    int cls = sl_err_parse(name, len);
    return cls == SL_E_DEADLINE || cls == SL_E_CANCELLED || cls == SL_E_TOO_LARGE ? -1 : cls;
}

static const char *class_name(int id)
{
    return sl_err_name((enum sl_err)id);
}

int sl_error_mix_parse(struct sl_error_mix *mix, const char *spec, char *err, size_t err_size)
{
    return sl_weighted_parse(&mix->w, spec, lookup,
                             "rate_limited|429, unavailable|503, timeout, server_error|500, "
                             "bad_gateway|502, bad_request|400, unauthorized|401",
                             err, err_size);
}

enum sl_err sl_error_mix_draw(const struct sl_error_mix *mix, struct sl_rng *rng)
{
    return (enum sl_err)sl_weighted_draw(&mix->w, rng);
}

int sl_error_mix_json(const struct sl_error_mix *mix, char *buf, size_t size)
{
    return sl_weighted_json(&mix->w, class_name, buf, size);
}
