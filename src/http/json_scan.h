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

#define SL_JSON_MAX_DEPTH 64

/* A top-level member the caller wants: set key; the scan sets found and m
 * (the first member of that name, as a JSON parser keeping the first of
 * duplicates would). */
struct sl_json_pick {
    const char *key;
    int found;
    struct sl_json_member m;
};

struct sl_json_doc {
    enum sl_json_type type; /* of the top-level value */
    const char *text;       /* the scanned text (sl_json_get walks it again) */
    size_t len;
    size_t nmembers;   /* top-level object members, all of them: there is no cap */
    size_t error_at;   /* offset of the first error */
    const char *error; /* why: "invalid JSON" or "nested deeper than 64 levels" */
};

/* Returns 0 when text is exactly one valid JSON value (surrounding
 * whitespace allowed), -1 otherwise (error_at and error say where and why).
 * The top-level object may have any number of members; each pick is
 * filled in the same single pass, so a member is never missed for coming
 * late in the body. */
int sl_json_scan_pick(const char *text, size_t len, struct sl_json_doc *doc,
                      struct sl_json_pick *picks, size_t npicks);
int sl_json_scan(const char *text, size_t len, struct sl_json_doc *doc);

/* The first top-level member named key of a document scanned without
 * error: returns 1 and fills *out, or 0. Walks the text again (O(length));
 * to read several members of a large body, pick them during the scan. */
int sl_json_get(const struct sl_json_doc *doc, const char *key, struct sl_json_member *out);

/* Writes s as the inside of a JSON string (quotes, backslashes and control
 * characters escaped) into out, always NUL-terminated; stops early rather
 * than overflow. Returns the length written. */
size_t sl_json_escape(char *out, size_t size, const char *s);

#endif
