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

/* The stage histograms (sluice_stage_seconds): each observation counted
 * once, in the bucket its duration falls in (a bound is inclusive), the
 * buckets cumulative; no start, or an end before the start, is nothing. */
Test(gw_metrics, stage_histograms_bucket_and_count_each_observation)
{
    struct sl_gw_config cfg = {0};
    struct sl_gw_router router = {0};
    struct sl_gw_metrics *m;
    cr_assert_eq(sl_gw_metrics_new(&cfg, &router, &m), 0);
    uint64_t t = 1000000000;
    sl_gw_metrics_stage(m, SL_GW_STAGE_PARSE, t, t + 1000);        /* 1 us: le 1e-06 */
    sl_gw_metrics_stage(m, SL_GW_STAGE_PARSE, t, t + 1500);        /* le 2e-06 */
    sl_gw_metrics_stage(m, SL_GW_STAGE_PARSE, t, t + 3000000000u); /* 3 s: +Inf only */
    sl_gw_metrics_stage(m, SL_GW_STAGE_ROW, 0, t);                 /* no start */
    sl_gw_metrics_stage(m, SL_GW_STAGE_ROW, t, t - 1);             /* backwards */
    sl_gw_metrics_stage(m, SL_GW_STAGE_RESPOND, t, t + 40000);     /* 40 us: le 5e-05 */
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    sl_gw_metrics_render(m, NULL, &out, 0, NULL);
    const char *want[] = {
        "# TYPE sluice_stage_seconds histogram\n",
        "sluice_stage_seconds_bucket{stage=\"parse\",le=\"1e-06\"} 1\n",
        "sluice_stage_seconds_bucket{stage=\"parse\",le=\"2e-06\"} 2\n",
        "sluice_stage_seconds_bucket{stage=\"parse\",le=\"1\"} 2\n",
        "sluice_stage_seconds_bucket{stage=\"parse\",le=\"+Inf\"} 3\n",
        "sluice_stage_seconds_count{stage=\"parse\"} 3\n",
        "sluice_stage_seconds_sum{stage=\"parse\"} 3.0000025\n",
        "sluice_stage_seconds_bucket{stage=\"respond\",le=\"2e-05\"} 0\n",
        "sluice_stage_seconds_bucket{stage=\"respond\",le=\"5e-05\"} 1\n",
        "sluice_stage_seconds_count{stage=\"respond\"} 1\n",
        "sluice_stage_seconds_bucket{stage=\"row\",le=\"+Inf\"} 0\n",
        "sluice_stage_seconds_count{stage=\"row\"} 0\n",
        "sluice_stage_seconds_count{stage=\"admission\"} 0\n",
        "sluice_stage_seconds_count{stage=\"upstream\"} 0\n",
        "sluice_stage_seconds_count{stage=\"first_byte\"} 0\n",
        "sluice_stage_seconds_count{stage=\"relay\"} 0\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        cr_assert_not_null(strstr(out.ptr, want[i]), "no %s in\n%s", want[i], out.ptr);
    sl_buf_release(&out);
    sl_gw_metrics_free(m);
}
