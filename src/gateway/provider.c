/* The provider tables (provider.h): OpenAI-compatible servers and Azure
 * OpenAI speak OpenAI's API and need only their targets; the others live
 * next to their glue (<name>_attempt.c). */
#include "gateway/provider.h"

#include <stdio.h>
#include <string.h>

#include "gateway/config.h"

static int openai_target(struct sl_gw_deployment *d, char *err, size_t err_size)
{
    if (sl_gw_target_init(&d->target, d->url, d->api_key) == 0)
        return 0;
    snprintf(err, err_size, "cannot resolve its url");
    return -1;
}

const struct sl_gw_provider sl_gw_provider_openai = {
    .name = "openai",
    .target = openai_target,
};

/* An Azure deployment name goes into the URL's path as it is. */
static int azure_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int azure_target(struct sl_gw_deployment *d, char *err, size_t err_size)
{
    const char *v = d->api_version;
    int v1 = v[0] == '\0' || strcmp(v, "v1") == 0;
    if (!v1 && !azure_name_ok(d->upstream_model)) {
        snprintf(err, err_size,
                 "api_version '%s' is the deployment form: `model:` must name the Azure "
                 "deployment (letters, digits, '-', '_', '.')",
                 v);
        return -1;
    }
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '-')) {
            snprintf(err, err_size, "api_version '%s' is not a version (e.g. 2024-10-21 or v1)", v);
            return -1;
        }
    if (sl_gw_target_init_azure(&d->target, d->url, d->api_key, d->upstream_model, v) == 0)
        return 0;
    snprintf(err, err_size, "cannot resolve its url");
    return -1;
}

const struct sl_gw_provider sl_gw_provider_azure = {
    .name = "azure",
    .target = azure_target,
};

static const struct sl_gw_provider *const providers[] = {
    &sl_gw_provider_openai,
    &sl_gw_provider_azure,
    &sl_gw_provider_anthropic,
    &sl_gw_provider_bedrock,
};
#define NPROVIDERS (sizeof(providers) / sizeof(*providers))

const struct sl_gw_provider *sl_gw_provider_find(const char *name)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

const char *sl_gw_providers_known(void)
{
    static char known[256];
    if (known[0] == '\0')
        for (size_t i = 0; i < NPROVIDERS; i++)
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                     providers[i]->name);
    return known;
}
