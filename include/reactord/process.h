/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libreactord: processes. Typed calls for the processes of PROTOCOL.md (§4,
 * "processes"): spawning a child under reactord's supervision, writing to its
 * stdin, signalling and stopping it, taking over a kept orphan, and accessors
 * for the payloads of its events.
 *
 * Each call is a thin wrapper over rd_client_call(): it builds the params,
 * waits for the reply and reads the result. Errors are those of
 * rd_client_call(): a negative errno, with the server's message in
 * rd_client_last_error() (for a failed spawn it names the step that failed:
 * "exec /no/such: No such file or directory"). Every call may be made from
 * inside a handler.
 *
 * Events (process.started, .ready, .output, .drained, .exited, .ended,
 * .restarting, .gave_up) arrive through rd_client_on() on the process's
 * handle; each names the `instance` it is about. The spawn's reply precedes
 * every event of the new handle, so routing them after rd_client_spawn()
 * returns misses none. The library forgets the handler by itself once a
 * process.ended with `final: true` has been dispatched: the server released
 * the handle with it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <reactord/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spawning ----------------------------------------------------------------------------- */

/* What one of the child's fds 0, 1, 2 is connected to. */
typedef enum rd_spawn_stdio {
        RD_SPAWN_PIPE = 0, /* a pipe to reactord: process.write, process.output (the default) */
        RD_SPAWN_NULL,     /* /dev/null */
        RD_SPAWN_INHERIT,  /* reactord's own fd */
} rd_spawn_stdio;

/* When a child that exited is started again. */
typedef enum rd_spawn_restart {
        RD_SPAWN_RESTART_NEVER =
                0, /* never: the handle goes with its process.ended (the default) */
        RD_SPAWN_RESTART_ON_FAILURE, /* after a non-zero exit code or a killing signal */
        RD_SPAWN_RESTART_ALWAYS,     /* whatever the exit */
} rd_spawn_restart;

/* What happens to the process when the owning session ends. */
typedef enum rd_spawn_orphan {
        RD_SPAWN_ORPHAN_STOP = 0, /* stopped as by process.stop (the default) */
        RD_SPAWN_ORPHAN_KEEP,     /* kept running and supervised until a session takes it over */
} rd_spawn_orphan;

/* One socket handed to the child: `fds` of process.spawn. */
typedef struct rd_spawn_fd {
        int child_fd;    /* the fd number in the child: 3, 4, ... */
        uint64_t handle; /* a listener or stream handle of this session */
} rd_spawn_fd;

/*
 * Options of process.spawn. Start from RD_SPAWN_OPTIONS_INIT, which means the
 * server's defaults for everything; every pointer is borrowed for the call.
 */
typedef struct rd_spawn_options {
        const char *const *env;     /* "KEY=VALUE" strings, NULL-terminated; NULL: none */
        bool env_inherit;           /* start from reactord's environment, then apply `env` */
        const char *cwd;            /* working directory; NULL: reactord's */
        uid_t uid;                  /* run as this user; (uid_t)-1: reactord's */
        gid_t gid;                  /* run as this group; (gid_t)-1: reactord's */
        rd_spawn_stdio stdin_mode;  /* the child's fd 0 */
        rd_spawn_stdio stdout_mode; /* its fd 1 */
        rd_spawn_stdio stderr_mode; /* its fd 2 */
        bool pty;                   /* a pseudo-terminal as fds 0, 1, 2 (output comes as fd 1) */
        unsigned rows;              /* the pty's window size; 0: the server's default (24) */
        unsigned cols;              /* 0: the server's default (80) */
        const rd_spawn_fd *fds;     /* sockets handed to the child; may be NULL when n_fds is 0 */
        size_t n_fds;               /* how many */
        bool group;                 /* a process group of its own (default true) */
        rd_spawn_restart restart;   /* restart policy */
        double backoff_min;         /* first restart delay, seconds; < 0: the server's (0.1) */
        double backoff_max;         /* longest restart delay; < 0: the server's (30) */
        int restart_limit;      /* restarts allowed within restart_window; < 0: the server's (5) */
        double restart_window;  /* seconds; < 0: the server's (60) */
        unsigned instances;     /* copies kept running (1..64); 0: one */
        bool ready;             /* started only at READY=1 on NOTIFY_SOCKET */
        rd_spawn_orphan orphan; /* when this session ends */
        const char *name;       /* for process.take and process.list; NULL: none */
} rd_spawn_options;

#define RD_SPAWN_OPTIONS_INIT                                                                      \
        ((rd_spawn_options){ .uid = (uid_t)-1,                                                     \
                             .gid = (gid_t)-1,                                                     \
                             .group = true,                                                        \
                             .backoff_min = -1,                                                    \
                             .backoff_max = -1,                                                    \
                             .restart_limit = -1,                                                  \
                             .restart_window = -1 })

/*
 * process.spawn: run `argv` (argv[0] the program, NULL-terminated; no shell
 * is involved) under reactord with `opts` (NULL: every default). On success
 * *handle (may be NULL) is the process's handle and *pid (may be NULL) the
 * pid of its first instance (0 when the server reported none). Route its
 * events with rd_client_on(c, *handle, ...). A program that cannot be run is
 * an error of this call (-ENOENT, -EACCES, -ENOEXEC, ...), never an exit.
 * An "env" entry without '=' is -EINVAL; of entries with the same KEY the
 * last one counts.
 */
RD_EXPORT int rd_client_spawn(rd_client *c, const char *const *argv, const rd_spawn_options *opts,
                              uint64_t *handle, pid_t *pid);

/* ---- talking to a process ----------------------------------------------------------------- */

/*
 * `instance` in the calls below: the 0-based instance a call is about, or -1
 * for the server's default (instance 0 for stdin; every running instance for
 * a signal).
 */

/*
 * process.write: append `data[0..len)` to the stdin buffer of `instance`.
 * Returns the bytes now buffered (>= 0, at most INT_MAX), or -EAGAIN when the
 * buffer is at its high-water mark or the session's write buffers are at
 * max_write_buffer: nothing was written, and the handler gets process.drained
 * once there is room; write again only then (-EMSGSIZE: larger than
 * max_write_buffer). -EPIPE once stdin is closed (or not a pipe); -ENOENT once the handle
 * is gone. One write must fit in a frame (1 MiB by default): larger is -E2BIG.
 */
RD_EXPORT int rd_client_process_write(rd_client *c, uint64_t handle, int instance, const void *data,
                                      size_t len);

/*
 * process.write without waiting for the reply: `data` is copied before the
 * call returns and `cb` (may be NULL) runs with the reply. The caveat of
 * rd_client_stream_write_async() applies: after one write failed with
 * -EAGAIN, writes sent after it may have been accepted.
 */
RD_EXPORT int rd_client_process_write_async(rd_client *c, uint64_t handle, int instance,
                                            const void *data, size_t len, rd_reply_fn cb,
                                            void *userdata);

/* process.close_stdin: close the child's stdin once its buffer is written (it reads EOF). */
RD_EXPORT int rd_client_process_close_stdin(rd_client *c, uint64_t handle, int instance);

/*
 * process.signal: send signal number `signo` to `instance` (-1: every running
 * instance), to its whole process group when `group` is true. -ESRCH when no
 * instance it names is running (it exited, and its process.ended may still be
 * on its way).
 */
RD_EXPORT int rd_client_process_signal(rd_client *c, uint64_t handle, int signo, bool group,
                                       int instance);

/* process.signal with the signal given by name: "TERM" or "SIGTERM". */
RD_EXPORT int rd_client_process_signal_name(rd_client *c, uint64_t handle, const char *name,
                                            bool group, int instance);

/*
 * process.stop: end supervision and stop every instance: `signo` (0: TERM) to
 * its process group, then KILL after `timeout` seconds (< 0: the server's
 * default, 10 s). Returns at once; the handle is released with the last
 * process.ended, which has `final: true`.
 */
RD_EXPORT int rd_client_process_stop(rd_client *c, uint64_t handle, int signo, double timeout);

/*
 * process.take: take over the kept orphan named `name` (spawned with
 * RD_SPAWN_ORPHAN_KEEP by a session that has ended). *handle receives its handle,
 * now owned by this session. -ENOENT when no process has that name, -EBUSY
 * when a live session owns it.
 */
RD_EXPORT int rd_client_process_take(rd_client *c, const char *name, uint64_t *handle);

/* ---- event payloads ----------------------------------------------------------------------- */

/* The `instance` an event of a process names (0-based), or -EINVAL when it names none. */
RD_EXPORT int rd_client_event_instance(const rd_client_event *ev);

/* The `pid` of process.started, .ready or .exited, or 0 when the event carries none. */
RD_EXPORT pid_t rd_client_event_pid(const rd_client_event *ev);

/*
 * process.output: *fd (may be NULL) receives 1 for stdout (and a pty), 2 for
 * stderr; *data and *len the bytes, borrowed for the handler's duration.
 * Returns 0, or -EINVAL when the event is not a process.output.
 */
RD_EXPORT int rd_client_event_output(const rd_client_event *ev, int *fd, const void **data,
                                     size_t *len);

/*
 * process.exited: how the child ended. Either it exited, and *code is its exit
 * status while *signo is 0, or a signal killed it, and *signo is its number,
 * *code -1 and *core whether it dumped core. Each pointer may be NULL.
 * Returns 0, or -EINVAL when the event is not a process.exited.
 */
RD_EXPORT int rd_client_event_exited(const rd_client_event *ev, int *code, int *signo, bool *core);

/* process.ended: is this the last one (`final: true`), after which the handle is gone? */
RD_EXPORT bool rd_client_event_final(const rd_client_event *ev);

#ifdef __cplusplus
}
#endif
