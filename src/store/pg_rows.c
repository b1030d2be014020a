#include "store/pg_rows.h"

#include <string.h>

#include "store/store_impl.h"

/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_US INT64_C(946684800000000)
#define ROW_MAX     (200 + SL_STORE_METADATA_MAX)

static char *put16(char *p, uint16_t v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
    return p + 2;
}

static char *put32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
    return p + 4;
}

static char *put64(char *p, uint64_t v)
{
    p = put32(p, (uint32_t)(v >> 32));
    return put32(p, (uint32_t)v);
}

static char *field64(char *p, uint64_t v)
{
    p = put32(p, 8);
    return put64(p, v);
}

static char *field_text(char *p, const char *s)
{
    size_t n = strlen(s);
    p = put32(p, (uint32_t)n);
    memcpy(p, s, n);
    return p + n;
}

size_t sl_pg_rows_max_size(unsigned n)
{
    return 19 + (size_t)n * ROW_MAX + 2;
}

size_t sl_pg_rows_encode(char *buf, int64_t run_id, const struct sl_record *rows, unsigned n)
{
    static const char signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', 0};
    char *p = buf;
    memcpy(p, signature, sizeof(signature));
    p += sizeof(signature);
    p = put32(p, 0); /* flags */
    p = put32(p, 0); /* header extension */
    for (unsigned i = 0; i < n; i++) {
        const struct sl_record *r = &rows[i];
        p = put16(p, 9);
        p = field64(p, (uint64_t)run_id);
        p = field64(p, r->request_id);
        p = field64(p, (uint64_t)(r->created_us - PG_EPOCH_US));
        if (r->started_us)
            p = field64(p, (uint64_t)(r->started_us - PG_EPOCH_US));
        else
            p = put32(p, 0xffffffffu); /* NULL */
        p = field64(p, (uint64_t)(r->finished_us - PG_EPOCH_US));
        p = put32(p, 4);
        p = put32(p, r->attempts);
        p = field_text(p, sl_req_status_name(r->status));
        if (r->error != SL_OK)
            p = field_text(p, sl_err_name(r->error));
        else
            p = put32(p, 0xffffffffu);
        /* jsonb: a version byte, then the JSON text */
        char *len_at = p;
        p += 4;
        *p++ = 1;
        int len = sl__format_metadata(p, SL_STORE_METADATA_MAX, r);
        p += len;
        put32(len_at, (uint32_t)(len + 1));
    }
    p = put16(p, 0xffff); /* trailer */
    return (size_t)(p - buf);
}
