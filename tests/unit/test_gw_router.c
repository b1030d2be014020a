#include <string.h>

#include "gateway/router.h"
#include "support.h"

static struct sl_gw_deployment deps[3];
static struct sl_gw_model model;
static struct sl_gw_config cfg;

static void setup(void)
{
    sl_gw_config_init(&cfg);
    memset(deps, 0, sizeof(deps));
    for (int i = 0; i < 3; i++) {
        deps[i].weight = i == 0 ? 3 : 1;
        deps[i].max_concurrency = 2;
        deps[i].queue_length = 2;
        deps[i].queue_timeout_ms = 30;
        deps[i].cooldown_failures = 2;
        deps[i].cooldown_ms = 1000;
    }
    strcpy(model.name, "m");
    model.deployments = deps;
    model.ndeployments = 3;
    cfg.models = &model;
    cfg.nmodels = 1;
}

TestSuite(gw_router, .init = setup);

Test(gw_router, weighted_pick_follows_weights)
{
    struct sl_gw_router r;
    cr_assert_eq(sl_gw_router_init(&r, &cfg, 42), 0);
    int count[3] = {0};
    for (int i = 0; i < 50000; i++) {
        int k = sl_gw_router_pick(&r, &model, 0, 0);
        cr_assert(k >= 0 && k < 3);
        count[k]++;
    }
    /* weights 3:1:1 -> 60% / 20% / 20% */
    cr_assert(count[0] > 29000 && count[0] < 31000, "%d", count[0]);
    cr_assert(count[1] > 9000 && count[1] < 11000, "%d", count[1]);
    sl_gw_router_release_all(&r);
}

Test(gw_router, tried_deployments_are_skipped_then_none_left)
{
    struct sl_gw_router r;
    sl_gw_router_init(&r, &cfg, 1);
    for (int i = 0; i < 1000; i++) {
        int k = sl_gw_router_pick(&r, &model, 1u << 0, 0);
        cr_assert(k == 1 || k == 2);
    }
    cr_assert_eq(sl_gw_router_pick(&r, &model, 0x7, 0), -1);
    sl_gw_router_release_all(&r);
}

Test(gw_router, repeated_failures_cool_a_deployment_down)
{
    struct sl_gw_router r;
    sl_gw_router_init(&r, &cfg, 7);
    struct sl_gw_dep *d = sl_gw_router_deps(&r, &model);
    cr_assert_eq(sl_gw_report(&d[0], 0, 100), 0);
    cr_assert_eq(sl_gw_report(&d[0], 0, 100), 1, "second failure in a row starts a cool-down");
    for (int i = 0; i < 1000; i++)
        cr_assert_neq(sl_gw_router_pick(&r, &model, 0, 500), 0);
    /* after the cool-down it is picked again */
    int seen = 0;
    for (int i = 0; i < 1000; i++)
        seen += sl_gw_router_pick(&r, &model, 0, 1200) == 0;
    cr_assert_gt(seen, 400);
    /* a success resets the run of failures */
    sl_gw_report(&d[1], 0, 0);
    sl_gw_report(&d[1], 1, 0);
    cr_assert_eq(sl_gw_report(&d[1], 0, 0), 0);
    /* when every candidate is cooling down, the soonest back is used */
    d[1].cooldown_until_ms = 5000;
    d[2].cooldown_until_ms = 3000;
    d[0].cooldown_until_ms = 4000;
    cr_assert_eq(sl_gw_router_pick(&r, &model, 0, 0), 2);
    sl_gw_router_release_all(&r);
}

static int granted, timed_out;
static void on_admit(struct sl_sem_waiter *w, int status)
{
    (void)w;
    if (status == 0)
        granted++;
    else if (status == UV_ETIMEDOUT)
        timed_out++;
}

Test(gw_router, admission_bounds_the_queue_and_times_out)
{
    struct sl_gw_router r;
    sl_gw_router_init(&r, &cfg, 1);
    struct sl_gw_dep *d = sl_gw_router_deps(&r, &model);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_sem_timed_waiter w[5];
    for (int i = 0; i < 5; i++)
        sl_sem_timed_init(&loop, &w[i]);
    cr_assert_eq(sl_gw_admit(&d[0], &w[0], on_admit), 0);
    cr_assert_eq(sl_gw_admit(&d[0], &w[1], on_admit), 0);
    cr_assert_eq(sl_gw_admit(&d[0], &w[2], on_admit), 1);
    cr_assert_eq(sl_gw_admit(&d[0], &w[3], on_admit), 1);
    cr_assert_eq(sl_gw_admit(&d[0], &w[4], on_admit), UV_EBUSY, "queue of 2 is full");
    sl_gw_release(&d[0]); /* hands a permit to w[2] */
    cr_assert_eq(granted, 1);
    uv_run(&loop, UV_RUN_DEFAULT); /* w[3] waits past 30 ms */
    cr_assert_eq(timed_out, 1);
    cr_assert_eq(d[0].sem.queued, 0);
    sl_gw_release(&d[0]);
    sl_gw_release(&d[0]);
    cr_assert_eq(d[0].sem.available, 2);
    for (int i = 0; i < 5; i++)
        sl_sem_timed_close(&w[i], NULL);
    sl_test_close_loop(&loop);
    sl_gw_router_release_all(&r);
}
