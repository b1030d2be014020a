/* sluice serve's front, end to end: who may call what (keys, the cancel
 * endpoint, /metrics, /v1/models), routing (HEAD, 405 with Allow), the
 * /metrics text read by a real Prometheus parser, the drain on SIGTERM,
 * the JSON log, and request bodies with many members. */
#include <pthread.h>

#include "serve_support.h"

TestSuite(serve_front, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";

/* sha256("hello") and sha256("world"): keys "team-a" and "team-b" */
#define KEY_A "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define KEY_B "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

static char buf[256 * 1024];

/* One request with optional extra header lines ("Name: value\r\n"). */
static int call(int port, const char *method, const char *path, const char *headers,
                const char *body, char *out, size_t size)
{
    return bh_request_with(port, method, path, headers, body, out, size);
}

/* A HEAD request, read to the end of the connection: the whole response. */
static int call_head(int port, const char *path, const char *headers, char *out, size_t size)
{
    char req[1024];
    snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n", path,
             headers ? headers : "");
    int fd = bh_dial(port);
    bh_send(fd, req);
    size_t len = 0;
    ssize_t got;
    while (len < size - 1 && (got = recv(fd, out + len, size - 1 - len, 0)) > 0)
        len += (size_t)got;
    out[len] = '\0';
    close(fd);
    return len > 9 ? atoi(out + 9) : -1;
}

/* Starts a stream with the given auth header lines; returns the socket
 * and the request id the response headers carry. */
static int start_stream(int port, const char *headers, char id[40])
{
    static const char body[] = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":"
                               "[{\"role\":\"user\",\"content\":\"hi\"}]}";
    int fd = bh_dial(port);
    char req[2048];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s",
             headers, strlen(body), body);
    bh_send(fd, req);
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    cr_assert_gt(got, 0);
    buf[got] = '\0';
    cr_assert_eq(atoi(buf + 9), 200, "%s", buf);
    const char *at = strstr(buf, "x-request-id: ");
    cr_assert_not_null(at, "%s", buf);
    memset(id, 0, 40);
    sscanf(at + 14, "%39[^\r]", id);
    return fd;
}

Test(serve_front, keys_guard_cancel_models_and_metrics)
{
    const char *margs[] = {"--token-ms", "100", "--tokens", "100", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "keys.yaml", NULL, &serve,
        "keys:\n  - {name: team-a, sha256: " KEY_A "}\n  - {name: team-b, sha256: " KEY_B
        "}\nmodels:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        mp);
    static const char *const a = "Authorization: Bearer hello\r\n";
    static const char *const b = "Authorization: Bearer world\r\n";
    static const char *const wrong = "Authorization: Bearer nope\r\n";
    char id[40], path[128], local[8192];
    int fd = start_stream(sp, a, id);
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
    /* another key, a wrong key or none: the same 404 as an unknown id */
    const char *others[] = {NULL, b, wrong};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(call(sp, "POST", path, others[i], "", local, sizeof(local)), 404, "%s", local);
        cr_assert_not_null(strstr(local, "request_not_found"), "%s", local);
    }
    cr_assert_eq(e2e_mock_stat(mp, "in_flight"), 1, "the request was cancelled by another key");
    /* the key that started it */
    cr_assert_eq(call(sp, "POST", path, a, "", local, sizeof(local)), 200, "%s", local);
    cr_assert_not_null(strstr(local, "\"cancelled\":true"));
    close(fd);
    /* /v1/models and /metrics need a key; /health and /ready do not */
    cr_assert_eq(call(sp, "GET", "/v1/models", NULL, NULL, local, sizeof(local)), 401, "%s", local);
    cr_assert_not_null(strstr(local, "invalid_api_key"));
    cr_assert_eq(call(sp, "GET", "/v1/models", wrong, NULL, local, sizeof(local)), 401);
    cr_assert_eq(call(sp, "GET", "/v1/models", b, NULL, local, sizeof(local)), 200);
    cr_assert_not_null(strstr(local, "\"id\":\"gpt-4o-mini\""), "%s", local);
    cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, local, sizeof(local)), 401, "%s", local);
    cr_assert_eq(call(sp, "GET", "/metrics", wrong, NULL, local, sizeof(local)), 401);
    cr_assert_eq(call(sp, "GET", "/metrics", a, NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_cancelled_total 1\n"), "%s", buf);
    cr_assert_eq(call(sp, "GET", "/health", NULL, NULL, local, sizeof(local)), 200);
    cr_assert_eq(call(sp, "GET", "/ready", NULL, NULL, local, sizeof(local)), 200);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(serve_front, without_keys_anyone_may_cancel_and_metrics_public_opens_metrics)
{
    const char *margs[] = {"--token-ms", "100", "--tokens", "100", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    char local[8192], id[40], path[128];
    int sp = e2e_start_serve_yaml(
        "open.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    int fd = start_stream(sp, "", id);
    snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
    cr_assert_eq(call(sp, "POST", path, NULL, "", local, sizeof(local)), 200, "%s", local);
    close(fd);
    cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(call(sp, "GET", "/v1/models", NULL, NULL, local, sizeof(local)), 200);
    e2e_stop(serve);
    sp = e2e_start_serve_yaml(
        "public.yaml", NULL, &serve,
        "keys: [{name: team-a, sha256: " KEY_A "}]\nmetrics: {public: true}\n"
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        mp);
    cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
    cr_assert_eq(call(sp, "GET", "/v1/models", NULL, NULL, local, sizeof(local)), 401);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* serve with the config YAML (written to NAME): refused at start-up with
 * exit status 1 and never listening. The caller checks the message. */
static struct e2e_run serve_refused(const char *name, const char *yaml)
{
    const char *path = e2e_write_file(name, yaml);
    const char *args[] = {"serve", "--config",           path, "--listen", "127.0.0.1:0",
                          "--db",  e2e_path("serve.db"), NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_null(strstr(r.out, "listening"));
    return r;
}

Test(serve_front, auth_without_keys_is_refused_at_start)
{
    struct e2e_run r = serve_refused("auth.yaml", "auth: true\nmodels: [{name: a, deployments: "
                                                  "[{url: 'http://127.0.0.1:9'}]}]\n");
    cr_assert_not_null(strstr(r.err, "auth.yaml:1: auth: true needs at least one key"), "%s",
                       r.err);
    e2e_free(&r);
}

/* A deployment URL is parsed at start-up: a bad one stops serve before it
 * listens, with the file and line, instead of failing each request. */
Test(serve_front, a_bad_deployment_url_is_refused_at_start)
{
    struct e2e_run r = serve_refused("url.yaml", "models:\n  - name: a\n    deployments:\n"
                                                 "      - url: 'http://127.0.0.1:0/v1'\n");
    cr_assert_not_null(strstr(r.err, "url.yaml:4: url 'http://127.0.0.1:0/v1': port must be a "
                                     "number from 1 to 65535"),
                       "%s", r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    e2e_free(&r);
    const char *quick[] = {"serve",       "--upstream", "http://127.0.0.1:9/v1?x=1", "--listen",
                           "127.0.0.1:0", "--db",       e2e_path("serve.db"),        NULL};
    r = e2e_run(quick);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "--upstream URL 'http://127.0.0.1:9/v1?x=1': a query"), "%s",
                       r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    cr_assert_null(strstr(r.out, "listening"));
    e2e_free(&r);
}

Test(serve_front, head_works_where_get_does_and_405_says_allow)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    char local[8192];
    int sp = e2e_start_serve_yaml(
        "head.yaml", NULL, &serve,
        "keys: [{name: team-a, sha256: " KEY_A "}]\n"
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        mp);
    static const char *const a = "Authorization: Bearer hello\r\n";
    const char *paths[] = {"/health", "/ready", "/v1/models", "/metrics"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(call_head(sp, paths[i], a, local, sizeof(local)), 200, "HEAD %s: %s", paths[i],
                     local);
        const char *end = strstr(local, "\r\n\r\n");
        cr_assert_not_null(end);
        cr_assert_str_eq(end + 4, "", "HEAD %s sent a body", paths[i]);
        cr_assert_not_null(strstr(local, "x-request-id: "));
    }
    cr_assert_eq(call_head(sp, "/v1/models", NULL, local, sizeof(local)), 401);
    static const struct {
        const char *method, *path, *allow;
    } wrong[] = {
        {"GET", "/v1/chat/completions", "Allow: POST\r\n"},
        {"HEAD", "/v1/embeddings", "Allow: POST\r\n"},
        {"GET", "/v1/requests/req_0123456789abcdef/cancel", "Allow: POST\r\n"},
        {"POST", "/health", "Allow: GET, HEAD\r\n"},
        {"DELETE", "/metrics", "Allow: GET, HEAD\r\n"},
        {"PUT", "/v1/models", "Allow: GET, HEAD\r\n"},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(*wrong); i++) {
        int status = !strcmp(wrong[i].method, "HEAD")
                         ? call_head(sp, wrong[i].path, a, local, sizeof(local))
                         : call(sp, wrong[i].method, wrong[i].path, a, "", local, sizeof(local));
        cr_assert_eq(status, 405, "%s %s: %s", wrong[i].method, wrong[i].path, local);
        cr_assert_not_null(strstr(local, wrong[i].allow), "%s %s: %s", wrong[i].method,
                           wrong[i].path, local);
    }
    e2e_stop(serve);
    e2e_stop(mock);
}

/* The scraped text, parsed by the reference parser (Debian's
 * python3-prometheus-client, at /usr/bin/python3): every family typed,
 * none twice, every histogram with _bucket (+Inf included), _sum and
 * _count for each of its label sets, no sample twice. */
static const char prom_check[] =
    "import sys, collections\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "text = open(sys.argv[1]).read()\n"
    "seen = set(); samples = set(); n = 0\n"
    "for f in text_string_to_metric_families(text):\n"
    "    assert f.type != 'unknown', 'untyped family ' + f.name\n"
    "    assert f.name not in seen, 'family twice: ' + f.name\n"
    "    seen.add(f.name)\n"
    "    parts = collections.defaultdict(set)\n"
    "    for s in f.samples:\n"
    "        key = (s.name, tuple(sorted(s.labels.items())))\n"
    "        assert key not in samples, 'sample twice: %r' % (key,)\n"
    "        samples.add(key); n += 1\n"
    "        if f.type == 'histogram':\n"
    "            base = tuple(sorted((k, v) for k, v in s.labels.items() if k != 'le'))\n"
    "            suffix = s.name[len(f.name):]\n"
    "            parts[base].add(suffix + ('+Inf' if s.labels.get('le') == '+Inf' else ''))\n"
    "    for base, got in parts.items():\n"
    "        for want in ('_bucket', '_bucket+Inf', '_sum', '_count'):\n"
    "            assert want in got, '%s %r lacks %s' % (f.name, base, want)\n"
    "for name in sys.argv[2:]:\n"
    "    assert name in seen, 'no family ' + name\n"
    "print('families', len(seen), 'samples', n)\n";

Test(serve_front, metrics_parse_with_the_reference_prometheus_parser)
{
    pid_t m1, m2, serve;
    int p1, p2;
    e2e_start_fallback_mocks(&p1, &m1, &p2, &m2);
    char model[512];
    int sp = e2e_start_serve_yaml(
        "metrics.yaml", NULL, &serve,
        "otel: {endpoint: 'http://127.0.0.1:9', sample: 1.0}\n" /* its counters too */
        "models:\n%s"
        "  - name: gpt-4o\n"
        "    deployments: [{name: other, url: 'http://127.0.0.1:%d'}]\n"
        "  - name: \"*\"\n"
        "    deployments: [{name: any, url: 'http://127.0.0.1:%d'}]\n",
        e2e_fallback_model(model, sizeof(model), "flaky", "good", 1, p1, p2), p2, p2);
    /* traffic on several models, streamed and not, with fallbacks */
    static const char *const models[] = {"gpt-4o-mini", "gpt-4o", "llama"};
    char body[512], local[16384];
    for (int i = 0; i < 3; i++)
        for (int stream = 0; stream < 2; stream++) {
            snprintf(body, sizeof(body),
                     "{\"model\":\"%s\",\"stream\":%s,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hi\"}]}",
                     models[i], stream ? "true" : "false");
            cr_assert_eq(call(sp, "POST", "/v1/chat/completions", NULL, body, local, sizeof(local)),
                         200, "%s", local);
        }
    cr_assert_eq(
        call(sp, "POST", "/v1/chat/completions", NULL, "{\"model\":", local, sizeof(local)), 400);
    cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
    e2e_stop(serve);
    e2e_stop(m1);
    e2e_stop(m2);
    const char *text = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "sluice_fallbacks_total{model=\"gpt-4o-mini\"} 2\n"), "%s",
                       text);
    const char *path = e2e_path("metrics.txt");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text + 4, f);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"$(cat <<'EOF'\n%sEOF\n)\" '%s' sluice_requests "
             "sluice_time_to_first_token_seconds sluice_fallbacks sluice_queue_wait_seconds "
             "sluice_upstream_latency_seconds sluice_requests_in_flight "
             "sluice_otel_traces_exported sluice_otel_traces_failed sluice_stage_seconds "
             "> '%s' 2>&1",
             prom_check, path, e2e_path("prom.log"));
    int rc = system(cmd);
    char *log = e2e_slurp(e2e_path("prom.log"));
    cr_assert_eq(rc, 0, "the Prometheus parser refused /metrics: %s\n%s", log, text);
    cr_assert_not_null(strstr(log, "families"), "%s", log);
    free(log);
}

/* The count of one stage of sluice_stage_seconds in a /metrics text,
 * after checking its histogram: 20 buckets that never decrease, the last
 * (+Inf) equal to the count. */
static long stage_count(const char *text, const char *stage)
{
    char prefix[128], name[128];
    snprintf(prefix, sizeof(prefix), "sluice_stage_seconds_bucket{stage=\"%s\",le=", stage);
    long prev = 0, inf = -1;
    int n = 0;
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        const char *v = strstr(p, "} ");
        cr_assert_not_null(v);
        long x = atol(v + 2);
        cr_assert_geq(x, prev, "stage %s: a bucket below the one before it\n%s", stage, text);
        prev = x;
        n++;
        if (strncmp(p + strlen(prefix), "\"+Inf\"", 6) == 0)
            inf = x;
    }
    cr_assert_eq(n, 20, "stage %s: %d buckets", stage, n);
    snprintf(name, sizeof(name), "sluice_stage_seconds_count{stage=\"%s\"} ", stage);
    const char *c = strstr(text, name);
    cr_assert_not_null(c, "no count for stage %s", stage);
    long count = atol(c + strlen(name));
    cr_assert_eq(inf, count, "stage %s: +Inf bucket %ld, count %ld", stage, inf, count);
    return count;
}

/* The sum of one stage's observations, in seconds. */
static double stage_sum(const char *text, const char *stage)
{
    char name[128];
    snprintf(name, sizeof(name), "sluice_stage_seconds_sum{stage=\"%s\"} ", stage);
    const char *c = strstr(text, name);
    cr_assert_not_null(c, "no sum for stage %s", stage);
    return atof(c + strlen(name));
}

/* Every proxied request passes each stage once (one attempt each here);
 * a request the front refuses is in none. The row stage is the last to
 * be observed, after the client has its answer: waited for, bounded.
 * The upstream answers after 20 ms: that time is first_byte's (request
 * sent -> first response byte), no other stage's. */
Test(serve_front, stage_histograms_count_each_request_once_per_stage)
{
    static const char *const stages[] = {"parse", "admission", "upstream", "first_byte",
                                         "relay", "respond",   "row"};
    enum { NSTAGES = sizeof(stages) / sizeof(*stages), FIRST_BYTE = 3 };
    pid_t mock, serve;
    const char *slow[] = {"--latency-ms", "20", NULL};
    int mp = e2e_start_mock(slow, &mock);
    char local[16384];
    int sp = e2e_start_serve_yaml(
        "stages.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    long before[NSTAGES], after[NSTAGES];
    double sum_before[NSTAGES];
    cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
    for (int i = 0; i < NSTAGES; i++) {
        before[i] = stage_count(buf, stages[i]);
        sum_before[i] = stage_sum(buf, stages[i]);
    }
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        const char *body = i % 3 == 2 ? "{\"model\":\"gpt-4o-mini\",\"stream\":true,"
                                        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
                                      : chat;
        cr_assert_eq(call(sp, "POST", "/v1/chat/completions", NULL, body, local, sizeof(local)),
                     200, "%s", local);
    }
    cr_assert_eq(
        call(sp, "POST", "/v1/chat/completions", NULL, "{\"model\":", local, sizeof(local)), 400);
    for (int tries = 0; tries < 200; tries++) {
        cr_assert_eq(call(sp, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
        if (stage_count(buf, "row") - before[NSTAGES - 1] >= N)
            break;
        usleep(10000);
    }
    for (int i = 0; i < NSTAGES; i++) {
        after[i] = stage_count(buf, stages[i]);
        cr_assert_eq(after[i] - before[i], N, "stage %s counted %ld for %d requests", stages[i],
                     after[i] - before[i], N);
        double spent = stage_sum(buf, stages[i]) - sum_before[i];
        /* the mock's timer runs on its loop's millisecond clock: it may
         * answer up to 2 ms early by serve's */
        if (i == FIRST_BYTE)
            cr_assert_geq(spent, N * 0.017, "first_byte: %.4f s for %d 20 ms answers", spent, N);
        else
            cr_assert_lt(spent, N * 0.010, "stage %s has the upstream's wait: %.4f s", stages[i],
                         spent);
    }
    e2e_stop(serve);
    e2e_stop(mock);
}

/* serve (config lines `extra`, then one model) in front of a mock started
 * with margs, one chat request in flight on thread *t: SIGTERM once the
 * upstream has it. Returns serve's port. */
static int sigterm_with_one_in_flight(const char *extra, const char *const *margs, pid_t *mock,
                                      pid_t *serve, struct bh_call *slow, pthread_t *t, int *mp)
{
    *mp = e2e_start_mock(margs, mock);
    int sp = e2e_start_serve_yaml(
        "drain.yaml", NULL, serve,
        "%smodels:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        extra, *mp);
    *slow = (struct bh_call){.port = sp, .body = chat};
    pthread_create(t, NULL, bh_call_thread, slow);
    e2e_wait_mock_stat(*mp, "in_flight", 1, 5000);
    cr_assert_eq(e2e_mock_stat(*mp, "in_flight"), 1, "the slow request never reached the upstream");
    kill(*serve, SIGTERM);
    return sp;
}

Test(serve_front, drain_keeps_answering_health_and_ready_until_in_flight_finish)
{
    const char *margs[] = {"--latency-ms", "1500", NULL};
    pid_t mock, serve;
    char local[8192];
    struct bh_call slow;
    pthread_t t;
    int mp, sp = sigterm_with_one_in_flight("", margs, &mock, &serve, &slow, &t, &mp);
    /* /ready turns 503 once the signal is handled; the listener stays open */
    int ready = 0;
    for (double t0 = e2e_now_ms(); e2e_now_ms() - t0 < 1000; usleep(2000)) {
        ready = bh_request(sp, "GET", "/ready", NULL, local, sizeof(local));
        if (ready == 503)
            break;
        cr_assert_eq(ready, 200);
    }
    cr_assert_eq(ready, 503, "/ready during the drain: %d", ready);
    cr_assert_not_null(strstr(local, "draining"), "%s", local);
    cr_assert_eq(bh_request(sp, "GET", "/health", NULL, local, sizeof(local)), 200);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, local, sizeof(local)), 503);
    cr_assert_not_null(strcasestr(local, "\r\nRetry-After: "), "%s", local);
    cr_assert_not_null(strstr(local, "{\"error\":{"), "%s", local);
    cr_assert_not_null(strstr(local, "shutting_down"), "%s", local);
    pthread_join(t, NULL);
    cr_assert_eq(slow.status, 200, "the request in flight did not finish: %d", slow.status);
    e2e_wait_clean(serve);
    e2e_stop(mock);
    /* the listener closed when the drain ended */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sp)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    cr_assert_neq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'succeeded'"), 1);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'status' = 503"),
                 1);
}

/* Every line of a --log-format json run parses as JSON, from the start line
 * to the stop line, refused requests included; a success has no error. */
static const char json_check[] =
    "import sys, json\n"
    "n = 0; events = {}\n"
    "for path in sys.argv[1:]:\n"
    "    for line in open(path):\n"
    "        d = json.loads(line); n += 1\n"
    "        events[d['event']] = events.get(d['event'], 0) + 1\n"
    "        if d['event'] == 'request' and d['outcome'] == 'ok':\n"
    "            assert 'error' not in d, line\n"
    "        if d['event'] == 'request' and d['status'] >= 400:\n"
    "            assert d['error'], line\n"
    "assert events.get('listening') == 1, events\n"
    "assert events.get('request') == 4, events\n"
    "assert events.get('draining') == 1 and events.get('stopped') == 1, events\n"
    "print('lines', n, events)\n";

Test(serve_front, json_log_makes_every_line_json)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    char local[8192];
    const char *json_log[] = {"--log-format", "json", NULL};
    int sp = e2e_start_serve_yaml(
        "log.yaml", json_log, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, local, sizeof(local)), 200);
    cr_assert_eq(
        bh_request(sp, "POST", "/v1/chat/completions", "{\"model\":", local, sizeof(local)), 400);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"x\\\"y\",\"messages\":[1]}", local, sizeof(local)),
                 404);
    cr_assert_eq(
        bh_request(sp, "POST", "/v1/embeddings", "{\"model\":\"e\"}", local, sizeof(local)), 400);
    e2e_stop(serve);
    e2e_stop(mock);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"$(cat <<'EOF'\n%sEOF\n)\" '%s' '%s' > '%s' 2>&1", json_check,
             e2e_path("serve.out"), e2e_path("serve.err"), e2e_path("json.log"));
    int rc = system(cmd);
    char *log = e2e_slurp(e2e_path("json.log"));
    cr_assert_eq(rc, 0, "%s\nstdout: %s\nstderr: %s", log, e2e_slurp(e2e_path("serve.out")),
                 e2e_slurp(e2e_path("serve.err")));
    free(log);
}

Test(serve_front, listening_is_printed_once)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    e2e_start_serve_yaml(
        "once.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    e2e_stop(serve);
    e2e_stop(mock);
    char *out = e2e_slurp(e2e_path("serve.out")), *err = e2e_slurp(e2e_path("serve.err"));
    int n = 0;
    for (const char *p = out; (p = strstr(p, "listening")) != NULL; p++)
        n++;
    for (const char *p = err; (p = strstr(p, "listening")) != NULL; p++)
        n++;
    cr_assert_eq(n, 1, "stdout: %s\nstderr: %s", out, err);
    free(out);
    free(err);
}

/* Before, the JSON scanner kept the first 32 members of the body: a valid
 * request whose "model" came 34th was answered 400 missing_model. */
Test(serve_front, a_body_whose_model_is_its_34th_member_is_accepted)
{
    pid_t mock, serve;
    int mp = e2e_start_mock(NULL, &mock);
    char local[16384], body[4096];
    int sp = e2e_start_serve_yaml(
        "keys34.yaml", NULL, &serve,
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n", mp);
    size_t n = (size_t)snprintf(body, sizeof(body), "{");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\"metadata_%d\":%d,", i, i);
    snprintf(body + n, sizeof(body) - n,
             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"gpt-4o-mini\","
             "\"stream\":true}");
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "\"stream\" (35th) was not seen: %s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
    (void)local;
}

/* The drain's time is up while requests still run: the client cancelled
 * nothing, so they answer 503 shutting_down with Retry-After (a stream that
 * had started ends with that error event) and are recorded as failed. */
Test(serve_front, requests_left_at_the_end_of_the_drain_answer_503_not_499)
{
    const char *margs[] = {"--latency-ms", "2500", NULL};
    pid_t mock, serve;
    struct bh_call slow;
    pthread_t t;
    int mp;
    sigterm_with_one_in_flight("drain_timeout_ms: 200\n", margs, &mock, &serve, &slow, &t, &mp);
    pthread_join(t, NULL);
    cr_assert_eq(slow.status, 503, "the request left at the drain's end: %d", slow.status);
    e2e_wait_clean(serve);
    e2e_stop(mock);
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests"), 1);
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE status = 'failed' AND "
                                 "error = 'unavailable' AND metadata ->> 'status' = 503"),
                 1);
}

/* Key limits answer 429 with Retry-After before any deployment is asked:
 * max_parallel counts the key's requests in flight (a finished one frees
 * its place), rpm the requests in any minute; other keys are not touched. */
Test(serve_front, key_limits_refuse_with_429_and_retry_after)
{
    const char *margs[] = {"--token-ms", "100", "--tokens", "100", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "limits.yaml", NULL, &serve,
        "keys:\n  - {name: team-a, max_parallel: 2, sha256: " KEY_A "}\n"
        "  - {name: team-b, rpm: 3, sha256: " KEY_B "}\n"
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n",
        mp);
    static const char *const a = "Authorization: Bearer hello\r\n";
    static const char *const b = "Authorization: Bearer world\r\n";
    char id[40], local[8192];
    int f1 = start_stream(sp, a, id);
    int f2 = start_stream(sp, a, id);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", a, chat, local, sizeof(local)), 429, "%s",
                 local);
    cr_assert_not_null(strstr(local, "\"code\":\"rate_limit_exceeded\""), "%s", local);
    cr_assert_not_null(strstr(local, "max_parallel"), "%s", local);
    cr_assert_not_null(strcasestr(local, "\r\nRetry-After: 1\r\n"), "%s", local);
    /* a finished request frees its place (the client went away: cancelled) */
    close(f1);
    int st = 0;
    for (int i = 0; i < 300 && (st = call(sp, "POST", "/v1/chat/completions", a, chat, local,
                                          sizeof(local))) == 429;
         i++)
        usleep(10000);
    cr_assert_eq(st, 200, "%s", local);
    close(f2);

    /* rpm: 3 in the minute, then 429 with a Retry-After within the minute */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(call(sp, "POST", "/v1/chat/completions", b, chat, local, sizeof(local)), 200,
                     "request %d: %s", i, local);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", b, chat, local, sizeof(local)), 429, "%s",
                 local);
    cr_assert_not_null(strstr(local, "over its rate limit of 3 requests per minute"), "%s", local);
    const char *ra = strcasestr(local, "\r\nRetry-After: ");
    cr_assert_not_null(ra, "%s", local);
    int secs = atoi(ra + 15);
    /* a minute after the first request's 100 ms cell ends, rounded up */
    cr_assert(secs >= 1 && secs <= 61, "Retry-After: %d", secs);
    cr_assert_eq(call(sp, "GET", "/metrics", a, NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(
        strstr(buf, "sluice_limit_refusals_total{key=\"team-a\",limit=\"max_parallel\"}"), "%s",
        buf);
    cr_assert_not_null(strstr(buf, "sluice_limit_refusals_total{key=\"team-b\",limit=\"rpm\"} 1\n"),
                       "%s", buf);
    const char *mp_at = strstr(buf, "limit=\"max_parallel\"} ");
    cr_assert_not_null(mp_at);
    long long refused = atoll(mp_at + strlen("limit=\"max_parallel\"} ")) + 1;
    e2e_stop(serve);
    e2e_stop(mock);
    /* one row per refusal, with the status its client saw */
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"),
                             "SELECT count(*) FROM requests WHERE metadata ->> 'status' = 429"),
                 refused);
}

/* TPM: a request reserves its counted prompt plus its max_tokens (here
 * default_max_tokens: the client sent none) before it is sent, and the
 * reservation becomes the upstream's reported usage when it finishes: the
 * second request below fits only because the first one's 908 reserved
 * tokens became the 58 it used. A deployment's provider rpm refuses
 * before the provider would. */
Test(serve_front, tpm_reserves_then_settles_and_provider_rpm)
{
    const char *margs[] = {"--tokens", "50", NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp = e2e_start_serve_yaml(
        "tpm.yaml", NULL, &serve,
        "default_max_tokens: 900\n"
        "keys:\n  - {name: team-a, tpm: 1000, sha256: " KEY_A "}\n"
        "  - {name: team-b, sha256: " KEY_B "}\n"
        "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n"
        "  - name: small\n    deployments: [{url: 'http://127.0.0.1:%d', rpm: 2}]\n",
        mp, mp);
    static const char *const a = "Authorization: Bearer hello\r\n";
    static const char *const b = "Authorization: Bearer world\r\n";
    static const char big[] = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":2000,\"messages\":[{"
                              "\"role\":\"user\",\"content\":\"hello\"}]}";
    char local[8192];
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", a, big, local, sizeof(local)), 429, "%s",
                 local);
    cr_assert_not_null(strstr(local, "more than key 'team-a' may use in a minute"), "%s", local);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", a, chat, local, sizeof(local)), 200, "%s",
                 local);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", a, chat, local, sizeof(local)), 200,
                 "settled to the usage: %s", local);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", a, chat, local, sizeof(local)), 429, "%s",
                 local);
    cr_assert_not_null(strstr(local, "over its limit of 1000 tokens per minute"), "%s", local);
    const char *ra = strcasestr(local, "\r\nRetry-After: ");
    cr_assert(ra && atoi(ra + 15) >= 1 && atoi(ra + 15) <= 61, "%s", local);

    static const char small[] = "{\"model\":\"small\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"hi\"}]}";
    for (int i = 0; i < 2; i++)
        cr_assert_eq(call(sp, "POST", "/v1/chat/completions", b, small, local, sizeof(local)), 200,
                     "%s", local);
    cr_assert_eq(call(sp, "POST", "/v1/chat/completions", b, small, local, sizeof(local)), 429,
                 "%s", local);
    cr_assert_not_null(strstr(local, "at its provider's rate limit"), "%s", local);
    ra = strcasestr(local, "\r\nRetry-After: ");
    cr_assert(ra && atoi(ra + 15) >= 1 && atoi(ra + 15) <= 61, "%s", local);
    cr_assert_eq(call(sp, "GET", "/metrics", a, NULL, buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "sluice_limit_refusals_total{key=\"team-a\",limit=\"tpm\"} 2\n"),
                       "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
    const char *db = e2e_path("serve.db");
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'status' = 429"),
                 3);
    /* the prompt counted before admission is the row's */
    cr_assert_eq(e2e_sql_int(db, "SELECT count(*) FROM requests WHERE metadata ->> 'status' = 200 "
                                 "AND metadata ->> 'key' = 'team-a' AND "
                                 "metadata ->> 'prompt_tokens_counted' = 8"),
                 2);
}
