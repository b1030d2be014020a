/* A virtual key's record and the pure rules around it: budget periods in
 * UTC, the allowed-model patterns, times as text, and the JSON the admin
 * API and `sluice keys --json` speak. Nothing here touches a database or a
 * clock (the caller passes `now`), so all of it is tested without either.
 * The database side is keys.h. */
#ifndef SL_KEY_RECORD_H
#define SL_KEY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SL_KEY_ID_LEN      20 /* "key_" + 16 lowercase hex */
#define SL_KEY_SECRET_LEN  46 /* "sk-sl-" + 40 base64url characters */
#define SL_KEY_PREFIX_LEN  12 /* the secret's first characters, shown in lists */
#define SL_KEY_NAME_MAX    63 /* bytes, for name and team */
#define SL_KEY_MODELS_MAX  511
#define SL_KEY_META_MAX    1023 /* metadata: a JSON object of at most this many bytes */
#define SL_KEY_SECRET_HEAD "sk-sl-"

enum sl_key_period { SL_KEY_TOTAL, SL_KEY_DAILY, SL_KEY_WEEKLY, SL_KEY_MONTHLY };

struct sl_key_record {
    char id[SL_KEY_ID_LEN + 4];
    char name[SL_KEY_NAME_MAX + 1];
    char team[SL_KEY_NAME_MAX + 1];
    char prefix[SL_KEY_PREFIX_LEN + 4];
    char models[SL_KEY_MODELS_MAX + 1]; /* comma-separated globs; "" = any model */
    unsigned rpm, tpm, max_parallel;    /* 0 = no limit */
    double budget_usd;                  /* 0 = no budget */
    enum sl_key_period period;
    int64_t expires_us; /* 0 = never */
    int64_t revoked_us; /* 0 = not revoked; once set, never cleared */
    int64_t created_us, updated_us;
    int enabled;
    char metadata[SL_KEY_META_MAX + 1]; /* a JSON object, as given */
    unsigned char sha256[32];           /* of the secret */
};

/* A key's spend in one budget period. */
struct sl_key_usage {
    int64_t period_start_us, period_end_us; /* end: INT64_MAX for "total" */
    double usd;
    uint64_t requests, prompt_tokens, completion_tokens;
};

/* Which fields of a record an update (or a create body) gives. */
enum {
    SL_KEY_F_NAME = 1u << 0,
    SL_KEY_F_TEAM = 1u << 1,
    SL_KEY_F_MODELS = 1u << 2,
    SL_KEY_F_RPM = 1u << 3,
    SL_KEY_F_TPM = 1u << 4,
    SL_KEY_F_MAX_PARALLEL = 1u << 5,
    SL_KEY_F_BUDGET = 1u << 6,
    SL_KEY_F_PERIOD = 1u << 7,
    SL_KEY_F_EXPIRES = 1u << 8,
    SL_KEY_F_METADATA = 1u << 9,
    SL_KEY_F_ENABLED = 1u << 10,
};

/* Whether a key may be used at now_us; a revoked key is revoked whatever
 * else holds, then an expired one is expired, then enabled decides. */
enum sl_key_state { SL_KEY_ACTIVE, SL_KEY_DISABLED, SL_KEY_EXPIRED, SL_KEY_REVOKED };
enum sl_key_state sl_key_record_state(const struct sl_key_record *rec, int64_t now_us);
/* "active", "disabled", "expired", "revoked" */
const char *sl_key_state_name(enum sl_key_state state);

/* A new record's defaults: no limits, no budget, "total", never expires,
 * enabled, metadata {}. */
void sl_key_record_init(struct sl_key_record *rec);

const char *sl_key_period_name(enum sl_key_period period);
/* 0, or -1 when text is not total, daily, weekly or monthly. */
int sl_key_period_parse(const char *text, size_t len, enum sl_key_period *out);

/* The start of the period containing now_us, in UTC: midnight (daily),
 * Monday 00:00 (weekly), the 1st 00:00 (monthly), 0 (total). */
int64_t sl_key_period_start(enum sl_key_period period, int64_t now_us);
/* The start of the next period (when a budget resets); INT64_MAX for total. */
int64_t sl_key_period_end(enum sl_key_period period, int64_t now_us);

/* Whether model (len bytes) matches one of the comma-separated glob
 * patterns ('*' any run, '?' one byte; blanks around a pattern ignored).
 * "" allows every model. */
int sl_key_models_allow(const char *patterns, const char *model, size_t len);

/* "YYYY-MM-DDTHH:MM:SSZ" into out (21 bytes). */
void sl_key_time_iso(int64_t us, char out[21]);
/* An ISO-8601 UTC time ("YYYY-MM-DDTHH:MM:SSZ", or "YYYY-MM-DD" for
 * midnight), or, when now_us > 0, a time from now: "+30d", "+12h", "+90m",
 * "+45s". 0, or -1 when it is none of these. */
int sl_key_time_parse(const char *text, size_t len, int64_t now_us, int64_t *out_us);

/* Checks the fields of mask in rec (lengths, a name of printable
 * characters, patterns, a finite non-negative budget, metadata a JSON
 * object): 0, or -1 with a one-line reason. */
int sl_key_record_check(const struct sl_key_record *rec, unsigned mask, char *err, size_t err_size);

/* Appends the record as the admin API's JSON object to out. 0, or the
 * sl_buf error (UV_ENOBUFS, UV_ENOMEM). */
int sl_key_record_json(const struct sl_key_record *rec, struct sl_buf *out);

/* Reads a create or update body: sets the fields it gives in rec and their
 * bits in *mask (fields it does not give are left alone). Read-only fields
 * (id, prefix, revoked, times), unknown fields, wrong types and bad values
 * are refused: -1 with a one-line reason. */
int sl_key_update_parse_json(const char *body, size_t len, struct sl_key_record *rec,
                             unsigned *mask, char *err, size_t err_size);

#endif
