/* Fuzz target: the HTTP/1.1 request parser (sl_http_parse_request) and the
 * chunked body decoder (sl_chunked_decode) of src/http/parser.c.
 *
 * The input is a request as a client would send it. Checked:
 *  - a parsed head lies inside the bytes it was given, its method and
 *    header names are tokens, its header values hold no NUL, CR or LF;
 *  - every shorter prefix of an accepted head is "incomplete", never a
 *    different answer (the server parses again as bytes arrive);
 *  - a chunked body decodes the same whole and fed in growing pieces
 *    (as the server feeds it), and never declares more than the limit
 *    without saying "too big". */
#include <string.h>

#include "fuzz.h"
#include "http/parser.h"

static int inside(struct sl_str s, const char *buf, size_t len)
{
    return s.len == 0 || (s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static void check_head(const struct sl_http_head *h, const char *buf, size_t len)
{
    FUZZ_CHECK(inside(h->method, buf, len) && h->method.len > 0);
    FUZZ_CHECK(inside(h->target, buf, len) && h->target.len > 0);
    FUZZ_CHECK(inside(h->path, buf, len) && inside(h->query, buf, len));
    FUZZ_CHECK(h->minor_version == 0 || h->minor_version == 1);
    FUZZ_CHECK(h->nheaders <= SL_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < h->method.len; i++)
        FUZZ_CHECK(sl_http_is_tchar((unsigned char)h->method.ptr[i]));
    for (size_t i = 0; i < h->nheaders; i++) {
        struct sl_str n = h->headers[i].name, v = h->headers[i].value;
        FUZZ_CHECK(inside(n, buf, len) && inside(v, buf, len) && n.len > 0);
        for (size_t j = 0; j < n.len; j++)
            FUZZ_CHECK(sl_http_is_tchar((unsigned char)n.ptr[j]));
        FUZZ_CHECK(memchr(v.ptr, '\n', v.len) == NULL);
#ifndef SL_FUZZ_SKIP_PENDING /* issue 8 defect 11: NUL and bare CR in a value are 400 */
        FUZZ_CHECK(memchr(v.ptr, '\0', v.len) == NULL);
        FUZZ_CHECK(memchr(v.ptr, '\r', v.len) == NULL);
#endif
    }
    FUZZ_CHECK(!(h->chunked && h->content_length >= 0));
}

#ifndef SL_FUZZ_SKIP_PENDING
/* The decoder's state while it reads chunk data, learnt from the decoder
 * itself (its enum is private). */
static int data_state(void)
{
    static int state = -1;
    if (state < 0) {
        char one[] = "1\r\n";
        struct sl_chunked d = {0};
        FUZZ_CHECK(sl_chunked_decode(&d, one, 3, 16) == SL_CHUNKED_MORE);
        state = d.state;
    }
    return state;
}
#endif

static void check_chunked(const char *body, size_t len, size_t limit, struct fuzz_rng *rng)
{
    char *whole = malloc(len + 1), *parts = malloc(len + 1);
    memcpy(whole, body, len);
    memcpy(parts, body, len);

    struct sl_chunked a = {0};
    int ra = sl_chunked_decode(&a, whole, len, limit);
    FUZZ_CHECK(a.decoded <= a.raw && a.raw <= len);
#ifndef SL_FUZZ_SKIP_PENDING /* issue 8 defect 2: a chunk size over the limit is "too big" */
    FUZZ_CHECK(a.decoded <= limit);
    if (ra == SL_CHUNKED_MORE && a.state == data_state())
        FUZZ_CHECK(a.remaining <= limit - a.decoded);
#endif

    struct sl_chunked b = {0};
    int rb = SL_CHUNKED_MORE;
    size_t have = 0;
    while (rb == SL_CHUNKED_MORE && have < len) {
        have += fuzz_piece(rng, len - have);
        rb = sl_chunked_decode(&b, parts, have, limit);
        FUZZ_CHECK(b.decoded <= b.raw && b.raw <= have);
    }
    if (len == 0)
        rb = sl_chunked_decode(&b, parts, 0, limit);
    FUZZ_CHECK(ra == rb);
    if (ra != SL_CHUNKED_BAD && ra != SL_CHUNKED_TOO_BIG) {
        FUZZ_CHECK(a.raw == b.raw && a.decoded == b.decoded);
        FUZZ_CHECK(memcmp(whole, parts, a.decoded) == 0);
    }
    if (ra == SL_CHUNKED_DONE) /* stays done */
        FUZZ_CHECK(sl_chunked_decode(&a, whole, len, limit) == SL_CHUNKED_DONE);
    free(whole);
    free(parts);
}

/* Fed in growing pieces, as the server feeds it (sl_http_parse_request_more
 * remembering how far the lines were good), the head parses as it does
 * whole: the same result and the same fields. */
static void check_resumed(const char *buf, size_t size, int whole, const struct sl_http_head *h,
                          struct fuzz_rng *rng)
{
    struct sl_http_head r;
    size_t checked = 0, have = 0;
    int rc = SL_HTTP_INCOMPLETE;
    while (rc == SL_HTTP_INCOMPLETE && have < size) {
        have += 1 + (size_t)(fuzz_rng_next(rng) % 64);
        if (have > size)
            have = size;
        rc = sl_http_parse_request_more(buf, have, &r, &checked);
        FUZZ_CHECK(checked <= have);
    }
    FUZZ_CHECK(rc == whole);
    if (rc > 0) {
        FUZZ_CHECK(r.nheaders == h->nheaders && r.minor_version == h->minor_version);
        FUZZ_CHECK(r.method.ptr == h->method.ptr && r.method.len == h->method.len);
        FUZZ_CHECK(r.path.len == h->path.len && r.query.len == h->query.len);
        for (size_t i = 0; i < r.nheaders; i++)
            FUZZ_CHECK(r.headers[i].name.ptr == h->headers[i].name.ptr &&
                       r.headers[i].value.len == h->headers[i].value.len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly `size` bytes: ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);

    struct sl_http_head h;
    int rc = sl_http_parse_request(buf, size, &h);
    FUZZ_CHECK(rc <= (int)size && rc >= SL_HTTP_E_TRANSFER_CODING);
    check_resumed(buf, size, rc, &h, &rng);
    if (rc > 0) {
        check_head(&h, buf, (size_t)rc);
        struct sl_http_head p;
        size_t cut = (size_t)(fuzz_rng_next(&rng) % (uint64_t)rc);
        FUZZ_CHECK(sl_http_parse_request(buf, cut, &p) == SL_HTTP_INCOMPLETE);
        const struct sl_str *te = sl_http_head_get(&h, "transfer-encoding");
        FUZZ_CHECK(!h.chunked || te != NULL);
        if (h.chunked) {
            check_chunked(buf + rc, size - (size_t)rc, 1024, &rng);
            check_chunked(buf + rc, size - (size_t)rc, 1 << 20, &rng);
        }
    }
    /* the body decoder on its own, from the first byte */
    check_chunked(buf, size, 4096, &rng);
    free(buf);
    return 0;
}
