/* Internal to the Gemini adapter: reading an OpenAI chat.completions
 * request through callbacks. It came from the same refactoring of the
 * Anthropic adapter as xlat_request.h (which the Anthropic and Bedrock
 * adapters use) and does much the same; the two are to be made one. Each
 * reader walks one member, checks it as OpenAI documents it and hands the
 * adapter the pieces (raw spans of the input, or text decoded into the
 * scratch buffer) through a callback, which writes them in its provider's
 * shape; what is malformed is refused here, in the adapter's name, with
 * the field in `param`. Callbacks return 0 or an error that stops the walk
 * and is returned. */
#ifndef SL_PROVIDERS_XLAT_CHAT_H
#define SL_PROVIDERS_XLAT_CHAT_H

#include "providers/xlat_json.h"

struct sl__xchat {
    struct sl_xlat_refusal *refusal;
    const char *provider;  /* "anthropic", "gemini": in refusal messages */
    struct sl_buf scratch; /* decoded text; the caller inits and releases it */
    void *arg;             /* the callbacks' */
};

/* An image_url part's value ({"url": ...} or the bare string): a data URL
 * data:<mime>;base64,<data> (inline: mime and data are views into the
 * scratch buffer), or any other URL (url: its decoded text; raw: the JSON
 * string as sent). */
struct sl__xchat_image {
    int inline_data;
    struct sl_str mime, data, url, raw;
};
int sl__xchat_image(struct sl__xchat *c, struct sl_str image_url, const char *param,
                    struct sl__xchat_image *img);

/* A message's content (a string, null or an array of parts): text(raw)
 * for each non-empty text (a raw JSON string), image(raw image_url, param)
 * for each image_url part when image is not NULL (else they are refused);
 * refusal parts skipped; other parts refused. */
int sl__xchat_content(struct sl__xchat *c, const struct sl_json_member *content, size_t i,
                      int (*text)(void *arg, struct sl_str raw),
                      int (*image)(void *arg, struct sl_str image_url, const char *param));

/* An assistant's tool_calls: each(id, name, args) with id and name raw
 * JSON strings and args the arguments as JSON object text ("{}" for none
 * or an empty string; it may be in the scratch buffer, valid during the
 * call). */
int sl__xchat_tool_calls(struct sl__xchat *c, const struct sl_json_member *calls, size_t i,
                         int (*each)(void *arg, struct sl_str id, struct sl_str name,
                                     struct sl_str args));

/* What an adapter writes for each kind of message (the messages reader's
 * callbacks; image NULL: images are refused). tool_result gets the tool
 * message's tool_call_id (a raw JSON string, checked) and its content. */
struct sl__xchat_roles {
    int (*user_text)(void *arg, struct sl_str raw);
    int (*image)(void *arg, struct sl_str image_url, const char *param);
    int (*assistant_text)(void *arg, struct sl_str raw);
    int (*tool_call)(void *arg, struct sl_str id, struct sl_str name, struct sl_str args);
    int (*tool_result)(void *arg, struct sl_str id, const struct sl_json_pick *content, size_t i);
};

/* The messages in order: system and developer ones skipped (see
 * sl__xchat_system_texts), user, assistant (content, then tool_calls) and
 * tool ones through roles; a deprecated function_call, role function and
 * any unknown role refused. */
int sl__xchat_messages(struct sl__xchat *c, struct sl_str messages,
                       const struct sl__xchat_roles *roles);

/* The non-empty texts of the system and developer messages, in order,
 * wherever they stand: each(raw text). *n: how many. */
int sl__xchat_system_texts(struct sl__xchat *c, struct sl_str messages,
                           void (*each)(void *arg, struct sl_str raw), size_t *n);

/* stop (a string or an array of strings): each(raw, index) for each
 * non-empty one. *n: how many. */
int sl__xchat_stops(struct sl__xchat *c, const struct sl_json_member *stop,
                    void (*each)(void *arg, struct sl_str raw, size_t index), size_t *n);

/* tools [{type: function, function: {name, description, parameters}}]:
 * each(index, name raw, description raw (ptr NULL: none), parameters
 * (NULL: none or null)). *n: how many. */
int sl__xchat_tools(struct sl__xchat *c, const struct sl_json_member *tools,
                    int (*each)(void *arg, size_t i, struct sl_str name, struct sl_str description,
                                const struct sl_json_member *parameters),
                    size_t *n);

/* tool_choice: absent (or null), auto, none, required, or a function
 * (*name: its raw name). */
enum sl__xchat_choice { SL__XC_ABSENT, SL__XC_AUTO, SL__XC_NONE, SL__XC_REQUIRED, SL__XC_FUNCTION };
int sl__xchat_tool_choice(struct sl__xchat *c, const struct sl_json_pick *choice,
                          enum sl__xchat_choice *kind, struct sl_str *name);

/* A number member as a double: 0 when it is one. */
int sl__xchat_number(const struct sl_json_pick *p, double *out);

/* max_tokens and max_completion_tokens: the larger, -1 when both are
 * absent; refused when one is not a positive integer. */
int sl__xchat_max_tokens(struct sl__xchat *c, const struct sl_json_pick *max_tokens,
                         const struct sl_json_pick *max_completion, long *out);

/* n, logprobs, top_logprobs, audio, functions, function_call: refused
 * unless harmless (n: 1, logprobs: false, top_logprobs: 0). Each pick
 * carries its key. */
int sl__xchat_refuse_unserved(struct sl__xchat *c, const struct sl_json_pick *p, size_t n);

#endif
