/* The driver of client_fixture.h for the lean client on its own
 * (http/upstream.h): one pool on the fixture's loop. Included by
 * test_upstream.c and, as suite upstream_contract, test_http_contract.c. */
#ifndef SL_TEST_LEAN_DRIVER_H
#define SL_TEST_LEAN_DRIVER_H

#include "client_fixture.h"
#include "http/upstream.h"

static struct sl_upstream_pool *pool;

static int client_start(struct sl_http_request *req)
{
    return sl_upstream_start(pool, req);
}

static void client_cancel(struct sl_http_request *req)
{
    sl_upstream_cancel(req);
}

static void client_resume(struct sl_http_request *req)
{
    sl_upstream_resume(req);
}

static void client_close(void)
{
    sl_upstream_close(pool, on_client_closed, &client_closed);
}

static int client_route(const char *url, const struct sl_http_route **out)
{
    static struct sl_http_route routes[4];
    static size_t n;
    struct sl_http_route *r = &routes[n++ % 4];
    *r = (struct sl_http_route){.url = url};
    *out = r;
    return sl_upstream_route(pool, r);
}

/* The fixture, then a pool with opts (NULL: the defaults). */
static void lean_open(const struct sl_upstream_opts *opts)
{
    fixture_open();
    cr_assert_eq(sl_upstream_new(&loop, opts, &pool), 0);
}

#endif
