/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Listeners: listening TCP and UNIX sockets (Twisted's listenTCP/listenUNIX).
 *
 * A listening socket may be shared: made with a name, it can be joined by
 * other owners, each through a listener handle of its own (a member). New
 * connections go round-robin to the members whose owner has credit; when no
 * member has any, accepting stops and connections wait in the kernel's
 * backlog. The socket closes with its last member.
 */

#include "proto/address.h"
#include "reactor.h"

typedef struct rd_listen {
        rd_address addr;  /* where to bind */
        int backlog;      /* listen() backlog */
        bool reuse_port;  /* SO_REUSEPORT */
        int mode;         /* UNIX path: chmod() to this, or -1 */
        const char *name; /* share under this name, or NULL */
        size_t name_len;  /* bytes of name */
} rd_listen;

/*
 * Bind and listen for `owner`. Returns 0, the member handle in *id and the
 * bound address in *bound; -EADDRINUSE, -EACCES, -EEXIST (name taken), ...
 */
int rd_listener_open(rd_reactor *r, rd_owner *owner, const rd_listen *args, uint64_t *id,
                     rd_address *bound);

/* A listening socket made elsewhere (systemd's, say), for rd_listener_adopt(). */
typedef struct rd_listen_adopt {
        int fd;                           /* bound and listening, stream (borrowed) */
        const char *name;                 /* share under this name, or NULL */
        size_t name_len;                  /* bytes of name */
        void (*on_close)(void *userdata); /* the listener stopped serving fd (may be NULL) */
        void *userdata;                   /* for on_close */
} rd_listen_adopt;

/*
 * Serve the listening socket `args->fd` for `owner`, like rd_listener_open()
 * without binding. The listener works on a duplicate of the fd: closing it
 * (its last member's handle.close, or the owner's end) never closes or
 * unlinks the caller's socket, and then calls `args->on_close` so the caller
 * knows the socket is free again; connections arriving meanwhile wait in its
 * backlog. Returns 0, the member handle in *id and the socket's address in
 * *bound; -EINVAL when fd is not a listening stream socket, -EEXIST (name
 * taken), -EMFILE, -ENOMEM. On failure on_close is not called.
 */
int rd_listener_adopt(rd_reactor *r, rd_owner *owner, const rd_listen_adopt *args, uint64_t *id,
                      rd_address *bound);

/* Join the listener shared as `name`: a new member handle for `owner`. -ENOENT if none. */
int rd_listener_join(rd_reactor *r, rd_owner *owner, const char *name, size_t name_len,
                     uint64_t *id, rd_address *bound);
