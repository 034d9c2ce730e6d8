/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "basic/buffer.h"
#include "basic/log.h"
#include "handle.h"
#include "io.h"
#include "resolver.h"
#include "stream.h"

typedef struct rd_stream {
        rd_handle handle;         /* base; must be first */
        int fd;                   /* the socket, or -EBADF while resolving */
        rd_io io;                 /* watches fd in the reactor's epoll set */
        sd_event_source *timeout; /* connect timeout, or NULL */
        sd_event_source *later;   /* defers a failure found while answering a request */
        int later_error;          /* the failure to report */
        rd_resolve_query *query;  /* host name resolution in flight, or NULL */
        const char *via;          /* "tcp" or "unix" */
        rd_buffer out;            /* bytes to write */
        size_t high_water;        /* writes refused at or above this */
        size_t low_water;         /* stream.drained at or below this */
        rd_address peer;          /* the remote end */
        rd_address local;         /* our end */
        rd_address bind_to;       /* tcp.connect's bind, kept while resolving */
        bool has_bind;            /* bind_to is set */
        bool connecting;          /* connect() in progress (or resolving) */
        bool read_eof;            /* the peer half-closed */
        bool paused;              /* stream.pause */
        bool stalled;             /* waiting for the owner's credit */
        bool want_drained;        /* a write was refused at high water: tell when it drains */
        bool want_room;           /* a write was refused for the owner's quota: tell when it fits */
        bool shutdown_wanted;     /* stream.shutdown: SHUT_WR once flushed */
        bool write_shut;          /* SHUT_WR done */
        bool closing;             /* stream.close: close once flushed */
} rd_stream;

static bool is_tcp(const rd_stream *s)
{
        return s->via[0] == 't';
}

static int emit(rd_stream *s, rd_event *ev)
{
        ev->handle = s->handle.id;
        return rd__handle_emit(&s->handle, ev);
}

/* Report the end and release the handle. `s` is gone afterwards. */
static void finish(rd_stream *s, const char *reason, int error)
{
        rd_event ev = { .type = RD_EVENT_STREAM_CLOSED };

        ev.closed.reason = reason;
        ev.closed.error = error;
        emit(s, &ev);
        rd_handle_close(&s->handle);
}

static void update_io(rd_stream *s)
{
        uint32_t events = 0;
        int k;

        if (!rd__io_started(&s->io))
                return;
        if (s->connecting)
                events = EPOLLOUT;
        else {
                if (!s->read_eof && !s->paused && !s->stalled && !s->closing)
                        events |= EPOLLIN;
                if (rd_buffer_size(&s->out) > 0 || (s->shutdown_wanted && !s->write_shut))
                        events |= EPOLLOUT;
        }
        k = rd__io_set(&s->io, events);
        if (k < 0)
                log_error("stream %" PRIu64 ": cannot watch its socket: %s", s->handle.id,
                          strerror(-k));
}

/*
 * Write what the buffer holds; then carry out a pending shutdown or close.
 * Returns 0, or -ESHUTDOWN when the stream is gone (finished).
 */
static int flush(rd_stream *s)
{
        while (rd_buffer_size(&s->out) > 0) {
                ssize_t n = send(s->fd, rd_buffer_head(&s->out), rd_buffer_size(&s->out),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        finish(s, "error", -errno);
                        return -ESHUTDOWN;
                }
                rd_buffer_consume(&s->out, (size_t)n);
                rd__owner_write_released(s->handle.owner, (size_t)n);
        }
        if (rd_buffer_size(&s->out) == 0) {
                if (s->closing) {
                        finish(s, "closed", 0);
                        return -ESHUTDOWN;
                }
                if (s->shutdown_wanted && !s->write_shut) {
                        (void)shutdown(s->fd, SHUT_WR);
                        s->write_shut = true;
                        if (s->read_eof) {
                                finish(s, "done", 0);
                                return -ESHUTDOWN;
                        }
                }
        }
        if (s->want_drained && rd_buffer_size(&s->out) <= s->low_water) {
                rd_event ev = { .type = RD_EVENT_STREAM_DRAINED };
                s->want_drained = false;
                emit(s, &ev);
        }
        return 0;
}

/* Read once. Returns 0, or -ESHUTDOWN when the stream is gone. */
static int read_some(rd_stream *s)
{
        uint8_t *buf = s->handle.reactor->read_buffer;
        rd_event ev = { 0 };
        ssize_t n;

        if (!rd__owner_has_credit(s->handle.owner)) {
                /* Leave the bytes in the kernel until the owner catches up. */
                s->stalled = true;
                rd__handle_stall(&s->handle);
                return 0;
        }
        n = recv(s->fd, buf, RD_READ_MAX, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                finish(s, "error", -errno);
                return -ESHUTDOWN;
        }
        if (n == 0) {
                s->read_eof = true;
                ev.type = RD_EVENT_STREAM_EOF;
                emit(s, &ev);
                if (s->write_shut) {
                        finish(s, "done", 0);
                        return -ESHUTDOWN;
                }
                return 0;
        }
        ev.type = RD_EVENT_STREAM_DATA;
        ev.data.data = buf;
        ev.data.size = (size_t)n;
        emit(s, &ev);
        return 0;
}

static void fill_addresses(rd_stream *s)
{
        s->local.len = sizeof(s->local.sa);
        if (getsockname(s->fd, (struct sockaddr *)&s->local.sa, &s->local.len) < 0)
                s->local.len = 0;
        s->peer.len = sizeof(s->peer.sa);
        if (getpeername(s->fd, (struct sockaddr *)&s->peer.sa, &s->peer.len) < 0)
                s->peer.len = 0;
}

static void connected(rd_stream *s)
{
        rd_event ev = { .type = RD_EVENT_STREAM_CONNECTED };

        s->connecting = false;
        s->timeout = sd_event_source_disable_unref(s->timeout);
        fill_addresses(s);
        ev.connected.peer = &s->peer;
        ev.connected.local = &s->local;
        emit(s, &ev);
}

static void on_io(rd_io *io, uint32_t revents)
{
        rd_stream *s = container_of(io, rd_stream, io);

        if (s->connecting) {
                int err = 0;
                socklen_t len = sizeof(err);

                if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err) {
                        finish(s, "error", -err);
                        return;
                }
                connected(s);
        }
        if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (s->io.events & EPOLLIN) &&
            read_some(s) < 0)
                return;
        if ((revents & (EPOLLOUT | EPOLLERR)) && flush(s) < 0)
                return;
        update_io(s);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata)
{
        finish(userdata, "error", -ETIMEDOUT);
        return 0;
}

static int on_later(sd_event_source *source, void *userdata)
{
        rd_stream *s = userdata;
        finish(s, "error", s->later_error);
        return 0;
}

/* Report `error` from the loop, not from inside the request that found it. */
static void fail_later(rd_stream *s, int error)
{
        s->later_error = error;
        s->connecting = false;
        if (rd__io_started(&s->io))
                (void)rd__io_set(&s->io, 0);
        if (!s->later && sd_event_add_defer(s->handle.reactor->event, &s->later, on_later, s) < 0)
                log_error("stream %" PRIu64 ": cannot schedule its failure", s->handle.id);
}

static int watch(rd_stream *s)
{
        int k = rd__io_start(s->handle.reactor, &s->io, s->fd, 0, on_io);
        if (k < 0)
                return k;
        update_io(s);
        return 0;
}

/* ---- handle operations ---- */

static void stream_free(rd_handle *h)
{
        rd_stream *s = (rd_stream *)h;

        rd__io_stop(&s->io);
        s->timeout = sd_event_source_disable_unref(s->timeout);
        s->later = sd_event_source_disable_unref(s->later);
        rd_resolve_cancel(s->query);
        if (s->fd >= 0)
                close(s->fd);
        rd__owner_write_released(h->owner, rd_buffer_size(&s->out));
        rd_buffer_done(&s->out);
        free(s);
}

static void stream_resume(rd_handle *h)
{
        rd_stream *s = (rd_stream *)h;

        s->stalled = false;
        update_io(s);
}

static uint32_t stream_describe(rd_handle *h, rd_writer *w, bool count_only)
{
        rd_stream *s = (rd_stream *)h;

        if (count_only)
                return 5;
        rd_write_kv_str(w, "via", s->via);
        rd_write_str(w, "peer");
        rd_write_address(w, &s->peer);
        rd_write_str(w, "local");
        rd_write_address(w, &s->local);
        rd_write_kv_uint(w, "buffered", rd_buffer_size(&s->out));
        rd_write_kv_str(w, "state",
                        s->connecting ? "connecting"
                        : s->closing  ? "closing"
                        : s->stalled  ? "waiting for credit"
                        : s->paused   ? "paused"
                        : s->read_eof ? "peer shut"
                                      : "open");
        return 5;
}

static void stream_close_gracefully(rd_handle *h)
{
        rd_stream *s = (rd_stream *)h;

        s->closing = true;
        if (s->connecting || s->fd < 0) {
                finish(s, "closed", 0);
                return;
        }
        if (flush(s) == 0)
                update_io(s);
}

static int stream_get_fd(rd_handle *h)
{
        return ((rd_stream *)h)->fd;
}

static void stream_write_room(rd_handle *h)
{
        rd_stream *s = (rd_stream *)h;
        rd_event ev = { .type = RD_EVENT_STREAM_DRAINED };

        if (!s->want_room)
                return;
        s->want_room = false;
        emit(s, &ev);
}

static const rd_handle_ops stream_ops = {
        .get_fd = stream_get_fd,
        .free = stream_free,
        .resume = stream_resume,
        .describe = stream_describe,
        .close_gracefully = stream_close_gracefully,
        .write_room = stream_write_room,
};

static int stream_new(rd_reactor *r, rd_owner *owner, const char *via, rd_stream **ret)
{
        rd_stream *s = calloc(1, sizeof(*s));
        int k;

        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->io = (rd_io)RD_IO_INIT;
        s->via = via;
        s->high_water = RD_STREAM_HIGH_WATER_DEFAULT;
        s->low_water = RD_STREAM_LOW_WATER_DEFAULT;
        k = rd__handle_register(r, owner, &s->handle, RD_HANDLE_STREAM, &stream_ops);
        if (k < 0) {
                free(s);
                return k;
        }
        *ret = s;
        return 0;
}

/* ---- API ---- */

int rd_stream_adopt(rd_reactor *r, rd_owner *owner, int fd, const rd_address *peer,
                    const rd_address *local, uint64_t *id)
{
        rd_stream *s;
        int k;

        k = stream_new(r, owner, local->sa.ss_family == AF_UNIX ? "unix" : "tcp", &s);
        if (k < 0) {
                close(fd);
                return k;
        }
        s->fd = fd;
        s->peer = *peer;
        s->local = *local;
        k = watch(s);
        if (k < 0) {
                rd_handle_close(&s->handle);
                return k;
        }
        *id = s->handle.id;
        return 0;
}

/* Open a socket for `addr` and start connecting. Failures after the socket exists come later. */
static int connect_to(rd_stream *s, const rd_address *addr, const rd_address *bind_to)
{
        int one = 1;

        s->fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
                return -errno;
        if (is_tcp(s))
                (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (bind_to && bind(s->fd, (const struct sockaddr *)&bind_to->sa, bind_to->len) < 0)
                return -errno;
        s->peer = *addr;
        s->connecting = true;
        if (connect(s->fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 &&
            errno != EINPROGRESS) {
                fail_later(s, -errno);
                return watch(s);
        }
        /* Connected or in progress: EPOLLOUT tells either way. */
        return watch(s);
}

static void on_resolved(int error, const struct addrinfo *ai, void *userdata)
{
        rd_stream *s = userdata;
        rd_address addr = { 0 };
        int k;

        s->query = NULL;
        if (error < 0) {
                finish(s, "error", error);
                return;
        }
        /* The first address is the system's preference (RFC 6724 order). */
        memcpy(&addr.sa, ai->ai_addr, ai->ai_addrlen);
        addr.len = ai->ai_addrlen;
        k = connect_to(s, &addr, s->has_bind ? &s->bind_to : NULL);
        if (k < 0)
                finish(s, "error", k);
}

int rd_stream_connect_start(rd_reactor *r, rd_owner *owner, const rd_stream_connect *args,
                            uint64_t *id)
{
        rd_address addr;
        rd_stream *s;
        int k;

        assert_return(r && owner && args && id, -EINVAL);

        k = stream_new(r, owner, args->host ? "tcp" : "unix", &s);
        if (k < 0)
                return k;
        s->connecting = true;
        if (args->timeout) {
                k = sd_event_add_time_relative(r->event, &s->timeout, CLOCK_MONOTONIC,
                                               args->timeout, USEC_PER_MSEC, on_timeout, s);
                if (k < 0)
                        goto fail;
        }
        if (!args->host)
                k = connect_to(s, &args->unix_addr, NULL);
        else if (rd_address_from_ip(args->host, args->port, AF_UNSPEC, &addr) == 0) {
                k = connect_to(s, &addr, args->bind);
        } else {
                if (args->bind) {
                        s->bind_to = *args->bind;
                        s->has_bind = true;
                }
                k = rd_resolve(r, args->host, args->port, on_resolved, s, &s->query);
        }
        if (k < 0)
                goto fail;
        *id = s->handle.id;
        return 0;
fail:
        rd_handle_close(&s->handle);
        return k;
}

static int lookup(rd_reactor *r, rd_owner *caller, uint64_t id, rd_stream **ret)
{
        rd_handle *h;
        int k = rd_handle_lookup(r, caller, id, RD_HANDLE_STREAM, &h);
        if (k < 0)
                return k;
        *ret = (rd_stream *)h;
        return 0;
}

int rd_stream_write(rd_reactor *r, rd_owner *caller, uint64_t id, const void *p, size_t n,
                    size_t *buffered)
{
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        if (s->closing || s->shutdown_wanted || s->later)
                return -EPIPE;
        /*
         * Once a write was refused, every write is until stream.drained: the
         * writes a client pipelined behind the refused one are refused too,
         * and it sends them all again, in order, rather than see a later one
         * taken before the refused one.
         */
        if (s->want_room)
                return -EDQUOT;
        if (s->want_drained || rd_buffer_size(&s->out) >= s->high_water) {
                s->want_drained = true;
                return -EAGAIN;
        }
        /* Counted as if all of it stayed buffered: whether the socket takes it is not known yet. */
        k = rd__owner_write_check(&s->handle, n);
        if (k == -EDQUOT)
                s->want_room = true;
        if (k < 0)
                return k;
        /* Nothing queued: try the socket first and buffer only what it did not take. */
        if (rd_buffer_size(&s->out) == 0 && !s->connecting && s->fd >= 0) {
                ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) {
                        p = (const char *)p + w;
                        n -= (size_t)w;
                }
                /* An error shows again on EPOLLOUT, which reports it as stream.closed. */
        }
        if (n > 0) {
                if (rd_buffer_append(&s->out, p, n) < 0)
                        return -ENOMEM;
                rd__owner_write_added(s->handle.owner, n);
        }
        update_io(s);
        *buffered = rd_buffer_size(&s->out);
        return 0;
}

int rd_stream_shutdown(rd_reactor *r, rd_owner *caller, uint64_t id)
{
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        if (s->closing)
                return -EPIPE;
        s->shutdown_wanted = true;
        if (!s->connecting && s->fd >= 0 && flush(s) < 0)
                return 0;
        update_io(s);
        return 0;
}

int rd_stream_close(rd_reactor *r, rd_owner *caller, uint64_t id)
{
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        stream_close_gracefully(&s->handle);
        return 0;
}

int rd_stream_abort(rd_reactor *r, rd_owner *caller, uint64_t id)
{
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        /* A zero linger makes close() send RST and drop what is unsent. */
        if (s->fd >= 0 && is_tcp(s))
                (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        finish(s, "aborted", 0);
        return 0;
}

int rd_stream_pause(rd_reactor *r, rd_owner *caller, uint64_t id, bool pause)
{
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        s->paused = pause;
        update_io(s);
        return 0;
}

int rd_stream_set(rd_reactor *r, rd_owner *caller, uint64_t id, const rd_stream_settings *set,
                  size_t *high, size_t *low)
{
        size_t nhigh, nlow;
        rd_stream *s;
        int k = lookup(r, caller, id, &s);

        if (k < 0)
                return k;
        nhigh = set->high_water ? set->high_water : s->high_water;
        nlow = set->low_water != SIZE_MAX ? set->low_water : s->low_water;
        if (nhigh > RD_STREAM_WATER_MAX || nlow > nhigh)
                return -EINVAL;
        if ((set->nodelay >= 0 || set->keepalive >= 0) && !is_tcp(s))
                return -ENOTSUP;
        if (set->nodelay >= 0 && s->fd >= 0 &&
            setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &set->nodelay, sizeof(int)) < 0)
                return -errno;
        if (set->keepalive >= 0 && s->fd >= 0 &&
            setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &set->keepalive, sizeof(int)) < 0)
                return -errno;
        s->high_water = nhigh;
        s->low_water = nlow;
        *high = nhigh;
        *low = nlow;
        return 0;
}
