/* sluice serve in front of Google's Gemini API, end to end: an OpenAI
 * client through serve to a `provider: gemini` deployment on `sluice mock
 * --api gemini` (JSON, streamed with usage in the row, embeddings, the
 * model in the URL, a 429 retried, a bad key as 401, a cut stream, a
 * fallback from Gemini to an OpenAI deployment), and a function call
 * (JSON and streamed) from a scripted upstream, since the mock answers
 * text only. */
#include "hostile_upstream.h"
#include "serve_support.h"

TestSuite(gemini, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

static char buf[256 * 1024];

static const char chat[] = "{\"model\":\"gem\",\"max_tokens\":6,\"messages\":["
                           "{\"role\":\"system\",\"content\":\"be brief\"},"
                           "{\"role\":\"user\",\"content\":\"hello\"}]}";
static const char chat_stream[] = "{\"model\":\"gem\",\"max_tokens\":5,\"stream\":true,"
                                  "\"stream_options\":{\"include_usage\":true},"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/* serve with the model "gem" on one Gemini deployment at PORT (model
 * gemini-2.5-flash), and "gemini-2.0-flash" on one without a model (the
 * client's name goes in the URL). */
static int start_serve_on(int port, pid_t *serve)
{
    setenv("SLUICE_TEST_GEMINI_KEY", "AIza-test", 1);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, serve,
        "models:\n"
        "  - name: gem\n"
        "    deployments:\n"
        "      - {name: google, provider: gemini, url: 'http://127.0.0.1:%d',\n"
        "         api_key_env: SLUICE_TEST_GEMINI_KEY, model: gemini-2.5-flash,\n"
        "         retry: {max_attempts: 3, backoff: fixed, base_ms: 5, retry_after_cap_ms: 200}}\n"
        "  - name: gemini-2.0-flash\n"
        "    deployments:\n"
        "      - {name: google-bare, provider: gemini, url: 'http://127.0.0.1:%d/v1beta',\n"
        "         api_key_env: SLUICE_TEST_GEMINI_KEY}\n",
        port, port);
    e2e_live_serve = *serve;
    return sp;
}

/* A Gemini mock (ARGS extra) and serve in front of it. */
static int start_pair(const char *const *margs, int *mock_port, pid_t *mock, pid_t *serve)
{
    const char *args[16] = {"--api", "gemini"};
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

Test(gemini, json_stream_and_embeddings_reach_an_openai_client)
{
    pid_t mock, serve;
    int mp;
    int sp = start_pair(NULL, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"gem\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"id\":\"mock-0\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":6"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "text/event-stream"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion.chunk\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"role\":\"assistant\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"choices\":[],\"usage\":{\"prompt_tokens\":"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":5"), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_null(strstr(buf, "candidates"), "Gemini's events leaked: %s", buf);
    /* the client's model name in the URL, when the deployment has none */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"gemini-2.0-flash\",\"messages\":[{\"role\":\"user\","
                            "\"content\":\"hi\"}]}",
                            buf, sizeof(buf)),
                 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"gemini-2.0-flash\""), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"gemini-2.0-flash\",\"stream\":true,\"max_tokens\":2,"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                            buf, sizeof(buf)),
                 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    /* embeddings: batchEmbedContents, one vector per input */
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings",
                            "{\"model\":\"gem\",\"input\":[\"a\",\"b\"],\"dimensions\":8}", buf,
                            sizeof(buf)),
                 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"list\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"index\":1,\"embedding\":["), "%s", buf);
    /* what Gemini cannot take: the translator's 400, with the field */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"gem\",\"n\":2,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"hi\"}]}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "\"param\":\"n\""), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/completions", "{\"model\":\"gem\",\"prompt\":\"x\"}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 5, "the refusals never reach the upstream");
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("status = 'succeeded' AND NOT metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 6 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the JSON usage is recorded");
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 5 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the stream's usage is recorded");
}

Test(gemini, a_429_is_retried_and_a_bad_key_is_401)
{
    const char *margs[] = {"--sequence", "429,503,ok,401", "--retry-after", "0", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 3, "429 and 503 are retried");
    /* Gemini answers a bad key with 400 INVALID_ARGUMENT, API_KEY_INVALID */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 401, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"code\":\"invalid_api_key\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 4, "not retried");
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("attempts = 3 AND status = 'succeeded'"), 1);
    cr_assert_eq(rows("status = 'failed' AND error = 'unauthorized'"), 1);
}

Test(gemini, a_cut_stream_ends_with_an_error_event)
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

Test(gemini, a_gemini_deployment_falls_back_to_an_openai_one)
{
    const char *fail[] = {"--api", "gemini", "--fail-rate", "1", "--error-mix", "500", NULL};
    pid_t bad, good, serve;
    int bp = e2e_start_mock_as("mock1", fail, &bad);
    e2e_live_upstream = bad;
    int gp = e2e_start_mock_as("mock2", NULL, &good);
    setenv("SLUICE_TEST_GEMINI_KEY", "AIza-test", 1);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, &serve,
        "models:\n"
        "  - name: gem\n"
        "    deployments:\n"
        "      - {name: google, provider: gemini, url: 'http://127.0.0.1:%d', weight: 1000000,\n"
        "         api_key_env: SLUICE_TEST_GEMINI_KEY, model: gemini-2.5-flash,\n"
        "         retry: {max_attempts: 2, backoff: fixed, base_ms: 5}}\n"
        "      - {name: oai, url: 'http://127.0.0.1:%d', weight: 0.000001}\n",
        bp, gp);
    e2e_live_serve = serve;
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(bp, "requests"), 2);
    cr_assert_eq(e2e_mock_stat(gp, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(bad);
    e2e_stop(good);
    cr_assert_eq(rows("attempts = 3 AND status = 'succeeded' AND "
                      "metadata ->> 'deployment' = 'oai' AND metadata ->> 'completion_tokens' = 6"),
                 1);
}

/* What the mock does not do: function calls (JSON and streamed), an error
 * in the middle of a stream. */
Test(gemini, function_calls_and_a_stream_error_reach_the_client)
{
#define CALL_JSON                                                                                  \
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"    \
    "\"get_weather\",\"args\":{\"location\":\"Boston, MA\"}},\"thoughtSignature\":\"c2ln\"}]},"    \
    "\"finishReason\":\"STOP\"}],"                                                                 \
    "\"usageMetadata\":{\"promptTokenCount\":20,\"candidatesTokenCount\":7},\"responseId\":"       \
    "\"r-1\"}"
    static const struct hu_script scripts[] = {
        {"function call",
         {HU_S("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 260\r\n"
               "\r\n" CALL_JSON),
          HU_KEEP_OPEN}},
        {"streamed function call",
         {HU_S(HU_SSE_HEAD
               "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
               "\"Checking.\"}]}}],\"responseId\":\"r-2\"}\r\n\r\n"
               "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{"
               "\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}}}]},"
               "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9,"
               "\"candidatesTokenCount\":4},\"responseId\":\"r-2\"}\r\n\r\n"),
          HU_CLOSE_CONN}},
        {"error event",
         {HU_S(HU_SSE_HEAD
               "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}]}\r\n\r\n"
               "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
               "\"status\":\"UNAVAILABLE\"}}\r\n\r\n"),
          HU_CLOSE_CONN}},
    };
    cr_assert_eq(strlen(CALL_JSON), 260);
    struct hu h = hu_start(scripts, 3);
    e2e_live_upstream = h.pid;
    pid_t serve;
    int sp = start_serve_on(h.port, &serve);
    const char *tools = "{\"model\":\"gem\",\"tools\":[{\"type\":\"function\",\"function\":{"
                        "\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
                        "\"properties\":{\"location\":{\"type\":\"string\"}}}}}],%s"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}";
    char body[512];
    snprintf(body, sizeof(body), tools, "");
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"tool_calls\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":"
                                   "\\\"Boston, MA\\\"}\""),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "\"id\":\"call_"), "%s", buf);
    /* Gemini 3's signature, for the client to send back with the call */
    cr_assert_not_null(strstr(buf, "\"extra_content\":{\"google\":{\"thought_signature\":"
                                   "\"c2ln\"}}"),
                       "%s", buf);
    snprintf(body, sizeof(body), tools, "\"stream\":true,");
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Checking.\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"tool_calls\":[{\"index\":0,\"id\":\"call_"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"tool_calls\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Hel\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: {\"error\":{\"message\":\"The model is overloaded.\""),
                       "%s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    e2e_stop(serve);
    hu_stop(&h);
    cr_assert_eq(rows("status = 'succeeded' AND NOT metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 7"),
                 1);
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 4"),
                 1);
    cr_assert_eq(rows("status = 'failed' AND error = 'unavailable'"), 1,
                 "the error event's class is the row's");
}
