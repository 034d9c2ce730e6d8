/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Events a resource reports to its owner, as plain C structs. reactor/ fills
 * them in and knows nothing of the wire; rd_event_write() turns one into a
 * msgpack-rpc notification `[2, name, [{handle, ...}]]`. Pointers in an event
 * are borrowed for the duration of the emit call.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "writer.h"

typedef enum rd_event_type {
        RD_EVENT_TIMER_FIRED,       /* timer.fired {handle, ticks} */
        RD_EVENT_LISTENER_ACCEPTED, /* listener.accepted {handle, listener, stream, peer, local} */
        RD_EVENT_STREAM_CONNECTED,  /* stream.connected {handle, peer, local} */
        RD_EVENT_STREAM_DATA,       /* stream.data {handle, data} */
        RD_EVENT_STREAM_EOF,        /* stream.eof {handle} */
        RD_EVENT_STREAM_DRAINED,    /* stream.drained {handle} */
        RD_EVENT_STREAM_CLOSED,     /* stream.closed {handle, reason, code?} */
        RD_EVENT_UDP_DATAGRAM,      /* udp.datagram {handle, data, host, port} */
        RD_EVENT_PROCESS_STARTED,   /* process.started {handle, instance, pid} */
        RD_EVENT_PROCESS_READY,     /* process.ready {handle, instance, pid} */
        RD_EVENT_PROCESS_OUTPUT,    /* process.output {handle, instance, fd, data} */
        RD_EVENT_PROCESS_DRAINED,   /* process.drained {handle, instance} */
        RD_EVENT_PROCESS_EXITED,    /* process.exited {handle, instance, pid, code | signal, core} */
        RD_EVENT_PROCESS_ENDED,     /* process.ended {handle, instance, final} */
        RD_EVENT_PROCESS_RESTARTING, /* process.restarting {handle, instance, attempt, delay} */
        RD_EVENT_PROCESS_GAVE_UP,   /* process.gave_up {handle, instance, restarts} */
        _RD_EVENT_TYPE_MAX,
} rd_event_type;

typedef struct rd_event {
        rd_event_type type;
        uint64_t handle; /* every event names its handle */
        union {
                struct {
                        uint64_t ticks; /* periods elapsed since the last delivery (>= 1) */
                } timer_fired;
                struct {
                        uint64_t stream;         /* the new stream's handle */
                        const rd_address *peer;  /* who connected */
                        const rd_address *local; /* where */
                } accepted;
                struct {
                        const rd_address *peer;  /* the remote end */
                        const rd_address *local; /* our end */
                } connected;
                struct {
                        const void *data;       /* bytes read */
                        size_t size;            /* how many */
                        const rd_address *from; /* udp.datagram: the sender */
                } data;
                struct {
                        const char *reason; /* "closed", "aborted", "done", "error" */
                        int error;          /* a -errno when reason is "error", else 0 */
                } closed;
                struct {
                        uint32_t instance;  /* which copy (0-based) */
                        int32_t pid;        /* started, ready, exited */
                        int fd;             /* output: 1 or 2 */
                        const void *data;   /* output bytes */
                        size_t size;        /* how many */
                        bool signaled;      /* exited: killed by a signal */
                        int status;         /* exited: exit code, or the signal number */
                        bool core;          /* exited: dumped core */
                        bool final;         /* ended: no restart follows; the handle is released */
                        uint32_t attempt;   /* restarting: the how-manieth restart; gave_up: restarts */
                        uint64_t delay;     /* restarting: µs until it */
                } process;
        };
} rd_event;

/* The event's wire name ("timer.fired"). */
const char *rd_event_name(rd_event_type type);
/*
 * Does the event spend credit in the sense that its producer must hold back
 * when the owner has none? Data and ticks do; rare, bounded control events
 * (connected, eof, drained, closed) are always delivered and only counted.
 */
bool rd_event_needs_credit(rd_event_type type);
/* Append the event as one notification. */
void rd_event_write(rd_writer *w, const rd_event *ev);
