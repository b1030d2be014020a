/* An outgoing HTTP request and what comes back: the types both HTTP
 * clients share (http/client.h, which picks one per URL, and the lean
 * http:// client below it, http/upstream.h), so that neither includes the
 * other's header. The functions that run a request are in those headers. */
#ifndef SL_HTTP_REQUEST_H
#define SL_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/errclass.h"
#include "http/header.h"

struct sl_http_xfer;       /* private: one request in flight (libcurl) */
struct sl_upstream_xfer;   /* private: one request in flight (http/upstream.h) */
struct sl_upstream_origin; /* private: a host:port of the lean client, with its connections */
struct sl_http_request;

/* A request URL resolved once, at start-up (sl_http_client_route, or
 * sl_upstream_route for the lean client on its own): which client runs it
 * and, for the lean one, its origin (with its connection pool) and the
 * request target, so that a request started with it neither checks the
 * scheme nor parses the URL nor looks its origin up. Made and owned by a
 * client; valid until that client is closed. Read-only for everyone else. */
struct sl_http_route {
    const char *url;                   /* NUL-terminated */
    int lean;                          /* 1: the lean http:// client, 0: libcurl */
    struct sl_upstream_origin *origin; /* lean: where it goes */
    struct sl_str target;              /* lean: path and query for the request line, into url */
    struct sl_http_route *next;        /* the owner's list */
};

struct sl_http_result {
    enum sl_err err;        /* SL_OK when a complete response arrived, whatever its status */
    int status;             /* the final HTTP status, or 0 when none arrived */
    const char *message;    /* why it failed ("first byte timeout after 200 ms"), or "" */
    uint64_t body_bytes;    /* body bytes delivered to on_body */
    uint64_t sent_ns;       /* from start to the request handed to a connected socket (the
                             * lean client; 0 if never, and with libcurl) */
    uint64_t first_byte_ns; /* from start to the first response byte, 0 if none */
    uint64_t total_ns;      /* from start to done */
    int reused;             /* 1 when it ran on a connection kept from an earlier request */
    int resent;             /* 1 when a kept-alive connection failed it before any response byte and
                             * it went again on a fresh one: the upstream may have seen it twice */
};

/* Returned by on_body to refuse the chunk for now: delivery pauses, and the
 * same bytes are delivered again after sl_http_request_resume(). */
#define SL_HTTP_PAUSE 1

/* The response's fields (the one header type, http/header.h): trimmed,
 * NUL-terminated, and valid only during the callback. */
typedef void (*sl_http_headers_cb)(struct sl_http_request *req, int status,
                                   const struct sl_http_header *headers, size_t n);
/* Returns 0 (consumed) or SL_HTTP_PAUSE (not consumed). */
typedef int (*sl_http_body_cb)(struct sl_http_request *req, const char *data, size_t len);
/* The last callback of a request; from its start on the request struct is
 * the caller's again (it may be freed or started anew). */
typedef void (*sl_http_done_cb)(struct sl_http_request *req, const struct sl_http_result *res);

struct sl_http_request {
    /* Set by the caller; read by sl_http_request_start and, for body and
     * headers, kept in use until on_done: keep them alive until then. */
    const char *method;                /* NULL: "POST" with a body, else "GET" */
    const char *url;                   /* http:// or https://; or NULL with a route */
    const struct sl_http_route *route; /* optional: url resolved at start-up; then url is unused */
    const struct sl_http_header *headers; /* the caller's bytes */
    size_t n_headers;
    const char *body;
    size_t body_len;
    uint32_t connect_timeout_ms;    /* TCP (and TLS) connect; 0: 300 s */
    uint32_t first_byte_timeout_ms; /* start to the first response byte; 0: none */
    uint32_t total_timeout_ms;      /* start to the end of the body; 0: none */
    sl_http_headers_cb on_headers;  /* optional: once, before the first body chunk */
    sl_http_body_cb on_body;        /* optional */
    sl_http_done_cb on_done;        /* required */
    void *data;                     /* the caller's */

    struct sl_http_xfer *xfer;      /* private: non-NULL from start to on_done (libcurl) */
    struct sl_upstream_xfer *uxfer; /* private: the same, for a request the lean client runs */
};

#endif
