/* SPDX-License-Identifier: MIT */
#pragma once

/* Small string helpers shared by the daemon and the clients (systemd's string-util.h). */

#include <ctype.h>
#include <string.h>

/* Cut leading and trailing white space off `s` in place; returns the first kept character. */
static inline char *rd_strip(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}
