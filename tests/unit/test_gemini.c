/* The Gemini adapter (src/providers/gemini*.c) as tables: requests,
 * responses, streams, errors and embeddings from Google's documented
 * examples (ai.google.dev/api/generate-content, the function calling and
 * structured output guides) and OpenAI's, each output checked to be one
 * valid JSON value (the repo's scanner) and then checked field by field or
 * byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "chunk_client.h"
#include "json_at.h"
#include "http/sse.h"
#include "providers/gemini.h"

/* ---- requests ---- */

struct req_case {
    const char *name;
    const char *openai;
    const char *gemini;
};

static const struct req_case req_cases[] = {
    {"a system message and a user message (the text generation guide's example)",
     "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a "
     "cat. Your name is Neko.\"},{\"role\":\"user\",\"content\":\"Hello there\"}]}",
     "{\"systemInstruction\":{\"parts\":[{\"text\":\"You are a cat. Your name is Neko.\"}]},"
     "\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hello there\"}]}]}"},
    {"sampling, stop as a string, penalties, seed, n 1, user and stream dropped from the body",
     "{\"model\":\"m\",\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.9,\"stop\":\"\\n\\n\","
     "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u-42\",\"n\":1,"
     "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"frequency_penalty\":0.5,"
     "\"presence_penalty\":-0.25,\"seed\":7,\"parallel_tool_calls\":false}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"generationConfig\":{"
     "\"temperature\":0.7,\"topP\":0.9,\"maxOutputTokens\":1024,\"stopSequences\":[\"\\n\\n\"],"
     "\"candidateCount\":1,\"seed\":7,\"presencePenalty\":-0.25,\"frequencyPenalty\":0.5}}"},
    {"several system and developer texts; stop array; max_completion_tokens the larger",
     "{\"model\":\"m\",\"max_tokens\":100,\"max_completion_tokens\":300,\"temperature\":1.5,"
     "\"stop\":[\"END\",\"\",\"STOP\"],\"messages\":[{\"role\":\"system\",\"content\":\"A\"},{"
     "\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"B\"},{\"type\":\"text\","
     "\"text\":\"C\"}]},{\"role\":\"user\",\"content\":\"Q\"}]}",
     "{\"systemInstruction\":{\"parts\":[{\"text\":\"A\"},{\"text\":\"B\"},{\"text\":\"C\"}]},"
     "\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Q\"}]}],\"generationConfig\":{"
     "\"temperature\":1.5,\"maxOutputTokens\":300,\"stopSequences\":[\"END\",\"STOP\"]}}"},
    {"image_url parts: https URLs (MIME type from the extension) and a base64 data URL",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
     "\"What is in these images?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
     "\"https://upload.wikimedia.org/a.PNG?x=1\",\"detail\":\"high\"}},{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/webp;base64,UklGRg==\"}},{\"type\":\"image_url\","
     "\"image_url\":\"https:\\/\\/x.org\\/photo\"}]}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"What is in these images?\"},{"
     "\"fileData\":{\"mimeType\":\"image/png\",\"fileUri\":\"https://upload.wikimedia.org/"
     "a.PNG?x=1\"}},{\"inlineData\":{\"mimeType\":\"image/webp\",\"data\":\"UklGRg==\"}},{"
     "\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"https:\\/\\/x.org\\/photo\"}}]}]}"},
    {"a multi-turn chat (the chat guide's example): assistant is model; consecutive user "
     "messages merged; empty texts left out",
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"},{\"role\":"
     "\"assistant\",\"content\":\"Great to meet you. What would you like to know?\"},{\"role\":"
     "\"user\",\"content\":\"\"},{\"role\":\"user\",\"content\":\"I have two dogs in my house.\"},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"How many paws are in my "
     "house?\"}]}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hello\"}]},{\"role\":\"model\","
     "\"parts\":[{\"text\":\"Great to meet you. What would you like to know?\"}]},{\"role\":"
     "\"user\",\"parts\":[{\"text\":\"I have two dogs in my house.\"},{\"text\":\"How many paws "
     "are in my house?\"}]}]}"},
    {"a tool call round trip (the function calling guide's lights example): tools with a strict "
     "schema, tool_choice required, tool results found by id and merged into one user turn",
     "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"set_light_values\",\"description\":\"Sets the brightness and color temperature of a "
     "light.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"brightness\":{\"type\":"
     "\"integer\",\"description\":\"Light level from 0 to 100.\"},\"color_temp\":{\"type\":"
     "\"string\",\"enum\":[\"daylight\",\"cool\",\"warm\"]}},\"required\":[\"brightness\","
     "\"color_temp\"],\"additionalProperties\":false},\"strict\":true}},{\"type\":\"function\","
     "\"function\":{\"name\":\"now\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
     "\"tool_choice\":\"required\",\"messages\":[{\"role\":\"user\",\"content\":\"Dim the "
     "lights so the room feels cozy and warm.\"},{\"role\":\"assistant\",\"content\":null,"
     "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
     "\"set_light_values\",\"arguments\":\"{\\\"brightness\\\": 25, \\\"color_temp\\\": "
     "\\\"warm\\\"}\"}},{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"now\","
     "\"arguments\":\"\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
     "\"{\\\"brightness\\\": 25, \\\"colorTemperature\\\": \\\"warm\\\"}\"},{\"role\":\"tool\","
     "\"tool_call_id\":\"call_2\",\"content\":\"noon\"},{\"role\":\"user\",\"content\":"
     "\"Thanks\"}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Dim the lights so the room feels "
     "cozy and warm.\"}]},{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
     "\"set_light_values\",\"args\":{\"brightness\": 25, \"color_temp\": \"warm\"}}},{"
     "\"functionCall\":{\"name\":\"now\",\"args\":{}}}]},{\"role\":\"user\",\"parts\":[{"
     "\"functionResponse\":{\"name\":\"set_light_values\",\"response\":{\"brightness\": 25, "
     "\"colorTemperature\": \"warm\"}}},{\"functionResponse\":{\"name\":\"now\",\"response\":{"
     "\"content\":\"noon\"}}},{\"text\":\"Thanks\"}]}],\"tools\":[{\"functionDeclarations\":[{"
     "\"name\":\"set_light_values\",\"description\":\"Sets the brightness and color temperature "
     "of a light.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"brightness\":{"
     "\"type\":\"integer\",\"description\":\"Light level from 0 to 100.\"},\"color_temp\":{"
     "\"type\":\"string\",\"enum\":[\"daylight\",\"cool\",\"warm\"]}},\"required\":["
     "\"brightness\",\"color_temp\"]}},{\"name\":\"now\"}]}],\"toolConfig\":{"
     "\"functionCallingConfig\":{\"mode\":\"ANY\"}}}"},
    {"tool_choice naming a function; an assistant text with its tool call; tool content as "
     "text parts and null",
     "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},\"messages\":[{"
     "\"role\":\"user\",\"content\":\"go\"},{\"role\":\"assistant\",\"content\":\"Calling f.\","
     "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"arguments\":\"{}\"}},{\"id\":\"d\",\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"arguments\":\"{\\\"x\\\":1}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\\\"\"}]},{\"role\":"
     "\"tool\",\"tool_call_id\":\"d\",\"content\":null}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"go\"}]},{\"role\":\"model\","
     "\"parts\":[{\"text\":\"Calling f.\"},{\"functionCall\":{\"name\":\"f\",\"args\":{}}},{"
     "\"functionCall\":{\"name\":\"f\",\"args\":{\"x\":1}}}]},{\"role\":\"user\",\"parts\":[{"
     "\"functionResponse\":{\"name\":\"f\",\"response\":{\"content\":\"ab\\\"\"}}},{"
     "\"functionResponse\":{\"name\":\"f\",\"response\":{\"content\":\"\"}}}]}],\"tools\":[{"
     "\"functionDeclarations\":[{\"name\":\"f\"}]}],\"toolConfig\":{\"functionCallingConfig\":"
     "{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"f\"]}}}"},
    {"tool_choice none and auto; null and false fields dropped; response_format text",
     "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":\"none\",\"logprobs\":false,\"top_logprobs\":0,\"stop\":null,"
     "\"temperature\":null,\"response_format\":{\"type\":\"text\"},\"messages\":[{\"role\":"
     "\"user\",\"content\":\"x\"}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],\"tools\":[{"
     "\"functionDeclarations\":[{\"name\":\"f\"}]}],\"toolConfig\":{\"functionCallingConfig\":{"
     "\"mode\":\"NONE\"}}}"},
    {"response_format json_object",
     "{\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"},\"tool_choice\":\"none\","
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],\"generationConfig\":{"
     "\"responseMimeType\":\"application/json\"}}"},
    {"response_format json_schema (the structured output guide's recipe schema, as OpenAI's "
     "strict mode sends it): additionalProperties false dropped, a nullable type list",
     "{\"model\":\"m\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
     "\"recipes\",\"strict\":true,\"schema\":{\"$schema\":\"http://json-schema.org/draft-07/"
     "schema#\",\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
     "\"recipe_name\":{\"type\":\"string\"},\"ingredients\":{\"type\":\"array\",\"items\":{"
     "\"type\":\"string\"}},\"note\":{\"type\":[\"string\",\"null\"]},\"kind\":{\"const\":"
     "\"dessert\"}},\"required\":[\"recipe_name\",\"ingredients\"],\"propertyOrdering\":["
     "\"recipe_name\",\"ingredients\"],\"additionalProperties\":false}}}},\"messages\":[{"
     "\"role\":\"user\",\"content\":\"List a few popular cookie recipes.\"}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"List a few popular cookie "
     "recipes.\"}]}],\"generationConfig\":{\"responseMimeType\":\"application/json\","
     "\"responseSchema\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
     "\"recipe_name\":{\"type\":\"string\"},\"ingredients\":{\"type\":\"array\",\"items\":{"
     "\"type\":\"string\"}},\"note\":{\"type\":\"string\",\"nullable\":true},\"kind\":{\"enum\":"
     "[\"dessert\"]}},\"required\":[\"recipe_name\",\"ingredients\"],\"propertyOrdering\":["
     "\"recipe_name\",\"ingredients\"]}}}}"},
};

Test(gemini, requests_translate_to_the_documented_shapes)
{
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_gemini_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_gemini_request(c->openai, strlen(c->openai), &out, &info, &no);
        cr_assert_eq(rc, 0, "%s: %d %s: %s", c->name, rc, no.param, no.message);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(out.ptr, c->gemini, "%s", c->name);
        sl_buf_release(&out);
    }
}

Test(gemini, request_info)
{
    const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{"
                       "\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"hi\"}]}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_gemini_req_info info;
    struct sl_xlat_refusal no;
    cr_assert_eq(sl_gemini_request(body, strlen(body), &out, &info, &no), 0);
    cr_assert(info.stream && info.include_usage);
    cr_assert_str_eq(raw(out.ptr, "model"), "(none)"); /* in the URL */
    cr_assert_str_eq(raw(out.ptr, "stream"), "(none)");
    sl_buf_reset(&out);
    body =
        "{\"model\":\"x\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    cr_assert_eq(sl_gemini_request(body, strlen(body), &out, &info, &no), 0);
    cr_assert(!info.stream && !info.include_usage);
    sl_buf_release(&out);
}

struct refusal_case {
    const char *body;
    const char *param;
    const char *says;
};

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define TOOL "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
#define RF   "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":"
static const struct refusal_case refusals[] = {
    {"{\"model\":\"m\",\"n\":2," MSGS "}", "n", "n must be 1"},
    {"{\"model\":\"m\",\"logprobs\":true," MSGS "}", "logprobs", "not supported"},
    {"{\"model\":\"m\",\"top_logprobs\":3," MSGS "}", "top_logprobs", "not supported"},
    {"{\"model\":\"m\",\"audio\":{\"voice\":\"alloy\"}," MSGS "}", "audio", "not supported"},
    {"{\"model\":\"m\",\"functions\":[]," MSGS "}", "functions", "not supported"},
    {"{\"model\":\"m\",\"function_call\":\"auto\"," MSGS "}", "function_call", "not supported"},
    {"{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens", "positive integer"},
    {"{\"model\":\"m\",\"max_completion_tokens\":1.5," MSGS "}", "max_completion_tokens",
     "positive integer"},
    {"{\"model\":\"m\",\"stop\":[1]," MSGS "}", "stop", "array of strings"},
    {"{\"model\":\"m\",\"temperature\":\"hot\"," MSGS "}", "temperature", "number"},
    {"{\"model\":\"m\",\"top_p\":[]," MSGS "}", "top_p", "number"},
    {"{\"model\":\"m\",\"presence_penalty\":true," MSGS "}", "presence_penalty", "number"},
    {"{\"model\":\"m\",\"seed\":1.5," MSGS "}", "seed", "32-bit integer"},
    {"{\"model\":\"m\",\"seed\":9999999999," MSGS "}", "seed", "32-bit integer"},
    {"{\"model\":\"m\",\"seed\":\"1\"," MSGS "}", "seed", "integer"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"only\"}]}", "messages",
     "at least one"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\",\"content\":\"x\"}]}",
     "messages[0].role", "'function'"},
    {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "messages[0].role", "object with a role"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
     "\"input_audio\":{}}]}]}",
     "messages[0].content[0].type", "'input_audio'"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://a\"}}]}"
     "]}",
     "messages[1].content[0].type", "'image_url'"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content",
     "string or an array"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
     "messages[0].content[0]", "base64"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"detail\":\"low\"}}]}]}",
     "messages[0].content[0]", "string url"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
     "\"f\",\"arguments\":\"{not json\"}}]}]}",
     "messages[1].tool_calls[0]", "JSON object"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}]}",
     "messages[1].tool_calls[0]", "an id"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"function_call\":{\"name\":\"f\"}}]}",
     "messages[1].function_call", "deprecated"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
     "messages[0].tool_call_id", "tool_call_id"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":"
     "\"x\"}]}",
     "messages[0].tool_call_id", "no earlier assistant tool call"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]},"
     "{\"role\":\"user\",\"content\":\"x\"}]}",
     "messages[0].content", "text parts only"},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"code_interpreter\"}]," MSGS "}", "tools[0].type",
     "only function tools"},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\"}]," MSGS "}", "tools[0]", "with a name"},
    {"{\"model\":\"m\"," TOOL
     "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/x\"}}}}}]," MSGS "}",
     "tools[0].function.parameters", "'$ref'"},
    {"{\"model\":\"m\"," TOOL "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\"}},"
     "\"additionalProperties\":{\"type\":\"string\"}}}}]," MSGS "}",
     "tools[0].function.parameters", "'additionalProperties'"},
    {"{\"model\":\"m\"," TOOL "[]}}]," MSGS "}", "tools[0].function.parameters", "schema object"},
    {"{\"model\":\"m\",\"tool_choice\":\"sometimes\",\"tools\":[{\"type\":\"function\","
     "\"function\":{\"name\":\"f\"}}]," MSGS "}",
     "tool_choice", "auto, none, required"},
    {"{\"model\":\"m\",\"tool_choice\":\"required\"," MSGS "}", "tool_choice", "needs tools"},
    {"{\"model\":\"m\",\"response_format\":{\"type\":\"grammar\"}," MSGS "}",
     "response_format.type", "not supported"},
    {"{\"model\":\"m\",\"response_format\":\"json\"," MSGS "}", "response_format", "with a type"},
    {"{\"model\":\"m\"," RF "{\"oneOf\":[{\"type\":\"string\"}]}}}," MSGS "}",
     "response_format.json_schema.schema", "'oneOf'"},
    {"{\"model\":\"m\"," RF "{\"type\":[\"string\",\"integer\"]}}}," MSGS "}",
     "response_format.json_schema.schema", "type list"},
    {"{\"model\":\"m\"," RF "{\"type\":\"object\",\"$defs\":{}}}}," MSGS "}",
     "response_format.json_schema.schema", "'$defs'"},
    {"[1,2]", "", "not a JSON object"},
    {"{\"messages\":[]}", "model", "model"},
    {"{\"model\":\"m\"}", "messages", "required"},
};

Test(gemini, unsupported_requests_are_refused_with_the_field_named)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal_case *c = &refusals[i];
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_gemini_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_gemini_request(c->body, strlen(c->body), &out, &info, &no);
        cr_assert_eq(rc, UV_EINVAL, "%s: %d", c->body, rc);
        cr_assert_str_eq(no.param, c->param, "%s", c->body);
        cr_assert(strstr(no.message, c->says), "%s: '%s'", c->body, no.message);
        cr_assert(strchr(no.message, '\n') == NULL);
        sl_buf_release(&out);
    }
}

Test(gemini, request_output_is_bounded)
{
    const struct req_case *c = &req_cases[5];
    for (size_t max = 0; max < 1600; max += 7) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        struct sl_gemini_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_gemini_request(c->openai, strlen(c->openai), &out, &info, &no);
        cr_assert(rc == 0 || rc == UV_ENOBUFS, "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            cr_assert_str_eq(out.ptr, c->gemini);
        sl_buf_release(&out);
    }
}

Test(gemini, paths_carry_the_model)
{
    char p[128];
    cr_assert_eq(sl_gemini_path(p, sizeof(p), "gemini-2.5-flash", SL_GEMINI_GENERATE), 40);
    cr_assert_str_eq(p, "/models/gemini-2.5-flash:generateContent");
    sl_gemini_path(p, sizeof(p), "models/gemini-2.0-flash-001", SL_GEMINI_STREAM);
    cr_assert_str_eq(p, "/models/gemini-2.0-flash-001:streamGenerateContent?alt=sse");
    sl_gemini_path(p, sizeof(p), "text-embedding-004", SL_GEMINI_EMBED_BATCH);
    cr_assert_str_eq(p, "/models/text-embedding-004:batchEmbedContents");
    cr_assert_eq(sl_gemini_path(p, sizeof(p), "", SL_GEMINI_GENERATE), UV_EINVAL);
    cr_assert_eq(sl_gemini_path(p, sizeof(p), "models/", SL_GEMINI_GENERATE), UV_EINVAL);
    cr_assert_eq(sl_gemini_path(p, sizeof(p), "a/b", SL_GEMINI_GENERATE), UV_EINVAL);
    cr_assert_eq(sl_gemini_path(p, sizeof(p), "a?key=x", SL_GEMINI_GENERATE), UV_EINVAL);
    cr_assert_eq(sl_gemini_path(p, 20, "gemini-2.5-flash", SL_GEMINI_GENERATE), UV_ENOBUFS);
}

/* ---- responses ---- */

Test(gemini, a_text_response_becomes_a_chat_completion)
{
    /* the API reference's generateContent response */
    const char *resp =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"AI learns patterns from data\"},"
        "{\"text\":\" to make predictions.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\","
        "\"avgLogprobs\":-0.21,\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,"
        "\"candidatesTokenCount\":10,\"totalTokenCount\":41,\"thoughtsTokenCount\":23,"
        "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}]},\"modelVersion\":"
        "\"gemini-2.5-flash\",\"responseId\":\"mAitaLmkHPPlz7IPvtfUqQ4\"}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), NULL, 1700000000, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(
        out.ptr, "{\"id\":\"mAitaLmkHPPlz7IPvtfUqQ4\",\"object\":\"chat.completion\",\"created\":"
                 "1700000000,\"model\":\"gemini-2.5-flash\",\"choices\":[{\"index\":0,\"message\":{"
                 "\"role\":\"assistant\",\"content\":\"AI learns patterns from data to make "
                 "predictions.\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                 "\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":33,\"total_tokens\":41,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":0}}}");
    cr_assert_eq(u.prompt, 8);
    cr_assert_eq(u.completion, 33);
    sl_buf_release(&out);
}

Test(gemini, function_calls_become_tool_calls)
{
    /* the function calling guide's parallel calls, with a thought and a text */
    const char *resp =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"thinking...\","
        "\"thought\":true},{\"text\":\"Setting up the party.\"},{\"functionCall\":{\"name\":"
        "\"power_disco_ball\",\"args\":{\"power\": true}},\"thoughtSignature\":\"CiIB\"},{"
        "\"functionCall\":{\"name\":\"start_music\",\"args\":{\"energetic\":true,\"loud\":true,"
        "\"note\":\"a \\\"b\\\"\"}}},{\"functionCall\":{\"args\":{}}},{\"functionCall\":{\"name\":"
        "\"dim_lights\"}}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
        "\"promptTokenCount\":100,\"candidatesTokenCount\":50,\"cachedContentTokenCount\":64,"
        "\"totalTokenCount\":150}}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "gem", 5, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(str(out.ptr, "model"), "gem");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.content"), "Setting up the party.");
    cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), "tool_calls");
    char id0[64], id1[64];
    snprintf(id0, sizeof(id0), "%s", str(out.ptr, "choices.0.message.tool_calls.0.id"));
    snprintf(id1, sizeof(id1), "%s", str(out.ptr, "choices.0.message.tool_calls.1.id"));
    cr_assert(strncmp(id0, "call_", 5) == 0 && strcmp(id0, id1) != 0, "%s %s", id0, id1);
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.type"), "function");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.function.name"),
                     "power_disco_ball");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.function.arguments"),
                     "{\"power\": true}");
    const char *args = str(out.ptr, "choices.0.message.tool_calls.1.function.arguments");
    cr_assert_str_eq(args, "{\"energetic\":true,\"loud\":true,\"note\":\"a \\\"b\\\"\"}");
    assert_json(args, strlen(args));
    /* a call without a name is skipped; one without args gets {} */
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.2.function.name"), "dim_lights");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.2.function.arguments"), "{}");
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.tool_calls.3"), "(none)");
    cr_assert_str_eq(raw(out.ptr, "usage.prompt_tokens_details.cached_tokens"), "64");
    cr_assert_eq(u.cached, 64);
    cr_assert_eq(u.prompt, 100);
    /* the same response, the same ids: a made-up id is stable */
    struct sl_buf again;
    sl_buf_init(&again, 4096);
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "gem", 5, &again, NULL), 0);
    cr_assert_str_eq(out.ptr, again.ptr);
    sl_buf_release(&again);
    sl_buf_release(&out);
}

Test(gemini, a_call_with_its_own_id_keeps_it)
{
    const char *resp = "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":"
                       "\"fc-1\",\"name\":\"f\",\"args\":{}}}]},\"finishReason\":\"STOP\"}]}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "g", 5, &out, NULL), 0);
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.id"), "fc-1");
    cr_assert(strncmp(str(out.ptr, "id"), "chatcmpl-", 9) == 0);
    cr_assert_str_eq(raw(out.ptr, "model"), "\"g\"");
    sl_buf_release(&out);
}

Test(gemini, finish_reasons_map)
{
    static const char *const map[][2] = {
        {"STOP", "stop"},
        {"MAX_TOKENS", "length"},
        {"SAFETY", "content_filter"},
        {"RECITATION", "content_filter"},
        {"BLOCKLIST", "content_filter"},
        {"PROHIBITED_CONTENT", "content_filter"},
        {"SPII", "content_filter"},
        {"IMAGE_SAFETY", "content_filter"},
        {"LANGUAGE", "stop"},
        {"OTHER", "stop"},
        {"MALFORMED_FUNCTION_CALL", "stop"},
        {"FINISH_REASON_UNSPECIFIED", "stop"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char resp[256];
        snprintf(resp, sizeof(resp),
                 "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"%s\"}]}",
                 map[i][0]);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_gemini_response(resp, strlen(resp), "x", 1, &out, NULL), 0);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), map[i][1], "%s", map[i][0]);
        cr_assert_str_eq(raw(out.ptr, "choices.0.message.content"), "null");
        cr_assert_str_eq(raw(out.ptr, "choices.0.message.tool_calls"), "(none)");
        sl_buf_release(&out);
    }
    /* a candidate blocked for safety has no content at all */
    const char *blocked = "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}]}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_gemini_response(blocked, strlen(blocked), "x", 1, &out, NULL), 0);
    cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), "content_filter");
    sl_buf_release(&out);
}

Test(gemini, a_blocked_prompt_is_a_content_filter_completion)
{
    /* the safety guide: no candidates, promptFeedback.blockReason */
    const char *resp = "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":[{"
                       "\"category\":\"HARM_CATEGORY_HARASSMENT\",\"probability\":\"HIGH\"}]},"
                       "\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},"
                       "\"modelVersion\":\"gemini-2.5-flash\"}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "m", 1, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.content"), "\"\"");
    cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), "content_filter");
    cr_assert_eq(u.prompt, 12);
    cr_assert_eq(u.completion, 0);
    sl_buf_release(&out);
}

Test(gemini, huge_token_counts_do_not_wrap)
{
    const char *resp = "{\"candidates\":[],\"promptFeedback\":{},\"usageMetadata\":{"
                       "\"promptTokenCount\":1,\"cachedContentTokenCount\":"
                       "277777777777777777777777777777777777,\"candidatesTokenCount\":"
                       "99999999999999999999999999,\"thoughtsTokenCount\":99999999999999999999}}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "m", 1, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_geq(u.prompt, u.cached);
    cr_assert_geq(u.prompt + u.completion, u.prompt);
    sl_buf_release(&out);
}

Test(gemini, bodies_that_are_not_responses_are_refused)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"error\":{\"code\":500,\"message\":\"x\",\"status\":\"INTERNAL\"}}",
        "{\"candidates\":{}}",
        "{\"candidates\":[]}",
        "{\"candidates\":[1]}",
        "{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_gemini_response(bad[i], strlen(bad[i]), NULL, 1, &out, NULL), UV_EINVAL,
                     "%s", bad[i]);
        sl_buf_release(&out);
    }
}

Test(gemini, response_output_is_bounded)
{
    const char *resp = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"},{"
                       "\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]},\"finishReason\":"
                       "\"STOP\"}],\"responseId\":\"r1\"}";
    struct sl_buf full;
    sl_buf_init(&full, 4096);
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "m", 1, &full, NULL), 0);
    for (size_t max = 0; max < full.len + 10; max += 3) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        int rc = sl_gemini_response(resp, strlen(resp), "m", 1, &out, NULL);
        cr_assert(rc == (max >= full.len ? 0 : UV_ENOBUFS), "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            cr_assert_str_eq(out.ptr, full.ptr);
        sl_buf_release(&out);
    }
    sl_buf_release(&full);
}

/* ---- streams ---- */

/* A stream as :streamGenerateContent?alt=sse sends it (CRLF line ends, no
 * event names, no end marker): text pieces, then a functionCall and the
 * finishReason with the final usage. */
static const char recorded[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The weather \\\"there\\\"\"}],"
    "\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 25,"
    "\"totalTokenCount\": 25},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
    "\"2u0oaLiJBvOMz7IPzYnb-A0\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"thinking\",\"thought\": true}"
    "],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
    "\"2u0oaLiJBvOMz7IPzYnb-A0\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" in Boston:\\n\"}],"
    "\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
    "\"2u0oaLiJBvOMz7IPzYnb-A0\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": "
    "\"get_current_weather\",\"args\": {\"location\": \"Boston, MA\"}}},{\"functionCall\": {"
    "\"name\": \"get_time\",\"args\": {}}}],\"role\": \"model\"},\"finishReason\": \"STOP\","
    "\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 25,\"candidatesTokenCount\": 30,"
    "\"totalTokenCount\": 60,\"thoughtsTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\","
    "\"responseId\": \"2u0oaLiJBvOMz7IPzYnb-A0\"}\r\n\r\n";

struct drive {
    struct sl_gemini_stream s;
    struct sl_buf out;
    int rc; /* the first non-zero return */
};

static void on_upstream_event(void *arg, const struct sl_sse_event *ev)
{
    struct drive *d = arg;
    cr_assert_str_eq(ev->event, "message");
    int rc = sl_gemini_stream_event(&d->s, ev->data, ev->data_len, &d->out);
    if (rc && d->rc == 0)
        d->rc = rc;
}

/* Feeds an upstream stream in pieces of `piece` bytes; end: the body ended
 * there (sl_gemini_stream_end's result is returned). */
static int drive(struct drive *d, const char *text, size_t piece, int include_usage)
{
    sl_gemini_stream_init(&d->s, NULL, 1700000000, include_usage);
    sl_buf_init(&d->out, 1 << 20);
    d->rc = 0;
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 0, on_upstream_event, d);
    size_t len = strlen(text);
    for (size_t at = 0; at < len; at += piece)
        cr_assert_eq(sl_sse_parser_feed(&p, text + at, len - at < piece ? len - at : piece), 0);
    sl_sse_parser_release(&p);
    return sl_gemini_stream_end(&d->s, &d->out);
}

Test(gemini, a_stream_with_text_and_function_calls_becomes_chunks)
{
    static const size_t pieces[] = {1, 3, 17, 100, 1 << 20};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        for (int usage = 0; usage <= 1; usage++) {
            struct drive d;
            cr_assert_eq(drive(&d, recorded, pieces[i], usage), 0);
            cr_assert_eq(d.rc, 0);
            cr_assert_eq(d.s.state, SL_GS_DONE);
            struct client c;
            read_client(&c, &d.out, "2u0oaLiJBvOMz7IPzYnb-A0");
            cr_assert(c.done && c.after_done == 0 && c.errors == 0);
            cr_assert_str_eq(c.text, "The weather \"there\" in Boston:\n");
            cr_assert(strncmp(c.ids[0], "call_", 5) == 0);
            cr_assert(strncmp(c.ids[1], "call_", 5) == 0 && strcmp(c.ids[0], c.ids[1]) != 0);
            cr_assert_str_eq(c.names[0], "get_current_weather");
            cr_assert_str_eq(c.args[0], "{\"location\": \"Boston, MA\"}");
            cr_assert_str_eq(c.names[1], "get_time");
            cr_assert_str_eq(c.args[1], "{}");
            cr_assert_str_eq(c.finish, "tool_calls");
            cr_assert_eq(c.finishes, 1);
            cr_assert_eq(c.usage_chunks, usage);
            /* role, 2 texts, 2 calls, finish, usage */
            cr_assert_eq(c.chunks, 1 + 2 + 2 + 1 + usage);
            cr_assert_eq(d.s.usage.prompt, 25);
            cr_assert_eq(d.s.usage.completion, 35);
            if (usage)
                cr_assert_str_eq(c.last, "{\"id\":\"2u0oaLiJBvOMz7IPzYnb-A0\",\"object\":"
                                         "\"chat.completion.chunk\",\"created\":1700000000,"
                                         "\"model\":\"gemini-2.5-flash\",\"choices\":[],\"usage\":"
                                         "{\"prompt_tokens\":25,\"completion_tokens\":35,"
                                         "\"total_tokens\":60,\"prompt_tokens_details\":{"
                                         "\"cached_tokens\":0}}}");
            sl_buf_release(&d.out);
        }
    }
}

Test(gemini, the_chunks_byte_for_byte)
{
    struct drive d;
    cr_assert_eq(drive(&d, recorded, 1 << 20, 0), 0);
    const char *want =
        "data: {\"id\":\"2u0oaLiJBvOMz7IPzYnb-A0\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"gemini-2.5-flash\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":"
        "null}]}\n\n"
        "data: {\"id\":\"2u0oaLiJBvOMz7IPzYnb-A0\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"gemini-2.5-flash\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":\"The weather \\\"there\\\"\"},\"logprobs\":null,"
        "\"finish_reason\":null}]}\n\n";
    cr_assert(strncmp(d.out.ptr, want, strlen(want)) == 0, "%s", d.out.ptr);
    const char *tool = "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":"
                       "\"call_";
    cr_assert(strstr(d.out.ptr, tool), "%s", d.out.ptr);
    const char *end = "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                      "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    cr_assert(strlen(d.out.ptr) > strlen(end) &&
                  strcmp(d.out.ptr + strlen(d.out.ptr) - strlen(end), end) == 0,
              "%s", d.out.ptr);
    sl_buf_release(&d.out);
}

Test(gemini, usage_after_the_finish_reason_still_counts)
{
    const char *text =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":"
        "\"MAX_TOKENS\"}],\"usageMetadata\":{\"promptTokenCount\":3}}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ignored\"}]}}],"
        "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":2,"
        "\"cachedContentTokenCount\":1}}\n\n";
    struct drive d;
    cr_assert_eq(drive(&d, text, 9, 1), 0);
    struct client c;
    read_client(&c, &d.out, NULL);
    cr_assert_str_eq(c.text, "Hi");
    cr_assert_str_eq(c.finish, "length");
    cr_assert(c.done && c.usage_chunks == 1);
    cr_assert_str_eq(raw(c.last, "usage.completion_tokens"), "2");
    cr_assert_str_eq(raw(c.last, "usage.prompt_tokens_details.cached_tokens"), "1");
    cr_assert(strncmp(str(c.last, "id"), "chatcmpl-", 9) == 0);
    sl_buf_release(&d.out);
}

Test(gemini, a_blocked_prompt_in_a_stream_ends_with_content_filter)
{
    const char *text = "data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},"
                       "\"usageMetadata\":{\"promptTokenCount\":7}}\r\n\r\n";
    struct drive d;
    cr_assert_eq(drive(&d, text, 4, 0), 0);
    struct client c;
    read_client(&c, &d.out, NULL);
    cr_assert(c.done && c.errors == 0);
    cr_assert_str_eq(c.finish, "content_filter");
    cr_assert_eq(c.chunks, 2);
    sl_buf_release(&d.out);
}

Test(gemini, an_error_in_the_stream_becomes_an_openai_error_and_ends_it)
{
    const char *text =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}]}\n\n"
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again "
        "later.\",\"status\":\"UNAVAILABLE\"}}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}]},\"finishReason\":"
        "\"STOP\"}]}\n\n";
    struct drive d;
    cr_assert_eq(drive(&d, text, 5, 1), 0);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(d.s.state, SL_GS_FAILED);
    cr_assert_eq(d.s.err, SL_E_UNAVAILABLE);
    const char *tail = "data: {\"error\":{\"message\":\"The model is overloaded. Please try again "
                       "later.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
    cr_assert(strlen(d.out.ptr) > strlen(tail) &&
                  strcmp(d.out.ptr + strlen(d.out.ptr) - strlen(tail), tail) == 0,
              "%s", d.out.ptr);
    cr_assert(strstr(d.out.ptr, "\"content\":\"Hel\""));
    cr_assert(strstr(d.out.ptr, "lo\"") == NULL);
    cr_assert(strstr(d.out.ptr, "[DONE]") == NULL);
    sl_buf_release(&d.out);
}

Test(gemini, broken_streams_end_with_an_error)
{
    static const char *const broken[] = {
        "data: {oops\n\n",
        "data: [1,2]\n\n",
        "data: {\"candidates\":{}}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[1]}}]}\n\n",
        "data: {\"candidates\":[\"x\"]}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}\n\n",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        struct drive d;
        cr_assert_eq(drive(&d, broken[i], 1 << 20, 0), 0, "%zu", i);
        cr_assert_eq(d.rc, UV_EPROTO, "%zu", i);
        cr_assert_eq(d.s.state, SL_GS_FAILED);
        cr_assert_eq(d.s.err, SL_E_BAD_GATEWAY);
        struct client c;
        read_client(&c, &d.out, NULL);
        cr_assert_eq(c.errors, 1, "%zu: %s", i, d.out.ptr);
        cr_assert(!c.done);
        sl_buf_release(&d.out);
    }
}

Test(gemini, a_cut_stream_is_reported_at_the_end)
{
    const char *cut = strstr(recorded, "data: {\"candidates\": [{\"content\": {\"parts\": [{"
                                       "\"functionCall\"");
    char *text = strndup(recorded, (size_t)(cut - recorded));
    struct drive d;
    cr_assert_eq(drive(&d, text, 7, 1), UV_EOF);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(d.s.state, SL_GS_MESSAGE);
    cr_assert(strstr(d.out.ptr, "[DONE]") == NULL);
    cr_assert(strstr(d.out.ptr, "\"usage\"") == NULL);
    free(text);
    sl_buf_release(&d.out);
    /* an empty body: cut before anything */
    cr_assert_eq(drive(&d, "", 1, 0), UV_EOF);
    cr_assert_eq(d.out.len, 0);
    sl_buf_release(&d.out);
}

Test(gemini, stream_output_is_bounded_per_event)
{
    struct drive d;
    sl_gemini_stream_init(&d.s, "client-model", 1, 0);
    sl_buf_init(&d.out, 64);
    const char *ev = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]}";
    cr_assert_eq(sl_gemini_stream_event(&d.s, ev, strlen(ev), &d.out), UV_ENOBUFS);
    cr_assert_eq(d.out.len, 0);
    cr_assert_eq(d.s.state, SL_GS_FAILED);
    cr_assert_eq(d.s.err, SL_E_TOO_LARGE);
    cr_assert_eq(sl_gemini_stream_end(&d.s, &d.out), 0);
    sl_buf_release(&d.out);
    /* the end's usage chunk and [DONE] too: all or nothing */
    for (size_t max = 200; max < 1200; max += 13) {
        sl_gemini_stream_init(&d.s, "m", 1, 1);
        sl_buf_init(&d.out, max);
        const char *fin = "{\"candidates\":[{\"finishReason\":\"STOP\"}]}";
        int rc = sl_gemini_stream_event(&d.s, fin, strlen(fin), &d.out);
        if (rc == 0) {
            size_t before = d.out.len;
            rc = sl_gemini_stream_end(&d.s, &d.out);
            cr_assert(rc == 0 || (rc == UV_ENOBUFS && d.out.len == before));
            if (rc == 0)
                cr_assert(strstr(d.out.ptr, "data: [DONE]\n\n"));
        }
        cr_assert_leq(d.out.len, max);
        sl_buf_release(&d.out);
    }
}

/* ---- errors ---- */

struct error_case {
    int status;
    const char *body;
    enum sl_err err;
    int client_status;
    const char *type, *code, *message;
    long retry_after_s;
};

static const struct error_case errors[] = {
    {400,
     "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\","
     "\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/"
     "google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\","
     "\"metadata\":{\"service\":\"generativelanguage.googleapis.com\"}}]}}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key",
     "API key not valid. Please pass a valid API key.", 0},
    {400,
     "{\"error\":{\"code\":400,\"message\":\"* GenerateContentRequest.contents: contents is not "
     "specified\\n\",\"status\":\"INVALID_ARGUMENT\"}}",
     SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL,
     "* GenerateContentRequest.contents: contents is not specified\n", 0},
    {400,
     "{\"error\":{\"code\":400,\"message\":\"User location is not supported for the API use.\","
     "\"status\":\"FAILED_PRECONDITION\"}}",
     SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL,
     "User location is not supported for the API use.", 0},
    {403,
     "{\"error\":{\"code\":403,\"message\":\"Permission denied\",\"status\":"
     "\"PERMISSION_DENIED\"}}",
     SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied", "Permission denied", 0},
    {401, "{\"error\":{\"code\":401,\"message\":\"no\",\"status\":\"UNAUTHENTICATED\"}}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key", "no", 0},
    {404,
     "{\"error\":{\"code\":404,\"message\":\"models/gemini-9 is not found for API version "
     "v1beta\",\"status\":\"NOT_FOUND\"}}",
     SL_E_BAD_REQUEST, 404, "invalid_request_error", "not_found",
     "models/gemini-9 is not found for API version v1beta", 0},
    {429,
     "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota, please check your "
     "plan and billing details.\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
     "\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":"
     "\"generativelanguage.googleapis.com/generate_content_free_tier_requests\"}]},{\"@type\":"
     "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"56.5s\"}]}}",
     SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded",
     "You exceeded your current quota, please check your plan and billing details.", 57},
    {500,
     "{\"error\":{\"code\":500,\"message\":\"An internal error has occurred.\",\"status\":"
     "\"INTERNAL\"}}",
     SL_E_SERVER_ERROR, 500, "server_error", NULL, "An internal error has occurred.", 0},
    {503,
     "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":"
     "\"UNAVAILABLE\"}}",
     SL_E_UNAVAILABLE, 503, "server_error", NULL, "The model is overloaded.", 0},
    {504,
     "[{\"error\":{\"code\":504,\"message\":\"Deadline expired\",\"status\":"
     "\"DEADLINE_EXCEEDED\"}}]",
     SL_E_TIMEOUT, 504, "server_error", "timeout", "Deadline expired", 0},
    {502, "<html>bad gateway</html>", SL_E_BAD_GATEWAY, 502, "server_error", NULL,
     "gemini answered HTTP 502 without an error body", 0},
    {429, "", SL_E_RATE_LIMITED, 429, "requests", NULL,
     "gemini answered HTTP 429 without an error body", 0},
    {418, "{\"error\":{\"code\":418,\"message\":\"\\\"quoted\\\"\",\"status\":\"NEW_STATUS\"}}",
     SL_E_BAD_REQUEST, 418, "invalid_request_error", NULL, "\"quoted\"", 0},
    {400, "{\"error\":{\"message\":\"odd\"}}", SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL,
     "odd", 0},
};

Test(gemini, errors_map_to_openai_errors_and_classes)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const struct error_case *c = &errors[i];
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        struct sl_gemini_error e;
        cr_assert_eq(sl_gemini_error(c->status, c->body, strlen(c->body), &out, &e), 0);
        assert_json(out.ptr, out.len);
        cr_assert_eq(e.err, c->err, "%zu: %s", i, sl_err_name(e.err));
        cr_assert_eq(e.status, c->client_status, "%zu", i);
        cr_assert_eq(e.retry_after_s, c->retry_after_s, "%zu", i);
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
    static const char *const transient[] = {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL",
                                            "DEADLINE_EXCEEDED"};
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        cr_assert(SL_ERR_TRANSIENT &
                  SL_ERR_BIT(sl_gemini_error_class(transient[i], strlen(transient[i]), 0, 0).err));
    cr_assert(!(SL_ERR_TRANSIENT &
                SL_ERR_BIT(sl_gemini_error_class("INVALID_ARGUMENT", 16, 400, 0).err)));
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(sl_gemini_error_class(NULL, 0, 503, 0).err));
    cr_assert_eq(sl_gemini_error_class(NULL, 0, 0, 0).status, 502);
}

/* ---- embeddings ---- */

Test(gemini, embeddings_translate_both_ways)
{
    const char *req = "{\"model\":\"text-embedding-3-small\",\"input\":[\"What is the meaning of "
                      "life?\",\"How much wood would a woodchuck chuck?\"],\"dimensions\":768,"
                      "\"encoding_format\":\"float\",\"user\":\"u\"}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    size_t n;
    struct sl_xlat_refusal no;
    cr_assert_eq(sl_gemini_embed_request(req, strlen(req), "gemini-embedding-001", &out, &n, &no),
                 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out.ptr, "{\"requests\":[{\"model\":\"models/gemini-embedding-001\","
                              "\"content\":{\"parts\":[{\"text\":\"What is the meaning of "
                              "life?\"}]},\"outputDimensionality\":768},{\"model\":"
                              "\"models/gemini-embedding-001\",\"content\":{\"parts\":[{\"text\":"
                              "\"How much wood would a woodchuck chuck?\"}]},"
                              "\"outputDimensionality\":768}]}");
    sl_buf_reset(&out);
    req = "{\"input\":\"hello\"}";
    cr_assert_eq(sl_gemini_embed_request(req, strlen(req), "models/e", &out, &n, &no), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out.ptr, "{\"requests\":[{\"model\":\"models/e\",\"content\":{\"parts\":[{"
                              "\"text\":\"hello\"}]}}]}");
    sl_buf_reset(&out);
    const char *resp = "{\"embeddings\":[{\"values\":[0.1,-0.2,3e-3]},{\"values\":[1,2]}]}";
    cr_assert_eq(sl_gemini_embed_response(resp, strlen(resp), "emb", &out), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(out.ptr, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":"
                              "0,\"embedding\":[0.1,-0.2,3e-3]},{\"object\":\"embedding\","
                              "\"index\":1,\"embedding\":[1,2]}],\"model\":\"emb\",\"usage\":{"
                              "\"prompt_tokens\":0,\"total_tokens\":0}}");
    static const char *const bad[] = {"{}", "{\"embeddings\":{}}", "{\"embeddings\":[{}]}", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_buf_reset(&out);
        cr_assert_eq(sl_gemini_embed_response(bad[i], strlen(bad[i]), "m", &out), UV_EINVAL);
    }
    static const char *const refused[][2] = {
        {"{\"input\":[1,2,3]}", "input"},
        {"{\"input\":[]}", "input"},
        {"{\"input\":5}", "input"},
        {"{\"input\":\"x\",\"encoding_format\":\"base64\"}", "encoding_format"},
        {"{\"input\":\"x\",\"dimensions\":0}", "dimensions"},
        {"[]", ""},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        sl_buf_reset(&out);
        cr_assert_eq(
            sl_gemini_embed_request(refused[i][0], strlen(refused[i][0]), "m", &out, &n, &no),
            UV_EINVAL, "%s", refused[i][0]);
        cr_assert_str_eq(no.param, refused[i][1]);
    }
    sl_buf_release(&out);
}

/* Gemini 3 signs its function calls (a part's thoughtSignature) and wants
 * the signature back with the call in the next turn: it rides on the tool
 * call as Google's OpenAI endpoint carries it
 * (extra_content.google.thought_signature), in the answer, the stream and
 * the next request. */
Test(gemini, thought_signatures_go_round_trip)
{
    const char *resp = "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{"
                       "\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}},"
                       "\"thoughtSignature\":\"c2ln/A==\"}]},\"finishReason\":\"STOP\"}]}";
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_gemini_response(resp, strlen(resp), "g", 5, &out, NULL), 0);
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.extra_content.google."
                                  "thought_signature"),
                     "c2ln/A==");
    sl_buf_release(&out);

    struct drive d;
    char stream[512];
    snprintf(stream, sizeof(stream), "data: %s\n\n", resp);
    cr_assert_eq(drive(&d, stream, 7, 0), 0);
    cr_assert_not_null(strstr(d.out.ptr, "\"function\":{\"name\":\"f\",\"arguments\":"
                                         "\"{\\\"a\\\":1}\"},\"extra_content\":{\"google\":{"
                                         "\"thought_signature\":\"c2ln/A==\"}}}]"),
                       "%s", d.out.ptr);
    sl_buf_release(&d.out);

    const char *next = "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
                       "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":"
                       "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"},"
                       "\"extra_content\":{\"google\":{\"thought_signature\":\"c2ln/A==\"}}}]},"
                       "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"}]}";
    struct sl_gemini_req_info info;
    struct sl_xlat_refusal no;
    sl_buf_init(&out, 1 << 16);
    cr_assert_eq(sl_gemini_request(next, strlen(next), &out, &info, &no), 0, "%s", no.message);
    cr_assert_not_null(strstr(out.ptr, "{\"functionCall\":{\"name\":\"f\",\"args\":{}},"
                                       "\"thoughtSignature\":\"c2ln/A==\"}"),
                       "%s", out.ptr);
    sl_buf_release(&out);
}
