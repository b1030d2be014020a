/* OTLP/HTTP's JSON encoding of spans (an ExportTraceServiceRequest, as
 * opentelemetry-proto's JSON mapping writes it: ids in hex, 64-bit
 * integers and times as decimal strings). Pure: no I/O, no clock. */
#ifndef SL_OTEL_OTLP_JSON_H
#define SL_OTEL_OTLP_JSON_H

#include <stddef.h>

#include "core/buf.h"
#include "otel/trace.h"

/* The spans of n traces (otel/trace.h says which), under one resource
 * whose service.name is `service`, appended to out. Returns 0, UV_ENOBUFS
 * past out's max, or UV_ENOMEM. */
int sl_otlp_json(const struct sl_otel_trace *traces, size_t n, const char *service,
                 struct sl_buf *out);

/* How many spans sl_otlp_json writes for t. */
size_t sl_otlp_span_count(const struct sl_otel_trace *t);

#endif
