/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Socket activation: the sockets the service manager passed to reactord
 * ($LISTEN_FDS, $LISTEN_PID, $LISTEN_FDNAMES; sd_listen_fds_with_names(3)).
 *
 * The socket named "bus" (or the only one, when none is named) is the bus
 * endpoint: the broker hands it to ZeroMQ instead of binding. Every other
 * socket waits in a pool under its FileDescriptorName= until a client adopts
 * it (tcp.adopt, unix.adopt). An adopted socket is served through a listener
 * of its own (a duplicate of the pool's fd); when that listener closes, the
 * socket goes back to the pool, still open and still bound, so the service
 * manager's socket never stops accepting into its backlog. The pool's fds are
 * closed only when reactord exits.
 */

#include <stdbool.h>
#include <stddef.h>

#include "basic/macro.h"
#include "proto/address.h"
#include "proto/writer.h"

typedef struct rd_activated {
        char *name;         /* FileDescriptorName= ("unknown" when none was given) */
        int fd;             /* the socket, non-blocking and close-on-exec (owned) */
        int family;         /* AF_UNIX, AF_INET, AF_INET6, ... */
        int type;           /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ... */
        bool listening;     /* SO_ACCEPTCONN: a listening socket (not an accepted one) */
        rd_address address; /* getsockname() */
        bool taken;         /* a listener serves it now */
} rd_activated;

typedef struct rd_activation {
        rd_activated *sockets; /* the pool, in the order they were passed */
        size_t n_sockets;      /* length of sockets */
        int bus_fd;            /* the bus socket (owned), or -EBADF */
        char *bus_endpoint;    /* its ZeroMQ endpoint ("ipc://...", "tcp://..."), or NULL */
} rd_activation;

/*
 * Take the sockets passed by the service manager, and unset $LISTEN_* so that
 * children do not see them. *ret is NULL when none was passed (not started by
 * socket activation). Returns 0, or -errno when the sockets cannot be read
 * (the fds are closed then).
 */
int rd_activation_new(rd_activation **ret);
/* Close every socket and free. Accepts NULL; returns NULL. */
rd_activation *rd_activation_free(rd_activation *a);
DEFINE_CLEANUP_FUNC(rd_activation, rd_activation_free);

/* The pool's socket named `name` (`len` bytes), or NULL. Accepts a NULL pool. */
rd_activated *rd_activation_find(rd_activation *a, const char *name, size_t len);

/* The family as reactor.info shows it: "unix", "inet", "inet6", or "other". */
const char *rd_activated_family_name(const rd_activated *s);
/* The socket type as reactor.info shows it: "stream", "dgram", "seqpacket", or "other". */
const char *rd_activated_type_name(const rd_activated *s);

/* A listener that served `userdata` (an rd_activated) closed: it is back in the pool. */
void rd_activated_release(void *userdata);

/*
 * Write the pool as reactor.info's `activated`: an array of {name, family,
 * type, address, taken}. Accepts a NULL pool (an empty array).
 */
void rd_activation_write(const rd_activation *a, rd_writer *w);

/*
 * The ZeroMQ endpoint of a bound socket: ipc://PATH (or ipc://@NAME for an
 * abstract name) for AF_UNIX, tcp://HOST:PORT or tcp://[HOST]:PORT for IP.
 * Returns a malloc'd string in *ret, 0, or -EAFNOSUPPORT / -ENOMEM.
 */
int rd_activation_endpoint_of(const rd_address *a, char **ret);
