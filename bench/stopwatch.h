/* SPDX-License-Identifier: MIT */
#pragma once

/* Monotonic time for the benchmark programs. */

#include <stdint.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC, as a double: fine-grained enough for runs of milliseconds and up. */
static inline double stopwatch_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
