"""A real reactord per test class, on a temporary ipc endpoint.

The daemon is found through ``$REACTORD`` (set by the build's test
environment) or, when run by hand, in a ``build*`` directory of the tree.
Everything it creates lives in one temporary directory that is removed
afterwards.
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLIENT_DIR = os.path.join(ROOT, "clients", "python")
EXAMPLES_DIR = os.path.join(ROOT, "examples", "python")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable

if CLIENT_DIR not in sys.path:
    sys.path.insert(0, CLIENT_DIR)


def find_reactord():
    """Return the path of the reactord to test, or None."""
    path = os.environ.get("REACTORD")
    if path:
        return path
    found = sorted(glob.glob(os.path.join(ROOT, "build*", "broker",
                                          "reactord")),
                   key=os.path.getmtime, reverse=True)
    return found[0] if found else None


def stop_process(process):
    """SIGTERM ``process`` and wait for it (SIGKILL if it hangs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Daemon:
    """A reactord process on ``ipc://TMPDIR/bus``, with extra command line
    ``args``."""

    def __init__(self, args=()):
        self.path = find_reactord()
        if not self.path or not os.access(self.path, os.X_OK):
            raise unittest.SkipTest("no reactord binary (set $REACTORD)")
        self.dir = tempfile.mkdtemp(prefix="reactord-py-")
        self.socket = os.path.join(self.dir, "bus")
        self.endpoint = "ipc://" + self.socket
        self.log = open(os.path.join(self.dir, "reactord.log"), "w+")
        self.process = subprocess.Popen(
            [self.path, "--endpoint", self.endpoint] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or \
                    time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("reactord did not start")
            time.sleep(0.01)

    def env(self, **extra):
        """An environment for a child program using this daemon."""
        env = dict(os.environ)
        env["REACTORD_ENDPOINT"] = self.endpoint
        env["PYTHONPATH"] = CLIENT_DIR + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(extra)
        return env

    def stop(self):
        """Stop the daemon gracefully (KILL if it hangs) and clean up."""
        stop_process(self.process)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ReactorTestCase(unittest.TestCase):
    """Reactors on the reactord at ``self.endpoint``, which a subclass
    starts."""

    endpoint = None

    def make_reactor(self, **options):
        """A Reactor on the test daemon, closed when the test ends."""
        import reactord
        reactor = reactord.Reactor(self.endpoint, **options)
        self.addCleanup(reactor.close)
        return reactor

    def run_reactor(self, reactor, limit=30):
        """Run until the test stops it; a safety timer fails a hung test
        rather than hanging the suite."""
        expired = []

        def give_up():
            expired.append(True)
            reactor.stop()
        guard = reactor.call_later(limit, give_up)
        reactor.run(install_signal_handlers=False)
        if guard.active():
            guard.cancel()
        self.assertFalse(expired, "the reactor was never stopped")


class DaemonTestCase(ReactorTestCase):
    """Starts one reactord for the class (with ``daemon_args``);
    ``self.endpoint`` reaches it."""

    daemon = None
    daemon_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daemon = Daemon(cls.daemon_args)
        cls.endpoint = cls.daemon.endpoint

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            cls.daemon.stop()
            cls.daemon = None
        super().tearDownClass()
