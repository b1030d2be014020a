/* The Anthropic adapter (src/providers/anthropic*.c) as tables: requests,
 * responses, streams and errors from Anthropic's and OpenAI's documented
 * examples, each output checked to be one valid JSON value (the repo's
 * scanner) and then checked field by field or byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "chunk_client.h"
#include "json_at.h"
#include "http/sse.h"
#include "providers/anthropic.h"

/* ---- requests ---- */

static const struct sl_anthropic_req_opts opts = {.default_max_tokens = 4096};

struct req_case {
    const char *name;
    const char *openai;
    const char *anthropic;
};

static const struct req_case req_cases[] = {
    {"a system message and a user message; the default max_tokens",
     "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
     "terse.\"},{\"role\":\"user\",\"content\":\"Hello, Claude\"}]}",
     "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"system\":\"You are terse.\","
     "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello, "
     "Claude\"}]}]}"},
    {"sampling, stop as a string, stream, user",
     "{\"model\":\"m\",\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.9,\"stop\":\"\\n\\n\","
     "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u-42\","
     "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"frequency_penalty\":0.5,\"seed\":7}",
     "{\"model\":\"m\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":[{"
     "\"type\":\"text\",\"text\":\"Hi\"}]}],\"temperature\":0.7,\"top_p\":0.9,"
     "\"stop_sequences\":[\"\\n\\n\"],\"stream\":true,\"metadata\":{\"user_id\":\"u-42\"}}"},
    {"several system and developer texts become blocks; temperature above 1 is clamped; stop "
     "array; max_completion_tokens",
     "{\"model\":\"m\",\"max_completion_tokens\":300,\"temperature\":1.5,\"stop\":[\"END\",\"\","
     "\"STOP\"],\"messages\":[{\"role\":\"system\",\"content\":\"A\"},{\"role\":\"developer\","
     "\"content\":[{\"type\":\"text\",\"text\":\"B\"},{\"type\":\"text\",\"text\":\"C\"}]},"
     "{\"role\":\"user\",\"content\":\"Q\"}]}",
     "{\"model\":\"m\",\"max_tokens\":300,\"system\":[{\"type\":\"text\",\"text\":\"A\"},{"
     "\"type\":\"text\",\"text\":\"B\"},{\"type\":\"text\",\"text\":\"C\"}],\"messages\":[{"
     "\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Q\"}]}],\"temperature\":1,"
     "\"stop_sequences\":[\"END\",\"STOP\"]}"},
    {"image_url parts: an https URL and a base64 data URL",
     "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"What is in these images?\"},{\"type\":\"image_url\",\"image_url\":{"
     "\"url\":\"https://upload.wikimedia.org/a.jpg\",\"detail\":\"high\"}},{\"type\":"
     "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},{"
     "\"type\":\"image_url\",\"image_url\":\"https:\\/\\/x.org\\/b.png\"}]}]}",
     "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"What is in these images?\"},{\"type\":\"image\",\"source\":{\"type\":"
     "\"url\",\"url\":\"https://upload.wikimedia.org/a.jpg\"}},{\"type\":\"image\",\"source\":{"
     "\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},{"
     "\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https:\\/\\/x.org\\/b.png\"}}]}]}"},
    {"consecutive user messages are merged; empty texts left out",
     "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"one\"},"
     "{\"role\":\"user\",\"content\":\"\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
     "\"text\":\"two\"}]},{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\","
     "\"content\":\"three\"}]}",
     "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":\"two\"}]},{\"role\":\"assistant\","
     "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]},{\"role\":\"user\",\"content\":[{"
     "\"type\":\"text\",\"text\":\"three\"}]}]}"},
    {"a tool call round trip (OpenAI's get_weather example): tools, tool_choice required, "
     "serial calls, tool results merged into one user message",
     "{\"model\":\"m\",\"max_tokens\":100,\"tools\":[{\"type\":\"function\",\"function\":{"
     "\"name\":\"get_weather\",\"description\":\"Get the current weather\",\"parameters\":{"
     "\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":["
     "\"location\"]},\"strict\":true}},{\"type\":\"function\",\"function\":{\"name\":\"now\"}}],"
     "\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"messages\":[{\"role\":\"user\","
     "\"content\":\"Weather in Paris and Bogota?\"},{\"role\":\"assistant\",\"content\":null,"
     "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
     "\"get_weather\",\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},{\"id\":\"call_2\","
     "\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]},{\"role\":"
     "\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"14C\"},{\"role\":\"tool\","
     "\"tool_call_id\":\"call_2\",\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]}]}",
     "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"Weather in Paris and Bogota?\"}]},{\"role\":\"assistant\",\"content\":[{"
     "\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"location\": "
     "\"Paris\"}},{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"now\",\"input\":{}}]},{"
     "\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
     "\"content\":\"14C\"},{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\",\"content\":[{"
     "\"type\":\"text\",\"text\":\"noon\"}]}]}],\"tools\":[{\"name\":\"get_weather\","
     "\"description\":\"Get the current weather\",\"input_schema\":{\"type\":\"object\","
     "\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"]}},{"
     "\"name\":\"now\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
     "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}"},
    {"tool_choice naming a function; an assistant text with its tool call",
     "{\"model\":\"m\",\"max_tokens\":5,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"f\",\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":{\"type\":\"function\","
     "\"function\":{\"name\":\"f\"}},\"messages\":[{\"role\":\"user\",\"content\":\"go\"},{"
     "\"role\":\"assistant\",\"content\":\"Calling f.\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
     "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"go\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
     "\"Calling f.\"},{\"type\":\"tool_use\",\"id\":\"c\",\"name\":\"f\",\"input\":{}}]}],"
     "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{"
     "\"type\":\"tool\",\"name\":\"f\"}}"},
    {"tool_choice none and auto; null and false fields dropped",
     "{\"model\":\"m\",\"max_tokens\":5,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"f\"}}],\"tool_choice\":\"none\",\"logprobs\":false,\"n\":1,\"stop\":null,\"temperature\":"
     "null,\"response_format\":{\"type\":\"text\"},\"messages\":[{\"role\":\"user\",\"content\":"
     "\"x\"}]}",
     "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"x\"}]}],\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":"
     "\"object\",\"properties\":{}}}],\"tool_choice\":{\"type\":\"none\"}}"},
};

Test(anthropic, requests_translate_to_the_documented_shapes)
{
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_anthropic_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_anthropic_request(c->openai, strlen(c->openai), &opts, &out, &info, &no);
        cr_assert_eq(rc, 0, "%s: %d %s: %s", c->name, rc, no.param, no.message);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(out.ptr, c->anthropic, "%s", c->name);
        sl_buf_release(&out);
    }
}

Test(anthropic, request_info_and_model_override)
{
    const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{"
                       "\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"hi\"}]}";
    struct sl_anthropic_req_opts o = {.model = "claude-\"x\"", .default_max_tokens = 8};
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_anthropic_req_info info;
    struct sl_xlat_refusal no;
    cr_assert_eq(sl_anthropic_request(body, strlen(body), &o, &out, &info, &no), 0);
    cr_assert(info.stream && info.include_usage);
    cr_assert_str_eq(str(out.ptr, "model"), "claude-\"x\"");
    cr_assert_str_eq(raw(out.ptr, "max_tokens"), "8");
    cr_assert_str_eq(raw(out.ptr, "stream"), "true");
    sl_buf_release(&out);
}

struct refusal_case {
    const char *body;
    const char *param;
    const char *says;
};

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
static const struct refusal_case refusals[] = {
    {"{\"model\":\"m\",\"n\":2," MSGS "}", "n", "n must be 1"},
    {"{\"model\":\"m\",\"logprobs\":true," MSGS "}", "logprobs", "not supported"},
    {"{\"model\":\"m\",\"top_logprobs\":3," MSGS "}", "top_logprobs", "not supported"},
    {"{\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"}," MSGS "}", "response_format",
     "response_format"},
    {"{\"model\":\"m\",\"audio\":{\"voice\":\"alloy\"}," MSGS "}", "audio", "not supported"},
    {"{\"model\":\"m\",\"functions\":[]," MSGS "}", "functions", "not supported"},
    {"{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens", "positive integer"},
    {"{\"model\":\"m\",\"max_tokens\":1.5," MSGS "}", "max_tokens", "positive integer"},
    {"{\"model\":\"m\",\"stop\":[1]," MSGS "}", "stop", "array of strings"},
    {"{\"model\":\"m\",\"temperature\":\"hot\"," MSGS "}", "temperature", "number"},
    {"{\"model\":\"m\",\"top_p\":[]," MSGS "}", "top_p", "number"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"only\"}]}", "messages",
     "at least one"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\",\"content\":\"x\"}]}",
     "messages[0].role", "'function'"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
     "\"input_audio\":{}}]}]}",
     "messages[0].content[0].type", "'input_audio'"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
     "messages[0].content[0]", "base64"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
     "\"f\",\"arguments\":\"{not json\"}}]}]}",
     "messages[1].tool_calls[0]", "JSON object"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
     "messages[0].tool_call_id", "tool_call_id"},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"code_interpreter\"}]," MSGS "}", "tools[0].type",
     "only function tools"},
    {"{\"model\":\"m\",\"tool_choice\":\"sometimes\",\"tools\":[{\"type\":\"function\","
     "\"function\":{\"name\":\"f\"}}]," MSGS "}",
     "tool_choice", "auto, none, required"},
    {"{\"model\":\"m\",\"tool_choice\":\"required\"," MSGS "}", "tool_choice", "needs tools"},
    {"[1,2]", "", "not a JSON object"},
    {"{\"messages\":[]}", "model", "model"},
};

Test(anthropic, unsupported_requests_are_refused_with_the_field_named)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal_case *c = &refusals[i];
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_anthropic_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_anthropic_request(c->body, strlen(c->body), &opts, &out, &info, &no);
        cr_assert_eq(rc, UV_EINVAL, "%s: %d", c->body, rc);
        cr_assert_str_eq(no.param, c->param, "%s", c->body);
        cr_assert(strstr(no.message, c->says), "%s: '%s'", c->body, no.message);
        cr_assert(strchr(no.message, '\n') == NULL);
        sl_buf_release(&out);
    }
}

Test(anthropic, request_output_is_bounded)
{
    const char *body = req_cases[5].openai;
    for (size_t max = 0; max < 1200; max += 7) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        struct sl_anthropic_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_anthropic_request(body, strlen(body), &opts, &out, &info, &no);
        cr_assert(rc == 0 || rc == UV_ENOBUFS, "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            cr_assert_str_eq(out.ptr, req_cases[5].anthropic);
        sl_buf_release(&out);
    }
}

/* ---- responses ---- */

Test(anthropic, a_text_message_becomes_a_chat_completion)
{
    /* Anthropic's documented example response */
    const char *msg =
        "{\"content\":[{\"text\":\"Hi! My name is Claude.\",\"type\":\"text\"}],\"id\":"
        "\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"model\":\"claude-sonnet-4-5\",\"role\":\"assistant\","
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"type\":\"message\",\"usage\":{"
        "\"input_tokens\":2095,\"output_tokens\":503}}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_anthropic_response(msg, strlen(msg), NULL, 1700000000, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(
        out.ptr,
        "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"object\":\"chat.completion\",\"created\":"
        "1700000000,\"model\":\"claude-sonnet-4-5\",\"choices\":[{\"index\":0,\"message\":{"
        "\"role\":\"assistant\",\"content\":\"Hi! My name is Claude.\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2095,"
        "\"completion_tokens\":503,\"total_tokens\":2598,\"prompt_tokens_details\":{"
        "\"cached_tokens\":0}}}");
    cr_assert_eq(u.prompt, 2095);
    cr_assert_eq(u.completion, 503);
    sl_buf_release(&out);
}

Test(anthropic, tool_use_blocks_become_tool_calls)
{
    /* Anthropic's tool use example: a text block, then a tool_use block */
    const char *msg =
        "{\"id\":\"msg_01Aq9w938a90dw8q\",\"model\":\"claude-opus-4-1\",\"stop_reason\":"
        "\"tool_use\",\"role\":\"assistant\",\"type\":\"message\",\"content\":[{\"type\":\"text\","
        "\"text\":\"I'll check the weather.\\n\"},{\"type\":\"thinking\",\"thinking\":\"hmm\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}},{\"type\":"
        "\"text\",\"text\":\" Done.\"}],\"usage\":{\"input_tokens\":100,\"output_tokens\":50,"
        "\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":20}}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_anthropic_response(msg, strlen(msg), "claude", 5, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(str(out.ptr, "model"), "claude");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.content"), "I'll check the weather.\n Done.");
    cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), "tool_calls");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.id"),
                     "toolu_01A09q90qw90lq917835lq9");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.type"), "function");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.function.name"), "get_weather");
    const char *args = str(out.ptr, "choices.0.message.tool_calls.0.function.arguments");
    cr_assert_str_eq(args, "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}");
    assert_json(args, strlen(args));
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.tool_calls.1"), "(none)");
    cr_assert_str_eq(raw(out.ptr, "usage.prompt_tokens"), "1120");
    cr_assert_str_eq(raw(out.ptr, "usage.completion_tokens"), "50");
    cr_assert_str_eq(raw(out.ptr, "usage.total_tokens"), "1170");
    cr_assert_str_eq(raw(out.ptr, "usage.prompt_tokens_details.cached_tokens"), "1000");
    cr_assert_eq(u.prompt, 1120);
    cr_assert_eq(u.cached, 1000);
    sl_buf_release(&out);
}

Test(anthropic, stop_reasons_map_to_finish_reasons)
{
    static const char *const map[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"max_tokens", "length"},
        {"tool_use", "tool_calls"},
        {"pause_turn", "stop"},
        {"refusal", "content_filter"},
        {"model_context_window_exceeded", "length"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "{\"id\":\"m\",\"type\":\"message\",\"content\":[],\"stop_reason\":\"%s\"}",
                 map[i][0]);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_anthropic_response(msg, strlen(msg), "x", 1, &out, NULL), 0);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), map[i][1], "%s", map[i][0]);
        cr_assert_str_eq(raw(out.ptr, "choices.0.message.content"), "null");
        sl_buf_release(&out);
    }
}

/* Found by fuzz_anthropic: counts past an unsigned long wrapped the sum. */
Test(anthropic, huge_token_counts_do_not_wrap)
{
    const char *msg = "{\"content\":[],\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":"
                      "277777777777777777777777777777777777,\"cache_creation_input_tokens\":"
                      "99999999999999999999999999}}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_anthropic_response(msg, strlen(msg), "m", 1, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_geq(u.prompt, u.cached);
    cr_assert_geq(u.prompt + u.completion, u.prompt);
    sl_buf_release(&out);
}

Test(anthropic, bodies_that_are_not_messages_are_refused)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}",
        "{\"id\":\"m\",\"content\":\"text\"}",
        "{\"id\":\"m\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_anthropic_response(bad[i], strlen(bad[i]), NULL, 1, &out, NULL), UV_EINVAL,
                     "%s", bad[i]);
        sl_buf_release(&out);
    }
}

/* ---- streams ---- */

/* A recorded-looking stream (Anthropic's documented tool-use stream, with
 * a ping and a thinking block), driven through the SSE parser as the
 * gateway will drive it. */
static const char recorded[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-1\",\"stop_sequence\":"
    "null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2,\"cache_read_input_tokens\":28},"
    "\"content\":[],\"stop_reason\":null}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Okay, let's check \\\"the\\\" weather\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\" for San Francisco:\\n\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"thinking\","
    "\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"thinking_delta\","
    "\"thinking\":\"hmm\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"location\\\":\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\" \\\"San Francisco, CA\\\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\", \\\"unit\\\": \\\"fahrenheit\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":"
    "null},\"usage\":{\"output_tokens\":89}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

struct drive {
    struct sl_anthropic_stream s;
    struct sl_buf out;
    int rc; /* the first non-zero return */
};

static void on_upstream_event(void *arg, const struct sl_sse_event *ev)
{
    struct drive *d = arg;
    int rc =
        sl_anthropic_stream_event(&d->s, ev->event, ev->event_len, ev->data, ev->data_len, &d->out);
    if (rc && d->rc == 0)
        d->rc = rc;
}

/* Feeds an upstream stream in pieces of `piece` bytes. */
static void drive(struct drive *d, const char *text, size_t piece, int include_usage)
{
    sl_anthropic_stream_init(&d->s, NULL, 1700000000, include_usage);
    sl_buf_init(&d->out, 1 << 20);
    d->rc = 0;
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 0, on_upstream_event, d);
    size_t len = strlen(text);
    for (size_t at = 0; at < len; at += piece)
        cr_assert_eq(sl_sse_parser_feed(&p, text + at, len - at < piece ? len - at : piece), 0);
    sl_sse_parser_release(&p);
}

Test(anthropic, a_stream_with_text_and_tool_use_becomes_chunks)
{
    static const size_t pieces[] = {1, 3, 17, 100, 1 << 20};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        for (int usage = 0; usage <= 1; usage++) {
            struct drive d;
            drive(&d, recorded, pieces[i], usage);
            cr_assert_eq(d.rc, 0);
            cr_assert_eq(d.s.state, SL_AS_DONE);
            cr_assert_eq(sl_anthropic_stream_end(&d.s), 0);
            struct client c;
            read_client(&c, &d.out, "msg_014p7gG3wDgGV9EUtLvnow3U");
            cr_assert(c.done && c.after_done == 0 && c.errors == 0);
            cr_assert_str_eq(c.text, "Okay, let's check \"the\" weather for San Francisco:\n");
            cr_assert_str_eq(c.ids[0], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
            cr_assert_str_eq(c.names[0], "get_weather");
            cr_assert_str_eq(c.args[0], "{\"location\": \"San Francisco, CA\", \"unit\": "
                                        "\"fahrenheit\"}");
            assert_json(c.args[0], strlen(c.args[0]));
            cr_assert_str_eq(c.ids[1], "toolu_02");
            cr_assert_str_eq(c.names[1], "get_time");
            cr_assert_str_eq(c.args[1], "{}");
            cr_assert_str_eq(c.finish, "tool_calls");
            cr_assert_eq(c.usage_chunks, usage);
            /* role, 2 texts, 2 x (tool start + pieces), finish, usage */
            cr_assert_eq(c.chunks, 1 + 2 + 4 + 2 + 1 + usage);
            cr_assert_eq(d.s.usage.prompt, 500);
            cr_assert_eq(d.s.usage.completion, 89);
            cr_assert_eq(d.s.usage.cached, 28);
            if (usage)
                cr_assert_str_eq(c.last, "{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"object\":"
                                         "\"chat.completion.chunk\",\"created\":1700000000,"
                                         "\"model\":\"claude-opus-4-1\",\"choices\":[],\"usage\":"
                                         "{\"prompt_tokens\":500,\"completion_tokens\":89,"
                                         "\"total_tokens\":589,\"prompt_tokens_details\":{"
                                         "\"cached_tokens\":28}}}");
            sl_buf_release(&d.out);
        }
    }
}

Test(anthropic, the_first_chunks_byte_for_byte)
{
    struct drive d;
    drive(&d, recorded, 1 << 20, 0);
    const char *want =
        "data: {\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"claude-opus-4-1\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"claude-opus-4-1\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"Okay, let's check \\\"the\\\" weather\"},\"logprobs\":null,"
        "\"finish_reason\":null}]}\n\n";
    cr_assert(strncmp(d.out.ptr, want, strlen(want)) == 0, "%s", d.out.ptr);
    const char *tool =
        "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
        "\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    cr_assert(strstr(d.out.ptr, tool), "%s", d.out.ptr);
    const char *piece = "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                        "\"{\\\"location\\\":\"}}]}";
    cr_assert(strstr(d.out.ptr, piece), "%s", d.out.ptr);
    const char *end = "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                      "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    cr_assert(strlen(d.out.ptr) > strlen(end) &&
                  strcmp(d.out.ptr + strlen(d.out.ptr) - strlen(end), end) == 0,
              "%s", d.out.ptr);
    sl_buf_release(&d.out);
}

Test(anthropic, an_error_event_becomes_an_openai_error_and_ends_the_stream)
{
    const char *text =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\","
        "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
        "\"text\":\"Hel\"}}\n\n"
        "event: error\n"
        "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": "
        "\"Overloaded\"}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    struct drive d;
    drive(&d, text, 5, 1);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(d.s.state, SL_AS_FAILED);
    cr_assert_eq(d.s.err, SL_E_UNAVAILABLE);
    cr_assert_eq(sl_anthropic_stream_end(&d.s), 0);
    const char *tail = "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\","
                       "\"param\":null,\"code\":\"overloaded\"}}\n\n";
    cr_assert(strlen(d.out.ptr) > strlen(tail) &&
                  strcmp(d.out.ptr + strlen(d.out.ptr) - strlen(tail), tail) == 0,
              "%s", d.out.ptr);
    cr_assert(strstr(d.out.ptr, "\"content\":\"Hel\""));
    cr_assert(strstr(d.out.ptr, "[DONE]") == NULL);
    sl_buf_release(&d.out);
}

Test(anthropic, broken_streams_end_with_an_error)
{
    static const char *const broken[] = {
        /* a delta before message_start */
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
        /* data that is not JSON */
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
        "event: content_block_delta\ndata: {oops\n\n",
        /* a delta for a block that is not open */
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":4,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
        /* JSON pieces in a text block */
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        struct drive d;
        drive(&d, broken[i], 1 << 20, 0);
        cr_assert_eq(d.rc, UV_EPROTO, "%zu", i);
        cr_assert_eq(d.s.state, SL_AS_FAILED);
        cr_assert_eq(d.s.err, SL_E_BAD_GATEWAY);
        struct client c;
        read_client(&c, &d.out, NULL);
        cr_assert_eq(c.errors, 1, "%zu: %s", i, d.out.ptr);
        cr_assert(!c.done);
        sl_buf_release(&d.out);
    }
}

Test(anthropic, a_cut_stream_is_reported_at_the_end)
{
    const char *cut = strstr(recorded, "event: message_delta");
    char *text = strndup(recorded, (size_t)(cut - recorded));
    struct drive d;
    drive(&d, text, 7, 0);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(sl_anthropic_stream_end(&d.s), UV_EOF);
    cr_assert(strstr(d.out.ptr, "[DONE]") == NULL);
    free(text);
    sl_buf_release(&d.out);
}

Test(anthropic, stream_output_is_bounded_per_event)
{
    struct drive d;
    sl_anthropic_stream_init(&d.s, "client-model", 1, 0);
    sl_buf_init(&d.out, 64);
    const char *start = "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}";
    cr_assert_eq(sl_anthropic_stream_event(&d.s, "message_start", 13, start, strlen(start), &d.out),
                 UV_ENOBUFS);
    sl_buf_release(&d.out);
}

/* ---- errors ---- */

struct error_case {
    int status;
    const char *body;
    enum sl_err err;
    int client_status;
    const char *type, *code, *message;
};

static const struct error_case errors[] = {
    {400,
     "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: "
     "Field required\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}",
     SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL, "max_tokens: Field required"},
    {401,
     "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid "
     "x-api-key\"}}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key", "invalid x-api-key"},
    {403, "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\",\"message\":\"no\"}}",
     SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied", "no"},
    {404, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model: x\"}}",
     SL_E_BAD_REQUEST, 404, "invalid_request_error", "not_found", "model: x"},
    {413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\",\"message\":\"big\"}}",
     SL_E_BAD_REQUEST, 413, "invalid_request_error", "request_too_large", "big"},
    {429,
     "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of "
     "request tokens has exceeded your per-minute rate limit\"}}",
     SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded",
     "Number of request tokens has exceeded your per-minute rate limit"},
    {500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal\"}}",
     SL_E_SERVER_ERROR, 500, "server_error", NULL, "Internal"},
    {529,
     "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
     SL_E_UNAVAILABLE, 503, "server_error", "overloaded", "Overloaded"},
    {529, "<html>overloaded</html>", SL_E_UNAVAILABLE, 503, "server_error", "overloaded",
     "anthropic answered HTTP 529 without an error body"},
    {502, "<html>bad gateway</html>", SL_E_BAD_GATEWAY, 502, "server_error", NULL,
     "anthropic answered HTTP 502 without an error body"},
    {429, "", SL_E_RATE_LIMITED, 429, "requests", NULL,
     "anthropic answered HTTP 429 without an error body"},
    {418, "{\"type\":\"error\",\"error\":{\"type\":\"new_error\",\"message\":\"\\\"quoted\\\"\"}}",
     SL_E_BAD_REQUEST, 418, "invalid_request_error", NULL, "\"quoted\""},
};

Test(anthropic, errors_map_to_openai_errors_and_classes)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const struct error_case *c = &errors[i];
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        struct sl_anthropic_error e;
        cr_assert_eq(sl_anthropic_error(c->status, c->body, strlen(c->body), &out, &e), 0);
        assert_json(out.ptr, out.len);
        cr_assert_eq(e.err, c->err, "%zu: %s", i, sl_err_name(e.err));
        cr_assert_eq(e.status, c->client_status, "%zu", i);
        cr_assert_str_eq(e.type, c->type);
        cr_assert_str_eq(str(out.ptr, "error.type"), c->type);
        cr_assert_str_eq(str(out.ptr, "error.message"), c->message);
        cr_assert_str_eq(raw(out.ptr, "error.param"), "null");
        if (c->code)
            cr_assert_str_eq(str(out.ptr, "error.code"), c->code);
        else
            cr_assert_str_eq(raw(out.ptr, "error.code"), "null");
        sl_buf_release(&out);
    }
    /* the transient ones are worth another attempt */
    cr_assert(SL_ERR_TRANSIENT &
              SL_ERR_BIT(sl_anthropic_error_class("rate_limit_error", 16, 0).err));
    cr_assert(SL_ERR_TRANSIENT &
              SL_ERR_BIT(sl_anthropic_error_class("overloaded_error", 16, 0).err));
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(sl_anthropic_error_class(NULL, 0, 529).err));
    cr_assert(!(SL_ERR_TRANSIENT &
                SL_ERR_BIT(sl_anthropic_error_class("invalid_request_error", 21, 0).err)));
}
