/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Host names resolved without blocking the loop: glibc's getaddrinfo_a()
 * works in its own threads and reports each completion through a socket pair
 * that the loop watches, made for the first query and closed again once no
 * query is in flight. A query cancelled while in flight is simply forgotten;
 * its completion frees it.
 */

#include <netdb.h>
#include <stdint.h>

#include "reactor.h"

typedef struct rd_resolve_query rd_resolve_query;

/* `error` is 0 or a -errno (-ENOENT: no such host); `ai` is borrowed for the call. */
typedef void (*rd_resolve_fn)(int error, const struct addrinfo *ai, void *userdata);

/* Resolve `host` for TCP on `port`. The callback runs later from the loop, never from here. */
int rd_resolve(rd_reactor *r, const char *host, uint16_t port, rd_resolve_fn fn, void *userdata,
               rd_resolve_query **ret);
/* Forget a query: its callback will not run. Accepts NULL. */
void rd_resolve_cancel(rd_resolve_query *q);

/* The resolver's share of the reactor's life. */
void rd__resolver_done(rd_reactor *r);
