#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>

#include "http/json_scan.h"
#include "http/json_write.h"

Test(json_write, containers_keys_and_values)
{
    struct sl_buf b;
    sl_buf_init(&b, 1024);
    struct sl_jw w;
    sl_jw_init(&w, &b);
    sl_jw_object(&w);
    sl_jw_kv_string(&w, "s", "a\"b\\c\n\t\x01/");
    sl_jw_kv_int(&w, "n", -42);
    sl_jw_key(&w, "arr");
    sl_jw_array(&w);
    sl_jw_bool(&w, 1);
    sl_jw_bool(&w, 0);
    sl_jw_null(&w);
    sl_jw_object(&w);
    sl_jw_end(&w);
    sl_jw_array(&w);
    sl_jw_end(&w);
    sl_jw_end(&w);
    sl_jw_kv_raw(&w, "raw", "{\"x\": [1, 2]}", 13);
    sl_jw_key(&w, "joined");
    sl_jw_string_open(&w);
    sl_jw_string_piece(&w, "ab\\n", 4);
    sl_jw_string_piece(&w, "cd", 2);
    sl_jw_string_close(&w);
    sl_jw_key_n(&w, "k\"ey", 4);
    sl_jw_string_n(&w, "x\0y", 3);
    sl_jw_end(&w);
    cr_assert_eq(sl_jw_finish(&w), 0);
    cr_assert_str_eq(b.ptr, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/\",\"n\":-42,"
                            "\"arr\":[true,false,null,{},[]],\"raw\":{\"x\": [1, 2]},"
                            "\"joined\":\"ab\\ncd\",\"k\\\"ey\":\"x\\u0000y\"}");
    struct sl_json_doc doc;
    cr_assert_eq(sl_json_scan(b.ptr, b.len, &doc), 0);
    sl_buf_release(&b);
}

Test(json_write, appends_after_existing_content)
{
    struct sl_buf b;
    sl_buf_init(&b, 64);
    sl_buf_append(&b, "data: ", 6);
    struct sl_jw w;
    sl_jw_init(&w, &b);
    sl_jw_array(&w);
    sl_jw_int(&w, 1);
    sl_jw_int(&w, 2);
    sl_jw_end(&w);
    cr_assert_eq(sl_jw_finish(&w), 0);
    cr_assert_str_eq(b.ptr, "data: [1,2]");
    sl_buf_release(&b);
}

Test(json_write, the_bound_is_a_sticky_error)
{
    struct sl_buf b;
    sl_buf_init(&b, 10);
    struct sl_jw w;
    sl_jw_init(&w, &b);
    sl_jw_array(&w);
    sl_jw_string(&w, "0123456789abcdef");
    sl_jw_int(&w, 1); /* ignored after the error */
    sl_jw_end(&w);
    cr_assert_eq(sl_jw_finish(&w), UV_ENOBUFS);
    cr_assert_leq(b.len, 10);
    sl_buf_release(&b);
}

Test(json_write, misuse_is_reported)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 16);
    struct sl_jw w;
    sl_jw_init(&w, &b);
    sl_jw_object(&w); /* left open */
    cr_assert_eq(sl_jw_finish(&w), UV_EINVAL);

    sl_buf_reset(&b);
    sl_jw_init(&w, &b);
    sl_jw_array(&w);
    sl_jw_key(&w, "k"); /* a key in an array */
    cr_assert_eq(sl_jw_finish(&w), UV_EINVAL);

    sl_buf_reset(&b);
    sl_jw_init(&w, &b);
    sl_jw_end(&w); /* nothing open */
    cr_assert_eq(sl_jw_finish(&w), UV_EINVAL);

    sl_buf_reset(&b);
    sl_jw_init(&w, &b);
    for (int i = 0; i < 63; i++)
        sl_jw_array(&w);
    cr_assert_eq(w.err, 0);
    sl_jw_array(&w); /* the 64th level */
    cr_assert_eq(sl_jw_finish(&w), UV_EINVAL);
    sl_buf_release(&b);
}
