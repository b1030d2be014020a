/* Backend-neutral parts of the store: URL parsing, names, defaults. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

const char *sl_req_status_name(enum sl_req_status status)
{
    switch (status) {
    case SL_REQ_SUCCEEDED:
        return "succeeded";
    case SL_REQ_FAILED:
        return "failed";
    case SL_REQ_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

void sl_store_options_default(struct sl_store_options *opts)
{
    *opts = (struct sl_store_options){
        .batch_rows = 4096,
        .max_batches = 32,
        .flush_ms = 100,
        .sync = SL_SYNC_FULL,
        .create = 1,
        .migrate = 1,
    };
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int sl_store_parse_url(const char *url, char *path, size_t path_size, char *err, size_t err_size)
{
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        snprintf(err, err_size,
                 "PostgreSQL databases are not supported yet; use a SQLite path "
                 "(sqlite:PATH or PATH)");
        return UV_ENOTSUP;
    }
    const char *p = url;
    if (has_prefix(p, "sqlite://"))
        p += strlen("sqlite://");
    else if (has_prefix(p, "sqlite:"))
        p += strlen("sqlite:");
    else if (strstr(p, "://") != NULL) {
        snprintf(err, err_size, "unsupported database URL scheme in '%s' (use sqlite:PATH)", url);
        return UV_EINVAL;
    }
    if (*p == '\0') {
        snprintf(err, err_size, "empty database path in '%s'", url);
        return UV_EINVAL;
    }
    if (strlen(p) >= path_size) {
        snprintf(err, err_size, "database path too long");
        return UV_EINVAL;
    }
    strcpy(path, p);
    return 0;
}
