/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decoder.h"
#include "proto/writer.h"

/* A frame written as a string literal of msgpack bytes, and its length. */
#define F(lit) (lit), (sizeof(lit) - 1)

static rd_decoder *d;

static void setup(void)
{
        ck_assert_int_eq(rd_decoder_new(&d), 0);
}

static void teardown(void)
{
        d = rd_decoder_free(d);
}

static bool name_eq(const rd_msg *m, const char *s)
{
        return rd_msg_name_is(m, s, strlen(s));
}

START_TEST(test_new_free)
{
        rd_decoder *x = NULL;
        rd_msg m;

        ck_assert_int_eq(rd_decoder_new(NULL), -EINVAL);
        ck_assert_int_eq(rd_decoder_new(&x), 0);
        /* Nothing to decode before the first frame. */
        ck_assert_int_eq(rd_decoder_next(x, &m), 0);
        ck_assert_uint_eq(rd_decoder_remaining(x), 0);
        ck_assert_ptr_null(rd_decoder_free(x));
        ck_assert_ptr_null(rd_decoder_free(NULL));
}
END_TEST

START_TEST(test_bad_args)
{
        rd_msg m;

        ck_assert_int_eq(rd_decoder_begin(NULL, "\x90", 1), -EINVAL);
        ck_assert_int_eq(rd_decoder_begin(d, NULL, 1), -EINVAL);
        ck_assert_int_eq(rd_decoder_next(NULL, &m), -EINVAL);
        ck_assert_int_eq(rd_decoder_begin(d, F("\x93\x02\xa1x\x90")), 0);
        ck_assert_int_eq(rd_decoder_next(d, NULL), -EINVAL);
        /* The failed calls consumed nothing. */
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
}
END_TEST

START_TEST(test_empty_frame)
{
        rd_msg m;

        ck_assert_int_eq(rd_decoder_begin(d, NULL, 0), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        ck_assert_int_eq(rd_decoder_begin(d, "", 0), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        ck_assert_uint_eq(rd_decoder_remaining(d), 0);
}
END_TEST

START_TEST(test_request)
{
        /* [0, 1, "reactor.ping", []] */
        static const char frame[] = "\x94\x00\x01\xac"
                                    "reactor.ping"
                                    "\x90";
        rd_msg m;

        ck_assert_int_eq(rd_decoder_begin(d, F(frame)), 0);
        ck_assert_uint_eq(rd_decoder_remaining(d), sizeof(frame) - 1);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_REQUEST);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, 1);
        ck_assert(name_eq(&m, "reactor.ping"));
        ck_assert_ptr_eq(m.name, frame + 4); /* borrowed from the frame */
        ck_assert_uint_eq(m.name_len, 12);
        ck_assert_ptr_null(m.params); /* [] means no params */
        ck_assert_ptr_null(m.error);
        ck_assert_ptr_null(m.result);
        ck_assert_uint_eq(m.size, sizeof(frame) - 1);
        ck_assert_uint_eq(rd_decoder_remaining(d), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
}
END_TEST

START_TEST(test_batch)
{
        /*
         * [0, 7, "timer.start", [{"after": 1.5}]]
         * [2, "session.ack", [{"bytes": 38}]]
         * [1, 300, nil, {}]
         * [1, 4294967296, {"code": "EINVAL", "message": ""}, nil]
         * [2, "x", []]
         */
        static const char frame[] = "\x94\x00\x07\xab"
                                    "timer.start"
                                    "\x91\x81\xa5"
                                    "after"
                                    "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
                                    "\x93\x02\xab"
                                    "session.ack"
                                    "\x91\x81\xa5"
                                    "bytes"
                                    "\x26"
                                    "\x94\x01\xcd\x01\x2c\xc0\x80"
                                    "\x94\x01\xcf\x00\x00\x00\x01\x00\x00\x00\x00\x82\xa4\x63ode"
                                    "\xa6"
                                    "EINVAL"
                                    "\xa7"
                                    "message"
                                    "\xa0\xc0"
                                    "\x93\x02\xa1x\x90";
        size_t total = 0;
        double after;
        uint64_t u;
        rd_msg m;

        ck_assert_int_eq(rd_decoder_begin(d, F(frame)), 0);

        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_REQUEST);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, 7);
        ck_assert(name_eq(&m, "timer.start"));
        ck_assert_int_eq(rd_value_type_of(m.params), RD_VALUE_MAP);
        ck_assert_uint_eq(rd_value_len(m.params), 1);
        ck_assert_int_eq(rd_value_double(rd_value_get(m.params, "after"), &after), 0);
        ck_assert(after == 1.5);
        ck_assert_uint_eq(m.size, 1 + 1 + 1 + 12 + 1 + 1 + 6 + 9);
        total += m.size;
        ck_assert_uint_eq(rd_decoder_remaining(d), sizeof(frame) - 1 - total);

        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_NOTIFICATION);
        ck_assert(!m.has_msgid);
        ck_assert(name_eq(&m, "session.ack"));
        ck_assert_int_eq(rd_value_uint(rd_value_get(m.params, "bytes"), &u), 0);
        ck_assert_uint_eq(u, 38);
        ck_assert_ptr_null(m.error);
        ck_assert_ptr_null(m.result);
        total += m.size;

        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_RESPONSE);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, 300);
        ck_assert_ptr_null(m.name);
        ck_assert_uint_eq(m.name_len, 0);
        ck_assert_ptr_null(m.params);
        ck_assert_int_eq(rd_value_type_of(m.error), RD_VALUE_NIL);
        ck_assert_int_eq(rd_value_type_of(m.result), RD_VALUE_MAP);
        ck_assert_uint_eq(rd_value_len(m.result), 0);
        ck_assert_uint_eq(m.size, 7);
        total += m.size;

        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_RESPONSE);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, UINT64_C(1) << 32);
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "code"), "EINVAL"));
        ck_assert(rd_value_str_eq(rd_value_get(m.error, "message"), ""));
        ck_assert_int_eq(rd_value_type_of(m.result), RD_VALUE_NIL);
        total += m.size;

        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_NOTIFICATION);
        ck_assert(name_eq(&m, "x"));
        ck_assert(!name_eq(&m, "xy"));
        ck_assert_ptr_null(m.params);
        total += m.size;

        ck_assert_uint_eq(total, sizeof(frame) - 1);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
}
END_TEST

/* Messages that are msgpack but not msgpack-rpc: -EPROTO, with a msgid exactly for requests. */
static const struct {
        const char *bytes;
        size_t size;
        bool has_msgid;
        uint64_t msgid;
} malformed[] = {
        /* not an array, or too short */
        { F("\x01"), false, 0 },
        { F("\xc0"), false, 0 },
        { F("\xa4ping"), false, 0 },
        { F("\x81\x00\x01"), false, 0 },
        { F("\x90"), false, 0 },
        { F("\x91\x00"), false, 0 },
        /* the type field */
        { F("\x94\x03\x05\xa1x\x90"), false, 0 },
        { F("\x94\x7f\x05\xa1x\x90"), false, 0 },
        { F("\x94\xff\x05\xa1x\x90"), false, 0 },
        { F("\x94\xc0\x05\xa1x\x90"), false, 0 },
        { F("\x94\xa1"
            "0\x05\xa1x\x90"),
          false, 0 },
        { F("\x94\xcb\x00\x00\x00\x00\x00\x00\x00\x00\x05\xa1x\x90"), false, 0 },
        /* requests: the msgid itself */
        { F("\x94\x00\xff\xa1x\x90"), false, 0 },
        { F("\x94\x00\xc0\xa1x\x90"), false, 0 },
        { F("\x94\x00\xa1"
            "5\xa1x\x90"),
          false, 0 },
        { F("\x94\x00\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa1x\x90"), false, 0 },
        /* requests with a readable msgid */
        { F("\x92\x00\x05"), true, 5 },
        { F("\x93\x00\x06\xa1x"), true, 6 },
        { F("\x95\x00\x07\xa1x\x90\xc0"), true, 7 },
        { F("\x94\x00\x08\x01\x90"), true, 8 },
        { F("\x94\x00\x09\xc4\x01x\x90"), true, 9 },
        { F("\x94\x00\x0a\xa0\x90"), true, 10 },
        { F("\x94\x00\x0b\xa1x\x80"), true, 11 },
        { F("\x94\x00\x0c\xa1x\xc0"), true, 12 },
        { F("\x94\x00\x0d\xa1x\x91\xc0"), true, 13 },
        { F("\x94\x00\x0e\xa1x\x91\x90"), true, 14 },
        { F("\x94\x00\x0f\xa1x\x91\x01"), true, 15 },
        { F("\x94\x00\x10\xa1x\x92\x80\x80"), true, 16 },
        { F("\x94\x00\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa1x\x80"), true, UINT64_MAX },
        /* notifications */
        { F("\x92\x02\xa1x"), false, 0 },
        { F("\x94\x02\xa1x\x90\xc0"), false, 0 },
        { F("\x93\x02\x01\x90"), false, 0 },
        { F("\x93\x02\xa0\x90"), false, 0 },
        { F("\x93\x02\xc4\x01x\x90"), false, 0 },
        { F("\x93\x02\xa1x\x80"), false, 0 },
        { F("\x93\x02\xa1x\xc0"), false, 0 },
        { F("\x93\x02\xa1x\x91\xa0"), false, 0 },
        { F("\x93\x02\xa1x\x92\x80\x80"), false, 0 },
        /* responses are never answered, so they carry no msgid when malformed */
        { F("\x92\x01\x05"), false, 0 },
        { F("\x93\x01\x05\xc0"), false, 0 },
        { F("\x95\x01\x05\xc0\x80\x80"), false, 0 },
        { F("\x94\x01\xff\xc0\x80"), false, 0 },
        { F("\x94\x01\x05\xa1x\xc0"), false, 0 },
        { F("\x94\x01\x05\x90\xc0"), false, 0 },
        { F("\x94\x01\x05\x01\xc0"), false, 0 },
};

START_TEST(test_malformed)
{
        rd_msg m;

        /* Alone in a frame... */
        ck_assert_int_eq(rd_decoder_begin(d, malformed[_i].bytes, malformed[_i].size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), -EPROTO);
        ck_assert_int_eq(m.has_msgid, malformed[_i].has_msgid);
        if (m.has_msgid) {
                ck_assert_int_eq(m.type, RD_MSG_REQUEST);
                ck_assert_uint_eq(m.msgid, malformed[_i].msgid);
        }
        ck_assert_uint_eq(m.size, malformed[_i].size);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);

        /* ...and between two good messages: decoding goes on after it. */
        char frame[64];
        size_t n = 0;
        memcpy(frame + n,
               "\x93\x02\xa1"
               "a\x90",
               5);
        n += 5;
        memcpy(frame + n, malformed[_i].bytes, malformed[_i].size);
        n += malformed[_i].size;
        memcpy(frame + n,
               "\x93\x02\xa1"
               "b\x90",
               5);
        n += 5;
        ck_assert_int_eq(rd_decoder_begin(d, frame, n), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert(name_eq(&m, "a"));
        ck_assert_int_eq(rd_decoder_next(d, &m), -EPROTO);
        ck_assert_int_eq(m.has_msgid, malformed[_i].has_msgid);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert(name_eq(&m, "b"));
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
}
END_TEST

/* Frames that are not msgpack (or stop mid-value): -EBADMSG, whether from begin or next. */
static int first_failure(const void *frame, size_t size, unsigned *good)
{
        rd_msg m;
        int r;

        *good = 0;
        r = rd_decoder_begin(d, frame, size);
        if (r < 0) {
                /* Nothing is left to decode after a refused frame. */
                ck_assert_int_eq(rd_decoder_next(d, &m), 0);
                return r;
        }
        while ((r = rd_decoder_next(d, &m)) == 1)
                (*good)++;
        if (r < 0) {
                /* The rest of the frame is dropped. */
                ck_assert_uint_eq(rd_decoder_remaining(d), 0);
                ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        }
        return r;
}

START_TEST(test_not_msgpack)
{
        unsigned good;
        rd_msg m;

        /* 0xc1 is the one byte msgpack never uses: refused at once. */
        ck_assert_int_eq(rd_decoder_begin(d, F("\xc1")), -EBADMSG);
        ck_assert_uint_eq(rd_decoder_remaining(d), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        ck_assert_int_eq(first_failure(F("\xc1\x93\x02\xa1x\x90"), &good), -EBADMSG);
        ck_assert_uint_eq(good, 0);

        /* Inside a message, or after good ones: those before it are still decoded. */
        ck_assert_int_eq(first_failure(F("\x94\x00\x01\xc1\x90"), &good), -EBADMSG);
        ck_assert_uint_eq(good, 0);
        ck_assert_int_eq(first_failure(F("\x93\x02\xa1x\x90\x93\x02\xa1y\x90\xc1"), &good),
                         -EBADMSG);
        ck_assert_uint_eq(good, 2);
        ck_assert_int_eq(first_failure(F("\x93\x02\xa1x\x90\x93\x02\xc1"), &good), -EBADMSG);
        ck_assert_uint_eq(good, 1);

        /* Nested deeper than the unpacker follows. */
        char deep[200];
        memset(deep, 0x91, sizeof(deep) - 1);
        deep[sizeof(deep) - 1] = 0x00;
        ck_assert_int_eq(first_failure(deep, sizeof(deep), &good), -EBADMSG);
        ck_assert_uint_eq(good, 0);
}
END_TEST

/* A bad message that starts with a readable request head reports that request's msgid. */
START_TEST(test_bad_request_msgid)
{
        rd_msg m;

        ck_assert_int_eq(rd_decoder_begin(d, F("\x94\x00\x01\xc1\x90")), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), -EBADMSG);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, 1);

        /* The head of the bad message counts, not the frame's first one. */
        ck_assert_int_eq(rd_decoder_begin(d, F("\x93\x02\xa1x\x90\x94\x00\xcd\x01\x00\xa4pi")), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        ck_assert_int_eq(rd_decoder_next(d, &m), -EBADMSG);
        ck_assert(m.has_msgid);
        ck_assert_uint_eq(m.msgid, 256);

        /* Not a request head: no msgid. */
        static const struct {
                const char *bytes;
                size_t size;
        } frames[] = {
                { F("\x94\x01\x01\xc1\x90") },
                { F("\x93\x02\xa1x\xc1") },
                { F("\x94\x00\xff\xc1\x90") },
                { F("\x93\x02\xa1x\x90\x91\xc1") },
        };
        for (size_t i = 0; i < ELEMENTSOF(frames); i++) {
                ck_assert_int_eq(rd_decoder_begin(d, frames[i].bytes, frames[i].size), 0);
                while (rd_decoder_next(d, &m) == 1)
                        ;
                ck_assert(!m.has_msgid);
        }
}
END_TEST

START_TEST(test_truncated)
{
        static const char frame[] = "\x94\x00\xcd\x01\x00\xab"
                                    "timer.start"
                                    "\x91\x82\xa5"
                                    "after"
                                    "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xa5"
                                    "every"
                                    "\xc4\x03xyz";
        static const char prefix[] = "\x93\x02\xa1x\x90";
        char buf[sizeof(prefix) - 1 + sizeof(frame) - 1];
        unsigned good;

        memcpy(buf, prefix, sizeof(prefix) - 1);
        memcpy(buf + sizeof(prefix) - 1, frame, sizeof(frame) - 1);

        /* Every cut of the message, alone and after a good message. */
        for (size_t cut = 1; cut < sizeof(frame) - 1; cut++) {
                ck_assert_int_eq(first_failure(frame, cut, &good), -EBADMSG);
                ck_assert_uint_eq(good, 0);
                ck_assert_int_eq(first_failure(buf, sizeof(prefix) - 1 + cut, &good), -EBADMSG);
                ck_assert_uint_eq(good, 1);
        }
        ck_assert_int_eq(first_failure(frame, sizeof(frame) - 1, &good), 0);
        ck_assert_uint_eq(good, 1);
        ck_assert_int_eq(first_failure(buf, sizeof(buf), &good), 0);
        ck_assert_uint_eq(good, 2);

        /* Truncated headers of every width. */
        static const char *const heads[] = { "\xdd\x00\x00", "\xdf\x00",     "\xdc\x00",
                                             "\xde",         "\xda\x00",     "\xdb\x00\x00\x00",
                                             "\xc6\x00",     "\xcf\x00\x00", "\xcb\x00",
                                             "\xd9" };
        for (size_t i = 0; i < ELEMENTSOF(heads); i++) {
                ck_assert_int_eq(first_failure(heads[i], strlen(heads[i]), &good), -EBADMSG);
                ck_assert_uint_eq(good, 0);
        }
        /* A str whose body runs past the frame. */
        ck_assert_int_eq(first_failure(F("\xdb\x00\x00\x10\x00xyz"), &good), -EBADMSG);
        ck_assert_int_eq(first_failure(F("\xbf"
                                         "abc"),
                                       &good),
                         -EBADMSG);
}
END_TEST

START_TEST(test_huge_claims)
{
        static const struct {
                const char *bytes;
                size_t size;
        } frames[] = {
                { F("\xdd\xff\xff\xff\xff") },
                { F("\xdf\xff\xff\xff\xff") },
                { F("\xdd\xff\xff\xff\xff\x00\x00\x00") },
                { F("\xdf\xff\xff\xff\xff\x00\x00\x00") },
                { F("\xdc\xff\xff\x00") },
                { F("\xde\xff\xff\x00") },
                { F("\xdd\x00\x00\x00\x05\x00\x00\x00\x00") },
                { F("\xdf\x00\x00\x00\x02\x00\x00\x00") },
                { F("\x9f\x00") },
                { F("\x8f\x00\x00") },
        };
        rd_msg m;

        for (size_t i = 0; i < ELEMENTSOF(frames); i++) {
                ck_assert_int_eq(rd_decoder_begin(d, frames[i].bytes, frames[i].size), -EBADMSG);
                ck_assert_uint_eq(rd_decoder_remaining(d), 0);
                ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        }

        /* Nested headers that each fit alone but not together: refused on reaching them. */
        unsigned good;
        ck_assert_int_eq(
                first_failure(F("\x92\xdd\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00"), &good),
                -EBADMSG);
        ck_assert_uint_eq(good, 0);
        ck_assert_int_eq(first_failure(F("\x94\x00\x01\x95\x91\x00"), &good), -EBADMSG);
        ck_assert_uint_eq(good, 0);

        /* After a good message the claim is reported by next, without being unpacked. */
        ck_assert_int_eq(
                first_failure(F("\x93\x02\xa1x\x90\x94\x00\x01\xdd\xff\xff\xff\xff"), &good),
                -EBADMSG);
        ck_assert_uint_eq(good, 1);
        ck_assert_int_eq(first_failure(F("\x93\x02\xa1x\x90\xdf\xff\xff\xff\xff"), &good),
                         -EBADMSG);
        ck_assert_uint_eq(good, 1);
}
END_TEST

START_TEST(test_nested_claims)
{
        /*
         * 31 nested array32 headers, each claiming every byte left of a 1 MiB
         * frame: each fits alone, together they would have the unpacker reserve
         * half a gigabyte. The frame is refused without that.
         */
        enum { SIZE = 1 << 20, DEPTH = 31 };
        uint8_t *frame = calloc(1, SIZE);
        unsigned good;
        rd_msg m;

        ck_assert_ptr_nonnull(frame);
        for (size_t i = 0; i < DEPTH; i++) {
                uint32_t claim = (uint32_t)(SIZE - 5 * (i + 1));
                frame[5 * i] = 0xdd;
                frame[5 * i + 1] = (uint8_t)(claim >> 24);
                frame[5 * i + 2] = (uint8_t)(claim >> 16);
                frame[5 * i + 3] = (uint8_t)(claim >> 8);
                frame[5 * i + 4] = (uint8_t)claim;
        }
        ck_assert_int_eq(first_failure(frame, SIZE, &good), -EBADMSG);
        ck_assert_uint_eq(good, 0);
        /* What the decoder holds on to until the next frame stays near the frame's size. */
        ck_assert_uint_lt(mallinfo2().hblkhd, 64u << 20);

        /* The same frame with one honest header decodes (as a non-rpc value). */
        memset(frame + 5, 0, 5 * (DEPTH - 1));
        ck_assert_int_eq(rd_decoder_begin(d, frame, SIZE), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), -EPROTO);
        ck_assert_int_eq(rd_decoder_next(d, &m), 0);
        free(frame);
}
END_TEST

START_TEST(test_peek_msgid)
{
        static const struct {
                const char *bytes;
                size_t size;
                uint64_t msgid;
        } ok[] = {
                { F("\x94\x00\x00"), 0 },
                { F("\x94\x00\x7f"), 127 },
                { F("\x94\x00\xcc\x80"), 128 },
                { F("\x94\x00\xcc\xff"), 255 },
                { F("\x94\x00\xcd\x01\x00"), 256 },
                { F("\x94\x00\xcd\xff\xff"), 65535 },
                { F("\x94\x00\xce\x00\x01\x00\x00"), 65536 },
                { F("\x94\x00\xce\xff\xff\xff\xff"), UINT32_MAX },
                { F("\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00"), UINT64_C(1) << 32 },
                { F("\x94\x00\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), UINT64_MAX },
                /* Only the head is read: the rest may be missing or anything. */
                { F("\x94\x00\x2a\xc1\xc1"), 42 },
        };
        static const struct {
                const char *bytes;
                size_t size;
        } bad[] = {
                { F("") },
                { F("\x94") },
                { F("\x94\x00") },
                { F("\x94\x00\xcc") },
                { F("\x94\x00\xcd\x01") },
                { F("\x94\x00\xce\x00\x01\x00") },
                { F("\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00") },
                { F("\x94\x01\x05") },         /* a response */
                { F("\x93\x02\xa1x") },        /* a notification */
                { F("\x93\x00\x05") },         /* not four elements */
                { F("\xdc\x00\x04\x00\x05") }, /* array16: not what a client writes */
                { F("\x94\x00\xff") },         /* negative */
                { F("\x94\x00\xd0\x05") },     /* int8 */
                { F("\x94\x00\xcb\x00\x00\x00\x00\x00\x00\x00\x00") }, /* float */
                { F("\x94\x00\xa1x") },
                { F("\x94\x00\xc0") },
        };
        uint64_t id;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                id = 12345;
                ck_assert_int_eq(rd_peek_msgid(ok[i].bytes, ok[i].size, &id), 0);
                ck_assert_uint_eq(id, ok[i].msgid);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                id = 12345;
                ck_assert_int_eq(rd_peek_msgid(bad[i].bytes, bad[i].size, &id), -EINVAL);
                ck_assert_uint_eq(id, 12345);
        }
        ck_assert_int_eq(rd_peek_msgid(NULL, 3, &id), -EINVAL);
        ck_assert_int_eq(rd_peek_msgid("\x94\x00\x01", 3, NULL), -EINVAL);

        /* Agrees with what the writer produces for every width. */
        static const uint64_t ids[] = { 0,         1,     127,   128,        255,
                                        256,       65535, 65536, UINT32_MAX, UINT64_C(1) << 32,
                                        UINT64_MAX };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                rd_writer w = RD_WRITER_INIT;
                rd_write_request(&w, ids[i], "reactor.ping", 0);
                ck_assert_int_eq(rd_peek_msgid(w.data, w.size, &id), 0);
                ck_assert_uint_eq(id, ids[i]);
                rd_writer_done(&w);
        }
}
END_TEST

START_TEST(test_reuse)
{
        rd_writer w = RD_WRITER_INIT;
        rd_msg m;

        for (unsigned round = 0; round < 2000; round++) {
                rd_writer_reset(&w);
                rd_write_request(&w, round, "timer.start", 2);
                rd_write_kv_uint(&w, "n", round);
                rd_write_kv_str(&w, "s", "a string that lives in the frame");
                rd_write_notification(&w, "session.ack", 1);
                rd_write_kv_uint(&w, "bytes", round * 2);
                ck_assert(!rd_writer_failed(&w));

                ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
                ck_assert_int_eq(rd_decoder_next(d, &m), 1);
                ck_assert_uint_eq(m.msgid, round);
                ck_assert_uint_eq(rd_value_get_uint(m.params, "n", UINT64_MAX), round);
                ck_assert(rd_value_str_eq(rd_value_get(m.params, "s"),
                                          "a string that lives in the frame"));
                ck_assert_int_eq(rd_decoder_next(d, &m), 1);
                ck_assert_uint_eq(rd_value_get_uint(m.params, "bytes", UINT64_MAX), round * 2);
                ck_assert_int_eq(rd_decoder_next(d, &m), 0);

                /* A bad frame now and then leaves no trace on the next one. */
                if (round % 100 == 0) {
                        unsigned good;
                        ck_assert_int_eq(first_failure(F("\xdd\xff\xff\xff\xff"), &good), -EBADMSG);
                        ck_assert_int_eq(first_failure(F("\x93\x02\xa1x\x90\xc1"), &good),
                                         -EBADMSG);
                        /* A new frame may start while the previous one is half decoded. */
                        ck_assert_int_eq(rd_decoder_begin(d, F("\x93\x02\xa1x\x90\x90")), 0);
                        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
                }
        }
        /* A frame that needs more than one zone chunk. */
        rd_writer_reset(&w);
        rd_write_notification(&w, "big", 1);
        rd_write_str(&w, "list");
        rd_write_array(&w, 10000);
        for (unsigned i = 0; i < 10000; i++)
                rd_write_uint(&w, i);
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &m), 1);
        const rd_value *list = rd_value_get(m.params, "list");
        ck_assert_uint_eq(rd_value_len(list), 10000);
        uint64_t u;
        ck_assert_int_eq(rd_value_uint(rd_value_at(list, 9999), &u), 0);
        ck_assert_uint_eq(u, 9999);
        rd_writer_done(&w);
}
END_TEST

static Suite *decoder_suite(void)
{
        Suite *s = suite_create("decoder");
        TCase *tc = tcase_create("decoder");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_new_free);
        tcase_add_test(tc, test_bad_args);
        tcase_add_test(tc, test_empty_frame);
        tcase_add_test(tc, test_request);
        tcase_add_test(tc, test_batch);
        tcase_add_loop_test(tc, test_malformed, 0, ELEMENTSOF(malformed));
        tcase_add_test(tc, test_not_msgpack);
        tcase_add_test(tc, test_bad_request_msgid);
        tcase_add_test(tc, test_truncated);
        tcase_add_test(tc, test_huge_claims);
        tcase_add_test(tc, test_nested_claims);
        tcase_add_test(tc, test_peek_msgid);
        tcase_add_test(tc, test_reuse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(decoder_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
