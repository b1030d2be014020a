/* Governance across instances: three `sluice serve` on loopback share one
 * redis-server (started here on a private port) and one database
 * (PostgreSQL from SLUICE_TEST_PG_URL when set, else one SQLite file), in
 * front of one `sluice mock`. Each test starts its own cluster and checks
 * one promise of issue 11: a deployment's max_concurrency holds across the
 * instances, a key's rpm is counted once for all of them, a budget crossed
 * on one instance refuses on every one, Redis killed and restarted follows
 * the configured policy and recovers, and a key revoked on one instance is
 * refused by all within a second.
 *
 * The client threads never call criterion's assertions (those belong to
 * the test's thread): they count statuses, and the test asserts after
 * joining them. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../pg_support.h"
#include "../redis_support.h"
#include "serve_support.h"

#define INSTANCES 3
#define MASTER    "Authorization: Bearer master-key-for-tests\r\n"

static struct cluster {
    int redis_port, mock_port;
    pid_t redis, mock;
    int port[INSTANCES];
    pid_t serve[INSTANCES];
    char db[512];
    int pg;
} C;

static void setup(void)
{
    e2e_tmpdir();
    memset(&C, 0, sizeof C);
    C.redis_port = free_port();
    const char *pg = getenv("SLUICE_TEST_PG_URL");
    if (pg && *pg) {
        pgt_new_db();
        C.pg = 1;
        snprintf(C.db, sizeof C.db, "%s", pgt_url);
    } else {
        snprintf(C.db, sizeof C.db, "%s", e2e_path("gov.db"));
    }
}

/* Kills what a failed test left running. */
static void teardown(void)
{
    for (int i = 0; i < INSTANCES; i++)
        e2e_kill_child(C.serve[i]);
    e2e_kill_child(C.mock);
    e2e_kill_child(C.redis);
    if (C.pg)
        pgt_drop_db();
    e2e_rmdir();
}

TestSuite(governance, .init = setup, .fini = teardown, .timeout = 60);

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";
static char buf[1 << 16];

/* ---- the cluster ---------------------------------------------------------- */

/* The config's redis block: the short form (on_failure NULL), or the long
 * form with a policy and a lease time. */
static const char *redis_block(const char *on_failure, unsigned lease_ms)
{
    static char block[256];
    if (!on_failure)
        snprintf(block, sizeof block, "redis: redis://127.0.0.1:%d/0\n", C.redis_port);
    else
        snprintf(block, sizeof block,
                 "redis:\n  url: redis://127.0.0.1:%d/0\n  on_failure: %s\n  instances: %d\n"
                 "  lease_ms: %u\n",
                 C.redis_port, on_failure, INSTANCES, lease_ms);
    return block;
}

/* redis-server (on C.redis_port, chosen by setup), the mock (mock_args,
 * NULL-terminated), and three serves with one config: virtual keys, prices
 * of $1000 per million tokens (a request of 9 prompt and 50 completion
 * tokens costs $0.059), the redis block (from redis_block), and one
 * deployment with the options `deployment` ("max_concurrency: 5"). */
static void start_cluster(const char *redis, const char *const *mock_args, const char *deployment)
{
    C.redis = start_redis(C.redis_port, NULL);
    C.mock_port = e2e_start_mock(mock_args, &C.mock);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "drain_timeout_ms: 2000\n"
             "virtual_keys: true\n"
             "metrics: {public: true}\n"
             "prices: [{model: gpt-4o-mini, input: 1000, output: 1000}]\n"
             "%s"
             "models:\n"
             "  - name: gpt-4o-mini\n"
             "    deployments:\n"
             "      - {name: mock, url: 'http://127.0.0.1:%d', %s}\n",
             redis, C.mock_port, deployment);
    const char *config = e2e_write_file("gov.yaml", yaml);
    /* several instances on one database: each its own spool files */
    setenv("SLUICE_MASTER_KEY", "master-key-for-tests", 1);
    for (int i = 0; i < INSTANCES; i++) {
        char name[16], spool[32];
        snprintf(name, sizeof name, "serve%d", i);
        snprintf(spool, sizeof spool, "serve%d.spool", i);
        const char *args[] = {"serve", "--config", config,    "--listen",      "127.0.0.1:0",
                              "--db",  C.db,       "--spool", e2e_path(spool), NULL};
        C.port[i] = e2e_start_server(name, args, &C.serve[i]);
    }
    unsetenv("SLUICE_MASTER_KEY");
}

/* Stops everything; each serve must exit cleanly (it flushes its spend),
 * and none may have complained about the shared database (three writers
 * on one SQLite file wait for each other, up to its busy timeout). */
static void stop_cluster(void)
{
    for (int i = 0; i < INSTANCES; i++) {
        if (C.serve[i] == 0)
            continue; /* killed by the test */
        e2e_stop(C.serve[i]);
        C.serve[i] = 0;
        char name[16];
        snprintf(name, sizeof name, "serve%d.err", i);
        char *err = e2e_slurp(e2e_path(name));
        cr_assert_null(strstr(err, "virtual keys: "), "instance %d: %s", i, err);
        cr_assert_null(strstr(err, "locked"), "instance %d: %s", i, err);
        free(err);
    }
    e2e_stop(C.mock);
    C.mock = 0;
    stop_redis(C.redis);
    C.redis = 0;
}

/* One integer from the shared database. */
static long long db_int(const char *sql)
{
    return C.pg ? pgt_int(C.db, sql) : e2e_sql_int(C.db, sql);
}

/* ---- clients --------------------------------------------------------------- */

/* One chat request with KEY on a fresh connection to 127.0.0.1:PORT, safe
 * on any thread (no assertion); the status, or -1 when the connection
 * failed or timed out. The response goes to out (size > 0). */
static int call(int port, const char *key, char *out, size_t size)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                     "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     key, strlen(chat), chat);
    int fd = e2e_dial_timeout(port, 20000);
    if (fd < 0)
        return -1;
    size_t len = 0;
    int ok = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
    while (ok && len + 1 < size) { /* Connection: close, so the response ends at EOF */
        ssize_t got = recv(fd, out + len, size - len - 1, 0);
        if (got <= 0) {
            ok = got == 0;
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    out[len] = '\0';
    return ok && len > 12 && strncmp(out, "HTTP/1.1 ", 9) == 0 ? atoi(out + 9) : -1;
}

/* The same on the test's thread, the response in buf. */
static int chat_on(int instance, const char *key)
{
    return call(C.port[instance], key, buf, sizeof buf);
}

static int admin(int instance, const char *method, const char *path, const char *body)
{
    return bh_request_with(C.port[instance], method, path, MASTER, body, buf, sizeof buf);
}

/* Makes a key through instance's admin API (json: its fields); its secret
 * into secret (64 bytes). */
static void create_key(int instance, const char *json, char *secret)
{
    cr_assert_eq(admin(instance, "POST", "/admin/keys", json), 201, "%s", buf);
    const char *p = strstr(buf, "\"secret\":\"");
    cr_assert_not_null(p, "%s", buf);
    p += 10;
    size_t n = strcspn(p, "\"");
    cr_assert(n > 0 && n < 64, "%s", buf);
    memcpy(secret, p, n);
    secret[n] = '\0';
}

/* Waits (at most 3 s) until instance knows key (answers anything but 401);
 * returns that answer's status. */
static int until_known(int instance, const char *key)
{
    int st;
    double t0 = e2e_now_ms();
    while ((st = chat_on(instance, key)) == 401 && e2e_now_ms() - t0 < 3000)
        usleep(20000);
    return st;
}

/* Every instance knows key and lets one request of it through. */
static void known_everywhere(const char *key)
{
    for (int i = 0; i < INSTANCES; i++)
        cr_assert_eq(until_known(i, key), 200, "instance %d: %s", i, buf);
}

/* Waits (at most 3 s) until instance has loaded key NAME, without sending
 * a request: its usage answer has this instance's part only then. */
static void until_loaded(int instance, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/admin/keys/%s/usage", name);
    double t0 = e2e_now_ms();
    while ((admin(instance, "GET", path, NULL) != 200 || !strstr(buf, "\"this_instance\":")) &&
           e2e_now_ms() - t0 < 3000)
        usleep(20000);
    cr_assert_not_null(strstr(buf, "\"this_instance\":"), "instance %d: %s", instance, buf);
}

/* A family's samples in instance's /metrics, summed (labelled or not); -1
 * when it has none. */
static double metric(int instance, const char *name)
{
    const char *text = e2e_read_metrics(C.port[instance]);
    double sum = -1;
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)) != NULL; p += n) {
        if (p > text && p[-1] != '\n')
            continue;
        const char *v = p[n] == ' ' ? p + n : p[n] == '{' ? strchr(p, '}') : NULL;
        if (v)
            sum = (sum < 0 ? 0 : sum) + strtod(v + 1, NULL);
    }
    return sum;
}

static double metric_all(const char *name)
{
    double sum = 0;
    for (int i = 0; i < INSTANCES; i++) {
        double v = metric(i, name);
        sum += v > 0 ? v : 0;
    }
    return sum;
}

/* Waits (at most timeout_ms) until name reads value on every instance. */
static void until_metric_everywhere(const char *name, double value, double timeout_ms)
{
    for (int i = 0; i < INSTANCES; i++) {
        double t0 = e2e_now_ms(), v;
        while ((v = metric(i, name)) != value && e2e_now_ms() - t0 < timeout_ms)
            usleep(20000);
        cr_assert_eq(v, value, "instance %d: %s is %g after %.0f ms, not %g", i, name, v,
                     timeout_ms, value);
    }
}

/* Client threads calling the cluster with one key, counting what they get:
 * each thread sends `each` requests, or (each 0) keeps sending until
 * `accepted` were accepted and `refused` refused in total, or the
 * deadline. Thread t sends its i-th request to instance (t + i) % 3, or
 * always to `only` when it is >= 0. */
struct load {
    const char *key;
    int threads, each, only;
    int accepted, refused; /* the stop condition when each is 0 */
    double deadline_ms;
    atomic_int ok, too_many, unknown, other;
    atomic_int other_status; /* the first other status, for the message */
    char other_body[512];
    atomic_flag other_kept;
    atomic_int next_thread;
};

static int load_done(struct load *l)
{
    if (e2e_now_ms() > l->deadline_ms)
        return 1;
    return l->each == 0 && atomic_load(&l->ok) >= l->accepted &&
           atomic_load(&l->too_many) >= l->refused;
}

static void *load_thread(void *arg)
{
    struct load *l = arg;
    int t = atomic_fetch_add(&l->next_thread, 1);
    char out[8192];
    for (int i = 0; (l->each == 0 || i < l->each) && !load_done(l); i++) {
        int port = C.port[l->only >= 0 ? l->only : (t + i) % INSTANCES];
        int st = call(port, l->key, out, sizeof out);
        if (st == 200)
            atomic_fetch_add(&l->ok, 1);
        else if (st == 429)
            atomic_fetch_add(&l->too_many, 1);
        else if (st == 401) /* not synced to this instance yet */
            atomic_fetch_add(&l->unknown, 1);
        else {
            atomic_fetch_add(&l->other, 1);
            if (!atomic_flag_test_and_set(&l->other_kept)) {
                atomic_store(&l->other_status, st);
                snprintf(l->other_body, sizeof l->other_body, "%s", out);
            }
        }
    }
    return NULL;
}

static void run_load(struct load *l, double timeout_ms)
{
    pthread_t t[64];
    cr_assert_leq(l->threads, 64);
    l->deadline_ms = e2e_now_ms() + timeout_ms;
    atomic_flag_clear(&l->other_kept);
    for (int i = 0; i < l->threads; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, load_thread, l), 0);
    for (int i = 0; i < l->threads; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&l->other), 0, "%d answers neither 200 nor 429, the first %d: %s",
                 atomic_load(&l->other), atomic_load(&l->other_status), l->other_body);
}

/* The code of an OpenAI-shaped error in buf is code. */
static void assert_code(const char *code)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"code\":\"%s\"", code);
    cr_assert_not_null(strstr(buf, pat), "expected %s: %s", code, buf);
}

/* ---- the scenarios --------------------------------------------------------- */

/* 50 clients spread across the instances, one deployment with
 * max_concurrency 5 and a 50 ms upstream: the upstream never sees more
 * than 5 at once; every request gets 200 or a 429 from the queue. */
Test(governance, max_concurrency_holds_across_instances)
{
    const char *margs[] = {"--latency-ms", "50", NULL};
    start_cluster(redis_block(NULL, 0), margs, "max_concurrency: 5");
    char key[64];
    create_key(0, "{\"name\":\"many\"}", key);
    known_everywhere(key);
    cr_assert_eq(bh_request(C.mock_port, "POST", "/mock/reset", NULL, buf, sizeof buf), 200);

    struct load l = {.key = key, .threads = 50, .each = 4, .only = -1};
    double t0 = e2e_now_ms();
    run_load(&l, 30000);
    double took = e2e_now_ms() - t0;
    int ok = atomic_load(&l.ok), queued = atomic_load(&l.too_many);
    /* how busy the 5 permits kept the upstream (for the log, not a test) */
    cr_log_info("max_concurrency 5 across 3 instances: %d x 200, %d x 429 in %.0f ms, the "
                "permits %.0f%% busy",
                ok, queued, took, 100.0 * ok * 50 / (took * 5));
    cr_assert_eq(ok + queued, 200, "%d ok, %d 429, %d 401", ok, queued, atomic_load(&l.unknown));
    cr_assert_gt(ok, 0);
    double peak = e2e_mock_stat(C.mock_port, "max_in_flight");
    cr_assert_leq(peak, 5, "the upstream saw %g requests at once", peak);
    cr_assert_eq(e2e_mock_stat(C.mock_port, "requests"), ok);
    stop_cluster();
}

/* A key with rpm 120 called as fast as the clients can, across the three:
 * 120 accepted in all (within 1%), not 3 x 120. The key is known to every
 * instance before the load starts (one request each), so that no instance
 * sits the load out answering 401. */
Test(governance, rpm_is_counted_once_across_instances)
{
    start_cluster(redis_block(NULL, 0), NULL, "max_concurrency: 100");
    char key[64];
    create_key(0, "{\"name\":\"rpm120\",\"rpm\":120}", key);
    known_everywhere(key);
    struct load l = {.key = key, .threads = 12, .only = -1, .accepted = 117, .refused = 60};
    run_load(&l, 20000);
    int ok = INSTANCES + atomic_load(&l.ok), refused = atomic_load(&l.too_many);
    cr_log_info("rpm 120 across 3 instances: %d accepted, %d refused", ok, refused);
    cr_assert(ok >= 119 && ok <= 121, "%d accepted (and %d refused) in a minute, not 120", ok,
              refused);
    cr_assert_geq(refused, 60);
    cr_assert_eq(atomic_load(&l.unknown), 0);
    cr_assert_eq(metric_all("sluice_limit_refusals_total"), refused,
                 "the instances' refusal counters add up to the refusals");
    stop_cluster();
}

/* The usage of key NAME as instance reports it: this instance's charged
 * spend. */
static double instance_spend(int instance, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/admin/keys/%s/usage", name);
    cr_assert_eq(admin(instance, "GET", path, NULL), 200, "%s", buf);
    const char *p = strstr(buf, "\"this_instance\":");
    p = p ? strstr(p, "\"spend_usd\":") : NULL;
    return p ? atof(p + 12) : -1;
}

/* The n-th request of the budget key, on instance: accepted, and charged
 * by it. Its usage's spend is the database's (every instance's flushed
 * charges) plus its own, so it reaches n x $0.059 only once this request
 * is charged (and with it, the shared counter). */
static void spend_once(int instance, const char *key, int n)
{
    cr_assert_eq(until_known(instance, key), 200, "instance %d: %s", instance, buf);
    double t0 = e2e_now_ms(), want = 0.059 * n - 0.001;
    /* the cost is charged once the row is priced, off the loop; another
     * instance's charge is known after its flush and this one's sync */
    while (instance_spend(instance, "small") < want && e2e_now_ms() - t0 < 5000)
        usleep(5000);
    cr_assert_geq(instance_spend(instance, "small"), want, "%s", buf);
}

/* A key with a $0.10 budget: a request on instance 0 and one on instance 1
 * ($0.059 each) cross it, and then every instance refuses with
 * insufficient_quota at once; the database holds the spend. */
Test(governance, a_budget_crossed_on_one_instance_refuses_on_all)
{
    const char *margs[] = {"--tokens", "50", NULL};
    start_cluster(redis_block(NULL, 0), margs, "max_concurrency: 100");
    char key[64];
    create_key(0, "{\"name\":\"small\",\"budget_usd\":0.1,\"budget_period\":\"daily\"}", key);
    spend_once(0, key, 1);
    spend_once(1, key, 2);
    cr_assert_eq(until_known(2, key), 429, "the third request, on instance 2: %s", buf);
    assert_code("insufficient_quota");
    for (int i = 0; i < INSTANCES; i++) {
        cr_assert_eq(chat_on(i, key), 429, "instance %d: %s", i, buf);
        assert_code("insufficient_quota");
    }
    stop_cluster(); /* the spend is flushed on the way out */
    cr_assert_eq(db_int("SELECT CAST(round(sum(usd) * 1000) AS INTEGER) FROM gateway_key_spend"),
                 118);
    cr_assert_eq(db_int("SELECT sum(requests) FROM gateway_key_spend"), 2);
}

/* A key with rpm 6 across the instances (made now, on instance 0): 6
 * accepted in all, all 6 through instance `only` when it is >= 0. */
static void assert_shared_rpm(const char *name, int only)
{
    char key[64], json[128];
    snprintf(json, sizeof json, "{\"name\":\"%s\",\"rpm\":6}", name);
    create_key(0, json, key);
    struct load l = {.key = key, .threads = 3, .only = only, .accepted = 6, .refused = 6};
    run_load(&l, 10000);
    cr_assert_eq(atomic_load(&l.ok), 6, "rpm 6 after Redis came back: %d accepted, %d refused",
                 atomic_load(&l.ok), atomic_load(&l.too_many));
}

/* fail_closed: with Redis killed every instance answers 503
 * limits_unavailable; once it is back (same port, empty) requests pass
 * again within a few seconds, and the limits are shared again. */
Test(governance, redis_killed_fail_closed_refuses_then_recovers)
{
    start_cluster(redis_block("fail_closed", 10000), NULL, "max_concurrency: 100");
    char key[64];
    create_key(0, "{\"name\":\"steady\"}", key);
    known_everywhere(key);
    until_metric_everywhere("sluice_redis_up", 1, 3000);

    stop_redis(C.redis); /* SIGKILL */
    C.redis = 0;
    for (int i = 0; i < INSTANCES; i++) {
        int st;
        double t0 = e2e_now_ms();
        while ((st = chat_on(i, key)) == 200 && e2e_now_ms() - t0 < 3000)
            usleep(20000);
        cr_assert_eq(st, 503, "instance %d with Redis down: %s", i, buf);
        assert_code("limits_unavailable");
        cr_assert_not_null(strcasestr(buf, "\r\nRetry-After: 1\r\n"), "%s", buf);
    }
    until_metric_everywhere("sluice_redis_up", 0, 3000);

    C.redis = start_redis(C.redis_port, NULL);
    double t0 = e2e_now_ms();
    for (int i = 0; i < INSTANCES; i++) {
        int st;
        while ((st = chat_on(i, key)) != 200 && e2e_now_ms() - t0 < 8000)
            usleep(50000);
        cr_assert_eq(st, 200, "instance %d after Redis came back: %s", i, buf);
    }
    cr_log_info("fail_closed: every instance passed again %.0f ms after the restart",
                e2e_now_ms() - t0);
    until_metric_everywhere("sluice_redis_up", 1, 1000);
    assert_shared_rpm("after", -1);
    stop_cluster();
}

/* fail_open: with Redis killed requests go through on local limits (a key's
 * rpm divided by the instance count on each instance) and the fallbacks
 * are counted; once Redis is back the limits are shared again and no more
 * fallbacks are counted. */
Test(governance, redis_killed_fail_open_uses_local_limits_then_recovers)
{
    start_cluster(redis_block("fail_open", 10000), NULL, "max_concurrency: 100");
    char key[64];
    create_key(0, "{\"name\":\"steady\",\"rpm\":30}", key);
    known_everywhere(key);
    until_metric_everywhere("sluice_redis_up", 1, 3000);
    double before = metric_all("sluice_limit_fallbacks_total");

    stop_redis(C.redis);
    C.redis = 0;
    until_metric_everywhere("sluice_redis_up", 0, 3000);
    for (int i = 0; i < INSTANCES; i++)
        cr_assert_eq(chat_on(i, key), 200, "instance %d with Redis down: %s", i, buf);
    /* a fresh key with rpm 30, all on instance 0: 30 / 3 instances */
    char local[64];
    create_key(0, "{\"name\":\"local\",\"rpm\":30}", local);
    struct load l = {.key = local, .threads = 2, .only = 0, .accepted = 10, .refused = 5};
    run_load(&l, 10000);
    cr_assert_eq(atomic_load(&l.ok), 10, "rpm 30 on local limits: %d accepted on one instance",
                 atomic_load(&l.ok));
    double during = metric_all("sluice_limit_fallbacks_total");
    cr_assert_geq(during - before, 3 + 10, "fallbacks counted: %g before, %g now", before, during);

    C.redis = start_redis(C.redis_port, NULL);
    until_metric_everywhere("sluice_redis_up", 1, 8000);
    double after = metric_all("sluice_limit_fallbacks_total");
    assert_shared_rpm("after", 0);
    cr_assert_eq(metric_all("sluice_limit_fallbacks_total"), after,
                 "no fallback once Redis is back");
    stop_cluster();
}

/* A key revoked through one instance's admin API is refused (401) by all
 * three within a second. */
Test(governance, a_revoked_key_is_refused_everywhere_within_a_second)
{
    start_cluster(redis_block(NULL, 0), NULL, "max_concurrency: 100");
    char key[64];
    create_key(0, "{\"name\":\"leaving\"}", key);
    known_everywhere(key);
    cr_assert_eq(admin(1, "POST", "/admin/keys/leaving/revoke", NULL), 200, "%s", buf);
    double t0 = e2e_now_ms(), slowest = 0;
    for (int i = 0; i < INSTANCES; i++) {
        int st;
        while ((st = chat_on(i, key)) != 401 && e2e_now_ms() - t0 < 3000)
            usleep(10000);
        cr_assert_eq(st, 401, "instance %d still takes the revoked key: %s", i, buf);
        cr_assert_not_null(strstr(buf, "was revoked"), "%s", buf);
        slowest = e2e_now_ms() - t0;
    }
    cr_log_info("revoked: refused by all three after %.0f ms", slowest);
    cr_assert_lt(slowest, 1000, "the last instance refused the key after %.0f ms", slowest);
    stop_cluster();
}

/* One request with key on instance, on a thread of its own. */
struct one_call {
    pthread_t thread;
    int instance, status;
    const char *key;
};

static void *one_call_thread(void *arg)
{
    struct one_call *c = arg;
    char out[8192];
    c->status = call(C.port[c->instance], c->key, out, sizeof out);
    return NULL;
}

static void one_call_start(struct one_call *c, int instance, const char *key)
{
    *c = (struct one_call){.instance = instance, .key = key, .status = -2};
    cr_assert_eq(pthread_create(&c->thread, NULL, one_call_thread, c), 0);
}

/* An instance killed (SIGKILL) while it holds both permits of a
 * deployment with max_concurrency 2: its leases are no longer renewed, so
 * the permits come back after lease_ms (1 s here), not before, and a
 * request waiting on another instance goes through then. */
Test(governance, a_crashed_instance_permits_return_after_the_lease)
{
    const char *margs[] = {"--latency-ms", "2000", NULL};
    start_cluster(redis_block("fail_closed", 1000), margs,
                  "max_concurrency: 2, queue_timeout_ms: 8000");
    char key[64];
    create_key(0, "{\"name\":\"crash\"}", key);
    until_loaded(1, "crash");
    struct one_call held[2], waiting;
    for (int i = 0; i < 2; i++)
        one_call_start(&held[i], 0, key);
    e2e_wait_mock_stat(C.mock_port, "requests", 2, 5000);
    cr_assert_eq(e2e_mock_stat(C.mock_port, "requests"), 2);

    e2e_kill_child(C.serve[0]);
    C.serve[0] = 0;
    double t0 = e2e_now_ms();
    one_call_start(&waiting, 1, key);
    e2e_wait_mock_stat(C.mock_port, "requests", 3, 8000);
    double took = e2e_now_ms() - t0;
    cr_assert_eq(e2e_mock_stat(C.mock_port, "requests"), 3, "the permits never came back");
    cr_log_info("lease 1000 ms: the permits came back %.0f ms after the crash", took);
    cr_assert(took >= 500 && took < 2500,
              "the waiting request reached the upstream %.0f ms after "
              "the crash, not after the lease (1000 ms)",
              took);
    pthread_join(waiting.thread, NULL);
    cr_assert_eq(waiting.status, 200);
    for (int i = 0; i < 2; i++) {
        pthread_join(held[i].thread, NULL);
        cr_assert_eq(held[i].status, -1, "the killed instance answered");
    }
    stop_cluster();
}

/* With Redis as without it: a key over its own limit is told so at once,
 * not after waiting for a busy deployment; and a deployment with
 * queue_length 0 has no queue (429 queue_full at once), on every
 * instance. */
Test(governance, key_limits_first_and_no_queue_means_none)
{
    const char *margs[] = {"--latency-ms", "2000", NULL};
    start_cluster(redis_block("fail_closed", 10000), margs,
                  "max_concurrency: 1, queue_length: 0, queue_timeout_ms: 1500");
    char key[64], other[64];
    create_key(0, "{\"name\":\"one\",\"rpm\":1}", key);
    create_key(0, "{\"name\":\"free\"}", other);
    until_loaded(1, "one");
    until_loaded(2, "free");
    struct one_call busy;
    one_call_start(&busy, 0, key); /* the key's one request, holding the one permit */
    e2e_wait_mock_stat(C.mock_port, "requests", 1, 5000);
    double t0 = e2e_now_ms();
    cr_assert_eq(chat_on(1, key), 429, "%s", buf);
    double took = e2e_now_ms() - t0;
    cr_assert_not_null(strstr(buf, "\"code\":\"rate_limit_exceeded\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "requests per minute"), "%s", buf);
    cr_assert_lt(took, 1000, "the key's refusal took %.0f ms", took);
    t0 = e2e_now_ms();
    cr_assert_eq(chat_on(2, other), 429, "%s", buf);
    took = e2e_now_ms() - t0;
    cr_assert_not_null(strstr(buf, "\"code\":\"queue_full\""), "%s", buf);
    cr_assert_lt(took, 1000, "queue_length 0 waited %.0f ms", took);
    pthread_join(busy.thread, NULL);
    cr_assert_eq(busy.status, 200);
    stop_cluster();
}
