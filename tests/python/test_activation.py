"""Activated sockets through the reactor API: adopt_tcp and adopt_unix.

reactord is started the way the service manager starts it:
systemd-socket-activate binds the bus ("bus"), a UNIX socket ("web") and a
TCP port ("tcpweb"), and execs reactord on the first connection.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from daemon import ReactorTestCase, find_reactord, stop_process

import reactord

ACTIVATE = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"


class Echo(reactord.Protocol):
    """Echo everything back."""

    def data_received(self, data):
        self.transport.write(data)


class Recorder(reactord.Protocol):
    """Send a greeting, keep the answer, stop the reactor once it is whole."""

    def connection_made(self, transport):
        self.data = bytearray()
        transport.write(self.factory.greeting)

    def data_received(self, data):
        self.data += data
        if len(self.data) >= len(self.factory.greeting):
            self.factory.answers.append(bytes(self.data))
            self.transport.lose_connection()
            self.factory.reactor.stop()


class RecorderFactory(reactord.ClientFactory):
    protocol = Recorder

    def __init__(self, reactor, greeting):
        self.reactor = reactor
        self.greeting = greeting
        self.answers = []


def free_port():
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ActivationTests(ReactorTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        path = find_reactord()
        if not path or not os.access(ACTIVATE, os.X_OK):
            raise unittest.SkipTest("needs reactord and systemd-socket-activate")
        cls.dir = tempfile.mkdtemp(prefix="reactord-py-activation-")
        cls.bus = os.path.join(cls.dir, "bus")
        cls.web = os.path.join(cls.dir, "web.sock")
        cls.endpoint = "ipc://" + cls.bus
        cls.log = open(os.path.join(cls.dir, "reactord.log"), "w+")
        for _ in range(5):
            cls.port = free_port()
            cls.process = subprocess.Popen(
                [ACTIVATE, "-l", cls.bus, "-l", cls.web,
                 "-l", "127.0.0.1:%d" % cls.port, "--fdname=bus:web:tcpweb",
                 "-E", "XDG_CONFIG_HOME=" + cls.dir, "--", path],
                stdout=cls.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10
            while not os.path.exists(cls.web) and \
                    cls.process.poll() is None and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
            if os.path.exists(cls.web):
                return
            cls.stop()  # the port was taken meanwhile: try another
        raise RuntimeError("systemd-socket-activate did not start")

    @classmethod
    def stop(cls):
        stop_process(cls.process)

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()

    def echo(self, reactor, connect):
        client = RecorderFactory(reactor, b"hello, activated socket\n")
        connect(client)
        self.run_reactor(reactor)
        self.assertEqual(client.answers, [client.greeting])

    def test_info_lists_the_sockets(self):
        reactor = self.make_reactor()
        info = reactor.call("reactor.info")
        self.assertEqual(info["endpoint"], self.endpoint)
        names = {a["name"]: a for a in info["activated"]}
        self.assertEqual(set(names), {"web", "tcpweb"})
        self.assertEqual(names["web"]["family"], "unix")
        self.assertEqual(names["web"]["address"], {"path": self.web})
        self.assertEqual(names["tcpweb"]["address"],
                         {"host": "127.0.0.1", "port": self.port})

    def test_adopt_unix(self):
        reactor = self.make_reactor()
        port = reactor.adopt_unix("web", reactord.Factory.for_protocol(Echo))
        self.assertEqual(port.get_host().name, self.web)
        self.echo(reactor, lambda f: reactor.connect_unix(self.web, f))
        port.stop_listening()
        reactor.call("reactor.ping")  # a round trip: the close is done
        # Back in the pool, and the file is still there.
        self.assertTrue(os.path.exists(self.web))
        port = reactor.adopt_unix("web", reactord.Factory.for_protocol(Echo))
        port.stop_listening()

    def test_adopt_tcp(self):
        reactor = self.make_reactor()
        port = reactor.adopt_tcp("tcpweb",
                                 reactord.Factory.for_protocol(Echo))
        self.assertEqual(port.port, self.port)
        self.echo(reactor, lambda f: reactor.connect_tcp(
            "127.0.0.1", self.port, f, timeout=5))
        port.stop_listening()

    def test_errors(self):
        reactor, other = self.make_reactor(), self.make_reactor()
        factory = reactord.Factory.for_protocol(Echo)
        cases = [(lambda: reactor.adopt_tcp("nosuch", factory), "ENOENT"),
                 (lambda: reactor.adopt_tcp("web", factory), "EINVAL"),
                 (lambda: reactor.adopt_unix("tcpweb", factory), "EINVAL")]
        for call, code in cases:
            with self.assertRaises(reactord.ReactordError) as cm:
                call()
            self.assertEqual(cm.exception.code, code)
        port = reactor.adopt_unix("web", factory)
        with self.assertRaises(reactord.ReactordError) as cm:
            other.adopt_unix("web", factory)
        self.assertEqual(cm.exception.code, "EBUSY")
        port.stop_listening()
        reactor.call("reactor.ping")
        other.adopt_unix("web", factory).stop_listening()


if __name__ == "__main__":
    unittest.main()
