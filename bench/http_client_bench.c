/* CPU cost per request of the HTTP client (libcurl multi on libuv).
 *
 *   http_client_bench URL [-n REQUESTS] [-c CONCURRENCY] [--post]
 *
 * A closed loop: C requests in flight, each one's on_done starts the next,
 * until N have finished, after a warm-up of min(N/10, 1000) requests that
 * opens the connections and is not counted. Prints wall time, requests/s
 * and the CPU this process used per request (getrusage: user + system), so
 * the figure includes libuv, libcurl and the kernel's share of the sockets.
 * --post sends a ~600-byte chat-completion request body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "http/client.h"

static const char chat_body[] =
    "{\"model\":\"gpt-4o-mini\",\"stream\":false,\"temperature\":0.7,\"max_tokens\":256,"
    "\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant. Answer "
    "briefly and precisely, and say so when you do not know.\"},{\"role\":\"user\",\"content\":"
    "\"Summarise the main trade-offs between retrying a failed request at once, retrying it "
    "with exponential backoff and full jitter, and giving up, for a gateway that sits in front "
    "of several LLM providers with different rate limits. Keep it under a hundred words and "
    "give one concrete example for each choice.\"}],\"user\":\"bench\"}";

struct bench {
    struct sl_http_client *client;
    const char *url;
    int post;
    long to_start, running, done, ok, errors;
    int measuring; /* 0 during the warm-up */
    uint64_t bytes;
    int err_shown;
};

struct slot {
    struct sl_http_request req;
    struct bench *b;
};

static const struct sl_http_header post_headers[] = {
    SL_HTTP_HEADER_LIT("Content-Type", "application/json"),
    SL_HTTP_HEADER_LIT("Authorization", "Bearer sk-bench")};

static int on_body(struct sl_http_request *req, const char *data, size_t len)
{
    (void)req, (void)data, (void)len;
    return 0;
}

static void start(struct slot *s);

static void on_done(struct sl_http_request *req, const struct sl_http_result *res)
{
    struct slot *s = req->data;
    struct bench *b = s->b;
    b->running--;
    if (b->measuring) {
        b->done++;
        b->bytes += res->body_bytes;
        if (res->err == SL_OK && res->status == 200) {
            b->ok++;
        } else {
            b->errors++;
            if (!b->err_shown++)
                fprintf(stderr, "first error: %s %d %s\n", sl_err_name(res->err), res->status,
                        res->message);
        }
    }
    if (b->to_start > 0)
        start(s);
    else if (b->running == 0 && b->measuring)
        sl_http_client_close(b->client, NULL, NULL); /* lets uv_run return */
}

static void start(struct slot *s)
{
    struct bench *b = s->b;
    s->req = (struct sl_http_request){.url = b->url,
                                      .on_body = on_body,
                                      .on_done = on_done,
                                      .data = s,
                                      .total_timeout_ms = 10000};
    if (b->post) {
        s->req.body = chat_body;
        s->req.body_len = sizeof(chat_body) - 1;
        s->req.headers = post_headers;
        s->req.n_headers = 2;
    }
    if (sl_http_request_start(b->client, &s->req) != 0) {
        fprintf(stderr, "cannot start a request\n");
        exit(1);
    }
    b->to_start--;
    b->running++;
}

static double cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6;
}

static double sys_s(const struct rusage *ru)
{
    return (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct bench b = {0};
    long n = 100000, conc = 16;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            conc = atol(argv[++i]);
        else if (strcmp(argv[i], "--post") == 0)
            b.post = 1;
        else if (argv[i][0] != '-')
            b.url = argv[i];
        else
            b.url = NULL, i = argc;
    }
    if (b.url == NULL || n < 1 || conc < 1) {
        fprintf(stderr, "usage: http_client_bench URL [-n REQUESTS] [-c CONCURRENCY] [--post]\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    struct sl_http_client_opts opts = {.max_idle_connections = (unsigned)conc + 8};
    if (sl_http_client_new(loop, &opts, &b.client) != 0)
        return 1;
    struct slot *slots = calloc((size_t)conc, sizeof(*slots));
    for (long i = 0; i < conc; i++)
        slots[i].b = &b;
    /* Warm-up: opens the connections; not counted. */
    b.to_start = n / 10 < 1000 ? n / 10 : 1000;
    for (long i = 0; i < conc && b.to_start > 0; i++)
        start(&slots[i]);
    while (b.running > 0)
        uv_run(loop, UV_RUN_ONCE);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = uv_hrtime();
    b.to_start = n;
    b.measuring = 1;
    for (long i = 0; i < conc && b.to_start > 0; i++)
        start(&slots[i]);
    uv_run(loop, UV_RUN_DEFAULT); /* ends when the client has closed */
    double wall = (double)(uv_hrtime() - t0) / 1e9;
    getrusage(RUSAGE_SELF, &r1);
    double user = cpu_s(&r1) - cpu_s(&r0), sys = sys_s(&r1) - sys_s(&r0);
    printf("%s %s, %ld requests, concurrency %ld: %.3f s, %.0f requests/s, "
           "client CPU %.1f us/request (user %.1f + sys %.1f), ok %ld, errors %ld, "
           "body %.0f B/request\n",
           b.post ? "POST" : "GET", b.url, b.done, conc, wall, (double)b.done / wall,
           (user + sys) * 1e6 / (double)b.done, user * 1e6 / (double)b.done,
           sys * 1e6 / (double)b.done, b.ok, b.errors, (double)b.bytes / (double)b.done);
    free(slots);
    uv_loop_close(loop);
    return b.errors ? 1 : 0;
}
