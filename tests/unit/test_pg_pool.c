/* The pool: more callers than connections (waiters served in turn, the
 * overflow used and closed again), the wait timeout honoured, a
 * connection checked after an error (pre-ping), and a broken connection
 * replaced instead of reused. */
#include "pg_support.h"
#include "support.h"
/* The module itself, so that a test can see its idle connections. */
#include "store/pg_pool.c"

TestSuite(pg_pool, .timeout = 30);

#define CALLERS 12

struct caller {
    struct sl_pg_waiter w;
    struct fx *f;
    struct sl_pg_conn *conn;
    int status, done;
    double waited_ms;
    uint64_t t0;
};

struct fx {
    uv_loop_t loop;
    struct sl_pg_params params;
    struct sl_pg_pool *pool;
    struct caller callers[CALLERS];
    unsigned in_use, max_in_use, finished;
    uint64_t queries;
    int pool_closed;
    long long pid_before, pid_after;
};

static void on_pool_closed(void *arg)
{
    struct fx *f = arg;
    f->pool_closed = 1;
}

static void setup_fx_on(struct fx *f, const char *url, unsigned size, unsigned overflow,
                        unsigned wait_ms)
{
    uv_loop_init(&f->loop);
    cr_assert_eq(sl_pg_params_init(&f->params, url, 5000), 0);
    struct sl_pg_pool_options o = {size, overflow, wait_ms};
    f->pool = sl_pg_pool_new(&f->loop, &f->params, &o, &f->queries);
}

static void setup_fx(struct fx *f, unsigned size, unsigned overflow, unsigned wait_ms)
{
    setup_fx_on(f, pgt_admin_url(), size, overflow, wait_ms);
}

/* The first N callers ask the pool for a connection, all at once. */
static void acquire_all(struct fx *f, int n, sl_pg_acquire_cb cb)
{
    for (int i = 0; i < n; i++) {
        struct caller *k = &f->callers[i];
        k->f = f;
        k->w.data = k;
        k->t0 = uv_hrtime();
        sl_pg_pool_acquire(f->pool, &k->w, cb);
    }
}

static void teardown_fx(struct fx *f)
{
    sl_pg_pool_close(f->pool, on_pool_closed, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cr_assert(f->pool_closed);
    sl_pg_params_release(&f->params);
    sl_test_close_loop(&f->loop);
}

/* ---- more callers than connections --------------------------------------- */

static void on_slept(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    (void)res;
    struct caller *k = arg;
    cr_assert_eq(status, 0, "%s", sl_pg_conn_error(c));
    k->f->in_use--;
    k->done = 1;
    k->f->finished++;
    sl_pg_pool_release(k->f->pool, c, 0);
}

static void on_got(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct caller *k = w->data;
    k->status = status;
    k->waited_ms = sl_test_ms_since(k->t0);
    cr_assert_eq(status, 0, "%s", sl_pg_pool_error(k->f->pool));
    struct fx *f = k->f;
    if (++f->in_use > f->max_in_use)
        f->max_in_use = f->in_use;
    sl_pg_conn_query(conn, "SELECT pg_sleep(0.05)", 0, NULL, on_slept, k);
}

Test(pg_pool, more_callers_than_connections_are_served_in_turn)
{
    struct fx f = {0};
    setup_fx(&f, 2, 1, 10000);
    acquire_all(&f, CALLERS, on_got);
    /* idle connections keep watching their sockets: run until all are done */
    while (f.finished < CALLERS)
        uv_run(&f.loop, UV_RUN_ONCE);
    cr_assert_eq(f.finished, CALLERS);
    cr_assert_eq(f.max_in_use, 3, "pool_size 2 + max_overflow 1, got %u at once", f.max_in_use);
    struct sl_pg_pool_stats st;
    sl_pg_pool_stats(f.pool, &st);
    cr_assert_eq(st.opened, 3);
    /* the overflow connection was closed when it came back idle */
    cr_assert_eq(st.idle, 2, "idle %u busy %u connecting %u checking %u", st.idle, st.busy,
                 st.connecting, st.checking);
    cr_assert_eq(st.busy, 0);
    /* the last callers waited for a connection: about 4 rounds of 50 ms */
    cr_assert_gt(f.callers[CALLERS - 1].waited_ms, 100);
    teardown_fx(&f);
}

/* ---- the wait timeout ------------------------------------------------------ */

static void on_hold(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct caller *k = w->data;
    k->done = 1;
    cr_assert_eq(status, 0, "%s", sl_pg_pool_error(k->f->pool));
    k->conn = conn; /* held until the other caller timed out */
}

static void on_wait_result(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    (void)conn;
    struct caller *k = w->data;
    k->status = status;
    k->waited_ms = sl_test_ms_since(k->t0);
    k->done = 1;
    struct caller *holder = &k->f->callers[0];
    sl_pg_pool_release(k->f->pool, holder->conn, 0);
}

Test(pg_pool, a_caller_waits_no_longer_than_the_wait_timeout)
{
    struct fx f = {0};
    /* The holder's connect (ASan, a loaded machine) may take longer than
     * 200 ms: the wait timeout under test is set once it holds the
     * connection. */
    setup_fx(&f, 1, 0, 10000);
    struct caller *holder = &f.callers[0], *late = &f.callers[1];
    holder->f = late->f = &f;
    holder->w.data = holder;
    late->w.data = late;
    sl_pg_pool_acquire(f.pool, &holder->w, on_hold);
    while (!holder->done)
        uv_run(&f.loop, UV_RUN_ONCE);
    cr_assert_not_null(holder->conn, "the holder could not connect");
    struct sl_pg_pool_stats st0;
    sl_pg_pool_stats(f.pool, &st0);
    f.pool->opts.wait_ms = 200;
    late->t0 = uv_hrtime();
    sl_pg_pool_acquire(f.pool, &late->w, on_wait_result);
    while (!late->done)
        uv_run(&f.loop, UV_RUN_ONCE);
    cr_assert(late->done);
    cr_assert_eq(late->status, UV_ETIMEDOUT);
    cr_assert_eq(late->w.connect_failed, 0, "a wait timeout is not a connect failure");
    /* The holder keeps the only connection: the status is the proof that
     * the timeout ended the wait, with no ceiling a loaded machine breaks. */
    cr_assert_geq(late->waited_ms, 190, "gave up after %.0f ms", late->waited_ms);
    cr_assert_not_null(strstr(sl_pg_pool_error(f.pool), "waiting for a free connection"), "%s",
                       sl_pg_pool_error(f.pool));
    struct sl_pg_pool_stats st;
    sl_pg_pool_stats(f.pool, &st);
    cr_assert_eq(st.timeouts, st0.timeouts + 1);
    teardown_fx(&f);
}

/* ---- an unreachable database ---------------------------------------------- */

static void on_refused(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    (void)conn;
    struct caller *k = w->data;
    k->status = status;
    k->done = 1;
    k->waited_ms = sl_test_ms_since(k->t0);
    k->f->finished++;
}

Test(pg_pool, an_unreachable_database_fails_every_waiter_at_once)
{
    struct fx f = {0};
    /* A wait timeout past the suite's 30 s: a waiter left to it would fail
     * the test by its status (ETIMEDOUT), not by a ceiling on the time. */
    setup_fx_on(&f, "postgresql://u:pw@127.0.0.1:1/db", 2, 0, 60000);
    acquire_all(&f, 5, on_refused);
    while (f.finished < 5)
        uv_run(&f.loop, UV_RUN_ONCE);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.callers[i].status, UV_ECONNREFUSED, "caller %d: %d", i, f.callers[i].status);
        cr_assert(f.callers[i].w.connect_failed);
    }
    cr_assert_not_null(strstr(sl_pg_pool_error(f.pool), "Connection refused"), "%s",
                       sl_pg_pool_error(f.pool));
    teardown_fx(&f);
}

/* A Unix socket that does not exist fails inside libpq's first step,
 * before the connect call returns: the pool once retried that in a tight
 * loop that never let the loop turn (and never freed the connections). */
Test(pg_pool, a_connect_that_fails_at_once_fails_each_waiter_once)
{
    struct fx f = {0};
    setup_fx_on(&f, "postgresql:///db?host=/nonexistent-sluice-dir", 2, 2, 10000);
    acquire_all(&f, 5, on_refused);
    for (int turns = 0; f.finished < 5 && turns < 1000; turns++)
        uv_run(&f.loop, UV_RUN_ONCE);
    cr_assert_eq(f.finished, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.callers[i].status, UV_ECONNREFUSED, "caller %d: %d", i, f.callers[i].status);
        cr_assert_lt(f.callers[i].waited_ms, 2000, "caller %d waited %.0f ms", i,
                     f.callers[i].waited_ms);
    }
    cr_assert_not_null(strstr(sl_pg_pool_error(f.pool), "/nonexistent-sluice-dir"), "%s",
                       sl_pg_pool_error(f.pool));
    struct sl_pg_pool_stats st;
    sl_pg_pool_stats(f.pool, &st);
    cr_assert_eq(st.opened + st.connecting + st.idle + st.busy, 0);
    teardown_fx(&f);
}

/* ---- health: pre-ping after an error, replacement of a broken one --------- */

static long long pid_of(struct fx *f, int *status);

struct pid_query {
    struct sl_pg_waiter w;
    struct fx *f;
    long long pid;
    int status, done, had_error;
    const char *sql;
};

static void on_pid(struct sl_pg_conn *c, int status, PGresult *res, void *arg)
{
    struct pid_query *q = arg;
    q->status = status;
    if (status == 0 && res && PQntuples(res) == 1)
        q->pid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    q->done = 1;
    sl_pg_pool_release(q->f->pool, c, status != 0);
}

static void on_pid_conn(struct sl_pg_waiter *w, struct sl_pg_conn *conn, int status)
{
    struct pid_query *q = w->data;
    cr_assert_eq(status, 0, "%s", sl_pg_pool_error(q->f->pool));
    sl_pg_conn_query(conn, q->sql, 0, NULL, on_pid, q);
}

static long long run_query(struct fx *f, const char *sql, int *status)
{
    struct pid_query q = {.f = f, .sql = sql};
    q.w.data = &q;
    sl_pg_pool_acquire(f->pool, &q.w, on_pid_conn);
    while (!q.done)
        uv_run(&f->loop, UV_RUN_ONCE);
    *status = q.status;
    return q.pid;
}

static long long pid_of(struct fx *f, int *status)
{
    return run_query(f, "SELECT pg_backend_pid()", status);
}

Test(pg_pool, a_connection_is_checked_after_an_error)
{
    struct fx f = {0};
    setup_fx(&f, 1, 0, 10000);
    int status;
    long long pid = pid_of(&f, &status);
    cr_assert_eq(status, 0);
    run_query(&f, "SELECT 1/0", &status);
    cr_assert_eq(status, UV_EIO);
    uint64_t before = f.queries;
    long long again = pid_of(&f, &status);
    cr_assert_eq(status, 0);
    cr_assert_eq(again, pid, "a healthy connection is kept");
    cr_assert_eq(f.queries - before, 2, "expected the check and the query, got %llu statements",
                 (unsigned long long)(f.queries - before));
    teardown_fx(&f);
}

/* Runs the loop until every idle connection of the pool saw its server
 * leave (at most 10 s). */
static void wait_idle_broken(struct fx *f)
{
    uint64_t t0 = uv_hrtime();
    for (;;) {
        int ok = 0;
        for (struct sl_list *i = f->pool->idle.next; i != &f->pool->idle; i = i->next)
            ok += sl_pg_conn_ok(sl_container_of(i, struct sl_pg_conn, node));
        if (ok == 0)
            return;
        cr_assert_lt(sl_test_ms_since(t0), 10000, "the idle connection never saw its server leave");
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

Test(pg_pool, a_broken_connection_is_replaced_not_reused)
{
    struct fx f = {0};
    setup_fx(&f, 1, 0, 10000);
    int status;
    long long pid = pid_of(&f, &status);
    cr_assert_eq(status, 0);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)::int", pid);
    cr_assert_eq(pgt_int(pgt_admin_url(), sql), 1);
    wait_idle_broken(&f); /* the idle connection sees its server leave */
    long long again = pid_of(&f, &status);
    cr_assert_eq(status, 0);
    cr_assert_neq(again, pid);
    struct sl_pg_pool_stats st;
    sl_pg_pool_stats(f.pool, &st);
    cr_assert_eq(st.opened, 2);
    cr_assert_eq(st.replaced, 1);

    /* broken while in use: the failure is reported, the next caller gets a
     * new connection */
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)::int", again);
    cr_assert_eq(pgt_int(pgt_admin_url(), sql), 1);
    run_query(&f, "SELECT pg_backend_pid()", &status); /* no wait: may race the EOF */
    long long third = pid_of(&f, &status);
    cr_assert_eq(status, 0);
    cr_assert_neq(third, again);
    sl_pg_pool_stats(f.pool, &st);
    cr_assert_eq(st.opened, 3);
    cr_assert_eq(st.replaced, 2);
    teardown_fx(&f);
}
