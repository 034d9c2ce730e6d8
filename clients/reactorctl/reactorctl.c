/* SPDX-License-Identifier: MIT */
/*
 * reactorctl: reactord from a shell. Every command opens a session through the
 * public client library, makes its calls and prints JSON (PROTOCOL.md, "JSON
 * view") or a table for people; listen and connect copy bytes between
 * stdin/stdout and one connection, as netcat does.
 *
 * Exit status: 0 success, 1 reactord answered with an error (or a connection
 * failed), 2 usage error, 3 reactord could not be reached (or stopped
 * answering).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "proto/error.h"
#include "proto/json.h"
#include "proto/writer.h"
#include "reactord/client.h"
#include "reactord/stream.h"

enum {
        EXIT_REPLY = 1,       /* an error response */
        EXIT_USAGE = 2,       /* bad command line */
        EXIT_UNREACHABLE = 3, /* no reactord at the endpoint, or it went away */
};

/* Seconds to wait for each reply when --timeout is not given. */
#define DEFAULT_TIMEOUT 5.0

typedef struct options {
        const char *endpoint; /* NULL: $REACTORD_ENDPOINT or the default */
        double timeout;       /* seconds per reply */
        const char *name;     /* session name shown in reactor.info */
        bool json;            /* raw JSON instead of tables */
        uint64_t count;       /* watch: stop after this many events (0: never) */
        const char *host;     /* listen tcp: the address to bind (NULL: "::") */
} options;

static options arg = {
        .timeout = DEFAULT_TIMEOUT,
        .name = "reactorctl",
};

/* ---- output helpers ------------------------------------------------------------------------ */

/* End the line on stdout and flush it; false when stdout is gone (a closed pipe). */
static bool end_line(void)
{
        return putchar('\n') != EOF && fflush(stdout) == 0 && !ferror(stdout);
}

/* A C string as a JSON string (names and methods are plain ASCII, but be exact). */
static void put_json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static void indent(FILE *f, int level)
{
        fputc('\n', f);
        for (int i = 0; i < level; i++)
                fputs("  ", f);
}

/*
 * Print valid JSON text again, either compact on one line or indented for
 * people. Only whitespace outside strings changes.
 */
static void put_json(FILE *f, const char *json, bool pretty)
{
        int level = 0;
        bool in_str = false;

        for (const char *p = json; *p; p++) {
                char c = *p;
                if (in_str) {
                        fputc(c, f);
                        if (c == '\\' && p[1])
                                fputc(*++p, f);
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                switch (c) {
                case ' ':
                case '\t':
                case '\n':
                case '\r':
                        break;
                case '"':
                        in_str = true;
                        fputc(c, f);
                        break;
                case '{':
                case '[': {
                        const char *q = p + 1;
                        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                                q++;
                        fputc(c, f);
                        if (*q == '}' || *q == ']') {
                                fputc(*q, f);
                                p = q;
                        } else if (pretty)
                                indent(f, ++level);
                        break;
                }
                case '}':
                case ']':
                        if (pretty)
                                indent(f, --level);
                        fputc(c, f);
                        break;
                case ',':
                        fputc(c, f);
                        if (pretty)
                                indent(f, level);
                        break;
                case ':':
                        fputs(pretty ? ": " : ":", f);
                        break;
                default:
                        fputc(c, f);
                }
        }
}

/* ---- errors -------------------------------------------------------------------------------- */

static bool is_lost(rd_client *c, int r)
{
        /* A timeout with no message from the server is ours: reactord stopped answering. */
        return r == -ENOTCONN || r == -ECONNRESET || (r == -ETIMEDOUT && !*rd_client_last_error(c));
}

/* Report a failed call as "reactorctl: METHOD: CODE: message"; returns the exit status. */
static int call_failed(rd_client *c, const char *method, int r)
{
        const char *msg = rd_client_last_error(c);

        if (r == -ETIMEDOUT && !*msg) {
                fprintf(stderr, "reactorctl: %s: ETIMEDOUT: no reply from reactord within %g s\n",
                        method, arg.timeout);
                return EXIT_UNREACHABLE;
        }
        fprintf(stderr, "reactorctl: %s: %s: %s\n", method, rd_error_name(r),
                *msg ? msg : rd_error_message(r));
        return is_lost(c, r) ? EXIT_UNREACHABLE : EXIT_REPLY;
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("reactorctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'reactorctl --help'.\n", stderr);
        return EXIT_USAGE;
}

/*
 * Check that `json` is a JSON object, before anything is sent. Returns 0, or
 * prints why not and returns EXIT_USAGE.
 */
static int check_params(const char *method, const char *json)
{
        rd_writer w = RD_WRITER_INIT;
        char err[256];
        int r;

        r = rd_json_to_msgpack(json, strlen(json), &w, err, sizeof(err));
        if (r == 0) {
                uint8_t b = (uint8_t)w.data[0];
                if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)) {
                        snprintf(err, sizeof(err), "params must be a JSON object");
                        r = -EINVAL;
                }
        }
        rd_writer_done(&w);
        if (r == -ENOMEM) {
                fprintf(stderr, "reactorctl: out of memory\n");
                return EXIT_FAILURE;
        }
        if (r < 0)
                return usage_error("%s: invalid JSON params: %s", method, err);
        return 0;
}

/* ---- connecting ---------------------------------------------------------------------------- */

static char *endpoint_shown(void)
{
        const char *e = arg.endpoint;

        if (!e || !*e)
                e = getenv("REACTORD_ENDPOINT");
        if (e && *e)
                return strdup(e);
        return rd_default_endpoint();
}

/* Open a session; on failure print why and return the exit status. */
static int connect_client(rd_client **ret)
{
        rd_client_options o = { .name = arg.name, .timeout = arg.timeout };
        int r;

        r = rd_client_new(arg.endpoint, &o, ret);
        if (r >= 0)
                return 0;

        _cleanup_free_ char *ep = endpoint_shown();
        if (r == -EINVAL || r == -EPROTONOSUPPORT)
                return usage_error("invalid endpoint '%s'", ep ? ep : "?");
        if (r == -ETIMEDOUT)
                fprintf(stderr, "reactorctl: cannot reach reactord at %s: no reply within %g s\n",
                        ep ? ep : "?", arg.timeout);
        else
                fprintf(stderr, "reactorctl: cannot reach reactord at %s: %s: %s\n", ep ? ep : "?",
                        rd_error_name(r), rd_error_message(r));
        return EXIT_UNREACHABLE;
}

DEFINE_CLEANUP_FUNC(rd_client, rd_client_free);
DEFINE_CLEANUP_FUNC(rd_reply, rd_reply_free);

/*
 * Outside watch, events have no one to go to; session.error and
 * session.closed still say why a call may get no reply, so show them.
 */
static int on_stray_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        _cleanup_free_ char *payload = NULL;

        if (strncmp(ev->name, "session.", 8) != 0)
                return 0;
        if (rd_json_from_value(ev->payload, &payload) < 0)
                return -ENOMEM;
        fprintf(stderr, "reactorctl: %s: %s\n", ev->name, payload);
        return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_ping(rd_client *c, int argc, char **argv)
{
        double t0 = now_sec();
        int r = rd_client_call(c, "reactor.ping", NULL, 0, NULL);
        if (r < 0)
                return call_failed(c, "reactor.ping", r);
        printf("pong: %.3f ms\n", (now_sec() - t0) * 1e3);
        return 0;
}

/* Call `method` (JSON `params` may be NULL) and print its result, indented when `pretty`. */
static int call_and_print(rd_client *c, const char *method, const char *params, bool pretty)
{
        _cleanup_free_ char *json = NULL;
        int r;

        r = rd_client_call_json(c, method, params, &json);
        if (r < 0)
                return call_failed(c, method, r);
        put_json(stdout, json, pretty);
        putchar('\n');
        return 0;
}

static int cmd_info(rd_client *c, int argc, char **argv)
{
        return call_and_print(c, "reactor.info", NULL, !arg.json);
}

static int cmd_call(rd_client *c, int argc, char **argv)
{
        return call_and_print(c, argv[1], argc > 2 ? argv[2] : NULL, false);
}

/* A value as text for a table cell: strings bare, anything else as JSON. */
static char *cell(const rd_value *v)
{
        const char *s;
        size_t n;
        char *out = NULL;

        if (rd_value_str(v, &s, &n) >= 0)
                return strndup(s, n);
        if (rd_json_from_value(v, &out) < 0)
                return NULL;
        return out;
}

static int str_width(const rd_value *v)
{
        const char *s;
        size_t n;
        return rd_value_str(v, &s, &n) >= 0 ? (int)n : 0;
}

/* "after:duration every?:duration" for a method's params list. */
static char *params_summary(const rd_value *params)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bool req;

        if (!f)
                return NULL;
        for (size_t i = 0; i < rd_value_len(params); i++) {
                const rd_value *p = rd_value_at(params, i);
                _cleanup_free_ char *name = cell(rd_value_get(p, "name"));
                _cleanup_free_ char *type = cell(rd_value_get(p, "type"));
                if (rd_value_bool(rd_value_get(p, "required"), &req) < 0)
                        req = false;
                fprintf(f, "%s%s%s:%s", i ? " " : "", name ? name : "?", req ? "" : "?",
                        type ? type : "?");
        }
        if (rd_value_len(params) == 0)
                fputs("-", f);
        fclose(f);
        return buf;
}

/* Join a list of str values with spaces ("-" when empty). */
static char *join(const rd_value *list)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < rd_value_len(list); i++) {
                _cleanup_free_ char *s = cell(rd_value_at(list, i));
                fprintf(f, "%s%s", i ? " " : "", s ? s : "?");
        }
        if (rd_value_len(list) == 0)
                fputs("-", f);
        fclose(f);
        return buf;
}

static int cmd_methods(rd_client *c, int argc, char **argv)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        const rd_value *res, *methods, *events;
        int r, w = (int)strlen("METHOD"), wp = (int)strlen("PARAMS");

        if (arg.json)
                return call_and_print(c, "reactor.methods", NULL, false);

        r = rd_client_call(c, "reactor.methods", NULL, 0, &reply);
        if (r < 0)
                return call_failed(c, "reactor.methods", r);
        res = rd_reply_result(reply);
        methods = rd_value_get(res, "methods");
        events = rd_value_get(res, "events");

        for (size_t i = 0; i < rd_value_len(methods); i++) {
                const rd_value *m = rd_value_at(methods, i);
                _cleanup_free_ char *ps = params_summary(rd_value_get(m, "params"));
                if (str_width(rd_value_get(m, "name")) > w)
                        w = str_width(rd_value_get(m, "name"));
                if (ps && (int)strlen(ps) > wp)
                        wp = (int)strlen(ps);
        }
        for (size_t i = 0; i < rd_value_len(events); i++)
                if (str_width(rd_value_get(rd_value_at(events, i), "name")) > w)
                        w = str_width(rd_value_get(rd_value_at(events, i), "name"));

        printf("%-*s  %-*s  %s\n", w, "METHOD", wp, "PARAMS", "EVENTS");
        for (size_t i = 0; i < rd_value_len(methods); i++) {
                const rd_value *m = rd_value_at(methods, i);
                _cleanup_free_ char *name = cell(rd_value_get(m, "name"));
                _cleanup_free_ char *ps = params_summary(rd_value_get(m, "params"));
                _cleanup_free_ char *evs = join(rd_value_get(m, "events"));
                _cleanup_free_ char *doc = cell(rd_value_get(m, "doc"));
                printf("%-*s  %-*s  %s\n", w, name ? name : "?", wp, ps ? ps : "?",
                       evs ? evs : "?");
                if (doc && *doc)
                        printf("%-*s  %s\n", w, "", doc);
        }

        if (rd_value_len(events) > 0) {
                printf("\n%-*s  %s\n", w, "EVENT", "FIELDS");
                for (size_t i = 0; i < rd_value_len(events); i++) {
                        const rd_value *e = rd_value_at(events, i);
                        _cleanup_free_ char *name = cell(rd_value_get(e, "name"));
                        _cleanup_free_ char *fields = join(rd_value_get(e, "fields"));
                        _cleanup_free_ char *doc = cell(rd_value_get(e, "doc"));
                        printf("%-*s  %s\n", w, name ? name : "?", fields ? fields : "?");
                        if (doc && *doc)
                                printf("%-*s  %s\n", w, "", doc);
                }
        }
        return 0;
}

static int cmd_resources(rd_client *c, int argc, char **argv)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        const rd_value *list;
        int r;

        if (arg.json)
                return call_and_print(c, "reactor.resources", NULL, false);

        r = rd_client_call(c, "reactor.resources", NULL, 0, &reply);
        if (r < 0)
                return call_failed(c, "reactor.resources", r);
        list = rd_value_get(rd_reply_result(reply), "resources");

        printf("%-8s  %-8s  %s\n", "HANDLE", "KIND", "DETAILS");
        for (size_t i = 0; i < rd_value_len(list); i++) {
                const rd_value *res = rd_value_at(list, i);
                _cleanup_free_ char *handle = cell(rd_value_get(res, "handle"));
                _cleanup_free_ char *kind = cell(rd_value_get(res, "kind"));
                printf("%-8s  %-8s ", handle ? handle : "?", kind ? kind : "?");
                for (size_t k = 0; k < rd_value_len(res); k++) {
                        const rd_value *key = rd_value_key_at(res, k);
                        if (rd_value_str_eq(key, "handle") || rd_value_str_eq(key, "kind"))
                                continue;
                        _cleanup_free_ char *ks = cell(key);
                        _cleanup_free_ char *vs = NULL;
                        (void)rd_json_from_value(rd_value_val_at(res, k), &vs);
                        printf(" %s=%s", ks ? ks : "?", vs ? vs : "?");
                }
                putchar('\n');
        }
        return 0;
}

/* ---- watch --------------------------------------------------------------------------------- */

typedef struct watch {
        uint64_t seen; /* events printed */
        bool done;     /* --count reached, or stdout is gone */
} watch;

/* Print an event as a JSON line. Returns 0, -ENOMEM, or -EPIPE when stdout is gone. */
static int put_event(const rd_client_event *ev)
{
        _cleanup_free_ char *payload = NULL;
        int r;

        if (ev->payload) {
                r = rd_json_from_value(ev->payload, &payload);
                if (r < 0)
                        return r;
        }
        fputs("{\"event\":", stdout);
        put_json_string(stdout, ev->name);
        printf(",\"payload\":%s}", payload ? payload : "{}");
        return end_line() ? 0 : -EPIPE;
}

static int on_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        watch *w = userdata;
        int r;

        r = put_event(ev);
        if (r == -EPIPE) {
                w->done = true;
                rd_client_stop(c);
        }
        if (r < 0)
                return r;
        if (arg.count > 0 && ++w->seen >= arg.count) {
                w->done = true;
                rd_client_stop(c);
        }
        return 0;
}

/* Is this watch operand a JSON object of params (else a method name)? */
static bool is_params(const char *s)
{
        return s[strspn(s, " \t\n\r")] == '{';
}

/* Print a watch call as a request line; `params` is checked JSON text, or NULL for none. */
static void put_request(unsigned id, const char *method, const char *params)
{
        fputs("{\"request\":", stdout);
        put_json_string(stdout, method);
        printf(",\"id\":%u,\"params\":", id);
        put_json(stdout, params ? params : "{}", false);
        putchar('}');
        end_line();
}

/*
 * watch [METHOD [PARAMS]]...: make the calls (printing each request and its
 * result as JSON lines, numbered from 1), then print every event of the
 * session until SIGINT or SIGTERM (or --count events).
 */
static int cmd_watch(rd_client *c, int argc, char **argv)
{
        watch w = { 0 };
        sigset_t mask;
        int r, sfd;

        r = rd_client_on_any(c, on_event, &w);
        if (r < 0) {
                fprintf(stderr, "reactorctl: watch: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        /* Signals become readable on a signalfd, polled with the client's fd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                fprintf(stderr, "reactorctl: watch: signalfd: %m\n");
                return EXIT_FAILURE;
        }
        _cleanup_close_ int sfd_owned = sfd;

        unsigned id = 0;
        for (int i = 1; i < argc; i++) {
                const char *method = argv[i];
                const char *params = NULL;
                if (i + 1 < argc && is_params(argv[i + 1]))
                        params = argv[++i];
                _cleanup_free_ char *result = NULL;
                put_request(++id, method, params);
                r = rd_client_call_json(c, method, params, &result);
                if (r < 0)
                        return call_failed(c, method, r);
                printf("{\"id\":%u,\"result\":%s}", id, result);
                if (!end_line())
                        return EXIT_FAILURE;
                if (w.done)
                        return 0;
        }

        int fd = rd_client_fd(c);
        if (fd < 0) {
                fprintf(stderr, "reactorctl: watch: %s\n", strerror(-fd));
                return EXIT_FAILURE;
        }
        struct pollfd pfd[2] = {
                { .fd = fd, .events = POLLIN },
                { .fd = sfd, .events = POLLIN },
        };
        for (;;) {
                r = rd_client_process(c);
                if (w.done)
                        return 0;
                if (r < 0) {
                        fprintf(stderr, "reactorctl: watch: session lost: %s\n",
                                rd_error_message(r));
                        return EXIT_UNREACHABLE;
                }
                if (poll(pfd, 2, rd_client_timeout(c)) < 0 && errno != EINTR) {
                        fprintf(stderr, "reactorctl: watch: poll: %m\n");
                        return EXIT_FAILURE;
                }
                if (pfd[1].revents & POLLIN)
                        return 0;
        }
}

/* ---- listen and connect -------------------------------------------------------------------- */

/* Bytes read from stdin at a time (and so the largest stream.write). */
#define STDIN_CHUNK (64 * 1024)

/*
 * One connection between stdin/stdout and a stream, as netcat makes: stdin
 * goes to the stream, the stream's data to stdout. stdin's EOF shuts the
 * stream down; once the peer has done the same the stream closes ("done")
 * and the command exits 0.
 */
typedef struct netcat {
        const char *verb;   /* "connect" or "listen", for messages */
        uint64_t listener;  /* listen: the listener until the first connection, else 0 */
        uint64_t stream;    /* the connection, 0 before there is one */
        bool is_unix;       /* a UNIX socket, else TCP */
        bool connected;     /* stream.connected (or accepted): stdin may be read */
        bool stdin_eof;     /* stdin is at EOF (or gone) */
        bool shut;          /* stream.shutdown was sent */
        char *pending;      /* bytes refused with EAGAIN, written on stream.drained */
        size_t pending_len; /* how many (0: stdin may be read) */
        int status;         /* the exit status once finished, -1 while running */
} netcat;

/* Finish with an error: show it, drop the stream, exit 1. */
static void netcat_fail(rd_client *c, netcat *nc, const char *what, int r, const char *msg)
{
        fprintf(stderr, "reactorctl: %s: %s: %s\n", what, rd_error_name(r),
                msg && *msg ? msg : rd_error_message(r));
        if (nc->stream && nc->status < 0)
                (void)rd_client_stream_abort(c, nc->stream);
        nc->status = EXIT_REPLY;
}

/* Shut the write side once stdin is done and everything read from it is written. */
static void netcat_maybe_shutdown(rd_client *c, netcat *nc)
{
        int r;

        if (!nc->stdin_eof || nc->pending_len > 0 || nc->shut || nc->status >= 0)
                return;
        r = rd_client_stream_shutdown(c, nc->stream);
        if (r < 0 && nc->status < 0)
                netcat_fail(c, nc, "stream.shutdown", r, rd_client_last_error(c));
        nc->shut = true;
}

/* Write `data` to the stream; on EAGAIN keep it, and stop reading stdin until stream.drained. */
static void netcat_write(rd_client *c, netcat *nc, const void *data, size_t n)
{
        int r = rd_client_stream_write(c, nc->stream, data, n);

        if (r >= 0 || nc->status >= 0)
                return; /* written, or the stream ended meanwhile and said why */
        if (r != -EAGAIN) {
                netcat_fail(c, nc, "stream.write", r, rd_client_last_error(c));
                return;
        }
        if (data != nc->pending) {
                nc->pending = malloc(n);
                if (!nc->pending) {
                        netcat_fail(c, nc, "stream.write", -ENOMEM, NULL);
                        return;
                }
                memcpy(nc->pending, data, n);
        }
        nc->pending_len = n;
}

/* Why a stream ended, for people: the wire's sentence, except where it speaks of handles. */
static const char *connect_error_message(const netcat *nc, int err)
{
        if (err == -ENOENT && !nc->connected)
                return nc->is_unix ? "no such socket" : "host name does not resolve";
        return rd_error_message(err);
}

static int on_netcat_stream(rd_client *c, const rd_client_event *ev, void *userdata)
{
        netcat *nc = userdata;
        const void *data;
        size_t n;
        int r;

        if (arg.json) {
                r = put_event(ev);
                if (r < 0 && nc->status < 0)
                        netcat_fail(c, nc, "stdout", r, NULL);
        }

        if (strcmp(ev->name, "stream.connected") == 0) {
                nc->connected = true;
        } else if (strcmp(ev->name, "stream.data") == 0 && !arg.json) {
                if (rd_client_event_data(ev, &data, &n) < 0)
                        return -EPROTO;
                if ((fwrite(data, 1, n, stdout) != n || fflush(stdout) != 0) && nc->status < 0)
                        netcat_fail(c, nc, "stdout", -EPIPE, NULL);
        } else if (strcmp(ev->name, "stream.drained") == 0 && nc->pending_len > 0) {
                size_t len = nc->pending_len;
                nc->pending_len = 0;
                netcat_write(c, nc, nc->pending, len);
                if (nc->pending_len == 0) {
                        free(nc->pending);
                        nc->pending = NULL;
                }
                netcat_maybe_shutdown(c, nc);
        } else if (strcmp(ev->name, "stream.closed") == 0) {
                const rd_value *reason = rd_value_get(ev->payload, "reason");
                int err = rd_client_event_error(ev);

                nc->stream = 0;
                if (nc->status >= 0)
                        return 0;
                if (err < 0 || !rd_value_str_eq(reason, "done")) {
                        /* A connect that failed is the connect's error; later ones the stream's. */
                        const char *what = nc->connected ? "stream" : nc->verb;
                        if (err == 0)
                                fprintf(stderr, "reactorctl: %s: closed by reactord\n", what);
                        else
                                fprintf(stderr, "reactorctl: %s: %s: %s\n", what,
                                        rd_error_name(err), connect_error_message(nc, err));
                        nc->status = EXIT_REPLY;
                } else {
                        nc->status = 0;
                }
        }
        return 0;
}

static int on_netcat_listener(rd_client *c, const rd_client_event *ev, void *userdata)
{
        netcat *nc = userdata;
        uint64_t stream = rd_client_event_stream(ev);
        int r;

        if (stream == 0)
                return 0;
        if (nc->stream != 0) {
                /* One connection only: others that were already queued are turned away. */
                (void)rd_client_stream_abort(c, stream);
                return 0;
        }
        if (arg.json) {
                r = put_event(ev);
                if (r < 0)
                        netcat_fail(c, nc, "stdout", r, NULL);
        }
        nc->stream = stream;
        nc->connected = true;
        r = rd_client_on(c, stream, on_netcat_stream, nc);
        if (r < 0) {
                netcat_fail(c, nc, "listen", r, NULL);
                return r;
        }
        /* No more connections: close the listener (from its own handler, which is safe). */
        r = rd_client_listener_close(c, nc->listener);
        nc->listener = 0;
        if (r < 0 && nc->status < 0)
                netcat_fail(c, nc, "handle.close", r, rd_client_last_error(c));
        return 0;
}

/* Read stdin once and write what came to the stream. */
static void netcat_read_stdin(rd_client *c, netcat *nc)
{
        static char buf[STDIN_CHUNK];
        ssize_t n;

        n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n < 0) {
                netcat_fail(c, nc, "stdin", -errno, NULL);
                return;
        }
        if (n == 0) {
                nc->stdin_eof = true;
                netcat_maybe_shutdown(c, nc);
                return;
        }
        netcat_write(c, nc, buf, (size_t)n);
}

/* The loop of listen and connect: poll the client's fd and stdin until the stream is done. */
static int netcat_run(rd_client *c, netcat *nc)
{
        int fd, r;

        fd = rd_client_fd(c);
        if (fd < 0) {
                fprintf(stderr, "reactorctl: %s: %s\n", nc->verb, strerror(-fd));
                return EXIT_FAILURE;
        }
        for (;;) {
                r = rd_client_process(c);
                if (nc->status >= 0)
                        return nc->status;
                if (r < 0) {
                        fprintf(stderr, "reactorctl: %s: session lost: %s\n", nc->verb,
                                rd_error_message(r));
                        return EXIT_UNREACHABLE;
                }
                bool want_stdin = nc->connected && !nc->stdin_eof && nc->pending_len == 0;
                struct pollfd pfd[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = want_stdin ? STDIN_FILENO : -1, .events = POLLIN },
                };
                if (poll(pfd, 2, rd_client_timeout(c)) < 0 && errno != EINTR) {
                        fprintf(stderr, "reactorctl: %s: poll: %m\n", nc->verb);
                        return EXIT_FAILURE;
                }
                if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
                        netcat_read_stdin(c, nc);
        }
}

static int parse_port(const char *s, bool zero_ok, uint16_t *ret)
{
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v > UINT16_MAX || (v == 0 && !zero_ok))
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

/* Check the operands of listen and connect before connecting; 0 or EXIT_USAGE. */
static int check_netcat_args(int argc, char **argv)
{
        uint16_t port;

        if (strcmp(argv[0], "listen") == 0) {
                if (strcmp(argv[1], "tcp") == 0)
                        return parse_port(argv[2], true, &port) < 0
                                       ? usage_error("listen: invalid port '%s'", argv[2])
                                       : 0;
                if (strcmp(argv[1], "unix") == 0)
                        return argv[2][0] && strcmp(argv[2], "@") != 0
                                       ? 0
                                       : usage_error("listen: empty path");
                return usage_error("listen: expected 'tcp PORT' or 'unix PATH', got '%s'", argv[1]);
        }
        if (arg.host)
                return usage_error("--host is for 'listen tcp'");
        if (strcmp(argv[1], "unix") == 0)
                return argv[2][0] && strcmp(argv[2], "@") != 0 ? 0
                                                               : usage_error("connect: empty path");
        if (!argv[1][0])
                return usage_error("connect: empty host");
        return parse_port(argv[2], false, &port) < 0
                       ? usage_error("connect: invalid port '%s'", argv[2])
                       : 0;
}

/* A UNIX operand: "@name" is an abstract name, anything else a path. */
static const char *unix_name(const char *s, bool *abstract)
{
        *abstract = s[0] == '@';
        return *abstract ? s + 1 : s;
}

/* listen tcp PORT | listen unix PATH: wait for one connection, then act as netcat. */
static int cmd_listen(rd_client *c, int argc, char **argv)
{
        _cleanup_free_ char *pending = NULL;
        netcat nc = { .verb = "listen", .status = -1 };
        bool abstract;
        uint16_t port = 0;
        int r;

        if (strcmp(argv[1], "tcp") == 0) {
                (void)parse_port(argv[2], true, &port);
                r = rd_client_tcp_listen(c, arg.host, port, NULL, &nc.listener, &port);
                if (r < 0)
                        return call_failed(c, "tcp.listen", r);
                const char *h = arg.host ? arg.host : "::";
                fprintf(stderr,
                        strchr(h, ':') ? "reactorctl: listening on [%s]:%u\n"
                                       : "reactorctl: listening on %s:%u\n",
                        h, (unsigned)port);
        } else {
                const char *name = unix_name(argv[2], &abstract);
                r = rd_client_unix_listen(c, name, abstract, NULL, &nc.listener);
                if (r < 0)
                        return call_failed(c, "unix.listen", r);
                fprintf(stderr, "reactorctl: listening on %s\n", argv[2]);
        }
        r = rd_client_on(c, nc.listener, on_netcat_listener, &nc);
        if (r < 0) {
                fprintf(stderr, "reactorctl: listen: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = netcat_run(c, &nc);
        pending = nc.pending;
        return r;
}

/* connect HOST PORT | connect unix PATH: act as netcat on one connection. */
static int cmd_connect(rd_client *c, int argc, char **argv)
{
        _cleanup_free_ char *pending = NULL;
        netcat nc = { .verb = "connect", .status = -1 };
        bool abstract;
        uint16_t port;
        int r;

        if (strcmp(argv[1], "unix") == 0) {
                const char *name = unix_name(argv[2], &abstract);
                nc.is_unix = true;
                r = rd_client_unix_connect(c, name, abstract, &nc.stream);
                if (r < 0)
                        return call_failed(c, "unix.connect", r);
        } else {
                (void)parse_port(argv[2], false, &port);
                r = rd_client_tcp_connect(c, argv[1], port, 0, &nc.stream);
                if (r < 0)
                        return call_failed(c, "tcp.connect", r);
        }
        /* The response precedes the stream's events: none is missed. */
        r = rd_client_on(c, nc.stream, on_netcat_stream, &nc);
        if (r < 0) {
                fprintf(stderr, "reactorctl: connect: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = netcat_run(c, &nc);
        pending = nc.pending;
        return r;
}

/* ---- the command line ---------------------------------------------------------------------- */

typedef struct command {
        const char *name;
        int min_args; /* operands after the command name */
        int max_args; /* -1: any number */
        int (*run)(rd_client *c, int argc, char **argv);
        const char *synopsis;
        const char *help;
} command;

static const command commands[] = {
        { "ping", 0, 0, cmd_ping, "ping",
          "check that reactord answers, print the round-trip time" },
        { "info", 0, 0, cmd_info, "info", "server, version, uptime, sessions, resources" },
        { "methods", 0, 0, cmd_methods, "methods", "the catalogue of methods and events" },
        { "resources", 0, 0, cmd_resources, "resources", "the handles of this session" },
        { "call", 1, 2, cmd_call, "call METHOD [PARAMS]",
          "call METHOD (PARAMS: a JSON object); print the result" },
        { "watch", 0, -1, cmd_watch, "watch [METHOD [PARAMS]]...",
          "make the calls, then print events until interrupted" },
        { "listen", 2, 2, cmd_listen, "listen tcp PORT|unix PATH",
          "accept one connection; copy stdin to it and it to stdout" },
        { "connect", 2, 2, cmd_connect, "connect HOST PORT|unix PATH",
          "connect; copy stdin to the connection and it to stdout" },
};

static void help(void)
{
        printf("Usage: reactorctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Talk to reactord, the shared reactor.\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-28s %s\n", commands[i].synopsis, commands[i].help);
        printf("\n"
               "Options:\n"
               "  -e, --endpoint URI      reactord's endpoint (default: $REACTORD_ENDPOINT, else\n"
               "                          ipc://$XDG_RUNTIME_DIR/reactord/bus)\n"
               "  -t, --timeout SECONDS   wait this long for each reply (default: %g)\n"
               "  -n, --name NAME         session name shown in reactor.info (default: "
               "reactorctl)\n"
               "  -j, --json              info, methods, resources: print raw JSON; listen,\n"
               "                          connect: print events as JSON lines\n"
               "  -c, --count N           watch: exit after N events\n"
               "  -H, --host ADDRESS      listen tcp: the address to listen on (default: ::)\n"
               "  -h, --help              show this help\n"
               "  -V, --version           show the version\n"
               "\n"
               "PARAMS is a JSON object; bytes are written {\"$bin\": \"<base64>\"}.\n"
               "watch prints {\"request\": ...} and {\"id\": N, \"result\": ...} for its calls "
               "and\n"
               "{\"event\": NAME, \"payload\": {...}} for each event, e.g.\n"
               "  reactorctl watch timer.start '{\"after\": 0.1, \"every\": 0.5}'\n"
               "\n"
               "listen and connect work as netcat: stdin's EOF shuts the connection down, and\n"
               "they exit once the peer has done the same. PATH \"@name\" is an abstract\n"
               "socket. listen prints \"listening on ADDRESS\" on stderr; with --json both print\n"
               "the connection's events as JSON lines instead of its bytes.\n"
               "\n"
               "Exit status: 0 success, 1 error reply or connection error, 2 usage error,\n"
               "3 reactord unreachable.\n",
               DEFAULT_TIMEOUT);
}

static int parse_argv(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "timeout", required_argument, NULL, 't' },
                { "name", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'j' },
                { "count", required_argument, NULL, 'c' },
                { "host", required_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        char *end;
        int opt;

        /* Options may come before or after the command; "--" ends them (for "-1" operands). */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":e:t:n:jc:H:hV", longopts, NULL)) >= 0) {
                switch (opt) {
                case 'e':
                        arg.endpoint = optarg;
                        break;
                case 't':
                        errno = 0;
                        arg.timeout = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !(arg.timeout > 0) ||
                            !isfinite(arg.timeout))
                                return usage_error("--timeout: expected a number of seconds > 0, "
                                                   "got '%s'",
                                                   optarg);
                        break;
                case 'n':
                        arg.name = optarg;
                        break;
                case 'j':
                        arg.json = true;
                        break;
                case 'c':
                        errno = 0;
                        arg.count = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-')
                                return usage_error("--count: expected a number, got '%s'", optarg);
                        break;
                case 'H':
                        if (!*optarg)
                                return usage_error("--host: expected an address");
                        arg.host = optarg;
                        break;
                case 'h':
                        help();
                        return -1;
                case 'V':
                        printf("reactorctl %s (protocol %d)\n", RD_VERSION, RD_PROTOCOL_VERSION);
                        return -1;
                case ':':
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_(rd_client_freep) rd_client *c = NULL;
        const command *cmd = NULL;
        int r, n;

        r = parse_argv(argc, argv);
        if (r != 0)
                return r < 0 ? EXIT_SUCCESS : r;

        argv += optind;
        argc -= optind;
        if (argc == 0)
                return usage_error("no command given");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[0], commands[i].name) == 0)
                        cmd = &commands[i];
        if (!cmd)
                return usage_error("unknown command '%s'", argv[0]);
        n = argc - 1;
        if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args))
                return usage_error("usage: reactorctl %s", cmd->synopsis);

        /* Check every JSON operand before connecting: a typo costs no round trip. */
        if (cmd->run == cmd_call && argc > 2) {
                r = check_params(argv[1], argv[2]);
                if (r != 0)
                        return r;
        }
        if (cmd->run == cmd_watch)
                for (int i = 1; i < argc; i++) {
                        if (!is_params(argv[i]))
                                continue;
                        if (i == 1 || is_params(argv[i - 1]))
                                return usage_error("watch: params '%s' without a method", argv[i]);
                        r = check_params(argv[i - 1], argv[i]);
                        if (r != 0)
                                return r;
                }

        if (cmd->run == cmd_listen || cmd->run == cmd_connect) {
                r = check_netcat_args(argc, argv);
                if (r != 0)
                        return r;
        } else if (arg.host)
                return usage_error("--host is for 'listen tcp'");

        /* A closed stdout ends watch through a failed write, not a signal. */
        signal(SIGPIPE, SIG_IGN);

        r = connect_client(&c);
        if (r != 0)
                return r;
        if (cmd->run != cmd_watch)
                (void)rd_client_on_any(c, on_stray_event, NULL);
        return cmd->run(c, argc, argv);
}
