/* Virtual keys end to end: the admin API on serve's listener (master key
 * from SLUICE_MASTER_KEY), keys made with `sluice keys` reaching a running
 * gateway within a second, budgets refused with insufficient_quota, and
 * the spend persisted in the database. */
#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "serve_support.h"

TestSuite(virtual_keys, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

#define MASTER "Authorization: Bearer master-key-for-tests\r\n"
#define MODEL_YAML                                                                                 \
    "models:\n  - name: gpt-4o-mini\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n"            \
    "  - name: o3\n    deployments: [{url: 'http://127.0.0.1:%d'}]\n"

static const char chat[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello\"}]}";
static char buf[1 << 16];

static int start(const char *extra_yaml, pid_t *mock, pid_t *serve)
{
    const char *margs[] = {"--tokens", "50", NULL};
    int mp = e2e_start_mock(margs, mock);
    setenv("SLUICE_MASTER_KEY", "master-key-for-tests", 1);
    int sp = e2e_start_serve_yaml("vk.yaml", NULL, serve, "virtual_keys: true\n%s" MODEL_YAML,
                                  extra_yaml, mp, mp);
    unsetenv("SLUICE_MASTER_KEY");
    return sp;
}

/* The value of "name":"..." in a JSON text, into out. */
static const char *json_str(const char *text, const char *name, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "no %s in %s", name, text);
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    cr_assert_lt(n, size);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static int chat_with(int port, const char *secret, const char *body)
{
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", secret);
    return bh_request_with(port, "POST", "/v1/chat/completions", auth, body, buf, sizeof buf);
}

static int admin(int port, const char *method, const char *path, const char *body)
{
    return bh_request_with(port, method, path, MASTER, body, buf, sizeof buf);
}

Test(virtual_keys, admin_api_manages_keys)
{
    pid_t mock, serve;
    int sp = start("", &mock, &serve);
    cr_assert_eq(bh_request_with(sp, "GET", "/admin/keys", NULL, NULL, buf, sizeof buf), 401);
    cr_assert_eq(bh_request_with(sp, "GET", "/admin/keys", "Authorization: Bearer nope\r\n", NULL,
                                 buf, sizeof buf),
                 401);
    cr_assert_eq(chat_with(sp, "sk-sl-nothing", chat), 401, "auth is on with virtual keys");

    cr_assert_eq(
        admin(sp, "POST", "/admin/keys", "{\"name\":\"alice\",\"models\":[\"gpt-4o*\"],\"rpm\":2}"),
        201, "%s", buf);
    char secret[64], id[32], secret2[64];
    json_str(buf, "secret", secret, sizeof secret);
    json_str(buf, "id", id, sizeof id);
    cr_assert(strncmp(secret, "sk-sl-", 6) == 0, "%s", secret);
    /* only the digest is stored */
    unsigned char d[32];
    unsigned int dn = 32;
    EVP_Digest(secret, strlen(secret), d, &dn, EVP_sha256(), NULL);
    char hex[65], sql[256];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM gateway_keys WHERE secret_sha256 = '%s'", hex);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"), sql), 1);
    char *file = e2e_slurp(e2e_path("serve.db"));
    cr_assert_null(strstr(file, secret + 6), "the secret is not in the database file");
    free(file);

    cr_assert_eq(chat_with(sp, secret, chat), 200, "%s", buf);
    static const char other[] = "{\"model\":\"o3\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"hello\"}]}";
    cr_assert_eq(chat_with(sp, secret, other), 403, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"code\":\"model_not_allowed\""), "%s", buf);
    cr_assert_eq(chat_with(sp, secret, chat), 200, "%s", buf);
    cr_assert_eq(chat_with(sp, secret, chat), 429, "rpm 2: %s", buf);

    cr_assert_eq(admin(sp, "GET", "/admin/keys", NULL), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"name\":\"alice\""), "%s", buf);
    cr_assert_null(strstr(buf, secret), "a list never shows a secret");
    cr_assert_eq(admin(sp, "GET", "/admin/keys/alice", NULL), 200, "%s", buf);
    cr_assert_eq(admin(sp, "PATCH", "/admin/keys/alice", "{\"rpm\":100}"), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"rpm\":100"), "%s", buf);
    cr_assert_eq(chat_with(sp, secret, chat), 200, "the change applies at once: %s", buf);

    char path[128];
    snprintf(path, sizeof path, "/admin/keys/%s/rotate", id);
    cr_assert_eq(admin(sp, "POST", path, NULL), 200, "%s", buf);
    json_str(buf, "secret", secret2, sizeof secret2);
    cr_assert_eq(chat_with(sp, secret, chat), 401, "the old secret stops at once");
    cr_assert_eq(chat_with(sp, secret2, chat), 200, "%s", buf);

    cr_assert_eq(admin(sp, "GET", "/admin/keys/alice/usage", NULL), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"gateway.key.usage\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"this_instance\":{\"in_flight\":0"), "%s", buf);

    cr_assert_eq(admin(sp, "POST", "/admin/keys/alice/revoke", NULL), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"revoked\":true"), "%s", buf);
    cr_assert_eq(chat_with(sp, secret2, chat), 401);
    cr_assert_not_null(strstr(buf, "was revoked"), "%s", buf);

    cr_assert_eq(admin(sp, "POST", "/admin/keys", "{\"name\":\"alice\"}"), 409, "%s", buf);
    cr_assert_eq(admin(sp, "POST", "/admin/keys", "{\"name\":\"x\",\"rpm\":\"lots\"}"), 400, "%s",
                 buf);
    cr_assert_eq(admin(sp, "POST", "/admin/keys", "{\"team\":\"t\"}"), 400, "%s", buf);
    cr_assert_eq(admin(sp, "GET", "/admin/keys/nobody", NULL), 404, "%s", buf);
    cr_assert_eq(admin(sp, "PUT", "/admin/keys/alice", "{}"), 404, "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* A key made, and then revoked, with the CLI on the same database reaches
 * the running gateway within a second (it polls twice a second). */
Test(virtual_keys, cli_changes_reach_serve_within_a_second)
{
    pid_t mock, serve;
    int sp = start("", &mock, &serve);
    const char *db = e2e_path("serve.db");
    const char *create[] = {"keys", "create", "--name", "bob", "--json", "--db", db, NULL};
    struct e2e_run r = e2e_run(create);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char secret[64];
    json_str(r.out, "secret", secret, sizeof secret);
    e2e_free(&r);
    double t0 = e2e_now_ms();
    while (chat_with(sp, secret, chat) != 200 && e2e_now_ms() - t0 < 3000)
        usleep(20000);
    double took = e2e_now_ms() - t0;
    cr_assert_lt(took, 1000, "the new key worked after %.0f ms", took);

    const char *revoke[] = {"keys", "revoke", "bob", "--db", db, NULL};
    r = e2e_run(revoke);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    t0 = e2e_now_ms();
    while (chat_with(sp, secret, chat) != 401 && e2e_now_ms() - t0 < 3000)
        usleep(20000);
    took = e2e_now_ms() - t0;
    cr_assert_lt(took, 1000, "the revoked key was refused after %.0f ms", took);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* The spend this instance sees, from a usage answer in buf. */
static double instance_spend(void)
{
    const char *p = strstr(buf, "\"this_instance\":");
    p = p ? strstr(p, "\"spend_usd\":") : NULL;
    return p ? atof(p + 12) : -1;
}

/* Each request costs its usage at the config's price; once the key's
 * spend crosses its budget it gets 429 insufficient_quota with the time
 * to the period's end, and the spend is in the database. */
Test(virtual_keys, budget_refuses_with_insufficient_quota)
{
    pid_t mock, serve;
    int sp = start("prices: [{model: gpt-4o-mini, input: 1000, output: 1000}]\n", &mock, &serve);
    cr_assert_eq(admin(sp, "POST", "/admin/keys",
                       "{\"name\":\"carol\",\"budget_usd\":0.1,\"budget_period\":\"daily\"}"),
                 201, "%s", buf);
    char secret[64];
    json_str(buf, "secret", secret, sizeof secret);
    /* each request: (9 prompt + 50 completion) tokens at $1000 per million = $0.059 */
    int ok = 0, st = 0;
    double t0 = e2e_now_ms();
    while ((st = chat_with(sp, secret, chat)) == 200 && e2e_now_ms() - t0 < 5000) {
        ok++;
        /* the cost is charged once the row is priced, off the loop: wait
         * for it (requests in flight meanwhile may overshoot a budget) */
        while (admin(sp, "GET", "/admin/keys/carol/usage", NULL) == 200 &&
               instance_spend() < 0.05 * ok && e2e_now_ms() - t0 < 5000)
            usleep(10000);
    }
    cr_assert_eq(st, 429, "%s", buf);
    cr_assert_eq(ok, 2, "two requests of $0.059 cross a $0.10 budget: %d went through; %s", ok,
                 buf);
    cr_assert_not_null(strstr(buf, "\"code\":\"insufficient_quota\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "daily budget of $0.10"), "%s", buf);
    const char *ra = strcasestr(buf, "\r\nRetry-After: ");
    cr_assert(ra && atoi(ra + 15) >= 1 && atoi(ra + 15) <= 86400, "%s", buf);
    cr_assert_eq(admin(sp, "GET", "/admin/keys/carol/usage", NULL), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"remaining_usd\":0,"), "%s", buf);
    cr_assert_eq(bh_request(sp, "GET", "/metrics", NULL, buf, sizeof buf), 401);
    e2e_stop(serve); /* the last spend is flushed on the way out */
    e2e_stop(mock);
    cr_assert_eq(
        e2e_sql_int(e2e_path("serve.db"),
                    "SELECT CAST(round(sum(usd) * 1000) AS INTEGER) FROM gateway_key_spend"),
        118);
    cr_assert_eq(e2e_sql_int(e2e_path("serve.db"), "SELECT sum(requests) FROM gateway_key_spend"),
                 2);
}

/* Without SLUICE_MASTER_KEY the admin API is off (403), and a gateway
 * without virtual keys says so (409). */
Test(virtual_keys, admin_off_says_why)
{
    const char *margs[] = {NULL};
    pid_t mock, serve;
    int mp = e2e_start_mock(margs, &mock);
    int sp =
        e2e_start_serve_yaml("vk.yaml", NULL, &serve, "virtual_keys: true\n" MODEL_YAML, mp, mp);
    cr_assert_eq(admin(sp, "GET", "/admin/keys", NULL), 403, "%s", buf);
    cr_assert_not_null(strstr(buf, "SLUICE_MASTER_KEY"), "%s", buf);
    e2e_stop(serve);
    setenv("SLUICE_MASTER_KEY", "master-key-for-tests", 1);
    sp = e2e_start_serve_yaml("plain.yaml", NULL, &serve, MODEL_YAML, mp, mp);
    unsetenv("SLUICE_MASTER_KEY");
    cr_assert_eq(admin(sp, "GET", "/admin/keys", NULL), 409, "%s", buf);
    cr_assert_not_null(strstr(buf, "virtual_keys: true"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* Hostile admin requests: odd paths, overlong names, bad bodies; each gets
 * one JSON error and the gateway goes on answering. */
Test(virtual_keys, hostile_admin_requests_get_one_error_each)
{
    pid_t mock, serve;
    int sp = start("", &mock, &serve);
    static const struct {
        const char *method, *path, *body;
        int status;
    } cases[] = {
        {"GET", "/admin", NULL, 404},
        {"GET", "/admin/", NULL, 404},
        {"GET", "/admin/keysx", NULL, 404},
        {"GET", "/admin/keys/a/usage/more", NULL, 404},
        {"POST", "/admin/keys/a/b", NULL, 404},
        {"DELETE", "/admin/keys", NULL, 404},
        {"GET", "/admin/keys/%00", NULL, 404},
        {"POST", "/admin/keys", "{\"name\":", 400},
        {"POST", "/admin/keys", "[]", 400},
        {"POST", "/admin/keys", "{\"name\":\"x\",\"id\":\"key_0000000000000000\"}", 400},
        {"POST", "/admin/keys", "{\"name\":\"x\",\"expires_at\":1e300}", 400},
        {"PATCH", "/admin/keys/nobody", "{\"rpm\":1}", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = admin(sp, cases[i].method, cases[i].path, cases[i].body);
        cr_assert_eq(st, cases[i].status, "%s %s: %s", cases[i].method, cases[i].path, buf);
        cr_assert_not_null(strstr(buf, "{\"error\":{"), "%s %s: %s", cases[i].method, cases[i].path,
                           buf);
    }
    char path[400] = "/admin/keys/";
    memset(path + 12, 'n', 300);
    path[312] = '\0';
    cr_assert_eq(admin(sp, "GET", path, NULL), 404, "an overlong name: %s", buf);
    char body[4096];
    int n = snprintf(body, sizeof body, "{\"name\":\"big\",\"metadata\":{\"a\":\"");
    memset(body + n, 'x', 2000);
    snprintf(body + n + 2000, sizeof body - (size_t)n - 2000, "\"}}");
    cr_assert_eq(admin(sp, "POST", "/admin/keys", body), 400, "metadata over its bound: %s", buf);
    cr_assert_eq(admin(sp, "GET", "/admin/keys", NULL), 200, "still answering: %s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}
