/* A JSON writer over a bounded sl_buf: objects, arrays, keys, escaped
 * strings, integers and raw JSON copied through unchanged (a value span of
 * text sl_json_scan validated, so a provider adapter can move a member from
 * one document to another without decoding it).
 *
 * The writer puts the commas and colons; the caller says what comes next.
 * Errors are sticky: the first failure (the buffer's max reached, out of
 * memory, containers nested deeper than 63) is kept, later calls do nothing,
 * and sl_jw_finish() reports it, so a translator writes a whole document and
 * checks once. Embedded: sl_jw_init; it owns nothing (the buffer is the
 * caller's). */
#ifndef SL_JSON_WRITE_H
#define SL_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sl_jw {
    struct sl_buf *out;
    int err;         /* 0, UV_ENOBUFS, UV_ENOMEM or UV_EINVAL (nesting) */
    unsigned depth;  /* open containers */
    uint64_t filled; /* bit d: the container at depth d has an element */
    uint64_t arrays; /* bit d: the container at depth d is an array */
    int after_key;   /* a key was written: the next value needs no comma */
};

/* Appends to out (after what it already holds). */
void sl_jw_init(struct sl_jw *w, struct sl_buf *out);

void sl_jw_object(struct sl_jw *w); /* { */
void sl_jw_array(struct sl_jw *w);  /* [ */
void sl_jw_end(struct sl_jw *w);    /* closes the innermost container */

/* A member's key, NUL-terminated or counted; escaped. */
void sl_jw_key(struct sl_jw *w, const char *key);
void sl_jw_key_n(struct sl_jw *w, const char *key, size_t len);

/* A string value, escaped (quotes, backslashes, control characters; other
 * bytes are copied as they are). */
void sl_jw_string(struct sl_jw *w, const char *s);
void sl_jw_string_n(struct sl_jw *w, const char *s, size_t len);
void sl_jw_int(struct sl_jw *w, long long v);
void sl_jw_bool(struct sl_jw *w, int v);
void sl_jw_null(struct sl_jw *w);

/* A value copied unchanged: len bytes that are one valid JSON value (the
 * caller's promise: a span of scanned text, or a literal). */
void sl_jw_raw(struct sl_jw *w, const char *json, size_t len);

/* One string value written in pieces that are already escaped JSON string
 * content (the inside of a scanned string, quotes excluded): the texts of
 * several blocks joined without decoding them. */
void sl_jw_string_open(struct sl_jw *w);
void sl_jw_string_piece(struct sl_jw *w, const char *escaped, size_t len);
void sl_jw_string_close(struct sl_jw *w);

/* A key and a string/int/raw value: the common member shapes. */
void sl_jw_kv_string(struct sl_jw *w, const char *key, const char *s);
void sl_jw_kv_int(struct sl_jw *w, const char *key, long long v);
void sl_jw_kv_raw(struct sl_jw *w, const char *key, const char *json, size_t len);

/* 0 when everything was written and every container closed; else the
 * first error (UV_EINVAL also for containers left open). */
int sl_jw_finish(const struct sl_jw *w);

#endif
