/* The far end of a test on a raw socket: a listener on 127.0.0.1 whose
 * requests the test accepts, reads whole and answers itself, byte for
 * byte (an upstream that shows what serve sent, a trace collector). */
#ifndef SL_TEST_RAW_PEER_H
#define SL_TEST_RAW_PEER_H

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../blocking_http.h"

/* The test's upstream: a listening socket on 127.0.0.1. */
static inline int up_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one request (head and Content-Length body) within timeout_ms:
 * the connection, or -1 when none came. */
static inline int up_accept(int lfd, char *req, size_t size, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    int fd = accept(lfd, NULL, NULL);
    size_t len = 0;
    for (;;) {
        ssize_t got = recv(fd, req + len, size - len - 1, 0);
        cr_assert_gt(got, 0, "the gateway closed before its request was whole");
        len += (size_t)got;
        req[len] = '\0';
        char *end = strstr(req, "\r\n\r\n");
        const char *cl = strcasestr(req, "\r\ncontent-length:");
        if (end && cl && len >= (size_t)(end + 4 - req) + (size_t)atol(cl + 17))
            return fd;
    }
}

/* Answers on fd and closes it (Connection: close: the next request comes
 * on a new connection). */
static inline void up_answer(int fd, const char *status_and_headers, const char *body)
{
    char out[16384];
    snprintf(out, sizeof(out), "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
             status_and_headers, strlen(body), body);
    bh_send(fd, out);
    close(fd);
}

#endif
