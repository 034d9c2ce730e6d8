/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A real reactord on a temporary ipc endpoint, for the integration suites
 * built on libreactord. fixture_daemon_start() forks $REACTORD (set by
 * tests/meson.build) into a fresh directory and waits until it answers a
 * hello; fixture_daemon_stop() stops it and removes the directory. The stop
 * is idempotent and also runs at exit, so a failed assertion (which ends the
 * test process early) leaves nothing behind.
 */

#include <sys/types.h>

extern char fixture_tmpdir[];    /* the daemon's directory, removed by fixture_daemon_stop() */
extern char fixture_endpoint[];  /* "ipc://<dir>/bus" of the running daemon */
extern pid_t fixture_daemon_pid; /* its pid, or -1 */

/* CLOCK_MONOTONIC in seconds. */
double fixture_now(void);
/* Start reactord in a directory named after `tag`; also sets $REACTORD_ENDPOINT. */
void fixture_daemon_start(const char *tag);
void fixture_daemon_stop(void);
