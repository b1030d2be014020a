/* Incremental HTTP/1.1 response parser, shared by the load generator
 * (load/conn) and the upstream client (http/upstream).
 *
 * Fed the bytes of one response as they arrive, split anywhere; keeps
 * O(1) state (~300 bytes) and never allocates. It reads only what a client
 * needs: the status, Content-Length, Transfer-Encoding (chunked bodies are
 * decoded), Connection, and for event streams the `data:` lines of the
 * body, counted as they complete so that the caller can time the first
 * token and the gaps between tokens.
 *
 * A client that relays the response (sl_resp_relay) also gets the end of
 * the header block, so that it can take the raw head (whole, whatever the
 * splits) up to there, and every run of decoded body bytes, which it may
 * refuse for now (backpressure): those bytes are then left unconsumed.
 *
 * Lines that arrive whole are parsed in place; only a line split across
 * two reads is copied, into a bounded buffer (a longer line keeps its
 * first SL_RESP_LINE_MAX bytes, which hold everything we read from it).
 * The header block is limited to SL_RESP_HEAD_MAX bytes. */
#ifndef SL_RESP_H
#define SL_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "http/chunked.h"

#define SL_RESP_LINE_MAX 256
#define SL_RESP_HEAD_MAX 65536

enum sl_resp_rc {
    SL_RESP_ERROR = -1,
    SL_RESP_MORE = 0,
    SL_RESP_DONE = 1,
    SL_RESP_HEAD = 2,  /* relay only: the final header block ended, a body follows */
    SL_RESP_PAUSE = 3, /* relay only: on_body refused the bytes at *used */
};

/* Gets a run of decoded body bytes. Returns 0 when it took them, or
 * non-zero to refuse them: sl_resp_feed then returns SL_RESP_PAUSE with
 * *used at their start, and they are delivered again when fed again. */
typedef int (*sl_resp_body_cb)(void *arg, const char *data, size_t len);

struct sl_resp {
    /* Results: status as soon as the status line is parsed, the rest once
     * SL_RESP_DONE is returned. */
    int status;
    int keep_alive;       /* the connection may carry another request */
    uint64_t body_bytes;  /* decoded body bytes */
    uint32_t events;      /* SSE events with data, `data: [DONE]` excluded */
    uint32_t done_events; /* `data: [DONE]` events */
    const char *error;    /* why, after SL_RESP_ERROR */

    /* Private. */
    sl_resp_body_cb on_body;
    void *arg;
    uint8_t state, head_only, sse, chunked, has_length, over, trunc;
    uint8_t sse_has_data, sse_last;
    uint16_t line_len;
    uint32_t head_bytes, line_total, sse_len;
    uint32_t frame_bytes; /* chunk framing since the last chunk data */
    uint64_t remaining;
    struct sl_chunked chunk;
    char sse_prefix[16];
    char line[SL_RESP_LINE_MAX];
};

/* Prepares for one response. head_only: the request was HEAD (no body);
 * sse: count `data:` events in the body. */
void sl_resp_init(struct sl_resp *p, int head_only, int sse);

/* Relay mode, after sl_resp_init: sl_resp_feed stops after the final
 * header block (SL_RESP_HEAD, unless the response ends there: then
 * SL_RESP_DONE), and body bytes go to on_body (not NULL). */
void sl_resp_relay(struct sl_resp *p, sl_resp_body_cb on_body, void *arg);

/* Consumes data[0..len). Returns SL_RESP_MORE (all consumed, the response
 * is not complete), SL_RESP_DONE (complete after *used bytes; anything
 * after them is not part of this response) or SL_RESP_ERROR (p->error
 * says why); in relay mode also SL_RESP_HEAD and SL_RESP_PAUSE (the rest,
 * from *used on, is to be fed again). */
int sl_resp_feed(struct sl_resp *p, const char *data, size_t len, size_t *used);

/* The peer closed the connection: SL_RESP_DONE if the body was delimited
 * by the close, SL_RESP_ERROR otherwise. */
int sl_resp_eof(struct sl_resp *p);

#endif
