/* The chunked transfer coding (RFC 9112 7.1), decoded: the one decoder of
 * the program, for request bodies (the server, in place) and response
 * bodies (http/resp.h, as they stream).
 *
 * A byte-at-a-time state machine over the framing (size lines, their
 * extensions, the CRLF after each chunk, the trailer): it keeps O(1)
 * state, never allocates, and gives the same answer however the input is
 * split. Chunk data is not copied by the decoder: sl_chunked_step stops
 * in front of it and says how much is there, and the caller takes what it
 * wants (sl_chunked_took). Strict where it matters: a size line starts
 * with a hex digit; NUL, a bare CR and other controls are refused in
 * extensions and trailers; LF alone ends a framing line, as CRLF does. */
#ifndef SL_HTTP_CHUNKED_H
#define SL_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed: ready for a body. */
struct sl_chunked {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    size_t raw;         /* sl_chunked_decode: raw bytes consumed so far */
    size_t decoded;     /* data bytes taken so far (in place: at the start of the region) */
};

enum {
    SL_CHUNKED_MORE = 0,    /* all input read, the body goes on */
    SL_CHUNKED_DONE = 1,    /* the last chunk and the trailer were read */
    SL_CHUNKED_DATA = 2,    /* sl_chunked_step only: chunk data follows */
    SL_CHUNKED_BAD = -1,    /* malformed framing */
    SL_CHUNKED_TOO_BIG = -2 /* a chunk's declared size would pass the limit */
};

/* Reads framing from in[0..len) and stops at chunk data or at the end of
 * the body. *used is the framing bytes read. Returns SL_CHUNKED_DATA
 * with *avail (> 0) data bytes at in + *used, of which the caller takes
 * some with sl_chunked_took before it calls again; or SL_CHUNKED_MORE
 * (all read), SL_CHUNKED_DONE (the body ends at in + *used),
 * SL_CHUNKED_BAD, SL_CHUNKED_TOO_BIG. `limit` caps the decoded size: a
 * chunk whose declared size would pass it fails before its data. */
int sl_chunked_step(struct sl_chunked *d, const char *in, size_t len, size_t *used, size_t *avail,
                    size_t limit);

/* The caller took n (<= *avail) data bytes. */
void sl_chunked_took(struct sl_chunked *d, size_t n);

/* In place, for a body that stays in one buffer: feed the body region
 * (starting right after the head) as it grows; decoded bytes are
 * compacted at its start. Returns SL_CHUNKED_DONE when the last chunk and
 * trailer were read (then d->raw is the length of the whole chunked
 * body, d->decoded that of the decoded one), SL_CHUNKED_MORE,
 * SL_CHUNKED_BAD or SL_CHUNKED_TOO_BIG. */
int sl_chunked_decode(struct sl_chunked *d, char *body, size_t len, size_t limit);

#endif
