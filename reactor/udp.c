/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "handle.h"
#include "io.h"
#include "udp.h"

/* Datagrams read per wake-up. */
#define READ_BATCH 32

typedef struct rd_udp {
        rd_handle handle;    /* base; must be first */
        int fd;              /* the socket */
        rd_io io;            /* watches fd in the reactor's epoll set */
        rd_address local;    /* bound address */
        bool stalled;        /* waiting for the owner's credit */
} rd_udp;

static void on_io(rd_io *io, uint32_t revents)
{
        rd_udp *u = container_of(io, rd_udp, io);
        uint8_t *buf = u->handle.reactor->read_buffer;

        for (int i = 0; i < READ_BATCH; i++) {
                rd_event ev = { .type = RD_EVENT_UDP_DATAGRAM, .handle = u->handle.id };
                rd_address from = { 0 };
                ssize_t n;

                if (!rd__owner_has_credit(u->handle.owner)) {
                        u->stalled = true;
                        (void)rd__io_set(&u->io, 0);
                        rd__handle_stall(&u->handle);
                        return;
                }
                from.len = sizeof(from.sa);
                n = recvfrom(u->fd, buf, RD_READ_MAX, MSG_DONTWAIT, (struct sockaddr *)&from.sa,
                             &from.len);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_debug("udp %" PRIu64 ": %s", u->handle.id, strerror(errno));
                        return;
                }
                ev.data.data = buf;
                ev.data.size = (size_t)n;
                ev.data.from = &from;
                rd__handle_emit(&u->handle, &ev);
        }
}

static void udp_free(rd_handle *h)
{
        rd_udp *u = (rd_udp *)h;

        rd__io_stop(&u->io);
        if (u->fd >= 0)
                close(u->fd);
        free(u);
}

static void udp_resume(rd_handle *h)
{
        rd_udp *u = (rd_udp *)h;

        u->stalled = false;
        (void)rd__io_set(&u->io, EPOLLIN);
}

static uint32_t udp_describe(rd_handle *h, rd_writer *w, bool count_only)
{
        if (count_only)
                return 1;
        rd_write_str(w, "local");
        rd_write_address(w, &((rd_udp *)h)->local);
        return 1;
}

static const rd_handle_ops udp_ops = {
        .free = udp_free,
        .resume = udp_resume,
        .describe = udp_describe,
};

int rd_udp_open(rd_reactor *r, rd_owner *owner, const rd_udp_bind *args, uint64_t *id,
                rd_address *bound)
{
        int one = 1, zero = 0, k;
        rd_udp *u;

        assert_return(r && owner && args && id && bound, -EINVAL);

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->io = (rd_io)RD_IO_INIT;
        u->fd = socket(args->addr.sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (u->fd < 0) {
                k = -errno;
                free(u);
                return k;
        }
        k = rd__handle_register(r, owner, &u->handle, RD_HANDLE_UDP, &udp_ops);
        if (k < 0) {
                close(u->fd);
                free(u);
                return k;
        }
        if (args->addr.sa.ss_family == AF_INET6)
                (void)setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if ((args->reuse_port &&
             setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
            (args->broadcast &&
             setsockopt(u->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) ||
            bind(u->fd, (const struct sockaddr *)&args->addr.sa, args->addr.len) < 0) {
                k = -errno;
                goto fail;
        }
        u->local.len = sizeof(u->local.sa);
        if (getsockname(u->fd, (struct sockaddr *)&u->local.sa, &u->local.len) < 0)
                u->local = args->addr;
        k = rd__io_start(r, &u->io, u->fd, EPOLLIN, on_io);
        if (k < 0)
                goto fail;
        *id = u->handle.id;
        *bound = u->local;
        return 0;
fail:
        rd_handle_close(&u->handle);
        return k;
}

static int lookup(rd_reactor *r, rd_owner *caller, uint64_t id, rd_udp **ret)
{
        rd_handle *h;
        int k = rd_handle_lookup(r, caller, id, RD_HANDLE_UDP, &h);
        if (k < 0)
                return k;
        *ret = (rd_udp *)h;
        return 0;
}

int rd_udp_send(rd_reactor *r, rd_owner *caller, uint64_t id, const void *p, size_t n,
                const char *host, uint16_t port)
{
        rd_address to;
        rd_udp *u;
        int k = lookup(r, caller, id, &u);

        if (k < 0)
                return k;
        k = rd_address_from_ip(host, port, u->local.sa.ss_family, &to);
        if (k < 0)
                return k;
        if (sendto(u->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&to.sa,
                   to.len) < 0)
                return -errno;
        return 0;
}

int rd_udp_membership(rd_reactor *r, rd_owner *caller, uint64_t id, const char *group,
                      const char *ifname, bool join)
{
        unsigned ifindex = 0;
        rd_address g;
        rd_udp *u;
        int k = lookup(r, caller, id, &u);

        if (k < 0)
                return k;
        if (ifname && !(ifindex = if_nametoindex(ifname)))
                return -ENODEV;
        k = rd_address_from_ip(group, 0, AF_UNSPEC, &g);
        if (k < 0)
                return k;
        if (g.sa.ss_family == AF_INET) {
                struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };
                mr.imr_multiaddr = ((struct sockaddr_in *)&g.sa)->sin_addr;
                if (!IN_MULTICAST(ntohl(mr.imr_multiaddr.s_addr)))
                        return -EINVAL;
                /* A dual-stack socket takes IPv4 memberships at the IP level too. */
                k = setsockopt(u->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                               &mr, sizeof(mr));
        } else {
                struct ipv6_mreq mr = { .ipv6mr_interface = ifindex };
                mr.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&g.sa)->sin6_addr;
                if (!IN6_IS_ADDR_MULTICAST(&mr.ipv6mr_multiaddr))
                        return -EINVAL;
                if (u->local.sa.ss_family != AF_INET6)
                        return -EAFNOSUPPORT;
                k = setsockopt(u->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mr,
                               sizeof(mr));
        }
        return k < 0 ? -errno : 0;
}
