/* The one URL parser (http/url.h): each part, the defaults, and every
 * reason for a refusal. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/url.h"

static void expect_ok(const char *s, struct sl_url *u)
{
    const char *why = sl_url_parse(s, u);
    cr_assert_null(why, "%s: %s", s, why);
}

static void expect_bad(const char *s, const char *reason)
{
    struct sl_url u;
    const char *why = sl_url_parse(s, &u);
    cr_assert_not_null(why, "accepted: %s", s);
    cr_assert_not_null(strstr(why, reason), "%s: '%s' not in '%s'", s, reason, why);
    cr_assert_null(strchr(why, '\n'));
}

static void expect_part(const char *got, size_t len, const char *want)
{
    cr_assert_eq(len, strlen(want), "'%.*s' is not '%s'", (int)len, got, want);
    cr_assert(memcmp(got, want, len) == 0, "'%.*s' is not '%s'", (int)len, got, want);
}

Test(url, the_parts_and_their_defaults)
{
    struct sl_url u;
    expect_ok("http://127.0.0.1:8081", &u);
    cr_assert_eq(u.scheme, SL_URL_HTTP);
    expect_part(u.host, u.host_len, "127.0.0.1");
    cr_assert_eq(u.port, 8081);
    cr_assert(u.port_given);
    cr_assert_not(u.ipv6);
    expect_part(u.path, u.path_len, "");
    cr_assert_null(u.query);
    cr_assert_null(u.fragment);
    expect_part(u.target, u.target_len, "");

    expect_ok("https://api.openai.com/v1", &u);
    cr_assert_eq(u.scheme, SL_URL_HTTPS);
    expect_part(u.host, u.host_len, "api.openai.com");
    cr_assert_eq(u.port, 443);
    cr_assert_not(u.port_given);
    expect_part(u.path, u.path_len, "/v1");

    expect_ok("HTTP://Example.test/", &u);
    cr_assert_eq(u.scheme, SL_URL_HTTP);
    cr_assert_eq(u.port, 80);
    expect_part(u.path, u.path_len, "/");

    expect_ok("http://[::1]:9/a/b?x=1&y#frag", &u);
    cr_assert(u.ipv6);
    expect_part(u.host, u.host_len, "::1");
    cr_assert_eq(u.port, 9);
    expect_part(u.path, u.path_len, "/a/b");
    expect_part(u.query, u.query_len, "x=1&y");
    cr_assert_str_eq(u.fragment, "frag");
    expect_part(u.target, u.target_len, "/a/b?x=1&y");

    expect_ok("https://[2001:db8::7]", &u);
    expect_part(u.host, u.host_len, "2001:db8::7");
    cr_assert_eq(u.port, 443);

    expect_ok("http://h?q", &u);
    expect_part(u.path, u.path_len, "");
    expect_part(u.query, u.query_len, "q");
    expect_part(u.target, u.target_len, "?q");

    expect_ok("http://h#", &u);
    cr_assert_str_eq(u.fragment, "");
    expect_ok("http://h:65535/", &u);
    cr_assert_eq(u.port, 65535);
    expect_ok("http://under_score-dash.test", &u);
}

Test(url, refusals_say_why)
{
    expect_bad("ftp://x/", "not an http:// or https:// URL");
    expect_bad("localhost:8080", "not an http:// or https:// URL");
    expect_bad("http:/x", "not an http:// or https:// URL");
    expect_bad("", "not an http:// or https:// URL");
    cr_assert_eq(sl_url_parse("gopher://x", &(struct sl_url){0}), sl_url_err_scheme);
    expect_bad("http://", "no host");
    expect_bad("http:///x", "no host");
    expect_bad("http://:80/", "no host");
    expect_bad("http://[]/", "malformed IPv6");
    expect_bad("http://[::1/", "no ']'");
    expect_bad("http://[1.2.3.4]/", "malformed IPv6");
    expect_bad("http://[::1%eth0]/", "malformed IPv6");
    expect_bad("http://[::1]x/", "malformed host");
    expect_bad("http://h:99999/", "port must be a number from 1 to 65535");
    expect_bad("http://h:65536/", "port");
    expect_bad("http://h:0/", "port");
    expect_bad("http://h:/", "port");
    expect_bad("http://h:8o/", "port");
    expect_bad("http://h:-1/", "port");
    expect_bad("http://h:000080/", "port");
    expect_bad("http://h:80:81/", "port");
    expect_bad("http://user@h/", "user names");
    expect_bad("http://user:pw@h:1/", "user names");
    expect_bad("http://h st/", "space, control or non-ASCII");
    expect_bad("http://h/a b", "space");
    expect_bad("http://h/\r\nX: 1", "control");
    expect_bad("http://h/\x7f", "control");
    expect_bad("http://h/\xc3\xa9", "non-ASCII");
    expect_bad("http://h%41/", "malformed host name");
    expect_bad("http://h!/", "malformed host name");
    expect_bad("http://h\\x/", "malformed host name");
    char long_host[300];
    memset(long_host, 'a', sizeof(long_host));
    memcpy(long_host, "http://", 7);
    long_host[7 + 256] = '\0';
    expect_bad(long_host, "host name too long");
    long_host[7 + 255] = '\0';
    struct sl_url u;
    expect_ok(long_host, &u);
    cr_assert_eq(u.host_len, 255);
}
