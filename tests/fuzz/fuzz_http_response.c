/* Fuzz target: the HTTP/1.1 response parser of src/http/resp.c, which
 * reads every upstream response the gateway relays (http/upstream.c) and
 * every response sluice load counts.
 *
 * The first input byte picks the mode (HEAD or not, SSE counting or not,
 * relay with a body callback that sometimes refuses bytes); the rest is
 * the response. Checked: fed whole or in random pieces, with and without
 * refusals, the parser gives the same result (code, status, body bytes,
 * events, the same relayed body); it consumes only what it was given and
 * relays no more body than the input holds.
 *
 * The same bytes also go through the response-head splitter both clients
 * hand their heads to (src/http/header.c): no more fields than lines, every
 * name and value inside the block and NUL-terminated, values trimmed, and
 * sl_http_head_fields agrees with sl_http_split_head. */
#include <string.h>

#include "fuzz.h"
#include "http/header.h"
#include "http/resp.h"

struct sink {
    char *body;
    size_t len, cap;
    struct fuzz_rng *rng; /* NULL: never refuse */
    unsigned refusals;
};

static int on_body(void *arg, const char *d, size_t n)
{
    struct sink *s = arg;
    if (s->rng && s->refusals < 64 && fuzz_rng_next(s->rng) % 4 == 0) {
        s->refusals++;
        return 1;
    }
    FUZZ_CHECK(s->len + n <= s->cap);
    memcpy(s->body + s->len, d, n);
    s->len += n;
    return 0;
}

struct result {
    int rc, status, keep_alive;
    uint64_t body_bytes;
    uint32_t events, done_events;
    size_t consumed;
};

/* Feeds data in pieces (piece sizes from rng, or whole when rng is NULL). */
static struct result run(const char *d, size_t len, int head_only, int sse, int relay,
                         struct sink *sink, struct fuzz_rng *rng)
{
    struct sl_resp p;
    sl_resp_init(&p, head_only, sse);
    if (relay)
        sl_resp_relay(&p, on_body, sink);
    size_t pos = 0;
    int rc = SL_RESP_MORE;
    while (pos < len) {
        size_t n = rng ? fuzz_piece(rng, len - pos) : len - pos;
        size_t used = 0;
        rc = sl_resp_feed(&p, d + pos, n, &used);
        FUZZ_CHECK(used <= n);
        pos += used;
        if (rc == SL_RESP_HEAD || rc == SL_RESP_PAUSE) {
            rc = SL_RESP_MORE;
            continue;
        }
        if (rc != SL_RESP_MORE)
            break;
        FUZZ_CHECK(used == n);
    }
    if (rc == SL_RESP_MORE)
        rc = sl_resp_eof(&p);
    if (rc == SL_RESP_ERROR)
        FUZZ_CHECK(p.error != NULL);
    FUZZ_CHECK(p.body_bytes <= len);
    return (struct result){rc, p.status, p.keep_alive, p.body_bytes, p.events, p.done_events, pos};
}

static size_t fields_seen;

static void count_fields(void *arg, const struct sl_http_header *fields, size_t n)
{
    (void)arg;
    FUZZ_CHECK(n == 0 || fields != NULL);
    fields_seen = n;
}

static void check_split(const uint8_t *data, size_t len)
{
    char *block = malloc(len + 1), *copy = malloc(len + 1);
    memcpy(block, data, len);
    block[len] = '\0';
    memcpy(copy, block, len + 1);
    size_t max = sl_http_head_lines(block, len);
    struct sl_http_header *f = malloc(max * sizeof(*f));
    size_t n = len ? sl_http_split_head(block, len, f) : 0;
    FUZZ_CHECK(n <= max);
    for (size_t i = 0; i < n; i++) {
        const struct sl_str *parts[] = {&f[i].name, &f[i].value};
        for (int k = 0; k < 2; k++) {
            FUZZ_CHECK(parts[k]->ptr >= block && parts[k]->ptr + parts[k]->len <= block + len);
            FUZZ_CHECK(parts[k]->ptr[parts[k]->len] == '\0');
        }
        FUZZ_CHECK(memchr(f[i].name.ptr, ':', f[i].name.len) == NULL);
        if (f[i].value.len) {
            char first = f[i].value.ptr[0], last = f[i].value.ptr[f[i].value.len - 1];
            FUZZ_CHECK(first != ' ' && first != '\t');
            FUZZ_CHECK(last != ' ' && last != '\t' && last != '\r');
        }
    }
    fields_seen = (size_t)-1;
    FUZZ_CHECK(sl_http_head_fields(copy, len, count_fields, NULL) == 0);
    FUZZ_CHECK(fields_seen == n);
    free(f);
    free(copy);
    free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0];
    int head_only = mode & 1, sse = (mode >> 1) & 1, relay = (mode >> 2) & 1;
    size_t len = size - 1;
    char *d = malloc(len ? len : 1);
    memcpy(d, data + 1, len);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);

    struct sink a = {malloc(len + 1), 0, len, NULL, 0};
    struct sink b = {malloc(len + 1), 0, len, &rng, 0};
    struct result ra = run(d, len, head_only, sse, relay, &a, NULL);
    struct result rb = run(d, len, head_only, sse, relay, &b, &rng);
    FUZZ_CHECK(ra.rc == rb.rc);
    FUZZ_CHECK(ra.status == rb.status);
    if (ra.rc == SL_RESP_DONE) {
        FUZZ_CHECK(ra.consumed == rb.consumed);
        FUZZ_CHECK(ra.keep_alive == rb.keep_alive);
        FUZZ_CHECK(ra.body_bytes == rb.body_bytes);
        FUZZ_CHECK(ra.events == rb.events && ra.done_events == rb.done_events);
        if (relay) {
            FUZZ_CHECK(a.len == ra.body_bytes && b.len == a.len);
            FUZZ_CHECK(memcmp(a.body, b.body, a.len) == 0);
        }
    }
    free(a.body);
    free(b.body);
    free(d);
    check_split(data + 1, size - 1);
    return 0;
}
