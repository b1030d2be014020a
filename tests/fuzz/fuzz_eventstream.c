/* Fuzz target: the AWS event stream decoder of src/providers/eventstream.c,
 * which reads every streamed Bedrock response.
 *
 * Input: a mode byte, then the stream. Mode bit 0 set: the stream's CRCs
 * are repaired first (each frame's prelude and message CRC rewritten as
 * the lengths announce), so that the fuzzer reaches the header parser
 * instead of stopping at the checksums.
 *
 * Checked: the stream fed whole and in random pieces gives the same
 * messages and the same final error; headers and payloads lie inside the
 * input; each delivered message, encoded again with sl_eventstream_encode,
 * gives back exactly its input bytes (the encoding is canonical), so the
 * delivered messages re-encoded are a prefix of the input; the partial
 * frame buffer never passes the frame bound. */
#include <string.h>

#include "core/crc32.h"
#include "fuzz.h"
#include "providers/eventstream.h"

struct log {
    struct sl_buf out; /* the delivered messages, re-encoded */
    const uint8_t *lo, *hi;
    int whole; /* fed in one piece: spans must lie in [lo, hi) */
    unsigned long n;
};

static int inside(const struct log *l, const void *p, size_t n)
{
    const uint8_t *q = p;
    return !l->whole || n == 0 || (q >= l->lo && q + n <= l->hi);
}

static int on_message(void *arg, const struct sl_es_message *m)
{
    struct log *l = arg;
    FUZZ_CHECK(m->n_headers <= SL_ES_MAX_HEADERS);
    FUZZ_CHECK(inside(l, m->payload, m->payload_len));
    for (size_t i = 0; i < m->n_headers; i++) {
        const struct sl_es_header *h = &m->headers[i];
        FUZZ_CHECK(h->name.len >= 1 && h->name.len <= 255);
        FUZZ_CHECK(inside(l, h->name.ptr, h->name.len));
        FUZZ_CHECK(inside(l, h->str.ptr, h->str.len));
        FUZZ_CHECK(h->type != SL_ES_UUID || h->str.len == 16);
    }
    FUZZ_CHECK(
        sl_eventstream_encode(&l->out, m->headers, m->n_headers, m->payload, m->payload_len) == 0);
    l->n++;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Rewrites the CRCs of every frame the lengths describe. */
static void repair(uint8_t *p, size_t size)
{
    size_t at = 0;
    while (size - at >= SL_ES_PRELUDE_LEN) {
        uint8_t *f = p + at;
        uint32_t total = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
        put32(f + 8, sl_crc32(0, f, 8));
        if (total < SL_ES_MIN_FRAME || total > size - at)
            break;
        put32(f + total - 4, sl_crc32(0, f, total - 4));
        at += total;
    }
}

static int run(const uint8_t *in, size_t size, size_t max_frame, struct fuzz_rng *rng,
               struct log *l)
{
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, max_frame, on_message, l);
    int rc = 0;
    size_t at = 0;
    while (at < size && rc == 0) {
        size_t n = rng ? fuzz_piece(rng, size - at) : size - at;
        rc = sl_es_decoder_feed(&d, in + at, n);
        FUZZ_CHECK(d.partial.len <= max_frame);
        at += n;
    }
    if (rc == 0)
        rc = sl_es_decoder_finish(&d);
    FUZZ_CHECK(rc == 0 || (rc <= SL_ES_E_PRELUDE_CRC && rc >= SL_ES_E_NOMEM));
    FUZZ_CHECK(rc == 0 || d.detail[0] != '\0');
    FUZZ_CHECK(d.messages == l->n);
    sl_es_decoder_release(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len = size - 1;
    uint8_t *in = malloc(len ? len : 1);
    FUZZ_CHECK(in != NULL);
    memcpy(in, data + 1, len);
    if (mode & 1)
        repair(in, len);
    /* A small bound now and then, so that the limit is reached. */
    size_t max_frame = (mode & 2) ? 64 + (size_t)(mode >> 2) * 16 : SL_ES_DEFAULT_MAX_FRAME;

    struct log whole = {.lo = in, .hi = in + len, .whole = 1};
    struct log pieces = {0};
    sl_buf_init(&whole.out, 1 << 24);
    sl_buf_init(&pieces.out, 1 << 24);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    int rc_whole = run(in, len, max_frame, NULL, &whole);
    int rc_pieces = run(in, len, max_frame, &rng, &pieces);

    FUZZ_CHECK(rc_whole == rc_pieces);
    FUZZ_CHECK(whole.n == pieces.n);
    FUZZ_CHECK(whole.out.len == pieces.out.len);
    FUZZ_CHECK(whole.out.len == 0 || memcmp(whole.out.ptr, pieces.out.ptr, whole.out.len) == 0);
    /* Re-encoded, the messages are the input's first bytes. */
    FUZZ_CHECK(whole.out.len <= len);
    FUZZ_CHECK(whole.out.len == 0 || memcmp(whole.out.ptr, in, whole.out.len) == 0);
    FUZZ_CHECK(rc_whole != 0 || whole.out.len == len);

    sl_buf_release(&whole.out);
    sl_buf_release(&pieces.out);
    free(in);
    return 0;
}
