/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procfd.h"

/* /proc/net/unix's flag of a listening socket (__SO_ACCEPTCON). */
#define UNIX_FLAG_LISTENING 0x10000UL

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long procfd_rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        ck_assert_int_gt(kib, 0);
        return kib;
}

int procfd_count(pid_t pid)
{
        char path[64];
        struct dirent *de;
        int n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        d = opendir(path);
        ck_assert_msg(d, "cannot open %s: %s", path, strerror(errno));
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* The inodes of the connections accepted on the UNIX socket file `bus_path`, unsorted. */
static void bus_connections(const char *bus_path, unsigned long **ret, size_t *ret_n)
{
        unsigned long *v = NULL;
        size_t n = 0, cap = 0;
        char line[512];
        FILE *f = fopen("/proc/net/unix", "re");

        ck_assert_msg(f, "cannot open /proc/net/unix: %s", strerror(errno));
        while (fgets(line, sizeof(line), f)) {
                unsigned long flags, inode;
                int off = 0;
                char *p;

                /* Num RefCount Protocol Flags Type St Inode [Path] */
                if (sscanf(line, "%*s %*s %*s %lx %*x %*x %lu %n", &flags, &inode, &off) < 2 ||
                    off == 0 || (flags & UNIX_FLAG_LISTENING))
                        continue;
                p = line + off;
                p[strcspn(p, "\n")] = '\0';
                if (strcmp(p, bus_path) != 0)
                        continue;
                if (n == cap) {
                        unsigned long *w = realloc(v, (cap ? 2 * cap : 64) * sizeof(*v));
                        ck_assert_ptr_nonnull(w);
                        v = w;
                        cap = cap ? 2 * cap : 64;
                }
                v[n++] = inode;
        }
        fclose(f);
        *ret = v;
        *ret_n = n;
}

static int cmp_fd(const void *a, const void *b)
{
        const procfd_entry *x = a, *y = b;
        return (x->fd > y->fd) - (x->fd < y->fd);
}

static bool same(const procfd_set *a, const procfd_set *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->v[i].fd != b->v[i].fd || strcmp(a->v[i].target, b->v[i].target) != 0)
                        return false;
        return true;
}

int procfd_snapshot(pid_t pid, const char *bus_path, procfd_set *ret)
{
        procfd_set s = { 0 };
        unsigned long *bus = NULL;
        size_t cap = 0, n_bus = 0, kept = 0;
        char path[64];
        struct dirent *de;
        DIR *d;
        int dfd;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        dfd = dirfd(d);
        while ((de = readdir(d))) {
                procfd_entry e = { 0 };
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dfd, de->d_name, e.target, sizeof(e.target) - 1);
                if (n < 0)
                        continue; /* closed since readdir() */
                e.target[n] = '\0';
                /* A file of /proc or /sys open just now is a read in passing (libsystemd
                 * reads boot_id, fdinfo), never a resource: a slow run may catch one. */
                if (strncmp(e.target, "/proc/", 6) == 0 || strncmp(e.target, "/sys/", 5) == 0)
                        continue;
                e.fd = atoi(de->d_name);
                if (s.n == cap) {
                        procfd_entry *v = realloc(s.v, (cap ? 2 * cap : 32) * sizeof(*v));
                        ck_assert_ptr_nonnull(v);
                        s.v = v;
                        cap = cap ? 2 * cap : 32;
                }
                s.v[s.n++] = e;
        }
        closedir(d);

        /*
         * The connections after the fds: every one seen above that is still
         * open is listed now. One that closed in between shows as an extra
         * socket; procfd_expect() simply looks again, procfd_baseline() too.
         */
        if (bus_path)
                bus_connections(bus_path, &bus, &n_bus);
        for (size_t i = 0; i < s.n; i++) {
                unsigned long inode;
                size_t j = n_bus;

                if (sscanf(s.v[i].target, "socket:[%lu]", &inode) == 1)
                        for (j = 0; j < n_bus && bus[j] != inode; j++)
                                ;
                if (j < n_bus)
                        continue; /* a client's connection */
                s.v[kept++] = s.v[i];
        }
        s.n = kept;
        free(bus);
        qsort(s.v, s.n, sizeof(*s.v), cmp_fd);
        *ret = s;
        return 0;
}

void procfd_baseline(pid_t pid, const char *bus_path, procfd_set *ret)
{
        procfd_set a = { 0 }, b = { 0 };
        int k;

        /* Two snapshots alike, so that no connection closing just then is taken for a resource. */
        k = procfd_snapshot(pid, bus_path, &a);
        ck_assert_msg(k == 0, "reactord (pid %d) is gone: %s", (int)pid, strerror(-k));
        for (int i = 0; i < 100; i++) {
                usleep(10 * 1000);
                k = procfd_snapshot(pid, bus_path, &b);
                ck_assert_msg(k == 0, "reactord (pid %d) is gone: %s", (int)pid, strerror(-k));
                if (same(&a, &b))
                        break;
                procfd_done(&a);
                a = b;
                b = (procfd_set){ 0 };
        }
        procfd_done(&b);
        *ret = a;
}

void procfd_done(procfd_set *s)
{
        free(s->v);
        *s = (procfd_set){ 0 };
}

static bool contains(const procfd_set *s, const procfd_entry *e)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].fd == e->fd && strcmp(s->v[i].target, e->target) == 0)
                        return true;
        return false;
}

/* Append "fd -> target" for each entry of `a` not in `b` to buf[*len..size). */
static void list_missing(const procfd_set *a, const procfd_set *b, char *buf, size_t size,
                         size_t *len)
{
        for (size_t i = 0; i < a->n && *len < size; i++)
                if (!contains(b, &a->v[i])) {
                        int k = snprintf(buf + *len, size - *len, " %d -> %s;", a->v[i].fd,
                                         a->v[i].target);
                        *len += k > 0 ? (size_t)k : 0;
                }
        if (*len >= size)
                *len = size - 1;
}

void procfd_expect(pid_t pid, const char *bus_path, const procfd_set *baseline, double timeout,
                   const char *what)
{
        double deadline = now() + timeout;
        procfd_set cur = { 0 };
        char added[1024], missing[1024];
        size_t na = 0, nm = 0;
        int k;

        for (;;) {
                k = procfd_snapshot(pid, bus_path, &cur);
                ck_assert_msg(k == 0, "%s: reactord (pid %d) is gone: %s", what, (int)pid,
                              strerror(-k));
                if (same(&cur, baseline)) {
                        procfd_done(&cur);
                        return;
                }
                if (now() > deadline)
                        break;
                procfd_done(&cur);
                usleep(50 * 1000);
        }
        added[0] = missing[0] = '\0';
        list_missing(&cur, baseline, added, sizeof(added), &na);
        list_missing(baseline, &cur, missing, sizeof(missing), &nm);
        procfd_done(&cur);
        ck_abort_msg("%s: reactord (pid %d) leaked descriptors; after %.0f s it holds, beyond its "
                     "baseline:%s and lacks:%s",
                     what, (int)pid, timeout, na ? added : " none", nm ? missing : " none");
}
