/* Fuzz target: the Server-Sent Events parser and writer of src/http/sse.c,
 * which read every streamed upstream body the gateway relays.
 *
 * Checked: an event stream fed whole and fed in random pieces (CRLF and
 * BOM split anywhere) gives the same events; every event the parser
 * dispatches, written back with sl_sse_format, parses to the same event;
 * memory stays within the event bound. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "http/sse.h"

#define MAX_EVENT 4096

/* The events of one run, serialised as (name, data, id) length-prefixed. */
struct log {
    struct sl_buf out;
    unsigned long n;
};

static void put_field(struct sl_buf *b, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;
    FUZZ_CHECK(sl_buf_append(b, &len, sizeof(len)) == 0);
    FUZZ_CHECK(sl_buf_append(b, s, n) == 0);
}

static void on_event(void *arg, const struct sl_sse_event *ev)
{
    struct log *l = arg;
    FUZZ_CHECK(ev->data_len <= MAX_EVENT && ev->event_len <= MAX_EVENT);
    FUZZ_CHECK(ev->data[ev->data_len] == '\0' && ev->event[ev->event_len] == '\0');
    FUZZ_CHECK(memchr(ev->data, '\r', ev->data_len) == NULL);
    put_field(&l->out, ev->event, ev->event_len);
    put_field(&l->out, ev->data, ev->data_len);
    put_field(&l->out, ev->id, ev->id_len);
    l->n++;
}

struct one {
    const struct sl_sse_event *want;
    int seen;
};

static void on_roundtrip(void *arg, const struct sl_sse_event *ev)
{
    struct one *o = arg;
    o->seen++;
    FUZZ_CHECK(ev->data_len == o->want->data_len &&
               memcmp(ev->data, o->want->data, ev->data_len) == 0);
    FUZZ_CHECK(ev->event_len == o->want->event_len &&
               memcmp(ev->event, o->want->event, ev->event_len) == 0);
    FUZZ_CHECK(ev->id_len == o->want->id_len && memcmp(ev->id, o->want->id, ev->id_len) == 0);
}

/* Writes the event back and parses the text again. */
static void on_event_roundtrip(void *arg, const struct sl_sse_event *ev)
{
    on_event(arg, ev);
    long n = sl_sse_format(NULL, 0, ev);
    if (n == UV_EINVAL) /* an id or name with a line break cannot come from the parser */
        FUZZ_CHECK(0);
    char *text = malloc((size_t)n + 1);
    FUZZ_CHECK(sl_sse_format(text, (size_t)n + 1, ev) == n);
    FUZZ_CHECK(text[n] == '\0');
    struct one o = {ev, 0};
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 4 * MAX_EVENT, on_roundtrip, &o);
    FUZZ_CHECK(sl_sse_parser_feed(&p, text, (size_t)n) == 0);
    FUZZ_CHECK(o.seen == 1);
    FUZZ_CHECK(sl_sse_parser_finish(&p) == 0);
    sl_sse_parser_release(&p);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *d = malloc(size ? size : 1);
    memcpy(d, data, size);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);

    struct log a = {.n = 0}, b = {.n = 0};
    sl_buf_init(&a.out, 64u << 20);
    sl_buf_init(&b.out, 64u << 20);
    struct sl_sse_parser pa, pb;
    sl_sse_parser_init(&pa, MAX_EVENT, on_event_roundtrip, &a);
    sl_sse_parser_init(&pb, MAX_EVENT, on_event, &b);

    int ra = sl_sse_parser_feed(&pa, d, size);
    int rb = 0;
    for (size_t pos = 0; pos < size && rb == 0;) {
        size_t n = fuzz_piece(&rng, size - pos);
        rb = sl_sse_parser_feed(&pb, d + pos, n);
        pos += n;
    }
    FUZZ_CHECK(ra == 0 || ra == UV_E2BIG);
    FUZZ_CHECK(rb == 0 || rb == UV_E2BIG);
    FUZZ_CHECK(pa.line.len <= MAX_EVENT && pa.data.len <= MAX_EVENT && pb.line.len <= MAX_EVENT);
    if (ra == 0 && rb == 0) {
        FUZZ_CHECK(a.n == b.n && pa.events == a.n);
        FUZZ_CHECK(a.out.len == b.out.len &&
                   (a.out.len == 0 || memcmp(a.out.ptr, b.out.ptr, a.out.len) == 0));
        FUZZ_CHECK(pa.retry_ms == pb.retry_ms);
        FUZZ_CHECK(sl_sse_parser_finish(&pa) == sl_sse_parser_finish(&pb));
    } else if (ra != 0) { /* failed stays failed */
        FUZZ_CHECK(sl_sse_parser_feed(&pa, "\n\n", 2) == ra);
    }
    sl_sse_parser_reset(&pa);
    FUZZ_CHECK(sl_sse_parser_feed(&pa, "data: x\n\n", 9) == 0);
    sl_sse_parser_release(&pa);
    sl_sse_parser_release(&pb);
    sl_buf_release(&a.out);
    sl_buf_release(&b.out);
    free(d);
    return 0;
}
