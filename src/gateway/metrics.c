#include "gateway/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const double sl_prom_bounds[SL_PROM_NBUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void sl_prom_observe(struct sl_prom_hist *h, double seconds)
{
    int i = 0;
    while (i < SL_PROM_NBUCKETS - 1 && seconds > sl_prom_bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}

static void appendf(struct sl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(struct sl_buf *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        sl_buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void sl_prom_help(struct sl_buf *out, const char *name, const char *type, const char *help)
{
    appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sl_prom_value(struct sl_buf *out, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        appendf(out, "%s{%s} %.17g\n", name, labels, value);
    else
        appendf(out, "%s %.17g\n", name, value);
}

void sl_prom_hist_write(struct sl_buf *out, const char *name, const char *labels,
                        const struct sl_prom_hist *h)
{
    const char *sep = labels && *labels ? "," : "";
    uint64_t acc = 0;
    for (int i = 0; i < SL_PROM_NBUCKETS; i++) {
        acc += h->buckets[i];
        if (i < SL_PROM_NBUCKETS - 1)
            appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels ? labels : "", sep,
                    sl_prom_bounds[i], (unsigned long long)acc);
        else
            appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels ? labels : "", sep,
                    (unsigned long long)acc);
    }
    if (labels && *labels) {
        appendf(out, "%s_sum{%s} %.9g\n", name, labels, h->sum);
        appendf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
    } else {
        appendf(out, "%s_sum %.9g\n", name, h->sum);
        appendf(out, "%s_count %llu\n", name, (unsigned long long)h->count);
    }
}

void sl_prom_escape(char *dst, size_t size, const char *value)
{
    size_t n = 0;
    for (; *value && n + 3 < size; value++) {
        if (*value == '\\' || *value == '"') {
            dst[n++] = '\\';
            dst[n++] = *value;
        } else if (*value == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else {
            dst[n++] = *value;
        }
    }
    dst[n] = '\0';
}
