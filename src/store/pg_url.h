/* PostgreSQL connection URLs: validation and masking.
 *
 * Secrets never reach a message: every text that names a database goes
 * through sl_pg_url_mask() (user:PASSWORD@ and password=... become ***),
 * and every libpq message through sl_pg_mask_secret() in case it quotes
 * the password. */
#ifndef SL_PG_URL_H
#define SL_PG_URL_H

#include <stddef.h>

/* sluice's objects (tables, views, the schema version) live in one schema
 * of the database, named by the URL's query parameter schema=NAME: a
 * sluice-only parameter, removed before the URL reaches libpq. */
#define SL_PG_SCHEMA_DEFAULT "sluice"
#define SL_PG_SCHEMA_MAX     63

/* Takes schema=NAME off url: *libpq_url (malloc'd) receives the URL
 * without it, schema (SL_PG_SCHEMA_MAX + 1 bytes) the name, or
 * SL_PG_SCHEMA_DEFAULT. A name is lowercase letters, digits and '_', not
 * starting with a digit or "pg_" (so it needs no quoting anywhere). 0,
 * UV_EINVAL with a one-line reason in err, or UV_ENOMEM. */
int sl_pg_url_split(const char *url, char **libpq_url, char *schema, char *err, size_t err_size);

/* 0 if the schema is valid and libpq accepts the rest of the URL; else
 * UV_EINVAL with a one-line reason. */
int sl_pg_url_check(const char *url, char *err, size_t err_size);

/* Copies url into out with any password replaced by "***". */
void sl_pg_url_mask(const char *url, char *out, size_t out_size);

/* Replaces each occurrence of secret (when at least 3 characters) in msg,
 * in place, with "***"; also strips a trailing newline (libpq adds one). */
void sl_pg_mask_secret(char *msg, size_t size, const char *secret);

#endif
