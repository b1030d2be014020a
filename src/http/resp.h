/* Incremental HTTP/1.1 response parser for the load generator.
 *
 * Fed the bytes of one response as they arrive, split anywhere; keeps
 * O(1) state (~300 bytes) and never allocates. It reads only what a load
 * generator needs: the status, Content-Length, Transfer-Encoding (chunked
 * bodies are decoded), Connection, and for event streams the `data:`
 * lines of the body, counted as they complete so that the caller can time
 * the first token and the gaps between tokens.
 *
 * Lines that arrive whole are parsed in place; only a line split across
 * two reads is copied, into a bounded buffer (a longer line keeps its
 * first SL_RESP_LINE_MAX bytes, which hold everything we read from it).
 * The header block is limited to SL_RESP_HEAD_MAX bytes. */
#ifndef SL_RESP_H
#define SL_RESP_H

#include <stddef.h>
#include <stdint.h>

#define SL_RESP_LINE_MAX 256
#define SL_RESP_HEAD_MAX 65536

enum sl_resp_rc { SL_RESP_ERROR = -1, SL_RESP_MORE = 0, SL_RESP_DONE = 1 };

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
    uint8_t state, head_only, sse, chunked, has_length, over, trunc;
    uint8_t sse_has_data, sse_last;
    uint16_t line_len;
    uint32_t head_bytes, line_total, sse_len;
    uint64_t remaining;
    char sse_prefix[16];
    char line[SL_RESP_LINE_MAX];
};

/* Prepares for one response. head_only: the request was HEAD (no body);
 * sse: count `data:` events in the body. */
void sl_resp_init(struct sl_resp *p, int head_only, int sse);

/* Consumes data[0..len). Returns SL_RESP_MORE (all consumed, the response
 * is not complete), SL_RESP_DONE (complete after *used bytes; anything
 * after them is not part of this response) or SL_RESP_ERROR (p->error
 * says why). */
int sl_resp_feed(struct sl_resp *p, const char *data, size_t len, size_t *used);

/* The peer closed the connection: SL_RESP_DONE if the body was delimited
 * by the close, SL_RESP_ERROR otherwise. */
int sl_resp_eof(struct sl_resp *p);

#endif
