/* `sluice keys`, run as a user would: the secret is printed once and never
 * stored (only its SHA-256 is in the database), list / show / update /
 * rotate / revoke / usage print what was done, and bad input gets one line
 * and the right exit status. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <time.h>

#include "e2e.h"
#include "pg_support.h"

TestSuite(keys, .init = e2e_tmpdir, .fini = e2e_rmdir, .timeout = 60);

/* sluice keys --db DB ARGS... (NULL-terminated) */
static struct e2e_run keys(const char *db, ...)
{
    const char *args[16] = {"keys", "--db", db};
    int n = 3;
    va_list ap;
    va_start(ap, db);
    for (const char *a; n < 15 && (a = va_arg(ap, const char *)) != NULL;)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return e2e_run(args);
}

/* The value of "name":"..." in JSON (no escapes expected). */
static void json_str(const char *json, const char *name, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "%s not in %s", name, json);
    p += strlen(pat);
    const char *q = strchr(p, '"');
    snprintf(out, size, "%.*s", (int)(q - p), p);
}

/* The secret printed after "secret" in text output. */
static void text_secret(const char *out, char *secret, size_t size)
{
    const char *p = strstr(out, "secret        ");
    cr_assert_not_null(p, "%s", out);
    p += 14;
    snprintf(secret, size, "%.*s", (int)strcspn(p, "\n"), p);
}

static void sha_hex(const char *s, char hex[65])
{
    unsigned char d[32];
    unsigned n = 32;
    EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The query counting keys whose stored hash is the secret's. */
static const char *sql_of_hash(char *sql, size_t size, const char *secret)
{
    char hex[65];
    sha_hex(secret, hex);
    snprintf(sql, size, "SELECT count(*) FROM gateway_keys WHERE secret_sha256 = '%s'", hex);
    return sql;
}

/* Whether text occurs anywhere in the file's bytes. */
static int file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    int found = memmem(buf, got, text, strlen(text)) != NULL;
    free(buf);
    return found;
}

static void expect(struct e2e_run *r, int status, const char *out_needle, const char *err_needle)
{
    cr_assert_eq(r->status, status, "exit %d, stdout: %s, stderr: %s", r->status, r->out, r->err);
    if (out_needle)
        cr_assert_not_null(strstr(r->out, out_needle), "'%s' not in: %s", out_needle, r->out);
    if (err_needle) {
        cr_assert_not_null(strstr(r->err, err_needle), "'%s' not in: %s", err_needle, r->err);
        cr_assert_eq(e2e_lines(r->err), 1, "%s", r->err);
    } else {
        cr_assert_eq(r->err[0], '\0', "%s", r->err);
    }
    e2e_free(r);
}

Test(keys, create_list_show_update_usage_rotate_revoke)
{
    char db[512]; /* e2e_path's buffers are reused */
    snprintf(db, sizeof(db), "%s", e2e_path("k.db"));
    char id[32], secret[64], secret2[64], sql[256];

    struct e2e_run r = keys(db, "create", "--name=alice", "--team=ml", "--models=gpt-4o*, claude-*",
                            "--json", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_str(r.out, "id", id, sizeof(id));
    json_str(r.out, "secret", secret, sizeof(secret));
    cr_assert_not_null(strstr(r.out, "\"models\":[\"gpt-4o*\",\"claude-*\"]"), "%s", r.out);
    e2e_free(&r);
    cr_assert_eq(strncmp(secret, "sk-sl-", 6), 0, "%s", secret);
    /* the secret is nowhere in the database, its hash is */
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", db);
    cr_assert_not(file_has(db, secret));
    cr_assert_not(file_has(wal, secret));
    cr_assert_not(file_has(db, secret + 6));
    cr_assert_eq(e2e_sql_int(db, sql_of_hash(sql, sizeof(sql), secret)), 1);

    /* text output: the secret once, with the warning */
    r = keys(db, "create", "--name", "batch", "--rpm", "60", "--budget=10", "--period=daily", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "will not be shown again"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "budget        $10.00 daily"), "%s", r.out);
    text_secret(r.out, secret2, sizeof(secret2));
    cr_assert_eq(strlen(secret2), 46, "%s", secret2);
    e2e_free(&r);

    r = keys(db, "create", "--name", "alice", NULL);
    expect(&r, 1, NULL, "sluice keys: a key named 'alice' already exists");

    r = keys(db, "list", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(e2e_lines(r.out), 3, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "BUDGET"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, id), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "$10.00 daily"), "%s", r.out);
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.12s...", secret);
    cr_assert_not_null(strstr(r.out, prefix), "%s", r.out);
    cr_assert_null(strstr(r.out, secret), "list printed a secret: %s", r.out);
    e2e_free(&r);
    r = keys(db, "list", "--json", NULL);
    expect(&r, 0, "{\"object\":\"list\",\"data\":[{\"id\":", NULL);

    r = keys(db, "show", id, NULL);
    expect(&r, 0, "name          alice", NULL);
    r = keys(db, "show", "batch", "--json", NULL);
    expect(&r, 0, "\"rpm\":60,", NULL);

    r = keys(db, "update", "batch", "--rpm", "5", "--disable", NULL);
    expect(&r, 0, "state         disabled", NULL);
    r = keys(db, "show", "batch", "--json", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "\"rpm\":5,"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\"enabled\":false"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\"budget_usd\":10,"), "%s", r.out); /* unchanged */
    e2e_free(&r);

    /* usage: spend of today's period (recorded as the gateway would) */
    r = keys(db, "usage", "batch", NULL);
    expect(&r, 0, "spend         $0.000000", NULL);
    char batch_id[32];
    r = keys(db, "show", "batch", "--json", NULL);
    json_str(r.out, "id", batch_id, sizeof(batch_id));
    e2e_free(&r);
    long long today = (long long)time(NULL) / 86400 * 86400 * 1000000;
    snprintf(sql, sizeof(sql),
             "INSERT INTO gateway_key_spend VALUES ('%s', %lld, 2.5, 3, 100, 40), "
             "('%s', %lld, 99, 9, 9, 9)",
             batch_id, today, batch_id, today - 86400000000ll);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    r = keys(db, "usage", "batch", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "period        daily"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "spend         $2.500000"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "remaining     $7.500000"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "requests      3"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "100 prompt, 40 completion"), "%s", r.out);
    e2e_free(&r);
    r = keys(db, "usage", "batch", "--json", NULL);
    expect(&r, 0, "\"spend_usd\":2.5,\"budget_usd\":10,\"remaining_usd\":7.5,", NULL);

    /* rotate: a new secret, the old hash gone */
    r = keys(db, "rotate", "alice", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    text_secret(r.out, secret2, sizeof(secret2));
    cr_assert_str_neq(secret2, secret);
    e2e_free(&r);
    cr_assert_eq(e2e_sql_int(db, sql_of_hash(sql, sizeof(sql), secret)), 0);
    cr_assert_eq(e2e_sql_int(db, sql_of_hash(sql, sizeof(sql), secret2)), 1);

    /* revoke: for good */
    r = keys(db, "revoke", "alice", NULL);
    expect(&r, 0, "state         revoked at ", NULL);
    r = keys(db, "update", "alice", "--enable", NULL);
    expect(&r, 1, NULL, "sluice keys: key 'alice' is revoked");
    r = keys(db, "list", NULL);
    expect(&r, 0, "revoked", NULL);
}

Test(keys, bad_input_is_one_line_and_the_right_status)
{
    char db[512]; /* e2e_path's buffers are reused */
    snprintf(db, sizeof(db), "%s", e2e_path("k.db"));
    struct e2e_run r = keys(db, "show", "nobody", NULL);
    expect(&r, 1, NULL, "cannot open database"); /* reading never creates a database */
    cr_assert(!e2e_exists(db));
    r = keys(db, "create", "--name", "x", "--json", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    r = keys(db, "show", "nobody", NULL);
    expect(&r, 1, NULL, "sluice keys: no key 'nobody'");
    r = keys(db, "usage", "nobody", NULL);
    expect(&r, 1, NULL, "sluice keys: no key 'nobody'");
    r = keys(db, "revoke", "nobody", NULL);
    expect(&r, 1, NULL, "sluice keys: no key 'nobody'");

    const char *usage_errors[][5] = {
        {"frob", NULL, NULL, NULL, "expected create, list, show"},
        {NULL, NULL, NULL, NULL, "expected create, list, show"},
        {"create", NULL, NULL, NULL, "create needs --name"},
        {"create", "--name", "y", "--rpm=-1", "--rpm must be a whole number"},
        {"create", "--name", "y", "--budget=lots", "--budget must be a number"},
        {"create", "--name", "y", "--period=yearly", "--period must be total, daily"},
        {"create", "--name", "y", "--expires=soon", "--expires must be"},
        {"create", "--name", "y", "--metadata=[1]", "metadata must be a JSON object"},
        {"create", "--name", "y", "--models=a,,b", "--models has an empty pattern"},
        {"create", "--name", "y", "--bogus", "unknown option '--bogus'"},
        {"create", "--name", "y", "--enable", "--enable and --disable are for update"},
        {"show", NULL, NULL, NULL, "show needs the key's ID or NAME"},
        {"show", "x", "--rpm=5", NULL, "show takes no key fields"},
        {"update", "x", NULL, NULL, "update needs at least one field"},
        {"update", "x", "--enable", "--disable", "give --enable or --disable once"},
        {"list", "x", NULL, NULL, "list takes no ID or NAME"},
    };
    for (size_t i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
        const char **a = usage_errors[i];
        r = keys(db, a[0], a[1], a[2], a[3], NULL);
        cr_assert_eq(r.status, 2, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(e2e_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert_not_null(strstr(r.err, a[4]), "case %zu: '%s' not in %s", i, a[4], r.err);
        cr_assert_not_null(strstr(r.err, "see 'sluice keys --help'"), "%s", r.err);
        cr_assert_eq(r.out[0], '\0', "%s", r.out);
        e2e_free(&r);
    }

    const char *help[] = {"keys", "--help", NULL};
    r = e2e_run(help);
    expect(&r, 0, "rotate ID|NAME", NULL);
}

Test(keys, an_older_schema_is_migrated_by_changes_and_refused_by_reads)
{
    char db[512]; /* e2e_path's buffers are reused */
    snprintf(db, sizeof(db), "%s", e2e_path("old.db"));
    const char *up3[] = {"migrate", "up", "3", "--db", db, NULL};
    struct e2e_run r = e2e_run(up3);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    r = keys(db, "list", NULL);
    expect(&r, 1, NULL, "older than sluice keys need (4); run: sluice migrate up --db");
    cr_assert_eq(e2e_sql_int(db, "SELECT max(version) FROM schema_version"), 3);
    r = keys(db, "create", "--name", "a", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    e2e_free(&r);
    cr_assert_eq(e2e_sql_int(db, "SELECT max(version) FROM schema_version"), 4);
    r = keys(db, "list", NULL);
    expect(&r, 0, " a ", NULL);
}

/* The same command on PostgreSQL (skipped without SLUICE_TEST_PG_URL): the
 * database is migrated by create, only the hash is stored, and no message
 * prints the password. */
Test(keys, on_postgresql)
{
    pgt_admin_url(); /* fails, as every PostgreSQL test does, without a cluster */
    pgt_new_db();
    struct e2e_run r = keys(pgt_url, "show", "x", NULL);
    expect(&r, 1, NULL, "older than sluice keys need");
    r = keys(pgt_url, "create", "--name", "pg-bot", "--budget", "5", "--period", "weekly", "--json",
             NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char secret[64], sql[256];
    json_str(r.out, "secret", secret, sizeof(secret));
    e2e_free(&r);
    cr_assert_eq(pgt_int(pgt_url, sql_of_hash(sql, sizeof(sql), secret)), 1);
    r = keys(pgt_url, "usage", "pg-bot", NULL);
    expect(&r, 0, "period        weekly", NULL);
    r = keys(pgt_url, "create", "--name", "pg-bot", NULL);
    cr_assert_null(strstr(r.err, pgt_password()), "%s", r.err);
    expect(&r, 1, NULL, "already exists");
    r = keys(pgt_url, "revoke", "pg-bot", NULL);
    expect(&r, 0, "revoked at", NULL);
    pgt_drop_db();
}
