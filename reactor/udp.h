/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Datagram sockets (Twisted's listenUDP and IReactorMulticast). Each datagram
 * read becomes one udp.datagram event; reading happens only while the owner
 * has credit, so datagrams wait in the kernel's receive buffer otherwise.
 */

#include "proto/address.h"
#include "reactor.h"

typedef struct rd_udp_bind {
        rd_address addr; /* where to bind */
        bool reuse_port; /* SO_REUSEPORT */
        bool broadcast;  /* SO_BROADCAST */
} rd_udp_bind;

int rd_udp_open(rd_reactor *r, rd_owner *owner, const rd_udp_bind *args, uint64_t *id,
                rd_address *bound);
/* Send one datagram to a numeric `host`. -EMSGSIZE when too large for the socket. */
int rd_udp_send(rd_reactor *r, rd_owner *caller, uint64_t id, const void *p, size_t n,
                const char *host, uint16_t port);
/* Join (`join` true) or leave a multicast group, on interface `ifname` (NULL: any). */
int rd_udp_membership(rd_reactor *r, rd_owner *caller, uint64_t id, const char *group,
                      const char *ifname, bool join);
