/* SPDX-License-Identifier: MIT */
/*
 * fuzz-params: the checks the dispatcher makes before a handler runs
 * (rd__dispatch_check() in broker/dispatch.c: method lookup, session and
 * shutdown gates, params against the method table), on requests for the real
 * methods with params taken from the input.
 *
 * Input: byte 0 picks a method of the table (modulo their number); byte 1
 * holds flags (bit 0: a notification rather than a request; bit 1: the caller
 * has no session; bit 2: reactord is shutting down; bits 3-7: the msgid); the
 * rest follows the method name as it is, normally `[{params}]`. Whatever the
 * decoder makes of the frame (more messages may follow) goes through the same
 * checks. Every success must have filled the args as the table declares them;
 * every failure must come with a message, and the error response dispatch.c
 * would write from it must decode to the same code and message.
 */
#include <math.h>
#include <string.h>

#include "broker/dispatch.h"
#include "fuzz.h"
#include "proto/error.h"

static char *names[64];
static size_t n_names;
static rd_decoder *decoder, *checker;

/* The method names, read from the catalogue reactor.methods sends: the table itself. */
static void load_names(void)
{
        rd_writer w = RD_WRITER_INIT;
        const rd_value *methods;
        rd_msg msg;

        rd_write_array(&w, 4);
        rd_write_uint(&w, RD_MSG_RESPONSE);
        rd_write_uint(&w, 0);
        rd_write_nil(&w);
        rd_dispatch_write_catalogue(&w);
        fuzz_assert(rd_decoder_begin(checker, w.data, w.size) == 0);
        fuzz_assert(rd_decoder_next(checker, &msg) == 1);
        methods = rd_value_get(msg.result, "methods");
        for (size_t i = 0; i < rd_value_len(methods) && n_names < ELEMENTSOF(names); i++) {
                const char *s;
                size_t n;

                fuzz_assert(rd_value_str(rd_value_get(rd_value_at(methods, i), "name"), &s, &n) ==
                            0);
                fuzz_assert(names[n_names++] = strndup(s, n));
        }
        fuzz_assert(n_names > 0);
        rd_writer_done(&w);
}

static bool inside(const void *p, size_t n, const uint8_t *frame, size_t size)
{
        uintptr_t q = (uintptr_t)p, start = (uintptr_t)frame;
        return n == 0 || (q >= start && n <= size && q - start <= size - n);
}

/* A successful check: each arg is what the table declares, read from the params map. */
static void check_args(const rd_method *m, const rd_msg *msg, const rd_call *c,
                       const uint8_t *frame, size_t size)
{
        fuzz_assert(m->n_params <= RD_MAX_PARAMS);
        for (size_t i = 0; i < m->n_params; i++) {
                const rd_param *p = &m->params[i];
                const rd_arg *a = &c->args[i];
                const rd_value *v = rd_value_get(msg->params, p->name);
                rd_value_type t = rd_value_type_of(v);
                uint64_t u;
                int64_t n;

                fuzz_assert(a->present == (v && t != RD_VALUE_NIL));
                if (p->required)
                        fuzz_assert(a->present);
                if (!a->present) {
                        fuzz_assert(a->u == 0);
                        continue;
                }
                switch (p->type) {
                case RD_PARAM_UINT:
                        fuzz_assert(rd_value_uint(v, &u) == 0 && u == a->u);
                        break;
                case RD_PARAM_HANDLE:
                        fuzz_assert(rd_value_uint(v, &u) == 0 && u == a->u && a->u >= 1);
                        break;
                case RD_PARAM_INT:
                        fuzz_assert(rd_value_int(v, &n) == 0 && n == a->i);
                        break;
                case RD_PARAM_NUMBER:
                        fuzz_assert(isfinite(a->d));
                        break;
                case RD_PARAM_DURATION:
                        fuzz_assert(t == RD_VALUE_UINT || t == RD_VALUE_INT || t == RD_VALUE_FLOAT);
                        fuzz_assert(a->usec <= RD_DURATION_MAX_USEC);
                        break;
                case RD_PARAM_BOOL:
                        fuzz_assert(t == RD_VALUE_BOOL);
                        break;
                case RD_PARAM_STR:
                        fuzz_assert(t == RD_VALUE_STR && inside(a->s.p, a->s.n, frame, size));
                        break;
                case RD_PARAM_BIN:
                        fuzz_assert((t == RD_VALUE_STR || t == RD_VALUE_BIN) &&
                                    inside(a->s.p, a->s.n, frame, size));
                        break;
                case RD_PARAM_MAP:
                        fuzz_assert(t == RD_VALUE_MAP && a->v == v);
                        break;
                case RD_PARAM_ARRAY:
                        fuzz_assert(t == RD_VALUE_ARRAY && a->v == v);
                        break;
                case RD_PARAM_ANY:
                        fuzz_assert(a->v == v);
                        break;
                default:
                        fuzz_assert(!"a param type the table should not use");
                }
        }
}

/* A failed check: the error response rd_dispatch() writes from it carries code and message. */
static void check_failure(int k, const rd_method *m, const rd_call *c)
{
        rd_writer w = RD_WRITER_INIT;
        const char *s;
        size_t n;
        rd_msg msg;

        fuzz_assert(k == -ENOSYS || k == -ENOTCONN || k == -ESHUTDOWN || k == -EINVAL);
        fuzz_assert((k == -ENOSYS) == (m == NULL));
        n = strnlen(c->error, sizeof(c->error));
        fuzz_assert(n > 0 && n < sizeof(c->error));

        rd_write_error(&w, c->msgid, k, c->error);
        fuzz_assert(!rd_writer_failed(&w));
        fuzz_assert(rd_decoder_begin(checker, w.data, w.size) == 0);
        fuzz_assert(rd_decoder_next(checker, &msg) == 1);
        fuzz_assert(msg.type == RD_MSG_RESPONSE && msg.msgid == c->msgid);
        fuzz_assert(rd_value_str_eq(rd_value_get(msg.error, "code"), rd_error_name(k)));
        fuzz_assert(rd_value_str(rd_value_get(msg.error, "message"), &s, &n) == 0);
        fuzz_assert(n == strlen(c->error) && memcmp(s, c->error, n) == 0);
        fuzz_assert(rd_value_type_of(msg.result) == RD_VALUE_NIL);
        rd_writer_done(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        rd_writer w = RD_WRITER_INIT;
        uint8_t *frame;
        unsigned flags;
        const char *name;
        rd_msg msg;
        int k;

        if (!decoder) {
                fuzz_assert(rd_decoder_new(&decoder) == 0);
                fuzz_assert(rd_decoder_new(&checker) == 0);
                load_names();
        }
        if (size < 2)
                return 0;
        name = names[data[0] % n_names];
        flags = data[1];

        if (flags & 1) {
                rd_write_array(&w, 3);
                rd_write_uint(&w, RD_MSG_NOTIFICATION);
        } else {
                rd_write_array(&w, 4);
                rd_write_uint(&w, RD_MSG_REQUEST);
                rd_write_uint(&w, flags >> 3);
        }
        rd_write_str(&w, name);
        rd_write_raw(&w, data + 2, size - 2);
        fuzz_assert(!rd_writer_failed(&w));
        /* Exactly the frame's bytes: reading past them is caught. */
        fuzz_assert(frame = malloc(w.size));
        memcpy(frame, w.data, w.size);

        k = rd_decoder_begin(decoder, frame, w.size);
        while (k == 0 && (k = rd_decoder_next(decoder, &msg)) != 0) {
                const rd_method *m = NULL;
                rd_call c = { .msgid = msg.msgid };

                if (k == -EBADMSG)
                        break;
                if (k == -EPROTO || msg.type == RD_MSG_RESPONSE) {
                        k = 0;
                        continue;
                }
                k = 0;
                int r = rd__dispatch_check(&msg, !(flags & 2), flags & 4, &c, &m);
                if (r >= 0) {
                        fuzz_assert(m && rd_msg_name_is(&msg, m->name, strlen(m->name)));
                        fuzz_assert(!(flags & 4));
                        fuzz_assert(!(flags & 2) || (m->flags & RD_METHOD_NO_SESSION));
                        check_args(m, &msg, &c, frame, w.size);
                } else
                        check_failure(r, m, &c);
        }
        free(frame);
        rd_writer_done(&w);
        return 0;
}
