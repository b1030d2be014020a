/* Virtual keys in the database (tables gateway_keys and gateway_key_spend,
 * migration SL_MIGRATION_KEYS), on SQLite or PostgreSQL.
 *
 * Design
 *  - Synchronous: every call blocks until the database answered. The CLI
 *    calls it directly, the gateway from a thread-pool thread, never from
 *    the loop. A handle is one connection: use it from one thread at a time.
 *  - A key's secret ("sk-sl-" + 40 base64url characters from getrandom)
 *    exists only in the answer of create and rotate; the database keeps its
 *    SHA-256 (hex) and its first SL_KEY_PREFIX_LEN characters for display.
 *  - Revoking is final (revoked_us is set once and never cleared; a revoked
 *    key cannot be updated or rotated); disabling is not (enabled flips).
 *  - Spend is kept per key and budget period, keyed by the period's start
 *    in UTC (sl_key_period_start); add_spend adds a batch in one
 *    transaction by upsert, so concurrent instances add, never overwrite.
 *  - load_all reads every key with its current period's spend in one query
 *    (a LEFT JOIN): the gateway's poll, twice a second.
 *
 * Calls return 0 or a negative libuv error code: UV_ENOENT (no such key),
 * UV_EEXIST (the name is taken), UV_EINVAL (a bad field), UV_EPERM (the key
 * is revoked), UV_EIO (the database failed), UV_ENOMEM; err receives one
 * line saying why (a PostgreSQL password never appears in it). */
#ifndef SL_KEYS_H
#define SL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "store/key_record.h"

struct sl_keydb;

enum {
    SL_KEYDB_MIGRATE = 1, /* apply pending migrations, as serve does */
    SL_KEYDB_CREATE = 2,  /* SQLite: create the file if missing (with MIGRATE) */
};

/* Opens url: a SQLite path (PATH, sqlite:PATH, sqlite://PATH) or a
 * PostgreSQL URL (postgres://, postgresql://). A schema older than the
 * keys migration is migrated with SL_KEYDB_MIGRATE, else refused with a
 * line that says to run `sluice migrate up`; a schema newer than this
 * binary knows is refused. On failure *out is NULL. */
int sl_keydb_open(const char *url, unsigned flags, struct sl_keydb **out, char *err,
                  size_t err_size);
void sl_keydb_close(struct sl_keydb *db);
/* PostgreSQL: a connection that broke (the server restarted) is made
 * again; 0 when it is up (always for SQLite), UV_EIO if not yet. */
int sl_keydb_reconnect(struct sl_keydb *db);
/* The SQLite path, or the URL with its password masked. */
const char *sl_keydb_path(const struct sl_keydb *db);

/* Creates a key from rec's name, team, models, limits, budget, period,
 * expiry, metadata and enabled (sl_key_record_init gives the defaults).
 * rec then holds the stored record (id, prefix, times); secret
 * (SL_KEY_SECRET_LEN + 1 bytes) the secret, which nothing can show again. */
int sl_key_create(struct sl_keydb *db, struct sl_key_record *rec, char *secret, char *err,
                  size_t err_size);

/* The key whose id, or else whose name, is id_or_name. */
int sl_key_get(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out, char *err,
               size_t err_size);

/* Changes the fields of mask (SL_KEY_F_*) to their values in fields;
 * updated_us moves to now. out (may be NULL) receives the stored record. */
int sl_key_update(struct sl_keydb *db, const char *id_or_name, const struct sl_key_record *fields,
                  unsigned mask, struct sl_key_record *out, char *err, size_t err_size);

/* A new secret (into secret, SL_KEY_SECRET_LEN + 1 bytes); the old one
 * stops working at the gateway's next poll. */
int sl_key_rotate(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out,
                  char *secret, char *err, size_t err_size);

/* Revokes the key for good (a second revoke changes nothing). */
int sl_key_revoke(struct sl_keydb *db, const char *id_or_name, struct sl_key_record *out, char *err,
                  size_t err_size);

/* The key and its spend in the budget period containing now_us. */
int sl_key_usage(struct sl_keydb *db, const char *id_or_name, int64_t now_us,
                 struct sl_key_record *rec, struct sl_key_usage *usage, char *err, size_t err_size);

/* Spend to add to one key in one period. */
struct sl_key_spend {
    char key_id[SL_KEY_ID_LEN + 4];
    int64_t period_start_us;
    double usd;
    uint64_t requests, prompt_tokens, completion_tokens;
};

/* Adds n spends in one transaction (all or none). */
int sl_key_add_spend(struct sl_keydb *db, const struct sl_key_spend *spends, size_t n, char *err,
                     size_t err_size);

/* Called per key; a non-zero return stops the walk (and is returned). */
typedef int (*sl_key_each_cb)(const struct sl_key_record *rec, const struct sl_key_usage *usage,
                              void *arg);

/* Every key (revoked ones too), oldest first, each with its spend in the
 * period containing now_us: one query. The list of `sluice keys list` and
 * the gateway's poll. */
int sl_key_load_all(struct sl_keydb *db, int64_t now_us, sl_key_each_cb cb, void *arg, char *err,
                    size_t err_size);

#endif
