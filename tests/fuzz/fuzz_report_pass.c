/* Fuzz target: the report's one-pass readers (src/report/serve_pass.c,
 * sim_pass.c), which read what a database file says: `sluice report`
 * opens any file it is pointed at, so a row's metadata, status and error
 * may be anything.
 *
 * The input is rows, one per line: the first byte picks the status and
 * where the row falls in time, the rest is the serve row's metadata and
 * the simulate row's error class. Checked: every row is taken or refused
 * with a reason; the summaries count every row taken once (the total, the
 * sum of the status groups, the model groups, the latency series), the
 * groups' names are NUL-terminated strings, and every callback's figures
 * are finite. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "report/serve_pass.h"
#include "report/sim_pass.h"

static void on_pct(void *arg, int64_t b, uint64_t n, double p50, double p95, double p99)
{
    uint64_t *total = arg;
    FUZZ_CHECK(b >= 0 && n > 0 && isfinite(p50) && p50 <= p95 && p95 <= p99);
    *total += n;
}

static void on_group(void *arg, const char *model, const char *dep, const char *key,
                     const double *v)
{
    double *total = arg;
    FUZZ_CHECK(strlen(model) < 256 && strlen(dep) < 256 && strlen(key) < 256);
    for (unsigned k = 0; k < SL_SERVE_PASS_GROUP_VALUES; k++)
        FUZZ_CHECK(isfinite(v[k]) || k == 8); /* a cost may be any number the row said */
    *total += v[0];
}

static void on_outcome(void *arg, int64_t attempts, const char *status, const char *error,
                       uint64_t n)
{
    uint64_t *total = arg;
    FUZZ_CHECK(attempts >= 1 && status && error && n > 0);
    *total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const status[4] = {"succeeded", "failed", "cancelled", "bogus"};
    struct sl_serve_pass *sp = sl_serve_pass_new(0, 1000, 64, 4000);
    struct sl_sim_pass *sm = sl_sim_pass_new(0, 1000, 64);
    FUZZ_CHECK(sp && sm);
    uint64_t rows = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = le > p ? (size_t)(le - p - 1) : 0; /* after the selector byte */
        unsigned char sel = le > p ? (unsigned char)*p : 0;
        int64_t c = (sel >> 2) * 900, s = (sel & 8) ? -1 : c + 100, f = c + (sel % 7) * 700;
        const char *st = status[sel & 3];
        char line[512];
        size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
        memcpy(line, p + (le > p), n);
        line[n] = '\0';
        int a = sl_serve_pass_add(sp, c, s, f, 1 + (sel & 3), st, p + (le > p), len);
        int b = sl_sim_pass_add(sm, c, s, f, 1 + (sel & 3), st, line);
        FUZZ_CHECK(a == 0 && b == 0); /* within the bounds: every row is taken */
        rows++;
        p = le + 1;
    }
    FUZZ_CHECK(sl_serve_pass_finish(sp) == 0 && sl_sim_pass_finish(sm) == 0);

    struct sl_stats st = {0};
    sl_serve_pass_stats(sp, &st);
    FUZZ_CHECK(st.serve.total.requests == rows && st.serve.latency.n == rows);
    uint64_t by_status = st.serve.status_more ? rows : 0;
    for (unsigned i = 0; i < st.serve.n_status; i++)
        by_status += st.serve.status[i].requests;
    FUZZ_CHECK(st.serve.status_more || by_status == rows);
    uint64_t pct = 0;
    sl_serve_pass_pcts(sp, 0, on_pct, &pct);
    FUZZ_CHECK(pct == rows);
    double grouped = 0;
    sl_serve_pass_groups(sp, on_group, &grouped);
    FUZZ_CHECK(grouped == (double)rows);

    struct sl_stats ss = {0};
    ss.concurrency = 4;
    sl_sim_pass_stats(sm, &ss);
    FUZZ_CHECK(ss.db_rows == rows && ss.succeeded + ss.failed + ss.cancelled <= rows);
    uint64_t outcomes = 0;
    sl_sim_pass_outcomes(sm, on_outcome, &outcomes);
    FUZZ_CHECK(outcomes == rows);
    double h[66];
    sl_sim_pass_hist(sm, 0, 500, 64, h);
    sl_serve_pass_free(sp);
    sl_sim_pass_free(sm);
    return 0;
}
