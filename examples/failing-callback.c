/* SPDX-License-Identifier: MIT */
/*
 * A callback that fails does not stop the loop: the failure is reported and
 * the next callback runs. (Twisted: an exception raised in a callback is
 * logged, and the reactor keeps going.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <reactord/client.h>

static int falldown(rd_client *c, void *userdata)
{
        fprintf(stderr, "I fall down.\n");
        return -1; /* a failure: libreactord logs it and carries on */
}

static int upagain(rd_client *c, void *userdata)
{
        printf("But I get up again.\n");
        rd_client_stop(c);
        return 0;
}

int main(void)
{
        rd_client *c;
        int r;

        r = rd_client_new(NULL, NULL, &c);
        if (r < 0) {
                fprintf(stderr, "Cannot connect to reactord: %s\n", strerror(-r));
                return 1;
        }
        rd_client_call_when_running(c, falldown, NULL);
        rd_client_call_when_running(c, upagain, NULL);

        printf("Starting the reactor.\n");
        r = rd_client_run(c);
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
