/* What both one-pass readers (sim_pass, serve_pass) keep of every row:
 * how many they read, against their bound, and the span of the run's
 * times (first created to last finished). */
#ifndef SL_REPORT_PASS_SPAN_H
#define SL_REPORT_PASS_SPAN_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct sl_pass_span {
    uint64_t rows;
    int64_t min_c, max_f;
};

/* 0, or UV_E2BIG with a reason in err when the row is past max_rows. */
static inline int sl_pass_span_add(struct sl_pass_span *s, int64_t c, int64_t f, uint64_t max_rows,
                                   char *err, size_t err_size)
{
    if (s->rows == max_rows) {
        snprintf(err, err_size, "the run has more than %llu rows", (unsigned long long)max_rows);
        return UV_E2BIG;
    }
    if (s->rows == 0 || c < s->min_c)
        s->min_c = c;
    if (s->rows == 0 || f > s->max_f)
        s->max_f = f;
    s->rows++;
    return 0;
}

#endif
