/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"

/* The codes of PROTOCOL.md §6, in its order. */
static const struct {
        int err;
        const char *name;
} codes[] = {
        { EINVAL, "EINVAL" },       { ENOENT, "ENOENT" },     { EPERM, "EPERM" },
        { EACCES, "EACCES" },       { EAGAIN, "EAGAIN" },     { EPROTO, "EPROTO" },
        { EBADMSG, "EBADMSG" },     { E2BIG, "E2BIG" },       { ENOSYS, "ENOSYS" },
        { ENOTSUP, "ENOTSUP" },     { ENOTCONN, "ENOTCONN" }, { EALREADY, "EALREADY" },
        { EMFILE, "EMFILE" },       { EUSERS, "EUSERS" },     { ENOMEM, "ENOMEM" },
        { ESHUTDOWN, "ESHUTDOWN" }, { EIO, "EIO" },
};

START_TEST(test_round_trip)
{
        const char *name = codes[_i].name;
        int err = codes[_i].err;

        ck_assert_str_eq(rd_error_name(-err), name);
        ck_assert_str_eq(rd_error_name(err), name);
        ck_assert_int_eq(rd_error_from_name(name, strlen(name)), -err);
        ck_assert_int_eq(rd_error_from_name(rd_error_name(-err), strlen(name)), -err);
        /* Every code has a sentence of its own, never empty. */
        ck_assert_ptr_nonnull(rd_error_message(-err));
        ck_assert_uint_gt(strlen(rd_error_message(-err)), 0);
        ck_assert_str_eq(rd_error_message(err), rd_error_message(-err));
}
END_TEST

START_TEST(test_distinct)
{
        /* No two codes share a name or an errno: the table is a bijection. */
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(codes); j++) {
                        ck_assert_int_ne(codes[i].err, codes[j].err);
                        ck_assert_str_ne(rd_error_name(codes[i].err), rd_error_name(codes[j].err));
                }
}
END_TEST

START_TEST(test_unknown)
{
        ck_assert_str_eq(rd_error_name(-EXDEV), "EIO");
        ck_assert_str_eq(rd_error_name(-ERANGE), "EIO");
        ck_assert_str_eq(rd_error_name(0), "EIO");
        ck_assert_str_eq(rd_error_name(-100000), "EIO");
        ck_assert_str_eq(rd_error_message(-EXDEV), strerror(EXDEV));

        ck_assert_int_eq(rd_error_from_name("EXDEV", 5), -EIO);
        ck_assert_int_eq(rd_error_from_name("einval", 6), -EIO);
        ck_assert_int_eq(rd_error_from_name("EINVALX", 7), -EIO);
        ck_assert_int_eq(rd_error_from_name("EINVA", 5), -EIO);
        ck_assert_int_eq(rd_error_from_name("", 0), -EIO);
        ck_assert_int_eq(rd_error_from_name(NULL, 0), -EIO);
        /* The name need not be NUL-terminated: only `n` bytes are read. */
        ck_assert_int_eq(rd_error_from_name("EINVALID", 6), -EINVAL);
        ck_assert_int_eq(rd_error_from_name("EPERMISSION", 5), -EPERM);
        ck_assert_int_eq(rd_error_from_name("EIO", 3), -EIO);
}
END_TEST

static Suite *error_suite(void)
{
        Suite *s = suite_create("error");
        TCase *tc = tcase_create("error");
        tcase_add_loop_test(tc, test_round_trip, 0, ELEMENTSOF(codes));
        tcase_add_test(tc, test_distinct);
        tcase_add_test(tc, test_unknown);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(error_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
