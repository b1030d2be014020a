/* keysync: the gateway's side of virtual keys in the database.
 *
 * Every database call runs on the thread pool (store/keys.h is blocking),
 * one at a time and in order, on one connection that only those jobs use:
 *  - a sync every poll_ms (500 ms): first the spend charged to each key
 *    since the last sync is added to the database (one transaction), then
 *    every key is read with its current period's spend (one query), and
 *    the keyring is updated in place on the loop. So a key created,
 *    changed, rotated or revoked on any instance, or with `sluice keys`,
 *    takes effect here within poll_ms plus one query, without a restart,
 *    and a key's spend is what every instance charged (each one's latest
 *    charges counted locally until its next sync);
 *  - the admin API's operations (create, list, get, update, rotate,
 *    revoke, usage), queued between syncs; a change is applied to the
 *    keyring here at once, before its answer goes out.
 * Owner: the gateway. sl_gw_keysync_close waits for the job in flight,
 * flushes the spend charged since, closes the connection and calls back. */
#ifndef SL_GW_KEYSYNC_H
#define SL_GW_KEYSYNC_H

#include <uv.h>

#include "core/buf.h"
#include "core/list.h"
#include "gateway/keyring.h"
#include "store/keys.h"

struct sl_gw_keysync;

/* Opens db_url (migrating it as serve does) and loads every key into ring,
 * blocking: called at start-up, before the loop runs. 0, or -1 with a
 * one-line reason. */
int sl_gw_keysync_new(uv_loop_t *loop, const char *db_url, struct sl_gw_keyring *ring,
                      unsigned poll_ms, struct sl_gw_keysync **out, char *err, size_t err_size);
void sl_gw_keysync_close(struct sl_gw_keysync *ks, void (*cb)(void *arg), void *arg);

enum sl_gw_key_op {
    SL_GW_KEY_CREATE,
    SL_GW_KEY_LIST,
    SL_GW_KEY_GET,
    SL_GW_KEY_UPDATE,
    SL_GW_KEY_ROTATE,
    SL_GW_KEY_REVOKE,
    SL_GW_KEY_USAGE,
};

/* One admin operation: filled by the caller, answered in done() on the
 * loop. The caller owns it until done() ran. */
struct sl_gw_key_request {
    struct sl_list node;
    enum sl_gw_key_op op;
    char id[SL_KEY_NAME_MAX + 1]; /* id or name (all but CREATE and LIST) */
    struct sl_key_record fields;  /* CREATE and UPDATE */
    unsigned mask;                /* UPDATE */
    /* the answer */
    int rc; /* 0 or a store/keys.h error */
    char err[256];
    struct sl_key_record rec;
    struct sl_key_usage usage;
    char secret[SL_KEY_SECRET_LEN + 1]; /* CREATE and ROTATE */
    struct sl_buf list;                 /* LIST: the records as a JSON array's items */
    void (*done)(struct sl_gw_key_request *req);
    void *data;
};

/* Queues req: 0, or -1 when SL_GW_KEYSYNC_QUEUE_MAX wait already (the
 * caller answers 503; req is untouched). */
#define SL_GW_KEYSYNC_QUEUE_MAX 256
int sl_gw_keysync_submit(struct sl_gw_keysync *ks, struct sl_gw_key_request *req);

#endif
