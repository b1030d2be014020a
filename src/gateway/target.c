#include "gateway/target.h"
#include "providers/bedrock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

const char *sl_gw_target_check_url(const char *url)
{
    struct sl_url u;
    const char *why = sl_url_parse(url, &u);
    if (why)
        return why;
    if (u.query)
        return "a query ('?...') is not allowed in a base URL";
    if (u.fragment)
        return "a fragment ('#...') is not allowed in a base URL";
    return NULL;
}

/* The base path rule above with `tail` ("chat/completions", "messages"). */
int sl_gw_target_url_under(const char *base, const char *tail, char *out, size_t size)
{
    struct sl_url u;
    if (sl_gw_target_check_url(base) != NULL || sl_url_parse(base, &u) != NULL)
        return -1;
    /* the path ends the URL: trailing slashes go from both */
    size_t path_len = u.path_len;
    while (path_len > 0 && u.path[path_len - 1] == '/')
        path_len--;
    size_t base_len = (size_t)(u.path - base) + path_len;
    int n = snprintf(out, size, "%.*s%s%s", (int)base_len, base, path_len ? "/" : "/v1/", tail);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

int sl_gw_endpoint_url(const char *base, enum sl_openai_endpoint ep, char *out, size_t size)
{
    return sl_gw_target_url_under(base, sl_openai_name(ep), out, size);
}

/* The key's header: `prefix` and the key, in a buffer of its own. */
int sl_gw_target_key(struct sl_gw_target *t, const char *name, const char *prefix,
                     const char *api_key)
{
    t->key_name = name;
    t->key_prefix = prefix;
    if (api_key == NULL)
        return 0;
    size_t n = strlen(api_key), p = strlen(prefix);
    t->authorization = malloc(n + p + 1);
    if (t->authorization == NULL)
        return -1;
    memcpy(t->authorization, prefix, p);
    memcpy(t->authorization + p, api_key, n + 1);
    t->auth_header = (struct sl_http_header){{name, strlen(name)}, {t->authorization, n + p}};
    return 0;
}

int sl_gw_target_init(struct sl_gw_target *t, const char *base, const char *api_key)
{
    memset(t, 0, sizeof(*t));
    for (int ep = 0; ep < SL_OAI__COUNT; ep++)
        if (sl_gw_endpoint_url(base, (enum sl_openai_endpoint)ep, t->url[ep], sizeof(t->url[ep])))
            return -1;
    if (sl_gw_target_url_under(base, "responses", t->responses_url, sizeof(t->responses_url)))
        return -1;
    return sl_gw_target_key(t, "Authorization", "Bearer ", api_key);
}

int sl_gw_target_extra(struct sl_gw_target *t, const char *name, const char *value)
{
    free(t->extra_value);
    if ((t->extra_value = strdup(value)) == NULL)
        return -1;
    t->extra_header =
        (struct sl_http_header){{name, strlen(name)}, {t->extra_value, strlen(t->extra_value)}};
    return 0;
}

int sl_gw_target_init_anthropic(struct sl_gw_target *t, const char *base, const char *api_key,
                                const char *version)
{
    memset(t, 0, sizeof(*t));
    /* every endpoint gets the one URL (the client resolves each route);
     * only chat/completions is ever sent (the provider serves only it) */
    for (int ep = 0; ep < SL_OAI__COUNT; ep++)
        if (sl_gw_target_url_under(base, "messages", t->url[ep], sizeof(t->url[ep])))
            return -1;
    if (sl_gw_target_key(t, "x-api-key", "", api_key) != 0)
        return -1;
    return sl_gw_target_extra(t, "anthropic-version", version);
}

int sl_gw_target_init_azure(struct sl_gw_target *t, const char *base, const char *api_key,
                            const char *deployment, const char *api_version)
{
    memset(t, 0, sizeof(*t));
    if (sl_gw_target_check_url(base) != NULL)
        return -1;
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    int v1 = api_version == NULL || api_version[0] == '\0' || strcmp(api_version, "v1") == 0;
    if (!v1 && (deployment == NULL || deployment[0] == '\0'))
        return -1;
    for (int ep = 0; ep < SL_OAI__COUNT; ep++) {
        const char *tail = sl_openai_name((enum sl_openai_endpoint)ep);
        int n =
            v1 ? snprintf(t->url[ep], sizeof(t->url[ep]), "%.*s/openai/v1/%s", (int)len, base, tail)
               : snprintf(t->url[ep], sizeof(t->url[ep]),
                          "%.*s/openai/deployments/%s/%s?api-version=%s", (int)len, base,
                          deployment, tail, api_version);
        if (n < 0 || (size_t)n >= sizeof(t->url[ep]))
            return -1;
    }
    /* the Responses API takes the deployment in the body's model, in both forms */
    int n = v1 ? snprintf(t->responses_url, sizeof(t->responses_url), "%.*s/openai/v1/responses",
                          (int)len, base)
               : snprintf(t->responses_url, sizeof(t->responses_url),
                          "%.*s/openai/responses?api-version=%s", (int)len, base, api_version);
    if (n < 0 || (size_t)n >= sizeof(t->responses_url))
        return -1;
    return sl_gw_target_key(t, "api-key", "", api_key);
}

void sl_gw_target_release(struct sl_gw_target *t)
{
    if (t->authorization) {
        /* do not leave the secret lying around in freed memory */
        memset(t->authorization, 0, strlen(t->authorization));
        free(t->authorization);
        t->authorization = NULL;
        t->auth_header = (struct sl_http_header){{NULL, 0}, {NULL, 0}};
    }
    free(t->extra_value);
    t->extra_value = NULL;
    t->extra_header = (struct sl_http_header){{NULL, 0}, {NULL, 0}};
}

int sl_gw_target_url_bedrock(const char *base, const char *model_id, int stream, struct sl_buf *out,
                             size_t *path_at)
{
    struct sl_url u;
    if (sl_url_parse(base, &u) != NULL)
        return -1;
    size_t path_len = u.path_len; /* a proxy's prefix, without trailing slashes */
    while (path_len > 0 && u.path[path_len - 1] == '/')
        path_len--;
    if (sl_buf_append(out, base, (size_t)(u.path - base)) != 0)
        return -1;
    *path_at = out->len;
    if (sl_buf_append(out, u.path, path_len) != 0 ||
        sl_bedrock_path(out, model_id, strlen(model_id), stream) != 0 ||
        sl_buf_append(out, "", 1) != 0)
        return -1;
    out->len--; /* the NUL stays, uncounted */
    return 0;
}
