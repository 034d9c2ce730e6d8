"""The connection to reactord: session, calls, credit, lease and events.

Everything here follows PROTOCOL.md and nothing else. A ``Session`` owns one
ZeroMQ DEALER socket. It is deliberately loop-agnostic: the synchronous
reactor (``reactor.py``) drives it with ``zmq.Poller``; the asyncio form
(``aio.py``) has its own driver but shares the codec and rules below.

Rules the session keeps, and why:

- Messages queued while one incoming frame is dispatched go out as one
  outgoing frame (msgpack-rpc allows back-to-back messages), so a burst of
  handler calls costs one ZeroMQ message, not one each.
- Credit is returned with ``session.ack`` notifications a quarter window at a
  time: reactord stops producing events once the window is in flight, so
  acking too rarely stalls us and acking every frame wastes messages.
- Event frames hold only events (§2), so a frame is acked by its size once
  every event in it has been dispatched.
- While idle, ``reactor.ping`` is sent every ``lease / 3`` seconds so the
  lease never expires under a quiet client.
"""

import collections
import logging
import os
import time

import msgpack
import zmq

from .error import ReactordError, SessionClosed

log = logging.getLogger("reactord")

PROTOCOL_VERSION = 1

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2

#: Used for splitting outgoing frames until hello has told us the real limit.
DEFAULT_MAX_FRAME = 1024 * 1024


def default_endpoint():
    """Return the endpoint a client uses when none is given (§1)."""
    endpoint = os.environ.get("REACTORD_ENDPOINT")
    if endpoint:
        return endpoint
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return "ipc://%s/reactord/bus" % runtime
    if os.geteuid() == 0:
        return "ipc:///run/reactord/bus"
    return "ipc:///tmp/reactord-%d/bus" % os.getuid()


def pack(message):
    """Encode one msgpack-rpc message; ``bytes`` become ``bin``."""
    return msgpack.packb(message, use_bin_type=True)


def unpacker():
    """Return a frame decoder (``str`` as text, ``bin`` as bytes)."""
    return msgpack.Unpacker(raw=False, strict_map_key=False)


def clean_params(params):
    """Drop ``None`` values: nil counts as absent anyway, so save the bytes."""
    return {k: v for k, v in params.items() if v is not None}


def request(msgid, method, params):
    """Build a request message; no params are sent as ``[]``."""
    return [REQUEST, msgid, method, [params] if params else []]


def notification(method, params):
    """Build a notification message (a method reactord answers not at all)."""
    return [NOTIFICATION, method, [params] if params else []]


def error_of(error, method=None):
    """Turn a response's error map into a ``ReactordError``."""
    if isinstance(error, dict):
        return ReactordError(error.get("code", "EIO"),
                             error.get("message", ""), method)
    return ReactordError("EIO", repr(error), method)


def split_frames(messages, max_frame):
    """Group encoded messages into frames of at most ``max_frame`` bytes.

    A single message larger than the limit still goes alone, so that
    reactord answers it with E2BIG instead of the client dropping it.
    """
    frame, size = [], 0
    for message in messages:
        if frame and size + len(message) > max_frame:
            yield b"".join(frame)
            frame, size = [], 0
        frame.append(message)
        size += len(message)
    if frame:
        yield b"".join(frame)


class Event:
    """One event from reactord: its ``name``, ``payload`` and encoded size."""

    __slots__ = ("name", "payload", "size")

    def __init__(self, name, payload, size=0):
        self.name = name
        self.payload = payload
        self.size = size

    @property
    def handle(self):
        """The handle the event concerns, or ``None`` for session events."""
        return self.payload.get("handle")

    def __getitem__(self, key):
        return self.payload[key]

    def get(self, key, default=None):
        """Return a payload field, or ``default`` when it is absent."""
        return self.payload.get(key, default)

    def __repr__(self):
        return "Event(%r, %r)" % (self.name, self.payload)


def decode_frame(frame):
    """Decode every message of a frame; return ``(message, size)`` pairs.

    Each frame gets its own decoder: a frame is a complete msgpack stream,
    and a truncated one must not corrupt the next.
    """
    decoder = unpacker()
    decoder.feed(frame)
    out = []
    start = 0
    try:
        for message in decoder:
            end = decoder.tell()
            out.append((message, end - start))
            start = end
    except (ValueError, msgpack.UnpackException) as e:
        log.warning("undecodable frame from reactord: %s", e)
    return out


def parse_event(message, size):
    """Return an ``Event`` for a notification message, else ``None``."""
    if len(message) != 3 or not isinstance(message[1], str):
        return None
    payload = message[2][0] if message[2] else {}
    if not isinstance(payload, dict):
        payload = {}
    return Event(message[1], payload, size)


class Credit:
    """Count handled event bytes and say when to return them with an ack."""

    def __init__(self, window):
        self.window = window
        self.unacked = 0

    def handled(self, nbytes):
        """Record handled bytes; return the amount to ack now, or 0."""
        self.unacked += nbytes
        if self.unacked >= max(1, self.window // 4):
            nbytes, self.unacked = self.unacked, 0
            return nbytes
        return 0


class Session:
    """A synchronous session with reactord over one DEALER socket.

    ``call()`` blocks for its response; ``call_async()`` and ``notify()``
    queue a message that ``flush()`` sends. Frames that arrive while a
    ``call()`` waits are kept in order and dispatched later by
    ``dispatch()``, so a blocking call never runs handlers re-entrantly.
    """

    def __init__(self, endpoint=None, *, name=None, lease=None, window=None,
                 timeout=10.0, context=None):
        self.endpoint = endpoint or default_endpoint()
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 1000)
        self._socket.connect(self.endpoint)
        self._next_msgid = 1
        self._pending = {}
        self._outbox = []
        # Received but not yet dispatched: messages, and ints marking the
        # end of a frame with the bytes to credit once it is dispatched.
        self._backlog = collections.deque()
        self._handlers = {}
        self._last_send = time.monotonic()
        self.on_event = None
        self.on_closed = None
        self.closed = None
        self.max_frame = DEFAULT_MAX_FRAME
        try:
            hello = self.call("session.hello", protocol=PROTOCOL_VERSION,
                              name=name, lease=lease, window=window)
        except TimeoutError:
            self._socket.close(0)
            raise ConnectionError("no reactord answers at %s" % self.endpoint)
        self.info = hello
        self.id = hello.get("session")
        self.lease = float(hello.get("lease", 10.0))
        self.credit = Credit(int(hello.get("window", 1 << 20)))
        limits = hello.get("limits") or {}
        self.max_frame = int(limits.get("max_frame", DEFAULT_MAX_FRAME))

    # -- sending -----------------------------------------------------------

    def _queue(self, message):
        self._outbox.append(pack(message))

    def notify(self, method, **params):
        """Queue ``method`` as a notification: no response, errors come as
        ``session.error``."""
        self._queue(notification(method, clean_params(params)))

    def call_async(self, method, params=None, callback=None):
        """Queue a request; ``callback(error, result)`` runs on its response.

        ``error`` is a ``ReactordError`` or ``None``. Requests queued in one
        dispatch go out together, in order, at the next ``flush()``.
        """
        msgid = self._next_msgid
        self._next_msgid += 1
        self._pending[msgid] = (method, callback)
        self._queue(request(msgid, method, clean_params(params or {})))
        return msgid

    def flush(self):
        """Send everything queued, as few frames as the frame limit allows."""
        if not self._outbox:
            return
        outbox, self._outbox = self._outbox, []
        for frame in split_frames(outbox, self.max_frame):
            self._socket.send(frame, copy=len(frame) < 65536)
        self._last_send = time.monotonic()

    def call(self, method, timeout=None, **params):
        """Make a request and wait for its result (a dict).

        Raises ``ReactordError`` on an error response, ``TimeoutError`` when
        nothing answers in time, ``SessionClosed`` when the session ends.
        """
        self._check_open()
        msgid = self._next_msgid
        self._next_msgid += 1
        self._queue(request(msgid, method, clean_params(params)))
        self.flush()
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._socket.poll(int(left * 1000) + 1,
                                                  zmq.POLLIN):
                if time.monotonic() >= deadline:
                    raise TimeoutError("%s: no response from reactord"
                                       % method)
                continue
            while True:
                try:
                    frame = self._socket.recv(zmq.NOBLOCK, copy=True)
                except zmq.Again:
                    break
                answer = self._receive(frame, msgid)
                if answer is not None:
                    if answer[2] is not None:
                        raise error_of(answer[2], method)
                    return answer[3] if isinstance(answer[3], dict) else {}
            self._check_open()

    def _check_open(self):
        if self.closed is not None:
            raise SessionClosed(self.closed)

    # -- receiving ---------------------------------------------------------

    def fileno(self):
        """The ZMQ_FD, for a loop that polls file descriptors."""
        return self._socket.getsockopt(zmq.FD)

    @property
    def socket(self):
        """The DEALER socket (for ``zmq.Poller``)."""
        return self._socket

    def _receive(self, frame, wanted=None):
        """Decode a frame into the backlog; return the ``wanted`` response.

        ``session.closed`` is noted at once, so a waiting ``call()`` learns
        of it even though the event is dispatched later.
        """
        found = None
        events = 0
        for message, size in decode_frame(frame):
            if not isinstance(message, (list, tuple)) or not message:
                log.warning("reactord sent a message that is not "
                            "msgpack-rpc: %r", message)
                continue
            if (wanted is not None and message[0] == RESPONSE
                    and len(message) == 4 and message[1] == wanted):
                found = message
                continue
            if message[0] == NOTIFICATION:
                events += size
                if (len(message) == 3 and message[1] == "session.closed"
                        and self.closed is None):
                    payload = message[2][0] if message[2] else {}
                    self.closed = payload.get("reason", "closed")
            self._backlog.append(message)
        # Event frames contain only events, so their size is what we ack.
        self._backlog.append(events)
        return found

    def receive(self):
        """Move every frame waiting on the socket into the backlog."""
        got = False
        while True:
            try:
                frame = self._socket.recv(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return got
            self._receive(frame)
            got = True

    def pending(self):
        """True when received messages wait to be dispatched."""
        return bool(self._backlog)

    def dispatch(self, should_stop=lambda: False):
        """Dispatch the backlog, frame by frame, flushing after each frame.

        Returns early (keeping the rest) when ``should_stop()`` turns true,
        so that ``reactor.stop()`` takes effect after the current frame.
        """
        while self._backlog:
            item = self._backlog.popleft()
            if isinstance(item, int):
                if item:
                    ack = self.credit.handled(item)
                    if ack:
                        self.notify("session.ack", bytes=ack)
                self.flush()
                if should_stop():
                    return
                continue
            try:
                self._dispatch_message(item)
            except Exception:
                log.exception("error while dispatching %r", item[:2])
        self.flush()

    def _dispatch_message(self, message):
        kind = message[0]
        if kind == RESPONSE and len(message) == 4:
            method, callback = self._pending.pop(message[1], (None, None))
            if callback is None:
                if message[2] is not None:
                    log.warning("%s failed: %s", method or "request",
                                error_of(message[2], method))
                return
            error = (error_of(message[2], method)
                     if message[2] is not None else None)
            result = message[3] if isinstance(message[3], dict) else {}
            self._guard(callback, error, result)
        elif kind == NOTIFICATION:
            event = parse_event(message, 0)
            if event is not None:
                self._dispatch_event(event)
        else:
            log.warning("unexpected message from reactord: %r", message)

    def _dispatch_event(self, event):
        if event.name == "session.closed":
            self.closed = event.get("reason", "closed")
            log.warning("reactord closed the session: %s", self.closed)
            for method, callback in self._pending.values():
                if callback is not None:
                    self._guard(callback, ReactordError(
                        "ECANCELED", "session closed", method), None)
            self._pending.clear()
            if self.on_closed is not None:
                self._guard(self.on_closed, self.closed)
            return
        if event.name == "session.error":
            log.warning("reactord reported %s: %s%s", event.get("code"),
                        event.get("message", ""),
                        " (%s)" % event["method"] if event.get("method")
                        else "")
            return
        handler = self._handlers.get(event.handle)
        if handler is None:
            handler = self.on_event
        if handler is None:
            log.debug("event for no handler: %r", event)
            return
        self._guard(handler, event)

    @staticmethod
    def _guard(function, *args, **kwargs):
        """Run a handler; log its exception with the traceback and go on,
        as Twisted's reactor does: one failing callback must not stop the
        others."""
        try:
            function(*args, **kwargs)
        except Exception:
            log.exception("unhandled error in %s",
                          getattr(function, "__qualname__", function))

    # -- handlers ----------------------------------------------------------

    def add_handler(self, handle, handler):
        """Route the events of ``handle`` to ``handler(event)``."""
        self._handlers[handle] = handler

    def remove_handler(self, handle):
        """Stop routing events of ``handle`` (after it is released)."""
        self._handlers.pop(handle, None)

    # -- lease -------------------------------------------------------------

    def keepalive_in(self):
        """Seconds until a ping is due to keep the lease alive."""
        return max(0.0, self._last_send + self.lease / 3 - time.monotonic())

    def keepalive(self):
        """Send ``reactor.ping`` when nothing was sent for ``lease / 3``."""
        if self.closed is None and self.keepalive_in() <= 0:
            self.notify("reactor.ping")
            self.flush()

    # -- closing -----------------------------------------------------------

    def close(self, timeout=1.0):
        """End the session with ``session.bye`` and close the socket."""
        if self._socket.closed:
            return
        if self.closed is None:
            try:
                self.call("session.bye", timeout=timeout)
            except (ReactordError, TimeoutError, SessionClosed, zmq.ZMQError):
                pass
            self.closed = "bye"
        self._socket.close()
