#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""reactord's echo server with its handler written with the Python client.

    PYTHONPATH=clients/python /usr/bin/python3 bench/py-echo-server.py PORT [HOST]

reactord owns the listening socket and the connections; the Protocol whose
data_received writes the data back runs here. Listens on HOST (default
127.0.0.1) through the reactord at $REACTORD_ENDPOINT, prints
"listening port=N" and runs until SIGTERM or SIGINT. The Python twin of
bench/twisted-echo.py.
"""

import sys

import reactord


class Echo(reactord.Protocol):
    def data_received(self, data):
        self.transport.write(data)


class EchoFactory(reactord.Factory):
    protocol = Echo


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: py-echo-server.py PORT [HOST]")
    host = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    reactor = reactord.Reactor()
    port = reactor.listen_tcp(int(sys.argv[1]), EchoFactory(), backlog=1024, interface=host)
    print("listening port=%d" % port.get_host().port, flush=True)
    reactor.run()
    reactor.close()


if __name__ == "__main__":
    main()
