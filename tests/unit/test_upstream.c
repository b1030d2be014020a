/* The lean upstream client (http/upstream.h) on its own, against the test
 * server (tests/http_test_server.h) on the test's loop: LIFO reuse, the
 * idle cap and timeout, a server closing idle connections (seen at once,
 * or raced: then the request goes again, once), every timeout, streaming
 * in pieces, pause/resume, cancel, refused and reset, chunked and
 * close-delimited bodies, heads split across reads, host name lookups,
 * close with work in flight, and many concurrent requests. The contract it
 * shares with libcurl is test_http_contract.c, which also runs against the
 * lean client on its own (suite upstream_contract); the fixture is
 * client_fixture.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The module itself, so that a test can reach its origins (STYLE.md). */
#include "http/upstream.c"
#include "http/upstream_pool.c"

#include "lean_driver.h"

static void start_all(const struct sl_upstream_opts *opts)
{
    lean_open(opts);
}

static struct sl_upstream_stats stats(void)
{
    struct sl_upstream_stats s;
    sl_upstream_stats(pool, &s);
    return s;
}

/* ---- reuse and the idle pool ------------------------------------------- */

Test(upstream, sequential_requests_share_one_connection)
{
    start_all(NULL);
    for (int i = 0; i < 5; i++) {
        struct call c;
        call_run(&c, "/ok");
        cr_assert_eq(c.err, SL_OK, "%s", c.message);
        cr_assert_eq(c.status, 200);
        cr_assert_str_eq(c.body.ptr, "hello world");
        cr_assert_eq(c.res.reused, i > 0);
        call_release(&c);
    }
    cr_assert_eq(srv.accepts, 1);
    struct sl_upstream_stats s = stats();
    cr_assert_eq(s.connects, 1);
    cr_assert_eq(s.reused, 4);
    cr_assert_eq(s.requests, 5);
    cr_assert_eq(s.idle, 1);
    close_all();
}

Test(upstream, the_most_recently_used_connection_is_reused_first)
{
    start_all(NULL);
    struct call c[3];
    const char *paths[] = {"/id/10", "/id/60", "/id/110"};
    for (int i = 0; i < 3; i++) {
        call_init(&c[i], paths[i]);
        call_start(&c[i]);
    }
    for (int i = 0; i < 3; i++)
        run_until(&c[i].done, WAIT_MS);
    cr_assert_eq(srv.accepts, 3);
    cr_assert_eq(stats().idle, 3);
    /* the one that finished last is on top of the stack */
    struct call next;
    call_run(&next, "/id/0");
    cr_assert_eq(next.res.reused, 1);
    cr_assert_str_eq(next.body.ptr, c[2].body.ptr, "LIFO: connection %s, not %s", next.body.ptr,
                     c[2].body.ptr);
    for (int i = 0; i < 3; i++)
        call_release(&c[i]);
    call_release(&next);
    close_all();
}

Test(upstream, the_idle_cap_closes_the_oldest)
{
    start_all(&(struct sl_upstream_opts){.max_idle_connections = 2});
    struct call c[4];
    const char *paths[] = {"/id/5", "/id/40", "/id/80", "/id/120"};
    for (int i = 0; i < 4; i++) {
        call_init(&c[i], paths[i]);
        call_start(&c[i]);
    }
    for (int i = 0; i < 4; i++) {
        run_until(&c[i].done, WAIT_MS);
        cr_assert_eq(c[i].err, SL_OK);
    }
    run_until_n(&srv.eofs, 2, WAIT_MS);
    cr_assert_eq(srv.eofs, 2, "two over the cap were closed");
    cr_assert_eq(stats().idle, 2);
    cr_assert_eq(stats().open, 2);
    struct call next;
    call_run(&next, "/id/0");
    cr_assert_str_eq(next.body.ptr, c[3].body.ptr);
    for (int i = 0; i < 4; i++)
        call_release(&c[i]);
    call_release(&next);
    close_all();
}

Test(upstream, idle_connections_close_after_the_idle_timeout)
{
    start_all(&(struct sl_upstream_opts){.idle_timeout_ms = 100});
    struct call c;
    call_run(&c, "/ok");
    uint64_t t0 = uv_hrtime();
    run_until(&srv.eofs, WAIT_MS);
    double ms = sl_test_ms_since(t0);
    cr_assert_eq(srv.eofs, 1);
    cr_assert_geq(ms, 80, "%.1f ms", ms); /* nothing else closes it: no ceiling needed */
    cr_assert_eq(stats().open, 0);
    call_release(&c);
    close_all();
}

Test(upstream, a_finished_requests_deadlines_leave_the_idle_connection_alone)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/ok");
    c.req.first_byte_timeout_ms = 30;
    c.req.total_timeout_ms = 60;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    run_for(150); /* past both deadlines */
    cr_assert_eq(srv.eofs, 0);
    cr_assert_eq(stats().idle, 1);
    call_release(&c);
    call_run(&c, "/ok");
    cr_assert_eq(c.res.reused, 1);
    call_release(&c);
    close_all();
}

/* ---- a server closing kept-alive connections ---------------------------- */

/* Waits until the pool saw the server close its idle connections. */
static void wait_idle_closed(void)
{
    uint64_t t0 = uv_hrtime();
    while (stats().idle != 0 && sl_test_ms_since(t0) < WAIT_MS)
        run_for(5);
    cr_assert_eq(stats().idle, 0, "the server's close of an idle connection was not seen");
}

Test(upstream, a_server_close_of_an_idle_connection_is_seen_and_the_next_request_succeeds)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/ok");
    call_release(&c);
    cr_assert_eq(stats().idle, 1);
    srv_close_conns(&srv);
    wait_idle_closed();
    call_run(&c, "/ok");
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_eq(c.res.reused, 0);
    cr_assert_eq(stats().retries, 0);
    cr_assert_eq(srv.accepts, 2);
    call_release(&c);
    close_all();
}

Test(upstream, a_request_racing_the_servers_close_goes_again_on_a_fresh_connection)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/ok");
    call_release(&c);
    /* The server closes and, before the loop sees it, a request is sent on
     * the kept-alive connection. */
    srv_close_conns(&srv);
    call_init(&c, "/ok");
    call_start(&c);
    cr_assert_eq(stats().reused, 1, "sent on the kept-alive connection");
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_str_eq(c.body.ptr, "hello world");
    cr_assert_eq(c.res.reused, 0, "answered on a fresh connection");
    cr_assert_eq(stats().retries, 1);
    cr_assert_eq(srv.accepts, 2);
    cr_assert_eq(srv.requests, 2, "the raced copy never reached the server");
    call_release(&c);
    close_all();
}

Test(upstream, the_transport_retry_happens_once_and_never_after_a_response_byte)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/ok");
    call_release(&c);
    /* Closed without a byte on the kept-alive connection, then again on
     * the fresh one: that one fails. */
    call_run(&c, "/drop");
    cr_assert_eq(c.err, SL_E_CONN_RESET, "%s", sl_err_name(c.err));
    cr_assert_str_eq(c.message, "connection closed before a response");
    cr_assert_eq(stats().retries, 1);
    cr_assert_eq(srv.requests, 3);
    call_release(&c);
    /* Part of a response came: never sent again. */
    call_run(&c, "/ok");
    call_release(&c);
    call_run(&c, "/cut/1");
    cr_assert_eq(c.err, SL_E_CONN_RESET);
    cr_assert_eq(c.status, 200);
    cr_assert_eq(stats().retries, 1);
    cr_assert_eq(srv.requests, 5);
    call_release(&c);
    /* A fresh connection is never retried. */
    srv_close_conns(&srv);
    wait_idle_closed();
    call_run(&c, "/drop");
    cr_assert_eq(c.err, SL_E_CONN_RESET);
    cr_assert_eq(stats().retries, 1);
    call_release(&c);
    close_all();
}

/* ---- timeouts ------------------------------------------------------------ */

/* ---- bodies -------------------------------------------------------------- */

Test(upstream, a_body_delimited_by_the_close)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/eof/100000");
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_eq(c.body.len, 100000);
    cr_assert_eq(c.res.body_bytes, 100000);
    cr_assert_eq(strspn(c.body.ptr, "e"), 100000);
    call_release(&c);
    call_run(&c, "/ok");
    cr_assert_eq(c.res.reused, 0, "a closed connection is not reused");
    cr_assert_eq(srv.accepts, 2);
    call_release(&c);
    close_all();
}

Test(upstream, bytes_after_the_response_close_the_connection)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/extra");
    cr_assert_eq(c.err, SL_OK);
    cr_assert_str_eq(c.body.ptr, "ok");
    call_release(&c);
    call_run(&c, "/ok");
    cr_assert_eq(c.res.reused, 0);
    cr_assert_eq(srv.accepts, 2);
    call_release(&c);
    close_all();
}

Test(upstream, a_head_split_across_reads_and_many_headers)
{
    start_all(NULL);
    struct call c;
    call_run(&c, "/split/30");
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_str_eq(c.x_split, "yes");
    cr_assert_str_eq(c.body.ptr, "hello");
    call_release(&c);
    call_run(&c, "/manyheaders");
    cr_assert_eq(c.err, SL_OK);
    cr_assert_eq(c.nheaders, 42);
    cr_assert_str_eq(c.x_h39, "v39");
    call_release(&c);
    close_all();
}

Test(upstream, malformed_and_oversized_responses_are_bad_gateway)
{
    start_all(&(struct sl_upstream_opts){.max_header_bytes = 1024});
    struct call c;
    call_run(&c, "/garbage");
    cr_assert_eq(c.err, SL_E_BAD_GATEWAY);
    cr_assert_str_eq(c.message, "malformed response: malformed status line");
    call_release(&c);
    call_run(&c, "/bigheader");
    cr_assert_eq(c.err, SL_E_BAD_GATEWAY);
    cr_assert_str_eq(c.message, "response headers over 1024 bytes");
    cr_assert_eq(c.header_calls, 0);
    call_release(&c);
    close_all();
}

/* ---- pause and resume ----------------------------------------------------- */

static struct call *to_resume;

static void resume_later(uv_timer_t *t)
{
    struct call *c = to_resume;
    if (c->paused && !c->done) {
        int before = c->body_calls;
        c->paused = 0;
        client_resume(&c->req);
        cr_assert_eq(c->body_calls, before, "not redelivered from inside resume");
    }
    if (c->done)
        uv_timer_stop(t);
}

Test(upstream, pause_and_resume_through_a_large_body)
{
    start_all(NULL);
    struct call c;
    call_init(&c, "/big/3000000");
    c.pause_every = 3;
    to_resume = &c;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, resume_later, 1, 1);
    call_start(&c);
    call_wait(&c);
    uv_close((uv_handle_t *)&t, NULL);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_geq(c.pauses, 3);
    cr_assert_eq(c.body.len, 3000000);
    cr_assert_eq(c.res.body_bytes, 3000000);
    for (size_t i = 0; i < c.body.len; i++)
        if (c.body.ptr[i] != big_byte(i))
            cr_assert_fail("byte %zu is %c", i, c.body.ptr[i]);
    call_release(&c);
    call_run(&c, "/ok");
    cr_assert_eq(c.res.reused, 1, "the connection is whole after the pauses");
    call_release(&c);
    close_all();
}

/* ---- cancel and errors ---------------------------------------------------- */

Test(upstream, the_request_head_and_body_as_sent)
{
    start_all(NULL);
    static char body[3000];
    memset(body, 'p', sizeof(body) - 1);
    struct sl_http_header hdrs[] = {SL_HTTP_HEADER_LIT("Content-Type", "application/json"),
                                    SL_HTTP_HEADER_LIT("X-Custom", "42"),
                                    SL_HTTP_HEADER_LIT("Content-Length", "1")};
    struct call c;
    call_init(&c, "/ok#fragment");
    c.req.body = body;
    c.req.body_len = sizeof(body) - 1;
    c.req.headers = hdrs;
    c.req.n_headers = 3;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    const char *got = srv.last.ptr;
    char host[64];
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", srv.port);
    cr_assert(strncmp(got, "POST /ok HTTP/1.1\r\n", 19) == 0, "%.40s", got);
    cr_assert_not_null(strstr(got, host));
    cr_assert_not_null(strstr(got, "\r\nX-Custom: 42\r\n"));
    cr_assert_not_null(strstr(got, "\r\nContent-Length: 2999\r\n"));
    cr_assert_null(strstr(got, "Content-Length: 1\r\n"), "the caller's length is dropped");
    cr_assert_eq(srv.last_body_len, 2999);
    call_release(&c);

    /* A GET has no body and no length; the caller's Host replaces ours. */
    struct sl_http_header host_hdr[] = {SL_HTTP_HEADER_LIT("Host", "api.example")};
    call_init(&c, "/ok");
    c.req.headers = host_hdr;
    c.req.n_headers = 1;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    got = srv.last.ptr;
    cr_assert(strncmp(got, "GET /ok HTTP/1.1\r\n", 18) == 0, "%.40s", got);
    cr_assert_not_null(strstr(got, "\r\nHost: api.example\r\n"));
    cr_assert_null(strstr(got, "127.0.0.1"));
    cr_assert_null(strcasestr(got, "content-length"));
    call_release(&c);

    /* What cannot be sent ends in on_done, from the loop. */
    struct sl_http_header bad[] = {SL_HTTP_HEADER_LIT("X-Evil", "a\r\nInjected: 1")};
    call_init(&c, "/ok");
    c.req.headers = bad;
    c.req.n_headers = 1;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_BAD_REQUEST);
    cr_assert_str_eq(c.message, "malformed request header");
    call_release(&c);
    const char *urls[] = {"http://[::1/", "http://h:99999/", "http://user@h/", "http:///x",
                          "https://127.0.0.1/"};
    for (int i = 0; i < 5; i++) {
        call_init(&c, "");
        snprintf(c.url, sizeof(c.url), "%s", urls[i]);
        call_start(&c);
        call_wait(&c);
        cr_assert_eq(c.err, SL_E_BAD_REQUEST, "%s: %s", urls[i], sl_err_name(c.err));
        call_release(&c);
    }
    cr_assert_eq(srv.requests, 2);
    close_all();
}

Test(upstream, a_large_body_is_written_whole)
{
    start_all(NULL);
    size_t n = 8u << 20;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = big_byte(i);
    struct call c;
    call_init(&c, "/ok");
    c.req.body = body;
    c.req.body_len = n;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_eq(srv.last_body_len, n);
    call_release(&c);
    call_run(&c, "/ok");
    cr_assert_eq(c.res.reused, 1);
    call_release(&c);
    free(body);
    close_all();
}

/* ---- names, close, load --------------------------------------------------- */

Test(upstream, a_host_name_is_looked_up_once_for_concurrent_requests)
{
    start_all(NULL);
    struct call c[2];
    for (int i = 0; i < 2; i++) {
        call_init(&c[i], "");
        snprintf(c[i].url, sizeof(c[i].url), "http://localhost:%d/ok", srv.port);
        call_start(&c[i]);
    }
    for (int i = 0; i < 2; i++) {
        run_until(&c[i].done, WAIT_MS);
        /* localhost may come back as ::1 first, where nothing listens: the
         * next address is tried. */
        cr_assert_eq(c[i].err, SL_OK, "%s: %s", sl_err_name(c[i].err), c[i].message);
        call_release(&c[i]);
    }
    cr_assert_eq(stats().lookups, 1);
    struct call again;
    call_init(&again, "");
    snprintf(again.url, sizeof(again.url), "http://LocalHost:%d/ok", srv.port);
    call_start(&again);
    run_until(&again.done, WAIT_MS);
    cr_assert_eq(again.err, SL_OK);
    cr_assert_eq(again.res.reused, 1, "the same origin, whatever the case");
    cr_assert_eq(stats().lookups, 1);
    call_release(&again);
    close_all();
}

Test(upstream, an_expired_name_is_looked_up_again_and_an_unknown_one_is_refused)
{
    start_all(&(struct sl_upstream_opts){.dns_ttl_ms = 50});
    struct call c;
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://localhost:%d/ok", srv.port);
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    call_release(&c);
    srv_close_conns(&srv);
    wait_idle_closed();
    run_for(100); /* past the 50 ms name TTL */
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://localhost:%d/ok", srv.port);
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert_eq(stats().lookups, 2);
    call_release(&c);
    /* RFC 6761: .invalid never resolves (a resolver that cannot be
     * reached takes its own timeout, hence the bound). */
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://no-such-host.invalid:%d/ok", srv.port);
    call_start(&c);
    run_until(&c.done, 30000);
    cr_assert_eq(c.err, SL_E_CONN_REFUSED, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_not_null(strstr(c.message, "cannot resolve no-such-host.invalid"), "%s", c.message);
    call_release(&c);
    close_all();
}

Test(upstream, the_next_address_is_tried_when_one_refuses)
{
    start_all(NULL);
    struct sockaddr_in closed = closed_port();
    /* An origin whose name stood for two addresses, the first refusing. */
    struct sl_url u;
    cr_assert_null(sl__up_parse_url("http://two.test/", &u));
    struct sl_upstream_origin *o = sl__up_origin_get(pool, &u);
    o->numeric = 1;
    o->naddrs = 2;
    memcpy(&o->addrs[0], &closed, sizeof(closed));
    uv_ip4_addr("127.0.0.1", srv.port, (struct sockaddr_in *)&o->addrs[1]);
    struct call c;
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://two.test/ok");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s: %s", sl_err_name(c.err), c.message);
    cr_assert_eq(o->good, 1, "the address that answered is remembered");
    cr_assert_eq(stats().connects, 2);
    call_release(&c);
    /* A new connection starts from the good one. */
    srv_close_conns(&srv);
    wait_idle_closed();
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://two.test/ok");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK);
    cr_assert_eq(stats().connects, 3);
    call_release(&c);
    /* Both refusing: refused, after each was tried once. */
    uv_ip4_addr("127.0.0.1", ntohs(closed.sin_port), (struct sockaddr_in *)&o->addrs[1]);
    srv_close_conns(&srv);
    wait_idle_closed();
    call_init(&c, "");
    snprintf(c.url, sizeof(c.url), "http://two.test/ok");
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_E_CONN_REFUSED);
    cr_assert_eq(stats().connects, 5);
    call_release(&c);
    close_all();
}

Test(upstream, close_cancels_requests_and_waits_for_a_lookup_in_flight)
{
    start_all(NULL);
    struct call c[2];
    call_init(&c[0], "/hang");
    call_init(&c[1], "");
    snprintf(c[1].url, sizeof(c[1].url), "http://localhost:%d/hang", srv.port);
    call_start(&c[0]);
    call_start(&c[1]);
    run_until(&srv.requests, WAIT_MS);
    sl_upstream_close(pool, on_client_closed, &client_closed);
    cr_assert_eq(c[0].done, 0, "on_done comes from the loop");
    struct call late;
    call_init(&late, "/ok");
    cr_assert_eq(sl_upstream_start(pool, &late.req), UV_ESHUTDOWN);
    call_release(&late);
    run_until(&client_closed, WAIT_MS);
    cr_assert_eq(client_closed, 1);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(c[i].done, 1);
        cr_assert_eq(c[i].err, SL_E_CANCELLED);
        cr_assert_str_eq(c[i].message, "client closed");
        call_release(&c[i]);
    }
    srv_close(&srv);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&pause_timer, NULL);
    sl_test_close_loop(&loop);
}

enum { MANY = 200 };
static struct call many[MANY];
static int many_done;

static void count_done(struct call *c)
{
    (void)c;
    many_done++;
}

Test(upstream, many_concurrent_requests_then_a_second_wave_on_the_same_connections)
{
    start_all(&(struct sl_upstream_opts){.max_idle_connections = MANY});
    for (int wave = 0; wave < 2; wave++) {
        many_done = 0;
        for (int i = 0; i < MANY; i++) {
            call_init(&many[i], i % 2 ? "/delay/5" : "/stream/3/1");
            many[i].then = count_done;
            call_start(&many[i]);
        }
        run_until_n(&many_done, MANY, WAIT_MS);
        cr_assert_eq(many_done, MANY);
        for (int i = 0; i < MANY; i++) {
            cr_assert_eq(many[i].err, SL_OK, "%d: %s", i, many[i].message);
            cr_assert_eq(many[i].res.reused, wave == 1);
            cr_assert_str_eq(many[i].body.ptr,
                             i % 2 ? "late"
                                   : "data: chunk 0\n\ndata: chunk 1\n\ndata: chunk 2\n\n");
            call_release(&many[i]);
        }
    }
    cr_assert_eq(srv.accepts, MANY);
    cr_assert_eq(stats().reused, MANY);
    close_all();
}

/* A route resolves its URL once: the origin is looked up then, shared by
 * the URLs of one host:port, and a URL the lean client cannot take is
 * refused then, not on the first request. */
Test(upstream, routes_share_the_origin_of_their_host_and_port)
{
    start_all(NULL);
    char a[64], b[64];
    snprintf(a, sizeof(a), "http://127.0.0.1:%d/v1/chat/completions", srv.port);
    snprintf(b, sizeof(b), "http://127.0.0.1:%d/v1/embeddings?x=1", srv.port);
    const struct sl_http_route *ra, *rb, *bad;
    cr_assert_eq(client_route(a, &ra), 0);
    cr_assert_eq(client_route(b, &rb), 0);
    cr_assert(ra->lean && rb->lean);
    cr_assert_eq(ra->origin, rb->origin);
    cr_assert(sl_str_eq(rb->target, "/v1/embeddings?x=1"));
    cr_assert_eq(client_route("https://127.0.0.1/v1", &bad), UV_EINVAL);
    cr_assert_eq(client_route("http://bad host/", &bad), UV_EINVAL);
    struct call c;
    call_init(&c, "");
    c.req.url = NULL;
    c.req.route = ra;
    call_start(&c);
    call_wait(&c);
    cr_assert_eq(c.err, SL_OK, "%s", c.message);
    cr_assert(strncmp(srv.last.ptr, "GET /v1/chat/completions HTTP/1.1\r\n", 35) == 0, "%.50s",
              srv.last.ptr);
    cr_assert_eq(stats().requests, 1);
    call_release(&c);
    close_all();
}
