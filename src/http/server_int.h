/* The HTTP/1.1 server's private types, shared by its two halves:
 * http/server.c (connections: accept, read, parse, states, timers, close)
 * and http/server_write.c (responses: heads, bodies, streams, the write
 * path). The design note is in server.c. Not for use outside them. */
#ifndef SL_HTTP_SERVER_INT_H
#define SL_HTTP_SERVER_INT_H

#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "core/deadlines.h"
#include "core/list.h"
#include "core/rng.h"
#include "http/server.h"

enum conn_state { C_IDLE, C_READING, C_HANDLING, C_FLUSHING, C_LINGERING, C_CLOSING };

struct sl_http_exchange {
    struct conn *conn;
    struct sl_http_head head;
    struct sl_str body;
    void (*on_abort)(struct sl_http_exchange *, void *);
    void *abort_data;
    void (*on_drain)(struct sl_http_exchange *, void *);
    void *drain_data;
    int streaming;
    int head_only;       /* HEAD: headers as for GET, not a byte of body */
    int raw;             /* a stream to an HTTP/1.0 client: no chunk framing */
    uint64_t started_ns; /* its first byte read (uv_hrtime) */
};

struct conn {
    uv_tcp_t tcp;
    struct sl_deadline deadline; /* idle, request, flush or linger: in srv->deadlines */
    unsigned flush_bound_ms;     /* FLUSHING: what no write progress may last */
    struct sl_http_server *srv;
    struct sl_list node;
    char *buf;
    size_t len, cap, pos;
    size_t head_len;
    size_t head_checked; /* of a head still incomplete: bytes found good (parser.h) */
    char *hbuf;          /* the parsed head's bytes: never moves while a request is open */
    size_t hcap;
    struct sl_chunked chunked;
    enum conn_state state;
    struct sl_http_exchange req;
    size_t pending;
    uv_shutdown_t shutdown;
    int reading, in_process, close_after_write, continue_sent;
    int linger;   /* unread request bytes may follow: linger before closing */
    int peer_eof; /* the client shut down its side (half-close) */
};

struct sl_http_server {
    uv_loop_t *loop;
    struct sl_http_server_config cfg;
    sl_http_handler handler;
    void *data;
    uv_tcp_t listener;
    struct sl_deadlines deadlines; /* every connection's timeout, on one timer */
    int listening, port, closing, deadlines_closing;
    struct sl_list conns;
    struct sl_http_server_stats stats;
    void (*close_cb)(void *);
    void *close_arg;
    char date[40];
    time_t date_at;
    struct sl_rng rng; /* request ids of the server's own answers */
};

/* server.c: closes the connection (reset: with a TCP RST); on_abort runs
 * first if a response was open. */
void sl__http_conn_close(struct conn *c, int reset);

/* server.c: the response ended: on to the next request, or close. The
 * exchange is invalid after. */
void sl__http_finish_request(struct conn *c);

/* server.c: FLUSHING and all written: close, or linger. */
void sl__http_maybe_close_after_write(struct conn *c);

/* server.c: FLUSHING and a write went out: the bound starts again. */
void sl__http_flush_progress(struct conn *c);

/* server_write.c: writes the buffers in order; never blocks, never fails
 * silently: a socket error closes the connection (and aborts the request). */
void sl__http_write(struct conn *c, uv_buf_t *bufs, unsigned n);

#endif
