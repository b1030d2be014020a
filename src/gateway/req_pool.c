/* Spare requests: a finished gw_req goes to a bounded list of spares
 * (at most SPARE_REQS), with its body buffer and its response buffer when
 * they are small (SPARE_BODY_MAX, SL_GW_SPARE_RESP_MAX), and the next
 * request takes it: steady traffic allocates no gw_req (about 9 KB, whose
 * calloc with its page faults was 16% of the loop thread's samples:
 * docs/benchmarks.md, issue 12), no body copy and no response buffer.
 * The spares are freed with the gateway.
 *
 * A finished request waits on gw->finished until the end of the loop turn
 * (the reaper, a uv_check started only while the list is not empty): what
 * called finish() may still read it on the way back up the stack, as it
 * could when the request's timers were closed handles. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_impl.h"

#define SPARE_REQS     1024
#define SPARE_BODY_MAX (16u * 1024) /* a spare keeps a body buffer this large at most */

static void req_free(struct gw_req *r)
{
    free(r->body);
    sl_buf_release(&r->resp);
    free(r);
}

struct gw_req *sl__gw_req_get(struct sl_gateway *gw, size_t body_len)
{
    struct gw_req *r;
    char *body = NULL;
    size_t body_cap = 0;
    struct sl_buf resp;
    sl_buf_init(&resp, MAX_RESPONSE_BYTES);
    struct sl_list *n = sl_list_pop_front(&gw->spare);
    if (n) {
        gw->n_spare--;
        r = sl_container_of(n, struct gw_req, node);
        body = r->body;
        body_cap = r->body_cap;
        resp = r->resp;
        sl_buf_reset(&resp);
        memset(r, 0, sizeof(*r));
    } else if ((r = calloc(1, sizeof(*r))) == NULL) {
        return NULL;
    }
    size_t need = body_len ? body_len : 1;
    if (body_cap < need) {
        free(body);
        body_cap = need;
        if ((body = malloc(need)) == NULL) {
            sl_buf_release(&resp);
            free(r);
            return NULL;
        }
    }
    r->body = body;
    r->body_cap = body_cap;
    r->resp = resp;
    return r;
}

void sl__gw_req_put(struct sl_gateway *gw, struct gw_req *r)
{
    if (gw->closing || gw->n_spare >= SPARE_REQS) {
        req_free(r);
        return;
    }
    if (r->body_cap > SPARE_BODY_MAX) {
        free(r->body);
        r->body = NULL;
        r->body_cap = 0;
    }
    sl_list_push_back(&gw->spare, &r->node);
    gw->n_spare++;
}

void sl__gw_req_spares_free(struct sl_gateway *gw)
{
    struct sl_list *n;
    while ((n = sl_list_pop_front(&gw->spare)) != NULL)
        req_free(sl_container_of(n, struct gw_req, node));
    gw->n_spare = 0;
}

void sl__gw_req_maybe_free(struct gw_req *r)
{
    assert(r->state == GW_FINISHED);
    if (!r->reaped || r->offload_pending)
        return;
    struct sl_gateway *gw = r->gw;
    sl__gw_req_put(gw, r);
    sl__gw_req_gone(gw);
}

static void on_reap(uv_check_t *check)
{
    sl__gw_req_reap(check->data);
}

void sl__gw_req_finished(struct gw_req *r)
{
    struct sl_gateway *gw = r->gw;
    assert(!r->retrier.sleeping);       /* cancel() woke it */
    sl_deadline_stop(&r->retrier.wake); /* whatever a release build missed */
    sl_sem_timed_release(&r->admit);
    sl_list_push_back(&gw->finished, &r->node);
    if (!uv_is_active((uv_handle_t *)&gw->reaper))
        uv_check_start(&gw->reaper, on_reap);
}

void sl__gw_req_reap(struct sl_gateway *gw)
{
    struct sl_list *n;
    uv_check_stop(&gw->reaper);
    while ((n = sl_list_pop_front(&gw->finished)) != NULL) {
        struct gw_req *r = sl_container_of(n, struct gw_req, node);
        r->reaped = 1;
        sl__gw_req_maybe_free(r); /* the gateway stays: the reaper counts in it */
    }
}
