/* The Responses front (src/providers/responses_*.c) as tables: requests,
 * chat completions and chat streams from OpenAI's documented examples (the
 * API reference for responses and chat completions, the function calling,
 * images and structured outputs guides), each output checked byte for
 * byte. The JSON is written with single quotes for readability: J() turns
 * them into double quotes (no text here has an apostrophe). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/json_scan.h"
#include "http/sse.h"
#include "providers/responses_front.h"

/* s with ' turned into ", in one of a few rotating static buffers. */
static const char *J(const char *s)
{
    static char bufs[6][16384];
    static int next;
    char *o = bufs[next++ % 6];
    size_t n = strlen(s);
    cr_assert_lt(n, sizeof(bufs[0]));
    for (size_t i = 0; i <= n; i++)
        o[i] = s[i] == '\'' ? '"' : s[i];
    return o;
}

static void assert_json(const char *text, size_t len)
{
    struct sl_json_doc doc;
    cr_assert_eq(sl_json_scan(text, len, &doc), 0, "not JSON (%s at %zu): %.*s", doc.error,
                 doc.error_at, (int)len, text);
}

/* ---- requests ---- */

struct req_case {
    const char *name;
    const char *responses;
    const char *chat;
};

static const struct req_case req_cases[] = {
    {"a string input (the API reference's first example)",
     "{'model':'gpt-4.1','input':'Tell me a three sentence bedtime story about a unicorn.'}",
     "{'model':'gpt-4.1','messages':[{'role':'user',"
     "'content':'Tell me a three sentence bedtime story about a unicorn.'}]}"},
    {"instructions become a leading system message",
     "{'model':'gpt-4.1','instructions':'Talk like a pirate.',"
     "'input':'Are semicolons optional in JavaScript?'}",
     "{'model':'gpt-4.1','messages':[{'role':'system','content':'Talk like a pirate.'},"
     "{'role':'user','content':'Are semicolons optional in JavaScript?'}]}"},
    {"input_text and input_image parts (the images guide's example)",
     "{'model':'gpt-4.1','input':[{'role':'user','content':[{'type':'input_text',"
     "'text':'what is in this image?'},{'type':'input_image',"
     "'image_url':'https://upload.wikimedia.org/a.jpg','detail':'high'}]}]}",
     "{'model':'gpt-4.1','messages':[{'role':'user','content':[{'type':'text',"
     "'text':'what is in this image?'},{'type':'image_url',"
     "'image_url':{'url':'https://upload.wikimedia.org/a.jpg','detail':'high'}}]}]}"},
    {"developer and system roles, an assistant output_text replayed with its id and status",
     "{'model':'gpt-4.1','input':[{'role':'developer','content':'Talk like a pirate.'},"
     "{'role':'user','content':'Are semicolons optional in JavaScript?'},{'type':'message',"
     "'role':'assistant','id':'msg_1','status':'completed','content':[{'type':'output_text',"
     "'text':'Arr, they be optional.','annotations':[]}]},{'role':'user',"
     "'content':'Thanks'}]}",
     "{'model':'gpt-4.1','messages':[{'role':'system','content':'Talk like a pirate.'},"
     "{'role':'user','content':'Are semicolons optional in JavaScript?'},"
     "{'role':'assistant','content':[{'type':'text','text':'Arr, they be optional.'}]},"
     "{'role':'user','content':'Thanks'}]}"},
    {"function calling round trip (the function calling guide): flat tools nested, the assistant "
     "text and its two calls grouped, outputs as tool messages",
     "{'model':'gpt-4.1','tools':[{'type':'function','name':'get_weather',"
     "'description':'Get current temperature for a given location.',"
     "'parameters':{'type':'object','properties':{'location':{'type':'string'}},"
     "'required':['location'],'additionalProperties':false},'strict':true}],"
     "'tool_choice':'required','parallel_tool_calls':false,'input':[{'role':'user',"
     "'content':'What is the weather like in Paris and Bogota today?'},{'type':'message',"
     "'role':'assistant','content':[{'type':'output_text','text':'Checking.'}]},"
     "{'type':'function_call','id':'fc_1','call_id':'call_1','name':'get_weather',"
     "'arguments':'{\\'location\\':\\'Paris, France\\'}'},{'type':'function_call',"
     "'id':'fc_2','call_id':'call_2','name':'get_weather',"
     "'arguments':'{\\'location\\':\\'Bogota, Colombia\\'}'},{'type':'function_call_output',"
     "'call_id':'call_1','output':'14'},{'type':'function_call_output','call_id':'call_2',"
     "'output':[{'type':'input_text','text':'22'}]}]}",
     "{'model':'gpt-4.1','messages':[{'role':'user',"
     "'content':'What is the weather like in Paris and Bogota today?'},{'role':'assistant',"
     "'content':[{'type':'text','text':'Checking.'}],'tool_calls':[{'id':'call_1',"
     "'type':'function','function':{'name':'get_weather',"
     "'arguments':'{\\'location\\':\\'Paris, France\\'}'}},{'id':'call_2','type':'function',"
     "'function':{'name':'get_weather','arguments':'{\\'location\\':\\'Bogota,"
     " Colombia\\'}'}}]},{'role':'tool','tool_call_id':'call_1','content':'14'},"
     "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'22'}]}],"
     "'tools':[{'type':'function','function':{'name':'get_weather',"
     "'description':'Get current temperature for a given location.',"
     "'parameters':{'type':'object','properties':{'location':{'type':'string'}},"
     "'required':['location'],'additionalProperties':false},'strict':true}}],"
     "'tool_choice':'required','parallel_tool_calls':false}"},
    {"structured outputs (json_schema), sampling, max_output_tokens, stream, user, reasoning "
     "effort; dropped fields",
     "{'model':'gpt-4o-2024-08-06','input':[{'role':'system',"
     "'content':'Extract the event information.'},{'role':'user',"
     "'content':'Alice and Bob are going to a science fair on Friday.'}],"
     "'text':{'format':{'type':'json_schema','name':'calendar_event',"
     "'schema':{'type':'object','properties':{'name':{'type':'string'}},'required':['name'],"
     "'additionalProperties':false},'strict':true}},'max_output_tokens':500,"
     "'temperature':0.2,'top_p':0.9,'stream':true,'user':'u-1','reasoning':{'effort':'low'},"
     "'metadata':{'k':'v'},'store':false,'truncation':'disabled','service_tier':'auto',"
     "'prompt_cache_key':'x','include':[],'background':false,'previous_response_id':null}",
     "{'model':'gpt-4o-2024-08-06','messages':[{'role':'system',"
     "'content':'Extract the event information.'},{'role':'user',"
     "'content':'Alice and Bob are going to a science fair on Friday.'}],"
     "'max_completion_tokens':500,'temperature':0.2,'top_p':0.9,"
     "'response_format':{'type':'json_schema','json_schema':{'name':'calendar_event',"
     "'schema':{'type':'object','properties':{'name':{'type':'string'}},'required':['name'],"
     "'additionalProperties':false},'strict':true}},'reasoning_effort':'low','stream':true,"
     "'stream_options':{'include_usage':true},'user':'u-1'}"},
    {"json_object, verbosity, a tool without parameters, tool_choice naming a function, "
     "safety_identifier as user",
     "{'model':'m','input':'hi','text':{'format':{'type':'json_object'},'verbosity':'low'},"
     "'tools':[{'type':'function','name':'f','parameters':null,'strict':null}],"
     "'tool_choice':{'type':'function','name':'f'},'safety_identifier':'sid'}",
     "{'model':'m','messages':[{'role':'user','content':'hi'}],'tools':[{'type':'function',"
     "'function':{'name':'f'}}],'tool_choice':{'type':'function','function':{'name':'f'}},"
     "'verbosity':'low','response_format':{'type':'json_object'},'user':'sid'}"},
    {"tool_choice and parallel_tool_calls without tools are left out (chat refuses them)",
     "{'model':'m','input':'hi','tool_choice':'auto','parallel_tool_calls':true}",
     "{'model':'m','messages':[{'role':'user','content':'hi'}]}"},
};

static int request(const char *body, struct sl_buf *out, struct sl_buf *echo,
                   struct sl_responses_req_info *info, struct sl_xlat_refusal *refusal)
{
    sl_buf_init(out, 1 << 16);
    sl_buf_init(echo, 1 << 16);
    return sl_responses_request(body, strlen(body), NULL, out, echo, info, refusal);
}

Test(responses_front, requests_translate_to_chat_requests)
{
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        struct sl_buf out, echo;
        struct sl_responses_req_info info;
        struct sl_xlat_refusal no;
        int rc = request(J(c->responses), &out, &echo, &info, &no);
        cr_assert_eq(rc, 0, "%s: %d %s: %s", c->name, rc, no.param, no.message);
        assert_json(out.ptr, out.len);
        assert_json(echo.ptr, echo.len);
        cr_assert_str_eq(out.ptr, J(c->chat), "%s", c->name);
        sl_buf_release(&out);
        sl_buf_release(&echo);
    }
}

Test(responses_front, the_echo_and_the_info)
{
    struct sl_buf out, echo;
    struct sl_responses_req_info info;
    struct sl_xlat_refusal no;
    /* the defaults a Response shows for fields not sent */
    cr_assert_eq(request(J(req_cases[1].responses), &out, &echo, &info, &no), 0);
    cr_assert_str_eq(
        echo.ptr,
        J("{'instructions':'Talk like a pirate.','max_output_tokens':null,'metadata':{},"
          "'parallel_tool_calls':true,'previous_response_id':null,'reasoning':{'effort':null,"
          "'summary':null},'store':false,'temperature':null,'text':{'format':{'type':'text'}},"
          "'tool_choice':'auto','tools':[],'top_p':null,'truncation':'disabled'}"));
    cr_assert_eq(info.stream, 0);
    cr_assert_eq(info.model.len, 7);
    cr_assert_eq(memcmp(info.model.ptr, "gpt-4.1", 7), 0);
    sl_buf_release(&out);
    sl_buf_release(&echo);
    /* the fields sent, as they were sent */
    cr_assert_eq(request(J(req_cases[5].responses), &out, &echo, &info, &no), 0);
    cr_assert_str_eq(
        echo.ptr,
        J("{'instructions':null,'max_output_tokens':500,'metadata':{'k':'v'},"
          "'parallel_tool_calls':true,'previous_response_id':null,'reasoning':{'effort':'low'},"
          "'store':false,'temperature':0.2,'text':{'format':{'type':'json_schema',"
          "'name':'calendar_event','schema':{'type':'object',"
          "'properties':{'name':{'type':'string'}},'required':['name'],"
          "'additionalProperties':false},'strict':true}},'tool_choice':'auto','tools':[],"
          "'top_p':0.9,'truncation':'disabled','user':'u-1'}"));
    cr_assert_eq(info.stream, 1);
    sl_buf_release(&out);
    sl_buf_release(&echo);
    /* the deployment's model name replaces the client's */
    struct sl_responses_req_opts o = {.model = "claude-\"x\""};
    sl_buf_init(&out, 1 << 16);
    sl_buf_init(&echo, 1 << 16);
    const char *body = J("{'model':'gpt-4.1','input':'hi'}");
    cr_assert_eq(sl_responses_request(body, strlen(body), &o, &out, &echo, &info, &no), 0);
    cr_assert_str_eq(out.ptr,
                     J("{'model':'claude-\\'x\\'','messages':[{'role':'user','content':'hi'}]}"));
    sl_buf_release(&out);
    sl_buf_release(&echo);
}

struct refusal_case {
    const char *body;
    const char *param;
    const char *message; /* a part of the message */
};

#define PASSTHROUGH "needs a deployment that serves the Responses API itself"

static const struct refusal_case refusal_cases[] = {
    {"{'model':'m','input':'x','previous_response_id':'resp_1'}", "previous_response_id",
     PASSTHROUGH},
    {"{'model':'m','input':'x','conversation':'conv_1'}", "conversation", PASSTHROUGH},
    {"{'model':'m','input':'x','conversation':{'id':'conv_1'}}", "conversation", PASSTHROUGH},
    {"{'model':'m','input':'x','background':true}", "background", PASSTHROUGH},
    {"{'model':'m','input':'x','include':['reasoning.encrypted_content']}", "include", PASSTHROUGH},
    {"{'model':'m','input':'x','prompt':{'id':'pmpt_1'}}", "prompt", PASSTHROUGH},
    {"{'model':'m','input':'x','max_tool_calls':3}", "max_tool_calls", PASSTHROUGH},
    {"{'model':'m','input':[{'type':'reasoning','id':'rs_1','summary':[]}]}", "input[0].type",
     PASSTHROUGH},
    {"{'model':'m','input':[{'type':'item_reference','id':'msg_1'}]}", "input[0].type",
     PASSTHROUGH},
    {"{'model':'m','input':[{'role':'user','content':'a'},{'type':'web_search_call','id':'w'}]}",
     "input[1].type", PASSTHROUGH},
    {"{'model':'m','input':'x','tools':[{'type':'function','name':'f'},{'type':'web_search'}]}",
     "tools[1].type", "the built-in tool 'web_search' " PASSTHROUGH},
    {"{'model':'m','input':'x','tools':[{'type':'file_search','vector_store_ids':['v']}]}",
     "tools[0].type", "'file_search'"},
    {"{'model':'m','input':'x','tools':[{'type':'computer_use_preview'}]}", "tools[0].type",
     "'computer_use_preview'"},
    {"{'model':'m','input':'x','tools':[{'type':'code_interpreter'}]}", "tools[0].type",
     "'code_interpreter'"},
    {"{'model':'m','input':'x','tools':[{'type':'mcp','server_label':'s'}]}", "tools[0].type",
     "'mcp'"},
    {"{'model':'m','input':'x','tools':[{'type':'image_generation'}]}", "tools[0].type",
     "'image_generation'"},
    {"{'model':'m','input':'x','tools':[{'type':'function','name':'f'}],'tool_choice':{'type':"
     "'file_search'}}",
     "tool_choice", PASSTHROUGH},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_image','file_id':'file-1'}]}]"
     "}",
     "input[0].content[0]", "file_id " PASSTHROUGH},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_id':'f'}]}]}",
     "input[0].content[0].type", "'input_file'"},
    {"{'model':'m','input':[{'role':'assistant','content':[{'type':'input_image','image_url':'u'}]}"
     "]}",
     "input[0].content[0].type", "'input_image'"},
    {"{'model':'m','input':[{'role':'tool','content':'x'}]}", "input[0].role", "'tool'"},
    {"{'model':'m','input':[{'role':'user'}]}", "input[0].content", "content must be"},
    {"{'model':'m','input':[{'type':'function_call','name':'f','arguments':'{}'}]}", "input[0]",
     "call_id"},
    {"{'model':'m','input':[{'type':'function_call_output','call_id':'c'}]}", "input[0]", "output"},
    {"{'model':'m','input':[7]}", "input[0]", "object"},
    {"{'model':'m','input':7}", "input", "string or an array"},
    {"{'model':'m','input':[]}", "input", "input is required"},
    {"{'model':'m'}", "input", "input is required"},
    {"{'input':'x'}", "model", "model"},
    {"[1]", "", "not a JSON object"},
    {"{'model':'m','input':'x','instructions':['a']}", "instructions", "string"},
    {"{'model':'m','input':'x','max_output_tokens':0}", "max_output_tokens", "positive integer"},
    {"{'model':'m','input':'x','max_output_tokens':1.5}", "max_output_tokens", "positive"},
    {"{'model':'m','input':'x','temperature':'hot'}", "temperature", "number"},
    {"{'model':'m','input':'x','top_p':true}", "top_p", "number"},
    {"{'model':'m','input':'x','tool_choice':'required'}", "tool_choice", "needs tools"},
    {"{'model':'m','input':'x','tool_choice':{'type':'function','name':'f'}}", "tool_choice",
     "no tools"},
    {"{'model':'m','input':'x','tool_choice':'sometimes'}", "tool_choice", "auto, none"},
    {"{'model':'m','input':'x','parallel_tool_calls':'yes'}", "parallel_tool_calls", "boolean"},
    {"{'model':'m','input':'x','tools':{}}", "tools", "array"},
    {"{'model':'m','input':'x','tools':[{'type':'function'}]}", "tools[0]", "name"},
    {"{'model':'m','input':'x','text':{'format':{'type':'json_schema'}}}", "text.format",
     "name and a schema"},
    {"{'model':'m','input':'x','text':{'format':{'type':'yaml'}}}", "text.format.type",
     "json_schema"},
    {"{'model':'m','input':'x','text':'json'}", "text", "object"},
    {"{'model':'m','input':'x','reasoning':'high'}", "reasoning", "object"},
};

Test(responses_front, refusals_name_the_field)
{
    for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
        const struct refusal_case *c = &refusal_cases[i];
        struct sl_buf out, echo;
        struct sl_responses_req_info info;
        struct sl_xlat_refusal refusal;
        int rc = request(J(c->body), &out, &echo, &info, &refusal);
        cr_assert_eq(rc, UV_EINVAL, "%s: %d", c->body, rc);
        cr_assert_str_eq(refusal.param, c->param, "%s", c->body);
        cr_assert(strstr(refusal.message, c->message) != NULL, "%s: '%s'", c->body,
                  refusal.message);
        cr_assert(strchr(refusal.message, '\n') == NULL);
        sl_buf_release(&out);
        sl_buf_release(&echo);
    }
}

Test(responses_front, a_request_past_the_bound_is_enobufs)
{
    const char *body = J(req_cases[4].responses);
    for (size_t max = 0; max < 700; max += 7) {
        struct sl_buf out, echo;
        struct sl_responses_req_info info;
        struct sl_xlat_refusal no;
        sl_buf_init(&out, max);
        sl_buf_init(&echo, 1 << 16);
        int rc = sl_responses_request(body, strlen(body), NULL, &out, &echo, &info, &no);
        cr_assert(rc == UV_ENOBUFS || (rc == 0 && out.len <= max), "max %zu: %d", max, rc);
        sl_buf_release(&out);
        sl_buf_release(&echo);
    }
}

/* ---- responses ---- */

struct resp_case {
    const char *name;
    const char *chat;
    const char *response;
};

static const struct resp_case resp_cases[] = {
    {"text (the chat completions reference example)",
     "{'id':'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT','object':'chat.completion',"
     "'created':1741569952,'model':'gpt-4.1-2025-04-14','choices':[{'index':0,"
     "'message':{'role':'assistant','content':'Hello! How can I assist you today?',"
     "'refusal':null,'annotations':[]},'logprobs':null,'finish_reason':'stop'}],"
     "'usage':{'prompt_tokens':19,'completion_tokens':10,'total_tokens':29,"
     "'prompt_tokens_details':{'cached_tokens':0,'audio_tokens':0},"
     "'completion_tokens_details':{'reasoning_tokens':0,'audio_tokens':0,"
     "'accepted_prediction_tokens':0,'rejected_prediction_tokens':0}},"
     "'service_tier':'default'}",
     "{'id':'resp_B9MBs8CjcvOU2jLn4n570S5qMJKcT','object':'response',"
     "'created_at':1741476542,'status':'completed','background':false,'error':null,"
     "'incomplete_details':null,'model':'gpt-4.1-2025-04-14',"
     "'output':[{'id':'msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT_0','type':'message',"
     "'status':'completed','role':'assistant','content':[{'type':'output_text',"
     "'annotations':[],'logprobs':[],'text':'Hello! How can I assist you today?'}]}],"
     "'usage':{'input_tokens':19,'input_tokens_details':{'cached_tokens':0},"
     "'output_tokens':10,'output_tokens_details':{'reasoning_tokens':0},'total_tokens':29}}"},
    {"two tool calls (the function calling guide), cached and reasoning tokens",
     "{'id':'chatcmpl-abc123','object':'chat.completion','created':1699896916,"
     "'model':'gpt-4o-mini','choices':[{'index':0,'message':{'role':'assistant',"
     "'content':null,'tool_calls':[{'id':'call_abc123','type':'function',"
     "'function':{'name':'get_current_weather','arguments':'{\\'location\\': \\'Boston,"
     " MA\\'}'}},{'id':'call_def','type':'function','function':{'name':'now',"
     "'arguments':'{}'}}]},'logprobs':null,'finish_reason':'tool_calls'}],"
     "'usage':{'prompt_tokens':82,'completion_tokens':17,'total_tokens':99,"
     "'prompt_tokens_details':{'cached_tokens':64},"
     "'completion_tokens_details':{'reasoning_tokens':5}}}",
     "{'id':'resp_abc123','object':'response','created_at':1741476542,'status':'completed',"
     "'background':false,'error':null,'incomplete_details':null,'model':'gpt-4o-mini',"
     "'output':[{'id':'fc_abc123_0','type':'function_call','status':'completed',"
     "'arguments':'{\\'location\\': \\'Boston, MA\\'}','call_id':'call_abc123',"
     "'name':'get_current_weather'},{'id':'fc_abc123_1','type':'function_call',"
     "'status':'completed','arguments':'{}','call_id':'call_def','name':'now'}],"
     "'usage':{'input_tokens':82,'input_tokens_details':{'cached_tokens':64},"
     "'output_tokens':17,'output_tokens_details':{'reasoning_tokens':5},'total_tokens':99}}"},
    {"finish_reason length: incomplete, max_output_tokens",
     "{'id':'x','choices':[{'message':{'content':'Once upon a','role':'assistant'},"
     "'finish_reason':'length'}],'usage':{'prompt_tokens':5,'completion_tokens':3}}",
     "{'id':'resp_x','object':'response','created_at':1741476542,'status':'incomplete',"
     "'background':false,'error':null,'incomplete_details':{'reason':'max_output_tokens'},"
     "'model':'','output':[{'id':'msg_x_0','type':'message','status':'incomplete',"
     "'role':'assistant','content':[{'type':'output_text','annotations':[],'logprobs':[],"
     "'text':'Once upon a'}]}],'usage':{'input_tokens':5,"
     "'input_tokens_details':{'cached_tokens':0},'output_tokens':3,"
     "'output_tokens_details':{'reasoning_tokens':0},'total_tokens':8}}"},
    {"content_filter with a refusal: incomplete, content_filter; no usage: zeros",
     "{'id':'x','choices':[{'message':{'content':null,'refusal':'I cannot help with that.'},"
     "'finish_reason':'content_filter'}]}",
     "{'id':'resp_x','object':'response','created_at':1741476542,'status':'incomplete',"
     "'background':false,'error':null,'incomplete_details':{'reason':'content_filter'},"
     "'model':'','output':[{'id':'msg_x_0','type':'message','status':'incomplete',"
     "'role':'assistant','content':[{'type':'refusal',"
     "'refusal':'I cannot help with that.'}]}],'usage':{'input_tokens':0,"
     "'input_tokens_details':{'cached_tokens':0},'output_tokens':0,"
     "'output_tokens_details':{'reasoning_tokens':0},'total_tokens':0}}"},
};

Test(responses_front, chat_completions_become_responses)
{
    struct sl_responses_ctx ctx = {.created_at = 1741476542};
    for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
        const struct resp_case *c = &resp_cases[i];
        struct sl_buf out;
        struct sl_xlat_usage u;
        sl_buf_init(&out, 1 << 16);
        const char *body = J(c->chat);
        cr_assert_eq(sl_responses_response(body, strlen(body), &ctx, &out, &u), 0, "%s", c->name);
        assert_json(out.ptr, out.len);
        cr_assert_str_eq(out.ptr, J(c->response), "%s", c->name);
        sl_buf_release(&out);
    }
}

Test(responses_front, the_response_carries_the_echo_the_id_and_the_usage)
{
    struct sl_buf out, echo, chat;
    struct sl_responses_req_info info;
    struct sl_xlat_refusal no;
    cr_assert_eq(request(J(req_cases[1].responses), &chat, &echo, &info, &no), 0);
    struct sl_responses_ctx ctx = {
        .id = "resp_given", .created_at = 1741476542, .echo = echo.ptr, .echo_len = echo.len};
    struct sl_xlat_usage u;
    sl_buf_init(&out, 1 << 16);
    const char *body = J(resp_cases[0].chat);
    cr_assert_eq(sl_responses_response(body, strlen(body), &ctx, &out, &u), 0);
    cr_assert_str_eq(
        out.ptr,
        J("{'id':'resp_given','object':'response','created_at':1741476542,'status':'completed',"
          "'background':false,'error':null,'incomplete_details':null,"
          "'model':'gpt-4.1-2025-04-14','instructions':'Talk like a pirate.',"
          "'max_output_tokens':null,'metadata':{},'parallel_tool_calls':true,"
          "'previous_response_id':null,'reasoning':{'effort':null,'summary':null},'store':false,"
          "'temperature':null,'text':{'format':{'type':'text'}},'tool_choice':'auto','tools':[],"
          "'top_p':null,'truncation':'disabled',"
          "'output':[{'id':'msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT_0','type':'message',"
          "'status':'completed','role':'assistant','content':[{'type':'output_text',"
          "'annotations':[],'logprobs':[],'text':'Hello! How can I assist you today?'}]}],"
          "'usage':{'input_tokens':19,'input_tokens_details':{'cached_tokens':0},"
          "'output_tokens':10,'output_tokens_details':{'reasoning_tokens':0},'total_tokens':29}}"));
    cr_assert_eq(u.prompt, 19);
    cr_assert_eq(u.completion, 10);
    cr_assert_eq(u.cached, 0);
    /* the model the client sees */
    sl_buf_reset(&out);
    ctx.model = "my-model";
    cr_assert_eq(sl_responses_response(body, strlen(body), &ctx, &out, NULL), 0);
    cr_assert(strstr(out.ptr, "\"model\":\"my-model\",") != NULL);
    sl_buf_release(&out);
    sl_buf_release(&echo);
    sl_buf_release(&chat);
}

Test(responses_front, what_is_not_a_chat_completion_is_einval)
{
    static const char *const bad[] = {"",
                                      "[]",
                                      "{}",
                                      "{'id':'x'}",
                                      "{'choices':[]}",
                                      "{'choices':[7]}",
                                      "{'choices':[{'message':3}]}",
                                      "{'choices':{}}",
                                      "{'choices':[{}]} x"};
    struct sl_responses_ctx ctx = {.created_at = 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_buf out;
        sl_buf_init(&out, 1 << 16);
        const char *body = J(bad[i]);
        cr_assert_eq(sl_responses_response(body, strlen(body), &ctx, &out, NULL), UV_EINVAL, "%s",
                     bad[i]);
        sl_buf_release(&out);
    }
}

/* ---- streams ---- */

struct stream_run {
    struct sl_responses_stream s;
    struct sl_buf out;
    int last_rc;
};

static void stream_feed(struct stream_run *r, const char *const *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *data = J(events[i]);
        r->last_rc = sl_responses_stream_event(&r->s, data, strlen(data), &r->out);
    }
}

static void stream_start(struct stream_run *r, size_t max_text, size_t max_out)
{
    sl_responses_stream_init(&r->s, NULL, NULL, 1741476542, NULL, 0, max_text);
    sl_buf_init(&r->out, max_out);
    r->last_rc = 0;
}

static void stream_stop(struct stream_run *r)
{
    sl_responses_stream_release(&r->s);
    sl_buf_release(&r->out);
}

#define CHUNK(delta, finish)                                                                       \
    "{'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,"                  \
    "'model':'gpt-4o-mini','choices':[{'index':0,'delta':" delta ",'logprobs':null,"               \
    "'finish_reason':" finish "}]}"

/* A text and two tool calls whose arguments come in pieces, the finish,
 * the usage chunk and [DONE]: the chat stream of OpenAI's function calling
 * guide, with a text before the calls. */
static const char *const text_and_two_calls[] = {
    CHUNK("{'role':'assistant','content':''}", "null"),
    CHUNK("{'content':'Let me check.'}", "null"),
    CHUNK("{'tool_calls':[{'index':0,'id':'call_1','type':'function','function':{'name':"
          "'get_weather','arguments':''}}]}",
          "null"),
    CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'{\\'location\\':'}}]}", "null"),
    CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'\\'Paris\\'}'}}]}", "null"),
    CHUNK("{'tool_calls':[{'index':1,'id':'call_2','type':'function','function':{'name':'now',"
          "'arguments':'{'}}]}",
          "null"),
    CHUNK("{'tool_calls':[{'index':1,'function':{'arguments':'}'}}]}", "null"),
    CHUNK("{}", "'tool_calls'"),
    "{'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':"
    "'gpt-4o-mini','choices':[],'usage':{'prompt_tokens':20,'completion_tokens':12,"
    "'total_tokens':32,'prompt_tokens_details':{'cached_tokens':4}}}",
    "[DONE]",
};

static const char text_and_two_calls_events[] =
    "event: response.created\n"
    "data: {'type':'response.created','response':{'id':'resp_123','object':'response',"
    "'created_at':1741476542,'status':'in_progress','background':false,'error':null,"
    "'incomplete_details':null,'model':'gpt-4o-mini','output':[],'usage':null},"
    "'sequence_number':0}\n"
    "\n"
    "event: response.in_progress\n"
    "data: {'type':'response.in_progress','response':{'id':'resp_123','object':'response',"
    "'created_at':1741476542,'status':'in_progress','background':false,'error':null,"
    "'incomplete_details':null,'model':'gpt-4o-mini','output':[],'usage':null},"
    "'sequence_number':1}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {'type':'response.output_item.added','output_index':0,'item':{'id':'msg_123_0',"
    "'type':'message','status':'in_progress','role':'assistant','content':[]},"
    "'sequence_number':2}\n"
    "\n"
    "event: response.content_part.added\n"
    "data: {'type':'response.content_part.added','item_id':'msg_123_0','output_index':0,"
    "'content_index':0,'part':{'type':'output_text','annotations':[],'logprobs':[],"
    "'text':''},'sequence_number':3}\n"
    "\n"
    "event: response.output_text.delta\n"
    "data: {'type':'response.output_text.delta','item_id':'msg_123_0','output_index':0,"
    "'content_index':0,'delta':'Let me check.','logprobs':[],'sequence_number':4}\n"
    "\n"
    "event: response.output_text.done\n"
    "data: {'type':'response.output_text.done','item_id':'msg_123_0','output_index':0,"
    "'content_index':0,'text':'Let me check.','logprobs':[],'sequence_number':5}\n"
    "\n"
    "event: response.content_part.done\n"
    "data: {'type':'response.content_part.done','item_id':'msg_123_0','output_index':0,"
    "'content_index':0,'part':{'type':'output_text','annotations':[],'logprobs':[],"
    "'text':'Let me check.'},'sequence_number':6}\n"
    "\n"
    "event: response.output_item.done\n"
    "data: {'type':'response.output_item.done','output_index':0,'item':{'id':'msg_123_0',"
    "'type':'message','status':'completed','role':'assistant',"
    "'content':[{'type':'output_text','annotations':[],'logprobs':[],"
    "'text':'Let me check.'}]},'sequence_number':7}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {'type':'response.output_item.added','output_index':1,'item':{'id':'fc_123_1',"
    "'type':'function_call','status':'in_progress','arguments':'','call_id':'call_1',"
    "'name':'get_weather'},'sequence_number':8}\n"
    "\n"
    "event: response.function_call_arguments.delta\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_123_1',"
    "'output_index':1,'delta':'{\\'location\\':','sequence_number':9}\n"
    "\n"
    "event: response.function_call_arguments.delta\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_123_1',"
    "'output_index':1,'delta':'\\'Paris\\'}','sequence_number':10}\n"
    "\n"
    "event: response.function_call_arguments.done\n"
    "data: {'type':'response.function_call_arguments.done','item_id':'fc_123_1',"
    "'output_index':1,'name':'get_weather','arguments':'{\\'location\\':\\'Paris\\'}',"
    "'sequence_number':11}\n"
    "\n"
    "event: response.output_item.done\n"
    "data: {'type':'response.output_item.done','output_index':1,'item':{'id':'fc_123_1',"
    "'type':'function_call','status':'completed','arguments':'{\\'location\\':\\'Paris\\'}',"
    "'call_id':'call_1','name':'get_weather'},'sequence_number':12}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {'type':'response.output_item.added','output_index':2,'item':{'id':'fc_123_2',"
    "'type':'function_call','status':'in_progress','arguments':'','call_id':'call_2',"
    "'name':'now'},'sequence_number':13}\n"
    "\n"
    "event: response.function_call_arguments.delta\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_123_2',"
    "'output_index':2,'delta':'{','sequence_number':14}\n"
    "\n"
    "event: response.function_call_arguments.delta\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_123_2',"
    "'output_index':2,'delta':'}','sequence_number':15}\n"
    "\n"
    "event: response.function_call_arguments.done\n"
    "data: {'type':'response.function_call_arguments.done','item_id':'fc_123_2',"
    "'output_index':2,'name':'now','arguments':'{}','sequence_number':16}\n"
    "\n"
    "event: response.output_item.done\n"
    "data: {'type':'response.output_item.done','output_index':2,'item':{'id':'fc_123_2',"
    "'type':'function_call','status':'completed','arguments':'{}','call_id':'call_2',"
    "'name':'now'},'sequence_number':17}\n"
    "\n"
    "event: response.completed\n"
    "data: {'type':'response.completed','response':{'id':'resp_123','object':'response',"
    "'created_at':1741476542,'status':'completed','background':false,'error':null,"
    "'incomplete_details':null,'model':'gpt-4o-mini','output':[{'id':'msg_123_0',"
    "'type':'message','status':'completed','role':'assistant',"
    "'content':[{'type':'output_text','annotations':[],'logprobs':[],"
    "'text':'Let me check.'}]},{'id':'fc_123_1','type':'function_call','status':'completed',"
    "'arguments':'{\\'location\\':\\'Paris\\'}','call_id':'call_1','name':'get_weather'},"
    "{'id':'fc_123_2','type':'function_call','status':'completed','arguments':'{}',"
    "'call_id':'call_2','name':'now'}],'usage':{'input_tokens':20,"
    "'input_tokens_details':{'cached_tokens':4},'output_tokens':12,"
    "'output_tokens_details':{'reasoning_tokens':0},'total_tokens':32}},'sequence_number':18}\n"
    "\n";

Test(responses_front, a_stream_with_text_and_two_tool_calls)
{
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, text_and_two_calls, sizeof(text_and_two_calls) / sizeof(char *));
    cr_assert_eq(r.last_rc, 0);
    cr_assert_str_eq(r.out.ptr, J(text_and_two_calls_events));
    cr_assert_eq(r.s.state, SL_RS_DONE);
    cr_assert_eq(sl_responses_stream_end(&r.s), 0);
    cr_assert_eq(r.s.usage.prompt, 20);
    cr_assert_eq(r.s.usage.completion, 12);
    cr_assert_eq(r.s.usage.cached, 4);
    stream_stop(&r);
}

/* Every event is "event: T\ndata: {...'type':'T'...}", numbered from 0. */
static int sse_events;
static void count_event(void *arg, const struct sl_sse_event *ev)
{
    (void)arg;
    char want[96];
    snprintf(want, sizeof(want), "{\"type\":\"%.*s\"", (int)ev->event_len, ev->event);
    cr_assert(strncmp(ev->data, want, strlen(want)) == 0, "%s", ev->data);
    char seq[48];
    snprintf(seq, sizeof(seq), "\"sequence_number\":%d}", sse_events++);
    cr_assert(ev->data_len >= strlen(seq) &&
                  strcmp(ev->data + ev->data_len - strlen(seq), seq) == 0,
              "%s", ev->data);
    assert_json(ev->data, ev->data_len);
}

Test(responses_front, the_events_parse_as_sse_in_sequence)
{
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, text_and_two_calls, sizeof(text_and_two_calls) / sizeof(char *));
    struct sl_sse_parser p;
    sse_events = 0;
    sl_sse_parser_init(&p, 0, count_event, NULL);
    cr_assert_eq(sl_sse_parser_feed(&p, r.out.ptr, r.out.len), 0);
    cr_assert_eq(sl_sse_parser_finish(&p), 0);
    cr_assert_eq(sse_events, 19);
    sl_sse_parser_release(&p);
    stream_stop(&r);
}

Test(responses_front, a_length_finish_ends_with_response_incomplete)
{
    static const char *const ev[] = {CHUNK("{'content':'Once'}", "null"),
                                     CHUNK("{'content':' upon'}", "'length'"), "[DONE]"};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 3);
    cr_assert_eq(r.s.state, SL_RS_DONE);
    const char *last = strstr(r.out.ptr, "event: response.incomplete\n");
    cr_assert(last != NULL, "%s", r.out.ptr);
    cr_assert(strstr(last, J("'status':'incomplete'")) != NULL);
    cr_assert(strstr(last, J("'incomplete_details':{'reason':'max_output_tokens'}")) != NULL);
    cr_assert(strstr(last, J("'text':'Once upon'")) != NULL);
    cr_assert(strstr(r.out.ptr, "response.completed") == NULL);
    stream_stop(&r);
}

Test(responses_front, done_without_a_usage_chunk_completes)
{
    static const char *const ev[] = {CHUNK("{'content':'Hi'}", "null"), "[DONE]"};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 2);
    cr_assert_eq(r.s.state, SL_RS_DONE);
    cr_assert(strstr(r.out.ptr, "event: response.output_item.done\n") != NULL);
    cr_assert(strstr(r.out.ptr, "event: response.completed\n") != NULL);
    stream_stop(&r);
}

Test(responses_front, a_stream_cut_before_the_end_is_eof)
{
    static const char *const ev[] = {CHUNK("{'content':'Hi'}", "null"), CHUNK("{}", "'stop'")};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    cr_assert_eq(sl_responses_stream_end(&r.s), UV_EOF);
    stream_feed(&r, ev, 2);
    cr_assert_eq(r.s.state, SL_RS_FINISH); /* waiting for the usage chunk */
    cr_assert_eq(sl_responses_stream_end(&r.s), UV_EOF);
    stream_stop(&r);
}

Test(responses_front, an_upstream_error_event_becomes_error_and_response_failed)
{
    static const char *const ev[] = {
        CHUNK("{'content':'Hi'}", "null"),
        "{'error':{'message':'Overloaded','type':'server_error','param':null,'code':"
        "'upstream_overloaded'}}",
        CHUNK("{'content':'more'}", "null")};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 2);
    const char *err = strstr(r.out.ptr, "event: error\n");
    cr_assert(err != NULL);
    cr_assert_str_eq(
        err, J("event: error\n"
               "data: {'type':'error','code':'upstream_overloaded','message':'Overloaded',"
               "'param':null,'sequence_number':5}\n\n"
               "event: response.failed\n"
               "data: {'type':'response.failed','response':{'id':'resp_123','object':'response',"
               "'created_at':1741476542,'status':'failed','background':false,'error':{'code':"
               "'server_error','message':'Overloaded'},'incomplete_details':null,'model':"
               "'gpt-4o-mini','output':[],'usage':null},'sequence_number':6}\n\n"));
    cr_assert_eq(r.s.state, SL_RS_FAILED);
    cr_assert_eq(r.s.err, SL_E_SERVER_ERROR);
    size_t len = r.out.len;
    stream_feed(&r, ev + 2, 1); /* nothing after the end */
    cr_assert_eq(r.out.len, len);
    cr_assert_eq(sl_responses_stream_end(&r.s), 0);
    stream_stop(&r);
}

Test(responses_front, an_error_before_any_chunk_is_the_error_event_alone)
{
    static const char *const ev[] = {"{'error':{'message':'Rate limit reached','type':'requests',"
                                     "'param':null,'code':'rate_limit_exceeded'}}"};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 1);
    cr_assert_eq(r.last_rc, 0);
    cr_assert_str_eq(r.out.ptr, J("event: error\ndata: {'type':'error','code':"
                                  "'rate_limit_exceeded','message':'Rate limit reached',"
                                  "'param':null,'sequence_number':0}\n\n"));
    cr_assert_eq(r.s.err, SL_E_RATE_LIMITED);
    stream_stop(&r);
}

Test(responses_front, a_broken_stream_fails_with_a_reason)
{
    static const char *const not_json[] = {"not json"};
    static const char *const back[] = {
        CHUNK("{'tool_calls':[{'index':0,'id':'a','function':{'name':'f','arguments':'{'}}]}",
              "null"),
        CHUNK("{'tool_calls':[{'index':1,'id':'b','function':{'name':'g','arguments':'{'}}]}",
              "null"),
        CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'}'}}]}", "null")};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, not_json, 1);
    cr_assert_eq(r.last_rc, UV_EPROTO);
    cr_assert(strstr(r.out.ptr, "bad_upstream_stream") != NULL);
    cr_assert_eq(r.s.err, SL_E_BAD_GATEWAY);
    stream_stop(&r);
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, back, 3);
    cr_assert_eq(r.last_rc, UV_EPROTO);
    cr_assert(strstr(r.out.ptr, "after a later one began") != NULL);
    cr_assert(strstr(r.out.ptr, "event: response.failed\n") != NULL);
    stream_stop(&r);
}

Test(responses_front, texts_past_max_text_fail_the_stream_in_words)
{
    static const char *const ev[] = {CHUNK("{'content':'Hello'}", "null"),
                                     CHUNK("{'content':' world'}", "null")};
    struct stream_run r;
    stream_start(&r, 8, 1 << 20);
    stream_feed(&r, ev, 2);
    cr_assert_eq(r.last_rc, UV_E2BIG);
    cr_assert_eq(r.s.state, SL_RS_FAILED);
    cr_assert_eq(r.s.err, SL_E_TOO_LARGE);
    cr_assert(strstr(r.out.ptr, J("'code':'response_too_large'")) != NULL);
    cr_assert(strstr(r.out.ptr, "limit of 8 bytes") != NULL);
    cr_assert(strstr(r.out.ptr, J("'delta':'Hello'")) != NULL);
    cr_assert(strstr(r.out.ptr, "world") == NULL);
    cr_assert_eq(sl_responses_stream_end(&r.s), 0);
    stream_stop(&r);
}

Test(responses_front, a_full_out_keeps_whole_events)
{
    size_t n = sizeof(text_and_two_calls) / sizeof(char *);
    for (size_t max = 0; max < 5000; max += 97) {
        struct stream_run r;
        stream_start(&r, 1 << 16, max);
        for (size_t i = 0; i < n && r.s.state != SL_RS_FAILED; i++) {
            size_t before = r.out.len;
            const char *data = J(text_and_two_calls[i]);
            int rc = sl_responses_stream_event(&r.s, data, strlen(data), &r.out);
            if (rc) {
                cr_assert_eq(rc, UV_ENOBUFS, "max %zu event %zu: %d", max, i, rc);
                cr_assert_eq(r.out.len, before);
                cr_assert_eq(r.s.err, SL_E_TOO_LARGE);
            }
        }
        cr_assert_leq(r.out.len, max);
        stream_stop(&r);
    }
}

Test(responses_front, the_given_id_names_the_response_and_its_items)
{
    static const char *const ev[] = {CHUNK("{'content':'Hi'}", "'stop'"), "[DONE]"};
    struct stream_run r;
    const char echo[] = "{\"user\":\"u\"}";
    sl_responses_stream_init(&r.s, "resp_abc", "client-model", 5, echo, strlen(echo), 1024);
    sl_buf_init(&r.out, 1 << 20);
    stream_feed(&r, ev, 2);
    cr_assert(strstr(r.out.ptr, J("'id':'resp_abc'")) != NULL);
    cr_assert(strstr(r.out.ptr, J("'item_id':'msg_abc_0'")) != NULL);
    cr_assert(strstr(r.out.ptr, J("'model':'client-model','user':'u'")) != NULL);
    cr_assert(strstr(r.out.ptr, J("'created_at':5")) != NULL);
    stream_stop(&r);
}

Test(responses_front, a_refusal_streams_as_a_refusal_part)
{
    static const char *const ev[] = {CHUNK("{'refusal':'I cannot'}", "null"),
                                     CHUNK("{'refusal':' help.'}", "'stop'"), "[DONE]"};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 3);
    cr_assert_eq(r.s.state, SL_RS_DONE);
    static const char *const want[] = {
        "'type':'response.content_part.added','item_id':'msg_123_0','output_index':0,"
        "'content_index':0,'part':{'type':'refusal','refusal':''}",
        "'type':'response.refusal.delta','item_id':'msg_123_0','output_index':0,"
        "'content_index':0,'delta':' help.'",
        "'type':'response.refusal.done','item_id':'msg_123_0','output_index':0,"
        "'content_index':0,'refusal':'I cannot help.'",
        "'content':[{'type':'refusal','refusal':'I cannot help.'}]"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(r.out.ptr, J(want[i])) != NULL, "%s", want[i]);
    stream_stop(&r);
}

/* The Response that ends a stream is the one the JSON answer would be for
 * the same completion: one writer for both. */
Test(responses_front, the_streamed_response_is_the_json_response)
{
    const char *completion =
        J("{'id':'chatcmpl-123','object':'chat.completion','created':1694268190,'model':"
          "'gpt-4o-mini','choices':[{'index':0,'message':{'role':'assistant','content':'Let me "
          "check.','tool_calls':[{'id':'call_1','type':'function','function':{'name':'get_weather',"
          "'arguments':'{\\'location\\':\\'Paris\\'}'}},{'id':'call_2','type':'function',"
          "'function':{'name':'now','arguments':'{}'}}]},'finish_reason':'tool_calls'}],'usage':{"
          "'prompt_tokens':20,'completion_tokens':12,'total_tokens':32,'prompt_tokens_details':{"
          "'cached_tokens':4}}}");
    struct sl_buf json;
    struct sl_responses_ctx ctx = {.created_at = 1741476542};
    sl_buf_init(&json, 1 << 16);
    cr_assert_eq(sl_responses_response(completion, strlen(completion), &ctx, &json, NULL), 0);
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, text_and_two_calls, sizeof(text_and_two_calls) / sizeof(char *));
    const char *done = strstr(r.out.ptr, "\"response\":");
    cr_assert(done != NULL);
    done = strstr(r.out.ptr, "event: response.completed\n");
    cr_assert(done != NULL);
    done = strstr(done, "\"response\":") + strlen("\"response\":");
    cr_assert_eq(strncmp(done, json.ptr, json.len), 0, "%s\n%s", done, json.ptr);
    cr_assert_str_eq(done + json.len, ",\"sequence_number\":18}\n\n");
    sl_buf_release(&json);
    stream_stop(&r);
}

Test(responses_front, tool_call_pieces_without_an_index)
{
    static const char *const ev[] = {
        CHUNK("{'tool_calls':[{'id':'a','function':{'name':'f','arguments':'{'}}]}", "null"),
        CHUNK("{'tool_calls':[{'function':{'arguments':'}'}}]}", "null"),
        CHUNK("{'tool_calls':[{'id':'b','function':{'name':'g','arguments':'{}'}}]}",
              "'tool_calls'"),
        "[DONE]"};
    struct stream_run r;
    stream_start(&r, 1 << 16, 1 << 20);
    stream_feed(&r, ev, 4);
    cr_assert_eq(r.s.state, SL_RS_DONE);
    cr_assert(strstr(r.out.ptr,
                     J("'output':[{'id':'fc_123_0','type':'function_call','status':'completed',"
                       "'arguments':'{}','call_id':'a','name':'f'},{'id':'fc_123_1','type':"
                       "'function_call','status':'completed','arguments':'{}','call_id':'b',"
                       "'name':'g'}]")) != NULL,
              "%s", r.out.ptr);
    stream_stop(&r);
}

/* What the gateway reads of a request it passes through as it is. */
Test(responses_front, a_peek_reads_model_stream_and_max_output_tokens)
{
    struct sl_responses_peek peek;
    struct sl_xlat_refusal no;
    static const char body[] = "{\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_1\","
                               "\"tools\":[{\"type\":\"web_search\"}],\"stream\":true,"
                               "\"max_output_tokens\":64}";
    cr_assert_eq(sl_responses_peek(body, sizeof(body) - 1, &peek, &no), 0);
    cr_assert_eq(peek.model.len, 6);
    cr_assert_eq(memcmp(peek.model.ptr, "gpt-4o", 6), 0);
    cr_assert_eq(peek.model.ptr, body + 10, "a view into the body");
    cr_assert_eq(peek.stream, 1);
    cr_assert_eq(peek.max_output_tokens, 64);
    cr_assert_eq(sl_responses_peek("{\"model\":\"m\"}", 13, &peek, &no), 0);
    cr_assert_eq(peek.stream, 0);
    cr_assert_eq(peek.max_output_tokens, -1);
    cr_assert_eq(sl_responses_peek("{\"input\":\"x\"}", 13, &peek, &no), UV_EINVAL);
    cr_assert_str_eq(no.param, "model");
    cr_assert_eq(sl_responses_peek("[1]", 3, &peek, &no), UV_EINVAL);
    cr_assert_eq(sl_responses_peek("{\"model\":", 9, &peek, &no), UV_EINVAL);
}
