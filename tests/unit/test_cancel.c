/* Cancellation token: one-shot, ordered, safe against re-entrant changes. */
#include <stdlib.h>
#include <uv.h>

#include "../support.h"
#include "core/cancel.h"

struct rec_sub {
    struct sl_cancel_sub sub;
    int id;
    int calls;
    int reason;
    struct rec_sub *victim; /* unsubscribed from inside the callback */
};

static int order[16];
static int norder;

static void rec_cb(struct sl_cancel_sub *sub, int reason)
{
    struct rec_sub *r = sl_container_of(sub, struct rec_sub, sub);
    r->calls++;
    r->reason = reason;
    order[norder++] = r->id;
    if (r->victim)
        sl_cancel_unsubscribe(&r->victim->sub);
}

Test(cancel, init_not_fired)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    cr_assert_eq(sl_cancel_fired(&token), 0);
}

Test(cancel, subscribers_called_once_in_order_with_reason)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct rec_sub){.id = i};
        cr_assert_eq(sl_cancel_subscribe(&token, &s[i].sub, rec_cb), 0);
    }
    cr_assert_eq(norder, 0, "subscribing must not call back");

    cr_assert_eq(sl_cancel_fire(&token, UV_ETIMEDOUT), 4);
    cr_assert(sl_cancel_fired(&token));
    cr_assert_eq(token.reason, UV_ETIMEDOUT);
    cr_assert_eq(norder, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(order[i], i, "call %d went to subscriber %d", i, order[i]);
        cr_assert_eq(s[i].calls, 1);
        cr_assert_eq(s[i].reason, UV_ETIMEDOUT);
    }
}

Test(cancel, zero_reason_defaults_to_ecanceled)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub s = {.id = 1};
    sl_cancel_subscribe(&token, &s.sub, rec_cb);
    cr_assert_eq(sl_cancel_fire(&token, 0), 1);
    cr_assert_eq(s.reason, UV_ECANCELED);
    cr_assert_eq(token.reason, UV_ECANCELED);
}

Test(cancel, unsubscribe_prevents_call)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    sl_cancel_subscribe(&token, &a.sub, rec_cb);
    sl_cancel_subscribe(&token, &b.sub, rec_cb);
    sl_cancel_subscribe(&token, &c.sub, rec_cb);
    sl_cancel_unsubscribe(&b.sub);
    sl_cancel_unsubscribe(&b.sub); /* twice is harmless */

    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 2);
    cr_assert_eq(b.calls, 0);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 3);
    /* Unsubscribing after the callback ran is also safe. */
    sl_cancel_unsubscribe(&a.sub);
    sl_cancel_unsubscribe(&c.sub);
}

Test(cancel, fire_twice_runs_callbacks_once)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub a = {.id = 1}, b = {.id = 2};
    sl_cancel_subscribe(&token, &a.sub, rec_cb);
    sl_cancel_subscribe(&token, &b.sub, rec_cb);
    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 2);
    cr_assert_eq(sl_cancel_fire(&token, UV_ETIMEDOUT), 0);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(token.reason, UV_ECANCELED, "the second fire must not change the reason");
}

Test(cancel, subscribe_after_fire_calls_at_once)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    cr_assert_eq(sl_cancel_fire(&token, UV_ETIMEDOUT), 0);
    struct rec_sub late = {.id = 7};
    cr_assert_eq(sl_cancel_subscribe(&token, &late.sub, rec_cb), 1);
    cr_assert_eq(late.calls, 1, "called before subscribe returned");
    cr_assert_eq(late.reason, UV_ETIMEDOUT);
    /* It is not left on the list: another fire (a no-op) must not call it. */
    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 0);
    cr_assert_eq(late.calls, 1);
    sl_cancel_unsubscribe(&late.sub);
}

Test(cancel, callback_unsubscribing_a_later_subscriber_is_safe)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    a.victim = &b;
    sl_cancel_subscribe(&token, &a.sub, rec_cb);
    sl_cancel_subscribe(&token, &b.sub, rec_cb);
    sl_cancel_subscribe(&token, &c.sub, rec_cb);
    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 2);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 0, "b was unsubscribed by a before its turn");
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 3);
}

Test(cancel, callback_unsubscribing_an_earlier_or_itself_is_safe)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    norder = 0;
    struct rec_sub a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    b.victim = &a; /* already called */
    c.victim = &c; /* itself, while running */
    sl_cancel_subscribe(&token, &a.sub, rec_cb);
    sl_cancel_subscribe(&token, &b.sub, rec_cb);
    sl_cancel_subscribe(&token, &c.sub, rec_cb);
    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 3);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(norder, 3);
}

/* A subscriber that frees itself in its callback (the documented use). */

static int freed;

static void free_cb(struct sl_cancel_sub *sub, int reason)
{
    (void)reason;
    freed++;
    free(sub);
}

Test(cancel, callback_may_free_its_subscription)
{
    struct sl_cancel token;
    sl_cancel_init(&token);
    freed = 0;
    for (int i = 0; i < 3; i++) {
        struct sl_cancel_sub *sub = malloc(sizeof(*sub));
        cr_assert_not_null(sub);
        sl_cancel_subscribe(&token, sub, free_cb);
    }
    cr_assert_eq(sl_cancel_fire(&token, UV_ECANCELED), 3);
    cr_assert_eq(freed, 3);
}
