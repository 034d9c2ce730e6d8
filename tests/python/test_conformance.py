"""The conformance exchanges of proto/conformance, replayed from Python.

Two runners replay every exchange, each against a fresh reactord, with the
rules of the directory's README (subset matching, ``$any``,
``save``/``$NAME``, ``$unique``):

- ``test_FILE`` reads ``FILE.jsonl`` (the JSON view) and replays it through
  the Python client's low-level API: ``Session.call()`` for every ``send``
  and an ``on_event`` handler collecting events for ``expect_event``;
- ``test_msgpack_FILE`` reads ``FILE.msgpack`` and replays it over a bare
  pyzmq DEALER, without the client library: after ``session.hello`` every
  ``send`` goes out as the very request bytes the file holds (encoded again
  only where a saved ``$NAME`` is put in), and replies are decoded with
  msgpack alone.

``test_msgpack_files_are_generated`` checks that ``generate.py`` writes
exactly the committed ``.msgpack`` files, so the two forms never drift.
"""

import base64
import json
import os
import subprocess
import tempfile
import time
import unittest

import msgpack
import zmq

from daemon import PYTHON, Daemon
from reactord import ReactordError, Session

CONFORMANCE_DIR = os.environ.get("CONFORMANCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto",
    "conformance")

#: Seconds an ``expect_event`` waits for its event.
WAIT_SECONDS = 5.0

#: Seconds a request waits for its response.
CALL_SECONDS = 10.0


def from_json(value):
    """The JSON view to Python values: ``{"$bin": base64}`` becomes bytes."""
    if isinstance(value, dict):
        if set(value) == {"$bin"} and isinstance(value["$bin"], str):
            return base64.b64decode(value["$bin"], validate=True)
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def substitute(value, saved):
    """``value`` with every saved ``"$NAME"`` string replaced by its value."""
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, str) and value.startswith("$") and \
            value[1:] in saved:
        return saved[value[1:]]
    return value


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def matches(expected, actual):
    """Does ``actual`` match ``expected`` by subset (README, "Matching")?"""
    if expected == "$any":
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key])
            for key, value in expected.items())
    if isinstance(expected, (list, tuple)):
        return isinstance(actual, (list, tuple)) and \
            len(expected) == len(actual) and \
            all(matches(e, a) for e, a in zip(expected, actual))
    if is_number(expected):
        return is_number(actual) and expected == actual
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    return type(expected) is type(actual) and expected == actual


def unique_name():
    """``$unique``: a name no other replay on this machine uses meanwhile."""
    return "reactord-conformance-%d-%s" % (os.getpid(), os.urandom(4).hex())


def read_jsonl(path):
    """A ``.jsonl`` file as ``(line number, step, None)`` triples."""
    with open(path, encoding="utf-8") as f:
        return [(lineno, from_json(json.loads(line)), None)
                for lineno, line in enumerate(f, 1) if line.strip()]


def read_msgpack(path):
    """A ``.msgpack`` file as ``(number, step, request bytes)`` triples.

    The request bytes are the ``send`` value exactly as the file encodes it
    (``None`` for an ``expect_event`` step); the number counts the maps from
    1, which is the ``.jsonl`` line number.
    """
    with open(path, "rb") as f:
        data = f.read()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    steps = []
    while unpacker.tell() < len(data):
        step, raw = {}, None
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if key == "send":
                start = unpacker.tell()
                unpacker.skip()
                raw = data[start:unpacker.tell()]
                step[key] = msgpack.unpackb(raw, raw=False)
            else:
                step[key] = unpacker.unpack()
        steps.append((len(steps) + 1, step, raw))
    return steps


class Replay:
    """One file's exchange over one session.

    Subclasses reach reactord: ``call(send, raw)`` makes a line's request and
    returns a description of it and the response as ``{"result": ...}`` or
    ``{"error": ...}``; ``wait(seconds)`` moves events that arrive meanwhile
    into ``self.events`` as ``{"event": NAME, "payload": {...}}``.
    """

    def __init__(self, test, name):
        self.test = test
        self.name = name
        self.lineno = 0
        self.saved = {"unique": unique_name()}
        self.events = []

    def where(self):
        return "%s:%d" % (self.name, self.lineno)

    def run(self, steps):
        for self.lineno, step, raw in steps:
            filled = substitute(step, self.saved)
            if "send" in filled:
                self.send(filled, raw if filled["send"] == step["send"]
                          else None)
            elif "expect_event" in filled:
                self.expect_event(filled)
            else:
                self.test.fail("%s: neither send nor expect_event"
                               % self.where())

    def send(self, step, raw):
        expect = step.get("expect") or {}
        self.test.assertTrue("result" in expect or "error" in expect,
                             "%s: no expect.result/error" % self.where())
        what, response = self.call(step["send"], raw)
        kind = "result" if "result" in expect else "error"
        self.test.assertTrue(
            kind in response and matches(expect[kind], response[kind]),
            "%s: %s gets %r" % (self.where(), what, response))
        self.save(step, response.get("result"), "result")

    def save(self, step, source, what):
        """The line's ``save``: keep ``source[KEY]`` as ``$NAME``."""
        for name, key in (step.get("save") or {}).items():
            self.test.assertTrue(isinstance(source, dict) and key in source,
                                 "%s: no %s.%s to save"
                                 % (self.where(), what, key))
            self.saved[name] = source[key]

    def expect_event(self, step):
        expected = step["expect_event"]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            for i, event in enumerate(self.events):
                if matches(expected, event):
                    del self.events[i]
                    self.save(step, event["payload"], "payload")
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                self.test.fail("%s: no event matching %r (got %r)"
                               % (self.where(), expected, self.events))
            self.wait(min(left, 0.05))


class SessionReplay(Replay):
    """Replays the JSON view through ``reactord.Session``."""

    def __init__(self, test, name, session):
        super().__init__(test, name)
        self.session = session
        session.on_event = self.on_event

    def on_event(self, event):
        self.events.append({"event": event.name, "payload": event.payload})

    def call(self, send, raw):
        method = send["method"]
        params = send.get("params") or {}
        try:
            response = {"result": self.session.call(method, **params)}
        except ReactordError as error:
            response = {"error": {"code": error.code,
                                  "message": error.message}}
        return "%s %r" % (method, params), response

    def wait(self, seconds):
        # A call() may have received events already: dispatch those first.
        if not self.session.pending():
            self.session.socket.poll(int(seconds * 1000) + 1, zmq.POLLIN)
        self.session.receive()
        self.session.dispatch()


class RawReplay(Replay):
    """Replays the msgpack form as raw msgpack-rpc frames over a DEALER."""

    def __init__(self, test, name, socket):
        super().__init__(test, name)
        self.socket = socket
        self.responses = {}
        self.sent_as_is = 0
        _, hello = self.exchange([0, 0, "session.hello", [{"protocol": 1}]])
        test.assertTrue("result" in hello, "session.hello gets %r" % hello)

    def call(self, send, raw):
        self.test.assertTrue(
            isinstance(send, list) and len(send) == 4 and send[0] == 0,
            "%s: send is not a msgpack-rpc request: %r" % (self.where(), send))
        return self.exchange(send, raw)

    def exchange(self, request, raw=None):
        """Send ``request`` (as ``raw`` when given) and await its response."""
        if raw is None:
            raw = msgpack.packb(request, use_bin_type=True)
        else:
            self.sent_as_is += 1
        self.socket.send(raw)
        msgid = request[1]
        deadline = time.monotonic() + CALL_SECONDS
        while msgid not in self.responses:
            left = deadline - time.monotonic()
            if left <= 0:
                self.test.fail("%s: no response to %r"
                               % (self.where(), request[2]))
            self.wait(left)
        error, result = self.responses.pop(msgid)
        what = "%s %r" % (request[2], request[3])
        return what, {"error": error} if error is not None else \
            {"result": result}

    def wait(self, seconds):
        if not self.socket.poll(int(seconds * 1000) + 1, zmq.POLLIN):
            return
        while True:
            try:
                frame = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.take(frame)

    def take(self, frame):
        """Decode one frame: responses by msgid, events in order."""
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(frame)
        events = False
        for message in unpacker:
            self.test.assertTrue(
                isinstance(message, list) and message and
                message[0] in (1, 2), "%s: reactord sent %r"
                % (self.where(), message))
            if message[0] == 1:
                self.test.assertEqual(len(message), 4)
                self.responses[message[1]] = (message[2], message[3])
            else:
                self.test.assertEqual(len(message), 3)
                self.events.append({"event": message[1],
                                    "payload": message[2][0]
                                    if message[2] else {}})
                events = True
        # Event frames hold only events: return their credit whole (§5).
        if events:
            self.socket.send(msgpack.packb(
                [2, "session.ack", [{"bytes": len(frame)}]]))


class ConformanceTests(unittest.TestCase):
    """Two tests per conformance file (added below)."""

    def replay(self, name):
        daemon = Daemon()
        self.addCleanup(daemon.stop)
        session = Session(daemon.endpoint)
        self.addCleanup(session.close)
        path = os.path.join(CONFORMANCE_DIR, name + ".jsonl")
        SessionReplay(self, name + ".jsonl", session).run(read_jsonl(path))

    def replay_msgpack(self, name):
        daemon = Daemon()
        self.addCleanup(daemon.stop)
        context = zmq.Context()
        self.addCleanup(context.term)
        socket = context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        self.addCleanup(socket.close)
        socket.connect(daemon.endpoint)
        path = os.path.join(CONFORMANCE_DIR, name + ".msgpack")
        replay = RawReplay(self, name + ".msgpack", socket)
        replay.run(read_msgpack(path))
        # Most requests name no saved value: those went out byte for byte.
        self.assertGreater(replay.sent_as_is, 0)
        replay.exchange([0, 0, "session.bye", []])

    def test_msgpack_files_are_generated(self):
        """generate.py writes exactly the committed .msgpack files."""
        committed = sorted(n for n in os.listdir(CONFORMANCE_DIR)
                           if n.endswith(".msgpack"))
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([PYTHON, os.path.join(CONFORMANCE_DIR,
                                                 "generate.py"),
                            "--out", out], check=True)
            generated = sorted(os.listdir(out))
            self.assertEqual(committed, generated)
            for name in generated:
                with open(os.path.join(out, name), "rb") as f:
                    fresh = f.read()
                with open(os.path.join(CONFORMANCE_DIR, name), "rb") as f:
                    self.assertTrue(f.read() == fresh,
                                    "%s is stale: run generate.py" % name)


def _add_tests():
    try:
        names = sorted(n[:-len(".jsonl")] for n in os.listdir(CONFORMANCE_DIR)
                       if n.endswith(".jsonl"))
    except FileNotFoundError:
        names = []

    def make(method, name):
        return lambda self: getattr(self, method)(name)
    for name in names:
        setattr(ConformanceTests, "test_" + name, make("replay", name))
        setattr(ConformanceTests, "test_msgpack_" + name,
                make("replay_msgpack", name))
    if not names:
        def test_files(self):
            self.fail("no .jsonl files in %s" % CONFORMANCE_DIR)
        ConformanceTests.test_files = test_files


_add_tests()

if __name__ == "__main__":
    unittest.main()
