#include "core/cancel.h"

#include <uv.h>

void sl_cancel_init(struct sl_cancel *token)
{
    token->fired = 0;
    token->reason = UV_ECANCELED;
    sl_list_init(&token->subs);
}

int sl_cancel_subscribe(struct sl_cancel *token, struct sl_cancel_sub *sub, sl_cancel_cb cb)
{
    sub->cb = cb;
    sub->node.next = sub->node.prev = NULL;
    if (token->fired) {
        cb(sub, token->reason);
        return 1;
    }
    sl_list_push_back(&token->subs, &sub->node);
    return 0;
}

void sl_cancel_unsubscribe(struct sl_cancel_sub *sub)
{
    if (sl_list_linked(&sub->node))
        sl_list_remove(&sub->node);
}

int sl_cancel_fire(struct sl_cancel *token, int reason)
{
    if (token->fired)
        return 0;
    token->fired = 1;
    token->reason = reason ? reason : UV_ECANCELED;
    int n = 0;
    struct sl_list *node;
    /* Pop one at a time: a callback may unsubscribe (or free) others. */
    while ((node = sl_list_pop_front(&token->subs)) != NULL) {
        struct sl_cancel_sub *sub = sl_container_of(node, struct sl_cancel_sub, node);
        sub->cb(sub, token->reason);
        n++;
    }
    return n;
}
