/* SPDX-License-Identifier: MIT */
/*
 * Three counters running at different rates on periodic reactord timers; the
 * loop stops when all three have finished.
 * (Twisted: task.LoopingCall(counter.count).start(rate))
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <reactord/client.h>

typedef struct counter {
        const char *name; /* for the output */
        double rate;      /* seconds between counts */
        uint64_t left;    /* counts to go */
        uint64_t timer;   /* the periodic timer's handle */
} counter;

static unsigned running;

static int count(rd_client *c, void *userdata)
{
        counter *k = userdata;
        uint64_t ticks = rd_client_ticks(c); /* more than 1 if periods were missed */

        k->left -= ticks < k->left ? ticks : k->left;
        printf("%s: %" PRIu64 "\n", k->name, k->left);
        if (k->left > 0)
                return 0;

        printf("%s finished.\n", k->name);
        rd_client_cancel(c, k->timer);
        if (--running == 0)
                rd_client_stop(c);
        return 0;
}

int main(void)
{
        counter counters[] = {
                { .name = "fast", .rate = 0.1, .left = 10 },
                { .name = "medium", .rate = 0.2, .left = 5 },
                { .name = "slow", .rate = 0.3, .left = 3 },
        };
        rd_client *c;
        int r;

        r = rd_client_new(NULL, NULL, &c);
        if (r < 0) {
                fprintf(stderr, "Cannot connect to reactord: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
                counter *k = &counters[i];
                r = rd_client_call_every(c, k->rate, false, count, k, &k->timer);
                if (r < 0) {
                        fprintf(stderr, "Cannot start %s: %s\n", k->name, strerror(-r));
                        rd_client_free(c);
                        return 1;
                }
                running++;
        }

        r = rd_client_run(c);
        printf("All counters finished.\n");
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
