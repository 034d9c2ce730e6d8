/* SPDX-License-Identifier: MIT */
/*
 * fuzz-decoder: proto/decoder.c on arbitrary bytes, as the broker meets them in
 * a frame. Each decoded message is walked with every rd_value accessor (their
 * answers must agree with the value's type, and borrowed bytes must lie inside
 * the frame), then written again with proto/writer.c and decoded back: the two
 * decodings must be equal.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "proto/decoder.h"
#include "proto/writer.h"

static rd_decoder *decoder, *checker;

typedef struct frame {
        const uint8_t *p; /* the frame being decoded */
        size_t n;         /* its size */
} frame;

static bool inside(const frame *f, const void *p, size_t n)
{
        uintptr_t q = (uintptr_t)p, start = (uintptr_t)f->p;
        return n == 0 || (q >= start && n <= f->n && q - start <= f->n - n);
}

/* Every accessor on `v`: each must succeed exactly for the types it documents. */
static void walk(const frame *f, const rd_value *v)
{
        rd_value_type t = rd_value_type_of(v);
        bool b;
        uint64_t u;
        int64_t i;
        double d;
        const char *s;
        const void *p;
        size_t n;

        fuzz_assert(rd_value_type_name(t) != NULL);
        fuzz_assert((rd_value_bool(v, &b) == 0) == (t == RD_VALUE_BOOL));
        fuzz_assert((rd_value_uint(v, &u) == 0) == (t == RD_VALUE_UINT));
        if (rd_value_int(v, &i) == 0)
                fuzz_assert(t == RD_VALUE_INT ? i < 0 : t == RD_VALUE_UINT && i >= 0);
        else
                fuzz_assert(t != RD_VALUE_INT && (t != RD_VALUE_UINT || u > INT64_MAX));
        fuzz_assert((rd_value_double(v, &d) == 0) ==
                    (t == RD_VALUE_UINT || t == RD_VALUE_INT || t == RD_VALUE_FLOAT));
        if (rd_value_str(v, &s, &n) == 0) {
                fuzz_assert(t == RD_VALUE_STR);
                /* Never NULL, even when empty: callers hand it to memcmp() and memcpy(). */
                fuzz_assert(s && inside(f, s, n));
        } else
                fuzz_assert(t != RD_VALUE_STR);
        if (rd_value_bin(v, &p, &n) == 0) {
                fuzz_assert(t == RD_VALUE_STR || t == RD_VALUE_BIN);
                fuzz_assert(p && inside(f, p, n));
        } else
                fuzz_assert(t != RD_VALUE_STR && t != RD_VALUE_BIN);

        n = rd_value_len(v);
        if (t != RD_VALUE_ARRAY && t != RD_VALUE_MAP)
                fuzz_assert(n == 0);
        fuzz_assert(n <= f->n); /* every element takes at least a byte */
        fuzz_assert(rd_value_at(v, n) == NULL && rd_value_key_at(v, n) == NULL &&
                    rd_value_val_at(v, n) == NULL);
        for (size_t k = 0; k < n; k++) {
                if (t == RD_VALUE_ARRAY) {
                        walk(f, rd_value_at(v, k));
                        continue;
                }
                const rd_value *key = rd_value_key_at(v, k), *val = rd_value_val_at(v, k);
                char name[64];
                size_t len;

                fuzz_assert(key && val && rd_value_at(v, k) == NULL);
                walk(f, key);
                walk(f, val);
                /* A str key without NUL is found by rd_value_get (its first occurrence). */
                if (rd_value_str(key, &s, &len) == 0 && len < sizeof(name) && !memchr(s, 0, len)) {
                        memcpy(name, s, len);
                        name[len] = '\0';
                        fuzz_assert(rd_value_str_eq(key, name));
                        fuzz_assert(rd_value_get(v, name) != NULL);
                }
        }
}

/* Write `v` again through the writer's typed calls (ext has no reader: it becomes nil). */
static void rewrite(rd_writer *w, const rd_value *v)
{
        bool b;
        uint64_t u;
        int64_t i;
        double d;
        const char *s;
        const void *p;
        size_t n;

        switch (rd_value_type_of(v)) {
        case RD_VALUE_BOOL:
                (void)rd_value_bool(v, &b);
                rd_write_bool(w, b);
                break;
        case RD_VALUE_UINT:
                (void)rd_value_uint(v, &u);
                rd_write_uint(w, u);
                break;
        case RD_VALUE_INT:
                (void)rd_value_int(v, &i);
                rd_write_int(w, i);
                break;
        case RD_VALUE_FLOAT:
                (void)rd_value_double(v, &d);
                rd_write_double(w, d);
                break;
        case RD_VALUE_STR:
                (void)rd_value_str(v, &s, &n);
                rd_write_strn(w, s, n);
                break;
        case RD_VALUE_BIN:
                (void)rd_value_bin(v, &p, &n);
                rd_write_bin(w, p, n);
                break;
        case RD_VALUE_ARRAY:
                n = rd_value_len(v);
                rd_write_array(w, (uint32_t)n);
                for (size_t k = 0; k < n; k++)
                        rewrite(w, rd_value_at(v, k));
                break;
        case RD_VALUE_MAP:
                n = rd_value_len(v);
                rd_write_map(w, (uint32_t)n);
                for (size_t k = 0; k < n; k++) {
                        rewrite(w, rd_value_key_at(v, k));
                        rewrite(w, rd_value_val_at(v, k));
                }
                break;
        default:
                rd_write_nil(w);
                break;
        }
}

static bool same(const rd_value *a, const rd_value *b)
{
        rd_value_type t = rd_value_type_of(a);
        const void *p, *q;
        size_t n, m;
        double x, y;

        if (t == RD_VALUE_EXT)
                t = RD_VALUE_NIL;
        if (t != rd_value_type_of(b))
                return false;
        switch (t) {
        case RD_VALUE_BOOL:
        case RD_VALUE_UINT:
        case RD_VALUE_INT:
        case RD_VALUE_FLOAT:
                /* Integers fit a double exactly enough here: compare them as written. */
                if (t == RD_VALUE_UINT) {
                        uint64_t u, v;
                        return rd_value_uint(a, &u) == 0 && rd_value_uint(b, &v) == 0 && u == v;
                }
                if (t == RD_VALUE_INT) {
                        int64_t i, j;
                        return rd_value_int(a, &i) == 0 && rd_value_int(b, &j) == 0 && i == j;
                }
                if (t == RD_VALUE_BOOL) {
                        bool i, j;
                        return rd_value_bool(a, &i) == 0 && rd_value_bool(b, &j) == 0 && i == j;
                }
                (void)rd_value_double(a, &x);
                (void)rd_value_double(b, &y);
                return x == y || (isnan(x) && isnan(y));
        case RD_VALUE_STR:
        case RD_VALUE_BIN:
                (void)rd_value_bin(a, &p, &n);
                (void)rd_value_bin(b, &q, &m);
                return n == m && (n == 0 || memcmp(p, q, n) == 0);
        case RD_VALUE_ARRAY:
                n = rd_value_len(a);
                if (n != rd_value_len(b))
                        return false;
                for (size_t k = 0; k < n; k++)
                        if (!same(rd_value_at(a, k), rd_value_at(b, k)))
                                return false;
                return true;
        case RD_VALUE_MAP:
                n = rd_value_len(a);
                if (n != rd_value_len(b))
                        return false;
                for (size_t k = 0; k < n; k++)
                        if (!same(rd_value_key_at(a, k), rd_value_key_at(b, k)) ||
                            !same(rd_value_val_at(a, k), rd_value_val_at(b, k)))
                                return false;
                return true;
        default:
                return true;
        }
}

/* Write `msg` again, decode that with a second decoder, and compare. */
static void round_trip(const rd_msg *msg)
{
        rd_writer w = RD_WRITER_INIT;
        rd_msg copy;

        switch (msg->type) {
        case RD_MSG_REQUEST:
                rd_write_array(&w, 4);
                rd_write_uint(&w, RD_MSG_REQUEST);
                rd_write_uint(&w, msg->msgid);
                rd_write_strn(&w, msg->name, msg->name_len);
                break;
        case RD_MSG_NOTIFICATION:
                rd_write_array(&w, 3);
                rd_write_uint(&w, RD_MSG_NOTIFICATION);
                rd_write_strn(&w, msg->name, msg->name_len);
                break;
        case RD_MSG_RESPONSE:
                rd_write_array(&w, 4);
                rd_write_uint(&w, RD_MSG_RESPONSE);
                rd_write_uint(&w, msg->msgid);
                rewrite(&w, msg->error);
                rewrite(&w, msg->result);
                break;
        }
        if (msg->type != RD_MSG_RESPONSE) {
                rd_write_array(&w, msg->params ? 1 : 0);
                if (msg->params)
                        rewrite(&w, msg->params);
        }
        fuzz_assert(!rd_writer_failed(&w));

        fuzz_assert(rd_decoder_begin(checker, w.data, w.size) == 0);
        fuzz_assert(rd_decoder_next(checker, &copy) == 1);
        fuzz_assert(copy.type == msg->type && copy.size == w.size);
        fuzz_assert(rd_decoder_next(checker, &(rd_msg){ 0 }) == 0);
        if (msg->type != RD_MSG_NOTIFICATION)
                fuzz_assert(copy.msgid == msg->msgid);
        if (msg->type == RD_MSG_RESPONSE) {
                fuzz_assert(same(msg->error, copy.error));
                fuzz_assert(same(msg->result, copy.result));
        } else {
                fuzz_assert(copy.name_len == msg->name_len &&
                            memcmp(copy.name, msg->name, msg->name_len) == 0);
                fuzz_assert(same(msg->params, copy.params));
        }
        rd_writer_done(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* A copy of exactly `size` bytes: reading past the frame is caught. */
        uint8_t *buf = malloc(size ? size : 1);
        frame f = { buf, size };
        size_t consumed = 0, left = size, n_msgs = 0;
        uint64_t peeked;
        bool has_peek;
        rd_msg msg;
        int k;

        fuzz_assert(buf);
        memcpy(buf, data, size);
        if (!decoder) {
                fuzz_assert(rd_decoder_new(&decoder) == 0);
                fuzz_assert(rd_decoder_new(&checker) == 0);
        }
        has_peek = rd_peek_msgid(buf, size, &peeked) == 0;

        k = rd_decoder_begin(decoder, buf, size);
        fuzz_assert(k == 0 || k == -EBADMSG);
        if (k < 0)
                fuzz_assert(rd_decoder_remaining(decoder) == 0);
        else
                fuzz_assert(rd_decoder_remaining(decoder) == size);
        while (k == 0 && (k = rd_decoder_next(decoder, &msg)) != 0) {
                size_t now = rd_decoder_remaining(decoder);

                fuzz_assert(now <= left);
                fuzz_assert(k == 1 || k == -EPROTO || k == -EBADMSG);
                if (k == -EBADMSG) {
                        fuzz_assert(now == 0);
                        break;
                }
                fuzz_assert(now < left); /* progress: the loop ends */
                consumed += left - now;
                left = now;
                if (n_msgs++ == 0 && has_peek && (k == 1 || msg.has_msgid) &&
                    msg.type == RD_MSG_REQUEST)
                        fuzz_assert(msg.msgid == peeked);
                if (k == -EPROTO) {
                        k = 0;
                        continue;
                }
                k = 0;
                fuzz_assert(msg.size > 0 && msg.size <= size);
                if (msg.type != RD_MSG_RESPONSE) {
                        fuzz_assert(msg.name_len > 0 && inside(&f, msg.name, msg.name_len));
                        fuzz_assert(!msg.params || rd_value_type_of(msg.params) == RD_VALUE_MAP);
                        walk(&f, msg.params);
                } else {
                        fuzz_assert(msg.has_msgid);
                        walk(&f, msg.error);
                        walk(&f, msg.result);
                }
                round_trip(&msg);
        }
        fuzz_assert(consumed <= size);
        free(buf);
        return 0;
}
