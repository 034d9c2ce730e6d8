/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What file descriptors another process (reactord) holds, as /proc/PID/fd
 * shows them: for the integration suites' leak checks. A suite takes a
 * baseline once the daemon serves, does its work, lets its clients go, and
 * then expects the same descriptors again: same numbers, same targets.
 *
 * The clients' own ZeroMQ connections are left out of every snapshot: each
 * connected client is a socket in reactord, accepted on the bus's ipc socket,
 * and it closes a moment after the client goes (ZeroMQ's I/O thread notices
 * the hang-up on its own time). Those are told apart through /proc/net/unix,
 * where an accepted UNIX socket carries the path of the socket it came from.
 * Everything else reactord opens for a client's resources counts.
 */

#include <stddef.h>
#include <sys/types.h>

typedef struct procfd_entry {
        int fd;           /* the descriptor */
        char target[128]; /* what readlink() says: "socket:[1234]", "/dev/null", ... */
} procfd_entry;

typedef struct procfd_set {
        procfd_entry *v; /* ascending by fd */
        size_t n;        /* entries in v */
} procfd_set;

/* Open descriptors of `pid` (entries of /proc/PID/fd, every one). Fails the test if unreadable. */
int procfd_count(pid_t pid);

/* The resident set of `pid` (VmRSS), KiB. Fails the test if unreadable. */
long procfd_rss_kib(pid_t pid);

/*
 * The descriptors of `pid`, without the connections accepted on the ipc
 * socket file `bus_path` (may be NULL: leave none out). Returns 0, or a
 * negative errno when the process is gone. `ret` is freed with procfd_done().
 */
int procfd_snapshot(pid_t pid, const char *bus_path, procfd_set *ret);
void procfd_done(procfd_set *s);

/* procfd_snapshot() of a process that is to be compared later: it fails the test if gone. */
void procfd_baseline(pid_t pid, const char *bus_path, procfd_set *ret);

/*
 * Wait until `pid` holds `baseline` again (as procfd_snapshot() sees it), for
 * up to `timeout` seconds: reactord lets go of a resource's descriptors once
 * its owner's session has ended, which may be after a lease. Fails the test
 * with the descriptors added and missing when it does not happen; `what`
 * says which test, for the message. Returns at once when it matches.
 */
void procfd_expect(pid_t pid, const char *bus_path, const procfd_set *baseline, double timeout,
                   const char *what);
