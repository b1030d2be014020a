/* A growable byte buffer with a hard maximum size (curl docs/internals/
 * DYNBUF.md): it grows on demand, never past `max`, and says UV_ENOBUFS
 * instead. The content is always NUL-terminated (the NUL is not counted in
 * `len` but is counted against `max`), so text can be handed to C string
 * functions. Embedded: sl_buf_init / sl_buf_release. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>

struct sl_buf {
    char *ptr; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* bytes of content allowed, NUL excluded */
};

void sl_buf_init(struct sl_buf *buf, size_t max);
void sl_buf_release(struct sl_buf *buf);

/* Empties the buffer, keeping its memory for reuse. */
static inline void sl_buf_reset(struct sl_buf *buf)
{
    buf->len = 0;
    if (buf->ptr)
        buf->ptr[0] = '\0';
}

/* Makes room for `extra` more bytes. Returns 0, UV_ENOBUFS when len + extra
 * would pass max (the buffer is unchanged), or UV_ENOMEM. */
int sl_buf_reserve(struct sl_buf *buf, size_t extra);
int sl_buf_append(struct sl_buf *buf, const void *data, size_t len);

/* Hands the bytes over (the caller frees them; NULL when nothing was
 * appended) with their length in *len; the buffer is left empty. */
char *sl_buf_take(struct sl_buf *buf, size_t *len);

/* Marks `len` bytes written directly after sl_buf_reserve(): ptr + len. */
void sl_buf_commit(struct sl_buf *buf, size_t len);

#endif
