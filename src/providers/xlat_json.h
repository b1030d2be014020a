/* The small JSON reading and writing steps every provider adapter takes
 * (moved from the Anthropic adapter so that Bedrock and the others share
 * them): pick members of an object, take a member's raw value text, write
 * OpenAI's usage object and its chunk events. For the adapters' modules
 * only. */
#ifndef SL_PROVIDERS_XLAT_JSON_H
#define SL_PROVIDERS_XLAT_JSON_H

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "providers/xlat.h"

/* Fills picks from the object whose text is `obj`. 0, or -1 when it is not
 * a valid JSON object. */
static inline int sl__xlat_pick(struct sl_str obj, struct sl_json_pick *picks, size_t n)
{
    struct sl_json_doc d;
    if (sl_json_scan_pick(obj.ptr, obj.len, &d, picks, n) != 0 || d.type != SL_JSON_OBJECT)
        return -1;
    return 0;
}

/* A member's whole value text: strings with their quotes, so that it can be
 * copied with sl_jw_raw or walked. */
static inline struct sl_str sl__xlat_raw(const struct sl_json_member *m)
{
    if (m->type == SL_JSON_STRING)
        return (struct sl_str){m->value.ptr - 1, m->value.len + 2};
    return m->value;
}

static inline struct sl_json_value sl__xlat_value(const struct sl_json_member *m)
{
    struct sl_str r = sl__xlat_raw(m);
    return (struct sl_json_value){r.ptr, r.ptr + r.len};
}

/* A picked member that is a string equal to lit. */
static inline int sl__xlat_is(const struct sl_json_pick *p, const char *lit)
{
    return p->found && p->m.type == SL_JSON_STRING && sl_str_eq(p->m.value, lit);
}

/* The OpenAI usage object, as a value. */
void sl__xlat_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);

/* A chat.completion.chunk event, written in four steps:
 *   chunk_open   "data: {id, object, created, model, choices: ["
 *   delta_open   "{index: 0, delta: {"         (the caller writes the delta)
 *   delta_close  "}, logprobs: null, finish_reason: F}"
 *   chunk_close  "]" and the usage member when given, "}\n\n"
 * id and model are escaped JSON string content (sl_json_escape). Errors
 * are the writer's, reported by chunk_close. */
void sl__xlat_chunk_open(struct sl_jw *w, struct sl_buf *out, const char *id, const char *model,
                         long long created);
int sl__xlat_chunk_close(struct sl_jw *w, const struct sl_xlat_usage *usage);
void sl__xlat_delta_open(struct sl_jw *w);
void sl__xlat_delta_close(struct sl_jw *w, const char *finish_reason);

#endif
