/* AWS Signature Version 4 (AWS4-HMAC-SHA256) for one HTTP request, as the
 * Bedrock Runtime wants it: pure (the time is an input), so the published
 * test vectors check it byte for byte.
 *
 * Signing builds three texts and one key:
 *   canonical request = METHOD \n canonical URI \n canonical query \n
 *                       canonical headers \n signed headers \n hex(sha256(payload))
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz-date \n scope \n hex(sha256(canonical request))
 *   scope             = yyyymmdd/region/service/aws4_request
 *   signing key       = HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request"
 *   signature         = hex(HMAC(signing key, string to sign))
 *
 * The canonical forms follow AWS's rules for every service but S3:
 * - URI: `path` is the path as it goes on the wire (already percent-encoded
 *   where it needs to be: sl_sigv4_uri_encode() a model id before putting it
 *   in). Dot segments are removed and repeated slashes collapsed, then every
 *   byte but the unreserved ones (A-Z a-z 0-9 - _ . ~) and '/' is encoded
 *   (again): the wire path /model/m%3A0/converse signs as
 *   /model/m%253A0/converse. This double encoding is what AWS does for
 *   Bedrock; a single encoding gives SignatureDoesNotMatch.
 * - Query: split at '&', each name and value percent-decoded then encoded
 *   with the strict AWS set (so a raw or an encoded query sign the same),
 *   "name" alone becomes "name=", pairs sorted by name then value.
 * - Headers: names lowercased, values trimmed with inner runs of spaces
 *   folded to one, repeated names joined with ',' in the order given,
 *   sorted by name. host and x-amz-date are always signed (from `host` and
 *   `time`), x-amz-security-token when a session token is given,
 *   x-amz-content-sha256 on request.
 *
 * Key cache: the signing key depends only on (secret, date, region,
 * service), so a sl_sigv4_key_cache keeps the last one and a request does
 * the four-HMAC chain at most once a day. A cache is not locked: one per
 * thread (the gateway signs on its loop). */
#ifndef SL_SIGV4_H
#define SL_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

/* One header to sign (and to send). Names in any case. */
struct sl_sigv4_header {
    const char *name;
    const char *value;
};

/* Credentials: views the caller owns. session_token may be NULL. */
struct sl_sigv4_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
};

struct sl_sigv4_request {
    const char *method; /* "POST" */
    const char *host;   /* "bedrock-runtime.us-east-1.amazonaws.com" (with :port if not default) */
    const char *path;   /* wire path, "/model/anthropic.claude-v2%3A1/converse"; NULL = "/" */
    const char *query;  /* wire query without '?', or NULL */
    const struct sl_sigv4_header *headers; /* other headers to sign, e.g. content-type */
    size_t n_headers;
    const void *payload; /* the body; NULL with payload_len 0 for none */
    size_t payload_len;
    const char *region;      /* "us-east-1" */
    const char *service;     /* "bedrock" */
    time_t time;             /* the signing time, UTC seconds */
    int sign_content_sha256; /* also sign and send x-amz-content-sha256 */
};

/* What to add to the request. Strings are NUL-terminated. */
struct sl_sigv4_signed {
    char amz_date[17];       /* x-amz-date: 20150830T123600Z */
    char payload_sha256[65]; /* x-amz-content-sha256 when asked for */
    char signature[65];
    /* Authorization: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
     * Signature=..." (the x-amz-security-token header value is the
     * caller's session token itself). Heap memory; sl_sigv4_signed_release. */
    struct sl_buf authorization;
};

/* The last derived signing key. Zero-initialise (or sl_sigv4_key_cache_init). */
struct sl_sigv4_key_cache {
    char date[9];
    char region[64];
    char service[64];
    unsigned char secret_sha256[32]; /* which secret the key came from */
    unsigned char key[32];
    int valid;
    unsigned long derivations; /* HMAC chains run: for tests and metrics */
};

#define SL_SIGV4_MAX_HEADERS 64
#define SL_SIGV4_MAX_TEXT    (1024 * 1024) /* canonical request, authorization */

/* Error strings (sl_sigv4_sign's err), exported for callers that compare. */
extern const char sl_sigv4_err_input[];
extern const char sl_sigv4_err_too_big[];

static inline void sl_sigv4_key_cache_init(struct sl_sigv4_key_cache *c)
{
    *c = (struct sl_sigv4_key_cache){0};
}

/* Signs `req`. `cache` may be NULL (the key is derived each time).
 * `canonical` and `string_to_sign`, when not NULL, receive those texts
 * (appended; for tests and for a "signature does not match" diagnosis).
 * Returns 0 and fills `out` (initialised here: release it with
 * sl_sigv4_signed_release, also after an error), or UV_EINVAL (a missing
 * field, a header name with a control byte, too many headers) or
 * UV_ENOBUFS / UV_ENOMEM, with `*err` set to a one-line reason. */
int sl_sigv4_sign(const struct sl_sigv4_request *req, const struct sl_sigv4_creds *creds,
                  struct sl_sigv4_key_cache *cache, struct sl_sigv4_signed *out,
                  struct sl_buf *canonical, struct sl_buf *string_to_sign, const char **err);

void sl_sigv4_signed_release(struct sl_sigv4_signed *out);

/* Appends `s` percent-encoded with AWS's rule (every byte but A-Z a-z 0-9
 * - _ . ~ as %XX, upper-case hex; '/' too unless keep_slash). For building
 * wire paths: "/model/" + encode(model id) + "/converse". */
int sl_sigv4_uri_encode(struct sl_buf *out, const char *s, size_t len, int keep_slash);

/* Credentials and region from the environment: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_REGION or else
 * AWS_DEFAULT_REGION. Copies (freed by sl_sigv4_env_release). */
struct sl_sigv4_env {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when unset or empty */
    char *region;        /* NULL when neither variable is set */
};

/* Returns 0, or UV_EINVAL with `errbuf` naming the missing variable
 * ("AWS_SECRET_ACCESS_KEY is not set (AWS_ACCESS_KEY_ID is)"), or
 * UV_ENOMEM. `need_region`: a missing region is an error too. The caller
 * releases `env` either way. */
int sl_sigv4_env_load(struct sl_sigv4_env *env, int need_region, char *errbuf, size_t errlen);
void sl_sigv4_env_release(struct sl_sigv4_env *env);

/* The creds view of a loaded environment. */
static inline struct sl_sigv4_creds sl_sigv4_env_creds(const struct sl_sigv4_env *env)
{
    return (struct sl_sigv4_creds){env->access_key_id, env->secret_access_key, env->session_token};
}

#endif
