/* sluice serve in front of other providers' APIs, end to end: an OpenAI
 * client through serve to a `provider: anthropic` deployment on `sluice
 * mock --api anthropic` (JSON, streamed, retried, max_tokens filled in, a
 * fallback from an OpenAI deployment). */
#include "hostile_upstream.h"
#include "serve_support.h"

TestSuite(providers, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

static char buf[256 * 1024];

static const char chat[] = "{\"model\":\"claude\",\"max_tokens\":6,\"messages\":["
                           "{\"role\":\"system\",\"content\":\"be brief\"},"
                           "{\"role\":\"user\",\"content\":\"hello\"}]}";
static const char chat_stream[] = "{\"model\":\"claude\",\"max_tokens\":5,\"stream\":true,"
                                  "\"stream_options\":{\"include_usage\":true},"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char chat_no_max[] = "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\","
                                  "\"content\":\"hi\"}]}";

/* serve with the model "claude" on one Anthropic deployment at PORT. */
static int start_serve_on(int port, pid_t *serve)
{
    setenv("SLUICE_TEST_ANTHROPIC_KEY", "sk-ant-test", 1);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, serve,
        "models:\n"
        "  - name: claude\n"
        "    deployments:\n"
        "      - {name: ant, provider: anthropic, url: 'http://127.0.0.1:%d',\n"
        "         api_key_env: SLUICE_TEST_ANTHROPIC_KEY, model: claude-sonnet-4-5,\n"
        "         default_max_tokens: 7,\n"
        "         retry: {max_attempts: 3, backoff: fixed, base_ms: 5, retry_after_cap_ms: 200}}\n",
        port);
    e2e_live_serve = *serve;
    return sp;
}

/* An Anthropic mock (ARGS extra) and serve in front of it. */
static int start_pair(const char *const *margs, int *mock_port, pid_t *mock, pid_t *serve)
{
    const char *args[16] = {"--api", "anthropic"};
    int n = 2;
    for (; margs && *margs && n < 15; margs++)
        args[n++] = *margs;
    args[n] = NULL;
    *mock_port = e2e_start_mock(args, mock);
    e2e_live_upstream = *mock;
    return start_serve_on(*mock_port, serve);
}

static long long rows(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE %s", where);
    return e2e_sql_int(e2e_path("serve.db"), sql);
}

Test(providers, anthropic_json_and_stream_reach_an_openai_client)
{
    pid_t mock, serve;
    int mp;
    int sp = start_pair(NULL, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"claude\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":6"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "text/event-stream"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion.chunk\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"role\":\"assistant\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_null(strstr(buf, "message_start"), "Anthropic's events leaked: %s", buf);
    /* an endpoint Anthropic does not have: a clear 400, nothing sent */
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings", "{\"model\":\"claude\",\"input\":\"x\"}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "(provider: anthropic) does not serve /v1/embeddings"), "%s",
                       buf);
    /* what Anthropic cannot take: the translator's 400, with the field */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"claude\",\"n\":2,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"hi\"}]}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "\"param\":\"n\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 2, "the refusals never reach the upstream");
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("status = 'succeeded' AND NOT metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 6 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the JSON usage is recorded");
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 5 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the stream's usage is recorded");
}

Test(providers, an_anthropic_429_is_retried_and_max_tokens_defaults)
{
    const char *margs[] = {"--sequence", "429,503,ok", "--retry-after", "0", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_no_max, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 3, "429 and 529 are retried");
    /* the mock generates max_tokens tokens: the deployment's default, 7 */
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":7"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("attempts = 3 AND status = 'succeeded'"), 1);
}

Test(providers, an_anthropic_permanent_error_reaches_the_client_in_openai_shape)
{
    const char *margs[] = {"--sequence", "400", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 400);
    cr_assert_not_null(strstr(buf, "{\"error\":{"), "%s", buf);
    cr_assert_not_null(strstr(buf, "invalid_request_error"), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(providers, a_cut_anthropic_stream_ends_with_an_error_event)
{
    const char *margs[] = {"--sequence", "cut", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "chat.completion.chunk"), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: {\"error\":{"), "no error event: %s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(providers, an_openai_deployment_falls_back_to_an_anthropic_one)
{
    const char *fail[] = {"--fail-rate", "1", "--error-mix", "500", NULL};
    pid_t bad, ant, serve;
    int bp = e2e_start_mock_as("mock1", fail, &bad);
    e2e_live_upstream = bad;
    const char *aargs[] = {"--api", "anthropic", NULL};
    int ap = e2e_start_mock_as("mock2", aargs, &ant);
    setenv("SLUICE_TEST_ANTHROPIC_KEY", "sk-ant-test", 1);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, &serve,
        "models:\n"
        "  - name: claude\n"
        "    deployments:\n"
        "      - {name: oai, url: 'http://127.0.0.1:%d', weight: 1000000,\n"
        "         retry: {max_attempts: 2, backoff: fixed, base_ms: 5}}\n"
        "      - {name: ant, provider: anthropic, url: 'http://127.0.0.1:%d', weight: 0.000001,\n"
        "         api_key_env: SLUICE_TEST_ANTHROPIC_KEY}\n",
        bp, ap);
    e2e_live_serve = serve;
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(bp, "requests"), 2);
    cr_assert_eq(e2e_mock_stat(ap, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(bad);
    e2e_stop(ant);
    cr_assert_eq(rows("attempts = 3 AND status = 'succeeded' AND "
                      "metadata ->> 'deployment' = 'ant' AND metadata ->> 'completion_tokens' = 6"),
                 1);
}

Test(providers, the_anthropic_mock_wants_its_headers_and_max_tokens)
{
    pid_t mock;
    const char *aargs[] = {"--api", "anthropic", NULL};
    int mp = e2e_start_mock(aargs, &mock);
    e2e_live_upstream = mock;
    const char *body = "{\"model\":\"c\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}]}";
    const char *hdrs = "x-api-key: k\r\nanthropic-version: 2023-06-01\r\n";
    cr_assert_eq(bh_request(mp, "POST", "/v1/messages", body, buf, sizeof(buf)),
                 401); /* as Anthropic answers a missing key */
    cr_assert_not_null(strstr(buf, "x-api-key"), "%s", buf);
    cr_assert_eq(bh_request_with(mp, "POST", "/v1/messages", hdrs, body, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"message\""), "%s", buf);
    cr_assert_eq(bh_request_with(mp, "POST", "/v1/messages", hdrs,
                                 "{\"model\":\"c\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"hi\"}]}",
                                 buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "max_tokens"), "%s", buf);
    cr_assert_not_null(strstr(buf, "invalid_request_error"), "%s", buf);
    e2e_stop(mock);
}

/* What the mock does not do: an error event in the middle of a stream, and
 * a 2xx that is no Anthropic message. */
Test(providers, an_anthropic_error_event_and_a_bad_message_are_the_clients_errors)
{
    static const struct hu_script scripts[] = {
        {"error event",
         {HU_S(HU_SSE_HEAD
               "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
               "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\","
               "\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
               "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
               "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
               "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
               "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
               "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
          HU_CLOSE_CONN}},
        {"not a message",
         {HU_S("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "\r\n{}"),
          HU_KEEP_OPEN}},
    };
    struct hu h = hu_start(scripts, 2);
    e2e_live_upstream = h.pid;
    pid_t serve;
    int sp = start_serve_on(h.port, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Hel\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: {\"error\":{"), "no error event: %s", buf);
    cr_assert_not_null(strstr(buf, "Overloaded"), "%s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 502, "%s",
                 buf);
    cr_assert_eq(hu_stat(&h, "requests"), 2, "neither is retried");
    e2e_stop(serve);
    hu_stop(&h);
    cr_assert_eq(rows("status = 'failed' AND metadata ->> 'stream' AND metadata ->> 'status' = 200 "
                      "AND error = 'unavailable'"),
                 1, "the error event's class is the row's");
    cr_assert_eq(rows("status = 'failed' AND error = 'bad_gateway'"), 1);
}

/* Azure OpenAI: both URL forms and the api-key header, against the Azure
 * mock (which refuses a missing api-version or key as Azure does). */
Test(providers, azure_deployment_and_v1_forms)
{
    pid_t mock, serve;
    const char *margs[] = {"--api", "azure", NULL};
    int mp = e2e_start_mock(margs, &mock);
    e2e_live_upstream = mock;
    setenv("SLUICE_TEST_AZURE_KEY", "azure-test-key", 1);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, &serve,
        "models:\n"
        "  - name: dated\n"
        "    deployments:\n"
        "      - {name: az-dated, provider: azure, url: 'http://127.0.0.1:%d',\n"
        "         api_key_env: SLUICE_TEST_AZURE_KEY, model: gpt4o-prod, api_version: 2024-10-21}\n"
        "  - name: v1\n"
        "    deployments:\n"
        "      - {name: az-v1, provider: azure, url: 'http://127.0.0.1:%d',\n"
        "         api_key_env: SLUICE_TEST_AZURE_KEY, model: gpt4o-prod}\n"
        "  - name: nokey\n"
        "    deployments:\n"
        "      - {name: az-nokey, provider: azure, url: 'http://127.0.0.1:%d', api_version: v1,\n"
        "         retry: {max_attempts: 1}}\n",
        mp, mp, mp);
    e2e_live_serve = serve;
    static const char *const models[] = {"dated", "v1"};
    for (int i = 0; i < 2; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"model\":\"%s\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 models[i]);
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)), 200,
                     "%s: %s", models[i], buf);
        cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
        snprintf(body, sizeof(body),
                 "{\"model\":\"%s\",\"max_tokens\":4,\"stream\":true,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"hi\"}]}",
                 models[i]);
        cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)), 200,
                     "%s: %s", models[i], buf);
        cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    }
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings", "{\"model\":\"dated\",\"input\":\"x\"}",
                            buf, sizeof(buf)),
                 200, "%s", buf);
    /* no key: Azure's 401 reaches the client as OpenAI's error */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"nokey\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"hi\"}]}",
                            buf, sizeof(buf)),
                 401, "%s", buf);
    e2e_stop(serve);
    e2e_live_serve = 0;
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'deployment' = 'az-dated'"), 3);
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'deployment' = 'az-v1' AND "
                      "metadata ->> 'completion_tokens' = 4"),
                 2);
    e2e_stop(mock);
    e2e_live_upstream = 0;
}
