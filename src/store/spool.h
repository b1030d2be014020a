/* The spool: an append-only file that keeps rows while the database is
 * away, replayed and removed when it is back.
 *
 * Design
 *  - A frame is a 16-byte header (magic, payload length, row count,
 *    FNV-1a checksum of the payload) and the payload, which is opaque here
 *    (the PostgreSQL store puts binary COPY rows in it). Appends are
 *    written and fdatasync'ed before their callback: a row reported as
 *    spooled survives a crash of sluice.
 *  - One process at a time: start opens (creating) the file and takes an
 *    exclusive flock for as long as the spool is open; a second process on
 *    the same path gets UV_EBUSY and a message. The file is unlinked at
 *    close when it is empty, so none is left behind after a clean run.
 *  - Replay reads frames in order from a read offset; the caller marks a
 *    frame consumed once its rows are in the database, and empties the
 *    file (sl_spool_remove) when everything was consumed. A torn last frame (a crash in the
 *    middle of an append) is detected by its length or checksum and ends
 *    the replay; it is dropped with the file.
 *  - All file I/O is uv_fs on the thread pool, one operation at a time in
 *    FIFO order, so the loop never waits on the disk and an append queued
 *    after a remove starts a new file.
 *
 * Ownership: the caller embeds struct sl_spool and owns each payload
 * buffer until the append's callback. Bound: one frame is read at a time
 * (at most SL_SPOOL_MAX_FRAME bytes). */
#ifndef SL_SPOOL_H
#define SL_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SL_SPOOL_MAX_FRAME (64u << 20)

struct sl_spool;
typedef void (*sl_spool_cb)(struct sl_spool *sp, int status, void *arg);
/* A frame read for replay: payload valid until the next spool call. */
typedef void (*sl_spool_read_cb)(struct sl_spool *sp, int status, const char *payload, size_t len,
                                 uint32_t rows, void *arg);

struct spool_op;

struct sl_spool {
    uv_loop_t *loop;
    char path[4096];
    uv_file fd;        /* open and flock'ed from start to close */
    uint64_t size;     /* bytes in the file, as far as this process knows */
    uint64_t read_off; /* the next frame to read */
    uint64_t consumed; /* everything before this is in the database */
    struct spool_op *head, **tail;
    int busy;
    char *rbuf;
    size_t rbuf_cap;
    char err[512];
};

void sl_spool_init(struct sl_spool *sp, uv_loop_t *loop, const char *path);
/* Opens and locks the file; finds what an earlier run left (its size). */
void sl_spool_start(struct sl_spool *sp, sl_spool_cb cb, void *arg);
/* Appends one frame; cb after it is on disk (fdatasync). */
void sl_spool_append(struct sl_spool *sp, const char *payload, size_t len, uint32_t rows,
                     sl_spool_cb cb, void *arg);
/* Reads the frame at the read offset; UV_EOF at the end (or a torn frame). */
void sl_spool_read(struct sl_spool *sp, sl_spool_read_cb cb, void *arg);
/* The frame read last is in the database. */
void sl_spool_consumed(struct sl_spool *sp);
/* Rereads from the first frame not consumed (after a failed replay). */
void sl_spool_rewind(struct sl_spool *sp);
int sl_spool_pending(const struct sl_spool *sp); /* unconsumed bytes exist */
/* Everything is in the database: empties the file. */
void sl_spool_remove(struct sl_spool *sp, sl_spool_cb cb, void *arg);
/* Closes the file (unlinked if empty, kept otherwise) and drops the lock;
 * cb when done. Frees the read buffer. */
void sl_spool_close(struct sl_spool *sp, sl_spool_cb cb, void *arg);
const char *sl_spool_error(const struct sl_spool *sp);

#endif
