/* HTTP/1.1 header fields, one type for the whole program: the server's
 * parsed request heads and its responses, the clients' requests and the
 * response heads they hand back.
 *
 * A field is two string views. Who owns the bytes depends on where it
 * comes from: a parsed request head points into the server's head buffer;
 * a request's fields are the caller's; the fields sl_http_split_head
 * returns point into the block it split, NUL-terminated (so a value may
 * also be read as a C string). */
#ifndef SL_HTTP_HEADER_H
#define SL_HTTP_HEADER_H

#include <stddef.h>

#include "core/str.h"

struct sl_http_header {
    struct sl_str name, value;
};

/* A field from two string literals. */
#define SL_HTTP_HEADER_LIT(name, value)                                                            \
    {                                                                                              \
        {(name), sizeof(name) - 1},                                                                \
        {                                                                                          \
            (value), sizeof(value) - 1                                                             \
        }                                                                                          \
    }

/* The value of the first field called `name` (case-insensitive), or NULL. */
const struct sl_str *sl_http_header_get(const struct sl_http_header *h, size_t n, const char *name);

/* RFC 9110 token characters: methods and header names. */
int sl_http_is_tchar(unsigned char c);

/* A non-empty token. */
int sl_http_is_token(struct sl_str s);

/* s without the spaces and tabs (OWS) at its ends. */
struct sl_str sl_http_trim(const char *p, size_t n);

/* Whether the comma-separated list (RFC 9110 5.6.1) holds `token`, an
 * element that equals it ignoring case once its OWS is trimmed:
 * "Connection: keep-alive, close" holds "close", "closed" or "x close"
 * does not. */
int sl_http_list_has(struct sl_str list, const char *token);

/* An upper bound of the fields sl_http_split_head finds in block. */
size_t sl_http_head_lines(const char *block, size_t len);

/* Splits a response head block in place into out (room for
 * sl_http_head_lines): lines "Name: value" end in LF or CRLF (the last
 * may end without); names and values are trimmed and NUL-terminated. A
 * status line ("HTTP/...") starts a block: the fields of any earlier
 * (interim 1xx) block are dropped. A line without a colon (an obsolete
 * folded line) is dropped. The block ends in LF, or block[len] is a NUL
 * (sl_buf's), so that the last value is NUL-terminated too. Returns the
 * number of fields. */
size_t sl_http_split_head(char *block, size_t len, struct sl_http_header *out);

/* Splits block (as sl_http_split_head) into room of its own (the stack for
 * up to 32 lines) and calls fn(arg, fields, n), n possibly 0; both clients
 * hand their response heads over this way. 0, or -1 if memory ran out (fn
 * was not called). */
int sl_http_head_fields(char *block, size_t len,
                        void (*fn)(void *arg, const struct sl_http_header *fields, size_t n),
                        void *arg);

#endif
