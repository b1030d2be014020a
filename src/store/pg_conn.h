/* One PostgreSQL connection driven by the libuv loop.
 *
 * Design
 *  - libpq in non-blocking mode: the connection's socket is watched with a
 *    uv_poll handle; PQconnectPoll, PQconsumeInput, PQisBusy, PQflush and
 *    PQputCopyData run when the socket is ready, never waiting. Host names
 *    (each of a host list) are resolved with uv_getaddrinfo (the thread
 *    pool) and handed to libpq as parallel host / hostaddr / port lists,
 *    because libpq's own lookup blocks. A uv_timer bounds the whole connect
 *    (lookups included).
 *  - One operation at a time: a query (parameters optional), a script of
 *    several statements, or a COPY FROM STDIN with its data. Its callback
 *    runs once, with 0, UV_EIO (the server refused the statement: the
 *    connection is still usable; sl_pg_conn_sqlstate() says why), or
 *    UV_ECONNRESET (the connection is gone, or gave no answer within the
 *    operation timeout: close it). The same timer serves the connect
 *    timeout and, afterwards, the operation timeout.
 *  - Settings come from the URL and libpq's environment (PGHOST, PGUSER,
 *    PGPASSWORD, ...): libpq reads both. Messages mask the password. No
 *    host (postgresql:///db) means libpq's Unix socket directory; a
 *    directory is given as ?host=/path or PGHOST=/path.
 *  - A connect never reports before sl_pg_conn_connect() returned, and
 *    never later than connect_timeout_ms after it. Retrying is the
 *    caller's (the store's, with a capped backoff).
 *
 * Ownership: sl_pg_conn_new() allocates; sl_pg_conn_close() tears down and
 * frees after the poll and timer handles closed (and a pending lookup came
 * back), then calls its callback. The data given to an operation (SQL,
 * parameters, COPY data) must stay valid until its callback. */
#ifndef SL_PG_CONN_H
#define SL_PG_CONN_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"

/* Where to connect: the URL, parsed once. */
struct sl_pg_params {
    char *url;       /* as given (with its secret) */
    char *conninfo;  /* the URL without sluice's own parameters: libpq's */
    char *masked;    /* for messages */
    char *options;   /* libpq's options: the URL's (or PGOPTIONS) and the search_path */
    char schema[64]; /* where sluice's objects live (schema=, default "sluice") */
    char *host;      /* the host list to look up, or NULL (hostaddr given, none) */
    char *port;      /* the port list */
    char *password;  /* to mask in messages, or NULL */
    unsigned connect_timeout_ms;
};

/* Parses url (already checked by sl_pg_url_check); 0, UV_EINVAL (a bad
 * schema name) or UV_ENOMEM. Every connection made with p has its
 * search_path set to p->schema (libpq's options, -c search_path=...). */
int sl_pg_params_init(struct sl_pg_params *p, const char *url, unsigned connect_timeout_ms);
void sl_pg_params_release(struct sl_pg_params *p);

struct sl_pg_conn;
typedef void (*sl_pg_conn_cb)(struct sl_pg_conn *c, int status, void *arg);
/* res: the last result of the operation (rows of the last statement), valid
 * only during the callback; NULL when there was none or on error. */
typedef void (*sl_pg_result_cb)(struct sl_pg_conn *c, int status, PGresult *res, void *arg);

struct sl_pg_conn {
    struct sl_list node; /* the pool's lists */
    void *data;          /* the owner's */
    int needs_ping;      /* the pool's: an operation failed since the last check */
    int64_t idle_since_us;
    /* private */
    uv_loop_t *loop;
    const struct sl_pg_params *params;
    uint64_t *queries;
    PGconn *pg;
    uv_poll_t *poll;
    int poll_fd, poll_events;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct sl__pg_lookup *lookup; /* while host names are looked up */
    int state, resolving, handles_open;
    int in_connect;      /* inside sl_pg_conn_connect(): a failure is reported later */
    int deferred_status; /* that failure */
    sl_pg_conn_cb connect_cb;
    sl_pg_result_cb cb;
    void *arg;
    const char *copy_data;
    size_t copy_len, copy_off;
    int copy_state; /* 0 none, 1 sending data, 2 sending the end */
    unsigned op_timeout_ms;
    PGresult *last;
    int op_status;
    char sqlstate[6];
    char err[512];
    void (*close_cb)(struct sl_pg_conn *c, void *arg);
    void *close_arg;
};

/* queries (may be NULL) is incremented once per statement sent. */
struct sl_pg_conn *sl_pg_conn_new(uv_loop_t *loop, const struct sl_pg_params *params,
                                  uint64_t *queries);

/* Connects; cb runs later, never before this returns, and gets 0, UV_ETIMEDOUT, UV_EAI_NONAME
 * (unknown host) or UV_ECONNREFUSED (any other refusal: see sl_pg_conn_error). */
void sl_pg_conn_connect(struct sl_pg_conn *c, sl_pg_conn_cb cb, void *arg);

/* One statement, with text parameters when nparams > 0. */
void sl_pg_conn_query(struct sl_pg_conn *c, const char *sql, int nparams, const char *const *values,
                      sl_pg_result_cb cb, void *arg);
/* Several statements separated by ';' (the simple protocol). */
void sl_pg_conn_script(struct sl_pg_conn *c, const char *sql, sl_pg_result_cb cb, void *arg);
/* copy_sql is a COPY ... FROM STDIN; data (len bytes) is its input. */
void sl_pg_conn_copy(struct sl_pg_conn *c, const char *copy_sql, const char *data, size_t len,
                     sl_pg_result_cb cb, void *arg);

/* Operations started from now on fail with UV_ECONNRESET (and drop the
 * connection) when the server has not finished them within ms; 0: no limit
 * (the default). */
void sl_pg_conn_set_op_timeout(struct sl_pg_conn *c, unsigned ms);

int sl_pg_conn_ok(const struct sl_pg_conn *c);
int sl_pg_conn_busy(const struct sl_pg_conn *c);
/* The last error, one line, password masked. */
const char *sl_pg_conn_error(const struct sl_pg_conn *c);
/* The SQLSTATE of the last failed statement ("23505"), or "". */
const char *sl_pg_conn_sqlstate(const struct sl_pg_conn *c);

/* Closes (cancelling a connect or an operation, whose callback then never
 * runs) and frees the connection; cb (may be NULL) runs after. */
void sl_pg_conn_close(struct sl_pg_conn *c, void (*cb)(struct sl_pg_conn *c, void *arg), void *arg);

#endif
