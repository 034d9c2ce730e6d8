"""Streams (TCP, UNIX) and datagrams through the reactor API."""

import hashlib
import logging
import os
import socket
import threading
import time
import unittest

from daemon import DaemonTestCase

import reactord


class Echo(reactord.Protocol):
    """Echo everything back."""

    def data_received(self, data):
        self.transport.write(data)


class Recorder(reactord.Protocol):
    """Remember what happens, and tell the factory."""

    def connection_made(self, transport):
        self.data = bytearray()
        self.reason = None
        self.factory.made.append(self)
        greeting = getattr(self.factory, "greeting", None)
        if greeting:
            transport.write(greeting)

    def data_received(self, data):
        self.data += data
        wanted = getattr(self.factory, "wanted", None)
        if wanted is not None and len(self.data) >= wanted:
            self.transport.lose_connection()

    def connection_lost(self, reason):
        self.reason = reason
        self.factory.lost.append(self)
        done = getattr(self.factory, "on_lost", None)
        if done:
            done(self)


class RecorderFactory(reactord.ClientFactory):
    protocol = Recorder

    def __init__(self, **attrs):
        self.made, self.lost, self.failed = [], [], []
        self.__dict__.update(attrs)

    def client_connection_failed(self, connector, reason):
        self.failed.append(reason)


class StreamTests(DaemonTestCase):

    def echo_round_trip(self, listen, connect):
        reactor = self.make_reactor()
        server = reactord.Factory.for_protocol(Echo)
        port = listen(reactor, server)
        message = b"hello, reactord\n" * 1000
        client = RecorderFactory(greeting=message, wanted=len(message),
                                 on_lost=lambda p: reactor.stop())
        connect(reactor, port, client)
        self.run_reactor(reactor)
        self.assertEqual(len(client.made), 1)
        proto = client.made[0]
        self.assertEqual(bytes(proto.data), message)
        self.assertIsInstance(proto.reason, reactord.ConnectionDone)
        port.stop_listening()
        reactor.call("reactor.ping")  # a round trip: the close is done
        return proto

    def test_tcp_echo(self):
        def listen(reactor, factory):
            port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
            self.assertEqual(port.get_host().host, "127.0.0.1")
            self.assertGreater(port.port, 0)
            return port

        def connect(reactor, port, factory):
            reactor.connect_tcp("127.0.0.1", port.port, factory, timeout=5)
        proto = self.echo_round_trip(listen, connect)
        self.assertEqual(proto.transport.get_peer().host, "127.0.0.1")
        self.assertIsInstance(proto.transport.get_host(), reactord.TCPAddress)

    def test_unix_echo(self):
        path = os.path.join(self.daemon.dir, "echo.sock")

        def listen(reactor, factory):
            port = reactor.listen_unix(path, factory)
            self.assertEqual(port.get_host().name, path)
            return port

        def connect(reactor, port, factory):
            reactor.connect_unix(path, factory)
        proto = self.echo_round_trip(listen, connect)
        self.assertEqual(proto.transport.get_peer().name, path)
        self.assertFalse(os.path.exists(path))

    def test_server_side_sees_peer_and_close(self):
        reactor = self.make_reactor()
        server = RecorderFactory(greeting=b"welcome", wanted=None)
        port = reactor.listen_tcp(0, server, interface="127.0.0.1")
        client = RecorderFactory(wanted=7)
        server.on_lost = lambda p: reactor.stop()
        reactor.connect_tcp("127.0.0.1", port.port, client)
        self.run_reactor(reactor)
        self.assertEqual(bytes(client.made[0].data), b"welcome")
        served = server.made[0]
        self.assertEqual(served.transport.get_peer().host, "127.0.0.1")
        self.assertEqual(served.transport.get_host().port, port.port)
        self.assertIsInstance(served.reason, reactord.ConnectionDone)

    def test_connection_refused(self):
        reactor = self.make_reactor()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
        probe.close()
        factory = RecorderFactory()
        original = factory.client_connection_failed

        def failed(connector, reason):
            original(connector, reason)
            reactor.stop()
        factory.client_connection_failed = failed
        reactor.connect_tcp("127.0.0.1", free, factory)
        self.run_reactor(reactor)
        self.assertEqual(factory.made, [])
        self.assertEqual(factory.failed[0].code, "ECONNREFUSED")

    def test_unix_connect_missing(self):
        reactor = self.make_reactor()
        factory = RecorderFactory()
        factory.client_connection_failed = \
            lambda c, r: (factory.failed.append(r), reactor.stop())
        reactor.connect_unix(os.path.join(self.daemon.dir, "none"), factory)
        self.run_reactor(reactor)
        self.assertEqual(factory.failed[0].code, "ENOENT")

    def test_listen_in_use(self):
        reactor = self.make_reactor()
        port = reactor.listen_tcp(0, reactord.Factory.for_protocol(Echo),
                                  interface="127.0.0.1")
        with self.assertRaises(reactord.ReactordError) as cm:
            reactor.listen_tcp(port.port, reactord.Factory.for_protocol(Echo),
                               interface="127.0.0.1")
        self.assertEqual(cm.exception.code, "EADDRINUSE")

    def test_abort(self):
        reactor = self.make_reactor()
        server = RecorderFactory()
        port = reactor.listen_tcp(0, server, interface="127.0.0.1")
        client = RecorderFactory()
        lost = []

        def on_lost(proto):
            lost.append(proto)
            if len(lost) == 2:
                reactor.stop()
        server.on_lost = client.on_lost = on_lost
        server.greeting = b"x"
        client.data_received = None

        class Aborter(Recorder):
            def data_received(self, data):
                self.transport.write(b"never sent" * 100000)
                self.transport.abort_connection()
        client.protocol = Aborter
        reactor.connect_tcp("127.0.0.1", port.port, client)
        self.run_reactor(reactor)
        self.assertIsInstance(client.made[0].reason,
                              reactord.ConnectionAborted)
        self.assertIsInstance(server.made[0].reason, reactord.ConnectionLost)
        self.assertEqual(server.made[0].reason.code, "ECONNRESET")

    def test_handler_exception_does_not_stop_the_stream(self):
        reactor = self.make_reactor()
        chunks = []

        class Fragile(reactord.Protocol):
            def data_received(self, data):
                chunks.append(data)
                if len(chunks) == 1:
                    raise ValueError("bad first chunk")
                reactor.stop()

        server = reactord.Factory.for_protocol(Fragile)
        port = reactor.listen_tcp(0, server, interface="127.0.0.1")

        class Sender(reactord.Protocol):
            def connection_made(self, transport):
                transport.write(b"one")
                reactor.call_later(0.1, transport.write, b"two")
        reactor.connect_tcp("127.0.0.1", port.port,
                            reactord.ClientFactory.for_protocol(Sender))
        with self.assertLogs("reactord", logging.ERROR) as logs:
            self.run_reactor(reactor)
        self.assertEqual(b"".join(chunks), b"onetwo")
        self.assertIn("bad first chunk", logs.output[0])

    def test_large_write_to_slow_reader(self):
        """Several MiB to a peer that reads slowly: the transport queues,
        meets reactord's high-water mark, waits for stream.drained, and
        everything arrives intact and in order."""
        payload = os.urandom(6 * 1024 * 1024)
        reactor = self.make_reactor()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        received = []

        def slow_reader():
            conn, _ = listener.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            with conn:
                while True:
                    data = conn.recv(16384)
                    if not data:
                        break
                    received.append(data)
                    if len(received) % 64 == 0:
                        time.sleep(0.01)
        reader = threading.Thread(target=slow_reader)
        reader.start()
        self.addCleanup(listener.close)

        pauses = []

        class Producer:
            def pause_producing(self):
                pauses.append("pause")

            def resume_producing(self):
                pauses.append("resume")

            def stop_producing(self):
                pass

        class Sender(reactord.Protocol):
            def connection_made(self, transport):
                transport.register_producer(Producer(), True)
                transport.write(payload)
                transport.lose_connection()

            def connection_lost(self, reason):
                self.reason = reason
                reactor.stop()

        factory = reactord.ClientFactory.for_protocol(Sender)
        connector = reactor.connect_tcp("127.0.0.1",
                                        listener.getsockname()[1], factory)
        self.run_reactor(reactor, limit=120)
        reader.join(30)
        got = b"".join(received)
        self.assertEqual(len(got), len(payload))
        self.assertEqual(hashlib.sha256(got).digest(),
                         hashlib.sha256(payload).digest())
        self.assertIn("pause", pauses)
        self.assertEqual(pauses[-1], "resume")
        self.assertIsInstance(connector.transport.protocol.reason,
                              reactord.ConnectionDone)

    def test_both_directions_with_pause(self):
        """Data both ways between two reactord streams, the receiver
        pausing the transport (stream.pause) now and then."""
        size = 3 * 1024 * 1024
        a_data, b_data = os.urandom(size), os.urandom(size)
        reactor = self.make_reactor()
        results = {}

        class Peer(reactord.Protocol):
            def connection_made(self, transport):
                self.got = bytearray()
                self.paused = 0
                transport.write(self.factory.send)

            def data_received(self, data):
                self.got += data
                if len(self.got) >= size:
                    results[self.factory.name] = bytes(self.got)
                    self.transport.lose_connection()
                elif self.paused < 5 and len(self.got) > self.paused * 500000:
                    self.paused += 1
                    self.transport.pause_producing()
                    reactor.call_later(0.05, self.transport.resume_producing)

            def connection_lost(self, reason):
                results.setdefault("lost", []).append(reason)
                if len(results["lost"]) == 2:
                    reactor.stop()

        server = reactord.Factory.for_protocol(Peer)
        server.send, server.name = a_data, "server"
        client = reactord.ClientFactory.for_protocol(Peer)
        client.send, client.name = b_data, "client"
        port = reactor.listen_tcp(0, server, interface="127.0.0.1")
        reactor.connect_tcp("127.0.0.1", port.port, client)
        self.run_reactor(reactor, limit=120)
        self.assertEqual(results["server"], b_data)
        self.assertEqual(results["client"], a_data)

    def test_pull_producer(self):
        reactor = self.make_reactor()
        chunks = [os.urandom(100000) for _ in range(20)]
        server = RecorderFactory(wanted=None)
        server.on_lost = lambda p: reactor.stop()
        port = reactor.listen_tcp(0, server, interface="127.0.0.1")

        class Pull:
            def __init__(self, transport):
                self.transport = transport
                self.left = list(chunks)

            def resume_producing(self):
                if self.left:
                    self.transport.write(self.left.pop(0))
                else:
                    self.transport.unregister_producer()
                    self.transport.lose_connection()

            def stop_producing(self):
                pass

        class Sender(reactord.Protocol):
            def connection_made(self, transport):
                transport.register_producer(Pull(transport), False)
        reactor.connect_tcp("127.0.0.1", port.port,
                            reactord.ClientFactory.for_protocol(Sender))
        self.run_reactor(reactor)
        self.assertEqual(bytes(server.made[0].data), b"".join(chunks))

    def test_many_small_writes_to_slow_reader(self):
        """Thousands of small writes, most sent without an answer, to a
        peer that reads slowly: past the high-water mark and back, every
        byte arrives, in order."""
        pieces = [os.urandom(1000) for _ in range(4000)]
        reactor = self.make_reactor()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        received = []

        def slow_reader():
            conn, _ = listener.accept()
            with conn:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    received.append(data)
                    if len(received) % 32 == 0:
                        time.sleep(0.005)
        reader = threading.Thread(target=slow_reader)
        reader.start()

        class Sender(reactord.Protocol):
            def connection_made(self, transport):
                for piece in pieces:
                    transport.write(piece)
                transport.lose_connection()

            def connection_lost(self, reason):
                self.reason = reason
                reactor.stop()

        connector = reactor.connect_tcp(
            "127.0.0.1", listener.getsockname()[1],
            reactord.ClientFactory.for_protocol(Sender))
        self.run_reactor(reactor, limit=120)
        reader.join(30)
        self.assertEqual(b"".join(received), b"".join(pieces))
        self.assertIsInstance(connector.transport.protocol.reason,
                              reactord.ConnectionDone)

    def test_write_after_the_stream_closed_is_quiet(self):
        """A write that reaches reactord after its stream is gone fails
        with no warning: the stream.closed on its way says it all."""
        reactor = self.make_reactor()
        port = reactor.listen_tcp(0, RecorderFactory(),
                                  interface="127.0.0.1")

        class Late(reactord.Protocol):
            def connection_made(self, transport):
                # A blocking call: the stream.closed it causes waits in the
                # backlog, so the transport still takes the write.
                reactor.call("stream.abort", handle=transport.handle)
                transport.write(b"too late")

            def connection_lost(self, reason):
                self.reason = reason

        class StopOnWriteError(logging.Handler):
            def emit(self, record):
                if "stream.write" in record.getMessage():
                    reactor.stop()

        connector = reactor.connect_tcp(
            "127.0.0.1", port.port, reactord.ClientFactory.for_protocol(Late))
        with self.assertLogs("reactord", logging.DEBUG) as logs:
            logging.getLogger("reactord").addHandler(StopOnWriteError())
            self.run_reactor(reactor, limit=10)
        self.assertIsInstance(connector.transport.protocol.reason,
                              reactord.ConnectionAborted)
        self.assertEqual([r.getMessage() for r in logs.records
                          if r.levelno >= logging.WARNING], [])

    def test_shared_listener(self):
        first = self.make_reactor()
        second = self.make_reactor()
        factory = RecorderFactory()
        port = first.listen_tcp(0, factory, interface="127.0.0.1",
                                name="py-shared")
        joined = second.join_listener("py-shared", RecorderFactory())
        self.assertEqual(joined.port, port.port)


class WriteLimitTests(DaemonTestCase):
    """A reactord whose sessions may buffer 128 KiB for writing in all."""

    daemon_args = ("--max-write-buffer", "131072")

    def test_two_streams_share_the_limit(self):
        """Two streams to slow readers, 8 MiB each (more than the kernel
        buffers on loopback): the session's writes meet max_write_buffer
        again and again, wait for stream.drained, and both peers get every
        byte in order."""
        payloads = [os.urandom(8 * 1024 * 1024) for _ in range(2)]
        reactor = self.make_reactor()
        received = [[], []]
        listeners = []
        readers = []

        def slow_reader(listener, into):
            conn, _ = listener.accept()
            with conn:
                while True:
                    data = conn.recv(16384)
                    if not data:
                        break
                    into.append(data)
                    if len(into) % 8 == 0:
                        time.sleep(0.01)

        for i in range(2):
            listener = socket.socket()
            # Inherited by the connection: the kernel holds little of what
            # is not read yet, so reactord holds the rest, up to the limit.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            self.addCleanup(listener.close)
            listeners.append(listener)
            reader = threading.Thread(target=slow_reader,
                                      args=(listener, received[i]))
            reader.start()
            readers.append(reader)

        lost = []

        class Sender(reactord.Protocol):
            def connection_made(self, transport):
                transport.write(self.factory.payload)
                transport.lose_connection()

            def connection_lost(self, reason):
                lost.append(reason)
                if len(lost) == 2:
                    reactor.stop()

        for i in range(2):
            factory = reactord.ClientFactory.for_protocol(Sender)
            factory.payload = payloads[i]
            reactor.connect_tcp("127.0.0.1", listeners[i].getsockname()[1],
                                factory)
        self.run_reactor(reactor, limit=120)
        for i in range(2):
            readers[i].join(30)
            got = b"".join(received[i])
            self.assertEqual(len(got), len(payloads[i]))
            self.assertEqual(hashlib.sha256(got).digest(),
                             hashlib.sha256(payloads[i]).digest())
        for reason in lost:
            self.assertIsInstance(reason, reactord.ConnectionDone)


class DatagramTests(DaemonTestCase):

    def test_udp_ping_pong(self):
        reactor = self.make_reactor()
        seen = []

        class Pong(reactord.DatagramProtocol):
            def datagram_received(self, data, addr):
                seen.append(("pong", data, addr[0]))
                self.transport.write(data.upper(), addr)

        class Ping(reactord.DatagramProtocol):
            def start_protocol(self):
                self.started = True

            def datagram_received(self, data, addr):
                seen.append(("ping", data, addr[1]))
                reactor.stop()

        pong_port = reactor.listen_udp(0, Pong(), interface="127.0.0.1")
        ping = Ping()
        ping_port = reactor.listen_udp(0, ping, interface="127.0.0.1")
        self.assertTrue(ping.started)
        ping_port.write(b"hello", ("127.0.0.1", pong_port.get_host().port))
        self.run_reactor(reactor)
        self.assertEqual(seen, [("pong", b"hello", "127.0.0.1"),
                                ("ping", b"HELLO",
                                 pong_port.get_host().port)])
        ping_port.stop_listening()
        pong_port.stop_listening()

    def test_multicast_group(self):
        reactor = self.make_reactor()
        port = reactor.listen_udp(0, reactord.DatagramProtocol())
        try:
            port.join_group("239.255.42.99", "lo")
        except reactord.ReactordError as e:
            self.skipTest("no multicast here: %s" % e)
        port.leave_group("239.255.42.99", "lo")
        with self.assertRaises(reactord.ReactordError):
            port.join_group("not-an-address")


if __name__ == "__main__":
    unittest.main()
