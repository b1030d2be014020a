/* PostgreSQL connection URLs: validation and masking.
 *
 * Secrets never reach a message: every text that names a database goes
 * through sl_pg_url_mask() (user:PASSWORD@ and password=... become ***),
 * and every libpq message through sl_pg_mask_secret() in case it quotes
 * the password. */
#ifndef SL_PG_URL_H
#define SL_PG_URL_H

#include <stddef.h>

/* 0 if libpq accepts the URL; else UV_EINVAL with a one-line reason. */
int sl_pg_url_check(const char *url, char *err, size_t err_size);

/* Copies url into out with any password replaced by "***". */
void sl_pg_url_mask(const char *url, char *out, size_t out_size);

/* Replaces each occurrence of secret (when at least 3 characters) in msg,
 * in place, with "***"; also strips a trailing newline (libpq adds one). */
void sl_pg_mask_secret(char *msg, size_t size, const char *secret);

#endif
