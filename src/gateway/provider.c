/* The providers as the config knows them (provider.h): their names, their
 * targets and the endpoints they serve. Pure: no gateway state, so the
 * config loader (and its fuzzer) links without the gateway. */
#include "gateway/provider.h"

#include <stdio.h>
#include <string.h>

#include "gateway/config.h"
#include "http/url.h"
#include "providers/gemini.h"

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

static int anthropic_target(struct sl_gw_deployment *d, char *err, size_t err_size)
{
    if (sl_gw_target_init_anthropic(&d->target, d->url, d->api_key, d->anthropic_version) == 0)
        return 0;
    snprintf(err, err_size, "cannot resolve its url");
    return -1;
}

static int chat_only(enum sl_openai_endpoint ep)
{
    return ep == SL_OAI_CHAT;
}

const struct sl_gw_provider sl_gw_provider_anthropic = {
    .name = "anthropic",
    .target = anthropic_target,
    .serves = chat_only,
};

static int region_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return 0;
    return 1;
}

/* Bedrock: the AWS credentials and region from the environment (at load,
 * so that a missing one stops serve with its name), the URL from the
 * region unless given; every endpoint's URL is the Converse one (the glue
 * signs each attempt and picks /converse-stream for a stream). */
static int bedrock_target(struct sl_gw_deployment *d, char *err, size_t err_size)
{
    char why[160];
    if (sl_sigv4_env_load(&d->aws, d->region[0] == '\0', why, sizeof(why)) != 0) {
        snprintf(err, err_size, "%s", why);
        return -1;
    }
    if (d->region[0] == '\0')
        snprintf(d->region, sizeof(d->region), "%s", d->aws.region);
    if (!region_ok(d->region)) {
        snprintf(err, err_size, "region '%s' is not a region (e.g. us-east-1)", d->region);
        return -1;
    }
    if (d->url[0] == '\0')
        snprintf(d->url, sizeof(d->url), "https://bedrock-runtime.%s.amazonaws.com", d->region);
    const char *bad = sl_gw_target_check_url(d->url);
    if (bad) {
        snprintf(err, err_size, "url '%s': %s", d->url, bad);
        return -1;
    }
    memset(&d->target, 0, sizeof(d->target));
    struct sl_buf url;
    size_t path_at;
    sl_buf_init(&url, sizeof(d->target.url[0]) - 1);
    int rc = sl_gw_target_url_bedrock(d->url, d->upstream_model[0] ? d->upstream_model : "-", 0,
                                      &url, &path_at);
    for (int ep = 0; rc == 0 && ep < SL_OAI__COUNT; ep++)
        memcpy(d->target.url[ep], url.ptr, url.len + 1);
    sl_buf_release(&url);
    if (rc != 0)
        snprintf(err, err_size, "its url with the model id does not fit in %zu bytes",
                 sizeof(d->target.url[0]) - 1);
    return rc;
}

const struct sl_gw_provider sl_gw_provider_bedrock = {
    .name = "bedrock",
    .target = bedrock_target,
    .serves = chat_only,
};

/* Gemini: the model is in the URL (providers/gemini.h): BASE/models/M:...
 * where BASE is the deployment's url, /v1beta appended to a url without a
 * path. With a model, the JSON and embeddings URLs are made here; without
 * one (and for a stream) the glue makes each attempt's URL. */
static int gemini_target(struct sl_gw_deployment *d, char *err, size_t err_size)
{
    struct sl_url u;
    memset(&d->target, 0, sizeof(d->target));
    if (sl_url_parse(d->url, &u) != NULL) {
        snprintf(err, err_size, "cannot resolve its url");
        return -1;
    }
    if (u.path_len == 0) { /* the API's version: a base without a path gets v1beta */
        size_t n = strlen(d->url);
        if (n + 8 > sizeof(d->url)) {
            snprintf(err, err_size, "its url is too long");
            return -1;
        }
        memcpy(d->url + n, "/v1beta", 8);
    }
    const char *model = d->upstream_model;
    for (int ep = 0; ep < SL_OAI__COUNT; ep++) {
        enum sl_gemini_method m =
            ep == SL_OAI_EMBEDDINGS ? SL_GEMINI_EMBED_BATCH : SL_GEMINI_GENERATE;
        /* without a model: the base, only for the route */
        int rc = model[0]
                     ? sl_gemini_url(d->target.url[ep], sizeof(d->target.url[ep]), d->url, model, m)
                     : (snprintf(d->target.url[ep], sizeof(d->target.url[ep]), "%s", d->url) < 0);
        if (rc != 0) {
            snprintf(err, err_size,
                     "model '%s' cannot be a Gemini model name (letters, digits, '.', '_', '-')",
                     model);
            return -1;
        }
    }
    if (sl_gw_target_key(&d->target, "x-goog-api-key", "", d->api_key) != 0) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

static int chat_and_embeddings(enum sl_openai_endpoint ep)
{
    return ep == SL_OAI_CHAT || ep == SL_OAI_EMBEDDINGS;
}

const struct sl_gw_provider sl_gw_provider_gemini = {
    .name = "gemini",
    .default_url = SL_GEMINI_DEFAULT_URL,
    .target = gemini_target,
    .serves = chat_and_embeddings,
};

static const struct sl_gw_provider *const providers[] = {
    &sl_gw_provider_openai,  &sl_gw_provider_azure,  &sl_gw_provider_anthropic,
    &sl_gw_provider_bedrock, &sl_gw_provider_gemini,
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
