/* Fuzz target: the Gemini adapter (src/providers/gemini*.c), which reads
 * what an upstream sends (a GenerateContentResponse, its SSE events, an
 * error body, an embeddings response) and what a client sends (the
 * requests it translates, JSON schemas included), and the JSON writer
 * under it (src/http/json_write.c).
 *
 * The input is used several ways. As a Gemini SSE stream through the SSE
 * parser: fed whole and in random pieces it gives the same translated
 * bytes; every translated event is one JSON value or [DONE]; nothing
 * follows [DONE] or an error; once failed or done the translator writes
 * nothing more; the end says 0 exactly when the stream finished or failed.
 * As a response body, an error body, an OpenAI request and an embeddings
 * request and response: every output the translators accept is one valid
 * JSON value, refusals name a field in one line, and outputs stay within
 * their bound. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "fuzz_chunks.h"
#include "http/json_scan.h"
#include "http/sse.h"
#include "providers/gemini.h"

#define OUT_MAX (1u << 20)

struct run {
    struct sl_gemini_stream s;
    struct sl_buf out;
    int rc;
};

static void on_event(void *arg, const struct sl_sse_event *ev)
{
    struct run *r = arg;
    size_t before = r->out.len;
    enum sl_gemini_stream_state was = r->s.state;
    int rc = sl_gemini_stream_event(&r->s, ev->data, ev->data_len, &r->out);
    FUZZ_CHECK(rc == 0 || rc == UV_EPROTO || rc == UV_ENOBUFS);
    if (was == SL_GS_DONE || was == SL_GS_FAILED)
        FUZZ_CHECK(r->out.len == before && rc == 0);
    if (was == SL_GS_FINISHED && rc == 0 && r->s.state == SL_GS_FINISHED)
        FUZZ_CHECK(r->out.len == before); /* after the finish, only usage is read */
    if (rc == UV_EPROTO)
        FUZZ_CHECK(r->s.state == SL_GS_FAILED);
    if (rc && r->rc == 0)
        r->rc = rc;
}

static void stream(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct run a, b;
    struct sl_sse_parser pa, pb;
    const char *model = fuzz_rng_next(rng) & 1 ? "client \"model\"" : NULL;
    int usage = (int)(fuzz_rng_next(rng) & 1);
    sl_gemini_stream_init(&a.s, model, 1, usage);
    sl_gemini_stream_init(&b.s, model, 1, usage);
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
    enum sl_gemini_stream_state was = a.s.state;
    int end = sl_gemini_stream_end(&a.s, &a.out);
    int endb = sl_gemini_stream_end(&b.s, &b.out);
    FUZZ_CHECK(end == 0 || end == UV_EOF || end == UV_ENOBUFS);
    FUZZ_CHECK((end == UV_EOF) == (was == SL_GS_START || was == SL_GS_MESSAGE));
    if (end == 0 && was == SL_GS_FINISHED)
        FUZZ_CHECK(a.s.state == SL_GS_DONE);
    if (end == UV_ENOBUFS)
        FUZZ_CHECK(a.s.state == SL_GS_FAILED && a.s.err == SL_E_TOO_LARGE);
    FUZZ_CHECK(a.out.len <= max && b.out.len <= max);
    if (ra == 0 && rb == 0) { /* the same events: the same bytes */
        FUZZ_CHECK(a.out.len == b.out.len &&
                   (a.out.len == 0 || memcmp(a.out.ptr, b.out.ptr, a.out.len) == 0));
        FUZZ_CHECK(a.s.state == b.s.state && a.rc == b.rc && end == endb);
    }
    {
        /* whole events only, even when the bound stopped the translation */
        int full = a.rc == UV_ENOBUFS || end == UV_ENOBUFS;
        if (full)
            FUZZ_CHECK(a.s.state == SL_GS_FAILED && a.s.err == SL_E_TOO_LARGE);
        struct check c = {0};
        struct sl_sse_parser pc;
        sl_sse_parser_init(&pc, OUT_MAX + 1, on_translated, &c);
        FUZZ_CHECK(sl_sse_parser_feed(&pc, a.out.ptr ? a.out.ptr : "", a.out.len) == 0);
        FUZZ_CHECK(sl_sse_parser_finish(&pc) == 0);
        sl_sse_parser_release(&pc);
        FUZZ_CHECK(c.done == (a.s.state == SL_GS_DONE));
        FUZZ_CHECK(c.failed == (a.s.state == SL_GS_FAILED && !full));
        FUZZ_CHECK(a.s.usage.prompt >= a.s.usage.cached);
    }
    sl_sse_parser_release(&pa);
    sl_sse_parser_release(&pb);
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
    struct sl_buf out;
    size_t max = (size_t)(fuzz_rng_next(rng) % 4 == 0 ? fuzz_rng_next(rng) % 512 : OUT_MAX);
    sl_buf_init(&out, max);

    struct sl_xlat_usage u;
    int rc = sl_gemini_response(d, size, fuzz_rng_next(rng) & 1 ? "m\"x" : NULL, 7, &out, &u);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0) {
        assert_json(&out);
        FUZZ_CHECK(u.prompt >= u.cached);
    }

    sl_buf_reset(&out);
    struct sl_gemini_error e;
    rc = sl_gemini_error((int)(fuzz_rng_next(rng) % 700), d, size, &out, &e);
    FUZZ_CHECK(rc == 0 || rc == UV_ENOBUFS);
    FUZZ_CHECK(e.type && e.err < SL_E__COUNT && e.status >= 400 && e.status < 600);
    FUZZ_CHECK(e.retry_after_s >= 0 && e.retry_after_s <= 86400);
    if (rc == 0)
        assert_json(&out);

    sl_buf_reset(&out);
    struct sl_gemini_req_info info;
    struct sl_xlat_refusal no;
    rc = sl_gemini_request(d, size, &out, &info, &no);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0) {
        assert_json(&out);
        struct sl_json_doc doc;
        struct sl_json_pick p[1] = {{.key = "contents"}};
        FUZZ_CHECK(sl_json_scan_pick(out.ptr, out.len, &doc, p, 1) == 0);
        FUZZ_CHECK(p[0].found && p[0].m.items > 0);
    }
    if (rc == UV_EINVAL)
        FUZZ_CHECK(no.message[0] && strchr(no.message, '\n') == NULL);

    sl_buf_reset(&out);
    size_t n;
    rc = sl_gemini_embed_request(d, size, "embedding-001", &out, &n, &no);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    if (rc == 0) {
        assert_json(&out);
        FUZZ_CHECK(n > 0);
    }
    if (rc == UV_EINVAL)
        FUZZ_CHECK(no.message[0] && strchr(no.message, '\n') == NULL);

    sl_buf_reset(&out);
    rc = sl_gemini_embed_response(d, size, "e\"m", &out);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0)
        assert_json(&out);
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
