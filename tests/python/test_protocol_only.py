"""A client written from PROTOCOL.md alone, with raw pyzmq and msgpack.

It imports nothing of the reactord package: if this passes, the document
is enough to speak to reactord.
"""

import unittest

import msgpack
import zmq

from daemon import DaemonTestCase


class ProtocolOnlyTests(DaemonTestCase):

    def setUp(self):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.endpoint)
        self.msgid = 0
        self.addCleanup(self.context.term)
        self.addCleanup(self.socket.close)

    def send(self, *messages):
        """Send messages back to back in one frame (§2)."""
        self.socket.send(b"".join(msgpack.packb(m, use_bin_type=True)
                                  for m in messages))

    def request(self, method, params=None):
        self.msgid += 1
        return [0, self.msgid, method, [params] if params else []]

    def receive(self):
        """One frame: its size and its messages."""
        self.assertTrue(self.socket.poll(10000), "reactord did not answer")
        frame = self.socket.recv()
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(frame)
        return len(frame), list(unpacker)

    def call(self, method, params=None):
        message = self.request(method, params)
        self.send(message)
        _, messages = self.receive()
        self.assertEqual(len(messages), 1)
        kind, msgid, error, result = messages[0]
        self.assertEqual((kind, msgid), (1, message[1]))
        return error, result

    def test_session_timer_ack_and_errors(self):
        # Before hello, a known method is ENOTCONN.
        error, result = self.call("reactor.ping")
        self.assertEqual(error["code"], "ENOTCONN")
        self.assertIsNone(result)

        error, hello = self.call("session.hello",
                                 {"protocol": 1, "name": "raw",
                                  "window": 4096})
        self.assertIsNone(error)
        self.assertEqual(hello["server"], "reactord")
        self.assertEqual(hello["protocol"], 1)
        self.assertEqual(hello["window"], 4096)
        self.assertIn("max_frame", hello["limits"])

        error, _ = self.call("session.hello", {"protocol": 1})
        self.assertEqual(error["code"], "EALREADY")

        # A periodic timer: the response comes before the first event.
        start = self.request("timer.start", {"after": 0, "every": 0.01})
        self.send(start)
        size, messages = self.receive()
        self.assertEqual(messages[0][:3], [1, start[1], None])
        handle = messages[0][3]["handle"]
        self.assertGreaterEqual(handle, 1)

        # Event frames carry only events; ack each frame's size.
        fired = 0
        while fired < 10:
            size, messages = self.receive()
            for message in messages:
                self.assertEqual(message[0], 2)
                self.assertEqual(message[1], "timer.fired")
                payload = message[2][0]
                self.assertEqual(payload["handle"], handle)
                self.assertGreaterEqual(payload["ticks"], 1)
                fired += 1
            self.send([2, "session.ack", [{"bytes": size}]])

        # Requests batched in one frame are answered in one frame, in
        # order; errors carry a stable code.
        bad_param = self.request("timer.start", {"after": 1, "every": 0})
        unknown = self.request("no.such.method")
        cancel = self.request("timer.cancel", {"handle": handle})
        self.send(bad_param, unknown, cancel)
        responses = []
        while len(responses) < 3:
            _, messages = self.receive()
            responses += [m for m in messages if m[0] == 1]
        self.assertEqual([m[1] for m in responses],
                         [bad_param[1], unknown[1], cancel[1]])
        self.assertEqual(responses[0][2]["code"], "EINVAL")
        self.assertEqual(responses[1][2]["code"], "ENOSYS")
        self.assertIsNone(responses[2][2])

        error, _ = self.call("timer.cancel", {"handle": handle})
        self.assertEqual(error["code"], "ENOENT")

        # Not msgpack at all: EBADMSG as a session.error event.
        self.socket.send(b"\xc1")
        _, messages = self.receive()
        self.assertEqual(messages[0][:2], [2, "session.error"])
        self.assertEqual(messages[0][2][0]["code"], "EBADMSG")

        error, result = self.call("session.bye")
        self.assertIsNone(error)
        self.assertEqual(result, {})


if __name__ == "__main__":
    unittest.main()
