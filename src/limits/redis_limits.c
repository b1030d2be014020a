/* The shared limits' calls (redis_limits.h): each builds one EVALSHA of
 * limits.lua on the stack, hands it to the link, and turns the reply into
 * its callback's answer. The link owns the command from then on: it
 * answers it exactly once (UNAVAILABLE when down). */
#include "limits/redis_limits.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "limits/window.h"

char *sl__redis_u64(char *out, uint64_t v)
{
    out[sl_fmt_uint(out, v)] = '\0';
    return out;
}

static char *i64(char *out, int64_t v)
{
    if (v >= 0)
        return sl__redis_u64(out, (uint64_t)v);
    out[0] = '-';
    sl__redis_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    return out;
}

/* A float argument Lua's tonumber and INCRBYFLOAT read back exactly. */
static char *dbl(char *out, size_t size, double v)
{
    snprintf(out, size, "%.17g", v);
    return out;
}

static int key_ok(const char *s)
{
    return s && s[0] && strnlen(s, SL_REDIS_KEY_MAX + 1) <= SL_REDIS_KEY_MAX;
}

/* A window's second key, its total, at out (SL_REDIS_KEY_MAX + 8 bytes);
 * key is key_ok. */
static char *total_key(char *out, const char *key)
{
    size_t len = strlen(key);
    memcpy(out, key, len);
    memcpy(out + len, ":total", 7);
    return out;
}

/* ---- admit ------------------------------------------------------------------ */

int sl__redis_admit_build(struct sl__redis_admit_cmd *cmd, const struct sl_redis_op *ops, size_t n)
{
    if (n < 1 || n > SL_REDIS_ADMIT_MAX)
        return -1;
    /* keys first, then the arguments: count the keys to know where those start */
    int nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        if (!key_ok(ops[i].key) || (ops[i].kind == SL_REDIS_SEMAPHORE && !key_ok(ops[i].lease)))
            return -1;
        nkeys += ops[i].kind == SL_REDIS_WINDOW ? 2 : 1;
    }
    const char **k = cmd->argv + 3, **a = k + nkeys;
    char(*num)[24] = cmd->nums;
    *a++ = "admit";
    *a++ = sl__redis_u64(*num++, n);
    for (size_t i = 0; i < n; i++) {
        const struct sl_redis_op *op = &ops[i];
        *k++ = op->key;
        switch (op->kind) {
        case SL_REDIS_WINDOW:
            *k++ = total_key(cmd->totals[i], op->key);
            *a++ = "w";
            *a++ = sl__redis_u64(*num++, op->limit);
            *a++ = sl__redis_u64(*num++, op->window_us);
            *a++ = sl__redis_u64(*num++, op->window_us / SL_WINDOW_CELLS);
            *a++ = sl__redis_u64(*num++, op->units);
            break;
        case SL_REDIS_SEMAPHORE:
            *a++ = "s";
            *a++ = sl__redis_u64(*num++, op->limit);
            *a++ = op->lease;
            *a++ = sl__redis_u64(*num++, op->lease_ms);
            break;
        case SL_REDIS_BUDGET:
            *a++ = "b";
            *a++ = dbl(*num++, sizeof *num, op->budget);
            break;
        default:
            return -1;
        }
    }
    cmd->nkeys = nkeys;
    cmd->argc = (int)(a - cmd->argv);
    return 0;
}

static int is_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER;
}

enum sl_redis_result sl__redis_admit_parse(const struct redisReply *reply, size_t *refused,
                                           uint64_t *retry_after_us, int64_t *cells)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        !is_int(reply->element[0]))
        return SL_REDIS_UNAVAILABLE;
    if (reply->element[0]->integer == 0) {
        size_t n = reply->elements - 1;
        if (n > SL_REDIS_ADMIT_MAX)
            return SL_REDIS_UNAVAILABLE;
        for (size_t i = 0; i < n; i++) {
            if (!is_int(reply->element[i + 1]))
                return SL_REDIS_UNAVAILABLE;
            cells[i] = reply->element[i + 1]->integer;
        }
        return SL_REDIS_TAKEN;
    }
    if (reply->elements != 3 || !is_int(reply->element[1]) || !is_int(reply->element[2]) ||
        reply->element[1]->integer < 0)
        return SL_REDIS_UNAVAILABLE;
    long long wait = reply->element[2]->integer;
    *refused = (size_t)reply->element[1]->integer;
    *retry_after_us = wait < 0 ? UINT64_MAX : (uint64_t)wait;
    return SL_REDIS_REFUSED;
}

static void on_admit(const struct redisReply *reply, sl__redis_cb cb, void *arg)
{
    size_t refused = 0;
    uint64_t retry = 0;
    int64_t cells[SL_REDIS_ADMIT_MAX] = {0};
    enum sl_redis_result r = sl__redis_admit_parse(reply, &refused, &retry, cells);
    ((sl_redis_admit_cb)cb)(arg, r, refused, retry, cells);
}

void sl_redis_admit(struct sl_redis_link *link, const struct sl_redis_op *ops, size_t n,
                    sl_redis_admit_cb cb, void *arg)
{
    struct sl__redis_admit_cmd cmd;
    int ok = sl__redis_admit_build(&cmd, ops, n) == 0;
    sl__redis_link_eval(link, cmd.nkeys, cmd.argc, ok ? cmd.argv : NULL, on_admit, (sl__redis_cb)cb,
                        arg);
}

/* ---- the other calls -------------------------------------------------------- */

/* An integer, a number as a string, nil (REFUSED, 0), or {flag, value}
 * (flag 1: TAKEN). */
static void on_value(const struct redisReply *reply, sl__redis_cb cb, void *arg)
{
    enum sl_redis_result r = SL_REDIS_TAKEN;
    double v = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        is_int(reply->element[0])) {
        r = reply->element[0]->integer ? SL_REDIS_TAKEN : SL_REDIS_REFUSED;
        reply = reply->element[1];
    }
    if (!reply)
        r = SL_REDIS_UNAVAILABLE;
    else if (reply->type == REDIS_REPLY_INTEGER)
        v = (double)reply->integer;
    else if (reply->type == REDIS_REPLY_STRING)
        v = strtod(reply->str, NULL);
    else if (reply->type == REDIS_REPLY_NIL)
        r = SL_REDIS_REFUSED;
    else
        r = SL_REDIS_UNAVAILABLE;
    if (cb)
        ((sl_redis_value_cb)cb)(arg, r, v);
}

static void ignore(const struct redisReply *reply, sl__redis_cb cb, void *arg)
{
    (void)reply;
    (void)cb;
    (void)arg;
}

/* One call on one key: argv = [link's 3], key, args[0..nargs). */
static void call(struct sl_redis_link *link, const char *key, int nargs, const char **args,
                 sl__redis_parse_fn parse, sl_redis_value_cb cb, void *arg)
{
    const char *argv[4 + 6];
    int ok = key_ok(key) && nargs <= 6;
    if (ok) {
        argv[3] = key;
        memcpy(argv + 4, args, (size_t)nargs * sizeof *args);
    }
    sl__redis_link_eval(link, 1, 4 + nargs, ok ? argv : NULL, parse, (sl__redis_cb)cb, arg);
}

void sl_redis_window_adjust(struct sl_redis_link *link, const char *key, uint64_t window_us,
                            int64_t cell, int64_t delta)
{
    char total[SL_REDIS_KEY_MAX + 8], n[4][24];
    int ok = key_ok(key);
    const char *argv[] = {NULL,
                          NULL,
                          NULL,
                          key,
                          ok ? total_key(total, key) : NULL,
                          "adjust",
                          i64(n[0], cell),
                          i64(n[1], delta),
                          sl__redis_u64(n[2], window_us),
                          sl__redis_u64(n[3], window_us / SL_WINDOW_CELLS)};
    sl__redis_link_eval(link, 2, 10, ok ? argv : NULL, ignore, NULL, NULL);
}

void sl_redis_settle(struct sl_redis_link *link, const struct sl_redis_settle_op *ops, size_t n)
{
    /* argv: 3 for the link, keys (2 per adjust, 1 per release), then
     * "settle", n and the ops' arguments (5 per adjust, 2 per release) */
    const char *argv[3 + 2 * SL_REDIS_SETTLE_MAX + 2 + 5 * SL_REDIS_SETTLE_MAX];
    char totals[SL_REDIS_SETTLE_MAX][SL_REDIS_KEY_MAX + 8], nums[1 + 4 * SL_REDIS_SETTLE_MAX][24];
    int ok = n >= 1 && n <= SL_REDIS_SETTLE_MAX, nkeys = 0, nn = 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = key_ok(ops[i].key) && (!ops[i].lease || key_ok(ops[i].lease));
    if (!ok) {
        sl__redis_link_eval(link, 0, 0, NULL, ignore, NULL, NULL);
        return;
    }
    int k = 3;
    for (size_t i = 0; i < n; i++) {
        argv[k++] = ops[i].key;
        if (!ops[i].lease)
            argv[k++] = total_key(totals[i], ops[i].key);
    }
    nkeys = k - 3;
    argv[k++] = "settle";
    argv[k++] = sl__redis_u64(nums[nn++], n);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].lease) {
            argv[k++] = "r";
            argv[k++] = ops[i].lease;
        } else {
            argv[k++] = "a";
            argv[k++] = i64(nums[nn++], ops[i].cell);
            argv[k++] = i64(nums[nn++], ops[i].delta);
            argv[k++] = sl__redis_u64(nums[nn++], ops[i].window_us);
            argv[k++] = sl__redis_u64(nums[nn++], ops[i].window_us / SL_WINDOW_CELLS);
        }
    }
    sl__redis_link_eval(link, nkeys, k, argv, ignore, NULL, NULL);
}

void sl_redis_release(struct sl_redis_link *link, const char *key, const char *lease,
                      sl_redis_value_cb cb, void *arg)
{
    const char *args[] = {"release", lease};
    /* a bad lease makes the key "bad" too: answered unavailable */
    call(link, key_ok(lease) ? key : NULL, 2, args, cb ? on_value : ignore, cb, arg);
}

void sl_redis_renew(struct sl_redis_link *link, const char *key, const char *const *leases,
                    size_t n, unsigned lease_ms, sl_redis_value_cb cb, void *arg)
{
    sl__redis_parse_fn parse = cb ? on_value : ignore;
    int ok = key_ok(key) && n >= 1 && n <= SL_REDIS_RENEW_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = key_ok(leases[i]);
    const char **argv = ok ? malloc((6 + n) * sizeof *argv) : NULL;
    char ms[24];
    if (argv) {
        argv[3] = key;
        argv[4] = "renew";
        argv[5] = sl__redis_u64(ms, lease_ms);
        memcpy(argv + 6, leases, n * sizeof *leases);
    }
    sl__redis_link_eval(link, 1, (int)(6 + n), argv, parse, (sl__redis_cb)cb, arg);
    free(argv);
}

void sl_redis_spend_add(struct sl_redis_link *link, const char *key, double amount, uint64_t ttl_ms,
                        sl_redis_value_cb cb, void *arg)
{
    char a[32], t[24];
    const char *args[] = {"spend_add", dbl(a, sizeof a, amount), sl__redis_u64(t, ttl_ms)};
    call(link, key, 3, args, cb ? on_value : ignore, cb, arg);
}

void sl_redis_spend_seed(struct sl_redis_link *link, const char *key, double value, uint64_t ttl_ms,
                         sl_redis_value_cb cb, void *arg)
{
    char v[32], t[24];
    const char *args[] = {"spend_seed", dbl(v, sizeof v, value), sl__redis_u64(t, ttl_ms)};
    call(link, key, 3, args, on_value, cb, arg);
}

void sl_redis_read(struct sl_redis_link *link, const struct sl_redis_op *op, sl_redis_value_cb cb,
                   void *arg)
{
    if (op->kind != SL_REDIS_WINDOW) {
        const char *args[] = {"read", op->kind == SL_REDIS_SEMAPHORE ? "s" : "b"};
        call(link, op->key, 2, args, on_value, cb, arg);
        return;
    }
    char total[SL_REDIS_KEY_MAX + 8], n[2][24];
    int ok = key_ok(op->key);
    const char *argv[] = {NULL,
                          NULL,
                          NULL,
                          op->key,
                          ok ? total_key(total, op->key) : NULL,
                          "read",
                          "w",
                          sl__redis_u64(n[0], op->window_us),
                          sl__redis_u64(n[1], op->window_us / SL_WINDOW_CELLS)};
    sl__redis_link_eval(link, 2, 9, ok ? argv : NULL, on_value, (sl__redis_cb)cb, arg);
}
