#!/usr/bin/python3
"""Hello from the reactor loop: call_when_running.

The callback runs once ``run()`` has started the loop, so it is called by
the reactor, not by us. (Twisted's version never stops; this one stops
after saying hello so that it can be run as a check.)
"""

import reactord


def hello(reactor):
    print("Hello from the reactor loop!")
    print("Lately I feel like I'm stuck in a rut.")
    reactor.stop()


def main():
    reactor = reactord.Reactor()
    reactor.call_when_running(hello, reactor)
    print("Starting the reactor.")
    reactor.run()
    reactor.close()


if __name__ == "__main__":
    main()
