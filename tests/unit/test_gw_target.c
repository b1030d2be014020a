/* A deployment's resolved target (gateway/target.h): the endpoint URL rule
 * for each form of base URL, and the prebuilt Authorization value. */
#include <criterion/criterion.h>
#include <string.h>

#include "gateway/target.h"
#include "http/url.h"

static void expect_url(const char *base, enum sl_openai_endpoint ep, const char *want)
{
    char out[SL_GW_BASE_URL_SIZE + 32];
    cr_assert_eq(sl_gw_endpoint_url(base, ep, out, sizeof(out)), 0, "%s refused", base);
    cr_assert_str_eq(out, want, "%s", base);
}

Test(gw_target, an_empty_base_path_gets_v1)
{
    expect_url("http://127.0.0.1:8081", SL_OAI_CHAT, "http://127.0.0.1:8081/v1/chat/completions");
    expect_url("http://127.0.0.1:8081/", SL_OAI_CHAT, "http://127.0.0.1:8081/v1/chat/completions");
    expect_url("https://host", SL_OAI_COMPLETIONS, "https://host/v1/completions");
    expect_url("https://host", SL_OAI_EMBEDDINGS, "https://host/v1/embeddings");
    expect_url("http://[::1]:9", SL_OAI_CHAT, "http://[::1]:9/v1/chat/completions");
}

Test(gw_target, a_base_path_takes_the_place_of_v1)
{
    /* the way SDK base URLs and provider docs write it: /v1 is not repeated */
    expect_url("https://host/v1", SL_OAI_CHAT, "https://host/v1/chat/completions");
    expect_url("https://host/v1/", SL_OAI_EMBEDDINGS, "https://host/v1/embeddings");
    expect_url("https://generativelanguage.googleapis.com/v1beta/openai", SL_OAI_CHAT,
               "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions");
    expect_url("https://generativelanguage.googleapis.com/v1beta/openai/", SL_OAI_COMPLETIONS,
               "https://generativelanguage.googleapis.com/v1beta/openai/completions");
    expect_url("http://127.0.0.1:9/proxy/openai/v1", SL_OAI_CHAT,
               "http://127.0.0.1:9/proxy/openai/v1/chat/completions");
}

Test(gw_target, bad_bases_are_refused)
{
    char out[SL_GW_BASE_URL_SIZE + 32];
    const char *bad[] = {"ftp://x",       "http://",   "http://h:0", "http://h/v1?api-version=1",
                         "http://h/v1#x", "http://u@h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(sl_gw_endpoint_url(bad[i], SL_OAI_CHAT, out, sizeof(out)), -1, "%s", bad[i]);
        cr_assert_not_null(sl_gw_target_check_url(bad[i]), "%s", bad[i]);
    }
    cr_assert_eq(sl_gw_target_check_url("ftp://x"), sl_url_err_scheme);
    cr_assert_not_null(strstr(sl_gw_target_check_url("http://h/?a=b"), "query"));
    cr_assert_not_null(strstr(sl_gw_target_check_url("http://h/#x"), "fragment"));
    cr_assert_null(sl_gw_target_check_url("https://host/v1beta/openai"));
    /* too small an output is refused, not cut */
    cr_assert_eq(sl_gw_endpoint_url("http://h", SL_OAI_CHAT, out, 10), -1);
}

Test(gw_target, the_authorization_value_is_built_once)
{
    struct sl_gw_target t;
    cr_assert_eq(sl_gw_target_init(&t, "https://host/v1/", "sk-secret"), 0);
    cr_assert_str_eq(t.url[SL_OAI_CHAT], "https://host/v1/chat/completions");
    cr_assert_str_eq(t.url[SL_OAI_COMPLETIONS], "https://host/v1/completions");
    cr_assert_str_eq(t.url[SL_OAI_EMBEDDINGS], "https://host/v1/embeddings");
    cr_assert_str_eq(t.authorization, "Bearer sk-secret");
    sl_gw_target_release(&t);
    cr_assert_null(t.authorization);

    cr_assert_eq(sl_gw_target_init(&t, "http://127.0.0.1:1", NULL), 0);
    cr_assert_null(t.authorization);
    cr_assert_str_eq(t.url[SL_OAI_CHAT], "http://127.0.0.1:1/v1/chat/completions");
    sl_gw_target_release(&t);

    /* a key longer than the old per-attempt buffer is kept whole */
    char key[1000];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    cr_assert_eq(sl_gw_target_init(&t, "http://h", key), 0);
    cr_assert_eq(strlen(t.authorization), 7 + sizeof(key) - 1);
    sl_gw_target_release(&t);

    cr_assert_eq(sl_gw_target_init(&t, "http://h/?q", NULL), -1);
    sl_gw_target_release(&t);
}
