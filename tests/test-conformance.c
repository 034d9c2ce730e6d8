/* SPDX-License-Identifier: MIT */
/*
 * The conformance exchanges of proto/conformance (see its README) replayed
 * by two runners, each file against a fresh reactord with every expectation
 * matched by subset: through `reactorctl gateway` (one gateway session per
 * file; tests gateway_FILE) and through libreactord itself (one rd_client per
 * file; tests c_client_FILE). Both read the JSON view (`*.jsonl`); the msgpack
 * form is replayed by tests/python/test_conformance.py.
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
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfd.h"
#include "proto/decoder.h"
#include "proto/error.h"
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

/* `s` as a JSON string (caller frees). */
static char *json_string(const char *s)
{
        size_t n = strlen(s);
        char *out = malloc(6 * n + 3), *o = out;

        ck_assert_ptr_nonnull(out);
        *o++ = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        *o++ = '\\';
                        *o++ = (char)*p;
                } else if (*p < 0x20)
                        o += sprintf(o, "\\u%04x", *p);
                else
                        *o++ = (char)*p;
        }
        *o++ = '"';
        *o = '\0';
        return out;
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
static char bus_path[300];
static pid_t daemon_pid = -1;
static procfd_set fd_baseline; /* reactord's descriptors once it served */

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
        snprintf(bus_path, sizeof(bus_path), "%s/bus", tmpdir);
        procfd_baseline(daemon_pid, bus_path, &fd_baseline);
}

static void teardown(void)
{
        char p[300];

        /* The exchange's session is over: whatever it made is released. */
        if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0)
                procfd_expect(daemon_pid, bus_path, &fd_baseline, 30, "the teardown");
        procfd_done(&fd_baseline);
        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
                daemon_pid = -1;
        }
        /* reactord removes its socket; the lock file beside it stays for the next one. */
        snprintf(p, sizeof(p), "%s/bus", tmpdir);
        (void)unlink(p);
        snprintf(p, sizeof(p), "%s/bus.lock", tmpdir);
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

typedef struct replay replay;

/* How a runner reaches reactord. */
typedef struct transport {
        /*
         * Send `method` with `params_json` (NULL for none) and wait for its
         * response; events arriving meanwhile go to rp->events. Returns the
         * response as JSON holding "result" or "error" (caller frees).
         */
        char *(*call)(replay *rp, const char *method, const char *params_json);
        /* Wait for more events into rp->events; false once `deadline` has passed. */
        bool (*wait)(replay *rp, double deadline);
} transport;

struct replay {
        const char *file;
        unsigned lineno;
        const transport *t;
        void *ctx;                   /* the transport's own state */
        char *saved_name[MAX_SAVED]; /* "$NAME" */
        char *saved_json[MAX_SAVED]; /* its value as JSON */
        size_t n_saved;
        char *events[MAX_QUEUED]; /* event lines not yet matched */
        size_t n_events;
};

static void queue_event(replay *rp, char *line)
{
        ck_assert_uint_lt(rp->n_events, MAX_QUEUED);
        rp->events[rp->n_events++] = line;
}

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

/* Remember `value` as "$NAME" (`name` is NAME, `len` bytes). */
static void save_value(replay *rp, const char *name, size_t len, const rd_value *value)
{
        ck_assert_uint_lt(rp->n_saved, MAX_SAVED);
        ck_assert_int_ge(asprintf(&rp->saved_name[rp->n_saved], "\"$%.*s\"", (int)len, name), 0);
        rp->saved_json[rp->n_saved++] = to_json(value);
}

/* A line's `save` ({NAME: KEY}): keep `from`.KEY as "$NAME"; `what` names `from` in failures. */
static void save_fields(replay *rp, const rd_value *save, const rd_value *from, const char *what)
{
        for (size_t i = 0; i < rd_value_len(save); i++) {
                const rd_value *k = rd_value_key_at(save, i), *field = rd_value_val_at(save, i);
                const char *ks, *fs;
                size_t kn, fn;
                ck_assert_int_eq(rd_value_str(k, &ks, &kn), 0);
                ck_assert_int_eq(rd_value_str(field, &fs, &fn), 0);
                char *fname = strndup(fs, fn);
                const rd_value *v = rd_value_get(from, fname);
                ck_assert_msg(v, "%s:%u: no %s.%s to save", rp->file, rp->lineno, what, fname);
                free(fname);
                save_value(rp, ks, kn, v);
        }
}

static void step_send(replay *rp, const rd_value *step)
{
        const rd_value *send = rd_value_get(step, "send"), *expect = rd_value_get(step, "expect");
        const rd_value *exp_result = rd_value_get(expect, "result");
        const rd_value *exp_error = rd_value_get(expect, "error");
        const rd_value *save = rd_value_get(step, "save");
        char *params = rd_value_get(send, "params") ? to_json(rd_value_get(send, "params")) : NULL;
        char *method, *resp;
        const char *ms;
        size_t mn;
        json a;
        char err[256];

        ck_assert_msg(expect && (exp_result || exp_error), "%s:%u: no expect.result/error",
                      rp->file, rp->lineno);
        ck_assert_msg(rd_value_str(rd_value_get(send, "method"), &ms, &mn) == 0,
                      "%s:%u: send.method is not a string", rp->file, rp->lineno);
        method = strndup(ms, mn);
        ck_assert_ptr_nonnull(method);

        resp = rp->t->call(rp, method, params);
        ck_assert_msg(json_parse(&a, resp, err, sizeof(err)), "bad JSON response: %s", resp);
        if (exp_result)
                ck_assert_msg(matches(exp_result, rd_value_get(a.v, "result")),
                              "%s:%u: %s %s gets %s", rp->file, rp->lineno, method,
                              params ? params : "", resp);
        else
                ck_assert_msg(matches(exp_error, rd_value_get(a.v, "error")),
                              "%s:%u: %s %s gets %s", rp->file, rp->lineno, method,
                              params ? params : "", resp);

        save_fields(rp, save, rd_value_get(a.v, "result"), "result");
        json_done(&a);
        free(resp);
        free(method);
        free(params);
}

/*
 * Does the queued event line `ev` match `expected` ({event, payload})? When it
 * does, the line's `save` keeps fields of its payload.
 */
static bool event_matches(replay *rp, const rd_value *expected, const rd_value *save,
                          const char *ev)
{
        json a;
        char err[256];
        bool ok;

        ck_assert_msg(json_parse(&a, ev, err, sizeof(err)), "gateway wrote bad JSON: %s", ev);
        ok = matches(expected, a.v);
        if (ok)
                save_fields(rp, save, rd_value_get(a.v, "payload"), "payload");
        json_done(&a);
        return ok;
}

static void step_event(replay *rp, const rd_value *step)
{
        const rd_value *expected = rd_value_get(step, "expect_event");
        const rd_value *save = rd_value_get(step, "save");

        for (double deadline = now() + WAIT_SECONDS;;) {
                for (size_t i = 0; i < rp->n_events; i++)
                        if (event_matches(rp, expected, save, rp->events[i])) {
                                free(rp->events[i]);
                                memmove(&rp->events[i], &rp->events[i + 1],
                                        (rp->n_events - i - 1) * sizeof(char *));
                                rp->n_events--;
                                return;
                        }
                if (!rp->t->wait(rp, deadline)) {
                        char *e = to_json(expected);
                        ck_abort_msg("%s:%u: no event matching %s", rp->file, rp->lineno, e);
                }
        }
}

/* ---- the gateway runner ---------------------------------------------------------------------- */

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
                queue_event(rp, line);
        }
}

static char *gateway_call(replay *rp, const char *method, const char *params_json)
{
        gateway *g = rp->ctx;
        char *m = json_string(method), *req = NULL, *resp;

        ck_assert_int_ge(asprintf(&req, "{\"id\":%u,\"method\":%s%s%s}\n", rp->lineno, m,
                                  params_json ? ",\"params\":" : "",
                                  params_json ? params_json : ""),
                         0);
        ck_assert_int_eq(write(g->in, req, strlen(req)), (ssize_t)strlen(req));
        resp = await_response(rp, g, rp->lineno);
        free(req);
        free(m);
        return resp;
}

static bool gateway_wait(replay *rp, double deadline)
{
        char *line = gateway_line(rp->ctx, deadline);

        if (!line)
                return false;
        ck_assert_msg(strncmp(line, "{\"event\":", 9) == 0, "%s:%u: unexpected line %s", rp->file,
                      rp->lineno, line);
        queue_event(rp, line);
        return true;
}

static const transport gateway_transport = { .call = gateway_call, .wait = gateway_wait };

/* ---- the libreactord runner ------------------------------------------------------------------ */

static int client_on_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        replay *rp = userdata;
        char *name = json_string(ev->name), *payload = to_json(ev->payload), *line = NULL;

        (void)c;
        ck_assert_int_ge(asprintf(&line, "{\"event\":%s,\"payload\":%s}", name, payload), 0);
        queue_event(rp, line);
        free(name);
        free(payload);
        return 0;
}

static char *client_call(replay *rp, const char *method, const char *params_json)
{
        char *result = NULL, *resp = NULL;
        int r = rd_client_call_json(rp->ctx, method, params_json, &result);

        if (r >= 0)
                ck_assert_int_ge(asprintf(&resp, "{\"result\":%s}", result), 0);
        else {
                char *msg = json_string(rd_client_last_error(rp->ctx));
                ck_assert_int_ge(asprintf(&resp, "{\"error\":{\"code\":\"%s\",\"message\":%s}}",
                                          rd_error_name(r), msg),
                                 0);
                free(msg);
        }
        free(result);
        return resp;
}

static bool client_wait(replay *rp, double deadline)
{
        rd_client *c = rp->ctx;
        double left = deadline - now();
        int ms, t;

        if (left <= 0)
                return false;
        ck_assert_int_ge(rd_client_process(c), 0);
        ms = (int)(left * 1000) + 1;
        t = rd_client_timeout(c);
        if (t >= 0 && t < ms)
                ms = t;
        if (ms > 50)
                ms = 50;
        struct pollfd p = { .fd = rd_client_fd(c), .events = POLLIN };
        (void)poll(&p, 1, ms);
        ck_assert_int_ge(rd_client_process(c), 0);
        return true;
}

static const transport client_transport = { .call = client_call, .wait = client_wait };

/* ---- the tests ------------------------------------------------------------------------------- */

/*
 * "$unique" (README, "Lines"): a name no other replay on this machine uses at
 * the same time, for names the kernel shares machine-wide (abstract sockets).
 */
static void save_unique(replay *rp)
{
        uint32_t r;

        ck_assert_int_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
        ck_assert_uint_lt(rp->n_saved, MAX_SAVED);
        rp->saved_name[rp->n_saved] = strdup("\"$unique\"");
        ck_assert_ptr_nonnull(rp->saved_name[rp->n_saved]);
        ck_assert_int_ge(asprintf(&rp->saved_json[rp->n_saved], "\"reactord-conformance-%d-%08x\"",
                                  (int)getpid(), r),
                         0);
        rp->n_saved++;
}

static void replay_file(replay *rp)
{
        char path[1024], *line = NULL, err[256];
        size_t cap = 0;
        ssize_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, rp->file);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s", path);
        save_unique(rp);
        while ((n = getline(&line, &cap, f)) >= 0) {
                rp->lineno++;
                if (strspn(line, " \t\r\n") == (size_t)n)
                        continue;
                char *text = substitute(rp, line);
                json step;
                ck_assert_msg(json_parse(&step, text, err, sizeof(err)), "%s:%u: %s", rp->file,
                              rp->lineno, err);
                if (rd_value_get(step.v, "send"))
                        step_send(rp, step.v);
                else if (rd_value_get(step.v, "expect_event"))
                        step_event(rp, step.v);
                else
                        ck_abort_msg("%s:%u: neither send nor expect_event", rp->file, rp->lineno);
                json_done(&step);
                free(text);
        }
        free(line);
        fclose(f);
        for (size_t i = 0; i < rp->n_saved; i++) {
                free(rp->saved_name[i]);
                free(rp->saved_json[i]);
        }
        for (size_t i = 0; i < rp->n_events; i++)
                free(rp->events[i]);
}

static void test_gateway(int _i)
{
        gateway g;
        replay rp = { .file = files[_i], .t = &gateway_transport, .ctx = &g };

        signal(SIGPIPE, SIG_IGN);
        gateway_start(&g);
        replay_file(&rp);
        gateway_stop(&g);
}

static void test_c_client(int _i)
{
        rd_client *c = NULL;
        replay rp = { .file = files[_i], .t = &client_transport };

        ck_assert_int_ge(rd_client_new(endpoint, NULL, &c), 0);
        rp.ctx = c;
        ck_assert_int_ge(rd_client_on_any(c, client_on_event, &rp), 0);
        replay_file(&rp);
        rd_client_free(c);
}

/*
 * The valgrind setup runs reactord under valgrind too, and valgrind 3.19
 * implements neither CLONE_PIDFD nor pidfd_send_signal, nor shares memory
 * across CLONE_VM|CLONE_VFORK (how reactord learns that an exec failed): the
 * processes exchange runs outside it only, like the processes suites
 * (tests/meson.build, no_valgrind).
 */
static bool skipped(const char *name)
{
        return getenv("REACTORD_UNDER_VALGRIND") && strcmp(name, "processes.jsonl") == 0;
}

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
                if (len > 6 && strcmp(de->d_name + len - 6, ".jsonl") == 0 &&
                    !skipped(de->d_name) && n_files < MAX_FILES)
                        files[n_files++] = strdup(de->d_name);
        }
        closedir(d);
        if (n_files == 0) {
                fprintf(stderr, "%s: no .jsonl files\n", dir);
                return EXIT_FAILURE;
        }
        qsort(files, (size_t)n_files, sizeof(char *), by_name);

        /* One test per file and runner, named after both ("c_client_session"). */
        static const struct {
                const char *prefix;
                TFun fn;
        } runners[] = { { "gateway", test_gateway }, { "c_client", test_c_client } };
        TTest *ttests = calloc(ELEMENTSOF(runners) * (size_t)n_files, sizeof(TTest));
        Suite *s = suite_create("conformance");
        TCase *tc = tcase_create("files");
        if (!ttests)
                return EXIT_FAILURE;
        tcase_add_checked_fixture(tc, setup, teardown);
        for (size_t r = 0; r < ELEMENTSOF(runners); r++)
                for (int i = 0; i < n_files; i++) {
                        TTest *t = &ttests[r * (size_t)n_files + (size_t)i];
                        char *name = NULL;
                        if (asprintf(&name, "%s_%.*s", runners[r].prefix,
                                     (int)(strlen(files[i]) - 6), files[i]) < 0)
                                return EXIT_FAILURE;
                        *t = (TTest){ name, runners[r].fn, __FILE__, __LINE__ };
                        tcase_add_loop_test(tc, t, i, i + 1);
                }
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        for (size_t k = 0; k < ELEMENTSOF(runners) * (size_t)n_files; k++)
                free((char *)ttests[k].name);
        free(ttests);
        for (int i = 0; i < n_files; i++)
                free(files[i]);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
