#include "store/pg_url.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static size_t copy_span(char *out, size_t pos, size_t size, const char *src, size_t len)
{
    for (size_t i = 0; i < len && pos + 1 < size; i++)
        out[pos++] = src[i];
    out[pos < size ? pos : size - 1] = '\0';
    return pos;
}

void sl_pg_url_mask(const char *url, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    size_t pos = 0;
    const char *p = url;
    const char *scheme = strstr(p, "://");
    if (scheme) {
        pos = copy_span(out, pos, size, p, (size_t)(scheme + 3 - p));
        p = scheme + 3;
        size_t auth_len = strcspn(p, "/?");
        const char *at = NULL;
        for (size_t i = 0; i < auth_len; i++)
            if (p[i] == '@')
                at = p + i; /* the last '@' ends the user info */
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (colon) {
                pos = copy_span(out, pos, size, p, (size_t)(colon + 1 - p));
                pos = copy_span(out, pos, size, "***", 3);
                p = at;
            }
        }
    }
    /* password=... as a URL query parameter or a key=value pair */
    while (*p) {
        const char *hit = strstr(p, "password=");
        if (hit == NULL || (hit != url && hit[-1] != '?' && hit[-1] != '&' && hit[-1] != ' ')) {
            if (hit == NULL) {
                pos = copy_span(out, pos, size, p, strlen(p));
                break;
            }
            pos = copy_span(out, pos, size, p, (size_t)(hit + 9 - p));
            p = hit + 9;
            continue;
        }
        pos = copy_span(out, pos, size, p, (size_t)(hit + 9 - p));
        pos = copy_span(out, pos, size, "***", 3);
        p = hit + 9 + strcspn(hit + 9, "& ");
    }
}

void sl_pg_mask_secret(char *msg, size_t size, const char *secret)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    /* one line: libpq's "...failed: Connection refused\n\tIs the server
     * running...?" becomes "...failed: Connection refused; Is the server..." */
    char line[1024];
    size_t w = 0;
    for (const char *r = msg; *r && w + 3 < sizeof(line);) {
        if (*r == '\n') {
            while (*r == '\n' || *r == '\t' || *r == ' ')
                r++;
            line[w++] = ';';
            line[w++] = ' ';
            continue;
        }
        line[w++] = *r == '\t' ? ' ' : *r;
        r++;
    }
    line[w] = '\0';
    snprintf(msg, size, "%s", line);
    if (secret == NULL || strlen(secret) < 3 || strstr("***", secret) != NULL)
        return; /* too short to find safely, or the mask itself */
    size_t slen = strlen(secret);
    char *hit;
    while ((hit = strstr(msg, secret)) != NULL) {
        size_t tail = strlen(hit + slen);
        if ((size_t)(hit - msg) + 3 + tail + 1 > size)
            tail = size - (size_t)(hit - msg) - 4;
        memmove(hit + 3, hit + slen, tail);
        hit[3 + tail] = '\0';
        memcpy(hit, "***", 3);
    }
}

int sl_pg_url_check(const char *url, char *err, size_t err_size)
{
    char *msg = NULL;
    char masked[1024];
    sl_pg_url_mask(url, masked, sizeof(masked));
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (opts == NULL) {
        char reason[512];
        snprintf(reason, sizeof(reason), "%s", msg ? msg : "out of memory");
        PQfreemem(msg);
        /* the password may be quoted back: find it the way libpq would not */
        sl_pg_mask_secret(reason, sizeof(reason), NULL);
        /* the user info as sl_pg_url_mask sees it: up to the last '@' of
         * the authority (an '@' in the path or query is not part of it) */
        const char *start = strstr(url, "://");
        if (start) {
            const char *auth = start + 3;
            size_t auth_len = strcspn(auth, "/?");
            const char *at = NULL;
            for (size_t i = 0; i < auth_len; i++)
                if (auth[i] == '@')
                    at = auth + i;
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                char secret[256];
                snprintf(secret, sizeof(secret), "%.*s", (int)(at - colon - 1), colon + 1);
                sl_pg_mask_secret(reason, sizeof(reason), secret);
            }
        }
        snprintf(err, err_size, "malformed PostgreSQL URL '%s': %s", masked, reason);
        return UV_EINVAL;
    }
    PQconninfoFree(opts);
    return 0;
}
