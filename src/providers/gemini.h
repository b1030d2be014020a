/* The Gemini provider adapter: Google's Gemini API (POST
 * .../v1beta/models/{model}:generateContent and
 * :streamGenerateContent?alt=sse) behind an OpenAI chat.completions front,
 * as pure translations of bytes to bytes. No I/O, no clock, no config: the
 * caller (the gateway's upstream attempt) chooses the upstream model (it
 * goes in the URL, see sl_gemini_path), supplies the time and the model
 * name the client sees, sends the request with `x-goog-api-key`, and feeds
 * the response or its SSE events back here.
 *
 * Every output is written with the JSON writer (http/json_write.h) into a
 * caller's bounded sl_buf; a translation that would pass the buffer's max
 * fails with UV_ENOBUFS and never grows memory past it. Inputs are read with
 * the repository's scanner (http/json_scan.h, json_walk.h): an input that is
 * not what Google documents is refused, never a crash.
 *
 * What maps to what, what is dropped and what is refused with a 400 is the
 * table in docs/providers.md ("Gemini"). Modules:
 *   gemini_path.c      the URL of a call (the model is in it)
 *   gemini_request.c   OpenAI request -> Gemini generateContent request
 *   gemini_options.c   its tools, toolConfig and generationConfig
 *   gemini_schema.c    JSON Schema -> Gemini's Schema (tools, response_format)
 *   gemini_response.c  GenerateContentResponse -> OpenAI chat.completion
 *   gemini_stream.c    Gemini SSE events -> chat.completion.chunk events
 *   gemini_error.c     Gemini errors -> OpenAI errors and error classes
 *   gemini_embed.c     OpenAI embeddings <-> batchEmbedContents */
#ifndef SL_PROVIDERS_GEMINI_H
#define SL_PROVIDERS_GEMINI_H

#include <stddef.h>

#include "core/buf.h"
#include "core/errclass.h"
#include "providers/xlat.h"

#define SL_GEMINI_DEFAULT_URL "https://generativelanguage.googleapis.com/v1beta"

/* ---- paths ---- */

enum sl_gemini_method {
    SL_GEMINI_GENERATE,    /* :generateContent */
    SL_GEMINI_STREAM,      /* :streamGenerateContent?alt=sse */
    SL_GEMINI_EMBED_BATCH, /* :batchEmbedContents */
};

/* Writes "/models/{model}:{method}" into dst (size bytes, NUL-terminated),
 * to be appended to the deployment's base URL. A leading "models/" in model
 * is taken as Google's resource name and not doubled. Returns the length;
 * UV_EINVAL when the model name is empty or has a byte other than
 * [A-Za-z0-9._-] (it would change the URL's meaning); UV_ENOBUFS when dst
 * is too small. */
int sl_gemini_path(char *dst, size_t size, const char *model, enum sl_gemini_method method);

/* The whole URL: base (a deployment's, e.g. SL_GEMINI_DEFAULT_URL)
 * followed by that path, into dst. 0, UV_EINVAL (the model name) or
 * UV_ENOBUFS. */
int sl_gemini_url(char *dst, size_t size, const char *base, const char *model,
                  enum sl_gemini_method method);

/* ---- request ---- */

/* What the caller needs later from the request it translated. */
struct sl_gemini_req_info {
    int stream;        /* "stream": true: call :streamGenerateContent?alt=sse */
    int include_usage; /* "stream_options": {"include_usage": true} */
};

/* Translates an OpenAI chat.completions request body into a Gemini
 * generateContent request body, appended to out. The body has no model:
 * the model is in the URL. Returns 0; UV_EINVAL when the request cannot be
 * served by Gemini (a 400 "invalid_request_error": *refusal says why and
 * which field); UV_ENOBUFS when out would pass its max; UV_ENOMEM. On
 * failure out may hold a partial body. */
int sl_gemini_request(const char *body, size_t len, struct sl_buf *out,
                      struct sl_gemini_req_info *info, struct sl_xlat_refusal *refusal);

/* ---- response ---- */

/* Gemini's own counts (usageMetadata). */
struct sl_gemini_tokens {
    unsigned long prompt, candidates, thoughts, cached;
};

/* Translates a GenerateContentResponse (a 200 body) into an OpenAI
 * chat.completion, appended to out. `model`: the name the client sees (NULL:
 * the response's modelVersion); `created`: the Unix time to report. The id
 * is the response's responseId (or one made from the body); tool call ids
 * are made up, unique per response ("call_<hash>_<index>"). A response
 * blocked for its prompt (promptFeedback.blockReason, no candidates) is a
 * completion with empty content and finish_reason content_filter. Sets
 * *usage when not NULL. Returns 0; UV_EINVAL when the body is not a
 * GenerateContentResponse (the caller answers 502); UV_ENOBUFS; UV_ENOMEM. */
int sl_gemini_response(const char *body, size_t len, const char *model, long long created,
                       struct sl_buf *out, struct sl_xlat_usage *usage);

/* OpenAI's finish_reason for a Gemini finishReason (a view, no quotes):
 * STOP -> "stop" ("tool_calls" when the candidate called a function: the
 * caller decides), MAX_TOKENS -> "length", SAFETY, RECITATION, BLOCKLIST,
 * PROHIBITED_CONTENT, SPII, IMAGE_SAFETY -> "content_filter", anything
 * else -> "stop". */
const char *sl_gemini_finish_reason(const char *reason, size_t len);

/* ---- stream ----
 *
 * A stateful translator fed the data of one Gemini SSE event at a time (as
 * src/http/sse.c's parser dispatches them; Gemini's events have no name and
 * each is a whole GenerateContentResponse) that appends the OpenAI
 * chat.completion.chunk events ("data: {...}\n\n") each one makes:
 *   the first event     the role chunk ({"role":"assistant","content":""})
 *   text parts          a content delta each (thought parts: nothing)
 *   functionCall parts  a tool_calls delta each, whole: index, id, type,
 *                       name and the args object as the arguments string
 *   finishReason        the finish_reason chunk (tool_calls when a
 *                       function was called), once
 *   usageMetadata       kept (the last one wins)
 *   {"error": {...}}    an OpenAI error event; the stream is over
 * Gemini sends no end marker: the caller calls sl_gemini_stream_end() at
 * the end of the upstream body, which writes the usage chunk (when asked)
 * and "data: [DONE]" if a finishReason was seen. Memory is the struct
 * itself: nothing is buffered across events. */

enum sl_gemini_stream_state {
    SL_GS_START,    /* no event yet */
    SL_GS_MESSAGE,  /* the role chunk written */
    SL_GS_FINISHED, /* a finishReason seen: its chunk written; usage may follow */
    SL_GS_DONE,     /* sl_gemini_stream_end() wrote [DONE] */
    SL_GS_FAILED    /* an error event, or an event that broke the protocol */
};

struct sl_gemini_stream {
    enum sl_gemini_stream_state state;
    int include_usage;
    long long created;
    char id[128];                 /* the responseId (or one made up), echoed in every chunk */
    char model[128];              /* escaped JSON string content */
    unsigned long long call_hash; /* tool call ids: "call_<hash>_<index>" */
    int tools;                    /* functionCall parts seen */
    const char *finish_reason;
    struct sl_gemini_tokens tokens;
    struct sl_xlat_usage usage; /* so far: final at the end */
    enum sl_err err;            /* SL_GS_FAILED: the class of the error */
};

/* `model`: the name the client sees (NULL: the first event's
 * modelVersion); `created`: the Unix time in every chunk; include_usage:
 * the client asked for the usage chunk. */
void sl_gemini_stream_init(struct sl_gemini_stream *s, const char *model, long long created,
                           int include_usage);

/* One event's data. Appends what it makes to out. Returns 0; UV_EPROTO
 * when the event breaks the protocol (not a JSON object, candidates that
 * are not an array): an OpenAI error event was appended and the state is
 * SL_GS_FAILED; UV_ENOBUFS / UV_ENOMEM when out is full: out is left as it
 * was before the event (whole events only), the state is SL_GS_FAILED and
 * s->err SL_E_TOO_LARGE. An error object returns 0 with the state
 * SL_GS_FAILED and s->err set. Events after a failure or the end are
 * ignored; after the finishReason only their usage is read. */
int sl_gemini_stream_event(struct sl_gemini_stream *s, const char *data, size_t data_len,
                           struct sl_buf *out);

/* The upstream body ended. When a finishReason was seen: appends the usage
 * chunk (when asked) and "data: [DONE]", the state is SL_GS_DONE, returns
 * 0 (UV_ENOBUFS / UV_ENOMEM when out is full: out as it was). After an
 * error already relayed: 0, nothing written. Otherwise the stream was cut
 * before any finishReason: UV_EOF, nothing written (the caller ends the
 * client's stream as for any cut). */
int sl_gemini_stream_end(struct sl_gemini_stream *s, struct sl_buf *out);

/* ---- errors ---- */

/* What a Gemini error means to the gateway and to an OpenAI client. */
struct sl_gemini_error {
    enum sl_err err;    /* the class the retry engine decides on */
    int status;         /* the HTTP status for the client */
    const char *type;   /* OpenAI's error type */
    const char *code;   /* OpenAI's error code, or NULL */
    long retry_after_s; /* a RetryInfo detail's retryDelay ("57s"), rounded up; 0: none.
                           Gemini sends no Retry-After header: the caller uses this */
};

/* Classifies a Gemini error status (a view: "RESOURCE_EXHAUSTED", ...; NULL
 * when there is none) with the error's numeric code, then the upstream's
 * HTTP status, as the fallbacks for an unknown one (0 when there is none).
 * `key_invalid`: the details carry reason API_KEY_INVALID (Gemini answers
 * a bad key with 400 INVALID_ARGUMENT): unauthorized. */
struct sl_gemini_error sl_gemini_error_class(const char *status, size_t len, int code,
                                             int key_invalid);

/* Translates a Gemini error response (status and body, which may be
 * anything: a proxy's HTML too) into an OpenAI error body appended to out,
 * the upstream's message carried through (a generic one when the body has
 * none). Sets *cls. Returns 0, UV_ENOBUFS or UV_ENOMEM. */
int sl_gemini_error(int status, const char *body, size_t len, struct sl_buf *out,
                    struct sl_gemini_error *cls);

/* The same as one stream event ("data: {...}\n\n"), for an event whose
 * data is {"error": {...}} (status 0: the class comes from the body). */
int sl_gemini_error_event(const char *data, size_t len, struct sl_buf *out,
                          struct sl_gemini_error *cls);

/* ---- embeddings ---- */

/* Translates an OpenAI /v1/embeddings request (input: a string or an array
 * of strings; dimensions) into a batchEmbedContents body for `model` (the
 * upstream name, without "models/"), appended to out. *count: the inputs.
 * Token arrays and encoding_format other than float are refused. Returns 0,
 * UV_EINVAL (*refusal), UV_ENOBUFS or UV_ENOMEM. */
int sl_gemini_embed_request(const char *body, size_t len, const char *model, struct sl_buf *out,
                            size_t *count, struct sl_xlat_refusal *refusal);

/* Translates a batchEmbedContents response ({"embeddings":[{"values":[..]}]})
 * into OpenAI's embedding list for `model`, appended to out (usage: 0
 * tokens, Gemini does not count them here). Returns 0, UV_EINVAL when the
 * body is not one, UV_ENOBUFS or UV_ENOMEM. */
int sl_gemini_embed_response(const char *body, size_t len, const char *model, struct sl_buf *out);

#endif
