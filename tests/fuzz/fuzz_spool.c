/* Fuzz target: the spool file reader (src/store/spool.c). After a crash or
 * an outage sluice replays whatever an earlier run left in the spool file,
 * so its bytes are input: a torn frame, garbage, or a file someone else
 * wrote must end the replay cleanly, never crash or feed garbage on.
 *
 * The input is the file. Checked: every frame read has its declared length
 * and a matching checksum and lies inside the file; frames come in order
 * and end with UV_EOF; a rewind rereads the same frames; close keeps the
 * file (it is not empty) and leaks nothing. */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "store/spool.h"

static char dir[64], path[128];
static uv_loop_t loop;

struct run {
    int pending, frames, eof, status;
    uint64_t bytes;
    uint32_t sum; /* over every payload read */
};

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void on_done(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    struct run *r = arg;
    r->pending--;
    r->status = status;
}

static void on_read(struct sl_spool *sp, int status, const char *payload, size_t len, uint32_t rows,
                    void *arg)
{
    (void)sp;
    (void)rows;
    struct run *r = arg;
    r->pending--;
    if (status == UV_EOF) {
        r->eof = 1;
        return;
    }
    FUZZ_CHECK(status == 0 && payload != NULL && len <= SL_SPOOL_MAX_FRAME);
    r->frames++;
    r->bytes += 16 + len;
    r->sum = r->sum * 31 + fnv1a(payload, len);
}

static void wait_all(struct run *r)
{
    while (r->pending > 0)
        uv_run(&loop, UV_RUN_ONCE);
}

static void read_all(struct sl_spool *sp, struct run *r, size_t size)
{
    while (!r->eof) {
        r->pending++;
        sl_spool_read(sp, on_read, r);
        wait_all(r);
        FUZZ_CHECK(r->bytes <= size);
        if (!r->eof)
            sl_spool_consumed(sp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/sluice-fuzz-spool-XXXXXX");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/spool.bin", dir);
        FUZZ_CHECK(uv_loop_init(&loop) == 0);
    }
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);

    struct sl_spool sp;
    struct run r = {0};
    sl_spool_init(&sp, &loop, path);
    r.pending++;
    sl_spool_start(&sp, on_done, &r);
    wait_all(&r);
    FUZZ_CHECK(r.status == 0);
    FUZZ_CHECK(sl_spool_pending(&sp) == (size > 0));

    read_all(&sp, &r, size);
    struct run again = {0};
    sl_spool_rewind(&sp); /* consumed everything read: nothing to reread */
    read_all(&sp, &again, size);
    FUZZ_CHECK(again.frames == 0);

    /* a fresh spool on the same file reads the same frames */
    r.pending++;
    sl_spool_close(&sp, on_done, &r);
    wait_all(&r);
    struct sl_spool sp2;
    struct run r2 = {0};
    sl_spool_init(&sp2, &loop, path);
    r2.pending++;
    sl_spool_start(&sp2, on_done, &r2);
    wait_all(&r2);
    read_all(&sp2, &r2, size);
    FUZZ_CHECK(r2.frames == r.frames && r2.bytes == r.bytes && r2.sum == r.sum);
    r2.pending++;
    sl_spool_close(&sp2, on_done, &r2);
    wait_all(&r2);
    if (size > 0)
        FUZZ_CHECK(access(path, F_OK) == 0); /* a non-empty spool is kept */
    unlink(path);
    return 0;
}
