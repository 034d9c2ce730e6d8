#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Twisted baseline for the sockets benchmarks: Twisted's own echo server.

    /usr/bin/python3 bench/twisted-echo.py PORT [HOST]

The echo protocol of Twisted's documentation on the epoll reactor, listening
on HOST (default 127.0.0.1). Prints "listening port=N" once it accepts and
runs until SIGTERM or SIGINT. Debian's python3-twisted is installed for the
system interpreter only: run it with /usr/bin/python3.
"""

import resource
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402  (after install())


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    protocol = Echo


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: twisted-echo.py PORT [HOST]")
    # Room for the idle-connections benchmark's 10,000 connections.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    port = reactor.listenTCP(int(sys.argv[1]), EchoFactory(), backlog=1024, interface=host)
    print("listening port=%d" % port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
