/* The lean HTTP/1.1 client's private types and functions, shared by its
 * two halves: http/upstream.c (a request's exchange: the head it sends,
 * the response it reads, pause/resume, the end) and http/upstream_pool.c
 * (the pool: origins, name lookups, connections, their timers and the idle
 * stack). The design note is in upstream.c. Not for use outside them. */
#ifndef SL_HTTP_UPSTREAM_INT_H
#define SL_HTTP_UPSTREAM_INT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/buf.h"
#include "core/list.h"
#include "http/resp.h"
#include "http/upstream.h"
#include "http/url.h"

#define READ_BUF_SIZE              (64 * 1024)
#define MAX_REQUEST_HEAD           (64 * 1024)
#define MAX_ADDRS                  8
#define DEFAULT_CONNECT_TIMEOUT_MS 300000

enum conn_state { C_RESOLVING, C_CONNECTING, C_OPEN, C_CLOSING };

struct sl_upstream_origin {
    struct sl_list node; /* in pool->origins */
    struct sl_upstream_pool *pool;
    uv_getaddrinfo_t gai;
    struct sl_list waiting; /* connections waiting for the lookup */
    struct sl_list idle;    /* idle connections, the most recently used last */
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs, good; /* `good`: the address that connected last */
    int numeric, resolving;
    uint64_t expires_ms; /* when the looked-up addresses expire (now_ms) */
    uint16_t port;
    char port_str[8];
    char *host_header; /* "host[:port]", after host in `names` */
    char host[];       /* NUL-terminated, without brackets */
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct sl_upstream_pool *pool;
    struct sl_upstream_origin *origin;
    struct sl_upstream_xfer *x; /* the request on it; NULL while idle */
    struct sl_list node;        /* in origin->idle or origin->waiting */
    struct sl_list lru;         /* in pool->idle_conns while idle */
    uint64_t timer_due;         /* ms (now_ms) the timer is set for; 0: stopped */
    uint64_t idle_since;
    unsigned served; /* responses completed on it */
    int addr;        /* index in origin->addrs */
    uint8_t state, reading, writing, open_handles;
};

struct sl_upstream_pool {
    uv_loop_t *loop;
    uv_idle_t idle; /* runs `deferred` */
    struct sl_list origins;
    struct sl_list xfers;      /* requests in flight */
    struct sl_list deferred;   /* requests with work for the next loop turn */
    struct sl_list idle_conns; /* every idle connection, the oldest first */
    struct sl_list spare;      /* finished xfers kept for the next requests */
    unsigned nidle, nconns, ngai, nspare;
    unsigned max_idle;
    uint32_t idle_timeout_ms, dns_ttl_ms;
    size_t max_header_bytes;
    struct sl_upstream_stats stats;
    int closing, freeing;
    void (*close_cb)(void *);
    void *close_arg;
    char rbuf[READ_BUF_SIZE];
};

struct sl_upstream_xfer {
    struct sl_upstream_pool *pool;
    struct sl_http_request *req;
    struct sl_upstream_origin *origin;
    struct conn *conn;       /* NULL only before a connection was found, or failing without one */
    struct sl_list node;     /* in pool->xfers */
    struct sl_list deferred; /* in pool->deferred, or unlinked */
    struct sl_resp resp;
    struct sl_buf head; /* the response head, when it spans reads */
    size_t head_bytes;
    char *held; /* refused body bytes and what followed them in their read */
    size_t held_len, held_cap;
    uint64_t start_ns, sent_ns, first_byte_ns, body_bytes;
    uint64_t connect_due, first_byte_due, total_due; /* now_ms; 0: none */
    enum sl_err err;
    int status, addr_tries;
    uint8_t aborting, headers_done, paused, resume_pending, in_body, retried, connected, reused;
    char message[128];
    size_t out_len, out_cap;
    char out[]; /* the request head */
};

static inline uint64_t sl__up_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- upstream_pool.c ---------------------------------------------------- */

/* Closes a connection: the socket at once, on_done of its request (if any)
 * from the close callback. */
void sl__up_conn_close(struct conn *c);
/* Makes sure the connection's timer fires by `due` (sl__up_now_ms). */
void sl__up_conn_arm(struct conn *c, uint64_t due);
/* The earliest deadline of a request still to come, or 0. */
uint64_t sl__up_xfer_next_due(const struct sl_upstream_xfer *x);
/* A new connection to o, not yet open; NULL when out of memory. */
struct conn *sl__up_conn_new(struct sl_upstream_pool *p, struct sl_upstream_origin *o);
/* The most recently used idle connection of o, taken off its stack, or NULL. */
struct conn *sl__up_idle_take(struct sl_upstream_origin *o);
/* Puts a connection whose response ended on its origin's stack. */
void sl__up_conn_idle(struct conn *c);
/* Resolves (when needed) and connects; the request on it is sent once it is. */
void sl__up_conn_open(struct conn *c);
/* The lean client's URLs: http:// only. Returns NULL or why not. */
const char *sl__up_parse_url(const char *s, struct sl_url *u);
/* The origin of u, made on first use; NULL when out of memory. */
struct sl_upstream_origin *sl__up_origin_get(struct sl_upstream_pool *p, const struct sl_url *u);
/* Frees a closing pool once nothing is left in it. */
void sl__up_pool_maybe_free(struct sl_upstream_pool *p);

/* ---- upstream.c --------------------------------------------------------- */

/* Calls on_done and frees the request. */
void sl__up_finish(struct sl_upstream_xfer *x);
/* Fails the request (the first failure wins): its connection closes now. */
void sl__up_xfer_fail(struct sl_upstream_xfer *x, enum sl_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts reading the connection (also while idle). Returns 0 or a uv error. */
int sl__up_conn_read_start(struct conn *c);
/* The request goes again, from the start, on a fresh connection. */
void sl__up_xfer_reconnect(struct sl_upstream_xfer *x, int addr);
/* Sends the request head and body on the connection. */
void sl__up_conn_send(struct conn *c);

#endif
