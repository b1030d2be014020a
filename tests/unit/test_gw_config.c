#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/config.h"
#include "providers/gemini.h"

static char path[64];

static void write_config(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/sluice-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void cleanup(void)
{
    unlink(path);
}

TestSuite(gw_config, .fini = cleanup);

static const char good[] =
    "listen: 127.0.0.1:9090\n"
    "db: sqlite:/tmp/x.db\n"
    "log_format: json\n"
    "keys:\n"
    "  - name: team-a\n"
    "    sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n"
    "models:\n"
    "  - name: gpt-4o-mini\n"
    "    total_timeout_ms: 30000\n"
    "    deployments:\n"
    "      - name: primary\n"
    "        url: http://127.0.0.1:8081/\n"
    "        api_key_env: SLUICE_TEST_KEY\n"
    "        weight: 3\n"
    "        max_concurrency: 8\n"
    "        queue_length: 50\n"
    "        queue_timeout_ms: 250\n"
    "        retry: {max_attempts: 4, backoff: exponential, base_ms: 10,"
    " retry_on: [rate_limited, 503]}\n"
    "      - url: https://backup.example\n"
    "  - name: \"*\"\n"
    "    deployments: [{url: 'http://127.0.0.1:9999'}]\n";

Test(gw_config, a_full_config_loads)
{
    setenv("SLUICE_TEST_KEY", "sk-secret", 1);
    write_config(good);
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
    cr_assert_eq(cfg.listen_port, 9090);
    cr_assert_str_eq(cfg.db, "sqlite:/tmp/x.db");
    cr_assert(cfg.log_json);
    cr_assert_eq(cfg.nkeys, 1);
    cr_assert_eq(cfg.keys[0].sha256[0], 0x2c);
    cr_assert_eq(cfg.nmodels, 2);
    const struct sl_gw_model *m = sl_gw_config_model(&cfg, "gpt-4o-mini", 11);
    cr_assert_not_null(m);
    cr_assert_eq(m->total_timeout_ms, 30000);
    cr_assert_eq(m->ndeployments, 2);
    const struct sl_gw_deployment *d = &m->deployments[0];
    cr_assert_str_eq(d->name, "primary");
    cr_assert_str_eq(d->url, "http://127.0.0.1:8081"); /* trailing slash dropped */
    cr_assert_str_eq(d->api_key, "sk-secret");
    cr_assert_float_eq(d->weight, 3, 1e-9);
    cr_assert_eq(d->max_concurrency, 8);
    cr_assert_eq(d->queue_length, 50);
    cr_assert_eq(d->queue_timeout_ms, 250);
    cr_assert_eq(d->retry.max_attempts, 4);
    cr_assert_eq(d->retry.wait, SL_WAIT_EXPONENTIAL);
    cr_assert_eq(d->retry.retry_on, SL_ERR_BIT(SL_E_RATE_LIMITED) | SL_ERR_BIT(SL_E_UNAVAILABLE));
    cr_assert_str_eq(m->deployments[1].name, "gpt-4o-mini#2");
    cr_assert_eq(m->deployments[1].max_concurrency, 100); /* default */
    /* any other model goes to the wildcard entry */
    const struct sl_gw_model *any = sl_gw_config_model(&cfg, "llama", 5);
    cr_assert_not_null(any);
    cr_assert_str_eq(any->name, "*");
    sl_gw_config_free(&cfg);
}

static void expect_error(const char *text, const char *needle)
{
    write_config(text);
    struct sl_gw_config cfg;
    char err[512] = "";
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), -1, "accepted: %s", text);
    cr_assert_not_null(strstr(err, needle), "'%s' not in '%s'", needle, err);
    cr_assert_not_null(strstr(err, path), "the file is not named: %s", err);
    unlink(path);
}

Test(gw_config, bad_files_name_file_line_and_reason)
{
    unsetenv("SLUICE_MISSING_KEY");
    expect_error(
        "models:\n  - name: a\n    deployments:\n      - url: http://x\n        wieght: 2\n",
        ":5: unknown key 'wieght' in a deployment");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        max_concurrency: -3\n",
                 ":5: max_concurrency must be a whole number");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: ftp://x\n",
                 ":4: url must start with http://");
    expect_error("models:\n  - name: a\n    deployments: []\n", "needs a non-empty list");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        api_key_env: SLUICE_MISSING_KEY\n",
                 "SLUICE_MISSING_KEY (api_key_env) is not set");
    setenv("SLUICE_KEY_WITH_NEWLINE", "sk-abc\n", 1); /* a key file read with its line break */
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        api_key_env: SLUICE_KEY_WITH_NEWLINE\n",
                 ":4: deployment 'a#1': SLUICE_KEY_WITH_NEWLINE (api_key_env) holds a "
                 "control character");
    unsetenv("SLUICE_KEY_WITH_NEWLINE");
    expect_error("listen: [oops\n", ":2:");
    expect_error("models:\n  - name: a\n    deployments: [{url: 'http://x'}]\n"
                 "  - name: a\n    deployments: [{url: 'http://y'}]\n",
                 ":4: model 'a' is listed twice");
    expect_error("db: x\n", "lists no models");
    expect_error("", "empty");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        retry: {backoff: sometimes}\n",
                 "retry.backoff must be");
    expect_error("keys:\n  - name: k\n    sha256: abc\nmodels: [{name: a, deployments: [{url: "
                 "'http://x'}]}]\n",
                 ":3: sha256 must be 64 hex digits");
}

/* Found by tests/fuzz/fuzz_config.c: a quoted multi-line value made the
 * one-line error span several lines. */
Test(gw_config, an_error_quoting_a_multi_line_value_is_one_line)
{
    write_config("models:\n  - name: m\n    deployments:\n      - name: d\n"
                 "        url: \"ftp://x\\nsecond line\\r\\x1b[31m\"\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), -1);
    cr_assert(strstr(err, "url must start with http://") != NULL, "%s", err);
    for (const char *c = err; *c; c++)
        cr_assert((unsigned char)*c >= 0x20 && *c != 0x7f, "a control character in: %s", err);
}

Test(gw_config, missing_file)
{
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load("/nonexistent/sluice.yaml", &cfg, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "/nonexistent/sluice.yaml: cannot read"), "%s", err);
}

Test(gw_config, single_upstream_quick_start)
{
    struct sl_gw_config cfg;
    char err[256];
    cr_assert_eq(sl_gw_config_single("http://127.0.0.1:8081/", &cfg, err, sizeof(err)), 0);
    const struct sl_gw_model *m = sl_gw_config_model(&cfg, "whatever", 8);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->deployments[0].url, "http://127.0.0.1:8081");
    sl_gw_config_free(&cfg);
    cr_assert_eq(sl_gw_config_single("localhost:8081", &cfg, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "--upstream must start with http://"));
}

/* A deployment URL is parsed once, at load: a bad one is an error that
 * names its line, not a failure of the first request. */
Test(gw_config, bad_deployment_urls_are_refused_at_load)
{
    const char *head = "models:\n  - name: a\n    deployments:\n      - name: d\n        url: ";
    const struct {
        const char *url, *needle;
    } cases[] = {
        {"'gopher://x'", ":5: url must start with http:// or https://"},
        {"'http://'", ":5: url 'http://': no host in URL"},
        {"'http://h:70000'", ":5: url 'http://h:70000': port must be a number from 1 to 65535"},
        {"'http://h:'", ":5: url 'http://h:': port must be"},
        {"'https://h/v1?api-version=2024'", ":5: url 'https://h/v1?api-version=2024': a query"},
        {"'https://h/v1#x'", ":5: url 'https://h/v1#x': a fragment"},
        {"'http://me@h'", ":5: url 'http://me@h': user names in URLs are not supported"},
        {"'http://[::1'", ":5: url 'http://[::1': no ']'"},
        {"'http://h b'", ":5: url 'http://h b': space, control or non-ASCII byte in URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s%s\n", head, cases[i].url);
        expect_error(text, cases[i].needle);
    }
}

Test(gw_config, deployments_are_resolved_at_load)
{
    setenv("SLUICE_TEST_KEY", "sk-secret", 1);
    write_config("models:\n  - name: a\n    deployments:\n"
                 "      - {url: 'https://host/v1/', api_key_env: SLUICE_TEST_KEY}\n"
                 "      - {url: 'https://generativelanguage.googleapis.com/v1beta/openai'}\n"
                 "      - {url: 'HTTP://[::1]:8081'}\n");
    struct sl_gw_config cfg;
    char err[512] = "";
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    const struct sl_gw_deployment *d = cfg.models[0].deployments;
    cr_assert_str_eq(d[0].target.url[SL_OAI_CHAT], "https://host/v1/chat/completions");
    cr_assert_str_eq(d[0].target.authorization, "Bearer sk-secret");
    cr_assert_str_eq(d[1].target.url[SL_OAI_EMBEDDINGS],
                     "https://generativelanguage.googleapis.com/v1beta/openai/embeddings");
    cr_assert_null(d[1].target.authorization);
    cr_assert_str_eq(d[2].target.url[SL_OAI_COMPLETIONS], "HTTP://[::1]:8081/v1/completions");
    sl_gw_config_free(&cfg);

    cr_assert_eq(sl_gw_config_single("http://127.0.0.1:8081/", &cfg, err, sizeof(err)), 0);
    cr_assert_str_eq(cfg.models[0].deployments[0].target.url[SL_OAI_CHAT],
                     "http://127.0.0.1:8081/v1/chat/completions");
    sl_gw_config_free(&cfg);
}

Test(gw_config, a_bad_upstream_url_is_one_line)
{
    struct sl_gw_config cfg;
    char err[256];
    const struct {
        const char *url, *needle;
    } cases[] = {
        {"http://127.0.0.1:0", "--upstream URL 'http://127.0.0.1:0': port must be"},
        {"http://", "--upstream URL 'http://': no host"},
        {"https://h/v1?x=1", "--upstream URL 'https://h/v1?x=1': a query"},
        {"ftp://h", "--upstream must start with http://"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(sl_gw_config_single(cases[i].url, &cfg, err, sizeof(err)), -1, "%s",
                     cases[i].url);
        cr_assert_not_null(strstr(err, cases[i].needle), "'%s' not in '%s'", cases[i].needle, err);
        cr_assert_null(strchr(err, '\n'));
    }
}

#define MODELS "models: [{name: a, deployments: [{url: 'http://x'}]}]\n"
#define KEY_A                                                                                      \
    "  - {name: a, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n"

/* A config that asks for authentication it cannot enforce is refused:
 * before, each of these started a gateway that answered everyone. */
Test(gw_config, auth_that_cannot_be_enforced_is_refused)
{
    expect_error("auth: true\n" MODELS, ":1: auth: true needs at least one key");
    expect_error("keys: []\n" MODELS, ":1: keys is an empty list");
    expect_error("auth: true\nkeys: []\n" MODELS, ":2: keys is an empty list");
    expect_error("auth: false\nkeys:\n" KEY_A MODELS, ":1: auth: false but keys are listed");
    expect_error("keys:\n  - {sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n" MODELS,
                 ":2: a key needs a name");
    expect_error("keys:\n" KEY_A KEY_A MODELS, ":3: key name 'a' is listed twice");
    expect_error("auth: maybe\n" MODELS, ":1: auth must be true or false");
}

Test(gw_config, the_auth_rule_keys_decide)
{
    struct sl_gw_config cfg;
    char err[512];
    write_config("auth: true\nkeys:\n" KEY_A MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.nkeys, 1);
    cr_assert_not(cfg.metrics_public);
    sl_gw_config_free(&cfg);
    write_config("auth: false\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.nkeys, 0);
    sl_gw_config_free(&cfg);
    write_config("keys:\n" KEY_A "metrics: {public: true}\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert(cfg.metrics_public);
    sl_gw_config_free(&cfg);
    expect_error("metrics: {public: 2}\n" MODELS, ":1: metrics.public must be true or false");
    expect_error("metrics: {pubilc: true}\n" MODELS, ":1: unknown key 'pubilc' in metrics");
}

Test(gw_config, duplicate_keys_empty_models_and_second_documents_are_errors)
{
    expect_error("db: a.db\ndb: b.db\n" MODELS,
                 ":2: duplicate key 'db' in the config file (first at line 1)");
    expect_error("models:\n  - name: a\n    name: b\n    deployments: [{url: 'http://x'}]\n",
                 ":3: duplicate key 'name' in a model");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        weight: 1\n        weight: 2\n",
                 ":6: duplicate key 'weight' in a deployment");
    expect_error("models: []\n", ":1: models is an empty list");
    expect_error(MODELS "---\n" MODELS, ":2: a second YAML document");
    expect_error(MODELS "---\n", ":2: a second YAML document");
    expect_error(MODELS "--- [oops\n", ":3: did not find expected");
    /* the end marker alone is one document */
    struct sl_gw_config cfg;
    char err[512];
    write_config("---\n" MODELS "...\n");
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    sl_gw_config_free(&cfg);
}

Test(gw_config, deployment_names_are_unique_and_bounded)
{
    expect_error("models:\n  - name: a\n    deployments: [{name: d, url: 'http://x'}]\n"
                 "  - name: b\n    deployments: [{name: d, url: 'http://y'}]\n",
                 ":4: deployment name 'd' is used twice");
    char text[8192] = "models:\n  - name: a\n    deployments:\n";
    for (int i = 0; i < 65; i++)
        strcat(text, "      - url: http://x\n");
    expect_error(text, ":4: model 'a' lists 65 deployments; at most 64");
}

Test(gw_config, key_limits)
{
    struct sl_gw_config cfg;
    char err[512];
    write_config("keys:\n  - {name: a, rpm: 120, max_parallel: 4, sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n"
                 "  - {name: b, sha256: "
                 "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7}\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.keys[0].rpm, 120);
    cr_assert_eq(cfg.keys[0].max_parallel, 4);
    cr_assert_eq(cfg.keys[1].rpm, 0, "no limit unless one is given");
    cr_assert_eq(cfg.keys[1].max_parallel, 0);
    sl_gw_config_free(&cfg);
    expect_error("keys:\n  - {name: a, rpm: 0, sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n" MODELS,
                 ":2: rpm must be a whole number from 1 to 100000000, got '0'");
    expect_error("keys:\n  - {name: a, max_parallel: lots, sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n" MODELS,
                 ":2: max_parallel must be a whole number");
    expect_error("keys:\n  - {name: a, tpm: 0, sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n" MODELS,
                 ":2: tpm must be a whole number from 1 to 4000000000, got '0'");
    expect_error("keys:\n  - {name: a, models: ['a,b'], sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n" MODELS,
                 ":2: models must be a list of model names or patterns");
}

/* TPM, model patterns, a deployment's provider limits, virtual keys. */
Test(gw_config, tokens_models_and_provider_limits)
{
    struct sl_gw_config cfg;
    char err[512];
    write_config("virtual_keys: true\ndefault_max_tokens: 512\n"
                 "keys:\n  - {name: a, tpm: 50000, models: ['gpt-4o*', o3], sha256: "
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824}\n"
                 "  - {name: b, models: gpt-4o, sha256: "
                 "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7}\n"
                 "models: [{name: a, deployments: [{url: 'http://x', rpm: 600, tpm: 90000}]}]\n");
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.keys[0].tpm, 50000);
    cr_assert_str_eq(cfg.keys[0].models, "gpt-4o*,o3");
    cr_assert_str_eq(cfg.keys[1].models, "gpt-4o");
    cr_assert_eq(cfg.models[0].deployments[0].rpm, 600);
    cr_assert_eq(cfg.models[0].deployments[0].tpm, 90000);
    cr_assert(cfg.virtual_keys);
    cr_assert_eq(cfg.default_max_tokens, 512);
    sl_gw_config_free(&cfg);
    write_config("auth: true\nvirtual_keys: true\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0,
                 "virtual keys alone turn authentication on: %s", err);
    cr_assert_eq(cfg.nkeys, 0);
    sl_gw_config_free(&cfg);
    expect_error("auth: false\nvirtual_keys: true\n" MODELS,
                 ":1: auth: false but virtual_keys: true: remove one or the other");
    expect_error("models: [{name: a, deployments: [{url: 'http://x', tpm: -1}]}]\n",
                 "tpm must be a whole number");
    write_config("prices:\n  - {model: 'my-*', input: 0.5, output: 1.5}\n"
                 "  - {model: gpt-4o, input: 2, cached_input: 1, output: 8}\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.nprices, 2);
    cr_assert_str_eq(cfg.prices[0].model, "my-*");
    cr_assert_float_eq(cfg.prices[0].price.cached_input, -1, 1e-12, "none given");
    cr_assert_float_eq(cfg.prices[1].price.output, 8, 1e-12);
    sl_gw_config_free(&cfg);
    expect_error("prices:\n  - {model: x, input: 1}\n" MODELS,
                 ":2: a price needs model, input and output");
    expect_error("prices:\n  - {model: x, input: 1, output: 2, currency: eur}\n" MODELS,
                 "unknown key 'currency'");
}

/* redis: a URL, or a mapping with the policy; bad values are refused. */
Test(gw_config, redis_short_and_long_forms)
{
    struct sl_gw_config cfg;
    char err[512];
    write_config("redis: redis://127.0.0.1:6390/2\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.redis.url, "redis://127.0.0.1:6390/2");
    cr_assert_eq(cfg.redis.fail_closed, 0, "fail_open unless told");
    cr_assert_eq(cfg.redis.instances, 1);
    cr_assert_eq(cfg.redis.lease_ms, 10000);
    sl_gw_config_free(&cfg);
    write_config("redis:\n  url: redis://h\n  on_failure: fail_closed\n  instances: 3\n"
                 "  lease_ms: 2000\n  timeout_ms: 100\n" MODELS);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert(cfg.redis.fail_closed);
    cr_assert_eq(cfg.redis.instances, 3);
    cr_assert_eq(cfg.redis.lease_ms, 2000);
    cr_assert_eq(cfg.redis.timeout_ms, 100);
    sl_gw_config_free(&cfg);
    expect_error("redis: http://h\n" MODELS, ":1: redis needs a url redis://");
    expect_error("redis: {url: 'redis://h', on_failure: maybe}\n" MODELS,
                 "on_failure must be fail_open or fail_closed");
    expect_error("redis: {url: 'redis://h', instances: 0}\n" MODELS,
                 "instances must be a whole number from 1");
    expect_error("redis: {url: 'redis://h', pool: 3}\n" MODELS, "unknown key 'pool'");
}

Test(gw_config, providers_and_their_options)
{
    setenv("SLUICE_TEST_ANT_KEY", "sk-ant-1", 1);
    write_config("models:\n"
                 "  - name: claude\n"
                 "    deployments:\n"
                 "      - {name: a, provider: anthropic, url: 'https://api.anthropic.com',\n"
                 "         api_key_env: SLUICE_TEST_ANT_KEY}\n"
                 "      - {name: b, provider: anthropic, url: 'http://127.0.0.1:9/proxy/v1/',\n"
                 "         anthropic_version: '2099-01-01', default_max_tokens: 100}\n"
                 "      - {name: c, provider: openai, url: 'http://127.0.0.1:9'}\n"
                 "      - {name: d, url: 'http://127.0.0.1:9'}\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    const struct sl_gw_deployment *d = cfg.models[0].deployments;
    cr_assert_eq(d[0].provider, &sl_gw_provider_anthropic);
    cr_assert_str_eq(d[0].anthropic_version, "2023-06-01");
    cr_assert_eq(d[0].default_max_tokens, 4096);
    cr_assert_str_eq(d[0].target.url[SL_OAI_CHAT], "https://api.anthropic.com/v1/messages");
    cr_assert_str_eq(d[0].target.auth_header.name.ptr, "x-api-key");
    cr_assert_str_eq(d[0].target.authorization, "sk-ant-1");
    cr_assert_str_eq(d[0].target.extra_header.name.ptr, "anthropic-version");
    cr_assert_str_eq(d[0].target.extra_value, "2023-06-01");
    cr_assert(d[0].provider->serves(SL_OAI_CHAT));
    cr_assert_not(d[0].provider->serves(SL_OAI_EMBEDDINGS));
    cr_assert_not(d[0].provider->serves(SL_OAI_COMPLETIONS));
    /* a base with a path: PATH/messages */
    cr_assert_str_eq(d[1].target.url[SL_OAI_CHAT], "http://127.0.0.1:9/proxy/v1/messages");
    cr_assert_str_eq(d[1].target.extra_value, "2099-01-01");
    cr_assert_eq(d[1].default_max_tokens, 100);
    cr_assert_null(d[1].target.authorization);
    cr_assert_eq(d[2].provider, &sl_gw_provider_openai);
    cr_assert_eq(d[3].provider, &sl_gw_provider_openai);
    cr_assert_null(d[3].target.extra_value);
    cr_assert_null(d[3].provider->serves); /* every endpoint */
    cr_assert_str_eq(d[3].target.url[SL_OAI_CHAT], "http://127.0.0.1:9/v1/chat/completions");
    sl_gw_config_free(&cfg);

    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        provider: bard\n",
                 ":5: unknown provider 'bard' (known: openai, azure, anthropic");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        anthropic_version: '2023-06-01'\n",
                 ":4: deployment 'a#1': anthropic_version and default_max_tokens need provider: "
                 "anthropic");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: http://x\n"
                 "        provider: anthropic\n        default_max_tokens: 0\n",
                 ":6: default_max_tokens must be");
}

Test(gw_config, azure_urls_and_key)
{
    setenv("SLUICE_TEST_AZ_KEY", "az-1", 1);
    write_config(
        "models:\n"
        "  - name: m\n"
        "    deployments:\n"
        "      - {name: a, provider: azure, url: 'https://r.openai.azure.com/',\n"
        "         api_key_env: SLUICE_TEST_AZ_KEY, model: gpt4o, api_version: 2024-10-21}\n"
        "      - {name: b, provider: azure, url: 'https://r.openai.azure.com'}\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    const struct sl_gw_deployment *d = cfg.models[0].deployments;
    cr_assert_eq(d[0].provider, &sl_gw_provider_azure);
    cr_assert_str_eq(d[0].target.url[SL_OAI_CHAT],
                     "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions"
                     "?api-version=2024-10-21");
    cr_assert_str_eq(d[0].target.url[SL_OAI_EMBEDDINGS],
                     "https://r.openai.azure.com/openai/deployments/gpt4o/embeddings"
                     "?api-version=2024-10-21");
    cr_assert_str_eq(d[0].target.auth_header.name.ptr, "api-key");
    cr_assert_str_eq(d[0].target.authorization, "az-1");
    cr_assert_str_eq(d[1].target.url[SL_OAI_CHAT],
                     "https://r.openai.azure.com/openai/v1/chat/completions");
    cr_assert_null(d[1].target.authorization);
    /* the Responses API: the deployment is the body's model, in both forms */
    cr_assert_str_eq(d[0].target.responses_url,
                     "https://r.openai.azure.com/openai/responses?api-version=2024-10-21");
    cr_assert_str_eq(d[1].target.responses_url, "https://r.openai.azure.com/openai/v1/responses");
    sl_gw_config_free(&cfg);

    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        provider: azure\n        api_version: 2024-10-21\n",
                 "deployment 'a#1': api_version '2024-10-21' is the deployment form: `model:` "
                 "must name the Azure deployment");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        provider: azure\n        model: d\n        api_version: '2024 10'\n",
                 "api_version '2024 10' is not a version");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        model: d\n        api_version: v1\n",
                 "deployment 'a#1': api_version needs provider: azure");
}

Test(gw_config, gemini_urls_and_key)
{
    setenv("SLUICE_TEST_GEM_KEY", "AIza-1", 1);
    write_config("models:\n"
                 "  - name: m\n"
                 "    deployments:\n"
                 "      - {name: a, provider: gemini, api_key_env: SLUICE_TEST_GEM_KEY,\n"
                 "         model: gemini-2.5-flash}\n"
                 "      - {name: b, provider: gemini, url: 'http://127.0.0.1:9'}\n"
                 "      - {name: c, provider: gemini, url: 'http://127.0.0.1:9/proxy/v1'}\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    const struct sl_gw_deployment *d = cfg.models[0].deployments;
    cr_assert_eq(d[0].provider, &sl_gw_provider_gemini);
    cr_assert_str_eq(d[0].url, SL_GEMINI_DEFAULT_URL); /* the default */
    cr_assert_str_eq(d[0].target.url[SL_OAI_CHAT],
                     "https://generativelanguage.googleapis.com/"
                     "v1beta/models/gemini-2.5-flash:generateContent");
    cr_assert_str_eq(d[0].target.url[SL_OAI_EMBEDDINGS],
                     "https://generativelanguage.googleapis.com/v1beta/models/"
                     "gemini-2.5-flash:batchEmbedContents");
    cr_assert_str_eq(d[0].target.auth_header.name.ptr, "x-goog-api-key");
    cr_assert_str_eq(d[0].target.authorization, "AIza-1");
    cr_assert(d[0].provider->serves(SL_OAI_CHAT) && d[0].provider->serves(SL_OAI_EMBEDDINGS));
    cr_assert_not(d[0].provider->serves(SL_OAI_COMPLETIONS));
    /* no path: /v1beta; a path: the base as it is; no model: per request */
    cr_assert_str_eq(d[1].url, "http://127.0.0.1:9/v1beta");
    cr_assert_str_eq(d[2].url, "http://127.0.0.1:9/proxy/v1");
    cr_assert_null(d[1].target.authorization);
    sl_gw_config_free(&cfg);

    expect_error("models:\n  - name: a\n    deployments:\n      - provider: gemini\n"
                 "        model: 'models/../x?key=1'\n",
                 "deployment 'a#1': model 'models/../x?key=1' cannot be a Gemini model name");
    expect_error("models:\n  - name: a\n    deployments:\n      - model: x\n",
                 "deployment 1 of model 'a' needs a url");
}

Test(gw_config, client_keys_and_forwarded_headers)
{
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        api_key: sk-literal\n",
                 "api_key may only be 'client'");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        api_key: client\n        api_key_env: HOME\n",
                 "api_key: client and api_key_env exclude each other");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        forward_headers: [x-team, Authorization]\n",
                 "forward_headers: 'authorization' cannot be forwarded");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        forward_headers: ['bad header']\n",
                 "forward_headers: 'bad header' cannot be forwarded");
}

Test(gw_config, responses_native_or_chat)
{
    write_config("models:\n"
                 "  - name: m\n"
                 "    deployments:\n"
                 "      - {name: a, url: 'https://api.openai.com/v1', responses: native}\n"
                 "      - {name: b, url: 'https://host/p', responses: chat}\n"
                 "      - {name: c, provider: azure, url: 'https://r', responses: native}\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    const struct sl_gw_deployment *d = cfg.models[0].deployments;
    cr_assert(d[0].responses_native);
    cr_assert_str_eq(d[0].target.responses_url, "https://api.openai.com/v1/responses");
    cr_assert(!d[1].responses_native);
    cr_assert_str_eq(d[1].target.responses_url, "https://host/p/responses");
    cr_assert(d[2].responses_native);
    sl_gw_config_free(&cfg);
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        responses: yes\n",
                 "responses must be 'chat' (the Responses API through chat completions, the "
                 "default) or 'native'");
    expect_error("models:\n  - name: a\n    deployments:\n      - url: https://x\n"
                 "        provider: anthropic\n        responses: native\n",
                 "deployment 'a#1': responses: native needs provider: openai or azure");
}

Test(gw_config, otel_endpoint_headers_and_sample)
{
    setenv("SLUICE_TEST_OTEL_TOKEN", "s3cret", 1);
    write_config("otel:\n"
                 "  endpoint: http://127.0.0.1:4318\n"
                 "  headers: {authorization: '${SLUICE_TEST_OTEL_TOKEN}', x-team: blue}\n"
                 "  sample: 0.25\n"
                 "models:\n  - name: m\n    deployments:\n      - url: http://127.0.0.1:9\n");
    struct sl_gw_config cfg;
    char err[512];
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert(cfg.otel_on);
    cr_assert_str_eq(cfg.otel.endpoint, "http://127.0.0.1:4318/v1/traces",
                     "a base gets /v1/traces");
    cr_assert_eq(cfg.otel.nheaders, 2);
    cr_assert_str_eq(cfg.otel.headers[0].name, "authorization");
    cr_assert_str_eq(cfg.otel.headers[0].value, "s3cret", "${VAR} read from the environment");
    cr_assert_str_eq(cfg.otel.headers[1].value, "blue");
    cr_assert_eq(cfg.otel.sample, 0.25);
    cr_assert_str_eq(cfg.otel.service, "sluice");
    sl_gw_config_free(&cfg);
    /* the short form, and a full traces URL kept as it is */
    write_config("otel: https://otlp.example.com/api/traces\n"
                 "models:\n  - name: m\n    deployments:\n      - url: http://127.0.0.1:9\n");
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cfg.otel.endpoint, "https://otlp.example.com/api/traces");
    cr_assert_eq(cfg.otel.sample, 1.0);
    sl_gw_config_free(&cfg);
    static const char models[] = "models:\n  - name: m\n    deployments:\n      - url: http://x\n";
    char text[1024];
    static const struct {
        const char *otel, *error;
    } bad[] = {
        {"otel: {sample: 0.5}", "otel.endpoint: it is missing"},
        {"otel: ftp://x", "otel.endpoint"},
        {"otel: {endpoint: 'http://x:4318', sample: 2}", "otel.sample"},
        {"otel: {endpoint: 'http://x:4318', headers: {a: '${SLUICE_TEST_UNSET_VAR}'}}",
         "environment variable SLUICE_TEST_UNSET_VAR is not set"},
        {"otel: {endpoint: 'http://x:4318', colour: red}", "endpoint, headers, sample"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(text, sizeof(text), "%s\n%s", bad[i].otel, models);
        expect_error(text, bad[i].error);
    }
}

Test(gw_config, log_bodies_off_on_and_its_patterns)
{
    static const char models[] = "models:\n  - name: m\n    deployments:\n      - url: http://x\n";
    char text[1024];
    struct sl_gw_config cfg;
    char err[512];
    write_config(models);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert(!cfg.bodies.on, "off by default");
    sl_gw_config_free(&cfg);
    snprintf(text, sizeof(text), "log_bodies: true\n%s", models);
    write_config(text);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert(cfg.bodies.on);
    cr_assert_eq(cfg.bodies.max_bytes, 16384);
    sl_gw_config_free(&cfg);
    snprintf(text, sizeof(text), "log_bodies: {max_bytes: 1000, redact: ['sk-[a-z]+', x]}\n%s",
             models);
    write_config(text);
    cr_assert_eq(sl_gw_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.bodies.max_bytes, 1000);
    cr_assert_eq(cfg.bodies.nredact, 2);
    regmatch_t m;
    cr_assert_eq(regexec(&cfg.bodies.redact[0], "a sk-abc b", 1, &m, 0), 0);
    cr_assert_eq(m.rm_so, 2);
    sl_gw_config_free(&cfg);
    snprintf(text, sizeof(text), "log_bodies: {redact: ['a[']}\n%s", models);
    expect_error(text, "log_bodies.redact: 'a[' is not a regular expression");
    snprintf(text, sizeof(text), "log_bodies: {max_bytes: 10}\n%s", models);
    expect_error(text, "log_bodies.max_bytes");
    snprintf(text, sizeof(text), "log_bodies: {redact: x}\n%s", models);
    expect_error(text, "log_bodies.redact must be a list");
}
