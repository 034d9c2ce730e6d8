/* SPDX-License-Identifier: MIT */
/*
 * The conformance exchanges of proto/conformance (see its README) replayed
 * through `reactorctl gateway`: each file against a fresh reactord, one
 * gateway session per file, every expectation matched by subset.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/decoder.h"
#include "proto/json.h"
#include "proto/writer.h"
#include "reactord/client.h"

#define MAX_FILES    64
#define MAX_SAVED    32
#define MAX_QUEUED   256
#define WAIT_SECONDS 5.0

static char *files[MAX_FILES];
static int n_files;
static const char *dir;

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- JSON values ----------------------------------------------------------------------------- */

/* A JSON text parsed into an rd_value, which lives as long as this. */
typedef struct json {
        rd_writer frame;
        rd_decoder *d;
        const rd_value *v;
} json;

/* Parse `text`; false (with `err` set) when it is not JSON. */
static bool json_parse(json *j, const char *text, char *err, size_t errlen)
{
        rd_writer w = RD_WRITER_INIT;
        rd_msg msg;

        *j = (json){ .frame = RD_WRITER_INIT };
        if (rd_json_to_msgpack(text, strlen(text), &w, err, errlen) < 0) {
                rd_writer_done(&w);
                return false;
        }
        /* Wrapped in a response, whose result may be any value. */
        rd_write_array(&j->frame, 4);
        rd_write_uint(&j->frame, RD_MSG_RESPONSE);
        rd_write_uint(&j->frame, 0);
        rd_write_nil(&j->frame);
        rd_write_raw(&j->frame, w.data, w.size);
        rd_writer_done(&w);
        ck_assert(!j->frame.failed);
        ck_assert_int_eq(rd_decoder_new(&j->d), 0);
        ck_assert_int_eq(rd_decoder_begin(j->d, j->frame.data, j->frame.size), 0);
        ck_assert_int_eq(rd_decoder_next(j->d, &msg), 1);
        j->v = msg.result;
        return true;
}

static void json_done(json *j)
{
        rd_decoder_free(j->d);
        rd_writer_done(&j->frame);
}

static char *to_json(const rd_value *v)
{
        char *s = NULL;
        ck_assert_int_eq(rd_json_from_value(v, &s), 0);
        return s;
}

/* Does `actual` match `expected` (README, "Matching")? */
static bool matches(const rd_value *expected, const rd_value *actual)
{
        rd_value_type te = rd_value_type_of(expected), ta = rd_value_type_of(actual);
        const char *s1, *s2;
        const void *p1, *p2;
        size_t n1, n2;
        double d1, d2;
        bool b1, b2;

        if (rd_value_str_eq(expected, "$any"))
                return true;
        switch (te) {
        case RD_VALUE_MAP:
                if (ta != RD_VALUE_MAP)
                        return false;
                for (size_t i = 0; i < rd_value_len(expected); i++) {
                        const rd_value *k = rd_value_key_at(expected, i), *found = NULL;
                        if (rd_value_str(k, &s1, &n1) < 0)
                                return false;
                        for (size_t j = 0; j < rd_value_len(actual); j++)
                                if (rd_value_str(rd_value_key_at(actual, j), &s2, &n2) == 0 &&
                                    n1 == n2 && memcmp(s1, s2, n1) == 0)
                                        found = rd_value_val_at(actual, j);
                        if (!found || !matches(rd_value_val_at(expected, i), found))
                                return false;
                }
                return true;
        case RD_VALUE_ARRAY:
                if (ta != RD_VALUE_ARRAY || rd_value_len(expected) != rd_value_len(actual))
                        return false;
                for (size_t i = 0; i < rd_value_len(expected); i++)
                        if (!matches(rd_value_at(expected, i), rd_value_at(actual, i)))
                                return false;
                return true;
        case RD_VALUE_UINT:
        case RD_VALUE_INT:
        case RD_VALUE_FLOAT:
                if (rd_value_double(expected, &d1) < 0 || rd_value_double(actual, &d2) < 0)
                        return false;
                if (te != RD_VALUE_FLOAT && ta != RD_VALUE_FLOAT && te == ta) {
                        /* Exact for integers beyond a double's precision. */
                        uint64_t u1, u2;
                        int64_t i1, i2;
                        if (te == RD_VALUE_UINT)
                                return rd_value_uint(expected, &u1) == 0 &&
                                       rd_value_uint(actual, &u2) == 0 && u1 == u2;
                        return rd_value_int(expected, &i1) == 0 && rd_value_int(actual, &i2) == 0 &&
                               i1 == i2;
                }
                return d1 == d2;
        case RD_VALUE_STR:
                return rd_value_str(expected, &s1, &n1) == 0 &&
                       rd_value_str(actual, &s2, &n2) == 0 && n1 == n2 && memcmp(s1, s2, n1) == 0;
        case RD_VALUE_BIN:
                return rd_value_bin(expected, &p1, &n1) == 0 &&
                       rd_value_bin(actual, &p2, &n2) == 0 && n1 == n2 && memcmp(p1, p2, n1) == 0;
        case RD_VALUE_BOOL:
                return rd_value_bool(expected, &b1) == 0 && rd_value_bool(actual, &b2) == 0 &&
                       b1 == b2;
        case RD_VALUE_NIL:
                return ta == RD_VALUE_NIL;
        default:
                return false;
        }
}

/* ---- reactord and the gateway ---------------------------------------------------------------- */

static char tmpdir[256];
static char endpoint[320];
static pid_t daemon_pid = -1;

static void setup(void)
{
        const char *exe = getenv("REACTORD");
        const char *tmp = getenv("TMPDIR");
        rd_client *c = NULL;
        int r = -1;

        ck_assert_msg(exe && *exe, "$REACTORD is not set");
        snprintf(tmpdir, sizeof(tmpdir), "%s/test-conformance-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", tmpdir);
        daemon_pid = fork();
        ck_assert_int_ge(daemon_pid, 0);
        if (daemon_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                execl(exe, exe, "--endpoint", endpoint, (char *)NULL);
                _exit(127);
        }
        for (double deadline = now() + 30; now() < deadline;) {
                ck_assert_int_eq(waitpid(daemon_pid, NULL, WNOHANG), 0);
                r = rd_client_new(endpoint, &(rd_client_options){ .timeout = 0.2 }, &c);
                if (r >= 0)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_msg(r >= 0, "reactord does not answer");
        rd_client_free(c);
}

static void teardown(void)
{
        char p[300];

        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
                daemon_pid = -1;
        }
        snprintf(p, sizeof(p), "%s/bus", tmpdir);
        (void)unlink(p);
        (void)rmdir(tmpdir);
}

typedef struct gateway {
        pid_t pid;
        int in;  /* its stdin */
        int out; /* its stdout */
        char buf[1 << 16];
        size_t len;
} gateway;

static void gateway_start(gateway *g)
{
        const char *exe = getenv("REACTORCTL");
        int in[2], out[2];

        ck_assert_msg(exe && *exe, "$REACTORCTL is not set");
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        g->pid = fork();
        ck_assert_int_ge(g->pid, 0);
        if (g->pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
                        _exit(126);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execl(exe, exe, "--endpoint", endpoint, "gateway", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        g->in = in[1];
        g->out = out[0];
        g->len = 0;
}

/* The next line of the gateway's output (caller frees), or NULL at EOF or after `deadline`. */
static char *gateway_line(gateway *g, double deadline)
{
        for (;;) {
                char *nl = memchr(g->buf, '\n', g->len);
                if (nl) {
                        char *line = strndup(g->buf, (size_t)(nl - g->buf));
                        ck_assert_ptr_nonnull(line);
                        g->len -= (size_t)(nl - g->buf) + 1;
                        memmove(g->buf, nl + 1, g->len);
                        return line;
                }
                double left = deadline - now();
                if (left <= 0)
                        return NULL;
                struct pollfd p = { .fd = g->out, .events = POLLIN };
                if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
                        continue;
                ck_assert_uint_lt(g->len, sizeof(g->buf));
                ssize_t k = read(g->out, g->buf + g->len, sizeof(g->buf) - g->len);
                if (k <= 0)
                        return NULL;
                g->len += (size_t)k;
        }
}

/* Close its stdin; it must exit 0. */
static void gateway_stop(gateway *g)
{
        int st;

        close(g->in);
        for (double deadline = now() + 30;;) {
                pid_t r = waitpid(g->pid, &st, WNOHANG);
                ck_assert_int_ge(r, 0);
                if (r == g->pid)
                        break;
                if (now() > deadline) {
                        kill(g->pid, SIGKILL);
                        waitpid(g->pid, &st, 0);
                        ck_abort_msg("reactorctl gateway did not exit at EOF");
                }
                usleep(10 * 1000);
        }
        close(g->out);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "gateway exit status %d", st);
}

/* ---- replaying a file ------------------------------------------------------------------------ */

typedef struct replay {
        const char *file;
        unsigned lineno;
        char *saved_name[MAX_SAVED]; /* "$NAME" */
        char *saved_json[MAX_SAVED]; /* its value as JSON */
        size_t n_saved;
        char *events[MAX_QUEUED]; /* event lines not yet matched */
        size_t n_events;
} replay;

/* `line` with every saved "$NAME" string replaced by its value (caller frees). */
static char *substitute(const replay *rp, const char *line)
{
        char *s = strdup(line);

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < rp->n_saved; i++) {
                char *at;
                const char *name = rp->saved_name[i], *val = rp->saved_json[i];
                while ((at = strstr(s, name))) {
                        size_t pre = (size_t)(at - s), nl = strlen(name);
                        char *t = malloc(strlen(s) - nl + strlen(val) + 1);
                        ck_assert_ptr_nonnull(t);
                        memcpy(t, s, pre);
                        strcpy(t + pre, val);
                        strcat(t, at + nl);
                        free(s);
                        s = t;
                }
        }
        return s;
}

/* Does the queued event line `ev` match `expected` ({event, payload})? */
static bool event_matches(const rd_value *expected, const char *ev)
{
        json a;
        char err[256];
        bool ok;

        ck_assert_msg(json_parse(&a, ev, err, sizeof(err)), "gateway wrote bad JSON: %s", ev);
        ok = matches(expected, a.v);
        json_done(&a);
        return ok;
}

/* Read gateway lines until the response `id`; events are queued on the way. */
static char *await_response(replay *rp, gateway *g, unsigned id)
{
        char want[32];

        snprintf(want, sizeof(want), "{\"id\":%u,", id);
        for (double deadline = now() + WAIT_SECONDS;;) {
                char *line = gateway_line(g, deadline);
                ck_assert_msg(line, "%s:%u: no response", rp->file, rp->lineno);
                if (strncmp(line, want, strlen(want)) == 0)
                        return line;
                ck_assert_msg(strncmp(line, "{\"event\":", 9) == 0, "%s:%u: unexpected line %s",
                              rp->file, rp->lineno, line);
                ck_assert_uint_lt(rp->n_events, MAX_QUEUED);
                rp->events[rp->n_events++] = line;
        }
}

static void step_send(replay *rp, gateway *g, const rd_value *step)
{
        const rd_value *send = rd_value_get(step, "send"), *expect = rd_value_get(step, "expect");
        const rd_value *exp_result = rd_value_get(expect, "result");
        const rd_value *exp_error = rd_value_get(expect, "error");
        const rd_value *save = rd_value_get(step, "save");
        char *method = to_json(rd_value_get(send, "method"));
        char *params = rd_value_get(send, "params") ? to_json(rd_value_get(send, "params")) : NULL;
        char *req = NULL, *resp;
        json a;
        char err[256];

        ck_assert_msg(expect && (exp_result || exp_error), "%s:%u: no expect.result/error",
                      rp->file, rp->lineno);
        ck_assert_int_ge(asprintf(&req, "{\"id\":%u,\"method\":%s%s%s}\n", rp->lineno, method,
                                  params ? ",\"params\":" : "", params ? params : ""),
                         0);
        ck_assert_int_eq(write(g->in, req, strlen(req)), (ssize_t)strlen(req));

        resp = await_response(rp, g, rp->lineno);
        ck_assert_msg(json_parse(&a, resp, err, sizeof(err)), "gateway wrote bad JSON: %s", resp);
        if (exp_result)
                ck_assert_msg(matches(exp_result, rd_value_get(a.v, "result")), "%s:%u: %s gets %s",
                              rp->file, rp->lineno, req, resp);
        else
                ck_assert_msg(matches(exp_error, rd_value_get(a.v, "error")), "%s:%u: %s gets %s",
                              rp->file, rp->lineno, req, resp);

        for (size_t i = 0; i < rd_value_len(save); i++) {
                const rd_value *k = rd_value_key_at(save, i), *field = rd_value_val_at(save, i);
                const char *ks, *fs;
                size_t kn, fn;
                ck_assert_int_eq(rd_value_str(k, &ks, &kn), 0);
                ck_assert_int_eq(rd_value_str(field, &fs, &fn), 0);
                char *fname = strndup(fs, fn);
                const rd_value *v = rd_value_get(rd_value_get(a.v, "result"), fname);
                ck_assert_msg(v, "%s:%u: no result.%s to save", rp->file, rp->lineno, fname);
                free(fname);
                ck_assert_uint_lt(rp->n_saved, MAX_SAVED);
                ck_assert_int_ge(asprintf(&rp->saved_name[rp->n_saved], "\"$%.*s\"", (int)kn, ks),
                                 0);
                rp->saved_json[rp->n_saved++] = to_json(v);
        }
        json_done(&a);
        free(resp);
        free(req);
        free(method);
        free(params);
}

static void step_event(replay *rp, gateway *g, const rd_value *expected)
{
        for (size_t i = 0; i < rp->n_events; i++)
                if (event_matches(expected, rp->events[i])) {
                        free(rp->events[i]);
                        memmove(&rp->events[i], &rp->events[i + 1],
                                (rp->n_events - i - 1) * sizeof(char *));
                        rp->n_events--;
                        return;
                }
        for (double deadline = now() + WAIT_SECONDS;;) {
                char *line = gateway_line(g, deadline);
                if (!line) {
                        char *e = to_json(expected);
                        ck_abort_msg("%s:%u: no event matching %s", rp->file, rp->lineno, e);
                }
                bool ok = event_matches(expected, line);
                if (ok) {
                        free(line);
                        return;
                }
                ck_assert_msg(strncmp(line, "{\"event\":", 9) == 0, "%s:%u: unexpected line %s",
                              rp->file, rp->lineno, line);
                ck_assert_uint_lt(rp->n_events, MAX_QUEUED);
                rp->events[rp->n_events++] = line;
        }
}

START_TEST(test_file)
{
        replay rp = { .file = files[_i] };
        gateway g;
        char path[1024], *line = NULL, err[256];
        size_t cap = 0;
        ssize_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, files[_i]);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s", path);
        signal(SIGPIPE, SIG_IGN);
        gateway_start(&g);

        while ((n = getline(&line, &cap, f)) >= 0) {
                rp.lineno++;
                if (strspn(line, " \t\r\n") == (size_t)n)
                        continue;
                char *text = substitute(&rp, line);
                json step;
                ck_assert_msg(json_parse(&step, text, err, sizeof(err)), "%s:%u: %s", rp.file,
                              rp.lineno, err);
                if (rd_value_get(step.v, "send"))
                        step_send(&rp, &g, step.v);
                else if (rd_value_get(step.v, "expect_event"))
                        step_event(&rp, &g, rd_value_get(step.v, "expect_event"));
                else
                        ck_abort_msg("%s:%u: neither send nor expect_event", rp.file, rp.lineno);
                json_done(&step);
                free(text);
        }
        free(line);
        fclose(f);
        gateway_stop(&g);
        for (size_t i = 0; i < rp.n_saved; i++) {
                free(rp.saved_name[i]);
                free(rp.saved_json[i]);
        }
        for (size_t i = 0; i < rp.n_events; i++)
                free(rp.events[i]);
}
END_TEST

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
        DIR *d;
        struct dirent *de;

        dir = getenv("CONFORMANCE_DIR");
        if (!dir || !*dir) {
                fprintf(stderr, "$CONFORMANCE_DIR is not set\n");
                return EXIT_FAILURE;
        }
        d = opendir(dir);
        if (!d) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len > 6 && strcmp(de->d_name + len - 6, ".jsonl") == 0 && n_files < MAX_FILES)
                        files[n_files++] = strdup(de->d_name);
        }
        closedir(d);
        if (n_files == 0) {
                fprintf(stderr, "%s: no .jsonl files\n", dir);
                return EXIT_FAILURE;
        }
        qsort(files, (size_t)n_files, sizeof(char *), by_name);

        Suite *s = suite_create("conformance");
        TCase *tc = tcase_create("files");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_file, 0, n_files);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        for (int i = 0; i < n_files; i++)
                free(files[i]);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
