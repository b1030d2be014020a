/* The report page: the data JSON and the compiled-in assets (assets.S.in)
 * in one HTML file. Nothing is fetched when it is opened: no CDN, no
 * fonts, no images. */
#include <stdio.h>
#include <string.h>

#include "report/run_report.h"

extern const char sl_report_uplot_js[], sl_report_uplot_css[], sl_report_js[], sl_report_css[];

/* Text inside <script> ends at the first "</script": '<' never appears in
 * JSON outside a string, so every '<' becomes the string escape \u003c. */
static void put_json(FILE *out, const char *s, size_t len)
{
    size_t from = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '<') {
            fwrite(s + from, 1, i - from, out);
            fputs("\\u003c", out);
            from = i + 1;
        }
    fwrite(s + from, 1, len - from, out);
}

static void put_text(FILE *out, const char *s)
{
    for (; *s; s++)
        if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '&')
            fputs("&amp;", out);
        else
            fputc(*s, out);
}

int sl__report_page_write(FILE *out, const char *title, const char *data_json, size_t len)
{
    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"sluice report\">\n<title>",
          out);
    put_text(out, title);
    fputs("</title>\n<style>\n", out);
    fputs(sl_report_uplot_css, out);
    fputs("\n", out);
    fputs(sl_report_css, out);
    fputs("</style>\n</head>\n<body>\n<main id=\"report\"><noscript>This report draws its charts "
          "with JavaScript.</noscript></main>\n"
          "<script type=\"application/json\" id=\"report-data\">",
          out);
    put_json(out, data_json, len);
    fputs("</script>\n<script>\n", out);
    fputs(sl_report_uplot_js, out);
    fputs("\n</script>\n<script>\n", out);
    fputs(sl_report_js, out);
    fputs("</script>\n</body>\n</html>\n", out);
    return ferror(out) ? -1 : 0;
}
