/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decoder.h"
#include "proto/json.h"
#include "proto/writer.h"

/*
 * A value under test travels as the field "v" of a notification, the only way
 * the decoder hands out rd_values: [2, "t", [{"v": VALUE}]].
 */
typedef struct box {
        rd_writer w;
        rd_decoder *d;
        rd_msg msg;
        const rd_value *v;
} box;

static void box_begin(box *b)
{
        b->w = (rd_writer)RD_WRITER_INIT;
        b->d = NULL;
        b->v = NULL;
        rd_write_notification(&b->w, "t", 1);
        rd_write_str(&b->w, "v");
}

/* Decode what was written after box_begin(); sets b->v. */
static void box_decode(box *b)
{
        ck_assert(!rd_writer_failed(&b->w));
        ck_assert_int_eq(rd_decoder_new(&b->d), 0);
        ck_assert_int_eq(rd_decoder_begin(b->d, b->w.data, b->w.size), 0);
        ck_assert_int_eq(rd_decoder_next(b->d, &b->msg), 1);
        ck_assert_uint_eq(rd_decoder_remaining(b->d), 0);
        b->v = rd_value_get(b->msg.params, "v");
        ck_assert_ptr_nonnull(b->v);
}

static void box_end(box *b)
{
        rd_decoder_free(b->d);
        rd_writer_done(&b->w);
}

/* Parse `json`, which must succeed, and decode the result into b->v. */
static void parse_ok(box *b, const char *json)
{
        char err[256];

        box_begin(b);
        int r = rd_json_to_msgpack(json, strlen(json), &b->w, err, sizeof(err));
        ck_assert_msg(r == 0, "'%s': %d %s", json, r, err);
        ck_assert_str_eq(err, "");
        box_decode(b);
}

/* JSON -> msgpack -> JSON. */
static char *roundtrip(const char *json)
{
        box b;
        char *out = NULL;

        parse_ok(&b, json);
        ck_assert_int_eq(rd_json_from_value(b.v, &out), 0);
        box_end(&b);
        return out;
}

#define ck_roundtrip(in, expect)                                                                   \
        do {                                                                                       \
                char *_o = roundtrip(in);                                                          \
                ck_assert_str_eq(_o, (expect));                                                    \
                free(_o);                                                                          \
        } while (0)

static rd_value_type type_of(const char *json)
{
        box b;

        parse_ok(&b, json);
        rd_value_type t = rd_value_type_of(b.v);
        box_end(&b);
        return t;
}

/* Parse `json`, which must fail with -EINVAL and exactly `msg`, appending nothing. */
static void parse_bad(const char *json, size_t len, const char *msg)
{
        rd_writer w = RD_WRITER_INIT;
        char err[256];

        rd_write_nil(&w);
        int r = rd_json_to_msgpack(json, len, &w, err, sizeof(err));
        ck_assert_msg(r == -EINVAL, "'%.*s': expected -EINVAL, got %d", (int)len, json, r);
        ck_assert_str_eq(err, msg);
        ck_assert_uint_eq(w.size, 1);
        rd_writer_done(&w);
}

#define ck_bad(json, msg) parse_bad((json), strlen(json), (msg))

/* Decode and render what was written into the box after box_begin(). */
static char *render_written(box *b)
{
        char *out = NULL;

        box_decode(b);
        ck_assert_int_eq(rd_json_from_value(b->v, &out), 0);
        box_end(b);
        return out;
}

START_TEST(test_scalars)
{
        ck_roundtrip("null", "null");
        ck_roundtrip("true", "true");
        ck_roundtrip("false", "false");
        ck_roundtrip("0", "0");
        ck_roundtrip("-0", "0");
        ck_roundtrip("42", "42");
        ck_roundtrip("-42", "-42");
        ck_roundtrip("18446744073709551615", "18446744073709551615");
        ck_roundtrip("-9223372036854775808", "-9223372036854775808");
        ck_roundtrip("9223372036854775807", "9223372036854775807");
        /* Past 64 bits an integer becomes a float. */
        ck_roundtrip("18446744073709551616", "1.8446744073709552e+19");
        ck_roundtrip("-9223372036854775809", "-9.223372036854776e+18");
        ck_roundtrip("1.5", "1.5");
        ck_roundtrip("0.1", "0.1");
        ck_roundtrip("1.0", "1.0");
        ck_roundtrip("-0.0", "-0.0");
        ck_roundtrip("1e2", "100.0");
        ck_roundtrip("1E+300", "1e+300");
        ck_roundtrip("2.5e-3", "0.0025");
        ck_roundtrip("0.30000000000000004", "0.30000000000000004");
        ck_roundtrip("3.141592653589793", "3.141592653589793");
        ck_roundtrip("1e-400", "0.0");
        ck_roundtrip("\"\"", "\"\"");
        ck_roundtrip("\"abc\"", "\"abc\"");
}
END_TEST

START_TEST(test_number_types)
{
        ck_assert_int_eq(type_of("0"), RD_VALUE_UINT);
        ck_assert_int_eq(type_of("-0"), RD_VALUE_UINT);
        ck_assert_int_eq(type_of("7"), RD_VALUE_UINT);
        ck_assert_int_eq(type_of("-7"), RD_VALUE_INT);
        ck_assert_int_eq(type_of("7.0"), RD_VALUE_FLOAT);
        ck_assert_int_eq(type_of("7e0"), RD_VALUE_FLOAT);
        ck_assert_int_eq(type_of("18446744073709551616"), RD_VALUE_FLOAT);

        box b;
        uint64_t u;
        int64_t i;
        double d;

        parse_ok(&b, "18446744073709551615");
        ck_assert_int_eq(rd_value_uint(b.v, &u), 0);
        ck_assert(u == UINT64_MAX);
        box_end(&b);

        parse_ok(&b, "-9223372036854775808");
        ck_assert_int_eq(rd_value_int(b.v, &i), 0);
        ck_assert(i == INT64_MIN);
        box_end(&b);

        parse_ok(&b, "0.1");
        ck_assert_int_eq(rd_value_double(b.v, &d), 0);
        ck_assert(d == 0.1);
        box_end(&b);
}
END_TEST

START_TEST(test_containers)
{
        ck_roundtrip("[]", "[]");
        ck_roundtrip("{}", "{}");
        ck_roundtrip(" \t\r\n[ 1 , \"a\" ,null,[ ],{ } ] \n", "[1,\"a\",null,[],{}]");
        ck_roundtrip("{\"after\": 0.1, \"every\": 0.5}", "{\"after\":0.1,\"every\":0.5}");
        ck_roundtrip("{\"a\":{\"b\":[1,{\"c\":true}]},\"d\":-1}",
                     "{\"a\":{\"b\":[1,{\"c\":true}]},\"d\":-1}");
        /* Duplicate keys are kept as they are: msgpack maps can hold them. */
        ck_roundtrip("{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}");

        box b;
        parse_ok(&b, "{\"x\": [1, 2, 3], \"y\": \"z\"}");
        ck_assert_int_eq(rd_value_type_of(b.v), RD_VALUE_MAP);
        ck_assert_uint_eq(rd_value_len(b.v), 2);
        ck_assert_uint_eq(rd_value_len(rd_value_get(b.v, "x")), 3);
        ck_assert(rd_value_str_eq(rd_value_get(b.v, "y"), "z"));
        box_end(&b);
}
END_TEST

START_TEST(test_large)
{
        /* Counts past the fix/16-bit encodings. */
        size_t n = 70000;
        char *json = malloc(n * 2 + 2);
        ck_assert_ptr_nonnull(json);
        char *p = json;
        *p++ = '[';
        for (size_t i = 0; i < n; i++) {
                *p++ = i % 10 + '0';
                *p++ = i + 1 < n ? ',' : ']';
        }
        *p = '\0';
        char *out = roundtrip(json);
        ck_assert_str_eq(out, json);
        free(out);
        free(json);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
        rd_writer w = RD_WRITER_INIT;
        char err[128];

        /* Only `len` bytes count: the rest of the buffer is never read. */
        ck_assert_int_eq(rd_json_to_msgpack("[1,2]garbage", 5, &w, err, sizeof(err)), 0);
        ck_assert_int_eq(rd_json_to_msgpack("12345", 2, &w, NULL, 0), 0);
        rd_writer_done(&w);
}
END_TEST

START_TEST(test_escapes)
{
        ck_roundtrip("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\"");
        ck_roundtrip("\"\\u0001\\u001f\\u0020\\u007f\"", "\"\\u0001\\u001f \x7f\"");
        ck_roundtrip("\"\\u0000\"", "\"\\u0000\"");
        ck_roundtrip("\"\\u00e9\\u00E9\"", "\"\xc3\xa9\xc3\xa9\"");
        ck_roundtrip("\"\\u20ac\"", "\"\xe2\x82\xac\"");
        ck_roundtrip("\"caf\xc3\xa9 \xe2\x82\xac\"", "\"caf\xc3\xa9 \xe2\x82\xac\"");

        box b;
        const char *s;
        size_t n;
        parse_ok(&b, "\"a\\u0000b\"");
        ck_assert_int_eq(rd_value_str(b.v, &s, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert(memcmp(s, "a\0b", 3) == 0);
        box_end(&b);
}
END_TEST

START_TEST(test_surrogates)
{
        box b;
        const char *s;
        size_t n;

        /* U+1F600 as a pair, both cases of hex digits. */
        parse_ok(&b, "\"\\ud83d\\ude00\\uD83D\\uDE00\"");
        ck_assert_int_eq(rd_value_str(b.v, &s, &n), 0);
        ck_assert_uint_eq(n, 8);
        ck_assert(memcmp(s, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8) == 0);
        box_end(&b);

        /* The highest code point. */
        ck_roundtrip("\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"");
        /* A raw 4-byte sequence passes as is. */
        ck_roundtrip("\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\"");

        ck_bad("\"\\ud83d\"", "unpaired high surrogate \\ud83d at offset 1");
        ck_bad("\"x\\ud83dx\"", "unpaired high surrogate \\ud83d at offset 2");
        ck_bad("\"\\ud83d\\u0041\"", "unpaired high surrogate \\ud83d at offset 1");
        ck_bad("\"\\ud83d\\ud83d\"", "unpaired high surrogate \\ud83d at offset 1");
        ck_bad("\"\\ude00\"", "unpaired low surrogate \\ude00 at offset 1");
        ck_bad("\"\\ud83d\\u12\"", "unpaired high surrogate \\ud83d at offset 1");
}
END_TEST

START_TEST(test_bin)
{
        box b;
        const void *p;
        size_t n;

        parse_ok(&b, "{\"$bin\": \"aGVsbG8=\"}");
        ck_assert_int_eq(rd_value_type_of(b.v), RD_VALUE_BIN);
        ck_assert_int_eq(rd_value_bin(b.v, &p, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert(memcmp(p, "hello", 5) == 0);
        box_end(&b);

        ck_roundtrip("{\"$bin\":\"aGVsbG8=\"}", "{\"$bin\":\"aGVsbG8=\"}");
        ck_roundtrip(" { \"$bin\" : \"aGVsbG8\" } ", "{\"$bin\":\"aGVsbG8=\"}");
        ck_roundtrip("{\"$bin\":\"\"}", "{\"$bin\":\"\"}");
        ck_roundtrip("{\"$bin\":\"AA==\"}", "{\"$bin\":\"AA==\"}");
        ck_roundtrip("{\"$bin\":\"AAE=\"}", "{\"$bin\":\"AAE=\"}");
        ck_roundtrip("{\"$bin\":\"AAEC\"}", "{\"$bin\":\"AAEC\"}");
        ck_roundtrip("{\"$bin\":\"+/+/\"}", "{\"$bin\":\"+/+/\"}");
        /* Escapes inside the base64 text are decoded first. */
        ck_roundtrip("{\"\\u0024bin\":\"\\u0041A==\"}", "{\"$bin\":\"AA==\"}");
        ck_roundtrip("[{\"$bin\":\"AA==\"},{\"k\":{\"$bin\":\"AQ==\"}}]",
                     "[{\"$bin\":\"AA==\"},{\"k\":{\"$bin\":\"AQ==\"}}]");

        /* Not exactly that form: a plain map. */
        ck_assert_int_eq(type_of("{\"$bin\": 1}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$bin\": \"AA==\", \"x\": 1}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"x\": 1, \"$bin\": \"AA==\"}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$bin\": \"!!\", \"x\": 1}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$BIN\": \"AA==\"}"), RD_VALUE_MAP);
        ck_roundtrip("{\"$bin\":null}", "{\"$bin\":null}");

        ck_bad("{\"$bin\": \"!!!!\"}", "invalid base64 in \"$bin\" at offset 9");
        ck_bad("{\"$bin\": \"A\"}", "invalid base64 in \"$bin\" at offset 9");
        ck_bad("{\"$bin\": \"AA=A\"}", "invalid base64 in \"$bin\" at offset 9");
        ck_bad("{\"$bin\": \"AA===\"}", "invalid base64 in \"$bin\" at offset 9");
        ck_bad("{\"$bin\": \"AA AA\"}", "invalid base64 in \"$bin\" at offset 9");
        /* A syntax error inside a would-be $bin object is reported by the object parser. */
        ck_bad("{\"$bin\": \"AA==\",}",
               "unexpected character '}', expected a string key at offset 16");
}
END_TEST

START_TEST(test_bin_render)
{
        box b;
        char *out;
        static const unsigned char bytes[] = { 0x00, 0xff, 0x10, 0x80, 0x7f };

        for (size_t n = 0; n <= sizeof(bytes); n++) {
                box_begin(&b);
                rd_write_bin(&b.w, bytes, n);
                out = render_written(&b);
                /* And back again. */
                char *again = roundtrip(out);
                ck_assert_str_eq(again, out);
                free(again);
                free(out);
        }

        box_begin(&b);
        rd_write_bin(&b.w, "\x00\xff\xfe", 3);
        out = render_written(&b);
        ck_assert_str_eq(out, "{\"$bin\":\"AP/+\"}");
        free(out);
}
END_TEST

START_TEST(test_ext)
{
        box b;
        char *out;

        /* fixext 1, type 5, byte 0x01. */
        box_begin(&b);
        rd_write_raw(&b.w, "\xd4\x05\x01", 3);
        out = render_written(&b);
        ck_assert_str_eq(out, "{\"$ext\":5,\"$bin\":\"AQ==\"}");
        free(out);

        /* ext 8 with a negative type. */
        box_begin(&b);
        rd_write_raw(&b.w,
                     "\xc7\x03\xff"
                     "abc",
                     6);
        out = render_written(&b);
        ck_assert_str_eq(out, "{\"$ext\":-1,\"$bin\":\"YWJj\"}");
        free(out);

        ck_roundtrip("{\"$ext\":5,\"$bin\":\"AQ==\"}", "{\"$ext\":5,\"$bin\":\"AQ==\"}");
        ck_roundtrip("{\"$bin\":\"YWJj\",\"$ext\":-1}", "{\"$ext\":-1,\"$bin\":\"YWJj\"}");
        ck_roundtrip("{\"$ext\":127,\"$bin\":\"\"}", "{\"$ext\":127,\"$bin\":\"\"}");
        ck_roundtrip("{\"$ext\":-128,\"$bin\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
                     "{\"$ext\":-128,\"$bin\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}");
        ck_assert_int_eq(type_of("{\"$ext\":1,\"$bin\":\"AQ==\"}"), RD_VALUE_EXT);
        /* A type out of range, or no $bin: a plain map. */
        ck_assert_int_eq(type_of("{\"$ext\":128,\"$bin\":\"AQ==\"}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$ext\":1.0,\"$bin\":\"AQ==\"}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$ext\":1}"), RD_VALUE_MAP);
        ck_assert_int_eq(type_of("{\"$ext\":1,\"$ext\":1}"), RD_VALUE_MAP);
}
END_TEST

START_TEST(test_render_strings)
{
        box b;
        char *out;

        /* Invalid UTF-8: each bad byte becomes U+FFFD, good sequences pass. */
        box_begin(&b);
        rd_write_strn(&b.w,
                      "a\xff"
                      "b\xc3\xa9\xc3"
                      "c\xed\xa0\x80\xe2\x82",
                      12);
        out = render_written(&b);
        ck_assert_str_eq(out, "\"a\xef\xbf\xbd"
                              "b\xc3\xa9\xef\xbf\xbd"
                              "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
        free(out);

        /* Overlong and out-of-range forms are invalid too. */
        box_begin(&b);
        rd_write_strn(&b.w, "\xc0\xaf\xf5\x80\x80\x80", 6);
        out = render_written(&b);
        ck_assert_str_eq(out, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef"
                              "\xbf\xbd\"");
        free(out);

        /* Control characters, NUL included. */
        box_begin(&b);
        rd_write_strn(&b.w, "\x01\x1f\0\n\"\\", 6);
        out = render_written(&b);
        ck_assert_str_eq(out, "\"\\u0001\\u001f\\u0000\\n\\\"\\\\\"");
        free(out);
}
END_TEST

START_TEST(test_render_keys)
{
        box b;
        char *out;

        /* {1: "a", -2: nil, nil: true, [1, "x"]: 0, 1.5: 0, "s": 0} */
        box_begin(&b);
        rd_write_map(&b.w, 6);
        rd_write_uint(&b.w, 1);
        rd_write_str(&b.w, "a");
        rd_write_int(&b.w, -2);
        rd_write_nil(&b.w);
        rd_write_nil(&b.w);
        rd_write_bool(&b.w, true);
        rd_write_array(&b.w, 2);
        rd_write_uint(&b.w, 1);
        rd_write_str(&b.w, "x");
        rd_write_uint(&b.w, 0);
        rd_write_double(&b.w, 1.5);
        rd_write_uint(&b.w, 0);
        rd_write_str(&b.w, "s");
        rd_write_uint(&b.w, 0);
        out = render_written(&b);
        ck_assert_str_eq(out, "{\"1\":\"a\",\"-2\":null,\"null\":true,\"[1,\\\"x\\\"]\":0,"
                              "\"1.5\":0,\"s\":0}");
        /* What comes out is valid JSON. */
        char *again = roundtrip(out);
        ck_assert_str_eq(again, out);
        free(again);
        free(out);
}
END_TEST

START_TEST(test_render_floats)
{
        box b;
        char *out;

        /* float32 1.5 */
        box_begin(&b);
        rd_write_raw(&b.w, "\xca\x3f\xc0\x00\x00", 5);
        out = render_written(&b);
        ck_assert_str_eq(out, "1.5");
        free(out);

        static const struct {
                double d;
                const char *json;
        } cases[] = {
                { 0.0, "0.0" },
                { 1.0, "1.0" },
                { -3.0, "-3.0" },
                { 1e16, "1e+16" },
                { 123456789.0, "123456789.0" },
                { 1e-7, "1e-07" },
                { 5e-324, "4.94065645841247e-324" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                box_begin(&b);
                rd_write_double(&b.w, cases[i].d);
                out = render_written(&b);
                ck_assert_str_eq(out, cases[i].json);
                free(out);
        }

        /* JSON has no infinity or NaN. */
        box_begin(&b);
        rd_write_double(&b.w, __builtin_inf());
        out = render_written(&b);
        ck_assert_str_eq(out, "null");
        free(out);
        box_begin(&b);
        rd_write_double(&b.w, __builtin_nan(""));
        out = render_written(&b);
        ck_assert_str_eq(out, "null");
        free(out);

        /* Doubles survive the trip exactly. */
        static const double ds[] = { 0.1,
                                     1.0 / 3,
                                     2.0 / 3,
                                     1e300,
                                     1.7976931348623157e308,
                                     2.2250738585072014e-308,
                                     123.456,
                                     -98765.4321 };
        for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
                box_begin(&b);
                rd_write_double(&b.w, ds[i]);
                out = render_written(&b);
                parse_ok(&b, out);
                double d;
                ck_assert_int_eq(rd_value_double(b.v, &d), 0);
                ck_assert_msg(d == ds[i], "%s", out);
                ck_assert_int_eq(rd_value_type_of(b.v), RD_VALUE_FLOAT);
                box_end(&b);
                free(out);
        }
}
END_TEST

START_TEST(test_locale)
{
        /* A locale whose decimal point is ',' must not change the JSON. */
        static const char *const names[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (setlocale(LC_NUMERIC, names[i]))
                        break;
        ck_roundtrip("[1.5,-0.25,1e10]", "[1.5,-0.25,10000000000.0]");
        setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(test_bad_input)
{
        ck_bad("", "unexpected end of input, expected a value at offset 0");
        ck_bad("   ", "unexpected end of input, expected a value at offset 3");
        ck_bad("[1,]", "unexpected character ']', expected a value at offset 3");
        ck_bad("[1 2]", "unexpected character '2', expected ',' or ']' at offset 3");
        ck_bad("[1,2", "unexpected end of input in array at offset 4");
        ck_bad("{\"a\"}", "unexpected character '}', expected ':' at offset 4");
        ck_bad("{\"a\":1,}", "unexpected character '}', expected a string key at offset 7");
        ck_bad("{\"a\":1", "unexpected end of input in object at offset 6");
        ck_bad("{\"a\":1 \"b\":2}", "unexpected character '\"', expected ',' or '}' at offset 7");
        ck_bad("{1:2}", "unexpected character '1', expected a string key at offset 1");
        ck_bad("{'a':1}", "unexpected character ''', expected a string key at offset 1");
        ck_bad("[1]x", "unexpected character 'x', expected end of input at offset 3");
        ck_bad("1 2", "unexpected character '2', expected end of input at offset 2");
        ck_bad("01", "unexpected character '1', expected end of input at offset 1");
        ck_bad("1.", "expected a digit after '.' at offset 2");
        ck_bad("1.e5", "expected a digit after '.' at offset 2");
        ck_bad(".5", "unexpected character '.', expected a value at offset 0");
        ck_bad("-", "expected a digit at offset 1");
        ck_bad("-a", "expected a digit at offset 1");
        ck_bad("+1", "unexpected character '+', expected a value at offset 0");
        ck_bad("1e", "expected a digit in exponent at offset 2");
        ck_bad("1e+", "expected a digit in exponent at offset 3");
        ck_bad("1e400", "number out of range at offset 0");
        ck_bad("[-1e400]", "number out of range at offset 1");
        ck_bad("tru", "unexpected character 't', expected a value at offset 0");
        ck_bad("nul", "unexpected character 'n', expected a value at offset 0");
        ck_bad("True", "unexpected character 'T', expected a value at offset 0");
        ck_bad("NaN", "unexpected character 'N', expected a value at offset 0");
        ck_bad("\"abc", "unterminated string starting at offset 0");
        ck_bad("\"abc\\", "unterminated string starting at offset 0");
        ck_bad("\"a\tb\"", "control character 0x09 in string at offset 2");
        ck_bad("\"\\x\"", "invalid escape '\\x' at offset 1");
        ck_bad("\"\\u12g4\"", "invalid hex digit in \\u escape at offset 5");
        ck_bad("\"\\u12\"", "truncated \\u escape at offset 3");
        ck_bad("\"a\xff\"", "invalid UTF-8 in string at offset 2");
        ck_bad("\"\xc0\xaf\"", "invalid UTF-8 in string at offset 1");
        ck_bad("\"\xed\xa0\x80\"", "invalid UTF-8 in string at offset 1");
        ck_bad("\"\xe2\x82\"", "invalid UTF-8 in string at offset 1");
        ck_bad("\xef\xbb\xbf{}", "unexpected byte 0xef, expected a value at offset 0");
        parse_bad("[\0]", 3, "unexpected byte 0x00, expected a value at offset 1");
        parse_bad("1\0", 2, "unexpected byte 0x00, expected end of input at offset 1");

        char num[1100];
        memset(num, '1', sizeof(num) - 1);
        num[1] = '.';
        num[sizeof(num) - 1] = '\0';
        ck_bad(num, "number too long at offset 0");
}
END_TEST

START_TEST(test_bad_args)
{
        rd_writer w = RD_WRITER_INIT;
        char err[64] = "untouched";
        char small[8];

        ck_assert_int_eq(rd_json_to_msgpack("1", 1, NULL, err, sizeof(err)), -EINVAL);
        ck_assert_int_eq(rd_json_to_msgpack(NULL, 1, &w, NULL, 0), -EINVAL);
        ck_assert_int_eq(rd_json_from_value(NULL, NULL), -EINVAL);
        /* No message buffer, or a tiny one: still -EINVAL, never an overflow. */
        ck_assert_int_eq(rd_json_to_msgpack("[", 1, &w, NULL, 0), -EINVAL);
        ck_assert_int_eq(rd_json_to_msgpack("[", 1, &w, small, sizeof(small)), -EINVAL);
        ck_assert_str_eq(small, "unexpec");
        ck_assert_uint_eq(w.size, 0);
        rd_writer_done(&w);

        char *out = NULL;
        ck_assert_int_eq(rd_json_from_value(NULL, &out), 0);
        ck_assert_str_eq(out, "null");
        free(out);
}
END_TEST

/* `n` nested arrays (or objects {"a": ...}) around 1. */
static char *nested(unsigned n, bool objects)
{
        char *s = malloc(n * 6 + 2), *p = s;

        ck_assert_ptr_nonnull(s);
        for (unsigned i = 0; i < n; i++)
                p = stpcpy(p, objects ? "{\"a\":" : "[");
        *p++ = '1';
        for (unsigned i = 0; i < n; i++)
                *p++ = objects ? '}' : ']';
        *p = '\0';
        return s;
}

/* Parse `json` and compare the msgpack written with `expect[0..n)`. */
static void parse_bytes(const char *json, const void *expect, size_t n)
{
        rd_writer w = RD_WRITER_INIT;
        char err[128];

        ck_assert_int_eq(rd_json_to_msgpack(json, strlen(json), &w, err, sizeof(err)), 0);
        ck_assert_uint_eq(w.size, n);
        ck_assert(memcmp(w.data, expect, n) == 0);
        rd_writer_done(&w);
}

START_TEST(test_depth)
{
        unsigned char expect[RD_JSON_MAX_DEPTH * 3 + 1], *e;
        char *s;

        /*
         * The deepest JSON accepted. (msgpack-c's own decoder stops at fewer
         * levels, so the bytes are checked instead of decoding them.)
         */
        s = nested(RD_JSON_MAX_DEPTH, false);
        memset(expect, 0x91, RD_JSON_MAX_DEPTH); /* fixarray of 1 */
        expect[RD_JSON_MAX_DEPTH] = 0x01;
        parse_bytes(s, expect, RD_JSON_MAX_DEPTH + 1);
        free(s);

        s = nested(RD_JSON_MAX_DEPTH, true);
        e = expect;
        for (unsigned i = 0; i < RD_JSON_MAX_DEPTH; i++) {
                *e++ = 0x81; /* fixmap of 1 */
                *e++ = 0xa1; /* fixstr of 1 */
                *e++ = 'a';
        }
        *e++ = 0x01;
        parse_bytes(s, expect, (size_t)(e - expect));
        free(s);

        /* Deep enough for any real params, and decodable. */
        s = nested(16, true);
        char *out = roundtrip(s);
        ck_assert_str_eq(out, s);
        free(out);
        free(s);

        s = nested(RD_JSON_MAX_DEPTH + 1, false);
        ck_bad(s, "nesting deeper than 64 levels at offset 64");
        free(s);

        s = nested(RD_JSON_MAX_DEPTH + 1, true);
        ck_bad(s, "nesting deeper than 64 levels at offset 320");
        free(s);

        /* A $bin object at the deepest level counts as a container too. */
        s = malloc(RD_JSON_MAX_DEPTH * 2 + 32);
        char *p = s;
        for (unsigned i = 0; i < RD_JSON_MAX_DEPTH; i++)
                *p++ = '[';
        p = stpcpy(p, "{\"$bin\":\"AA==\"}");
        for (unsigned i = 0; i < RD_JSON_MAX_DEPTH; i++)
                *p++ = ']';
        *p = '\0';
        ck_bad(s, "nesting deeper than 64 levels at offset 64");
        free(s);

        /* Far too deep: refused without exhausting the stack. */
        s = nested(100000, false);
        ck_bad(s, "nesting deeper than 64 levels at offset 64");
        free(s);
}
END_TEST

static Suite *json_suite(void)
{
        Suite *s = suite_create("json");
        TCase *tc = tcase_create("json");

        tcase_add_test(tc, test_scalars);
        tcase_add_test(tc, test_number_types);
        tcase_add_test(tc, test_containers);
        tcase_add_test(tc, test_large);
        tcase_add_test(tc, test_not_nul_terminated);
        tcase_add_test(tc, test_escapes);
        tcase_add_test(tc, test_surrogates);
        tcase_add_test(tc, test_bin);
        tcase_add_test(tc, test_bin_render);
        tcase_add_test(tc, test_ext);
        tcase_add_test(tc, test_render_strings);
        tcase_add_test(tc, test_render_keys);
        tcase_add_test(tc, test_render_floats);
        tcase_add_test(tc, test_locale);
        tcase_add_test(tc, test_bad_input);
        tcase_add_test(tc, test_bad_args);
        tcase_add_test(tc, test_depth);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(json_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
