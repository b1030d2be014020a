/* Shared by the Anthropic adapter's modules and the Messages API front's
 * (not for other callers): the small JSON reading steps every translation
 * takes. */
#ifndef SL_PROVIDERS_ANTHROPIC_INT_H
#define SL_PROVIDERS_ANTHROPIC_INT_H

#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "providers/anthropic.h"

/* Fills a refusal: the offending field and a one-line message. Returns
 * UV_EINVAL, what a translation returns for a refusal. */
__attribute__((format(printf, 3, 4))) static inline int
sl__xlat_refuse(struct sl_xlat_refusal *r, const char *param, const char *fmt, ...)
{
    snprintf(r->param, sizeof(r->param), "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    return UV_EINVAL;
}

/* Fills picks from the object whose text is `obj`. 0, or -1 when it is not
 * a valid JSON object. */
static inline int sl__anth_pick(struct sl_str obj, struct sl_json_pick *picks, size_t n)
{
    struct sl_json_doc d;
    if (sl_json_scan_pick(obj.ptr, obj.len, &d, picks, n) != 0 || d.type != SL_JSON_OBJECT)
        return -1;
    return 0;
}

/* A member's whole value text: strings with their quotes, so that it can be
 * copied with sl_jw_raw or walked. */
static inline struct sl_str sl__anth_raw(const struct sl_json_member *m)
{
    if (m->type == SL_JSON_STRING)
        return (struct sl_str){m->value.ptr - 1, m->value.len + 2};
    return m->value;
}

static inline struct sl_json_value sl__anth_value(const struct sl_json_member *m)
{
    struct sl_str r = sl__anth_raw(m);
    return (struct sl_json_value){r.ptr, r.ptr + r.len};
}

/* A picked member that is a string equal to lit. */
static inline int sl__anth_is(const struct sl_json_pick *p, const char *lit)
{
    return p->found && p->m.type == SL_JSON_STRING && sl_str_eq(p->m.value, lit);
}

/* A token count member (dflt when absent or not a count); capped so that
 * sums of counts cannot wrap. */
unsigned long sl__anth_count(const struct sl_json_pick *p, unsigned long dflt);

/* Updates t with the counts a "usage" object (its text) has. */
void sl__anth_tokens_read(struct sl_str usage, struct sl_anthropic_tokens *t);
struct sl_xlat_usage sl__anth_usage_of(const struct sl_anthropic_tokens *t);
/* The OpenAI usage object, as a value. */
void sl__anth_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);

/* The Messages front (messages_*.c): an OpenAI usage object (its text)
 * read into u (the members present; cached capped to prompt), and u
 * written as Anthropic's usage object (input_tokens without the cached
 * ones, which are cache_read_input_tokens). */
void sl__msg_usage_read(struct sl_str usage, struct sl_xlat_usage *u);
void sl__msg_usage_write(struct sl_jw *w, const struct sl_xlat_usage *u);
/* Anthropic's error object {"type":"error","error":{type, message}} for an
 * OpenAI error (status and body, or the data of a stream's error event
 * with status 0), as a value. Sets *cls. */
struct sl_messages_error;
void sl__msg_error_write(struct sl_jw *w, int status, const char *body, size_t len,
                         struct sl_messages_error *cls);

#endif
