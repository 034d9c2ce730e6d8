/* SPDX-License-Identifier: MIT */
/*
 * The socket calls of libreactord, the echo-server example and reactorctl's
 * listen and connect, through a real reactord: each test starts the daemon on
 * a temporary ipc:// fixture_endpoint. The other end of every connection is a plain
 * socket of the test. Timeouts are generous; only behaviour is asserted.
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

#include "fixture.h"
#include "plain.h"
#include "reactord/client.h"
#include "reactord/stream.h"

/* How long any one wait may take before the test fails. */
#define WAIT_SEC 20.0

/* ---- the daemon: tests/fixture.c ---------------------------------------------------------- */

static void daemon_start(void)
{
        fixture_daemon_start("test-stream");
}

static rd_client *client_new(void)
{
        rd_client_options opts = { .name = "test-stream-client", .timeout = 60 };
        rd_client *c = NULL;

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        return c;
}

/* ---- recording events --------------------------------------------------------------------- */

/* What the handlers of one handle saw. */
typedef struct rec {
        unsigned events;    /* every event */
        unsigned accepted;  /* listener.accepted */
        uint64_t listener;  /* ev->handle of the last listener.accepted */
        uint64_t stream;    /* its new stream */
        char peer[128];     /* its (or stream.connected's) peer address */
        bool connected;     /* stream.connected */
        bool eof;           /* stream.eof */
        unsigned drained;   /* stream.drained */
        bool closed;        /* stream.closed */
        char reason[32];    /* its reason */
        int error;          /* its code, as -errno */
        unsigned datagrams; /* udp.datagram */
        char from[128];     /* the last datagram's sender */
        char *data;         /* stream.data and udp.datagram bytes, in order */
        size_t len;         /* how many */
        size_t cap;         /* allocated */
        char last[32];      /* name of the last event */
        bool after_closed;  /* an event came after stream.closed */
} rec;

static void rec_append(rec *r, const void *p, size_t n)
{
        if (r->len + n > r->cap) {
                r->cap = (r->len + n) * 2 + 4096;
                r->data = realloc(r->data, r->cap);
                ck_assert_ptr_nonnull(r->data);
        }
        memcpy(r->data + r->len, p, n);
        r->len += n;
}

static void rec_done(rec *r)
{
        free(r->data);
        *r = (rec){ 0 };
}

static int record(rd_client *c, const rd_client_event *ev, void *userdata)
{
        rec *r = userdata;
        const void *p;
        size_t n;
        const char *s;

        if (r->closed)
                r->after_closed = true;
        r->events++;
        snprintf(r->last, sizeof(r->last), "%s", ev->name);
        if (strcmp(ev->name, "listener.accepted") == 0) {
                r->accepted++;
                r->listener = ev->handle;
                r->stream = rd_client_event_stream(ev);
                rd_value_address(rd_value_get(ev->payload, "peer"), r->peer, sizeof(r->peer));
        } else if (strcmp(ev->name, "stream.connected") == 0) {
                r->connected = true;
                rd_value_address(rd_value_get(ev->payload, "peer"), r->peer, sizeof(r->peer));
        } else if (strcmp(ev->name, "stream.data") == 0) {
                ck_assert_int_eq(rd_client_event_data(ev, &p, &n), 0);
                rec_append(r, p, n);
        } else if (strcmp(ev->name, "stream.eof") == 0) {
                r->eof = true;
        } else if (strcmp(ev->name, "stream.drained") == 0) {
                r->drained++;
        } else if (strcmp(ev->name, "stream.closed") == 0) {
                r->closed = true;
                r->error = rd_client_event_error(ev);
                if (rd_value_str(rd_value_get(ev->payload, "reason"), &s, &n) >= 0)
                        snprintf(r->reason, sizeof(r->reason), "%.*s", (int)n, s);
        } else if (strcmp(ev->name, "udp.datagram") == 0) {
                r->datagrams++;
                ck_assert_int_eq(rd_client_event_data(ev, &p, &n), 0);
                rec_append(r, p, n);
                rd_value_address(ev->payload, r->from, sizeof(r->from));
        }
        return 0;
}

/* Dispatch the clients' events (through the embeddable API) until `cond` holds. */
static bool pump_until(rd_client *a, rd_client *b, bool (*cond)(void *), void *userdata)
{
        double deadline = fixture_now() + WAIT_SEC;
        struct pollfd pfd[2];

        for (;;) {
                if (a)
                        ck_assert_int_ge(rd_client_process(a), 0);
                if (b)
                        ck_assert_int_ge(rd_client_process(b), 0);
                if (cond(userdata))
                        return true;
                if (fixture_now() > deadline)
                        return false;
                pfd[0] = (struct pollfd){ .fd = a ? rd_client_fd(a) : -1, .events = POLLIN };
                pfd[1] = (struct pollfd){ .fd = b ? rd_client_fd(b) : -1, .events = POLLIN };
                poll(pfd, 2, 20);
        }
}

/* Let the clients dispatch for `sec` seconds. */
static bool never(void *userdata)
{
        return *(double *)userdata < fixture_now();
}

static void pump_for(rd_client *a, rd_client *b, double sec)
{
        double until = fixture_now() + sec;
        pump_until(a, b, never, &until);
}

#define PUMP_UNTIL(a, b, expr)                                                                     \
        ({                                                                                         \
                bool _ok = false;                                                                  \
                for (double _deadline = fixture_now() + WAIT_SEC;;) {                              \
                        if (a)                                                                     \
                                ck_assert_int_ge(rd_client_process(a), 0);                         \
                        if (b)                                                                     \
                                ck_assert_int_ge(rd_client_process(b), 0);                         \
                        if ((_ok = (expr)))                                                        \
                                break;                                                             \
                        if (fixture_now() > _deadline)                                             \
                                break;                                                             \
                        usleep(2000);                                                              \
                }                                                                                  \
                ck_assert_msg(_ok, "timed out waiting for: %s", #expr);                            \
        })

/* ---- plain sockets ------------------------------------------------------------------------ */

static int tcp_listen_plain(uint16_t *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 16), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *port = ntohs(sa.sin_port);
        return fd;
}

/* A port nobody listens on (just bound and released). */
static uint16_t free_port(void)
{
        uint16_t port;
        close(tcp_listen_plain(&port));
        return port;
}

static socklen_t unix_sockaddr(struct sockaddr_un *sa, const char *name, bool abstract)
{
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        if (abstract) {
                memcpy(sa->sun_path + 1, name, strlen(name));
                return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
        }
        snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", name);
        return sizeof(*sa);
}

static int unix_listen_plain(const char *name, bool abstract)
{
        struct sockaddr_un sa;
        socklen_t len = unix_sockaddr(&sa, name, abstract);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
        ck_assert_int_eq(listen(fd, 16), 0);
        return fd;
}

static int unix_connect_plain(const char *name, bool abstract)
{
        struct sockaddr_un sa;
        socklen_t len = unix_sockaddr(&sa, name, abstract);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_msg(connect(fd, (struct sockaddr *)&sa, len) == 0, "connect: %m");
        return fd;
}

static int accept_plain(int lfd)
{
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        int fd;

        ck_assert_int_eq(poll(&p, 1, (int)(WAIT_SEC * 1000)), 1);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

static void write_all(int fd, const void *data, size_t n)
{
        const char *p = data;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_msg(k > 0, "write: %m");
                p += k;
                n -= (size_t)k;
        }
}

/*
 * Read from `fd` until `want` bytes (or EOF when `want` is SIZE_MAX) came; a
 * NUL-terminated buffer the caller frees, its length in *len.
 */
static char *read_plain(int fd, size_t want, size_t *len)
{
        double deadline = fixture_now() + WAIT_SEC;
        size_t n = 0, cap = 65536;
        char *buf = malloc(cap + 1);

        ck_assert_ptr_nonnull(buf);
        while (n < want) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ck_assert_msg(fixture_now() < deadline, "read timed out after %zu bytes", n);
                if (poll(&p, 1, 100) <= 0)
                        continue;
                if (n == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap + 1);
                        ck_assert_ptr_nonnull(buf);
                }
                ssize_t k = read(fd, buf + n, cap - n);
                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_msg(k >= 0, "read: %m");
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

static void assert_read(int fd, const char *expect)
{
        size_t n;
        char *got = read_plain(fd, strlen(expect), &n);

        ck_assert_str_eq(got, expect);
        free(got);
}

static void assert_eof(int fd)
{
        size_t n;
        char *got = read_plain(fd, SIZE_MAX, &n);

        ck_assert_uint_eq(n, 0);
        free(got);
}

/* A recognisable byte pattern, so that holes and reordering show. */
static char *pattern(size_t n)
{
        char *p = malloc(n);

        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < n; i++)
                p[i] = (char)('a' + (i * 7 + i / 4096) % 26);
        return p;
}

/* ---- listeners ---------------------------------------------------------------------------- */

START_TEST(test_tcp_listen)
{
        rd_client *c = client_new();
        rec lr = { 0 }, sr = { 0 };
        uint64_t listener = 0;
        uint16_t port = 0;
        int fd;

        ck_assert_int_eq(rd_client_tcp_listen(c, "127.0.0.1", 0, NULL, &listener, &port), 0);
        ck_assert_uint_gt(listener, 0);
        ck_assert_uint_gt(port, 0);
        ck_assert_int_eq(rd_client_on(c, listener, record, &lr), 0);

        /* listener.accepted reaches the listener's handler and names a stream of ours. */
        fd = plain_tcp_connect(port);
        PUMP_UNTIL(c, NULL, lr.accepted == 1);
        ck_assert_uint_eq(lr.listener, listener);
        ck_assert_uint_gt(lr.stream, 0);
        ck_assert_uint_ne(lr.stream, listener);
        ck_assert_msg(strncmp(lr.peer, "127.0.0.1:", 10) == 0, "peer %s", lr.peer);

        ck_assert_int_eq(rd_client_on(c, lr.stream, record, &sr), 0);
        write_all(fd, "hi", 2);
        PUMP_UNTIL(c, NULL, sr.len == 2);
        ck_assert(memcmp(sr.data, "hi", 2) == 0);
        ck_assert_int_eq(rd_client_stream_write(c, lr.stream, "ho", 2) >= 0, 1);
        assert_read(fd, "ho");

        /* The same port again is EADDRINUSE; closing the listener keeps its stream. */
        ck_assert_int_eq(rd_client_tcp_listen(c, "127.0.0.1", port, NULL, NULL, NULL), -EADDRINUSE);
        ck_assert_int_eq(rd_client_listener_close(c, listener), 0);
        ck_assert_int_eq(rd_client_listener_close(c, listener), -ENOENT);
        ck_assert_int_eq(rd_client_stream_write(c, lr.stream, "still", 5) >= 0, 1);
        assert_read(fd, "still");
        close(fd);
        PUMP_UNTIL(c, NULL, sr.eof);

        /* Nobody listens any more. */
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
        close(fd);

        rec_done(&lr);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

START_TEST(test_tcp_listen_options)
{
        rd_client *c = client_new();
        rd_listen_options o = { .backlog = 4, .reuse_port = true };
        uint64_t a, b;
        uint16_t port, port2;

        /* Two listeners on one port with SO_REUSEPORT; the default host takes IPv4 too. */
        ck_assert_int_eq(rd_client_tcp_listen(c, NULL, 0, &o, &a, &port), 0);
        ck_assert_int_eq(rd_client_tcp_listen(c, NULL, port, &o, &b, &port2), 0);
        ck_assert_uint_eq(port, port2);
        ck_assert_uint_ne(a, b);
        close(plain_tcp_connect(port));

        /* Errors: not a local address; a bad host; unknown handles. */
        ck_assert_int_eq(rd_client_tcp_listen(c, "192.0.2.1", 0, NULL, NULL, NULL), -EADDRNOTAVAIL);
        int r = rd_client_tcp_listen(c, "not an address", 0, NULL, NULL, NULL);
        ck_assert_msg(r == -EINVAL || r == -ENOENT, "%s", strerror(-r));
        ck_assert_str_ne(rd_client_last_error(c), "");
        ck_assert_int_eq(rd_client_tcp_listen(c, "", 0, NULL, NULL, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_tcp_listen(NULL, NULL, 0, NULL, NULL, NULL), -EINVAL);
        if (geteuid() != 0)
                ck_assert_int_eq(rd_client_tcp_listen(c, "127.0.0.1", 1, NULL, NULL, NULL),
                                 -EACCES);
        rd_client_free(c);
}
END_TEST

START_TEST(test_unix_listen)
{
        rd_client *c = client_new();
        rd_listen_options o = { .mode = 0600 };
        rec lr = { 0 };
        uint64_t listener, abs_listener;
        char path[PATH_MAX + 16], name[64];
        struct stat st;
        int fd;

        snprintf(path, sizeof(path), "%s/listen.sock", fixture_tmpdir);
        ck_assert_int_eq(rd_client_unix_listen(c, path, false, &o, &listener), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        ck_assert_int_eq(rd_client_on(c, listener, record, &lr), 0);

        fd = unix_connect_plain(path, false);
        PUMP_UNTIL(c, NULL, lr.accepted == 1);
        ck_assert_uint_eq(lr.listener, listener);
        ck_assert_uint_gt(lr.stream, 0);
        close(fd);

        /* The file exists: EADDRINUSE, and reactord leaves other files alone. */
        ck_assert_int_eq(rd_client_unix_listen(c, path, false, NULL, NULL), -EADDRINUSE);
        snprintf(path, sizeof(path), "%s/file", fixture_tmpdir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        ck_assert_int_eq(rd_client_unix_listen(c, path, false, NULL, NULL), -EADDRINUSE);
        ck_assert_int_eq(access(path, F_OK), 0);

        /* The socket file goes with its listener. */
        snprintf(path, sizeof(path), "%s/listen.sock", fixture_tmpdir);
        ck_assert_int_eq(rd_client_listener_close(c, listener), 0);
        ck_assert_int_eq(access(path, F_OK), -1);

        /* Too long a path. */
        char longpath[200];
        memset(longpath, 'x', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        ck_assert_int_eq(rd_client_unix_listen(c, longpath, false, NULL, NULL), -ENAMETOOLONG);

        /* An abstract name. */
        snprintf(name, sizeof(name), "reactord-test-%d", (int)getpid());
        ck_assert_int_eq(rd_client_unix_listen(c, name, true, NULL, &abs_listener), 0);
        ck_assert_int_eq(rd_client_on(c, abs_listener, record, &lr), 0);
        fd = unix_connect_plain(name, true);
        PUMP_UNTIL(c, NULL, lr.accepted == 2);
        ck_assert_uint_eq(lr.listener, abs_listener);
        close(fd);

        rec_done(&lr);
        rd_client_free(c);
}
END_TEST

START_TEST(test_listener_join)
{
        rd_client *a = client_new(), *b = client_new();
        rd_listen_options o = { .name = "shared-web" };
        rec ra = { 0 }, rb = { 0 };
        uint64_t la, lb, lb2;
        uint16_t port;
        int fds[6];

        ck_assert_int_eq(rd_client_tcp_listen(a, "127.0.0.1", 0, &o, &la, &port), 0);
        ck_assert_int_eq(rd_client_listener_join(b, "shared-web", &lb), 0);
        ck_assert_uint_ne(la, lb);
        ck_assert_int_eq(rd_client_listener_join(b, "no-such-listener", &lb2), -ENOENT);
        ck_assert_int_eq(rd_client_on(a, la, record, &ra), 0);
        ck_assert_int_eq(rd_client_on(b, lb, record, &rb), 0);

        /* Round-robin over the members: both get some. */
        for (size_t i = 0; i < (sizeof(fds) / sizeof(fds[0])); i++)
                fds[i] = plain_tcp_connect(port);
        PUMP_UNTIL(a, b, ra.accepted + rb.accepted == (sizeof(fds) / sizeof(fds[0])));
        ck_assert_uint_gt(ra.accepted, 0);
        ck_assert_uint_gt(rb.accepted, 0);
        ck_assert_uint_eq(rb.listener, lb);

        /* The first member leaves; the other keeps accepting. */
        ck_assert_int_eq(rd_client_listener_close(a, la), 0);
        unsigned before = rb.accepted;
        int fd = plain_tcp_connect(port);
        PUMP_UNTIL(a, b, rb.accepted == before + 1);
        close(fd);

        for (size_t i = 0; i < (sizeof(fds) / sizeof(fds[0])); i++)
                close(fds[i]);
        rec_done(&ra);
        rec_done(&rb);
        rd_client_free(a);
        rd_client_free(b);
}
END_TEST

/* ---- streams ------------------------------------------------------------------------------ */

START_TEST(test_tcp_connect)
{
        rd_client *c = client_new();
        rd_stream_options so = RD_STREAM_OPTIONS_INIT;
        uint64_t stream = 0, hw = 0, lw = 0;
        rec sr = { 0 };
        uint16_t port;
        int lfd, fd;

        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 5, &stream), 0);
        ck_assert_uint_gt(stream, 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        /* Written before stream.connected: buffered. */
        ck_assert_int_ge(rd_client_stream_write(c, stream, "early ", 6), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);
        ck_assert_msg(strncmp(sr.peer, "127.0.0.1:", 10) == 0, "peer %s", sr.peer);

        ck_assert_int_ge(rd_client_stream_write(c, stream, "hello", 5), 0);
        assert_read(fd, "early hello");
        write_all(fd, "world", 5);
        PUMP_UNTIL(c, NULL, sr.len == 5);
        ck_assert(memcmp(sr.data, "world", 5) == 0);

        /* stream.set: options and marks, and reading the marks back. */
        so.nodelay = 1;
        so.keepalive = 1;
        so.high_water = 4096;
        so.low_water = 1024;
        ck_assert_int_eq(rd_client_stream_set(c, stream, &so, &hw, &lw), 0);
        ck_assert_uint_eq(hw, 4096);
        ck_assert_uint_eq(lw, 1024);
        hw = lw = 0;
        ck_assert_int_eq(rd_client_stream_set(c, stream, NULL, &hw, &lw), 0);
        ck_assert_uint_eq(hw, 4096);
        ck_assert_uint_eq(lw, 1024);
        so = RD_STREAM_OPTIONS_INIT;
        so.high_water = 100;
        so.low_water = 200;
        ck_assert_int_eq(rd_client_stream_set(c, stream, &so, NULL, NULL), -EINVAL);
        so.nodelay = 2;
        ck_assert_int_eq(rd_client_stream_set(c, stream, &so, NULL, NULL), -EINVAL);

        /* Half-closes both ways: our shutdown, then the peer's EOF, then "done". */
        ck_assert_int_ge(rd_client_stream_write(c, stream, "last", 4), 0);
        ck_assert_int_eq(rd_client_stream_shutdown(c, stream), 0);
        ck_assert_int_eq(rd_client_stream_write(c, stream, "x", 1), -EPIPE);
        assert_read(fd, "last");
        assert_eof(fd);
        write_all(fd, "reading goes on", 15);
        PUMP_UNTIL(c, NULL, sr.len == 20);
        ck_assert(memcmp(sr.data + 5, "reading goes on", 15) == 0);
        ck_assert(!sr.eof && !sr.closed);
        shutdown(fd, SHUT_WR);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert(sr.eof);
        ck_assert_str_eq(sr.reason, "done");
        ck_assert_int_eq(sr.error, 0);
        ck_assert_int_eq(rd_client_stream_write(c, stream, "x", 1), -ENOENT);

        close(fd);
        close(lfd);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

START_TEST(test_connect_errors)
{
        rd_client *c = client_new(), *d = client_new();
        uint64_t stream = 0, listener;
        rec sr = { 0 };
        int lfd;
        uint16_t port;

        /* Refused: the handle first, then stream.closed with its code. */
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", free_port(), 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert(!sr.connected);
        ck_assert_str_eq(sr.reason, "error");
        ck_assert_int_eq(sr.error, -ECONNREFUSED);
        rec_done(&sr);

        /* A name that does not resolve. */
        ck_assert_int_eq(rd_client_tcp_connect(c, "no-such-host.invalid", 80, 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert_int_eq(sr.error, -ENOENT);
        rec_done(&sr);

        /* A UNIX path with no listener. */
        int r = rd_client_unix_connect(c, "/nonexistent/sock", false, &stream);
        if (r == 0) {
                ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
                PUMP_UNTIL(c, NULL, sr.closed);
                ck_assert_int_eq(sr.error, -ENOENT);
                rec_done(&sr);
        } else {
                ck_assert_int_eq(r, -ENOENT);
        }

        /* Handles: unknown, not a stream, another session's. */
        ck_assert_int_eq(rd_client_stream_write(c, 999999, "x", 1), -ENOENT);
        ck_assert_int_eq(rd_client_stream_pause(c, 999999), -ENOENT);
        ck_assert_int_eq(rd_client_tcp_listen(c, "127.0.0.1", 0, NULL, &listener, NULL), 0);
        ck_assert_int_eq(rd_client_stream_write(c, listener, "x", 1), -EINVAL);
        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 0, &stream), 0);
        ck_assert_int_eq(rd_client_stream_write(d, stream, "x", 1), -EPERM);
        ck_assert_int_eq(rd_client_stream_close(d, stream), -EPERM);

        /* Bad arguments, caught before anything is sent. */
        ck_assert_int_eq(rd_client_tcp_connect(c, NULL, 80, 0, &stream), -EINVAL);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", 80, -1, &stream), -EINVAL);
        ck_assert_int_eq(rd_client_stream_write(c, 0, "x", 1), -EINVAL);
        ck_assert_int_eq(rd_client_stream_write(c, stream, NULL, 1), -EINVAL);
        ck_assert_int_eq(rd_client_unix_connect(c, "", false, &stream), -EINVAL);

        close(lfd);
        rd_client_free(d);
        rd_client_free(c);
}
END_TEST

START_TEST(test_unix_connect)
{
        rd_client *c = client_new();
        char path[PATH_MAX + 16], name[64];
        uint64_t stream;
        rec sr = { 0 };
        int lfd, fd;

        snprintf(path, sizeof(path), "%s/plain.sock", fixture_tmpdir);
        lfd = unix_listen_plain(path, false);
        ck_assert_int_eq(rd_client_unix_connect(c, path, false, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);
        ck_assert_int_ge(rd_client_stream_write(c, stream, "ping", 4), 0);
        assert_read(fd, "ping");
        write_all(fd, "pong", 4);
        PUMP_UNTIL(c, NULL, sr.len == 4);
        ck_assert(memcmp(sr.data, "pong", 4) == 0);
        ck_assert_int_eq(rd_client_stream_close(c, stream), 0);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert_str_eq(sr.reason, "closed");
        assert_eof(fd);
        close(fd);
        close(lfd);
        rec_done(&sr);

        snprintf(name, sizeof(name), "reactord-test-c-%d", (int)getpid());
        lfd = unix_listen_plain(name, true);
        ck_assert_int_eq(rd_client_unix_connect(c, name, true, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);
        ck_assert_int_ge(rd_client_stream_write(c, stream, "abs", 3), 0);
        assert_read(fd, "abs");
        close(fd);
        PUMP_UNTIL(c, NULL, sr.eof);
        ck_assert(!sr.closed);
        ck_assert_int_eq(rd_client_stream_close(c, stream), 0);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert_str_eq(sr.reason, "closed");
        close(lfd);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

START_TEST(test_pause_abort)
{
        rd_client *c = client_new();
        uint64_t stream;
        rec sr = { 0 };
        uint16_t port;
        int lfd, fd;
        char buf[16];

        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);

        /* Paused, nothing is read; resumed, it all arrives. */
        ck_assert_int_eq(rd_client_stream_pause(c, stream), 0);
        write_all(fd, "waiting", 7);
        pump_for(c, NULL, 0.3);
        ck_assert_uint_eq(sr.len, 0);
        ck_assert_int_eq(rd_client_stream_resume(c, stream), 0);
        PUMP_UNTIL(c, NULL, sr.len == 7);

        /* Abort drops the buffer and resets the peer. */
        ck_assert_int_eq(rd_client_stream_abort(c, stream), 0);
        PUMP_UNTIL(c, NULL, sr.closed);
        ck_assert_str_eq(sr.reason, "aborted");
        ssize_t k = recv(fd, buf, sizeof(buf), 0);
        ck_assert_msg(k < 0 && errno == ECONNRESET, "recv: %zd %m", k);
        ck_assert_int_eq(rd_client_stream_abort(c, stream), -ENOENT);
        ck_assert(!sr.after_closed);

        close(fd);
        close(lfd);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

/* The peer reads nothing: writes fill the stream's buffer until EAGAIN, then drained. */
START_TEST(test_backpressure)
{
        rd_client *c = client_new();
        rd_stream_options so = RD_STREAM_OPTIONS_INIT;
        const size_t chunk = 64 * 1024;
        char *data = pattern(chunk), *got;
        uint64_t stream;
        size_t sent = 0, n;
        rec sr = { 0 };
        uint16_t port;
        int lfd, fd, r = 0;

        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);
        so.high_water = 128 * 1024;
        so.low_water = 16 * 1024;
        ck_assert_int_eq(rd_client_stream_set(c, stream, &so, NULL, NULL), 0);

        while (sent < 256 * 1024 * 1024) {
                r = rd_client_stream_write(c, stream, data, chunk);
                if (r < 0)
                        break;
                sent += chunk;
        }
        ck_assert_int_eq(r, -EAGAIN);
        ck_assert_uint_eq(sr.drained, 0);

        /* Read everything that was accepted: drained comes, and no byte is missing. */
        got = read_plain(fd, sent, &n);
        ck_assert_uint_eq(n, sent);
        for (size_t i = 0; i < sent; i += chunk)
                ck_assert(memcmp(got + i, data, chunk) == 0);
        free(got);
        PUMP_UNTIL(c, NULL, sr.drained == 1);
        ck_assert_int_ge(rd_client_stream_write(c, stream, "more", 4), 0);
        assert_read(fd, "more");

        close(fd);
        close(lfd);
        free(data);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

typedef struct async_writes {
        unsigned done;   /* completions */
        unsigned failed; /* completions with an error */
        uint64_t last;   /* `buffered` of the last one */
} async_writes;

static void write_done(rd_client *c, int error, const rd_value *result, const char *message,
                       void *userdata)
{
        async_writes *w = userdata;

        w->done++;
        if (error < 0)
                w->failed++;
        else
                w->last = rd_value_get_uint(result, "buffered", UINT64_MAX);
}

START_TEST(test_write_async)
{
        rd_client *c = client_new();
        const size_t chunk = 1000, count = 100;
        char *data = pattern(chunk * count), *got;
        async_writes w = { 0 };
        uint64_t stream;
        rec sr = { 0 };
        uint16_t port;
        size_t n;
        int lfd, fd;

        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, record, &sr), 0);
        fd = accept_plain(lfd);
        PUMP_UNTIL(c, NULL, sr.connected);

        /* 100 KB in flight at once: under the default high-water mark, none is refused. */
        for (size_t i = 0; i < count; i++)
                ck_assert_int_eq(rd_client_stream_write_async(c, stream, data + i * chunk, chunk,
                                                              write_done, &w),
                                 0);
        ck_assert_int_eq(rd_client_stream_write_async(c, stream, "", 0, NULL, NULL), 0);
        PUMP_UNTIL(c, NULL, w.done == count);
        ck_assert_uint_eq(w.failed, 0);
        ck_assert_uint_ne(w.last, UINT64_MAX);
        got = read_plain(fd, chunk * count, &n);
        ck_assert_uint_eq(n, chunk * count);
        ck_assert(memcmp(got, data, n) == 0);
        free(got);

        /* A failed one reports its error. */
        ck_assert_int_eq(rd_client_stream_write_async(c, 999999, "x", 1, write_done, &w), 0);
        PUMP_UNTIL(c, NULL, w.done == count + 1);
        ck_assert_uint_eq(w.failed, 1);

        close(fd);
        close(lfd);
        free(data);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

/* A handler may close its stream and remove itself; stream.closed then goes nowhere. */
static int close_from_handler(rd_client *c, const rd_client_event *ev, void *userdata)
{
        record(c, ev, userdata);
        if (strcmp(ev->name, "stream.data") == 0) {
                ck_assert_int_eq(rd_client_stream_close(c, ev->handle), 0);
                ck_assert_int_eq(rd_client_on(c, ev->handle, NULL, NULL), 0);
        }
        return 0;
}

START_TEST(test_close_from_handler)
{
        rd_client *c = client_new();
        uint64_t stream;
        rec sr = { 0 };
        uint16_t port;
        int lfd, fd;

        lfd = tcp_listen_plain(&port);
        ck_assert_int_eq(rd_client_tcp_connect(c, "127.0.0.1", port, 0, &stream), 0);
        ck_assert_int_eq(rd_client_on(c, stream, close_from_handler, &sr), 0);
        fd = accept_plain(lfd);
        write_all(fd, "bye", 3);
        PUMP_UNTIL(c, NULL, sr.len == 3);
        assert_eof(fd);
        pump_for(c, NULL, 0.2);
        ck_assert(!sr.closed); /* its handler was gone: stream.closed went nowhere */
        close(fd);
        close(lfd);
        rec_done(&sr);
        rd_client_free(c);
}
END_TEST

/* ---- datagrams ---------------------------------------------------------------------------- */

START_TEST(test_udp)
{
        rd_client *c = client_new();
        rd_udp_options uo = { .reuse_port = true, .broadcast = true };
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        uint64_t sock, sock2;
        uint16_t port, port2;
        rec ur = { 0 };
        char buf[64], expect[64];
        int fd;

        ck_assert_int_eq(rd_client_udp_bind(c, "127.0.0.1", 0, &uo, &sock, &port), 0);
        ck_assert_uint_gt(port, 0);
        ck_assert_int_eq(rd_client_on(c, sock, record, &ur), 0);
        ck_assert_int_eq(rd_client_udp_bind(c, NULL, 0, NULL, &sock2, &port2), 0);
        ck_assert_uint_ne(port, port2);

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);

        /* In: a udp.datagram naming its sender. */
        struct sockaddr_in to = { .sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_int_eq(sendto(fd, "dgram", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
        PUMP_UNTIL(c, NULL, ur.datagrams == 1);
        ck_assert_uint_eq(ur.len, 5);
        ck_assert(memcmp(ur.data, "dgram", 5) == 0);
        snprintf(expect, sizeof(expect), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
        ck_assert_str_eq(ur.from, expect);

        /* Out. */
        ck_assert_int_eq(rd_client_udp_send(c, sock, "reply", 5, "127.0.0.1", ntohs(sa.sin_port)),
                         0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, (int)(WAIT_SEC * 1000)), 1);
        ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 5);
        ck_assert(memcmp(buf, "reply", 5) == 0);

        /* Multicast membership, and errors. */
        ck_assert_int_eq(rd_client_udp_join(c, sock2, "239.255.42.1", NULL), 0);
        ck_assert_int_eq(rd_client_udp_leave(c, sock2, "239.255.42.1", NULL), 0);
        ck_assert_int_eq(rd_client_udp_join(c, sock2, "239.255.42.1", "no-such-if0"), -ENODEV);
        ck_assert_int_eq(rd_client_udp_join(c, sock2, "not a group", NULL), -EINVAL);
        char *big = pattern(70000);
        ck_assert_int_eq(rd_client_udp_send(c, sock, big, 70000, "127.0.0.1", 9), -EMSGSIZE);
        free(big);
        ck_assert_int_eq(rd_client_udp_send(c, sock, "x", 1, "not an address", 9), -EINVAL);
        ck_assert_int_eq(rd_client_udp_send(c, 999999, "x", 1, "127.0.0.1", 9), -ENOENT);
        ck_assert_int_eq(rd_client_udp_send(c, sock, "x", 1, NULL, 9), -EINVAL);

        ck_assert_int_eq(rd_client_udp_close(c, sock2), 0);
        ck_assert_int_eq(rd_client_udp_join(c, sock2, "239.255.42.1", NULL), -ENOENT);
        close(fd);
        rec_done(&ur);
        rd_client_free(c);
}
END_TEST

/* ---- programs ----------------------------------------------------------------------------- */

typedef struct proc {
        pid_t pid;
        int in;  /* its stdin (our end), or -1 */
        int out; /* its stdout */
        int err; /* its stderr */
} proc;

/* Run `argv` with pipes for stdin, stdout and stderr. */
static proc spawn(const char *const *argv)
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
        if (p->in >= 0)
                close(p->in);
        p->in = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void proc_close(proc *p)
{
        if (p->in >= 0)
                close(p->in);
        close(p->out);
        close(p->err);
}

/* Read one line of `fd` (without its newline) into buf. */
static void read_line(int fd, char *buf, size_t size)
{
        double deadline = fixture_now() + WAIT_SEC;
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ck_assert_msg(fixture_now() < deadline, "no line: '%.*s'", (int)n, buf);
                if (poll(&p, 1, 100) <= 0)
                        continue;
                ck_assert_int_eq(read(fd, buf + n, 1), 1);
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = '\0';
}

/* The port at the end of "...:PORT". */
static uint16_t port_of(const char *line)
{
        const char *colon = strrchr(line, ':');

        ck_assert_msg(colon, "no port in '%s'", line);
        return (uint16_t)atoi(colon + 1);
}

static const char *program(const char *env)
{
        const char *exe = getenv(env);
        ck_assert_msg(exe && *exe, "$%s is not set", env);
        return exe;
}

START_TEST(test_echo_server)
{
        const char *argv[] = { program("EXAMPLE_ECHO_SERVER"), "0", NULL };
        const size_t big = 8 * 1024 * 1024;
        char line[256], *data = pattern(big), *got;
        proc p = spawn(argv);
        size_t sent = 0, recvd = 0;
        uint16_t port;
        int fd;

        read_line(p.out, line, sizeof(line));
        ck_assert_msg(strncmp(line, "Echo server listening on port ", 30) == 0, "%s", line);
        port = (uint16_t)atoi(line + 30);
        ck_assert_uint_gt(port, 0);

        fd = plain_tcp_connect(port);
        write_all(fd, "hello, echo", 11);
        assert_read(fd, "hello, echo");

        /*
         * Much more than the buffers hold, sent before reading anything: the
         * server's writes meet EAGAIN, it pauses, and not a byte is lost.
         */
        got = malloc(big);
        ck_assert_ptr_nonnull(got);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        for (double deadline = fixture_now() + 60; recvd < big;) {
                ck_assert_msg(fixture_now() < deadline, "echo stalled at %zu/%zu", recvd, big);
                struct pollfd pf = { .fd = fd,
                                     .events = (short)(POLLIN | (sent < big ? POLLOUT : 0)) };
                /* Read only once all is sent, or when writing is blocked. */
                ck_assert_int_ge(poll(&pf, 1, 100), 0);
                if (sent < big && (pf.revents & POLLOUT)) {
                        ssize_t k = write(fd, data + sent, big - sent);
                        if (k > 0)
                                sent += (size_t)k;
                        if (sent == big)
                                shutdown(fd, SHUT_WR);
                        continue;
                }
                if (pf.revents & POLLIN) {
                        ssize_t k = read(fd, got + recvd, big - recvd);
                        ck_assert_msg(k > 0, "read: %zd %m", k);
                        recvd += (size_t)k;
                }
        }
        ck_assert(memcmp(got, data, big) == 0);
        fcntl(fd, F_SETFL, 0);
        /* Our EOF becomes its shutdown. */
        assert_eof(fd);
        close(fd);

        /* Many clients at once. */
        int fds[8];
        for (size_t i = 0; i < (sizeof(fds) / sizeof(fds[0])); i++) {
                fds[i] = plain_tcp_connect(port);
                snprintf(line, sizeof(line), "client %zu", i);
                write_all(fds[i], line, strlen(line));
        }
        for (size_t i = 0; i < (sizeof(fds) / sizeof(fds[0])); i++) {
                snprintf(line, sizeof(line), "client %zu", i);
                assert_read(fds[i], line);
                close(fds[i]);
        }

        kill(p.pid, SIGTERM);
        reap(&p);
        proc_close(&p);
        free(got);
        free(data);
}
END_TEST

/* Feed `input` to the program's stdin, then close it. */
static void feed(proc *p, const char *input)
{
        write_all(p->in, input, strlen(input));
        close(p->in);
        p->in = -1;
}

START_TEST(test_reactorctl_connect)
{
        char port_s[16];
        uint16_t port;
        int lfd = tcp_listen_plain(&port), fd;
        char *out, *err;

        snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
        const char *argv[] = { program("REACTORCTL"), "connect", "127.0.0.1", port_s, NULL };
        proc p = spawn(argv);

        /* echo hello | reactorctl connect 127.0.0.1 PORT, and the peer answers. */
        feed(&p, "hello\n");
        fd = accept_plain(lfd);
        out = read_plain(fd, SIZE_MAX, NULL); /* until its EOF: stdin's EOF is a shutdown */
        ck_assert_str_eq(out, "hello\n");
        free(out);
        write_all(fd, "world\n", 6);
        shutdown(fd, SHUT_WR);
        ck_assert_int_eq(reap(&p), 0);
        out = read_plain(p.out, SIZE_MAX, NULL);
        err = read_plain(p.err, SIZE_MAX, NULL);
        ck_assert_str_eq(out, "world\n");
        ck_assert_str_eq(err, "");
        free(out);
        free(err);
        proc_close(&p);
        close(fd);

        /* --json: the events, bytes as {"$bin": ...}. */
        const char *jargv[] = { program("REACTORCTL"), "--json", "connect",
                                "127.0.0.1",           port_s,   NULL };
        p = spawn(jargv);
        feed(&p, "");
        fd = accept_plain(lfd);
        write_all(fd, "json", 4);
        assert_eof(fd);
        shutdown(fd, SHUT_WR);
        ck_assert_int_eq(reap(&p), 0);
        out = read_plain(p.out, SIZE_MAX, NULL);
        ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"stream.connected\""));
        ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"stream.data\""));
        ck_assert_ptr_nonnull(strstr(out, "\"$bin\":\"anNvbg==\""));
        ck_assert_ptr_nonnull(strstr(out, "\"reason\":\"done\""));
        free(out);
        proc_close(&p);
        close(fd);
        close(lfd);
}
END_TEST

START_TEST(test_reactorctl_connect_refused)
{
        char port_s[16];
        char *err;

        snprintf(port_s, sizeof(port_s), "%u", (unsigned)free_port());
        const char *argv[] = { program("REACTORCTL"), "connect", "127.0.0.1", port_s, NULL };
        proc p = spawn(argv);
        ck_assert_int_eq(reap(&p), 1);
        err = read_plain(p.err, SIZE_MAX, NULL);
        ck_assert_msg(strncmp(err, "reactorctl: connect: ECONNREFUSED: ", 35) == 0, "%s", err);
        free(err);
        proc_close(&p);

        const char *uargv[] = { program("REACTORCTL"), "connect", "unix", "/nonexistent/sock",
                                NULL };
        p = spawn(uargv);
        ck_assert_int_eq(reap(&p), 1);
        err = read_plain(p.err, SIZE_MAX, NULL);
        ck_assert_msg(strstr(err, "ENOENT"), "%s", err);
        free(err);
        proc_close(&p);
}
END_TEST

START_TEST(test_reactorctl_listen)
{
        const char *argv[] = { program("REACTORCTL"), "listen", "tcp", "0", "--host",
                               "127.0.0.1",           NULL };
        char line[256], *out;
        proc p = spawn(argv);
        int fd;

        read_line(p.err, line, sizeof(line));
        ck_assert_msg(strncmp(line, "reactorctl: listening on 127.0.0.1:", 35) == 0, "%s", line);
        fd = plain_tcp_connect(port_of(line));
        feed(&p, "ping\n");
        out = read_plain(fd, SIZE_MAX, NULL);
        ck_assert_str_eq(out, "ping\n");
        free(out);
        write_all(fd, "pong\n", 5);
        shutdown(fd, SHUT_WR);
        ck_assert_int_eq(reap(&p), 0);
        out = read_plain(p.out, SIZE_MAX, NULL);
        ck_assert_str_eq(out, "pong\n");
        free(out);
        close(fd);
        proc_close(&p);
}
END_TEST

START_TEST(test_reactorctl_listen_unix)
{
        char path[PATH_MAX + 16], line[PATH_MAX + 64], *out;
        int fd;

        snprintf(path, sizeof(path), "%s/ctl.sock", fixture_tmpdir);
        const char *argv[] = { program("REACTORCTL"), "listen", "unix", path, NULL };
        proc p = spawn(argv);
        read_line(p.err, line, sizeof(line));
        ck_assert_ptr_nonnull(strstr(line, path));
        fd = unix_connect_plain(path, false);
        write_all(fd, "from the peer", 13);
        shutdown(fd, SHUT_WR);
        /* The listener closed with the first connection: its file is gone. */
        out = read_plain(p.out, 13, NULL);
        ck_assert_str_eq(out, "from the peer");
        free(out);
        ck_assert_int_eq(access(path, F_OK), -1);
        feed(&p, "back");
        out = read_plain(fd, SIZE_MAX, NULL);
        ck_assert_str_eq(out, "back");
        free(out);
        ck_assert_int_eq(reap(&p), 0);
        close(fd);
        proc_close(&p);
}
END_TEST

/* Big stdin to a peer that reads slowly: EAGAIN stops stdin until drained; nothing is lost. */
START_TEST(test_reactorctl_backpressure)
{
        const size_t big = 16 * 1024 * 1024;
        char port_s[16], *data = pattern(big), *got;
        uint16_t port;
        int lfd = tcp_listen_plain(&port), fd;
        size_t n;

        snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
        const char *argv[] = { program("REACTORCTL"), "connect", "127.0.0.1", port_s, NULL };
        proc p = spawn(argv);
        fd = accept_plain(lfd);

        /* Write stdin from a child, so that this process can read the peer's side. */
        pid_t writer = fork();
        ck_assert_int_ge(writer, 0);
        if (writer == 0) {
                close(fd);
                write_all(p.in, data, big);
                _exit(0);
        }
        close(p.in);
        p.in = -1;
        usleep(500 * 1000); /* let the buffers fill */
        got = read_plain(fd, SIZE_MAX, &n);
        ck_assert_uint_eq(n, big);
        ck_assert(memcmp(got, data, big) == 0);
        shutdown(fd, SHUT_WR);
        ck_assert_int_eq(reap(&p), 0);
        waitpid(writer, NULL, 0);
        free(got);
        free(data);
        close(fd);
        close(lfd);
        proc_close(&p);
}
END_TEST

static Suite *stream_client_suite(void)
{
        Suite *s = suite_create("stream-client");
        TCase *tc;

        tc = tcase_create("listeners");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_tcp_listen);
        tcase_add_test(tc, test_tcp_listen_options);
        tcase_add_test(tc, test_unix_listen);
        tcase_add_test(tc, test_listener_join);
        suite_add_tcase(s, tc);

        tc = tcase_create("streams");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_tcp_connect);
        tcase_add_test(tc, test_connect_errors);
        tcase_add_test(tc, test_unix_connect);
        tcase_add_test(tc, test_pause_abort);
        tcase_add_test(tc, test_backpressure);
        tcase_add_test(tc, test_write_async);
        tcase_add_test(tc, test_close_from_handler);
        suite_add_tcase(s, tc);

        tc = tcase_create("datagrams");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_udp);
        suite_add_tcase(s, tc);

        tc = tcase_create("programs");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_echo_server);
        tcase_add_test(tc, test_reactorctl_connect);
        tcase_add_test(tc, test_reactorctl_connect_refused);
        tcase_add_test(tc, test_reactorctl_listen);
        tcase_add_test(tc, test_reactorctl_listen_unix);
        tcase_add_test(tc, test_reactorctl_backpressure);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(stream_client_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
