/* The fixture of the Redis tests, written once: real redis-server
 * processes started (and killed) on free loopback ports, a loop with a
 * link on it, and struct fx, what the calls answered. */
#ifndef SL_TEST_REDIS_FIXTURE_H
#define SL_TEST_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../redis_support.h"
#include "../support.h"
#include "limits/redis_limits.h"

struct fx {
    uv_loop_t loop;
    struct sl_redis_link *link;
    int ups, downs, closed;
    int answers;
    enum sl_redis_result last;
    int64_t cell, cells[SL_REDIS_ADMIT_MAX];
    size_t refused;
    uint64_t retry;
    double value;
    int returned; /* set after a call returns: an answer before it is a bug */
};

static inline void on_change(void *arg, int up, const char *why)
{
    struct fx *f = arg;
    (void)why;
    if (up)
        f->ups++;
    else
        f->downs++;
}

static inline void on_admit(void *arg, enum sl_redis_result result, size_t refused, uint64_t retry,
                            const int64_t *cells)
{
    struct fx *f = arg;
    cr_assert(f->returned, "answered before the call returned");
    f->answers++;
    f->last = result;
    f->refused = refused;
    f->retry = retry;
    memcpy(f->cells, cells, sizeof f->cells);
    f->cell = cells[0];
}

static inline void on_value(void *arg, enum sl_redis_result result, double value)
{
    struct fx *f = arg;
    cr_assert(f->returned, "answered before the call returned");
    f->answers++;
    f->last = result;
    f->value = value;
}

static inline void on_closed(void *arg)
{
    ((struct fx *)arg)->closed = 1;
}

static inline void open_link(struct fx *f, const char *url)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    char err[256];
    struct sl_redis_link_options o = {
        .url = url, .timeout_ms = 200, .on_change = on_change, .arg = f};
    cr_assert_eq(sl_redis_link_new(&f->loop, &o, &f->link, err, sizeof err), 0, "%s", err);
}

/* Runs the loop until cond or about 5 s. */
#define RUN_UNTIL(f, cond)                                                                         \
    do {                                                                                           \
        for (int i_ = 0; i_ < 5000 && !(cond); i_++) {                                             \
            uv_run(&(f)->loop, UV_RUN_NOWAIT);                                                     \
            if (!(cond))                                                                           \
                usleep(1000);                                                                      \
        }                                                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

/* Runs one call (a statement using f) and waits for its answer. */
#define CALL(f, stmt)                                                                              \
    do {                                                                                           \
        int before_ = (f)->answers;                                                                \
        (f)->returned = 0;                                                                         \
        stmt;                                                                                      \
        (f)->returned = 1;                                                                         \
        RUN_UNTIL(f, (f)->answers > before_);                                                      \
    } while (0)

static inline void admit(struct fx *f, const struct sl_redis_op *ops, size_t n)
{
    CALL(f, sl_redis_admit(f->link, ops, n, on_admit, f));
}

/* One sliding-window op. */
static inline void take(struct fx *f, const char *key, uint64_t limit, uint64_t window_us,
                        uint64_t units)
{
    struct sl_redis_op op = {.kind = SL_REDIS_WINDOW,
                             .key = key,
                             .limit = limit,
                             .window_us = window_us,
                             .units = units};
    admit(f, &op, 1);
}

static inline void close_link(struct fx *f)
{
    sl_redis_link_close(f->link, on_closed, f);
    sl_test_close_loop(&f->loop);
    cr_assert(f->closed);
}

/* A fresh redis-server (with a password, or none) and a link to it that is
 * up; path is the URL's tail ("/2" for database 2, or ""); its port in
 * *port_out unless NULL. */
static inline pid_t redis_up(struct fx *f, const char *password, const char *path, int *port_out)
{
    int port = free_port();
    if (port_out)
        *port_out = port;
    pid_t redis = start_redis(port, password);
    char url[128];
    snprintf(url, sizeof url, "redis://%s%s%s127.0.0.1:%d%s", password ? ":" : "",
             password ? password : "", password ? "@" : "", port, path);
    open_link(f, url);
    RUN_UNTIL(f, sl_redis_link_up(f->link));
    return redis;
}

#endif
