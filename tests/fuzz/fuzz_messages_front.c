/* Fuzz target: the Anthropic Messages API in front
 * (src/providers/messages_*.c), which reads what a client sends (an
 * Anthropic request) and what an upstream adapter hands back (an OpenAI
 * chat.completion, its chunks, an error body), and the native
 * pass-through's scanners of Anthropic messages and events.
 *
 * The input is used as an SSE stream (the events' data fed to the chunk
 * translator, fed whole and in random pieces: the same bytes) whose output
 * must be a well-formed Anthropic event sequence: every event one JSON
 * object typed as its name, message_start first, blocks opened, filled
 * and closed in order with indexes counting from 0, message_delta then
 * message_stop last, or an error event last; and the existing Anthropic
 * stream translator (anthropic_stream.c) must take that output without a
 * protocol error. The same events go through the Anthropic scanner. As a
 * body: the request, response and error translations give one JSON object
 * or a refusal naming a field in one line, within their bound. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "http/json_scan.h"
#include "http/sse.h"
#include "providers/messages_front.h"

#define OUT_MAX (1u << 20)

struct run {
    struct sl_messages_stream s;
    struct sl_anthropic_scan scan;
    struct sl_buf out;
    int rc;
};

static void on_event(void *arg, const struct sl_sse_event *ev)
{
    struct run *r = arg;
    size_t before = r->out.len;
    enum sl_messages_stream_state was = r->s.state;
    int rc = sl_messages_stream_event(&r->s, ev->data, ev->data_len, &r->out);
    FUZZ_CHECK(rc == 0 || rc == UV_EPROTO || rc == UV_ENOBUFS);
    if (was == SL_MS_DONE || was == SL_MS_FAILED)
        FUZZ_CHECK(r->out.len == before && rc == 0);
    if (rc)
        FUZZ_CHECK(r->s.state == SL_MS_FAILED);
    if (rc && r->rc == 0)
        r->rc = rc;
    sl_anthropic_scan_event(&r->scan, ev->event, ev->event_len, ev->data, ev->data_len);
    FUZZ_CHECK(r->scan.usage.prompt >= r->scan.usage.cached);
}

/* The translated events, checked as Anthropic's protocol and fed to the
 * Anthropic -> OpenAI stream translator. */
struct check {
    int started, done, failed;
    long blocks;    /* opened */
    int open;       /* a block is open */
    int delta_seen; /* message_delta */
    struct sl_anthropic_stream back;
    struct sl_buf back_out;
};

static int named(const struct sl_sse_event *ev, const char *name)
{
    return ev->event_len == strlen(name) && memcmp(ev->event, name, ev->event_len) == 0;
}

static long index_of(const struct sl_json_doc *doc)
{
    struct sl_json_member m;
    FUZZ_CHECK(sl_json_get(doc, "index", &m) && m.type == SL_JSON_NUMBER);
    return strtol(m.value.ptr, NULL, 10);
}

static void on_translated(void *arg, const struct sl_sse_event *ev)
{
    struct check *c = arg;
    FUZZ_CHECK(!c->done && !c->failed);
    struct sl_json_doc doc;
    struct sl_json_member type;
    FUZZ_CHECK(sl_json_scan(ev->data, ev->data_len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
    FUZZ_CHECK(sl_json_get(&doc, "type", &type) && type.type == SL_JSON_STRING);
    FUZZ_CHECK(ev->event && type.value.len == ev->event_len &&
               memcmp(type.value.ptr, ev->event, ev->event_len) == 0);
    if (named(ev, "error")) {
        c->failed = 1;
    } else if (named(ev, "message_start")) {
        FUZZ_CHECK(!c->started);
        c->started = 1;
    } else {
        FUZZ_CHECK(c->started && !c->delta_seen == !named(ev, "message_stop"));
        if (named(ev, "content_block_start")) {
            FUZZ_CHECK(!c->open && index_of(&doc) == c->blocks);
            c->blocks++;
            c->open = 1;
        } else if (named(ev, "content_block_delta") || named(ev, "content_block_stop")) {
            FUZZ_CHECK(c->open && index_of(&doc) == c->blocks - 1);
            c->open = !named(ev, "content_block_stop");
        } else if (named(ev, "message_delta")) {
            FUZZ_CHECK(!c->open && !c->delta_seen);
            c->delta_seen = 1;
        } else {
            FUZZ_CHECK(named(ev, "message_stop"));
            c->done = 1;
        }
    }
    int rc = sl_anthropic_stream_event(&c->back, ev->event, ev->event_len, ev->data, ev->data_len,
                                       &c->back_out);
    FUZZ_CHECK(rc == 0);
}

static void stream(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct run a, b;
    struct sl_sse_parser pa, pb;
    const char *id = fuzz_rng_next(rng) & 1 ? "msg_\"gw\"" : NULL;
    const char *model = fuzz_rng_next(rng) & 1 ? "claude \"x\"" : NULL;
    sl_messages_stream_init(&a.s, id, model);
    sl_messages_stream_init(&b.s, id, model);
    sl_anthropic_scan_init(&a.scan);
    sl_anthropic_scan_init(&b.scan);
    /* sometimes a bound that the translation reaches */
    size_t max = fuzz_rng_next(rng) % 4 == 0 ? (size_t)(fuzz_rng_next(rng) % 4096) : OUT_MAX;
    sl_buf_init(&a.out, max);
    sl_buf_init(&b.out, max);
    a.rc = b.rc = 0;
    sl_sse_parser_init(&pa, 1 << 16, on_event, &a);
    sl_sse_parser_init(&pb, 1 << 16, on_event, &b);
    int ra = sl_sse_parser_feed(&pa, d, size);
    int rb = 0;
    for (size_t pos = 0; pos < size && rb == 0;) {
        size_t n = fuzz_piece(rng, size - pos);
        rb = sl_sse_parser_feed(&pb, d + pos, n);
        pos += n;
    }
    FUZZ_CHECK(ra == 0 || ra == UV_E2BIG);
    FUZZ_CHECK(a.out.len <= max && b.out.len <= max);
    if (ra == 0 && rb == 0) { /* the same events: the same bytes */
        FUZZ_CHECK(a.out.len == b.out.len &&
                   (a.out.len == 0 || memcmp(a.out.ptr, b.out.ptr, a.out.len) == 0));
        FUZZ_CHECK(a.s.state == b.s.state && a.rc == b.rc);
        FUZZ_CHECK(a.scan.state == b.scan.state);
    }
    int full = a.rc == UV_ENOBUFS;
    if (full)
        FUZZ_CHECK(a.s.state == SL_MS_FAILED && a.s.err == SL_E_TOO_LARGE);
    struct check c = {0};
    sl_anthropic_stream_init(&c.back, "m", 1, 1);
    sl_buf_init(&c.back_out, 8 * OUT_MAX);
    struct sl_sse_parser pc;
    sl_sse_parser_init(&pc, OUT_MAX + 1, on_translated, &c);
    FUZZ_CHECK(sl_sse_parser_feed(&pc, a.out.ptr ? a.out.ptr : "", a.out.len) == 0);
    FUZZ_CHECK(sl_sse_parser_finish(&pc) == 0); /* whole events only */
    sl_sse_parser_release(&pc);
    FUZZ_CHECK(c.done == (a.s.state == SL_MS_DONE));
    FUZZ_CHECK(c.failed == (a.s.state == SL_MS_FAILED && !full));
    FUZZ_CHECK((sl_messages_stream_end(&a.s) == 0) == (c.done || c.failed || full));
    if (c.done)
        FUZZ_CHECK(c.back.state == SL_AS_DONE);
    FUZZ_CHECK(a.s.usage.prompt >= a.s.usage.cached);
    sl_buf_release(&c.back_out);
    sl_sse_parser_release(&pa);
    sl_sse_parser_release(&pb);
    sl_buf_release(&a.out);
    sl_buf_release(&b.out);
}

static void assert_object(const struct sl_buf *b)
{
    struct sl_json_doc doc;
    FUZZ_CHECK(b->ptr && sl_json_scan(b->ptr, b->len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
}

static void bodies(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct sl_buf out;
    size_t max = (size_t)(fuzz_rng_next(rng) % 4 == 0 ? fuzz_rng_next(rng) % 512 : OUT_MAX);
    sl_buf_init(&out, max);

    struct sl_messages_req_info info;
    struct sl_xlat_refusal no;
    unsigned flags = fuzz_rng_next(rng) & 1 ? SL_MESSAGES_NO_MAX_TOKENS : 0;
    int rc = sl_messages_request(d, size, flags, &out, &info, &no);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0) {
        assert_object(&out);
        struct sl_json_doc doc;
        struct sl_json_pick p[3] = {{.key = "model"}, {.key = "messages"}, {.key = "max_tokens"}};
        FUZZ_CHECK(sl_json_scan_pick(out.ptr, out.len, &doc, p, 3) == 0);
        FUZZ_CHECK(p[0].found && p[1].found && p[1].m.type == SL_JSON_ARRAY);
        FUZZ_CHECK(p[2].found == (info.max_tokens > 0));
        FUZZ_CHECK(info.max_tokens > 0 || (flags & SL_MESSAGES_NO_MAX_TOKENS));
        FUZZ_CHECK(info.model.ptr >= d && info.model.ptr + info.model.len <= d + size);
        /* what the Anthropic adapter makes of it stays sane too */
        struct sl_buf back;
        struct sl_anthropic_req_opts o = {.default_max_tokens = 16};
        struct sl_anthropic_req_info ai;
        sl_buf_init(&back, OUT_MAX);
        int brc = sl_anthropic_request(out.ptr, out.len, &o, &back, &ai, &no);
        FUZZ_CHECK(brc == 0 || brc == UV_EINVAL);
        if (brc == 0)
            FUZZ_CHECK(ai.stream == info.stream && ai.include_usage == info.stream);
        sl_buf_release(&back);
    }
    if (rc == UV_EINVAL)
        FUZZ_CHECK(no.message[0] && strchr(no.message, '\n') == NULL);

    sl_buf_reset(&out);
    struct sl_xlat_usage u;
    rc = sl_messages_response(d, size, fuzz_rng_next(rng) & 1 ? "msg_\"1" : NULL,
                              fuzz_rng_next(rng) & 1 ? "m\"x" : NULL, &out, &u);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max && u.prompt >= u.cached);
    if (rc == 0)
        assert_object(&out);

    sl_buf_reset(&out);
    struct sl_messages_error e;
    rc = sl_messages_error((int)(fuzz_rng_next(rng) % 700), d, size, &out, &e);
    FUZZ_CHECK(rc == 0 || rc == UV_ENOBUFS);
    FUZZ_CHECK(e.type && e.status >= 400 && e.status < 600);
    if (rc == 0)
        assert_object(&out);

    FUZZ_CHECK(sl_anthropic_usage_scan(d, size, &u) == 0 || u.prompt == 0);
    FUZZ_CHECK(u.prompt >= u.cached);
    sl_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *d = malloc(size ? size : 1);
    memcpy(d, data, size);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    stream(d, size, &rng);
    bodies(d, size, &rng);
    free(d);
    return 0;
}
