/* A virtual key's pure rules, without a clock or a database: budget
 * periods in UTC (against libc's calendar), model globs, times as text,
 * and the admin API's JSON (rendered, read back, refused). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/json_scan.h"
#include "store/key_record.h"

#define S 1000000ll /* µs per second */

/* 2024-02-29T13:45:10Z, a Thursday in a leap February */
#define LEAP_DAY (1709214310ll * S)

Test(key_record, periods_start_and_end_at_utc_boundaries)
{
    cr_assert_eq(sl_key_period_start(SL_KEY_TOTAL, LEAP_DAY), 0);
    cr_assert_eq(sl_key_period_end(SL_KEY_TOTAL, LEAP_DAY), INT64_MAX);
    cr_assert_eq(sl_key_period_start(SL_KEY_DAILY, LEAP_DAY), 1709164800ll * S);
    cr_assert_eq(sl_key_period_end(SL_KEY_DAILY, LEAP_DAY), 1709251200ll * S);     /* 03-01 */
    cr_assert_eq(sl_key_period_start(SL_KEY_WEEKLY, LEAP_DAY), 1708905600ll * S);  /* Mon 02-26 */
    cr_assert_eq(sl_key_period_end(SL_KEY_WEEKLY, LEAP_DAY), 1709510400ll * S);    /* Mon 03-04 */
    cr_assert_eq(sl_key_period_start(SL_KEY_MONTHLY, LEAP_DAY), 1706745600ll * S); /* 02-01 */
    cr_assert_eq(sl_key_period_end(SL_KEY_MONTHLY, LEAP_DAY), 1709251200ll * S);   /* 03-01 */
    /* the last microsecond of a year, and the first of the next */
    int64_t last = 1798761600ll * S - 1;
    cr_assert_eq(sl_key_period_end(SL_KEY_MONTHLY, last), 1798761600ll * S);
    cr_assert_eq(sl_key_period_start(SL_KEY_MONTHLY, last + 1), 1798761600ll * S);
    cr_assert_eq(sl_key_period_start(SL_KEY_WEEKLY, last), 1798416000ll * S); /* Mon 12-28 */
    cr_assert_eq(sl_key_period_start(SL_KEY_DAILY, last + 1), last + 1);
    /* the epoch was a Thursday; its week began on Monday 1969-12-29 */
    cr_assert_eq(sl_key_period_start(SL_KEY_WEEKLY, 0), -259200ll * S);
}

Test(key_record, periods_agree_with_the_libc_calendar)
{
    srand(11);
    for (int i = 0; i < 200000; i++) {
        /* 1970 to 2100, to the microsecond */
        int64_t now = ((int64_t)rand() * 2 % 4102444800ll) * S + rand() % S;
        time_t t = (time_t)(now / S);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        int64_t day = (int64_t)timegm(&tm) * S;
        cr_assert_eq(sl_key_period_start(SL_KEY_DAILY, now), day, "at %lld", (long long)now);
        int back = (tm.tm_wday + 6) % 7; /* days since Monday */
        cr_assert_eq(sl_key_period_start(SL_KEY_WEEKLY, now), day - back * 86400ll * S);
        struct tm first = tm;
        first.tm_mday = 1;
        cr_assert_eq(sl_key_period_start(SL_KEY_MONTHLY, now), (int64_t)timegm(&first) * S);
        struct tm next = first;
        next.tm_mon++; /* timegm normalises December + 1 */
        cr_assert_eq(sl_key_period_end(SL_KEY_MONTHLY, now), (int64_t)timegm(&next) * S);
        int64_t start = sl_key_period_start(SL_KEY_WEEKLY, now);
        cr_assert(start <= now && now < sl_key_period_end(SL_KEY_WEEKLY, now));
    }
}

Test(key_record, period_names)
{
    enum sl_key_period p;
    cr_assert_eq(sl_key_period_parse("weekly", 6, &p), 0);
    cr_assert_eq(p, SL_KEY_WEEKLY);
    cr_assert_str_eq(sl_key_period_name(SL_KEY_MONTHLY), "monthly");
    cr_assert_eq(sl_key_period_parse("week", 4, &p), -1);
    cr_assert_eq(sl_key_period_parse("yearly", 6, &p), -1);
}

static int allow(const char *patterns, const char *model)
{
    return sl_key_models_allow(patterns, model, strlen(model));
}

Test(key_record, model_patterns)
{
    cr_assert(allow("", "anything"));
    cr_assert(allow("gpt-4o*", "gpt-4o"));
    cr_assert(allow("gpt-4o*", "gpt-4o-mini"));
    cr_assert_not(allow("gpt-4o*", "gpt-4"));
    cr_assert(allow("gpt-4o*, claude-*", "claude-3-5-sonnet"));
    cr_assert(allow("a,b ,  c", "c"));
    cr_assert(allow("gpt-?", "gpt-4"));
    cr_assert_not(allow("gpt-?", "gpt-40"));
    cr_assert(allow("*", ""));
    cr_assert(allow("*mini*", "gpt-4o-mini-2024"));
    cr_assert(allow("a*b*c", "aXXbYYbZZc"));
    cr_assert_not(allow("a*b*c", "aXXbYYbZZ"));
    cr_assert(allow("models/*", "models/x/y")); /* no path rules: '*' crosses '/' */
    cr_assert_not(allow("gpt", "gpt-4"));       /* a pattern matches the whole name */
    cr_assert_not(allow("x,,y", ""));           /* an empty pattern matches nothing */
    /* the model is a length, not a C string */
    cr_assert(sl_key_models_allow("gpt-4", "gpt-4o", 5));
}

Test(key_record, times_as_text)
{
    char iso[21];
    sl_key_time_iso(LEAP_DAY + 999999, iso);
    cr_assert_str_eq(iso, "2024-02-29T13:45:10Z");
    int64_t us;
    cr_assert_eq(sl_key_time_parse(iso, strlen(iso), 0, &us), 0);
    cr_assert_eq(us, LEAP_DAY);
    cr_assert_eq(sl_key_time_parse("2024-03-01", 10, 0, &us), 0);
    cr_assert_eq(us, 1709251200ll * S);
    cr_assert_eq(sl_key_time_parse("+30d", 4, LEAP_DAY, &us), 0);
    cr_assert_eq(us, LEAP_DAY + 30 * 86400ll * S);
    cr_assert_eq(sl_key_time_parse("+12h", 4, LEAP_DAY, &us), 0);
    cr_assert_eq(us, LEAP_DAY + 12 * 3600ll * S);
    const char *bad[] = {"2023-02-29T00:00:00Z",
                         "2024-13-01",
                         "2024-02-29T24:00:00Z",
                         "2024-02-29 13:45:10Z",
                         "+30y",
                         "+d",
                         "+0d",
                         "1969-12-31",
                         "tomorrow",
                         "+99999999999d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(sl_key_time_parse(bad[i], strlen(bad[i]), LEAP_DAY, &us), -1, "%s", bad[i]);
    /* relative times only when a now is given (the admin API takes none) */
    cr_assert_eq(sl_key_time_parse("+30d", 4, 0, &us), -1);
}

static struct sl_key_record sample(void)
{
    struct sl_key_record r;
    sl_key_record_init(&r);
    strcpy(r.id, "key_0123456789abcdef");
    strcpy(r.name, "team \"a\"\\n");
    strcpy(r.team, "ml");
    strcpy(r.prefix, "sk-sl-AbCdEf");
    strcpy(r.models, "gpt-4o*,claude-*");
    r.rpm = 60;
    r.tpm = 100000;
    r.max_parallel = 4;
    r.budget_usd = 12.5;
    r.period = SL_KEY_MONTHLY;
    r.expires_us = 1798761600ll * S;
    strcpy(r.metadata, "{\"owner\": \"bob\", \"n\": [1, 2]}");
    r.created_us = LEAP_DAY;
    r.updated_us = LEAP_DAY + 5 * S;
    return r;
}

static char *render(const struct sl_key_record *r)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 16);
    cr_assert_eq(sl_key_record_json(r, &b), 0);
    struct sl_json_doc doc;
    cr_assert_eq(sl_json_scan(b.ptr, b.len, &doc), 0, "invalid JSON: %s", b.ptr);
    return b.ptr;
}

Test(key_record, json_rendering)
{
    struct sl_key_record r = sample();
    char *j = render(&r);
    cr_assert_str_eq(
        j, "{\"id\":\"key_0123456789abcdef\",\"object\":\"gateway.key\","
           "\"name\":\"team \\\"a\\\"\\\\n\",\"team\":\"ml\",\"prefix\":\"sk-sl-AbCdEf\","
           "\"models\":[\"gpt-4o*\",\"claude-*\"],\"rpm\":60,\"tpm\":100000,\"max_parallel\":4,"
           "\"budget_usd\":12.5,\"budget_period\":\"monthly\","
           "\"expires_at\":\"2027-01-01T00:00:00Z\",\"metadata\":{\"owner\": \"bob\", \"n\": [1, "
           "2]},\"enabled\":true,\"revoked\":false,\"revoked_at\":null,"
           "\"created_at\":\"2024-02-29T13:45:10Z\",\"updated_at\":\"2024-02-29T13:45:15Z\"}");
    free(j);
    struct sl_key_record none;
    sl_key_record_init(&none);
    j = render(&none);
    cr_assert_not_null(strstr(j, "\"models\":[],"), "%s", j);
    cr_assert_not_null(strstr(j, "\"budget_usd\":null,"), "%s", j);
    cr_assert_not_null(strstr(j, "\"expires_at\":null,"), "%s", j);
    cr_assert_not_null(strstr(j, "\"metadata\":{},"), "%s", j);
    free(j);
}

/* The writable members of a rendered record, as a create body would send them. */
static void writable_body(const struct sl_key_record *r, char *out, size_t size)
{
    char *full = render(r);
    char *models = strstr(full, "\"models\""), *period_end = strstr(full, ",\"revoked\"");
    char *name = strstr(full, "\"name\""), *prefix = strstr(full, ",\"prefix\"");
    cr_assert(models && period_end && name && prefix);
    snprintf(out, size, "{%.*s,%.*s}", (int)(prefix - name), name, (int)(period_end - models),
             models);
    free(full);
}

Test(key_record, json_round_trip)
{
    struct sl_key_record r = sample(), back;
    char body[4096], err[256];
    writable_body(&r, body, sizeof(body));
    sl_key_record_init(&back);
    unsigned mask = 0;
    cr_assert_eq(sl_key_update_parse_json(body, strlen(body), &back, &mask, err, sizeof(err)), 0,
                 "%s: %s", body, err);
    cr_assert_eq(mask, SL_KEY_F_NAME | SL_KEY_F_TEAM | SL_KEY_F_MODELS | SL_KEY_F_RPM |
                           SL_KEY_F_TPM | SL_KEY_F_MAX_PARALLEL | SL_KEY_F_BUDGET |
                           SL_KEY_F_PERIOD | SL_KEY_F_EXPIRES | SL_KEY_F_METADATA |
                           SL_KEY_F_ENABLED);
    cr_assert_str_eq(back.name, r.name);
    cr_assert_str_eq(back.team, r.team);
    cr_assert_str_eq(back.models, r.models);
    cr_assert_eq(back.rpm, r.rpm);
    cr_assert_eq(back.tpm, r.tpm);
    cr_assert_eq(back.max_parallel, r.max_parallel);
    cr_assert_eq(back.budget_usd, r.budget_usd);
    cr_assert_eq(back.period, r.period);
    cr_assert_eq(back.expires_us, r.expires_us);
    cr_assert_str_eq(back.metadata, r.metadata);
    cr_assert_eq(back.enabled, 1);
}

static unsigned parse_ok(const char *body, struct sl_key_record *r)
{
    char err[256];
    unsigned mask = 0;
    sl_key_record_init(r);
    cr_assert_eq(sl_key_update_parse_json(body, strlen(body), r, &mask, err, sizeof(err)), 0,
                 "%s: %s", body, err);
    return mask;
}

Test(key_record, json_update_bodies_set_only_what_they_give)
{
    struct sl_key_record r;
    cr_assert_eq(parse_ok("{\"rpm\": 5}", &r), SL_KEY_F_RPM);
    cr_assert_eq(r.rpm, 5);
    cr_assert_eq(parse_ok(" {} ", &r), 0);
    cr_assert_eq(parse_ok("{\"expires_at\": 1709214310}", &r), SL_KEY_F_EXPIRES);
    cr_assert_eq(r.expires_us, LEAP_DAY);
    cr_assert_eq(parse_ok("{\"expires_at\": null, \"budget_usd\": null, \"models\": null}", &r),
                 SL_KEY_F_EXPIRES | SL_KEY_F_BUDGET | SL_KEY_F_MODELS);
    cr_assert_eq(r.expires_us, 0);
    cr_assert_eq(r.budget_usd, 0);
    cr_assert_str_eq(r.models, "");
    cr_assert_eq(parse_ok("{\"enabled\": false, \"name\": \"caf\\u00e9\"}", &r),
                 SL_KEY_F_ENABLED | SL_KEY_F_NAME);
    cr_assert_eq(r.enabled, 0);
    cr_assert_str_eq(r.name, "caf\xc3\xa9");
}

static void refused(const char *body, const char *needle)
{
    struct sl_key_record r;
    char err[256] = "";
    unsigned mask = 0;
    sl_key_record_init(&r);
    cr_assert_eq(sl_key_update_parse_json(body, strlen(body), &r, &mask, err, sizeof(err)), -1,
                 "accepted: %s", body);
    cr_assert_eq(mask, 0);
    cr_assert_not_null(strstr(err, needle), "%s: '%s' not in '%s'", body, needle, err);
    cr_assert_null(strchr(err, '\n'), "%s", err);
}

Test(key_record, json_refusals)
{
    refused("", "invalid JSON");
    refused("{\"rpm\": 5", "invalid JSON");
    refused("[1]", "must be a JSON object");
    refused("{\"color\": \"red\"}", "unknown field 'color'");
    refused("{\"id\": \"key_x\"}", "'id' is read-only");
    refused("{\"revoked\": false}", "'revoked' is read-only");
    refused("{\"rpm\": -1}", "bad value for 'rpm'");
    refused("{\"rpm\": 1.5}", "bad value for 'rpm'");
    refused("{\"rpm\": \"5\"}", "bad value for 'rpm'");
    refused("{\"tpm\": 4294967296}", "bad value for 'tpm'");
    refused("{\"name\": \"\"}", "name must be");
    refused("{\"name\": 5}", "bad value for 'name'");
    refused("{\"name\": \"a\\u0000b\"}", "bad value for 'name'");
    refused("{\"name\": \"a\\nb\"}", "name must be");
    refused("{\"name\": \"0123456789012345678901234567890123456789012345678901234567890123\"}",
            "bad value for 'name'");
    refused("{\"models\": \"gpt-4o\"}", "bad value for 'models'");
    refused("{\"models\": [\"a,b\"]}", "bad value for 'models'");
    refused("{\"models\": [1]}", "bad value for 'models'");
    refused("{\"budget_usd\": -3}", "bad value for 'budget_usd'");
    refused("{\"budget_period\": \"yearly\"}", "bad value for 'budget_period'");
    refused("{\"expires_at\": \"next week\"}", "bad value for 'expires_at'");
    /* found by the key_json fuzzer: seconds past year 9999 overflowed the microseconds */
    refused("{\"expires_at\":9944444444449}", "bad value for 'expires_at'");
    refused("{\"expires_at\":253402300800}", "bad value for 'expires_at'");
    refused("{\"expires_at\": true}", "bad value for 'expires_at'");
    refused("{\"metadata\": [1, 2]}", "bad value for 'metadata'");
    refused("{\"metadata\": \"{}\"}", "bad value for 'metadata'");
    refused("{\"enabled\": 1}", "bad value for 'enabled'");
    refused("{\"rpm\": 1, \"rpm\": 2}", "given twice");
    char big[2048];
    snprintf(big, sizeof(big), "{\"metadata\": {\"k\": \"%01100d\"}}", 0);
    refused(big, "metadata is longer than 1023 bytes");
}

Test(key_record, states)
{
    struct sl_key_record r;
    sl_key_record_init(&r);
    cr_assert_eq(sl_key_record_state(&r, LEAP_DAY), SL_KEY_ACTIVE);
    r.expires_us = LEAP_DAY;
    cr_assert_eq(sl_key_record_state(&r, LEAP_DAY - 1), SL_KEY_ACTIVE);
    cr_assert_eq(sl_key_record_state(&r, LEAP_DAY), SL_KEY_EXPIRED);
    r.enabled = 0;
    cr_assert_eq(sl_key_record_state(&r, LEAP_DAY - 1), SL_KEY_DISABLED);
    cr_assert_eq(sl_key_record_state(&r, LEAP_DAY), SL_KEY_EXPIRED);
    r.revoked_us = 1;
    cr_assert_eq(sl_key_record_state(&r, 0), SL_KEY_REVOKED);
    cr_assert_str_eq(sl_key_state_name(SL_KEY_DISABLED), "disabled");
}
