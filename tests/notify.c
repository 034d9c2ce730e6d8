/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "notify.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int notify_listen(const char *dir, char *path, size_t size)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir),
                         (int)sizeof(sa.sun_path));
        snprintf(path, size, "%s", sa.sun_path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

bool notify_next(int fd, const char *what, double timeout)
{
        double deadline = now() + timeout;
        char buf[4096];

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                double left = deadline - now();
                ssize_t n;

                if (left <= 0)
                        return false;
                if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
                        continue;
                n = recv(fd, buf, sizeof(buf) - 1, 0);
                ck_assert_int_ge(n, 0);
                buf[n] = '\0';
                if (strstr(buf, what))
                        return true;
        }
}
