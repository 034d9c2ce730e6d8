/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

#define WAIT_SEC 20.0

static pid_t children[8]; /* running children, 0 once reaped */
static int pipes[16];     /* the test's pipe ends, -1 once closed (0: unused) */

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int track_pipe(int fd)
{
        for (size_t i = 0; i < sizeof(pipes) / sizeof(pipes[0]); i++)
                if (pipes[i] <= 0) {
                        pipes[i] = fd;
                        return fd;
                }
        ck_abort_msg("too many pipes");
        return -1;
}

pid_t child_start(child_fn fn, const void *arg, int *to_child, int *from_child)
{
        int down[2], up[2];
        size_t i;
        pid_t pid;

        for (i = 0; i < sizeof(children) / sizeof(children[0]) && children[i]; i++)
                ;
        ck_assert_uint_lt(i, sizeof(children) / sizeof(children[0]));
        ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Never ck_assert or exit() here: that would run the test's atexit cleanup. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(down[1]);
                close(up[0]);
                fn(down[0], up[1], arg);
                _exit(0);
        }
        children[i] = pid;
        close(down[0]);
        close(up[1]);
        *to_child = track_pipe(down[1]);
        *from_child = track_pipe(up[0]);
        return pid;
}

void child_kill(pid_t pid)
{
        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (children[i] == pid) {
                        kill(pid, SIGKILL);
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                        children[i] = 0;
                }
}

void child_read(int fd, void *buf, size_t n)
{
        size_t got = 0;

        for (double deadline = now() + WAIT_SEC; got < n;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                ck_assert_msg(now() < deadline, "the child said nothing");
                if (poll(&p, 1, 100) <= 0)
                        continue;
                k = read(fd, (char *)buf + got, n - got);
                ck_assert_msg(k > 0, "the child is gone");
                got += (size_t)k;
        }
}

void child_cleanup(void)
{
        for (size_t i = 0; i < sizeof(pipes) / sizeof(pipes[0]); i++)
                if (pipes[i] > 0) {
                        close(pipes[i]);
                        pipes[i] = -1;
                }
        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (children[i] > 0)
                        child_kill(children[i]);
}
