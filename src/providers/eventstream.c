/* AWS event stream decoder and encoder (framing in eventstream.h).
 *
 * The decoder has two states: no partial frame (d->partial empty), where a
 * chunk's whole frames are decoded in place, and a partial frame being
 * gathered, first its 12-byte prelude, then (once the prelude is checked)
 * up to the total length it announced. A message is delivered from one
 * contiguous span of memory, either the caller's chunk or d->partial, and
 * d->partial is emptied only after the callback returns. */
#include "providers/eventstream.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "core/crc32.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

const char *sl_es_strerror(int err)
{
    switch (err) {
    case SL_ES_OK:
        return "ok";
    case SL_ES_E_PRELUDE_CRC:
        return "event stream: prelude CRC mismatch";
    case SL_ES_E_MESSAGE_CRC:
        return "event stream: message CRC mismatch";
    case SL_ES_E_LENGTHS:
        return "event stream: inconsistent frame lengths";
    case SL_ES_E_TOO_BIG:
        return "event stream: frame over the size limit";
    case SL_ES_E_HEADER:
        return "event stream: malformed header";
    case SL_ES_E_TOO_MANY_HEADERS:
        return "event stream: too many headers";
    case SL_ES_E_TRUNCATED:
        return "event stream: stream ended inside a frame";
    case SL_ES_E_NOMEM:
        return "event stream: out of memory";
    case SL_ES_E_STOPPED:
        return "event stream: stopped by the consumer";
    }
    return "event stream: unknown error";
}

void sl_es_decoder_init(struct sl_es_decoder *d, size_t max_frame, sl_es_message_cb cb, void *arg)
{
    if (max_frame == 0)
        max_frame = SL_ES_DEFAULT_MAX_FRAME;
    if (max_frame > UINT32_MAX)
        max_frame = UINT32_MAX;
    *d = (struct sl_es_decoder){.cb = cb, .arg = arg, .max_frame = max_frame};
    sl_buf_init(&d->partial, max_frame);
}

void sl_es_decoder_release(struct sl_es_decoder *d)
{
    sl_buf_release(&d->partial);
}

/* Leaves the decoder failed with `err`; detail = its text + the printf tail. */
__attribute__((format(printf, 3, 4))) static int fail(struct sl_es_decoder *d, int err,
                                                      const char *fmt, ...)
{
    d->error = err;
    int n = snprintf(d->detail, sizeof(d->detail), "%s", sl_es_strerror(err));
    if (n > 0 && (size_t)n < sizeof(d->detail)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->detail + n, sizeof(d->detail) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Checks a 12-byte prelude; sets *total. */
static int check_prelude(struct sl_es_decoder *d, const unsigned char *p, uint32_t *total)
{
    uint32_t want = be32(p + 8), got = sl_crc32(0, p, 8);
    if (want != got)
        return fail(d, SL_ES_E_PRELUDE_CRC, ": frame says 0x%08x, bytes give 0x%08x", want, got);
    uint32_t t = be32(p), h = be32(p + 4);
    if (t < SL_ES_MIN_FRAME || h > t - SL_ES_MIN_FRAME)
        return fail(d, SL_ES_E_LENGTHS, ": total %u, headers %u", t, h);
    if (t > d->max_frame)
        return fail(d, SL_ES_E_TOO_BIG, ": %u bytes, limit %u", t, (uint32_t)d->max_frame);
    *total = t;
    return 0;
}

/* Parses the headers of a frame whose CRCs are verified. */
static int parse_headers(struct sl_es_decoder *d, const unsigned char *p, size_t len,
                         struct sl_es_header *h, size_t *n)
{
    const unsigned char *end = p + len;
    *n = 0;
    while (p < end) {
        if (*n == SL_ES_MAX_HEADERS)
            return fail(d, SL_ES_E_TOO_MANY_HEADERS, ": more than %d", SL_ES_MAX_HEADERS);
        struct sl_es_header *x = &h[(*n)++];
        size_t nl = *p++;
        if (nl == 0 || (size_t)(end - p) < nl + 1)
            return fail(d, SL_ES_E_HEADER, ": header %u name (length %u)", (uint32_t)*n,
                        (uint32_t)nl);
        x->name = (struct sl_str){(const char *)p, nl};
        p += nl;
        unsigned type = *p++;
        x->num = 0;
        x->str = (struct sl_str){"", 0};
        size_t avail = (size_t)(end - p), need;
        switch (type) {
        case SL_ES_TRUE:
        case SL_ES_FALSE:
            x->type = (enum sl_es_type)type;
            x->num = type == SL_ES_TRUE;
            continue;
        case SL_ES_BYTE:
            need = 1;
            break;
        case SL_ES_SHORT:
            need = 2;
            break;
        case SL_ES_INT:
            need = 4;
            break;
        case SL_ES_LONG:
        case SL_ES_TIMESTAMP:
            need = 8;
            break;
        case SL_ES_UUID:
            need = 16;
            break;
        case SL_ES_BYTES:
        case SL_ES_STRING:
            if (avail < 2)
                return fail(d, SL_ES_E_HEADER, ": header %u value length cut (%u bytes left)",
                            (uint32_t)*n, (uint32_t)avail);
            need = (size_t)p[0] << 8 | p[1];
            p += 2;
            avail -= 2;
            break;
        default:
            return fail(d, SL_ES_E_HEADER, ": header %u has unknown type %u", (uint32_t)*n, type);
        }
        x->type = (enum sl_es_type)type;
        if (avail < need)
            return fail(d, SL_ES_E_HEADER, ": header %u value needs %u bytes", (uint32_t)*n,
                        (uint32_t)need);
        switch (x->type) {
        case SL_ES_BYTE:
            x->num = (int8_t)p[0];
            break;
        case SL_ES_SHORT:
            x->num = (int16_t)(uint16_t)(p[0] << 8 | p[1]);
            break;
        case SL_ES_INT:
            x->num = (int32_t)be32(p);
            break;
        case SL_ES_LONG:
        case SL_ES_TIMESTAMP:
            x->num = (int64_t)be64(p);
            break;
        default: /* bytes, string, uuid */
            x->str = (struct sl_str){(const char *)p, need};
            break;
        }
        p += need;
    }
    return 0;
}

/* Verifies the message CRC of a complete frame, parses it, calls back. */
static int deliver(struct sl_es_decoder *d, const unsigned char *f, uint32_t total)
{
    uint32_t want = be32(f + total - 4), got = sl_crc32(0, f, total - 4);
    if (want != got)
        return fail(d, SL_ES_E_MESSAGE_CRC, ": frame says 0x%08x, bytes give 0x%08x", want, got);
    uint32_t hlen = be32(f + 4);
    struct sl_es_header h[SL_ES_MAX_HEADERS];
    struct sl_es_message m = {.headers = h};
    int rc = parse_headers(d, f + SL_ES_PRELUDE_LEN, hlen, h, &m.n_headers);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < m.n_headers; i++) {
        if (h[i].type != SL_ES_STRING)
            continue;
        if (sl_str_eq(h[i].name, ":message-type"))
            m.message_type = h[i].str;
        else if (sl_str_eq(h[i].name, ":event-type"))
            m.event_type = h[i].str;
        else if (sl_str_eq(h[i].name, ":content-type"))
            m.content_type = h[i].str;
        else if (sl_str_eq(h[i].name, ":exception-type"))
            m.exception_type = h[i].str;
    }
    m.payload = f + SL_ES_PRELUDE_LEN + hlen;
    m.payload_len = total - SL_ES_MIN_FRAME - hlen;
    d->messages++;
    rc = d->cb ? d->cb(d->arg, &m) : 0;
    if (rc != 0)
        fail(d, SL_ES_E_STOPPED, "%s", "");
    return rc;
}

static int gather(struct sl_es_decoder *d, const unsigned char **p, size_t *len, size_t upto)
{
    size_t take = upto - d->partial.len;
    if (take > *len)
        take = *len;
    if (sl_buf_append(&d->partial, *p, take) != 0)
        return fail(d, SL_ES_E_NOMEM, "%s", "");
    *p += take;
    *len -= take;
    return 0;
}

int sl_es_decoder_feed(struct sl_es_decoder *d, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t total;
    int rc;
    if (d->error)
        return d->error;
    while (len > 0) {
        if (d->partial.len == 0 && len >= SL_ES_PRELUDE_LEN) {
            /* Fast path: a whole frame inside the chunk, decoded in place. */
            if ((rc = check_prelude(d, p, &total)) != 0)
                return rc;
            if (len >= total) {
                if ((rc = deliver(d, p, total)) != 0)
                    return rc;
                p += total;
                len -= total;
                continue;
            }
        }
        if (d->partial.len < SL_ES_PRELUDE_LEN) {
            if ((rc = gather(d, &p, &len, SL_ES_PRELUDE_LEN)) != 0)
                return rc;
            if (d->partial.len < SL_ES_PRELUDE_LEN)
                break;
        }
        if ((rc = check_prelude(d, (const unsigned char *)d->partial.ptr, &total)) != 0)
            return rc;
        if ((rc = gather(d, &p, &len, total)) != 0)
            return rc;
        if (d->partial.len < total)
            break;
        rc = deliver(d, (const unsigned char *)d->partial.ptr, total);
        sl_buf_reset(&d->partial);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sl_es_decoder_finish(struct sl_es_decoder *d)
{
    if (d->error)
        return d->error;
    if (d->partial.len > 0)
        return fail(d, SL_ES_E_TRUNCATED, ": %zu bytes of a frame", d->partial.len);
    return 0;
}

static size_t value_size(const struct sl_es_header *h)
{
    switch (h->type) {
    case SL_ES_TRUE:
    case SL_ES_FALSE:
        return 0;
    case SL_ES_BYTE:
        return 1;
    case SL_ES_SHORT:
        return 2;
    case SL_ES_INT:
        return 4;
    case SL_ES_LONG:
    case SL_ES_TIMESTAMP:
        return 8;
    case SL_ES_UUID:
        return 16;
    case SL_ES_BYTES:
    case SL_ES_STRING:
        return 2 + h->str.len;
    }
    return SIZE_MAX;
}

int sl_eventstream_encode(struct sl_buf *out, const struct sl_es_header *headers, size_t n,
                          const void *payload, size_t payload_len)
{
    size_t hlen = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sl_es_header *h = &headers[i];
        size_t vs = value_size(h);
        if (h->name.len == 0 || h->name.len > 255 || vs == SIZE_MAX ||
            ((h->type == SL_ES_BYTES || h->type == SL_ES_STRING) && h->str.len > 65535) ||
            (h->type == SL_ES_UUID && h->str.len != 16))
            return UV_EINVAL;
        hlen += 1 + h->name.len + 1 + vs;
    }
    if (hlen > UINT32_MAX - SL_ES_MIN_FRAME || payload_len > UINT32_MAX - SL_ES_MIN_FRAME - hlen)
        return UV_EINVAL;
    size_t total = SL_ES_MIN_FRAME + hlen + payload_len;
    int rc = sl_buf_reserve(out, total);
    if (rc != 0)
        return rc;
    unsigned char *f = (unsigned char *)out->ptr + out->len, *w = f;
    put32(w, (uint32_t)total);
    put32(w + 4, (uint32_t)hlen);
    put32(w + 8, sl_crc32(0, w, 8));
    w += SL_ES_PRELUDE_LEN;
    for (size_t i = 0; i < n; i++) {
        const struct sl_es_header *h = &headers[i];
        *w++ = (unsigned char)h->name.len;
        memcpy(w, h->name.ptr, h->name.len);
        w += h->name.len;
        *w++ = (unsigned char)h->type;
        uint64_t v = (uint64_t)h->num;
        switch (h->type) {
        case SL_ES_TRUE:
        case SL_ES_FALSE:
            break;
        case SL_ES_BYTE:
            *w++ = (unsigned char)v;
            break;
        case SL_ES_SHORT:
            *w++ = (unsigned char)(v >> 8);
            *w++ = (unsigned char)v;
            break;
        case SL_ES_INT:
            put32(w, (uint32_t)v);
            w += 4;
            break;
        case SL_ES_LONG:
        case SL_ES_TIMESTAMP:
            put32(w, (uint32_t)(v >> 32));
            put32(w + 4, (uint32_t)v);
            w += 8;
            break;
        case SL_ES_UUID:
            memcpy(w, h->str.ptr, 16);
            w += 16;
            break;
        case SL_ES_BYTES:
        case SL_ES_STRING:
            *w++ = (unsigned char)(h->str.len >> 8);
            *w++ = (unsigned char)h->str.len;
            if (h->str.len)
                memcpy(w, h->str.ptr, h->str.len);
            w += h->str.len;
            break;
        }
    }
    if (payload_len)
        memcpy(w, payload, payload_len);
    w += payload_len;
    put32(w, sl_crc32(0, f, (size_t)(w - f)));
    sl_buf_commit(out, total);
    return 0;
}
