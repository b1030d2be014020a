#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sluice %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'sluice %s --help')\n", cmd);
}

int sl_args_next(int argc, char **argv, int *i, const struct sl_flag *flags, const char *cmd,
                 int allow_positional, const char **value)
{
    if (*i >= argc)
        return 0;
    const char *arg = argv[(*i)++];
    *value = NULL;
    if (strncmp(arg, "-", 1) != 0 || strcmp(arg, "-") == 0) {
        if (allow_positional) {
            *value = arg;
            return 'P';
        }
        sl_usage_error(cmd, "unexpected argument '%s'", arg);
        return -1;
    }
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (const struct sl_flag *f = flags; f->name; f++) {
        if (strlen(f->name) != name_len || strncmp(f->name, arg, name_len) != 0)
            continue;
        if (!f->takes_value) {
            if (eq) {
                sl_usage_error(cmd, "%s takes no value", f->name);
                return -1;
            }
            return f->id;
        }
        if (eq) {
            *value = eq + 1;
        } else if (*i < argc) {
            *value = argv[(*i)++];
        } else {
            sl_usage_error(cmd, "%s needs a value", f->name);
            return -1;
        }
        return f->id;
    }
    sl_usage_error(cmd, "unknown option '%.*s'", (int)name_len, arg);
    return -1;
}

static int is_plain_unsigned(const char *text)
{
    if (*text == '\0')
        return 0;
    for (const char *p = text; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

int sl_parse_u64(const char *cmd, const char *flag, const char *text, uint64_t min, uint64_t max,
                 uint64_t *out)
{
    errno = 0;
    unsigned long long v = is_plain_unsigned(text) ? strtoull(text, NULL, 10) : 0;
    if (!is_plain_unsigned(text) || errno == ERANGE || v < min || v > max) {
        sl_usage_error(cmd, "%s must be a whole number from %llu to %llu, got '%s'", flag,
                       (unsigned long long)min, (unsigned long long)max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int sl_parse_unsigned(const char *cmd, const char *flag, const char *text, unsigned min,
                      unsigned max, unsigned *out)
{
    uint64_t v;
    if (sl_parse_u64(cmd, flag, text, min, max, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int sl_parse_double(const char *cmd, const char *flag, const char *text, double min, double max,
                    double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*text == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min || v > max) {
        sl_usage_error(cmd, "%s must be a number from %g to %g, got '%s'", flag, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int sl_parse_range_ms(const char *cmd, const char *flag, const char *text, unsigned max,
                      unsigned *lo, unsigned *hi)
{
    char a[32], b[32];
    const char *dash = strchr(text, '-');
    size_t alen = dash ? (size_t)(dash - text) : strlen(text);
    const char *btext = dash ? dash + 1 : text;
    uint64_t x, y;
    if (alen == 0 || alen >= sizeof(a) || strlen(btext) >= sizeof(b))
        goto bad;
    memcpy(a, text, alen);
    a[alen] = '\0';
    strcpy(b, btext);
    if (!is_plain_unsigned(a) || !is_plain_unsigned(b))
        goto bad;
    x = strtoull(a, NULL, 10);
    y = strtoull(b, NULL, 10);
    if (x > max || y > max) {
        sl_usage_error(cmd, "%s values must be at most %u ms, got '%s'", flag, max, text);
        return -1;
    }
    if (x > y) {
        sl_usage_error(cmd, "%s minimum is above its maximum in '%s'", flag, text);
        return -1;
    }
    *lo = (unsigned)x;
    *hi = (unsigned)y;
    return 0;
bad:
    sl_usage_error(cmd, "%s must be MIN-MAX or N in whole milliseconds (e.g. 100-500), got '%s'",
                   flag, text);
    return -1;
}
