/* SPDX-License-Identifier: MIT */
/*
 * bench-echo: the round-trip baseline for bench-ping.
 *
 * A DEALER sends a frame of --size bytes to a ROUTER in a child process over
 * ipc://; the ROUTER echoes the same frame back; the DEALER waits for it before
 * sending the next one (one outstanding, as rd_client_call does). This is the
 * floor under any request/response protocol over this transport: reactord's
 * ping can only add to it.
 *
 * Prints one line of key=value pairs; usec_per_rt is the mean round trip.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "stopwatch.h"

#define WARMUP_ROUNDS 500

static int fail(const char *what)
{
        fprintf(stderr, "bench-echo: %s: %s\n", what, zmq_strerror(zmq_errno()));
        return 1;
}

/* The child: echo every frame to the peer it came from; an empty frame ends it. */
static int serve(const char *endpoint)
{
        void *ctx = zmq_ctx_new();
        void *s = zmq_socket(ctx, ZMQ_ROUTER);
        int zero = 0, one = 1, r = 0;
        zmq_msg_t id, body;

        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
        if (zmq_bind(s, endpoint) < 0) {
                r = fail("bind");
                goto out;
        }
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        for (;;) {
                if (zmq_msg_recv(&id, s, 0) < 0 || zmq_msg_recv(&body, s, 0) < 0) {
                        r = fail("recv");
                        break;
                }
                if (zmq_msg_size(&body) == 0)
                        break;
                if (zmq_msg_send(&id, s, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, s, 0) < 0) {
                        r = fail("send");
                        break;
                }
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
out:
        zmq_close(s);
        zmq_ctx_term(ctx);
        return r;
}

/* One synchronous round trip of `size` bytes. */
static int round_trip(void *s, const char *buf, size_t size, char *in)
{
        if (zmq_send(s, buf, size, 0) < 0)
                return -1;
        if (zmq_recv(s, in, size, 0) != (int)size)
                return -1;
        return 0;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-echo [--size BYTES] [--count N]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "size", required_argument, NULL, 's' },
                { "count", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        size_t size = 32;
        long count = 10000;
        char dir[80], endpoint[128], path[96];
        int c, r = 1, status, linger = 1000, timeout = 5000;
        void *ctx = NULL, *s = NULL;
        char *buf = NULL, *in = NULL;
        double t0, t1;
        const char *tmpdir;
        pid_t pid;

        while ((c = getopt_long(argc, argv, "s:n:h", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        size = strtoul(optarg, NULL, 10);
                        break;
                case 'n':
                        count = strtol(optarg, NULL, 10);
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (size == 0 || count <= 0) {
                usage();
                return 2;
        }

        tmpdir = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/rd-bench-echo-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(dir)) {
                perror("bench-echo: mkdtemp");
                return 1;
        }
        snprintf(path, sizeof(path), "%s/bus", dir);
        snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);

        /* Fork before any ZeroMQ context exists: contexts do not survive fork(). */
        pid = fork();
        if (pid < 0) {
                perror("bench-echo: fork");
                goto out;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                _exit(serve(endpoint));
        }

        buf = malloc(size);
        in = malloc(size);
        if (!buf || !in)
                goto out;
        memset(buf, 'x', size);

        ctx = zmq_ctx_new();
        s = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
        if (zmq_connect(s, endpoint) < 0) {
                fail("connect");
                goto out;
        }
        /* The first round trips also wait for the child to bind. */
        for (int i = 0; i < WARMUP_ROUNDS; i++)
                if (round_trip(s, buf, size, in) < 0) {
                        fail("warm-up round trip");
                        goto out;
                }

        t0 = stopwatch_now();
        for (long i = 0; i < count; i++)
                if (round_trip(s, buf, size, in) < 0) {
                        fail("round trip");
                        goto out;
                }
        t1 = stopwatch_now();

        printf("bench=echo size=%zu count=%ld usec_per_rt=%.2f rt_per_sec=%.0f\n", size, count,
               (t1 - t0) * 1e6 / (double)count, (double)count / (t1 - t0));
        r = 0;
out:
        if (s) {
                zmq_send(s, "", 0, 0); /* ends the child */
                zmq_close(s);
        }
        if (ctx)
                zmq_ctx_term(ctx);
        if (pid > 0) {
                /* A child stuck on a lost peer must not outlive the run. */
                if (r != 0)
                        kill(pid, SIGTERM);
                waitpid(pid, &status, 0);
        }
        free(buf);
        free(in);
        unlink(path); /* libzmq leaves ipc:// socket files behind */
        rmdir(dir);
        return r;
}
