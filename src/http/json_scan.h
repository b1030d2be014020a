/* A validating JSON scanner for request bodies: checks that a body is one
 * well-formed JSON value and reports the members of the top-level object
 * with the span of each value, without allocating or building a tree.
 * Enough to route and validate a request on the hot path; code that needs
 * the document itself should use a real JSON library. */
#ifndef SL_JSON_SCAN_H
#define SL_JSON_SCAN_H

#include <stddef.h>

#include "http/parser.h"

enum sl_json_type {
    SL_JSON_NULL,
    SL_JSON_FALSE,
    SL_JSON_TRUE,
    SL_JSON_NUMBER,
    SL_JSON_STRING,
    SL_JSON_ARRAY,
    SL_JSON_OBJECT
};

struct sl_json_member {
    struct sl_str key;   /* raw, without quotes, escapes not decoded */
    struct sl_str value; /* the raw value text (strings without quotes) */
    enum sl_json_type type;
    size_t items; /* arrays: number of elements */
};

#define SL_JSON_MAX_MEMBERS 32
#define SL_JSON_MAX_DEPTH   64

struct sl_json_doc {
    enum sl_json_type type; /* of the top-level value */
    struct sl_json_member members[SL_JSON_MAX_MEMBERS];
    size_t nmembers; /* top-level object members kept (the first 32) */
    size_t error_at; /* offset of the first error */
};

/* Returns 0 when text is exactly one valid JSON value (surrounding
 * whitespace allowed), -1 otherwise (error_at says where). */
int sl_json_scan(const char *text, size_t len, struct sl_json_doc *doc);

const struct sl_json_member *sl_json_get(const struct sl_json_doc *doc, const char *key);

/* Writes s as the inside of a JSON string (quotes, backslashes and control
 * characters escaped) into out, always NUL-terminated; stops early rather
 * than overflow. Returns the length written. */
size_t sl_json_escape(char *out, size_t size, const char *s);

#endif
