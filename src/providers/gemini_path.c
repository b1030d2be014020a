/* The path of a Gemini API call: the model and the method are in the URL.
 * On its own so that the config's pure part (gateway/provider.c) can make a
 * deployment's URLs without linking the translations. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "providers/gemini.h"

int sl_gemini_path(char *dst, size_t size, const char *model, enum sl_gemini_method method)
{
    static const char *const verbs[] = {
        [SL_GEMINI_GENERATE] = ":generateContent",
        [SL_GEMINI_STREAM] = ":streamGenerateContent?alt=sse",
        [SL_GEMINI_EMBED_BATCH] = ":batchEmbedContents",
    };
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    size_t n = strlen(model);
    if (n == 0 ||
        strspn(model, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return UV_EINVAL;
    int w = snprintf(dst, size, "/models/%s%s", model, verbs[method]);
    if (w < 0 || (size_t)w >= size)
        return UV_ENOBUFS;
    return w;
}

int sl_gemini_url(char *dst, size_t size, const char *base, const char *model,
                  enum sl_gemini_method method)
{
    size_t n = strlen(base);
    if (n >= size)
        return UV_ENOBUFS;
    memcpy(dst, base, n + 1);
    int rc = sl_gemini_path(dst + n, size - n, model, method);
    if (rc < 0)
        dst[0] = '\0';
    return rc < 0 ? rc : 0;
}
