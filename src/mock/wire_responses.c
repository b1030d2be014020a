/* The mock's Responses API (POST /v1/responses on the openai and azure
 * wires): a Response object, or its typed SSE events (response.created,
 * response.in_progress, the message item's events, a response.output_text.
 * delta per token, the .done events, response.completed with the usage),
 * every event numbered by sequence_number as OpenAI does. The mock keeps
 * no state: previous_response_id is accepted when it looks like one
 * ("resp_...") and echoed, which is what a gateway passing it through
 * needs to show. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_scan.h"
#include "mock/wire.h"

int sl__mock_responses_parse(struct mock_req *mr, struct sl_str body, const char **code, char *why,
                             size_t why_size)
{
    struct sl_json_doc d;
    struct sl_json_pick p[5] = {{.key = "model"},
                                {.key = "input"},
                                {.key = "stream"},
                                {.key = "max_output_tokens"},
                                {.key = "previous_response_id"}};
    if (sl_json_scan_pick(body.ptr, body.len, &d, p, 5) != 0 || d.type != SL_JSON_OBJECT) {
        *code = "invalid_json";
        snprintf(why, why_size, "We could not parse the JSON body of your request.");
        return 400;
    }
    if (!p[0].found || p[0].m.type != SL_JSON_STRING || p[0].m.value.len == 0 ||
        p[0].m.value.len >= sizeof(mr->model)) {
        *code = "missing_required_parameter";
        snprintf(why, why_size, "Missing required parameter: 'model'.");
        return 400;
    }
    const struct sl_json_member *prev = p[4].found ? &p[4].m : NULL;
    if (prev && (prev->type != SL_JSON_STRING || prev->value.len >= sizeof(mr->previous) ||
                 prev->value.len < 6 || memcmp(prev->value.ptr, "resp_", 5) != 0)) {
        *code = "previous_response_not_found";
        snprintf(why, why_size, "Previous response with id '%.*s' not found.",
                 (int)(prev->value.len < 64 ? prev->value.len : 64), prev->value.ptr);
        return 400;
    }
    if (!p[1].found && prev == NULL) {
        *code = "missing_required_parameter";
        snprintf(why, why_size, "Missing required parameter: 'input'.");
        return 400;
    }
    memcpy(mr->model, p[0].m.value.ptr, p[0].m.value.len);
    mr->model[p[0].m.value.len] = '\0';
    if (prev) {
        memcpy(mr->previous, prev->value.ptr, prev->value.len);
        mr->previous[prev->value.len] = '\0';
    }
    mr->prompt_tokens = (unsigned)(p[1].found ? p[1].m.value.len / 4 : 0) + 1;
    if (p[3].found && p[3].m.type == SL_JSON_NUMBER) {
        long v = strtol(p[3].m.value.ptr, NULL, 10);
        mr->tokens_total = v < 1 ? 1 : (unsigned)v;
    }
    mr->stream = p[2].found && p[2].m.type == SL_JSON_TRUE;
    mr->include_usage = 1;
    return 0;
}

/* The Response object, its output the message with text (NULL: none yet). */
static int response(struct mock_req *mr, const char *status, const char *text, char *out,
                    size_t size)
{
    char prev[96] = "null", output[128 * 1024] = "[]";
    if (mr->previous[0])
        snprintf(prev, sizeof(prev), "\"%s\"", mr->previous);
    if (text)
        snprintf(output, sizeof(output),
                 "[{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"status\":\"completed\","
                 "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"%s\","
                 "\"annotations\":[]}]}]",
                 mr->seq, text);
    int n =
        snprintf(out, size,
                 "{\"id\":\"resp_mock%" PRIu64 "\",\"object\":\"response\",\"created_at\":%lld,"
                 "\"status\":\"%s\",\"error\":null,\"incomplete_details\":null,\"model\":\"%s\","
                 "\"output\":%s,\"previous_response_id\":%s,\"store\":true,\"usage\":",
                 mr->seq, (long long)mr->created, status, mr->model, output, prev);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (text)
        n += snprintf(out + n, size - (size_t)n,
                      "{\"input_tokens\":%u,\"output_tokens\":%u,\"total_tokens\":%u}}",
                      mr->prompt_tokens, mr->tokens_total, mr->prompt_tokens + mr->tokens_total);
    else
        n += snprintf(out + n, size - (size_t)n, "null}");
    return n > 0 && (size_t)n < size ? n : -1;
}

size_t sl__mock_responses_body(struct mock_req *mr, const char *text, char *out, size_t size)
{
    int n = response(mr, "completed", text, out, size);
    return n < 0 ? 0 : (size_t)n;
}

/* One event: "event: TYPE\ndata: {"type":TYPE,<fields>,"sequence_number":N}". */
static int event(char *out, size_t size, const char *type, unsigned long seq, const char *fields)
{
    int n =
        snprintf(out, size, "event: %s\ndata: {\"type\":\"%s\",%s%s\"sequence_number\":%lu}\n\n",
                 type, type, fields, fields[0] ? "," : "", seq);
    return n > 0 && (size_t)n < size ? n : -1;
}

size_t sl__mock_responses_head(struct mock_req *mr, char *out, size_t size)
{
    char r[2048], fields[2200], item[256];
    if (response(mr, "in_progress", NULL, r, sizeof(r)) < 0)
        return 0;
    snprintf(item, sizeof(item), "\"output_index\":0,\"item_id\":\"msg_mock%" PRIu64 "\"", mr->seq);
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        static const char *const types[] = {"response.created", "response.in_progress",
                                            "response.output_item.added",
                                            "response.content_part.added"};
        if (i < 2)
            snprintf(fields, sizeof(fields), "\"response\":%s", r);
        else if (i == 2)
            snprintf(fields, sizeof(fields),
                     "\"output_index\":0,\"item\":{\"id\":\"msg_mock%" PRIu64
                     "\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\","
                     "\"content\":[]}",
                     mr->seq);
        else
            snprintf(fields, sizeof(fields),
                     "%s,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
                     "\"annotations\":[]}",
                     item);
        int k = event(out + n, size - n, types[i], (unsigned long)i, fields);
        if (k < 0)
            return 0;
        n += (size_t)k;
    }
    return n;
}

size_t sl__mock_responses_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                                size_t size)
{
    char fields[512];
    snprintf(fields, sizeof(fields),
             "\"item_id\":\"msg_mock%" PRIu64 "\",\"output_index\":0,\"content_index\":0,"
             "\"delta\":\"%s\"",
             mr->seq, text);
    int n = event(out, size, "response.output_text.delta", 4ul + i, fields);
    return n < 0 ? 0 : (size_t)n;
}

size_t sl__mock_responses_tail(struct mock_req *mr, char *out, size_t size)
{
    static char text[32 * 1024], fields[160 * 1024], r[150 * 1024]; /* the loop's thread only */
    sl__mock_words(text, sizeof(text), 0, mr->tokens_total);
    unsigned long seq = 4ul + mr->tokens_total;
    size_t n = 0;
    int k;
    snprintf(fields, sizeof(fields),
             "\"item_id\":\"msg_mock%" PRIu64 "\",\"output_index\":0,\"content_index\":0,"
             "\"text\":\"%s\"",
             mr->seq, text);
    if ((k = event(out, size, "response.output_text.done", seq++, fields)) < 0)
        return 0;
    n += (size_t)k;
    snprintf(fields, sizeof(fields),
             "\"item_id\":\"msg_mock%" PRIu64 "\",\"output_index\":0,\"content_index\":0,"
             "\"part\":{\"type\":\"output_text\",\"text\":\"%s\",\"annotations\":[]}",
             mr->seq, text);
    if ((k = event(out + n, size - n, "response.content_part.done", seq++, fields)) < 0)
        return 0;
    n += (size_t)k;
    snprintf(fields, sizeof(fields),
             "\"output_index\":0,\"item\":{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\","
             "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
             "\"output_text\",\"text\":\"%s\",\"annotations\":[]}]}",
             mr->seq, text);
    if ((k = event(out + n, size - n, "response.output_item.done", seq++, fields)) < 0)
        return 0;
    n += (size_t)k;
    if (response(mr, "completed", text, r, sizeof(r)) < 0)
        return 0;
    snprintf(fields, sizeof(fields), "\"response\":%s", r);
    if ((k = event(out + n, size - n, "response.completed", seq, fields)) < 0)
        return 0;
    return n + (size_t)k;
}
