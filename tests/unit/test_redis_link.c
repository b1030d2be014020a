/* The Redis link and the shared sliding window, against real redis-server
 * processes the test starts (and kills) on free loopback ports. */
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

#include "limits/redis_link.h"
#include "support.h"

/* A free port on 127.0.0.1 (bound and released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts redis-server on port (no persistence) and waits until it accepts. */
static pid_t start_redis(int port, const char *password)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const char *argv[] = {
            "redis-server", "--port",     p,         "--bind",
            "127.0.0.1",    "--save",     "",        "--appendonly",
            "no",           "--loglevel", "warning", password ? "--requirepass" : NULL,
            password,       NULL};
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execvp("redis-server", (char **)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && !accepts(port); i++)
        usleep(10000);
    cr_assert(accepts(port), "redis-server did not start on %d (is it installed?)", port);
    return pid;
}

static void stop_redis(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

struct fx {
    uv_loop_t loop;
    struct sl_redis_link *link;
    int ups, downs, closed;
    int answers;
    enum sl_redis_result last;
    int64_t cell;
    uint64_t retry;
    int returned; /* set after a call returns: an answer before it is a bug */
};

static void on_change(void *arg, int up, const char *why)
{
    struct fx *f = arg;
    (void)why;
    if (up)
        f->ups++;
    else
        f->downs++;
}

static void on_answer(void *arg, enum sl_redis_result result, int64_t cell, uint64_t retry)
{
    struct fx *f = arg;
    cr_assert(f->returned, "answered before the call returned");
    f->answers++;
    f->last = result;
    f->cell = cell;
    f->retry = retry;
}

static void on_closed(void *arg)
{
    ((struct fx *)arg)->closed = 1;
}

static void open_link(struct fx *f, const char *url)
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

static void take(struct fx *f, const char *key, uint64_t limit, uint64_t window_us, uint64_t units)
{
    int before = f->answers;
    f->returned = 0;
    sl_redis_window_take(f->link, key, limit, window_us, units, on_answer, f);
    f->returned = 1;
    RUN_UNTIL(f, f->answers > before);
}

static void close_link(struct fx *f)
{
    sl_redis_link_close(f->link, on_closed, f);
    sl_test_close_loop(&f->loop);
    cr_assert(f->closed);
}

/* A fresh redis-server (with a password, or none) and a link to it that is
 * up; path is the URL's tail ("/2" for database 2, or ""); its port in
 * *port_out unless NULL. */
static pid_t redis_up(struct fx *f, const char *password, const char *path, int *port_out)
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

Test(redis_link, the_shared_window_takes_refuses_and_frees)
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

Test(redis_link, a_password_is_sent_and_a_wrong_one_keeps_it_down)
{
    struct fx f;
    int port;
    pid_t redis = redis_up(&f, "s3cret", "", &port);
    char url[96];
    take(&f, "k", 1, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    close_link(&f);
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", port);
    open_link(&f, url);
    RUN_UNTIL(&f, strstr(sl_redis_link_why(f.link), "WRONGPASS") ||
                      strstr(sl_redis_link_why(f.link), "invalid"));
    cr_assert(!sl_redis_link_up(f.link));
    take(&f, "k", 1, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_link, down_answers_unavailable_at_once_and_recovers)
{
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    struct fx f;
    open_link(&f, url); /* nothing listens yet */
    RUN_UNTIL(&f, sl_redis_link_why(f.link)[0]);
    take(&f, "k", 5, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    pid_t redis = start_redis(port, NULL);
    RUN_UNTIL(&f, sl_redis_link_up(f.link)); /* the backoff retries */
    cr_assert_eq(f.ups, 1);
    take(&f, "k", 5, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    stop_redis(redis); /* killed while up */
    RUN_UNTIL(&f, f.downs == 1);
    take(&f, "k", 5, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    redis = start_redis(port, NULL); /* a restart: empty, so the window starts over */
    RUN_UNTIL(&f, f.ups == 2);
    take(&f, "k", 5, 60000000, 5);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_link, a_silent_server_times_out)
{
    struct fx f;
    pid_t redis = redis_up(&f, NULL, "", NULL);
    kill(redis, SIGSTOP); /* alive, connected, silent */
    int before = f.answers;
    f.returned = 0;
    sl_redis_window_take(f.link, "k", 5, 60000000, 1, on_answer, &f);
    f.returned = 1;
    RUN_UNTIL(&f, f.answers > before);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE);
    cr_assert_eq(f.downs, 1);
    cr_assert_not_null(strstr(sl_redis_link_why(f.link), "timed out"), "%s",
                       sl_redis_link_why(f.link));
    kill(redis, SIGCONT);
    RUN_UNTIL(&f, f.ups == 2);
    close_link(&f);
    stop_redis(redis);
}

Test(redis_link, bad_urls_are_refused_with_a_reason)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_redis_link *link;
    char err[256];
    const char *bad[] = {"http://x",        "redis://",    "redis://h:0",
                         "redis://h:99999", "redis://h/x", "redis://h:12ab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_redis_link_options o = {.url = bad[i]};
        err[0] = '\0';
        cr_assert_eq(sl_redis_link_new(&loop, &o, &link, err, sizeof err), -1, "%s", bad[i]);
        cr_assert(err[0] && !strchr(err, '\n'), "%s: '%s'", bad[i], err);
    }
    sl_test_close_loop(&loop);
}
