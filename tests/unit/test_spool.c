/* The spool file: frames come back in order and intact, a torn last frame
 * ends the replay instead of feeding garbage, an emptied spool leaves no
 * file behind, and one process at a time may use a spool. */
#include <fcntl.h>
#include <sys/stat.h>

#include "store/spool.h"
#include "support.h"

static char dir[64], path[128];

static void setup(void)
{
    sl_test_mkdtemp(dir, sizeof(dir), "spool");
    snprintf(path, sizeof(path), "%s/s.bin", dir);
}

static void teardown(void)
{
    sl_test_rmdir(dir);
}

TestSuite(spool, .init = setup, .fini = teardown, .timeout = 30);

struct fx {
    uv_loop_t loop;
    struct sl_spool sp;
    int pending, last_status;
    char got[8][64];
    uint32_t rows[8];
    int n_got, eof;
};

static void on_done(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    struct fx *f = arg;
    f->pending--;
    f->last_status = status;
    cr_assert_eq(status, 0, "%s", sl_spool_error(sp));
}

static void wait_all(struct fx *f)
{
    while (f->pending > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_read(struct sl_spool *sp, int status, const char *payload, size_t len, uint32_t rows,
                    void *arg)
{
    struct fx *f = arg;
    f->pending--;
    if (status == UV_EOF) {
        f->eof = 1;
        return;
    }
    cr_assert_eq(status, 0, "%s", sl_spool_error(sp));
    cr_assert_not_null(payload, "a frame read without its payload");
    snprintf(f->got[f->n_got], sizeof(f->got[0]), "%.*s", (int)len, payload);
    f->rows[f->n_got++] = rows;
    sl_spool_consumed(sp);
}

static void read_all(struct fx *f)
{
    f->eof = 0;
    while (!f->eof) {
        f->pending++;
        sl_spool_read(&f->sp, on_read, f);
        wait_all(f);
    }
}

static void append(struct fx *f, const char *text, uint32_t rows)
{
    f->pending++;
    sl_spool_append(&f->sp, text, strlen(text), rows, on_done, f);
}

static void start(struct fx *f)
{
    uv_loop_init(&f->loop);
    sl_spool_init(&f->sp, &f->loop, path);
    f->pending++;
    sl_spool_start(&f->sp, on_done, f);
    wait_all(f);
}

static void close_fx(struct fx *f)
{
    f->pending++;
    sl_spool_close(&f->sp, on_done, f);
    wait_all(f);
    sl_test_close_loop(&f->loop);
}

Test(spool, frames_come_back_in_order_and_a_torn_tail_is_ignored)
{
    struct fx f = {0};
    start(&f);
    cr_assert_eq(f.sp.size, 0);
    append(&f, "first frame", 3);
    append(&f, "second", 5);
    wait_all(&f);
    cr_assert(sl_spool_pending(&f.sp));
    close_fx(&f);
    cr_assert_eq(access(path, F_OK), 0, "a spool with rows must be kept");

    /* a crash in the middle of a third append: half a header and payload */
    int fd = open(path, O_WRONLY | O_APPEND);
    uint32_t head[4] = {0x50534c53u, 100, 9, 0};
    cr_assert_eq(write(fd, head, sizeof(head)), (ssize_t)sizeof(head));
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);

    /* the next run finds it */
    struct fx g = {0};
    start(&g);
    cr_assert_gt(g.sp.size, 0);
    read_all(&g);
    cr_assert_eq(g.n_got, 2);
    cr_assert_str_eq(g.got[0], "first frame");
    cr_assert_str_eq(g.got[1], "second");
    cr_assert_eq(g.rows[0], 3);
    cr_assert_eq(g.rows[1], 5);
    g.pending++;
    sl_spool_remove(&g.sp, on_done, &g);
    wait_all(&g);
    cr_assert(!sl_spool_pending(&g.sp));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 0, "emptied");

    /* appends after that go into the emptied file */
    append(&g, "later", 1);
    wait_all(&g);
    read_all(&g);
    cr_assert_eq(g.n_got, 3);
    cr_assert_str_eq(g.got[2], "later");
    g.pending++;
    sl_spool_remove(&g.sp, on_done, &g);
    wait_all(&g);
    close_fx(&g);
    cr_assert_neq(access(path, F_OK), 0, "an empty spool is removed at close");
}

/* Found by tests/fuzz/fuzz_spool.c: an empty first frame came back with a
 * NULL payload (the read buffer was never allocated). */
Test(spool, an_empty_frame_comes_back_with_a_payload)
{
    struct fx f = {0};
    start(&f);
    append(&f, "", 0);
    append(&f, "row", 1);
    wait_all(&f);
    read_all(&f);
    cr_assert_eq(f.n_got, 2);
    cr_assert_str_eq(f.got[0], "");
    cr_assert_str_eq(f.got[1], "row");
    close_fx(&f);
}

Test(spool, a_corrupted_frame_ends_the_replay)
{
    struct fx f = {0};
    start(&f);
    append(&f, "good", 1);
    append(&f, "flipped", 1);
    wait_all(&f);
    close_fx(&f);
    int fd = open(path, O_WRONLY);
    cr_assert_eq(pwrite(fd, "X", 1, 16 + 4 + 16 + 2), 1); /* inside the second payload */
    close(fd);
    struct fx g = {0};
    start(&g);
    read_all(&g);
    cr_assert_eq(g.n_got, 1);
    cr_assert_str_eq(g.got[0], "good");
    close_fx(&g);
}

static void on_start_refused(struct sl_spool *sp, int status, void *arg)
{
    (void)sp;
    struct fx *f = arg;
    f->pending--;
    f->last_status = status;
}

Test(spool, one_process_at_a_time)
{
    struct fx f = {0};
    start(&f);
    append(&f, "mine", 1);
    wait_all(&f);
    /* a second user of the same path (another process: flock is per open
     * file, so a second open in this process stands in for it) */
    struct fx g = {0};
    uv_loop_init(&g.loop);
    sl_spool_init(&g.sp, &g.loop, path);
    g.pending++;
    sl_spool_start(&g.sp, on_start_refused, &g);
    wait_all(&g);
    cr_assert_eq(g.last_status, UV_EBUSY);
    cr_assert_not_null(strstr(sl_spool_error(&g.sp), "in use by another sluice process"), "%s",
                       sl_spool_error(&g.sp));
    g.pending++;
    sl_spool_append(&g.sp, "theirs", 6, 1, on_start_refused, &g);
    wait_all(&g);
    cr_assert_eq(g.last_status, UV_EBADF, "a refused spool takes no rows");
    close_fx(&g);
    read_all(&f);
    cr_assert_eq(f.n_got, 1);
    cr_assert_str_eq(f.got[0], "mine");
    close_fx(&f);
}
