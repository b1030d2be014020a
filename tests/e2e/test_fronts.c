/* The other APIs in front, end to end: Anthropic's Messages API (POST
 * /v1/messages) and OpenAI's Responses API (POST /v1/responses), JSON and
 * streamed, to an Anthropic deployment (natively for Messages: the body
 * goes as it is) and to an OpenAI one (through chat completions), their
 * errors in the client's shape, and one row each that says which API the
 * client spoke. And the official SDKs (OpenAI's and Anthropic's, from npm:
 * tools/node) run against it all (tests/sdk/clients.js). */
#include "serve_support.h"

TestSuite(fronts, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 90);

static char buf[256 * 1024];

struct pair {
    pid_t ant, oai, serve;
    int ant_port, oai_port, port;
};

/* An Anthropic mock and an OpenAI mock (each with ARGS extra) and serve:
 * model "claude" on the first, "gpt" on the second, "gpt-native" on the
 * second serving the Responses API itself. */
static void start(struct pair *p, const char *const *ant_args, const char *const *oai_args,
                  const char *extra_yaml)
{
    const char *a[16] = {"--api", "anthropic"};
    int n = 2;
    for (; ant_args && *ant_args && n < 15; ant_args++)
        a[n++] = *ant_args;
    a[n] = NULL;
    p->ant_port = e2e_start_mock_as("ant", a, &p->ant);
    p->oai_port = e2e_start_mock_as("oai", oai_args, &p->oai);
    e2e_live_upstream = p->oai;
    setenv("SLUICE_TEST_ANTHROPIC_KEY", "sk-ant-test", 1);
    p->port = e2e_start_serve_yaml(
        "serve.yaml", NULL, &p->serve,
        "%s"
        "models:\n"
        "  - name: claude\n"
        "    deployments:\n"
        "      - {name: ant, provider: anthropic, url: 'http://127.0.0.1:%d',\n"
        "         api_key_env: SLUICE_TEST_ANTHROPIC_KEY, model: claude-sonnet-4-5,\n"
        "         retry: {max_attempts: 2, backoff: fixed, base_ms: 5, retry_after_cap_ms: 50}}\n"
        "  - name: gpt\n"
        "    deployments:\n"
        "      - {name: oai, url: 'http://127.0.0.1:%d',\n"
        "         retry: {max_attempts: 2, backoff: fixed, base_ms: 5, retry_after_cap_ms: 50}}\n"
        "  - name: gpt-native\n"
        "    deployments:\n"
        "      - {name: oai-native, url: 'http://127.0.0.1:%d', responses: native}\n",
        extra_yaml ? extra_yaml : "", p->ant_port, p->oai_port, p->oai_port);
    e2e_live_serve = p->serve;
}

static void stop(struct pair *p)
{
    e2e_stop(p->serve);
    e2e_live_serve = 0;
    e2e_stop(p->ant);
    e2e_stop(p->oai);
    e2e_live_upstream = 0;
}

static long long rows(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE %s", where);
    return e2e_sql_int(e2e_path("serve.db"), sql);
}

static const char anthropic_headers[] =
    "Content-Type: application/json\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n";

static int messages(int port, const char *model, int stream, char *out, size_t size)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"max_tokens\":5,%s\"system\":\"be brief\",\"messages\":"
             "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]}]}",
             model, stream ? "\"stream\":true," : "");
    return bh_request_with(port, "POST", "/v1/messages", anthropic_headers, body, out, size);
}

/* The Anthropic events of a streamed message of `tokens` tokens, in order. */
static void assert_message_stream_of(const char *text, int tokens)
{
    static const char *const order[] = {"event: message_start",       "event: content_block_start",
                                        "event: content_block_delta", "event: content_block_stop",
                                        "event: message_delta",       "event: message_stop"};
    const char *at = text;
    for (size_t i = 0; i < sizeof(order) / sizeof(*order); i++) {
        const char *next = strstr(at, order[i]);
        cr_assert_not_null(next, "no %s after the events before it: %s", order[i], text);
        at = next;
    }
    cr_assert_null(strstr(text, "[DONE]"), "an Anthropic stream has no [DONE]: %s", text);
    cr_assert_null(strstr(text, "chat.completion"), "OpenAI's chunks leaked: %s", text);
    char usage[48];
    snprintf(usage, sizeof(usage), "\"output_tokens\":%d", tokens);
    cr_assert_not_null(strstr(text, usage), "%s", text);
}

static void assert_message_stream(const char *text)
{
    assert_message_stream_of(text, 5);
}

Test(fronts, messages_native_to_anthropic_and_translated_to_openai)
{
    struct pair p;
    start(&p, NULL, NULL, NULL);
    /* native: the upstream's own message (its id) reaches the client */
    cr_assert_eq(messages(p.port, "claude", 0, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"id\":\"msg_mock0\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"message\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"claude-sonnet-4-5\""),
                       "the deployment's model name went upstream: %s", buf);
    cr_assert_eq(messages(p.port, "claude", 1, buf, sizeof(buf)), 200, "%s", buf);
    assert_message_stream(buf);
    /* translated: an OpenAI upstream, an Anthropic answer */
    cr_assert_eq(messages(p.port, "gpt", 0, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"message\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"gpt\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"stop_reason\":\"end_turn\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"output_tokens\":5"), "%s", buf);
    cr_assert_null(strstr(buf, "chat.completion"), "%s", buf);
    cr_assert_eq(messages(p.port, "gpt", 1, buf, sizeof(buf)), 200, "%s", buf);
    assert_message_stream(buf);
    stop(&p);
    cr_assert_eq(rows("metadata ->> 'endpoint' = 'messages' AND status = 'succeeded' AND "
                      "metadata ->> 'completion_tokens' = 5 AND metadata ->> 'prompt_tokens' > 0"),
                 4, "one row each, with its usage");
}

Test(fronts, messages_errors_are_anthropic_shaped)
{
    const char *always_429[] = {"--sequence", "429,429,429,429", "--retry-after", "0", NULL};
    struct pair p;
    start(&p, always_429, always_429, NULL);
    /* what Anthropic refuses: its 400, naming the field */
    cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages", anthropic_headers,
                                 "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"hi\"}]}",
                                 buf, sizeof(buf)),
                 400, "%s", buf);
    cr_assert_not_null(strstr(buf, "{\"type\":\"error\",\"error\":{\"type\":"
                                   "\"invalid_request_error\""),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "max_tokens"), "%s", buf);
    cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages", anthropic_headers, "{nope", buf,
                                 sizeof(buf)),
                 400, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"error\""), "%s", buf);
    /* an unknown model */
    /* count_tokens: no max_tokens needed, counted without an upstream */
    cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages/count_tokens", anthropic_headers,
                                 "{\"model\":\"claude\",\"system\":\"be brief\",\"messages\":"
                                 "[{\"role\":\"user\",\"content\":\"hello there\"}]}",
                                 buf, sizeof(buf)),
                 200, "%s", buf);
    const char *n = strstr(buf, "{\"input_tokens\":");
    cr_assert_not_null(n, "%s", buf);
    cr_assert_gt(atoi(n + 16), 3, "%s", buf);
    cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages/count_tokens", anthropic_headers,
                                 "{\"model\":\"claude\"}", buf, sizeof(buf)),
                 400, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"error\""), "%s", buf);
    cr_assert_eq(messages(p.port, "nope", 0, buf, sizeof(buf)), 404, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"not_found_error\""), "%s", buf);
    /* rate limited to the end, natively and translated: 429 rate_limit_error */
    cr_assert_eq(messages(p.port, "claude", 0, buf, sizeof(buf)), 429, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"rate_limit_error\""), "%s", buf);
    cr_assert_not_null(strcasestr(buf, "\r\nRetry-After: "), "%s", buf);
    cr_assert_eq(messages(p.port, "gpt", 0, buf, sizeof(buf)), 429, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"rate_limit_error\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "Rate limit reached (sluice mock)"), "the upstream's words: %s",
                       buf);
    stop(&p);
    cr_assert_eq(rows("metadata ->> 'endpoint' = 'messages' AND status = 'failed'"), 5);
}

Test(fronts, messages_take_the_key_from_x_api_key)
{
    struct pair p;
    /* the key sk-gw-front, by its SHA-256 */
    start(&p, NULL, NULL,
          "keys:\n  - {name: team, sha256: "
          "5058ce71a297c0e45ab68d0482f80032f6fc05702f342c77ab73a2f3d52c5a78}\n");
    cr_assert_eq(messages(p.port, "gpt", 0, buf, sizeof(buf)), 401, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"type\":\"authentication_error\""), "%s", buf);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"model\":\"gpt\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"hi\"}]}");
    cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages",
                                 "Content-Type: application/json\r\nx-api-key: sk-gw-front\r\n"
                                 "anthropic-version: 2023-06-01\r\n",
                                 body, buf, sizeof(buf)),
                 200, "%s", buf);
    stop(&p);
    cr_assert_eq(rows("metadata ->> 'key' = 'team' AND status = 'succeeded'"), 1);
}

static int responses(int port, const char *model, int stream, char *out, size_t size)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"instructions\":\"be brief\",\"input\":[{\"role\":\"user\","
             "\"content\":[{\"type\":\"input_text\",\"text\":\"hello\"}]}],"
             "\"max_output_tokens\":4%s}",
             model, stream ? ",\"stream\":true" : "");
    return bh_request(port, "POST", "/v1/responses", body, out, size);
}

Test(fronts, responses_through_chat_completions_to_either_provider)
{
    struct pair p;
    start(&p, NULL, NULL, NULL);
    static const char *const models[] = {"gpt", "claude"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(responses(p.port, models[i], 0, buf, sizeof(buf)), 200, "%s", buf);
        cr_assert_not_null(strstr(buf, "\"object\":\"response\""), "%s", buf);
        cr_assert_not_null(strstr(buf, "\"status\":\"completed\""), "%s", buf);
        cr_assert_not_null(strstr(buf, "\"type\":\"output_text\""), "%s", buf);
        cr_assert_not_null(strstr(buf, "\"instructions\":\"be brief\""), "%s", buf);
        cr_assert_not_null(strstr(buf, "\"output_tokens\":4"), "%s", buf);
        cr_assert_eq(responses(p.port, models[i], 1, buf, sizeof(buf)), 200, "%s", buf);
        static const char *const order[] = {
            "event: response.created",           "event: response.in_progress",
            "event: response.output_item.added", "event: response.output_text.delta",
            "event: response.output_text.done",  "event: response.output_item.done",
            "event: response.completed"};
        const char *at = buf;
        for (size_t k = 0; k < sizeof(order) / sizeof(*order); k++) {
            const char *next = strstr(at, order[k]);
            cr_assert_not_null(next, "%s: no %s in order: %s", models[i], order[k], buf);
            at = next;
        }
        cr_assert_null(strstr(buf, "[DONE]"), "%s", buf);
        cr_assert_null(strstr(buf, "chat.completion"), "%s", buf);
    }
    /* what needs a stateful upstream: a 400 naming the field */
    cr_assert_eq(
        bh_request(p.port, "POST", "/v1/responses",
                   "{\"model\":\"gpt\",\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", buf,
                   sizeof(buf)),
        400, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"param\":\"previous_response_id\""), "%s", buf);
    /* GET /v1/models/{id} */
    cr_assert_eq(bh_request(p.port, "GET", "/v1/models/gpt", NULL, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "{\"id\":\"gpt\",\"object\":\"model\""), "%s", buf);
    cr_assert_eq(bh_request(p.port, "GET", "/v1/models/nope", NULL, buf, sizeof(buf)), 404, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "model_not_found"), "%s", buf);
    stop(&p);
    cr_assert_eq(rows("metadata ->> 'endpoint' = 'responses' AND status = 'succeeded' AND "
                      "metadata ->> 'completion_tokens' = 4"),
                 4);
    cr_assert_eq(rows("metadata ->> 'endpoint' = 'responses' AND status = 'failed'"), 1);
}

Test(fronts, a_cut_stream_ends_in_the_clients_api)
{
    const char *cut[] = {"--sequence", "cut,cut", NULL};
    struct pair p;
    start(&p, NULL, cut, NULL);
    cr_assert_eq(messages(p.port, "gpt", 1, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "event: error"), "%s", buf);
    cr_assert_not_null(strstr(buf, "{\"type\":\"error\",\"error\":{"), "%s", buf);
    cr_assert_null(strstr(buf, "event: message_stop"), "%s", buf);
    cr_assert_eq(responses(p.port, "gpt", 1, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "event: error"), "%s", buf);
    cr_assert_null(strstr(buf, "event: response.completed"), "%s", buf);
    stop(&p);
    cr_assert_eq(rows("status = 'failed' AND metadata ->> 'stream'"), 2);
}

/* An OpenAI mock (with ARGS extra) and serve: model "native" on a
 * deployment that serves the Responses API itself (responses: native,
 * its own model name), "mixed" with a chat-only deployment beside a
 * native one, "chat" with a chat-only deployment. */
static int start_native(pid_t *mock, pid_t *serve, const char *const *mock_args)
{
    int mp = e2e_start_mock_as("oai", mock_args, mock);
    e2e_live_upstream = *mock;
    int port = e2e_start_serve_yaml(
        "serve.yaml", NULL, serve,
        "models:\n"
        "  - name: native\n"
        "    deployments:\n"
        "      - {name: n1, url: 'http://127.0.0.1:%d', responses: native, model: up-model,\n"
        "         retry: {max_attempts: 1}}\n"
        "  - name: mixed\n"
        "    deployments:\n"
        "      - {name: c2, url: 'http://127.0.0.1:%d', weight: 3}\n"
        "      - {name: n2, url: 'http://127.0.0.1:%d', responses: native}\n"
        "  - name: chat\n"
        "    deployments:\n"
        "      - {name: c3, url: 'http://127.0.0.1:%d'}\n",
        mp, mp, mp, mp);
    e2e_live_serve = *serve;
    return port;
}

static void stop_native(pid_t mock, pid_t serve)
{
    e2e_stop(serve);
    e2e_live_serve = 0;
    e2e_stop(mock);
    e2e_live_upstream = 0;
}

Test(fronts, responses_pass_through_to_a_native_deployment)
{
    pid_t mock, serve;
    int port = start_native(&mock, &serve, NULL);
    static const char stateful[] =
        "{\"model\":\"native\",\"input\":\"hi\",\"previous_response_id\":"
        "\"resp_1\",\"store\":true,\"max_output_tokens\":3%s}";
    char body[512];
    /* JSON: the upstream's own Response, the body sent as it was (model renamed) */
    snprintf(body, sizeof(body), stateful, "");
    cr_assert_eq(bh_request(port, "POST", "/v1/responses", body, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"id\":\"resp_mock"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"up-model\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"previous_response_id\":\"resp_1\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"usage\":{\"input_tokens\":1,\"output_tokens\":3"), "%s", buf);
    /* the upstream's own headers: its rate limits and its request id */
    cr_assert_not_null(strcasestr(buf, "\r\nx-ratelimit-remaining-requests: 2999"), "%s", buf);
    cr_assert_not_null(strcasestr(buf, "\r\nx-upstream-request-id: req_mock"), "%s", buf);
    /* streamed: the upstream's events as they came, up to response.completed */
    snprintf(body, sizeof(body), stateful, ",\"stream\":true");
    cr_assert_eq(bh_request(port, "POST", "/v1/responses", body, buf, sizeof(buf)), 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "event: response.created\ndata: {\"type\":\"response.created\","
                                   "\"response\":{\"id\":\"resp_mock"),
                       "%s", buf);
    const char *end = strstr(buf, "event: response.completed\n");
    cr_assert_not_null(end, "%s", buf);
    cr_assert_not_null(strstr(end, "\"sequence_number\":10}\n\n"), "%s", buf);
    cr_assert_null(strstr(buf, "[DONE]"), "%s", buf);
    /* the upstream's own refusal, as it said it */
    cr_assert_eq(bh_request(port, "POST", "/v1/responses",
                            "{\"model\":\"native\",\"previous_response_id\":\"nope\"}", buf,
                            sizeof(buf)),
                 400, "%s", buf);
    cr_assert_not_null(strstr(buf, "previous_response_not_found"), "%s", buf);
    /* a model with a chat-only deployment beside a native one: what only
     * the native one can serve always goes there, the rest anywhere */
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(bh_request(port, "POST", "/v1/responses",
                                "{\"model\":\"mixed\",\"input\":\"hi\",\"previous_response_id\":"
                                "\"resp_2\",\"max_output_tokens\":2}",
                                buf, sizeof(buf)),
                     200, "%s", buf);
        cr_assert_not_null(strstr(buf, "\"previous_response_id\":\"resp_2\""), "%s", buf);
        cr_assert_eq(responses(port, "mixed", i % 2, buf, sizeof(buf)), 200, "%s", buf);
    }
    /* no native deployment: the 400 naming the field, as before */
    cr_assert_eq(bh_request(port, "POST", "/v1/responses",
                            "{\"model\":\"chat\",\"input\":\"x\",\"previous_response_id\":"
                            "\"resp_1\"}",
                            buf, sizeof(buf)),
                 400, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"param\":\"previous_response_id\""), "%s", buf);
    stop_native(mock, serve);
    cr_assert_eq(rows("metadata ->> 'endpoint' = 'responses' AND metadata ->> 'deployment' = 'n1' "
                      "AND status = 'succeeded' AND metadata ->> 'completion_tokens' = 3 AND "
                      "metadata ->> 'prompt_tokens' = 1"),
                 2);
    cr_assert_eq(rows("metadata ->> 'deployment' = 'n1' AND status = 'failed' AND "
                      "metadata ->> 'status' = 400"),
                 1);
    cr_assert_eq(rows("metadata ->> 'model' = 'mixed' AND status = 'succeeded' AND "
                      "metadata ->> 'fallbacks' = 0"),
                 12);
    cr_assert_eq(rows("metadata ->> 'model' = 'mixed' AND metadata ->> 'completion_tokens' = 2 "
                      "AND metadata ->> 'deployment' = 'n2'"),
                 6, "every stateful request went to the native deployment");
}

Test(fronts, a_cut_native_responses_stream_ends_with_its_error_event)
{
    const char *cut[] = {"--sequence", "cut", "--tokens", "6", NULL};
    pid_t mock, serve;
    int port = start_native(&mock, &serve, cut);
    cr_assert_eq(bh_request(port, "POST", "/v1/responses",
                            "{\"model\":\"native\",\"input\":\"hi\",\"stream\":true}", buf,
                            sizeof(buf)),
                 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "event: response.output_text.delta"), "%s", buf);
    cr_assert_null(strstr(buf, "event: response.completed"), "%s", buf);
    /* numbered after the upstream's last event: 4 opening ones, 3 deltas */
    cr_assert_not_null(strstr(buf, "event: error\ndata: {\"type\":\"error\",\"code\":"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"sequence_number\":7}\n\n"), "%s", buf);
    stop_native(mock, serve);
    cr_assert_eq(rows("status = 'failed' AND metadata ->> 'deployment' = 'n1'"), 1);
}

Test(fronts, the_official_sdks_work_against_it)
{
    struct pair p;
    start(&p, NULL, NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "node %s/tests/sdk/clients.js http://127.0.0.1:%d > %s 2>&1",
             SL_SOURCE_ROOT, p.port, e2e_path("sdk.out"));
    int rc = system(cmd);
    char *out = e2e_slurp(e2e_path("sdk.out"));
    cr_assert_eq(rc, 0, "the SDK clients failed:\n%s", out ? out : "(no output)");
    cr_assert_not_null(out);
    cr_assert_not_null(strstr(out, "1..19"), "%s", out);
    free(out);
    stop(&p);
    cr_assert_eq(rows("status = 'succeeded'"), 14, "one row per request that reached a model");
}

/* Tool calls across APIs: an Anthropic client's tool (and its result in the
 * next turn) and a Responses client's function, to an OpenAI upstream that
 * answers with a call (the mock does when tool_choice names or requires
 * one), JSON and streamed. */
Test(fronts, tool_calls_cross_the_apis)
{
    struct pair p;
    start(&p, NULL, NULL, NULL);
    static const char tools[] =
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"weather\",\"input_schema\":"
        "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}}],"
        "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}";
    char body[2048];
    for (int stream = 0; stream < 2; stream++) {
        snprintf(body, sizeof(body),
                 "{\"model\":\"gpt\",\"max_tokens\":3,%s%s,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"weather in Paris?\"}]}",
                 stream ? "\"stream\":true," : "", tools);
        cr_assert_eq(bh_request_with(p.port, "POST", "/v1/messages", anthropic_headers, body, buf,
                                     sizeof(buf)),
                     200, "%s", buf);
        if (!stream) {
            cr_assert_not_null(strstr(buf, "{\"type\":\"tool_use\",\"id\":\"call_mock"), "%s", buf);
            cr_assert_not_null(strstr(buf, "\"name\":\"get_weather\",\"input\":{\"text\":\"Hello "
                                           "from the\"}"),
                               "%s", buf);
            cr_assert_not_null(strstr(buf, "\"stop_reason\":\"tool_use\""), "%s", buf);
        } else {
            cr_assert_not_null(strstr(buf, "\"content_block\":{\"type\":\"tool_use\""), "%s", buf);
            cr_assert_not_null(strstr(buf, "\"type\":\"input_json_delta\""), "%s", buf);
            cr_assert_not_null(strstr(buf, "\"stop_reason\":\"tool_use\""), "%s", buf);
            cr_assert_not_null(strstr(buf, "event: message_stop"), "%s", buf);
        }
    }
    /* the next turn: the call and its result go back, translated */
    snprintf(
        body, sizeof(body),
        "{\"model\":\"gpt\",\"max_tokens\":3,\"messages\":["
        "{\"role\":\"user\",\"content\":\"weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
        "\"name\":\"get_weather\",\"input\":{\"text\":\"Paris\"}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":\"sunny\"}]}]}");
    cr_assert_eq(
        bh_request_with(p.port, "POST", "/v1/messages", anthropic_headers, body, buf, sizeof(buf)),
        200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"stop_reason\":\"end_turn\""), "%s", buf);
    /* the Responses API: a function_call item */
    for (int stream = 0; stream < 2; stream++) {
        snprintf(body, sizeof(body),
                 "{\"model\":\"gpt\",\"max_output_tokens\":3,%s\"input\":\"weather in Paris?\","
                 "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":"
                 "{\"type\":\"object\"}}],\"tool_choice\":\"required\"}",
                 stream ? "\"stream\":true," : "");
        cr_assert_eq(bh_request(p.port, "POST", "/v1/responses", body, buf, sizeof(buf)), 200, "%s",
                     buf);
        cr_assert_not_null(strstr(buf, "\"type\":\"function_call\""), "%s", buf);
        cr_assert_not_null(strstr(buf, "\"name\":\"get_weather\""), "%s", buf);
        if (stream)
            cr_assert_not_null(strstr(buf, "event: response.function_call_arguments.done"), "%s",
                               buf);
    }
    stop(&p);
    cr_assert_eq(rows("status = 'succeeded'"), 5);
}

/* The matrix: every API a client may speak (chat completions, Messages,
 * Responses) with every upstream provider (OpenAI, Anthropic, Gemini,
 * Bedrock: each its own mock, Bedrock's checking the SigV4 signature),
 * JSON and streamed, each answer in the client's shapes with the usage in
 * its row; then a cut stream through each provider ends in the client's
 * API. */
Test(fronts, every_api_with_every_provider, .timeout = 180)
{
    static const char *const apis[] = {"openai", "anthropic", "gemini", "bedrock"};
    enum { NAPIS = 4 };
    pid_t mocks[NAPIS], serve;
    int ports[NAPIS];
    setenv("AWS_ACCESS_KEY_ID", "AKIDSLUICETEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "matrix-secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("SLUICE_TEST_ANTHROPIC_KEY", "sk-ant-test", 1);
    setenv("SLUICE_TEST_GEMINI_KEY", "AIza-test", 1);
    for (int i = 0; i < NAPIS; i++) {
        const char *args[] = {"--api", apis[i], "--sequence", "ok,ok,ok,ok,ok,ok,cut", NULL};
        ports[i] = e2e_start_mock_as(apis[i], args, &mocks[i]);
    }
    e2e_live_upstream = mocks[0];
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, &serve,
        "models:\n"
        "  - {name: openai, deployments: [{url: 'http://127.0.0.1:%d'}]}\n"
        "  - name: anthropic\n"
        "    deployments: [{provider: anthropic, url: 'http://127.0.0.1:%d',\n"
        "                   api_key_env: SLUICE_TEST_ANTHROPIC_KEY}]\n"
        "  - name: gemini\n"
        "    deployments: [{provider: gemini, url: 'http://127.0.0.1:%d',\n"
        "                   api_key_env: SLUICE_TEST_GEMINI_KEY, model: gemini-2.5-flash}]\n"
        "  - name: bedrock\n"
        "    deployments: [{provider: bedrock, url: 'http://127.0.0.1:%d', region: us-east-1,\n"
        "                   model: 'anthropic.claude-3-5-haiku-20241022-v1:0'}]\n",
        ports[0], ports[1], ports[2], ports[3]);
    e2e_live_serve = serve;
    char body[1024];
    for (int i = 0; i < NAPIS; i++) {
        for (int stream = 0; stream < 2; stream++) {
            const char *st = stream ? "\"stream\":true," : "";
            /* chat completions */
            snprintf(body, sizeof(body),
                     "{\"model\":\"%s\",\"max_tokens\":4,%s\"messages\":[{\"role\":\"system\","
                     "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}]}",
                     apis[i], st);
            cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", body, buf, sizeof(buf)),
                         200, "%s chat: %s", apis[i], buf);
            cr_assert_not_null(
                strstr(buf, stream ? "data: [DONE]" : "\"object\":\"chat.completion\""),
                "%s chat: %s", apis[i], buf);
            /* Messages */
            snprintf(body, sizeof(body),
                     "{\"model\":\"%s\",\"max_tokens\":4,%s\"system\":\"be brief\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"hi\"}]}",
                     apis[i], st);
            cr_assert_eq(bh_request_with(sp, "POST", "/v1/messages", anthropic_headers, body, buf,
                                         sizeof(buf)),
                         200, "%s messages: %s", apis[i], buf);
            if (stream)
                assert_message_stream_of(buf, 4);
            else
                cr_assert_not_null(strstr(buf, "\"type\":\"message\""), "%s: %s", apis[i], buf);
            /* Responses */
            snprintf(body, sizeof(body),
                     "{\"model\":\"%s\",\"max_output_tokens\":4,%s\"instructions\":\"be brief\","
                     "\"input\":\"hi\"}",
                     apis[i], st);
            cr_assert_eq(bh_request(sp, "POST", "/v1/responses", body, buf, sizeof(buf)), 200,
                         "%s responses: %s", apis[i], buf);
            cr_assert_not_null(
                strstr(buf, stream ? "event: response.completed" : "\"status\":\"completed\""),
                "%s responses: %s", apis[i], buf);
        }
        /* the 7th request of each mock is cut half way: a Messages stream */
        snprintf(body, sizeof(body),
                 "{\"model\":\"%s\",\"max_tokens\":4,\"stream\":true,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"hi\"}]}",
                 apis[i]);
        cr_assert_eq(
            bh_request_with(sp, "POST", "/v1/messages", anthropic_headers, body, buf, sizeof(buf)),
            200, "%s cut: %s", apis[i], buf);
        cr_assert_not_null(strstr(buf, "event: error"), "%s cut: %s", apis[i], buf);
        cr_assert_null(strstr(buf, "event: message_stop"), "%s cut: %s", apis[i], buf);
    }
    e2e_stop(serve);
    e2e_live_serve = 0;
    for (int i = 0; i < NAPIS; i++)
        e2e_stop(mocks[i]);
    e2e_live_upstream = 0;
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'completion_tokens' = 4"), 24,
                 "every answer's usage in its row");
    cr_assert_eq(rows("status = 'failed' AND metadata ->> 'endpoint' = 'messages'"), 4);
}
