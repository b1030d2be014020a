/* The request a load run sends, formatted once: request line, headers and
 * body in one buffer that every connection writes as is (load/conn.h).
 *
 * The body is the file given, verbatim, or else a realistic
 * chat-completion JSON body (model and prompt may be chosen); GET, HEAD,
 * DELETE and OPTIONS send none unless a file is given. Host, User-Agent,
 * Accept and Content-Type are added unless the caller's headers name them;
 * Content-Length always comes from the body. */
#ifndef SL_LOAD_REQUEST_BUILD_H
#define SL_LOAD_REQUEST_BUILD_H

#include <stddef.h>

#include "load/conn.h"

#define SL_LOAD_MAX_BODY_BYTES (16u << 20)
#define SL_LOAD_MAX_HEAD_BYTES (64u << 10)

struct sl_load_request_spec {
    const char *method;         /* NULL: POST */
    const char *path;           /* the request target, starting with '/' */
    const char *hostport;       /* for Host: */
    const char *const *headers; /* "Name: value", already checked */
    unsigned n_headers;
    const char *body_file;      /* NULL: the default body (or none) */
    const char *model, *prompt; /* the default body's; NULL: the defaults */
    int stream;                 /* "stream": true, and Accept: text/event-stream */
};

/* Formats the request and sets target->request (the caller frees it),
 * request_len, head_only and sse. Returns 0, or -1 with err set to the
 * reason (an empty err: out of memory). */
int sl_load_request_build(const struct sl_load_request_spec *spec, struct sl_conn_target *target,
                          char *err, size_t err_size);

#endif
