/* SPDX-License-Identifier: MIT */
/*
 * reactorctl against a real reactord: each test starts $REACTORD on an ipc
 * endpoint in a fresh temporary directory, runs $REACTORCTL as a shell user
 * would and checks its exit status, stdout and stderr.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfd.h"

static char basedir[256]; /* made by the runner, removed by it whatever happens */
static char tmpdir[300];  /* one test's directory inside basedir */
static char endpoint[400];
static char bus_path[320];
static pid_t daemon_pid = -1;
static procfd_set fd_baseline; /* reactord's descriptors once it served */

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path_in_tmpdir(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Read a whole file into a NUL-terminated string (caller frees); "" when absent. */
static char *slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        char *s = NULL;
        size_t len = 0;

        if (!f)
                return strdup("");
        FILE *m = open_memstream(&s, &len);
        ck_assert_ptr_nonnull(m);
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
                fwrite(buf, 1, k, m);
        fclose(m);
        fclose(f);
        return s;
}

/* ---- the daemon ---------------------------------------------------------------------------- */

/* Remove the files in `dir`, then `dir`. */
static void remove_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void)rmdir(dir);
}

/* Stop the daemon and remove this test's directory. */
static void daemon_stop(void)
{
        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
                daemon_pid = -1;
        }
        if (tmpdir[0]) {
                remove_dir(tmpdir);
                tmpdir[0] = '\0';
        }
}

/*
 * A failed check ends the test's process at once, skipping its teardown: its
 * daemon then dies of PR_SET_PDEATHSIG, and the runner, which outlives every
 * test, removes what the test left in basedir.
 */
static void base_setup(void)
{
        const char *tmp = getenv("TMPDIR");

        snprintf(basedir, sizeof(basedir), "%s/test-reactorctl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(basedir)) {
                perror("mkdtemp");
                exit(EXIT_FAILURE);
        }
}

static void base_teardown(void)
{
        DIR *d = opendir(basedir);
        struct dirent *de;
        char p[600];

        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        snprintf(p, sizeof(p), "%s/%s", basedir, de->d_name);
                        remove_dir(p);
                }
        if (d)
                closedir(d);
        (void)rmdir(basedir);
}

typedef struct run {
        int status; /* exit status, or 128 + signal */
        char *out;  /* stdout */
        char *err;  /* stderr */
} run;

static void run_done(run *r)
{
        free(r->out);
        free(r->err);
}

/* Start reactorctl with `args` (NULL-terminated), stdout and stderr to files. */
static pid_t ctl_spawn(const char *const *args)
{
        const char *exe = getenv("REACTORCTL");
        char out[400], err[400];
        const char *argv[64];
        size_t n = 0;

        ck_assert_msg(exe && *exe, "$REACTORCTL is not set");
        argv[n++] = exe;
        for (; *args; args++) {
                ck_assert_uint_lt(n, 62);
                argv[n++] = *args;
        }
        argv[n] = NULL;

        path_in_tmpdir(out, sizeof(out), "out");
        path_in_tmpdir(err, sizeof(err), "err");
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
                        _exit(126);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execv(exe, (char *const *)argv);
                _exit(127);
        }
        return pid;
}

/* Wait (generously) for a reactorctl to exit; returns its status, 128 + signal if killed. */
static int ctl_wait(pid_t pid)
{
        int st;

        for (double deadline = now() + 60;;) {
                pid_t r = waitpid(pid, &st, WNOHANG);
                ck_assert_int_ge(r, 0);
                if (r == pid)
                        break;
                if (now() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        ck_abort_msg("reactorctl did not exit");
                }
                usleep(10 * 1000);
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void ctl_collect(run *r, int status)
{
        char p[400];

        r->status = status;
        path_in_tmpdir(p, sizeof(p), "out");
        r->out = slurp(p);
        path_in_tmpdir(p, sizeof(p), "err");
        r->err = slurp(p);
}

/* Run reactorctl to its end. */
static void ctl_argv(run *r, const char *const *args)
{
        ctl_collect(r, ctl_wait(ctl_spawn(args)));
}

/* ctl(&r, "-e", endpoint, "ping", NULL) */
#define ctl(r, ...) ctl_argv((r), (const char *const[]){ __VA_ARGS__, NULL })
/* With this test's endpoint. */
#define ctl_ep(r, ...) ctl((r), "--endpoint", endpoint, __VA_ARGS__)

static void setup(void)
{
        const char *exe = getenv("REACTORD");
        run r = { 0 };

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", tmpdir);

        daemon_pid = fork();
        ck_assert_int_ge(daemon_pid, 0);
        if (daemon_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                execl(exe, exe, "--endpoint", endpoint, (char *)NULL);
                _exit(127);
        }

        /* Ready when reactorctl ping says so. */
        for (double deadline = now() + 30; now() < deadline;) {
                ck_assert_int_eq(waitpid(daemon_pid, NULL, WNOHANG), 0);
                run_done(&r);
                ctl_ep(&r, "--timeout", "0.2", "ping");
                if (r.status == 0)
                        break;
        }
        ck_assert_msg(r.status == 0, "reactord does not answer: %d %s", r.status, r.err);
        run_done(&r);
        snprintf(bus_path, sizeof(bus_path), "%s/bus", tmpdir);
        procfd_baseline(daemon_pid, bus_path, &fd_baseline);
}

static void teardown(void)
{
        /* Every reactorctl has exited: what its sessions made is released. */
        if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0)
                procfd_expect(daemon_pid, bus_path, &fd_baseline, 30, "the teardown");
        procfd_done(&fd_baseline);
        daemon_stop();
}

/* How many lines does `s` hold? */
static size_t count_lines(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* How many times does `needle` occur in `s`? */
static size_t count_of(const char *s, const char *needle)
{
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static bool starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define ck_assert_contains(s, needle)                                                              \
        ck_assert_msg(strstr((s), (needle)), "'%s' not in '%s'", (needle), (s))

/* ---- tests --------------------------------------------------------------------------------- */

START_TEST(test_ping)
{
        run r;

        ctl_ep(&r, "ping");
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(starts_with(r.out, "pong: "), "%s", r.out);
        ck_assert_contains(r.out, " ms\n");
        ck_assert_str_eq(r.err, "");
        run_done(&r);

        /* The endpoint may come from the environment instead. */
        setenv("REACTORD_ENDPOINT", endpoint, 1);
        ctl(&r, "ping");
        unsetenv("REACTORD_ENDPOINT");
        ck_assert_int_eq(r.status, 0);
        run_done(&r);
}
END_TEST

START_TEST(test_info)
{
        run r;
        char pid[64];

        ctl_ep(&r, "info");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        /* Pretty: one field per line. */
        ck_assert_msg(r.out[0] == '{', "%s", r.out);
        ck_assert_contains(r.out, "\n  \"server\": \"reactord\"");
        ck_assert_contains(r.out, "\"protocol\": 1");
        snprintf(pid, sizeof(pid), "\"pid\": %d", (int)daemon_pid);
        ck_assert_contains(r.out, pid);
        ck_assert_uint_gt(count_lines(r.out), 5);
        run_done(&r);

        /* --json: compact, one line. */
        ctl_ep(&r, "--json", "info");
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(count_lines(r.out), 1);
        ck_assert_contains(r.out, "\"server\":\"reactord\"");
        snprintf(pid, sizeof(pid), "\"pid\":%d", (int)daemon_pid);
        ck_assert_contains(r.out, pid);
        run_done(&r);

        /* --name names the session; an option after the command works too. */
        ctl_ep(&r, "info", "--name", "someone", "--json");
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(count_lines(r.out), 1);
        run_done(&r);
}
END_TEST

START_TEST(test_methods)
{
        run r;

        ctl_ep(&r, "methods");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        ck_assert_msg(starts_with(r.out, "METHOD "), "%s", r.out);
        ck_assert_contains(r.out, "\nreactor.ping ");
        ck_assert_contains(r.out, "\ntimer.start ");
        ck_assert_contains(r.out, "after:duration");
        ck_assert_contains(r.out, "every?:duration");
        ck_assert_contains(r.out, "timer.fired");
        run_done(&r);

        ctl_ep(&r, "methods", "--json");
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(count_lines(r.out), 1);
        ck_assert_msg(starts_with(r.out, "{\"methods\":["), "%s", r.out);
        ck_assert_contains(r.out, "{\"name\":\"timer.start\"");
        ck_assert_contains(r.out, "\"events\":[");
        run_done(&r);
}
END_TEST

START_TEST(test_resources)
{
        run r;

        /* A fresh session owns nothing. */
        ctl_ep(&r, "resources");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "HANDLE    KIND      DETAILS\n");
        run_done(&r);

        ctl_ep(&r, "--json", "resources");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "{\"resources\":[]}\n");
        run_done(&r);
}
END_TEST

START_TEST(test_call)
{
        run r;

        ctl_ep(&r, "call", "reactor.ping");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "{}\n");
        ck_assert_str_eq(r.err, "");
        run_done(&r);

        ctl_ep(&r, "call", "reactor.ping", "{}");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "{}\n");
        run_done(&r);

        ctl_ep(&r, "call", "timer.start", " {\"after\": 30,\n \"every\": 1.5} ");
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(starts_with(r.out, "{\"handle\":"), "%s", r.out);
        ck_assert_uint_eq(count_lines(r.out), 1);
        run_done(&r);

        ctl_ep(&r, "call", "reactor.resources");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "{\"resources\":[]}\n");
        run_done(&r);

        ctl_ep(&r, "call", "reactor.info");
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(count_lines(r.out), 1);
        ck_assert_contains(r.out, "\"server\":\"reactord\"");
        run_done(&r);
}
END_TEST

START_TEST(test_call_errors)
{
        run r;

        /* Unknown method: an error reply. */
        ctl_ep(&r, "call", "no.such.method");
        ck_assert_int_eq(r.status, 1);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(starts_with(r.err, "reactorctl: no.such.method: ENOSYS: "), "%s", r.err);
        ck_assert_uint_eq(count_lines(r.err), 1);
        run_done(&r);

        /* Bad params: the server names the param. */
        ctl_ep(&r, "call", "timer.start", "{\"after\": -1}");
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(starts_with(r.err, "reactorctl: timer.start: EINVAL: "), "%s", r.err);
        ck_assert_contains(r.err, "after");
        run_done(&r);

        ctl_ep(&r, "call", "timer.start", "{}");
        ck_assert_int_eq(r.status, 1);
        ck_assert_contains(r.err, "reactorctl: timer.start: EINVAL: ");
        run_done(&r);

        ctl_ep(&r, "call", "timer.cancel", "{\"handle\": 123456}");
        ck_assert_int_eq(r.status, 1);
        ck_assert_contains(r.err, "reactorctl: timer.cancel: ENOENT: ");
        run_done(&r);

        /* Bad JSON never reaches the daemon: a usage error naming the offset. */
        ctl_ep(&r, "call", "timer.start", "{\"after\": }");
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.out, "");
        ck_assert_contains(r.err, "reactorctl: timer.start: invalid JSON params: ");
        ck_assert_contains(r.err, "at offset 10");
        run_done(&r);

        ctl_ep(&r, "call", "timer.start", "[0.1]");
        ck_assert_int_eq(r.status, 2);
        ck_assert_contains(r.err, "params must be a JSON object");
        run_done(&r);

        ctl_ep(&r, "call", "timer.start", "{\"after\": 1} x");
        ck_assert_int_eq(r.status, 2);
        ck_assert_contains(r.err, "expected end of input at offset 13");
        run_done(&r);

        /* The daemon kept serving. */
        ctl_ep(&r, "ping");
        ck_assert_int_eq(r.status, 0);
        run_done(&r);
}
END_TEST

START_TEST(test_usage)
{
        run r;

        ctl(&r, "--help");
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(starts_with(r.out, "Usage: reactorctl"), "%s", r.out);
        ck_assert_contains(r.out, "watch");
        run_done(&r);

        ctl(&r, "--version");
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(starts_with(r.out, "reactorctl "), "%s", r.out);
        run_done(&r);

        const char *const *const bad[] = {
                (const char *const[]){ NULL },
                (const char *const[]){ "frobnicate", NULL },
                (const char *const[]){ "call", NULL },
                (const char *const[]){ "call", "a", "{}", "extra", NULL },
                (const char *const[]){ "ping", "extra", NULL },
                (const char *const[]){ "--bogus", "ping", NULL },
                (const char *const[]){ "--timeout", "0", "ping", NULL },
                (const char *const[]){ "--timeout", "soon", "ping", NULL },
                (const char *const[]){ "ping", "--endpoint", NULL },
                (const char *const[]){ "watch", "{}", NULL },
                (const char *const[]){ "watch", "timer.start", "{", NULL },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ctl_argv(&r, bad[i]);
                ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
                ck_assert_str_eq(r.out, "");
                ck_assert_msg(starts_with(r.err, "reactorctl: "), "case %zu: %s", i, r.err);
                run_done(&r);
        }
}
END_TEST

START_TEST(test_unreachable)
{
        run r;
        char nobody[400];

        snprintf(nobody, sizeof(nobody), "ipc://%s/nobody", tmpdir);
        double t0 = now();
        ctl(&r, "--endpoint", nobody, "--timeout", "0.3", "ping");
        ck_assert_int_eq(r.status, 3);
        ck_assert_str_eq(r.out, "");
        ck_assert_contains(r.err, "reactorctl: cannot reach reactord at ");
        ck_assert_contains(r.err, nobody);
        ck_assert(now() - t0 >= 0.25);
        run_done(&r);

        ctl(&r, "--endpoint", nobody, "--timeout", "0.3", "call", "reactor.ping", "{}");
        ck_assert_int_eq(r.status, 3);
        run_done(&r);

        ctl(&r, "--endpoint", nobody, "--timeout", "0.3", "watch");
        ck_assert_int_eq(r.status, 3);
        run_done(&r);
}
END_TEST

/* The handle from a {"id":N,"result":{"handle":H}} line. */
static uint64_t result_handle(const char *out)
{
        const char *p = strstr(out, "\"result\":{\"handle\":");
        ck_assert_msg(p, "no handle in '%s'", out);
        return strtoull(p + strlen("\"result\":{\"handle\":"), NULL, 10);
}

START_TEST(test_watch_count)
{
        run r;
        char fired[128];

        ctl_ep(&r, "watch", "--count", "3", "timer.start", "{\"after\": 0.05, \"every\": 0.05}");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");

        /* The request, its result, then the events. */
        ck_assert_uint_eq(count_lines(r.out), 5);
        ck_assert_msg(starts_with(r.out, "{\"request\":\"timer.start\",\"id\":1,"
                                         "\"params\":{\"after\":0.05,\"every\":0.05}}\n"
                                         "{\"id\":1,\"result\":"),
                      "%s", r.out);
        uint64_t h = result_handle(r.out);
        snprintf(fired, sizeof(fired),
                 "{\"event\":\"timer.fired\",\"payload\":{\"handle\":%" PRIu64, h);
        ck_assert_uint_eq(count_of(r.out, fired), 3);
        ck_assert_uint_eq(count_of(r.out, "\"ticks\":"), 3);
        run_done(&r);

        /* Several calls, numbered in order; a one-shot timer fires once. */
        ctl_ep(&r, "watch", "--count", "1", "reactor.ping", "timer.start", "{\"after\": 0}");
        ck_assert_int_eq(r.status, 0);
        ck_assert_contains(r.out,
                           "{\"request\":\"reactor.ping\",\"id\":1,\"params\":{}}\n"
                           "{\"id\":1,\"result\":{}}\n"
                           "{\"request\":\"timer.start\",\"id\":2,\"params\":{\"after\":0}}\n");
        ck_assert_contains(r.out, "{\"event\":\"timer.fired\",\"payload\":{\"handle\":");
        ck_assert_contains(r.out, "\"ticks\":1");
        run_done(&r);
}
END_TEST

/* Start `watch` with a periodic timer, wait for two events, then send `sig`. */
static void watch_until_signal(int sig)
{
        char out[400];
        const char *const args[] = {
                "--endpoint", endpoint, "watch", "timer.start", "{\"after\":0.05,\"every\":0.05}",
                NULL
        };
        pid_t pid = ctl_spawn(args);
        char *s = NULL;

        path_in_tmpdir(out, sizeof(out), "out");
        for (double deadline = now() + 30;; usleep(20 * 1000)) {
                free(s);
                s = slurp(out);
                if (count_of(s, "\"event\":\"timer.fired\"") >= 2)
                        break;
                ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
                ck_assert_msg(now() < deadline, "no events: '%s'", s);
        }
        free(s);

        /* Lines are flushed one by one: a whole line is there before the next starts. */
        ck_assert_int_eq(kill(pid, sig), 0);
        run r;
        ctl_collect(&r, ctl_wait(pid));
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        ck_assert(r.out[strlen(r.out) - 1] == '\n');
        ck_assert_uint_ge(count_of(r.out, "{\"event\":\"timer.fired\",\"payload\":{"), 2);
        run_done(&r);
}

START_TEST(test_watch_sigint)
{
        watch_until_signal(SIGINT);
}
END_TEST

START_TEST(test_watch_sigterm)
{
        watch_until_signal(SIGTERM);
}
END_TEST

START_TEST(test_watch_errors)
{
        run r;

        /* A failing call stops watch before it waits. */
        ctl_ep(&r, "watch", "timer.start", "{\"after\": -1}");
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(starts_with(r.err, "reactorctl: timer.start: EINVAL: "), "%s", r.err);
        run_done(&r);

        ctl_ep(&r, "watch", "no.such.method");
        ck_assert_int_eq(r.status, 1);
        ck_assert_contains(r.err, "reactorctl: no.such.method: ENOSYS: ");
        run_done(&r);

        ctl_ep(&r, "watch", "timer.start", "{\"after\": 0.1,}");
        ck_assert_int_eq(r.status, 2);
        ck_assert_contains(r.err, "invalid JSON params");
        run_done(&r);
}
END_TEST

/* ---- gateway ------------------------------------------------------------------------------- */

/* Start `reactorctl [ARGS] gateway` on this test's endpoint; *in is the write end of its stdin. */
static pid_t gateway_spawn(int *in, const char *const *args)
{
        const char *argv[16] = { "--endpoint", endpoint };
        size_t n = 2;
        int p[2];
        pid_t pid;

        for (; *args; args++)
                argv[n++] = *args;
        argv[n++] = "gateway";
        argv[n] = NULL;
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        /* The child takes the read end as its stdin through ctl_spawn's fork. */
        int saved = dup(STDIN_FILENO);
        ck_assert_int_ge(saved, 0);
        ck_assert_int_ge(dup2(p[0], STDIN_FILENO), 0);
        pid = ctl_spawn(argv);
        ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
        close(saved);
        close(p[0]);
        *in = p[1];
        return pid;
}

static void put_line(int fd, const char *line)
{
        ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
}

/* Wait until the running reactorctl's stdout holds `needle`. */
static void wait_for_output(const char *needle)
{
        char p[400];

        path_in_tmpdir(p, sizeof(p), "out");
        for (double deadline = now() + 10;;) {
                char *out = slurp(p);
                bool found = strstr(out, needle) != NULL;
                if (found || now() > deadline)
                        ck_assert_msg(found, "'%s' not in '%s'", needle, out);
                free(out);
                if (found)
                        return;
                usleep(10 * 1000);
        }
}

/* Run the gateway with `input` (all of it, then EOF) on stdin. */
static void gateway_run(run *r, const char *input, const char *const *args)
{
        int in;
        pid_t pid = gateway_spawn(&in, args);

        put_line(in, input);
        close(in);
        ctl_collect(r, ctl_wait(pid));
}

START_TEST(test_gateway_timer)
{
        run r;
        int in;
        char fired[128];

        pid_t pid = gateway_spawn(&in, (const char *const[]){ NULL });
        put_line(in, "{\"id\": 7, \"method\": \"timer.start\", \"params\": {\"after\": 0.05}}\n");
        /* The event comes while stdin is still open... */
        wait_for_output("{\"event\":\"timer.fired\"");
        /* ...and the gateway goes on taking requests. */
        put_line(in, "{\"id\": \"x\", \"method\": \"reactor.ping\"}\n");
        wait_for_output("{\"id\":\"x\",\"result\":{}}\n");
        close(in);
        ctl_collect(&r, ctl_wait(pid));
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        ck_assert_msg(starts_with(r.out, "{\"id\":7,\"result\":{\"handle\":"), "%s", r.out);
        snprintf(fired, sizeof(fired),
                 "\n{\"event\":\"timer.fired\",\"payload\":{\"handle\":%" PRIu64 ",\"ticks\":1}}\n",
                 result_handle(r.out));
        ck_assert_contains(r.out, fired);
        ck_assert_uint_eq(count_lines(r.out), 3);
        run_done(&r);
}
END_TEST

START_TEST(test_gateway_malformed)
{
        run r;

        gateway_run(&r,
                    "{\"id\": 1, \"method\": \"reactor.ping\"}\n"
                    "{not json\n"
                    "\n"
                    "[1, 2]\n"
                    "{\"id\": 2, \"params\": {}}\n"
                    "{\"id\": 3, \"method\": \"timer.start\", \"params\": [1]}\n"
                    "{\"id\": {\"a\": 1}, \"method\": \"reactor.ping\"}\n"
                    "{\"id\": 4, \"method\": \"no.such\"}\n"
                    "{\"id\": 5, \"method\": \"timer.start\", \"params\": {\"after\": \"x\"}}\n"
                    "{\"id\": null, \"method\": \"reactor.ping\"}\n",
                    (const char *const[]){ NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.err, "");
        /* Bad lines are answered at once, in order; replies follow as they come. */
        ck_assert_msg(starts_with(r.out, "{\"error\":{\"code\":\"EINVAL\",\"message\":\"line 2: "),
                      "%s", r.out);
        ck_assert_contains(r.out, "\n{\"error\":{\"code\":\"EINVAL\",\"message\":\"line 4: a "
                                  "request must be a JSON object\"}}\n");
        ck_assert_contains(r.out, "\n{\"id\":2,\"error\":{\"code\":\"EINVAL\",\"message\":\"line "
                                  "5: \\\"method\\\" must be a non-empty string\"}}\n");
        ck_assert_contains(r.out, "\n{\"id\":3,\"error\":{\"code\":\"EINVAL\",\"message\":\"line "
                                  "6: \\\"params\\\" must be a JSON object\"}}\n");
        ck_assert_contains(r.out, "\n{\"error\":{\"code\":\"EINVAL\",\"message\":\"line 7: "
                                  "\\\"id\\\" must be a JSON scalar\"}}\n");
        ck_assert_contains(r.out, "{\"id\":1,\"result\":{}}\n");
        ck_assert_contains(r.out, "{\"id\":4,\"error\":{\"code\":\"ENOSYS\",");
        ck_assert_contains(r.out, "{\"id\":5,\"error\":{\"code\":\"EINVAL\",");
        ck_assert_contains(r.out, "{\"id\":null,\"result\":{}}\n");
        ck_assert_uint_eq(count_lines(r.out), 9);
        run_done(&r);
}
END_TEST

START_TEST(test_gateway_eof)
{
        run r;

        /* Nothing to do: exit 0 at once. */
        gateway_run(&r, "", (const char *const[]){ NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        ck_assert_str_eq(r.err, "");
        run_done(&r);

        /* A line without an id gets no reply line; a last line needs no newline. */
        gateway_run(&r,
                    "{\"method\": \"reactor.ping\"}\n"
                    "{\"id\": \"last\", \"method\": \"reactor.ping\"}",
                    (const char *const[]){ NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "{\"id\":\"last\",\"result\":{}}\n");
        run_done(&r);

        /* Pending replies are written before the exit. */
        gateway_run(&r,
                    "{\"id\": 1, \"method\": \"timer.start\", \"params\": {\"after\": 60}}\n"
                    "{\"id\": 2, \"method\": \"reactor.resources\"}\n",
                    (const char *const[]){ NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_contains(r.out, "{\"id\":1,\"result\":{\"handle\":");
        ck_assert_contains(r.out, "{\"id\":2,\"result\":{\"resources\":[{");
        ck_assert_uint_eq(count_lines(r.out), 2);
        run_done(&r);

        /* --text is for gateway only. */
        ctl_ep(&r, "--text", "ping");
        ck_assert_int_eq(r.status, 2);
        run_done(&r);
}
END_TEST

START_TEST(test_gateway_text)
{
        run r;
        int in;

        /* "text": true: this process's output as a string; the other's stays bin. */
        pid_t pid = gateway_spawn(&in, (const char *const[]){ NULL });
        put_line(in, "{\"id\": 1, \"text\": true, \"method\": \"process.spawn\", \"params\": "
                     "{\"argv\": [\"echo\", \"hi\"]}}\n");
        wait_for_output("\"data\":\"hi\\n\"}}\n");
        put_line(in, "{\"id\": 2, \"method\": \"process.spawn\", \"params\": {\"argv\": "
                     "[\"echo\", \"hi\"]}}\n");
        wait_for_output("\"data\":{\"$bin\":\"aGkK\"}}}\n");
        close(in);
        ctl_collect(&r, ctl_wait(pid));
        ck_assert_int_eq(r.status, 0);
        run_done(&r);

        /* --text: every bin that is valid UTF-8; others stay bin. */
        pid = gateway_spawn(&in, (const char *const[]){ "--text", NULL });
        put_line(in, "{\"id\": 1, \"method\": \"process.spawn\", \"params\": {\"argv\": "
                     "[\"printf\", \"h\\u00e9\"]}}\n");
        wait_for_output("\"data\":\"h\xc3\xa9\"}}\n");
        close(in);
        ctl_collect(&r, ctl_wait(pid));
        ck_assert_int_eq(r.status, 0);
        run_done(&r);
}
END_TEST

static Suite *reactorctl_suite(void)
{
        Suite *s = suite_create("reactorctl");
        TCase *tc = tcase_create("reactorctl");

        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_ping);
        tcase_add_test(tc, test_info);
        tcase_add_test(tc, test_methods);
        tcase_add_test(tc, test_resources);
        tcase_add_test(tc, test_call);
        tcase_add_test(tc, test_call_errors);
        tcase_add_test(tc, test_usage);
        tcase_add_test(tc, test_unreachable);
        tcase_add_test(tc, test_watch_count);
        tcase_add_test(tc, test_watch_sigint);
        tcase_add_test(tc, test_watch_sigterm);
        tcase_add_test(tc, test_watch_errors);
        tcase_add_test(tc, test_gateway_timer);
        tcase_add_test(tc, test_gateway_malformed);
        tcase_add_test(tc, test_gateway_eof);
        tcase_add_test(tc, test_gateway_text);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        /* Without the programs there is nothing to test: tell meson to skip. */
        if (!getenv("REACTORD") || !getenv("REACTORCTL"))
                return 77;

        SRunner *sr = srunner_create(reactorctl_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
