/* SPDX-License-Identifier: MIT */
/*
 * What one client may make reactord do (PROTOCOL.md §7 "Limits" and §4
 * "listeners"): the per-session caps on processes and on write-buffer bytes,
 * and the rule that only a root client binds a port below 1024. Each test
 * starts a real reactord with small caps (tests/fixture.c) and checks, for
 * each cap, that going past it gives the documented error, that the session
 * keeps working, and that freeing resources lets it go on.
 *
 * Waits are generous upper bounds; only behaviour and exact error codes are
 * asserted, never timing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "fixture.h"
#include "reactord/client.h"

/* How long any one wait may take before the test fails. */
#define WAIT_SEC 20.0

/* The caps the daemon runs with here. */
#define MAX_PROCESSES    3
#define MAX_WRITE_BUFFER (64 * 1024)
/* Each write of the write-buffer tests. */
#define CHUNK (8 * 1024)

/* ---- events ------------------------------------------------------------------------------- */

/* One event: enough of it to tell which and whose. */
typedef struct event {
        char name[32];   /* "stream.drained" */
        uint64_t handle; /* the payload's handle */
        bool final;      /* process.ended: `final` */
        bool used;       /* a wait took it */
} event;

/* Every event one client received, in order. */
typedef struct evlog {
        event v[4096]; /* the events (a test makes far fewer) */
        size_t n;      /* entries used */
} evlog;

static int log_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        evlog *log = userdata;
        event *e;

        ck_assert_uint_lt(log->n, sizeof(log->v) / sizeof(log->v[0]));
        e = &log->v[log->n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->name, sizeof(e->name), "%s", ev->name);
        e->handle = rd_value_get_uint(ev->payload, "handle", 0);
        (void)rd_value_bool(rd_value_get(ev->payload, "final"), &e->final);
        return 0;
}

static rd_client *client_new(const char *name, evlog *log)
{
        rd_client_options opts = { .name = name, .timeout = 60 };
        rd_client *c = NULL;

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        if (log)
                ck_assert_int_eq(rd_client_on_any(c, log_event, log), 0);
        return c;
}

/* Dispatch what has arrived, wait at most 50 ms for more. */
static void pump(rd_client *c)
{
        struct pollfd p = { .fd = rd_client_fd(c), .events = POLLIN };
        int t;

        ck_assert_int_ge(rd_client_process(c), 0);
        t = rd_client_timeout(c);
        (void)poll(&p, 1, t < 0 || t > 50 ? 50 : t);
        ck_assert_int_ge(rd_client_process(c), 0);
}

static event *find_event(evlog *log, const char *name, uint64_t handle)
{
        for (size_t i = 0; i < log->n; i++) {
                event *e = &log->v[i];
                if (!e->used && strcmp(e->name, name) == 0 && e->handle == handle &&
                    (strcmp(name, "process.ended") != 0 || e->final))
                        return e;
        }
        return NULL;
}

/* Wait for event `name` of `handle` (process.ended: the final one). */
static void wait_event(rd_client *c, evlog *log, const char *name, uint64_t handle)
{
        for (double deadline = fixture_now() + WAIT_SEC;;) {
                event *e = find_event(log, name, handle);
                if (e) {
                        e->used = true;
                        return;
                }
                ck_assert_msg(fixture_now() < deadline, "no %s for handle %" PRIu64, name, handle);
                pump(c);
        }
}

/* ---- calls -------------------------------------------------------------------------------- */

static uint64_t reply_uint(rd_reply *reply, const char *key)
{
        uint64_t u = 0;

        ck_assert_int_eq(rd_value_uint(rd_value_get(rd_reply_result(reply), key), &u), 0);
        rd_reply_free(reply);
        return u;
}

/* process.spawn with JSON `params`: 0 and the handle, or the call's negative errno. */
static int spawn(rd_client *c, const char *params, uint64_t *handle)
{
        char *json = NULL;
        const char *h;
        int r;

        r = rd_client_call_json(c, "process.spawn", params, &json);
        if (r < 0)
                return r;
        h = strstr(json, "\"handle\":");
        ck_assert_ptr_nonnull(h);
        *handle = strtoull(h + strlen("\"handle\":"), NULL, 10);
        free(json);
        return 0;
}

static void stop_process(rd_client *c, evlog *log, uint64_t handle)
{
        ck_assert_int_eq(rd_client_callv(c, "process.stop", NULL, RD_UINT("handle", handle)), 0);
        wait_event(c, log, "process.ended", handle);
}

/* The session still does ordinary work: a ping, and a timer that fires. */
static void still_working(rd_client *c, evlog *log)
{
        uint64_t t;

        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        rd_reply *reply = NULL;
        ck_assert_int_eq(rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 0.01)), 0);
        t = reply_uint(reply, "handle");
        wait_event(c, log, "timer.fired", t);
}

/* ---- max_processes ------------------------------------------------------------------------ */

static void daemon_start_small(void)
{
        static const char *const args[] = { "--max-processes", "3", "--max-write-buffer", "65536",
                                            NULL };
        fixture_daemon_start_args("test-limits", args);
}

START_TEST(test_max_processes)
{
        static evlog log, other_log;
        rd_client *c = client_new("limits", &log), *d;
        uint64_t pair, supervised, one, kept, extra, refused;
        int r;

        /* Two instances count two, a supervised process one: three in all, the cap. */
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"], \"instances\": 2}", &pair), 0);
        ck_assert_int_eq(
                spawn(c, "{\"argv\": [\"sleep\", \"100\"], \"restart\": \"always\"}", &supervised),
                0);
        r = spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &refused);
        ck_assert_msg(r == -EAGAIN, "a spawn past max_processes: %s", strerror(-r));
        ck_assert_msg(strstr(rd_client_last_error(c), "max_processes"), "message: %s",
                      rd_client_last_error(c));
        /* More instances than the cap itself can never run: a bad param, not a wait. */
        r = spawn(c, "{\"argv\": [\"sleep\", \"100\"], \"instances\": 4}", &refused);
        ck_assert_msg(r == -EINVAL, "instances past max_processes: %s", strerror(-r));
        still_working(c, &log);

        /* The cap is per session. */
        d = client_new("other", &other_log);
        ck_assert_int_eq(spawn(d, "{\"argv\": [\"sleep\", \"100\"], \"instances\": 3}", &extra), 0);
        stop_process(d, &other_log, extra);

        /* A process that ends gives its place back. */
        stop_process(c, &log, pair);
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &one), 0);
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &extra), 0);
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &refused), -EAGAIN);
        stop_process(c, &log, extra);

        /* Taking over a kept orphan counts too. */
        ck_assert_int_eq(spawn(d,
                               "{\"argv\": [\"sleep\", \"100\"], \"instances\": 2, \"orphan\": "
                               "\"keep\", \"name\": \"limits-kept\"}",
                               &kept),
                         0);
        d = rd_client_free(d); /* the process stays, ownerless */
        for (double deadline = fixture_now() + WAIT_SEC;;) {
                r = rd_client_callv(c, "process.take", NULL, RD_STR("name", "limits-kept"));
                if (r != -EBUSY) /* until the session of `d` is gone */
                        break;
                ck_assert_msg(fixture_now() < deadline, "the kept process keeps its owner");
                usleep(20 * 1000);
        }
        ck_assert_msg(r == -EAGAIN, "process.take past max_processes: %s", strerror(-r));
        stop_process(c, &log, supervised);
        ck_assert_int_eq(rd_client_callv(c, "process.take", NULL, RD_STR("name", "limits-kept")),
                         0);
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &refused), -EAGAIN);

        stop_process(c, &log, kept);
        stop_process(c, &log, one);
        still_working(c, &log);
        rd_client_free(c);
}
END_TEST

/* ---- max_write_buffer --------------------------------------------------------------------- */

/* The byte at `offset` of a test stream: position-dependent, so loss and reordering show. */
static inline uint8_t pattern_at(uint64_t offset)
{
        return (uint8_t)(((uint32_t)offset * 2654435761u) >> 24);
}

static void pattern_fill(uint8_t *buf, uint64_t offset, size_t n)
{
        for (size_t i = 0; i < n; i++)
                buf[i] = pattern_at(offset + i);
}

/* A stream of the client to a socket of the test that reads only when told. */
typedef struct peer {
        uint64_t stream; /* the client's stream handle */
        int fd;          /* the test's end */
        uint64_t sent;   /* bytes the client had taken */
        uint64_t got;    /* bytes the test read, all checked against the pattern */
} peer;

static int listener_fd = -1;
static int listener_port;

static void listener_open(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int small = 4096;

        listener_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(listener_fd, 0);
        /* Accepted sockets inherit it: the kernel holds little, reactord the rest. */
        ck_assert_int_eq(setsockopt(listener_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(bind(listener_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(listener_fd, 8), 0);
        ck_assert_int_eq(getsockname(listener_fd, (struct sockaddr *)&sa, &len), 0);
        listener_port = ntohs(sa.sin_port);
}

static peer peer_open(rd_client *c, evlog *log)
{
        struct pollfd p = { .fd = listener_fd, .events = POLLIN };
        rd_reply *reply = NULL;
        peer pr = { .fd = -1 };

        ck_assert_int_eq(rd_client_callv(c, "tcp.connect", &reply, RD_STR("host", "127.0.0.1"),
                                         RD_UINT("port", (uint64_t)listener_port)),
                         0);
        pr.stream = reply_uint(reply, "handle");
        wait_event(c, log, "stream.connected", pr.stream);
        ck_assert_int_eq(poll(&p, 1, (int)(WAIT_SEC * 1000)), 1);
        pr.fd = accept4(listener_fd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(pr.fd, 0);
        return pr;
}

/* Write the next CHUNK of the pattern; the call's result (0 or a negative errno). */
static int peer_write(rd_client *c, peer *pr)
{
        uint8_t buf[CHUNK];
        int r;

        pattern_fill(buf, pr->sent, sizeof(buf));
        r = rd_client_callv(c, "stream.write", NULL, RD_UINT("handle", pr->stream),
                            RD_BIN("data", buf, sizeof(buf)));
        if (r == 0)
                pr->sent += sizeof(buf);
        return r;
}

/* The test reads what the client wrote so far, checking every byte. */
static void peer_read_all(peer *pr)
{
        uint8_t buf[16384];

        for (double deadline = fixture_now() + WAIT_SEC; pr->got < pr->sent;) {
                struct pollfd p = { .fd = pr->fd, .events = POLLIN };
                ssize_t n;

                ck_assert_msg(fixture_now() < deadline, "%" PRIu64 " of %" PRIu64 " bytes came",
                              pr->got, pr->sent);
                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = recv(pr->fd, buf, sizeof(buf), MSG_DONTWAIT);
                ck_assert_int_gt(n, 0);
                ck_assert_uint_le(pr->got + (uint64_t)n, pr->sent);
                for (ssize_t i = 0; i < n; i++)
                        ck_assert_msg(buf[i] == pattern_at(pr->got + (uint64_t)i),
                                      "byte %" PRIu64 " is wrong", pr->got + (uint64_t)i);
                pr->got += (uint64_t)n;
        }
}

static void peer_close(rd_client *c, evlog *log, peer *pr)
{
        ck_assert_int_eq(rd_client_callv(c, "stream.close", NULL, RD_UINT("handle", pr->stream)),
                         0);
        wait_event(c, log, "stream.closed", pr->stream);
        close(pr->fd);
        pr->fd = -1;
}

/* Fill the session's write buffers through `pr` until reactord refuses. */
static void fill(rd_client *c, peer *pr)
{
        int r;

        while ((r = peer_write(c, pr)) == 0)
                ck_assert_uint_lt(pr->sent, 64u << 20); /* the kernel takes some, never this */
        ck_assert_msg(r == -EAGAIN, "stream.write: %s", strerror(-r));
        ck_assert_msg(strstr(rd_client_last_error(c), "max_write_buffer"), "message: %s",
                      rd_client_last_error(c));
}

/* The session's bytes in write buffers, as reactor.resources reports them. */
static uint64_t buffered_total(rd_client *c)
{
        rd_reply *reply = NULL;
        const rd_value *list;
        uint64_t sum = 0;

        ck_assert_int_eq(rd_client_call(c, "reactor.resources", NULL, 0, &reply), 0);
        list = rd_value_get(rd_reply_result(reply), "resources");
        for (size_t i = 0; i < rd_value_len(list); i++)
                sum += rd_value_get_uint(rd_value_at(list, i), "buffered", 0);
        rd_reply_free(reply);
        return sum;
}

START_TEST(test_max_write_buffer)
{
        static evlog log;
        static uint8_t big[MAX_WRITE_BUFFER + 1];
        rd_client *c = client_new("limits", &log);
        rd_reply *reply = NULL;
        peer a, b;
        uint64_t udp, udp_port;
        int r;

        listener_open();
        a = peer_open(c, &log);
        b = peer_open(c, &log);

        /* One write larger than the whole cap can never be taken. */
        r = rd_client_callv(c, "stream.write", NULL, RD_UINT("handle", a.stream),
                            RD_BIN("data", big, sizeof(big)));
        ck_assert_msg(r == -EMSGSIZE, "a write past max_write_buffer: %s", strerror(-r));

        /* `a`'s peer does not read: once the kernel is full, reactord holds the cap's worth. */
        fill(c, &a);
        ck_assert_uint_le(buffered_total(c), MAX_WRITE_BUFFER);
        ck_assert_uint_gt(buffered_total(c), MAX_WRITE_BUFFER - CHUNK);
        /* The cap is the session's: `b` has nothing buffered and is refused all the same. */
        ck_assert_int_eq(peer_write(c, &b), -EAGAIN);
        /* Refused once, refused until drained, so that no write overtakes the refused one. */
        ck_assert_int_eq(peer_write(c, &a), -EAGAIN);

        /* Everything else goes on; a datagram is never buffered, so it is not refused. */
        still_working(c, &log);
        ck_assert_int_eq(rd_client_callv(c, "udp.bind", &reply, RD_STR("host", "127.0.0.1"),
                                         RD_UINT("port", 0)),
                         0);
        udp_port = rd_value_get_uint(rd_reply_result(reply), "port", 0);
        udp = reply_uint(reply, "handle");
        ck_assert_int_eq(rd_client_callv(c, "udp.send", NULL, RD_UINT("handle", udp),
                                         RD_BIN("data", "x", 1), RD_STR("host", "127.0.0.1"),
                                         RD_UINT("port", udp_port)),
                         0);
        wait_event(c, &log, "udp.datagram", udp);

        /* The peer reads: the buffers drain, both writers hear it, and go on where they were. */
        peer_read_all(&a);
        wait_event(c, &log, "stream.drained", a.stream);
        wait_event(c, &log, "stream.drained", b.stream);
        ck_assert_int_eq(peer_write(c, &a), 0);
        ck_assert_int_eq(peer_write(c, &b), 0);
        peer_read_all(&a);
        peer_read_all(&b);
        ck_assert_uint_eq(buffered_total(c), 0);

        peer_close(c, &log, &a);
        peer_close(c, &log, &b);
        close(listener_fd);
        listener_fd = -1;
        rd_client_free(c);
}
END_TEST

START_TEST(test_max_write_buffer_stdin)
{
        static evlog log;
        rd_client *c = client_new("limits", &log);
        uint8_t buf[CHUNK] = { 0 };
        uint64_t proc, written = 0;
        peer a;
        int r;

        /* A child that never reads its stdin: the pipe fills, then reactord's stdin buffer. */
        ck_assert_int_eq(spawn(c, "{\"argv\": [\"sleep\", \"100\"]}", &proc), 0);
        while ((r = rd_client_callv(c, "process.write", NULL, RD_UINT("handle", proc),
                                    RD_BIN("data", buf, sizeof(buf)))) == 0) {
                written += sizeof(buf);
                ck_assert_uint_lt(written, 64u << 20);
        }
        ck_assert_msg(r == -EAGAIN, "process.write: %s", strerror(-r));
        ck_assert_msg(strstr(rd_client_last_error(c), "max_write_buffer"), "message: %s",
                      rd_client_last_error(c));

        /* Stdin buffers and stream buffers share the cap. */
        listener_open();
        a = peer_open(c, &log);
        ck_assert_int_eq(peer_write(c, &a), -EAGAIN);
        still_working(c, &log);

        /* The child ends: its stdin buffer is let go, and the stream may write. */
        stop_process(c, &log, proc);
        wait_event(c, &log, "stream.drained", a.stream);
        ck_assert_int_eq(peer_write(c, &a), 0);
        peer_read_all(&a);

        peer_close(c, &log, &a);
        close(listener_fd);
        listener_fd = -1;
        rd_client_free(c);
}
END_TEST

/* ---- ports below 1024 --------------------------------------------------------------------- */

/* What the unprivileged client got, in this order. */
enum { LOW_TCP_LISTEN, LOW_UDP_BIND, LOW_CONNECT_BIND, ANY_TCP_LISTEN, ANY_UDP_BIND, N_LOW };

/* In a child: become nobody, connect, and try the low ports. Reports N_LOW results. */
static void nobody_main(int in, int out, const void *arg)
{
        const struct passwd *pw = getpwnam("nobody");
        uid_t uid = pw ? pw->pw_uid : 65534;
        gid_t gid = pw ? pw->pw_gid : 65534;
        int results[N_LOW];
        rd_client *c = NULL;
        char *json = NULL;

        for (int i = 0; i < N_LOW; i++)
                results[i] = -ECANCELED;
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0 || rd_client_new(arg, NULL, &c) < 0) {
                (void)!write(out, results, sizeof(results));
                return;
        }
        results[LOW_TCP_LISTEN] = rd_client_callv(c, "tcp.listen", NULL,
                                                  RD_STR("host", "127.0.0.1"), RD_UINT("port", 80));
        results[LOW_UDP_BIND] = rd_client_callv(c, "udp.bind", NULL, RD_STR("host", "127.0.0.1"),
                                                RD_UINT("port", 81));
        results[LOW_CONNECT_BIND] = rd_client_call_json(
                c, "tcp.connect",
                "{\"host\": \"127.0.0.1\", \"port\": 9, \"bind\": {\"host\": \"127.0.0.1\", "
                "\"port\": 1000}}",
                &json);
        free(json);
        results[ANY_TCP_LISTEN] = rd_client_callv(c, "tcp.listen", NULL,
                                                  RD_STR("host", "127.0.0.1"), RD_UINT("port", 0));
        results[ANY_UDP_BIND] = rd_client_callv(c, "udp.bind", NULL, RD_STR("host", "127.0.0.1"),
                                                RD_UINT("port", 0));
        rd_client_free(c); /* its listeners close with its session */
        (void)!write(out, results, sizeof(results));
}

/* Bind `method` on the first free port of 1000..1023 as this (root) client; the port, or 0. */
static int low_port(rd_client *c, const char *method)
{
        for (int port = 1000; port < 1024; port++) {
                rd_reply *reply = NULL;
                int r = rd_client_callv(c, method, &reply, RD_STR("host", "127.0.0.1"),
                                        RD_UINT("port", (uint64_t)port));
                if (r == -EADDRINUSE)
                        continue;
                ck_assert_msg(r == 0, "%s on port %d as root: %s", method, port, strerror(-r));
                ck_assert_int_eq(rd_client_callv(c, "handle.close", NULL,
                                                 RD_UINT("handle", reply_uint(reply, "handle"))),
                                 0);
                return port;
        }
        return 0;
}

START_TEST(test_low_ports)
{
        char bus[PATH_MAX + 8];
        int results[N_LOW], to_child, from_child;
        rd_client *c;

        if (geteuid() != 0) {
                /* Not applicable: without root neither the root client nor the change of user. */
                fprintf(stderr, "test-limits: test_low_ports: not run: it needs to run as root, "
                                "to be the root client and to become an unprivileged one\n");
                return;
        }
        /* The unprivileged client must reach the bus: open the directory and the socket up. */
        snprintf(bus, sizeof(bus), "%s/bus", fixture_tmpdir);
        ck_assert_int_eq(chmod(fixture_tmpdir, 0755), 0);
        ck_assert_int_eq(chmod(bus, 0777), 0);

        (void)child_start(nobody_main, fixture_endpoint, &to_child, &from_child);
        child_read(from_child, results, sizeof(results));
        ck_assert_msg(results[LOW_TCP_LISTEN] != -ECANCELED, "the unprivileged client did not run");
        ck_assert_int_eq(results[LOW_TCP_LISTEN], -EPERM);
        ck_assert_int_eq(results[LOW_UDP_BIND], -EPERM);
        ck_assert_int_eq(results[LOW_CONNECT_BIND], -EPERM);
        ck_assert_int_eq(results[ANY_TCP_LISTEN], 0);
        ck_assert_int_eq(results[ANY_UDP_BIND], 0);
        child_cleanup();

        /* A root client may. */
        c = client_new("root", NULL);
        ck_assert_int_ne(low_port(c, "tcp.listen"), 0);
        ck_assert_int_ne(low_port(c, "udp.bind"), 0);
        rd_client_free(c);
}
END_TEST

static void teardown(void)
{
        child_cleanup();
        if (listener_fd >= 0)
                close(listener_fd);
        listener_fd = -1;
        fixture_daemon_stop();
}

static Suite *limits_suite(void)
{
        Suite *s = suite_create("limits");
        TCase *tc;

        tc = tcase_create("quotas");
        tcase_add_checked_fixture(tc, daemon_start_small, teardown);
        tcase_add_test(tc, test_max_processes);
        tcase_add_test(tc, test_max_write_buffer);
        tcase_add_test(tc, test_max_write_buffer_stdin);
        suite_add_tcase(s, tc);

        tc = tcase_create("privilege");
        tcase_add_checked_fixture(tc, daemon_start_small, teardown);
        tcase_add_test(tc, test_low_ports);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(limits_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
