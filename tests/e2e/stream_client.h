/* Client side of the streaming e2e tests: send a chat request to sluice
 * serve, read the whole reply, check its HTTP framing strictly and
 * summarise its SSE events, and read the request's row back from the
 * SQLite database by its x-request-id. */
#ifndef SL_STREAM_CLIENT_H
#define SL_STREAM_CLIENT_H

#include <errno.h>
#include <sqlite3.h>

#include "../blocking_http.h"

struct reply {
    int status;
    char id[40];
    char *raw, *body;
    size_t raw_len, body_len;
    int framed; /* the body is complete per its framing, and nothing follows it */
};

struct sse_summary {
    int events, done, errors;
    int after_done;  /* events after [DONE] */
    int after_error; /* events after an error event */
    int complete;    /* the body ends at the end of an event */
    char error_code[64];
};

static inline int sc_dial(int port)
{
    int fd = bh_dial(port);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static inline char *sc_chat_body(int hu_case, int stream)
{
    static char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"m\",\"stream\":%s,\"hu_case\":%d,\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi\"}]}",
             stream ? "true" : "false", hu_case);
    return body;
}

/* Sends a chat request; keep_alive 0 adds Connection: close. */
static inline int sc_send(int port, const char *body, int keep_alive)
{
    int fd = sc_dial(port);
    char req[2048];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n%s\r\n%s",
             strlen(body), keep_alive ? "" : "Connection: close\r\n", body);
    bh_send(fd, req);
    return fd;
}

/* Decodes a chunked body strictly; returns the bytes it used, or 0 when
 * it is malformed or unterminated. */
static inline size_t sc_dechunk(const char *p, size_t len, char *out, size_t *out_len)
{
    size_t at = 0;
    *out_len = 0;
    for (;;) {
        const char *eol = memmem(p + at, len - at, "\r\n", 2);
        if (eol == NULL)
            return 0;
        char *end;
        unsigned long n = strtoul(p + at, &end, 16);
        if (end != eol || end == p + at)
            return 0;
        at = (size_t)(eol - p) + 2;
        if (n == 0)
            return len - at >= 2 && memcmp(p + at, "\r\n", 2) == 0 ? at + 2 : 0;
        if (len - at < n + 2 || memcmp(p + at + n, "\r\n", 2) != 0)
            return 0;
        memcpy(out + *out_len, p + at, n);
        *out_len += n;
        at += n + 2;
    }
}

/* Reads to EOF (the requests say Connection: close) and parses; the
 * first prefix_len bytes of the reply were already read into prefix. */
static inline void sc_read_rest(int fd, const char *prefix, size_t prefix_len, struct reply *r)
{
    size_t cap = 1 << 20;
    *r = (struct reply){.raw = malloc(cap)};
    if (prefix_len)
        memcpy(r->raw, prefix, prefix_len);
    r->raw_len = prefix_len;
    for (;;) {
        if (cap - r->raw_len < 65536)
            r->raw = realloc(r->raw, cap *= 2);
        ssize_t got = recv(fd, r->raw + r->raw_len, cap - r->raw_len - 1, 0);
        if (got <= 0)
            break;
        r->raw_len += (size_t)got;
    }
    r->raw[r->raw_len] = '\0';
    close(fd);
    r->body = calloc(1, r->raw_len + 1);
    char *end = strstr(r->raw, "\r\n\r\n");
    if (end == NULL || strncmp(r->raw, "HTTP/1.1 ", 9) != 0) {
        r->status = -1;
        return;
    }
    r->status = atoi(r->raw + 9);
    const char *id = strcasestr(r->raw, "\r\nx-request-id: ");
    if (id && id < end)
        sscanf(id + 16, "%39[^\r]", r->id);
    size_t head = (size_t)(end + 4 - r->raw), rest = r->raw_len - head;
    const char *cl = strcasestr(r->raw, "\r\ncontent-length:");
    const char *te = strcasestr(r->raw, "\r\ntransfer-encoding: chunked");
    if (cl && cl < end) {
        size_t n = strtoul(cl + 17, NULL, 10);
        r->framed = rest == n;
        r->body_len = n < rest ? n : rest;
        memcpy(r->body, r->raw + head, r->body_len);
    } else if (te && te < end) {
        size_t used = sc_dechunk(r->raw + head, rest, r->body, &r->body_len);
        r->framed = used > 0 && used == rest;
    }
}

static inline void sc_read(int fd, struct reply *r)
{
    sc_read_rest(fd, NULL, 0, r);
}

static inline void sc_free(struct reply *r)
{
    free(r->raw);
    free(r->body);
}

static inline void sc_sse(const struct reply *r, struct sse_summary *s)
{
    *s = (struct sse_summary){0};
    char *t = malloc(r->body_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < r->body_len; i++) { /* line endings to \n */
        char c = r->body[i];
        if (c == '\r') {
            t[n++] = '\n';
            if (i + 1 < r->body_len && r->body[i + 1] == '\n')
                i++;
        } else {
            t[n++] = c;
        }
    }
    t[n] = '\0';
    s->complete = n == 0 || (n >= 2 && t[n - 1] == '\n' && t[n - 2] == '\n');
    for (char *p = t; *p;) {
        char *e = strstr(p, "\n\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0 && memmem(p, len, "data:", 5)) {
            s->after_done += s->done > 0;
            s->after_error += s->errors > 0;
            s->events++;
            if (memmem(p, len, "data: [DONE]", 12)) {
                s->done++;
            } else if (memmem(p, len, "data: {\"error\"", 14)) {
                s->errors++;
                const char *c = memmem(p, len, "\"code\":\"", 8);
                if (c)
                    sscanf(c + 8, "%63[^\"]", s->error_code);
            }
        }
        if (e == NULL)
            break;
        p = e + 2;
    }
    free(t);
}

/* A column (or expression) of the row with this x-request-id, as text
 * ("NULL" when null, "" when there is no such row). */
static inline char *sc_row(const char *db_path, const char *id, const char *expr)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM requests WHERE metadata ->> 'id' = ?1", expr);
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char *out = strdup("");
    if (sqlite3_step(st) == SQLITE_ROW) {
        free(out);
        const unsigned char *v = sqlite3_column_text(st, 0);
        out = strdup(v ? (const char *)v : "NULL");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* Asserts the row of `id`: its status, error class and HTTP status. */
static inline void sc_assert_row(const char *db_path, const char *id, const char *status,
                                 const char *error, int http_status)
{
    char *st = sc_row(db_path, id, "status"), *err = sc_row(db_path, id, "error");
    char *http = sc_row(db_path, id, "metadata ->> 'status'");
    cr_assert_str_eq(st, status, "row %s: status %s, error %s, HTTP %s", id, st, err, http);
    cr_assert_str_eq(err, error, "row %s: status %s, error %s, HTTP %s", id, st, err, http);
    cr_assert_eq(atoi(http), http_status, "row %s: HTTP %s, the client saw %d", id, http,
                 http_status);
    free(st);
    free(err);
    free(http);
}

#endif
