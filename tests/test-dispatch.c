/* SPDX-License-Identifier: MIT */
/* The dispatch table: sorted for bisection, well formed, and written out whole by the catalogue. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dispatch.h"
#include "proto/decoder.h"

static const char *const expected[] = {
        "handle.close",      "listener.join",   "process.close_stdin",
        "process.list",      "process.signal",  "process.spawn",
        "process.stop",      "process.take",    "process.write",
        "reactor.info",      "reactor.methods", "reactor.ping",
        "reactor.resources", "session.ack",     "session.bye",
        "session.hello",     "stream.abort",    "stream.close",
        "stream.pause",      "stream.resume",   "stream.set",
        "stream.shutdown",   "stream.write",    "tcp.adopt",
        "tcp.connect",       "tcp.listen",      "timer.cancel",
        "timer.reset",       "timer.start",     "udp.bind",
        "udp.join",          "udp.leave",       "udp.send",
        "unix.adopt",        "unix.connect",    "unix.listen",
};

START_TEST(test_every_method_is_found)
{
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
                const rd_method *m = rd_dispatch_find(expected[i], strlen(expected[i]));
                ck_assert_ptr_nonnull(m);
                ck_assert_str_eq(m->name, expected[i]);
                ck_assert_ptr_nonnull(m->fn);
                ck_assert_ptr_nonnull(m->doc);
                ck_assert_ptr_nonnull(m->events);
                ck_assert_uint_le(m->n_params, RD_MAX_PARAMS);
        }
}
END_TEST

START_TEST(test_lookup_misses)
{
        ck_assert_ptr_null(rd_dispatch_find("reactor.pin", 11));
        ck_assert_ptr_null(rd_dispatch_find("reactor.pingg", 13));
        ck_assert_ptr_null(rd_dispatch_find("", 0));
        ck_assert_ptr_null(rd_dispatch_find("zzz", 3));
        ck_assert_ptr_null(rd_dispatch_find("aaa", 3));
        /* Length-bounded: a prefix of a longer buffer matches exactly. */
        ck_assert_ptr_nonnull(rd_dispatch_find("reactor.pingXYZ", 12));
        /* Bytes, not a C string: a NUL inside the name matches nothing. */
        ck_assert_ptr_null(rd_dispatch_find("reactor.ping\0", 13));
        ck_assert_ptr_null(rd_dispatch_find("reactor.ping\0\0\0", 15));
        ck_assert_ptr_null(rd_dispatch_find("reactor.pi\0g", 12));
}
END_TEST

START_TEST(test_catalogue_lists_the_table)
{
        rd_writer w = RD_WRITER_INIT;
        rd_decoder *d;
        rd_msg msg;
        const rd_value *methods, *prev = NULL;

        /* Wrap the catalogue in a response so the decoder takes it. */
        rd_write_array(&w, 4);
        rd_write_uint(&w, 1);
        rd_write_uint(&w, 1);
        rd_write_nil(&w);
        rd_dispatch_write_catalogue(&w);

        ck_assert_int_ge(rd_decoder_new(&d), 0);
        ck_assert_int_eq(rd_decoder_begin(d, w.data, w.size), 0);
        ck_assert_int_eq(rd_decoder_next(d, &msg), 1);
        methods = rd_value_get(msg.result, "methods");
        ck_assert_uint_eq(rd_value_len(methods), sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < rd_value_len(methods); i++) {
                const rd_value *m = rd_value_at(methods, i), *name = rd_value_get(m, "name");
                const char *s, *p;
                size_t n, pn;

                ck_assert_int_eq(rd_value_str(name, &s, &n), 0);
                ck_assert_int_eq(n, strlen(expected[i]));
                ck_assert(memcmp(s, expected[i], n) == 0);
                /* Sorted strictly: bisection depends on it. */
                if (prev) {
                        ck_assert_int_eq(rd_value_str(prev, &p, &pn), 0);
                        ck_assert_int_lt(strncmp(p, s, pn < n ? pn : n) ?: (int)pn - (int)n, 0);
                }
                prev = name;
                ck_assert_int_eq(rd_value_type_of(rd_value_get(m, "params")), RD_VALUE_ARRAY);
                ck_assert_int_eq(rd_value_type_of(rd_value_get(m, "events")), RD_VALUE_ARRAY);
        }
        const rd_value *start = NULL;
        for (size_t i = 0; i < rd_value_len(methods) && !start; i++)
                if (rd_value_str_eq(rd_value_get(rd_value_at(methods, i), "name"), "timer.start"))
                        start = rd_value_at(methods, i);
        const rd_value *after = rd_value_at(rd_value_get(start, "params"), 0);
        ck_assert(rd_value_str_eq(rd_value_get(after, "name"), "after"));
        ck_assert(rd_value_str_eq(rd_value_get(after, "type"), "duration"));
        ck_assert(rd_value_str_eq(rd_value_at(rd_value_get(start, "events"), 0), "timer.fired"));
        ck_assert_uint_eq(rd_value_len(rd_value_get(msg.result, "events")), 18);

        rd_decoder_free(d);
        rd_writer_done(&w);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("dispatch");
        TCase *tc = tcase_create("table");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_every_method_is_found);
        tcase_add_test(tc, test_lookup_misses);
        tcase_add_test(tc, test_catalogue_lists_the_table);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
