/* SPDX-License-Identifier: MIT */
/*
 * Hello, reactord: a callback that runs once the loop is running.
 * (Twisted: reactor.callWhenRunning(hello); reactor.run())
 */
#include <stdio.h>
#include <string.h>

#include <reactord/client.h>

static int hello(rd_client *c, void *userdata)
{
        printf("Hello from the reactor loop!\n");
        printf("Lately I feel like I'm stuck in a rut.\n");
        rd_client_stop(c);
        return 0;
}

int main(void)
{
        rd_client *c;
        int r;

        r = rd_client_new(NULL, NULL, &c); /* $REACTORD_ENDPOINT or the default */
        if (r < 0) {
                fprintf(stderr, "Cannot connect to reactord: %s\n", strerror(-r));
                return 1;
        }
        rd_client_call_when_running(c, hello, NULL);

        printf("Starting the reactor.\n");
        r = rd_client_run(c);
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
