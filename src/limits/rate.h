/* Requests per minute and tokens per minute held together (a key's or a
 * deployment's RPM and TPM), on two sliding windows (limits/window.h).
 *
 * A request takes one request and its token reservation (counted prompt
 * tokens plus max_tokens) all or nothing; when it finishes, the
 * reservation is corrected to the tokens it really used (settle), or
 * given back whole if nothing was sent (give_back). A limit of 0 is no
 * limit. The caller passes the time: the math is tested without clocks. */
#ifndef SL_RATE_H
#define SL_RATE_H

#include <stdint.h>

#include "limits/window.h"

struct sl_rate {
    struct sl_window rpm, tpm; /* .limit 0: that limit is off */
};

/* What one request took, for settle / give_back. */
struct sl_rate_ticket {
    int64_t rpm_cell, tpm_cell;
    uint64_t requests, tokens; /* taken: requests (attempts) and tokens */
};

enum sl_rate_result { SL_RATE_OK, SL_RATE_RPM, SL_RATE_TPM };

void sl_rate_init(struct sl_rate *r, unsigned rpm, unsigned tpm);
/* New limits (a key changed at run time); what is in the windows stays. */
void sl_rate_set(struct sl_rate *r, unsigned rpm, unsigned tpm);
void sl_rate_release(struct sl_rate *r);
int sl_rate_any(const struct sl_rate *r);

/* Takes one request and `tokens` if both windows have room: SL_RATE_OK and
 * the ticket filled; otherwise the limit that refused and *retry_after_us
 * (UINT64_MAX: never, the tokens alone are over the limit). Out of memory
 * lets the request through uncounted. */
enum sl_rate_result sl_rate_take(struct sl_rate *r, uint64_t now_us, uint64_t tokens,
                                 struct sl_rate_ticket *t, uint64_t *retry_after_us);
/* One more request of a ticket whether or not there is room (a retry the
 * provider will see and count). */
void sl_rate_charge_retry(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t);
/* The request is over and used `tokens`: its reservation becomes that. */
void sl_rate_settle(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t, uint64_t tokens);
/* Nothing was sent: what the ticket took comes back. */
void sl_rate_give_back(struct sl_rate *r, uint64_t now_us, struct sl_rate_ticket *t);

/* Seconds, rounded up, for a Retry-After header (at least 1). */
unsigned sl_rate_retry_seconds(uint64_t retry_after_us);

#endif
