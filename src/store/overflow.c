/* The overflow spool: where rows go when the store falls behind.
 *
 * Design
 *  - store.c bounds its queue (max_batches batches of batch_rows rows).
 *    Without an overflow spool a full queue makes sl_store_append say
 *    UV_EAGAIN and the caller must hold the row. serve cannot hold rows
 *    forever while requests keep finishing, so with opts.overflow_spool a
 *    full batch that finds the queue full is encoded into one frame and
 *    appended to a spool file (spool.c: thread pool, fdatasync'ed) instead.
 *    The loop never waits on the disk; it only encodes the frame.
 *  - A row counts as done (and spooled) once its frame is on disk; flush
 *    and the other calls wait for frames still being written, so a barrier
 *    means what it says.
 *  - Replay: when the backend has room again (at most half the queue in
 *    use, or the store is closing), frames are read back one at a time,
 *    decoded into a batch marked `replay` and queued like any other; when
 *    it is written the frame is consumed. When every frame is consumed and
 *    no append is in flight the file is emptied. sl_store_close() replays
 *    everything before it closes the backend, so a clean exit leaves every
 *    row in the database and no file behind.
 *  - Bounds: frames waiting for the disk are at most 32 MiB (memory),
 *    and the file is at most overflow_spool_max_bytes (disk). Past either,
 *    spill says UV_EAGAIN and the caller applies backpressure (serve
 *    refuses new requests with 503 until its rows are in). Nothing is
 *    dropped: a frame the disk refused is decoded back into a batch and
 *    queued for the backend, and the spool is not used again (BROKEN).
 *  - Crash: a file left by an earlier process is replayed first (each
 *    frame carries its run id; the backends' replay writes skip rows that
 *    are already there), and its torn last frame, if any, is dropped with
 *    the file. A process holds the file's lock while it runs.
 *
 * Ownership: the store embeds struct sl__overflow; a frame buffer belongs
 * to this module from spill until its append completed. Loop thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

#define FRAME_MAGIC 0x4f4c5331u /* "1SLO": version 1 */
#define FRAME_HEAD  16          /* magic, row count, run id */
#define ROW_HEAD    42          /* the fixed fields of a row, then its metadata */
/* Frames encoded and waiting for the disk: the memory the spool may hold. */
#define MAX_APPEND_BYTES (32u << 20)

struct frame {
    struct sl_store *s;
    size_t len;
    uint32_t rows;
    char buf[];
};

static size_t frame_max(unsigned rows)
{
    return FRAME_HEAD + (size_t)rows * (ROW_HEAD + SL_STORE_METADATA_MAX);
}

static char *put(char *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

/* Rows without metadata (the simulator's) get theirs formatted here, so a
 * frame never refers to memory outside itself. */
static size_t encode(char *buf, int64_t run_id, const struct sl__batch *b)
{
    uint32_t magic = FRAME_MAGIC, n = b->n;
    char *p = put(buf, &magic, 4);
    p = put(p, &n, 4);
    p = put(p, &run_id, 8);
    for (unsigned i = 0; i < b->n; i++) {
        const struct sl_record *r = &b->rows[i];
        p = put(p, &r->request_id, 8);
        p = put(p, &r->created_us, 8);
        p = put(p, &r->started_us, 8);
        p = put(p, &r->finished_us, 8);
        p = put(p, &r->prompt_tokens, 4);
        p = put(p, &r->attempts, 2);
        p = put(p, &r->status, 1);
        p = put(p, &r->error, 1);
        uint16_t mlen = (uint16_t)sl__format_metadata(p + 2, SL_STORE_METADATA_MAX, r);
        p = put(p, &mlen, 2);
        p += mlen;
    }
    return (size_t)(p - buf);
}

/* Fills b from a frame; -1 when the frame is not one of ours (its checksum
 * matched, so this means a bug or a foreign file, never a torn write). */
static int decode(const char *p, size_t len, struct sl__batch *b, unsigned max_rows)
{
    const char *end = p + len;
    uint32_t magic, n;
    if (len < FRAME_HEAD)
        return -1;
    memcpy(&magic, p, 4);
    memcpy(&n, p + 4, 4);
    memcpy(&b->run_id, p + 8, 8);
    p += FRAME_HEAD;
    if (magic != FRAME_MAGIC || n > max_rows || b->run_id <= 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_record r = {0};
        uint16_t mlen;
        if (end - p < ROW_HEAD)
            return -1;
        memcpy(&r.request_id, p, 8);
        memcpy(&r.created_us, p + 8, 8);
        memcpy(&r.started_us, p + 16, 8);
        memcpy(&r.finished_us, p + 24, 8);
        memcpy(&r.prompt_tokens, p + 32, 4);
        memcpy(&r.attempts, p + 36, 2);
        memcpy(&r.status, p + 38, 1);
        memcpy(&r.error, p + 39, 1);
        memcpy(&mlen, p + 40, 2);
        p += ROW_HEAD;
        if (mlen > SL_STORE_METADATA_MAX || end - p < mlen || r.status > SL_REQ_CANCELLED ||
            r.error >= SL_E__COUNT)
            return -1;
        r.metadata = p;
        r.metadata_len = mlen;
        p += mlen;
        if (sl__batch_add(b, &r) != 0)
            sl__oom();
    }
    return p == end ? 0 : -1;
}

/* ---- start ---------------------------------------------------------------- */

static void on_started(struct sl_spool *sp, int status, void *arg)
{
    struct sl_store *s = arg;
    struct sl__overflow *ov = &s->ov;
    if (status != 0) {
        sl__store_log(s,
                      "store: cannot use the overflow spool: %s; when the database falls "
                      "behind, new requests will wait instead",
                      sl_spool_error(sp));
        ov->state = SL__OV_BROKEN;
    } else if (sp->size > 0) {
        sl__store_log(s,
                      "store: found the overflow spool %s (%" PRIu64 " bytes) of an earlier "
                      "run; it will be replayed into %s",
                      sp->path, sp->size, s->path);
        ov->state = SL__OV_LEFTOVER;
    } else {
        ov->state = SL__OV_READY;
    }
    sl__store_dispatch(s);
}

void sl__overflow_start(struct sl_store *s)
{
    char path[4096];
    if (s->opts.overflow_spool_path)
        snprintf(path, sizeof(path), "%s", s->opts.overflow_spool_path);
    else if (sl_store_kind(s) == SL_STORE_SQLITE)
        snprintf(path, sizeof(path), "%.4000s.spool", s->path);
    else /* the masked URL names it without its secret */
        snprintf(path, sizeof(path), "sluice-overflow-%016" PRIx64 ".bin", sl__path_hash(s->path));
    sl_spool_init(&s->ov.spool, s->loop, path);
    s->ov.state = SL__OV_STARTING;
    sl_spool_start(&s->ov.spool, on_started, s);
}

/* ---- spill ---------------------------------------------------------------- */

static void on_appended(struct sl_spool *sp, int status, void *arg)
{
    struct frame *f = arg;
    struct sl_store *s = f->s;
    struct sl__overflow *ov = &s->ov;
    ov->appends--;
    ov->append_bytes -= f->len;
    if (status == 0) {
        s->rows_done += f->rows;
        s->rows_spooled += f->rows;
        s->rows_spooled_total += f->rows;
    } else {
        /* Not on disk: the rows go to the backend after all (one batch over
         * the bound, once: the spool is not used again). */
        sl__store_log(s,
                      "store: cannot write %u rows to the overflow spool: %s; they are queued "
                      "for the database, and from now on new requests wait when it falls behind",
                      f->rows, sl_spool_error(sp));
        if (ov->state == SL__OV_READY)
            ov->state = SL__OV_BROKEN;
        struct sl__batch *b = sl__store_take_batch(s);
        if (decode(f->buf, f->len, b, s->opts.batch_rows) != 0)
            abort(); /* we encoded it a moment ago */
        b->run_id = 0;
        sl__store_push_batch(s, b);
    }
    free(f);
    sl__store_notify_writable(s);
    sl__store_dispatch(s);
}

int sl__overflow_spill(struct sl_store *s, struct sl__batch *b)
{
    struct sl__overflow *ov = &s->ov;
    size_t max = frame_max(b->n);
    if (ov->state != SL__OV_READY || ov->append_bytes + max > MAX_APPEND_BYTES ||
        ov->spool.size + ov->append_bytes + max > s->opts.overflow_spool_max_bytes)
        return UV_EAGAIN;
    struct frame *f = malloc(sizeof(*f) + max);
    if (f == NULL)
        return UV_EAGAIN;
    f->s = s;
    f->rows = b->n;
    f->len = encode(f->buf, b->run_id ? b->run_id : s->run_id, b);
    ov->appends++;
    ov->append_bytes += f->len;
    sl__store_free_batch(s, b);
    sl_spool_append(&ov->spool, f->buf, f->len, f->rows, on_appended, f);
    return 0;
}

/* ---- replay --------------------------------------------------------------- */

static void on_removed(struct sl_spool *sp, int status, void *arg)
{
    struct sl_store *s = arg;
    struct sl__overflow *ov = &s->ov;
    ov->replaying = 0;
    if (status != 0) {
        sl__store_log(s, "store: cannot empty the overflow spool: %s", sl_spool_error(sp));
        ov->state = SL__OV_BROKEN;
    } else if (ov->state == SL__OV_LEFTOVER) {
        sl__store_log(s, "store: replayed %" PRIu64 " rows from the overflow spool %s into %s",
                      ov->leftover_rows, sp->path, s->path);
        ov->state = SL__OV_READY;
    }
    sl__store_dispatch(s);
}

static void stop_replay(struct sl_store *s, const char *why)
{
    struct sl__overflow *ov = &s->ov;
    sl_spool_rewind(&ov->spool);
    ov->replay_failed = 1;
    if (ov->state == SL__OV_READY || ov->state == SL__OV_LEFTOVER)
        ov->state = SL__OV_BROKEN;
    sl__store_log(s, "store: cannot replay the overflow spool %s into %s: %s; it is kept",
                  ov->spool.path, s->path, why);
}

static void on_frame(struct sl_spool *sp, int status, const char *payload, size_t len,
                     uint32_t rows, void *arg)
{
    (void)rows;
    struct sl_store *s = arg;
    struct sl__overflow *ov = &s->ov;
    ov->replaying = 0;
    struct sl__batch *b = NULL;
    if (status == UV_EOF && ov->state == SL__OV_LEFTOVER) {
        /* the torn last frame of a crashed run: dropped with the file */
        sp->consumed = sp->size;
    } else if (status != 0) {
        stop_replay(s, status == UV_EOF ? "a damaged frame" : sl_spool_error(sp));
    } else {
        b = sl__store_take_batch(s);
        if (decode(payload, len, b, s->opts.batch_rows) != 0) {
            sl__store_free_batch(s, b);
            b = NULL;
            stop_replay(s, "a frame that is not a sluice overflow frame");
        }
    }
    if (b) {
        b->replay = 1;
        ov->replaying = 1;
        sl__store_push_batch(s, b);
    }
    sl__store_dispatch(s);
}

void sl__overflow_replayed(struct sl_store *s, struct sl__batch *b, int status, const char *err)
{
    struct sl__overflow *ov = &s->ov;
    ov->replaying = 0;
    if (status != 0 && status != SL__SPOOLED) {
        stop_replay(s, err ? err : "write failed");
        return;
    }
    sl_spool_consumed(&ov->spool);
    if (ov->state == SL__OV_LEFTOVER) {
        ov->leftover_rows += b->n;
        if (status == SL__SPOOLED) { /* now in the PostgreSQL outage spool */
            s->rows_spooled += b->n;
            s->rows_spooled_total += b->n;
        }
    } else if (status == 0) {
        s->rows_spooled -= b->n < s->rows_spooled ? b->n : s->rows_spooled;
    }
    if (status == 0)
        s->rows_written += b->n;
}

void sl__overflow_kick(struct sl_store *s)
{
    struct sl__overflow *ov = &s->ov;
    if (ov->replaying || ov->replay_failed || s->open_call || s->open_failed)
        return;
    if (ov->state != SL__OV_READY && ov->state != SL__OV_LEFTOVER && ov->state != SL__OV_BROKEN)
        return;
    if (!sl_spool_pending(&ov->spool)) {
        if (ov->spool.size > 0 && ov->appends == 0 && ov->state != SL__OV_BROKEN) {
            ov->replaying = 1; /* the removal, queued behind no append */
            sl_spool_remove(&ov->spool, on_removed, s);
        }
        return;
    }
    if (!s->closing && s->batches_alive > s->opts.max_batches / 2)
        return; /* still behind: replaying now would only spill again */
    ov->replaying = 1;
    sl_spool_read(&ov->spool, on_frame, s);
}

int sl__overflow_idle(const struct sl_store *s)
{
    const struct sl__overflow *ov = &s->ov;
    switch (ov->state) {
    case SL__OV_OFF:
    case SL__OV_CLOSED:
        return 1;
    case SL__OV_STARTING:
    case SL__OV_CLOSING:
        return 0;
    default:
        break;
    }
    if (ov->appends || ov->replaying)
        return 0;
    if (s->open_failed || ov->replay_failed)
        return 1;
    return !sl_spool_pending(&ov->spool) && (ov->spool.size == 0 || ov->state == SL__OV_BROKEN);
}

struct closing {
    struct sl_store *s;
    void (*done)(struct sl_store *s);
};

static void on_closed(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    (void)status;
    struct closing *c = arg;
    struct sl_store *s = c->s;
    void (*done)(struct sl_store *) = c->done;
    free(c);
    s->ov.state = SL__OV_CLOSED;
    done(s);
}

void sl__overflow_close(struct sl_store *s, void (*done)(struct sl_store *s))
{
    struct sl__overflow *ov = &s->ov;
    if (ov->state == SL__OV_OFF) {
        done(s);
        return;
    }
    if (sl_spool_pending(&ov->spool))
        sl__store_log(s,
                      "store: rows are kept in the overflow spool %s (%" PRIu64
                      " bytes); the next serve on %s replays them",
                      ov->spool.path, ov->spool.size - ov->spool.consumed, s->path);
    ov->state = SL__OV_CLOSING;
    struct closing *c = sl__xcalloc(1, sizeof(*c));
    c->s = s;
    c->done = done;
    sl_spool_close(&ov->spool, on_closed, c);
}
