/* Helpers of the report tests: the data JSON a `sluice report` page
 * embeds (parsed with jansson, an independent parser), and checks of its
 * numbers against SQL on the same database. */
#ifndef SL_REPORT_SUPPORT_H
#define SL_REPORT_SUPPORT_H

#include <jansson.h>
#include <math.h>

#include "e2e.h"

/* The page's <script id="report-data"> content, parsed. */
static inline json_t *report_data(const char *html_path)
{
    char *html = e2e_slurp(html_path);
    static const char open[] = "<script type=\"application/json\" id=\"report-data\">";
    char *at = strstr(html, open);
    cr_assert_not_null(at, "%s has no report-data block", html_path);
    at += strlen(open);
    char *end = strstr(at, "</script>");
    cr_assert_not_null(end);
    *end = '\0';
    json_error_t jerr;
    json_t *d = json_loads(at, 0, &jerr);
    cr_assert_not_null(d, "report data is not JSON: %s at %d", jerr.text, jerr.position);
    /* nothing in the page may load from the network */
    *end = '<';
    cr_assert_null(strstr(html, "src=\"http"), "the page loads a script");
    cr_assert_null(strstr(html, "href=\"http"), "the page links a resource");
    free(html);
    return d;
}

/* The member at "a.b.c". */
static inline const json_t *jget(const json_t *o, const char *path)
{
    char buf[200];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, k);
        cr_assert_not_null(v, "no %s in the report data", path);
    }
    return v;
}

static inline double jnum(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    cr_assert(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

/* sum of an array of numbers */
static inline double jsum(const json_t *a)
{
    double s = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) s += json_number_value(v);
    return s;
}

/* The rows of a query as "v1|v2|...\n" lines, for comparing whole tables. */
static inline char *e2e_sql_text(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "|" : "", t ? t : "");
        }
        len += (size_t)snprintf(out + len, cap - len, "\n");
        cr_assert_lt(len, cap - 256, "query result too long for the test");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

#endif
