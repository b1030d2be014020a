#include "limits/rate.h"

#include <string.h>

#define MINUTE_US 60000000ull

static void set_one(struct sl_window *w, unsigned limit)
{
    if (limit == 0) {
        sl_window_release(w);
        w->limit = 0;
    } else if (w->limit == 0) {
        sl_window_init(w, limit, MINUTE_US);
    } else {
        w->limit = limit; /* the cells keep what they hold */
    }
}

void sl_rate_init(struct sl_rate *r, unsigned rpm, unsigned tpm)
{
    memset(r, 0, sizeof *r);
    sl_rate_set(r, rpm, tpm);
}

void sl_rate_set(struct sl_rate *r, unsigned rpm, unsigned tpm)
{
    set_one(&r->rpm, rpm);
    set_one(&r->tpm, tpm);
}

void sl_rate_release(struct sl_rate *r)
{
    sl_window_release(&r->rpm);
    sl_window_release(&r->tpm);
}

int sl_rate_any(const struct sl_rate *r)
{
    return r->rpm.limit || r->tpm.limit;
}

enum sl_rate_result sl_rate_take(struct sl_rate *r, uint64_t now_us, uint64_t tokens,
                                 struct sl_rate_ticket *t, uint64_t *retry_after_us)
{
    memset(t, 0, sizeof *t);
    if (r->rpm.limit) {
        int rc = sl_window_take(&r->rpm, now_us, 1, &t->rpm_cell, retry_after_us);
        if (rc == -1)
            return SL_RATE_RPM;
        t->requests = rc == 0;
    }
    if (r->tpm.limit && tokens) {
        int rc = sl_window_take(&r->tpm, now_us, tokens, &t->tpm_cell, retry_after_us);
        if (rc == -1) {
            sl_rate_give_back(r, now_us, t); /* all or nothing */
            return SL_RATE_TPM;
        }
        t->tokens = rc == 0 ? tokens : 0;
    }
    return SL_RATE_OK;
}

void sl_rate_charge_retry(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t)
{
    if (r->rpm.limit && t->requests && sl_window_add(&r->rpm, now_us, 1, &t->rpm_cell) == 0)
        t->requests++;
}

void sl_rate_settle(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t, uint64_t tokens)
{
    if (r->tpm.limit && t->tokens)
        sl_window_adjust(&r->tpm, now_us, t->tpm_cell, (int64_t)tokens - (int64_t)t->tokens);
    memset(t, 0, sizeof *t);
}

void sl_rate_give_back(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t)
{
    if (r->rpm.limit && t->requests)
        sl_window_adjust(&r->rpm, now_us, t->rpm_cell, -(int64_t)t->requests);
    if (r->tpm.limit && t->tokens)
        sl_window_adjust(&r->tpm, now_us, t->tpm_cell, -(int64_t)t->tokens);
    memset(t, 0, sizeof *t);
}

unsigned sl_rate_retry_seconds(uint64_t retry_after_us)
{
    if (retry_after_us == UINT64_MAX)
        return 60;
    uint64_t s = (retry_after_us + 999999) / 1000000;
    return s < 1 ? 1 : (unsigned)s;
}
