/* Virtual keys in the database, the same scenario on SQLite and on
 * PostgreSQL: create (the secret is returned once and only its hash is
 * kept), get by id or name, update by field mask, rotate, revoke (final),
 * spend added in batches by upsert, usage and load_all (one query) with
 * the current period's spend, and the schema checks at open.
 *
 * The PostgreSQL half needs SLUICE_TEST_PG_URL (scripts/test.sh sets it)
 * and is skipped without it; the SQLite half always runs. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "pg_support.h"
#include "store/keys.h"
#include "store/migrate.h"
#include "support.h"

#define S   1000000ll
#define DAY (86400ll * S)

static char dir[256], lite_url[512];

static void lite_setup(void)
{
    sl_test_mkdtemp(dir, sizeof(dir), "keys");
    snprintf(lite_url, sizeof(lite_url), "%s/k.db", dir);
}

static void lite_teardown(void)
{
    sl_test_rmdir(dir);
}

static int have_pg(void)
{
    const char *u = getenv("SLUICE_TEST_PG_URL");
    return u && *u;
}

static void pg_setup(void)
{
    if (have_pg())
        pgt_new_db();
}

static void pg_teardown(void)
{
    if (have_pg())
        pgt_drop_db();
}

TestSuite(keys_sqlite, .init = lite_setup, .fini = lite_teardown, .timeout = 60);
TestSuite(keys_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 60);

static struct sl_keydb *open_db(const char *url, unsigned flags)
{
    struct sl_keydb *db;
    char err[600];
    int rc = sl_keydb_open(url, flags, &db, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s", url, err);
    return db;
}

struct collected {
    int n;
    struct sl_key_record rec[8];
    struct sl_key_usage usage[8];
};

static int collect(const struct sl_key_record *r, const struct sl_key_usage *u, void *arg)
{
    struct collected *c = arg;
    cr_assert_lt(c->n, 8);
    c->rec[c->n] = *r;
    c->usage[c->n++] = *u;
    return 0;
}

static void secret_ok(const char *secret, const struct sl_key_record *r)
{
    cr_assert_eq(strlen(secret), SL_KEY_SECRET_LEN, "%s", secret);
    cr_assert_eq(strncmp(secret, "sk-sl-", 6), 0);
    cr_assert_eq(
        strspn(secret + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 40);
    cr_assert_eq(strncmp(secret, r->prefix, SL_KEY_PREFIX_LEN), 0);
    cr_assert_eq(strlen(r->prefix), SL_KEY_PREFIX_LEN);
    unsigned char d[32];
    unsigned n = 32;
    EVP_Digest(secret, strlen(secret), d, &n, EVP_sha256(), NULL);
    cr_assert_eq(memcmp(d, r->sha256, 32), 0, "the stored hash is not the secret's");
}

/* The whole life of keys, on the database at url. */
static void scenario(const char *url)
{
    struct sl_keydb *db = open_db(url, SL_KEYDB_MIGRATE | SL_KEYDB_CREATE);
    char err[600], secret[SL_KEY_SECRET_LEN + 1], secret2[SL_KEY_SECRET_LEN + 1];

    /* create */
    struct sl_key_record a, b, got;
    sl_key_record_init(&a);
    strcpy(a.name, "alice");
    strcpy(a.team, "ml");
    strcpy(a.models, "gpt-4o*,claude-*");
    a.rpm = 60;
    a.tpm = 1000;
    a.max_parallel = 3;
    a.budget_usd = 2.5;
    a.period = SL_KEY_DAILY;
    a.expires_us = 4102444800ll * S;
    strcpy(a.metadata, "{\"owner\":\"bob\"}");
    int64_t before = sl_wall_us();
    cr_assert_eq(sl_key_create(db, &a, secret, err, sizeof(err)), 0, "%s", err);
    secret_ok(secret, &a);
    cr_assert_eq(strlen(a.id), SL_KEY_ID_LEN);
    cr_assert_eq(strncmp(a.id, "key_", 4), 0);
    cr_assert_eq(strspn(a.id + 4, "0123456789abcdef"), 16);
    cr_assert(a.created_us >= before && a.created_us == a.updated_us);
    cr_assert_eq(a.rpm, 60);
    cr_assert_eq(a.period, SL_KEY_DAILY);
    cr_assert_eq(a.expires_us, 4102444800ll * S);

    sl_key_record_init(&b);
    strcpy(b.name, "batch");
    cr_assert_eq(sl_key_create(db, &b, secret2, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_neq(secret, secret2);
    cr_assert_str_neq(a.id, b.id);
    cr_assert_eq(b.budget_usd, 0);
    cr_assert_eq(b.expires_us, 0);
    cr_assert_str_eq(b.metadata, "{}");
    cr_assert_eq(b.enabled, 1);

    /* a taken name */
    struct sl_key_record dup;
    sl_key_record_init(&dup);
    strcpy(dup.name, "alice");
    cr_assert_eq(sl_key_create(db, &dup, secret2, err, sizeof(err)), UV_EEXIST);
    cr_assert_str_eq(err, "a key named 'alice' already exists");
    strcpy(dup.name, "");
    cr_assert_eq(sl_key_create(db, &dup, secret2, err, sizeof(err)), UV_EINVAL);

    /* get by id, by name; an unknown key */
    cr_assert_eq(sl_key_get(db, a.id, &got, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(got.name, "alice");
    cr_assert_eq(sl_key_get(db, "alice", &got, err, sizeof(err)), 0);
    cr_assert_str_eq(got.id, a.id);
    cr_assert_str_eq(got.models, "gpt-4o*,claude-*");
    cr_assert_eq(got.budget_usd, 2.5);
    cr_assert_eq(memcmp(got.sha256, a.sha256, 32), 0);
    cr_assert_str_eq(got.metadata, "{\"owner\":\"bob\"}"); /* as given, on both */
    cr_assert_eq(sl_key_get(db, "nobody", &got, err, sizeof(err)), UV_ENOENT);
    cr_assert_str_eq(err, "no key 'nobody'");

    /* update: only the fields of the mask */
    struct sl_key_record f;
    sl_key_record_init(&f);
    f.rpm = 120;
    f.enabled = 0;
    strcpy(f.team, "should not change");
    cr_assert_eq(
        sl_key_update(db, "alice", &f, SL_KEY_F_RPM | SL_KEY_F_ENABLED, &got, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(got.rpm, 120);
    cr_assert_eq(got.enabled, 0);
    cr_assert_str_eq(got.team, "ml");
    cr_assert_eq(got.tpm, 1000);
    cr_assert_eq(got.budget_usd, 2.5);
    cr_assert(got.updated_us >= a.updated_us);
    f.enabled = 1;
    f.expires_us = 0;
    cr_assert_eq(
        sl_key_update(db, a.id, &f, SL_KEY_F_ENABLED | SL_KEY_F_EXPIRES, &got, err, sizeof(err)),
        0);
    cr_assert_eq(got.enabled, 1);
    cr_assert_eq(got.expires_us, 0);
    strcpy(f.name, "batch");
    cr_assert_eq(sl_key_update(db, a.id, &f, SL_KEY_F_NAME, &got, err, sizeof(err)), UV_EEXIST);
    cr_assert_eq(sl_key_update(db, "nobody", &f, SL_KEY_F_RPM, &got, err, sizeof(err)), UV_ENOENT);

    /* rotate: a new secret, the old hash gone */
    cr_assert_eq(sl_key_rotate(db, "alice", &got, secret2, err, sizeof(err)), 0, "%s", err);
    secret_ok(secret2, &got);
    cr_assert_neq(memcmp(got.sha256, a.sha256, 32), 0);
    cr_assert_str_eq(got.id, a.id);

    /* spend: batches add up, per period */
    int64_t now = 1798761600ll * S + 3600 * S; /* 2027-01-01T01:00:00Z */
    int64_t today = sl_key_period_start(SL_KEY_DAILY, now);
    struct sl_key_spend sp[3] = {
        {.period_start_us = today,
         .usd = 0.25,
         .requests = 1,
         .prompt_tokens = 10,
         .completion_tokens = 5},
        {.period_start_us = today - DAY, .usd = 9, .requests = 7}, /* yesterday */
        {.period_start_us = 0, .usd = 1.5, .requests = 2, .prompt_tokens = 100},
    };
    strcpy(sp[0].key_id, a.id);
    strcpy(sp[1].key_id, a.id);
    strcpy(sp[2].key_id, b.id);
    cr_assert_eq(sl_key_add_spend(db, sp, 3, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sl_key_add_spend(db, sp, 1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sl_key_add_spend(db, sp + 2, 1, err, sizeof(err)), 0, "%s", err);
    struct sl_key_usage u;
    cr_assert_eq(sl_key_usage(db, "alice", now, &got, &u, err, sizeof(err)), 0, "%s", err);
    cr_assert_float_eq(u.usd, 0.5, 1e-12);
    cr_assert_eq(u.requests, 2);
    cr_assert_eq(u.prompt_tokens, 20);
    cr_assert_eq(u.completion_tokens, 10);
    cr_assert_eq(u.period_start_us, today);
    cr_assert_eq(u.period_end_us, today + DAY);
    /* a day later the period is new and empty */
    cr_assert_eq(sl_key_usage(db, a.id, now + DAY, &got, &u, err, sizeof(err)), 0);
    cr_assert_eq(u.usd, 0);
    cr_assert_eq(u.requests, 0);

    /* load_all: every key with its current period's spend */
    struct collected c = {0};
    cr_assert_eq(sl_key_load_all(db, now, collect, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.n, 2);
    int ia = strcmp(c.rec[0].id, a.id) == 0 ? 0 : 1;
    cr_assert_str_eq(c.rec[ia].name, "alice");
    cr_assert_float_eq(c.usage[ia].usd, 0.5, 1e-12);
    cr_assert_float_eq(c.usage[1 - ia].usd, 3.0, 1e-12); /* "total" */
    cr_assert_eq(c.usage[1 - ia].requests, 4);
    cr_assert_eq(c.usage[1 - ia].period_start_us, 0);

    /* revoke: final */
    cr_assert_eq(sl_key_revoke(db, "alice", &got, err, sizeof(err)), 0, "%s", err);
    cr_assert(got.revoked_us > 0);
    int64_t revoked = got.revoked_us;
    cr_assert_eq(sl_key_revoke(db, "alice", &got, err, sizeof(err)), 0);
    cr_assert_eq(got.revoked_us, revoked);
    f.enabled = 1;
    cr_assert_eq(sl_key_update(db, "alice", &f, SL_KEY_F_ENABLED, &got, err, sizeof(err)),
                 UV_EPERM);
    cr_assert_str_eq(err, "key 'alice' is revoked");
    cr_assert_eq(sl_key_rotate(db, "alice", &got, secret2, err, sizeof(err)), UV_EPERM);
    cr_assert_eq(sl_key_revoke(db, "nobody", &got, err, sizeof(err)), UV_ENOENT);
    c.n = 0;
    cr_assert_eq(sl_key_load_all(db, now, collect, &c, err, sizeof(err)), 0);
    cr_assert_eq(c.n, 2); /* revoked keys are listed too */
    sl_keydb_close(db);

    /* a second handle sees the same (and opening without MIGRATE is fine now) */
    db = open_db(url, 0);
    cr_assert_eq(sl_key_get(db, a.id, &got, err, sizeof(err)), 0);
    cr_assert_eq(got.revoked_us, revoked);
    sl_keydb_close(db);
}

/* Two handles (as two gateway instances) add spend to the same key and
 * period at once: every addition counts, none overwrites another. */
struct adder {
    const char *url;
    char key_id[SL_KEY_ID_LEN + 4];
    int rc;
};

static void *add_many(void *arg)
{
    struct adder *a = arg;
    struct sl_keydb *db;
    char err[600];
    a->rc = sl_keydb_open(a->url, 0, &db, err, sizeof(err));
    struct sl_key_spend sp = {.period_start_us = 0, .usd = 0.5, .requests = 1, .prompt_tokens = 3};
    strcpy(sp.key_id, a->key_id);
    for (int i = 0; a->rc == 0 && i < 100; i++)
        a->rc = sl_key_add_spend(db, &sp, 1, err, sizeof(err));
    if (a->rc != 0)
        fprintf(stderr, "add_spend: %s\n", err);
    sl_keydb_close(db);
    return NULL;
}

static void concurrent_spend(const char *url)
{
    struct sl_keydb *db = open_db(url, SL_KEYDB_MIGRATE | SL_KEYDB_CREATE);
    struct sl_key_record k;
    char err[600], secret[SL_KEY_SECRET_LEN + 1];
    sl_key_record_init(&k);
    strcpy(k.name, "shared");
    cr_assert_eq(sl_key_create(db, &k, secret, err, sizeof(err)), 0, "%s", err);
    struct adder a[2] = {{.url = url}, {.url = url}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        strcpy(a[i].key_id, k.id);
        cr_assert_eq(pthread_create(&t[i], NULL, add_many, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].rc, 0);
    }
    struct sl_key_usage u;
    cr_assert_eq(sl_key_usage(db, "shared", sl_wall_us(), &k, &u, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(u.requests, 200);
    cr_assert_eq(u.prompt_tokens, 600);
    cr_assert_float_eq(u.usd, 100.0, 1e-9);
    sl_keydb_close(db);
}

Test(keys_sqlite, concurrent_spend_adds_up)
{
    concurrent_spend(lite_url);
}

Test(keys_pg, concurrent_spend_adds_up)
{
    pgt_admin_url(); /* fails, as every PostgreSQL test does, without a cluster */
    concurrent_spend(pgt_url);
}

Test(keys_sqlite, the_life_of_keys)
{
    scenario(lite_url);
    /* only the hash is in the file */
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(lite_url, &h), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(
        sqlite3_prepare_v2(h, "SELECT length(secret_sha256) FROM gateway_keys", -1, &st, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        cr_assert_eq(sqlite3_column_int(st, 0), 64);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

Test(keys_sqlite, an_older_schema_is_refused_unless_migrating)
{
    char err[600];
    struct sl_keydb *db;
    /* no file: not created without CREATE */
    cr_assert_eq(sl_keydb_open(lite_url, SL_KEYDB_MIGRATE, &db, err, sizeof(err)), UV_EIO);
    cr_assert_null(db);
    cr_assert_not_null(strstr(err, "cannot open database"), "%s", err);
    /* version 3 */
    sqlite3 *h;
    int applied;
    cr_assert_eq(sqlite3_open(lite_url, &h), SQLITE_OK);
    cr_assert_eq(sl_migrate_sqlite_to(h, SL_MIGRATION_KEYS - 1, &applied, err, sizeof(err)),
                 SQLITE_OK);
    cr_assert_eq(sl_keydb_open(lite_url, 0, &db, err, sizeof(err)), UV_EIO);
    cr_assert_not_null(strstr(err, "older than sluice keys need"), "%s", err);
    cr_assert_not_null(strstr(err, "run: sluice migrate up --db"), "%s", err);
    cr_assert_null(strchr(err, '\n'));
    db = open_db(lite_url, SL_KEYDB_MIGRATE);
    sl_keydb_close(db);
    /* newer than this binary */
    cr_assert_eq(
        sqlite3_exec(h, "INSERT INTO schema_version VALUES (99, 'future', 0)", NULL, NULL, NULL),
        SQLITE_OK);
    cr_assert_eq(sl_keydb_open(lite_url, SL_KEYDB_MIGRATE, &db, err, sizeof(err)), UV_EIO);
    cr_assert_not_null(strstr(err, "newer than this sluice"), "%s", err);
    sqlite3_close(h);
}

Test(keys_pg, the_life_of_keys)
{
    pgt_admin_url(); /* fails, as every PostgreSQL test does, without a cluster */
    scenario(pgt_url);
    cr_assert_eq(pgt_int(pgt_url, "SELECT count(*) FROM gateway_keys WHERE "
                                  "secret_sha256 ~ '^[0-9a-f]{64}$'"),
                 2);
    cr_assert_eq(pgt_int(pgt_url, "SELECT max(version) FROM schema_version"),
                 sl_migrations_latest());
}

Test(keys_pg, an_older_schema_is_refused_unless_migrating_and_the_password_is_masked)
{
    pgt_admin_url(); /* fails, as every PostgreSQL test does, without a cluster */
    char err[600];
    struct sl_keydb *db;
    cr_assert_eq(sl_keydb_open(pgt_url, 0, &db, err, sizeof(err)), UV_EIO);
    cr_assert_not_null(strstr(err, "schema version 0, older than sluice keys need"), "%s", err);
    cr_assert_not_null(strstr(err, "--db URL"), "%s", err);
    cr_assert_null(strstr(err, pgt_password()), "%s", err);
    db = open_db(pgt_url, SL_KEYDB_MIGRATE);
    sl_keydb_close(db);
    char bad[600];
    pgt_url_for(bad, sizeof(bad), "no_such_db_for_keys", NULL);
    cr_assert_neq(sl_keydb_open(bad, 0, &db, err, sizeof(err)), 0);
    cr_assert_null(strstr(err, pgt_password()), "%s", err);
    cr_assert_null(strchr(err, '\n'), "%s", err);
}

/* The gateway's connection is made again after the server dropped it (a
 * restart): the poll fails once, then works. */
Test(keys_pg, a_dropped_connection_is_made_again)
{
    pgt_admin_url(); /* fails, as every PostgreSQL test does, without a cluster */
    struct sl_keydb *db = open_db(pgt_url, SL_KEYDB_MIGRATE);
    char err[600];
    struct collected c = {0};
    int64_t now = sl_wall_us();
    cr_assert_eq(sl_keydb_reconnect(db), 0, "up: nothing to do");
    cr_assert_eq(sl_key_load_all(db, now, collect, &c, err, sizeof(err)), 0, "%s", err);
    /* every other connection to this database is ended by the server */
    pgt_int(pgt_url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    c.n = 0;
    cr_assert_neq(sl_key_load_all(db, now, collect, &c, err, sizeof(err)), 0,
                  "the dropped connection fails");
    cr_assert_eq(sl_keydb_reconnect(db), 0);
    cr_assert_eq(sl_key_load_all(db, now, collect, &c, err, sizeof(err)), 0, "%s", err);
    sl_keydb_close(db);
}
