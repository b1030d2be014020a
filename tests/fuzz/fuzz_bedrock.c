/* Fuzz target: the Bedrock adapter (src/providers/bedrock*.c), which reads
 * what an upstream sends (a Converse response, a ConverseStream body, an
 * error body and its x-amzn-ErrorType) and what a client sends (the
 * request it translates), and the JSON writer under it.
 *
 * The input is used four ways. As a ConverseStream body through the
 * event-stream decoder: fed whole and in random pieces it gives the same
 * translated bytes; every translated event is one JSON value or [DONE];
 * nothing follows [DONE] or an error; once failed or done the translator
 * writes nothing more; the end says complete exactly when [DONE] or an
 * error was written. As a response body, an error body (its first line
 * taken as the error type) and an OpenAI request: every output the
 * translators accept is one valid JSON value, refusals name a field in one
 * line, and outputs stay within their bound. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "http/json_scan.h"
#include "http/sse.h"
#include "providers/bedrock.h"
#include "providers/eventstream.h"

#define OUT_MAX (1u << 20)

struct run {
    struct sl_bedrock_stream s;
    struct sl_buf out;
    int rc;
};

static int on_message(void *arg, const struct sl_es_message *m)
{
    struct run *r = arg;
    size_t before = r->out.len;
    enum sl_bedrock_stream_state was = r->s.state;
    int rc = sl_bedrock_stream_message(&r->s, m, &r->out);
    FUZZ_CHECK(rc == 0 || rc == UV_EPROTO || rc == UV_ENOBUFS);
    if (was == SL_BS_DONE || was == SL_BS_FAILED)
        FUZZ_CHECK(r->out.len == before && rc == 0);
    if (rc)
        FUZZ_CHECK(r->s.state == SL_BS_FAILED);
    if (rc && r->rc == 0)
        r->rc = rc;
    return 0;
}

struct check {
    int done, failed, events;
};

static void on_translated(void *arg, const struct sl_sse_event *ev)
{
    struct check *c = arg;
    FUZZ_CHECK(!c->done && !c->failed);
    c->events++;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        c->done = 1;
        return;
    }
    struct sl_json_doc doc;
    FUZZ_CHECK(sl_json_scan(ev->data, ev->data_len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
    struct sl_json_member m;
    if (sl_json_get(&doc, "error", &m))
        c->failed = 1;
}

static void stream(const char *d, size_t size, struct fuzz_rng *rng)
{
    struct run a, b;
    struct sl_es_decoder da, db;
    const char *model = fuzz_rng_next(rng) & 1 ? "client \"model\"" : NULL;
    int usage = (int)(fuzz_rng_next(rng) & 1);
    sl_bedrock_stream_init(&a.s, "chatcmpl-x", model, 1, usage);
    sl_bedrock_stream_init(&b.s, "chatcmpl-x", model, 1, usage);
    /* sometimes a bound that the translation reaches */
    size_t max = fuzz_rng_next(rng) % 4 == 0 ? (size_t)(fuzz_rng_next(rng) % 4096) : OUT_MAX;
    sl_buf_init(&a.out, max);
    sl_buf_init(&b.out, max);
    a.rc = b.rc = 0;
    sl_es_decoder_init(&da, 1 << 16, on_message, &a);
    sl_es_decoder_init(&db, 1 << 16, on_message, &b);
    int ra = sl_es_decoder_feed(&da, d, size);
    int rb = 0;
    for (size_t pos = 0; pos < size && rb == 0;) {
        size_t n = fuzz_piece(rng, size - pos);
        rb = sl_es_decoder_feed(&db, d + pos, n);
        pos += n;
    }
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(a.out.len <= max && b.out.len <= max);
    /* the same messages: the same bytes */
    FUZZ_CHECK(a.out.len == b.out.len &&
               (a.out.len == 0 || memcmp(a.out.ptr, b.out.ptr, a.out.len) == 0));
    FUZZ_CHECK(a.s.state == b.s.state && a.rc == b.rc);
    int end = sl_bedrock_stream_end(&a.s, &a.out);
    FUZZ_CHECK(end == 0 || end == UV_EOF || end == UV_ENOBUFS);
    FUZZ_CHECK(a.out.len <= max);
    {
        /* whole events only, even when the bound stopped the translation */
        int full = a.rc == UV_ENOBUFS || end == UV_ENOBUFS;
        if (full)
            FUZZ_CHECK(a.s.state == SL_BS_FAILED && a.s.err == SL_E_TOO_LARGE);
        struct check c = {0};
        struct sl_sse_parser pc;
        sl_sse_parser_init(&pc, OUT_MAX + 1, on_translated, &c);
        FUZZ_CHECK(sl_sse_parser_feed(&pc, a.out.ptr ? a.out.ptr : "", a.out.len) == 0);
        FUZZ_CHECK(sl_sse_parser_finish(&pc) == 0);
        sl_sse_parser_release(&pc);
        FUZZ_CHECK(c.done == (a.s.state == SL_BS_DONE));
        FUZZ_CHECK(c.failed == (a.s.state == SL_BS_FAILED && !full));
        FUZZ_CHECK((end == UV_EOF) == !(c.done || c.failed || full));
        FUZZ_CHECK(a.s.usage.prompt >= a.s.usage.cached);
    }
    sl_es_decoder_release(&da);
    sl_es_decoder_release(&db);
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

    int rc = sl_bedrock_response(d, size, "id\"1", fuzz_rng_next(rng) & 1 ? "m\"x" : NULL, 7, &out,
                                 NULL);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0)
        assert_json(&out);

    /* the first line is the x-amzn-ErrorType, the rest the body */
    sl_buf_reset(&out);
    const char *nl = memchr(d, '\n', size);
    size_t tlen = nl ? (size_t)(nl - d) : 0;
    const char *body = nl ? nl + 1 : d;
    size_t blen = nl ? size - tlen - 1 : size;
    struct sl_bedrock_error e;
    rc = sl_bedrock_error((int)(fuzz_rng_next(rng) % 700), nl ? d : NULL, tlen, body, blen, &out,
                          &e);
    FUZZ_CHECK(rc == 0 || rc == UV_ENOBUFS);
    FUZZ_CHECK(e.type && e.err < SL_E__COUNT && e.status >= 400 && e.status < 600);
    if (rc == 0)
        assert_json(&out);

    sl_buf_reset(&out);
    struct sl_bedrock_req_opts o = {.default_max_tokens = fuzz_rng_next(rng) & 1 ? 1024 : 0};
    struct sl_bedrock_req_info info;
    struct sl_xlat_refusal no;
    rc = sl_bedrock_request(d, size, &o, &out, &info, &no);
    FUZZ_CHECK(rc == 0 || rc == UV_EINVAL || rc == UV_ENOBUFS);
    FUZZ_CHECK(out.len <= max);
    if (rc == 0) {
        assert_json(&out);
        struct sl_json_doc doc;
        struct sl_json_pick p[2] = {{.key = "messages"}, {.key = "model"}};
        FUZZ_CHECK(sl_json_scan_pick(out.ptr, out.len, &doc, p, 2) == 0);
        FUZZ_CHECK(p[0].found && p[0].m.items > 0 && !p[1].found);
    }
    if (rc == UV_EINVAL)
        FUZZ_CHECK(no.message[0] && strchr(no.message, '\n') == NULL);
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
