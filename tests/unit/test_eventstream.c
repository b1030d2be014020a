/* AWS event stream codec (src/providers/eventstream.c): AWS's example
 * frames (aws-c-event-stream's tests), every header type through the
 * encoder and back, a stream split at every byte boundary, both CRCs, the
 * length checks, the frame bound, truncation and a consumer stop. */
#include <stdio.h>
#include <string.h>

#include "../support.h"
#include "core/crc32.h"
#include "providers/eventstream.h"

#define S(lit) ((struct sl_str){lit, sizeof(lit) - 1})

/* Records every message as one line: "hdr=value;...|payload". */
struct rec {
    struct sl_buf log;
    int messages;
    int stop_after;
};

static int rec_cb(void *arg, const struct sl_es_message *m)
{
    struct rec *r = arg;
    char tmp[64];
    for (size_t i = 0; i < m->n_headers; i++) {
        const struct sl_es_header *h = &m->headers[i];
        sl_buf_append(&r->log, h->name.ptr, h->name.len);
        snprintf(tmp, sizeof(tmp), "=%d:", (int)h->type);
        sl_buf_append(&r->log, tmp, strlen(tmp));
        if (h->type == SL_ES_STRING || h->type == SL_ES_BYTES) {
            sl_buf_append(&r->log, h->str.ptr, h->str.len);
        } else if (h->type == SL_ES_UUID) {
            for (size_t k = 0; k < 16; k++) {
                snprintf(tmp, sizeof(tmp), "%02x", (unsigned char)h->str.ptr[k]);
                sl_buf_append(&r->log, tmp, 2);
            }
        } else {
            snprintf(tmp, sizeof(tmp), "%lld", (long long)h->num);
            sl_buf_append(&r->log, tmp, strlen(tmp));
        }
        sl_buf_append(&r->log, ";", 1);
    }
    sl_buf_append(&r->log, "|", 1);
    sl_buf_append(&r->log, m->payload, m->payload_len);
    sl_buf_append(&r->log, "\n", 1);
    r->messages++;
    return r->stop_after && r->messages >= r->stop_after ? 7 : 0;
}

static void rec_init(struct rec *r)
{
    *r = (struct rec){0};
    sl_buf_init(&r->log, 1 << 22);
    sl_buf_append(&r->log, "", 0);
}

/* The frames of aws-c-event-stream's message_deserializer_test.c. */
static const unsigned char aws_no_op[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
                                          0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff};
static const unsigned char aws_no_headers[] = {
    0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
    0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36};
static const unsigned char aws_one_header[] = {
    0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C, 'c',  'o',  'n',
    't',  'e',  'n',  't',  '-',  't',  'y',  'p',  'e',  0x07, 0x00, 0x10, 'a',  'p',  'p',  'l',
    'i',  'c',  'a',  't',  'i',  'o',  'n',  '/',  'j',  's',  'o',  'n',  0x7b, 0x27, 0x66, 0x6f,
    0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0x8D, 0x9C, 0x08, 0xB1};

Test(crc32, matches_zlib)
{
    cr_assert_eq(sl_crc32(0, "123456789", 9), 0xcbf43926u);
    cr_assert_eq(sl_crc32(0, "", 0), 0);
    cr_assert_eq(sl_crc32(sl_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

Test(eventstream, aws_example_frames)
{
    struct rec r;
    rec_init(&r);
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 0, rec_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, aws_no_op, sizeof(aws_no_op)), 0);
    cr_assert_eq(sl_es_decoder_feed(&d, aws_no_headers, sizeof(aws_no_headers)), 0);
    cr_assert_eq(sl_es_decoder_feed(&d, aws_one_header, sizeof(aws_one_header)), 0);
    cr_assert_eq(sl_es_decoder_finish(&d), 0);
    cr_assert_str_eq(r.log.ptr,
                     "|\n|{'foo':'bar'}\ncontent-type=7:application/json;|{'foo':'bar'}\n");
    sl_es_decoder_release(&d);
    sl_buf_release(&r.log);

    /* The encoder writes the same bytes. */
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_eventstream_encode(&out, NULL, 0, NULL, 0), 0);
    cr_assert_eq(out.len, sizeof(aws_no_op));
    cr_assert_eq(memcmp(out.ptr, aws_no_op, out.len), 0);
    sl_buf_reset(&out);
    cr_assert_eq(sl_eventstream_encode(&out, NULL, 0, "{'foo':'bar'}", 13), 0);
    cr_assert_eq(memcmp(out.ptr, aws_no_headers, sizeof(aws_no_headers)), 0);
    sl_buf_reset(&out);
    struct sl_es_header h = {
        .name = S("content-type"), .type = SL_ES_STRING, .str = S("application/json")};
    cr_assert_eq(sl_eventstream_encode(&out, &h, 1, "{'foo':'bar'}", 13), 0);
    cr_assert_eq(out.len, sizeof(aws_one_header));
    cr_assert_eq(memcmp(out.ptr, aws_one_header, out.len), 0);
    sl_buf_release(&out);
}

/* A ConverseStream-like stream: every header type, Bedrock's routing
 * headers, empty and binary payloads. */
static void build_stream(struct sl_buf *out)
{
    static const char uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, (char)0xff};
    struct sl_es_header all[] = {
        {.name = S("t"), .type = SL_ES_TRUE},
        {.name = S("f"), .type = SL_ES_FALSE},
        {.name = S("byte"), .type = SL_ES_BYTE, .num = -7},
        {.name = S("short"), .type = SL_ES_SHORT, .num = -300},
        {.name = S("int"), .type = SL_ES_INT, .num = -70000},
        {.name = S("long"), .type = SL_ES_LONG, .num = -5000000000LL},
        {.name = S("bytes"), .type = SL_ES_BYTES, .str = {"\0\x01\xff", 3}},
        {.name = S("string"), .type = SL_ES_STRING, .str = S("text")},
        {.name = S("ts"), .type = SL_ES_TIMESTAMP, .num = 1733054400000LL},
        {.name = S("uuid"), .type = SL_ES_UUID, .str = {uuid, 16}},
    };
    struct sl_es_header delta[] = {
        {.name = S(":event-type"), .type = SL_ES_STRING, .str = S("contentBlockDelta")},
        {.name = S(":content-type"), .type = SL_ES_STRING, .str = S("application/json")},
        {.name = S(":message-type"), .type = SL_ES_STRING, .str = S("event")},
    };
    struct sl_es_header exc[] = {
        {.name = S(":exception-type"), .type = SL_ES_STRING, .str = S("throttlingException")},
        {.name = S(":message-type"), .type = SL_ES_STRING, .str = S("exception")},
    };
    const char *p1 = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abcd\"}";
    cr_assert_eq(sl_eventstream_encode(out, all, 10, "\0bin\0", 5), 0);
    cr_assert_eq(sl_eventstream_encode(out, delta, 3, p1, strlen(p1)), 0);
    cr_assert_eq(sl_eventstream_encode(out, NULL, 0, NULL, 0), 0);
    cr_assert_eq(sl_eventstream_encode(out, exc, 2, "{\"message\":\"slow down\"}", 23), 0);
}

static const char stream_log[] =
    "t=0:1;f=1:0;byte=2:-7;short=3:-300;int=4:-70000;long=5:-5000000000;bytes=6:\0\x01\xff;"
    "string=7:text;ts=8:1733054400000;uuid=9:0102030405060708090a0b0c0d0e0fff;|\0bin\0\n"
    ":event-type=7:contentBlockDelta;:content-type=7:application/json;:message-type=7:event;|"
    "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abcd\"}\n"
    "|\n"
    ":exception-type=7:throttlingException;:message-type=7:exception;|"
    "{\"message\":\"slow down\"}\n";

static void feed_pieces(const char *in, size_t len, const size_t *cuts, size_t ncuts, struct rec *r)
{
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 0, rec_cb, r);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        cr_assert_eq(sl_es_decoder_feed(&d, in + at, end - at), 0, "%s", d.detail);
        cr_assert_leq(d.partial.len, SL_ES_DEFAULT_MAX_FRAME);
        at = end;
    }
    cr_assert_eq(sl_es_decoder_finish(&d), 0);
    sl_es_decoder_release(&d);
}

Test(eventstream, every_header_type_split_at_every_byte)
{
    struct sl_buf s;
    sl_buf_init(&s, 1 << 16);
    build_stream(&s);
    size_t want_len = sizeof(stream_log) - 1;

    struct rec r;
    rec_init(&r);
    feed_pieces(s.ptr, s.len, NULL, 0, &r);
    cr_assert_eq(r.messages, 4);
    cr_assert_eq(r.log.len, want_len);
    cr_assert_eq(memcmp(r.log.ptr, stream_log, want_len), 0, "got %s", r.log.ptr);
    sl_buf_release(&r.log);

    /* Two pieces, cut at every offset; three pieces, at every pair. */
    for (size_t c = 0; c <= s.len; c++) {
        rec_init(&r);
        feed_pieces(s.ptr, s.len, &c, 1, &r);
        cr_assert_eq(r.log.len, want_len, "cut at %zu", c);
        cr_assert_eq(memcmp(r.log.ptr, stream_log, want_len), 0, "cut at %zu", c);
        sl_buf_release(&r.log);
    }
    for (size_t a = 0; a <= s.len; a += 3)
        for (size_t b = a; b <= s.len; b += 5) {
            size_t cuts[2] = {a, b};
            rec_init(&r);
            feed_pieces(s.ptr, s.len, cuts, 2, &r);
            cr_assert_eq(memcmp(r.log.ptr, stream_log, want_len), 0, "cuts %zu %zu", a, b);
            sl_buf_release(&r.log);
        }
    /* One byte at a time. */
    size_t *cuts = malloc(s.len * sizeof(*cuts));
    for (size_t i = 0; i < s.len; i++)
        cuts[i] = i;
    rec_init(&r);
    feed_pieces(s.ptr, s.len, cuts, s.len, &r);
    cr_assert_eq(memcmp(r.log.ptr, stream_log, want_len), 0);
    sl_buf_release(&r.log);
    free(cuts);
    sl_buf_release(&s);
}

/* Feeds `in` whole and byte by byte; both must fail with `want`. */
static void expect_error(const unsigned char *in, size_t len, size_t max_frame, int want,
                         int want_messages)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct rec r;
        rec_init(&r);
        struct sl_es_decoder d;
        sl_es_decoder_init(&d, max_frame, rec_cb, &r);
        int rc = 0;
        if (bytewise) {
            for (size_t i = 0; i < len && rc == 0; i++)
                rc = sl_es_decoder_feed(&d, in + i, 1);
        } else {
            rc = sl_es_decoder_feed(&d, in, len);
        }
        cr_assert_eq(rc, want, "bytewise %d: got %d (%s)", bytewise, rc, d.detail);
        cr_assert_eq(r.messages, want_messages);
        cr_assert_eq(strncmp(d.detail, sl_es_strerror(want), strlen(sl_es_strerror(want))), 0);
        cr_assert_eq(sl_es_decoder_feed(&d, in, len), want, "stays failed");
        sl_es_decoder_release(&d);
        sl_buf_release(&r.log);
    }
}

Test(eventstream, crc_corruption_is_detected)
{
    unsigned char f[sizeof(aws_one_header)];
    for (size_t i = 0; i < sizeof(f); i++) {
        memcpy(f, aws_one_header, sizeof(f));
        f[i] ^= 0x10;
        /* A flipped length or prelude CRC byte fails the prelude check;
         * anything after, the message check. */
        expect_error(f, sizeof(f), 0, i < 12 ? SL_ES_E_PRELUDE_CRC : SL_ES_E_MESSAGE_CRC, 0);
    }
    /* A good frame before the bad one is delivered. */
    unsigned char two[sizeof(aws_no_op) + sizeof(aws_no_headers)];
    memcpy(two, aws_no_op, sizeof(aws_no_op));
    memcpy(two + sizeof(aws_no_op), aws_no_headers, sizeof(aws_no_headers));
    two[sizeof(two) - 1] ^= 1;
    expect_error(two, sizeof(two), 0, SL_ES_E_MESSAGE_CRC, 1);
}

/* A prelude with the given lengths and a correct CRC. */
static void prelude(unsigned char *p, uint32_t total, uint32_t hlen)
{
    uint32_t v[2] = {total, hlen};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++)
            p[4 * k + i] = (unsigned char)(v[k] >> (24 - 8 * i));
    uint32_t c = sl_crc32(0, p, 8);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (unsigned char)(c >> (24 - 8 * i));
}

Test(eventstream, lengths_and_the_frame_bound)
{
    unsigned char p[12];
    prelude(p, 15, 0);
    expect_error(p, 12, 0, SL_ES_E_LENGTHS, 0);
    prelude(p, 20, 5);
    expect_error(p, 12, 0, SL_ES_E_LENGTHS, 0);
    prelude(p, 0xffffffffu, 0);
    expect_error(p, 12, 0, SL_ES_E_TOO_BIG, 0);
    prelude(p, 1024 * 1024 + 1, 0);
    expect_error(p, 12, 0, SL_ES_E_TOO_BIG, 0);
    prelude(p, 101, 0);
    expect_error(p, 12, 100, SL_ES_E_TOO_BIG, 0);

    /* Refused from the prelude: nothing of the frame is buffered. */
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 100, NULL, NULL);
    cr_assert_eq(sl_es_decoder_feed(&d, p, 6), 0);
    cr_assert_eq(sl_es_decoder_feed(&d, p + 6, 6), SL_ES_E_TOO_BIG);
    cr_assert_leq(d.partial.len, 12);
    cr_assert_str_eq(d.detail, "event stream: frame over the size limit: 101 bytes, limit 100");
    sl_es_decoder_release(&d);

    /* A frame of exactly the limit passes. */
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    char payload[84] = {0};
    cr_assert_eq(sl_eventstream_encode(&out, NULL, 0, payload, sizeof(payload)), 0);
    cr_assert_eq(out.len, 100);
    struct rec r;
    rec_init(&r);
    sl_es_decoder_init(&d, 100, rec_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, out.ptr, 50), 0);
    cr_assert_eq(sl_es_decoder_feed(&d, out.ptr + 50, 50), 0);
    cr_assert_eq(r.messages, 1);
    sl_es_decoder_release(&d);
    sl_buf_release(&r.log);
    sl_buf_release(&out);
}

/* Re-seals a frame after a test changed it, so only the header check fails. */
static void reseal(unsigned char *f, size_t len)
{
    uint32_t c = sl_crc32(0, f, len - 4);
    for (int i = 0; i < 4; i++)
        f[len - 4 + i] = (unsigned char)(c >> (24 - 8 * i));
}

Test(eventstream, malformed_headers)
{
    unsigned char f[sizeof(aws_one_header)];
    memcpy(f, aws_one_header, sizeof(f));
    f[12 + 1 + 12] = 10; /* type 10 does not exist */
    reseal(f, sizeof(f));
    expect_error(f, sizeof(f), 0, SL_ES_E_HEADER, 0);

    memcpy(f, aws_one_header, sizeof(f));
    f[12 + 1 + 12 + 2] = 0x11; /* string length 17 > what is left */
    reseal(f, sizeof(f));
    expect_error(f, sizeof(f), 0, SL_ES_E_HEADER, 0);

    memcpy(f, aws_one_header, sizeof(f));
    f[12] = 40; /* name past the headers */
    reseal(f, sizeof(f));
    expect_error(f, sizeof(f), 0, SL_ES_E_HEADER, 0);

    memcpy(f, aws_one_header, sizeof(f));
    f[12] = 0; /* empty name */
    reseal(f, sizeof(f));
    expect_error(f, sizeof(f), 0, SL_ES_E_HEADER, 0);

    /* More headers than the decoder keeps. */
    struct sl_es_header h[SL_ES_MAX_HEADERS + 1];
    for (size_t i = 0; i <= SL_ES_MAX_HEADERS; i++)
        h[i] = (struct sl_es_header){.name = S("x"), .type = SL_ES_TRUE};
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_eventstream_encode(&out, h, SL_ES_MAX_HEADERS, NULL, 0), 0);
    struct rec r;
    rec_init(&r);
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 0, rec_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, out.ptr, out.len), 0, "the maximum is fine");
    sl_es_decoder_release(&d);
    sl_buf_release(&r.log);
    sl_buf_reset(&out);
    cr_assert_eq(sl_eventstream_encode(&out, h, SL_ES_MAX_HEADERS + 1, NULL, 0), 0);
    expect_error((const unsigned char *)out.ptr, out.len, 0, SL_ES_E_TOO_MANY_HEADERS, 0);
    sl_buf_release(&out);
}

Test(eventstream, encoder_refusals)
{
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    char big[300];
    memset(big, 'a', sizeof(big));
    struct sl_es_header h = {.name = {big, 256}, .type = SL_ES_TRUE};
    cr_assert_eq(sl_eventstream_encode(&out, &h, 1, NULL, 0), UV_EINVAL);
    h = (struct sl_es_header){.name = S("u"), .type = SL_ES_UUID, .str = S("short")};
    cr_assert_eq(sl_eventstream_encode(&out, &h, 1, NULL, 0), UV_EINVAL);
    h = (struct sl_es_header){.name = S("x"), .type = (enum sl_es_type)11};
    cr_assert_eq(sl_eventstream_encode(&out, &h, 1, NULL, 0), UV_EINVAL);
    cr_assert_eq(out.len, 0);
    sl_buf_release(&out);
}

Test(eventstream, truncation_and_stop)
{
    struct rec r;
    rec_init(&r);
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 0, rec_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, aws_no_headers, 20), 0);
    cr_assert_eq(sl_es_decoder_finish(&d), SL_ES_E_TRUNCATED);
    cr_assert_str_eq(d.detail, "event stream: stream ended inside a frame: 20 bytes of a frame");
    sl_es_decoder_release(&d);
    sl_buf_release(&r.log);

    /* A consumer's stop ends the feed at once, with its own value. */
    struct sl_buf s;
    sl_buf_init(&s, 1 << 16);
    build_stream(&s);
    rec_init(&r);
    r.stop_after = 2;
    sl_es_decoder_init(&d, 0, rec_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, s.ptr, s.len), 7);
    cr_assert_eq(r.messages, 2);
    cr_assert_eq(sl_es_decoder_feed(&d, s.ptr, s.len), SL_ES_E_STOPPED);
    sl_es_decoder_release(&d);
    sl_buf_release(&r.log);
    sl_buf_release(&s);
}

struct routing {
    int n;
    char line[4][160];
};

static int routing_cb(void *arg, const struct sl_es_message *m)
{
    struct routing *r = arg;
    cr_assert_lt(r->n, 4);
    snprintf(r->line[r->n++], sizeof(r->line[0]), "%.*s|%.*s|%.*s|%.*s", (int)m->message_type.len,
             m->message_type.ptr, (int)m->event_type.len, m->event_type.ptr,
             (int)m->content_type.len, m->content_type.ptr, (int)m->exception_type.len,
             m->exception_type.ptr);
    return 0;
}

Test(eventstream, routing_headers)
{
    struct sl_buf s;
    sl_buf_init(&s, 1 << 16);
    build_stream(&s);
    struct routing r = {0};
    struct sl_es_decoder d;
    sl_es_decoder_init(&d, 0, routing_cb, &r);
    cr_assert_eq(sl_es_decoder_feed(&d, s.ptr, s.len), 0);
    cr_assert_eq(r.n, 4);
    cr_assert_str_eq(r.line[0], "|||");
    cr_assert_str_eq(r.line[1], "event|contentBlockDelta|application/json|");
    cr_assert_str_eq(r.line[2], "|||");
    cr_assert_str_eq(r.line[3], "exception|||throttlingException");
    cr_assert_eq(d.messages, 4);
    sl_es_decoder_release(&d);
    sl_buf_release(&s);
}
