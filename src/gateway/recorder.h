/* The recorder: the whole way from a finished gateway request to the
 * store. It counts the prompt's tokens on the thread pool (in batches),
 * turns each log row into a store record, and holds the records the store
 * cannot take yet in a queue that it drains when the store has room again.
 * While that queue holds anything, or the requests waiting to be counted
 * pass a fixed bound, the recorder is "backlogged": the gateway then
 * refuses new API requests, so both stay bounded by the requests that were
 * already in flight. */
#ifndef SL_GW_RECORDER_H
#define SL_GW_RECORDER_H

#include <stdint.h>
#include <uv.h>

#include "core/errclass.h"
#include "core/list.h"
#include "limits/prices.h"
#include "store/store.h"

enum sl_gw_outcome { SL_GW_OK, SL_GW_ERROR, SL_GW_CANCELLED };
const char *sl_gw_outcome_name(enum sl_gw_outcome outcome); /* "ok", "error", "cancelled" */

/* One row per request, handed to the recorder when the request is over. */
struct sl_gw_log_row {
    char id[40];
    const char *key;        /* the gateway key's name, or "" */
    const char *model;      /* as the client asked */
    const char *deployment; /* the last one tried, or "" */
    const char *endpoint;   /* "chat/completions", ... */
    int64_t started_us;     /* wall clock */
    unsigned attempts;
    unsigned fallbacks;                 /* deployments tried after the first */
    double queue_ms, ttfb_ms, total_ms; /* ttfb: to the first byte sent to the client */
    int status;                         /* HTTP status sent to the client */
    enum sl_err error;                  /* SL_OK, or why it failed */
    enum sl_gw_outcome outcome;
    int stream;
    unsigned prompt_tokens, completion_tokens; /* from the upstream's usage */
    unsigned prompt_tokens_counted;            /* counted on the thread pool */
    double cost_usd; /* from the upstream's usage and the price table; 0: unknown */
    /* a retried or fallen-back request's attempts, as JSON
     * [[deployment, HTTP status (0: none), error class ("": none), ms], ...]; NULL or "" */
    const char *tries;
};

/* A row whose prompt is still to be counted. It lives inside the caller's
 * request (no allocation per row); the caller keeps it, the row's strings
 * and the body alive until done() is called, after which the recorder
 * never touches it again. */
/* A row as the store takes it: the record and its metadata JSON. */
struct sl_recorder_record {
    struct sl_record rec;
    char meta[SL_STORE_METADATA_MAX];
};

struct sl_recorder_item {
    struct sl_list node;
    struct sl_gw_log_row row;
    /* printed by the counting thread with the count (not on the loop) */
    struct sl_recorder_record out;
    int printed;
    const char *body; /* the client's request body */
    size_t body_len;
    int counted; /* row.prompt_tokens_counted is known already (counted for admission) */
    void (*done)(struct sl_recorder_item *item);
};

struct sl_recorder;

/* Records into `store`, which must outlive the recorder. */
int sl_recorder_new(uv_loop_t *loop, struct sl_store *store, struct sl_recorder **out);

/* Records a row now, without counting (a request refused at the front). */
void sl_recorder_add(struct sl_recorder *rec, const struct sl_gw_log_row *row);
/* Counts the item's prompt tokens (in the next batch), then records it and
 * calls item->done. */
void sl_recorder_count_and_add(struct sl_recorder *rec, struct sl_recorder_item *item);
/* Prices the config sets (looked up before the built-in table); the rules
 * must outlive the recorder. */
void sl_recorder_set_prices(struct sl_recorder *rec, const struct sl_price_rule *rules, size_t n);
/* Sends what waits for the batch timer now, and every later item at once
 * (the gateway is shutting down). */
void sl_recorder_flush(struct sl_recorder *rec);

/* Records the store cannot take yet are waiting, or too many requests wait
 * for their count: refuse new work. */
int sl_recorder_backlogged(const struct sl_recorder *rec);
/* Rows ever sent to a spool file (/metrics). */
uint64_t sl_recorder_spooled(const struct sl_recorder *rec);

/* Once every item handed over is recorded and every waiting record is in
 * the store: cb(rows recorded, arg), and the recorder is freed. No item
 * may be handed over after. */
void sl_recorder_close(struct sl_recorder *rec, void (*cb)(uint64_t rows, void *arg), void *arg);

#endif
