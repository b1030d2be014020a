/* The Anthropic Messages API in front (src/providers/messages_*.c) as
 * tables: Anthropic requests from Anthropic's documented examples become
 * OpenAI requests, OpenAI's documented responses, chunks and errors become
 * Anthropic's, byte for byte; a round trip through the Anthropic adapter
 * (sl_anthropic_request) gives back the request it started from; and the
 * native pass-through's scanners read usage and the end. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/sse.h"
#include "json_at.h"
#include "providers/messages_front.h"

/* ---- requests ---- */

struct req_case {
    const char *name;
    const char *anthropic;
    const char *openai;
};

static const struct req_case req_cases[] = {
    {"Anthropic's first example: one user message",
     "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
     "\"content\":\"Hello, world\"}]}",
     "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello, "
     "world\"}],\"max_tokens\":1024}"},
    {"system string, sampling, stop_sequences, stream, metadata; top_k and thinking dropped",
     "{\"model\":\"m\",\"max_tokens\":512,\"system\":\"You are terse.\",\"temperature\":0.2,"
     "\"top_p\":0.9,\"top_k\":40,\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],\"stream\":true,"
     "\"metadata\":{\"user_id\":\"u-42\"},\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
     "2000},\"service_tier\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{"
     "\"role\":\"assistant\",\"content\":\"Hello\"},{\"role\":\"user\",\"content\":\"Bye\"}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},{"
     "\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},{"
     "\"role\":\"user\",\"content\":\"Bye\"}],\"max_tokens\":512,\"temperature\":0.2,\"top_p\":"
     "0.9,\"stop\":[\"\\n\\nHuman:\",\"END\"],\"stream\":true,\"stream_options\":{"
     "\"include_usage\":true},\"user\":\"u-42\"}"},
    {"system text blocks (cache_control dropped); a lone text block; images base64 and url",
     "{\"model\":\"m\",\"max_tokens\":10,\"system\":[{\"type\":\"text\",\"text\":\"A\","
     "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"B\"}],"
     "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\","
     "\"cache_control\":{\"type\":\"ephemeral\"}}]},{\"role\":\"assistant\",\"content\":[{"
     "\"type\":\"text\",\"text\":\"ok\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"image\","
     "\"source\":{\"type\":\"base64\",\"media_type\":\"image/jpeg\",\"data\":\"/9j/4AAQSkZJRg==\""
     "}},{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://upload.wikimedia.org/"
     "a.jpg\"}},{\"type\":\"text\",\"text\":\"Describe these images.\"}]}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
     "\"text\":\"A\"},{\"type\":\"text\",\"text\":\"B\"}]},{\"role\":\"user\",\"content\":\"one\"},"
     "{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":[{\"type\":"
     "\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQSkZJRg==\"}},{"
     "\"type\":\"image_url\",\"image_url\":{\"url\":\"https://upload.wikimedia.org/a.jpg\"}},{"
     "\"type\":\"text\",\"text\":\"Describe these images.\"}]}],\"max_tokens\":10}"},
    {"Anthropic's get_weather tool example: tools, tool_choice any serial, tool_use, "
     "tool_result (string; text blocks with is_error) before the user's text",
     "{\"model\":\"m\",\"max_tokens\":1024,\"tools\":[{\"name\":\"get_weather\",\"description\":"
     "\"Get the current weather in a given location\",\"input_schema\":{\"type\":\"object\","
     "\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"]},"
     "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"custom\",\"name\":\"now\","
     "\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"any\","
     "\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":\"user\",\"content\":\"What's "
     "the weather like in San Francisco?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
     "\"thinking\",\"thinking\":\"hm\",\"signature\":\"x\"},{\"type\":\"text\",\"text\":\"<"
     "thinking>"
     "I need to use get_weather</thinking>\"},{\"type\":\"tool_use\",\"id\":"
     "\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\",\"input\":{\"location\": "
     "\"San Francisco, CA\"}},{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"now\","
     "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
     "\"toolu_01A09q90qw90lq917835lq9\",\"content\":\"15 degrees\"},{\"type\":\"text\",\"text\":"
     "\"And now?\"},{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":true,"
     "\"content\":[{\"type\":\"text\",\"text\":\"clock\"},{\"type\":\"text\",\"text\":"
     "\"broken\"}]}]}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"What's the weather like in "
     "San Francisco?\"},{\"role\":\"assistant\",\"content\":\"<thinking>I need to use "
     "get_weather</thinking>\",\"tool_calls\":[{\"id\":\"toolu_01A09q90qw90lq917835lq9\","
     "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location"
     "\\\": \\\"San Francisco, CA\\\"}\"}},{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":"
     "{\"name\":\"now\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
     "\"toolu_01A09q90qw90lq917835lq9\",\"content\":\"15 degrees\"},{\"role\":\"tool\","
     "\"tool_call_id\":\"toolu_2\",\"content\":\"Error: clock\\nbroken\"},{\"role\":\"user\","
     "\"content\":\"And now?\"}],\"max_tokens\":1024,\"tools\":[{\"type\":\"function\","
     "\"function\":{\"name\":\"get_weather\",\"description\":\"Get the current weather in a given "
     "location\",\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":"
     "\"string\"}},\"required\":[\"location\"]}}},{\"type\":\"function\",\"function\":{\"name\":"
     "\"now\",\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"required\","
     "\"parallel_tool_calls\":false}"},
    {"tool_choice tool; an assistant turn of two texts and only a tool_use; a turn of tool "
     "results only",
     "{\"model\":\"m\",\"max_tokens\":5,\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],"
     "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"},\"messages\":[{\"role\":\"user\","
     "\"content\":\"go\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
     "{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"user\",\"content\":\"again\"},{\"role\":"
     "\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}"
     "]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"},{\"role\":"
     "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":"
     "\"b\"}]},{\"role\":\"user\",\"content\":\"again\"},{\"role\":\"assistant\",\"content\":null,"
     "\"tool_calls\":[{\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"t\",\"content\":\"\"}],"
     "\"max_tokens\":5,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":{}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}"},
    {"tool_choice none and auto (auto keeps disable_parallel_tool_use); an empty stop list",
     "{\"model\":\"m\",\"max_tokens\":5,\"stop_sequences\":[],\"tool_choice\":{\"type\":\"none\","
     "\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":5,"
     "\"tool_choice\":\"none\"}"},
    {"tool_choice auto, serial",
     "{\"model\":\"m\",\"max_tokens\":5,\"tool_choice\":{\"type\":\"auto\","
     "\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":5,"
     "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false}"},
};

static int translate(const char *body, unsigned flags, struct sl_buf *out,
                     struct sl_messages_req_info *info, struct sl_xlat_refusal *no)
{
    sl_buf_init(out, 1 << 16);
    return sl_messages_request(body, strlen(body), flags, out, info, no);
}

Test(messages_front, requests_translate_to_openai)
{
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        struct sl_buf out;
        struct sl_messages_req_info info;
        struct sl_xlat_refusal no;
        int rc = translate(c->anthropic, 0, &out, &info, &no);
        cr_assert_eq(rc, 0, "%s: %d %s: %s", c->name, rc, no.param, no.message);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(out.ptr, c->openai, "%s", c->name);
        sl_buf_release(&out);
    }
}

Test(messages_front, request_info_and_count_tokens)
{
    const char *body = "{\"stream\":true,\"model\":\"claude-\\\"x\\\"\",\"max_tokens\":77,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct sl_buf out;
    struct sl_messages_req_info info;
    struct sl_xlat_refusal no;
    cr_assert_eq(translate(body, 0, &out, &info, &no), 0);
    cr_assert(info.stream);
    cr_assert_eq(info.max_tokens, 77);
    cr_assert_eq(info.model.len, strlen("claude-\\\"x\\\""));
    cr_assert(memcmp(info.model.ptr, "claude-\\\"x\\\"", info.model.len) == 0);
    cr_assert(info.model.ptr > body && info.model.ptr < body + strlen(body));
    sl_buf_release(&out);

    /* count_tokens: no max_tokens, and none in the OpenAI body */
    const char *count = "{\"model\":\"m\",\"system\":\"s\",\"messages\":[{\"role\":\"user\","
                        "\"content\":\"hi\"}]}";
    cr_assert_eq(translate(count, 0, &out, &info, &no), UV_EINVAL);
    cr_assert_str_eq(no.param, "max_tokens");
    sl_buf_release(&out);
    cr_assert_eq(translate(count, SL_MESSAGES_NO_MAX_TOKENS, &out, &info, &no), 0);
    cr_assert_eq(info.max_tokens, -1);
    cr_assert(!info.stream);
    cr_assert_str_eq(out.ptr, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
                              "\"s\"},{\"role\":\"user\",\"content\":\"hi\"}]}");
    sl_buf_release(&out);
}

struct refusal_case {
    const char *body;
    const char *param;
    const char *says;
};

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define M    "{\"model\":\"m\",\"max_tokens\":5,"
static const struct refusal_case refusals[] = {
    {"{\"model\":\"m\"," MSGS "}", "max_tokens", "required"},
    {"{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens", "positive integer"},
    {"{\"model\":\"m\",\"max_tokens\":2.5," MSGS "}", "max_tokens", "positive integer"},
    {"{\"model\":\"m\",\"max_tokens\":\"9\"," MSGS "}", "max_tokens", "positive integer"},
    {"{\"max_tokens\":5," MSGS "}", "model", "model"},
    {M "\"messages\":{}}", "messages", "messages"},
    {"[1]", "", "not a JSON object"},
    {M "\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages[0].role",
     "user or assistant"},
    {M "\"messages\":[{\"role\":\"user\",\"content\":7}]}", "messages[0].content", "string"},
    {M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":{}}]}]}",
     "messages[0].content[0].type", "'document'"},
    {M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
       "\"file\",\"file_id\":\"f\"}}]}]}",
     "messages[0].content[0]", "file"},
    {M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"content\":"
       "\"x\"}]}]}",
     "messages[0].content[0].tool_use_id", "tool_use_id"},
    {M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
       "\"t\",\"content\":[{\"type\":\"image\",\"source\":{}}]}]}]}",
     "messages[0].content[0].content[0]", "text blocks only"},
    {M "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"server_tool_use\",\"id\":"
       "\"s\",\"name\":\"web_search\",\"input\":{}}]}]}",
     "messages[0].content[0].type", "'server_tool_use'"},
    {M "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
       "\"name\":\"f\",\"input\":\"{}\"}]}]}",
     "messages[0].content[0]", "input object"},
    {M "\"system\":[{\"type\":\"image\"}]," MSGS "}", "system[0]", "text blocks only"},
    {M "\"system\":5," MSGS "}", "system", "string"},
    {M "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]," MSGS "}",
     "tools[0].type", "server tools ('web_search_20250305')"},
    {M "\"tools\":[{\"name\":\"f\"}]," MSGS "}", "tools[0].input_schema", "input_schema"},
    {M "\"tools\":{}," MSGS "}", "tools", "array"},
    {M "\"tool_choice\":{\"type\":\"sometimes\"}," MSGS "}", "tool_choice.type", "auto, any"},
    {M "\"tool_choice\":{\"type\":\"tool\"}," MSGS "}", "tool_choice.type", "with a name"},
    {M "\"stop_sequences\":\"END\"," MSGS "}", "stop_sequences", "array of strings"},
    {M "\"stop_sequences\":[1]," MSGS "}", "stop_sequences", "array of strings"},
    {M "\"temperature\":\"hot\"," MSGS "}", "temperature", "number"},
    {M "\"mcp_servers\":[{\"type\":\"url\"}]," MSGS "}", "mcp_servers", "not supported"},
    {M "\"container\":\"c\"," MSGS "}", "container", "not supported"},
};

Test(messages_front, unsupported_requests_are_refused_with_the_field_named)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal_case *c = &refusals[i];
        struct sl_buf out;
        struct sl_messages_req_info info;
        struct sl_xlat_refusal no;
        int rc = translate(c->body, 0, &out, &info, &no);
        cr_assert_eq(rc, UV_EINVAL, "%s: %d", c->body, rc);
        cr_assert_str_eq(no.param, c->param, "%s", c->body);
        cr_assert(strstr(no.message, c->says), "%s: '%s'", c->body, no.message);
        cr_assert(strchr(no.message, '\n') == NULL);
        sl_buf_release(&out);
    }
    /* the client's 400 in Anthropic's words */
    struct sl_xlat_refusal no = {"tools[0].type", "server tools are not supported here"};
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_messages_refusal_body(&no, &out), 0);
    cr_assert_str_eq(out.ptr, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                              "\"message\":\"tools[0].type: server tools are not supported "
                              "here\"}}");
    struct sl_xlat_refusal again = {"max_tokens", "max_tokens: field required"};
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_refusal_body(&again, &out), 0);
    cr_assert_str_eq(str(out.ptr, "error.message"), "max_tokens: field required");
    sl_buf_release(&out);
}

Test(messages_front, request_output_is_bounded)
{
    const struct req_case *c = &req_cases[3];
    for (size_t max = 0; max < 1600; max += 7) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        struct sl_messages_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_messages_request(c->anthropic, strlen(c->anthropic), 0, &out, &info, &no);
        cr_assert(rc == 0 || rc == UV_ENOBUFS, "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            cr_assert_str_eq(out.ptr, c->openai);
        sl_buf_release(&out);
    }
}

/* Anthropic -> OpenAI -> (the Anthropic adapter) -> Anthropic: a request in
 * the adapter's own shapes comes back byte for byte. */
Test(messages_front, a_round_trip_through_the_anthropic_adapter_gives_the_request_back)
{
    static const char *const requests[] = {
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":\"Be brief.\","
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What's the "
        "weather in Paris?\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
        "\"input\":{\"location\":\"Paris\"}},{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":"
        "\"now\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
        "\"tool_use_id\":\"toolu_1\",\"content\":\"14C\"},{\"type\":\"tool_result\","
        "\"tool_use_id\":\"toolu_2\",\"content\":\"noon\"},{\"type\":\"text\",\"text\":\"Thanks\"}"
        "]}],\"temperature\":0.5,\"top_p\":0.9,\"stop_sequences\":[\"END\"],\"stream\":true,"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Get the weather\","
        "\"input_schema\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":"
        "\"string\"}}}},{\"name\":\"now\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},\"metadata\":{"
        "\"user_id\":\"u-1\"}}",
        "{\"model\":\"m\",\"max_tokens\":7,\"system\":[{\"type\":\"text\",\"text\":\"A\"},{"
        "\"type\":\"text\",\"text\":\"B\"}],\"messages\":[{\"role\":\"user\",\"content\":[{"
        "\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
        "\"data\":\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
        "\"https://x.org/a.png\"}},{\"type\":\"text\",\"text\":\"Compare\"}]}],\"tool_choice\":{"
        "\"type\":\"none\"}}",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct sl_buf oai, back;
        struct sl_messages_req_info info;
        struct sl_anthropic_req_info ainfo;
        struct sl_xlat_refusal no;
        cr_assert_eq(translate(requests[i], 0, &oai, &info, &no), 0, "%s", no.message);
        struct sl_anthropic_req_opts o = {.default_max_tokens = 1};
        sl_buf_init(&back, 1 << 16);
        int rc = sl_anthropic_request(oai.ptr, oai.len, &o, &back, &ainfo, &no);
        cr_assert_eq(rc, 0, "%s: %s", oai.ptr, no.message);
        cr_assert_str_eq(back.ptr, requests[i], "via %s", oai.ptr);
        cr_assert_eq(ainfo.stream, info.stream);
        cr_assert_eq(ainfo.include_usage, info.stream);
        sl_buf_release(&oai);
        sl_buf_release(&back);
    }
}

/* ---- responses ---- */

static int respond(const char *body, const char *id, const char *model, struct sl_buf *out,
                   struct sl_xlat_usage *u)
{
    sl_buf_init(out, 1 << 16);
    return sl_messages_response(body, strlen(body), id, model, out, u);
}

Test(messages_front, a_chat_completion_becomes_a_message)
{
    /* OpenAI's documented chat.completion example */
    const char *body =
        "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\","
        "\"created\":1741569952,\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I assist you "
        "today?\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":"
        "\"stop\"}],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
        "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}},\"service_tier\":\"default\"}";
    struct sl_buf out;
    struct sl_xlat_usage u;
    cr_assert_eq(respond(body, NULL, NULL, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(out.ptr,
                     "{\"id\":\"msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"type\":\"message\","
                     "\"role\":\"assistant\",\"model\":\"gpt-4.1-2025-04-14\",\"content\":[{"
                     "\"type\":\"text\",\"text\":\"Hello! How can I assist you today?\"}],"
                     "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
                     "\"input_tokens\":19,\"cache_creation_input_tokens\":0,"
                     "\"cache_read_input_tokens\":0,\"output_tokens\":10}}");
    cr_assert_eq(u.prompt, 19);
    cr_assert_eq(u.completion, 10);
    sl_buf_release(&out);
}

Test(messages_front, tool_calls_become_tool_use_blocks)
{
    /* OpenAI's function calling example: two calls, cached prompt tokens */
    const char *body =
        "{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":1699896916,"
        "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_current_weather\",\"arguments\":\"{\\n\\\"location\\\": "
        "\\\"Boston, MA\\\"\\n}\"}},{\"id\":\"call_2\",\"type\":\"function\",\"function\":{"
        "\"name\":\"now\",\"arguments\":\"{not json\"}}]},\"logprobs\":null,\"finish_reason\":"
        "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,"
        "\"total_tokens\":99,\"prompt_tokens_details\":{\"cached_tokens\":64}}}";
    struct sl_buf out;
    struct sl_xlat_usage u;
    cr_assert_eq(respond(body, "msg_gw_1", "claude-alias", &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(out.ptr,
                     "{\"id\":\"msg_gw_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                     "\"claude-alias\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_abc123\","
                     "\"name\":\"get_current_weather\",\"input\":{\n\"location\": \"Boston, "
                     "MA\"\n}},{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"now\","
                     "\"input\":{}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                     "\"usage\":{\"input_tokens\":18,\"cache_creation_input_tokens\":0,"
                     "\"cache_read_input_tokens\":64,\"output_tokens\":17}}");
    cr_assert_eq(u.prompt, 82);
    cr_assert_eq(u.cached, 64);
    sl_buf_release(&out);
}

Test(messages_front, finish_reasons_map_to_stop_reasons)
{
    static const char *const map[][2] = {
        {"\"stop\"", "end_turn"},          {"\"length\"", "max_tokens"},
        {"\"tool_calls\"", "tool_use"},    {"\"function_call\"", "tool_use"},
        {"\"content_filter\"", "refusal"}, {"null", "end_turn"},
        {"\"something_new\"", "end_turn"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"x\"},"
                 "\"finish_reason\":%s}]}",
                 map[i][0]);
        struct sl_buf out;
        cr_assert_eq(respond(body, NULL, "m", &out, NULL), 0);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(str(out.ptr, "stop_reason"), map[i][1], "%s", map[i][0]);
        cr_assert_str_eq(raw(out.ptr, "stop_sequence"), "null");
        sl_buf_release(&out);
    }
    /* vLLM names the stop string; a refusal with no content is a text */
    struct sl_buf out;
    cr_assert_eq(respond("{\"choices\":[{\"message\":{\"content\":\"a\"},\"finish_reason\":"
                         "\"stop\",\"stop_reason\":\"END\"}]}",
                         NULL, "m", &out, NULL),
                 0);
    cr_assert_str_eq(str(out.ptr, "stop_reason"), "stop_sequence");
    cr_assert_str_eq(str(out.ptr, "stop_sequence"), "END");
    cr_assert_str_eq(str(out.ptr, "id"), "msg_");
    sl_buf_release(&out);
    cr_assert_eq(respond("{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"},"
                         "\"finish_reason\":\"content_filter\"}]}",
                         NULL, "m", &out, NULL),
                 0);
    cr_assert_str_eq(raw(out.ptr, "content"), "[{\"type\":\"text\",\"text\":\"I can't\"}]");
    cr_assert_str_eq(str(out.ptr, "stop_reason"), "refusal");
    sl_buf_release(&out);
    /* content parts joined; an empty content is no block */
    cr_assert_eq(respond("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
                         "\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}]}",
                         NULL, "m", &out, NULL),
                 0);
    cr_assert_str_eq(raw(out.ptr, "content"), "[{\"type\":\"text\",\"text\":\"ab\"}]");
    sl_buf_release(&out);
    cr_assert_eq(respond("{\"choices\":[{\"message\":{\"content\":\"\"}}]}", NULL, "m", &out, NULL),
                 0);
    cr_assert_str_eq(raw(out.ptr, "content"), "[]");
    sl_buf_release(&out);
}

Test(messages_front, bodies_that_are_not_chat_completions_are_refused)
{
    static const char *const bad[] = {
        "",
        "<html>",
        "[]",
        "{\"object\":\"list\",\"data\":[]}",
        "{\"object\":\"chat.completion\"}",
        "{\"choices\":[]}",
        "{\"choices\":[{\"index\":0}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"x\"}]}}]}",
        "{\"error\":{\"message\":\"x\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_buf out;
        struct sl_xlat_usage u = {1, 1, 1};
        cr_assert_eq(respond(bad[i], NULL, NULL, &out, &u), UV_EINVAL, "%s", bad[i]);
        sl_buf_release(&out);
    }
}

/* ---- errors ---- */

Test(messages_front, errors_map_to_anthropic_types)
{
    static const struct {
        int status;
        const char *type;
        int answer;
    } map[] = {
        {400, "invalid_request_error", 400},
        {401, "authentication_error", 401},
        {402, "billing_error", 402},
        {403, "permission_error", 403},
        {404, "not_found_error", 404},
        {409, "invalid_request_error", 409},
        {413, "request_too_large", 413},
        {429, "rate_limit_error", 429},
        {500, "api_error", 500},
        {502, "api_error", 502},
        {503, "overloaded_error", 503},
        {504, "timeout_error", 504},
        {529, "overloaded_error", 529},
        {599, "api_error", 599},
        {0, "api_error", 500},
        {200, "api_error", 500},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct sl_messages_error e = sl_messages_error_class(map[i].status, NULL, 0);
        cr_assert_str_eq(e.type, map[i].type, "%d", map[i].status);
        cr_assert_eq(e.status, map[i].answer, "%d", map[i].status);
    }
    /* no status (a stream): OpenAI's type or code decides */
    cr_assert_str_eq(sl_messages_error_class(0, "requests", 8).type, "rate_limit_error");
    cr_assert_str_eq(sl_messages_error_class(0, "invalid_request_error", 21).type,
                     "invalid_request_error");
    cr_assert_str_eq(sl_messages_error_class(0, "server_error", 12).type, "api_error");

    /* OpenAI's documented 429 body: the message carried through */
    const char *body = "{\"error\":{\"message\":\"Rate limit reached for gpt-4o in organization "
                       "org-x on tokens per min (TPM): Limit 30000.\",\"type\":\"tokens\","
                       "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    struct sl_buf out;
    struct sl_messages_error e;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_messages_error(429, body, strlen(body), &out, &e), 0);
    cr_assert_eq(e.status, 429);
    cr_assert_str_eq(out.ptr, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                              "\"message\":\"Rate limit reached for gpt-4o in organization org-x "
                              "on tokens per min (TPM): Limit 30000.\"}}");
    /* a proxy's HTML, a bare string error, a top-level message */
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_error(502, "<html>Bad Gateway</html>", 24, &out, &e), 0);
    cr_assert_str_eq(out.ptr, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                              "\"the upstream answered HTTP 502 without an error message\"}}");
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_error(404, "{\"error\":\"model 'x' not found\"}", 31, &out, &e), 0);
    cr_assert_str_eq(str(out.ptr, "error.message"), "model 'x' not found");
    cr_assert_str_eq(str(out.ptr, "error.type"), "not_found_error");
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_error(400, "{\"message\":\"bad\"}", 17, &out, &e), 0);
    cr_assert_str_eq(str(out.ptr, "error.message"), "bad");
    /* the gateway's own errors, whole and as a stream event */
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_error_body(503, "no deployment \"x\" is available", &out, &e), 0);
    cr_assert_eq(e.status, 503);
    cr_assert_str_eq(out.ptr, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                              "\"message\":\"no deployment \\\"x\\\" is available\"}}");
    sl_buf_reset(&out);
    cr_assert_eq(sl_messages_error_event(500, "the upstream stream was cut", &out), 0);
    cr_assert_str_eq(out.ptr, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                              "\"api_error\",\"message\":\"the upstream stream was cut\"}}\n\n");
    sl_buf_release(&out);
    /* bounded: nothing half written */
    sl_buf_init(&out, 30);
    cr_assert_eq(sl_messages_error_event(500, "the upstream stream was cut", &out), UV_ENOBUFS);
    cr_assert_eq(out.len, 0);
    sl_buf_release(&out);
}

/* ---- streams ---- */

/* OpenAI's documented chunk shapes: the role chunk, text, two tool calls
 * with argument pieces, the finish chunk, the usage chunk, [DONE]. */
#define CHUNK(rest)                                                                                \
    "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"        \
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\"," rest "}"
static const char *const chunks[] = {
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
          "\"logprobs\":null,\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
          "\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"world\\\"\\n\"},"
          "\"logprobs\":null,\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
          "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
          "\"logprobs\":null,\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
          "\"arguments\":\"{\\\"loc\"}}]},\"logprobs\":null,\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
          "\"arguments\":\"ation\\\": \\\"Paris\\\"}\"}}]},\"logprobs\":null,"
          "\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\","
          "\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]},"
          "\"logprobs\":null,\"finish_reason\":null}]"),
    CHUNK("\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
          "\"tool_calls\"}]"),
    CHUNK("\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12,"
          "\"total_tokens\":42,\"prompt_tokens_details\":{\"cached_tokens\":10}}"),
    "[DONE]",
};

#define EV(name, json) "event: " name "\ndata: " json "\n\n"
static const char expected_events[] = EV(
    "message_start",
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_chatcmpl-123\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"gpt-4o-mini\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":0,\"output_tokens\":0}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{"
                              "\"type\":\"text\",\"text\":\"\"}}")
        EV("content_block_delta",
           "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
           "\"text_delta\",\"text\":\"Hello\"}}")
            EV("content_block_delta",
               "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
               "\"text_delta\",\"text\":\" \\\"world\\\"\\n\"}}")
                EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}") EV(
                    "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{"
                    "\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\","
                    "\"input\":{}}}") EV("content_block_delta",
                                         "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{"
                                         "\"type\":"
                                         "\"input_json_delta\",\"partial_json\":\"{\\\"loc\"}}")
                    EV("content_block_delta",
                       "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                       "\"input_json_delta\",\"partial_json\":\"ation\\\": "
                       "\\\"Paris\\\"}\"}}") EV("content_block_stop",
                                                "{\"type\":\"content_block_stop\",\"index\":1}")
                        EV("content_block_start",
                           "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{"
                           "\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"now\","
                           "\"input\":{}}}")
                            EV("content_block_delta",
                               "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
                               "\"input_json_delta\",\"partial_json\":\"{}\"}}")
                                EV("content_block_stop",
                                   "{\"type\":\"content_block_stop\",\"index\":2}")
                                    EV("message_delta",
                                       "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                                       "\"tool_use\","
                                       "\"stop_sequence\":null},\"usage\":{\"input_tokens\":20,"
                                       "\"cache_creation_input_tokens\":0,\"cache_read_input_"
                                       "tokens\":10,"
                                       "\"output_tokens\":12}}")
                                        EV("message_stop", "{\"type\":\"message_stop\"}");

static void feed(struct sl_messages_stream *s, const char *const *in, size_t n, struct sl_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int rc = sl_messages_stream_event(s, in[i], strlen(in[i]), out);
        cr_assert_eq(rc, 0, "chunk %zu: %d", i, rc);
    }
}

Test(messages_front, a_stream_becomes_the_exact_anthropic_event_sequence)
{
    struct sl_messages_stream s;
    struct sl_buf out;
    sl_messages_stream_init(&s, NULL, NULL);
    sl_buf_init(&out, 1 << 16);
    size_t n = sizeof(chunks) / sizeof(chunks[0]);
    feed(&s, chunks, n - 2, &out); /* up to the finish chunk: message_delta waits */
    cr_assert_eq(s.state, SL_MS_FINISHING);
    cr_assert_eq(sl_messages_stream_end(&s), UV_EOF);
    feed(&s, chunks + n - 2, 2, &out);
    cr_assert_str_eq(out.ptr, expected_events);
    cr_assert_eq(s.state, SL_MS_DONE);
    cr_assert_eq(sl_messages_stream_end(&s), 0);
    cr_assert_eq(s.usage.prompt, 30);
    cr_assert_eq(s.usage.cached, 10);
    cr_assert_eq(s.usage.completion, 12);
    /* every event's data is one JSON object whose type is the event's name */
    for (const char *p = out.ptr; (p = strstr(p, "data: ")) != NULL; p++) {
        const char *end = strstr(p, "\n\n");
        assert_json(p + 6, (size_t)(end - p - 6));
    }
    /* after the end: nothing */
    size_t len = out.len;
    cr_assert_eq(sl_messages_stream_event(&s, chunks[1], strlen(chunks[1]), &out), 0);
    cr_assert_eq(out.len, len);
    sl_buf_release(&out);
}

Test(messages_front, done_without_usage_ends_the_message_and_names_are_the_callers)
{
    static const char *const in[] = {
        "{\"id\":\"c\",\"model\":\"up\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
        "{\"id\":\"c\",\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}",
        "[DONE]",
    };
    struct sl_messages_stream s;
    struct sl_buf out;
    sl_messages_stream_init(&s, "msg_gw\"1", "claude-alias");
    sl_buf_init(&out, 1 << 16);
    feed(&s, in, 3, &out);
    cr_assert_eq(s.state, SL_MS_DONE);
    cr_assert(strstr(out.ptr, "\"id\":\"msg_gw\\\"1\",\"type\":\"message\",\"role\":\"assistant\","
                              "\"model\":\"claude-alias\""));
    cr_assert(strstr(out.ptr, EV("content_block_stop", "{\"type\":\"content_block_stop\","
                                                       "\"index\":0}")
                                  EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
                                                      "\"stop_reason\":\"max_tokens\","
                                                      "\"stop_sequence\":null},\"usage\":{"
                                                      "\"output_tokens\":0}}")
                                      EV("message_stop", "{\"type\":\"message_stop\"}")),
              "%s", out.ptr);
    sl_buf_release(&out);

    /* a refusal streamed apart is text */
    static const char *const refusal[] = {
        "{\"choices\":[{\"delta\":{\"content\":null,\"refusal\":\"I can't\"}}]}",
        "{\"choices\":[{\"delta\":{},\"finish_reason\":\"content_filter\"}]}", "[DONE]"};
    sl_messages_stream_init(&s, NULL, "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, refusal, 3, &out);
    cr_assert(strstr(out.ptr, "\"id\":\"msg_\","));
    cr_assert(strstr(out.ptr, "{\"type\":\"text_delta\",\"text\":\"I can't\"}"));
    cr_assert(strstr(out.ptr, "\"stop_reason\":\"refusal\""));
    sl_buf_release(&out);

    /* [DONE] alone: a whole empty message; finish and usage in one chunk */
    static const char *const lone[] = {"[DONE]"};
    sl_messages_stream_init(&s, NULL, "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, lone, 1, &out);
    cr_assert_eq(s.state, SL_MS_DONE);
    cr_assert(strstr(out.ptr, "event: message_start") == out.ptr);
    cr_assert(strstr(out.ptr, "\"stop_reason\":\"end_turn\""));
    sl_buf_release(&out);
    static const char *const one[] = {
        "{\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\","
        "\"stop_reason\":\"END\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}"};
    sl_messages_stream_init(&s, NULL, "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, one, 1, &out);
    cr_assert_eq(s.state, SL_MS_DONE);
    cr_assert(strstr(out.ptr, "{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"END\"}"));
    cr_assert(strstr(out.ptr, "\"input_tokens\":3,"));
    sl_buf_release(&out);
}

Test(messages_front, text_after_a_tool_call_opens_a_new_block)
{
    static const char *const in[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"after\"}}]}",
    };
    struct sl_messages_stream s;
    struct sl_buf out;
    sl_messages_stream_init(&s, "i", "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, in, 2, &out);
    /* a call without an id gets one: Anthropic requires it */
    cr_assert(strstr(out.ptr, "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_0\","
                              "\"name\":\"f\",\"input\":{}}"));
    cr_assert(strstr(out.ptr, EV("content_block_stop", "{\"type\":\"content_block_stop\","
                                                       "\"index\":0}")
                                  EV("content_block_start", "{\"type\":\"content_block_start\","
                                                            "\"index\":1,\"content_block\":{"
                                                            "\"type\":\"text\",\"text\":\"\"}}")));
    cr_assert_eq(sl_messages_stream_end(&s), UV_EOF); /* cut here */
    sl_buf_release(&out);

    /* calls all numbered 0, told apart by their ids; an id repeated in every
     * delta is the same call */
    static const char *const zero[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{"
        "\"name\":\"f\",\"arguments\":\"{\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{"
        "\"arguments\":\"}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"b\",\"function\":{"
        "\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}",
    };
    sl_messages_stream_init(&s, "i", "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, zero, 3, &out);
    cr_assert(strstr(out.ptr, "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":"
                              "\"b\",\"name\":\"g\""),
              "%s", out.ptr);
    cr_assert(strstr(out.ptr, "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":\"}\"}"));
    sl_buf_release(&out);
}

Test(messages_front, an_error_chunk_becomes_an_error_event_and_ends_the_stream)
{
    static const char *const in[] = {
        "{\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
        "{\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,"
        "\"code\":\"overloaded\"}}",
        "{\"choices\":[{\"delta\":{\"content\":\"more\"}}]}",
    };
    struct sl_messages_stream s;
    struct sl_buf out;
    sl_messages_stream_init(&s, "i", "m");
    sl_buf_init(&out, 1 << 16);
    feed(&s, in, 3, &out);
    cr_assert_eq(s.state, SL_MS_FAILED);
    cr_assert_eq(s.err, SL_E_UNAVAILABLE);
    cr_assert_eq(sl_messages_stream_end(&s), 0);
    const char *tail = EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                   "\"message\":\"Overloaded\"}}");
    cr_assert_str_eq(out.ptr + out.len - strlen(tail), tail);
    sl_buf_release(&out);
}

Test(messages_front, broken_streams_end_with_an_error_event)
{
    static const char *const broken[][2] = {
        {"not json", NULL},
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
         "\"{}\"}}]}}]}",
         NULL},
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":\"f\"}}]}}"
         "]}",
         "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"g\"}}]}}"
         "]}"},
        {"{\"choices\":[7]}", NULL},
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        struct sl_messages_stream s;
        struct sl_buf out;
        sl_messages_stream_init(&s, "i", "m");
        sl_buf_init(&out, 1 << 16);
        int rc = 0;
        for (int j = 0; j < 2 && broken[i][j] && rc == 0; j++)
            rc = sl_messages_stream_event(&s, broken[i][j], strlen(broken[i][j]), &out);
        cr_assert_eq(rc, UV_EPROTO, "%s", broken[i][0]);
        cr_assert_eq(s.state, SL_MS_FAILED);
        cr_assert_eq(s.err, SL_E_BAD_GATEWAY);
        cr_assert(strstr(out.ptr, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                  "\"api_error\",\"message\":\"the upstream stream broke off: "),
                  "%s", out.ptr);
        sl_buf_release(&out);
    }
}

Test(messages_front, stream_output_is_bounded_per_event)
{
    size_t n = sizeof(chunks) / sizeof(chunks[0]);
    for (size_t max = 0; max < sizeof(expected_events) + 16; max += 13) {
        struct sl_messages_stream s;
        struct sl_buf out;
        sl_messages_stream_init(&s, NULL, NULL);
        sl_buf_init(&out, max);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = sl_messages_stream_event(&s, chunks[i], strlen(chunks[i]), &out);
        cr_assert(rc == 0 || rc == UV_ENOBUFS, "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc) {
            cr_assert_eq(s.state, SL_MS_FAILED);
            cr_assert_eq(s.err, SL_E_TOO_LARGE);
        }
        /* whole events only: what was written is a prefix of the full sequence
         * ending at an event's end */
        cr_assert(out.len == 0 || memcmp(out.ptr, expected_events, out.len) == 0);
        cr_assert(out.len == 0 || (out.len >= 2 && memcmp(out.ptr + out.len - 2, "\n\n", 2) == 0));
        sl_buf_release(&out);
    }
}

/* ---- native pass-through ---- */

Test(messages_front, the_usage_of_an_anthropic_message)
{
    const char *msg =
        "{\"content\":[{\"text\":\"Hi! My name is Claude.\",\"type\":\"text\"}],\"id\":"
        "\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"model\":\"claude-sonnet-4-5\",\"role\":\"assistant\","
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"type\":\"message\",\"usage\":{"
        "\"input_tokens\":2095,\"output_tokens\":503,\"cache_read_input_tokens\":100,"
        "\"cache_creation_input_tokens\":5}}";
    struct sl_xlat_usage u;
    cr_assert_eq(sl_anthropic_usage_scan(msg, strlen(msg), &u), 0);
    cr_assert_eq(u.prompt, 2200);
    cr_assert_eq(u.completion, 503);
    cr_assert_eq(u.cached, 100);
    const char *err = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}";
    cr_assert_eq(sl_anthropic_usage_scan(err, strlen(err), &u), UV_EINVAL);
    cr_assert_eq(sl_anthropic_usage_scan("nope", 4, &u), UV_EINVAL);
    cr_assert_eq(u.prompt, 0);
}

static void scan(struct sl_anthropic_scan *s, const char *text)
{
    /* as the SSE parser hands them over: (name, data) of each event */
    sl_anthropic_scan_init(s);
    for (const char *e = text; (e = strstr(e, "event: ")) != NULL;) {
        const char *name = e + 7, *nl = strchr(name, '\n');
        const char *data = nl + 7, *end = strstr(data, "\n\n");
        sl_anthropic_scan_event(s, name, (size_t)(nl - name), data, (size_t)(end - data));
        e = end;
    }
}

Test(messages_front, the_anthropic_stream_scanner_reads_usage_and_the_end)
{
    /* Anthropic's documented streaming example */
    const char *stream =
        "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": "
        "\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": "
        "\"assistant\", \"content\": [], \"model\": \"claude-opus-4-1\", \"stop_reason\": null, "
        "\"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
        "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, "
        "\"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, "
        "\"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
        "event: message_delta\ndata: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": "
        "\"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
        "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";
    struct sl_anthropic_scan s;
    scan(&s, stream);
    cr_assert_eq(s.state, SL_ASCAN_DONE);
    cr_assert_eq(sl_anthropic_scan_end(&s), 0);
    cr_assert_eq(s.usage.prompt, 25);
    cr_assert_eq(s.usage.completion, 15);

    /* cut before message_stop */
    char cut[2048];
    snprintf(cut, sizeof(cut), "%.*s", (int)(strstr(stream, "event: message_stop") - stream),
             stream);
    scan(&s, cut);
    cr_assert_eq(sl_anthropic_scan_end(&s), UV_EOF);
    cr_assert_eq(s.usage.completion, 15);

    /* an error event */
    scan(&s, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{"
             "\"input_tokens\":9}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": "
             "{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
    cr_assert_eq(s.state, SL_ASCAN_FAILED);
    cr_assert_eq(s.err, SL_E_UNAVAILABLE);
    cr_assert_eq(sl_anthropic_scan_end(&s), 0);
    cr_assert_eq(s.usage.prompt, 9);
}

/* ---- round trips through the Anthropic adapter's response side ---- */

Test(messages_front, a_completion_survives_the_round_trip_through_the_anthropic_adapter)
{
    const char *body =
        "{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":1699896916,"
        "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"Let me check.\",\"refusal\":null,\"tool_calls\":[{\"id\":\"call_1\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"location\\\":\\\"Boston, MA\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":"
        "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,"
        "\"total_tokens\":99,\"prompt_tokens_details\":{\"cached_tokens\":64}}}";
    struct sl_buf msg, back;
    struct sl_xlat_usage u1, u2;
    cr_assert_eq(respond(body, NULL, NULL, &msg, &u1), 0);
    sl_buf_init(&back, 1 << 16);
    cr_assert_eq(sl_anthropic_response(msg.ptr, msg.len, NULL, 1699896916, &back, &u2), 0);
    cr_assert_str_eq(
        back.ptr, "{\"id\":\"msg_chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":"
                  "1699896916,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
                  "\"role\":\"assistant\",\"content\":\"Let me check.\",\"refusal\":null,"
                  "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
                  "\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Boston, "
                  "MA\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{"
                  "\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":64}}}");
    cr_assert(u1.prompt == u2.prompt && u1.completion == u2.completion && u1.cached == u2.cached);
    sl_buf_release(&msg);
    sl_buf_release(&back);
}

static void on_anthropic_event(void *arg, const struct sl_sse_event *ev)
{
    void **a = arg;
    cr_assert_eq(
        sl_anthropic_stream_event(a[0], ev->event, ev->event_len, ev->data, ev->data_len, a[1]), 0);
}

Test(messages_front, a_stream_survives_the_round_trip_through_the_anthropic_adapter)
{
    /* the exact events of the stream test, read back by the Anthropic
     * adapter: the same text, calls, finish and usage in OpenAI's chunks */
    struct sl_anthropic_stream as;
    struct sl_buf back;
    struct sl_sse_parser p;
    sl_anthropic_stream_init(&as, NULL, 1694268190, 1);
    sl_buf_init(&back, 1 << 16);
    void *arg[2] = {&as, &back};
    sl_sse_parser_init(&p, 1 << 16, on_anthropic_event, arg);
    cr_assert_eq(sl_sse_parser_feed(&p, expected_events, strlen(expected_events)), 0);
    sl_sse_parser_release(&p);
    cr_assert_eq(as.state, SL_AS_DONE);
    cr_assert_eq(as.usage.prompt, 30);
    cr_assert_eq(as.usage.cached, 10);
    cr_assert_eq(as.usage.completion, 12);
    static const char *const parts[] = {
        "\"delta\":{\"content\":\"Hello\"}",
        "\"delta\":{\"content\":\" \\\"world\\\"\\n\"}",
        "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
        "\"name\":\"get_weather\",\"arguments\":\"\"}}]",
        "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"loc\"}}]",
        "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ation\\\": \\\"Paris\\\"}\"}}]",
        "\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{"
        "\"name\":\"now\",\"arguments\":\"\"}}]",
        "\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]",
        "\"finish_reason\":\"tool_calls\"",
        "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12,\"total_tokens\":42,"
        "\"prompt_tokens_details\":{\"cached_tokens\":10}}",
        "data: [DONE]\n\n",
    };
    const char *at = back.ptr;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        const char *found = strstr(at, parts[i]);
        cr_assert(found, "%s not after %s", parts[i], at);
        at = found + strlen(parts[i]);
    }
    sl_buf_release(&back);
}
