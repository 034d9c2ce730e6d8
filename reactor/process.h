/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Child processes (Twisted's spawnProcess) and their supervision (systemd,
 * supervisord).
 *
 * A process handle stands for one spawn request: a program and how to run
 * it, with one or more instances (running copies). Children are started with
 * clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), so a failure to exec (missing
 * program, bad cwd) is an error on the request rather than a mysterious exit,
 * and are tracked by pidfd through sd-event child sources. reactord is a
 * child subreaper: grandchildren left behind are reaped on SIGCHLD.
 *
 * Output is read only while the owner has credit (the child blocks in write()
 * otherwise); stdin has a bounded buffer like a stream's.
 */

#include <sys/types.h>

#include "reactor.h"

typedef enum rd_stdio {
        RD_STDIO_PIPE,    /* a pipe to or from reactord */
        RD_STDIO_NULL,    /* /dev/null */
        RD_STDIO_INHERIT, /* reactord's own */
} rd_stdio;

typedef enum rd_restart {
        RD_RESTART_NEVER,
        RD_RESTART_ON_FAILURE,
        RD_RESTART_ALWAYS,
} rd_restart;

#define RD_PROCESS_MAX_INSTANCES 64
#define RD_PROCESS_MAX_FDS       64

typedef struct rd_spawn {
        char *const *argv;         /* NULL-terminated; argv[0] looked up in PATH without a '/' */
        char *const *env;          /* NULL-terminated KEY=VALUE list: the child's environment */
        const char *cwd;           /* or NULL */
        bool set_uid, set_gid;     /* change identity (the caller checked the privilege) */
        uid_t uid;                 /* when set_uid */
        gid_t gid;                 /* when set_gid */
        rd_stdio stdio[3];         /* stdin, stdout, stderr */
        bool pty;                  /* a pseudo-terminal instead of stdio */
        unsigned short rows, cols; /* its window size */
        size_t n_fds;              /* sockets to pass */
        int fd_target[RD_PROCESS_MAX_FDS];      /* child fd numbers */
        uint64_t fd_handle[RD_PROCESS_MAX_FDS]; /* caller's listener/stream handles */
        bool group;                             /* own process group */
        rd_restart restart;                     /* supervision policy */
        uint64_t backoff_min, backoff_max;      /* µs */
        unsigned restart_limit;  /* give up past this many restarts within the window */
        uint64_t restart_window; /* µs */
        unsigned instances;      /* copies to keep running */
        bool ready;              /* started only at READY=1 */
        bool keep_orphan;        /* outlive the owner's session */
        const char *name;        /* or NULL */
} rd_spawn;

/*
 * Spawn. Returns 0, the handle in *id and the first instance's pid in
 * pids[0..instances). On failure returns -errno and, when a step failed in
 * the child, a message naming it in `err`: -EDQUOT when the owner runs so
 * many processes that `instances` more would pass its max_processes, -EINVAL
 * when `instances` alone is more than that.
 */
int rd_process_spawn(rd_reactor *r, rd_owner *owner, const rd_spawn *args, uint64_t *id,
                     pid_t *pids, char *err, size_t errlen);

/*
 * `instance` < 0: instance 0 for write/close_stdin; every instance for signal.
 * rd_process_write() refuses as rd_stream_write() does: -EAGAIN at high water,
 * -EDQUOT past the owner's max_write_buffer (process.drained follows either),
 * -EMSGSIZE for more than max_write_buffer bytes.
 */
int rd_process_write(rd_reactor *r, rd_owner *caller, uint64_t id, int instance, const void *p,
                     size_t n, size_t *buffered);
int rd_process_close_stdin(rd_reactor *r, rd_owner *caller, uint64_t id, int instance);
int rd_process_signal(rd_reactor *r, rd_owner *caller, uint64_t id, int instance, int signo,
                      bool group);
/* Stop supervising and end every instance: `signo`, then SIGKILL after `timeout` µs. */
int rd_process_stop(rd_reactor *r, rd_owner *caller, uint64_t id, int signo, uint64_t timeout);
/*
 * Move the kept orphan called `name` to `caller`. -ENOENT, -EBUSY (a session
 * owns it), -EDQUOT (its instances would pass the caller's max_processes),
 * -EMFILE.
 */
int rd_process_take(rd_reactor *r, rd_owner *caller, const char *name, uint64_t *id);
/*
 * Write every process as process.list shows it. `write_owner` writes the
 * RD_PROCESS_OWNER_PAIRS key/value pairs that describe the owner (NULL for a
 * kept orphan).
 */
#define RD_PROCESS_OWNER_PAIRS 3
void rd_process_write_list(rd_reactor *r, rd_writer *w,
                           void (*write_owner)(rd_writer *w, rd_owner *o));

/*
 * Stop every process (the daemon is shutting down): TERM, KILL after `timeout`
 * µs. `done` runs from the loop once no child is left (at once if none).
 */
int rd_process_stop_all(rd_reactor *r, uint64_t timeout, void (*done)(void *userdata),
                        void *userdata);

/* Parse "TERM", "SIGTERM" or "15". Returns the signal number or -EINVAL. */
int rd_signal_from_string(const char *s, size_t n);
