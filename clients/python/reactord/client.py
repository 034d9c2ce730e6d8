"""The connection to reactord: session, calls, credit, lease and events.

Everything here follows PROTOCOL.md and nothing else. A ``Session`` owns one
ZeroMQ DEALER socket. It is deliberately loop-agnostic: the synchronous
reactor (``reactor.py``) drives it with ``zmq.Poller``; the asyncio form
(``aio.py``) has its own driver but shares the codec and rules below.

Rules the session keeps, and why:

- Messages queued while the frames received together are dispatched go
  out as one outgoing frame (msgpack-rpc allows back-to-back messages), so
  a burst of handler calls costs one ZeroMQ message, not one each.
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


Z85_ALPHABET = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    b".-:+=^!/*?&<>()[]{}@%$#")


def _is_z85_key(text):
    return len(text) == 40 and all(c in Z85_ALPHABET for c in text)


def read_key_file(path):
    """Read a CURVE key file (PROTOCOL.md, "Security"): ``NAME.pub`` holds
    the Z85 public key on one line; ``NAME.key`` holds ``public-key = Z85``
    and ``secret-key = Z85`` lines and ``#`` comments. Returns ``(public,
    secret)`` as Z85 ``bytes``, either ``None`` when the file lacks it;
    raises ``ValueError`` for a file in neither form."""
    with open(path, "rb") as f:
        data = f.read(4097)
    if len(data) > 4096:
        raise ValueError("%s is not a CURVE key file" % path)
    keys = {}
    for line in data.splitlines():
        line = line.strip()
        name, value = None, None
        # A bare key first: '#' is a Z85 character, so a key may start with it.
        if _is_z85_key(line):
            name, value = "public-key", line
        else:
            for keyword in (b"public-key", b"secret-key"):
                rest = line[len(keyword):].lstrip() \
                    if line.startswith(keyword) else b""
                if rest.startswith(b"="):
                    name, value = keyword.decode(), rest[1:].strip()
            if name is None:
                if not line or line.startswith(b"#"):
                    continue
                raise ValueError("%s is not a CURVE key file" % path)
        if name in keys or not _is_z85_key(value):
            raise ValueError("%s is not a CURVE key file" % path)
        keys[name] = value
    if not keys:
        raise ValueError("%s is not a CURVE key file" % path)
    return keys.get("public-key"), keys.get("secret-key")


def curve_options(server_key=None, key=None):
    """The socket options that make a DEALER a CURVE client of reactord.

    ``server_key`` names reactord's public key file (default
    ``$REACTORD_SERVER_KEY``), ``key`` this client's ``NAME.key`` (default
    ``$REACTORD_KEY``). Without a server key, CURVE is not used: returns
    ``{}``. Raises ``ValueError`` for a missing or unsuitable key and
    ``OSError`` for a file that cannot be read.
    """
    server_key = server_key or os.environ.get("REACTORD_SERVER_KEY") or None
    if not server_key:
        return {}
    key = key or os.environ.get("REACTORD_KEY") or None
    if not key:
        raise ValueError("CURVE needs this client's key pair too: key= "
                         "(or $REACTORD_KEY) naming its NAME.key")
    server_public, _ = read_key_file(server_key)
    if server_public is None:
        raise ValueError("%s holds no public key" % server_key)
    public, secret = read_key_file(key)
    if secret is None:
        raise ValueError("%s holds no secret key: give the NAME.key file, "
                         "not NAME.pub" % key)
    derived = zmq.curve_public(secret)
    if public is not None and public != derived:
        raise ValueError("%s: its public and secret keys do not match" % key)
    return {zmq.CURVE_SERVERKEY: server_public,
            zmq.CURVE_PUBLICKEY: derived,
            zmq.CURVE_SECRETKEY: secret}


#: Why a CURVE client may get no answer: reactord refused the handshake.
CURVE_HINT = (" (with CURVE: is server_key reactord's public key, and this "
              "client's public key in its allow directory?)")


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


def _log_handler_error(function):
    """Log the exception a handler raised (from an ``except`` block)."""
    log.exception("unhandled error in %s",
                  getattr(function, "__qualname__", function))


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

    For a ``tcp://`` reactord (CURVE), ``server_key`` names its public key
    file and ``key`` this client's ``NAME.key`` (``curve_options()``).
    """

    def __init__(self, endpoint=None, *, name=None, lease=None, window=None,
                 timeout=10.0, context=None, server_key=None, key=None):
        self.endpoint = endpoint or default_endpoint()
        self.timeout = timeout
        curve = curve_options(server_key, key)
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 1000)
        for option, value in curve.items():
            self._socket.setsockopt(option, value)
        self._socket.connect(self.endpoint)
        self._next_msgid = 1
        self._pending = {}
        self._outbox = []
        # One packer for every message: msgpack.packb() makes a new one each
        # call, which costs more than packing a small request.
        self._pack = msgpack.Packer(use_bin_type=True).pack
        # Received but not yet dispatched, a (messages, event bytes) pair
        # per frame: the bytes are credited once the frame is dispatched.
        self._backlog = collections.deque()
        self._handlers = {}
        self._last_send = time.monotonic()
        self.on_event = None
        self.on_closed = None
        # (method, code) of notifications whose failure is no news to their
        # sender (a write to a stream that has just closed): such a
        # session.error is logged at debug level only.
        self.quiet_errors = set()
        self.closed = None
        self.max_frame = DEFAULT_MAX_FRAME
        try:
            hello = self.call("session.hello", protocol=PROTOCOL_VERSION,
                              name=name, lease=lease, window=window)
        except TimeoutError:
            self._socket.close(0)
            raise ConnectionError("no reactord answers at %s%s" % (
                self.endpoint, CURVE_HINT if curve else ""))
        self.info = hello
        self.id = hello.get("session")
        self.lease = float(hello.get("lease", 10.0))
        self.credit = Credit(int(hello.get("window", 1 << 20)))
        limits = hello.get("limits") or {}
        self.max_frame = int(limits.get("max_frame", DEFAULT_MAX_FRAME))

    # -- sending -----------------------------------------------------------

    def _queue(self, message):
        self._outbox.append(self._pack(message))

    def notify(self, method, **params):
        """Queue ``method`` as a notification: no response, errors come as
        ``session.error``."""
        self._notify(method, clean_params(params))

    def _notify(self, method, params):
        """``notify()`` for params already clean, as ``_request()``."""
        self._outbox.append(self._pack(
            [NOTIFICATION, method, [params] if params else []]))

    def call_async(self, method, params=None, callback=None):
        """Queue a request; ``callback(error, result)`` runs on its response.

        ``error`` is a ``ReactordError`` or ``None``. Requests queued in one
        dispatch go out together, in order, at the next ``flush()``.
        """
        return self._request(method, clean_params(params or {}), callback)

    def _request(self, method, params, callback):
        """``call_async()`` for params already clean (no ``None`` values, not
        empty): the client's own requests on the hot path, such as
        ``stream.write``, skip the copy that cleaning makes."""
        msgid = self._next_msgid
        self._next_msgid = msgid + 1
        self._pending[msgid] = (method, callback)
        self._outbox.append(self._pack(
            [REQUEST, msgid, method, [params] if params else []]))
        return msgid

    def flush(self):
        """Send everything queued, as few frames as the frame limit allows."""
        if not self._outbox:
            return
        outbox, self._outbox = self._outbox, []
        if len(outbox) == 1 or sum(map(len, outbox)) <= self.max_frame:
            frames = (b"".join(outbox),)  # the usual case: one frame
        else:
            frames = split_frames(outbox, self.max_frame)
        for frame in frames:
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
        messages = []
        events = 0
        # decode_frame(), inline: this runs for every message received.
        decoder = unpacker()
        decoder.feed(frame)
        start = 0
        try:
            for message in decoder:
                end = decoder.tell()
                size, start = end - start, end
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
                messages.append(message)
        except (ValueError, msgpack.UnpackException) as e:
            log.warning("undecodable frame from reactord: %s", e)
        # Event frames contain only events, so their size is what we ack.
        self._backlog.append((messages, events))
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
        """Dispatch the backlog, frame by frame, then flush.

        What the handlers queue goes out once the frames received together
        are dispatched, so a burst of frames costs one ZeroMQ send.
        Returns early (keeping the rest) when ``should_stop()`` turns true,
        so that ``reactor.stop()`` takes effect after the current frame.
        """
        backlog = self._backlog
        dispatch_message = self._dispatch_message
        while backlog:
            messages, events = backlog.popleft()
            for message in messages:
                try:
                    dispatch_message(message)
                except Exception:
                    log.exception("error while dispatching %r", message[:2])
            if events:
                ack = self.credit.handled(events)
                if ack:
                    self.notify("session.ack", bytes=ack)
            if should_stop():
                break
        self.flush()

    def _dispatch_message(self, message):
        # A handle's event and a response, the common cases, are handled
        # here without parse_event(), _dispatch_event() and _guard(): this
        # runs for every message, and those calls were a good share of the
        # client's work per message.
        kind = message[0]
        if kind == NOTIFICATION:
            if len(message) != 3 or not isinstance(message[1], str):
                return
            name, params = message[1], message[2]
            payload = params[0] if params else {}
            if not isinstance(payload, dict):
                payload = {}
            if name.startswith("session."):
                self._dispatch_event(Event(name, payload))
            else:
                handler = self._handlers.get(payload.get("handle"))
                if handler is None:
                    handler = self.on_event
                if handler is None:
                    log.debug("event for no handler: %r",
                              Event(name, payload))
                    return
                try:
                    handler(Event(name, payload))
                except Exception:
                    _log_handler_error(handler)
        elif kind == RESPONSE and len(message) == 4:
            method, callback = self._pending.pop(message[1], (None, None))
            error = message[2]
            if callback is None:
                if error is not None:
                    log.warning("%s failed: %s", method or "request",
                                error_of(error, method))
                return
            if error is not None:
                error = error_of(error, method)
            result = message[3]
            try:
                callback(error, result if isinstance(result, dict) else {})
            except Exception:
                _log_handler_error(callback)
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
            quiet = ((event.get("method"), event.get("code"))
                     in self.quiet_errors)
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "reactord reported %s: %s%s", event.get("code"),
                    event.get("message", ""),
                    " (%s)" % event["method"] if event.get("method") else "")
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
            _log_handler_error(function)

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
