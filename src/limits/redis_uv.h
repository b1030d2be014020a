/* hiredis on the libuv loop, writing once per loop turn.
 *
 * hiredis's own libuv adapter asks the loop for writability on every
 * command and drops it after: with uv_poll, each change is an epoll_ctl
 * DEL and ADD, about 7 system calls a command. This one keeps the read
 * interest as it is and writes what a loop turn queued from a prepare
 * handle, just before the loop waits: one write() for every command of
 * that turn. It asks for writability only while the socket will not take
 * everything (or while connecting).
 *
 * Owner: the context. hiredis calls the cleanup when it frees the context;
 * the handles then close and the adapter frees itself. */
#ifndef SL_REDIS_UV_H
#define SL_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* 0, or -1 (out of memory, a bad fd, already attached). */
int sl__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
