/* The inside of the store: what store.c (generic) and a backend share.
 *
 * store.c owns the batching, the bound, the counters and the order of
 * operations; a backend (sqlite_store.c, pg_store.c) only writes batches
 * and runs calls, and reports each completion on the loop thread:
 *
 *   generic                          backend
 *   sl_store_append -> batch full
 *   dispatch() ---- write(batch) --> ... sl__store_written(s, b, status)
 *   dispatch() ---- call(call) ----> ... sl__store_called(s, call)
 *   all done ------ close() -------> ... sl__store_backend_closed(s)
 *
 * Order: operations leave store.c in the order they were made. Batches may
 * be in the backend several at a time (and complete in any order); a call
 * goes to the backend only when no batch and no other call is there, and
 * nothing after it goes until it completed. So a call is a barrier: it
 * sees every row appended before it, and no row appended after it.
 *
 * Bound: at most opts.max_batches batches exist between append and
 * completion (held here or in the backend); flush and close may add one. */
#ifndef SL_STORE_IMPL_H
#define SL_STORE_IMPL_H

#include "store/spool.h"
#include "store/store.h"

struct sl__op {
    struct sl__op *next;
    int is_call;
};

struct sl__batch {
    struct sl__op op;
    unsigned n;
    int64_t run_id; /* the run of its rows; 0: the run begun on this store */
    int replay;     /* read back from the overflow spool (overflow.c) */
    char *arena;    /* copies of the rows' metadata; grows, kept for reuse */
    size_t arena_len, arena_cap;
    struct sl_record rows[];
};

enum sl__call_kind {
    SL__CALL_BARRIER,
    SL__CALL_BEGIN_RUN,
    SL__CALL_END_RUN,
    SL__CALL_STATS,
    SL__CALL_VERSION,
    SL__CALL_MIGRATE,
    SL__CALL_CONVERSATIONS,
    SL__CALL_ROWS,
    SL__CALL_ADD_CONVERSATIONS,
};

struct sl__call {
    struct sl__op op;
    enum sl__call_kind kind;
    sl_store_cb cb;
    void *arg;
    const void *in; /* BEGIN_RUN: sl_run_info; END_RUN: status text; ROWS: SQL;
                       ADD_CONVERSATIONS: sl_conv_in[value] (and their JSON in out) */
    void *out;      /* STATS: sl_stats; VERSION, MIGRATE: int; CONVERSATIONS: page **;
                       ROWS: sl_rows ** */
    int64_t id;     /* STATS: run id; CONVERSATIONS: after this conversation id */
    int value;      /* END_RUN: max in flight; MIGRATE: target; CONVERSATIONS: limit */
    int status;
    char err[512];
};

struct sl__store_backend {
    const char *name;
    /* Starts opening; reports with sl__store_opened(). A non-zero return
     * (with err set) means nothing was started. */
    int (*open)(struct sl_store *s, const char *url, char *err, size_t err_size);
    void (*write)(struct sl_store *s, struct sl__batch *b);
    void (*call)(struct sl_store *s, struct sl__call *c);
    /* Everything completed; release the database and report with
     * sl__store_backend_closed(). */
    void (*close)(struct sl_store *s);
    /* Optional: a call or the close waits for the batches in the backend;
     * finish them soon (PostgreSQL away: spool them). */
    void (*drain)(struct sl_store *s);
};

extern const struct sl__store_backend sl__sqlite_backend;

/* The overflow spool (overflow.c): where full batches go when the queue
 * is at its bound, replayed when the backend catches up. */
enum sl__ov_state {
    SL__OV_OFF,      /* not enabled (stats, migrate, simulate) */
    SL__OV_STARTING, /* opening the file */
    SL__OV_LEFTOVER, /* replaying what an earlier process left; no spills yet */
    SL__OV_READY,
    SL__OV_BROKEN, /* a file error: no more spills (backpressure); the file is kept */
    SL__OV_CLOSING,
    SL__OV_CLOSED,
};

struct sl__overflow {
    enum sl__ov_state state;
    struct sl_spool spool;
    unsigned appends;       /* frames handed to the spool, not yet on disk */
    uint64_t append_bytes;  /* their size */
    int replaying;          /* a frame is being read, or its batch is in the backend */
    int replay_failed;      /* the backend refused replayed rows: they stay in the file */
    uint64_t leftover_rows; /* replayed from an earlier process's file */
};
extern const struct sl__store_backend sl__pg_backend;

struct sl_store {
    uv_loop_t *loop;
    struct sl_store_options opts;
    const struct sl__store_backend *be;
    void *impl;      /* the backend's state */
    char path[4096]; /* what messages name: a file path or a masked URL */
    char err[512];
    char spool_path[4096]; /* set by a backend that spools */
    int64_t run_id;
    uint64_t queries; /* SQL statements sent, maintained by the backend */

    uv_timer_t flush_timer;
    struct sl__batch *cur;
    struct sl__batch *free_batches;
    struct sl__op *ops_head, **ops_tail; /* made, not yet in the backend */
    unsigned batches_alive;              /* pushed and not completed: the bound */
    unsigned batches_in_backend;         /* handed to the backend */
    int call_in_backend;
    /* written: rows put in the database (replayed spool rows included);
     * spooled: rows in the spool file now; done: appended rows completed */
    uint64_t rows_written, rows_failed, rows_spooled, rows_appended, rows_done;
    uint64_t rows_spooled_total; /* rows ever put in a spool (overflow or outage) */
    struct sl__overflow ov;
    int want_writable, closing, open_failed;
    void (*on_writable)(struct sl_store *, void *);
    void *writable_arg;
    struct sl__call *open_call; /* reports the open */
    sl_store_cb close_cb;
    void *close_arg;
    int close_status;
};

/* Completions, called by the backend on the loop thread. */
void sl__store_opened(struct sl_store *s, int status, const char *err);
/* status 0: written; SL__SPOOLED: kept in the spool file; else failed. */
#define SL__SPOOLED 1
void sl__store_written(struct sl_store *s, struct sl__batch *b, int status, const char *err);
void sl__store_called(struct sl_store *s, struct sl__call *c);
void sl__store_backend_closed(struct sl_store *s);

/* calloc that never returns NULL: the store's bookkeeping structures are
 * small and fixed; running out of memory for them ends the process with a
 * message (the rows themselves are bounded by the batch queue). */
void *sl__xcalloc(size_t n, size_t size);
void sl__oom(void) __attribute__((noreturn));

/* FNV-1a of a database URL or path: names the spool files of a database
 * that has no directory of its own (PostgreSQL) in the working directory. */
uint64_t sl__path_hash(const char *s);

/* The overflow spool, driven by store.c on the loop thread. */
void sl__overflow_start(struct sl_store *s);
/* Takes a full batch into the spool (the batch returns to the free list);
 * UV_EAGAIN when it cannot (not ready, at the size cap, too many frames
 * in flight): the caller applies backpressure. */
int sl__overflow_spill(struct sl_store *s, struct sl__batch *b);
/* Starts replaying the next frame if the backend has room (or the store
 * is closing). */
void sl__overflow_kick(struct sl_store *s);
/* A replayed batch completed in the backend. */
void sl__overflow_replayed(struct sl_store *s, struct sl__batch *b, int status, const char *err);
/* Nothing in flight and nothing left to replay (or replay impossible). */
int sl__overflow_idle(const struct sl_store *s);
/* Closes the file (removed when empty), then calls done. */
void sl__overflow_close(struct sl_store *s, void (*done)(struct sl_store *s));
/* Shared with store.c: a batch from the free list, and queueing one. */
struct sl__batch *sl__store_take_batch(struct sl_store *s);
/* Copies rec (and its metadata) into b; -1 when out of memory. */
int sl__batch_add(struct sl__batch *b, const struct sl_record *rec);
void sl__store_push_batch(struct sl_store *s, struct sl__batch *b);
void sl__store_free_batch(struct sl_store *s, struct sl__batch *b);
void sl__store_log(struct sl_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The store's state changed: run what can run (calls, the close). */
void sl__store_dispatch(struct sl_store *s);
/* Room again for the caller that was told UV_EAGAIN. */
void sl__store_notify_writable(struct sl_store *s);

/* {"model":"...","prompt_tokens":N}: returns the length written. */
int sl__format_metadata(char *buf, size_t size, const struct sl_record *r);

#endif
