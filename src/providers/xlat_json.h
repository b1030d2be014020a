/* The small JSON reading and writing steps every translation in
 * src/providers/ takes: picking members of a nested object, a member's
 * whole value text, a string member's comparison (over the repository's
 * scanner and walker), and the pieces of OpenAI's shapes the provider
 * adapters write the same way (usage, tool calls, chunk events, error
 * objects; xlat.c). */
#ifndef SL_PROVIDERS_XLAT_JSON_H
#define SL_PROVIDERS_XLAT_JSON_H

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "providers/xlat.h"

/* Fills picks from the object whose text is `obj`. 0, or -1 when it is not
 * a valid JSON object. */
static inline int sl_xlat_pick(struct sl_str obj, struct sl_json_pick *picks, size_t n)
{
    struct sl_json_doc d;
    if (sl_json_scan_pick(obj.ptr, obj.len, &d, picks, n) != 0 || d.type != SL_JSON_OBJECT)
        return -1;
    return 0;
}

/* A member's whole value text: strings with their quotes, so that it can be
 * copied with sl_jw_raw or walked. */
static inline struct sl_str sl_xlat_raw(const struct sl_json_member *m)
{
    if (m->type == SL_JSON_STRING)
        return (struct sl_str){m->value.ptr - 1, m->value.len + 2};
    return m->value;
}

static inline struct sl_json_value sl_xlat_value(const struct sl_json_member *m)
{
    struct sl_str r = sl_xlat_raw(m);
    return (struct sl_json_value){r.ptr, r.ptr + r.len};
}

/* A picked member that is a string equal to lit. */
static inline int sl_xlat_is(const struct sl_json_pick *p, const char *lit)
{
    return p->found && p->m.type == SL_JSON_STRING && sl_str_eq(p->m.value, lit);
}

/* The text of a walked value as a view. */
static inline struct sl_str sl_xlat_span(struct sl_json_value v)
{
    return (struct sl_str){v.start, (size_t)(v.end - v.start)};
}

/* A token count member (dflt when absent or not a count); capped so that
 * sums of counts cannot wrap. */
unsigned long sl__xlat_count(const struct sl_json_pick *p, unsigned long dflt);

/* A provider's token counts read from its usage object (its text): the
 * members named keys[0..3] (fresh input, output, written to the cache,
 * read from it), each kept as it was when absent or not a count, capped so
 * that sums cannot wrap. */
void sl__xlat_tokens_read(struct sl_str usage, const char *const keys[4], unsigned long *input,
                          unsigned long *output, unsigned long *cache_write,
                          unsigned long *cache_read);
/* Those counts in OpenAI's terms (prompt counts every input token). */
struct sl_xlat_usage sl__xlat_usage(unsigned long input, unsigned long output,
                                    unsigned long cache_write, unsigned long cache_read);

/* One tool_calls item {id, type: "function", function: {name, arguments}}
 * of a chat.completion: raw id and name, the input object's text escaped
 * into the arguments string. */
void sl__xlat_tool_call_write(struct sl_jw *w, struct sl_str id, struct sl_str name,
                              struct sl_str input);

/* The messages array of a provider that wants roles to alternate, written
 * a block at a time: a block of the role of the open message continues
 * it, another closes it and opens {"role": name, "content": [ . role 0 is
 * "none open". */
struct sl__xlat_turns {
    int open_role;
    size_t messages; /* opened */
};
void sl__xlat_block(struct sl_jw *w, struct sl__xlat_turns *t, int role, const char *name);
/* Closes the open message, if any. */
void sl__xlat_turns_end(struct sl_jw *w, struct sl__xlat_turns *t);

/* The OpenAI usage object, as a value. */
void sl__xlat_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);

/* The envelope of a stream's chat.completion.chunk events: id and model
 * as escaped JSON string content (sl_json_escape), the Unix time. */
struct sl__xlat_chunk {
    const char *id, *model;
    long long created;
};

/* One chunk event ("data: {...}\n\n") appended to out; each returns 0,
 * UV_ENOBUFS or UV_ENOMEM (out may then hold part of the event: the
 * stream translators cut it off). A chunk whose delta is the one member
 * key: raw (e.g. "content": "text"); the role chunk
 * ({"role":"assistant","content":""}); a tool_calls delta for call
 * `index`: its start (id, type, name) when id.ptr, else an arguments
 * piece; the empty delta with finish_reason; the usage chunk (choices []). */
int sl__xlat_delta_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out, const char *key,
                         struct sl_str raw);
int sl__xlat_role_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out);
int sl__xlat_tool_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out, int index,
                        struct sl_str id, struct sl_str name, struct sl_str arguments);
int sl__xlat_finish_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out,
                          const char *finish_reason);
int sl__xlat_usage_chunk(const struct sl__xlat_chunk *c, struct sl_buf *out,
                         const struct sl_xlat_usage *usage);

/* The steps of those chunks, for a delta of another shape: chunk_open
 * "data: {id, object, created, model, choices: [", delta_open "{index: 0,
 * delta: {" (the caller writes the delta's members), delta_close "},
 * logprobs: null, finish_reason: F}", chunk_close "]" (+ usage when not
 * NULL) "}\n\n", which returns the writer's first error. */
void sl__xlat_chunk_open(const struct sl__xlat_chunk *c, struct sl_jw *w, struct sl_buf *out);
void sl__xlat_delta_open(struct sl_jw *w);
void sl__xlat_delta_close(struct sl_jw *w, const char *finish_reason);
int sl__xlat_chunk_close(struct sl_jw *w, const struct sl_xlat_usage *usage);

/* Copies a picked string's escaped inside into dst when it fits whole (a
 * cut could split an escape); else leaves dst as it is. */
void sl__xlat_keep_escaped(char *dst, size_t size, const struct sl_json_pick *p);

/* A stream that broke its protocol: an OpenAI error event ("the <provider>
 * stream broke off: <why>", server_error, bad_upstream_stream) appended to
 * out. Returns UV_EPROTO, or UV_ENOBUFS / UV_ENOMEM. */
int sl__xlat_broken_event(struct sl_buf *out, const char *provider, const char *why);

/* The OpenAI error object {"error": {message, type, param: null, code}}
 * with the message given as a raw JSON string (NULL: `fallback` escaped). */
void sl__xlat_error_object(struct sl_jw *w, const struct sl_str *raw_message, const char *fallback,
                           const char *type, const char *code);

#endif
