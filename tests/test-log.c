/* SPDX-License-Identifier: MIT */
/*
 * Logging: the plain stderr line, structured records through a sink, the
 * session's fields, the journal's field format, and $JOURNAL_STREAM.
 *
 * The "journal" case runs a real reactord whose stderr is a journal stream
 * ($JOURNAL_STREAM names it) against a journal socket of the test's own:
 * in a private mount namespace, a tmpfs over /run/systemd holds a datagram
 * socket at /run/systemd/journal/socket, where sd_journal_sendv(3) sends.
 * Where mount namespaces are not available (no privilege) that case says so
 * and passes without checking anything. It is also a leak test: reactord's
 * descriptors once it served are its descriptors again when the test's client
 * has gone (tests/procfd.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/log.h"
#include "broker/journal.h"
#include "broker/session.h"
#include "procfd.h"
#include "reactord/client.h"

/* ---- a sink that keeps the last record -------------------------------------------------- */

static struct {
        unsigned n;              /* records seen */
        rd_log_level level;      /* of the last one */
        char message[1024];      /* its text */
        char file[256];          /* its place */
        int line;                /* ... */
        char func[64];           /* ... */
        char fields[16][2][128]; /* its fields, key and value */
        size_t n_fields;         /* how many */
} seen;

static void record(const rd_log_record *rec, void *userdata)
{
        ck_assert_ptr_eq(userdata, &seen);
        seen.n++;
        seen.level = rec->level;
        snprintf(seen.message, sizeof(seen.message), "%s", rec->message);
        snprintf(seen.file, sizeof(seen.file), "%s", rec->file);
        seen.line = rec->line;
        snprintf(seen.func, sizeof(seen.func), "%s", rec->func);
        ck_assert_uint_le(rec->n_fields, 16);
        seen.n_fields = rec->n_fields;
        for (size_t i = 0; i < rec->n_fields; i++) {
                snprintf(seen.fields[i][0], sizeof(seen.fields[i][0]), "%s", rec->fields[i].key);
                snprintf(seen.fields[i][1], sizeof(seen.fields[i][1]), "%s", rec->fields[i].value);
        }
}

/* The value of field `key` in the last record, or NULL. */
static const char *field(const char *key)
{
        for (size_t i = 0; i < seen.n_fields; i++)
                if (strcmp(seen.fields[i][0], key) == 0)
                        return seen.fields[i][1];
        return NULL;
}

static void sink_setup(void)
{
        memset(&seen, 0, sizeof(seen));
        rd_log_set_level(RD_LOG_DEBUG);
        rd_log_set_ident("test");
        rd_log_set_sink(record, &seen);
}

static void sink_teardown(void)
{
        rd_log_set_sink(NULL, NULL);
        rd_log_set_ident(NULL);
        rd_log_set_level(RD_LOG_NOTICE);
}

/* ---- unit tests ------------------------------------------------------------------------- */

/* Without a sink a record is the plain line on stderr, as it always was. */
START_TEST(test_stderr_line)
{
        char path[] = "/tmp/test-log-XXXXXX", buf[256] = "";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        ssize_t n;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(saved, 0);
        unlink(path);
        rd_log_set_sink(NULL, NULL);
        rd_log_set_level(RD_LOG_NOTICE);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(log_warning("hello %d", 42), 0);
        ck_assert_int_eq(log_error_errno(-ENOENT, "gone"), -ENOENT);
        log_debug("not shown at notice");
        ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        ck_assert_int_gt(n, 0);
        ck_assert_str_eq(buf, "test: warning: hello 42\ntest: error: gone\n");
}
END_TEST

/* A sink gets the text, the level and the place, and the fields in order. */
START_TEST(test_sink_record)
{
        rd_log_fields f = RD_LOG_FIELDS_INIT;
        int line;

        rd_log_fields_add(&f, "REACTORD_METHOD", "%s", "timer.start");
        rd_log_fields_add(&f, "REACTORD_HANDLE", "%d", 7);
        line = __LINE__ + 1;
        ck_assert_int_eq(rd_log_full(RD_LOG_INFO, -EIO, &f, "about %s", "this"), -EIO);
        ck_assert_uint_eq(seen.n, 1);
        ck_assert_int_eq(seen.level, RD_LOG_INFO);
        ck_assert_str_eq(seen.message, "about this");
        ck_assert_ptr_nonnull(strstr(seen.file, "test-log.c"));
        ck_assert_int_eq(seen.line, line);
        ck_assert_str_eq(seen.func, "test_sink_record_fn");
        ck_assert_uint_eq(seen.n_fields, 2);
        ck_assert_str_eq(seen.fields[0][0], "REACTORD_METHOD");
        ck_assert_str_eq(seen.fields[0][1], "timer.start");
        ck_assert_str_eq(seen.fields[1][0], "REACTORD_HANDLE");
        ck_assert_str_eq(seen.fields[1][1], "7");

        /* The plain macros carry the place and no fields. */
        log_notice("plain");
        ck_assert_uint_eq(seen.n, 2);
        ck_assert_uint_eq(seen.n_fields, 0);
        ck_assert_str_eq(seen.func, "test_sink_record_fn");

        /* Below the level nothing is formatted or sent. */
        rd_log_set_level(RD_LOG_WARNING);
        log_info("hidden");
        ck_assert_uint_eq(seen.n, 2);
}
END_TEST

/* Fields past the cap, or values past the buffer, are left out; the rest stay whole. */
START_TEST(test_fields_overflow)
{
        rd_log_fields f = RD_LOG_FIELDS_INIT;
        char big[1024];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        rd_log_fields_add(&f, "A", "%s", "1");
        rd_log_fields_add(&f, "BIG", "%s", big); /* larger than the whole buffer */
        ck_assert_uint_eq(f.n, 1);
        for (int i = 0; i < 2 * RD_LOG_FIELDS_MAX; i++)
                rd_log_fields_add(&f, "N", "%d", i);
        ck_assert_uint_eq(f.n, RD_LOG_FIELDS_MAX);
        ck_assert_str_eq(f.field[0].value, "1");
        ck_assert_str_eq(f.field[1].value, "0");
        ck_assert_str_eq(f.field[RD_LOG_FIELDS_MAX - 1].value, "6");
}
END_TEST

/* A session's fields: its id always, the client's name and pid when known. */
START_TEST(test_session_fields)
{
        rd_session s = { .id = 42, .name = (char *)"worker", .has_cred = true, .peer_pid = 4242 };
        rd_session anon = { .id = 43 };

        log_session(RD_LOG_NOTICE, &s, "session %" PRIu64 " did a thing", s.id);
        ck_assert_str_eq(seen.message, "session 42 did a thing");
        ck_assert_str_eq(field("REACTORD_SESSION"), "42");
        ck_assert_str_eq(field("REACTORD_CLIENT"), "worker");
        ck_assert_str_eq(field("REACTORD_CLIENT_PID"), "4242");
        ck_assert_str_eq(seen.func, "test_session_fields_fn");

        log_session(RD_LOG_NOTICE, &anon, "anonymous");
        ck_assert_str_eq(field("REACTORD_SESSION"), "43");
        ck_assert_ptr_null(field("REACTORD_CLIENT"));
        ck_assert_ptr_null(field("REACTORD_CLIENT_PID"));

        log_session(RD_LOG_NOTICE, NULL, "no session");
        ck_assert_uint_eq(seen.n_fields, 0);
}
END_TEST

/* The journal's fields: fixed ones first, then the record's, each "KEY=value". */
START_TEST(test_journal_entry)
{
        rd_log_field fields[] = { { "REACTORD_SESSION", "3" }, { "REACTORD_METHOD", "x.y" } };
        rd_log_record rec = {
                .level = RD_LOG_WARNING,
                .ident = "reactord",
                .file = "broker/session.c",
                .line = 120,
                .func = "rd_session_new",
                .fields = fields,
                .n_fields = 2,
                .message = "hello\nworld",
        };
        static const char *const expected[] = {
                "MESSAGE=hello\nworld",       "PRIORITY=4",
                "CODE_FILE=broker/session.c", "CODE_LINE=120",
                "CODE_FUNC=rd_session_new",   "SYSLOG_IDENTIFIER=reactord",
                "REACTORD_SESSION=3",         "REACTORD_METHOD=x.y",
        };
        rd_journal_entry e;
        char long_message[4096];

        rd_journal_entry_format(&e, &rec);
        ck_assert_uint_eq(e.n, 8);
        for (size_t i = 0; i < e.n; i++) {
                ck_assert_uint_eq(e.iov[i].iov_len, strlen(expected[i]));
                ck_assert(memcmp(e.iov[i].iov_base, expected[i], e.iov[i].iov_len) == 0);
        }

        /* A message longer than the buffer is cut short; the fields after it have no room. */
        memset(long_message, 'm', sizeof(long_message) - 1);
        long_message[sizeof(long_message) - 1] = '\0';
        rec.message = long_message;
        rd_journal_entry_format(&e, &rec);
        ck_assert_uint_ge(e.n, 1);
        ck_assert_uint_eq(e.iov[0].iov_len, sizeof(e.buf) - 1);
        ck_assert(memcmp(e.iov[0].iov_base, "MESSAGE=mmm", 11) == 0);
}
END_TEST

/* $JOURNAL_STREAM counts only when it names stderr itself. */
START_TEST(test_stderr_is_journal)
{
        struct stat st;
        char v[64];

        ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
        unsetenv("JOURNAL_STREAM");
        ck_assert(!rd_log_stderr_is_journal());
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", v, 1);
        ck_assert(rd_log_stderr_is_journal());
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino + 1);
        setenv("JOURNAL_STREAM", v, 1);
        ck_assert(!rd_log_stderr_is_journal());
        setenv("JOURNAL_STREAM", "garbage", 1);
        ck_assert(!rd_log_stderr_is_journal());
        snprintf(v, sizeof(v), "%llu:%lluX", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", v, 1);
        ck_assert(!rd_log_stderr_is_journal());
        unsetenv("JOURNAL_STREAM");
}
END_TEST

/* ---- a real reactord writing to a journal socket of ours ---------------------------------- */

#define TIMEOUT     30.0
#define JOURNAL_DIR "/run/systemd"

static struct {
        char dir[PATH_MAX]; /* the daemon's endpoint directory */
        char endpoint[PATH_MAX + 16];
        char bus[PATH_MAX + 8]; /* the endpoint's socket file */
        procfd_set fds;         /* reactord's descriptors once it served */
        pid_t daemon;           /* reactord */
        int journal;            /* the datagram socket reactord's records reach */
        int err;                /* the read end of reactord's stderr */
        char *entries;          /* every datagram so far, each followed by "\n\x1e\n" */
        size_t len;             /* bytes of entries */
} jx;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/*
 * In the child: a private mount namespace where /run/systemd is a tmpfs of
 * ours, with `journal` bound at its journal socket. Returns false when that
 * is not possible here.
 */
static bool private_journal(int journal)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;

        if (stat(JOURNAL_DIR, &st) < 0 || !S_ISDIR(st.st_mode))
                return false;
        if (unshare(CLONE_NEWNS) < 0)
                return false;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", JOURNAL_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return false;
        if (mkdir(JOURNAL_DIR "/journal", 0755) < 0)
                return false;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", JOURNAL_DIR "/journal/socket");
        return bind(journal, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* Start reactord with stderr a pipe that $JOURNAL_STREAM names; false when not possible here. */
static bool journal_spawn(void)
{
        const char *exe = getenv("REACTORD"), *tmp = getenv("TMPDIR");
        int err[2], ready[2];
        char ok = 0;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        snprintf(jx.dir, sizeof(jx.dir), "%s/test-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(jx.dir));
        ck_assert_int_lt(snprintf(jx.endpoint, sizeof(jx.endpoint), "ipc://%s/bus", jx.dir),
                         (int)sizeof(jx.endpoint));
        ck_assert_int_lt(snprintf(jx.bus, sizeof(jx.bus), "%s/bus", jx.dir), (int)sizeof(jx.bus));
        jx.journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(jx.journal, 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        jx.err = err[0];

        jx.daemon = fork();
        ck_assert_int_ge(jx.daemon, 0);
        if (jx.daemon == 0) {
                struct stat st;
                char stream[64];

                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
                ok = private_journal(jx.journal);
                (void)!write(ready[1], &ok, 1);
                if (!ok)
                        _exit(0);
                if (dup2(err[1], STDERR_FILENO) < 0 || fstat(STDERR_FILENO, &st) < 0)
                        _exit(127);
                snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
                         (unsigned long long)st.st_ino);
                setenv("JOURNAL_STREAM", stream, 1);
                execl(exe, exe, "--endpoint", jx.endpoint, "--log-level", "debug", (char *)NULL);
                _exit(127);
        }
        close(err[1]);
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &ok, 1), 1);
        close(ready[0]);
        if (!ok) {
                waitpid(jx.daemon, NULL, 0);
                jx.daemon = -1;
        }
        return ok;
}

/* Take every datagram that has arrived. */
static void journal_read(void)
{
        char buf[8192];
        ssize_t n;

        while ((n = recv(jx.journal, buf, sizeof(buf), 0)) > 0) {
                jx.entries = realloc(jx.entries, jx.len + (size_t)n + 4);
                ck_assert_ptr_nonnull(jx.entries);
                memcpy(jx.entries + jx.len, buf, (size_t)n);
                memcpy(jx.entries + jx.len + n, "\n\x1e\n", 4); /* a separator and a NUL */
                jx.len += (size_t)n + 3;
        }
}

/* The first datagram that holds every line of `lines` (NULL-terminated); NULL if none. */
static const char *journal_find(const char *const *lines)
{
        const char *e = jx.entries;

        while (e && e < jx.entries + jx.len) {
                const char *end = strstr(e, "\n\x1e\n");
                bool all = true;

                for (const char *const *l = lines; *l && all; l++) {
                        const char *hit = strstr(e, *l);
                        size_t n = strlen(*l);
                        /* A whole line: at the start of the datagram or after a newline. */
                        all = hit && hit < end && (hit == e || hit[-1] == '\n') && hit[n] == '\n';
                }
                if (all)
                        return e;
                e = end + 3;
        }
        return NULL;
}

static void journal_wait(const char *const *lines)
{
        double deadline = now() + TIMEOUT;

        for (;;) {
                struct pollfd p = { .fd = jx.journal, .events = POLLIN };

                journal_read();
                if (journal_find(lines))
                        return;
                ck_assert_msg(now() < deadline, "no journal record with %s", lines[0]);
                poll(&p, 1, 100);
        }
}

static void journal_setup(void)
{
        memset(&jx, 0, sizeof(jx));
        jx.daemon = -1;
        jx.journal = jx.err = -1;
        signal(SIGPIPE, SIG_IGN);
}

static void journal_teardown(void)
{
        if (jx.daemon > 0) {
                kill(jx.daemon, SIGTERM);
                waitpid(jx.daemon, NULL, 0);
        }
        if (jx.journal >= 0)
                close(jx.journal);
        if (jx.err >= 0)
                close(jx.err);
        if (jx.dir[0])
                nftw(jx.dir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(jx.entries);
        procfd_done(&jx.fds);
}

/*
 * Records reach the journal with their fields: a session's opening names the
 * session, the client and its pid; a failed request names the method and the handle;
 * a process's end names the handle and the session that owns it. stderr
 * stays silent meanwhile.
 */
START_TEST(test_journal)
{
        rd_client_options first = { .name = "journal-first", .timeout = TIMEOUT };
        rd_client_options opts = { .name = "journal-test", .timeout = TIMEOUT };
        char session[32], pid[32], handle[48];
        rd_reply *reply = NULL;
        rd_client *c = NULL;
        uint64_t h;
        char buf[256];
        int r = -EIO;

        if (!journal_spawn()) {
                fprintf(stderr, "test_journal: no private mount namespace here; not checked\n");
                return;
        }
        for (double deadline = now() + TIMEOUT; now() < deadline;) {
                ck_assert_int_eq(waitpid(jx.daemon, NULL, WNOHANG), 0);
                r = rd_client_new(jx.endpoint, &first, &c);
                if (r >= 0)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_msg(r >= 0, "reactord does not answer: %s", strerror(-r));
        /* Serving, and a first session came and went: what it holds now is its baseline. */
        c = rd_client_free(c);
        procfd_baseline(jx.daemon, jx.bus, &jx.fds);
        r = rd_client_new(jx.endpoint, &opts, &c);
        ck_assert_msg(r >= 0, "reactord does not answer: %s", strerror(-r));
        snprintf(session, sizeof(session), "REACTORD_SESSION=%" PRIu64, rd_client_session(c));
        snprintf(pid, sizeof(pid), "REACTORD_CLIENT_PID=%d", (int)getpid());

        journal_wait((const char *const[]){ "PRIORITY=6", "SYSLOG_IDENTIFIER=reactord",
                                            "CODE_FUNC=rd_api_session_hello", session,
                                            "REACTORD_CLIENT=journal-test", pid, NULL });

        /* A failing request, logged at debug level. */
        ck_assert_int_eq(rd_client_callv(c, "handle.close", NULL, RD_UINT("handle", 987654)),
                         -ENOENT);
        journal_wait((const char *const[]){ "PRIORITY=7", "REACTORD_METHOD=handle.close",
                                            "REACTORD_HANDLE=987654", session, pid, NULL });

        /* A process that ends: its handle and its owner's session. */
        ck_assert_int_eq(rd_client_callv(c, "process.spawn", &reply,
                                         RD_RAW("argv", "\x91\xa9/bin/true", 11)),
                         0);
        h = rd_value_get_uint(rd_reply_result(reply), "handle", 0);
        rd_reply_free(reply);
        snprintf(handle, sizeof(handle), "REACTORD_HANDLE=%" PRIu64, h);
        journal_wait((const char *const[]){ "CODE_FUNC=on_child", handle, session,
                                            "REACTORD_CLIENT=journal-test", NULL });

        rd_client_free(c);
        /* The session's process and everything else it owned are released. */
        procfd_expect(jx.daemon, jx.bus, &jx.fds, TIMEOUT, "the journal test");
        kill(jx.daemon, SIGTERM);
        ck_assert_int_eq(waitpid(jx.daemon, NULL, 0), jx.daemon);
        jx.daemon = -1;
        /* Everything went to the journal: nothing on stderr. */
        ck_assert_int_eq(read(jx.err, buf, sizeof(buf)), 0);
}
END_TEST

static Suite *log_suite(void)
{
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("records");
        TCase *tj = tcase_create("journal");

        tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
        tcase_add_test(tc, test_stderr_line);
        tcase_add_test(tc, test_sink_record);
        tcase_add_test(tc, test_fields_overflow);
        tcase_add_test(tc, test_session_fields);
        tcase_add_test(tc, test_journal_entry);
        tcase_add_test(tc, test_stderr_is_journal);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(tj, journal_setup, journal_teardown);
        tcase_set_timeout(tj, 120);
        tcase_add_test(tj, test_journal);
        suite_add_tcase(s, tj);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(log_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
