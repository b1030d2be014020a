/* Helpers shared by the end-to-end tests of `sluice serve`: a clock, config
 * files in the test's directory, starting serve, reading the mock's
 * /mock/stats and serve's /metrics, and raw connections with timeouts. */
#ifndef SL_SERVE_SUPPORT_H
#define SL_SERVE_SUPPORT_H

#include <netinet/tcp.h>
#include <stdarg.h>
#include <time.h>

#include "../blocking_http.h"
#include "e2e.h"

/* Milliseconds on the monotonic clock. */
static inline double e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* `sluice serve FLAG VALUE --listen 127.0.0.1:0 --db DB EXTRA...` as
 * "serve" (DB NULL: serve.db in the test's directory); returns its port. */
static inline int e2e_start_serve_with(const char *flag, const char *value, const char *db,
                                       const char *const *extra, pid_t *pid)
{
    const char *args[40] = {
        "serve", flag, value, "--listen", "127.0.0.1:0", "--db", db ? db : e2e_path("serve.db")};
    int n = 7;
    for (; extra && *extra && n < 39; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    return e2e_start_server("serve", args, pid);
}

/* serve with a config file, and extra arguments (NULL-terminated, or NULL). */
static inline int e2e_start_serve(const char *config, const char *const *extra, pid_t *pid)
{
    return e2e_start_serve_with("--config", config, NULL, extra, pid);
}

/* serve with the config file NAME in the test's directory, written from
 * the printf format and its arguments; extra as for e2e_start_serve. */
static inline int e2e_start_serve_yaml(const char *name, const char *const *extra, pid_t *pid,
                                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline int e2e_start_serve_yaml(const char *name, const char *const *extra, pid_t *pid,
                                       const char *fmt, ...)
{
    char yaml[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(yaml, sizeof(yaml), fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(yaml), "the config of %s is too long", name);
    return e2e_start_serve(e2e_write_file(name, yaml), extra, pid);
}

/* serve in front of one upstream on 127.0.0.1:MOCK_PORT, recording in DB
 * (NULL: serve.db in the test's directory). */
static inline int e2e_start_serve_upstream(int mock_port, const char *db, pid_t *pid)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", mock_port);
    return e2e_start_serve_with("--upstream", url, db, NULL, pid);
}

/* A counter of `sluice mock`'s /mock/stats. */
static inline double e2e_mock_stat(int mock_port, const char *key)
{
    char local[8192];
    cr_assert_eq(bh_request(mock_port, "GET", "/mock/stats", NULL, local, sizeof(local)), 200);
    return e2e_json_num(strstr(local, "\r\n\r\n"), key);
}

/* Waits (at most timeout_ms) until the mock's counter KEY reaches MIN; the
 * caller asserts what it needs. */
static inline void e2e_wait_mock_stat(int mock_port, const char *key, double min, double timeout_ms)
{
    double t0 = e2e_now_ms();
    while (e2e_mock_stat(mock_port, key) < min && e2e_now_ms() - t0 < timeout_ms)
        usleep(5000);
}

/* The response of serve's /metrics last read by e2e_metric or
 * e2e_metric_sum. */
static inline char *e2e_metrics_text(void)
{
    static char text[256 * 1024];
    return text;
}

static inline const char *e2e_read_metrics(int port)
{
    char *text = e2e_metrics_text();
    cr_assert_eq(bh_request(port, "GET", "/metrics", NULL, text, 256 * 1024), 200);
    return text;
}

/* The value of an unlabelled sample in serve's /metrics, or -1 when absent. */
static inline double e2e_metric(int port, const char *name)
{
    const char *text = e2e_read_metrics(port);
    char pat[128];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    const char *p = strstr(text, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* The sum of a family's labelled samples in serve's /metrics (prefix:
 * "name{"). */
static inline double e2e_metric_sum(int port, const char *prefix)
{
    const char *text = e2e_read_metrics(port);
    double sum = 0;
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++) {
        const char *v = strchr(p, '}');
        if (v)
            sum += strtod(v + 1, NULL);
    }
    return sum;
}

/* A connection to 127.0.0.1:PORT with send and receive timeouts and no
 * Nagle delay; -1 when refused (nothing listens). */
static inline int e2e_dial_timeout(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Children a failed assertion would leave running (criterion ends a test at
 * its first failed assertion): e2e_kill_live, as a suite's .fini, kills
 * them. */
static pid_t e2e_live_serve, e2e_live_upstream;

static inline void e2e_kill_child(pid_t pid)
{
    if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* A suite's .fini: kills what a failed test left running, removes the
 * test's directory. */
static inline void e2e_kill_live(void)
{
    e2e_kill_child(e2e_live_serve);
    e2e_kill_child(e2e_live_upstream);
    e2e_rmdir();
}

/* serve in front of one upstream on 127.0.0.1:UPSTREAM_PORT with the
 * given retry policy and its cooldown out of the way (a scripted upstream
 * fails on purpose); config serve.yaml, database serve.db. */
static inline int e2e_start_serve_in_front(int upstream_port, int max_attempts, int base_ms,
                                           int cooldown_failures, pid_t *pid)
{
    int port = e2e_start_serve_yaml(
        "serve.yaml", NULL, pid,
        "drain_timeout_ms: 2000\n"
        "models:\n"
        "  - name: m\n"
        "    total_timeout_ms: 20000\n"
        "    deployments:\n"
        "      - {name: hostile, url: 'http://127.0.0.1:%d', attempt_timeout_ms: 5000,\n"
        "         cooldown_failures: %d,\n"
        "         retry: {max_attempts: %d, backoff: fixed, base_ms: %d,\n"
        "                 retry_after_cap_ms: 200}}\n",
        upstream_port, cooldown_failures, max_attempts, base_ms);
    e2e_live_serve = *pid;
    return port;
}

/* A fallback pair: "mock1" fails every request with 500, "mock2" answers. */
static inline void e2e_start_fallback_mocks(int *bad_port, pid_t *bad, int *good_port, pid_t *good)
{
    const char *fail[] = {"--fail-rate", "1", "--error-mix", "500", NULL};
    *bad_port = e2e_start_mock_as("mock1", fail, bad);
    *good_port = e2e_start_mock_as("mock2", NULL, good);
}

/* The model gpt-4o-mini in front of that pair, as YAML in out: deployment
 * FIRST (the bad mock) is picked nearly always and tried twice, BASE_MS
 * apart; then SECOND (the good one). Returns out. */
static inline const char *e2e_fallback_model(char *out, size_t size, const char *first,
                                             const char *second, int base_ms, int bad_port,
                                             int good_port)
{
    snprintf(out, size,
             "  - name: gpt-4o-mini\n"
             "    deployments:\n"
             "      - {name: %s, url: 'http://127.0.0.1:%d', weight: 1000000,\n"
             "         retry: {max_attempts: 2, backoff: fixed, base_ms: %d}}\n"
             "      - {name: %s, url: 'http://127.0.0.1:%d', weight: 0.000001}\n",
             first, bad_port, base_ms, second, good_port);
    return out;
}

#endif
