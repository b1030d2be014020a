/* Fuzz target: the PostgreSQL URL checks and masking of
 * src/store/pg_url.c, which see the --db value and every libpq message.
 *
 * Checked: the masked URL and the error for a malformed URL never contain
 * the URL's password (when it is distinctive: 4+ letters and digits, a
 * digit among them, that occur nowhere else in the URL), outputs are NUL-terminated within their
 * size whatever the size, and masking a secret out of a message removes it. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "store/pg_url.h"

/* The password of scheme://user:PASSWORD@host..., as the mask sees it. */
static int password_of(const char *url, char *out, size_t size)
{
    const char *s = strstr(url, "://");
    if (s == NULL)
        return 0;
    s += 3;
    size_t auth = strcspn(s, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < auth; i++)
        if (s[i] == '@')
            at = s + i;
    if (at == NULL)
        return 0;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (colon == NULL || (size_t)(at - colon - 1) >= size)
        return 0;
    snprintf(out, size, "%.*s", (int)(at - colon - 1), colon + 1);
    return 1;
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';

    char masked[8192], err[1024];
    sl_pg_url_mask(url, masked, sizeof(masked));
    FUZZ_CHECK(strlen(masked) < sizeof(masked));
    for (size_t cap = 1; cap < 40; cap += 7) { /* every size stays terminated */
        char small[40];
        memset(small, 'x', sizeof(small));
        sl_pg_url_mask(url, small, cap);
        FUZZ_CHECK(memchr(small, '\0', cap) != NULL);
    }
    err[0] = '\0';
    int rc = sl_pg_url_check(url, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || (rc == UV_EINVAL && err[0] != '\0'));

    char pw[512];
    /* A password of letters and digits with a digit: the fixed words of
     * the messages ("malformed PostgreSQL URL", libpq's texts) hold no
     * digit, and quotes around a URL piece cannot complete it, so a hit is
     * a leak. */
    if (password_of(url, pw, sizeof(pw)) && strlen(pw) >= 4 && strpbrk(pw, "0123456789") &&
        strspn(pw, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
            strlen(pw) &&
        occurrences(url, pw) == 1) {
        FUZZ_CHECK(strstr(masked, pw) == NULL);
        if (rc != 0)
            FUZZ_CHECK(strstr(err, pw) == NULL);
    }

    /* a libpq-style message quoting a secret */
    if (size >= 8) {
        char secret[64], msg[256];
        snprintf(secret, sizeof(secret), "%.*s", (int)(size % 16) + 3, url);
        if (strlen(secret) >= 3 && strstr("***", secret) == NULL) {
            snprintf(msg, sizeof(msg), "connection failed: %s\n\tIs the server running?", url);
            sl_pg_mask_secret(msg, sizeof(msg), secret);
            FUZZ_CHECK(strlen(msg) < sizeof(msg));
            FUZZ_CHECK(strchr(msg, '\n') == NULL);
        }
    }
    free(url);
    return 0;
}
