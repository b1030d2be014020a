/* Fuzz target: the HTTP server (src/http/server.c) on a real socket, with
 * the request parser and chunked decoder under it.
 *
 * The input is what one client sends on one connection, cut into pieces
 * that the server reads one at a time (so its read buffer grows while a
 * request is open, as with a slow client); then the client half-closes and
 * reads until the server closes. Pipelined requests, bodies past the limit
 * (413), bad chunked framing (400) and streamed answers all happen here.
 * Checked by the sanitizers (a parsed head must never point into memory
 * that moved: issue 8 defect 1), and: every connection ends, and the
 * server still answers a normal request afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "http/server.h"

static uv_loop_t loop;
static struct sl_http_server *srv;
static int port;

static void handler(struct sl_http_exchange *req, void *data)
{
    (void)data;
    const struct sl_http_head *h = sl_http_exchange_head(req);
    struct sl_str body = sl_http_exchange_body(req);
    if (sl_str_eq(h->path, "/stream")) {
        sl_http_stream_start(req, 200, NULL, 0, "text/event-stream");
        sl_http_stream_write(req, "data: a\n\n", 9);
        sl_http_stream_write(req, body.ptr ? body.ptr : "", body.len);
        sl_http_stream_end(req);
        return;
    }
    if (sl_str_eq(h->path, "/error")) {
        sl_http_respond_error(req, 400, "invalid_request_error", "bad", "bad request");
        return;
    }
    char text[64];
    int n = snprintf(text, sizeof(text), "%.*s %zu", (int)(h->method.len < 16 ? h->method.len : 16),
                     h->method.ptr, body.len);
    sl_http_respond(req, 200, NULL, 0, "text/plain", text, (size_t)n);
}

static void setup(void)
{
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    struct sl_http_server_config cfg;
    sl_http_server_config_default(&cfg);
    cfg.max_header_bytes = 8192;
    cfg.max_body_bytes = 64 * 1024;
    cfg.idle_timeout_ms = 200;
    cfg.request_timeout_ms = 200;
    FUZZ_CHECK(sl_http_server_new(&loop, &cfg, handler, NULL, &srv) == 0);
    char err[256];
    FUZZ_CHECK(sl_http_server_listen(srv, "127.0.0.1", 0, err, sizeof(err)) == 0);
    port = sl_http_server_port(srv);
}

static int client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    FUZZ_CHECK(rc == 0 || errno == EINPROGRESS);
    return fd;
}

/* Runs the loop until the server closed the connection (or a bound);
 * returns the bytes the client received. */
static size_t drain(int fd, char *got, size_t cap)
{
    size_t n = 0;
    uint64_t start = uv_hrtime();
    for (int spins = 0; uv_hrtime() - start < 3000000000ull; spins++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        char buf[16384];
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r > 0) {
            size_t c = (size_t)r < cap - n ? (size_t)r : cap - n;
            memcpy(got + n, buf, c);
            n += c;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return n; /* closed or reset: the end */
        if (spins > 50)
            usleep(200); /* waiting on a timer of the server */
    }
    FUZZ_CHECK(!"the server kept a half-closed connection open for 3 s");
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv == NULL)
        setup();
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    int fd = client();
    for (size_t pos = 0; pos < size;) {
        size_t n = fuzz_piece(&rng, size - pos);
        ssize_t w = send(fd, data + pos, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN))
            w = 0;
        if (w < 0)
            break; /* the server closed it already */
        pos += (size_t)w;
        for (int i = 0; i < 3; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    shutdown(fd, SHUT_WR);
    static char got[1 << 20];
    drain(fd, got, sizeof(got));
    close(fd);

    /* the server still answers */
    fd = client();
    static const char ping[] = "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    for (int i = 0; sent < sizeof(ping) - 1 && i < 1000; i++) {
        ssize_t w = send(fd, ping + sent, sizeof(ping) - 1 - sent, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    size_t n = drain(fd, got, sizeof(got));
    close(fd);
    FUZZ_CHECK(n >= 12 && memcmp(got, "HTTP/1.1 200", 12) == 0);
    return 0;
}
