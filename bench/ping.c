/* SPDX-License-Identifier: MIT */
/*
 * bench-ping: reactor.ping round trips through reactord with the C client's
 * synchronous call (one outstanding). bench-echo is its baseline: the same
 * transport with the ROUTER echoing a frame of the request's size.
 *
 *   bench-ping --endpoint URI [--count N]   measure; prints usec_per_rt
 *   bench-ping --print-size [--count N]     print the encoded request's size
 *
 * Prints one line of key=value pairs.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reactord/client.h>

#include "proto/decoder.h"
#include "proto/writer.h"
#include "stopwatch.h"

#define WARMUP_CALLS 500

/*
 * The size of the request rd_client_call() sends: [0, msgid, "reactor.ping", []].
 * msgids count up from 1 (session.hello), so their width grows with the run;
 * take the msgid in the middle of the timed calls.
 */
static size_t request_size(long count)
{
        rd_writer w = RD_WRITER_INIT;
        size_t size;

        rd_write_array(&w, 4);
        rd_write_uint(&w, RD_MSG_REQUEST);
        rd_write_uint(&w, 1 + WARMUP_CALLS + (uint64_t)count / 2);
        rd_write_str(&w, "reactor.ping");
        rd_write_array(&w, 0);
        size = rd_writer_failed(&w) ? 0 : w.size;
        rd_writer_done(&w);
        return size;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-ping --endpoint URI [--count N]\n"
                        "       bench-ping --print-size [--count N]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "count", required_argument, NULL, 'n' },
                { "print-size", no_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *endpoint = NULL;
        bool print_size = false;
        long count = 10000;
        rd_client *c = NULL;
        double t0, t1;
        int o, r;

        while ((o = getopt_long(argc, argv, "e:n:sh", opts, NULL)) >= 0) {
                switch (o) {
                case 'e':
                        endpoint = optarg;
                        break;
                case 'n':
                        count = strtol(optarg, NULL, 10);
                        break;
                case 's':
                        print_size = true;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (count <= 0 || (!endpoint && !print_size)) {
                usage();
                return 2;
        }
        if (print_size) {
                printf("bench=ping request_size=%zu\n", request_size(count));
                return 0;
        }

        r = rd_client_new(endpoint, &(rd_client_options){ .name = "bench-ping" }, &c);
        if (r < 0) {
                fprintf(stderr, "bench-ping: cannot connect to %s: %s\n", endpoint, strerror(-r));
                return 1;
        }
        for (int i = 0; i < WARMUP_CALLS && r >= 0; i++)
                r = rd_client_call(c, "reactor.ping", NULL, 0, NULL);

        t0 = stopwatch_now();
        for (long i = 0; i < count && r >= 0; i++)
                r = rd_client_call(c, "reactor.ping", NULL, 0, NULL);
        t1 = stopwatch_now();
        if (r < 0) {
                fprintf(stderr, "bench-ping: reactor.ping: %s\n", strerror(-r));
                rd_client_free(c);
                return 1;
        }

        printf("bench=ping size=%zu count=%ld usec_per_rt=%.2f rt_per_sec=%.0f\n",
               request_size(count), count, (t1 - t0) * 1e6 / (double)count,
               (double)count / (t1 - t0));
        rd_client_free(c);
        return 0;
}
