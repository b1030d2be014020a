#include "http/url.h"

#include <string.h>
#include <strings.h>

const char sl_url_err_scheme[] = "not an http:// or https:// URL";

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static int is_ipv6_char(unsigned char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* The port between p and end: 1-65535 in decimal. */
static const char *parse_port(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    if (p == end || end - p > 5)
        return "port must be a number from 1 to 65535";
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return "port must be a number from 1 to 65535";
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return "port must be a number from 1 to 65535";
    *out = v;
    return NULL;
}

const char *sl_url_parse(const char *s, struct sl_url *u)
{
    *u = (struct sl_url){0};
    const char *a;
    if (strncasecmp(s, "http://", 7) == 0) {
        u->scheme = SL_URL_HTTP;
        u->port = 80;
        a = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        u->scheme = SL_URL_HTTPS;
        u->port = 443;
        a = s + 8;
    } else {
        return sl_url_err_scheme;
    }
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
            return "space, control or non-ASCII byte in URL";

    const char *end = a + strcspn(a, "/?#"); /* the authority is [a, end) */
    if (memchr(a, '@', (size_t)(end - a)))
        return "user names in URLs are not supported";
    const char *after_host;
    if (*a == '[') {
        const char *close = memchr(a, ']', (size_t)(end - a));
        if (close == NULL)
            return "no ']' after an IPv6 address";
        u->host = a + 1;
        u->host_len = (size_t)(close - u->host);
        u->ipv6 = 1;
        if (memchr(u->host, ':', u->host_len) == NULL)
            return "malformed IPv6 address";
        for (size_t i = 0; i < u->host_len; i++)
            if (!is_ipv6_char((unsigned char)u->host[i]))
                return "malformed IPv6 address";
        after_host = close + 1;
    } else {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        after_host = colon ? colon : end;
        u->host = a;
        u->host_len = (size_t)(after_host - a);
        for (size_t i = 0; i < u->host_len; i++)
            if (!is_name_char((unsigned char)u->host[i]))
                return "malformed host name";
    }
    if (u->host_len == 0)
        return "no host in URL";
    if (u->host_len > SL_URL_MAX_HOST)
        return "host name too long";
    if (after_host < end) {
        if (*after_host != ':')
            return "malformed host";
        const char *bad = parse_port(after_host + 1, end, &u->port);
        if (bad)
            return bad;
        u->port_given = 1;
    }

    const char *p = end;
    u->path = p;
    if (*p == '/')
        u->path_len = strcspn(p, "?#");
    p += u->path_len;
    if (*p == '?') {
        u->query = p + 1;
        u->query_len = strcspn(u->query, "#");
        p = u->query + u->query_len;
    }
    if (*p == '#')
        u->fragment = p + 1;
    u->target = end;
    u->target_len = (size_t)(p - end);
    return NULL;
}
