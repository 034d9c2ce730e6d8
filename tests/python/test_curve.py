"""The Python client over tcp:// with CURVE, against a real reactord.

reactord serves tcp://127.0.0.1:* (a free port, read back from its
"serving" line) with a server key and an allow directory holding alice's
public key; the key files are written here in the format PROTOCOL.md
documents. A client refused by reactord never gets an answer, whatever the
wait: what is asserted is that it gets no session, not how long it took.
"""

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import zmq

from daemon import find_reactord, stop_process

import reactord
from reactord.client import curve_options

#: Upper bound for anything reactord is expected to do.
TIMEOUT = 30
#: The hello timeout of a client that must be refused: any value gives the
#: same outcome.
REFUSED_TIMEOUT = 1.0


def write_key_pair(directory, name):
    """Write NAME.key and NAME.pub as ``reactorctl keygen`` does; return
    their paths."""
    public, secret = zmq.curve_keypair()
    key = os.path.join(directory, name + ".key")
    pub = os.path.join(directory, name + ".pub")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(b"# reactord CURVE key pair\npublic-key = " + public +
                b"\nsecret-key = " + secret + b"\n")
    with open(pub, "wb") as f:
        f.write(public + b"\n")
    return key, pub


@unittest.skipUnless(zmq.has("curve"), "libzmq without CURVE")
class CurveTests(unittest.TestCase):
    """One reactord with CURVE per test."""

    def setUp(self):
        path = find_reactord()
        if not path or not os.access(path, os.X_OK):
            raise unittest.SkipTest("no reactord binary (set $REACTORD)")
        self.dir = tempfile.mkdtemp(prefix="reactord-curve-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.allow = os.path.join(self.dir, "allow")
        os.mkdir(self.allow, 0o700)
        self.server_key, self.server_pub = write_key_pair(self.dir, "server")
        self.alice_key, pub = write_key_pair(self.dir, "alice")
        os.rename(pub, os.path.join(self.allow, "alice.pub"))
        self.mallory_key, self.mallory_pub = write_key_pair(self.dir,
                                                            "mallory")
        for name in ("REACTORD_SERVER_KEY", "REACTORD_KEY"):
            old = os.environ.pop(name, None)
            if old is not None:
                self.addCleanup(os.environ.__setitem__, name, old)

        self.log_path = os.path.join(self.dir, "reactord.log")
        log = open(self.log_path, "w")
        self.addCleanup(log.close)
        self.process = subprocess.Popen(
            [path, "--config", "/dev/null", "--log-level", "info",
             "--endpoint", "tcp://127.0.0.1:*",
             "--curve-secret-key", self.server_key,
             "--curve-allow", self.allow],
            stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, self.process)
        self.endpoint = self.wait_log(
            r"serving (tcp://127\.0\.0\.1:\d+) with CURVE").group(1)

    def wait_log(self, pattern):
        """Wait until reactord's log matches ``pattern``; return the
        match."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            with open(self.log_path) as f:
                match = re.search(pattern, f.read())
            if match:
                return match
            self.assertIsNone(self.process.poll(), "reactord exited")
            self.assertLess(time.monotonic(), deadline,
                            "no %r in reactord's log" % pattern)
            time.sleep(0.01)

    def session(self, key, **options):
        s = reactord.Session(self.endpoint, server_key=self.server_pub,
                             key=key, **options)
        self.addCleanup(s.close)
        return s

    def test_allowed_key(self):
        s = self.session(self.alice_key, name="py-curve")
        self.assertEqual(s.call("reactor.ping"), {})
        me = s.call("reactor.info")["session"]
        self.assertEqual(me["user"], "alice")
        self.assertEqual(me["name"], "py-curve")
        self.assertEqual(me["address"], "127.0.0.1")
        self.assertIsNone(me["uid"])

    def test_timer_through_the_reactor(self):
        reactor = reactord.Reactor(self.endpoint, server_key=self.server_pub,
                                   key=self.alice_key)
        self.addCleanup(reactor.close)
        fired = []

        def done():
            fired.append(True)
            reactor.stop()
        reactor.call_later(0.01, done)
        guard = reactor.call_later(TIMEOUT, reactor.stop)
        reactor.run(install_signal_handlers=False)
        if guard.active():
            guard.cancel()
        self.assertEqual(fired, [True])

    def test_asyncio(self):
        async def main():
            async with reactord.aio.connect(
                    self.endpoint, server_key=self.server_pub,
                    key=self.alice_key) as r:
                return (await r.call("reactor.info"))["session"]["user"]
        self.assertEqual(asyncio.run(main()), "alice")

    def test_environment(self):
        os.environ["REACTORD_SERVER_KEY"] = self.server_pub
        os.environ["REACTORD_KEY"] = self.alice_key
        self.addCleanup(os.environ.pop, "REACTORD_SERVER_KEY", None)
        self.addCleanup(os.environ.pop, "REACTORD_KEY", None)
        s = reactord.Session(self.endpoint)
        self.addCleanup(s.close)
        self.assertEqual(s.call("reactor.info")["session"]["user"], "alice")

    def test_unknown_key_gets_no_session(self):
        with self.assertRaises(ConnectionError) as cm:
            reactord.Session(self.endpoint, server_key=self.server_pub,
                             key=self.mallory_key, timeout=REFUSED_TIMEOUT)
        self.assertIn("allow directory", str(cm.exception))
        public, _ = reactord.read_key_file(self.mallory_pub)
        self.wait_log(re.escape("its key %s is not in" % public.decode()))
        self.assertEqual(self.session(self.alice_key).call(
            "reactor.info")["sessions"], 1)

    def test_client_without_curve_gets_no_session(self):
        with self.assertRaises(ConnectionError):
            reactord.Session(self.endpoint, timeout=REFUSED_TIMEOUT)
        self.assertEqual(self.session(self.alice_key).call(
            "reactor.info")["sessions"], 1)

    def test_reload_lets_a_new_key_in(self):
        os.rename(self.mallory_pub, os.path.join(self.allow, "mallory.pub"))
        self.process.send_signal(signal.SIGHUP)
        self.wait_log(r"2 client keys allowed")
        me = self.session(self.mallory_key).call("reactor.info")["session"]
        self.assertEqual(me["user"], "mallory")


class KeyFileTests(unittest.TestCase):
    """The key file format, read without a daemon."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="reactord-keys-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        for name in ("REACTORD_SERVER_KEY", "REACTORD_KEY"):
            old = os.environ.pop(name, None)
            if old is not None:
                self.addCleanup(os.environ.__setitem__, name, old)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_both_forms(self):
        key, pub = write_key_pair(self.dir, "k")
        public, secret = reactord.read_key_file(key)
        self.assertEqual(reactord.read_key_file(pub), (public, None))
        self.assertEqual(zmq.curve_public(secret), public)

    def test_key_starting_with_hash(self):
        # '#' is a Z85 character: a bare key may start with it.
        key = b"#" + b"a" * 39
        self.assertEqual(reactord.read_key_file(self.write("h.pub", key)),
                         (key, None))

    def test_not_key_files(self):
        for data in (b"", b"# only a comment\n", b"hello\n", b"a" * 39,
                     b"public-key = short\n", b"a" * 40 + b"\n" + b"b" * 40):
            with self.assertRaises(ValueError, msg=data):
                reactord.read_key_file(self.write("bad", data))

    def test_curve_options_needs_both_keys(self):
        key, pub = write_key_pair(self.dir, "k")
        self.assertEqual(curve_options(), {})
        with self.assertRaises(ValueError):
            curve_options(server_key=pub)
        with self.assertRaises(ValueError):
            curve_options(server_key=pub, key=pub)
        options = curve_options(server_key=pub, key=key)
        self.assertEqual(options[zmq.CURVE_SERVERKEY],
                         reactord.read_key_file(pub)[0])


if __name__ == "__main__":
    unittest.main()
