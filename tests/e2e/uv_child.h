/* A libuv server on 127.0.0.1, port 0, in a forked child process: the
 * frame of the end-to-end tests' fake upstreams (stub_server.h,
 * hostile_upstream.h), so that the process under test and the server never
 * share a loop. What the server reads (its options, its scripts) is set in
 * globals before the fork; the child inherits them. */
#ifndef SL_UV_CHILD_H
#define SL_UV_CHILD_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

/* Forks a child that serves every connection with on_connection; returns
 * its pid once it listens, and its port in *port. what names the server
 * in the failure message. */
static inline pid_t uvc_start(uv_connection_cb on_connection, int *port, const char *what)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_IGN);
        uv_loop_t loop;
        uv_tcp_t server;
        struct sockaddr_in addr;
        uv_loop_init(&loop);
        uv_tcp_init(&loop, &server);
        uv_ip4_addr("127.0.0.1", 0, &addr);
        if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
            uv_listen((uv_stream_t *)&server, 1024, on_connection) != 0)
            _exit(3);
        struct sockaddr_in bound;
        int len = sizeof(bound);
        uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
        int bound_port = ntohs(bound.sin_port);
        if (write(fds[1], &bound_port, sizeof(bound_port)) != sizeof(bound_port))
            _exit(3);
        close(fds[1]);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    close(fds[1]);
    *port = 0;
    cr_assert_eq(read(fds[0], port, sizeof(*port)), (ssize_t)sizeof(*port), "%s did not start",
                 what);
    close(fds[0]);
    return pid;
}

/* The size of the first whole request in buf (its head and its
 * Content-Length body), or 0 while it is incomplete; its head's in *head.
 * The fake upstreams read one request at a time from a connection. */
static inline size_t uvc_request_size(char *buf, size_t len, size_t *head)
{
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t body = 0;
    *head = (size_t)(end - buf) + 4;
    for (char *p = buf; p < end; p++)
        if (*p == '\n' && strncasecmp(p + 1, "content-length:", 15) == 0)
            body = strtoul(p + 16, NULL, 10);
    return len < *head + body ? 0 : *head + body;
}

static inline void uvc_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

#endif
