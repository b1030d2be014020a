/* AWS Signature Version 4 (src/providers/sigv4.c): AWS's published test
 * suite and the IAM ListUsers example of the SigV4 documentation, each
 * checked for the canonical request, the string to sign and the
 * signature; a Bedrock-shaped request checked for internal consistency and
 * for the double-encoded ':' of its model id; the key cache; the errors;
 * the environment. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../support.h"
#include "providers/sigv4.h"

struct sigv4_vector {
    const char *name, *method, *path, *query, *host;
    struct sl_sigv4_header headers[8];
    size_t n_headers;
    int with_token;
    const char *body, *creq, *sts, *authz;
};

#include "sigv4_vectors.h"

#define AKID               "AKIDEXAMPLE"
#define SECRET             "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_20150830T123600Z ((time_t)1440938160)

struct signed_texts {
    struct sl_sigv4_signed out;
    struct sl_buf creq, sts;
    const char *err;
    int rc;
};

static void sign(struct signed_texts *s, const struct sl_sigv4_request *req,
                 const struct sl_sigv4_creds *creds, struct sl_sigv4_key_cache *cache)
{
    sl_buf_init(&s->creq, 1 << 20);
    sl_buf_init(&s->sts, 1 << 20);
    sl_buf_append(&s->creq, "", 0);
    sl_buf_append(&s->sts, "", 0);
    s->rc = sl_sigv4_sign(req, creds, cache, &s->out, &s->creq, &s->sts, &s->err);
}

static void release(struct signed_texts *s)
{
    sl_sigv4_signed_release(&s->out);
    sl_buf_release(&s->creq);
    sl_buf_release(&s->sts);
}

Test(sigv4, aws_test_suite)
{
    struct sl_sigv4_key_cache cache;
    sl_sigv4_key_cache_init(&cache);
    size_t n = sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]);
    cr_assert_geq(n, 25);
    for (size_t i = 0; i < n; i++) {
        const struct sigv4_vector *v = &sigv4_vectors[i];
        struct sl_sigv4_request req = {
            .method = v->method,
            .host = v->host,
            .path = v->path,
            .query = v->query,
            .headers = v->headers,
            .n_headers = v->n_headers,
            .payload = v->body,
            .payload_len = strlen(v->body),
            .region = "us-east-1",
            .service = "service",
            .time = T_20150830T123600Z,
        };
        struct sl_sigv4_creds creds = {AKID, SECRET, v->with_token ? sigv4_suite_token : NULL};
        struct signed_texts s;
        sign(&s, &req, &creds, &cache);
        cr_assert_eq(s.rc, 0, "%s: %s", v->name, s.err);
        /* NULL: an erratum of the suite (see gen_sigv4_vectors.py). */
        if (v->creq)
            cr_assert_str_eq(s.creq.ptr, v->creq, "%s: canonical request", v->name);
        if (v->sts)
            cr_assert_str_eq(s.sts.ptr, v->sts, "%s: string to sign", v->name);
        if (v->authz)
            cr_assert_str_eq(s.out.authorization.ptr, v->authz, "%s: authorization", v->name);
        cr_assert_str_eq(s.out.amz_date, "20150830T123600Z");
        release(&s);
    }
    cr_assert_eq(cache.derivations, 1, "one key derivation for the whole suite");
}

/* The canonical URIs of the suite's get-utf8 and get-space, which the
 * parsed copy of the suite lacks: /ሴ and "/example space/". */
Test(sigv4, utf8_and_space_paths)
{
    static const char *const cases[][2] = {
        {"/\xe1\x88\xb4", "GET\n/%E1%88%B4\n"},
        {"/example space/", "GET\n/example%20space/\n"},
        {"/a/./b/../c//d/", "GET\n/a/c/d/\n"},
        {"", "GET\n/\n"},
        {"/..", "GET\n/\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_sigv4_request req = {.method = "GET",
                                       .host = "example.amazonaws.com",
                                       .path = cases[i][0],
                                       .region = "us-east-1",
                                       .service = "service",
                                       .time = T_20150830T123600Z};
        struct sl_sigv4_creds creds = {AKID, SECRET, NULL};
        struct signed_texts s;
        sign(&s, &req, &creds, NULL);
        cr_assert_eq(s.rc, 0);
        cr_assert_eq(strncmp(s.creq.ptr, cases[i][1], strlen(cases[i][1])), 0, "%s -> %s",
                     cases[i][0], s.creq.ptr);
        release(&s);
    }
}

/* The worked example of AWS's SigV4 documentation (IAM ListUsers). */
Test(sigv4, iam_list_users_example)
{
    struct sl_sigv4_header h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    struct sl_sigv4_request req = {.method = "GET",
                                   .host = "iam.amazonaws.com",
                                   .path = "/",
                                   .query = "Action=ListUsers&Version=2010-05-08",
                                   .headers = h,
                                   .n_headers = 1,
                                   .region = "us-east-1",
                                   .service = "iam",
                                   .time = T_20150830T123600Z};
    struct sl_sigv4_creds creds = {AKID, SECRET, NULL};
    struct signed_texts s;
    sign(&s, &req, &creds, NULL);
    cr_assert_eq(s.rc, 0);
    cr_assert_str_eq(s.creq.ptr,
                     "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                     "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                     "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "content-type;host;x-amz-date\n"
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_str_eq(s.sts.ptr,
                     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
                     "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    cr_assert_str_eq(s.out.signature,
                     "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    cr_assert_str_eq(s.out.authorization.ptr,
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date, "
                     "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    release(&s);
}

static void hex32(char out[65], const unsigned char *d)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* A Converse request as the Bedrock adapter will sign it. No signature to
 * compare with offline, so: the model id's ':' is %3A on the wire and
 * %253A in the canonical URI (AWS encodes the wire path once more for
 * every service but S3), and the signature recomputed here from the
 * returned texts with OpenSSL directly matches. */
Test(sigv4, bedrock_converse_request)
{
    const char *model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    struct sl_buf path;
    sl_buf_init(&path, 4096);
    sl_buf_append(&path, "/model/", 7);
    cr_assert_eq(sl_sigv4_uri_encode(&path, model, strlen(model), 0), 0);
    sl_buf_append(&path, "/converse", 9);
    cr_assert_str_eq(path.ptr, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");

    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hello\"}]}],"
                       "\"inferenceConfig\":{\"maxTokens\":256}}";
    struct sl_sigv4_header h[] = {{"Content-Type", "application/json"},
                                  {"Accept", "application/json"}};
    struct sl_sigv4_request req = {.method = "POST",
                                   .host = "bedrock-runtime.us-east-1.amazonaws.com",
                                   .path = path.ptr,
                                   .headers = h,
                                   .n_headers = 2,
                                   .payload = body,
                                   .payload_len = strlen(body),
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = 1733054400, /* 2024-12-01T12:00:00Z */
                                   .sign_content_sha256 = 1};
    struct sl_sigv4_creds creds = {"AKIAIOSFODNN7EXAMPLE", SECRET, "session-token-example"};
    struct signed_texts s;
    sign(&s, &req, &creds, NULL);
    cr_assert_eq(s.rc, 0, "%s", s.err);

    unsigned char d[32];
    char want[65];
    unsigned int n = 32;
    EVP_Digest(body, strlen(body), d, &n, EVP_sha256(), NULL);
    hex32(want, d);
    cr_assert_str_eq(s.out.payload_sha256, want);
    cr_assert_str_eq(s.out.amz_date, "20241201T120000Z");

    char creq_want[2048];
    snprintf(creq_want, sizeof(creq_want),
             "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%%253A0/converse\n\n"
             "accept:application/json\ncontent-type:application/json\n"
             "host:bedrock-runtime.us-east-1.amazonaws.com\n"
             "x-amz-content-sha256:%s\nx-amz-date:20241201T120000Z\n"
             "x-amz-security-token:session-token-example\n\n"
             "accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token\n%s",
             want, want);
    cr_assert_str_eq(s.creq.ptr, creq_want);

    EVP_Digest(s.creq.ptr, s.creq.len, d, &n, EVP_sha256(), NULL);
    hex32(want, d);
    char sts_want[512];
    snprintf(sts_want, sizeof(sts_want),
             "AWS4-HMAC-SHA256\n20241201T120000Z\n20241201/us-east-1/bedrock/aws4_request\n%s",
             want);
    cr_assert_str_eq(s.sts.ptr, sts_want);

    unsigned char k[32];
    unsigned int kl = 32;
    HMAC(EVP_sha256(), "AWS4" SECRET, 44, (const unsigned char *)"20241201", 8, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"us-east-1", 9, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"bedrock", 7, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"aws4_request", 12, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)s.sts.ptr, s.sts.len, d, &kl);
    hex32(want, d);
    cr_assert_str_eq(s.out.signature, want);
    char authz_want[512];
    snprintf(authz_want, sizeof(authz_want),
             "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20241201/us-east-1/bedrock/"
             "aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;"
             "x-amz-date;x-amz-security-token, Signature=%s",
             want);
    cr_assert_str_eq(s.out.authorization.ptr, authz_want);
    release(&s);
    sl_buf_release(&path);
}

Test(sigv4, query_is_canonical_whether_raw_or_encoded)
{
    const char *queries[] = {"b=2&a=x y&a=%41", "a=x%20y&b=2&a=A", "b=2&a=A&a=x%20y"};
    char first[4096] = "";
    for (size_t i = 0; i < 3; i++) {
        struct sl_sigv4_request req = {.method = "GET",
                                       .host = "h",
                                       .path = "/",
                                       .query = queries[i],
                                       .region = "r",
                                       .service = "s",
                                       .time = T_20150830T123600Z};
        struct sl_sigv4_creds creds = {AKID, SECRET, NULL};
        struct signed_texts s;
        sign(&s, &req, &creds, NULL);
        cr_assert_eq(s.rc, 0);
        cr_assert_eq(strncmp(s.creq.ptr, "GET\n/\na=A&a=x%20y&b=2\n", 22), 0, "%s", s.creq.ptr);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", s.out.signature);
        else
            cr_assert_str_eq(s.out.signature, first);
        release(&s);
    }
}

Test(sigv4, key_cache_derives_once_a_day)
{
    struct sl_sigv4_key_cache cache;
    sl_sigv4_key_cache_init(&cache);
    struct sl_sigv4_request req = {.method = "GET",
                                   .host = "example.amazonaws.com",
                                   .path = "/",
                                   .region = "us-east-1",
                                   .service = "service",
                                   .time = T_20150830T123600Z};
    struct sl_sigv4_creds creds = {AKID, SECRET, NULL};
    struct signed_texts s;
    char sig[65];
    for (int i = 0; i < 5; i++) {
        req.time = T_20150830T123600Z + i * 3600; /* same day */
        sign(&s, &req, &creds, &cache);
        cr_assert_eq(s.rc, 0);
        release(&s);
    }
    cr_assert_eq(cache.derivations, 1);
    req.time = T_20150830T123600Z;
    sign(&s, &req, &creds, &cache);
    snprintf(sig, sizeof(sig), "%s", s.out.signature);
    cr_assert_str_eq(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    release(&s);

    req.time += 86400; /* the next day */
    sign(&s, &req, &creds, &cache);
    release(&s);
    cr_assert_eq(cache.derivations, 2);
    req.region = "eu-west-1";
    sign(&s, &req, &creds, &cache);
    release(&s);
    cr_assert_eq(cache.derivations, 3);
    creds.secret_access_key = "another-secret";
    sign(&s, &req, &creds, &cache);
    release(&s);
    cr_assert_eq(cache.derivations, 4, "a rotated secret is a new key");

    /* The cache gives the same signature as no cache. */
    req.region = "us-east-1";
    req.time = T_20150830T123600Z;
    creds.secret_access_key = SECRET;
    sign(&s, &req, &creds, &cache);
    cr_assert_str_eq(s.out.signature, sig);
    release(&s);
}

Test(sigv4, bad_input_is_refused_with_a_reason)
{
    struct sl_sigv4_header reserved[] = {{"Host", "x"}};
    struct sl_sigv4_header badname[] = {{"bad name", "x"}};
    struct sl_sigv4_request good = {
        .method = "GET", .host = "h", .region = "r", .service = "s", .time = T_20150830T123600Z};
    struct sl_sigv4_creds creds = {AKID, SECRET, NULL};
    struct sl_sigv4_request cases[7];
    for (int i = 0; i < 7; i++)
        cases[i] = good;
    cases[0].method = NULL;
    cases[1].host = "";
    cases[2].region = "us east";
    cases[3].service = "a/b";
    cases[4].headers = reserved, cases[4].n_headers = 1;
    cases[5].headers = badname, cases[5].n_headers = 1;
    cases[6].payload_len = 3; /* no payload */
    for (int i = 0; i < 7; i++) {
        struct signed_texts s;
        sign(&s, &cases[i], &creds, NULL);
        cr_assert_eq(s.rc, UV_EINVAL, "case %d", i);
        cr_assert_eq(s.err, sl_sigv4_err_input);
        release(&s);
    }
    struct sl_sigv4_creds no_secret = {AKID, "", NULL};
    struct signed_texts s;
    sign(&s, &good, &no_secret, NULL);
    cr_assert_eq(s.rc, UV_EINVAL);
    release(&s);
    sign(&s, &good, &creds, NULL);
    cr_assert_eq(s.rc, 0);
    release(&s);
}

static void clear_env(void)
{
    const char *names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "AWS_REGION", "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < 5; i++)
        unsetenv(names[i]);
}

Test(sigv4, environment_credentials)
{
    struct sl_sigv4_env env;
    char err[256];
    clear_env();
    cr_assert_eq(sl_sigv4_env_load(&env, 0, err, sizeof(err)), UV_EINVAL);
    cr_assert_str_eq(err,
                     "AWS credentials not found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    sl_sigv4_env_release(&env);

    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    cr_assert_eq(sl_sigv4_env_load(&env, 0, err, sizeof(err)), UV_EINVAL);
    cr_assert_str_eq(err, "AWS_SECRET_ACCESS_KEY is not set (AWS_ACCESS_KEY_ID is)");
    sl_sigv4_env_release(&env);

    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    cr_assert_eq(sl_sigv4_env_load(&env, 1, err, sizeof(err)), UV_EINVAL);
    cr_assert_str_eq(err, "AWS region not set: set AWS_REGION or AWS_DEFAULT_REGION");
    sl_sigv4_env_release(&env);

    cr_assert_eq(sl_sigv4_env_load(&env, 0, err, sizeof(err)), 0);
    cr_assert_str_eq(env.access_key_id, AKID);
    cr_assert_null(env.session_token);
    cr_assert_null(env.region);
    sl_sigv4_env_release(&env);

    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    cr_assert_eq(sl_sigv4_env_load(&env, 1, err, sizeof(err)), 0);
    cr_assert_str_eq(env.region, "eu-west-1");
    struct sl_sigv4_creds c = sl_sigv4_env_creds(&env);
    cr_assert_str_eq(c.session_token, "tok");
    sl_sigv4_env_release(&env);

    setenv("AWS_REGION", "us-east-1", 1);
    cr_assert_eq(sl_sigv4_env_load(&env, 1, err, sizeof(err)), 0);
    cr_assert_str_eq(env.region, "us-east-1", "AWS_REGION wins over AWS_DEFAULT_REGION");
    sl_sigv4_env_release(&env);

    setenv("AWS_REGION", "us east", 1);
    cr_assert_eq(sl_sigv4_env_load(&env, 1, err, sizeof(err)), UV_EINVAL);
    cr_assert(strstr(err, "region") != NULL, "%s", err);
    sl_sigv4_env_release(&env);
}

/* A secret longer than the stack copy takes the heap path and signs the
 * same way: checked against the chain computed here with OpenSSL. */
Test(sigv4, long_secret)
{
    char secret[400];
    memset(secret, 'k', sizeof(secret) - 1);
    secret[sizeof(secret) - 1] = '\0';
    struct sl_sigv4_request req = {.method = "GET",
                                   .host = "h",
                                   .path = "/",
                                   .region = "r",
                                   .service = "s",
                                   .time = T_20150830T123600Z};
    struct sl_sigv4_creds creds = {AKID, secret, NULL};
    struct signed_texts s;
    sign(&s, &req, &creds, NULL);
    cr_assert_eq(s.rc, 0);
    char k0[404] = "AWS4";
    memcpy(k0 + 4, secret, sizeof(secret) - 1);
    unsigned char k[32], d[32];
    unsigned int kl = 32;
    HMAC(EVP_sha256(), k0, 403, (const unsigned char *)"20150830", 8, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"r", 1, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"s", 1, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)"aws4_request", 12, k, &kl);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)s.sts.ptr, s.sts.len, d, &kl);
    char want[65];
    hex32(want, d);
    cr_assert_str_eq(s.out.signature, want);
    release(&s);
}
