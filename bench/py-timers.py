#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Timer events per second delivered to a Python client of reactord.

    PYTHONPATH=clients/python /usr/bin/python3 bench/py-timers.py \
        [--timers N] [--every S] [--seconds D] [--warmup W]

Starts N LoopingCalls (each one periodic reactord timer) every S seconds
through the reactord at $REACTORD_ENDPOINT (--endpoint overrides it) and
counts, over D seconds after W seconds of warm-up, the callbacks run
(events) and the periods they stand for (ticks: reactord coalesces missed
periods into one event). Prints one line:
"bench=pytimers timers=N every=S events_per_sec=... ticks_per_sec=...".
"""

import argparse
import time

import reactord


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default=None)
    ap.add_argument("--timers", type=int, default=1000)
    ap.add_argument("--every", type=float, default=0.001)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    args = ap.parse_args()

    reactor = reactord.Reactor(args.endpoint)
    count = [0, 0]  # events, ticks
    marks = {}

    def tick(ticks):
        count[0] += 1
        count[1] += ticks

    def mark(name):
        marks[name] = (time.monotonic(), count[0], count[1])
        if name == "end":
            reactor.stop()

    loops = []
    for _ in range(args.timers):
        loop = reactord.LoopingCall.with_count(tick)
        loop.clock = reactor
        loop.start(args.every, now=False)
        loops.append(loop)
    reactor.call_later(args.warmup, mark, "begin")
    reactor.call_later(args.warmup + args.seconds, mark, "end")
    reactor.run()
    reactor.close()

    t0, e0, k0 = marks["begin"]
    t1, e1, k1 = marks["end"]
    dt = t1 - t0
    print("bench=pytimers timers=%d every=%g seconds=%.3f events_per_sec=%.0f ticks_per_sec=%.0f"
          % (args.timers, args.every, dt, (e1 - e0) / dt, (k1 - k0) / dt), flush=True)


if __name__ == "__main__":
    main()
