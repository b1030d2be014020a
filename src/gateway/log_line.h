/* The gateway's log lines on stderr (text, or one JSON object a line). */
#ifndef SL_GW_LOG_LINE_H
#define SL_GW_LOG_LINE_H

#include "core/errclass.h"
#include "gateway/recorder.h"

/* One line per request, refused ones too. A success has no error field. */
void sl_gw_log_request(int json, const struct sl_gw_log_row *row);
/* One line per retry: which attempt failed how, and the wait before the next. */
void sl_gw_log_retry(int json, const char *id, const char *deployment, unsigned attempt,
                     unsigned max_attempts, enum sl_err error, double wait_ms);

#endif
