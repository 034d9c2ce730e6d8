/* SPDX-License-Identifier: MIT */
/*
 * bench-epoll-echo: the plain C baseline for the sockets benchmarks.
 *
 *   bench-epoll-echo PORT [HOST]
 *
 * A TCP echo server as one writes it in an afternoon: one thread, one epoll
 * set, non-blocking sockets, level-triggered. Each connection reads into a
 * 64 KiB buffer and writes it back; while a write is short the connection
 * stops reading and waits for EPOLLOUT, so a client that does not read is
 * held back by TCP rather than by memory. Listens on HOST (default
 * 127.0.0.1), prints "listening port=N" once it accepts, and runs until
 * SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)

typedef struct conn {
        int fd;
        size_t pending; /* bytes of buf not yet written back */
        size_t off;     /* where they start */
        char *buf;      /* allocated at the first short write only */
} conn;

static volatile sig_atomic_t stop;
static char buf[BUF_SIZE]; /* shared: a read is written back before the next read */

static void on_signal(int sig)
{
        stop = 1;
}

static void drop(int epfd, conn *c)
{
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->buf);
        free(c);
}

/* Write c's pending bytes; returns -1 when the connection is to be dropped. */
static int flush(int epfd, conn *c)
{
        struct epoll_event ev = { .data.ptr = c };

        while (c->pending > 0) {
                ssize_t n = send(c->fd, c->buf + c->off, c->pending, MSG_NOSIGNAL);
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n < 0)
                        return -1;
                c->off += (size_t)n;
                c->pending -= (size_t)n;
        }
        ev.events = c->pending ? EPOLLOUT : EPOLLIN;
        return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Echo what is readable; keep the unwritten tail and wait for EPOLLOUT. */
static int echo(int epfd, conn *c)
{
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0), w;

        if (n <= 0)
                return n < 0 && errno == EAGAIN ? 0 : -1;
        w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
                return -1;
        if (w < 0)
                w = 0;
        if (w == n)
                return 0;
        if (!c->buf && !(c->buf = malloc(BUF_SIZE)))
                return -1;
        memcpy(c->buf, buf + w, (size_t)(n - w));
        c->off = 0;
        c->pending = (size_t)(n - w);
        return flush(epfd, c);
}

int main(int argc, char **argv)
{
        struct sockaddr_in addr = { .sin_family = AF_INET };
        struct epoll_event evs[256], ev = { .events = EPOLLIN };
        struct rlimit rl;
        socklen_t len = sizeof(addr);
        int one = 1, lfd, epfd;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: bench-epoll-echo PORT [HOST]\n");
                return 2;
        }
        addr.sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10));
        if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &addr.sin_addr) != 1) {
                fprintf(stderr, "bench-epoll-echo: HOST is a numeric IPv4 address\n");
                return 2;
        }
        /* Room for the idle-connections benchmark's 10,000 connections. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (lfd < 0 || epfd < 0) {
                perror("bench-epoll-echo: socket");
                return 1;
        }
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1024) < 0 ||
            getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) {
                perror("bench-epoll-echo: bind");
                return 1;
        }
        ev.data.ptr = NULL; /* NULL marks the listening socket */
        epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
        printf("listening port=%u\n", ntohs(addr.sin_port));
        fflush(stdout);

        while (!stop) {
                int n = epoll_wait(epfd, evs, 256, -1);

                for (int i = 0; i < n; i++) {
                        conn *c = evs[i].data.ptr;

                        if (!c) {
                                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                                if (fd < 0)
                                        continue; /* EAGAIN, or out of descriptors: retried */
                                c = calloc(1, sizeof(*c));
                                if (!c) {
                                        close(fd);
                                        continue;
                                }
                                c->fd = fd;
                                ev.events = EPOLLIN;
                                ev.data.ptr = c;
                                if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                                        drop(epfd, c);
                                continue;
                        }
                        if (c->pending ? flush(epfd, c) < 0 : echo(epfd, c) < 0)
                                drop(epfd, c);
                }
        }
        close(epfd);
        close(lfd);
        return 0;
}
