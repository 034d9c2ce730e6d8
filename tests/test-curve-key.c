/* SPDX-License-Identifier: MIT */
/*
 * CURVE key files (basic/curve-key.c): both forms read back what was written,
 * and everything else is -EINVAL.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/curve-key.h"

/* libzmq's published example pair (zmq_curve(7)): never a real key. */
#define PUBLIC "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define SECRET "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"

static char dir[PATH_MAX];

/* One directory for the run, made and removed by the parent process (unchecked fixture). */
static void setup(void)
{
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/test-curve-key-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
        char path[PATH_MAX + 16];
        const char *names[] = { "f", "k.key", "k.pub" };

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                unlink(path);
        }
        rmdir(dir);
}

/* Each test starts without k.key and k.pub. */
static void clean(void)
{
        char path[PATH_MAX + 16];

        snprintf(path, sizeof(path), "%s/k.key", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/k.pub", dir);
        unlink(path);
}

/* Write `text` to DIR/f and read it as a key file. */
static int read_text(const char *text, rd_curve_key *k)
{
        char path[PATH_MAX + 16];
        FILE *f;

        snprintf(path, sizeof(path), "%s/f", dir);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
        *k = (rd_curve_key){};
        return rd_curve_key_read(path, k);
}

START_TEST(test_z85)
{
        ck_assert(rd_curve_key_is_z85(PUBLIC, 40));
        ck_assert(!rd_curve_key_is_z85(PUBLIC, 39));
        ck_assert(!rd_curve_key_is_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf ", 40));
        ck_assert(!rd_curve_key_is_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"", 40));
        ck_assert(!rd_curve_key_is_z85(NULL, 40));
}
END_TEST

START_TEST(test_forms)
{
        rd_curve_key k;

        ck_assert_int_eq(read_text(PUBLIC "\n", &k), 0);
        ck_assert_str_eq(k.public_key, PUBLIC);
        ck_assert_str_eq(k.secret_key, "");

        ck_assert_int_eq(read_text("# a comment\r\n\n  public-key=" PUBLIC "  \r\n"
                                   "secret-key =\t" SECRET "\n",
                                   &k),
                         0);
        ck_assert_str_eq(k.public_key, PUBLIC);
        ck_assert_str_eq(k.secret_key, SECRET);

        /* A secret key alone is a key file too (its public key can be derived). */
        ck_assert_int_eq(read_text("secret-key = " SECRET, &k), 0);
        ck_assert_str_eq(k.public_key, "");

        /* '#' is a Z85 character: a line of exactly one key is a key, not a comment. */
        ck_assert_int_eq(read_text("#" SECRET "\n", &k), -EINVAL); /* 41: a comment, no key */
        ck_assert_int_eq(read_text("#q:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", &k), 0);
        ck_assert_str_eq(k.public_key, "#q:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
}
END_TEST

START_TEST(test_refused)
{
        char big[8192];
        rd_curve_key k;
        const char *bad[] = {
                "",
                "# nothing else\n",
                "hello\n",
                "public-key = short\n",
                "public-key: " PUBLIC "\n",
                PUBLIC "\n" PUBLIC "\n",
                "public-key = " PUBLIC "\n" PUBLIC "\n",
                "secret-key = " SECRET "\nsecret-key = " SECRET "\n",
                "private-key = " SECRET "\n",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(read_text(bad[i], &k) == -EINVAL, "accepted: '%s'", bad[i]);
        memset(big, '#', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ck_assert_int_eq(read_text(big, &k), -EINVAL);
        ck_assert_int_eq(rd_curve_key_read("/nonexistent/k.key", &k), -ENOENT);
}
END_TEST

START_TEST(test_write)
{
        char name[PATH_MAX + 16], path[PATH_MAX + 32];
        rd_curve_key k = { PUBLIC, SECRET }, r;
        struct stat st;

        snprintf(name, sizeof(name), "%s/k", dir);
        ck_assert_int_eq(rd_curve_key_write(name, &k), 0);
        snprintf(path, sizeof(path), "%s.key", name);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0077, 0);
        ck_assert_int_eq(rd_curve_key_read(path, &r), 0);
        ck_assert_str_eq(r.public_key, PUBLIC);
        ck_assert_str_eq(r.secret_key, SECRET);
        snprintf(path, sizeof(path), "%s.pub", name);
        ck_assert_int_eq(rd_curve_key_read(path, &r), 0);
        ck_assert_str_eq(r.public_key, PUBLIC);
        ck_assert_str_eq(r.secret_key, "");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, 41);

        /* Never overwritten, whichever half exists. */
        ck_assert_int_eq(rd_curve_key_write(name, &k), -EEXIST);
        snprintf(path, sizeof(path), "%s.key", name);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rd_curve_key_write(name, &k), -EEXIST);
        ck_assert_int_eq(access(path, F_OK), -1);

        ck_assert_int_eq(rd_curve_key_write(name, &(rd_curve_key){ PUBLIC, "" }), -EINVAL);
}
END_TEST

static Suite *curve_key_suite(void)
{
        Suite *s = suite_create("curve-key");
        TCase *tc = tcase_create("files");

        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_add_checked_fixture(tc, clean, NULL);
        tcase_add_test(tc, test_z85);
        tcase_add_test(tc, test_forms);
        tcase_add_test(tc, test_refused);
        tcase_add_test(tc, test_write);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(curve_key_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
