/* SPDX-License-Identifier: MIT */
/*
 * The configuration file and SIGHUP: reactord started with --config and
 * $NOTIFY_SOCKET; the file is rewritten and reloaded, good and bad, and the
 * session cap seen by the next hello tells which settings are in effect. A
 * bad file at start is an exit with status 2 and the "file:line: reason".
 *
 * Timeouts are generous upper bounds; only behaviour is asserted, never speed.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "plain.h"
#include "procfd.h"

#include "reactord/client.h"

/* Upper bound for anything the daemon is expected to do. */
#define TIMEOUT 30.0

static struct {
        char dir[PATH_MAX];
        char notify[PATH_MAX];
        char config[PATH_MAX + 16];
        char log[PATH_MAX + 16];
        char endpoint[PATH_MAX + 16];
        int fd;
        pid_t daemon;
        procfd_set fds_served; /* reactord's descriptors once it served */
} fx;

static void write_config(const char *text)
{
        char tmp[PATH_MAX + 32];
        FILE *f;

        /* Replaced whole, as an editor or a package manager does. */
        snprintf(tmp, sizeof(tmp), "%s.new", fx.config);
        f = fopen(tmp, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(rename(tmp, fx.config), 0);
}

/* Start $REACTORD with --config, stderr to fx.log, notifications to fx.fd. */
static void spawn(void)
{
        const char *exe = getenv("REACTORD");

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        fx.daemon = fork();
        ck_assert_int_ge(fx.daemon, 0);
        if (fx.daemon == 0) {
                FILE *f;

                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                setenv("NOTIFY_SOCKET", fx.notify, 1);
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                f = freopen(fx.log, "w", stderr);
                if (!f)
                        _exit(127);
                execl(exe, exe, "--endpoint", fx.endpoint, "--config", fx.config, (char *)NULL);
                _exit(127);
        }
}

static bool next_notify(const char *what, double timeout)
{
        return notify_next(fx.fd, what, timeout);
}

static void wait_notify(const char *what)
{
        ck_assert_msg(next_notify(what, TIMEOUT), "no %s from reactord", what);
}

/* SIGHUP, then RELOADING=1 and READY=1 in that order. */
static void reload(void)
{
        ck_assert_int_eq(kill(fx.daemon, SIGHUP), 0);
        wait_notify("RELOADING=1");
        wait_notify("READY=1");
}

/* A session, or the error its hello got. */
static int hello(rd_client **ret)
{
        rd_client_options opts = { .name = "reload", .timeout = TIMEOUT };

        return rd_client_new(fx.endpoint, &opts, ret);
}

/* Whether reactord's stderr so far contains `what`. */
static bool log_contains(const char *what)
{
        char buf[16384];
        size_t n;
        FILE *f = fopen(fx.log, "r");

        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, what) != NULL;
}

static int wait_exit(void)
{
        int status = plain_wait_exit(fx.daemon, TIMEOUT);

        ck_assert_msg(status != -1, "reactord did not exit");
        fx.daemon = -1;
        return status;
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");
        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        snprintf(fx.dir, sizeof(fx.dir), "%s/test-reload-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        fx.fd = notify_listen(fx.dir, fx.notify, sizeof(fx.notify));
        snprintf(fx.config, sizeof(fx.config), "%s/reactord.conf", fx.dir);
        snprintf(fx.log, sizeof(fx.log), "%s/stderr", fx.dir);
        snprintf(fx.endpoint, sizeof(fx.endpoint), "ipc://%s/bus", fx.dir);
}

static void teardown(void)
{
        char path[PATH_MAX + 16];

        if (fx.daemon > 0) {
                kill(fx.daemon, SIGKILL);
                while (waitpid(fx.daemon, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (fx.fd >= 0)
                close(fx.fd);
        snprintf(path, sizeof(path), "%s/bus", fx.dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/bus.lock", fx.dir);
        unlink(path);
        unlink(fx.notify);
        unlink(fx.config);
        unlink(fx.log);
        rmdir(fx.dir);
        procfd_done(&fx.fds_served);
}

/* READY=1: what reactord holds now is what it holds again once every client has gone. */
static void ready(void)
{
        char bus[PATH_MAX + 8];

        wait_notify("READY=1");
        snprintf(bus, sizeof(bus), "%s/bus", fx.dir);
        procfd_baseline(fx.daemon, bus, &fx.fds_served);
}

static void expect_fds_served(void)
{
        char bus[PATH_MAX + 8];

        snprintf(bus, sizeof(bus), "%s/bus", fx.dir);
        procfd_expect(fx.daemon, bus, &fx.fds_served, TIMEOUT, "after the reloads");
}

/* process.spawn of a sleep with `instances`: 0, or the call's negative errno. */
static int spawn_sleep(rd_client *c, unsigned instances)
{
        char params[128], *json = NULL;
        int r;

        snprintf(params, sizeof(params), "{\"argv\": [\"sleep\", \"100\"], \"instances\": %u}",
                 instances);
        r = rd_client_call_json(c, "process.spawn", params, &json);
        free(json);
        return r;
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_reload)
{
        rd_client *c[4] = {};
        char message[PATH_MAX + 96];

        write_config("# two sessions at most\nmax-sessions = 2\nmax-processes = 1\n");
        spawn();
        ready();

        ck_assert_int_eq(hello(&c[0]), 0);
        ck_assert_int_eq(hello(&c[1]), 0);
        ck_assert_int_eq(hello(&c[2]), -EUSERS);
        ck_assert_ptr_null(c[2]);

        /* A good file: the new cap holds for the next hello. */
        write_config("max-sessions = 3\nmax-processes = 2\n");
        reload();
        ck_assert_int_eq(hello(&c[2]), 0);
        /* A session keeps the per-session caps it began with; a new one has the new ones. */
        ck_assert_int_eq(spawn_sleep(c[0], 1), 0);
        ck_assert_int_eq(spawn_sleep(c[0], 1), -EAGAIN);
        ck_assert_int_eq(spawn_sleep(c[2], 2), 0);

        /* A bad file: refused, reported, and the cap of 3 stays. */
        write_config("max-sessions = 10\nlog-level = debug\nbogus = 1\n");
        reload();
        ck_assert_int_eq(hello(&c[3]), -EUSERS);
        snprintf(message, sizeof(message), "%s:3: unknown key 'bogus'", fx.config);
        ck_assert_msg(log_contains(message), "no '%s' on reactord's stderr", message);
        ck_assert_int_eq(kill(fx.daemon, 0), 0);

        for (unsigned i = 0; i < 4; i++)
                rd_client_free(c[i]);
        /* Their processes are stopped with them; nothing of the reloads stays open. */
        expect_fds_served();
        ck_assert_int_eq(kill(fx.daemon, SIGTERM), 0);
        wait_notify("STOPPING=1");
        {
                int status = wait_exit();

                ck_assert(WIFEXITED(status));
                ck_assert_int_eq(WEXITSTATUS(status), 0);
        }
}
END_TEST

/* A bad file at start: no service, exit status 2, and the line at fault on stderr. */
START_TEST(test_bad_at_start)
{
        char message[PATH_MAX + 96];
        int status;

        write_config("max-sessions = 2\n\nmax-sessions two\n");
        spawn();
        status = wait_exit();
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 2);
        snprintf(message, sizeof(message), "%s:3: missing '='", fx.config);
        ck_assert_msg(log_contains(message), "no '%s' on reactord's stderr", message);
        ck_assert_msg(!next_notify("READY=1", 0.2), "READY=1 with a bad file");
}
END_TEST

/* --config names a file that does not exist: an error, unlike a missing default file. */
START_TEST(test_missing_config)
{
        int status;

        spawn();
        status = wait_exit();
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 2);
        ck_assert(log_contains("No such file or directory"));
}
END_TEST

static Suite *reload_suite(void)
{
        Suite *s = suite_create("reload");
        TCase *tc = tcase_create("sighup");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_reload);
        tcase_add_test(tc, test_bad_at_start);
        tcase_add_test(tc, test_missing_config);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(reload_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
