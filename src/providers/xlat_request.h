/* The reading half of every OpenAI chat.completions request translation
 * (anthropic_request.c, bedrock_request.c, ...): each helper checks one
 * part of the request the same way for every provider and hands back what
 * it found as raw spans of the input (strings with their quotes), leaving
 * the writing, which is each provider's own shape, to the caller. A check
 * that fails fills the refusal (the client's 400: the field and one line)
 * and returns UV_EINVAL (sl_xlat_refuse, providers/xlat.h). For the adapters' modules only. */
#ifndef SL_PROVIDERS_XLAT_REQUEST_H
#define SL_PROVIDERS_XLAT_REQUEST_H

#include "providers/xlat_json.h"

/* A number member as a double: 0, or -1 when it is absent or not a number. */
int sl__xlat_number(const struct sl_json_pick *p, double *out);

/* The members no provider but OpenAI can honour, refused unless they ask
 * for nothing: picks of n, logprobs, top_logprobs, response_format, audio,
 * functions and function_call (any order; others are skipped). */
int sl__xlat_refusals(struct sl_xlat_refusal *r, const struct sl_json_pick *p, size_t n,
                      const char *provider);

/* max_tokens and max_completion_tokens (two picks): the larger, -1 when
 * both are absent or null; not a positive integer: refused. */
int sl__xlat_max_tokens(struct sl_xlat_refusal *r, const struct sl_json_pick p[2], long *out);

/* One assistant tool call {id, type: function, function: {name,
 * arguments}}: the raw id and name, and the arguments as JSON object text
 * ("" and null become "{}"; decoded into scratch, so valid until scratch
 * changes); and Gemini's thought signature when the call carries one as
 * Google's OpenAI endpoint does (extra_content.google.thought_signature: a
 * raw JSON string, ptr NULL when absent). */
struct sl__xlat_call {
    struct sl_str id, name, input, signature;
};
int sl__xlat_tool_call(struct sl_json_value call, struct sl_buf *scratch, struct sl_xlat_refusal *r,
                       const char *param, struct sl__xlat_call *out);

/* One tool {type: function, function: {name, description, parameters}}:
 * the raw name, the raw description (ptr NULL when absent or not a string)
 * and the parameters object's text (ptr NULL when absent or not an
 * object; not_object says it was there, neither null nor an object, for
 * the adapters that refuse that). tools[i] names it in a refusal. */
struct sl__xlat_tool {
    struct sl_str name, description, parameters;
    int not_object;
};
int sl__xlat_tool_def(struct sl_json_value tool, size_t i, struct sl_xlat_refusal *r,
                      const char *provider, struct sl__xlat_tool *out);

/* tool_choice: absent (or null), "auto", "none", "required", or
 * {type: function, function: {name}} (*name the raw name). */
enum sl__xlat_choice { SL_XC_ABSENT, SL_XC_AUTO, SL_XC_NONE, SL_XC_REQUIRED, SL_XC_FUNCTION };
int sl__xlat_tool_choice(struct sl_xlat_refusal *r, const struct sl_json_pick *choice,
                         enum sl__xlat_choice *kind, struct sl_str *name);

/* stop (a string or an array of strings) written as `key`: [...], the
 * empty strings left out and nothing written when none is left. */
int sl__xlat_stop(struct sl_jw *w, const char *key, const struct sl_json_member *stop,
                  struct sl_xlat_refusal *r);

/* An image_url value ({"url": ...} or the bare string some clients send):
 * a data URL "data:<media type>;base64,<data>" split into its media type
 * and data (decoded into scratch), or another URL as the raw JSON string.
 * A data URL without ";base64" or a media type is refused. */
struct sl__xlat_image {
    int is_data;
    struct sl_str url; /* !is_data: the raw JSON string */
    struct sl_str media_type, data;
};
int sl__xlat_image_url(struct sl_str image_url, struct sl_buf *scratch, struct sl_xlat_refusal *r,
                       const char *param, struct sl__xlat_image *out);

/* The non-empty texts of the system and developer messages, in order,
 * wherever they stand: fn (when not NULL) gets each as a raw JSON string;
 * *count says how many. Content other than a string or text parts is
 * refused. */
int sl__xlat_system_texts(struct sl_str messages, struct sl_xlat_refusal *r,
                          void (*fn)(void *arg, struct sl_str raw), void *arg, size_t *count);

/* A conversation's messages walked in order, each piece checked and handed
 * to the translation's callbacks, which write it in the provider's shape
 * (messages of the same role following each other are the callbacks'
 * to merge). system and developer messages are skipped (see
 * sl__xlat_system_texts); role function, unknown roles, function_call and
 * content parts other than text and image_url are refused. */
enum sl__xlat_role { SL_XR_USER, SL_XR_ASSISTANT };

struct sl__xlat_conversation {
    const char *provider; /* for the refusals' messages */
    void *arg;
    struct sl_xlat_refusal *refusal;
    struct sl_buf *scratch; /* for decoding tool call arguments and image URLs */
    /* a non-empty text (a raw JSON string) of a message of that role */
    int (*text)(void *arg, enum sl__xlat_role role, struct sl_str raw);
    /* an image_url part of a user message (its value, and the part's
     * name for a refusal) */
    int (*image)(void *arg, struct sl_str image_url, const char *param);
    /* an assistant's tool call */
    int (*tool_call)(void *arg, const struct sl__xlat_call *call);
    /* a role tool message: its tool_call_id and content picks; messages[i] */
    int (*tool_result)(void *arg, const struct sl_json_pick *id, const struct sl_json_pick *content,
                       size_t i);
};
int sl__xlat_messages(const struct sl__xlat_conversation *c, struct sl_str messages);

/* One message's content (a string, null or an array of parts) to the
 * callbacks as the messages of `role`; images only when `images`. For a
 * tool result's parts too (role user, no images). */
int sl__xlat_content(const struct sl__xlat_conversation *c, const struct sl_json_member *content,
                     size_t i, enum sl__xlat_role role, int images);

#endif
