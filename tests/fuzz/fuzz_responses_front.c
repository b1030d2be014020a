/* Fuzz target: the Responses front (src/providers/responses_*.c), which
 * reads what a client sends (a Responses request it translates) and what
 * an upstream adapter hands back (a chat.completion, chat chunk events),
 * and the JSON writer under it (src/http/json_write.c).
 *
 * The input is used three ways. As a chat SSE stream through the SSE
 * parser: fed whole and in random pieces it gives the same translated
 * bytes; every translated event is "event: T" with a JSON object whose
 * type is T and whose sequence_number counts from 0; nothing follows
 * response.completed, response.incomplete or response.failed; once done or
 * failed the translator writes nothing more; out and the kept texts stay
 * within their bounds. As a Responses request: an accepted one gives a
 * chat request with a model and at least one message, and an echo object;
 * a refusal names its field in one line. As a chat.completion (with that
 * echo when there is one): an accepted one gives one JSON object. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "http/json_scan.h"
#include "http/sse.h"
#include "providers/responses_front.h"

#define OUT_MAX (1u << 20)

struct run {
    struct sl_responses_stream s;
    struct sl_buf out;
    int rc;
};

static void on_event(void *arg, const struct sl_sse_event *ev)
{
    struct run *r = arg;
    size_t before = r->out.len;
    enum sl_responses_stream_state was = r->s.state;
    int rc = sl_responses_stream_event(&r->s, ev->data, ev->data_len, &r->out);
    FUZZ_CHECK(rc == 0 || rc == UV_EPROTO || rc == UV_E2BIG || rc == UV_ENOBUFS);
    if (was == SL_RS_DONE || was == SL_RS_FAILED)
        FUZZ_CHECK(r->out.len == before && rc == 0);
    if (rc)
        FUZZ_CHECK(r->s.state == SL_RS_FAILED);
    if (rc == UV_ENOBUFS)
        FUZZ_CHECK(r->out.len == before && r->s.err == SL_E_TOO_LARGE);
    FUZZ_CHECK(r->s.acc.len <= r->s.acc.max);
    if (rc && r->rc == 0)
        r->rc = rc;
}

struct check {
    int ended; /* completed, incomplete or failed seen */
    int errors;
    long seq;
};

static void on_translated(void *arg, const struct sl_sse_event *ev)
{
    struct check *c = arg;
    FUZZ_CHECK(!c->ended);
    struct sl_json_doc doc;
    struct sl_json_pick p[2] = {{.key = "type"}, {.key = "sequence_number"}};
    FUZZ_CHECK(sl_json_scan_pick(ev->data, ev->data_len, &doc, p, 2) == 0 &&
               doc.type == SL_JSON_OBJECT);
    FUZZ_CHECK(p[0].found && p[0].m.type == SL_JSON_STRING && ev->event &&
               p[0].m.value.len == ev->event_len &&
               memcmp(p[0].m.value.ptr, ev->event, ev->event_len) == 0);
    FUZZ_CHECK(p[1].found && p[1].m.type == SL_JSON_NUMBER &&
               strtol(p[1].m.value.ptr, NULL, 10) == c->seq);
    c->seq++;
    struct sl_str t = p[0].m.value;
    if (sl_str_eq(t, "error"))
        c->errors++;
    if (sl_str_eq(t, "response.completed") || sl_str_eq(t, "response.incomplete") ||
        sl_str_eq(t, "response.failed"))
        c->ended = 1;
}

static void stream(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct run a, b;
    struct sl_sse_parser pa, pb;
    const char *model = fuzz_rng_next(rng) & 1 ? "client \"model\"" : NULL;
    const char *id = fuzz_rng_next(rng) & 1 ? "resp_given" : NULL;
    static const char echo[] = "{\"tools\":[],\"user\":\"u\"}";
    size_t max_text = fuzz_rng_next(rng) % 4 == 0 ? (size_t)(fuzz_rng_next(rng) % 64) : 1 << 16;
    sl_responses_stream_init(&a.s, id, model, 1, echo, sizeof(echo) - 1, max_text);
    sl_responses_stream_init(&b.s, id, model, 1, echo, sizeof(echo) - 1, max_text);
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
    }
    {
        int full = a.rc == UV_ENOBUFS;
        struct check c = {0};
        struct sl_sse_parser pc;
        sl_sse_parser_init(&pc, OUT_MAX + 1, on_translated, &c);
        FUZZ_CHECK(sl_sse_parser_feed(&pc, a.out.ptr ? a.out.ptr : "", a.out.len) == 0);
        FUZZ_CHECK(sl_sse_parser_finish(&pc) == 0);
        sl_sse_parser_release(&pc);
        if (a.s.state == SL_RS_DONE)
            FUZZ_CHECK(c.ended && c.errors == 0);
        if (a.s.state == SL_RS_FAILED && !full)
            FUZZ_CHECK(c.errors == 1);
        if (a.s.state != SL_RS_DONE && a.s.state != SL_RS_FAILED)
            FUZZ_CHECK(!c.ended && c.errors == 0);
        FUZZ_CHECK((sl_responses_stream_end(&a.s) == 0) ==
                   (a.s.state == SL_RS_DONE || a.s.state == SL_RS_FAILED));
    }
    sl_sse_parser_release(&pa);
    sl_sse_parser_release(&pb);
    sl_responses_stream_release(&a.s);
    sl_responses_stream_release(&b.s);
    sl_buf_release(&a.out);
    sl_buf_release(&b.out);
}

static void assert_json(const struct sl_buf *b)
{
    struct sl_json_doc doc;
    FUZZ_CHECK(b->ptr && sl_json_scan(b->ptr, b->len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
}

static void bodies(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct sl_buf out, echo;
    size_t max = (size_t)(fuzz_rng_next(rng) % 4 == 0 ? fuzz_rng_next(rng) % 512 : OUT_MAX);
    sl_buf_init(&out, max);
    sl_buf_init(&echo, OUT_MAX);

    struct sl_responses_req_opts o = {.model = fuzz_rng_next(rng) & 1 ? "claude" : NULL};
    struct sl_responses_req_info info;
    struct sl_xlat_refusal no;
    int rc = sl_responses_request(d, size, &o, &out, &echo, &info, &no);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    int have_echo = rc == 0;
    if (rc == 0) {
        assert_json(&out);
        assert_json(&echo);
        struct sl_json_doc doc;
        struct sl_json_pick p[2] = {{.key = "model"}, {.key = "messages"}};
        FUZZ_CHECK(sl_json_scan_pick(out.ptr, out.len, &doc, p, 2) == 0);
        FUZZ_CHECK(p[0].found && p[1].found && p[1].m.type == SL_JSON_ARRAY && p[1].m.items > 0);
        FUZZ_CHECK(info.model.ptr >= d && info.model.ptr + info.model.len <= d + size);
    }
    if (rc == UV_EINVAL)
        FUZZ_CHECK(no.message[0] && strchr(no.message, '\n') == NULL);
    /* what a pass-through reads: whatever the translation said of it */
    struct sl_responses_peek peek;
    int prc = sl_responses_peek(d, size, &peek, &no);
    FUZZ_CHECK(prc == 0 || prc == UV_EINVAL);
    if (prc == 0)
        FUZZ_CHECK(peek.model.len > 0 && peek.model.ptr >= d &&
                   peek.model.ptr + peek.model.len <= d + size);
    if (rc == 0 && prc == 0) /* (a model past 127 bytes is no pass-through's) */
        FUZZ_CHECK(peek.stream == info.stream && peek.model.ptr == info.model.ptr);

    sl_buf_reset(&out);
    struct sl_responses_ctx ctx = {.id = fuzz_rng_next(rng) & 1 ? "resp_\"q\"" : NULL,
                                   .model = fuzz_rng_next(rng) & 1 ? "m\"x" : NULL,
                                   .created_at = 7,
                                   .echo = have_echo ? echo.ptr : NULL,
                                   .echo_len = have_echo ? echo.len : 0};
    struct sl_xlat_usage u;
    rc = sl_responses_response(d, size, &ctx, &out, &u);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0)
        assert_json(&out);
    sl_buf_release(&out);
    sl_buf_release(&echo);
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
