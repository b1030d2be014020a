/* A deployment's provider: how the gateway speaks its API, in two parts:
 * what the config needs (struct sl_gw_provider: its name, its target, the
 * endpoints it serves; pure, in provider.c) and the gateway's glue around
 * its translations (struct sl_gw_glue, in <name>_attempt.c, found for each
 * deployment when the gateway starts: r->dep->glue). Clients speak
 * OpenAI's API to the gateway; a provider table says how a request leaves
 * for an upstream of another API and how its answer comes back in OpenAI's
 * shapes, so that the rest of the gateway (admission, retries, fallbacks,
 * the commit point, the row) never knows which provider answered.
 *
 * The translations themselves are pure functions in src/providers/ (one
 * adapter per API); the glue is the only place a provider's per-request
 * state is touched: its stream translator lives in gw_req's `xs` union,
 * its refusal in r->refusal, its translated chunks in r->xlat.
 *
 * Every glue hook may be NULL, meaning "as OpenAI": the body as the
 * client sent it (with the deployment's model name), the JSON answer as it
 * came (its usage read for the row), the class of an error from its status,
 * the SSE stream relayed as it is up to its [DONE].
 *
 * The order of calls for one request on one deployment:
 *   body           once, when the deployment is picked: r->up_body from
 *                  r->body (0; UV_EINVAL: r->refusal is the client's 400,
 *                  nothing is sent; UV_ENOMEM: the next deployment);
 *   attempt        before each attempt (retries included): reset the stream
 *                  translator; may set r->up_url (an owned URL for this
 *                  attempt, freed by the gateway; NULL: the target's URL for
 *                  the endpoint) and append headers to r->up_headers
 *                  (r->n_up_headers < SL_GW_UP_HEADERS; signing goes here).
 *                  Returns 0, or a class to fail the attempt with (no
 *                  request is sent; SL_E_UNAVAILABLE is retried);
 *   response       a 2xx JSON answer in r->resp made a chat.completion in
 *                  place, usage set (0; else the client's 502);
 *   error          a non-2xx answer in r->resp made OpenAI's error body in
 *                  place, r->up_status what the client is shown; returns the
 *                  class the retrier decides on (429s are rate limited);
 *   event / feed   a committed stream: `event` gets each SSE event (when
 *                  the stream is SSE), `feed` the raw bytes (when it is not,
 *                  as Bedrock's eventstream); either appends whole
 *                  chat.completion.chunk events to r->xlat and sets
 *                  r->saw_done when it wrote the final [DONE], r->stream_err
 *                  when the stream failed (an error event was written);
 *                  `feed` returns 0 or a class (a framing error: the stream
 *                  ends with an error event);
 *   stream_end     the upstream body ended cleanly before r->saw_done: may
 *                  append the end ([DONE]) for an API without an end marker
 *                  (Gemini) and set r->saw_done; else the stream was cut;
 *   release        at the request's end, what attempt or event allocated.
 */
#ifndef SL_GW_PROVIDER_H
#define SL_GW_PROVIDER_H

#include <stddef.h>

#include "core/errclass.h"
#include "http/openai.h"
#include "http/sse.h"

struct gw_req;
struct sl_gw_deployment;

#define SL_GW_UP_HEADERS 24

struct sl_gw_provider {
    const char *name; /* `provider:` in the config */
    /* `url:` when the deployment gives none (NULL: url is required). */
    const char *default_url;
    /* At load: the deployment's target (its URLs and key header) from its
     * config. Returns 0, or -1 with a one-line reason in err. */
    int (*target)(struct sl_gw_deployment *d, char *err, size_t err_size);
    /* Whether it serves endpoint ep at all (NULL: every endpoint). A
     * request to an endpoint it does not serve is the client's 400. */
    int (*serves)(enum sl_openai_endpoint ep);
};

struct sl_gw_glue {
    int (*body)(struct gw_req *r);
    int (*attempt)(struct gw_req *r);
    int (*response)(struct gw_req *r);
    enum sl_err (*error)(struct gw_req *r);
    void (*event)(struct gw_req *r, const struct sl_sse_event *ev);
    int (*feed)(struct gw_req *r, const char *data, size_t len);
    int (*stream_end)(struct gw_req *r);
    void (*release)(struct gw_req *r);
};

extern const struct sl_gw_provider sl_gw_provider_openai;
extern const struct sl_gw_provider sl_gw_provider_azure;
extern const struct sl_gw_provider sl_gw_provider_anthropic;
extern const struct sl_gw_provider sl_gw_provider_bedrock;
extern const struct sl_gw_provider sl_gw_provider_gemini;

/* The glue for a provider's deployments (all NULL for OpenAI's API). */
const struct sl_gw_glue *sl__gw_glue(const struct sl_gw_provider *p);
extern const struct sl_gw_glue sl__gw_anthropic_glue;
extern const struct sl_gw_glue sl__gw_bedrock_glue;
extern const struct sl_gw_glue sl__gw_gemini_glue;

/* The provider called name, or NULL; `known` lists the names ("openai,
 * azure, ...") for a message. */
const struct sl_gw_provider *sl_gw_provider_find(const char *name);
const char *sl_gw_providers_known(void);

#endif
