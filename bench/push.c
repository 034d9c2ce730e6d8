/* SPDX-License-Identifier: MIT */
/*
 * bench-push: the event-delivery baseline for bench-timers.
 *
 * A ROUTER in a child process pushes one pre-encoded timer.fired notification
 * per ZeroMQ message (no batching) to a DEALER over ipc://, as fast as the
 * DEALER takes them; the DEALER decodes every message with proto's decoder and
 * reads its handle and ticks, as a client must. This is the per-message rate
 * of the transport plus the decode: reactord's timers deliver events through
 * the same socket pair, with the loop and the timer bookkeeping on top.
 *
 * Prints one line of key=value pairs; msgs_per_sec is measured over --seconds
 * after a warm-up.
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

#include "proto/decoder.h"
#include "proto/event.h"
#include "proto/writer.h"
#include "stopwatch.h"

#define WARMUP_SECONDS 0.3
#define CHECK_EVERY    256 /* messages between clock or stop checks */

static int fail(const char *what)
{
        fprintf(stderr, "bench-push: %s: %s\n", what, zmq_strerror(zmq_errno()));
        return 1;
}

/*
 * The child: wait for the DEALER's hello, then send `msg` to it until it says
 * stop; an empty frame marks the end of the stream.
 */
static int pusher(const char *endpoint, const char *msg, size_t size)
{
        void *ctx = zmq_ctx_new();
        void *s = zmq_socket(ctx, ZMQ_ROUTER);
        int one = 1, linger = 1000, timeout = 5000, r = 0;
        char id[256], hello[16];
        int idlen;

        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
        /* As reactord: never let the high-water mark drop a message, block instead. */
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
        if (zmq_bind(s, endpoint) < 0) {
                r = fail("bind");
                goto out;
        }
        idlen = zmq_recv(s, id, sizeof(id), 0);
        if (idlen < 0 || zmq_recv(s, hello, sizeof(hello), 0) < 0) {
                r = fail("recv hello");
                goto out;
        }
        for (unsigned long n = 0;; n++) {
                if (n % CHECK_EVERY == 0 && zmq_recv(s, id, sizeof(id), ZMQ_DONTWAIT) >= 0) {
                        zmq_recv(s, hello, sizeof(hello), 0);
                        break;
                }
                if (zmq_send(s, id, idlen, ZMQ_SNDMORE) < 0 || zmq_send(s, msg, size, 0) < 0) {
                        r = fail("send");
                        goto out;
                }
        }
        if (zmq_send(s, id, idlen, ZMQ_SNDMORE) < 0 || zmq_send(s, "", 0, 0) < 0)
                r = fail("send end");
        /*
         * Close only once the DEALER has the end: messages still queued when a
         * socket closes can be lost even with a linger, and the DEALER would
         * then wait for an end that never comes.
         */
        else if (zmq_recv(s, id, sizeof(id), 0) < 0 || zmq_recv(s, hello, sizeof(hello), 0) < 0)
                r = fail("recv bye");
out:
        zmq_close(s);
        zmq_ctx_term(ctx);
        return r;
}

/* Decode one frame as a client would: every message, its name, handle and ticks. */
static int decode(rd_decoder *d, const void *frame, size_t size, unsigned long *events,
                  unsigned long *ticks)
{
        rd_msg msg;
        int r;

        if (rd_decoder_begin(d, frame, size) < 0)
                return -EBADMSG;
        while ((r = rd_decoder_next(d, &msg)) > 0) {
                if (msg.type != RD_MSG_NOTIFICATION || !rd_msg_name_is(&msg, "timer.fired", 11))
                        return -EPROTO;
                if (rd_value_get_uint(msg.params, "handle", 0) == 0)
                        return -EPROTO;
                *ticks += rd_value_get_uint(msg.params, "ticks", 0);
                (*events)++;
        }
        return r;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-push [--handle H] [--seconds S]\n"
                        "  pushes timer.fired {handle: H, ticks: 1}; H sets the message size\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "handle", required_argument, NULL, 'H' },
                { "seconds", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint64_t handle = 1000;
        double seconds = 2.0, t0 = 0, t1 = 0, deadline;
        char dir[80], endpoint[128], path[96];
        int c, r = 1, status, linger = 1000, timeout = 5000;
        unsigned long events = 0, ticks = 0, n = 0, counted = 0;
        rd_writer w = RD_WRITER_INIT;
        rd_decoder *d = NULL;
        void *ctx = NULL, *s = NULL;
        bool stopped = false;
        zmq_msg_t frame;
        const char *tmpdir;
        pid_t pid = -1;

        while ((c = getopt_long(argc, argv, "H:t:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        handle = strtoull(optarg, NULL, 10);
                        break;
                case 't':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (handle == 0 || seconds <= 0) {
                usage();
                return 2;
        }

        rd_event_write(&w, &(rd_event){ .type = RD_EVENT_TIMER_FIRED,
                                        .handle = handle,
                                        .timer_fired.ticks = 1 });
        if (rd_writer_failed(&w) || rd_decoder_new(&d) < 0) {
                fprintf(stderr, "bench-push: out of memory\n");
                return 1;
        }

        tmpdir = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/rd-bench-push-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(dir)) {
                perror("bench-push: mkdtemp");
                goto out;
        }
        snprintf(path, sizeof(path), "%s/bus", dir);
        snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);

        /* Fork before any ZeroMQ context exists: contexts do not survive fork(). */
        pid = fork();
        if (pid < 0) {
                perror("bench-push: fork");
                goto out;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                _exit(pusher(endpoint, w.data, w.size));
        }

        ctx = zmq_ctx_new();
        s = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
        if (zmq_connect(s, endpoint) < 0 || zmq_send(s, "hi", 2, 0) < 0) {
                fail("connect");
                goto out;
        }

        zmq_msg_init(&frame);
        deadline = 0;
        for (;;) {
                if (zmq_msg_recv(&frame, s, 0) < 0) {
                        fail("recv");
                        break;
                }
                if (zmq_msg_size(&frame) == 0) { /* the end of the stream, after stop */
                        if (zmq_send(s, "bye", 3, 0) < 0)
                                fail("send bye");
                        break;
                }
                if (decode(d, zmq_msg_data(&frame), zmq_msg_size(&frame), &events, &ticks) < 0) {
                        fprintf(stderr, "bench-push: a message did not decode\n");
                        break;
                }
                if (stopped || ++n % CHECK_EVERY != 0)
                        continue;
                double now = stopwatch_now();
                if (deadline == 0) {
                        /* The first message arrived: warm up, then start counting. */
                        deadline = now + WARMUP_SECONDS;
                } else if (t0 == 0 && now >= deadline) {
                        t0 = now;
                        counted = events;
                        deadline = now + seconds;
                } else if (t0 != 0 && now >= deadline) {
                        t1 = now;
                        counted = events - counted;
                        stopped = true;
                        if (zmq_send(s, "stop", 4, 0) < 0) {
                                fail("send stop");
                                break;
                        }
                }
        }
        zmq_msg_close(&frame);

        if (stopped && t1 > t0) {
                printf("bench=push size=%zu seconds=%.2f msgs=%lu msgs_per_sec=%.0f\n", w.size,
                       t1 - t0, counted, (double)counted / (t1 - t0));
                r = 0;
        }
out:
        if (s)
                zmq_close(s);
        if (ctx)
                zmq_ctx_term(ctx);
        if (pid > 0) {
                if (r != 0)
                        kill(pid, SIGTERM);
                waitpid(pid, &status, 0);
                if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                        r = 1;
        }
        unlink(path); /* libzmq leaves ipc:// socket files behind */
        rmdir(dir);
        rd_decoder_free(d);
        rd_writer_done(&w);
        return r;
}
