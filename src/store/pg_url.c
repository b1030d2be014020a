#include "store/pg_url.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
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

static int schema_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > SL_PG_SCHEMA_MAX || (s[0] >= '0' && s[0] <= '9') ||
        (n >= 3 && memcmp(s, "pg_", 3) == 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

int sl_pg_url_split(const char *url, char **libpq_url, char *schema, char *err, size_t err_size)
{
    size_t len = strlen(url);
    char *out = malloc(len + 1);
    *libpq_url = NULL;
    if (out == NULL)
        return UV_ENOMEM;
    snprintf(schema, SL_PG_SCHEMA_MAX + 1, "%s", SL_PG_SCHEMA_DEFAULT);
    const char *start = strstr(url, "://");
    const char *q = strchr(start ? start + 3 : url, '?');
    if (q == NULL) {
        memcpy(out, url, len + 1);
        *libpq_url = out;
        return 0;
    }
    size_t w = (size_t)(q - url);
    memcpy(out, url, w);
    int first = 1;
    for (const char *p = q + 1; *p;) {
        size_t n = strcspn(p, "&");
        if (n >= 7 && memcmp(p, "schema=", 7) == 0) {
            if (!schema_name_ok(p + 7, n - 7)) {
                char masked[1024];
                sl_pg_url_mask(url, masked, sizeof(masked));
                snprintf(err, err_size,
                         "invalid schema name '%.*s' in the PostgreSQL URL '%s' (use lowercase "
                         "letters, digits and _, at most %d, not starting with a digit or pg_)",
                         (int)(n - 7 < 64 ? n - 7 : 64), p + 7, masked, SL_PG_SCHEMA_MAX);
                free(out);
                return UV_EINVAL;
            }
            snprintf(schema, SL_PG_SCHEMA_MAX + 1, "%.*s", (int)(n - 7), p + 7);
        } else if (n == 6 && memcmp(p, "schema", 6) == 0) {
            snprintf(err, err_size, "empty schema name in the PostgreSQL URL");
            free(out);
            return UV_EINVAL;
        } else if (n > 0) {
            out[w++] = first ? '?' : '&';
            memcpy(out + w, p, n);
            w += n;
            first = 0;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    out[w] = '\0';
    *libpq_url = out;
    return 0;
}

int sl_pg_url_check(const char *url, char *err, size_t err_size)
{
    char *msg = NULL;
    char masked[1024];
    char schema[SL_PG_SCHEMA_MAX + 1];
    char *libpq_url;
    int rc = sl_pg_url_split(url, &libpq_url, schema, err, err_size);
    if (rc != 0) {
        if (rc == UV_ENOMEM)
            snprintf(err, err_size, "out of memory");
        return rc == UV_ENOMEM ? UV_ENOMEM : UV_EINVAL;
    }
    sl_pg_url_mask(url, masked, sizeof(masked));
    PQconninfoOption *opts = PQconninfoParse(libpq_url, &msg);
    free(libpq_url);
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
