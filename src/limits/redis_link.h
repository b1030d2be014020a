/* One connection to Redis on the loop, kept up, for limits shared by every
 * gateway instance.
 *
 * The link resolves the host off the loop (uv_getaddrinfo; hiredis would
 * block), connects with a timeout, authenticates, selects the database and
 * loads its script; only then is it up. When the connection drops, a
 * connect fails, or a command goes unanswered for timeout_ms, the link goes
 * down: every command in flight is answered "unavailable" at once, and it
 * reconnects with backoff (100 ms doubling to 2 s). Commands issued while
 * it is down are answered "unavailable" without waiting. What to do then is
 * the caller's policy (fail open or closed).
 *
 * The link runs one script, src/limits/limits.lua; the calls on the
 * limits it holds are in src/limits/redis_limits.h.
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

/* What a call to Redis came to (src/limits/redis_limits.h): TAKEN (done,
 * for the calls that take nothing), REFUSED, or UNAVAILABLE (the link is
 * down, or the reply was an error: the caller's fail-open or fail-closed
 * policy decides). */
enum sl_redis_result { SL_REDIS_TAKEN, SL_REDIS_REFUSED, SL_REDIS_UNAVAILABLE };

/* ---- internal, for src/limits/redis_limits.c -------------------------------- */

struct redisReply;
/* A caller's callback, stored untyped by the link and given back to parse. */
typedef void (*sl__redis_cb)(void);
/* Turns a reply into the caller's answer: reply is NULL when the link is
 * down, the command failed, or Redis answered an error. */
typedef void (*sl__redis_parse_fn)(const struct redisReply *reply, sl__redis_cb cb, void *arg);

/* EVALSHA of the link's script (src/limits/limits.lua): argv[0..2] are
 * left for the link (EVALSHA, the script, nkeys), then the keys and the
 * arguments, argc in all. argv is copied before this returns. parse is
 * called exactly once, never before this returns; argv NULL answers
 * "unavailable" (a call the caller found malformed). */
void sl__redis_link_eval(struct sl_redis_link *link, int nkeys, int argc, const char **argv,
                         sl__redis_parse_fn parse, sl__redis_cb cb, void *arg);

#endif
