/* HTTP/1.1 server on the libuv loop: the only code that sees client
 * sockets. Keep-alive, pipelining (one request handled at a time per
 * connection, in order), Content-Length and chunked request bodies,
 * Expect: 100-continue, limits with their statuses, streamed responses
 * with backpressure, and a callback when the client goes away.
 *
 * Ownership: the server owns its connections; a connection owns the
 * exchange it is handling (struct sl_http_exchange: one request and its
 * response; the HTTP client's outgoing request is struct sl_http_request).
 * A handler may answer at once or later; until it ends the response
 * (sl_http_respond*, sl_http_stream_end, sl_http_exchange_drop) the exchange
 * stays valid, unless the client goes away: then on_abort runs once and the
 * exchange is invalid after it returns. */
#ifndef SL_HTTP_SERVER_H
#define SL_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/parser.h"

struct sl_http_server_config {
    size_t max_header_bytes;     /* request line + headers; over it: 431 */
    size_t max_body_bytes;       /* over it: 413 */
    unsigned idle_timeout_ms;    /* a keep-alive connection with no request is closed */
    unsigned request_timeout_ms; /* a request must arrive whole within this: else 408 */
    unsigned max_connections;    /* past it, new connections get 503 and are closed */
    /* Writes the x-request-id of a response the server makes itself (400,
     * 408, 413, 431, 501, 505, 503) into out, NUL-terminated. NULL: the
     * server makes "req_" + 16 hex digits, the gateway's format. */
    void (*make_request_id)(void *arg, char *out, size_t size);
    void *request_id_arg;
};

void sl_http_server_config_default(struct sl_http_server_config *cfg);

struct sl_http_server;
struct sl_http_exchange;

typedef void (*sl_http_handler)(struct sl_http_exchange *req, void *data);

int sl_http_server_new(uv_loop_t *loop, const struct sl_http_server_config *cfg,
                       sl_http_handler handler, void *data, struct sl_http_server **out);

/* Binds and listens on host:port (port 0 picks a free one). Returns 0 or a
 * uv error, with a one-line reason in err. */
int sl_http_server_listen(struct sl_http_server *srv, const char *host, int port, char *err,
                          size_t err_size);
int sl_http_server_port(const struct sl_http_server *srv);

struct sl_http_server_stats {
    uint64_t accepted, rejected, requests, open_connections;
    uint64_t status_4xx_limits; /* 400/408/413/431/501/505 sent by the server itself */
};
void sl_http_server_stats(const struct sl_http_server *srv, struct sl_http_server_stats *out);

/* Stops accepting; existing connections go on. */
void sl_http_server_stop_accepting(struct sl_http_server *srv);

/* Closes the listener and every connection (aborting requests in progress),
 * then frees the server and calls cb. */
void sl_http_server_close(struct sl_http_server *srv, void (*cb)(void *arg), void *arg);

/* ---- the request --------------------------------------------------------- */

const struct sl_http_head *sl_http_exchange_head(const struct sl_http_exchange *req);
struct sl_str sl_http_exchange_body(const struct sl_http_exchange *req);
uv_loop_t *sl_http_exchange_loop(const struct sl_http_exchange *req);
/* When its first byte was read (uv_hrtime), or 0 for an answer the server
 * gave on its own. */
uint64_t sl_http_exchange_started_ns(const struct sl_http_exchange *req);

/* Called once if the connection dies before the response ended. */
void sl_http_exchange_on_abort(struct sl_http_exchange *req,
                               void (*cb)(struct sl_http_exchange *, void *), void *data);

/* A whole response. content_type may be NULL. The request is invalid after. */
void sl_http_respond(struct sl_http_exchange *req, int status, const struct sl_http_header *headers,
                     size_t nheaders, const char *content_type, const char *body, size_t len);

/* An error in the OpenAI shape (sl_openai_error_body). */
void sl_http_respond_error(struct sl_http_exchange *req, int status, const char *type,
                           const char *code, const char *message);
/* The same with extra headers (x-request-id, Retry-After). */
void sl_http_respond_error_with(struct sl_http_exchange *req, int status,
                                const struct sl_http_header *headers, size_t nheaders,
                                const char *type, const char *code, const char *message);

/* Streaming (chunked transfer coding). */
void sl_http_stream_start(struct sl_http_exchange *req, int status,
                          const struct sl_http_header *headers, size_t nheaders,
                          const char *content_type);
void sl_http_stream_write(struct sl_http_exchange *req, const char *data, size_t len);
/* Bytes written but not yet taken by the kernel: the backpressure signal. */
size_t sl_http_stream_pending(const struct sl_http_exchange *req);
/* cb runs when pending drops to zero after having been above zero. */
void sl_http_stream_on_drain(struct sl_http_exchange *req,
                             void (*cb)(struct sl_http_exchange *, void *), void *data);
/* Ends the stream cleanly. The request is invalid after. Also allowed
 * right after a stream write that failed (the connection is closing) when
 * on_abort was detached first: it then only releases the request. */
void sl_http_stream_end(struct sl_http_exchange *req);

/* Drops the connection without ending the response: with reset, a TCP RST
 * (what a crashing upstream looks like), else a plain close (a cut stream).
 * on_abort is not called. The request is invalid after. */
void sl_http_exchange_drop(struct sl_http_exchange *req, int reset);

const char *sl_http_status_text(int status);

#endif
