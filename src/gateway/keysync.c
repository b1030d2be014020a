#include "gateway/keysync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/offload.h"

#define MAX_LIST_BYTES (64u << 20)

/* A key as read by a sync, for the loop to apply. */
struct loaded_key {
    struct sl_gw_key_settings s;
    struct sl_key_usage usage;
};

struct sync_job {
    struct sl_key_spend *flush; /* taken from the entries at the start */
    struct sl_gw_key_entry **flushed_from;
    size_t nflush;
    struct loaded_key *keys;
    size_t nkeys, cap;
    int flush_rc, load_rc;
    char err[256];
};

struct sl_gw_keysync {
    uv_loop_t *loop;
    struct sl_gw_keyring *ring;
    struct sl_keydb *db; /* touched only by the job in flight */
    uv_timer_t timer;
    unsigned poll_ms;
    struct sl_list queue;            /* admin requests waiting */
    unsigned queued;                 /* how many: at most SL_GW_KEYSYNC_QUEUE_MAX */
    struct sl_gw_key_request *admin; /* the admin job in flight */
    struct sync_job sync;            /* the sync job, when sync_active */
    int busy, sync_due, sync_active, closing, final_started, final_flush_done;
    int last_was_sync; /* an admin request waiting goes before the next sync */
    void (*close_cb)(void *);
    void *close_arg;
    uint64_t syncs, sync_errors;
};

static void next_job(struct sl_gw_keysync *ks);

/* ---- sync: flush the spend, read every key -------------------------------- */

static int collect_key(const struct sl_key_record *rec, const struct sl_key_usage *usage, void *arg)
{
    struct sync_job *j = arg;
    if (j->nkeys == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct loaded_key *k = realloc(j->keys, cap * sizeof *k);
        if (!k)
            return UV_ENOMEM;
        j->keys = k;
        j->cap = cap;
    }
    struct loaded_key *k = &j->keys[j->nkeys++];
    sl_gw_key_settings_from(&k->s, rec);
    k->usage = *usage;
    return 0;
}

static void sync_work(void *arg)
{
    struct sl_gw_keysync *ks = arg;
    struct sync_job *j = &ks->sync;
    j->flush_rc = j->load_rc = 0;
    sl_keydb_reconnect(ks->db); /* after a PostgreSQL restart; the calls below say if not */
    if (j->nflush)
        j->flush_rc = sl_key_add_spend(ks->db, j->flush, j->nflush, j->err, sizeof j->err);
    if (ks->final_started)
        return; /* the last flush: nothing to read */
    j->load_rc = sl_key_load_all(ks->db, sl_wall_us(), collect_key, j, j->err, sizeof j->err);
}

/* The spend charged since the last sync moves to "flushing". */
static void take_flush(struct sl_gw_keysync *ks)
{
    struct sync_job *j = &ks->sync;
    size_t n = 0;
    struct sl_list *all = sl_gw_keyring_entries(ks->ring);
    for (struct sl_list *i = all->next; i != all; i = i->next) {
        struct sl_gw_key_entry *k = sl_container_of(i, struct sl_gw_key_entry, node);
        if (k->s.id[0])
            n += (k->spend.now.requests > 0) + (k->spend.prev.requests > 0);
    }
    j->nflush = 0;
    if (n == 0)
        return;
    j->flush = calloc(n, sizeof *j->flush);
    j->flushed_from = calloc(n, sizeof *j->flushed_from);
    if (!j->flush || !j->flushed_from) {
        free(j->flush);
        free(j->flushed_from);
        j->flush = NULL;
        j->flushed_from = NULL;
        return; /* next time */
    }
    for (struct sl_list *i = all->next; i != all; i = i->next) {
        struct sl_gw_key_entry *k = sl_container_of(i, struct sl_gw_key_entry, node);
        if (!k->s.id[0])
            continue;
        /* each bucket with the period it was charged in */
        struct sl_gw_spend_bucket *b[2] = {&k->spend.prev, &k->spend.now};
        for (int w = 0; w < 2; w++) {
            if (!b[w]->requests)
                continue;
            struct sl_key_spend *f = &j->flush[j->nflush];
            j->flushed_from[j->nflush++] = k;
            snprintf(f->key_id, sizeof f->key_id, "%s", k->s.id);
            f->period_start_us = b[w]->period_start_us;
            f->usd = b[w]->usd;
            f->requests = b[w]->requests;
            f->prompt_tokens = b[w]->prompt_tokens;
            f->completion_tokens = b[w]->completion_tokens;
            if (w == 1) { /* the current period's: still counted while it is written */
                k->spend.flushing_usd = b[w]->usd;
                k->spend.flushing_period_us = b[w]->period_start_us;
            }
            memset(b[w], 0, sizeof *b[w]);
        }
    }
}

static void apply_loaded(struct sl_gw_keysync *ks, const struct loaded_key *lk)
{
    struct sl_gw_key_entry *k = sl_gw_keyring_put(ks->ring, &lk->s);
    if (!k)
        return; /* out of memory: the next sync tries again */
    /* the database's spend includes every flush that finished before this
     * read; what is flushing now was part of it (flushed first) */
    k->spend.db_usd = lk->usage.usd;
    k->spend.period_start_us = lk->usage.period_start_us;
}

static void sync_done(void *arg, int status)
{
    struct sl_gw_keysync *ks = arg;
    struct sync_job *j = &ks->sync;
    if (status != 0) { /* the job never ran: nothing was written or read */
        j->flush_rc = j->load_rc = status;
        snprintf(j->err, sizeof j->err, "the database job did not run: %s", uv_strerror(status));
    }
    int flushed = j->nflush && j->flush_rc == 0;
    for (size_t i = 0; i < j->nflush; i++) {
        struct sl_gw_key_entry *k = j->flushed_from[i];
        const struct sl_key_spend *f = &j->flush[i];
        k->spend.flushing_usd = 0;
        if (!flushed) { /* not written: charged again with the next sync, in its period */
            struct sl_gw_spend_bucket b = {.usd = f->usd,
                                           .requests = f->requests,
                                           .prompt_tokens = f->prompt_tokens,
                                           .completion_tokens = f->completion_tokens,
                                           .period_start_us = f->period_start_us};
            sl_gw_key_spend_add(k, &b);
        } else if (j->load_rc != 0 && f->period_start_us == k->spend.period_start_us) {
            k->spend.db_usd += f->usd; /* written, but not read back */
        }
    }
    if (j->load_rc == 0 && !ks->final_started)
        for (size_t i = 0; i < j->nkeys; i++)
            apply_loaded(ks, &j->keys[i]);
    if (ks->final_started && j->nflush && j->flush_rc) {
        double lost = 0;
        for (size_t i = 0; i < j->nflush; i++)
            lost += j->flush[i].usd;
        fprintf(stderr,
                "sluice serve: virtual keys: the last spend could not be written ($%.6f of %zu "
                "key(s) not recorded): %s\n",
                lost, j->nflush, j->err);
    } else if ((j->nflush && j->flush_rc) || j->load_rc) {
        if (ks->sync_errors++ % 20 == 0) /* once in a while, not twice a second */
            fprintf(stderr, "sluice serve: virtual keys: %s\n", j->err);
    }
    ks->syncs++;
    free(j->flush);
    free(j->flushed_from);
    free(j->keys);
    memset(j, 0, sizeof *j);
    ks->sync_active = 0;
    ks->busy = 0;
    if (ks->final_started)
        ks->final_flush_done = 1;
    next_job(ks);
}

/* ---- admin operations ------------------------------------------------------ */

static int list_item(const struct sl_key_record *rec, const struct sl_key_usage *usage, void *arg)
{
    struct sl_buf *out = arg;
    (void)usage;
    if (out->len && sl_buf_append(out, ",", 1) != 0)
        return UV_ENOMEM;
    return sl_key_record_json(rec, out);
}

static void admin_work(void *arg)
{
    struct sl_gw_keysync *ks = arg;
    struct sl_gw_key_request *q = ks->admin;
    char *e = q->err;
    size_t es = sizeof q->err;
    sl_keydb_reconnect(ks->db);
    switch (q->op) {
    case SL_GW_KEY_CREATE:
        q->rec = q->fields;
        q->rc = sl_key_create(ks->db, &q->rec, q->secret, e, es);
        break;
    case SL_GW_KEY_LIST:
        q->rc = sl_key_load_all(ks->db, sl_wall_us(), list_item, &q->list, e, es);
        break;
    case SL_GW_KEY_GET:
        q->rc = sl_key_get(ks->db, q->id, &q->rec, e, es);
        break;
    case SL_GW_KEY_UPDATE:
        q->rc = sl_key_update(ks->db, q->id, &q->fields, q->mask, &q->rec, e, es);
        break;
    case SL_GW_KEY_ROTATE:
        q->rc = sl_key_rotate(ks->db, q->id, &q->rec, q->secret, e, es);
        break;
    case SL_GW_KEY_REVOKE:
        q->rc = sl_key_revoke(ks->db, q->id, &q->rec, e, es);
        break;
    case SL_GW_KEY_USAGE:
        q->rc = sl_key_usage(ks->db, q->id, sl_wall_us(), &q->rec, &q->usage, e, es);
        break;
    }
}

static void admin_done(void *arg, int status)
{
    struct sl_gw_keysync *ks = arg;
    struct sl_gw_key_request *q = ks->admin;
    ks->admin = NULL;
    ks->busy = 0;
    if (status != 0 && q->rc == 0) {
        q->rc = status;
        snprintf(q->err, sizeof q->err, "the operation did not run");
    }
    int changed = q->op == SL_GW_KEY_CREATE || q->op == SL_GW_KEY_UPDATE ||
                  q->op == SL_GW_KEY_ROTATE || q->op == SL_GW_KEY_REVOKE;
    if (q->rc == 0 && changed) {
        struct sl_gw_key_settings s;
        sl_gw_key_settings_from(&s, &q->rec);
        sl_gw_keyring_put(ks->ring, &s); /* this instance at once; the others at their sync */
    }
    q->done(q);
    next_job(ks);
}

int sl_gw_keysync_submit(struct sl_gw_keysync *ks, struct sl_gw_key_request *req)
{
    if (ks->queued >= SL_GW_KEYSYNC_QUEUE_MAX)
        return -1;
    ks->queued++;
    req->rc = 0;
    req->err[0] = '\0';
    if (req->op == SL_GW_KEY_LIST)
        sl_buf_init(&req->list, MAX_LIST_BYTES);
    sl_list_push_back(&ks->queue, &req->node);
    next_job(ks);
    return 0;
}

/* ---- the job queue ----------------------------------------------------------- */

static void on_close_timer(uv_handle_t *h)
{
    struct sl_gw_keysync *ks = h->data;
    void (*cb)(void *) = ks->close_cb;
    void *arg = ks->close_arg;
    sl_keydb_close(ks->db);
    free(ks);
    if (cb)
        cb(arg);
}

/* One job at a time: the admin requests in order, a sync when it is due
 * (a sync never waits behind more than the request in flight). */
static void next_job(struct sl_gw_keysync *ks)
{
    if (ks->busy)
        return;
    struct sl_list *n;
    if (ks->closing && ks->final_flush_done) {
        /* the admin requests still queued are answered unavailable */
        while ((n = sl_list_pop_front(&ks->queue)) != NULL) {
            ks->queued--;
            struct sl_gw_key_request *q = sl_container_of(n, struct sl_gw_key_request, node);
            q->rc = UV_ECANCELED;
            snprintf(q->err, sizeof q->err, "the gateway is shutting down");
            q->done(q);
        }
        if (!uv_is_closing((uv_handle_t *)&ks->timer))
            uv_close((uv_handle_t *)&ks->timer, on_close_timer);
        return;
    }
    /* after a sync, one waiting admin request goes first: a sync slower
     * than the poll interval must not starve them */
    int admin_first = ks->last_was_sync && !sl_list_empty(&ks->queue) && !ks->closing;
    if ((ks->sync_due && !admin_first) || ks->closing) {
        ks->sync_due = 0;
        ks->last_was_sync = 1;
        ks->busy = ks->sync_active = 1;
        ks->final_started = ks->closing; /* the charges after it was taken are all in */
        take_flush(ks);
        if (sl_offload(ks->loop, sync_work, sync_done, ks, NULL) != 0)
            sync_done(ks, UV_ENOMEM);
        return;
    }
    if ((n = sl_list_pop_front(&ks->queue)) != NULL) {
        ks->queued--;
        ks->last_was_sync = 0;
        ks->admin = sl_container_of(n, struct sl_gw_key_request, node);
        ks->busy = 1;
        if (sl_offload(ks->loop, admin_work, admin_done, ks, NULL) != 0) {
            ks->admin->rc = UV_ENOMEM;
            snprintf(ks->admin->err, sizeof ks->admin->err, "out of memory");
            admin_done(ks, 0);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    struct sl_gw_keysync *ks = t->data;
    ks->sync_due = 1;
    next_job(ks);
}

/* ---- lifecycle ----------------------------------------------------------- */

int sl_gw_keysync_new(uv_loop_t *loop, const char *db_url, struct sl_gw_keyring *ring,
                      unsigned poll_ms, struct sl_gw_keysync **out, char *err, size_t err_size)
{
    struct sl_gw_keysync *ks = calloc(1, sizeof *ks);
    if (!ks) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    ks->loop = loop;
    ks->ring = ring;
    ks->poll_ms = poll_ms ? poll_ms : 500;
    sl_list_init(&ks->queue);
    char why[256];
    if (sl_keydb_open(db_url, SL_KEYDB_MIGRATE | SL_KEYDB_CREATE, &ks->db, why, sizeof why) != 0) {
        snprintf(err, err_size, "virtual keys: %s", why);
        free(ks);
        return -1;
    }
    /* the first load before the gateway listens: no request sees a key
     * missing that the database has */
    sync_work(ks);
    if (ks->sync.load_rc != 0) {
        snprintf(err, err_size, "virtual keys: %s", ks->sync.err);
        free(ks->sync.keys);
        sl_keydb_close(ks->db);
        free(ks);
        return -1;
    }
    for (size_t i = 0; i < ks->sync.nkeys; i++)
        apply_loaded(ks, &ks->sync.keys[i]);
    free(ks->sync.keys);
    memset(&ks->sync, 0, sizeof ks->sync);
    uv_timer_init(loop, &ks->timer);
    ks->timer.data = ks;
    uv_timer_start(&ks->timer, on_tick, ks->poll_ms, ks->poll_ms);
    *out = ks;
    return 0;
}

void sl_gw_keysync_close(struct sl_gw_keysync *ks, void (*cb)(void *arg), void *arg)
{
    ks->closing = 1;
    ks->close_cb = cb;
    ks->close_arg = arg;
    uv_timer_stop(&ks->timer);
    next_job(ks); /* the last flush, after the job in flight */
}
