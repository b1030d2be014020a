/* The request's options: tools and toolConfig from tools and tool_choice,
 * generationConfig from the sampling and output fields, and the fields
 * that are refused. Values are copied as raw spans; numbers are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"

#define refuse(r, ...) sl__xlat_refuse((r)->refusal, __VA_ARGS__)

/* tools [{type: function, function: {name, description, parameters}}] ->
 * [{functionDeclarations: [{name, description, parameters}]}]. A schema
 * without properties is left out: Gemini refuses an OBJECT without them,
 * and no parameters means the same. */
static int tools_member(struct sl__gemini_out *r, const struct sl_json_member *tools, int *ntools)
{
    char param[64];
    *ntools = 0;
    if (tools->type == SL_JSON_NULL)
        return 0;
    if (tools->type != SL_JSON_ARRAY)
        return refuse(r, "tools", "tools must be an array");
    if (tools->items == 0)
        return 0;
    struct sl_json_walk wk;
    struct sl_json_value tool, arr = sl__xlat_value(tools);
    sl_json_enter(&wk, &arr);
    sl_jw_key(r->w, "tools");
    sl_jw_array(r->w);
    sl_jw_object(r->w);
    sl_jw_key(r->w, "functionDeclarations");
    sl_jw_array(r->w);
    for (size_t i = 0; sl_json_next_item(&wk, &tool); i++) {
        snprintf(param, sizeof(param), "tools[%zu]", i);
        struct sl_json_pick t[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[3] = {{.key = "name"}, {.key = "description"}, {.key = "parameters"}};
        if (sl__xlat_pick(sl__xlat_span(tool), t, 2))
            return refuse(r, param, "a tool must be an object");
        if (!sl__xlat_is(&t[0], "function")) {
            snprintf(param, sizeof(param), "tools[%zu].type", i);
            return refuse(r, param, "only function tools are supported by gemini");
        }
        if (!t[1].found || sl__xlat_pick(sl__xlat_raw(&t[1].m), f, 3) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(r, param, "a function tool needs a function with a name");
        sl_jw_object(r->w);
        struct sl_str raw = sl__xlat_raw(&f[0].m);
        sl_jw_kv_raw(r->w, "name", raw.ptr, raw.len);
        if (f[1].found && f[1].m.type == SL_JSON_STRING) {
            raw = sl__xlat_raw(&f[1].m);
            sl_jw_kv_raw(r->w, "description", raw.ptr, raw.len);
        }
        if (f[2].found && f[2].m.type == SL_JSON_OBJECT) {
            struct sl_json_pick props[1] = {{.key = "properties"}};
            sl__xlat_pick(f[2].m.value, props, 1);
            if (props[0].found && props[0].m.type == SL_JSON_OBJECT && props[0].m.value.len > 2) {
                snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
                sl_jw_key(r->w, "parameters");
                int rc = sl__gemini_schema(r->w, sl__xlat_value(&f[2].m), param, r->refusal);
                if (rc)
                    return rc;
            }
        } else if (f[2].found && f[2].m.type != SL_JSON_NULL) {
            snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
            return refuse(r, param, "parameters must be a JSON schema object");
        }
        sl_jw_end(r->w);
        ++*ntools;
    }
    sl_jw_end(r->w);
    sl_jw_end(r->w);
    sl_jw_end(r->w);
    return 0;
}

/* tool_choice auto / none / required / {type: function, function: {name}}
 * -> toolConfig.functionCallingConfig {mode: AUTO / NONE / ANY (+
 * allowedFunctionNames)}. */
static int tool_config_member(struct sl__gemini_out *r, const struct sl_json_pick *choice,
                              int ntools)
{
    if (!choice->found || choice->m.type == SL_JSON_NULL)
        return 0;
    const char *mode = "AUTO";
    struct sl_str name = {NULL, 0};
    if (choice->m.type == SL_JSON_STRING) {
        if (sl_str_eq(choice->m.value, "none"))
            mode = "NONE";
        else if (sl_str_eq(choice->m.value, "required"))
            mode = "ANY";
        else if (!sl_str_eq(choice->m.value, "auto"))
            return refuse(r, "tool_choice",
                          "tool_choice must be auto, none, required or a function");
    } else {
        struct sl_json_pick c[2] = {{.key = "type"}, {.key = "function"}};
        struct sl_json_pick f[1] = {{.key = "name"}};
        if (sl__xlat_pick(sl__xlat_raw(&choice->m), c, 2) || !sl__xlat_is(&c[0], "function") ||
            !c[1].found || sl__xlat_pick(sl__xlat_raw(&c[1].m), f, 1) || !f[0].found ||
            f[0].m.type != SL_JSON_STRING)
            return refuse(r, "tool_choice",
                          "tool_choice must be auto, none, required or a function");
        mode = "ANY";
        name = sl__xlat_raw(&f[0].m);
    }
    if (ntools == 0) {
        if (strcmp(mode, "NONE") == 0)
            return 0; /* nothing to call anyway */
        return refuse(r, "tool_choice", "tool_choice needs tools");
    }
    sl_jw_key(r->w, "toolConfig");
    sl_jw_object(r->w);
    sl_jw_key(r->w, "functionCallingConfig");
    sl_jw_object(r->w);
    sl_jw_kv_string(r->w, "mode", mode);
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

/* A number member as a double; 0 when it is one. */
static int number(const struct sl_json_pick *p, double *out)
{
    if (!p->found || p->m.type != SL_JSON_NUMBER)
        return -1;
    *out = strtod(p->m.value.ptr, NULL);
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
    if (number(p, &v) == 0) {
        gen_key(g, key);
        sl_jw_raw(g->r->w, p->m.value.ptr, p->m.value.len);
    } else if (p->found && p->m.type != SL_JSON_NULL) {
        return refuse(g->r, p->key, "%s must be a number", p->key);
    }
    return 0;
}

/* stop: a string or an array of strings -> stopSequences (empty ones left
 * out). */
static int stop_member(struct gen *g, const struct sl_json_member *stop)
{
    struct sl__gemini_out *r = g->r;
    if (stop->type == SL_JSON_NULL)
        return 0;
    if (stop->type == SL_JSON_STRING) {
        if (stop->value.len == 0)
            return 0;
        struct sl_str raw = sl__xlat_raw(stop);
        gen_key(g, "stopSequences");
        sl_jw_array(r->w);
        sl_jw_raw(r->w, raw.ptr, raw.len);
        sl_jw_end(r->w);
        return 0;
    }
    if (stop->type != SL_JSON_ARRAY)
        return refuse(r, "stop", "stop must be a string or an array of strings");
    struct sl_json_walk wk;
    struct sl_json_value item, arr = sl__xlat_value(stop);
    sl_json_enter(&wk, &arr);
    int any = 0;
    while (sl_json_next_item(&wk, &item)) {
        if (*item.start != '"')
            return refuse(r, "stop", "stop must be a string or an array of strings");
        if (item.end - item.start <= 2)
            continue;
        if (!any) {
            gen_key(g, "stopSequences");
            sl_jw_array(r->w);
            any = 1;
        }
        sl_jw_raw(r->w, item.start, (size_t)(item.end - item.start));
    }
    if (any)
        sl_jw_end(r->w);
    return 0;
}

/* response_format text / json_object / json_schema -> responseMimeType
 * (+ responseSchema). */
static int response_format_member(struct gen *g, const struct sl_json_member *rf)
{
    struct sl__gemini_out *r = g->r;
    struct sl_json_pick t[2] = {{.key = "type"}, {.key = "json_schema"}};
    if (rf->type == SL_JSON_NULL)
        return 0;
    if (sl__xlat_pick(sl__xlat_raw(rf), t, 2) || !t[0].found || t[0].m.type != SL_JSON_STRING)
        return refuse(r, "response_format", "response_format must be an object with a type");
    if (sl__xlat_is(&t[0], "text"))
        return 0;
    if (sl__xlat_is(&t[0], "json_object")) {
        gen_key(g, "responseMimeType");
        sl_jw_string(r->w, "application/json");
        return 0;
    }
    if (!sl__xlat_is(&t[0], "json_schema"))
        return refuse(r, "response_format.type", "response_format '%.*s' is not supported",
                      (int)(t[0].m.value.len < 40 ? t[0].m.value.len : 40), t[0].m.value.ptr);
    struct sl_json_pick s[1] = {{.key = "schema"}};
    if (!t[1].found || sl__xlat_pick(sl__xlat_raw(&t[1].m), s, 1) != 0)
        return refuse(r, "response_format.json_schema", "json_schema must be an object");
    gen_key(g, "responseMimeType");
    sl_jw_string(r->w, "application/json");
    if (s[0].found && s[0].m.type != SL_JSON_NULL) {
        gen_key(g, "responseSchema");
        return sl__gemini_schema(r->w, sl__xlat_value(&s[0].m),
                                 "response_format.json_schema.schema", r->refusal);
    }
    return 0;
}

/* The request fields Gemini cannot serve that would change the answer the
 * client expects: refused rather than silently dropped. */
int sl__gemini_refusals(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    for (size_t i = GM_N; i < GM__N; i++) {
        const struct sl_json_member *m = &p[i].m;
        if (!p[i].found || m->type == SL_JSON_NULL)
            continue;
        const char *key = p[i].key;
        double v;
        if (i == GM_N) {
            if (number(&p[i], &v) != 0 || v != 1)
                return refuse(r, key, "n must be 1: the gateway returns one gemini candidate");
        } else if (i == GM_LOGPROBS || i == GM_TOP_LOGPROBS) {
            if (m->type != SL_JSON_FALSE &&
                !(m->type == SL_JSON_NUMBER && strtod(m->value.ptr, NULL) == 0))
                return refuse(r, key, "%s is not supported by gemini", key);
        } else { /* audio, functions, function_call */
            return refuse(r, key, "%s is not supported by gemini", key);
        }
    }
    return 0;
}

int sl__gemini_generation_config(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    struct gen g = {.r = r};
    double v;
    int rc;
    if ((rc = gen_number(&g, &p[GM_TEMPERATURE], "temperature")) ||
        (rc = gen_number(&g, &p[GM_TOP_P], "topP")))
        return rc;
    /* max_tokens: the larger of the two names, as sl_openai_parse reads it */
    long max_tokens = -1;
    for (int i = GM_MAX_TOKENS; i <= GM_MAX_COMPLETION; i++) {
        if (!p[i].found || p[i].m.type == SL_JSON_NULL)
            continue;
        if (number(&p[i], &v) != 0 || v < 1 || v > 1e9 || v != (double)(long)v)
            return refuse(r, p[i].key, "%s must be a positive integer", p[i].key);
        if ((long)v > max_tokens)
            max_tokens = (long)v;
    }
    if (max_tokens > 0) {
        gen_key(&g, "maxOutputTokens");
        sl_jw_int(r->w, max_tokens);
    }
    if (p[GM_STOP].found && (rc = stop_member(&g, &p[GM_STOP].m)))
        return rc;
    if (number(&p[GM_N], &v) == 0) { /* 1: sl__gemini_refusals saw to the rest */
        gen_key(&g, "candidateCount");
        sl_jw_int(r->w, 1);
    }
    if (p[GM_RESPONSE_FORMAT].found && (rc = response_format_member(&g, &p[GM_RESPONSE_FORMAT].m)))
        return rc;
    if (number(&p[GM_SEED], &v) == 0) {
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
    int ntools = 0, rc = 0;
    if (p[GM_TOOLS].found && (rc = tools_member(r, &p[GM_TOOLS].m, &ntools)))
        return rc;
    return tool_config_member(r, &p[GM_TOOL_CHOICE], ntools);
}
