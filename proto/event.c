/* SPDX-License-Identifier: MIT */
#include "error.h"
#include "event.h"

static const char *const names[_RD_EVENT_TYPE_MAX] = {
        [RD_EVENT_TIMER_FIRED] = "timer.fired",
        [RD_EVENT_LISTENER_ACCEPTED] = "listener.accepted",
        [RD_EVENT_STREAM_CONNECTED] = "stream.connected",
        [RD_EVENT_STREAM_DATA] = "stream.data",
        [RD_EVENT_STREAM_EOF] = "stream.eof",
        [RD_EVENT_STREAM_DRAINED] = "stream.drained",
        [RD_EVENT_STREAM_CLOSED] = "stream.closed",
        [RD_EVENT_UDP_DATAGRAM] = "udp.datagram",
        [RD_EVENT_PROCESS_STARTED] = "process.started",
        [RD_EVENT_PROCESS_READY] = "process.ready",
        [RD_EVENT_PROCESS_OUTPUT] = "process.output",
        [RD_EVENT_PROCESS_DRAINED] = "process.drained",
        [RD_EVENT_PROCESS_EXITED] = "process.exited",
        [RD_EVENT_PROCESS_ENDED] = "process.ended",
        [RD_EVENT_PROCESS_RESTARTING] = "process.restarting",
        [RD_EVENT_PROCESS_GAVE_UP] = "process.gave_up",
};

const char *rd_event_name(rd_event_type type)
{
        return (unsigned)type < _RD_EVENT_TYPE_MAX ? names[type] : "?";
}

bool rd_event_needs_credit(rd_event_type type)
{
        return type == RD_EVENT_TIMER_FIRED || type == RD_EVENT_LISTENER_ACCEPTED ||
               type == RD_EVENT_STREAM_DATA || type == RD_EVENT_UDP_DATAGRAM ||
               type == RD_EVENT_PROCESS_OUTPUT;
}

void rd_event_write(rd_writer *w, const rd_event *ev)
{
        const char *name = rd_event_name(ev->type);

        switch (ev->type) {
        case RD_EVENT_TIMER_FIRED:
                rd_write_notification(w, name, 2);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "ticks", ev->timer_fired.ticks);
                return;
        case RD_EVENT_LISTENER_ACCEPTED:
                rd_write_notification(w, name, 5);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "listener", ev->handle);
                rd_write_kv_uint(w, "stream", ev->accepted.stream);
                rd_write_str(w, "peer");
                rd_write_address(w, ev->accepted.peer);
                rd_write_str(w, "local");
                rd_write_address(w, ev->accepted.local);
                return;
        case RD_EVENT_STREAM_CONNECTED:
                rd_write_notification(w, name, 3);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_str(w, "peer");
                rd_write_address(w, ev->connected.peer);
                rd_write_str(w, "local");
                rd_write_address(w, ev->connected.local);
                return;
        case RD_EVENT_STREAM_DATA:
                rd_write_notification(w, name, 2);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_str(w, "data");
                rd_write_bin(w, ev->data.data, ev->data.size);
                return;
        case RD_EVENT_STREAM_EOF:
        case RD_EVENT_STREAM_DRAINED:
                rd_write_notification(w, name, 1);
                rd_write_kv_uint(w, "handle", ev->handle);
                return;
        case RD_EVENT_STREAM_CLOSED:
                rd_write_notification(w, name, 2 + (ev->closed.error != 0));
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_str(w, "reason", ev->closed.reason);
                if (ev->closed.error)
                        rd_write_kv_str(w, "code", rd_error_name(ev->closed.error));
                return;
        case RD_EVENT_UDP_DATAGRAM:
                /* The sender's {host, port} sit beside the data. */
                rd_write_notification(w, name, 2 + rd_address_n_fields(ev->data.from));
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_str(w, "data");
                rd_write_bin(w, ev->data.data, ev->data.size);
                rd_write_address_fields(w, ev->data.from);
                return;
        case RD_EVENT_PROCESS_STARTED:
        case RD_EVENT_PROCESS_READY:
                rd_write_notification(w, name, 3);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_int(w, "pid", ev->process.pid);
                return;
        case RD_EVENT_PROCESS_OUTPUT:
                rd_write_notification(w, name, 4);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_int(w, "fd", ev->process.fd);
                rd_write_str(w, "data");
                rd_write_bin(w, ev->process.data, ev->process.size);
                return;
        case RD_EVENT_PROCESS_DRAINED:
                rd_write_notification(w, name, 2);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                return;
        case RD_EVENT_PROCESS_EXITED:
                rd_write_notification(w, name, ev->process.signaled ? 5 : 4);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_int(w, "pid", ev->process.pid);
                if (ev->process.signaled) {
                        rd_write_kv_int(w, "signal", ev->process.status);
                        rd_write_kv_bool(w, "core", ev->process.core);
                } else
                        rd_write_kv_int(w, "code", ev->process.status);
                return;
        case RD_EVENT_PROCESS_ENDED:
                rd_write_notification(w, name, 3);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_bool(w, "final", ev->process.final);
                return;
        case RD_EVENT_PROCESS_RESTARTING:
                rd_write_notification(w, name, 4);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_uint(w, "attempt", ev->process.attempt);
                rd_write_kv_duration(w, "delay", ev->process.delay);
                return;
        case RD_EVENT_PROCESS_GAVE_UP:
                rd_write_notification(w, name, 3);
                rd_write_kv_uint(w, "handle", ev->handle);
                rd_write_kv_uint(w, "instance", ev->process.instance);
                rd_write_kv_uint(w, "restarts", ev->process.attempt);
                return;
        case _RD_EVENT_TYPE_MAX:
                break;
        }
}
