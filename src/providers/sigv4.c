/* AWS Signature Version 4: the canonical texts, the key chain and its
 * cache (rules in sigv4.h). Every text is built in a bounded sl_buf; the
 * header and query lists keep offsets into their scratch buffer, never
 * pointers, because the buffer moves as it grows. */
#include "providers/sigv4.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/str.h"

const char sl_sigv4_err_input[] = "sigv4: missing or invalid request field";
const char sl_sigv4_err_too_big[] = "sigv4: request too big to sign";

static const char hexdigits[] = "0123456789abcdef";

static void hex(char *out, const unsigned char *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 through one fetched implementation and one context per thread:
 * OpenSSL 3's one-shot calls (EVP_Digest with EVP_sha256(), HMAC()) look
 * the algorithm up under a lock on every call, which cost more than the
 * hashing of a request's few hundred bytes. HMAC is built on it (RFC 2104). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static EVP_MD_CTX *sha256_ctx(void)
{
    static _Thread_local EVP_MD_CTX *ctx;
    pthread_once(&sha256_once, sha256_fetch);
    if (ctx == NULL)
        ctx = EVP_MD_CTX_new();
    return ctx;
}

/* The digest of two pieces (b may be empty). On an OpenSSL failure (out of
 * memory) out is zeros: the signature is wrong and the upstream says 403. */
static void sha256_2(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32])
{
    EVP_MD_CTX *ctx = sha256_ctx();
    unsigned int n = 32;
    if (ctx == NULL || sha256_md == NULL || !EVP_DigestInit_ex2(ctx, sha256_md, NULL) ||
        !EVP_DigestUpdate(ctx, a, alen) || (blen && !EVP_DigestUpdate(ctx, b, blen)) ||
        !EVP_DigestFinal_ex(ctx, out, &n))
        memset(out, 0, 32);
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    sha256_2(data, len, "", 0, out);
}

static void hmac(const void *key, size_t key_len, const void *msg, size_t len,
                 unsigned char out[32])
{
    unsigned char k[64] = {0}, pad[64], inner[32];
    if (key_len > sizeof(k))
        sha256(key, key_len, k);
    else
        memcpy(k, key, key_len);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_2(pad, 64, msg, len, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_2(pad, 64, inner, 32, out);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int sl_sigv4_uri_encode(struct sl_buf *out, const char *s, size_t len, int keep_slash)
{
    static const char upper[] = "0123456789ABCDEF";
    int rc = sl_buf_reserve(out, len * 3);
    if (rc != 0)
        return rc;
    char *w = out->ptr + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = upper[c >> 4];
            *w++ = upper[c & 15];
        }
    }
    sl_buf_commit(out, (size_t)(w - (out->ptr + out->len)));
    return 0;
}

static int put(struct sl_buf *b, const char *s)
{
    return sl_buf_append(b, s, strlen(s));
}

/* Appends each string up to a NULL. */
static int put_all(struct sl_buf *b, ...)
{
    va_list ap;
    int rc = 0;
    va_start(ap, b);
    for (const char *s; rc == 0 && (s = va_arg(ap, const char *)) != NULL;)
        rc = put(b, s);
    va_end(ap);
    return rc;
}

/* The canonical URI: dot segments resolved, empty segments dropped (a
 * trailing slash kept), then each byte encoded as sl_sigv4_uri_encode. */
static int canonical_uri(struct sl_buf *out, const char *path)
{
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return put(out, "/");
    /* Segment starts and lengths; a stack of what survives. */
    size_t cap = len / 2 + 2, n = 0;
    size_t *seg = malloc(cap * 2 * sizeof(*seg));
    if (seg == NULL)
        return UV_ENOMEM;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && path[i] == '.')) {
            /* empty or "." */
        } else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (n > 0)
                n--;
        } else {
            seg[2 * n] = i;
            seg[2 * n + 1] = sl;
            n++;
        }
        i = j < len ? j + 1 : j;
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        rc = put(out, "/");
        if (rc == 0)
            rc = sl_sigv4_uri_encode(out, path + seg[2 * k], seg[2 * k + 1], 0);
    }
    if (rc == 0 && (n == 0 || path[len - 1] == '/'))
        rc = put(out, "/");
    free(seg);
    return rc;
}

/* Percent-decodes s[0..len) into `out` (a bad escape stays as it is). */
static int uri_decode(struct sl_buf *out, const char *s, size_t len)
{
    int rc = sl_buf_reserve(out, len);
    if (rc != 0)
        return rc;
    char *w = out->ptr + out->len;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = sl_hex_digit(s[i + 1])) >= 0 &&
            (lo = sl_hex_digit(s[i + 2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    sl_buf_commit(out, (size_t)(w - (out->ptr + out->len)));
    return 0;
}

/* A name or value in a scratch buffer: offsets, since the buffer moves. */
struct span {
    size_t off, len;
};

struct pair {
    struct span name, value;
};

static int span_cmp(const char *base, struct span a, struct span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(base + a.off, base + b.off, n);
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

/* Stable insertion sort by name (then value when by_value): lists are
 * short, and stability keeps repeated header names in the order given. */
static void sort_pairs(struct pair *p, size_t n, const char *base, int by_value)
{
    for (size_t i = 1; i < n; i++) {
        struct pair cur = p[i];
        size_t j = i;
        while (j > 0) {
            int c = span_cmp(base, p[j - 1].name, cur.name);
            if (c == 0 && by_value)
                c = span_cmp(base, p[j - 1].value, cur.value);
            if (c <= 0)
                break;
            p[j] = p[j - 1];
            j--;
        }
        p[j] = cur;
    }
}

/* Appends the encoded form of s[0..len) to `scratch` and returns its span. */
static int encode_span(struct sl_buf *scratch, struct sl_buf *tmp, const char *s, size_t len,
                       struct span *sp)
{
    sl_buf_reset(tmp);
    int rc = uri_decode(tmp, s, len);
    if (rc != 0)
        return rc;
    sp->off = scratch->len;
    rc = sl_sigv4_uri_encode(scratch, tmp->ptr ? tmp->ptr : "", tmp->len, 0);
    sp->len = scratch->len - sp->off;
    return rc;
}

static int canonical_query(struct sl_buf *out, const char *query)
{
    size_t len = query ? strlen(query) : 0;
    if (len == 0)
        return 0;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += query[i] == '&';
    struct pair *p = malloc(cap * sizeof(*p));
    struct sl_buf scratch, tmp;
    sl_buf_init(&scratch, SL_SIGV4_MAX_TEXT);
    sl_buf_init(&tmp, SL_SIGV4_MAX_TEXT);
    size_t n = 0;
    int rc = p ? 0 : UV_ENOMEM;
    for (size_t i = 0; i < len && rc == 0;) {
        size_t j = i;
        while (j < len && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t name_len = eq ? (size_t)(eq - (query + i)) : j - i;
            rc = encode_span(&scratch, &tmp, query + i, name_len, &p[n].name);
            if (rc == 0 && eq)
                rc = encode_span(&scratch, &tmp, eq + 1, (size_t)(query + j - eq - 1), &p[n].value);
            else
                p[n].value = (struct span){scratch.len, 0};
            n++;
        }
        i = j + 1;
    }
    if (rc == 0)
        sort_pairs(p, n, scratch.ptr, 1);
    for (size_t k = 0; k < n && rc == 0; k++) {
        if (k > 0)
            rc = put(out, "&");
        if (rc == 0)
            rc = sl_buf_append(out, scratch.ptr + p[k].name.off, p[k].name.len);
        if (rc == 0)
            rc = put(out, "=");
        if (rc == 0)
            rc = sl_buf_append(out, scratch.ptr + p[k].value.off, p[k].value.len);
    }
    free(p);
    sl_buf_release(&scratch);
    sl_buf_release(&tmp);
    return rc;
}

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c))
            return 0;
    }
    return 1;
}

/* Headers the signer adds itself; a caller's copy would be signed twice. */
static int reserved_header(const char *name)
{
    static const char *const names[] = {"host", "x-amz-date", "x-amz-security-token",
                                        "x-amz-content-sha256", "authorization"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* Appends the lowercased name and the folded value (trimmed, each run of
 * whitespace one space) to `scratch`. */
static int add_header(struct sl_buf *scratch, struct pair *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    int rc = sl_buf_reserve(scratch, nl + vl);
    if (rc != 0)
        return rc;
    p->name.off = scratch->len;
    for (size_t i = 0; i < nl; i++) {
        char c = name[i];
        scratch->ptr[scratch->len + i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    sl_buf_commit(scratch, nl);
    p->name.len = nl;
    p->value.off = scratch->len;
    char *w = scratch->ptr + scratch->len;
    int space = 0;
    for (size_t i = 0; i < vl; i++) {
        char c = value[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = 1;
            continue;
        }
        if (space && w > scratch->ptr + p->value.off)
            *w++ = ' ';
        space = 0;
        *w++ = c;
    }
    p->value.len = (size_t)(w - (scratch->ptr + p->value.off));
    sl_buf_commit(scratch, p->value.len);
    return 0;
}

/* Canonical headers (each "name:value\n", repeated names joined with ',')
 * into `out`, and the signed header list ("a;b;c") into `names`. */
static int canonical_headers(struct sl_buf *out, struct sl_buf *names, struct pair *p, size_t n,
                             const char *base)
{
    int rc = 0;
    sort_pairs(p, n, base, 0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int same = i > 0 && span_cmp(base, p[i - 1].name, p[i].name) == 0;
        if (same) {
            rc = put(out, ",");
        } else {
            if (i > 0)
                rc = put(out, "\n");
            if (rc == 0 && i > 0)
                rc = put(names, ";");
            if (rc == 0)
                rc = sl_buf_append(names, base + p[i].name.off, p[i].name.len);
            if (rc == 0)
                rc = sl_buf_append(out, base + p[i].name.off, p[i].name.len);
            if (rc == 0)
                rc = put(out, ":");
        }
        if (rc == 0)
            rc = sl_buf_append(out, base + p[i].value.off, p[i].value.len);
    }
    if (rc == 0 && n > 0)
        rc = put(out, "\n");
    return rc;
}

/* The signing key for (secret, date, region, service), from the cache
 * when it holds that one. Returns 0 or UV_ENOMEM (a secret too long for
 * the stack, and no memory for it). */
static int signing_key(const struct sl_sigv4_creds *creds, const char *date, const char *region,
                       const char *service, struct sl_sigv4_key_cache *cache, unsigned char key[32])
{
    unsigned char fp[32];
    size_t rl = strlen(region), sl = strlen(service);
    size_t secret_len = strlen(creds->secret_access_key);
    int cacheable = cache && rl < sizeof(cache->region) && sl < sizeof(cache->service);
    if (cacheable) {
        sha256(creds->secret_access_key, secret_len, fp);
        if (cache->valid && strcmp(cache->date, date) == 0 && strcmp(cache->region, region) == 0 &&
            strcmp(cache->service, service) == 0 && memcmp(cache->secret_sha256, fp, 32) == 0) {
            memcpy(key, cache->key, 32);
            return 0;
        }
    }
    /* "AWS4" + secret; secrets are 40 bytes, a longer one goes to the heap. */
    char stack[256];
    char *k0 = secret_len + 4 <= sizeof(stack) ? stack : malloc(secret_len + 4);
    if (k0 == NULL)
        return UV_ENOMEM;
    unsigned char k[32];
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, creds->secret_access_key, secret_len);
    hmac(k0, secret_len + 4, date, strlen(date), k);
    hmac(k, 32, region, rl, k);
    hmac(k, 32, service, sl, k);
    hmac(k, 32, "aws4_request", 12, key);
    if (k0 != stack)
        free(k0);
    if (cacheable) {
        memcpy(cache->date, date, 9);
        memcpy(cache->region, region, rl + 1);
        memcpy(cache->service, service, sl + 1);
        memcpy(cache->secret_sha256, fp, 32);
        memcpy(cache->key, key, 32);
        cache->valid = 1;
    }
    if (cache)
        cache->derivations++;
    return 0;
}

/* A field that goes into the scope or the canonical request's first line:
 * present, and no byte that would break the line structure. */
static int field_ok(const char *s, int allow_slash)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c == 127 || (!allow_slash && c == '/'))
            return 0;
    }
    return 1;
}

void sl_sigv4_signed_release(struct sl_sigv4_signed *out)
{
    sl_buf_release(&out->authorization);
}

int sl_sigv4_sign(const struct sl_sigv4_request *req, const struct sl_sigv4_creds *creds,
                  struct sl_sigv4_key_cache *cache, struct sl_sigv4_signed *out,
                  struct sl_buf *canonical, struct sl_buf *string_to_sign, const char **err)
{
    *out = (struct sl_sigv4_signed){0};
    sl_buf_init(&out->authorization, SL_SIGV4_MAX_TEXT);
    *err = NULL;
    struct sl_buf creq, sts, scratch, names;
    sl_buf_init(&creq, SL_SIGV4_MAX_TEXT);
    sl_buf_init(&sts, 4096);
    sl_buf_init(&scratch, SL_SIGV4_MAX_TEXT);
    sl_buf_init(&names, 64 * 1024);
    /* room for a typical request's texts at once, not grown piece by piece
     * (a failure here shows again, and is handled, at the first append) */
    sl_buf_reserve(&creq, 1024);
    sl_buf_reserve(&sts, 256);
    sl_buf_reserve(&scratch, 1024);
    sl_buf_reserve(&names, 256);
    sl_buf_reserve(&out->authorization, 512);
    struct pair hdr[SL_SIGV4_MAX_HEADERS + 4];
    size_t nh = 0;
    int rc = UV_EINVAL;

    if (!field_ok(req->method, 0) || !field_ok(req->host, 0) || !field_ok(req->region, 0) ||
        !field_ok(req->service, 0) || !creds || !field_ok(creds->access_key_id, 0) ||
        !creds->secret_access_key || !*creds->secret_access_key ||
        (req->payload == NULL && req->payload_len > 0) || req->n_headers > SL_SIGV4_MAX_HEADERS ||
        (req->n_headers > 0 && req->headers == NULL) ||
        (creds->session_token && *creds->session_token && !field_ok(creds->session_token, 1)))
        goto bad_input;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!req->headers[i].name || !is_token(req->headers[i].name) || !req->headers[i].value ||
            reserved_header(req->headers[i].name))
            goto bad_input;

    struct tm tm;
    time_t t = req->time;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
        goto bad_input;
    /* %Y%m%dT%H%M%SZ, written by hand: strftime consults the locale */
    const int f[6] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour,        tm.tm_min,     tm.tm_sec};
    char *d = out->amz_date;
    for (int i = 0; i < 6; i++) {
        int v = f[i], w = i == 0 ? 4 : 2;
        for (int k = w - 1; k >= 0; k--, v /= 10)
            d[k] = (char)('0' + v % 10);
        d += w;
        if (i == 2)
            *d++ = 'T';
    }
    *d++ = 'Z';
    *d = '\0';
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    unsigned char digest[32];
    sha256(req->payload ? req->payload : "", req->payload_len, digest);
    hex(out->payload_sha256, digest, 32);

    /* Headers: the caller's, then the ones the signer owns. */
    rc = 0;
    for (size_t i = 0; i < req->n_headers && rc == 0; i++)
        rc = add_header(&scratch, &hdr[nh++], req->headers[i].name, req->headers[i].value);
    if (rc == 0)
        rc = add_header(&scratch, &hdr[nh++], "host", req->host);
    if (rc == 0)
        rc = add_header(&scratch, &hdr[nh++], "x-amz-date", out->amz_date);
    if (rc == 0 && creds->session_token && *creds->session_token)
        rc = add_header(&scratch, &hdr[nh++], "x-amz-security-token", creds->session_token);
    if (rc == 0 && req->sign_content_sha256)
        rc = add_header(&scratch, &hdr[nh++], "x-amz-content-sha256", out->payload_sha256);

    /* The canonical request. */
    if (rc == 0)
        rc = put_all(&creq, req->method, "\n", NULL);
    if (rc == 0)
        rc = canonical_uri(&creq, req->path);
    if (rc == 0)
        rc = put(&creq, "\n");
    if (rc == 0)
        rc = canonical_query(&creq, req->query);
    if (rc == 0)
        rc = put(&creq, "\n");
    if (rc == 0)
        rc = canonical_headers(&creq, &names, hdr, nh, scratch.ptr);
    if (rc == 0)
        rc = put_all(&creq, "\n", names.ptr, "\n", out->payload_sha256, NULL);
    if (rc != 0)
        goto fail;

    /* The string to sign. */
    char creq_hash[65];
    sha256(creq.ptr, creq.len, digest);
    hex(creq_hash, digest, 32);
    char scope[512];
    int sn =
        snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, req->region, req->service);
    if (sn < 0 || (size_t)sn >= sizeof(scope))
        goto bad_input;
    rc = put_all(&sts, "AWS4-HMAC-SHA256\n", out->amz_date, "\n", scope, "\n", creq_hash, NULL);
    if (rc != 0)
        goto fail;

    unsigned char key[32];
    if ((rc = signing_key(creds, date, req->region, req->service, cache, key)) != 0)
        goto fail;
    hmac(key, 32, sts.ptr, sts.len, digest);
    hex(out->signature, digest, 32);

    rc = put_all(&out->authorization, "AWS4-HMAC-SHA256 Credential=", creds->access_key_id, "/",
                 scope, ", SignedHeaders=", names.ptr, ", Signature=", out->signature, NULL);
    if (rc == 0 && canonical)
        rc = sl_buf_append(canonical, creq.ptr, creq.len);
    if (rc == 0 && string_to_sign)
        rc = sl_buf_append(string_to_sign, sts.ptr, sts.len);
    if (rc != 0)
        goto fail;
    goto out;

bad_input:
    rc = UV_EINVAL;
    *err = sl_sigv4_err_input;
    goto out;
fail:
    *err = rc == UV_ENOMEM ? "sigv4: out of memory" : sl_sigv4_err_too_big;
out:
    sl_buf_release(&creq);
    sl_buf_release(&sts);
    sl_buf_release(&scratch);
    sl_buf_release(&names);
    return rc;
}

static char *env_copy(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

int sl_sigv4_env_load(struct sl_sigv4_env *env, int need_region, char *errbuf, size_t errlen)
{
    *env = (struct sl_sigv4_env){0};
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    int has_id = id && *id, has_secret = secret && *secret;
    if (!has_id || !has_secret) {
        if (!has_id && !has_secret)
            snprintf(errbuf, errlen,
                     "AWS credentials not found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        else
            snprintf(errbuf, errlen, "%s is not set (%s is)",
                     has_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
                     has_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
        return UV_EINVAL;
    }
    if (!field_ok(id, 0)) {
        snprintf(errbuf, errlen, "AWS_ACCESS_KEY_ID contains a space, '/' or a control byte");
        return UV_EINVAL;
    }
    env->access_key_id = strdup(id);
    env->secret_access_key = strdup(secret);
    env->session_token = env_copy("AWS_SESSION_TOKEN");
    env->region = env_copy("AWS_REGION");
    if (env->region == NULL)
        env->region = env_copy("AWS_DEFAULT_REGION");
    if (!env->access_key_id || !env->secret_access_key ||
        (getenv("AWS_SESSION_TOKEN") && *getenv("AWS_SESSION_TOKEN") && !env->session_token)) {
        snprintf(errbuf, errlen, "out of memory reading AWS credentials");
        return UV_ENOMEM;
    }
    if (env->session_token && !field_ok(env->session_token, 1)) {
        snprintf(errbuf, errlen, "AWS_SESSION_TOKEN contains a space or a control byte");
        return UV_EINVAL;
    }
    if (env->region && !field_ok(env->region, 0)) {
        snprintf(errbuf, errlen,
                 "the AWS region (AWS_REGION or AWS_DEFAULT_REGION) contains a space, '/' or a "
                 "control byte");
        return UV_EINVAL;
    }
    if (need_region && env->region == NULL) {
        snprintf(errbuf, errlen, "AWS region not set: set AWS_REGION or AWS_DEFAULT_REGION");
        return UV_EINVAL;
    }
    return 0;
}

void sl_sigv4_env_release(struct sl_sigv4_env *env)
{
    free(env->access_key_id);
    free(env->secret_access_key);
    free(env->session_token);
    free(env->region);
    *env = (struct sl_sigv4_env){0};
}
