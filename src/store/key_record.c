#include "store/key_record.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/json_scan.h"
#include "http/json_walk.h"

#define US_PER_S   INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_S)

void sl_key_record_init(struct sl_key_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->enabled = 1;
    rec->period = SL_KEY_TOTAL;
    strcpy(rec->metadata, "{}");
}

enum sl_key_state sl_key_record_state(const struct sl_key_record *rec, int64_t now_us)
{
    if (rec->revoked_us)
        return SL_KEY_REVOKED;
    if (rec->expires_us && now_us >= rec->expires_us)
        return SL_KEY_EXPIRED;
    return rec->enabled ? SL_KEY_ACTIVE : SL_KEY_DISABLED;
}

const char *sl_key_state_name(enum sl_key_state state)
{
    static const char *const names[] = {"active", "disabled", "expired", "revoked"};
    return (unsigned)state < 4 ? names[state] : "revoked";
}

static const char *const period_names[] = {"total", "daily", "weekly", "monthly"};

const char *sl_key_period_name(enum sl_key_period period)
{
    return (unsigned)period < 4 ? period_names[period] : "total";
}

int sl_key_period_parse(const char *text, size_t len, enum sl_key_period *out)
{
    for (int i = 0; i < 4; i++)
        if (strlen(period_names[i]) == len && memcmp(period_names[i], text, len) == 0) {
            *out = (enum sl_key_period)i;
            return 0;
        }
    return -1;
}

/* ---- calendar arithmetic (proleptic Gregorian, UTC) ------------------------ */

/* Floor division: times before 1970 still fall in the right day. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's
 * algorithms: eras of 400 years starting in March). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t sl_key_period_start(enum sl_key_period period, int64_t now_us)
{
    int64_t day = floor_div(now_us, US_PER_DAY);
    int64_t y;
    unsigned m, d;
    switch (period) {
    case SL_KEY_DAILY:
        return day * US_PER_DAY;
    case SL_KEY_WEEKLY: /* 1970-01-01 was a Thursday: Monday is 3 days before */
        return (day - (day + 3 - floor_div(day + 3, 7) * 7)) * US_PER_DAY;
    case SL_KEY_MONTHLY:
        civil_from_days(day, &y, &m, &d);
        return days_from_civil(y, m, 1) * US_PER_DAY;
    case SL_KEY_TOTAL:
    default:
        return 0;
    }
}

int64_t sl_key_period_end(enum sl_key_period period, int64_t now_us)
{
    int64_t start = sl_key_period_start(period, now_us), y;
    unsigned m, d;
    switch (period) {
    case SL_KEY_DAILY:
        return start + US_PER_DAY;
    case SL_KEY_WEEKLY:
        return start + 7 * US_PER_DAY;
    case SL_KEY_MONTHLY:
        civil_from_days(floor_div(start, US_PER_DAY), &y, &m, &d);
        return days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * US_PER_DAY;
    case SL_KEY_TOTAL:
    default:
        return INT64_MAX;
    }
}

/* ---- model patterns -------------------------------------------------------- */

/* Glob match with one backtrack point: the last '*' seen (linear enough
 * for patterns of a few dozen bytes, and never recursive). */
static int glob(const char *p, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < slen) {
        if (pi < plen && (p[pi] == '?' || p[pi] == s[si])) {
            pi++, si++;
        } else if (pi < plen && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

int sl_key_models_allow(const char *patterns, const char *model, size_t len)
{
    if (patterns[0] == '\0')
        return 1;
    for (const char *p = patterns;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && glob(a, (size_t)(b - a), model, len))
            return 1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* ---- times ----------------------------------------------------------------- */

void sl_key_time_iso(int64_t us, char out[21])
{
    int64_t day = floor_div(us, US_PER_DAY), y;
    int64_t s = floor_div(us, US_PER_S) - day * 86400;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 21, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(s / 3600),
             (int)(s / 60 % 60), (int)(s % 60));
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int sl_key_time_parse(const char *text, size_t len, int64_t now_us, int64_t *out_us)
{
    if (now_us > 0 && len >= 3 && text[0] == '+') {
        int64_t n = 0, unit;
        size_t i = 1;
        for (; i < len - 1; i++) {
            if (text[i] < '0' || text[i] > '9' || n > 1000000000)
                return -1;
            n = n * 10 + (text[i] - '0');
        }
        switch (text[len - 1]) {
        case 's':
            unit = US_PER_S;
            break;
        case 'm':
            unit = 60 * US_PER_S;
            break;
        case 'h':
            unit = 3600 * US_PER_S;
            break;
        case 'd':
            unit = US_PER_DAY;
            break;
        default:
            return -1;
        }
        if (n == 0 || n > INT64_C(100) * 366 * 86400 * US_PER_S / unit)
            return -1;
        *out_us = now_us + n * unit;
        return 0;
    }
    if (len != 10 && len != 20)
        return -1;
    int y = digits(text, 4), mo = digits(text + 5, 2), d = digits(text + 8, 2);
    int h = 0, mi = 0, s = 0;
    if (text[4] != '-' || text[7] != '-' || y < 1970 || mo < 1 || mo > 12 || d < 1)
        return -1;
    if (len == 20) {
        h = digits(text + 11, 2), mi = digits(text + 14, 2), s = digits(text + 17, 2);
        if (text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z' || h < 0 ||
            h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
            return -1;
    }
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if ((unsigned)d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    *out_us =
        (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s) * US_PER_S;
    return 0;
}

/* ---- checks ---------------------------------------------------------------- */

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

int sl_key_record_check(const struct sl_key_record *rec, unsigned mask, char *err, size_t err_size)
{
    if ((mask & SL_KEY_F_NAME) && (rec->name[0] == '\0' || !printable(rec->name)))
        return fail(err, err_size, "name must be 1 to %d printable bytes", SL_KEY_NAME_MAX);
    if ((mask & SL_KEY_F_TEAM) && !printable(rec->team))
        return fail(err, err_size, "team must be printable text");
    if ((mask & SL_KEY_F_MODELS) && (!printable(rec->models) || strpbrk(rec->models, "\"\\")))
        return fail(err, err_size, "models must be glob patterns separated by commas");
    if ((mask & SL_KEY_F_BUDGET) && (!isfinite(rec->budget_usd) || rec->budget_usd < 0))
        return fail(err, err_size, "budget_usd must be a number >= 0");
    if ((mask & SL_KEY_F_PERIOD) && (unsigned)rec->period > SL_KEY_MONTHLY)
        return fail(err, err_size, "budget_period must be total, daily, weekly or monthly");
    if ((mask & SL_KEY_F_EXPIRES) && rec->expires_us < 0)
        return fail(err, err_size, "expires_at must be after 1970");
    if (mask & SL_KEY_F_METADATA) {
        struct sl_json_doc doc;
        if (sl_json_scan(rec->metadata, strlen(rec->metadata), &doc) != 0 ||
            doc.type != SL_JSON_OBJECT)
            return fail(err, err_size, "metadata must be a JSON object of at most %d bytes",
                        SL_KEY_META_MAX);
    }
    return 0;
}

/* ---- JSON out -------------------------------------------------------------- */

static int appendf(struct sl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(struct sl_buf *out, const char *fmt, ...)
{
    char tmp[8 * (SL_KEY_NAME_MAX + 1)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return sl_buf_append(out, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* "name":"escaped" */
static int append_str(struct sl_buf *out, const char *name, const char *value)
{
    char esc[6 * (SL_KEY_MODELS_MAX + 1) + 8];
    sl_json_escape(esc, sizeof(esc), value);
    int rc = appendf(out, "\"%s\":\"", name);
    if (rc == 0)
        rc = sl_buf_append(out, esc, strlen(esc));
    return rc ? rc : sl_buf_append(out, "\"", 1);
}

static int append_time(struct sl_buf *out, const char *name, int64_t us)
{
    char iso[21];
    if (us == 0)
        return appendf(out, ",\"%s\":null", name);
    sl_key_time_iso(us, iso);
    return appendf(out, ",\"%s\":\"%s\"", name, iso);
}

int sl_key_record_json(const struct sl_key_record *rec, struct sl_buf *out)
{
    int rc = appendf(out, "{\"id\":\"%s\",\"object\":\"gateway.key\",", rec->id);
    rc = rc ? rc : append_str(out, "name", rec->name);
    rc = rc ? rc : sl_buf_append(out, ",", 1);
    rc = rc ? rc : append_str(out, "team", rec->team);
    rc = rc ? rc : sl_buf_append(out, ",", 1);
    rc = rc ? rc : append_str(out, "prefix", rec->prefix);
    rc = rc ? rc : sl_buf_append(out, ",\"models\":[", 11);
    for (const char *p = rec->models; rc == 0 && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[SL_KEY_MODELS_MAX + 1], esc[6 * (SL_KEY_MODELS_MAX + 1) + 8];
        memcpy(one, p, n);
        one[n] = '\0';
        sl_json_escape(esc, sizeof(esc), one);
        rc = appendf(out, "%s\"", p == rec->models ? "" : ",");
        rc = rc ? rc : sl_buf_append(out, esc, strlen(esc));
        rc = rc ? rc : sl_buf_append(out, "\"", 1);
        p = comma ? comma + 1 : p + n;
    }
    rc = rc ? rc
            : appendf(out, "],\"rpm\":%u,\"tpm\":%u,\"max_parallel\":%u", rec->rpm, rec->tpm,
                      rec->max_parallel);
    if (rc == 0 && rec->budget_usd > 0)
        rc = appendf(out, ",\"budget_usd\":%.15g", rec->budget_usd);
    else if (rc == 0)
        rc = appendf(out, ",\"budget_usd\":null");
    rc = rc ? rc : appendf(out, ",\"budget_period\":\"%s\"", sl_key_period_name(rec->period));
    rc = rc ? rc : append_time(out, "expires_at", rec->expires_us);
    rc = rc ? rc : sl_buf_append(out, ",\"metadata\":", 12);
    rc = rc ? rc
            : sl_buf_append(out, rec->metadata[0] ? rec->metadata : "{}",
                            rec->metadata[0] ? strlen(rec->metadata) : 2);
    rc = rc ? rc
            : appendf(out, ",\"enabled\":%s,\"revoked\":%s", rec->enabled ? "true" : "false",
                      rec->revoked_us ? "true" : "false");
    rc = rc ? rc : append_time(out, "revoked_at", rec->revoked_us);
    rc = rc ? rc : append_time(out, "created_at", rec->created_us);
    rc = rc ? rc : append_time(out, "updated_at", rec->updated_us);
    return rc ? rc : sl_buf_append(out, "}", 1);
}

/* ---- JSON in --------------------------------------------------------------- */

/* A string member into dst (size bytes, NUL included); -1 if it is not a
 * string, is too long or holds a NUL. */
static int take_string(const struct sl_json_value *v, char *dst, size_t size)
{
    struct sl_buf b;
    sl_buf_init(&b, size - 1);
    int rc = sl_json_string(v, &b);
    if (rc == 0 && b.len > 0 && memchr(b.ptr, '\0', b.len))
        rc = -1;
    if (rc == 0)
        memcpy(dst, b.ptr ? b.ptr : "", b.len + 1);
    sl_buf_release(&b);
    return rc;
}

static int take_number(const struct sl_json_value *v, double *out)
{
    char tmp[64];
    size_t n = (size_t)(v->end - v->start);
    if (*v->start != '-' && (*v->start < '0' || *v->start > '9'))
        return -1;
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v->start, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtod(tmp, NULL);
    return errno == ERANGE || !isfinite(*out) ? -1 : 0;
}

static int is_null(const struct sl_json_value *v)
{
    return *v->start == 'n';
}

/* models: an array of patterns (or null / "" for any model). */
static int take_models(const struct sl_json_value *v, char *dst)
{
    if (is_null(v)) {
        dst[0] = '\0';
        return 0;
    }
    struct sl_json_walk w;
    struct sl_json_value item;
    char one[SL_KEY_MODELS_MAX + 1];
    size_t len = 0;
    if (*v->start != '[' || sl_json_enter(&w, v) != 0)
        return -1;
    dst[0] = '\0';
    while (sl_json_next_item(&w, &item)) {
        if (*item.start != '"' || take_string(&item, one, sizeof(one)) != 0 || one[0] == '\0' ||
            strchr(one, ','))
            return -1;
        size_t n = strlen(one);
        if (len + (len > 0) + n > SL_KEY_MODELS_MAX)
            return -1;
        if (len > 0)
            dst[len++] = ',';
        memcpy(dst + len, one, n + 1);
        len += n;
    }
    return 0;
}

static const char *const read_only[] = {"id",         "object",     "prefix",     "revoked",
                                        "revoked_at", "created_at", "updated_at", NULL};

int sl_key_update_parse_json(const char *body, size_t len, struct sl_key_record *rec,
                             unsigned *mask, char *err, size_t err_size)
{
    struct sl_json_doc doc;
    if (sl_json_scan(body, len, &doc) != 0)
        return fail(err, err_size, "invalid JSON at byte %zu: %s", doc.error_at, doc.error);
    if (doc.type != SL_JSON_OBJECT)
        return fail(err, err_size, "the body must be a JSON object");
    struct sl_json_value top = sl_json_value_of(body, len), key, v;
    struct sl_json_walk w;
    sl_json_enter(&w, &top);
    unsigned seen = 0;
    while (sl_json_next_member(&w, &key, &v)) {
        int klen = (int)(key.end - key.start - 2);
        const char *kname = key.start + 1;
        unsigned bit = 0;
        double num;
        int bad = 0;
        if (sl_json_key_is(&key, "name")) {
            bit = SL_KEY_F_NAME;
            bad = *v.start != '"' || take_string(&v, rec->name, sizeof(rec->name)) != 0;
        } else if (sl_json_key_is(&key, "team")) {
            bit = SL_KEY_F_TEAM;
            if (is_null(&v))
                rec->team[0] = '\0';
            else
                bad = *v.start != '"' || take_string(&v, rec->team, sizeof(rec->team)) != 0;
        } else if (sl_json_key_is(&key, "models")) {
            bit = SL_KEY_F_MODELS;
            bad = take_models(&v, rec->models) != 0;
        } else if (sl_json_key_is(&key, "rpm") || sl_json_key_is(&key, "tpm") ||
                   sl_json_key_is(&key, "max_parallel")) {
            unsigned *dst = kname[0] == 'r'   ? &rec->rpm
                            : kname[0] == 't' ? &rec->tpm
                                              : &rec->max_parallel;
            bit = kname[0] == 'r'   ? SL_KEY_F_RPM
                  : kname[0] == 't' ? SL_KEY_F_TPM
                                    : SL_KEY_F_MAX_PARALLEL;
            if (is_null(&v))
                *dst = 0;
            else if (take_number(&v, &num) != 0 || num < 0 || num > 4294967295.0 ||
                     num != floor(num))
                bad = 1;
            else
                *dst = (unsigned)num;
        } else if (sl_json_key_is(&key, "budget_usd")) {
            bit = SL_KEY_F_BUDGET;
            if (is_null(&v))
                rec->budget_usd = 0;
            else if (take_number(&v, &num) != 0 || num < 0)
                bad = 1;
            else
                rec->budget_usd = num;
        } else if (sl_json_key_is(&key, "budget_period")) {
            bit = SL_KEY_F_PERIOD;
            bad = *v.start != '"' ||
                  sl_key_period_parse(v.start + 1, (size_t)(v.end - v.start - 2), &rec->period);
        } else if (sl_json_key_is(&key, "expires_at")) {
            bit = SL_KEY_F_EXPIRES;
            if (is_null(&v))
                rec->expires_us = 0;
            else if (*v.start == '"')
                bad = sl_key_time_parse(v.start + 1, (size_t)(v.end - v.start - 2), 0,
                                        &rec->expires_us) != 0;
            else if (take_number(&v, &num) != 0 || num <= 0 || num > 253402300799.0) /* 9999-12-31 */
                bad = 1;
            else
                rec->expires_us = (int64_t)(num * 1e6);
        } else if (sl_json_key_is(&key, "metadata")) {
            bit = SL_KEY_F_METADATA;
            size_t n = (size_t)(v.end - v.start);
            if (*v.start != '{')
                bad = 1;
            else if (n > SL_KEY_META_MAX)
                return fail(err, err_size, "metadata is longer than %d bytes", SL_KEY_META_MAX);
            else
                memcpy(rec->metadata, v.start, n), rec->metadata[n] = '\0';
        } else if (sl_json_key_is(&key, "enabled")) {
            bit = SL_KEY_F_ENABLED;
            bad = *v.start != 't' && *v.start != 'f';
            rec->enabled = *v.start == 't';
        } else {
            for (int i = 0; read_only[i]; i++)
                if (sl_json_key_is(&key, read_only[i]))
                    return fail(err, err_size, "field '%s' is read-only", read_only[i]);
            return fail(err, err_size, "unknown field '%.*s'", klen > 64 ? 64 : klen, kname);
        }
        if (bad)
            return fail(err, err_size, "bad value for '%.*s': %s", klen, kname,
                        bit == SL_KEY_F_NAME   ? "a string of 1 to 63 bytes"
                        : bit == SL_KEY_F_TEAM ? "a string of at most 63 bytes, or null"
                        : bit == SL_KEY_F_MODELS
                            ? "an array of glob patterns (no commas, 511 bytes in all), or null"
                        : bit == SL_KEY_F_BUDGET ? "a number >= 0, or null"
                        : bit == SL_KEY_F_PERIOD ? "\"total\", \"daily\", \"weekly\" or \"monthly\""
                        : bit == SL_KEY_F_EXPIRES
                            ? "\"YYYY-MM-DDTHH:MM:SSZ\", seconds since 1970, or null"
                        : bit == SL_KEY_F_METADATA ? "a JSON object"
                        : bit == SL_KEY_F_ENABLED  ? "true or false"
                                                   : "a whole number >= 0, or null");
        if (seen & bit)
            return fail(err, err_size, "field '%.*s' is given twice", klen, kname);
        seen |= bit;
    }
    if (sl_key_record_check(rec, seen, err, err_size) != 0)
        return -1;
    *mask |= seen;
    return 0;
}
