#include "gateway/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/auth.h"
#include "gateway/metrics.h"

#define MIN_BUCKETS 64

struct sl_gw_keyring {
    unsigned divisor; /* with Redis: the local limits (the fallback) are shares */
    struct sl_list entries;
    size_t count;
    struct sl_gw_key_entry **buckets; /* by the digest's first 8 bytes */
    struct sl_gw_key_entry **by_id;   /* database keys by id (FNV-1a) */
    size_t nbuckets;                  /* a power of two */
};

const char *sl_gw_limit_name(enum sl_gw_limit limit)
{
    static const char *const names[] = {"rpm", "tpm", "max_parallel", "budget"};
    return names[limit];
}

/* The digest is uniformly random already: its first bytes are the hash. */
static size_t bucket_of(const struct sl_gw_keyring *ring, const unsigned char *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof h);
    return (size_t)h & (ring->nbuckets - 1);
}

static void link_digest(struct sl_gw_keyring *ring, struct sl_gw_key_entry *k)
{
    size_t b = bucket_of(ring, k->s.sha256);
    k->next_by_digest = ring->buckets[b];
    ring->buckets[b] = k;
}

static size_t id_bucket(const struct sl_gw_keyring *ring, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)h & (ring->nbuckets - 1);
}

static void link_entry(struct sl_gw_keyring *ring, struct sl_gw_key_entry *k)
{
    link_digest(ring, k);
    if (k->s.id[0]) {
        size_t b = id_bucket(ring, k->s.id);
        k->next_by_id = ring->by_id[b];
        ring->by_id[b] = k;
    }
}

static void unlink_digest(struct sl_gw_keyring *ring, struct sl_gw_key_entry *k)
{
    struct sl_gw_key_entry **p = &ring->buckets[bucket_of(ring, k->s.sha256)];
    while (*p && *p != k)
        p = &(*p)->next_by_digest;
    if (*p)
        *p = k->next_by_digest;
}

/* Keeps chains short: at most one entry per bucket on average. */
static int grow(struct sl_gw_keyring *ring)
{
    size_t n = ring->nbuckets ? ring->nbuckets * 2 : MIN_BUCKETS;
    struct sl_gw_key_entry **b = calloc(n, sizeof *b), **ids = calloc(n, sizeof *ids);
    if (!b || !ids) {
        free(b);
        free(ids);
        return -1;
    }
    free(ring->buckets);
    free(ring->by_id);
    ring->buckets = b;
    ring->by_id = ids;
    ring->nbuckets = n;
    for (struct sl_list *i = ring->entries.next; i != &ring->entries; i = i->next)
        link_entry(ring, sl_container_of(i, struct sl_gw_key_entry, node));
    return 0;
}

struct sl_gw_keyring *sl_gw_keyring_new(const struct sl_gw_config *cfg)
{
    struct sl_gw_keyring *ring = calloc(1, sizeof *ring);
    if (!ring)
        return NULL;
    sl_list_init(&ring->entries);
    ring->divisor = cfg->redis.url[0] && cfg->redis.instances > 1 ? cfg->redis.instances : 1;
    if (grow(ring) != 0) {
        free(ring);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nkeys; i++) {
        const struct sl_gw_key *c = &cfg->keys[i];
        struct sl_gw_key_settings s = {
            .rpm = c->rpm, .tpm = c->tpm, .max_parallel = c->max_parallel, .enabled = 1};
        snprintf(s.name, sizeof s.name, "%s", c->name);
        snprintf(s.models, sizeof s.models, "%s", c->models);
        memcpy(s.sha256, c->sha256, 32);
        if (!sl_gw_keyring_put(ring, &s)) {
            sl_gw_keyring_free(ring);
            return NULL;
        }
    }
    return ring;
}

void sl_gw_keyring_free(struct sl_gw_keyring *ring)
{
    if (!ring)
        return;
    struct sl_list *i, *next;
    for (i = ring->entries.next; i != &ring->entries; i = next) {
        next = i->next;
        struct sl_gw_key_entry *k = sl_container_of(i, struct sl_gw_key_entry, node);
        sl_rate_release(&k->rate);
        free(k);
    }
    free(ring->buckets);
    free(ring->by_id);
    free(ring);
}

static struct sl_gw_key_entry *find_id(struct sl_gw_keyring *ring, const char *id)
{
    struct sl_gw_key_entry *k = ring->by_id[id_bucket(ring, id)];
    while (k && strcmp(k->s.id, id))
        k = k->next_by_id;
    return k;
}

/* A limit's local share: limit / divisor, at least 1 (0 stays "none"). */
unsigned sl_gw_share(unsigned limit, unsigned divisor)
{
    if (divisor == 0)
        divisor = 1;
    return limit == 0 ? 0 : limit / divisor ? limit / divisor : 1;
}

static void set_local(const struct sl_gw_keyring *ring, struct sl_gw_key_entry *k, int init)
{
    unsigned d = ring->divisor;
    if (init)
        sl_rate_init(&k->rate, sl_gw_share(k->s.rpm, d), sl_gw_share(k->s.tpm, d));
    else
        sl_rate_set(&k->rate, sl_gw_share(k->s.rpm, d), sl_gw_share(k->s.tpm, d));
    k->max_parallel_local = sl_gw_share(k->s.max_parallel, d);
}

struct sl_gw_key_entry *sl_gw_keyring_put(struct sl_gw_keyring *ring,
                                          const struct sl_gw_key_settings *s)
{
    struct sl_gw_key_entry *k = s->id[0] ? find_id(ring, s->id) : NULL;
    if (k) {
        if (memcmp(k->s.sha256, s->sha256, 32)) { /* rotated */
            unlink_digest(ring, k);
            k->s = *s;
            link_digest(ring, k);
        } else {
            k->s = *s;
        }
        set_local(ring, k, 0);
        return k;
    }
    if (ring->count + 1 > ring->nbuckets && grow(ring) != 0)
        return NULL;
    k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->s = *s;
    set_local(ring, k, 1);
    char name[80];
    snprintf(name, sizeof name, "%s%s", s->id[0] ? "" : "static:", s->id[0] ? s->id : s->name);
    sl_gw_shared_limits_init(&k->shared, "k", name);
    sl_list_push_back(&ring->entries, &k->node);
    link_entry(ring, k);
    ring->count++;
    return k;
}

struct sl_gw_key_entry *sl_gw_keyring_get(struct sl_gw_keyring *ring, const char *id)
{
    return id[0] ? find_id(ring, id) : NULL;
}

size_t sl_gw_keyring_count(const struct sl_gw_keyring *ring)
{
    return ring->count;
}

struct sl_list *sl_gw_keyring_entries(struct sl_gw_keyring *ring)
{
    return &ring->entries;
}

struct sl_gw_key_entry *sl_gw_keyring_find(struct sl_gw_keyring *ring,
                                           const struct sl_str *authorization, int *why)
{
    unsigned char digest[32];
    *why = -1;
    if (sl_gw_bearer_digest(authorization, digest) != 0)
        return NULL;
    /* the chain is chosen by the digest, which an attacker cannot steer
     * towards a key without knowing it; each compare is constant time */
    *why = -2;
    for (struct sl_gw_key_entry *k = ring->buckets[bucket_of(ring, digest)]; k;
         k = k->next_by_digest)
        if (sl_ct_equal(digest, k->s.sha256, 32))
            return k;
    return NULL;
}

void sl_gw_key_settings_from(struct sl_gw_key_settings *s, const struct sl_key_record *rec)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", rec->id);
    snprintf(s->name, sizeof s->name, "%s", rec->name);
    snprintf(s->team, sizeof s->team, "%s", rec->team);
    snprintf(s->models, sizeof s->models, "%s", rec->models);
    memcpy(s->sha256, rec->sha256, 32);
    s->rpm = rec->rpm;
    s->tpm = rec->tpm;
    s->max_parallel = rec->max_parallel;
    s->budget_usd = rec->budget_usd;
    s->period = rec->period;
    s->expires_us = rec->expires_us;
    s->enabled = rec->enabled;
    s->revoked = rec->revoked_us != 0;
}

static int refuse(struct sl_gw_refusal *no, int status, const char *type, const char *code,
                  const char *fmt, const char *name)
{
    no->status = status;
    no->type = type;
    no->code = code;
    no->retry_after_s = 0;
    snprintf(no->message, sizeof no->message, fmt, name);
    return -1;
}

int sl_gw_key_usable(const struct sl_gw_key_entry *k, int64_t now_us, struct sl_gw_refusal *no)
{
    if (k->s.revoked)
        return refuse(no, 401, "invalid_request_error", "invalid_api_key",
                      "the API key '%s' was revoked", k->s.name);
    if (!k->s.enabled)
        return refuse(no, 401, "invalid_request_error", "invalid_api_key",
                      "the API key '%s' is disabled", k->s.name);
    if (k->s.expires_us && now_us >= k->s.expires_us)
        return refuse(no, 401, "invalid_request_error", "invalid_api_key",
                      "the API key '%s' has expired", k->s.name);
    return 0;
}

int sl_gw_key_allows(const struct sl_gw_key_entry *k, struct sl_str model, struct sl_gw_refusal *no)
{
    if (sl_key_models_allow(k->s.models, model.ptr, model.len))
        return 0;
    no->status = 403;
    no->type = "permission_error";
    no->code = "model_not_allowed";
    no->retry_after_s = 0;
    snprintf(no->message, sizeof no->message, "the API key '%s' may not call the model '%.*s'",
             k->s.name, (int)(model.len > 128 ? 128 : model.len), model.ptr);
    return -1;
}

int sl_gw_key_needs_tokens(const struct sl_gw_key_entry *k)
{
    return k && k->s.tpm;
}

double sl_gw_key_unwritten(const struct sl_gw_key_entry *k, int64_t wall_us)
{
    const struct sl_gw_key_spend *sp = &k->spend;
    int64_t p = sl_key_period_start(k->s.period, wall_us);
    return (sp->now.period_start_us == p ? sp->now.usd : 0) +
           (sp->prev.period_start_us == p ? sp->prev.usd : 0) +
           (sp->flushing_period_us == p ? sp->flushing_usd : 0);
}

double sl_gw_key_spent(const struct sl_gw_key_entry *k, int64_t wall_us)
{
    /* the database's figure is for the period of the last sync: just after
     * a period ends (until the next sync) it is last period's */
    int64_t p = sl_key_period_start(k->s.period, wall_us);
    return (k->spend.period_start_us == p ? k->spend.db_usd : 0) + sl_gw_key_unwritten(k, wall_us);
}

static void bucket_merge(struct sl_gw_spend_bucket *to, const struct sl_gw_spend_bucket *b)
{
    to->usd += b->usd;
    to->requests += b->requests;
    to->prompt_tokens += b->prompt_tokens;
    to->completion_tokens += b->completion_tokens;
    to->period_start_us = b->period_start_us;
}

void sl_gw_key_spend_add(struct sl_gw_key_entry *k, const struct sl_gw_spend_bucket *b)
{
    struct sl_gw_key_spend *sp = &k->spend;
    if (sp->now.requests == 0 || sp->now.period_start_us == b->period_start_us) {
        bucket_merge(&sp->now, b);
        return;
    }
    if (b->period_start_us < sp->now.period_start_us) {
        bucket_merge(&sp->prev, b); /* an older period's (a flush put back) */
        return;
    }
    /* a new period: what `now` holds is the previous one's (a third period
     * before anything was written would join it: only after an outage) */
    bucket_merge(&sp->prev, &sp->now);
    sp->now = *b;
}

void sl_gw_key_charge(struct sl_gw_key_entry *k, int64_t wall_us, double usd,
                      uint64_t prompt_tokens, uint64_t completion_tokens)
{
    struct sl_gw_spend_bucket b = {.usd = usd,
                                   .requests = 1,
                                   .prompt_tokens = prompt_tokens,
                                   .completion_tokens = completion_tokens,
                                   .period_start_us = sl_key_period_start(k->s.period, wall_us)};
    sl_gw_key_spend_add(k, &b);
}

/* Over budget: 429 insufficient_quota (what OpenAI's SDKs read as "out of
 * quota", not retried), until the period ends. */
void sl_gw_key_budget_refusal(struct sl_gw_key_entry *k, int64_t wall_us, struct sl_gw_refusal *no)
{
    int64_t end = sl_key_period_end(k->s.period, wall_us);
    k->refusals[SL_GW_LIMIT_BUDGET]++;
    no->status = 429;
    no->type = "insufficient_quota";
    no->code = "insufficient_quota";
    no->limit = SL_GW_LIMIT_BUDGET;
    no->retry_after_s = end == INT64_MAX ? 0 : sl_rate_retry_seconds((uint64_t)(end - wall_us));
    snprintf(no->message, sizeof no->message, "key '%s' has used its %s budget of $%.2f%s",
             k->s.name, sl_key_period_name(k->s.period), k->s.budget_usd,
             end == INT64_MAX ? "" : "; it resets when the period ends");
}

int sl_gw_key_over_budget(struct sl_gw_key_entry *k, int64_t wall_us, struct sl_gw_refusal *no)
{
    if (k->s.budget_usd <= 0 || sl_gw_key_spent(k, wall_us) < k->s.budget_usd)
        return 0;
    sl_gw_key_budget_refusal(k, wall_us, no);
    return -1;
}

void sl_gw_key_refusal(struct sl_gw_key_entry *k, enum sl_gw_limit limit, uint64_t retry_after_us,
                       uint64_t tokens, struct sl_gw_refusal *no)
{
    k->refusals[limit]++;
    no->status = 429;
    no->type = "requests";
    no->code = "rate_limit_exceeded";
    no->limit = limit;
    no->retry_after_s = sl_rate_retry_seconds(retry_after_us);
    if (limit == SL_GW_LIMIT_PARALLEL)
        snprintf(no->message, sizeof no->message,
                 "key '%s' has %u requests in flight, its max_parallel", k->s.name,
                 k->s.max_parallel);
    else if (limit == SL_GW_LIMIT_RPM)
        snprintf(no->message, sizeof no->message,
                 "key '%s' is over its rate limit of %u requests per minute", k->s.name, k->s.rpm);
    else if (retry_after_us == UINT64_MAX)
        snprintf(no->message, sizeof no->message,
                 "the request needs %llu tokens, more than key '%s' may use in a minute (%u)",
                 (unsigned long long)tokens, k->s.name, k->s.tpm);
    else
        snprintf(no->message, sizeof no->message,
                 "key '%s' is over its limit of %u tokens per minute (this request reserves "
                 "%llu)",
                 k->s.name, k->s.tpm, (unsigned long long)tokens);
}

int sl_gw_key_admit(struct sl_gw_key_entry *k, uint64_t now_us, int64_t wall_us, uint64_t tokens,
                    struct sl_gw_key_ticket *t, struct sl_gw_refusal *no)
{
    memset(t, 0, sizeof *t);
    uint64_t retry_us = 1000000;
    if (sl_gw_key_over_budget(k, wall_us, no))
        return -1;
    if (k->max_parallel_local && k->in_flight >= k->max_parallel_local) {
        sl_gw_key_refusal(k, SL_GW_LIMIT_PARALLEL, retry_us, tokens, no);
        return -1;
    }
    enum sl_rate_result rc = sl_rate_take(&k->rate, now_us, tokens, &t->rate, &retry_us);
    if (rc != SL_RATE_OK) {
        sl_gw_key_refusal(k, rc == SL_RATE_RPM ? SL_GW_LIMIT_RPM : SL_GW_LIMIT_TPM, retry_us,
                          tokens, no);
        return -1;
    }
    t->held = 1;
    k->in_flight++;
    return 0;
}

void sl_gw_key_settle(struct sl_gw_key_entry *k, uint64_t now_us, struct sl_gw_key_ticket *t,
                      uint64_t tokens)
{
    if (!k || !t->held)
        return;
    sl_rate_settle(&k->rate, now_us, &t->rate, tokens);
    k->in_flight--;
    t->held = 0;
}

void sl_gw_keyring_render_metrics(struct sl_gw_keyring *ring, struct sl_buf *out)
{
    int any = 0;
    struct sl_list *i;
    for (i = ring->entries.next; i != &ring->entries && !any; i = i->next) {
        struct sl_gw_key_entry *k = sl_container_of(i, struct sl_gw_key_entry, node);
        any = k->s.rpm || k->s.tpm || k->s.max_parallel || k->s.budget_usd > 0;
    }
    if (!any)
        return;
    sl_prom_help(out, "sluice_limit_refusals_total", "counter",
                 "Requests refused with 429 by a key's limit, by key and limit.");
    char key[140], labels[200];
    for (i = ring->entries.next; i != &ring->entries; i = i->next) {
        struct sl_gw_key_entry *k = sl_container_of(i, struct sl_gw_key_entry, node);
        unsigned set[SL_GW_LIMIT__COUNT] = {[SL_GW_LIMIT_RPM] = k->s.rpm,
                                            [SL_GW_LIMIT_TPM] = k->s.tpm,
                                            [SL_GW_LIMIT_PARALLEL] = k->s.max_parallel,
                                            [SL_GW_LIMIT_BUDGET] = k->s.budget_usd > 0};
        sl_prom_escape(key, sizeof(key), k->s.name);
        for (int l = 0; l < SL_GW_LIMIT__COUNT; l++)
            if (set[l]) {
                snprintf(labels, sizeof(labels), "key=\"%s\",limit=\"%s\"", key,
                         sl_gw_limit_name((enum sl_gw_limit)l));
                sl_prom_value(out, "sluice_limit_refusals_total", labels, (double)k->refusals[l]);
            }
    }
}
