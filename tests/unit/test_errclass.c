/* Error classes: stable names, HTTP status parsing, the transient set. */
#include <string.h>

#include "../support.h"
#include "core/errclass.h"

static int parse(const char *text)
{
    return sl_err_parse(text, (int)strlen(text));
}

Test(errclass, names_round_trip_through_parse)
{
    for (int e = 1; e < SL_E__COUNT; e++) {
        const char *name = sl_err_name((enum sl_err)e);
        cr_assert_not_null(name);
        cr_assert_str_neq(name, "unknown", "class %d has no name", e);
        cr_assert_eq(parse(name), e, "'%s' parsed to %d, expected %d", name, parse(name), e);
    }
}

Test(errclass, names_are_unique)
{
    for (int a = 0; a < SL_E__COUNT; a++)
        for (int b = a + 1; b < SL_E__COUNT; b++)
            cr_assert_str_neq(sl_err_name((enum sl_err)a), sl_err_name((enum sl_err)b),
                              "classes %d and %d share a name", a, b);
}

Test(errclass, stable_names)
{
    cr_assert_str_eq(sl_err_name(SL_OK), "ok");
    cr_assert_str_eq(sl_err_name(SL_E_RATE_LIMITED), "rate_limited");
    cr_assert_str_eq(sl_err_name(SL_E_UNAVAILABLE), "unavailable");
    cr_assert_str_eq(sl_err_name(SL_E_TIMEOUT), "timeout");
    cr_assert_str_eq(sl_err_name(SL_E_CONN_REFUSED), "connection_refused");
    cr_assert_str_eq(sl_err_name(SL_E_DEADLINE), "deadline_exceeded");
    cr_assert_str_eq(sl_err_name(SL_E_CANCELLED), "cancelled");
    cr_assert_str_eq(sl_err_name(SL_E__COUNT), "unknown");
    cr_assert_str_eq(sl_err_name((enum sl_err) - 1), "unknown");
}

Test(errclass, http_codes_parse)
{
    cr_assert_eq(parse("429"), SL_E_RATE_LIMITED);
    cr_assert_eq(parse("503"), SL_E_UNAVAILABLE);
    cr_assert_eq(parse("500"), SL_E_SERVER_ERROR);
    cr_assert_eq(parse("502"), SL_E_BAD_GATEWAY);
    cr_assert_eq(parse("400"), SL_E_BAD_REQUEST);
    cr_assert_eq(parse("401"), SL_E_UNAUTHORIZED);
}

Test(errclass, http_status_round_trip)
{
    char code[16];
    int with_status = 0;
    for (int e = 1; e < SL_E__COUNT; e++) {
        int status = sl_err_http_status((enum sl_err)e);
        if (status == 0)
            continue;
        with_status++;
        snprintf(code, sizeof(code), "%d", status);
        cr_assert_eq(parse(code), e, "status %s parsed to %d, expected %d", code, parse(code), e);
    }
    cr_assert_eq(with_status, 6);
    cr_assert_eq(sl_err_http_status(SL_E_RATE_LIMITED), 429);
    cr_assert_eq(sl_err_http_status(SL_E_TIMEOUT), 0);
    cr_assert_eq(sl_err_http_status(SL_E__COUNT), 0);
}

Test(errclass, unknown_text_is_rejected)
{
    cr_assert_eq(parse("nope"), -1);
    cr_assert_eq(parse("404"), -1);
    cr_assert_eq(parse("42"), -1);
    cr_assert_eq(parse("4290"), -1);
    cr_assert_eq(parse("RATE_LIMITED"), -1);
    cr_assert_eq(parse("rate_limite"), -1);
    cr_assert_eq(parse("rate_limitedx"), -1);
    cr_assert_eq(parse(""), -1);
    cr_assert_eq(sl_err_parse("timeout", 0), -1);
    cr_assert_eq(sl_err_parse("timeout", -3), -1);
}

Test(errclass, parse_honours_length)
{
    /* Only the first len bytes count: the text need not be NUL-terminated. */
    cr_assert_eq(sl_err_parse("429,503", 3), SL_E_RATE_LIMITED);
    cr_assert_eq(sl_err_parse("timeout,unavailable", 7), SL_E_TIMEOUT);
    cr_assert_eq(sl_err_parse("timeout", 4), -1);
}

Test(errclass, transient_bit_set)
{
    const enum sl_err transient[] = {SL_E_RATE_LIMITED, SL_E_UNAVAILABLE, SL_E_TIMEOUT,
                                     SL_E_SERVER_ERROR, SL_E_BAD_GATEWAY, SL_E_CONN_REFUSED,
                                     SL_E_CONN_RESET};
    const enum sl_err permanent[] = {SL_OK, SL_E_BAD_REQUEST, SL_E_UNAUTHORIZED, SL_E_DEADLINE,
                                     SL_E_CANCELLED};
    uint32_t expected = 0;
    for (size_t i = 0; i < sizeof(transient) / sizeof(*transient); i++) {
        cr_assert(SL_ERR_TRANSIENT & SL_ERR_BIT(transient[i]), "%s should be transient",
                  sl_err_name(transient[i]));
        expected |= SL_ERR_BIT(transient[i]);
    }
    for (size_t i = 0; i < sizeof(permanent) / sizeof(*permanent); i++)
        cr_assert_not(SL_ERR_TRANSIENT & SL_ERR_BIT(permanent[i]), "%s should not be transient",
                      sl_err_name(permanent[i]));
    cr_assert_eq(SL_ERR_TRANSIENT, expected, "transient set has extra bits: %#x",
                 (unsigned)SL_ERR_TRANSIENT);
    cr_assert_eq(__builtin_popcount(SL_ERR_TRANSIENT), 7);
}
