/* Server-Sent Events (text/event-stream): an incremental parser and a writer.
 *
 * Parser: feed it the body as it arrives, in chunks split anywhere (libcurl
 * hands over a `data:` line and the blank line that ends the event in
 * separate calls; a CRLF can be split between two chunks). It follows the
 * WHATWG parsing rules: lines end with CRLF, LF or CR; a leading UTF-8 BOM is
 * skipped; lines starting with ':' are comments; `data` lines of one event
 * are joined with '\n'; `event` names the event ("message" when absent);
 * `id` sets the last event id, which persists across events; `retry` sets
 * the reconnection delay; a blank line dispatches the event if it has data.
 *
 * Memory is bounded: the bytes buffered for one event (the partial line,
 * its data, name and id) may not pass `max_event`. Past that, the parser
 * stops with UV_E2BIG and stays failed until sl_sse_parser_reset(): a relay
 * should give up on the stream rather than resynchronise in the middle.
 *
 * Writer: formats an event (data split into one `data:` line per line) into
 * a caller's array (snprintf-style) or appends it to a bounded sl_buf. */
#ifndef SL_SSE_H
#define SL_SSE_H

#include <stddef.h>

#include "core/buf.h"

/* One event. In a parser callback every string is NUL-terminated and valid
 * only during the callback. For the writer, NULL event/id mean "none". */
struct sl_sse_event {
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *id;
    size_t id_len;
};

typedef void (*sl_sse_event_cb)(void *arg, const struct sl_sse_event *ev);

#define SL_SSE_DEFAULT_MAX_EVENT (1024 * 1024)

struct sl_sse_parser {
    sl_sse_event_cb cb;
    void *arg;
    size_t max_event;
    struct sl_buf line;  /* a partial line carried over to the next chunk */
    struct sl_buf data;  /* the data lines of the event being built */
    struct sl_buf event; /* its event name */
    struct sl_buf id;    /* the last event id */
    long retry_ms;       /* the last valid `retry:` value, or -1 */
    unsigned long events;
    int error;         /* 0, or UV_E2BIG once the limit was passed */
    unsigned bom_seen; /* bytes of a leading BOM matched so far */
    unsigned char started;
    unsigned char has_data;   /* a data line was seen (its value may be empty) */
    unsigned char pending;    /* a field line was seen since the last blank line */
    unsigned char skip_lf;    /* the last chunk ended in CR: drop a leading LF */
    unsigned char in_comment; /* inside a comment line, which is not buffered */
    /* Bytes of the data given to the current sl_sse_parser_feed() up to and
     * including the last blank line (the end of an event), or 0. Valid in
     * the callback (the end of the event being dispatched) and after feed
     * returns: a relay that forwards only up to here forwards whole events. */
    size_t boundary;
};

/* max_event 0 means SL_SSE_DEFAULT_MAX_EVENT. */
void sl_sse_parser_init(struct sl_sse_parser *p, size_t max_event, sl_sse_event_cb cb, void *arg);
void sl_sse_parser_release(struct sl_sse_parser *p);
/* Forgets all state (also the error and the last event id); keeps memory. */
void sl_sse_parser_reset(struct sl_sse_parser *p);

/* Parses `len` bytes, calling cb for each complete event. Returns 0,
 * UV_E2BIG (an event passed max_event), or UV_ENOMEM. */
int sl_sse_parser_feed(struct sl_sse_parser *p, const char *data, size_t len);

/* The stream ended. Returns 1 when an event was left unfinished (bytes
 * after the last blank line: the stream was cut), else 0. Per the spec an
 * unfinished event is discarded, never dispatched. */
int sl_sse_parser_finish(struct sl_sse_parser *p);

/* The terminator of an OpenAI-style stream. */
#define SL_SSE_DONE     "data: [DONE]\n\n"
#define SL_SSE_DONE_LEN (sizeof(SL_SSE_DONE) - 1)

/* Formats `ev` into dst (at most cap bytes, NUL-terminated when cap > 0).
 * Returns the length of the full event, which may exceed cap - 1 (then dst
 * holds nothing useful: call again with more room), or UV_EINVAL when the
 * event name or id contains a line break. */
long sl_sse_format(char *dst, size_t cap, const struct sl_sse_event *ev);

/* Appends `ev` to buf. Returns 0, UV_EINVAL, UV_ENOBUFS (buf unchanged) or
 * UV_ENOMEM. */
int sl_sse_append(struct sl_buf *buf, const struct sl_sse_event *ev);
int sl_sse_append_done(struct sl_buf *buf);
/* Appends a comment line (": text\n\n"), e.g. a keep-alive. */
int sl_sse_append_comment(struct sl_buf *buf, const char *text);

#endif
