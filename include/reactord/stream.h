/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libreactord: sockets. Typed calls for the listeners, streams and datagram
 * sockets of PROTOCOL.md (§4, "listeners", "streams", "datagrams"), and
 * accessors for the payloads of their events.
 *
 * Each call is a thin wrapper over rd_client_call(): it builds the params,
 * waits for the reply and reads the result. Errors are those of
 * rd_client_call(): a negative errno, with the server's message in
 * rd_client_last_error(). Every call may be made from inside a handler.
 *
 * Events arrive through rd_client_on() on the handle they name:
 * listener.accepted goes to the *listener's* handler (the new stream's handle
 * is rd_client_event_stream()); stream.* events go to the stream's handler;
 * udp.datagram to the socket's. The library forgets a stream's handler by
 * itself once its stream.closed has been dispatched (the server releases the
 * handle with that event), as it does for a one-shot timer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reactord/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- listeners ---------------------------------------------------------------------------- */

/* Options of tcp.listen and unix.listen; a zeroed struct (or NULL) means the defaults. */
typedef struct rd_listen_options {
        unsigned backlog; /* 0: the server's default (128) */
        bool reuse_port;  /* TCP: SO_REUSEPORT */
        const char *name; /* share the listener under this name (listener.join); NULL: not */
        unsigned mode;    /* UNIX path: file mode of the socket, e.g. 0660; 0: the default */
} rd_listen_options;

/*
 * tcp.listen: listen on `host` (NULL: "::", IPv6 and IPv4) and `port` (0: any
 * free port). On success *handle (may be NULL) is the listener's handle and
 * *bound_port (may be NULL) the port bound. Route its listener.accepted
 * events with rd_client_on(c, *handle, ...).
 */
RD_EXPORT int rd_client_tcp_listen(rd_client *c, const char *host, uint16_t port,
                                   const rd_listen_options *opts, uint64_t *handle,
                                   uint16_t *bound_port);

/*
 * unix.listen: listen on the UNIX socket `path` (a file the server creates and
 * removes when the listener closes), or, when `abstract` is true, on the Linux
 * abstract name `path` (without its leading NUL byte). `reuse_port` of `opts`
 * is ignored. *handle (may be NULL) receives the listener's handle.
 */
RD_EXPORT int rd_client_unix_listen(rd_client *c, const char *path, bool abstract,
                                    const rd_listen_options *opts, uint64_t *handle);

/*
 * listener.join: become one more member of the listener another session made
 * with a `name`. *handle receives this session's own listener handle;
 * rd_client_listener_close() of it leaves the listener. -ENOENT when no
 * listener has that name.
 */
RD_EXPORT int rd_client_listener_join(rd_client *c, const char *name, uint64_t *handle);

/*
 * tcp.adopt: serve the listening TCP socket the service manager passed to
 * reactord under `name` (its FileDescriptorName=; reactor.info lists them as
 * `activated`). With `shared`, other sessions may join it by the same name
 * (rd_client_listener_join()). *handle and *bound_port (each may be NULL)
 * receive the listener's handle and the socket's port. Closing the listener,
 * or the end of the session, gives the socket back to reactord, still open,
 * for the next adopter. -ENOENT when no activated socket has that name,
 * -EINVAL when it is not a TCP listening socket, -EBUSY when another
 * listener serves it.
 */
RD_EXPORT int rd_client_tcp_adopt(rd_client *c, const char *name, bool shared, uint64_t *handle,
                                  uint16_t *bound_port);

/* unix.adopt: as rd_client_tcp_adopt(), for an activated UNIX socket. */
RD_EXPORT int rd_client_unix_adopt(rd_client *c, const char *name, bool shared, uint64_t *handle);

/*
 * Close a listener handle (handle.close) and forget its handler. Streams it
 * accepted stay open. A shared listener's socket closes with its last member.
 */
RD_EXPORT int rd_client_listener_close(rd_client *c, uint64_t handle);

/* ---- streams ------------------------------------------------------------------------------ */

/*
 * tcp.connect: connect to `host` (a numeric address or a name the server
 * resolves) and `port`, giving up after `timeout` seconds (0: the server's
 * default, 30 s). Returns at once with the stream's *handle: the outcome
 * arrives as stream.connected, or as stream.closed with a `code`
 * (rd_client_event_error()). Writes made before stream.connected are
 * buffered by the server.
 */
RD_EXPORT int rd_client_tcp_connect(rd_client *c, const char *host, uint16_t port, double timeout,
                                    uint64_t *handle);

/* unix.connect: as rd_client_tcp_connect(), to a UNIX socket `path` or abstract name. */
RD_EXPORT int rd_client_unix_connect(rd_client *c, const char *path, bool abstract,
                                     uint64_t *handle);

/*
 * stream.write: append `data[0..len)` to the stream's write buffer. Returns the
 * bytes now buffered by the server (>= 0, at most INT_MAX), or -EAGAIN when
 * the buffer is at its high-water mark, or when the session's write buffers
 * together are at the server's max_write_buffer: nothing was written, and the
 * stream's handler gets stream.drained once there is room; write again only
 * then (stream.pause meanwhile stops the data that would pile up). A write
 * larger than max_write_buffer is -EMSGSIZE.
 * -EPIPE after rd_client_stream_shutdown(); -ENOENT once the stream is gone
 * (stream.closed, which follows at once when both sides have shut down). One
 * write must fit in a frame (the server's max_frame, 1 MiB by default):
 * larger is -E2BIG.
 */
RD_EXPORT int rd_client_stream_write(rd_client *c, uint64_t handle, const void *data, size_t len);

/*
 * stream.write without waiting for the reply: `data` is copied before the
 * call returns and `cb` (may be NULL) runs with the reply; its `result` is
 * {buffered}. Writes are applied in the order they are sent; once one has
 * failed with -EAGAIN the server refuses the stream's later writes too until
 * stream.drained, but writes still in flight when it sends stream.drained
 * may be accepted, and the stream would have a hole. So pipeline only while
 * the bytes not yet answered plus the last `buffered` stay below the
 * stream's high-water mark (rd_client_stream_set() raises it) and, over all
 * the session's streams and stdin pipes, within its max_write_buffer; and
 * treat -EAGAIN in `cb` as a broken stream otherwise. A write that cannot be
 * refused by that count needs no reply at all: rd_client_notify() sends it
 * for one message instead of two (examples/echo-server.c does both).
 */
RD_EXPORT int rd_client_stream_write_async(rd_client *c, uint64_t handle, const void *data,
                                           size_t len, rd_reply_fn cb, void *userdata);

/* stream.shutdown: send what is buffered, then shut the write side (SHUT_WR); reading goes on. */
RD_EXPORT int rd_client_stream_shutdown(rd_client *c, uint64_t handle);
/* stream.close: close once the buffer is sent. stream.closed {reason: "closed"} follows. */
RD_EXPORT int rd_client_stream_close(rd_client *c, uint64_t handle);
/* stream.abort: drop the buffer and reset the connection. stream.closed {reason: "aborted"}
 * follows. */
RD_EXPORT int rd_client_stream_abort(rd_client *c, uint64_t handle);
/* stream.pause: stop reading the stream (the peer feels back-pressure). */
RD_EXPORT int rd_client_stream_pause(rd_client *c, uint64_t handle);
/* stream.resume: read the stream again. */
RD_EXPORT int rd_client_stream_resume(rd_client *c, uint64_t handle);

/* What rd_client_stream_set() changes; start from RD_STREAM_OPTIONS_INIT (all unchanged). */
typedef struct rd_stream_options {
        int nodelay;        /* TCP_NODELAY: 1 on, 0 off, -1 unchanged (TCP only) */
        int keepalive;      /* SO_KEEPALIVE: 1 on, 0 off, -1 unchanged (TCP only) */
        int64_t high_water; /* bytes; -1 unchanged */
        int64_t low_water;  /* bytes; -1 unchanged */
} rd_stream_options;

#define RD_STREAM_OPTIONS_INIT                                                                     \
        ((rd_stream_options){ .nodelay = -1, .keepalive = -1, .high_water = -1, .low_water = -1 })

/*
 * stream.set: apply `opts`. *high_water and *low_water (each may be NULL)
 * receive the marks in force afterwards; with every field unchanged this
 * just reads them.
 */
RD_EXPORT int rd_client_stream_set(rd_client *c, uint64_t handle, const rd_stream_options *opts,
                                   uint64_t *high_water, uint64_t *low_water);

/* ---- datagrams ---------------------------------------------------------------------------- */

/* Options of udp.bind; a zeroed struct (or NULL) means the defaults. */
typedef struct rd_udp_options {
        bool reuse_port; /* SO_REUSEPORT */
        bool broadcast;  /* SO_BROADCAST */
} rd_udp_options;

/*
 * udp.bind: a datagram socket on `host` (NULL: "::") and `port` (0: any free
 * port). *handle and *bound_port (each may be NULL) receive its handle and
 * port. Datagrams arrive as udp.datagram events on the handle.
 */
RD_EXPORT int rd_client_udp_bind(rd_client *c, const char *host, uint16_t port,
                                 const rd_udp_options *opts, uint64_t *handle,
                                 uint16_t *bound_port);

/* Close a datagram socket (handle.close) and forget its handler. */
RD_EXPORT int rd_client_udp_close(rd_client *c, uint64_t handle);

/* udp.send: send one datagram to the numeric address `host`, `port`. */
RD_EXPORT int rd_client_udp_send(rd_client *c, uint64_t handle, const void *data, size_t len,
                                 const char *host, uint16_t port);

/* udp.join / udp.leave: multicast `group` on `interface` (e.g. "lo"; NULL: the system's choice). */
RD_EXPORT int rd_client_udp_join(rd_client *c, uint64_t handle, const char *group,
                                 const char *interface);
RD_EXPORT int rd_client_udp_leave(rd_client *c, uint64_t handle, const char *group,
                                  const char *interface);

/* ---- event payloads ----------------------------------------------------------------------- */

/*
 * The bytes of a stream.data or udp.datagram event, borrowed for the
 * handler's duration. Returns 0, or -EINVAL when the event has no `data`.
 */
RD_EXPORT int rd_client_event_data(const rd_client_event *ev, const void **data, size_t *len);

/* listener.accepted: the new stream's handle (owned by this session), or 0 for other events. */
RD_EXPORT uint64_t rd_client_event_stream(const rd_client_event *ev);

/*
 * The error an event reports as its `code` (stream.closed with reason
 * "error", or a failed connect), as a negative errno; 0 when it has none.
 */
RD_EXPORT int rd_client_event_error(const rd_client_event *ev);

/*
 * Format an address map (PROTOCOL.md, "addresses") for people: "1.2.3.4:80",
 * "[::1]:80", "/run/x.sock", "@name" for an abstract name, "" for an unnamed
 * peer. Returns the length of the text (as snprintf() does; the output is
 * truncated to `size`), or -EINVAL when `addr` is not an address map.
 */
RD_EXPORT int rd_value_address(const rd_value *addr, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
