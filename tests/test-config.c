/* SPDX-License-Identifier: MIT */
/*
 * The configuration file: a good file sets every key; each kind of bad file is
 * refused with -EINVAL and "name:line: reason", the settings left untouched.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "broker/config.h"

/* Parse `text` as the file "test.conf" into `c`; returns what rd_config_parse() returns. */
static int parse(const char *text, rd_config *c, char **error)
{
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int k;

        ck_assert_ptr_nonnull(f);
        k = rd_config_parse(f, "test.conf", c, error);
        fclose(f);
        return k;
}

/* A bad file: -EINVAL, exactly `message`, and `c` as it was. */
static void refused(const char *text, const char *message)
{
        rd_config c = RD_CONFIG_EMPTY;
        char *error = NULL;

        c.max_sessions = 7;
        ck_assert_int_eq(parse(text, &c, &error), -EINVAL);
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, message);
        ck_assert_uint_eq(c.max_sessions, 7);
        ck_assert_ptr_null(c.endpoint);
        ck_assert_int_eq(c.log_level, -1);
        free(error);
        rd_config_done(&c);
}

START_TEST(test_good)
{
        rd_config c = RD_CONFIG_EMPTY;
        rd_broker_limits l = RD_BROKER_LIMITS_DEFAULT;
        char *error = NULL;

        ck_assert_int_eq(parse("# reactord settings\n"
                               "\n"
                               "endpoint = ipc:///tmp/x/bus\n"
                               "  log-level=debug  \n"
                               "max-sessions = 2\n"
                               "\t# an indented comment\n"
                               "max-handles = 100\n"
                               "max-frame = 4096\n"
                               "max-processes = 7\n"
                               "max-write-buffer = 8192\n"
                               "lease = 2.5\n"
                               "window = 65536\n"
                               "max-sessions = 3\n", /* the last one counts */
                               &c, &error),
                         0);
        ck_assert_ptr_null(error);
        ck_assert_str_eq(c.endpoint, "ipc:///tmp/x/bus");
        ck_assert_int_eq(c.log_level, RD_LOG_DEBUG);
        ck_assert_uint_eq(c.max_sessions, 3);
        ck_assert_uint_eq(c.max_handles, 100);
        ck_assert_uint_eq(c.max_frame, 4096);
        ck_assert_uint_eq(c.max_processes, 7);
        ck_assert_uint_eq(c.max_write_buffer, 8192);
        ck_assert_uint_eq(c.lease, 2500000);
        ck_assert_uint_eq(c.window, 65536);

        rd_config_apply_limits(&c, &l);
        ck_assert_uint_eq(l.max_sessions, 3);
        ck_assert_uint_eq(l.max_handles, 100);
        ck_assert_uint_eq(l.max_frame, 4096);
        ck_assert_uint_eq(l.max_processes, 7);
        ck_assert_uint_eq(l.max_write_buffer, 8192);
        ck_assert_uint_eq(l.default_lease, 2500000);
        ck_assert_uint_eq(l.default_window, 65536);
        rd_config_done(&c);
}
END_TEST

/* Empty and comment-only files set nothing; the limits keep their defaults. */
START_TEST(test_empty)
{
        rd_config c = RD_CONFIG_EMPTY;
        rd_broker_limits l = RD_BROKER_LIMITS_DEFAULT, d = RD_BROKER_LIMITS_DEFAULT;

        ck_assert_int_eq(parse("", &c, NULL), 0);
        ck_assert_int_eq(parse("# nothing\n\n   \n", &c, NULL), 0);
        ck_assert_ptr_null(c.endpoint);
        ck_assert_int_eq(c.log_level, -1);
        rd_config_apply_limits(&c, &l);
        ck_assert_mem_eq(&l, &d, sizeof(l));
}
END_TEST

/* Later files and the command line override earlier settings, key by key. */
START_TEST(test_merge)
{
        rd_config a = RD_CONFIG_EMPTY, b = RD_CONFIG_EMPTY;

        ck_assert_int_eq(parse("max-sessions = 2\nlog-level = info\n", &a, NULL), 0);
        ck_assert_int_eq(parse("max-sessions = 5\nendpoint = ipc:///tmp/y\n", &b, NULL), 0);
        ck_assert_int_eq(rd_config_merge(&a, &b), 0);
        ck_assert_uint_eq(a.max_sessions, 5);
        ck_assert_int_eq(a.log_level, RD_LOG_INFO);
        ck_assert_str_eq(a.endpoint, "ipc:///tmp/y");
        rd_config_done(&a);
        rd_config_done(&b);
        ck_assert_ptr_null(a.endpoint);
}
END_TEST

/* tcp:// with CURVE: the endpoint, the two paths, merged and handed to the broker. */
START_TEST(test_curve)
{
        rd_config a = RD_CONFIG_EMPTY, b = RD_CONFIG_EMPTY;
        rd_broker_limits l = RD_BROKER_LIMITS_DEFAULT;

        ck_assert_int_eq(parse("endpoint = tcp://127.0.0.1:7000\n"
                               "curve-secret-key = /etc/reactord/server.key\n"
                               "curve-allow = /etc/reactord/clients\n",
                               &a, NULL),
                         0);
        ck_assert_str_eq(a.endpoint, "tcp://127.0.0.1:7000");
        ck_assert_str_eq(a.curve_secret_key, "/etc/reactord/server.key");
        ck_assert_str_eq(a.curve_allow, "/etc/reactord/clients");

        /* The command line's directory wins; the file's key stays. */
        b.curve_allow = strdup("/srv/clients");
        ck_assert_ptr_nonnull(b.curve_allow);
        ck_assert_int_eq(rd_config_merge(&a, &b), 0);
        ck_assert_str_eq(a.curve_secret_key, "/etc/reactord/server.key");
        ck_assert_str_eq(a.curve_allow, "/srv/clients");

        ck_assert_ptr_null(l.curve_secret_key);
        rd_config_apply_limits(&a, &l);
        ck_assert_str_eq(l.curve_secret_key, "/etc/reactord/server.key");
        ck_assert_str_eq(l.curve_allow, "/srv/clients");
        rd_config_done(&a);
        rd_config_done(&b);
        ck_assert_ptr_null(a.curve_secret_key);
        ck_assert_ptr_null(a.curve_allow);
}
END_TEST

START_TEST(test_bad_key)
{
        refused("max-sessions = 2\n# fine\nbogus = 1\n", "test.conf:3: unknown key 'bogus'");
        refused("\n\nMax-Sessions = 2\n", "test.conf:3: unknown key 'Max-Sessions'");
}
END_TEST

START_TEST(test_missing_equals)
{
        refused("log-level = info\nmax-sessions 2\n",
                "test.conf:2: missing '=' (lines are 'key = value')");
        refused(" = 2\n", "test.conf:1: missing key before '='");
        refused("\nwindow =   \n", "test.conf:2: missing value for 'window'");
}
END_TEST

START_TEST(test_bad_values)
{
        refused("max-sessions = 0\n",
                "test.conf:1: invalid max-sessions '0' (a number, at least 1)");
        refused("# x\nmax-handles = -3\n",
                "test.conf:2: invalid max-handles '-3' (a number, at least 1)");
        refused("max-sessions = 12abc\n",
                "test.conf:1: invalid max-sessions '12abc' (a number, at least 1)");
        refused("max-sessions = 99999999999999999999999\n",
                "test.conf:1: invalid max-sessions '99999999999999999999999' (a number, at least "
                "1)");
        refused("max-frame = 100\n",
                "test.conf:1: invalid max-frame '100' (a number, at least 1024)");
        refused("max-processes = 0\n",
                "test.conf:1: invalid max-processes '0' (a number, at least 1)");
        refused("max-write-buffer = 1000\n",
                "test.conf:1: invalid max-write-buffer '1000' (a number, at least 1024)");
        refused("log-level = loud\n",
                "test.conf:1: invalid log-level 'loud' (error, warning, notice, info or debug)");
        refused("lease = 0\n", "test.conf:1: invalid lease '0' (seconds, 0.05 to 3600)");
        refused("lease = 1h\n", "test.conf:1: invalid lease '1h' (seconds, 0.05 to 3600)");
        refused("lease = 7200\n", "test.conf:1: invalid lease '7200' (seconds, 0.05 to 3600)");
        refused("window = 100\n", "test.conf:1: invalid window '100' (bytes, 4096 to 67108864)");
        refused("window = 100000000\n",
                "test.conf:1: invalid window '100000000' (bytes, 4096 to 67108864)");
        refused("endpoint = udp://127.0.0.1:5555\n",
                "test.conf:1: invalid endpoint 'udp://127.0.0.1:5555' (an ipc:// or tcp:// URI)");
        refused("curve-secret-key = server.key\n",
                "test.conf:1: invalid curve-secret-key 'server.key' (an absolute path)");
        refused("curve-allow = ./clients\n",
                "test.conf:1: invalid curve-allow './clients' (an absolute path)");
}
END_TEST

/* A good line before a bad one does not leak through. */
START_TEST(test_all_or_nothing)
{
        refused("endpoint = ipc:///tmp/z\nlog-level = debug\nmax-sessions = 9\nwhat\n",
                "test.conf:4: missing '=' (lines are 'key = value')");
}
END_TEST

START_TEST(test_load)
{
        char dir[] = "/tmp/test-config-XXXXXX", path[64];
        rd_config c = RD_CONFIG_EMPTY;
        char *error = NULL, *p;
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/reactord.conf", dir);

        /* Missing: fine for the default file, an error for one asked for. */
        ck_assert_int_eq(rd_config_load(path, true, &c, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_int_eq(rd_config_load(path, false, &c, &error), -ENOENT);
        ck_assert_ptr_nonnull(error);
        ck_assert_ptr_nonnull(strstr(error, path));
        free(error);

        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("max-sessions = 2\nlease = nope\n", f);
        fclose(f);
        ck_assert_int_eq(rd_config_load(path, true, &c, &error), -EINVAL);
        ck_assert_int_ge(asprintf(&p, "%s:2: invalid lease 'nope' (seconds, 0.05 to 3600)", path),
                         0);
        ck_assert_str_eq(error, p);
        free(p);
        free(error);

        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("max-sessions = 2\n", f);
        fclose(f);
        ck_assert_int_eq(rd_config_load(path, false, &c, &error), 0);
        ck_assert_uint_eq(c.max_sessions, 2);
        rd_config_done(&c);

        unlink(path);
        rmdir(dir);
}
END_TEST

START_TEST(test_default_path)
{
        char *p;

        if (geteuid() == 0) {
                p = rd_config_default_path();
                ck_assert_str_eq(p, "/etc/reactord/reactord.conf");
                free(p);
                return;
        }
        setenv("XDG_CONFIG_HOME", "/xdg", 1);
        p = rd_config_default_path();
        ck_assert_str_eq(p, "/xdg/reactord/reactord.conf");
        free(p);
        unsetenv("XDG_CONFIG_HOME");
        setenv("HOME", "/home/h", 1);
        p = rd_config_default_path();
        ck_assert_str_eq(p, "/home/h/.config/reactord/reactord.conf");
        free(p);
}
END_TEST

static Suite *config_suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_merge);
        tcase_add_test(tc, test_curve);
        tcase_add_test(tc, test_bad_key);
        tcase_add_test(tc, test_missing_equals);
        tcase_add_test(tc, test_bad_values);
        tcase_add_test(tc, test_all_or_nothing);
        tcase_add_test(tc, test_load);
        tcase_add_test(tc, test_default_path);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
