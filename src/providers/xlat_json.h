/* The small JSON reading steps every translation in src/providers/ takes
 * (picking members of a nested object, a member's whole value text, a
 * string member's comparison), over the repository's scanner and walker;
 * and the OpenAI shapes the provider adapters write (usage, a chunk's
 * envelope, an error object), in xlat_json.c. */
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

/* ---- the OpenAI shapes every provider adapter writes (xlat_json.c) ---- */

/* A token count member (dflt when absent or not a count), capped at a
 * quarter of ULONG_MAX so that a few of them summed cannot wrap. */
unsigned long sl__xlat_count(const struct sl_json_pick *p, unsigned long dflt);

/* OpenAI's usage object, as a value. */
void sl__xlat_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);

/* A chat.completion.chunk event, in four steps:
 *   chunk_open   "data: {id, object, created, model, choices: ["
 *   delta_open   "{index: 0, delta: {" (the caller writes the delta's members)
 *   delta_close  "}, logprobs: null, finish_reason: F}"
 *   chunk_close  "]" (+ usage when not NULL) "}\n\n"
 * id and model are escaped JSON string content. chunk_close returns the
 * writer's first error. */
void sl__xlat_chunk_open(struct sl_jw *w, struct sl_buf *out, const char *id, const char *model,
                         long long created);
void sl__xlat_delta_open(struct sl_jw *w);
void sl__xlat_delta_close(struct sl_jw *w, const char *finish_reason);
int sl__xlat_chunk_close(struct sl_jw *w, const struct sl_xlat_usage *usage);

/* Copies a picked string's escaped inside into dst when it fits whole (a
 * cut could split an escape); else leaves dst as it is. */
void sl__xlat_keep_escaped(char *dst, size_t size, const struct sl_json_pick *p);

/* A stream that broke the protocol: appends OpenAI's error event
 * (server_error, code bad_upstream_stream, "the PROVIDER stream broke off:
 * WHY"). Returns UV_EPROTO, or the append's error. */
int sl__xlat_broken(struct sl_buf *out, const char *provider, const char *why);

/* OpenAI's error object {"error":{message, type, param: null, code}} as a
 * value: message is the upstream's (a raw JSON string span) or, when its
 * ptr is NULL, the text `fallback`. code NULL: null. */
void sl__xlat_error_write(struct sl_jw *w, struct sl_str message, const char *fallback,
                          const char *type, const char *code);

#endif
