"""A Twisted-like reactor whose loop lives in reactord.

Timers, sockets and child processes belong to the daemon; this module turns
their events back into the callbacks a Twisted user expects
(``call_later``, ``LoopingCall``, protocols and factories). Calls that must
answer something at once (``listen_tcp`` returns the bound port,
``spawn_process`` the pid) wait for their response; everything else is
pipelined, so handlers never wait on a round trip.
"""

import collections
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time

import zmq

from .client import Session
from .error import (AlreadyCalled, AlreadyCancelled, ConnectError,
                    ConnectionAborted, ConnectionDone, ConnectionLost,
                    ProcessDone, ProcessExitedAlready, ProcessTerminated,
                    ReactordError, ReactorNotRunning, SessionClosed)

log = logging.getLogger("reactord")

#: reactord's default stream water marks (PROTOCOL.md, streams).
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
#: Bytes per ``stream.write``: small enough to pipeline several under the
#: high-water mark, large enough to keep the request count low.
WRITE_CHUNK = 64 * 1024
#: Bytes a writer notifies without an answer before its next write goes as
#: a request, whose ``buffered`` says how much of them reactord still holds.
WRITE_SYNC = 16 * 1024

_default_reactor = None


def default_reactor():
    """Return the reactor made last (made now when there is none): what a
    ``LoopingCall`` without a ``clock`` uses, like Twisted's global one."""
    if _default_reactor is None:
        Reactor()
    return _default_reactor


def _ignore_gone(error, result=None):
    """Response callback for fire-and-forget calls whose target may have
    gone meanwhile (a stream closed, a timer fired): that is not an error."""
    if error is not None and error.code not in ("ENOENT", "EPIPE", "ESRCH"):
        log.warning("%s", error)


# -- addresses ----------------------------------------------------------------

class TCPAddress(collections.namedtuple("TCPAddress", "host port")):
    """A TCP or UDP address as reactord reports it."""

    type = "TCP"


class UNIXAddress(collections.namedtuple("UNIXAddress",
                                         "name abstract pid uid gid")):
    """A UNIX socket address: a path, or an abstract name; for peers of a
    listener also the peer process's credentials."""

    type = "UNIX"


def make_address(fields):
    """Build an address tuple from the protocol's address map."""
    fields = fields or {}
    if "port" in fields:
        return TCPAddress(fields.get("host"), fields.get("port"))
    if "abstract" in fields:
        return UNIXAddress(fields["abstract"], True, fields.get("pid"),
                           fields.get("uid"), fields.get("gid"))
    return UNIXAddress(fields.get("path"), False, fields.get("pid"),
                       fields.get("uid"), fields.get("gid"))


# -- timers -------------------------------------------------------------------

class DelayedCall:
    """A call scheduled with ``call_later`` (Twisted's ``DelayedCall``).

    The daemon's one-shot timer does the waiting. ``reset`` races with the
    timer firing; when the firing wins (the reset answers ENOENT, or the
    event arrives while the reset is still unanswered) a new timer is
    started for the time left, so the call still runs when it was asked to.
    """

    def __init__(self, reactor, seconds, f, args, kwargs):
        self._reactor = reactor
        self.func, self.args, self.kw = f, args, kwargs
        self.time = time.monotonic() + max(0.0, seconds)
        self.called = False
        self.cancelled = False
        self._handle = None
        self._asked = None
        self._resets = 0
        self._start()

    def _start(self):
        self._asked = self.time
        after = max(0.0, self.time - time.monotonic())
        self._reactor.session.call_async("timer.start", {"after": after},
                                         self._started)

    def _started(self, error, result):
        if error is not None:
            log.error("call_later failed: %s", error)
            self.cancelled = True
            return
        handle = result["handle"]
        self._handle = handle
        session = self._reactor.session
        session.add_handler(handle, functools.partial(self._fired, handle))
        if self.cancelled:
            self._cancel_timer()
        elif self.time != self._asked:
            self._send_reset()

    def _send_reset(self):
        handle = self._handle
        self._resets += 1
        self._asked = self.time
        after = max(0.0, self.time - time.monotonic())
        self._reactor.session.call_async(
            "timer.reset", {"handle": handle, "after": after},
            functools.partial(self._reset_done, handle))

    def _reset_done(self, handle, error, result):
        self._resets -= 1
        if error is None or self._handle != handle:
            return
        if error.code == "ENOENT":
            # The timer fired before the reset reached reactord; its event
            # is still on the way and must be ignored.
            self._handle = None
            if self.active():
                self._start()
        else:
            log.error("reset failed: %s", error)

    def _fired(self, handle, event):
        self._reactor.session.remove_handler(handle)
        if handle != self._handle or not self.active():
            return
        self._handle = None
        if self._resets:
            self._start()
            return
        self.called = True
        self.func(*self.args, **self.kw)

    def _cancel_timer(self):
        handle, self._handle = self._handle, None
        self._reactor.session.remove_handler(handle)
        self._reactor.session.call_async("timer.cancel", {"handle": handle},
                                         _ignore_gone)

    def get_time(self):
        """When the call is due, on the ``time.monotonic()`` clock."""
        return self.time

    def active(self):
        """True until the call has run or been cancelled."""
        return not (self.called or self.cancelled)

    def _check_active(self):
        if self.called:
            raise AlreadyCalled(self)
        if self.cancelled:
            raise AlreadyCancelled(self)

    def cancel(self):
        """Do not run the call (``AlreadyCalled``/``AlreadyCancelled`` when
        it is too late)."""
        self._check_active()
        self.cancelled = True
        if self._handle is not None:
            self._cancel_timer()

    def reset(self, seconds):
        """Run the call ``seconds`` from now instead."""
        self._check_active()
        self.time = time.monotonic() + max(0.0, seconds)
        if self._handle is not None:
            self._send_reset()

    def delay(self, seconds):
        """Run the call ``seconds`` later than planned."""
        self._check_active()
        self.reset(self.time + seconds - time.monotonic())

    def __repr__(self):
        state = ("called" if self.called else
                 "cancelled" if self.cancelled else "active")
        return "<DelayedCall %s %s>" % (
            getattr(self.func, "__qualname__", self.func), state)


class LoopingCall:
    """Call a function every ``interval`` seconds (Twisted's).

    One periodic daemon timer drives it. When calls were missed (the client
    was busy, or out of credit) reactord coalesces them: ``f`` runs once and
    ``ticks`` (or the argument of a ``with_count`` function) says how many
    intervals passed. As in Twisted, an exception in ``f`` is logged and
    stops the loop.
    """

    def __init__(self, f, *args, **kwargs):
        self.f, self.args, self.kw = f, args, kwargs
        self.clock = None
        self.running = False
        self.interval = None
        self.ticks = 0
        self.call_count = 0
        self._handle = None
        self._count = False
        self._generation = 0

    @classmethod
    def with_count(cls, count_callable):
        """A LoopingCall passing the number of intervals elapsed since the
        last call (1 when on time) to ``count_callable``."""
        loop = cls(count_callable)
        loop._count = True
        return loop

    def start(self, interval, now=True):
        """Start calling every ``interval`` seconds, first at once when
        ``now``. Returns ``self``."""
        if self.running:
            raise RuntimeError("this LoopingCall is already running")
        if interval <= 0:
            raise ValueError("interval must be > 0")
        if self.clock is None:
            self.clock = default_reactor()
        self.running = True
        self.interval = interval
        self._generation += 1
        self.clock.session.call_async(
            "timer.start",
            {"after": 0 if now else interval, "every": interval},
            functools.partial(self._started, self._generation))
        return self

    def _started(self, generation, error, result):
        if error is not None:
            log.error("LoopingCall failed to start: %s", error)
            if generation == self._generation:
                self.running = False
            return
        handle = result["handle"]
        session = self.clock.session
        if generation != self._generation or not self.running:
            session.call_async("timer.cancel", {"handle": handle},
                               _ignore_gone)
            return
        self._handle = handle
        session.add_handler(handle, functools.partial(self._fired, handle))

    def _fired(self, handle, event):
        if handle != self._handle or not self.running:
            return
        self.ticks = event.get("ticks", 1)
        self.call_count += 1
        try:
            if self._count:
                self.f(self.ticks)
            else:
                self.f(*self.args, **self.kw)
        except Exception:
            log.exception("LoopingCall function raised; loop stopped")
            if self.running:
                self.stop()

    def stop(self):
        """Stop the loop."""
        if not self.running:
            raise RuntimeError("this LoopingCall is not running")
        self.running = False
        handle, self._handle = self._handle, None
        if handle is not None:
            self.clock.session.remove_handler(handle)
            self.clock.session.call_async("timer.cancel", {"handle": handle},
                                          _ignore_gone)

    def __repr__(self):
        return "<LoopingCall %s every %s>" % (
            getattr(self.f, "__qualname__", self.f), self.interval)


# -- writing ------------------------------------------------------------------

class _WriteBudget:
    """A session's ``max_write_buffer`` (from hello), shared by its writers.

    reactord refuses a write (EAGAIN) that would take the bytes buffered for
    the whole session past that limit. The writers count here what reactord
    may hold for them (each one's last reported ``buffered`` plus what is
    still unanswered: an upper bound), and pipeline a write only when it
    fits, so that no pipelined write is refused for it.
    """

    def __init__(self, session):
        limits = (getattr(session, "info", None) or {}).get("limits") or {}
        self.limit = limits.get("max_write_buffer")  # None: not told
        self.used = 0

    def fits(self, size):
        return self.limit is None or self.used + size <= self.limit


class _Writer:
    """Feed bytes to a daemon-side write buffer without losing their order.

    Data is buffered here and sent as pipelined ``stream.write`` (or
    ``process.write``) requests while the daemon's buffer, as last reported
    plus what is still unanswered, stays under the high-water mark, and the
    session's writers together stay within its ``max_write_buffer``: such a
    write cannot meet EAGAIN, since the daemon's buffers only shrink between
    our writes. Otherwise a single probe write goes alone; if it meets EAGAIN
    nothing else is in flight behind it to overtake it, so it goes back to
    the head of the buffer until ``*.drained`` arrives. (Should writes in
    flight meet EAGAIN all the same, reactord refuses each later write of
    the stream too, until ``*.drained``: they go back in the order they were
    sent.)

    Since such a write cannot be refused, it needs no answer: most go as
    notifications, which reactord does not answer, so an echo costs one
    message each way instead of two. Notified bytes count as buffered in
    the daemon until an answer accounts for them: a write that would take
    the bytes notified since the last request to ``WRITE_SYNC`` goes as a
    request, whose ``buffered`` covers everything sent before it. (So large
    writes all go as requests, and each answer frees room as it comes: had
    they been notified behind a request, they would count as buffered until
    the next answer, and a bulk writer would stall far below the high-water
    mark.) A notified
    write that fails all the same (its stream has just closed) comes back
    as a ``session.error``, and the ``stream.closed`` that follows ends the
    writer as a failed request would.
    """

    def __init__(self, session, method, params, on_change, budget=None):
        self.session = session
        self.method = method
        self.params = params
        self.on_change = on_change
        self.budget = budget if budget is not None else _WriteBudget(session)
        self.high_water = HIGH_WATER
        self.low_water = LOW_WATER
        self.chunks = collections.deque()
        self.local = 0
        self.inflight = 0
        self.remote = 0
        self.unconfirmed = 0  # notified, not counted by an answer yet
        self.claimed = 0  # ... of which requests in flight will count
        self.probing = False
        self.blocked = False
        self.requeued = 0
        self.refused_for_room = False
        self.failed = None

    def write(self, data):
        if self.failed is not None or not data:
            return
        if type(data) is not bytes:
            data = bytes(data)  # a bytearray may change once queued here
        size = len(data)
        # The usual case, an echo's: nothing waits here, the bytes fit and go
        # as a notification at once (what pump() would do, without queueing).
        if (not self.chunks and size <= WRITE_CHUNK and not self.blocked
                and not self.probing
                and self.remote + self.inflight + self.unconfirmed
                < self.high_water
                and self.unconfirmed - self.claimed + size < WRITE_SYNC
                and self.budget.fits(size)):
            self.budget.used += size
            self.unconfirmed += size
            self.session._notify(self.method, {**self.params, "data": data})
            self.on_change()
            return
        if size <= WRITE_CHUNK:
            self.chunks.append(data)
        else:
            for i in range(0, size, WRITE_CHUNK):
                self.chunks.append(data[i:i + WRITE_CHUNK])
        self.local += size
        self.pump()

    def idle(self):
        """True when every byte has been accepted by the daemon."""
        return not self.chunks and not self.probing and not self.blocked

    def full(self):
        """True when a producer writing here should pause."""
        return self.blocked or self.local >= self.high_water

    def _set_remote(self, remote):
        self.budget.used += remote - self.remote
        self.remote = remote

    def pump(self):
        chunks, budget = self.chunks, self.budget
        while chunks and not self.blocked and not self.probing:
            size = len(chunks[0])
            if (self.remote + self.inflight + self.unconfirmed
                    < self.high_water and budget.fits(size)):
                probe = False
            elif self.inflight == 0:
                probe = True
            else:
                break
            chunk = chunks.popleft()
            self.local -= size
            budget.used += size
            # Our params hold no None: skip the session's cleaning.
            params = {**self.params, "data": chunk}
            notified = self.unconfirmed - self.claimed
            if not probe and notified + size < WRITE_SYNC:
                self.unconfirmed += size
                self.session._notify(self.method, params)
                continue
            self.inflight += size
            self.probing = probe
            # The answer counts the bytes notified since the last request.
            self.claimed += notified
            self.session._request(
                self.method, params,
                functools.partial(self._answered, chunk, notified))
        self.on_change()

    def _answered(self, chunk, notified, error, result):
        self.inflight -= len(chunk)
        self.budget.used -= len(chunk)
        self.probing = False
        if self.failed is not None:
            self.pump()  # nothing is left to send; it tells on_change
            return
        # What was notified before this write is in the daemon's count by
        # now: the answer's buffered covers it; after a refusal it stays
        # counted (an upper bound) until *.drained.
        self.unconfirmed -= notified
        self.claimed -= notified
        self.remote += notified
        if error is None:
            self._set_remote(result.get("buffered", 0))
        elif error.code == "EAGAIN":
            self.chunks.insert(self.requeued, chunk)
            self.requeued += 1
            self.local += len(chunk)
            self.blocked = True
            # Refused for the session's limit, not the stream's mark: the
            # drained that follows says nothing of this buffer's own size.
            if "max_write_buffer" in (error.message or ""):
                self.refused_for_room = True
        else:
            self.fail(error)
            return
        if self.chunks:
            self.pump()
        else:
            self.on_change()  # an echo's usual case: pump() would only do this

    def drained(self):
        """The daemon's buffer fell to the low-water mark, or the session's
        buffers have room again."""
        self.blocked = False
        self.requeued = 0
        if not self.refused_for_room:
            self._set_remote(min(self.remote, self.low_water))
        self.refused_for_room = False
        self.pump()

    def fail(self, error):
        """Writing is over (the stream or stdin is gone): drop the rest."""
        if self.failed is None and error.code not in ("ENOENT", "EPIPE",
                                                     "ECANCELED"):
            log.warning("%s failed: %s", self.method, error)
        self.failed = error
        self._set_remote(0)
        self.budget.used -= self.unconfirmed
        self.unconfirmed = self.claimed = 0
        self.chunks.clear()
        self.local = 0
        self.blocked = False
        self.on_change()


# -- streams ------------------------------------------------------------------

class StreamTransport:
    """The transport of a TCP or UNIX connection (Twisted's ``ITransport``,
    ``IProducer`` and ``IConsumer``)."""

    def __init__(self, reactor, handle, peer=None, host=None):
        self.reactor = reactor
        self.handle = handle
        self.peer = peer
        self.host = host
        self.protocol = None
        self.connected = False
        self.disconnecting = False
        self.closed = False
        self.producer = None
        self.streaming = False
        self._producer_paused = False
        self._close_sent = False
        self._writer = _Writer(reactor.session, "stream.write",
                               {"handle": handle}, self._writer_changed,
                               reactor._write_budget)

    # writing
    def write(self, data):
        """Send ``data``: buffered here, then handed to reactord as fast as
        its write buffer allows, in order."""
        if self.closed or self.disconnecting:
            return
        self._writer.write(data)

    def write_sequence(self, seq):
        """Write each item of ``seq``."""
        self.write(b"".join(seq))

    def get_write_buffer_size(self):
        """Bytes not yet accepted by reactord."""
        return self._writer.local + self._writer.inflight

    def set_water_marks(self, high=None, low=None):
        """Change reactord's write-buffer marks for this stream."""
        result = self.reactor.session.call("stream.set", handle=self.handle,
                                           high_water=high, low_water=low)
        self._writer.high_water = result.get("high_water", HIGH_WATER)
        self._writer.low_water = result.get("low_water", LOW_WATER)

    def set_tcp_nodelay(self, enabled):
        """Set TCP_NODELAY."""
        self._call("stream.set", nodelay=bool(enabled))

    def set_tcp_keepalive(self, enabled):
        """Set SO_KEEPALIVE."""
        self._call("stream.set", keepalive=bool(enabled))

    def _call(self, method, **params):
        params["handle"] = self.handle
        self.reactor.session.call_async(method, params, _ignore_gone)

    def _writer_changed(self):
        producer = self.producer
        if producer is not None:
            if self.streaming:
                if self._writer.full() and not self._producer_paused:
                    self._producer_paused = True
                    producer.pause_producing()
                elif (self._producer_paused and self._writer.idle()
                      and not self._writer.failed):
                    self._producer_paused = False
                    producer.resume_producing()
            elif self._writer.idle() and not self._writer.failed:
                self.reactor.call_soon(self._pull)
        if (self.disconnecting and not self._close_sent
                and (self._writer.idle() or self._writer.failed)):
            self._close_sent = True
            self._call("stream.close")

    def _pull(self):
        if (self.producer is not None and not self.streaming
                and self._writer.idle() and not self.closed):
            self.producer.resume_producing()

    # producer/consumer
    def register_producer(self, producer, streaming):
        """Let ``producer`` feed this transport: a streaming (push) producer
        is paused while the buffers are full and resumed once reactord has
        drained them (``stream.drained``); a pull producer is asked for more
        each time everything has been accepted."""
        if self.producer is not None:
            raise RuntimeError("a producer is already registered")
        self.producer = producer
        self.streaming = bool(streaming)
        self._producer_paused = False
        if not self.streaming:
            self.reactor.call_soon(self._pull)
        else:
            self._writer_changed()

    def unregister_producer(self):
        """Forget the producer."""
        self.producer = None

    def pause_producing(self):
        """Stop reading from the connection (the peer feels back-pressure)."""
        self._call("stream.pause")

    def resume_producing(self):
        """Start reading again."""
        self._call("stream.resume")

    def stop_producing(self):
        """Stop for good: close the connection."""
        self.lose_connection()

    # ending
    def lose_connection(self):
        """Close once everything written so far has been sent."""
        if self.closed or self.disconnecting:
            return
        self.disconnecting = True
        self._writer_changed()

    def abort_connection(self):
        """Drop unsent data and reset the connection at once."""
        if self.closed:
            return
        self.disconnecting = True
        self._close_sent = True
        self._writer.fail(ReactordError("ECANCELED", "aborted"))
        self._call("stream.abort")

    def half_close(self):
        """Shut the write side once written data is sent; reading goes on."""
        self._call("stream.shutdown")

    def get_peer(self):
        """The remote address."""
        return self.peer

    def get_host(self):
        """The local address."""
        return self.host

    # events
    def _event(self, event):
        name = event.name
        if name == "stream.data":
            if self.protocol is not None:
                self.protocol.data_received(event.payload["data"])
        elif name == "stream.drained":
            self._writer.drained()
        elif name == "stream.eof":
            keep = False
            if self.protocol is not None:
                keep = self.protocol.eof_received()
            if not keep:
                self.lose_connection()
        elif name == "stream.closed":
            self._closed(event)

    def _closed(self, event):
        self.closed = True
        self.connected = False
        self.reactor.session.remove_handler(self.handle)
        self._writer.fail(ReactordError("ENOENT", "stream closed"))
        if self.producer is not None:
            producer, self.producer = self.producer, None
            stop = getattr(producer, "stop_producing", None)
            if stop is not None:
                Session._guard(stop)
        reason = event.get("reason")
        if reason in ("closed", "done"):
            failure = ConnectionDone(reason)
        elif reason == "aborted":
            failure = ConnectionAborted(reason, event.get("code"))
        else:
            failure = ConnectionLost(reason, event.get("code"))
        if self.protocol is not None:
            self.protocol.connected = False
            self.protocol.connection_lost(failure)
        return failure


class Connector:
    """An outgoing connection attempt (Twisted's ``IConnector``)."""

    def __init__(self, reactor, factory, method, params, destination):
        self.reactor = reactor
        self.factory = factory
        self.method = method
        self.params = params
        self.destination = destination
        self.state = "disconnected"
        self.transport = None
        self._handle = None

    def connect(self):
        """Start (or restart) the connection attempt."""
        self.state = "connecting"
        self.reactor.session.call_async(self.method, self.params,
                                        self._answered)
        starter = getattr(self.factory, "started_connecting", None)
        if starter is not None:
            starter(self)

    def _answered(self, error, result):
        if error is not None:
            self._failed(ConnectError(error.code, error.message))
            return
        self._handle = result["handle"]
        if self.state != "connecting":
            self.reactor.session.call_async(
                "stream.abort", {"handle": self._handle}, _ignore_gone)
            return
        self.reactor.session.add_handler(self._handle, self._event)

    def _failed(self, reason):
        self.state = "disconnected"
        failed = getattr(self.factory, "client_connection_failed", None)
        if failed is not None:
            failed(self, reason)

    def _event(self, event):
        if self.transport is not None:
            self.transport._event(event)
            if event.name == "stream.closed":
                self.state = "disconnected"
                lost = getattr(self.factory, "client_connection_lost", None)
                if lost is not None:
                    reason = (ConnectionDone(event.get("reason"))
                              if event.get("reason") in ("closed", "done")
                              else ConnectionLost(event.get("reason"),
                                                  event.get("code")))
                    lost(self, reason)
            return
        if event.name == "stream.connected":
            peer = make_address(event.get("peer"))
            transport = StreamTransport(self.reactor, self._handle, peer,
                                        make_address(event.get("local")))
            protocol = self.factory.build_protocol(peer)
            if protocol is None:
                self.reactor.session.call_async(
                    "stream.abort", {"handle": self._handle}, _ignore_gone)
                return
            self.transport = transport
            transport.protocol = protocol
            transport.connected = True
            self.state = "connected"
            protocol.make_connection(transport)
        elif event.name == "stream.closed":
            self.reactor.session.remove_handler(self._handle)
            code = event.get("code") or event.get("reason")
            self._failed(ConnectError(code, "cannot connect to %s"
                                      % (self.destination,)))

    def stop_connecting(self):
        """Give up a connection attempt still in progress."""
        if self.state != "connecting":
            raise RuntimeError("not connecting")
        self.state = "disconnected"
        if self._handle is not None:
            self.reactor.session.call_async(
                "stream.abort", {"handle": self._handle}, _ignore_gone)

    def disconnect(self):
        """Stop connecting, or close the connection."""
        if self.state == "connecting":
            self.stop_connecting()
        elif self.transport is not None:
            self.transport.lose_connection()

    def get_destination(self):
        """Where this connector connects to."""
        return self.destination


class ListeningPort:
    """A listener (Twisted's ``IListeningPort``)."""

    def __init__(self, reactor, handle, factory, address):
        self.reactor = reactor
        self.handle = handle
        self.factory = factory
        self.address = address
        self.listening = True

    def get_host(self):
        """The bound address (with the port picked when 0 was asked)."""
        return self.address

    @property
    def port(self):
        """The bound TCP port."""
        return getattr(self.address, "port", None)

    def stop_listening(self):
        """Close the listener; accepted connections stay open."""
        if not self.listening:
            return
        self.listening = False
        self.reactor.session.remove_handler(self.handle)
        self.reactor.session.call_async("handle.close",
                                        {"handle": self.handle}, _ignore_gone)
        self.factory.stop_factory()

    def _event(self, event):
        if event.name != "listener.accepted":
            return
        handle = event["stream"]
        peer = make_address(event.get("peer"))
        transport = StreamTransport(self.reactor, handle, peer,
                                    make_address(event.get("local")))
        protocol = self.factory.build_protocol(peer)
        if protocol is None:
            self.reactor.session.call_async("stream.abort",
                                            {"handle": handle}, _ignore_gone)
            return
        transport.protocol = protocol
        transport.connected = True
        self.reactor.session.add_handler(handle, transport._event)
        protocol.make_connection(transport)


# -- datagrams ----------------------------------------------------------------

class DatagramTransport:
    """A bound UDP socket."""

    def __init__(self, reactor, handle, protocol, address):
        self.reactor = reactor
        self.handle = handle
        self.protocol = protocol
        self.address = address
        self.listening = True

    def write(self, data, addr):
        """Send one datagram to ``addr``, a ``(host, port)`` with a numeric
        host."""
        host, port = addr[0], addr[1]
        self.reactor.session.call_async(
            "udp.send", {"handle": self.handle, "data": bytes(data),
                         "host": host, "port": port}, _ignore_gone)

    def join_group(self, group, interface=None):
        """Join a multicast group (raises ``ReactordError`` on failure)."""
        self.reactor.session.call("udp.join", handle=self.handle,
                                  group=group, interface=interface or None)

    def leave_group(self, group, interface=None):
        """Leave a multicast group."""
        self.reactor.session.call("udp.leave", handle=self.handle,
                                  group=group, interface=interface or None)

    def get_host(self):
        """The bound address."""
        return self.address

    def stop_listening(self):
        """Close the socket."""
        if not self.listening:
            return
        self.listening = False
        self.reactor.session.remove_handler(self.handle)
        self.reactor.session.call_async("handle.close",
                                        {"handle": self.handle}, _ignore_gone)
        self.protocol.stop_protocol()

    lose_connection = stop_listening

    def _event(self, event):
        if event.name == "udp.datagram":
            self.protocol.datagram_received(
                event["data"], (event.get("host"), event.get("port")))


# -- processes ----------------------------------------------------------------

class ProcessTransport:
    """A child process (Twisted's ``IProcessTransport``)."""

    def __init__(self, reactor, handle, pid, protocol):
        self.reactor = reactor
        self.handle = handle
        self.pid = pid
        self.protocol = protocol
        self.status = None
        self.exited = False
        self._stdin_closing = False
        self._stdin_close_sent = False
        self._writer = _Writer(reactor.session, "process.write",
                               {"handle": handle}, self._writer_changed,
                               reactor._write_budget)

    def write(self, data):
        """Write to the child's stdin, in order, under back-pressure."""
        if not self._stdin_closing:
            self._writer.write(data)

    def _writer_changed(self):
        if (self._stdin_closing and not self._stdin_close_sent
                and (self._writer.idle() or self._writer.failed)):
            self._stdin_close_sent = True
            self.reactor.session.call_async(
                "process.close_stdin", {"handle": self.handle}, _ignore_gone)

    def close_stdin(self):
        """Close the child's stdin once everything written has been sent."""
        self._stdin_closing = True
        self._writer_changed()

    lose_connection = close_stdin

    def signal_process(self, sig):
        """Send a signal: a name (``"TERM"``, ``"KILL"``) or a number."""
        if self.exited:
            raise ProcessExitedAlready()
        if isinstance(sig, signal.Signals):
            sig = int(sig)
        self.reactor.session.call_async(
            "process.signal", {"handle": self.handle, "signal": sig},
            _ignore_gone)

    def stop(self, sig=None, timeout=None):
        """Stop the child: ``sig`` (default TERM), then KILL after
        ``timeout``."""
        self.reactor.session.call_async(
            "process.stop", {"handle": self.handle, "signal": sig,
                             "timeout": timeout}, _ignore_gone)

    def _event(self, event):
        name = event.name
        protocol = self.protocol
        if name == "process.output":
            protocol.child_data_received(event.get("fd"), event["data"])
        elif name == "process.drained":
            self._writer.drained()
        elif name == "process.started":
            self.pid = event.get("pid", self.pid)
            self.exited = False
        elif name == "process.exited":
            self.exited = True
            self._writer.fail(ReactordError("EPIPE", "process exited"))
            if event.get("signal") is not None:
                self.status = ProcessTerminated(None, event["signal"],
                                                event.get("core", False),
                                                event.get("pid"))
            elif event.get("code", 0) == 0:
                self.status = ProcessDone(event.get("pid"))
            else:
                self.status = ProcessTerminated(event["code"], None, False,
                                                event.get("pid"))
            protocol.process_exited(self.status)
        elif name == "process.ended" and event.get("final", True):
            self.reactor.session.remove_handler(self.handle)
            protocol.process_ended(self.status or ProcessDone(self.pid))
        else:
            protocol.process_event(event)


# -- the reactor --------------------------------------------------------------

class Reactor:
    """The reactor: run callbacks for timers, sockets and processes that
    reactord owns.

    ``endpoint`` defaults to ``$REACTORD_ENDPOINT``, then PROTOCOL.md's
    default. The session is opened at once, so a missing daemon is an error
    here (``ConnectionError``) rather than later. For a ``tcp://`` reactord,
    ``server_key`` names its public key file and ``key`` this client's
    ``NAME.key`` (defaults: ``$REACTORD_SERVER_KEY``, ``$REACTORD_KEY``).
    """

    def __init__(self, endpoint=None, *, name=None, lease=None, window=None,
                 timeout=10.0, server_key=None, key=None):
        global _default_reactor
        self.session = Session(endpoint, name=name or _program_name(),
                               lease=lease, window=window, timeout=timeout,
                               server_key=server_key, key=key)
        # What the streams and processes may leave buffered in reactord.
        self._write_budget = _WriteBudget(self.session)
        # Writes go as notifications (_Writer): one to a stream or stdin
        # that has just closed fails as quietly as a refused request would.
        self.session.quiet_errors.update(
            (method, code) for method in ("stream.write", "process.write")
            for code in ("ENOENT", "EPIPE"))
        self.session.on_closed = self._session_closed
        self.running = False
        self._stop = False
        self._when_running = []
        self._soon = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poller = zmq.Poller()
        self._poller.register(self.session.socket, zmq.POLLIN)
        self._poller.register(self._wake_r.fileno(), zmq.POLLIN)
        _default_reactor = self

    # -- time ----------------------------------------------------------------

    @staticmethod
    def seconds():
        """The clock the reactor's delayed calls use."""
        return time.monotonic()

    def call_later(self, seconds, f, *args, **kwargs):
        """Call ``f(*args, **kwargs)`` in ``seconds``; returns a
        ``DelayedCall``."""
        return DelayedCall(self, seconds, f, args, kwargs)

    def call_soon(self, f, *args, **kwargs):
        """Call ``f`` from the loop as soon as possible, without a timer."""
        self._soon.append((f, args, kwargs))
        self._wake()

    def looping_call(self, f, *args, **kwargs):
        """A ``LoopingCall`` driven by this reactor."""
        loop = LoopingCall(f, *args, **kwargs)
        loop.clock = self
        return loop

    LoopingCall = looping_call

    # -- running -------------------------------------------------------------

    def call_when_running(self, f, *args, **kwargs):
        """Call ``f`` once ``run()`` has started (at once if it has)."""
        if self.running:
            self.call_soon(f, *args, **kwargs)
        else:
            self._when_running.append((f, args, kwargs))

    def run(self, install_signal_handlers=True):
        """Run the loop until ``stop()``.

        SIGINT and SIGTERM stop it (when called from the main thread), as
        in Twisted. Raises ``SessionClosed`` if reactord ends the session.
        """
        self.session._check_open()
        self.running = True
        self._stop = False
        restore = self._install_signals() if install_signal_handlers else None
        try:
            for f, args, kwargs in self._when_running:
                self._soon.append((f, args, kwargs))
            self._when_running = []
            self._loop()
        finally:
            self.running = False
            if restore:
                restore()
        if self.session.closed is not None and not self._stop:
            raise SessionClosed(self.session.closed)

    def _loop(self):
        session = self.session
        stopping = self._stopping
        while not self._stop and session.closed is None:
            self._run_soon()
            session.dispatch(stopping)
            if self._stop or session.closed is not None:
                break
            if self._soon:
                continue
            timeout = session.keepalive_in()
            ready = dict(self._poller.poll(int(timeout * 1000) + 1))
            if self._wake_r.fileno() in ready:
                self._drain_wake()
            if session.socket in ready or session.socket.getsockopt(
                    zmq.EVENTS) & zmq.POLLIN:
                session.receive()
            session.keepalive()
        session.flush()

    def _stopping(self):
        return self._stop

    def _run_soon(self):
        soon = self._soon
        for _ in range(len(soon)):
            f, args, kwargs = soon.popleft()
            Session._guard(f, *args, **kwargs)
            if self._stop:
                break
        self.session.flush()

    def stop(self):
        """Stop the loop; ``run()`` returns once the current callback is
        done."""
        if not self.running:
            raise ReactorNotRunning("the reactor is not running")
        self._stop = True
        self._wake()

    def _wake(self):
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    def _drain_wake(self):
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self.running:
                self._stop = True

        old = {s: signal.signal(s, handler)
               for s in (signal.SIGINT, signal.SIGTERM)}
        old_fd = signal.set_wakeup_fd(self._wake_w.fileno(),
                                      warn_on_full_buffer=False)

        def restore():
            signal.set_wakeup_fd(old_fd)
            for s, h in old.items():
                signal.signal(s, h)
        return restore

    def _session_closed(self, reason):
        """reactord ended the session: the loop ends and ``run()`` raises."""
        self._wake()

    def close(self):
        """End the session (everything it owns is released) and free the
        socket."""
        self.session.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw calls -----------------------------------------------------------

    def call(self, method, **params):
        """Make any protocol request and wait for its result."""
        return self.session.call(method, **params)

    # -- streams -------------------------------------------------------------

    def listen_tcp(self, port, factory, backlog=None, interface=None,
                   name=None, reuse_port=None):
        """Listen on TCP ``port`` (0: a free one) of ``interface`` (default:
        every address, IPv6 and IPv4). With ``name``, other sessions may
        share the listener."""
        result = self.session.call("tcp.listen", port=port,
                                   host=interface or None, backlog=backlog,
                                   name=name, reuse_port=reuse_port)
        return self._listening(result, factory)

    def listen_unix(self, path, factory, backlog=None, mode=None,
                    abstract=None, name=None):
        """Listen on a UNIX socket at ``path`` (or an ``abstract`` name)."""
        result = self.session.call("unix.listen", path=path,
                                   abstract=abstract, backlog=backlog,
                                   mode=mode, name=name)
        return self._listening(result, factory)

    def join_listener(self, name, factory):
        """Share the listener another session made with ``name``."""
        return self._listening(self.session.call("listener.join", name=name),
                               factory)

    def adopt_tcp(self, name, factory, shared=None):
        """Serve the TCP socket the service manager passed to reactord as
        ``name`` (its ``FileDescriptorName=``), like ``listen_tcp`` without
        binding. ``stop_listening`` gives the socket back to reactord, still
        open, for the next adopter. With ``shared``, other sessions may
        ``join_listener(name)``. ``reactor.info``'s ``activated`` lists the
        names."""
        return self._listening(
            self.session.call("tcp.adopt", name=name, shared=shared), factory)

    def adopt_unix(self, name, factory, shared=None):
        """Serve an activated UNIX socket, as ``adopt_tcp`` does."""
        return self._listening(
            self.session.call("unix.adopt", name=name, shared=shared), factory)

    def _listening(self, result, factory):
        fields = {k: v for k, v in result.items() if k != "handle"}
        port = ListeningPort(self, result["handle"], factory,
                             make_address(fields))
        factory.start_factory()
        self.session.add_handler(port.handle, port._event)
        return port

    def connect_tcp(self, host, port, factory, timeout=30, bind_address=None):
        """Connect to ``host:port`` (a name is resolved by reactord)."""
        bind = None
        if bind_address is not None:
            bind = {"host": bind_address[0] or None,
                    "port": bind_address[1] if len(bind_address) > 1
                    else None}
        return self._connect("tcp.connect",
                             {"host": host, "port": port, "timeout": timeout,
                              "bind": bind}, factory, TCPAddress(host, port))

    def connect_unix(self, path, factory, abstract=None):
        """Connect to a UNIX socket at ``path`` (or an ``abstract`` name)."""
        return self._connect("unix.connect",
                             {"path": path, "abstract": abstract}, factory,
                             UNIXAddress(path or abstract, bool(abstract),
                                         None, None, None))

    def _connect(self, method, params, factory, destination):
        factory.start_factory()
        connector = Connector(self, factory, method, params, destination)
        connector.connect()
        return connector

    # -- datagrams -----------------------------------------------------------

    def listen_udp(self, port, protocol, interface=None, reuse_port=None,
                   broadcast=None):
        """Bind a UDP socket and deliver its datagrams to ``protocol``."""
        result = self.session.call("udp.bind", port=port,
                                   host=interface or None,
                                   reuse_port=reuse_port, broadcast=broadcast)
        transport = DatagramTransport(
            self, result["handle"], protocol,
            TCPAddress(result.get("host"), result.get("port")))
        self.session.add_handler(transport.handle, transport._event)
        protocol.make_connection(transport)
        return transport

    # -- processes -----------------------------------------------------------

    def spawn_process(self, protocol, argv, env=None, path=None, uid=None,
                      gid=None, use_pty=False, child_fds=None, **options):
        """Start ``argv`` (no shell) and connect it to ``protocol``.

        ``env=None`` gives the child this program's environment, as Twisted
        does; pass a dict to say exactly what it gets. ``path`` is its
        working directory. ``child_fds`` maps child fd numbers to
        ``"pipe"``/``"null"``/``"inherit"`` for 0-2, or to transports and
        listening ports whose sockets the child receives. Other keywords
        are ``process.spawn`` params (``restart``, ``instances``, ...).
        Raises ``ReactordError`` when the program cannot be started.
        """
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of arguments")
        params = {"argv": [os.fsdecode(a) for a in argv],
                  "env": dict(os.environ) if env is None else dict(env),
                  "cwd": os.fsdecode(path) if path is not None else None,
                  "uid": uid, "gid": gid}
        if use_pty:
            params["pty"] = True
        for fd, what in (child_fds or {}).items():
            if int(fd) in (0, 1, 2) and isinstance(what, str):
                params[("stdin", "stdout", "stderr")[int(fd)]] = what
            else:
                params.setdefault("fds", {})[str(fd)] = getattr(
                    what, "handle", what)
        params.update(options)
        result = self.session.call("process.spawn", **params)
        pids = result.get("pids") or [None]
        transport = ProcessTransport(self, result["handle"], pids[0],
                                     protocol)
        self.session.add_handler(transport.handle, transport._event)
        protocol.make_connection(transport)
        return transport


def _program_name():
    """Name the session after the program, for ``reactor.info``."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else None
