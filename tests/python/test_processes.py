"""spawn_process and ProcessProtocol against a real reactord."""

import hashlib
import os
import unittest

from daemon import DaemonTestCase

import reactord


class Collector(reactord.ProcessProtocol):
    """Collect output and the end of a child, then stop the reactor."""

    def __init__(self, reactor, stdin=None):
        self.reactor = reactor
        self.stdin = stdin
        self.out = bytearray()
        self.err = bytearray()
        self.events = []

    def connection_made(self, transport):
        self.events.append("made")
        if self.stdin is not None:
            transport.write(self.stdin)
            transport.close_stdin()

    def out_received(self, data):
        self.out += data

    def err_received(self, data):
        self.err += data

    def process_exited(self, reason):
        self.events.append("exited")
        self.exit_reason = reason

    def process_ended(self, reason):
        self.events.append("ended")
        self.end_reason = reason
        self.reactor.stop()


class ProcessTests(DaemonTestCase):

    def test_output_and_exit_code(self):
        reactor = self.make_reactor()
        proto = Collector(reactor)
        transport = reactor.spawn_process(
            proto, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertGreater(transport.pid, 0)
        self.run_reactor(reactor)
        self.assertEqual(bytes(proto.out), b"out\n")
        self.assertEqual(bytes(proto.err), b"err\n")
        self.assertEqual(proto.events, ["made", "exited", "ended"])
        self.assertIsInstance(proto.end_reason, reactord.ProcessTerminated)
        self.assertEqual(proto.end_reason.exit_code, 3)
        with self.assertRaises(reactord.ProcessExitedAlready):
            transport.signal_process("TERM")

    def test_success_is_process_done(self):
        reactor = self.make_reactor()
        proto = Collector(reactor)
        reactor.spawn_process(proto, ["true"])
        self.run_reactor(reactor)
        self.assertIsInstance(proto.end_reason, reactord.ProcessDone)

    def test_environment_and_path(self):
        reactor = self.make_reactor()
        proto = Collector(reactor)
        reactor.spawn_process(proto, ["/bin/sh", "-c", "echo $GREETING; pwd"],
                              env={"GREETING": "hi"}, path=self.daemon.dir)
        self.run_reactor(reactor)
        self.assertEqual(proto.out.decode().split(),
                         ["hi", os.path.realpath(self.daemon.dir)])

    def test_stdin_round_trip(self):
        data = os.urandom(2 * 1024 * 1024)
        reactor = self.make_reactor()
        proto = Collector(reactor, stdin=data)
        reactor.spawn_process(proto, ["cat"])
        self.run_reactor(reactor, limit=120)
        self.assertEqual(hashlib.sha256(proto.out).digest(),
                         hashlib.sha256(data).digest())
        self.assertIsInstance(proto.end_reason, reactord.ProcessDone)

    def test_signal(self):
        reactor = self.make_reactor()

        class Sleeper(Collector):
            def out_received(self, data):
                self.transport.signal_process("TERM")
        proto = Sleeper(reactor)
        reactor.spawn_process(proto,
                              ["/bin/sh", "-c", "echo up; exec sleep 60"])
        self.run_reactor(reactor)
        self.assertIsInstance(proto.end_reason, reactord.ProcessTerminated)
        self.assertEqual(proto.end_reason.signal, 15)
        self.assertIsNone(proto.end_reason.exit_code)

    def test_missing_program(self):
        reactor = self.make_reactor()
        with self.assertRaises(reactord.ReactordError) as cm:
            reactor.spawn_process(Collector(reactor), ["/no/such/program"])
        self.assertEqual(cm.exception.code, "ENOENT")


if __name__ == "__main__":
    unittest.main()
