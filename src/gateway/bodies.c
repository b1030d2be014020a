/* The body log (`log_bodies:`, off by default; docs/ui.md): each request
 * that reached a model is kept as a conversation (titled by the request's
 * id) in the chat-history tables: its messages as the model got them (the
 * chat request the providers' adapters take, whatever API the client
 * spoke) and the answer (the JSON's message, or a stream's content deltas
 * as the client got them). Before they are stored, the texts pass the
 * configured redaction patterns (POSIX extended regular expressions;
 * every match becomes "[redacted]") and the request's share of the
 * `max_bytes` bound (texts past it are cut, marked "[truncated]").
 * Headers are never stored.
 *
 * Ownership: a request gathers its answer in r->answer (bounded by
 * max_bytes) while it streams; at its end its body and answer are copied
 * into a conversation job (this module's), whose messages are parsed,
 * redacted and bounded on a worker thread of this module's (regular
 * expressions over a long prompt would hold the loop for milliseconds),
 * then put in the last of the queued batches on the loop (a new one when
 * it is full). At most PENDING_MAX conversations wait (in the worker,
 * queued or sending); past that one is dropped and counted. The first
 * batch goes to the store in one call (one transaction) when it is full
 * or FLUSH_MS passed, one call at a time; the call's batch is freed when
 * it completes, and the next one goes then. Close lets the worker finish,
 * then hands every queued batch to the store; the store outlives the
 * gateway. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/worker.h"
#include "gateway/gateway_impl.h"
#include "http/json_scan.h"
#include "http/json_walk.h"
#include "http/json_write.h"
#include "store/store.h"

enum { BATCH_MAX = 64, PENDING_MAX = 1024, FLUSH_MS = 200, MAX_MESSAGES = 64 };

/* What the worker builds a conversation from: copies of the request's. */
struct raw {
    char *body, *answer; /* the client's body; the stream's text or the JSON answer */
    size_t body_len, answer_len;
    int stream; /* answer is the streamed text (else a chat answer's JSON, or none) */
    int64_t started_us;
};

struct conv {
    struct sl_worker_job job;
    struct sl_gw_bodies *owner;
    struct raw raw; /* freed once built */
    int built;      /* 0 or -1 (nothing to keep) */
    struct sl_conv_in in;
    struct sl_message msgs[MAX_MESSAGES + 1];
    char title[40];
    char *texts; /* the messages' roles and contents, one allocation */
};

struct batch {
    struct batch *next; /* queued after this one */
    struct sl_gw_bodies *owner;
    unsigned n;
    struct conv *convs[BATCH_MAX];
    struct sl_conv_in in[BATCH_MAX];
    struct sl_buf json; /* the same, for PostgreSQL */
};

struct sl_gw_bodies {
    struct sl_gateway *gw;
    const struct sl_gw_config *cfg; /* read by the worker too: never changes */
    struct sl_worker *worker;
    unsigned building; /* conversations in the worker */
    uv_timer_t timer;
    struct batch *head, *tail; /* the queue: the head goes first, the tail fills */
    struct batch *sending;
    unsigned queued; /* conversations in the queue */
    uint64_t stored, dropped, failed;
    int closing;
    void (*closed_cb)(void *);
    void *closed_arg;
};

/* ---- texts ------------------------------------------------------------------- */

/* Redacts and bounds a text into out (NUL-ended). *budget is what the
 * request may still store. */
static void keep_text(const struct sl_gw_config *cfg, const char *text, size_t len,
                      struct sl_buf *out, size_t *budget)
{
    struct sl_buf cur;
    sl_buf_init(&cur, 4 * len + 64);
    sl_buf_append(&cur, text, len);
    for (size_t i = 0; i < cfg->bodies.nredact && cur.ptr; i++) {
        struct sl_buf next;
        sl_buf_init(&next, 4 * len + 64);
        const char *p = cur.ptr;
        regmatch_t m;
        int flags = 0;
        while (*p && regexec(&cfg->bodies.redact[i], p, 1, &m, flags) == 0) {
            sl_buf_append(&next, p, (size_t)m.rm_so);
            sl_buf_append(&next, "[redacted]", 10);
            p += m.rm_eo > m.rm_so ? m.rm_eo : m.rm_so + 1;
            flags = REG_NOTBOL;
        }
        sl_buf_append(&next, p, strlen(p));
        sl_buf_release(&cur);
        cur = next;
    }
    size_t n = cur.len;
    if (n > *budget) {
        n = *budget;
        while (n > 0 && ((unsigned char)cur.ptr[n] & 0xc0) == 0x80)
            n--; /* whole UTF-8 characters only */
    }
    sl_buf_append(out, cur.ptr ? cur.ptr : "", n);
    if (n < cur.len)
        sl_buf_append(out, "[truncated]", 11);
    sl_buf_append(out, "", 1); /* the NUL between texts */
    *budget -= n;
    sl_buf_release(&cur);
}

/* A message's content as text: a string, or its text parts joined. */
static void content_text(const struct sl_json_value *v, struct sl_buf *scratch)
{
    sl_buf_reset(scratch);
    if (v->start < v->end && *v->start == '"') {
        sl_json_string(v, scratch);
        return;
    }
    struct sl_json_walk w;
    struct sl_json_value part;
    if (sl_json_enter(&w, v) != 0)
        return;
    while (sl_json_next_item(&w, &part)) {
        struct sl_json_doc d;
        struct sl_json_pick t[1] = {{.key = "text"}};
        if (sl_json_scan_pick(part.start, (size_t)(part.end - part.start), &d, t, 1) == 0 &&
            t[0].found && t[0].m.type == SL_JSON_STRING) {
            struct sl_json_value tv = {t[0].m.value.ptr - 1,
                                       t[0].m.value.ptr + t[0].m.value.len + 1};
            sl_json_string(&tv, scratch);
        }
    }
}

/* The text of choices[0] of a chat answer (its `inner` object's content:
 * "message" for a completion, "delta" for a chunk) or of a completions
 * answer (its text), decoded and appended to out. 0, or -1 when there is
 * none. */
static int choice_text(const char *json, size_t len, const char *inner, struct sl_buf *out)
{
    struct sl_json_doc d;
    struct sl_json_pick ch[1] = {{.key = "choices"}};
    if (sl_json_scan_pick(json, len, &d, ch, 1) != 0 || !ch[0].found)
        return -1;
    struct sl_json_walk cw;
    struct sl_json_value first, arr = {ch[0].m.value.ptr, ch[0].m.value.ptr + ch[0].m.value.len};
    if (sl_json_enter(&cw, &arr) != 0 || !sl_json_next_item(&cw, &first))
        return -1;
    const char *fs = first.start;
    size_t fl = (size_t)(first.end - first.start);
    struct sl_json_pick ip[1] = {{.key = inner}}, cp[1] = {{.key = "content"}},
                        tp[1] = {{.key = "text"}};
    const struct sl_json_member *got = NULL;
    if (sl_json_scan_pick(fs, fl, &d, ip, 1) == 0 && ip[0].found &&
        sl_json_scan_pick(ip[0].m.value.ptr, ip[0].m.value.len, &d, cp, 1) == 0 && cp[0].found &&
        cp[0].m.type == SL_JSON_STRING)
        got = &cp[0].m;
    else if (sl_json_scan_pick(fs, fl, &d, tp, 1) == 0 && tp[0].found &&
             tp[0].m.type == SL_JSON_STRING)
        got = &tp[0].m; /* completions */
    if (got == NULL)
        return -1;
    struct sl_json_value sv = {got->value.ptr - 1, got->value.ptr + got->value.len + 1};
    return sl_json_string(&sv, out) == 0 ? 0 : -1;
}

/* The request's messages and its answer, redacted and bounded, into c.
 * The worker's thread: reads only c->raw and the config. */
static int build(const struct sl_gw_config *cfg, struct conv *c)
{
    const struct raw *r = &c->raw;
    struct sl_buf texts, scratch;
    sl_buf_init(&texts, 8 * cfg->bodies.max_bytes + 64 * 1024);
    sl_buf_init(&scratch, cfg->max_body_bytes + 1);
    size_t budget = cfg->bodies.max_bytes;
    size_t at[MAX_MESSAGES + 1][2];
    unsigned n = 0;
    struct sl_json_value top = sl_json_value_of(r->body, r->body_len), key, val;
    struct sl_json_walk w;
    if (sl_json_enter(&w, &top) == 0)
        while (sl_json_next_member(&w, &key, &val)) {
            if (sl_json_key_is(&key, "prompt") && n == 0) { /* completions */
                content_text(&val, &scratch);
                at[n][0] = texts.len;
                keep_text(cfg, "user", 4, &texts, &(size_t){SIZE_MAX});
                at[n][1] = texts.len;
                keep_text(cfg, scratch.ptr ? scratch.ptr : "", scratch.len, &texts, &budget);
                n++;
            }
            if (!sl_json_key_is(&key, "messages"))
                continue;
            struct sl_json_walk mw;
            struct sl_json_value m;
            if (sl_json_enter(&mw, &val) != 0)
                break;
            while (n < MAX_MESSAGES && sl_json_next_item(&mw, &m)) {
                struct sl_json_walk fw;
                struct sl_json_value k, v, role = {NULL, NULL}, content = {NULL, NULL};
                if (sl_json_enter(&fw, &m) != 0)
                    continue;
                while (sl_json_next_member(&fw, &k, &v))
                    if (sl_json_key_is(&k, "role"))
                        role = v;
                    else if (sl_json_key_is(&k, "content"))
                        content = v;
                sl_buf_reset(&scratch);
                if (role.start)
                    sl_json_string(&role, &scratch);
                at[n][0] = texts.len;
                keep_text(cfg, scratch.ptr ? scratch.ptr : "?", scratch.ptr ? scratch.len : 1,
                          &texts, &(size_t){SIZE_MAX});
                sl_buf_reset(&scratch);
                if (content.start)
                    content_text(&content, &scratch);
                at[n][1] = texts.len;
                keep_text(cfg, scratch.ptr ? scratch.ptr : "", scratch.len, &texts, &budget);
                n++;
            }
        }
    /* the answer: a JSON completion's message, or what the stream said */
    const char *answer = NULL;
    size_t answer_len = 0;
    struct sl_buf decoded;
    sl_buf_init(&decoded, MAX_RESPONSE_BYTES);
    if (r->stream) {
        answer = r->answer;
        answer_len = r->answer_len;
    } else if (r->answer_len && choice_text(r->answer, r->answer_len, "message", &decoded) == 0) {
        answer = decoded.ptr;
        answer_len = decoded.len;
    }
    if (answer && n < MAX_MESSAGES + 1) {
        at[n][0] = texts.len;
        keep_text(cfg, "assistant", 9, &texts, &(size_t){SIZE_MAX});
        at[n][1] = texts.len;
        keep_text(cfg, answer, answer_len, &texts, &budget);
        n++;
    }
    sl_buf_release(&decoded);
    sl_buf_release(&scratch);
    if (n == 0 || texts.ptr == NULL) {
        sl_buf_release(&texts);
        return -1;
    }
    size_t len;
    c->texts = sl_buf_take(&texts, &len);
    int64_t now = sl_wall_us();
    for (unsigned i = 0; i < n; i++)
        c->msgs[i] = (struct sl_message){.seq = (int)i + 1,
                                         .role = c->texts + at[i][0],
                                         .content = c->texts + at[i][1],
                                         .created_us = i + 1 == n && answer ? now : r->started_us};
    c->in = (struct sl_conv_in){
        .title = c->title, .created_us = r->started_us, .n_messages = n, .messages = c->msgs};
    return 0;
}

/* ---- the answer of a stream, as the client gets it ----------------------------- */

void sl__gw_bodies_stream(struct gw_req *r, const char *data, size_t len)
{
    if (r->gw->bodies == NULL || r->native)
        return;
    /* whole chat chunk events: each "data: {...}" line's choices[0].delta.content */
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p > 6 && memcmp(p, "data: ", 6) == 0) /* bounded: stops at its max */
            choice_text(p + 6, (size_t)(le - p - 6), "delta", &r->answer);
        p = le + 1;
    }
}

/* ---- batches -------------------------------------------------------------------- */

static void free_conv(struct conv *c);

static void free_batch(struct batch *bt)
{
    if (bt == NULL)
        return;
    for (unsigned i = 0; i < bt->n; i++)
        free_conv(bt->convs[i]);
    sl_buf_release(&bt->json);
    free(bt);
}

static void send_pending(struct sl_gw_bodies *b);

static void on_stored(struct sl_store *store, int status, void *arg)
{
    (void)store;
    struct batch *bt = arg;
    struct sl_gw_bodies *b = bt->owner; /* NULL: the gateway closed meanwhile */
    if (b) {
        if (status == 0)
            b->stored += bt->n;
        else
            b->failed += bt->n;
        b->sending = NULL;
    }
    free_batch(bt);
    if (b && !b->closing)
        send_pending(b); /* what gathered meanwhile goes now */
}

static void json_batch(struct batch *bt)
{
    struct sl_jw w;
    sl_buf_init(&bt->json, 64u << 20);
    sl_jw_init(&w, &bt->json);
    sl_jw_array(&w);
    for (unsigned i = 0; i < bt->n; i++) {
        const struct sl_conv_in *c = &bt->in[i];
        sl_jw_object(&w);
        sl_jw_kv_string(&w, "t", c->title);
        sl_jw_kv_int(&w, "c", c->created_us);
        sl_jw_key(&w, "m");
        sl_jw_array(&w);
        for (unsigned k = 0; k < c->n_messages; k++) {
            sl_jw_array(&w);
            sl_jw_int(&w, c->messages[k].seq);
            sl_jw_string(&w, c->messages[k].role);
            sl_jw_string(&w, c->messages[k].content);
            sl_jw_int(&w, c->messages[k].created_us);
            sl_jw_end(&w);
        }
        sl_jw_end(&w);
        sl_jw_end(&w);
    }
    sl_jw_end(&w);
    if (sl_jw_finish(&w) !=
        0) /* past its bound: the statement fails and the batch counts as failed */
        sl_buf_reset(&bt->json);
}

static void send_pending(struct sl_gw_bodies *b)
{
    struct sl_store *store = b->gw->opts.store;
    if (b->sending || b->head == NULL || store == NULL)
        return;
    struct batch *bt = b->head;
    if ((b->head = bt->next) == NULL)
        b->tail = NULL;
    b->queued -= bt->n;
    b->sending = bt;
    for (unsigned i = 0; i < bt->n; i++)
        bt->in[i] = bt->convs[i]->in;
    if (sl_store_kind(store) == SL_STORE_POSTGRES)
        json_batch(bt);
    sl_store_add_conversations(store, bt->in, bt->n, bt->json.ptr ? bt->json.ptr : "[]", on_stored,
                               bt);
}

static void on_flush(uv_timer_t *t)
{
    send_pending(t->data);
}

static void free_conv(struct conv *c)
{
    free(c->raw.body);
    free(c->raw.answer);
    free(c->texts);
    free(c);
}

static void build_on_worker(struct sl_worker_job *job)
{
    struct conv *c = sl_container_of(job, struct conv, job);
    c->built = build(c->owner->cfg, c);
    free(c->raw.body);
    free(c->raw.answer);
    c->raw.body = c->raw.answer = NULL;
}

/* The loop: a built conversation joins the last queued batch. */
static void on_built(struct sl_worker_job *job)
{
    struct conv *c = sl_container_of(job, struct conv, job);
    struct sl_gw_bodies *b = c->owner;
    b->building--;
    struct batch *t = b->tail;
    if (c->built == 0 && (t == NULL || t->n == BATCH_MAX) &&
        (t = calloc(1, sizeof(*t))) != NULL) { /* a new last batch */
        t->owner = b;
        if (b->tail)
            b->tail->next = t;
        else
            b->head = t;
        b->tail = t;
    }
    if (c->built != 0 || t == NULL) {
        b->dropped++;
        free_conv(c);
        return;
    }
    t->convs[t->n++] = c;
    b->queued++;
    if (b->head->n == BATCH_MAX)
        send_pending(b); /* when one is sending, the next goes after it */
    else if (b->queued == 1 && !b->closing)
        uv_timer_start(&b->timer, on_flush, FLUSH_MS, 0);
}

static char *copy_of(const char *p, size_t len)
{
    char *q = malloc(len + 1);
    if (q) {
        memcpy(q, p, len);
        q[len] = '\0';
    }
    return q;
}

void sl__gw_bodies_finish(struct gw_req *r)
{
    struct sl_gw_bodies *b = r->gw->bodies;
    if (b == NULL || b->closing || r->dep == NULL || r->ep == SL_OAI_EMBEDDINGS)
        return;
    unsigned waiting = b->building + b->queued + (b->sending ? b->sending->n : 0);
    struct conv *c = waiting < PENDING_MAX ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL) {
        b->dropped++;
        return;
    }
    /* the answer: what the stream said, or a JSON completion to read */
    const struct sl_buf *answer = r->stream                         ? &r->answer
                                  : r->error == SL_OK && !r->native ? &r->resp
                                                                    : NULL;
    c->raw = (struct raw){.body = copy_of(r->body ? r->body : "", r->body_len),
                          .body_len = r->body_len,
                          .stream = r->stream,
                          .started_us = r->started_us};
    if (answer && answer->len) {
        c->raw.answer = copy_of(answer->ptr, answer->len);
        c->raw.answer_len = answer->len;
    }
    if (c->raw.body == NULL || (answer && answer->len && c->raw.answer == NULL)) {
        b->dropped++;
        free_conv(c);
        return;
    }
    snprintf(c->title, sizeof(c->title), "%s", r->id);
    c->owner = b;
    c->job.work = build_on_worker;
    c->job.done = on_built;
    b->building++;
    sl_worker_submit(b->worker, &c->job);
}

/* ---- life --------------------------------------------------------------------------- */

int sl__gw_bodies_new(struct sl_gateway *gw, struct sl_gw_bodies **out)
{
    struct sl_gw_bodies *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return UV_ENOMEM;
    int rc = sl_worker_new(gw->loop, "sluice-bodies", SL_THREAD_BACKGROUND, &b->worker);
    if (rc != 0) {
        free(b);
        return rc;
    }
    b->gw = gw;
    b->cfg = gw->cfg;
    uv_timer_init(gw->loop, &b->timer);
    b->timer.data = b;
    *out = b;
    return 0;
}

void sl__gw_bodies_counters(const struct sl_gw_bodies *b, uint64_t *stored, uint64_t *dropped,
                            uint64_t *failed)
{
    *stored = b->stored;
    *dropped = b->dropped;
    *failed = b->failed;
}

static void on_bodies_timer_closed(uv_handle_t *h)
{
    struct sl_gw_bodies *b = h->data;
    void (*cb)(void *) = b->closed_cb;
    void *arg = b->closed_arg;
    free(b);
    cb(arg);
}

/* Every conversation the worker held is queued: the queue goes to the
 * store now, after the batch sending if any (all complete in the store
 * on their own: it outlives the gateway, and a completion without owner
 * only frees its batch). */
static void on_worker_closed(void *arg)
{
    struct sl_gw_bodies *b = arg;
    b->worker = NULL;
    do {
        if (b->sending) {
            b->sending->owner = NULL;
            b->sending = NULL;
        }
        send_pending(b);
    } while (b->sending);
    uv_close((uv_handle_t *)&b->timer, on_bodies_timer_closed);
}

void sl__gw_bodies_close(struct sl_gw_bodies *b, void (*cb)(void *), void *arg)
{
    b->closing = 1;
    b->closed_cb = cb;
    b->closed_arg = arg;
    uv_timer_stop(&b->timer);
    sl_worker_close(b->worker, on_worker_closed, b);
}
