/* Deadlines on one timer (core/deadlines.h), on a real loop: never early,
 * in order, stopped ones never fire, far ones come back from `later`, and
 * an empty set keeps no loop alive. */
#include "../support.h"
#include "core/deadlines.h"

struct probe {
    struct sl_deadline d;
    uint64_t t0;
    double fired_ms;
    int calls;
    int order;
};

static int fired_count;

static void on_fire(struct sl_deadline *d)
{
    struct probe *p = sl_container_of(d, struct probe, d);
    p->calls++;
    p->fired_ms = sl_test_ms_since(p->t0);
    p->order = ++fired_count;
}

static void start(struct sl_deadlines *set, struct probe *p, uint64_t ms)
{
    p->t0 = uv_hrtime();
    sl_deadline_start(set, &p->d, ms, on_fire);
}

/* A loop with a set of 1 ms ticks, counting from now. */
static void open_set(uv_loop_t *loop, struct sl_deadlines *set)
{
    cr_assert_eq(uv_loop_init(loop), 0);
    cr_assert_eq(sl_deadlines_init(loop, set, 1), 0);
    fired_count = 0;
    uv_update_time(loop);
}

static void close_set(uv_loop_t *loop, struct sl_deadlines *set)
{
    sl_deadlines_close(set, NULL, NULL);
    sl_test_close_loop(loop);
}

Test(deadlines, fire_in_order_never_early_and_free_the_loop)
{
    uv_loop_t loop;
    struct sl_deadlines set;
    open_set(&loop, &set);
    struct probe p[4] = {0};
    uint64_t ms[4] = {30, 5, 0, 12};
    for (int i = 0; i < 4; i++) {
        sl_deadline_init(&p[i].d);
        start(&set, &p[i], ms[i]);
    }
    cr_assert_eq(set.count, 4);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns only once nothing is armed */
    int want_order[4] = {4, 2, 1, 3};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(p[i].calls, 1, "deadline %d fired %d times", i, p[i].calls);
        cr_assert_eq(p[i].order, want_order[i], "deadline %d fired %d-th", i, p[i].order);
        /* uv_now is whole milliseconds: at most one early, as a uv timer */
        cr_assert_geq(p[i].fired_ms, (double)ms[i] - 1.0, "deadline %d of %d ms fired at %.2f ms",
                      i, (int)ms[i], p[i].fired_ms);
    }
    cr_assert_eq(set.count, 0);
    cr_assert_eq(set.stats.fired, 4);
    close_set(&loop, &set);
}

Test(deadlines, a_stopped_or_moved_deadline_fires_once_at_its_new_time)
{
    uv_loop_t loop;
    struct sl_deadlines set;
    open_set(&loop, &set);
    struct probe stopped = {0}, moved = {0}, kept = {0};
    start(&set, &stopped, 5);
    start(&set, &moved, 5);
    start(&set, &kept, 10);
    sl_deadline_stop(&stopped.d);
    sl_deadline_stop(&stopped.d); /* a second stop is nothing */
    cr_assert_not(sl_deadline_armed(&stopped.d));
    start(&set, &moved, 25); /* moved later: not at 5 ms */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(stopped.calls, 0);
    cr_assert_eq(kept.calls, 1);
    cr_assert_eq(moved.calls, 1);
    cr_assert_eq(kept.order, 1);
    cr_assert_geq(moved.fired_ms, 24.0, "moved deadline fired at %.2f ms", moved.fired_ms);
    close_set(&loop, &set);
}

/* Past the wheel's reach (SL_DEADLINE_SLOTS ticks), a deadline waits on
 * `later` and must still fire on time, after the near ones. */
Test(deadlines, far_deadlines_come_back_into_the_wheel)
{
    uv_loop_t loop;
    struct sl_deadlines set;
    open_set(&loop, &set);
    struct probe near = {0}, far = {0}, farther = {0}, gone = {0};
    start(&set, &farther, SL_DEADLINE_SLOTS + 300);
    start(&set, &far, SL_DEADLINE_SLOTS + 40);
    start(&set, &gone, SL_DEADLINE_SLOTS + 10);
    start(&set, &near, 3);
    sl_deadline_stop(&gone.d); /* leaves a stale lower bound on `later` */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(near.order, 1);
    cr_assert_eq(far.order, 2);
    cr_assert_eq(farther.order, 3);
    cr_assert_eq(gone.calls, 0);
    cr_assert_geq(far.fired_ms, SL_DEADLINE_SLOTS + 39.0, "fired at %.2f ms", far.fired_ms);
    cr_assert_geq(farther.fired_ms, SL_DEADLINE_SLOTS + 299.0, "fired at %.2f ms",
                  farther.fired_ms);
    close_set(&loop, &set);
}

/* A callback may start deadlines (its own included) and stop others due in
 * the same tick. */
static struct probe chain[3];
static int rearms;

static void on_chain(struct sl_deadline *d)
{
    struct probe *p = sl_container_of(d, struct probe, d);
    p->calls++;
    if (p == &chain[0]) {
        sl_deadline_stop(&chain[1].d); /* due in the same tick: must not fire */
        if (++rearms < 3)
            sl_deadline_start(d->set, d, 0, on_chain); /* itself, at once */
    }
}

Test(deadlines, callbacks_may_start_and_stop_deadlines)
{
    uv_loop_t loop;
    struct sl_deadlines set;
    open_set(&loop, &set);
    rearms = 0;
    for (int i = 0; i < 3; i++) {
        chain[i] = (struct probe){0};
        sl_deadline_start(&set, &chain[i].d, i == 2 ? 20 : 2, on_chain);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(chain[0].calls, 3, "re-armed twice from its own callback");
    cr_assert_eq(chain[1].calls, 0);
    cr_assert_eq(chain[2].calls, 1);
    cr_assert_eq(set.count, 0);
    close_set(&loop, &set);
}

/* Many deadlines, one timer: the timer is started far fewer times than
 * deadlines are set, which is what the set is for. */
Test(deadlines, many_deadlines_share_one_timer)
{
    uv_loop_t loop;
    struct sl_deadlines set;
    open_set(&loop, &set);
    enum { N = 1000 };
    static struct probe p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (struct probe){0};
        start(&set, &p[i], 60000); /* a keep-alive connection's idle timeout */
    }
    for (int round = 0; round < 10; round++) /* each request moves it */
        for (int i = 0; i < N; i++)
            start(&set, &p[i], 60000 + (uint64_t)round);
    cr_assert_eq(set.count, N);
    cr_assert_leq(set.stats.timer_starts, 2, "timer started %llu times",
                  (unsigned long long)set.stats.timer_starts);
    for (int i = 0; i < N; i++)
        sl_deadline_stop(&p[i].d);
    cr_assert_eq(set.count, 0);
    cr_assert_not(uv_is_active((uv_handle_t *)&set.timer), "an empty set stops its timer");
    close_set(&loop, &set);
}
