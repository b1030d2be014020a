/* Error classes: what went wrong with one attempt, in the vocabulary the
 * retry engine decides on and the store records. Names are stable: they are
 * written to the database and accepted on the command line. */
#ifndef SL_ERRCLASS_H
#define SL_ERRCLASS_H

#include <stdint.h>

enum sl_err {
    SL_OK = 0,
    SL_E_RATE_LIMITED, /* 429 */
    SL_E_UNAVAILABLE,  /* 503 */
    SL_E_TIMEOUT,      /* the attempt timed out */
    SL_E_SERVER_ERROR, /* 500 */
    SL_E_BAD_GATEWAY,  /* 502 */
    SL_E_CONN_REFUSED, /* could not connect */
    SL_E_CONN_RESET,   /* connection dropped mid-way */
    SL_E_BAD_REQUEST,  /* 400 */
    SL_E_UNAUTHORIZED, /* 401 */
    SL_E_DEADLINE,     /* the request's total deadline passed */
    SL_E_CANCELLED,    /* stopped by the user */
    SL_E_TOO_LARGE,    /* the response (or one SSE event) passed the gateway's limit */
    SL_E__COUNT
};

#define SL_ERR_BIT(e) (UINT32_C(1) << (e))

/* The transient classes: worth another attempt. */
#define SL_ERR_TRANSIENT                                                                           \
    (SL_ERR_BIT(SL_E_RATE_LIMITED) | SL_ERR_BIT(SL_E_UNAVAILABLE) | SL_ERR_BIT(SL_E_TIMEOUT) |     \
     SL_ERR_BIT(SL_E_SERVER_ERROR) | SL_ERR_BIT(SL_E_BAD_GATEWAY) |                                \
     SL_ERR_BIT(SL_E_CONN_REFUSED) | SL_ERR_BIT(SL_E_CONN_RESET))

const char *sl_err_name(enum sl_err err);
/* The HTTP status that usually carries this class, or 0. */
int sl_err_http_status(enum sl_err err);
/* The class of an upstream's HTTP status: SL_OK for 2xx, 408 and 504 a
 * timeout, 401 and 403 unauthorized, another 4xx a bad request, another
 * 5xx a server error. */
enum sl_err sl_err_from_http_status(int status);
/* Parses a name ("rate_limited") or an HTTP status ("429"); returns the
 * class or -1. */
int sl_err_parse(const char *text, int len);

#endif
