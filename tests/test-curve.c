/* SPDX-License-Identifier: MIT */
/*
 * The bus over tcp:// with CURVE: reactord on tcp://127.0.0.1:* (a free port,
 * read back from its "serving" line) with a server key from `reactorctl
 * keygen` and an allow directory. An allowed client pings and runs a timer
 * and is shown by its key's name; a key not in the directory, and a client
 * without CURVE, get no session; plain tcp:// is refused at start unless
 * --allow-insecure-tcp; SIGHUP adds and revokes keys. Also the key files
 * themselves, and the identity an ipc client is shown with.
 *
 * A refused client never gets a reply, whatever the wait: its hello ends in
 * ETIMEDOUT after the short timeout it is given, and what is asserted is that
 * it got no session (reactord's log and the session count say so), never how
 * long anything took. Timeouts are generous upper bounds.
 *
 * Every test that starts a daemon is also a leak test: reactord's descriptors
 * are recorded once it serves, before any client connects, and the teardown
 * waits until it holds the same ones again (tests/procfd.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/curve-key.h"
#include "basic/macro.h"
#include "notify.h"
#include "plain.h"
#include "procfd.h"
#include "reactord/client.h"

/* Upper bound for anything the daemon is expected to do. */
#define TIMEOUT 30.0
/* How long a client that must be refused waits for its hello: any value gives the same result. */
#define REFUSED_TIMEOUT 1.0

static struct {
        char dir[PATH_MAX];
        char notify[PATH_MAX];
        char log[PATH_MAX + 16];
        char allow[PATH_MAX + 16];      /* DIR/allow: alice.pub */
        char server_key[PATH_MAX + 16]; /* DIR/server.key */
        char server_pub[PATH_MAX + 16]; /* DIR/server.pub */
        char endpoint[PATH_MAX + 16];   /* as reactord logged it */
        int fd;
        pid_t daemon;
        procfd_set fds; /* reactord's descriptors once it served, before any client */
} fx;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* DIR/`name` into `buf`. */
static const char *path_of(char *buf, size_t size, const char *name)
{
        ck_assert_int_lt(snprintf(buf, size, "%s/%s", fx.dir, name), (int)size);
        return buf;
}

/* Run `argv` (argv[0] a path) with stdout and stderr to DIR/`out`; returns its wait status. */
static int run(const char *const argv[], const char *out)
{
        char path[PATH_MAX + 16];
        int status = 0;
        pid_t pid;

        path_of(path, sizeof(path), out);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                ck_assert_int_eq(errno, EINTR);
        return status;
}

/* `reactorctl keygen --out DIR/name`, which must succeed. */
static void keygen(const char *name)
{
        const char *ctl = getenv("REACTORCTL");
        char out[PATH_MAX + 16];
        int status;

        ck_assert_msg(ctl && *ctl, "$REACTORCTL is not set");
        path_of(out, sizeof(out), name);
        status = run((const char *const[]){ ctl, "keygen", "--out", out, NULL }, "keygen.out");
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* Start $REACTORD with `args` (NULL-terminated), stderr to fx.log, notifications to fx.fd. */
static void spawn(const char *const *args)
{
        const char *exe = getenv("REACTORD");
        const char *argv[32];
        size_t n = 0;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        argv[n++] = exe;
        /* No configuration file but the ones a test names; accepted keys are logged at info. */
        argv[n++] = "--config";
        argv[n++] = "/dev/null";
        argv[n++] = "--log-level";
        argv[n++] = "info";
        for (; *args; args++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n++] = *args;
        }
        argv[n] = NULL;

        fx.daemon = fork();
        ck_assert_int_ge(fx.daemon, 0);
        if (fx.daemon == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                setenv("NOTIFY_SOCKET", fx.notify, 1);
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("REACTORD_SERVER_KEY");
                unsetenv("REACTORD_KEY");
                if (!freopen(fx.log, "w", stderr))
                        _exit(127);
                execv(exe, (char *const *)argv);
                _exit(127);
        }
}

/* reactord's stderr so far (a static buffer). */
static const char *log_text(void)
{
        static char buf[65536];
        size_t n;
        FILE *f = fopen(fx.log, "re");

        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return buf;
}

/* Wait until reactord's stderr contains `what`. */
static void wait_log(const char *what)
{
        for (double deadline = now() + TIMEOUT; !strstr(log_text(), what); usleep(10000))
                ck_assert_msg(now() < deadline, "no '%s' on reactord's stderr:\n%s", what,
                              log_text());
}

static void wait_notify(const char *what)
{
        ck_assert_msg(notify_next(fx.fd, what, TIMEOUT), "no %s from reactord:\n%s", what,
                      log_text());
}

/*
 * The socket file of an ipc:// endpoint, whose accepted connections are the
 * clients' own and are left out of the leak check; NULL for tcp://, where
 * nothing tells a client's connection apart: its descriptors are compared
 * once the clients are gone, and procfd_expect() waits for reactord to notice.
 */
static const char *bus_path(void)
{
        return strncmp(fx.endpoint, "ipc://", 6) == 0 ? fx.endpoint + 6 : NULL;
}

/* Start reactord and wait until it serves; fx.endpoint is then the endpoint it bound. */
static void start(const char *const *args)
{
        const char *p, *e;

        spawn(args);
        wait_notify("READY=1");
        /* "reactord VERSION serving ENDPOINT[ with CURVE]", the line READY=1 follows. */
        p = strstr(log_text(), "notice: reactord ");
        ck_assert_ptr_nonnull(p);
        p = strstr(p, " serving ");
        ck_assert_ptr_nonnull(p);
        p += strlen(" serving ");
        e = p + strcspn(p, " \n");
        ck_assert_int_lt(e - p, (int)sizeof(fx.endpoint));
        snprintf(fx.endpoint, sizeof(fx.endpoint), "%.*s", (int)(e - p), p);
        /* Serving, and no client has connected yet: what it holds now is its baseline. */
        procfd_baseline(fx.daemon, bus_path(), &fx.fds);
}

/* reactord with CURVE on a free loopback port. */
static void start_curve(void)
{
        start((const char *const[]){ "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key",
                                     fx.server_key, "--curve-allow", fx.allow, NULL });
        ck_assert_msg(strstr(log_text(), " with CURVE"), "%s", log_text());
}

static int wait_exit(void)
{
        int status = plain_wait_exit(fx.daemon, TIMEOUT);

        ck_assert_msg(status != -1, "reactord did not exit");
        fx.daemon = -1;
        return status;
}

/* A session with `key` (DIR/key.key), or the error its hello got. */
static int connect_as(const char *key, double timeout, rd_client **ret)
{
        char path[PATH_MAX + 16], name[64];
        rd_client_options o = { .name = name, .timeout = timeout };

        snprintf(name, sizeof(name), "%s", key ? key : "plain");
        if (key) {
                snprintf(path, sizeof(path), "%s/%s.key", fx.dir, key);
                o.server_key = fx.server_pub;
                o.key = path;
        }
        *ret = NULL;
        return rd_client_new(fx.endpoint, &o, ret);
}

/* The caller's reactor.info. */
static rd_reply *info(rd_client *c)
{
        rd_reply *r = NULL;

        ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, &r), 0);
        return r;
}

static uint64_t n_sessions(rd_client *c)
{
        rd_reply *r = info(c);
        uint64_t n = rd_value_get_uint(rd_reply_result(r), "sessions", 0);

        rd_reply_free(r);
        return n;
}

static void move_key(const char *name, const char *to)
{
        char from[PATH_MAX + 16], dest[PATH_MAX + 16];

        ck_assert_int_lt(snprintf(from, sizeof(from), "%s/%s.pub", fx.dir, name),
                         (int)sizeof(from));
        ck_assert_int_lt(snprintf(dest, sizeof(dest), "%s/%s.pub", to, name), (int)sizeof(dest));
        ck_assert_int_eq(rename(from, dest), 0);
}

/* SIGHUP, then RELOADING=1 and READY=1 in that order. */
static void reload(void)
{
        ck_assert_int_eq(kill(fx.daemon, SIGHUP), 0);
        wait_notify("RELOADING=1");
        wait_notify("READY=1");
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/*
 * Every test's directory is made inside one for the whole run, which the
 * unchecked teardown (in the parent process) removes: a failed assertion ends
 * a forked test at once, before its own teardown.
 */
static char base[PATH_MAX];

static void suite_setup(void)
{
        const char *tmp = getenv("TMPDIR");

        snprintf(base, sizeof(base), "%s/test-curve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(base));
}

static void suite_teardown(void)
{
        nftw(base, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Idempotent: setup runs it too, for what a failed test left without forking. */
static void cleanup(void)
{
        if (fx.daemon > 0) {
                kill(fx.daemon, SIGKILL);
                while (waitpid(fx.daemon, NULL, 0) < 0 && errno == EINTR)
                        ;
                fx.daemon = -1;
        }
        if (fx.fd >= 0) {
                close(fx.fd);
                fx.fd = -1;
        }
        if (fx.dir[0]) {
                nftw(fx.dir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
                fx.dir[0] = '\0';
        }
        procfd_done(&fx.fds);
}

/*
 * The test's clients are gone by now: reactord, if it still runs, holds the
 * descriptors it held once it served, or the test fails listing the leaked ones.
 */
static void teardown(void)
{
        if (fx.fds.n > 0 && fx.daemon > 0) {
                if (waitpid(fx.daemon, NULL, WNOHANG) == 0)
                        procfd_expect(fx.daemon, bus_path(), &fx.fds, TIMEOUT, "the teardown");
                else
                        fx.daemon = -1; /* ended by the test */
        }
        cleanup();
}

static void setup(void)
{
        cleanup();
        memset(&fx, 0, sizeof(fx));
        fx.daemon = -1;
        fx.fd = -1;
        ck_assert_int_lt(snprintf(fx.dir, sizeof(fx.dir), "%s/t-XXXXXX", base),
                         (int)sizeof(fx.dir));
        ck_assert_ptr_nonnull(mkdtemp(fx.dir));
        fx.fd = notify_listen(fx.dir, fx.notify, sizeof(fx.notify));
        path_of(fx.log, sizeof(fx.log), "stderr");
        path_of(fx.allow, sizeof(fx.allow), "allow");
        path_of(fx.server_key, sizeof(fx.server_key), "server.key");
        path_of(fx.server_pub, sizeof(fx.server_pub), "server.pub");
        ck_assert_int_eq(mkdir(fx.allow, 0700), 0);
        unsetenv("REACTORD_SERVER_KEY");
        unsetenv("REACTORD_KEY");

        /* reactord's key pair, alice (allowed) and mallory (not). */
        keygen("server");
        keygen("alice");
        keygen("mallory");
        move_key("alice", fx.allow);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* keygen: NAME.key (0600, both keys) and NAME.pub (the public key); never overwritten. */
START_TEST(test_keygen)
{
        const char *ctl = getenv("REACTORCTL");
        char key_path[PATH_MAX + 16], pub_path[PATH_MAX + 16], out[PATH_MAX + 16], text[64];
        rd_curve_key pair, pub;
        struct stat st;
        FILE *f;
        int status;

        path_of(key_path, sizeof(key_path), "alice.key");
        ck_assert_int_lt(snprintf(pub_path, sizeof(pub_path), "%s/alice.pub", fx.allow),
                         (int)sizeof(pub_path));
        ck_assert_int_eq(stat(key_path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        ck_assert_int_eq(stat(pub_path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0133, 0); /* 0644 at most: the umask may take more */

        /* The .key holds both halves; the .pub the public one alone, one line. */
        ck_assert_int_eq(rd_curve_key_read(key_path, &pair), 0);
        ck_assert_uint_eq(strlen(pair.public_key), RD_CURVE_KEY_Z85_LEN);
        ck_assert_uint_eq(strlen(pair.secret_key), RD_CURVE_KEY_Z85_LEN);
        ck_assert_int_eq(rd_curve_key_read(pub_path, &pub), 0);
        ck_assert_str_eq(pub.public_key, pair.public_key);
        ck_assert_str_eq(pub.secret_key, "");
        f = fopen(pub_path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fread(text, 1, sizeof(text), f), RD_CURVE_KEY_Z85_LEN + 1);
        fclose(f);
        ck_assert_int_eq(text[RD_CURVE_KEY_Z85_LEN], '\n');

        /* A second keygen of the same name fails and changes nothing. */
        path_of(out, sizeof(out), "mallory");
        status = run((const char *const[]){ ctl, "keygen", "--out", out, NULL }, "keygen.out");
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 1);
        path_of(key_path, sizeof(key_path), "mallory.key");
        ck_assert_int_eq(rd_curve_key_read(key_path, &pair), 0);
        path_of(pub_path, sizeof(pub_path), "mallory.pub");
        ck_assert_int_eq(rd_curve_key_read(pub_path, &pub), 0);
        ck_assert_str_eq(pub.public_key, pair.public_key);
}
END_TEST

static int on_timer(rd_client *c, void *userdata)
{
        (*(int *)userdata)++;
        rd_client_stop(c);
        return 0;
}

/* An allowed key: a session that pings and runs a timer, shown as the key's name. */
START_TEST(test_allowed)
{
        rd_client *c = NULL;
        rd_reply *r;
        const rd_value *s;
        int fired = 0;

        start_curve();
        ck_assert_int_eq(connect_as("alice", TIMEOUT, &c), 0);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        ck_assert_int_eq(rd_client_call_later(c, 0.01, on_timer, &fired, NULL), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(fired, 1);

        r = info(c);
        ck_assert(rd_value_str_eq(rd_value_get(rd_reply_result(r), "endpoint"), fx.endpoint));
        s = rd_value_get(rd_reply_result(r), "session");
        ck_assert(rd_value_str_eq(rd_value_get(s, "user"), "alice"));
        ck_assert(rd_value_str_eq(rd_value_get(s, "name"), "alice"));
        ck_assert(rd_value_str_eq(rd_value_get(s, "address"), "127.0.0.1"));
        /* A tcp peer has no credentials: never taken for root. */
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "uid")), RD_VALUE_NIL);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "pid")), RD_VALUE_NIL);
        rd_reply_free(r);
        wait_log("CURVE client alice from 127.0.0.1 accepted");
        rd_client_free(c);
}
END_TEST

/* A key that is not in the allow directory: refused by the ZAP handler, no session. */
START_TEST(test_unknown_key)
{
        char pub_path[PATH_MAX + 16], line[256];
        rd_client *alice = NULL, *mallory = NULL;
        rd_curve_key k;

        start_curve();
        ck_assert_int_eq(connect_as("mallory", REFUSED_TIMEOUT, &mallory), -ETIMEDOUT);
        ck_assert_ptr_null(mallory);
        path_of(pub_path, sizeof(pub_path), "mallory.pub");
        ck_assert_int_eq(rd_curve_key_read(pub_path, &k), 0);
        snprintf(line, sizeof(line), "refused a CURVE client from 127.0.0.1: its key %s is not in",
                 k.public_key);
        wait_log(line);

        ck_assert_int_eq(connect_as("alice", TIMEOUT, &alice), 0);
        ck_assert_uint_eq(n_sessions(alice), 1);
        ck_assert_ptr_null(strstr(log_text(), "(mallory) opened"));
        rd_client_free(alice);
}
END_TEST

/* A client without CURVE cannot complete the handshake with a CURVE server. */
START_TEST(test_plain_client)
{
        rd_client *alice = NULL, *plain = NULL;

        start_curve();
        ck_assert_int_eq(connect_as(NULL, REFUSED_TIMEOUT, &plain), -ETIMEDOUT);
        ck_assert_int_eq(connect_as("alice", TIMEOUT, &alice), 0);
        ck_assert_uint_eq(n_sessions(alice), 1);
        ck_assert_ptr_null(strstr(log_text(), "(plain) opened"));
        rd_client_free(alice);
}
END_TEST

/* The client library checks its key files before connecting. */
START_TEST(test_client_key_errors)
{
        char path[PATH_MAX + 16];
        rd_client_options o = { .timeout = REFUSED_TIMEOUT, .server_key = fx.server_pub };
        rd_client *c = NULL;

        start_curve();
        /* A server key without a key pair of our own. */
        ck_assert_int_eq(rd_client_new(fx.endpoint, &o, &c), -ENOKEY);
        /* A public key where the key pair belongs. */
        o.key = fx.server_pub;
        ck_assert_int_eq(rd_client_new(fx.endpoint, &o, &c), -ENOKEY);
        /* Not a key file at all. */
        o.key = fx.log;
        ck_assert_int_eq(rd_client_new(fx.endpoint, &o, &c), -EINVAL);
        o.key = path_of(path, sizeof(path), "missing.key");
        ck_assert_int_eq(rd_client_new(fx.endpoint, &o, &c), -ENOENT);
        /* The environment is read when the options say nothing. */
        o = (rd_client_options){ .timeout = TIMEOUT };
        setenv("REACTORD_SERVER_KEY", fx.server_pub, 1);
        setenv("REACTORD_KEY", path_of(path, sizeof(path), "alice.key"), 1);
        ck_assert_int_eq(rd_client_new(fx.endpoint, &o, &c), 0);
        unsetenv("REACTORD_SERVER_KEY");
        unsetenv("REACTORD_KEY");
        rd_client_free(c);
}
END_TEST

/* reactorctl with --server-key and --key (and so its gateway, which connects the same way). */
START_TEST(test_reactorctl)
{
        const char *ctl = getenv("REACTORCTL");
        char alice[PATH_MAX + 16], mallory[PATH_MAX + 16], out[PATH_MAX + 16];
        int status;
        FILE *f;
        size_t n;
        char text[4096];

        start_curve();
        path_of(alice, sizeof(alice), "alice.key");
        path_of(mallory, sizeof(mallory), "mallory.key");
        status =
                run((const char *const[]){ ctl, "--endpoint", fx.endpoint, "--json", "--server-key",
                                           fx.server_pub, "--key", alice, "info", NULL },
                    "ctl.out");
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        f = fopen(path_of(out, sizeof(out), "ctl.out"), "re");
        ck_assert_ptr_nonnull(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        ck_assert_msg(strstr(text, "\"user\":\"alice\""), "%s", text);

        /* A key reactord does not allow: unreachable (3), and no session. */
        status = run((const char *const[]){ ctl, "--endpoint", fx.endpoint, "--timeout", "1",
                                            "--server-key", fx.server_pub, "--key", mallory, "ping",
                                            NULL },
                     "ctl.out");
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 3);
        /* A server key without a key pair of our own: a usage error, before connecting. */
        status = run((const char *const[]){ ctl, "--endpoint", fx.endpoint, "--server-key",
                                            fx.server_pub, "ping", NULL },
                     "ctl.out");
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 2);
}
END_TEST

/* Plain tcp:// is refused at start: exit status 2 and why. */
START_TEST(test_plain_tcp_refused)
{
        int status;

        spawn((const char *const[]){ "--endpoint", "tcp://127.0.0.1:*", NULL });
        status = wait_exit();
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 2);
        ck_assert_msg(strstr(log_text(), "tcp:// is served only with CURVE"), "%s", log_text());
        ck_assert_msg(!notify_next(fx.fd, "READY=1", 0.2), "READY=1 without CURVE");
}
END_TEST

/* --allow-insecure-tcp: served without CURVE, with a warning. */
START_TEST(test_insecure_tcp)
{
        rd_client *c = NULL;
        rd_reply *r;
        const rd_value *s;

        start((const char *const[]){ "--endpoint", "tcp://127.0.0.1:*", "--allow-insecure-tcp",
                                     NULL });
        ck_assert_msg(strstr(log_text(), "WITHOUT authentication or encryption"), "%s", log_text());
        ck_assert_int_eq(connect_as(NULL, TIMEOUT, &c), 0);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        r = info(c);
        s = rd_value_get(rd_reply_result(r), "session");
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "user")), RD_VALUE_NIL);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "uid")), RD_VALUE_NIL);
        rd_reply_free(r);
        rd_client_free(c);
}
END_TEST

/* Bad security settings stop reactord at start, each with its reason. */
START_TEST(test_bad_settings)
{
        char missing[PATH_MAX + 16];
        const struct {
                const char *args[8];
                int status;
                const char *message;
        } cases[] = {
                { { "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key", fx.server_key, NULL },
                  2,
                  "CURVE needs both" },
                { { "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key", fx.server_pub,
                    "--curve-allow", fx.allow, NULL },
                  1,
                  "holds no secret key" },
                { { "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key", fx.log,
                    "--curve-allow", fx.allow, NULL },
                  1,
                  "is not a CURVE key file" },
                { { "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key", fx.server_key,
                    "--curve-allow", path_of(missing, sizeof(missing), "none"), NULL },
                  1,
                  "cannot read the allow directory" },
                { { "--endpoint", "udp://127.0.0.1:5555", NULL },
                  2,
                  "only ipc:// and tcp:// endpoints are served" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int status;

                spawn(cases[i].args);
                status = wait_exit();
                ck_assert(WIFEXITED(status));
                ck_assert_int_eq(WEXITSTATUS(status), cases[i].status);
                ck_assert_msg(strstr(log_text(), cases[i].message), "case %zu: %s", i, log_text());
        }
}
END_TEST

/* The configuration file's keys, and SIGHUP: a key added lets its client in. */
START_TEST(test_config_and_reload)
{
        char config[PATH_MAX + 16];
        rd_client *alice = NULL, *mallory = NULL;
        rd_reply *r;
        FILE *f;

        path_of(config, sizeof(config), "reactord.conf");
        f = fopen(config, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "endpoint = tcp://127.0.0.1:*\ncurve-secret-key = %s\ncurve-allow = %s\n",
                fx.server_key, fx.allow);
        ck_assert_int_eq(fclose(f), 0);
        start((const char *const[]){ "--config", config, NULL });
        ck_assert_msg(strstr(log_text(), " with CURVE"), "%s", log_text());

        ck_assert_int_eq(connect_as("mallory", REFUSED_TIMEOUT, &mallory), -ETIMEDOUT);
        move_key("mallory", fx.allow);
        reload();
        ck_assert_int_eq(connect_as("mallory", TIMEOUT, &mallory), 0);
        r = info(mallory);
        ck_assert(rd_value_str_eq(rd_value_get(rd_value_get(rd_reply_result(r), "session"), "user"),
                                  "mallory"));
        rd_reply_free(r);
        ck_assert_int_eq(connect_as("alice", TIMEOUT, &alice), 0);
        ck_assert_uint_eq(n_sessions(alice), 2);
        rd_client_free(alice);
        rd_client_free(mallory);
}
END_TEST

static int on_any(rd_client *c, const rd_client_event *ev, void *userdata)
{
        if (strcmp(ev->name, "session.closed") == 0) {
                const char *s;
                size_t n;

                if (rd_value_str(rd_value_get(ev->payload, "reason"), &s, &n) == 0)
                        snprintf(userdata, 64, "%.*s", (int)n, s);
                rd_client_stop(c);
        }
        return 0;
}

/* SIGHUP after a key is removed: its sessions end ("key revoked") and it cannot come back. */
START_TEST(test_revoke)
{
        char pub[PATH_MAX + 16], reason[64] = "";
        rd_client *alice = NULL, *again = NULL;

        start_curve();
        ck_assert_int_eq(connect_as("alice", TIMEOUT, &alice), 0);
        ck_assert_int_eq(rd_client_on_any(alice, on_any, reason), 0);
        ck_assert_int_lt(snprintf(pub, sizeof(pub), "%s/alice.pub", fx.allow), (int)sizeof(pub));
        ck_assert_int_eq(unlink(pub), 0);
        reload();
        wait_log("the key of 'alice' is no longer allowed");
        /* The session.closed event ends the run: bounded by the lease, not by a timer here. */
        (void)rd_client_run(alice);
        ck_assert_str_eq(reason, "key revoked");
        ck_assert_int_eq(connect_as("alice", REFUSED_TIMEOUT, &again), -ETIMEDOUT);
        rd_client_free(alice);
}
END_TEST

/* An ipc client is shown with its credentials, and no key name. */
START_TEST(test_ipc_identity)
{
        char endpoint[PATH_MAX + 16];
        rd_client *c = NULL;
        rd_reply *r;
        const rd_value *s;

        snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", fx.dir);
        start((const char *const[]){ "--endpoint", endpoint, NULL });
        ck_assert_int_eq(connect_as(NULL, TIMEOUT, &c), 0);
        r = info(c);
        s = rd_value_get(rd_reply_result(r), "session");
        ck_assert_uint_eq(rd_value_get_uint(s, "uid", UINT64_MAX), getuid());
        ck_assert_uint_eq(rd_value_get_uint(s, "gid", UINT64_MAX), getgid());
        ck_assert_uint_eq(rd_value_get_uint(s, "pid", 0), (uint64_t)getpid());
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "user")), RD_VALUE_NIL);
        ck_assert_int_eq(rd_value_type_of(rd_value_get(s, "address")), RD_VALUE_NIL);
        rd_reply_free(r);
        rd_client_free(c);
}
END_TEST

static Suite *curve_suite(void)
{
        Suite *s = suite_create("curve");
        TCase *tc = tcase_create("curve");

        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_keygen);
        tcase_add_test(tc, test_allowed);
        tcase_add_test(tc, test_unknown_key);
        tcase_add_test(tc, test_plain_client);
        tcase_add_test(tc, test_client_key_errors);
        tcase_add_test(tc, test_reactorctl);
        tcase_add_test(tc, test_plain_tcp_refused);
        tcase_add_test(tc, test_insecure_tcp);
        tcase_add_test(tc, test_bad_settings);
        tcase_add_test(tc, test_config_and_reload);
        tcase_add_test(tc, test_revoke);
        tcase_add_test(tc, test_ipc_identity);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(curve_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
