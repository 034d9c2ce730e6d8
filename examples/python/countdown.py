#!/usr/bin/python3
"""Count down from 5 with call_later, then stop the reactor.

    countdown.py [INTERVAL]     (seconds between counts, default 1)
"""

import sys

import reactord


class Countdown:
    """Each count schedules the next one until zero stops the loop."""

    counter = 5

    def __init__(self, reactor, interval):
        self.reactor = reactor
        self.interval = interval

    def count(self):
        if self.counter == 0:
            self.reactor.stop()
        else:
            print(self.counter, "...")
            self.counter -= 1
            self.reactor.call_later(self.interval, self.count)


def main():
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    reactor = reactord.Reactor()
    reactor.call_when_running(Countdown(reactor, interval).count)
    print("Start!")
    reactor.run()
    print("Stop!")
    reactor.close()


if __name__ == "__main__":
    main()
