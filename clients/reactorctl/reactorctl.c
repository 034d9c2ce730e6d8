/* SPDX-License-Identifier: MIT */
/*
 * reactorctl: reactord from a shell. Every command opens a session through the
 * public client library, makes its calls and prints JSON (PROTOCOL.md, "JSON
 * view") or a table for people; listen and connect copy bytes between
 * stdin/stdout and one connection, as netcat does; spawn runs a command under
 * reactord as if it ran here; gateway turns JSON lines on stdin into calls and
 * prints replies and events as JSON lines.
 *
 * Exit status: 0 success, 1 reactord answered with an error (or a connection
 * failed), 2 usage error, 3 reactord could not be reached (or stopped
 * answering). spawn exits with the command's own status instead, 128 + N when
 * signal N killed it, 127 when there is no such command and 126 when it
 * cannot be run (as env(1) does).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "version.h"
#include "basic/curve-key.h"
#include "proto/decoder.h"
#include "proto/error.h"
#include "proto/json.h"
#include "proto/writer.h"
#include "reactord/client.h"
#include "reactord/process.h"
#include "reactord/stream.h"

enum {
        EXIT_REPLY = 1,        /* an error response */
        EXIT_USAGE = 2,        /* bad command line */
        EXIT_UNREACHABLE = 3,  /* no reactord at the endpoint, or it went away */
        EXIT_CANNOT_RUN = 126, /* spawn: the command is not executable (as env(1) says) */
        EXIT_NOT_FOUND = 127,  /* spawn: no such command */
};

/* Seconds to wait for each reply when --timeout is not given. */
#define DEFAULT_TIMEOUT 5.0

typedef struct options {
        const char *endpoint;     /* NULL: $REACTORD_ENDPOINT or the default */
        double timeout;           /* seconds per reply */
        const char *name;         /* session name shown in reactor.info */
        bool json;                /* raw JSON instead of tables */
        uint64_t count;           /* watch: stop after this many events (0: never) */
        const char *host;         /* listen tcp: the address to bind (NULL: "::") */
        bool name_set;            /* --name was given: spawn names the process too */
        bool pty;                 /* spawn: a pseudo-terminal */
        rd_spawn_restart restart; /* spawn: the restart policy */
        char **env;               /* spawn: --env KEY=VALUE operands, NULL-terminated (owned) */
        size_t n_env;             /* how many */
        bool env_inherit;         /* spawn: start from reactord's environment */
        const char *cwd;          /* spawn: the working directory */
        bool text;                /* gateway: valid UTF-8 bins as strings */
        const char *server_key;   /* CURVE: reactord's public key file (NULL: the environment) */
        const char *key;          /* CURVE: our key pair file (NULL: the environment) */
        const char *out;          /* keygen: NAME of NAME.key and NAME.pub */
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

/* `opt`, else the environment variable `name`; NULL when neither is set. */
static const char *option_or_env(const char *opt, const char *name)
{
        const char *v = opt && *opt ? opt : getenv(name);
        return v && *v ? v : NULL;
}

/*
 * Check the CURVE key files before connecting, so that a wrong one is named
 * (the library can only return an errno). Returns 0, or prints why and
 * returns EXIT_USAGE.
 */
static int check_key_files(const char *server_key, const char *key)
{
        const char *what[2] = { "--server-key ($REACTORD_SERVER_KEY)", "--key ($REACTORD_KEY)" };
        const char *path[2] = { server_key, key };
        char derived[RD_CURVE_KEY_Z85_LEN + 1];
        rd_curve_key k;
        bool mismatch, has_secret;
        int r;

        if (!key)
                return usage_error("--server-key is given, so CURVE is used: --key FILE (or "
                                   "$REACTORD_KEY) must name this client's NAME.key");
        for (int i = 0; i < 2; i++) {
                k = (rd_curve_key){};
                r = rd_curve_key_read(path[i], &k);
                mismatch = k.secret_key[0] && k.public_key[0] &&
                           (rd_client_curve_public(derived, k.secret_key) < 0 ||
                            strcmp(derived, k.public_key) != 0);
                has_secret = k.secret_key[0] != '\0';
                explicit_bzero(&k.secret_key, sizeof(k.secret_key));
                if (r == -EINVAL)
                        return usage_error("%s: %s is not a CURVE key file", what[i], path[i]);
                if (r < 0)
                        return usage_error("%s: cannot read %s: %s", what[i], path[i],
                                           strerror(-r));
                if (i == 0 && !k.public_key[0])
                        return usage_error("%s: %s holds no public key", what[i], path[i]);
                if (i == 1 && !has_secret)
                        return usage_error("%s: %s holds no secret key: give this client's "
                                           "NAME.key, not a NAME.pub",
                                           what[i], path[i]);
                if (i == 1 && mismatch)
                        return usage_error("%s: %s: its public and secret keys do not match",
                                           what[i], path[i]);
        }
        return 0;
}

/* Open a session; on failure print why and return the exit status. */
static int connect_client(rd_client **ret)
{
        rd_client_options o = {
                .name = arg.name,
                .timeout = arg.timeout,
                .server_key = option_or_env(arg.server_key, "REACTORD_SERVER_KEY"),
                .key = option_or_env(arg.key, "REACTORD_KEY"),
        };
        int r;

        if (o.server_key) {
                r = check_key_files(o.server_key, o.key);
                if (r != 0)
                        return r;
        }
        r = rd_client_new(arg.endpoint, &o, ret);
        if (r >= 0)
                return 0;

        _cleanup_free_ char *ep = endpoint_shown();
        if (r == -EINVAL || r == -EPROTONOSUPPORT)
                return usage_error("invalid endpoint '%s'", ep ? ep : "?");
        if (r == -ETIMEDOUT && o.server_key)
                fprintf(stderr,
                        "reactorctl: cannot reach reactord at %s: no reply within %g s (with "
                        "CURVE: is %s the server's key, and this client's public key in its allow "
                        "directory?)\n",
                        ep ? ep : "?", arg.timeout, o.server_key);
        else if (r == -ETIMEDOUT)
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
        _cleanup_close_ int sfd = -EBADF;
        watch w = { 0 };
        sigset_t mask;
        int r;

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
                if (strcmp(argv[1], "adopted") == 0)
                        return argv[2][0] ? 0 : usage_error("listen: empty socket name");
                return usage_error("listen: expected 'tcp PORT', 'unix PATH' or 'adopted NAME', "
                                   "got '%s'",
                                   argv[1]);
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

/* listen tcp PORT | unix PATH | adopted NAME: wait for one connection, then act as netcat. */
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
        } else if (strcmp(argv[1], "adopted") == 0) {
                /* A socket reactord was given by the service manager: TCP, else UNIX. */
                const char *method = "tcp.adopt";

                r = rd_client_tcp_adopt(c, argv[2], false, &nc.listener, &port);
                if (r == -EINVAL) {
                        method = "unix.adopt";
                        r = rd_client_unix_adopt(c, argv[2], false, &nc.listener);
                }
                if (r < 0)
                        return call_failed(c, method, r);
                fprintf(stderr, "reactorctl: listening on the activated socket %s\n", argv[2]);
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
        uint16_t port = 0;
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

/* ---- spawn --------------------------------------------------------------------------------- */

/*
 * One command run under reactord, as if run here: stdin goes to its stdin,
 * its fd-1 output to stdout and its fd-2 output to stderr, SIGINT and SIGTERM
 * are passed on, and the exit status is the command's once reactord reports
 * the process ended for good (process.ended with final).
 */
typedef struct spawner {
        uint64_t handle;    /* the process */
        bool stdin_eof;     /* stdin is at EOF (or gone) */
        bool stdin_closed;  /* process.close_stdin was sent for the running child */
        bool eof_sent;      /* --pty: the terminal's end-of-file character was written */
        bool mid_line;      /* --pty: the last byte written was not a newline */
        bool stdin_dead;    /* the child takes no more input: stdin is not read */
        bool stdout_gone;   /* stdout is a closed pipe: the child's fd-1 output is dropped */
        char *pending;      /* bytes refused with EAGAIN, written on process.drained */
        size_t pending_len; /* how many (0: stdin may be read) */
        int exit_status;    /* of the last process.exited: code, or 128 + signal; -1 before */
        int status;         /* the exit status once finished, -1 while running */
} spawner;

/* The local terminal, while --pty has put it in raw mode. */
static struct termios saved_termios;
static bool termios_saved;

static void terminal_restore(void)
{
        if (termios_saved) {
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
                termios_saved = false;
        }
}

/* Raw mode: every key goes to the child's terminal, which does its own line editing and ^C. */
static void terminal_raw(void)
{
        struct termios t;

        if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return;
        t = saved_termios;
        cfmakeraw(&t);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0)
                return;
        termios_saved = true;
        atexit(terminal_restore);
}

/* Write all of `data` to `fd`, waiting out EAGAIN (a non-blocking terminal). 0 or -errno. */
static int write_full(int fd, const void *data, size_t n)
{
        const char *p = data;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        (void)poll(&pfd, 1, -1);
                        continue;
                }
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Finish with an error: show it, stop the process, exit 1. */
static void spawner_fail(rd_client *c, spawner *sp, const char *what, int r, const char *msg)
{
        terminal_restore();
        fprintf(stderr, "reactorctl: %s: %s: %s\n", what, rd_error_name(r),
                msg && *msg ? msg : rd_error_message(r));
        if (sp->status < 0 && sp->handle)
                (void)rd_client_process_stop(c, sp->handle, 0, -1);
        sp->status = EXIT_REPLY;
}

/* The child no longer takes input (it exited, or closed its stdin): stop reading ours. */
static void spawner_stdin_dead(spawner *sp)
{
        sp->stdin_dead = true;
        free(sp->pending);
        sp->pending = NULL;
        sp->pending_len = 0;
}

static void spawner_write(rd_client *c, spawner *sp, const void *data, size_t n);

/*
 * Close the child's stdin once ours is done and everything read from it is
 * written. A terminal has no input side to close, so with --pty the child
 * gets what a terminal sends for end of file instead: ^D at the start of a
 * line (twice when a line is unfinished: once to end it).
 */
static void spawner_maybe_close(rd_client *c, spawner *sp)
{
        static const char eof[2] = { '\004', '\004' };
        int r;

        if (!sp->stdin_eof || sp->pending_len > 0 || sp->stdin_closed || sp->stdin_dead ||
            sp->status >= 0)
                return;
        if (arg.pty && !sp->eof_sent) {
                sp->eof_sent = true;
                spawner_write(c, sp, eof, sp->mid_line ? 2 : 1);
        }
        if (arg.pty) {
                /* Written (or pending until process.drained): that was the end of the input. */
                sp->stdin_closed = sp->pending_len == 0;
                return;
        }
        sp->stdin_closed = true;
        r = rd_client_process_close_stdin(c, sp->handle, -1);
        /* EPIPE: stdin is closed already; ENOENT: the process is gone. Neither is news. */
        if (r < 0 && r != -EPIPE && r != -ENOENT && sp->status < 0)
                spawner_fail(c, sp, "process.close_stdin", r, rd_client_last_error(c));
}

/* Write `data` to the child's stdin; on EAGAIN keep it, and stop reading stdin until drained. */
static void spawner_write(rd_client *c, spawner *sp, const void *data, size_t n)
{
        int r = rd_client_process_write(c, sp->handle, -1, data, n);

        if (r >= 0 && n > 0)
                sp->mid_line = ((const char *)data)[n - 1] != '\n';
        if (r >= 0 || sp->status >= 0)
                return;
        if (r == -EPIPE || r == -ENOENT) {
                /* As for a pipe into a program that has stopped reading: the rest is dropped. */
                spawner_stdin_dead(sp);
                return;
        }
        if (r != -EAGAIN) {
                spawner_fail(c, sp, "process.write", r, rd_client_last_error(c));
                return;
        }
        if (data != sp->pending) {
                sp->pending = malloc(n);
                if (!sp->pending) {
                        spawner_fail(c, sp, "process.write", -ENOMEM, NULL);
                        return;
                }
                memcpy(sp->pending, data, n);
        }
        sp->pending_len = n;
}

/* The child's output, to stdout or stderr. */
static void spawner_output(rd_client *c, spawner *sp, const rd_client_event *ev)
{
        const void *data;
        size_t n;
        int fd, r;

        if (rd_client_event_output(ev, &fd, &data, &n) < 0)
                return;
        if (fd != STDERR_FILENO && sp->stdout_gone)
                return;
        r = write_full(fd == STDERR_FILENO ? STDERR_FILENO : STDOUT_FILENO, data, n);
        if (r == -EPIPE && fd != STDERR_FILENO) {
                /* `reactorctl spawn -- yes | head`: the child gets the SIGPIPE it would get. */
                sp->stdout_gone = true;
                (void)rd_client_process_signal(c, sp->handle, SIGPIPE, false, -1);
        }
}

static int on_spawn_process(rd_client *c, const rd_client_event *ev, void *userdata)
{
        spawner *sp = userdata;
        int code, signo, r;

        if (arg.json) {
                r = put_event(ev);
                if (r == -EPIPE)
                        sp->stdout_gone = true;
                else if (r < 0 && sp->status < 0)
                        spawner_fail(c, sp, "stdout", r, NULL);
        }

        if (strcmp(ev->name, "process.output") == 0) {
                if (!arg.json)
                        spawner_output(c, sp, ev);
        } else if (strcmp(ev->name, "process.drained") == 0 && sp->pending_len > 0) {
                size_t len = sp->pending_len;
                sp->pending_len = 0;
                spawner_write(c, sp, sp->pending, len);
                if (sp->pending_len == 0) {
                        free(sp->pending);
                        sp->pending = NULL;
                }
                spawner_maybe_close(c, sp);
        } else if (strcmp(ev->name, "process.started") == 0) {
                /* A restarted child has a new stdin: it reads the same EOF the first one did. */
                if (sp->stdin_closed) {
                        sp->stdin_closed = sp->eof_sent = sp->mid_line = false;
                        spawner_maybe_close(c, sp);
                }
        } else if (strcmp(ev->name, "process.exited") == 0) {
                if (rd_client_event_exited(ev, &code, &signo, NULL) >= 0)
                        sp->exit_status = signo > 0 ? 128 + signo : code;
                spawner_stdin_dead(sp);
        } else if (strcmp(ev->name, "process.gave_up") == 0) {
                terminal_restore();
                fprintf(stderr, "reactorctl: spawn: gave up after %" PRIu64 " restarts\n",
                        rd_value_get_uint(ev->payload, "restarts", 0));
        } else if (rd_client_event_final(ev)) {
                /* The handle is gone with this event; the library drops this handler. */
                sp->handle = 0;
                if (sp->status < 0)
                        sp->status = sp->exit_status >= 0 ? sp->exit_status : EXIT_REPLY;
        }
        return 0;
}

/* Read stdin once and write what came to the child. */
static void spawner_read_stdin(rd_client *c, spawner *sp)
{
        static char buf[STDIN_CHUNK];
        ssize_t n;

        n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* EOF, or a stdin that cannot be read (closed, a directory): no more input. */
                sp->stdin_eof = true;
                spawner_maybe_close(c, sp);
                return;
        }
        spawner_write(c, sp, buf, (size_t)n);
}

/* SIGINT or SIGTERM arrived: pass it on. A supervised process is stopped with it instead. */
static void spawner_forward(rd_client *c, spawner *sp, int sfd)
{
        struct signalfd_siginfo si;
        int r;

        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (sp->status >= 0 || sp->handle == 0)
                        return;
                if (arg.restart != RD_SPAWN_RESTART_NEVER)
                        r = rd_client_process_stop(c, sp->handle, (int)si.ssi_signo, -1);
                else
                        r = rd_client_process_signal(c, sp->handle, (int)si.ssi_signo, true, -1);
                /* ESRCH, ENOENT: it has exited already, and process.ended is on its way. */
                if (r < 0 && r != -ESRCH && r != -ENOENT)
                        spawner_fail(c, sp, "process.signal", r, rd_client_last_error(c));
        }
}

static int spawner_run(rd_client *c, spawner *sp, int sfd)
{
        int fd, r;

        fd = rd_client_fd(c);
        if (fd < 0) {
                spawner_fail(c, sp, "spawn", fd, NULL);
                return sp->status;
        }
        for (;;) {
                r = rd_client_process(c);
                if (sp->status >= 0)
                        return sp->status;
                if (r < 0) {
                        terminal_restore();
                        fprintf(stderr, "reactorctl: spawn: session lost: %s\n",
                                rd_error_message(r));
                        return EXIT_UNREACHABLE;
                }
                bool want_stdin = !sp->stdin_eof && !sp->stdin_dead && sp->pending_len == 0;
                struct pollfd pfd[3] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                        { .fd = want_stdin ? STDIN_FILENO : -1, .events = POLLIN },
                };
                if (poll(pfd, 3, rd_client_timeout(c)) < 0 && errno != EINTR) {
                        spawner_fail(c, sp, "poll", -errno, NULL);
                        return sp->status;
                }
                if (pfd[1].revents & POLLIN)
                        spawner_forward(c, sp, sfd);
                if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
                        spawner_read_stdin(c, sp);
                else if (pfd[2].revents & POLLNVAL) {
                        sp->stdin_eof = true; /* no stdin at all */
                        spawner_maybe_close(c, sp);
                }
        }
}

/* The exit status of a command reactord could not start, as env(1) and the shells have it. */
static int spawn_failed(rd_client *c, int r)
{
        int status = call_failed(c, "process.spawn", r);

        if (status != EXIT_REPLY)
                return status;
        if (r == -ENOENT)
                return EXIT_NOT_FOUND;
        if (r == -EACCES || r == -ENOEXEC || r == -ENOTDIR)
                return EXIT_CANNOT_RUN;
        return status;
}

/* spawn [--pty] [--restart ...] [--env K=V]... [--env-inherit] [--cwd DIR] -- CMD ARGS... */
static int cmd_spawn(rd_client *c, int argc, char **argv)
{
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;
        spawner sp = { .exit_status = -1, .status = -1 };
        struct winsize ws;
        sigset_t mask;
        pid_t pid;
        int r;

        o.env = (const char *const *)arg.env;
        o.env_inherit = arg.env_inherit;
        o.cwd = arg.cwd;
        o.pty = arg.pty;
        o.restart = arg.restart;
        o.name = arg.name_set ? arg.name : NULL;
        if (arg.pty && (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
                        ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)) {
                o.rows = ws.ws_row;
                o.cols = ws.ws_col;
        }

        /* Block the signals before the child exists: none is lost in between. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                fprintf(stderr, "reactorctl: spawn: signalfd: %m\n");
                return EXIT_FAILURE;
        }

        r = rd_client_spawn(c, (const char *const *)argv + 1, &o, &sp.handle, &pid);
        if (r < 0)
                return spawn_failed(c, r);
        /* The reply precedes the process's events: none is missed. */
        r = rd_client_on(c, sp.handle, on_spawn_process, &sp);
        if (r < 0) {
                spawner_fail(c, &sp, "spawn", r, NULL);
                return sp.status;
        }
        if (arg.pty && isatty(STDIN_FILENO))
                terminal_raw();
        r = spawner_run(c, &sp, sfd);
        terminal_restore();
        free(sp.pending);
        return r;
}

/* ---- ps ------------------------------------------------------------------------------------ */

/* Is `s` safe to show unquoted in a command line? */
static bool shell_plain(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "_@%+=:,./-",
                            s[i]) ||
                    s[i] == '\0')
                        return false;
        return true;
}

/* argv as a shell would take it back: words with special characters in single quotes. */
static char *command_line(const rd_value *argv)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const char *s;
        size_t n;

        if (!f)
                return NULL;
        for (size_t i = 0; i < rd_value_len(argv); i++) {
                if (i > 0)
                        fputc(' ', f);
                if (rd_value_str(rd_value_at(argv, i), &s, &n) < 0) {
                        fputc('?', f);
                        continue;
                }
                if (shell_plain(s, n)) {
                        fwrite(s, 1, n, f);
                        continue;
                }
                fputc('\'', f);
                for (size_t k = 0; k < n; k++) {
                        if (s[k] == '\'')
                                fputs("'\\''", f);
                        else
                                fputc(s[k], f);
                }
                fputc('\'', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/*
 * One field of every instance, joined with ",": "4242,4243". When `collapse`
 * and every instance has the same value, that value once ("running").
 */
static char *instances_field(const rd_value *instances, const char *key, bool collapse)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bool same = true;

        if (!f)
                return NULL;
        for (size_t i = 1; i < rd_value_len(instances) && collapse; i++) {
                _cleanup_free_ char *a = cell(rd_value_get(rd_value_at(instances, 0), key));
                _cleanup_free_ char *b = cell(rd_value_get(rd_value_at(instances, i), key));
                if (!a || !b || strcmp(a, b) != 0)
                        same = false;
        }
        for (size_t i = 0; i < rd_value_len(instances); i++) {
                const rd_value *v = rd_value_get(rd_value_at(instances, i), key);
                _cleanup_free_ char *s = NULL;
                uint64_t u;
                if (rd_value_type_of(v) <= RD_VALUE_NIL ||
                    (strcmp(key, "pid") == 0 && rd_value_uint(v, &u) >= 0 && u == 0))
                        s = strdup("-");
                else
                        s = cell(v);
                fprintf(f, "%s%s", i ? "," : "", s ? s : "?");
                if (collapse && same)
                        break;
        }
        if (rd_value_len(instances) == 0)
                fputc('-', f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* A user id as `ps` shows it: the name when this machine knows it, else the number. */
static char *user_name(const rd_value *uid)
{
        uint64_t u;
        struct passwd *pw;
        char *s;

        if (rd_value_uint(uid, &u) < 0)
                return strdup("-");
        pw = u <= UINT32_MAX ? getpwuid((uid_t)u) : NULL;
        if (pw)
                return strdup(pw->pw_name);
        return asprintf(&s, "%" PRIu64, u) < 0 ? NULL : s;
}

/* The owning session, and its client's user and pid when the connection tells them. */
static char *owner_cell(const rd_value *owner, const rd_value *uid, const rd_value *pid)
{
        uint64_t id, p;
        _cleanup_free_ char *user = NULL;
        char *s;

        if (rd_value_uint(owner, &id) < 0)
                return strdup("-");
        if (rd_value_uint(pid, &p) < 0 || !(user = user_name(uid)))
                return asprintf(&s, "%" PRIu64, id) < 0 ? NULL : s;
        return asprintf(&s, "%" PRIu64 " (%s, pid %" PRIu64 ")", id, user, p) < 0 ? NULL : s;
}

enum {
        PS_HANDLE,
        PS_NAME,
        PS_PID,
        PS_USER,
        PS_STATE,
        PS_RESTARTS,
        PS_OWNER,
        PS_COMMAND,
        PS_COLUMNS
};

static int cmd_ps(rd_client *c, int argc, char **argv)
{
        static const char *const heads[PS_COLUMNS] = { "HANDLE", "NAME",     "PID",   "USER",
                                                       "STATE",  "RESTARTS", "OWNER", "COMMAND" };
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        const rd_value *list;
        char *(*rows)[PS_COLUMNS];
        int w[PS_COLUMNS], r;
        size_t n;

        if (arg.json)
                return call_and_print(c, "process.list", NULL, false);

        r = rd_client_call(c, "process.list", NULL, 0, &reply);
        if (r < 0)
                return call_failed(c, "process.list", r);
        list = rd_value_get(rd_reply_result(reply), "processes");
        n = rd_value_len(list);
        rows = calloc(n + 1, sizeof(*rows));
        if (!rows) {
                fprintf(stderr, "reactorctl: ps: out of memory\n");
                return EXIT_FAILURE;
        }

        for (size_t i = 0; i < n; i++) {
                const rd_value *p = rd_value_at(list, i);
                const rd_value *name = rd_value_get(p, "name");
                const rd_value *owner = rd_value_get(p, "owner");
                const rd_value *inst = rd_value_get(p, "instances");
                rows[i][PS_HANDLE] = cell(rd_value_get(p, "handle"));
                rows[i][PS_NAME] = rd_value_type_of(name) > RD_VALUE_NIL ? cell(name) : strdup("-");
                rows[i][PS_PID] = instances_field(inst, "pid", false);
                rows[i][PS_STATE] = instances_field(inst, "state", true);
                rows[i][PS_RESTARTS] = instances_field(inst, "restarts", true);
                rows[i][PS_USER] = user_name(rd_value_get(p, "uid"));
                rows[i][PS_OWNER] = owner_cell(owner, rd_value_get(p, "owner_uid"),
                                               rd_value_get(p, "owner_pid"));
                rows[i][PS_COMMAND] = command_line(rd_value_get(p, "argv"));
        }

        for (int k = 0; k < PS_COLUMNS; k++) {
                w[k] = (int)strlen(heads[k]);
                for (size_t i = 0; i < n; i++)
                        if (rows[i][k] && (int)strlen(rows[i][k]) > w[k])
                                w[k] = (int)strlen(rows[i][k]);
        }
        for (size_t i = 0; i <= n; i++) {
                for (int k = 0; k < PS_COLUMNS; k++) {
                        const char *s = i == 0 ? heads[k] : rows[i - 1][k];
                        if (k == PS_COMMAND)
                                printf("%s\n", s ? s : "?");
                        else
                                printf("%-*s  ", w[k], s ? s : "?");
                }
        }
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < PS_COLUMNS; k++)
                        free(rows[i][k]);
        free(rows);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_FAILURE;
}

/* ---- the command line ---------------------------------------------------------------------- */

/* ---- gateway ------------------------------------------------------------------------------- */

/*
 * gateway: one JSON request per line on stdin, one JSON line per reply and
 * per event on stdout (PROTOCOL.md, "JSON view"), for programs in any
 * language that has pipes and JSON.
 *
 *   in:  {"id": ID, "method": "timer.start", "params": {...}, "text": true}
 *   out: {"id": ID, "result": {...}}
 *        {"id": ID, "error": {"code": "EINVAL", "message": "..."}}
 *        {"event": NAME, "payload": {...}}
 *        {"error": {"code": "EINVAL", "message": "line N: ..."}}   (a bad line)
 *
 * ID is any JSON scalar and is echoed as given; a line without one gets no
 * reply line. "params" (an object) and "text" (a boolean) are optional; other
 * keys are ignored. With "text": true, bin values that are valid UTF-8 are
 * shown as strings in that request's reply and in every event of the handle
 * its result names; --text does so for every line.
 */

typedef struct gateway {
        rd_decoder *in;         /* decodes input lines */
        rd_decoder *out;        /* decodes values re-encoded for --text */
        uint64_t line;          /* input lines read */
        size_t pending;         /* calls whose reply has not come */
        uint64_t *text_handles; /* handles created by "text": true requests */
        size_t n_text_handles;
        char *buf; /* stdin bytes not yet a whole line */
        size_t len;
        bool eof;      /* stdin is at EOF */
        bool out_gone; /* stdout is closed */
} gateway;

/* One call in flight. */
typedef struct gw_call {
        gateway *gw;
        char *id; /* the caller's id as JSON text; NULL: no reply line */
        bool text;
} gw_call;

/* Is s[0..n) valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)? */
static bool utf8_valid(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        k = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3;
                        cp = c & 0x07;
                } else
                        return false;
                if (n - i <= k)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

/*
 * Append `v` to `w` as msgpack; with `text`, a bin that is valid UTF-8 becomes
 * a str. Returns 0, or -EOPNOTSUPP for an ext value (which has no accessor).
 */
static int encode_value(rd_writer *w, const rd_value *v, bool text)
{
        const char *s;
        const void *p;
        size_t n;
        uint64_t u;
        int64_t i;
        double d;
        bool b;
        int r;

        switch (rd_value_type_of(v)) {
        case RD_VALUE_NONE:
        case RD_VALUE_NIL:
                rd_write_nil(w);
                return 0;
        case RD_VALUE_BOOL:
                (void)rd_value_bool(v, &b);
                rd_write_bool(w, b);
                return 0;
        case RD_VALUE_UINT:
                (void)rd_value_uint(v, &u);
                rd_write_uint(w, u);
                return 0;
        case RD_VALUE_INT:
                (void)rd_value_int(v, &i);
                rd_write_int(w, i);
                return 0;
        case RD_VALUE_FLOAT:
                (void)rd_value_double(v, &d);
                rd_write_double(w, d);
                return 0;
        case RD_VALUE_STR:
                (void)rd_value_str(v, &s, &n);
                rd_write_strn(w, s, n);
                return 0;
        case RD_VALUE_BIN:
                (void)rd_value_bin(v, &p, &n);
                if (text && utf8_valid(p, n))
                        rd_write_strn(w, p, n);
                else
                        rd_write_bin(w, p, n);
                return 0;
        case RD_VALUE_ARRAY:
                n = rd_value_len(v);
                rd_write_array(w, (uint32_t)n);
                for (size_t k = 0; k < n; k++) {
                        r = encode_value(w, rd_value_at(v, k), text);
                        if (r < 0)
                                return r;
                }
                return 0;
        case RD_VALUE_MAP:
                n = rd_value_len(v);
                rd_write_map(w, (uint32_t)n);
                for (size_t k = 0; k < n; k++) {
                        r = encode_value(w, rd_value_key_at(v, k), text);
                        if (r < 0)
                                return r;
                        r = encode_value(w, rd_value_val_at(v, k), text);
                        if (r < 0)
                                return r;
                }
                return 0;
        case RD_VALUE_EXT:
                break;
        }
        return -EOPNOTSUPP;
}

/*
 * Decode the msgpack value msgpack[0..n) with `d`: it is wrapped in a response
 * message, whose result may be any value. *ret is valid until d's next use.
 */
static int decode_value(rd_decoder *d, rd_writer *frame, const void *msgpack, size_t n,
                        const rd_value **ret)
{
        rd_msg msg;
        int r;

        rd_write_array(frame, 4);
        rd_write_uint(frame, RD_MSG_RESPONSE);
        rd_write_uint(frame, 0);
        rd_write_nil(frame);
        rd_write_raw(frame, msgpack, n);
        if (frame->failed)
                return -ENOMEM;
        r = rd_decoder_begin(d, frame->data, frame->size);
        if (r < 0)
                return r;
        r = rd_decoder_next(d, &msg);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        *ret = msg.result;
        return 0;
}

/* Render `v` as JSON (NULL: "{}"), bins that are valid UTF-8 as strings when `text`. */
static int gw_render(gateway *gw, const rd_value *v, bool text, char **ret)
{
        _cleanup_(rd_writer_done) rd_writer w = RD_WRITER_INIT;
        _cleanup_(rd_writer_done) rd_writer frame = RD_WRITER_INIT;
        const rd_value *t;

        if (!v) {
                *ret = strdup("{}");
                return *ret ? 0 : -ENOMEM;
        }
        /* An ext value cannot be re-encoded: it is shown as it is. */
        if (text && encode_value(&w, v, true) == 0) {
                if (w.failed)
                        return -ENOMEM;
                if (decode_value(gw->out, &frame, w.data, w.size, &t) == 0)
                        return rd_json_from_value(t, ret);
        }
        return rd_json_from_value(v, ret);
}

static bool gw_text_handle(const gateway *gw, uint64_t handle)
{
        for (size_t i = 0; handle && i < gw->n_text_handles; i++)
                if (gw->text_handles[i] == handle)
                        return true;
        return false;
}

static void gw_end_line(gateway *gw)
{
        if (!end_line())
                gw->out_gone = true;
}

/* {"id": ID, "error": {"code": CODE, "message": MSG}}, the id left out when NULL. */
static void gw_put_error(gateway *gw, const char *id, const char *code, const char *fmt, ...)
        _printf_(4, 5);
static void gw_put_error(gateway *gw, const char *id, const char *code, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        fputc('{', stdout);
        if (id)
                printf("\"id\":%s,", id);
        fputs("\"error\":{\"code\":", stdout);
        put_json_string(stdout, code);
        fputs(",\"message\":", stdout);
        put_json_string(stdout, msg ? msg : "out of memory");
        fputs("}}", stdout);
        gw_end_line(gw);
}

static void gw_on_reply(rd_client *c, int error, const rd_value *result, const char *message,
                        void *userdata)
{
        gw_call *call = userdata;
        gateway *gw = call->gw;
        _cleanup_free_ char *json = NULL;
        uint64_t handle;

        gw->pending--;
        if (error == 0 && call->text &&
            rd_value_uint(rd_value_get(result, "handle"), &handle) == 0 && handle &&
            !gw_text_handle(gw, handle)) {
                uint64_t *h = reallocarray(gw->text_handles, gw->n_text_handles + 1, sizeof(*h));
                if (h) {
                        h[gw->n_text_handles++] = handle;
                        gw->text_handles = h;
                }
        }
        if (call->id && !gw->out_gone) {
                if (error < 0)
                        gw_put_error(gw, call->id, rd_error_name(error), "%s",
                                     message && *message ? message : rd_error_message(error));
                else if (gw_render(gw, result, call->text || arg.text, &json) < 0)
                        gw_put_error(gw, call->id, "ENOMEM", "out of memory");
                else {
                        printf("{\"id\":%s,\"result\":%s}", call->id, json);
                        gw_end_line(gw);
                }
        }
        free(call->id);
        free(call);
}

static int gw_on_event(rd_client *c, const rd_client_event *ev, void *userdata)
{
        gateway *gw = userdata;
        _cleanup_free_ char *payload = NULL;
        int r;

        if (gw->out_gone)
                return 0;
        r = gw_render(gw, ev->payload, arg.text || gw_text_handle(gw, ev->handle), &payload);
        if (r < 0)
                return r;
        fputs("{\"event\":", stdout);
        put_json_string(stdout, ev->name);
        printf(",\"payload\":%s}", payload);
        gw_end_line(gw);
        return 0;
}

/* A copy of a str value as a C string, or NULL when it is not a str without NULs. */
static char *str_dup(const rd_value *v)
{
        const char *s;
        size_t n;

        if (rd_value_str(v, &s, &n) < 0 || memchr(s, '\0', n))
                return NULL;
        return strndup(s, n);
}

/* Handle one input line (without its newline). */
static void gw_line(rd_client *c, gateway *gw, const char *line, size_t len)
{
        _cleanup_(rd_writer_done) rd_writer w = RD_WRITER_INIT;
        _cleanup_(rd_writer_done) rd_writer frame = RD_WRITER_INIT;
        _cleanup_free_ char *id = NULL, *method = NULL;
        const rd_value *req, *v, *params = NULL;
        rd_kv *kv = NULL;
        char **keys = NULL;
        rd_writer *vals = NULL;
        size_t n = 0;
        bool text = false;
        char err[256];
        int r;

        gw->line++;
        if (strspn(line, " \t\r") == len)
                return; /* blank lines are skipped */

        r = rd_json_to_msgpack(line, len, &w, err, sizeof(err));
        if (r == -ENOMEM)
                return gw_put_error(gw, NULL, "ENOMEM", "line %" PRIu64 ": out of memory",
                                    gw->line);
        if (r < 0)
                return gw_put_error(gw, NULL, "EINVAL", "line %" PRIu64 ": %s", gw->line, err);
        r = decode_value(gw->in, &frame, w.data, w.size, &req);
        if (r < 0)
                return gw_put_error(gw, NULL, rd_error_name(r), "line %" PRIu64 ": %s", gw->line,
                                    rd_error_message(r));
        if (rd_value_type_of(req) != RD_VALUE_MAP)
                return gw_put_error(gw, NULL, "EINVAL",
                                    "line %" PRIu64 ": a request must be a JSON object", gw->line);

        v = rd_value_get(req, "id");
        if (v) {
                rd_value_type t = rd_value_type_of(v);
                if (t == RD_VALUE_ARRAY || t == RD_VALUE_MAP)
                        return gw_put_error(gw, NULL, "EINVAL",
                                            "line %" PRIu64 ": \"id\" must be a JSON scalar",
                                            gw->line);
                if (rd_json_from_value(v, &id) < 0)
                        return gw_put_error(gw, NULL, "ENOMEM", "line %" PRIu64 ": out of memory",
                                            gw->line);
        }
        method = str_dup(rd_value_get(req, "method"));
        if (!method || !*method)
                return gw_put_error(gw, id, "EINVAL",
                                    "line %" PRIu64 ": \"method\" must be a non-empty string",
                                    gw->line);
        v = rd_value_get(req, "text");
        if (v && rd_value_bool(v, &text) < 0)
                return gw_put_error(gw, id, "EINVAL",
                                    "line %" PRIu64 ": \"text\" must be true or false", gw->line);
        v = rd_value_get(req, "params");
        if (v && rd_value_type_of(v) != RD_VALUE_NIL) {
                if (rd_value_type_of(v) != RD_VALUE_MAP)
                        return gw_put_error(gw, id, "EINVAL",
                                            "line %" PRIu64 ": \"params\" must be a JSON object",
                                            gw->line);
                params = v;
        }

        /* Each param travels as its msgpack bytes (RD_RAW). */
        n = rd_value_len(params);
        kv = calloc(n ? n : 1, sizeof(*kv));
        keys = calloc(n ? n : 1, sizeof(*keys));
        vals = calloc(n ? n : 1, sizeof(*vals));
        if (!kv || !keys || !vals) {
                gw_put_error(gw, id, "ENOMEM", "line %" PRIu64 ": out of memory", gw->line);
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                vals[i] = (rd_writer)RD_WRITER_INIT;
                keys[i] = str_dup(rd_value_key_at(params, i));
                if (!keys[i]) {
                        gw_put_error(gw, id, "EINVAL", "line %" PRIu64 ": bad param name",
                                     gw->line);
                        goto finish;
                }
                r = encode_value(&vals[i], rd_value_val_at(params, i), false);
                if (r < 0 || vals[i].failed) {
                        gw_put_error(gw, id, r < 0 ? "EINVAL" : "ENOMEM",
                                     "line %" PRIu64 ": param \"%s\": %s", gw->line, keys[i],
                                     r < 0 ? "$ext values are not supported" : "out of memory");
                        goto finish;
                }
                kv[i] = RD_RAW(keys[i], vals[i].data, vals[i].size);
        }

        gw_call *call = calloc(1, sizeof(*call));
        if (!call) {
                gw_put_error(gw, id, "ENOMEM", "line %" PRIu64 ": out of memory", gw->line);
                goto finish;
        }
        *call = (gw_call){ .gw = gw, .id = id, .text = text };
        r = rd_client_call_async(c, method, kv, n, gw_on_reply, call);
        if (r < 0) {
                free(call);
                gw_put_error(gw, id, rd_error_name(r), "%s: %s", method, rd_error_message(r));
                goto finish;
        }
        TAKE_PTR(id); /* the call owns it now */
        gw->pending++;

finish:
        for (size_t i = 0; i < n && keys && vals; i++) {
                free(keys[i]);
                rd_writer_done(&vals[i]);
        }
        free(keys);
        free(vals);
        free(kv);
}

/* Read what stdin has; handle every whole line (and, at EOF, the last partial one). */
static int gw_read(rd_client *c, gateway *gw)
{
        char chunk[STDIN_CHUNK];
        ssize_t k;

        k = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (k == 0)
                gw->eof = true;
        else {
                char *b = realloc(gw->buf, gw->len + (size_t)k + 1);
                if (!b)
                        return -ENOMEM;
                memcpy(b + gw->len, chunk, (size_t)k);
                gw->buf = b;
                gw->len += (size_t)k;
                gw->buf[gw->len] = '\0';
        }

        size_t start = 0;
        for (char *nl; gw->len > start && (nl = memchr(gw->buf + start, '\n', gw->len - start));) {
                *nl = '\0';
                gw_line(c, gw, gw->buf + start, (size_t)(nl - (gw->buf + start)));
                start = (size_t)(nl - gw->buf) + 1;
        }
        if (gw->eof && gw->len > start) {
                gw_line(c, gw, gw->buf + start, gw->len - start);
                start = gw->len;
        }
        if (start > 0) { /* gw->buf is NULL when nothing came in at all */
                memmove(gw->buf, gw->buf + start, gw->len - start);
                gw->len -= start;
        }
        return 0;
}

/*
 * gateway: requests from stdin until EOF, then the replies still to come;
 * events are printed as they arrive. Exits 0 at EOF once every reply is in.
 */
static int cmd_gateway(rd_client *c, int argc, char **argv)
{
        gateway gw = {};
        double deadline = 0;
        int r, fd, status = EXIT_FAILURE;

        if (rd_decoder_new(&gw.in) < 0 || rd_decoder_new(&gw.out) < 0) {
                fprintf(stderr, "reactorctl: out of memory\n");
                goto done;
        }
        r = rd_client_on_any(c, gw_on_event, &gw);
        fd = r < 0 ? r : rd_client_fd(c);
        if (fd < 0) {
                fprintf(stderr, "reactorctl: gateway: %s\n", strerror(-fd));
                goto done;
        }

        struct pollfd pfd[2] = {
                { .fd = fd, .events = POLLIN },
                { .fd = STDIN_FILENO, .events = POLLIN },
        };
        for (;;) {
                r = rd_client_process(c);
                if (gw.out_gone)
                        goto done;
                if (r < 0) {
                        fprintf(stderr, "reactorctl: gateway: session lost: %s\n",
                                rd_error_message(r));
                        status = EXIT_UNREACHABLE;
                        goto done;
                }
                if (gw.eof && gw.pending == 0) {
                        status = EXIT_SUCCESS;
                        goto done;
                }

                int timeout = rd_client_timeout(c);
                if (gw.eof) {
                        double left = deadline - now_sec();
                        if (left <= 0) {
                                fprintf(stderr,
                                        "reactorctl: gateway: ETIMEDOUT: %zu replies did not "
                                        "come within %g s\n",
                                        gw.pending, arg.timeout);
                                status = EXIT_UNREACHABLE;
                                goto done;
                        }
                        int ms = (int)(left * 1000) + 1;
                        if (timeout < 0 || ms < timeout)
                                timeout = ms;
                }
                if (poll(pfd, gw.eof ? 1 : 2, timeout) < 0 && errno != EINTR) {
                        fprintf(stderr, "reactorctl: gateway: poll: %m\n");
                        goto done;
                }
                if (!gw.eof && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                        r = gw_read(c, &gw);
                        if (r < 0) {
                                fprintf(stderr, "reactorctl: gateway: stdin: %s\n", strerror(-r));
                                goto done;
                        }
                        if (gw.eof)
                                deadline = now_sec() + arg.timeout;
                }
        }

done:
        /* Calls still in flight keep their userdata until the client is freed: leave it. */
        rd_client_on_any(c, NULL, NULL);
        free(gw.buf);
        free(gw.text_handles);
        rd_decoder_free(gw.in);
        rd_decoder_free(gw.out);
        return status;
}

/* keygen: a CURVE key pair, NAME.key and NAME.pub (PROTOCOL.md, "Security"). */
static int cmd_keygen(rd_client *c, int argc, char **argv)
{
        char host[256] = "";
        const char *name = arg.out;
        rd_curve_key key = {};
        int r;

        /* By default the key is named after this host: the name reactord then shows. */
        if (!name) {
                if (gethostname(host, sizeof(host) - 1) < 0 || !host[0] || strchr(host, '/'))
                        snprintf(host, sizeof(host), "reactord");
                name = host;
        }
        r = rd_client_curve_keypair(key.public_key, key.secret_key);
        if (r < 0) {
                fprintf(stderr, "reactorctl: keygen: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = rd_curve_key_write(name, &key);
        explicit_bzero(key.secret_key, sizeof(key.secret_key));
        if (r == -EEXIST) {
                fprintf(stderr,
                        "reactorctl: keygen: %s.key or %s.pub exists; keys are never "
                        "overwritten\n",
                        name, name);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "reactorctl: keygen: cannot write %s.key and %s.pub: %s\n", name,
                        name, strerror(-r));
                return EXIT_FAILURE;
        }
        printf("%s.key: the key pair, mode 0600: keep it secret\n"
               "%s.pub: the public key %s",
               name, name, key.public_key);
        return end_line() ? EXIT_SUCCESS : EXIT_FAILURE;
}

typedef struct command {
        const char *name;
        int min_args; /* operands after the command name */
        int max_args; /* -1: any number */
        int (*run)(rd_client *c, int argc, char **argv);
        const char *synopsis;
        const char *help;
        bool offline; /* runs without reactord: run() gets c == NULL */
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
        { "listen", 2, 2, cmd_listen, "listen tcp PORT|unix PATH|adopted NAME",
          "accept one connection; copy stdin to it and it to stdout" },
        { "connect", 2, 2, cmd_connect, "connect HOST PORT|unix PATH",
          "connect; copy stdin to the connection and it to stdout" },
        { "spawn", 1, -1, cmd_spawn, "spawn -- CMD [ARG]...",
          "run CMD under reactord with this stdin, stdout and stderr" },
        { "ps", 0, 0, cmd_ps, "ps", "every process reactord runs, of every session" },
        { "gateway", 0, 0, cmd_gateway, "gateway",
          "JSON requests from stdin, JSON replies and events to stdout" },
        { "keygen", 0, 0, cmd_keygen, "keygen [--out NAME]",
          "write a CURVE key pair, NAME.key and NAME.pub, for tcp://", true },
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
               "reactorctl);\n"
               "                          spawn: the process's name too (ps, process.take)\n"
               "  -j, --json              info, methods, resources, ps: print raw JSON; listen,\n"
               "                          connect, spawn: print events as JSON lines\n"
               "  -c, --count N           watch: exit after N events\n"
               "  -H, --host ADDRESS      listen tcp: the address to listen on (default: ::)\n"
               "      --pty               spawn: give the command a pseudo-terminal (a local\n"
               "                          terminal is put in raw mode while it runs)\n"
               "      --restart POLICY    spawn: never (default), on-failure or always\n"
               "      --env KEY=VALUE     spawn: put KEY in the command's environment "
               "(repeatable)\n"
               "      --env-inherit       spawn: start from reactord's environment, not an empty "
               "one\n"
               "      --cwd DIR           spawn: run the command in DIR\n"
               "      --text              gateway: show every bin that is valid UTF-8 as a "
               "string\n"
               "      --server-key FILE   CURVE: reactord's public key (NAME.pub) for a tcp://\n"
               "                          endpoint (default: $REACTORD_SERVER_KEY)\n"
               "      --key FILE          CURVE: this client's key pair, NAME.key (default:\n"
               "                          $REACTORD_KEY)\n"
               "      --out NAME          keygen: write NAME.key and NAME.pub (default: the\n"
               "                          host name)\n"
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
               "spawn runs CMD (no shell is involved; put \"--\" before it) under reactord:\n"
               "stdin goes to its stdin, its output to stdout and stderr, and SIGINT and\n"
               "SIGTERM are passed on (with --restart they stop it for good). Its environment\n"
               "holds only the --env variables unless --env-inherit is given, e.g.\n"
               "  reactorctl spawn --env-inherit -- make -j8\n"
               "\n"
               "gateway reads one request per line, {\"id\": ID, \"method\": M, \"params\": "
               "{...}}\n"
               "(ID: any JSON scalar, echoed; without it no reply line is written), and writes\n"
               "{\"id\": ID, \"result\": ...} or {\"id\": ID, \"error\": {\"code\": ..., "
               "\"message\": ...}}\n"
               "per reply and {\"event\": NAME, \"payload\": ...} per event; a bad line gets\n"
               "{\"error\": {\"code\": \"EINVAL\", \"message\": \"line N: ...\"}}. "
               "\"text\": true in a request\n"
               "shows bins that are valid UTF-8 as strings in its reply and in the events of\n"
               "the handle it creates. At EOF it waits for the replies due, then exits 0.\n"
               "\n"
               "Exit status: 0 success, 1 error reply or connection error, 2 usage error,\n"
               "3 reactord unreachable. spawn: the command's exit status, 128+N when signal\n"
               "N killed it, 127 when it does not exist, 126 when it cannot be run.\n",
               DEFAULT_TIMEOUT);
}

/* Long options without a short form. */
enum { OPT_SERVER_KEY = 0x200, OPT_KEY, OPT_OUT };
enum {
        OPT_PTY = 0x100,
        OPT_RESTART,
        OPT_ENV,
        OPT_ENV_INHERIT,
        OPT_CWD,
        OPT_TEXT,
};

static int parse_restart(const char *s, rd_spawn_restart *ret)
{
        static const char *const names[] = {
                [RD_SPAWN_RESTART_NEVER] = "never",
                [RD_SPAWN_RESTART_ON_FAILURE] = "on-failure",
                [RD_SPAWN_RESTART_ALWAYS] = "always",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (rd_spawn_restart)i;
                        return 0;
                }
        return -EINVAL;
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
                { "pty", no_argument, NULL, OPT_PTY },
                { "restart", required_argument, NULL, OPT_RESTART },
                { "env", required_argument, NULL, OPT_ENV },
                { "env-inherit", no_argument, NULL, OPT_ENV_INHERIT },
                { "cwd", required_argument, NULL, OPT_CWD },
                { "text", no_argument, NULL, OPT_TEXT },
                { "server-key", required_argument, NULL, OPT_SERVER_KEY },
                { "key", required_argument, NULL, OPT_KEY },
                { "out", required_argument, NULL, OPT_OUT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        char *end;
        int opt;

        /* --env operands are kept as they are: there are never more of them than arguments. */
        arg.env = calloc((size_t)argc + 1, sizeof(char *));
        if (!arg.env) {
                fprintf(stderr, "reactorctl: out of memory\n");
                return EXIT_FAILURE;
        }

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
                        arg.name_set = true;
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
                case OPT_PTY:
                        arg.pty = true;
                        break;
                case OPT_RESTART:
                        if (parse_restart(optarg, &arg.restart) < 0)
                                return usage_error("--restart: expected never, on-failure or "
                                                   "always, got '%s'",
                                                   optarg);
                        break;
                case OPT_ENV:
                        if (optarg[0] == '=' || !strchr(optarg, '='))
                                return usage_error("--env: expected KEY=VALUE, got '%s'", optarg);
                        arg.env[arg.n_env++] = optarg;
                        break;
                case OPT_ENV_INHERIT:
                        arg.env_inherit = true;
                        break;
                case OPT_CWD:
                        if (!*optarg)
                                return usage_error("--cwd: expected a directory");
                        arg.cwd = optarg;
                        break;
                case OPT_TEXT:
                        arg.text = true;
                        break;
                case OPT_SERVER_KEY:
                case OPT_KEY:
                case OPT_OUT:
                        if (!*optarg)
                                return usage_error("option '%s' needs a file name",
                                                   argv[optind - 1]);
                        *(opt == OPT_SERVER_KEY ? &arg.server_key
                          : opt == OPT_KEY      ? &arg.key
                                                : &arg.out) = optarg;
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
        _unused_ _cleanup_free_ char **env = arg.env; /* freed on every return */
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
        if (cmd->run != cmd_spawn && (arg.pty || arg.restart != RD_SPAWN_RESTART_NEVER ||
                                      arg.n_env > 0 || arg.env_inherit || arg.cwd))
                return usage_error("--pty, --restart, --env, --env-inherit and --cwd are for "
                                   "'spawn'");

        if (cmd->run != cmd_gateway && arg.text)
                return usage_error("--text is for 'gateway'");
        if (cmd->run != cmd_keygen && arg.out)
                return usage_error("--out is for 'keygen'");
        if (cmd->offline)
                return cmd->run(NULL, argc, argv);

        /* A closed stdout ends watch through a failed write, not a signal. */
        signal(SIGPIPE, SIG_IGN);

        r = connect_client(&c);
        if (r != 0)
                return r;
        if (cmd->run != cmd_watch && cmd->run != cmd_gateway)
                (void)rd_client_on_any(c, on_stray_event, NULL);
        return cmd->run(c, argc, argv);
}
