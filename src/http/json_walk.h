/* A cursor over JSON that sl_json_scan already validated: step through an
 * object's members or an array's items and decode strings, without building
 * a tree. Every step stays inside [p, end) even if the text is not valid
 * (then the walk just ends early); validity is the scanner's job. */
#ifndef SL_JSON_WALK_H
#define SL_JSON_WALK_H

#include <stddef.h>

#include "core/buf.h"

struct sl_json_walk {
    const char *p, *end;
};

/* A value: its first byte is its type ('{', '[', '"', digit or '-', 't',
 * 'f', 'n'); [start, end) is its whole text, quotes included. */
struct sl_json_value {
    const char *start, *end;
};

/* Positions w at the inside of the object or array `v`. 0, or -1 if v is
 * not one. */
int sl_json_enter(struct sl_json_walk *w, const struct sl_json_value *v);

/* The next member of the object being walked: its raw key (escapes not
 * decoded) and value. 1, or 0 at the end. */
int sl_json_next_member(struct sl_json_walk *w, struct sl_json_value *key,
                        struct sl_json_value *value);

/* The next item of the array being walked. 1, or 0 at the end. */
int sl_json_next_item(struct sl_json_walk *w, struct sl_json_value *value);

/* Whether the raw key of a member (quotes included) is `name`. */
int sl_json_key_is(const struct sl_json_value *key, const char *name);

/* Appends the decoded text of string `v` to out (UTF-8; a lone surrogate
 * escape becomes U+FFFD). -1 if v is not a string or memory ran out. */
int sl_json_string(const struct sl_json_value *v, struct sl_buf *out);

/* The whole text as one value. */
struct sl_json_value sl_json_value_of(const char *text, size_t len);

#endif
