/* Each spool operation runs whole on the thread pool (uv_queue_work), one
 * at a time: the blocking calls below never run on the loop thread, and
 * while an operation is in flight only it touches the file descriptors. */
#include "store/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SPOOL_MAGIC 0x50534c53u /* "SLSP" */

enum op_kind { OP_START, OP_APPEND, OP_READ, OP_REMOVE, OP_CLOSE };

struct spool_op {
    struct spool_op *next;
    uv_work_t work;
    struct sl_spool *sp;
    enum op_kind kind;
    const char *payload;
    size_t len;
    uint32_t rows;
    sl_spool_cb cb;
    sl_spool_read_cb read_cb;
    void *arg;
    int status;
    uint64_t offset, size;
    char err[256];
};

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

void sl_spool_init(struct sl_spool *sp, uv_loop_t *loop, const char *path)
{
    memset(sp, 0, sizeof(*sp));
    sp->loop = loop;
    snprintf(sp->path, sizeof(sp->path), "%s", path);
    sp->fd = -1;
    sp->tail = &sp->head;
}

static int sys_error(struct spool_op *op, const char *what)
{
    int e = errno;
    snprintf(op->err, sizeof(op->err), "%s spool %s: %s", what, op->sp->path, strerror(e));
    return -e;
}

/* Header and payload in one writev: with O_APPEND a frame lands whole at
 * the end of the file (short writes are continued, but do not happen for
 * regular files in practice). */
static int write_frame(int fd, const uint32_t head[4], const char *p, size_t n)
{
    struct iovec iov[2] = {{(void *)head, 16}, {(void *)p, n}};
    int cnt = 2;
    struct iovec *v = iov;
    while (cnt > 0) {
        ssize_t w = writev(fd, v, cnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        while (cnt > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int read_at(int fd, char *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int)(got == n);
}

static void run_op(uv_work_t *w)
{
    struct spool_op *op = w->data;
    struct sl_spool *sp = op->sp;
    struct stat st;
    switch (op->kind) {
    case OP_START:
        sp->fd = open(sp->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sp->fd < 0) {
            op->status = sys_error(op, "cannot open the");
            break;
        }
        if (flock(sp->fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            snprintf(op->err, sizeof(op->err),
                     e == EWOULDBLOCK ? "the spool %s is in use by another sluice process; give "
                                        "each process its own --spool"
                                      : "cannot lock the spool %s",
                     sp->path);
            close(sp->fd);
            sp->fd = -1;
            op->status = e == EWOULDBLOCK ? UV_EBUSY : -e;
            break;
        }
        op->size = fstat(sp->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        break;
    case OP_APPEND: {
        uint32_t head[4] = {SPOOL_MAGIC, (uint32_t)op->len, op->rows, fnv1a(op->payload, op->len)};
        if (write_frame(sp->fd, head, op->payload, op->len) != 0 || fdatasync(sp->fd) != 0)
            op->status = sys_error(op, "cannot write to the");
        break;
    }
    case OP_READ: {
        uint32_t head[4];
        int r = read_at(sp->fd, (char *)head, sizeof(head), op->offset);
        if (r < 0) {
            op->status = sys_error(op, "cannot read the");
            break;
        }
        if (r == 0 || head[0] != SPOOL_MAGIC || head[1] > SL_SPOOL_MAX_FRAME) {
            op->status = UV_EOF; /* the end, or a torn frame */
            break;
        }
        if (head[1] > sp->rbuf_cap || sp->rbuf == NULL) { /* an empty frame too has a payload */
            char *b = realloc(sp->rbuf, head[1] ? head[1] : 1);
            if (b == NULL) {
                op->status = UV_ENOMEM;
                break;
            }
            sp->rbuf = b;
            sp->rbuf_cap = head[1];
        }
        r = read_at(sp->fd, sp->rbuf, head[1], op->offset + sizeof(head));
        if (r < 0) {
            op->status = sys_error(op, "cannot read the");
            break;
        }
        if (r == 0 || fnv1a(sp->rbuf, head[1]) != head[3]) {
            op->status = UV_EOF;
            break;
        }
        op->len = head[1];
        op->rows = head[2];
        op->size = op->offset + sizeof(head) + head[1];
        break;
    }
    case OP_REMOVE:
        /* emptied, not unlinked: the lock stays ours (unlinked at close) */
        if (ftruncate(sp->fd, 0) != 0 || fdatasync(sp->fd) != 0)
            op->status = sys_error(op, "cannot empty the");
        break;
    case OP_CLOSE:
        if (sp->fd >= 0) {
            if (fstat(sp->fd, &st) == 0 && st.st_size == 0)
                unlink(sp->path); /* while still holding the lock */
            close(sp->fd);
        }
        sp->fd = -1;
        break;
    }
}

static void next_op(struct sl_spool *sp);

static void after_op(uv_work_t *w, int status)
{
    struct spool_op *op = w->data;
    struct sl_spool *sp = op->sp;
    if (status != 0 && op->status == 0)
        op->status = status;
    if (op->status != 0 && op->status != UV_EOF)
        snprintf(sp->err, sizeof(sp->err), "%s", op->err[0] ? op->err : uv_strerror(op->status));
    sp->head = op->next;
    if (sp->head == NULL)
        sp->tail = &sp->head;
    sp->busy = 0;
    switch (op->kind) {
    case OP_START:
        sp->size = op->size;
        break;
    case OP_APPEND:
        if (op->status == 0)
            sp->size += 16 + op->len;
        break;
    case OP_READ:
        if (op->status == 0)
            sp->read_off = op->size;
        break;
    case OP_REMOVE:
        if (op->status == 0)
            sp->size = sp->read_off = sp->consumed = 0;
        break;
    case OP_CLOSE:
        free(sp->rbuf);
        sp->rbuf = NULL;
        sp->rbuf_cap = 0;
        break;
    }
    /* start the next operation first: the callback may free the spool's
     * owner (after a close), so nothing touches sp after it */
    struct spool_op done = *op;
    free(op);
    const char *rbuf = sp->rbuf;
    next_op(sp);
    if (done.kind == OP_READ)
        done.read_cb(sp, done.status, done.status == 0 ? rbuf : NULL, done.len, done.rows,
                     done.arg);
    else if (done.cb)
        done.cb(sp, done.status, done.arg);
}

static void next_op(struct sl_spool *sp)
{
    if (sp->busy || sp->head == NULL)
        return;
    struct spool_op *first = sp->head;
    if (sp->fd < 0 && first->kind != OP_START && first->kind != OP_CLOSE) {
        /* not open (the start failed): every use fails the same way */
        sp->busy = 1;
        first->status = UV_EBADF;
        snprintf(first->err, sizeof(first->err), "the spool %s is not open", sp->path);
        first->work.data = first;
        after_op(&first->work, 0);
        return;
    }
    sp->busy = 1;
    struct spool_op *op = sp->head;
    if (op->kind == OP_READ)
        op->offset = sp->read_off;
    op->work.data = op;
    int rc = uv_queue_work(sp->loop, &op->work, run_op, after_op);
    if (rc != 0) {
        op->status = rc;
        after_op(&op->work, rc);
    }
}

static void submit(struct sl_spool *sp, enum op_kind kind, sl_spool_cb cb, sl_spool_read_cb rcb,
                   void *arg, const char *payload, size_t len, uint32_t rows)
{
    struct spool_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        fprintf(stderr, "sluice: out of memory\n");
        abort();
    }
    op->sp = sp;
    op->kind = kind;
    op->cb = cb;
    op->read_cb = rcb;
    op->arg = arg;
    op->payload = payload;
    op->len = len;
    op->rows = rows;
    *sp->tail = op;
    sp->tail = &op->next;
    next_op(sp);
}

void sl_spool_start(struct sl_spool *sp, sl_spool_cb cb, void *arg)
{
    submit(sp, OP_START, cb, NULL, arg, NULL, 0, 0);
}

void sl_spool_append(struct sl_spool *sp, const char *payload, size_t len, uint32_t rows,
                     sl_spool_cb cb, void *arg)
{
    submit(sp, OP_APPEND, cb, NULL, arg, payload, len, rows);
}

void sl_spool_read(struct sl_spool *sp, sl_spool_read_cb cb, void *arg)
{
    submit(sp, OP_READ, NULL, cb, arg, NULL, 0, 0);
}

void sl_spool_consumed(struct sl_spool *sp)
{
    sp->consumed = sp->read_off;
}

void sl_spool_rewind(struct sl_spool *sp)
{
    sp->read_off = sp->consumed;
}

int sl_spool_pending(const struct sl_spool *sp)
{
    return sp->size > sp->consumed;
}

void sl_spool_remove(struct sl_spool *sp, sl_spool_cb cb, void *arg)
{
    submit(sp, OP_REMOVE, cb, NULL, arg, NULL, 0, 0);
}

void sl_spool_close(struct sl_spool *sp, sl_spool_cb cb, void *arg)
{
    submit(sp, OP_CLOSE, cb, NULL, arg, NULL, 0, 0);
}

const char *sl_spool_error(const struct sl_spool *sp)
{
    return sp->err;
}
