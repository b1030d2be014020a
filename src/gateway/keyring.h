/* The gateway's API keys and their limits.
 *
 * Every key the gateway knows is one entry: the static keys of the config
 * (`keys:`), and with virtual keys the keys in the database, added and
 * updated in place by keysync as the database changes (an entry is never
 * freed while the gateway runs: a request holds a pointer to its key, and
 * a revoked key stays as a refusal). Entries are found by the SHA-256 of
 * the secret a client sends.
 *
 * Each entry holds its limits' state on the loop thread: requests in
 * flight (max_parallel), RPM and TPM windows (limits/rate.h) and its
 * refusals by limit for /metrics. A request admitted with
 * sl_gw_key_admit() holds a ticket that sl_gw_key_settle() hands back
 * when it is over: in flight -1, the token reservation corrected to the
 * real usage. Owner: the gateway (sl_gw_keyring_free frees every entry). */
#ifndef SL_GW_KEYRING_H
#define SL_GW_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/list.h"
#include "core/str.h"
#include "gateway/config.h"
#include "gateway/shared.h"
#include "limits/rate.h"
#include "store/key_record.h"

enum sl_gw_limit {
    SL_GW_LIMIT_RPM,
    SL_GW_LIMIT_TPM,
    SL_GW_LIMIT_PARALLEL,
    SL_GW_LIMIT_BUDGET,
    SL_GW_LIMIT__COUNT
};
/* "rpm", "tpm", "max_parallel", "budget" */
const char *sl_gw_limit_name(enum sl_gw_limit limit);

/* What a key allows; from the config or the database. */
struct sl_gw_key_settings {
    char id[24]; /* the database id; "" for a static key */
    char name[64];
    char team[64];
    char models[512]; /* comma-separated patterns; "" allows every model */
    unsigned char sha256[32];
    unsigned rpm, tpm, max_parallel; /* 0: no limit */
    double budget_usd;               /* 0: none */
    enum sl_key_period period;       /* the budget's */
    int64_t expires_us;              /* wall clock; 0: never */
    int enabled, revoked;
};

/* A database key's settings from its record. */
void sl_gw_key_settings_from(struct sl_gw_key_settings *s, const struct sl_key_record *rec);

/* Spend charged in one budget period (its start), not yet written. */
struct sl_gw_spend_bucket {
    double usd;
    uint64_t requests, prompt_tokens, completion_tokens;
    int64_t period_start_us;
};

/* A key's spend: what the database held at the last poll for its period
 * (the poll came after every flush before it), what is being written now
 * (the current period's part), and what was charged since, by period:
 * `now`, and `prev` for what was charged before a period ended and is not
 * written yet (keysync moves them along). */
struct sl_gw_key_spend {
    double db_usd;
    int64_t period_start_us; /* db_usd's period */
    double flushing_usd;
    int64_t flushing_period_us;
    struct sl_gw_spend_bucket now, prev;
};

struct sl_gw_key_entry {
    struct sl_gw_key_settings s;
    struct sl_gw_key_entry *next_by_digest, *next_by_id; /* hash chains */
    struct sl_list node;                                 /* every entry, oldest first */
    struct sl_rate rate;         /* local; with Redis, the fallback's share */
    unsigned max_parallel_local; /* the same */
    struct sl_gw_shared_limits shared;
    unsigned in_flight;
    uint64_t refusals[SL_GW_LIMIT__COUNT];
    struct sl_gw_key_spend spend;
};

/* What an admitted request took from its key. */
struct sl_gw_key_ticket {
    struct sl_rate_ticket rate;
    int held; /* counts in the key's in_flight */
};

/* Why a request was refused: the HTTP answer and the limit. */
struct sl_gw_refusal {
    int status; /* 401, 403 or 429 */
    const char *type, *code;
    enum sl_gw_limit limit; /* for 429 */
    unsigned retry_after_s; /* 0: none */
    char message[200];
};

struct sl_gw_keyring;

/* The static keys of cfg. NULL only if memory ran out. */
struct sl_gw_keyring *sl_gw_keyring_new(const struct sl_gw_config *cfg);
void sl_gw_keyring_free(struct sl_gw_keyring *ring);

/* Adds a key, or updates the entry with the same id (database keys; its
 * limits' state stays). NULL only if memory ran out. */
struct sl_gw_key_entry *sl_gw_keyring_put(struct sl_gw_keyring *ring,
                                          const struct sl_gw_key_settings *s);
size_t sl_gw_keyring_count(const struct sl_gw_keyring *ring);
/* The database key with this id, or NULL. */
struct sl_gw_key_entry *sl_gw_keyring_get(struct sl_gw_keyring *ring, const char *id);
struct sl_list *sl_gw_keyring_entries(struct sl_gw_keyring *ring);

/* The key of an "Authorization: Bearer KEY" header: the entry, or NULL with
 * *why -1 (no Bearer token) or -2 (no such key). A disabled, revoked or
 * expired key is returned: sl_gw_key_usable says so. */
struct sl_gw_key_entry *sl_gw_keyring_find(struct sl_gw_keyring *ring,
                                           const struct sl_str *authorization, int *why);

/* 0 if the key may be used at wall time now_us, else -1 with a 401 in *no. */
int sl_gw_key_usable(const struct sl_gw_key_entry *k, int64_t now_us, struct sl_gw_refusal *no);
/* 0 if the key may call `model`, else -1 with a 403 in *no. */
int sl_gw_key_allows(const struct sl_gw_key_entry *k, struct sl_str model,
                     struct sl_gw_refusal *no);

/* Whether a request of this key needs its prompt counted before admission
 * (the key has a TPM limit). */
int sl_gw_key_needs_tokens(const struct sl_gw_key_entry *k);

/* Admits one request reserving `tokens` at monotonic time now_us (wall
 * time wall_us, for the budget period): 0 with the ticket filled, or -1
 * with a 429 in *no (and the refusal counted). A key over its budget is
 * refused with code insufficient_quota until its period ends. */
int sl_gw_key_admit(struct sl_gw_key_entry *k, uint64_t now_us, int64_t wall_us, uint64_t tokens,
                    struct sl_gw_key_ticket *t, struct sl_gw_refusal *no);
/* 429 for `limit` (the refusal counted), with the message that says
 * which; tokens: the request's reservation. */
void sl_gw_key_refusal(struct sl_gw_key_entry *k, enum sl_gw_limit limit, uint64_t retry_after_us,
                       uint64_t tokens, struct sl_gw_refusal *no);
/* 429 insufficient_quota (counted), with Retry-After at the period's end. */
void sl_gw_key_budget_refusal(struct sl_gw_key_entry *k, int64_t wall_us, struct sl_gw_refusal *no);
/* -1 with a 429 insufficient_quota in *no when the key's spend (as this
 * instance knows it) has reached its budget. */
int sl_gw_key_over_budget(struct sl_gw_key_entry *k, int64_t wall_us, struct sl_gw_refusal *no);
/* A limit's share on one of `divisor` instances: at least 1 (0 stays 0). */
unsigned sl_gw_share(unsigned limit, unsigned divisor);
/* Adds spend to the key's bucket of its period. */
void sl_gw_key_spend_add(struct sl_gw_key_entry *k, const struct sl_gw_spend_bucket *b);
/* The key's spend in the period containing wall_us (USD), as this
 * instance knows it; sl_gw_key_unwritten: only what this instance charged
 * in it and has not written to the database yet. */
double sl_gw_key_spent(const struct sl_gw_key_entry *k, int64_t wall_us);
double sl_gw_key_unwritten(const struct sl_gw_key_entry *k, int64_t wall_us);
/* A finished request's cost and usage, charged to its key in the period
 * containing wall_us. */
void sl_gw_key_charge(struct sl_gw_key_entry *k, int64_t wall_us, double usd,
                      uint64_t prompt_tokens, uint64_t completion_tokens);
/* The request is over and used `tokens`. Safe on an empty ticket. */
void sl_gw_key_settle(struct sl_gw_key_entry *k, uint64_t now_us, struct sl_gw_key_ticket *t,
                      uint64_t tokens);

/* sluice_limit_refusals_total, for every key that has a limit. */
void sl_gw_keyring_render_metrics(struct sl_gw_keyring *ring, struct sl_buf *out);

#endif
