/* The recorder (see recorder.h).
 *
 * Design
 *  - Token counting goes to the recorder's own thread (core/worker: its
 *    completions do not make the loop spin, and it shares no lock with
 *    the loop) in batches of up to COUNT_BATCH items, or after
 *    COUNT_DELAY_MS: one thread wake-up per batch, not per request (a
 *    wake-up per request cost more than the counting). At most one batch
 *    is out at a time; while it is, the items in it belong to the counting
 *    thread, and new ones wait in `queue`. The thread shares the loop's
 *    core on a small machine, and a batch at normal priority held it for
 *    the whole batch (some 250 µs at 5,000 requests/s): it runs at nice 5
 *    (at nice 10 or SCHED_IDLE it fell behind a saturated loop, and the
 *    finished requests waiting for it cost more than its preemptions), and
 *    in a batch smaller than half of COUNT_BATCH (it keeps up) it yields
 *    the core every COUNT_YIELD_EVERY rows, so a loop that woke meanwhile
 *    runs first; a larger batch means it is behind, and it runs it out
 *    (docs/benchmarks.md, issue 12). If items pile up all the same
 *    (COUNTING_BEHIND), a batch goes to the thread pool. The
 *    same thread prints each row's record and metadata JSON (print_record,
 *    pure): the loop only numbers it and hands it to the store.
 *  - A record goes straight into the store when nothing waits before it.
 *    The store spools full batches to a file when it falls behind
 *    (store/overflow.c) and says UV_EAGAIN only when that file is at its
 *    cap; then records wait here, in a ring that grows (never drops), in
 *    order, until the store's on_writable drains it.
 *  - Closing waits for the batch out, the items queued, and the ring; the
 *    close callback may run from inside the loop that hands a batch's rows
 *    over (`delivering`), so the recorder is freed only after that loop.
 */
#include "gateway/recorder.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/offload.h"
#include "core/worker.h"
#include "http/json_scan.h"
#include "limits/prices.h"
#include "token/request_tokens.h"

#define COUNT_BATCH       256
#define COUNT_DELAY_MS    10
#define COUNT_YIELD_EVERY 8                  /* rows: about 40 µs of the core */
#define COUNTING_MAX      (64 * COUNT_BATCH) /* items queued or in a batch */
#define COUNTING_BEHIND   COUNT_BATCH        /* past this, batches go to the pool */
#define PENDING_INITIAL   1024

struct sl_recorder {
    uv_loop_t *loop;
    struct sl_store *store;
    uint64_t rows, seq;
    /* items waiting for their prompt tokens to be counted, and the batch
     * out on the thread pool */
    struct sl_list queue, batch;
    size_t queued, batch_n; /* items in queue; in the batch out */
    int job_active, eager, delivering;
    size_t counting;           /* items handed over and not yet delivered */
    uv_timer_t timer;          /* sends a partial batch after COUNT_DELAY_MS */
    struct sl_worker *counter; /* the background thread, or NULL: the pool */
    struct sl_worker_job job;  /* the batch out on it */
    /* records the store cannot take yet, oldest at head */
    struct sl_recorder_record *pending;
    size_t pending_head, pending_count, pending_cap;
    const struct sl_price_rule *prices; /* the config's, before the built-in table */
    size_t nprices;
    int closing;
    void (*close_cb)(uint64_t rows, void *arg);
    void *close_arg;
};

const char *sl_gw_outcome_name(enum sl_gw_outcome outcome)
{
    return outcome == SL_GW_OK ? "ok" : outcome == SL_GW_CANCELLED ? "cancelled" : "error";
}

static void maybe_closed(struct sl_recorder *rec);

/* ---- the store side ------------------------------------------------------ */

static int append(struct sl_recorder *rec, const struct sl_record *r)
{
    int rc = sl_store_append(rec->store, r);
    if (rc == 0)
        rec->rows++;
    return rc;
}

static void drain_pending(struct sl_store *store, void *arg)
{
    (void)store;
    struct sl_recorder *rec = arg;
    while (rec->pending_count > 0) {
        struct sl_recorder_record *p = &rec->pending[rec->pending_head];
        p->rec.metadata = p->meta;
        if (append(rec, &p->rec) == UV_EAGAIN)
            return;
        rec->pending_head = (rec->pending_head + 1) % rec->pending_cap;
        rec->pending_count--;
    }
    maybe_closed(rec);
}

/* Doubles the ring, unwrapping it; out of memory ends the process loudly
 * (a row is never dropped quietly). */
static void grow_pending(struct sl_recorder *rec)
{
    size_t cap = rec->pending_cap * 2;
    struct sl_recorder_record *p = malloc(cap * sizeof(*p));
    if (p == NULL) {
        fprintf(stderr, "sluice serve: out of memory for %zu waiting log rows\n",
                rec->pending_count);
        abort();
    }
    for (size_t i = 0; i < rec->pending_count; i++)
        p[i] = rec->pending[(rec->pending_head + i) % rec->pending_cap];
    free(rec->pending);
    rec->pending = p;
    rec->pending_cap = cap;
    rec->pending_head = 0;
}

/* The row's record and metadata JSON, all but its request id (the
 * recorder's sequence, given on the loop). Pure: runs on the counting
 * thread for counted items. */
static void print_record(const struct sl_gw_log_row *row, struct sl_recorder_record *p)
{
    char model[300], key[140], dep[140];
    sl_json_escape(model, sizeof(model), row->model);
    sl_json_escape(key, sizeof(key), row->key);
    sl_json_escape(dep, sizeof(dep), row->deployment);
    int n = snprintf(p->meta, sizeof(p->meta),
                     "{\"id\":\"%s\",\"key\":\"%s\",\"model\":\"%s\",\"deployment\":\"%s\","
                     "\"endpoint\":\"%s\",\"stream\":%s,\"status\":%d,\"ttfb_ms\":%.3f,"
                     "\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                     "\"prompt_tokens_counted\":%u,\"fallbacks\":%u}",
                     row->id, key, model, dep, row->endpoint, row->stream ? "true" : "false",
                     row->status, row->ttfb_ms, row->prompt_tokens, row->completion_tokens,
                     row->prompt_tokens_counted, row->fallbacks);
    if (n > 0 && (size_t)n < sizeof(p->meta) && row->cost_usd > 0) /* replace the closing } */
        n += snprintf(p->meta + n - 1, sizeof(p->meta) - (size_t)n + 1, ",\"cost_usd\":%.9g}",
                      row->cost_usd) -
             1;
    /* the attempts when they fit (the metadata's bound is the store's) */
    if (n > 0 && row->tries && row->tries[0] &&
        (size_t)n + strlen(row->tries) + 10 < sizeof(p->meta))
        n += snprintf(p->meta + n - 1, sizeof(p->meta) - (size_t)n + 1, ",\"tries\":%s}",
                      row->tries) -
             1;
    if (n < 0 || (size_t)n >= sizeof(p->meta))
        n = snprintf(p->meta, sizeof(p->meta), "{\"id\":\"%s\",\"status\":%d}", row->id,
                     row->status);
    int64_t queue_us = (int64_t)(row->queue_ms * 1000);
    p->rec = (struct sl_record){
        .created_us = row->started_us,
        .started_us = row->attempts > 0 ? row->started_us + queue_us : 0,
        .finished_us = row->started_us + (int64_t)(row->total_ms * 1000),
        .metadata = p->meta,
        .metadata_len = (uint32_t)n,
        .attempts = (uint16_t)(row->attempts > 65535 ? 65535 : row->attempts),
        .status = row->outcome == SL_GW_OK          ? SL_REQ_SUCCEEDED
                  : row->outcome == SL_GW_CANCELLED ? SL_REQ_CANCELLED
                                                    : SL_REQ_FAILED,
        .error = (uint8_t)row->error,
    };
}

/* Into the store now, or behind the rows that wait for it. */
static void add_printed(struct sl_recorder *rec, const struct sl_recorder_record *printed)
{
    struct sl_recorder_record p;
    p.rec = printed->rec;
    p.rec.request_id = ++rec->seq;
    p.rec.metadata = printed->meta;
    if (rec->pending_count == 0 && append(rec, &p.rec) != UV_EAGAIN)
        return;
    if (rec->pending_count == rec->pending_cap)
        grow_pending(rec);
    struct sl_recorder_record *slot =
        &rec->pending[(rec->pending_head + rec->pending_count) % rec->pending_cap];
    slot->rec = p.rec;
    memcpy(slot->meta, printed->meta, p.rec.metadata_len + 1);
    slot->rec.metadata = slot->meta;
    rec->pending_count++;
}

void sl_recorder_add(struct sl_recorder *rec, const struct sl_gw_log_row *row)
{
    struct sl_recorder_record p;
    print_record(row, &p);
    add_printed(rec, &p);
}

int sl_recorder_backlogged(const struct sl_recorder *rec)
{
    /* rows the store cannot take yet, or more finished requests waiting
     * for the pool to count them than it should ever hold: each keeps its
     * request (and body) alive */
    return rec->pending_count > 0 || rec->counting > COUNTING_MAX;
}

uint64_t sl_recorder_spooled(const struct sl_recorder *rec)
{
    return sl_store_rows_spooled_total(rec->store);
}

/* ---- token counting ------------------------------------------------------ */

/* Prompt tokens, counted as OpenAI bills them (token/request_tokens.c,
 * docs/tokens.md): CPU work, so on the thread pool, never on the loop. */
static void count_tokens(const struct sl_recorder *rec, struct sl_recorder_item *item)
{
    const struct sl_gw_log_row *row = &item->row;
    if (!item->body || !row->endpoint || !row->model)
        return;
    if (!item->counted)
        item->row.prompt_tokens_counted = (unsigned)sl_tok_count_request(
            row->endpoint, row->model, item->body, item->body_len, NULL);
    /* the cost of what the provider reported using, priced by the client's
     * model name, the config's prices first (cached input is not told apart
     * yet: priced as input, an upper bound) */
    struct sl_price price;
    if ((row->prompt_tokens || row->completion_tokens) &&
        sl_price_find_with(rec->prices, rec->nprices, sl_price_table_builtin(), row->model, &price))
        item->row.cost_usd = sl_price_cost(&price, row->prompt_tokens, 0, row->completion_tokens);
}

/* Counts and prints one item: the CPU work of a row, off the loop. */
static void count_and_print(const struct sl_recorder *rec, struct sl_recorder_item *item)
{
    count_tokens(rec, item);
    print_record(&item->row, &item->out);
    item->printed = 1;
}

/* Runs on a pool thread: the batch list belongs to the job until done. */
static void count_batch(void *arg)
{
    struct sl_recorder *rec = arg;
    int yield = rec->batch_n < COUNT_BATCH / 2;
    unsigned k = 0;
    for (struct sl_list *n = rec->batch.next; n != &rec->batch; n = n->next) {
        count_and_print(rec, sl_container_of(n, struct sl_recorder_item, node));
        if (yield && ++k % COUNT_YIELD_EVERY == 0)
            sched_yield(); /* a loop waiting for the core gets it now */
    }
}

static void start_count_job(struct sl_recorder *rec);

static void count_on_worker(struct sl_worker_job *job)
{
    count_batch(sl_container_of(job, struct sl_recorder, job));
}

static void on_count_timer(uv_timer_t *t)
{
    start_count_job(t->data);
}

static void on_batch_counted(void *arg, int status)
{
    struct sl_recorder *rec = arg;
    (void)status;
    rec->delivering = 1; /* a done() may end the gateway, and it this recorder */
    struct sl_list *n;
    while ((n = sl_list_pop_front(&rec->batch)) != NULL) {
        struct sl_recorder_item *item = sl_container_of(n, struct sl_recorder_item, node);
        rec->counting--;
        if (item->printed)
            add_printed(rec, &item->out);
        else
            sl_recorder_add(rec, &item->row); /* the job never ran */
        item->done(item);
    }
    /* only now: a done() that started the next job would take over the
     * batch while this loop still walks it */
    rec->job_active = 0;
    rec->delivering = 0;
    start_count_job(rec);
    maybe_closed(rec);
}

static void on_worker_counted(struct sl_worker_job *job)
{
    on_batch_counted(sl_container_of(job, struct sl_recorder, job), 0);
}

static void start_count_job(struct sl_recorder *rec)
{
    if (rec->job_active || sl_list_empty(&rec->queue))
        return;
    rec->batch_n = rec->queued;
    rec->queued = 0;
    uv_timer_stop(&rec->timer);
    /* move the whole queue into the batch */
    rec->batch.next = rec->queue.next;
    rec->batch.prev = rec->queue.prev;
    rec->batch.next->prev = &rec->batch;
    rec->batch.prev->next = &rec->batch;
    sl_list_init(&rec->queue);
    rec->job_active = 1;
    if (rec->counter && rec->counting <= COUNTING_BEHIND) {
        rec->job.work = count_on_worker;
        rec->job.done = on_worker_counted;
        sl_worker_submit(rec->counter, &rec->job);
    } else if (sl_offload(rec->loop, count_batch, on_batch_counted, rec, NULL) != 0)
        on_batch_counted(rec, UV_ENOMEM); /* count nothing, but record */
}

void sl_recorder_count_and_add(struct sl_recorder *rec, struct sl_recorder_item *item)
{
    item->printed = 0;
    sl_list_push_back(&rec->queue, &item->node);
    rec->counting++;
    if (++rec->queued >= COUNT_BATCH || rec->eager)
        start_count_job(rec);
    else if (!uv_is_active((uv_handle_t *)&rec->timer))
        uv_timer_start(&rec->timer, on_count_timer, COUNT_DELAY_MS, 0);
}

void sl_recorder_set_prices(struct sl_recorder *rec, const struct sl_price_rule *rules, size_t n)
{
    rec->prices = rules;
    rec->nprices = n;
}

void sl_recorder_flush(struct sl_recorder *rec)
{
    rec->eager = 1;
    start_count_job(rec);
}

/* ---- lifecycle ----------------------------------------------------------- */

int sl_recorder_new(uv_loop_t *loop, struct sl_store *store, struct sl_recorder **out)
{
    struct sl_recorder *rec = calloc(1, sizeof(*rec));
    if (rec == NULL)
        return UV_ENOMEM;
    rec->pending_cap = PENDING_INITIAL;
    rec->pending = calloc(rec->pending_cap, sizeof(*rec->pending));
    if (rec->pending == NULL) {
        free(rec);
        return UV_ENOMEM;
    }
    rec->loop = loop;
    rec->store = store;
    sl_list_init(&rec->queue);
    sl_list_init(&rec->batch);
    if (sl_worker_new(loop, "sluice-count", SL_THREAD_MIDDLE, &rec->counter) != 0)
        rec->counter = NULL; /* the pool counts */
    uv_timer_init(loop, &rec->timer);
    rec->timer.data = rec;
    sl_store_on_writable(store, drain_pending, rec);
    *out = rec;
    return 0;
}

static void on_counter_closed(void *data)
{
    struct sl_recorder *rec = data;
    void (*cb)(uint64_t, void *) = rec->close_cb;
    void *arg = rec->close_arg;
    uint64_t rows = rec->rows;
    free(rec->pending);
    free(rec);
    cb(rows, arg);
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct sl_recorder *rec = handle->data;
    if (rec->counter)
        sl_worker_close(rec->counter, on_counter_closed, rec);
    else
        on_counter_closed(rec);
}

static void maybe_closed(struct sl_recorder *rec)
{
    if (!rec->closing || rec->delivering || rec->job_active || !sl_list_empty(&rec->queue) ||
        rec->pending_count > 0 || uv_is_closing((uv_handle_t *)&rec->timer))
        return;
    sl_store_on_writable(rec->store, NULL, NULL);
    uv_close((uv_handle_t *)&rec->timer, on_timer_closed);
}

void sl_recorder_close(struct sl_recorder *rec, void (*cb)(uint64_t rows, void *arg), void *arg)
{
    rec->closing = 1;
    rec->close_cb = cb;
    rec->close_arg = arg;
    sl_recorder_flush(rec);
    maybe_closed(rec);
}
