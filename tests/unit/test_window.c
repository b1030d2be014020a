/* The sliding-window limit's math, with the time passed in. */
#include <criterion/criterion.h>

#include "limits/rate.h"
#include "limits/window.h"

#define MINUTE 60000000ull /* µs */

Test(window, a_burst_of_the_limit_passes_then_waits_for_its_cell)
{
    struct sl_window w;
    sl_window_init(&w, 120, MINUTE);
    int64_t cell;
    uint64_t retry;
    uint64_t t0 = 1000 * MINUTE + 12345;
    for (int i = 0; i < 120; i++)
        cr_assert_eq(sl_window_take(&w, t0, 1, &cell, &retry), 0, "request %d", i);
    cr_assert_eq(sl_window_take(&w, t0, 1, &cell, &retry), -1);
    /* the burst's cell [t0 rounded down to 100 ms, +100 ms) leaves a minute later */
    uint64_t cell_end = (t0 / 100000 + 1) * 100000;
    cr_assert_eq(retry, cell_end + MINUTE - t0);
    cr_assert_eq(sl_window_take(&w, t0 + retry - 1, 1, &cell, &retry), -1);
    cr_assert_eq(sl_window_take(&w, cell_end + MINUTE, 1, &cell, &retry), 0);
    sl_window_release(&w);
}

Test(window, hammering_never_gets_more_than_the_limit_in_any_window)
{
    /* a client trying every 7 ms for five minutes */
    struct sl_window w;
    sl_window_init(&w, 120, MINUTE);
    static uint64_t accepted[2000];
    size_t n = 0;
    for (uint64_t t = 0; t < 5 * MINUTE; t += 7000) {
        int64_t cell;
        uint64_t retry;
        if (sl_window_take(&w, t, 1, &cell, &retry) == 0) {
            cr_assert_lt(n, 2000);
            accepted[n++] = t;
            /* the window (t - 1 min, t] holds at most 120 */
            size_t first = n > 120 ? n - 121 : 0;
            if (n > 120)
                cr_assert_geq(t - accepted[first], MINUTE, "121 requests within a minute at %lu",
                              (unsigned long)t);
        } else
            cr_assert(retry > 0 && retry <= MINUTE);
    }
    /* 5 windows of 120, less at most one cell's delay per window */
    cr_assert_leq(n, 600);
    cr_assert_geq(n, 594, "accepted %zu", n);
    cr_assert_leq(w.count, SL_WINDOW_CELLS + 2);
    sl_window_release(&w);
}

Test(window, a_cost_above_the_limit_never_fits)
{
    struct sl_window w;
    sl_window_init(&w, 1000, MINUTE);
    int64_t cell;
    uint64_t retry;
    cr_assert_eq(sl_window_take(&w, 5, 1001, &cell, &retry), -1);
    cr_assert_eq(retry, UINT64_MAX);
    cr_assert_eq(sl_window_take(&w, 5, 1000, &cell, &retry), 0);
    sl_window_release(&w);
}

Test(window, a_reservation_is_corrected_to_the_usage)
{
    struct sl_window w;
    sl_window_init(&w, 1000, MINUTE);
    int64_t c1, c2;
    uint64_t retry;
    cr_assert_eq(sl_window_take(&w, 0, 600, &c1, &retry), 0); /* prompt + max_tokens */
    cr_assert_eq(sl_window_take(&w, 200000, 300, &c2, &retry), 0);
    cr_assert_eq(sl_window_take(&w, 200000, 200, &c2, &retry), -1);
    sl_window_adjust(&w, 300000, c1, -450); /* it used 150 */
    cr_assert_eq(sl_window_used(&w, 300000), 450);
    cr_assert_eq(sl_window_take(&w, 300000, 200, &c2, &retry), 0);
    sl_window_adjust(&w, 300000, c1, -1000000); /* never below zero */
    cr_assert_eq(sl_window_used(&w, 300000), 500);
    sl_window_adjust(&w, 300000, c2, 50); /* used more than reserved */
    cr_assert_eq(sl_window_used(&w, 300000), 550);
    /* once c1's cell left the window, correcting it changes nothing */
    sl_window_adjust(&w, MINUTE + 150000, c1, 999);
    cr_assert_eq(sl_window_used(&w, MINUTE + 150000), 550);
    cr_assert_eq(sl_window_used(&w, MINUTE + 400000), 0);
    sl_window_release(&w);
}

Test(window, an_idle_limit_holds_no_cells)
{
    struct sl_window w;
    sl_window_init(&w, 10, 1000000);
    int64_t cell;
    uint64_t retry;
    for (uint64_t t = 0; t < 100000000; t += 1000)
        sl_window_take(&w, t, 1, &cell, &retry);
    cr_assert_leq(w.cap, SL_WINDOW_CELLS + 2);
    cr_assert_eq(sl_window_used(&w, 200000000), 0);
    cr_assert_eq(w.count, 0);
    sl_window_release(&w);
}

/* RPM and TPM together (limits/rate.h): all or nothing, a retry counts
 * even past the limit, give_back returns what was never sent. */
Test(window, rate_all_or_nothing)
{
    struct sl_rate r;
    sl_rate_init(&r, 2, 100);
    struct sl_rate_ticket a, b, c;
    uint64_t wait;
    cr_assert_eq(sl_rate_take(&r, 1000000, 80, &a, &wait), SL_RATE_OK);
    cr_assert_eq(sl_rate_take(&r, 1000000, 30, &b, &wait), SL_RATE_TPM);
    cr_assert_eq(sl_window_used(&r.rpm, 1000000), 1u, "the refused request took nothing");
    sl_rate_settle(&r, 1000000, &a, 20);
    cr_assert_eq(sl_window_used(&r.tpm, 1000000), 20u);
    cr_assert_eq(sl_rate_take(&r, 1000000, 30, &b, &wait), SL_RATE_OK);
    cr_assert_eq(sl_rate_take(&r, 1000000, 1, &c, &wait), SL_RATE_RPM);
    cr_assert(wait > 59000000 && wait <= 60100000, "%llu", (unsigned long long)wait);
    sl_rate_charge_retry(&r, 1000000, &b);
    cr_assert_eq(sl_window_used(&r.rpm, 1000000), 3u, "a retry counts past the limit");
    sl_rate_give_back(&r, 1000000, &b);
    cr_assert_eq(sl_window_used(&r.rpm, 1000000), 1u);
    cr_assert_eq(sl_window_used(&r.tpm, 1000000), 20u);
    sl_rate_set(&r, 0, 100);
    cr_assert_eq(sl_rate_take(&r, 1000000, 1, &c, &wait), SL_RATE_OK, "rpm off");
    cr_assert_eq(sl_rate_retry_seconds(1), 1u);
    cr_assert_eq(sl_rate_retry_seconds(1500000), 2u);
    sl_rate_release(&r);
}
