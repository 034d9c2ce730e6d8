/* SPDX-License-Identifier: MIT */
/*
 * The process calls of libreactord and reactorctl's spawn and ps, through a
 * real reactord: each test starts the daemon on a temporary ipc:// fixture_endpoint.
 * The children are small standard programs (sh, cat, sleep, stty). Timeouts
 * are generous; only behaviour is asserted.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "reactord/client.h"
#include "reactord/process.h"

/* How long any one wait may take before the test fails. */
#define WAIT_SEC 20.0

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* ---- the daemon: tests/fixture.c ---------------------------------------------------------- */

static void daemon_start(void)
{
        fixture_daemon_start("test-process");
}

static rd_client *client_new(void)
{
        rd_client_options opts = { .name = "test-process-client", .timeout = 60 };
        rd_client *c = NULL;

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        return c;
}

/* ---- recording events --------------------------------------------------------------------- */

typedef struct buf {
        char *data; /* NUL-terminated */
        size_t len;
        size_t cap;
} buf;

static void buf_append(buf *b, const void *p, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2 + 4096;
                b->data = realloc(b->data, b->cap);
                ck_assert_ptr_nonnull(b->data);
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static const char *buf_str(const buf *b)
{
        return b->data ? b->data : "";
}

/* What the handler of one process saw. */
typedef struct rec {
        unsigned events;     /* every event */
        unsigned started;    /* process.started */
        pid_t pid;           /* its last pid */
        unsigned exited;     /* process.exited */
        int code;            /* its exit code, or -1 */
        int signo;           /* its signal, or 0 */
        unsigned ended;      /* process.ended */
        bool final;          /* one of them was final */
        unsigned restarting; /* process.restarting */
        unsigned gave_up;    /* process.gave_up */
        unsigned drained;    /* process.drained */
        int instance_max;    /* the highest instance named */
        buf out;             /* fd 1 */
        buf err;             /* fd 2 */
        bool after_final;    /* an event came after the final process.ended */
        bool stop_on_output; /* process.stop from the process.output handler */
} rec;

static void rec_done(rec *r)
{
        free(r->out.data);
        free(r->err.data);
        *r = (rec){ 0 };
}

static int record(rd_client *c, const rd_client_event *ev, void *userdata)
{
        rec *r = userdata;
        const void *p;
        size_t n;
        int fd, i;

        if (r->final)
                r->after_final = true;
        r->events++;
        i = rd_client_event_instance(ev);
        ck_assert_msg(i >= 0, "%s names no instance", ev->name);
        if (i > r->instance_max)
                r->instance_max = i;
        if (strcmp(ev->name, "process.started") == 0) {
                r->started++;
                r->pid = rd_client_event_pid(ev);
                ck_assert_int_gt(r->pid, 0);
        } else if (strcmp(ev->name, "process.output") == 0) {
                ck_assert_int_eq(rd_client_event_output(ev, &fd, &p, &n), 0);
                ck_assert(fd == 1 || fd == 2);
                buf_append(fd == 1 ? &r->out : &r->err, p, n);
                if (r->stop_on_output) {
                        r->stop_on_output = false;
                        ck_assert_int_eq(rd_client_process_stop(c, ev->handle, SIGKILL, -1), 0);
                }
        } else if (strcmp(ev->name, "process.exited") == 0) {
                r->exited++;
                ck_assert_int_eq(rd_client_event_exited(ev, &r->code, &r->signo, NULL), 0);
                ck_assert_int_gt(rd_client_event_pid(ev), 0);
        } else if (strcmp(ev->name, "process.ended") == 0) {
                r->ended++;
                if (rd_client_event_final(ev))
                        r->final = true;
        } else if (strcmp(ev->name, "process.restarting") == 0) {
                r->restarting++;
        } else if (strcmp(ev->name, "process.gave_up") == 0) {
                r->gave_up++;
        } else if (strcmp(ev->name, "process.drained") == 0) {
                r->drained++;
        }
        /* Accessors refuse the events they are not for. */
        if (strcmp(ev->name, "process.output") != 0)
                ck_assert_int_eq(rd_client_event_output(ev, &fd, &p, &n), -EINVAL);
        if (strcmp(ev->name, "process.exited") != 0)
                ck_assert_int_eq(rd_client_event_exited(ev, NULL, NULL, NULL), -EINVAL);
        return 0;
}

#define PUMP_UNTIL(a, expr)                                                                        \
        ({                                                                                         \
                bool _ok = false;                                                                  \
                for (double _deadline = fixture_now() + WAIT_SEC;;) {                              \
                        ck_assert_int_ge(rd_client_process(a), 0);                                 \
                        if ((_ok = (expr)))                                                        \
                                break;                                                             \
                        if (fixture_now() > _deadline)                                             \
                                break;                                                             \
                        struct pollfd _p = { .fd = rd_client_fd(a), .events = POLLIN };            \
                        poll(&_p, 1, 5);                                                           \
                }                                                                                  \
                ck_assert_msg(_ok, "timed out waiting for: %s", #expr);                            \
        })

/* Let the client dispatch for `sec` seconds. */
static void pump_for(rd_client *c, double sec)
{
        double until = fixture_now() + sec;
        PUMP_UNTIL(c, fixture_now() > until);
}

/* Spawn with a recording handler. */
static uint64_t spawn_rec(rd_client *c, const char *const *argv, const rd_spawn_options *o, rec *r)
{
        uint64_t h = 0;
        pid_t pid = 0;
        int e;

        e = rd_client_spawn(c, argv, o, &h, &pid);
        ck_assert_msg(e == 0, "spawn %s: %s (%s)", argv[0], strerror(-e), rd_client_last_error(c));
        ck_assert_uint_gt(h, 0);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(rd_client_on(c, h, record, r), 0);
        return h;
}

/* ---- the library -------------------------------------------------------------------------- */

START_TEST(test_spawn_echo)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/echo", "hi", NULL };
        rec r = { 0 };
        uint64_t h = spawn_rec(c, argv, NULL, &r);

        PUMP_UNTIL(c, r.final);
        ck_assert_str_eq(buf_str(&r.out), "hi\n");
        ck_assert_str_eq(buf_str(&r.err), "");
        ck_assert_uint_eq(r.started, 1);
        ck_assert_uint_eq(r.exited, 1);
        ck_assert_int_eq(r.code, 0);
        ck_assert_int_eq(r.signo, 0);
        ck_assert_uint_eq(r.ended, 1);
        pump_for(c, 0.2);
        ck_assert(!r.after_final);
        /* The handle went with the final process.ended. */
        ck_assert_int_eq(rd_client_process_signal(c, h, SIGTERM, false, -1), -ENOENT);
        /* PATH lookup: "echo" without a '/'. */
        const char *bare[] = { "echo", "bare", NULL };
        rec r2 = { 0 };
        spawn_rec(c, bare, NULL, &r2);
        PUMP_UNTIL(c, r2.final);
        ck_assert_str_eq(buf_str(&r2.out), "bare\n");
        rec_done(&r);
        rec_done(&r2);
        rd_client_free(c);
}
END_TEST

START_TEST(test_spawn_options)
{
        rd_client *c = client_new();
        char expect[PATH_MAX + 64];

        /* env: only what is given, the last of equal keys winning; cwd; stderr as fd 2. */
        const char *argv[] = { "/bin/sh", "-c", "echo \"$A $B ${HOME-unset}\"; pwd; echo oops >&2",
                               NULL };
        const char *env[] = { "A=1", "B=two words", "A=2", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        rec r = { 0 };
        o.env = env;
        o.cwd = fixture_tmpdir;
        spawn_rec(c, argv, &o, &r);
        PUMP_UNTIL(c, r.final);
        snprintf(expect, sizeof(expect), "2 two words unset\n%s\n", fixture_tmpdir);
        ck_assert_str_eq(buf_str(&r.out), expect);
        ck_assert_str_eq(buf_str(&r.err), "oops\n");
        rec_done(&r);

        /* env_inherit: reactord's environment, then env on top of it. */
        const char *pargv[] = { "/bin/sh", "-c", "echo \"${PATH:+path} $A\"", NULL };
        const char *env1[] = { "A=x", NULL };
        o = RD_SPAWN_OPTIONS_INIT;
        o.env = env1;
        o.env_inherit = true;
        spawn_rec(c, pargv, &o, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_str_eq(buf_str(&r.out), "path x\n");
        rec_done(&r);

        /* stdout to /dev/null: nothing comes but stderr. */
        const char *nargv[] = { "/bin/sh", "-c", "echo out; echo err >&2", NULL };
        o = RD_SPAWN_OPTIONS_INIT;
        o.stdout_mode = RD_SPAWN_NULL;
        spawn_rec(c, nargv, &o, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_str_eq(buf_str(&r.out), "");
        ck_assert_str_eq(buf_str(&r.err), "err\n");
        rec_done(&r);

        /* pty: a terminal of the size asked for; its output comes as fd 1. */
        const char *targv[] = { "/bin/sh", "-c", "test -t 0 && test -t 1 && stty size; echo e >&2",
                                NULL };
        o = RD_SPAWN_OPTIONS_INIT;
        o.pty = true;
        o.rows = 33;
        o.cols = 111;
        spawn_rec(c, targv, &o, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_str_eq(buf_str(&r.out), "33 111\r\ne\r\n");
        ck_assert_str_eq(buf_str(&r.err), "");
        rec_done(&r);

        /* By default the child leads a process group of its own. */
        const char *gargv[] = { "/bin/sh", "-c", "echo $(cut -d' ' -f5 /proc/$$/stat) $$", NULL };
        o = RD_SPAWN_OPTIONS_INIT;
        spawn_rec(c, gargv, &o, &r);
        PUMP_UNTIL(c, r.final);
        {
                long pgid = -1, pid = -2;
                ck_assert_int_eq(sscanf(buf_str(&r.out), "%ld %ld", &pgid, &pid), 2);
                ck_assert_int_eq(pgid, pid);
        }
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_spawn_errors)
{
        rd_client *c = client_new();
        const char *nosuch[] = { "/no/such", NULL };
        const char *sh[] = { "/bin/sh", "-c", "true", NULL };
        const char *bad_env[] = { "NOEQUALS", NULL };
        const char *empty_key[] = { "=x", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        char path[PATH_MAX + 16];
        uint64_t h = 0;
        pid_t pid = 0;
        int fd;

        ck_assert_int_eq(rd_client_spawn(c, nosuch, NULL, &h, &pid), -ENOENT);
        ck_assert_msg(strstr(rd_client_last_error(c), "/no/such"), "%s", rd_client_last_error(c));
        ck_assert_uint_eq(h, 0);

        const char *bare[] = { "no-such-program-here", NULL };
        ck_assert_int_eq(rd_client_spawn(c, bare, NULL, &h, &pid), -ENOENT);

        /* A file that is not executable. */
        snprintf(path, sizeof(path), "%s/not-executable", fixture_tmpdir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
        close(fd);
        const char *noexec[] = { path, NULL };
        ck_assert_int_eq(rd_client_spawn(c, noexec, NULL, &h, &pid), -EACCES);

        /* A missing working directory. */
        o.cwd = "/no/such/dir";
        ck_assert_int_eq(rd_client_spawn(c, sh, &o, &h, &pid), -ENOENT);

        /* Not a handle to pass. */
        rd_spawn_fd fds[] = { { .child_fd = 3, .handle = 999999 } };
        o = RD_SPAWN_OPTIONS_INIT;
        o.fds = fds;
        o.n_fds = 1;
        ck_assert_int_lt(rd_client_spawn(c, sh, &o, &h, &pid), 0);

        /* Refused before anything is sent. */
        o = RD_SPAWN_OPTIONS_INIT;
        o.env = bad_env;
        ck_assert_int_eq(rd_client_spawn(c, sh, &o, &h, &pid), -EINVAL);
        o.env = empty_key;
        ck_assert_int_eq(rd_client_spawn(c, sh, &o, &h, &pid), -EINVAL);
        o = RD_SPAWN_OPTIONS_INIT;
        o.instances = 65;
        ck_assert_int_eq(rd_client_spawn(c, sh, &o, &h, &pid), -EINVAL);
        rd_spawn_fd twice[] = { { 3, 1 }, { 3, 2 } };
        o = RD_SPAWN_OPTIONS_INIT;
        o.fds = twice;
        o.n_fds = 2;
        ck_assert_int_eq(rd_client_spawn(c, sh, &o, &h, &pid), -EINVAL);
        const char *empty[] = { NULL };
        ck_assert_int_eq(rd_client_spawn(c, empty, NULL, &h, &pid), -EINVAL);
        ck_assert_int_eq(rd_client_spawn(c, NULL, NULL, &h, &pid), -EINVAL);
        ck_assert_int_eq(rd_client_spawn(NULL, sh, NULL, &h, &pid), -EINVAL);

        /* A name is unique among live processes. */
        const char *sleeper[] = { "/bin/sleep", "30", NULL };
        rec r = { 0 };
        o = RD_SPAWN_OPTIONS_INIT;
        o.name = "only-one";
        h = spawn_rec(c, sleeper, &o, &r);
        ck_assert_int_eq(rd_client_spawn(c, sleeper, &o, NULL, NULL), -EEXIST);
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), 0);
        PUMP_UNTIL(c, r.final);
        rec_done(&r);

        /* The calls on a handle that is not a process, or is gone. */
        ck_assert_int_eq(rd_client_process_write(c, 0, -1, "x", 1), -EINVAL);
        ck_assert_int_eq(rd_client_process_write(c, 999999, -1, "x", 1), -ENOENT);
        ck_assert_int_eq(rd_client_process_close_stdin(c, 999999, -1), -ENOENT);
        ck_assert_int_eq(rd_client_process_signal(c, 999999, SIGTERM, false, -1), -ENOENT);
        ck_assert_int_eq(rd_client_process_signal(c, 1, 0, false, -1), -EINVAL);
        ck_assert_int_eq(rd_client_process_signal_name(c, 1, "", false, -1), -EINVAL);
        ck_assert_int_eq(rd_client_process_stop(c, 999999, 0, -1), -ENOENT);
        ck_assert_int_eq(rd_client_process_take(c, "", NULL), -EINVAL);
        rd_client_free(c);
}
END_TEST

START_TEST(test_write_close_stdin)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/cat", NULL };
        rec r = { 0 };
        uint64_t h = spawn_rec(c, argv, NULL, &r);
        int n;

        n = rd_client_process_write(c, h, -1, "hello, ", 7);
        ck_assert_int_ge(n, 0);
        ck_assert_int_ge(rd_client_process_write(c, h, 0, "cat\n", 4), 0);
        ck_assert_int_ge(rd_client_process_write(c, h, -1, "", 0), 0);
        PUMP_UNTIL(c, r.out.len == 11);
        ck_assert_str_eq(buf_str(&r.out), "hello, cat\n");
        ck_assert_int_eq(rd_client_process_close_stdin(c, h, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.code, 0);
        ck_assert_int_eq(rd_client_process_write(c, h, -1, "late", 4), -ENOENT);
        rec_done(&r);

        /* Writing after close_stdin is EPIPE (to a child that does not exit at its EOF). */
        const char *sleeper[] = { "/bin/sleep", "30", NULL };
        h = spawn_rec(c, sleeper, NULL, &r);
        ck_assert_int_eq(rd_client_process_close_stdin(c, h, -1), 0);
        ck_assert_int_eq(rd_client_process_write(c, h, -1, "x", 1), -EPIPE);
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), 0);
        PUMP_UNTIL(c, r.final);
        rec_done(&r);

        /* stdin from /dev/null: not a pipe, so EPIPE. */
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        o.stdin_mode = RD_SPAWN_NULL;
        h = spawn_rec(c, sleeper, &o, &r);
        ck_assert_int_eq(rd_client_process_write(c, h, -1, "x", 1), -EPIPE);
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.signo, SIGTERM);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

typedef struct writes {
        unsigned done;  /* replies */
        unsigned ok;    /* that succeeded */
        int last_error; /* of the last failure */
} writes;

static void write_done(rd_client *c, int error, const rd_value *result, const char *message,
                       void *userdata)
{
        writes *w = userdata;

        w->done++;
        if (error == 0 && rd_value_get(result, "buffered"))
                w->ok++;
        else
                w->last_error = error;
}

START_TEST(test_write_async)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/cat", NULL };
        rec r = { 0 };
        writes w = { 0 };
        uint64_t h = spawn_rec(c, argv, NULL, &r);

        ck_assert_int_eq(rd_client_process_write_async(c, h, -1, "one ", 4, write_done, &w), 0);
        ck_assert_int_eq(rd_client_process_write_async(c, h, 0, "two ", 4, write_done, &w), 0);
        ck_assert_int_eq(rd_client_process_write_async(c, h, -1, "three", 5, NULL, NULL), 0);
        PUMP_UNTIL(c, w.done == 2 && r.out.len == 13);
        ck_assert_uint_eq(w.ok, 2);
        ck_assert_str_eq(buf_str(&r.out), "one two three");
        ck_assert_int_eq(rd_client_process_close_stdin(c, h, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(rd_client_process_write_async(c, h, -1, "x", 1, write_done, &w), 0);
        PUMP_UNTIL(c, w.done == 3);
        ck_assert_int_eq(w.last_error, -ENOENT);
        ck_assert_int_eq(rd_client_process_write_async(c, 0, -1, "x", 1, NULL, NULL), -EINVAL);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

/* A child that reads nothing for a while: its stdin buffer fills, then drains. */
START_TEST(test_backpressure)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/sh", "-c", "sleep 1; exec wc -c", NULL };
        static char chunk[64 * 1024];
        size_t sent = 0;
        rec r = { 0 };
        uint64_t h = spawn_rec(c, argv, NULL, &r);
        int n;

        memset(chunk, 'x', sizeof(chunk));
        for (;;) {
                n = rd_client_process_write(c, h, -1, chunk, sizeof(chunk));
                if (n == -EAGAIN)
                        break;
                ck_assert_int_ge(n, 0);
                sent += sizeof(chunk);
                ck_assert_uint_lt(sent, 64 * 1024 * 1024);
        }
        ck_assert_uint_ge(sent, 256 * 1024);
        PUMP_UNTIL(c, r.drained > 0);
        ck_assert_int_ge(rd_client_process_write(c, h, -1, chunk, sizeof(chunk)), 0);
        sent += sizeof(chunk);
        ck_assert_int_eq(rd_client_process_close_stdin(c, h, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_uint_eq(strtoull(buf_str(&r.out), NULL, 10), sent);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_signal)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/sleep", "30", NULL };
        rec r = { 0 };
        uint64_t h;

        /* By number, to every instance. */
        h = spawn_rec(c, argv, NULL, &r);
        ck_assert_int_eq(rd_client_process_signal(c, h, SIGTERM, false, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.code, -1);
        ck_assert_int_eq(r.signo, SIGTERM);
        rec_done(&r);

        /* By name, to the group of instance 0: the shell and its sleep both get it. */
        const char *sh[] = { "/bin/sh", "-c", "sleep 30; echo survived", NULL };
        h = spawn_rec(c, sh, NULL, &r);
        pump_for(c, 0.2);
        ck_assert_int_eq(rd_client_process_signal_name(c, h, "SIGUSR1", true, 0), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.signo, SIGUSR1);
        ck_assert_str_eq(buf_str(&r.out), "");
        rec_done(&r);

        h = spawn_rec(c, argv, NULL, &r);
        ck_assert_int_eq(rd_client_process_signal_name(c, h, "NOSUCHSIGNAL", false, -1), -EINVAL);
        ck_assert_int_eq(rd_client_process_signal_name(c, h, "KILL", false, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.signo, SIGKILL);
        rec_done(&r);

        /* Exited, but not yet ended: a child of its own keeps its stdout open. */
        const char *held[] = { "/bin/sh", "-c", "sleep 1 & exit 0", NULL };
        h = spawn_rec(c, held, NULL, &r);
        PUMP_UNTIL(c, r.exited == 1);
        ck_assert(!r.final);
        ck_assert_int_eq(rd_client_process_signal(c, h, SIGTERM, false, -1), -ESRCH);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.code, 0);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_stop)
{
        rd_client *c = client_new();
        /* Ignores TERM, so stop has to KILL it after the timeout. */
        const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30", NULL };
        rec r = { 0 };
        uint64_t h = spawn_rec(c, argv, NULL, &r);
        double t0;

        PUMP_UNTIL(c, r.out.len > 0);
        t0 = fixture_now();
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, 0.3), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.signo, SIGKILL);
        ck_assert(fixture_now() - t0 >= 0.25);
        rec_done(&r);

        /* Stopping from the process's own handler. */
        const char *yes[] = { "/usr/bin/yes", NULL };
        r.stop_on_output = true;
        h = spawn_rec(c, yes, NULL, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(r.signo, SIGKILL);
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), -ENOENT);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_restart)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/sh", "-c", "echo run; exit 1", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        rec r = { 0 };

        o.restart = RD_SPAWN_RESTART_ON_FAILURE;
        o.backoff_min = 0.01;
        o.backoff_max = 0.05;
        o.restart_limit = 2;
        o.restart_window = 60;
        spawn_rec(c, argv, &o, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_uint_eq(r.restarting, 2);
        ck_assert_uint_eq(r.gave_up, 1);
        ck_assert_uint_eq(r.started, 3);
        ck_assert_uint_eq(r.exited, 3);
        ck_assert_int_eq(r.code, 1);
        ck_assert_str_eq(buf_str(&r.out), "run\nrun\nrun\n");
        rec_done(&r);

        /* on-failure does not restart a success. */
        const char *ok[] = { "/bin/true", NULL };
        spawn_rec(c, ok, &o, &r);
        PUMP_UNTIL(c, r.final);
        ck_assert_uint_eq(r.restarting, 0);
        ck_assert_uint_eq(r.started, 1);
        rec_done(&r);

        /* always does, until stopped. */
        o.restart = RD_SPAWN_RESTART_ALWAYS;
        o.restart_limit = 100;
        uint64_t h = spawn_rec(c, ok, &o, &r);
        PUMP_UNTIL(c, r.started >= 3);
        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_uint_eq(r.gave_up, 0);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_instances)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/sleep", "30", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        rec r = { 0 };
        uint64_t h;

        o.instances = 3;
        h = spawn_rec(c, argv, &o, &r);
        PUMP_UNTIL(c, r.started == 3);
        ck_assert_int_eq(r.instance_max, 2);
        /* One instance only. */
        ck_assert_int_eq(rd_client_process_signal(c, h, SIGTERM, false, 1), 0);
        PUMP_UNTIL(c, r.exited == 1);
        pump_for(c, 0.2);
        ck_assert(!r.final);
        ck_assert_int_eq(rd_client_process_signal(c, h, SIGTERM, false, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_uint_eq(r.exited, 3);
        ck_assert_uint_eq(r.ended, 3);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

START_TEST(test_take)
{
        rd_client *a = client_new(), *b = client_new();
        const char *argv[] = { "/bin/sh", "-c", "echo hello; exec sleep 30", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        rec r = { 0 }, rb = { 0 };
        uint64_t h, hb = 0;

        o.name = "keeper";
        o.orphan = RD_SPAWN_ORPHAN_KEEP;
        h = spawn_rec(a, argv, &o, &r);
        PUMP_UNTIL(a, r.out.len > 0);
        ck_assert_uint_gt(h, 0);

        /* Owned by a live session. */
        ck_assert_int_eq(rd_client_process_take(b, "keeper", &hb), -EBUSY);
        ck_assert_int_eq(rd_client_process_take(b, "nobody", &hb), -ENOENT);
        /* Another session's handle. */
        ck_assert_int_eq(rd_client_process_signal(b, h, SIGTERM, false, -1), -EPERM);

        /* Its owner goes; the process stays, and b takes it over. */
        rd_client_free(a);
        for (double deadline = fixture_now() + WAIT_SEC;; usleep(20 * 1000)) {
                int e = rd_client_process_take(b, "keeper", &hb);
                if (e == 0)
                        break;
                ck_assert_int_eq(e, -EBUSY);
                ck_assert(fixture_now() < deadline);
        }
        ck_assert_uint_gt(hb, 0);
        ck_assert_int_eq(rd_client_on(b, hb, record, &rb), 0);
        ck_assert_int_eq(rd_client_process_stop(b, hb, SIGTERM, -1), 0);
        PUMP_UNTIL(b, rb.final);
        ck_assert_int_eq(rb.signo, SIGTERM);
        rec_done(&r);
        rec_done(&rb);
        rd_client_free(b);
}
END_TEST

/* ---- reactorctl --------------------------------------------------------------------------- */

typedef struct proc {
        pid_t pid;
        int in;  /* its stdin (our end), or -1 */
        int out; /* its stdout */
        int err; /* its stderr */
} proc;

/* Run `argv` with pipes for stdin, stdout and stderr. */
static proc run(const char *const *argv)
{
        int in[2], out[2], err[2];
        proc p;

        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        p.pid = fork();
        ck_assert_int_ge(p.pid, 0);
        if (p.pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(126);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        p.in = in[1];
        p.out = out[0];
        p.err = err[0];
        return p;
}

/* Read `fd` to its EOF. */
static char *read_all(int fd)
{
        double deadline = fixture_now() + WAIT_SEC;
        buf b = { 0 };
        char tmp[4096];

        buf_append(&b, "", 0);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ck_assert_msg(fixture_now() < deadline, "no EOF; so far '%s'", buf_str(&b));
                if (poll(&p, 1, 100) <= 0)
                        continue;
                ssize_t n = read(fd, tmp, sizeof(tmp));
                if (n < 0 && errno == EINTR)
                        continue;
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        return b.data;
                buf_append(&b, tmp, (size_t)n);
        }
}

/* Wait for the program to exit (killing it when it takes too long); its exit status. */
static int reap(proc *p)
{
        double deadline = fixture_now() + WAIT_SEC;
        int status;
        pid_t r;

        while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && fixture_now() < deadline)
                usleep(10 * 1000);
        if (r == 0) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &status, 0);
                ck_abort_msg("program did not exit");
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void proc_close(proc *p)
{
        if (p->in >= 0)
                close(p->in);
        if (p->out >= 0)
                close(p->out);
        close(p->err);
}

static const char *reactorctl(void)
{
        const char *exe = getenv("REACTORCTL");
        ck_assert_msg(exe && *exe, "$REACTORCTL is not set");
        return exe;
}

/* Run reactorctl with `args` and `input` on stdin; its status, stdout and stderr. */
static int ctl(const char *const *args, const char *input, char **out, char **err)
{
        const char *argv[32] = { reactorctl() };
        size_t n = 1;
        int status;

        for (; *args; args++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n++] = *args;
        }
        proc p = run(argv);
        if (input) {
                ck_assert_int_eq(write(p.in, input, strlen(input)), (ssize_t)strlen(input));
        }
        close(p.in);
        p.in = -1;
        *out = read_all(p.out);
        *err = read_all(p.err);
        status = reap(&p);
        proc_close(&p);
        return status;
}

#define CTL(expect_status, expect_out, input, ...)                                                 \
        ({                                                                                         \
                char *_out, *_err;                                                                 \
                int _s = ctl((const char *const[]){ __VA_ARGS__, NULL }, (input), &_out, &_err);   \
                ck_assert_msg(_s == (expect_status), "status %d, stderr '%s'", _s, _err);          \
                ck_assert_str_eq(_out, (expect_out));                                              \
                free(_out);                                                                        \
                _err;                                                                              \
        })

START_TEST(test_reactorctl_spawn)
{
        char *err;

        err = CTL(0, "hi\n", NULL, "spawn", "--", "/bin/echo", "hi");
        ck_assert_str_eq(err, "");
        free(err);
        err = CTL(3, "", NULL, "spawn", "--", "/bin/sh", "-c", "exit 3");
        free(err);
        err = CTL(143, "", NULL, "spawn", "--", "/bin/sh", "-c", "kill -TERM $$");
        free(err);
        /* stdin through cat, stdin's EOF its EOF. */
        err = CTL(0, "piped\nthrough\n", "piped\nthrough\n", "spawn", "--", "/bin/cat");
        free(err);
        /* fd 2 to stderr. */
        err = CTL(0, "out\n", NULL, "spawn", "--", "/bin/sh", "-c", "echo out; echo err >&2");
        ck_assert_str_eq(err, "err\n");
        free(err);
        /* Options. */
        err = CTL(0, "b /\n", NULL, "spawn", "--env", "A=a", "--env", "A=b", "--cwd", "/", "--",
                  "/bin/sh", "-c", "echo $A $(pwd)");
        free(err);
        err = CTL(0, "tty\r\n", NULL, "spawn", "--pty", "--", "/bin/sh", "-c",
                  "test -t 0 && echo tty");
        free(err);
        /* stdin's EOF reaches a child on a pty as the terminal's EOF; the pty echoes input. */
        err = CTL(0, "hi\r\nhi\r\n", "hi\n", "spawn", "--pty", "--", "/bin/cat");
        free(err);
        /* An unfinished line: one ^D ends the line, the next is the EOF. */
        err = CTL(0, "partpart\r\n", "part", "spawn", "--pty", "--", "/bin/sh", "-c", "cat; echo");
        free(err);
        /* Supervised: the status of the last exit, once reactord gives up. */
        err = CTL(4, "", NULL, "spawn", "--restart", "on-failure", "--", "/bin/sh", "-c", "exit 4");
        ck_assert_msg(strstr(err, "gave up after 5 restarts"), "%s", err);
        free(err);
        /* --json: events instead of bytes. */
        {
                char *out, *e;
                ck_assert_int_eq(ctl((const char *const[]){ "--json", "spawn", "--", "/bin/echo",
                                                            "j", NULL },
                                     NULL, &out, &e),
                                 0);
                ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"process.started\""));
                ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"process.output\""));
                ck_assert_ptr_nonnull(strstr(out, "\"final\":true"));
                free(out);
                free(e);
        }
}
END_TEST

START_TEST(test_reactorctl_spawn_errors)
{
        char *err;

        err = CTL(127, "", NULL, "spawn", "--", "/no/such");
        ck_assert_msg(strncmp(err, "reactorctl: process.spawn: ENOENT: ", 35) == 0, "%s", err);
        ck_assert_msg(strstr(err, "/no/such"), "%s", err);
        free(err);
        err = CTL(2, "", NULL, "spawn", "--restart", "sometimes", "--", "/bin/true");
        free(err);
        err = CTL(2, "", NULL, "spawn", "--env", "NOEQUALS", "--", "/bin/true");
        free(err);
        err = CTL(2, "", NULL, "ping", "--pty");
        free(err);
        err = CTL(2, "", NULL, "spawn");
        free(err);
}
END_TEST

/* Much more than the buffers hold, through cat and back: nothing is lost. */
START_TEST(test_reactorctl_spawn_big)
{
        const char *argv[] = { reactorctl(), "spawn", "--", "/bin/cat", NULL };
        const size_t big = 8 * 1024 * 1024;
        char *data = malloc(big), *got;
        proc p = run(argv);
        pid_t writer;

        ck_assert_ptr_nonnull(data);
        for (size_t i = 0; i < big; i++)
                data[i] = (char)('a' + (i * 7) % 26);
        writer = fork();
        ck_assert_int_ge(writer, 0);
        if (writer == 0) {
                size_t off = 0;
                while (off < big) {
                        ssize_t k = write(p.in, data + off, big - off);
                        if (k <= 0)
                                _exit(1);
                        off += (size_t)k;
                }
                _exit(0);
        }
        close(p.in);
        p.in = -1;
        got = read_all(p.out);
        ck_assert_int_eq(reap(&p), 0);
        ck_assert_uint_eq(strlen(got), big);
        ck_assert(memcmp(got, data, big) == 0);
        ck_assert_int_eq(waitpid(writer, NULL, 0), writer);
        free(got);
        free(data);
        proc_close(&p);
}
END_TEST

/* `reactorctl spawn -- yes | head`: the child gets the SIGPIPE it would get. */
START_TEST(test_reactorctl_spawn_sigpipe)
{
        const char *argv[] = { reactorctl(), "spawn", "--", "/usr/bin/yes", NULL };
        proc p = run(argv);
        char c;

        struct pollfd pfd = { .fd = p.out, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, (int)(WAIT_SEC * 1000)), 1);
        ck_assert_int_eq(read(p.out, &c, 1), 1);
        close(p.out);
        p.out = -1;
        ck_assert_int_eq(reap(&p), 128 + SIGPIPE);
        proc_close(&p);
}
END_TEST

/* SIGINT to reactorctl reaches the child. */
START_TEST(test_reactorctl_spawn_signal)
{
        const char *argv[] = { reactorctl(),        "spawn", "--", "/bin/sh", "-c",
                               "echo up; sleep 30", NULL };
        proc p = run(argv);
        char c;

        /* Once the child runs (its first output), interrupt reactorctl. */
        struct pollfd pfd = { .fd = p.out, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, (int)(WAIT_SEC * 1000)), 1);
        ck_assert_int_eq(read(p.out, &c, 1), 1);
        kill(p.pid, SIGINT);
        ck_assert_int_eq(reap(&p), 128 + SIGINT);
        proc_close(&p);
}
END_TEST

START_TEST(test_reactorctl_ps)
{
        rd_client *c = client_new();
        const char *argv[] = { "/bin/sleep", "4242", NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        char pid_s[32], *err, *out;
        rec r = { 0 };
        pid_t pid;
        uint64_t h;

        o.name = "sleeper";
        ck_assert_int_eq(rd_client_spawn(c, argv, &o, &h, &pid), 0);
        ck_assert_int_eq(rd_client_on(c, h, record, &r), 0);
        snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);

        ck_assert_int_eq(ctl((const char *const[]){ "ps", NULL }, NULL, &out, &err), 0);
        ck_assert_msg(strncmp(out, "HANDLE", 6) == 0, "%s", out);
        ck_assert_msg(strstr(out, "sleeper"), "%s", out);
        ck_assert_msg(strstr(out, pid_s), "%s", out);
        ck_assert_msg(strstr(out, "/bin/sleep 4242"), "%s", out);
        ck_assert_msg(strstr(out, "running"), "%s", out);
        free(out);
        free(err);

        ck_assert_int_eq(ctl((const char *const[]){ "--json", "ps", NULL }, NULL, &out, &err), 0);
        ck_assert_msg(strstr(out, "\"processes\":["), "%s", out);
        ck_assert_msg(strstr(out, "\"name\":\"sleeper\""), "%s", out);
        free(out);
        free(err);

        ck_assert_int_eq(rd_client_process_stop(c, h, 0, -1), 0);
        PUMP_UNTIL(c, r.final);
        ck_assert_int_eq(ctl((const char *const[]){ "ps", NULL }, NULL, &out, &err), 0);
        ck_assert_msg(!strstr(out, "sleeper"), "%s", out);
        free(out);
        free(err);
        rec_done(&r);
        rd_client_free(c);
}
END_TEST

static Suite *process_client_suite(void)
{
        Suite *s = suite_create("process-client");
        TCase *tc;

        tc = tcase_create("library");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_spawn_echo);
        tcase_add_test(tc, test_spawn_options);
        tcase_add_test(tc, test_spawn_errors);
        tcase_add_test(tc, test_write_close_stdin);
        tcase_add_test(tc, test_write_async);
        tcase_add_test(tc, test_backpressure);
        tcase_add_test(tc, test_signal);
        tcase_add_test(tc, test_stop);
        tcase_add_test(tc, test_restart);
        tcase_add_test(tc, test_instances);
        tcase_add_test(tc, test_take);
        suite_add_tcase(s, tc);

        tc = tcase_create("reactorctl");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_reactorctl_spawn);
        tcase_add_test(tc, test_reactorctl_spawn_errors);
        tcase_add_test(tc, test_reactorctl_spawn_big);
        tcase_add_test(tc, test_reactorctl_spawn_sigpipe);
        tcase_add_test(tc, test_reactorctl_spawn_signal);
        tcase_add_test(tc, test_reactorctl_ps);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(process_client_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
