#include <criterion/criterion.h>
#include <string.h>

#include "gateway/metrics.h"

Test(gw_metrics, histogram_is_cumulative_with_sum_and_count)
{
    struct sl_prom_hist h = {0};
    sl_prom_observe(&h, 0.0004); /* first bucket */
    sl_prom_observe(&h, 0.003);  /* le 0.005 */
    sl_prom_observe(&h, 0.003);
    sl_prom_observe(&h, 100); /* +Inf */
    struct sl_buf out;
    sl_buf_init(&out, 1 << 16);
    sl_prom_help(&out, "lat_seconds", "histogram", "latency");
    sl_prom_hist_write(&out, "lat_seconds", "dep=\"a\"", &h);
    cr_assert_not_null(strstr(out.ptr, "# TYPE lat_seconds histogram\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_bucket{dep=\"a\",le=\"0.0005\"} 1\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_bucket{dep=\"a\",le=\"0.0025\"} 1\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_bucket{dep=\"a\",le=\"0.005\"} 3\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_bucket{dep=\"a\",le=\"60\"} 3\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_bucket{dep=\"a\",le=\"+Inf\"} 4\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_count{dep=\"a\"} 4\n"));
    cr_assert_not_null(strstr(out.ptr, "lat_seconds_sum{dep=\"a\"} 100.0064"));
    sl_buf_release(&out);
}

Test(gw_metrics, values_and_escaping)
{
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    sl_prom_value(&out, "up", "", 1);
    sl_prom_value(&out, "reqs_total", "model=\"m\",status=\"200\"", 42);
    cr_assert_str_eq(out.ptr, "up 1\nreqs_total{model=\"m\",status=\"200\"} 42\n");
    char esc[64];
    sl_prom_escape(esc, sizeof(esc), "a\"b\\c\nd");
    cr_assert_str_eq(esc, "a\\\"b\\\\c\\nd");
    sl_buf_release(&out);
}
