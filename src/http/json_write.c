#include "http/json_write.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#define MAX_DEPTH 63 /* bit `depth` of the bit sets must exist */

void sl_jw_init(struct sl_jw *w, struct sl_buf *out)
{
    *w = (struct sl_jw){.out = out};
}

static void put(struct sl_jw *w, const char *s, size_t n)
{
    if (w->err == 0)
        w->err = sl_buf_append(w->out, s, n);
}

/* Before a value or a key: the comma when the container has an element. */
static void separate(struct sl_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    uint64_t bit = UINT64_C(1) << w->depth;
    if (w->filled & bit)
        put(w, ",", 1);
    w->filled |= bit;
}

static void open_container(struct sl_jw *w, char c)
{
    separate(w);
    if (w->depth >= MAX_DEPTH && w->err == 0)
        w->err = UV_EINVAL;
    if (w->err)
        return;
    put(w, &c, 1);
    w->depth++;
    uint64_t bit = UINT64_C(1) << w->depth;
    w->filled &= ~bit;
    if (c == '[')
        w->arrays |= bit;
    else
        w->arrays &= ~bit;
}

void sl_jw_object(struct sl_jw *w)
{
    open_container(w, '{');
}

void sl_jw_array(struct sl_jw *w)
{
    open_container(w, '[');
}

void sl_jw_end(struct sl_jw *w)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->after_key) {
        w->err = UV_EINVAL;
        return;
    }
    put(w, (w->arrays >> w->depth & 1) ? "]" : "}", 1);
    w->depth--;
}

/* Writes s escaped, in runs: bytes that need no escape are copied at once. */
static void escaped(struct sl_jw *w, const char *s, size_t len)
{
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len && w->err == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + run, i - run);
        run = i + 1;
        char esc[8];
        size_t n = 2;
        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        put(w, esc, n);
    }
    put(w, s + run, len - run);
    put(w, "\"", 1);
}

void sl_jw_key_n(struct sl_jw *w, const char *key, size_t len)
{
    if (w->err)
        return;
    if (w->depth == 0 || (w->arrays >> w->depth & 1) || w->after_key) {
        w->err = UV_EINVAL;
        return;
    }
    separate(w);
    escaped(w, key, len);
    put(w, ":", 1);
    w->after_key = 1;
}

void sl_jw_key(struct sl_jw *w, const char *key)
{
    sl_jw_key_n(w, key, strlen(key));
}

void sl_jw_raw(struct sl_jw *w, const char *json, size_t len)
{
    separate(w);
    put(w, json, len);
}

void sl_jw_string_n(struct sl_jw *w, const char *s, size_t len)
{
    separate(w);
    escaped(w, s, len);
}

void sl_jw_string(struct sl_jw *w, const char *s)
{
    sl_jw_string_n(w, s, strlen(s));
}

void sl_jw_string_open(struct sl_jw *w)
{
    separate(w);
    put(w, "\"", 1);
}

void sl_jw_string_piece(struct sl_jw *w, const char *escaped, size_t len)
{
    put(w, escaped, len);
}

void sl_jw_string_close(struct sl_jw *w)
{
    put(w, "\"", 1);
}

void sl_jw_int(struct sl_jw *w, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", v);
    sl_jw_raw(w, num, (size_t)n);
}

void sl_jw_bool(struct sl_jw *w, int v)
{
    sl_jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void sl_jw_null(struct sl_jw *w)
{
    sl_jw_raw(w, "null", 4);
}

void sl_jw_kv_string(struct sl_jw *w, const char *key, const char *s)
{
    sl_jw_key(w, key);
    sl_jw_string(w, s);
}

void sl_jw_kv_int(struct sl_jw *w, const char *key, long long v)
{
    sl_jw_key(w, key);
    sl_jw_int(w, v);
}

void sl_jw_kv_raw(struct sl_jw *w, const char *key, const char *json, size_t len)
{
    sl_jw_key(w, key);
    sl_jw_raw(w, json, len);
}

int sl_jw_finish(const struct sl_jw *w)
{
    if (w->err)
        return w->err;
    return w->depth == 0 && !w->after_key ? 0 : UV_EINVAL;
}
