/* SPDX-License-Identifier: MIT */
/*
 * reactord: one event loop, owned by a daemon, shared by every client over
 * ZeroMQ. This file is the program around the broker: options, the endpoint
 * claim, signals and the service manager's notifications.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "activation.h"
#include "basic/endpoint.h"
#include "basic/log.h"
#include "broker.h"
#include "config.h"
#include "journal.h"
#include "version.h"
#include "endpoint.h"
#include "reactor/process.h"

/* How long children get between SIGTERM and SIGKILL when reactord shuts down. */
#define CHILD_STOP_TIMEOUT (5 * USEC_PER_SEC)

/* What a reload needs: the file, the command line that overrides it, what is served. */
typedef struct daemon_state {
        rd_broker *broker;       /* the running broker */
        const char *config_path; /* the file read at start and on SIGHUP; NULL for none */
        bool config_required;    /* given with --config: missing is an error */
        const rd_config *cli;    /* settings from the command line */
        const rd_config *active; /* the settings in effect (file, then command line) */
} daemon_state;

static bool streq_ptr(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static void help(void)
{
        printf("Usage: reactord [OPTION]...\n"
               "Serve a shared event loop (timers, sockets, processes) over ZeroMQ.\n\n"
               "  -e, --endpoint URI      bus endpoint (default: %s)\n"
               "  -c, --config FILE       configuration file (default: %s)\n"
               "  -l, --log-level LEVEL   error, warning, notice (default), info or debug\n"
               "      --max-sessions N    sessions at once (default 4096)\n"
               "      --max-handles N     handles per session (default 16384)\n"
               "      --max-frame BYTES   largest frame accepted (default 1048576)\n"
               "      --max-processes N   process instances per session (default 1024)\n"
               "      --max-write-buffer BYTES\n"
               "                          write buffers of a session's streams and process\n"
               "                          stdin together (default 67108864)\n"
               "      --curve-secret-key FILE\n"
               "                          reactord's CURVE key pair (reactorctl keygen)\n"
               "      --curve-allow DIR   directory of the allowed client keys (NAME.pub)\n"
               "      --allow-insecure-tcp\n"
               "                          serve tcp:// without CURVE: no authentication\n"
               "  -h, --help              show this help\n"
               "  -V, --version           show the version\n",
               "ipc://$XDG_RUNTIME_DIR/reactord/bus",
               geteuid() == 0 ? "/etc/reactord/reactord.conf"
                              : "$XDG_CONFIG_HOME/reactord/reactord.conf");
}

static int parse_size(const char *s, size_t min, size_t *ret)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v < min || v > SIZE_MAX / 16)
                return -EINVAL;
        *ret = (size_t)v;
        return 0;
}

static void notify_status(rd_broker *b)
{
        sd_notifyf(0, "STATUS=Serving %zu sessions", rd_broker_n_sessions(b));
}

static void all_stopped(void *userdata)
{
        log_notice("every child process has ended");
        (void)sd_event_exit(userdata, 0);
}

/* Read the file, then put the command line over it; *ret (empty on entry) gets the result. */
static int load_config(const char *path, bool required, const rd_config *cli, rd_config *ret,
                       char **ret_error)
{
        int k;

        if (path) {
                k = rd_config_load(path, !required, ret, ret_error);
                if (k < 0)
                        return k;
        }
        k = rd_config_merge(ret, cli);
        if (k < 0 && ret_error)
                *ret_error = strdup(strerror(-k));
        return k;
}

/* SIGHUP: read the file again and apply what can change without a restart. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        daemon_state *d = userdata;
        rd_broker_limits *l = &d->broker->limits, fresh = RD_BROKER_LIMITS_DEFAULT;
        _cleanup_free_ char *error = NULL;
        rd_config c = RD_CONFIG_EMPTY;
        struct timespec ts;
        int k;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading the configuration\nMONOTONIC_USEC=%" PRIu64,
                   (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000);
        if (!d->config_path)
                log_notice("received SIGHUP; no configuration file to read");
        k = load_config(d->config_path, d->config_required, d->cli, &c, &error);
        if (k < 0)
                log_error("%s; keeping the settings in effect", error ? error : strerror(-k));
        else {
                rd_config_apply_limits(&c, &fresh);
                if (!streq_ptr(c.endpoint, d->active->endpoint))
                        log_warning("the endpoint changes only on a restart; still serving %s",
                                    d->broker->endpoint);
                if (fresh.max_frame != l->max_frame)
                        log_warning("max-frame changes only on a restart; still %zu", l->max_frame);
                rd_log_set_level(c.log_level >= 0 ? (rd_log_level)c.log_level : RD_LOG_NOTICE);
                l->max_sessions = fresh.max_sessions;
                l->max_handles = fresh.max_handles;
                l->max_processes = fresh.max_processes;
                l->max_write_buffer = fresh.max_write_buffer;
                l->default_lease = fresh.default_lease;
                l->default_window = fresh.default_window;
                if (!streq_ptr(c.curve_secret_key, d->active->curve_secret_key))
                        log_warning("curve-secret-key changes only on a restart");
                if (d->broker->curve && c.curve_allow)
                        (void)rd_broker_reload_curve(d->broker, c.curve_allow);
                log_notice("configuration reloaded%s%s", d->config_path ? " from " : "",
                           d->config_path ? d->config_path : "");
        }
        rd_config_done(&c);
        sd_notifyf(0, "READY=1\nSTATUS=Serving %zu sessions", rd_broker_n_sessions(d->broker));
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        rd_broker *b = userdata;
        sd_event *e = sd_event_source_get_event(s);
        int k;

        if (b->shutting_down) {
                /* A second signal: stop waiting; children left are killed on the way out. */
                log_notice("received %s again, exiting now", strsignal((int)si->ssi_signo));
                return sd_event_exit(e, 0);
        }
        log_notice("received %s, shutting down", strsignal((int)si->ssi_signo));
        sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
        rd_broker_shutdown(b);
        /* Children get SIGTERM, then SIGKILL; the loop exits once none is left. */
        k = rd_process_stop_all(b->reactor, CHILD_STOP_TIMEOUT, all_stopped, e);
        return k < 0 ? sd_event_exit(e, 0) : 0;
}

int main(int argc, char *argv[])
{
        enum {
                OPT_MAX_SESSIONS = 0x100,
                OPT_MAX_HANDLES,
                OPT_MAX_FRAME,
                OPT_MAX_PROCESSES,
                OPT_MAX_WRITE_BUFFER,
        };
        enum { OPT_CURVE_SECRET_KEY = 0x200, OPT_CURVE_ALLOW, OPT_ALLOW_INSECURE_TCP };
        /* Their long names, in the order of the enum above. */
        static const char *const size_names[] = { "max-sessions", "max-handles", "max-frame",
                                                  "max-processes", "max-write-buffer" };
        static const struct option options[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, 'l' },
                { "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
                { "max-handles", required_argument, NULL, OPT_MAX_HANDLES },
                { "max-frame", required_argument, NULL, OPT_MAX_FRAME },
                { "max-processes", required_argument, NULL, OPT_MAX_PROCESSES },
                { "max-write-buffer", required_argument, NULL, OPT_MAX_WRITE_BUFFER },
                { "curve-secret-key", required_argument, NULL, OPT_CURVE_SECRET_KEY },
                { "curve-allow", required_argument, NULL, OPT_CURVE_ALLOW },
                { "allow-insecure-tcp", no_argument, NULL, OPT_ALLOW_INSECURE_TCP },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        rd_broker_limits limits = RD_BROKER_LIMITS_DEFAULT;
        bool allow_insecure_tcp = false;
        _cleanup_(rd_config_done) rd_config cli = RD_CONFIG_EMPTY, settings = RD_CONFIG_EMPTY;
        _cleanup_free_ char *endpoint = NULL, *config_path = NULL, *error = NULL;
        _cleanup_(rd_activation_freep) rd_activation *activation = NULL;
        bool config_required = false, activated = false;
        daemon_state state = {};
        sd_event *event = NULL;
        rd_broker *broker = NULL;
        sigset_t mask;
        int c, k, lock_fd = -EBADF;

        rd_log_set_ident("reactord");
        /* stderr into the journal (systemd): structured records rather than plain lines. */
        if (rd_log_stderr_is_journal())
                rd_log_set_sink(rd_journal_sink, NULL);
        while ((c = getopt_long(argc, argv, "e:c:l:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'e':
                        free(cli.endpoint);
                        cli.endpoint = strdup(optarg);
                        if (!cli.endpoint)
                                return log_error("out of memory"), 1;
                        break;
                case 'c':
                        free(config_path);
                        config_path = strdup(optarg);
                        if (!config_path)
                                return log_error("out of memory"), 1;
                        config_required = true;
                        break;
                case 'l':
                        k = rd_log_level_from_string(optarg);
                        if (k < 0) {
                                fprintf(stderr, "reactord: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        cli.log_level = k;
                        break;
                case OPT_MAX_SESSIONS:
                case OPT_MAX_HANDLES:
                case OPT_MAX_FRAME:
                case OPT_MAX_PROCESSES:
                case OPT_MAX_WRITE_BUFFER: {
                        size_t *field = c == OPT_MAX_SESSIONS       ? &cli.max_sessions
                                        : c == OPT_MAX_HANDLES      ? &cli.max_handles
                                        : c == OPT_MAX_PROCESSES    ? &cli.max_processes
                                        : c == OPT_MAX_WRITE_BUFFER ? &cli.max_write_buffer
                                                                    : &cli.max_frame;
                        bool bytes = c == OPT_MAX_FRAME || c == OPT_MAX_WRITE_BUFFER;

                        if (parse_size(optarg, bytes ? 1024 : 1, field) < 0) {
                                fprintf(stderr, "reactord: invalid value '%s' for --%s\n", optarg,
                                        size_names[c - OPT_MAX_SESSIONS]);
                                return 2;
                        }
                        break;
                }
                case OPT_CURVE_SECRET_KEY:
                case OPT_CURVE_ALLOW: {
                        char **field =
                                c == OPT_CURVE_ALLOW ? &cli.curve_allow : &cli.curve_secret_key;
                        free(*field);
                        *field = strdup(optarg);
                        if (!*field)
                                return log_error("out of memory"), 1;
                        break;
                }
                case OPT_ALLOW_INSECURE_TCP:
                        allow_insecure_tcp = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("reactord %s (protocol %d)\n", RD_VERSION, RD_PROTOCOL_VERSION);
                        return 0;
                default:
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "reactord: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!config_path)
                config_path = rd_config_default_path();
        /* The file first, the command line over it: `settings` is what is in effect. */
        k = load_config(config_path, config_required, &cli, &settings, &error);
        if (k < 0) {
                log_error("%s", error ? error : strerror(-k));
                return k == -ENOMEM ? 1 : 2;
        }
        if (settings.log_level >= 0)
                rd_log_set_level((rd_log_level)settings.log_level);
        rd_config_apply_limits(&settings, &limits);
        if (settings.endpoint)
                endpoint = strdup(settings.endpoint);
        else
                endpoint = rd_endpoint_default();
        if (!endpoint) {
                return log_error("out of memory"), 1;
        }
        /* Socket activation: the bus is the socket the service manager passed, if any. */
        if (rd_activation_new(&activation) < 0)
                return 1;
        activated = activation && activation->bus_endpoint;
        if (activated && strcmp(endpoint, activation->bus_endpoint) != 0) {
                log_notice("serving the activated socket %s, not %s", activation->bus_endpoint,
                           endpoint);
                free(endpoint);
                endpoint = strdup(activation->bus_endpoint);
                if (!endpoint)
                        return log_error("out of memory"), 1;
        }
        if (!settings.curve_secret_key != !settings.curve_allow) {
                log_error("CURVE needs both reactord's key (--curve-secret-key, curve-secret-key) "
                          "and the allowed client keys (--curve-allow, curve-allow)");
                return 2;
        }
        if (!rd_endpoint_ipc_path(endpoint)) {
                if (strncmp(endpoint, "tcp://", 6) != 0) {
                        log_error("%s: only ipc:// and tcp:// endpoints are served", endpoint);
                        return 2;
                }
                /* Whoever reaches the bus can run programs as this user: never by default. */
                if (!settings.curve_secret_key && !allow_insecure_tcp) {
                        log_error("%s: tcp:// is served only with CURVE: give --curve-secret-key "
                                  "FILE and --curve-allow DIR (see reactorctl keygen), or "
                                  "--allow-insecure-tcp to serve it without authentication",
                                  endpoint);
                        return 2;
                }
                if (!settings.curve_secret_key)
                        log_warning("%s: serving tcp:// WITHOUT authentication or encryption "
                                    "(--allow-insecure-tcp): anyone who can connect can run "
                                    "programs as uid %u",
                                    endpoint, (unsigned)geteuid());
        }

        /* An activated socket is the service manager's: no lock, and it is never unlinked. */
        lock_fd = activated ? -EBADF : rd_endpoint_claim(endpoint);
        if (!activated && lock_fd < 0 && lock_fd != -EBADF) { /* -EBADF: not ipc, no claim */
                k = -EBUSY;
                goto finish;
        }

        /* Signals arrive through the loop (signalfd), never as asynchronous handlers. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);  /* reload the configuration */
        sigaddset(&mask, SIGCHLD); /* children are watched through pidfds and signalfd */
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        k = sd_event_default(&event);
        if (k < 0) {
                log_error("cannot make the event loop: %s", strerror(-k));
                goto finish;
        }
        k = rd_broker_new_activated(event, endpoint, TAKE_PTR(activation), &limits, &broker);
        if (k < 0) {
                log_error("cannot serve %s: %s", endpoint, strerror(-k));
                goto finish;
        }
        /* A root reactord's bus is open to group reactord, when that group exists. */
        k = activated ? 0 : rd_endpoint_grant(endpoint); /* else SocketMode=, SocketGroup= */
        if (k < 0)
                goto finish;
        broker->on_sessions_changed = notify_status;
        state = (daemon_state){
                .broker = broker,
                .config_path = config_path,
                .config_required = config_required,
                .cli = &cli,
                .active = &settings,
        };
        if ((k = sd_event_add_signal(event, NULL, SIGTERM, on_signal, broker)) < 0 ||
            (k = sd_event_add_signal(event, NULL, SIGINT, on_signal, broker)) < 0 ||
            (k = sd_event_add_signal(event, NULL, SIGHUP, on_reload, &state)) < 0) {
                log_error("cannot watch signals: %s", strerror(-k));
                goto finish;
        }

        log_notice("reactord %s serving %s%s", RD_VERSION, broker->endpoint,
                   broker->curve ? " with CURVE" : "");
        sd_notifyf(0, "READY=1\nSTATUS=Serving 0 sessions\nMAINPID=%d", (int)getpid());
        /* With WatchdogSec= (WATCHDOG_USEC for this pid), the loop itself sends WATCHDOG=1 at
         * half the interval; without it nothing is armed and idle stays idle. */
        k = sd_event_set_watchdog(event, true);
        if (k < 0) {
                log_error("cannot arm the watchdog: %s", strerror(-k));
                goto finish;
        }
        if (k > 0) {
                uint64_t usec = 0;

                (void)sd_watchdog_enabled(0, &usec);
                log_info("watchdog: WATCHDOG=1 every %" PRIu64 " ms", usec / 2 / 1000);
        }
        k = sd_event_loop(event);
        if (k < 0)
                log_error("event loop failed: %s", strerror(-k));
        log_notice("stopped");

finish:
        broker = rd_broker_free(broker);
        rd_endpoint_release(endpoint, lock_fd);
        sd_event_unref(event);
        return k < 0 ? 1 : 0;
}
