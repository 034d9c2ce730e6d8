/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "procfd.h"
#include "reactord/client.h"

char fixture_tmpdir[PATH_MAX];
char fixture_endpoint[PATH_MAX + 16];
pid_t fixture_daemon_pid = -1;

static char bus_path[PATH_MAX + 8]; /* the endpoint's socket file */
static procfd_set baseline;         /* the daemon's descriptors once it served */

double fixture_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

void fixture_check_fds(void)
{
        if (fixture_daemon_pid <= 0 || waitpid(fixture_daemon_pid, NULL, WNOHANG) != 0)
                return; /* not running (a test may end it on purpose); the stop reaps it */
        procfd_expect(fixture_daemon_pid, bus_path, &baseline, FIXTURE_FD_WAIT, "the teardown");
}

/* The stop without the check: for atexit, after a failed assertion. */
static void stop(void)
{
        if (fixture_daemon_pid > 0) {
                kill(fixture_daemon_pid, SIGTERM);
                while (waitpid(fixture_daemon_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                fixture_daemon_pid = -1;
        }
        if (fixture_tmpdir[0]) {
                nftw(fixture_tmpdir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
                fixture_tmpdir[0] = '\0';
        }
        procfd_done(&baseline);
}

void fixture_daemon_stop(void)
{
        fixture_check_fds();
        stop();
}

void fixture_daemon_start(const char *tag)
{
        fixture_daemon_start_args(tag, NULL);
}

void fixture_daemon_start_args(const char *tag, const char *const *args)
{
        static bool registered;
        const char *exe = getenv("REACTORD");
        const char *tmp = getenv("TMPDIR");
        rd_client_options opts = { .timeout = 0.5 };
        const char *argv[16];
        rd_client *c = NULL;
        size_t n = 0;
        int r = -EIO;

        signal(SIGPIPE, SIG_IGN);
        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        snprintf(fixture_tmpdir, sizeof(fixture_tmpdir), "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                 tag);
        ck_assert_ptr_nonnull(mkdtemp(fixture_tmpdir));
        snprintf(fixture_endpoint, PATH_MAX + 16, "ipc://%s/bus", fixture_tmpdir);
        snprintf(bus_path, sizeof(bus_path), "%s/bus", fixture_tmpdir);
        if (!registered) {
                atexit(stop);
                registered = true;
        }
        argv[n++] = exe;
        argv[n++] = "--endpoint";
        argv[n++] = fixture_endpoint;
        for (; args && *args; args++) {
                ck_assert_uint_lt(n, sizeof(argv) / sizeof(argv[0]) - 1);
                argv[n++] = *args;
        }
        argv[n] = NULL;

        fixture_daemon_pid = fork();
        ck_assert_int_ge(fixture_daemon_pid, 0);
        if (fixture_daemon_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                execv(exe, (char *const *)argv);
                _exit(127);
        }

        /* Wait until it answers a hello. */
        for (double deadline = fixture_now() + 30; fixture_now() < deadline;) {
                ck_assert_int_eq(waitpid(fixture_daemon_pid, NULL, WNOHANG), 0);
                r = rd_client_new(fixture_endpoint, &opts, &c);
                if (r >= 0)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_msg(r >= 0, "reactord does not answer: %s", strerror(-r));
        rd_client_free(c);
        setenv("REACTORD_ENDPOINT", fixture_endpoint, 1);
        /* Serving, and the first session came and went: what it holds now is its baseline. */
        procfd_baseline(fixture_daemon_pid, bus_path, &baseline);
}
