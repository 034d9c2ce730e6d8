/* SPDX-License-Identifier: MIT */
/*
 * reactord and the service manager: each test starts a real reactord with
 * $NOTIFY_SOCKET pointing at a datagram socket of its own (and, for the
 * watchdog, $WATCHDOG_USEC and $WATCHDOG_PID as systemd sets them), then reads
 * the sd_notify messages it sends.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "procfd.h"

/* Upper bound for anything the daemon is expected to do. */
#define TIMEOUT 30.0
/* The watchdog interval the tests ask for: 200 ms, so a ping every 100 ms. */
#define WATCHDOG_USEC "200000"
/* How long "no WATCHDOG=1" is watched for: several intervals of the above. */
#define QUIET 1.0

enum watchdog_pid { WATCHDOG_NONE, WATCHDOG_SELF, WATCHDOG_OTHER };

static struct {
        char dir[PATH_MAX];
        char notify[PATH_MAX];
        int fd;
        pid_t daemon;
        procfd_set fds; /* reactord's descriptors at the start of the test's watch */
} fx;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start $REACTORD on a temporary endpoint, its notifications going to fx.fd. */
static void spawn(enum watchdog_pid wd)
{
        const char *exe = getenv("REACTORD");
        char endpoint[PATH_MAX + 16];

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        ck_assert_int_lt(snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", fx.dir),
                         (int)sizeof(endpoint));

        fx.daemon = fork();
        ck_assert_int_ge(fx.daemon, 0);
        if (fx.daemon == 0) {
                char pid[32];

                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                setenv("NOTIFY_SOCKET", fx.notify, 1);
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                if (wd != WATCHDOG_NONE) {
                        /* As systemd does: the interval, and which process it is meant for. */
                        snprintf(pid, sizeof(pid), "%d",
                                 (int)(wd == WATCHDOG_SELF ? getpid() : getppid()));
                        setenv("WATCHDOG_USEC", WATCHDOG_USEC, 1);
                        setenv("WATCHDOG_PID", pid, 1);
                }
                execl(exe, exe, "--endpoint", endpoint, (char *)NULL);
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

static void bus_path(char *buf, size_t size)
{
        ck_assert_int_lt(snprintf(buf, size, "%s/bus", fx.dir), (int)size);
}

/* What reactord holds now: the same again at stop(), however many notifications went out. */
static void fds_now(void)
{
        char bus[PATH_MAX + 8];

        bus_path(bus, sizeof(bus));
        procfd_baseline(fx.daemon, bus, &fx.fds);
}

/* The descriptors of fds_now() again, then SIGTERM: STOPPING=1 comes, then a clean exit. */
static void stop(void)
{
        double deadline = now() + TIMEOUT;
        char bus[PATH_MAX + 8];
        int status = 0;
        pid_t k;

        bus_path(bus, sizeof(bus));
        procfd_expect(fx.daemon, bus, &fx.fds, TIMEOUT, "the test's notifications");
        ck_assert_int_eq(kill(fx.daemon, SIGTERM), 0);
        wait_notify("STOPPING=1");
        while ((k = waitpid(fx.daemon, &status, WNOHANG)) == 0) {
                ck_assert_msg(now() < deadline, "reactord did not exit");
                usleep(10000);
        }
        ck_assert_int_eq(k, fx.daemon);
        fx.daemon = -1;
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");
        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        snprintf(fx.dir, sizeof(fx.dir), "%s/test-systemd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        fx.fd = notify_listen(fx.dir, fx.notify, sizeof(fx.notify));
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
        /* What reactord leaves on a clean exit: nothing; after SIGKILL, the lock file. */
        snprintf(path, sizeof(path), "%s/bus", fx.dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/bus.lock", fx.dir);
        unlink(path);
        unlink(fx.notify);
        rmdir(fx.dir);
        procfd_done(&fx.fds);
}

/* ---- tests -------------------------------------------------------------------------------- */

/*
 * WATCHDOG_USEC for reactord's pid: READY=1, then WATCHDOG=1 again and again
 * while it is idle (not just once around start), then STOPPING=1.
 */
START_TEST(test_watchdog)
{
        spawn(WATCHDOG_SELF);
        wait_notify("READY=1");
        wait_notify("WATCHDOG=1"); /* armed: its timer exists from now on */
        fds_now();
        for (unsigned i = 0; i < 3; i++)
                ck_assert_msg(next_notify("WATCHDOG=1", TIMEOUT),
                              "only %u WATCHDOG=1 from reactord", i);
        stop();
}
END_TEST

/* No WATCHDOG_USEC: nothing is armed, so no WATCHDOG=1 however long one waits. */
START_TEST(test_no_watchdog)
{
        spawn(WATCHDOG_NONE);
        wait_notify("READY=1");
        fds_now();
        ck_assert_msg(!next_notify("WATCHDOG=1", QUIET), "WATCHDOG=1 without WATCHDOG_USEC");
        stop();
}
END_TEST

/* WATCHDOG_PID names another process (an inherited environment): not ours to ping. */
START_TEST(test_watchdog_other_pid)
{
        spawn(WATCHDOG_OTHER);
        wait_notify("READY=1");
        fds_now();
        ck_assert_msg(!next_notify("WATCHDOG=1", QUIET),
                      "WATCHDOG=1 for a WATCHDOG_PID that is not reactord's");
        stop();
}
END_TEST

static Suite *systemd_suite(void)
{
        Suite *s = suite_create("systemd");
        TCase *tc = tcase_create("notify");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_watchdog);
        tcase_add_test(tc, test_no_watchdog);
        tcase_add_test(tc, test_watchdog_other_pid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(systemd_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
