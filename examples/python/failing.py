#!/usr/bin/python3
"""A callback that raises does not stop the loop.

The exception is logged with its traceback and the next callback runs,
as in Twisted: a server must survive its own bugs.
"""

import logging

import reactord


def falldown():
    raise Exception("I fall down.")


def upagain(reactor):
    print("But I get up again.")
    reactor.stop()


def main():
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    reactor = reactord.Reactor()
    reactor.call_when_running(falldown)
    reactor.call_when_running(upagain, reactor)
    print("Starting the reactor.")
    reactor.run()
    reactor.close()


if __name__ == "__main__":
    main()
