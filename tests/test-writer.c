/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decoder.h"
#include "proto/error.h"
#include "proto/event.h"
#include "proto/writer.h"

/* Expected bytes written as a string literal, and their length. */
#define F(lit) (lit), (sizeof(lit) - 1)

static rd_writer w;
static rd_decoder *d;
static rd_msg m;

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

static void expect_bytes(const char *bytes, size_t n)
{
        ck_assert(!rd_writer_failed(&w));
        ck_assert_uint_eq(w.size, n);
        ck_assert_mem_eq(w.data, bytes, n);
}

/* Wrap one value as the field "v" of a notification, write it with `write`, decode it back. */
#define ROUND_TRIP(write)                                                                          \
        ({                                                                                         \
                rd_writer_reset(&w);                                                               \
                rd_write_notification(&w, "t", 1);                                                 \
                rd_write_str(&w, "v");                                                             \
                write;                                                                             \
                decode_field();                                                                    \
        })

static const rd_value *decode_field(void)
{
        ck_assert(!rd_writer_failed(&w));
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_NOTIFICATION);
        ck_assert_uint_eq(m.size, w.size);
        rd_msg end;
        ck_assert_int_eq(rd_decoder_next(d, &end), 0);
        const rd_value *v = rd_value_get(m.params, "v");
        ck_assert_ptr_nonnull(v);
        return v;
}

START_TEST(test_nil_bool)
{
        ck_assert_int_eq(rd_value_type_of(ROUND_TRIP(rd_write_nil(&w))), RD_VALUE_NIL);
        /* A NULL str is written as nil. */
        ck_assert_int_eq(rd_value_type_of(ROUND_TRIP(rd_write_str(&w, NULL))), RD_VALUE_NIL);

        bool b = false;
        ck_assert_int_eq(rd_value_bool(ROUND_TRIP(rd_write_bool(&w, true)), &b), 0);
        ck_assert(b);
        ck_assert_int_eq(rd_value_bool(ROUND_TRIP(rd_write_bool(&w, false)), &b), 0);
        ck_assert(!b);

        rd_writer_reset(&w);
        rd_write_nil(&w);
        rd_write_bool(&w, true);
        rd_write_bool(&w, false);
        expect_bytes(F("\xc0\xc3\xc2"));
}
END_TEST

static const uint64_t uints[] = {
        0,          1,
        127,        128,
        255,        256,
        65535,      65536,
        UINT32_MAX, UINT64_C(1) << 32,
        INT64_MAX,  (uint64_t)INT64_MAX + 1,
        UINT64_MAX,
};

START_TEST(test_uint)
{
        for (size_t i = 0; i < ELEMENTSOF(uints); i++) {
                uint64_t u = 1234;
                const rd_value *v = ROUND_TRIP(rd_write_uint(&w, uints[i]));
                ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_UINT);
                ck_assert_int_eq(rd_value_uint(v, &u), 0);
                ck_assert_uint_eq(u, uints[i]);
        }

        /* The shortest encoding each time. */
        static const struct {
                uint64_t v;
                const char *bytes;
                size_t size;
        } enc[] = {
                { 0, F("\x00") },
                { 127, F("\x7f") },
                { 128, F("\xcc\x80") },
                { 255, F("\xcc\xff") },
                { 256, F("\xcd\x01\x00") },
                { 65535, F("\xcd\xff\xff") },
                { 65536, F("\xce\x00\x01\x00\x00") },
                { UINT32_MAX, F("\xce\xff\xff\xff\xff") },
                { UINT64_C(1) << 32, F("\xcf\x00\x00\x00\x01\x00\x00\x00\x00") },
                { UINT64_MAX, F("\xcf\xff\xff\xff\xff\xff\xff\xff\xff") },
        };
        for (size_t i = 0; i < ELEMENTSOF(enc); i++) {
                rd_writer_reset(&w);
                rd_write_uint(&w, enc[i].v);
                expect_bytes(enc[i].bytes, enc[i].size);
        }
}
END_TEST

START_TEST(test_int)
{
        static const int64_t ints[] = { 0,
                                        1,
                                        -1,
                                        -32,
                                        -33,
                                        -128,
                                        -129,
                                        -32768,
                                        -32769,
                                        INT32_MIN,
                                        (int64_t)INT32_MIN - 1,
                                        INT64_MIN,
                                        127,
                                        INT64_MAX };
        for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                int64_t x = 1234;
                const rd_value *v = ROUND_TRIP(rd_write_int(&w, ints[i]));
                ck_assert_int_eq(rd_value_type_of(v), ints[i] < 0 ? RD_VALUE_INT : RD_VALUE_UINT);
                ck_assert_int_eq(rd_value_int(v, &x), 0);
                ck_assert_int_eq(x, ints[i]);
        }

        static const struct {
                int64_t v;
                const char *bytes;
                size_t size;
        } enc[] = {
                { 5, F("\x05") },
                { -1, F("\xff") },
                { -32, F("\xe0") },
                { -33, F("\xd0\xdf") },
                { -128, F("\xd0\x80") },
                { -129, F("\xd1\xff\x7f") },
                { -32769, F("\xd2\xff\xff\x7f\xff") },
                { INT64_MIN, F("\xd3\x80\x00\x00\x00\x00\x00\x00\x00") },
        };
        for (size_t i = 0; i < ELEMENTSOF(enc); i++) {
                rd_writer_reset(&w);
                rd_write_int(&w, enc[i].v);
                expect_bytes(enc[i].bytes, enc[i].size);
        }
}
END_TEST

START_TEST(test_double)
{
        static const double doubles[] = { 0.0,   -0.0, 1.5,      -2.25,    1e-300,
                                          1e300, 0.1,  INFINITY, -INFINITY };
        for (size_t i = 0; i < ELEMENTSOF(doubles); i++) {
                double x = 1234;
                const rd_value *v = ROUND_TRIP(rd_write_double(&w, doubles[i]));
                ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_FLOAT);
                ck_assert_int_eq(rd_value_double(v, &x), 0);
                ck_assert_mem_eq(&x, &doubles[i], sizeof(x));
        }
        double x;
        ck_assert_int_eq(rd_value_double(ROUND_TRIP(rd_write_double(&w, NAN)), &x), 0);
        ck_assert(isnan(x));

        /* Always float64, even for integral values. */
        rd_writer_reset(&w);
        rd_write_double(&w, 1.5);
        rd_write_double(&w, 2.0);
        expect_bytes(F("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
                       "\xcb\x40\x00\x00\x00\x00\x00\x00\x00"));
}
END_TEST

START_TEST(test_duration)
{
        static const struct {
                uint64_t usec;
                double sec;
        } durations[] = {
                { 0, 0.0 }, { 1, 1e-6 }, { 1500000, 1.5 }, { 250000, 0.25 }, { 3600000000, 3600.0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
                double x = -1;
                const rd_value *v = ROUND_TRIP(rd_write_duration(&w, durations[i].usec));
                ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_FLOAT);
                ck_assert_int_eq(rd_value_double(v, &x), 0);
                ck_assert_double_eq(x, durations[i].sec);
        }
        rd_writer_reset(&w);
        rd_write_duration(&w, 1500000);
        expect_bytes(F("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"));
}
END_TEST

START_TEST(test_str_bin)
{
        static const size_t lengths[] = { 0, 1, 31, 32, 255, 256, 65535, 65536, 100000 };
        char *buf = malloc(100000);

        ck_assert_ptr_nonnull(buf);
        for (size_t i = 0; i < 100000; i++)
                buf[i] = (char)('a' + i % 26);
        for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                const char *s;
                const void *p;
                size_t n;
                const rd_value *v = ROUND_TRIP(rd_write_strn(&w, buf, lengths[i]));
                ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_STR);
                ck_assert_int_eq(rd_value_str(v, &s, &n), 0);
                ck_assert_uint_eq(n, lengths[i]);
                ck_assert_mem_eq(s, buf, n);

                v = ROUND_TRIP(rd_write_bin(&w, buf, lengths[i]));
                ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_BIN);
                ck_assert_int_eq(rd_value_bin(v, &p, &n), 0);
                ck_assert_uint_eq(n, lengths[i]);
                ck_assert_mem_eq(p, buf, n);
        }
        free(buf);

        /* Embedded NULs survive strn and bin. */
        const char *s;
        size_t n;
        ck_assert_int_eq(rd_value_str(ROUND_TRIP(rd_write_strn(&w, "a\0b", 3)), &s, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_mem_eq(s, "a\0b", 3);
        ck_assert(rd_value_str_eq(ROUND_TRIP(rd_write_str(&w, "héllo")), "héllo"));

        static const struct {
                size_t len;
                const char *head;
                size_t size;
        } str_heads[] = {
                { 0, F("\xa0") },
                { 31, F("\xbf") },
                { 32, F("\xd9\x20") },
                { 255, F("\xd9\xff") },
                { 256, F("\xda\x01\x00") },
                { 65535, F("\xda\xff\xff") },
                { 65536, F("\xdb\x00\x01\x00\x00") },
        };
        static const struct {
                size_t len;
                const char *head;
                size_t size;
        } bin_heads[] = {
                { 0, F("\xc4\x00") },
                { 255, F("\xc4\xff") },
                { 256, F("\xc5\x01\x00") },
                { 65536, F("\xc6\x00\x01\x00\x00") },
        };
        char *zeros = calloc(1, 65536);
        ck_assert_ptr_nonnull(zeros);
        for (size_t i = 0; i < ELEMENTSOF(str_heads); i++) {
                rd_writer_reset(&w);
                rd_write_strn(&w, zeros, str_heads[i].len);
                ck_assert_uint_eq(w.size, str_heads[i].size + str_heads[i].len);
                ck_assert_mem_eq(w.data, str_heads[i].head, str_heads[i].size);
        }
        for (size_t i = 0; i < ELEMENTSOF(bin_heads); i++) {
                rd_writer_reset(&w);
                rd_write_bin(&w, zeros, bin_heads[i].len);
                ck_assert_uint_eq(w.size, bin_heads[i].size + bin_heads[i].len);
                ck_assert_mem_eq(w.data, bin_heads[i].head, bin_heads[i].size);
        }
        free(zeros);

        rd_writer_reset(&w);
        rd_write_str(&w, "ab");
        rd_write_bin(&w, "\x01\x02", 2);
        rd_write_bin(&w, "", 0);
        expect_bytes(F("\xa2"
                       "ab"
                       "\xc4\x02\x01\x02\xc4\x00"));
}
END_TEST

START_TEST(test_containers)
{
        const rd_value *v = ROUND_TRIP({
                rd_write_array(&w, 3);
                rd_write_uint(&w, 1);
                rd_write_array(&w, 0);
                rd_write_map(&w, 1);
                rd_write_kv_int(&w, "k", -5);
        });
        int64_t x;
        ck_assert_int_eq(rd_value_type_of(v), RD_VALUE_ARRAY);
        ck_assert_uint_eq(rd_value_len(v), 3);
        ck_assert_int_eq(rd_value_type_of(rd_value_at(v, 1)), RD_VALUE_ARRAY);
        ck_assert_uint_eq(rd_value_len(rd_value_at(v, 1)), 0);
        ck_assert_int_eq(rd_value_int(rd_value_get(rd_value_at(v, 2), "k"), &x), 0);
        ck_assert_int_eq(x, -5);

        /* Large containers take the 16- and 32-bit headers. */
        v = ROUND_TRIP({
                rd_write_array(&w, 70000);
                for (unsigned i = 0; i < 70000; i++)
                        rd_write_uint(&w, i);
        });
        ck_assert_uint_eq(rd_value_len(v), 70000);
        uint64_t u;
        ck_assert_int_eq(rd_value_uint(rd_value_at(v, 69999), &u), 0);
        ck_assert_uint_eq(u, 69999);

        rd_writer_reset(&w);
        rd_write_array(&w, 15);
        rd_write_array(&w, 16);
        rd_write_array(&w, 65536);
        rd_write_map(&w, 0);
        rd_write_map(&w, 15);
        rd_write_map(&w, 16);
        rd_write_map(&w, 65536);
        expect_bytes(F("\x9f\xdc\x00\x10\xdd\x00\x01\x00\x00"
                       "\x80\x8f\xde\x00\x10\xdf\x00\x01\x00\x00"));
}
END_TEST

START_TEST(test_kv_and_raw)
{
        bool b;
        int64_t x;
        double dd;
        const rd_value *v = ROUND_TRIP({
                rd_write_map(&w, 7);
                rd_write_kv_uint(&w, "u", 7);
                rd_write_kv_int(&w, "i", -7);
                rd_write_kv_str(&w, "s", "str");
                rd_write_kv_str(&w, "n", NULL);
                rd_write_kv_bool(&w, "b", true);
                rd_write_kv_double(&w, "d", 0.5);
                rd_write_kv_duration(&w, "t", 2500000);
        });
        ck_assert_uint_eq(rd_value_len(v), 7);
        ck_assert_uint_eq(rd_value_get_uint(v, "u", 0), 7);
        ck_assert_int_eq(rd_value_int(rd_value_get(v, "i"), &x), 0);
        ck_assert_int_eq(x, -7);
        ck_assert(rd_value_str_eq(rd_value_get(v, "s"), "str"));
        ck_assert_int_eq(rd_value_type_of(rd_value_get(v, "n")), RD_VALUE_NIL);
        ck_assert_int_eq(rd_value_bool(rd_value_get(v, "b"), &b), 0);
        ck_assert(b);
        ck_assert_int_eq(rd_value_double(rd_value_get(v, "d"), &dd), 0);
        ck_assert_double_eq(dd, 0.5);
        ck_assert_double_eq(rd_value_get_double(v, "t", 0), 2.5);

        rd_writer_reset(&w);
        rd_write_kv_uint(&w, "a", 1);
        rd_write_kv_bool(&w, "b", false);
        expect_bytes(F("\xa1"
                       "a\x01\xa1"
                       "b\xc2"));

        /* Raw bytes are appended as they are. */
        v = ROUND_TRIP(rd_write_raw(&w, "\x92\xc3\xa1z", 4));
        ck_assert_uint_eq(rd_value_len(v), 2);
        ck_assert(rd_value_str_eq(rd_value_at(v, 1), "z"));
        rd_writer_reset(&w);
        rd_write_raw(&w, "", 0);
        ck_assert_uint_eq(w.size, 0);
}
END_TEST

START_TEST(test_request_bytes)
{
        rd_write_request(&w, 1, "reactor.ping", 0);
        expect_bytes(F("\x94\x00\x01\xac"
                       "reactor.ping"
                       "\x91\x80"));

        rd_writer_reset(&w);
        rd_write_request(&w, 300, "timer.start", 1);
        rd_write_kv_double(&w, "after", 1.5);
        expect_bytes(F("\x94\x00\xcd\x01\x2c\xab"
                       "timer.start"
                       "\x91\x81\xa5"
                       "after"
                       "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"));

        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_REQUEST);
        ck_assert_uint_eq(m.msgid, 300);
        ck_assert(rd_msg_name_is(&m, "timer.start", 11));
        ck_assert_double_eq(rd_value_get_double(m.params, "after", 0), 1.5);
}
END_TEST

START_TEST(test_notification_bytes)
{
        rd_write_notification(&w, "timer.fired", 2);
        rd_write_kv_uint(&w, "handle", 17);
        rd_write_kv_uint(&w, "ticks", 1);
        expect_bytes(F("\x93\x02\xab"
                       "timer.fired"
                       "\x91\x82\xa6"
                       "handle"
                       "\x11\xa5"
                       "ticks"
                       "\x01"));

        /* rd_event_write produces the same message. */
        rd_writer_reset(&w);
        rd_event_write(
                &w,
                &(rd_event){ .type = RD_EVENT_TIMER_FIRED, .handle = 17, .timer_fired.ticks = 1 });
        expect_bytes(F("\x93\x02\xab"
                       "timer.fired"
                       "\x91\x82\xa6"
                       "handle"
                       "\x11\xa5"
                       "ticks"
                       "\x01"));
        ck_assert_str_eq(rd_event_name(RD_EVENT_TIMER_FIRED), "timer.fired");
        ck_assert_str_eq(rd_event_name(_RD_EVENT_TYPE_MAX), "?");

        rd_writer_reset(&w);
        rd_write_notification(&w, "session.ack", 0);
        expect_bytes(F("\x93\x02\xab"
                       "session.ack"
                       "\x91\x80"));
}
END_TEST

START_TEST(test_result_bytes)
{
        rd_write_result(&w, 1, 0);
        expect_bytes(F("\x94\x01\x01\xc0\x80"));

        rd_writer_reset(&w);
        rd_write_result(&w, 70000, 1);
        rd_write_kv_uint(&w, "handle", 17);
        expect_bytes(F("\x94\x01\xce\x00\x01\x11\x70\xc0\x81\xa6"
                       "handle"
                       "\x11"));

        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_RESPONSE);
        ck_assert_uint_eq(m.msgid, 70000);
        ck_assert_int_eq(rd_value_type_of(m.error), RD_VALUE_NIL);
        ck_assert_uint_eq(rd_value_get_uint(m.result, "handle", 0), 17);
}
END_TEST

START_TEST(test_error_bytes)
{
        rd_write_error(&w, 7, -ENOENT, "no such handle");
        expect_bytes(F("\x94\x01\x07\x82\xa4\x63ode"
                       "\xa6"
                       "ENOENT"
                       "\xa7"
                       "message"
                       "\xae"
                       "no such handle"
                       "\xc0"));

        /* Every code decodes back to its name; a NULL message takes the table's sentence. */
        static const int codes[] = { -EINVAL,  -ENOENT, -EPERM,  -EACCES,    -EAGAIN,   -EPROTO,
                                     -EBADMSG, -E2BIG,  -ENOSYS, -ENOTSUP,   -ENOTCONN, -EALREADY,
                                     -EMFILE,  -EUSERS, -ENOMEM, -ESHUTDOWN, -EIO };
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                const char *code;
                size_t n;
                rd_writer_reset(&w);
                rd_write_error(&w, i, codes[i], NULL);
                ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
                ck_assert_int_eq(rd_decoder_next(d, &m), 1);
                ck_assert_int_eq(m.type, RD_MSG_RESPONSE);
                ck_assert_uint_eq(m.msgid, i);
                ck_assert_int_eq(rd_value_type_of(m.result), RD_VALUE_NIL);
                ck_assert_uint_eq(rd_value_len(m.error), 2);
                ck_assert_int_eq(rd_value_str(rd_value_get(m.error, "code"), &code, &n), 0);
                ck_assert_int_eq(rd_error_from_name(code, n), codes[i]);
                ck_assert(rd_value_str_eq(rd_value_get(m.error, "code"), rd_error_name(codes[i])));
                ck_assert(rd_value_str_eq(rd_value_get(m.error, "message"),
                                          rd_error_message(codes[i])));
        }

        /* A positive errno works too; one outside the table travels as EIO. */
        rd_writer_reset(&w);
        rd_write_error(&w, 1, EINVAL, "x");
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "code"), "EINVAL"));
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "message"), "x"));

        rd_writer_reset(&w);
        rd_write_error(&w, 2, -EXDEV, NULL);
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "code"), "EIO"));
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "message"), strerror(EXDEV)));
}
END_TEST

START_TEST(test_steal_reset)
{
        size_t size = 1;
        char *p;

        /* An unused writer has nothing to give. */
        p = rd_writer_steal(&w, &size);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(size, 0);

        rd_write_request(&w, 1, "reactor.ping", 0);
        size_t written = w.size;
        char *data = w.data;
        p = rd_writer_steal(&w, &size);
        ck_assert_ptr_eq(p, data);
        ck_assert_uint_eq(size, written);
        ck_assert_mem_eq(p, "\x94\x00\x01\xac", 4);
        /* The writer is empty and usable; the stolen buffer is the caller's. */
        ck_assert_ptr_null(w.data);
        ck_assert_uint_eq(w.size, 0);
        ck_assert_uint_eq(w.capacity, 0);
        ck_assert(!rd_writer_failed(&w));
        rd_write_nil(&w);
        expect_bytes(F("\xc0"));
        ck_assert_ptr_ne(w.data, p);
        free(p);

        /* NULL size is allowed. */
        p = rd_writer_steal(&w, NULL);
        ck_assert_ptr_nonnull(p);
        free(p);

        /* Reset keeps the allocation and forgets the contents. */
        for (int i = 0; i < 1000; i++)
                rd_write_str(&w, "0123456789");
        ck_assert_uint_ge(w.capacity, w.size);
        data = w.data;
        size_t cap = w.capacity;
        rd_writer_reset(&w);
        ck_assert_uint_eq(w.size, 0);
        ck_assert_ptr_eq(w.data, data);
        ck_assert_uint_eq(w.capacity, cap);
        rd_write_bool(&w, true);
        expect_bytes(F("\xc3"));
        ck_assert_ptr_eq(w.data, data);

        /* Done frees and leaves an empty writer. */
        rd_writer_done(&w);
        ck_assert_ptr_null(w.data);
        ck_assert_uint_eq(w.size, 0);
        ck_assert_uint_eq(w.capacity, 0);
}
END_TEST

static Suite *writer_suite(void)
{
        Suite *s = suite_create("writer");
        TCase *tc = tcase_create("primitives");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_nil_bool);
        tcase_add_test(tc, test_uint);
        tcase_add_test(tc, test_int);
        tcase_add_test(tc, test_double);
        tcase_add_test(tc, test_duration);
        tcase_add_test(tc, test_str_bin);
        tcase_add_test(tc, test_containers);
        tcase_add_test(tc, test_kv_and_raw);
        suite_add_tcase(s, tc);

        tc = tcase_create("messages");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_request_bytes);
        tcase_add_test(tc, test_notification_bytes);
        tcase_add_test(tc, test_result_bytes);
        tcase_add_test(tc, test_error_bytes);
        tcase_add_test(tc, test_steal_reset);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(writer_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
