#!/usr/bin/python3
"""Who calls our callback? Print the Python stack from inside it.

The stack shows ``reactor.run()`` at the bottom: the loop is running and
it is the loop that calls us.
"""

import traceback

import reactord


def stack(reactor):
    print("The python stack:")
    traceback.print_stack()
    reactor.stop()


def main():
    reactor = reactord.Reactor()
    reactor.call_when_running(stack, reactor)
    reactor.run()
    reactor.close()


if __name__ == "__main__":
    main()
