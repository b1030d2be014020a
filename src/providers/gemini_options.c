/* The request's options: tools and toolConfig from tools and tool_choice,
 * generationConfig from the sampling and output fields, and the fields
 * that are refused. Values are copied as raw spans; numbers are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"
#include "providers/xlat_request.h"

#define refuse(r, ...) sl_xlat_refuse((r)->refusal, __VA_ARGS__)

/* A tool -> a functionDeclaration {name, description, parameters}. A
 * schema without properties is left out: Gemini refuses an OBJECT without
 * them, and no parameters means the same. */
static int declaration(struct sl__gemini_out *r, size_t i, const struct sl__xlat_tool *t)
{
    char param[64];
    snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
    if (t->not_object)
        return refuse(r, param, "parameters must be a JSON schema object");
    if (i == 0) {
        sl_jw_key(r->w, "tools");
        sl_jw_array(r->w);
        sl_jw_object(r->w);
        sl_jw_key(r->w, "functionDeclarations");
        sl_jw_array(r->w);
    }
    sl_jw_object(r->w);
    sl_jw_kv_raw(r->w, "name", t->name.ptr, t->name.len);
    if (t->description.ptr)
        sl_jw_kv_raw(r->w, "description", t->description.ptr, t->description.len);
    struct sl_json_pick props[1] = {{.key = "properties"}};
    if (t->parameters.ptr && sl_xlat_pick(t->parameters, props, 1) == 0 && props[0].found &&
        props[0].m.type == SL_JSON_OBJECT && props[0].m.value.len > 2) {
        sl_jw_key(r->w, "parameters");
        struct sl_json_value v = {t->parameters.ptr, t->parameters.ptr + t->parameters.len};
        int rc = sl__gemini_schema(r->w, v, param, r->refusal);
        if (rc)
            return rc;
    }
    sl_jw_end(r->w);
    return 0;
}

/* tool_choice auto / none / required / a function -> toolConfig
 * .functionCallingConfig {mode: AUTO / NONE / ANY (+ allowedFunctionNames)}. */
static int tool_config_member(struct sl__gemini_out *r, const struct sl_json_pick *choice,
                              size_t ntools)
{
    static const char *const modes[] = {[SL_XC_AUTO] = "AUTO",
                                        [SL_XC_NONE] = "NONE",
                                        [SL_XC_REQUIRED] = "ANY",
                                        [SL_XC_FUNCTION] = "ANY"};
    enum sl__xlat_choice kind;
    struct sl_str name;
    int rc = sl__xlat_tool_choice(r->refusal, choice, &kind, &name);
    if (rc || kind == SL_XC_ABSENT)
        return rc;
    if (ntools == 0) {
        if (kind == SL_XC_NONE)
            return 0; /* nothing to call anyway */
        return refuse(r, "tool_choice", "tool_choice needs tools");
    }
    sl_jw_key(r->w, "toolConfig");
    sl_jw_object(r->w);
    sl_jw_key(r->w, "functionCallingConfig");
    sl_jw_object(r->w);
    sl_jw_kv_string(r->w, "mode", modes[kind]);
    if (name.ptr) {
        sl_jw_key(r->w, "allowedFunctionNames");
        sl_jw_array(r->w);
        sl_jw_raw(r->w, name.ptr, name.len);
        sl_jw_end(r->w);
    }
    sl_jw_end(r->w);
    sl_jw_end(r->w);
    return 0;
}

/* generationConfig is opened at its first member. */
struct gen {
    struct sl__gemini_out *r;
    int open;
};

static void gen_key(struct gen *g, const char *key)
{
    if (!g->open) {
        sl_jw_key(g->r->w, "generationConfig");
        sl_jw_object(g->r->w);
        g->open = 1;
    }
    sl_jw_key(g->r->w, key);
}

/* A number copied as it was sent under Gemini's name; null is absent. */
static int gen_number(struct gen *g, const struct sl_json_pick *p, const char *key)
{
    double v;
    if (sl__xlat_number(p, &v) == 0) {
        gen_key(g, key);
        sl_jw_raw(g->r->w, p->m.value.ptr, p->m.value.len);
    } else if (p->found && p->m.type != SL_JSON_NULL) {
        return refuse(g->r, p->key, "%s must be a number", p->key);
    }
    return 0;
}

/* stop -> stopSequences (an array; sl__xlat_stop leaves the empty strings
 * out and writes nothing when none is left, so generationConfig is opened
 * first only when one is not empty). */
static int stop_member(struct gen *g, const struct sl_json_member *stop)
{
    int any = stop->type == SL_JSON_STRING && stop->value.len > 0;
    if (stop->type == SL_JSON_ARRAY) {
        struct sl_json_walk wk;
        struct sl_json_value item, arr = sl_xlat_value(stop);
        sl_json_enter(&wk, &arr);
        while (!any && sl_json_next_item(&wk, &item))
            any = *item.start == '"' && item.end - item.start > 2;
    }
    if (any && !g->open) {
        sl_jw_key(g->r->w, "generationConfig");
        sl_jw_object(g->r->w);
        g->open = 1;
    }
    return sl__xlat_stop(g->r->w, "stopSequences", stop, g->r->refusal);
}

/* response_format text / json_object / json_schema -> responseMimeType
 * (+ responseSchema). */
static int response_format_member(struct gen *g, const struct sl_json_member *rf)
{
    struct sl__gemini_out *r = g->r;
    struct sl_json_pick t[2] = {{.key = "type"}, {.key = "json_schema"}};
    if (rf->type == SL_JSON_NULL)
        return 0;
    if (sl_xlat_pick(sl_xlat_raw(rf), t, 2) || !t[0].found || t[0].m.type != SL_JSON_STRING)
        return refuse(r, "response_format", "response_format must be an object with a type");
    if (sl_xlat_is(&t[0], "text"))
        return 0;
    if (sl_xlat_is(&t[0], "json_object")) {
        gen_key(g, "responseMimeType");
        sl_jw_string(r->w, "application/json");
        return 0;
    }
    if (!sl_xlat_is(&t[0], "json_schema"))
        return refuse(r, "response_format.type", "response_format '%.*s' is not supported",
                      (int)(t[0].m.value.len < 40 ? t[0].m.value.len : 40), t[0].m.value.ptr);
    struct sl_json_pick s[1] = {{.key = "schema"}};
    if (!t[1].found || sl_xlat_pick(sl_xlat_raw(&t[1].m), s, 1) != 0)
        return refuse(r, "response_format.json_schema", "json_schema must be an object");
    gen_key(g, "responseMimeType");
    sl_jw_string(r->w, "application/json");
    if (s[0].found && s[0].m.type != SL_JSON_NULL) {
        gen_key(g, "responseSchema");
        return sl__gemini_schema(r->w, sl_xlat_value(&s[0].m), "response_format.json_schema.schema",
                                 r->refusal);
    }
    return 0;
}

/* The request fields Gemini cannot serve that would change the answer the
 * client expects: refused rather than silently dropped. */
int sl__gemini_refusals(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    return sl__xlat_refusals(r->refusal, &p[GM_N], GM__N - GM_N, "gemini");
}

int sl__gemini_generation_config(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    struct gen g = {.r = r};
    double v;
    long max_tokens;
    int rc;
    if ((rc = gen_number(&g, &p[GM_TEMPERATURE], "temperature")) ||
        (rc = gen_number(&g, &p[GM_TOP_P], "topP")) ||
        (rc = sl__xlat_max_tokens(r->refusal, &p[GM_MAX_TOKENS], &max_tokens)))
        return rc;
    if (max_tokens > 0) {
        gen_key(&g, "maxOutputTokens");
        sl_jw_int(r->w, max_tokens);
    }
    if (p[GM_STOP].found && (rc = stop_member(&g, &p[GM_STOP].m)))
        return rc;
    if (sl__xlat_number(&p[GM_N], &v) == 0) { /* 1: sl__gemini_refusals saw to the rest */
        gen_key(&g, "candidateCount");
        sl_jw_int(r->w, 1);
    }
    if (p[GM_RESPONSE_FORMAT].found && (rc = response_format_member(&g, &p[GM_RESPONSE_FORMAT].m)))
        return rc;
    if (sl__xlat_number(&p[GM_SEED], &v) == 0) {
        if (v != (double)(long long)v || v < -2147483648.0 || v > 2147483647.0)
            return refuse(r, "seed", "seed must be a 32-bit integer for gemini");
        gen_key(&g, "seed");
        sl_jw_int(r->w, (long long)v);
    } else if (p[GM_SEED].found && p[GM_SEED].m.type != SL_JSON_NULL) {
        return refuse(r, "seed", "seed must be an integer");
    }
    if ((rc = gen_number(&g, &p[GM_PRESENCE], "presencePenalty")) ||
        (rc = gen_number(&g, &p[GM_FREQUENCY], "frequencyPenalty")))
        return rc;
    if (g.open)
        sl_jw_end(r->w);
    return 0;
}

int sl__gemini_tools(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    size_t ntools = 0;
    const struct sl_json_member *tools = &p[GM_TOOLS].m;
    if (p[GM_TOOLS].found && tools->type != SL_JSON_NULL) {
        if (tools->type != SL_JSON_ARRAY)
            return refuse(r, "tools", "tools must be an array");
        struct sl_json_walk wk;
        struct sl_json_value tool, arr = sl_xlat_value(tools);
        sl_json_enter(&wk, &arr);
        for (; sl_json_next_item(&wk, &tool); ntools++) {
            struct sl__xlat_tool t;
            int rc = sl__xlat_tool_def(tool, ntools, r->refusal, "gemini", &t);
            if (rc == 0)
                rc = declaration(r, ntools, &t);
            if (rc)
                return rc;
        }
    }
    if (ntools > 0) {
        sl_jw_end(r->w); /* functionDeclarations */
        sl_jw_end(r->w); /* the tool */
        sl_jw_end(r->w); /* tools */
    }
    return tool_config_member(r, &p[GM_TOOL_CHOICE], ntools);
}
