/* SPDX-License-Identifier: MIT */
/*
 * bench-spawn-loop: the plain C baseline for the processes benchmark.
 *
 *   bench-spawn-loop [--inflight N] [--seconds D] [--warmup W] [--program PATH]
 *
 * Spawn-and-exit cycles of PATH (default /bin/true) as a C program makes
 * them without a reactor: posix_spawn() N children, then waitpid(-1) for
 * whichever ends first and spawn the next, so N are always in flight. Each
 * child gets what bench-spawn asks reactord for: an empty environment,
 * /dev/null as stdin, stdout and stderr, and a process group of its own.
 * Counts the cycles that end during D seconds after W seconds of warm-up,
 * then reaps every child it started. Prints one line of key=value pairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stopwatch.h"

typedef struct loop {
        const char *program;
        posix_spawn_file_actions_t actions; /* /dev/null onto 0, 1 and 2 */
        posix_spawnattr_t attr;             /* a process group of its own */
        long inflight;                      /* spawned, not yet reaped */
        long ended;                         /* reaped */
} loop;

static int spawn_one(loop *l)
{
        char *const argv[] = { (char *)l->program, NULL };
        char *const envp[] = { NULL };
        pid_t pid;
        int r;

        r = posix_spawn(&pid, l->program, &l->actions, &l->attr, argv, envp);
        if (r != 0) {
                fprintf(stderr, "bench-spawn-loop: posix_spawn %s: %s\n", l->program, strerror(r));
                return -r;
        }
        l->inflight++;
        return 0;
}

/* Reap one child (blocking). Returns 0, or a negative errno. */
static int reap_one(loop *l)
{
        int status;
        pid_t pid;

        do
                pid = waitpid(-1, &status, 0);
        while (pid < 0 && errno == EINTR);
        if (pid < 0) {
                fprintf(stderr, "bench-spawn-loop: waitpid: %s\n", strerror(errno));
                return -errno;
        }
        l->inflight--;
        l->ended++;
        return 0;
}

/* Keep `n` children in flight until `deadline`; returns 0 or a negative errno. */
static int run_until(loop *l, long n, double deadline)
{
        int r;

        while (stopwatch_now() < deadline) {
                while (l->inflight < n) {
                        r = spawn_one(l);
                        if (r < 0)
                                return r;
                }
                r = reap_one(l);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void usage(void)
{
        fprintf(stderr, "usage: bench-spawn-loop [--inflight N] [--seconds D] [--warmup W] "
                        "[--program PATH]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "inflight", required_argument, NULL, 'n' },
                { "seconds", required_argument, NULL, 's' },
                { "warmup", required_argument, NULL, 'w' },
                { "program", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        loop l = { .program = "/bin/true" };
        double seconds = 2.0, warmup = 0.5, t0, t1;
        long inflight = 8, ended0;
        int o, r, devnull;

        while ((o = getopt_long(argc, argv, "n:s:w:p:h", opts, NULL)) >= 0) {
                switch (o) {
                case 'n':
                        inflight = strtol(optarg, NULL, 10);
                        break;
                case 's':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'w':
                        warmup = strtod(optarg, NULL);
                        break;
                case 'p':
                        l.program = optarg;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 2;
                }
        }
        if (inflight <= 0 || seconds <= 0 || warmup < 0) {
                usage();
                return 2;
        }

        /* Opened once; each child gets it by dup2, which clears O_CLOEXEC on the copies. */
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0) {
                fprintf(stderr, "bench-spawn-loop: /dev/null: %s\n", strerror(errno));
                return 1;
        }
        posix_spawn_file_actions_init(&l.actions);
        for (int fd = 0; fd <= 2; fd++)
                posix_spawn_file_actions_adddup2(&l.actions, devnull, fd);
        posix_spawnattr_init(&l.attr);
        posix_spawnattr_setflags(&l.attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&l.attr, 0);

        t0 = stopwatch_now();
        r = run_until(&l, inflight, t0 + warmup);
        ended0 = l.ended;
        t0 = stopwatch_now();
        if (r >= 0)
                r = run_until(&l, inflight, t0 + seconds);
        t1 = stopwatch_now();
        /* Every child started is reaped, whatever happened. */
        while (l.inflight > 0 && reap_one(&l) >= 0)
                ;

        posix_spawnattr_destroy(&l.attr);
        posix_spawn_file_actions_destroy(&l.actions);
        close(devnull);
        if (r < 0)
                return 1;
        printf("bench=spawn-loop inflight=%ld seconds=%.3f cycles=%ld cycles_per_sec=%.1f\n",
               inflight, t1 - t0, l.ended - ended0, (double)(l.ended - ended0) / (t1 - t0));
        return 0;
}
