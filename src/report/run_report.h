/* The run report: one self-contained HTML page (styles, scripts and data
 * inline; nothing fetched when it is opened) with the charts and tables of
 * a simulate or a serve run, built from what the run recorded in the
 * database. docs/report.md says what each chart shows and how it is
 * computed. */
#ifndef SL_RUN_REPORT_H
#define SL_RUN_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* status 0, or an error with a one-line reason in err. */
typedef void (*sl_run_report_cb)(int status, const char *err, void *arg);

/* Reads run run_id (0: the latest) from an open store and writes the page
 * to path (replaced whole: written beside it, then renamed). cb runs once,
 * on the loop; the store stays the caller's and may be closed in cb.
 * Returns 0, or UV_ENOMEM (cb will not run). */
int sl_run_report(struct sl_store *store, int64_t run_id, const char *path, sl_run_report_cb cb,
                  void *arg);

/* Inside: the page around the data JSON (report_page.c), written to out;
 * 0 or -1 on a write error. */
int sl__report_page_write(FILE *out, const char *title, const char *data_json, size_t len);

#endif
