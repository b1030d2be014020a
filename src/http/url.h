/* The program's one URL parser: http:// and https:// URLs as sluice meets
 * them (deployment URLs in serve's config and --upstream, the lean
 * client's request URLs, sluice load's target).
 *
 *     scheme "://" host [ ":" port ] [ path ] [ "?" query ] [ "#" fragment ]
 *
 * Strict on purpose: the scheme is http or https (any case); the host is
 * a name of letters, digits, '-', '.' and '_', or an IPv6 address in
 * brackets; the port, when given, is 1-65535 in decimal; no user name, no
 * space, control or non-ASCII byte anywhere. Whether a query or fragment
 * is acceptable is the caller's call: both are reported.
 *
 * The result points into the parsed string, which must outlive it. */
#ifndef SL_URL_H
#define SL_URL_H

#include <stddef.h>

#define SL_URL_MAX_HOST 255

enum sl_url_scheme { SL_URL_HTTP, SL_URL_HTTPS };

struct sl_url {
    enum sl_url_scheme scheme;
    const char *host; /* without the brackets of an IPv6 address */
    size_t host_len;
    int ipv6;
    unsigned port; /* the given one, else 80 or 443 */
    int port_given;
    const char *path; /* from the first '/', or "" */
    size_t path_len;
    const char *query; /* after the '?', or NULL when there is no '?' */
    size_t query_len;
    const char *fragment; /* after the '#', or NULL when there is no '#' */
    /* What goes into a request line: the path and the query, without the
     * fragment (may be empty: then it is "/"). */
    const char *target;
    size_t target_len;
};

/* The reason sl_url_parse gives for a scheme other than http and https,
 * so that callers can say it their way. */
extern const char sl_url_err_scheme[];

/* Parses the NUL-terminated s into u. Returns NULL, or a one-line reason
 * (a static string) why s is not a URL sluice can use; u is then
 * unspecified. */
const char *sl_url_parse(const char *s, struct sl_url *u);

#endif
