#include "http/json_scan.h"

#include <stdio.h>
#include <string.h>

struct scanner {
    const char *p, *end, *start;
    int depth, too_deep;
    struct sl_json_pick *picks; /* wanted top-level members */
    size_t npicks;
};

static void skip_ws(struct scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int literal(struct scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

/* At the opening quote; leaves p after the closing one. */
static int string(struct scanner *s, struct sl_str *out)
{
    s->p++;
    const char *begin = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            if (out)
                *out = (struct sl_str){begin, (size_t)(s->p - begin)};
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            s->p++;
            if (s->p >= s->end)
                return -1;
            c = (unsigned char)*s->p;
            if (c == 'u') {
                if (s->end - s->p < 5)
                    return -1;
                for (int i = 1; i <= 4; i++)
                    if (sl_hex_digit(s->p[i]) < 0)
                        return -1;
                s->p += 4;
            } else if (!strchr("\"\\/bfnrt", c)) {
                return -1;
            }
        }
        s->p++;
    }
    return -1;
}

static int digits(struct scanner *s)
{
    const char *begin = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > begin ? 0 : -1;
}

static int number(struct scanner *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (digits(s) != 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) != 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s) != 0)
            return -1;
    }
    return 0;
}

static int value(struct scanner *s, struct sl_json_doc *doc, int top, enum sl_json_type *type,
                 size_t *items);

static int array(struct scanner *s, struct sl_json_doc *doc, size_t *items)
{
    s->p++;
    skip_ws(s);
    size_t n = 0;
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        *items = 0;
        return 0;
    }
    for (;;) {
        enum sl_json_type t;
        size_t sub;
        if (value(s, doc, 0, &t, &sub) != 0)
            return -1;
        n++;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ']') {
            s->p++;
            *items = n;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
    }
}

static int object(struct scanner *s, struct sl_json_doc *doc, int top)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        struct sl_str key;
        if (s->p >= s->end || *s->p != '"' || string(s, &key) != 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        skip_ws(s);
        const char *vstart = s->p;
        enum sl_json_type t;
        size_t items = 0;
        if (value(s, doc, 0, &t, &items) != 0)
            return -1;
        if (top) {
            doc->nmembers++;
            for (size_t i = 0; i < s->npicks; i++) {
                struct sl_json_pick *pk = &s->picks[i];
                if (pk->found || !sl_str_eq(key, pk->key))
                    continue;
                pk->found = 1;
                pk->m.key = key;
                pk->m.type = t;
                pk->m.items = items;
                if (t == SL_JSON_STRING)
                    pk->m.value = (struct sl_str){vstart + 1, (size_t)(s->p - vstart) - 2};
                else
                    pk->m.value = (struct sl_str){vstart, (size_t)(s->p - vstart)};
            }
        }
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
    }
}

static int value(struct scanner *s, struct sl_json_doc *doc, int top, enum sl_json_type *type,
                 size_t *items)
{
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    int rc;
    switch (*s->p) {
    case '{':
        if (++s->depth > SL_JSON_MAX_DEPTH) {
            s->too_deep = 1;
            return -1;
        }
        *type = SL_JSON_OBJECT;
        rc = object(s, doc, top);
        s->depth--;
        return rc;
    case '[':
        if (++s->depth > SL_JSON_MAX_DEPTH) {
            s->too_deep = 1;
            return -1;
        }
        *type = SL_JSON_ARRAY;
        rc = array(s, doc, items);
        s->depth--;
        return rc;
    case '"':
        *type = SL_JSON_STRING;
        return string(s, NULL);
    case 't':
        *type = SL_JSON_TRUE;
        return literal(s, "true");
    case 'f':
        *type = SL_JSON_FALSE;
        return literal(s, "false");
    case 'n':
        *type = SL_JSON_NULL;
        return literal(s, "null");
    default:
        *type = SL_JSON_NUMBER;
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return number(s);
        return -1;
    }
}

int sl_json_scan_pick(const char *text, size_t len, struct sl_json_doc *doc,
                      struct sl_json_pick *picks, size_t npicks)
{
    struct scanner s = {text, text + len, text, 0, 0, picks, npicks};
    size_t items;
    for (size_t i = 0; i < npicks; i++)
        picks[i].found = 0;
    doc->text = text;
    doc->len = len;
    doc->nmembers = 0;
    doc->error_at = 0;
    doc->error = NULL;
    int rc = value(&s, doc, 1, &doc->type, &items);
    if (rc == 0) {
        skip_ws(&s);
        if (s.p != s.end)
            rc = -1;
    }
    if (rc != 0) {
        doc->error_at = (size_t)(s.p - s.start);
        doc->error = s.too_deep ? "nested deeper than 64 levels" : "invalid JSON";
        for (size_t i = 0; i < npicks; i++)
            picks[i].found = 0;
    }
    return rc;
}

int sl_json_scan(const char *text, size_t len, struct sl_json_doc *doc)
{
    return sl_json_scan_pick(text, len, doc, NULL, 0);
}

int sl_json_get(const struct sl_json_doc *doc, const char *key, struct sl_json_member *out)
{
    if (doc->type != SL_JSON_OBJECT || doc->error)
        return 0;
    struct sl_json_doc again;
    struct sl_json_pick pick = {.key = key};
    if (sl_json_scan_pick(doc->text, doc->len, &again, &pick, 1) != 0 || !pick.found)
        return 0;
    *out = pick.m;
    return 1;
}

size_t sl_json_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    for (; *s && n + 7 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
    return n;
}
