/* Shared by the Gemini adapter's modules (not for other callers). */
#ifndef SL_PROVIDERS_GEMINI_INT_H
#define SL_PROVIDERS_GEMINI_INT_H

#include "providers/gemini.h"
#include "providers/xlat_json.h"

/* Writes the JSON Schema `schema` (a scanned object) as Gemini's Schema (an
 * OpenAPI subset): the keywords Gemini knows are copied, `additionalProperties:
 * false` and annotations ($schema, $id, $comment, examples, strict) are
 * dropped, a type array with "null" becomes nullable, a string const a
 * one-value enum; anything else ($ref, oneOf, allOf, ...) is refused with
 * `param`. 0, UV_EINVAL (*refusal) or UV_ENOMEM. */
int sl__gemini_schema(struct sl_jw *w, struct sl_json_value schema, const char *param,
                      struct sl_xlat_refusal *refusal);

/* The request members the translation reads, picked in one scan
 * (gemini_request.c) and indexed by these. */
enum sl__gemini_member {
    GM_MODEL,
    GM_MESSAGES,
    GM_MAX_TOKENS,
    GM_MAX_COMPLETION,
    GM_TEMPERATURE,
    GM_TOP_P,
    GM_PRESENCE,
    GM_FREQUENCY,
    GM_SEED,
    GM_STOP,
    GM_STREAM,
    GM_STREAM_OPTIONS,
    GM_TOOLS,
    GM_TOOL_CHOICE,
    GM_RESPONSE_FORMAT,
    GM_N, /* from here on: the members refused unless harmless */
    GM_LOGPROBS,
    GM_TOP_LOGPROBS,
    GM_AUDIO,
    GM_FUNCTIONS,
    GM_FUNCTION_CALL,
    GM__N
};

/* Where the request's option writers write, and the refusal they fill. */
struct sl__gemini_out {
    struct sl_jw *w;
    struct sl_xlat_refusal *refusal;
};

/* gemini_options.c, each given the picked members: the fields Gemini
 * cannot serve (UV_EINVAL, *refusal); tools and toolConfig; the
 * generationConfig. 0, UV_EINVAL or UV_ENOMEM (the writer's errors are
 * sl_jw_finish's). */
int sl__gemini_refusals(struct sl__gemini_out *r, const struct sl_json_pick *p);
int sl__gemini_tools(struct sl__gemini_out *r, const struct sl_json_pick *p);
int sl__gemini_generation_config(struct sl__gemini_out *r, const struct sl_json_pick *p);

/* Updates t with the counts a usageMetadata object (its text) has. */
void sl__gemini_tokens_read(struct sl_str usage, struct sl_gemini_tokens *t);
/* OpenAI's usage: prompt = promptTokenCount (it includes the cached ones),
 * completion = candidates + thoughts. */
struct sl_xlat_usage sl__gemini_usage_of(const struct sl_gemini_tokens *t);

/* FNV-1a, 64 bits: tool call ids and made-up response ids. */
unsigned long long sl__gemini_hash(const char *p, size_t len);

/* One tool call object {id, type, function: {name, arguments}} (a member of
 * a tool_calls array) from a functionCall part's object (its text): the id
 * is the call's own when it has one, else "call_<hash>_<index>"; the part's
 * thoughtSignature (a raw JSON string, ptr NULL: none) goes along as Google's
 * OpenAI endpoint carries it, extra_content.google.thought_signature, for the
 * client to send back with the call. 0, or -1 when the part has no name
 * (nothing written). */
int sl__gemini_tool_call(struct sl_jw *w, struct sl_str call, struct sl_str signature,
                         unsigned long long hash, int index, int with_index);

/* A part's thoughtSignature pick as that raw string (ptr NULL: none). */
static inline struct sl_str sl__gemini_signature(const struct sl_json_pick *p)
{
    return p->found && p->m.type == SL_JSON_STRING ? sl_xlat_raw(&p->m) : (struct sl_str){NULL, 0};
}

#endif
