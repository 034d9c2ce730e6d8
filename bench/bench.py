#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run reactord's benchmarks, each beside its baseline in the same run.

Every benchmark measures its baseline and its reactord side round after
round, takes the median of each over the rounds, and compares the two as a
ratio against a target. Machines are shared and noisy: the ratio is the
figure, not the absolute numbers. See BENCHMARKS.md.
"""

import argparse
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Debian's python3-twisted is installed for the system interpreter only.
SYSTEM_PYTHON = "/usr/bin/python3"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def parse_kv(line):
    """'bench=echo size=20 usec_per_rt=80.1' -> dict, numbers as floats."""
    out = {}
    for tok in line.split():
        k, _, v = tok.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def run_program(argv, timeout=120):
    """Run a benchmark program; return its last line of output as a dict."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s exited with status %d" % (" ".join(argv), p.returncode))
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    if not lines:
        raise RuntimeError("%s printed nothing" % argv[0])
    return parse_kv(lines[-1])


class Build:
    """The programs of a meson build directory."""

    def __init__(self, builddir):
        self.dir = os.path.abspath(builddir)
        if not os.path.isdir(self.dir):
            sys.exit("bench: no build directory %s (meson setup it, or pass --build)" % self.dir)

    def program(self, name, required=True):
        path = os.path.join(self.dir, "bench", name)
        if os.access(path, os.X_OK):
            return path
        if required:
            sys.exit("bench: %s is not built (ninja -C %s)" % (path, self.dir))
        return None

    def reactord(self):
        path = os.path.join(self.dir, "broker", "reactord")
        return path if os.access(path, os.X_OK) else None

    def example(self, name):
        path = os.path.join(self.dir, "examples", name)
        return path if os.access(path, os.X_OK) else None


class Daemon:
    """A reactord on a private ipc:// endpoint in a temporary directory.

    A context manager: on the way out the daemon is stopped (SIGTERM, then
    SIGKILL) and the directory removed. Its log goes to a file there, shown
    when something fails.
    """

    def __init__(self, exe, nofile=None):
        self.exe = exe
        self.nofile = nofile  # raise the soft RLIMIT_NOFILE to this (capped by the hard limit)
        self.proc = None
        self.tmp = None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="rd-bench-")
        self.path = os.path.join(self.tmp, "bus")
        self.endpoint = "ipc://" + self.path
        self.logfile = os.path.join(self.tmp, "reactord.log")
        env = dict(os.environ, XDG_RUNTIME_DIR=self.tmp)
        env.pop("REACTORD_ENDPOINT", None)
        with open(self.logfile, "w") as logf:
            self.proc = subprocess.Popen([self.exe, "--endpoint", self.endpoint], env=env,
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         preexec_fn=_raise_nofile(self.nofile))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(RuntimeError, None, None)
                raise RuntimeError("reactord did not start on %s" % self.endpoint)
            time.sleep(0.01)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def __exit__(self, exc_type, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log("bench: reactord ignored SIGTERM for 5 s; killing it")
                self.proc.kill()
                self.proc.wait()
        if exc_type is not None and self.tmp:
            with open(self.logfile, errors="replace") as f:
                tail = f.readlines()[-20:]
            if tail:
                log("bench: reactord's log ends with:\n" + "".join(tail).rstrip())
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return False


def _raise_nofile(want):
    """A preexec_fn that raises the child's soft descriptor limit to `want` (or the hard one)."""
    if not want:
        return None

    def raise_it():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if soft < limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    return raise_it


class Row:
    """One line of the result table: medians over the rounds, and the ratio.

    The ratio is the median of the rounds' own ratios (each round measures
    reactord right after its baseline), which follows a machine whose load
    changes during the run better than a ratio of two medians would.
    `target` is a ratio (at most, or at least when higher is better); `floor`
    an absolute minimum for reactord, `ceiling` an absolute maximum; `zero`
    asks reactord for exactly 0.
    """

    def __init__(self, name, unit, reactord, baseline, target=None, higher=False, floor=None,
                 zero=False, ceiling=None):
        self.name = name
        self.unit = unit
        self.reactord_rounds = reactord or []
        self.baseline_rounds = baseline or []
        self.target = target
        self.higher = higher
        self.floor = floor
        self.ceiling = ceiling
        self.zero = zero

    @property
    def reactord(self):
        return median(self.reactord_rounds)

    @property
    def baseline(self):
        return median(self.baseline_rounds)

    @property
    def ratio(self):
        pairs = [(a, b) for a, b in zip(self.reactord_rounds, self.baseline_rounds) if b]
        if not pairs:
            return None
        return median([a / b for a, b in pairs])

    def target_text(self):
        parts = []
        if self.zero:
            parts.append("reactord = 0")
        if self.target is not None:
            parts.append(("ratio >= %g" if self.higher else "ratio <= %g") % self.target)
        if self.floor is not None:
            parts.append(">= %s" % fmt(self.floor))
        if self.ceiling is not None:
            parts.append("<= %s" % fmt(self.ceiling))
        return ", ".join(parts)

    def met(self):
        checks = []
        if self.zero:
            checks.append(None if self.reactord is None else self.reactord == 0)
        if self.target is not None:
            r = self.ratio
            checks.append(None if r is None else
                          (r >= self.target if self.higher else r <= self.target))
        if self.floor is not None:
            checks.append(None if self.reactord is None else self.reactord >= self.floor)
        if self.ceiling is not None:
            checks.append(None if self.reactord is None else self.reactord <= self.ceiling)
        if not checks or None in checks:
            return "-"
        return "yes" if all(checks) else "NO"


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1e6:
        return "%.2f M" % (x / 1e6)
    if abs(x) >= 1e4:
        return "%.0f k" % (x / 1e3)
    if x == int(x) or abs(x) >= 100:
        return "%.0f" % x
    return "%.1f" % x


def print_table(rows):
    head = ("benchmark", "unit", "reactord", "baseline", "ratio", "target", "met")
    body = [(r.name, r.unit, fmt(r.reactord), fmt(r.baseline),
             "-" if r.ratio is None else "%.2fx" % r.ratio, r.target_text(), r.met())
            for r in rows]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]

    def line(row):
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    print(line(head))
    print(line(["-" * w for w in widths]))
    for row in body:
        print(line(row))
    sys.stdout.flush()


# ---- (1) ping round trip ------------------------------------------------------------------------


def bench_ping(build, rounds, quick):
    """reactor.ping through rd_client_call vs a raw DEALER->ROUTER echo of the same size."""
    count = 2000 if quick else 5000
    echo = build.program("bench-echo")
    ping = build.program("bench-ping", required=False)
    exe = build.reactord()
    size = int(run_program([ping, "--print-size", "--count", str(count)])["request_size"]) \
        if ping else 19
    raw, rd = [], []

    log("ping: %d round trips of %d B per measurement, %d rounds of raw, reactord, reactord, raw"
        % (count, size, rounds))
    with Daemon(exe) if (ping and exe) else _Nothing() as d:
        if not d:
            log("  (reactord or bench-ping is not built: baseline only)")

        def raw_rt():
            return run_program([echo, "--size", str(size), "--count", str(count)])["usec_per_rt"]

        def reactord_rt():
            return run_program([ping, "--endpoint", d.endpoint, "--count", str(count)])["usec_per_rt"]

        for _ in range(rounds):
            # A-B-B-A: a load that drifts during the round weighs on both sides alike.
            if d:
                a1, b1, b2, a2 = raw_rt(), reactord_rt(), reactord_rt(), raw_rt()
                raw.append((a1 + a2) / 2)
                rd.append((b1 + b2) / 2)
                log("  raw echo %6.1f us   reactor.ping %6.1f us   %.2fx" %
                    (raw[-1], rd[-1], rd[-1] / raw[-1]))
            else:
                raw.append(raw_rt())
                log("  raw echo %6.1f us" % raw[-1])
    return [Row("ping round trip, %d B request" % size, "us", rd, raw, target=1.15)]


# ---- (2) timer.fired events/s -------------------------------------------------------------------


def bench_timers(build, rounds, quick):
    """Events delivered by 1000 periodic timers vs a raw push of one event per message."""
    seconds = 1.0 if quick else 2.0
    ntimers = 1000
    push = build.program("bench-push")
    timers = build.program("bench-timers", required=False)
    exe = build.reactord()
    handle = ntimers  # a handle as large as the timers' (the size of the message depends on it)
    rows = []

    log("timers: %d periodic timers, %.0f s per measurement, %d rounds" %
        (ntimers, seconds, rounds))
    if not (timers and exe):
        log("  (reactord or bench-timers is not built: baseline only)")
        raw = []
        for _ in range(rounds):
            r = run_program([push, "--seconds", str(seconds)])
            raw.append(r["msgs_per_sec"])
            log("  raw push %9.0f msg/s (%d B)" % (r["msgs_per_sec"], r["size"]))
        return [Row("timer.fired delivery", "events/s", None, raw, target=1.0, higher=True)]

    # 1 ms offers 1 M ticks/s; 0.1 ms offers 10 M/s, more than reactord can send:
    # the saturated case shows the most it sustains (missed periods coalesce into ticks).
    with Daemon(exe) as d:
        for every in (0.001, 0.0001):
            raw, ev, ticks = [], [], []
            for i in range(rounds):
                # Alternate which side goes first, so a drifting load favours neither.
                first_raw = i % 2 == 1
                if first_raw:
                    p = run_program([push, "--handle", str(handle), "--seconds", str(seconds)])
                r = run_program([timers, "--endpoint", d.endpoint, "--timers", str(ntimers),
                                 "--every", repr(every), "--seconds", str(seconds)])
                # The baseline pushes the same message: a timer.fired of a handle alike.
                handle = int(r["median_handle"])
                if not first_raw:
                    p = run_program([push, "--handle", str(handle), "--seconds", str(seconds)])
                ev.append(r["events_per_sec"])
                ticks.append(r["ticks_per_sec"])
                raw.append(p["msgs_per_sec"])
                log("  every %g ms: raw push %9.0f msg/s (%d B)   timer.fired %9.0f events/s "
                    "(%d B), %9.0f ticks/s   %.2fx" %
                    (every * 1000, p["msgs_per_sec"], p["size"], r["events_per_sec"],
                     r["event_size"], r["ticks_per_sec"], ev[-1] / raw[-1]))
            saturated = every < 0.001
            label = "saturated" if saturated else "offered 1 M ticks/s"
            rows.append(Row("timer.fired, every %g ms (%s): events" % (every * 1000, label),
                            "events/s", ev, raw, target=1.0 if saturated else None, higher=True,
                            floor=1e6 if saturated else None))
            rows.append(Row("timer.fired, every %g ms: ticks" % (every * 1000), "ticks/s",
                            ticks, None))
    return rows


# ---- (3) idle CPU and wake-ups ------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    """utime + stime of the whole process (all its threads), in milliseconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime (14) and stime (15) are fields[11] and [12].
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def threads(pid):
    return os.listdir("/proc/%d/task" % pid)


def wakeups(pid):
    """Voluntary + involuntary context switches, summed over the process's threads."""
    total = 0
    for tid in threads(pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return total


def sample(pid):
    return cpu_ms(pid), wakeups(pid), len(threads(pid))


def bench_idle(build, rounds, quick):
    """reactord with no clients vs Twisted's idle reactor, side by side over 10 s."""
    window = 10.0
    settle = 2.0  # both finish starting first (Python's imports take a while)
    exe = build.reactord()
    twisted = [SYSTEM_PYTHON, "-c", "from twisted.internet import reactor; reactor.run()"]
    rd_cpu, rd_wk, tw_cpu, tw_wk = [], [], [], []
    rounds = 1 if quick else rounds

    log("idle: %.0f s per measurement, %d round(s), reactord and Twisted side by side" %
        (window, rounds))
    if not exe:
        log("  (reactord is not built: baseline only)")
    for _ in range(rounds):
        tw = subprocess.Popen(twisted, stdin=subprocess.DEVNULL)
        try:
            with Daemon(exe) if exe else _Nothing() as d:
                time.sleep(settle)
                if tw.poll() is not None:
                    raise RuntimeError("Twisted's reactor exited (is python3-twisted installed?)")
                pids = [tw.pid] + ([d.pid] if d else [])
                before = [sample(p) for p in pids]
                time.sleep(window)
                after = [sample(p) for p in pids]
        finally:
            tw.terminate()
            tw.wait()
        tw_cpu.append(after[0][0] - before[0][0])
        tw_wk.append(after[0][1] - before[0][1])
        msg = "  Twisted %5.0f ms CPU, %3d wake-ups (%d threads)" % (
            tw_cpu[-1], tw_wk[-1], after[0][2])
        if d:
            rd_cpu.append(after[1][0] - before[1][0])
            rd_wk.append(after[1][1] - before[1][1])
            msg += "   reactord %5.0f ms CPU, %3d wake-ups (%d threads)" % (
                rd_cpu[-1], rd_wk[-1], after[1][2])
        log(msg)
    return [
        Row("idle, %.0f s: wake-ups" % window, "wake-ups", rd_wk, tw_wk, zero=True),
        Row("idle, %.0f s: CPU time (utime+stime)" % window, "ms", rd_cpu, tw_cpu),
    ]


# ---- (4) sockets: TCP echo --------------------------------------------------------------------

HOST = "127.0.0.1"


def free_port():
    """A TCP port free on loopback right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10.0):
    """Wait until `port` accepts connections; fail if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("%s exited with status %d before it listened" % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise RuntimeError("%s did not listen on port %d within %.0f s" % (what, port, timeout))
        time.sleep(0.02)


class Server:
    """An echo server listening on a free port; a context manager that stops it.

    `argv` gets the port appended. Its output goes to a file in a temporary
    directory, shown when something fails; the directory is removed on the
    way out.
    """

    def __init__(self, what, argv, env=None, nofile=None):
        self.what = what
        self.argv = argv
        self.env = env
        self.nofile = nofile
        self.proc = None
        self.tmp = None
        self.port = None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="rd-bench-srv-")
        self.logfile = os.path.join(self.tmp, "server.log")
        self.port = free_port()
        with open(self.logfile, "w") as logf:
            self.proc = subprocess.Popen(self.argv + [str(self.port)], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         preexec_fn=_raise_nofile(self.nofile))
        try:
            wait_port(self.port, self.proc, self.what)
        except BaseException:
            self.__exit__(RuntimeError, None, None)
            raise
        return self

    @property
    def pid(self):
        return self.proc.pid

    def __exit__(self, exc_type, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log("bench: %s ignored SIGTERM for 5 s; killing it" % self.what)
                self.proc.kill()
                self.proc.wait()
        if exc_type is not None and self.tmp:
            with open(self.logfile, errors="replace") as f:
                tail = f.readlines()[-20:]
            if tail:
                log("bench: %s's output ends with:\n%s" % (self.what, "".join(tail).rstrip()))
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return False


class EchoServers:
    """The echo servers the sockets benchmarks compare, started once for a benchmark.

    `epoll` (bench-epoll-echo) and, when asked, `twisted` (bench/twisted-echo.py)
    always; `reactord` is reactord with the C echo-server example as its
    client, when both are built (None otherwise). Each has a `.port`; the
    `pids` of reactord and of its echo-server client are `rd_pid` and
    `client_pid`. Everything is stopped on the way out.
    """

    def __init__(self, build, twisted=True, reactord=True, nofile=None):
        self.build = build
        self.want_twisted = twisted
        self.want_reactord = reactord
        self.nofile = nofile
        self.epoll = self.twisted = self.reactord = self.daemon = None
        self.stack = []

    def _enter(self, cm):
        obj = cm.__enter__()
        self.stack.append(cm)
        return obj

    def __enter__(self):
        try:
            self.epoll = self._enter(Server("bench-epoll-echo",
                                            [self.build.program("bench-epoll-echo")]))
            if self.want_twisted:
                self.twisted = self._enter(Server(
                    "twisted-echo.py", [SYSTEM_PYTHON, os.path.join(SRC, "bench", "twisted-echo.py")]))
            exe, example = self.build.reactord(), self.build.example("echo-server")
            if self.want_reactord and exe and example:
                self.daemon = self._enter(Daemon(exe, nofile=self.nofile))
                env = dict(os.environ, REACTORD_ENDPOINT=self.daemon.endpoint)
                self.reactord = self._enter(Server("echo-server", [example], env=env))
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        # The echo-server client first, then reactord, then the baselines.
        while self.stack:
            self.stack.pop().__exit__(*exc)
        return False


def load(build, port, *args, seconds=1.0, warmup=0.3):
    return run_program([build.program("bench-echo-load"), "--port", str(port),
                        "--seconds", str(seconds), "--warmup", str(warmup)] + list(args))


def bench_echo(build, rounds, quick):
    """64-byte round trips/s at 1 and 50 connections: epoll server, Twisted, reactord."""
    seconds, warmup = (1.0, 0.3) if quick else (2.0, 0.5)
    count = 2000 if quick else 5000
    echo = build.program("bench-echo")
    size = 64
    rows = []

    log("echo: %d B, one message outstanding per connection, %.0f s per measurement after "
        "%.1f s warm-up, %d rounds" % (size, seconds, warmup, rounds))
    with EchoServers(build) as srv:
        if not srv.reactord:
            log("  (reactord or examples/echo-server is not built: baselines only)")
        sides = [("epoll", srv.epoll), ("Twisted", srv.twisted)] + \
            ([("reactord", srv.reactord)] if srv.reactord else [])
        res = {(name, n): [] for name, _ in sides for n in (1, 50)}
        zmq = []
        for i in range(rounds):
            # Alternate the order, so a load that drifts during the round favours no side.
            order = sides if i % 2 == 0 else sides[::-1]
            for n in (1, 50):
                for name, s in order:
                    res[(name, n)].append(load(build, s.port, "--conns", str(n), "--size", str(size),
                                               seconds=seconds, warmup=warmup)["rt_per_sec"])
            zmq.append(run_program([echo, "--size", str(size), "--count", str(count)])["usec_per_rt"])
            msg = "  " + "   ".join("%s %6.0f / %6.0f" % (name, res[(name, 1)][-1],
                                                           res[(name, 50)][-1]) for name, _ in sides)
            log(msg + " rt/s (1 / 50 conns)   zmq rtt %.1f us" % zmq[-1])

    def usec(xs):
        return [1e6 / x for x in xs]

    if srv.reactord:
        for n in (1, 50):
            rows.append(Row("echo, %d conn%s, vs epoll server" % (n, "s" if n > 1 else ""), "rt/s",
                            res[("reactord", n)], res[("epoll", n)],
                            target=0.5 if n == 50 else None, higher=True))
            rows.append(Row("echo, %d conn%s, vs Twisted" % (n, "s" if n > 1 else ""), "rt/s",
                            res[("reactord", n)], res[("Twisted", n)],
                            target=1.0 if n == 50 else None, higher=True))
        added = [a - b for a, b in zip(usec(res[("reactord", 1)]), usec(res[("epoll", 1)]))]
        rows.append(Row("echo, 1 conn: rtt(reactord) - rtt(epoll) vs zmq rtt", "us", added, zmq,
                        target=1.0))
    else:
        for n in (1, 50):
            rows.append(Row("echo, %d conn%s: Twisted vs epoll server (no reactord)" %
                            (n, "s" if n > 1 else ""), "rt/s", res[("Twisted", n)],
                            res[("epoll", n)]))
        rows.append(Row("echo, 1 conn: epoll rtt vs zmq rtt (no reactord)", "us",
                        usec(res[("epoll", 1)]), zmq))
    return rows


def bench_bulk(build, rounds, quick):
    """MiB/s echoed through one stream with a bounded window: reactord vs the epoll server."""
    seconds, warmup = (1.0, 0.3) if quick else (2.0, 0.5)
    window = 256 * 1024
    log("bulk: one connection, at most %d KiB sent and not yet echoed, %.0f s per measurement "
        "after %.1f s warm-up, %d rounds" % (window // 1024, seconds, warmup, rounds))
    with EchoServers(build) as srv:
        if not srv.reactord:
            log("  (reactord or examples/echo-server is not built: baselines only)")
        sides = [("epoll", srv.epoll), ("Twisted", srv.twisted)] + \
            ([("reactord", srv.reactord)] if srv.reactord else [])
        res = {name: [] for name, _ in sides}
        for i in range(rounds):
            order = sides if i % 2 == 0 else sides[::-1]
            for name, s in order:
                res[name].append(load(build, s.port, "--bulk", "--window", str(window),
                                      seconds=seconds, warmup=warmup)["mib_per_sec"])
            log("  " + "   ".join("%s %6.0f" % (name, res[name][-1]) for name, _ in sides) +
                " MiB/s")
    if srv.reactord:
        return [Row("bulk, 1 stream, vs epoll server", "MiB/s", res["reactord"], res["epoll"],
                    higher=True),
                Row("bulk, 1 stream, vs Twisted", "MiB/s", res["reactord"], res["Twisted"],
                    higher=True)]
    return [Row("bulk, 1 stream: Twisted vs epoll server (no reactord)", "MiB/s", res["Twisted"],
                res["epoll"])]


def vm_rss(pid):
    """Resident set size of a process, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for process %d" % pid)


def kernel_memory():
    """(slab bytes, TCP buffer bytes): /proc/meminfo's Slab and /proc/net/sockstat's TCP mem.

    Both are system-wide, so other jobs on the machine add noise to them."""
    slab = tcp = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                slab = int(line.split()[1]) * 1024
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                tok = line.split()
                tcp = int(tok[tok.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE")
    return slab, tcp


def hold(build, port, conns, pids, settle=0.5):
    """Open `conns` idle connections to `port`; return each pid's RSS growth and the kernel's.

    The load generator makes one round trip on each connection (so the server
    has accepted it and set it up), then holds them all open until told to
    close. RSS is sampled just before and `settle` seconds after."""
    time.sleep(settle)
    before = [vm_rss(p) for p in pids]
    kbefore = kernel_memory()
    p = subprocess.Popen([build.program("bench-echo-load"), "--port", str(port), "--hold",
                          "--conns", str(conns)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 120)
        line = p.stdout.readline() if ready else ""
        if "ready" not in line:
            raise RuntimeError("bench-echo-load --hold did not get its %d connections ready" % conns)
        time.sleep(settle)
        after = [vm_rss(p) for p in pids]
        kafter = kernel_memory()
        took = parse_kv(line)["seconds"]
    finally:
        p.stdin.close()  # closes every connection
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p.returncode != 0:
        raise RuntimeError("bench-echo-load --hold exited with status %d" % p.returncode)
    return ([(a - b) / conns for a, b in zip(after, before)],
            [(a - b) / conns for a, b in zip(kafter, kbefore)], took)


def bench_idle_conns(build, rounds, quick):
    """reactord's memory per idle connection (RSS growth) vs the epoll server's, 10,000 each."""
    conns = 10000
    rounds = 1 if quick else rounds
    nofile = conns + 1024  # reactord holds one descriptor per connection
    rd, ep, client, kslab_ep, kslab_rd = [], [], [], [], []
    log("idle-conns: %d connections, each after one round trip, held idle; %d round(s), a fresh "
        "server for each" % (conns, rounds))
    for i in range(rounds):
        with EchoServers(build, twisted=False, reactord=False) as srv:
            (g,), (slab, tcp), took = hold(build, srv.epoll.port, conns, [srv.epoll.pid])
        ep.append(g)
        kslab_ep.append(slab)
        msg = "  epoll server +%5.0f B/conn (kernel: slab +%5.0f B, TCP buffers +%4.0f B, per " \
            "connection, both ends; %.1f s to open)" % (g, slab, tcp, took)
        with EchoServers(build, twisted=False, nofile=nofile) as srv:
            if srv.reactord:
                (g, cg), (slab, tcp), took = hold(build, srv.reactord.port, conns,
                                                  [srv.daemon.pid, srv.reactord.pid])
                rd.append(g)
                client.append(cg)
                kslab_rd.append(slab)
                msg += "\n  reactord     +%5.0f B/conn (echo-server client +%5.0f B/conn; kernel: " \
                    "slab +%5.0f B, TCP buffers +%4.0f B; %.1f s to open)" % (g, cg, slab, tcp, took)
            else:
                msg += "\n  (reactord or examples/echo-server is not built: baseline only)"
        log(msg)
    return [
        Row("idle conns: RSS growth per connection (vs epoll server's)", "B", rd, ep,
            ceiling=2048),
        Row("idle conns: echo-server client's RSS growth per connection", "B", client, None),
        Row("idle conns: kernel slab growth per connection, both ends", "B", kslab_rd, kslab_ep),
    ]


# ---- (5) processes: spawn-and-exit cycles -------------------------------------------------------


def spawn_supported(spawn, endpoint):
    """Does this reactord have process.spawn? bench-spawn exits with 77 when it answers ENOSYS."""
    p = subprocess.run([spawn, "--endpoint", endpoint, "--inflight", "1", "--seconds", "0.05",
                        "--warmup", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
    if p.returncode == 77:
        return False
    if p.returncode != 0:
        raise RuntimeError("bench-spawn exited with status %d" % p.returncode)
    return True


def bench_spawn(build, rounds, quick):
    """/bin/true spawn-and-exit cycles/s through reactord vs Twisted and a plain C loop."""
    seconds, warmup = (0.5, 0.2) if quick else (2.0, 0.5)
    inflights = (8, 1)
    spawn = build.program("bench-spawn", required=False)
    exe = build.reactord()
    common = ["--seconds", str(seconds), "--warmup", str(warmup)]
    sides = [("plain", [build.program("bench-spawn-loop")] + common),
             ("Twisted", [SYSTEM_PYTHON, os.path.join(SRC, "bench", "twisted-spawn.py")] + common)]

    log("spawn: /bin/true, %s in flight, %.1f s per measurement after %.1f s warm-up, %d rounds"
        % (" and ".join(str(n) for n in inflights), seconds, warmup, rounds))
    with Daemon(exe) if (spawn and exe) else _Nothing() as d:
        if d and spawn_supported(spawn, d.endpoint):
            sides.append(("reactord", [spawn, "--endpoint", d.endpoint] + common))
        else:
            log("  (reactord, bench-spawn or reactord's process.spawn is missing: baselines only)")
        res = {(name, n): [] for name, _ in sides for n in inflights}
        for i in range(rounds):
            # Alternate the order, so a load that drifts during the round favours no side.
            order = sides if i % 2 == 0 else sides[::-1]
            for n in inflights:
                for name, argv in order:
                    res[(name, n)].append(
                        run_program(argv + ["--inflight", str(n)])["cycles_per_sec"])
            log("  " + "   ".join("%s %5.0f / %5.0f" % (name, res[(name, inflights[0])][-1],
                                                        res[(name, inflights[1])][-1])
                                  for name, _ in sides) +
                " cycles/s (%d / %d in flight)" % inflights)

    rows = []
    for n in inflights:
        what = "spawn /bin/true, %d in flight" % n
        if len(sides) == 3:
            rows.append(Row(what + ", vs Twisted", "cycles/s", res[("reactord", n)],
                            res[("Twisted", n)], target=5.0, higher=True))
            rows.append(Row(what + ", vs plain posix_spawn loop", "cycles/s", res[("reactord", n)],
                            res[("plain", n)], target=0.5, higher=True))
        else:
            rows.append(Row(what + ": Twisted vs plain loop (no reactord)", "cycles/s",
                            res[("Twisted", n)], res[("plain", n)]))
    return rows


# ---- (7) the Python client --------------------------------------------------------------------

PYCLIENT = os.path.join(SRC, "clients", "python")


def pyclient_env(endpoint):
    """The environment of a Python-client program: the client on its path, a private daemon."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, REACTORD_ENDPOINT=endpoint,
                PYTHONPATH=PYCLIENT + (os.pathsep + path if path else ""))


def bench_pyecho(build, rounds, quick):
    """64-byte round trips/s at 1 and 50 connections: a Python-client handler vs Twisted."""
    seconds, warmup = (1.0, 0.3) if quick else (2.0, 0.5)
    size = 64
    exe = build.reactord()
    build.program("bench-echo-load")
    log("pyecho: %d B, one message outstanding per connection, %.0f s per measurement after "
        "%.1f s warm-up, %d rounds; bench/py-echo-server.py against bench/twisted-echo.py"
        % (size, seconds, warmup, rounds))
    stack = []
    try:
        twisted = Server("twisted-echo.py",
                         [SYSTEM_PYTHON, os.path.join(SRC, "bench", "twisted-echo.py")])
        stack.append(twisted)
        twisted.__enter__()
        sides = [("Twisted", twisted)]
        if exe:
            daemon = Daemon(exe)
            stack.append(daemon)
            daemon.__enter__()
            py = Server("py-echo-server.py",
                        [SYSTEM_PYTHON, os.path.join(SRC, "bench", "py-echo-server.py")],
                        env=pyclient_env(daemon.endpoint))
            stack.append(py)
            py.__enter__()
            sides.append(("Python client", py))
        else:
            log("  (reactord is not built: baseline only)")
        res = {(name, n): [] for name, _ in sides for n in (1, 50)}
        for i in range(rounds):
            # Alternate the order, so a load that drifts during the round favours neither side.
            order = sides if i % 2 == 0 else sides[::-1]
            for n in (1, 50):
                for name, s in order:
                    res[(name, n)].append(load(build, s.port, "--conns", str(n), "--size", str(size),
                                               seconds=seconds, warmup=warmup)["rt_per_sec"])
            log("  " + "   ".join("%s %6.0f / %6.0f" % (name, res[(name, 1)][-1], res[(name, 50)][-1])
                                  for name, _ in sides) + " rt/s (1 / 50 conns)")
    except BaseException:
        exc = sys.exc_info()
        while stack:
            stack.pop().__exit__(*exc)
        raise
    # The Python client first, then its reactord, then Twisted.
    while stack:
        stack.pop().__exit__(None, None, None)
    rows = []
    for n in (1, 50):
        what = "pyecho, %d conn%s" % (n, "s" if n > 1 else "")
        if exe:
            rows.append(Row(what + ", Python client vs Twisted", "rt/s", res[("Python client", n)],
                            res[("Twisted", n)], target=1.0 if n == 50 else None, higher=True))
        else:
            rows.append(Row(what + ": Twisted (no reactord)", "rt/s", None, res[("Twisted", n)]))
    return rows


def bench_pytimers(build, rounds, quick):
    """Timer events/s delivered to a Python client vs Twisted's zero-delay callLater rate."""
    seconds, warmup = (1.0, 0.3) if quick else (2.0, 0.5)
    ntimers, every = 1000, 0.001
    batch, batches = 200000, (1 if quick else 3)
    exe = build.reactord()
    twisted = [SYSTEM_PYTHON, os.path.join(SRC, "bench", "twisted-calllater.py"),
               "--timers", str(batch), "--batches", str(batches)]
    py = [SYSTEM_PYTHON, os.path.join(SRC, "bench", "py-timers.py"), "--timers", str(ntimers),
          "--every", repr(every), "--seconds", str(seconds), "--warmup", str(warmup)]
    log("pytimers: %d LoopingCalls every %g ms in a Python client, %.0f s after %.1f s warm-up, "
        "against Twisted firing %d zero-delay callLaters (median of %d batches); %d rounds"
        % (ntimers, every * 1000, seconds, warmup, batch, batches, rounds))
    tw, ev, ticks = [], [], []
    with Daemon(exe) if exe else _Nothing() as d:
        if not d:
            log("  (reactord is not built: baseline only)")
        for i in range(rounds):
            # Alternate which side goes first, so a drifting load favours neither.
            if i % 2 == 1 or not d:
                tw.append(run_program(twisted)["fired_per_sec"])
            if d:
                p = subprocess.run(py, stdout=subprocess.PIPE, text=True, timeout=120,
                                   env=pyclient_env(d.endpoint))
                if p.returncode != 0:
                    raise RuntimeError("py-timers.py exited with status %d" % p.returncode)
                r = parse_kv(p.stdout.strip().splitlines()[-1])
                ev.append(r["events_per_sec"])
                ticks.append(r["ticks_per_sec"])
                if i % 2 == 0:
                    tw.append(run_program(twisted)["fired_per_sec"])
                log("  Twisted callLater %7.0f fired/s   Python client %7.0f events/s "
                    "(%8.0f ticks/s)   %.2fx" % (tw[-1], ev[-1], ticks[-1], ev[-1] / tw[-1]))
            else:
                log("  Twisted callLater %7.0f fired/s" % tw[-1])
    return [Row("pytimers: Python client's timer events vs Twisted callLater", "events/s",
                ev, tw, target=1.0 if d else None, higher=True),
            Row("pytimers: ticks those events stood for", "ticks/s", ticks, None)]


class _Nothing:
    """Stands in for a Daemon when there is no reactord to run."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


BENCHMARKS = {"ping": bench_ping, "timers": bench_timers, "idle": bench_idle, "echo": bench_echo,
              "bulk": bench_bulk, "idle-conns": bench_idle_conns, "spawn": bench_spawn,
              "pyecho": bench_pyecho, "pytimers": bench_pytimers}


def main():
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter measurements, one idle round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per benchmark (default 5)")
    ap.add_argument("--build", default=os.environ.get("BUILDDIR", os.path.join(SRC, "build")),
                    help="meson build directory (default: $BUILDDIR, else build/)")
    ap.add_argument("names", nargs="*", metavar="BENCHMARK",
                    help="%s (default: all)" % ", ".join(BENCHMARKS))
    args = ap.parse_args()
    for name in args.names:
        if name not in BENCHMARKS:
            ap.error("unknown benchmark %s (%s)" % (name, ", ".join(BENCHMARKS)))
    build = Build(args.build)

    # SIGTERM unwinds like an exception, so every daemon and directory is cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = []
    started = time.monotonic()
    for name in args.names or list(BENCHMARKS):
        rows += BENCHMARKS[name](build, args.rounds, args.quick)
    log("done in %.0f s: medians of each benchmark's rounds; ratio = median of the rounds' "
        "ratios" % (time.monotonic() - started))
    print_table(rows)


if __name__ == "__main__":
    main()
