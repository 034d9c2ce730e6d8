/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "basic/buffer.h"
#include "basic/log.h"
#include "handle.h"
#include "process.h"
#include "stream.h"

#define CHILD_STACK_SIZE     (256 * 1024)
#define DEFAULT_PATH         "/usr/local/bin:/usr/bin:/bin"
#define STOP_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)

typedef struct rd_process rd_process;
typedef struct instance instance;

/* Per reactor: what every process shares. */
typedef struct rd_processes {
        sd_event_source *sigchld; /* reaps children that are not ours (orphaned grandchildren) */
        rd_hashmap pids;          /* pid -> instance, for children we track */
        rd_hashmap names;         /* name -> rd_process */
        rd_list all;              /* every rd_process */
        size_t n_processes;       /* length of all */
        void *stack;              /* the stack children start on (CLONE_VFORK: one at a time) */
        unsigned notify_serial;   /* makes NOTIFY_SOCKET names unique */
        sigset_t ignored;         /* signals reactord ignores: children get them back as default */
        bool stopping_all;        /* the daemon is shutting down */
        void (*all_stopped)(void *userdata); /* called once no process is left */
        void *all_stopped_userdata;          /* for all_stopped */
        sd_event_source *all_stopped_defer;  /* runs all_stopped from the loop */
} rd_processes;

typedef struct output {
        instance *inst;      /* back pointer */
        int fd;              /* the read end, or -EBADF once closed */
        int which;           /* 1 (stdout, or the pty) or 2 (stderr) */
        sd_event_source *io; /* watches fd */
        bool stalled;        /* waiting for the owner's credit */
} output;

struct instance {
        rd_process *proc;           /* back pointer */
        unsigned index;             /* 0-based */
        pid_t pid;                  /* the running child, or 0 */
        sd_event_source *child;     /* its pidfd child source (owns the pidfd) */
        int pidfd;                  /* the pidfd, owned by child */
        output out[2];              /* stdout and stderr readers */
        int in_fd;                  /* stdin's write end, or -EBADF */
        sd_event_source *in_io;     /* watches in_fd while the buffer is not empty */
        rd_buffer in;               /* bytes for stdin */
        bool in_want_drained;       /* a write was refused at high water: report the drain */
        bool in_want_room;          /* a write was refused for the owner's quota: report room */
        bool in_closing;            /* close stdin once the buffer is written */
        int notify_fd;              /* the child's NOTIFY_SOCKET, or -EBADF */
        sd_event_source *notify_io; /* watches notify_fd */
        sd_event_source *restart;   /* pending restart, or NULL */
        bool running;               /* spawned and not yet ended */
        bool exited;                /* the child is gone (output may still flow) */
        bool ready;                 /* it sent READY=1 */
        bool failed;                /* its last exit was a failure */
        bool gave_up;               /* too many restarts: stays down */
        unsigned restarts;          /* restarts in all */
        unsigned in_window;         /* restarts in the current window */
        uint64_t window_start;      /* when the current window began */
};

struct rd_process {
        rd_handle handle;                  /* base; must be first */
        rd_processes *ps;                  /* shared state */
        rd_list link;                      /* in ps->all */
        char **argv;                       /* owned, NULL-terminated */
        char *path;                        /* the executable */
        char **env;                        /* owned, NULL-terminated */
        char *cwd;                         /* or NULL */
        char *name;                        /* or NULL */
        bool set_uid, set_gid;             /* identity change */
        uid_t uid;                         /* when set_uid */
        gid_t gid;                         /* when set_gid */
        rd_stdio stdio[3];                 /* stdin, stdout, stderr */
        bool pty;                          /* a pseudo-terminal */
        unsigned short rows, cols;         /* its size */
        size_t n_fds;                      /* sockets passed */
        int fd_target[RD_PROCESS_MAX_FDS]; /* child fd numbers */
        int fd_src[RD_PROCESS_MAX_FDS];    /* our CLOEXEC copies */
        bool listen_fds;    /* the targets are 3, 4, ...: set LISTEN_FDS/LISTEN_PID */
        bool group;         /* own process group */
        rd_restart restart; /* policy */
        uint64_t backoff_min, backoff_max, restart_window; /* µs */
        unsigned restart_limit;                            /* restarts allowed per window */
        bool ready_required;                               /* started only at READY=1 */
        bool keep_orphan;                                  /* outlives its owner */
        bool stopping;                                     /* process.stop: no more restarts */
        int stop_signal;                                   /* what stop sent */
        sd_event_source *kill_timer;                       /* SIGKILL after the stop timeout */
        unsigned n_alive;     /* instances running or waiting to restart */
        unsigned n_instances; /* length of inst */
        instance inst[];      /* the copies */
};

/* ---- small helpers ---- */

static bool match_pid(const void *value, const void *key)
{
        return ((const instance *)value)->pid == *(const pid_t *)key;
}

static bool match_name(const void *value, const void *key)
{
        const rd_process *p = value;
        return p->name && strcmp(p->name, *(const char *const *)key) == 0;
}

static void strv_free(char **v)
{
        for (char **i = v; i && *i; i++)
                free(*i);
        free(v);
}

static char **strv_copy(char *const *v)
{
        size_t n = 0;
        char **c;

        while (v && v[n])
                n++;
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

static uint64_t now_usec(rd_reactor *r)
{
        uint64_t now;
        if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
        }
        return now;
}

static void emit(instance *inst, rd_event_type type, rd_event *ev)
{
        ev->type = type;
        ev->handle = inst->proc->handle.id;
        ev->process.instance = inst->index;
        rd__handle_emit(&inst->proc->handle, ev);
}

int rd_signal_from_string(const char *s, size_t n)
{
        static const struct {
                const char *name;
                int signo;
        } table[] = {
                { "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT },
                { "ILL", SIGILL },   { "ABRT", SIGABRT },   { "FPE", SIGFPE },
                { "KILL", SIGKILL }, { "SEGV", SIGSEGV },   { "PIPE", SIGPIPE },
                { "ALRM", SIGALRM }, { "TERM", SIGTERM },   { "USR1", SIGUSR1 },
                { "USR2", SIGUSR2 }, { "CHLD", SIGCHLD },   { "CONT", SIGCONT },
                { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },
                { "TTOU", SIGTTOU }, { "WINCH", SIGWINCH },
        };
        char buf[16];
        long v;
        char *end;

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        v = strtol(buf, &end, 10);
        if (!errno && *end == '\0' && end != buf)
                return v >= 1 && v < NSIG ? (int)v : -EINVAL;
        const char *name = strncmp(buf, "SIG", 3) == 0 ? buf + 3 : buf;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(name, table[i].name) == 0)
                        return table[i].signo;
        return -EINVAL;
}

/* ---- the child side: runs on a borrowed stack in the parent's memory (CLONE_VM) ---- */

typedef struct child_args {
        const char *path;                     /* to execve */
        char **argv;                          /* argv */
        char **envp;                          /* envp */
        const char *cwd;                      /* or NULL */
        const char *pty_name;                 /* slave device, or NULL */
        int stdio[3];                         /* fds for 0, 1, 2; -1 to leave as is */
        size_t n_fds;                         /* sockets to place */
        const int *fd_target;                 /* where */
        int fd_moved[RD_PROCESS_MAX_FDS + 3]; /* scratch */
        const int *fd_src;                    /* from */
        int high;   /* fds at or above this are safe from the dup2 targets */
        bool group; /* setpgid(0, 0) */
        bool set_uid, set_gid;
        uid_t uid;
        gid_t gid;
        const sigset_t *ignored; /* dispositions to reset to SIG_DFL */
        pid_t parent;            /* reactord, for the parent-death check */
        char *listen_pid;        /* digits to fill with our pid, or NULL */
        int err;                 /* out: errno of the failed step, 0 if exec worked */
        const char *step;        /* out: the failed step */
} child_args;

_Noreturn static void child_fail(child_args *a, const char *step)
{
        a->err = errno;
        a->step = step;
        _exit(127);
}

/* Async-signal-safe and allocation-free: the parent's memory is shared until exec. */
static int child_main(void *arg)
{
        child_args *a = arg;
        sigset_t none;
        int tty = -1;

        if (a->pty_name) {
                if (setsid() < 0)
                        child_fail(a, "setsid");
                tty = open(a->pty_name, O_RDWR); /* a session leader's first tty: its terminal */
                if (tty < 0)
                        child_fail(a, "open pty");
                (void)ioctl(tty, TIOCSCTTY, 0);
                a->stdio[0] = a->stdio[1] = a->stdio[2] = tty;
        } else if (a->group && setpgid(0, 0) < 0)
                child_fail(a, "setpgid");

        /* Lift every source above every target so no dup2() clobbers a source. */
        for (int k = 0; k < 3; k++)
                if (a->stdio[k] >= 0 &&
                    (a->stdio[k] = fcntl(a->stdio[k], F_DUPFD_CLOEXEC, a->high)) < 0)
                        child_fail(a, "dup stdio");
        for (size_t i = 0; i < a->n_fds; i++)
                if ((a->fd_moved[i] = fcntl(a->fd_src[i], F_DUPFD_CLOEXEC, a->high)) < 0)
                        child_fail(a, "dup fds");
        /* Everything not placed below closes at exec. */
        (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        for (int k = 0; k < 3; k++)
                if (a->stdio[k] >= 0 && dup2(a->stdio[k], k) < 0)
                        child_fail(a, "dup2 stdio");
        for (size_t i = 0; i < a->n_fds; i++)
                if (dup2(a->fd_moved[i], a->fd_target[i]) < 0)
                        child_fail(a, "dup2 fds");

        if (a->cwd && chdir(a->cwd) < 0)
                child_fail(a, "chdir");
        /* Raw syscalls: glibc's wrappers would signal the parent's threads (setxid). */
        if (a->set_gid && (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setgid, a->gid) < 0))
                child_fail(a, "setgid");
        if (a->set_uid && syscall(SYS_setuid, a->uid) < 0)
                child_fail(a, "setuid");
        /*
         * A child must not outlive reactord, whatever its orphan policy: a
         * restarted reactord does not know it, so no one could take it over
         * or stop it. (Set after the identity change, which clears it.)
         */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Ignored dispositions survive exec: give back what reactord ignores (SIGPIPE...). */
        for (int sig = 1; sig < NSIG; sig++)
                if (sigismember(a->ignored, sig) == 1)
                        (void)signal(sig, SIG_DFL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        /* reactord died before the prctl() took: the signal it would have sent. Raw system
         * calls: glibc's raise() would name the parent's thread (CLONE_VM). */
        if ((pid_t)syscall(SYS_getppid) != a->parent)
                (void)syscall(SYS_kill, (pid_t)syscall(SYS_getpid), SIGTERM);

        if (a->listen_pid) {
                char digits[16];
                int n = 0;
                pid_t pid = (pid_t)syscall(SYS_getpid);
                do
                        digits[n++] = (char)('0' + pid % 10);
                while ((pid /= 10) > 0);
                for (int i = 0; i < n; i++)
                        a->listen_pid[i] = digits[n - 1 - i];
                a->listen_pid[n] = '\0';
        }
        execve(a->path, a->argv, a->envp);
        child_fail(a, "exec");
}

/* ---- the parent side ---- */

static void output_close(output *o)
{
        o->io = sd_event_source_disable_unref(o->io);
        if (o->fd >= 0)
                close(o->fd);
        o->fd = -EBADF;
}

static void stdin_close(instance *inst)
{
        inst->in_io = sd_event_source_disable_unref(inst->in_io);
        if (inst->in_fd >= 0)
                close(inst->in_fd);
        inst->in_fd = -EBADF;
        rd__owner_write_released(inst->proc->handle.owner, rd_buffer_size(&inst->in));
        rd_buffer_done(&inst->in);
        inst->in_closing = false;
}

static void notify_close(instance *inst)
{
        inst->notify_io = sd_event_source_disable_unref(inst->notify_io);
        if (inst->notify_fd >= 0)
                close(inst->notify_fd);
        inst->notify_fd = -EBADF;
}

/* Forget the child's pid and pidfd (it is reaped, or being killed and reaped). */
static void untrack(instance *inst)
{
        rd_processes *ps = inst->proc->ps;

        if (inst->pid > 0)
                rd_hashmap_remove(&ps->pids, (uint64_t)inst->pid, match_pid, &inst->pid);
        inst->child = sd_event_source_disable_unref(inst->child); /* closes the pidfd */
        inst->pidfd = -EBADF;
}

static void release(rd_process *p);
static void maybe_end(instance *inst);
static void reap_strays(rd_processes *ps);
static int spawn_instance(rd_process *p, instance *inst, char *err, size_t errlen);

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
        instance *inst = userdata;
        rd_process *p = inst->proc;
        char err[160];

        inst->restart = sd_event_source_disable_unref(inst->restart);
        if (spawn_instance(p, inst, err, sizeof(err)) < 0) {
                /* Reported as an exit with 127 (the shell's "cannot run"), then the policy decides.
                 */
                rd_event ev = { 0 };
                log_handle(RD_LOG_WARNING, &p->handle,
                           "process %" PRIu64 " instance %u: restart failed: %s", p->handle.id,
                           inst->index, err);
                ev.process.status = 127;
                emit(inst, RD_EVENT_PROCESS_EXITED, &ev);
                inst->failed = true;
                inst->running = true;
                inst->exited = true;
                maybe_end(inst);
        }
        return 0;
}

/* Did the whole instance end (child gone, output closed)? Then report and decide what is next. */
static void maybe_end(instance *inst)
{
        rd_process *p = inst->proc;
        rd_reactor *r = p->handle.reactor;
        rd_event ev = { 0 };
        bool again;

        if (!inst->running || !inst->exited || inst->out[0].fd >= 0 || inst->out[1].fd >= 0)
                return;
        inst->running = false;
        inst->ready = false;
        stdin_close(inst);
        notify_close(inst);

        again = !p->stopping && !p->ps->stopping_all &&
                (p->restart == RD_RESTART_ALWAYS ||
                 (p->restart == RD_RESTART_ON_FAILURE && inst->failed));
        if (again) {
                uint64_t now = now_usec(r);
                if (now - inst->window_start > p->restart_window) {
                        inst->window_start = now;
                        inst->in_window = 0;
                }
                if (inst->in_window >= p->restart_limit) {
                        inst->gave_up = true;
                        ev.process.attempt = inst->restarts;
                        emit(inst, RD_EVENT_PROCESS_GAVE_UP, &ev);
                        log_handle(RD_LOG_NOTICE, &p->handle,
                                   "process %" PRIu64
                                   " (%s) instance %u: %u restarts within %.0f s, giving up",
                                   p->handle.id, p->argv[0], inst->index, inst->in_window,
                                   (double)p->restart_window / 1e6);
                        again = false;
                }
        }
        if (again) {
                uint64_t delay = p->backoff_min;
                for (unsigned i = 0; i < inst->in_window && delay < p->backoff_max; i++)
                        delay *= 2;
                if (delay > p->backoff_max)
                        delay = p->backoff_max;
                inst->in_window++;
                inst->restarts++;
                ev.process.final = false;
                emit(inst, RD_EVENT_PROCESS_ENDED, &ev);
                ev = (rd_event){ 0 };
                ev.process.attempt = inst->in_window;
                ev.process.delay = delay;
                emit(inst, RD_EVENT_PROCESS_RESTARTING, &ev);
                if (sd_event_add_time_relative(r->event, &inst->restart, CLOCK_MONOTONIC, delay,
                                               USEC_PER_MSEC, on_restart, inst) >= 0)
                        return;
                log_handle(RD_LOG_ERR, &p->handle, "process %" PRIu64 ": cannot schedule a restart",
                           p->handle.id);
        }
        p->n_alive--;
        ev = (rd_event){ 0 };
        ev.process.final = p->n_alive == 0;
        emit(inst, RD_EVENT_PROCESS_ENDED, &ev);
        if (p->n_alive == 0)
                release(p);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        instance *inst = userdata;
        rd_process *p = inst->proc;
        rd_event ev = { 0 };
        rd_log_level level = p->ps->stopping_all ? RD_LOG_NOTICE : RD_LOG_INFO;

        ev.process.pid = inst->pid;
        ev.process.signaled = si->si_code != CLD_EXITED;
        ev.process.status = si->si_status;
        ev.process.core = si->si_code == CLD_DUMPED;
        inst->failed = ev.process.signaled ? !(p->stopping && si->si_status == p->stop_signal)
                                           : si->si_status != 0;
        log_handle(level, &p->handle, "process %" PRIu64 " (%s) pid %d %s %d", p->handle.id,
                   p->argv[0], (int)inst->pid,
                   ev.process.signaled ? "killed by signal" : "exited with code", si->si_status);
        untrack(inst);
        inst->pid = 0;
        inst->exited = true;
        reap_strays(p->ps); /* a stray may have waited behind this child */
        emit(inst, RD_EVENT_PROCESS_EXITED, &ev);
        maybe_end(inst);
        return 0;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        output *o = userdata;
        instance *inst = o->inst;
        rd_process *p = inst->proc;
        uint8_t *buf = p->handle.reactor->read_buffer;
        rd_event ev = { 0 };
        ssize_t n;

        if (!rd__owner_has_credit(p->handle.owner)) {
                /* Leave it in the pipe: the child blocks once the pipe is full. */
                o->stalled = true;
                (void)sd_event_source_set_enabled(o->io, SD_EVENT_OFF);
                rd__handle_stall(&p->handle);
                return 0;
        }
        n = read(fd, buf, RD_READ_MAX);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* EOF, or EIO from a pty whose other side is gone. */
                output_close(o);
                maybe_end(inst);
                return 0;
        }
        ev.process.fd = o->which;
        ev.process.data = buf;
        ev.process.size = (size_t)n;
        emit(inst, RD_EVENT_PROCESS_OUTPUT, &ev);
        return 0;
}

static void stdin_update(instance *inst)
{
        bool want = rd_buffer_size(&inst->in) > 0;
        if (inst->in_io)
                (void)sd_event_source_set_enabled(inst->in_io, want ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void stdin_flush(instance *inst)
{
        while (rd_buffer_size(&inst->in) > 0) {
                ssize_t n =
                        write(inst->in_fd, rd_buffer_head(&inst->in), rd_buffer_size(&inst->in));
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        /* EPIPE: the child closed its stdin; what is left cannot go anywhere. */
                        stdin_close(inst);
                        return;
                }
                rd_buffer_consume(&inst->in, (size_t)n);
                rd__owner_write_released(inst->proc->handle.owner, (size_t)n);
        }
        if (rd_buffer_size(&inst->in) == 0 && inst->in_closing) {
                stdin_close(inst);
                return;
        }
        if (inst->in_want_drained && rd_buffer_size(&inst->in) <= RD_STREAM_LOW_WATER_DEFAULT) {
                rd_event ev = { 0 };
                inst->in_want_drained = false;
                emit(inst, RD_EVENT_PROCESS_DRAINED, &ev);
        }
        stdin_update(inst);
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        stdin_flush(userdata);
        return 0;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        instance *inst = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
                buf[n] = '\0';
                /* One assignment per line, as sd_notify(3) writes them. */
                for (char *line = buf; line && *line;) {
                        char *next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        if (strcmp(line, "READY=1") == 0 && !inst->ready && inst->pid > 0) {
                                rd_event ev = { 0 };
                                inst->ready = true;
                                ev.process.pid = inst->pid;
                                emit(inst, RD_EVENT_PROCESS_READY, &ev);
                                if (inst->proc->ready_required)
                                        emit(inst, RD_EVENT_PROCESS_STARTED, &ev);
                        }
                        line = next;
                }
        }
        return 0;
}

static int make_pipe(int fds[2])
{
        return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

static int watch_output(rd_process *p, instance *inst, int which, int fd)
{
        output *o = &inst->out[which - 1];
        int k;

        o->inst = inst;
        o->which = which;
        o->fd = fd;
        o->stalled = false;
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        k = sd_event_add_io(p->handle.reactor->event, &o->io, fd, EPOLLIN, on_output, o);
        if (k < 0)
                output_close(o);
        return k;
}

static int spawn_instance(rd_process *p, instance *inst, char *err, size_t errlen)
{
        rd_reactor *r = p->handle.reactor;
        rd_processes *ps = p->ps;
        child_args a = { 0 };
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
        int devnull = -1, master = -1, pidfd = -1, k = 0;
        char pty_name[64], notify_name[108], notify_env[128], listen_fds[32], listen_pid[32];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char **envp = NULL;
        size_t n_env = 0, e = 0;
        pid_t pid;

        err[0] = '\0';
        a.stdio[0] = a.stdio[1] = a.stdio[2] = -1;

        /* The child's NOTIFY_SOCKET: an abstract datagram socket of its own. */
        inst->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (inst->notify_fd < 0) {
                k = -errno;
                goto fail;
        }
        snprintf(notify_name, sizeof(notify_name), "reactord/%d/notify/%u", (int)getpid(),
                 ++ps->notify_serial);
        memcpy(sa.sun_path + 1, notify_name, strlen(notify_name));
        if (bind(inst->notify_fd, (struct sockaddr *)&sa,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(notify_name))) <
            0) {
                k = -errno;
                goto fail;
        }
        snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=@%s", notify_name);

        if (p->pty) {
                struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
                master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
                    ptsname_r(master, pty_name, sizeof(pty_name)) != 0) {
                        k = -errno;
                        snprintf(err, errlen, "cannot make a pty: %s", strerror(errno));
                        goto fail;
                }
                (void)ioctl(master, TIOCSWINSZ, &ws);
                a.pty_name = pty_name;
        } else {
                for (int i = 0; i < 3; i++)
                        if (p->stdio[i] == RD_STDIO_NULL && devnull < 0 &&
                            (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
                                k = -errno;
                                goto fail;
                        }
                if ((p->stdio[0] == RD_STDIO_PIPE && (k = make_pipe(in)) < 0) ||
                    (p->stdio[1] == RD_STDIO_PIPE && (k = make_pipe(out)) < 0) ||
                    (p->stdio[2] == RD_STDIO_PIPE && (k = make_pipe(errp)) < 0))
                        goto fail;
                a.stdio[0] = p->stdio[0] == RD_STDIO_PIPE   ? in[0]
                             : p->stdio[0] == RD_STDIO_NULL ? devnull
                                                            : -1;
                a.stdio[1] = p->stdio[1] == RD_STDIO_PIPE   ? out[1]
                             : p->stdio[1] == RD_STDIO_NULL ? devnull
                                                            : -1;
                a.stdio[2] = p->stdio[2] == RD_STDIO_PIPE   ? errp[1]
                             : p->stdio[2] == RD_STDIO_NULL ? devnull
                                                            : -1;
        }

        /* The environment: the process's, plus NOTIFY_SOCKET and LISTEN_FDS/LISTEN_PID. */
        while (p->env[n_env])
                n_env++;
        envp = calloc(n_env + 4, sizeof(char *));
        if (!envp) {
                k = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n_env; i++)
                envp[e++] = p->env[i];
        envp[e++] = notify_env;
        if (p->listen_fds) {
                snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%zu", p->n_fds);
                strcpy(listen_pid, "LISTEN_PID=");
                envp[e++] = listen_fds;
                envp[e++] = listen_pid;
                a.listen_pid = listen_pid + strlen("LISTEN_PID=");
        }

        a.path = p->path;
        a.argv = p->argv;
        a.envp = envp;
        a.cwd = p->cwd;
        a.group = p->group;
        a.set_uid = p->set_uid;
        a.set_gid = p->set_gid;
        a.uid = p->uid;
        a.gid = p->gid;
        a.n_fds = p->n_fds;
        a.fd_target = p->fd_target;
        a.fd_src = p->fd_src;
        a.ignored = &ps->ignored;
        a.parent = getpid();
        a.high = 3;
        for (size_t i = 0; i < p->n_fds; i++)
                if (p->fd_target[i] + 1 > a.high)
                        a.high = p->fd_target[i] + 1;

        /* CLONE_VFORK: we resume once the child has exec'd or failed, and a.err says which. */
        pid = clone(child_main, (char *)ps->stack + CHILD_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
        if (pid < 0) {
                k = -errno;
                snprintf(err, errlen, "clone: %s", strerror(errno));
                goto fail;
        }
        if (a.err) {
                siginfo_t si;
                (void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
                close(pidfd);
                k = -a.err;
                snprintf(err, errlen, "%s %s: %s", a.step,
                         strcmp(a.step, "chdir") == 0  ? p->cwd
                         : strcmp(a.step, "exec") == 0 ? p->path
                                                       : "",
                         strerror(a.err));
                goto fail;
        }

        /* Running: close the child's ends, watch ours. */
        inst->pid = pid;
        inst->pidfd = pidfd;
        inst->exited = false;
        inst->failed = false;
        inst->ready = false;
        inst->running = true;
        if (in[0] >= 0)
                close(in[0]);
        if (out[1] >= 0)
                close(out[1]);
        if (errp[1] >= 0)
                close(errp[1]);
        if (devnull >= 0)
                close(devnull);
        in[0] = out[1] = errp[1] = devnull = -1;

        k = sd_event_add_child_pidfd(r->event, &inst->child, pidfd, WEXITED, on_child, inst);
        if (k < 0) {
                close(pidfd);
                goto fail_running;
        }
        (void)sd_event_source_set_child_pidfd_own(inst->child, true);
        (void)rd_hashmap_put(&ps->pids, (uint64_t)pid, match_pid, &inst->pid, inst);

        if (p->pty) {
                inst->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
                if ((k = watch_output(p, inst, 1, master)) < 0)
                        goto fail_running;
                master = -1;
        } else {
                inst->in_fd = in[1];
                in[1] = -1;
                if (out[0] >= 0 && (k = watch_output(p, inst, 1, out[0])) < 0)
                        goto fail_running;
                out[0] = -1;
                if (errp[0] >= 0 && (k = watch_output(p, inst, 2, errp[0])) < 0)
                        goto fail_running;
                errp[0] = -1;
        }
        if (inst->in_fd >= 0) {
                (void)fcntl(inst->in_fd, F_SETFL, O_NONBLOCK);
                k = sd_event_add_io(r->event, &inst->in_io, inst->in_fd, EPOLLOUT, on_stdin, inst);
                if (k < 0)
                        goto fail_running;
                stdin_update(inst);
        }
        k = sd_event_add_io(r->event, &inst->notify_io, inst->notify_fd, EPOLLIN, on_notify, inst);
        if (k < 0)
                goto fail_running;

        log_handle(RD_LOG_INFO, &p->handle,
                   "process %" PRIu64 " (%s) instance %u started as pid %d", p->handle.id,
                   p->argv[0], inst->index, (int)pid);
        if (!p->ready_required) {
                rd_event ev = { 0 };
                ev.process.pid = pid;
                emit(inst, RD_EVENT_PROCESS_STARTED, &ev);
        }
        return 0;

fail_running:
        /* Set-up after the child started failed: it cannot be talked to, so end it. */
        if (inst->pid > 0)
                (void)kill(inst->pid, SIGKILL);
        snprintf(err, errlen, "cannot watch the child: %s", strerror(-k));
        return k; /* its exit is still reaped by the child source, or by the SIGCHLD reaper */
fail:
        for (int i = 0; i < 2; i++) {
                if (in[i] >= 0)
                        close(in[i]);
                if (out[i] >= 0)
                        close(out[i]);
                if (errp[i] >= 0)
                        close(errp[i]);
        }
        if (devnull >= 0)
                close(devnull);
        if (master >= 0)
                close(master);
        notify_close(inst);
        if (!err[0])
                snprintf(err, errlen, "%s", strerror(-k));
        return k;
}

/* ---- reaping what is not ours ---- */

/*
 * Reap zombies that are not ours to track: descendants reparented to us as
 * subreaper. waitid(WNOWAIT) shows the next zombie without reaping it; one of
 * our own tracked children is left for its pidfd source, which calls this
 * again once it has reaped it, so a stray behind it is not left waiting.
 */
static void reap_strays(rd_processes *ps)
{
        for (;;) {
                siginfo_t si = { 0 };
                pid_t pid;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid <= 0)
                        return;
                pid = si.si_pid;
                if (rd_hashmap_get(&ps->pids, (uint64_t)pid, match_pid, &pid))
                        return;
                if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) == 0)
                        log_debug("reaped orphaned descendant %d", (int)pid);
        }
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        reap_strays(userdata);
        return 0;
}

static rd_processes *get_processes(rd_reactor *r)
{
        rd_processes *ps = r->processes;
        int k;

        if (ps)
                return ps;
        ps = calloc(1, sizeof(*ps));
        if (!ps)
                return NULL;
        rd_list_init(&ps->all);
        /* Which signals does reactord ignore? Children must not inherit that. */
        sigemptyset(&ps->ignored);
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;
                if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 &&
                    sa.sa_handler == SIG_IGN)
                        sigaddset(&ps->ignored, sig);
        }
        ps->stack = malloc(CHILD_STACK_SIZE);
        if (!ps->stack) {
                free(ps);
                return NULL;
        }
        /* Orphaned grandchildren come to us, and SIGCHLD tells us to reap them. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        k = sd_event_add_signal(r->event, &ps->sigchld, SIGCHLD, on_sigchld, ps);
        if (k < 0)
                log_warning("cannot watch SIGCHLD (%s): orphaned grandchildren will not be reaped",
                            strerror(-k));
        r->processes = ps;
        return ps;
}

void rd__processes_done(rd_reactor *r)
{
        rd_processes *ps = r->processes;

        if (!ps)
                return;
        ps->sigchld = sd_event_source_disable_unref(ps->sigchld);
        ps->all_stopped_defer = sd_event_source_disable_unref(ps->all_stopped_defer);
        reap_strays(ps);
        rd_hashmap_done(&ps->pids);
        rd_hashmap_done(&ps->names);
        free(ps->stack);
        free(ps);
        r->processes = NULL;
}

/* ---- handle operations ---- */

static int on_all_stopped(sd_event_source *s, void *userdata)
{
        rd_processes *ps = userdata;

        ps->all_stopped_defer = sd_event_source_disable_unref(ps->all_stopped_defer);
        if (ps->all_stopped)
                ps->all_stopped(ps->all_stopped_userdata);
        return 0;
}

static void check_all_stopped(rd_reactor *r)
{
        rd_processes *ps = r->processes;

        if (ps && ps->stopping_all && ps->n_processes == 0 && !ps->all_stopped_defer)
                (void)sd_event_add_defer(r->event, &ps->all_stopped_defer, on_all_stopped, ps);
}

/* The handle's last instance ended: let it go. */
static void release(rd_process *p)
{
        rd_handle_close(&p->handle);
}

static void process_free(rd_handle *h)
{
        rd_process *p = (rd_process *)h;
        rd_reactor *r = h->reactor;

        h->owner->n_processes -= p->n_instances;
        for (unsigned i = 0; i < p->n_instances; i++) {
                instance *inst = &p->inst[i];
                if (inst->pid > 0) {
                        /* Freed with a live child (the reactor is going away): end it now. */
                        siginfo_t si;
                        (void)kill(p->group ? -inst->pid : inst->pid, SIGKILL);
                        if (inst->pidfd >= 0)
                                (void)waitid(P_PIDFD, (id_t)inst->pidfd, &si, WEXITED);
                }
                untrack(inst);
                output_close(&inst->out[0]);
                output_close(&inst->out[1]);
                stdin_close(inst);
                notify_close(inst);
                inst->restart = sd_event_source_disable_unref(inst->restart);
        }
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        if (p->name)
                rd_hashmap_remove(&p->ps->names, rd_hash_bytes(p->name, strlen(p->name)),
                                  match_name, &(const char *){ p->name });
        for (size_t i = 0; i < p->n_fds; i++)
                if (p->fd_src[i] >= 0)
                        close(p->fd_src[i]);
        rd_list_remove(&p->link);
        p->ps->n_processes--;
        strv_free(p->argv);
        strv_free(p->env);
        free(p->path);
        free(p->cwd);
        free(p->name);
        free(p);
        check_all_stopped(r);
}

static void process_resume(rd_handle *h)
{
        rd_process *p = (rd_process *)h;

        for (unsigned i = 0; i < p->n_instances; i++)
                for (int j = 0; j < 2; j++) {
                        output *o = &p->inst[i].out[j];
                        if (o->stalled && o->io) {
                                o->stalled = false;
                                (void)sd_event_source_set_enabled(o->io, SD_EVENT_ON);
                        }
                }
}

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata)
{
        rd_process *p = userdata;

        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        for (unsigned i = 0; i < p->n_instances; i++)
                if (p->inst[i].pid > 0) {
                        log_handle(RD_LOG_NOTICE, &p->handle,
                                   "process %" PRIu64 " (%s) pid %d did not stop in time: SIGKILL",
                                   p->handle.id, p->argv[0], (int)p->inst[i].pid);
                        (void)kill(p->group ? -p->inst[i].pid : p->inst[i].pid, SIGKILL);
                }
        return 0;
}

static void stop(rd_process *p, int signo, uint64_t timeout)
{
        rd_reactor *r = p->handle.reactor;
        bool any = false;

        p->stopping = true;
        p->stop_signal = signo;
        for (unsigned i = 0; i < p->n_instances; i++) {
                instance *inst = &p->inst[i];

                if (inst->restart) {
                        /* Waiting to restart: it simply stays down now. */
                        inst->restart = sd_event_source_disable_unref(inst->restart);
                        p->n_alive--;
                        if (p->n_alive == 0) {
                                rd_event ev = { 0 };
                                ev.process.final = true;
                                emit(inst, RD_EVENT_PROCESS_ENDED, &ev);
                                release(p);
                                return;
                        }
                        continue;
                }
                if (inst->pid > 0) {
                        (void)kill(p->group ? -inst->pid : inst->pid, signo);
                        any = true;
                }
        }
        if (any && !p->kill_timer && signo != SIGKILL)
                (void)sd_event_add_time_relative(r->event, &p->kill_timer, CLOCK_MONOTONIC, timeout,
                                                 USEC_PER_MSEC, on_kill, p);
}

static void process_close_gracefully(rd_handle *h)
{
        stop((rd_process *)h, SIGTERM, STOP_TIMEOUT_DEFAULT);
}

/*
 * Give `p` to another owner, with what it counts against the owners' quotas:
 * its instances and the bytes waiting in its stdin buffers. Refused writes
 * are forgotten: their drained would go to the old owner.
 */
static int move_to(rd_process *p, rd_owner *to)
{
        rd_owner *from = p->handle.owner;
        size_t buffered = 0;
        int k;

        if (to->n_processes + p->n_instances > to->max_processes)
                return -EDQUOT;
        k = rd__handle_move(&p->handle, to);
        if (k < 0)
                return k;
        for (unsigned i = 0; i < p->n_instances; i++) {
                buffered += rd_buffer_size(&p->inst[i].in);
                p->inst[i].in_want_drained = p->inst[i].in_want_room = false;
        }
        from->n_processes -= p->n_instances;
        to->n_processes += p->n_instances;
        rd__owner_write_released(from, buffered);
        rd__owner_write_added(to, buffered);
        return 0;
}

static bool process_orphan(rd_handle *h)
{
        rd_process *p = (rd_process *)h;

        if (p->n_alive == 0 || move_to(p, h->reactor->orphanage) < 0)
                return false;
        if (!p->keep_orphan)
                stop(p, SIGTERM, STOP_TIMEOUT_DEFAULT);
        else
                log_handle(RD_LOG_INFO, h,
                           "process %" PRIu64 " (%s) outlives its session (orphan keep)", h->id,
                           p->argv[0]);
        return true;
}

static const char *instance_state(const instance *inst)
{
        if (inst->gave_up)
                return "gave up";
        if (inst->restart)
                return "restarting";
        if (inst->pid > 0)
                return inst->proc->stopping ? "stopping" : inst->ready ? "ready" : "running";
        if (inst->running)
                return "exited";
        return "down";
}

static uint32_t process_describe(rd_handle *h, rd_writer *w, bool count_only)
{
        rd_process *p = (rd_process *)h;

        if (count_only)
                return 2;
        rd_write_kv_str(w, "name", p->name);
        rd_write_str(w, "pids");
        rd_write_array(w, p->n_instances);
        for (unsigned i = 0; i < p->n_instances; i++)
                rd_write_int(w, p->inst[i].pid);
        return 2;
}

static void process_write_room(rd_handle *h)
{
        rd_process *p = (rd_process *)h;

        for (unsigned i = 0; i < p->n_instances; i++)
                if (p->inst[i].in_want_room) {
                        rd_event ev = { 0 };
                        p->inst[i].in_want_room = false;
                        emit(&p->inst[i], RD_EVENT_PROCESS_DRAINED, &ev);
                }
}

static const rd_handle_ops process_ops = {
        .write_room = process_write_room,
        .free = process_free,
        .resume = process_resume,
        .describe = process_describe,
        .close_gracefully = process_close_gracefully,
        .orphan = process_orphan,
};

/* ---- API ---- */

static int find_program(const char *argv0, char *const *env, char **ret)
{
        const char *path = NULL;
        int result = -ENOENT;

        if (strchr(argv0, '/'))
                return (*ret = strdup(argv0)) ? 0 : -ENOMEM;
        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        if (!path)
                path = DEFAULT_PATH;
        while (*path) {
                size_t n = strcspn(path, ":");
                char *candidate;

                if (n > 0 && asprintf(&candidate, "%.*s/%s", (int)n, path, argv0) >= 0) {
                        if (access(candidate, X_OK) == 0) {
                                *ret = candidate;
                                return 0;
                        }
                        if (errno == EACCES)
                                result = -EACCES;
                        free(candidate);
                }
                path += n + (path[n] == ':');
        }
        return result;
}

int rd_process_spawn(rd_reactor *r, rd_owner *owner, const rd_spawn *args, uint64_t *id,
                     pid_t *pids, char *err, size_t errlen)
{
        rd_processes *ps;
        rd_process *p;
        unsigned n = args->instances ? args->instances : 1;
        int k;

        assert_return(r && owner && args && args->argv && args->argv[0] && id, -EINVAL);
        assert_return(n <= RD_PROCESS_MAX_INSTANCES && args->n_fds <= RD_PROCESS_MAX_FDS, -EINVAL);

        err[0] = '\0';
        ps = get_processes(r);
        if (!ps)
                return -ENOMEM;
        if (args->name && rd_hashmap_get(&ps->names, rd_hash_bytes(args->name, strlen(args->name)),
                                         match_name, &args->name)) {
                snprintf(err, errlen, "a process named '%s' exists", args->name);
                return -EEXIST;
        }
        if (n > owner->max_processes) {
                snprintf(err, errlen, "instances: %u is more than the %zu processes allowed", n,
                         owner->max_processes);
                return -EINVAL;
        }
        if (owner->n_processes + n > owner->max_processes) {
                snprintf(err, errlen, "%zu of %zu processes run already", owner->n_processes,
                         owner->max_processes);
                return -EDQUOT;
        }

        p = calloc(1, sizeof(*p) + n * sizeof(instance));
        if (!p)
                return -ENOMEM;
        p->ps = ps;
        p->n_instances = n;
        for (unsigned i = 0; i < n; i++) {
                instance *inst = &p->inst[i];
                inst->proc = p;
                inst->index = i;
                inst->pidfd = inst->in_fd = inst->notify_fd = -EBADF;
                inst->out[0].fd = inst->out[1].fd = -EBADF;
        }
        for (size_t i = 0; i < RD_PROCESS_MAX_FDS; i++)
                p->fd_src[i] = -EBADF;
        p->argv = strv_copy(args->argv);
        p->env = strv_copy(args->env);
        if (!p->argv || !p->env || (args->cwd && !(p->cwd = strdup(args->cwd))) ||
            (args->name && !(p->name = strdup(args->name)))) {
                k = -ENOMEM;
                goto fail_unregistered;
        }
        k = find_program(args->argv[0], p->env, &p->path);
        if (k < 0) {
                snprintf(err, errlen, "%s: %s", args->argv[0],
                         k == -EACCES ? "not executable" : "no such program in PATH");
                goto fail_unregistered;
        }
        memcpy(p->stdio, args->stdio, sizeof(p->stdio));
        p->set_uid = args->set_uid;
        p->set_gid = args->set_gid;
        p->uid = args->uid;
        p->gid = args->gid;
        p->pty = args->pty;
        p->rows = args->rows ? args->rows : 24;
        p->cols = args->cols ? args->cols : 80;
        p->group = args->group;
        p->restart = args->restart;
        p->backoff_min = args->backoff_min ? args->backoff_min : 1;
        p->backoff_max = args->backoff_max < p->backoff_min ? p->backoff_min : args->backoff_max;
        p->restart_limit = args->restart_limit;
        p->restart_window = args->restart_window;
        p->ready_required = args->ready;
        p->keep_orphan = args->keep_orphan;

        /* Our own copies of the sockets to pass: restarts need them after the handles are gone. */
        p->n_fds = args->n_fds;
        p->listen_fds = args->n_fds > 0;
        for (size_t i = 0; i < args->n_fds; i++) {
                rd_handle *h;
                int fd = -EBADF;

                k = rd_handle_lookup(r, owner, args->fd_handle[i], _RD_HANDLE_KIND_MAX, &h);
                if (k == 0 && (!h->ops->get_fd || (fd = h->ops->get_fd(h)) < 0))
                        k = -EBADF;
                if (k < 0) {
                        snprintf(err, errlen, "fds: handle %" PRIu64 " is %s", args->fd_handle[i],
                                 k == -ENOENT  ? "unknown"
                                 : k == -EPERM ? "another session's"
                                               : "not a listener or stream");
                        k = k == -EBADF ? -EINVAL : k;
                        goto fail_unregistered;
                }
                p->fd_target[i] = args->fd_target[i];
                p->fd_src[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (p->fd_src[i] < 0) {
                        k = -errno;
                        goto fail_unregistered;
                }
                if (args->fd_target[i] != 3 + (int)i)
                        p->listen_fds = false;
        }

        k = rd__handle_register(r, owner, &p->handle, RD_HANDLE_PROCESS, &process_ops);
        if (k < 0)
                goto fail_unregistered;
        owner->n_processes += n; /* given back by process_free() */
        rd_list_append(&ps->all, &p->link);
        ps->n_processes++;
        if (p->name)
                (void)rd_hashmap_put(&ps->names, rd_hash_bytes(p->name, strlen(p->name)),
                                     match_name, &(const char *){ p->name }, p);

        for (unsigned i = 0; i < n; i++) {
                k = spawn_instance(p, &p->inst[i], err, errlen);
                if (k < 0) {
                        /* Take down what started; the request fails as a whole. */
                        p->stopping = true;
                        for (unsigned j = 0; j < i; j++)
                                if (p->inst[j].pid > 0)
                                        (void)kill(p->group ? -p->inst[j].pid : p->inst[j].pid,
                                                   SIGKILL);
                        rd_handle_close(&p->handle);
                        return k;
                }
                p->n_alive++;
                if (pids)
                        pids[i] = p->inst[i].pid;
        }
        *id = p->handle.id;
        return 0;

fail_unregistered:
        for (size_t i = 0; i < RD_PROCESS_MAX_FDS; i++)
                if (p->fd_src[i] >= 0)
                        close(p->fd_src[i]);
        strv_free(p->argv);
        strv_free(p->env);
        free(p->path);
        free(p->cwd);
        free(p->name);
        free(p);
        return k;
}

static int lookup(rd_reactor *r, rd_owner *caller, uint64_t id, rd_process **ret)
{
        rd_handle *h;
        int k = rd_handle_lookup(r, caller, id, RD_HANDLE_PROCESS, &h);
        if (k < 0)
                return k;
        *ret = (rd_process *)h;
        return 0;
}

static int pick(rd_process *p, int instance_index, instance **ret)
{
        if (instance_index >= (int)p->n_instances)
                return -EINVAL;
        *ret = &p->inst[instance_index < 0 ? 0 : instance_index];
        return 0;
}

int rd_process_write(rd_reactor *r, rd_owner *caller, uint64_t id, int instance_index,
                     const void *data, size_t n, size_t *buffered)
{
        rd_process *p;
        instance *inst;
        int k;

        if ((k = lookup(r, caller, id, &p)) < 0 || (k = pick(p, instance_index, &inst)) < 0)
                return k;
        if (inst->in_fd < 0 || inst->in_closing)
                return -EPIPE;
        /* As for streams: refused once, refused until process.drained (no hole in stdin). */
        if (inst->in_want_room)
                return -EDQUOT;
        if (inst->in_want_drained || rd_buffer_size(&inst->in) >= RD_STREAM_HIGH_WATER_DEFAULT) {
                inst->in_want_drained = true;
                return -EAGAIN;
        }
        k = rd__owner_write_check(&p->handle, n);
        if (k == -EDQUOT)
                inst->in_want_room = true;
        if (k < 0)
                return k;
        if (rd_buffer_size(&inst->in) == 0) {
                ssize_t w = write(inst->in_fd, data, n);
                if (w > 0) {
                        data = (const char *)data + w;
                        n -= (size_t)w;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                        stdin_close(inst);
                        return -EPIPE;
                }
        }
        if (n > 0) {
                if (rd_buffer_append(&inst->in, data, n) < 0)
                        return -ENOMEM;
                rd__owner_write_added(p->handle.owner, n);
        }
        stdin_update(inst);
        *buffered = rd_buffer_size(&inst->in);
        return 0;
}

int rd_process_close_stdin(rd_reactor *r, rd_owner *caller, uint64_t id, int instance_index)
{
        rd_process *p;
        instance *inst;
        int k;

        if ((k = lookup(r, caller, id, &p)) < 0 || (k = pick(p, instance_index, &inst)) < 0)
                return k;
        if (inst->in_fd < 0)
                return 0;
        if (p->pty) {
                /* A terminal has no half-close: end-of-file is the VEOF character (^D). */
                struct termios t;
                char eof = tcgetattr(inst->in_fd, &t) == 0 ? (char)t.c_cc[VEOF] : '\004';
                size_t buffered;
                k = rd_process_write(r, caller, id, instance_index, &eof, 1, &buffered);
                return k == -EAGAIN || k == -EDQUOT ? k : 0;
        }
        inst->in_closing = true;
        stdin_flush(inst);
        return 0;
}

int rd_process_signal(rd_reactor *r, rd_owner *caller, uint64_t id, int instance_index, int signo,
                      bool group)
{
        rd_process *p;
        int k, sent = 0;

        if ((k = lookup(r, caller, id, &p)) < 0)
                return k;
        if (instance_index >= (int)p->n_instances)
                return -EINVAL;
        for (unsigned i = 0; i < p->n_instances; i++) {
                instance *inst = &p->inst[i];
                if ((instance_index >= 0 && (int)i != instance_index) || inst->pid <= 0)
                        continue;
                /* Through the pidfd: never a recycled pid. A group has no pidfd: kill(-pgid). */
                k = group ? kill(-inst->pid, signo)
                          : (int)syscall(SYS_pidfd_send_signal, inst->pidfd, signo, NULL, 0);
                if (k < 0)
                        return -errno;
                sent++;
        }
        return sent ? 0 : -ESRCH;
}

int rd_process_stop(rd_reactor *r, rd_owner *caller, uint64_t id, int signo, uint64_t timeout)
{
        rd_process *p;
        int k = lookup(r, caller, id, &p);

        if (k < 0)
                return k;
        stop(p, signo, timeout);
        return 0;
}

int rd_process_take(rd_reactor *r, rd_owner *caller, const char *name, uint64_t *id)
{
        rd_processes *ps = r->processes;
        rd_process *p;
        int k;

        p = ps ? rd_hashmap_get(&ps->names, rd_hash_bytes(name, strlen(name)), match_name, &name)
               : NULL;
        if (!p)
                return -ENOENT;
        if (p->handle.owner == caller) {
                *id = p->handle.id;
                return 0;
        }
        if (p->handle.owner != r->orphanage)
                return -EBUSY;
        if (!rd__owner_may_act_for(caller, p->set_uid ? p->uid : geteuid()))
                return -EPERM;
        k = move_to(p, caller);
        if (k < 0)
                return k;
        *id = p->handle.id;
        return 0;
}

void rd_process_write_list(rd_reactor *r, rd_writer *w,
                           void (*write_owner)(rd_writer *w, rd_owner *o))
{
        rd_processes *ps = r->processes;

        rd_write_array(w, ps ? (uint32_t)ps->n_processes : 0);
        if (!ps)
                return;
        RD_LIST_FOREACH (i, &ps->all) {
                rd_process *p = rd_container_of(i, rd_process, link);
                static const char *const policies[] = { "never", "on-failure", "always" };
                size_t argc = 0;

                rd_write_map(w, 6 + RD_PROCESS_OWNER_PAIRS);
                rd_write_kv_uint(w, "handle", p->handle.id);
                rd_write_kv_str(w, "name", p->name);
                rd_write_str(w, "argv");
                while (p->argv[argc])
                        argc++;
                rd_write_array(w, (uint32_t)argc);
                for (size_t j = 0; j < argc; j++)
                        rd_write_str(w, p->argv[j]);
                rd_write_kv_uint(w, "uid", p->set_uid ? p->uid : geteuid());
                write_owner(w, p->handle.owner == r->orphanage ? NULL : p->handle.owner);
                rd_write_kv_str(w, "restart", policies[p->restart]);
                rd_write_str(w, "instances");
                rd_write_array(w, p->n_instances);
                for (unsigned j = 0; j < p->n_instances; j++) {
                        rd_write_map(w, 4);
                        rd_write_kv_uint(w, "instance", j);
                        rd_write_kv_int(w, "pid", p->inst[j].pid);
                        rd_write_kv_str(w, "state", instance_state(&p->inst[j]));
                        rd_write_kv_uint(w, "restarts", p->inst[j].restarts);
                }
        }
}

int rd_process_stop_all(rd_reactor *r, uint64_t timeout, void (*done)(void *userdata),
                        void *userdata)
{
        rd_processes *ps = get_processes(r);

        if (!ps)
                return -ENOMEM;
        ps->stopping_all = true;
        ps->all_stopped = done;
        ps->all_stopped_userdata = userdata;
        /* stop() may release a process (and unlink it): walk with a saved next. */
        RD_LIST_FOREACH_SAFE (i, n, &ps->all) {
                rd_process *p = rd_container_of(i, rd_process, link);
                if (!p->stopping)
                        stop(p, SIGTERM, timeout);
        }
        check_all_stopped(r);
        return 0;
}
