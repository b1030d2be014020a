/* The small JSON reading steps every translation in src/providers/ takes
 * (picking members of a nested object, a member's whole value text, a
 * string member's comparison), over the repository's scanner and walker. */
#ifndef SL_PROVIDERS_XLAT_JSON_H
#define SL_PROVIDERS_XLAT_JSON_H

#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"

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

#endif
