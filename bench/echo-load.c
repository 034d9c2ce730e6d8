/* SPDX-License-Identifier: MIT */
/*
 * bench-echo-load: a load generator for TCP echo servers, over loopback.
 *
 *   bench-echo-load --port P [--host H] [--conns N] [--seconds D]
 *           round trips: N connections, each with one --size byte message
 *           outstanding (send it, wait for all of it to come back, repeat);
 *           prints rt_per_sec and usec_per_rt
 *   bench-echo-load --port P --bulk [--seconds D] [--window BYTES]
 *           one connection streaming as fast as the server echoes, with at
 *           most --window bytes sent and not yet echoed back; prints
 *           mib_per_sec, the bytes received back per second
 *   bench-echo-load --port P --hold --conns N
 *           opens N connections, makes one round trip on each, prints
 *           "ready" and keeps them open, idle, until its stdin closes
 *
 * One thread, one epoll set, level-triggered. Every measurement starts after
 * a warm-up (--warmup seconds) with every connection already established.
 * Echoed bytes are checked against what was sent. Prints one line of
 * key=value pairs; exits non-zero if a connection fails or an echo differs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stopwatch.h"

#define MAX_CONNS      20000
#define MAX_SIZE       4096
#define BULK_CHUNK     (64 * 1024)
#define MAX_CONNECTING 64   /* connects in flight at once: stays under any listen backlog */
#define TIMEOUT        10.0 /* seconds without progress before giving up */

typedef struct conn {
        int fd;
        bool connected;
        uint64_t seq;   /* the number of the message outstanding */
        size_t got;     /* bytes of its echo received so far */
        size_t sent;    /* bytes of it sent so far */
        uint64_t count; /* round trips completed */
} conn;

typedef struct load {
        struct sockaddr_in addr;
        conn *conns;
        int nconns;
        int epfd;
        size_t size;
        uint64_t rounds;    /* round trips per connection, then it stays idle; 0: no end */
        char out[MAX_SIZE]; /* the message being built */
        char in[BULK_CHUNK];
} load;

static int fail(const char *what)
{
        fprintf(stderr, "bench-echo-load: %s: %s\n", what, strerror(errno));
        return -1;
}

/* 10,000 connections need more descriptors than the usual soft limit of 1024. */
static int raise_nofile(int nconns)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return fail("getrlimit");
        if (rl.rlim_cur >= (rlim_t)nconns + 16)
                return 0;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)nconns + 16) {
                fprintf(stderr,
                        "bench-echo-load: %d connections need %d descriptors; the limit "
                        "is %llu\n",
                        nconns, nconns + 16, (unsigned long long)rl.rlim_max);
                return -1;
        }
        return 0;
}

/* The message numbered `seq`: the number, then a pattern derived from it. */
static void fill(char *buf, size_t size, uint64_t seq)
{
        uint8_t *b = (uint8_t *)buf;

        for (size_t i = 0; i < size; i++)
                b[i] = (uint8_t)(seq >> (8 * (i % 8))) ^ (uint8_t)i;
}

static int start_connect(load *l, conn *c)
{
        int one = 1;
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return fail("socket");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0 &&
            errno != EINPROGRESS)
                return fail("connect");
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                return fail("epoll_ctl");
        return 0;
}

/* Send what is left of connection c's message; -1 on error. */
static int send_rest(load *l, conn *c)
{
        ssize_t n;

        fill(l->out, l->size, c->seq);
        while (c->sent < l->size) {
                n = send(c->fd, l->out + c->sent, l->size - c->sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EAGAIN)
                        return 0; /* EPOLLOUT would be needed; 64 B never gets here */
                if (n < 0)
                        return fail("send");
                c->sent += (size_t)n;
        }
        return 0;
}

/* Read connection c's echo; when it is complete, count it and send the next message. */
static int on_readable(load *l, conn *c)
{
        char want[MAX_SIZE];
        ssize_t n;

        n = recv(c->fd, l->in + c->got, l->size - c->got, 0);
        if (n < 0 && errno == EAGAIN)
                return 0;
        if (n < 0)
                return fail("recv");
        if (n == 0) {
                fprintf(stderr, "bench-echo-load: the server closed a connection\n");
                return -1;
        }
        c->got += (size_t)n;
        if (c->got < l->size)
                return 0;
        fill(want, l->size, c->seq);
        if (memcmp(want, l->in, l->size) != 0) {
                fprintf(stderr, "bench-echo-load: an echo differs from what was sent\n");
                return -1;
        }
        c->count++;
        c->seq++;
        c->got = 0;
        c->sent = 0;
        if (l->rounds && c->count >= l->rounds)
                return 0;
        return send_rest(l, c);
}

/*
 * Open every connection, at most MAX_CONNECTING connecting at once, and make
 * its first round trip: once that is back the server has the connection in
 * hand. Afterwards each connection has its next message outstanding, or none
 * when l->rounds is 1.
 */
static int open_all(load *l)
{
        struct epoll_event evs[256];
        int started = 0, ready = 0, pending = 0;
        double last = stopwatch_now();

        while (ready < l->nconns) {
                while (started < l->nconns && pending < MAX_CONNECTING) {
                        if (start_connect(l, &l->conns[started]) < 0)
                                return -1;
                        started++;
                        pending++;
                }
                int n = epoll_wait(l->epfd, evs, 256, 1000);
                if (n < 0 && errno != EINTR)
                        return fail("epoll_wait");
                if (n > 0)
                        last = stopwatch_now();
                else if (stopwatch_now() - last > TIMEOUT) {
                        fprintf(stderr,
                                "bench-echo-load: %d of %d connections ready after %.0f s "
                                "without progress\n",
                                ready, l->nconns, TIMEOUT);
                        return -1;
                }
                for (int i = 0; i < n; i++) {
                        conn *c = evs[i].data.ptr;
                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                        int err = 0;
                        socklen_t len = sizeof(err);

                        if (!c->connected) {
                                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                                if (err) {
                                        errno = err;
                                        return fail("connect");
                                }
                                c->connected = true;
                                if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
                                        return fail("epoll_ctl");
                                if (send_rest(l, c) < 0)
                                        return -1;
                                continue;
                        }
                        uint64_t before = c->count;
                        if (on_readable(l, c) < 0)
                                return -1;
                        if (before == 0 && c->count == 1) {
                                ready++;
                                pending--;
                        }
                }
        }
        return 0;
}

/* Run every connection's ping-pong until `until`; returns the round trips done, or -1. */
static long long run_until(load *l, double until)
{
        struct epoll_event evs[256];
        long long total = 0;

        while (stopwatch_now() < until) {
                int n = epoll_wait(l->epfd, evs, 256, 100);
                if (n < 0 && errno != EINTR)
                        return fail("epoll_wait");
                for (int i = 0; i < n; i++) {
                        conn *c = evs[i].data.ptr;
                        uint64_t before = c->count;

                        if (on_readable(l, c) < 0)
                                return -1;
                        total += (long long)(c->count - before);
                }
        }
        return total;
}

static int run_round_trips(load *l, double warmup, double seconds)
{
        long long done;
        double t0, t1;

        if (open_all(l) < 0)
                return -1;
        if (run_until(l, stopwatch_now() + warmup) < 0)
                return -1;
        t0 = stopwatch_now();
        done = run_until(l, t0 + seconds);
        t1 = stopwatch_now();
        if (done < 0)
                return -1;
        printf("bench=echo-load conns=%d size=%zu seconds=%.2f round_trips=%lld rt_per_sec=%.0f "
               "usec_per_rt=%.2f\n",
               l->nconns, l->size, t1 - t0, done, (double)done / (t1 - t0),
               done ? (t1 - t0) * 1e6 * l->nconns / (double)done : 0.0);
        return 0;
}

/*
 * Bulk: one connection, the sender ahead of the receiver by at most `window`
 * bytes. Prints the bytes received back per second over `seconds`, counted
 * after `warmup`; returns -1 on failure.
 */
static int run_bulk(load *l, double warmup, double seconds, size_t window)
{
        static char out[BULK_CHUNK];
        conn *c = &l->conns[0];
        struct epoll_event evs[4];
        struct epoll_event ev = { .data.ptr = c };
        uint64_t sent = 0, received = 0, at_t0 = 0;
        double now, t0 = 0, t1 = 0, start;
        bool measuring = false, want_out = false;

        memset(out, 'x', sizeof(out));
        l->rounds = 1; /* one round trip to see the server answer, then the stream */
        if (open_all(l) < 0)
                return -1;

        start = stopwatch_now();
        for (;;) {
                bool want = sent - received < window;

                if (want != want_out) {
                        ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
                        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
                                return fail("epoll_ctl");
                        want_out = want;
                }
                int n = epoll_wait(l->epfd, evs, 4, 1000);
                if (n < 0 && errno != EINTR)
                        return fail("epoll_wait");
                if (n == 0) {
                        fprintf(stderr, "bench-echo-load: bulk: no progress for 1 s\n");
                        return -1;
                }
                for (int i = 0; i < n; i++) {
                        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                                ssize_t r = recv(c->fd, l->in, sizeof(l->in), 0);
                                if (r < 0 && errno != EAGAIN)
                                        return fail("recv");
                                if (r == 0) {
                                        fprintf(stderr, "bench-echo-load: the server closed the "
                                                        "connection\n");
                                        return -1;
                                }
                                if (r > 0)
                                        received += (uint64_t)r;
                        }
                        if ((evs[i].events & EPOLLOUT) && sent - received < window) {
                                size_t room = window - (size_t)(sent - received);
                                ssize_t w =
                                        send(c->fd, out, room < sizeof(out) ? room : sizeof(out),
                                             MSG_NOSIGNAL);
                                if (w < 0 && errno != EAGAIN)
                                        return fail("send");
                                if (w > 0)
                                        sent += (uint64_t)w;
                        }
                }
                now = stopwatch_now();
                if (!measuring && now - start >= warmup) {
                        measuring = true;
                        t0 = now;
                        at_t0 = received;
                } else if (measuring && now - t0 >= seconds) {
                        t1 = now;
                        break;
                }
        }
        printf("bench=echo-bulk window=%zu seconds=%.2f bytes=%llu mib_per_sec=%.1f\n", window,
               t1 - t0, (unsigned long long)(received - at_t0),
               (double)(received - at_t0) / (t1 - t0) / (1024.0 * 1024.0));
        return 0;
}

/* Hold N idle connections, each having made one round trip, until stdin closes. */
static int run_hold(load *l)
{
        char buf[64];
        double t0 = stopwatch_now();

        l->rounds = 1;
        if (open_all(l) < 0)
                return -1;
        printf("bench=echo-hold conns=%d seconds=%.2f ready\n", l->nconns, stopwatch_now() - t0);
        fflush(stdout);
        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;
        return 0;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-echo-load --port P [--host ADDR] [--conns N] [--size BYTES]\n"
                        "                       [--seconds D] [--warmup S]\n"
                        "       bench-echo-load --port P --bulk [--window BYTES] [--seconds D]\n"
                        "       bench-echo-load --port P --hold --conns N\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "host", required_argument, NULL, 'H' },
                { "port", required_argument, NULL, 'p' },
                { "conns", required_argument, NULL, 'c' },
                { "size", required_argument, NULL, 's' },
                { "seconds", required_argument, NULL, 'd' },
                { "warmup", required_argument, NULL, 'w' },
                { "bulk", no_argument, NULL, 'b' },
                { "window", required_argument, NULL, 'W' },
                { "hold", no_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static load l;
        const char *host = "127.0.0.1";
        long port = -1, window = 1024 * 1024;
        double seconds = 2.0, warmup = 0.5;
        bool bulk = false, hold = false;
        int c, r = -1;

        l.nconns = 1;
        l.size = 64;
        l.epfd = -1;
        while ((c = getopt_long(argc, argv, "H:p:c:s:d:w:bW:oh", opts, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        host = optarg;
                        break;
                case 'p':
                        port = strtol(optarg, NULL, 10);
                        break;
                case 'c':
                        l.nconns = (int)strtol(optarg, NULL, 10);
                        break;
                case 's':
                        l.size = strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'w':
                        warmup = strtod(optarg, NULL);
                        break;
                case 'b':
                        bulk = true;
                        break;
                case 'W':
                        window = strtol(optarg, NULL, 10);
                        break;
                case 'o':
                        hold = true;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (port <= 0 || port > 65535 || l.nconns < 1 || l.nconns > MAX_CONNS || l.size < 1 ||
            l.size > MAX_SIZE || seconds <= 0 || warmup < 0 || window < 1 || (bulk && hold)) {
                usage();
                return 2;
        }
        if (bulk)
                l.nconns = 1;
        l.addr.sin_family = AF_INET;
        l.addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &l.addr.sin_addr) != 1) {
                fprintf(stderr, "bench-echo-load: --host takes a numeric IPv4 address\n");
                return 2;
        }
        if (raise_nofile(l.nconns) < 0)
                return 1;
        l.conns = calloc((size_t)l.nconns, sizeof(conn));
        if (!l.conns)
                return 1;
        for (int i = 0; i < l.nconns; i++)
                l.conns[i].fd = -EBADF;
        l.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l.epfd < 0) {
                fail("epoll_create1");
                goto out;
        }

        if (bulk)
                r = run_bulk(&l, warmup, seconds, (size_t)window);
        else if (hold)
                r = run_hold(&l);
        else
                r = run_round_trips(&l, warmup, seconds);
out:
        for (int i = 0; i < l.nconns; i++)
                if (l.conns[i].fd >= 0)
                        close(l.conns[i].fd);
        if (l.epfd >= 0)
                close(l.epfd);
        free(l.conns);
        return r < 0 ? 1 : 0;
}
