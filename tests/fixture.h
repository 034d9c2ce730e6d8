/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A real reactord on a temporary ipc endpoint, for the integration suites
 * built on libreactord. fixture_daemon_start() forks $REACTORD (set by
 * tests/meson.build) into a fresh directory and waits until it answers a
 * hello; fixture_daemon_stop() stops it and removes the directory. The stop
 * is idempotent and also runs at exit, so a failed assertion (which ends the
 * test process early) leaves nothing behind.
 *
 * Every test is also a leak test: the daemon's file descriptors are recorded
 * once it serves (procfd.h), and fixture_daemon_stop(), the teardown, first
 * waits until they are the same again, failing the test with the leaked ones
 * listed if they are not. So a test lets its clients go (their sessions end
 * and release what they owned) before it returns.
 */

#include <sys/types.h>

extern char fixture_tmpdir[];    /* the daemon's directory, removed by fixture_daemon_stop() */
extern char fixture_endpoint[];  /* "ipc://<dir>/bus" of the running daemon */
extern pid_t fixture_daemon_pid; /* its pid, or -1 */

/* CLOCK_MONOTONIC in seconds. */
double fixture_now(void);
/* Start reactord in a directory named after `tag`; also sets $REACTORD_ENDPOINT. */
void fixture_daemon_start(const char *tag);
/* The same, with extra command line arguments (NULL-terminated, or NULL). */
void fixture_daemon_start_args(const char *tag, const char *const *args);
/*
 * Wait until reactord holds the descriptors it held once it served (at most
 * FIXTURE_FD_WAIT seconds: a session whose client vanished ends after its
 * lease); fail the test listing the difference. Nothing when the daemon is
 * not running.
 */
void fixture_check_fds(void);
/* fixture_check_fds() while the daemon runs, then stop it and remove its directory. */
void fixture_daemon_stop(void);

#define FIXTURE_FD_WAIT 30.0
