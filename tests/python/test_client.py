"""The reactor API against a real reactord: timers, calls and handlers."""

import logging
import unittest

from daemon import DaemonTestCase

import reactord


class SessionTests(DaemonTestCase):
    """Opening a session, raw calls and errors."""

    def test_hello_and_info(self):
        reactor = self.make_reactor(name="py-test", lease=5, window=65536)
        info = reactor.session.info
        self.assertEqual(info["server"], "reactord")
        self.assertEqual(info["protocol"], 1)
        self.assertEqual(info["window"], 65536)
        self.assertEqual(reactor.session.lease, 5.0)
        self.assertEqual(reactor.call("reactor.ping"), {})
        self.assertGreaterEqual(reactor.call("reactor.info")["sessions"], 1)
        names = {m["name"] for m in reactor.call("reactor.methods")["methods"]}
        self.assertIn("timer.start", names)

    def test_error_codes(self):
        reactor = self.make_reactor()
        with self.assertRaises(reactord.ReactordError) as cm:
            reactor.call("no.such.method")
        self.assertEqual(cm.exception.code, "ENOSYS")
        with self.assertRaises(reactord.ReactordError) as cm:
            reactor.call("timer.start", after=1, every=0)
        self.assertEqual(cm.exception.code, "EINVAL")
        with self.assertRaises(reactord.ReactordError) as cm:
            reactor.call("timer.cancel", handle=999999)
        self.assertEqual(cm.exception.code, "ENOENT")

    def test_default_endpoint_from_environment(self):
        import os
        old = os.environ.get("REACTORD_ENDPOINT")
        os.environ["REACTORD_ENDPOINT"] = self.endpoint
        try:
            self.assertEqual(reactord.default_endpoint(), self.endpoint)
            reactor = reactord.Reactor()
            self.addCleanup(reactor.close)
            self.assertEqual(reactor.session.endpoint, self.endpoint)
        finally:
            if old is None:
                del os.environ["REACTORD_ENDPOINT"]
            else:
                os.environ["REACTORD_ENDPOINT"] = old

    def test_no_daemon(self):
        with self.assertRaises(ConnectionError):
            reactord.Reactor("ipc://" + self.daemon.dir + "/nobody",
                             timeout=0.5)

    def test_close_releases_resources(self):
        reactor = self.make_reactor()
        reactor.call_later(60, lambda: None)
        reactor.session.flush()
        other = self.make_reactor()
        before = other.call("reactor.info")["resources"]["timer"]
        reactor.close()
        after = other.call("reactor.info")["resources"]["timer"]
        self.assertEqual(after, before - 1)


class _CountingSocket:
    """Forward to a socket, counting the frames sent."""

    def __init__(self, socket):
        self._socket = socket
        self.frames = []

    def send(self, frame, *args, **kwargs):
        self.frames.append(frame)
        return self._socket.send(frame, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._socket, name)


class FlowTests(DaemonTestCase):
    """Batching and the lease, seen from outside."""

    def test_calls_from_one_dispatch_share_a_frame(self):
        reactor = self.make_reactor()
        counting = _CountingSocket(reactor.session._socket)
        reactor.session._socket = counting
        seen = []

        def burst():
            del counting.frames[:]
            for i in range(10):
                reactor.call_later(0.01 * (i + 1), seen.append, i)
            reactor.call_later(0.2, reactor.stop)
        reactor.call_when_running(burst)
        self.run_reactor(reactor)
        self.assertEqual(seen, list(range(10)))
        # The eleven timer.start requests left in the first frame sent.
        self.assertGreaterEqual(counting.frames[0].count(b"timer.start"), 11)
        reactor.session._socket = counting._socket

    def test_lease_kept_alive_while_idle(self):
        reactor = self.make_reactor(lease=0.2)
        self.assertEqual(reactor.session.lease, 0.2)
        reactor.call_later(1.0, reactor.stop)
        self.run_reactor(reactor)
        self.assertIsNone(reactor.session.closed)
        self.assertEqual(reactor.call("reactor.ping"), {})

    def test_lease_expiry_ends_run(self):
        reactor = self.make_reactor(lease=0.1)
        import time as _time
        reactor.call_when_running(_time.sleep, 0.5)
        with self.assertRaises(reactord.SessionClosed) as cm:
            reactor.run(install_signal_handlers=False)
        self.assertEqual(cm.exception.reason, "lease expired")


class TimerTests(DaemonTestCase):
    """call_later, DelayedCall, LoopingCall, call_when_running, stop."""

    def test_call_when_running_and_stop(self):
        reactor = self.make_reactor()
        seen = []
        reactor.call_when_running(seen.append, "first")
        reactor.call_when_running(lambda: (seen.append("second"),
                                           reactor.stop()))
        self.run_reactor(reactor)
        self.assertEqual(seen, ["first", "second"])
        with self.assertRaises(reactord.ReactorNotRunning):
            reactor.stop()

    def test_call_later_order_and_arguments(self):
        reactor = self.make_reactor()
        seen = []
        reactor.call_later(0.03, seen.append, 3)
        reactor.call_later(0.01, seen.append, 1)
        reactor.call_later(0.02, lambda x, y=None: seen.append((x, y)),
                           2, y="kw")
        reactor.call_later(0.05, reactor.stop)
        self.run_reactor(reactor)
        self.assertEqual(seen, [1, (2, "kw"), 3])

    def test_cancel_reset_active(self):
        reactor = self.make_reactor()
        seen = []
        cancelled = reactor.call_later(0.01, seen.append, "cancelled")
        later = reactor.call_later(0.01, seen.append, "reset")
        reactor.call_later(0.05, seen.append, "early")
        self.assertTrue(cancelled.active())
        cancelled.cancel()
        self.assertFalse(cancelled.active())
        with self.assertRaises(reactord.AlreadyCancelled):
            cancelled.cancel()
        later.reset(0.2)
        reactor.call_later(0.3, reactor.stop)
        self.run_reactor(reactor)
        self.assertEqual(seen, ["early", "reset"])
        self.assertFalse(later.active())
        self.assertTrue(later.called)
        with self.assertRaises(reactord.AlreadyCalled):
            later.cancel()
        with self.assertRaises(reactord.AlreadyCalled):
            later.reset(1)

    def test_reset_after_handle_known(self):
        reactor = self.make_reactor()
        seen = []
        delayed = reactor.call_later(0.05, seen.append, "reset")

        def postpone():
            delayed.reset(0.3)
            reactor.call_later(0.1, seen.append, "first")
        reactor.call_when_running(postpone)
        reactor.call_later(0.5, reactor.stop)
        self.run_reactor(reactor)
        self.assertEqual(seen, ["first", "reset"])

    def test_cancel_from_callback(self):
        reactor = self.make_reactor()
        seen = []
        victim = reactor.call_later(0.1, seen.append, "victim")
        reactor.call_later(0.02, victim.cancel)
        reactor.call_later(0.2, reactor.stop)
        self.run_reactor(reactor)
        self.assertEqual(seen, [])
        self.assertTrue(victim.cancelled)

    def test_looping_call(self):
        reactor = self.make_reactor()
        calls = []

        def tick(label):
            calls.append(label)
            if len(calls) == 5:
                loop.stop()
                reactor.stop()
        loop = reactor.LoopingCall(tick, "x")
        loop.start(0.01)
        self.assertTrue(loop.running)
        self.run_reactor(reactor)
        self.assertEqual(calls, ["x"] * 5)
        self.assertFalse(loop.running)
        self.assertEqual(reactor.call("reactor.resources")["resources"], [])

    def test_looping_call_not_now(self):
        reactor = self.make_reactor()
        seen = []
        loop = reactord.LoopingCall(lambda: seen.append("tick"))
        loop.clock = reactor
        reactor.call_later(0.01, seen.append, "first")
        reactor.call_later(0.15, reactor.stop)
        loop.start(0.1, now=False)
        self.run_reactor(reactor)
        loop.stop()
        self.assertEqual(seen[:2], ["first", "tick"])

    def test_ticks_coalesce_when_out_of_credit(self):
        # A tiny window and a busy handler: reactord runs out of credit and
        # folds the missed periods into one event's ticks.
        import time as _time
        reactor = self.make_reactor(window=4096)
        counts = []

        def tick(ticks):
            counts.append(ticks)
            if len(counts) == 1:
                _time.sleep(2.0)
            elif sum(counts) >= 300:
                loop.stop()
                reactor.stop()
        loop = reactord.LoopingCall.with_count(tick)
        loop.clock = reactor
        loop.start(0.005)
        self.run_reactor(reactor)
        self.assertTrue(all(c >= 1 for c in counts))
        self.assertGreater(max(counts), 1)
        self.assertLess(len(counts), sum(counts))

    def test_looping_call_exception_stops_it(self):
        reactor = self.make_reactor()
        calls = []

        def fail():
            calls.append(1)
            raise RuntimeError("loop body fails")
        loop = reactor.LoopingCall(fail)
        with self.assertLogs("reactord", logging.ERROR) as logs:
            loop.start(0.01)
            reactor.call_later(0.2, reactor.stop)
            self.run_reactor(reactor)
        self.assertEqual(calls, [1])
        self.assertFalse(loop.running)
        self.assertIn("loop body fails", "\n".join(logs.output))

    def test_exception_is_logged_and_dispatch_goes_on(self):
        reactor = self.make_reactor()
        seen = []

        def falldown():
            raise Exception("I fall down.")
        reactor.call_when_running(falldown)
        reactor.call_later(0, falldown)
        reactor.call_later(0.01, seen.append, "But I get up again.")
        reactor.call_later(0.02, reactor.stop)
        with self.assertLogs("reactord", logging.ERROR) as logs:
            self.run_reactor(reactor)
        self.assertEqual(seen, ["But I get up again."])
        self.assertEqual(len(logs.records), 2)
        self.assertIn("Traceback", logs.output[0])
        self.assertIn("I fall down.", logs.output[0])

    def test_run_again_and_credit_returns(self):
        # Many events through a small window: unless credit is returned
        # the timer would stall and the loop never reach its count.
        reactor = self.make_reactor(window=4096)
        seen = []

        def tick():
            seen.append(1)
            if len(seen) % 500 == 0:
                reactor.stop()
        loop = reactor.LoopingCall(tick)
        loop.start(0.0005)
        self.run_reactor(reactor)
        self.run_reactor(reactor)
        loop.stop()
        self.assertGreaterEqual(len(seen), 1000)


if __name__ == "__main__":
    unittest.main()
