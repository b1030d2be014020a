#include "http/json_walk.h"

#include <string.h>

#include "core/str.h"

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* The end of the value that starts at p (no leading whitespace). */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return end;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

struct sl_json_value sl_json_value_of(const char *text, size_t len)
{
    const char *end = text + len, *p = skip_ws(text, end);
    struct sl_json_value v = {p, skip_value(p, end)};
    return v;
}

int sl_json_enter(struct sl_json_walk *w, const struct sl_json_value *v)
{
    if (v->end - v->start < 2 || (*v->start != '{' && *v->start != '['))
        return -1;
    w->p = v->start + 1;
    w->end = v->end - 1; /* the closing bracket */
    return 0;
}

/* Steps over a separating comma; 0 at the end of the container. */
static int next(struct sl_json_walk *w)
{
    w->p = skip_ws(w->p, w->end);
    if (w->p < w->end && *w->p == ',')
        w->p = skip_ws(w->p + 1, w->end);
    return w->p < w->end;
}

int sl_json_next_item(struct sl_json_walk *w, struct sl_json_value *value)
{
    if (!next(w))
        return 0;
    value->start = w->p;
    value->end = w->p = skip_value(w->p, w->end);
    return value->end > value->start;
}

int sl_json_next_member(struct sl_json_walk *w, struct sl_json_value *key,
                        struct sl_json_value *value)
{
    if (!next(w) || *w->p != '"')
        return 0;
    key->start = w->p;
    key->end = w->p = skip_string(w->p, w->end);
    w->p = skip_ws(w->p, w->end);
    if (w->p >= w->end || *w->p != ':')
        return 0;
    w->p = skip_ws(w->p + 1, w->end);
    value->start = w->p;
    value->end = w->p = skip_value(w->p, w->end);
    return value->end > value->start;
}

int sl_json_key_is(const struct sl_json_value *key, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(key->end - key->start) == n + 2 && memcmp(key->start + 1, name, n) == 0;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = sl_hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int sl_json_string(const struct sl_json_value *v, struct sl_buf *out)
{
    if (v->end - v->start < 2 || *v->start != '"')
        return -1;
    const char *p = v->start + 1, *end = v->end - 1;
    /* Decoded text is never longer than its escaped form. */
    if (sl_buf_reserve(out, (size_t)(end - p)) != 0)
        return -1;
    char *o = out->ptr + out->len;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p + 1 >= end)
            break;
        char e = p[1];
        p += 2;
        switch (e) {
        case 'n':
            *o++ = '\n';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, end, &cp) < 0)
                break;
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, end, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate */
            o += utf8_put(o, cp);
            break;
        }
        default:
            *o++ = e; /* \" \\ \/ */
        }
    }
    sl_buf_commit(out, (size_t)(o - (out->ptr + out->len)));
    return 0;
}
