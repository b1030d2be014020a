/* The Bedrock adapter (src/providers/bedrock*.c) as tables: requests,
 * responses, streams and errors from the shapes of AWS's Converse API
 * reference and user guide (the top_song tool example, the TokenUsage and
 * stream event members) and OpenAI's documented requests. Every output is
 * checked to be one valid JSON value (the repo's scanner) and then field by
 * field or byte for byte. Streams are built as real event-stream frames
 * (sl_eventstream_encode), decoded by the repo's decoder in pieces of every
 * size and fed to the translator, as the gateway will.
 *
 * JSON in the tables is written with ' for " (q() swaps them back): the
 * texts below have no apostrophes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/sse.h"
#include "json_at.h"
#include "providers/bedrock.h"
#include "providers/eventstream.h"

/* ' -> " in a static buffer (one of four, so that a call may take two). */
static const char *q(const char *s)
{
    static char bufs[4][16384];
    static int next;
    char *out = bufs[next++ % 4];
    size_t n = strlen(s);
    cr_assert_lt(n, sizeof(bufs[0]));
    for (size_t i = 0; i <= n; i++)
        out[i] = s[i] == '\'' ? '"' : s[i];
    return out;
}

/* ---- requests ---- */

static const struct sl_bedrock_req_opts opts = {.default_max_tokens = 0};

struct req_case {
    const char *name;
    const char *openai;
    const char *converse;
};

static const struct req_case req_cases[] = {
    {"a system message and a user message; no max_tokens: no inferenceConfig",
     "{'model':'anthropic.claude-3-haiku-20240307-v1:0','messages':[{'role':'system','content':"
     "'You are an app that creates playlists for a radio station.'},{'role':'user','content':"
     "'Create a list of 3 pop songs.'}]}",
     "{'system':[{'text':'You are an app that creates playlists for a radio station.'}],"
     "'messages':[{'role':'user','content':[{'text':'Create a list of 3 pop songs.'}]}]}"},
    {"sampling, stop as a string, stream; the harmless rest dropped",
     "{'model':'m','max_tokens':512,'temperature':0.5,'top_p':0.9,'stop':'\\n\\n','stream':true,"
     "'stream_options':{'include_usage':true},'user':'u-42','messages':[{'role':'user',"
     "'content':'Hi'}],'frequency_penalty':0.5,'seed':7,'parallel_tool_calls':false}",
     "{'messages':[{'role':'user','content':[{'text':'Hi'}]}],'inferenceConfig':{'maxTokens':512,"
     "'temperature':0.5,'topP':0.9,'stopSequences':['\\n\\n']}}"},
    {"system and developer texts anywhere; temperature above 1 clamped; stop array; "
     "max_completion_tokens",
     "{'model':'m','max_completion_tokens':300,'temperature':1.5,'stop':['END','','STOP'],"
     "'messages':[{'role':'system','content':'A'},{'role':'user','content':'Q'},{'role':"
     "'developer','content':[{'type':'text','text':'B'},{'type':'text','text':''},{'type':'text',"
     "'text':'C'}]}]}",
     "{'system':[{'text':'A'},{'text':'B'},{'text':'C'}],'messages':[{'role':'user','content':[{"
     "'text':'Q'}]}],'inferenceConfig':{'maxTokens':300,'temperature':1,'stopSequences':['END',"
     "'STOP']}}"},
    {"image_url data URLs: png, jpeg (image/jpg too), gif, webp; the bare string form",
     "{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'What is in "
     "these images?'},{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo="
     "','detail':'high'}},{'type':'image_url','image_url':{'url':'data:image/jpeg;base64,/9j/4A="
     "'}},{'type':'image_url','image_url':{'url':'data:image/jpg;base64,/9j/'}},{'type':"
     "'image_url','image_url':'data:image/gif;base64,R0lGOD=='},{'type':'image_url','image_url':"
     "{'url':'data:IMAGE/WEBP;base64,UklGR'}}]}]}",
     "{'messages':[{'role':'user','content':[{'text':'What is in these images?'},{'image':{"
     "'format':'png','source':{'bytes':'iVBORw0KGgo='}}},{'image':{'format':'jpeg','source':{"
     "'bytes':'/9j/4A='}}},{'image':{'format':'jpeg','source':{'bytes':'/9j/'}}},{'image':{"
     "'format':'gif','source':{'bytes':'R0lGOD=='}}},{'image':{'format':'webp','source':{"
     "'bytes':'UklGR'}}}]}]}"},
    {"consecutive same-role messages merged; empty texts and refusal parts left out",
     "{'model':'m','messages':[{'role':'user','content':'one'},{'role':'user','content':''},"
     "{'role':'user','content':[{'type':'text','text':'two'}]},{'role':'assistant','content':"
     "'ok'},{'role':'assistant','content':[{'type':'refusal','refusal':'no'},{'type':'text',"
     "'text':'more'}]},{'role':'user','content':'three'}]}",
     "{'messages':[{'role':'user','content':[{'text':'one'},{'text':'two'}]},{'role':"
     "'assistant','content':[{'text':'ok'},{'text':'more'}]},{'role':'user','content':[{'text':"
     "'three'}]}]}"},
    {"the user guide top_song tool example: toolSpec with inputSchema.json, auto by default",
     "{'model':'m','tools':[{'type':'function','function':{'name':'top_song','description':"
     "'Get the most popular song played on a radio station.','parameters':{'type':'object',"
     "'properties':{'sign':{'type':'string','description':'The call sign for the radio station "
     "for which you want the most popular song. Example calls signs are WZPZ and WKRP.'}},"
     "'required':['sign']}}}],'messages':[{'role':'user','content':'What is the most popular "
     "song on WZPZ?'}]}",
     "{'messages':[{'role':'user','content':[{'text':'What is the most popular song on WZPZ?'}]}"
     "],'toolConfig':{'tools':[{'toolSpec':{'name':'top_song','description':'Get the most "
     "popular song played on a radio station.','inputSchema':{'json':{'type':'object',"
     "'properties':{'sign':{'type':'string','description':'The call sign for the radio station "
     "for which you want the most popular song. Example calls signs are WZPZ and WKRP.'}},"
     "'required':['sign']}}}}]}}"},
    {"a tool call round trip: toolUse with the arguments as an object, tool results merged into "
     "one user message ({json:{}} for an empty one), tool_choice required -> any",
     "{'model':'m','tools':[{'type':'function','function':{'name':'top_song','parameters':{"
     "'type':'object'},'strict':true}},{'type':'function','function':{'name':'now'}}],"
     "'tool_choice':'required','messages':[{'role':'user','content':'What is the most popular "
     "song on WZPZ?'},{'role':'assistant','content':null,'tool_calls':[{'id':"
     "'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q','type':'function','function':{'name':'top_song',"
     "'arguments':'{\\'sign\\': \\'WZPZ\\'}'}},{'id':'call_2','type':'function','function':{"
     "'name':'now','arguments':''}}]},{'role':'tool','tool_call_id':"
     "'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q','content':'Elemental Hotel by 8 Storey Hike'},{'role':"
     "'tool','tool_call_id':'call_2','content':[{'type':'text','text':'noon'},{'type':'text',"
     "'text':'UTC'}]},{'role':'tool','tool_call_id':'call_3','content':''}]}",
     "{'messages':[{'role':'user','content':[{'text':'What is the most popular song on WZPZ?'}]"
     "},{'role':'assistant','content':[{'toolUse':{'toolUseId':'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',"
     "'name':'top_song','input':{'sign': 'WZPZ'}}},{'toolUse':{'toolUseId':'call_2','name':"
     "'now','input':{}}}]},{'role':'user','content':[{'toolResult':{'toolUseId':"
     "'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q','content':[{'text':'Elemental Hotel by 8 Storey Hike'}]}"
     "},{'toolResult':{'toolUseId':'call_2','content':[{'text':'noon'},{'text':'UTC'}]}},{"
     "'toolResult':{'toolUseId':'call_3','content':[{'json':{}}]}}]}],'toolConfig':{'tools':[{"
     "'toolSpec':{'name':'top_song','inputSchema':{'json':{'type':'object'}}}},{'toolSpec':{"
     "'name':'now','inputSchema':{'json':{'type':'object','properties':{}}}}}],'toolChoice':{"
     "'any':{}}}}"},
    {"tool_choice naming a function -> tool; an assistant text with its tool call; a user "
     "message after the tool result joins it",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f','parameters':{'type':"
     "'object'}}}],'tool_choice':{'type':'function','function':{'name':'f'}},'messages':[{"
     "'role':'user','content':'go'},{'role':'assistant','content':'Calling f.','tool_calls':[{"
     "'id':'c','type':'function','function':{'name':'f','arguments':'{}'}}]},{'role':'tool',"
     "'tool_call_id':'c','content':'done'},{'role':'user','content':'and?'}]}",
     "{'messages':[{'role':'user','content':[{'text':'go'}]},{'role':'assistant','content':[{"
     "'text':'Calling f.'},{'toolUse':{'toolUseId':'c','name':'f','input':{}}}]},{'role':'user',"
     "'content':[{'toolResult':{'toolUseId':'c','content':[{'text':'done'}]}},{'text':'and?'}]}]"
     ",'toolConfig':{'tools':[{'toolSpec':{'name':'f','inputSchema':{'json':{'type':'object'}}}"
     "}],'toolChoice':{'tool':{'name':'f'}}}}"},
    {"tool_choice auto -> auto",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f','description':''}}],"
     "'tool_choice':'auto','messages':[{'role':'user','content':'x'}]}",
     "{'messages':[{'role':'user','content':[{'text':'x'}]}],'toolConfig':{'tools':[{"
     "'toolSpec':{'name':'f','inputSchema':{'json':{'type':'object','properties':{}}}}}],"
     "'toolChoice':{'auto':{}}}}"},
    {"tool_choice none leaves the tools out; null and false fields dropped",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f'}}],'tool_choice':'none',"
     "'logprobs':false,'n':1,'stop':null,'temperature':null,'max_tokens':null,"
     "'response_format':{'type':'text'},'messages':[{'role':'user','content':'x'}]}",
     "{'messages':[{'role':'user','content':[{'text':'x'}]}]}"},
    {"an empty tools array and no tool_choice: no toolConfig",
     "{'model':'m','tools':[],'messages':[{'role':'user','content':'x'}]}",
     "{'messages':[{'role':'user','content':[{'text':'x'}]}]}"},
};

Test(bedrock, requests_translate_to_the_documented_shapes)
{
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        const char *in = q(c->openai), *want = q(c->converse);
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_bedrock_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_bedrock_request(in, strlen(in), &opts, &out, &info, &no);
        cr_assert_eq(rc, 0, "%s: %d %s: %s", c->name, rc, no.param, no.message);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(out.ptr, want, "%s", c->name);
        sl_buf_release(&out);
    }
}

Test(bedrock, request_info_and_the_default_max_tokens)
{
    const char *body = q("{'model':'gpt-4o','stream':true,'stream_options':{'include_usage':true},"
                         "'messages':[{'role':'user','content':'hi'}]}");
    struct sl_bedrock_req_opts o = {.default_max_tokens = 8};
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_bedrock_req_info info;
    struct sl_xlat_refusal no;
    cr_assert_eq(sl_bedrock_request(body, strlen(body), &o, &out, &info, &no), 0);
    cr_assert(info.stream && info.include_usage);
    cr_assert_str_eq(raw(out.ptr, "inferenceConfig.maxTokens"), "8");
    cr_assert_str_eq(raw(out.ptr, "model"), "(none)", "the model goes in the path");
    cr_assert_str_eq(raw(out.ptr, "stream"), "(none)", "a stream is a path, not a field");
    sl_buf_reset(&out);
    body = q("{'model':'m','stream':true,'messages':[{'role':'user','content':'hi'}]}");
    cr_assert_eq(sl_bedrock_request(body, strlen(body), NULL, &out, &info, &no), 0);
    cr_assert(info.stream && !info.include_usage);
    cr_assert_str_eq(out.ptr, q("{'messages':[{'role':'user','content':[{'text':'hi'}]}]}"));
    sl_buf_release(&out);
}

Test(bedrock, the_path_encodes_the_model_id_once)
{
    struct sl_buf out;
    sl_buf_init(&out, 256);
    const char *id = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    cr_assert_eq(sl_bedrock_path(&out, id, strlen(id), 0), 0);
    cr_assert_str_eq(out.ptr, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    sl_buf_reset(&out);
    id = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b";
    cr_assert_eq(sl_bedrock_path(&out, id, strlen(id), 1), 0);
    cr_assert_str_eq(out.ptr, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-"
                              "profile%2Fus.meta.llama3-2-1b/converse-stream");
    cr_assert_eq(sl_bedrock_path(&out, "", 0, 0), UV_EINVAL);
    sl_buf_release(&out);
    sl_buf_init(&out, 10);
    cr_assert_eq(sl_bedrock_path(&out, "m", 1, 1), UV_ENOBUFS);
    sl_buf_release(&out);
}

struct refusal_case {
    const char *body;
    const char *param;
    const char *says;
};

#define MSGS "'messages':[{'role':'user','content':'x'}]"
static const struct refusal_case refusals[] = {
    {"{'model':'m','n':2," MSGS "}", "n", "n must be 1"},
    {"{'model':'m','logprobs':true," MSGS "}", "logprobs", "not supported"},
    {"{'model':'m','top_logprobs':3," MSGS "}", "top_logprobs", "not supported"},
    {"{'model':'m','response_format':{'type':'json_object'}," MSGS "}", "response_format",
     "response_format"},
    {"{'model':'m','response_format':{'type':'json_schema','json_schema':{}}," MSGS "}",
     "response_format", "response_format"},
    {"{'model':'m','audio':{'voice':'alloy'}," MSGS "}", "audio", "not supported"},
    {"{'model':'m','functions':[]," MSGS "}", "functions", "not supported"},
    {"{'model':'m','function_call':'auto'," MSGS "}", "function_call", "not supported"},
    {"{'model':'m','max_tokens':0," MSGS "}", "max_tokens", "positive integer"},
    {"{'model':'m','max_completion_tokens':1.5," MSGS "}", "max_completion_tokens",
     "positive integer"},
    {"{'model':'m','stop':[1]," MSGS "}", "stop", "array of strings"},
    {"{'model':'m','stop':7," MSGS "}", "stop", "array of strings"},
    {"{'model':'m','temperature':'hot'," MSGS "}", "temperature", "number"},
    {"{'model':'m','top_p':[]," MSGS "}", "top_p", "number"},
    {"{'model':'m','messages':[{'role':'system','content':'only'}]}", "messages", "at least one"},
    {"{'model':'m','messages':[{'role':'system','content':7},{'role':'user','content':'x'}]}",
     "messages[0].content", "string or text parts"},
    {"{'model':'m','messages':[{'role':'developer','content':[{'type':'image_url'}]}]}",
     "messages[0].content", "text parts only"},
    {"{'model':'m','messages':[{'role':'function','name':'f','content':'x'}]}", "messages[0].role",
     "'function'"},
    {"{'model':'m','messages':[7]}", "messages[0].role", "object with a role"},
    {"{'model':'m','messages':[{'role':'user','content':{'a':1}}]}", "messages[0].content",
     "string or an array"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'input_audio',"
     "'input_audio':{}}]}]}",
     "messages[0].content[0].type", "'input_audio'"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'file','file':{}}]}]}",
     "messages[0].content[0].type", "'file'"},
    {"{'model':'m','messages':[{'role':'user','content':[{'text':'no type'}]}]}",
     "messages[0].content[0]", "with a type"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'text'}]}]}",
     "messages[0].content[0]", "string text"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{"
     "'url':'https://upload.wikimedia.org/a.jpg'}}]}]}",
     "messages[0].content[0]", "data URLs only"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{"
     "'url':'data:image/png,abc'}}]}]}",
     "messages[0].content[0]", "base64"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{"
     "'url':'data:image/png;base64,'}}]}]}",
     "messages[0].content[0]", "base64"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{"
     "'url':'data:image/tiff;base64,SUkq'}}]}]}",
     "messages[0].content[0]", "'image/tiff'"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{"
     "'href':'x'}}]}]}",
     "messages[0].content[0]", "string url"},
    {"{'model':'m','messages':[{'role':'user','content':[{'type':'image_url'}]}]}",
     "messages[0].content[0]", "needs an image_url"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant','content':[{"
     "'type':'image_url','image_url':{'url':'data:image/png;base64,AA=='}}]}]}",
     "messages[1].content[0].type", "'image_url'"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':"
     "'{not json'}}]}]}",
     "messages[1].tool_calls[0]", "JSON object"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':'[1]'}}]}]}",
     "messages[1].tool_calls[0]", "JSON object"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':{}}}]}]}",
     "messages[1].tool_calls[0]", "must be a string"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'tool_calls':[{'type':'function','function':{'name':'f'}}]}]}",
     "messages[1].tool_calls[0]", "an id"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'tool_calls':{}}]}",
     "messages[1].tool_calls", "an array"},
    {"{'model':'m','messages':[{'role':'user','content':'x'},{'role':'assistant',"
     "'function_call':{'name':'f'}}]}",
     "messages[1].function_call", "deprecated"},
    {"{'model':'m','messages':[{'role':'tool','content':'x'}]}", "messages[0].tool_call_id",
     "tool_call_id"},
    {"{'model':'m','messages':[{'role':'tool','tool_call_id':'c','content':7}]}",
     "messages[0].content", "string or text parts"},
    {"{'model':'m','messages':[{'role':'tool','tool_call_id':'c','content':[{'type':"
     "'image_url','image_url':'data:image/png;base64,AA=='}]}]}",
     "messages[0].content[0].type", "'image_url'"},
    {"{'model':'m','tools':[{'type':'code_interpreter'}]," MSGS "}", "tools[0].type",
     "only function tools"},
    {"{'model':'m','tools':[7]," MSGS "}", "tools[0]", "an object"},
    {"{'model':'m','tools':[{'type':'function','function':{'description':'x'}}]," MSGS "}",
     "tools[0]", "with a name"},
    {"{'model':'m','tools':{}," MSGS "}", "tools", "an array"},
    {"{'model':'m','tool_choice':'sometimes','tools':[{'type':'function','function':{'name':"
     "'f'}}]," MSGS "}",
     "tool_choice", "auto, none, required"},
    {"{'model':'m','tool_choice':{'type':'function'},'tools':[{'type':'function','function':{"
     "'name':'f'}}]," MSGS "}",
     "tool_choice", "auto, none, required"},
    {"{'model':'m','tool_choice':'required'," MSGS "}", "tool_choice", "needs tools"},
    {"[1,2]", "", "not a JSON object"},
    {"{'messages':[]}", "model", "model"},
    {"{'model':'m','messages':{}}", "messages", "required"},
};

Test(bedrock, unsupported_requests_are_refused_with_the_field_named)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal_case *c = &refusals[i];
        const char *body = q(c->body);
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        struct sl_bedrock_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_bedrock_request(body, strlen(body), &opts, &out, &info, &no);
        cr_assert_eq(rc, UV_EINVAL, "%s: %d", body, rc);
        cr_assert_str_eq(no.param, c->param, "%s", body);
        cr_assert(strstr(no.message, c->says), "%s: '%s'", body, no.message);
        cr_assert(strchr(no.message, '\n') == NULL);
        sl_buf_release(&out);
    }
}

Test(bedrock, request_output_is_bounded)
{
    const char *body = q(req_cases[6].openai);
    char want[16384];
    snprintf(want, sizeof(want), "%s", q(req_cases[6].converse));
    for (size_t max = 0; max < 1400; max += 7) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        struct sl_bedrock_req_info info;
        struct sl_xlat_refusal no;
        int rc = sl_bedrock_request(body, strlen(body), &opts, &out, &info, &no);
        cr_assert(rc == 0 || rc == UV_ENOBUFS, "max %zu: %d", max, rc);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            cr_assert_str_eq(out.ptr, want);
        sl_buf_release(&out);
    }
}

/* ---- responses ---- */

Test(bedrock, a_text_response_becomes_a_chat_completion)
{
    /* the shape of the Converse API reference's response, as the user
     * guide's example prints it */
    const char *body =
        q("{'output':{'message':{'role':'assistant','content':[{'text':'Here is a list of 3 pop "
          "songs by artists from the United Kingdom:\\n\\n1. \\'As It Was\\' by Harry Styles'}]}},"
          "'stopReason':'end_turn','usage':{'inputTokens':30,'outputTokens':628,'totalTokens':"
          "658},'metrics':{'latencyMs':1275}}");
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_bedrock_response(body, strlen(body), "chatcmpl-req-1", "claude-haiku",
                                     1700000000, &out, &u),
                 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(
        out.ptr,
        q("{'id':'chatcmpl-req-1','object':'chat.completion','created':1700000000,'model':"
          "'claude-haiku','choices':[{'index':0,'message':{'role':'assistant','content':'Here is "
          "a list of 3 pop songs by artists from the United Kingdom:\\n\\n1. \\'As It Was\\' by "
          "Harry Styles','refusal':null},'logprobs':null,'finish_reason':'stop'}],'usage':{"
          "'prompt_tokens':30,'completion_tokens':628,'total_tokens':658,"
          "'prompt_tokens_details':{'cached_tokens':0}}}"));
    cr_assert_eq(u.prompt, 30);
    cr_assert_eq(u.completion, 628);
    sl_buf_release(&out);
}

Test(bedrock, tool_use_blocks_become_tool_calls)
{
    /* the user guide's top_song example, with a text block before the call,
     * a reasoning block (dropped) and cache counts */
    const char *body =
        q("{'output':{'message':{'role':'assistant','content':[{'reasoningContent':{"
          "'reasoningText':{'text':'The user wants','signature':'abc'}}},{'text':'I will look "
          "it up.'},{'toolUse':{'toolUseId':'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q','name':'top_song',"
          "'input':{'sign':'WZPZ'}}},{'toolUse':{'toolUseId':'t2','name':'now'}}]}},"
          "'stopReason':'tool_use','usage':{'inputTokens':10,'outputTokens':20,'totalTokens':"
          "130,'cacheReadInputTokens':100,'cacheWriteInputTokens':0}}");
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_bedrock_response(body, strlen(body), NULL, NULL, 5, &out, &u), 0);
    assert_json(out.ptr, out.len);
    cr_assert_str_eq(str(out.ptr, "id"), "chatcmpl-bedrock");
    cr_assert_str_eq(str(out.ptr, "model"), "");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.content"), "I will look it up.");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.id"),
                     "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.type"), "function");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.function.name"), "top_song");
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.0.function.arguments"),
                     q("{'sign':'WZPZ'}"));
    cr_assert_str_eq(str(out.ptr, "choices.0.message.tool_calls.1.function.arguments"), "{}");
    cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), "tool_calls");
    cr_assert_str_eq(raw(out.ptr, "usage.prompt_tokens"), "110");
    cr_assert_str_eq(raw(out.ptr, "usage.prompt_tokens_details.cached_tokens"), "100");
    cr_assert_str_eq(raw(out.ptr, "usage.total_tokens"), "130");
    cr_assert_eq(u.cached, 100);
    sl_buf_release(&out);

    /* only a tool call: content null, no text */
    body = q("{'output':{'message':{'role':'assistant','content':[{'toolUse':{'toolUseId':'a',"
             "'name':'f','input':{}}}]}},'stopReason':'tool_use'}");
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_bedrock_response(body, strlen(body), "x", "m", 5, &out, NULL), 0);
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.content"), "null");
    cr_assert_str_eq(raw(out.ptr, "usage.total_tokens"), "0");
    /* no toolUse: no tool_calls member */
    sl_buf_reset(&out);
    body = q("{'output':{'message':{'role':'assistant','content':[]}},'stopReason':'end_turn'}");
    cr_assert_eq(sl_bedrock_response(body, strlen(body), "x", "m", 5, &out, NULL), 0);
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.tool_calls"), "(none)");
    cr_assert_str_eq(raw(out.ptr, "choices.0.message.content"), "null");
    sl_buf_release(&out);
}

Test(bedrock, stop_reasons_map_to_finish_reasons)
{
    static const char *map[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"max_tokens", "length"},
        {"model_context_window_exceeded", "length"},
        {"tool_use", "tool_calls"},
        {"guardrail_intervened", "content_filter"},
        {"content_filtered", "content_filter"},
        {"malformed_model_output", "stop"},
        {"something_new", "stop"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        cr_assert_str_eq(sl_bedrock_finish_reason(map[i][0], strlen(map[i][0])), map[i][1]);
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"x\"}]"
                 "}},\"stopReason\":\"%s\"}",
                 map[i][0]);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_bedrock_response(body, strlen(body), "i", "m", 1, &out, NULL), 0);
        cr_assert_str_eq(str(out.ptr, "choices.0.finish_reason"), map[i][1]);
        sl_buf_release(&out);
    }
}

Test(bedrock, huge_token_counts_do_not_wrap)
{
    const char *body = q("{'output':{'message':{'content':[]}},'usage':{'inputTokens':"
                         "99999999999999999999999,'outputTokens':-5,'cacheReadInputTokens':"
                         "18446744073709551615,'cacheWriteInputTokens':'7'}}");
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_xlat_usage u;
    cr_assert_eq(sl_bedrock_response(body, strlen(body), "i", "m", 1, &out, &u), 0);
    cr_assert_geq(u.prompt, u.cached);
    cr_assert_eq(u.completion, 0);
    sl_buf_release(&out);
}

Test(bedrock, bodies_that_are_not_converse_responses_are_refused)
{
    static const char *bad[] = {
        "",
        "<html>",
        "[]",
        "{}",
        "{'output':7}",
        "{'output':{}}",
        "{'output':{'message':{}}}",
        "{'output':{'message':{'content':{}}}}",
        "{'output':{'message':{'content':'text'}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *body = q(bad[i]);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        cr_assert_eq(sl_bedrock_response(body, strlen(body), "i", "m", 1, &out, NULL), UV_EINVAL,
                     "%s", body);
        sl_buf_release(&out);
    }
}

Test(bedrock, response_output_is_bounded)
{
    const char *body = q("{'output':{'message':{'role':'assistant','content':[{'text':'hello "
                         "there'},{'toolUse':{'toolUseId':'a','name':'f','input':{'k':[1,2]}}}]}},"
                         "'stopReason':'tool_use','usage':{'inputTokens':1,'outputTokens':2}}");
    for (size_t max = 0; max < 600; max += 3) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        int rc = sl_bedrock_response(body, strlen(body), "id", "m", 1, &out, NULL);
        cr_assert(rc == 0 || rc == UV_ENOBUFS);
        cr_assert_leq(out.len, max);
        if (rc == 0)
            assert_json(out.ptr, out.len);
        sl_buf_release(&out);
    }
}

/* ---- streams ---- */

/* One ConverseStream message, framed as Bedrock frames it. */
static void frame(struct sl_buf *body, const char *message_type, const char *type,
                  const char *payload)
{
    int exception = strcmp(message_type, "exception") == 0;
    struct sl_es_header h[3] = {
        {.name = {exception ? ":exception-type" : ":event-type",
                  exception ? strlen(":exception-type") : strlen(":event-type")},
         .type = SL_ES_STRING,
         .str = {type, strlen(type)}},
        {.name = {":content-type", 13}, .type = SL_ES_STRING, .str = {"application/json", 16}},
        {.name = {":message-type", 13},
         .type = SL_ES_STRING,
         .str = {message_type, strlen(message_type)}},
    };
    const char *p = q(payload);
    cr_assert_eq(sl_eventstream_encode(body, h, 3, p, strlen(p)), 0);
}

/* A ConverseStream answer as Bedrock sends it (the "p" members are its
 * padding): a text block, a toolUse block whose input comes in pieces,
 * messageStop, then metadata with the usage. */
static void converse_stream(struct sl_buf *body, int with_metadata)
{
    frame(body, "event", "messageStart", "{'p':'abcdefghijk','role':'assistant'}");
    frame(body, "event", "contentBlockDelta",
          "{'contentBlockIndex':0,'delta':{'text':'Let me check'},'p':'abcd'}");
    frame(body, "event", "contentBlockDelta",
          "{'contentBlockIndex':0,'delta':{'text':' \\'WZPZ\\'.\\n'},'p':'abcd'}");
    frame(body, "event", "contentBlockStop", "{'contentBlockIndex':0,'p':'abcdefgh'}");
    frame(body, "event", "contentBlockStart",
          "{'contentBlockIndex':1,'p':'ab','start':{'toolUse':{'name':'top_song','toolUseId':"
          "'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q'}}}");
    frame(body, "event", "contentBlockDelta",
          "{'contentBlockIndex':1,'delta':{'toolUse':{'input':''}},'p':'abcdefghijklmnopq'}");
    frame(body, "event", "contentBlockDelta",
          "{'contentBlockIndex':1,'delta':{'toolUse':{'input':'{\\'sign\\': \\''}},'p':'a'}");
    frame(body, "event", "contentBlockDelta",
          "{'contentBlockIndex':1,'delta':{'toolUse':{'input':'WZPZ\\'}'}},'p':'abc'}");
    frame(body, "event", "contentBlockStop", "{'contentBlockIndex':1,'p':'abcdefgh'}");
    frame(body, "event", "messageStop", "{'p':'abcdefghijklmnopqrstu','stopReason':'tool_use'}");
    if (with_metadata)
        frame(body, "event", "metadata",
              "{'metrics':{'latencyMs':1007},'p':'abc','usage':{'inputTokens':412,"
              "'outputTokens':63,'totalTokens':575,'cacheReadInputTokens':100}}");
}

struct drive {
    struct sl_bedrock_stream s;
    struct sl_buf out;
    int rc;
};

static int on_message(void *arg, const struct sl_es_message *m)
{
    struct drive *d = arg;
    int rc = sl_bedrock_stream_message(&d->s, m, &d->out);
    if (rc && d->rc == 0)
        d->rc = rc;
    return 0;
}

/* Decodes `body` fed in pieces of `piece` bytes and translates it. */
static void drive(struct drive *d, const struct sl_buf *body, size_t piece, int include_usage,
                  size_t out_max)
{
    sl_bedrock_stream_init(&d->s, "chatcmpl-r1", "claude \"haiku\"", 1700000000, include_usage);
    sl_buf_init(&d->out, out_max);
    d->rc = 0;
    struct sl_es_decoder dec;
    sl_es_decoder_init(&dec, 0, on_message, d);
    for (size_t pos = 0; pos < body->len; pos += piece) {
        size_t n = body->len - pos < piece ? body->len - pos : piece;
        cr_assert_eq(sl_es_decoder_feed(&dec, body->ptr + pos, n), 0);
    }
    cr_assert_eq(sl_es_decoder_finish(&dec), 0);
    sl_es_decoder_release(&dec);
}

struct client {
    const char *id;
    int chunks, usage_chunks, errors, done, after_done;
    char text[1024], args[4][256], ids[4][64], names[4][32], finish[32], last[2048];
};

static void on_client_event(void *arg, const struct sl_sse_event *ev)
{
    struct client *c = arg;
    cr_assert_str_eq(ev->event, "message");
    if (c->done)
        c->after_done++;
    if (sl_str_eq((struct sl_str){ev->data, ev->data_len}, "[DONE]")) {
        c->done = 1;
        return;
    }
    assert_json(ev->data, ev->data_len);
    snprintf(c->last, sizeof(c->last), "%s", ev->data);
    if (strcmp(raw(ev->data, "error"), "(none)") != 0) {
        c->errors++;
        return;
    }
    c->chunks++;
    cr_assert_str_eq(str(ev->data, "object"), "chat.completion.chunk");
    cr_assert_str_eq(str(ev->data, "id"), c->id);
    cr_assert_str_eq(str(ev->data, "model"), "claude \"haiku\"");
    cr_assert_str_eq(raw(ev->data, "created"), "1700000000");
    if (strcmp(raw(ev->data, "usage"), "(none)") != 0) {
        c->usage_chunks++;
        cr_assert_str_eq(raw(ev->data, "choices"), "[]");
        return;
    }
    cr_assert_str_eq(raw(ev->data, "choices.0.index"), "0");
    if (strcmp(raw(ev->data, "choices.0.delta.content"), "(none)") != 0)
        strcat(c->text, str(ev->data, "choices.0.delta.content"));
    if (strcmp(raw(ev->data, "choices.0.finish_reason"), "null") != 0)
        snprintf(c->finish, sizeof(c->finish), "%s", str(ev->data, "choices.0.finish_reason"));
    if (strcmp(raw(ev->data, "choices.0.delta.tool_calls"), "(none)") != 0) {
        long k = strtol(raw(ev->data, "choices.0.delta.tool_calls.0.index"), NULL, 10);
        cr_assert(k >= 0 && k < 4);
        if (strcmp(raw(ev->data, "choices.0.delta.tool_calls.0.id"), "(none)") != 0) {
            cr_assert_str_eq(str(ev->data, "choices.0.delta.tool_calls.0.type"), "function");
            snprintf(c->ids[k], sizeof(c->ids[k]), "%s",
                     str(ev->data, "choices.0.delta.tool_calls.0.id"));
            snprintf(c->names[k], sizeof(c->names[k]), "%s",
                     str(ev->data, "choices.0.delta.tool_calls.0.function.name"));
        }
        strcat(c->args[k], str(ev->data, "choices.0.delta.tool_calls.0.function.arguments"));
    }
}

static void read_client(struct client *c, const struct sl_buf *out, const char *id)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    struct sl_sse_parser p;
    sl_sse_parser_init(&p, 0, on_client_event, c);
    cr_assert_eq(sl_sse_parser_feed(&p, out->ptr ? out->ptr : "", out->len), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 0, "the translated stream ends mid-event");
    sl_sse_parser_release(&p);
}

Test(bedrock, a_converse_stream_with_text_and_a_tool_call_becomes_chunks)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    converse_stream(&body, 1);
    static const size_t pieces[] = {1, 3, 17, 100, 1 << 20};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        for (int usage = 0; usage <= 1; usage++) {
            struct drive d;
            drive(&d, &body, pieces[i], usage, 1 << 20);
            cr_assert_eq(d.rc, 0);
            cr_assert_eq(d.s.state, SL_BS_DONE);
            cr_assert_eq(sl_bedrock_stream_end(&d.s, &d.out), 0);
            struct client c;
            read_client(&c, &d.out, "chatcmpl-r1");
            cr_assert(c.done && c.after_done == 0 && c.errors == 0);
            cr_assert_str_eq(c.text, "Let me check \"WZPZ\".\n");
            cr_assert_str_eq(c.ids[0], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
            cr_assert_str_eq(c.names[0], "top_song");
            cr_assert_str_eq(c.args[0], "{\"sign\": \"WZPZ\"}");
            cr_assert_str_eq(c.finish, "tool_calls");
            cr_assert_eq(c.usage_chunks, usage);
            /* role, 2 texts, tool start, 2 pieces (the empty one is not sent), finish, usage */
            cr_assert_eq(c.chunks, 1 + 2 + 1 + 2 + 1 + usage);
            cr_assert_eq(d.s.usage.prompt, 512);
            cr_assert_eq(d.s.usage.completion, 63);
            cr_assert_eq(d.s.usage.cached, 100);
            if (usage)
                cr_assert_str_eq(c.last,
                                 q("{'id':'chatcmpl-r1','object':'chat.completion.chunk',"
                                   "'created':1700000000,'model':'claude \\'haiku\\'','choices':"
                                   "[],'usage':{'prompt_tokens':512,'completion_tokens':63,"
                                   "'total_tokens':575,'prompt_tokens_details':{"
                                   "'cached_tokens':100}}}"));
            sl_buf_release(&d.out);
        }
    }
    sl_buf_release(&body);
}

Test(bedrock, the_first_chunks_byte_for_byte)
{
    struct sl_bedrock_stream s;
    sl_bedrock_stream_init(&s, NULL, "m", 7, 0);
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    struct sl_str ev = {"event", 5};
    const char *start = q("{'p':'ab','role':'assistant'}");
    cr_assert_eq(sl_bedrock_stream_event(&s, ev, (struct sl_str){"messageStart", 12}, start,
                                         strlen(start), &out),
                 0);
    const char *delta = q("{'contentBlockIndex':0,'delta':{'text':'Hi \\'there\\''}}");
    cr_assert_eq(sl_bedrock_stream_event(&s, ev, (struct sl_str){"contentBlockDelta", 17}, delta,
                                         strlen(delta), &out),
                 0);
    cr_assert_str_eq(
        out.ptr,
        q("data: {'id':'chatcmpl-bedrock','object':'chat.completion.chunk','created':7,'model':"
          "'m','choices':[{'index':0,'delta':{'role':'assistant','content':''},'logprobs':null,"
          "'finish_reason':null}]}\n\n"
          "data: {'id':'chatcmpl-bedrock','object':'chat.completion.chunk','created':7,'model':"
          "'m','choices':[{'index':0,'delta':{'content':'Hi \\'there\\''},'logprobs':null,"
          "'finish_reason':null}]}\n\n"));
    sl_buf_release(&out);
}

Test(bedrock, messagestop_without_metadata_ends_the_stream_at_the_end_of_the_body)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    converse_stream(&body, 0);
    for (int usage = 0; usage <= 1; usage++) {
        struct drive d;
        drive(&d, &body, 5, usage, 1 << 20);
        cr_assert_eq(d.rc, 0);
        cr_assert_eq(d.s.state, SL_BS_STOPPED);
        cr_assert_eq(sl_bedrock_stream_end(&d.s, &d.out), 0);
        cr_assert_eq(d.s.state, SL_BS_DONE);
        cr_assert_eq(sl_bedrock_stream_end(&d.s, &d.out), 0, "a second end writes nothing");
        struct client c;
        read_client(&c, &d.out, "chatcmpl-r1");
        cr_assert(c.done && c.after_done == 0 && c.errors == 0);
        cr_assert_str_eq(c.finish, "tool_calls");
        cr_assert_eq(c.usage_chunks, usage);
        cr_assert_eq(d.s.usage.prompt + d.s.usage.completion, 0);
        sl_buf_release(&d.out);
    }
    sl_buf_release(&body);
}

Test(bedrock, metadata_before_messagestop_is_kept_for_the_end)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    frame(&body, "event", "messageStart", "{'role':'assistant'}");
    frame(&body, "event", "contentBlockDelta", "{'contentBlockIndex':0,'delta':{'text':'x'}}");
    frame(&body, "event", "metadata", "{'usage':{'inputTokens':3,'outputTokens':1}}");
    frame(&body, "event", "messageStop", "{'stopReason':'max_tokens'}");
    struct drive d;
    drive(&d, &body, 1 << 20, 1, 1 << 20);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(d.s.state, SL_BS_DONE);
    struct client c;
    read_client(&c, &d.out, "chatcmpl-r1");
    cr_assert(c.done && c.errors == 0);
    cr_assert_str_eq(c.finish, "length");
    cr_assert_eq(c.usage_chunks, 1);
    cr_assert_eq(d.s.usage.prompt, 3);
    sl_buf_release(&d.out);
    sl_buf_release(&body);
}

Test(bedrock, a_stream_cut_before_messagestop_is_reported_at_the_end)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    converse_stream(&body, 1);
    /* cut after each whole frame before messageStop: the translator says
     * the stream was cut (a frame cut in the middle is the decoder's) */
    struct sl_es_decoder dec;
    size_t frames = 0, ends[16];
    for (size_t pos = 0; pos < body.len; frames++) {
        uint32_t total =
            (uint32_t)((unsigned char)body.ptr[pos] << 24 | (unsigned char)body.ptr[pos + 1] << 16 |
                       (unsigned char)body.ptr[pos + 2] << 8 | (unsigned char)body.ptr[pos + 3]);
        pos += total;
        ends[frames] = pos;
    }
    cr_assert_eq(frames, 11);
    for (size_t f = 0; f < 9; f++) {
        struct drive d;
        sl_bedrock_stream_init(&d.s, "chatcmpl-r1", "claude \"haiku\"", 1700000000, 1);
        sl_buf_init(&d.out, 1 << 20);
        d.rc = 0;
        sl_es_decoder_init(&dec, 0, on_message, &d);
        cr_assert_eq(sl_es_decoder_feed(&dec, body.ptr, ends[f]), 0);
        sl_es_decoder_release(&dec);
        cr_assert_eq(d.rc, 0);
        cr_assert_eq(sl_bedrock_stream_end(&d.s, &d.out), UV_EOF, "cut after frame %zu", f);
        struct client c;
        read_client(&c, &d.out, "chatcmpl-r1");
        cr_assert(!c.done && c.errors == 0);
        sl_buf_release(&d.out);
    }
    sl_buf_release(&body);
}

struct exception_case {
    const char *type;
    const char *payload;
    enum sl_err err;
    const char *openai_type;
    const char *message;
};

static const struct exception_case exceptions[] = {
    {"throttlingException", "{'message':'Too many requests, please wait before trying again.'}",
     SL_E_RATE_LIMITED, "requests", "Too many requests, please wait before trying again."},
    {"modelStreamErrorException",
     "{'message':'Model stream error','originalStatusCode':500,'originalMessage':'x'}",
     SL_E_BAD_GATEWAY, "server_error", "Model stream error"},
    {"validationException", "{'message':'Input is too long for requested model.'}",
     SL_E_BAD_REQUEST, "invalid_request_error", "Input is too long for requested model."},
    {"internalServerException", "{'Message':'Internal'}", SL_E_SERVER_ERROR, "server_error",
     "Internal"},
    {"serviceUnavailableException", "{}", SL_E_UNAVAILABLE, "server_error",
     "bedrock's stream failed with serviceUnavailableException"},
    {"modelTimeoutException", "not json", SL_E_TIMEOUT, "server_error",
     "bedrock's stream failed with modelTimeoutException"},
    {"somethingNewException", "{'message':'new'}", SL_E_BAD_GATEWAY, "server_error", "new"},
};

Test(bedrock, an_exception_becomes_an_openai_error_and_ends_the_stream)
{
    for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++) {
        const struct exception_case *e = &exceptions[i];
        struct sl_buf body;
        sl_buf_init(&body, 1 << 16);
        frame(&body, "event", "messageStart", "{'role':'assistant'}");
        frame(&body, "event", "contentBlockDelta",
              "{'contentBlockIndex':0,'delta':{'text':'partial'}}");
        frame(&body, "exception", e->type, e->payload);
        frame(&body, "event", "contentBlockDelta",
              "{'contentBlockIndex':0,'delta':{'text':'ignored'}}");
        struct drive d;
        drive(&d, &body, 7, 1, 1 << 20);
        cr_assert_eq(d.rc, 0, "%s", e->type);
        cr_assert_eq(d.s.state, SL_BS_FAILED);
        cr_assert_eq(d.s.err, e->err, "%s: %s", e->type, sl_err_name(d.s.err));
        cr_assert_eq(sl_bedrock_stream_end(&d.s, &d.out), 0);
        struct client c;
        read_client(&c, &d.out, "chatcmpl-r1");
        cr_assert_eq(c.errors, 1);
        cr_assert(!c.done);
        cr_assert_str_eq(c.text, "partial");
        cr_assert_str_eq(str(c.last, "error.type"), e->openai_type, "%s", e->type);
        cr_assert_str_eq(str(c.last, "error.message"), e->message);
        sl_buf_release(&d.out);
        sl_buf_release(&body);
    }
    cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(SL_E_RATE_LIMITED));
}

Test(bedrock, an_event_stream_error_message_ends_the_stream)
{
    struct sl_buf body;
    sl_buf_init(&body, 4096);
    frame(&body, "event", "messageStart", "{'role':'assistant'}");
    struct sl_es_header h[3] = {
        {.name = {":message-type", 13}, .type = SL_ES_STRING, .str = {"error", 5}},
        {.name = {":error-code", 11}, .type = SL_ES_STRING, .str = {"InternalFailure", 15}},
        {.name = {":error-message", 14}, .type = SL_ES_STRING, .str = {"it \"broke\"", 10}},
    };
    cr_assert_eq(sl_eventstream_encode(&body, h, 3, NULL, 0), 0);
    struct drive d;
    drive(&d, &body, 1 << 20, 0, 1 << 20);
    cr_assert_eq(d.s.state, SL_BS_FAILED);
    cr_assert_eq(d.s.err, SL_E_BAD_GATEWAY);
    struct client c;
    read_client(&c, &d.out, "chatcmpl-r1");
    cr_assert_eq(c.errors, 1);
    cr_assert_str_eq(str(c.last, "error.message"),
                     "bedrock's stream failed: InternalFailure: it \"broke\"");
    sl_buf_release(&d.out);
    sl_buf_release(&body);
}

struct broken_case {
    const char *type;
    const char *payload;
};

Test(bedrock, broken_streams_end_with_an_error)
{
    static const struct broken_case cases[][2] = {
        {{"contentBlockDelta", "{'contentBlockIndex':0,'delta':{'text':'x'}}"}, {NULL, NULL}},
        {{"messageStart", "{'role':'assistant'}"}, {"messageStart", "{'role':'assistant'}"}},
        {{"messageStart", "{'role':'assistant'}"}, {"contentBlockDelta", "not json"}},
        {{"messageStart", "{'role':'assistant'}"}, {"contentBlockDelta", "{'delta':{'text':'x'}}"}},
        {{"messageStart", "{'role':'assistant'}"},
         {"contentBlockDelta", "{'contentBlockIndex':0,'delta':{'text':7}}"}},
        {{"messageStart", "{'role':'assistant'}"},
         {"contentBlockDelta", "{'contentBlockIndex':0,'delta':{'toolUse':{'input':'{'}}}"}},
        {{"messageStart", "{'role':'assistant'}"},
         {"contentBlockStart", "{'contentBlockIndex':1,'start':{'toolUse':{'name':'f'}}}"}},
        {{"messageStart", "{'role':'assistant'}"}, {"contentBlockStart", "{'start':{}}"}},
        {{"messageStop", "{'stopReason':'end_turn'}"}, {NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_bedrock_stream s;
        sl_bedrock_stream_init(&s, "i", "claude \"haiku\"", 1700000000, 0);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        int rc = 0;
        for (int k = 0; k < 2 && cases[i][k].type && rc == 0; k++) {
            const char *p = q(cases[i][k].payload);
            rc = sl_bedrock_stream_event(
                &s, (struct sl_str){"event", 5},
                (struct sl_str){cases[i][k].type, strlen(cases[i][k].type)}, p, strlen(p), &out);
        }
        cr_assert_eq(rc, UV_EPROTO, "case %zu", i);
        cr_assert_eq(s.state, SL_BS_FAILED);
        cr_assert_eq(s.err, SL_E_BAD_GATEWAY);
        cr_assert_eq(sl_bedrock_stream_end(&s, &out), 0);
        struct client c;
        read_client(&c, &out, "i");
        cr_assert_eq(c.errors, 1, "case %zu", i);
        cr_assert_str_eq(str(c.last, "error.code"), "bad_upstream_stream");
        sl_buf_release(&out);
    }
    /* a message type that is neither event nor exception */
    struct sl_bedrock_stream s;
    sl_bedrock_stream_init(&s, "i", "m", 1, 0);
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    cr_assert_eq(sl_bedrock_stream_event(&s, (struct sl_str){"", 0},
                                         (struct sl_str){"messageStart", 12}, "{}", 2, &out),
                 UV_EPROTO);
    sl_buf_release(&out);
}

Test(bedrock, unknown_events_and_blocks_are_skipped)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    frame(&body, "event", "messageStart", "{'role':'assistant'}");
    frame(&body, "event", "somethingNew", "{'x':1}");
    frame(&body, "event", "contentBlockDelta",
          "{'contentBlockIndex':0,'delta':{'reasoningContent':{'text':'thinking'}}}");
    frame(&body, "event", "contentBlockDelta",
          "{'contentBlockIndex':0,'delta':{'reasoningContent':{'signature':'sig'}}}");
    frame(&body, "event", "contentBlockStop", "{'contentBlockIndex':0}");
    frame(&body, "event", "contentBlockStart", "{'contentBlockIndex':1,'start':{'image':{}}}");
    frame(&body, "event", "contentBlockDelta", "{'contentBlockIndex':2,'delta':{'text':''}}");
    frame(&body, "event", "contentBlockDelta", "{'contentBlockIndex':2,'delta':{'text':'answer'}}");
    frame(&body, "event", "messageStop", "{'stopReason':'end_turn'}");
    frame(&body, "event", "metadata", "{'usage':{'inputTokens':1,'outputTokens':2}}");
    frame(&body, "event", "metadata", "{'usage':{'inputTokens':9,'outputTokens':9}}");
    struct drive d;
    drive(&d, &body, 1 << 20, 0, 1 << 20);
    cr_assert_eq(d.rc, 0);
    cr_assert_eq(d.s.state, SL_BS_DONE);
    struct client c;
    read_client(&c, &d.out, "chatcmpl-r1");
    cr_assert(c.done && c.after_done == 0 && c.errors == 0);
    cr_assert_str_eq(c.text, "answer");
    cr_assert_str_eq(c.finish, "stop");
    cr_assert_eq(c.chunks, 3);
    cr_assert_eq(d.s.usage.completion, 2, "messages after the end are ignored");
    sl_buf_release(&d.out);
    sl_buf_release(&body);
}

Test(bedrock, two_tool_calls_get_their_own_indexes)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    frame(&body, "event", "messageStart", "{'role':'assistant'}");
    for (int k = 0; k < 2; k++) {
        char start[256], delta[256], stop[64];
        snprintf(start, sizeof(start),
                 "{'contentBlockIndex':%d,'start':{'toolUse':{'name':'f%d','toolUseId':'t%d'}}}", k,
                 k, k);
        snprintf(delta, sizeof(delta),
                 "{'contentBlockIndex':%d,'delta':{'toolUse':{'input':'{\\'k\\':%d}'}}}", k, k);
        snprintf(stop, sizeof(stop), "{'contentBlockIndex':%d}", k);
        frame(&body, "event", "contentBlockStart", start);
        frame(&body, "event", "contentBlockDelta", delta);
        frame(&body, "event", "contentBlockStop", stop);
    }
    frame(&body, "event", "messageStop", "{'stopReason':'tool_use'}");
    frame(&body, "event", "metadata", "{'usage':{'inputTokens':1,'outputTokens':2}}");
    struct drive d;
    drive(&d, &body, 1 << 20, 0, 1 << 20);
    cr_assert_eq(d.rc, 0);
    struct client c;
    read_client(&c, &d.out, "chatcmpl-r1");
    cr_assert_str_eq(c.ids[0], "t0");
    cr_assert_str_eq(c.ids[1], "t1");
    cr_assert_str_eq(c.names[1], "f1");
    cr_assert_str_eq(c.args[0], "{\"k\":0}");
    cr_assert_str_eq(c.args[1], "{\"k\":1}");
    sl_buf_release(&d.out);
    sl_buf_release(&body);
}

Test(bedrock, stream_output_is_bounded_per_message)
{
    struct sl_buf body;
    sl_buf_init(&body, 1 << 16);
    converse_stream(&body, 1);
    for (size_t max = 0; max < 3000; max += 11) {
        struct drive d;
        drive(&d, &body, 1 << 20, 1, max);
        cr_assert_leq(d.out.len, max);
        cr_assert(d.rc == 0 || d.rc == UV_ENOBUFS);
        if (d.rc == UV_ENOBUFS) {
            cr_assert_eq(d.s.state, SL_BS_FAILED);
            cr_assert_eq(d.s.err, SL_E_TOO_LARGE);
        }
        /* whole events only */
        struct client c;
        read_client(&c, &d.out, "chatcmpl-r1");
        sl_buf_release(&d.out);
    }
    sl_buf_release(&body);
}

/* ---- errors ---- */

struct error_case {
    int status;
    const char *error_type; /* x-amzn-ErrorType, or NULL */
    const char *body;
    enum sl_err err;
    int client_status;
    const char *type, *code, *message;
};

static const struct error_case errors[] = {
    {400, "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
     "{'message':'The model returned the following errors: messages: roles must alternate'}",
     SL_E_BAD_REQUEST, 400, "invalid_request_error", NULL,
     "The model returned the following errors: messages: roles must alternate"},
    {403, "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
     "{'Message':'You do not have access to the model with the specified model ID.'}",
     SL_E_UNAUTHORIZED, 403, "invalid_request_error", "permission_denied",
     "You do not have access to the model with the specified model ID."},
    {403, "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/",
     "{'message':'The security token included in the request is invalid.'}", SL_E_UNAUTHORIZED, 401,
     "invalid_request_error", "invalid_api_key",
     "The security token included in the request is invalid."},
    {403, "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/",
     "{'message':'The request signature we calculated does not match the signature you "
     "provided.'}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key",
     "The request signature we calculated does not match the signature you provided."},
    {403, "MissingAuthenticationTokenException", "{'message':'Missing Authentication Token'}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key",
     "Missing Authentication Token"},
    {403, "ExpiredTokenException",
     "{'message':'The security token included in the request is "
     "expired'}",
     SL_E_UNAUTHORIZED, 401, "invalid_request_error", "invalid_api_key",
     "The security token included in the request is expired"},
    {404, "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock/",
     "{'message':'Model not found.'}", SL_E_BAD_REQUEST, 404, "invalid_request_error",
     "model_not_found", "Model not found."},
    {429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
     "{'message':'Too many requests, please wait before trying again.'}", SL_E_RATE_LIMITED, 429,
     "requests", "rate_limit_exceeded", "Too many requests, please wait before trying again."},
    {400, "ServiceQuotaExceededException", "{'message':'Your request exceeds the service quota'}",
     SL_E_RATE_LIMITED, 429, "requests", "rate_limit_exceeded",
     "Your request exceeds the service quota"},
    {429, "ModelNotReadyException", "{'message':'Model is not ready'}", SL_E_UNAVAILABLE, 503,
     "server_error", "model_not_ready", "Model is not ready"},
    {408, "ModelTimeoutException", "{'message':'Model has timed out'}", SL_E_TIMEOUT, 504,
     "server_error", "timeout", "Model has timed out"},
    {424, "ModelErrorException", "{'message':'Received error from model'}", SL_E_BAD_GATEWAY, 502,
     "server_error", NULL, "Received error from model"},
    {500, "InternalServerException", "{'message':'Internal'}", SL_E_SERVER_ERROR, 500,
     "server_error", NULL, "Internal"},
    {503, "ServiceUnavailableException", "{'message':'Bedrock is unable to process your request.'}",
     SL_E_UNAVAILABLE, 503, "server_error", "overloaded",
     "Bedrock is unable to process your request."},
    /* no header: the status decides */
    {429, NULL, "{'message':'slow down'}", SL_E_RATE_LIMITED, 429, "requests",
     "rate_limit_exceeded", "slow down"},
    {503, NULL, "<html>unavailable</html>", SL_E_UNAVAILABLE, 503, "server_error", NULL,
     "bedrock answered HTTP 503 without a message"},
    {502, "", "", SL_E_BAD_GATEWAY, 502, "server_error", NULL,
     "bedrock answered HTTP 502 without a message"},
    {400, "SomethingNewException:http://x", "{'message':7}", SL_E_BAD_REQUEST, 400,
     "invalid_request_error", NULL,
     "bedrock answered HTTP 400 SomethingNewException without a message"},
    {418, "SomethingNewException", "{'message':'\\'quoted\\''}", SL_E_BAD_REQUEST, 418,
     "invalid_request_error", NULL, "\"quoted\""},
    {0, NULL, "", SL_E_BAD_GATEWAY, 502, "server_error", NULL,
     "bedrock's stream failed with an error"},
};

Test(bedrock, errors_map_to_openai_errors_and_classes)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const struct error_case *c = &errors[i];
        const char *body = q(c->body);
        struct sl_buf out;
        sl_buf_init(&out, 4096);
        struct sl_bedrock_error e;
        cr_assert_eq(sl_bedrock_error(c->status, c->error_type,
                                      c->error_type ? strlen(c->error_type) : 0, body, strlen(body),
                                      &out, &e),
                     0);
        assert_json(out.ptr, out.len);
        cr_assert_eq(e.err, c->err, "%zu: %s", i, sl_err_name(e.err));
        cr_assert_eq(e.status, c->client_status, "%zu", i);
        cr_assert_str_eq(e.type, c->type);
        cr_assert_str_eq(str(out.ptr, "error.type"), c->type);
        cr_assert_str_eq(str(out.ptr, "error.message"), c->message, "%zu", i);
        cr_assert_str_eq(raw(out.ptr, "error.param"), "null");
        if (c->code)
            cr_assert_str_eq(str(out.ptr, "error.code"), c->code);
        else
            cr_assert_str_eq(raw(out.ptr, "error.code"), "null");
        sl_buf_release(&out);
    }
    /* the transient ones are worth another attempt, the others not */
    static const char *transient[] = {
        "ThrottlingException",       "throttlingException",     "ServiceUnavailableException",
        "ModelNotReadyException",    "InternalServerException", "ModelTimeoutException",
        "modelStreamErrorException", "ModelErrorException",     "serviceQuotaExceededException",
    };
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        cr_assert(SL_ERR_TRANSIENT &
                      SL_ERR_BIT(sl_bedrock_error_class(transient[i], strlen(transient[i]), 0).err),
                  "%s", transient[i]);
    static const char *final[] = {"ValidationException", "AccessDeniedException",
                                  "UnrecognizedClientException", "ResourceNotFoundException",
                                  "validationException"};
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        cr_assert(!(SL_ERR_TRANSIENT &
                    SL_ERR_BIT(sl_bedrock_error_class(final[i], strlen(final[i]), 0).err)),
                  "%s", final[i]);
    /* the case of the first letter only: "THROTTLINGEXCEPTION" is unknown */
    cr_assert_eq(sl_bedrock_error_class("THROTTLINGEXCEPTION", 19, 400).err, SL_E_BAD_REQUEST);
}

Test(bedrock, error_output_is_bounded)
{
    const char *body = q("{'message':'Too many requests, please wait before trying again.'}");
    for (size_t max = 0; max < 200; max++) {
        struct sl_buf out;
        sl_buf_init(&out, max);
        struct sl_bedrock_error e;
        int rc = sl_bedrock_error(429, "ThrottlingException", 19, body, strlen(body), &out, &e);
        cr_assert(rc == 0 || rc == UV_ENOBUFS);
        cr_assert_leq(out.len, max);
        cr_assert_eq(e.err, SL_E_RATE_LIMITED, "classified whatever the bound");
        sl_buf_release(&out);
    }
}
