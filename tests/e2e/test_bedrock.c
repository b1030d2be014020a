/* sluice serve in front of AWS Bedrock's Converse API, end to end: an
 * OpenAI client through serve to a `provider: bedrock` deployment on
 * `sluice mock --api bedrock`, which checks every request's SigV4
 * signature with its own AWS credentials (the same variables): JSON, a
 * stream (event-stream frames decoded and translated, the usage in the
 * row), tool calls both ways, a throttling fault retried, a wrong secret
 * refused by the mock, a cut stream, a fallback from bedrock to an OpenAI
 * deployment, missing credentials at start-up. */
#include "hostile_upstream.h"
#include "providers/eventstream.h"
#include "serve_support.h"

TestSuite(bedrock, .init = e2e_tmpdir, .fini = e2e_kill_live, .timeout = 60);

static char buf[256 * 1024];

static const char chat[] = "{\"model\":\"claude\",\"max_tokens\":6,\"messages\":["
                           "{\"role\":\"system\",\"content\":\"be brief\"},"
                           "{\"role\":\"user\",\"content\":\"hello\"}]}";
static const char chat_stream[] = "{\"model\":\"claude\",\"max_tokens\":5,\"stream\":true,"
                                  "\"stream_options\":{\"include_usage\":true},"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"top_song\",\"parameters\":{"       \
    "\"type\":\"object\",\"properties\":{\"sign\":{\"type\":\"string\"}}}}}],"                     \
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"top_song\"}},"
static const char chat_tool[] =
    "{\"model\":\"claude\",\"max_tokens\":3," TOOLS
    "\"messages\":[{\"role\":\"user\",\"content\":\"What is the most popular song on WZPZ?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
    "\"function\":{\"name\":\"top_song\",\"arguments\":\"{\\\"sign\\\":\\\"WZPZ\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"Elemental Hotel\"},"
    "{\"role\":\"user\",\"content\":\"And on WKRP?\"}]}";
static const char chat_tool_stream[] =
    "{\"model\":\"claude\",\"max_tokens\":3,\"stream\":true," TOOLS
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static void aws_env(const char *secret)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDSLUICETEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    setenv("AWS_SESSION_TOKEN", "session-token/with+chars=", 1);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

/* serve with the model "claude" on one Bedrock deployment at PORT (and an
 * OpenAI one at OPENAI_PORT after it, when not 0). */
static int start_serve_on(int port, int openai_port, pid_t *serve)
{
    char second[256] = "";
    if (openai_port)
        snprintf(second, sizeof(second),
                 "      - {name: oai, url: 'http://127.0.0.1:%d', weight: 0.000001}\n",
                 openai_port);
    int sp = e2e_start_serve_yaml(
        "serve.yaml", NULL, serve,
        "models:\n"
        "  - name: claude\n"
        "    deployments:\n"
        "      - {name: br, provider: bedrock, url: 'http://127.0.0.1:%d', region: eu-west-3,\n"
        "         model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', weight: 1000000,\n"
        "         retry: {max_attempts: 3, backoff: fixed, base_ms: 5, retry_after_cap_ms: 200}}\n"
        "%s",
        port, second);
    e2e_live_serve = *serve;
    return sp;
}

/* A Bedrock mock (ARGS extra) with the right secret, and serve in front of
 * it signing with `secret`. */
static int start_pair(const char *const *margs, const char *secret, int *mock_port, pid_t *mock,
                      pid_t *serve)
{
    const char *args[16] = {"--api", "bedrock"};
    int n = 2;
    for (; margs && *margs && n < 15; margs++)
        args[n++] = *margs;
    args[n] = NULL;
    aws_env("the-right-secret");
    *mock_port = e2e_start_mock(args, mock);
    e2e_live_upstream = *mock;
    aws_env(secret);
    return start_serve_on(*mock_port, 0, serve);
}

static long long rows(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE %s", where);
    return e2e_sql_int(e2e_path("serve.db"), sql);
}

Test(bedrock, json_and_stream_reach_an_openai_client)
{
    pid_t mock, serve;
    int mp;
    int sp = start_pair(NULL, "the-right-secret", &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"model\":\"claude\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Hello from the sluice mock.\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":6"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "text/event-stream"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion.chunk\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"role\":\"assistant\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\" sluice\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"completion_tokens\":5"), "the usage chunk: %s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_null(strstr(buf, "messageStart"), "Bedrock's events leaked: %s", buf);
    /* an endpoint Bedrock does not have here, and what Converse cannot take */
    cr_assert_eq(bh_request(sp, "POST", "/v1/embeddings", "{\"model\":\"claude\",\"input\":\"x\"}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "(provider: bedrock) does not serve /v1/embeddings"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions",
                            "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":[{"
                            "\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.org/a.png\"}"
                            "}]}]}",
                            buf, sizeof(buf)),
                 400);
    cr_assert_not_null(strstr(buf, "\"param\":\"messages[0].content[0]\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 2, "the refusals never reach the upstream");
    cr_assert_eq(e2e_mock_stat(mp, "streams"), 1);
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("status = 'succeeded' AND NOT metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 6 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the JSON usage is recorded");
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'stream' AND "
                      "metadata ->> 'completion_tokens' = 5 AND metadata ->> 'prompt_tokens' > 0"),
                 1, "the stream's usage is recorded");
}

Test(bedrock, tool_calls_both_ways)
{
    pid_t mock, serve;
    int mp;
    int sp = start_pair(NULL, "the-right-secret", &mp, &mock, &serve);
    /* a history with a call and its result goes up as toolUse / toolResult
     * (the mock refuses what Converse would); the answer is a call */
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_tool, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"tool_calls\":[{\"id\":\"tooluse_mock0\",\"type\":"
                                   "\"function\",\"function\":{\"name\":\"top_song\","
                                   "\"arguments\":\"{\\\"text\\\":\\\"Hello from the\\\"}\"}}]"),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"tool_calls\""), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_tool_stream, buf, sizeof(buf)),
                 200, "%s", buf);
    cr_assert_not_null(strstr(buf, "\"tool_calls\":[{\"index\":0,\"id\":\"tooluse_mock1\",\"type\":"
                                   "\"function\",\"function\":{\"name\":\"top_song\","
                                   "\"arguments\":\"\"}}]"),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "\"arguments\":\"{\\\"text\\\":\\\"Hello\"}"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"tool_calls\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(bedrock, a_throttling_exception_is_retried)
{
    const char *margs[] = {"--sequence", "429,503,ok", "--retry-after", "0", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, "the-right-secret", &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 3,
                 "ThrottlingException and ServiceUnavailableException are retried, each signed");
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("attempts = 3 AND status = 'succeeded'"), 1);
}

Test(bedrock, a_validation_exception_reaches_the_client_in_openai_shape)
{
    const char *margs[] = {"--sequence", "400", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, "the-right-secret", &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 400, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "{\"error\":{\"message\":\"Invalid request (mock fault)\""),
                       "the upstream's message is carried through: %s", buf);
    cr_assert_not_null(strstr(buf, "invalid_request_error"), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(mock);
}

Test(bedrock, a_wrong_secret_is_refused_by_the_signature_check)
{
    pid_t mock, serve;
    int mp;
    int sp = start_pair(NULL, "a-wrong-secret", &mp, &mock, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 401, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "The request signature we calculated does not match"), "%s",
                       buf);
    cr_assert_not_null(strstr(buf, "invalid_api_key"), "%s", buf);
    cr_assert_eq(e2e_mock_stat(mp, "requests"), 1, "not retried");
    e2e_stop(serve);
    e2e_stop(mock);
    cr_assert_eq(rows("status = 'failed' AND error = 'unauthorized'"), 1);
}

Test(bedrock, the_mock_checks_what_bedrock_checks)
{
    pid_t mock;
    const char *margs[] = {"--api", "bedrock", NULL};
    aws_env("the-right-secret");
    int mp = e2e_start_mock(margs, &mock);
    e2e_live_upstream = mock;
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}";
    cr_assert_eq(bh_request(mp, "POST", "/model/m/converse", body, buf, sizeof(buf)), 403);
    cr_assert_not_null(strstr(buf, "x-amzn-ErrorType: MissingAuthenticationTokenException:"), "%s",
                       buf);
    const char *forged = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDSLUICETEST/20261201/"
                         "us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, "
                         "Signature=00\r\nX-Amz-Date: 20261201T000000Z\r\n"
                         "X-Amz-Security-Token: session-token/with+chars=\r\n";
    cr_assert_eq(bh_request_with(mp, "POST", "/model/m/converse", forged, body, buf, sizeof(buf)),
                 403);
    cr_assert_not_null(strstr(buf, "x-amzn-ErrorType: InvalidSignatureException:"), "%s", buf);
    const char *other_key = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDOTHER/20261201/"
                            "us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, "
                            "Signature=00\r\nX-Amz-Date: 20261201T000000Z\r\n";
    cr_assert_eq(
        bh_request_with(mp, "POST", "/model/m/converse", other_key, body, buf, sizeof(buf)), 403);
    cr_assert_not_null(strstr(buf, "UnrecognizedClientException"), "%s", buf);
    cr_assert_eq(bh_request(mp, "POST", "/model/m/translate", body, buf, sizeof(buf)), 404);
    e2e_stop(mock);
}

Test(bedrock, a_cut_stream_ends_with_an_error_event)
{
    const char *margs[] = {"--sequence", "cut", "--tokens", "40", NULL};
    pid_t mock, serve;
    int mp;
    int sp = start_pair(margs, "the-right-secret", &mp, &mock, &serve);
    static const char long_stream[] = "{\"model\":\"claude\",\"stream\":true,\"messages\":[{"
                                      "\"role\":\"user\",\"content\":\"hi\"}]}";
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", long_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "chat.completion.chunk"), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: {\"error\":{"), "no error event: %s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    e2e_stop(serve);
    e2e_stop(mock);
}

/* What the mock does not do: an exception in the middle of a stream, a
 * frame that fails its CRC, a stream that ends after messageStop with no
 * metadata. */
Test(bedrock, exceptions_bad_frames_and_a_missing_metadata_event)
{
    /* frames made with the same encoder Bedrock's are checked against */
    struct sl_buf good, broken, no_meta;
    sl_buf_init(&good, 1 << 16);
    sl_buf_init(&broken, 1 << 16);
    sl_buf_init(&no_meta, 1 << 16);
    struct sl_es_header h[3] = {
        {.name = {":event-type", 11}, .type = SL_ES_STRING},
        {.name = {":content-type", 13}, .type = SL_ES_STRING, .str = {"application/json", 16}},
        {.name = {":message-type", 13}, .type = SL_ES_STRING, .str = {"event", 5}},
    };
#define FRAME(b, type, payload)                                                                    \
    do {                                                                                           \
        h[0].str = (struct sl_str){type, strlen(type)};                                            \
        cr_assert_eq(sl_eventstream_encode(b, h, 3, payload, strlen(payload)), 0);                 \
    } while (0)
    FRAME(&good, "messageStart", "{\"role\":\"assistant\"}");
    FRAME(&good, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hel\"}}");
    h[0].name = (struct sl_str){":exception-type", 15};
    h[2].str = (struct sl_str){"exception", 9};
    FRAME(&good, "throttlingException", "{\"message\":\"Too many tokens, please wait.\"}");
    h[0].name = (struct sl_str){":event-type", 11};
    h[2].str = (struct sl_str){"event", 5};
    FRAME(&broken, "messageStart", "{\"role\":\"assistant\"}");
    FRAME(&broken, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hel\"}}");
    broken.ptr[broken.len - 5] ^= 1; /* the last frame's payload: its CRC fails */
    FRAME(&no_meta, "messageStart", "{\"role\":\"assistant\"}");
    FRAME(&no_meta, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    FRAME(&no_meta, "messageStop", "{\"stopReason\":\"max_tokens\"}");
#undef FRAME
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
             "Content-Length: %zu\r\n\r\n",
             good.len);
    char head2[256];
    snprintf(head2, sizeof(head2),
             "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
             "Content-Length: %zu\r\n\r\n",
             broken.len);
    char head3[256];
    snprintf(head3, sizeof(head3),
             "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
             "Content-Length: %zu\r\n\r\n",
             no_meta.len);
    const struct hu_script scripts[] = {
        {"exception", {HU_S(head), HU_B(good.ptr, good.len), HU_CLOSE_CONN}},
        {"bad crc", {HU_S(head2), HU_B(broken.ptr, broken.len), HU_CLOSE_CONN}},
        {"no metadata", {HU_S(head3), HU_B(no_meta.ptr, no_meta.len), HU_CLOSE_CONN}},
    };
    aws_env("the-right-secret");
    struct hu hs = hu_start(scripts, 3);
    e2e_live_upstream = hs.pid;
    pid_t serve;
    int sp = start_serve_on(hs.port, 0, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Hel\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "Too many tokens, please wait."), "%s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "could not be decoded"), "%s", buf);
    cr_assert_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"length\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "complete without metadata: %s", buf);
    e2e_stop(serve);
    hu_stop(&hs);
    sl_buf_release(&good);
    sl_buf_release(&broken);
    sl_buf_release(&no_meta);
    cr_assert_eq(rows("status = 'failed' AND error = 'rate_limited'"), 1,
                 "the exception's class is the row's");
    cr_assert_eq(rows("status = 'failed' AND error = 'bad_gateway'"), 1);
    cr_assert_eq(rows("status = 'succeeded'"), 1);
}

Test(bedrock, a_bedrock_deployment_falls_back_to_an_openai_one)
{
    const char *margs[] = {"--api", "bedrock", "--fail-rate", "1", "--error-mix", "503", NULL};
    aws_env("the-right-secret");
    pid_t br, oai, serve;
    int bp = e2e_start_mock_as("mock1", margs, &br);
    e2e_live_upstream = br;
    const char *oargs[] = {NULL};
    int op = e2e_start_mock_as("mock2", oargs, &oai);
    int sp = start_serve_on(bp, op, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat, buf, sizeof(buf)), 200, "%s",
                 buf);
    cr_assert_not_null(strstr(buf, "\"object\":\"chat.completion\""), "%s", buf);
    cr_assert_eq(e2e_mock_stat(bp, "requests"), 3);
    cr_assert_eq(e2e_mock_stat(op, "requests"), 1);
    e2e_stop(serve);
    e2e_stop(br);
    e2e_stop(oai);
    cr_assert_eq(
        rows("attempts = 4 AND status = 'succeeded' AND metadata ->> 'deployment' = 'oai'"), 1);
}

Test(bedrock, missing_credentials_stop_serve_at_start_with_one_line)
{
    aws_env("x");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    const char *cfg =
        e2e_write_file("serve.yaml", "models:\n"
                                     "  - name: claude\n"
                                     "    deployments:\n"
                                     "      - {name: br, provider: bedrock, model: m,\n"
                                     "         region: us-east-1}\n");
    const char *args[] = {"serve", "--config",           cfg, "--listen", "127.0.0.1:0",
                          "--db",  e2e_path("serve.db"), NULL};
    struct e2e_run r = e2e_run(args);
    cr_assert_neq(r.status, 0);
    cr_assert_not_null(strstr(r.err, "deployment 'br': AWS_SECRET_ACCESS_KEY is not set "
                                     "(AWS_ACCESS_KEY_ID is)"),
                       "%s", r.err);
    cr_assert_eq(e2e_lines(r.err), 1, "%s", r.err);
    e2e_free(&r);
    /* no region anywhere */
    aws_env("x");
    cfg = e2e_write_file("serve.yaml", "models:\n"
                                       "  - name: claude\n"
                                       "    deployments:\n"
                                       "      - {name: br, provider: bedrock, model: m}\n");
    r = e2e_run(args);
    cr_assert_neq(r.status, 0);
    cr_assert_not_null(strstr(r.err, "AWS region not set"), "%s", r.err);
    e2e_free(&r);
}

/* The gateway cuts the event stream into frames itself (bedrock_attempt.c):
 * frames that arrive split anywhere, a prelude in two reads, a frame one
 * byte short, several frames in one read, give the same chunks. */
Test(bedrock, frames_split_across_reads_are_put_back_together)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    struct sl_es_header h[3] = {
        {.name = {":event-type", 11}, .type = SL_ES_STRING},
        {.name = {":content-type", 13}, .type = SL_ES_STRING, .str = {"application/json", 16}},
        {.name = {":message-type", 13}, .type = SL_ES_STRING, .str = {"event", 5}},
    };
    static const char *const events[][2] = {
        {"messageStart", "{\"p\":\"abc\",\"role\":\"assistant\"}"},
        {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"}}"},
        {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\" world\"}}"},
        {"contentBlockStop", "{\"contentBlockIndex\":0}"},
        {"messageStop", "{\"stopReason\":\"end_turn\"}"},
        {"metadata", "{\"usage\":{\"inputTokens\":11,\"outputTokens\":2,\"totalTokens\":13}}"},
    };
    size_t ends[6];
    for (size_t i = 0; i < 6; i++) {
        h[0].str = (struct sl_str){events[i][0], strlen(events[i][0])};
        cr_assert_eq(sl_eventstream_encode(&body, h, 3, events[i][1], strlen(events[i][1])), 0);
        ends[i] = body.len;
    }
    /* cuts: inside the first prelude, after it, a byte before the first
     * frame's end, in the middle of the second and third, then the rest */
    size_t cuts[] = {5, 12, ends[0] - 1, ends[1] + 20, ends[3] + 3, body.len};
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
             "Content-Length: %zu\r\n\r\n",
             body.len);
    struct hu_script script = {"split", {HU_S(head)}};
    size_t k = 1, at = 0;
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
        script.steps[k++] = (struct hu_step)HU_B(body.ptr + at, cuts[i] - at);
        script.steps[k++] = (struct hu_step)HU_SLEEP_MS(30);
        at = cuts[i];
    }
    script.steps[k++] = (struct hu_step)HU_CLOSE_CONN;
    aws_env("the-right-secret");
    struct hu hs = hu_start(&script, 1);
    e2e_live_upstream = hs.pid;
    pid_t serve;
    int sp = start_serve_on(hs.port, 0, &serve);
    cr_assert_eq(bh_request(sp, "POST", "/v1/chat/completions", chat_stream, buf, sizeof(buf)), 200,
                 "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\"Hello\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"content\":\" world\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"finish_reason\":\"stop\""), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"prompt_tokens\":11,\"completion_tokens\":2"), "%s", buf);
    cr_assert_not_null(strstr(buf, "data: [DONE]"), "%s", buf);
    cr_assert_null(strstr(buf, "\"error\""), "%s", buf);
    e2e_stop(serve);
    hu_stop(&hs);
    sl_buf_release(&body);
    cr_assert_eq(rows("status = 'succeeded' AND metadata ->> 'completion_tokens' = 2"), 1);
}
