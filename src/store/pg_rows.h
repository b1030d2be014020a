/* Rows of the requests table in PostgreSQL's binary COPY format.
 *
 * A batch becomes one self-contained COPY stream (signature, header,
 * tuples, trailer), the same bytes whether they go to the server or into
 * the spool file, so a spooled batch is replayed without decoding.
 * Binary avoids formatting timestamps as text on the loop and parsing them
 * on the server. */
#ifndef SL_PG_ROWS_H
#define SL_PG_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The column list the stream carries, for COPY ... (cols) FROM STDIN. */
#define SL_PG_COPY_COLUMNS_BARE                                                                    \
    "run_id, request_id, created_at, started_at, finished_at, attempts, status, error, metadata"
#define SL_PG_COPY_COLUMNS "(" SL_PG_COPY_COLUMNS_BARE ")"

/* The largest encoding of n rows. */
size_t sl_pg_rows_max_size(unsigned n);

/* Encodes rows into buf (at least sl_pg_rows_max_size(n) bytes); returns
 * the length. */
size_t sl_pg_rows_encode(char *buf, int64_t run_id, const struct sl_record *rows, unsigned n);

#endif
