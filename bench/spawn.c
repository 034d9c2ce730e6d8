/* SPDX-License-Identifier: MIT */
/*
 * bench-spawn: spawn-and-exit cycles through reactord with the C client.
 *
 *   bench-spawn --endpoint URI [--inflight N] [--seconds D] [--warmup W] [--program PATH]
 *
 * Keeps N children of PATH (default /bin/true) in flight: process.spawn N
 * times, then one more on each process.ended. Each child gets an empty
 * environment, "null" stdin, stdout and stderr, and (reactord's default) a
 * process group of its own, as bench-spawn-loop and bench/twisted-spawn.py
 * give theirs. Counts the cycles that end during D seconds after W seconds
 * of warm-up, then waits for every child it started to end. Prints one
 * line of key=value pairs; exits with status 77 when reactord has no
 * process.spawn (ENOSYS).
 *
 * process.spawn takes `argv`, an array, which the plain rd_kv types (numbers,
 * strings, bytes) do not hold: each spawn is a synchronous
 * rd_client_call_json(), made from the main loop (never from a handler),
 * and events that arrive while it waits are dispatched meanwhile. The
 * client thus waits a round trip per spawn; reactord's other children run
 * meanwhile.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reactord/client.h>

#include "stopwatch.h"

#define EXIT_UNSUPPORTED 77
#define DRAIN_SECONDS    30.0

typedef struct bench {
        rd_client *client;
        char *params;  /* process.spawn's params, as JSON */
        long want;     /* spawns owed: one per process.ended while spawning */
        long inflight; /* spawned, not yet ended */
        long ended;    /* process.ended events seen */
        bool spawning; /* replace each child that ends */
} bench;

static int on_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        bench *b = userdata;

        if (strcmp(ev->name, "process.ended") != 0)
                return 0;
        b->inflight--;
        b->ended++;
        if (b->spawning)
                b->want++;
        return 0;
}

static int spawn_one(bench *b)
{
        char *result = NULL;
        int r;

        b->inflight++;
        r = rd_client_call_json(b->client, "process.spawn", b->params, &result);
        free(result);
        if (r < 0)
                b->inflight--;
        if (r < 0 && r != -ENOSYS)
                fprintf(stderr, "bench-spawn: process.spawn: %s%s%s\n", strerror(-r),
                        *rd_client_last_error(b->client) ? ": " : "",
                        rd_client_last_error(b->client));
        return r;
}

/*
 * Spawn what is owed and dispatch events until `deadline`, or until nothing
 * is in flight once spawning has stopped. Returns 0 or a negative errno.
 */
static int run_until(bench *b, double deadline)
{
        struct pollfd p = { .events = POLLIN };
        int r;

        p.fd = rd_client_fd(b->client);
        if (p.fd < 0)
                return p.fd;
        for (;;) {
                double now = stopwatch_now();
                if (now >= deadline || (!b->spawning && b->inflight == 0))
                        return 0;
                /* One at a time: a synchronous spawn dispatches events, which owe more. */
                if (b->want > 0) {
                        r = spawn_one(b);
                        if (r < 0)
                                return r;
                        b->want--;
                        continue;
                }
                /* Also after spawns: their sends can consume ZMQ_FD's edge. */
                r = rd_client_process(b->client);
                if (r < 0)
                        return r;
                if (b->want > 0)
                        continue;
                now = stopwatch_now();
                if (now >= deadline || (!b->spawning && b->inflight == 0))
                        return 0;
                int ms = (int)((deadline - now) * 1000.0) + 1;
                int t = rd_client_timeout(b->client);
                if (t >= 0 && t < ms)
                        ms = t;
                if (poll(&p, 1, ms) < 0 && errno != EINTR)
                        return -errno;
        }
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-spawn --endpoint URI [--inflight N] [--seconds D] "
                        "[--warmup W] [--program PATH]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "inflight", required_argument, NULL, 'n' },
                { "seconds", required_argument, NULL, 's' },
                { "warmup", required_argument, NULL, 'w' },
                { "program", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *endpoint = NULL, *program = "/bin/true";
        double seconds = 2.0, warmup = 0.5, t0, t1;
        long inflight = 8, ended0;
        bench b = {};
        int o, r, d;

        while ((o = getopt_long(argc, argv, "e:n:s:w:p:h", opts, NULL)) >= 0) {
                switch (o) {
                case 'e':
                        endpoint = optarg;
                        break;
                case 'n':
                        inflight = strtol(optarg, NULL, 10);
                        break;
                case 's':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'w':
                        warmup = strtod(optarg, NULL);
                        break;
                case 'p':
                        program = optarg;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (!endpoint || inflight <= 0 || seconds <= 0 || warmup < 0 || strpbrk(program, "\"\\")) {
                usage();
                return 2;
        }
        if (asprintf(&b.params,
                     "{\"argv\": [\"%s\"], \"stdin\": \"null\", \"stdout\": \"null\", "
                     "\"stderr\": \"null\"}",
                     program) < 0)
                return 1;

        r = rd_client_new(endpoint, &(rd_client_options){ .name = "bench-spawn" }, &b.client);
        if (r < 0) {
                fprintf(stderr, "bench-spawn: cannot connect to %s: %s\n", endpoint, strerror(-r));
                free(b.params);
                return 1;
        }
        r = rd_client_on_any(b.client, on_event, &b);

        b.spawning = true;
        b.want = inflight;
        t0 = stopwatch_now();
        if (r >= 0)
                r = run_until(&b, t0 + warmup);
        ended0 = b.ended;
        t0 = stopwatch_now();
        if (r >= 0)
                r = run_until(&b, t0 + seconds);
        t1 = stopwatch_now();
        /* Wait for every child started to end, whatever happened. */
        b.spawning = false;
        b.want = 0;
        d = run_until(&b, t1 + DRAIN_SECONDS);
        if (d >= 0 && b.inflight > 0)
                fprintf(stderr, "bench-spawn: %ld children had not ended after %.0f s\n",
                        b.inflight, DRAIN_SECONDS);

        rd_client_free(b.client);
        free(b.params);
        if (r == -ENOSYS) {
                fprintf(stderr, "bench-spawn: this reactord has no process.spawn\n");
                return EXIT_UNSUPPORTED;
        }
        if (r < 0 || d < 0 || b.inflight > 0)
                return 1;
        printf("bench=spawn inflight=%ld seconds=%.3f cycles=%ld cycles_per_sec=%.1f\n", inflight,
               t1 - t0, b.ended - ended0, (double)(b.ended - ended0) / (t1 - t0));
        return 0;
}
