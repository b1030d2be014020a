/* The Redis link: connecting, a password, a database, going down and
 * coming back, a silent server; against real redis-server processes the
 * test starts (and kills) on free loopback ports. */
#include "redis_fixture.h"

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
    take(&f, "k", 5, 60000000, 1);
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

Test(redis_link, a_flushed_script_is_loaded_again)
{
    struct fx f;
    int port;
    pid_t redis = redis_up(&f, NULL, "", &port);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d SCRIPT FLUSH >/dev/null", port);
    cr_assert_eq(system(cmd), 0);
    take(&f, "k", 5, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_UNAVAILABLE, "NOSCRIPT");
    cr_assert_not_null(strstr(sl_redis_link_why(f.link), "NOSCRIPT"), "%s",
                       sl_redis_link_why(f.link));
    RUN_UNTIL(&f, f.ups == 2); /* reconnected, the script loaded again */
    take(&f, "k", 5, 60000000, 1);
    cr_assert_eq(f.last, SL_REDIS_TAKEN);
    close_link(&f);
    stop_redis(redis);
}
