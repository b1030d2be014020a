/* Helpers for the PostgreSQL tests.
 *
 * scripts/test.sh starts a throwaway cluster and exports its superuser URL
 * as SLUICE_TEST_PG_URL; without it these tests fail (never skip). Each
 * test makes a database of its own (pgt_new_db), so tests may run in
 * parallel. The helpers here use blocking libpq: they run in the test, not
 * on the loop under test. */
#ifndef SL_TEST_PG_SUPPORT_H
#define SL_TEST_PG_SUPPORT_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *pgt_admin_url(void)
{
    const char *url = getenv("SLUICE_TEST_PG_URL");
    cr_assert(url && *url, "SLUICE_TEST_PG_URL is not set: run the tests with scripts/test.sh, "
                           "which starts PostgreSQL");
    return url;
}

/* The admin URL with another database (and optionally "user:password"). */
static inline void pgt_url_for(char *out, size_t size, const char *db, const char *userinfo)
{
    const char *admin = pgt_admin_url();
    const char *at = strchr(admin, '@');
    const char *slash = strrchr(admin, '/');
    cr_assert(at && slash && slash > at, "unexpected URL %s", admin);
    if (userinfo)
        snprintf(out, size, "postgresql://%s%.*s/%s", userinfo, (int)(slash - at), at, db);
    else
        snprintf(out, size, "%.*s/%s", (int)(slash - admin), admin, db);
}

/* The admin password (to check that no message prints it). */
static inline const char *pgt_password(void)
{
    static char pw[128];
    const char *admin = pgt_admin_url();
    const char *colon = strchr(admin + strlen("postgresql://"), ':');
    const char *at = strchr(admin, '@');
    cr_assert(colon && at && colon < at);
    snprintf(pw, sizeof(pw), "%.*s", (int)(at - colon - 1), colon + 1);
    return pw;
}

static void pgt_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection whose search_path is sluice's default schema, so that the
 * tests name sluice's tables as sluice does (other schemas: qualified). */
static inline PGconn *pgt_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "cannot connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pgt_quiet, NULL);
    PQclear(PQexec(c, "SET search_path TO sluice"));
    return c;
}

static inline void pgt_exec(const char *url, const char *sql)
{
    PGconn *c = pgt_connect(url);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static inline long long pgt_int(const char *url, const char *sql)
{
    PGconn *c = pgt_connect(url);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1, "%s returned %d rows", sql, PQntuples(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* The text of the first row of a query, concatenated over its rows. */
static inline void pgt_text(const char *url, const char *sql, char *out, size_t size)
{
    PGconn *c = pgt_connect(url);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        strncat(out, PQgetvalue(r, i, 0), size - strlen(out) - 2);
        strcat(out, "\n");
    }
    PQclear(r);
    PQfinish(c);
}

static char pgt_db_name[64];
static char pgt_url[512];

/* A login role PREFIX_<pid> with PASSWORD, made afresh, in role (64
 * bytes); url (512 bytes) is this test's database as that role. */
static inline void pgt_new_role(char *role, const char *prefix, const char *password, char *url)
{
    char sql[256], userinfo[128];
    snprintf(role, 64, "%s_%d", prefix, (int)getpid());
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN PASSWORD '%s'", role,
             role, password);
    pgt_exec(pgt_admin_url(), sql);
    snprintf(userinfo, sizeof(userinfo), "%s:%s", role, password);
    pgt_url_for(url, 512, pgt_db_name, userinfo);
}

/* A fresh database for this test: pgt_db_name, pgt_url. */
static inline void pgt_new_db(void)
{
    static int n;
    snprintf(pgt_db_name, sizeof(pgt_db_name), "sluice_t_%d_%d", (int)getpid(), n++);
    char sql[160];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pgt_db_name);
    pgt_exec(pgt_admin_url(), sql);
    pgt_url_for(pgt_url, sizeof(pgt_url), pgt_db_name, NULL);
}

static inline void pgt_drop_db(void)
{
    if (pgt_db_name[0] == '\0')
        return;
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", pgt_db_name);
    pgt_exec(pgt_admin_url(), sql);
    pgt_db_name[0] = '\0';
}

/* Drops this test's database, then the role (which owned objects in it). */
static inline void pgt_drop_db_and_role(const char *role)
{
    char sql[128];
    pgt_drop_db();
    snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
    pgt_exec(pgt_admin_url(), sql);
}

/* The test cluster's Unix socket directory (scripts/pg-cluster.sh puts it
 * in DIR/sock; scripts/test.sh starts the cluster in $SLUICE_TEST_PG_TMP/main)
 * and its port, from the admin URL. */
static inline void pgt_socket(char *dir, size_t size, char *port, size_t port_size)
{
    const char *tmp = getenv("SLUICE_TEST_PG_TMP");
    cr_assert(tmp && *tmp, "SLUICE_TEST_PG_TMP is not set: run the tests with scripts/test.sh");
    snprintf(dir, size, "%s/main/sock", tmp);
    const char *admin = pgt_admin_url();
    const char *colon = strrchr(admin, ':');
    const char *slash = strrchr(admin, '/');
    cr_assert(colon && slash && slash > colon, "unexpected URL %s", admin);
    snprintf(port, port_size, "%.*s", (int)(slash - colon - 1), colon + 1);
}

/* Ends every other session on the test's database (as a crash would). */
static inline long long pgt_terminate_backends(void)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
             "AND pid <> pg_backend_pid()",
             pgt_db_name);
    return pgt_int(pgt_admin_url(), sql);
}

/* Waits (at most 30 s: a loaded machine, ASan, a cold cluster) until the
 * query `sql` (one integer, sluice's schema on the search path) in the
 * database at url returns at least min. Connection failures and errors
 * (no table yet) count as not yet. */
static inline void pgt_wait_for_count(const char *url, const char *sql, long long min,
                                      const char *what)
{
    for (int i = 0; i < 1500; i++) {
        PGconn *c = PQconnectdb(url);
        long long n = -1;
        if (PQstatus(c) == CONNECTION_OK) {
            PQsetNoticeProcessor(c, pgt_quiet, NULL);
            PQclear(PQexec(c, "SET search_path TO sluice"));
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
                n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
        }
        PQfinish(c);
        if (n >= min)
            return;
        usleep(20000);
    }
    cr_assert_fail("%s: %s never reached %lld", what, sql, min);
}

/* Waits until a run has begun in the database at url: its run row exists. */
static inline void pgt_wait_for_run(const char *url)
{
    pgt_wait_for_count(url, "SELECT count(*) FROM runs", 1, "the run never began");
}

/* A socket on 127.0.0.1 that accepts TCP connections (the kernel does)
 * but never speaks: libpq would wait forever for the server's reply.
 * Returns the socket (close it) and its port in *port. */
static inline int pgt_silent_server(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s, 8), 0);
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

#endif
