/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decoder.h"
#include "proto/value.h"
#include "proto/writer.h"

/* A msgpack value written as a string literal, and its length. */
#define F(lit) (lit), (sizeof(lit) - 1)

static rd_writer w;
static rd_decoder *d;

static void setup(void)
{
        w = (rd_writer)RD_WRITER_INIT;
        ck_assert_int_eq(rd_decoder_new(&d), 0);
}

static void teardown(void)
{
        rd_writer_done(&w);
        d = rd_decoder_free(d);
}

/* Decode the raw msgpack value `raw`, carried as the field "v" of a notification. */
static const rd_value *decode(const char *raw, size_t size)
{
        rd_msg m;

        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 1);
        rd_write_str(&w, "v");
        rd_write_raw(&w, raw, size);
        ck_assert(!rd_writer_failed(&w));
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        const rd_value *v = rd_value_get(m.params, "v");
        ck_assert_ptr_nonnull(v);
        return v;
}

/* One value of each type, with what every accessor must answer (0 or -EINVAL). */
static const struct {
        const char *raw;
        size_t size;
        rd_value_type type;
        const char *type_name;
        int bool_r, uint_r, int_r, double_r, str_r, bin_r;
        size_t len;
} values[] = {
        { F("\xc0"), RD_VALUE_NIL, "nil", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0 },
        { F("\xc3"), RD_VALUE_BOOL, "bool", 0, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0 },
        { F("\xc2"), RD_VALUE_BOOL, "bool", 0, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0 },
        { F("\x00"), RD_VALUE_UINT, "integer", -EINVAL, 0, 0, 0, -EINVAL, -EINVAL, 0 },
        { F("\xcc\xff"), RD_VALUE_UINT, "integer", -EINVAL, 0, 0, 0, -EINVAL, -EINVAL, 0 },
        { F("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), RD_VALUE_UINT, "integer", -EINVAL, 0, 0, 0,
          -EINVAL, -EINVAL, 0 },
        /* Above INT64_MAX: a uint, not an int. */
        { F("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"), RD_VALUE_UINT, "integer", -EINVAL, 0, -EINVAL,
          0, -EINVAL, -EINVAL, 0 },
        { F("\xff"), RD_VALUE_INT, "integer", -EINVAL, -EINVAL, 0, 0, -EINVAL, -EINVAL, 0 },
        { F("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), RD_VALUE_INT, "integer", -EINVAL, -EINVAL, 0,
          0, -EINVAL, -EINVAL, 0 },
        { F("\xca\x3f\xc0\x00\x00"), RD_VALUE_FLOAT, "float", -EINVAL, -EINVAL, -EINVAL, 0, -EINVAL,
          -EINVAL, 0 },
        { F("\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00"), RD_VALUE_FLOAT, "float", -EINVAL, -EINVAL,
          -EINVAL, 0, -EINVAL, -EINVAL, 0 },
        { F("\xa3"
            "abc"),
          RD_VALUE_STR, "str", -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0, 0 },
        { F("\xa0"), RD_VALUE_STR, "str", -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0, 0 },
        { F("\xc4\x03\x01\x00\x03"), RD_VALUE_BIN, "bin", -EINVAL, -EINVAL, -EINVAL, -EINVAL,
          -EINVAL, 0, 0 },
        { F("\x92\x01\xa1x"), RD_VALUE_ARRAY, "array", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL,
          -EINVAL, 2 },
        { F("\x90"), RD_VALUE_ARRAY, "array", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL,
          0 },
        { F("\x82\xa1"
            "a\x01\x02\xa1"
            "b"),
          RD_VALUE_MAP, "map", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 2 },
        { F("\x80"), RD_VALUE_MAP, "map", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0 },
        { F("\xd4\x01\x05"), RD_VALUE_EXT, "ext", -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL,
          -EINVAL, 0 },
};

START_TEST(test_accessors)
{
        const rd_value *v = decode(values[_i].raw, values[_i].size);
        const char *s;
        const void *p;
        uint64_t u;
        int64_t i;
        double x;
        size_t n;
        bool b;

        ck_assert_int_eq(rd_value_type_of(v), values[_i].type);
        ck_assert_str_eq(rd_value_type_name(rd_value_type_of(v)), values[_i].type_name);
        ck_assert_int_eq(rd_value_bool(v, &b), values[_i].bool_r);
        ck_assert_int_eq(rd_value_uint(v, &u), values[_i].uint_r);
        ck_assert_int_eq(rd_value_int(v, &i), values[_i].int_r);
        ck_assert_int_eq(rd_value_double(v, &x), values[_i].double_r);
        ck_assert_int_eq(rd_value_str(v, &s, &n), values[_i].str_r);
        ck_assert_int_eq(rd_value_bin(v, &p, &n), values[_i].bin_r);
        ck_assert_uint_eq(rd_value_len(v), values[_i].len);

        /* Element access only on the right container, and only in range. */
        bool array = values[_i].type == RD_VALUE_ARRAY, map = values[_i].type == RD_VALUE_MAP;
        ck_assert_int_eq(rd_value_at(v, 0) != NULL, array && values[_i].len > 0);
        ck_assert_int_eq(rd_value_key_at(v, 0) != NULL, map && values[_i].len > 0);
        ck_assert_int_eq(rd_value_val_at(v, 0) != NULL, map && values[_i].len > 0);
        ck_assert_ptr_null(rd_value_at(v, values[_i].len));
        ck_assert_ptr_null(rd_value_at(v, SIZE_MAX));
        ck_assert_ptr_null(rd_value_key_at(v, values[_i].len));
        ck_assert_ptr_null(rd_value_val_at(v, values[_i].len));
        ck_assert_int_eq(rd_value_get(v, "a") != NULL, map && values[_i].len > 0);
        ck_assert_int_eq(rd_value_str_eq(v, "abc"), values[_i].str_r == 0 && values[_i].size == 4);
        ck_assert_uint_eq(rd_value_get_uint(v, "a", 77), map && values[_i].len > 0 ? 1 : 77);
        ck_assert_double_eq(rd_value_get_double(v, "a", 0.5), map && values[_i].len > 0 ? 1 : 0.5);
}
END_TEST

START_TEST(test_values)
{
        const rd_value *v;
        const char *s;
        const void *p;
        uint64_t u;
        int64_t i;
        double x;
        size_t n;
        bool b;

        ck_assert_int_eq(rd_value_bool(decode(F("\xc3")), &b), 0);
        ck_assert(b);
        ck_assert_int_eq(rd_value_bool(decode(F("\xc2")), &b), 0);
        ck_assert(!b);

        ck_assert_int_eq(rd_value_uint(decode(F("\xcc\xff")), &u), 0);
        ck_assert_uint_eq(u, 255);
        v = decode(F("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"));
        ck_assert_int_eq(rd_value_int(v, &i), 0);
        ck_assert_int_eq(i, INT64_MAX);
        v = decode(F("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
        ck_assert_int_eq(rd_value_uint(v, &u), 0);
        ck_assert_uint_eq(u, UINT64_MAX);
        ck_assert_int_eq(rd_value_double(v, &x), 0);
        ck_assert_double_eq(x, 18446744073709551616.0);

        v = decode(F("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"));
        ck_assert_int_eq(rd_value_int(v, &i), 0);
        ck_assert_int_eq(i, INT64_MIN);
        ck_assert_int_eq(rd_value_double(v, &x), 0);
        ck_assert_double_eq(x, -9223372036854775808.0);
        ck_assert_int_eq(rd_value_int(decode(F("\xff")), &i), 0);
        ck_assert_int_eq(i, -1);
        ck_assert_int_eq(rd_value_double(decode(F("\xff")), &x), 0);
        ck_assert_double_eq(x, -1.0);
        ck_assert_int_eq(rd_value_double(decode(F("\x2a")), &x), 0);
        ck_assert_double_eq(x, 42.0);

        ck_assert_int_eq(rd_value_double(decode(F("\xca\x3f\xc0\x00\x00")), &x), 0);
        ck_assert_double_eq(x, 1.5);
        ck_assert_int_eq(rd_value_double(decode(F("\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00")), &x), 0);
        ck_assert_double_eq(x, -1.5);
        ck_assert_int_eq(rd_value_double(decode(F("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00")), &x), 0);
        ck_assert(isnan(x));

        v = decode(F("\xa5"
                     "a\0b\0c"));
        ck_assert_int_eq(rd_value_str(v, &s, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_mem_eq(s, "a\0b\0c", 5);
        /* str as bytes */
        ck_assert_int_eq(rd_value_bin(v, &p, &n), 0);
        ck_assert_ptr_eq(p, s);
        ck_assert_uint_eq(n, 5);
        /* Comparison covers every byte, not up to the first NUL. */
        ck_assert(!rd_value_str_eq(v, "a"));
        ck_assert(!rd_value_str_eq(decode(F("\xa2"
                                            "ab")),
                                   "abc"));
        ck_assert(!rd_value_str_eq(decode(F("\xa3"
                                            "abc")),
                                   "ab"));
        ck_assert(rd_value_str_eq(decode(F("\xa0")), ""));
        /* A bin is not a str, even with the same bytes. */
        ck_assert(!rd_value_str_eq(decode(F("\xc4\x03"
                                            "abc")),
                                   "abc"));

        v = decode(F("\xc4\x03\x01\x00\x03"));
        ck_assert_int_eq(rd_value_bin(v, &p, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_mem_eq(p, "\x01\x00\x03", 3);

        v = decode(F("\x93\x01\xa1x\x91\xc3"));
        ck_assert_int_eq(rd_value_uint(rd_value_at(v, 0), &u), 0);
        ck_assert_uint_eq(u, 1);
        ck_assert(rd_value_str_eq(rd_value_at(v, 1), "x"));
        ck_assert_int_eq(rd_value_bool(rd_value_at(rd_value_at(v, 2), 0), &b), 0);
        ck_assert(b);
        ck_assert_ptr_null(rd_value_at(v, 3));
}
END_TEST

START_TEST(test_null)
{
        const char *s = "unchanged";
        const void *p = s;
        uint64_t u = 1;
        int64_t i = 1;
        double x = 1;
        size_t n = 1;
        bool b = true;

        ck_assert_int_eq(rd_value_type_of(NULL), RD_VALUE_NONE);
        ck_assert_str_eq(rd_value_type_name(RD_VALUE_NONE), "missing");
        ck_assert_int_eq(rd_value_bool(NULL, &b), -EINVAL);
        ck_assert_int_eq(rd_value_uint(NULL, &u), -EINVAL);
        ck_assert_int_eq(rd_value_int(NULL, &i), -EINVAL);
        ck_assert_int_eq(rd_value_double(NULL, &x), -EINVAL);
        ck_assert_int_eq(rd_value_str(NULL, &s, &n), -EINVAL);
        ck_assert_int_eq(rd_value_bin(NULL, &p, &n), -EINVAL);
        /* Outputs are untouched on failure. */
        ck_assert(b);
        ck_assert_uint_eq(u, 1);
        ck_assert_int_eq(i, 1);
        ck_assert_double_eq(x, 1);
        ck_assert_str_eq(s, "unchanged");
        ck_assert_ptr_eq(p, s);
        ck_assert_uint_eq(n, 1);

        ck_assert_uint_eq(rd_value_len(NULL), 0);
        ck_assert_ptr_null(rd_value_at(NULL, 0));
        ck_assert_ptr_null(rd_value_key_at(NULL, 0));
        ck_assert_ptr_null(rd_value_val_at(NULL, 0));
        ck_assert_ptr_null(rd_value_get(NULL, "a"));
        ck_assert(!rd_value_str_eq(NULL, ""));
        ck_assert_uint_eq(rd_value_get_uint(NULL, "a", 9), 9);
        ck_assert_double_eq(rd_value_get_double(NULL, "a", 2.5), 2.5);

        /* Accessors chain through missing values. */
        ck_assert_ptr_null(rd_value_get(rd_value_at(rd_value_get(NULL, "a"), 3), "b"));
}
END_TEST

START_TEST(test_type_names)
{
        static const char *const names[] = { "missing", "nil",   "bool", "integer",
                                             "integer", "float", "str",  "bin",
                                             "array",   "map",   "ext" };
        for (rd_value_type t = RD_VALUE_NONE; t <= RD_VALUE_EXT; t++)
                ck_assert_str_eq(rd_value_type_name(t), names[t]);
        ck_assert_str_eq(rd_value_type_name(RD_VALUE_EXT + 1), "?");
        ck_assert_str_eq(rd_value_type_name((rd_value_type)-1), "?");
}
END_TEST

START_TEST(test_map_keys)
{
        /* {1: "one", nil: "nil", true: "t", bin "k": "bin", ["k"]: "arr", {"k": 1}: "map", 1.5:
         * "f", "k": "str", "k": "dup"} */
        const rd_value *v = decode(F("\x89"
                                     "\x01\xa3one"
                                     "\xc0\xa3nil"
                                     "\xc3\xa1t"
                                     "\xc4\x01k\xa3"
                                     "bin"
                                     "\x91\xa1k\xa3"
                                     "arr"
                                     "\x81\xa1k\x01\xa3"
                                     "map"
                                     "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xa1\x66"
                                     "\xa1k\xa3"
                                     "str"
                                     "\xa1k\xa3"
                                     "dup"));

        ck_assert_uint_eq(rd_value_len(v), 9);
        /* Only a str key matches a name; the first one wins. */
        ck_assert(rd_value_str_eq(rd_value_get(v, "k"), "str"));
        ck_assert_ptr_null(rd_value_get(v, "1"));
        ck_assert_ptr_null(rd_value_get(v, "true"));
        ck_assert_ptr_null(rd_value_get(v, ""));
        ck_assert_ptr_null(rd_value_get(v, "kk"));
        ck_assert_uint_eq(rd_value_get_uint(v, "k", 5), 5); /* a str, not a uint */
        ck_assert_double_eq(rd_value_get_double(v, "k", 0.25), 0.25);

        /* Keys and values by position, in wire order. */
        static const rd_value_type key_types[] = { RD_VALUE_UINT,  RD_VALUE_NIL,   RD_VALUE_BOOL,
                                                   RD_VALUE_BIN,   RD_VALUE_ARRAY, RD_VALUE_MAP,
                                                   RD_VALUE_FLOAT, RD_VALUE_STR,   RD_VALUE_STR };
        static const char *const vals[] = { "one", "nil", "t",   "bin", "arr",
                                            "map", "f",   "str", "dup" };
        for (size_t i = 0; i < 9; i++) {
                ck_assert_int_eq(rd_value_type_of(rd_value_key_at(v, i)), key_types[i]);
                ck_assert(rd_value_str_eq(rd_value_val_at(v, i), vals[i]));
        }
        ck_assert_ptr_null(rd_value_key_at(v, 9));
        ck_assert_ptr_null(rd_value_val_at(v, 9));
        /* A map is not an array. */
        ck_assert_ptr_null(rd_value_at(v, 0));

        /* get_uint / get_double on a well-typed map. */
        v = decode(F("\x84\xa1u\x07\xa1n\xfe\xa1"
                     "d\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00\xa1s\xa1x"));
        ck_assert_uint_eq(rd_value_get_uint(v, "u", 0), 7);
        ck_assert_uint_eq(rd_value_get_uint(v, "n", 3), 3); /* negative */
        ck_assert_uint_eq(rd_value_get_uint(v, "d", 3), 3); /* float */
        ck_assert_uint_eq(rd_value_get_uint(v, "missing", 3), 3);
        ck_assert_double_eq(rd_value_get_double(v, "u", 0), 7.0);
        ck_assert_double_eq(rd_value_get_double(v, "n", 0), -2.0);
        ck_assert_double_eq(rd_value_get_double(v, "d", 0), 0.5);
        ck_assert_double_eq(rd_value_get_double(v, "s", 9), 9);
}
END_TEST

START_TEST(test_empty_bytes)
{
        /* {"": "", "b": bin ""}: empty str and bin give "" (never NULL), and "" is a key. */
        const rd_value *v = decode(F("\x82\xa0\xa0\xa1"
                                     "b\xc4\x00"));
        const char *s = NULL;
        const void *p = NULL;
        size_t n = 1;

        ck_assert_int_eq(rd_value_str(rd_value_key_at(v, 0), &s, &n), 0);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(rd_value_bin(rd_value_val_at(v, 0), &p, &n), 0);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(rd_value_bin(rd_value_get(v, "b"), &p, &n), 0);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(n, 0);
        ck_assert(rd_value_str_eq(rd_value_get(v, ""), ""));
}
END_TEST

static Suite *value_suite(void)
{
        Suite *s = suite_create("value");
        TCase *tc = tcase_create("value");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_accessors, 0, ELEMENTSOF(values));
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_null);
        tcase_add_test(tc, test_type_names);
        tcase_add_test(tc, test_map_keys);
        tcase_add_test(tc, test_empty_bytes);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(value_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
