#!/usr/bin/python3
"""Get poetry from several servers at once and print each poem with how
long it took.

    poetry_client.py [HOST:]PORT ...

Every download is a connection reactord makes for us; the bytes of all of
them arrive interleaved, each to its own protocol.
"""

import sys
import time

import reactord


class PoetryProtocol(reactord.Protocol):
    """Collect the poem until the server closes."""

    def connection_made(self, transport):
        self.poem = bytearray()

    def data_received(self, data):
        self.poem += data
        task = self.factory.task
        print("Task %d: got %d bytes of poetry from %s" % (
            task.number, len(data), task.address))

    def connection_lost(self, reason):
        self.factory.task.finished(bytes(self.poem), None)


class PoetryClientFactory(reactord.ClientFactory):
    protocol = PoetryProtocol

    def __init__(self, task):
        self.task = task

    def client_connection_failed(self, connector, reason):
        self.task.finished(None, reason)


class Task:
    """One download and its timing."""

    def __init__(self, number, host, port, done):
        self.number = number
        self.address = "%s:%d" % (host, port)
        self.started = time.monotonic()
        self.done = done
        self.poem = None
        self.error = None
        self.elapsed = None

    def finished(self, poem, error):
        self.elapsed = time.monotonic() - self.started
        self.poem, self.error = poem, error
        self.done(self)


def parse_address(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    reactor = reactord.Reactor()
    started = time.monotonic()
    tasks, pending = [], []

    def done(task):
        pending.remove(task)
        if not pending:
            reactor.stop()

    for number, text in enumerate(argv, 1):
        host, port = parse_address(text)
        task = Task(number, host, port, done)
        tasks.append(task)
        pending.append(task)
        reactor.connect_tcp(host, port, PoetryClientFactory(task))
    reactor.run()
    reactor.close()

    failed = 0
    for task in tasks:
        if task.error is not None:
            failed += 1
            print("Task %d: failed to get poetry from %s: %s" % (
                task.number, task.address, task.error))
            continue
        print("Task %d: %d bytes of poetry from %s in %.2f seconds" % (
            task.number, len(task.poem), task.address, task.elapsed))
        print(task.poem.decode("utf-8", "replace"))
    print("Got %d poems in %.2f seconds" % (
        len(tasks) - failed, time.monotonic() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
