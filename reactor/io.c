/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>
#include <sys/epoll.h>

#include "basic/log.h"
#include "handle.h"
#include "io.h"

/* Events taken from the set per dispatch; more wait for the next one. */
#define IO_BATCH 128

static uint64_t pack(const rd_io *io)
{
        return (uint64_t)io->generation << 32 | (uint32_t)io->fd;
}

static int on_ready(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        rd_reactor *r = userdata;
        struct epoll_event ev[IO_BATCH];
        int n;

        n = epoll_wait(r->io_fd, ev, IO_BATCH, 0);
        if (n < 0) {
                if (errno != EINTR)
                        log_error("epoll_wait: %s", strerror(errno));
                return 0;
        }
        for (int i = 0; i < n; i++) {
                int wfd = (int)(uint32_t)ev[i].data.u64;
                uint32_t generation = (uint32_t)(ev[i].data.u64 >> 32);
                rd_io *io;

                /* The watch may have gone, or been replaced, earlier in this batch. */
                if ((size_t)wfd >= r->n_io_watches || !(io = r->io_watches[wfd]) ||
                    io->generation != generation || !io->events)
                        continue;
                io->fn(io, ev[i].events & (io->events | EPOLLHUP | EPOLLERR));
        }
        if (n > 0 && r->sink.flush)
                r->sink.flush(r->sink.userdata);
        return 0;
}

int rd__io_init(rd_reactor *r)
{
        int k;

        r->io_fd = epoll_create1(EPOLL_CLOEXEC);
        if (r->io_fd < 0)
                return -errno;
        k = sd_event_add_io(r->event, &r->io_source, r->io_fd, EPOLLIN, on_ready, r);
        if (k < 0)
                return k;
        (void)sd_event_source_set_description(r->io_source, "reactor-io");
        return 0;
}

void rd__io_done(rd_reactor *r)
{
        r->io_source = sd_event_source_disable_unref(r->io_source);
        if (r->io_fd >= 0)
                close(r->io_fd);
        r->io_fd = -EBADF;
        free(r->io_watches);
        r->io_watches = NULL;
        r->n_io_watches = 0;
}

static int ctl(rd_io *io, int op, uint32_t events)
{
        struct epoll_event ev = { .events = events, .data.u64 = pack(io) };

        return epoll_ctl(io->reactor->io_fd, op, io->fd, &ev) < 0 ? -errno : 0;
}

int rd__io_start(rd_reactor *r, rd_io *io, int fd, uint32_t events, rd_io_fn fn)
{
        assert(fd >= 0 && !rd__io_started(io));

        if ((size_t)fd >= r->n_io_watches) {
                size_t n = r->n_io_watches ? r->n_io_watches : 64;
                rd_io **w;

                while (n <= (size_t)fd)
                        n *= 2;
                w = realloc(r->io_watches, n * sizeof(*w));
                if (!w)
                        return -ENOMEM;
                memset(w + r->n_io_watches, 0, (n - r->n_io_watches) * sizeof(*w));
                r->io_watches = w;
                r->n_io_watches = n;
        }
        if (r->io_watches[fd])
                return -EEXIST;

        io->reactor = r;
        io->fn = fn;
        io->fd = fd;
        io->events = 0;
        io->generation = ++r->io_generation;
        r->io_watches[fd] = io;
        if (events) {
                int k = rd__io_set(io, events);
                if (k < 0) {
                        rd__io_stop(io);
                        return k;
                }
        }
        return 0;
}

int rd__io_set(rd_io *io, uint32_t events)
{
        int k;

        assert(rd__io_started(io));
        if (events == io->events)
                return 0;
        if (!events)
                k = ctl(io, EPOLL_CTL_DEL, 0);
        else
                k = ctl(io, io->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, events);
        if (k < 0)
                return k;
        io->events = events;
        return 0;
}

void rd__io_stop(rd_io *io)
{
        if (!rd__io_started(io))
                return;
        if (io->events)
                (void)ctl(io, EPOLL_CTL_DEL, 0);
        io->reactor->io_watches[io->fd] = NULL;
        io->fd = -EBADF;
        io->events = 0;
}
