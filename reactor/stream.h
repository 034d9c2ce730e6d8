/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Streams: connected TCP and UNIX stream sockets (Twisted's ITransport).
 *
 * Reading: a stream reads at most RD_READ_MAX bytes per wake-up and only when
 * its owner has credit, so bytes wait in the kernel (and TCP peers feel
 * back-pressure) rather than in reactord. Writing: a bounded buffer; past the
 * high-water mark writes are refused with -EAGAIN, and stream.drained follows
 * when it falls to the low-water mark. Every stream ends with exactly one
 * stream.closed event, after which its handle is released.
 */

#include "proto/address.h"
#include "reactor.h"

#define RD_STREAM_HIGH_WATER_DEFAULT (256 * 1024)
#define RD_STREAM_LOW_WATER_DEFAULT  (64 * 1024)
#define RD_STREAM_WATER_MAX          (64 * 1024 * 1024)

typedef struct rd_stream_connect {
        const char *host;       /* TCP: numeric address or host name; NULL for UNIX */
        uint16_t port;          /* TCP port */
        rd_address unix_addr;   /* UNIX: the address (when host is NULL) */
        const rd_address *bind; /* TCP: local address to bind first, or NULL */
        uint64_t timeout;       /* µs until ETIMEDOUT; 0 for none */
} rd_stream_connect;

/*
 * Adopt a connected socket `fd` (ownership passes to the stream, even on
 * failure) for `owner`. Used for accepted connections. Returns 0 and the new
 * handle in *id.
 */
int rd_stream_adopt(rd_reactor *r, rd_owner *owner, int fd, const rd_address *peer,
                    const rd_address *local, uint64_t *id);

/* Start connecting; the outcome is a stream.connected or stream.closed event. */
int rd_stream_connect_start(rd_reactor *r, rd_owner *owner, const rd_stream_connect *args,
                            uint64_t *id);

/*
 * Append to the write buffer. Returns 0 and the bytes buffered; -EAGAIN past
 * high water, -EDQUOT past the owner's max_write_buffer (stream.drained
 * follows either, and every write is refused the same way until then);
 * -EMSGSIZE for more bytes than max_write_buffer; -EPIPE.
 */
int rd_stream_write(rd_reactor *r, rd_owner *caller, uint64_t id, const void *p, size_t n,
                    size_t *buffered);
int rd_stream_shutdown(rd_reactor *r, rd_owner *caller, uint64_t id);
int rd_stream_close(rd_reactor *r, rd_owner *caller, uint64_t id);
int rd_stream_abort(rd_reactor *r, rd_owner *caller, uint64_t id);
int rd_stream_pause(rd_reactor *r, rd_owner *caller, uint64_t id, bool pause);

typedef struct rd_stream_settings {
        int nodelay;       /* -1: leave, 0/1: set TCP_NODELAY */
        int keepalive;     /* -1: leave, 0/1: set SO_KEEPALIVE */
        size_t high_water; /* 0: leave */
        size_t low_water;  /* SIZE_MAX: leave */
} rd_stream_settings;

/* Apply settings; *high and *low receive the marks in force. -EINVAL for bad marks or TCP options
 * on UNIX. */
int rd_stream_set(rd_reactor *r, rd_owner *caller, uint64_t id, const rd_stream_settings *set,
                  size_t *high, size_t *low);
