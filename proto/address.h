/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Socket addresses as the protocol shows them (PROTOCOL.md, "addresses"):
 * {host, port} for IP, {path} or {abstract} for UNIX sockets, plus {pid, uid,
 * gid} for a UNIX peer whose credentials are known. Pure conversions: no
 * socket is opened here.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "writer.h"

typedef struct rd_address {
        struct sockaddr_storage sa; /* the address */
        socklen_t len;              /* its length; 0 for none */
        bool has_cred;              /* pid/uid/gid below are known (UNIX peers) */
        int32_t pid;                /* peer process */
        uint32_t uid;               /* peer user */
        uint32_t gid;               /* peer group */
} rd_address;

/*
 * Parse a numeric IPv4 or IPv6 `host` and `port`. With `family` AF_INET6 an
 * IPv4 host becomes a v4-mapped IPv6 address (for dual-stack sockets).
 * Returns 0, or -EINVAL when `host` is not numeric.
 */
int rd_address_from_ip(const char *host, uint16_t port, int family, rd_address *ret);

/* A UNIX address for `path` (or an abstract name). Returns 0 or -ENAMETOOLONG. */
int rd_address_from_unix(const char *name, size_t len, bool abstract, rd_address *ret);

/* The port of an IP address, or 0. */
uint16_t rd_address_port(const rd_address *a);

/* Write the address map. v4-mapped IPv6 addresses are shown as IPv4. */
void rd_write_address(rd_writer *w, const rd_address *a);
/* The same fields without the map around them (to embed in another map), and their count. */
uint32_t rd_address_n_fields(const rd_address *a);
void rd_write_address_fields(rd_writer *w, const rd_address *a);
