#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Twisted baseline for the pytimers benchmark: zero-delay callLater.

    /usr/bin/python3 bench/twisted-calllater.py [--timers N] [--batches B]

Schedules a batch of N (default 200,000) zero-delay reactor.callLater calls
on the epoll reactor, runs the reactor until the last has fired, and does
that B times (default 3). Each batch is timed from just before its first
callLater to its last call, so scheduling counts as much as firing. Prints
one line with the median batch:
"bench=twisted-calllater timers=N fired_per_sec=...".
Debian's python3-twisted is installed for the system interpreter only: run
it with /usr/bin/python3.
"""

import argparse
import statistics
import time

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import reactor  # noqa: E402  (after install())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timers", type=int, default=200000)
    ap.add_argument("--batches", type=int, default=3)
    args = ap.parse_args()
    n = args.timers
    rates = []
    state = {"left": 0, "t0": 0.0}

    def fired():
        state["left"] -= 1
        if state["left"] == 0:
            rates.append(n / (time.monotonic() - state["t0"]))
            if len(rates) < args.batches:
                batch()
            else:
                reactor.stop()

    def batch():
        state["left"] = n
        state["t0"] = time.monotonic()
        call_later = reactor.callLater
        for _ in range(n):
            call_later(0, fired)

    reactor.callWhenRunning(batch)
    reactor.run()
    print("bench=twisted-calllater timers=%d batches=%d fired_per_sec=%.0f"
          % (n, len(rates), statistics.median(rates)), flush=True)


if __name__ == "__main__":
    main()
