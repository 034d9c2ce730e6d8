/* SPDX-License-Identifier: MIT */
/*
 * The processes capability of reactord (PROTOCOL.md §4 "processes", and §5
 * credit for their output), driven through the generic calls of libreactord
 * against a real reactord started on a temporary ipc:// endpoint. Params that
 * need arrays or maps (argv, env, fds) go through rd_client_call_json(), whose
 * JSON results are read back as rd_values with proto/json.h.
 *
 * What the children do is observed from outside too: /proc tells which
 * processes exist, who their parent is and whether they are zombies.
 *
 * Waits are generous upper bounds; only behaviour and exact error codes are
 * asserted, never timing. reactord runs under a janitor process, a child
 * subreaper that outlives a failed test: when the test ends, however it ends,
 * the janitor kills reactord's process tree, reactord and whatever reactord
 * left behind, reaps them all and removes the temporary directory. The test's
 * own helper processes die with it (PR_SET_PDEATHSIG).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/decoder.h"
#include "proto/json.h"
#include "proto/writer.h"
#include "child.h"
#include "procfd.h"
#include "reactord/client.h"

/* How long any one wait may take before the test fails. */
#define WAIT_SEC 20.0

/* The many-spawns test: processes, sessions spawning them at once, spawns per batch. */
#define N_SPAWNS      1000
#define SPAWN_THREADS 4
#define SPAWN_BATCH   25

/* The output test: bytes of child output, the slow client's window, reactord's RSS bound. */
#define FLOW_BYTES  (100ull << 20)
#define FLOW_WINDOW (256 * 1024)
/*
 * The bound holds for reactord itself. Under ASan its quarantine, and under
 * valgrind the tool's own memory, live in the same RSS: there the bound is
 * relaxed (the valgrind setup sets REACTORD_UNDER_VALGRIND).
 */
static long rss_bound_kib(void)
{
#if defined(__SANITIZE_ADDRESS__)
        return 1024L * 1024;
#else
        return getenv("REACTORD_UNDER_VALGRIND") ? 1024L * 1024 : (64 * 1024);
#endif
}
#define RSS_BOUND_KIB rss_bound_kib()

/* A variable set in reactord's own environment, to tell inherited variables apart. */
#define MARK_NAME  "RD_TEST_MARK"
#define MARK_VALUE "inherited"

#define PYTHON         "/usr/bin/python3"
#define SYSTEMD_NOTIFY "/usr/bin/systemd-notify"

/* How long the teardown waits for reactord's descriptors to be as they were (a lease and more). */
#define FD_WAIT_SEC 30.0

static char tmpdir[PATH_MAX - 64];
static char endpoint[PATH_MAX + 16];
static char bus_path[PATH_MAX + 8]; /* the endpoint's socket file */
static pid_t daemon_pid = -1;
static procfd_set fd_baseline; /* reactord's descriptors once it served */

/* ---- time, patterns, checksums ------------------------------------------------------------ */

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The byte at `offset` of the output test's stream: every MiB is 0, 1, ..., 255
 * repeated, rotated by the MiB's index modulo 251, so lost, repeated or
 * reordered blocks show. The generator in Python writes the same.
 */
static inline uint8_t pattern_at(uint64_t offset)
{
        return (uint8_t)((offset & 0xfffff) + (offset >> 20) % 251);
}

static const char pattern_program[] = "import sys\n"
                                      "b = bytes(range(256)) * 4096\n"
                                      "w = sys.stdout.buffer.write\n"
                                      "for i in range(100):\n"
                                      "    r = i % 251\n"
                                      "    w(b[r:] + b[:r])\n";

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

/* FNV-1a, 64 bits, continued from `h`. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= FNV_PRIME;
        }
        return h;
}

/* ---- /proc -------------------------------------------------------------------------------- */

/* One line of /proc/PID/stat, the fields the tests need. */
typedef struct proc_info {
        pid_t pid;     /* the process */
        char state;    /* 'R', 'S', 'Z', ... */
        pid_t ppid;    /* its parent */
        pid_t pgid;    /* its process group */
        char comm[32]; /* its command name */
} proc_info;

/* Read /proc/PID/stat; returns 0, or -ENOENT when there is no such process. */
static int proc_read(pid_t pid, proc_info *p)
{
        char path[64], buf[1024], *open_paren, *close_paren;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -ENOENT;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -ENOENT;
        buf[n] = '\0';
        /* The command name may hold spaces and parentheses: it ends at the last ')'. */
        open_paren = strchr(buf, '(');
        close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
                return -ENOENT;
        memset(p, 0, sizeof(*p));
        p->pid = pid;
        snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(close_paren - open_paren - 1),
                 open_paren + 1);
        if (sscanf(close_paren + 1, " %c %d %d", &p->state, &p->ppid, &p->pgid) != 3)
                return -ENOENT;
        return 0;
}

/* Every process of the system; *ret is an array the caller frees. */
static size_t proc_scan(proc_info **ret)
{
        size_t n = 0, cap = 256;
        proc_info *v = malloc(cap * sizeof(*v));
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!v || !d) {
                free(v);
                if (d)
                        closedir(d);
                *ret = NULL;
                return 0;
        }
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 0)
                        continue;
                if (n == cap) {
                        proc_info *p = realloc(v, 2 * cap * sizeof(*v));
                        if (!p)
                                break;
                        v = p;
                        cap *= 2;
                }
                if (proc_read((pid_t)pid, &v[n]) == 0)
                        n++;
        }
        closedir(d);
        *ret = v;
        return n;
}

/* Is there a process `pid`, not yet a zombie? */
static bool proc_alive(pid_t pid)
{
        proc_info p;
        return proc_read(pid, &p) == 0 && p.state != 'Z';
}

/* Zombies whose parent is `ppid`; the first one's pid in *first (may be NULL). */
static unsigned zombies_of(pid_t ppid, pid_t *first)
{
        proc_info *v;
        size_t n = proc_scan(&v);
        unsigned z = 0;

        for (size_t i = 0; i < n; i++)
                if (v[i].ppid == ppid && v[i].state == 'Z') {
                        if (z++ == 0 && first)
                                *first = v[i].pid;
                }
        free(v);
        return z;
}

/*
 * reactord's children as the kernel lists them (/proc/PID/task/TID/children,
 * over every thread), and how many of them are zombies.
 */
static unsigned daemon_children(unsigned *zombies)
{
        char path[320];
        struct dirent *de;
        unsigned n = 0;
        DIR *d;

        *zombies = 0;
        snprintf(path, sizeof(path), "/proc/%d/task", (int)daemon_pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                FILE *f;
                int pid;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)daemon_pid,
                         de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fscanf(f, "%d", &pid) == 1) {
                        proc_info p;
                        n++;
                        if (proc_read(pid, &p) == 0 && p.state == 'Z')
                                (*zombies)++;
                }
                fclose(f);
        }
        closedir(d);
        return n;
}

/* Wait until `pid` no longer exists at all (neither running nor a zombie). */
static void wait_gone(pid_t pid, const char *what)
{
        proc_info p;

        for (double deadline = now() + WAIT_SEC; proc_read(pid, &p) == 0;) {
                ck_assert_msg(now() < deadline, "%s (pid %d) is still there, state %c, parent %d",
                              what, (int)pid, p.state, (int)p.ppid);
                usleep(10 * 1000);
        }
}

/* Wait until no child of reactord is a zombie: reactord reaps what ends. */
static void wait_no_zombies(void)
{
        pid_t z = 0;

        for (double deadline = now() + WAIT_SEC; zombies_of(daemon_pid, &z) > 0;) {
                ck_assert_msg(now() < deadline, "pid %d stays a zombie child of reactord", (int)z);
                usleep(10 * 1000);
        }
}

/* reactord's resident set, KiB. */
static long daemon_rss_kib(void)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* ---- what a test owns: clients (helper processes: tests/child.c)
 * ----------------------------------- */

static rd_client *clients[8]; /* clients of the test process, NULL once freed */

static rd_client *client_new_with(const rd_client_options *opts)
{
        rd_client *c = NULL;
        size_t i;
        int r;

        r = rd_client_new(endpoint, opts, &c);
        ck_assert_msg(r == 0, "rd_client_new: %s", strerror(-r));
        for (i = 0; i < sizeof(clients) / sizeof(clients[0]) && clients[i]; i++)
                ;
        ck_assert_uint_lt(i, sizeof(clients) / sizeof(clients[0]));
        clients[i] = c;
        return c;
}

static rd_client *client_new(const char *name)
{
        rd_client_options opts = { .name = name, .timeout = 60 };
        return client_new_with(&opts);
}

static void client_free(rd_client *c)
{
        for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
                if (clients[i] == c)
                        clients[i] = NULL;
        rd_client_free(c);
}

/* ---- the daemon and its process tree ------------------------------------------------------ */

/* SIGKILL every descendant of `root` (not root itself); returns how many were signalled. */
static unsigned kill_descendants(pid_t root)
{
        proc_info *v;
        size_t n = proc_scan(&v);
        pid_t *tree = calloc(n + 1, sizeof(*tree));
        size_t m = 0, next = 0;

        if (!tree) {
                free(v);
                return 0;
        }
        tree[m++] = root;
        while (next < m) {
                pid_t parent = tree[next++];
                for (size_t i = 0; i < n; i++)
                        if (v[i].ppid == parent && v[i].pid != root)
                                tree[m++] = v[i].pid;
        }
        for (size_t i = 1; i < m; i++)
                kill(tree[i], SIGKILL);
        free(tree);
        free(v);
        return (unsigned)(m - 1);
}

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/*
 * The janitor: a process between the test and reactord, and a child subreaper,
 * so that whatever reactord spawned and left behind is adopted by it. It waits
 * until the test closes its pipe, or dies (a failed assertion ends a test with
 * _exit(), which runs no handler of the test), and then kills reactord's
 * process tree, stops reactord, kills and reaps every process it adopted and
 * removes the temporary directory.
 */
static pid_t janitor_pid = -1;
static int janitor_fd = -1; /* the test's end of the janitor's pipe; closing it starts the work */

static _Noreturn void janitor_main(int in, int out, const char *exe)
{
        bool gone = false;
        pid_t pid;
        char b;

        /* Check kills the failed test's process group: the janitor and reactord live outside it. */
        (void)setpgid(0, 0);
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the janitor */
                setenv(MARK_NAME, MARK_VALUE, 1);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                execl(exe, exe, "--endpoint", endpoint, (char *)NULL);
                _exit(127);
        }
        if (write(out, &pid, sizeof(pid)) != sizeof(pid) || pid < 0)
                _exit(1);
        close(out);
        while (read(in, &b, 1) < 0 && errno == EINTR)
                ;

        /* reactord's children first, while it still reaps; it must then stop at once. */
        (void)kill_descendants(pid);
        kill(pid, SIGTERM);
        for (double deadline = now() + 10; !gone && now() < deadline;) {
                gone = waitpid(pid, NULL, WNOHANG) == pid;
                if (!gone) {
                        (void)kill_descendants(pid);
                        usleep(10 * 1000);
                }
        }
        if (!gone)
                kill(pid, SIGKILL);
        /* reactord and whatever it left behind are this subreaper's now: kill and reap it all. */
        for (double deadline = now() + 10; now() < deadline;) {
                pid_t p = waitpid(-1, NULL, WNOHANG);

                if (p < 0 && errno == ECHILD)
                        break;
                if (p > 0)
                        continue;
                (void)kill_descendants(getpid());
                usleep(10 * 1000);
        }
        nftw(tmpdir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
        _exit(0);
}

/* Idempotent: the teardown's work, and an atexit handler for runs without fork. */
static void cleanup(void)
{
        child_cleanup();
        if (janitor_fd >= 0) {
                close(janitor_fd);
                janitor_fd = -1;
        }
        if (janitor_pid > 0) {
                while (waitpid(janitor_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                janitor_pid = -1;
        }
        daemon_pid = -1;
        tmpdir[0] = '\0';
        procfd_done(&fd_baseline);
}

static void daemon_stop(void)
{
        /* Sessions end cleanly while the daemon still answers. */
        for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
                if (clients[i]) {
                        rd_client_free(clients[i]);
                        clients[i] = NULL;
                }
        /*
         * The helpers' sessions end after their lease once they are gone, and
         * their processes with them (orphan "stop"): then nothing the test
         * made holds a descriptor in reactord. A test may have ended reactord.
         */
        child_cleanup();
        if (proc_alive(daemon_pid))
                procfd_expect(daemon_pid, bus_path, &fd_baseline, FD_WAIT_SEC, "the teardown");
        cleanup();
}

static void daemon_start(void)
{
        static bool registered;
        const char *exe = getenv("REACTORD");
        const char *tmp = getenv("TMPDIR");
        rd_client_options opts = { .timeout = 0.5 };
        rd_client *c = NULL;
        int down[2], up[2];
        int r = -EIO;

        signal(SIGPIPE, SIG_IGN);
        ck_assert_msg(exe && *exe, "$REACTORD is not set");

        snprintf(tmpdir, sizeof(tmpdir), "%s/test-processes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", tmpdir);
        snprintf(bus_path, sizeof(bus_path), "%s/bus", tmpdir);
        if (!registered) {
                atexit(cleanup);
                registered = true;
        }

        ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
        janitor_pid = fork();
        ck_assert_int_ge(janitor_pid, 0);
        if (janitor_pid == 0) {
                close(down[1]);
                close(up[0]);
                janitor_main(down[0], up[1], exe);
        }
        close(down[0]);
        close(up[1]);
        janitor_fd = down[1];
        r = (int)read(up[0], &daemon_pid, sizeof(daemon_pid));
        close(up[0]);
        ck_assert_msg(r == sizeof(daemon_pid) && daemon_pid > 0, "reactord did not start");

        for (double deadline = now() + 30; now() < deadline;) {
                ck_assert_msg(proc_alive(daemon_pid), "reactord exited");
                r = rd_client_new(endpoint, &opts, &c);
                if (r >= 0)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_msg(r >= 0, "reactord does not answer: %s", strerror(-r));
        rd_client_free(c);
        procfd_baseline(daemon_pid, bus_path, &fd_baseline);
}

/* ---- JSON results ------------------------------------------------------------------------- */

/* A JSON text decoded into an rd_value, which lives as long as the box. */
typedef struct json_box {
        rd_writer w;       /* the msgpack of a notification carrying the value */
        rd_decoder *d;     /* decodes it */
        rd_msg msg;        /* the decoded notification */
        const rd_value *v; /* the value */
} json_box;

/* Decode `json`; returns 0 or a negative errno (never asserts: helpers use it too). */
static int json_parse(const char *json, json_box *b)
{
        int r;

        *b = (json_box){ .w = RD_WRITER_INIT };
        rd_write_notification(&b->w, "v", 1);
        rd_write_str(&b->w, "v");
        r = rd_json_to_msgpack(json, strlen(json), &b->w, NULL, 0);
        if (r < 0)
                return r;
        if (rd_writer_failed(&b->w))
                return -ENOMEM;
        r = rd_decoder_new(&b->d);
        if (r < 0)
                return r;
        r = rd_decoder_begin(b->d, b->w.data, b->w.size);
        if (r < 0)
                return r;
        if (rd_decoder_next(b->d, &b->msg) != 1)
                return -EBADMSG;
        b->v = rd_value_get(b->msg.params, "v");
        return b->v ? 0 : -EBADMSG;
}

static void json_done(json_box *b)
{
        rd_decoder_free(b->d);
        rd_writer_done(&b->w);
        *b = (json_box){ .w = RD_WRITER_INIT };
}

/* ---- spawning ----------------------------------------------------------------------------- */

/* What process.spawn answered. */
typedef struct spawned {
        uint64_t handle;  /* the process handle */
        size_t n_pids;    /* entries used in pids */
        int64_t pids[64]; /* one per instance */
} spawned;

/* process.spawn with `params` (a JSON object); returns 0 or the call's negative errno. */
static int spawn_try(rd_client *c, const char *params, spawned *sp)
{
        char *json = NULL;
        json_box b;
        const rd_value *pids;
        int r;

        memset(sp, 0, sizeof(*sp));
        r = rd_client_call_json(c, "process.spawn", params, &json);
        if (r < 0)
                return r;
        r = json_parse(json, &b);
        free(json);
        if (r < 0) {
                json_done(&b);
                return r;
        }
        sp->handle = rd_value_get_uint(b.v, "handle", 0);
        pids = rd_value_get(b.v, "pids");
        for (size_t i = 0; i < rd_value_len(pids) && i < 64; i++)
                if (rd_value_int(rd_value_at(pids, i), &sp->pids[i]) == 0)
                        sp->n_pids++;
        json_done(&b);
        return sp->handle ? 0 : -EBADMSG;
}

/* process.spawn with printf-style JSON params, which must succeed. */
_printf_(2, 3) static spawned spawn_ok(rd_client *c, const char *fmt, ...)
{
        char params[8192];
        spawned sp;
        va_list ap;
        int r;

        va_start(ap, fmt);
        ck_assert_int_lt(vsnprintf(params, sizeof(params), fmt, ap), (int)sizeof(params));
        va_end(ap);
        r = spawn_try(c, params, &sp);
        ck_assert_msg(r == 0, "process.spawn %s: %s (%s)", params, strerror(-r),
                      rd_client_last_error(c));
        ck_assert_uint_gt(sp.handle, 0);
        ck_assert_uint_ge(sp.n_pids, 1);
        for (size_t i = 0; i < sp.n_pids; i++)
                ck_assert_int_gt(sp.pids[i], 1);
        return sp;
}

/*
 * process.spawn with printf-style JSON params, which must fail with `err`; the
 * server's message must contain one of the words of `words` (a '|'-separated
 * list; NULL: any message).
 */
_printf_(4, 5) static void spawn_fails(rd_client *c, int err, const char *words, const char *fmt,
                                       ...)
{
        char params[4096], msg[512], list[128];
        bool found = false;
        spawned sp;
        va_list ap;
        int r;

        va_start(ap, fmt);
        ck_assert_int_lt(vsnprintf(params, sizeof(params), fmt, ap), (int)sizeof(params));
        va_end(ap);
        r = spawn_try(c, params, &sp);
        snprintf(msg, sizeof(msg), "%s", rd_client_last_error(c));
        ck_assert_msg(r == err, "process.spawn %s: %s (%s) instead of %s", params,
                      r == 0 ? "success" : strerror(-r), msg, strerror(-err));
        if (!words)
                return;
        snprintf(list, sizeof(list), "%s", words);
        for (char *save = NULL, *w = strtok_r(list, "|", &save); w && !found;
             w = strtok_r(NULL, "|", &save))
                found = strstr(msg, w) != NULL;
        ck_assert_msg(found, "process.spawn %s: the message \"%s\" names none of %s", params, msg,
                      words);
}

/* A call on a process handle with no other params; returns 0 or its negative errno. */
static int proc_call(rd_client *c, const char *method, uint64_t h)
{
        return rd_client_callv(c, method, NULL, RD_UINT("handle", h));
}

static void proc_call_ok(rd_client *c, const char *method, uint64_t h)
{
        int r = proc_call(c, method, h);
        ck_assert_msg(r == 0, "%s: %s (%s)", method, strerror(-r), rd_client_last_error(c));
}

/* process.write; returns 0 or the negative errno, *buffered when it is not NULL. */
static int proc_write(rd_client *c, uint64_t h, const char *text, uint64_t *buffered)
{
        rd_reply *reply = NULL;
        int r = rd_client_callv(c, "process.write", &reply, RD_UINT("handle", h),
                                RD_BIN("data", text, strlen(text)));

        if (r == 0 && buffered)
                ck_assert_int_eq(
                        rd_value_uint(rd_value_get(rd_reply_result(reply), "buffered"), buffered),
                        0);
        rd_reply_free(reply);
        return r;
}

/* ---- recording events --------------------------------------------------------------------- */

/* One process event, copied out of its frame. Numeric fields are -1 when absent. */
typedef struct event {
        size_t seq;       /* position in the log: events arrived in this order */
        char name[32];    /* "process.exited" */
        uint64_t handle;  /* the payload's handle */
        int64_t instance; /* every process event */
        int64_t pid;      /* started, ready, exited */
        int64_t fd;       /* output */
        int64_t code;     /* exited, normally */
        int64_t signal;   /* exited by a signal */
        int core;         /* exited by a signal: 0/1 */
        int final;        /* ended: 0/1 */
        int64_t attempt;  /* restarting */
        double delay;     /* restarting, seconds */
        int64_t restarts; /* gave_up */
        uint8_t *data;    /* output: its bytes (owned) */
        size_t len;       /* their length */
        bool used;        /* a wait took it */
} event;

/* Every event one client received, in order. */
typedef struct evlog {
        event *v;   /* the events */
        size_t n;   /* events in v */
        size_t cap; /* allocated */
} evlog;

static int64_t get_num(const rd_value *map, const char *key)
{
        int64_t i;
        return rd_value_int(rd_value_get(map, key), &i) == 0 ? i : -1;
}

static int get_bool(const rd_value *map, const char *key)
{
        bool b;
        return rd_value_bool(rd_value_get(map, key), &b) == 0 ? b : -1;
}

static int log_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        evlog *log = userdata;
        const void *p;
        event *e;
        size_t n;

        if (log->n == log->cap) {
                event *v = realloc(log->v, (log->cap ? 2 * log->cap : 64) * sizeof(*v));
                ck_assert_ptr_nonnull(v);
                log->v = v;
                log->cap = log->cap ? 2 * log->cap : 64;
        }
        e = &log->v[log->n];
        memset(e, 0, sizeof(*e));
        e->seq = log->n++;
        snprintf(e->name, sizeof(e->name), "%s", ev->name);
        e->handle = rd_value_get_uint(ev->payload, "handle", 0);
        e->instance = get_num(ev->payload, "instance");
        e->pid = get_num(ev->payload, "pid");
        e->fd = get_num(ev->payload, "fd");
        e->code = get_num(ev->payload, "code");
        e->signal = get_num(ev->payload, "signal");
        e->core = get_bool(ev->payload, "core");
        e->final = get_bool(ev->payload, "final");
        e->attempt = get_num(ev->payload, "attempt");
        e->delay = rd_value_get_double(ev->payload, "delay", -1);
        e->restarts = get_num(ev->payload, "restarts");
        if (rd_value_bin(rd_value_get(ev->payload, "data"), &p, &n) == 0) {
                e->data = malloc(n ? n : 1);
                ck_assert_ptr_nonnull(e->data);
                memcpy(e->data, p, n);
                e->len = n;
        }
        return 0;
}

static void evlog_done(evlog *log)
{
        for (size_t i = 0; i < log->n; i++)
                free(log->v[i].data);
        free(log->v);
        *log = (evlog){ 0 };
}

/* A client whose every event goes to `log`. */
static rd_client *client_logged(evlog *log)
{
        rd_client *c = client_new("test-processes");
        ck_assert_int_eq(rd_client_on_any(c, log_event, log), 0);
        return c;
}

/* Dispatch what has arrived, wait at most max_ms for more, dispatch again. */
static int pump_quiet(rd_client *c, int max_ms)
{
        struct pollfd p = { .fd = rd_client_fd(c), .events = POLLIN };
        int r, t;

        r = rd_client_process(c);
        if (r < 0)
                return r;
        t = rd_client_timeout(c);
        if (t < 0 || t > max_ms)
                t = max_ms;
        (void)poll(&p, 1, t);
        return rd_client_process(c);
}

static void pump(rd_client *c, int max_ms)
{
        int r = pump_quiet(c, max_ms);
        ck_assert_msg(r >= 0, "the session is lost: %s", strerror(-r));
}

static event *find_event(evlog *log, const char *name, uint64_t handle)
{
        for (size_t i = 0; i < log->n; i++) {
                event *e = &log->v[i];
                if (!e->used && strcmp(e->name, name) == 0 && (!handle || e->handle == handle))
                        return e;
        }
        return NULL;
}

/* The first unread `name` event of `handle` (0: any handle); fails after WAIT_SEC. */
static event wait_event(rd_client *c, evlog *log, const char *name, uint64_t handle)
{
        for (double deadline = now() + WAIT_SEC;;) {
                event *e = find_event(log, name, handle);
                if (e) {
                        e->used = true;
                        return *e;
                }
                ck_assert_msg(now() < deadline, "no %s event for handle %" PRIu64, name, handle);
                pump(c, 50);
        }
}

/* The position of the `process.ended {final: true}` of `handle`, or -1. */
static ssize_t find_final(evlog *log, uint64_t handle)
{
        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].handle == handle && log->v[i].final == 1 &&
                    strcmp(log->v[i].name, "process.ended") == 0)
                        return (ssize_t)i;
        return -1;
}

/* Wait for `process.ended {final: true}` of `handle`; returns its position in the log. */
static size_t wait_final(rd_client *c, evlog *log, uint64_t handle)
{
        ssize_t i;

        for (double deadline = now() + WAIT_SEC; (i = find_final(log, handle)) < 0;) {
                ck_assert_msg(now() < deadline, "no final process.ended for handle %" PRIu64,
                              handle);
                pump(c, 50);
        }
        return (size_t)i;
}

/* How many `name` events of `handle` arrived. */
static unsigned count_events(evlog *log, const char *name, uint64_t handle)
{
        unsigned n = 0;

        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].handle == handle && strcmp(log->v[i].name, name) == 0)
                        n++;
        return n;
}

/* The n-th (0-based) `name` event of `handle`; it must exist. */
static const event *nth_event(evlog *log, const char *name, uint64_t handle, unsigned n)
{
        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].handle == handle && strcmp(log->v[i].name, name) == 0 && n-- == 0)
                        return &log->v[i];
        ck_abort_msg("no %s event of handle %" PRIu64, name, handle);
        return NULL;
}

/* Every process.output of `handle` on `fd` so far, concatenated: a string the caller frees. */
static char *output_of(evlog *log, uint64_t handle, int fd)
{
        size_t len = 0;
        char *s;

        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].handle == handle && log->v[i].fd == fd &&
                    strcmp(log->v[i].name, "process.output") == 0)
                        len += log->v[i].len;
        s = malloc(len + 1);
        ck_assert_ptr_nonnull(s);
        len = 0;
        for (size_t i = 0; i < log->n; i++)
                if (log->v[i].handle == handle && log->v[i].fd == fd &&
                    strcmp(log->v[i].name, "process.output") == 0) {
                        memcpy(s + len, log->v[i].data, log->v[i].len);
                        len += log->v[i].len;
                }
        s[len] = '\0';
        return s;
}

/* Wait until the output of `handle` on `fd` contains `text`; returns it (caller frees). */
static char *wait_output(rd_client *c, evlog *log, uint64_t handle, int fd, const char *text)
{
        for (double deadline = now() + WAIT_SEC;;) {
                char *s = output_of(log, handle, fd);
                if (strstr(s, text))
                        return s;
                ck_assert_msg(now() < deadline, "no \"%s\" in the output \"%s\"", text, s);
                free(s);
                pump(c, 50);
        }
}

/*
 * Check the end of a process of one instance that ran to completion: exactly
 * one exited event with pid `pid` and the given code (>= 0) or signal (> 0),
 * then exactly one process.ended {final: true}, after every output event.
 */
static void expect_end(evlog *log, uint64_t h, int64_t pid, int code, int sig)
{
        size_t fin = (size_t)find_final(log, h);
        const event *ex;

        ck_assert_uint_eq(count_events(log, "process.exited", h), 1);
        ck_assert_uint_eq(count_events(log, "process.ended", h), 1);
        ex = nth_event(log, "process.exited", h, 0);
        ck_assert_int_eq(ex->instance, 0);
        ck_assert_int_eq(ex->pid, pid);
        if (sig > 0) {
                ck_assert_msg(ex->signal == sig,
                              "exited with signal %" PRId64 " (code %" PRId64
                              ") instead of signal %d",
                              ex->signal, ex->code, sig);
                ck_assert_int_eq(ex->code, -1);
                ck_assert_int_eq(ex->core, 0);
        } else {
                ck_assert_msg(ex->code == code,
                              "exited with code %" PRId64 " (signal %" PRId64
                              ") instead of code %d",
                              ex->code, ex->signal, code);
                ck_assert_int_eq(ex->signal, -1);
        }
        ck_assert_int_eq(log->v[fin].instance, 0);
        ck_assert_uint_lt(ex->seq, fin);
        for (size_t i = fin + 1; i < log->n; i++)
                ck_assert_msg(log->v[i].handle != h, "%s after the final process.ended",
                              log->v[i].name);
        for (size_t i = 0; i < fin; i++)
                if (log->v[i].handle == h)
                        ck_assert_msg(strcmp(log->v[i].name, "process.restarting") != 0 &&
                                              strcmp(log->v[i].name, "process.gave_up") != 0,
                                      "%s of an unsupervised process", log->v[i].name);
}

/* After its final process.ended a handle is released: every call on it is ENOENT. */
static void expect_released(rd_client *c, uint64_t h)
{
        ck_assert_int_eq(proc_write(c, h, "late", NULL), -ENOENT);
        ck_assert_int_eq(proc_call(c, "process.close_stdin", h), -ENOENT);
        ck_assert_int_eq(rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", h),
                                         RD_STR("signal", "TERM")),
                         -ENOENT);
        ck_assert_int_eq(proc_call(c, "process.stop", h), -ENOENT);
}

/* Spawn, wait for the final process.ended, and return the log's view of it. */
static spawned run(rd_client *c, evlog *log, const char *params)
{
        spawned sp = spawn_ok(c, "%s", params);
        (void)wait_final(c, log, sp.handle);
        return sp;
}

/* ---- process.list ------------------------------------------------------------------------- */

/* A process.list answer, kept alive for its values. */
typedef struct listing {
        rd_reply *reply;           /* owns the values */
        const rd_value *processes; /* the array */
} listing;

static listing list_processes(rd_client *c)
{
        listing l = { 0 };
        int r = rd_client_call(c, "process.list", NULL, 0, &l.reply);

        ck_assert_msg(r == 0, "process.list: %s (%s)", strerror(-r), rd_client_last_error(c));
        l.processes = rd_value_get(rd_reply_result(l.reply), "processes");
        ck_assert_int_eq(rd_value_type_of(l.processes), RD_VALUE_ARRAY);
        return l;
}

/* The entry of `h` (0: any) or named `name` (NULL: any), or NULL. */
static const rd_value *listing_find(const listing *l, uint64_t h, const char *name)
{
        for (size_t i = 0; i < rd_value_len(l->processes); i++) {
                const rd_value *p = rd_value_at(l->processes, i);
                if ((!h || rd_value_get_uint(p, "handle", 0) == h) &&
                    (!name || rd_value_str_eq(rd_value_get(p, "name"), name)))
                        return p;
        }
        return NULL;
}

/*
 * Does the `owner` of a process.list entry name this client? The contract does
 * not say what an owner is: a session id, a session name, or a map with them.
 */
static bool owner_is(const rd_value *entry, rd_client *c, const char *name)
{
        const rd_value *o = rd_value_get(entry, "owner");
        uint64_t u;

        if (rd_value_type_of(o) == RD_VALUE_MAP) {
                if (rd_value_uint(rd_value_get(o, "session"), &u) == 0)
                        return u == rd_client_session(c);
                return rd_value_str_eq(rd_value_get(o, "name"), name);
        }
        if (rd_value_uint(o, &u) == 0)
                return u == rd_client_session(c);
        return rd_value_str_eq(o, name);
}

/* How many processes does process.list show? */
static size_t count_listed(rd_client *c)
{
        listing l = list_processes(c);
        size_t n = rd_value_len(l.processes);
        rd_reply_free(l.reply);
        return n;
}

/* ---- 1. stdio ----------------------------------------------------------------------------- */

START_TEST(test_cat_round_trip)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        uint64_t buffered = 0;
        event started;
        char *out, *err;
        size_t fin;

        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/cat\"]}");
        ck_assert_uint_eq(sp.n_pids, 1);
        started = wait_event(c, &log, "process.started", sp.handle);
        ck_assert_int_eq(started.pid, sp.pids[0]);
        ck_assert_int_eq(started.instance, 0);

        ck_assert_int_eq(proc_write(c, sp.handle, "hello, ", &buffered), 0);
        ck_assert_uint_le(buffered, 7);
        ck_assert_int_eq(proc_write(c, sp.handle, "cat\n", &buffered), 0);
        ck_assert_uint_le(buffered, 11);
        proc_call_ok(c, "process.close_stdin", sp.handle);
        /* Writing after close_stdin is EPIPE (the process may also be gone: ENOENT). */
        int r = proc_write(c, sp.handle, "more", NULL);
        ck_assert_msg(r == -EPIPE || r == -ENOENT, "process.write after close_stdin: %s",
                      strerror(-r));

        fin = wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        err = output_of(&log, sp.handle, 2);
        ck_assert_str_eq(out, "hello, cat\n");
        ck_assert_str_eq(err, "");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        ck_assert_int_eq(log.v[fin].final, 1);
        for (size_t i = 0; i < log.n; i++)
                if (strcmp(log.v[i].name, "process.output") == 0)
                        ck_assert_int_eq(log.v[i].instance, 0);
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 1);
        expect_released(c, sp.handle);
        free(out);
        free(err);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* stdin stays open until close_stdin; writes after it are EPIPE. */
START_TEST(test_close_stdin_epipe)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp;
        char *out;

        sp = spawn_ok(c, "{\"argv\": [\"/bin/sh\", \"-c\", \"cat; exec /bin/sleep 100\"]}");
        ck_assert_int_eq(proc_write(c, sp.handle, "one\n", NULL), 0);
        out = wait_output(c, &log, sp.handle, 1, "one\n");
        free(out);
        proc_call_ok(c, "process.close_stdin", sp.handle);
        ck_assert_int_eq(proc_write(c, sp.handle, "two\n", NULL), -EPIPE);
        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        ck_assert_str_eq(out, "one\n");
        expect_end(&log, sp.handle, sp.pids[0], 0, SIGTERM);
        free(out);
        client_free(c);
        evlog_done(&log);
}
END_TEST

START_TEST(test_stderr)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = run(c, &log, "{\"argv\": [\"/bin/sh\", \"-c\", \"echo err >&2\"]}");
        char *out = output_of(&log, sp.handle, 1);
        char *err = output_of(&log, sp.handle, 2);

        ck_assert_str_eq(out, "");
        ck_assert_str_eq(err, "err\n");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);
        free(err);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* "null" stdio: stdout to /dev/null, stdin from /dev/null (and then not writable: EPIPE). */
START_TEST(test_stdio_null)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp;
        char *out, *err;

        sp = run(c, &log,
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"echo out; echo err >&2\"], "
                 "\"stdout\": \"null\"}");
        out = output_of(&log, sp.handle, 1);
        err = output_of(&log, sp.handle, 2);
        ck_assert_str_eq(out, "");
        ck_assert_str_eq(err, "err\n");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);
        free(err);

        sp = spawn_ok(c, "{\"argv\": [\"/bin/sh\", \"-c\", \"cat; echo read-eof; exec /bin/sleep "
                         "100\"], \"stdin\": \"null\", \"stderr\": \"null\"}");
        out = wait_output(c, &log, sp.handle, 1, "read-eof\n");
        ck_assert_str_eq(out, "read-eof\n");
        ck_assert_int_eq(proc_write(c, sp.handle, "x", NULL), -EPIPE);
        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, SIGTERM);
        free(out);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* Does `text`, a list of lines, hold the line `line`? */
static bool has_line(const char *text, const char *line)
{
        size_t n = strlen(line);

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

/* How many lines of `text` start with `prefix`? */
static unsigned lines_starting(const char *text, const char *prefix)
{
        unsigned k = 0;

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        k++;
        return k;
}

/*
 * The child's environment is what the request says. The contract also gives
 * every child NOTIFY_SOCKET, so an "empty" environment may hold that one line.
 */
START_TEST(test_env)
{
        static const struct {
                const char *params; /* extra spawn params */
                const char *want;   /* lines that must be there, ';'-separated, or "" */
                bool inherits;      /* reactord's own variables are there */
        } cases[] = {
                { "", "", false },
                { ", \"env\": {}", "", false },
                { ", \"env\": {\"FOO\": \"bar\", \"EMPTY\": \"\"}", "FOO=bar;EMPTY=", false },
                { ", \"env_inherit\": false, \"env\": {\"FOO\": \"bar\"}", "FOO=bar", false },
                { ", \"env_inherit\": true", MARK_NAME "=" MARK_VALUE, true },
                { ", \"env_inherit\": true, \"env\": {\"" MARK_NAME "\": \"over\", \"FOO\": "
                  "\"bar\"}",
                  MARK_NAME "=over;FOO=bar", true },
        };
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        char want[256];
        unsigned expected = 0, lines = 0;
        spawned sp;
        char *out;

        sp = spawn_ok(c, "{\"argv\": [\"/usr/bin/env\"]%s}", cases[_i].params);
        (void)wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);

        snprintf(want, sizeof(want), "%s", cases[_i].want);
        for (char *save = NULL, *w = strtok_r(want, ";", &save); w;
             w = strtok_r(NULL, ";", &save)) {
                ck_assert_msg(has_line(out, w), "no line %s in the environment:\n%s", w, out);
                expected++;
        }
        for (const char *p = out; *p; p++)
                if (*p == '\n')
                        lines++;
        if (cases[_i].inherits) {
                ck_assert_msg(lines > expected, "nothing of reactord's environment:\n%s", out);
                ck_assert_uint_eq(lines_starting(out, MARK_NAME "="), 1);
        } else {
                /* Exactly what was asked for, and at most NOTIFY_SOCKET besides. */
                unsigned notify = lines_starting(out, "NOTIFY_SOCKET=");
                ck_assert_uint_le(notify, 1);
                ck_assert_msg(lines == expected + notify, "an environment of %u lines:\n%s", lines,
                              out);
                ck_assert_uint_eq(lines_starting(out, MARK_NAME "="), 0);
        }
        free(out);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* argv[0] without a '/' is looked up in the child's PATH, or the default path. */
START_TEST(test_path_lookup)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        char script[PATH_MAX];
        spawned sp;
        char *out;
        FILE *f;

        snprintf(script, sizeof(script), "%s/rd-hello", tmpdir);
        f = fopen(script, "we");
        ck_assert_ptr_nonnull(f);
        fputs("#!/bin/sh\necho hello from PATH\n", f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(script, 0755), 0);

        sp = spawn_ok(c, "{\"argv\": [\"rd-hello\"], \"env\": {\"PATH\": \"/nonexistent:%s\"}}",
                      tmpdir);
        (void)wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        ck_assert_str_eq(out, "hello from PATH\n");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);

        /* Without PATH: /usr/local/bin:/usr/bin:/bin, where `true` is and rd-hello is not. */
        sp = run(c, &log, "{\"argv\": [\"true\"]}");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        spawn_fails(c, -ENOENT, NULL, "{\"argv\": [\"rd-hello\"]}");
        spawn_fails(c, -ENOENT, NULL, "{\"argv\": [\"true\"], \"env\": {\"PATH\": \"%s\"}}",
                    tmpdir);
        client_free(c);
        evlog_done(&log);
}
END_TEST

START_TEST(test_cwd)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        char real[PATH_MAX], daemon_cwd[PATH_MAX], link[64], want[PATH_MAX + 2];
        spawned sp;
        ssize_t n;
        char *out;

        ck_assert_ptr_nonnull(realpath(tmpdir, real));
        sp = spawn_ok(c, "{\"argv\": [\"/bin/pwd\"], \"cwd\": \"%s\"}", tmpdir);
        (void)wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        snprintf(want, sizeof(want), "%s\n", real);
        ck_assert_str_eq(out, want);
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);

        /* Without cwd: reactord's own. */
        snprintf(link, sizeof(link), "/proc/%d/cwd", (int)daemon_pid);
        n = readlink(link, daemon_cwd, sizeof(daemon_cwd) - 1);
        ck_assert_int_gt(n, 0);
        daemon_cwd[n] = '\0';
        sp = run(c, &log, "{\"argv\": [\"/bin/pwd\"]}");
        out = output_of(&log, sp.handle, 1);
        snprintf(want, sizeof(want), "%s\n", daemon_cwd);
        ck_assert_str_eq(out, want);
        free(out);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 2. exit codes and signals ------------------------------------------------------------ */

START_TEST(test_exit_code)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp;

        sp = run(c, &log, "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 7\"]}");
        expect_end(&log, sp.handle, sp.pids[0], 7, 0);
        expect_released(c, sp.handle);

        sp = run(c, &log, "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 0\"]}");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);

        /* Killed by a signal of its own: signal, not code. */
        sp = run(c, &log, "{\"argv\": [\"/bin/sh\", \"-c\", \"kill -KILL $$\"]}");
        expect_end(&log, sp.handle, sp.pids[0], 0, SIGKILL);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* process.signal by name (with and without "SIG") and by number. */
START_TEST(test_signal)
{
        static const struct {
                const char *name; /* the signal as a name, or NULL */
                unsigned number;  /* ... else as a number */
                int expect;       /* the signal that ends sleep */
        } cases[] = {
                { "TERM", 0, SIGTERM },  { "SIGTERM", 0, SIGTERM },  { NULL, SIGTERM, SIGTERM },
                { "KILL", 0, SIGKILL },  { NULL, SIGKILL, SIGKILL }, { "INT", 0, SIGINT },
                { "SIGHUP", 0, SIGHUP }, { NULL, SIGUSR1, SIGUSR1 },
        };
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/sleep\", \"100\"]}");
        event started = wait_event(c, &log, "process.started", sp.handle);
        int r;

        ck_assert_int_eq(started.pid, sp.pids[0]);
        if (cases[_i].name)
                r = rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", sp.handle),
                                    RD_STR("signal", cases[_i].name));
        else
                r = rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", sp.handle),
                                    RD_UINT("signal", cases[_i].number));
        ck_assert_msg(r == 0, "process.signal: %s (%s)", strerror(-r), rd_client_last_error(c));
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, cases[_i].expect);
        expect_released(c, sp.handle);
        wait_gone((pid_t)sp.pids[0], "the signalled child");
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 3. grandchildren and process groups -------------------------------------------------- */

START_TEST(test_grandchild_reaped)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 100 & echo $!\"]}");
        event ex = wait_event(c, &log, "process.exited", sp.handle);
        char *out = wait_output(c, &log, sp.handle, 1, "\n");
        pid_t g = (pid_t)atoi(out);
        proc_info p;

        ck_assert_int_eq(ex.pid, sp.pids[0]);
        ck_assert_int_eq(ex.code, 0);
        ck_assert_int_gt(g, 1);
        ck_assert_int_ne(g, sp.pids[0]);
        /* The shell is gone: its orphan now belongs to reactord, the subreaper. */
        for (double deadline = now() + WAIT_SEC;;) {
                ck_assert_int_eq(proc_read(g, &p), 0);
                /* Until it has exec'd, the forked grandchild is still called "sh". */
                if (strcmp(p.comm, "sleep") == 0)
                        break;
                ck_assert_msg(now() < deadline, "the grandchild is \"%s\", not sleep", p.comm);
                usleep(10 * 1000);
        }
        ck_assert_msg(p.ppid == daemon_pid, "the grandchild's parent is %d, not reactord (%d)",
                      (int)p.ppid, (int)daemon_pid);
        ck_assert_int_ne(p.state, 'Z');

        /* It still holds the stdout pipe; once it dies the process ends. */
        ck_assert_int_eq(kill(g, SIGKILL), 0);
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        wait_gone(g, "the killed grandchild");
        wait_no_zombies();
        free(out);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* The members of process group `pgid` whose command is `comm`, at most max. */
static size_t group_members(pid_t pgid, const char *comm, pid_t *out, size_t max)
{
        proc_info *v;
        size_t n = proc_scan(&v), k = 0;

        for (size_t i = 0; i < n && k < max; i++)
                if (v[i].pgid == pgid && v[i].state != 'Z' && strcmp(v[i].comm, comm) == 0)
                        out[k++] = v[i].pid;
        free(v);
        return k;
}

START_TEST(test_stop_kills_group)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 100 & sleep 100\"]}");
        pid_t sleeps[4];
        size_t n = 0;

        /* With the default group: true the child leads a process group of its own. */
        for (double deadline = now() + WAIT_SEC; n < 2;) {
                ck_assert_msg(now() < deadline, "%zu sleep processes in group %" PRId64, n,
                              sp.pids[0]);
                n = group_members((pid_t)sp.pids[0], "sleep", sleeps, 4);
                if (n < 2)
                        usleep(10 * 1000);
        }
        ck_assert_uint_eq(n, 2);
        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, SIGTERM);
        wait_gone(sleeps[0], "a sleep of the stopped group");
        wait_gone(sleeps[1], "a sleep of the stopped group");
        wait_gone((pid_t)sp.pids[0], "the stopped child");
        wait_no_zombies();
        expect_released(c, sp.handle);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 4. many short processes -------------------------------------------------------------- */

/* One session spawning its share of the processes, batch by batch, in a thread of its own. */
typedef struct spawner {
        rd_client *c;        /* this thread's session */
        unsigned todo;       /* processes to spawn */
        unsigned spawned;    /* process.spawn answered */
        unsigned exited;     /* process.exited */
        unsigned clean;      /* ... with code 0 */
        unsigned ended;      /* process.ended {final: true} */
        unsigned unexpected; /* any other event, or an ended that is not final */
        int error;           /* the first failure's errno, or 0 */
        char message[256];   /* what failed */
} spawner;

static int spawner_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        spawner *s = userdata;
        bool b;

        if (strcmp(ev->name, "process.exited") == 0) {
                s->exited++;
                if (rd_value_get_uint(ev->payload, "code", 1) == 0 &&
                    !rd_value_get(ev->payload, "signal"))
                        s->clean++;
        } else if (strcmp(ev->name, "process.ended") == 0 &&
                   rd_value_bool(rd_value_get(ev->payload, "final"), &b) == 0 && b)
                s->ended++;
        else if (strcmp(ev->name, "process.started") != 0)
                s->unexpected++;
        return 0;
}

static void *spawner_main(void *userdata)
{
        spawner *s = userdata;

        while (s->spawned < s->todo && !s->error) {
                unsigned batch =
                        s->todo - s->spawned < SPAWN_BATCH ? s->todo - s->spawned : SPAWN_BATCH;
                for (unsigned i = 0; i < batch; i++) {
                        spawned sp;
                        int r = spawn_try(s->c, "{\"argv\": [\"/bin/true\"]}", &sp);
                        if (r < 0) {
                                s->error = -r;
                                snprintf(s->message, sizeof(s->message), "spawn %u: %s (%s)",
                                         s->spawned, strerror(-r), rd_client_last_error(s->c));
                                return NULL;
                        }
                        s->spawned++;
                }
                for (double deadline = now() + 60; s->ended < s->spawned;) {
                        int r = pump_quiet(s->c, 50);
                        if (r < 0 || now() >= deadline) {
                                s->error = r < 0 ? -r : ETIMEDOUT;
                                snprintf(s->message, sizeof(s->message), "%u of %u processes ended",
                                         s->ended, s->spawned);
                                return NULL;
                        }
                }
        }
        return NULL;
}

START_TEST(test_many_spawns)
{
        spawner s[SPAWN_THREADS];
        pthread_t threads[SPAWN_THREADS];
        unsigned exited = 0, clean = 0, ended = 0, left, zombies;
        double t0, secs;

        for (int i = 0; i < SPAWN_THREADS; i++) {
                s[i] = (spawner){ .c = client_new("spawner"), .todo = N_SPAWNS / SPAWN_THREADS };
                ck_assert_int_eq(rd_client_on_any(s[i].c, spawner_event, &s[i]), 0);
        }
        t0 = now();
        for (int i = 0; i < SPAWN_THREADS; i++)
                ck_assert_int_eq(pthread_create(&threads[i], NULL, spawner_main, &s[i]), 0);
        for (int i = 0; i < SPAWN_THREADS; i++)
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        secs = now() - t0;
        for (int i = 0; i < SPAWN_THREADS; i++) {
                ck_assert_msg(s[i].error == 0, "session %d: %s", i, s[i].message);
                ck_assert_uint_eq(s[i].unexpected, 0);
                exited += s[i].exited;
                clean += s[i].clean;
                ended += s[i].ended;
        }
        fprintf(stderr,
                "test-processes: %d spawns of /bin/true by %d sessions in %.1f s (%.0f/s), "
                "reactord VmRSS %ld KiB\n",
                N_SPAWNS, SPAWN_THREADS, secs, N_SPAWNS / secs, daemon_rss_kib());
        ck_assert_uint_eq(exited, N_SPAWNS);
        ck_assert_uint_eq(clean, N_SPAWNS);
        ck_assert_uint_eq(ended, N_SPAWNS);

        /* Every process was reaped: reactord has no zombie child, and no child at all left. */
        wait_no_zombies();
        left = daemon_children(&zombies);
        ck_assert_uint_eq(zombies, 0);
        ck_assert_msg(left == 0, "reactord still has %u children", left);
        ck_assert_uint_eq(count_listed(s[0].c), 0);
        for (int i = 0; i < SPAWN_THREADS; i++)
                client_free(s[i].c);
}
END_TEST

/* ---- 5. supervision ----------------------------------------------------------------------- */

START_TEST(test_restart_on_failure)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 1\"], "
                                 "\"restart\": \"on-failure\", \"backoff_min\": 0.01, "
                                 "\"backoff_max\": 0.05, \"restart_limit\": 3, "
                                 "\"restart_window\": 60}");
        size_t fin = wait_final(c, &log, sp.handle);
        const event *gave_up, *e;
        double prev = 0;

        /* The first run, then restart_limit restarts; the next failure is one too many. */
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 4);
        ck_assert_uint_eq(count_events(&log, "process.exited", sp.handle), 4);
        ck_assert_uint_eq(count_events(&log, "process.restarting", sp.handle), 3);
        ck_assert_uint_eq(count_events(&log, "process.gave_up", sp.handle), 1);
        for (unsigned i = 0; i < 4; i++) {
                e = nth_event(&log, "process.exited", sp.handle, i);
                ck_assert_int_eq(e->code, 1);
                ck_assert_int_eq(e->instance, 0);
        }
        for (unsigned i = 0; i < 3; i++) {
                e = nth_event(&log, "process.restarting", sp.handle, i);
                ck_assert_int_eq(e->attempt, i + 1);
                ck_assert_int_eq(e->instance, 0);
                /* Delays double from backoff_min (0.01, 0.02, 0.04) and stay under backoff_max. */
                ck_assert_msg(e->delay > prev, "restart %u: delay %g after %g", i + 1, e->delay,
                              prev);
                ck_assert_msg(e->delay >= 0.01 * (1 << i) - 1e-3 &&
                                      e->delay <= 0.01 * (1 << i) + 1e-3,
                              "restart %u: delay %g, not %g", i + 1, e->delay, 0.01 * (1 << i));
                ck_assert_double_le(e->delay, 0.05 + 1e-6);
                /* Each restart follows an exit and precedes the next start. */
                ck_assert_uint_gt(e->seq, nth_event(&log, "process.exited", sp.handle, i)->seq);
                ck_assert_uint_lt(e->seq,
                                  nth_event(&log, "process.started", sp.handle, i + 1)->seq);
                prev = e->delay;
        }
        gave_up = nth_event(&log, "process.gave_up", sp.handle, 0);
        ck_assert_int_eq(gave_up->instance, 0);
        ck_assert_int_eq(gave_up->restarts, 3);
        ck_assert_uint_gt(gave_up->seq, nth_event(&log, "process.exited", sp.handle, 3)->seq);
        ck_assert_uint_lt(gave_up->seq, fin);
        /* Every process.ended before the last is not final. */
        ck_assert_uint_eq(count_events(&log, "process.ended", sp.handle), 4);
        for (unsigned i = 0; i < 3; i++)
                ck_assert_int_eq(nth_event(&log, "process.ended", sp.handle, i)->final, 0);
        expect_released(c, sp.handle);
        ck_assert_uint_eq(count_listed(c), 0);

        /* on-failure does not restart a child that succeeded. */
        sp = run(c, &log,
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 0\"], "
                 "\"restart\": \"on-failure\", \"backoff_min\": 0.01}");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        client_free(c);
        evlog_done(&log);
}
END_TEST

START_TEST(test_restart_always)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp;
        event e, again;

        /* always restarts a child that succeeded, and gives up by the same limit. */
        sp = run(c, &log,
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 0\"], \"restart\": \"always\", "
                 "\"backoff_min\": 0.01, \"backoff_max\": 0.05, \"restart_limit\": 2}");
        ck_assert_uint_eq(count_events(&log, "process.restarting", sp.handle), 2);
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 3);
        ck_assert_uint_eq(count_events(&log, "process.gave_up", sp.handle), 1);

        /* Killed, it comes back with a new pid; process.stop then ends it for good. */
        sp = spawn_ok(c, "{\"argv\": [\"/bin/sleep\", \"100\"], \"restart\": \"always\", "
                         "\"backoff_min\": 0.01, \"backoff_max\": 0.05}");
        e = wait_event(c, &log, "process.started", sp.handle);
        ck_assert_int_eq(e.pid, sp.pids[0]);
        ck_assert_int_eq(rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", sp.handle),
                                         RD_STR("signal", "KILL")),
                         0);
        e = wait_event(c, &log, "process.exited", sp.handle);
        ck_assert_int_eq(e.signal, SIGKILL);
        e = wait_event(c, &log, "process.restarting", sp.handle);
        ck_assert_int_eq(e.attempt, 1);
        again = wait_event(c, &log, "process.started", sp.handle);
        ck_assert_int_gt(again.pid, 1);
        ck_assert_int_ne(again.pid, sp.pids[0]);
        ck_assert(proc_alive((pid_t)again.pid));
        /* The first ended is not final: a restart followed. */
        ck_assert_int_eq(nth_event(&log, "process.ended", sp.handle, 0)->final, 0);

        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        e = wait_event(c, &log, "process.exited", sp.handle);
        ck_assert_int_eq(e.pid, again.pid);
        ck_assert_int_eq(e.signal, SIGTERM);
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 2);
        ck_assert_uint_eq(count_events(&log, "process.restarting", sp.handle), 1);
        ck_assert_uint_eq(count_events(&log, "process.gave_up", sp.handle), 0);
        wait_gone((pid_t)again.pid, "the stopped child");
        expect_released(c, sp.handle);
        client_free(c);
        evlog_done(&log);
}
END_TEST

START_TEST(test_instances)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = spawn_ok(c, "{\"argv\": [\"/bin/sleep\", \"100\"], \"instances\": 3}");
        bool seen[3] = { false };
        const rd_value *entry, *inst;
        size_t fin;
        listing l;

        ck_assert_uint_eq(sp.n_pids, 3);
        for (unsigned i = 0; i < 3; i++) {
                event e = wait_event(c, &log, "process.started", sp.handle);
                ck_assert_int_ge(e.instance, 0);
                ck_assert_int_lt(e.instance, 3);
                ck_assert_msg(!seen[e.instance], "instance %" PRId64 " started twice", e.instance);
                seen[e.instance] = true;
                ck_assert_int_eq(e.pid, sp.pids[e.instance]);
                ck_assert(proc_alive((pid_t)e.pid));
        }
        ck_assert_int_ne(sp.pids[0], sp.pids[1]);
        ck_assert_int_ne(sp.pids[0], sp.pids[2]);
        ck_assert_int_ne(sp.pids[1], sp.pids[2]);

        l = list_processes(c);
        entry = listing_find(&l, sp.handle, NULL);
        ck_assert_ptr_nonnull(entry);
        inst = rd_value_get(entry, "instances");
        ck_assert_uint_eq(rd_value_len(inst), 3);
        for (unsigned i = 0; i < 3; i++) {
                const rd_value *x = rd_value_at(inst, i);
                uint64_t k = rd_value_get_uint(x, "instance", 99);
                ck_assert_uint_lt(k, 3);
                ck_assert_int_eq((int64_t)rd_value_get_uint(x, "pid", 0), sp.pids[k]);
        }
        rd_reply_free(l.reply);

        /* process.stop stops every instance; only the last process.ended is final. */
        proc_call_ok(c, "process.stop", sp.handle);
        fin = wait_final(c, &log, sp.handle);
        ck_assert_uint_eq(count_events(&log, "process.exited", sp.handle), 3);
        ck_assert_uint_eq(count_events(&log, "process.ended", sp.handle), 3);
        for (unsigned i = 0; i < 3; i++) {
                const event *e = nth_event(&log, "process.ended", sp.handle, i);
                ck_assert_int_eq(e->final, e->seq == fin);
                ck_assert_int_eq(nth_event(&log, "process.exited", sp.handle, i)->signal, SIGTERM);
        }
        ck_assert_uint_eq(log.v[fin].seq, nth_event(&log, "process.ended", sp.handle, 2)->seq);
        for (unsigned i = 0; i < 3; i++)
                wait_gone((pid_t)sp.pids[i], "a stopped instance");
        expect_released(c, sp.handle);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 6. readiness ------------------------------------------------------------------------- */

/* Sends READY=1 from the child itself (a Python one-liner), then becomes sleep. */
static const char python_notify[] = "import os, socket\n"
                                    "a = os.environ['NOTIFY_SOCKET']\n"
                                    "if a[0] == '@': a = '\\0' + a[1:]\n"
                                    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                    "s.sendto(b'READY=1', a)\n"
                                    "os.execv('/bin/sleep', ['sleep', '100'])\n";

/* JSON-escape `s` into buf (newlines and quotes; the programs here use nothing else). */
static const char *json_escape(const char *s, char *buf, size_t size)
{
        size_t n = 0;

        for (; *s && n + 3 < size; s++) {
                if (*s == '\n') {
                        buf[n++] = '\\';
                        buf[n++] = 'n';
                } else if (*s == '"' || *s == '\\') {
                        buf[n++] = '\\';
                        buf[n++] = *s;
                } else
                        buf[n++] = *s;
        }
        ck_assert_msg(!*s, "the text does not fit");
        buf[n] = '\0';
        return buf;
}

/* _i: bit 0 = ready: true; bit 1 = the sender is systemd-notify (a grandchild), else Python. */
START_TEST(test_ready)
{
        bool ready = _i & 1, notify = _i & 2;
        const char *tool = notify ? SYSTEMD_NOTIFY : PYTHON;
        evlog log = { 0 };
        rd_client *c;
        char code[1024];
        event rd, st;
        spawned sp;

        if (access(tool, X_OK) < 0) {
                fprintf(stderr, "test-processes: no %s, readiness through it not tested\n", tool);
                return;
        }
        c = client_logged(&log);
        if (notify)
                sp = spawn_ok(c,
                              "{\"argv\": [\"/bin/sh\", \"-c\", \"" SYSTEMD_NOTIFY
                              " --ready && exec /bin/sleep 100\"], \"env_inherit\": false, "
                              "\"ready\": %s}",
                              ready ? "true" : "false");
        else
                sp = spawn_ok(c, "{\"argv\": [\"" PYTHON "\", \"-c\", \"%s\"], \"ready\": %s}",
                              json_escape(python_notify, code, sizeof(code)),
                              ready ? "true" : "false");
        rd = wait_event(c, &log, "process.ready", sp.handle);
        ck_assert_int_eq(rd.instance, 0);
        if (!notify)
                ck_assert_int_eq(rd.pid, sp.pids[0]);
        st = wait_event(c, &log, "process.started", sp.handle);
        ck_assert_int_eq(st.pid, sp.pids[0]);
        if (ready)
                ck_assert_msg(st.seq > rd.seq, "process.started came before process.ready");
        else
                ck_assert_msg(st.seq < rd.seq, "process.started waited for process.ready");
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 1);
        ck_assert_uint_eq(count_events(&log, "process.ready", sp.handle), 1);
        ck_assert_uint_eq(count_events(&log, "process.exited", sp.handle), 0);
        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, SIGTERM);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* With ready: true and no READY=1, process.started never comes; the child just exits. */
START_TEST(test_ready_never)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned sp = run(c, &log, "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 3\"], \"ready\": true}");

        expect_end(&log, sp.handle, sp.pids[0], 3, 0);
        ck_assert_uint_eq(count_events(&log, "process.ready", sp.handle), 0);
        ck_assert_uint_eq(count_events(&log, "process.started", sp.handle), 0);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 7. pty ------------------------------------------------------------------------------- */

/* _i: 0 = the default window size, 1 = rows and cols given. */
START_TEST(test_pty)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        const char *size = _i ? "40 132" : "24 80";
        spawned sp;
        char *out, *err;

        sp = spawn_ok(c,
                      "{\"argv\": [\"/bin/sh\", \"-c\", \"test -t 0 && test -t 1 && echo tty; "
                      "stty size\"], \"pty\": true%s}",
                      _i ? ", \"rows\": 40, \"cols\": 132" : "");
        (void)wait_final(c, &log, sp.handle);
        out = output_of(&log, sp.handle, 1);
        err = output_of(&log, sp.handle, 2);
        ck_assert_msg(strstr(out, "tty"), "not a terminal: \"%s\"", out);
        ck_assert_msg(strstr(out, size), "no \"%s\" in \"%s\"", size, out);
        ck_assert_str_eq(err, "");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);
        free(err);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 8. the owner dies -------------------------------------------------------------------- */

/* What a doomed owner sends up its pipe. */
typedef struct owner_report {
        int error;        /* 0, or the errno of what failed */
        uint64_t session; /* its session id */
        int64_t pid;      /* the pid of the process it spawned */
} owner_report;

/* Child: a session with a short lease spawns `arg` (JSON params), reports, and serves on. */
static void owner_main(int in, int out, const void *arg)
{
        rd_client_options opts = { .name = "doomed-owner", .lease = 0.3, .timeout = 10 };
        owner_report rep = { 0 };
        rd_client *c = NULL;
        spawned sp;
        int r;

        r = rd_client_new(endpoint, &opts, &c);
        if (r == 0) {
                rep.session = rd_client_session(c);
                r = spawn_try(c, arg, &sp);
                rep.pid = sp.pids[0];
        }
        rep.error = -r;
        if (write(out, &rep, sizeof(rep)) != sizeof(rep) || r < 0)
                _exit(2);
        rd_client_run(c); /* keeps the lease alive until it is killed */
        _exit(0);
}

START_TEST(test_owner_killed)
{
        int to_child, from_child;
        owner_report rep;
        pid_t pid;

        pid = child_start(owner_main, "{\"argv\": [\"/bin/sleep\", \"100\"]}", &to_child,
                          &from_child);
        child_read(from_child, &rep, sizeof(rep));
        ck_assert_msg(rep.error == 0, "the owner's spawn: %s", strerror(rep.error));
        ck_assert(proc_alive((pid_t)rep.pid));
        child_kill(pid);
        /* After the lease the session ends, and its process is stopped (orphan: "stop"). */
        wait_gone((pid_t)rep.pid, "the process of a dead owner");
        wait_no_zombies();
}
END_TEST

START_TEST(test_orphan_keep)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        const rd_value *entry, *inst;
        int to_child, from_child;
        owner_report rep;
        uint64_t h = 0;
        rd_reply *reply = NULL;
        listing l;
        pid_t pid;
        int r;

        pid = child_start(owner_main,
                          "{\"argv\": [\"/bin/sleep\", \"100\"], \"orphan\": \"keep\", "
                          "\"name\": \"kept\"}",
                          &to_child, &from_child);
        child_read(from_child, &rep, sizeof(rep));
        ck_assert_msg(rep.error == 0, "the owner's spawn: %s", strerror(rep.error));

        /* While its owner lives, nobody else may take it. */
        r = rd_client_callv(c, "process.take", NULL, RD_STR("name", "kept"));
        ck_assert_msg(r == -EBUSY, "process.take of a live owner's process: %s", strerror(-r));
        ck_assert_int_eq(rd_client_callv(c, "process.take", NULL, RD_STR("name", "no-such")),
                         -ENOENT);

        child_kill(pid);
        /* The owner's session ends after its lease; the process stays, ownerless. */
        for (double deadline = now() + WAIT_SEC;;) {
                const rd_value *o;
                uint64_t u = 0;
                bool owned;

                l = list_processes(c);
                entry = listing_find(&l, 0, "kept");
                ck_assert_msg(entry, "the kept process is not in process.list");
                o = rd_value_get(entry, "owner");
                owned = (rd_value_uint(o, &u) == 0 && u == rep.session) ||
                        rd_value_str_eq(o, "doomed-owner") ||
                        rd_value_get_uint(o, "session", 0) == rep.session;
                rd_reply_free(l.reply);
                if (!owned)
                        break;
                ck_assert_msg(now() < deadline, "the dead owner still owns the kept process");
                usleep(20 * 1000);
        }
        ck_assert_msg(proc_alive((pid_t)rep.pid), "the kept process died with its owner");

        r = rd_client_callv(c, "process.take", &reply, RD_STR("name", "kept"));
        ck_assert_msg(r == 0, "process.take: %s (%s)", strerror(-r), rd_client_last_error(c));
        ck_assert_int_eq(rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &h), 0);
        rd_reply_free(reply);
        ck_assert_uint_gt(h, 0);

        l = list_processes(c);
        entry = listing_find(&l, h, "kept");
        ck_assert_msg(entry, "process.list does not show the taken process under its handle");
        ck_assert_msg(owner_is(entry, c, "test-processes"), "the taker does not own it");
        inst = rd_value_at(rd_value_get(entry, "instances"), 0);
        ck_assert_int_eq((int64_t)rd_value_get_uint(inst, "pid", 0), rep.pid);
        rd_reply_free(l.reply);

        proc_call_ok(c, "process.stop", h);
        (void)wait_final(c, &log, h);
        expect_end(&log, h, rep.pid, 0, SIGTERM);
        wait_gone((pid_t)rep.pid, "the taken and stopped process");
        ck_assert_int_eq(rd_client_callv(c, "process.take", NULL, RD_STR("name", "kept")), -ENOENT);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 9. spawn failures -------------------------------------------------------------------- */

START_TEST(test_spawn_errors)
{
        rd_client *c = client_new("test-processes");
        char plain[PATH_MAX];
        rd_reply *reply = NULL;
        uint64_t timer;
        spawned sp;
        int fd, r;

        spawn_fails(c, -ENOENT, "exec", "{\"argv\": [\"/no/such/program\"]}");
        spawn_fails(c, -ENOENT, NULL, "{\"argv\": [\"no-such-program-anywhere\"]}");

        snprintf(plain, sizeof(plain), "%s/not-executable", tmpdir);
        fd = open(plain, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
        close(fd);
        spawn_fails(c, -EACCES, "exec", "{\"argv\": [\"%s\"]}", plain);

        spawn_fails(c, -ENOENT, "chdir|cwd", "{\"argv\": [\"/bin/true\"], \"cwd\": \"%s/missing\"}",
                    tmpdir);

        spawn_fails(c, -EINVAL, "argv", "{\"argv\": []}");
        spawn_fails(c, -EINVAL, "argv", "{}");
        spawn_fails(c, -EINVAL, "argv", "{\"argv\": \"/bin/true\"}");
        spawn_fails(c, -EINVAL, "argv", "{\"argv\": [\"/bin/true\", 1]}");
        spawn_fails(c, -EINVAL, "restart",
                    "{\"argv\": [\"/bin/true\"], \"restart\": \"sometimes\"}");
        spawn_fails(c, -EINVAL, "orphan", "{\"argv\": [\"/bin/true\"], \"orphan\": \"adopt\"}");
        spawn_fails(c, -EINVAL, "stdout", "{\"argv\": [\"/bin/true\"], \"stdout\": \"file\"}");
        spawn_fails(c, -EINVAL, "instances", "{\"argv\": [\"/bin/true\"], \"instances\": 0}");
        spawn_fails(c, -EINVAL, "instances", "{\"argv\": [\"/bin/true\"], \"instances\": 65}");
        spawn_fails(c, -EINVAL, "env", "{\"argv\": [\"/bin/true\"], \"env\": {\"A\": 1}}");

        /* fds must name listeners or streams: a timer is EINVAL. */
        r = rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 100));
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &timer), 0);
        rd_reply_free(reply);
        spawn_fails(c, -EINVAL, "fds", "{\"argv\": [\"/bin/true\"], \"fds\": {\"3\": %" PRIu64 "}}",
                    timer);

        /* Names are unique among live processes. */
        sp = spawn_ok(c, "{\"argv\": [\"/bin/sleep\", \"100\"], \"name\": \"dup\"}");
        spawn_fails(c, -EEXIST, NULL, "{\"argv\": [\"/bin/true\"], \"name\": \"dup\"}");
        /* A signal that is not one is EINVAL. */
        ck_assert_int_eq(rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", sp.handle),
                                         RD_STR("signal", "NOPE")),
                         -EINVAL);
        ck_assert_int_eq(rd_client_callv(c, "process.signal", NULL, RD_UINT("handle", sp.handle),
                                         RD_UINT("signal", 100000)),
                         -EINVAL);
        /* A handle of another kind is not a process. */
        ck_assert_int_eq(proc_write(c, timer, "x", NULL), -EINVAL);
        ck_assert_uint_eq(count_listed(c), 1);
        proc_call_ok(c, "process.stop", sp.handle);

        /* None of the failures left a process or a child behind. */
        for (double deadline = now() + WAIT_SEC; count_listed(c) > 0;) {
                ck_assert_msg(now() < deadline, "the stopped process stays listed");
                usleep(20 * 1000);
        }
        wait_gone((pid_t)sp.pids[0], "the stopped process");
        wait_no_zombies();
        client_free(c);
}
END_TEST

/* The spawn failures of PROTOCOL.md that have no errno of their own in §6: ENOTDIR, ENOEXEC. */
START_TEST(test_spawn_errors_exec)
{
        rd_client *c = client_new("test-processes");
        char plain[PATH_MAX], script[PATH_MAX], marker[PATH_MAX];
        FILE *f;

        snprintf(plain, sizeof(plain), "%s/plain-file", tmpdir);
        snprintf(marker, sizeof(marker), "%s/ran", tmpdir);
        f = fopen(plain, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fclose(f), 0);

        /* A path through a file, as the program or as cwd. */
        spawn_fails(c, -ENOTDIR, "exec", "{\"argv\": [\"%s/x\"]}", plain);
        spawn_fails(c, -ENOTDIR, "chdir|cwd", "{\"argv\": [\"/bin/true\"], \"cwd\": \"%s\"}",
                    plain);

        /* An executable text without "#!": execve() refuses it, and no shell steps in. */
        snprintf(script, sizeof(script), "%s/no-shebang", tmpdir);
        f = fopen(script, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "touch %s\n", marker);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(script, 0755), 0);
        spawn_fails(c, -ENOEXEC, "exec", "{\"argv\": [\"%s\"]}", script);
        ck_assert_msg(access(marker, F_OK) < 0, "a shell ran the file");
        ck_assert_uint_eq(count_listed(c), 0);
        client_free(c);
}
END_TEST

/* Child: as an unprivileged user, ask for uid 0; reports the two results. */
static void unprivileged_main(int in, int out, const void *arg)
{
        rd_client_options opts = { .name = "unprivileged", .timeout = 10 };
        int res[2] = { -EIO, -EIO };
        rd_client *c = NULL;
        spawned sp;

        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                _exit(2);
        res[0] = rd_client_new(endpoint, &opts, &c);
        if (res[0] == 0)
                res[1] = spawn_try(c, "{\"argv\": [\"/bin/true\"], \"uid\": 0}", &sp);
        if (write(out, res, sizeof(res)) != sizeof(res))
                _exit(3);
        rd_client_free(c);
        _exit(0);
}

/*
 * uid/gid: only when reactord runs as root and the caller is root. Run as root,
 * the test is such a caller: uid 0 and a drop to nobody both succeed, and a
 * second, unprivileged client of the same reactord gets EPERM.
 */
START_TEST(test_uid)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        int to_child, from_child, res[2];
        char bus[PATH_MAX + 8];
        spawned sp;
        char *out;

        if (geteuid() != 0) {
                spawn_fails(c, -EPERM, NULL, "{\"argv\": [\"/bin/true\"], \"uid\": 0}");
                spawn_fails(c, -EPERM, NULL, "{\"argv\": [\"/bin/true\"], \"gid\": 0}");
                client_free(c);
                evlog_done(&log);
                return;
        }
        fprintf(stderr, "test-processes: running as root: uid 0 is allowed, not EPERM\n");
        sp = run(c, &log, "{\"argv\": [\"/usr/bin/id\", \"-u\"], \"uid\": 0}");
        out = output_of(&log, sp.handle, 1);
        ck_assert_str_eq(out, "0\n");
        free(out);
        sp = run(c, &log,
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"echo $(id -u) $(id -g)\"], "
                 "\"uid\": 65534, \"gid\": 65534}");
        out = output_of(&log, sp.handle, 1);
        ck_assert_str_eq(out, "65534 65534\n");
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        free(out);

        /* Let the unprivileged user reach the endpoint. */
        snprintf(bus, sizeof(bus), "%s/bus", tmpdir);
        ck_assert_int_eq(chmod(tmpdir, 0711), 0);
        ck_assert_int_eq(chmod(bus, 0777), 0);
        (void)child_start(unprivileged_main, NULL, &to_child, &from_child);
        child_read(from_child, res, sizeof(res));
        ck_assert_msg(res[0] == 0, "the unprivileged client cannot connect: %s", strerror(-res[0]));
        ck_assert_msg(res[1] == -EPERM, "uid 0 for an unprivileged caller: %s instead of EPERM",
                      res[1] == 0 ? "success" : strerror(-res[1]));
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- 10. 100 MiB of output to a slow client ----------------------------------------------- */

typedef struct flow {
        uint64_t handle;  /* the generator */
        uint64_t got;     /* bytes of fd 1 */
        uint64_t fnv;     /* their FNV-1a */
        uint64_t bad_at;  /* offset of the first byte off the pattern, or UINT64_MAX */
        uint64_t events;  /* process.output events */
        size_t max_event; /* the largest one's data */
        long peak_rss;    /* reactord's VmRSS, KiB */
        int64_t code;     /* process.exited code, or -1 */
        bool ended;       /* the final process.ended came */
        unsigned other;   /* events of another kind, fd or handle */
} flow;

static int flow_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        flow *s = userdata;
        const uint8_t *p;
        size_t n;
        bool b;

        if (ev->handle != s->handle) {
                s->other++;
                return 0;
        }
        if (strcmp(ev->name, "process.exited") == 0) {
                s->code = get_num(ev->payload, "code");
                return 0;
        }
        if (strcmp(ev->name, "process.ended") == 0) {
                s->ended = rd_value_bool(rd_value_get(ev->payload, "final"), &b) == 0 && b;
                if (s->ended)
                        rd_client_stop(c);
                return 0;
        }
        if (strcmp(ev->name, "process.output") != 0 ||
            rd_value_get_uint(ev->payload, "fd", 0) != 1 ||
            rd_value_bin(rd_value_get(ev->payload, "data"), (const void **)&p, &n) < 0) {
                if (strcmp(ev->name, "process.started") != 0)
                        s->other++;
                return 0;
        }
        if (s->bad_at == UINT64_MAX)
                for (size_t i = 0; i < n; i++)
                        if (p[i] != pattern_at(s->got + i)) {
                                s->bad_at = s->got + i;
                                break;
                        }
        s->fnv = fnv1a(s->fnv, p, n);
        s->got += n;
        if (n > s->max_event)
                s->max_event = n;
        /* Deliberately slow: a pause every 8 events keeps the window closed for a while. */
        if (++s->events % 8 == 0)
                usleep(1000);
        if (s->events % 64 == 0) {
                long rss = daemon_rss_kib();
                if (rss > s->peak_rss)
                        s->peak_rss = rss;
        }
        return 0;
}

static int give_up(rd_client *c, void *userdata)
{
        rd_client_stop(c);
        return 0;
}

START_TEST(test_output_flow)
{
        rd_client_options opts = { .name = "slow-reader", .window = FLOW_WINDOW, .timeout = 60 };
        rd_client *c = client_new_with(&opts);
        flow s = { .fnv = FNV_OFFSET, .bad_at = UINT64_MAX, .code = -1 };
        uint64_t fnv = FNV_OFFSET;
        uint8_t *block = malloc(1 << 20);
        char code[512];
        spawned sp;
        double t0, secs;

        ck_assert_ptr_nonnull(block);
        if (access(PYTHON, X_OK) < 0) {
                fprintf(stderr, "test-processes: no %s, the output test is skipped\n", PYTHON);
                free(block);
                client_free(c);
                return;
        }
        for (uint64_t off = 0; off < FLOW_BYTES; off += 1 << 20) {
                for (size_t i = 0; i < 1 << 20; i++)
                        block[i] = pattern_at(off + i);
                fnv = fnv1a(fnv, block, 1 << 20);
        }
        free(block);

        s.peak_rss = daemon_rss_kib();
        ck_assert_int_eq(rd_client_on_any(c, flow_event, &s), 0);
        t0 = now();
        sp = spawn_ok(c, "{\"argv\": [\"" PYTHON "\", \"-c\", \"%s\"], \"stdin\": \"null\"}",
                      json_escape(pattern_program, code, sizeof(code)));
        s.handle = sp.handle;
        /* Far beyond what 100 MiB should take: the loop ends even if the data stops. */
        ck_assert_int_eq(rd_client_call_later(c, 150, give_up, NULL, NULL), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        secs = now() - t0;

        fprintf(stderr,
                "test-processes: child -> client: %" PRIu64 " MiB in %.1f s (%.0f MiB/s), %" PRIu64
                " events (largest %zu), reactord peak VmRSS %ld KiB\n",
                s.got >> 20, secs, (s.got >> 20) / secs, s.events, s.max_event, s.peak_rss);
        ck_assert_msg(s.ended, "no final process.ended after %" PRIu64 " bytes", s.got);
        ck_assert_uint_eq(s.other, 0);
        ck_assert_int_eq(s.code, 0);
        ck_assert_uint_eq(s.got, FLOW_BYTES);
        ck_assert_msg(s.bad_at == UINT64_MAX, "byte %" PRIu64 " is off the pattern", s.bad_at);
        ck_assert_uint_eq(s.fnv, fnv);
        ck_assert_uint_le(s.max_event, 64 * 1024);
        ck_assert_int_lt(s.peak_rss, RSS_BOUND_KIB);
        client_free(c);
}
END_TEST

/* ---- 11. process.list and handles of others ----------------------------------------------- */

START_TEST(test_list)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        const rd_value *entry, *argv, *inst;
        spawned sp;
        event again;
        listing l;
        uint64_t restarts;

        sp = spawn_ok(c, "{\"argv\": [\"/bin/sleep\", \"100\"], \"name\": \"lister\", "
                         "\"restart\": \"on-failure\", \"backoff_min\": 0.01, "
                         "\"backoff_max\": 0.05}");
        (void)wait_event(c, &log, "process.started", sp.handle);

        l = list_processes(c);
        entry = listing_find(&l, sp.handle, NULL);
        ck_assert_msg(entry, "process.list does not show handle %" PRIu64, sp.handle);
        ck_assert(rd_value_str_eq(rd_value_get(entry, "name"), "lister"));
        ck_assert(rd_value_str_eq(rd_value_get(entry, "restart"), "on-failure"));
        ck_assert_msg(owner_is(entry, c, "test-processes"), "the owner is not this session");
        /* Who runs it and whose client asked: reactord's user (it is not root's business
         * here to change it), and this process, as the ipc connection tells. */
        ck_assert_uint_eq(rd_value_get_uint(entry, "uid", UINT64_MAX), geteuid());
        ck_assert_uint_eq(rd_value_get_uint(entry, "owner_uid", UINT64_MAX), getuid());
        ck_assert_uint_eq(rd_value_get_uint(entry, "owner_pid", 0), (uint64_t)getpid());
        argv = rd_value_get(entry, "argv");
        ck_assert_uint_eq(rd_value_len(argv), 2);
        ck_assert(rd_value_str_eq(rd_value_at(argv, 0), "/bin/sleep"));
        ck_assert(rd_value_str_eq(rd_value_at(argv, 1), "100"));
        inst = rd_value_get(entry, "instances");
        ck_assert_uint_eq(rd_value_len(inst), 1);
        inst = rd_value_at(inst, 0);
        ck_assert_uint_eq(rd_value_get_uint(inst, "instance", 99), 0);
        ck_assert_int_eq((int64_t)rd_value_get_uint(inst, "pid", 0), sp.pids[0]);
        ck_assert_int_eq(rd_value_uint(rd_value_get(inst, "restarts"), &restarts), 0);
        ck_assert_uint_eq(restarts, 0);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(inst, "state")), RD_VALUE_STR);
        rd_reply_free(l.reply);

        /* Killed, it is restarted: process.list counts the restart and shows the new pid. */
        ck_assert_int_eq(kill((pid_t)sp.pids[0], SIGKILL), 0);
        (void)wait_event(c, &log, "process.restarting", sp.handle);
        again = wait_event(c, &log, "process.started", sp.handle);
        ck_assert_int_ne(again.pid, sp.pids[0]);
        l = list_processes(c);
        inst = rd_value_at(rd_value_get(listing_find(&l, sp.handle, NULL), "instances"), 0);
        ck_assert_int_eq((int64_t)rd_value_get_uint(inst, "pid", 0), again.pid);
        ck_assert_uint_eq(rd_value_get_uint(inst, "restarts", 0), 1);
        rd_reply_free(l.reply);

        proc_call_ok(c, "process.stop", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        l = list_processes(c);
        ck_assert_ptr_null(listing_find(&l, sp.handle, NULL));
        rd_reply_free(l.reply);
        client_free(c);
        evlog_done(&log);
}
END_TEST

START_TEST(test_foreign_and_closed_handles)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        rd_client *other = client_new("test-processes-other");
        spawned sp, done;

        sp = spawn_ok(c, "{\"argv\": [\"/bin/cat\"]}");
        ck_assert_int_eq(proc_write(other, sp.handle, "x", NULL), -EPERM);
        ck_assert_int_eq(proc_call(other, "process.close_stdin", sp.handle), -EPERM);
        ck_assert_int_eq(rd_client_callv(other, "process.signal", NULL,
                                         RD_UINT("handle", sp.handle), RD_STR("signal", "KILL")),
                         -EPERM);
        ck_assert_int_eq(proc_call(other, "process.stop", sp.handle), -EPERM);
        /* The owner's process did not notice. */
        ck_assert_int_eq(proc_write(c, sp.handle, "mine\n", NULL), 0);
        free(wait_output(c, &log, sp.handle, 1, "mine\n"));
        ck_assert(proc_alive((pid_t)sp.pids[0]));

        /* A handle released after its final process.ended, and one that never was. */
        done = run(c, &log, "{\"argv\": [\"/bin/true\"]}");
        ck_assert_int_eq(proc_write(c, done.handle, "x", NULL), -ENOENT);
        ck_assert_int_eq(proc_write(other, done.handle, "x", NULL), -ENOENT);
        ck_assert_int_eq(proc_write(c, 1u << 30, "x", NULL), -ENOENT);

        proc_call_ok(c, "process.close_stdin", sp.handle);
        (void)wait_final(c, &log, sp.handle);
        expect_end(&log, sp.handle, sp.pids[0], 0, 0);
        ck_assert_int_eq(proc_write(c, sp.handle, "x", NULL), -ENOENT);
        client_free(other);
        client_free(c);
        evlog_done(&log);
}
END_TEST

/* ---- reactord shutting down ---------------------------------------------------------------- */

/*
 * SIGTERM to reactord: every child is stopped, the one that ignores TERM with
 * KILL after the grace period (5 s), including a kept orphan, and reactord
 * exits once none is left.
 */
START_TEST(test_shutdown_stops_children)
{
        evlog log = { 0 };
        rd_client *c = client_logged(&log);
        spawned plain = spawn_ok(c, "{\"argv\": [\"sleep\", \"100\"]}");
        spawned stubborn = spawn_ok(c, "{\"argv\": [\"sh\", \"-c\", \"trap '' TERM; echo armed; "
                                       "while :; do sleep 0.1; done\"], \"orphan\": \"keep\", "
                                       "\"name\": \"stubborn\"}");
        pid_t daemon = daemon_pid;

        free(wait_output(c, &log, stubborn.handle, 1, "armed"));
        ck_assert_int_eq(kill(daemon, SIGTERM), 0);
        wait_gone((pid_t)plain.pids[0], "the sleep");
        wait_gone((pid_t)stubborn.pids[0], "the child that ignores SIGTERM");
        /* reactord exited: gone, or a zombie until the janitor, its parent, reaps it. */
        for (double deadline = now() + WAIT_SEC;;) {
                proc_info p;
                if (proc_read(daemon, &p) < 0 || p.state == 'Z')
                        break;
                ck_assert_msg(now() < deadline, "reactord is still running");
                usleep(10 * 1000);
        }
        evlog_done(&log);
}
END_TEST

static Suite *processes_suite(void)
{
        Suite *s = suite_create("processes");
        TCase *tc;

        tc = tcase_create("stdio");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_test(tc, test_cat_round_trip);
        tcase_add_test(tc, test_close_stdin_epipe);
        tcase_add_test(tc, test_stderr);
        tcase_add_test(tc, test_stdio_null);
        tcase_add_loop_test(tc, test_env, 0, 6);
        tcase_add_test(tc, test_path_lookup);
        tcase_add_test(tc, test_cwd);
        suite_add_tcase(s, tc);

        tc = tcase_create("exit");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_test(tc, test_exit_code);
        tcase_add_loop_test(tc, test_signal, 0, 8);
        tcase_add_test(tc, test_grandchild_reaped);
        tcase_add_test(tc, test_stop_kills_group);
        suite_add_tcase(s, tc);

        tc = tcase_create("supervision");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_test(tc, test_restart_on_failure);
        tcase_add_test(tc, test_restart_always);
        tcase_add_test(tc, test_instances);
        tcase_add_loop_test(tc, test_ready, 0, 4);
        tcase_add_test(tc, test_ready_never);
        suite_add_tcase(s, tc);

        tc = tcase_create("pty");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_loop_test(tc, test_pty, 0, 2);
        suite_add_tcase(s, tc);

        tc = tcase_create("owners");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_test(tc, test_owner_killed);
        tcase_add_test(tc, test_orphan_keep);
        tcase_add_test(tc, test_shutdown_stops_children);
        tcase_add_test(tc, test_list);
        tcase_add_test(tc, test_foreign_and_closed_handles);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_add_test(tc, test_spawn_errors);
        tcase_add_test(tc, test_spawn_errors_exec);
        tcase_add_test(tc, test_uid);
        suite_add_tcase(s, tc);

        tc = tcase_create("load");
        tcase_add_checked_fixture(tc, daemon_start, daemon_stop);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_many_spawns);
        tcase_add_test(tc, test_output_flow);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(processes_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
