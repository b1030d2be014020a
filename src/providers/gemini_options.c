/* The request's options: tools and toolConfig from tools and tool_choice,
 * generationConfig from the sampling and output fields, and the fields
 * that are refused. Values are copied as raw spans; numbers are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini_int.h"
#include "providers/xlat_chat.h"

#define refuse(r, ...) sl_xlat_refuse((r)->c->refusal, __VA_ARGS__)

/* A tool -> a functionDeclaration {name, description, parameters}. A
 * schema without properties is left out: Gemini refuses an OBJECT without
 * them, and no parameters means the same. */
static int declaration(void *arg, size_t i, struct sl_str name, struct sl_str description,
                       const struct sl_json_member *parameters)
{
    struct sl__gemini_out *r = arg;
    if (i == 0) {
        sl_jw_key(r->w, "tools");
        sl_jw_array(r->w);
        sl_jw_object(r->w);
        sl_jw_key(r->w, "functionDeclarations");
        sl_jw_array(r->w);
    }
    sl_jw_object(r->w);
    sl_jw_kv_raw(r->w, "name", name.ptr, name.len);
    if (description.ptr)
        sl_jw_kv_raw(r->w, "description", description.ptr, description.len);
    struct sl_json_pick props[1] = {{.key = "properties"}};
    if (parameters && sl_xlat_pick(parameters->value, props, 1) == 0 && props[0].found &&
        props[0].m.type == SL_JSON_OBJECT && props[0].m.value.len > 2) {
        char param[64];
        snprintf(param, sizeof(param), "tools[%zu].function.parameters", i);
        sl_jw_key(r->w, "parameters");
        int rc = sl__gemini_schema(r->w, sl_xlat_value(parameters), param, r->c->refusal);
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
    static const char *const modes[] = {[SL__XC_AUTO] = "AUTO",
                                        [SL__XC_NONE] = "NONE",
                                        [SL__XC_REQUIRED] = "ANY",
                                        [SL__XC_FUNCTION] = "ANY"};
    enum sl__xchat_choice kind;
    struct sl_str name;
    int rc = sl__xchat_tool_choice(r->c, choice, &kind, &name);
    if (rc || kind == SL__XC_ABSENT)
        return rc;
    if (ntools == 0) {
        if (kind == SL__XC_NONE)
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
    if (sl__xchat_number(p, &v) == 0) {
        gen_key(g, key);
        sl_jw_raw(g->r->w, p->m.value.ptr, p->m.value.len);
    } else if (p->found && p->m.type != SL_JSON_NULL) {
        return refuse(g->r, p->key, "%s must be a number", p->key);
    }
    return 0;
}

/* stop -> stopSequences (an array). */
static void stop_sequence(void *arg, struct sl_str raw, size_t index)
{
    struct gen *g = arg;
    if (index == 0) {
        gen_key(g, "stopSequences");
        sl_jw_array(g->r->w);
    }
    sl_jw_raw(g->r->w, raw.ptr, raw.len);
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
                                 r->c->refusal);
    }
    return 0;
}

/* The request fields Gemini cannot serve that would change the answer the
 * client expects: refused rather than silently dropped. */
int sl__gemini_refusals(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    return sl__xchat_refuse_unserved(r->c, &p[GM_N], GM__N - GM_N);
}

int sl__gemini_generation_config(struct sl__gemini_out *r, const struct sl_json_pick *p)
{
    struct gen g = {.r = r};
    double v;
    long max_tokens;
    size_t n;
    int rc;
    if ((rc = gen_number(&g, &p[GM_TEMPERATURE], "temperature")) ||
        (rc = gen_number(&g, &p[GM_TOP_P], "topP")) ||
        (rc = sl__xchat_max_tokens(r->c, &p[GM_MAX_TOKENS], &p[GM_MAX_COMPLETION], &max_tokens)))
        return rc;
    if (max_tokens > 0) {
        gen_key(&g, "maxOutputTokens");
        sl_jw_int(r->w, max_tokens);
    }
    void *arg = r->c->arg;
    r->c->arg = &g; /* stop_sequence's */
    rc = p[GM_STOP].found ? sl__xchat_stops(r->c, &p[GM_STOP].m, stop_sequence, &n) : 0;
    r->c->arg = arg;
    if (rc)
        return rc;
    if (p[GM_STOP].found && n > 0)
        sl_jw_end(r->w);
    if (sl__xchat_number(&p[GM_N], &v) == 0) { /* 1: sl__gemini_refusals saw to the rest */
        gen_key(&g, "candidateCount");
        sl_jw_int(r->w, 1);
    }
    if (p[GM_RESPONSE_FORMAT].found && (rc = response_format_member(&g, &p[GM_RESPONSE_FORMAT].m)))
        return rc;
    if (sl__xchat_number(&p[GM_SEED], &v) == 0) {
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
    void *arg = r->c->arg;
    r->c->arg = r; /* declaration's */
    int rc = p[GM_TOOLS].found ? sl__xchat_tools(r->c, &p[GM_TOOLS].m, declaration, &ntools) : 0;
    r->c->arg = arg;
    if (rc)
        return rc;
    if (ntools > 0) {
        sl_jw_end(r->w); /* functionDeclarations */
        sl_jw_end(r->w); /* the tool */
        sl_jw_end(r->w); /* tools */
    }
    return tool_config_member(r, &p[GM_TOOL_CHOICE], ntools);
}
