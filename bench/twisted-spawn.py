#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Twisted baseline for the processes benchmark: spawn-and-exit cycles.

    /usr/bin/python3 bench/twisted-spawn.py [--inflight N] [--seconds D] [--warmup W]
                                            [--program PATH]

Keeps N children of PATH (default /bin/true) in flight with
reactor.spawnProcess on the epoll reactor: a ProcessProtocol spawns the
next child in processEnded. Each child gets what bench-spawn asks reactord
for: an empty environment and /dev/null as stdin, stdout and stderr (Twisted
has no process-group option). Counts the cycles that end during D seconds
after W seconds of warm-up, then waits for every child it started to end.
Prints one line of key=value pairs. Debian's python3-twisted is installed
for the system interpreter only: run it with /usr/bin/python3.
"""

import argparse
import os
import sys
import time

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402  (after install())


class Spawner:
    def __init__(self, program, inflight):
        self.program = program
        self.inflight = inflight
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.fds = {0: self.devnull, 1: self.devnull, 2: self.devnull}
        self.running = 0  # spawned, not yet ended
        self.ended = 0
        self.spawning = True
        self.failure = None

    def spawn(self):
        self.running += 1
        reactor.spawnProcess(Child(self), self.program, [self.program], env={},
                             childFDs=self.fds)

    def child_ended(self, reason):
        self.running -= 1
        self.ended += 1
        if reason.value.exitCode != 0 and self.failure is None:
            self.failure = "%s: %s" % (self.program, reason.value)
            self.spawning = False
        if self.spawning:
            self.spawn()
        elif self.running == 0:
            reactor.stop()


class Child(protocol.ProcessProtocol):
    def __init__(self, spawner):
        self.spawner = spawner

    def processEnded(self, reason):
        self.spawner.child_ended(reason)


def main():
    ap = argparse.ArgumentParser(prog="twisted-spawn.py", description=__doc__.splitlines()[0])
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--program", default="/bin/true")
    args = ap.parse_args()
    if args.inflight <= 0 or args.seconds <= 0 or args.warmup < 0:
        ap.error("--inflight and --seconds must be positive, --warmup not negative")

    s = Spawner(args.program, args.inflight)
    marks = {}

    def start():
        marks["start"] = time.monotonic()
        for _ in range(args.inflight):
            s.spawn()

    def begin():
        marks["t0"], marks["ended0"] = time.monotonic(), s.ended

    def finish():
        marks["t1"], marks["ended1"] = time.monotonic(), s.ended
        s.spawning = False
        if s.running == 0:
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.callLater(args.warmup, begin)
    reactor.callLater(args.warmup + args.seconds, finish)
    reactor.run()
    os.close(s.devnull)
    if s.failure:
        sys.exit("twisted-spawn.py: " + s.failure)
    took = marks["t1"] - marks["t0"]
    cycles = marks["ended1"] - marks["ended0"]
    print("bench=twisted-spawn inflight=%d seconds=%.3f cycles=%d cycles_per_sec=%.1f" %
          (args.inflight, took, cycles, cycles / took), flush=True)


if __name__ == "__main__":
    main()
