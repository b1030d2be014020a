/* One connection to Redis on the loop, kept up, for limits shared by every
 * gateway instance.
 *
 * The link resolves the host off the loop (uv_getaddrinfo; hiredis would
 * block), connects with a timeout, authenticates, selects the database and
 * loads its scripts; only then is it up. When the connection drops, a
 * connect fails, or a command goes unanswered for timeout_ms, the link goes
 * down: every command in flight is answered "unavailable" at once, and it
 * reconnects with backoff (100 ms doubling to 2 s). Commands issued while
 * it is down are answered "unavailable" without waiting. What to do then is
 * the caller's policy (fail open or closed).
 *
 * Owner: whoever created it; sl_redis_link_close is the one teardown (it
 * answers what is in flight, closes every handle, then calls back). */
#ifndef SL_REDIS_LINK_H
#define SL_REDIS_LINK_H

#include <stdint.h>
#include <uv.h>

struct sl_redis_link;

struct sl_redis_link_options {
    const char *url;     /* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] */
    unsigned timeout_ms; /* connect and reply timeout; 0: 250 */
    /* Called on every change between up and down (why: NULL when up). */
    void (*on_change)(void *arg, int up, const char *why);
    void *arg;
};

/* 0, or -1 with a one-line reason in err (a malformed URL). The link starts
 * connecting at once. */
int sl_redis_link_new(uv_loop_t *loop, const struct sl_redis_link_options *opts,
                      struct sl_redis_link **out, char *err, size_t err_size);
int sl_redis_link_up(const struct sl_redis_link *link);
/* Why it last failed ("" if it never did). */
const char *sl_redis_link_why(const struct sl_redis_link *link);
void sl_redis_link_close(struct sl_redis_link *link, void (*cb)(void *arg), void *arg);

enum sl_redis_result { SL_REDIS_TAKEN, SL_REDIS_REFUSED, SL_REDIS_UNAVAILABLE };

/* The shared sliding-window limit (src/limits/window.lua, the rules of
 * window.h): takes `units` of the limit named `key`. cb gets TAKEN with the
 * cell (for sl_redis_window_adjust), REFUSED with retry_after_us
 * (UINT64_MAX: never), or UNAVAILABLE. cb is always called, never before
 * this returns. */
typedef void (*sl_redis_window_cb)(void *arg, enum sl_redis_result result, int64_t cell,
                                   uint64_t retry_after_us);
void sl_redis_window_take(struct sl_redis_link *link, const char *key, uint64_t limit,
                          uint64_t window_us, uint64_t units, sl_redis_window_cb cb, void *arg);
/* Corrects units taken in `cell` by delta; fire and forget. */
void sl_redis_window_adjust(struct sl_redis_link *link, const char *key, uint64_t window_us,
                            int64_t cell, int64_t delta);

#endif
