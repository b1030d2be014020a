/* A real redis-server for the tests, unit and end to end: started on a
 * free loopback port without persistence, killed with SIGKILL (as a crash
 * would), and started again on the same port. The server never outlives
 * the test process that started it (PR_SET_PDEATHSIG). */
#ifndef SL_TEST_REDIS_SUPPORT_H
#define SL_TEST_REDIS_SUPPORT_H

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

/* A free port on 127.0.0.1 (bound and released). */
static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static inline int accepts(int port)
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
static inline pid_t start_redis(int port, const char *password)
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

static inline void stop_redis(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

#endif
