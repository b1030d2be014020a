/* Cancellation token: a one-shot event ("the user pressed Stop").
 *
 * Tasks subscribe with an intrusive sl_cancel_sub and are called back once
 * when the token fires, in subscription order. A subscription is removed
 * before its callback runs, so a callback may free its owner. Subscribing to
 * a token that already fired calls back at once. Unsubscribing is always
 * safe, also after the callback ran. */
#ifndef SL_CANCEL_H
#define SL_CANCEL_H

#include "core/list.h"

struct sl_cancel_sub;
typedef void (*sl_cancel_cb)(struct sl_cancel_sub *sub, int reason);

struct sl_cancel {
    int fired;
    int reason; /* a negative uv error, UV_ECANCELED by default */
    struct sl_list subs;
};

struct sl_cancel_sub {
    struct sl_list node;
    sl_cancel_cb cb;
};

void sl_cancel_init(struct sl_cancel *token);

static inline int sl_cancel_fired(const struct sl_cancel *token)
{
    return token->fired;
}

/* Returns 0 when subscribed, or 1 when the token had already fired (cb was
 * called before returning). */
int sl_cancel_subscribe(struct sl_cancel *token, struct sl_cancel_sub *sub, sl_cancel_cb cb);
void sl_cancel_unsubscribe(struct sl_cancel_sub *sub);

/* Fires the token once; later calls do nothing. Returns the number of
 * callbacks run. */
int sl_cancel_fire(struct sl_cancel *token, int reason);

#endif
