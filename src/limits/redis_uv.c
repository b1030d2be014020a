#include "limits/redis_uv.h"

#include <stdlib.h>

struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis cleaned up */
    uv_poll_t poll;
    uv_prepare_t flush;
    int want;       /* what hiredis asked for: UV_READABLE, UV_WRITABLE */
    int poll_write; /* the flush could not write everything: wait for room */
    int polled;     /* the events the poll watches */
    int open;       /* handles not yet closed */
};

static void on_poll(uv_poll_t *h, int status, int events);

static void watch(struct redis_uv *u)
{
    int mask = (u->want & UV_READABLE) | (u->poll_write ? UV_WRITABLE : 0);
    if (mask == u->polled)
        return;
    u->polled = mask;
    if (mask)
        uv_poll_start(&u->poll, mask, on_poll);
    else
        uv_poll_stop(&u->poll);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct redis_uv *u = h->data;
    if (status < 0)
        return;
    if (u->ac && (events & UV_READABLE))
        redisAsyncHandleRead(u->ac);
    if (u->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(u->ac);
}

static void on_flush(uv_prepare_t *h)
{
    struct redis_uv *u = h->data;
    uv_prepare_stop(h);
    if (u->ac && (u->want & UV_WRITABLE))
        redisAsyncHandleWrite(u->ac); /* may call back, even free the context */
    if (u->ac && (u->want & UV_WRITABLE)) {
        u->poll_write = 1;
        watch(u);
    }
}

static void add_read(void *data)
{
    struct redis_uv *u = data;
    u->want |= UV_READABLE;
    watch(u);
}

static void del_read(void *data)
{
    struct redis_uv *u = data;
    u->want &= ~UV_READABLE;
    watch(u);
}

static void add_write(void *data)
{
    struct redis_uv *u = data;
    u->want |= UV_WRITABLE;
    if (!u->poll_write)
        uv_prepare_start(&u->flush, on_flush);
}

static void del_write(void *data)
{
    struct redis_uv *u = data;
    u->want &= ~UV_WRITABLE;
    u->poll_write = 0;
    watch(u);
}

static void on_closed(uv_handle_t *h)
{
    struct redis_uv *u = h->data;
    if (--u->open == 0)
        free(u);
}

static void cleanup(void *data)
{
    struct redis_uv *u = data;
    u->ac = NULL;
    uv_close((uv_handle_t *)&u->poll, on_closed);
    uv_close((uv_handle_t *)&u->flush, on_closed);
}

int sl__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return -1;
    struct redis_uv *u = calloc(1, sizeof *u);
    if (!u)
        return -1;
    if (uv_poll_init(loop, &u->poll, ac->c.fd) != 0) {
        free(u);
        return -1;
    }
    uv_prepare_init(loop, &u->flush);
    u->poll.data = u->flush.data = u;
    u->open = 2;
    u->ac = ac;
    ac->ev.data = u;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
