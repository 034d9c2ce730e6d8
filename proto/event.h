/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Events a resource reports to its owner, as plain C structs. reactor/ fills
 * them in and knows nothing of the wire; rd_event_write() turns one into a
 * msgpack-rpc notification `[2, name, [{handle, ...}]]`.
 */

#include <stdint.h>

#include "writer.h"

typedef enum rd_event_type {
        RD_EVENT_TIMER_FIRED, /* timer.fired {handle, ticks} */
        _RD_EVENT_TYPE_MAX,
} rd_event_type;

typedef struct rd_event {
        rd_event_type type;
        uint64_t handle; /* every event names its handle */
        union {
                struct {
                        uint64_t ticks; /* periods elapsed since the last delivery (>= 1) */
                } timer_fired;
        };
} rd_event;

/* The event's wire name ("timer.fired"). */
const char *rd_event_name(rd_event_type type);
/* Append the event as one notification. */
void rd_event_write(rd_writer *w, const rd_event *ev);
