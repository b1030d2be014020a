/* The config's `otel:` section: where the gateway sends its traces
 * (docs/otel.md). A scalar is the endpoint alone; a mapping has endpoint,
 * headers (name: value; a value "${VAR}" is read from the environment,
 * for a collector's token), sample (0.0-1.0, default 1.0) and
 * service_name (default "sluice"). The endpoint is a collector's base URL
 * (http://host:4318, to which /v1/traces is added) or its full traces URL
 * (any other path is kept). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config_walk.h"
#include "http/url.h"

static int header_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_otel_config *o = ctx;
    if (o->nheaders == SL_OTEL_MAX_HEADERS) {
        sl__cfg_fail(w, v, "otel.headers: at most %d headers", SL_OTEL_MAX_HEADERS);
        return 0;
    }
    char value[512];
    if (sl__cfg_get_string(w, v, "otel.headers value", value, sizeof(value)) != 0)
        return 0;
    size_t n = strlen(value);
    const char *text = value;
    if (n > 3 && value[0] == '$' && value[1] == '{' && value[n - 1] == '}') {
        value[n - 1] = '\0';
        text = getenv(value + 2);
        if (text == NULL || *text == '\0') {
            sl__cfg_fail(w, v, "otel.headers.%s: environment variable %s is not set", key,
                         value + 2);
            return 0;
        }
    }
    for (const char *p = key; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 0x7f) {
            sl__cfg_fail(w, v, "otel.headers: '%s' is not a header name", key);
            return 0;
        }
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            sl__cfg_fail(w, v, "otel.headers.%s holds a control character", key);
            return 0;
        }
    if (strlen(key) >= sizeof(o->headers[0].name) || strlen(text) >= sizeof(o->headers[0].value)) {
        sl__cfg_fail(w, v, "otel.headers.%s is too long", key);
        return 0;
    }
    snprintf(o->headers[o->nheaders].name, sizeof(o->headers[0].name), "%s", key);
    snprintf(o->headers[o->nheaders].value, sizeof(o->headers[0].value), "%s", text);
    o->nheaders++;
    return 0;
}

static int otel_member(struct walker *w, const char *key, yaml_node_t *v, void *ctx)
{
    struct sl_otel_config *o = ctx;
    if (!strcmp(key, "endpoint"))
        sl__cfg_get_string(w, v, "otel.endpoint", o->endpoint, sizeof(o->endpoint) - 16);
    else if (!strcmp(key, "headers"))
        sl__cfg_walk_mapping(w, v, "otel.headers", header_member, o, "any header name");
    else if (!strcmp(key, "sample"))
        sl__cfg_get_double(w, v, "otel.sample", 0.0, 1.0, &o->sample);
    else if (!strcmp(key, "service_name"))
        sl__cfg_get_string(w, v, "otel.service_name", o->service, sizeof(o->service));
    else
        return 1;
    return 0;
}

void sl__cfg_load_otel(struct walker *w, struct sl_otel_config *o, yaml_node_t *v)
{
    o->sample = 1.0;
    snprintf(o->service, sizeof(o->service), "sluice");
    if (v->type == YAML_SCALAR_NODE)
        sl__cfg_get_string(w, v, "otel", o->endpoint, sizeof(o->endpoint) - 16);
    else
        sl__cfg_walk_mapping(w, v, "otel", otel_member, o,
                             "endpoint, headers, sample, service_name");
    if (w->failed)
        return;
    struct sl_url u;
    const char *why = o->endpoint[0] ? sl_url_parse(o->endpoint, &u) : "it is missing";
    if (why == NULL && (u.query || u.fragment))
        why = "a query or a fragment is not allowed";
    if (why) {
        sl__cfg_fail(w, v, "otel.endpoint: %s (e.g. http://127.0.0.1:4318)", why);
        return;
    }
    if (u.path_len == 0 || (u.path_len == 1 && u.path[0] == '/')) {
        size_t n = strlen(o->endpoint);
        if (n > 0 && o->endpoint[n - 1] == '/')
            o->endpoint[--n] = '\0';
        strcat(o->endpoint, "/v1/traces"); /* room kept above */
    }
}
