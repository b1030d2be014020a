/* What every provider adapter and front format shares: a translation's
 * refusal (the client's 400 in OpenAI's words) and token usage in OpenAI's
 * terms. The adapters (anthropic.h, gemini.h, bedrock.h) and the front
 * formats (messages_front.h, responses_front.h) are pure byte-to-byte
 * translations that fill these; the gateway turns them into a response and
 * a log row. */
#ifndef SL_PROVIDERS_XLAT_H
#define SL_PROVIDERS_XLAT_H

#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

/* A refusal: the 400 the client gets, in OpenAI's words. */
struct sl_xlat_refusal {
    char param[64];    /* the offending field, e.g. "messages[2].content[0].type" */
    char message[256]; /* one line */
};

/* Fills *rf (the message printf-style, cut to fit) and returns UV_EINVAL,
 * so that a translation refuses with `return sl_xlat_refuse(...)`. */
static inline int sl_xlat_refuse(struct sl_xlat_refusal *rf, const char *param, const char *fmt,
                                 ...) __attribute__((format(printf, 3, 4)));

static inline int sl_xlat_refuse(struct sl_xlat_refusal *rf, const char *param, const char *fmt,
                                 ...)
{
    snprintf(rf->param, sizeof(rf->param), "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rf->message, sizeof(rf->message), fmt, ap);
    va_end(ap);
    return UV_EINVAL;
}

/* Token usage in OpenAI's terms: prompt counts every input token (fresh,
 * read from the cache and written to it), cached those read from the cache. */
struct sl_xlat_usage {
    unsigned long prompt, completion, cached;
};

#endif
