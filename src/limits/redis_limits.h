/* The limits shared by every gateway instance, held in Redis: sliding
 * windows (RPM, TPM), semaphores with leases (a deployment's parallel
 * requests) and spend counters (budgets). Every call is one EVALSHA of
 * src/limits/limits.lua over the link (src/limits/redis_link.h), atomic in
 * Redis, with Redis's clock (TIME), so instances need no synchronised
 * clocks. docs/limits.md describes the keys and what a Redis restart does.
 *
 * Keys are the caller's (e.g. "sl:{7}:rpm"); a window also uses
 * "<key>:total". In a Redis Cluster every key of one call must hash to one
 * slot (one hash tag for all of them); sluice expects one Redis, or a
 * primary with replicas.
 *
 * Every callback is called exactly once, never before the call returns,
 * with UNAVAILABLE when the link is down or Redis answered an error (the
 * caller's fail-open or fail-closed policy applies). Strings passed in are
 * copied before the call returns. (One exception to "never before": if
 * memory for the call cannot be had, it is answered UNAVAILABLE at once.) */
#ifndef SL_REDIS_LIMITS_H
#define SL_REDIS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "limits/redis_link.h"

#define SL_REDIS_ADMIT_MAX 8    /* ops in one admit */
#define SL_REDIS_KEY_MAX   200  /* bytes of a key, or of a lease id */
#define SL_REDIS_RENEW_MAX 1024 /* leases in one renew */

enum sl_redis_op_kind {
    SL_REDIS_WINDOW,    /* key, limit, window_us (>= SL_WINDOW_CELLS), units */
    SL_REDIS_SEMAPHORE, /* key, limit, lease, lease_ms */
    SL_REDIS_BUDGET,    /* key (the spend counter), budget */
};

/* One limit of an admit, or what sl_redis_read reads. */
struct sl_redis_op {
    enum sl_redis_op_kind kind;
    const char *key;
    uint64_t limit;     /* window, semaphore */
    uint64_t window_us; /* window */
    uint64_t units;     /* window: what this request takes */
    const char *lease;  /* semaphore: this permit's id, unique across instances */
    unsigned lease_ms;  /* semaphore: the permit returns unless renewed within */
    double budget;      /* budget: refused once the spend is >= budget */
};

/* TAKEN: every op had room and all were taken; cells[i] is op i's window
 * cell (for sl_redis_window_adjust; 0 for other kinds), valid during the
 * call. REFUSED: nothing was taken; op `refused` had no room, and
 * retry_after_us is when it may have: for a window when enough units
 * leave it (UINT64_MAX: units > limit, never), for a semaphore when its
 * earliest lease expires but at most 50 ms (permits usually come back by
 * release), for a budget UINT64_MAX (the caller knows the period's end).
 * UNAVAILABLE: nothing is known. */
typedef void (*sl_redis_admit_cb)(void *arg, enum sl_redis_result result, size_t refused,
                                  uint64_t retry_after_us, const int64_t *cells);

/* All or nothing: takes every op of ops[0..n) if each has room, none
 * otherwise. 1 <= n <= SL_REDIS_ADMIT_MAX; the keys must differ. A
 * semaphore whose lease is already held counts it as taken (and renews
 * it). A key or lease over SL_REDIS_KEY_MAX is answered UNAVAILABLE. */
void sl_redis_admit(struct sl_redis_link *link, const struct sl_redis_op *ops, size_t n,
                    sl_redis_admit_cb cb, void *arg);

/* The answer of the calls below: value as each call says. */
typedef void (*sl_redis_value_cb)(void *arg, enum sl_redis_result result, double value);

/* Corrects units taken in a window's `cell` by delta (a reservation set
 * right); fire and forget. */
void sl_redis_window_adjust(struct sl_redis_link *link, const char *key, uint64_t window_us,
                            int64_t cell, int64_t delta);

/* What a finished request gives back, in one call (fire and forget): a
 * lease released (lease set), or a window cell corrected by delta. */
#define SL_REDIS_SETTLE_MAX 8
struct sl_redis_settle_op {
    const char *key;
    const char *lease; /* release this lease of the semaphore at key; NULL: adjust */
    int64_t cell, delta;
    uint64_t window_us;
};
void sl_redis_settle(struct sl_redis_link *link, const struct sl_redis_settle_op *ops, size_t n);

/* Returns a semaphore's permit: TAKEN, value 1 if the lease was held, 0 if
 * not (it expired). cb may be NULL. */
void sl_redis_release(struct sl_redis_link *link, const char *key, const char *lease,
                      sl_redis_value_cb cb, void *arg);

/* Extends leases[0..n) of the semaphore at key to lease_ms from now:
 * TAKEN, value the number still held (the others expired and their
 * permits may be someone else's). 1 <= n <= SL_REDIS_RENEW_MAX. cb may be
 * NULL. */
void sl_redis_renew(struct sl_redis_link *link, const char *key, const char *const *leases,
                    size_t n, unsigned lease_ms, sl_redis_value_cb cb, void *arg);

/* Adds amount to the spend counter at key and makes it expire ttl_ms from
 * now: TAKEN with the new total, or REFUSED if there is no counter
 * (nothing added): Redis restarted or the period is new, so the caller
 * seeds it from the database (sl_redis_spend_seed) first. cb may be NULL. */
void sl_redis_spend_add(struct sl_redis_link *link, const char *key, double amount, uint64_t ttl_ms,
                        sl_redis_value_cb cb, void *arg);

/* Creates the spend counter at key with value, expiring ttl_ms from now,
 * unless there is one: TAKEN with value if it was created, REFUSED with
 * the counter's value if one was there (another instance seeded it). */
void sl_redis_spend_seed(struct sl_redis_link *link, const char *key, double value, uint64_t ttl_ms,
                         sl_redis_value_cb cb, void *arg);

/* Reads what op's limit holds now, taking nothing (op->kind, key and, for
 * a window, window_us are used): a window's units, a semaphore's leases
 * held, or a budget's spend (REFUSED, 0 if there is no counter). */
void sl_redis_read(struct sl_redis_link *link, const struct sl_redis_op *op, sl_redis_value_cb cb,
                   void *arg);

/* ---- internal, for the tests ------------------------------------------------- */

/* An admit's command, built without allocating: argv[0..2] are left to
 * the link, then the keys, then the arguments. */
struct sl__redis_admit_cmd {
    const char *argv[3 + 2 * SL_REDIS_ADMIT_MAX + 2 + 5 * SL_REDIS_ADMIT_MAX];
    int argc, nkeys;
    char totals[SL_REDIS_ADMIT_MAX][SL_REDIS_KEY_MAX + 8]; /* "<key>:total" */
    char nums[1 + 4 * SL_REDIS_ADMIT_MAX][24];
};
/* 0, or -1 if n or a key or lease is out of bounds. */
int sl__redis_admit_build(struct sl__redis_admit_cmd *cmd, const struct sl_redis_op *ops, size_t n);
/* An admit's reply (NULL: unavailable); cells has SL_REDIS_ADMIT_MAX slots. */
enum sl_redis_result sl__redis_admit_parse(const struct redisReply *reply, size_t *refused,
                                           uint64_t *retry_after_us, int64_t *cells);
/* Decimal digits of v at out (>= 21 bytes), NUL-ended; returns out. */
char *sl__redis_u64(char *out, uint64_t v);

#endif
