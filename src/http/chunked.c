#include "http/chunked.h"

#include <string.h>

#include "core/str.h"

/* CH_SIZE_FIRST is 0, so a zeroed decoder starts there: a size line must
 * begin with a hex digit (an empty one is not the last chunk). */
enum {
    CH_SIZE_FIRST,
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE
};

static int is_ctl(char c)
{
    return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

/* The size line ended: data follows, or (size 0) the trailer. */
static int after_size(struct sl_chunked *d, size_t limit)
{
    if (d->remaining == 0) {
        d->state = CH_TRAILER;
        return SL_CHUNKED_MORE;
    }
    /* decoded <= limit holds (every chunk was checked), so this cannot wrap
     * the way decoded + remaining would for a size near 2^64 */
    if (d->decoded > limit || d->remaining > limit - d->decoded)
        return SL_CHUNKED_TOO_BIG;
    d->state = CH_DATA;
    return SL_CHUNKED_MORE;
}

int sl_chunked_step(struct sl_chunked *d, const char *in, size_t len, size_t *used, size_t *avail,
                    size_t limit)
{
    size_t pos = 0;
    int rc = SL_CHUNKED_MORE;
    *avail = 0;
    while (rc == SL_CHUNKED_MORE && d->state != CH_DONE && pos < len) {
        char c = in[pos];
        switch (d->state) {
        case CH_SIZE_FIRST: {
            int v = sl_hex_digit(c);
            if (v < 0) {
                rc = SL_CHUNKED_BAD;
                break;
            }
            d->remaining = (uint64_t)v;
            pos++;
            d->state = CH_SIZE;
            break;
        }
        case CH_SIZE: {
            int v = sl_hex_digit(c);
            if (v >= 0) {
                if (d->remaining > (UINT64_MAX >> 4)) {
                    rc = SL_CHUNKED_TOO_BIG; /* over 2^64: over any limit */
                    break;
                }
                d->remaining = d->remaining * 16 + (uint64_t)v;
                pos++;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
                pos++;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
                pos++;
            } else if (c == '\n') {
                pos++;
                rc = after_size(d, limit);
            } else {
                rc = SL_CHUNKED_BAD;
            }
            break;
        }
        case CH_EXT:
            if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == '\n') {
                pos++;
                rc = after_size(d, limit);
                break;
            } else if (is_ctl(c)) {
                rc = SL_CHUNKED_BAD;
                break;
            }
            pos++;
            break;
        case CH_SIZE_LF:
            if (c != '\n') {
                rc = SL_CHUNKED_BAD;
                break;
            }
            pos++;
            rc = after_size(d, limit);
            break;
        case CH_DATA:
            *avail = d->remaining < len - pos ? (size_t)d->remaining : len - pos;
            rc = SL_CHUNKED_DATA;
            break;
        case CH_DATA_CR:
            pos++;
            if (c == '\n')
                d->state = CH_SIZE_FIRST;
            else if (c == '\r')
                d->state = CH_DATA_LF;
            else
                rc = SL_CHUNKED_BAD;
            break;
        case CH_DATA_LF:
            if (c != '\n') {
                rc = SL_CHUNKED_BAD;
                break;
            }
            pos++;
            d->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER: /* at the start of a trailer line */
            pos++;
            if (c == '\n')
                d->state = CH_DONE;
            else if (c == '\r')
                d->state = CH_END_LF;
            else if (is_ctl(c))
                rc = SL_CHUNKED_BAD;
            else
                d->state = CH_TRAILER_LINE;
            break;
        case CH_TRAILER_LINE:
            pos++;
            if (c == '\n')
                d->state = CH_TRAILER;
            else if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (is_ctl(c))
                rc = SL_CHUNKED_BAD;
            break;
        case CH_TRAILER_LF:
        case CH_END_LF:
            if (c != '\n') {
                rc = SL_CHUNKED_BAD;
                break;
            }
            pos++;
            d->state = d->state == CH_END_LF ? CH_DONE : CH_TRAILER;
            break;
        }
    }
    *used = pos;
    if (rc == SL_CHUNKED_MORE && d->state == CH_DONE)
        rc = SL_CHUNKED_DONE;
    return rc;
}

void sl_chunked_took(struct sl_chunked *d, size_t n)
{
    d->remaining -= n;
    d->decoded += n;
    if (d->remaining == 0)
        d->state = CH_DATA_CR;
}

int sl_chunked_decode(struct sl_chunked *d, char *body, size_t len, size_t limit)
{
    for (;;) {
        size_t used, avail;
        int rc = sl_chunked_step(d, body + d->raw, len - d->raw, &used, &avail, limit);
        d->raw += used;
        if (rc != SL_CHUNKED_DATA)
            return rc;
        memmove(body + d->decoded, body + d->raw, avail);
        d->raw += avail;
        sl_chunked_took(d, avail);
    }
}
