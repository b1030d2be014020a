#include "store/pg_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_url.h"

enum { C_NEW, C_RESOLVING, C_CONNECTING, C_READY, C_BUSY, C_BROKEN, C_CLOSING };

/* ---- parameters ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int sl_pg_params_init(struct sl_pg_params *p, const char *url, unsigned connect_timeout_ms)
{
    memset(p, 0, sizeof(*p));
    p->connect_timeout_ms = connect_timeout_ms ? connect_timeout_ms : 5000;
    p->url = strdup(url);
    p->masked = malloc(strlen(url) + 8);
    if (p->url == NULL || p->masked == NULL)
        goto nomem;
    sl_pg_url_mask(url, p->masked, strlen(url) + 8);
    char err[256];
    int rc = sl_pg_url_split(url, &p->conninfo, p->schema, err, sizeof(err));
    if (rc != 0) {
        sl_pg_params_release(p);
        return rc;
    }
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(p->conninfo, &msg);
    PQfreemem(msg);
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *password = NULL, *timeout = NULL;
    const char *options = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "password") == 0)
            password = o->val;
        else if (strcmp(o->keyword, "connect_timeout") == 0)
            timeout = o->val;
        else if (strcmp(o->keyword, "options") == 0)
            options = o->val;
    }
    /* libpq's environment, as libpq itself would read it */
    if (host == NULL || *host == '\0')
        host = getenv("PGHOST");
    if (hostaddr == NULL || *hostaddr == '\0')
        hostaddr = getenv("PGHOSTADDR");
    if (port == NULL || *port == '\0')
        port = getenv("PGPORT");
    if (password == NULL || *password == '\0')
        password = getenv("PGPASSWORD");
    if (options == NULL || *options == '\0')
        options = getenv("PGOPTIONS"); /* replaced by ours, so kept in it */
    if (timeout && atoi(timeout) > 0)
        p->connect_timeout_ms = (unsigned)atoi(timeout) * 1000;
    /* Host names are looked up by us, off the loop (libpq's own lookup
     * blocks): keep the host list when no address was given. */
    if (host && *host && (hostaddr == NULL || *hostaddr == '\0'))
        p->host = strdup(host);
    p->port = strdup(port && *port ? port : "5432");
    p->password = dup_or_null(password);
    /* the schema name needs no quoting (sl_pg_url_split checked it), and
     * a search_path the user's options set is overridden: ours comes last */
    size_t olen = (options ? strlen(options) : 0) + strlen(p->schema) + 32;
    p->options = malloc(olen);
    if (p->options)
        snprintf(p->options, olen, "%s%s-c search_path=%s", options ? options : "",
                 options && *options ? " " : "", p->schema);
    PQconninfoFree(opts);
    if (p->port == NULL || p->options == NULL)
        goto nomem;
    return 0;
nomem:
    sl_pg_params_release(p);
    return UV_ENOMEM;
}

void sl_pg_params_release(struct sl_pg_params *p)
{
    free(p->url);
    free(p->conninfo);
    free(p->options);
    free(p->masked);
    free(p->host);
    free(p->port);
    free(p->password);
    memset(p, 0, sizeof(*p));
}

/* ---- lifecycle ----------------------------------------------------------- */

struct sl_pg_conn *sl_pg_conn_new(uv_loop_t *loop, const struct sl_pg_params *params,
                                  uint64_t *queries)
{
    struct sl_pg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->loop = loop;
    c->params = params;
    c->queries = queries;
    c->poll_fd = -1;
    c->state = C_NEW;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 1;
    return c;
}

static void set_error(struct sl_pg_conn *c, const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
    sl_pg_mask_secret(msg, sizeof(msg), c->params->password);
    snprintf(c->err, sizeof(c->err), "%s", msg);
}

static void maybe_free(struct sl_pg_conn *c)
{
    if (c->handles_open > 0 || c->resolving)
        return;
    void (*cb)(struct sl_pg_conn *, void *) = c->close_cb;
    void *arg = c->close_arg;
    free(c->lookup);
    free(c);
    if (cb)
        cb(NULL, arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct sl_pg_conn *c = h->data;
    if ((uv_handle_t *)&c->timer != h)
        free(h); /* a poll handle */
    c->handles_open--;
    maybe_free(c);
}

static void drop_poll(struct sl_pg_conn *c)
{
    if (c->poll) {
        uv_close((uv_handle_t *)c->poll, on_handle_closed);
        c->poll = NULL;
        c->poll_fd = -1;
        c->poll_events = 0;
    }
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches the connection's socket for events (re-creating the handle when
 * libpq moved to another socket during the connect). */
static int watch(struct sl_pg_conn *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return UV_EBADF;
    if (c->poll && c->poll_fd != fd)
        drop_poll(c);
    if (c->poll == NULL) {
        c->poll = malloc(sizeof(*c->poll));
        if (c->poll == NULL)
            return UV_ENOMEM;
        int rc = uv_poll_init_socket(c->loop, c->poll, fd);
        if (rc != 0) {
            free(c->poll);
            c->poll = NULL;
            return rc;
        }
        c->poll->data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
        c->handles_open++;
    }
    if (events != c->poll_events) {
        c->poll_events = events;
        return uv_poll_start(c->poll, events, on_poll);
    }
    return 0;
}

void sl_pg_conn_close(struct sl_pg_conn *c, void (*cb)(struct sl_pg_conn *c, void *arg), void *arg)
{
    c->state = C_CLOSING;
    c->close_cb = cb;
    c->close_arg = arg;
    c->cb = NULL;
    c->connect_cb = NULL;
    if (c->last) {
        PQclear(c->last);
        c->last = NULL;
    }
    drop_poll(c); /* stops polling before libpq closes the socket */
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

int sl_pg_conn_ok(const struct sl_pg_conn *c)
{
    return (c->state == C_READY || c->state == C_BUSY) && PQstatus(c->pg) == CONNECTION_OK;
}

int sl_pg_conn_busy(const struct sl_pg_conn *c)
{
    return c->state == C_BUSY;
}

const char *sl_pg_conn_error(const struct sl_pg_conn *c)
{
    return c->err;
}

const char *sl_pg_conn_sqlstate(const struct sl_pg_conn *c)
{
    return c->sqlstate;
}

/* ---- connecting ---------------------------------------------------------- */

/* Notices ("relation ... already exists, skipping") are not errors and
 * would garble the terminal: drop them. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void connect_done(struct sl_pg_conn *c, int status);

static void on_connect_deferred(uv_timer_t *t)
{
    struct sl_pg_conn *c = t->data;
    connect_done(c, c->deferred_status);
}

/* Ends the connect. A connect that fails before sl_pg_conn_connect()
 * returns (a Unix socket that does not exist fails inside libpq's first
 * step) reports on the next loop turn: a caller that reacts to a failure
 * by connecting again must not recurse, nor keep the loop from turning. */
static void connect_done(struct sl_pg_conn *c, int status)
{
    uv_timer_stop(&c->timer);
    if (c->in_connect) {
        c->deferred_status = status;
        uv_timer_start(&c->timer, on_connect_deferred, 0, 0);
        return;
    }
    free(c->lookup);
    c->lookup = NULL;
    sl_pg_conn_cb cb = c->connect_cb;
    c->connect_cb = NULL;
    if (status == 0) {
        PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
        c->state = C_READY;
        watch(c, UV_READABLE); /* notices a server that goes away while idle */
    } else {
        c->state = C_BROKEN;
        drop_poll(c);
    }
    if (cb)
        cb(c, status, c->arg);
}

static void connect_step(struct sl_pg_conn *c)
{
    PostgresPollingStatusType r = PQconnectPoll(c->pg);
    int rc = 0;
    switch (r) {
    case PGRES_POLLING_READING:
        rc = watch(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = watch(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->pg, 1) != 0) {
            set_error(c, "cannot make the connection non-blocking: %s", PQerrorMessage(c->pg));
            connect_done(c, UV_ECONNREFUSED);
            return;
        }
        connect_done(c, 0);
        return;
    case PGRES_POLLING_FAILED:
    default:
        set_error(c, "%s", PQerrorMessage(c->pg));
        connect_done(c, UV_ECONNREFUSED);
        return;
    }
    if (rc != 0) {
        set_error(c, "cannot watch the connection: %s", uv_strerror(rc));
        connect_done(c, UV_ECONNREFUSED);
    }
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct sl_pg_conn *c = t->data;
    char what[64];
    snprintf(what, sizeof(what), "%u ms", c->params->connect_timeout_ms);
    set_error(c, "timed out after %s connecting", what);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai); /* its callback sees C_BROKEN */
    if (c->pg) {
        drop_poll(c);
        PQfinish(c->pg);
        c->pg = NULL;
    }
    connect_done(c, UV_ETIMEDOUT);
}

/* hostaddr, host and port are parallel lists: libpq tries each entry in
 * turn, as it would for the names it looked up itself. */
static void start_libpq(struct sl_pg_conn *c, const char *host, const char *hostaddr,
                        const char *port)
{
    /* later keywords override what the URL (expanded from dbname) says */
    const char *keys[7] = {"dbname", "options", NULL, NULL, NULL, NULL, NULL};
    const char *values[7] = {c->params->conninfo, c->params->options, NULL, NULL, NULL, NULL, NULL};
    int n = 2;
    if (hostaddr) {
        keys[n] = "host";
        values[n++] = host;
        keys[n] = "hostaddr";
        values[n++] = hostaddr;
        keys[n] = "port";
        values[n++] = port;
    }
    keys[n] = "fallback_application_name";
    values[n++] = "sluice";
    c->state = C_CONNECTING;
    c->pg = PQconnectStartParams(keys, values, 1);
    if (c->pg == NULL) {
        set_error(c, "out of memory%s", "");
        connect_done(c, UV_ENOMEM);
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        set_error(c, "%s", PQerrorMessage(c->pg));
        connect_done(c, UV_ECONNREFUSED);
        return;
    }
    /* libpq: start as if PQconnectPoll had said PGRES_POLLING_WRITING */
    int rc = watch(c, UV_WRITABLE);
    if (rc != 0) {
        set_error(c, "cannot watch the connection: %s", uv_strerror(rc));
        connect_done(c, UV_ECONNREFUSED);
    }
}

/* ---- looking up host names ------------------------------------------------ */

#define MAX_HOSTS 8 /* entries of a host list we look up */
#define MAX_ADDRS 4 /* addresses tried per name */

struct sl__pg_lookup {
    char names[MAX_HOSTS][256];
    char ports[MAX_HOSTS][16];
    int n, next, entries;
    char hosts[MAX_HOSTS * MAX_ADDRS * 257];
    char addrs[MAX_HOSTS * MAX_ADDRS * 47];
    char portl[MAX_HOSTS * MAX_ADDRS * 17];
    char failed[300]; /* the first name that could not be found, and why */
};

static int is_name(const char *h)
{
    unsigned char buf[16];
    return h[0] != '\0' && h[0] != '/' && h[0] != '@' && uv_inet_pton(AF_INET, h, buf) != 0 &&
           uv_inet_pton(AF_INET6, h, buf) != 0;
}

/* Splits "a,b,c" into at most max entries of size len each. */
static int split(const char *list, char *out, size_t len, int max)
{
    int n = 0;
    const char *p = list;
    while (n < max) {
        size_t k = strcspn(p, ",");
        snprintf(out + (size_t)n * len, len, "%.*s", (int)k, p);
        n++;
        if (p[k] == '\0')
            break;
        p += k + 1;
    }
    return n;
}

static void add_entry(struct sl__pg_lookup *lk, const char *host, const char *addr,
                      const char *port)
{
    const char *sep = lk->entries ? "," : "";
    size_t h = strlen(lk->hosts), a = strlen(lk->addrs), p = strlen(lk->portl);
    snprintf(lk->hosts + h, sizeof(lk->hosts) - h, "%s%s", sep, host);
    snprintf(lk->addrs + a, sizeof(lk->addrs) - a, "%s%s", sep, addr);
    snprintf(lk->portl + p, sizeof(lk->portl) - p, "%s%s", sep, port);
    lk->entries++;
}

static void lookup_next(struct sl_pg_conn *c);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sl_pg_conn *c = req->data;
    struct sl__pg_lookup *lk = c->lookup;
    c->resolving = 0;
    if (c->state != C_RESOLVING) { /* closed or timed out meanwhile */
        uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    const char *name = lk->names[lk->next];
    const char *port = lk->ports[lk->next];
    int found = 0;
    for (struct addrinfo *ai = res; ai && found < MAX_ADDRS; ai = ai->ai_next) {
        char addr[46] = "";
        if (ai->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, addr, sizeof(addr));
        else if (ai->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)ai->ai_addr, addr, sizeof(addr));
        if (addr[0] == '\0')
            continue;
        add_entry(lk, name, addr, port);
        found++;
    }
    uv_freeaddrinfo(res);
    if (found == 0 && lk->failed[0] == '\0')
        snprintf(lk->failed, sizeof(lk->failed), "%s (%s)", name,
                 uv_strerror(status ? status : UV_EAI_NONAME));
    lk->next++;
    lookup_next(c);
}

/* Looks the names up one after the other, then starts libpq on the list. */
static void lookup_next(struct sl_pg_conn *c)
{
    struct sl__pg_lookup *lk = c->lookup;
    while (lk->next < lk->n && !is_name(lk->names[lk->next])) {
        add_entry(lk, lk->names[lk->next], "", lk->ports[lk->next]);
        lk->next++;
    }
    if (lk->next < lk->n) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        c->gai.data = c;
        int rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, lk->names[lk->next], NULL, &hints);
        if (rc == 0) {
            c->resolving = 1;
            return;
        }
        if (lk->failed[0] == '\0')
            snprintf(lk->failed, sizeof(lk->failed), "%s (%s)", lk->names[lk->next],
                     uv_strerror(rc));
        lk->next++;
        lookup_next(c);
        return;
    }
    if (lk->entries == 0) {
        set_error(c, "unknown host %s", lk->failed);
        connect_done(c, UV_EAI_NONAME);
        return;
    }
    start_libpq(c, lk->hosts, lk->addrs, lk->portl);
}

void sl_pg_conn_connect(struct sl_pg_conn *c, sl_pg_conn_cb cb, void *arg)
{
    c->connect_cb = cb;
    c->arg = arg;
    c->err[0] = '\0';
    c->in_connect = 1;
    uv_update_time(c->loop); /* the timeout counts from now, not from the loop's last tick */
    uv_timer_start(&c->timer, on_connect_timeout, c->params->connect_timeout_ms, 0);
    if (c->params->host) {
        struct sl__pg_lookup *lk = calloc(1, sizeof(*lk));
        if (lk == NULL) {
            set_error(c, "out of memory%s", "");
            connect_done(c, UV_ENOMEM);
            c->in_connect = 0;
            return;
        }
        c->lookup = lk;
        char ports[MAX_HOSTS][16];
        lk->n = split(c->params->host, &lk->names[0][0], sizeof(lk->names[0]), MAX_HOSTS);
        int np = split(c->params->port, &ports[0][0], sizeof(ports[0]), MAX_HOSTS);
        for (int i = 0; i < lk->n; i++)
            snprintf(lk->ports[i], sizeof(lk->ports[i]), "%s", ports[np == lk->n ? i : 0]);
        c->state = C_RESOLVING;
        lookup_next(c);
    } else {
        start_libpq(c, NULL, NULL, NULL);
    }
    c->in_connect = 0;
}

/* ---- operations ---------------------------------------------------------- */

static void op_done(struct sl_pg_conn *c)
{
    uv_timer_stop(&c->timer);
    sl_pg_result_cb cb = c->cb;
    void *arg = c->arg;
    int status = c->op_status;
    if (status != 0 && PQstatus(c->pg) != CONNECTION_OK)
        status = UV_ECONNRESET;
    c->cb = NULL;
    c->state = status == UV_ECONNRESET ? C_BROKEN : C_READY;
    if (c->state == C_READY)
        watch(c, UV_READABLE);
    else
        drop_poll(c);
    PGresult *res = c->last;
    c->last = NULL;
    if (cb)
        cb(c, status, status == 0 ? res : NULL, arg); /* may close c (freed later) */
    PQclear(res);
}

static void fail_op(struct sl_pg_conn *c, int status, const char *what)
{
    set_error(c, "%s", what);
    c->op_status = status;
    if (c->last) {
        PQclear(c->last);
        c->last = NULL;
    }
    op_done(c);
}

/* Pushes the COPY data and its end; returns 1 when all is queued, 0 when
 * libpq's buffer is full (wait for writable), -1 on error. */
static int push_copy(struct sl_pg_conn *c)
{
    while (c->copy_state == 1) {
        if (c->copy_off == c->copy_len) {
            c->copy_state = 2;
            break;
        }
        size_t chunk = c->copy_len - c->copy_off;
        if (chunk > 65536)
            chunk = 65536;
        int r = PQputCopyData(c->pg, c->copy_data + c->copy_off, (int)chunk);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        c->copy_off += chunk;
    }
    if (c->copy_state == 2) {
        int r = PQputCopyEnd(c->pg, NULL);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        c->copy_state = 0;
    }
    return 1;
}

/* Sends what libpq holds; watches for writable while some is left. */
static int flush_out(struct sl_pg_conn *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    int want = UV_READABLE | (r == 1 || c->copy_state ? UV_WRITABLE : 0);
    return watch(c, want) == 0 ? 0 : -1;
}

/* Reads results until libpq would block or the operation is complete. */
static void drain_results(struct sl_pg_conn *c)
{
    while (c->state == C_BUSY && c->copy_state == 0 && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            op_done(c);
            return;
        }
        switch (PQresultStatus(res)) {
        case PGRES_COPY_IN:
            PQclear(res);
            if (c->copy_data == NULL) {
                PQputCopyEnd(c->pg, "sluice sent no COPY data");
                break;
            }
            c->copy_state = 1;
            if (push_copy(c) < 0 || flush_out(c) < 0) {
                fail_op(c, UV_ECONNRESET, PQerrorMessage(c->pg));
                return;
            }
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
            if (c->last)
                PQclear(c->last);
            c->last = res;
            break;
        default:
            if (c->op_status == 0) {
                const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
                const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                set_error(c, "%s", primary ? primary : PQresultErrorMessage(res));
                c->op_status = UV_EIO;
            }
            PQclear(res);
            break;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sl_pg_conn *c = h->data;
    if (c->state == C_CONNECTING) {
        connect_step(c);
        return;
    }
    if (c->state == C_READY) {
        /* idle: the server may have said goodbye */
        if (status < 0 || !PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
            set_error(c, "connection lost: %s", PQerrorMessage(c->pg));
            c->state = C_BROKEN;
            drop_poll(c);
        }
        return;
    }
    if (c->state != C_BUSY)
        return;
    if (status < 0) {
        const char *why = PQerrorMessage(c->pg);
        fail_op(c, UV_ECONNRESET, why && *why ? why : uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        if (c->copy_state && push_copy(c) < 0) {
            fail_op(c, UV_ECONNRESET, PQerrorMessage(c->pg));
            return;
        }
        if (flush_out(c) < 0) {
            fail_op(c, UV_ECONNRESET, PQerrorMessage(c->pg));
            return;
        }
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
            fail_op(c, UV_ECONNRESET, PQerrorMessage(c->pg));
            return;
        }
    }
    drain_results(c);
}

/* No answer in time: the server (or the network to it) is stuck. The
 * connection is dropped, which the caller sees as a lost connection. */
static void on_op_timeout(uv_timer_t *t)
{
    struct sl_pg_conn *c = t->data;
    if (c->state != C_BUSY)
        return;
    char what[64];
    snprintf(what, sizeof(what), "%u ms", c->op_timeout_ms);
    set_error(c, "no answer from the server in %s", what);
    c->op_status = UV_ETIMEDOUT;
    drop_poll(c);
    PQfinish(c->pg);
    c->pg = NULL;
    c->copy_state = 0;
    if (c->last) {
        PQclear(c->last);
        c->last = NULL;
    }
    op_done(c);
}

void sl_pg_conn_set_op_timeout(struct sl_pg_conn *c, unsigned ms)
{
    c->op_timeout_ms = ms;
}

static void begin_op(struct sl_pg_conn *c, sl_pg_result_cb cb, void *arg)
{
    c->cb = cb;
    c->arg = arg;
    c->op_status = 0;
    c->sqlstate[0] = '\0';
    c->copy_data = NULL;
    c->copy_len = c->copy_off = 0;
    c->copy_state = 0;
    c->state = C_BUSY;
    if (c->queries)
        (*c->queries)++;
    if (c->op_timeout_ms) {
        uv_update_time(c->loop);
        uv_timer_start(&c->timer, on_op_timeout, c->op_timeout_ms, 0);
    }
}

static void after_send(struct sl_pg_conn *c, int sent)
{
    if (!sent) {
        fail_op(c, PQstatus(c->pg) == CONNECTION_OK ? UV_EIO : UV_ECONNRESET,
                PQerrorMessage(c->pg));
        return;
    }
    if (flush_out(c) < 0)
        fail_op(c, UV_ECONNRESET, PQerrorMessage(c->pg));
}

static int check_ready(struct sl_pg_conn *c, sl_pg_result_cb cb, void *arg)
{
    if (c->state == C_READY && PQstatus(c->pg) == CONNECTION_OK)
        return 1;
    /* a connection that went away while idle: report it like any loss */
    begin_op(c, cb, arg);
    fail_op(c, UV_ECONNRESET, c->err[0] ? c->err : "connection lost");
    return 0;
}

void sl_pg_conn_query(struct sl_pg_conn *c, const char *sql, int nparams, const char *const *values,
                      sl_pg_result_cb cb, void *arg)
{
    if (!check_ready(c, cb, arg))
        return;
    begin_op(c, cb, arg);
    after_send(c, PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0));
}

void sl_pg_conn_script(struct sl_pg_conn *c, const char *sql, sl_pg_result_cb cb, void *arg)
{
    if (!check_ready(c, cb, arg))
        return;
    begin_op(c, cb, arg);
    after_send(c, PQsendQuery(c->pg, sql));
}

void sl_pg_conn_copy(struct sl_pg_conn *c, const char *copy_sql, const char *data, size_t len,
                     sl_pg_result_cb cb, void *arg)
{
    if (!check_ready(c, cb, arg))
        return;
    begin_op(c, cb, arg);
    c->copy_data = data;
    c->copy_len = len;
    after_send(c, PQsendQuery(c->pg, copy_sql));
}
