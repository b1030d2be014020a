/* report/serve_pass and report/sim_pass: a run's figures from its rows,
 * as the SQL they replaced gives them (the e2e report tests check whole
 * runs against SQL; these the corners: names as SQL decodes them, rows
 * without metadata, percentiles by nearest rank, histogram overflow,
 * outcomes' order, the bounds). */
#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>

#include "report/serve_pass.h"
#include "report/sim_pass.h"

static int add(struct sl_serve_pass *p, int64_t c, int64_t s, int64_t f, const char *st,
               const char *md)
{
    return sl_serve_pass_add(p, c, s, f, 1, st, md, md ? strlen(md) : 0);
}

struct seen {
    char names[8][3][64];
    double v[8][SL_SERVE_PASS_GROUP_VALUES];
    int n;
};

static void on_group(void *arg, const char *model, const char *dep, const char *key,
                     const double *v)
{
    struct seen *s = arg;
    snprintf(s->names[s->n][0], 64, "%s", model);
    snprintf(s->names[s->n][1], 64, "%s", dep);
    snprintf(s->names[s->n][2], 64, "%s", key);
    memcpy(s->v[s->n], v, sizeof(s->v[0]));
    s->n++;
}

Test(serve_pass, names_are_decoded_and_missing_fields_are_empty_as_in_sql)
{
    struct sl_serve_pass *p = sl_serve_pass_new(0, 1000, 10, 1000);
    cr_assert_eq(add(p, 0, 10, 500, "succeeded",
                     "{\"model\":\"a\\\"b\\\\c\\u0041\",\"deployment\":\"d\",\"key\":\"k\","
                     "\"status\":200,\"fallbacks\":true,\"prompt_tokens\":7.9,\"cost_usd\":0.5}"),
                 0);
    cr_assert_eq(add(p, 0, -1, 900, "failed", NULL), 0);        /* no metadata */
    cr_assert_eq(add(p, 0, -1, 900, "cancelled", "[1, 2]"), 0); /* not an object */
    cr_assert_eq(sl_serve_pass_finish(p), 0);
    struct seen s = {0};
    sl_serve_pass_groups(p, on_group, &s);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.names[0][0], "a\"b\\cA");
    cr_assert_eq(s.v[0][5], 1, "true counts as 1 fallback");
    cr_assert_eq(s.v[0][6], 7, "tokens are integers");
    cr_assert_eq(s.v[0][8], 0.5);
    cr_assert_eq(s.v[0][9], 1);
    cr_assert_str_eq(s.names[1][0], "");
    cr_assert_eq(s.v[1][0], 2);
    cr_assert_eq(s.v[1][2] + s.v[1][3], 2, "one failed, one cancelled");
    cr_assert_eq(s.v[1][9], 0, "no cost");
    /* rates: the recorded status, "0" when none; lanes: only what ran */
    cr_assert_eq(sl_serve_pass_rates(p), 2);
    const double *n;
    cr_assert_str_eq(sl_serve_pass_rate(p, 0, &n), "200");
    cr_assert_str_eq(sl_serve_pass_rate(p, 1, &n), "0");
    cr_assert_eq(n[0], 2);
    cr_assert_eq(sl_serve_pass_lanes(p), 1);
    struct sl_stats st = {0};
    sl_serve_pass_stats(p, &st);
    cr_assert_eq(st.serve.total.requests, 3);
    cr_assert_eq(st.serve.n_status, 2);
    cr_assert_str_eq(st.serve.status[0].key, "", "most requests first: the two without");
    cr_assert_eq(st.serve.latency.n, 3);
    cr_assert_eq(st.serve.ttfb.n, 0);
    sl_serve_pass_free(p);
}

struct pcts {
    int64_t b[4];
    uint64_t n[4];
    double p50[4], p99[4];
    int k;
};

static void on_pct(void *arg, int64_t b, uint64_t n, double p50, double p95, double p99)
{
    (void)p95;
    struct pcts *c = arg;
    c->b[c->k] = b, c->n[c->k] = n, c->p50[c->k] = p50, c->p99[c->k] = p99;
    c->k++;
}

Test(serve_pass, percentiles_are_nearest_rank_per_bucket)
{
    /* buckets of 10 ms by finish time; bucket 0: latencies 0.01..1.00 ms
     * given in reverse, no first byte; bucket 2: one of 5 ms */
    struct sl_serve_pass *p = sl_serve_pass_new(0, 1000, 100, 10000);
    for (int i = 100; i >= 1; i--)
        cr_assert_eq(add(p, 5000 - i * 10, 5000, 5000, "succeeded", "{\"ttfb_ms\":0}"), 0);
    cr_assert_eq(add(p, 20000, 20000, 25000, "succeeded", "{\"ttfb_ms\":3.5}"), 0);
    cr_assert_eq(sl_serve_pass_finish(p), 0);
    struct pcts c = {0};
    sl_serve_pass_pcts(p, 0, on_pct, &c);
    cr_assert_eq(c.k, 2);
    cr_assert_eq(c.b[0], 0);
    cr_assert_eq(c.n[0], 100);
    cr_assert_float_eq(c.p50[0], 0.50, 1e-9);
    cr_assert_float_eq(c.p99[0], 0.99, 1e-9);
    cr_assert_eq(c.b[1], 2);
    cr_assert_eq(c.n[1], 1);
    cr_assert_float_eq(c.p99[1], 5.0, 1e-9);
    struct pcts t = {0};
    sl_serve_pass_pcts(p, 1, on_pct, &t);
    cr_assert_eq(t.k, 1, "only rows that sent a first byte");
    cr_assert_float_eq(t.p50[0], 3.5, 1e-9);
    struct sl_stats st = {0};
    sl_serve_pass_stats(p, &st);
    cr_assert_float_eq(st.serve.latency.p50, 0.51, 1e-9, "rank 51 of 101");
    cr_assert_float_eq(st.serve.latency.max, 5.0, 1e-9);
    sl_serve_pass_free(p);
}

Test(serve_pass, a_row_past_the_bounds_is_a_clear_error)
{
    struct sl_serve_pass *p = sl_serve_pass_new(0, 1000, 1, 1000);
    char md[100];
    int rc = 0;
    for (unsigned i = 0; i <= SL_SERVE_PASS_MAX_NAMES && rc == 0; i++) {
        snprintf(md, sizeof(md), "{\"key\":\"k%u\"}", i);
        rc = add(p, 0, -1, 0, "succeeded", md);
    }
    cr_assert_eq(rc, UV_E2BIG);
    cr_assert_not_null(strstr(sl_serve_pass_error(p), "more than 65536"), "%s",
                       sl_serve_pass_error(p));
    sl_serve_pass_free(p);
}

struct outcomes {
    char text[512];
    size_t len;
};

static void on_outcome(void *arg, int64_t attempts, const char *status, const char *error,
                       uint64_t n)
{
    struct outcomes *o = arg;
    o->len += (size_t)snprintf(o->text + o->len, sizeof(o->text) - o->len, "%lld %s %s %llu\n",
                               (long long)attempts, status, error, (unsigned long long)n);
}

Test(sim_pass, stats_histograms_and_outcomes_as_sql_gives_them)
{
    /* 20 rows that ran, processing 1..20 ms, queue 0.5 ms; 2 never ran */
    struct sl_sim_pass *p = sl_sim_pass_new(0, 1000, 100);
    for (int i = 20; i >= 1; i--)
        cr_assert_eq(sl_sim_pass_add(p, 0, 500, 500 + i * 1000, i % 4 == 0 ? 3 : 1,
                                     i % 5 == 0 ? "failed" : "succeeded",
                                     i % 5 == 0 ? "server_error" : NULL),
                     0);
    cr_assert_eq(sl_sim_pass_add(p, 0, -1, 30000, 1, "cancelled", "cancelled"), 0);
    cr_assert_eq(sl_sim_pass_add(p, 0, -1, 30000, 1, "cancelled", "cancelled"), 0);
    cr_assert_eq(sl_sim_pass_finish(p), 0);
    struct sl_stats st = {0};
    st.concurrency = 4;
    sl_sim_pass_stats(p, &st);
    cr_assert_eq(st.db_rows, 22);
    cr_assert_eq(st.succeeded, 16);
    cr_assert_eq(st.failed, 4);
    cr_assert_eq(st.cancelled, 2);
    cr_assert_eq(st.retries, 10, "five rows of 3 attempts");
    cr_assert_float_eq(st.p50_ms, 10, 1e-9, "rank ceil(0.5 x 20) = 10");
    cr_assert_float_eq(st.p95_ms, 19, 1e-9);
    cr_assert_float_eq(st.p99_ms, 20, 1e-9);
    cr_assert_float_eq(st.avg_processing_ms, 10.5, 1e-9);
    cr_assert_float_eq(st.avg_queue_ms, 0.5, 1e-9, "over the rows that ran");
    cr_assert_float_eq(st.makespan_s, 0.03, 1e-9);

    double h[6];
    sl_sim_pass_hist(p, 0, 4000, 5, h); /* [0,4) [4,8) ... [16,20) ms, then >= 20 */
    double want[6] = {3, 4, 4, 4, 4, 1};
    for (int k = 0; k < 6; k++)
        cr_assert_eq(h[k], want[k], "bin %d: %g", k, h[k]);

    struct outcomes o = {.len = 0};
    sl_sim_pass_outcomes(p, on_outcome, &o);
    cr_assert_str_eq(o.text, "1 cancelled cancelled 2\n"
                             "1 failed server_error 3\n"
                             "1 succeeded  12\n"
                             "3 failed server_error 1\n"
                             "3 succeeded  4\n");
    sl_sim_pass_free(p);
}
