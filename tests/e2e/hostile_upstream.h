/* A scripted, hostile upstream for end-to-end tests of `sluice serve`: raw
 * libuv on 127.0.0.1 in a forked child process. Each upstream request runs
 * a script of steps (script N when its body contains "hu_case":N, which the
 * gateway passes through, so a retry runs the same script; else scripts in
 * arrival order, the last repeating): send
 * bytes (anything: bad status lines, endless headers, wrong lengths), send
 * bytes many times (huge bodies, endless lines, with backpressure: the next
 * copy goes when the last was taken), sleep, wait for the test's go, close
 * or reset the connection. A script that ends without closing leaves the
 * connection open and idle for the next request.
 *
 * Control (not scripted, not counted): GET /hu/go releases every script
 * waiting at HU_WAIT_GO(n) once it is the n-th go; GET /hu/stats answers
 * {"requests","waiting","gone","eof","gos"}: requests served, scripts
 * waiting for a go, requests whose client (the gateway) went away before
 * their script ended, connections the gateway closed, gos so far.
 * The ordering of two events is then set by the test, never by a sleep. */
#ifndef SL_HOSTILE_UPSTREAM_H
#define SL_HOSTILE_UPSTREAM_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "../blocking_http.h"
#include "uv_child.h"

enum hu_op {
    HU_END = 0,
    HU_SEND,
    HU_REPEAT,
    HU_WAIT_GO,
    HU_SLEEP,
    HU_CLOSE,
    HU_RESET,
    HU_SEND_BYTES
};

struct hu_step {
    enum hu_op op;
    const char *data;
    unsigned long n; /* HU_REPEAT: copies; HU_SLEEP: ms; HU_WAIT_GO: the go to wait for;
                        HU_SEND_BYTES: the length (binary data, NULs included) */
};

#define HU_MAX_STEPS 16
struct hu_script {
    const char *name;
    struct hu_step steps[HU_MAX_STEPS];
};

#define HU_S(text)                                                                                 \
    {                                                                                              \
        HU_SEND, text, 0                                                                           \
    }
#define HU_B(data, len)                                                                            \
    {                                                                                              \
        HU_SEND_BYTES, data, len                                                                   \
    }
#define HU_REP(text, n)                                                                            \
    {                                                                                              \
        HU_REPEAT, text, n                                                                         \
    }
#define HU_GO(n)                                                                                   \
    {                                                                                              \
        HU_WAIT_GO, NULL, n                                                                        \
    }
#define HU_SLEEP_MS(ms)                                                                            \
    {                                                                                              \
        HU_SLEEP, NULL, ms                                                                         \
    }
#define HU_CLOSE_CONN                                                                              \
    {                                                                                              \
        HU_CLOSE, NULL, 0                                                                          \
    }
#define HU_KEEP_OPEN                                                                               \
    {                                                                                              \
        HU_END, NULL, 0                                                                            \
    } /* the response is over; the connection stays */
#define HU_RESET_CONN                                                                              \
    {                                                                                              \
        HU_RESET, NULL, 0                                                                          \
    }
#define HU_SSE_HEAD                                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
#define HU_SSE_HEAD_CHUNKED                                                                        \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
#define HU_EVENT "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
#define HU_DONE  "data: [DONE]\n\n"
#define HU_JSON_OK                                                                                 \
    "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{"         \
    "\"role\":"                                                                                    \
    "\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":" \
    "3,\"completion_tokens\":1,\"total_tokens\":4}}"

struct hu_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    char buf[65536];
    size_t len;
    const struct hu_step *step;
    unsigned long rep;
    int closing, waiting;
};

static const struct hu_script *hu_scripts;
static int hu_nscripts;
static unsigned long hu_requests, hu_gone, hu_gos, hu_eof;
static struct hu_conn *hu_waiters[256];
static int hu_nwaiting;

static void hu_free(uv_handle_t *h)
{
    struct hu_conn *c = h->data;
    if (--c->closing == 0)
        free(c);
}

static void hu_unwait(struct hu_conn *c)
{
    for (int i = 0; i < hu_nwaiting; i++)
        if (hu_waiters[i] == c) {
            hu_waiters[i] = hu_waiters[--hu_nwaiting];
            break;
        }
    c->waiting = 0;
}

static void hu_close(struct hu_conn *c, int reset)
{
    if (c->closing)
        return;
    hu_unwait(c);
    c->closing = 2;
    uv_close((uv_handle_t *)&c->timer, hu_free);
    if (!reset || uv_tcp_close_reset(&c->tcp, hu_free) != 0)
        uv_close((uv_handle_t *)&c->tcp, hu_free);
}

static void hu_run(struct hu_conn *c);
static void hu_process(struct hu_conn *c);

struct hu_write {
    uv_write_t req;
    struct hu_conn *conn;
    char data[];
};

static void hu_written(uv_write_t *req, int status)
{
    struct hu_write *w = (struct hu_write *)req;
    struct hu_conn *c = w->conn;
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        if (c->step)
            hu_gone++;
        hu_close(c, 0);
        return;
    }
    hu_run(c);
}

/* Writes `copies` copies of text (n bytes); the script goes on when they
 * are taken. */
static void hu_write(struct hu_conn *c, const char *text, size_t n, size_t copies)
{
    struct hu_write *w = malloc(sizeof(*w) + n * copies + 1);
    for (size_t i = 0; i < copies; i++)
        memcpy(w->data + i * n, text, n);
    w->conn = c;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(n * copies));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, hu_written) != 0) {
        free(w);
        hu_close(c, 0);
    }
}

static void hu_wake(uv_timer_t *t)
{
    hu_run(t->data);
}

static void hu_run(struct hu_conn *c)
{
    while (c->step && !c->closing) {
        const struct hu_step *s = c->step;
        switch (s->op) {
        case HU_SEND:
            c->step++;
            hu_write(c, s->data, strlen(s->data), 1);
            return;
        case HU_SEND_BYTES:
            c->step++;
            hu_write(c, s->data, s->n, 1);
            return;
        case HU_REPEAT: {
            if (c->rep >= s->n) {
                c->rep = 0;
                c->step++;
                continue;
            }
            size_t len = strlen(s->data), batch = len ? 65536 / len + 1 : 1;
            if (batch > s->n - c->rep)
                batch = s->n - c->rep;
            c->rep += batch;
            hu_write(c, s->data, len, batch);
            return;
        }
        case HU_WAIT_GO:
            if (hu_gos < s->n) {
                if (!c->waiting && hu_nwaiting < 256) {
                    c->waiting = 1;
                    hu_waiters[hu_nwaiting++] = c;
                }
                return;
            }
            c->step++;
            continue;
        case HU_SLEEP:
            c->step++;
            uv_timer_start(&c->timer, hu_wake, s->n, 0);
            return;
        case HU_CLOSE:
        case HU_RESET:
            c->step = NULL;
            hu_close(c, s->op == HU_RESET);
            return;
        case HU_END:
            c->step = NULL;
            hu_process(c);
            return;
        }
    }
}

static void hu_control(struct hu_conn *c, const char *path)
{
    char body[160], resp[320];
    if (strncmp(path, "/hu/go ", 7) == 0) {
        hu_gos++;
        struct hu_conn *wake[256];
        int n = hu_nwaiting;
        memcpy(wake, hu_waiters, sizeof(*wake) * (size_t)n);
        hu_nwaiting = 0;
        for (int i = 0; i < n; i++) {
            wake[i]->waiting = 0;
            hu_run(wake[i]);
        }
    }
    snprintf(body, sizeof(body),
             "{\"requests\":%lu,\"waiting\":%d,\"gone\":%lu,\"eof\":%lu,\"gos\":%lu}", hu_requests,
             hu_nwaiting, hu_gone, hu_eof, hu_gos);
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(body), body);
    static const struct hu_step close_after[] = {HU_CLOSE_CONN};
    c->step = close_after;
    hu_write(c, resp, strlen(resp), 1);
}

/* Takes the next whole request out of the buffer and starts its script. */
static void hu_process(struct hu_conn *c)
{
    if (c->step || c->closing)
        return;
    size_t head, size = uvc_request_size(c->buf, c->len, &head);
    if (size == 0)
        return;
    size_t body = size - head;
    char path[64] = "";
    const char *sp = memchr(c->buf, ' ', head);
    if (sp)
        snprintf(path, sizeof(path), "%.*s", (int)(head - (size_t)(sp + 1 - c->buf)), sp + 1);
    unsigned long n = hu_requests;
    const char *tag = memmem(c->buf + head, body, "\"hu_case\":", 10);
    if (tag)
        n = strtoul(tag + 10, NULL, 10);
    memmove(c->buf, c->buf + head + body, c->len - head - body);
    c->len -= head + body;
    if (strncmp(path, "/hu/", 4) == 0) {
        hu_control(c, path);
        return;
    }
    hu_requests++;
    c->step = hu_scripts[n < (unsigned long)hu_nscripts ? n : (unsigned long)hu_nscripts - 1].steps;
    c->rep = 0;
    hu_run(c);
}

static void hu_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct hu_conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void hu_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hu_conn *c = s->data;
    (void)buf;
    if (nread < 0 || c->len + (size_t)nread == sizeof(c->buf)) {
        if (c->step)
            hu_gone++;
        hu_eof++;
        hu_close(c, 0);
        return;
    }
    c->len += (size_t)nread;
    hu_process(c);
}

static void hu_accept(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct hu_conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        hu_close(c, 0);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, hu_alloc, hu_read);
}

struct hu {
    pid_t pid;
    int port;
};

/* Starts the upstream in a child process (the scripts are inherited by
 * fork); returns once it listens. */
static inline struct hu hu_start(const struct hu_script *scripts, int n)
{
    hu_scripts = scripts;
    hu_nscripts = n;
    struct hu h;
    h.pid = uvc_start(hu_accept, &h.port, "the hostile upstream");
    return h;
}

static inline void hu_stop(struct hu *h)
{
    uvc_stop(h->pid);
}

static inline double hu_stat(const struct hu *h, const char *key)
{
    char out[1024], pat[64];
    cr_assert_eq(bh_request(h->port, "GET", "/hu/stats", NULL, out, sizeof(out)), 200);
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(out, pat);
    cr_assert_not_null(p, "%s", out);
    return strtod(p + strlen(pat), NULL);
}

static inline void hu_go(const struct hu *h)
{
    char out[1024];
    cr_assert_eq(bh_request(h->port, "GET", "/hu/go", NULL, out, sizeof(out)), 200);
}

#endif
