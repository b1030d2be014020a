/* A tiny blocking HTTP/1.1 client for tests: connect to 127.0.0.1, send
 * bytes, read one whole response (Content-Length or chunked). Used from a
 * test's client thread or from a test process talking to a child. */
#ifndef SL_TEST_BLOCKING_HTTP_H
#define SL_TEST_BLOCKING_HTTP_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static inline int bh_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect to %d", port);
    return fd;
}

static inline void bh_send(int fd, const char *s)
{
    size_t n = strlen(s);
    cr_assert_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one whole response into out; returns its status, or -1 when the
 * connection closed (or reset) before any byte. */
static inline int bh_read_response(int fd, char *out, size_t size)
{
    size_t len = 0;
    for (;;) {
        out[len] = '\0';
        char *end = strstr(out, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - out);
            const char *cl = strcasestr(out, "content-length:");
            if (cl && cl < end) {
                if (len >= head + strtoul(cl + 15, NULL, 10))
                    break;
            } else if (strstr(end, "\r\n0\r\n\r\n") || strncmp(end + 4, "0\r\n\r\n", 5) == 0) {
                break;
            }
        }
        ssize_t got = recv(fd, out + len, size - len - 1, 0);
        if (got <= 0)
            return len ? atoi(out + 9) : -1;
        len += (size_t)got;
    }
    return atoi(out + 9);
}

/* One request on a fresh connection, with extra header lines (each ending
 * in CRLF, or NULL); returns the status, the response in out. */
static inline int bh_request_with(int port, const char *method, const char *path,
                                  const char *headers, const char *body, char *out, size_t size)
{
    char req[16384];
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             method, path, headers ? headers : "", body ? strlen(body) : 0, body ? body : "");
    int fd = bh_dial(port);
    bh_send(fd, req);
    int status = bh_read_response(fd, out, size);
    close(fd);
    return status;
}

/* One request on a fresh connection; returns the status, response in out. */
static inline int bh_request(int port, const char *method, const char *path, const char *body,
                             char *out, size_t size)
{
    return bh_request_with(port, method, path, "Content-Type: application/json\r\n", body, out,
                           size);
}

/* One chat request on a thread of its own:
 * pthread_create(&t, NULL, bh_call_thread, &call), then read call after
 * pthread_join. */
struct bh_call {
    int port;
    const char *body; /* POSTed to /v1/chat/completions */
    int status;
    int retry_after; /* the response had a Retry-After header */
};

static inline void *bh_call_thread(void *arg)
{
    struct bh_call *c = arg;
    char local[16384];
    c->status = bh_request(c->port, "POST", "/v1/chat/completions", c->body, local, sizeof(local));
    c->retry_after = strcasestr(local, "\r\nRetry-After:") != NULL;
    return NULL;
}

#endif
