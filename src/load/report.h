/* The report of a load run: a few aligned lines for people, or one JSON
 * object for programs. Both say the same things (mode, request and status
 * counts, errors by kind, latency percentiles, streaming figures). */
#ifndef SL_LOAD_REPORT_H
#define SL_LOAD_REPORT_H

#include <stdio.h>

#include "load/load.h"

/* What the run was asked to do, as the report names it. */
struct sl_load_report_run {
    const char *url;
    const char *method; /* NULL: POST */
    int stream;
    const struct sl_load_config *cfg;
};

void sl_load_report_text(FILE *o, const struct sl_load_report_run *run,
                         const struct sl_load_result *r);
void sl_load_report_json(FILE *o, const struct sl_load_report_run *run,
                         const struct sl_load_result *r);

#endif
