/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The reactor's own epoll set for its sockets, behind one sd-event source.
 *
 * sd-event dispatches one event source per loop iteration, and every
 * iteration costs a gettid() and an epoll_wait() of its own: with fifty
 * streams ready at once that is a hundred system calls before any byte
 * moves. Streams and datagram sockets are therefore watched in an epoll set
 * of the reactor's, whose descriptor is a single sd-event I/O source; one
 * dispatch of that source serves every ready socket (up to a batch), the way
 * libuv's uv__io_poll() does. Timers, signals, child pidfds and the bus stay
 * sd-event sources of their own.
 *
 * Watches are level-triggered. Setting the events to 0 takes the fd out of
 * the set (epoll would still report EPOLLHUP/EPOLLERR for a registered fd
 * with no events, which would spin on a paused, hung-up socket). A watch
 * carries a generation number in its epoll data, so an event that was
 * collected for a watch removed earlier in the same batch is never delivered
 * to a new watch on a reused fd.
 */

#include <stdbool.h>
#include <stdint.h>

#include "reactor.h"

typedef struct rd_io rd_io;
typedef void (*rd_io_fn)(rd_io *io, uint32_t revents);

struct rd_io {
        rd_reactor *reactor; /* set by rd__io_start() */
        rd_io_fn fn;         /* called with the ready events */
        int fd;              /* the watched fd, or -EBADF when not started */
        uint32_t events;     /* what the set watches now (0: out of the set) */
        uint32_t generation; /* tells this watch from a later one on the same fd */
};

#define RD_IO_INIT                                                                                 \
        {                                                                                          \
                .fd = -EBADF                                                                       \
        }

static inline bool rd__io_started(const rd_io *io)
{
        return io->fd >= 0;
}

int rd__io_init(rd_reactor *r);
void rd__io_done(rd_reactor *r);

/* Watch `fd` for `events` (0 for none yet). Returns 0 or a negative errno. */
int rd__io_start(rd_reactor *r, rd_io *io, int fd, uint32_t events, rd_io_fn fn);
/* Change what is watched; 0 pauses the watch. No-op when unchanged. */
int rd__io_set(rd_io *io, uint32_t events);
/* Stop watching; call before closing the fd. Safe on a watch never started. */
void rd__io_stop(rd_io *io);
