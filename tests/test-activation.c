/* SPDX-License-Identifier: MIT */
/*
 * Socket activation, through a real reactord started the way the service
 * manager starts it: systemd-socket-activate(1) binds the sockets, waits for
 * the first connection, and execs reactord with $LISTEN_FDS, $LISTEN_PID and
 * $LISTEN_FDNAMES. Three sockets are passed: the bus ("bus", a UNIX socket
 * in the test's directory), "web" (another UNIX socket) and "tcpweb" (TCP on
 * a free loopback port). The other end of every connection is a plain socket
 * of the test.
 *
 * Every test is also a leak test: reactord's descriptors once it served, the
 * activated sockets among them, are its descriptors again at the teardown,
 * when the test's clients have gone (tests/procfd.h).
 *
 * Timeouts are generous upper bounds; only behaviour is asserted.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "plain.h"
#include "procfd.h"
#include "reactord/client.h"
#include "reactord/stream.h"

/* Upper bound for anything the daemon is expected to do. */
#define TIMEOUT 30.0

static struct {
        char dir[PATH_MAX];           /* the test's directory, removed at teardown */
        char bus[PATH_MAX];           /* the activated bus socket */
        char web[PATH_MAX];           /* the activated "web" socket */
        char endpoint[PATH_MAX + 16]; /* ipc://<bus> */
        uint16_t port;                /* the activated "tcpweb" port */
        pid_t daemon;                 /* systemd-socket-activate, then reactord */
        rd_client *c[3];              /* clients, freed at teardown */
        procfd_set fds;               /* reactord's descriptors once it served */
} fx;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- plain sockets ------------------------------------------------------------------------ */

/* A loopback port nobody listens on now (bound and released). */
static uint16_t free_port(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static int unix_connect_plain(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        memcpy(sa.sun_path, path, strlen(path) + 1);
        ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %m", path);
        return fd;
}

/* Read exactly `n` bytes from a plain socket into `buf` (NUL-terminated). */
static void read_plain(int fd, char *buf, size_t n)
{
        size_t got = 0;

        while (got < n) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                ck_assert_int_eq(poll(&p, 1, (int)(TIMEOUT * 1000)), 1);
                k = read(fd, buf + got, n - got);
                ck_assert_int_gt(k, 0);
                got += (size_t)k;
        }
        buf[n] = '\0';
}

/* ---- the daemon --------------------------------------------------------------------------- */

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/*
 * Start systemd-socket-activate with the three sockets. It execs reactord on
 * the first connection, which fixture_connect() makes. Returns false when it
 * exited at once (the port was taken between free_port() and its bind).
 */
static bool spawn(void)
{
        const char *activate = getenv("SYSTEMD_SOCKET_ACTIVATE"), *exe = getenv("REACTORD");
        char tcp[64], config[PATH_MAX + 32];
        double deadline = now() + TIMEOUT;
        struct stat st;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        ck_assert_msg(activate && *activate, "$SYSTEMD_SOCKET_ACTIVATE is not set");
        fx.port = free_port();
        snprintf(tcp, sizeof(tcp), "127.0.0.1:%u", fx.port);
        /* Its children get only the variables named with -E: keep reactord off any user config. */
        snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s", fx.dir);

        fx.daemon = fork();
        ck_assert_int_ge(fx.daemon, 0);
        if (fx.daemon == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test; kept across exec */
                execl(activate, activate, "-l", fx.bus, "-l", fx.web, "-l", tcp,
                      "--fdname=bus:web:tcpweb", "-E", config, "--", exe, "--log-level", "info",
                      (char *)NULL);
                _exit(127);
        }
        /* Listening once the socket files exist (the TCP socket is bound first). */
        while (stat(fx.web, &st) < 0) {
                if (waitpid(fx.daemon, NULL, WNOHANG) == fx.daemon) {
                        fx.daemon = -1;
                        return false;
                }
                ck_assert_msg(now() < deadline, "systemd-socket-activate did not listen");
                usleep(10000);
        }
        return true;
}

static rd_client *client_new(const char *name)
{
        rd_client_options opts = { .name = name, .timeout = TIMEOUT };
        rd_client *c = NULL;
        int r = rd_client_new(fx.endpoint, &opts, &c);

        ck_assert_msg(r >= 0, "cannot connect to the activated bus: %s", strerror(-r));
        for (size_t i = 0; i < sizeof(fx.c) / sizeof(fx.c[0]); i++)
                if (!fx.c[i]) {
                        fx.c[i] = c;
                        return c;
                }
        ck_abort_msg("too many clients");
        return NULL;
}

/* End a client's session (session.bye) before teardown would. */
static void client_free(rd_client *c)
{
        for (size_t i = 0; i < sizeof(fx.c) / sizeof(fx.c[0]); i++)
                if (fx.c[i] == c)
                        fx.c[i] = NULL;
        rd_client_free(c);
}

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");
        rd_client_options opts = { .name = "first", .timeout = TIMEOUT };
        rd_client *c = NULL;
        bool ok = false;
        int r;

        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        signal(SIGPIPE, SIG_IGN);
        snprintf(fx.dir, sizeof(fx.dir), "%s/test-activation-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        ck_assert_int_lt(snprintf(fx.bus, sizeof(fx.bus), "%s/bus", fx.dir), (int)sizeof(fx.bus));
        ck_assert_int_lt(snprintf(fx.web, sizeof(fx.web), "%s/web.sock", fx.dir),
                         (int)sizeof(fx.web));
        snprintf(fx.endpoint, sizeof(fx.endpoint), "ipc://%s", fx.bus);
        for (int attempt = 0; attempt < 5 && !ok; attempt++)
                ok = spawn();
        ck_assert_msg(ok, "systemd-socket-activate could not bind its sockets");

        /*
         * A first session starts reactord and ends: what it holds then, the
         * sockets passed to it included, is its baseline.
         */
        r = rd_client_new(fx.endpoint, &opts, &c);
        ck_assert_msg(r >= 0, "cannot connect to the activated bus: %s", strerror(-r));
        rd_client_free(c);
        procfd_baseline(fx.daemon, fx.bus, &fx.fds);
}

static void teardown(void)
{
        for (size_t i = 0; i < sizeof(fx.c) / sizeof(fx.c[0]); i++)
                fx.c[i] = rd_client_free(fx.c[i]);
        /* Everything the sessions owned is released; an adopted socket is back in the pool. */
        if (fx.daemon > 0 && waitpid(fx.daemon, NULL, WNOHANG) == 0)
                procfd_expect(fx.daemon, fx.bus, &fx.fds, TIMEOUT, "the teardown");
        if (fx.daemon > 0) {
                kill(fx.daemon, SIGTERM);
                if (plain_wait_exit(fx.daemon, TIMEOUT) < 0) {
                        kill(fx.daemon, SIGKILL);
                        waitpid(fx.daemon, NULL, 0);
                }
                fx.daemon = -1;
        }
        if (fx.dir[0])
                nftw(fx.dir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
        procfd_done(&fx.fds);
}

/* ---- reading reactor.info ----------------------------------------------------------------- */

/* The entry of reactor.info's `activated` named `name`, in a reply the caller frees. */
static const rd_value *activated(rd_client *c, const char *name, rd_reply **reply)
{
        const rd_value *list;

        ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, reply), 0);
        list = rd_value_get(rd_reply_result(*reply), "activated");
        ck_assert_int_eq(rd_value_type_of(list), RD_VALUE_ARRAY);
        for (size_t i = 0; i < rd_value_len(list); i++) {
                const rd_value *e = rd_value_at(list, i);
                if (rd_value_str_eq(rd_value_get(e, "name"), name))
                        return e;
        }
        return NULL;
}

static bool is_taken(rd_client *c, const char *name)
{
        rd_reply *reply = NULL;
        const rd_value *e = activated(c, name, &reply);
        bool taken = false;

        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(rd_value_bool(rd_value_get(e, "taken"), &taken), 0);
        rd_reply_free(reply);
        return taken;
}

/* Ask `c` until `name` is free again: the end of another session is reaped asynchronously. */
static void wait_free(rd_client *c, const char *name)
{
        double deadline = now() + TIMEOUT;

        while (is_taken(c, name)) {
                ck_assert_msg(now() < deadline, "'%s' was not given back", name);
                usleep(10000);
        }
}

/* ---- recording a listener's events -------------------------------------------------------- */

typedef struct rec {
        unsigned accepted; /* listener.accepted on the listener */
        uint64_t stream;   /* the last accepted stream */
        char data[64];     /* stream.data, in order */
        size_t len;        /* bytes of data */
} rec;

static int on_stream(rd_client *c, const rd_client_event *ev, void *userdata)
{
        rec *r = userdata;
        const void *p;
        size_t n;

        if (strcmp(ev->name, "stream.data") == 0) {
                ck_assert_int_eq(rd_client_event_data(ev, &p, &n), 0);
                ck_assert_uint_le(r->len + n, sizeof(r->data) - 1);
                memcpy(r->data + r->len, p, n);
                r->len += n;
        }
        return 0;
}

static int on_listener(rd_client *c, const rd_client_event *ev, void *userdata)
{
        rec *r = userdata;

        if (strcmp(ev->name, "listener.accepted") == 0) {
                r->accepted++;
                r->stream = rd_client_event_stream(ev);
                ck_assert_int_eq(rd_client_on(c, r->stream, on_stream, r), 0);
        }
        return 0;
}

/* Dispatch `c`'s events until `expr` holds. */
#define PUMP_UNTIL(c, expr)                                                                        \
        do {                                                                                       \
                double _deadline = now() + TIMEOUT;                                                \
                for (;;) {                                                                         \
                        ck_assert_int_ge(rd_client_process(c), 0);                                 \
                        if (expr)                                                                  \
                                break;                                                             \
                        ck_assert_msg(now() < _deadline, "timed out waiting for: %s", #expr);      \
                        struct pollfd _p = { .fd = rd_client_fd(c), .events = POLLIN };            \
                        poll(&_p, 1, 20);                                                          \
                }                                                                                  \
        } while (0)

/*
 * A plain client connects to the adopted socket (`fd`, connected already):
 * the listener reports it, its bytes arrive as stream.data, and bytes written
 * to the stream reach it.
 */
static void exchange(rd_client *c, uint64_t listener, int fd)
{
        rec r = { 0 };
        char buf[8];

        ck_assert_int_eq(rd_client_on(c, listener, on_listener, &r), 0);
        PUMP_UNTIL(c, r.accepted == 1);
        ck_assert_int_eq(write(fd, "hello", 5), 5);
        PUMP_UNTIL(c, r.len == 5);
        ck_assert_str_eq(r.data, "hello");
        ck_assert_int_ge(rd_client_stream_write(c, r.stream, "world", 5), 0);
        read_plain(fd, buf, 5);
        ck_assert_str_eq(buf, "world");
        ck_assert_int_eq(rd_client_stream_close(c, r.stream), 0);
        ck_assert_int_eq(rd_client_on(c, listener, NULL, NULL), 0);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The bus is the activated socket: a session opens on it; reactord took no lock beside it. */
START_TEST(test_bus)
{
        rd_client *c = client_new("bus");
        rd_reply *reply = NULL;
        char lock[PATH_MAX + 8];
        struct stat st;

        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, &reply), 0);
        ck_assert(rd_value_str_eq(rd_value_get(rd_reply_result(reply), "endpoint"), fx.endpoint));
        /* systemd-socket-activate execs reactord in its own process. */
        ck_assert_uint_eq(rd_value_get_uint(rd_reply_result(reply), "pid", 0), (uint64_t)fx.daemon);
        rd_reply_free(reply);
        snprintf(lock, sizeof(lock), "%s.lock", fx.bus);
        ck_assert_int_lt(stat(lock, &st), 0);
}
END_TEST

/* The socket files are the service manager's: they outlive reactord. */
START_TEST(test_exit_keeps_sockets)
{
        rd_client *c = client_new("exit");
        int status;
        struct stat st;

        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        ck_assert_int_eq(kill(fx.daemon, SIGTERM), 0);
        status = plain_wait_exit(fx.daemon, TIMEOUT);
        ck_assert_int_ne(status, -1);
        fx.daemon = -1;
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert_int_eq(stat(fx.bus, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_eq(stat(fx.web, &st), 0);
}
END_TEST

/* reactor.info lists every activated socket but the bus, by name, family and address. */
START_TEST(test_info)
{
        rd_client *c = client_new("info");
        rd_reply *reply = NULL;
        const rd_value *web, *tcp, *list;
        bool taken = true;

        web = activated(c, "web", &reply);
        list = rd_value_get(rd_reply_result(reply), "activated");
        ck_assert_uint_eq(rd_value_len(list), 2);
        ck_assert_ptr_nonnull(web);
        ck_assert(rd_value_str_eq(rd_value_get(web, "family"), "unix"));
        ck_assert(rd_value_str_eq(rd_value_get(web, "type"), "stream"));
        ck_assert(rd_value_str_eq(rd_value_get(rd_value_get(web, "address"), "path"), fx.web));
        ck_assert_int_eq(rd_value_bool(rd_value_get(web, "taken"), &taken), 0);
        ck_assert(!taken);
        /* Passed in this order: bus (not listed), web, tcpweb. */
        tcp = rd_value_at(list, 1);
        ck_assert(rd_value_str_eq(rd_value_get(tcp, "name"), "tcpweb"));
        ck_assert(rd_value_str_eq(rd_value_get(tcp, "family"), "inet"));
        ck_assert(rd_value_str_eq(rd_value_get(rd_value_get(tcp, "address"), "host"), "127.0.0.1"));
        ck_assert_uint_eq(rd_value_get_uint(rd_value_get(tcp, "address"), "port", 0), fx.port);
        rd_reply_free(reply);
}
END_TEST

/* unix.adopt: the listener accepts on the activated socket and data flows both ways. */
START_TEST(test_adopt_unix)
{
        rd_client *c = client_new("adopt-unix");
        rd_reply *reply = NULL;
        uint64_t listener = 0;
        int fd;

        ck_assert_int_eq(rd_client_callv(c, "unix.adopt", &reply, RD_STR("name", "web")), 0);
        listener = rd_value_get_uint(rd_reply_result(reply), "handle", 0);
        ck_assert_uint_gt(listener, 0);
        ck_assert(rd_value_str_eq(rd_value_get(rd_reply_result(reply), "path"), fx.web));
        rd_reply_free(reply);
        ck_assert(is_taken(c, "web"));

        fd = unix_connect_plain(fx.web);
        exchange(c, listener, fd);
        close(fd);
}
END_TEST

/* tcp.adopt, through the C client's call: the port is the activated one. */
START_TEST(test_adopt_tcp)
{
        rd_client *c = client_new("adopt-tcp");
        uint64_t listener = 0;
        uint16_t port = 0;
        int fd;

        ck_assert_int_eq(rd_client_tcp_adopt(c, "tcpweb", false, &listener, &port), 0);
        ck_assert_uint_gt(listener, 0);
        ck_assert_uint_eq(port, fx.port);
        fd = plain_tcp_connect(fx.port);
        exchange(c, listener, fd);
        close(fd);
}
END_TEST

/* Unknown name: ENOENT; the wrong family: EINVAL; taken: EBUSY, for anyone else and itself. */
START_TEST(test_adopt_errors)
{
        rd_client *a = client_new("a"), *b = client_new("b");
        uint64_t h;

        ck_assert_int_eq(rd_client_unix_adopt(a, "nosuch", false, &h), -ENOENT);
        ck_assert_ptr_nonnull(strstr(rd_client_last_error(a), "nosuch"));
        ck_assert_int_eq(rd_client_tcp_adopt(a, "web", false, &h, NULL), -EINVAL);
        ck_assert_ptr_nonnull(strstr(rd_client_last_error(a), "unix"));
        ck_assert_int_eq(rd_client_unix_adopt(a, "tcpweb", false, &h), -EINVAL);
        /* The bus is not in the pool. */
        ck_assert_int_eq(rd_client_unix_adopt(a, "bus", false, &h), -ENOENT);
        ck_assert_int_eq(rd_client_callv(a, "unix.adopt", NULL, RD_UINT("name", 1)), -EINVAL);

        ck_assert_int_eq(rd_client_unix_adopt(a, "web", false, &h), 0);
        ck_assert_int_eq(rd_client_unix_adopt(b, "web", false, &h), -EBUSY);
        ck_assert_int_eq(rd_client_unix_adopt(a, "web", false, &h), -EBUSY);
        /* The daemon serves everyone else meanwhile. */
        ck_assert_int_eq(rd_client_call(b, "reactor.ping", NULL, 0, NULL), 0);
}
END_TEST

/*
 * Closing the listener, or ending the session, gives the socket back still
 * open: connections made meanwhile wait in its backlog and go to the next
 * adopter.
 */
START_TEST(test_adopt_returns)
{
        rd_client *a = client_new("a"), *b = client_new("b"), *c;
        uint64_t ha = 0, hb = 0, hc = 0;
        int fd;

        ck_assert_int_eq(rd_client_unix_adopt(a, "web", false, &ha), 0);
        ck_assert_int_eq(rd_client_listener_close(a, ha), 0);
        ck_assert(!is_taken(a, "web"));
        /* Nobody serves it now, yet a connection is taken into the backlog. */
        fd = unix_connect_plain(fx.web);
        ck_assert_int_eq(rd_client_unix_adopt(b, "web", false, &hb), 0);
        exchange(b, hb, fd);
        close(fd);

        client_free(b);
        c = client_new("c");
        wait_free(c, "web");
        ck_assert_int_eq(rd_client_unix_adopt(c, "web", false, &hc), 0);
        fd = unix_connect_plain(fx.web);
        exchange(c, hc, fd);
        close(fd);
}
END_TEST

/* shared: other sessions join by the socket's name; it returns with the last member. */
START_TEST(test_adopt_shared)
{
        rd_client *a = client_new("a"), *b = client_new("b"), *c = client_new("c");
        uint64_t ha = 0, hb = 0, hc = 0;
        int fd;

        ck_assert_int_eq(rd_client_tcp_adopt(a, "tcpweb", true, &ha, NULL), 0);
        ck_assert_int_eq(rd_client_listener_join(b, "tcpweb", &hb), 0);
        ck_assert_int_eq(rd_client_listener_close(a, ha), 0);
        /* b still serves it. */
        ck_assert(is_taken(c, "tcpweb"));
        ck_assert_int_eq(rd_client_tcp_adopt(c, "tcpweb", false, &hc, NULL), -EBUSY);
        fd = plain_tcp_connect(fx.port);
        exchange(b, hb, fd);
        close(fd);
        ck_assert_int_eq(rd_client_listener_close(b, hb), 0);
        ck_assert_int_eq(rd_client_tcp_adopt(c, "tcpweb", false, &hc, NULL), 0);
}
END_TEST

/* reactorctl listen adopted NAME: netcat on the activated socket, which then goes back. */
START_TEST(test_reactorctl)
{
        const char *ctl = getenv("REACTORCTL");
        int in[2], out[2], fd, status;
        char buf[8];
        pid_t pid;

        ck_assert_msg(ctl && *ctl, "$REACTORCTL is not set");
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(127);
                setenv("REACTORD_ENDPOINT", fx.endpoint, 1);
                execl(ctl, ctl, "listen", "adopted", "web", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);

        /* The socket listens already (it is systemd's): connecting needs no wait. */
        fd = unix_connect_plain(fx.web);
        ck_assert_int_eq(write(fd, "ping", 4), 4);
        read_plain(out[0], buf, 4);
        ck_assert_str_eq(buf, "ping");
        ck_assert_int_eq(write(in[1], "pong", 4), 4);
        read_plain(fd, buf, 4);
        ck_assert_str_eq(buf, "pong");
        /* stdin's EOF shuts the connection down; the peer's shutdown ends reactorctl. */
        close(in[1]);
        ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
        status = plain_wait_exit(pid, TIMEOUT);
        ck_assert_int_ne(status, -1);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        close(fd);
        close(out[0]);

        wait_free(client_new("after"), "web");
}
END_TEST

static Suite *activation_suite(void)
{
        Suite *s = suite_create("activation");
        TCase *tc = tcase_create("activation");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_bus);
        tcase_add_test(tc, test_exit_keeps_sockets);
        tcase_add_test(tc, test_info);
        tcase_add_test(tc, test_adopt_unix);
        tcase_add_test(tc, test_adopt_tcp);
        tcase_add_test(tc, test_adopt_errors);
        tcase_add_test(tc, test_adopt_returns);
        tcase_add_test(tc, test_adopt_shared);
        tcase_add_test(tc, test_reactorctl);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(activation_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
