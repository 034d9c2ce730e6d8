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

#include "basic/endpoint.h"
#include "basic/log.h"
#include "broker.h"
#include "config.h"
#include "endpoint.h"
#include "reactor/process.h"

/* How long children get between SIGTERM and SIGKILL when reactord shuts down. */
#define CHILD_STOP_TIMEOUT (5 * USEC_PER_SEC)

static void help(void)
{
        printf("Usage: reactord [OPTION]...\n"
               "Serve a shared event loop (timers, sockets, processes) over ZeroMQ.\n\n"
               "  -e, --endpoint URI      bus endpoint (default: %s)\n"
               "  -l, --log-level LEVEL   error, warning, notice (default), info or debug\n"
               "      --max-sessions N    sessions at once (default 4096)\n"
               "      --max-handles N     handles per session (default 16384)\n"
               "      --max-frame BYTES   largest frame accepted (default 1048576)\n"
               "  -h, --help              show this help\n"
               "  -V, --version           show the version\n",
               "ipc://$XDG_RUNTIME_DIR/reactord/bus");
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
        enum { OPT_MAX_SESSIONS = 0x100, OPT_MAX_HANDLES, OPT_MAX_FRAME };
        static const struct option options[] = {
                { "endpoint", required_argument, NULL, 'e' },
                { "log-level", required_argument, NULL, 'l' },
                { "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
                { "max-handles", required_argument, NULL, OPT_MAX_HANDLES },
                { "max-frame", required_argument, NULL, OPT_MAX_FRAME },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        rd_broker_limits limits = RD_BROKER_LIMITS_DEFAULT;
        _cleanup_free_ char *endpoint = NULL;
        sd_event *event = NULL;
        rd_broker *broker = NULL;
        sigset_t mask;
        int c, k, lock_fd = -EBADF;

        rd_log_set_ident("reactord");
        while ((c = getopt_long(argc, argv, "e:l:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'e':
                        free(endpoint);
                        endpoint = strdup(optarg);
                        break;
                case 'l':
                        k = rd_log_level_from_string(optarg);
                        if (k < 0) {
                                fprintf(stderr, "reactord: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        rd_log_set_level((rd_log_level)k);
                        break;
                case OPT_MAX_SESSIONS:
                case OPT_MAX_HANDLES:
                case OPT_MAX_FRAME: {
                        size_t *field = c == OPT_MAX_SESSIONS  ? &limits.max_sessions
                                        : c == OPT_MAX_HANDLES ? &limits.max_handles
                                                               : &limits.max_frame;
                        if (parse_size(optarg, c == OPT_MAX_FRAME ? 1024 : 1, field) < 0) {
                                fprintf(stderr, "reactord: invalid value '%s' for --%s\n", optarg,
                                        options[c - OPT_MAX_SESSIONS + 2].name);
                                return 2;
                        }
                        break;
                }
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
        if (!endpoint && !(endpoint = rd_endpoint_default()))
                return log_error("out of memory"), 1;
        if (!rd_endpoint_ipc_path(endpoint)) {
                log_error("%s: only ipc:// endpoints are served (tcp:// needs CURVE, not built in)",
                          endpoint);
                return 2;
        }

        lock_fd = rd_endpoint_claim(endpoint);
        if (lock_fd < 0)
                return 1;

        /* Signals arrive through the loop (signalfd), never as asynchronous handlers. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD); /* children are watched through pidfds and signalfd */
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        k = sd_event_default(&event);
        if (k < 0) {
                log_error("cannot make the event loop: %s", strerror(-k));
                goto finish;
        }
        k = rd_broker_new(event, endpoint, &limits, &broker);
        if (k < 0) {
                log_error("cannot serve %s: %s", endpoint, strerror(-k));
                goto finish;
        }
        broker->on_sessions_changed = notify_status;
        if ((k = sd_event_add_signal(event, NULL, SIGTERM, on_signal, broker)) < 0 ||
            (k = sd_event_add_signal(event, NULL, SIGINT, on_signal, broker)) < 0) {
                log_error("cannot watch signals: %s", strerror(-k));
                goto finish;
        }

        log_notice("reactord %s serving %s", RD_VERSION, endpoint);
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
