/* SPDX-License-Identifier: MIT */
/*
 * reactord through its wire: each test starts a real reactord on a temporary
 * ipc:// endpoint and talks to it with raw ZeroMQ DEALER sockets, writing
 * requests with proto/writer.h and reading replies with proto/decoder.h. What
 * is checked is proto/PROTOCOL.md itself, not a client library's view of it.
 *
 * Timeouts are generous upper bounds; only behaviour is asserted, never speed.
 * The few "nothing more arrives within a while" checks are behaviour too: they
 * follow a round trip that orders everything the daemon sent before it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "procfd.h"
#include "proto/decoder.h"
#include "proto/value.h"
#include "proto/writer.h"

#define TIMEOUT       10.0 /* upper bound for anything expected to arrive, seconds */
#define START_TIMEOUT 30.0 /* upper bound for a started reactord to answer */
#define QUIET         0.3  /* a pause after which "nothing more arrives" is concluded */
#define MAX_CONNS     16
#define MAX_PIDS      4
#define MAX_FDS       4

/* Defaults from PROTOCOL.md §3 and §7. */
#define DEFAULT_WINDOW   UINT64_C(1048576)
#define DEFAULT_FRAME    UINT64_C(1048576)
#define DEFAULT_HANDLES  UINT64_C(16384)
#define DEFAULT_SESSIONS UINT64_C(4096)
#define DEFAULT_BATCH    UINT64_C(65536)
#define DEFAULT_PROCS    UINT64_C(1024)
#define DEFAULT_WBUF     UINT64_C(67108864)

/* One DEALER connection and the state to read the msgpack stream it receives. */
typedef struct conn {
        void *sock;           /* DEALER, connected to the endpoint */
        rd_decoder *decoder;  /* over `frame` */
        zmq_msg_t frame;      /* the frame being decoded */
        bool in_frame;        /* `frame` may hold messages not yet taken */
        rd_writer w;          /* the frame being written */
        uint64_t msgid;       /* of the last request written */
        uint64_t event_bytes; /* encoded size of every event received */
        size_t max_event;     /* size of the largest event received */
        rd_msg msg;           /* the last message received; valid until the next frame */
} conn;

/* Made in the parent of all tests; every test's directory lives inside it. */
static char base_dir[PATH_MAX - 32];

/* One test's world, set up and torn down around it. */
static struct {
        char dir[PATH_MAX];           /* this test's temporary directory */
        char bus[PATH_MAX + 8];       /* DIR/bus: the socket file */
        char endpoint[PATH_MAX + 16]; /* ipc://DIR/bus */
        pid_t daemon;                 /* the reactord under test, or -1 */
        pid_t pids[MAX_PIDS];         /* other children, killed in the teardown; -1 when free */
        int fds[MAX_FDS];             /* closed in the teardown; -1 when free */
        void *zctx;                   /* the test's ZeroMQ context */
        conn *conns[MAX_CONNS];       /* closed in the teardown */
        procfd_set fds_served;        /* the daemon's descriptors once it served */
} fx;

/* ---- small things ------------------------------------------------------------------------- */

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_for(double seconds)
{
        struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static void rm_rf(const char *path)
{
        if (path[0])
                (void)nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void reap(pid_t pid, int *status)
{
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
}

/* Wait for `pid` to end; fails the test if it is still running after `timeout`. */
static int reap_within(pid_t pid, double timeout)
{
        double deadline = now() + timeout;
        int status = 0;
        pid_t k;

        while ((k = waitpid(pid, &status, WNOHANG)) == 0) {
                ck_assert_msg(now() < deadline, "process %d did not exit", (int)pid);
                sleep_for(0.01);
        }
        ck_assert_int_eq(k, pid);
        return status;
}

static void track_pid(pid_t pid)
{
        for (size_t i = 0; i < MAX_PIDS; i++)
                if (fx.pids[i] < 0) {
                        fx.pids[i] = pid;
                        return;
                }
        ck_abort_msg("too many child processes");
}

static void untrack_pid(pid_t pid)
{
        for (size_t i = 0; i < MAX_PIDS; i++)
                if (fx.pids[i] == pid)
                        fx.pids[i] = -1;
}

static void track_fd(int fd)
{
        for (size_t i = 0; i < MAX_FDS; i++)
                if (fx.fds[i] < 0) {
                        fx.fds[i] = fd;
                        return;
                }
        ck_abort_msg("too many fds");
}

static void untrack_fd(int fd)
{
        for (size_t i = 0; i < MAX_FDS; i++)
                if (fx.fds[i] == fd)
                        fx.fds[i] = -1;
        close(fd);
}

/* A str value as a C string (one of a few rotating buffers), for comparisons and messages. */
static const char *str_of(const rd_value *v)
{
        static char bufs[4][512];
        static unsigned next;
        char *b = bufs[next++ % 4];
        const char *p;
        size_t n;

        if (rd_value_str(v, &p, &n) < 0)
                snprintf(b, sizeof(bufs[0]), "<%s>", rd_value_type_name(rd_value_type_of(v)));
        else
                snprintf(b, sizeof(bufs[0]), "%.*s", (int)n, p);
        return b;
}

static uint64_t field_uint(const rd_value *map, const char *key)
{
        uint64_t v = 0;
        ck_assert_msg(rd_value_uint(rd_value_get(map, key), &v) == 0,
                      "field '%s' is not a uint but %s", key,
                      rd_value_type_name(rd_value_type_of(rd_value_get(map, key))));
        return v;
}

static double field_double(const rd_value *map, const char *key)
{
        double v = 0;
        ck_assert_msg(rd_value_double(rd_value_get(map, key), &v) == 0,
                      "field '%s' is not a number but %s", key,
                      rd_value_type_name(rd_value_type_of(rd_value_get(map, key))));
        return v;
}

static const char *field_str(const rd_value *map, const char *key)
{
        const rd_value *v = rd_value_get(map, key);
        ck_assert_msg(rd_value_type_of(v) == RD_VALUE_STR, "field '%s' is not a str but %s", key,
                      rd_value_type_name(rd_value_type_of(v)));
        return str_of(v);
}

static const rd_value *field_of_type(const rd_value *map, const char *key, rd_value_type type)
{
        const rd_value *v = rd_value_get(map, key);
        ck_assert_msg(rd_value_type_of(v) == type, "field '%s' is %s, not %s", key,
                      rd_value_type_name(rd_value_type_of(v)), rd_value_type_name(type));
        return v;
}

/* The element of an array of maps whose "name" is `name`, or NULL. */
static const rd_value *find_named(const rd_value *list, const char *name)
{
        for (size_t i = 0; i < rd_value_len(list); i++)
                if (rd_value_str_eq(rd_value_get(rd_value_at(list, i), "name"), name))
                        return rd_value_at(list, i);
        return NULL;
}

static bool array_has_str(const rd_value *list, const char *s)
{
        for (size_t i = 0; i < rd_value_len(list); i++)
                if (rd_value_str_eq(rd_value_at(list, i), s))
                        return true;
        return false;
}

/* A field of /proc/PID/status (in its own unit), or -1. */
static long long proc_status_field(const char *path, const char *key)
{
        char line[256];
        long long v = -1;
        size_t n = strlen(key);
        FILE *f = fopen(path, "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':') {
                        v = strtoll(line + n + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static long long rss_kib(pid_t pid)
{
        char path[64];
        long long v;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        v = proc_status_field(path, "VmRSS");
        ck_assert_int_ge(v, 0);
        return v;
}

/* Open fds of `pid` (entries of /proc/PID/fd). */
static int fd_count(pid_t pid)
{
        return procfd_count(pid);
}

/* What reactord holds when nothing is going on: compared before and after a fault test. */
typedef struct baseline {
        int fds;           /* open fds */
        long long rss_kib; /* VmRSS */
} baseline;

/*
 * The daemon's baseline once it has let go of connections that were closed
 * before: the fd count, sampled until it stays the same over QUIET.
 */
static baseline baseline_take(pid_t pid)
{
        double deadline = now() + TIMEOUT;
        int before = fd_count(pid), after;

        for (;;) {
                sleep_for(QUIET);
                after = fd_count(pid);
                if (after == before || now() > deadline)
                        break;
                before = after;
        }
        return (baseline){ .fds = after, .rss_kib = rss_kib(pid) };
}

/*
 * Wait until the daemon's fd count is back to `b` (it closes a connection's fd
 * only once it has seen the peer go); fails the test if it is not by `timeout`.
 */
static void fds_back_to(pid_t pid, const baseline *b, double timeout)
{
        double deadline = now() + timeout;
        int n;

        while ((n = fd_count(pid)) != b->fds && now() < deadline)
                sleep_for(0.05);
        ck_assert_msg(n == b->fds, "reactord holds %d fds, %d before", n, b->fds);
}

/* Voluntary and involuntary context switches of every thread of `pid`. */
static long long context_switches(pid_t pid)
{
        char path[PATH_MAX];
        long long sum = 0;
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
                long long v = proc_status_field(path, "voluntary_ctxt_switches");
                long long nv = proc_status_field(path, "nonvoluntary_ctxt_switches");
                if (v >= 0 && nv >= 0) /* a thread may end between readdir() and fopen() */
                        sum += v + nv;
        }
        closedir(d);
        return sum;
}

/* ---- connections and messages ------------------------------------------------------------- */

/* A DEALER connected to the endpoint; the teardown closes it if the test does not. */
static conn *conn_new(void)
{
        conn *c = calloc(1, sizeof(*c));
        int zero = 0;
        size_t i;

        ck_assert_ptr_nonnull(c);
        zmq_msg_init(&c->frame);
        for (i = 0; i < MAX_CONNS && fx.conns[i]; i++)
                ;
        if (i == MAX_CONNS) {
                zmq_msg_close(&c->frame);
                free(c);
                ck_abort_msg("too many connections");
        }
        fx.conns[i] = c;
        ck_assert_int_eq(rd_decoder_new(&c->decoder), 0);
        c->sock = zmq_socket(fx.zctx, ZMQ_DEALER);
        ck_assert_ptr_nonnull(c->sock);
        /* Never keep the context waiting for frames the daemon will not take. */
        ck_assert_int_eq(zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
        ck_assert_int_eq(zmq_connect(c->sock, fx.endpoint), 0);
        return c;
}

static void conn_free(conn *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < MAX_CONNS; i++)
                if (fx.conns[i] == c)
                        fx.conns[i] = NULL;
        if (c->sock)
                zmq_close(c->sock);
        zmq_msg_close(&c->frame);
        rd_decoder_free(c->decoder);
        rd_writer_done(&c->w);
        free(c);
}

/* Append a request to the frame being written; returns its msgid. */
static uint64_t request(conn *c, const char *method, uint32_t n_fields)
{
        rd_write_request(&c->w, ++c->msgid, method, n_fields);
        return c->msgid;
}

/* Append a request whose params are `[]` (no params at all). */
static uint64_t request_bare(conn *c, const char *method)
{
        rd_write_array(&c->w, 4);
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_str(&c->w, method);
        rd_write_array(&c->w, 0);
        return c->msgid;
}

/* Send the frame written so far, as one ZeroMQ message. */
static void conn_send(conn *c)
{
        ck_assert(!rd_writer_failed(&c->w));
        ck_assert_int_eq(zmq_send(c->sock, c->w.data, c->w.size, 0), (int)c->w.size);
        rd_writer_reset(&c->w);
}

static void send_bytes(conn *c, const void *p, size_t n)
{
        ck_assert_int_eq(zmq_send(c->sock, p, n, 0), (int)n);
}

/*
 * Take the next message reactord sent, receiving a frame when the current one
 * is consumed. Returns false when nothing came within `timeout` seconds. The
 * message (c->msg) stays valid until the next frame is received.
 */
static bool conn_recv(conn *c, double timeout)
{
        double deadline = now() + timeout;
        int k;

        for (;;) {
                if (c->in_frame) {
                        k = rd_decoder_next(c->decoder, &c->msg);
                        ck_assert_msg(k >= 0, "reactord sent bytes that do not decode: %s",
                                      strerror(-k));
                        if (k == 1) {
                                if (c->msg.type == RD_MSG_NOTIFICATION) {
                                        c->event_bytes += c->msg.size;
                                        if (c->msg.size > c->max_event)
                                                c->max_event = c->msg.size;
                                }
                                return true;
                        }
                        c->in_frame = false;
                }

                double left = deadline - now();
                zmq_pollitem_t item = { .socket = c->sock, .events = ZMQ_POLLIN };
                k = zmq_poll(&item, 1, left > 0 ? (long)(left * 1000) + 1 : 0);
                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_int_ge(k, 0);
                if (k == 0)
                        return false;
                ck_assert_int_ge(zmq_msg_recv(&c->frame, c->sock, ZMQ_DONTWAIT), 0);
                ck_assert_msg(!zmq_msg_more(&c->frame), "reactord sent a multi-part message");
                ck_assert_int_eq(rd_decoder_begin(c->decoder, zmq_msg_data(&c->frame),
                                                  zmq_msg_size(&c->frame)),
                                 0);
                c->in_frame = true;
        }
}

static bool is_event(const rd_msg *m, const char *name)
{
        return m->type == RD_MSG_NOTIFICATION && rd_msg_name_is(m, name, strlen(name));
}

/* The response to `msgid`, skipping events; any other response fails the test. */
static const rd_msg *wait_response(conn *c, uint64_t msgid)
{
        double deadline = now() + TIMEOUT;

        for (;;) {
                ck_assert_msg(conn_recv(c, deadline - now()), "no response to request %" PRIu64,
                              msgid);
                if (c->msg.type == RD_MSG_NOTIFICATION)
                        continue;
                ck_assert_int_eq(c->msg.type, RD_MSG_RESPONSE);
                ck_assert_msg(c->msg.msgid == msgid,
                              "response to %" PRIu64 " while waiting for %" PRIu64, c->msg.msgid,
                              msgid);
                return &c->msg;
        }
}

/* The next event named `name`, skipping everything else; NULL if none came within `timeout`. */
static const rd_msg *wait_event(conn *c, const char *name, double timeout)
{
        double deadline = now() + timeout;

        while (conn_recv(c, deadline - now()))
                if (is_event(&c->msg, name))
                        return &c->msg;
        return NULL;
}

/* The error code of a response, "" on success. */
static const char *error_code(const rd_msg *m)
{
        if (rd_value_type_of(m->error) == RD_VALUE_NIL)
                return "";
        ck_assert_int_eq(rd_value_type_of(m->error), RD_VALUE_MAP);
        return field_str(m->error, "code");
}

/* Send the frame written so far and wait for the response to its last request. */
static const rd_msg *call(conn *c)
{
        uint64_t msgid = c->msgid;

        conn_send(c);
        return wait_response(c, msgid);
}

/* call(), asserting success; returns the result map. */
static const rd_value *call_ok(conn *c)
{
        const rd_msg *m = call(c);

        ck_assert_msg(rd_value_type_of(m->error) == RD_VALUE_NIL,
                      "request %" PRIu64 " failed: %s: %s", m->msgid, error_code(m),
                      str_of(rd_value_get(m->error, "message")));
        ck_assert_int_eq(rd_value_type_of(m->result), RD_VALUE_MAP);
        return m->result;
}

/* call(), asserting it fails with `code`; returns the error's message. */
static const char *call_fails(conn *c, const char *code)
{
        const rd_msg *m = call(c);

        ck_assert_str_eq(error_code(m), code);
        ck_assert_int_eq(rd_value_type_of(m->result), RD_VALUE_NIL);
        return field_str(m->error, "message");
}

static void ping_ok(conn *c)
{
        request(c, "reactor.ping", 0);
        ck_assert_uint_eq(rd_value_len(call_ok(c)), 0);
}

static const rd_value *hello(conn *c, const char *name)
{
        request(c, "session.hello", name ? 2 : 1);
        rd_write_kv_uint(&c->w, "protocol", 1);
        if (name)
                rd_write_kv_str(&c->w, "name", name);
        return call_ok(c);
}

/* A connection with a session. */
static conn *session_new(const char *name)
{
        conn *c = conn_new();
        hello(c, name);
        return c;
}

static const rd_value *info(conn *c)
{
        request(c, "reactor.info", 0);
        return call_ok(c);
}

static uint64_t info_timers(const rd_value *i)
{
        return field_uint(field_of_type(i, "resources", RD_VALUE_MAP), "timer");
}

/* The caller's resources (an array). */
static const rd_value *resources(conn *c)
{
        request(c, "reactor.resources", 0);
        return field_of_type(call_ok(c), "resources", RD_VALUE_ARRAY);
}

/* Start a timer; `every` <= 0 makes a one-shot timer. Returns its handle. */
static uint64_t timer_start(conn *c, double after, double every)
{
        uint64_t h;

        request(c, "timer.start", every > 0 ? 2 : 1);
        rd_write_kv_double(&c->w, "after", after);
        if (every > 0)
                rd_write_kv_double(&c->w, "every", every);
        h = field_uint(call_ok(c), "handle");
        ck_assert_uint_ge(h, 1);
        return h;
}

/* Call a method whose only param is a handle; returns the error code, "" on success. */
static const char *handle_call(conn *c, const char *method, uint64_t handle)
{
        request(c, method, 1);
        rd_write_kv_uint(&c->w, "handle", handle);
        return error_code(call(c));
}

static const char *timer_reset(conn *c, uint64_t handle, double after)
{
        request(c, "timer.reset", 2);
        rd_write_kv_uint(&c->w, "handle", handle);
        rd_write_kv_double(&c->w, "after", after);
        return error_code(call(c));
}

/* The ticks of the next timer.fired of `handle`, or 0 when none came within `timeout`. */
static uint64_t wait_fired(conn *c, uint64_t handle, double timeout)
{
        double deadline = now() + timeout;
        const rd_msg *m;

        while ((m = wait_event(c, "timer.fired", deadline - now()))) {
                if (field_uint(m->params, "handle") != handle)
                        continue;
                uint64_t ticks = field_uint(m->params, "ticks");
                ck_assert_uint_ge(ticks, 1);
                return ticks;
        }
        return 0;
}

/* The next session.error, asserting its code; returns its payload. */
static const rd_value *wait_session_error(conn *c, const char *code)
{
        const rd_msg *m = wait_event(c, "session.error", TIMEOUT);

        ck_assert_msg(m, "no session.error %s", code);
        ck_assert_str_eq(field_str(m->params, "code"), code);
        field_str(m->params, "message");
        return m->params;
}

/* ---- the daemon --------------------------------------------------------------------------- */

/*
 * Start $REACTORD on the test's endpoint with extra `args` (NULL-terminated,
 * or NULL). `notify_socket` becomes $NOTIFY_SOCKET (unset when NULL); stderr
 * goes to `err_fd` when it is >= 0.
 */
static pid_t spawn(const char *const *args, const char *notify_socket, int err_fd)
{
        const char *exe = getenv("REACTORD");
        const char *argv[16];
        size_t n = 0;
        pid_t pid;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        argv[n++] = exe;
        argv[n++] = "--endpoint";
        argv[n++] = fx.endpoint;
        for (; args && *args; args++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n++] = *args;
        }
        argv[n] = NULL;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                if (notify_socket)
                        setenv("NOTIFY_SOCKET", notify_socket, 1);
                else
                        unsetenv("NOTIFY_SOCKET");
                if (err_fd >= 0)
                        dup2(err_fd, STDERR_FILENO);
                execv(exe, (char *const *)argv);
                _exit(127);
        }
        return pid;
}

/* Wait until the daemon answers a reactor.ping (with anything: there is no session yet). */
static void wait_ready(pid_t pid)
{
        double deadline = now() + START_TIMEOUT;
        conn *probe = conn_new();

        for (;;) {
                ck_assert_msg(now() < deadline, "reactord does not answer on %s", fx.endpoint);
                ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "reactord exited on start");
                request(probe, "reactor.ping", 0);
                conn_send(probe);
                if (conn_recv(probe, 0.1))
                        break;
        }
        conn_free(probe);
}

static void daemon_start(const char *const *args)
{
        fx.daemon = spawn(args, NULL, -1);
        wait_ready(fx.daemon);
        procfd_done(&fx.fds_served);
        procfd_baseline(fx.daemon, fx.bus, &fx.fds_served);
}

static void daemon_alive(void)
{
        ck_assert_msg(waitpid(fx.daemon, NULL, WNOHANG) == 0, "reactord is gone");
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static void suite_setup(void)
{
        const char *tmp = getenv("TMPDIR");

        snprintf(base_dir, sizeof(base_dir), "%s/test-reactord-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

/* Removes what a test that failed half-way left behind, too. */
static void suite_teardown(void)
{
        rm_rf(base_dir);
        base_dir[0] = '\0';
}

static void setup(void)
{
        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        for (size_t i = 0; i < MAX_PIDS; i++)
                fx.pids[i] = -1;
        for (size_t i = 0; i < MAX_FDS; i++)
                fx.fds[i] = -1;
        snprintf(fx.dir, sizeof(fx.dir), "%s/t-XXXXXX", base_dir);
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        snprintf(fx.bus, sizeof(fx.bus), "%s/bus", fx.dir);
        snprintf(fx.endpoint, sizeof(fx.endpoint), "ipc://%s", fx.bus);
        fx.zctx = zmq_ctx_new();
        ck_assert_ptr_nonnull(fx.zctx);
}

static void teardown(void)
{
        /*
         * Every test is a leak test too: once its connections are gone (and the
         * sessions they left end, by their lease at the latest), reactord holds
         * the descriptors it held when it began to serve.
         */
        for (size_t i = 0; i < MAX_CONNS; i++)
                conn_free(fx.conns[i]);
        if (fx.daemon > 0 && waitpid(fx.daemon, NULL, WNOHANG) == fx.daemon)
                fx.daemon = -1; /* the test ended it */
        if (fx.daemon > 0)
                procfd_expect(fx.daemon, fx.bus, &fx.fds_served, 3 * TIMEOUT, "the teardown");
        procfd_done(&fx.fds_served);
        if (fx.daemon > 0) {
                kill(fx.daemon, SIGTERM);
                reap(fx.daemon, NULL);
                fx.daemon = -1;
        }
        for (size_t i = 0; i < MAX_PIDS; i++)
                if (fx.pids[i] > 0) {
                        kill(fx.pids[i], SIGKILL);
                        reap(fx.pids[i], NULL);
                        fx.pids[i] = -1;
                }
        for (size_t i = 0; i < MAX_CONNS; i++)
                conn_free(fx.conns[i]);
        if (fx.zctx) {
                zmq_ctx_term(fx.zctx);
                fx.zctx = NULL;
        }
        for (size_t i = 0; i < MAX_FDS; i++)
                if (fx.fds[i] >= 0) {
                        close(fx.fds[i]);
                        fx.fds[i] = -1;
                }
        rm_rf(fx.dir);
        fx.dir[0] = '\0';
}

/* ---- 1. protocol basics ------------------------------------------------------------------- */

static void check_param(const rd_value *method, const char *name, const char *type, bool required)
{
        const rd_value *p = find_named(field_of_type(method, "params", RD_VALUE_ARRAY), name);
        bool b;

        ck_assert_msg(p, "%s has no param '%s'", field_str(method, "name"), name);
        ck_assert_str_eq(field_str(p, "type"), type);
        ck_assert_int_eq(rd_value_bool(rd_value_get(p, "required"), &b), 0);
        ck_assert_int_eq(b, required);
}

START_TEST(test_basics)
{
        static const char *const names[] = {
                "session.hello", "session.ack",     "session.bye",       "reactor.ping",
                "reactor.info",  "reactor.methods", "reactor.resources", "handle.close",
                "timer.start",   "timer.reset",     "timer.cancel",
        };
        static const char *const types[] = { "uint", "int", "number", "duration", "bool",
                                             "str",  "bin", "handle", "map",      "array" };
        const rd_value *r, *limits, *list, *m, *ev;
        uint64_t session, hc, hd;
        conn *c, *d, *e;

        daemon_start(NULL);
        c = conn_new();

        /* Before hello, everything else is ENOTCONN (params `[]`: none at all). */
        request_bare(c, "reactor.ping");
        call_fails(c, "ENOTCONN");
        request(c, "reactor.info", 0);
        call_fails(c, "ENOTCONN");

        r = hello(c, "basics");
        session = field_uint(r, "session");
        ck_assert_uint_ge(session, 1);
        ck_assert_str_eq(field_str(r, "server"), "reactord");
        ck_assert_uint_gt(strlen(field_str(r, "version")), 0);
        ck_assert_uint_eq(field_uint(r, "protocol"), 1);
        ck_assert_double_eq_tol(field_double(r, "lease"), 10.0, 1e-6);
        ck_assert_uint_eq(field_uint(r, "window"), DEFAULT_WINDOW);
        limits = field_of_type(r, "limits", RD_VALUE_MAP);
        ck_assert_uint_eq(field_uint(limits, "max_frame"), DEFAULT_FRAME);
        ck_assert_uint_eq(field_uint(limits, "max_handles"), DEFAULT_HANDLES);
        ck_assert_uint_eq(field_uint(limits, "max_sessions"), DEFAULT_SESSIONS);
        ck_assert_uint_eq(field_uint(limits, "max_batch"), DEFAULT_BATCH);
        ck_assert_uint_eq(field_uint(limits, "max_processes"), DEFAULT_PROCS);
        ck_assert_uint_eq(field_uint(limits, "max_write_buffer"), DEFAULT_WBUF);

        request(c, "session.hello", 1);
        rd_write_kv_uint(&c->w, "protocol", 1);
        call_fails(c, "EALREADY");
        ping_ok(c);

        /* A version not spoken makes no session. */
        d = conn_new();
        request(d, "session.hello", 1);
        rd_write_kv_uint(&d->w, "protocol", 2);
        call_fails(d, "EPROTO");
        request(d, "reactor.ping", 0);
        call_fails(d, "ENOTCONN");
        r = hello(d, NULL);
        ck_assert_uint_ne(field_uint(r, "session"), session);

        /* Lease and window are clamped to their ranges. */
        e = conn_new();
        request(e, "session.hello", 3);
        rd_write_kv_uint(&e->w, "protocol", 1);
        rd_write_kv_double(&e->w, "lease", 1e6);
        rd_write_kv_uint(&e->w, "window", UINT64_C(1) << 40);
        r = call_ok(e);
        ck_assert_double_eq_tol(field_double(r, "lease"), 3600.0, 1e-6);
        ck_assert_uint_eq(field_uint(r, "window"), UINT64_C(64) * 1024 * 1024);
        request(e, "session.bye", 0);
        ck_assert_uint_eq(rd_value_len(call_ok(e)), 0);
        conn_free(e);
        e = conn_new();
        request(e, "session.hello", 3);
        rd_write_kv_uint(&e->w, "protocol", 1);
        rd_write_kv_double(&e->w, "lease", 0.001);
        rd_write_kv_uint(&e->w, "window", 1);
        r = call_ok(e);
        ck_assert_double_eq_tol(field_double(r, "lease"), 0.05, 1e-6);
        ck_assert_uint_eq(field_uint(r, "window"), 4096);
        request(e, "session.bye", 0);
        call(e); /* {} or, if the short lease ran out already, ENOTCONN */
        conn_free(e);

        hc = timer_start(c, 3600, 0);
        hd = timer_start(d, 3600, 0);
        ck_assert_uint_ne(hc, hd);

        r = info(c);
        ck_assert_str_eq(field_str(r, "server"), "reactord");
        ck_assert_uint_gt(strlen(field_str(r, "version")), 0);
        ck_assert_uint_eq(field_uint(r, "protocol"), 1);
        ck_assert_uint_eq(field_uint(r, "pid"), (uint64_t)fx.daemon);
        ck_assert_double_ge(field_double(r, "uptime"), 0);
        ck_assert_str_eq(field_str(r, "endpoint"), fx.endpoint);
        ck_assert_uint_eq(field_uint(r, "sessions"), 2);
        ck_assert_uint_eq(info_timers(r), 2);

        /* The catalogue. */
        request(c, "reactor.methods", 0);
        r = call_ok(c);
        list = field_of_type(r, "methods", RD_VALUE_ARRAY);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                m = find_named(list, names[i]);
                ck_assert_msg(m, "reactor.methods does not list %s", names[i]);
                field_str(m, "doc");
                field_of_type(m, "events", RD_VALUE_ARRAY);
                const rd_value *params = field_of_type(m, "params", RD_VALUE_ARRAY);
                for (size_t j = 0; j < rd_value_len(params); j++) {
                        const rd_value *p = rd_value_at(params, j);
                        bool known = false, b;
                        field_str(p, "name");
                        field_str(p, "doc");
                        ck_assert_int_eq(rd_value_bool(rd_value_get(p, "required"), &b), 0);
                        for (size_t k = 0; k < ELEMENTSOF(types); k++)
                                known = known || rd_value_str_eq(rd_value_get(p, "type"), types[k]);
                        ck_assert_msg(known, "%s: param type %s is not in PROTOCOL.md", names[i],
                                      field_str(p, "type"));
                }
        }
        m = find_named(list, "timer.start");
        check_param(m, "after", "duration", true);
        check_param(m, "every", "duration", false);
        ck_assert(array_has_str(rd_value_get(m, "events"), "timer.fired"));
        m = find_named(list, "timer.reset");
        check_param(m, "handle", "handle", true);
        check_param(m, "after", "duration", true);
        check_param(find_named(list, "timer.cancel"), "handle", "handle", true);
        check_param(find_named(list, "handle.close"), "handle", "handle", true);
        check_param(find_named(list, "session.ack"), "bytes", "uint", true);
        m = find_named(list, "session.hello");
        check_param(m, "protocol", "uint", true);
        check_param(m, "name", "str", false);
        check_param(m, "lease", "duration", false);
        check_param(m, "window", "uint", false);

        list = field_of_type(r, "events", RD_VALUE_ARRAY);
        ev = find_named(list, "timer.fired");
        ck_assert_ptr_nonnull(ev);
        field_str(ev, "doc");
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "handle"));
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "ticks"));
        ev = find_named(list, "session.closed");
        ck_assert_ptr_nonnull(ev);
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "reason"));
        ev = find_named(list, "session.error");
        ck_assert_ptr_nonnull(ev);
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "code"));
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "message"));
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "msgid"));
        ck_assert(array_has_str(rd_value_get(ev, "fields"), "method"));

        /* Each session sees its own resources only. */
        list = resources(c);
        ck_assert_uint_eq(rd_value_len(list), 1);
        m = rd_value_at(list, 0);
        ck_assert_uint_eq(field_uint(m, "handle"), hc);
        ck_assert_str_eq(field_str(m, "kind"), "timer");
        ck_assert_double_gt(field_double(m, "due"), 0);
        ck_assert_double_le(field_double(m, "due"), 3600);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(m, "every")), RD_VALUE_NIL);
        list = resources(d);
        ck_assert_uint_eq(rd_value_len(list), 1);
        ck_assert_uint_eq(field_uint(rd_value_at(list, 0), "handle"), hd);

        /* bye ends the session and releases what it owned. */
        request(c, "session.bye", 0);
        ck_assert_uint_eq(rd_value_len(call_ok(c)), 0);
        request(c, "reactor.ping", 0);
        call_fails(c, "ENOTCONN");
        r = info(d);
        ck_assert_uint_eq(field_uint(r, "sessions"), 1);
        ck_assert_uint_eq(info_timers(r), 1);
}
END_TEST

/* ---- 2. several messages in a frame, notifications ---------------------------------------- */

START_TEST(test_batching)
{
        bool seen[3] = { false, false, false };
        const rd_value *p;
        uint64_t first, id;
        conn *c;

        daemon_start(NULL);
        c = session_new("batching");

        /* Three requests in one frame: three responses. */
        first = request(c, "reactor.ping", 0);
        request(c, "reactor.ping", 0);
        request(c, "reactor.ping", 0);
        conn_send(c);
        for (int n = 0; n < 3; n++) {
                ck_assert_msg(conn_recv(c, TIMEOUT), "only %d of 3 responses", n);
                ck_assert_int_eq(c->msg.type, RD_MSG_RESPONSE);
                ck_assert_uint_ge(c->msg.msgid, first);
                ck_assert_uint_le(c->msg.msgid, first + 2);
                ck_assert(!seen[c->msg.msgid - first]);
                seen[c->msg.msgid - first] = true;
                ck_assert_str_eq(error_code(&c->msg), "");
        }

        /* A method sent as a notification runs and is not answered. */
        rd_write_array(&c->w, 3);
        rd_write_uint(&c->w, 2);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 0);
        conn_send(c);
        id = request(c, "reactor.ping", 0);
        conn_send(c);
        ck_assert(conn_recv(c, TIMEOUT));
        ck_assert_int_eq(c->msg.type, RD_MSG_RESPONSE);
        ck_assert_uint_eq(c->msg.msgid, id);

        /* A failing notification is reported by a session.error naming the method. */
        rd_write_notification(&c->w, "timer.cancel", 1);
        rd_write_kv_uint(&c->w, "handle", 999);
        conn_send(c);
        p = wait_session_error(c, "ENOENT");
        ck_assert_str_eq(field_str(p, "method"), "timer.cancel");
        ck_assert_ptr_null(rd_value_get(p, "msgid"));
        ping_ok(c);
}
END_TEST

START_TEST(test_notification_without_session)
{
        const rd_value *p;
        conn *c;

        daemon_start(NULL);
        c = conn_new();

        /* It fails (no session), and session.error is also sent to a connection without one. */
        rd_write_notification(&c->w, "reactor.ping", 0);
        conn_send(c);
        p = wait_session_error(c, "ENOTCONN");
        ck_assert_str_eq(field_str(p, "method"), "reactor.ping");
        request(c, "reactor.ping", 0);
        call_fails(c, "ENOTCONN");
}
END_TEST

/* ---- 3. timers ---------------------------------------------------------------------------- */

START_TEST(test_timer_oneshot)
{
        conn *c;
        uint64_t h;

        daemon_start(NULL);
        c = session_new("oneshot");
        h = timer_start(c, 0.05, 0);
        ck_assert_uint_eq(wait_fired(c, h, TIMEOUT), 1);

        /* Released right after its event (Twisted's AlreadyCalled). */
        ck_assert_str_eq(handle_call(c, "timer.cancel", h), "ENOENT");
        ck_assert_str_eq(handle_call(c, "handle.close", h), "ENOENT");
        ck_assert_uint_eq(rd_value_len(resources(c)), 0);
        ck_assert_uint_eq(info_timers(info(c)), 0);
        ck_assert_uint_eq(wait_fired(c, h, QUIET), 0);
}
END_TEST

START_TEST(test_timer_periodic)
{
        const double after = 0.05, every = 0.1;
        const rd_value *list, *r;
        uint64_t h, total = 0;
        double t0;
        conn *c;

        daemon_start(NULL);
        c = session_new("periodic");
        t0 = now();
        h = timer_start(c, after, every);

        /*
         * Phase kept: firing k (counting ticks) is due at start + after + (k-1)·every. A
         * timer never fires early, so firing k cannot be received before that (after ≠
         * every tells the phase start + after + k·every from start + k·every).
         */
        for (int n = 0; total < 5; n++) {
                uint64_t ticks = wait_fired(c, h, TIMEOUT);
                ck_assert_msg(ticks >= 1, "event %d of the periodic timer did not come", n + 1);
                total += ticks;
                ck_assert_msg(now() >= t0 + after + (double)(total - 1) * every - 0.001,
                              "firing %" PRIu64 " came before its due time", total);
        }

        list = resources(c);
        ck_assert_uint_eq(rd_value_len(list), 1);
        r = rd_value_at(list, 0);
        ck_assert_uint_eq(field_uint(r, "handle"), h);
        ck_assert_double_eq_tol(field_double(r, "every"), every, 1e-6);
        /* The next firing is at most one period away (missed ones are coalesced). */
        ck_assert_double_ge(field_double(r, "due"), 0);
        ck_assert_double_le(field_double(r, "due"), every + 1e-6);

        ck_assert_str_eq(handle_call(c, "timer.cancel", h), "");
}
END_TEST

START_TEST(test_timer_reset)
{
        conn *c;
        uint64_t h;
        double t0;

        daemon_start(NULL);
        c = session_new("reset");

        /* A one-shot timer postponed: it fires once, not before the new time. */
        h = timer_start(c, 0.5, 0);
        t0 = now();
        ck_assert_str_eq(timer_reset(c, h, 1.0), "");
        ck_assert_uint_eq(wait_fired(c, h, TIMEOUT), 1);
        ck_assert_double_ge(now(), t0 + 1.0 - 0.001);
        ck_assert_str_eq(timer_reset(c, h, 1), "ENOENT");

        /* A periodic one: postponed, then it keeps its period from there. */
        h = timer_start(c, 0.05, 0.05);
        ck_assert_uint_ge(wait_fired(c, h, TIMEOUT), 1);
        t0 = now();
        ck_assert_str_eq(timer_reset(c, h, 0.5), "");
        ping_ok(c); /* events fired before the reset arrive before this reply */
        ck_assert_uint_ge(wait_fired(c, h, TIMEOUT), 1);
        ck_assert_double_ge(now(), t0 + 0.5 - 0.001);
        ck_assert_uint_ge(wait_fired(c, h, TIMEOUT), 1);
        ck_assert_str_eq(handle_call(c, "timer.cancel", h), "");
}
END_TEST

START_TEST(test_timer_stop)
{
        uint64_t h1, h2;
        conn *c;

        daemon_start(NULL);
        c = session_new("stop");
        h1 = timer_start(c, 0.02, 0.02);
        h2 = timer_start(c, 0.02, 0.02);
        ck_assert_uint_ge(wait_fired(c, h1, TIMEOUT), 1);
        ck_assert_uint_ge(wait_fired(c, h2, TIMEOUT), 1);
        ck_assert_str_eq(handle_call(c, "timer.cancel", h1), "");
        ck_assert_str_eq(handle_call(c, "handle.close", h2), "");

        /* Events fired before the cancels arrive before this reply; none after it. */
        ping_ok(c);
        ck_assert_ptr_null(wait_event(c, "timer.fired", QUIET));

        ck_assert_str_eq(handle_call(c, "timer.cancel", h1), "ENOENT");
        ck_assert_str_eq(handle_call(c, "handle.close", h2), "ENOENT");
        ck_assert_str_eq(timer_reset(c, h1, 1), "ENOENT");
        ck_assert_uint_eq(rd_value_len(resources(c)), 0);
}
END_TEST

START_TEST(test_timer_bad_params)
{
        const char *msg;
        conn *c;

        daemon_start(NULL);
        c = session_new("bad-timers");

        request(c, "timer.start", 2);
        rd_write_kv_double(&c->w, "after", 1);
        rd_write_kv_uint(&c->w, "every", 0);
        msg = call_fails(c, "EINVAL");
        ck_assert_ptr_nonnull(strstr(msg, "every"));

        request(c, "timer.start", 1);
        rd_write_kv_str(&c->w, "after", "soon");
        msg = call_fails(c, "EINVAL");
        ck_assert_msg(strstr(msg, "after"), "message '%s' does not name 'after'", msg);

        request(c, "timer.start", 0);
        msg = call_fails(c, "EINVAL");
        ck_assert_msg(strstr(msg, "after"), "message '%s' does not name 'after'", msg);

        request(c, "timer.start", 1);
        rd_write_kv_double(&c->w, "after", -1);
        call_fails(c, "EINVAL");

        request(c, "timer.start", 1);
        rd_write_kv_double(&c->w, "after", 1e12);
        call_fails(c, "EINVAL");

        request(c, "timer.start", 2);
        rd_write_kv_double(&c->w, "after", 1);
        rd_write_kv_double(&c->w, "every", 1e12);
        call_fails(c, "EINVAL");

        request(c, "timer.cancel", 1);
        rd_write_kv_uint(&c->w, "handle", 0);
        call_fails(c, "EINVAL");

        /* None of those made a timer; the session is fine. */
        ck_assert_uint_eq(rd_value_len(resources(c)), 0);
        ping_ok(c);
}
END_TEST

/* ---- 4. ownership ------------------------------------------------------------------------- */

START_TEST(test_ownership)
{
        conn *a, *b;
        uint64_t h;

        daemon_start(NULL);
        a = session_new("owner");
        b = session_new("intruder");
        h = timer_start(a, 0.2, 0.2);

        ck_assert_str_eq(handle_call(b, "timer.cancel", h), "EPERM");
        ck_assert_str_eq(timer_reset(b, h, 3600), "EPERM");
        ck_assert_str_eq(handle_call(b, "handle.close", h), "EPERM");
        ck_assert_str_eq(handle_call(b, "timer.cancel", h + 1000), "ENOENT");
        ck_assert_str_eq(timer_reset(b, h + 1000, 1), "ENOENT");
        ck_assert_str_eq(handle_call(b, "handle.close", h + 1000), "ENOENT");
        ck_assert_uint_eq(rd_value_len(resources(b)), 0);

        /* None of it touched A's timer: it still fires (not an hour later), for A only. */
        ping_ok(a); /* events fired before B's attempts arrive before this reply */
        ck_assert_uint_ge(wait_fired(a, h, TIMEOUT), 1);
        ck_assert_str_eq(handle_call(a, "timer.cancel", h), "");
        ck_assert_ptr_null(wait_event(b, "timer.fired", 0));
}
END_TEST

/* ---- 5. credit and coalescing ------------------------------------------------------------- */

START_TEST(test_credit)
{
        const uint64_t window = 4096;
        const rd_value *list;
        double deadline;
        uint64_t h, received, ticks;
        conn *c;

        daemon_start(NULL);
        c = conn_new();
        request(c, "session.hello", 2);
        rd_write_kv_uint(&c->w, "protocol", 1);
        rd_write_kv_uint(&c->w, "window", window);
        ck_assert_uint_eq(field_uint(call_ok(c), "window"), window);

        h = timer_start(c, 0.001, 0.001);

        /* Without acks the events stop once the window is spent. */
        deadline = now() + TIMEOUT;
        while (conn_recv(c, QUIET) || c->event_bytes < window)
                ck_assert_msg(now() < deadline,
                              "without acks, events did not stop at the window: %" PRIu64
                              " bytes received",
                              c->event_bytes);
        received = c->event_bytes;

        /* Held back by credit, the timer has no due time. */
        list = resources(c);
        ck_assert_uint_eq(rd_value_len(list), 1);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(rd_value_at(list, 0), "due")), RD_VALUE_NIL);
        ck_assert_msg(received <= window + c->max_event,
                      "%" PRIu64 " bytes of events received with a window of %" PRIu64, received,
                      window);

        /* Credit back: the missed periods come as one event. */
        rd_write_notification(&c->w, "session.ack", 1);
        rd_write_kv_uint(&c->w, "bytes", received);
        conn_send(c);
        ticks = wait_fired(c, h, TIMEOUT);
        ck_assert_msg(ticks > 1, "the first event after the stall has ticks %" PRIu64, ticks);
        ck_assert_str_eq(handle_call(c, "timer.cancel", h), "");
}
END_TEST

/* ---- 6. lease ----------------------------------------------------------------------------- */

/*
 * The forked client: a session with a short lease and 100 timers, kept alive by
 * pings until it is killed. It writes one byte to `ready_fd` once all is set.
 * It runs outside Check (no assertions): any failure is its exit status.
 */
static void lease_child(int ready_fd)
{
        const int timeout_ms = (int)(TIMEOUT * 1000), zero = 0;
        rd_writer w = RD_WRITER_INIT;
        rd_decoder *d = NULL;
        void *ctx, *s;
        zmq_msg_t f;
        rd_msg m;
        int answered = 0;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        ctx = zmq_ctx_new();
        s = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
        if (!s || rd_decoder_new(&d) < 0 ||
            zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms)) < 0 ||
            zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
            zmq_connect(s, fx.endpoint) < 0)
                _exit(1);

        /* hello and the 100 timers in one frame. */
        rd_write_request(&w, 1, "session.hello", 3);
        rd_write_kv_uint(&w, "protocol", 1);
        rd_write_kv_str(&w, "name", "lease");
        rd_write_kv_double(&w, "lease", 0.2);
        for (int i = 0; i < 100; i++) {
                rd_write_request(&w, 2 + (uint64_t)i, "timer.start", 1);
                rd_write_kv_double(&w, "after", 3600);
        }
        if (rd_writer_failed(&w) || zmq_send(s, w.data, w.size, 0) < 0)
                _exit(2);
        zmq_msg_init(&f);
        while (answered < 101) {
                if (zmq_msg_recv(&f, s, 0) < 0 ||
                    rd_decoder_begin(d, zmq_msg_data(&f), zmq_msg_size(&f)) < 0)
                        _exit(3);
                while (rd_decoder_next(d, &m) == 1)
                        if (m.type == RD_MSG_RESPONSE) {
                                if (rd_value_type_of(m.error) != RD_VALUE_NIL)
                                        _exit(4);
                                answered++;
                        }
        }
        if (write(ready_fd, "", 1) != 1)
                _exit(5);

        /* Keep the lease: reactor.ping as a notification, often. */
        rd_writer_reset(&w);
        rd_write_notification(&w, "reactor.ping", 0);
        for (;;) {
                (void)zmq_send(s, w.data, w.size, 0);
                usleep(20 * 1000);
        }
}

START_TEST(test_lease)
{
        struct pollfd pfd;
        const rd_value *r;
        bool released = false;
        int fds[2];
        pid_t child;
        conn *c;
        char b;

        daemon_start(NULL);
        c = session_new("observer");

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        track_fd(fds[0]);
        track_fd(fds[1]);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0)
                lease_child(fds[1]);
        track_pid(child);
        untrack_fd(fds[1]);

        pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
        ck_assert_msg(poll(&pfd, 1, (int)(TIMEOUT * 1000)) == 1, "the client did not get ready");
        ck_assert_msg(read(fds[0], &b, 1) == 1, "the client failed before it was ready");
        r = info(c);
        ck_assert_uint_eq(field_uint(r, "sessions"), 2);
        ck_assert_uint_eq(info_timers(r), 100);

        kill(child, SIGKILL);
        reap(child, NULL);
        untrack_pid(child);

        /* The lease runs out; everything the session owned goes with it. */
        for (double deadline = now() + TIMEOUT; !released && now() < deadline;) {
                r = info(c);
                released = field_uint(r, "sessions") == 1 && info_timers(r) == 0;
                if (!released)
                        sleep_for(0.05);
        }
        r = info(c);
        ck_assert_uint_eq(field_uint(r, "sessions"), 1);
        ck_assert_uint_eq(info_timers(r), 0);
}
END_TEST

START_TEST(test_lease_expiry)
{
        const rd_msg *m;
        conn *c, *d;

        daemon_start(NULL);
        d = session_new("observer");
        c = conn_new();
        request(c, "session.hello", 2);
        rd_write_kv_uint(&c->w, "protocol", 1);
        rd_write_kv_double(&c->w, "lease", 0.1);
        call_ok(c);
        timer_start(c, 3600, 0);

        /* Silent for longer than its lease: ended, and told why. */
        m = wait_event(c, "session.closed", TIMEOUT);
        ck_assert_msg(m, "no session.closed after the lease ran out");
        ck_assert_str_eq(field_str(m->params, "reason"), "lease expired");
        request(c, "reactor.ping", 0);
        call_fails(c, "ENOTCONN");
        ck_assert_uint_eq(field_uint(info(d), "sessions"), 1);
        ck_assert_uint_eq(info_timers(info(d)), 0);
}
END_TEST

/* ---- 7. bad input ------------------------------------------------------------------------- */

/* After bad input: the offender's session and a well-behaved one are both served. */
static void still_serving(conn *c)
{
        conn *good = session_new("well-behaved");

        daemon_alive();
        ping_ok(c);
        ping_ok(good);
        conn_free(good);
}

START_TEST(test_bad_not_msgpack)
{
        static const uint8_t never_used[] = { 0xc1 };
        static const uint8_t truncated[] = { 0x94, 0x00, 0x01 };
        bool response = false, error = false;
        conn *c, *bare;
        uint64_t id;

        daemon_start(NULL);
        c = session_new("garbage");

        send_bytes(c, never_used, sizeof(never_used));
        wait_session_error(c, "EBADMSG");
        send_bytes(c, truncated, sizeof(truncated));
        wait_session_error(c, "EBADMSG");

        /* The messages before the bad bytes are handled; the rest is dropped. */
        id = request(c, "reactor.ping", 0);
        rd_write_raw(&c->w, never_used, sizeof(never_used));
        request(c, "reactor.ping", 0);
        conn_send(c);
        while (!(response && error)) {
                ck_assert_msg(conn_recv(c, TIMEOUT), "response %d, session.error %d", response,
                              error);
                if (c->msg.type == RD_MSG_RESPONSE) {
                        ck_assert(!response);
                        ck_assert_uint_eq(c->msg.msgid, id);
                        ck_assert_str_eq(error_code(&c->msg), "");
                        response = true;
                } else if (is_event(&c->msg, "session.error")) {
                        ck_assert(!error);
                        ck_assert_str_eq(field_str(c->msg.params, "code"), "EBADMSG");
                        error = true;
                }
        }

        /* A connection without a session is told too. */
        bare = conn_new();
        send_bytes(bare, never_used, sizeof(never_used));
        wait_session_error(bare, "EBADMSG");

        still_serving(c);
        ck_assert_ptr_null(wait_event(c, "session.error", 0)); /* one error per bad frame */
}
END_TEST

START_TEST(test_bad_not_rpc)
{
        const rd_value *p;
        uint64_t id, good;
        conn *c;

        daemon_start(NULL);
        c = session_new("not-rpc");

        /* A readable request msgid: an EPROTO response to it. */
        rd_write_array(&c->w, 3); /* wrong array length */
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_str(&c->w, "reactor.ping");
        call_fails(c, "EPROTO");

        rd_write_array(&c->w, 4); /* params not [map] */
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 2);
        rd_write_uint(&c->w, 1);
        rd_write_uint(&c->w, 2);
        call_fails(c, "EPROTO");

        rd_write_array(&c->w, 4); /* params a bare map */
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_map(&c->w, 0);
        call_fails(c, "EPROTO");

        rd_write_array(&c->w, 4); /* params two maps */
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 2);
        rd_write_map(&c->w, 0);
        rd_write_map(&c->w, 0);
        call_fails(c, "EPROTO");

        rd_write_array(&c->w, 4); /* method not a str */
        rd_write_uint(&c->w, 0);
        rd_write_uint(&c->w, ++c->msgid);
        rd_write_uint(&c->w, 7);
        rd_write_array(&c->w, 0);
        call_fails(c, "EPROTO");

        /* Decoding goes on with the next message of the frame. */
        rd_write_array(&c->w, 2);
        rd_write_uint(&c->w, 0);
        id = ++c->msgid;
        rd_write_uint(&c->w, id);
        good = request(c, "reactor.ping", 0);
        conn_send(c);
        ck_assert_str_eq(error_code(wait_response(c, id)), "EPROTO");
        ck_assert_str_eq(error_code(wait_response(c, good)), "");

        /* No readable request msgid: a session.error without one. */
        rd_write_uint(&c->w, 42);
        conn_send(c);
        p = wait_session_error(c, "EPROTO");
        ck_assert_ptr_null(rd_value_get(p, "msgid"));

        rd_write_map(&c->w, 1);
        rd_write_kv_uint(&c->w, "a", 1);
        conn_send(c);
        wait_session_error(c, "EPROTO");

        rd_write_array(&c->w, 3); /* type 7 */
        rd_write_uint(&c->w, 7);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 0);
        conn_send(c);
        wait_session_error(c, "EPROTO");

        rd_write_array(&c->w, 4); /* msgid a str */
        rd_write_uint(&c->w, 0);
        rd_write_str(&c->w, "one");
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 0);
        conn_send(c);
        p = wait_session_error(c, "EPROTO");
        ck_assert_ptr_null(rd_value_get(p, "msgid"));

        rd_write_array(&c->w, 3); /* a notification whose params are not [map] */
        rd_write_uint(&c->w, 2);
        rd_write_str(&c->w, "reactor.ping");
        rd_write_array(&c->w, 1);
        rd_write_uint(&c->w, 1);
        conn_send(c);
        wait_session_error(c, "EPROTO");

        still_serving(c);
}
END_TEST

START_TEST(test_bad_response_from_client)
{
        uint64_t id;
        conn *c;

        daemon_start(NULL);
        c = session_new("responder");

        /* Responses are ignored: no reply, no session.error; the next message is the ping's. */
        rd_write_result(&c->w, 9, 0);
        conn_send(c);
        rd_write_error(&c->w, 10, -EIO, "nothing");
        conn_send(c);
        id = request(c, "reactor.ping", 0);
        conn_send(c);
        ck_assert(conn_recv(c, TIMEOUT));
        ck_assert_int_eq(c->msg.type, RD_MSG_RESPONSE);
        ck_assert_uint_eq(c->msg.msgid, id);
        ck_assert_str_eq(error_code(&c->msg), "");
        still_serving(c);
}
END_TEST

START_TEST(test_bad_params)
{
        const rd_value *list;
        conn *c, *d;
        uint64_t h;

        daemon_start(NULL);
        d = conn_new();
        request(d, "session.hello", 1);
        rd_write_kv_str(&d->w, "protocol", "1");
        call_fails(d, "EINVAL");
        request(d, "session.hello", 2);
        rd_write_kv_uint(&d->w, "protocol", 1);
        rd_write_kv_uint(&d->w, "name", 5);
        call_fails(d, "EINVAL");
        request(d, "session.hello", 0);
        call_fails(d, "EINVAL");

        c = session_new("params");
        request(c, "session.ack", 1);
        rd_write_kv_str(&c->w, "bytes", "many");
        call_fails(c, "EINVAL");
        request(c, "session.ack", 1);
        rd_write_kv_int(&c->w, "bytes", -1);
        call_fails(c, "EINVAL");
        request(c, "handle.close", 1);
        rd_write_kv_str(&c->w, "handle", "abc");
        call_fails(c, "EINVAL");
        request(c, "handle.close", 1);
        rd_write_kv_int(&c->w, "handle", -5);
        call_fails(c, "EINVAL");
        request(c, "timer.start", 1);
        rd_write_kv_bool(&c->w, "after", true);
        call_fails(c, "EINVAL");
        request(c, "timer.start", 1);
        rd_write_str(&c->w, "after");
        rd_write_array(&c->w, 1);
        rd_write_uint(&c->w, 1);
        call_fails(c, "EINVAL");
        request(c, "timer.start", 1);
        rd_write_kv_uint(&c->w, "every", 1);
        call_fails(c, "EINVAL");

        /* Forward compatibility: unknown keys are ignored, nil counts as absent. */
        request(c, "timer.start", 3);
        rd_write_kv_uint(&c->w, "after", 3600);
        rd_write_kv_str(&c->w, "colour", "red");
        rd_write_str(&c->w, "every");
        rd_write_nil(&c->w);
        h = field_uint(call_ok(c), "handle");
        list = resources(c);
        ck_assert_uint_eq(rd_value_len(list), 1);
        ck_assert_uint_eq(field_uint(rd_value_at(list, 0), "handle"), h);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(rd_value_at(list, 0), "every")),
                         RD_VALUE_NIL);

        still_serving(c);
}
END_TEST

START_TEST(test_unknown_method)
{
        const rd_value *p;
        conn *c;

        daemon_start(NULL);
        c = session_new("unknown");
        request(c, "nope.nothing", 0);
        call_fails(c, "ENOSYS");
        request(c, "timer.startx", 0);
        call_fails(c, "ENOSYS");

        rd_write_notification(&c->w, "nope.nothing", 0);
        conn_send(c);
        p = wait_session_error(c, "ENOSYS");
        ck_assert_str_eq(field_str(p, "method"), "nope.nothing");

        still_serving(c);
}
END_TEST

START_TEST(test_oversized_frame)
{
        static const char *const args[] = { "--max-frame", "65536", NULL };
        const size_t big = 100 * 1024;
        const rd_value *p;
        char *pad;
        conn *c;

        daemon_start(args);
        c = conn_new();
        p = hello(c, "oversized");
        ck_assert_uint_eq(field_uint(field_of_type(p, "limits", RD_VALUE_MAP), "max_frame"), 65536);

        pad = malloc(big);
        ck_assert_ptr_nonnull(pad);
        memset(pad, 0xc1, big);

        /* Under the limit (unknown keys are ignored): served. */
        request(c, "reactor.ping", 1);
        rd_write_str(&c->w, "pad");
        rd_write_bin(&c->w, pad, 60 * 1024);
        ck_assert(!rd_writer_failed(&c->w));
        call_ok(c);

        /* Over it, with a readable request header: an E2BIG response to that request. */
        request(c, "reactor.ping", 1);
        rd_write_str(&c->w, "pad");
        rd_write_bin(&c->w, pad, big);
        call_fails(c, "E2BIG");

        /* Over it, unreadable: a session.error. */
        send_bytes(c, pad, big);
        free(pad);
        p = wait_session_error(c, "E2BIG");
        ck_assert_ptr_null(rd_value_get(p, "msgid"));

        still_serving(c);
}
END_TEST

START_TEST(test_reply_amplification)
{
        static const char *const args[] = { "--max-frame", "65536", NULL };
        const size_t n = 2000; /* each reactor.methods answer is some KiB: MiBs in all */
        size_t answered = 0, refused = 0, i;
        uint64_t first;
        conn *c;

        daemon_start(args);
        c = session_new("amplifier");

        /* One small frame of many requests with large answers. */
        first = request_bare(c, "reactor.methods");
        for (i = 1; i < n; i++)
                request_bare(c, "reactor.methods");
        ck_assert_uint_lt(c->w.size, 65536);
        conn_send(c);

        /* Every request is answered, in order: results up to max_frame, then E2BIG. */
        for (i = 0; i < n; i++) {
                const char *code = error_code(wait_response(c, first + i));
                if (*code) {
                        ck_assert_str_eq(code, "E2BIG");
                        refused++;
                } else {
                        ck_assert_uint_eq(refused, 0);
                        answered++;
                }
        }
        ck_assert_uint_gt(answered, 0);
        ck_assert_uint_gt(refused, 0);
        still_serving(c);
}
END_TEST

START_TEST(test_multipart)
{
        rd_writer part = RD_WRITER_INIT;
        conn *c;

        daemon_start(NULL);
        c = session_new("multipart");

        /* Two parts, each a valid ping: refused whole, neither is answered. */
        rd_write_request(&part, 1000, "reactor.ping", 0);
        ck_assert(!rd_writer_failed(&part));
        ck_assert_int_eq(zmq_send(c->sock, part.data, part.size, ZMQ_SNDMORE), (int)part.size);
        ck_assert_int_eq(zmq_send(c->sock, part.data, part.size, 0), (int)part.size);
        rd_writer_done(&part);
        wait_session_error(c, "EPROTO");

        /* wait_response() fails on any response but this ping's. */
        still_serving(c);
}
END_TEST

START_TEST(test_huge_container)
{
        /* Headers claiming 2^32-1 elements (array32, map32) or bytes (str32), in 10 bytes. */
        static const uint8_t frames[][10] = {
                { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00 },
                { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00 },
                { 0xdb, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00 },
                { 0x94, 0x00, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
        };
        long long before, after;
        conn *c;

        daemon_start(NULL);
        c = session_new("huge");
        ping_ok(c);
        before = rss_kib(fx.daemon);

        for (int round = 0; round < 10; round++)
                for (size_t i = 0; i < ELEMENTSOF(frames); i++) {
                        send_bytes(c, frames[i], sizeof(frames[i]));
                        if (frames[i][0] == 0x94) {
                                /* A readable request head: its caller gets the error response. */
                                ck_assert_str_eq(error_code(wait_response(c, 1)), "EBADMSG");
                                continue;
                        }
                        wait_session_error(c, "EBADMSG");
                }

        still_serving(c);
        after = rss_kib(fx.daemon);
        ck_assert_msg(after - before < 16 * 1024, "reactord's RSS went from %lld to %lld KiB",
                      before, after);
}
END_TEST

START_TEST(test_max_sessions)
{
        static const char *const args[] = { "--max-sessions", "2", NULL };
        conn *a, *b, *c;

        daemon_start(args);
        a = session_new("one");
        b = session_new("two");
        c = conn_new();
        request(c, "session.hello", 1);
        rd_write_kv_uint(&c->w, "protocol", 1);
        call_fails(c, "EUSERS");
        request(c, "reactor.ping", 0);
        call_fails(c, "ENOTCONN");

        /* A place frees up. */
        request(b, "session.bye", 0);
        call_ok(b);
        hello(c, "three");
        ping_ok(a);
        ping_ok(c);
}
END_TEST

START_TEST(test_max_handles)
{
        static const char *const args[] = { "--max-handles", "3", NULL };
        const rd_value *r;
        uint64_t h[3];
        conn *a, *b;

        daemon_start(args);
        a = conn_new();
        r = hello(a, "handles");
        ck_assert_uint_eq(field_uint(field_of_type(r, "limits", RD_VALUE_MAP), "max_handles"), 3);
        for (int i = 0; i < 3; i++)
                h[i] = timer_start(a, 3600, 0);
        request(a, "timer.start", 1);
        rd_write_kv_double(&a->w, "after", 3600);
        call_fails(a, "EMFILE");

        /* The cap is per session. */
        b = session_new("other");
        for (int i = 0; i < 3; i++)
                timer_start(b, 3600, 0);

        ck_assert_str_eq(handle_call(a, "timer.cancel", h[1]), "");
        timer_start(a, 3600, 0);
        ck_assert_uint_eq(info_timers(info(a)), 6);
        still_serving(a);
}
END_TEST

/* ---- 8. flood ----------------------------------------------------------------------------- */

typedef struct flood {
        void *sock;     /* used by the flood thread only while it runs */
        int count;      /* frames to send */
        size_t max_len; /* frames are 1..max_len bytes long (at most 512) */
        uint64_t seed;  /* of the xorshift64 the bytes come from; not 0 */
        int sent;       /* frames sent */
        int error;      /* errno of a failed send, or 0 */
        bool done;      /* set (atomically) once the thread has stopped sending */
} flood;

static void *flood_run(void *userdata)
{
        flood *f = userdata;
        uint64_t x = f->seed;
        uint8_t buf[512];

        for (f->sent = 0; f->sent < f->count; f->sent++) {
                size_t n;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                n = 1 + x % f->max_len;
                for (size_t i = 0; i < n; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        buf[i] = (uint8_t)(x >> 32);
                }
                if (zmq_send(f->sock, buf, n, 0) < 0) {
                        f->error = errno;
                        break;
                }
        }
        __atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
        return NULL;
}

START_TEST(test_flood)
{
        const int send_timeout = (int)(TIMEOUT * 1000);
        flood f = { .count = 20000, .max_len = 512, .seed = UINT64_C(0x9e3779b97f4a7c15) };
        pthread_t thread;
        conn *bad, *good, *fresh;

        daemon_start(NULL);
        good = session_new("patient");
        bad = conn_new(); /* never reads */
        ck_assert_int_eq(
                zmq_setsockopt(bad->sock, ZMQ_SNDTIMEO, &send_timeout, sizeof(send_timeout)), 0);
        f.sock = bad->sock;

        ck_assert_int_eq(pthread_create(&thread, NULL, flood_run, &f), 0);
        for (int i = 0; i < 200; i++) {
                const rd_msg *m;
                uint64_t id = request(good, "reactor.ping", 0);
                conn_send(good);
                m = wait_response(good, id);
                ck_assert_msg(rd_value_type_of(m->error) == RD_VALUE_NIL, "ping %d failed: %s", i,
                              error_code(m));
                ck_assert_uint_eq(rd_value_len(m->result), 0);
        }
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        ck_assert_msg(f.error == 0, "garbage frame %d could not be sent: %s", f.sent,
                      strerror(f.error));
        ck_assert_int_eq(f.sent, 20000);

        daemon_alive();
        ping_ok(good);
        fresh = session_new("fresh");
        ping_ok(fresh);
        ck_assert_uint_eq(field_uint(info(fresh), "sessions"), 2);
}
END_TEST

/* ---- 9. faults: churn and a bigger flood -------------------------------------------------- */

#define CHURN_CLIENTS    20   /* clients at once, one thread each */
#define CHURN_ITERATIONS 1000 /* clients in all, at most */
#define CHURN_SECONDS    30.0 /* no new client after this long */
#define CHURN_RSS_KIB    8192 /* growth of reactord's RSS allowed over the churn */

/* Is reactord's memory watched by memcheck or AddressSanitizer (built like this test)? */
static bool under_leak_checker(void)
{
#if defined(__SANITIZE_ADDRESS__)
        return true;
#else
        return getenv("REACTORD_UNDER_VALGRIND") != NULL;
#endif
}

/* What the churn threads share; `next` and `expired` change atomically. */
typedef struct churn {
        const char *endpoint;
        void *zctx;
        double until; /* no new client after this */
        int next;     /* clients begun */
        int expired;  /* clients whose session ended by its lease before they were done */
} churn;

/* One churn thread. It asserts nothing (Check is not for threads): it reports. */
typedef struct churner {
        churn *sh;
        void *sock;
        rd_decoder *decoder;
        rd_writer w;
        uint64_t msgid;
        int done;        /* clients that went through */
        int byes;        /* of which said session.bye */
        int drops;       /* of which closed their socket without a word */
        char error[256]; /* what went wrong, "" when nothing */
} churner;

static uint64_t churner_request(churner *t, const char *method, uint32_t n_fields)
{
        rd_write_request(&t->w, ++t->msgid, method, n_fields);
        return t->msgid;
}

/*
 * Send the frame written so far and take the responses to requests `first`..
 * the last one, in order, skipping events. A failed request is an error unless
 * its code is ENOTCONN and `lease_may_end`: the session's 0.2 s lease may run
 * out under load, which ends it, and that is one of the ways a client vanishes.
 * Sets *ended then. Returns false with t->error set on anything else.
 */
static bool churner_exchange(churner *t, uint64_t first, bool lease_may_end, bool *ended)
{
        uint64_t want = first, last = t->msgid;
        double deadline = now() + TIMEOUT;
        zmq_msg_t f;
        rd_msg m;
        bool ok = true;

        if (rd_writer_failed(&t->w) ||
            zmq_send(t->sock, t->w.data, t->w.size, 0) != (int)t->w.size) {
                snprintf(t->error, sizeof(t->error), "send: %s", zmq_strerror(zmq_errno()));
                return false;
        }
        rd_writer_reset(&t->w);
        zmq_msg_init(&f);
        while (ok && want <= last) {
                double left = deadline - now();
                zmq_pollitem_t item = { .socket = t->sock, .events = ZMQ_POLLIN };
                int k = zmq_poll(&item, 1, left > 0 ? (long)(left * 1000) + 1 : 0);

                if (k < 0 && zmq_errno() == EINTR)
                        continue;
                if (k <= 0) {
                        snprintf(t->error, sizeof(t->error), "no response to request %" PRIu64,
                                 want);
                        ok = false;
                        break;
                }
                if (zmq_msg_recv(&f, t->sock, ZMQ_DONTWAIT) < 0 ||
                    rd_decoder_begin(t->decoder, zmq_msg_data(&f), zmq_msg_size(&f)) < 0) {
                        snprintf(t->error, sizeof(t->error), "cannot receive or decode a frame");
                        ok = false;
                        break;
                }
                while (ok && (k = rd_decoder_next(t->decoder, &m)) == 1) {
                        const char *code = "";
                        size_t n = 0;

                        if (m.type != RD_MSG_RESPONSE)
                                continue;
                        if (m.msgid != want) {
                                snprintf(t->error, sizeof(t->error),
                                         "response to %" PRIu64 " while waiting for %" PRIu64,
                                         m.msgid, want);
                                ok = false;
                                break;
                        }
                        want++;
                        if (rd_value_type_of(m.error) == RD_VALUE_NIL)
                                continue;
                        (void)rd_value_str(rd_value_get(m.error, "code"), &code, &n);
                        if (lease_may_end && n == strlen("ENOTCONN") &&
                            memcmp(code, "ENOTCONN", n) == 0) {
                                *ended = true;
                                continue;
                        }
                        snprintf(t->error, sizeof(t->error), "request %" PRIu64 " failed: %.*s",
                                 m.msgid, (int)n, code);
                        ok = false;
                }
                if (ok && k < 0) {
                        snprintf(t->error, sizeof(t->error),
                                 "reactord sent bytes that do not decode");
                        ok = false;
                }
        }
        zmq_msg_close(&f);
        return ok;
}

/*
 * One client's life: hello with a short lease, three one-shot timers and a
 * periodic one, a ping and reactor.resources, then gone: every other client
 * says session.bye, the rest just close their socket.
 */
static bool churner_client(churner *t, int i)
{
        const int zero = 0;
        bool ended = false, ok;
        uint64_t first;

        t->sock = zmq_socket(t->sh->zctx, ZMQ_DEALER);
        if (!t->sock || zmq_setsockopt(t->sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
            zmq_connect(t->sock, t->sh->endpoint) < 0) {
                snprintf(t->error, sizeof(t->error), "socket: %s", zmq_strerror(zmq_errno()));
                if (t->sock)
                        zmq_close(t->sock);
                t->sock = NULL;
                return false;
        }

        first = churner_request(t, "session.hello", 3);
        rd_write_kv_uint(&t->w, "protocol", 1);
        rd_write_kv_str(&t->w, "name", "churn");
        rd_write_kv_double(&t->w, "lease", 0.2);
        ok = churner_exchange(t, first, false, &ended);

        if (ok) {
                first = churner_request(t, "timer.start", 1);
                rd_write_kv_double(&t->w, "after", 0.01);
                churner_request(t, "timer.start", 1);
                rd_write_kv_double(&t->w, "after", 1);
                churner_request(t, "timer.start", 1);
                rd_write_kv_double(&t->w, "after", 3600);
                churner_request(t, "timer.start", 2);
                rd_write_kv_double(&t->w, "after", 0.01);
                rd_write_kv_double(&t->w, "every", 0.01);
                ok = churner_exchange(t, first, true, &ended);
        }
        if (ok && !ended) {
                first = churner_request(t, "reactor.ping", 0);
                churner_request(t, "reactor.resources", 0);
                ok = churner_exchange(t, first, true, &ended);
        }
        if (ok && !ended && i % 2 == 1) {
                first = churner_request(t, "session.bye", 0);
                ok = churner_exchange(t, first, true, &ended);
                t->byes += ok && !ended;
        } else if (ok && !ended)
                t->drops++;
        if (ok && ended)
                __atomic_fetch_add(&t->sh->expired, 1, __ATOMIC_RELAXED);

        zmq_close(t->sock);
        t->sock = NULL;
        t->done += ok;
        return ok;
}

static void *churner_run(void *userdata)
{
        churner *t = userdata;

        if (rd_decoder_new(&t->decoder) < 0) {
                snprintf(t->error, sizeof(t->error), "out of memory");
                return NULL;
        }
        for (;;) {
                int i = __atomic_fetch_add(&t->sh->next, 1, __ATOMIC_RELAXED);
                if (i >= CHURN_ITERATIONS || now() >= t->sh->until || !churner_client(t, i))
                        break;
        }
        rd_decoder_free(t->decoder);
        rd_writer_done(&t->w);
        return NULL;
}

/* Everything reactord holds for sessions is 0 in `info`'s resources. */
static bool resources_all_zero(const rd_value *info_result)
{
        const rd_value *res = field_of_type(info_result, "resources", RD_VALUE_MAP);

        for (size_t i = 0; i < rd_value_len(res); i++)
                if (rd_value_get_uint(res, str_of(rd_value_key_at(res, i)), 1) != 0)
                        return false;
        return true;
}

START_TEST(test_churn)
{
        churner t[CHURN_CLIENTS];
        pthread_t threads[CHURN_CLIENTS];
        churn sh = { .endpoint = fx.endpoint, .zctx = fx.zctx };
        int done = 0, byes = 0, drops = 0, started = 0;
        const rd_value *r = NULL;
        bool settled = false;
        long long rss;
        baseline b;
        conn *fresh;

        daemon_start(NULL);
        b = baseline_take(fx.daemon);

        memset(t, 0, sizeof(t));
        sh.until = now() + CHURN_SECONDS;
        for (; started < CHURN_CLIENTS; started++) {
                t[started].sh = &sh;
                t[started].w = (rd_writer)RD_WRITER_INIT;
                if (pthread_create(&threads[started], NULL, churner_run, &t[started]) != 0)
                        break;
        }
        for (int i = 0; i < started; i++)
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(started, CHURN_CLIENTS);
        for (int i = 0; i < CHURN_CLIENTS; i++) {
                ck_assert_msg(t[i].error[0] == '\0', "churn client %d: %s", i, t[i].error);
                done += t[i].done;
                byes += t[i].byes;
                drops += t[i].drops;
        }
        ck_assert_int_gt(done, 0);
        ck_assert_int_eq(done, byes + drops + sh.expired);
        daemon_alive();

        /* Every churned session ends (bye, or its lease), and all it owned goes with it. */
        fresh = session_new("fresh");
        for (double deadline = now() + 6 * TIMEOUT; !settled && now() < deadline;) {
                r = info(fresh);
                settled = field_uint(r, "sessions") == 1 && resources_all_zero(r);
                if (!settled)
                        sleep_for(0.05);
        }
        r = info(fresh);
        ck_assert_uint_eq(field_uint(r, "sessions"), 1);
        ck_assert_msg(resources_all_zero(r), "resources left after the churn (timers: %" PRIu64 ")",
                      info_timers(r));
        request(fresh, "session.bye", 0);
        call_ok(fresh);
        conn_free(fresh);

        fds_back_to(fx.daemon, &b, 6 * TIMEOUT);
        rss = rss_kib(fx.daemon);
        /*
         * Under memcheck the RSS is valgrind's as well (its translations grow
         * with every new code path), and ASan keeps freed memory in
         * quarantine: there the leak checkers stand in for this bound.
         */
        ck_assert_msg(under_leak_checker() || rss - b.rss_kib < CHURN_RSS_KIB,
                      "reactord's RSS grew from %lld KiB to %lld KiB over the churn", b.rss_kib,
                      rss);
        fprintf(stderr,
                "churn: %d clients (%d bye, %d closed, %d ended by lease); fds %d -> %d; "
                "RSS %lld -> %lld KiB\n",
                done, byes, drops, sh.expired, b.fds, fd_count(fx.daemon), b.rss_kib, rss);
}
END_TEST

START_TEST(test_flood_big)
{
        const int send_timeout = (int)(TIMEOUT * 1000);
        flood f = { .count = 100000, .max_len = 256, .seed = UINT64_C(0x2545f4914f6cdd1d) };
        pthread_t thread;
        conn *bad, *good, *fresh;
        int pings = 0, during = 0; /* pings answered; of which sent while the flood ran */
        baseline b;

        daemon_start(NULL);
        b = baseline_take(fx.daemon);
        good = session_new("patient");
        bad = conn_new(); /* never reads */
        ck_assert_int_eq(
                zmq_setsockopt(bad->sock, ZMQ_SNDTIMEO, &send_timeout, sizeof(send_timeout)), 0);
        f.sock = bad->sock;

        /* The garbage goes out without waiting for anything; the pings go on throughout. */
        ck_assert_int_eq(pthread_create(&thread, NULL, flood_run, &f), 0);
        while (!__atomic_load_n(&f.done, __ATOMIC_ACQUIRE) || pings < 200) {
                const rd_msg *m;
                uint64_t id = request(good, "reactor.ping", 0);
                during += !__atomic_load_n(&f.done, __ATOMIC_ACQUIRE);
                conn_send(good);
                m = wait_response(good, id);
                ck_assert_msg(rd_value_type_of(m->error) == RD_VALUE_NIL, "ping %d failed: %s",
                              pings, error_code(m));
                ck_assert_uint_eq(rd_value_len(m->result), 0);
                pings++;
        }
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        ck_assert_msg(f.error == 0, "garbage frame %d could not be sent: %s", f.sent,
                      strerror(f.error));
        ck_assert_int_eq(f.sent, 100000);

        daemon_alive();
        ping_ok(good);
        fresh = session_new("fresh");
        ping_ok(fresh);
        ck_assert_uint_eq(field_uint(info(fresh), "sessions"), 2);
        ck_assert_uint_eq(info_timers(info(fresh)), 0);

        conn_free(bad);
        request(fresh, "session.bye", 0);
        call_ok(fresh);
        conn_free(fresh);
        request(good, "session.bye", 0);
        call_ok(good);
        conn_free(good);
        fds_back_to(fx.daemon, &b, 6 * TIMEOUT);
        fprintf(stderr,
                "flood: %d frames, %d pings answered (%d during it); fds %d -> %d; RSS %lld -> "
                "%lld KiB\n",
                f.sent, pings, during, b.fds, fd_count(fx.daemon), b.rss_kib, rss_kib(fx.daemon));
}
END_TEST

/* ---- 10. daemon life ---------------------------------------------------------------------- */

START_TEST(test_second_daemon_refuses)
{
        char out[4096];
        size_t n = 0;
        ssize_t k;
        int fds[2], status;
        pid_t second;

        daemon_start(NULL);
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        track_fd(fds[0]);
        track_fd(fds[1]);
        second = spawn(NULL, NULL, fds[1]);
        track_pid(second);
        untrack_fd(fds[1]);

        status = reap_within(second, TIMEOUT);
        untrack_pid(second);
        ck_assert(WIFEXITED(status));
        ck_assert_int_ne(WEXITSTATUS(status), 0);
        while (n < sizeof(out) - 1 && (k = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
                n += (size_t)k;
        out[n] = '\0';
        ck_assert_msg(strstr(out, "refusing"), "stderr of the second reactord: '%s'", out);

        /* The first one is unharmed. */
        still_serving(session_new("first"));
}
END_TEST

START_TEST(test_stale_socket)
{
        conn *c;

        daemon_start(NULL);
        kill(fx.daemon, SIGKILL);
        reap(fx.daemon, NULL);
        fx.daemon = -1;

        /* A dead reactord's socket file does not keep a new one out. */
        daemon_start(NULL);
        c = session_new("after");
        ping_ok(c);
        ck_assert_uint_eq(field_uint(info(c), "pid"), (uint64_t)fx.daemon);
}
END_TEST

START_TEST(test_endpoint_directory)
{
        struct stat st;
        char run[PATH_MAX + 8];

        /* The socket's directory does not exist yet: reactord makes it, private. */
        ck_assert_int_lt(snprintf(run, sizeof(run), "%s/run", fx.dir), (int)sizeof(run));
        ck_assert_int_lt(snprintf(fx.bus, sizeof(fx.bus), "%s/bus", run), (int)sizeof(fx.bus));
        snprintf(fx.endpoint, sizeof(fx.endpoint), "ipc://%s", fx.bus);
        daemon_start(NULL);
        ck_assert_int_eq(stat(run, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        ping_ok(session_new("in-a-new-directory"));
}
END_TEST

START_TEST(test_sigterm)
{
        const rd_msg *m;
        struct stat st;
        int status;
        conn *c;

        daemon_start(NULL);
        c = session_new("shutdown");
        ck_assert_int_eq(stat(fx.bus, &st), 0);

        kill(fx.daemon, SIGTERM);
        m = wait_event(c, "session.closed", TIMEOUT);
        ck_assert_msg(m, "no session.closed on SIGTERM");
        ck_assert_str_eq(field_str(m->params, "reason"), "shutdown");

        status = reap_within(fx.daemon, TIMEOUT);
        fx.daemon = -1;
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert_int_eq(stat(fx.bus, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* The next datagram on `fd` that contains `what`, or fails the test. */
static void wait_notify(int fd, const char *what, const char *also)
{
        double deadline = now() + TIMEOUT;
        char buf[4096];

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                double left = deadline - now();
                ssize_t n;

                ck_assert_msg(left > 0, "no %s from reactord", what);
                if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
                        continue;
                n = recv(fd, buf, sizeof(buf) - 1, 0);
                ck_assert_int_ge(n, 0);
                buf[n] = '\0';
                if (!strstr(buf, what))
                        continue;
                if (also)
                        ck_assert_msg(strstr(buf, also), "'%s' without %s", buf, also);
                return;
        }
}

START_TEST(test_notify_socket)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, status;

        ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", fx.dir),
                         (int)sizeof(sa.sun_path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        track_fd(fd);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

        fx.daemon = spawn(NULL, sa.sun_path, -1);
        wait_ready(fx.daemon);
        wait_notify(fd, "READY=1", "STATUS=");

        kill(fx.daemon, SIGTERM);
        wait_notify(fd, "STOPPING=1", NULL);
        status = reap_within(fx.daemon, TIMEOUT);
        fx.daemon = -1;
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* ---- 11. idle ----------------------------------------------------------------------------- */

START_TEST(test_idle)
{
        long long before, after;

        daemon_start(NULL); /* its probe connection is closed again */
        sleep_for(0.5);     /* let the daemon see the probe go */

        /* No clients, no timers: nothing to wake up for. */
        before = context_switches(fx.daemon);
        sleep_for(2);
        after = context_switches(fx.daemon);
        ck_assert_msg(after == before, "an idle reactord woke up %lld times in 2 s",
                      after - before);
}
END_TEST

static Suite *reactord_suite(void)
{
        Suite *s = suite_create("reactord");
        TCase *tc = tcase_create("wire");

        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_basics);
        tcase_add_test(tc, test_batching);
        tcase_add_test(tc, test_notification_without_session);
        tcase_add_test(tc, test_timer_oneshot);
        tcase_add_test(tc, test_timer_periodic);
        tcase_add_test(tc, test_timer_reset);
        tcase_add_test(tc, test_timer_stop);
        tcase_add_test(tc, test_timer_bad_params);
        tcase_add_test(tc, test_ownership);
        tcase_add_test(tc, test_credit);
        tcase_add_test(tc, test_lease);
        tcase_add_test(tc, test_lease_expiry);
        tcase_add_test(tc, test_bad_not_msgpack);
        tcase_add_test(tc, test_bad_not_rpc);
        tcase_add_test(tc, test_bad_response_from_client);
        tcase_add_test(tc, test_bad_params);
        tcase_add_test(tc, test_unknown_method);
        tcase_add_test(tc, test_oversized_frame);
        tcase_add_test(tc, test_reply_amplification);
        tcase_add_test(tc, test_multipart);
        tcase_add_test(tc, test_huge_container);
        tcase_add_test(tc, test_max_sessions);
        tcase_add_test(tc, test_max_handles);
        tcase_add_test(tc, test_flood);
        tcase_add_test(tc, test_churn);
        tcase_add_test(tc, test_flood_big);
        tcase_add_test(tc, test_second_daemon_refuses);
        tcase_add_test(tc, test_stale_socket);
        tcase_add_test(tc, test_endpoint_directory);
        tcase_add_test(tc, test_sigterm);
        tcase_add_test(tc, test_notify_socket);
        tcase_add_test(tc, test_idle);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(reactord_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
