/* JSON Schema (what OpenAI clients send as tool parameters and
 * response_format schemas) -> Gemini's Schema, an OpenAPI 3.0 subset.
 *
 * Copied member by member, recursively through properties, items and
 * anyOf; values that mean the same in both (types, descriptions, enums,
 * bounds) are raw spans of the input. The one thing nearly every strict
 * OpenAI schema has that Gemini refuses is `additionalProperties: false`:
 * Gemini never adds properties anyway, so it is dropped. What would change
 * the schema's meaning if dropped is refused. Recursion is bounded by the
 * scanner's nesting limit (64). */
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"

struct schema {
    struct sl_jw *w;
    const char *param;
    struct sl_xlat_refusal *refusal;
    struct sl_buf key; /* a decoded property name */
};

static int write_schema(struct schema *s, struct sl_json_value v);

/* Keywords copied as they are. */
static const char *const kept[] = {
    "format",   "title",         "description",   "nullable", "enum",      "required",
    "minItems", "maxItems",      "minimum",       "maximum",  "minLength", "maxLength",
    "pattern",  "minProperties", "maxProperties", "default",  "example",   "propertyOrdering",
};

/* Annotations with no effect on what is generated. */
static const char *const dropped[] = {"$schema", "$id", "$comment", "examples", "strict"};

static int listed(const struct sl_json_value *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sl_json_key_is(key, list[i]))
            return 1;
    return 0;
}

static int unsupported(struct schema *s, const struct sl_json_value *key)
{
    int n = (int)(key->end - key->start - 2);
    return sl_xlat_refuse(s->refusal, s->param,
                          "'%.*s' in a JSON schema is not supported by gemini", n < 40 ? n : 40,
                          key->start + 1);
}

/* "type": a name, or [name, "null"] (either order) -> name + nullable. */
static int type_member(struct schema *s, const struct sl_json_value *key, struct sl_json_value v,
                       int has_nullable)
{
    if (*v.start == '"') {
        sl_jw_kv_raw(s->w, "type", v.start, (size_t)(v.end - v.start));
        return 0;
    }
    struct sl_json_walk wk;
    struct sl_json_value item, name = {NULL, NULL};
    int null = 0, n = 0;
    if (*v.start != '[' || sl_json_enter(&wk, &v) != 0)
        return unsupported(s, key);
    while (sl_json_next_item(&wk, &item)) {
        n++;
        if (*item.start != '"')
            return unsupported(s, key);
        if (item.end - item.start == 6 && memcmp(item.start, "\"null\"", 6) == 0)
            null = 1;
        else
            name = item;
    }
    if (n > 2 || n != null + (name.start != NULL) || name.start == NULL)
        return sl_xlat_refuse(s->refusal, s->param,
                              "a type list other than [type, \"null\"] is not supported by gemini");
    sl_jw_kv_raw(s->w, "type", name.start, (size_t)(name.end - name.start));
    if (null && !has_nullable)
        sl_jw_kv_raw(s->w, "nullable", "true", 4);
    return 0;
}

/* "properties": {name: schema, ...} */
static int properties_member(struct schema *s, const struct sl_json_value *key,
                             struct sl_json_value v)
{
    struct sl_json_walk wk;
    struct sl_json_value k, item;
    if (*v.start != '{' || sl_json_enter(&wk, &v) != 0)
        return unsupported(s, key);
    sl_jw_key(s->w, "properties");
    sl_jw_object(s->w);
    while (sl_json_next_member(&wk, &k, &item)) {
        sl_buf_reset(&s->key);
        if (sl_json_string(&k, &s->key) != 0)
            return sl_xlat_refuse(s->refusal, s->param, "a property name is too long");
        sl_jw_key_n(s->w, s->key.ptr ? s->key.ptr : "", s->key.len);
        int rc = write_schema(s, item);
        if (rc)
            return rc;
    }
    sl_jw_end(s->w);
    return 0;
}

/* "anyOf": [schema, ...] */
static int any_of_member(struct schema *s, const struct sl_json_value *key, struct sl_json_value v)
{
    struct sl_json_walk wk;
    struct sl_json_value item;
    if (*v.start != '[' || sl_json_enter(&wk, &v) != 0)
        return unsupported(s, key);
    sl_jw_key(s->w, "anyOf");
    sl_jw_array(s->w);
    while (sl_json_next_item(&wk, &item)) {
        int rc = write_schema(s, item);
        if (rc)
            return rc;
    }
    sl_jw_end(s->w);
    return 0;
}

static int write_schema(struct schema *s, struct sl_json_value v)
{
    struct sl_json_pick nullable[1] = {{.key = "nullable"}};
    if (*v.start != '{' || sl_xlat_pick(sl_xlat_span(v), nullable, 1) != 0)
        return sl_xlat_refuse(s->refusal, s->param, "a JSON schema must be an object");
    struct sl_json_walk wk;
    struct sl_json_value key, val;
    sl_json_enter(&wk, &v);
    sl_jw_object(s->w);
    while (sl_json_next_member(&wk, &key, &val)) {
        int rc = 0;
        if (listed(&key, kept, sizeof(kept) / sizeof(kept[0]))) {
            sl_jw_key_n(s->w, key.start + 1, (size_t)(key.end - key.start - 2));
            sl_jw_raw(s->w, val.start, (size_t)(val.end - val.start));
        } else if (listed(&key, dropped, sizeof(dropped) / sizeof(dropped[0]))) {
            continue;
        } else if (sl_json_key_is(&key, "type")) {
            rc = type_member(s, &key, val, nullable[0].found);
        } else if (sl_json_key_is(&key, "properties")) {
            rc = properties_member(s, &key, val);
        } else if (sl_json_key_is(&key, "items")) {
            sl_jw_key(s->w, "items");
            rc = write_schema(s, val);
        } else if (sl_json_key_is(&key, "anyOf")) {
            rc = any_of_member(s, &key, val);
        } else if (sl_json_key_is(&key, "additionalProperties")) {
            if (*val.start != 'f') /* false: Gemini adds none anyway */
                rc = unsupported(s, &key);
        } else if (sl_json_key_is(&key, "const") && *val.start == '"') {
            sl_jw_key(s->w, "enum");
            sl_jw_array(s->w);
            sl_jw_raw(s->w, val.start, (size_t)(val.end - val.start));
            sl_jw_end(s->w);
        } else {
            rc = unsupported(s, &key);
        }
        if (rc)
            return rc;
    }
    sl_jw_end(s->w);
    return 0;
}

int sl__gemini_schema(struct sl_jw *w, struct sl_json_value schema, const char *param,
                      struct sl_xlat_refusal *refusal)
{
    struct schema s = {.w = w, .param = param, .refusal = refusal};
    sl_buf_init(&s.key, 1 << 16);
    int rc = write_schema(&s, schema);
    sl_buf_release(&s.key);
    return rc;
}
