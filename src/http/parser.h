/* HTTP/1.1 request parsing: the request head. Its fields are the one
 * header type (http/header.h); a chunked body is decoded by the one
 * decoder (http/chunked.h).
 *
 * The parser never allocates and never copies: a parsed head points into
 * the caller's buffer, which must stay put while the head is used. It is
 * restartable: the caller calls again with more bytes (the same request
 * from its first byte, in a buffer that may have moved) until the head is
 * complete. sl_http_parse_request_more remembers how far the lines were
 * found good, so that each byte of a head is checked once however many
 * reads it took; the lines before that point are only split again, to
 * point into the buffer as it is now. */
#ifndef SL_HTTP_PARSER_H
#define SL_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "http/chunked.h"
#include "http/header.h"

#define SL_HTTP_MAX_HEADERS 64

struct sl_http_head {
    struct sl_str method, target, path, query;
    int minor_version; /* 1.0 or 1.1 */
    struct sl_http_header headers[SL_HTTP_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length; /* -1 when absent */
    int chunked, keep_alive, expect_continue;
};

/* Parse results: > 0 is the length of the head (through the blank line). */
enum {
    SL_HTTP_INCOMPLETE = 0,
    SL_HTTP_E_BAD = -1,              /* 400 */
    SL_HTTP_E_TOO_MANY_HEADERS = -2, /* 431 */
    SL_HTTP_E_VERSION = -3,          /* 505 */
    SL_HTTP_E_TRANSFER_CODING = -4,  /* 501: a transfer coding other than chunked */
};

int sl_http_parse_request(const char *buf, size_t len, struct sl_http_head *head);

/* The same, resumable: *checked is 0 for a request's first call, and is
 * kept by the caller between the calls on the same request (a count of
 * bytes from buf, so it survives the buffer moving). */
int sl_http_parse_request_more(const char *buf, size_t len, struct sl_http_head *head,
                               size_t *checked);

/* Case-insensitive header lookup; NULL when absent. */
const struct sl_str *sl_http_head_get(const struct sl_http_head *head, const char *name);

#endif
