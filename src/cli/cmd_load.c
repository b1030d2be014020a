/* `sluice load`: an HTTP load generator (load/load.h does the work).
 *
 * Sequence, all on one loop: parse and validate everything (bad input
 * exits 2 before any socket is opened) -> format the request once ->
 * resolve the host (uv_getaddrinfo, on the thread pool) -> run the load ->
 * on_complete: print the report -> close every handle -> the loop runs dry.
 * Ctrl-C ends the run at once and reports what finished. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "http/parser.h"
#include "http/url.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "load/load.h"
#include "load/report.h"
#include "load/request_build.h"

#define MAX_HEADERS 64

static const char usage[] =
    "usage: sluice load URL [options]\n"
    "\n"
    "Sends HTTP/1.1 requests to URL over keep-alive connections and reports throughput,\n"
    "status counts, connection errors and latency percentiles. By default each request\n"
    "is a POST of a realistic chat-completion JSON body.\n"
    "\n"
    "Closed loop (default): C connections, each sending its next request as soon as the\n"
    "previous one is answered. Open loop (--rate): requests are due at a fixed rate\n"
    "whatever the server does; when every connection is busy they wait, and latency\n"
    "runs from the intended send time, so queueing is measured, not hidden.\n"
    "\n"
    "options:\n"
    "  -c, --concurrency C   connections, i.e. requests in flight at most (default 10)\n"
    "  -n, --requests N      send N requests, then stop\n"
    "  -d, --duration D      send for D: 10s, 500ms, 2m, or seconds (default 10s when\n"
    "                        --requests is not given)\n"
    "  -r, --rate R          open loop: R requests per second\n"
    "      --stream          streaming: \"stream\": true in the body; time to first token\n"
    "                        and the gaps between tokens (SSE `data:` events)\n"
    "      --model NAME      model in the default body (default gpt-4o-mini)\n"
    "      --prompt TEXT     user message in the default body\n"
    "      --body FILE       send FILE as the request body, verbatim\n"
    "  -m, --method M        HTTP method (default POST; GET and HEAD send no body unless\n"
    "                        --body is given)\n"
    "  -H, --header 'K: V'   add a request header (repeatable)\n"
    "      --timeout-ms T    per request, from its (intended) send time (default 30000)\n"
    "      --json            print the results as one JSON object on stdout\n"
    "      --quiet           no progress and no start line\n"
    "      --no-progress     no progress bar / lines\n"
    "  -h, --help            this help\n"
    "\n"
    "Every request ends with an HTTP status or a connection-level error (connect,\n"
    "reset, timeout, protocol; queue_timeout in the open loop), so requests = the sum\n"
    "of the status counts + errors. Latency percentiles are over requests that got an\n"
    "HTTP status. Requests in flight when sending stops are allowed to finish.\n"
    "\n"
    "Only http:// URLs are supported. Exit status: 0 the run finished (whatever the\n"
    "statuses), 1 the server could not be reached (nothing ever connected) or a runtime\n"
    "error, 2 bad arguments, 130 interrupted.\n";

enum {
    F_CONCURRENCY = 1,
    F_REQUESTS,
    F_DURATION,
    F_RATE,
    F_STREAM,
    F_MODEL,
    F_PROMPT,
    F_BODY,
    F_METHOD,
    F_HEADER,
    F_TIMEOUT,
    F_JSON,
    F_QUIET,
    F_NO_PROGRESS,
    F_HELP,
};

static const struct sl_flag flags[] = {
    {"--concurrency", 1, F_CONCURRENCY},
    {"-c", 1, F_CONCURRENCY},
    {"--requests", 1, F_REQUESTS},
    {"-n", 1, F_REQUESTS},
    {"--duration", 1, F_DURATION},
    {"-d", 1, F_DURATION},
    {"--rate", 1, F_RATE},
    {"-r", 1, F_RATE},
    {"--stream", 0, F_STREAM},
    {"--model", 1, F_MODEL},
    {"--prompt", 1, F_PROMPT},
    {"--body", 1, F_BODY},
    {"--method", 1, F_METHOD},
    {"-m", 1, F_METHOD},
    {"--header", 1, F_HEADER},
    {"-H", 1, F_HEADER},
    {"--timeout-ms", 1, F_TIMEOUT},
    {"--json", 0, F_JSON},
    {"--quiet", 0, F_QUIET},
    {"--no-progress", 0, F_NO_PROGRESS},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {NULL, 0, 0},
};

struct ctx {
    uv_loop_t loop;
    struct sl_load_config cfg;
    const char *url, *model, *prompt, *body_file, *method;
    const char *headers[MAX_HEADERS];
    unsigned n_headers;
    int stream, json, quiet, progress_on, duration_given;
    char host[256], port[8], hostport[300], path[2048];
    uv_getaddrinfo_t resolver;
    struct sl_load *load;
    struct sl_progress progress;
    uv_signal_t sigint, sigterm;
    int exit_code;
    char error[600];
};

/* ---- parsing ----------------------------------------------------------- */

/* N[ms|s|m|h]; a bare number is seconds. */
static int parse_duration(const char *cmd, const char *text, uint64_t *out_ms)
{
    char *end;
    double v = strtod(text, &end);
    double mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        v = -1;
    double ms = v * mult;
    if (end == text || !(ms >= 1) || ms > 86400000.0) {
        sl_usage_error(cmd,
                       "--duration must be a time from 1ms to 24h such as 10s, 500ms or 2m, "
                       "got '%s'",
                       text);
        return -1;
    }
    *out_ms = (uint64_t)ms;
    return 0;
}

/* http://HOST[:PORT][/PATH][?QUERY]; HOST may be [IPv6]. */
static int parse_url(const char *cmd, struct ctx *c)
{
    const char *u = c->url;
    if (strncasecmp(u, "https://", 8) == 0) {
        sl_usage_error(cmd, "https URLs are not supported yet: sluice load speaks plain http:// "
                            "(put a TLS terminator in front, or load-test the http port)");
        return -1;
    }
    if (strncasecmp(u, "http://", 7) != 0) {
        sl_usage_error(cmd, "URL must start with http://, got '%s'", u);
        return -1;
    }
    struct sl_url p;
    const char *why = sl_url_parse(u, &p);
    if (why == NULL && p.target_len + 1 >= sizeof(c->path))
        why = "path too long";
    if (why) {
        sl_usage_error(cmd, "bad URL '%s': %s (expected http://HOST[:PORT][/PATH])", u, why);
        return -1;
    }
    memcpy(c->host, p.host, p.host_len);
    c->host[p.host_len] = '\0';
    snprintf(c->port, sizeof(c->port), "%u", p.port);
    /* the authority as given: what Host: says */
    snprintf(c->hostport, sizeof(c->hostport), "%.*s", (int)(p.target - (u + 7)), u + 7);
    snprintf(c->path, sizeof(c->path), "%s%.*s", p.target_len && p.target[0] == '/' ? "" : "/",
             (int)p.target_len, p.target);
    return 0;
}

static int check_header(const char *cmd, const char *h)
{
    const char *colon = strchr(h, ':');
    int ok = colon && colon != h;
    for (const char *p = h; ok && p < colon; p++)
        ok = sl_http_is_tchar((unsigned char)*p);
    for (const char *p = h; ok && *p; p++)
        ok = *p != '\r' && *p != '\n';
    if (!ok) {
        sl_usage_error(cmd, "--header must be 'Name: value' on one line, got '%s'", h);
        return -1;
    }
    size_t n = (size_t)(colon - h);
    if ((n == 14 && strncasecmp(h, "Content-Length", n) == 0) ||
        (n == 17 && strncasecmp(h, "Transfer-Encoding", n) == 0)) {
        sl_usage_error(cmd, "--header: %.*s is set by sluice load", (int)n, h);
        return -1;
    }
    return 0;
}

static int parse(struct ctx *c, int argc, char **argv)
{
    const char *cmd = "load";
    const char *v;
    int id, i = 0;
    while ((id = sl_args_next(argc, argv, &i, flags, cmd, 1, &v)) > 0) {
        switch (id) {
        case 'P':
            if (c->url) {
                sl_usage_error(cmd, "unexpected argument '%s' (one URL only)", v);
                return -1;
            }
            c->url = v;
            break;
        case F_CONCURRENCY:
            if (sl_parse_unsigned(cmd, "--concurrency", v, 1, SL_LOAD_MAX_CONCURRENCY,
                                  &c->cfg.concurrency))
                return -1;
            break;
        case F_REQUESTS:
            if (sl_parse_u64(cmd, "--requests", v, 1, 1000000000000ULL, &c->cfg.requests))
                return -1;
            break;
        case F_DURATION:
            if (parse_duration(cmd, v, &c->cfg.duration_ms))
                return -1;
            c->duration_given = 1;
            break;
        case F_RATE:
            if (sl_parse_double(cmd, "--rate", v, 0.001, 10000000, &c->cfg.rate))
                return -1;
            break;
        case F_STREAM:
            c->stream = 1;
            break;
        case F_MODEL:
            c->model = v;
            break;
        case F_PROMPT:
            c->prompt = v;
            break;
        case F_BODY:
            c->body_file = v;
            break;
        case F_METHOD:
            for (const char *p = v; *p; p++)
                if (!sl_http_is_tchar((unsigned char)*p) || p - v > 20) {
                    sl_usage_error(cmd, "--method must be an HTTP method such as GET, got '%s'", v);
                    return -1;
                }
            if (*v == '\0') {
                sl_usage_error(cmd, "--method must be an HTTP method such as GET, got ''");
                return -1;
            }
            c->method = v;
            break;
        case F_HEADER:
            if (check_header(cmd, v))
                return -1;
            if (c->n_headers == MAX_HEADERS) {
                sl_usage_error(cmd, "at most %d --header options", MAX_HEADERS);
                return -1;
            }
            c->headers[c->n_headers++] = v;
            break;
        case F_TIMEOUT:
            if (sl_parse_u64(cmd, "--timeout-ms", v, 1, 3600000, &c->cfg.timeout_ms))
                return -1;
            break;
        case F_JSON:
            c->json = 1;
            break;
        case F_QUIET:
            c->quiet = 1;
            break;
        case F_NO_PROGRESS:
            c->progress_on = 0;
            break;
        case F_HELP:
            fputs(usage, stdout);
            return 1;
        }
    }
    if (id < 0)
        return -1;
    if (c->url == NULL) {
        sl_usage_error(cmd, "a URL is required, e.g. sluice load http://127.0.0.1:8080/v1/chat/"
                            "completions");
        return -1;
    }
    if (parse_url(cmd, c))
        return -1;
    if (c->body_file && (c->model || c->prompt)) {
        sl_usage_error(cmd, "--%s has no effect with --body (the file is sent verbatim)",
                       c->model ? "model" : "prompt");
        return -1;
    }
    if (!c->duration_given && c->cfg.requests == 0)
        c->cfg.duration_ms = 10000;
    return 0;
}

/* ---- the request ---------------------------------------------------------- */

static int build_request(struct ctx *c)
{
    struct sl_load_request_spec spec = {
        .method = c->method,
        .path = c->path,
        .hostport = c->hostport,
        .headers = c->headers,
        .n_headers = c->n_headers,
        .body_file = c->body_file,
        .model = c->model,
        .prompt = c->prompt,
        .stream = c->stream,
    };
    char err[600];
    if (sl_load_request_build(&spec, &c->cfg.target, err, sizeof(err)) != 0) {
        if (err[0])
            sl_usage_error("load", "%s", err);
        return -1;
    }
    return 0;
}

/* One descriptor per connection, plus a few for the loop and stdio. */
static int check_fd_limit(struct ctx *c)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)c->cfg.concurrency + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return 0;
    }
    sl_usage_error("load",
                   "--concurrency %u needs %llu file descriptors, the limit is %llu "
                   "(raise it with ulimit -n)",
                   c->cfg.concurrency, (unsigned long long)need,
                   (unsigned long long)(rl.rlim_max < rl.rlim_cur ? rl.rlim_cur : rl.rlim_max));
    return -1;
}

/* ---- the run ------------------------------------------------------------- */

static void close_all(struct ctx *c)
{
    sl_progress_finish(&c->progress);
    sl_progress_close(&c->progress);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    if (c->load)
        sl_load_close(c->load, NULL);
}

static void on_complete(struct sl_load *load, void *data)
{
    struct ctx *c = data;
    const struct sl_load_result *r = sl_load_result(load);
    sl_progress_finish(&c->progress);
    struct sl_load_report_run run = {c->url, c->method, c->stream, &c->cfg};
    if (c->json)
        sl_load_report_json(stdout, &run, r);
    else
        sl_load_report_text(stdout, &run, r);
    fflush(stdout);
    if (r->unreachable) {
        c->exit_code = SL_EXIT_RUNTIME;
        snprintf(c->error, sizeof(c->error), "cannot connect to %s: %s", c->hostport,
                 uv_strerror(r->first_error_uv));
    } else if (r->stopped) {
        c->exit_code = SL_EXIT_INTERRUPTED;
    }
    close_all(c);
}

static void sample(struct sl_progress *p, struct sl_progress_sample *out)
{
    struct ctx *c = p->data;
    struct sl_load_progress lp = {0};
    if (c->load)
        sl_load_progress(c->load, &lp);
    out->done = lp.finished;
    out->total = lp.total;
    out->in_flight = lp.in_flight;
    out->retries = lp.errors;
    out->retries_label = "errors";
    out->duration_s = (double)c->cfg.duration_ms / 1000.0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ctx *c = req->data;
    if (status < 0 || res == NULL) {
        c->exit_code = SL_EXIT_RUNTIME;
        snprintf(c->error, sizeof(c->error), "cannot resolve host '%s': %s", c->host,
                 status < 0 ? uv_strerror(status) : "no address");
        if (res)
            uv_freeaddrinfo(res);
        close_all(c);
        return;
    }
    /* One address for every connection: the first IPv4 one if any (a server
     * on 127.0.0.1 named localhost would refuse us on ::1), else the first. */
    struct addrinfo *ai = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            ai = a;
            break;
        }
    memcpy(&c->cfg.target.addr, ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    if (c->exit_code == SL_EXIT_INTERRUPTED) {
        close_all(c);
        return;
    }
    int r = sl_load_new(&c->loop, &c->cfg, on_complete, c, &c->load);
    if (r < 0) {
        c->exit_code = SL_EXIT_RUNTIME;
        snprintf(c->error, sizeof(c->error), "cannot start: %s", uv_strerror(r));
        close_all(c);
        return;
    }
    if (!c->quiet && !c->json) {
        char bound[64];
        if (c->cfg.requests && c->cfg.duration_ms)
            snprintf(bound, sizeof(bound), "%llu requests or %.3g s",
                     (unsigned long long)c->cfg.requests, (double)c->cfg.duration_ms / 1000);
        else if (c->cfg.requests)
            snprintf(bound, sizeof(bound), "%llu requests", (unsigned long long)c->cfg.requests);
        else
            snprintf(bound, sizeof(bound), "%.3g s", (double)c->cfg.duration_ms / 1000);
        if (c->cfg.rate > 0)
            fprintf(stderr, "load: %s %s, open loop at %g requests/s, %u connections, %s\n",
                    c->method ? c->method : "POST", c->url, c->cfg.rate, c->cfg.concurrency, bound);
        else
            fprintf(stderr, "load: %s %s, closed loop, %u connections, %s\n",
                    c->method ? c->method : "POST", c->url, c->cfg.concurrency, bound);
    }
    sl_progress_start(&c->progress);
    sl_load_start(c->load);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct ctx *c = handle->data;
    (void)signum;
    if (c->exit_code == 0)
        c->exit_code = SL_EXIT_INTERRUPTED;
    if (c->load)
        sl_load_stop(c->load); /* on_complete reports and closes */
}

int sl_cmd_load(int argc, char **argv)
{
    struct ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SL_EXIT_RUNTIME;
    c->cfg.concurrency = 10;
    c->cfg.timeout_ms = 30000;
    c->progress_on = 1;
    int rc = parse(c, argc, argv);
    if (rc == 0 && (build_request(c) != 0 || check_fd_limit(c) != 0))
        rc = -1;
    if (rc != 0) {
        free((char *)c->cfg.target.request);
        free(c);
        return rc > 0 ? SL_EXIT_OK : SL_EXIT_USAGE;
    }

    /* A write to a connection the server has reset raises SIGPIPE; libuv
     * leaves signals to the program. We want EPIPE, counted as an error. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&c->loop);
    sl_progress_init(&c->loop, &c->progress, c->progress_on && !c->quiet, sample, c);
    uv_signal_init(&c->loop, &c->sigint);
    uv_signal_init(&c->loop, &c->sigterm);
    c->sigint.data = c->sigterm.data = c;
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);

    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    c->resolver.data = c;
    int r = uv_getaddrinfo(&c->loop, &c->resolver, on_resolved, c->host, c->port, &hints);
    if (r < 0) {
        c->exit_code = SL_EXIT_RUNTIME;
        snprintf(c->error, sizeof(c->error), "cannot resolve host '%s': %s", c->host,
                 uv_strerror(r));
        close_all(c);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0)
        fprintf(stderr, "sluice load: internal error: handles left open at exit\n");
    if (c->exit_code == SL_EXIT_RUNTIME)
        fprintf(stderr, "sluice load: %s\n", c->error);
    else if (c->exit_code == SL_EXIT_INTERRUPTED)
        fprintf(stderr, "sluice load: interrupted; requests in flight were not counted\n");
    fflush(stderr);
    rc = c->exit_code;
    sl_load_free(c->load);
    free((char *)c->cfg.target.request);
    free(c);
    return rc;
}
