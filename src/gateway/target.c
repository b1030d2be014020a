#include "gateway/target.h"

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

int sl_gw_endpoint_url(const char *base, enum sl_openai_endpoint ep, char *out, size_t size)
{
    struct sl_url u;
    if (sl_gw_target_check_url(base) != NULL || sl_url_parse(base, &u) != NULL)
        return -1;
    /* the path ends the URL: trailing slashes go from both */
    size_t path_len = u.path_len;
    while (path_len > 0 && u.path[path_len - 1] == '/')
        path_len--;
    size_t base_len = (size_t)(u.path - base) + path_len;
    int n = snprintf(out, size, "%.*s%s%s", (int)base_len, base, path_len ? "/" : "/v1/",
                     sl_openai_name(ep));
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

int sl_gw_target_init(struct sl_gw_target *t, const char *base, const char *api_key)
{
    memset(t, 0, sizeof(*t));
    for (int ep = 0; ep < SL_OAI__COUNT; ep++)
        if (sl_gw_endpoint_url(base, (enum sl_openai_endpoint)ep, t->url[ep], sizeof(t->url[ep])))
            return -1;
    if (api_key) {
        size_t n = strlen(api_key);
        t->authorization = malloc(n + 8);
        if (t->authorization == NULL)
            return -1;
        memcpy(t->authorization, "Bearer ", 7);
        memcpy(t->authorization + 7, api_key, n + 1);
        t->auth_header = (struct sl_http_header){{"Authorization", 13}, {t->authorization, n + 7}};
    }
    return 0;
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
}
