/* SPDX-License-Identifier: MIT */
/*
 * A countdown on reactord timers: each step schedules the next one second
 * later, and the last one stops the loop.
 * (Twisted: reactor.callLater(1, self.count))
 */
#include <stdio.h>
#include <string.h>

#include <reactord/client.h>

static int count(rd_client *c, void *userdata)
{
        int *counter = userdata;

        if (*counter == 0) {
                rd_client_stop(c);
                return 0;
        }
        printf("%d ...\n", *counter);
        (*counter)--;
        return rd_client_call_later(c, 1.0, count, counter, NULL);
}

int main(void)
{
        rd_client *c;
        int counter = 5, r;

        r = rd_client_new(NULL, NULL, &c);
        if (r < 0) {
                fprintf(stderr, "Cannot connect to reactord: %s\n", strerror(-r));
                return 1;
        }
        rd_client_call_when_running(c, count, &counter);

        printf("Start!\n");
        r = rd_client_run(c);
        printf("Stop!\n");
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
