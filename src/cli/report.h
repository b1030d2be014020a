/* Prints analytics: a readable table, or one JSON object. `extra_json` is
 * spliced into the object (",\"seed\":42"), may be NULL. */
#ifndef SL_REPORT_H
#define SL_REPORT_H

#include <stdio.h>

#include "store/store.h"

void sl_report_text(FILE *out, const struct sl_stats *s, const char *db_path);
void sl_report_json(FILE *out, const struct sl_stats *s, const char *db_path,
                    const char *extra_json);

#endif
