#include "core/errclass.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int status;
} table[SL_E__COUNT] = {
    [SL_OK] = {"ok", 200},
    [SL_E_RATE_LIMITED] = {"rate_limited", 429},
    [SL_E_UNAVAILABLE] = {"unavailable", 503},
    [SL_E_TIMEOUT] = {"timeout", 0},
    [SL_E_SERVER_ERROR] = {"server_error", 500},
    [SL_E_BAD_GATEWAY] = {"bad_gateway", 502},
    [SL_E_CONN_REFUSED] = {"connection_refused", 0},
    [SL_E_CONN_RESET] = {"connection_reset", 0},
    [SL_E_BAD_REQUEST] = {"bad_request", 400},
    [SL_E_UNAUTHORIZED] = {"unauthorized", 401},
    [SL_E_DEADLINE] = {"deadline_exceeded", 0},
    [SL_E_CANCELLED] = {"cancelled", 0},
    [SL_E_TOO_LARGE] = {"response_too_large", 0},
};

const char *sl_err_name(enum sl_err err)
{
    return (unsigned)err < SL_E__COUNT ? table[err].name : "unknown";
}

int sl_err_http_status(enum sl_err err)
{
    return (unsigned)err < SL_E__COUNT ? table[err].status : 0;
}

int sl_err_parse(const char *text, int len)
{
    if (len <= 0)
        return -1;
    for (int i = 1; i < SL_E__COUNT; i++) {
        if ((int)strlen(table[i].name) == len && memcmp(table[i].name, text, (size_t)len) == 0)
            return i;
        char code[8];
        if (table[i].status && snprintf(code, sizeof(code), "%d", table[i].status) == len &&
            memcmp(code, text, (size_t)len) == 0)
            return i;
    }
    return -1;
}

enum sl_err sl_err_from_http_status(int status)
{
    if (status >= 200 && status < 300)
        return SL_OK;
    switch (status) {
    case 429:
        return SL_E_RATE_LIMITED;
    case 500:
        return SL_E_SERVER_ERROR;
    case 502:
        return SL_E_BAD_GATEWAY;
    case 503:
        return SL_E_UNAVAILABLE;
    case 504:
    case 408:
        return SL_E_TIMEOUT;
    case 401:
    case 403:
        return SL_E_UNAUTHORIZED;
    default:
        return status >= 500 ? SL_E_SERVER_ERROR : SL_E_BAD_REQUEST;
    }
}
