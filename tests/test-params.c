/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decoder.h"
#include "proto/params.h"
#include "proto/writer.h"

/* A msgpack value written as a string literal, and its length. */
#define F(lit) (lit), (sizeof(lit) - 1)

static rd_writer w;
static rd_decoder *d;
static char err[256];

static void setup(void)
{
        w = (rd_writer)RD_WRITER_INIT;
        ck_assert_int_eq(rd_decoder_new(&d), 0);
        memset(err, 0, sizeof(err));
}

static void teardown(void)
{
        rd_writer_done(&w);
        d = rd_decoder_free(d);
}

/* Decode what `w` holds (one notification) and return its params map. */
static const rd_value *decode_params(void)
{
        rd_msg m;

        ck_assert(!rd_writer_failed(&w));
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        return m.params;
}

/* Params {"x": <raw>} checked against one parameter "x" of `type`. */
static int parse_one(rd_param_type type, bool required, const char *raw, size_t size, rd_arg *out)
{
        const rd_param spec[] = { { "x", type, required, "a parameter" } };

        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 1);
        rd_write_str(&w, "x");
        rd_write_raw(&w, raw, size);
        return rd_params_parse(decode_params(), spec, 1, out, err, sizeof(err));
}

START_TEST(test_accept)
{
        rd_arg a;

        ck_assert_int_eq(parse_one(RD_PARAM_UINT, true, F("\x00"), &a), 0);
        ck_assert(a.present);
        ck_assert_uint_eq(a.u, 0);
        ck_assert_int_eq(
                parse_one(RD_PARAM_UINT, true, F("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), &a), 0);
        ck_assert_uint_eq(a.u, UINT64_MAX);

        ck_assert_int_eq(parse_one(RD_PARAM_INT, true, F("\xff"), &a), 0);
        ck_assert_int_eq(a.i, -1);
        ck_assert_int_eq(
                parse_one(RD_PARAM_INT, true, F("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), &a), 0);
        ck_assert_int_eq(a.i, INT64_MIN);
        ck_assert_int_eq(
                parse_one(RD_PARAM_INT, true, F("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), &a), 0);
        ck_assert_int_eq(a.i, INT64_MAX);
        ck_assert_int_eq(parse_one(RD_PARAM_INT, true, F("\x05"), &a), 0);
        ck_assert_int_eq(a.i, 5);

        ck_assert_int_eq(parse_one(RD_PARAM_NUMBER, true, F("\x07"), &a), 0);
        ck_assert_double_eq(a.d, 7.0);
        ck_assert_int_eq(parse_one(RD_PARAM_NUMBER, true, F("\xf6"), &a), 0);
        ck_assert_double_eq(a.d, -10.0);
        ck_assert_int_eq(
                parse_one(RD_PARAM_NUMBER, true, F("\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00"), &a), 0);
        ck_assert_double_eq(a.d, -1.5);
        ck_assert_int_eq(parse_one(RD_PARAM_NUMBER, true, F("\xca\x3f\xc0\x00\x00"), &a), 0);
        ck_assert_double_eq(a.d, 1.5);

        ck_assert_int_eq(parse_one(RD_PARAM_BOOL, true, F("\xc3"), &a), 0);
        ck_assert(a.b);
        ck_assert_int_eq(parse_one(RD_PARAM_BOOL, true, F("\xc2"), &a), 0);
        ck_assert(a.present);
        ck_assert(!a.b);

        ck_assert_int_eq(parse_one(RD_PARAM_STR, true,
                                   F("\xa3"
                                     "abc"),
                                   &a),
                         0);
        ck_assert_uint_eq(a.s.n, 3);
        ck_assert_mem_eq(a.s.p, "abc", 3);
        ck_assert_int_eq(parse_one(RD_PARAM_STR, true, F("\xa0"), &a), 0);
        ck_assert(a.present);
        ck_assert_uint_eq(a.s.n, 0);

        ck_assert_int_eq(parse_one(RD_PARAM_BIN, true, F("\xc4\x02\x00\xff"), &a), 0);
        ck_assert_uint_eq(a.s.n, 2);
        ck_assert_mem_eq(a.s.p, "\x00\xff", 2);
        /* str is accepted where bytes are expected */
        ck_assert_int_eq(parse_one(RD_PARAM_BIN, true, F("\xa2hi"), &a), 0);
        ck_assert_uint_eq(a.s.n, 2);
        ck_assert_mem_eq(a.s.p, "hi", 2);

        ck_assert_int_eq(parse_one(RD_PARAM_HANDLE, true, F("\x01"), &a), 0);
        ck_assert_uint_eq(a.u, 1);
        ck_assert_int_eq(
                parse_one(RD_PARAM_HANDLE, true, F("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), &a), 0);
        ck_assert_uint_eq(a.u, UINT64_MAX);

        ck_assert_int_eq(parse_one(RD_PARAM_MAP, true, F("\x81\xa1k\x01"), &a), 0);
        ck_assert_int_eq(rd_value_type_of(a.v), RD_VALUE_MAP);
        ck_assert_uint_eq(rd_value_get_uint(a.v, "k", 0), 1);
        ck_assert_int_eq(parse_one(RD_PARAM_MAP, true, F("\x80"), &a), 0);
        ck_assert_uint_eq(rd_value_len(a.v), 0);

        ck_assert_int_eq(parse_one(RD_PARAM_ARRAY, true, F("\x92\x01\x02"), &a), 0);
        ck_assert_int_eq(rd_value_type_of(a.v), RD_VALUE_ARRAY);
        ck_assert_uint_eq(rd_value_len(a.v), 2);
        ck_assert_int_eq(parse_one(RD_PARAM_ARRAY, true, F("\x90"), &a), 0);
        ck_assert_uint_eq(rd_value_len(a.v), 0);

        /* The message buffer is left alone on success. */
        ck_assert_str_eq(err, "");
}
END_TEST

static const struct {
        rd_param_type type;
        const char *raw;
        size_t size;
        const char *message;
} refused[] = {
        { RD_PARAM_UINT, F("\xff"), "param 'x': expected a non-negative integer, got integer" },
        { RD_PARAM_UINT, F("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected a non-negative integer, got float" },
        { RD_PARAM_UINT, F("\xa1\x31"), "param 'x': expected a non-negative integer, got str" },
        { RD_PARAM_UINT, F("\xc3"), "param 'x': expected a non-negative integer, got bool" },
        { RD_PARAM_UINT, F("\xc4\x01\x01"), "param 'x': expected a non-negative integer, got bin" },
        { RD_PARAM_UINT, F("\x90"), "param 'x': expected a non-negative integer, got array" },
        { RD_PARAM_UINT, F("\x80"), "param 'x': expected a non-negative integer, got map" },
        { RD_PARAM_UINT, F("\xd4\x01\x05"), "param 'x': expected a non-negative integer, got ext" },

        { RD_PARAM_INT, F("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected an integer, got integer" },
        { RD_PARAM_INT, F("\xca\x3f\xc0\x00\x00"), "param 'x': expected an integer, got float" },
        { RD_PARAM_INT, F("\xa0"), "param 'x': expected an integer, got str" },

        { RD_PARAM_NUMBER, F("\xa1\x31"), "param 'x': expected a number, got str" },
        { RD_PARAM_NUMBER, F("\xc2"), "param 'x': expected a number, got bool" },
        { RD_PARAM_NUMBER, F("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected a number, got float" },
        { RD_PARAM_NUMBER, F("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected a number, got float" },
        { RD_PARAM_NUMBER, F("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected a number, got float" },

        { RD_PARAM_DURATION, F("\xff"),
          "param 'x': expected a duration in seconds (a number >= 0), got integer" },
        { RD_PARAM_DURATION, F("\xa3\x31.5"),
          "param 'x': expected a duration in seconds (a number >= 0), got str" },
        { RD_PARAM_DURATION, F("\x91\x01"),
          "param 'x': expected a duration in seconds (a number >= 0), got array" },

        { RD_PARAM_BOOL, F("\x01"), "param 'x': expected a bool, got integer" },
        { RD_PARAM_BOOL, F("\xa4true"), "param 'x': expected a bool, got str" },

        { RD_PARAM_STR, F("\xc4\x01x"), "param 'x': expected a str, got bin" },
        { RD_PARAM_STR, F("\x01"), "param 'x': expected a str, got integer" },
        { RD_PARAM_STR, F("\x91\xa1x"), "param 'x': expected a str, got array" },

        { RD_PARAM_BIN, F("\x01"), "param 'x': expected a bin or str, got integer" },
        { RD_PARAM_BIN, F("\x90"), "param 'x': expected a bin or str, got array" },
        { RD_PARAM_BIN, F("\xd4\x01\x05"), "param 'x': expected a bin or str, got ext" },

        { RD_PARAM_HANDLE, F("\x00"),
          "param 'x': expected a handle (an integer >= 1), got integer" },
        { RD_PARAM_HANDLE, F("\xff"),
          "param 'x': expected a handle (an integer >= 1), got integer" },
        { RD_PARAM_HANDLE, F("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
          "param 'x': expected a handle (an integer >= 1), got float" },
        { RD_PARAM_HANDLE, F("\xa1\x31"),
          "param 'x': expected a handle (an integer >= 1), got str" },

        { RD_PARAM_MAP, F("\x90"), "param 'x': expected a map, got array" },
        { RD_PARAM_MAP, F("\xa1m"), "param 'x': expected a map, got str" },

        { RD_PARAM_ARRAY, F("\x80"), "param 'x': expected an array, got map" },
        { RD_PARAM_ARRAY, F("\xc4\x00"), "param 'x': expected an array, got bin" },
};

START_TEST(test_refuse)
{
        rd_arg a;

        ck_assert_int_eq(parse_one(refused[_i].type, false, refused[_i].raw, refused[_i].size, &a),
                         -EINVAL);
        ck_assert_str_eq(err, refused[_i].message);
        /* Being required changes nothing for a value that is present. */
        ck_assert_int_eq(parse_one(refused[_i].type, true, refused[_i].raw, refused[_i].size, &a),
                         -EINVAL);
        ck_assert_str_eq(err, refused[_i].message);
}
END_TEST

START_TEST(test_required)
{
        const rd_param spec[] = {
                { "after", RD_PARAM_DURATION, true, "delay" },
                { "every", RD_PARAM_DURATION, false, "period" },
                { "name", RD_PARAM_STR, false, "name" },
        };
        rd_arg out[ELEMENTSOF(spec)];

        /* No params at all. */
        ck_assert_int_eq(rd_params_parse(NULL, spec, ELEMENTSOF(spec), out, err, sizeof(err)),
                         -EINVAL);
        ck_assert_str_eq(err, "param 'after' (duration) is required");

        /* An empty map, or one without the key. */
        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 1);
        rd_write_kv_uint(&w, "before", 1);
        ck_assert_int_eq(
                rd_params_parse(decode_params(), spec, ELEMENTSOF(spec), out, err, sizeof(err)),
                -EINVAL);
        ck_assert_str_eq(err, "param 'after' (duration) is required");

        /* nil counts as absent, for a required and for an optional param. */
        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 1);
        rd_write_str(&w, "after");
        rd_write_nil(&w);
        ck_assert_int_eq(
                rd_params_parse(decode_params(), spec, ELEMENTSOF(spec), out, err, sizeof(err)),
                -EINVAL);
        ck_assert_str_eq(err, "param 'after' (duration) is required");

        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 4);
        rd_write_kv_double(&w, "after", 0.5);
        rd_write_str(&w, "every");
        rd_write_nil(&w);
        rd_write_kv_str(&w, "unknown", "ignored");
        /* A non-str key is ignored like any unknown key. */
        rd_write_uint(&w, 7);
        rd_write_str(&w, "name");
        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(
                rd_params_parse(decode_params(), spec, ELEMENTSOF(spec), out, err, sizeof(err)), 0);
        ck_assert(out[0].present);
        ck_assert_uint_eq(out[0].usec, 500000);
        /* Absent params are present = false with a zeroed value. */
        ck_assert(!out[1].present);
        ck_assert_uint_eq(out[1].usec, 0);
        ck_assert(!out[2].present);
        ck_assert_ptr_null(out[2].s.p);
        ck_assert_uint_eq(out[2].s.n, 0);

        /* Only optional params: no map is fine. */
        ck_assert_int_eq(rd_params_parse(NULL, spec + 1, 2, out, err, sizeof(err)), 0);
        ck_assert(!out[0].present);
        ck_assert(!out[1].present);
        /* No params declared. */
        ck_assert_int_eq(rd_params_parse(NULL, NULL, 0, NULL, err, sizeof(err)), 0);

        /* The first failing param, in declaration order, is the one reported. */
        rd_writer_reset(&w);
        rd_write_notification(&w, "t", 2);
        rd_write_kv_str(&w, "name", "x");
        rd_write_kv_str(&w, "every", "x");
        ck_assert_int_eq(rd_params_parse(decode_params(), spec + 1, 2, out, err, sizeof(err)),
                         -EINVAL);
        ck_assert_str_eq(err,
                         "param 'every': expected a duration in seconds (a number >= 0), got str");

        /* Every type names itself in the required message. */
        for (rd_param_type t = 0; t < _RD_PARAM_TYPE_MAX; t++) {
                const rd_param one = { "p", t, true, NULL };
                char expect[64];
                snprintf(expect, sizeof(expect), "param 'p' (%s) is required",
                         rd_param_type_name(t));
                ck_assert_int_eq(rd_params_parse(NULL, &one, 1, out, err, sizeof(err)), -EINVAL);
                ck_assert_str_eq(err, expect);
        }

        /* A short buffer gets a truncated, terminated message; none at all is allowed. */
        char small[12];
        ck_assert_int_eq(rd_params_parse(NULL, spec, 1, out, small, sizeof(small)), -EINVAL);
        ck_assert_str_eq(small, "param 'afte");
        ck_assert_int_eq(rd_params_parse(NULL, spec, 1, out, NULL, 0), -EINVAL);
}
END_TEST

static const struct {
        const char *raw;
        size_t size;
        int r;
        uint64_t usec;
} durations[] = {
        { F("\x00"), 0, 0 },
        { F("\x02"), 0, 2000000 },
        { F("\xcd\x0e\x10"), 0, 3600000000 },
        { F("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), 0, 1500000 },    /* 1.5 */
        { F("\xca\x3f\xc0\x00\x00"), 0, 1500000 },                    /* 1.5f */
        { F("\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"), 0, 100000 },     /* 0.1 */
        { F("\xcb\x80\x00\x00\x00\x00\x00\x00\x00"), 0, 0 },          /* -0.0 */
        { F("\xcb\x3e\xb0\xc6\xf7\xa0\xb5\xed\x8d"), 0, 1 },          /* 1e-6 */
        { F("\xcb\x3e\x9a\xd7\xf2\x9a\xbc\xaf\x48"), 0, 0 },          /* 4e-7 */
        { F("\xcb\x3e\xa4\x21\xf5\xf4\x0d\x83\x76"), 0, 1 },          /* 6e-7 */
        { F("\xcb\x3f\xf0\x00\x00\x6b\x5f\xca\x6b"), 0, 1000000 },    /* 1.0000004 */
        { F("\xcb\x3f\xf0\x00\x00\xa1\x0f\xaf\xa0"), 0, 1000001 },    /* 1.0000006 */
        { F("\xce\x3b\x9a\xca\x00"), 0, UINT64_C(1000000000000000) }, /* 1e9 s: the limit */
        { F("\xcb\x41\xcd\xcd\x65\x00\x00\x00\x00"), 0, UINT64_C(1000000000000000) }, /* 1e9 */
        { F("\xce\x3b\x9a\xca\x01"), -EINVAL, 0 },                                    /* 1e9 + 1 */
        { F("\xcb\x42\x02\xa0\x5f\x20\x00\x00\x00"), -EINVAL, 0 },                    /* 1e10 */
        { F("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EINVAL, 0 }, /* UINT64_MAX */
        { F("\xff"), -EINVAL, 0 },                                 /* -1 */
        { F("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), -EINVAL, 0 }, /* INT64_MIN */
        { F("\xcb\xbf\x50\x62\x4d\xd2\xf1\xa9\xfc"), -EINVAL, 0 }, /* -0.001 */
        { F("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"), -EINVAL, 0 }, /* NaN */
        { F("\xcb\xff\xf8\x00\x00\x00\x00\x00\x00"), -EINVAL, 0 }, /* -NaN */
        { F("\xca\x7f\xc0\x00\x00"), -EINVAL, 0 },                 /* NaN (float32) */
        { F("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"), -EINVAL, 0 }, /* +inf */
        { F("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00"), -EINVAL, 0 }, /* -inf */
        { F("\xcb\x7f\xef\xff\xff\xff\xff\xff\xff"), -EINVAL, 0 }, /* DBL_MAX */
};

START_TEST(test_duration)
{
        rd_arg a;

        ck_assert_int_eq(
                parse_one(RD_PARAM_DURATION, true, durations[_i].raw, durations[_i].size, &a),
                durations[_i].r);
        if (durations[_i].r == 0) {
                ck_assert(a.present);
                ck_assert_uint_eq(a.usec, durations[_i].usec);
        } else {
                const char *got = durations[_i].raw[0] == '\xca' || durations[_i].raw[0] == '\xcb'
                                          ? "float"
                                          : "integer";
                char expect[128];
                snprintf(expect, sizeof(expect),
                         "param 'x': expected a duration in seconds (a number >= 0), got %s", got);
                ck_assert_str_eq(err, expect);
        }
}
END_TEST

START_TEST(test_type_names)
{
        static const char *const names[] = { "uint", "int", "number", "duration", "bool",
                                             "str",  "bin", "handle", "map",      "array", "any" };
        ck_assert_uint_eq(ELEMENTSOF(names), _RD_PARAM_TYPE_MAX);
        for (rd_param_type t = 0; t < _RD_PARAM_TYPE_MAX; t++)
                ck_assert_str_eq(rd_param_type_name(t), names[t]);
        ck_assert_str_eq(rd_param_type_name(_RD_PARAM_TYPE_MAX), "?");
        ck_assert_str_eq(rd_param_type_name((rd_param_type)-1), "?");
}
END_TEST

START_TEST(test_write_spec)
{
        const rd_param spec[] = {
                { "handle", RD_PARAM_HANDLE, true, "the timer" },
                { "after", RD_PARAM_DURATION, true, "seconds until it fires" },
                { "every", RD_PARAM_DURATION, false, "period; none for a one-shot timer" },
                { "data", RD_PARAM_BIN, false, "" },
                { "x", RD_PARAM_ARRAY, false, NULL },
        };

        for (size_t n = 0; n <= ELEMENTSOF(spec); n++) {
                rd_writer_reset(&w);
                rd_write_notification(&w, "t", 1);
                rd_write_str(&w, "params");
                rd_params_write_spec(&w, spec, n);
                const rd_value *list = rd_value_get(decode_params(), "params");

                ck_assert_int_eq(rd_value_type_of(list), RD_VALUE_ARRAY);
                ck_assert_uint_eq(rd_value_len(list), n);
                for (size_t i = 0; i < n; i++) {
                        const rd_value *p = rd_value_at(list, i);
                        const char *type;
                        size_t len;
                        bool required;

                        ck_assert_uint_eq(rd_value_len(p), 4);
                        ck_assert(rd_value_str_eq(rd_value_get(p, "name"), spec[i].name));
                        ck_assert_int_eq(rd_value_str(rd_value_get(p, "type"), &type, &len), 0);
                        /* The type name reads back to the same type. */
                        rd_param_type t = _RD_PARAM_TYPE_MAX;
                        for (rd_param_type k = 0; k < _RD_PARAM_TYPE_MAX; k++)
                                if (strlen(rd_param_type_name(k)) == len &&
                                    memcmp(rd_param_type_name(k), type, len) == 0)
                                        t = k;
                        ck_assert_int_eq(t, spec[i].type);
                        ck_assert_int_eq(rd_value_bool(rd_value_get(p, "required"), &required), 0);
                        ck_assert_int_eq(required, spec[i].required);
                        if (spec[i].doc)
                                ck_assert(rd_value_str_eq(rd_value_get(p, "doc"), spec[i].doc));
                        else
                                ck_assert_int_eq(rd_value_type_of(rd_value_get(p, "doc")),
                                                 RD_VALUE_NIL);
                }
        }
}
END_TEST

static Suite *params_suite(void)
{
        Suite *s = suite_create("params");
        TCase *tc = tcase_create("params");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_accept);
        tcase_add_loop_test(tc, test_refuse, 0, ELEMENTSOF(refused));
        tcase_add_test(tc, test_required);
        tcase_add_loop_test(tc, test_duration, 0, ELEMENTSOF(durations));
        tcase_add_test(tc, test_type_names);
        tcase_add_test(tc, test_write_spec);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(params_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
