/* HTTP/1.1 request parsing: the request head, and chunked bodies.
 *
 * The parser never allocates and never copies: a parsed head points into
 * the caller's buffer, which must stay put while the head is used. It is
 * restartable in the simplest way: the caller calls again with more bytes
 * until the head is complete (the head is small and bounded by the
 * server's header limit, so rescanning costs little). */
#ifndef SL_HTTP_PARSER_H
#define SL_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define SL_HTTP_MAX_HEADERS 64

struct sl_http_header {
    struct sl_str name, value;
};

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

/* Case-insensitive header lookup; NULL when absent. */
const struct sl_str *sl_http_head_get(const struct sl_http_head *head, const char *name);

/* RFC 9110 token characters: methods and header names. */
int sl_http_is_tchar(unsigned char c);

/* Chunked transfer decoding, in place. Feed the body region (starting right
 * after the head) as it grows; decoded bytes are compacted at its start. */
struct sl_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    size_t raw;         /* raw bytes consumed so far */
    size_t decoded;     /* decoded bytes at the start of the region */
};

enum { SL_CHUNKED_MORE = 0, SL_CHUNKED_DONE = 1, SL_CHUNKED_BAD = -1, SL_CHUNKED_TOO_BIG = -2 };

/* Returns SL_CHUNKED_DONE when the last chunk and trailer were read (then
 * dec->raw is the length of the whole chunked body), SL_CHUNKED_MORE, or
 * SL_CHUNKED_BAD. `limit` caps the decoded size (SL_CHUNKED_TOO_BIG, as soon
 * as a chunk's declared size would pass it). A size line must start with a
 * hex digit; NUL and bare CR are refused in extensions and trailers. */
int sl_chunked_decode(struct sl_chunked *dec, char *body, size_t len, size_t limit);

#endif
