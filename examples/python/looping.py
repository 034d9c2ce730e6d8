#!/usr/bin/python3
"""The tutorial's exercises: three counters at different rates, each a
LoopingCall; the reactor stops when all of them have finished.

    looping.py [SCALE]     (multiplies every interval, default 1)

Each LoopingCall is one periodic reactord timer. If this program falls
behind, reactord folds the missed periods into one firing and says how
many in ``ticks``; the counters count ticks, so they stay on schedule.
"""

import sys

import reactord


class Counter:
    """Count down from ``start``, one step per elapsed interval."""

    def __init__(self, name, start, interval, done):
        self.name = name
        self.left = start
        self.interval = interval
        self.done = done
        self.loop = reactord.LoopingCall.with_count(self.count)

    def count(self, ticks):
        self.left = max(0, self.left - ticks)
        print("%s: %d ..." % (self.name, self.left))
        if self.left == 0:
            self.loop.stop()
            print("%s finished." % self.name)
            self.done(self)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    reactor = reactord.Reactor()
    running = []

    def finished(counter):
        running.remove(counter)
        if not running:
            reactor.stop()

    for name, start, interval in (("fast", 6, 0.5), ("medium", 4, 1.0),
                                  ("slow", 3, 1.5)):
        counter = Counter(name, start, interval * scale, finished)
        counter.loop.clock = reactor
        running.append(counter)

    def start_all():
        for counter in running:
            counter.loop.start(counter.interval, now=False)

    reactor.call_when_running(start_all)
    print("Start!")
    reactor.run()
    print("All counters finished. Stop!")
    reactor.close()


if __name__ == "__main__":
    main()
