/* Fuzz target: the URL parser of src/http/url.c, which reads every
 * deployment URL, the lean client's request URLs and sluice load's URL,
 * and the endpoint URL rule of src/gateway/target.c built on it.
 *
 * Checked: every part lies inside the input; an accepted URL has a host
 * of allowed bytes, a port of 1-65535 (the scheme's default when none is
 * given), a path that is empty or starts with '/', and parts that follow
 * each other as the input has them; written back from its parts it parses
 * to the same parts; a refusal is one non-empty line. An accepted base URL
 * (no query, no fragment) gives endpoint URLs that parse again and end in
 * the endpoint's name. */
#include <string.h>

#include "fuzz.h"
#include "gateway/target.h"
#include "http/url.h"

static int inside(const char *s, size_t n, const char *p, size_t len)
{
    return p >= s && p + len <= s + n;
}

static void check_parts(const char *s, size_t n, const struct sl_url *u)
{
    FUZZ_CHECK(inside(s, n, u->host, u->host_len));
    FUZZ_CHECK(u->host_len > 0 && u->host_len <= SL_URL_MAX_HOST);
    FUZZ_CHECK(u->port >= 1 && u->port <= 65535);
    if (!u->port_given)
        FUZZ_CHECK(u->port == (u->scheme == SL_URL_HTTPS ? 443u : 80u));
    for (size_t i = 0; i < u->host_len; i++)
        FUZZ_CHECK(strchr(u->ipv6 ? "0123456789abcdefABCDEF:." : "-._", u->host[i]) ||
                   (!u->ipv6 && ((u->host[i] >= 'a' && u->host[i] <= 'z') ||
                                 (u->host[i] >= 'A' && u->host[i] <= 'Z') ||
                                 (u->host[i] >= '0' && u->host[i] <= '9'))));
    FUZZ_CHECK(inside(s, n, u->path, u->path_len));
    FUZZ_CHECK(u->path_len == 0 || u->path[0] == '/');
    FUZZ_CHECK(memchr(u->path, '?', u->path_len) == NULL);
    FUZZ_CHECK(memchr(u->path, '#', u->path_len) == NULL);
    FUZZ_CHECK(u->target == u->path);
    size_t t = u->path_len;
    if (u->query) {
        FUZZ_CHECK(u->query == u->path + u->path_len + 1 && u->query[-1] == '?');
        FUZZ_CHECK(inside(s, n, u->query, u->query_len));
        FUZZ_CHECK(memchr(u->query, '#', u->query_len) == NULL);
        t += 1 + u->query_len;
    }
    FUZZ_CHECK(u->target_len == t);
    if (u->fragment)
        FUZZ_CHECK(u->fragment == u->target + t + 1 && u->fragment[-1] == '#');
    else
        FUZZ_CHECK(u->target[t] == '\0');
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s); /* a NUL in the input ends the string */

    struct sl_url u;
    const char *why = sl_url_parse(s, &u);
    if (why) {
        FUZZ_CHECK(why[0] != '\0' && strchr(why, '\n') == NULL);
        free(s);
        return 0;
    }
    check_parts(s, n, &u);

    /* written back from its parts, it parses to the same parts */
    char *again = malloc(n + 32);
    int k = sprintf(again, "%s://%s%.*s%s", u.scheme == SL_URL_HTTPS ? "https" : "http",
                    u.ipv6 ? "[" : "", (int)u.host_len, u.host, u.ipv6 ? "]" : "");
    if (u.port_given)
        k += sprintf(again + k, ":%u", u.port);
    k += sprintf(again + k, "%.*s", (int)u.target_len, u.target);
    if (u.fragment)
        sprintf(again + k, "#%s", u.fragment);
    struct sl_url v;
    FUZZ_CHECK(sl_url_parse(again, &v) == NULL);
    FUZZ_CHECK(v.scheme == u.scheme && v.ipv6 == u.ipv6 && v.port == u.port &&
               v.port_given == u.port_given);
    FUZZ_CHECK(v.host_len == u.host_len && memcmp(v.host, u.host, u.host_len) == 0);
    FUZZ_CHECK(v.target_len == u.target_len && memcmp(v.target, u.target, u.target_len) == 0);
    FUZZ_CHECK((v.fragment == NULL) == (u.fragment == NULL));
    free(again);

    /* as a deployment's base URL */
    char out[8192 + 64];
    int ok = sl_gw_target_check_url(s) == NULL;
    FUZZ_CHECK(ok == (u.query == NULL && u.fragment == NULL));
    for (int ep = 0; ok && ep < SL_OAI__COUNT; ep++) {
        FUZZ_CHECK(sl_gw_endpoint_url(s, (enum sl_openai_endpoint)ep, out, sizeof(out)) == 0);
        struct sl_url e;
        FUZZ_CHECK(sl_url_parse(out, &e) == NULL);
        FUZZ_CHECK(e.query == NULL && e.fragment == NULL);
        const char *name = sl_openai_name((enum sl_openai_endpoint)ep);
        size_t len = strlen(name);
        FUZZ_CHECK(e.path_len > len && e.path[e.path_len - len - 1] == '/' &&
                   memcmp(e.path + e.path_len - len, name, len) == 0);
    }
    free(s);
    return 0;
}
