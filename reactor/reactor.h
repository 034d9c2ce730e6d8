/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_reactor: the resources reactord owns (timers now; streams, datagram
 * sockets, processes and signals later), over one sd-event loop.
 *
 * The reactor knows nothing of ZeroMQ or sessions. Resources belong to an
 * rd_owner and report what happens to them through one narrow callback, the
 * emit function, which the broker supplies. Emitting may be refused for lack
 * of credit (-EAGAIN); the resource then holds its state and emits again when
 * the owner is resumed (rd_owner_resume()).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "basic/log.h"
#include "proto/event.h"

typedef struct rd_reactor rd_reactor;
typedef struct rd_owner rd_owner;
typedef struct rd_handle rd_handle;

typedef enum rd_handle_kind {
        RD_HANDLE_TIMER,
        RD_HANDLE_LISTENER,
        RD_HANDLE_STREAM,
        RD_HANDLE_UDP,
        RD_HANDLE_PROCESS,
        _RD_HANDLE_KIND_MAX,
} rd_handle_kind;

/*
 * Where a reactor's events go: the broker, in reactord.
 *
 * emit() delivers `ev` to `owner`. It returns 0 when the event was taken, or
 * -EAGAIN when the owner is out of credit and the event needs credit (see
 * rd_event_needs_credit()); the resource then holds its state and emits again
 * after rd_owner_resume(). Control events are always taken. emit() must not
 * free resources or owners: it runs from inside resource callbacks.
 *
 * has_credit() tells whether `owner` may receive a credit-spending event now;
 * resources ask before they read, so data read is always deliverable.
 *
 * flush() (may be NULL) runs after the reactor has handled a batch of ready
 * sockets: the events they emitted may be sent now, not an event loop
 * iteration later.
 */
typedef int (*rd_emit_fn)(rd_owner *owner, const rd_event *ev, void *userdata);
typedef bool (*rd_credit_fn)(rd_owner *owner, void *userdata);

/* Add what the sink knows of `owner` (its session, client, ...) to a log record's fields. */
typedef void (*rd_log_fields_fn)(rd_owner *owner, rd_log_fields *f, void *userdata);

typedef struct rd_reactor_sink {
        rd_emit_fn emit;               /* deliver an event */
        rd_credit_fn has_credit;       /* may the owner take data now? */
        void *userdata;                /* passed to each */
        rd_log_fields_fn log_fields;   /* for log lines about a handle (may be NULL) */
        void (*flush)(void *userdata); /* a batch of ready sockets is handled (may be NULL) */
} rd_reactor_sink;

/* Make a reactor on `event` (referenced) reporting to `sink` (copied). Returns 0 or -errno. */
int rd_reactor_new(sd_event *event, const rd_reactor_sink *sink, rd_reactor **ret);
/* Free the reactor; every owner must have been freed before. Accepts NULL. */
rd_reactor *rd_reactor_free(rd_reactor *r);

/* Live resources of one kind, over all owners. */
size_t rd_reactor_count(const rd_reactor *r, rd_handle_kind kind);
/* "timer", ... */
const char *rd_handle_kind_name(rd_handle_kind kind);

/* ---- owners: the principal resources belong to (a session, for the broker) ---- */

/* Make an owner that may hold at most `max_handles` handles. `userdata` is borrowed. */
int rd_owner_new(rd_reactor *r, void *userdata, size_t max_handles, rd_owner **ret);
/*
 * The owner's quotas besides its handles (a new owner has none: SIZE_MAX):
 * `max_processes` process instances (a spawn past it fails with -EDQUOT; a
 * process with `instances: N` counts N for as long as its handle lives), and
 * `max_write_buffer` bytes in the write buffers of its streams and process
 * stdin pipes together (a write that would take the sum past it fails with
 * -EDQUOT, and the resource reports drained once the write fits).
 */
void rd_owner_set_quota(rd_owner *o, size_t max_processes, size_t max_write_buffer);
/*
 * Whom the owner acts for. Taking over a process by name (it must run as
 * `uid`) and joining a listener by name (its creator must have acted for
 * `uid`) are refused with -EPERM unless the owner is `privileged`. A new
 * owner acts for reactord's own user, privileged: a user instance serves
 * that user alone. The broker narrows the sessions of a root reactord to
 * their peers.
 */
void rd_owner_set_identity(rd_owner *o, uid_t uid, bool privileged);
/* Close every handle the owner holds, then free it. Accepts NULL; returns NULL. */
rd_owner *rd_owner_free(rd_owner *o);
void *rd_owner_get_userdata(const rd_owner *o);
size_t rd_owner_count(const rd_owner *o);
/* Credit is back: every resource held back by -EAGAIN gets to emit again. */
void rd_owner_resume(rd_owner *o);
/*
 * Write the owner's handles as an array of {handle, kind, ...} maps (the
 * result of reactor.resources).
 */
void rd_owner_write_resources(rd_owner *o, rd_writer *w);

/* ---- handles ---- */

/*
 * Find handle `id` on behalf of `caller`. Returns 0, -ENOENT (no such handle),
 * -EPERM (another owner's), or -EBADF when it is not of `kind` (pass
 * _RD_HANDLE_KIND_MAX for any kind).
 */
int rd_handle_lookup(rd_reactor *r, rd_owner *caller, uint64_t id, rd_handle_kind kind,
                     rd_handle **ret);
/* Close and free a handle at once. Safe from the handle's own callbacks. */
void rd_handle_close(rd_handle *h);
/*
 * What handle.close does: a graceful close where the kind has one (a stream
 * flushes its buffer and then reports stream.closed), rd_handle_close() else.
 */
void rd_handle_close_gracefully(rd_handle *h);
