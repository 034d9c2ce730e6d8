/* SPDX-License-Identifier: MIT */
/*
 * bench-timers: timer.fired delivery through reactord. One client starts many
 * periodic timers (rd_client_call_every) with a period short enough to keep
 * reactord saturated, and counts the callbacks the library dispatches (events)
 * and the periods they carry (ticks) over a few seconds. The library acks
 * credit as it dispatches, as in any client. bench-push is its baseline: raw
 * ZeroMQ pushing one timer.fired of the same size per message.
 *
 *   bench-timers --endpoint URI [--timers N] [--every SECONDS] [--seconds S]
 *
 * Prints one line of key=value pairs.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reactord/client.h>

#include "proto/event.h"
#include "proto/writer.h"
#include "stopwatch.h"

#define WARMUP_SECONDS 0.5
#define CHECK_EVERY    64 /* events between clock checks */

typedef struct counter {
        unsigned long events;  /* callbacks run */
        unsigned long ticks;   /* periods they reported */
        unsigned long events0; /* events at the start of the window */
        unsigned long ticks0;  /* ticks at the start of the window */
        double start;          /* the window opens (end of the warm-up); 0 while starting */
        double seconds;        /* its length */
        double t0, t1;         /* when it opened and closed; 0 while not yet */
} counter;

static void tally(rd_client *c, counter *k, double now)
{
        if (k->start == 0) /* still starting timers */
                return;
        if (k->t0 == 0 && now >= k->start) {
                k->t0 = now;
                k->events0 = k->events;
                k->ticks0 = k->ticks;
        } else if (k->t0 != 0 && now >= k->t0 + k->seconds) {
                k->t1 = now;
                rd_client_stop(c);
        }
}

static int on_fired(rd_client *c, void *userdata)
{
        counter *k = userdata;

        k->events++;
        k->ticks += rd_client_ticks(c);
        if (k->events % CHECK_EVERY == 0)
                tally(c, k, stopwatch_now());
        return 0;
}

/* A run that stalls must still end: stop at a generous deadline. */
static int on_deadline(rd_client *c, void *userdata)
{
        fprintf(stderr, "bench-timers: timer.fired stalled\n");
        rd_client_stop(c);
        return 0;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* The encoded size of timer.fired {handle, ticks: 1}, as reactord sends it. */
static size_t event_size(uint64_t handle)
{
        rd_writer w = RD_WRITER_INIT;
        size_t size;

        rd_event_write(&w, &(rd_event){ .type = RD_EVENT_TIMER_FIRED,
                                        .handle = handle,
                                        .timer_fired.ticks = 1 });
        size = rd_writer_failed(&w) ? 0 : w.size;
        rd_writer_done(&w);
        return size;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-timers --endpoint URI [--timers N] [--every SECONDS] "
                        "[--seconds S]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "timers", required_argument, NULL, 'n' },
                { "every", required_argument, NULL, 'p' },
                { "seconds", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *endpoint = NULL;
        long ntimers = 1000;
        double every = 0.001;
        counter k = { .seconds = 3.0 };
        uint64_t *handles = NULL;
        rd_client *c = NULL;
        double started;
        int o, r = 1, q;

        while ((o = getopt_long(argc, argv, "e:n:p:t:h", opts, NULL)) >= 0) {
                switch (o) {
                case 'e':
                        endpoint = optarg;
                        break;
                case 'n':
                        ntimers = strtol(optarg, NULL, 10);
                        break;
                case 'p':
                        every = strtod(optarg, NULL);
                        break;
                case 't':
                        k.seconds = strtod(optarg, NULL);
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (!endpoint || ntimers <= 0 || every <= 0 || k.seconds <= 0) {
                usage();
                return 2;
        }

        handles = calloc((size_t)ntimers, sizeof(*handles));
        if (!handles)
                return 1;
        q = rd_client_new(endpoint, &(rd_client_options){ .name = "bench-timers" }, &c);
        if (q < 0) {
                fprintf(stderr, "bench-timers: cannot connect to %s: %s\n", endpoint, strerror(-q));
                goto out;
        }
        started = stopwatch_now();
        for (long i = 0; i < ntimers; i++) {
                q = rd_client_call_every(c, every, false, on_fired, &k, &handles[i]);
                if (q < 0) {
                        fprintf(stderr, "bench-timers: timer.start: %s (%s)\n", strerror(-q),
                                rd_client_last_error(c));
                        goto out;
                }
        }
        /*
         * Events of the timers already started arrive while the later ones are
         * started: each synchronous call waits behind them.
         */
        started = stopwatch_now() - started;
        k.start = stopwatch_now() + WARMUP_SECONDS;
        q = rd_client_call_later(c, WARMUP_SECONDS + k.seconds + 10, on_deadline, NULL, NULL);
        if (q >= 0)
                q = rd_client_run(c);
        if (q < 0) {
                fprintf(stderr, "bench-timers: %s\n", strerror(-q));
                goto out;
        }
        if (k.t1 == 0)
                goto out;

        qsort(handles, (size_t)ntimers, sizeof(*handles), cmp_u64);
        double span = k.t1 - k.t0;
        unsigned long events = k.events - k.events0, ticks = k.ticks - k.ticks0;
        printf("bench=timers timers=%ld every=%g seconds=%.2f events=%lu ticks=%lu "
               "events_per_sec=%.0f ticks_per_sec=%.0f median_handle=%llu event_size=%zu "
               "start_seconds=%.3f\n",
               ntimers, every, span, events, ticks, (double)events / span, (double)ticks / span,
               (unsigned long long)handles[ntimers / 2], event_size(handles[ntimers / 2]), started);
        r = 0;
out:
        rd_client_free(c);
        free(handles);
        return r;
}
