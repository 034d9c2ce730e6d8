#!/usr/bin/python3
"""A slow poetry server: every client gets the poem, ``N`` bytes every
``D`` seconds, all clients at once. The sending is paced with call_later;
the sockets belong to reactord.

    poetry_server.py [--port P] [--iface HOST] [--num-bytes N]
                     [--delay D] POETRY-FILE

It prints "Serving FILE on port P." once listening (port 0 picks one).
"""

import argparse
import sys

import reactord


class PoetryProtocol(reactord.Protocol):
    """Send the poem in slices, then close."""

    def connection_made(self, transport):
        self.offset = 0
        self.pending = None
        peer = transport.get_peer()
        print("Serving %s:%s" % (peer.host, peer.port), flush=True)
        self.send_next()

    def send_next(self):
        factory = self.factory
        chunk = factory.poem[self.offset:self.offset + factory.num_bytes]
        if not chunk:
            self.pending = None
            self.transport.lose_connection()
            return
        self.offset += len(chunk)
        self.transport.write(chunk)
        self.pending = factory.reactor.call_later(factory.delay,
                                                  self.send_next)

    def connection_lost(self, reason):
        if self.pending is not None and self.pending.active():
            self.pending.cancel()


class PoetryFactory(reactord.ServerFactory):
    protocol = PoetryProtocol

    def __init__(self, reactor, poem, num_bytes, delay):
        self.reactor = reactor
        self.poem = poem
        self.num_bytes = num_bytes
        self.delay = delay


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--iface", default="127.0.0.1")
    parser.add_argument("--num-bytes", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("poetry_file")
    args = parser.parse_args()
    with open(args.poetry_file, "rb") as f:
        poem = f.read()

    reactor = reactord.Reactor()
    factory = PoetryFactory(reactor, poem, args.num_bytes, args.delay)
    port = reactor.listen_tcp(args.port, factory, interface=args.iface)
    print("Serving %s on port %d." % (args.poetry_file, port.port),
          flush=True)
    reactor.run()
    reactor.close()


if __name__ == "__main__":
    sys.exit(main())
