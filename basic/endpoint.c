/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"

char *rd_endpoint_default(void)
{
        const char *runtime = getenv("XDG_RUNTIME_DIR");
        char *s = NULL;
        int n;

        if (runtime && runtime[0] == '/')
                n = asprintf(&s, "ipc://%s/reactord/bus", runtime);
        else if (geteuid() == 0)
                n = asprintf(&s, "ipc:///run/reactord/bus");
        else
                n = asprintf(&s, "ipc:///tmp/reactord-%u/bus", (unsigned)geteuid());
        return n < 0 ? NULL : s;
}

const char *rd_endpoint_ipc_path(const char *endpoint)
{
        if (!endpoint || strncmp(endpoint, "ipc://", 6) != 0 || endpoint[6] == '\0')
                return NULL;
        return endpoint + 6;
}
