/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "basic/log.h"
#include "dispatch.h"
#include "proto/error.h"

#define PARAMS(...)                                                                                \
        .params = (const rd_param[]){ __VA_ARGS__ },                                               \
        .n_params = sizeof((const rd_param[]){ __VA_ARGS__ }) / sizeof(rd_param)
#define EVENTS(...)                                                                                \
        .events = (const char *const[])                                                            \
        {                                                                                          \
                __VA_ARGS__, NULL                                                                  \
        }
#define NO_EVENTS                                                                                  \
        .events = (const char *const[])                                                            \
        {                                                                                          \
                NULL                                                                               \
        }

/* Sorted by name: rd_dispatch_find() bisects it (a unit test checks the order). */
static const rd_method methods[] = {
        {
                .name = "handle.close",
                .fn = rd_api_handle_close,
                .doc = "Close any handle the caller owns.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the handle to close" }),
                NO_EVENTS,
        },
        {
                .name = "listener.join",
                .fn = rd_api_listener_join,
                .doc = "Serve a listener shared by name: new connections are spread over its "
                       "members.",
                PARAMS({ "name", RD_PARAM_STR, true,
                         "the name given at tcp.listen or unix.listen" }),
                EVENTS("listener.accepted"),
        },
        {
                .name = "process.close_stdin",
                .fn = rd_api_process_close_stdin,
                .doc = "Close a child's stdin once its buffer is written.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the process" },
                       { "instance", RD_PARAM_UINT, false, "which copy (default 0)" }),
                NO_EVENTS,
        },
        {
                .name = "process.list",
                .fn = rd_api_process_list,
                .doc = "Every process reactord runs, with pids, states, restarts and owners.",
                NO_EVENTS,
        },
        {
                .name = "process.signal",
                .fn = rd_api_process_signal,
                .doc = "Send a signal (name or number) to a child, or to its process group.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the process" },
                       { "signal", RD_PARAM_ANY, true, "\"TERM\", \"SIGTERM\" or 15" },
                       { "group", RD_PARAM_BOOL, false, "to the whole process group" },
                       { "instance", RD_PARAM_UINT, false, "which copy (default: all)" }),
                EVENTS("process.exited", "process.ended"),
        },
        {
                .name = "process.spawn",
                .fn = rd_api_process_spawn,
                .doc = "Run a program (no shell), optionally supervised; see PROTOCOL.md.",
                PARAMS({ "argv", RD_PARAM_ARRAY, true, "program and arguments" },
                       { "env", RD_PARAM_MAP, false, "environment (default empty)" },
                       { "env_inherit", RD_PARAM_BOOL, false, "start from reactord's environment" },
                       { "cwd", RD_PARAM_STR, false, "working directory" },
                       { "uid", RD_PARAM_UINT, false, "user (root only)" },
                       { "gid", RD_PARAM_UINT, false, "group (root only)" },
                       { "stdin", RD_PARAM_STR, false, "pipe, null or inherit" },
                       { "stdout", RD_PARAM_STR, false, "pipe, null or inherit" },
                       { "stderr", RD_PARAM_STR, false, "pipe, null or inherit" },
                       { "pty", RD_PARAM_BOOL, false, "a pseudo-terminal for stdio" },
                       { "rows", RD_PARAM_UINT, false, "pty rows (24)" },
                       { "cols", RD_PARAM_UINT, false, "pty columns (80)" },
                       { "fds", RD_PARAM_MAP, false, "child fd -> listener or stream handle" },
                       { "group", RD_PARAM_BOOL, false, "own process group (default true)" },
                       { "restart", RD_PARAM_STR, false, "never, on-failure or always" },
                       { "backoff_min", RD_PARAM_DURATION, false, "first restart delay (0.1)" },
                       { "backoff_max", RD_PARAM_DURATION, false, "longest restart delay (30)" },
                       { "restart_limit", RD_PARAM_UINT, false,
                         "restarts per window before giving up (5)" },
                       { "restart_window", RD_PARAM_DURATION, false, "the window, seconds (60)" },
                       { "instances", RD_PARAM_UINT, false, "copies to keep running (1)" },
                       { "ready", RD_PARAM_BOOL, false, "started only at READY=1" },
                       { "orphan", RD_PARAM_STR, false, "stop or keep, when the session ends" },
                       { "name", RD_PARAM_STR, false, "for process.take and process.list" }),
                EVENTS("process.started", "process.ready", "process.output", "process.drained",
                       "process.exited", "process.ended", "process.restarting", "process.gave_up"),
        },
        {
                .name = "process.stop",
                .fn = rd_api_process_stop,
                .doc = "End supervision and stop every instance: signal, then KILL after timeout.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the process" },
                       { "signal", RD_PARAM_ANY, false, "default TERM" },
                       { "timeout", RD_PARAM_DURATION, false, "seconds before KILL (10)" }),
                EVENTS("process.exited", "process.ended"),
        },
        {
                .name = "process.take",
                .fn = rd_api_process_take,
                .doc = "Take over a kept orphan process by name.",
                PARAMS({ "name", RD_PARAM_STR, true, "its name" }),
                NO_EVENTS,
        },
        {
                .name = "process.write",
                .fn = rd_api_process_write,
                .doc = "Write to a child's stdin; EAGAIN when its buffer is full.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the process" },
                       { "data", RD_PARAM_BIN, true, "the bytes" },
                       { "instance", RD_PARAM_UINT, false, "which copy (default 0)" }),
                EVENTS("process.drained"),
        },
        {
                .name = "reactor.info",
                .fn = rd_api_reactor_info,
                .doc = "Server version, uptime, sessions and resources by kind.",
                NO_EVENTS,
        },
        {
                .name = "reactor.methods",
                .fn = rd_api_reactor_methods,
                .doc = "This catalogue: every method, its params and events, and every event.",
                NO_EVENTS,
        },
        {
                .name = "reactor.ping",
                .fn = rd_api_reactor_ping,
                .doc = "Answer at once; renews the lease.",
                NO_EVENTS,
        },
        {
                .name = "reactor.resources",
                .fn = rd_api_reactor_resources,
                .doc = "The caller's handles, with their kind and state.",
                NO_EVENTS,
        },
        {
                .name = "session.ack",
                .fn = rd_api_session_ack,
                .doc = "Return credit: bytes of events the client has handled.",
                PARAMS({ "bytes", RD_PARAM_UINT, true, "event bytes handled" }),
                NO_EVENTS,
        },
        {
                .name = "session.bye",
                .fn = rd_api_session_bye,
                .doc = "End the session and release everything it owns.",
                NO_EVENTS,
        },
        {
                .name = "session.hello",
                .fn = rd_api_session_hello,
                .doc = "Open a session; must come first.",
                .flags = RD_METHOD_NO_SESSION,
                PARAMS({ "protocol", RD_PARAM_UINT, true, "protocol version spoken: 1" },
                       { "name", RD_PARAM_STR, false, "client name shown in reactor.info" },
                       { "lease", RD_PARAM_DURATION, false,
                         "liveness lease in seconds (default 10)" },
                       { "window", RD_PARAM_UINT, false,
                         "credit window in bytes (default 1 MiB)" }),
                EVENTS("session.closed", "session.error"),
        },
        {
                .name = "stream.abort",
                .fn = rd_api_stream_abort,
                .doc = "Drop the write buffer and reset the connection.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" }),
                EVENTS("stream.closed"),
        },
        {
                .name = "stream.close",
                .fn = rd_api_stream_close,
                .doc = "Close once the write buffer is sent.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" }),
                EVENTS("stream.closed"),
        },
        {
                .name = "stream.pause",
                .fn = rd_api_stream_pause,
                .doc = "Stop reading: the peer feels back-pressure.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" }),
                NO_EVENTS,
        },
        {
                .name = "stream.resume",
                .fn = rd_api_stream_resume,
                .doc = "Start reading again after stream.pause.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" }),
                EVENTS("stream.data", "stream.eof"),
        },
        {
                .name = "stream.set",
                .fn = rd_api_stream_set,
                .doc = "Set TCP_NODELAY, SO_KEEPALIVE and the write buffer's water marks.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" },
                       { "nodelay", RD_PARAM_BOOL, false, "TCP_NODELAY (TCP only)" },
                       { "keepalive", RD_PARAM_BOOL, false, "SO_KEEPALIVE (TCP only)" },
                       { "high_water", RD_PARAM_UINT, false,
                         "writes are refused at this many buffered bytes" },
                       { "low_water", RD_PARAM_UINT, false, "stream.drained at this many" }),
                NO_EVENTS,
        },
        {
                .name = "stream.shutdown",
                .fn = rd_api_stream_shutdown,
                .doc = "Half-close: send the buffer, then shut the write side.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" }),
                EVENTS("stream.closed"),
        },
        {
                .name = "stream.write",
                .fn = rd_api_stream_write,
                .doc = "Append to the write buffer; EAGAIN at its high-water mark.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the stream" },
                       { "data", RD_PARAM_BIN, true, "the bytes" }),
                EVENTS("stream.drained", "stream.closed"),
        },
        {
                .name = "tcp.adopt",
                .fn = rd_api_tcp_adopt,
                .doc = "Serve the TCP socket the service manager passed under this name.",
                PARAMS({ "name", RD_PARAM_STR, true, "its FileDescriptorName=" },
                       { "shared", RD_PARAM_BOOL, false,
                         "share the listener under the same name (listener.join)" }),
                EVENTS("listener.accepted"),
        },
        {
                .name = "tcp.connect",
                .fn = rd_api_tcp_connect,
                .doc = "Connect to host:port; the outcome is stream.connected or stream.closed.",
                PARAMS({ "host", RD_PARAM_STR, true, "numeric address or host name" },
                       { "port", RD_PARAM_UINT, true, "1..65535" },
                       { "timeout", RD_PARAM_DURATION, false, "seconds to wait (default 30)" },
                       { "bind", RD_PARAM_MAP, false, "local {host?, port?} to bind first" }),
                EVENTS("stream.connected", "stream.data", "stream.eof", "stream.drained",
                       "stream.closed"),
        },
        {
                .name = "tcp.listen",
                .fn = rd_api_tcp_listen,
                .doc = "Listen on host:port (port 0: any free one, reported).",
                PARAMS({ "host", RD_PARAM_STR, false, "numeric address (default ::, IPv4 too)" },
                       { "port", RD_PARAM_UINT, true, "0..65535" },
                       { "backlog", RD_PARAM_UINT, false, "listen backlog (default 128)" },
                       { "reuse_port", RD_PARAM_BOOL, false, "SO_REUSEPORT" },
                       { "name", RD_PARAM_STR, false, "share the listener under this name" }),
                EVENTS("listener.accepted"),
        },
        {
                .name = "timer.cancel",
                .fn = rd_api_timer_cancel,
                .doc = "Stop a timer and release its handle.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the timer" }),
                NO_EVENTS,
        },
        {
                .name = "timer.reset",
                .fn = rd_api_timer_reset,
                .doc = "Make a timer next fire `after` seconds from now.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the timer" },
                       { "after", RD_PARAM_DURATION, true, "seconds from now" }),
                NO_EVENTS,
        },
        {
                .name = "timer.start",
                .fn = rd_api_timer_start,
                .doc = "Fire after `after` seconds, then every `every` seconds if given.",
                PARAMS({ "after", RD_PARAM_DURATION, true, "seconds until the first firing" },
                       { "every", RD_PARAM_DURATION, false,
                         "period in seconds (> 0); omit for once" }),
                EVENTS("timer.fired"),
        },
        {
                .name = "udp.bind",
                .fn = rd_api_udp_bind,
                .doc = "Bind a datagram socket on host:port (port 0: any free one, reported).",
                PARAMS({ "host", RD_PARAM_STR, false, "numeric address (default ::, IPv4 too)" },
                       { "port", RD_PARAM_UINT, true, "0..65535" },
                       { "reuse_port", RD_PARAM_BOOL, false, "SO_REUSEPORT" },
                       { "broadcast", RD_PARAM_BOOL, false, "SO_BROADCAST" }),
                EVENTS("udp.datagram"),
        },
        {
                .name = "udp.join",
                .fn = rd_api_udp_join,
                .doc = "Join a multicast group.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the socket" },
                       { "group", RD_PARAM_STR, true, "multicast address" },
                       { "interface", RD_PARAM_STR, false, "interface name (default: any)" }),
                NO_EVENTS,
        },
        {
                .name = "udp.leave",
                .fn = rd_api_udp_leave,
                .doc = "Leave a multicast group.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the socket" },
                       { "group", RD_PARAM_STR, true, "multicast address" },
                       { "interface", RD_PARAM_STR, false, "interface name (default: any)" }),
                NO_EVENTS,
        },
        {
                .name = "udp.send",
                .fn = rd_api_udp_send,
                .doc = "Send one datagram to host:port.",
                PARAMS({ "handle", RD_PARAM_HANDLE, true, "the socket" },
                       { "data", RD_PARAM_BIN, true, "the datagram" },
                       { "host", RD_PARAM_STR, true, "numeric address" },
                       { "port", RD_PARAM_UINT, true, "0..65535" }),
                NO_EVENTS,
        },
        {
                .name = "unix.adopt",
                .fn = rd_api_unix_adopt,
                .doc = "Serve the UNIX socket the service manager passed under this name.",
                PARAMS({ "name", RD_PARAM_STR, true, "its FileDescriptorName=" },
                       { "shared", RD_PARAM_BOOL, false,
                         "share the listener under the same name (listener.join)" }),
                EVENTS("listener.accepted"),
        },
        {
                .name = "unix.connect",
                .fn = rd_api_unix_connect,
                .doc = "Connect to a UNIX socket; the outcome is stream.connected or "
                       "stream.closed.",
                PARAMS({ "path", RD_PARAM_STR, false, "file system path" },
                       { "abstract", RD_PARAM_STR, false, "abstract name" }),
                EVENTS("stream.connected", "stream.data", "stream.eof", "stream.drained",
                       "stream.closed"),
        },
        {
                .name = "unix.listen",
                .fn = rd_api_unix_listen,
                .doc = "Listen on a UNIX socket; accepted peers report pid, uid and gid.",
                PARAMS({ "path", RD_PARAM_STR, false, "file system path (must not exist)" },
                       { "abstract", RD_PARAM_STR, false, "abstract name" },
                       { "mode", RD_PARAM_UINT, false, "permissions of the socket file" },
                       { "backlog", RD_PARAM_UINT, false, "listen backlog (default 128)" },
                       { "name", RD_PARAM_STR, false, "share the listener under this name" }),
                EVENTS("listener.accepted"),
        },
};

/* Events and their payload fields, for the catalogue. */
static const struct {
        const char *name;
        const char *doc;
        const char *const *fields;
} events[] = {
        { "listener.accepted", "a connection was accepted; stream is its new handle",
          (const char *const[]){ "handle", "listener", "stream", "peer", "local", NULL } },
        { "process.drained", "its stdin buffer fell to the low-water mark",
          (const char *const[]){ "handle", "instance", NULL } },
        { "process.ended", "exited and every pipe closed; final: the handle is released",
          (const char *const[]){ "handle", "instance", "final", NULL } },
        { "process.exited", "the child ended: code, or signal and core",
          (const char *const[]){ "handle", "instance", "pid", "code", "signal", "core", NULL } },
        { "process.gave_up", "too many restarts within the window",
          (const char *const[]){ "handle", "instance", "restarts", NULL } },
        { "process.output", "bytes on its stdout (fd 1) or stderr (fd 2)",
          (const char *const[]){ "handle", "instance", "fd", "data", NULL } },
        { "process.ready", "the child sent READY=1",
          (const char *const[]){ "handle", "instance", "pid", NULL } },
        { "process.restarting", "a restart is scheduled after delay seconds",
          (const char *const[]){ "handle", "instance", "attempt", "delay", NULL } },
        { "process.started", "a child runs",
          (const char *const[]){ "handle", "instance", "pid", NULL } },
        { "session.closed", "reactord ended the session", (const char *const[]){ "reason", NULL } },
        { "session.error", "an error no response can carry",
          (const char *const[]){ "code", "message", "msgid", "method", NULL } },
        { "stream.closed", "the stream is gone and its handle released",
          (const char *const[]){ "handle", "reason", "code", NULL } },
        { "stream.connected", "a connect completed",
          (const char *const[]){ "handle", "peer", "local", NULL } },
        { "stream.data", "bytes arrived (at most 64 KiB)",
          (const char *const[]){ "handle", "data", NULL } },
        { "stream.drained", "the write buffer fell to its low-water mark",
          (const char *const[]){ "handle", NULL } },
        { "stream.eof", "the peer half-closed", (const char *const[]){ "handle", NULL } },
        { "timer.fired", "a timer fired; ticks counts the periods since the last event",
          (const char *const[]){ "handle", "ticks", NULL } },
        { "udp.datagram", "a datagram arrived",
          (const char *const[]){ "handle", "data", "host", "port", NULL } },
};

/*
 * strcmp() order between the `len` bytes of `name` and the string `m`. The
 * bytes are compared as bytes: a name holding a NUL must neither match a
 * method nor make the comparison read past `m` (found by fuzz-params).
 */
static int compare_name(const char *name, size_t len, const char *m)
{
        size_t n = strlen(m);
        int k = memcmp(name, m, len < n ? len : n);

        if (k != 0)
                return k;
        return len < n ? -1 : len > n ? 1 : 0;
}

const rd_method *rd_dispatch_find(const char *name, size_t len)
{
        size_t lo = 0, hi = ELEMENTSOF(methods);

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int k = compare_name(name, len, methods[mid].name);
                if (k == 0)
                        return &methods[mid];
                if (k < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

void rd_call_reply(rd_call *c, uint32_t n_fields)
{
        rd_write_result(c->w, c->msgid, n_fields);
        c->replied = true;
}

int rd_call_fail(rd_call *c, int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->error, sizeof(c->error), fmt, ap);
        va_end(ap);
        return err;
}

static void log_failure(const rd_session *s, const rd_msg *msg, const rd_method *m,
                        const rd_arg *args, int err, const char *message)
{
        rd_log_fields f = RD_LOG_FIELDS_INIT;

        /* Caller mistakes are expected traffic: keep them at debug level. */
        if (!rd_log_enabled(RD_LOG_DEBUG))
                return;
        rd_session_log_fields(s, &f);
        rd_log_fields_add(&f, "REACTORD_METHOD", "%.*s", (int)msg->name_len, msg->name);
        /* The handle the request is about, when its params name one. */
        for (size_t i = 0; m && i < m->n_params && i < RD_MAX_PARAMS; i++)
                if (m->params[i].type == RD_PARAM_HANDLE && args[i].present) {
                        rd_log_fields_add(&f, "REACTORD_HANDLE", "%" PRIu64, args[i].u);
                        break;
                }
        rd_log_full(RD_LOG_DEBUG, 0, &f, "session %" PRIu64 ": %.*s: %s: %s", s ? s->id : 0,
                    (int)msg->name_len, msg->name, rd_error_name(err), message);
}

int rd__dispatch_check(const rd_msg *msg, bool has_session, bool shutting_down, rd_call *c,
                       const rd_method **ret)
{
        const rd_method *m = rd_dispatch_find(msg->name, msg->name_len);

        *ret = m;
        if (!m)
                return rd_call_fail(c, -ENOSYS, "unknown method '%.*s'", (int)msg->name_len,
                                    msg->name);
        if (!has_session && !(m->flags & RD_METHOD_NO_SESSION))
                return rd_call_fail(c, -ENOTCONN, "no session: send session.hello first");
        if (shutting_down)
                return rd_call_fail(c, -ESHUTDOWN, "reactord is shutting down");
        return rd_params_parse(msg->params, m->params, m->n_params, c->args, c->error,
                               sizeof(c->error));
}

/* Bytes of the notifications' result buffer kept between calls. */
#define DISCARD_KEEP (64 * 1024)

int rd_dispatch(rd_broker *b, rd_session *s, const rd_rid *rid, const char *peer, const rd_msg *msg,
                rd_writer *reply)
{
        const rd_method *m;
        bool notification = msg->type == RD_MSG_NOTIFICATION;
        size_t mark = reply->size;
        int k;

        rd_call c = {
                .broker = b,
                .session = s,
                .rid = *rid,
                .peer = peer,
                /* A notification's result is written, to one buffer reused for all. */
                .w = notification ? &b->discard : reply,
                .msgid = msg->msgid,
        };

        k = rd__dispatch_check(msg, s != NULL, b->shutting_down, &c, &m);
        if (k >= 0)
                k = m->fn(&c);

        if (k < 0) {
                if (!c.error[0])
                        snprintf(c.error, sizeof(c.error), "%s", rd_error_message(k));
                log_failure(s, msg, m, c.args, k, c.error);
                if (notification) {
                        char method[64];
                        snprintf(method, sizeof(method), "%.*s", (int)msg->name_len, msg->name);
                        rd__broker_report(b, s, rid, k, c.error, NULL, method);
                } else {
                        /* A handler that wrote part of a result before failing: drop it. */
                        reply->size = mark;
                        rd_write_error(reply, msg->msgid, k, c.error);
                }
        } else if (!notification && !c.replied)
                rd_write_result(reply, msg->msgid, 0);

        if (notification) {
                rd_writer_reset(&b->discard);
                /* Kept for the next one, unless a large result grew it. */
                if (b->discard.capacity > DISCARD_KEEP)
                        rd_writer_done(&b->discard);
        }
        return k;
}

void rd_dispatch_write_catalogue(rd_writer *w)
{
        rd_write_map(w, 2);
        rd_write_str(w, "methods");
        rd_write_array(w, ELEMENTSOF(methods));
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                const rd_method *m = &methods[i];
                uint32_t n = 0;

                rd_write_map(w, 4);
                rd_write_kv_str(w, "name", m->name);
                rd_write_kv_str(w, "doc", m->doc);
                rd_write_str(w, "params");
                rd_params_write_spec(w, m->params, m->n_params);
                rd_write_str(w, "events");
                while (m->events[n])
                        n++;
                rd_write_array(w, n);
                for (uint32_t j = 0; j < n; j++)
                        rd_write_str(w, m->events[j]);
        }
        rd_write_str(w, "events");
        rd_write_array(w, ELEMENTSOF(events));
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                uint32_t n = 0;

                rd_write_map(w, 3);
                rd_write_kv_str(w, "name", events[i].name);
                rd_write_kv_str(w, "doc", events[i].doc);
                rd_write_str(w, "fields");
                while (events[i].fields[n])
                        n++;
                rd_write_array(w, n);
                for (uint32_t j = 0; j < n; j++)
                        rd_write_str(w, events[i].fields[j]);
        }
}
