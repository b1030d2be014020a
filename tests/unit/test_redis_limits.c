/* The shared limits (redis_limits.h) against a real redis-server: windows,
 * semaphores with leases, budgets and spend counters, all-or-nothing
 * admits, two links as two gateway instances, the server killed and back;
 * and the command builder and reply reader without a server. */
#include <hiredis/hiredis.h>

#include "redis_fixture.h"

#define MINUTE 60000000ull

static struct sl_redis_op window_op(const char *key, uint64_t limit, uint64_t window_us,
                                    uint64_t units)
{
    return (struct sl_redis_op){.kind = SL_REDIS_WINDOW,
                                .key = key,
                                .limit = limit,
                                .window_us = window_us,
                                .units = units};
}

static struct sl_redis_op sem_op(const char *key, uint64_t limit, const char *lease,
                                 unsigned lease_ms)
{
    return (struct sl_redis_op){.kind = SL_REDIS_SEMAPHORE,
                                .key = key,
                                .limit = limit,
                                .lease = lease,
                                .lease_ms = lease_ms};
}

static struct sl_redis_op budget_op(const char *key, double budget)
{
    return (struct sl_redis_op){.kind = SL_REDIS_BUDGET, .key = key, .budget = budget};
}

static void read_op(struct fx *f, struct sl_redis_op op)
{
    CALL(f, sl_redis_read(f->link, &op, on_value, f));
}

/* A key one byte over SL_REDIS_KEY_MAX, at k (SL_REDIS_KEY_MAX + 2 bytes). */
static void too_long(char *k)
{
    memset(k, 'k', SL_REDIS_KEY_MAX + 1);
    k[SL_REDIS_KEY_MAX + 1] = '\0';
}

/* A second link ("another instance") to the server on port, up. */
static void second_link(struct fx *g, int port)
{
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    open_link(g, url);
    RUN_UNTIL(g, sl_redis_link_up(g->link));
}

Test(redis_limits, a_window_takes_refuses_and_frees)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "/2", NULL);
    /* 5 per 600 ms: a burst of five passes, the sixth waits for its cell */
    for (int i = 0; i < 5; i++) {
        take(&f, "k1", 5, 600000, 1);
        cr_assert_eq(f.last, SL_REDIS_TAKEN, "take %d", i);
    }
    take(&f, "k1", 5, 600000, 1);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert(f.retry > 0 && f.retry <= 601000, "retry after %llu µs", (unsigned long long)f.retry);
    uint64_t wait = f.retry;
    usleep((useconds_t)(wait + 5000));
    take(&f, "k1", 5, 600000, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN, "after the Retry-After");
    /* never: more than the limit at once */
    take(&f, "k1", 5, 600000, 6);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.retry, UINT64_MAX);
    /* a reservation corrected down frees room */
    take(&f, "k2", 10, 60000000, 8);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    int64_t cell = f.cell;
    take(&f, "k2", 10, 60000000, 5);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    sl_redis_window_adjust(f.link, "k2", 60000000, cell, -6);
    take(&f, "k2", 10, 60000000, 5);
    cr_assert_eq(f.last, SL_REDIS_TAKEN, "the correction freed 6");
    cr_assert_eq(f.downs, 0);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, cells_that_left_the_window_leave_its_total_even_when_refused)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    take(&f, "w", 5, 600000, 5);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    usleep(700000); /* the cell has left the window */
    take(&f, "w", 5, 600000, 6);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.retry, UINT64_MAX);
    take(&f, "w", 5, 600000, 5);
    cr_assert_eq(f.last, SL_REDIS_TAKEN, "the refusal dropped the old cell from the total");
    read_op(&f, window_op("w", 5, 600000, 0));
    cr_assert_eq(f.value, 5);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, all_or_nothing_a_full_semaphore_takes_nothing_from_the_window)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    struct sl_redis_op hold = sem_op("sem", 1, "held", 10000);
    admit(&f, &hold, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    struct sl_redis_op ops[] = {window_op("rpm", 10, MINUTE, 1), sem_op("sem", 1, "new", 10000)};
    admit(&f, ops, 2);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.refused, 1);
    cr_assert(f.retry > 0 && f.retry <= 50000, "retry %llu", (unsigned long long)f.retry);
    read_op(&f, ops[0]);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    cr_assert_eq(f.value, 0, "the window took nothing");
    read_op(&f, ops[1]);
    cr_assert_eq(f.value, 1, "one lease held");
    /* and the other way round: a full window takes no permit */
    struct sl_redis_op full[] = {sem_op("sem2", 3, "x", 10000), window_op("rpm2", 1, MINUTE, 2)};
    admit(&f, full, 2);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.refused, 1);
    cr_assert_eq(f.retry, UINT64_MAX);
    read_op(&f, full[0]);
    cr_assert_eq(f.value, 0);
    /* a lease already held counts as taken: admitting it again takes no second permit */
    admit(&f, &hold, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    read_op(&f, hold);
    cr_assert_eq(f.value, 1);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, a_semaphore_holds_its_limit_across_two_instances)
{
    struct fx a, b;
    int port;
    pid_t redis = redis_up(&a, NULL, "", &port);
    second_link(&b, port);
    const char *leases[] = {"a1", "a2", "b1", "b2"};
    struct fx *who[] = {&a, &a, &b, &b};
    for (int i = 0; i < 3; i++) {
        struct sl_redis_op op = sem_op("dep", 3, leases[i], 10000);
        admit(who[i], &op, 1);
        cr_assert_eq(who[i]->last, SL_REDIS_TAKEN, "%s", leases[i]);
    }
    struct sl_redis_op b2 = sem_op("dep", 3, "b2", 10000);
    admit(&b, &b2, 1);
    cr_assert_eq(b.last, SL_REDIS_REFUSED);
    cr_assert_eq(b.refused, 0);
    CALL(&a, sl_redis_release(a.link, "dep", "a1", on_value, &a));
    cr_assert_eq(a.last, SL_REDIS_TAKEN);
    cr_assert_eq(a.value, 1);
    CALL(&a, sl_redis_release(a.link, "dep", "a1", on_value, &a));
    cr_assert_eq(a.value, 0, "released once");
    admit(&b, &b2, 1);
    cr_assert_eq(b.last, SL_REDIS_TAKEN, "the released permit");
    close_link(&b);
    close_link(&a);
    stop_redis(redis);
}

Test(redis_limits, a_lease_not_renewed_expires_and_a_renewed_one_stays)
{
    struct fx f, g;
    int port;
    pid_t redis = redis_up(&f, NULL, "", &port);
    second_link(&g, port);
    /* f holds both permits with 600 ms leases, then "crashes" for one */
    struct sl_redis_op kept = sem_op("dep", 2, "kept", 600), lost = sem_op("dep", 2, "lost", 600);
    admit(&f, &kept, 1);
    admit(&f, &lost, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    struct sl_redis_op other = sem_op("dep", 2, "other", 600);
    admit(&g, &other, 1);
    cr_assert_eq(g.last, SL_REDIS_REFUSED);
    cr_assert(g.retry <= 50000);
    const char *mine[] = {"kept"};
    for (int i = 0; i < 6; i++) { /* 900 ms, renewing every 150 */
        usleep(150000);
        CALL(&f, sl_redis_renew(f.link, "dep", mine, 1, 600, on_value, &f));
        cr_assert_eq(f.last, SL_REDIS_TAKEN);
        cr_assert_eq(f.value, 1);
    }
    read_op(&g, other);
    cr_assert_eq(g.value, 1, "the renewed lease stays, the other expired");
    admit(&g, &other, 1);
    cr_assert_eq(g.last, SL_REDIS_TAKEN, "the expired lease's permit came back");
    admit(&g, &lost, 1);
    cr_assert_eq(g.last, SL_REDIS_REFUSED, "the renewed lease still holds its permit");
    /* renewing an expired lease does not bring it back */
    const char *both[] = {"kept", "lost"};
    CALL(&f, sl_redis_renew(f.link, "dep", both, 2, 600, on_value, &f));
    cr_assert_eq(f.value, 1);
    close_link(&g);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, spend_is_seeded_added_read_and_refused_over_budget)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    CALL(&f, sl_redis_spend_add(f.link, "spend", 0.25, 60000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_REFUSED, "no counter: seed it first");
    read_op(&f, budget_op("spend", 1));
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.value, 0);
    CALL(&f, sl_redis_spend_seed(f.link, "spend", 0.5, 60000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    cr_assert_float_eq(f.value, 0.5, 1e-12);
    CALL(&f, sl_redis_spend_seed(f.link, "spend", 9, 60000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_REFUSED, "another instance seeded it");
    cr_assert_float_eq(f.value, 0.5, 1e-12);
    struct sl_redis_op ops[] = {window_op("rpm", 10, MINUTE, 1), budget_op("spend", 1.0)};
    admit(&f, ops, 2);
    cr_assert_eq(f.last, SL_REDIS_TAKEN, "0.5 spent of 1.0");
    cr_assert_eq(f.cells[1], 0);
    CALL(&f, sl_redis_spend_add(f.link, "spend", 0.6, 60000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    cr_assert_float_eq(f.value, 1.1, 1e-9);
    read_op(&f, ops[1]);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    cr_assert_float_eq(f.value, 1.1, 1e-9);
    admit(&f, ops, 2);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.refused, 1);
    cr_assert_eq(f.retry, UINT64_MAX);
    read_op(&f, ops[0]);
    cr_assert_eq(f.value, 1, "the refused admit took no request");
    /* a counter expires with its period */
    CALL(&f, sl_redis_spend_seed(f.link, "short", 1, 150, on_value, &f));
    CALL(&f, sl_redis_spend_add(f.link, "short", 1, 150, on_value, &f));
    cr_assert_float_eq(f.value, 2, 1e-12);
    usleep(250000);
    read_op(&f, budget_op("short", 1));
    cr_assert_eq(f.last, SL_REDIS_REFUSED, "gone");
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, four_ops_at_once_and_a_reservation_adjusted_through_its_cell)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    CALL(&f, sl_redis_spend_seed(f.link, "{k}:spend", 0, 60000, on_value, &f));
    struct sl_redis_op ops[] = {window_op("{k}:rpm", 10, MINUTE, 1),
                                window_op("{k}:tpm", 1000, MINUTE, 800), budget_op("{k}:spend", 5),
                                sem_op("dep", 4, "l1", 10000)};
    admit(&f, ops, 4);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    cr_assert_gt(f.cells[0], 0);
    cr_assert_gt(f.cells[1], 0);
    cr_assert_eq(f.cells[2], 0);
    cr_assert_eq(f.cells[3], 0);
    int64_t tpm_cell = f.cells[1];
    ops[3].lease = "l2";
    ops[1].units = 300;
    admit(&f, ops, 4);
    cr_assert_eq(f.last, SL_REDIS_REFUSED);
    cr_assert_eq(f.refused, 1, "800 + 300 tokens > 1000");
    /* the request used 200 tokens, not 800 */
    sl_redis_window_adjust(f.link, "{k}:tpm", MINUTE, tpm_cell, -600);
    read_op(&f, ops[1]);
    cr_assert_eq(f.value, 200);
    admit(&f, ops, 4);
    cr_assert_eq(f.last, SL_REDIS_TAKEN, "the correction freed 600");
    read_op(&f, ops[1]);
    cr_assert_eq(f.value, 500);
    read_op(&f, ops[0]);
    cr_assert_eq(f.value, 2);
    read_op(&f, ops[3]);
    cr_assert_eq(f.value, 2);
    /* what a finished request gives back, in one call: its lease, its
     * rpm place and its reservation set right (500 -> 300 tokens) */
    struct sl_redis_settle_op give[] = {
        {.key = "dep", .lease = "l2"},
        {.key = "{k}:tpm", .cell = f.cells[1], .delta = -200, .window_us = MINUTE},
        {.key = "{k}:rpm", .cell = f.cells[0], .delta = -1, .window_us = MINUTE},
    };
    sl_redis_settle(f.link, give, 3);
    read_op(&f, ops[3]);
    cr_assert_eq(f.value, 1, "l2 released");
    read_op(&f, ops[1]);
    cr_assert_eq(f.value, 300);
    read_op(&f, ops[0]);
    cr_assert_eq(f.value, 1);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, killed_server_answers_unavailable_then_recovers)
{
    struct fx f;
    int port;
    pid_t redis = redis_up(&f, NULL, "", &port);
    struct sl_redis_op ops[] = {window_op("rpm", 10, MINUTE, 1), sem_op("dep", 1, "l", 10000),
                                budget_op("spend", 1)};
    admit(&f, ops, 3);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    stop_redis(redis);
    RUN_UNTIL(&f, f.downs == 1);
    admit(&f, ops, 3);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    const char *leases[] = {"l"};
    CALL(&f, sl_redis_renew(f.link, "dep", leases, 1, 10000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    CALL(&f, sl_redis_spend_add(f.link, "spend", 1, 1000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    redis = start_redis(port, NULL); /* empty: windows and leases start over */
    RUN_UNTIL(&f, f.ups == 2);
    admit(&f, ops, 3);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_limits, a_bad_call_is_answered_unavailable_after_it_returns)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    char long_key[SL_REDIS_KEY_MAX + 2];
    too_long(long_key);
    struct sl_redis_op op = window_op(long_key, 1, MINUTE, 1);
    admit(&f, &op, 1);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    CALL(&f, sl_redis_spend_add(f.link, long_key, 1, 1000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    CALL(&f, sl_redis_renew(f.link, "dep", NULL, 0, 1000, on_value, &f));
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    cr_assert(sl_redis_link_up(f.link), "the link stays up");
    close_link(&f);
    stop_redis(redis);
}

/* ---- two instances hammering one semaphore ---------------------------------- */

#define HAMMER_LIMIT     5
#define HAMMER_IN_FLIGHT 8 /* admits in flight per instance */
#define HAMMER_TAKES     600

struct hammer;
struct hammer_call {
    struct hammer *h;
    char lease[16];
};

struct hammer {
    struct fx f;
    char name;
    unsigned next_id;
    struct hammer_call calls[HAMMER_IN_FLIGHT];
    uv_timer_t tick;   /* releases the oldest lease held */
    char held[64][16]; /* the leases held, a ring (at most HAMMER_LIMIT) */
    unsigned head, count;
};

static int held_total, held_most, takes, refusals, unavailable;

static void admit_one(struct hammer_call *c);

static void on_hammer(void *arg, enum sl_redis_result r, size_t refused, uint64_t retry,
                      const int64_t *cells)
{
    struct hammer_call *c = arg;
    struct hammer *h = c->h;
    (void)refused, (void)retry, (void)cells;
    if (r == SL_REDIS_TAKEN) {
        /* counted when the reply comes, uncounted when the release is sent:
         * never more than Redis holds */
        held_total++;
        takes++;
        if (held_total > held_most)
            held_most = held_total;
        cr_assert_leq(held_total, HAMMER_LIMIT, "more permits held than the limit");
        snprintf(h->held[(h->head + h->count++) % 64], 16, "%s", c->lease);
    } else if (r == SL_REDIS_REFUSED) {
        refusals++;
    } else {
        unavailable++;
    }
    if (takes < HAMMER_TAKES && r != SL_REDIS_UNAVAILABLE)
        admit_one(c);
}

static void admit_one(struct hammer_call *c)
{
    snprintf(c->lease, sizeof c->lease, "%c%u", c->h->name, c->h->next_id++);
    struct sl_redis_op op = sem_op("hammered", HAMMER_LIMIT, c->lease, 5000);
    sl_redis_admit(c->h->f.link, &op, 1, on_hammer, c);
}

static void on_tick(uv_timer_t *t)
{
    struct hammer *h = t->data;
    if (!h->count)
        return;
    held_total--;
    sl_redis_release(h->f.link, "hammered", h->held[h->head], NULL, NULL);
    h->head = (h->head + 1) % 64;
    h->count--;
}

Test(redis_limits, two_instances_hammering_a_semaphore_never_exceed_its_limit)
{
    struct hammer h[2];
    int port;
    memset(h, 0, sizeof h);
    pid_t redis = redis_up(&h[0].f, NULL, "", &port);
    second_link(&h[1].f, port);
    for (int i = 0; i < 2; i++) {
        h[i].name = (char)('A' + i);
        uv_timer_init(&h[i].f.loop, &h[i].tick);
        h[i].tick.data = &h[i];
        uv_timer_start(&h[i].tick, on_tick, 1, 1);
        for (int k = 0; k < HAMMER_IN_FLIGHT; k++) {
            h[i].calls[k].h = &h[i];
            admit_one(&h[i].calls[k]);
        }
    }
    for (int i = 0; i < 20000 && takes < HAMMER_TAKES; i++) {
        uv_run(&h[0].f.loop, UV_RUN_NOWAIT);
        uv_run(&h[1].f.loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    cr_assert_geq(takes, HAMMER_TAKES, "only %d taken", takes);
    cr_assert_eq(held_most, HAMMER_LIMIT, "the limit was reached");
    cr_assert_gt(refusals, 0);
    cr_assert_eq(unavailable, 0);
    struct fx *f = &h[0].f;
    read_op(f, sem_op("hammered", HAMMER_LIMIT, "x", 5000));
    cr_assert_leq(f->value, HAMMER_LIMIT);
    for (int i = 0; i < 2; i++) {
        uv_close((uv_handle_t *)&h[i].tick, NULL);
        close_link(&h[i].f);
    }
    stop_redis(redis);
}

/* ---- without a server ------------------------------------------------------- */

Test(redis_limits, numbers_are_written_in_decimal)
{
    char out[24];
    cr_assert_str_eq(sl__redis_u64(out, 0), "0");
    cr_assert_str_eq(sl__redis_u64(out, 60000000), "60000000");
    cr_assert_str_eq(sl__redis_u64(out, UINT64_MAX), "18446744073709551615");
}

Test(redis_limits, the_admit_command_puts_keys_first_then_each_op)
{
    struct sl__redis_admit_cmd cmd;
    struct sl_redis_op ops[] = {window_op("sl:{7}:rpm", 120, MINUTE, 1),
                                sem_op("sl:dep:gpt", 5, "i1-42", 3000),
                                budget_op("sl:{7}:usd", 2.5)};
    cr_assert_eq(sl__redis_admit_build(&cmd, ops, 3), 0);
    const char *want[] = {"sl:{7}:rpm", "sl:{7}:rpm:total",
                          "sl:dep:gpt", "sl:{7}:usd",
                          "admit",      "3",
                          "w",          "120",
                          "60000000",   "100000",
                          "1",          "s",
                          "5",          "i1-42",
                          "3000",       "b",
                          "2.5"};
    cr_assert_eq(cmd.nkeys, 4);
    cr_assert_eq(cmd.argc, 3 + (int)(sizeof want / sizeof want[0]));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(cmd.argv[3 + i], want[i], "argument %zu", i);
    /* bounds: no ops, too many, a key or a lease too long or missing */
    cr_assert_eq(sl__redis_admit_build(&cmd, ops, 0), -1);
    struct sl_redis_op many[SL_REDIS_ADMIT_MAX + 1];
    for (size_t i = 0; i < SL_REDIS_ADMIT_MAX + 1; i++)
        many[i] = window_op("k", 1, MINUTE, 1);
    cr_assert_eq(sl__redis_admit_build(&cmd, many, SL_REDIS_ADMIT_MAX + 1), -1);
    cr_assert_eq(sl__redis_admit_build(&cmd, many, SL_REDIS_ADMIT_MAX), 0, "eight windows fit");
    cr_assert_eq(cmd.nkeys, 2 * SL_REDIS_ADMIT_MAX);
    char long_key[SL_REDIS_KEY_MAX + 2];
    too_long(long_key);
    ops[0].key = long_key;
    cr_assert_eq(sl__redis_admit_build(&cmd, ops, 1), -1);
    long_key[SL_REDIS_KEY_MAX] = '\0';
    cr_assert_eq(sl__redis_admit_build(&cmd, ops, 1), 0, "SL_REDIS_KEY_MAX bytes fit");
    ops[1].lease = NULL;
    cr_assert_eq(sl__redis_admit_build(&cmd, ops + 1, 1), -1);
}

static redisReply int_reply(long long v)
{
    return (redisReply){.type = REDIS_REPLY_INTEGER, .integer = v};
}

Test(redis_limits, the_admit_reply_is_read_or_refused_as_unavailable)
{
    size_t refused = 99;
    uint64_t retry = 0;
    int64_t cells[SL_REDIS_ADMIT_MAX] = {0};
    redisReply e[4] = {int_reply(0), int_reply(17), int_reply(0), int_reply(18)};
    redisReply *el[4] = {&e[0], &e[1], &e[2], &e[3]};
    redisReply taken = {.type = REDIS_REPLY_ARRAY, .elements = 4, .element = el};
    cr_assert_eq(sl__redis_admit_parse(&taken, &refused, &retry, cells), SL_REDIS_TAKEN);
    cr_assert(cells[0] == 17 && cells[1] == 0 && cells[2] == 18);
    e[0] = int_reply(1), e[1] = int_reply(2), e[2] = int_reply(-1);
    redisReply no = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = el};
    cr_assert_eq(sl__redis_admit_parse(&no, &refused, &retry, cells), SL_REDIS_REFUSED);
    cr_assert_eq(refused, 2);
    cr_assert_eq(retry, UINT64_MAX);
    e[2] = int_reply(1500);
    cr_assert_eq(sl__redis_admit_parse(&no, &refused, &retry, cells), SL_REDIS_REFUSED);
    cr_assert_eq(retry, 1500);
    /* anything else is unavailable */
    cr_assert_eq(sl__redis_admit_parse(NULL, &refused, &retry, cells), SL_REDIS_UNAVAILABLE);
    e[1] = int_reply(-3);
    cr_assert_eq(sl__redis_admit_parse(&no, &refused, &retry, cells), SL_REDIS_UNAVAILABLE);
    e[1] = (redisReply){.type = REDIS_REPLY_STRING, .str = "x", .len = 1};
    cr_assert_eq(sl__redis_admit_parse(&no, &refused, &retry, cells), SL_REDIS_UNAVAILABLE);
    redisReply nine[10];
    redisReply *nel[10];
    for (int i = 0; i < 10; i++)
        nine[i] = int_reply(0), nel[i] = &nine[i];
    redisReply too_many = {.type = REDIS_REPLY_ARRAY, .elements = 10, .element = nel};
    cr_assert_eq(sl__redis_admit_parse(&too_many, &refused, &retry, cells), SL_REDIS_UNAVAILABLE);
    redisReply status = {.type = REDIS_REPLY_STATUS, .str = "OK", .len = 2};
    cr_assert_eq(sl__redis_admit_parse(&status, &refused, &retry, cells), SL_REDIS_UNAVAILABLE);
}
