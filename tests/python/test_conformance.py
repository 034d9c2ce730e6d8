"""The conformance exchanges of proto/conformance, through the Python client.

Each ``*.jsonl`` file is replayed over one fresh ``Session`` against a fresh
reactord, with the low-level API: ``call()`` for every ``send`` and an
``on_event`` handler collecting events for ``expect_event``. The rules
(subset matching, ``$any``, ``save``/``$NAME``) are the directory's README.
"""

import base64
import json
import os
import time
import unittest

import zmq

from daemon import Daemon
from reactord import ReactordError, Session

CONFORMANCE_DIR = os.environ.get("CONFORMANCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto",
    "conformance")

#: Seconds an ``expect_event`` waits for its event.
WAIT_SECONDS = 5.0


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


class Replay:
    """One file's exchange over one session."""

    def __init__(self, test, session, name):
        self.test = test
        self.session = session
        self.name = name
        self.lineno = 0
        self.saved = {}
        self.events = []
        session.on_event = self.events.append

    def where(self):
        return "%s:%d" % (self.name, self.lineno)

    def run(self, lines):
        for self.lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            step = substitute(from_json(json.loads(line)), self.saved)
            if "send" in step:
                self.send(step)
            elif "expect_event" in step:
                self.expect_event(step["expect_event"])
            else:
                self.test.fail("%s: neither send nor expect_event"
                               % self.where())

    def send(self, step):
        method = step["send"]["method"]
        params = step["send"].get("params") or {}
        expect = step.get("expect") or {}
        self.test.assertTrue("result" in expect or "error" in expect,
                             "%s: no expect.result/error" % self.where())
        try:
            response = {"result": self.session.call(method, **params)}
        except ReactordError as error:
            response = {"error": {"code": error.code,
                                  "message": error.message}}
        kind = "result" if "result" in expect else "error"
        self.test.assertTrue(
            kind in response and matches(expect[kind], response[kind]),
            "%s: %s %r gets %r" % (self.where(), method, params, response))
        for name, key in (step.get("save") or {}).items():
            self.test.assertIn(key, response["result"],
                               "%s: no result.%s to save"
                               % (self.where(), key))
            self.saved[name] = response["result"][key]

    def expect_event(self, expected):
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            self.session.receive()
            self.session.dispatch()
            for i, event in enumerate(self.events):
                if matches(expected, {"event": event.name,
                                      "payload": event.payload}):
                    del self.events[i]
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                self.test.fail("%s: no event matching %r (got %r)"
                               % (self.where(), expected, self.events))
            self.session.socket.poll(int(min(left, 0.05) * 1000) + 1,
                                     zmq.POLLIN)


class ConformanceTests(unittest.TestCase):
    """One test per conformance file (added below)."""

    def replay(self, name):
        daemon = Daemon()
        self.addCleanup(daemon.stop)
        session = Session(daemon.endpoint)
        self.addCleanup(session.close)
        with open(os.path.join(CONFORMANCE_DIR, name),
                  encoding="utf-8") as f:
            Replay(self, session, name).run(f.readlines())


def _add_tests():
    try:
        names = sorted(n for n in os.listdir(CONFORMANCE_DIR)
                       if n.endswith(".jsonl"))
    except FileNotFoundError:
        names = []

    def make(name):
        return lambda self: self.replay(name)
    for name in names:
        setattr(ConformanceTests, "test_" + name[:-len(".jsonl")],
                make(name))
    if not names:
        def test_files(self):
            self.fail("no .jsonl files in %s" % CONFORMANCE_DIR)
        ConformanceTests.test_files = test_files


_add_tests()

if __name__ == "__main__":
    unittest.main()
