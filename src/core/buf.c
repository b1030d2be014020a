#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

void sl_buf_init(struct sl_buf *buf, size_t max)
{
    *buf = (struct sl_buf){.max = max};
}

void sl_buf_release(struct sl_buf *buf)
{
    free(buf->ptr);
    *buf = (struct sl_buf){.max = buf->max};
}

int sl_buf_reserve(struct sl_buf *buf, size_t extra)
{
    if (extra > buf->max - buf->len)
        return UV_ENOBUFS;
    size_t need = buf->len + extra + 1; /* + NUL */
    if (need <= buf->cap)
        return 0;
    /* Doubling keeps appends amortised O(1); the cap keeps it bounded. */
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > buf->max + 1)
        cap = buf->max + 1;
    char *ptr = realloc(buf->ptr, cap);
    if (ptr == NULL)
        return UV_ENOMEM;
    buf->ptr = ptr;
    buf->cap = cap;
    return 0;
}

void sl_buf_commit(struct sl_buf *buf, size_t len)
{
    buf->len += len;
    buf->ptr[buf->len] = '\0';
}

int sl_buf_append(struct sl_buf *buf, const void *data, size_t len)
{
    int rc = sl_buf_reserve(buf, len);
    if (rc != 0)
        return rc;
    if (len) /* memcpy(dst, NULL, 0) is undefined */
        memcpy(buf->ptr + buf->len, data, len);
    sl_buf_commit(buf, len);
    return 0;
}

char *sl_buf_take(struct sl_buf *buf, size_t *len)
{
    char *p = buf->ptr;
    *len = buf->len;
    buf->ptr = NULL;
    buf->len = buf->cap = 0;
    return p;
}
