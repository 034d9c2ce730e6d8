/* SPDX-License-Identifier: MIT */
/*
 * reactord under faults: clients SIGKILLed at every stage of a session
 * (mid-hello, with calls in flight, while streaming, while supervising
 * children), reactord stopped with SIGTERM or killed with SIGKILL while it
 * serves clients with children, and clients that come, work and
 * vanish. Each test starts a real reactord on a temporary ipc:// endpoint.
 *
 * Clients that are to be killed run in processes of their own: this test
 * program run again (/proc/self/exe) with $RD_FAULTS_VICTIM saying what to
 * do, so that the test, which has ZeroMQ contexts and threads, forks only
 * to exec. A victim says on its stdout when it has reached the point where
 * it is to die.
 * Victims say hello with a lease of VICTIM_LEASE: their sessions end that
 * long after they are killed, and what they owned follows its orphan policy.
 *
 * "Back to the baseline" means: reactord holds the same file descriptors
 * (tests/procfd.h; the clients' own ZeroMQ connections are left out), and its
 * resident set is at most RSS_SLACK_KIB above what it was after a warm-up
 * round of the same work, since malloc keeps the arenas it has grown and
 * reactord's tables keep their size. The baseline is taken after the warm-up.
 *
 * Waits are generous upper bounds; only behaviour is asserted, never timing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "procfd.h"
#include "proto/decoder.h"
#include "proto/value.h"
#include "proto/writer.h"
#include "reactord/client.h"

#define WAIT_SEC  20.0 /* upper bound for anything expected to happen */
#define START_SEC 30.0 /* upper bound for a started reactord to answer */
/*
 * The lease of every client that is to be killed, seconds: its session ends
 * that long after its death. Short, but long enough that a loaded machine
 * does not end a session between two calls of a client still at work.
 */
#define VICTIM_LEASE  2.0
#define WARMUP_ROUNDS 5  /* rounds of a fault before the baseline is taken */
#define ROUNDS        20 /* rounds of a fault after it */

/* The churn: clients at least, for how long at least, and how many at once in threads. */
#define CHURN_CLIENTS 1000
#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer pass looks for memory errors; the plain pass churns the full minute. */
#define CHURN_SECONDS 15.0
#else
#define CHURN_SECONDS 60.0
#endif
#define CHURN_THREADS 4

extern char **environ;

/*
 * How much reactord's resident set may grow over a test's rounds once the
 * warm-up is done: 4 MiB. It levels off within a few hundred KiB of the
 * baseline (malloc's arenas and ZeroMQ's message memory settle unevenly, by
 * up to a MiB or so); a leak of a few KiB per client of the thousand shows.
 * Under ASan its quarantine lives in the same RSS: there the bound only
 * catches gross leaks.
 */
static long rss_slack_kib(void)
{
#if defined(__SANITIZE_ADDRESS__)
        return 256L * 1024;
#else
        return 4096;
#endif
}
#define RSS_SLACK_KIB rss_slack_kib()

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

/* ---- the wire, for clients that must misbehave ------------------------------------------- */

/* A DEALER speaking msgpack-rpc by hand: it can stop anywhere. Used by victims and threads. */
typedef struct wire {
        void *sock;          /* DEALER */
        rd_decoder *decoder; /* over `frame` */
        zmq_msg_t frame;     /* the frame being decoded */
        bool in_frame;       /* `frame` may hold messages not yet taken */
        rd_writer w;         /* the frame being written */
        uint64_t msgid;      /* of the last request written */
        rd_msg msg;          /* the last message received; valid until the next frame */
        char error[256];     /* what went wrong, "" when nothing */
} wire;

static bool wire_open(wire *c, void *zctx, const char *endpoint)
{
        const int zero = 0;

        *c = (wire){ .w = RD_WRITER_INIT };
        zmq_msg_init(&c->frame);
        if (rd_decoder_new(&c->decoder) < 0) {
                snprintf(c->error, sizeof(c->error), "out of memory");
                return false;
        }
        c->sock = zmq_socket(zctx, ZMQ_DEALER);
        if (!c->sock || zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
            zmq_connect(c->sock, endpoint) < 0) {
                snprintf(c->error, sizeof(c->error), "socket: %s", zmq_strerror(zmq_errno()));
                return false;
        }
        return true;
}

/* Close the socket (unsent frames are dropped: LINGER 0) and free. */
static void wire_close(wire *c)
{
        if (c->sock)
                zmq_close(c->sock);
        c->sock = NULL;
        zmq_msg_close(&c->frame);
        rd_decoder_free(c->decoder);
        c->decoder = NULL;
        rd_writer_done(&c->w);
}

static uint64_t wire_request(wire *c, const char *method, uint32_t n_fields)
{
        rd_write_request(&c->w, ++c->msgid, method, n_fields);
        return c->msgid;
}

static bool wire_send(wire *c)
{
        if (rd_writer_failed(&c->w) || zmq_send(c->sock, c->w.data, c->w.size, 0) < 0) {
                snprintf(c->error, sizeof(c->error), "send: %s", zmq_strerror(zmq_errno()));
                return false;
        }
        rd_writer_reset(&c->w);
        return true;
}

/* The next message reactord sent, within `timeout` seconds; false when none came. */
static bool wire_next(wire *c, double timeout)
{
        double deadline = now() + timeout;
        int k;

        for (;;) {
                if (c->in_frame) {
                        k = rd_decoder_next(c->decoder, &c->msg);
                        if (k == 1)
                                return true;
                        c->in_frame = false;
                }
                double left = deadline - now();
                zmq_pollitem_t item = { .socket = c->sock, .events = ZMQ_POLLIN };
                k = zmq_poll(&item, 1, left > 0 ? (long)(left * 1000) + 1 : 0);
                if (k < 0 && zmq_errno() == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                if (zmq_msg_recv(&c->frame, c->sock, ZMQ_DONTWAIT) < 0 ||
                    rd_decoder_begin(c->decoder, zmq_msg_data(&c->frame), zmq_msg_size(&c->frame)) <
                            0)
                        return false;
                c->in_frame = true;
        }
}

/*
 * Send the frame written so far and take the responses to its requests up to
 * the last, skipping events. Returns true when the last one succeeded; its
 * result is then in c->msg.result.
 */
static bool wire_call(wire *c)
{
        uint64_t last = c->msgid;
        double deadline = now() + WAIT_SEC;

        if (!wire_send(c))
                return false;
        for (;;) {
                const char *code = "";
                size_t n = 0;

                if (!wire_next(c, deadline - now())) {
                        snprintf(c->error, sizeof(c->error), "no response to request %" PRIu64,
                                 last);
                        return false;
                }
                if (c->msg.type != RD_MSG_RESPONSE || c->msg.msgid != last)
                        continue;
                if (rd_value_type_of(c->msg.error) == RD_VALUE_NIL)
                        return true;
                (void)rd_value_str(rd_value_get(c->msg.error, "code"), &code, &n);
                snprintf(c->error, sizeof(c->error), "request %" PRIu64 " failed: %.*s", last,
                         (int)n, code);
                return false;
        }
}

static bool wire_hello(wire *c, double lease, bool wait)
{
        wire_request(c, "session.hello", 3);
        rd_write_kv_uint(&c->w, "protocol", 1);
        rd_write_kv_str(&c->w, "name", "faults");
        rd_write_kv_double(&c->w, "lease", lease);
        return wait ? wire_call(c) : wire_send(c);
}

/*
 * The everyday work of one client: a one-shot and a periodic timer, a TCP
 * listener and a connection to it (so reactord holds a listener and two
 * streams), a ping. Returns false with c->error set on failure.
 */
static bool wire_work(wire *c)
{
        uint64_t port = 0;

        wire_request(c, "timer.start", 1);
        rd_write_kv_double(&c->w, "after", 0.01);
        wire_request(c, "timer.start", 2);
        rd_write_kv_double(&c->w, "after", 0.01);
        rd_write_kv_double(&c->w, "every", 0.01);
        wire_request(c, "tcp.listen", 2);
        rd_write_kv_str(&c->w, "host", "127.0.0.1");
        rd_write_kv_uint(&c->w, "port", 0);
        if (!wire_call(c) || rd_value_uint(rd_value_get(c->msg.result, "port"), &port) < 0)
                return false;
        wire_request(c, "tcp.connect", 2);
        rd_write_kv_str(&c->w, "host", "127.0.0.1");
        rd_write_kv_uint(&c->w, "port", port);
        wire_request(c, "reactor.ping", 0);
        return wire_call(c);
}

/* ---- victims: this program run again, to be killed ----------------------------------------- */

static void victim_say(const char *fmt, ...) _printf_(1, 2);
static void victim_say(const char *fmt, ...)
{
        char line[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n > sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        (void)!write(STDOUT_FILENO, line, (size_t)n);
}

_Noreturn static void victim_wait_for_death(void)
{
        for (;;)
                pause();
}

/* Streams data both ways with a peer of the test on port `arg` until killed. */
_Noreturn static void victim_stream(wire *c, const char *arg)
{
        static uint8_t chunk[16384];
        uint64_t handle = 0, got = 0, writes = 0;
        bool connected = false, told = false;

        wire_request(c, "tcp.connect", 2);
        rd_write_kv_str(&c->w, "host", "127.0.0.1");
        rd_write_kv_uint(&c->w, "port", strtoull(arg, NULL, 10));
        if (!wire_call(c) || rd_value_uint(rd_value_get(c->msg.result, "handle"), &handle) < 0) {
                victim_say("E tcp.connect: %s", c->error);
                _exit(1);
        }
        memset(chunk, 'v', sizeof(chunk));
        for (;;) {
                uint64_t acked = 0;

                if (connected) {
                        wire_request(c, "stream.write", 2);
                        rd_write_kv_uint(&c->w, "handle", handle);
                        rd_write_str(&c->w, "data");
                        rd_write_bin(&c->w, chunk, sizeof(chunk));
                        if (!wire_send(c))
                                _exit(1);
                        writes++;
                }
                while (wire_next(c, 0.01)) {
                        const void *p;
                        size_t n;

                        if (c->msg.type != RD_MSG_NOTIFICATION)
                                continue;
                        acked += c->msg.size;
                        if (rd_msg_name_is(&c->msg, "stream.connected", 16))
                                connected = true;
                        if (rd_msg_name_is(&c->msg, "stream.data", 11) &&
                            rd_value_bin(rd_value_get(c->msg.params, "data"), &p, &n) == 0)
                                got += n;
                }
                if (acked) {
                        rd_write_notification(&c->w, "session.ack", 1);
                        rd_write_kv_uint(&c->w, "bytes", acked);
                        (void)wire_send(c);
                }
                if (!told && got >= 64 * 1024 && writes >= 8) {
                        victim_say("streaming");
                        told = true;
                }
        }
}

/* Supervised children, one kept: prints "pids STOP0 STOP1 KEEP". */
_Noreturn static void victim_supervised(const char *endpoint, const char *name)
{
        rd_client_options opts = { .name = "faults", .lease = VICTIM_LEASE, .timeout = WAIT_SEC };
        char params[256], *stop = NULL, *keep = NULL, *p, *q;
        rd_client *c = NULL;
        int r;

        if ((r = rd_client_new(endpoint, &opts, &c)) < 0) {
                victim_say("E hello: %s", strerror(-r));
                _exit(1);
        }
        snprintf(params, sizeof(params),
                 "{\"argv\": [\"sleep\", \"100\"], \"restart\": \"always\", \"orphan\": \"keep\", "
                 "\"name\": \"%s\"}",
                 name);
        if ((r = rd_client_call_json(c, "process.spawn",
                                     "{\"argv\": [\"sleep\", \"100\"], \"restart\": \"always\", "
                                     "\"instances\": 2}",
                                     &stop)) < 0 ||
            (r = rd_client_call_json(c, "process.spawn", params, &keep)) < 0) {
                victim_say("E process.spawn: %s (%s)", strerror(-r), rd_client_last_error(c));
                _exit(1);
        }
        /* {"handle":N,"pids":[A,B]} */
        p = strstr(stop, "\"pids\":[");
        q = strstr(keep, "\"pids\":[");
        if (!p || !q) {
                victim_say("E unexpected results %s %s", stop, keep);
                _exit(1);
        }
        p += strlen("\"pids\":[");
        q += strlen("\"pids\":[");
        victim_say("pids %ld %ld %ld", strtol(p, NULL, 10), strtol(strchr(p, ',') + 1, NULL, 10),
                   strtol(q, NULL, 10));
        victim_wait_for_death();
}

/* $RD_FAULTS_VICTIM: what to do before being killed. Never returns. */
_Noreturn static void victim_main(const char *mode)
{
        const char *endpoint = getenv("RD_FAULTS_ENDPOINT"), *arg = getenv("RD_FAULTS_ARG");
        void *zctx;
        wire c;

        if (!endpoint)
                _exit(2);
        if (strcmp(mode, "supervised") == 0)
                victim_supervised(endpoint, arg ? arg : "kept");
        zctx = zmq_ctx_new();
        if (!zctx || !wire_open(&c, zctx, endpoint)) {
                victim_say("E cannot connect");
                _exit(1);
        }
        /* Killed after sending its hello, before reading the answer. */
        if (strcmp(mode, "hello-sent") == 0) {
                if (!wire_hello(&c, VICTIM_LEASE, false))
                        _exit(1);
                victim_say("sent");
                victim_wait_for_death();
        }
        if (!wire_hello(&c, VICTIM_LEASE, true)) {
                victim_say("E hello: %s", c.error);
                _exit(1);
        }
        if (strcmp(mode, "hello-acked") == 0) {
                victim_say("acked");
                victim_wait_for_death();
        }
        if (strcmp(mode, "pending") == 0) {
                /* Two thousand requests, answered into a socket no one reads. */
                for (int f = 0; f < 20; f++) {
                        for (int i = 0; i < 100; i++) {
                                if (i % 3 == 0) {
                                        wire_request(&c, "timer.start", 1);
                                        rd_write_kv_double(&c.w, "after", 3600);
                                } else
                                        wire_request(&c,
                                                     i == 1       ? "reactor.methods"
                                                     : i % 3 == 1 ? "reactor.info"
                                                                  : "reactor.ping",
                                                     0);
                        }
                        if (!wire_send(&c))
                                _exit(1);
                }
                victim_say("pending");
                victim_wait_for_death();
        }
        if (strcmp(mode, "streaming") == 0)
                victim_stream(&c, arg ? arg : "0");
        if (strcmp(mode, "churn") == 0) {
                if (!wire_work(&c)) {
                        victim_say("E work: %s", c.error);
                        _exit(1);
                }
                victim_say("worked");
                victim_wait_for_death();
        }
        victim_say("E unknown mode %s", mode);
        _exit(2);
}

/* ---- the test's world --------------------------------------------------------------------- */

#define MAX_VICTIMS 64

static struct {
        char dir[PATH_MAX - 64];      /* the temporary directory */
        char bus[PATH_MAX];           /* DIR/bus */
        char endpoint[PATH_MAX + 16]; /* ipc://DIR/bus */
        pid_t daemon;                 /* reactord, or -1 */
        pid_t victims[MAX_VICTIMS];   /* killed in the teardown; 0 when free */
        pid_t strays[16];   /* reactord's children, adopted by us: killed in the teardown */
        rd_client *checker; /* the test's own session */
} fx;

static int remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* Start reactord on the endpoint (its own child: its children are reparented to us). */
static void daemon_start(void)
{
        const char *exe = getenv("REACTORD");
        rd_client_options opts = { .timeout = 0.5 };
        rd_client *c = NULL;
        int r = -EIO;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        fx.daemon = fork();
        ck_assert_int_ge(fx.daemon, 0);
        if (fx.daemon == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                execl(exe, exe, "--endpoint", fx.endpoint, (char *)NULL);
                _exit(127);
        }
        for (double deadline = now() + START_SEC; now() < deadline;) {
                ck_assert_msg(waitpid(fx.daemon, NULL, WNOHANG) == 0, "reactord exited");
                r = rd_client_new(fx.endpoint, &opts, &c);
                if (r >= 0)
                        break;
                sleep_for(0.02);
        }
        ck_assert_msg(r >= 0, "reactord does not answer: %s", strerror(-r));
        rd_client_free(c);
}

/* A session of the test's own, with a lease long enough to stay idle through any test. */
static rd_client *checker_new(void)
{
        rd_client_options opts = { .name = "checker", .lease = 3600, .timeout = WAIT_SEC };
        rd_client *c = NULL;

        ck_assert_int_eq(rd_client_new(fx.endpoint, &opts, &c), 0);
        return c;
}

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");

        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        signal(SIGPIPE, SIG_IGN);
        snprintf(fx.dir, sizeof(fx.dir), "%s/test-faults-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        snprintf(fx.bus, sizeof(fx.bus), "%s/bus", fx.dir);
        snprintf(fx.endpoint, sizeof(fx.endpoint), "ipc://%s", fx.bus);
        /* reactord's children come to us when it dies, to be reaped and examined. */
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        daemon_start();
        fx.checker = checker_new();
}

static void teardown(void)
{
        rd_client_free(fx.checker);
        fx.checker = NULL;
        for (size_t i = 0; i < MAX_VICTIMS; i++)
                if (fx.victims[i] > 0) {
                        kill(fx.victims[i], SIGKILL);
                        (void)waitpid(fx.victims[i], NULL, 0);
                }
        if (fx.daemon > 0) {
                kill(fx.daemon, SIGTERM);
                (void)waitpid(fx.daemon, NULL, 0);
        }
        for (size_t i = 0; i < sizeof(fx.strays) / sizeof(fx.strays[0]); i++)
                if (fx.strays[i] > 0)
                        kill(fx.strays[i], SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        (void)nftw(fx.dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- victims, from the test's side -------------------------------------------------------- */

/* A victim running `mode`; its stdout is *out. */
static pid_t victim_start(const char *mode, const char *arg, int *out)
{
        char env_mode[64], env_ep[sizeof(fx.endpoint) + 32], env_arg[128];
        char name[] = "test-faults-victim", *argv[] = { name, NULL };
        char **envp;
        size_t n = 0, i;
        int p[2];
        pid_t pid;

        /* Everything the child needs is ready before fork(): it only execs. */
        while (environ[n])
                n++;
        envp = calloc(n + 4, sizeof(char *));
        ck_assert_ptr_nonnull(envp);
        memcpy(envp, environ, n * sizeof(char *));
        snprintf(env_mode, sizeof(env_mode), "RD_FAULTS_VICTIM=%s", mode);
        snprintf(env_ep, sizeof(env_ep), "RD_FAULTS_ENDPOINT=%s", fx.endpoint);
        snprintf(env_arg, sizeof(env_arg), "RD_FAULTS_ARG=%s", arg ? arg : "");
        envp[n++] = env_mode;
        envp[n++] = env_ep;
        envp[n++] = env_arg;
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        for (i = 0; i < MAX_VICTIMS && fx.victims[i] > 0; i++)
                ;
        ck_assert_uint_lt(i, MAX_VICTIMS);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execve("/proc/self/exe", argv, envp);
                _exit(127);
        }
        fx.victims[i] = pid;
        free(envp);
        close(p[1]);
        *out = p[0];
        return pid;
}

/* The victim's report line (without the newline); fails the test on an error or silence. */
static void victim_wait(int fd, char *line, size_t size)
{
        size_t n = 0;

        for (double deadline = now() + WAIT_SEC; n == 0 || line[n - 1] != '\n';) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                ck_assert_msg(now() < deadline, "the victim said nothing");
                if (poll(&p, 1, 100) <= 0)
                        continue;
                k = read(fd, line + n, size - 1 - n);
                ck_assert_msg(k > 0, "the victim died early: '%.*s'", (int)n, line);
                n += (size_t)k;
                ck_assert_uint_lt(n, size - 1);
        }
        line[n - 1] = '\0';
        ck_assert_msg(line[0] != 'E', "the victim failed: %s", line);
}

static void victim_kill(pid_t pid)
{
        for (size_t i = 0; i < MAX_VICTIMS; i++)
                if (fx.victims[i] == pid)
                        fx.victims[i] = 0;
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* Run a victim in `mode` to its report, and kill it there. */
static void victim_run(const char *mode, const char *arg, char *line, size_t size)
{
        char scratch[256];
        int fd;
        pid_t pid = victim_start(mode, arg, &fd);

        victim_wait(fd, line ? line : scratch, line ? size : sizeof(scratch));
        victim_kill(pid);
        close(fd);
}

/* ---- reactord, from outside --------------------------------------------------------------- */

static long rss_kib(pid_t pid)
{
        return procfd_rss_kib(pid);
}

/* reactor.info of the checker: sessions and the resources of every kind, summed. */
static void info(uint64_t *sessions, uint64_t *resources)
{
        rd_reply *reply = NULL;
        const rd_value *res;

        ck_assert_int_eq(rd_client_call(fx.checker, "reactor.info", NULL, 0, &reply), 0);
        *sessions = rd_value_get_uint(rd_reply_result(reply), "sessions", 0);
        res = rd_value_get(rd_reply_result(reply), "resources");
        *resources = 0;
        for (size_t i = 0; i < rd_value_len(res); i++) {
                uint64_t u = 0;
                (void)rd_value_uint(rd_value_val_at(res, i), &u);
                *resources += u;
        }
        rd_reply_free(reply);
}

/* Wait until the checker's is the only session and nothing is left of the others. */
static void wait_settled(void)
{
        uint64_t sessions = 0, resources = 0;

        for (double deadline = now() + WAIT_SEC + 10 * VICTIM_LEASE;;) {
                info(&sessions, &resources);
                if (sessions == 1 && resources == 0)
                        return;
                ck_assert_msg(now() < deadline,
                              "%" PRIu64 " sessions and %" PRIu64 " resources are left", sessions,
                              resources);
                sleep_for(0.05);
        }
}

typedef struct baseline {
        procfd_set fds; /* reactord's descriptors */
        long rss_kib;   /* its VmRSS */
} baseline;

static void baseline_take(baseline *b)
{
        wait_settled();
        procfd_baseline(fx.daemon, fx.bus, &b->fds);
        b->rss_kib = rss_kib(fx.daemon);
}

/* Once everything has settled: the same descriptors, and the RSS within the slack. */
static void baseline_expect(baseline *b, const char *what)
{
        long rss;

        wait_settled();
        procfd_expect(fx.daemon, fx.bus, &b->fds, WAIT_SEC, what);
        rss = rss_kib(fx.daemon);
        fprintf(stderr, "test-faults: %s: %zu fds as before; VmRSS %ld -> %ld KiB\n", what,
                b->fds.n, b->rss_kib, rss);
        ck_assert_msg(rss <= b->rss_kib + RSS_SLACK_KIB,
                      "%s: reactord's RSS grew from %ld to %ld KiB (slack %ld KiB)", what,
                      b->rss_kib, rss, RSS_SLACK_KIB);
        procfd_done(&b->fds);
        /* And it serves. */
        ck_assert_int_eq(rd_client_call(fx.checker, "reactor.ping", NULL, 0, NULL), 0);
}

/* Warm up with `warmup` rounds of `round`, take the baseline, run `n` more, compare. */
static void rounds(void (*round)(unsigned i), unsigned warmup, unsigned n, const char *what)
{
        baseline b;

        for (unsigned i = 0; i < warmup; i++)
                round(i);
        baseline_take(&b);
        for (unsigned i = 0; i < n; i++)
                round(warmup + i);
        baseline_expect(&b, what);
}

/* ---- clients killed at every stage -------------------------------------------------------- */

static void round_mid_hello(unsigned i)
{
        /* Before the answer to its hello could be read, and right after it was. */
        victim_run("hello-sent", NULL, NULL, 0);
        victim_run("hello-acked", NULL, NULL, 0);
}

START_TEST(test_killed_mid_hello)
{
        rounds(round_mid_hello, WARMUP_ROUNDS, ROUNDS, "clients killed mid-hello");
}
END_TEST

static void round_pending(unsigned i)
{
        victim_run("pending", NULL, NULL, 0);
}

START_TEST(test_killed_with_pending_calls)
{
        /*
         * Their answers wait in ZeroMQ's queue for the dead peer until it is
         * found gone; malloc keeps some of that memory for the next time, so
         * the warm-up is longer here.
         */
        rounds(round_pending, 2 * WARMUP_ROUNDS, ROUNDS,
               "clients killed with 2,000 calls in flight");
}
END_TEST

/* The test's side of the streaming victims: writes and reads whatever comes, one peer at a time. */
typedef struct stream_peer {
        int listener; /* accepts the victims' connections */
        int port;     /* its port */
        bool stop;    /* set (atomically) to end the thread */
        int ended;    /* connections that reactord ended (atomic) */
        int error;    /* an errno other than a reset, or 0 */
        pthread_t thread;
} stream_peer;

static void *stream_peer_run(void *userdata)
{
        stream_peer *sp = userdata;
        static uint8_t out[16384], in[65536];

        memset(out, 'p', sizeof(out));
        while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
                struct pollfd lp = { .fd = sp->listener, .events = POLLIN };
                int fd;

                if (poll(&lp, 1, 100) <= 0)
                        continue;
                fd = accept4(sp->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        continue;
                /* Both ways until reactord ends the stream (the victim's session is over). */
                for (;;) {
                        struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
                        ssize_t n;

                        if (poll(&p, 1, 100) < 0 || __atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE))
                                break;
                        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                                n = recv(fd, in, sizeof(in), 0);
                                if (n == 0 || (n < 0 && errno == ECONNRESET)) {
                                        __atomic_fetch_add(&sp->ended, 1, __ATOMIC_RELEASE);
                                        break;
                                }
                                if (n < 0 && errno != EAGAIN) {
                                        sp->error = errno;
                                        break;
                                }
                        }
                        if ((p.revents & POLLOUT) && send(fd, out, sizeof(out), MSG_NOSIGNAL) < 0 &&
                            errno != EAGAIN && errno != EPIPE && errno != ECONNRESET) {
                                sp->error = errno;
                                break;
                        }
                }
                close(fd);
        }
        return NULL;
}

static stream_peer peer;

static void round_streaming(unsigned i)
{
        char port[16];
        int ended = __atomic_load_n(&peer.ended, __ATOMIC_ACQUIRE);

        snprintf(port, sizeof(port), "%d", peer.port);
        victim_run("streaming", port, NULL, 0);
        /* The session ends after its lease, and its stream with it: the peer sees the end. */
        for (double deadline = now() + WAIT_SEC;
             __atomic_load_n(&peer.ended, __ATOMIC_ACQUIRE) == ended;) {
                ck_assert_msg(now() < deadline, "the stream of a killed client stays open");
                ck_assert_msg(peer.error == 0, "the peer: %s", strerror(peer.error));
                sleep_for(0.02);
        }
}

START_TEST(test_killed_while_streaming)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);

        peer = (stream_peer){ .listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        ck_assert_int_ge(peer.listener, 0);
        ck_assert_int_eq(bind(peer.listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(peer.listener, 4), 0);
        ck_assert_int_eq(getsockname(peer.listener, (struct sockaddr *)&sa, &len), 0);
        peer.port = ntohs(sa.sin_port);
        ck_assert_int_eq(pthread_create(&peer.thread, NULL, stream_peer_run, &peer), 0);

        /* Each round waits out a lease: fewer of them. */
        rounds(round_streaming, WARMUP_ROUNDS, ROUNDS / 2,
               "clients killed while streaming both ways");

        __atomic_store_n(&peer.stop, true, __ATOMIC_RELEASE);
        ck_assert_int_eq(pthread_join(peer.thread, NULL), 0);
        close(peer.listener);
        ck_assert_msg(peer.error == 0, "the peer: %s", strerror(peer.error));
}
END_TEST

/* Is `pid` running (not gone, not a zombie)? */
static bool alive(pid_t pid)
{
        char path[64], buf[512], *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void wait_gone(pid_t pid, const char *what)
{
        for (double deadline = now() + WAIT_SEC; alive(pid);) {
                ck_assert_msg(now() < deadline, "%s (pid %d) is still running", what, (int)pid);
                sleep_for(0.02);
        }
}

static void round_supervised(unsigned i)
{
        char name[32], line[256];
        long stop0, stop1, keep;
        rd_reply *reply = NULL;
        uint64_t h = 0;
        int r;

        snprintf(name, sizeof(name), "kept-%u", i);
        victim_run("supervised", name, line, sizeof(line));
        ck_assert_int_eq(sscanf(line, "pids %ld %ld %ld", &stop0, &stop1, &keep), 3);

        /* orphan "stop": stopped once the session is over, and not restarted. */
        wait_gone((pid_t)stop0, "a supervised child of a killed client");
        wait_gone((pid_t)stop1, "a supervised child of a killed client");
        /* orphan "keep": running still, and any session may take it over. */
        for (double deadline = now() + WAIT_SEC;;) {
                r = rd_client_callv(fx.checker, "process.take", &reply, RD_STR("name", name));
                if (r != -EBUSY) /* its owner's session is not over yet */
                        break;
                ck_assert_msg(now() < deadline, "the kept child keeps its dead owner");
                sleep_for(0.02);
        }
        ck_assert_msg(r == 0, "process.take: %s", strerror(-r));
        ck_assert_int_eq(rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &h), 0);
        rd_reply_free(reply);
        ck_assert_msg(alive((pid_t)keep), "the kept child died with its owner");
        ck_assert_int_eq(rd_client_callv(fx.checker, "process.stop", NULL, RD_UINT("handle", h)),
                         0);
        wait_gone((pid_t)keep, "the kept child, taken over and stopped");
}

START_TEST(test_killed_with_supervised_children)
{
        /* Each round waits out a lease: fewer of them. */
        rounds(round_supervised, WARMUP_ROUNDS, ROUNDS / 2,
               "clients killed with supervised children");
}
END_TEST

/* ---- reactord stopped and killed ---------------------------------------------------------- */

/* Events of interest to the SIGTERM test. */
typedef struct shutdown_log {
        bool ready;      /* the child said it trapped TERM */
        char closed[64]; /* session.closed: reason, or "" */
} shutdown_log;

static int on_shutdown_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        shutdown_log *log = userdata;
        const void *p;
        const char *s;
        size_t n;

        if (strcmp(ev->name, "process.output") == 0 &&
            rd_value_bin(rd_value_get(ev->payload, "data"), &p, &n) == 0 &&
            memmem(p, n, "ready", 5))
                log->ready = true;
        if (strcmp(ev->name, "session.closed") == 0 &&
            rd_value_str(rd_value_get(ev->payload, "reason"), &s, &n) == 0)
                snprintf(log->closed, sizeof(log->closed), "%.*s", (int)n, s);
        return 0;
}

/* Dispatch `c` for at most 50 ms; false once its session is lost. */
static bool pump(rd_client *c)
{
        struct pollfd p = { .fd = rd_client_fd(c), .events = POLLIN };

        if (rd_client_process(c) < 0)
                return false;
        (void)poll(&p, 1, 50);
        return rd_client_process(c) >= 0;
}

START_TEST(test_sigterm_with_children)
{
        shutdown_log logs[2] = { 0 };
        rd_client *c[2];
        char params[PATH_MAX + 256], marker[PATH_MAX + 16], got[64] = "";
        int status;
        FILE *f;

        snprintf(marker, sizeof(marker), "%s/marker", fx.dir);
        /* A child that answers TERM as a well-behaved server does: it saves, then exits. */
        snprintf(params, sizeof(params),
                 "{\"argv\": [\"sh\", \"-c\", \"trap 'echo stopped > %s; exit 0' TERM; echo "
                 "ready; while :; do sleep 0.1; done\"]}",
                 marker);
        for (int i = 0; i < 2; i++) {
                char *json = NULL;

                c[i] = checker_new();
                ck_assert_int_eq(rd_client_on_any(c[i], on_shutdown_event, &logs[i]), 0);
                ck_assert_int_eq(rd_client_call_json(c[i], "process.spawn", params, &json), 0);
                free(json);
                for (double deadline = now() + WAIT_SEC; !logs[i].ready;) {
                        ck_assert_msg(now() < deadline, "the child did not start");
                        ck_assert(pump(c[i]));
                }
        }

        ck_assert_int_eq(kill(fx.daemon, SIGTERM), 0);
        /* Every client is told, as PROTOCOL.md §3 says: session.closed {reason: "shutdown"}. */
        for (int i = 0; i < 2; i++) {
                for (double deadline = now() + WAIT_SEC; !logs[i].closed[0];) {
                        ck_assert_msg(now() < deadline, "client %d was not told", i);
                        if (!pump(c[i]))
                                break;
                }
                ck_assert_str_eq(logs[i].closed, "shutdown");
        }
        /* The children got TERM first and had their say; reactord exits cleanly. */
        for (double deadline = now() + WAIT_SEC; waitpid(fx.daemon, &status, WNOHANG) == 0;) {
                ck_assert_msg(now() < deadline, "reactord did not exit");
                sleep_for(0.02);
        }
        fx.daemon = -1;
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        f = fopen(marker, "re");
        ck_assert_msg(f, "no marker: the child did not get SIGTERM");
        ck_assert_ptr_nonnull(fgets(got, sizeof(got), f));
        fclose(f);
        ck_assert_str_eq(got, "stopped\n");
        for (int i = 0; i < 2; i++)
                rd_client_free(c[i]);
}
END_TEST

/* Remember a child of reactord's that we may adopt, for the teardown. */
static void track_stray(pid_t pid)
{
        for (size_t i = 0; i < sizeof(fx.strays) / sizeof(fx.strays[0]); i++)
                if (fx.strays[i] <= 0) {
                        fx.strays[i] = pid;
                        return;
                }
        ck_abort_msg("too many strays");
}

/* The pids of a process.spawn result (JSON), at most `max`; returns how many. */
static size_t spawn_pids(rd_client *c, const char *params, pid_t *pids, size_t max)
{
        char *json = NULL, *p;
        size_t n = 0;

        ck_assert_int_eq(rd_client_call_json(c, "process.spawn", params, &json), 0);
        p = strstr(json, "\"pids\":[");
        ck_assert_ptr_nonnull(p);
        p += strlen("\"pids\":[");
        while (n < max && *p && *p != ']') {
                pids[n] = (pid_t)strtol(p, &p, 10);
                track_stray(pids[n++]);
                if (*p == ',')
                        p++;
        }
        free(json);
        return n;
}

START_TEST(test_sigkill_children_follow)
{
        pid_t pids[4];
        size_t n = 0;
        rd_client *c;
        int status;

        /* Children of every orphan policy, and a supervised one. */
        n += spawn_pids(fx.checker, "{\"argv\": [\"sleep\", \"100\"]}", pids + n, 1);
        n += spawn_pids(fx.checker,
                        "{\"argv\": [\"sleep\", \"100\"], \"orphan\": \"keep\", \"name\": \"k\"}",
                        pids + n, 1);
        n += spawn_pids(fx.checker, "{\"argv\": [\"sleep\", \"100\"], \"restart\": \"always\"}",
                        pids + n, 1);
        ck_assert_uint_eq(n, 3);

        ck_assert_int_eq(kill(fx.daemon, SIGKILL), 0);
        ck_assert_int_eq(waitpid(fx.daemon, &status, 0), fx.daemon);
        fx.daemon = -1;
        ck_assert(WIFSIGNALED(status));
        /* None outlives it: each gets SIGTERM (PR_SET_PDEATHSIG) and comes to us to be reaped. */
        for (size_t i = 0; i < n; i++) {
                int st = 0;
                for (double deadline = now() + WAIT_SEC; waitpid(pids[i], &st, WNOHANG) == 0;) {
                        ck_assert_msg(now() < deadline, "child %d outlives reactord", (int)pids[i]);
                        sleep_for(0.02);
                }
                fx.strays[i] = 0;
                ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
                              "child %d ended with status 0x%x, not by SIGTERM", (int)pids[i], st);
        }

        /* A new reactord takes over the endpoint (the socket and lock file left behind). */
        rd_client_free(fx.checker);
        fx.checker = NULL;
        daemon_start();
        c = checker_new();
        fx.checker = c;
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        {
                rd_reply *reply = NULL;
                ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, &reply), 0);
                ck_assert_uint_eq(rd_value_get_uint(rd_reply_result(reply), "pid", 0),
                                  (uint64_t)fx.daemon);
                rd_reply_free(reply);
        }
        /* The kept child died too: nothing by its name is left to take. */
        ck_assert_int_eq(rd_client_callv(c, "process.take", NULL, RD_STR("name", "k")), -ENOENT);
}
END_TEST

/* ---- a thousand clients ------------------------------------------------------------------- */

/* What the churn's threads share; `next` and the counts change atomically. */
typedef struct churn {
        void *zctx;
        double until;         /* go on until this time, and until total */
        int total;            /* clients of the phase at least, all kinds */
        int next;             /* the threads' clients begun */
        int byes;             /* clients that said session.bye */
        int closes;           /* clients that closed their socket without a word */
        pthread_mutex_t lock; /* guards error */
        char error[256];      /* the first failure, "" when none */
} churn;

/* One polite or abrupt client; false with sh->error set on failure. */
static bool churn_client(churn *sh, bool polite)
{
        wire c;
        bool ok;

        ok = wire_open(&c, sh->zctx, fx.endpoint) && wire_hello(&c, VICTIM_LEASE, true) &&
             wire_work(&c);
        if (ok && polite) {
                wire_request(&c, "session.bye", 0);
                ok = wire_call(&c);
        }
        if (!ok) {
                pthread_mutex_lock(&sh->lock);
                if (!sh->error[0])
                        snprintf(sh->error, sizeof(sh->error), "%s", c.error);
                pthread_mutex_unlock(&sh->lock);
        }
        wire_close(&c);
        if (ok)
                __atomic_fetch_add(polite ? &sh->byes : &sh->closes, 1, __ATOMIC_RELAXED);
        return ok;
}

/* A churn thread: two clients in three, by turns polite and abrupt (the third are victims). */
static void *churn_run(void *userdata)
{
        churn *sh = userdata;

        for (;;) {
                int i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);

                if ((i >= sh->total - sh->total / 3 && now() >= sh->until) ||
                    !churn_client(sh, i % 2 == 0))
                        break;
        }
        return NULL;
}

/*
 * Clients for `seconds`, and `n` at least: a third of them by CHURN_THREADS
 * threads saying session.bye, a third by them closing their socket without a
 * word, a third killed in their own process by this thread. Fails the test
 * on any client's failure; the counts in *sh.
 */
static void churn_phase(churn *sh, int n, double seconds, int *victims)
{
        pthread_t threads[CHURN_THREADS];
        int started = 0;

        sh->next = sh->byes = sh->closes = 0;
        sh->total = n;
        sh->until = now() + seconds;
        *victims = 0;
        for (; started < CHURN_THREADS; started++)
                if (pthread_create(&threads[started], NULL, churn_run, sh) != 0)
                        break;
        while (*victims < n / 3 || now() < sh->until) {
                victim_run("churn", NULL, NULL, 0);
                (*victims)++;
        }
        for (int i = 0; i < started; i++)
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(started, CHURN_THREADS);
        ck_assert_msg(sh->error[0] == '\0', "a client failed: %s", sh->error);
}

/*
 * Clients come, work (timers, a TCP listener and a connection to it, a
 * ping) and vanish: a third by session.bye, a third by closing their socket,
 * a third SIGKILLed in their own process. reactord's descriptors come back
 * exactly, its RSS within the slack of a baseline taken after a warm-up churn
 * of 300. The churn goes on for CHURN_SECONDS (a minute) and 1,000 clients at
 * least, whichever is longer: this one test takes about a minute; it asserts
 * what is left, never how fast.
 */
START_TEST(test_thousand_clients)
{
        churn sh = { .lock = PTHREAD_MUTEX_INITIALIZER };
        int victims;
        double t0;
        baseline b;

        sh.zctx = zmq_ctx_new();
        ck_assert_ptr_nonnull(sh.zctx);
        churn_phase(&sh, 300, 0, &victims);
        baseline_take(&b);

        t0 = now();
        churn_phase(&sh, CHURN_CLIENTS, CHURN_SECONDS, &victims);
        fprintf(stderr,
                "test-faults: %d clients in %.1f s: %d said bye, %d closed their socket, %d were "
                "killed\n",
                sh.byes + sh.closes + victims, now() - t0, sh.byes, sh.closes, victims);
        ck_assert_int_gt(sh.byes, 0);
        ck_assert_int_gt(sh.closes, 0);
        ck_assert_int_gt(victims, 0);
        zmq_ctx_term(sh.zctx);

        baseline_expect(&b, "a minute of clients");
}
END_TEST

static Suite *faults_suite(void)
{
        Suite *s = suite_create("faults");
        TCase *tc;

        tc = tcase_create("clients");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_killed_mid_hello);
        tcase_add_test(tc, test_killed_with_pending_calls);
        tcase_add_test(tc, test_killed_while_streaming);
        tcase_add_test(tc, test_killed_with_supervised_children);
        suite_add_tcase(s, tc);

        tc = tcase_create("daemon");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_sigterm_with_children);
        tcase_add_test(tc, test_sigkill_children_follow);
        suite_add_tcase(s, tc);

        tc = tcase_create("load");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_thousand_clients);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *victim = getenv("RD_FAULTS_VICTIM");
        SRunner *sr;
        int failed;

        if (victim)
                victim_main(victim);
        sr = srunner_create(faults_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
