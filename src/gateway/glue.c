/* Which glue each provider's deployments get (provider.h). OpenAI's API
 * (openai, azure) needs none: every hook NULL. */
#include "gateway/provider.h"

static const struct sl_gw_glue none;

const struct sl_gw_glue *sl__gw_glue(const struct sl_gw_provider *p)
{
    if (p == &sl_gw_provider_anthropic)
        return &sl__gw_anthropic_glue;
    if (p == &sl_gw_provider_bedrock)
        return &sl__gw_bedrock_glue;
    if (p == &sl_gw_provider_gemini)
        return &sl__gw_gemini_glue;
    return &none;
}
