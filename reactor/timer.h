/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Timers: Twisted's callLater and LoopingCall as reactor resources.
 *
 * All timers live in one binary heap driven by a single sd-event time source,
 * as libuv and Twisted keep theirs: one wake-up fires every due timer, so a
 * thousand timers due together cost one epoll round, and an idle reactor has
 * no timer armed at all.
 *
 * A one-shot timer is closed right after its timer.fired event. A periodic
 * timer keeps its phase (start + after + k * every); when it is late, or its
 * owner is out of credit, the periods missed are coalesced into the `ticks`
 * of a single event.
 */

#include "reactor.h"

/* Longest `after` or `every` (about 30 years): beyond it the clock arithmetic could overflow. */
#define RD_TIMER_MAX_USEC (UINT64_C(1000000000) * UINT64_C(1000000))

typedef struct rd_timer rd_timer;

/*
 * Start a timer for `owner` firing `after` µs from now, then every `every` µs
 * (0: once). Returns 0 and the new handle's id in *id, or -EMFILE / -ENOMEM.
 */
int rd_timer_start(rd_reactor *r, rd_owner *owner, uint64_t after, uint64_t every, uint64_t *id);
/* Make the timer next fire `after` µs from now. */
int rd_timer_reset(rd_reactor *r, rd_owner *caller, uint64_t id, uint64_t after);
/* Stop the timer and release its handle (like handle.close). */
int rd_timer_cancel(rd_reactor *r, rd_owner *caller, uint64_t id);
