/* SPDX-License-Identifier: MIT */
#include "event.h"

static const char *const names[_RD_EVENT_TYPE_MAX] = {
        [RD_EVENT_TIMER_FIRED] = "timer.fired",
};

const char *rd_event_name(rd_event_type type)
{
        return (unsigned)type < _RD_EVENT_TYPE_MAX ? names[type] : "?";
}

void rd_event_write(rd_writer *w, const rd_event *ev)
{
        switch (ev->type) {
        case RD_EVENT_TIMER_FIRED:
                rd_write_notification(w, names[ev->type], 2);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "ticks", ev->timer_fired.ticks);
                return;
        case _RD_EVENT_TYPE_MAX:
                break;
        }
}
