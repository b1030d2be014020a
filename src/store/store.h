/* The store: where finished requests are recorded, and analytics read back.
 *
 * Design
 *  - The loop hands records to the store with sl_store_append(). That call
 *    never blocks and never waits on disk: it copies the record into the
 *    batch being filled. Full batches (and, every flush interval, a partial
 *    one) go to the backend's writer, which writes each batch in one
 *    transaction with prepared statements.
 *  - The queue is bounded: at most `max_batches` batches of `batch_rows`
 *    rows are pending. When it is full, append returns UV_EAGAIN and the
 *    caller keeps the record (backpressure, not loss); the store calls
 *    on_writable once there is room again. With opts.overflow_spool (serve)
 *    a full queue spills whole batches to a spool file instead, replayed
 *    when the backend catches up; UV_EAGAIN then means the file is at its
 *    cap (overflow.c).
 *  - Everything the backend does (open, migrate, write, query) reports back
 *    on the loop thread through callbacks. Only the backend touches the
 *    database connection. Two backends: SQLite (a writer thread) and
 *    PostgreSQL (libpq non-blocking on the loop, pooled, with a spool file
 *    for outages); store.c holds what they share (store_impl.h).
 *  - Nothing appended is dropped: sl_store_flush() completes when every
 *    record appended before it is durable (in the database, in the
 *    overflow spool, or in the PostgreSQL spool file while the database is
 *    away) or has failed, and the counters say which. sl_store_close()
 *    replays the overflow spool into the database before it closes.
 *
 * Ownership: sl_store_open() creates the store; sl_store_close() flushes,
 * tears the backend down and frees the store after its callback ran. */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdint.h>
#include <uv.h>

#include "core/errclass.h"

enum sl_req_status { SL_REQ_SUCCEEDED, SL_REQ_FAILED, SL_REQ_CANCELLED };
const char *sl_req_status_name(enum sl_req_status status);

/* Longest metadata JSON a record may carry (bytes). */
#define SL_STORE_METADATA_MAX 768

/* One finished request. `model` is borrowed and must outlive the run (the
 * simulator uses static model names). `metadata`, when set, is the row's
 * metadata JSON, used instead of {model, prompt_tokens}; append copies it,
 * so it need only live for the call. */
struct sl_record {
    uint64_t request_id;
    int64_t created_us, started_us, finished_us; /* wall clock; started 0 = never ran */
    const char *model;
    const char *metadata;
    uint32_t metadata_len; /* at most SL_STORE_METADATA_MAX */
    uint32_t prompt_tokens;
    uint16_t attempts;
    uint8_t status; /* enum sl_req_status */
    uint8_t error;  /* enum sl_err, SL_OK when it succeeded */
};

/* The run a batch of records belongs to. */
struct sl_run_info {
    const char *command; /* "simulate" */
    uint64_t requests;
    unsigned concurrency;
    const char *params_json; /* the settings, for the record */
};

/* serve runs: the requests of one status, model or deployment. */
struct sl_serve_group {
    char key[64]; /* the HTTP status, model or deployment ("" when none) */
    uint64_t requests, succeeded, failed, cancelled, retries, fallbacks;
    uint64_t prompt_tokens, completion_tokens;
};
/* A distribution in milliseconds; percentiles by nearest rank. */
struct sl_serve_dist {
    uint64_t n;
    double p50, p95, p99, avg, max;
};
#define SL_SERVE_GROUPS_MAX 32
struct sl_serve_stats {
    struct sl_serve_group total;
    uint64_t streamed;
    double span_s;                /* first request in to last request out */
    struct sl_serve_dist latency; /* in to out, queue included */
    struct sl_serve_dist ttfb;    /* to the first byte sent; rows that sent one */
    /* the largest groups first; *_more: how many did not fit */
    unsigned n_status, n_model, n_deployment;
    unsigned status_more, model_more, deployment_more;
    struct sl_serve_group status[SL_SERVE_GROUPS_MAX], model[SL_SERVE_GROUPS_MAX],
        deployment[SL_SERVE_GROUPS_MAX];
};

/* Analytics of one run, computed by SQL in the database. Which figures
 * depends on the run's command: a serve run fills `serve`, any other
 * (simulate) the rest. */
struct sl_stats {
    int64_t run_id;
    char run_status[16];
    char command[16];
    struct sl_serve_stats serve;
    uint64_t requests, db_rows, succeeded, failed, cancelled, retries;
    unsigned concurrency, max_in_flight;
    double avg_processing_ms, p50_ms, p95_ms, p99_ms, avg_queue_ms;
    double makespan_s, ideal_makespan_s, efficiency;
};

enum sl_sync { SL_SYNC_FULL, SL_SYNC_NORMAL };

struct sl_store_options {
    unsigned batch_rows;  /* rows per transaction */
    unsigned max_batches; /* pending batches before append says UV_EAGAIN */
    unsigned flush_ms;    /* a partial batch goes out after this long */
    enum sl_sync sync;
    int create;     /* create the database if missing (stats: no) */
    int migrate;    /* apply pending migrations (else refuse an older schema) */
    int any_schema; /* accept any schema version, touch nothing (sluice migrate) */
    /* read and never write (stats): the journal mode is left as it is,
     * and no -wal or -shm is left behind, even by a user who may only read
     * the file (SQLite) */
    int read_only;
    /* PostgreSQL only */
    unsigned pool_size;          /* connections kept open (and batch writers) */
    unsigned max_overflow;       /* extra connections under load, closed when idle */
    unsigned pool_wait_ms;       /* longest wait for a free connection */
    unsigned connect_timeout_ms; /* one connection attempt, name lookup included */
    unsigned write_timeout_ms;   /* a batch write without an answer: connection lost; 0: none */
    int spool;                   /* keep rows in a spool file while the database is away */
    const char *spool_path;      /* outage spool; NULL: sluice-spool-<hash>.bin here */
    /* Overflow (serve): when the queue is at its bound, full batches go to
     * a spool file and are replayed once the backend has room, so append
     * says UV_EAGAIN only when that file is at its cap (or unusable). */
    int overflow_spool;
    const char *overflow_spool_path;   /* NULL: PATH.spool beside a SQLite file,
                                          sluice-overflow-<hash>.bin here for PostgreSQL */
    uint64_t overflow_spool_max_bytes; /* the cap (default 1 GiB) */
    /* where the store's own news goes (lost database, reconnects, spool);
     * NULL: stderr */
    void (*log)(const char *line, void *arg);
    void *log_arg;
};

void sl_store_options_default(struct sl_store_options *opts);
/* The defaults for a reader (stats, report): never create, migrate or
 * write the database, nor replay a spool. */
void sl_store_options_reader(struct sl_store_options *opts);

struct sl_store;
typedef void (*sl_store_cb)(struct sl_store *store, int status, void *arg);

enum sl_store_kind { SL_STORE_SQLITE, SL_STORE_POSTGRES };

/* Parses a --db value: "sqlite:PATH", a plain path, or a PostgreSQL URL
 * (postgresql:// or postgres://). path receives the SQLite path, or the
 * URL with its password masked. Writes a one-line reason (password masked)
 * into err on failure. Returns 0 or UV_EINVAL. */
int sl_store_parse_url(const char *url, char *path, size_t path_size, char *err, size_t err_size);
enum sl_store_kind sl_store_url_kind(const char *url);

/* Opens (creating and migrating as the options say) on the backend's
 * thread; cb runs on the loop with status 0 or an error whose one-line
 * reason is in sl_store_error(). On failure the store is still allocated:
 * close it. A database file that this open created is removed again. */
int sl_store_open(uv_loop_t *loop, const char *url, const struct sl_store_options *opts,
                  struct sl_store **out, sl_store_cb cb, void *arg);

const char *sl_store_error(const struct sl_store *store);
/* The file path, or the URL with its password masked: safe to print. */
const char *sl_store_path(const struct sl_store *store);
enum sl_store_kind sl_store_kind(const struct sl_store *store);

/* Creates a run row; cb gets the id via sl_store_run_id(). */
void sl_store_begin_run(struct sl_store *store, const struct sl_run_info *info, sl_store_cb cb,
                        void *arg);
int64_t sl_store_run_id(const struct sl_store *store);

/* 0, or UV_EAGAIN when full (keep the record; on_writable will be called),
 * or UV_EINVAL when its metadata is longer than SL_STORE_METADATA_MAX. */
int sl_store_append(struct sl_store *store, const struct sl_record *rec);
void sl_store_on_writable(struct sl_store *store, void (*cb)(struct sl_store *, void *), void *arg);

/* cb runs when everything appended so far is written (or failed). */
void sl_store_flush(struct sl_store *store, sl_store_cb cb, void *arg);

/* Marks the run finished ("completed" or "interrupted") with its measured
 * high-water mark of requests in flight. */
void sl_store_end_run(struct sl_store *store, const char *status, unsigned max_in_flight,
                      sl_store_cb cb, void *arg);

/* Computes analytics in the database. run_id 0 = the latest run. */
void sl_store_query_stats(struct sl_store *store, int64_t run_id, struct sl_stats *out,
                          sl_store_cb cb, void *arg);

/* The schema version of the database (0: empty). */
void sl_store_schema_version(struct sl_store *store, int *version, sl_store_cb cb, void *arg);
/* Moves the schema up or down to target, one transaction per step,
 * serialised across instances; *applied receives the steps taken. */
void sl_store_migrate(struct sl_store *store, int target, int *applied, sl_store_cb cb, void *arg);

/* Chat history: conversations, each with its messages in order. */
struct sl_message {
    int seq;
    const char *role, *content;
    int64_t created_us;
};
struct sl_conversation {
    int64_t id;
    const char *title;
    int64_t created_us;
    unsigned n_messages;
    struct sl_message *messages;
};
struct sl_conv_page {
    unsigned n;
    struct sl_conversation *convs;
    /* one allocation holds the page; free with sl_conv_page_free */
};
void sl_conv_page_free(struct sl_conv_page *page);

#define SL_CONV_PAGE_MAX 1000
/* Loads up to limit (<= SL_CONV_PAGE_MAX) conversations with id > after_id,
 * in id order, with all their messages: two queries whatever the page
 * size. *out is set on success (free it with sl_conv_page_free). */
void sl_store_load_conversations(struct sl_store *store, int64_t after_id, unsigned limit,
                                 struct sl_conv_page **out, sl_store_cb cb, void *arg);

/* Writes conversations and their messages (the gateway's body log) in one
 * transaction. For SQLite `convs` are read on the writer's thread; for
 * PostgreSQL `json` is the same conversations as one JSON array
 * [{"t": title, "c": created_us, "m": [[seq, role, content, created_us],
 * ...]}, ...], which the caller writes too (one statement inserts them
 * all). Both must live until cb. */
struct sl_conv_in {
    const char *title;
    int64_t created_us;
    unsigned n_messages;
    const struct sl_message *messages;
};
void sl_store_add_conversations(struct sl_store *store, const struct sl_conv_in *convs, unsigned n,
                                const char *json, sl_store_cb cb, void *arg);

/* An ad-hoc read query's result (the report's chunks): n_rows rows of
 * n_cols text cells, NULL for SQL NULL. Freed with sl_rows_free. */
struct sl_rows {
    unsigned n_rows, n_cols;
    const char **cells; /* row-major */
    char *text;         /* the cells' text (owned) */
};
void sl_rows_free(struct sl_rows *rows);
const char *sl_rows_cell(const struct sl_rows *rows, unsigned row, unsigned col);
double sl_rows_num(const struct sl_rows *rows, unsigned row, unsigned col);  /* NULL: 0 */
int64_t sl_rows_i64(const struct sl_rows *rows, unsigned row, unsigned col); /* NULL: 0 */

/* Runs one SELECT (in the store's dialect, no parameters: the caller
 * writes only numbers it computed into the text) and sets *out. sql must
 * live until cb. The result is bounded (store/rows.h): a query that
 * returns too much fails with UV_E2BIG. */
void sl_store_query_rows(struct sl_store *store, const char *sql, struct sl_rows **out,
                         sl_store_cb cb, void *arg);

/* Counters, on the loop thread. */
uint64_t sl_store_rows_written(const struct sl_store *store);
uint64_t sl_store_rows_failed(const struct sl_store *store);
uint64_t sl_store_rows_pending(const struct sl_store *store);
/* Rows kept in the spool file (PostgreSQL away) and not yet replayed. */
uint64_t sl_store_rows_spooled(const struct sl_store *store);
/* Rows ever put in a spool file by this store: the overflow spool (the
 * queue was full) and the outage spool (PostgreSQL away). */
uint64_t sl_store_rows_spooled_total(const struct sl_store *store);
/* The overflow spool file, or NULL when not enabled. */
const char *sl_store_overflow_path(const struct sl_store *store);
/* The spool file (PostgreSQL), or NULL. */
const char *sl_store_spool_path(const struct sl_store *store);
/* SQL statements sent to the database so far. */
uint64_t sl_store_queries(const struct sl_store *store);

/* Flushes what is pending (PostgreSQL away: into the spool), stops the
 * backend and frees the store after cb (status: 0, or the first write
 * error). cb gets the store with its final counters; it is freed when cb
 * returns. */
void sl_store_close(struct sl_store *store, sl_store_cb cb, void *arg);

#endif
